/*
 * fuzz_log_read.c - libFuzzer target: the protocol and message tracking
 * log reader (logs/log_read.c), which `domsec log` and the audit run over
 * log files the daemon wrote - or that a crash tore, or someone edited.
 *
 * Input: byte 0 picks the file name (RECV, SEND, MSGTRK by name, or a name
 * that leaves the kind to the #Log-type header) and a time range; byte 1
 * the read size (16 bytes .. 4 KiB, so rows straddle reads); the rest is
 * the file, written in a temporary directory (removed at exit, not after
 * a crash: libFuzzer ends then with _Exit).  Every row is checked (field
 * count of its kind, fields inside the row, unescaping only shrinks),
 * copied and unescaped; the statistics must add up.  The time-argument
 * parser gets the input's first bytes.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "log_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char fuzz_dir[] = "/tmp/fuzz-logread.XXXXXX";

static const char *const fuzz_names[4] = {
    "RECV20261122-1.LOG", "SEND20261122-1.LOG", "MSGTRK20261122-1.LOG", "some.log",
};

/* cleanup - at exit: the files and the directory */

static void cleanup(void)
{
    char path[128];

    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir, fuzz_names[i]);
        unlink(path);
    }
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_FATAL);
    if (mkdtemp(fuzz_dir) == NULL || atexit(cleanup) != 0) {
        perror("fuzz_log_read: set-up");
        exit(1);
    }
    return 0;
}

/* check_row - fields of the kind's count, each unescaped and copied */

static void check_row(struct log_row *row)
{
    char out[64];

    if (row->kind >= LOG_READ_NKINDS || row->nfields > LOG_READ_MAXF
        || row->nfields != (row->kind == LOG_READ_TRACK ? (size_t)LOG_T_NFIELDS
                                                         : (size_t)LOG_P_NFIELDS))
        abort();
    for (size_t i = 0; i < row->nfields; i++) {
        struct log_field *f = &row->f[i];
        size_t before = f->len;

        if (f->len > 0 && f->p == NULL)
            abort();
        log_field_unescape(f);
        if (f->len > before)
            abort();
        log_field_copy(f, out, sizeof(out));
        if (memchr(out, '\0', sizeof(out)) == NULL)
            abort();
        (void)log_field_find(f, "@");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const from[4] = { NULL, "2026-11-22", "2026-11-22T08:00:00.012Z", "" };
    static const char *const to[4] = { NULL, "2026-11-22T08", "2026-11-21", "2026" };
    char path[128], ts[LOG_READ_TSLEN + 1], arg[32];
    struct log_read_stats st;
    struct log_reader *r;
    struct log_row row;
    uint64_t rows = 0;
    int fd, n;

    if (size < 2)
        return 0;
    snprintf(arg, sizeof(arg), "%.*s", (int)(size - 2 < 31 ? size - 2 : 31), data + 2);
    (void)log_read_time_arg(arg, ts);
    (void)log_read_day(arg, (data[0] & 0x40) != 0);
    snprintf(path, sizeof(path), "%s/%s", fuzz_dir, fuzz_names[data[0] & 3]);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0
        || write(fd, data + 2, size - 2) != (ssize_t)(size - 2) || close(fd) < 0)
        abort();
    r = log_reader_new(&(struct log_read_opts){ .from = from[(data[0] >> 2) & 3],
                                                .to = to[(data[0] >> 4) & 3],
                                                .bufsize = 16u << (data[1] % 9) });
    if (log_reader_add(r, path) < 0)
        abort();
    while ((n = log_reader_next(r, &row)) == 1) {
        check_row(&row);
        rows++;
    }
    log_reader_stats(r, &st);
    if (n != 0 || st.rows != rows || st.files + st.files_skipped + st.errors != 1)
        abort();
    log_reader_free(r);
    unlink(path);
    return 0;
}
