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
 * The message bytes (m->data), read once for the round and borrowed by
 * its jobs, are freed here when the round ends.  A message whose work
 * ends goes back to the scheduler (qmgr_sched_ready) or is removed.
 *
 * CONTRACT
 *  Runs on the queue manager's loop (every function takes the object);
 *  blocking I/O on libuv's thread pool, one operation per message at a
 *  time (m->io).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "relay_dsn.h"
#include "relay_plog.h"
#include "relay_qmgr_int.h"
#include "relay_stats.h"

static void qround_log_notes(struct relay_qmsg *m);
static void qround_redirty(struct relay_qmsg *m);
static void qround_write_records(struct qmgr *q, struct relay_qmsg *m, char *buf, size_t len,
                                 void (*then)(struct qmgr_work *w));

static void qround_append_work(uv_work_t *req)
{
    struct qmgr_work *w = req->data;

    w->err = relay_qmsg_append(qmgr_dirfd(), w->id, w->buf, w->len);
}

static void qround_remove_work(uv_work_t *req)
{
    struct qmgr_work *w = req->data;

    w->err = relay_qmsg_remove(qmgr_dirfd(), w->id);
}

/* qmgr_round_read_work - the message bytes, if the file is still the one
 * loaded: removed by hand -ENOENT, corrupted -EBADMSG (quarantined here);
 * any other error (EMFILE, EIO, ...) says nothing about the file: kept.
 * A message loaded from the stash (relay_qmsg_load) has its bytes already
 * for its first round, taken from the commit's own buffer after the file
 * was made durable: nothing to read or verify then (a file removed by hand
 * in the milliseconds since shows when the round appends its records). */

void qmgr_round_read_work(uv_work_t *req)
{
    struct qmgr_work *w = req->data;

    if (w->m->data != NULL)             /* the first round, loaded from the stash */
        return;
    if ((w->err = relay_qmsg_verify(qmgr_dirfd(), w->m, &w->why)) < 0) {
        if (w->err == -EBADMSG)
            relay_queue_quarantine(w->m->id, w->why);
        return;
    }
    w->m->data = relay_qmsg_read_data(qmgr_dirfd(), w->m, &w->err);
}

/* qmgr_round_forget - unlink a message from q's list (and heap) and free it */

void qmgr_round_forget(struct qmgr *q, struct relay_qmsg *m)
{
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        q->msgs = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    q->nmsgs--;
    if (m->arrival_ms <= q->oldest_ms)
        q->oldest_stale = true;
    if (m->heap_i != 0)
        qmgr_heap_remove(&q->heap, m);
    if (m->queued)
        log_panic("qmgr", "message id=%s freed while in a FIFO", m->id);
    qmgr_sched_round_end(q, m);
    relay_qmsg_free(m);
}

/* qround_removed - a finished message's file is removed (or not): forget it */

static void qround_removed(struct qmgr_work *w)
{
    if (w->err < 0)
        log_warnx("queue", 0, "cannot remove id=%s: %s", w->id, strerror(-w->err));
    else
        log_info("queue", 0, "removed id=%s", w->id);
    qmgr_round_forget(w->q, w->m);
}

/* qmgr_round_remove - every recipient is final and nothing is owed: remove m */

void qmgr_round_remove(struct qmgr *q, struct relay_qmsg *m)
{
    m->io = true;
    qmgr_submit(q, m, m->id, qround_remove_work, qround_removed, NULL, 0);
}

/* qmgr_round_all_final - every recipient delivered or failed */

bool qmgr_round_all_final(const struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING)
            return false;
    return true;
}

/* qmgr_round_owes - a DSN or a record of m is still to be written */

bool qmgr_round_owes(const struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if ((m->rcpts[i].dsn_due && m->sender[0] != '\0') || m->rcpts[i].dirty)
            return true;
    return false;
}

/* qround_recorded - the round's records are durable (or not): next round or removal */

