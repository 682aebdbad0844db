/*
 * relay_data.c - the DATA phase: decode the message text and spool it.
 *
 * The filter implements RFC 5321 4.5.2 (dot-unstuffing; only CRLF "."
 * CRLF ends the message) and closes SMTP smuggling: a bare LF or a bare CR
 * anywhere marks the message for rejection with 550 5.6.11, and neither
 * ever counts as a line end, so "\n.\n", "\r\n.\n" or "\n.\r\n" cannot end
 * the message early.  The size limit is enforced while reading: once
 * exceeded, text is still read (to find the real end) but no longer kept.
 * The header section is scanned for "TLS-Required: No" (RFC 8689 3); the
 * flag goes into the queue file as a record the commit writes after "end"
 * (the envelope, written first, cannot hold it), REQUIRETLS from MAIL FROM
 * as an envelope line ("requiretls yes"); with both, REQUIRETLS wins (4.1).
 *
 * CONTRACT
 *  relay_data_filter() is pure: it consumes input, writes decoded bytes
 *  (at most len + 1 of them; the caller provides the room in *outlen) and
 *  stops after the terminating CRLF.CRLF with *done set.
 *  relay_data_tlsreq_scan() is pure too and takes any split of the text;
 *  relay_data_tlsreq_end() after the last byte judges a field left open.
 *  relay__data_feed() runs on the session's loop; it may pause the session
 *  (state RELAY_S_SPOOL_WAIT) while the spool writes, commits or removes
 *  the file, and resumes it from the spool callbacks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "log_util.h"
#include "relay_plog.h"
#include "relay_spool.h"
#include "relay_receive.h"
#include "relay_smtpd.h"
#include "relay_stats.h"
#include "tls_conn.h"


static void (*relay_data_queued_hook)(const char *id);  /* relay_receive_on_queued */

/* relay_receive_on_queued - who hears of every message queued */

void relay_receive_on_queued(void (*fn)(const char *id))
{
    relay_data_queued_hook = fn;
}

/* relay_data_filter - decode message text; see the contract above */

size_t relay_data_filter(enum relay_dot_state *st, bool *bare, const char *in, size_t len,
                         char *out, size_t *outlen, bool *done)
{
    size_t i = 0, o = 0, room = *outlen;

    *done = false;
    while (i < len && o + 2 <= room) {
        char c = in[i];

        switch (*st) {
        case RELAY_DOT_TEXT: {
            /* Fast path: copy a run of ordinary bytes. */
            size_t j = i, lim = i + (room - o - 1 < len - i ? room - o - 1 : len - i);

            while (j < lim && in[j] != '\r' && in[j] != '\n')
                j++;
            memcpy(out + o, in + i, j - i);
            o += j - i;
            i = j;
            if (i < len && o + 2 <= room) {
                if (in[i] == '\r') {
                    *st = RELAY_DOT_CR;
                } else if (in[i] == '\n') {
                    *bare = true;       /* bare LF: not a line end */
                    out[o++] = '\n';
                }
                i++;
            }
            continue;
        }
        case RELAY_DOT_BOL:
            if (c == '.') {
                *st = RELAY_DOT_DOT;
                i++;
                continue;
            }
            *st = RELAY_DOT_TEXT;
            continue;                   /* reprocess c as text */
        case RELAY_DOT_CR:
            if (c == '\n') {
                out[o++] = '\r';
                out[o++] = '\n';
                *st = RELAY_DOT_BOL;
                i++;
                continue;
            }
            *bare = true;               /* bare CR */
            out[o++] = '\r';
            *st = RELAY_DOT_TEXT;
            continue;                   /* reprocess c */
        case RELAY_DOT_DOT:
            if (c == '\r') {
                *st = RELAY_DOT_DOTCR;
                i++;
                continue;
            }
            *st = RELAY_DOT_TEXT;       /* unstuff: drop the leading dot */
            continue;
        case RELAY_DOT_DOTCR:
            if (c == '\n') {            /* CRLF "." CRLF */
                *st = RELAY_DOT_BOL;
                *done = true;
                i++;
                *outlen = o;
                return i;
            }
            *bare = true;               /* "." bare CR: unstuffed, rejected */
            out[o++] = '\r';
            *st = RELAY_DOT_TEXT;
            continue;
        }
    }
    *outlen = o;
    return i;
}

