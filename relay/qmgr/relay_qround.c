/*
 * relay_qround.c - the end of a delivery round: make it durable, owe
 * nothing, then move on.
 *
 * Outcomes the peers gave (delivered, deferred) are appended to the queue
 * file and fdatasync'd as soon as their job returns, and only then logged.
 * When every job of the round is back: a failure or delay DSN is committed
 * first (spool + commit thread), then the records that say the recipients
 * failed, then the next attempt is scheduled or the finished file removed.
 * A crash anywhere may repeat a delivery or a DSN, never lose one.
 *
 * CONTRACT
 *  Runs on the queue manager's loop; blocking I/O on libuv's thread pool,
 *  one operation per message at a time (m->io).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "relay_dsn.h"
#include "relay_plog.h"
#include "relay_qmgr_int.h"

static void qmgr_log_notes(struct relay_qmsg *m);
static void qmgr_redirty(struct relay_qmsg *m);
static void qmgr_write_records(struct relay_qmsg *m, char *buf, size_t len,
                               void (*then)(struct relay_qmgr_work *w));

static void qmgr_append_work(uv_work_t *req)
{
    struct relay_qmgr_work *w = req->data;

    w->err = relay_qmsg_append(relay__qmgr_dirfd(), w->id, w->buf, w->len);
}

void relay__qround_remove_work(uv_work_t *req)
{
    struct relay_qmgr_work *w = req->data;

    w->err = relay_qmsg_remove(relay__qmgr_dirfd(), w->id);
}

void relay__qround_read_work(uv_work_t *req)
{
    struct relay_qmgr_work *w = req->data;

    w->m->data = relay_qmsg_read_data(relay__qmgr_dirfd(), w->m, &w->err);
}

/* relay__qround_forget - unlink a message from the queue's list and free it */

void relay__qround_forget(struct relay_qmsg *m)
{
    for (struct relay_qmsg **pp = &relay__q.msgs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    relay_qmsg_free(m);
}

/* relay__qround_removed - a finished message's file is removed (or not): forget it */

void relay__qround_removed(struct relay_qmgr_work *w)
{
    if (w->err < 0)
        log_warnx("queue", 0, "cannot remove id=%s: %s", w->id, strerror(-w->err));
    else
        log_info("queue", 0, "removed id=%s", w->id);
    relay__qround_forget(w->m);
}

/* relay__qround_all_final - every recipient delivered or failed */

bool relay__qround_all_final(const struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING)
            return false;
    return true;
}

/* relay__qround_owes - a DSN or a record of m is still to be written */

bool relay__qround_owes(const struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if ((m->rcpts[i].dsn_due && m->sender[0] != '\0') || m->rcpts[i].dirty)
            return true;
    return false;
}

static void qmgr_recorded(struct relay_qmgr_work *w)
{
    struct relay_qmsg *m = w->m;

    m->io = false;
    if (w->err < 0) {
        /* The state is not durable: keep it in memory, try again later. */
        log_warnx("queue", 0, "cannot write state id=%s: %s", m->id, strerror(-w->err));
        qmgr_redirty(m);
        m->next_ms = relay__qmgr_now() + 10000;
        relay__qmgr_schedule();
        return;
    }
    qmgr_log_notes(m);
    if (relay__qround_all_final(m) && !relay__qround_owes(m)) {
        m->io = true;
        relay__qmgr_submit(m, m->id, relay__qround_remove_work, relay__qround_removed, NULL, 0);
        return;
    }
    relay__qmgr_schedule();
}

/* qmgr_log_notes - log the outcomes whose records are now durable */

