/*
 * log_track.c - message tracking rows (SPEC 5.2), Exchange's field subset.
 *
 * CONTRACT
 *  log_track_open()/log_track_close() run at start-up and shut-down (they
 *  create the directory and start/join the writer thread, see log_file.c);
 *  open returns NULL with the error logged if the directory cannot be made.
 *  log_track_flush() blocks until queued rows are on disk.
 *
 *  log_track_write() may be called from any thread (receive workers, the
 *  queue manager) and returns at once: it formats the row on the heap and
 *  queues it, without disk I/O.  The entry and its strings are only read
 *  during the call.  A NULL writer (tracking off) is a no-op.
 *
 *  Formatting follows Exchange's LogRowFormatter: multi-valued fields
 *  (recipient-address, recipient-status) are ';'-joined, a member holding
 *  ';' or '\'' is wrapped in '\'' with '\'' doubled; CRLF inside a status
 *  becomes a space (Exchange's RemoveCRLFs); then the whole field gets the
 *  CSV escaping of log_csv_field().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_file.h"
#include "log_track.h"

struct log_track {
    struct log_file *lf;                /* owned */
};

static const char *const log_track_event_names[] = {
    [LOG_TRACK_RECEIVE] = "RECEIVE", [LOG_TRACK_SEND] = "SEND", [LOG_TRACK_DEFER] = "DEFER",
    [LOG_TRACK_FAIL] = "FAIL", [LOG_TRACK_DSN] = "DSN", [LOG_TRACK_EXPIRE] = "EXPIRE",
    [LOG_TRACK_SUSPEND] = "SUSPEND", [LOG_TRACK_RESUME] = "RESUME",
    [LOG_TRACK_DELETE] = "DELETE", [LOG_TRACK_BADMAIL] = "BADMAIL", [LOG_TRACK_CONFIG] = "CONFIG",
};

static const char *const log_track_source_names[] = {
    [LOG_TRACK_SRC_SMTP] = "SMTP", [LOG_TRACK_SRC_QUEUE] = "QUEUE",
    [LOG_TRACK_SRC_ROUTING] = "ROUTING", [LOG_TRACK_SRC_DSN] = "DSN",
    [LOG_TRACK_SRC_ADMIN] = "ADMIN",
};

static const char *const log_track_direction_names[] = {
    [LOG_TRACK_DIR_NONE] = "", [LOG_TRACK_DIR_INCOMING] = "Incoming",
    [LOG_TRACK_DIR_ORIGINATING] = "Originating",
};

#define LOG_TRACK_FIELDS "date-time,client-ip,client-hostname,server-ip,server-hostname," \
    "source-context,connector-id,source,event-id,internal-message-id,message-id," \
    "recipient-address,recipient-status,total-bytes,recipient-count,reference," \
    "sender-address,message-info,directionality"

/* log_track_name - an enum's name from its table; a bad value is a bug */

static const char *log_track_name(const char *const *tab, size_t n, int i, const char *what)
{
    if (i < 0 || (size_t)i >= n)
        log_panic("logs", "bad tracking %s %d", what, i);
    return tab[i];
}

#define LOG_NELEM(tab) (sizeof(tab) / sizeof((tab)[0]))
#define LOG_TRACK_STACK 1024            /* a list of recipients or statuses, on the stack */

/* log_track_open - start the MessageTracking writer */

struct log_track *log_track_open(const struct log_track_props *pr)
{
    char *path = xasprintf("%s/MessageTracking", pr->directory);
    struct log_file_props fp = {
        .directory = path,
        .prefix = "MSGTRK",
        .version = pr->version,
        .log_type = "Message Tracking Log",
        .fields = LOG_TRACK_FIELDS,
        .max_file_size = pr->max_file_size,
        .max_directory_size = pr->max_directory_size,
        .max_age_ms = pr->max_age_ms,
        .flush_interval_ms = pr->flush_interval_ms,
        .queue_limit = pr->queue_limit,
        .clock = pr->clock,
        .clock_arg = pr->clock_arg,
    };
    struct log_file *lf = log_file_open(&fp);
    struct log_track *lt;

    free(path);
    if (lf == NULL)
        return NULL;
    lt = xmalloc(sizeof(*lt));
    lt->lf = lf;
    return lt;
}

/* log_track_close - write what is queued, stop the writer */

void log_track_close(struct log_track *lt)
{
    if (lt == NULL)
        return;
    log_file_close(lt->lf);
    free(lt);
}

/* log_track_flush - block until queued rows are written */

void log_track_flush(struct log_track *lt)
{
    log_file_flush(lt->lf);
}

/* log_track_stats - counters of the writer */

void log_track_stats(struct log_track *lt, struct log_file_stats *st)
{
    log_file_stats(lt->lf, st);
}

/* log_track_security_info - "{mechanism:x2}{category letter}:{domain}", e.g. 02P:contoso.com */

size_t log_track_security_info(char *out, size_t size, unsigned mechanism, char category,
                               const char *domain)
{
    int n = snprintf(out, size, "%02x%c:%s", mechanism & 0xff, category, domain ? domain : "");

    return n > 0 ? (size_t)n : 0;
}

/* log_track_list - ';'-joined collection members into stack (ssz bytes)
 * when they fit, else into a new string (free it if it is not stack) */

