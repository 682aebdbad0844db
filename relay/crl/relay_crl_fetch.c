/*
 * relay_crl_fetch.c - fetching the CRLs of CDP URLs into the cache, for
 * relay_crl.c: the URL table, libcurl's multi socket API on the CRL
 * thread's loop, backoff and refresh scheduling, cache writes.  The table
 * also holds OCSP requests (one entry per request, POSTed to its AIA URL;
 * relay__crl_want_ocsp), whose bodies relay_crl_ocsp.c accepts and caches
 * and whose refresh time comes from the response; the limits, backoff and
 * miss rules below are the same for both.
 *
 * Fetching: only http:// URLs that a handshake missed (relay__crl_want,
 * fed by relay_crl.c's tls_crl miss hook) or that the cache holds
 * (relay__crl_sync_urls); at most 4 at once and 1000 CRL URLs (OCSP
 * requests apart, at most 1000: a new one drops the one fetched longest
 * ago, with its cache files); 10 s connect,
 * 30 s total, 10 MiB body (OCSP: 64 KiB), redirects only to http (OCSP:
 * none), no proxy.  A body must
 * parse as a CRL that is not stale.  Success: cache it and make
 * relay_crl.c rebuild (relay__crl_kick), whose relay__crl_sync_urls sets
 * the refetch time to relay__crl_refresh_at().  Failure: retry after
 * relay__crl_backoff().  A miss for a URL in flight, in backoff, or
 * fetched less than 60 s ago is dropped (that handshake sees "unknown").
 *
 * Cache writes (crl_cache_directory, created mode 0700; the format is
 * described in relay_crl.c, which reads it): H.url, then H.crl, each
 * written by log_write_file (a temporary .NAME.PID.N.tmp, fsynced and
 * renamed into place, the directory fsynced).  All of it runs
 * after the privilege drop, as the [service] user; the directory is still
 * created with log_path.h's walk, like the queue and the logs.
 *
 * CONTRACT
 *  Everything runs on the CRL thread's loop, except relay__crl_fetch_init,
 *  relay__crl_fetch_open and relay__crl_fetch_free, which run on the main
 *  thread while the CRL thread does not exist.  URLs are copied; the cache
 *  directory is borrowed from relay_crl.c's copy of the configuration
 *  (valid until the next relay__crl_fetch_config); sets are only read.
 *  relay__crl_fetch_init returns 0, or -1 after logging; nothing else
 *  returns a result: a transfer that cannot be started stays due and is
 *  tried again a second later.  No function here takes a callback.
 *  libcurl calls crl_socket_cb and crl_timer_cb from inside curl_multi_*
 *  calls (curl_multi_add_handle included); they only adjust uv handles.
 *  Finished transfers are collected only from uv callbacks, never inside
 *  relay__crl_schedule.  Cancel: relay__crl_fetch_config without fetch and
 *  relay__crl_fetch_shutdown abandon every transfer in flight, and nothing
 *  is cached or logged for them; after the shutdown nothing is scheduled
 *  again.  Cache writes block the CRL thread (two small files per
 *  successful fetch).  Log lines: subsystem "crl", events "fetch",
 *  "fetch failed" and "fetch refused"; see domsec.conf(5).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "log_util.h"
#include "log_path.h"
#include "relay_crl_int.h"

#define CRL_MAX_URLS      1000          /* CRL URLs */
#define OCSP_MAX_REQS     1000          /* OCSP requests, apart: they never crowd out CRLs */
#define CRL_MAX_FETCHES   4

/* Fetch state of one CDP URL, or of one OCSP request (post); times are
 * unix ms, 0 = none. */
struct crl_url {
    char   *url;                        /* owned */
    unsigned char *post;                /* owned: the DER OCSP request, or NULL (a CRL) */
    size_t  post_len;
    char    name[65];                   /* cache file stem */
    int64_t last_ok;                    /* last successful fetch */
    int64_t due;                        /* fetch when now >= due */
    int64_t retry_at;                   /* in backoff until then */
    unsigned failures;                  /* consecutive */
    bool    in_flight;
};

