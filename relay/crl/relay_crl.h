/*
 * relay_crl.h - keeping the published CRL set current (SPEC 6.3).
 *
 * One thread with its own libuv loop owns everything about CRLs that
 * touches the disk or the network, and publishes immutable tls_crl_set
 * snapshots (tls_crl_publish) that handshakes check against:
 *
 *  - the files of [transport] crl_directory (PEM or DER, by content),
 *    reloaded when the directory changes (uv_fs_event, plus a rescan
 *    every 60 s for file systems without events) and at SIGHUP;
 *  - with crl_fetch = yes, CRLs fetched from the http CRL distribution
 *    points that handshakes asked for (the tls_crl miss hook), with
 *    libcurl's multi socket API driven by this loop; each is cached on
 *    disk in crl_cache_directory (default: QUEUE/crl-cache; per URL,
 *    H.url holding the URL and H.crl the body as served, H = SHA-256 of
 *    the URL in hex) so a restart does not refetch, refreshed ahead of its
 *    nextUpdate, and refetched with exponential backoff after errors;
 *    with crl_fetch = no the cache is neither used nor written;
 *  - the issuer certificates used to verify CRL signatures: the trust
 *    anchors of trusted_ca_file and the chain certificates of the store.
 *
 * A handshake never waits for any of this: a missing CRL makes the
 * current check "revocation unknown" and starts a fetch for the next one.
 */
#ifndef DOMSEC_RELAY_CRL_H
#define DOMSEC_RELAY_CRL_H

#include "policy_config.h"
#include "tls_crl.h"
#include "tls_ocsp.h"

/* relay_crl.c */
/*
 * Load and publish the first set synchronously (so the first handshake
 * sees the files), then start the thread.  Main thread, after privileges
 * are dropped.  0, or -1 after logging why.
 */
int     relay_crl_start(const struct config *cfg);
/* SIGHUP: take the new configuration's paths and flags, rescan now. */
void    relay_crl_reload(const struct config *cfg);
/* Stop the thread (cancels fetches) and withdraw the set; at exit. */
void    relay_crl_stop(void);
/* When the published set was built (unix seconds); 0 before the first.  Any thread. */
int64_t relay_crl_published(void);
/*
 * The set domsecd would publish now from cfg's files and cache, built
 * synchronously without fetching: for `domsec crl list`.  The caller owns
 * the set (tls_crl_set_unref).  NULL with *why (valid until the next
 * tls_crl call in this thread) if crl_directory exists but cannot be
 * read; bad files are logged as warnings and left out.
 */
struct tls_crl_set *relay_crl_load(const struct config *cfg, const char **why);

/* relay_crl_ocsp.c */
/* One cached OCSP response, for `domsec crl ocsp` (valid during the call). */
struct relay_ocsp_entry {
    const char *url;                    /* the responder it came from */
    const char *file;                   /* the H.ocsp file */
    const struct tls_ocsp_info *info;   /* what it says, unverified */
};
/*
 * Call fn for each response cached in cfg's crl_cache_directory, in file
 * name order (entries whose files do not match are skipped silently).
 * Synchronous, no network.  The number listed, or -1 with errno if the
 * directory exists but cannot be read (a missing one lists nothing).
 */
int     relay_crl_ocsp_list(const struct config *cfg,
                            void (*fn)(const struct relay_ocsp_entry *e, void *arg), void *arg);

/*
 * relay_crl.c internals, exposed for tests/unit/relay_crl_test.c.  Times
 * are unix seconds.
 */
/* Seconds to wait after the failures-th consecutive failure (>= 1): 60 s
 * doubling to 1 h, minus up to a tenth drawn from rnd. */
unsigned relay__crl_backoff(unsigned failures, uint32_t rnd);
/* When to refetch a CRL fetched or loaded at now: 3/4 into its validity,
 * at most a day and at least 60 s from now; at once (now) if stale. */
int64_t relay__crl_refresh_at(int64_t this_update, int64_t next_update, int64_t now);
/* The cache file stem of url: SHA-256 of the URL's bytes, lower-case hex. */
void    relay__crl_cache_name(const char *url, char out[65]);

#endif
