/*
 * relay_crl_ocsp.c - OCSP responses fetched for handshakes, beside CRLs:
 * what a fetched body must be, the on-disk cache, loading it at start.
 *
 *  A handshake that finds no usable response for a verified leaf tells
 *  the tls_ocsp miss hook its AIA OCSP URL and DER request (relay_crl.c
 *  queues them for the CRL thread); relay_crl_fetch.c POSTs the request
 *  to the URL (RFC 6960 A.1, Content-Type application/ocsp-request) with
 *  the CRL fetches' time limits and backoff, but no redirect followed and
 *  at most 64 KiB (RELAY__OCSP_MAX_BODY, also for cached files).  A body is accepted when it is a
 *  successful OCSP response that is not stale (its signature and what it
 *  says are judged by every handshake that uses it, tls_ocsp_check) and
 *  does not replace a cached response with a later thisUpdate, nor a
 *  current cached "revoked" with anything but "revoked": it is
 *  put in the process-wide cache (tls_ocsp_cache_put) and written to
 *  crl_cache_directory as three files named by H = SHA-256 of the request
 *  in lower-case hex: H.url (the URL and a newline), H.req (the DER
 *  request) and H.ocsp (the DER response), each atomically, .ocsp last.
 *  It is refetched at relay__crl_refresh_at() of its thisUpdate and
 *  nextUpdate (3/4 into its validity, at most a day ahead), so a good
 *  response never goes stale while the process runs.  At start the cached
 *  responses go into the cache again and are refreshed the same way, except
 *  those out of use for more than a week (past nextUpdate, or a day after
 *  thisUpdate without one; or unusable, which a stale one is to wolfSSL's
 *  parser, and not written for a week), whose files are removed; at most 1000
 *  requests are kept for fetching (relay_crl_fetch.c drops the one
 *  fetched longest ago, and its files, for a new one); an
 *  entry whose files do not match (H.req not hashing to H, no H.url) is
 *  skipped with a warning.  With crl_fetch = no nothing is fetched, read
 *  or written here.
 *
 * relay_crl_ocsp_list() reads the same files for `domsec crl ocsp`.
 *
 * CONTRACT
 *  relay__crl_ocsp_accept runs on the CRL thread and blocks on three
 *  small file writes; relay__crl_ocsp_load runs on the main thread in
 *  relay_crl_start before the CRL thread exists.  Inputs are only read;
 *  nothing is kept but what tls_ocsp_cache_put copies.  No callbacks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_util.h"
#include "relay_crl_int.h"
#include "tls_ocsp.h"

#define OCSP_EXPIRED_GRACE (7 * 86400)  /* seconds a stale cached response is kept */

/* relay__crl_ocsp_name - the cache name of a request: SHA-256 in hex */