/* One transfer in flight. */
struct crl_fetch {
    struct crl_fetch *next;
    struct crl_url *u;                  /* not owned */
    CURL   *easy;                       /* owned */
    char   *body;                       /* owned */
    size_t  len;
    struct curl_slist *headers;         /* owned: the OCSP POST's Content-Type */
    bool    too_big;
    char    err[CURL_ERROR_SIZE];
};

/* A uv_poll for one curl socket; freed in close_cb (first member). */
struct crl_sock {
    uv_poll_t poll;
    curl_socket_t fd;
};

/* All of it belongs to the CRL thread (and to start/stop around it). */
static struct {
    uv_loop_t *loop;                    /* the CRL thread's; not owned */
    bool    fetch;                      /* crl_fetch of the configuration in use */
    const char *cache_directory;        /* not owned: relay_crl.c's copy */
    bool    stopping;                   /* the loop is closing */
    uv_timer_t fetch_timer, curl_timer;
    struct crl_url **urls;              /* owned, as is each entry */
    size_t  nurls;
    size_t  nocsp;                      /* of which OCSP requests */
    int64_t full_warned;
    CURLM  *multi;
    struct crl_fetch *fetches;
    size_t  nflight;
    uint64_t rnd;
} F;

/* ---- the URL table ------------------------------------------------------------ */

static struct crl_url *crl_url_add(const char *url, bool ocsp);

/* crl_url_get - the entry for url; created if create and room; else NULL */

static struct crl_url *crl_url_get(const char *url, bool create)
{
    for (size_t i = 0; i < F.nurls; i++)
        if (F.urls[i]->post == NULL && strcmp(F.urls[i]->url, url) == 0)
            return F.urls[i];
    if (!create)
        return NULL;
    return crl_url_add(url, false);
}

/* crl_ocsp_evict - drop the OCSP entry fetched longest ago (never fetched
 * first) that is not in flight, and its cache files; false if none */

static bool crl_ocsp_evict(void)
{
    size_t  best = F.nurls;

    for (size_t i = 0; i < F.nurls; i++)
        if (F.urls[i]->post != NULL && !F.urls[i]->in_flight
            && (best == F.nurls || F.urls[i]->last_ok < F.urls[best]->last_ok))
            best = i;
    if (best == F.nurls)
        return false;
    relay__crl_ocsp_unlink(F.cache_directory, F.urls[best]->name);
    log_info("crl", 0, "ocsp dropped url=%s request=%.16s (more than %d requests)",
             F.urls[best]->url, F.urls[best]->name, OCSP_MAX_REQS);
    free(F.urls[best]->url);
    free(F.urls[best]->post);
    free(F.urls[best]);
    F.urls[best] = F.urls[--F.nurls];
    F.nocsp--;
    return true;
}

/* crl_url_add - a new entry for url (an OCSP request: the caller sets post),
 * or NULL if the table is full (CRLs; OCSP requests evict the oldest) */

static struct crl_url *crl_url_add(const char *url, bool ocsp)
{
    struct crl_url *u;

    if (ocsp ? F.nocsp >= OCSP_MAX_REQS && !crl_ocsp_evict()
        : F.nurls - F.nocsp >= CRL_MAX_URLS) {
        int64_t now = relay__crl_now_ms();

        if (now - F.full_warned >= 3600000) {
            F.full_warned = now;
            log_warnx("crl", 0, "fetch refused url=%s error=\"more than %d distinct %s\"",
                      url, ocsp ? OCSP_MAX_REQS : CRL_MAX_URLS,
                      ocsp ? "OCSP requests" : "CRL URLs");
        }
        return NULL;
    }
    u = xcalloc(1, sizeof(*u));
    u->url = xstrdup(url);
    relay__crl_cache_name(url, u->name);
    F.urls = xrealloc(F.urls, (F.nurls + 1) * sizeof(*F.urls));
    F.urls[F.nurls++] = u;
    F.nocsp += ocsp;
    return u;
}

