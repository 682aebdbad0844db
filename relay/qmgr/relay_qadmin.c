/*
 * relay_qadmin.c - queue administration: list, summary, show, retry, hold,
 * release and delete, executed by the queue manager on its own loop, so
 * what a command reports and changes is what the queue manager does.
 *
 * The mailbox: relay_qmgr_admin (any thread) appends a request under
 * w.lock and wakes the loop; the wake drains it (qmgr_admin_drain) after
 * the new messages.  Reads (list, summary) come from memory; show reads the
 * file's envelope and bytes on the thread pool.  A change is made durable
 * first - a record appended and fdatasync'd ("hold", "release", "delete",
 * relay_qmsg.c), or the file removed and the directory fsync'd - and only
 * then made in memory and answered (req->done); if the write fails,
 * memory is not changed and the answer is RELAY_ADMIN_IO.
 *
 * The read-only commands (list, summary, show) are in relay_qadmin_view.c.
 *
 * An idle message chosen by a change leaves its place (heap, FIFO) and is
 * marked busy (m->io) while its write runs, so the scheduler cannot start
 * it meanwhile.  A busy one (a round under way) is not interrupted: its
 * record is appended at once (O_APPEND lines from two writers never mix)
 * and the change applies when its round ends - held: filed under held;
 * deleted: removed, with a DSN for the pending recipients if asked
 * (qmgr_admin_round_end).  Held messages are never examined: no attempt,
 * no expiry, no delay DSN; a release makes one examination at once, with
 * one attempt even past the expiry (m->release_grace).
 *
 * A queue file removed or corrupted by hand is noticed when a round reads
 * or appends to it, and by a sweep every QMGR_SWEEP_MS (fstatat of every
 * idle message on the pool): logged, a BADMAIL tracking row, forgotten (a
 * corrupt one is first moved to corrupt/ by relay_queue_quarantine).
 *
 * CONTRACT
 *  qmgr_admin: any thread; 0, or -ESHUTDOWN (stop requested: done never
 *  runs).  req->done runs exactly once, on the queue manager's loop, never
 *  inside qmgr_admin; the request belongs to the caller again then.
 *  Everything else runs on the loop.  A request accepted before the stop
 *  but not yet run is answered RELAY_ADMIN_STOPPING.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "log_util.h"
#include "relay_plog.h"
#include "relay_qmgr_int.h"
#include "relay_tlsrpt.h"

/* ---- answers, tracking, matching ------------------------------------- */

/* qmgr_admin_answer - set the result and hand req back */

void qmgr_admin_answer(struct relay_admin_req *req, enum relay_admin_status st,
                       const char *fmt, ...)
{
    req->status = st;
    if (fmt != NULL) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        free(req->why);
        req->why = xstrdup(buf);
    }
    req->done(req);
}

/* qadmin_track - one tracking row about m's pending recipients */

static void qadmin_track(const struct relay_qmsg *m, enum log_track_event event,
                         enum log_track_source source, const char *ctx, const char *status)
{
    const char **to = xcalloc(m->nrcpts + 1, sizeof(*to)), **st = xcalloc(m->nrcpts + 1, sizeof(*st));
    struct relay_plog_out o = {
        .event = event, .source = source, .internal_id = m->id, .data = m->data,
        .data_len = m->data ? m->data_len : 0, .source_context = ctx, .recipients = to,
        .status = status ? st : NULL, .total_bytes = m->data_len, .sender = m->sender,
    };

    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING) {
            st[o.nrecipients] = status;
            to[o.nrecipients++] = m->rcpts[i].addr;
        }
    relay_plog_track_out(&o);
    free(to);
    free(st);
}

/* qmgr_admin_not_found - no loaded message has req's id: one notified but
 * not loaded yet (a large recovery loads QMGR_LOADS_MAX at a time) is
 * there, so "try again" rather than "no message" */

