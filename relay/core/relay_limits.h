/*
 * relay_limits.h - inbound connection counters shared by all workers:
 * per receive connector (max_inbound_connection) and per connector and
 * source address (max_inbound_connection_per_source); and the descriptor
 * budget: how many connections, inbound and outbound together, the open
 * file limit leaves room for, and their high-water mark (bursts).
 */
#ifndef DOMSEC_RELAY_LIMITS_H
#define DOMSEC_RELAY_LIMITS_H

#include <stdbool.h>

enum relay_limit { RELAY_LIMIT_OK, RELAY_LIMIT_TOTAL, RELAY_LIMIT_SOURCE };

/* relay_limits.c */
/*
 * Take a slot for a connection from ip on connector.  On RELAY_LIMIT_OK,
 * *key is set (owned by the caller) and must be given back to
 * relay_limits_release() when the connection ends.  Thread-safe.
 */
enum relay_limit relay_limits_acquire(const char *connector, unsigned max_total,
                                      const char *ip, unsigned max_per_source, char **key);
void    relay_limits_release(char *key);        /* frees key */
/* Current count for a connector (tests, stats). */
unsigned relay_limits_count(const char *connector);

/*
 * The descriptor budget.  relay_limits_fd_budget() runs once in main before
 * the threads start: the limit less what is open now and a reserve for the
 * queue, logs, DNS, CRL fetches and the threads' loops.  Every connection
 * counts itself with relay_limits_conn(+1 / -1) while its socket is open;
 * listeners stop accepting while relay_limits_conn_full().  Thread-safe.
 */
void    relay_limits_fd_budget(unsigned nworkers);
void    relay_limits_conn(int delta);
int     relay_limits_conn_full(long *in_use, long *budget);
/* The most connections open at once since the previous call (or the
 * start); the next period starts from the count now.  Thread-safe. */
long    relay_limits_conn_peak(void);
/* Whether a count that reached peak and is at now has fallen well below
 * it: by RELAY_LIMITS_BURST_DROP connections or more, and to half or less.
 * The memory of the burst is then free and worth giving back.  Pure. */
#define RELAY_LIMITS_BURST_DROP 64
bool    relay_limits_burst_over(long peak, long now);

#endif
