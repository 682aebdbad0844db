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
 *  STARTTLS changes the mode of the same object (PLAIN -> HANDSHAKE ->
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
 *  An idle conn holds no buffer of its own: `in`, `cin` and `out` are freed
 *  when they empty, and `cout` goes to the write request.  Once the facts
 *  are recorded, wolfSSL's handshake arrays (randoms, secrets, the
 *  pre-master buffer: ~5 KiB) are released with wolfSSL_FreeArrays(); the
 *  traffic secrets live elsewhere, so reads, writes, key updates and
 *  close_notify keep working.  wolfSSL's own FreeHandshakeResources() runs
 *  at the end of every handshake already.  What stays until wolfSSL_free()
 *  is not reachable through the API of the Debian build (SESSION_CERTS,
 *  KEEP_PEER_CERT, OPENSSL_ALL, POST_HANDSHAKE_AUTH): the session object
 *  with two fixed peer-chain arrays (~37 KiB), the WOLFSSL object (~11
 *  KiB), the decoded peer certificate (~22 KiB) and, for a TLS 1.3 server,
 *  the handshake hashes and peer key.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_ctx.h"
#include "tls_internal.h"

#define TLS_CONN_READ_SIZE 65536

enum tls_mode { TLS_MODE_PLAIN, TLS_MODE_HANDSHAKE, TLS_MODE_OPEN, TLS_MODE_FAILED };

struct tls_conn {
    uv_tcp_t tcp;
    uv_timer_t linger;                  /* bounds the wait for output at close */
    uv_shutdown_t shut;
    uv_connect_t connect;
    tls_conn_cb cb;
    void   *arg;
    const char *view;                   /* input view into the thread buffer */
    size_t  view_len;
    char   *in;                         /* owned: input; unconsumed from in_off */
    size_t  in_off, in_len, in_cap;
    char   *out;                        /* owned: output not yet flushed */
    size_t  out_len, out_cap;
    size_t  queued;                     /* bytes in uv_write requests */
    int     error;                      /* libuv error behind TLS_EV_ERROR */
    /* TLS. */
    enum tls_mode mode;
    WOLFSSL *ssl;                       /* owned; freed with the handles */
    struct tls_ctx *ctx;                /* referenced */
    bool    server;
    const char *cview;                  /* ciphertext view into the thread buffer
                                         * (during a read callback only) */
    size_t  cview_len;
    char   *cin;                        /* owned: ciphertext wolfSSL left unread */
    size_t  cin_off, cin_len, cin_cap;
    char   *cout;                       /* owned: records wolfSSL produced, not yet written */
    size_t  cout_len, cout_cap;
    char    tls_err[160];
    struct tls_facts facts;
    unsigned char *peer_der;            /* owned */
    int     open_handles;
    bool    reading, eof, closing, closed_handles, want_drained;
    bool    want_staple;                /* status_request in the next ClientHello */
};

struct tls_wreq {
    uv_write_t req;
    struct tls_conn *conn;
    char   *buf;                        /* owned */
    size_t  len;
};

static __thread char tls_conn_rbuf[TLS_CONN_READ_SIZE];

static void tls_conn_cipher_in(struct tls_conn *c, ssize_t nread, const uv_buf_t *buf);
static int tls_conn_cipher_out(struct tls_conn *c);
static void tls_conn_set_error(struct tls_conn *c, const char *what, int ret);

/* tls_conn_alloc - libuv read buffer: the thread's shared buffer */

static void tls_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    buf->base = tls_conn_rbuf;
    buf->len = sizeof(tls_conn_rbuf);
}

/* tls_conn_keep - move the unconsumed part of the view to the heap */

static void tls_conn_keep(struct tls_conn *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (c->in_off > 0) {                /* compact once per read, not per line */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len + n > c->in_cap) {
        c->in_cap = c->in_len + n < 1024 ? 1024 : c->in_len + n;
        c->in = xrealloc(c->in, c->in_cap);
    }
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
        tls_conn_cipher_in(c, nread, buf);
        return;
    }
    if (nread > 0) {
        if (c->in_len == 0) {
            c->view = buf->base;
            c->view_len = (size_t)nread;
            c->cb(c, TLS_EV_DATA_IN, c->arg);
            if (!c->closing)
                tls_conn_keep(c, c->view, c->view_len);
            c->view = NULL;
            c->view_len = 0;
        } else {
            tls_conn_keep(c, buf->base, (size_t)nread);
            c->cb(c, TLS_EV_DATA_IN, c->arg);
        }
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
        free(c->in);
        c->in = NULL;
        c->in_off = c->in_len = c->in_cap = 0;
    }
}

