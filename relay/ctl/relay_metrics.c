/*
 * relay_metrics.c - /metrics over HTTP: libmicrohttpd on its own internal
 * thread (MHD_USE_AUTO_INTERNAL_THREAD: epoll on Linux), on a socket main
 * bound with the other listeners, so a bad [metrics] listen fails the
 * start before anything runs.
 *
 * A scrape sums the counter shards (relay_stats_snapshot: atomic loads,
 * no lock the workers take), reads the gauges, the CRL set's build time
 * and, under a reference to the running configuration, the connectors
 * and the certificates they present; then relay_metrics_render() writes
 * the text, handed to MHD with free() as its release.  Only GET and HEAD
 * of /metrics are served: 405 (with Allow) for other methods, 404 for other
 * paths.  [metrics] remote_ip_ranges is enforced by MHD's accept policy
 * callback, before a byte is read; the ranges are copied at start (the
 * section is read at start only, like the listen address).
 *
 * CONTRACT
 *  relay_metrics_open/_start/_stop run on main, in that order, once.  The
 *  handler runs on MHD's thread and touches no configuration without a
 *  reference (policy_config_current).  Stop: MHD_quiesce_daemon (no new
 *  connections), then MHD_stop_daemon (finishes and joins); the socket is
 *  closed after that.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "relay_crl.h"
#include "relay_metrics.h"
#include "relay_stats.h"
#include "relay_tls.h"
#include "tls_store.h"

#define METRICS_PER_IP_LIMIT 4
#define METRICS_MEMORY_LIMIT ((size_t)32768)
#define METRICS_BACKLOG 16
#define METRICS_MAX_CERTS 128

static struct {
    int     fd;                         /* listening socket, -1 = off */
    char   *listen;                     /* owned: the address, for the log */
    struct cfg_range *ranges;           /* owned copy of remote_ip_ranges */
    size_t  nranges;
    int64_t start_s;
    struct MHD_Daemon *mhd;
} M = { .fd = -1 };

static const char metrics_404[] = "Not Found\n";
static const char metrics_405[] = "Method Not Allowed\n";
static const char metrics_500[] = "Internal Server Error\n";

/* relay_metrics_open - bind [metrics] listen (main, before the drop) */

int relay_metrics_open(const struct config *cfg)
{
    const struct cfg_metrics *mc = &cfg->metrics;
    const struct cfg_binding *b;
    int     one = 1;

    M.start_s = (int64_t)time(NULL);
    if (mc->nlisten == 0)
        return 0;
    b = &mc->listen[0];
    M.fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (M.fd < 0
        || setsockopt(M.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || (b->addr.ss_family == AF_INET6
            && setsockopt(M.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        || bind(M.fd, (const struct sockaddr *)&b->addr, b->addrlen) < 0
        || listen(M.fd, METRICS_BACKLOG) < 0) {
        log_err("metrics", 0, "cannot listen on %s ([metrics] listen)", b->text);
        if (M.fd >= 0)
            close(M.fd);
        M.fd = -1;
        return -1;
    }
    M.listen = xstrdup(b->text);
    M.nranges = mc->nremote_ip_ranges;
    M.ranges = xcalloc(M.nranges ? M.nranges : 1, sizeof(*M.ranges));
    memcpy(M.ranges, mc->remote_ip_ranges, M.nranges * sizeof(*M.ranges));
    return 0;
}

/* metrics_accept - MHD's accept policy: [metrics] remote_ip_ranges */

static enum MHD_Result metrics_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    for (size_t i = 0; i < M.nranges; i++)
        if (policy_range_contains(&M.ranges[i], addr))
            return MHD_YES;
    return MHD_NO;
}

/* metrics_log - MHD's messages, as warnings */

static void metrics_log(void *cls, const char *fmt, va_list ap)
{
    char    buf[512];
    size_t  n;

    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_warnx("metrics", 0, "%s", buf);
}

struct metrics_certs {
    struct relay_metrics_cert *v;
    size_t  n;
    const char *connector;
    bool    receive;
};

/* metrics_cert - relay_tls_own_cert's callback: note one certificate */

static void metrics_cert(const struct tls_cert_info *ci, void *arg)
{
    struct metrics_certs *mc = arg;
    struct relay_metrics_cert *c;

    if (mc->n >= METRICS_MAX_CERTS)
        return;
    c = &mc->v[mc->n++];
    c->connector = mc->connector;
    c->receive = mc->receive;
    snprintf(c->thumbprint, sizeof(c->thumbprint), "%s", ci->thumbprint);
    c->not_after = ci->not_after;
}

/* metrics_body - the text of one scrape (malloc'd), or NULL */

static char *metrics_body(size_t *len)
{
    struct config *cfg = policy_config_current();
    struct relay_stats_view *v = xmalloc(sizeof(*v));
    struct relay_metrics_info in = { .version = DOMSEC_VERSION };
    struct metrics_certs mc = { .v = xcalloc(METRICS_MAX_CERTS, sizeof(*mc.v)) };
    const char **names = NULL;
    char   *body;

    relay_stats_snapshot(v);
    in.now_s = (int64_t)time(NULL);
    in.start_s = M.start_s;
    in.queue_active = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_ACTIVE);
    in.queue_deferred = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_DEFERRED);
    in.queue_held = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_HELD);
    in.oldest_ms = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_OLDEST_MS);
    in.crl_built_s = relay_crl_published();
    if (cfg != NULL) {
        names = xcalloc(cfg->nreceive + cfg->nsend + 1, sizeof(*names));
        for (size_t i = 0; i < cfg->nreceive; i++) {
            names[i] = cfg->receive[i].name;
            mc.connector = cfg->receive[i].name;
            mc.receive = true;
            (void)relay_tls_own_cert(cfg, true, i, metrics_cert, &mc);
        }
        for (size_t i = 0; i < cfg->nsend; i++) {
            names[cfg->nreceive + i] = cfg->send[i].name;
            mc.connector = cfg->send[i].name;
            mc.receive = false;
            (void)relay_tls_own_cert(cfg, false, i, metrics_cert, &mc);
        }
        in.receive = names;
        in.nreceive = cfg->nreceive;
        in.send = names + cfg->nreceive;
        in.nsend = cfg->nsend;
    }
    in.certs = mc.v;
    in.ncerts = mc.n;
    body = relay_metrics_render(v, &in, len);
    free(names);
    free(mc.v);
    free(v);
    policy_config_unref(cfg);
    return body;
}

