/*
 * relay_qmgr.c - the queue manager: what to deliver, when, and through whom.
 *
 * One thread with its own libuv loop holds every queued message in memory
 * (struct relay_qmsg, loaded from its file), a timer for the earliest next
 * attempt, the DNS resolver, and the destinations (send connector + next
 * hop) with their waiting jobs and connections (relay_smtpc.c).  A round
 * of a message: route its pending recipients, read its bytes, give each
 * destination a job; when every job is back, persist what happened (state
 * records, fdatasync), queue the DSNs it owes, and either schedule the next
 * round (relay_trouble_retry_after) or remove the file.
 *
 * Order of durability: a DSN is committed before the records that say the
 * recipient failed, and the records before the file is removed.  A crash
 * anywhere may repeat a delivery or a DSN, never lose one.
 *
 * CONTRACT
 *  relay_qmgr_start/stop are called by main; relay_qmgr_notify from any
 *  thread.  Everything else runs on the queue manager's loop.  Blocking I/O
 *  (loading, reading, appending, removing) runs on libuv's thread pool, at
 *  most one operation per message at a time (m->io).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "dns.h"
#include "log.h"
#include "log_util.h"
#include "relay_qmgr.h"
#include "relay_qmsg.h"
#include "relay_smtp.h"
#include "relay_trouble.h"
#include "relay_dsn.h"
#include "relay_plog.h"
#include "relay_qmgr_int.h"
#include "relay_tls.h"
#include "relay_worker.h"
#include "tls_ctx.h"

struct relay_qmgr_state relay__q;



void relay__qmgr_schedule(void);
void relay__qround_finish(struct relay_qmsg *m);
void relay__qmgr_maybe_exit(void);
void relay__qround_flush(struct relay_qmsg *m);
void relay__qround_check(struct relay_qmsg *m);

/* relay__qmgr_now - wall clock in ms (records store unix time) */

uint64_t relay__qmgr_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* relay__qmgr_dirfd - messages/ */

int relay__qmgr_dirfd(void)
{
    return relay_queue_dirfd(RELAY_QDIR_MESSAGES);
}

/* qmgr_work_done - loop side of every background operation */

static void qmgr_work_done(uv_work_t *req, int status)
{
    struct relay_qmgr_work *w = req->data;

    relay__q.busy--;
    w->then(w);
    free(w->buf);
    free(w);
    relay__qmgr_maybe_exit();
}

/* relay__qmgr_submit - run fn on the thread pool, then `then` on our loop */

void relay__qmgr_submit(struct relay_qmsg *m, const char *id, uv_work_cb fn,
                        void (*then)(struct relay_qmgr_work *w), char *buf, size_t len)
{
    struct relay_qmgr_work *w = xcalloc(1, sizeof(*w));

    w->m = m;
    snprintf(w->id, sizeof(w->id), "%s", id);
    w->buf = buf;
    w->len = len;
    w->then = then;
    w->req.data = w;
    relay__q.busy++;
    if (uv_queue_work(&relay__q.w.loop, &w->req, fn, qmgr_work_done) != 0)
        log_panic("qmgr", "uv_queue_work refused");
}

/* ---- loading ---------------------------------------------------------- */

static void qmgr_load_work(uv_work_t *req)
{
    struct relay_qmgr_work *w = req->data;

    w->err = relay_qmsg_load(relay__qmgr_dirfd(), w->id, &w->m, &w->why);
}

static void qmgr_loaded(struct relay_qmgr_work *w)
{
    if (w->err < 0) {
        log_warnx("queue", 0, "cannot load id=%s reason=%s", w->id, w->why);
        return;
    }
    w->m->next = relay__q.msgs;
    relay__q.msgs = w->m;
    relay__qmgr_schedule();
}

/* ---- results -------------------------------------------------------- */

/* qmgr_set - record what happened to one recipient */

static void qmgr_set(struct relay_qmsg *m, size_t i, enum relay_outcome o, const char *text,
                     const char *remote, uint64_t sid)
{
    struct relay_qrcpt *r = &m->rcpts[i];
    char *last = log_oneline(text), *rem = remote ? xstrdup(remote) : NULL;

    /* Copy first: text or remote may be r's own strings (expiry passes them). */
    r->busy = false;
    r->dirty = true;
    r->attempts++;
    r->last_ms = relay__qmgr_now();
    free(r->last);
    r->last = last;
    free(r->remote);
    r->remote = rem;
    r->note = true;                     /* logged once the record is durable */
    r->note_sid = sid;
    switch (o) {
    case RELAY_O_DELIVERED:
        r->state = RELAY_R_DELIVERED;
        break;
    case RELAY_O_FAIL:
        r->state = RELAY_R_FAILED;
        r->dsn_due = true;
        break;
    case RELAY_O_DEFER:
        break;
    }
}