/* tls_conn_write - append output */

void tls_conn_write(struct tls_conn *c, const void *p, size_t n)
{
    if (c->closing && c->closed_handles)
        return;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 512;

        while (cap < c->out_len + n)
            cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* tls_conn_written - libuv write callback */

static void tls_conn_written(uv_write_t *req, int status)
{
    struct tls_wreq *w = req->data;
    struct tls_conn *c = w->conn;

    c->queued -= w->len;
    free(w->buf);
    free(w);
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

/* tls_conn_send - uv_write a buffer we own from now on (freed when written) */

static int tls_conn_send(struct tls_conn *c, char *buf, size_t len)
{
    struct tls_wreq *w = xmalloc(sizeof(*w));
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    int r;

    w->conn = c;
    w->buf = buf;
    w->len = len;
    w->req.data = w;
    if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, tls_conn_written)) != 0) {
        free(buf);
        free(w);
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
            tls_conn_set_error(c, "write", n);
            return UV_EPROTO;
        }
        free(c->out);                   /* encrypted into cout: idle holds none */
        c->out = NULL;
        c->out_len = c->out_cap = 0;
        return tls_conn_cipher_out(c);
    }
    if (c->mode == TLS_MODE_FAILED)
        return UV_EPROTO;
    r = tls_conn_send(c, c->out, c->out_len);
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
    free(c->cin);
    free(c->cout);
    free(c->in);
    free(c->out);
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
        tls_conn_cipher_out(c);
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

/* ---- TLS ------------------------------------------------------------ */

/* tls__io_recv - wolfSSL wants ciphertext: give it what the socket brought */

int tls__io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct tls_conn *c = ctx;
    size_t avail = c->cin_len - c->cin_off, n;

    if (c->cview_len > 0) {             /* set only while cin is empty */
        n = (size_t)sz < c->cview_len ? (size_t)sz : c->cview_len;
        memcpy(buf, c->cview, n);
        c->cview += n;
        c->cview_len -= n;
        return (int)n;
    }
    if (avail == 0)                     /* never 0: wolfSSL would spin */
        return c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
    n = (size_t)sz < avail ? (size_t)sz : avail;
    memcpy(buf, c->cin + c->cin_off, n);
    c->cin_off += n;
    if (c->cin_off == c->cin_len)
        c->cin_off = c->cin_len = 0;
    return (int)n;
}

/* tls__io_send - wolfSSL produced records: keep them for uv_write */

int tls__io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct tls_conn *c = ctx;

    if (c->cout_len + (size_t)sz > c->cout_cap) {
        c->cout_cap = c->cout_len + (size_t)sz + 4096;
        c->cout = xrealloc(c->cout, c->cout_cap);
    }
    memcpy(c->cout + c->cout_len, buf, (size_t)sz);
    c->cout_len += (size_t)sz;
    return sz;                          /* libuv queues everything: never WANT_WRITE */
}

/* tls_conn_cipher_out - hand produced records to the kernel */

static int tls_conn_cipher_out(struct tls_conn *c)
{
    int r;

    if (c->cout_len == 0 || c->closed_handles)
        return 0;
    r = tls_conn_send(c, c->cout, c->cout_len);
    c->cout = NULL;
    c->cout_len = c->cout_cap = 0;
    return r;
}

/* tls_conn_set_error - remember why TLS failed */

static void tls_conn_set_error(struct tls_conn *c, const char *what, int ret)
{
    char text[WOLFSSL_MAX_ERROR_SZ];
    int e = wolfSSL_get_error(c->ssl, ret);

    wolfSSL_ERR_error_string((unsigned long)e, text);
    snprintf(c->tls_err, sizeof(c->tls_err), "%s failed: %s (%d)", what, text, e);
    c->mode = TLS_MODE_FAILED;
}

/* tls_conn_drive - advance the handshake, then decrypt what arrived */

