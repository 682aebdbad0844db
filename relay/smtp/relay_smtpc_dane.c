/*
 * relay_smtpc_dane.c - DANE (RFC 7672) on one outbound SMTP connection:
 * an MX host whose TLSA records the queue manager found DNSSEC-validated
 * (d->dane, one struct relay_dane per address) gets TLS, and with usable
 * records only a server whose chain matches them (tls_dane_match, then
 * policy_dane_match for DANE-TA's names); never plaintext; a failed check
 * refuses the host (the next host, then deferred with the verdict's
 * "451 4.7.5 DANE policy of D: H: ..." text).  A host whose TLSA lookup
 * failed (bogus, SERVFAIL) is not connected to at all.
 *
 * Precedence: a listed domain is policy_send_secure()'s (relay_smtpc_tls.c):
 * its partner's require = dane asks relay__smtpc_dane_fact() and decides
 * there; nothing here judges or logs it.  DANE wins over MTA-STS per
 * address (relay__smtpc_sts() has no policy for an address with validated
 * TLSA records, usable or not); an address without them (RELAY_DANE_NONE)
 * gets whatever applies next: the domain's MTA-STS policy, if any, else
 * opportunistic TLS.
 *
 * The protocol-log rows (Send log, data = the domain) an auditor reads:
 *   DANE policy of 'D' (N usable TLSA records for H): certificate verified for H (U S M)
 *   DANE policy of 'D' (N usable TLSA records for H): H failed: RESULT (DETAIL); trying the next host
 *   DANE policy of 'D': TLSA lookup for H failed (WHY); trying the next host
 *   DANE policy of 'D' (TLSA records for H all unusable): TLS with H (TLSv1.3), not authenticated
 * (a failure with all-unusable records says "(TLSA records for H all
 * unusable)" too), and the log line "tls policy domain=D policy=dane mx=H
 * verdict=verified|failed [result=R detail="..."]".  TLS-RPT: policy type
 * tlsa, a success for a verified session, the result type of a failure,
 * dnssec-invalid for a failed lookup, tlsa-invalid for all-unusable records.
 *
 * CONTRACT
 *  Called by relay_smtpc.c and relay_smtpc_tls.c on the queue manager's
 *  loop.  relay__smtpc_dane_check() and _cert() either return false (go
 *  on) or have moved c to the next host (relay__smtpc_trouble) and return
 *  true.  _skip() returns true with addr_i past the failed host's
 *  addresses (its caller, relay__smtpc_connect_next, loops: never
 *  recursion, one warning and one TLS-RPT failure per host) or with c
 *  finishing; nothing else here moves c.  Strings passed in are not
 *  kept; d->dane is the destination's (its owner frees it with the
 *  addresses, never while c uses them).  Sessions under DANE are never
 *  resumed (the chain must be matched on every connection).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_dane.h"
#include "relay_plog.h"
#include "relay_smtp.h"
#include "relay_smtpc_int.h"
#include "relay_trouble.h"
#include "tls_conn.h"
#include "tls_dane.h"
#include "tls_store.h"

#define DANE_CHAIN_MAX 16               /* certificates of a server's chain looked at */

/* smtpc_dane_at - the DANE state of c's current address, or NULL */

static const struct relay_dane *smtpc_dane_at(const struct relay_smtpc *c)
{
    const struct relay_dest *d = c->dest;

    return d->dane != NULL && c->addr_i < d->naddrs ? &d->dane[c->addr_i] : NULL;
}

/* relay__smtpc_dane - the DANE state that governs c's current address
 * (not listed; validated TLSA records, usable or not), or NULL */

const struct relay_dane *relay__smtpc_dane(const struct relay_smtpc *c)
{
    const struct relay_dane *x = smtpc_dane_at(c);

    if (c->dest->listed || x == NULL
        || (x->state != RELAY_DANE_USABLE && x->state != RELAY_DANE_UNUSABLE))
        return NULL;
    return x;
}