void qmgr_admin_not_found(const struct qmgr *q, struct relay_admin_req *req)
{
    if (qmgr_loading_has(q, req->sel.id))
        qmgr_admin_answer(req, RELAY_ADMIN_CONFLICT, "message %s is being loaded; try again",
                          req->sel.id);
    else
        qmgr_admin_answer(req, RELAY_ADMIN_NOT_FOUND, "no message %s in the queue", req->sel.id);
}

/* qmgr_admin_state - m's state as shown */

enum relay_admin_qstate qmgr_admin_state(const struct relay_qmsg *m)
{
    if (m->held_ms != 0)
        return RELAY_AQ_HELD;
    return m->jobs > 0 || m->io ? RELAY_AQ_ACTIVE : RELAY_AQ_DEFERRED;
}

/* qadmin_idle - no jobs and no I/O: a change may take m out of its place */

static bool qadmin_idle(const struct relay_qmsg *m)
{
    return m->jobs == 0 && !m->io;
}

/* qadmin_has_domain - a pending recipient of m is in the domain filter f */

static bool qadmin_has_domain(const struct relay_qmsg *m, const char *f)
{
    char domain[256];

    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING
            && relay_admin_domain_match(f, log_mail_domain(domain, sizeof(domain),
                                                           m->rcpts[i].addr)))
            return true;
    return false;
}

/* qmgr_admin_match - m is selected by sel (id, domain, state, age) */

bool qmgr_admin_match(const struct relay_qmsg *m, const struct relay_admin_sel *sel,
                      uint64_t now)
{
    if (sel->id[0] != '\0' && strcmp(m->id, sel->id) != 0)
        return false;
    if (sel->state != RELAY_AQ_ANY && qmgr_admin_state(m) != sel->state)
        return false;
    if (sel->older_than_ms != 0
        && (now < m->arrival_ms || now - m->arrival_ms < sel->older_than_ms))
        return false;
    return sel->domain == NULL || qadmin_has_domain(m, sel->domain);
}

/* qmgr_admin_find - the message with this id, or NULL */

