/*
 * tls_ocsp.h - OCSP (RFC 6960) for partner chains, beside CRLs.
 *
 * The verdict of a chain's OCSP check and where its response came from
 * (struct tls_facts).  Like CRLs, a handshake never waits: a response is
 * taken from the TLS handshake (stapled) or from a process-wide cache filled
 * from the certificate's AIA OCSP URL by the CRL thread; a miss now is
 * answered next time.
 */
#ifndef DOMSEC_TLS_OCSP_H
#define DOMSEC_TLS_OCSP_H

enum tls_ocsp_status {
    TLS_OCSP_NOT_CHECKED,               /* no certificate, or its chain is not valid anyway */
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

#endif
