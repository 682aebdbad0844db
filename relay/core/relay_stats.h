/*
 * relay_stats.h - the daemon's counters (Exchange's names where they
 * exist), histograms and gauges, for `domsec status`, /metrics and the
 * stop log.
 *
 * Counters are per-thread shards summed on read: a thread that called
 * relay_stats_thread_init() adds to its own shard with a relaxed load and
 * store (no lock, no shared cache line); any other thread (libuv's pool)
 * adds to a shared fallback shard with atomic_fetch_add.  Connector
 * labels are small ints interned by main (relay_stats_label_config at
 * start and reload); the hot path passes the int.
 */
#ifndef DOMSEC_RELAY_STATS_H
#define DOMSEC_RELAY_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy_config.h"

/* Counters without labels. */
enum relay_stat {
    RELAY_STAT_DS_RECEIVED,             /* Domain Secure Messages Received */
    RELAY_STAT_DS_SENT,                 /* Domain Secure Messages Sent */
    RELAY_STAT_DS_OUT_FAILURES,         /* Domain Secure Outbound Session Failures */
    RELAY_STAT_TLS_FAIL_IN,             /* + enum relay_tls_fail: 5 counters */
    RELAY_STAT_TLS_FAIL_OUT = RELAY_STAT_TLS_FAIL_IN + 5,
    RELAY_STAT_RCPT_DELIVERED = RELAY_STAT_TLS_FAIL_OUT + 5,
    RELAY_STAT_RCPT_DEFERRED,           /* each deferral of a recipient */
    RELAY_STAT_RCPT_BOUNCED,
    RELAY_STAT_DSN_FAILURE,
    RELAY_STAT_DSN_DELAY,
    RELAY_STAT_REQUIRETLS_RECEIVED,     /* messages queued with REQUIRETLS (RFC 8689) */
    RELAY_STAT_REQUIRETLS_SENT,         /* REQUIRETLS messages a next hop took */
    RELAY_STAT_REQUIRETLS_BOUNCED,      /* recipients bounced 5.7.10 / 5.7.30 */
    RELAY_STAT_COUNT
};

/* Why a TLS handshake failed (relay_stats_tls_reason sorts a tls/ error). */
enum relay_tls_fail {
    RELAY_TLS_FAIL_TIMEOUT,
    RELAY_TLS_FAIL_PROTOCOL,
    RELAY_TLS_FAIL_CLOSED,
    RELAY_TLS_FAIL_CERTIFICATE,
    RELAY_TLS_FAIL_OTHER,
    RELAY_TLS_FAIL_COUNT
};
_Static_assert(RELAY_TLS_FAIL_COUNT == 5, "RELAY_STAT_TLS_FAIL_* hold 5 counters each");

/* Counters by connector label. */
enum relay_lstat {
    RELAY_LSTAT_CONN_IN,                /* connections accepted (receive connector) */
    RELAY_LSTAT_CONN_OUT,               /* connections opened (send connector) */
    RELAY_LSTAT_TLS_IN,                 /* TLS handshakes completed, inbound */
    RELAY_LSTAT_TLS_OUT,                /* TLS handshakes completed, outbound */
    RELAY_LSTAT_MSG_RECEIVED,           /* messages queued (250 sent) */
    RELAY_LSTAT_COUNT
};

#define RELAY_STATS_MAX_LABELS 64       /* label 0 is "other": the 64th name and later */
#define RELAY_STATS_LABEL_OTHER 0

/* Histograms: observations in microseconds, bounds in relay_stats_hist_bounds(). */
enum relay_hist {
    RELAY_HIST_COMMIT,                  /* end of DATA (the dot) -> 250 written */
    RELAY_HIST_DELIVERY,                /* arrival -> delivered (peer's 250 to the dot) */
    RELAY_HIST_COUNT
};
#define RELAY_HIST_MAX_BOUNDS 16

/* Gauges: one writer each (the queue manager for the queue's), any reader. */
enum relay_gauge {
    RELAY_GAUGE_QUEUE_ACTIVE,           /* messages with a round running */
    RELAY_GAUGE_QUEUE_DEFERRED,         /* idle, waiting for their next attempt or a slot */
    RELAY_GAUGE_QUEUE_HELD,             /* held by an administrator */
    RELAY_GAUGE_QUEUE_OLDEST_MS,        /* arrival of the oldest message (ms), 0 if none */
    RELAY_GAUGE_COUNT
};

/* A consistent-enough sum of every shard (each value torn-free). */
struct relay_stats_view {
    uint64_t c[RELAY_STAT_COUNT];
    uint64_t l[RELAY_LSTAT_COUNT][RELAY_STATS_MAX_LABELS];
    struct relay_stats_hist_view {
        uint64_t bucket[RELAY_HIST_MAX_BOUNDS + 1];     /* cumulative (le), last = +Inf */
        uint64_t count;                 /* == the +Inf bucket */
        uint64_t sum_us;
    } h[RELAY_HIST_COUNT];
    unsigned nlabels;                   /* labels 0..nlabels-1 have names */
};

/* relay_stats.c */
/* Give the calling thread its own shard (once; it lives until exit). */
void    relay_stats_thread_init(void);
void    relay_stats_add(enum relay_stat st, unsigned long n);
void    relay_stats_count(enum relay_lstat st, unsigned label);
/* A failed handshake: counts RELAY_STAT_TLS_FAIL_IN/OUT + why. */
void    relay_stats_tls_failed(bool inbound, enum relay_tls_fail why);
/* Sort tls_conn_tls_error()'s text ("" = the connection went away). */
enum relay_tls_fail relay_stats_tls_reason(const char *err);
void    relay_stats_observe(enum relay_hist h, uint64_t usec);
/* Main only: intern a connector name (RELAY_STATS_LABEL_OTHER when full). */
unsigned relay_stats_label(const char *name);
/* Main only, at start and reload: intern every connector name of cfg. */
void    relay_stats_label_config(const struct config *cfg);
/* Any thread: the label of a name interned before (OTHER if none). */
unsigned relay_stats_label_find(const char *name);
/* Any thread: the name of label id ("other" for 0); NULL past the last. */
const char *relay_stats_label_name(unsigned id);
/* The upper bounds (usec) of histogram h; returns how many. */
size_t  relay_stats_hist_bounds(enum relay_hist h, const uint64_t **bounds);
/* The name of counter st as `domsec status` shows it (snake case). */
const char *relay_stats_name(enum relay_stat st);
const char *relay_stats_tls_reason_name(enum relay_tls_fail why);
void    relay_stats_snapshot(struct relay_stats_view *out);
unsigned long relay_stats_get(enum relay_stat st);
void    relay_stats_log(void);
void    relay_stats_gauge_set(enum relay_gauge g, long long v);
long long relay_stats_gauge_get(enum relay_gauge g);

#endif