/* crl_ocsp_get - the entry of an OCSP request (by its hash), created if room */

static struct crl_url *crl_ocsp_get(const char *url, const unsigned char *req, size_t len)
{
    char    name[65];
    struct crl_url *u;

    relay__crl_ocsp_name(req, len, name);
    for (size_t i = 0; i < F.nurls; i++)
        if (F.urls[i]->post != NULL && strcmp(F.urls[i]->name, name) == 0)
            return F.urls[i];
    if ((u = crl_url_add(url, true)) != NULL) {
        memcpy(u->name, name, sizeof(name));
        u->post = xmalloc(len);
        memcpy(u->post, req, len);
        u->post_len = len;
    }
    return u;
}

/* relay__crl_want_ocsp - a handshake found no usable OCSP response */

void relay__crl_want_ocsp(const char *url, const unsigned char *req, size_t len, int64_t now)
{
    struct crl_url *u;

    if (!F.fetch || (u = crl_ocsp_get(url, req, len)) == NULL || u->in_flight)
        return;
    if (u->retry_at > now
        || (u->last_ok != 0 && now - u->last_ok < RELAY__CRL_MIN_REFETCH * 1000))
        return;
    u->due = now;
}

/* relay__crl_ocsp_due - a cached OCSP response is to be refreshed at due */

void relay__crl_ocsp_due(const char *url, const unsigned char *req, size_t len, int64_t due)
{
    struct crl_url *u;

    if (F.fetch && (u = crl_ocsp_get(url, req, len)) != NULL && !u->in_flight)
        u->due = due;
}

/* relay__crl_sync_urls - refresh times from the cached CRLs of a new set */

void relay__crl_sync_urls(struct tls_crl_set *s, int64_t now)
{
    for (size_t i = 0; F.fetch && i < tls_crl_set_count(s); i++) {
        struct tls_crl_info in;
        struct crl_url *u;

        tls_crl_set_info(s, i, now / 1000, &in);
        if (in.url == NULL || (u = crl_url_get(in.url, true)) == NULL)
            continue;
        if (!u->in_flight && u->retry_at <= now)
            u->due = relay__crl_refresh_at(in.this_update, in.next_update, now / 1000) * 1000;
    }
}

/* relay__crl_want - a handshake missed url: fetch it unless that is pointless now */

void relay__crl_want(const char *url, int64_t now)
{
    struct crl_url *u;

    if (!F.fetch || (u = crl_url_get(url, true)) == NULL || u->in_flight)
        return;
    if (u->retry_at > now
        || (u->last_ok != 0 && now - u->last_ok < RELAY__CRL_MIN_REFETCH * 1000))
        return;
    u->due = now;
}

/* ---- libcurl on this loop ------------------------------------------------------ */

static void crl_check_multi(void);

/* crl_sock_event - a curl socket is ready: let curl act on it */

static void crl_sock_event(uv_poll_t *p, int status, int events)
{
    struct crl_sock *cs = (struct crl_sock *)p;
    int flags = status < 0 ? CURL_CSELECT_ERR
                : (events & UV_READABLE ? CURL_CSELECT_IN : 0)
                  | (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    int running;

    curl_multi_socket_action(F.multi, cs->fd, flags, &running);
    crl_check_multi();
}

/* crl_socket_cb - CURLMOPT_SOCKETFUNCTION: mirror curl's interest in uv_poll */

static int crl_socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
    struct crl_sock *cs = sockp;
    int ev = 0;

    if (what == CURL_POLL_REMOVE) {
        if (cs != NULL) {
            uv_poll_stop(&cs->poll);
            uv_close((uv_handle_t *)&cs->poll, relay__crl_closed);
            curl_multi_assign(F.multi, fd, NULL);
        }
        return 0;
    }
    if (cs == NULL) {
        cs = xcalloc(1, sizeof(*cs));
        cs->fd = fd;
        if (uv_poll_init_socket(F.loop, &cs->poll, fd) < 0) {
            free(cs);
            return -1;
        }
        curl_multi_assign(F.multi, fd, cs);
    }
    ev |= what == CURL_POLL_IN || what == CURL_POLL_INOUT ? UV_READABLE : 0;
    ev |= what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? UV_WRITABLE : 0;
    uv_poll_start(&cs->poll, ev, crl_sock_event);
    return 0;
}