static void tls_conn_drive(struct tls_conn *c)
{
    char buf[16384];
    bool got = false;

    if (c->mode == TLS_MODE_HANDSHAKE) {
        int r = c->server ? wolfSSL_accept(c->ssl) : wolfSSL_connect(c->ssl);

        tls_conn_cipher_out(c);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(c->ssl, r);

            if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
                return;
            tls_conn_set_error(c, "TLS handshake", r);
            c->cb(c, TLS_EV_ERROR, c->arg);
            return;
        }
        c->mode = TLS_MODE_OPEN;
        c->peer_der = tls__facts_collect(c->ssl, &c->facts);
        wolfSSL_FreeArrays(c->ssl);     /* the facts are ours now (see MEMORY) */
        c->cb(c, TLS_EV_TLS_READY, c->arg);
        if (c->closing || c->mode != TLS_MODE_OPEN)
            return;
        if (c->out_len > 0)             /* written while we shook hands */
            tls_conn_flush(c);
    }
    while (c->mode == TLS_MODE_OPEN) {
        int n = wolfSSL_read(c->ssl, buf, sizeof(buf));

        if (n > 0) {
            tls_conn_keep(c, buf, (size_t)n);
            got = true;
            continue;
        }
        {
            int e = wolfSSL_get_error(c->ssl, n);

            tls_conn_cipher_out(c);     /* e.g. key updates, session tickets */
            if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
                break;
            if (got) {
                got = false;
                c->cb(c, TLS_EV_DATA_IN, c->arg);
                if (c->closing)
                    return;
            }
            if (e == WOLFSSL_ERROR_ZERO_RETURN || c->eof) {
                c->eof = true;
                tls_conn_pause(c);
                c->cb(c, TLS_EV_EOF, c->arg);
                return;
            }
            tls_conn_set_error(c, "TLS read", n);
            tls_conn_pause(c);
            c->cb(c, TLS_EV_ERROR, c->arg);
            return;
        }
    }
    if (got && !c->closing)
        c->cb(c, TLS_EV_DATA_IN, c->arg);
}

/* tls_conn_keep_cipher - append ciphertext wolfSSL has not read yet to cin */

static void tls_conn_keep_cipher(struct tls_conn *c, const char *p, size_t n)
{
    if (c->cin_off > 0) {
        memmove(c->cin, c->cin + c->cin_off, c->cin_len - c->cin_off);
        c->cin_len -= c->cin_off;
        c->cin_off = 0;
    }
    if (c->cin_len + n > c->cin_cap) {
        c->cin_cap = c->cin_len + n;
        c->cin = xrealloc(c->cin, c->cin_cap);
    }
    memcpy(c->cin + c->cin_len, p, n);
    c->cin_len += n;
}

/* tls_conn_cipher_in - ciphertext (or EOF/error) from the socket */

static void tls_conn_cipher_in(struct tls_conn *c, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        if (c->cin_len == c->cin_off) { /* nothing kept: wolfSSL reads the buffer */
            c->cview = buf->base;
            c->cview_len = (size_t)nread;
        } else {
            tls_conn_keep_cipher(c, buf->base, (size_t)nread);
        }
    } else if (nread == UV_EOF) {
        c->eof = true;
    } else if (nread < 0) {
        c->error = (int)nread;
        tls_conn_pause(c);
        c->cb(c, TLS_EV_ERROR, c->arg);
        return;
    }
    if (c->mode != TLS_MODE_FAILED)
        tls_conn_drive(c);
    /* What wolfSSL left unread (it stopped early: closing, failed) stays
     * for the next call; the thread buffer is reused by the next read. */
    if (c->cview_len > 0 && !c->closing && c->mode != TLS_MODE_FAILED)
        tls_conn_keep_cipher(c, c->cview, c->cview_len);
    c->cview = NULL;
    c->cview_len = 0;
    if (c->cin != NULL && c->cin_off == c->cin_len) {  /* empty: idle holds none */
        free(c->cin);
        c->cin = NULL;
        c->cin_off = c->cin_len = c->cin_cap = 0;
    }
    if (c->mode == TLS_MODE_FAILED)
        return;
    if (c->eof && c->mode == TLS_MODE_HANDSHAKE && !c->closing) {
        snprintf(c->tls_err, sizeof(c->tls_err), "TLS handshake failed: connection closed");
        c->mode = TLS_MODE_FAILED;
        c->cb(c, TLS_EV_ERROR, c->arg);
    }
}

/* tls_conn_verify_cb - record, never refuse: policy decides after the handshake */

static int tls_conn_verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    return 1;
}

/* tls_conn_start - common STARTTLS setup */

