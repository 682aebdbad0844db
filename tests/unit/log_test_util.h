/*
 * log_test_util.h - helpers shared by the log_*_test programs (header only:
 * tests/CMakeLists.txt builds each *_test.c on its own): a temporary
 * directory per test (setup_dir / teardown_dir, named after LOG_TEST_NAME),
 * reading and writing whole files, capturing stderr, the source directory,
 * tests/logcheck.py, and, when the test defines BASE_MS, a fixed clock
 * (fake_clock, at).
 *
 * Define LOG_TEST_NAME (and BASE_MS if wanted) before including.
 */
#ifndef LOG_TEST_UTIL_H
#define LOG_TEST_UTIL_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef LOG_TEST_NAME
#error "define LOG_TEST_NAME before including log_test_util.h"
#endif

#define LOG_TEST_UNUSED __attribute__((unused))

#ifdef BASE_MS
#include <stdatomic.h>

static _Atomic uint64_t fake_now LOG_TEST_UNUSED = BASE_MS;

/* fake_clock - a clock for the writers, moved by at() */

static LOG_TEST_UNUSED uint64_t fake_clock(void *arg)
{
    return atomic_load(&fake_now);
}

static LOG_TEST_UNUSED void at(uint64_t ms)
{
    atomic_store(&fake_now, BASE_MS + ms);
}
#endif

/* tmpdir - the test's directory, made by setup_dir, removed by teardown_dir */

static char tmpdir[256] LOG_TEST_UNUSED;

static LOG_TEST_UNUSED int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static LOG_TEST_UNUSED int setup_dir(void **state)
{
    strcpy(tmpdir, "/tmp/" LOG_TEST_NAME ".XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
#ifdef BASE_MS
    at(0);
#endif
    return 0;
}

static LOG_TEST_UNUSED int teardown_dir(void **state)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* slurp - a whole file, NUL-terminated (free it); NULL when it cannot be opened */

static LOG_TEST_UNUSED char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* spit - write len bytes as the whole file */

static LOG_TEST_UNUSED void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* capture_begin - send stderr (log.c's output) to a new file made from the
 * mkstemp template path; returns the old stderr for capture_end */

static LOG_TEST_UNUSED int capture_begin(char *path)
{
    int saved, fd;

    fflush(stderr);
    saved = dup(2);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

/* capture_end - stderr back; the captured text (free it), its file removed */

static LOG_TEST_UNUSED char *capture_end(int saved, const char *path)
{
    char *out;

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    out = slurp(path, NULL);
    unlink(path);
    return out;
}

/* put - write a file under tmpdir */

static LOG_TEST_UNUSED void put(const char *name, const char *text)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    assert_non_null(fp = fopen(path, "w"));
    fputs(text, fp);
    fclose(fp);
}

/* srcdir - the source tree: $DOMSEC_SRC, else from __FILE__ */

static LOG_TEST_UNUSED const char *srcdir(void)
{
    static char dir[512];
    const char *env = getenv("DOMSEC_SRC");
    char *p;

    if (env)
        return env;
    snprintf(dir, sizeof(dir), "%s", __FILE__);     /* absolute under CMake */
    p = strstr(dir, "tests/unit/");
    assert_non_null(p);
    if (p == dir)
        return ".";
    p[-1] = '\0';
    return dir;
}

/* logcheck - exit status of tests/logcheck.py on a path */

static LOG_TEST_UNUSED int logcheck(const char *args)
{
    char cmd[1024];
    int rc;

    snprintf(cmd, sizeof(cmd), "python3 %s/tests/logcheck.py %s", srcdir(), args);
    rc = system(cmd);
    assert_true(WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

#endif