/* crl_curl_timeout - curl's timer fired */

static void crl_curl_timeout(uv_timer_t *t)
{
    int running;

    curl_multi_socket_action(F.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    crl_check_multi();
}

/* crl_timer_cb - CURLMOPT_TIMERFUNCTION: one uv timer for curl */

static int crl_timer_cb(CURLM *m, long ms, void *userp)
{
    if (ms < 0)
        uv_timer_stop(&F.curl_timer);
    else
        uv_timer_start(&F.curl_timer, crl_curl_timeout, (uint64_t)ms, 0);
    return 0;
}

/* crl_max_body - the largest body accepted for u: a CRL, or an OCSP response */

static long crl_max_body(const struct crl_url *u)
{
    return u->post != NULL ? RELAY__OCSP_MAX_BODY : RELAY__CRL_MAX_BODY;
}

/* crl_write_cb - CURLOPT_WRITEFUNCTION: append, at most crl_max_body */

static size_t crl_write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct crl_fetch *f = arg;

    if (f->len + n > (size_t)crl_max_body(f->u)) {
        f->too_big = true;
        return 0;                       /* aborts with CURLE_WRITE_ERROR */
    }
    f->body = xrealloc(f->body, f->len + n + 1);
    memcpy(f->body + f->len, p, n);
    f->len += n;
    return n;
}

/* ---- fetching ------------------------------------------------------------------ */

/* relay__crl_mkdirs - mkdir -p dir, new components mode 0700 (log_path.h) */

