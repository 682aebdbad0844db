/*
 * relay_qmgr_int.h - the queue manager object (struct qmgr) and the
 * functions shared by relay_qmgr.c (the object: thread, start, stop,
 * loading, background work), relay_qsched.c (what is due: schedule,
 * dispatch, results), relay_qpark.c (the per-destination shares: parked
 * messages), relay_qheap.c (the heap of waiting messages),
 * relay_qround.c (the end of a round: records, DSNs, removal) and
 * relay_qdest.c (destinations: DNS, smart hosts, connections).  Private
 * to qmgr/ (and white-box unit tests); every function takes the object
 * (the relay_dest_ops callbacks find it in d->owner), and everything runs
 * on its loop.
 *
 * Names: this folder is one program with its own library, so its
 * cross-file internals carry the program's prefix and the file's part of
 * it - qmgr_* (relay_qmgr.c), qmgr_sched_* (relay_qsched.c), qmgr_park_*
 * (relay_qpark.c), qmgr_heap_* (relay_qheap.c), qmgr_round_*
 * (relay_qround.c), qmgr_dest_* (relay_qdest.c) - and each file's statics
 * its own short prefix (qmgr_, qsched_, qpark_, qheap_, qround_, qdest_).
 * Public symbols stay relay_qmgr_*.
 */
#ifndef DOMSEC_RELAY_QMGR_INT_H
#define DOMSEC_RELAY_QMGR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "dns.h"
#include "relay_admin.h"
#include "log.h"
#include "log_file.h"
#include "relay_qmgr.h"
#include "relay_smtp.h"
#include "relay_trouble.h"
#include "relay_worker.h"

/*
 * The SMTP client as the queue manager drives it: relay_smtpc_* in the
 * daemon (qmgr_smtpc).  The one test seam: a unit test passes a fake.
 * The client answers through the destination's relay_dest_ops, usually
 * later, but job_done and dest_failed may also run inside start (no
 * address can be tried: dest_failed; the stop has begun: job_done), wake
 * (a message over the peer's SIZE: job_done, then the next job, and so on)
 * and shutdown_all (every current job).  conn_gone always comes later.
 * So a caller of start/wake must not rely on d's waiting jobs, or on a
 * message's round, across the call: a job handed back may end its round
 * there and then (qmgr_round_finish frees m->data).  qsched_dispatch_go
 * holds m->jobs while it hands a round's jobs out; a destination is freed
 * only by its own qdest_kick (or at the stop), never by a job's end.
 */
struct qmgr_smtp {
    int   (*start)(struct relay_dest *d, uv_loop_t *loop);
    bool  (*wake)(struct relay_dest *d);
    unsigned (*idle_count)(const struct relay_smtp_client *cl);
    bool  (*close_idle)(struct relay_smtp_client *cl, const struct relay_dest *keep);
    void  (*shutdown_all)(struct relay_smtp_client *cl);
};
extern const struct qmgr_smtp qmgr_smtpc;

/* relay_qheap.c: a binary min-heap of messages keyed by m->due_ms. */
struct qmgr_heap {
    struct relay_qmsg **v;              /* owned array; the messages are not */
    size_t  n, cap;
    uint64_t cmps;                      /* key comparisons so far (tests count them) */
};

#define QMGR_LOADS_MAX 8                /* loads in flight: see the bounds below */

/*
 * Where each message is: every one on msgs; an idle one (no jobs, no I/O)
 * also in exactly one of due (examine now), heap (examine at due_ms),
 * blocked (due, waiting for a connection slot or for room among the
 * rounds in flight: QMGR_ROUNDS_MAX), parked on a destination's
 * qmgr_dwait (due, waiting for room among that destination's rounds:
 * QMGR_DEST_ROUNDS_MAX) or held (held by an administrator: never
 * examined).  A busy one is in none: the end of its
 * work puts it back (qmgr_sched_ready).
 */
