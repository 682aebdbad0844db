/*
 * relay_qsched.c - the queue manager's scheduler: what is due, the rounds
 * it starts, and the results that come back.
 *
 * An idle message (no jobs, no I/O) waits in one place (relay_qmgr_int.h):
 * the due FIFO when it should be looked at now, the heap (relay_qheap.c)
 * keyed by when it should be looked at next - its next attempt, or its
 * expiry if earlier - or the blocked FIFO when it is due but every
 * connection slot is taken, or the rounds in flight are at their bound
 * (QMGR_ROUNDS_MAX messages, QMGR_ROUND_BYTES_MAX of their bytes read
 * into memory: a recovered queue of 50,000 is not read at once).
 * The blocked FIFO is strict: while it holds anything, a newly due message
 * waits behind it, even one that would fit.  Before that, a due message
 * whose destination already counts dest_rounds_max rounds (struct
 * qmgr_dwait) is parked on that destination instead, holding no place: a
 * slow destination cannot take every place from the others.  A round's end
 * wakes its destinations' parked messages, first parked first (the shares
 * and their parked messages: relay_qpark.c).
 * qmgr_sched_run takes only what is due: O(1) per due message from a FIFO,
 * O(log n) from the heap, never a scan of every message; from the blocked
 * FIFO only as many as can start (a round's end arms the timer for one
 * run at once); the libuv timer is armed for the heap's earliest key (or
 * a second, while messages wait for a slot, to notice their expiry - a
 * pass over the blocked ones only when the oldest of them may have
 * expired).
 *
 * A round of a message: route its pending recipients, read its bytes once
 * (m->data, which the round's jobs borrow, not copy), give each
 * destination a job; the results come back through the destinations'
 * relay_dest_ops (job_done, dest_failed) and are recorded per recipient;
 * relay_qround.c ends the round.  What an outcome means - a result, every
 * host failing, an unreadable message, no route, expiry - is relay_decide()'s
 * (relay_trouble.c); this file only records the decision.
 *
 * CONTRACT
 *  Runs on the queue manager's loop.  qmgr_sched_ready is called when a
 *  message's work ends (it must then be idle and in no place); the end of
 *  a round and the start of one are asynchronous (thread pool), so nothing
 *  here frees a message under its caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_plog.h"
#include "relay_qmgr_int.h"
#include "relay_stats.h"

#define QSCHED_BLOCKED_MS 1000          /* look again at messages waiting for a slot */
#define QSCHED_OLDEST_PASS 10000        /* a queue this big looks for its oldest once a second */

/* ---- results -------------------------------------------------------- */

/* qsched_set - record what relay_decide said about one recipient */

static void qsched_set(struct qmgr *q, struct relay_qmsg *m, size_t i,
                       const struct relay_decision *dec, const char *remote, uint64_t sid)
{
    struct relay_qrcpt *r = &m->rcpts[i];
    char *last = log_oneline(dec->text), *rem = remote ? xstrdup(remote) : NULL;

    /* Copy first: text or remote may be r's own strings (expiry passes them). */
    r->busy = false;
    r->dirty = true;
    r->attempts++;
    r->last_ms = qmgr_now(q);
    free(r->last);
    r->last = last;
    free(r->remote);
    r->remote = rem;
    r->note = true;                     /* logged once the record is durable */
    r->note_sid = sid;
    switch (dec->rcpt) {
    case RELAY_O_DELIVERED:
        r->state = RELAY_R_DELIVERED;
        break;
    case RELAY_O_FAIL:
        r->state = RELAY_R_FAILED;
        r->dsn_due = true;
        break;
    case RELAY_O_DEFER:
        break;
    }
}

/* qsched_job_back - d's job's results are in the message: d's share no
 * longer counts the round (a slow destination of the message's does not
 * hold the others' places until the round ends); maybe end the round */

static void qsched_job_back(struct qmgr *q, struct relay_dest *d, struct relay_job *j)
{
    struct relay_qmsg *m = j->msg;

    qmgr_park_give(q, m, d->key);
    relay_job_free(j);
    if (--m->jobs == 0)
        qmgr_round_check(q, m);
    else
        qmgr_round_flush(q, m);
}

/* qmgr_sched_job_done - a connection finished a job */

