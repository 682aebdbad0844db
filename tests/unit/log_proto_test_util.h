/*
 * log_proto_test_util.h - what the protocol log's two test programs share
 * (log_proto_test.c: the writer's rows; log_proto_engine_test.c: files,
 * rotation, retention, threads): the fake clock and temporary directory of
 * log_test_util.h, a writer on them, and comparisons.  Include once, from
 * the test's .c file.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "log_file.h"
#include "log_proto.h"

#define BASE_MS   1795334400000ULL      /* 2026-11-22T08:00:00.000Z */
#define DAY_MS    86400000ULL
#define SID_RECV  0x08DF486E9B5C0001ULL
#define SID_SEND  0x08DF486E9B5C0002ULL

#include "log_test_util.h"

#define S(str) str, sizeof(str) - 1

/* ---- helpers --------------------------------------------------------------- */

static LOG_TEST_UNUSED struct log_proto *open_writer(enum log_proto_dir dir, uint64_t max_file,
                                     uint64_t max_dir, uint64_t max_age, unsigned flush_ms)
{
    struct log_proto_props pr = {
        .directory = tmpdir, .max_file_size = max_file, .max_directory_size = max_dir,
        .max_age_ms = max_age, .version = "0.1.0", .flush_interval_ms = flush_ms,
        .clock = fake_clock,
    };
    struct log_proto *lp = log_proto_open(dir, &pr);

    assert_non_null(lp);
    return lp;
}

static LOG_TEST_UNUSED void recv_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/ProtocolLog/SmtpReceive/%s", tmpdir, name);
}

/* compare_golden - a produced file against tests/golden/NAME, byte for byte */

static LOG_TEST_UNUSED void compare_golden(const char *produced, const char *name)
{
    char gpath[768];
    size_t plen, glen, i;
    char *p = slurp(produced, &plen), *g;

    assert_non_null(p);
    snprintf(gpath, sizeof(gpath), "%s/tests/golden/%s", srcdir(), name);
    if (getenv("DOMSEC_GOLDEN_UPDATE"))
        spit(gpath, p, plen);
    g = slurp(gpath, &glen);
    assert_non_null(g);
    for (i = 0; i < plen && i < glen && p[i] == g[i]; i++)
        ;
    if (i != plen || i != glen) {
        size_t line = 1;

        for (size_t k = 0; k < i; k++)
            line += g[k] == '\n';
        fail_msg("%s differs from %s at byte %zu (line %zu)", produced, gpath, i, line);
    }
    free(p);
    free(g);
}

/* count_str - occurrences of a string */

static LOG_TEST_UNUSED int count_str(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}
