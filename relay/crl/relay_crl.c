/*
 * relay_crl.c - keeping the published CRL set current (SPEC 6.3): the
 * CRL thread, the directory watch, building and publishing sets.
 *
 * One thread ("the CRL thread") runs its own uv loop with: an async handle
 * (misses, reload, stop), a uv_fs_event on crl_directory (or on its parent
 * while the directory does not exist), a 60 s rescan timer, a 200 ms
 * debounce timer that coalesces changes into one rebuild, and, with
 * crl_fetch = yes, the fetching of relay_crl_fetch.c (a libcurl multi
 * handle driven by uv_poll/uv_timer, which also owns the URL table,
 * backoff and refresh times, and cache writes).
 *
 * A rebuild makes a new tls_crl_set (relay_crl_build.c) from: every file
 * of crl_directory (tls_crl_set_add_dir; in the daemon an unreadable
 * directory is logged and contributes nothing), every cache entry (only with crl_fetch = yes),
 * the anchors of trusted_ca_file and the certificates of
 * certificate_store/NAME.pem (non-anchor issuers); logs the CRLs that
 * appeared or went (one that can never be used, stale or with a signature
 * that does not verify with its issuer's key, as a warning); and
 * publishes the set.  A rescan rebuilds only when
 * the (name, size, mtime, inode) of those files changed; it also warns
 * once about each CRL that went stale since it was loaded.  Each new set
 * gives the fetcher its cached CRLs' dates (relay__crl_sync_urls).
 *
 * Cache (crl_cache_directory, default QUEUE/crl-cache, mode 0700): per URL
 * two files named by H = SHA-256 of the URL in lower-case hex: H.url holds
 * the URL and a newline, H.crl the response body exactly as fetched (DER
 * or PEM).  Each is written to .H.*.tmp, fsynced and renamed, .url first
 * (relay_crl_fetch.c); an H.crl without an H.url that hashes to H is
 * skipped with a warning.
 *
 * Misses: the tls_crl miss hook queues http:// URLs (at most 64, each
 * under 1024 bytes) for the loop, which hands them to relay__crl_want;
 * the tls_ocsp miss hook likewise queues (URL, DER request) pairs for
 * relay__crl_want_ocsp (OCSP: relay_crl_ocsp.c, the same cache directory);
 * relay_crl_fetch.c describes what is fetched, when, and the limits.
 *
 * CONTRACT
 *  relay_crl_start/reload/stop run on the main thread; start and stop
 *  once each, reload any number of times in between (a no-op if start
 *  failed).  Paths are copied: nothing points into the config afterwards.
 *  The miss hook runs on any thread: it locks, appends the URL to a
 *  bounded de-duplicating queue and wakes the loop; it never blocks on I/O.
 *  File reads and cache writes (relay_crl_fetch.c) block: in
 *  relay_crl_start (the first set, by design, as relay_tls_install does)
 *  and then on the CRL thread only (a few small files, rate-limited by the
 *  debounce); never on a worker loop.  No function here takes a callback.
 *  Stop cancels fetches in flight (nothing is cached for them), closes
 *  every handle, joins, and withdraws the published set.  relay_crl_load()
 *  is synchronous, touches no network and no global state; the caller owns
 *  the returned set.
 *  Log lines: subsystem "crl"; see domsec.conf(5) for the vocabulary.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "log_util.h"
#include "relay_crl_int.h"
#include "tls_ctx.h"
#include "tls_ocsp.h"

#define CRL_MISS_QUEUE    64
#define CRL_DEBOUNCE_MS   200
#define CRL_RESCAN_MS     60000
#define CRL_BACKOFF_MIN   60
#define CRL_BACKOFF_MAX   3600
#define CRL_REFRESH_MAX   86400

/* What the last published set held, to log changes. */
struct crl_seen {
    char   *source, *issuer;            /* owned */
    int64_t this_update, next_update;
    char    number[64];
    bool    stale;                      /* logged as stale */
};

/* An OCSP miss: the responder URL and the DER request. */
struct crl_omiss {
    char    url[RELAY__CRL_URL_MAX];
    unsigned char req[RELAY__OCSP_REQ_MAX];
    size_t  len;
};