/* qmgr_job_free - release a job */

static void qmgr_job_free(struct relay_job *j)
{
    for (size_t i = 0; i < j->nridx; i++)
        free(j->replies[i]);
    free(j->replies);
    free(j->codes);
    free(j->ridx);
    free(j->data);
    free(j->last);
    free(j->remote);
    free(j);
}

/* qmgr_job_back - a job's results are in the message; maybe end the round */

static void qmgr_job_back(struct relay_job *j)
{
    struct relay_qmsg *m = j->msg;

    qmgr_job_free(j);
    if (--m->jobs == 0)
        relay__qround_check(m);
    else
        relay__qround_flush(m);
}

/* relay__qmgr_job_done - a connection finished a job */

void relay__qmgr_job_done(struct relay_dest *d, struct relay_job *j)
{
    const char *colon = strrchr(j->endpoint, ':');
    char remote[300], ip[64];
    size_t iplen = colon ? (size_t)(colon - j->endpoint) : strlen(j->endpoint);

    /* HOST[IP]:PORT, as Postfix writes relay= ("[v6]:port" loses its brackets). */
    if (iplen >= 2 && j->endpoint[0] == '[')
        snprintf(ip, sizeof(ip), "%.*s", (int)iplen - 2, j->endpoint + 1);
    else
        snprintf(ip, sizeof(ip), "%.*s", (int)iplen, j->endpoint);
    snprintf(remote, sizeof(remote), "%s[%s]:%s", j->remote ? j->remote : "?", ip,
             colon ? colon + 1 : "");
    for (size_t i = 0; i < j->nridx; i++) {
        if (j->codes[i] == 0) {         /* never got an answer for it */
            qmgr_set(j->msg, j->ridx[i], RELAY_O_DEFER,
                     j->last ? j->last : "451 4.4.0 delivery attempt ended", remote, j->sid);
            continue;
        }
        qmgr_set(j->msg, j->ridx[i], relay_trouble_rcpt(j->codes[i]), j->replies[i], remote,
                 j->sid);
    }
    qmgr_job_back(j);
}

/* qmgr_defer_job - every recipient of j waits with the same reason */

static void qmgr_defer_job(struct relay_job *j, enum relay_outcome o, const char *text,
                           bool conn_failure)
{
    j->msg->conn_failure = conn_failure;
    for (size_t i = 0; i < j->nridx; i++)
        qmgr_set(j->msg, j->ridx[i], o, text, j->remote, j->sid);
    qmgr_job_back(j);
}

/* relay__qmgr_dest_flush - give every waiting job of d the same outcome */

void relay__qmgr_dest_flush(struct relay_dest *d, enum relay_outcome o, const char *text,
                            bool conn_failure)
{
    struct relay_job *j;

    while ((j = relay_dest_take_job(d)) != NULL)
        qmgr_defer_job(j, o, text, conn_failure);
}

/* relay__qmgr_dest_failed - every address of d failed for `current` */

void relay__qmgr_dest_failed(struct relay_dest *d, struct relay_job *current)
{
    char *text = relay_trouble_failover(current && current->last ? current->last
                                                                  : "no answer",
                                        current ? current->last_conn : true,
                                        current && current->endpoint[0] ? current->endpoint
                                                                        : "(none)");
    bool conn = current ? current->last_conn : true;

    if (current != NULL)
        qmgr_defer_job(current, RELAY_O_DEFER, text, conn);
    relay__qmgr_dest_flush(d, RELAY_O_DEFER, text, conn);
    free(text);
}

/* ---- rounds: dispatch ------------------------------------------------- */

/* qmgr_dispatch_go - the bytes are read: make one job per destination */