static char *log_track_list(const char *const *v, size_t n, bool crlf_to_space, size_t *len,
                            char *stack, size_t ssz)
{
    size_t bound = 1, off = 0;
    char *out;

    for (size_t i = 0; i < n; i++)
        bound += LOG_CSV_MEMBER_MAX(v[i] ? strlen(v[i]) : 0) + 1;
    out = bound <= ssz ? stack : xmalloc(bound);
    for (size_t i = 0; i < n; i++) {
        const char *s = v[i] ? v[i] : "";
        size_t sl = strlen(s);
        char *tmp = NULL;

        if (crlf_to_space && strstr(s, "\r\n")) {
            char *w = tmp = xmalloc(sl + 1);

            for (const char *r = s; *r; r++) {
                if (r[0] == '\r' && r[1] == '\n') {
                    *w++ = ' ';
                    r++;
                } else {
                    *w++ = *r;
                }
            }
            sl = (size_t)(w - tmp);
            s = tmp;
        }
        if (i > 0)
            out[off++] = ';';
        off += log_csv_member(out + off, s, sl);
        free(tmp);
    }
    out[off] = '\0';
    *len = off;
    return out;
}

/* log_track_put - append one escaped field and a separator */

static char *log_track_put(char *p, const char *s, char sep)
{
    if (s)
        p += log_csv_field(p, s, strlen(s));
    if (sep)
        *p++ = sep;
    return p;
}

/* log_track_format - one event row (CRLF-ended), stamped now: in row (rsz
 * bytes) when it fits, else xmalloc()ed (free it if it is not row).  The
 * usual row needs no allocation. */

static char *log_track_format(struct log_track *lt, const struct log_track_entry *e,
                              size_t *len, uint64_t *tsp, char *row, size_t rsz)
{
    char rstack[LOG_TRACK_STACK], sstack[LOG_TRACK_STACK];
    const char *strs[] = { e->client_ip, e->client_hostname, e->server_ip, e->server_hostname,
                           e->source_context, e->connector_id, e->internal_id, e->message_id,
                           e->reference, e->sender, e->security_info };
    char *rcpts, *status = NULL, *buf, *p;
    size_t rlen, slen = 0, bound = LOG_TIME_LEN + 64 + 20 + 20;
    const char *source, *event, *direction;
    char num[24];
    uint64_t ts;

    source = log_track_name(log_track_source_names, LOG_NELEM(log_track_source_names),
                            (int)e->source, "source");
    event = log_track_name(log_track_event_names, LOG_NELEM(log_track_event_names),
                           (int)e->event, "event");
    direction = log_track_name(log_track_direction_names, LOG_NELEM(log_track_direction_names),
                               (int)e->direction, "direction");
    rcpts = log_track_list(e->recipients, e->nrecipients, false, &rlen, rstack, sizeof(rstack));
    if (e->recipient_status)
        status = log_track_list(e->recipient_status, e->nrecipients, true, &slen, sstack,
                                sizeof(sstack));
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        bound += LOG_CSV_FIELD_MAX(strs[i] ? strlen(strs[i]) : 0) + 1;
    bound += LOG_CSV_FIELD_MAX(rlen) + LOG_CSV_FIELD_MAX(slen) + 24;
    p = buf = bound <= rsz ? row : xmalloc(bound);

    ts = log_file_now(lt->lf);
    p += log_csv_time(ts, p);
    *p++ = ',';
    p = log_track_put(p, e->client_ip, ',');
    p = log_track_put(p, e->client_hostname, ',');
    p = log_track_put(p, e->server_ip, ',');
    p = log_track_put(p, e->server_hostname, ',');
    p = log_track_put(p, e->source_context, ',');
    p = log_track_put(p, e->connector_id, ',');
    p = log_track_put(p, source, ',');
    p = log_track_put(p, event, ',');
    p = log_track_put(p, e->internal_id, ',');
    p = log_track_put(p, e->message_id, ',');
    p += log_csv_field(p, rcpts, rlen);
    *p++ = ',';
    p += log_csv_field(p, status, slen);
    *p++ = ',';
    snprintf(num, sizeof(num), "%llu", (unsigned long long)e->total_bytes);
    p = log_track_put(p, num, ',');
    snprintf(num, sizeof(num), "%zu", e->nrecipients);
    p = log_track_put(p, num, ',');
    p = log_track_put(p, e->reference, ',');
    p = log_track_put(p, e->sender, ',');
    p = log_track_put(p, e->security_info, ',');
    p = log_track_put(p, direction, '\0');
    *p++ = '\r';
    *p++ = '\n';
    if (rcpts != rstack)
        free(rcpts);
    if (status != sstack)
        free(status);
    *len = (size_t)(p - buf);
    *tsp = ts;
    return buf;
}

/* log_track_emit - format e, then queue it, or keep it as the carried row */

static void log_track_emit(struct log_track *lt, const struct log_track_entry *e, bool carry)
{
    size_t  len;
    uint64_t ts;
    char    row[4 * LOG_TRACK_STACK], *buf;

    if (lt == NULL)
        return;
    buf = log_track_format(lt, e, &len, &ts, row, sizeof(row));
    if (carry)
        log_file_set_carry(lt->lf, buf, len);   /* copies */
    else
        log_file_append(lt->lf, ts, buf, len);  /* copies */
    if (buf != row)
        free(buf);
}

/* log_track_write - format and queue one event row */

void log_track_write(struct log_track *lt, const struct log_track_entry *e)
{
    log_track_emit(lt, e, false);
}

/* log_track_set_carry - from now on, every tracking file that rotation
 * opens starts with this event (stamped with the file's time): the CONFIG
 * row, so each file says which lists were in force */

void log_track_set_carry(struct log_track *lt, const struct log_track_entry *e)
{
    log_track_emit(lt, e, true);
}