static struct {
    /* Shared: under lock. */
    uv_mutex_t lock;
    bool    accepting;                  /* the miss hook queues */
    bool    fetch;                      /* crl_fetch of the newest config */
    bool    stop_requested, wake_closed;
    struct crl_paths *pending;          /* a reload not yet taken */
    char    miss[CRL_MISS_QUEUE][RELAY__CRL_URL_MAX];
    size_t  nmiss;
    struct crl_omiss omiss[CRL_MISS_QUEUE];    /* OCSP misses */
    size_t  nomiss;

    /* Main thread. */
    bool    started;
    uv_thread_t thread;

    /* The CRL thread (and start, before the thread exists). */
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t debounce, rescan;
    uv_fs_event_t *watch;               /* owned; NULL if none */
    char   *watch_path;                 /* owned */
    bool    watch_is_dir;
    dev_t   watch_dev;
    ino_t   watch_ino;
    struct crl_paths *paths;            /* owned; relay_crl_fetch.c borrows cache_directory */
    uint64_t sig;
    bool    force;                      /* the next debounced rebuild must not be skipped */
    struct crl_seen *seen;
    size_t  nseen;
} C;

static uv_once_t crl_once = UV_ONCE_INIT;

/* ---- pure helpers ------------------------------------------------------ */

/* relay__crl_cache_name - SHA-256 of url in hex (the cache file stem) */

void relay__crl_cache_name(const char *url, char out[65])
{
    tls_crl_url_hash(url, out);
}

/* relay__crl_backoff - seconds before retrying after failures failures */

unsigned relay__crl_backoff(unsigned failures, uint32_t rnd)
{
    unsigned base = CRL_BACKOFF_MIN;

    for (unsigned i = 1; i < failures && base < CRL_BACKOFF_MAX; i++)
        base *= 2;
    if (base > CRL_BACKOFF_MAX)
        base = CRL_BACKOFF_MAX;
    return base - rnd % (base / 10 + 1);
}

/* relay__crl_refresh_at - when to refetch a CRL */

int64_t relay__crl_refresh_at(int64_t this_update, int64_t next_update, int64_t now)
{
    int64_t t;

    if (next_update != 0 && next_update <= now)
        return now;                     /* stale: at once */
    if (next_update == 0 || next_update <= this_update)
        t = now + CRL_REFRESH_MAX;
    else
        t = this_update + (next_update - this_update) / 4 * 3;
    if (t > now + CRL_REFRESH_MAX)
        t = now + CRL_REFRESH_MAX;
    if (t < now + RELAY__CRL_MIN_REFETCH)
        t = now + RELAY__CRL_MIN_REFETCH;
    return t;
}

/* relay__crl_now_ms - wall clock in ms (CRL dates are wall-clock) */

int64_t relay__crl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- change detection ------------------------------------------------------ */

/* crl_mix - fold one file's identity into a 64-bit FNV-1a style hash */

static uint64_t crl_mix(const char *name, const struct stat *st)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    if (st == NULL)
        return h * 31;
    h = (h ^ (uint64_t)st->st_size) * 1099511628211ULL;
    h = (h ^ (uint64_t)st->st_mtim.tv_sec) * 1099511628211ULL;
    h = (h ^ (uint64_t)st->st_mtim.tv_nsec) * 1099511628211ULL;
    h = (h ^ (uint64_t)st->st_ino) * 1099511628211ULL;
    return h;
}

/* crl_sig_dir - order-independent sum over the entries of dir */

static uint64_t crl_sig_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    uint64_t sum = crl_mix(dir, NULL);

    if (d == NULL)
        return sum + (uint64_t)errno;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        sum += fstatat(dirfd(d), de->d_name, &st, 0) == 0 ? crl_mix(de->d_name, &st)
               : crl_mix(de->d_name, NULL);
    }
    closedir(d);
    return sum;
}

/* crl_signature - changes whenever a file a rebuild reads changes */

