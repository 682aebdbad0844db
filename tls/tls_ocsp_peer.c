/*
 * tls_ocsp_peer.c - the OCSP facts of a finished handshake.
 *
 *  For a peer whose chain verified: a stapled response first (client
 *  side, when tls_conn_want_staple asked for one: wolfSSL verified it
 *  against the context's trust store during the handshake and only a good
 *  one lets the handshake finish, which wolfSSL_get_ocsp_producedDate_tm
 *  then reports), else the cache (tls_ocsp_check_chain).  A miss here
 *  asks for no fetch: relay/ knows which partner's policy wants OCSP and
 *  asks then (so no certificate of a peer that needs no OCSP makes us
 *  fetch from its URL).  Nothing blocks, nothing is kept.
 *
 *  wolfSSL 5.5.4 hands a stapled response neither to the verify callback
 *  nor to wolfSSL_get_tlsext_status_ocsp_resp() (0 bytes on the client), so
 *  its bytes, times and status other than good cannot be reported here.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tls_conn.h"
#include "tls_internal.h"
#include "tls_ocsp.h"

#define OCSP_CHAIN_MAX 10               /* certificates of a sent chain looked at */

/* tls__ocsp_facts - f->ocsp, ocsp_source, ocsp_reason after a handshake */

void tls__ocsp_facts(WOLFSSL *ssl, struct tls_facts *f)
{
    struct tls_crl_cert sent[OCSP_CHAIN_MAX];
    struct tls_ocsp_result r;
    struct tm produced;
    size_t  n;

    f->ocsp = TLS_OCSP_NOT_CHECKED;
    f->ocsp_source = TLS_OCSP_SRC_NONE;
    f->ocsp_reason[0] = '\0';
    if (f->chain != TLS_CHAIN_VALID || f->peer_der == NULL)
        return;
    memset(&produced, 0, sizeof(produced));
    if (wolfSSL_get_ocsp_producedDate_tm(ssl, &produced) == 0) {
        f->ocsp = TLS_OCSP_GOOD;
        f->ocsp_source = TLS_OCSP_SRC_STAPLED;
        return;
    }
    n = tls__facts_peer_chain(ssl, sent, OCSP_CHAIN_MAX);
    if (n == 0) {
        f->ocsp = TLS_OCSP_UNKNOWN;
        snprintf(f->ocsp_reason, sizeof(f->ocsp_reason), "the peer's chain is not available");
        return;
    }
    tls_ocsp_check_chain(sent, n, false, (int64_t)time(NULL), &r);
    f->ocsp = r.status;
    if (r.status == TLS_OCSP_GOOD || r.status == TLS_OCSP_REVOKED)
        f->ocsp_source = TLS_OCSP_SRC_FETCHED;
    snprintf(f->ocsp_reason, sizeof(f->ocsp_reason), "%s", r.reason);
}
