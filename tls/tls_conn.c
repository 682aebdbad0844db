/*
 * tls_conn.c - a byte stream over a libuv TCP handle.
 *
 * CONTRACT
 *  A tls_conn owns its uv_tcp_t, a close timer, and two buffers.  Input is
 *  read into a per-thread 64 KiB buffer; during TLS_EV_DATA_IN the peek
 *  view points into it, and whatever the callback leaves unconsumed is
 *  copied to a heap buffer owned by the conn (freed again once empty, so an
 *  idle connection holds no input memory).  Output appended with
 *  tls_conn_write() is handed to uv_write() as one buffer per flush.
 *
 *  Errors from calls are returned and no callback follows for them.  The
 *  conn is freed after TLS_EV_CLOSED returns, which happens only after
 *  tls_conn_close() and once both handles are closed (libuv: memory is
 *  released in close_cb).  Thread affinity: the loop that accepted it.
 *
 *  STARTTLS (tls_conn_tls.c) changes the mode of the same object (PLAIN -> HANDSHAKE ->
 *  OPEN): wolfSSL pulls ciphertext through tls__io_recv(), straight from
 *  the thread's read buffer (`cview`) during the read callback; only what
 *  it leaves unread is kept in `cin`.  It pushes records into `cout`
 *  through tls__io_send(), which is handed to uv_write after every wolfSSL
 *  call.  Decrypted input lands in `in`, so sessions see the same
 *  peek/consume interface in both modes.  Peer verification never fails
 *  the handshake: the chain verdict is recorded in the facts and decided by
 *  policy.  When the chain is valid, its revocation is checked right after
 *  the handshake against the published CRL set (tls_crl.c: memory only, no
 *  I/O); tls_facts.c collects these facts.
 *
 *  MEMORY
 *  An idle conn holds no buffer of its own: `in`, `cin` and `out` are given
 *  back when they empty, and `cout` goes to the write request, which gives
 *  it back once written.  Given back means kept as one of the thread's
 *  spares (at most TLS_BUF_KEEP buffers of TLS_BUF_SIZE bytes, a full
 *  TLS record, and as many write requests: 273 KiB a thread) for the next conn that needs one, so
 *  the receive path allocates no buffer per message.  What a read leaves
 *  unconsumed (a partial line or record) keeps its spare only when it is
 *  bigger than TLS_BUF_SHRINK (4 KiB): a smaller one moves to a buffer of
 *  its own size at the end of the read callback and the spare goes back,
 *  so a conn that stalls mid-command holds bytes, not 17 KiB (up to 34 KiB
 *  with `cin` and `in`).  Once the facts
 *  are recorded, wolfSSL's handshake arrays (randoms, secrets, the
 *  pre-master buffer: ~5 KiB) are released with wolfSSL_FreeArrays(); the
 *  traffic secrets live elsewhere, so reads, writes, key updates and
 *  close_notify keep working.  wolfSSL's own FreeHandshakeResources() runs
 *  at the end of every handshake already.  What stays until wolfSSL_free()
 *  is not reachable through the API of the Debian build (SESSION_CERTS,
 *  KEEP_PEER_CERT, OPENSSL_ALL, POST_HANDSHAKE_AUTH): the session object
 *  with two fixed peer-chain arrays (37.5 KiB: 2 x 9 slots of 2 KiB, of
 *  which a two-certificate chain uses 2), the WOLFSSL object (10.6 KiB),
 *  the decoded peer certificate and, for a TLS 1.3 server, the handshake
 *  hashes and peer key.  wolfSSL zeroes both objects when it allocates
 *  them, so after the handshake tls__zero_pages() hands their whole pages
 *  that still hold only zeros back to the kernel (MADV_DONTNEED: they read
 *  as zeros again, and take memory again only if wolfSSL writes there):
 *  about 29 KiB of an idle TLS session's 85 (bench/run --idle).  That is
 *  valid only where both are blocks of plain malloc() and the session is
 *  the conn's own (NO_SESSION_CACHE_REF): tls_conn_tls.c checks this at
 *  compile time and skips the objects of a wolfSSL built otherwise.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_conn_int.h"
#include "tls_ctx.h"
#include "tls_internal.h"

#define TLS_CONN_READ_SIZE 65536

struct tls_wreq {
    uv_write_t req;
    struct tls_conn *conn;
    char   *buf;                        /* owned (a tls__buf_get buffer) */
    size_t  len, cap;
    struct tls_wreq *next;              /* in the thread's spare list */
};

