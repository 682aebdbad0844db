/*
 * tls_internal.h - wolfSSL-facing internals shared by tls_ctx.c and
 * tls_conn.c.  Only tls/ includes this; it is where WOLFSSL types stay.
 */
#ifndef DOMSEC_TLS_INTERNAL_H
#define DOMSEC_TLS_INTERNAL_H

#include <stddef.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct tls_ctx;

/* tls_ctx.c */
WOLFSSL_CTX *tls__ctx_wolf(const struct tls_ctx *t);

/* tls_conn.c: wolfSSL custom I/O over the conn's buffers. */
int     tls__io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
int     tls__io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);

/* tls_certinfo.c, for tls_store.c. */
struct tls__der {
    unsigned char *der;                 /* owned */
    size_t  len;
};
/* Read a whole regular file of at most TLS__FILE_MAX bytes into *data
 * (owned, NUL-terminated); *mode (if not NULL) gets its permission bits
 * from the same open file.  0, or -1 with errno (EFBIG: too large, EINVAL:
 * not a regular file). */
#define TLS__FILE_MAX (1024 * 1024)
int     tls__read_file(const char *path, unsigned char **data, size_t *len, unsigned *mode);
/* Every CERTIFICATE block of a PEM buffer, in order; returns their number. */
size_t  tls__pem_certs(const unsigned char *pem, size_t len, struct tls__der **out);
void    tls__der_free(struct tls__der *v, size_t n);

#endif