static void qround_recorded(struct qmgr_work *w)
{
    struct qmgr *q = w->q;
    struct relay_qmsg *m = w->m;

    m->io = false;
    if (w->err == -ENOENT || w->err == -ESTALE) {      /* removed by hand */
        qmgr_admin_gone(q, m, -ENOENT, "file removed");
        return;
    }
    if (w->err < 0) {
        /* The state is not durable: keep it in memory, try again later. */
        log_warnx("queue", 0, "cannot write state id=%s: %s", m->id, strerror(-w->err));
        qround_redirty(m);
        m->torn = true;                 /* a part of a line may be there: end it first */
        m->next_ms = qmgr_now(q) + 10000;
        qmgr_sched_ready(q, m);
        return;
    }
    qround_log_notes(m);
    if (qmgr_round_all_final(m) && !qmgr_round_owes(m)) {
        qmgr_round_remove(q, m);
        return;
    }
    qmgr_sched_ready(q, m);
}

/* qround_log_notes - log the outcomes whose records are now durable */

static void qround_log_notes(struct relay_qmsg *m)
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
            relay_stats_add(RELAY_STAT_RCPT_DELIVERED, 1);
            relay_stats_observe(RELAY_HIST_DELIVERY, r->last_ms > m->arrival_ms
                                ? (r->last_ms - m->arrival_ms) * 1000 : 0);
            log_info("smtp", r->note_sid, "delivered id=%s to=<%s> relay=%s reply=\"%s\"", m->id,
                     r->addr, relay, r->last);
            break;
        case RELAY_R_FAILED:
            relay_stats_add(RELAY_STAT_RCPT_BOUNCED, 1);
            if (r->note_sid != 0)       /* the session's event, then the queue's verdict */
                log_info("smtp", r->note_sid, "failed id=%s to=<%s> relay=%s reply=\"%s\"",
                         m->id, r->addr, relay, r->last);
            log_info("queue", 0, "failed id=%s to=<%s> reason=\"%s\"", m->id, r->addr, r->last);
            break;
        case RELAY_R_PENDING:
            relay_stats_add(RELAY_STAT_RCPT_DEFERRED, 1);
            log_info(r->note_sid ? "smtp" : "queue", r->note_sid,
                     "deferred id=%s to=<%s> reason=\"%s\"", m->id, r->addr, r->last);
            break;
        }
    }
}

/* qround_redirty - a record write failed: those outcomes must be written again */

static void qround_redirty(struct relay_qmsg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].note)
            m->rcpts[i].dirty = true;
}

/* qround_flushed - delivered/deferred records are durable (or not) */

static void qround_flushed(struct qmgr_work *w)
{
    struct qmgr *q = w->q;
    struct relay_qmsg *m = w->m;

    m->io = false;
    if (w->err < 0) {
        log_warnx("queue", 0, "cannot write state id=%s: %s", m->id, strerror(-w->err));
        qround_redirty(m);              /* the round end writes them again */
        m->torn = true;                 /* a part of a line may be there: end it first */
        if (m->jobs == 0 && m->round_due) {
            m->round_due = false;
            qmgr_round_finish(q, m);
        }
        return;
    }
    qround_log_notes(m);
    qmgr_round_flush(q, m);
}

/*
 * qmgr_round_flush - write what the peers said as soon as they said it: a
 * delivered recipient is durable before anything else happens (and before
 * it is logged).  Failures wait for the round's end: their DSN must be
 * durable before the record that says they failed.
 */
void qmgr_round_flush(struct qmgr *q, struct relay_qmsg *m)
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
        qround_write_records(q, m, records, len, qround_flushed);
        return;
    }
    if (m->jobs == 0 && m->round_due) {
        m->round_due = false;
        qmgr_round_finish(q, m);
    }
}

/* qmgr_round_check - the last job is back: flush, then end the round */

void qmgr_round_check(struct qmgr *q, struct relay_qmsg *m)
{
    m->round_due = true;
    qmgr_round_flush(q, m);
}

/* qround_write_records - persist the round, then move on */

static void qround_write_records(struct qmgr *q, struct relay_qmsg *m, char *buf, size_t len,
                                 void (*then)(struct qmgr_work *w))
{
    if (m->torn) {                      /* end a torn record left by a crash */
        buf = xrealloc(buf, len + 2);
        memmove(buf + 1, buf, len + 1);
        buf[0] = '\n';
        len++;
        m->torn = false;
    }
    m->io = true;
    qmgr_submit(q, m, m->id, qround_append_work, then, buf, len);
}

/* qround_fqdn - the name we report as (Reporting-MTA) */

