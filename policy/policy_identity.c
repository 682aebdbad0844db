/*
 * policy_identity.c - what proves a listed partner's identity (SPEC 9
 * [partner D]; issue 17): the partner's `require`, pins, own CA,
 * serverAuth-only acceptance, minimum TLS version and revocation sources,
 * or the global rule for a listed domain without a section.
 *
 * CONTRACT
 *  Facts in, verdict out, like policy_secure.c: no I/O, no allocation, no
 *  globals; every string returned is static.  policy_identity_check()
 *  runs before the MAIL FROM table (policy_mail_secure) and the outbound
 *  CERT step (policy_send_secure): its rule, if any, refuses there (454
 *  4.7.5); else its chain and name_match are what those tables judge, so
 *  the order of the rows and their replies stay Exchange's.
 *
 *  Order of the checks: TLS version (min_tls_version), the serverAuth-only
 *  EKU of a client certificate (accepted, as Exchange does and SPEC 6.2's
 *  "EKU absent or serverAuth or clientAuth" says, unless the partner's
 *  section says accept_server_auth_only = no; accepted only with the name
 *  and chain checks, the chain judged by the partner's allowed anchors
 *  even under require = pin), DANE (outbound,
 *  require = dane; inbound it is ca), the pin (pin, ca+pin), then the
 *  tables' name and chain (ca, ca+pin).  A CA proof is the partner CA's
 *  chain when it has trusted_ca_file (and the global chain too when
 *  trust_global_ca), else the global chain unless trust_global_ca = no
 *  (then nothing proves it by CA: Untrusted).  Revocation is judged for CA
 *  proofs only (a pin or a DANE-EE record names the key itself):
 *  crl, ocsp, crl+ocsp (both good; a revoked from either always fails),
 *  none; unknown then follows revocation_failure in the tables.
 *  Out-of-range enum values fail closed.
 */
#include <stdio.h>
#include <string.h>

#include "policy_secure.h"

/* rev_word - the log word of a revocation verdict */

static const char *rev_word(enum policy_rev r)
{
    switch (r) {
    case POLICY_REV_GOOD:
        return "good";
    case POLICY_REV_REVOKED:
        return "revoked";
    case POLICY_REV_UNKNOWN:
        return "unknown";
    default:
        return "not-checked";
    }
}

/* rev_fold - the chain for the tables: VALID with revocation r folded in */

static enum policy_chain rev_fold(enum policy_chain c, enum policy_rev r)
{
    if (c != POLICY_CHAIN_VALID)
        return c;
    if (r == POLICY_REV_REVOKED)
        return POLICY_CHAIN_REVOKED;
    if (r == POLICY_REV_UNKNOWN)
        return POLICY_CHAIN_REVOCATION_UNKNOWN;
    return c;
}

/* rev_both - crl+ocsp: a revoked from either fails; both good is good */

static enum policy_rev rev_both(enum policy_rev a, enum policy_rev b)
{
    if (a == POLICY_REV_REVOKED || b == POLICY_REV_REVOKED)
        return POLICY_REV_REVOKED;
    if (a == POLICY_REV_GOOD && b == POLICY_REV_GOOD)
        return POLICY_REV_GOOD;
    return POLICY_REV_UNKNOWN;
}

/*
 * ca_proof - the chain that proves by CA and its CRL verdict: the
 * partner's own CA, or the global one (no partner CA, or trust_global_ca
 * and the partner CA does not verify it).
 */
static enum policy_chain ca_proof(const struct policy_identity *f, enum policy_rev *crl)
{
    const struct cfg_partner *p = f->partner;

    if (p != NULL && p->trusted_ca_file == NULL && !p->trust_global_ca) {
        *crl = POLICY_REV_NOT_CHECKED;  /* require = pin + serverAuth-only: no anchor */
        return POLICY_CHAIN_UNTRUSTED;
    }
    if (p == NULL || p->trusted_ca_file == NULL) {
        *crl = f->crl;
        return f->chain;
    }
    if (f->partner_judged && f->partner_chain == POLICY_CHAIN_VALID) {
        *crl = f->partner_crl;
        return POLICY_CHAIN_VALID;
    }
    if (p->trust_global_ca && f->chain == POLICY_CHAIN_VALID) {
        *crl = f->crl;
        return POLICY_CHAIN_VALID;
    }
    *crl = POLICY_REV_NOT_CHECKED;
    return f->partner_judged ? f->partner_chain : POLICY_CHAIN_UNTRUSTED;
}

/* revocation - the revocation verdict of a valid CA proof, per `revocation` */

static enum policy_rev revocation(const struct policy_identity *f, enum policy_rev crl,
                                  const char **via)
{
    enum cfg_revocation how = f->partner ? f->partner->revocation : CFG_REV_CRL;
    const char *src = f->ocsp_source == POLICY_OCSP_SRC_STAPLED ? "ocsp-stapled"
        : f->ocsp_source == POLICY_OCSP_SRC_FETCHED ? "ocsp-fetched" : "-";

    switch (how) {
    case CFG_REV_NONE:
        *via = "-";
        return POLICY_REV_NOT_CHECKED;
    case CFG_REV_OCSP:
        *via = src;
        /* No response (not checked) is unknown: OCSP was asked for. */
        return f->ocsp == POLICY_REV_NOT_CHECKED ? POLICY_REV_UNKNOWN : f->ocsp;
    case CFG_REV_CRL_OCSP:
        *via = "crl+ocsp";
        return rev_both(crl, f->ocsp);
    case CFG_REV_CRL:
        *via = crl == POLICY_REV_NOT_CHECKED ? "-" : "crl";
        return crl;
    }
    *via = "crl+ocsp";                  /* out of range: the strictest */
    return rev_both(crl, f->ocsp);
}