static __thread char tls_conn_rbuf[TLS_CONN_READ_SIZE];

/*
 * The thread's spare buffers and write requests (see MEMORY): a conn takes
 * one when it has bytes to hold and gives it back when they are gone, so a
 * session that exchanges SMTP lines and messages of a few KiB allocates
 * nothing per message once its thread has spares, and an idle conn still
 * holds none.  Freed when the thread exits.
 */
struct tls_spares {
    char   *buf[TLS_BUF_KEEP];          /* each TLS_BUF_SIZE bytes */
    size_t  nbuf;
    struct tls_wreq *wreq;              /* list */
    size_t  nwreq;
};

static __thread struct tls_spares tls_spares;
static pthread_key_t tls_spares_key;
static pthread_once_t tls_spares_once = PTHREAD_ONCE_INIT;

/* tls_spares_free - thread exit: free the thread's spares */

static void tls_spares_free(void *arg)
{
    struct tls_spares *sp = arg;

    while (sp->nbuf > 0)
        free(sp->buf[--sp->nbuf]);
    while (sp->wreq != NULL) {
        struct tls_wreq *w = sp->wreq;

        sp->wreq = w->next;
        free(w);
    }
    sp->nwreq = 0;
}

/* tls_spares_key_make - once per process */

static void tls_spares_key_make(void)
{
    if (pthread_key_create(&tls_spares_key, tls_spares_free) != 0)
        log_panic("tls", "pthread_key_create failed");
}

/* tls_spares_mine - the thread's spares, registered for freeing at exit */

static struct tls_spares *tls_spares_mine(void)
{
    pthread_once(&tls_spares_once, tls_spares_key_make);
    if (pthread_getspecific(tls_spares_key) == NULL)
        pthread_setspecific(tls_spares_key, &tls_spares);
    return &tls_spares;
}

/* tls__buf_grow - room for need bytes in *p (len bytes used; *cap its size) */

char *tls__buf_grow(char *p, size_t len, size_t *cap, size_t need)
{
    struct tls_spares *sp;
    char   *q;

    if (need <= *cap)
        return p;
    if (need <= TLS_BUF_SIZE) {         /* none yet, or a shrunk remainder */
        sp = tls_spares_mine();
        q = sp->nbuf > 0 ? sp->buf[--sp->nbuf] : xmalloc(TLS_BUF_SIZE);
        if (len > 0)
            memcpy(q, p, len);
        tls__buf_put(p, *cap);          /* not a spare's size: freed */
        *cap = TLS_BUF_SIZE;
        return q;
    }
    q = xmalloc(need > 2 * *cap ? need : 2 * *cap);
    if (len > 0)
        memcpy(q, p, len);
    tls__buf_put(p, *cap);
    *cap = need > 2 * *cap ? need : 2 * *cap;
    return q;
}

/* tls__buf_shrink - end of a read: a small remainder leaves its spare */

char *tls__buf_shrink(char *p, size_t *off, size_t *len, size_t *cap)
{
    size_t  n = *len - *off;
    char   *q;

    if (p == NULL || *cap != TLS_BUF_SIZE || n == 0 || n > TLS_BUF_SHRINK)
        return p;
    q = xmalloc(n);
    memcpy(q, p + *off, n);
    tls__buf_put(p, *cap);
    *off = 0;
    *len = *cap = n;
    return q;
}

/* tls__buf_put - give a buffer back: a spare, or freed */

