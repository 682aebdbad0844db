/*
 * relay_sts_int.h - what relay_sts.c (lookups, refresh) and
 * relay_sts_cache.c (the disk, on libuv's pool) share.  Private to sts/.
 */
#ifndef DOMSEC_RELAY_STS_INT_H
#define DOMSEC_RELAY_STS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "relay_sts.h"

/* What one policy domain is doing. */
enum sts_estate {
    STS_E_IDLE,                         /* nothing in flight */
    STS_E_READ,                         /* its cache file is being read (pool) */
    STS_E_TXT,                          /* _mta-sts.D TXT lookup */
    STS_E_QUEUED,                       /* a fetch is due, waiting for a slot */
    STS_E_HOST,                         /* address lookup of mta-sts.D */
    STS_E_FETCH,                        /* the HTTPS GET */
};

struct relay_sts_lookup {
    struct relay_sts_lookup *next;      /* the entry's waiters */
    struct sts_entry *e;
    relay_sts_cb *cb;
    void   *arg;
};

struct sts_entry {
    struct sts_entry *prev, *next;      /* s->entries, most recently used first */
    struct sts_entry *qnext;            /* s->fetchq */
    struct relay_sts *s;
    char   *domain;                     /* owned, lower case */
    char   *ca_file;                    /* owned: of the latest lookup, or NULL */
    struct sts_policy *policy;          /* referenced: cached (maybe expired), or NULL */
    bool    loaded;                     /* the cache file was read (or there is none) */
    bool    dirty;                      /* the file must follow policy (NULL: removed) */
    unsigned io;                        /* pool work in flight (0 or 1) */
    bool    finishing;                  /* its waiters' callbacks run: not freed */
    enum sts_estate state;
    char    id[POLICY_STS_ID_MAX + 1];  /* STS_E_QUEUED..FETCH: the TXT id to fetch */
    struct relay_sts_lookup *waiters;
    struct dns_query *query;            /* in flight, or NULL */
    struct relay_http_req *req;         /* in flight, or NULL */
    bool    bg;                         /* QUEUED..FETCH is a refresh in the background:
                                         * lookups meanwhile get the cached policy */
    const char *bg_failure;             /* static: a background refresh failed with nobody
                                         * waiting; the next lookup hears of it (TLS-RPT) */
    char    bg_why[200];
    char    fail_id[POLICY_STS_ID_MAX + 1]; /* the id whose fetch failed last, or "" */
    const char *fail_type;              /* static: how that fetch failed (the result
                                         * failure), told again during the back-off */
    uint64_t retry_ms, backoff_ms;      /* no fetch of fail_id before retry_ms */
};

struct relay_sts {
    uv_loop_t *loop;
    struct dns_resolver *const *resolver;   /* the owner's current resolver */
    struct relay_http *http;            /* borrowed */
    char   *cache_dir;                  /* owned, or NULL */
    uint64_t (*now_ms)(void);
    struct sts_entry *entries;          /* most recently used first */
    struct sts_entry *fetchq, *fetchq_tail; /* waiting for a fetch slot */
    size_t  nentries, max_entries;      /* max: RELAY_STS_MAX_DOMAINS unless lowered */
    unsigned fetching;                  /* fetches in flight (HOST, FETCH) */
    unsigned io;                        /* pool work in flight, every entry's */
    uv_timer_t later;                   /* deferred results: the stop's CANCELED, no
                                         * resolver, not a domain, background refresh */
    bool    closing, timer_closed;
    void  (*done)(void *);
    void   *done_arg;
};

/* relay_sts.c */
/* The cache file of e was read: policy (owned, or NULL: none / unusable, why). */
void    relay__sts_loaded(struct sts_entry *e, struct sts_policy *policy, const char *why);
/* Pool work of e ended: free e if it is done for, or the cache if it closes. */
void    relay__sts_io_done(struct sts_entry *e);

/* relay_sts_cache.c */
/* Read e's cache file on the pool; relay__sts_loaded then relay__sts_io_done later. */
void    relay__sts_cache_read(struct sts_entry *e);
/* Make e's file follow e->policy (written, or removed when NULL); relay__sts_io_done later. */
void    relay__sts_cache_sync(struct sts_entry *e);

#endif
