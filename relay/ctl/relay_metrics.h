/*
 * relay_metrics.h - Prometheus text exposition (format 0.0.4) of the
 * daemon's counters at [metrics] listen, served by libmicrohttpd on its own
 * thread.
 */
#ifndef DOMSEC_RELAY_METRICS_H
#define DOMSEC_RELAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy_config.h"
#include "relay_stats.h"

/* One certificate a connector presents (domsec_certificate_expiry_timestamp_seconds). */
struct relay_metrics_cert {
    const char *connector;              /* not owned */
    bool    receive;                    /* receive connector, else send */
    char    thumbprint[41];
    int64_t not_after;                  /* unix seconds */
};

/* What a scrape shows besides the counters (plain data, not owned). */
struct relay_metrics_info {
    const char *version;
    int64_t now_s, start_s;             /* unix seconds */
    const char *const *receive;         /* receive connector names of the running config */
    size_t  nreceive;
    const char *const *send;            /* send connector names */
    size_t  nsend;
    long long queue_active, queue_deferred, queue_held;
    long long oldest_ms;                /* arrival of the oldest message, 0 = empty queue */
    int64_t crl_built_s;                /* the CRL set's build time, 0 = none */
    const struct relay_metrics_cert *certs;
    size_t  ncerts;
};

/* relay_metrics.c */
/*
 * Main, with the other listeners (before the privilege drop): bind and
 * listen on [metrics] listen.  0 (also when it is off), or -1 after
 * logging why: the daemon must not start.
 */
int     relay_metrics_open(const struct config *cfg);
/* Main, after the privilege drop: serve on that socket from libmicrohttpd's
 * own thread.  0 (also when off), or -1 after logging why. */
int     relay_metrics_start(const struct config *cfg);
/* Main, first thing at stop: stop accepting, finish, join the thread. */
void    relay_metrics_stop(void);
/* Do a and b differ in [metrics] (which only a restart applies)? */
bool    relay_metrics_changed(const struct config *a, const struct config *b);
/* The exposition text of v and in: malloc'd (free()), *len its length;
 * NULL when out of memory. */
char   *relay_metrics_render(const struct relay_stats_view *v,
                             const struct relay_metrics_info *in, size_t *len);

#endif
