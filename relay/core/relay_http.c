/*
 * relay_http.c - HTTP(S) transfers with libcurl's multi socket API on a
 * libuv loop (relay_http.h), in the style of relay/crl/relay_crl_fetch.c:
 * one uv_poll per curl socket, one uv_timer for curl's timeout.
 *
 * Each transfer: the URL's protocol must be http or https; no redirects
 * (FOLLOWLOCATION off: a 3xx is returned as is), no proxy (whatever the
 * environment says), no connection reuse (FRESH_CONNECT, FORBID_REUSE: a
 * new address given by the caller is always the one used), CURLOPT_RESOLVE
 * pins "host:port" to the caller's addresses (an IP-literal host needs
 * none), TLS peer and host name verification on (CAINFO = ca_file and no
 * CAPATH when the caller gives one), total time timeout_ms, connect time
 * at most 10 s of it, body at most max_bytes (MAXFILESIZE for a declared
 * length, the write callback for the rest).  POST: the body copied, the
 * caller's Content-Type, no "Expect: 100-continue".
 *
 * CONTRACT
 *  Everything runs on the loop's thread.  relay_http_start() copies opts;
 *  a request that cannot start (bad URL, no address, libcurl refuses) is
 *  answered with an error from a zero timer, so cb is always later.
 *  libcurl calls http_socket_cb and http_timer_cb from inside curl_multi_*
 *  calls (add/remove handle included); they only adjust uv handles.
 *  Finished transfers are collected only from uv callbacks (http_check),
 *  after curl returned: a cb may start, cancel or close.  A request is
 *  unlinked and its easy handle removed before its cb runs, and freed
 *  after.  relay_http_cancel() removes and frees at once (curl forgets any
 *  finished message of the handle).  relay_http_close() cancels all,
 *  cleans the multi handle up, closes every uv handle and frees h in the
 *  last close_cb, then calls done.  libcurl's global state is initialised
 *  once per process (uv_once; libcurl is built threadsafe) and never
 *  cleaned up, like c-ares in dns/.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay_http.h"

#define HTTP_DEFAULT_MAX_BYTES  (64 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 60000
#define HTTP_CONNECT_MAX_MS     10000

struct relay_http {
    uv_loop_t *loop;                    /* not owned */
    CURLM  *multi;                      /* owned */
    uv_timer_t curl_timer;              /* curl's timeout */
    uv_timer_t defer_timer;             /* delivers requests that could not start */
    struct relay_http_req *reqs;        /* every live request (owned) */
    struct http_sock *socks;            /* polls not yet closing (owned) */
    unsigned closing;                   /* uv handles whose close_cb is pending */
    bool    closed;                     /* relay_http_close called */
    void  (*done)(void *);
    void   *done_arg;
};

struct relay_http_req {
    struct relay_http *h;               /* not owned */
    struct relay_http_req *prev, *next;
    CURL   *easy;                       /* owned; NULL if it could not start */
    struct curl_slist *resolve, *headers;       /* owned */
    const char *fail;                   /* static: why it could not start */
    char   *body;                       /* owned, NUL-terminated */
    size_t  len, max;
    bool    too_big;
    relay_http_cb *cb;
    void   *arg;
    char    err[CURL_ERROR_SIZE];
};

struct http_sock {                      /* one per curl socket; freed in close_cb */
    uv_poll_t poll;                     /* first member */
    struct relay_http *h;
    struct http_sock *next;
    curl_socket_t fd;
};

static uv_once_t http_once = UV_ONCE_INIT;
static bool http_global_ok;

static void http_check(struct relay_http *h);

/* http_global - curl_global_init once per process */