struct qmgr {
    struct relay_worker w;              /* loop, wake, lock, commit completions */
    uv_timer_t timer;                   /* fires at wake_ms */
    uint64_t wake_ms;                   /* unix ms the timer is armed for, 0 = not armed */
    log_clock_fn *clock;                /* unix ms; NULL = CLOCK_REALTIME (tests inject) */
    void   *clock_arg;
    const struct qmgr_smtp *smtp; /* the SMTP client (or a test's fake) */
    struct relay_smtp_client *client;   /* owned: our connections (every d->client) */
    struct dns_resolver *resolver;
    char   *dns_servers;                /* owned: [dns] servers the resolver uses (or NULL) */
    uint64_t dns_timeout;               /* and its [dns] timeout */
    bool    dns_dnssec;                 /* and its [dns] dnssec (AD bit trusted) */
    int     dns_retiring;               /* replaced resolvers still closing */
    struct relay_tlsrpt *tlsrpt;        /* owned: TLS-RPT recorder (every d->tlsrpt), or NULL */
    bool    tlsrpt_closing;             /* relay_tlsrpt_close called, done not yet */
    struct relay_http *http;            /* owned: HTTP(S) on this loop (MTA-STS fetches,
                                         * https TLS reports); closed after both users */
    bool    http_closing;
    struct relay_sts *sts;              /* owned: the MTA-STS policy cache; NULL once closed */
    struct relay_qmsg *msgs;            /* owned: every message (m->next, m->prev) */
    struct relay_qmsg *due, *due_tail;  /* FIFO (m->qnext) */
    struct relay_qmsg *blocked, *blocked_tail;  /* FIFO (m->qnext) */
    struct relay_qmsg *held, *held_tail;        /* FIFO (m->qnext) */
    size_t  nmsgs, nqueued, nheld;      /* on msgs; with m->queued; on held */
    uint64_t oldest_ms;                 /* smallest arrival_ms (gauge), 0 = none */
    bool    oldest_stale;               /* the oldest was forgotten: recompute */
    uint64_t oldest_at;                 /* last recomputed (at most once a second) */
    struct relay_admin_req *admin_head, *admin_tail;    /* under w.lock */
    uv_timer_t sweep;                   /* look for queue files removed by hand */
    uint64_t blocked_sweep_ms;          /* next look for expired blocked messages */
    struct qmgr_dwait *dwaits;          /* owned: every destination's share */
    struct qmgr_dwait *dready, *dready_tail;    /* FIFO (w->rnext): parked messages, room */
    size_t  nparked;                    /* messages parked on a qmgr_dwait */
    uint64_t dwait_pass;                /* qmgr_dest_waits' passes (w->pass) */
    size_t  dest_rounds_max;            /* QMGR_DEST_ROUNDS_MAX (tests lower it) */
    bool    room_freed;                 /* a round ended since the run began: run again now */
    struct qmgr_heap heap;
    uint64_t expiration;                /* message_expiration_timeout the keys use */
    uint64_t examined;                  /* messages the scheduler looked at (tests) */
    struct relay_dest *dests;           /* owned */
    char  **incoming;                   /* new ids, under w.lock */
    size_t  nincoming, capincoming;
    char  **toload;                     /* ids waiting for a load (owned), from toload_head */
    size_t  ntoload, toload_head, captoload;
    unsigned loading;                   /* loads in flight (at most QMGR_LOADS_MAX) */
    char    loading_ids[QMGR_LOADS_MAX][RELAY_QID_LEN + 1];   /* their ids ("" = free) */
    size_t  rounds;                     /* messages in a round (m->in_round) */
    uint64_t round_bytes;               /* and their bytes, read into memory */
    size_t  rounds_max;                 /* QMGR_ROUNDS_MAX (tests lower them) */
    uint64_t round_bytes_max;           /* QMGR_ROUND_BYTES_MAX */
    uint64_t blocked_oldest;            /* <= the oldest arrival on blocked */
    bool    stop_requested;             /* under w.lock */
    bool    reload_requested;           /* under w.lock: the configuration changed */
    bool    stopping;
    int     busy;                       /* works in flight, DSN commits, resolver */
    unsigned conns;                     /* outbound connections */
};

