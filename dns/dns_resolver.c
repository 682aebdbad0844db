/*
 * dns_resolver.c - a c-ares channel driven by a libuv loop; query lifecycle.
 *
 * CONTRACT
 *  dns_resolver_new() returns a resolver owned by the caller until it
 *  hands it to dns_resolver_close(), or NULL with *err set (a static
 *  c-ares text) and no callback ever.  The servers string is not kept.
 *  Each try waits timeout_ms (0: 5 s); DNS_TRIES tries per server, and
 *  c-ares doubles the wait each round (1 server: 1x + 2x timeout).
 *  Search domains and /etc/hosts are never used.
 *
 *  DNSSEC (dns_resolver_set_dnssec): dns__send_query builds each query
 *  itself (ares_create_query with EDNS0, then AD=1) and sends it with
 *  ares_send, mapping the answer's RCODE to a status the way ares_query
 *  does, so the answer functions see the same statuses either way and can
 *  read the AD bit (dns__answer_secure).  Address lookups then go through
 *  dns__send_query too (dns_mx.c): getaddrinfo cannot set AD.
 *
 *  Callbacks never run inside the call that started them: every result,
 *  including one c-ares produced synchronously (bad name, numeric address,
 *  ares_destroy), is queued and delivered from a uv_idle handle.  A result
 *  and the query are freed after the callback returns.
 *
 *  dns_query_cancel() delivers DNS_CANCELED exactly once, later, even if a
 *  result was already queued; it is a no-op from inside the query's own
 *  callback.  c-ares 1.18 cannot cancel one request, so a canceled query's
 *  requests run on and their answers are dropped (the query memory lives
 *  until the last one returns, but the caller no longer sees it).
 *
 *  dns_resolver_close() cancels every query, destroys the channel, delivers
 *  the DNS_CANCELED callbacks, closes the handles, frees the resolver in
 *  the last close_cb and then calls done(arg).  Calling a lookup on it is
 *  allowed only until those callbacks return (the lookup is canceled);
 *  anything later is a bug (panic).  One resolver per loop thread; the
 *  library is initialised once per process (uv_once) and never cleaned up.
 */
#include <arpa/nameser.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"
#include "log.h"

#define DNS_TRIES              2
#define DNS_DEFAULT_TIMEOUT_MS 5000
#define DNS_EDNS_UDPSIZE       1232     /* the DNS flag day 2020 size */
#define DNS_HDR_AD             0x20     /* byte 3 of the header */

struct dns_poll {                       /* one per socket c-ares has open */
    uv_poll_t poll;
    struct dns_resolver *r;
    ares_socket_t fd;
    struct dns_poll *next;
};

struct dns_req {                        /* one c-ares request of a query */
    struct dns_query *q;
    dns__answer_fn answer;              /* one of these two */
    dns__addr_fn addr;
    void   *arg;
};

struct dns_resolver {
    uv_loop_t *loop;
    ares_channel ch;                    /* owned; NULL once closing */
    uv_timer_t timer;                   /* c-ares timeouts */
    uv_idle_t idle;                     /* delivers r->pending */
    struct dns_poll *polls;             /* owned, freed in their close_cb */
    struct dns_query *queries;          /* every query not yet freed */
    struct dns_query *pending;          /* finished, FIFO */
    struct dns_query **pending_tail;
    unsigned handles;                   /* not yet through close_cb */
    bool    closing, handles_closed;
    bool    dnssec;                     /* AD=1 on queries, answers' AD trusted */
    void  (*done)(void *arg);
    void   *done_arg;
};

static uv_once_t dns_lib_once = UV_ONCE_INIT;
static int dns_lib_status;

/* dns_lib_init - ares_library_init, once per process */