static void http_global(void)
{
    http_global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* ---- requests ------------------------------------------------------------------ */

/* http_unlink - take r off h's list */

static void http_unlink(struct relay_http_req *r)
{
    struct relay_http *h = r->h;

    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* http_detach - remove r's transfer from curl (may call http_socket_cb) */

static void http_detach(struct relay_http_req *r)
{
    if (r->easy) {
        curl_multi_remove_handle(r->h->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
}

/* http_free - free a detached, unlinked request */

static void http_free(struct relay_http_req *r)
{
    curl_slist_free_all(r->resolve);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

/* http_is_tls - does this curl error come from the peer's TLS or certificate?
 * (Our own trust store or client certificate being unreadable is not the
 * peer's fault: http_is_local.) */

static bool http_is_tls(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

/* http_is_local - a local setup error (ca_file, CRL file, client certificate) */

static bool http_is_local(CURLcode rc)
{
    return rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CRL_BADFILE
           || rc == CURLE_SSL_CERTPROBLEM;
}

/* http_deliver - build the result of a finished r and run its cb */

static void http_deliver(struct relay_http_req *r, CURLcode rc)
{
    struct relay_http_result res = { 0 };
    char why[CURL_ERROR_SIZE + 64];
    long status = 0;
    char *ctype = NULL, *ct = NULL;

    if (r->easy) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype);
        ct = ctype ? xstrdup(ctype) : NULL;     /* lives in the easy handle */
    }
    res.status = (int)status;
    res.content_type = ct;
    if (r->fail) {
        res.error = r->fail;
    } else if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, sizeof(why), "body larger than %zu bytes", r->max);
        res.error = why;
    } else if (rc == CURLE_OPERATION_TIMEDOUT && strstr(r->err, "too slow") != NULL) {
        snprintf(why, sizeof(why), "too slow: under %d bytes/s for %d s",
                 RELAY_HTTP_LOW_SPEED_BPS, RELAY_HTTP_LOW_SPEED_S);
        res.error = why;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        res.error = "timeout";
    } else if (rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", r->err[0] ? r->err : curl_easy_strerror(rc));
        res.error = why;
        res.tls_error = http_is_tls(rc);
        res.local_error = http_is_local(rc);
    }
    res.body = r->body && !res.error ? r->body : "";  /* a failed transfer: no body */
    res.len = r->body && !res.error ? r->len : 0;
    http_detach(r);
    r->cb(r->arg, &res);
    free(ct);
    http_free(r);
}

/* http_write_cb - CURLOPT_WRITEFUNCTION: append, at most r->max bytes */

static size_t http_write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct relay_http_req *r = arg;

    if (n > r->max - r->len) {
        r->too_big = true;
        return 0;                       /* aborts with CURLE_WRITE_ERROR */
    }
    r->body = xrealloc(r->body, r->len + n + 1);
    memcpy(r->body + r->len, p, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* http_resolve - "host:port:addr,addr" for CURLOPT_RESOLVE; NULL with *why */

static char *http_resolve(const struct relay_http_opts *o, bool *literal, const char **why)
{
    CURLU  *u = curl_url();
    char   *host = NULL, *port = NULL, *entry = NULL;
    unsigned char ip[sizeof(struct in6_addr)];

    *literal = false;
    if (curl_url_set(u, CURLUPART_URL, o->url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        *why = "bad URL";
    } else if (host[0] == '[' || inet_pton(AF_INET, host, ip) == 1) {
        *literal = true;                /* nothing to resolve */
    } else if (o->naddrs == 0) {
        *why = "no address";
    } else {
        size_t  cap = strlen(host) + strlen(port) + 3 + o->naddrs * (INET6_ADDRSTRLEN + 3);

        entry = xmalloc(cap);
        snprintf(entry, cap, "%s:%s:", host, port);
        for (size_t i = 0; i < o->naddrs; i++) {
            const struct sockaddr_storage *ss = &o->addrs[i];
            char a[INET6_ADDRSTRLEN] = "";

            if (ss->ss_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
            else if (ss->ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a,
                          sizeof(a));
            else
                continue;
            snprintf(entry + strlen(entry), cap - strlen(entry), "%s%s%s%s",
                     entry[strlen(entry) - 1] == ':' ? "" : ",",
                     ss->ss_family == AF_INET6 ? "[" : "", a,
                     ss->ss_family == AF_INET6 ? "]" : "");
        }
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return entry;
}

/* http_setup - the easy handle of r; NULL with r->fail on failure */

static void http_setup(struct relay_http_req *r, const struct relay_http_opts *o)
{
    const char *why = "libcurl cannot start a transfer";
    bool    literal;
    char   *entry = http_resolve(o, &literal, &why);
    long    timeout = o->timeout_ms ? (long)o->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    CURL   *e;

    if ((entry == NULL && !literal) || (e = curl_easy_init()) == NULL) {
        r->fail = why;
        free(entry);
        return;
    }
    if (entry)
        r->resolve = curl_slist_append(NULL, entry);
    free(entry);
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < HTTP_CONNECT_MAX_MS ? timeout : (long)HTTP_CONNECT_MAX_MS);
    /* A GET whose peer trickles (slowloris) loses the transfer after
     * RELAY_HTTP_LOW_SPEED_S seconds below RELAY_HTTP_LOW_SPEED_BPS.  Not a
     * POST: libcurl counts both directions, so a receiver that takes its time
     * to answer an uploaded report would count as too slow (timeout_ms
     * bounds it). */
    if (o->post_type == NULL) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)RELAY_HTTP_LOW_SPEED_BPS);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)RELAY_HTTP_LOW_SPEED_S);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "domsec/" DOMSEC_VERSION);
    if (o->post_type) {
        char   *ct = xasprintf("Content-Type: %s", o->post_type);

        r->headers = curl_slist_append(curl_slist_append(NULL, ct), "Expect:");
        free(ct);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->post_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->post_len ? o->post : "");
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    r->easy = e;
}

/* ---- libcurl on the loop ------------------------------------------------------- */

/* http_closed - close_cb of every handle: free h after the last one */

static void http_closed(uv_handle_t *handle)
{
    struct relay_http *h = handle->data;

    if (handle->type == UV_POLL)
        free(handle);                   /* struct http_sock, poll first */
    if (--h->closing == 0 && h->closed) {
        void  (*done)(void *) = h->done;
        void   *arg = h->done_arg;

        free(h);
        if (done)
            done(arg);
    }
}

/* http_sock_close - stop and close one poll */

