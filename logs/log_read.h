/*
 * log_read.h - a streaming reader for the protocol and message tracking
 * logs (docs/LOGS.md): iterate the rows of many files, in order, with no
 * per-row allocation.
 *
 *   struct log_reader *r = log_reader_new(&(struct log_read_opts){ .from = "2026-11-22" });
 *   log_reader_add(r, "/var/log/domsec");          // files or directories
 *   struct log_row row;
 *   while (log_reader_next(r, &row) == 1)
 *       use(row.f[LOG_P_SESSION]...);
 *   log_reader_free(r);
 *
 * Fields point into the reader's read buffer: valid until the next
 * log_reader_next() call; copy what you keep.  CSV quoting is undone in
 * place; the `\r` / `\n` escapes are undone only by log_field_unescape().
 */
#ifndef DOMSEC_LOG_READ_H
#define DOMSEC_LOG_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_read_kind {
    LOG_READ_RECV,                      /* ProtocolLog/SmtpReceive RECV*.LOG */
    LOG_READ_SEND,                      /* ProtocolLog/SmtpSend SEND*.LOG */
    LOG_READ_TRACK,                     /* MessageTracking MSGTRK*.LOG */
    LOG_READ_NKINDS
};

/* Protocol log fields (RECV, SEND). */
enum {
    LOG_P_DATE, LOG_P_CONNECTOR, LOG_P_SESSION, LOG_P_SEQ, LOG_P_LOCAL,
    LOG_P_REMOTE, LOG_P_EVENT, LOG_P_DATA, LOG_P_CONTEXT, LOG_P_NFIELDS
};

/* Message tracking fields. */
enum {
    LOG_T_DATE, LOG_T_CLIENT_IP, LOG_T_CLIENT_HOST, LOG_T_SERVER_IP,
    LOG_T_SERVER_HOST, LOG_T_SOURCE_CONTEXT, LOG_T_CONNECTOR, LOG_T_SOURCE,
    LOG_T_EVENT, LOG_T_INTERNAL_ID, LOG_T_MESSAGE_ID, LOG_T_RECIPIENTS,
    LOG_T_RECIPIENT_STATUS, LOG_T_TOTAL_BYTES, LOG_T_RECIPIENT_COUNT,
    LOG_T_REFERENCE, LOG_T_SENDER, LOG_T_MESSAGE_INFO, LOG_T_DIRECTION,
    LOG_T_NFIELDS
};

#define LOG_READ_MAXF   LOG_T_NFIELDS
#define LOG_READ_TSLEN  24              /* "yyyy-MM-ddTHH:mm:ss.fffZ" */

struct log_field {
    char   *p;                          /* into the read buffer; not NUL-terminated */
    size_t  len;
};

struct log_row {
    enum log_read_kind kind;
    const char *path;                   /* the file; owned by the reader */
    uint64_t lineno;                    /* 1-based line in that file */
    const char *line;                   /* the raw line, no CRLF; NULL when it had quoted
                                         * fields (unquoted in place: use f[]) */
    size_t  line_len;
    size_t  nfields;                    /* LOG_P_NFIELDS or LOG_T_NFIELDS */
    struct log_field f[LOG_READ_MAXF];
};

struct log_read_opts {
    /* Time range, as accepted by log_read_time_arg() (copied): a row is in
     * range when from <= its date-time and its date-time, cut to the length
     * of to, <= to.  NULL or "" = open. */
    const char *from;
    const char *to;
    unsigned kinds;                     /* bit (1 << kind); 0 = all three */
    size_t  bufsize;                    /* read size; 0 = 4 MiB */
};

struct log_read_stats {
    uint64_t files;                     /* files read */
    uint64_t files_skipped;             /* left out by their date */
    uint64_t bytes;                     /* bytes read */
    uint64_t rows;                      /* rows returned */
    uint64_t rows_bad;                  /* wrong field count or quoting: skipped */
    uint64_t rows_truncated;            /* a last line without CRLF (a crash): skipped */
    uint64_t errors;                    /* files that could not be opened or read */
};

struct log_reader;                      /* opaque */

/* log_read.c */
struct log_reader *log_reader_new(const struct log_read_opts *opts);
/* A file (any name; the kind comes from the name, else the #Log-type
 * header) or a directory (searched 4 levels deep for RECV*, SEND*, MSGTRK*
 * files named PREFIXyyyymmdd-N.LOG).  A symbolic link in path is followed
 * only where log_path_open() follows one; none below it (log_read.c).
 * 0, or -1 with errno (not found; ELOOP: a link refused, logged). */
int     log_reader_add(struct log_reader *r, const char *path);
/* Start again from the first file (a second pass).  */
void    log_reader_rewind(struct log_reader *r);
/* 1 and *row, or 0 at the end.  Unreadable files are counted in
 * stats.errors, reported once on stderr, and skipped. */
int     log_reader_next(struct log_reader *r, struct log_row *row);
void    log_reader_stats(const struct log_reader *r, struct log_read_stats *st);
void    log_reader_free(struct log_reader *r);

/* Undo `\r` and `\n` in place (the field shrinks).  */
void    log_field_unescape(struct log_field *f);
bool    log_field_eq(const struct log_field *f, const char *s);
bool    log_field_prefix(const struct log_field *f, const char *s);
/* Case-insensitive substring search; NULL if absent. */
const char *log_field_find(const struct log_field *f, const char *needle);
/* Copy into out (NUL-terminated, cut to size). */
char   *log_field_copy(const struct log_field *f, char *out, size_t size);

/* Normalise a time argument: "2026-11-22", "2026-11-22T08", "2026-11-22 08:30",
 * "2026-11-22T08:30:00.5Z" ... into out (a prefix of the log's date-time
 * form).  Returns its length, or 0 when s is not such a time. */
size_t  log_read_time_arg(const char *s, char out[LOG_READ_TSLEN + 1]);
/* Days since 1970-01-01 of "yyyy-MM-dd" (or "yyyyMMdd" if compact). */
long    log_read_day(const char *s, bool compact);
/* Days since 1970-01-01 as "yyyy-MM-dd" (11 bytes with the NUL). */
void    log_read_day_str(long day, char out[11]);
const char *log_read_kind_name(enum log_read_kind k);

#endif