/*
 * relay_data_headers - the header firewall: pass decoded text to the spool,
 * dropping every X-MS-Exchange-Organization-* header (with its folded
 * lines) in the client's header section, so nobody outside can forge the
 * domain-security stamp (SPEC 3).  Streams: a line is held back only until
 * its first 27 bytes decide it.
 */
static void relay_data_headers(struct relay_tx *tx, const char *p, size_t n)
{
    static const char xms[] = "x-ms-exchange-organization-";
    const size_t xl = sizeof(xms) - 1;

    while (n > 0) {
        const char *nl;
        size_t take;

        if (tx->in_body) {
            relay_spool_append(tx->spool, p, n);
            return;
        }
        if (tx->hdr_bol) {              /* deciding the line that starts here */
            char c = *p++;
            bool decided = false;

            n--;
            tx->hbuf[tx->hlen++] = c;
            if (tx->hlen == 1 && (c == ' ' || c == '\t')) {
                decided = true;         /* folded: same fate as its header */
            } else if (c == '\n') {
                if (tx->hlen == 1 || (tx->hlen == 2 && tx->hbuf[0] == '\r')) {
                    relay_spool_append(tx->spool, tx->hbuf, tx->hlen);
                    tx->hlen = 0;
                    tx->in_body = true; /* the empty line: the body follows */
                    continue;
                }
                tx->hdr_drop = false;   /* a short complete line */
                decided = true;
            } else if (tx->hlen == 1 && c == '\r') {
                continue;               /* maybe the empty line: wait for its LF */
            } else if (tolower((unsigned char)c) != xms[tx->hlen - 1]) {
                tx->hdr_drop = false;
                decided = true;
            } else if (tx->hlen == xl) {
                tx->hdr_drop = true;
                decided = true;
            }
            if (!decided)
                continue;
            if (!tx->hdr_drop)
                relay_spool_append(tx->spool, tx->hbuf, tx->hlen);
            tx->hdr_bol = tx->hbuf[tx->hlen - 1] == '\n';
            tx->hlen = 0;
            continue;
        }
        nl = memchr(p, '\n', n);       /* the rest of the line */
        take = nl ? (size_t)(nl - p) + 1 : n;
        if (!tx->hdr_drop)
            relay_spool_append(tx->spool, p, take);
        tx->hdr_bol = nl != NULL;
        p += take;
        n -= take;
    }
}

/* tlsreq_field - the field in st->buf is "TLS-Required: No" (any case,
 * whitespace before and after the colon and after the value) */

static bool tlsreq_field(const struct relay_tlsreq *st)
{
    static const char name[] = "tls-required";
    const char *p = st->buf, *end = st->buf + st->len;

    if (st->len >= sizeof(st->buf) || st->len < sizeof(name) - 1
        || strncasecmp(p, name, sizeof(name) - 1) != 0)
        return false;
    p += sizeof(name) - 1;
    if (p < end && *p == ' ')
        p++;
    if (p == end || *p++ != ':')
        return false;
    if (p < end && *p == ' ')
        p++;
    if (end - p < 2 || strncasecmp(p, "no", 2) != 0)
        return false;
    p += 2;
    return p == end || (p + 1 == end && *p == ' ');
}

/* tlsreq_judge - the field collected so far is complete: judge it */

static void tlsreq_judge(struct relay_tlsreq *st)
{
    st->no = st->no || tlsreq_field(st);
    st->len = 0;
}

/* tlsreq_stop - the header section ends here (the empty line, or a line
 * that is not a field: RFC 5322 2.2, where Postfix's cleanup and Python's
 * email package start the body); a field line not yet judged is not one */

static void tlsreq_stop(struct relay_tlsreq *st)
{
    st->len = 0;
    st->done = true;
}

/* tlsreq_keep - one byte of the current field (tab as space, runs of
 * whitespace as one space) */

static void tlsreq_keep(struct relay_tlsreq *st, char c)
{
    if (c == '\t')
        c = ' ';
    if (c == ' ' && st->len > 0 && st->len < sizeof(st->buf) && st->buf[st->len - 1] == ' ')
        return;                         /* a fold or a run of blanks: one space */
    if (st->len < sizeof(st->buf))
        st->buf[st->len++] = c;
}

