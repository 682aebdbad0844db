/*
 * tls_pki_test_util.h - the test PKI for unit tests that need certificates
 * and CRLs: tests/pki/make-pki.sh run in a mkdtemp() directory (CRL_PORT
 * 18123 in the distribution points), files named by path(), shell helpers.
 * Static functions: include it in one test file only, after cmocka.h.
 */
#ifndef DOMSEC_TLS_PKI_TEST_UTIL_H
#define DOMSEC_TLS_PKI_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char tmp[64];                    /* the mkdtemp() directory; the PKI is in tmp/pki */

/* path - a file of the test PKI (one of 8 rotating static buffers) */

static const char *path(const char *rel)
{
    static char buf[8][256];
    static unsigned next;
    char   *p = buf[next++ % 8];

    snprintf(p, sizeof(buf[0]), "%s/pki/%s", tmp, rel);
    return p;
}

/* sh - run a shell command, 0 on success */

static int sh(const char *fmt, ...) LOG_PRINTF(1, 2);

static int sh(const char *fmt, ...)
{
    char    cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* pki_build - make the PKI in a new /tmp/NAME.XXXXXX (tmp); 0 or -1 */

static int pki_build(const char *name)
{
    char    src[512];
    const char *env = getenv("DOMSEC_TEST_DIR");

    if (env != NULL && *env != '\0') {
        snprintf(src, sizeof(src), "%s", env);
    } else {                            /* tests/unit, where the test's file is */
        snprintf(src, sizeof(src), "%s", __FILE__);
        *(strrchr(src, '/') != NULL ? strrchr(src, '/') : src) = '\0';
        if (src[0] == '\0')
            strcpy(src, ".");
    }
    snprintf(tmp, sizeof(tmp), "/tmp/%s.XXXXXX", name);
    if (mkdtemp(tmp) == NULL)
        return -1;
    if (sh("CRL_PORT=18123 sh %s/../pki/make-pki.sh %s/pki >%s/pki.log 2>&1", src, tmp, tmp)
        != 0) {
        sh("cat %s/pki.log >&2", tmp);
        return -1;
    }
    return 0;
}

/* slurp - a whole file (malloc()ed; at least one byte, else the test fails) */

static unsigned char *slurp(const char *file, size_t *len) __attribute__((unused));

static unsigned char *slurp(const char *file, size_t *len)
{
    FILE   *f = fopen(file, "rb");
    unsigned char *b;
    long    n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    assert_true((n = ftell(f)) > 0);
    rewind(f);
    b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* pki_remove - remove tmp and the PKI in it */

static int pki_remove(void)
{
    return sh("rm -rf %s", tmp);
}

#endif