/* relay__smtpc_dane_no_resume - must c's STARTTLS start a fresh session
 * (validated TLSA records for the address, listed or not)? */

bool relay__smtpc_dane_no_resume(const struct relay_smtpc *c)
{
    const struct relay_dane *x = smtpc_dane_at(c);

    return x != NULL && (x->state == RELAY_DANE_USABLE || x->state == RELAY_DANE_UNUSABLE);
}

/* dane_words - "N usable TLSA records for H" or "TLSA records for H all unusable" */

static const char *dane_words(const struct relay_dane *x, const char *mx, char *buf, size_t sz)
{
    if (x->state == RELAY_DANE_USABLE)
        snprintf(buf, sz, "%zu usable TLSA records for %s", x->ntlsa, mx);
    else
        snprintf(buf, sz, "TLSA records for %s all unusable", mx);
    return buf;
}

/* smtpc_dane_tlsrpt - note c's session for TLS-RPT (policy type tlsa, the
 * address's usable records as the policy-string): failure NULL = success */

static void smtpc_dane_tlsrpt(struct relay_smtpc *c, const struct relay_dane *x,
                              const char *failure, const char *detail)
{
    size_t  n = x != NULL && x->state == RELAY_DANE_USABLE ? x->ntlsa : 0;
    char  **lines = n > 0 ? xcalloc(n, sizeof(*lines)) : NULL;

    for (size_t i = 0; i < n; i++) {
        const struct tls_tlsa *t = &x->tlsa[i];
        char   *p = lines[i] = xmalloc(16 + 2 * t->len);

        p += sprintf(p, "%u %u %u ", (unsigned)t->usage, (unsigned)t->selector,
                     (unsigned)t->mtype);
        for (size_t j = 0; j < t->len; j++)
            p += sprintf(p, "%02X", (unsigned)t->data[j]);
    }
    relay__smtpc_tlsrpt_tlsa(c, TLSRPT_TLSA, failure, detail, (const char *const *)lines, n);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* smtpc_dane_names - the leaf's names RFC 7672 3.2.3 checks: its
 * subjectAltName dNSNames, or its CN when it has none */

static const char *const *smtpc_dane_names(const struct tls_cert_info *ci, size_t *n)
{
    if (ci->cn_not_san && ci->nnames > 1) {
        *n = ci->nnames - 1;
        return (const char *const *)ci->names + 1;
    }
    *n = ci->nnames;
    return (const char *const *)ci->names;
}

/* relay__smtpc_dane_fact - the dane_match fact of c's current conn (TLS up) */

void relay__smtpc_dane_fact(const struct relay_smtpc *c, struct relay_dane_fact *out)
{
    const struct relay_dane *x = smtpc_dane_at(c);
    struct tls_crl_cert chain[DANE_CHAIN_MAX];
    struct tls_dane_result r;
    struct tls_cert_info ci;
    enum policy_dane_found found = POLICY_DANE_FOUND_NONE;
    size_t  n = 0, nnames = 0;
    const char *const *names = NULL;
    bool    have = false;

    memset(out, 0, sizeof(*out));
    out->match = POLICY_DANE_UNUSABLE;
    if (x == NULL || x->state != RELAY_DANE_USABLE || c->conn == NULL) {
        snprintf(out->why, sizeof(out->why), "%s", x == NULL || x->state == RELAY_DANE_NONE
                 ? "no validated TLSA records" : x->state == RELAY_DANE_UNUSABLE
                 ? "no usable TLSA record" : "the TLSA lookup failed");
        return;
    }
    n = tls_conn_peer_chain(c->conn, chain, DANE_CHAIN_MAX);
    switch (tls_dane_match(chain, n, x->tlsa, x->ntlsa, &r)) {
    case TLS_DANE_MATCH_EE:
        found = POLICY_DANE_FOUND_EE;
        break;
    case TLS_DANE_MATCH_TA:
        found = POLICY_DANE_FOUND_TA;
        have = tls_cert_info_from_der(chain[0].der, chain[0].len, &ci) == 0;
        if (have)
            names = smtpc_dane_names(&ci, &nnames);
        break;
    default:
        break;
    }
    out->match = policy_dane_match(x->ntlsa > 0, found, c->dest->names[c->addr_i],
                                   c->dest->domain, names, nnames);
    out->ta_name_mismatch = found == POLICY_DANE_FOUND_TA && out->match == POLICY_DANE_MISMATCH;
    if (found != POLICY_DANE_FOUND_NONE)
        tls_tlsa_words(&r.rec, out->words, sizeof(out->words));
    snprintf(out->why, sizeof(out->why), "%s", r.why);
    if (have)
        tls_cert_info_free(&ci);
}

/* smtpc_dane_fail - a DANE check refused this host: note the text, next host */

static void smtpc_dane_fail(struct relay_smtpc *c, const struct policy_dane_verdict *v)
{
    struct relay_decision d;
    char    text[800];

    policy_dane_reply(text, sizeof(text), c->dest->domain, c->dest->names[c->addr_i], v);
    relay__smtpc_resume_forget(c);
    c->no_resume_keep = true;
    d = relay__smtpc_decide(c, RELAY_E_SECURE, 0, text);    /* never plaintext */
    relay__smtpc_trouble(c, &d);
}

/* smtpc_dane_judge - judge c under DANE at step (match: "U S M" of the
 * matching record at step CERT, or NULL); true: c moved on */

static bool smtpc_dane_judge(struct relay_smtpc *c, struct policy_dane_outbound *f,
                             enum policy_out_step step, const char *match)
{
    const struct relay_dane *x = relay__smtpc_dane(c);
    const char *mx, *version;
    struct policy_dane_verdict v;
    char    words[320], detail[600];

    if (x == NULL)
        return false;
    mx = c->dest->names[c->addr_i];
    f->usable = x->state == RELAY_DANE_USABLE;
    c->no_resume_keep = true;           /* every connection matches its own chain */
    v = policy_send_dane(f, step);
    dane_words(x, mx, words, sizeof(words));
    if (!v.failed) {
        if (step < POLICY_OUT_CERT)
            return false;
        c->policy_logged = true;
        if (v.verified) {
            c->tls_verified = true;     /* RFC 8689 4.2.1: REQUIRETLS may go */
            log_info("smtp", c->sid, "tls policy domain=%s policy=dane mx=%s verdict=verified",
                     c->dest->domain, mx);
            log_proto_infof(&c->pl, c->dest->domain, "DANE policy of '%s' (%s): certificate "
                            "verified for %s (%s)", c->dest->domain, words, mx,
                            match != NULL ? match : "");
            smtpc_dane_tlsrpt(c, x, NULL, NULL);
            return false;
        }
        version = c->conn != NULL && tls_conn_facts(c->conn) != NULL
            ? tls_conn_facts(c->conn)->version : "?";
        log_info("smtp", c->sid, "tls policy domain=%s policy=dane mx=%s verdict=unauthenticated "
                 "detail=\"all TLSA records unusable\"", c->dest->domain, mx);
        log_proto_infof(&c->pl, c->dest->domain, "DANE policy of '%s' (%s): TLS with %s (%s), "
                        "not authenticated", c->dest->domain, words, mx, version);
        smtpc_dane_tlsrpt(c, x, "tlsa-invalid", "all TLSA records unusable");
        return false;
    }
    if (relay__smtpc_tls_ctx(c) == NULL) {     /* our side cannot do TLS at all */
        v.why = "this send connector has no TLS client context (outbound STARTTLS is not "
            "used), and DANE needs TLS";
        v.info = "";
    }
    snprintf(detail, sizeof(detail), "%s%s%s", v.why, v.info[0] ? ": " : "", v.info);
    log_warnx("smtp", c->sid, "tls policy domain=%s policy=dane mx=%s verdict=failed result=%s "
              "detail=\"%s\"", c->dest->domain, mx, v.result, detail);
    log_proto_infof(&c->pl, c->dest->domain, "DANE policy of '%s' (%s): %s failed: %s (%s); "
                    "trying the next host", c->dest->domain, words, mx, v.result, detail);
    c->policy_logged = true;
    smtpc_dane_tlsrpt(c, x, v.result, detail);
    smtpc_dane_fail(c, &v);
    return true;
}

/* relay__smtpc_dane_check - judge c under DANE at a step before the
 * certificate; true: c moved on */

bool relay__smtpc_dane_check(struct relay_smtpc *c, struct policy_dane_outbound *f,
                             enum policy_out_step step)
{
    return smtpc_dane_judge(c, f, step, NULL);
}

/* relay__smtpc_dane_cert - TLS is up: match the chain under DANE; true: c moved on */

bool relay__smtpc_dane_cert(struct relay_smtpc *c)
{
    struct relay_dane_fact fact;
    struct policy_dane_outbound f = {
        .starttls_offered = true, .starttls_code = 220, .handshake_ok = true,
    };

    if (relay__smtpc_dane(c) == NULL)
        return false;
    relay__smtpc_dane_fact(c, &fact);
    f.match = fact.match;
    f.ta_name_mismatch = fact.ta_name_mismatch;
    f.match_why = fact.why;
    return smtpc_dane_judge(c, &f, POLICY_OUT_CERT, fact.words);
}

/* relay__smtpc_dane_skip - the current address's TLSA lookup failed: log
 * and note once for its host and step past the host's addresses (true,
 * the caller loops; or c was handed to relay__smtpc_trouble and is
 * finishing), or false: connect to it */

bool relay__smtpc_dane_skip(struct relay_smtpc *c)
{
    const struct relay_dane *x = smtpc_dane_at(c);
    const char *mx = c->dest->names[c->addr_i];
    const char *why;
    struct policy_dane_verdict v = {
        .failed = true, .result = "dnssec-invalid", .why = "the TLSA lookup failed",
        .reply = "451 4.7.5",
    };
    struct relay_decision d;
    char    text[800];

    if (c->dest->listed || x == NULL || x->state != RELAY_DANE_FAILED)
        return false;
    why = x->why != NULL ? x->why : "no answer";
    v.info = why;
    if (c->nconn++ > 0)                 /* a session id of its own, as a connection's */
        c->sid = log_session_id_next();
    log_warnx("smtp", c->sid, "tls policy domain=%s policy=dane mx=%s verdict=failed "
              "result=dnssec-invalid detail=\"TLSA lookup failed: %s\"", c->dest->domain, mx, why);
    if (c->dest->sc->protocol_logging_level != CFG_LOG_NONE && relay_plog_send() != NULL) {
        /* No connection: a protocol-log session of its own holds the row. */
        log_proto_session_init(&c->pl, relay_plog_send(), c->dest->sc->name, c->sid);
        log_proto_infof(&c->pl, c->dest->domain, "DANE policy of '%s': TLSA lookup for %s "
                        "failed (%s); trying the next host", c->dest->domain, mx, why);
        log_proto_session_init(&c->pl, NULL, NULL, c->sid);
    }
    smtpc_dane_tlsrpt(c, x, "dnssec-invalid", why);
    policy_dane_reply(text, sizeof(text), c->dest->domain, mx, &v);
    d = relay__smtpc_decide(c, RELAY_E_SECURE, 0, text);
    if (d.host != RELAY_H_NEXT_HOST) {
        relay__smtpc_trouble(c, &d);    /* ends c */
        return true;
    }
    relay__smtpc_note(c, d.text, d.conn_failure);
    relay_decision_free(&d);
    /* The host's other addresses share its failed lookup: one row, one warning. */
    do
        c->addr_i++;
    while (c->addr_i < c->dest->naddrs && smtpc_dane_at(c)->state == RELAY_DANE_FAILED
           && strcmp(c->dest->names[c->addr_i], mx) == 0);
    c->no_tls = false;
    return true;
}
