/*
 * relay_qmgr_int.h - the queue manager's state and the functions shared by
 * relay_qmgr.c (schedule, dispatch, results, thread), relay_qround.c (the
 * end of a round: records, DSNs, removal) and relay_qdest.c (destinations:
 * DNS, smart hosts, connections).  Private to those three files;
 * everything runs on the queue manager's loop.
 */
#ifndef DOMSEC_RELAY_QMGR_INT_H
#define DOMSEC_RELAY_QMGR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "dns.h"
#include "relay_qmgr.h"
#include "relay_smtp.h"
#include "relay_trouble.h"
#include "relay_worker.h"

struct relay_qmgr_state {
    struct relay_worker w;              /* loop, wake, lock, commit completions */
    uv_timer_t timer;
    struct dns_resolver *resolver;
    char   *dns_servers;                /* owned: [dns] servers the resolver uses (or NULL) */
    uint64_t dns_timeout;               /* and its [dns] timeout */
    int     dns_retiring;               /* replaced resolvers still closing */
    struct relay_qmsg *msgs;
    struct relay_dest *dests;
    char  **incoming;                   /* new ids, under w.lock */
    size_t  nincoming, capincoming;
    bool    stop_requested;             /* under w.lock */
    bool    stopping, started;
    int     busy;                       /* works in flight, DSN commits, resolver */
    unsigned conns;                     /* outbound connections */
};
extern struct relay_qmgr_state relay__q;

/* One blocking operation on libuv's thread pool for a message. */
struct relay_qmgr_work {
    uv_work_t req;
    struct relay_qmsg *m;               /* message concerned (may be NULL) */
    char    id[RELAY_QID_LEN + 1];
    char   *buf;                        /* records to append, or data read */
    size_t  len;
    int     err;
    const char *why;
    void  (*then)(struct relay_qmgr_work *w);
};

/* relay_qmgr.c */
/* The destinations' relay_dest_ops (set by relay__qdest_get). */
void    relay__qmgr_job_done(struct relay_dest *d, struct relay_job *j);
void    relay__qmgr_dest_failed(struct relay_dest *d, struct relay_job *current);
void    relay__qmgr_schedule(void);
void    relay__qmgr_maybe_exit(void);
/* Give every waiting job of d the same outcome. */
void    relay__qmgr_dest_flush(struct relay_dest *d, enum relay_outcome o, const char *text,
                               bool conn_failure);
uint64_t relay__qmgr_now(void);         /* wall clock, ms (records store unix time) */
int     relay__qmgr_dirfd(void);        /* messages/ */
/* Run fn on the thread pool, then `then` on our loop (buf is freed after). */
void    relay__qmgr_submit(struct relay_qmsg *m, const char *id, uv_work_cb fn,
                           void (*then)(struct relay_qmgr_work *w), char *buf, size_t len);

/* relay_qround.c: the end of a round (records, DSNs, removal). */
void    relay__qround_read_work(uv_work_t *req);       /* m->data = the message bytes */
void    relay__qround_remove_work(uv_work_t *req);
void    relay__qround_removed(struct relay_qmgr_work *w);
void    relay__qround_forget(struct relay_qmsg *m);
bool    relay__qround_all_final(const struct relay_qmsg *m);
bool    relay__qround_owes(const struct relay_qmsg *m);
/* Write what happened durably (delivered/deferred at once), then end the round. */
void    relay__qround_flush(struct relay_qmsg *m);
void    relay__qround_check(struct relay_qmsg *m);    /* the last job is back */
void    relay__qround_finish(struct relay_qmsg *m);   /* DSN, records, next or removal */

/* relay_qdest.c */
void    relay__qmgr_conn_gone(struct relay_dest *d);
/* The destination for a connector and recipient domain (created if new). */
struct relay_dest *relay__qdest_get(struct config *cfg, const struct cfg_send *sc,
                                    const char *domain);
/* Add a job; resolve or connect as needed. */
void    relay__qdest_enqueue(struct relay_dest *d, struct relay_job *j);
void    relay__qdest_free(struct relay_dest *d);

#endif