static void dns_lib_init(void)
{
    dns_lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* dns_resolver_handle_closed - count a close_cb; the last frees r */

static void dns_resolver_handle_closed(struct dns_resolver *r)
{
    void (*done)(void *) = r->done;
    void *arg = r->done_arg;

    if (--r->handles > 0 || !r->handles_closed)
        return;
    free(r);
    if (done)
        done(arg);
}

/* dns_resolver_on_close - close_cb of the timer and the idle handle */

static void dns_resolver_on_close(uv_handle_t *h)
{
    dns_resolver_handle_closed(h->data);
}

/* dns_poll_on_close - close_cb of a socket poll: free it */

static void dns_poll_on_close(uv_handle_t *h)
{
    struct dns_poll *sp = h->data;
    struct dns_resolver *r = sp->r;

    free(sp);
    dns_resolver_handle_closed(r);
}

/* dns_poll_drop - unlink a socket poll and close it */

static void dns_poll_drop(struct dns_resolver *r, struct dns_poll *sp)
{
    struct dns_poll **pp = &r->polls;

    while (*pp != sp)
        pp = &(*pp)->next;
    *pp = sp->next;
    uv_poll_stop(&sp->poll);
    uv_close((uv_handle_t *)&sp->poll, dns_poll_on_close);
}

static void dns_resolver_on_timer(uv_timer_t *t);
static void dns_resolver_on_idle(uv_idle_t *h);

/* dns_resolver_arm - restart the timer from ares_timeout() */

static void dns_resolver_arm(struct dns_resolver *r)
{
    struct timeval tv, *tvp;
    uint64_t ms;

    if (r->ch == NULL)
        return;
    if ((tvp = ares_timeout(r->ch, NULL, &tv)) == NULL) {
        uv_timer_stop(&r->timer);       /* nothing outstanding */
        return;
    }
    ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
    uv_timer_start(&r->timer, dns_resolver_on_timer, ms ? ms : 1, 0);
}

/* dns_resolver_on_timer - let c-ares retry or expire requests */

static void dns_resolver_on_timer(uv_timer_t *t)
{
    struct dns_resolver *r = t->data;

    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_resolver_arm(r);
}

/* dns_poll_on_event - a c-ares socket is ready (or failed) */

static void dns_poll_on_event(uv_poll_t *h, int status, int events)
{
    struct dns_poll *sp = h->data;
    struct dns_resolver *r = sp->r;     /* sp may be freed by ares_process_fd */
    ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

    if (r->ch == NULL)
        return;
    if (status < 0) {                   /* let c-ares see the error */
        rfd = wfd = sp->fd;
    } else {
        if (events & UV_READABLE)
            rfd = sp->fd;
        if (events & UV_WRITABLE)
            wfd = sp->fd;
    }
    ares_process_fd(r->ch, rfd, wfd);
    dns_resolver_arm(r);
}

/* dns_resolver_sock_state - c-ares opens, changes or is about to close fd */

static void dns_resolver_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns_resolver *r = data;
    struct dns_poll *sp;
    int err;

    for (sp = r->polls; sp && sp->fd != fd; sp = sp->next)
        ;
    if (!readable && !writable) {       /* stop before c-ares closes fd */
        if (sp)
            dns_poll_drop(r, sp);
        return;
    }
    if (sp == NULL) {
        sp = xcalloc(1, sizeof(*sp));
        if ((err = uv_poll_init_socket(r->loop, &sp->poll, fd)) < 0) {
            log_warnx("dns", 0, "poll failed fd=%d error=\"%s\"", (int)fd, uv_strerror(err));
            free(sp);                   /* the request will time out */
            return;
        }
        sp->r = r;
        sp->fd = fd;
        sp->poll.data = sp;
        sp->next = r->polls;
        r->polls = sp;
        r->handles++;
    }
    uv_poll_start(&sp->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                  dns_poll_on_event);
}

/* dns_resolver_new - create a resolver on loop */

struct dns_resolver *dns_resolver_new(uv_loop_t *loop, const char *servers,
                                      uint64_t timeout_ms, const char **err)
{
    struct dns_resolver *r;
    struct ares_options o;
    int rc;

    uv_once(&dns_lib_once, dns_lib_init);
    if (dns_lib_status != ARES_SUCCESS) {
        *err = ares_strerror(dns_lib_status);
        return NULL;
    }
    r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->pending_tail = &r->pending;

    memset(&o, 0, sizeof(o));
    o.sock_state_cb = dns_resolver_sock_state;
    o.sock_state_cb_data = r;
    o.timeout = timeout_ms == 0 ? DNS_DEFAULT_TIMEOUT_MS
        : timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms;   /* ms: ARES_OPT_TIMEOUTMS */
    o.tries = DNS_TRIES;
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    o.domains = NULL;                   /* ndomains = 0: getaddrinfo ignores NOSEARCH */
    o.ndomains = 0;
    o.lookups = (char *)"b";            /* DNS only, never /etc/hosts */
    rc = ares_init_options(&r->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS
                           | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_DOMAINS
                           | ARES_OPT_LOOKUPS);
    if (rc != ARES_SUCCESS) {
        free(r);
        *err = ares_strerror(rc);
        return NULL;
    }
    if (servers && *servers && (rc = ares_set_servers_ports_csv(r->ch, servers)) != ARES_SUCCESS) {
        ares_destroy(r->ch);
        free(r);
        *err = ares_strerror(rc);
        return NULL;
    }
    uv_timer_init(loop, &r->timer);     /* cannot fail on a live loop */
    uv_idle_init(loop, &r->idle);
    r->timer.data = r;
    r->idle.data = r;
    r->handles = 2;
    return r;
}

