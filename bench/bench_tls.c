/* bench_tls.c - SMTP byte stream over libuv with in-place STARTTLS (wolfSSL).
 *
 * Ownership: struct bt_conn is allocated by the owner (usually embedded first in a
 * session struct); bench_tls owns c->pt, c->in and c->ssl and frees them in the
 * handle's close_cb, right before it delivers BT_CLOSED, after which the owner may
 * free the struct.  BT_CLOSED is delivered exactly once, always from close_cb.
 * BT_DATA and BT_TLS_READY run from the read callback (or from bt_start_tls when
 * wolfSSL already has input), never after bt_close.
 * wolfSSL I/O: io_recv reads from c->in, which on_read fills; io_send copies into
 * a uv_write request, so wolfSSL never sees WANT_WRITE.  Bench code: OOM aborts. */
#include "bench_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) { fprintf(stderr, "bench: out of memory\n"); abort(); }
    return q;
}

/* bt_now_ns - wall clock in ns since the epoch (comparable across processes) */
uint64_t bt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct wreq { uv_write_t req; char data[]; };

/* on_write - free a finished write; errors surface as read errors */
static void on_write(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* raw_write - queue a copy of buf on the socket */
static int raw_write(struct bt_conn *c, const char *buf, size_t len)
{
    if (c->closing) return -1;
    struct wreq *w = xrealloc(NULL, sizeof *w + len);
    memcpy(w->data, buf, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) { free(w); return -1; }
    return 0;
}

/* io_send - wolfSSL output callback: everything is queued at once */
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    return raw_write(ctx, buf, (size_t)sz) ? WOLFSSL_CBIO_ERR_CONN_CLOSE : sz;
}

/* io_recv - wolfSSL input callback over c->in */
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct bt_conn *c = ctx;
    (void)ssl;
    if (c->in_len == 0)
        return c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < c->in_len ? (size_t)sz : c->in_len;
    memcpy(buf, c->in, n);
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
    return (int)n;
}

/* bt_ctx - a TLS 1.2/1.3 context; ca verifies the peer (and, for a server,
 * require_peer_cert makes a client certificate mandatory) */