static void qmgr_log_notes(struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];
        const char *relay = r->remote ? r->remote : "?";

        if (!r->note || r->dirty)
            continue;
        r->note = false;
        if (r->state != RELAY_R_DELIVERED) {    /* SEND: written by relay_smtpc.c */
            const char *rcpt[1] = { r->addr }, *st[1] = { r->last ? r->last : "" };
            char ctx[24];
            struct relay_plog_out o = {
                .event = r->state == RELAY_R_FAILED ? LOG_TRACK_FAIL : LOG_TRACK_DEFER,
                .source = LOG_TRACK_SRC_QUEUE, .internal_id = m->id, .data = m->data,
                .data_len = m->data ? m->data_len : 0, .server_hostname = r->remote,
                .recipients = rcpt, .status = st, .nrecipients = 1,
                .total_bytes = m->data_len, .sender = m->sender,
            };

            if (r->note_sid != 0) {
                log_session_id_format(r->note_sid, ctx);
                o.source_context = ctx;
            }
            relay_plog_track_out(&o);
        }
        switch (r->state) {
        case RELAY_R_DELIVERED:
            log_info("smtp", r->note_sid, "delivered id=%s to=<%s> relay=%s reply=\"%s\"", m->id,
                     r->addr, relay, r->last);
            break;
        case RELAY_R_FAILED:
            if (r->note_sid != 0)       /* the session's event, then the queue's verdict */
                log_info("smtp", r->note_sid, "failed id=%s to=<%s> relay=%s reply=\"%s\"",
                         m->id, r->addr, relay, r->last);
            log_info("queue", 0, "failed id=%s to=<%s> reason=\"%s\"", m->id, r->addr, r->last);
            break;
        case RELAY_R_PENDING:
            log_info(r->note_sid ? "smtp" : "queue", r->note_sid,
                     "deferred id=%s to=<%s> reason=\"%s\"", m->id, r->addr, r->last);
            break;
        }
    }
}

/* qmgr_redirty - a record write failed: those outcomes must be written again */

static void qmgr_redirty(struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].note)
            m->rcpts[i].dirty = true;
}

/* qmgr_flushed - delivered/deferred records are durable (or not) */

static void qmgr_flushed(struct relay_qmgr_work *w)
{
    struct relay_qmsg *m = w->m;

    m->io = false;
    if (w->err < 0) {
        log_warnx("queue", 0, "cannot write state id=%s: %s", m->id, strerror(-w->err));
        qmgr_redirty(m);                /* the round end writes them again */
        if (m->jobs == 0 && m->round_due) {
            m->round_due = false;
            relay__qround_finish(m);
        }
        return;
    }
    qmgr_log_notes(m);
    relay__qround_flush(m);
}

/*
 * relay__qround_flush - write what the peers said as soon as they said it: a
 * delivered recipient is durable before anything else happens (and before
 * it is logged).  Failures wait for the round's end: their DSN must be
 * durable before the record that says they failed.
 */
void relay__qround_flush(struct relay_qmsg *m)
{
    char *records = NULL;
    size_t len = 0;

    if (m->io)
        return;                         /* called again when that write ends */
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].dirty && m->rcpts[i].state != RELAY_R_FAILED) {
            relay_qmsg_record_rcpt(m, i, &records, &len);
            m->rcpts[i].dirty = false;
        }
    if (len > 0) {
        qmgr_write_records(m, records, len, qmgr_flushed);
        return;
    }
    if (m->jobs == 0 && m->round_due) {
        m->round_due = false;
        relay__qround_finish(m);
    }
}

/* relay__qround_check - the last job is back: flush, then end the round */

void relay__qround_check(struct relay_qmsg *m)
{
    m->round_due = true;
    relay__qround_flush(m);
}

/* qmgr_write_records - persist the round, then move on */

static void qmgr_write_records(struct relay_qmsg *m, char *buf, size_t len,
                               void (*then)(struct relay_qmgr_work *w))
{
    if (m->torn) {                      /* end a torn record left by a crash */
        buf = xrealloc(buf, len + 2);
        memmove(buf + 1, buf, len + 1);
        buf[0] = '\n';
        len++;
        m->torn = false;
    }
    m->io = true;
    relay__qmgr_submit(m, m->id, qmgr_append_work, then, buf, len);
}

/* qmgr_fqdn - the name we report as (Reporting-MTA) */

