/*
 * tls_ctx.c - wolfSSL contexts.
 *
 * CONTRACT
 *  tls_ctx_*_new() return a context with one reference or NULL and a
 *  static reason.  The WOLFSSL_CTX is configured completely before it is
 *  returned and never changed afterwards, so many threads may create
 *  sessions from it.  The last tls_ctx_unref() frees it; WOLFSSL objects
 *  made from it hold their own reference inside wolfSSL, so a context may
 *  be released while connections that use it are still open.  Both roles
 *  rank X25519 first; a server context seals session tickets with the
 *  process's keys (tls_ticket.c), so a ticket outlives the context.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "log_util.h"
#include "tls_ctx.h"
#include "tls_internal.h"
#include "tls_ticket.h"

struct tls_ctx {
    WOLFSSL_CTX *ctx;
    bool    server;
    _Atomic int refs;
    uint64_t id;                        /* unique in the process, never reused */
};

static _Atomic uint64_t tls_ctx_next_id = 1;

static uv_once_t tls_init_once = UV_ONCE_INIT;

/*
 * Key exchange groups, X25519 first, for both roles.  A client sends its
 * TLS 1.3 key share for the first.  A server (wolfSSL 5.5.4
 * TLSX_KeyShare_Establish) takes, among the key shares the client sent,
 * the one of the group ranked first here, and asks for another share
 * (HelloRetryRequest) only when none was usable: so a client that sent
 * X25519 and P-256 shares gets X25519, and one that sent P-256 alone gets
 * P-256 without a retry (tls_ticket_test, test_tls_tickets.py).  Debian's
 * wolfSSL has no P-256-specific code, and an ECDH on P-256 costs 5.2 M
 * instructions against 0.6 M on X25519 (docs/PROFILE.md), a third of a
 * handshake; OpenSSL (Postfix, Exim) ranks X25519 first too.
 */
static int tls_ctx_groups[] = {              /* copied by wolfSSL_CTX_set_groups */
    WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1, WOLFSSL_ECC_SECP521R1,
#ifdef HAVE_FFDHE_2048
    WOLFSSL_FFDHE_2048,
#endif
};

/* tls_library_init - wolfSSL_Init once per process */

static void tls_library_init(void)
{
    wolfSSL_Init();
}

/* tls_ctx_id - a number naming this context for its whole life, never reused */

uint64_t tls_ctx_id(const struct tls_ctx *ctx)
{
    return ctx->id;
}

/* tls_ctx_new - common part of both roles */

