/*
 * tls_ocsp.h - OCSP (RFC 6960) for partner chains, beside CRLs.
 *
 * The verdict of a chain's OCSP check and where its response came from
 * (struct tls_facts).  Like CRLs, a handshake never waits.  The facts of
 * a handshake carry only a stapled response (tls_ocsp_peer.c); without one
 * they say NOT_CHECKED, and whoever needs OCSP (relay/'s partner identity,
 * for partners whose revocation uses it) checks a chain against the
 * process-wide cache with tls_ocsp_check_chain().  The cache is filled from
 * the certificate's AIA OCSP URL by the CRL thread; a miss now is answered
 * next time.
 */
#ifndef DOMSEC_TLS_OCSP_H
#define DOMSEC_TLS_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls_crl.h"                   /* struct tls_crl_cert */

enum tls_ocsp_status {
    TLS_OCSP_NOT_CHECKED,               /* no certificate, its chain is not valid
                                         * anyway, or (handshake facts) valid but
                                         * not stapled: check the cache yourself */
    TLS_OCSP_GOOD,                      /* a current, verified response says good */
    TLS_OCSP_REVOKED,                   /* a current, verified response says revoked */
    TLS_OCSP_UNKNOWN,                   /* no response (yet), responder down, status
                                         * unknown, stale or unverifiable response */
};

enum tls_ocsp_source {
    TLS_OCSP_SRC_NONE,                  /* no response was used */
    TLS_OCSP_SRC_STAPLED,               /* the peer stapled it in the handshake */
    TLS_OCSP_SRC_FETCHED,               /* fetched from the AIA OCSP URL (cache) */
};

/* What one OCSP response says about one certificate (tls_ocsp_check). */
struct tls_ocsp_result {
    enum tls_ocsp_status status;        /* GOOD, REVOKED or UNKNOWN (never NOT_CHECKED) */
    int64_t this_update;                /* unix seconds of the single response, or 0 */
    int64_t next_update;                /* unix seconds, 0 if absent or unreadable */
    char    reason[256];                /* one line for the log, "" when GOOD:
                                         * "certificate serial 1003 revoked (OCSP
                                         * response of CN=...)" (wolfSSL 5.5.4 reports
                                         * neither the time nor the reason),
                                         * "OCSP response does not verify with the key of
                                         * CN=... or a responder it delegated",
                                         * "OCSP response is stale since ...", ... */
};

/* tls_ocsp.c: request building and response checking, no I/O, reentrant. */
/*
 * The first http OCSP URL of the certificate's Authority Information
 * Access into buf ("" if none or the certificate cannot be read).
 */
void    tls_ocsp_url(const unsigned char *der, size_t len, char *buf, size_t sz);
/*
 * A DER OCSPRequest (RFC 6960, SHA-1 CertID, no nonce: responses are
 * cached and shared) for the certificate leaf issued by issuer.  *out is
 * malloc()ed, the caller frees it.  0, or -1 with *why (static text).
 */
int     tls_ocsp_request(const unsigned char *leaf, size_t leaf_len,
                         const unsigned char *issuer, size_t issuer_len,
                         unsigned char **out, size_t *out_len, const char **why);
/*
 * Check a DER OCSPResponse for leaf.  up[0] is leaf's issuer, up[1..n-1]
 * the issuer's own chain upwards as far as the caller knows it (the
 * caller has already verified this chain; up[n-1] should be the root):
 * the response status must be successful, its signature must verify with
 * the key of the responder certificate it carries, and that certificate
 * must be the issuer itself or one the issuer signed for OCSPSigning (RFC
 * 6960 4.2.2.2; a responder delegated by another CA of the chain does not
 * count); it must hold a single response for exactly leaf's CertID, and be
 * current at now (thisUpdate not more than 5 minutes ahead; nextUpdate not
 * past, or without nextUpdate thisUpdate not more than a day ago: such a
 * response, which RFC 5019 2.2.4 allows, is not trusted for longer).  Anything else is UNKNOWN with a reason.  Nothing is
 * kept; inputs are not copied.
 */
void    tls_ocsp_check(const unsigned char *resp, size_t resp_len,
                       const struct tls_crl_cert *leaf, const struct tls_crl_cert *up,
                       size_t n, int64_t now, struct tls_ocsp_result *out);
/* What a DER response says, unverified (tls_ocsp_info). */
struct tls_ocsp_info {
    int64_t this_update;                /* unix seconds of the first single response */
    int64_t next_update;                /* 0 when absent */
    const char *status;                 /* static: "good", "revoked", "unknown", as the
                                         * responder said (not verified) */
    char    serial[130];                /* the certificate serial it is about, uppercase
                                         * hex, "" if unreadable */
};
/*
 * The first single response of a DER response, unverified (for cache
 * refresh times and listings only, never for a verdict): 0 and *out, or -1
 * if resp is not a successful OCSP response.
 */
int     tls_ocsp_info(const unsigned char *resp, size_t len, struct tls_ocsp_info *out);

/* tls_ocsp_cache.c: the process-wide response cache and the chain check. */
/*
 * Responses are kept by the SHA-256 of the DER request they answer (the
 * request for a certificate is always the same: no nonce), at most 4096,
 * the oldest put dropped first.  put copies; get returns a malloc()ed
 * copy or NULL.  Any thread.
 */
void    tls_ocsp_cache_put(const unsigned char key[32], const unsigned char *resp, size_t len);
unsigned char *tls_ocsp_cache_get(const unsigned char key[32], size_t *len);
/* The cache key of a DER request. */
void    tls_ocsp_key(const unsigned char *req, size_t len, unsigned char key[32]);
/* Drop every response (at exit, and for tests). */
void    tls_ocsp_cache_clear(void);
/*
 * Who hears that a check found no usable response: the leaf's AIA OCSP
 * URL and the DER request to send there (both valid during the call
 * only).  Called from the checking thread; must not block.  Set it before
 * the first handshake; NULL: nobody.
 */
typedef void (*tls_ocsp_miss_fn)(const char *url, const unsigned char *req, size_t len,
                                 void *arg);
void    tls_ocsp_set_miss_hook(tls_ocsp_miss_fn fn, void *arg);
/*
 * The OCSP verdict of a chain that already verified to a trust anchor,
 * from the cache (source FETCHED): chain is what the peer sent, leaf
 * first (not copied, not kept).  The leaf's issuer is the first sent
 * certificate whose key verifies the leaf's signature, else such a
 * certificate among the published CRL set's issuers (the global and the
 * partners' trusted_ca_file), else UNKNOWN ("issuer of the certificate
 * neither sent nor a known CA").  No response, or one that is not GOOD or
 * REVOKED (stale, unverifiable, status unknown): UNKNOWN, and with fetch
 * the miss hook is told (if the leaf has an http AIA OCSP URL: else
 * UNKNOWN, "the certificate names no OCSP responder").  tls/ itself never
 * passes fetch: only the caller that knows the policy wants OCSP does.
 * Thread-safe, no I/O.
 */
void    tls_ocsp_check_chain(const struct tls_crl_cert *chain, size_t n, bool fetch,
                             int64_t now, struct tls_ocsp_result *out);

/* Static names for logs and listings: "good", "revoked", "unknown", "not-checked";
 * "stapled", "fetched", "none". */
const char *tls_ocsp_status_name(enum tls_ocsp_status s);
const char *tls_ocsp_source_name(enum tls_ocsp_source s);

#endif