void relay__crl_ocsp_name(const unsigned char *req, size_t len, char out[65])
{
    unsigned char key[32];

    tls_ocsp_key(req, len, key);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* ocsp_key_of - the 32 key bytes of a 64-hex-digit name */

static void ocsp_key_of(const char *name, unsigned char key[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;

        sscanf(name + 2 * i, "%2x", &v);
        key[i] = (unsigned char)v;
    }
}

/*
 * ocsp_keep_cached - whether the cached response for key stays instead of a
 * fetched one saying in: when the fetched one is older (thisUpdate), or the
 * cached one is current and says revoked and the fetched one does not
 * (revocation is final: an old signed "good" replayed over plain http must
 * not undo it).  Then why and *refresh (the cached one's) are set.  The
 * cached one was not verified when it came (nothing here knows the
 * certificate); one that does not verify, is stale or says unknown is
 * forgotten at its first use (tls_ocsp_check_chain), so a planted answer
 * cannot keep the next genuine one out.
 */
static bool ocsp_keep_cached(const unsigned char key[32], const struct tls_ocsp_info *in,
                             int64_t now, int64_t *refresh, char *why, size_t sz)
{
    struct tls_ocsp_info cur;
    size_t  clen = 0;
    unsigned char *cached = tls_ocsp_cache_get(key, &clen);
    bool    have = cached != NULL && tls_ocsp_info(cached, clen, &cur) == 0, keep = false;
    char    t[32];

    free(cached);
    if (have && in->this_update < cur.this_update) {
        snprintf(why, sz, "the OCSP response is older than the cached one (thisUpdate %s): "
                 "kept the cached one", log_iso_time(t, sizeof(t), in->this_update, "-"));
        keep = true;
    } else if (have && strcmp(cur.status, "revoked") == 0
               && strcmp(in->status, "revoked") != 0
               && (cur.next_update == 0 || cur.next_update > now)) {
        snprintf(why, sz, "the OCSP response says %s, the cached current one revoked: "
                 "kept the cached one", in->status);
        keep = true;
    }
    if (keep)
        *refresh = relay__crl_refresh_at(cur.this_update, cur.next_update, now);
    return keep;
}

/*
 * relay__crl_ocsp_accept - check a fetched body, cache it in memory and on
 * disk; "" or the reason in why; *refresh: when to fetch again (unix s)
 */
void relay__crl_ocsp_accept(const char *dir, const char *name, const char *url,
                            const unsigned char *req, size_t req_len,
                            const unsigned char *body, size_t len, int64_t now,
                            int64_t *refresh, char *why, size_t sz)
{
    struct tls_ocsp_info in;
    unsigned char key[32];
    char    file[80], t[32], *urltext;

    *refresh = 0;
    if (len == 0) {
        snprintf(why, sz, "the body is empty");
        return;
    }
    if (tls_ocsp_info(body, len, &in) < 0) {
        snprintf(why, sz, "the body is not a successful OCSP response");
        return;
    }
    if (in.next_update != 0 && in.next_update <= now) {
        snprintf(why, sz, "the OCSP response is stale (nextUpdate %s)",
                 log_iso_time(t, sizeof(t), in.next_update, "-"));
        return;
    }
    if (in.this_update > now + 300) {   /* 5 minutes of clock skew */
        snprintf(why, sz, "the OCSP response's thisUpdate %s is in the future",
                 log_iso_time(t, sizeof(t), in.this_update, "-"));
        return;
    }
    ocsp_key_of(name, key);
    if (ocsp_keep_cached(key, &in, now, refresh, why, sz))
        return;
    tls_ocsp_cache_put(key, body, len);
    *refresh = relay__crl_refresh_at(in.this_update, in.next_update, now);
    urltext = xasprintf("%s\n", url);
    snprintf(file, sizeof(file), "%s.url", name);
    if (relay__crl_mkdirs(dir) < 0 || log_write_file(dir, file, urltext, strlen(urltext)) < 0
        || (snprintf(file, sizeof(file), "%s.req", name),
            log_write_file(dir, file, req, req_len)) < 0
        || (snprintf(file, sizeof(file), "%s.ocsp", name),
            log_write_file(dir, file, body, len)) < 0)
        snprintf(why, sz, "cannot write %s/%s: %s", dir, file, strerror(errno));
    free(urltext);
}

/* ocsp_is_cached - "<64 hex>.ocsp" */

static bool ocsp_is_cached(const char *name)
{
    return strlen(name) == 69 && strspn(name, "0123456789abcdef") == 64
           && strcmp(name + 64, ".ocsp") == 0;
}

/* One cache entry as read (all owned). */
struct ocsp_cached {
    char   *url;
    unsigned char *req, *body;
    size_t  req_len, len;
    struct tls_ocsp_info info;
};

/* ocsp_read - the files of cache entry stem; NULL (c filled) or why */

static const char *ocsp_read(const char *dir, const char *stem, struct ocsp_cached *c)
{
    char   *p, name[65];
    size_t  ulen;
    const char *why = NULL;

    memset(c, 0, sizeof(*c));
    p = xasprintf("%s/%.64s.req", dir, stem);
    if (log_read_file(p, RELAY__OCSP_REQ_MAX, &c->req, &c->req_len, NULL) < 0)
        why = "its .req file cannot be read";
    free(p);
    if (why == NULL && (relay__crl_ocsp_name(c->req, c->req_len, name),
                        strncmp(name, stem, 64) != 0))
        why = "its .req file hashes to another name";
    p = xasprintf("%s/%.64s.url", dir, stem);
    if (why == NULL && log_read_file(p, RELAY__CRL_URL_MAX, (unsigned char **)&c->url, &ulen,
                                     NULL) < 0)
        why = "its .url file cannot be read";
    free(p);
    p = xasprintf("%s/%.64s.ocsp", dir, stem);
    if (why == NULL && log_read_file(p, RELAY__OCSP_MAX_BODY, &c->body, &c->len, NULL) < 0)
        why = "it cannot be read";
    free(p);
    if (why == NULL && tls_ocsp_info(c->body, c->len, &c->info) < 0)
        why = "it is not a successful OCSP response";
    if (why == NULL)
        c->url[strcspn(c->url, "\r\n")] = '\0';
    return why;
}

/* ocsp_cached_free - release what ocsp_read read */

static void ocsp_cached_free(struct ocsp_cached *c)
{
    free(c->url);
    free(c->req);
    free(c->body);
}

/* ocsp_expired - c's response went out of use more than a week before now
 * (past nextUpdate, or a day after thisUpdate without one: tls_ocsp_check) */

static bool ocsp_expired(const struct ocsp_cached *c, int64_t now)
{
    int64_t end = c->info.next_update != 0 ? c->info.next_update
        : c->info.this_update + 86400;

    return end + OCSP_EXPIRED_GRACE < now;
}

/* ocsp_file_age - seconds since stem's .ocsp was written (a fetch rewrites
 * it), 0 if unknown */

static int64_t ocsp_file_age(const char *dir, const char *stem, int64_t now)
{
    char   *p = xasprintf("%s/%.64s.ocsp", dir, stem);
    struct stat st;
    int64_t age = lstat(p, &st) == 0 ? now - (int64_t)st.st_mtime : 0;

    free(p);
    return age;
}

/* relay__crl_ocsp_unlink - remove the files of cache entry stem */

void relay__crl_ocsp_unlink(const char *dir, const char *stem)
{
    static const char *const ext[] = { "ocsp", "req", "url" };

    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        char   *p = xasprintf("%s/%.64s.%s", dir, stem, ext[i]);

        if (unlink(p) < 0 && errno != ENOENT)
            log_warnx("crl", 0, "cannot remove %s: %s", p, strerror(errno));
        free(p);
    }
}