struct relay_qmsg *qmgr_admin_find(struct qmgr *q, const char *id)
{
    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

/* qmgr_admin_snap - a snapshot of m for a result */

void qmgr_admin_snap(const struct qmgr *q, const struct relay_qmsg *m,
                     struct relay_admin_msg *o)
{
    memcpy(o->id, m->id, sizeof(o->id));
    o->sender = xstrdup(m->sender);
    o->arrival_ms = m->arrival_ms;
    o->next_ms = m->next_ms;
    o->expires_ms = qmgr_sat_add(m->arrival_ms, q->expiration);
    o->size = m->data_len;
    o->held_ms = m->held_ms;
    o->delay_dsn_ms = m->delay_ms;
    o->rounds = m->rounds;
    o->state = qmgr_admin_state(m);
    o->delete_pending = m->delete_pending;
    o->rcpts = xcalloc(m->nrcpts + 1, sizeof(*o->rcpts));
    o->nrcpts = m->nrcpts;
    for (size_t i = 0; i < m->nrcpts; i++) {
        const struct relay_qrcpt *r = &m->rcpts[i];

        o->rcpts[i].addr = xstrdup(r->addr);
        o->rcpts[i].last = r->last && r->last[0] ? xstrdup(r->last) : NULL;
        o->rcpts[i].remote = r->remote ? xstrdup(r->remote) : NULL;
        o->rcpts[i].state = r->state == RELAY_R_DELIVERED ? RELAY_AR_DELIVERED
                          : r->state == RELAY_R_FAILED ? RELAY_AR_FAILED : RELAY_AR_PENDING;
        o->rcpts[i].attempts = r->attempts;
        o->rcpts[i].last_ms = r->last_ms;
    }
}

/* qadmin_put_back - m (taken out of its place, or just idle) waits again */

static void qadmin_put_back(struct qmgr *q, struct relay_qmsg **v, size_t n)
{
    bool any = false;

    for (size_t i = 0; i < n; i++)
        if (v[i] != NULL && qadmin_idle(v[i]) && (v[i]->heap_i != 0 || v[i]->queued)) {
            v[i]->admin_mark = true;
            any = true;
        }
    if (any)
        qmgr_sched_take_marked(q);      /* out of the old place first */
    for (size_t i = 0; i < n; i++)
        if (v[i] != NULL) {
            v[i]->admin_mark = false;
            qmgr_sched_ready(q, v[i]);
        }
}

/* ---- retry ------------------------------------------------------------ */

/* qadmin_retry - idle, not held: next attempt now; domain/all: look up the
 * destinations again.  Nothing is written (a crash restores the schedule). */

static void qadmin_retry(struct qmgr *q, struct relay_admin_req *req)
{
    struct relay_qmsg **v = xcalloc(q->nmsgs + 1, sizeof(*v));
    uint64_t now = qmgr_now(q);
    size_t n = 0;

    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next) {
        if (!qmgr_admin_match(m, &req->sel, now))
            continue;
        req->matched++;
        if (m->held_ms != 0)
            req->skipped++;             /* release it first */
        else if (!qadmin_idle(m) || m->delete_pending)
            req->in_flight++;
        else {
            m->next_ms = 0;
            m->conn_failure = false;
            v[n++] = m;
        }
    }
    req->changed = (unsigned)n;
    if (req->sel.domain != NULL || req->sel.all)
        for (struct relay_dest *d = q->dests; d != NULL; d = d->next)
            if (req->sel.all || relay_admin_domain_match(req->sel.domain, d->domain))
                qmgr_dest_forget_dns(q, d);
    qadmin_put_back(q, v, n);
    free(v);
    log_info("qmgr", 0, "retry by=uid:%u matched=%u retried=%u skipped_held=%u in_flight=%u",
             (unsigned)req->uid, req->matched, req->changed, req->skipped, req->in_flight);
    if (req->sel.id[0] != '\0' && req->matched == 0)
        qmgr_admin_not_found(q, req);
    else
        qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
}

/* ---- hold, release, delete: durable first ----------------------------- */

struct qadmin_item {
    char    id[RELAY_QID_LEN + 1];
    struct relay_qmsg *m;               /* idle when chosen: ours (m->io) till the write ends */
    char   *rec;                        /* record to append (owned), or NULL: remove */
    size_t  len;
    int     err;
};

struct qadmin_change {
    struct relay_admin_req *req;
    uint64_t now;
    struct qadmin_item *v;
    size_t  n;
};

/* qadmin_change_work - pool: append each record, or remove each file */

static void qadmin_change_work(uv_work_t *r)
{
    struct qmgr_work *w = r->data;
    struct qadmin_change *c = w->arg;

    for (size_t i = 0; i < c->n; i++)
        c->v[i].err = c->v[i].rec != NULL
            ? relay_qmsg_append(qmgr_dirfd(), c->v[i].id, c->v[i].rec, c->v[i].len)
            : relay_qmsg_remove(qmgr_dirfd(), c->v[i].id);
}

/* qadmin_dsn_coming - deleted with --bounce, m's round end sends a DSN: a
 * recipient still pending (or one whose DSN is owed), and not to <> */

static bool qadmin_dsn_coming(const struct relay_qmsg *m)
{
    if (m->sender[0] == '\0')
        return false;
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING || m->rcpts[i].dsn_due)
            return true;
    return false;
}

/* qadmin_apply - the change to m is durable: make it in memory */

