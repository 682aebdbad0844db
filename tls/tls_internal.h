/*
 * tls_internal.h - wolfSSL-facing internals shared by tls_ctx.c and
 * tls_conn.c.  Only tls/ includes this; it is where WOLFSSL types stay.
 */
#ifndef DOMSEC_TLS_INTERNAL_H
#define DOMSEC_TLS_INTERNAL_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct tls_ctx;

/* tls_ctx.c */
WOLFSSL_CTX *tls__ctx_wolf(const struct tls_ctx *t);

/* tls_conn.c: wolfSSL custom I/O over the conn's buffers. */
int     tls__io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
int     tls__io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);

#endif