void tls__buf_put(char *p, size_t cap)
{
    struct tls_spares *sp;

    if (p == NULL)
        return;
    if (cap == TLS_BUF_SIZE && (sp = tls_spares_mine())->nbuf < TLS_BUF_KEEP) {
        sp->buf[sp->nbuf++] = p;
        return;
    }
    free(p);
}

/* tls_wreq_get - a write request: a spare, or a new one */

static struct tls_wreq *tls_wreq_get(void)
{
    struct tls_spares *sp = tls_spares_mine();
    struct tls_wreq *w = sp->wreq;

    if (w == NULL)
        return xmalloc(sizeof(*w));
    sp->wreq = w->next;
    sp->nwreq--;
    return w;
}

/* tls_wreq_put - a write request is done with */

static void tls_wreq_put(struct tls_wreq *w)
{
    struct tls_spares *sp = tls_spares_mine();

    if (sp->nwreq >= TLS_BUF_KEEP) {
        free(w);
        return;
    }
    w->next = sp->wreq;
    sp->wreq = w;
    sp->nwreq++;
}

/* tls_conn_alloc - libuv read buffer: the thread's shared buffer */

static void tls_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    buf->base = tls_conn_rbuf;
    buf->len = sizeof(tls_conn_rbuf);
}

/* tls__conn_keep - move the unconsumed part of the view to the heap */

void tls__conn_keep(struct tls_conn *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (c->in_off > 0) {                /* compact once per read, not per line */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    c->in = tls__buf_grow(c->in, c->in_len, &c->in_cap, c->in_len + n);
    memmove(c->in + c->in_len, p, n);
    c->in_len += n;
}

/* tls_conn_read - libuv read callback: deliver input events */

static void tls_conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct tls_conn *c = stream->data;

    if (c->closing)
        return;
    if (c->mode != TLS_MODE_PLAIN) {
        tls__conn_cipher_in(c, nread, buf);
        return;
    }
    if (nread > 0) {
        if (c->in_len == 0) {
            c->view = buf->base;
            c->view_len = (size_t)nread;
            c->cb(c, TLS_EV_DATA_IN, c->arg);
            if (!c->closing)
                tls__conn_keep(c, c->view, c->view_len);
            c->view = NULL;
            c->view_len = 0;
        } else {
            tls__conn_keep(c, buf->base, (size_t)nread);
            c->cb(c, TLS_EV_DATA_IN, c->arg);
        }
        if (!c->closing)                /* a partial line may wait long */
            c->in = tls__buf_shrink(c->in, &c->in_off, &c->in_len, &c->in_cap);
    } else if (nread == UV_EOF) {
        c->eof = true;
        tls_conn_pause(c);
        c->cb(c, TLS_EV_EOF, c->arg);
    } else if (nread < 0) {
        tls_conn_pause(c);
        c->error = (int)nread;
        c->cb(c, TLS_EV_ERROR, c->arg);
    }
}

/* tls_conn_accept - accept a connection from a listening stream */

struct tls_conn *tls_conn_accept(uv_stream_t *server, tls_conn_cb cb, void *arg, int *err)
{
    struct tls_conn *c = xcalloc(1, sizeof(*c));
    int r;

    c->cb = cb;
    c->arg = arg;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->linger);
    c->tcp.data = c;
    c->linger.data = c;
    c->open_handles = 2;
    if ((r = uv_accept(server, (uv_stream_t *)&c->tcp)) != 0) {
        *err = r;
        c->cb = NULL;                   /* nobody to tell */
        tls_conn_close(c, 0);
        return NULL;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    return c;
}

/* tls_conn_connected - outbound connect finished */

