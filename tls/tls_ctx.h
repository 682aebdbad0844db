/*
 * tls_ctx.h - a TLS configuration shared by many connections: our
 * certificate and key, the trust anchors for peers, TLS 1.2 and 1.3 only.
 *
 * Opaque; reference counted; thread-safe to share once built (it is never
 * modified after tls_ctx_*_new).  Built from files when a configuration
 * loads, so a reload builds new ones and old sessions keep theirs.
 */
#ifndef DOMSEC_TLS_CTX_H
#define DOMSEC_TLS_CTX_H

#include <stdbool.h>
#include <stdint.h>

struct tls_ctx;

/* tls_ctx.c */
/*
 * Server side: our certificate chain (PEM, leaf first) and key; trusted_ca
 * (PEM file, may be NULL or missing) verifies client certificates.  NULL
 * with *why (static text naming the failing step; the caller names the file).
 */
struct tls_ctx *tls_ctx_server_new(const char *cert_path, const char *key_path,
                                   const char *trusted_ca, const char **why);
/* Client side: cert_path/key_path may be NULL (no client certificate). */
struct tls_ctx *tls_ctx_client_new(const char *cert_path, const char *key_path,
                                   const char *trusted_ca, const char **why);
/* Server side, before the context is shared: the session tickets it gives
 * are good for seconds (0: tls_ticket_lifetime(), as when it was made);
 * 0, or -1 (also for a client context). */
int     tls_ctx_ticket_lifetime(struct tls_ctx *ctx, uint32_t seconds);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx);
void    tls_ctx_unref(struct tls_ctx *ctx);
bool    tls_ctx_is_server(const struct tls_ctx *ctx);
/* A number unique to this context in the process (never reused after it is
 * freed, unlike its address): keys caches of things made with it. */
uint64_t tls_ctx_id(const struct tls_ctx *ctx);
/* Free the calling thread's wolfSSL caches; call before a thread that did
 * handshakes ends (wolfSSL keeps an ECC fixed-point cache per thread). */
void    tls_thread_cleanup(void);
/* Release the library at process exit, after every context is gone. */
void    tls_library_cleanup(void);

#endif
