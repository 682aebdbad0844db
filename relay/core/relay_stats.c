/*
 * relay_stats.c - counters.
 *
 * CONTRACT
 *  Thread-safe (C11 atomics); never blocks.
 */
#include <stdatomic.h>

#include "log.h"
#include "relay_stats.h"

static _Atomic unsigned long relay_stats[RELAY_STAT_COUNT];
static _Atomic long long relay_gauges[RELAY_GAUGE_COUNT];
static const char *const relay_stat_names[RELAY_STAT_COUNT] = {
    [RELAY_STAT_DS_RECEIVED] = "Domain Secure Messages Received",
    [RELAY_STAT_DS_SENT] = "Domain Secure Messages Sent",
    [RELAY_STAT_DS_OUT_FAILURES] = "Domain Secure Outbound Session Failures",
};

/* relay_stats_add - count */

void relay_stats_add(enum relay_stat st, unsigned long n)
{
    atomic_fetch_add(&relay_stats[st], n);
}

/* relay_stats_get - read */

unsigned long relay_stats_get(enum relay_stat st)
{
    return atomic_load(&relay_stats[st]);
}

/* relay_stats_log - one line per counter */

void relay_stats_log(void)
{
    for (int i = 0; i < RELAY_STAT_COUNT; i++)
        log_info("stats", 0, "\"%s\"=%lu", relay_stat_names[i], relay_stats_get(i));
}

/* relay_stats_gauge_set - the gauge's one writer sets it */

void relay_stats_gauge_set(enum relay_gauge g, long long v)
{
    atomic_store_explicit(&relay_gauges[g], v, memory_order_relaxed);
}

/* relay_stats_gauge_get - read a gauge */

long long relay_stats_gauge_get(enum relay_gauge g)
{
    return atomic_load_explicit(&relay_gauges[g], memory_order_relaxed);
}