void qmgr_sched_job_done(struct relay_dest *d, struct relay_job *j)
{
    struct qmgr *q = d->owner;
    const char *colon = strrchr(j->endpoint, ':');
    char remote[300], ip[64];
    size_t iplen = colon ? (size_t)(colon - j->endpoint) : strlen(j->endpoint);

    /* HOST[IP]:PORT, as Postfix writes relay= ("[v6]:port" loses its brackets). */
    if (iplen >= 2 && j->endpoint[0] == '[')
        snprintf(ip, sizeof(ip), "%.*s", (int)iplen - 2, j->endpoint + 1);
    else
        snprintf(ip, sizeof(ip), "%.*s", (int)iplen, j->endpoint);
    snprintf(remote, sizeof(remote), "%s[%s]:%s", j->remote ? j->remote : "?", ip,
             colon ? colon + 1 : "");
    for (size_t i = 0; i < j->nridx; i++) {
        struct relay_event ev = {       /* code 0: never got an answer for it */
            .stage = RELAY_S_RESULT, .code = j->codes[i],
            .text = j->codes[i] != 0 ? j->replies[i] : j->last,
        };
        struct relay_decision dec = relay_decide(&ev);

        qsched_set(q, j->msg, j->ridx[i], &dec, remote, j->sid);
        relay_decision_free(&dec);
    }
    qsched_job_back(q, d, j);
}

/* qsched_job_all - every recipient of j gets the same decision */

static void qsched_job_all(struct qmgr *q, struct relay_dest *d, struct relay_job *j,
                           const struct relay_decision *dec)
{
    j->msg->conn_failure = dec->conn_failure;
    for (size_t i = 0; i < j->nridx; i++)
        qsched_set(q, j->msg, j->ridx[i], dec, j->remote, j->sid);
    qsched_job_back(q, d, j);
}

/* qmgr_sched_dest_flush - every waiting job of d gets the same decision
 * (one whose host action is RELAY_H_FAIL_ALL) */

void qmgr_sched_dest_flush(struct qmgr *q, struct relay_dest *d, const struct relay_decision *dec)
{
    struct relay_job *j;

    while ((j = relay_dest_take_job(d)) != NULL)
        qsched_job_all(q, d, j, dec);
}

/* qmgr_sched_dest_failed - every address of d failed for `current` */

void qmgr_sched_dest_failed(struct relay_dest *d, struct relay_job *current)
{
    struct qmgr *q = d->owner;
    struct relay_event ev = {           /* nothing tried counts as a connection failure */
        .stage = RELAY_S_ALL_HOSTS,
        .error = current == NULL || current->last_conn ? RELAY_E_CONN : RELAY_E_NONE,
        .text = current ? current->last : NULL,
        .endpoint = current ? current->endpoint : NULL,
    };
    struct relay_decision dec = relay_decide(&ev);

    if (current != NULL)
        qsched_job_all(q, d, current, &dec);
    qmgr_sched_dest_flush(q, d, &dec);
    relay_decision_free(&dec);
}

/* ---- rounds: dispatch ------------------------------------------------- */

/* qsched_decide - recipient i of m met a queue event without details (read, route) */

static void qsched_decide(struct qmgr *q, struct relay_qmsg *m, size_t i, enum relay_stage st)
{
    struct relay_event ev = { .stage = st };
    struct relay_decision dec = relay_decide(&ev);

    qsched_set(q, m, i, &dec, NULL, 0);
    relay_decision_free(&dec);
}

/* qsched_dispatch_go - the bytes are read: make one job per destination
 * (none once the stop has begun: the round's recipients wait for the
 * restart, as relay_decide says of RELAY_S_SHUTDOWN) */