static void qmgr_dispatch_go(struct relay_qmgr_work *w)
{
    struct relay_qmsg *m = w->m;
    struct config *cfg = policy_config_current();
    struct relay_job **jobs = xcalloc(m->nrcpts, sizeof(*jobs));
    struct relay_dest **dests = xcalloc(m->nrcpts, sizeof(*dests));
    size_t njobs = 0;

    m->io = false;
    m->jobs = 1;                        /* held while we hand out jobs */
    m->conn_failure = false;
    for (size_t i = 0; i < m->nrcpts; i++) {
        struct relay_qrcpt *r = &m->rcpts[i];
        const struct cfg_send *sc;
        struct relay_dest *d;
        char domain[256];
        size_t k;

        if (r->state != RELAY_R_PENDING)
            continue;
        if (w->err < 0) {
            qmgr_set(m, i, RELAY_O_DEFER, "451 4.3.0 Cannot read the queued message", NULL, 0);
            continue;
        }
        log_mail_domain(domain, sizeof(domain), r->addr);
        if ((sc = policy_route_select(cfg, domain)) == NULL) {
            /* Exchange's "Unreachable" queue: wait for a connector (a reload
             * may add one) or for expiry; never bounce on configuration. */
            qmgr_set(m, i, RELAY_O_DEFER, "451 4.4.4 Unreachable: no send connector's "
                     "address space covers the recipient domain", NULL, 0);
            continue;
        }
        d = relay__qdest_get(cfg, sc, domain);
        for (k = 0; k < njobs && dests[k] != d; k++)
            ;
        if (k == njobs) {
            jobs[k] = xcalloc(1, sizeof(*jobs[k]));
            jobs[k]->msg = m;
            jobs[k]->ridx = xcalloc(m->nrcpts, sizeof(size_t));
            jobs[k]->codes = xcalloc(m->nrcpts, sizeof(int));
            jobs[k]->replies = xcalloc(m->nrcpts, sizeof(char *));
            jobs[k]->data = xmalloc(m->data_len + 1);
            memcpy(jobs[k]->data, m->data, m->data_len);
            jobs[k]->len = m->data_len;
            dests[k] = d;
            njobs++;
        }
        jobs[k]->ridx[jobs[k]->nridx++] = i;
        r->busy = true;
    }
    m->jobs += (int)njobs;
    for (size_t k = 0; k < njobs; k++)
        relay__qdest_enqueue(dests[k], jobs[k]);
    free(jobs);
    free(dests);
    policy_config_unref(cfg);
    if (--m->jobs == 0)                 /* nothing out (or all back already) */
        relay__qround_check(m);
}

/* qmgr_dispatch - start a round of m */

static void qmgr_dispatch(struct relay_qmsg *m)
{
    m->io = true;
    relay__qmgr_submit(m, m->id, relay__qround_read_work, qmgr_dispatch_go, NULL, 0);
}

/* qmgr_expire - m is too old: fail what is left */

static void qmgr_expire(struct relay_qmsg *m)
{
    const char **to = xcalloc(m->nrcpts + 1, sizeof(*to));
    struct relay_plog_out o = {
        .event = LOG_TRACK_EXPIRE, .source = LOG_TRACK_SRC_QUEUE, .internal_id = m->id,
        .data = m->data, .data_len = m->data ? m->data_len : 0, .recipients = to,
        .total_bytes = m->data_len, .sender = m->sender,
    };

    log_info("queue", 0, "expired id=%s", m->id);
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING)
            to[o.nrecipients++] = m->rcpts[i].addr;
    relay_plog_track_out(&o);
    free(to);
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].state == RELAY_R_PENDING)
            qmgr_set(m, i, RELAY_O_FAIL, "550 4.4.7 QUEUE.Expired; message expired",
                     m->rcpts[i].remote, 0);
    relay__qround_finish(m);
}

static void qmgr_timer_fired(uv_timer_t *t)
{
    relay__qmgr_schedule();
}

static void qmgr_dns_reload(const struct config *cfg);

/* relay__qmgr_schedule - start what is due; sleep until the next thing is */