static uint64_t crl_signature(const struct crl_paths *p)
{
    struct stat st;
    uint64_t h = crl_sig_dir(p->crl_directory) * 3 + crl_sig_dir(p->cache_directory) * 5
                 + crl_sig_dir(p->certificate_store) * 7;

    h += crl_mix(p->trusted_ca_file, stat(p->trusted_ca_file, &st) == 0 ? &st : NULL);
    for (size_t i = 0; i < p->npartner_ca_files; i++)
        h = h * 11 + crl_mix(p->partner_ca_files[i],
                             stat(p->partner_ca_files[i], &st) == 0 ? &st : NULL);
    return h;
}

/*
 * crl_status_level - how a loaded CRL's status is logged, and why (appended):
 * a CRL that can never be used is a warning.  IssuerUnknown stays info: its
 * issuer is not among the known CA certificates, but a partner that
 * presents it makes the CRL verify then (tls_crl_check).
 */
static enum log_level crl_status_level(const char *status, const char **why)
{
    *why = "";
    if (strcmp(status, "BadSignature") == 0)
        *why = ": not used: its signature does not verify with the key of its issuer";
    else if (strcmp(status, "Stale") == 0)
        *why = ": not used: its next_update has passed";
    return (*why)[0] != '\0' ? LOG_WARN : LOG_INFO;
}

/* crl_log_changes - log CRLs new in s and CRLs gone since the last set;
 * the number of such changes */

static size_t crl_log_changes(struct tls_crl_set *s, int64_t now)
{
    size_t n = tls_crl_set_count(s), changes = 0;
    struct crl_seen *seen = xcalloc(n ? n : 1, sizeof(*seen));
    char t1[32], t2[32];
    const char *why;
    enum log_level level;

    for (size_t i = 0; i < n; i++) {
        struct tls_crl_info in;
        bool old = false;

        tls_crl_set_info(s, i, now, &in);
        seen[i].source = xstrdup(in.source);
        seen[i].issuer = xstrdup(in.issuer);
        seen[i].this_update = in.this_update;
        seen[i].next_update = in.next_update;
        seen[i].stale = in.next_update != 0 && in.next_update <= now;
        snprintf(seen[i].number, sizeof(seen[i].number), "%s", in.number);
        for (size_t j = 0; j < C.nseen && !old; j++)
            old = strcmp(C.seen[j].source, in.source) == 0
                  && strcmp(C.seen[j].issuer, in.issuer) == 0
                  && C.seen[j].this_update == in.this_update
                  && strcmp(C.seen[j].number, in.number) == 0;
        if (old)
            continue;
        changes++;
        level = crl_status_level(in.status, &why);
        log_msg(level, "crl", 0, "loaded source=%s%s%s "
                "issuer=\"%s\" this_update=%s next_update=%s entries=%zu status=%s%s", in.source,
                in.url ? " url=" : "", in.url ? in.url : "", in.issuer,
                log_iso_time(t1, sizeof(t1), in.this_update, "-"),
                log_iso_time(t2, sizeof(t2), in.next_update, "-"),
                in.entries, in.status, why);
    }
    for (size_t j = 0; j < C.nseen; j++) {
        bool kept = false;

        for (size_t i = 0; i < n && !kept; i++)
            kept = strcmp(C.seen[j].source, seen[i].source) == 0
                   && strcmp(C.seen[j].issuer, seen[i].issuer) == 0;
        if (!kept) {
            changes++;
            log_info("crl", 0, "removed source=%s issuer=\"%s\"", C.seen[j].source,
                     C.seen[j].issuer);
        }
        free(C.seen[j].source);
        free(C.seen[j].issuer);
    }
    free(C.seen);
    C.seen = seen;
    C.nseen = n;
    return changes;
}

/* crl_warn_stale - once per CRL: it has just gone stale (the 60 s timer) */

static void crl_warn_stale(int64_t now)
{
    char t[32];

    for (size_t i = 0; i < C.nseen; i++) {
        struct crl_seen *e = &C.seen[i];

        if (e->stale || e->next_update == 0 || e->next_update > now)
            continue;
        e->stale = true;
        log_warnx("crl", 0, "stale source=%s issuer=\"%s\" next_update=%s: revocation is "
                  "unknown for the certificates it covers until a new CRL arrives", e->source,
                  e->issuer, log_iso_time(t, sizeof(t), e->next_update, "-"));
    }
}

