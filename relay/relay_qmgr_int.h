/*
 * relay_qmgr_int.h - the queue manager's state and the functions shared by
 * relay_qmgr.c (schedule, rounds, results, thread) and relay_qdest.c
 * (destinations: DNS, smart hosts, connections).  Private to those two
 * files; everything runs on the queue manager's loop.
 */
#ifndef DOMSEC_RELAY_QMGR_INT_H
#define DOMSEC_RELAY_QMGR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "dns.h"
#include "relay_deliver.h"
#include "relay_worker.h"

struct relay_qmgr_state {
    struct relay_worker w;              /* loop, wake, lock, commit completions */
    uv_timer_t timer;
    struct dns_resolver *resolver;
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

/* relay_qmgr.c */
uint64_t relay__qmgr_now(void);
void    relay__qmgr_schedule(void);
void    relay__qmgr_maybe_exit(void);
/* Give every waiting job of d the same outcome. */
void    relay__qmgr_dest_flush(struct relay_dest *d, enum relay_outcome o, const char *text,
                               bool conn_failure);

/* relay_qdest.c */
/* The destination for a connector and recipient domain (created if new). */
struct relay_dest *relay__qdest_get(struct config *cfg, const struct cfg_send *sc,
                                    const char *domain);
/* Add a job; resolve or connect as needed. */
void    relay__qdest_enqueue(struct relay_dest *d, struct relay_job *j);
void    relay__qdest_free(struct relay_dest *d);

#endif
