/*
 * tls_dane.h - DANE (RFC 6698, 7671, 7672): matching a peer's chain
 * against TLSA records.  wolfSSL has no DANE API; the match works on the
 * DER certificates the peer sent (tls_conn_peer_chain), after a handshake
 * that recorded and never refused (tls_conn.c's verify callback).
 */
#ifndef DOMSEC_TLS_DANE_H
#define DOMSEC_TLS_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls_crl.h"                   /* struct tls_crl_cert: a DER certificate view */

/* One TLSA record (RFC 6698 2.1). */
struct tls_tlsa {
    uint8_t usage;                      /* 2 DANE-TA, 3 DANE-EE (others unusable for SMTP) */
    uint8_t selector;                   /* 0 full certificate, 1 SubjectPublicKeyInfo */
    uint8_t mtype;                      /* 0 exact, 1 SHA-256, 2 SHA-512 */
    unsigned char *data;                /* owned by whoever holds the record */
    size_t  len;
};

#define TLS_DANE_USAGE_TA 2
#define TLS_DANE_USAGE_EE 3

/* What tls_dane_match() found. */
enum tls_dane_outcome {
    TLS_DANE_MATCH_EE,                  /* a DANE-EE(3) record matches the leaf: authenticated
                                         * (names and dates ignored, RFC 7671 5.1) */
    TLS_DANE_MATCH_TA,                  /* a DANE-TA(2) record matches a sent certificate and
                                         * the chain from the leaf up to it verifies: the
                                         * caller still checks the leaf's names (RFC 7672
                                         * 3.2.3) */
    TLS_DANE_NO_MATCH,                  /* no usable record matches (or a TA chain fails) */
    TLS_DANE_NO_RECORDS,                /* no usable record was given */
    TLS_DANE_NO_CERT,                   /* the peer sent no certificate */
};

struct tls_dane_result {
    enum tls_dane_outcome outcome;
    struct tls_tlsa rec;                /* the matching record (MATCH_*): usage, selector,
                                         * mtype; data and len are the caller's record's */
    size_t  depth;                      /* MATCH_*: the matching certificate's place in the
                                         * chain as sent (0 = the leaf) */
    char    why[256];                   /* NO_MATCH and the others: why, for a log's
                                         * detail ("2 certificates sent, none matches a
                                         * usable TLSA record", "DANE-TA 2 1 1
                                         * matches certificate 1 but the chain does not
                                         * verify up to it: ASN date error, current date
                                         * after"); "" on a match */
};

/* tls_dane.c */
/*
 * Is t usable for SMTP (RFC 7672 3.1.3, RFC 7671 4): usage DANE-TA(2) or
 * DANE-EE(3), selector 0 or 1, matching type 0 (len > 0), 1 (len 32) or 2
 * (len 64).  PKIX-TA(0)/PKIX-EE(1), unknown values and a digest of the
 * wrong length are not.
 */
bool    tls_tlsa_usable(const struct tls_tlsa *t);
/* "3 1 1" (usage selector mtype) into buf (at least 12 bytes); returns buf. */
const char *tls_tlsa_words(const struct tls_tlsa *t, char *buf, size_t sz);
/*
 * Match the chain the peer sent (chain[0] the leaf, n certificates, DER
 * views not kept) against the records t[0..nt); unusable records are
 * skipped.  DANE-EE(3): the leaf's certificate (selector 0) or SPKI (1),
 * exactly (mtype 0) or by SHA-256 (1) / SHA-512 (2); names and dates are
 * not looked at.  DANE-TA(2): a sent certificate other than the leaf
 * (selector 0 or 1), and the leaf must verify up to it through the sent
 * certificates in between: signatures, the leaf's and the intermediates'
 * dates, the CA flag of every issuer (the trust anchor's own dates are not
 * checked: it is an anchor, RFC 5280 6.1.1); the name check is the
 * caller's.  EE matches are preferred over TA matches; among equals the
 * first record wins.  Fills *out and returns out->outcome.  Reentrant: no
 * global state (a wolfSSL CertManager of its own per TA attempt).
 */
enum tls_dane_outcome tls_dane_match(const struct tls_crl_cert *chain, size_t n,
                                     const struct tls_tlsa *t, size_t nt,
                                     struct tls_dane_result *out);

#endif