/*
 * Bounds on work in flight, so that a large recovered queue neither waits
 * behind its own loading nor holds every message's bytes at once: loads on
 * the thread pool at a time (reads of due messages run between them, so the
 * first delivery does not wait for the last load), and messages in a round
 * (their bytes are in memory from the round's read to its end) - at least
 * one round always runs, however large its message.  A due message beyond
 * them waits in the blocked FIFO, as for a connection slot.  The bytes bound
 * covers rounds only: a read for a DSN outside a round (an expired or
 * deleted message, a DSN owed after a failed write) and `queue show` are
 * not counted; each holds its copy from its read until the read's callback
 * on the loop has built the DSN (or the answer), and frees it there.
 */
#define QMGR_ROUNDS_MAX 10000
#define QMGR_ROUND_BYTES_MAX (256ULL << 20)

/*
 * A destination's share of the rounds in flight: a round waiting for a
 * connection holds its place (and its bytes) among QMGR_ROUNDS_MAX, so one
 * slow destination with many messages due would take every place and the
 * messages for free destinations would wait behind it.  So a destination
 * (keyed as relay_qdest.c keys one: connector, and domain when routed by
 * MX) counts at most QMGR_DEST_ROUNDS_MAX rounds with a recipient for it
 * (enough to keep its 40 connections, the default per domain, busy; a
 * hundredth of QMGR_ROUNDS_MAX: it takes 100 slow destinations at once to
 * fill them), and further due messages for it are parked here, holding no
 * place and no bytes, until one of its rounds ends.  A message taken from
 * the head of one share starts whatever its other destinations' shares
 * hold (parked again at their tail it could wait there until it expired),
 * so those may count a few rounds more than the bound for a while.  It
 * outlives its relay_dest (and reloads); freed when it has no round,
 * nothing parked and is not on q->dready.
 */
struct qmgr_dwait {
    char   *key;                        /* owned: qmgr_dest_key's */
    size_t  rounds;                     /* rounds in flight counted against it */
    struct relay_qmsg *head, *tail;     /* parked, first due first (m->qnext) */
    bool    ready;                      /* on q->dready */
    uint64_t pass;                      /* the last q->dwait_pass that took it */
    struct qmgr_dwait *next;            /* q->dwaits */
    struct qmgr_dwait *rnext;           /* q->dready */
};
#define QMGR_DEST_ROUNDS_MAX 100

/* One blocking operation on libuv's thread pool for a message. */
struct qmgr_work {
    uv_work_t req;
    struct qmgr *q;
    struct relay_qmsg *m;               /* message concerned (may be NULL) */
    char    id[RELAY_QID_LEN + 1];
    char   *buf;                        /* records to append (owned, freed after then) */
    size_t  len;
    int     err;
    const char *why;
    void   *arg;                        /* the caller's (relay_qadmin.c) */
    void  (*then)(struct qmgr_work *w);
};

/* qmgr_sat_add - a + b, or UINT64_MAX if that overflows (times from a queue
 * file are not trusted: a wrapped key would make a message due at once) */