static void qadmin_apply(struct qmgr *q, struct qadmin_change *c, struct relay_qmsg *m,
                         bool removed)
{
    struct relay_admin_req *req = c->req;
    char ctx[32];

    snprintf(ctx, sizeof(ctx), "uid=%u", (unsigned)req->uid);
    req->changed++;
    switch (req->op) {
    case RELAY_ADMIN_HOLD:
        m->held_ms = c->now;
        qadmin_track(m, LOG_TRACK_SUSPEND, LOG_TRACK_SRC_ADMIN, ctx, NULL);
        log_info("qmgr", 0, "held id=%s by=uid:%u%s", m->id, (unsigned)req->uid,
                 qadmin_idle(m) ? "" : " pending=in-flight");
        break;
    case RELAY_ADMIN_RELEASE:
        m->held_ms = 0;
        m->released_ms = c->now;
        m->release_grace = true;        /* one attempt, even past the expiry */
        m->next_ms = c->now;
        qadmin_track(m, LOG_TRACK_RESUME, LOG_TRACK_SRC_ADMIN, ctx, NULL);
        log_info("qmgr", 0, "released id=%s by=uid:%u", m->id, (unsigned)req->uid);
        break;
    case RELAY_ADMIN_DELETE:
        if (req->bounce && qadmin_dsn_coming(m))
            req->dsns++;
        if (removed) {
            qadmin_track(m, LOG_TRACK_DELETE, LOG_TRACK_SRC_ADMIN, ctx, NULL);
            log_info("qmgr", 0, "deleted id=%s by=uid:%u", m->id, (unsigned)req->uid);
            qmgr_round_forget(q, m);
            break;
        }
        m->delete_pending = true;
        m->delete_bounce = req->bounce;
        log_info("qmgr", 0, "deleted id=%s by=uid:%u bounce=%s%s", m->id, (unsigned)req->uid,
                 req->bounce ? "yes" : "no", qadmin_idle(m) ? "" : " pending=in-flight");
        break;
    default:
        log_panic("qmgr", "admin change with op %d", (int)req->op);
    }
}

/*
 * qadmin_changed - the writes are done: apply what is durable, answer.  A
 * file that is gone (removed by hand, or by the round of a busy message)
 * is counted as gone, not as a failure.  Any failed write: answered
 * RELAY_ADMIN_IO, with the counts and a text naming the failed ids, as
 * the others did change.
 */
static void qadmin_changed(struct qmgr_work *w)
{
    struct qmgr *q = w->q;
    struct qadmin_change *c = w->arg;
    struct relay_admin_req *req = c->req;
    struct relay_qmsg **ready = xcalloc(c->n + 1, sizeof(*ready));
    size_t nready = 0;
    char ids[8 * (RELAY_QID_LEN + 1) + 16] = "";
    int err = 0;

    for (size_t i = 0; i < c->n; i++) {
        struct qadmin_item *it = &c->v[i];
        struct relay_qmsg *m = it->m ? it->m : qmgr_admin_find(q, it->id);

        free(it->rec);
        if (it->m != NULL)
            it->m->io = false;
        if (m == NULL)
            continue;                   /* finished meanwhile (its round removed it) */
        if (it->err == -ENOENT) {
            req->gone++;
            if (it->m != NULL)          /* idle; a busy one's round notices it */
                qmgr_admin_gone(q, m, -ENOENT, "file removed");
            continue;
        }
        if (it->err < 0) {
            err = it->err;
            if (req->failed++ < 8)
                snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s",
                         req->failed > 1 ? " " : "", it->id);
            else if (req->failed == 9)
                snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), " ...");
            log_warnx("qmgr", 0, "cannot %s id=%s: %s", relay_admin_op_name(req->op), it->id,
                      strerror(-it->err));
        } else {
            qadmin_apply(q, c, m, it->rec == NULL && it->m != NULL);
            if (it->rec == NULL)
                continue;               /* removed and forgotten */
        }
        ready[nready++] = m;
    }
    qadmin_put_back(q, ready, nready);  /* held: under held; released/deleted: due */
    free(ready);
    free(c->v);
    free(c);
    log_info("qmgr", 0, "%s by=uid:%u matched=%u changed=%u pending=%u failed=%u gone=%u",
             relay_admin_op_name(req->op), (unsigned)req->uid, req->matched, req->changed,
             req->pending, req->failed, req->gone);
    if (err < 0)
        qmgr_admin_answer(req, RELAY_ADMIN_IO, "cannot write the queue file of %u message(s) "
                          "(%s): %s; %u of %u matching changed", req->failed, ids,
                          strerror(-err), req->changed, req->matched);
    else
        qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
}