/* ---- rebuild ------------------------------------------------------------------ */

static _Atomic int64_t crl_published_s;        /* when the current set was built */

/* crl_publish - publish s and note when */

static void crl_publish(struct tls_crl_set *s)
{
    tls_crl_publish(s);
    atomic_store_explicit(&crl_published_s, (int64_t)time(NULL), memory_order_relaxed);
}

/* relay_crl_published - when the current set was built (unix s), 0 = none yet */

int64_t relay_crl_published(void)
{
    return atomic_load_explicit(&crl_published_s, memory_order_relaxed);
}

/* crl_rescan - rebuild and publish if anything changed (or force) */

static void crl_rescan(bool force)
{
    struct tls_crl_set *s;
    const char *why = NULL;
    int64_t now = relay__crl_now_ms();
    size_t changes;
    uint64_t sig;

    sig = crl_signature(C.paths);
    if (!force && sig == C.sig)
        return;
    C.sig = sig;
    s = relay__crl_build(C.paths, false, &why);
    changes = crl_log_changes(s, now / 1000);
    relay__crl_sync_urls(s, now);
    crl_publish(s);
    if (changes > 0)                    /* after publishing: tests wait for this line */
        log_info("crl", 0, "published crls=%zu", C.nseen);
    relay__crl_schedule();
}

/* ---- the directory watch ------------------------------------------------------ */

/* relay__crl_closed - close_cb: free the handles allocated one by one */

void relay__crl_closed(uv_handle_t *h)
{
    if (h->type == UV_POLL || h->type == UV_FS_EVENT)
        free(h);
}

/* crl_watch_event - something changed in the watched directory */

static void crl_watch_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    relay__crl_kick(false);
}

/* crl_watch_arm - watch crl_directory, or its parent while it is missing */

static void crl_watch_arm(void)
{
    const char *dir = C.paths->crl_directory;
    struct stat st;
    bool isdir = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    char *target = xstrdup(dir), *slash;
    int r;

    if (!isdir && (slash = strrchr(target, '/')) != NULL)
        slash == target ? (void)(slash[1] = '\0') : (void)(*slash = '\0');
    if (C.watch != NULL && C.watch_is_dir == isdir && strcmp(C.watch_path, target) == 0
        && (!isdir || (C.watch_dev == st.st_dev && C.watch_ino == st.st_ino))) {
        free(target);
        return;
    }
    if (C.watch != NULL)
        uv_close((uv_handle_t *)C.watch, relay__crl_closed);
    free(C.watch_path);
    C.watch = xcalloc(1, sizeof(*C.watch));
    C.watch_path = target;
    C.watch_is_dir = isdir;
    C.watch_dev = isdir ? st.st_dev : 0;
    C.watch_ino = isdir ? st.st_ino : 0;
    uv_fs_event_init(&C.loop, C.watch);
    if ((r = uv_fs_event_start(C.watch, crl_watch_event, target, 0)) < 0) {
        log_debug("crl", 0, "cannot watch %s: %s (rescanned every %d s)", target,
                  uv_strerror(r), CRL_RESCAN_MS / 1000);
        uv_close((uv_handle_t *)C.watch, relay__crl_closed);
        C.watch = NULL;
    }
}

/* crl_debounced - the debounce timer fired: re-arm the watch, rebuild */

static void crl_debounced(uv_timer_t *t)
{
    bool force = C.force;

    C.force = false;
    crl_watch_arm();
    crl_rescan(force);
}

/* relay__crl_kick - rebuild within CRL_DEBOUNCE_MS, coalescing what comes meanwhile */

void relay__crl_kick(bool force)
{
    C.force |= force;
    if (!uv_is_active((uv_handle_t *)&C.debounce))
        uv_timer_start(&C.debounce, crl_debounced, CRL_DEBOUNCE_MS, 0);
}

/* crl_rescan_timer - every 60 s: changes the watch missed, stale CRLs */

static void crl_rescan_timer(uv_timer_t *t)
{
    crl_watch_arm();
    crl_rescan(false);
    crl_warn_stale(time(NULL));
}