static const char *qmgr_fqdn(const struct config *cfg)
{
    return cfg->nsend > 0 ? cfg->send[0].fqdn : cfg->nreceive > 0 ? cfg->receive[0].fqdn
                                                                  : "localhost";
}

struct qmgr_dsn {
    struct relay_qmsg *m;
    char   *records;                    /* to write after the DSN is durable */
    size_t  len;
    char    newid[RELAY_QID_LEN + 1];
    const char *kind;
};

/* qmgr_dsn_committed - the DSN is durable: now the records */

static void qmgr_dsn_committed(struct relay_spool *sp, int status, void *arg)
{
    struct qmgr_dsn *d = arg;

    relay__q.busy--;
    if (status < 0) {
        log_errx("queue", 0, "cannot queue dsn for=%s: %s", d->m->id, uv_strerror(status));
        qmgr_redirty(d->m);             /* the records still wait for their DSN */
        d->m->io = false;
        d->m->next_ms = relay__qmgr_now() + 10000;     /* try the round's end again */
        free(d->records);
        free(d);
        relay__qmgr_schedule();
        return;
    }
    relay__qmgr_maybe_exit();
    log_info("queue", 0, "dsn id=%s for=%s kind=%s", d->newid, d->m->id, d->kind);
    {
        const char *to[1] = { d->m->sender };
        struct relay_plog_out o = {
            .event = LOG_TRACK_DSN, .source = LOG_TRACK_SRC_DSN, .internal_id = d->newid,
            .source_context = d->kind, .recipients = to, .nrecipients = 1,
            .reference = d->m->id, .sender = "",
        };

        relay_plog_track_out(&o);
    }
    for (size_t i = 0; i < d->m->nrcpts; i++)
        d->m->rcpts[i].dsn_due = false;
    relay_qmgr_notify(d->newid);
    qmgr_write_records(d->m, d->records, d->len, qmgr_recorded);
    free(d);
}

/* qmgr_queue_dsn - build and commit a DSN about m, then write records */

static void qmgr_queue_dsn(struct relay_qmsg *m, enum relay_dsn_kind kind, char *records,
                           size_t rlen)
{
    struct config *cfg = policy_config_current();
    struct relay_dsn_rcpt *rr = xcalloc(m->nrcpts, sizeof(*rr));
    struct relay_dsn_input in = { 0 };
    struct qmgr_dsn *d = xcalloc(1, sizeof(*d));
    char (*status)[16] = xcalloc(m->nrcpts, 16);
    char *postmaster, *env, *dsn, when[32];
    size_t n = 0, len;
    struct relay_spool *sp;
    struct tm tm;
    uint64_t now = relay__qmgr_now();
    time_t secs = (time_t)(now / 1000);
    const char *data = m->data;
    size_t dlen = data ? m->data_len : 0;

    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];

        if (kind == RELAY_DSN_FAILURE ? !r->dsn_due : r->state != RELAY_R_PENDING)
            continue;
        relay_trouble_status(r->last ? r->last : (kind == RELAY_DSN_DELAY ? "4" : "5"), status[n]);
        rr[n].addr = r->addr;
        rr[n].status = status[n];
        rr[n].diagnostic = r->last;
        rr[n].remote_mta = r->remote;
        rr[n].last_attempt_ms = r->last_ms;
        n++;
    }
    postmaster = cfg->transport.accepted_domains.n > 0 && cfg->transport.accepted_domains.v[0][0] != '*'
        ? xasprintf("postmaster@%s", cfg->transport.accepted_domains.v[0])
        : xasprintf("postmaster@%s", qmgr_fqdn(cfg));
    in.kind = kind;
    in.reporting_mta = qmgr_fqdn(cfg);
    in.queue_id = m->id;
    in.original_sender = m->sender;
    in.postmaster = postmaster;
    in.arrival_ms = m->arrival_ms;
    in.now_ms = now;
    in.message = data;
    in.message_len = dlen;
    in.rcpts = rr;
    in.nrcpts = n;
    dsn = relay_dsn_build(&in, &len);
    relay_queue_new_id(d->newid);
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    env = xasprintf("DSQ1\nid %s\narrival %s.%03dZ\nconnector (dsn)\nclient 127.0.0.1:0\n"
                    "helo %s\nsession 0000000000000000\nsender <>\nrcpt <%s>\n",
                    d->newid, when, (int)(now % 1000), in.reporting_mta, m->sender);
    d->m = m;
    d->records = records;
    d->len = rlen;
    d->kind = kind == RELAY_DSN_FAILURE ? "failure" : "delay";
    sp = relay_spool_begin(&relay__q.w, d->newid, env, strlen(env));
    relay_spool_append(sp, dsn, len);
    m->io = true;
    relay__q.busy++;
    relay_spool_commit(sp, qmgr_dsn_committed, d);
    free(env);
    free(dsn);
    free(postmaster);
    free(status);
    free(rr);
    policy_config_unref(cfg);
}

