/*
 * log_proto.c - SMTP protocol log rows in Exchange's format, byte for byte.
 *
 * CONTRACT
 *  log_proto_open() and log_proto_close() run at start-up and shut-down
 *  (they create directories, start and join the writer thread; see
 *  log_file.c).  log_proto_open() returns NULL, with the error logged, when
 *  the directory cannot be created.  log_proto_flush() blocks until queued
 *  rows are on disk: never on an event loop.
 *
 *  Every row function is called on the thread that owns the session and
 *  returns at once: it reads the clock, formats the row on the stack (the
 *  heap for rows over 4 KiB) and queues it with log_file_append(), which
 *  never does disk I/O.  Strings passed in are not kept.  With a session
 *  initialised with a NULL writer every row function returns before
 *  formatting anything.
 *
 *  Row rules (reference/exchange-behaviour.md section 5; docs/LOGS.md):
 *  date-time is stamped when the row is queued; the sequence-number is the
 *  session's, from 0, +1 per row; data is written as raw bytes (no charset
 *  conversion) and split at each CRLF into one row per line, each with the
 *  same event and context; a field containing ',' or '"' is quoted with
 *  '"' doubled; CR and LF inside a field become the two characters \r and
 *  \n, without quoting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "log_file.h"
#include "log_proto.h"

#define LOG_PROTO_ROW_STACK 4096

struct log_proto {
    struct log_file *lf;                /* owned */
};

static const char log_proto_event_chars[] = {
    [LOG_PROTO_CONNECT] = '+', [LOG_PROTO_DISCONNECT] = '-', [LOG_PROTO_SENT] = '>',
    [LOG_PROTO_RECEIVED] = '<', [LOG_PROTO_INFO] = '*',
};

static const char *const log_proto_reason_names[] = {
    [LOG_PROTO_R_NONE] = "None",
    [LOG_PROTO_R_QUIT] = "QuitVerb",
    [LOG_PROTO_R_TIMEOUT] = "Timeout",
    [LOG_PROTO_R_SENDER_DISCONNECTED] = "SenderDisconnected",
    [LOG_PROTO_R_TOO_MANY_ERRORS] = "TooManyErrors",
    [LOG_PROTO_R_DROPPED] = "DroppedSession",
    [LOG_PROTO_R_REMOTE] = "Remote",
    [LOG_PROTO_R_LOCAL] = "Local",
    [LOG_PROTO_R_SUPPRESS] = "SuppressLogging",
};

#define LOG_PROTO_FIELDS "date-time,connector-id,session-id,sequence-number," \
    "local-endpoint,remote-endpoint,event,data,context"

/* log_proto_open - start the Receive or Send writer */

struct log_proto *log_proto_open(enum log_proto_dir dir, const struct log_proto_props *pr)
{
    bool recv = dir == LOG_PROTO_RECEIVE;
    char *path = xasprintf("%s/ProtocolLog/%s", pr->directory, recv ? "SmtpReceive" : "SmtpSend");
    struct log_file_props fp = {
        .directory = path,
        .prefix = recv ? "RECV" : "SEND",
        .version = pr->version,
        .log_type = recv ? "SMTP Receive Protocol Log" : "SMTP Send Protocol Log",
        .fields = LOG_PROTO_FIELDS,
        .max_file_size = pr->max_file_size,
        .max_directory_size = pr->max_directory_size,
        .max_age_ms = pr->max_age_ms,
        .flush_interval_ms = pr->flush_interval_ms,
        .queue_limit = pr->queue_limit,
        .clock = pr->clock,
        .clock_arg = pr->clock_arg,
    };
    struct log_file *lf = log_file_open(&fp);
    struct log_proto *lp;

    free(path);
    if (lf == NULL)
        return NULL;
    lp = xmalloc(sizeof(*lp));
    lp->lf = lf;
    return lp;
}

/* log_proto_close - write what is queued, stop the writer */

void log_proto_close(struct log_proto *lp)
{
    if (lp == NULL)
        return;
    log_file_close(lp->lf);
    free(lp);
}

/* log_proto_flush - block until queued rows are written */

void log_proto_flush(struct log_proto *lp)
{
    log_file_flush(lp->lf);
}

/* log_proto_stats - counters of the writer */

void log_proto_stats(struct log_proto *lp, struct log_file_stats *st)
{
    log_file_stats(lp->lf, st);
}

/* log_proto_file - the engine under a writer (tests, stats) */

struct log_file *log_proto_file(struct log_proto *lp)
{
    return lp->lf;
}