/* dns_resolver_set_dnssec - send AD=1 and trust the AD bit of answers */

void dns_resolver_set_dnssec(struct dns_resolver *r, bool on)
{
    r->dnssec = on;
}

/* dns_resolver_dnssec - is the AD bit trusted? */

bool dns_resolver_dnssec(const struct dns_resolver *r)
{
    return r->dnssec;
}

/* dns__answer_secure - the answer had AD and the resolver trusts it */

bool dns__answer_secure(const struct dns_query *q, const unsigned char *abuf, int alen)
{
    return q->r->dnssec && abuf != NULL && alen >= HFIXEDSZ && (abuf[3] & DNS_HDR_AD) != 0;
}

/* dns_query_release - free q once delivered and no c-ares request refers to it */

static void dns_query_release(struct dns_query *q)
{
    struct dns_resolver *r = q->r;

    if (!q->delivered || q->outstanding > 0)
        return;
    if (q->prev)
        q->prev->next = q->next;
    else
        r->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->priv_free)
        q->priv_free(q->priv);
    free(q);
}

/* dns_query_enqueue - put a finished query on the delivery list */

static void dns_query_enqueue(struct dns_query *q)
{
    struct dns_resolver *r = q->r;

    q->finished = true;
    q->pnext = NULL;
    *r->pending_tail = q;
    r->pending_tail = &q->pnext;
    uv_idle_start(&r->idle, dns_resolver_on_idle);
}

/* dns__query_new - a new query linked into r */

struct dns_query *dns__query_new(struct dns_resolver *r, dns_cb cb, void *arg)
{
    struct dns_query *q;

    if (r->handles_closed)
        log_panic("dns", "lookup on a closed resolver");
    q = xcalloc(1, sizeof(*q));
    q->r = r;
    q->cb = cb;
    q->arg = arg;
    q->next = r->queries;
    if (r->queries)
        r->queries->prev = q;
    r->queries = q;
    if (r->closing) {
        q->canceled = true;
        dns_query_enqueue(q);
    }
    return q;
}

/* dns__query_finish - record the result; delivered later */

void dns__query_finish(struct dns_query *q, enum dns_status status, const char *why,
                       bool implicit, const struct dns_host *hosts, size_t nhosts)
{
    if (q->finished)
        return;
    q->res.status = status;
    q->res.why = why;
    q->res.implicit = implicit;
    q->res.hosts = hosts;
    q->res.nhosts = nhosts;
    dns_query_enqueue(q);
}

/* dns_query_cancel - deliver DNS_CANCELED instead of the result, later */

void dns_query_cancel(struct dns_query *q)
{
    if (q == NULL || q->canceled || q->delivering || q->delivered)
        return;
    q->canceled = true;
    if (!q->finished)
        dns_query_enqueue(q);
}

/* dns_query_deliver - run the callback of a finished query */

static void dns_query_deliver(struct dns_query *q)
{
    static const struct dns_result canceled = { .status = DNS_CANCELED, .why = "canceled" };

    q->delivering = true;
    q->cb(q, q->canceled ? &canceled : &q->res, q->arg);
    q->delivering = false;
    q->delivered = true;
    dns_query_release(q);
}

/* dns_resolver_maybe_close - close the handles once a closing r is idle */

static void dns_resolver_maybe_close(struct dns_resolver *r)
{
    if (!r->closing || r->handles_closed || r->queries || r->pending)
        return;
    r->handles_closed = true;
    while (r->polls)                    /* none after ares_destroy; be safe */
        dns_poll_drop(r, r->polls);
    uv_close((uv_handle_t *)&r->timer, dns_resolver_on_close);
    uv_close((uv_handle_t *)&r->idle, dns_resolver_on_close);
}

/* dns_resolver_on_idle - deliver the queries that finished so far */

static void dns_resolver_on_idle(uv_idle_t *h)
{
    struct dns_resolver *r = h->data;
    struct dns_query *batch = r->pending, *q;

    r->pending = NULL;                  /* callbacks may queue more */
    r->pending_tail = &r->pending;
    while ((q = batch) != NULL) {
        batch = q->pnext;
        q->pnext = NULL;
        dns_query_deliver(q);
    }
    if (r->pending == NULL)
        uv_idle_stop(h);
    dns_resolver_maybe_close(r);
}

/* dns_resolver_close - cancel everything, then free r and call done */