static void qsched_dispatch_go(struct qmgr_work *w)
{
    struct qmgr *q = w->q;
    struct relay_qmsg *m = w->m;
    struct config *cfg = policy_config_current();
    struct relay_job **jobs = xcalloc(m->nrcpts, sizeof(*jobs));
    struct relay_dest **dests = xcalloc(m->nrcpts, sizeof(*dests));
    size_t njobs = 0;

    m->io = false;
    if (w->err == -ENOENT || w->err == -EBADMSG) {     /* removed or corrupted by hand */
        policy_config_unref(cfg);
        free(jobs);
        free(dests);
        qmgr_admin_gone(q, m, w->err, w->why);
        return;
    }
    if (w->err < 0)                     /* EMFILE, EIO...: kept, deferred (RELAY_S_READ) */
        log_warnx("queue", 0, "cannot read id=%s: %s", m->id, strerror(-w->err));
    m->release_grace = false;           /* a round after the release: expiry applies again */
    m->jobs = 1;                        /* held while we hand out jobs */
    m->conn_failure = false;
    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];
        const struct cfg_send *sc;
        struct relay_dest *d;
        char domain[256];
        size_t k;

        if (r->state != RELAY_R_PENDING)
            continue;
        if (q->stopping) {              /* no new lookup or connection */
            qsched_decide(q, m, i, RELAY_S_SHUTDOWN);
            continue;
        }
        if (w->err < 0) {
            qsched_decide(q, m, i, RELAY_S_READ);
            continue;
        }
        log_mail_domain(domain, sizeof(domain), r->addr);
        if ((sc = policy_route_select(cfg, domain)) == NULL) {
            /* Exchange's "Unreachable" queue: wait for a connector (a reload
             * may add one) or for expiry; never bounce on configuration. */
            qsched_decide(q, m, i, RELAY_S_ROUTE);
            continue;
        }
        d = qmgr_dest_get(q, cfg, sc, domain, m->tls_required_no);
        for (k = 0; k < njobs && dests[k] != d; k++)
            ;
        if (k == njobs) {
            jobs[k] = xcalloc(1, sizeof(*jobs[k]));
            jobs[k]->msg = m;
            jobs[k]->ridx = xcalloc(m->nrcpts, sizeof(size_t));
            jobs[k]->codes = xcalloc(m->nrcpts, sizeof(int));
            jobs[k]->replies = xcalloc(m->nrcpts, sizeof(char *));
            jobs[k]->data = m->data;    /* borrowed: freed at the round's end */
            jobs[k]->len = m->data_len;
            dests[k] = d;
            njobs++;
        }
        jobs[k]->ridx[jobs[k]->nridx++] = i;
        r->busy = true;
    }
    m->jobs += (int)njobs;
    for (size_t k = 0; k < njobs; k++)
        qmgr_dest_enqueue(q, dests[k], jobs[k]);
    free(jobs);
    free(dests);
    policy_config_unref(cfg);
    if (--m->jobs == 0)                 /* nothing out (or all back already) */
        qmgr_round_check(q, m);
}

static void qsched_timer_fired(uv_timer_t *t);

/* qsched_room - may a round of m start now (QMGR_ROUNDS_MAX, and the bytes
 * of the rounds in flight; one round always may) */

static bool qsched_room(const struct qmgr *q, const struct relay_qmsg *m)
{
    return q->rounds == 0 || (q->rounds < q->rounds_max
                              && q->round_bytes + m->data_len <= q->round_bytes_max);
}

/* qmgr_sched_room_freed - a round (or a destination's share of one) was given
 * back: a run soon, not inside, when messages wait for room */

void qmgr_sched_room_freed(struct qmgr *q)
{
    q->room_freed = true;               /* qsched_arm: a run at once, also after one now */
    if ((q->blocked != NULL || q->dready != NULL) && !q->stopping) {
        q->wake_ms = qmgr_now(q);
        q->timer.data = q;
        uv_timer_start(&q->timer, qsched_timer_fired, 0, 0);
    }
}

/* qmgr_sched_round_end - m's round is over: free its bytes, give back its
 * room and the shares of its destinations whose jobs did not give them
 * back (qmgr_park_give) */

void qmgr_sched_round_end(struct qmgr *q, struct relay_qmsg *m)
{
    relay_qmsg_drop_data(m);
    m->data_tried = false;
    if (!m->in_round)
        return;
    m->in_round = false;
    q->rounds--;
    q->round_bytes -= m->data_len;
    for (size_t i = 0; i < m->ndwaits; i++)
        if (m->dwaits[i] != NULL)
            qmgr_park_put_back(q, m, i);
    free(m->dwaits);
    m->dwaits = NULL;
    m->ndwaits = 0;
    qmgr_sched_room_freed(q);
}

/* qsched_dispatch - start a round of m: read its bytes once; it counts
 * against the shares v[n] of its destinations (the array is m's now) */