/* qmgr_round_data_read - message bytes for the round's DSN are in */

static void qmgr_round_data_read(struct relay_qmgr_work *w)
{
    struct relay_qmsg *m = w->m;

    m->io = false;
    if (w->err < 0)
        log_warnx("queue", 0, "cannot read id=%s for its DSN: %s", m->id, strerror(-w->err));
    relay__qround_finish(m);               /* without data the DSN carries no headers */
}

/* relay__qround_finish - every job of m is back (or m expired): persist it */

void relay__qround_finish(struct relay_qmsg *m)
{
    struct config *cfg = policy_config_current();
    const struct cfg_transport *t = &cfg->transport;
    uint64_t now = relay__qmgr_now();
    bool pending = false, failure_dsn = false, delay_dsn = false, nullsender = m->sender[0] == '\0';
    char *records = NULL;
    size_t len = 0;

    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];

        pending |= r->state == RELAY_R_PENDING;
        if (r->dsn_due && nullsender)
            r->dsn_due = false;         /* never a DSN about a DSN */
        failure_dsn |= r->dsn_due;
    }
    if (pending && !failure_dsn && !nullsender && m->delay_ms == 0
        && now >= m->arrival_ms + t->delay_notification_timeout)
        delay_dsn = true;
    if ((failure_dsn || delay_dsn) && m->data == NULL) {
        m->io = true;                   /* read the headers for the DSN first */
        relay__qmgr_submit(m, m->id, relay__qround_read_work, qmgr_round_data_read, NULL, 0);
        policy_config_unref(cfg);
        return;
    }
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].dirty) {
            relay_qmsg_record_rcpt(m, i, &records, &len);
            m->rcpts[i].dirty = false;
        }
    if (pending) {
        uint64_t after = relay_trouble_retry_after(t, m->rounds, m->conn_failure);
        char line[64];
        int n;

        m->rounds++;
        m->next_ms = now + after;
        n = snprintf(line, sizeof(line), "next %llu\n", (unsigned long long)m->next_ms);
        records = xrealloc(records, len + (size_t)n + 1);
        memcpy(records + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    if (delay_dsn) {
        char line[64];
        int n;

        m->delay_ms = now;
        n = snprintf(line, sizeof(line), "delay %llu\n", (unsigned long long)now);
        records = xrealloc(records, len + (size_t)n + 1);
        memcpy(records + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    policy_config_unref(cfg);
    if (failure_dsn || delay_dsn) {
        qmgr_queue_dsn(m, failure_dsn ? RELAY_DSN_FAILURE : RELAY_DSN_DELAY, records, len);
    } else if (len > 0) {
        qmgr_write_records(m, records, len, qmgr_recorded);
    } else {
        free(records);
        m->io = false;
        if (relay__qround_all_final(m)) {
            m->io = true;
            relay__qmgr_submit(m, m->id, relay__qround_remove_work, relay__qround_removed, NULL, 0);
        }
    }
    free(m->data);
    m->data = NULL;
}

