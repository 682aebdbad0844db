/*
 * relay_qpark.c - the per-destination shares of the rounds in flight:
 * parking a due message on a destination that has no room, and waking it
 * when a round of that destination ends.
 *
 * A due message whose destination already counts dest_rounds_max rounds
 * (struct qmgr_dwait, relay_qmgr_int.h; made and freed by relay_qdest.c)
 * is parked on that destination instead of starting, holding no place
 * among QMGR_ROUNDS_MAX: a slow destination cannot take every place from
 * the others.  A round counts against the shares of its destinations from
 * its start (qsched_dispatch) until each job comes back (qmgr_park_give)
 * or the round ends (qmgr_sched_round_end); a share that has room again
 * and parked messages joins the ready FIFO (q->dready), and the next run
 * examines its parked messages, first parked first (qmgr_park_run).
 * What a message does once examined is the scheduler's (relay_qsched.c,
 * qmgr_sched_examine); this file only keeps the shares' counts and queues.
 *
 * CONTRACT
 *  Runs on the queue manager's loop.  qmgr_park_run is a step of
 *  qmgr_sched_run and is called only there; the rest only counts and
 *  queues: a share given back never runs the scheduler inside its caller,
 *  it arms the timer (qmgr_sched_room_freed).  A share is freed only by
 *  qmgr_dest_wait_drop (no round, nothing parked, not ready).
 */
#include <stdlib.h>
#include <string.h>

#include "relay_qmgr_int.h"

/* qpark_ready - w has room again and parked messages: the next run
 * examines them (before anything due after them) */

static void qpark_ready(struct qmgr *q, struct qmgr_dwait *w)
{
    if (w->ready)
        return;
    w->ready = true;                    /* at the tail: first ready, first examined */
    w->rnext = NULL;
    if (q->dready_tail != NULL)
        q->dready_tail->rnext = w;
    else
        q->dready = w;
    q->dready_tail = w;
}

/* qpark_add - due m waits for room among w's rounds */

static void qpark_add(struct qmgr *q, struct qmgr_dwait *w, struct relay_qmsg *m)
{
    if ((q->blocked == NULL && q->nparked == 0) || m->arrival_ms < q->blocked_oldest)
        q->blocked_oldest = m->arrival_ms;
    qmgr_sched_fifo_put(q, &w->head, &w->tail, m);
    q->nparked++;
    if (w->rounds < q->dest_rounds_max)        /* parked behind others: they go first */
        qpark_ready(q, w);
}

/* qmgr_park_release - shares looked up for a round that did not start */

void qmgr_park_release(struct qmgr *q, struct qmgr_dwait **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qmgr_dest_wait_drop(q, v[i]);
    free(v);
}

/* qmgr_park_room - may a round of m start as far as its destinations go:
 * each has fewer than dest_rounds_max rounds and, unless m is first (taken
 * from a FIFO's head), nothing parked before m.  A message taken from the
 * head of share `from` (which has room) starts whatever its other
 * destinations hold: parked again at the tail of a busy one, it would
 * wait there until that one had room, then at the tail of `from` again,
 * and so on until it expired; its other destinations may count a round
 * more than dest_rounds_max for a while.  If m may start, its shares in
 * *vp (*np); if not, m is parked on the first that has no room. */

bool qmgr_park_room(struct qmgr *q, struct relay_qmsg *m, const struct config *cfg,
                    bool first, const struct qmgr_dwait *from,
                    struct qmgr_dwait ***vp, size_t *np)
{
    struct qmgr_dwait **v;
    size_t n = qmgr_dest_waits(q, cfg, m, &v);

    for (size_t i = 0; i < n && from != NULL; i++)
        if (v[i] == from) {             /* still one of m's (a reload may change routes) */
            *vp = v;
            *np = n;
            return true;
        }
    for (size_t i = 0; i < n; i++)
        if (v[i]->rounds >= q->dest_rounds_max || (!first && v[i]->head != NULL)) {
            qpark_add(q, v[i], m);
            qmgr_park_release(q, v, n);
            return false;
        }
    *vp = v;
    *np = n;
    return true;
}

/* qmgr_park_put_back - m's round no longer counts against m->dwaits[i] */

void qmgr_park_put_back(struct qmgr *q, struct relay_qmsg *m, size_t i)
{
    struct qmgr_dwait *w = m->dwaits[i];

    m->dwaits[i] = NULL;                /* given back once */
    w->rounds--;
    if (w->head != NULL && w->rounds < q->dest_rounds_max)
        qpark_ready(q, w);
    else
        qmgr_dest_wait_drop(q, w);
}

/* qmgr_park_give - the job of m's round for the destination keyed key is
 * back: give back that share now (nothing if it is not one m counts
 * against: routes changed by a reload; the round's end gives it back) */

void qmgr_park_give(struct qmgr *q, struct relay_qmsg *m, const char *key)
{
    for (size_t i = 0; i < m->ndwaits; i++)
        if (m->dwaits[i] != NULL && strcmp(m->dwaits[i]->key, key) == 0) {
            qmgr_park_put_back(q, m, i);
            qmgr_sched_room_freed(q);
            return;
        }
}

/* qmgr_park_run - examine the messages parked on destinations that have
 * room again (q->dready), first parked first, while nothing is blocked */

void qmgr_park_run(struct qmgr *q, const struct config *cfg, uint64_t now)
{
    while (q->dready != NULL && q->blocked == NULL) {
        struct qmgr_dwait *w = q->dready;

        if (w->head != NULL && w->rounds < q->dest_rounds_max) {
            q->nparked--;
            qmgr_sched_examine(q, qmgr_sched_fifo_take(q, &w->head, &w->tail), cfg, now, true, w);
            continue;
        }
        if ((q->dready = w->rnext) == NULL)
            q->dready_tail = NULL;
        w->ready = false;
        qmgr_dest_wait_drop(q, w);
    }
}
