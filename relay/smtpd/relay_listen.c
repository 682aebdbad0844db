/*
 * relay_listen.c - listening sockets, one per worker and binding.
 *
 * Every worker gets its own socket for every distinct binding of every
 * receive connector, all with SO_REUSEPORT, so the kernel spreads new
 * connections over the workers' loops.  Sockets are made by main before
 * privileges are dropped (ports below 1024).  A socket is not tied to a
 * connector: the connector is chosen per connection from the current
 * configuration (policy_receive_select), so a reload that changes
 * remote_ip_ranges takes effect at once; a changed binding needs a restart.
 *
 * CONTRACT
 *  relay_listen_open() runs in main; 0 or -errno after logging which
 *  binding failed (sockets made so far are closed).  relay_listen_start()
 *  and relay_listen_stop() run on the worker's thread.
 *
 *  Near the open-file limit (the descriptor budget of relay_limits) the
 *  worker stops accepting: it closes its listener handles (each is a dup()
 *  of the socket in listen_fds, which stays open and keeps the kernel
 *  queueing) and re-opens them from listen_fds once a second has passed and
 *  there is room (relay_listen_pause).  If accept() fails with EMFILE all
 *  the same (descriptors held elsewhere), libuv would call back again and
 *  again inside one loop iteration; the same pause stops that spin.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "relay_limits.h"
#include "policy_config.h"
#include "relay_receive.h"
#include "relay_smtpd.h"
#include "relay_worker.h"

#define RELAY_LISTEN_BACKLOG 1024

/* relay_listen_unique - the distinct bindings of all receive connectors */

static size_t relay_listen_unique(const struct config *cfg, const struct cfg_binding **out,
                                  size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < cfg->nreceive; i++)
        for (size_t j = 0; j < cfg->receive[i].nbindings; j++) {
            const struct cfg_binding *b = &cfg->receive[i].bindings[j];
            size_t k;

            for (k = 0; k < n; k++)
                if (strcmp(out[k]->text, b->text) == 0)
                    break;
            if (k == n && n < max)
                out[n++] = b;
        }
    return n;
}

/* relay_listen_describe - the distinct bindings, "a:25,[b]:25" (for the start-up line) */

void relay_listen_describe(const struct config *cfg, char *buf, size_t sz)
{
    const struct cfg_binding *uniq[256];
    size_t n = relay_listen_unique(cfg, uniq, sizeof(uniq) / sizeof(uniq[0])), len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && len < sz; i++)
        len += (size_t)snprintf(buf + len, sz - len, "%s%s", i ? "," : "", uniq[i]->text);
}

/* relay_listen_socket - one bound, listening, non-blocking socket */

static int relay_listen_socket(const struct cfg_binding *b)
{
    int fd, one = 1;

    fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0
        || (b->addr.ss_family == AF_INET6
            && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        || bind(fd, (const struct sockaddr *)&b->addr, b->addrlen) < 0
        || listen(fd, RELAY_LISTEN_BACKLOG) < 0) {
        int e = -errno;

        close(fd);
        return e;
    }
    return fd;
}

/* relay_listen_open - make every worker's sockets */

int relay_listen_open(struct relay_worker *workers, size_t nworkers, const struct config *cfg)
{
    const struct cfg_binding *uniq[256];
    size_t n = relay_listen_unique(cfg, uniq, sizeof(uniq) / sizeof(uniq[0]));

    for (size_t w = 0; w < nworkers; w++) {
        workers[w].listen_fds = xcalloc(n, sizeof(int));
        workers[w].nlisteners = n;
        for (size_t i = 0; i < n; i++) {
            int fd = relay_listen_socket(uniq[i]);

            if (fd < 0) {
                errno = -fd;
                log_err("listen", 0, "cannot listen on %s", uniq[i]->text);
                for (size_t v = 0; v <= w; v++)
                    for (size_t j = 0; j < (v < w ? n : i); j++)
                        close(workers[v].listen_fds[j]);
                return fd;
            }
            workers[w].listen_fds[i] = fd;
        }
    }
    return 0;
}

static void relay_listen_connection(uv_stream_t *server, int status);

#define RELAY_LISTEN_PAUSE_MS 1000      /* accept paused this long at the fd limit */

/* relay_listen_open_handles - (re)open the handles from dups of listen_fds */

static int relay_listen_open_handles(struct relay_worker *w)
{
    int r;

    for (size_t i = 0; i < w->nlisteners; i++) {
        int fd = dup(w->listen_fds[i]);

        if (fd < 0)
            return -errno;
        uv_tcp_init(&w->loop, &w->listeners[i]);
        w->listeners[i].data = w;
        w->open_listeners++;
        if ((r = uv_tcp_open(&w->listeners[i], fd)) != 0
            || (r = uv_listen((uv_stream_t *)&w->listeners[i], RELAY_LISTEN_BACKLOG,
                              relay_listen_connection)) != 0)
            return r;
    }
    return 0;
}