static inline uint64_t qmgr_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* relay_qmgr.c: the object. */
/* A queue manager on a new loop (not yet running); NULL if DNS cannot start. */
struct qmgr *qmgr_new(const struct qmgr_smtp *smtp, log_clock_fn *clock, void *clock_arg);
/* After its loop has ended: free every message, destination, the loop. */
void    qmgr_free(struct qmgr *q);
void    qmgr_notify(struct qmgr *q, const char *id);   /* any thread */
void    qmgr_request_stop(struct qmgr *q);             /* any thread */
/* Any thread: the configuration was swapped; the next run (now) rereads it. */
void    qmgr_request_reload(struct qmgr *q);
void    qmgr_maybe_exit(struct qmgr *q);
void    qmgr_dns_reload(struct qmgr *q, const struct config *cfg);
uint64_t qmgr_now(const struct qmgr *q);        /* unix ms (records store it) */
int     qmgr_dirfd(void);               /* messages/ */
/* Run fn on the thread pool, then `then` on q's loop (buf is freed after). */
void    qmgr_submit(struct qmgr *q, struct relay_qmsg *m, const char *id, uv_work_cb fn,
                    void (*then)(struct qmgr_work *w), char *buf, size_t len);
/* The same with an argument of the caller's (w->arg) and no message. */
void    qmgr_submit_arg(struct qmgr *q, const char *id, uv_work_cb fn,
                        void (*then)(struct qmgr_work *w), void *arg);
/* A loaded message joins the queue. */
void    qmgr_add(struct qmgr *q, struct relay_qmsg *m);
/* Messages notified but not loaded yet (waiting, or their load in flight). */
size_t  qmgr_loading_count(const struct qmgr *q);
/* Is id one of them (a pass over the waiting ids: administration only). */
bool    qmgr_loading_has(const struct qmgr *q, const char *id);

/* relay_qsched.c: what is due, dispatch, results. */
/* m's round ends: its bytes are freed, its place in the bounds comes back. */
void    qmgr_sched_round_end(struct qmgr *q, struct relay_qmsg *m);
/* m is idle again: examine it when due (now or at its next time), then schedule. */
void    qmgr_sched_ready(struct qmgr *q, struct relay_qmsg *m);
/* Start what is due; arm the timer for the next thing. */
void    qmgr_sched_run(struct qmgr *q);
/* Take every idle message with admin_mark out of due/blocked/held/heap. */
void    qmgr_sched_take_marked(struct qmgr *q);
/* Publish the queue gauges (relay_stats.h) from the counts. */
void    qmgr_sched_gauges(struct qmgr *q);
/* The destinations' relay_dest_ops (set by qmgr_dest_get; q = d->owner). */
void    qmgr_sched_job_done(struct relay_dest *d, struct relay_job *j);
void    qmgr_sched_dest_failed(struct relay_dest *d, struct relay_job *current);
/* Every waiting job of d gets the same decision (relay_decide's). */
void    qmgr_sched_dest_flush(struct qmgr *q, struct relay_dest *d,
                              const struct relay_decision *dec);
/* Idle, due m: finish, remove, expire, wait or start a round (first: taken
 * from the head of the blocked FIFO or of the share `from`). */
void    qmgr_sched_examine(struct qmgr *q, struct relay_qmsg *m, const struct config *cfg,
                           uint64_t now, bool first, const struct qmgr_dwait *from);
/* A FIFO of idle messages (m->qnext; counted in q->nqueued). */
void    qmgr_sched_fifo_put(struct qmgr *q, struct relay_qmsg **head, struct relay_qmsg **tail,
                            struct relay_qmsg *m);
struct relay_qmsg *qmgr_sched_fifo_take(struct qmgr *q, struct relay_qmsg **head,
                                        struct relay_qmsg **tail);      /* NULL if empty */
/* Room was given back: a run soon (the timer, never inside the caller). */
void    qmgr_sched_room_freed(struct qmgr *q);

/* relay_qpark.c: the per-destination shares of the rounds in flight. */
/* May a round of m start as far as its destinations go: its shares in *vp
 * (*np, an allocated array); if not, m is parked on one without room. */
bool    qmgr_park_room(struct qmgr *q, struct relay_qmsg *m, const struct config *cfg,
                       bool first, const struct qmgr_dwait *from,
                       struct qmgr_dwait ***vp, size_t *np);
