/*
 * relay_dsn.c - build delivery status notifications (RFC 3464, RFC 6522).
 *
 * A DSN is a multipart/report; report-type=delivery-status with three
 * parts: a text/plain explanation in Exchange's words, the
 * message/delivery-status report, and the original header section as
 * text/rfc822-headers (docs/DELIVERY.md "DSNs").
 *
 * CONTRACT
 *  relay_dsn_build() borrows its input for the call only; the result is
 *  one NUL-terminated buffer owned by the caller (free()).  It cannot
 *  fail: x-allocators abort on exhaustion, and missing required input is
 *  a caller bug (log_panic).  Pure and thread-safe (no I/O, no globals,
 *  gmtime_r); no callbacks, nothing to cancel.
 *
 *  Output: CRLF only, no line over 998 octets.  Everything we put in
 *  headers and in the first two parts is 7-bit and one logical line:
 *  bytes outside printable ASCII become '?', whitespace runs (CR/LF of
 *  multi-line replies included) become one space, and long values fold
 *  at a space near 78 columns, or are cut at 998 inside a longer word.
 *  The original header section is copied as is (8-bit allowed) with CRLF
 *  line ends; a line over 998 octets continues on a line starting " ".
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "relay_dsn.h"

#define DSN_SOFT        78              /* fold here when a space allows */
#define DSN_HARD        998             /* RFC 5322 2.1.1: never longer */
#define DSN_MAX_FIELD   512             /* addresses, host names, ids */
#define DSN_MAX_TOKEN   30              /* queue id part of boundary and Message-ID */

struct dsn_buf {                        /* growing, always NUL-terminated */
    char   *p;                          /* xmalloc()ed */
    size_t  len, cap;
};

struct dsn_rc {                         /* one recipient, cleaned */
    char   *addr, *diag, *remote;       /* xmalloc()ed; diag, remote may be "" */
    const char *status;                 /* the input's, or a default */
    uint64_t last_ms;
};

static const char *const dsn_part[3][2] = {     /* Content-Type, Content-Description */
    { "text/plain; charset=us-ascii", "Notification" },
    { "message/delivery-status", "Delivery report" },
    { "text/rfc822-headers", "Undelivered Message Headers" },
};

/* dsn_reserve - room for n more bytes and the NUL */

static void dsn_reserve(struct dsn_buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
}

/* dsn_put - append n bytes */