/* relay_listen_paused - close_cb of a listener closed for a pause */

static void relay_listen_paused(uv_handle_t *h)
{
    struct relay_worker *w = h->data;

    w->open_listeners--;
    relay_worker_session_gone(w);       /* stop may have come meanwhile */
}

/* relay_listen_close_all - close every open listener handle with cb */

static void relay_listen_close_all(struct relay_worker *w, uv_close_cb cb)
{
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i].type == UV_TCP && !uv_is_closing((uv_handle_t *)&w->listeners[i]))
            uv_close((uv_handle_t *)&w->listeners[i], cb);
}

/* relay_listen_resume - the pause is over: accept again */

static void relay_listen_resume(uv_timer_t *t)
{
    struct relay_worker *w = t->data;
    int r;

    if (w->stopping)
        return;
    if (w->open_listeners > 0) {        /* close callbacks still pending */
        uv_timer_start(&w->accept_timer, relay_listen_resume, 100, 0);
        return;
    }
    if (relay_limits_conn_full(NULL, NULL)) {
        uv_timer_start(&w->accept_timer, relay_listen_resume, RELAY_LISTEN_PAUSE_MS, 0);
        return;
    }
    memset(w->listeners, 0, w->nlisteners * sizeof(*w->listeners));
    if ((r = relay_listen_open_handles(w)) != 0) {
        /* Still no descriptor to spare: close what opened, try again later. */
        relay_listen_close_all(w, relay_listen_paused);
        uv_timer_start(&w->accept_timer, relay_listen_resume, RELAY_LISTEN_PAUSE_MS, 0);
        return;
    }
    w->accept_paused = false;
    log_info("listen", 0, "accepting again worker=%d", w->index);
}

/* relay_listen_pause - at the fd limit (status 0: the budget): stop accepting a while */

static void relay_listen_pause(struct relay_worker *w, int status)
{
    long    in_use, budget;

    if (w->accept_paused || w->stopping)
        return;
    w->accept_paused = true;
    if (status == 0) {
        (void)relay_limits_conn_full(&in_use, &budget);
        log_warnx("listen", 0, "open file limit: %ld connections open, room for %ld: "
                  "not accepting for %d ms worker=%d (raise the open file limit or "
                  "lower max_inbound_connection)", in_use, budget,
                  RELAY_LISTEN_PAUSE_MS, w->index);
    } else {
        log_warnx("listen", 0, "accept error: %s: not accepting for %d ms worker=%d "
                  "(raise the open file limit or lower max_inbound_connection)",
                  uv_strerror(status), RELAY_LISTEN_PAUSE_MS, w->index);
    }
    relay_listen_close_all(w, relay_listen_paused);
    uv_timer_start(&w->accept_timer, relay_listen_resume, RELAY_LISTEN_PAUSE_MS, 0);
}

/* relay_listen_connection - a connection is waiting */

static void relay_listen_connection(uv_stream_t *server, int status)
{
    struct relay_worker *w = server->data;

    if (status == UV_EMFILE || status == UV_ENFILE) {
        relay_listen_pause(w, status);
        return;
    }
    if (status < 0) {
        log_warnx("listen", 0, "accept error: %s", uv_strerror(status));
        return;
    }
    if (relay_limits_conn_full(NULL, NULL)) {
        relay_listen_pause(w, 0);       /* the connection waits in the backlog */
        return;
    }
    if (!w->stopping)
        relay_session_accept(w, server);
}

/* relay_listen_start - accept on this worker's sockets */

int relay_listen_start(struct relay_worker *w)
{
    int r;

    w->listeners = xcalloc(w->nlisteners, sizeof(uv_tcp_t));
    uv_timer_init(&w->loop, &w->accept_timer);
    w->accept_timer.data = w;
    if ((r = relay_listen_open_handles(w)) != 0) {
        log_errx("listen", 0, "worker %d cannot accept: %s", w->index, uv_strerror(r));
        return r;
    }
    return 0;
}

/* relay_listen_closed - close_cb of a listener */

static void relay_listen_closed(uv_handle_t *h)
{
    struct relay_worker *w = h->data;

    w->open_listeners--;
    relay_worker_session_gone(w);       /* may let the worker finish */
}

/* relay_listen_stop - stop accepting */

void relay_listen_stop(struct relay_worker *w)
{
    relay_listen_close_all(w, relay_listen_closed);
    uv_close((uv_handle_t *)&w->accept_timer, NULL);
    for (size_t i = 0; i < w->nlisteners; i++)
        close(w->listen_fds[i]);        /* the handles had dups */
}
