/*
 * relay_limits.c - connection counters shared by every worker thread.
 *
 * Counters live in one small chained hash table under a mutex: "connector"
 * counts all connections of a receive connector, "connector\nip" those of
 * one source.  Entries disappear when they reach zero, so the table holds
 * only live connections.  Connectors are keyed by name, so counts survive
 * a configuration reload.
 *
 * The descriptor budget is one atomic counter against a number fixed at
 * start.  Without it the open-file limit is met by accept() itself, and
 * libuv then either calls back with EMFILE or, with its reserve descriptor
 * ("the EMFILE trick"), accepts and closes every waiting connection without
 * telling us: mail dropped unlogged.  With it, listeners pause while there
 * is still room, the kernel holds the waiting connections in the backlog,
 * and the log says why.  The same counter keeps its high-water mark, so
 * that the main loop can tell when a burst is over (relay_server.c then
 * gives the freed heap back to the system).
 *
 * CONTRACT
 *  Thread-safe.  relay_limits_acquire() returns the verdict; only on
 *  RELAY_LIMIT_OK does the caller own a key to release.
 */
#include <dirent.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "log.h"
#include "relay_limits.h"

#define RELAY_LIMITS_BUCKETS 4096

struct relay_limit_entry {
    struct relay_limit_entry *next;
    unsigned count;
    char    key[];
};

static struct relay_limit_entry *relay_limits_table[RELAY_LIMITS_BUCKETS];
static uv_mutex_t relay_limits_lock;
static uv_once_t relay_limits_once = UV_ONCE_INIT;

static void relay_limits_init(void)
{
    uv_mutex_init(&relay_limits_lock);
}

/* relay_limits_hash - FNV-1a */

static size_t relay_limits_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % RELAY_LIMITS_BUCKETS;
}

/* relay_limits_find - entry for key, created with count 0 if asked */

static struct relay_limit_entry *relay_limits_find(const char *key, int create)
{
    size_t b = relay_limits_hash(key);
    struct relay_limit_entry *e;

    for (e = relay_limits_table[b]; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    e = xmalloc(sizeof(*e) + strlen(key) + 1);
    strcpy(e->key, key);
    e->count = 0;
    e->next = relay_limits_table[b];
    relay_limits_table[b] = e;
    return e;
}

/* relay_limits_drop - decrement, removing the entry at zero */

static void relay_limits_drop(const char *key)
{
    size_t b = relay_limits_hash(key);
    struct relay_limit_entry **pp, *e;

    for (pp = &relay_limits_table[b]; (e = *pp) != NULL; pp = &e->next)
        if (strcmp(e->key, key) == 0) {
            if (--e->count == 0) {
                *pp = e->next;
                free(e);
            }
            return;
        }
    log_panic("limits", "release of unknown slot %s", key);
}

/* relay_limits_acquire - take a slot or say which limit is reached */

enum relay_limit relay_limits_acquire(const char *connector, unsigned max_total,
                                      const char *ip, unsigned max_per_source, char **key)
{
    struct relay_limit_entry *t, *src;
    char *k = xasprintf("%s\n%s", connector, ip);
    enum relay_limit verdict = RELAY_LIMIT_OK;

    uv_once(&relay_limits_once, relay_limits_init);
    uv_mutex_lock(&relay_limits_lock);
    t = relay_limits_find(connector, 0);
    src = relay_limits_find(k, 0);
    if (t != NULL && t->count >= max_total)
        verdict = RELAY_LIMIT_TOTAL;
    else if (src != NULL && src->count >= max_per_source)
        verdict = RELAY_LIMIT_SOURCE;
    else {
        relay_limits_find(connector, 1)->count++;
        relay_limits_find(k, 1)->count++;
    }
    uv_mutex_unlock(&relay_limits_lock);
    if (verdict != RELAY_LIMIT_OK) {
        free(k);
        k = NULL;
    }
    *key = k;
    return verdict;
}

/* relay_limits_release - give a slot back */

void relay_limits_release(char *key)
{
    char *nl = strchr(key, '\n');

    uv_mutex_lock(&relay_limits_lock);
    relay_limits_drop(key);
    *nl = '\0';
    relay_limits_drop(key);
    uv_mutex_unlock(&relay_limits_lock);
    free(key);
}

/* relay_limits_count - connections of a connector */

unsigned relay_limits_count(const char *connector)
{
    struct relay_limit_entry *e;
    unsigned n;

    uv_once(&relay_limits_once, relay_limits_init);
    uv_mutex_lock(&relay_limits_lock);
    e = relay_limits_find(connector, 0);
    n = e ? e->count : 0;
    uv_mutex_unlock(&relay_limits_lock);
    return n;
}

static atomic_long relay_limits_conns;          /* open connection sockets */
static atomic_long relay_limits_peak;           /* most conns since relay_limits_conn_peak() */
static long relay_limits_budget = LONG_MAX;     /* set once before threads start */

/* relay_limits_open_fds - descriptors open now (or 0 without /proc) */

static long relay_limits_open_fds(void)
{
    DIR    *d = opendir("/proc/self/fd");
    struct dirent *e;
    long    n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;                       /* the directory's own */
}

/* relay_limits_fd_budget - fix the budget from the open file limit */

void relay_limits_fd_budget(unsigned nworkers)
{
    struct rlimit rl;
    long    limit, reserve;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY
        || rl.rlim_cur > LONG_MAX / 2)
        return;
    limit = (long)rl.rlim_cur;
    /*
     * Each worker loop holds a few (epoll, eventfd, libuv's reserve); the
     * spool's thread pool opens up to 16 queue files at once; the CRL
     * thread, DNS and the log writer a few more; and a sixteenth of the
     * limit for what grows with load (log rotation, more DNS sockets).
     */
    reserve = 64 + 8 * (long)nworkers + limit / 16;
    relay_limits_budget = limit - relay_limits_open_fds() - reserve;
    if (relay_limits_budget < 8)
        relay_limits_budget = 8;
}

/* relay_limits_conn - a connection socket opened (+1) or closed (-1) */

void relay_limits_conn(int delta)
{
    long n = atomic_fetch_add_explicit(&relay_limits_conns, delta, memory_order_relaxed) + delta;
    long p = atomic_load_explicit(&relay_limits_peak, memory_order_relaxed);

    while (n > p && !atomic_compare_exchange_weak_explicit(&relay_limits_peak, &p, n,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed))
        ;                               /* p reloaded: retry while n is still higher */
}

/* relay_limits_conn_peak - the high-water mark since the last call; restart it */

long relay_limits_conn_peak(void)
{
    long n = atomic_load_explicit(&relay_limits_conns, memory_order_relaxed);
    long p = atomic_exchange_explicit(&relay_limits_peak, n, memory_order_relaxed);

    return p > n ? p : n;
}

/* relay_limits_burst_over - has the count fallen well below its peak? */

bool relay_limits_burst_over(long peak, long now)
{
    return peak - now >= RELAY_LIMITS_BURST_DROP && now <= peak / 2;
}

/* relay_limits_conn_full - no room for another connection */

int relay_limits_conn_full(long *in_use, long *budget)
{
    long n = atomic_load_explicit(&relay_limits_conns, memory_order_relaxed);

    if (in_use != NULL)
        *in_use = n;
    if (budget != NULL)
        *budget = relay_limits_budget;
    return n >= relay_limits_budget;
}