static int tls_conn_start(struct tls_conn *c, struct tls_ctx *ctx, bool server)
{
    if (c->mode != TLS_MODE_PLAIN || c->closing)
        return -1;
    if ((c->ssl = wolfSSL_new(tls__ctx_wolf(ctx))) == NULL) {
        snprintf(c->tls_err, sizeof(c->tls_err), "cannot create a TLS session");
        return -1;
    }
    c->ctx = tls_ctx_ref(ctx);
    c->server = server;
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    /* Discard plaintext that arrived after the command (CVE-2011-0411). */
    c->view_len = 0;
    free(c->in);
    c->in = NULL;
    c->in_off = c->in_len = c->in_cap = 0;
    c->mode = TLS_MODE_HANDSHAKE;
    return 0;
}

/* tls_conn_starttls_server - become a TLS server on this stream */

int tls_conn_starttls_server(struct tls_conn *c, struct tls_ctx *ctx, bool request_cert,
                             size_t *dropped)
{
    size_t pending = 0;

    tls_conn_peek(c, &pending);
    *dropped = pending;
    if (tls_conn_flush(c) != 0)         /* the 220 goes out in plaintext */
        return -1;
    if (tls_conn_start(c, ctx, true) < 0)
        return -1;
    wolfSSL_set_verify(c->ssl, request_cert ? WOLFSSL_VERIFY_PEER : WOLFSSL_VERIFY_NONE,
                       request_cert ? tls_conn_verify_cb : NULL);
    return tls_conn_resume(c) == 0 ? 0 : -1;
}

/* tls_conn_want_staple - ask for a stapled OCSP response next time */

void tls_conn_want_staple(struct tls_conn *c, bool on)
{
    c->want_staple = on;
}

/* tls_conn_starttls_client - become a TLS client on this stream */

int tls_conn_starttls_client(struct tls_conn *c, struct tls_ctx *ctx, const char *sni,
                             const struct tls_session *resume)
{
    if (tls_conn_start(c, ctx, false) < 0)
        return -1;
    wolfSSL_set_verify(c->ssl, WOLFSSL_VERIFY_PEER, tls_conn_verify_cb);
    if (c->want_staple)
        (void)wolfSSL_UseOCSPStapling(c->ssl, WOLFSSL_CSR_OCSP, 0);
    if (resume != NULL)                 /* copied; on failure a full handshake */
        (void)wolfSSL_set_session(c->ssl, (WOLFSSL_SESSION *)(uintptr_t)resume);
    if (sni != NULL && *sni != '\0')
        wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, sni, (unsigned short)strlen(sni));
    {
        int r = wolfSSL_connect(c->ssl), e = wolfSSL_get_error(c->ssl, r);    /* ClientHello */

        if (r != WOLFSSL_SUCCESS && e != WOLFSSL_ERROR_WANT_READ
            && e != WOLFSSL_ERROR_WANT_WRITE) {
            tls_conn_set_error(c, "TLS handshake", r);  /* no callback: we return -1 */
            return -1;
        }
    }
    return tls_conn_cipher_out(c) != 0 || tls_conn_resume(c) != 0 ? -1 : 0;
}

/* tls_conn_facts - facts of the session */

const struct tls_facts *tls_conn_facts(const struct tls_conn *c)
{
    return c->mode == TLS_MODE_OPEN ? &c->facts : NULL;
}

/* tls_conn_peer_chain - the certificates the peer presented */

size_t tls_conn_peer_chain(const struct tls_conn *c, struct tls_crl_cert *out, size_t max)
{
    return c->mode == TLS_MODE_OPEN ? tls__facts_peer_chain(c->ssl, out, max) : 0;
}

/* tls_conn_session - the client session, to resume a later conn */

struct tls_session *tls_conn_session(struct tls_conn *c)
{
    if (c->ssl == NULL || c->server || c->mode != TLS_MODE_OPEN)
        return NULL;
    return (struct tls_session *)wolfSSL_get1_session(c->ssl);
}

/* tls_session_free - release a session from tls_conn_session */

void tls_session_free(struct tls_session *s)
{
    if (s != NULL)
        wolfSSL_SESSION_free((WOLFSSL_SESSION *)s);
}

/* tls_conn_buffer_bytes - heap held by the conn's own buffers */

size_t tls_conn_buffer_bytes(const struct tls_conn *c)
{
    return c->in_cap + c->out_cap + c->cin_cap + c->cout_cap;
}

/* tls_conn_tls_error - why TLS failed */

const char *tls_conn_tls_error(const struct tls_conn *c)
{
    return c->tls_err;
}