/* ---- the thread ---------------------------------------------------------------- */

/* crl_url_ok - an http:// URL we fetch: short, nothing a log line would mangle */

static bool crl_url_ok(const char *url)
{
    if (strlen(url) >= RELAY__CRL_URL_MAX || strncasecmp(url, "http://", 7) != 0)
        return false;
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '"' || *c == '\\' || *c == 0x7f)
            return false;
    return true;
}

/* crl_ocsp_miss - the tls_ocsp miss hook (any thread): queue url + req */

static void crl_ocsp_miss(const char *url, const unsigned char *req, size_t len, void *arg)
{
    if (!crl_url_ok(url) || len == 0 || len > RELAY__OCSP_REQ_MAX)
        return;
    uv_mutex_lock(&C.lock);
    if (C.accepting && C.fetch && C.nomiss < CRL_MISS_QUEUE) {
        size_t i = 0;

        while (i < C.nomiss && (C.omiss[i].len != len || memcmp(C.omiss[i].req, req, len) != 0))
            i++;
        if (i == C.nomiss) {
            struct crl_omiss *m = &C.omiss[C.nomiss++];

            snprintf(m->url, sizeof(m->url), "%s", url);
            memcpy(m->req, req, len);
            m->len = len;
            uv_async_send(&C.wake);
        }
    }
    uv_mutex_unlock(&C.lock);
}

/* crl_miss - the tls_crl miss hook (any thread): queue url for the loop */

static void crl_miss(const char *url, void *arg)
{
    size_t n = strlen(url);

    if (!crl_url_ok(url))
        return;
    uv_mutex_lock(&C.lock);
    if (C.accepting && C.fetch && C.nmiss < CRL_MISS_QUEUE) {
        size_t i = 0;

        while (i < C.nmiss && strcmp(C.miss[i], url) != 0)
            i++;
        if (i == C.nmiss) {
            memcpy(C.miss[C.nmiss++], url, n + 1);
            uv_async_send(&C.wake);
        }
    }
    uv_mutex_unlock(&C.lock);
}

/* crl_shutdown - cancel transfers, close every handle: the loop ends */

static void crl_shutdown(void)
{
    relay__crl_fetch_shutdown();
    uv_mutex_lock(&C.lock);
    C.wake_closed = true;
    uv_mutex_unlock(&C.lock);
}

/* crl_close_one - uv_walk: close every handle of the loop */

static void crl_close_one(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, relay__crl_closed);
}

/* crl_wake - misses, a reload or the stop request */

static void crl_wake(uv_async_t *a)
{
    static char urls[CRL_MISS_QUEUE][RELAY__CRL_URL_MAX];
    static struct crl_omiss omiss[CRL_MISS_QUEUE];
    struct crl_paths *np;
    int64_t now = relay__crl_now_ms();
    size_t n, no;
    bool stop;

    uv_mutex_lock(&C.lock);
    n = C.nmiss;
    memcpy(urls, C.miss, n * sizeof(urls[0]));
    C.nmiss = 0;
    no = C.nomiss;
    memcpy(omiss, C.omiss, no * sizeof(omiss[0]));
    C.nomiss = 0;
    np = C.pending;
    C.pending = NULL;
    stop = C.stop_requested;
    uv_mutex_unlock(&C.lock);
    if (stop) {
        relay__crl_paths_free(np);
        crl_shutdown();
        uv_walk(&C.loop, crl_close_one, NULL);
        C.watch = NULL;
        return;
    }
    if (np != NULL) {
        relay__crl_paths_free(C.paths);
        C.paths = np;
        relay__crl_fetch_config(np->fetch, np->cache_directory);
        crl_watch_arm();
        crl_rescan(true);
    }
    for (size_t i = 0; i < n; i++)
        relay__crl_want(urls[i], now);
    for (size_t i = 0; i < no; i++)
        relay__crl_want_ocsp(omiss[i].url, omiss[i].req, omiss[i].len, now);
    relay__crl_schedule();
}

/* crl_thread - the CRL thread body */

