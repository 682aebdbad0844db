/*
 * log_file.h - rotating W3C/Exchange-style CSV log files written by a
 * background thread: the engine under the protocol logs (log_proto.h) and
 * the message tracking log (log_track.h).
 *
 * One struct log_file is one directory of files PREFIXyyyymmdd-N.LOG
 * (UTC date, N from 1, not padded), each starting with a UTF-8 BOM and the
 * five header lines, CRLF line ends.  Formatters build a whole row
 * (ending in CRLF) and hand it to log_file_append(), which only copies it
 * into an in-memory queue under a mutex: it never touches the disk and never
 * waits for the writer.  The writer thread writes the queue at least every
 * flush interval (1 s), rotates by size and UTC day and applies retention.
 * See docs/LOGS.md.
 */
#ifndef DOMSEC_LOG_FILE_H
#define DOMSEC_LOG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A clock: milliseconds since 1970-01-01T00:00:00Z.  NULL = the real clock. */
typedef uint64_t log_clock_fn(void *arg);

struct log_file;                        /* opaque */

struct log_file_props {
    const char *directory;              /* created (mkdir -p, log_path.h) if missing; copied */
    const char *prefix;                 /* "RECV", "SEND", "MSGTRK"; copied */
    const char *software;               /* #Software; NULL = "domsec" */
    const char *version;                /* #Version; NULL = DOMSEC_VERSION */
    const char *log_type;               /* #Log-type, e.g. "SMTP Receive Protocol Log" */
    const char *fields;                 /* #Fields, comma-separated */
    uint64_t max_file_size;             /* bytes; 0 = unlimited */
    uint64_t max_directory_size;        /* bytes; 0 = unlimited */
    uint64_t max_age_ms;                /* 0 = no age limit */
    unsigned flush_interval_ms;         /* 0 = 1000 */
    size_t   queue_limit;               /* bytes held in memory at most; 0 = 8 MiB */
    log_clock_fn *clock;                /* NULL = CLOCK_REALTIME */
    void    *clock_arg;
};

struct log_file_stats {
    uint64_t rows_appended;             /* accepted into the queue */
    uint64_t rows_written;
    uint64_t rows_dropped;              /* queue full, or lost to a write error */
    uint64_t bytes_written;
    uint64_t files_created;
    uint64_t files_deleted;             /* by retention */
    uint64_t write_errors;
};

#define LOG_TIME_LEN 24                 /* "2026-11-22T08:00:00.000Z" */

/* log_file.c */
struct log_file *log_file_open(const struct log_file_props *props);
void     log_file_close(struct log_file *lf);
uint64_t log_file_now(const struct log_file *lf);
void     log_file_append(struct log_file *lf, uint64_t ts_ms, const char *row, size_t len);
void     log_file_flush(struct log_file *lf);
void     log_file_set_carry(struct log_file *lf, const char *row, size_t len);
void     log_file_stats(struct log_file *lf, struct log_file_stats *st);
const char *log_file_directory(const struct log_file *lf);
/* Test hook: hold the writer (it writes nothing) until called with false. */
void     log_file__test_pause(struct log_file *lf, bool paused);

/* log_file.c: field formatting shared by the formatters (thread-safe). */
size_t   log_csv_time(uint64_t ms, char out[LOG_TIME_LEN + 1]);
size_t   log_csv_field(char *out, const void *data, size_t len);
#define  LOG_CSV_FIELD_MAX(len) (2 * (len) + 2)
size_t   log_csv_member(char *out, const void *data, size_t len);
#define  LOG_CSV_MEMBER_MAX(len) (2 * (len) + 2)

#endif