static void qsched_dispatch(struct qmgr *q, struct relay_qmsg *m, struct qmgr_dwait **v, size_t n)
{
    if (m->in_round)                    /* counted twice, given back once: a leak */
        log_panic("qmgr", "round of id=%s started while in a round", m->id);
    m->in_round = true;
    q->rounds++;
    q->round_bytes += m->data_len;
    for (size_t i = 0; i < n; i++)
        v[i]->rounds++;
    m->dwaits = v;
    m->ndwaits = n;
    m->io = true;
    qmgr_submit(q, m, m->id, qmgr_round_read_work, qsched_dispatch_go, NULL, 0);
}

/* qsched_expiry - relay_decide on m's age: FAIL (expired, with the text) or not */

static struct relay_decision qsched_expiry(const struct relay_qmsg *m,
                                           const struct config *cfg, uint64_t now)
{
    struct relay_event ev = {
        .stage = RELAY_S_EXPIRY, .transport = &cfg->transport,
        .age_ms = now > m->arrival_ms ? now - m->arrival_ms : 0,
    };

    return relay_decide(&ev);
}

/* qsched_expire - m is too old (dec: its expiry decision): fail what is left */

static void qsched_expire(struct qmgr *q, struct relay_qmsg *m, const struct relay_decision *dec)
{
    const char **to = xcalloc(m->nrcpts + 1, sizeof(*to));
    struct relay_plog_out o = {
        .event = LOG_TRACK_EXPIRE, .source = LOG_TRACK_SRC_QUEUE, .internal_id = m->id,
        .data = m->data, .data_len = m->data ? m->data_len : 0, .recipients = to,
        .total_bytes = m->data_len, .sender = m->sender,
    };

    log_info("queue", 0, "expired id=%s", m->id);
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING)
            to[o.nrecipients++] = m->rcpts[i].addr;
    relay_plog_track_out(&o);
    free(to);
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING)
            qsched_set(q, m, i, dec, m->rcpts[i].remote, 0);
    qmgr_round_finish(q, m);
}

/* ---- where idle messages wait ----------------------------------------- */

/* qsched_due - when the scheduler should look at idle m next (unix ms) */

static uint64_t qsched_due(const struct qmgr *q, const struct relay_qmsg *m)
{
    uint64_t expires = qmgr_sat_add(m->arrival_ms, q->expiration);

    if (m->delete_pending)              /* finish the administrator's delete now, or */
        return m->io_retry_ms;          /* after the wait of a failed read or DSN */
    if (qmgr_round_all_final(m))        /* records or a DSN owed: at next_ms; else remove */
        return qmgr_round_owes(m) ? m->next_ms : 0;
    return m->next_ms < expires ? m->next_ms : expires;
}

/* qmgr_sched_fifo_put - append m to a FIFO */

void qmgr_sched_fifo_put(struct qmgr *q, struct relay_qmsg **head, struct relay_qmsg **tail,
                         struct relay_qmsg *m)
{
    q->nqueued++;
    m->qnext = NULL;
    m->queued = true;
    if (*tail)
        (*tail)->qnext = m;
    else
        *head = m;
    *tail = m;
}

/* qmgr_sched_fifo_take - the first message of a FIFO, unlinked, or NULL */

struct relay_qmsg *qmgr_sched_fifo_take(struct qmgr *q, struct relay_qmsg **head,
                                        struct relay_qmsg **tail)
{
    struct relay_qmsg *m = *head;

    if (m == NULL)
        return NULL;
    q->nqueued--;
    *head = m->qnext;
    if (*head == NULL)
        *tail = NULL;
    m->qnext = NULL;
    m->queued = false;
    return m;
}

/* qsched_block - due m waits for a connection slot or room for its round */

static void qsched_block(struct qmgr *q, struct relay_qmsg *m)
{
    if ((q->blocked == NULL && q->nparked == 0) || m->arrival_ms < q->blocked_oldest)
        q->blocked_oldest = m->arrival_ms;
    qmgr_sched_fifo_put(q, &q->blocked, &q->blocked_tail, m);
}

/* qsched_wait - idle m waits: due now, or in the heap until its key */