int relay__crl_mkdirs(const char *dir)
{
    int fd = log_path_open("crl", dir, 0700, LOG_PATH_MKDIRS);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* crl_accept - check and cache a 200 body; "" or the reason in why */

static void crl_accept(struct crl_fetch *f, int64_t now, char *why, size_t sz)
{
    struct tls_crl_set *scratch = tls_crl_set_new();
    const char *err = NULL, *dir = F.cache_directory;
    struct tls_crl_info in;
    char *urltext, name[80], t[32];

    if (f->len == 0) {
        snprintf(why, sz, "the body is empty");
    } else if (tls_crl_set_add(scratch, (unsigned char *)f->body, f->len, f->u->url,
                               f->u->url, &err) < 0) {
        snprintf(why, sz, "the body is not a CRL: %s", err ? err : "?");
    } else if (tls_crl_set_info(scratch, 0, now / 1000, &in), in.next_update != 0
               && in.next_update <= now / 1000) {
        snprintf(why, sz, "the CRL is stale (nextUpdate %s)",
                 log_iso_time(t, sizeof(t), in.next_update, "-"));
    } else {
        urltext = xasprintf("%s\n", f->u->url);
        snprintf(name, sizeof(name), "%s.url", f->u->name);
        if (relay__crl_mkdirs(dir) < 0 || log_write_file(dir, name, urltext, strlen(urltext)) < 0
            || (snprintf(name, sizeof(name), "%s.crl", f->u->name),
                log_write_file(dir, name, f->body, f->len)) < 0)
            snprintf(why, sz, "cannot write %s/%s: %s", dir, name, strerror(errno));
        free(urltext);
    }
    tls_crl_set_unref(scratch);
}

/* crl_fetch_done - a transfer ended: log, cache, schedule the next one */

static void crl_fetch_done(struct crl_fetch *f, CURLcode rc)
{
    struct crl_url *u = f->u;
    int64_t now = relay__crl_now_ms();
    long status = 0;
    int64_t refresh = 0;
    char why[CURL_ERROR_SIZE + 64] = "";

    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (f->too_big)
        snprintf(why, sizeof(why), "the response is larger than %ld bytes",
                 crl_max_body(u));
    else if (rc != CURLE_OK)
        snprintf(why, sizeof(why), "%s", f->err[0] ? f->err : curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(why, sizeof(why), "HTTP status %ld", status);
    else if (u->post != NULL)
        relay__crl_ocsp_accept(F.cache_directory, u->name, u->url, u->post, u->post_len,
                               (unsigned char *)f->body, f->len, now / 1000, &refresh, why,
                               sizeof(why));
    else
        crl_accept(f, now, why, sizeof(why));
    u->in_flight = false;
    if (why[0] != '\0') {
        unsigned wait;

        F.rnd = F.rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        wait = relay__crl_backoff(++u->failures, (uint32_t)(F.rnd >> 33));
        u->retry_at = u->due = now + (int64_t)wait * 1000;
        for (char *c = why; *c; c++)
            *c = *c == '"' || (unsigned char)*c < 0x20 ? '\'' : *c;
        log_warnx("crl", 0, "%sfetch failed url=%s error=\"%s\" retry_in=%us",
                  u->post ? "ocsp " : "", u->url, why, wait);
        if (refresh != 0)               /* cached in memory, only the disk failed */
            u->retry_at = 0, u->due = refresh * 1000;
    } else if (u->post != NULL) {
        u->failures = 0;
        u->retry_at = 0;
        u->last_ok = now;
        u->due = refresh * 1000;
        log_info("crl", 0, "ocsp fetch url=%s request=%.16s status=%ld bytes=%zu", u->url,
                 u->name, status, f->len);
    } else {
        u->failures = 0;
        u->retry_at = 0;
        u->last_ok = now;
        u->due = now + RELAY__CRL_MIN_REFETCH * 1000;  /* relay__crl_sync_urls: the real time */
        log_info("crl", 0, "fetch url=%s status=%ld bytes=%zu", u->url, status, f->len);
        relay__crl_kick(true);
    }
}

/* crl_check_multi - collect finished transfers */

static void crl_check_multi(void)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(F.multi, &left)) != NULL) {
        struct crl_fetch *f = NULL, **pp;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
        for (pp = &F.fetches; *pp != f; pp = &(*pp)->next)
            ;
        *pp = f->next;
        F.nflight--;
        crl_fetch_done(f, m->data.result);
        curl_multi_remove_handle(F.multi, f->easy);
        curl_easy_cleanup(f->easy);
        curl_slist_free_all(f->headers);
        free(f->body);
        free(f);
    }
    relay__crl_schedule();
}

/* crl_fetch_start - start fetching u; 0, or -1 (u stays due) */

static int crl_fetch_start(struct crl_url *u)
{
    struct crl_fetch *f;

    if (F.multi == NULL) {
        if ((F.multi = curl_multi_init()) == NULL)
            return -1;
        curl_multi_setopt(F.multi, CURLMOPT_SOCKETFUNCTION, crl_socket_cb);
        curl_multi_setopt(F.multi, CURLMOPT_TIMERFUNCTION, crl_timer_cb);
    }
    f = xcalloc(1, sizeof(*f));
    f->u = u;
    if ((f->easy = curl_easy_init()) == NULL) {
        free(f);
        return -1;
    }
    curl_easy_setopt(f->easy, CURLOPT_URL, u->url);
    curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(f->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http");
    /* An OCSP POST follows no redirect: a 307/308 would re-POST our request
     * to whatever http:// host the answer names (loopback, internal ones). */
    curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, u->post != NULL ? 0L : 1L);
    curl_easy_setopt(f->easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(f->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(f->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)crl_max_body(u));
    curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "domsec/" DOMSEC_VERSION);
    curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, crl_write_cb);
    curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->err);
    curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
    if (u->post != NULL) {              /* RFC 6960 A.1.1: POST the DER request */
        f->headers = curl_slist_append(NULL, "Content-Type: application/ocsp-request");
        curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
        curl_easy_setopt(f->easy, CURLOPT_POSTFIELDS, (char *)u->post);
        curl_easy_setopt(f->easy, CURLOPT_POSTFIELDSIZE, (long)u->post_len);
    }
    if (curl_multi_add_handle(F.multi, f->easy) != CURLM_OK) {
        curl_easy_cleanup(f->easy);
        curl_slist_free_all(f->headers);
        free(f);
        return -1;
    }
    f->next = F.fetches;
    F.fetches = f;
    F.nflight++;
    u->in_flight = true;
    u->due = 0;
    return 0;
}