/* qadmin_choose - does the change apply to m (else counted or refused)? */

static bool qadmin_choose(struct relay_admin_req *req, const struct relay_qmsg *m,
                          const char **conflict)
{
    switch (req->op) {
    case RELAY_ADMIN_HOLD:
        if (m->delete_pending)
            return (*conflict = "is being deleted"), false;
        return m->held_ms == 0 || ((*conflict = "is already held"), false);
    case RELAY_ADMIN_RELEASE:
        return m->held_ms != 0 || ((*conflict = "is not held"), false);
    default:
        if (m->delete_pending) {
            req->pending++;             /* asked before: goes when its round ends */
            return (*conflict = "is already being deleted"), false;
        }
        return true;
    }
}

/* qadmin_change - hold, release or delete the selected messages */

static void qadmin_change(struct qmgr *q, struct relay_admin_req *req)
{
    struct qadmin_change *c = xcalloc(1, sizeof(*c));
    uint64_t now = qmgr_now(q);
    const char *conflict = NULL;
    bool took = false;

    c->req = req;
    c->now = now;
    c->v = xcalloc(q->nmsgs + 1, sizeof(*c->v));
    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next) {
        struct qadmin_item *it;
        const char *what = req->op == RELAY_ADMIN_HOLD ? "hold"
                         : req->op == RELAY_ADMIN_RELEASE ? "release" : "delete";

        if (!qmgr_admin_match(m, &req->sel, now))
            continue;
        req->matched++;
        if (!qadmin_choose(req, m, &conflict))
            continue;
        it = &c->v[c->n++];
        memcpy(it->id, m->id, sizeof(it->id));
        if (qadmin_idle(m)) {
            it->m = m;
            m->io = true;               /* ours until the write ends */
            if (m->heap_i != 0 || m->queued) {
                m->admin_mark = true;
                took = true;
            }
        } else {
            req->pending++;             /* applies when its round ends */
        }
        if (req->op == RELAY_ADMIN_DELETE && !req->bounce && it->m != NULL)
            continue;                   /* idle, no DSN: remove the file at once */
        relay_qmsg_record_admin(what, now, (unsigned)req->uid,
                                req->op != RELAY_ADMIN_DELETE ? NULL
                                : req->bounce ? "bounce" : "plain", &it->rec, &it->len);
    }
    if (took)
        qmgr_sched_take_marked(q);
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].m != NULL)
            c->v[i].m->admin_mark = false;
    if (c->n == 0) {
        free(c->v);
        free(c);
        if (req->sel.id[0] != '\0' && req->matched == 0)
            qmgr_admin_not_found(q, req);
        else if (req->sel.id[0] != '\0' && conflict != NULL && req->pending == 0)
            qmgr_admin_answer(req, RELAY_ADMIN_CONFLICT, "message %s %s", req->sel.id, conflict);
        else
            qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
        return;
    }
    qmgr_submit_arg(q, "", qadmin_change_work, qadmin_changed, c);
}

/* ---- the end of a deleted message's round ----------------------------- */

/*
 * qmgr_admin_round_end - m was deleted (its "delete" record is durable).
 * With a DSN: its pending recipients fail with relay_decide's text and
 * the round's end goes on as for any failure - the DSN committed first,
 * then the records, then the file removed (false).  Without: a DELETE
 * tracking row and the file removed now (true).
 */