static void qsched_wait(struct qmgr *q, struct relay_qmsg *m, uint64_t now)
{
    m->due_ms = qsched_due(q, m);
    if (m->due_ms <= now)
        qmgr_sched_fifo_put(q, &q->due, &q->due_tail, m);
    else
        qmgr_heap_push(&q->heap, m);
}

/* qmgr_sched_ready - m is idle again: examine it when due, then schedule */

void qmgr_sched_ready(struct qmgr *q, struct relay_qmsg *m)
{
    if (m->heap_i == 0 && !m->queued && m->jobs == 0 && !m->io) {
        if (m->held_ms != 0 && !m->delete_pending) {
            qmgr_sched_fifo_put(q, &q->held, &q->held_tail, m);     /* never examined */
            q->nheld++;
        } else {
            qsched_wait(q, m, qmgr_now(q));
        }
    }
    qmgr_sched_run(q);
}

/* qsched_fifo_drop_marked - unlink the marked messages of a FIFO; how many */

static size_t qsched_fifo_drop_marked(struct qmgr *q, struct relay_qmsg **head,
                                      struct relay_qmsg **tail)
{
    struct relay_qmsg *keep = NULL, *keep_tail = NULL, *m;
    size_t n = 0;

    while ((m = qmgr_sched_fifo_take(q, head, tail)) != NULL) {
        if (m->admin_mark)
            n++;
        else
            qmgr_sched_fifo_put(q, &keep, &keep_tail, m);
    }
    *head = keep;
    *tail = keep_tail;
    return n;
}

/* qmgr_sched_take_marked - the marked idle messages leave every place
 * (one pass over the FIFOs only when a marked one is in one) */

void qmgr_sched_take_marked(struct qmgr *q)
{
    bool fifo = false;

    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next) {
        if (!m->admin_mark)
            continue;
        if (m->heap_i != 0)
            qmgr_heap_remove(&q->heap, m);
        fifo |= m->queued;
    }
    if (!fifo)
        return;
    (void)qsched_fifo_drop_marked(q, &q->due, &q->due_tail);
    (void)qsched_fifo_drop_marked(q, &q->blocked, &q->blocked_tail);
    q->nheld -= qsched_fifo_drop_marked(q, &q->held, &q->held_tail);
    for (struct qmgr_dwait *w = q->dwaits, *next; w != NULL; w = next) {
        next = w->next;                 /* w may go */
        q->nparked -= qsched_fifo_drop_marked(q, &w->head, &w->tail);
        qmgr_dest_wait_drop(q, w);
    }
}

/* qmgr_sched_gauges - publish the queue's depth by state: idle ones are
 * counted where they wait, the rest are active, and those notified but not
 * loaded yet (relay_qmgr.c) count as deferred; the oldest arrival is
 * found again (a pass) after the oldest left - at most once a second in a
 * queue of QSCHED_OLDEST_PASS messages or more */

void qmgr_sched_gauges(struct qmgr *q)
{
    size_t deferred = q->heap.n + q->nqueued - q->nheld;
    size_t loading = qmgr_loading_count(q);
    uint64_t now = qmgr_now(q);

    if (q->oldest_stale && (q->nmsgs < QSCHED_OLDEST_PASS || now - q->oldest_at >= 1000)) {
        q->oldest_ms = 0;
        for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next)
            if (q->oldest_ms == 0 || m->arrival_ms < q->oldest_ms)
                q->oldest_ms = m->arrival_ms;
        q->oldest_stale = false;
        q->oldest_at = now;
    }
    relay_stats_gauge_set(RELAY_GAUGE_QUEUE_HELD, (long long)q->nheld);
    relay_stats_gauge_set(RELAY_GAUGE_QUEUE_DEFERRED, (long long)(deferred + loading));
    relay_stats_gauge_set(RELAY_GAUGE_QUEUE_ACTIVE, (long long)(q->nmsgs - deferred - q->nheld));
    relay_stats_gauge_set(RELAY_GAUGE_QUEUE_OLDEST_MS, (long long)q->oldest_ms);
}

/* qsched_rekey - message_expiration_timeout changed (reload): new heap keys */

static void qsched_rekey(struct qmgr *q, uint64_t expiration)
{
    q->expiration = expiration;
    for (size_t i = 0; i < q->heap.n; i++)
        q->heap.v[i]->due_ms = qsched_due(q, q->heap.v[i]);
    qmgr_heap_build(&q->heap);
}

