/*
 * relay_qmgr.c - the queue manager object: its thread and loop, start,
 * stop, new messages, and the background work every part of it uses.
 *
 * struct qmgr (relay_qmgr_int.h) holds every queued message in memory
 * (struct relay_qmsg, loaded from its file) and where it waits (a FIFO of
 * due messages, a heap keyed by the next time to look at one, a FIFO of
 * messages waiting for a connection slot; relay_qsched.c), the timer armed
 * for the earliest of them, the clock (injected; unix ms, as the records
 * store), the DNS resolver, the destinations (send connector + next hop,
 * relay_qdest.c) with their waiting jobs and connections, and the SMTP
 * client it drives (relay_smtpc_*; a unit test's fake).  A round of a
 * message (relay_qsched.c) routes its pending recipients, reads its bytes
 * once and gives each destination a job; when every job is back,
 * relay_qround.c persists what happened, queues the DSNs it owes, and
 * either schedules the next round (when: relay_decide) or removes
 * the file.
 *
 * Order of durability: a DSN is committed before the records that say the
 * recipient failed, and the records before the file is removed.  A crash
 * anywhere may repeat a delivery or a DSN, never lose one.
 *
 * CONTRACT
 *  The daemon has one queue manager: relay_qmgr_start/stop are called by
 *  main, relay_qmgr_notify from any thread; that process-wide pointer is
 *  used by those three functions only - every other function takes the
 *  object.  qmgr_new makes one without a thread (tests run its loop
 *  themselves); qmgr_free releases it after its loop has ended (the
 *  daemon's thread does, as it ends).
 *  Everything else runs on the object's loop.  Blocking I/O (loading,
 *  reading, appending, removing) runs on libuv's thread pool, at most one
 *  operation per message at a time (m->io).  New ids wait in q->toload and
 *  are loaded QMGR_LOADS_MAX at a time, so that the reads of the first due
 *  messages are not queued behind the loading of a whole recovered queue.
 *  The stop (qmgr_request_stop): the SMTP client abandons its connections,
 *  every destination's waiting jobs come back with RELAY_S_SHUTDOWN, the
 *  resolver closes, and a round whose read ends later makes no job (its
 *  recipients get the same decision): every round ends, then the loop.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "log_util.h"
#include "relay_qmgr.h"
#include "relay_qmsg.h"
#include "relay_smtp.h"
#include "relay_trouble.h"
#include "relay_qmgr_int.h"
#include "relay_http.h"
#include "relay_sts.h"
#include "relay_tlsrpt.h"
#include "relay_tls.h"
#include "relay_worker.h"
#include "relay_stats.h"
#include "tls_ctx.h"

static struct qmgr *qmgr_daemon;        /* the daemon's: relay_qmgr_start/notify/reload/stop only */

/* The daemon's SMTP client. */
const struct qmgr_smtp qmgr_smtpc = {
    .start = relay_smtpc_start,
    .wake = relay_smtpc_wake,
    .idle_count = relay_smtpc_idle_count,
    .close_idle = relay_smtpc_close_idle,
    .shutdown_all = relay_smtpc_shutdown_all,
};

/* qmgr_now - q's clock in unix ms (records store unix time) */

