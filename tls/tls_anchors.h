/*
 * tls_anchors.h - a partner's own trust anchors ([partner D]
 * trusted_ca_file): the certificates of one PEM file, loaded once, and the
 * verdict on a chain a peer sent, judged against them as a handshake would
 * judge it against the global trusted_ca_file.
 */
#ifndef DOMSEC_TLS_ANCHORS_H
#define DOMSEC_TLS_ANCHORS_H

#include <stddef.h>

#include "tls_conn.h"                   /* enum tls_chain, enum tls_revocation */

struct tls_anchors;                     /* opaque; immutable once loaded */

/* The verdict on a sent chain (plain data). */
struct tls_anchors_verdict {
    enum tls_chain chain;               /* VALID, UNTRUSTED, EXPIRED, ... as tls_facts */
    long    verify_code;                /* the X509_V_* a handshake would record */
    enum tls_revocation revocation;     /* CRL verdict of a VALID chain, else NOT_CHECKED */
    char    reason[320];                /* why not VALID (chain_reason), or why REVOKED /
                                         * UNKNOWN; else "" */
};

/* tls_anchors.c */
/*
 * Load every certificate of the PEM file path (blocking file I/O: at
 * configuration load, never in a handshake).  A new set with one
 * reference, or NULL with *why (static): "cannot be read", "not a regular
 * file", "holds no PEM certificate", "holds no usable CA certificate".
 */
struct tls_anchors *tls_anchors_load(const char *path, const char **why);
/* Another reference (thread-safe); NULL is passed through. */
struct tls_anchors *tls_anchors_ref(struct tls_anchors *a);
/* Drop a reference (thread-safe); NULL is a no-op. */
void    tls_anchors_unref(struct tls_anchors *a);
/* How many anchors were loaded. */
size_t  tls_anchors_count(const struct tls_anchors *a);
/*
 * Judge chain (DER as the peer sent it, leaf first, n >= 1) against a's
 * anchors only: the certificates sent are taken as a handshake takes them
 * (tls__chain_judge), dates at time(NULL), revocation of a valid chain
 * against the published CRL set.  Thread-safe and reentrant: a short-lived
 * CertManager per call (wolfSSL's learns the sent CAs as it verifies, so a
 * shared one could not be).  0, or -1 (no certificate, unparsable leaf:
 * then v->chain is TLS_CHAIN_INVALID with a reason).
 */
int     tls_anchors_verify(const struct tls_anchors *a, const struct tls_crl_cert *chain,
                           size_t n, struct tls_anchors_verdict *v);

#endif
