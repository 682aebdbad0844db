/*
 * tls_crl_load.c - building a CRL set from bytes and files: DER or PEM
 * CRLs (base64 decoded here), a CRL file, a directory of them, and the
 * issuer certificates of a PEM file.  The set itself (its layout, the
 * parsing of each CRL, checking and publication) is tls_crl.c's.
 *
 * CONTRACT
 *  As tls_crl.c's for building: one thread at a time, before the set is
 *  shared.  The set copies what it keeps (CRL DER, certificates, source
 *  and url); callers keep their buffers and path strings.  Every function
 *  returns 0 (tls_crl_set_add_dir: the number of CRLs added) or -1 with
 *  *why set to static text or to a per-thread buffer of this file, valid
 *  until the next call in that thread.  Files are read synchronously with
 *  plain read(2); nothing touches the network, nothing calls back, and
 *  there is nothing to cancel.  A file of a directory that holds no CRL is
 *  logged as a warning and skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_util.h"
#include "tls_crl.h"
#include "tls_internal.h"                /* wolfssl/options.h first */

#include <wolfssl/wolfcrypt/sha256.h>

#define CRL_FILE_MAX   (16 * 1024 * 1024)
#define PEM_CRL_BEGIN  "-----BEGIN X509 CRL-----"
#define PEM_CRL_END    "-----END X509 CRL-----"

static __thread char crl_why[512];
static __thread char crl_read_why[128];

/* ---- bytes ---------------------------------------------------------- */

/* crl_b64 - the value of a base64 digit, or -1 */

static int crl_b64(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* crl_base64 - decode base64 text (whitespace ignored) into out; its length or -1 */

static long crl_base64(const char *p, const char *end, unsigned char *out)
{
    unsigned acc = 0, bits = 0;
    long    n = 0;

    for (; p < end && *p != '='; p++) {
        int     v = crl_b64(*p);

        if (v < 0) {
            if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                continue;
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

/* tls_crl_set_add - add the CRLs of a DER or PEM buffer */

int tls_crl_set_add(struct tls_crl_set *s, const unsigned char *data, size_t len,
                    const char *source, const char *url, const char **why)
{
    const char *p = (const char *)data, *end = p + len, *w = NULL;
    int     added = 0;

    if (len == 0 || memmem(data, len, PEM_CRL_BEGIN, strlen(PEM_CRL_BEGIN)) == NULL) {
        unsigned char *der;

        if (len == 0 || data[0] != 0x30) {
            *why = "neither a PEM nor a DER CRL";
            return -1;
        }
        der = xmalloc(len);
        memcpy(der, data, len);
        return tls__crl_set_add_der(s, der, len, source, url, why);
    }
    while (p < end) {
        const char *b = memmem(p, (size_t)(end - p), PEM_CRL_BEGIN, strlen(PEM_CRL_BEGIN));
        const char *e;
        unsigned char *der;
        long    n;

        if (b == NULL)
            break;
        b += strlen(PEM_CRL_BEGIN);
        if ((e = memmem(b, (size_t)(end - b), PEM_CRL_END, strlen(PEM_CRL_END))) == NULL) {
            w = "a PEM block without its END line";
            break;
        }
        der = xmalloc((size_t)(e - b) + 1);     /* DER is shorter than its base64 */
        if ((n = crl_base64(b, e, der)) <= 0) {
            free(der);
            w = "damaged base64 in a PEM block";
        } else if (tls__crl_set_add_der(s, der, (size_t)n, source, url, &w) == 0) {
            added++;
        }
        p = e + strlen(PEM_CRL_END);
    }
    if (added > 0)
        return 0;
    *why = w != NULL ? w : "no CRL in the data";
    return -1;
}

/* ---- files -------------------------------------------------------- */

/* crl_add_path - read a file and add its CRLs; *why does not name the file */

static int crl_add_path(struct tls_crl_set *s, const char *path, const char **why)
{
    unsigned char *data;
    size_t  len;
    int     rc;

    if (log_read_file(path, CRL_FILE_MAX, &data, &len, NULL) < 0) {
        snprintf(crl_read_why, sizeof(crl_read_why), "cannot read it: %s", errno == EFBIG
                 ? "larger than 16 MiB" : errno == EINVAL ? "not a regular file"
                 : strerror(errno));
        *why = crl_read_why;
        return -1;
    }
    rc = tls_crl_set_add(s, data, len, path, NULL, why);
    free(data);
    return rc;
}

/* tls_crl_set_add_file - read a file and add its CRLs */

int tls_crl_set_add_file(struct tls_crl_set *s, const char *path, const char **why)
{
    if (crl_add_path(s, path, why) == 0)
        return 0;
    snprintf(crl_why, sizeof(crl_why), "%s: %s", path, *why);  /* never crl_why itself */
    *why = crl_why;
    return -1;
}

/* crl_visible - a name not starting with '.' */

static bool crl_visible(const char *name)
{
    return name[0] != '.';
}

/* tls_crl_set_add_dir - every visible regular file of dir, in name order */

int tls_crl_set_add_dir(struct tls_crl_set *s, const char *dir, const char **why)
{
    size_t  n, before = tls_crl_set_count(s);
    char  **names = log_dir_names(dir, crl_visible, &n);

    if (names == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(crl_why, sizeof(crl_why), "cannot read %s: %s", dir, strerror(errno));
        *why = crl_why;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char   *path = xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        const char *w;

        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && crl_add_path(s, path, &w) < 0)
            log_warnx("tls", 0, "crl file skipped file=%s reason=\"%s\"", path, w);
        free(path);
    }
    log_dir_names_free(names, n);
    return (int)(tls_crl_set_count(s) - before);
}

/* tls_crl_set_add_issuers_file - certificates that issue, and maybe anchor */

int tls_crl_set_add_issuers_file(struct tls_crl_set *s, const char *path, bool anchor,
                                 const char **why)
{
    unsigned char *pem;
    size_t  len, n, added = 0;
    struct tls__der *ders;

    if (log_read_file(path, TLS__FILE_MAX, &pem, &len, NULL) < 0) {
        snprintf(crl_why, sizeof(crl_why), "cannot read %s: %s", path, strerror(errno));
        *why = crl_why;
        return -1;
    }
    n = tls__pem_certs(pem, len, &ders);
    free(pem);
    for (size_t i = 0; i < n; i++)
        if (tls__crl_set_add_issuer(s, ders[i].der, ders[i].len, anchor))
            added++;
    free(ders);                         /* the DER buffers now belong to the set */
    if (added > 0)
        return 0;
    snprintf(crl_why, sizeof(crl_why), "no certificate in %s", path);
    *why = crl_why;
    return -1;
}

/* tls_crl_url_hash - SHA-256 of url in hex (wolfCrypt) */

void tls_crl_url_hash(const char *url, char out[65])
{
    unsigned char h[WC_SHA256_DIGEST_SIZE];

    if (wc_Sha256Hash((const unsigned char *)url, (word32)strlen(url), h) != 0)
        log_fatal("crl", "SHA-256 failed");
    for (int k = 0; k < WC_SHA256_DIGEST_SIZE; k++)
        snprintf(out + 2 * k, 3, "%02x", h[k]);
}