void dns_resolver_close(struct dns_resolver *r, void (*done)(void *arg), void *arg)
{
    if (r->closing)
        log_panic("dns", "resolver closed twice");
    r->closing = true;
    r->done = done;
    r->done_arg = arg;
    for (struct dns_query *q = r->queries; q; q = q->next)
        dns_query_cancel(q);            /* only queues: nothing freed here */
    ares_destroy(r->ch);                /* answers ECANCELLED/EDESTRUCTION, now */
    r->ch = NULL;
    uv_timer_stop(&r->timer);
    uv_idle_start(&r->idle, dns_resolver_on_idle);      /* maybe_close runs there */
}

/* dns_resolver_on_answer - trampoline for ares_query answers */

static void dns_resolver_on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                                   int alen)
{
    struct dns_req *rq = arg;
    struct dns_query *q = rq->q;

    q->outstanding--;
    if (!q->finished)
        rq->answer(q, rq->arg, status, abuf, alen);
    free(rq);
    dns_query_release(q);
}

/* dns_resolver_on_addrinfo - trampoline for ares_getaddrinfo answers */

static void dns_resolver_on_addrinfo(void *arg, int status, int timeouts,
                                     struct ares_addrinfo *ai)
{
    struct dns_req *rq = arg;
    struct dns_query *q = rq->q;

    q->outstanding--;
    if (!q->finished)
        rq->addr(q, rq->arg, status, status == ARES_SUCCESS ? ai : NULL);
    if (ai)
        ares_freeaddrinfo(ai);
    free(rq);
    dns_query_release(q);
}

/* dns_resolver_on_sent - trampoline for ares_send answers: RCODE and an
 * empty answer section become ares_query's statuses, abuf is kept */

static void dns_resolver_on_sent(void *arg, int status, int timeouts, unsigned char *abuf,
                                 int alen)
{
    if (status == ARES_SUCCESS && (abuf == NULL || alen < HFIXEDSZ)) {
        status = ARES_EBADRESP;
    } else if (status == ARES_SUCCESS) {
        unsigned rcode = abuf[3] & 0x0f, ancount = ((unsigned)abuf[6] << 8) | abuf[7];

        if (rcode != ns_r_noerror || ancount == 0) {
            switch (rcode) {
            case ns_r_noerror:  status = ARES_ENODATA; break;
            case ns_r_formerr:  status = ARES_EFORMERR; break;
            case ns_r_servfail: status = ARES_ESERVFAIL; break;
            case ns_r_nxdomain: status = ARES_ENOTFOUND; break;
            case ns_r_notimpl:  status = ARES_ENOTIMP; break;
            case ns_r_refused:  status = ARES_EREFUSED; break;
            default:            status = ARES_EBADRESP; break;
            }
        }
    }
    dns_resolver_on_answer(arg, status, timeouts, abuf, alen);
}

/* dns_req_new - a counted request of q */

static struct dns_req *dns_req_new(struct dns_query *q, void *arg)
{
    struct dns_req *rq = xcalloc(1, sizeof(*rq));

    if (q->r->ch == NULL || q->finished)
        log_panic("dns", "request for a finished query");
    rq->q = q;
    rq->arg = arg;
    q->outstanding++;
    return rq;
}

/* dns__send_query - ares_query on behalf of q */

void dns__send_query(struct dns_query *q, const char *name, int type, dns__answer_fn fn,
                     void *arg)
{
    struct dns_req *rq = dns_req_new(q, arg);
    struct dns_resolver *r = q->r;

    unsigned char *buf;
    int len, rc;

    rq->answer = fn;
    if (!r->dnssec) {
        ares_query(r->ch, name, ns_c_in, type, dns_resolver_on_answer, rq);
    } else if ((rc = ares_create_query(name, ns_c_in, type, 0, 1, &buf, &len,
                                       DNS_EDNS_UDPSIZE)) != ARES_SUCCESS) {
        dns_resolver_on_answer(rq, rc, 0, NULL, 0);     /* as ares_query does, at once */
    } else {
        buf[3] |= DNS_HDR_AD;           /* RFC 6840 5.7: ask for the AD bit */
        ares_send(r->ch, buf, len, dns_resolver_on_sent, rq);
        ares_free_string(buf);
    }
    dns_resolver_arm(r);
}

/* dns__send_addrinfo - ares_getaddrinfo (A and AAAA, unsorted) on behalf of q */

void dns__send_addrinfo(struct dns_query *q, const char *name, dns__addr_fn fn, void *arg)
{
    struct dns_req *rq = dns_req_new(q, arg);
    struct dns_resolver *r = q->r;
    struct ares_addrinfo_hints hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = ARES_AI_NOSORT;    /* keep DNS order; no connect() probes */
    rq->addr = fn;
    ares_getaddrinfo(r->ch, name, NULL, &hints, dns_resolver_on_addrinfo, rq);
    dns_resolver_arm(r);
}
