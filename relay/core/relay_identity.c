/*
 * relay_identity.c - the identity facts of a listed partner's peer, from
 * what tls/ recorded, for policy_identity_check() (SPEC 9 [partner D]).
 *
 * CONTRACT
 *  relay_tls_identity() runs on the session's thread after the handshake
 *  (inbound at MAIL FROM, outbound after the certificate step).  It never
 *  blocks on I/O: a partner's own trusted_ca_file was loaded with the
 *  configuration (relay_tls_build); judging the sent chain against it is
 *  memory and CPU only (tls_anchors_verify), done only for a partner with
 *  its own CA.  For a partner whose revocation uses OCSP and a valid chain
 *  without a good staple, the OCSP cache is checked here (tls/ does not
 *  check it at the handshake, so peers whose policy uses no OCSP cost no
 *  check), and a chain without a usable cached answer is reported to the
 *  OCSP miss hook (the CRL thread fetches it for the next session; nothing
 *  waits here).  Inputs are borrowed for the call.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay_tls.h"
#include "tls_anchors.h"
#include "tls_conn.h"
#include "tls_ocsp.h"
#include "tls_store.h"

/* ident_rev - tls/'s CRL verdict in policy's terms */

static enum policy_rev ident_rev(enum tls_revocation r)
{
    switch (r) {
    case TLS_REV_GOOD:
        return POLICY_REV_GOOD;
    case TLS_REV_REVOKED:
        return POLICY_REV_REVOKED;
    case TLS_REV_UNKNOWN:
        return POLICY_REV_UNKNOWN;
    default:
        return POLICY_REV_NOT_CHECKED;
    }
}

/* ident_ocsp - tls/'s OCSP verdict in policy's terms */

static enum policy_rev ident_ocsp(enum tls_ocsp_status o)
{
    switch (o) {
    case TLS_OCSP_GOOD:
        return POLICY_REV_GOOD;
    case TLS_OCSP_REVOKED:
        return POLICY_REV_REVOKED;
    case TLS_OCSP_UNKNOWN:
        return POLICY_REV_UNKNOWN;
    default:
        return POLICY_REV_NOT_CHECKED;
    }
}

/* ident_wants_ocsp - does p's revocation policy use OCSP? */

static bool ident_wants_ocsp(const struct cfg_partner *p)
{
    return p != NULL && (p->revocation == CFG_REV_OCSP || p->revocation == CFG_REV_CRL_OCSP);
}

/* ident_ocsp_cache - the OCSP verdict of a chain already proved valid, from
 * the cache, asking for a fetch when it has no answer.  tls/ reports only a
 * stapled answer: only a partner whose policy uses OCSP makes us check the
 * cache and fetch from the certificate's URL (and only after its chain
 * verified, so no untrusted certificate does). */

static void ident_ocsp_cache(const struct tls_crl_cert *chain, size_t n,
                             struct policy_identity *out)
{
    struct tls_ocsp_result r;

    tls_ocsp_check_chain(chain, n, true, (int64_t)time(NULL), &r);
    out->ocsp = ident_ocsp(r.status);
    out->ocsp_source = r.status == TLS_OCSP_GOOD || r.status == TLS_OCSP_REVOKED
        ? POLICY_OCSP_SRC_FETCHED : POLICY_OCSP_SRC_NONE;
}

/* ident_version - "TLSv1.3" -> 13, "TLSv1.2" -> 12; 0 if unknown */

static int ident_version(const char *v)
{
    int     major, minor;

    if (v == NULL || sscanf(v, "TLSv%d.%d", &major, &minor) != 2 || major != 1)
        return 0;
    return 10 + minor;
}

/* ident_pin - is the leaf's pin one of p's pins? */

static bool ident_pin(const struct cfg_partner *p, const unsigned char *pin)
{
    for (size_t i = 0; p != NULL && i < p->npins; i++)
        if (memcmp(p->pins[i].sha256, pin, sizeof(p->pins[i].sha256)) == 0)
            return true;
    return false;
}

/* relay_tls_identity - the identity facts of a listed partner's peer */

void relay_tls_identity(const struct config *cfg, const struct cfg_partner *p,
                        const struct tls_facts *tf, const struct tls_cert_info *ci,
                        const struct tls_crl_cert *chain, size_t n, bool inbound,
                        bool name_match, struct policy_identity *out, char *detail, size_t dsz)
{
    bool    cert = tf != NULL && tf->peer_cert && tf->peer_der != NULL;
    bool    ocsp_asked = false;

    memset(out, 0, sizeof(*out));
    if (dsz > 0)
        detail[0] = '\0';
    out->inbound = inbound;
    out->partner = p;
    out->revocation_failure = cfg->transport.revocation_failure;
    out->dane = POLICY_DANE_UNUSABLE;
    out->chain = POLICY_CHAIN_INVALID;
    if (tf == NULL)
        return;
    out->tls_version = ident_version(tf->version);
    if (!cert)
        return;
    out->cert = true;
    out->name_match = name_match;
    out->eku = tf->eku_server_only ? POLICY_EKU_SERVER_ONLY
        : ci != NULL && ci->eku_present && ci->eku_client && !ci->eku_server ? POLICY_EKU_CLIENT
        : POLICY_EKU_ANY;
    out->pin_match = ident_pin(p, tf->spki_sha256);
    out->chain = relay_tls_chain_plain(tf->chain);
    out->crl = ident_rev(tf->revocation);
    out->ocsp = ident_ocsp(tf->ocsp);
    out->ocsp_source = tf->ocsp_source == TLS_OCSP_SRC_STAPLED ? POLICY_OCSP_SRC_STAPLED
        : tf->ocsp_source == TLS_OCSP_SRC_FETCHED ? POLICY_OCSP_SRC_FETCHED
        : POLICY_OCSP_SRC_NONE;
    if (p != NULL && p->trusted_ca_file != NULL) {
        struct tls_anchors *a = relay_tls_partner_anchors(cfg, p);
        struct tls_crl_cert leaf = { tf->peer_der, tf->peer_der_len };
        struct tls_anchors_verdict v;

        /* A resumed session may not have the chain again: the leaf alone. */
        if (a != NULL && tls_anchors_verify(a, n > 0 ? chain : &leaf, n > 0 ? n : 1, &v) == 0) {
            out->partner_judged = true;
            out->partner_chain = relay_tls_chain_plain(v.chain);
            out->partner_crl = ident_rev(v.revocation);
            if (dsz > 0)
                snprintf(detail, dsz, "%s", v.reason);
            if (v.chain == TLS_CHAIN_VALID && tf->ocsp == TLS_OCSP_NOT_CHECKED && n > 0
                && ident_wants_ocsp(p)) {
                ident_ocsp_cache(chain, n, out);
                ocsp_asked = true;
            }
        } else if (a == NULL) {
            /* Two reloads since the session began drop its generation's
             * anchors: refused (unless the global CA may prove it), saying why. */
            out->partner_judged = true;
            out->partner_chain = POLICY_CHAIN_UNTRUSTED;
            if (dsz > 0)
                snprintf(detail, dsz, "%s", RELAY_IDENTITY_NO_ANCHORS);
        }
        tls_anchors_unref(a);
    }
    /* Globally valid, no staple at the handshake: the cache, or a fetch. */
    if (ident_wants_ocsp(p) && !ocsp_asked && tf->chain == TLS_CHAIN_VALID
        && tf->ocsp == TLS_OCSP_NOT_CHECKED && n > 0)
        ident_ocsp_cache(chain, n, out);
}