/* Shares looked up for a round that did not start (frees v). */
void    qmgr_park_release(struct qmgr *q, struct qmgr_dwait **v, size_t n);
/* m's round no longer counts against m->dwaits[i]. */
void    qmgr_park_put_back(struct qmgr *q, struct relay_qmsg *m, size_t i);
/* The job of m's round for the destination keyed key is back: its share now. */
void    qmgr_park_give(struct qmgr *q, struct relay_qmsg *m, const char *key);
/* qmgr_sched_run's step: examine the parked messages of shares with room. */
void    qmgr_park_run(struct qmgr *q, const struct config *cfg, uint64_t now);

/* relay_qheap.c */
void    qmgr_heap_push(struct qmgr_heap *h, struct relay_qmsg *m);
struct relay_qmsg *qmgr_heap_top(const struct qmgr_heap *h);     /* NULL if empty */
struct relay_qmsg *qmgr_heap_pop(struct qmgr_heap *h);
void    qmgr_heap_remove(struct qmgr_heap *h, struct relay_qmsg *m);
void    qmgr_heap_build(struct qmgr_heap *h);    /* after keys changed: O(n) */
void    qmgr_heap_free(struct qmgr_heap *h);

/* relay_qround.c: the end of a round (records, DSNs, removal). */
void    qmgr_round_read_work(uv_work_t *req);       /* m->data = the message bytes */
void    qmgr_round_remove(struct qmgr *q, struct relay_qmsg *m);  /* file, then forget */
void    qmgr_round_forget(struct qmgr *q, struct relay_qmsg *m);
bool    qmgr_round_all_final(const struct relay_qmsg *m);
bool    qmgr_round_owes(const struct relay_qmsg *m);
/* Write what happened durably (delivered/deferred at once), then end the round. */
void    qmgr_round_flush(struct qmgr *q, struct relay_qmsg *m);
void    qmgr_round_check(struct qmgr *q, struct relay_qmsg *m);    /* the last job is back */
/* Every job is back (or m expired): DSN, records, then the next round or removal. */
void    qmgr_round_finish(struct qmgr *q, struct relay_qmsg *m);

/* relay_qadmin.c: queue administration (relay_qmgr_admin). */
/* Set req's result and hand it back (req->done); fmt: the error text or NULL. */
void    qmgr_admin_answer(struct relay_admin_req *req, enum relay_admin_status st,
                          const char *fmt, ...) LOG_PRINTF(3, 4);
enum relay_admin_qstate qmgr_admin_state(const struct relay_qmsg *m);
/* req's id names no loaded message: being loaded (CONFLICT), or none (NOT_FOUND). */
void    qmgr_admin_not_found(const struct qmgr *q, struct relay_admin_req *req);
/* m is selected by sel (id, domain of a pending recipient, state, age). */
bool    qmgr_admin_match(const struct relay_qmsg *m, const struct relay_admin_sel *sel,
                         uint64_t now);
struct relay_qmsg *qmgr_admin_find(struct qmgr *q, const char *id);     /* or NULL */
void    qmgr_admin_snap(const struct qmgr *q, const struct relay_qmsg *m,
                        struct relay_admin_msg *o);      /* a snapshot for a result */
int     qmgr_admin(struct qmgr *q, struct relay_admin_req *req);     /* any thread */
void    qmgr_admin_drain(struct qmgr *q);       /* the wake: run what the mailbox holds */
/* At the end of a round of m (delete_pending): true if it removed m. */
bool    qmgr_admin_round_end(struct qmgr *q, struct relay_qmsg *m);
/* The file of idle m was removed (-ENOENT) or quarantined (-EBADMSG): forget m. */
void    qmgr_admin_gone(struct qmgr *q, struct relay_qmsg *m, int err, const char *why);
/* The sweep's timer (qmgr_new). */
void    qmgr_admin_init(struct qmgr *q);
/* Start the cheap look for queue files removed by hand (fstatat each). */
void    qmgr_admin_sweep(struct qmgr *q);
#define QMGR_SWEEP_MS (10 * 60 * 1000)