bool qmgr_admin_round_end(struct qmgr *q, struct relay_qmsg *m)
{
    if (m->delete_bounce) {
        struct relay_event ev = { .stage = RELAY_S_ADMIN_DELETE };
        struct relay_decision dec = relay_decide(&ev);
        uint64_t now = qmgr_now(q);

        for (size_t i = 0; i < m->nrcpts; i++) {
            struct relay_qrcpt *r = &m->rcpts[i];

            if (r->state != RELAY_R_PENDING)
                continue;
            r->state = RELAY_R_FAILED;
            r->dsn_due = true;          /* not to <>: qmgr_round_finish drops it */
            r->dirty = r->note = true;  /* FAIL row and log once the record is durable */
            r->note_sid = 0;
            r->last_ms = now;
            free(r->last);
            r->last = xstrdup(dec.text);
            free(r->remote);
            r->remote = NULL;
        }
        relay_decision_free(&dec);
        return false;
    }
    qadmin_track(m, LOG_TRACK_DELETE, LOG_TRACK_SRC_ADMIN, "uid=admin", NULL);
    log_info("queue", 0, "deleted id=%s (its round ended)", m->id);
    qmgr_sched_round_end(q, m);
    qmgr_round_remove(q, m);
    return true;
}

/* ---- files removed or corrupted by hand ------------------------------ */

/* qmgr_admin_gone - idle m's file is gone (or quarantined): forget m */

void qmgr_admin_gone(struct qmgr *q, struct relay_qmsg *m, int err, const char *why)
{
    log_warnx("qmgr", 0, "queue file gone id=%s reason=%s%s", m->id, why ? why : "?",
              err == -EBADMSG ? " moved=corrupt/" : "");
    qadmin_track(m, LOG_TRACK_BADMAIL, LOG_TRACK_SRC_QUEUE,
                 err == -EBADMSG ? "quarantined" : "removed", why);
    if (m->heap_i != 0 || m->queued) {
        m->admin_mark = true;
        qmgr_sched_take_marked(q);
        m->admin_mark = false;
    }
    qmgr_round_forget(q, m);
}

struct qadmin_sweep {
    char  (*ids)[RELAY_QID_LEN + 1];    /* sorted */
    bool   *gone;
    size_t  n;
};

static int qadmin_cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* qadmin_sweep_work - pool: which files are no longer there */

static void qadmin_sweep_work(uv_work_t *r)
{
    struct qmgr_work *w = r->data;
    struct qadmin_sweep *sw = w->arg;
    struct stat st;

    for (size_t i = 0; i < sw->n; i++)
        sw->gone[i] = fstatat(qmgr_dirfd(), sw->ids[i], &st, AT_SYMLINK_NOFOLLOW) < 0
                      && errno == ENOENT;
}

static void qadmin_swept(struct qmgr_work *w)
{
    struct qmgr *q = w->q;
    struct qadmin_sweep *sw = w->arg;

    for (struct relay_qmsg *m = q->msgs, *next; m != NULL; m = next) {
        char (*hit)[RELAY_QID_LEN + 1];

        next = m->next;
        hit = bsearch(m->id, sw->ids, sw->n, sizeof(*sw->ids), qadmin_cmp_str);
        if (hit != NULL && sw->gone[hit - sw->ids] && qadmin_idle(m))
            qmgr_admin_gone(q, m, -ENOENT, "file removed");     /* busy: its round notices */
    }
    free(sw->ids);
    free(sw->gone);
    free(sw);
}

/* qmgr_admin_sweep - look for files removed by hand (the idle messages') */

void qmgr_admin_sweep(struct qmgr *q)
{
    struct qadmin_sweep *sw;

    if (q->stopping || q->nmsgs == 0)
        return;
    sw = xcalloc(1, sizeof(*sw));
    sw->ids = xcalloc(q->nmsgs, sizeof(*sw->ids));
    sw->gone = xcalloc(q->nmsgs, sizeof(*sw->gone));
    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next)
        memcpy(sw->ids[sw->n++], m->id, sizeof(*sw->ids));
    qsort(sw->ids, sw->n, sizeof(*sw->ids), qadmin_cmp_str);
    qmgr_submit_arg(q, "", qadmin_sweep_work, qadmin_swept, sw);
}