static struct tls_ctx *tls_ctx_new(bool server, const char *cert_path, const char *key_path,
                                   const char *trusted_ca, const char **why)
{
    struct tls_ctx *t;
    WOLFSSL_CTX *ctx;

    uv_once(&tls_init_once, tls_library_init);
    ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() : wolfSSLv23_client_method());
    if (ctx == NULL)
        return (*why = "cannot create a TLS context"), NULL;
    if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        return (*why = "cannot restrict TLS to 1.2 and later"), NULL;
    }
    if (cert_path != NULL) {
        /* wolfSSL opens the files itself: a FIFO would block it. */
        if (log_file_check(cert_path, TLS__FILE_MAX) < 0
            || log_file_check(key_path, TLS__FILE_MAX) < 0
            || wolfSSL_CTX_use_certificate_chain_file(ctx, cert_path) != WOLFSSL_SUCCESS) {
            wolfSSL_CTX_free(ctx);
            return (*why = "cannot load the certificate chain"), NULL;
        }
        if (wolfSSL_CTX_use_PrivateKey_file(ctx, key_path, WOLFSSL_FILETYPE_PEM)
                != WOLFSSL_SUCCESS
            || wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
            wolfSSL_CTX_free(ctx);
            return (*why = "cannot load the private key or it does not match the certificate"),
                   NULL;
        }
    }
    /* A missing trusted CA file means no partner can be trusted (the caller
     * warns); one that exists but cannot be loaded is an error.  AT_EACCESS:
     * the effective ids decide, as for the open itself (the fail-safe check
     * runs as root with the service user's effective ids). */
    if (trusted_ca != NULL && faccessat(AT_FDCWD, trusted_ca, F_OK, AT_EACCESS) == 0
        && (log_file_check(trusted_ca, TLS__FILE_MAX) < 0
            || wolfSSL_CTX_load_verify_locations(ctx, trusted_ca, NULL) != WOLFSSL_SUCCESS)) {
        wolfSSL_CTX_free(ctx);
        return (*why = faccessat(AT_FDCWD, trusted_ca, R_OK, AT_EACCESS) != 0
                ? "cannot read the trusted CA file (permissions?)"
                : log_file_check(trusted_ca, TLS__FILE_MAX) < 0
                ? "the trusted CA file is not a regular file of at most 1 MB"
                : "cannot load the trusted CA file"), NULL;
    }
    wolfSSL_CTX_SetIORecv(ctx, tls__io_recv);
    wolfSSL_CTX_SetIOSend(ctx, tls__io_send);
    /* Verification is decided per connection after the handshake. */
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    /* OCSP stapling can be asked for per connection (tls_conn_want_staple);
     * enabling it here sends nothing by itself (wolfSSL 5.5.4, tls_ocsp_test). */
    if (!server)
        (void)wolfSSL_CTX_EnableOCSPStapling(ctx);
    if (wolfSSL_CTX_set_groups(ctx, tls_ctx_groups,
                               (int)(sizeof(tls_ctx_groups) / sizeof(tls_ctx_groups[0])))
        != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        return (*why = "cannot set the key exchange groups"), NULL;
    }
    t = xcalloc(1, sizeof(*t));
    t->id = tls_ctx_next_id++;
    t->ctx = ctx;
    t->server = server;
    t->refs = 1;
    return t;
}

/* tls_ctx_server_new - context for accepting STARTTLS */

struct tls_ctx *tls_ctx_server_new(const char *cert_path, const char *key_path,
                                   const char *trusted_ca, const char **why)
{
    struct tls_ctx *t = tls_ctx_new(true, cert_path, key_path, trusted_ca, why);

    /* Tickets sealed with the process's keys (tls_ticket.c), not the
     * context's own: they stay good across workers and reloads. */
    if (t != NULL && tls__ticket_use(t->ctx, 0) != 0) {
        tls_ctx_unref(t);
        return (*why = "cannot set up session tickets"), NULL;
    }
    return t;
}

/* tls_ctx_client_new - context for outbound STARTTLS */

struct tls_ctx *tls_ctx_client_new(const char *cert_path, const char *key_path,
                                   const char *trusted_ca, const char **why)
{
    return tls_ctx_new(false, cert_path, key_path, trusted_ca, why);
}

/* tls_ctx_ticket_lifetime - how long a server context's tickets are good */

int tls_ctx_ticket_lifetime(struct tls_ctx *t, uint32_t seconds)
{
    return t->server ? tls__ticket_use(t->ctx, seconds) : -1;
}

/* tls_ctx_ref - take a reference */

struct tls_ctx *tls_ctx_ref(struct tls_ctx *t)
{
    atomic_fetch_add(&t->refs, 1);
    return t;
}

/* tls_ctx_unref - drop a reference */

void tls_ctx_unref(struct tls_ctx *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    wolfSSL_CTX_free(t->ctx);
    free(t);
}

/* tls_ctx_is_server - role */

bool tls_ctx_is_server(const struct tls_ctx *t)
{
    return t->server;
}

/* tls__ctx_wolf - the WOLFSSL_CTX, for tls_conn.c */

WOLFSSL_CTX *tls__ctx_wolf(const struct tls_ctx *t)
{
    return t->ctx;
}

/* tls_thread_cleanup - the per-thread ECC cache (FP_ECC) */

void tls_thread_cleanup(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}

/* tls_library_cleanup - wolfSSL_Cleanup at exit */

void tls_library_cleanup(void)
{
    tls_thread_cleanup();
    wolfSSL_Cleanup();
}