static void dsn_put(struct dsn_buf *b, const void *s, size_t n)
{
    dsn_reserve(b, n);
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* dsn_printf - append formatted text */

static void LOG_PRINTF(2, 3) dsn_printf(struct dsn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        log_panic("dsn", "bad format \"%s\"", fmt);
    dsn_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* dsn_clean - 7-bit, one-line, trimmed copy of at most max bytes of s[0..n) */

static char *dsn_clean(const char *s, size_t n, size_t max)
{
    char   *out = xmalloc(n + 1);
    size_t  o = 0;

    for (size_t i = 0; s != NULL && i < n && o < max; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' ';
        } else {
            out[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return out;
}

/* dsn_cleans - dsn_clean of a NUL-terminated string or NULL */

static char *dsn_cleans(const char *s, size_t max)
{
    return dsn_clean(s, s ? strlen(s) : 0, max);
}

/* dsn_token - the letters and digits of s, for boundary and Message-ID */

static void dsn_token(const char *s, char out[DSN_MAX_TOKEN + 1])
{
    size_t  o = 0;

    for (; *s && o < DSN_MAX_TOKEN; s++)
        if ((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
            out[o++] = *s;
    out[o] = '\0';
}

/* dsn_date - RFC 5322 date-time in UTC */

static void dsn_date(uint64_t ms, char out[40])
{
    static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t  t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL) {    /* out of range: the epoch, not garbage */
        t = 0;
        gmtime_r(&t, &tm);
    }
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
             tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* dsn_fold - append clean text s starting at column col, folding long lines */

static void dsn_fold(struct dsn_buf *b, size_t col, const char *s, const char *indent)
{
    size_t  n = strlen(s), ilen = strlen(indent);

    while (n > 0) {
        size_t  room = col < DSN_SOFT ? DSN_SOFT - col : 0, hard = DSN_HARD - col;
        size_t  cut = 0, skip = 1;

        if (n <= room)
            break;
        for (size_t i = room; i > 0 && cut == 0; i--)
            if (s[i] == ' ')
                cut = i;                /* last space that fits */
        for (size_t i = 1; cut == 0 && i < n && i <= hard; i++)
            if (s[i] == ' ')
                cut = i;                /* else the first one allowed */
        if (cut == 0) {
            if (n <= hard)
                break;
            cut = hard;                 /* one word longer than a line */
            skip = 0;
        }
        dsn_put(b, s, cut);
        dsn_printf(b, "\r\n%s", indent);
        s += cut + skip;
        n -= cut + skip;
        col = ilen;
    }
    dsn_put(b, s, n);
}

/* dsn_line - length of the line at p without its CRLF, LF or CR; *next past it */

static size_t dsn_line(const char *p, size_t n, size_t *next)
{
    size_t  i = 0, j;

    while (i < n && p[i] != '\r' && p[i] != '\n')
        i++;
    j = i;
    if (j < n && p[j] == '\r')
        j++;
    if (j < n && p[j] == '\n')
        j++;
    *next = j;
    return i;
}

/* dsn_subject - the first Subject:, unfolded and cleaned; NULL if none or empty */

static char *dsn_subject(const char *m, size_t n)
{
    struct dsn_buf v = { 0 };
    size_t  pos = 0, next, l;
    bool    in = false;
    char   *s;

    while (pos < n) {
        const char *p = m + pos;

        l = dsn_line(p, n - pos, &next);
        pos += next;
        if (in && (p[0] == ' ' || p[0] == '\t')) {
            dsn_put(&v, p, l);          /* unfold: drop the line end only */
            continue;
        }
        if (in)
            break;
        if (l > 7 && strncasecmp(p, "subject", 7) == 0) {
            size_t  i = 7;

            while (i < l && (p[i] == ' ' || p[i] == '\t'))
                i++;
            if (i < l && p[i] == ':') {
                in = true;
                dsn_put(&v, p + i + 1, l - i - 1);
            }
        }
    }
    s = dsn_clean(v.p, v.len, (size_t)-1);
    free(v.p);
    if (*s == '\0') {
        free(s);
        return NULL;
    }
    return s;
}

/* dsn_copy_headers - copy the header section (to the first empty line); its length */

static size_t dsn_copy_headers(struct dsn_buf *b, const char *m, size_t n)
{
    size_t  pos = 0, next;

    while (pos < n) {
        const char *p = m + pos;
        size_t  l = dsn_line(p, n - pos, &next), off = 0, lim = DSN_HARD;

        if (l == 0)
            break;
        pos += next;
        do {
            size_t  k = l - off < lim ? l - off : lim;

            if (off > 0)
                dsn_printf(b, " ");
            dsn_put(b, p + off, k);
            dsn_printf(b, "\r\n");
            off += k;
            lim = DSN_HARD - 1;         /* continuation lines start with " " */
        } while (off < l);
    }
    return pos;
}

/* dsn_text_part - the human explanation */

static void dsn_text_part(struct dsn_buf *b, const struct relay_dsn_input *in,
                          const char *mta, const char *qid, const struct dsn_rc *rc)
{
    char    date[40];

    dsn_fold(b, 0, in->kind == RELAY_DSN_FAILURE
             ? "Delivery has failed to these recipients or groups:"
             : "Delivery of the message to these recipients has been delayed. The server "
             "will keep trying to deliver it, so you don't need to resend the message. "
             "You will be notified if delivery fails permanently.", "");
    dsn_printf(b, "\r\n");
    for (size_t i = 0; i < in->nrcpts; i++) {
        dsn_printf(b, "\r\n%s\r\n    ", rc[i].addr);
        dsn_fold(b, 4, *rc[i].diag ? rc[i].diag : "(no further information)", "    ");
        dsn_printf(b, "\r\n");
    }
    dsn_printf(b, "\r\nDiagnostic information for administrators:\r\n\r\n"
               "Reporting server: %s\r\nOriginal queue id: %s\r\n", mta, qid);
    if (in->arrival_ms != 0) {
        dsn_date(in->arrival_ms, date);
        dsn_printf(b, "Arrival date: %s\r\n", date);
    }
    for (size_t i = 0; i < in->nrcpts; i++) {
        dsn_printf(b, "\r\n%s\r\nStatus: %s\r\n", rc[i].addr, rc[i].status);
        if (*rc[i].remote)
            dsn_printf(b, "Remote server: %s\r\n", rc[i].remote);
        if (rc[i].last_ms != 0) {
            dsn_date(rc[i].last_ms, date);
            dsn_printf(b, "Last attempt: %s\r\n", date);
        }
    }
}

/* dsn_status_part - the message/delivery-status fields (RFC 3464 2.2, 2.3) */

static void dsn_status_part(struct dsn_buf *b, const struct relay_dsn_input *in,
                            const char *mta, const struct dsn_rc *rc)
{
    char    date[40];

    dsn_printf(b, "Reporting-MTA: dns; %s\r\n", mta);
    if (in->arrival_ms != 0) {
        dsn_date(in->arrival_ms, date);
        dsn_printf(b, "Arrival-Date: %s\r\n", date);
    }
    for (size_t i = 0; i < in->nrcpts; i++) {
        dsn_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\n",
                   rc[i].addr, in->kind == RELAY_DSN_FAILURE ? "failed" : "delayed",
                   rc[i].status);
        if (*rc[i].remote)
            dsn_printf(b, "Remote-MTA: dns; %s\r\n", rc[i].remote);
        if (*rc[i].diag) {
            dsn_printf(b, "Diagnostic-Code: smtp; ");
            dsn_fold(b, strlen("Diagnostic-Code: smtp; "), rc[i].diag, " ");
            dsn_printf(b, "\r\n");
        }
        if (rc[i].last_ms != 0) {
            dsn_date(rc[i].last_ms, date);
            dsn_printf(b, "Last-Attempt-Date: %s\r\n", date);
        }
    }
}

/* dsn_status_ok - "class.subject.detail" (RFC 3463), class fitting the action */

static bool dsn_status_ok(const char *s, enum relay_dsn_kind kind)
{
    int     cls, subj, detail, end = -1;

    return s != NULL && strspn(s, "0123456789.") == strlen(s)
        && sscanf(s, "%1d.%3d.%3d%n", &cls, &subj, &detail, &end) == 3 && s[end] == '\0'
        && (cls == 4 || (cls == 5 && kind == RELAY_DSN_FAILURE));
}

/* dsn_in_parts - whether the boundary occurs in any part body */

static bool dsn_in_parts(const struct dsn_buf part[3], const char *bnd)
{
    for (int i = 0; i < 3; i++)
        if (part[i].len > 0 && memmem(part[i].p, part[i].len, bnd, strlen(bnd)) != NULL)
            return true;
    return false;
}

/* relay_dsn_build - build the whole DSN message */

char   *relay_dsn_build(const struct relay_dsn_input *in, size_t *len)
{
    struct dsn_buf out = { 0 }, part[3] = { { 0 } };
    struct dsn_rc *rc;
    char   *mta, *qid, *sender, *pm, *subject, qtok[DSN_MAX_TOKEN + 1], bnd[80], date[40];
    size_t  hlen, blen;
    const char *prefix = in->kind == RELAY_DSN_FAILURE ? "Undeliverable: " : "Delivery delayed: ";

    if (in->reporting_mta == NULL || in->queue_id == NULL || in->original_sender == NULL
        || in->postmaster == NULL || in->rcpts == NULL || in->nrcpts == 0
        || (in->message == NULL && in->message_len != 0))
        log_panic("dsn", "relay_dsn_build: incomplete input");
    mta = dsn_cleans(in->reporting_mta, DSN_MAX_FIELD);
    qid = dsn_cleans(in->queue_id, DSN_MAX_FIELD);
    sender = dsn_cleans(in->original_sender, DSN_MAX_FIELD);
    pm = dsn_cleans(in->postmaster, DSN_MAX_FIELD);
    rc = xcalloc(in->nrcpts, sizeof(*rc));
    for (size_t i = 0; i < in->nrcpts; i++) {
        const struct relay_dsn_rcpt *r = in->rcpts + i;

        if (r->addr == NULL)
            log_panic("dsn", "relay_dsn_build: recipient %zu has no address", i);
        rc[i].addr = dsn_cleans(r->addr, DSN_MAX_FIELD);
        rc[i].diag = dsn_cleans(r->diagnostic, (size_t)-1);
        rc[i].remote = dsn_cleans(r->remote_mta, DSN_MAX_FIELD);
        rc[i].status = dsn_status_ok(r->status, in->kind) ? r->status
            : in->kind == RELAY_DSN_FAILURE ? "5.0.0" : "4.0.0";
        rc[i].last_ms = r->last_attempt_ms;
    }
    hlen = dsn_copy_headers(&part[2], in->message, in->message_len);
    subject = dsn_subject(in->message, hlen);
    dsn_text_part(&part[0], in, mta, qid, rc);
    dsn_status_part(&part[1], in, mta, rc);

    dsn_token(in->queue_id, qtok);
    blen = (size_t)snprintf(bnd, sizeof(bnd), "=_dsn_%s_%llu", qtok,
                            (unsigned long long)in->now_ms);
    for (unsigned k = 1; dsn_in_parts(part, bnd); k++)
        snprintf(bnd + blen, sizeof(bnd) - blen, "_%u", k);

    dsn_date(in->now_ms, date);
    dsn_printf(&out, "From: Mail Delivery System <%s>\r\nTo: <%s>\r\nSubject: %s", pm, sender,
               prefix);
    dsn_fold(&out, strlen("Subject: ") + strlen(prefix), subject ? subject : "(no subject)", " ");
    dsn_printf(&out, "\r\nDate: %s\r\nMessage-ID: <%s.dsn.%llu@%s>\r\n"
               "X-Domsec-Original-Queue-Id: %s\r\nAuto-Submitted: auto-replied\r\n"
               "MIME-Version: 1.0\r\n"
               "Content-Type: multipart/report; report-type=delivery-status;\r\n"
               "\tboundary=\"%s\"\r\n\r\n"
               "This is a MIME-formatted delivery status notification.\r\n",
               date, qtok, (unsigned long long)in->now_ms, mta, qid, bnd);
    for (int i = 0; i < 3; i++) {
        dsn_printf(&out, "\r\n--%s\r\nContent-Type: %s\r\nContent-Description: %s\r\n\r\n",
                   bnd, dsn_part[i][0], dsn_part[i][1]);
        dsn_put(&out, part[i].p ? part[i].p : "", part[i].len);
        free(part[i].p);
    }
    dsn_printf(&out, "\r\n--%s--\r\n", bnd);

    for (size_t i = 0; i < in->nrcpts; i++) {
        free(rc[i].addr);
        free(rc[i].diag);
        free(rc[i].remote);
    }
    free(rc);
    free(mta);
    free(qid);
    free(sender);
    free(pm);
    free(subject);
    *len = out.len;
    return out.p;
}
