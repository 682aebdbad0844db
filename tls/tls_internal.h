/*
 * tls_internal.h - wolfSSL-facing internals shared by the files of tls/.
 * Only tls/ includes this; it is where WOLFSSL types stay.
 */
#ifndef DOMSEC_TLS_INTERNAL_H
#define DOMSEC_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls_crl.h"

struct tls_ctx;

/* tls_ctx.c */
WOLFSSL_CTX *tls__ctx_wolf(const struct tls_ctx *t);
int     tls__ticket_use(WOLFSSL_CTX *ctx, uint32_t seconds); /* tls_ticket.c; tls_ticket.h */
/* tls_ticket_chain.c: the peer behind each ticket sealed (see there); nonce:
 * TLS_TICKET_NONCE_SZ bytes. */
/* After a ticket with nonce is sealed on ssl by the key of generation gen:
 * keep its peer (a resumed session's: its attachment's); drop entries of
 * generations before oldest_gen, then the oldest over the bounds. */
void    tls__ticket_chain_keep(WOLFSSL *ssl, const unsigned char *nonce, uint64_t gen,
                               uint64_t oldest_gen);
/* After a ticket opened: attach its entry's peer to ssl; -1 if there is
 * none, or ssl asks for a certificate and the entry has none, or its full
 * handshake is a lifetime old (the ticket must be rejected: a full
 * handshake). */
int     tls__ticket_chain_attach(WOLFSSL *ssl, const unsigned char *nonce, uint64_t gen,
                                 uint64_t oldest_gen);
/* For tls_facts.c: whether ssl resumed a ticket of ours; then *verify_code
 * (if not NULL) is the X509_V_* of the handshake that sealed it, and
 * tls__ticket_peer_chain() gives its chain as sent (views valid until
 * tls__ticket_detach()). */
bool    tls__ticket_peer(WOLFSSL *ssl, long *verify_code);
size_t  tls__ticket_peer_chain(WOLFSSL *ssl, struct tls_crl_cert *out, size_t max);
/* tls_ticket.c: the keys' clock now, and the lifetime in force (seconds). */
void    tls__ticket_clock(int64_t *now, int64_t *lifetime);
/* Release ssl's attachment: before every wolfSSL_free() of a server's ssl. */
void    tls__ticket_detach(WOLFSSL *ssl);

/* tls_conn_tls.c: wolfSSL custom I/O over the conn's buffers. */
int     tls__io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
int     tls__io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);
/* The whole pages of heap block p (from malloc) that hold only zeros go
 * back to the kernel (MADV_DONTNEED: they read as zeros again and take
 * memory only when written); the block stays allocated and reads the same.
 * Returns the bytes given back.  Not for memory another thread writes. */
size_t  tls__zero_pages(void *p);

/* tls_certinfo.c, for tls_store.c. */
struct tls__der {
    unsigned char *der;                 /* owned */
    size_t  len;
};
/* The largest certificate or key file tls/ reads (log_read_file). */
#define TLS__FILE_MAX (1024 * 1024)
/* Every CERTIFICATE block of a PEM buffer, in order; returns their number. */
size_t  tls__pem_certs(const unsigned char *pem, size_t len, struct tls__der **out);
void    tls__der_free(struct tls__der *v, size_t n);
/* tls_certinfo.c, also for tls_certgen.c: a host name or "*." and one
 * (LDH labels of at most 63, dots between, at most 253 in all). */
bool    tls__dns_like(const char *s);

/* tls_crl.c, for tls_conn.c. */
/*
 * Revocation of the peer chain of a finished handshake whose chain
 * verified: leaf (DER, not kept) first, then the certificates the peer
 * presented, checked against the published set at time(NULL).  The reason
 * ("" when GOOD) goes to reason; "no CRLs loaded" with TLS_REV_UNKNOWN if
 * no set is published.  Never blocks.
 */
enum tls_revocation tls__crl_check_peer(WOLFSSL *ssl, const unsigned char *leaf, size_t len,
                                        char *reason, size_t sz);

/*
 * tls_facts.c, for tls_conn.c: fill f from a finished handshake on ssl.
 * Returns the peer's leaf certificate (DER, owned by the caller, f->peer_der
 * points at it) or NULL.
 */
struct tls_facts;
unsigned char *tls__facts_collect(WOLFSSL *ssl, struct tls_facts *f);
/* tls_crl.c: a malloc()ed copy of the DER certificate among the published
 * CRL set's issuers (the global and partners' trusted_ca_file, the store's
 * chain certificates) whose name and key issued der (its signature
 * verifies), or NULL (none, or no set published).  Thread-safe. */
unsigned char *tls__crl_issuer_of(const unsigned char *der, size_t len, size_t *out_len);
/* tls_ocsp_peer.c: f->ocsp, ocsp_source, ocsp_reason of a finished handshake
 * (after the chain verdict and peer_der are set). */
void    tls__ocsp_facts(WOLFSSL *ssl, struct tls_facts *f);
/* The peer's chain as sent, at most max certificates (views into ssl's
 * session), for tls_conn_peer_chain(). */
size_t  tls__facts_peer_chain(WOLFSSL *ssl, struct tls_crl_cert *out, size_t max);
/*
 * The chain facts a handshake would record for chain (DER, as sent, leaf
 * first) against the anchors loaded in cm, which learns the sent CA
 * certificates that verify (use a CertManager of one's own, never a
 * shared one): verdict, X509_V code, the reason of an Untrusted one,
 * revocation of a valid one against the published CRLs; f->peer_der
 * points into chain.  0, or -1 with *why (static): "no certificate", "the
 * first certificate cannot be parsed".
 */
int     tls__chain_judge(WOLFSSL_CERT_MANAGER *cm, const struct tls_crl_cert *chain, size_t n,
                         struct tls_facts *f, const char **why);