WOLFSSL_CTX *bt_ctx(int server, const char *cert, const char *key, const char *ca,
                    int require_peer_cert)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method()
                                              : wolfSSLv23_client_method());
    if (!ctx) return NULL;
    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    if (!server) {
        /* Like an OpenSSL-based MTA (Postfix, Exim): X25519 first, so its key
         * share goes in the ClientHello; P-256 and P-384 if the server wants. */
        static int groups[] = { WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1,
                                WOLFSSL_ECC_SECP384R1 };

        if (wolfSSL_CTX_set_groups(ctx, groups, 3) != WOLFSSL_SUCCESS) {
            fprintf(stderr, "bench: cannot set the key exchange groups\n");
            wolfSSL_CTX_free(ctx);
            return NULL;
        }
    }
    wolfSSL_CTX_SetIORecv(ctx, io_recv);
    wolfSSL_CTX_SetIOSend(ctx, io_send);
    if (cert && (wolfSSL_CTX_use_certificate_chain_file(ctx, cert) != WOLFSSL_SUCCESS ||
                 wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)) {
        fprintf(stderr, "bench: cannot load %s / %s\n", cert, key);
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    if (ca) {
        if (wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) != WOLFSSL_SUCCESS) {
            fprintf(stderr, "bench: cannot load CA file %s\n", ca);
            wolfSSL_CTX_free(ctx);
            return NULL;
        }
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER |
                               (require_peer_cert ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    } else {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

/* bt_conn_init - initialise the handle; the owner connects or accepts on c->tcp */
void bt_conn_init(struct bt_conn *c, uv_loop_t *loop, bt_cb cb, int is_server)
{
    memset(c, 0, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->cb = cb;
    c->is_server = is_server;
}

static char rbuf[65536];    /* one loop, consumed before the next read callback */

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h; (void)sz;
    b->base = rbuf;
    b->len = sizeof rbuf;
}

static void pt_reserve(struct bt_conn *c, size_t more)
{
    if (c->pt_len + more > c->pt_cap) {
        c->pt_cap = (c->pt_len + more) * 2;
        c->pt = xrealloc(c->pt, c->pt_cap);
    }
}

/* drive - advance the handshake, decrypt what is there, tell the owner */
static void drive(struct bt_conn *c)
{
    if (c->tls == 1) {
        int r = c->is_server ? wolfSSL_accept(c->ssl) : wolfSSL_connect(c->ssl);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(c->ssl, r);
            if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) return;
            char eb[WOLFSSL_MAX_ERROR_SZ], why[140];
            snprintf(why, sizeof why, "handshake failed: %d %s", e, wolfSSL_ERR_error_string(e, eb));
            bt_close(c, why);
            return;
        }
        c->tls = 2;
        c->cb(c, BT_TLS_READY);
        if (c->closing) return;
    }
    if (c->tls == 2) {
        for (;;) {
            pt_reserve(c, 16384);
            int r = wolfSSL_read(c->ssl, c->pt + c->pt_len, (int)(c->pt_cap - c->pt_len));
            if (r > 0) { c->pt_len += (size_t)r; continue; }
            int e = wolfSSL_get_error(c->ssl, r);
            if (e == WOLFSSL_ERROR_WANT_READ) break;
            if (c->pt_len) c->cb(c, BT_DATA);
            if (!c->closing)
                bt_close(c, e == WOLFSSL_ERROR_ZERO_RETURN || c->eof ? "" : "TLS read error");
            return;
        }
    }
    if (c->pt_len) c->cb(c, BT_DATA);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct bt_conn *c = s->data;
    if (c->closing) return;
    if (nread < 0) {
        c->eof = 1;
        bt_close(c, nread == UV_EOF ? "" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0) return;
    if (c->tls) {
        if (c->in_len + (size_t)nread > c->in_cap) {
            c->in_cap = (c->in_len + (size_t)nread) * 2;
            c->in = xrealloc(c->in, c->in_cap);
        }
        memcpy(c->in + c->in_len, b->base, (size_t)nread);
        c->in_len += (size_t)nread;
    } else {
        pt_reserve(c, (size_t)nread);
        memcpy(c->pt + c->pt_len, b->base, (size_t)nread);
        c->pt_len += (size_t)nread;
    }
    drive(c);
}

/* bt_read_start - start reading (after connect or accept), TCP_NODELAY on */
int bt_read_start(struct bt_conn *c)
{
    uv_tcp_nodelay(&c->tcp, 1);     /* replies are small writes: no Nagle + delayed ACK stalls */
    return uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

/* bt_start_tls - switch to TLS now; plaintext still buffered is discarded (RFC 3207).
 * peer_name (client only): SNI and the name the server certificate must carry. */
int bt_start_tls(struct bt_conn *c, WOLFSSL_CTX *ctx, const char *peer_name)
{
    c->ssl = wolfSSL_new(ctx);
    if (!c->ssl) { bt_close(c, "wolfSSL_new failed"); return -1; }
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    if (c->resume && !c->is_server) wolfSSL_set_session(c->ssl, c->resume);
    if (peer_name) {
        wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, peer_name, (unsigned short)strlen(peer_name));
        wolfSSL_check_domain_name(c->ssl, peer_name);
    }
    c->pt_len = 0;
    c->tls = 1;
    drive(c);
    return 0;
}

/* bt_write - send plaintext (encrypted once TLS is up) */
void bt_write(struct bt_conn *c, const char *buf, size_t len)
{
    if (c->closing || len == 0) return;
    if (c->tls != 2) { raw_write(c, buf, len); return; }
    while (len > 0) {
        int r = wolfSSL_write(c->ssl, buf, (int)len);
        if (r <= 0) { bt_close(c, "TLS write error"); return; }
        buf += r;
        len -= (size_t)r;
    }
}

/* bt_consume - drop the first n plaintext bytes */
void bt_consume(struct bt_conn *c, size_t n)
{
    if (n >= c->pt_len) { c->pt_len = 0; return; }
    memmove(c->pt, c->pt + n, c->pt_len - n);
    c->pt_len -= n;
}

static void on_close(uv_handle_t *h)
{
    struct bt_conn *c = h->data;
    if (c->ssl) wolfSSL_free(c->ssl);
    free(c->in);
    free(c->pt);
    c->ssl = NULL; c->in = NULL; c->pt = NULL;
    c->in_len = c->pt_len = 0;
    c->cb(c, BT_CLOSED);
}

/* bt_close - close once; BT_CLOSED follows from close_cb */
void bt_close(struct bt_conn *c, const char *why)
{
    if (c->closing) return;
    c->closing = 1;
    snprintf(c->error, sizeof c->error, "%s", why ? why : "");
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* bt_peer_cert_ok - the peer presented a certificate and it verified */
int bt_peer_cert_ok(struct bt_conn *c)
{
    if (!c->ssl || c->tls != 2) return 0;
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(c->ssl);
    if (!x) return 0;
    wolfSSL_X509_free(x);
    return wolfSSL_get_verify_result(c->ssl) == 0;
}

void bt_sample_add(struct bt_samples *s, int64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* bt_percentile - nearest-rank percentile (sorts the samples) */
int64_t bt_percentile(struct bt_samples *s, double p)
{
    if (s->n == 0) return -1;
    qsort(s->v, s->n, sizeof *s->v, cmp64);
    size_t k = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (k < 1) k = 1;
    if (k > s->n) k = s->n;
    return s->v[k - 1];
}

long bt_next_line(struct bt_conn *c, size_t *off, char *line, size_t cap)
{
    char *nl = memchr(c->pt + *off, '\n', c->pt_len - *off);
    if (!nl) return -1;
    size_t len = (size_t)(nl - (c->pt + *off));
    size_t l = len < cap - 1 ? len : cap - 1;
    memcpy(line, c->pt + *off, l);
    line[l] = 0;
    if (l && line[l - 1] == '\r') line[--l] = 0;
    *off += len + 1;
    return (long)l;
}

int bt_parse_addr(const char *hostport, struct sockaddr_storage *addr)
{
    char host[256]; const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    if (uv_ip4_addr(host, atoi(colon + 1), (struct sockaddr_in *)addr) &&
        uv_ip6_addr(host, atoi(colon + 1), (struct sockaddr_in6 *)addr)) return -1;
    return 0;
}