static void crl_thread(void *arg)
{
    uv_run(&C.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&C.loop) != 0)
        log_warnx("crl", 0, "loop closed with active handles");
    tls_thread_cleanup();
}

/* crl_init_once - the lock, once per process */

static void crl_init_once(void)
{
    uv_mutex_init(&C.lock);
}

/* relay_crl_start - first set now, then the thread */

int relay_crl_start(const struct config *cfg)
{
    struct tls_crl_set *s;
    const char *why = NULL;
    int r;

    uv_once(&crl_once, crl_init_once);
    if (C.started)
        return 0;
    if (relay__crl_fetch_init() < 0)
        return -1;
    C.paths = relay__crl_paths_new(cfg);
    uv_loop_init(&C.loop);
    uv_async_init(&C.loop, &C.wake, crl_wake);
    uv_timer_init(&C.loop, &C.debounce);
    uv_timer_init(&C.loop, &C.rescan);
    relay__crl_fetch_open(&C.loop, C.paths->fetch, C.paths->cache_directory);
    C.sig = crl_signature(C.paths);
    s = relay__crl_build(C.paths, false, &why);
    crl_log_changes(s, time(NULL));
    relay__crl_sync_urls(s, relay__crl_now_ms());
    if (C.paths->fetch)
        relay__crl_ocsp_load(C.paths->cache_directory, time(NULL));
    crl_publish(s);
    log_info("crl", 0, "published crls=%zu", C.nseen);
    crl_watch_arm();
    uv_timer_start(&C.rescan, crl_rescan_timer, CRL_RESCAN_MS, CRL_RESCAN_MS);
    uv_mutex_lock(&C.lock);
    C.accepting = true;
    C.fetch = C.paths->fetch;
    C.stop_requested = C.wake_closed = false;
    uv_mutex_unlock(&C.lock);
    tls_crl_set_miss_hook(crl_miss, NULL);
    tls_ocsp_set_miss_hook(crl_ocsp_miss, NULL);
    relay__crl_schedule();              /* stale cached CRLs: at once */
    if ((r = uv_thread_create(&C.thread, crl_thread, NULL)) != 0) {
        log_errx("crl", 0, "cannot start the CRL thread: %s", uv_strerror(r));
        tls_crl_set_miss_hook(NULL, NULL);
        tls_ocsp_set_miss_hook(NULL, NULL);
        return -1;
    }
    log_info("crl", 0, "started crl_directory=%s fetch=%s cache=%s",
             C.paths->crl_directory, C.paths->fetch ? "yes" : "no",
             C.paths->cache_directory);
    C.started = true;
    return 0;
}

/* relay_crl_reload - hand the new paths to the thread */

void relay_crl_reload(const struct config *cfg)
{
    struct crl_paths *p;

    if (!C.started)
        return;
    p = relay__crl_paths_new(cfg);
    uv_mutex_lock(&C.lock);
    C.fetch = p->fetch;
    relay__crl_paths_free(C.pending);
    C.pending = p;
    if (!C.wake_closed)
        uv_async_send(&C.wake);
    uv_mutex_unlock(&C.lock);
}

/* relay_crl_stop - cancel, join, withdraw */

void relay_crl_stop(void)
{
    if (!C.started)
        return;
    tls_crl_set_miss_hook(NULL, NULL);
    tls_ocsp_set_miss_hook(NULL, NULL);
    uv_mutex_lock(&C.lock);
    C.accepting = false;
    C.stop_requested = true;
    if (!C.wake_closed)
        uv_async_send(&C.wake);
    uv_mutex_unlock(&C.lock);
    uv_thread_join(&C.thread);
    tls_crl_publish(NULL);
    tls_ocsp_cache_clear();
    relay__crl_fetch_free();
    for (size_t i = 0; i < C.nseen; i++) {
        free(C.seen[i].source);
        free(C.seen[i].issuer);
    }
    free(C.seen);
    free(C.watch_path);
    relay__crl_paths_free(C.paths);
    relay__crl_paths_free(C.pending);
    C.seen = NULL, C.nseen = 0, C.watch_path = NULL;
    C.paths = C.pending = NULL;
    C.started = false;
}
