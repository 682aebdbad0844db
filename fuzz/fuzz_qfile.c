/*
 * fuzz_qfile.c - libFuzzer target: the queue-file parsers
 * (relay/queue/relay_queue.c: the header and the whole file, as recovery
 * checks each file before it is kept or quarantined; relay_qmsg.c: the
 * envelope and the replay of delivery-state records).
 *
 * The input is a queue file, parsed in memory (relay_queue_parse) and
 * loaded from disk (relay_qmsg_load, from an empty temporary messages/,
 * named 0123456789ABCDEF: the seeds use that id; removed at exit, not
 * after a crash: libFuzzer ends then with _Exit).
 * Checks: both agree on whether the file is good (recovery also wants the
 * header's id to be the file name, as the loader does); a refusal says why; a
 * loaded message has the header's recipient count and sender, and its
 * header is what the writer would have written (as_written); its
 * envelope and data read back; and the state survives a round trip: the
 * records relay_qmsg_record_rcpt() writes for it, appended as delivery
 * appends them, load back as the same state.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay_qmsg.h"
#include "relay_spool.h"

#define FUZZ_ID "0123456789ABCDEF"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char fuzz_dir[] = "/tmp/fuzz-qfile.XXXXXX";
static int fuzz_dirfd = -1;

/* cleanup - at exit: the file and the directory */

static void cleanup(void)
{
    unlinkat(fuzz_dirfd, FUZZ_ID, 0);
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_FATAL);
    if (mkdtemp(fuzz_dir) == NULL || (fuzz_dirfd = open(fuzz_dir, O_RDONLY | O_DIRECTORY)) < 0
        || atexit(cleanup) != 0) {
        perror("fuzz_qfile: set-up");
        exit(1);
    }
    return 0;
}

/* put - the file FUZZ_ID holds exactly these bytes */

static void put(const void *p, size_t n)
{
    int fd = openat(fuzz_dirfd, FUZZ_ID, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n) || close(fd) < 0)
        abort();
}

/* same_state - recipients' delivery state equal */

static void same_state(const struct relay_qmsg *a, const struct relay_qmsg *b)
{
    if (a->nrcpts != b->nrcpts)
        abort();
    for (size_t i = 0; i < a->nrcpts; i++) {
        const struct relay_qrcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

        if (x->state != y->state || x->attempts != y->attempts || x->last_ms != y->last_ms
            || strcmp(x->last ? x->last : "", y->last ? y->last : "") != 0)
            abort();
    }
}

/* round_trip - append m's records as a delivery round does; load again */

static void round_trip(const uint8_t *data, size_t size, const struct relay_qmsg *m)
{
    struct relay_qmsg *m2 = NULL;
    char *buf = NULL, *all;
    size_t len = 0;
    const char *why;

    for (size_t i = 0; i < m->nrcpts; i++)
        relay_qmsg_record_rcpt(m, i, &buf, &len);
    all = malloc(size + 1 + len);
    memcpy(all, data, size);
    if (m->torn)
        all[size++] = '\n';             /* the writer ends a torn record first */
    memcpy(all + size, buf ? buf : "", len);
    put(all, size + len);
    if (relay_qmsg_load(fuzz_dirfd, FUZZ_ID, &m2, &why) < 0)
        abort();                        /* appending records broke the file */
    same_state(m, m2);
    relay_qmsg_free(m2);
    free(all);
    free(buf);
}

/* printable - no control character (a NUL would have cut it) */

static void printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

/* as_written - an accepted header is what the writer would have written:
 * each line but rcpt once, the arrival and the length in the writer's own
 * format (relay_data.c, relay_spool.c), addresses without control
 * characters */

static void as_written(const char *env, const uint8_t *data, const struct relay_qmsg *m)
{
    static const char *const once[] = { "id ", "arrival ", "connector ", "client ", "helo ",
                                        "session ", "body ", "requiretls ", "sender " };
    char want[64], when[32];
    time_t secs = (time_t)(m->arrival_ms / 1000);
    struct tm tm;

    for (size_t k = 0; k < sizeof(once) / sizeof(once[0]); k++) {
        int n = 0;

        for (const char *p = env; (p = strstr(p, "\n")) != NULL; p++)
            n += strncmp(p + 1, once[k], strlen(once[k])) == 0;
        if (n > 1)
            abort();
    }
    snprintf(want, sizeof(want), "\ndata %016llX\n", (unsigned long long)m->data_len);
    if (m->data_off < 23 || memcmp(data + m->data_off - 23, want, 23) != 0)
        abort();
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(want, sizeof(want), "\narrival %s.%03dZ\n", when, (int)(m->arrival_ms % 1000));
    if (strstr(env, want) == NULL)
        abort();
    if (m->requiretls != (strstr(env, "\nrequiretls yes\n") != NULL))
        abort();                        /* the flag is exactly the writer's line */
    printable(m->sender, strlen(m->sender));
    for (size_t i = 0; i < m->nrcpts; i++)
        printable(m->rcpts[i].addr, strlen(m->rcpts[i].addr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_qfile qf;
    struct relay_qmsg *m = NULL;
    const char *why = NULL, *why2 = NULL;
    int mem, disk, err;
    char *env, *body;

    mem = relay_queue_parse((const char *)data, size, &qf, &why);
    if (mem < 0 && why == NULL)
        abort();
    put(data, size);
    disk = relay_qmsg_load(fuzz_dirfd, FUZZ_ID, &m, &why2);
    /* Recovery keeps a file that parses and is named by its header's id. */
    if ((mem == 0 && strcmp(qf.id, FUZZ_ID) == 0) != (disk == 0)
        || (disk < 0 && why2 == NULL))
        abort();                        /* recovery and loading disagree */
    if (m == NULL)
        return 0;
    /* The whole address: a NUL inside <...> is refused, never cut at. */
    if (m->nrcpts != qf.nrcpts || m->nrcpts == 0 || m->sender == NULL
        || strlen(m->sender) != qf.sender_len
        || memcmp(m->sender, qf.sender, qf.sender_len) != 0)
        abort();
    if ((env = relay_qmsg_read_envelope(fuzz_dirfd, m, &err)) == NULL
        || strlen(env) != m->data_off)
        abort();                        /* a NUL in the header (none is written) */
    as_written(env, data, m);
    if ((body = relay_qmsg_read_data(fuzz_dirfd, m, &err)) == NULL
        || memcmp(body, data + m->data_off, m->data_len) != 0)
        abort();
    free(env);
    free(body);
    if (relay_qmsg_verify(fuzz_dirfd, m, &why) != 0)
        abort();
    round_trip(data, size, m);
    relay_qmsg_free(m);
    return 0;
}