/* qsched_slots_full - no connection slot and no idle connection */

static bool qsched_slots_full(const struct qmgr *q, const struct config *cfg)
{
    return q->conns >= cfg->transport.max_outbound_connections && q->smtp->idle_count(q->client) == 0;
}

/* qmgr_sched_examine - idle, due m: finish, remove, expire, wait or start a
 * round.  first: m was the head of the blocked FIFO or of a share's parked
 * ones (from: that share, which has room); any other due message waits
 * behind a blocked one (strict FIFO: one that fits must not overtake a
 * large head, or under steady load the head never starts). */

void qmgr_sched_examine(struct qmgr *q, struct relay_qmsg *m, const struct config *cfg,
                        uint64_t now, bool first, const struct qmgr_dwait *from)
{
    struct relay_decision dec;
    struct qmgr_dwait **dv;
    size_t ndv;

    q->examined++;
    if (m->jobs > 0 || m->io)
        return;                         /* busy: its work ends in qmgr_sched_ready */
    if (m->delete_pending) {
        qmgr_round_finish(q, m);        /* the administrator's delete (qmgr_admin_round_end) */
        return;
    }
    if (m->held_ms != 0) {              /* cannot be here (held ones are not), but never go */
        qmgr_sched_fifo_put(q, &q->held, &q->held_tail, m);
        q->nheld++;
        return;
    }
    if (qmgr_round_all_final(m)) {
        if (!qmgr_round_owes(m))
            qmgr_round_remove(q, m);    /* e.g. a crash before removal */
        else if (m->next_ms <= now)
            qmgr_round_finish(q, m);    /* a DSN or records still to write */
        else
            qsched_wait(q, m, now);
        return;
    }
    dec = qsched_expiry(m, cfg, now);
    if (dec.rcpt == RELAY_O_FAIL && !m->release_grace)  /* released late: one attempt */
        qsched_expire(q, m, &dec);
    else if (m->next_ms > now)
        qsched_wait(q, m, now);         /* the key was stale (a reload) */
    else if (!first && q->blocked != NULL)
        qsched_block(q, m);             /* behind the blocked: no shares looked up */
    else if (!qmgr_park_room(q, m, cfg, first, from, &dv, &ndv))
        ;                               /* parked: a round's end for it reschedules */
    else if (qsched_slots_full(q, cfg) || !qsched_room(q, m)) {
        qmgr_park_release(q, dv, ndv);
        qsched_block(q, m);             /* conn_gone or a round's end reschedules */
    } else {
        qsched_dispatch(q, m, dv, ndv);
    }
    relay_decision_free(&dec);
}

/* qsched_sweep_fifo - fail the expired in one FIFO of waiting messages;
 * how many left it (*oldest: lowered to the oldest arrival kept, but for
 * those released in their grace: expired, they are never failed here) */

static size_t qsched_sweep_fifo(struct qmgr *q, struct relay_qmsg **head, struct relay_qmsg **tail,
                                const struct config *cfg, uint64_t now, uint64_t *oldest)
{
    struct relay_qmsg *keep = NULL, *keep_tail = NULL, *m;
    size_t gone = 0;

    while ((m = qmgr_sched_fifo_take(q, head, tail)) != NULL) {
        struct relay_decision dec = qsched_expiry(m, cfg, now);

        if (dec.rcpt == RELAY_O_FAIL && !m->release_grace) {
            qsched_expire(q, m, &dec);
            gone++;
        } else {
            qmgr_sched_fifo_put(q, &keep, &keep_tail, m);
            if (!m->release_grace && m->arrival_ms < *oldest)   /* expired, never failed: */
                *oldest = m->arrival_ms;        /* it must not bring a pass every second */
        }
        relay_decision_free(&dec);
    }
    *head = keep;
    *tail = keep_tail;
    return gone;
}

/* qsched_sweep_blocked - fail the expired among messages waiting for a slot
 * or for their destination (parked) */

