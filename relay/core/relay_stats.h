/*
 * relay_stats.h - the daemon's counters (Exchange's names where they
 * exist).  Atomic, updated from any thread; logged at shutdown until
 * `domsec stats` exposes them.
 */
#ifndef DOMSEC_RELAY_STATS_H
#define DOMSEC_RELAY_STATS_H

enum relay_stat {
    RELAY_STAT_DS_RECEIVED,             /* Domain Secure Messages Received */
    RELAY_STAT_DS_SENT,                 /* Domain Secure Messages Sent */
    RELAY_STAT_DS_OUT_FAILURES,         /* Domain Secure Outbound Session Failures */
    RELAY_STAT_COUNT
};

/* Gauges: one writer each (the queue manager for the queue's), any reader. */
enum relay_gauge {
    RELAY_GAUGE_QUEUE_ACTIVE,           /* messages with a round running */
    RELAY_GAUGE_QUEUE_DEFERRED,         /* idle, waiting for their next attempt or a slot */
    RELAY_GAUGE_QUEUE_HELD,             /* held by an administrator */
    RELAY_GAUGE_QUEUE_OLDEST_MS,        /* arrival of the oldest message (ms), 0 if none */
    RELAY_GAUGE_COUNT
};

/* relay_stats.c */
void    relay_stats_add(enum relay_stat st, unsigned long n);
unsigned long relay_stats_get(enum relay_stat st);
void    relay_stats_log(void);
void    relay_stats_gauge_set(enum relay_gauge g, long long v);
long long relay_stats_gauge_get(enum relay_gauge g);

#endif