/* metrics_reply - queue a static reply */

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned status,
                                     const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* metrics_handler - one request (MHD's thread) */

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload, size_t *upload_size, void **con_cls)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t  len = 0;
    char   *body;

    if (strcmp(url, "/metrics") != 0)
        return metrics_reply(conn, MHD_HTTP_NOT_FOUND, metrics_404);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, metrics_405);
    if ((body = metrics_body(&len)) == NULL)
        return metrics_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, metrics_500);
    r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  "text/plain; version=0.0.4; charset=utf-8");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* relay_metrics_start - serve (main, after the drop) */

int relay_metrics_start(const struct config *cfg)
{
    const struct cfg_metrics *mc = &cfg->metrics;
    bool    open_to_all = false;

    if (M.fd < 0)
        return 0;
    M.mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
                             metrics_accept, NULL, metrics_handler, NULL,
                             MHD_OPTION_EXTERNAL_LOGGER, metrics_log, NULL,
                             MHD_OPTION_LISTEN_SOCKET, M.fd,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned int)mc->max_clients,
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                             (unsigned int)METRICS_PER_IP_LIMIT,
                             MHD_OPTION_CONNECTION_TIMEOUT,
                             (unsigned int)((mc->timeout + 999) / 1000),
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, METRICS_MEMORY_LIMIT,
                             MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1,
                             MHD_OPTION_END);
    if (M.mhd == NULL) {
        log_errx("metrics", 0, "cannot serve /metrics on %s", M.listen);
        return -1;
    }
    for (size_t i = 0; i < M.nranges; i++)
        open_to_all |= M.ranges[i].prefix == 0;
    if (open_to_all)
        log_warnx("metrics", 0, "/metrics on %s answers every address (remote_ip_ranges "
                  "includes /0): counters only, no authentication", M.listen);
    log_info("metrics", 0, "listening on %s", M.listen);
    return 0;
}

/* relay_metrics_changed - does [metrics] differ (a restart applies it)? */

bool relay_metrics_changed(const struct config *a, const struct config *b)
{
    const struct cfg_metrics *x = &a->metrics, *y = &b->metrics;

    if (x->nlisten != y->nlisten || x->nremote_ip_ranges != y->nremote_ip_ranges
        || x->max_clients != y->max_clients || x->timeout != y->timeout)
        return true;
    if (x->nlisten > 0 && strcmp(x->listen[0].text, y->listen[0].text) != 0)
        return true;
    return x->nremote_ip_ranges > 0
        && memcmp(x->remote_ip_ranges, y->remote_ip_ranges,
                  x->nremote_ip_ranges * sizeof(*x->remote_ip_ranges)) != 0;
}

/* relay_metrics_stop - stop serving and join the thread (main) */

void relay_metrics_stop(void)
{
    if (M.mhd != NULL) {
        (void)MHD_quiesce_daemon(M.mhd);
        MHD_stop_daemon(M.mhd);
        M.mhd = NULL;
    }
    if (M.fd >= 0)
        close(M.fd);
    M.fd = -1;
    free(M.listen);
    free(M.ranges);
    M.listen = NULL;
    M.ranges = NULL;
    M.nranges = 0;
}