static void http_sock_close(struct http_sock *s)
{
    struct relay_http *h = s->h;
    struct http_sock **pp;

    for (pp = &h->socks; *pp && *pp != s; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = s->next;
    uv_poll_stop(&s->poll);
    h->closing++;
    uv_close((uv_handle_t *)&s->poll, http_closed);
}

/* http_sock_event - a curl socket is ready: let curl act on it */

static void http_sock_event(uv_poll_t *p, int status, int events)
{
    struct http_sock *s = (struct http_sock *)p;
    struct relay_http *h = s->h;
    int flags = status < 0 ? CURL_CSELECT_ERR
                : (events & UV_READABLE ? CURL_CSELECT_IN : 0)
                  | (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    int running;

    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    http_check(h);
}

/* http_socket_cb - CURLMOPT_SOCKETFUNCTION: mirror curl's interest in uv_poll */

static int http_socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
    struct relay_http *h = userp;
    struct http_sock *s = sockp;
    int ev = 0;

    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(h->multi, fd, NULL);
            http_sock_close(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->h = h;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->poll.data = h;
        s->next = h->socks;
        h->socks = s;
        curl_multi_assign(h->multi, fd, s);
    }
    ev |= what == CURL_POLL_IN || what == CURL_POLL_INOUT ? UV_READABLE : 0;
    ev |= what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? UV_WRITABLE : 0;
    uv_poll_start(&s->poll, ev, http_sock_event);
    return 0;
}

/* http_curl_timeout - curl's timer fired */

static void http_curl_timeout(uv_timer_t *t)
{
    struct relay_http *h = t->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_check(h);
}

/* http_timer_cb - CURLMOPT_TIMERFUNCTION: one uv timer for curl */

static int http_timer_cb(CURLM *m, long ms, void *userp)
{
    struct relay_http *h = userp;

    if (ms < 0)
        uv_timer_stop(&h->curl_timer);
    else
        uv_timer_start(&h->curl_timer, http_curl_timeout, (uint64_t)ms, 0);
    return 0;
}

/* http_check - deliver finished transfers (from uv callbacks only) */

static void http_check(struct relay_http *h)
{
    CURLMsg *m;
    int left;

    while (!h->closed && (m = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct relay_http_req *r = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        http_unlink(r);
        http_deliver(r, m->data.result);        /* m is gone after this */
    }
}

/* http_deferred - deliver the requests that could not start */

static void http_deferred(uv_timer_t *t)
{
    struct relay_http *h = t->data;
    struct relay_http_req *r = h->reqs;

    while (!h->closed && r != NULL) {
        struct relay_http_req *next = r->next;

        if (r->easy == NULL) {
            http_unlink(r);
            http_deliver(r, CURLE_OK);  /* cb may cancel next: restart the scan */
            next = h->reqs;
        }
        r = next;
    }
}

/* ---- API ----------------------------------------------------------------------- */

/* relay_http_new - a client on loop */

struct relay_http *relay_http_new(uv_loop_t *loop)
{
    struct relay_http *h;

    uv_once(&http_once, http_global);
    if (!http_global_ok) {
        log_errx("http", 0, "cannot initialize libcurl");
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->loop = loop;
    if ((h->multi = curl_multi_init()) == NULL) {
        log_errx("http", 0, "cannot initialize libcurl");
        free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    uv_timer_init(loop, &h->curl_timer);
    uv_timer_init(loop, &h->defer_timer);
    h->curl_timer.data = h->defer_timer.data = h;
    return h;
}

/* relay_http_start - start one transfer; cb always later */

struct relay_http_req *relay_http_start(struct relay_http *h, const struct relay_http_opts *o,
                                        relay_http_cb *cb, void *arg)
{
    struct relay_http_req *r = xcalloc(1, sizeof(*r));

    if (h->closed)
        log_panic("http", "relay_http_start after relay_http_close");
    r->h = h;
    r->cb = cb;
    r->arg = arg;
    r->max = o->max_bytes ? o->max_bytes : HTTP_DEFAULT_MAX_BYTES;
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    http_setup(r, o);
    if (r->easy && curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        r->fail = "libcurl cannot start a transfer";
    }
    if (r->easy == NULL)
        uv_timer_start(&h->defer_timer, http_deferred, 0, 0);
    return r;
}

/* relay_http_cancel - forget r: no callback */

void relay_http_cancel(struct relay_http_req *r)
{
    if (r == NULL)
        return;
    http_unlink(r);
    http_detach(r);
    http_free(r);
}

/* relay_http_close - cancel all, close handles, free, then done */

void relay_http_close(struct relay_http *h, void (*done)(void *), void *arg)
{
    h->closed = true;
    h->done = done;
    h->done_arg = arg;
    while (h->reqs)
        relay_http_cancel(h->reqs);
    curl_multi_cleanup(h->multi);       /* may still remove sockets */
    h->multi = NULL;
    while (h->socks)
        http_sock_close(h->socks);
    h->closing += 2;
    uv_close((uv_handle_t *)&h->curl_timer, http_closed);
    uv_close((uv_handle_t *)&h->defer_timer, http_closed);
}