static void tls_conn_connected(uv_connect_t *req, int status)
{
    struct tls_conn *c = req->data;

    if (c->closing)
        return;
    if (status < 0) {
        c->error = status;
        c->cb(c, TLS_EV_ERROR, c->arg);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->cb(c, TLS_EV_CONNECTED, c->arg);
}

/* tls_conn_connect - start an outbound connection */

struct tls_conn *tls_conn_connect(uv_loop_t *loop, const struct sockaddr *addr,
                                  const struct sockaddr *source, tls_conn_cb cb, void *arg,
                                  int *err)
{
    struct tls_conn *c = xcalloc(1, sizeof(*c));
    int r;

    c->cb = cb;
    c->arg = arg;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->linger);
    c->tcp.data = c;
    c->linger.data = c;
    c->connect.data = c;
    c->open_handles = 2;
    if ((source != NULL && (r = uv_tcp_bind(&c->tcp, source, 0)) != 0)
        || (r = uv_tcp_connect(&c->connect, &c->tcp, addr, tls_conn_connected)) != 0) {
        *err = r;
        c->cb = NULL;
        tls_conn_close(c, 0);
        return NULL;
    }
    return c;
}

/* tls_conn_error - why the last TLS_EV_ERROR happened */

int tls_conn_error(struct tls_conn *c)
{
    return c->error;
}

/* tls_conn_endpoints - local and remote socket addresses */

int tls_conn_endpoints(struct tls_conn *c, struct sockaddr_storage *local,
                       struct sockaddr_storage *remote)
{
    int len = sizeof(*local), r;

    if ((r = uv_tcp_getsockname(&c->tcp, (struct sockaddr *)local, &len)) != 0)
        return r;
    len = sizeof(*remote);
    return uv_tcp_getpeername(&c->tcp, (struct sockaddr *)remote, &len);
}

/* tls_conn_resume - (re)start reading */

int tls_conn_resume(struct tls_conn *c)
{
    int r;

    if (c->reading || c->eof || c->closing)
        return 0;
    if ((r = uv_read_start((uv_stream_t *)&c->tcp, tls_conn_alloc, tls_conn_read)) != 0)
        return r;
    c->reading = true;
    return 0;
}

/* tls_conn_pause - stop reading; buffered input stays */

void tls_conn_pause(struct tls_conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* tls_conn_peek - the buffered input */

const char *tls_conn_peek(struct tls_conn *c, size_t *len)
{
    if (c->view != NULL) {
        *len = c->view_len;
        return c->view;
    }
    *len = c->in_len - c->in_off;
    return c->in + c->in_off;
}

/* tls_conn_consume - drop n bytes of buffered input */

void tls_conn_consume(struct tls_conn *c, size_t n)
{
    if (c->view != NULL) {
        if (n > c->view_len)
            log_panic("tls", "consume %zu > view %zu", n, c->view_len);
        c->view += n;
        c->view_len -= n;
        return;
    }
    if (n > c->in_len - c->in_off)
        log_panic("tls", "consume %zu > buffered %zu", n, c->in_len - c->in_off);
    c->in_off += n;
    if (c->in_off == c->in_len) {       /* empty: an idle conn holds no buffer */
        tls__buf_put(c->in, c->in_cap);
        c->in = NULL;
        c->in_off = c->in_len = c->in_cap = 0;
    }
}

/* tls_conn_write - append output */

void tls_conn_write(struct tls_conn *c, const void *p, size_t n)
{
    if (c->closing && c->closed_handles)
        return;
    c->out = tls__buf_grow(c->out, c->out_len, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* tls_conn_written - libuv write callback */

static void tls_conn_written(uv_write_t *req, int status)
{
    struct tls_wreq *w = req->data;
    struct tls_conn *c = w->conn;

    c->queued -= w->len;
    tls__buf_put(w->buf, w->cap);
    tls_wreq_put(w);
    if (c->closing)
        return;
    if (status < 0) {
        c->error = status;
        c->cb(c, TLS_EV_ERROR, c->arg);
    } else if (c->queued == 0 && c->want_drained) {
        c->want_drained = false;
        c->cb(c, TLS_EV_DRAINED, c->arg);
    }
}

/* tls_conn_notify_drained - ask for TLS_EV_DRAINED once */

void tls_conn_notify_drained(struct tls_conn *c)
{
    c->want_drained = true;
}

/* tls__conn_send - uv_write a buffer we own from now on (freed when written) */

int tls__conn_send(struct tls_conn *c, char *buf, size_t len, size_t cap)
{
    struct tls_wreq *w = tls_wreq_get();
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    int r;

    w->conn = c;
    w->buf = buf;
    w->len = len;
    w->cap = cap;
    w->req.data = w;
    if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, tls_conn_written)) != 0) {
        tls__buf_put(buf, cap);
        tls_wreq_put(w);
        return r;
    }
    c->queued += len;
    return 0;
}