/* eku_word - the log word of the leaf's EKU */

static const char *eku_word(enum policy_eku e)
{
    switch (e) {
    case POLICY_EKU_ANY:
        return "any";
    case POLICY_EKU_SERVER_ONLY:
        return "serverAuth-only";
    case POLICY_EKU_CLIENT:
        return "clientAuth";
    default:
        return "none";
    }
}

/* require_of - the partner's require (global: ca); dane is ca inbound */

static enum cfg_require require_of(const struct policy_identity *f, const char **word)
{
    enum cfg_require r = f->partner ? f->partner->require : CFG_REQUIRE_CA;

    switch (r) {
    case CFG_REQUIRE_CA:
        *word = "ca";
        return r;
    case CFG_REQUIRE_PIN:
        *word = "pin";
        return r;
    case CFG_REQUIRE_CA_PIN:
        *word = "ca+pin";
        return r;
    case CFG_REQUIRE_DANE:
        *word = "dane";
        return f->inbound ? CFG_REQUIRE_CA : r;
    }
    *word = "ca+pin";                   /* out of range: the strictest */
    return CFG_REQUIRE_CA_PIN;
}

/* policy_identity_check - the identity checks of a listed partner */

struct policy_identity_verdict policy_identity_check(const struct policy_identity *f)
{
    const struct cfg_partner *p = f->partner;
    struct policy_identity_verdict v = {
        .chain = POLICY_CHAIN_VALID, .name_match = true, .policy = p ? "partner" : "global",
        .eku = eku_word(f->cert ? f->eku : POLICY_EKU_NONE), .revocation = "not-checked",
        .via = "-",
        .revocation_failure = p ? p->revocation_failure : f->revocation_failure,
    };
    enum cfg_require req = require_of(f, &v.require);
    bool    need_ca = req == CFG_REQUIRE_CA || req == CFG_REQUIRE_CA_PIN;
    bool    need_pin = req == CFG_REQUIRE_PIN || req == CFG_REQUIRE_CA_PIN;
    enum policy_rev crl, rev;

    v.proof = req == CFG_REQUIRE_DANE ? (f->dane == POLICY_DANE_TA ? "dane-ta" : "dane-ee")
        : req == CFG_REQUIRE_PIN ? "pin" : req == CFG_REQUIRE_CA_PIN ? "ca+pin" : "ca";
    if (p != NULL && p->min_tls_version > 0 && f->tls_version < p->min_tls_version) {
        v.rule = "TlsVersionTooLow";
        return v;
    }
    if (!f->cert) {                     /* the tables refuse (no client certificate) */
        v.chain = POLICY_CHAIN_INVALID;
        v.name_match = f->name_match;
        return v;
    }
    if (f->inbound && f->eku == POLICY_EKU_SERVER_ONLY) {
        if (p != NULL && !p->accept_server_auth_only) {
            v.rule = "BadEku (serverAuth only)";
            return v;
        }
        need_ca = true;                 /* accepted only with the name and chain checks */
        if (req == CFG_REQUIRE_PIN)
            v.proof = "ca+pin";
    }
    if (req == CFG_REQUIRE_DANE) {
        if (f->dane == POLICY_DANE_UNUSABLE) {
            v.rule = "DaneRequired";
            return v;
        }
        if (f->dane != POLICY_DANE_EE && f->dane != POLICY_DANE_TA) {
            v.rule = "DaneMismatch";
            return v;
        }
        /* DANE-EE ignores names (RFC 7672 3.1.1); a DANE-TA match already
         * named the MX host or the domain (policy_dane_match, RFC 7672
         * 3.2.2): the domain-security name rule does not apply again. */
        return v;
    }
    if (need_pin && !f->pin_match) {
        v.rule = "PinMismatch";
        return v;
    }
    if (!need_ca)
        return v;
    v.name_match = f->name_match;
    v.chain = ca_proof(f, &crl);
    if (v.chain != POLICY_CHAIN_VALID)
        return v;
    rev = revocation(f, crl, &v.via);
    v.revocation = rev_word(rev);
    v.chain = rev_fold(POLICY_CHAIN_VALID, rev);
    return v;
}

/* policy_identity_logline - the protocol log's "Partner identity" line */

int policy_identity_logline(char *buf, size_t sz, const char *domain,
                            const struct policy_identity_verdict *v, bool inbound,
                            const char *rule, bool revocation_accepted)
{
    bool    secured = rule != NULL && strcmp(rule, "Secured") == 0;
    const char *rev = revocation_accepted && secured ? "unknown-accepted" : v->revocation;

    return snprintf(buf, sz, "Partner identity of '%s' (%s): policy=%s require=%s; proved=%s; "
                    "eku=%s; revocation=%s via %s; verdict=%s", domain ? domain : "",
                    inbound ? "inbound" : "outbound", v->policy, v->require,
                    secured ? v->proof : "none", v->eku, rev, v->via, rule ? rule : "");
}
