/*
 * relay_sts.h - MTA-STS policies (RFC 8461) for the queue manager: lookup
 * of _mta-sts.D, the HTTPS fetch of https://mta-sts.D/.well-known/
 * mta-sts.txt through relay_http, the cache in memory and on disk
 * (mta_sts_cache_directory), and the refresh rules of RFC 8461 5.
 *
 * CONTRACT (libuv's): everything on the loop given to relay_sts_new (the
 * queue manager's).  relay_sts_lookup() never fails and never calls back
 * synchronously: cb runs exactly once, later, unless relay_sts_cancel()
 * came first.  The result is valid during the callback; take a reference
 * (policy_sts_ref) to keep its policy.  The disk is touched only on
 * libuv's thread pool.  relay_sts_close() ends every lookup still waiting
 * with RELAY_STS_CANCELED (later), waits for the pool's work, and calls
 * done(arg) after everything is freed.
 */
#ifndef DOMSEC_RELAY_STS_H
#define DOMSEC_RELAY_STS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dns.h"
#include "policy_sts.h"
#include "relay_http.h"

#define RELAY_STS_MAX_DOMAINS 1000      /* policies kept in memory (least recently used out) */
#define RELAY_STS_MAX_FETCHES 8         /* policy fetches in flight; more wait their turn */
#define RELAY_STS_FETCH_MS    20000     /* a fetch (TLS, HTTP, 64 KiB) takes at most this
                                         * long (relay_http also aborts under 100 B/s for
                                         * 10 s: RELAY_HTTP_LOW_SPEED_*) */
#define RELAY_STS_BACKOFF_MIN_MS 60000u   /* after a failed fetch, that id is not fetched
                                           * again for 1 min, doubled per failure in a row */
#define RELAY_STS_BACKOFF_MAX_MS 3600000u /* ... up to 1 h */
#define RELAY_STS_REFRESH_MAX_MS 86400000u /* refresh a cached policy in the background once
                                            * older than half its max_age, or than a day */

enum relay_sts_status {
    RELAY_STS_NONE,                     /* no policy (no TXT record, mode none, or the TXT
                                         * lookup failed with nothing cached) */
    RELAY_STS_OK,                       /* policy: current (cached and id unchanged, or
                                         * just fetched) */
    RELAY_STS_STALE,                    /* policy: the cached one, still within max_age,
                                         * because the refresh failed (DNS or fetch) */
    RELAY_STS_FAILED,                   /* a TXT record but no valid policy (fetch or parse
                                         * failed, nothing usable cached): failure says why */
    RELAY_STS_CANCELED,                 /* relay_sts_close: the stop */
};

/* relay_sts_result.failure when our mta_sts_trusted_ca_file failed (never
 * an RFC 8460 type: always with told) */
#define RELAY_STS_FAILURE_LOCAL "local-trust-store"

struct relay_sts_result {
    enum relay_sts_status status;
    struct sts_policy *policy;          /* borrowed (ref to keep); only with OK / STALE;
                                         * its mode is testing or enforce */
    const char *failure;                /* static: RFC 8460 result type of a failed fetch
                                         * or parse (sts-policy-fetch-error,
                                         * sts-policy-invalid, sts-webpki-invalid), also
                                         * with STALE; RELAY_STS_FAILURE_LOCAL: our own
                                         * trust store failed; or NULL */
    bool    told;                       /* failure is not new (the back-off repeats the
                                         * last one) or is ours: not for TLS-RPT */
    const char *why;                    /* a short text for logs and TLS-RPT (printable
                                         * ASCII; valid during the callback), or NULL */
};

typedef void relay_sts_cb(void *arg, const struct relay_sts_result *res);
struct relay_sts;
struct relay_sts_lookup;

/* relay_sts.c */
/*
 * A policy cache on loop.  resolver points to where the owner keeps its
 * current DNS resolver (read at every query, so a reload's new resolver is
 * used; NULL there: DNS fails as transient).  cache_dir (copied; NULL:
 * memory only) holds one file per policy domain; http is the loop's HTTP
 * client (borrowed; it must outlive the cache).  now_ms is the wall clock
 * in ms (NULL: the real one; tests inject theirs).
 */
struct relay_sts *relay_sts_new(uv_loop_t *loop, struct dns_resolver *const *resolver,
                                struct relay_http *http, const char *cache_dir,
                                uint64_t (*now_ms)(void));
/*
 * The policy of domain (any case); ca_file: the WebPKI anchors of the
 * policy host (copied; NULL: the system store).  Concurrent lookups of one
 * domain share one fetch.
 */
struct relay_sts_lookup *relay_sts_lookup(struct relay_sts *s, const char *domain,
                                          const char *ca_file, relay_sts_cb *cb, void *arg);
/* cb is not called; l is freed (forget it).  Not from inside a callback of a
 * lookup of the same domain (its own included). */
void    relay_sts_cancel(struct relay_sts_lookup *l);
/* At most max_domains policies in memory (default RELAY_STS_MAX_DOMAINS; tests lower it). */
void    relay_sts_limit(struct relay_sts *s, size_t max_domains);
/* Cache file reads and writes in flight on the pool (tests wait for 0). */
unsigned relay_sts_io_pending(const struct relay_sts *s);
/* Policy fetches in flight or waiting for a slot, background refreshes
 * included (tests wait for 0). */
unsigned relay_sts_fetches_pending(const struct relay_sts *s);
/* End every lookup (RELAY_STS_CANCELED), free all, then done(arg), always later. */
void    relay_sts_close(struct relay_sts *s, void (*done)(void *), void *arg);
/* src (NULL: "") into dst (size > 0), every byte outside 0x20..0x7e made
 * '?', truncated to size - 1: a text for logs and TLS-RPT (JSON wants
 * UTF-8; an MX host name or a peer's header may be anything).  Returns dst. */
char   *relay_sts_ascii(char *dst, size_t size, const char *src);
/* "none", "ok", "stale", "failed", "canceled" */
const char *relay_sts_status_name(enum relay_sts_status st);

#endif