/* relay_data_tlsreq_scan - look for "TLS-Required: No" in the header
 * section: each field is collected unfolded (CRs inside a line dropped)
 * and judged when the next line starts a field, or the section ends.  It
 * ends at the empty line ("\n" or "\r\n", as relay_data_headers sees it)
 * or at the first line that is neither a continuation (a leading blank)
 * nor "name:" (printable ASCII other than ':', blanks allowed before the
 * colon: RFC 5322 obs-optional); relay_data_tlsreq_end judges a field
 * that the text ends with. */

void relay_data_tlsreq_scan(struct relay_tlsreq *st, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !st->done; i++) {
        unsigned char c = (unsigned char)p[i];

        if (!st->mid) {                 /* at the start of a line (after its CRs) */
            if (c == '\r') {
                st->crs++;
                continue;
            }
            if (c == '\n' || st->crs > 0) {
                tlsreq_judge(st);       /* the line before ended: its field is whole */
                tlsreq_stop(st);        /* the empty line, or "\r\r\n", "\rx": no field */
                continue;
            }
            st->mid = true;
            if (c == ' ' || c == '\t') {
                tlsreq_keep(st, (char)c);       /* a continuation of the field */
                continue;
            }
            tlsreq_judge(st);           /* a new field: judge the one before */
            st->name = true;
            st->name_blank = false;
        }
        if (c == '\n') {               /* the end of this line */
            if (st->name)
                tlsreq_stop(st);        /* no colon: not a field */
            st->mid = false;
            st->crs = 0;
            continue;
        }
        if (c == '\r')
            continue;
        if (st->name) {
            if (c == ':')
                st->name = false;
            else if (c == ' ' || c == '\t')
                st->name_blank = true;
            else if (c < 33 || c > 126 || st->name_blank) {
                tlsreq_stop(st);        /* not a field name */
                continue;
            }
        }
        tlsreq_keep(st, (char)c);
    }
}

/* relay_data_tlsreq_end - the text has ended: judge a field it ended with */

void relay_data_tlsreq_end(struct relay_tlsreq *st)
{
    if (!st->done && !st->name)
        tlsreq_judge(st);
    st->done = true;
}

/* relay_data_date - RFC 5322 date in UTC, "Sun, 22 Nov 2026 10:00:00 +0000" */

