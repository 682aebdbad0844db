/*
 * tls_conn_int.h - the layout of a tls_conn, shared by tls_conn.c (the
 * byte stream over libuv) and tls_conn_tls.c (STARTTLS: wolfSSL over it).
 * Only those two files include this; everyone else sees the opaque type.
 */
#ifndef DOMSEC_TLS_CONN_INT_H
#define DOMSEC_TLS_CONN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "tls_conn.h"
#include "tls_internal.h"

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

/* tls_conn.c, for tls_conn_tls.c */
#define TLS_BUF_SIZE (16384 + 1024)     /* a thread's spare buffer: a full TLS record */
#define TLS_BUF_KEEP 16                 /* spare buffers (and write requests) per thread */
/* A remainder up to this size leaves its spare at the end of a read (see
 * MEMORY in tls_conn.c): every command line smtpd accepts (2048 octets
 * with CRLF, RELAY_LINE_MAX) and every TLS record that carries one (plus
 * under 100 bytes of header, tag and padding) fit, so a conn stalled inside
 * commands holds only its bytes; a bigger one is most likely a partial
 * message record whose rest is already on its way, where a copy per read
 * would cost more than the spare saves (at most 17/4 of the bytes). */
#define TLS_BUF_SHRINK 4096
/* Room for need bytes in p (len of them used, *cap its size; p NULL: none
 * yet): p itself, or a bigger buffer with the len bytes copied (a thread's
 * spare when need fits in TLS_BUF_SIZE).  Never fails (xmalloc). */
char   *tls__buf_grow(char *p, size_t len, size_t *cap, size_t need);
/* End of a read callback: if p (bytes from *off to *len used, *cap its
 * size) is a spare holding at most TLS_BUF_SHRINK bytes, they move to a
 * buffer of their size (*off 0, *len and *cap their number), the spare goes
 * back, and that buffer is returned; else p, unchanged. */
char   *tls__buf_shrink(char *p, size_t *off, size_t *len, size_t *cap);
/* Give back a buffer of tls__buf_grow (cap its size; NULL ignored). */
void    tls__buf_put(char *p, size_t cap);
/* Append n bytes of plaintext input to the conn's heap buffer `in`. */
void    tls__conn_keep(struct tls_conn *c, const char *p, size_t n);
/* uv_write len bytes of a tls__buf_grow buffer (cap its size), owned by
 * the write from now on (given back when written). */
int     tls__conn_send(struct tls_conn *c, char *buf, size_t len, size_t cap);

/* tls_conn_tls.c, for tls_conn.c */
/* Ciphertext (or EOF/error) from the socket, in TLS mode. */
void    tls__conn_cipher_in(struct tls_conn *c, ssize_t nread, const uv_buf_t *buf);
/* Hand the records wolfSSL produced to the kernel. */
int     tls__conn_cipher_out(struct tls_conn *c);
/* Remember why TLS failed; the conn goes to TLS_MODE_FAILED. */
void    tls__conn_set_error(struct tls_conn *c, const char *what, int ret);

#endif
