/*
 * relay_crl_int.h - what relay_crl.c (the CRL thread, the directory watch,
 * publishing sets), relay_crl_build.c (a set from files) and
 * relay_crl_fetch.c (the URL table, libcurl on the CRL thread's loop,
 * fetching into the cache) share.  Private to those three files.  Everything here runs on the CRL thread,
 * except where a comment says "main thread": those run while the CRL
 * thread does not exist (in relay_crl_start, or relay_crl_stop after the
 * join).  Times are unix ms unless a comment says seconds.
 */
#ifndef DOMSEC_RELAY_CRL_INT_H
#define DOMSEC_RELAY_CRL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "relay_crl.h"

#define RELAY__CRL_MAX_BODY    (10L * 1024 * 1024)  /* bytes of one CRL, fetched or cached */
#define RELAY__CRL_MIN_REFETCH 60       /* s: no refetch sooner after a success */
#define RELAY__CRL_URL_MAX     1024     /* bytes of a distribution point URL */
#define RELAY__OCSP_REQ_MAX    1024     /* bytes of an OCSP request (one CertID: ~100) */
#define RELAY__OCSP_MAX_BODY   (64L * 1024)  /* bytes of one OCSP response, fetched or
                                              * cached (one is normally under 4 KiB) */

/* What the CRL thread takes from a configuration (all owned). */
struct crl_paths {
    char   *crl_directory;
    char   *cache_directory;            /* resolved: never NULL */
    char   *trusted_ca_file;
    char   *certificate_store;
    char  **partner_ca_files;           /* each [partner] trusted_ca_file (owned) */
    size_t  npartner_ca_files;
    bool    fetch;
};

/* relay_crl_build.c */
struct config;
struct tls_crl_set;
/* Copy what the CRL code needs from cfg (owned; free with relay__crl_paths_free). */
struct crl_paths *relay__crl_paths_new(const struct config *cfg);
void    relay__crl_paths_free(struct crl_paths *p);
/* The set from p's files.  need_dir: NULL with *why when crl_directory
 * cannot be read; otherwise that is logged and skipped. */
struct tls_crl_set *relay__crl_build(const struct crl_paths *p, bool need_dir,
                                     const char **why);

/* relay_crl.c */
/* Wall clock in ms (CRL dates are wall-clock). */
int64_t relay__crl_now_ms(void);
/* Unix seconds t as ISO 8601 UTC in buf, "-" for 0; returns buf. */
/* Rebuild and publish within 200 ms, coalescing what comes meanwhile;
 * force: even if no file changed. */
void    relay__crl_kick(bool force);
/* The close_cb for every handle of the CRL loop: frees the ones allocated
 * one by one (uv_poll_t, uv_fs_event_t, each the first member of its block). */
void    relay__crl_closed(uv_handle_t *h);

/* relay_crl_ocsp.c */
/* The cache file stem of an OCSP request: SHA-256 of its DER, lower-case hex
 * (also the tls_ocsp cache key). */
void    relay__crl_ocsp_name(const unsigned char *req, size_t len, char out[65]);
/* A fetched OCSP body for request name (H) of url: "" in why when it was
 * accepted (put in the tls_ocsp cache, written to dir as H.url, H.req,
 * H.ocsp; a write error is a reason too, after the cache put), else the
 * reason; *refresh: when to fetch it again (unix s), 0 if not accepted.
 * A cached response with a later thisUpdate, or a current cached "revoked"
 * against anything else, is kept: then the reason says so and *refresh is
 * the cached one's. */
void    relay__crl_ocsp_accept(const char *dir, const char *name, const char *url,
                               const unsigned char *req, size_t req_len,
                               const unsigned char *body, size_t len, int64_t now,
                               int64_t *refresh, char *why, size_t sz);
/* Main thread, in relay_crl_start with fetch: the responses cached in dir
 * into the tls_ocsp cache, each due for refresh (now in unix s); those out
 * of use for more than a week are removed instead. */
void    relay__crl_ocsp_load(const char *dir, int64_t now);
/* Remove H.ocsp, H.req and H.url of stem H from dir (a failure is logged). */
void    relay__crl_ocsp_unlink(const char *dir, const char *stem);

/* relay_crl_fetch.c */
/* mkdir -p dir, new components mode 0700 (log_path.h): 0 or -1 (logged). */
int     relay__crl_mkdirs(const char *dir);
/* A handshake found no usable OCSP response: POST req (copied) to url unless
 * that is pointless now (in flight, in backoff, fetched < 60 s ago). */
void    relay__crl_want_ocsp(const char *url, const unsigned char *req, size_t len,
                             int64_t now);
/* The OCSP request req for url is due at due (ms; a cached response's
 * refresh time), unless it is in flight. */
void    relay__crl_ocsp_due(const char *url, const unsigned char *req, size_t len,
                            int64_t due);
/* Main thread, first in relay_crl_start: libcurl's global state.  0, or
 * -1 after logging why. */
int     relay__crl_fetch_init(void);
/*
 * Main thread, before the loop runs: seed the backoff jitter, create
 * cache_dir if fetch (an error is logged; fetched CRLs then fail to be
 * cached), and initialize the fetch timers on loop.  cache_dir is not
 * copied: it must stay valid until the next relay__crl_fetch_config or
 * relay__crl_fetch_free.
 */
void    relay__crl_fetch_open(uv_loop_t *loop, bool fetch, const char *cache_dir);
/* A reload: take its settings (cache_dir as for relay__crl_fetch_open);
 * without fetch, abandon every transfer and forget every due time. */
void    relay__crl_fetch_config(bool fetch, const char *cache_dir);
/* A new set: each cached CRL's URL is due at relay__crl_refresh_at(). */
void    relay__crl_sync_urls(struct tls_crl_set *s, int64_t now);
/* A handshake missed url: make it due unless that is pointless now. */
void    relay__crl_want(const char *url, int64_t now);
/* Start due fetches (up to the limit); arm the timer for the next one. */
void    relay__crl_schedule(void);
/* The stop request: abandon every transfer, end libcurl's multi handle,
 * schedule nothing more.  The caller then closes every handle of the loop
 * with relay__crl_closed. */
void    relay__crl_fetch_shutdown(void);
/* Main thread, after the join: free the URL table and libcurl's global
 * state. */
void    relay__crl_fetch_free(void);

#endif