/* ocsp_load_one - one cache entry into the cache and the fetch table; NULL or
 * why; one long out of use (no longer wanted: the certificate expired or was
 * replaced), or unusable (wolfSSL does not even parse a response past its
 * nextUpdate) and not rewritten by a fetch for a week, is removed instead,
 * with *gone set */

static const char *ocsp_load_one(const char *dir, const char *stem, int64_t now, bool *gone)
{
    struct ocsp_cached c;
    const char *why = ocsp_read(dir, stem, &c);

    *gone = false;
    if (why != NULL && ocsp_file_age(dir, stem, now) > OCSP_EXPIRED_GRACE) {
        relay__crl_ocsp_unlink(dir, stem);      /* unusable and not rewritten for long */
        *gone = true;
        why = NULL;
    } else if (why == NULL && ocsp_expired(&c, now)) {
        relay__crl_ocsp_unlink(dir, stem);
        *gone = true;
    } else if (why == NULL) {
        unsigned char key[32];

        ocsp_key_of(stem, key);
        tls_ocsp_cache_put(key, c.body, c.len);
        relay__crl_ocsp_due(c.url, c.req, c.req_len,
                            relay__crl_refresh_at(c.info.this_update, c.info.next_update, now)
                            * 1000);
    }
    ocsp_cached_free(&c);
    return why;
}

/* relay__crl_ocsp_load - the cached responses of dir into the cache, due for refresh */

void relay__crl_ocsp_load(const char *dir, int64_t now)
{
    size_t  n, loaded = 0, removed = 0;
    char  **names = log_dir_names(dir, ocsp_is_cached, &n);

    for (size_t i = 0; i < n; i++) {
        bool    gone;
        const char *why = ocsp_load_one(dir, names[i], now, &gone);

        if (why != NULL)
            log_warnx("crl", 0, "cache file %s/%s skipped: %s", dir, names[i], why);
        else if (gone)
            removed++;
        else
            loaded++;
    }
    if (loaded > 0)
        log_info("crl", 0, "ocsp cache loaded responses=%zu", loaded);
    if (removed > 0)
        log_info("crl", 0, "ocsp cache removed expired=%zu", removed);
    log_dir_names_free(names, n);
}

/* relay_crl_ocsp_list - the cached responses of cfg's cache directory */

int relay_crl_ocsp_list(const struct config *cfg,
                        void (*fn)(const struct relay_ocsp_entry *e, void *arg), void *arg)
{
    struct crl_paths *p = relay__crl_paths_new(cfg);
    size_t  n, listed = 0;
    char  **names = log_dir_names(p->cache_directory, ocsp_is_cached, &n);

    if (names == NULL && errno != ENOENT) {
        relay__crl_paths_free(p);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct ocsp_cached c;
        char   *file = xasprintf("%s/%s", p->cache_directory, names[i]);

        if (ocsp_read(p->cache_directory, names[i], &c) == NULL) {
            struct relay_ocsp_entry e = { c.url, file, &c.info };

            fn(&e, arg);
            listed++;
        }
        ocsp_cached_free(&c);
        free(file);
    }
    log_dir_names_free(names, n);
    relay__crl_paths_free(p);
    return (int)listed;
}