/* log_proto_session_id - next id from the counter shared with log.c and both directions */

uint64_t log_proto_session_id(void)
{
    return log_session_id_next();
}

/* log_proto_connector_id - "HOST\Connector", the receive connector-id */

void log_proto_connector_id(char *out, size_t size, const char *host, const char *connector)
{
    snprintf(out, size, "%s\\%s", host, connector);
}

/* log_proto_reason_name - the disconnect context word */

const char *log_proto_reason_name(enum log_proto_reason why)
{
    if ((unsigned)why >= sizeof(log_proto_reason_names) / sizeof(log_proto_reason_names[0]))
        log_panic("logs", "bad disconnect reason %d", (int)why);
    return log_proto_reason_names[why];
}

/* log_proto_set_field - store a CSV-escaped copy; cut before escaping when too long */

static void log_proto_set_field(char *dst, size_t size, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    char stack[512];                    /* no allocation for the usual field */
    char *tmp = LOG_CSV_FIELD_MAX(len) <= sizeof(stack) ? stack : xmalloc(LOG_CSV_FIELD_MAX(len));
    size_t n = log_csv_field(tmp, src, len);

    if (n >= size)                      /* (size-3)/2 bytes fit even if all quotes */
        n = log_csv_field(tmp, src, (size - 3) / 2);
    memcpy(dst, tmp, n);
    dst[n] = '\0';
    if (tmp != stack)
        free(tmp);
}

/* log_proto_real_ms - wall clock, for sessions without a writer */

static uint64_t log_proto_real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* log_proto_session_init - start a session's record; lp NULL = level none */

void log_proto_session_init(struct log_proto_session *s, struct log_proto *lp,
                            const char *connector_id, uint64_t sid)
{
    memset(s, 0, sizeof(*s));
    s->log = lp;
    s->sid = sid;
    log_session_id_format(sid, s->sid_hex);
    if (lp == NULL) {                   /* a message reference still needs the start */
        s->start_ms = log_proto_real_ms();
        return;
    }
    s->start_ms = log_file_now(lp->lf);
    log_proto_set_field(s->connector, sizeof(s->connector), connector_id);
}

/* log_proto_session_set_local - local-endpoint of later rows */

void log_proto_session_set_local(struct log_proto_session *s, const char *endpoint)
{
    if (s->log)
        log_proto_set_field(s->local, sizeof(s->local), endpoint);
}

/* log_proto_session_set_remote - remote-endpoint of later rows */

void log_proto_session_set_remote(struct log_proto_session *s, const char *endpoint)
{
    if (s->log)
        log_proto_set_field(s->remote, sizeof(s->remote), endpoint);
}

/* log_proto_put - append a NUL-free string */

static char *log_proto_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* log_proto_row - format and queue one row */

static void log_proto_row(struct log_proto_session *s, enum log_proto_event ev,
                          const char *data, size_t len, const char *ctx, size_t clen)
{
    struct log_file *lf = s->log->lf;
    size_t cl = strlen(s->connector), ll = strlen(s->local), rl = strlen(s->remote);
    size_t bound = LOG_TIME_LEN + cl + 16 + 10 + ll + rl + 1
        + LOG_CSV_FIELD_MAX(len) + LOG_CSV_FIELD_MAX(clen) + 8 + 2;
    char stack[LOG_PROTO_ROW_STACK];
    char *buf = bound <= sizeof(stack) ? stack : xmalloc(bound);
    uint64_t ts = log_file_now(lf);
    char *p = buf;

    p += log_csv_time(ts, p);
    *p++ = ',';
    p = log_proto_put(p, s->connector, cl);
    *p++ = ',';
    p = log_proto_put(p, s->sid_hex, 16);
    *p++ = ',';
    p += snprintf(p, 12, "%u", s->seq);
    *p++ = ',';
    p = log_proto_put(p, s->local, ll);
    *p++ = ',';
    p = log_proto_put(p, s->remote, rl);
    *p++ = ',';
    *p++ = log_proto_event_chars[ev];
    *p++ = ',';
    p += log_csv_field(p, data, len);
    *p++ = ',';
    p += log_csv_field(p, ctx, clen);
    *p++ = '\r';
    *p++ = '\n';
    log_file_append(lf, ts, buf, (size_t)(p - buf));
    s->seq++;
    if (buf != stack)
        free(buf);
}

/* log_proto_event - rows for data split at CRLF (one empty row if no data) */