static const char *qround_fqdn(const struct config *cfg)
{
    return cfg->nsend > 0 ? cfg->send[0].fqdn : cfg->nreceive > 0 ? cfg->receive[0].fqdn
                                                                  : "localhost";
}

struct qround_dsn {
    struct qmgr *q;
    struct relay_qmsg *m;
    char   *records;                    /* to write after the DSN is durable */
    size_t  len;
    char    newid[RELAY_QID_LEN + 1];
    const char *kind;
};

/* qround_dsn_committed - the DSN is durable: now the records */

static void qround_dsn_committed(struct relay_spool *sp, int status, void *arg)
{
    struct qround_dsn *d = arg;
    struct qmgr *q = d->q;

    q->busy--;
    if (status < 0) {
        log_errx("queue", 0, "cannot queue dsn for=%s: %s", d->m->id, uv_strerror(status));
        qround_redirty(d->m);           /* the records still wait for their DSN */
        d->m->io = false;
        d->m->next_ms = d->m->io_retry_ms = qmgr_now(q) + 10000;  /* the round's end again */
        free(d->records);
        qmgr_sched_ready(q, d->m);
        free(d);
        return;
    }
    qmgr_maybe_exit(q);
    log_info("queue", 0, "dsn id=%s for=%s kind=%s", d->newid, d->m->id, d->kind);
    relay_stats_add(d->kind[0] == 'f' ? RELAY_STAT_DSN_FAILURE : RELAY_STAT_DSN_DELAY, 1);
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
    qmgr_notify(q, d->newid);
    qround_write_records(q, d->m, d->records, d->len, qround_recorded);
    free(d);
}

/* qround_status - the DSN status of r's recorded reply, as relay_decide reads
 * a result (its X.Y.Z, else the class of its code, else the DSN's kind) */

static void qround_status(const struct relay_qrcpt *r, enum relay_dsn_kind kind, char out[16])
{
    const char *t = r->last;
    struct relay_event ev = {
        .stage = RELAY_S_RESULT, .text = t,
        .code = t && t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0'
                && t[2] <= '9' ? atoi(t) : kind == RELAY_DSN_DELAY ? 400 : 500,
    };
    struct relay_decision dec = relay_decide(&ev);

    memcpy(out, dec.status, 16);
    relay_decision_free(&dec);
}

/* qround_queue_dsn - build and commit a DSN about m, then write records */

static void qround_queue_dsn(struct qmgr *q, struct relay_qmsg *m, enum relay_dsn_kind kind,
                             char *records, size_t rlen)
{
    struct config *cfg = policy_config_current();
    struct relay_dsn_rcpt *rr = xcalloc(m->nrcpts, sizeof(*rr));
    struct relay_dsn_input in = { 0 };
    struct qround_dsn *d = xcalloc(1, sizeof(*d));
    char (*status)[16] = xcalloc(m->nrcpts, 16);
    char *postmaster, *env, *dsn, when[32];
    size_t n = 0, len;
    struct relay_spool *sp;
    struct tm tm;
    uint64_t now = qmgr_now(q);
    time_t secs = (time_t)(now / 1000);
    const char *data = m->data;
    size_t dlen = data ? m->data_len : 0;

    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];

        if (kind == RELAY_DSN_FAILURE ? !r->dsn_due : r->state != RELAY_R_PENDING)
            continue;
        qround_status(r, kind, status[n]);
        rr[n].addr = r->addr;
        rr[n].status = status[n];
        rr[n].diagnostic = r->last;
        rr[n].remote_mta = r->remote;
        rr[n].last_attempt_ms = r->last_ms;
        n++;
    }
    postmaster = cfg->transport.accepted_domains.n > 0 && cfg->transport.accepted_domains.v[0][0] != '*'
        ? xasprintf("postmaster@%s", cfg->transport.accepted_domains.v[0])
        : xasprintf("postmaster@%s", qround_fqdn(cfg));
    in.kind = kind;
    in.reporting_mta = qround_fqdn(cfg);
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
    /* RFC 8689 5: the DSN of a REQUIRETLS message is REQUIRETLS too (its
     * content is the header section only, as for every DSN here). */
    env = xasprintf("DSQ1\nid %s\narrival %s.%03dZ\nconnector (dsn)\nclient 127.0.0.1:0\n"
                    "helo %s\nsession 0000000000000000\n%ssender <>\nrcpt <%s>\n",
                    d->newid, when, (int)(now % 1000), in.reporting_mta,
                    m->requiretls ? "requiretls yes\n" : "", m->sender);
    d->q = q;
    d->m = m;
    d->records = records;
    d->len = rlen;
    d->kind = kind == RELAY_DSN_FAILURE ? "failure" : "delay";
    sp = relay_spool_begin(&q->w, d->newid, env, strlen(env));
    relay_spool_append(sp, dsn, len);
    m->io = true;
    q->busy++;
    relay_spool_commit(sp, qround_dsn_committed, d);
    free(env);
    free(dsn);
    free(postmaster);
    free(status);
    free(rr);
    policy_config_unref(cfg);
}