/* relay_qadmin_view.c: the read-only commands; each answers req. */
void    qmgr_admin_list(struct qmgr *q, struct relay_admin_req *req);
void    qmgr_admin_summary(struct qmgr *q, struct relay_admin_req *req);
void    qmgr_admin_show(struct qmgr *q, struct relay_admin_req *req);

/* relay_qdest.c */
void    qmgr_dest_conn_gone(struct relay_dest *d);  /* relay_dest_ops (q = d->owner) */
/* The destination for a connector and recipient domain (created if new);
 * tls_required_no: the message's "TLS-Required: No" (a destination of its
 * own, without MTA-STS policy). */
struct relay_dest *qmgr_dest_get(struct qmgr *q, struct config *cfg,
                                 const struct cfg_send *sc, const char *domain,
                                 bool tls_required_no);
/* Add a job; resolve or connect as needed. */
void    qmgr_dest_enqueue(struct qmgr *q, struct relay_dest *d, struct relay_job *j);
/* The stop: every waiting job comes back (RELAY_S_SHUTDOWN), so its round ends. */
void    qmgr_dest_shutdown(struct qmgr *q);
/* Forget d's addresses: the next job looks them up again (retry). */
void    qmgr_dest_forget_dns(struct qmgr *q, struct relay_dest *d);
/* Free d (and any job still waiting: qmgr_free's last resort). */
void    qmgr_dest_free(struct qmgr *q, struct relay_dest *d);
/* The key of the destination of a connector and domain (allocated). */
char   *qmgr_dest_key(const struct cfg_send *sc, const char *domain, bool tls_required_no);
/* The shares of the destinations of m's pending recipients, distinct, made
 * if new: an allocated array in *out (free it), and how many. */
size_t  qmgr_dest_waits(struct qmgr *q, const struct config *cfg, const struct relay_qmsg *m,
                        struct qmgr_dwait ***out);
/* Free w if it has no round, nothing parked and is not ready. */
void    qmgr_dest_wait_drop(struct qmgr *q, struct qmgr_dwait *w);
/* Free every share (qmgr_free, after the messages). */
void    qmgr_dest_waits_free(struct qmgr *q);
/* Find d's addresses again (MX, or the smart hosts); the stop: every
 * waiting job comes back (RELAY_S_SHUTDOWN). */
void    qmgr_dest_resolve(struct qmgr *q, struct relay_dest *d);
/* The MX lookup's outcome for d (res, valid during the call): its
 * addresses (through the MTA-STS filter unless DANE applies), each with a
 * copy of its host's DANE state when hdane (one per host of res) is given,
 * the waiting jobs' decision, connections.  d->resolving ends here. */
void    qmgr_dest_hosts(struct qmgr *q, struct relay_dest *d, const struct dns_result *res,
                        const struct relay_dane *hdane);

/* relay_qdane.c: DANE (RFC 7672) states of a destination's MX hosts. */
/* Does DANE apply to d if its MX RRset is secure ([dns] dnssec, [send] dane,
 * not TLS-Required: No, not listed unless its partner requires dane)? */
bool    qmgr_dane_wanted(const struct qmgr *q, const struct relay_dest *d);
/* res: d's secure MX result.  The TLSA lookups of its secure hosts, then
 * qmgr_dest_hosts with their states (maybe before returning: no lookup). */
void    qmgr_dane_start(struct qmgr *q, struct relay_dest *d, const struct dns_result *res);
/* Free d->dane (one per address: call before d->naddrs changes; consecutive
 * addresses of one host share its tlsa and why, freed once). */
void    qmgr_dane_free(struct relay_dest *d);
/* Free one host's state / deep-copy one (for the first address of a host). */
void    qmgr_dane_clear(struct relay_dane *dn);
void    qmgr_dane_copy(struct relay_dane *to, const struct relay_dane *from);

#endif