void relay__qmgr_schedule(void)
{
    struct config *cfg;
    uint64_t now, wake = UINT64_MAX;

    if (relay__q.stopping)
        return;
    cfg = policy_config_current();
    qmgr_dns_reload(cfg);
    now = relay__qmgr_now();
    for (struct relay_qmsg *m = relay__q.msgs; m != NULL; m = m->next) {
        uint64_t expires = m->arrival_ms + cfg->transport.message_expiration_timeout;

        if (m->jobs > 0 || m->io)
            continue;
        if (relay__qround_all_final(m)) {
            if (relay__qround_owes(m)) {         /* a DSN or records still to write */
                if (m->next_ms <= now)
                    relay__qround_finish(m);
                else
                    wake = m->next_ms < wake ? m->next_ms : wake;
                continue;
            }
            m->io = true;               /* e.g. a crash before removal */
            relay__qmgr_submit(m, m->id, relay__qround_remove_work, relay__qround_removed, NULL, 0);
            continue;
        }
        if (now >= expires) {
            qmgr_expire(m);
            continue;
        }
        if (m->next_ms > now) {
            wake = m->next_ms < wake ? m->next_ms : wake;
            wake = expires < wake ? expires : wake;
            continue;
        }
        if (relay__q.conns >= cfg->transport.max_outbound_connections
            && relay_smtpc_idle_count() == 0) {
            wake = now + 1000 < wake ? now + 1000 : wake;
            continue;                   /* a connection slot frees: conn_gone reschedules */
        }
        qmgr_dispatch(m);
    }
    policy_config_unref(cfg);
    if (wake != UINT64_MAX)
        uv_timer_start(&relay__q.timer, qmgr_timer_fired, wake > now ? wake - now : 1, 0);
    else
        uv_timer_stop(&relay__q.timer);
}

/* ---- thread, start, stop ----------------------------------------------- */

/* relay__qmgr_maybe_exit - stopping and nothing under way: let the loop end */

void relay__qmgr_maybe_exit(void)
{
    if (!relay__q.stopping || relay__q.busy > 0 || relay__q.conns > 0 || relay__q.resolver != NULL
        || relay__q.dns_retiring > 0
        || uv_is_closing((uv_handle_t *)&relay__q.w.wake))
        return;
    uv_close((uv_handle_t *)&relay__q.timer, NULL);
    uv_mutex_lock(&relay__q.w.lock);
    relay__q.w.wake_closed = true;
    uv_mutex_unlock(&relay__q.w.lock);
    uv_close((uv_handle_t *)&relay__q.w.wake, NULL);
}

static void qmgr_resolver_closed(void *arg)
{
    relay__q.resolver = NULL;
    relay__qmgr_maybe_exit();
}

/* qmgr_resolver_retired - close_cb of a resolver a reload replaced */

static void qmgr_resolver_retired(void *arg)
{
    relay__q.dns_retiring--;
    relay__qmgr_maybe_exit();
}

/*
 * qmgr_dns_reload - [dns] changed in the configuration: a new resolver for
 * every lookup from now on.  The old one is closed; its lookups in flight
 * end with DNS_CANCELED and are asked again of the new one (relay_qdest.c).
 */
static void qmgr_dns_reload(const struct config *cfg)
{
    const char *now = cfg->dns.servers, *err = NULL;
    struct dns_resolver *r;

    if (cfg->dns.timeout == relay__q.dns_timeout
        && (now == NULL ? relay__q.dns_servers == NULL
                        : relay__q.dns_servers != NULL && strcmp(now, relay__q.dns_servers) == 0))
        return;
    free(relay__q.dns_servers);         /* tried once per change, even if it fails */
    relay__q.dns_servers = now ? xstrdup(now) : NULL;
    relay__q.dns_timeout = cfg->dns.timeout;
    if ((r = dns_resolver_new(&relay__q.w.loop, now, cfg->dns.timeout, &err)) == NULL) {
        log_errx("qmgr", 0, "[dns] changed but the new resolver cannot start: %s; keeping "
                 "the old one", err ? err : "?");
        return;
    }
    relay__q.dns_retiring++;
    dns_resolver_close(relay__q.resolver, qmgr_resolver_retired, NULL);
    relay__q.resolver = r;
    log_info("qmgr", 0, "dns resolver replaced servers=%s timeout=%llums",
             now ? now : "resolv.conf", (unsigned long long)cfg->dns.timeout);
}

/* qmgr_wake - new messages, commit completions, stop request */