void log_proto_event(struct log_proto_session *s, enum log_proto_event ev,
                     const void *data, size_t len, const char *context)
{
    const char *p = data, *end = p + len;
    size_t clen;

    if (s->log == NULL)
        return;
    if ((unsigned)ev >= sizeof(log_proto_event_chars))
        log_panic("logs", "bad protocol log event %d", (int)ev);
    clen = context ? strlen(context) : 0;
    if (data == NULL || len == 0) {
        log_proto_row(s, ev, NULL, 0, context, clen);
        return;
    }
    /*
     * Exchange's GetLine: a line ends at LF preceded by CR; a bare LF or CR
     * stays in the line (and is escaped).  Exchange stops at an empty line;
     * we log it as an empty row and go on, so no received text is lost.
     */
    while (p < end) {
        const char *q = p, *lf = NULL;

        while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
            if (q > p && q[-1] == '\r') {
                lf = q;
                break;
            }
            q++;
        }
        if (lf == NULL) {
            log_proto_row(s, ev, p, (size_t)(end - p), context, clen);
            break;
        }
        log_proto_row(s, ev, p, (size_t)(lf - 1 - p), context, clen);
        p = lf + 1;
    }
}

/* log_proto_connect - "+" row */

void log_proto_connect(struct log_proto_session *s)
{
    log_proto_event(s, LOG_PROTO_CONNECT, NULL, 0, NULL);
}

/* log_proto_disconnect - "-" row, context Reason or Reason(remote error) */

void log_proto_disconnect(struct log_proto_session *s, enum log_proto_reason why,
                          const char *remote_error)
{
    char ctx[512];

    if (s->log == NULL)
        return;
    if (remote_error && *remote_error)
        snprintf(ctx, sizeof(ctx), "%s(%s)", log_proto_reason_name(why), remote_error);
    else
        snprintf(ctx, sizeof(ctx), "%s", log_proto_reason_name(why));
    log_proto_event(s, LOG_PROTO_DISCONNECT, NULL, 0, ctx);
}

/* log_proto_sent - ">" rows: what we wrote to the peer */

void log_proto_sent(struct log_proto_session *s, const void *data, size_t len)
{
    log_proto_event(s, LOG_PROTO_SENT, data, len, NULL);
}

/* log_proto_received - "<" rows: what the peer wrote */

void log_proto_received(struct log_proto_session *s, const void *data, size_t len)
{
    log_proto_event(s, LOG_PROTO_RECEIVED, data, len, NULL);
}

/* log_proto_info - "*" rows */

void log_proto_info(struct log_proto_session *s, const char *data, const char *context)
{
    if (s->log == NULL)
        return;
    log_proto_event(s, LOG_PROTO_INFO, data, data ? strlen(data) : 0, context);
}

/* log_proto_infof - "*" rows with a formatted context */

void log_proto_infof(struct log_proto_session *s, const char *data, const char *fmt, ...)
{
    char *ctx;
    va_list ap;

    if (s->log == NULL)
        return;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        log_panic("logs", "out of memory formatting a protocol log row");
    va_end(ap);
    log_proto_info(s, data, ctx);
    free(ctx);
}

/* log_proto_msgref - Exchange's message reference "SID;session start;index" */

size_t log_proto_msgref(const struct log_proto_session *s, unsigned index,
                        char out[LOG_PROTO_MSGREF_MAX])
{
    char start[LOG_TIME_LEN + 1];
    int n;

    log_csv_time(s->start_ms, start);
    n = snprintf(out, LOG_PROTO_MSGREF_MAX, "%s;%s;%u", s->sid_hex, start, index);
    return n > 0 ? (size_t)n : 0;
}

/* log_proto_receiving_message - "*,SID;start;N,receiving message"; ref_out may be NULL */

void log_proto_receiving_message(struct log_proto_session *s, unsigned index,
                                 char ref_out[LOG_PROTO_MSGREF_MAX])
{
    char ref[LOG_PROTO_MSGREF_MAX];

    log_proto_msgref(s, index, ref);
    if (ref_out)
        memcpy(ref_out, ref, sizeof(ref));
    log_proto_info(s, ref, "receiving message");
}

/* log_proto_sending_message - "*,,sending message with RecordId R and InternetMessageId M" */

void log_proto_sending_message(struct log_proto_session *s, const char *record_id,
                               const char *message_id)
{
    log_proto_infof(s, NULL, "sending message with RecordId %s and InternetMessageId %s",
                    record_id ? record_id : "", message_id ? message_id : "");
}