/* crl_fetch_timer - the next fetch is due */

static void crl_fetch_timer(uv_timer_t *t)
{
    relay__crl_schedule();
}

/* relay__crl_schedule - start due fetches (up to the limit); arm for the next one */

void relay__crl_schedule(void)
{
    int64_t now = relay__crl_now_ms(), next = INT64_MAX;

    if (F.stopping)
        return;
    for (size_t i = 0; i < F.nurls; i++) {
        struct crl_url *u = F.urls[i];

        if (u->due == 0 || u->in_flight || !F.fetch)
            continue;
        if (u->due <= now && F.nflight < CRL_MAX_FETCHES && crl_fetch_start(u) == 0)
            continue;
        if (u->due > now && u->due < next)
            next = u->due;
        else if (u->due <= now && F.nflight < CRL_MAX_FETCHES && now + 1000 < next)
            next = now + 1000;          /* curl could not start it: try again */
    }
    if (next == INT64_MAX)
        uv_timer_stop(&F.fetch_timer);
    else
        uv_timer_start(&F.fetch_timer, crl_fetch_timer, (uint64_t)(next - now), 0);
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* crl_cancel_all - abandon every transfer (nothing is cached or logged) */

static void crl_cancel_all(void)
{
    while (F.fetches != NULL) {
        struct crl_fetch *f = F.fetches;

        F.fetches = f->next;
        f->u->in_flight = false;
        curl_multi_remove_handle(F.multi, f->easy);
        curl_easy_cleanup(f->easy);
        curl_slist_free_all(f->headers);
        free(f->body);
        free(f);
    }
    F.nflight = 0;
}

/* relay__crl_fetch_init - libcurl's global state */

int relay__crl_fetch_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_errx("crl", 0, "cannot initialize libcurl");
        return -1;
    }
    return 0;
}

/* relay__crl_fetch_open - jitter seed, cache directory, timers on loop */

void relay__crl_fetch_open(uv_loop_t *loop, bool fetch, const char *cache_dir)
{
    F.loop = loop;
    F.fetch = fetch;
    F.cache_directory = cache_dir;
    F.rnd = uv_hrtime() ^ (uint64_t)getpid() << 32;
    if (fetch && relay__crl_mkdirs(cache_dir) < 0)
        log_err("crl", 0, "cannot create crl_cache_directory %s: fetched CRLs cannot be used",
                cache_dir);
    uv_timer_init(loop, &F.fetch_timer);
    uv_timer_init(loop, &F.curl_timer);
}

/* relay__crl_fetch_config - a reload's settings; without fetch, stop it all */

void relay__crl_fetch_config(bool fetch, const char *cache_dir)
{
    F.fetch = fetch;
    F.cache_directory = cache_dir;
    if (!fetch)
        crl_cancel_all();
    for (size_t i = 0; !fetch && i < F.nurls; i++)
        F.urls[i]->due = 0;
}

/* relay__crl_fetch_shutdown - cancel transfers, end curl: the loop is closing */

void relay__crl_fetch_shutdown(void)
{
    F.stopping = true;
    crl_cancel_all();
    if (F.multi != NULL)
        curl_multi_cleanup(F.multi);
    F.multi = NULL;
}

/* relay__crl_fetch_free - the URL table and libcurl's global state */

void relay__crl_fetch_free(void)
{
    for (size_t i = 0; i < F.nurls; i++) {
        free(F.urls[i]->url);
        free(F.urls[i]->post);
        free(F.urls[i]);
    }
    free(F.urls);
    F.urls = NULL, F.nurls = F.nocsp = 0;
    F.cache_directory = NULL;
    curl_global_cleanup();
}