static void qmgr_wake(uv_async_t *a)
{
    char **ids;
    size_t n;
    bool stop;

    relay_commit_deliver(&relay__q.w);
    uv_mutex_lock(&relay__q.w.lock);
    ids = relay__q.incoming;
    n = relay__q.nincoming;
    relay__q.incoming = NULL;
    relay__q.nincoming = relay__q.capincoming = 0;
    stop = relay__q.stop_requested;
    uv_mutex_unlock(&relay__q.w.lock);
    for (size_t i = 0; i < n; i++) {
        if (!stop)
            relay__qmgr_submit(NULL, ids[i], qmgr_load_work, qmgr_loaded, NULL, 0);
        free(ids[i]);
    }
    free(ids);
    if (stop && !relay__q.stopping) {
        relay__q.stopping = true;
        uv_timer_stop(&relay__q.timer);
        relay_smtpc_shutdown_all();
        dns_resolver_close(relay__q.resolver, qmgr_resolver_closed, NULL);
    }
    relay__qmgr_maybe_exit();
}

/* qmgr_thread - the queue manager's thread */

static void qmgr_thread(void *arg)
{
    uv_run(&relay__q.w.loop, UV_RUN_DEFAULT);
    while (relay__q.msgs != NULL)
        relay__qround_forget(relay__q.msgs);
    while (relay__q.dests != NULL)
        relay__qdest_free(relay__q.dests);
    free(relay__q.dns_servers);
    relay__q.dns_servers = NULL;
    if (uv_loop_close(&relay__q.w.loop) != 0)
        log_warnx("qmgr", 0, "loop closed with active handles");
    tls_thread_cleanup();
}

/* relay_qmgr_notify - a message was queued (any thread) */

void relay_qmgr_notify(const char *id)
{
    uv_mutex_lock(&relay__q.w.lock);
    if (relay__q.nincoming == relay__q.capincoming) {
        relay__q.capincoming = relay__q.capincoming ? relay__q.capincoming * 2 : 16;
        relay__q.incoming = xrealloc(relay__q.incoming, relay__q.capincoming * sizeof(char *));
    }
    relay__q.incoming[relay__q.nincoming++] = xstrdup(id);
    if (!relay__q.w.wake_closed)
        uv_async_send(&relay__q.w.wake);
    uv_mutex_unlock(&relay__q.w.lock);
}

/* relay_qmgr_start - load the queue and start delivering */

int relay_qmgr_start(void)
{
    struct config *cfg = policy_config_current();
    const char *err = NULL;
    struct dirent *de;
    DIR *dir;
    int fd, r;

    uv_loop_init(&relay__q.w.loop);
    uv_mutex_init(&relay__q.w.lock);
    relay__q.w.index = -1;
    uv_async_init(&relay__q.w.loop, &relay__q.w.wake, qmgr_wake);
    uv_timer_init(&relay__q.w.loop, &relay__q.timer);
    relay__q.resolver = dns_resolver_new(&relay__q.w.loop, cfg->dns.servers, cfg->dns.timeout, &err);
    relay__q.dns_servers = cfg->dns.servers ? xstrdup(cfg->dns.servers) : NULL;
    relay__q.dns_timeout = cfg->dns.timeout;
    policy_config_unref(cfg);
    if (relay__q.resolver == NULL) {
        log_errx("qmgr", 0, "cannot start the DNS resolver: %s", err ? err : "?");
        return -1;
    }
    if ((fd = dup(relay__qmgr_dirfd())) >= 0 && (dir = fdopendir(fd)) != NULL) {
        rewinddir(dir);                 /* a dup shares the offset recovery left at the end */
        while ((de = readdir(dir)) != NULL)
            if (de->d_name[0] != '.')
                relay_qmgr_notify(de->d_name);
        closedir(dir);
    }
    if ((r = uv_thread_create(&relay__q.w.thread, qmgr_thread, NULL)) != 0) {
        log_errx("qmgr", 0, "cannot start the queue manager thread: %s", uv_strerror(r));
        return r;
    }
    relay__q.started = true;
    return 0;
}

/* relay_qmgr_stop - stop delivering, wait for in-flight work, join */

void relay_qmgr_stop(void)
{
    if (!relay__q.started)
        return;
    uv_mutex_lock(&relay__q.w.lock);
    relay__q.stop_requested = true;
    if (!relay__q.w.wake_closed)
        uv_async_send(&relay__q.w.wake);
    uv_mutex_unlock(&relay__q.w.lock);
    uv_thread_join(&relay__q.w.thread);
    uv_mutex_destroy(&relay__q.w.lock);
    for (size_t i = 0; i < relay__q.nincoming; i++)
        free(relay__q.incoming[i]);
    free(relay__q.incoming);
    relay__q.started = false;
}
