/*
 * tls_conn_tls.c - STARTTLS on a tls_conn: wolfSSL over the byte stream of
 * tls_conn.c (which has the CONTRACT and MEMORY notes of both files).
 *
 *  wolfSSL pulls ciphertext through tls__io_recv() and pushes records
 *  through tls__io_send(); tls__conn_cipher_in() drives the handshake and
 *  decrypts what arrived; the facts of a finished handshake come from
 *  tls_facts.c.  Same thread and ownership rules as tls_conn.c.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_conn_int.h"
#include "tls_ctx.h"
#include "tls_internal.h"

/*
 * tls__zero_pages may be given only the start of a block from glibc's
 * malloc() (malloc_usable_size).  Which wolfSSL objects are such blocks
 * depends on how the wolfSSL we link was built, so this is decided here, at
 * compile time, and the objects that are not are simply skipped (they keep
 * their pages; nothing else changes):
 *  - every object, unless XMALLOC is plain malloc: not with a static memory
 *    pool (WOLFSSL_STATIC_MEMORY), WOLFSSL_CHECK_MEM_ZERO (malloc() + an
 *    offset), a user XMALLOC, or allocators installed with
 *    wolfSSL_SetAllocators() (checked at run time; domsec installs none);
 *  - the session, unless NO_SESSION_CACHE_REF: without it
 *    wolfSSL_get_session() on a client returns a row of wolfSSL's static
 *    ClientCache (and adds the session to the global cache), which other
 *    threads write under their own locks.
 * Debian's 5.5.4 and the tuned build (cmake/WolfSSLTuned.cmake) define
 * NO_SESSION_CACHE_REF and none of the others: both objects are given back.
 */
#if defined(WOLFSSL_STATIC_MEMORY) || defined(WOLFSSL_CHECK_MEM_ZERO) \
    || defined(XMALLOC_USER) || defined(XMALLOC_OVERRIDE) || defined(WOLFSSL_NO_MALLOC)
#define TLS_ZERO_WOLF 0
#else
#define TLS_ZERO_WOLF 1
#endif
#if TLS_ZERO_WOLF && defined(NO_SESSION_CACHE_REF)
#define TLS_ZERO_SESSION 1
#else
#define TLS_ZERO_SESSION 0
#endif

/* tls_zero_wolf_ok - wolfSSL's objects are malloc() blocks in this process */

static bool tls_zero_wolf_ok(void)
{
#if !TLS_ZERO_WOLF
    return false;
#elif defined(USE_WOLFSSL_MEMORY)
    wolfSSL_Malloc_cb mf = NULL;
    wolfSSL_Free_cb ff = NULL;
    wolfSSL_Realloc_cb rf = NULL;

    return wolfSSL_GetAllocators(&mf, &ff, &rf) == 0 && mf == NULL;
#else
    return true;                        /* XMALLOC is malloc itself */
#endif
}

/* tls_zero_wolf - after the handshake: the zero pages of the WOLFSSL object
 * and of its session (see MEMORY in tls_conn.c) */

static void tls_zero_wolf(WOLFSSL *ssl)
{
    if (!tls_zero_wolf_ok())
        return;
#if TLS_ZERO_SESSION
    tls__zero_pages(wolfSSL_get_session(ssl));  /* ssl->session, our own block */
#endif
    tls__zero_pages(ssl);
}

/* tls__zero_pages - give back the all-zero pages of a heap block (see
 * tls_internal.h and MEMORY in tls_conn.c) */

size_t tls__zero_pages(void *p)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);  /* glibc: a cached value */
    uintptr_t start, end, run = 0;
    size_t  freed = 0;

    if (p == NULL)
        return 0;
    start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    end = ((uintptr_t)p + malloc_usable_size(p)) & ~(uintptr_t)(page - 1);
    for (uintptr_t a = start; a < end; a += page) {
        const unsigned char *b = (const unsigned char *)a;

        /* All zero: the first byte is, and each byte equals the next. */
        if (b[0] == 0 && memcmp(b, b + 1, page - 1) == 0) {
            if (run == 0)
                run = a;
            continue;
        }
        if (run != 0 && madvise((void *)run, a - run, MADV_DONTNEED) == 0)
            freed += a - run;
        run = 0;
    }
    if (run != 0 && madvise((void *)run, end - run, MADV_DONTNEED) == 0)
        freed += end - run;
    return freed;
}

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

    c->cout = tls__buf_grow(c->cout, c->cout_len, &c->cout_cap, c->cout_len + (size_t)sz);
    memcpy(c->cout + c->cout_len, buf, (size_t)sz);
    c->cout_len += (size_t)sz;
    return sz;                          /* libuv queues everything: never WANT_WRITE */
}

/* tls__conn_cipher_out - hand produced records to the kernel */

int tls__conn_cipher_out(struct tls_conn *c)
{
    int r;

    if (c->cout_len == 0 || c->closed_handles)
        return 0;
    r = tls__conn_send(c, c->cout, c->cout_len, c->cout_cap);
    c->cout = NULL;
    c->cout_len = c->cout_cap = 0;
    return r;
}

/* tls__conn_set_error - remember why TLS failed */

void tls__conn_set_error(struct tls_conn *c, const char *what, int ret)
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

        tls__conn_cipher_out(c);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(c->ssl, r);

            if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
                return;
            tls__conn_set_error(c, "TLS handshake", r);
            c->cb(c, TLS_EV_ERROR, c->arg);
            return;
        }
        c->mode = TLS_MODE_OPEN;
        c->peer_der = tls__facts_collect(c->ssl, &c->facts);
        wolfSSL_FreeArrays(c->ssl);     /* the facts are ours now (see MEMORY) */
        tls_zero_wolf(c->ssl);
        c->cb(c, TLS_EV_TLS_READY, c->arg);
        if (c->closing || c->mode != TLS_MODE_OPEN)
            return;
        if (c->out_len > 0)             /* written while we shook hands */
            tls_conn_flush(c);
    }
    while (c->mode == TLS_MODE_OPEN) {
        int n = wolfSSL_read(c->ssl, buf, sizeof(buf));

        if (n > 0) {
            tls__conn_keep(c, buf, (size_t)n);
            got = true;
            continue;
        }
        {
            int e = wolfSSL_get_error(c->ssl, n);

            tls__conn_cipher_out(c);     /* e.g. key updates, session tickets */
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
            tls__conn_set_error(c, "TLS read", n);
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
    c->cin = tls__buf_grow(c->cin, c->cin_len, &c->cin_cap, c->cin_len + n);
    memcpy(c->cin + c->cin_len, p, n);
    c->cin_len += n;
}

/* tls__conn_cipher_in - ciphertext (or EOF/error) from the socket */

void tls__conn_cipher_in(struct tls_conn *c, ssize_t nread, const uv_buf_t *buf)
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
        tls__buf_put(c->cin, c->cin_cap);
        c->cin = NULL;
        c->cin_off = c->cin_len = c->cin_cap = 0;
    }
    if (!c->closing) {                  /* a partial record or line may wait long */
        c->cin = tls__buf_shrink(c->cin, &c->cin_off, &c->cin_len, &c->cin_cap);
        c->in = tls__buf_shrink(c->in, &c->in_off, &c->in_len, &c->in_cap);
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
    tls__buf_put(c->in, c->in_cap);
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
            tls__conn_set_error(c, "TLS handshake", r);  /* no callback: we return -1 */
            return -1;
        }
    }
    return tls__conn_cipher_out(c) != 0 || tls_conn_resume(c) != 0 ? -1 : 0;
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