static void qadmin_sweep_timer(uv_timer_t *t)
{
    qmgr_admin_sweep(t->data);
}

/* qmgr_admin_init - the sweep's timer (unreferenced: it keeps no loop alive) */

void qmgr_admin_init(struct qmgr *q)
{
    uv_timer_init(&q->w.loop, &q->sweep);
    q->sweep.data = q;
    uv_timer_start(&q->sweep, qadmin_sweep_timer, QMGR_SWEEP_MS, QMGR_SWEEP_MS);
    uv_unref((uv_handle_t *)&q->sweep);
}

/* ---- the mailbox ------------------------------------------------------ */

/* qmgr_admin - any thread: queue req for q's loop */

int qmgr_admin(struct qmgr *q, struct relay_admin_req *req)
{
    int r = 0;

    req->next = NULL;
    uv_mutex_lock(&q->w.lock);
    if (q->stop_requested || q->w.wake_closed) {
        r = -ESHUTDOWN;
    } else {
        if (q->admin_tail != NULL)
            q->admin_tail->next = req;
        else
            q->admin_head = req;
        q->admin_tail = req;
        uv_async_send(&q->w.wake);
    }
    uv_mutex_unlock(&q->w.lock);
    return r;
}

/* qadmin_tlsrpt_sent - the reports' outcome: the answer */

static void qadmin_tlsrpt_sent(void *arg, const char *text)
{
    struct relay_admin_req *req = arg;

    req->text = xstrdup(text);
    qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
}

/* qadmin_tlsrpt_send - `domsec tlsrpt send`: the recorder sends, answers later */

static void qadmin_tlsrpt_send(struct qmgr *q, struct relay_admin_req *req)
{
    if (q->tlsrpt == NULL) {
        qmgr_admin_answer(req, RELAY_ADMIN_CONFLICT, "tls_reporting is off");
        return;
    }
    relay_tlsrpt_send(q->tlsrpt, req->tlsrpt_day, req->tlsrpt_domain, req->tlsrpt_again,
                      qadmin_tlsrpt_sent, req);
}

/* qadmin_run - execute one request */

static void qadmin_run(struct qmgr *q, struct relay_admin_req *req)
{
    switch (req->op) {
    case RELAY_ADMIN_LIST:
        qmgr_admin_list(q, req);
        break;
    case RELAY_ADMIN_SUMMARY:
        qmgr_admin_summary(q, req);
        break;
    case RELAY_ADMIN_SHOW:
        qmgr_admin_show(q, req);
        break;
    case RELAY_ADMIN_RETRY:
        qadmin_retry(q, req);
        break;
    case RELAY_ADMIN_HOLD:
    case RELAY_ADMIN_RELEASE:
    case RELAY_ADMIN_DELETE:
        qadmin_change(q, req);
        break;
    case RELAY_ADMIN_TLSRPT_SEND:
        qadmin_tlsrpt_send(q, req);
        break;
    default:
        log_panic("qmgr", "unknown admin op %d", (int)req->op);
    }
}

/* qmgr_admin_drain - run every request of the mailbox (in order) */

void qmgr_admin_drain(struct qmgr *q)
{
    struct relay_admin_req *req, *next;

    uv_mutex_lock(&q->w.lock);
    req = q->admin_head;
    q->admin_head = q->admin_tail = NULL;
    uv_mutex_unlock(&q->w.lock);
    for (; req != NULL; req = next) {
        next = req->next;
        req->next = NULL;
        if (q->stopping)
            qmgr_admin_answer(req, RELAY_ADMIN_STOPPING, "the daemon is stopping");
        else
            qadmin_run(q, req);
    }
    qmgr_sched_gauges(q);
}
