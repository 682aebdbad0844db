/*
 * relay_smtpc_sts.c - MTA-STS (RFC 8461) on one outbound SMTP connection,
 * and the verdict every outbound session gets: which TLS policy applied
 * (domain-secure, MTA-STS enforce or testing, opportunistic) and how it
 * ended, as a protocol-log row, a log line and a TLS-RPT result (RFC 8460).
 *
 * Precedence: a domain on tls_send_domain_secure_list is judged by
 * policy_send_secure() (relay_smtpc_tls.c) and never here, even when the
 * queue manager holds a policy for it; a destination with an enforce or
 * testing policy (d->sts) is judged by policy_send_sts() after each step
 * of the handshake; anything else is opportunistic.  Enforce: a failed
 * check refuses the host (the next host, then deferred with the verdict's
 * text), never plaintext; the MX certificate must chain to
 * mta_sts_trusted_ca_file (the connector's WebPKI context, relay_tls.c)
 * and name the MX host in its subjectAltName.  Testing: a failed check is
 * logged and reported, and the session goes on as opportunistic TLS.
 *
 * The protocol-log rows (Send log, data = the domain) an auditor reads:
 *   MTA-STS policy of 'D' (enforce, id ID): certificate verified for MX
 *   MTA-STS policy of 'D' (enforce, id ID): MX failed: RESULT (WHY); trying the next host
 *   MTA-STS policy of 'D' (testing, id ID): MX failed: RESULT (WHY); delivering without the policy
 *   MTA-STS policy of 'D' (testing, id ID): plaintext to MX (WHY)
 *   Opportunistic TLS for 'D' (no domain-secure or MTA-STS policy): TLS with MX (TLSv1.3)
 *   Opportunistic TLS for 'D' (no domain-secure or MTA-STS policy): plaintext to MX (WHY)
 * ", cached policy, refresh failing" follows the id of a stale policy.
 * `domsec log audit` counts them per domain (logs/log_audit.c).
 *
 * CONTRACT
 *  Called by relay_smtpc_tls.c (and relay__smtpc_sts_enforce by
 *  relay_smtpc.c's decisions) on the queue manager's loop while c's
 *  current conn is open.  relay__smtpc_sts_check() either returns false
 *  (go on) or has moved c to the next host (relay__smtpc_trouble) and
 *  returns true; nothing else here moves c.  Strings passed in are not
 *  kept.  The WebPKI context is the destination's (taken when it is made).
 *  A failed check (testing mode too) drops the TLS session kept for c's
 *  address and keeps none of this conn, so no later conn resumes it.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "policy_secure.h"
#include "policy_sts.h"
#include "relay_smtp.h"
#include "relay_smtpc_int.h"
#include "relay_tls.h"
#include "relay_tlsrpt.h"
#include "relay_trouble.h"
#include "tls_conn.h"

#define STS_OPPORTUNISTIC "no domain-secure or MTA-STS policy"

/* relay__smtpc_sts - the MTA-STS policy that applies to c's current
 * address, or NULL (listed, or the address's host has usable validated TLSA
 * records: DANE decides for it, RFC 8461 2; a host whose records are all
 * unusable authenticates nothing, so the policy still applies to it, as to
 * the other hosts of the same domain) */

const struct sts_policy *relay__smtpc_sts(const struct relay_smtpc *c)
{
    const struct sts_policy *p = c->dest->sts;
    const struct relay_dane *x = relay__smtpc_dane(c);

    if (c->dest->listed || (x != NULL && x->state == RELAY_DANE_USABLE) || p == NULL
        || (p->mode != STS_MODE_ENFORCE && p->mode != STS_MODE_TESTING))
        return NULL;
    return p;
}

/* relay__smtpc_sts_enforce - must nothing go in plaintext under MTA-STS? */

bool relay__smtpc_sts_enforce(const struct relay_smtpc *c)
{
    const struct sts_policy *p = relay__smtpc_sts(c);

    return p != NULL && p->mode == STS_MODE_ENFORCE;
}

/* relay__smtpc_tls_ctx - the client context for c's STARTTLS, or NULL (no TLS) */

struct tls_ctx *relay__smtpc_tls_ctx(const struct relay_smtpc *c)
{
    if (relay__smtpc_sts(c) == NULL || c->dest->tls_ctx == NULL)
        return c->dest->tls_ctx;
    /* No WebPKI context (its anchors did not load): the handshake uses the
     * connector's, and relay__smtpc_sts_chain fails the chain. */
    return c->dest->webpki != NULL ? c->dest->webpki : c->dest->tls_ctx;
}

/* relay__smtpc_sts_chain - the MX chain as MTA-STS sees it (WebPKI anchors or none) */

enum policy_chain relay__smtpc_sts_chain(const struct relay_smtpc *c, const struct tls_facts *tf)
{
    return c->dest->webpki != NULL ? relay_tls_chain(tf) : POLICY_CHAIN_INVALID;
}

/* sts_policy_words - "enforce, id ID" (+ ", cached policy, refresh failing") into buf */

static const char *sts_policy_words(const struct relay_smtpc *c, const struct sts_policy *p,
                                    char *buf, size_t sz)
{
    snprintf(buf, sz, "%s, id %s%s", policy_sts_mode_name(p->mode), p->id ? p->id : "",
             c->dest->sts_stale ? ", cached policy, refresh failing" : "");
    return buf;
}

/* relay__smtpc_tlsrpt - note c's session for TLS-RPT: failure NULL = success */