static void relay_data_date(char *buf, size_t sz, time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, sz, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* relay_data_envelope - the queue-file header up to (not including) "data" */

static char *relay_data_envelope(struct relay_session *s, size_t *len)
{
    struct relay_tx *tx = s->tx;
    struct timespec ts;
    char when[32], sid[17];
    struct tm tm;
    size_t cap = 512, n;
    char *buf;
    int w;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    log_session_id_format(s->sid, sid);
    for (size_t i = 0; i < tx->nrcpts; i++)
        cap += strlen(tx->rcpts[i]) + 8;
    cap += strlen(tx->sender) + strlen(s->helo) + strlen(s->rc->name);
    buf = xmalloc(cap);
    w = snprintf(buf, cap,
                 "DSQ1\nid %s\narrival %s.%03ldZ\nconnector %s\nclient %s\nhelo %s\n"
                 "session %s\n%s%s%s%ssender <%s>\n",
                 tx->id, when, ts.tv_nsec / 1000000, s->rc->name, s->remote_ep, s->helo, sid,
                 tx->body != RELAY_BODY_NONE ? "body " : "",
                 tx->body == RELAY_BODY_8BITMIME ? "8BITMIME" :
                 tx->body == RELAY_BODY_7BIT ? "7BIT" : "",
                 tx->body != RELAY_BODY_NONE ? "\n" : "",
                 tx->requiretls ? "requiretls yes\n" : "", tx->sender);
    n = (size_t)w;
    for (size_t i = 0; i < tx->nrcpts; i++)
        n += (size_t)snprintf(buf + n, cap - n, "rcpt <%s>\n", tx->rcpts[i]);
    *len = n;
    return buf;
}

/* relay__data_begin - start the DATA phase */

int relay__data_begin(struct relay_session *s)
{
    struct relay_tx *tx = s->tx;
    char date[64], *env, *rcvd, tlsinfo[800] = "";
    size_t envlen;
    int n;

    relay_queue_new_id(tx->id);
    env = relay_data_envelope(s, &envlen);
    tx->spool = relay_spool_begin(s->worker, tx->id, env, envlen);
    free(env);
    relay_data_date(date, sizeof(date), time(NULL));
    if (s->tls)                         /* RFC 3848 ESMTPS, and what TLS was used */
        snprintf(tlsinfo, sizeof(tlsinfo), "\r\n\t(version=%s cipher=%s bits=%d)",
                 s->facts->version, s->facts->cipher, s->facts->cipher_bits);
    if (tx->secured != NULL) {          /* the verified partner certificate */
        char subject[520];
        size_t used = strlen(tlsinfo);

        snprintf(subject, sizeof(subject), "%s", s->peer->subject);
        for (char *q = subject; *q; q++)
            if (*q == '"' || (unsigned char)*q < 0x20)
                *q = '\'';
        snprintf(tlsinfo + used, sizeof(tlsinfo) - used,
                 "\r\n\t(client certificate \"%s\" verified for %s)", subject, tx->secured);
    }
    if (tx->nrcpts == 1)
        rcvd = xasprintf("Received: from %s ([%s])\r\n\tby %s (domsec) with %s id %s%s\r\n"
                         "\tfor <%s>; %s\r\n", s->helo, s->remote_ip, s->rc->fqdn,
                         s->tls ? "ESMTPS" : s->esmtp ? "ESMTP" : "SMTP", tx->id, tlsinfo,
                         tx->rcpts[0], date);
    else
        rcvd = xasprintf("Received: from %s ([%s])\r\n\tby %s (domsec) with %s id %s%s;\r\n"
                         "\t%s\r\n", s->helo, s->remote_ip, s->rc->fqdn,
                         s->tls ? "ESMTPS" : s->esmtp ? "ESMTP" : "SMTP", tx->id, tlsinfo, date);
    n = (int)strlen(rcvd);
    relay_spool_append(tx->spool, rcvd, (size_t)n);
    tx->bytes = 0;                      /* SIZE counts the client's octets only */
    free(rcvd);
    if (tx->secured != NULL) {          /* SPEC 3 stamping, as Exchange's MultilevelAuth */
        char *stamp = xasprintf("X-MS-Exchange-Organization-AuthSource: %s\r\n"
                                "X-MS-Exchange-Organization-AuthAs: Partner\r\n"
                                "X-MS-Exchange-Organization-AuthMechanism: 02\r\n"
                                "X-MS-Exchange-Organization-AuthDomain: %s\r\n",
                                s->rc->fqdn, tx->secured);

        relay_spool_append(tx->spool, stamp, strlen(stamp));
        free(stamp);
    }
    {
        struct relay_session_plog *sp = &s->plog;

        sp->msgid[0] = '\0';            /* the tracking log's message-id */
        sp->mid_len = sp->mid_n = 0;
        sp->mid_in = false;
    }
    tx->hdr_bol = true;                 /* the client's header section starts */
    tx->dot = RELAY_DOT_BOL;
    return 0;
}

static void relay_data_finish(struct relay_session *s);

/* relay_data_spool_error - remember the first spool failure, drop the file */

static void relay_data_spool_error(struct relay_session *s, int err)
{
    struct relay_tx *tx = s->tx;

    if (tx->spool_err == 0)
        tx->spool_err = err;
    /* Keep reading to the end of data, keep nothing more; the partial
     * file is removed before the reply (relay_data_finish). */
    log_msg(LOG_ERROR, "smtpd", s->sid, "spool write failed id=%s error=%s", tx->id,
            uv_strerror(err));
}

/* relay_data_discarded - the refused message's file is gone: reply now */

static void relay_data_discarded(struct relay_spool *sp, int status, void *arg)
{
    struct relay_session *s = arg;

    s->pending--;
    s->tx->spool = NULL;                /* freed by the spool after we return */
    relay__reply(s, "%s", s->tx->reject);
    relay__tx_free(s);
    if (s->state == RELAY_S_CLOSING) {
        relay__close(s, RELAY_CLOSE_LOCAL);
        return;
    }
    relay__enter_state(s, RELAY_S_CMD);
    relay__process(s);
}

/* relay_data_flushed - a background write finished */

static void relay_data_flushed(struct relay_spool *sp, int status, void *arg)
{
    struct relay_session *s = arg;

    if (status < 0)
        relay_data_spool_error(s, status);
    if (s->state != RELAY_S_SPOOL_WAIT)
        return;                         /* we were not waiting for it */
    if (s->tx->eod) {
        relay_data_finish(s);           /* the end was seen while writing */
        if (s->state == RELAY_S_SPOOL_WAIT)
            return;                     /* now committing */
    } else {
        relay__enter_state(s, RELAY_S_DATA);
    }
    relay__process(s);
}

/* relay_data_track - "receiving message" and the tracking log's RECEIVE */

static void relay_data_track(struct relay_session *s)
{
    struct relay_session_plog *sp = &s->plog;
    struct relay_tx *tx = s->tx;
    char ref[LOG_PROTO_MSGREF_MAX], id[LOG_PROTO_CONNECTOR_MAX], local[64], sec[300];
    struct log_track_entry e = { .event = LOG_TRACK_RECEIVE, .source = LOG_TRACK_SRC_SMTP };

    log_proto_receiving_message(&sp->pl, ++sp->msg_index, ref);
    if (relay_plog_track() == NULL)
        return;
    log_addr_endpoint(local, sizeof(local), (const struct sockaddr *)&s->local);
    relay_plog_ip(local, local, sizeof(local));
    log_proto_connector_id(id, sizeof(id), relay_plog_hostname(), s->rc->name);
    if (tx->secured != NULL)
        log_track_security_info(sec, sizeof(sec), LOG_TRACK_MECH_MUTUAL_TLS, 'P', tx->secured);
    e.client_ip = s->remote_ip;
    e.client_hostname = s->helo;
    e.server_ip = local;
    e.server_hostname = s->rc->fqdn;
    e.source_context = ref;
    e.connector_id = id;
    e.internal_id = tx->id;
    e.message_id = sp->msgid;
    e.recipients = (const char *const *)tx->rcpts;
    e.nrecipients = tx->nrcpts;
    e.total_bytes = tx->bytes;
    e.sender = tx->sender;
    e.security_info = tx->secured != NULL ? sec : NULL;
    /* Exchange: mail from inside the organization is Originating; here,
     * what a permission = internal connector (the Hub side) received. */
    e.direction = s->rc->permission == CFG_PERM_INTERNAL ? LOG_TRACK_DIR_ORIGINATING
                                                         : LOG_TRACK_DIR_INCOMING;
    log_track_write(relay_plog_track(), &e);
}

/* relay_data_committed - the message is durable (or failed) */

static void relay_data_committed(struct relay_spool *sp, int status, void *arg)
{
    struct relay_session *s = arg;
    struct relay_tx *tx = s->tx;

    s->pending--;
    tx->spool = NULL;                   /* freed by the spool after we return */
    if (status == 0) {
        log_info("smtpd", s->sid, "queued id=%s from=<%s> nrcpt=%zu size=%llu%s", tx->id,
                 tx->sender, tx->nrcpts, (unsigned long long)tx->bytes,
                 tx->requiretls ? " requiretls=yes"
                 : tx->tlsreq.no ? " tls-required=no" : "");
        relay_data_track(s);
        relay__reply(s, "250 2.6.0 <%s@%s> Queued mail for delivery", tx->id, s->rc->fqdn);
        s->ntx++;
        if (tx->secured != NULL)
            relay_stats_add(RELAY_STAT_DS_RECEIVED, 1);
        if (tx->requiretls)
            relay_stats_add(RELAY_STAT_REQUIRETLS_RECEIVED, 1);
        relay_stats_count(RELAY_LSTAT_MSG_RECEIVED, s->stats_label);
        relay_stats_observe(RELAY_HIST_COMMIT, (uv_hrtime() - tx->eod_ns) / 1000);
        if (relay_data_queued_hook != NULL)
            relay_data_queued_hook(tx->id);
    } else {
        log_msg(LOG_ERROR, "smtpd", s->sid, "commit failed id=%s error=%s", tx->id,
                uv_strerror(status));
        if (status == -ENOSPC || status == -EDQUOT)
            relay__reply(s, "452 4.3.1 Insufficient system storage");
        else
            relay__reply(s, "451 4.3.0 Error writing message to the queue");
    }
    relay__tx_free(s);
    if (s->state == RELAY_S_CLOSING) {
        relay__close(s, RELAY_CLOSE_LOCAL);     /* lets the session be freed */
        return;
    }
    relay__enter_state(s, RELAY_S_CMD);
    relay__process(s);
}

/* relay_data_finish - end of data seen: reject or commit */

static void relay_data_finish(struct relay_session *s)
{
    struct relay_tx *tx = s->tx;
    const char *reject = NULL;

    if (tx->bare_eol)
        reject = "550 5.6.11 Bare line feed or carriage return is not allowed";
    else if (tx->too_big)
        reject = "552 5.3.4 Message size exceeds fixed maximum message size";
    else if (tx->spool_err == -ENOSPC || tx->spool_err == -EDQUOT)
        reject = "452 4.3.1 Insufficient system storage";
    else if (tx->spool_err != 0)
        reject = "451 4.3.0 Error writing message to the queue";
    if (reject != NULL) {
        log_info("smtpd", s->sid, "rejected id=%s reason=\"%s\"", tx->id, reject);
        if (tx->spool == NULL) {
            relay__reply(s, "%s", reject);
            relay__tx_free(s);
            relay__enter_state(s, RELAY_S_CMD);
            return;
        }
        /* Reply once the partial file is gone, so a client that retries at
         * once (a smaller message after 452) finds the space free again. */
        tx->reject = reject;
        relay__enter_state(s, RELAY_S_SPOOL_WAIT);
        s->pending++;
        relay_spool_abort(tx->spool, relay_data_discarded, s);
        return;
    }
    relay_data_tlsreq_end(&tx->tlsreq);       /* a header-only message's last field */
    if (tx->tlsreq.no && !tx->requiretls) {
        relay_spool_set_record(tx->spool, "tls-required no\n");
        log_proto_infof(&s->plog.pl, NULL, "Message %s has the header field TLS-Required: No "
                        "(RFC 8689): MTA-STS policies will not apply to it", tx->id);
    }
    relay__enter_state(s, RELAY_S_SPOOL_WAIT);
    s->pending++;
    relay_spool_commit(tx->spool, relay_data_committed, s);
}

/* relay__data_feed - consume message text */

size_t relay__data_feed(struct relay_session *s, const char *p, size_t len)
{
    struct relay_tx *tx = s->tx;
    char out[16384];
    size_t used = 0;

    while (used < len) {
        size_t outlen = sizeof(out), n;
        bool done;

        if (tx->spool != NULL && relay_spool_buffered(tx->spool) >= RELAY_SPOOL_CHUNK) {
            int r;

            if (relay_spool_busy(tx->spool)) {
                relay__enter_state(s, RELAY_S_SPOOL_WAIT);  /* relay_data_flushed resumes */
                return used;
            }
            if (tx->spool_err == 0
                && (r = relay_spool_flush(tx->spool, relay_data_flushed, s)) < 0)
                relay_data_spool_error(s, r);
        }
        n = relay_data_filter(&tx->dot, &tx->bare_eol, p + used, len - used, out, &outlen,
                              &done);
        used += n;
        if (!tx->too_big && tx->bytes + outlen > s->rc->max_message_size)
            tx->too_big = true;
        if (!tx->in_body && relay_plog_track() != NULL)
            relay_plog_scan_msgid(&s->plog, out, outlen);
        relay_data_tlsreq_scan(&tx->tlsreq, out, outlen);
        if (!tx->too_big && !tx->bare_eol && tx->spool_err == 0 && tx->spool != NULL)
            relay_data_headers(tx, out, outlen);
        tx->bytes += outlen;
        if (done) {
            tx->eod_ns = uv_hrtime();
            if (tx->spool != NULL && relay_spool_busy(tx->spool)) {
                tx->eod = true;         /* relay_data_flushed finishes */
                relay__enter_state(s, RELAY_S_SPOOL_WAIT);
                return used;
            }
            relay_data_finish(s);
            return used;
        }
    }
    return used;
}

/* relay__data_abort - the client went away during DATA */

void relay__data_abort(struct relay_session *s)
{
    if (s->tx != NULL && s->tx->spool != NULL) {
        relay_spool_abort(s->tx->spool, NULL, NULL);
        s->tx->spool = NULL;
    }
}