static void qsched_sweep_blocked(struct qmgr *q, const struct config *cfg, uint64_t now)
{
    uint64_t oldest = UINT64_MAX;

    (void)qsched_sweep_fifo(q, &q->blocked, &q->blocked_tail, cfg, now, &oldest);
    for (struct qmgr_dwait *w = q->dwaits, *next; w != NULL; w = next) {
        next = w->next;                 /* w may go (expiry starts only I/O) */
        q->nparked -= qsched_sweep_fifo(q, &w->head, &w->tail, cfg, now, &oldest);
        qmgr_dest_wait_drop(q, w);
    }
    q->blocked_oldest = oldest;
}

static void qsched_timer_fired(uv_timer_t *t)
{
    struct qmgr *q = t->data;

    q->wake_ms = 0;
    qmgr_sched_run(q);
}

/* qsched_waiting - messages wait for a slot or for room (blocked, parked) */

static bool qsched_waiting(const struct qmgr *q)
{
    return q->blocked != NULL || q->nparked > 0;
}

/* qsched_arm - sleep until the earliest key (or the blocked messages' look;
 * or at once, when the due FIFO holds what a run put back, or a round
 * ended during the run and messages wait for room) */

static void qsched_arm(struct qmgr *q, uint64_t now)
{
    struct relay_qmsg *top = qmgr_heap_top(&q->heap);
    uint64_t wake = q->due != NULL ? now : top ? top->due_ms : UINT64_MAX;

    if (q->room_freed && (q->blocked != NULL || q->dready != NULL))
        wake = now;
    if (qsched_waiting(q) && q->blocked_sweep_ms < wake)
        wake = q->blocked_sweep_ms;
    if (wake == UINT64_MAX) {
        q->wake_ms = 0;
        uv_timer_stop(&q->timer);
        return;
    }
    q->wake_ms = wake;
    q->timer.data = q;
    uv_timer_start(&q->timer, qsched_timer_fired, wake > now ? wake - now : 1, 0);
}

/*
 * qmgr_sched_run - start what is due; sleep until the next thing is.  A
 * run is bounded: it examines the due FIFO as it was when the run began
 * (and the heap's keys up to now); a message put back on the due FIFO
 * meanwhile waits for the next run, which the timer starts at once.
 */
void qmgr_sched_run(struct qmgr *q)
{
    struct config *cfg;
    struct relay_qmsg *m, *due, *due_tail;
    uint64_t now;

    if (q->stopping)
        return;
    q->room_freed = false;              /* this run uses the room there is */
    cfg = policy_config_current();
    qmgr_dns_reload(q, cfg);
    if (cfg->transport.message_expiration_timeout != q->expiration)
        qsched_rekey(q, cfg->transport.message_expiration_timeout);
    now = qmgr_now(q);
    /* They were due first: as many as there is room for, each examined once
     * (a start takes room; the rest stay where they are, unexamined, and
     * everything due after them waits behind them). */
    while (q->blocked != NULL && !qsched_slots_full(q, cfg) && qsched_room(q, q->blocked))
        qmgr_sched_examine(q, qmgr_sched_fifo_take(q, &q->blocked, &q->blocked_tail), cfg, now,
                           true, NULL);
    /* Then those parked on a destination that has room again, first parked
     * first, while nothing is blocked (they would only be blocked too).  A
     * message taken starts (or is blocked): its other destinations' shares
     * do not park it again (qmgr_park_room). */
    qmgr_park_run(q, cfg, now);
    /* Those still waiting: a pass for the expired once a second, only when
     * the oldest of them may have expired. */
    if (qsched_waiting(q) && now >= q->blocked_sweep_ms
        && now >= qmgr_sat_add(q->blocked_oldest, q->expiration))
        qsched_sweep_blocked(q, cfg, now);
    due = q->due;                       /* this run's; new arrivals wait for the next */
    due_tail = q->due_tail;
    q->due = q->due_tail = NULL;
    while ((m = qmgr_sched_fifo_take(q, &due, &due_tail)) != NULL)
        qmgr_sched_examine(q, m, cfg, now, false, NULL);
    while ((m = qmgr_heap_top(&q->heap)) != NULL && m->due_ms <= now)
        qmgr_sched_examine(q, qmgr_heap_pop(&q->heap), cfg, now, false, NULL);
    if (qsched_waiting(q) && q->blocked_sweep_ms <= now)
        q->blocked_sweep_ms = now + QSCHED_BLOCKED_MS;
    policy_config_unref(cfg);
    qsched_arm(q, now);
    qmgr_sched_gauges(q);
}