void relay__smtpc_tlsrpt(struct relay_smtpc *c, enum tlsrpt_policy type, const char *failure,
                         const char *detail)
{
    relay__smtpc_tlsrpt_tlsa(c, type, failure, detail, NULL, 0);
}

/* relay__smtpc_tlsrpt_tlsa - the same with the TLSA records as the policy-string */

void relay__smtpc_tlsrpt_tlsa(struct relay_smtpc *c, enum tlsrpt_policy type,
                              const char *failure, const char *detail,
                              const char *const *tlsa, size_t ntlsa)
{
    struct sockaddr_storage local, remote;
    char lip[INET6_ADDRSTRLEN] = "", rip[INET6_ADDRSTRLEN];
    struct tlsrpt_result r = {
        .domain = c->dest->domain, .type = type,
        .sts = type == TLSRPT_STS ? relay__smtpc_sts(c) : NULL, .failure = failure,
        .mx_host = c->dest->names[c->addr_i], .detail = detail, .tlsa = tlsa, .ntlsa = ntlsa,
    };

    r.receiving_ip = log_addr_ip(rip, sizeof(rip),
                                 (const struct sockaddr *)&c->dest->addrs[c->addr_i]);
    if (c->conn != NULL && tls_conn_endpoints(c->conn, &local, &remote) == 0)
        r.sending_ip = log_addr_ip(lip, sizeof(lip), (const struct sockaddr *)&local);
    relay_tlsrpt_note(c->dest->tlsrpt, &r);
}

/* relay__smtpc_sts_check - judge c under its MTA-STS policy at step; true: c moved on */

bool relay__smtpc_sts_check(struct relay_smtpc *c, struct policy_sts_outbound *f,
                            enum policy_out_step step)
{
    const struct sts_policy *p = relay__smtpc_sts(c);
    const char *mx = c->dest->names[c->addr_i];
    struct policy_sts_verdict v;
    struct relay_decision d;
    char words[128], text[700], detail[600];

    if (p == NULL)
        return false;
    f->enforce = p->mode == STS_MODE_ENFORCE;
    v = policy_send_sts(f, step);
    sts_policy_words(c, p, words, sizeof(words));
    if (!v.failed) {
        if (!v.verified)
            return false;
        c->tls_verified = f->enforce;
        c->policy_logged = true;
        log_info("smtp", c->sid, "tls policy domain=%s policy=mta-sts mode=%s id=%s mx=%s "
                 "verdict=verified", c->dest->domain, policy_sts_mode_name(p->mode), p->id, mx);
        log_proto_infof(&c->pl, c->dest->domain, "MTA-STS policy of '%s' (%s): certificate "
                        "verified for %s", c->dest->domain, words, mx);
        relay__smtpc_tlsrpt(c, TLSRPT_STS, NULL, NULL);
        return false;
    }
    snprintf(detail, sizeof(detail), "%s%s%s", v.why, v.info[0] ? ": " : "", v.info);
    log_warnx("smtp", c->sid, "tls policy domain=%s policy=mta-sts mode=%s id=%s mx=%s "
              "verdict=failed result=%s detail=\"%s\"%s", c->dest->domain,
              policy_sts_mode_name(p->mode), p->id, mx, v.result, detail,
              f->enforce ? "" : " (testing: delivering without the policy)");
    log_proto_infof(&c->pl, c->dest->domain, "MTA-STS policy of '%s' (%s): %s failed: %s (%s); "
                    "%s", c->dest->domain, words, mx, v.result, detail,
                    f->enforce ? "trying the next host" : "delivering without the policy");
    c->policy_logged = true;
    relay__smtpc_tlsrpt(c, TLSRPT_STS, v.result, detail);
    /* A session that failed the checks is never offered again, whoever
     * resumes it (another domain with the same MX, an enforce policy). */
    relay__smtpc_resume_forget(c);
    c->no_resume_keep = true;
    if (!f->enforce)
        return false;                   /* testing: report, go on as opportunistic */
    policy_sts_reply(text, sizeof(text), c->dest->domain, mx, &v);
    d = relay__smtpc_decide(c, RELAY_E_SECURE, 0, text);        /* never plaintext */
    relay__smtpc_trouble(c, &d);
    return true;
}

/* relay__smtpc_policy_row - the verdict row of a session no check has
 * logged yet: TLS (tls_version set) or plaintext (why) under an MTA-STS
 * testing policy or opportunistic TLS; a listed domain has its own rows */

void relay__smtpc_policy_row(struct relay_smtpc *c, const char *tls_version, const char *why)
{
    const struct sts_policy *p = relay__smtpc_sts(c);
    const char *mx = c->dest->names[c->addr_i];
    char words[128];

    if (c->policy_logged || c->dest->listed)
        return;
    c->policy_logged = true;
    if (p != NULL && tls_version == NULL)
        log_proto_infof(&c->pl, c->dest->domain, "MTA-STS policy of '%s' (%s): plaintext to %s "
                        "(%s)", c->dest->domain, sts_policy_words(c, p, words, sizeof(words)),
                        mx, why);
    else if (p == NULL && tls_version == NULL)
        log_proto_infof(&c->pl, c->dest->domain, "Opportunistic TLS for '%s' (%s): plaintext "
                        "to %s (%s)", c->dest->domain, STS_OPPORTUNISTIC, mx, why);
    else if (p == NULL)
        log_proto_infof(&c->pl, c->dest->domain, "Opportunistic TLS for '%s' (%s): TLS with "
                        "%s (%s)", c->dest->domain, STS_OPPORTUNISTIC, mx, tls_version);
}