uint64_t qmgr_now(const struct qmgr *q)
{
    struct timespec ts;

    if (q->clock != NULL)
        return q->clock(q->clock_arg);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* qmgr_dirfd - messages/ */

int qmgr_dirfd(void)
{
    return relay_queue_dirfd(RELAY_QDIR_MESSAGES);
}

/* qmgr_work_done - loop side of every background operation */

static void qmgr_work_done(uv_work_t *req, int status)
{
    struct qmgr_work *w = req->data;
    struct qmgr *q = w->q;

    q->busy--;
    w->then(w);
    free(w->buf);
    free(w);
    qmgr_sched_gauges(q);
    qmgr_maybe_exit(q);
}

/* qmgr_work_start - run fn on the thread pool, then `then` on q's loop */

static void qmgr_work_start(struct qmgr *q, struct relay_qmsg *m, const char *id, uv_work_cb fn,
                            void (*then)(struct qmgr_work *w), char *buf, size_t len, void *arg)
{
    struct qmgr_work *w = xcalloc(1, sizeof(*w));

    w->arg = arg;
    w->q = q;
    w->m = m;
    snprintf(w->id, sizeof(w->id), "%s", id);
    w->buf = buf;
    w->len = len;
    w->then = then;
    w->req.data = w;
    q->busy++;
    if (uv_queue_work(&q->w.loop, &w->req, fn, qmgr_work_done) != 0)
        log_panic("qmgr", "uv_queue_work refused");
}

/* qmgr_submit - run fn on the thread pool for m, then `then` on q's loop */

void qmgr_submit(struct qmgr *q, struct relay_qmsg *m, const char *id, uv_work_cb fn,
                 void (*then)(struct qmgr_work *w), char *buf, size_t len)
{
    qmgr_work_start(q, m, id, fn, then, buf, len, NULL);
}

/* qmgr_submit_arg - the same with the caller's argument (w->arg), no message */

void qmgr_submit_arg(struct qmgr *q, const char *id, uv_work_cb fn,
                     void (*then)(struct qmgr_work *w), void *arg)
{
    qmgr_work_start(q, NULL, id, fn, then, NULL, 0, arg);
}

/* ---- loading ---------------------------------------------------------- */

static void qmgr_load_work(uv_work_t *req)
{
    struct qmgr_work *w = req->data;

    w->err = relay_qmsg_load(qmgr_dirfd(), w->id, &w->m, &w->why);
}

/* qmgr_add - a loaded message joins q (q owns it now) and waits */

void qmgr_add(struct qmgr *q, struct relay_qmsg *m)
{
    m->prev = NULL;
    m->next = q->msgs;
    if (q->msgs != NULL)
        q->msgs->prev = m;
    q->msgs = m;
    q->nmsgs++;
    if (q->oldest_ms == 0 || m->arrival_ms < q->oldest_ms)
        q->oldest_ms = m->arrival_ms;
    qmgr_sched_ready(q, m);
}

static void qmgr_load_more(struct qmgr *q);

static void qmgr_loaded(struct qmgr_work *w)
{
    for (size_t i = 0; i < QMGR_LOADS_MAX; i++)
        if (strcmp(w->q->loading_ids[i], w->id) == 0) {
            w->q->loading_ids[i][0] = '\0';
            break;
        }
    w->q->loading--;
    if (w->err < 0)
        log_warnx("queue", 0, "cannot load id=%s reason=%s", w->id, w->why);
    else
        qmgr_add(w->q, w->m);
    qmgr_load_more(w->q);
}

/* qmgr_toload_clear - forget the ids waiting for a load */

static void qmgr_toload_clear(struct qmgr *q)
{
    for (size_t i = q->toload_head; i < q->ntoload; i++)
        free(q->toload[i]);
    free(q->toload);
    q->toload = NULL;
    q->ntoload = q->toload_head = q->captoload = 0;
}

/* qmgr_load_more - start loads while fewer than QMGR_LOADS_MAX run (none
 * once the stop has begun: those messages wait for the restart) */

static void qmgr_load_more(struct qmgr *q)
{
    if (q->stopping) {
        qmgr_toload_clear(q);
        return;
    }
    while (q->loading < QMGR_LOADS_MAX && q->toload_head < q->ntoload) {
        char *id = q->toload[q->toload_head++];
        size_t slot = 0;

        while (q->loading_ids[slot][0] != '\0')    /* fewer than QMGR_LOADS_MAX in use */
            slot++;
        snprintf(q->loading_ids[slot], sizeof(q->loading_ids[slot]), "%s", id);
        q->loading++;
        qmgr_submit(q, NULL, id, qmgr_load_work, qmgr_loaded, NULL, 0);
        free(id);
    }
    if (q->toload_head == q->ntoload)
        qmgr_toload_clear(q);
}

/* qmgr_loading_count - notified, not loaded yet: waiting or loading */

size_t qmgr_loading_count(const struct qmgr *q)
{
    return q->ntoload - q->toload_head + q->loading;
}

/* qmgr_loading_has - is id waiting for its load or being loaded */

bool qmgr_loading_has(const struct qmgr *q, const char *id)
{
    for (size_t i = 0; i < QMGR_LOADS_MAX; i++)
        if (strcmp(q->loading_ids[i], id) == 0)
            return true;
    for (size_t i = q->toload_head; i < q->ntoload; i++)
        if (strcmp(q->toload[i], id) == 0)
            return true;
    return false;
}

/* qmgr_toload_add - ids (owned, and the array) wait for a load, in order */

static void qmgr_toload_add(struct qmgr *q, char **ids, size_t n)
{
    if (n == 0) {
        free(ids);
        return;
    }
    if (q->toload_head > 0 && q->toload_head >= q->ntoload / 2) {     /* amortised O(1) */
        memmove(q->toload, q->toload + q->toload_head,
                (q->ntoload - q->toload_head) * sizeof(char *));
        q->ntoload -= q->toload_head;
        q->toload_head = 0;
    }
    if (q->ntoload + n > q->captoload) {
        q->captoload = q->ntoload + n > 2 * q->captoload ? q->ntoload + n : 2 * q->captoload;
        q->toload = xrealloc(q->toload, q->captoload * sizeof(char *));
    }
    memcpy(q->toload + q->ntoload, ids, n * sizeof(char *));
    q->ntoload += n;
    free(ids);
}

/* ---- thread, start, stop ----------------------------------------------- */

/* qmgr_maybe_exit - stopping and nothing under way: let the loop end */

void qmgr_maybe_exit(struct qmgr *q)
{
    if (!q->stopping || q->busy > 0 || q->conns > 0 || q->resolver != NULL || q->tlsrpt != NULL
        || q->sts != NULL || q->http != NULL
        || q->dns_retiring > 0 || uv_is_closing((uv_handle_t *)&q->w.wake))
        return;
    uv_close((uv_handle_t *)&q->timer, NULL);
    uv_close((uv_handle_t *)&q->sweep, NULL);
    uv_mutex_lock(&q->w.lock);
    q->w.wake_closed = true;
    uv_mutex_unlock(&q->w.lock);
    uv_close((uv_handle_t *)&q->w.wake, NULL);
}

static void qmgr_http_close(struct qmgr *q);

/* qmgr_tlsrpt_closed - the TLS-RPT recorder has written its day and gone */

static void qmgr_tlsrpt_closed(void *arg)
{
    struct qmgr *q = arg;

    q->tlsrpt = NULL;
    qmgr_http_close(q);
    qmgr_maybe_exit(q);
}

/* qmgr_tlsrpt_resolver, qmgr_tlsrpt_queued - what the recorder borrows */

static struct dns_resolver *qmgr_tlsrpt_resolver(void *owner)
{
    return ((struct qmgr *)owner)->resolver;
}

static void qmgr_tlsrpt_queued(void *owner, const char *id)
{
    qmgr_notify(owner, id);
}

static struct relay_http *qmgr_tlsrpt_http(void *owner)
{
    return ((struct qmgr *)owner)->http;
}

static void qmgr_resolver_closed(void *arg)
{
    struct qmgr *q = arg;

    q->resolver = NULL;
    qmgr_maybe_exit(q);
}

static void qmgr_http_closed(void *arg)
{
    struct qmgr *q = arg;

    q->http = NULL;
    qmgr_maybe_exit(q);
}

/* qmgr_http_close - the HTTP client goes once its two users (the MTA-STS
 * cache, the TLS-RPT recorder) have */

static void qmgr_http_close(struct qmgr *q)
{
    if (q->http != NULL && q->sts == NULL && q->tlsrpt == NULL && !q->http_closing) {
        q->http_closing = true;
        relay_http_close(q->http, qmgr_http_closed, q);
    }
}

/* qmgr_sts_closed - the MTA-STS cache is gone: then, after the recorder, the HTTP client */

static void qmgr_sts_closed(void *arg)
{
    struct qmgr *q = arg;

    q->sts = NULL;
    qmgr_http_close(q);
    qmgr_maybe_exit(q);
}

/* qmgr_resolver_retired - close_cb of a resolver a reload replaced */

static void qmgr_resolver_retired(void *arg)
{
    struct qmgr *q = arg;

    q->dns_retiring--;
    qmgr_maybe_exit(q);
}

/*
 * qmgr_dns_reload - [dns] changed in the configuration: a new
 * resolver for every lookup from now on.  The old one is closed; its
 * lookups in flight end with DNS_CANCELED and are asked again of the new
 * one (relay_qdest.c).
 */
void qmgr_dns_reload(struct qmgr *q, const struct config *cfg)
{
    const char *now = cfg->dns.servers, *err = NULL;
    struct dns_resolver *r;

    if (cfg->dns.timeout == q->dns_timeout && cfg->dns.dnssec == q->dns_dnssec
        && (now == NULL ? q->dns_servers == NULL
                        : q->dns_servers != NULL && strcmp(now, q->dns_servers) == 0))
        return;
    free(q->dns_servers);               /* tried once per change, even if it fails */
    q->dns_servers = now ? xstrdup(now) : NULL;
    q->dns_timeout = cfg->dns.timeout;
    q->dns_dnssec = cfg->dns.dnssec;
    if ((r = dns_resolver_new(&q->w.loop, now, cfg->dns.timeout, &err)) == NULL) {
        log_errx("qmgr", 0, "[dns] changed but the new resolver cannot start: %s; keeping "
                 "the old one", err ? err : "?");
        return;
    }
    dns_resolver_set_dnssec(r, cfg->dns.dnssec);
    q->dns_retiring++;
    dns_resolver_close(q->resolver, qmgr_resolver_retired, q);
    q->resolver = r;
    log_info("qmgr", 0, "dns resolver replaced servers=%s timeout=%llums dnssec=%s",
             now ? now : "resolv.conf", (unsigned long long)cfg->dns.timeout,
             cfg->dns.dnssec ? "yes" : "no");
}

/* qmgr_wake - new messages, commit completions, reload and stop requests */

static void qmgr_wake(uv_async_t *a)
{
    struct qmgr *q = (struct qmgr *)((char *)a - offsetof(struct qmgr, w.wake));
    char **ids;
    size_t n;
    bool stop, reload;

    relay_commit_deliver(&q->w);
    uv_mutex_lock(&q->w.lock);
    q->w.beats++;
    ids = q->incoming;
    n = q->nincoming;
    q->incoming = NULL;
    q->nincoming = q->capincoming = 0;
    stop = q->stop_requested;
    reload = q->reload_requested;
    q->reload_requested = false;
    uv_mutex_unlock(&q->w.lock);
    qmgr_toload_add(q, ids, n);
    if (!stop)
        qmgr_load_more(q);
    if (stop && !q->stopping) {
        q->stopping = true;
        uv_timer_stop(&q->timer);
        q->wake_ms = 0;
        q->smtp->shutdown_all(q->client);
        qmgr_dest_shutdown(q);          /* jobs no connection will take */
        if (q->sts != NULL)             /* before the resolver: it cancels its queries */
            relay_sts_close(q->sts, qmgr_sts_closed, q);
        dns_resolver_close(q->resolver, qmgr_resolver_closed, q);
        if (q->tlsrpt != NULL && !q->tlsrpt_closing) {
            q->tlsrpt_closing = true;
            relay_tlsrpt_close(q->tlsrpt, qmgr_tlsrpt_closed, q);
        }
    }
    if (q->stopping)
        qmgr_toload_clear(q);           /* never loaded: they wait for the restart */
    qmgr_admin_drain(q);                /* after the new messages: they may be named */
    if (reload && !q->stopping)
        qmgr_sched_run(q);              /* new [dns], expiry keys, connectors: now */
    qmgr_maybe_exit(q);
}

/* qmgr_sts_new - the MTA-STS cache of q (its directory: the start's
 * configuration; a reload's change applies at the next start) */

static void qmgr_sts_new(struct qmgr *q, const struct config *cfg)
{
    const struct cfg_transport *t = &cfg->transport;
    char *dir = t->mta_sts_cache_directory ? xstrdup(t->mta_sts_cache_directory)
                                           : xasprintf("%s/mta-sts-cache", t->queue_directory);

    q->http = relay_http_new(&q->w.loop);
    if (q->http != NULL)
        q->sts = relay_sts_new(&q->w.loop, &q->resolver, q->http, dir, NULL);
    else
        log_warnx("qmgr", 0, "no HTTP client: MTA-STS policies cannot be fetched");
    free(dir);
}

/* qmgr_new - a queue manager on a new loop, not yet running */

struct qmgr *qmgr_new(const struct qmgr_smtp *smtp, log_clock_fn *clock, void *clock_arg)
{
    struct config *cfg = policy_config_current();
    struct qmgr *q = xcalloc(1, sizeof(*q));
    const char *err = NULL;

    q->smtp = smtp;
    q->client = relay_smtp_client_new();
    q->clock = clock;
    q->clock_arg = clock_arg;
    q->expiration = cfg->transport.message_expiration_timeout;
    q->rounds_max = QMGR_ROUNDS_MAX;
    q->round_bytes_max = QMGR_ROUND_BYTES_MAX;
    q->dest_rounds_max = QMGR_DEST_ROUNDS_MAX;
    uv_loop_init(&q->w.loop);
    q->resolver = dns_resolver_new(&q->w.loop, cfg->dns.servers, cfg->dns.timeout, &err);
    if (q->resolver == NULL) {
        log_errx("qmgr", 0, "cannot start the DNS resolver: %s", err ? err : "?");
        policy_config_unref(cfg);
        uv_loop_close(&q->w.loop);
        relay_smtp_client_free(q->client);
        free(q);
        return NULL;
    }
    dns_resolver_set_dnssec(q->resolver, cfg->dns.dnssec);
    uv_mutex_init(&q->w.lock);
    q->w.index = -1;
    uv_async_init(&q->w.loop, &q->w.wake, qmgr_wake);
    uv_timer_init(&q->w.loop, &q->timer);
    q->timer.data = q;
    qmgr_admin_init(q);
    q->dns_servers = cfg->dns.servers ? xstrdup(cfg->dns.servers) : NULL;
    q->dns_timeout = cfg->dns.timeout;
    q->dns_dnssec = cfg->dns.dnssec;
    qmgr_sts_new(q, cfg);
    {
        struct relay_tlsrpt_env env = {
            .w = &q->w, .resolver = qmgr_tlsrpt_resolver, .http = qmgr_tlsrpt_http,
            .queued = qmgr_tlsrpt_queued, .owner = q,
        };

        q->tlsrpt = relay_tlsrpt_new(&env, cfg);
    }
    policy_config_unref(cfg);
    return q;
}

/* qmgr_free - after q's loop has ended: release everything */

void qmgr_free(struct qmgr *q)
{
    q->due = q->due_tail = q->blocked = q->blocked_tail = q->held = q->held_tail = NULL;
    qmgr_heap_free(&q->heap);
    while (q->dests != NULL)            /* first: a job left would point at a message */
        qmgr_dest_free(q, q->dests);
    while (q->msgs != NULL) {
        q->msgs->queued = false;        /* the FIFOs are gone */
        qmgr_round_forget(q, q->msgs);
    }
    qmgr_dest_waits_free(q);            /* after: a round's end gives its share back */
    free(q->dns_servers);
    relay_smtp_client_free(q->client);  /* its loop has ended: no connection left */
    if (uv_loop_close(&q->w.loop) != 0)
        log_warnx("qmgr", 0, "loop closed with active handles");
    uv_mutex_destroy(&q->w.lock);
    for (size_t i = 0; i < q->nincoming; i++)
        free(q->incoming[i]);
    free(q->incoming);
    qmgr_toload_clear(q);
    free(q);
}

/* qmgr_notify - a message was queued (any thread) */

void qmgr_notify(struct qmgr *q, const char *id)
{
    uv_mutex_lock(&q->w.lock);
    if (q->nincoming == q->capincoming) {
        q->capincoming = q->capincoming ? q->capincoming * 2 : 16;
        q->incoming = xrealloc(q->incoming, q->capincoming * sizeof(char *));
    }
    q->incoming[q->nincoming++] = xstrdup(id);
    if (!q->w.wake_closed)
        uv_async_send(&q->w.wake);
    uv_mutex_unlock(&q->w.lock);
}

/* qmgr_request - set a request flag of q (under its lock) and wake it */

static void qmgr_request(struct qmgr *q, bool *flag)
{
    uv_mutex_lock(&q->w.lock);
    *flag = true;
    if (!q->w.wake_closed)
        uv_async_send(&q->w.wake);
    uv_mutex_unlock(&q->w.lock);
}

/* qmgr_request_reload - the configuration changed (any thread) */

void qmgr_request_reload(struct qmgr *q)
{
    qmgr_request(q, &q->reload_requested);
}

/* qmgr_request_stop - stop delivering; the loop ends when work has (any thread) */

void qmgr_request_stop(struct qmgr *q)
{
    qmgr_request(q, &q->stop_requested);
}

/* qmgr_thread - the daemon's queue manager thread */

static void qmgr_thread(void *arg)
{
    struct qmgr *q = arg;

    relay_stats_thread_init();
    uv_run(&q->w.loop, UV_RUN_DEFAULT);
    qmgr_free(q);                       /* here: its TLS contexts before the thread's caches */
    tls_thread_cleanup();
}

/* relay_qmgr_notify - a message was queued (any thread) */

void relay_qmgr_notify(const char *id)
{
    qmgr_notify(qmgr_daemon, id);
}

/* relay_qmgr_admin - any thread: hand req to the daemon's queue manager */

int relay_qmgr_admin(struct relay_admin_req *req)
{
    return qmgr_daemon != NULL ? qmgr_admin(qmgr_daemon, req) : -ESHUTDOWN;
}

/* relay_qmgr_reload - the daemon's configuration was swapped */

void relay_qmgr_reload(void)
{
    if (qmgr_daemon != NULL)
        qmgr_request_reload(qmgr_daemon);
}

/* relay_qmgr_heartbeat - wake the queue manager; how often its wake ran so far */

unsigned long relay_qmgr_heartbeat(void)
{
    struct qmgr *q = qmgr_daemon;
    unsigned long beats;

    if (q == NULL)
        return 0;
    uv_mutex_lock(&q->w.lock);
    beats = q->w.beats;
    if (!q->w.wake_closed)
        uv_async_send(&q->w.wake);
    uv_mutex_unlock(&q->w.lock);
    return beats;
}

/* relay_qmgr_start - the daemon's queue manager: load the queue, start delivering */

int relay_qmgr_start(void)
{
    struct dirent *de;
    DIR *dir;
    int fd, r;

    if ((qmgr_daemon = qmgr_new(&qmgr_smtpc, NULL, NULL)) == NULL)
        return -1;
    if ((fd = dup(qmgr_dirfd())) >= 0 && (dir = fdopendir(fd)) != NULL) {
        rewinddir(dir);                 /* a dup shares the offset recovery left at the end */
        while ((de = readdir(dir)) != NULL)
            if (de->d_name[0] != '.')
                qmgr_notify(qmgr_daemon, de->d_name);
        closedir(dir);
    }
    if ((r = uv_thread_create(&qmgr_daemon->w.thread, qmgr_thread, qmgr_daemon)) != 0) {
        log_errx("qmgr", 0, "cannot start the queue manager thread: %s", uv_strerror(r));
        return r;
    }
    return 0;
}

/* relay_qmgr_stop - stop delivering, wait for in-flight work, join */

void relay_qmgr_stop(void)
{
    uv_thread_t thread;

    if (qmgr_daemon == NULL)
        return;
    thread = qmgr_daemon->w.thread;     /* the thread frees the object as it ends */
    qmgr_request_stop(qmgr_daemon);
    uv_thread_join(&thread);
    qmgr_daemon = NULL;
}