/*
 * tls_crl_der.c, for tls_crl.c: the DER walk of certificates and CRLs.
 * Every view points into the caller's DER (not copied) and is valid as
 * long as those bytes are.  No allocation, no wolfSSL state, no callbacks.
 */
struct tls__der_view {                  /* a view into DER bytes (not owned) */
    const unsigned char *p;
    size_t  len;
};
struct tls__crl_cert {                  /* the certificate fields the CRL walk needs */
    const unsigned char *der;           /* not owned */
    size_t  len;
    unsigned char sha1[20];             /* SHA-1 of der */
    struct tls__der_view serial;        /* INTEGER content */
    struct tls__der_view issuer, subject, spki;  /* whole Name / SubjectPublicKeyInfo */
    struct tls__der_view exts;          /* Extensions content, or empty */
};
struct tls__crl_tbs {                   /* the TBSCertList fields of one CRL */
    struct tls__der_view issuer;        /* whole Name */
    struct tls__der_view revoked;       /* revokedCertificates content, or empty */
    int64_t this_update, next_update;   /* unix seconds; next_update 0 if absent */
    size_t  entries;                    /* revoked certificates listed */
    char    number[64];                 /* cRLNumber in decimal, or "" */
};
/* Same bytes. */
bool    tls__der_eq(struct tls__der_view a, struct tls__der_view b);
/* Uppercase hex of an INTEGER's magnitude, as openssl prints serials. */
void    tls__der_int_hex(struct tls__der_view v, char *out, size_t sz);
/* Parse a DER certificate into *c (views into der); false if it is not one. */
bool    tls__crl_cert_parse(const unsigned char *der, size_t len, struct tls__crl_cert *c);
/* Parse a DER CRL into *t (views into der): NULL, or why it is not usable
 * (static text; a delta CRL is refused). */
const char *tls__crl_parse(const unsigned char *der, size_t len, struct tls__crl_tbs *t);
/* Whether serial (INTEGER content) is listed in t; then *when gets its
 * revocationDate (0 if unreadable) and *reason its CRLReason (-1 if none). */
bool    tls__crl_find_serial(const struct tls__crl_tbs *t, struct tls__der_view serial,
                             int64_t *when, int *reason);
/* tls_crl_cdp_urls(), declared in tls_crl.h, is implemented in tls_crl_der.c. */
/* tls_crl.c, also for tls_facts.c: a DER Name (not kept) as RFC 2253 text
 * ("CN=a, O=b", with '"', '\\', ',' and '+' escaped by a backslash, as
 * tls_cert_info prints names), truncated to sz; "(unreadable name)" if it
 * does not parse. */
void    tls__name_text(struct tls__der_view name, char *out, size_t sz);

/*
 * tls_crl.c, for tls_crl_load.c: adding to a set that is being built (one
 * thread, before the set is shared; see tls_crl.c).  Reading files and
 * decoding PEM is tls_crl_load.c's; the set's layout stays in tls_crl.c.
 */
/* Parse one DER CRL, taking over der (freed if it is not usable), and
 * append it; source ("-" if NULL) and url (or NULL) are copied.  0, or -1
 * with *why (static text). */
int     tls__crl_set_add_der(struct tls_crl_set *s, unsigned char *der, size_t len,
                             const char *source, const char *url, const char **why);
/* Parse a DER certificate, taking over der (freed if it is not one), and
 * append it to the set's issuers, as a trust anchor or not.  Whether it
 * was a certificate. */
bool    tls__crl_set_add_issuer(struct tls_crl_set *s, unsigned char *der, size_t len,
                                bool anchor);

/*
 * tls_certgen.c and tls_certkey.c, for each other and tls_certimport.c:
 * the wolfCrypt key and PEM helpers of both halves of tls_certgen.h.
 * Synchronous, no callbacks; every buffer is the caller's (see
 * tls_certgen.c).
 */
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "log.h"
#include "tls_certgen.h"

struct tls__gen_key {                   /* a private key in wolfCrypt form */
    int     type;                       /* RSA_TYPE or ECC_TYPE */
    RsaKey  rsa;
    ecc_key ecc;
};
/* tls_certgen.c */
/* Set *why (tls_certgen.c's per-thread buffer, valid until the next call
 * in this thread) from a format; returns TLS_GEN_ERROR. */
int     tls__gen_fail(const char **why, const char *fmt, ...) LOG_PRINTF(2, 3);
/* DER into a new PEM buffer *out of wolfCrypt type (CERT_TYPE, ...).  0, or
 * -1 with *out empty. */
int     tls__gen_pem(const unsigned char *der, size_t len, int type, struct tls_gen_buf *out);
/* tls_certkey.c */
/* An empty key (what tls__gen_key_free() takes). */
void    tls__gen_key_init(struct tls__gen_key *k);
/* A private key from PEM (maybe encrypted with password) or DER (PKCS#1,
 * SEC1, PKCS#8) into *k.  TLS_GEN_OK, TLS_GEN_PASSWORD or TLS_GEN_ERROR
 * with *why; *k must be released with tls__gen_key_free() either way. */
int     tls__gen_key_load(const unsigned char *in, size_t len, const char *password,
                          struct tls__gen_key *k, const char **why);
/* A loaded key as PKCS#1 or SEC1 (with curve OID) PEM into *out.  0, or -1. */
int     tls__gen_key_pem(struct tls__gen_key *k, struct tls_gen_buf *out);
/* A loaded key's DER SubjectPublicKeyInfo into buf: its length, or <= 0. */
int     tls__gen_key_spki(struct tls__gen_key *k, unsigned char *buf, size_t cap);
void    tls__gen_key_free(struct tls__gen_key *k);

#endif
