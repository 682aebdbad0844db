/*
 * tls_ocsp_peer.c - the OCSP facts of a finished handshake.
 *
 *  For a peer whose chain verified: a stapled response (client side, when
 *  tls_conn_want_staple asked for one: wolfSSL verified it against the
 *  context's trust store during the handshake and only a good one lets the
 *  handshake finish, which wolfSSL_get_ocsp_producedDate_tm then reports).
 *  Without a staple the facts say "not checked": the OCSP cache is not
 *  looked at here, because a cache check costs a signature verify, a
 *  request build and a hash, and most handshakes are with peers whose
 *  policy uses no OCSP.  relay/ knows which partner's policy wants OCSP and
 *  checks the cache then (tls_ocsp_check_chain on tls_conn_peer_chain, with
 *  a fetch on a miss), so no certificate of a peer that needs no OCSP costs
 *  a check or makes us fetch from its URL.  Nothing blocks, nothing is kept.
 *
 *  wolfSSL 5.5.4 hands a stapled response neither to the verify callback
 *  nor to wolfSSL_get_tlsext_status_ocsp_resp() (0 bytes on the client), so
 *  its bytes, times and status other than good cannot be reported here.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <string.h>
#include <time.h>

#include "tls_conn.h"
#include "tls_internal.h"
#include "tls_ocsp.h"

/* tls__ocsp_facts - f->ocsp, ocsp_source, ocsp_reason after a handshake */

void tls__ocsp_facts(WOLFSSL *ssl, struct tls_facts *f)
{
    struct tm produced;

    f->ocsp = TLS_OCSP_NOT_CHECKED;
    f->ocsp_source = TLS_OCSP_SRC_NONE;
    f->ocsp_reason[0] = '\0';
    if (f->chain != TLS_CHAIN_VALID || f->peer_der == NULL)
        return;
    memset(&produced, 0, sizeof(produced));
    if (wolfSSL_get_ocsp_producedDate_tm(ssl, &produced) == 0) {
        f->ocsp = TLS_OCSP_GOOD;
        f->ocsp_source = TLS_OCSP_SRC_STAPLED;
    }
}