/* tls_conn_flush - hand appended output to the kernel */

int tls_conn_flush(struct tls_conn *c)
{
    int r;

    if (c->out_len == 0 || c->closed_handles)
        return 0;
    if (c->mode == TLS_MODE_HANDSHAKE)
        return 0;                       /* sent once the handshake is done */
    if (c->mode == TLS_MODE_OPEN) {
        int n = wolfSSL_write(c->ssl, c->out, (int)c->out_len);

        if (n != (int)c->out_len) {
            tls__conn_set_error(c, "write", n);
            return UV_EPROTO;
        }
        tls__buf_put(c->out, c->out_cap);       /* encrypted into cout: idle holds none */
        c->out = NULL;
        c->out_len = c->out_cap = 0;
        return tls__conn_cipher_out(c);
    }
    if (c->mode == TLS_MODE_FAILED)
        return UV_EPROTO;
    r = tls__conn_send(c, c->out, c->out_len, c->out_cap);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    return r;
}

/* tls_conn_write_queued - bytes not yet written to the socket */

size_t tls_conn_write_queued(struct tls_conn *c)
{
    return c->queued + c->out_len;
}

/* tls_conn_handle_closed - close_cb of both handles; the last frees */

static void tls_conn_handle_closed(uv_handle_t *h)
{
    struct tls_conn *c = h->data;

    if (--c->open_handles > 0)
        return;
    if (c->cb != NULL)
        c->cb(c, TLS_EV_CLOSED, c->arg);
    if (c->ssl != NULL) {
        tls__ticket_detach(c->ssl);     /* a resumed peer's chain (tls_ticket_chain.c) */
        wolfSSL_free(c->ssl);
    }
    tls_ctx_unref(c->ctx);
    free(c->peer_der);
    tls__buf_put(c->cin, c->cin_cap);
    tls__buf_put(c->cout, c->cout_cap);
    tls__buf_put(c->in, c->in_cap);
    tls__buf_put(c->out, c->out_cap);
    free(c);
}

/* tls_conn_close_handles - close both handles (once) */

static void tls_conn_close_handles(struct tls_conn *c)
{
    if (c->closed_handles)
        return;
    c->closed_handles = true;
    uv_timer_stop(&c->linger);
    uv_close((uv_handle_t *)&c->tcp, tls_conn_handle_closed);
    uv_close((uv_handle_t *)&c->linger, tls_conn_handle_closed);
}

/* tls_conn_shutdown_done - queued output written (or failed) */

static void tls_conn_shutdown_done(uv_shutdown_t *req, int status)
{
    tls_conn_close_handles(req->data);
}

/* tls_conn_linger_expired - the peer does not read: close anyway */

static void tls_conn_linger_expired(uv_timer_t *t)
{
    tls_conn_close_handles(t->data);
}

/* tls_conn_close - flush, wait for output (bounded), close, then CLOSED */

void tls_conn_close(struct tls_conn *c, unsigned linger_ms)
{
    if (c->closing)
        return;
    c->closing = true;
    tls_conn_pause(c);
    if (linger_ms > 0 && c->mode == TLS_MODE_OPEN && tls_conn_flush(c) == 0) {
        wolfSSL_shutdown(c->ssl);       /* close_notify, best effort */
        tls__conn_cipher_out(c);
    }
    if (linger_ms > 0 && tls_conn_flush(c) == 0 && c->queued > 0) {
        c->shut.data = c;
        if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, tls_conn_shutdown_done) == 0) {
            uv_timer_start(&c->linger, tls_conn_linger_expired, linger_ms, 0);
            return;
        }
    }
    tls_conn_close_handles(c);
}