/* qround_data_read - message bytes for the round's DSN are in */

static void qround_data_read(struct qmgr_work *w)
{
    struct qmgr *q = w->q;
    struct relay_qmsg *m = w->m;

    m->io = false;
    if (w->err == -ENOENT || w->err == -EBADMSG) {     /* removed or corrupted by hand */
        qmgr_admin_gone(q, m, w->err, w->why);
        return;
    }
    if (w->err < 0) {
        /* Nothing is known about the file: no DSN now (its records would
         * follow it), the round's end again later, as after a failed write.
         * The round itself is over: its place in the bounds comes back
         * (qmgr_round_finish returned before giving it back). */
        log_warnx("queue", 0, "cannot read id=%s for its DSN: %s", m->id, strerror(-w->err));
        qmgr_sched_round_end(q, m);     /* also data_tried = false: read again then */
        m->next_ms = m->io_retry_ms = qmgr_now(q) + 10000;
        qmgr_sched_ready(q, m);
        return;
    }
    qmgr_round_finish(q, m);            /* data_tried: m->data is in */
}

/* qmgr_round_finish - every job of m is back (or m expired): persist it */

void qmgr_round_finish(struct qmgr *q, struct relay_qmsg *m)
{
    struct config *cfg = policy_config_current();
    const struct cfg_transport *t = &cfg->transport;
    uint64_t now = qmgr_now(q);
    bool pending = false, failure_dsn = false, delay_dsn = false, nullsender = m->sender[0] == '\0';
    char *records = NULL;
    size_t len = 0;

    if (m->delete_pending && qmgr_admin_round_end(q, m)) {
        policy_config_unref(cfg);
        return;
    }
    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];

        pending |= r->state == RELAY_R_PENDING;
        if (r->dsn_due && nullsender)
            r->dsn_due = false;         /* never a DSN about a DSN */
        failure_dsn |= r->dsn_due;
    }
    if (pending && !failure_dsn && !nullsender && m->delay_ms == 0 && m->held_ms == 0
        && now >= qmgr_sat_add(m->arrival_ms, t->delay_notification_timeout))
        delay_dsn = true;
    if ((failure_dsn || delay_dsn) && m->data == NULL && !m->data_tried) {
        m->data_tried = true;           /* once: a failed read waits (qround_data_read) */
        m->io = true;                   /* read the headers for the DSN first */
        qmgr_submit(q, m, m->id, qmgr_round_read_work, qround_data_read, NULL, 0);
        policy_config_unref(cfg);
        return;
    }
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].dirty) {
            relay_qmsg_record_rcpt(m, i, &records, &len);
            m->rcpts[i].dirty = false;
        }
    if (pending) {
        struct relay_event ev = {
            .stage = RELAY_S_RETRY, .transport = t, .rounds = m->rounds,
            .conn_failure = m->conn_failure,
        };
        struct relay_decision dec = relay_decide(&ev);
        char line[64];
        int n;

        m->rounds++;
        m->next_ms = now + dec.retry_ms;
        relay_decision_free(&dec);
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
        qround_queue_dsn(q, m, failure_dsn ? RELAY_DSN_FAILURE : RELAY_DSN_DELAY, records, len);
    } else if (len > 0) {
        qround_write_records(q, m, records, len, qround_recorded);
    } else {
        free(records);
        m->io = false;
        if (qmgr_round_all_final(m))
            qmgr_round_remove(q, m);
    }
    qmgr_sched_round_end(q, m);
}

