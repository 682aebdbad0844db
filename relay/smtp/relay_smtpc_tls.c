/*
 * relay_smtpc_tls.c - STARTTLS and domain security of one outbound SMTP
 * connection (the state machine, commands and replies are relay_smtpc.c).
 *
 * After EHLO/HELO the facts known so far (listed domain, connector
 * settings, STARTTLS offered) go to policy_send_secure(); its verdict and
 * [send] require_tls decide between STARTTLS, plaintext and the next host.
 * The reply to STARTTLS, a failed handshake and TLS_READY (the partner's
 * certificate: names, chain, revocation) are judged the same way.  A
 * secure domain that fails a check is never sent to in plaintext: the job
 * goes to the next host, and is deferred after the last one.  Opportunistic
 * TLS that fails to handshake retries the same host in plaintext.  What a
 * refusal means (next host, plaintext, the text noted) is relay_decide()'s,
 * asked through relay__smtpc_decide.  These steps write the log lines and
 * protocol-log rows of TLS, certificates and verdicts.  After the listed
 * domain's check, each step asks relay__smtpc_sts_check (relay_smtpc_sts.c)
 * for a destination under an MTA-STS policy: an enforce failure has moved
 * c to the next host; STARTTLS then uses the connector's WebPKI context.
 * Then relay__smtpc_dane_check (relay_smtpc_dane.c) for an MX host with
 * validated TLSA records: a failure has moved c to the next host.
 *
 * CONTRACT
 *  Called only by relay_smtpc.c and relay_smtpc_reply.c, on the queue
 *  manager's loop, while c's current conn is open and c is not finishing.
 *  Each step ends in a move of c through the relay__smtpc_* calls of
 *  relay_smtpc_int.h (a command sent and a new state, the next host, or a
 *  new conn); nothing is returned and nothing is reported to the queue
 *  manager from here directly.  err and text are not copied; the certificate details are
 *  freed before returning.  Cancel belongs to relay_smtpc.c: a finishing
 *  c gets no more events.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "tls_ctx.h"
#include "policy_secure.h"
#include "relay_smtp.h"
#include "relay_trouble.h"
#include "relay_plog.h"
#include "relay_smtpc_int.h"
#include "relay_stats.h"
#include "relay_tls.h"
#include "tls_conn.h"
#include "tls_store.h"

#define SMTPC_RESUME_MAX 256           /* sessions kept (oldest replaced) */
#define SMTPC_RESUME_MS (3600 * 1000ULL)        /* and at most this long */
#define SMTPC_CHAIN_MAX 16             /* sent certificates looked at for a partner CA */

struct smtpc_resume {
    char    key[192];                   /* "ctx-id address sni"; "" = free slot */
    struct tls_session *session;        /* owned */
    uint64_t at;                        /* loop time it was kept */
};

static struct smtpc_resume smtpc_resume[SMTPC_RESUME_MAX];     /* qmgr thread only */

/* smtpc_resume_key - the cache key of c's current address (and context) */

static void smtpc_resume_key(struct relay_smtpc *c, char *key, size_t sz)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->dest->addrs[c->addr_i];
    char ip[INET6_ADDRSTRLEN];

    snprintf(key, sz, "%llu [%s]:%u %s", (unsigned long long)tls_ctx_id(relay__smtpc_tls_ctx(c)),
             log_addr_ip(ip, sizeof(ip), sa), log_addr_port(sa), c->dest->names[c->addr_i]);
}

/* smtpc_resume_find - the slot of key, or NULL */

static struct smtpc_resume *smtpc_resume_find(const char *key, uint64_t now)
{
    for (size_t i = 0; i < SMTPC_RESUME_MAX; i++) {
        struct smtpc_resume *r = &smtpc_resume[i];

        if (r->key[0] == '\0' || strcmp(r->key, key) != 0)
            continue;
        if (now - r->at < SMTPC_RESUME_MS)
            return r;
        tls_session_free(r->session);   /* too old */
        memset(r, 0, sizeof(*r));
    }
    return NULL;
}

/* relay__smtpc_resume_forget - drop c's address's session (a check failed) */

void relay__smtpc_resume_forget(struct relay_smtpc *c)
{
    struct smtpc_resume *r;
    char key[192];

    if (relay__smtpc_tls_ctx(c) == NULL)
        return;
    smtpc_resume_key(c, key, sizeof(key));
    if ((r = smtpc_resume_find(key, uv_now(c->loop))) != NULL) {
        tls_session_free(r->session);
        memset(r, 0, sizeof(*r));
    }
}

/* smtpc_resume_keep - c's checks passed: keep its session for the next conn */

static void smtpc_resume_keep(struct relay_smtpc *c)
{
    struct tls_session *s = tls_conn_session(c->conn);
    struct smtpc_resume *r, *slot = &smtpc_resume[0];
    uint64_t now = uv_now(c->loop);
    char key[192];

    if (s == NULL)
        return;
    smtpc_resume_key(c, key, sizeof(key));
    if ((r = smtpc_resume_find(key, now)) == NULL) {
        for (size_t i = 0; i < SMTPC_RESUME_MAX; i++) {     /* a free or the oldest slot */
            r = &smtpc_resume[i];
            if (r->key[0] == '\0' || r->at < slot->at)
                slot = r;
            if (r->key[0] == '\0')
                break;
        }
        r = slot;
        snprintf(r->key, sizeof(r->key), "%s", key);
    }
    tls_session_free(r->session);
    r->session = s;
    r->at = now;
}

/* relay__smtpc_resume_clear - free every kept session (at stop) */

void relay__smtpc_resume_clear(void)
{
    for (size_t i = 0; i < SMTPC_RESUME_MAX; i++) {
        tls_session_free(smtpc_resume[i].session);
        memset(&smtpc_resume[i], 0, sizeof(smtpc_resume[i]));
    }
}

/* smtpc_facts - the domain-security facts known so far */

static struct policy_outbound smtpc_facts(const struct relay_smtpc *c)
{
    struct policy_outbound f = { 0 };

    f.listed = c->dest->listed;
    f.connector_secure = c->dest->sc->domain_secure_enabled;
    f.starttls_offered = c->starttls_offered;
    f.revocation_failure = c->dest->cfg->transport.revocation_failure;
    return f;
}

/* smtpc_secure_fail - a listed domain's check failed: count, log, next host;
 * detail says why the partner's chain failed ("" if that is not the reason) */

static void smtpc_secure_fail(struct relay_smtpc *c, const struct policy_out_verdict *v,
                              const char *detail)
{
    struct relay_decision d;
    char line[700];

    relay__smtpc_resume_forget(c);
    relay_stats_add(RELAY_STAT_DS_OUT_FAILURES, 1);
    policy_send_secure_logline(line, sizeof(line), c->dest->domain, c->dest->sc->name,
                               v->reason, v->info);
    log_warnx("smtp", c->sid, "%s rule=\"%s\"%s%s%s", line, v->rule,
              detail[0] ? " detail=\"" : "", detail, detail[0] ? "\"" : "");
    log_proto_info(&c->pl, NULL, line);
    if (v->result != NULL) {            /* a TLS session was judged (TLS-RPT) */
        char why[400];

        /* The partner reads this: the check and what failed, not our
         * connector's name (the Exchange line above names it). */
        snprintf(why, sizeof(why), "%s%s%s", v->reason ? v->reason : v->rule,
                 v->info && v->info[0] ? ": " : "", v->info ? v->info : "");
        relay__smtpc_tlsrpt(c, TLSRPT_NO_POLICY, v->result, why);
    }
    d = relay__smtpc_decide(c, RELAY_E_SECURE, 0, v->inner);   /* never plaintext: next host */
    relay__smtpc_trouble(c, &d);
}

/* smtpc_require_tls_fail - [send] require_tls and no TLS here: carry out d
 * (the next host, never plaintext) */

static void smtpc_require_tls_fail(struct relay_smtpc *c, struct relay_decision *d)
{
    log_info("smtp", c->sid, "require_tls: no TLS with %s: trying the next host",
             c->dest->names[c->addr_i]);
    relay__smtpc_trouble(c, d);
}

/* relay__smtpc_after_hello - EHLO/HELO accepted: STARTTLS, or on to the mail */

void relay__smtpc_after_hello(struct relay_smtpc *c)
{
    struct policy_outbound f = smtpc_facts(c);
    struct policy_sts_outbound sf = {0};
    struct policy_out_verdict v;
    struct relay_decision d;

    if (c->tls || c->no_tls) {
        if (c->tls && !c->no_resume_keep)
            smtpc_resume_keep(c);       /* checks passed, ticket read */
        else
            relay__smtpc_policy_row(c, NULL, "after a failed TLS handshake");
        relay__smtpc_take_job(c);
        return;
    }
    sf.starttls_offered = c->starttls_offered && relay__smtpc_tls_ctx(c) != NULL;
    if (relay__smtpc_sts_check(c, &sf, POLICY_OUT_EHLO))
        return;                         /* enforce: the next host */
    {
        struct policy_dane_outbound df = { .starttls_offered = sf.starttls_offered };

        if (relay__smtpc_dane_check(c, &df, POLICY_OUT_EHLO))
            return;                     /* DANE: the next host */
    }
    v = policy_send_secure(&f, POLICY_OUT_EHLO);
    if (v.inner == NULL && c->dest->sc->require_tls && !v.require_tls
        && (!c->starttls_offered || c->dest->tls_ctx == NULL)) {
        d = relay__smtpc_decide(c, RELAY_E_NO_TLS, 0, NULL);
        smtpc_require_tls_fail(c, &d);
        return;
    }
    if (v.inner == NULL && v.require_tls && c->dest->tls_ctx == NULL) {
        f.starttls_offered = false;     /* we cannot do TLS: as if it were not offered */
        v = policy_send_secure(&f, POLICY_OUT_EHLO);
    }
    if (v.inner != NULL) {
        smtpc_secure_fail(c, &v, "");
        return;
    }
    if (c->starttls_offered && relay__smtpc_tls_ctx(c) != NULL) {
        relay__smtpc_send(c, "STARTTLS");
        tls_conn_flush(c->conn);
        relay__smtpc_enter_state(c, C_STARTTLS);
        return;
    }
    relay__smtpc_policy_row(c, NULL, c->starttls_offered ? "we have no TLS client context"
                            : "STARTTLS not offered");
    relay__smtpc_take_job(c);           /* opportunistic, and not offered: plaintext */
}

/* smtpc_wants_staple - ask for a stapled OCSP response: a listed partner whose
 * revocation includes OCSP and whose CA is in the global store (wolfSSL fails a
 * TLS 1.2 handshake whose staple it cannot verify: tls_conn_want_staple) */

static bool smtpc_wants_staple(const struct relay_smtpc *c)
{
    const struct cfg_partner *p = policy_partner_find(c->dest->cfg, c->dest->domain);

    return p != NULL && p->trust_global_ca
           && (p->revocation == CFG_REV_OCSP || p->revocation == CFG_REV_CRL_OCSP);
}

/* relay__smtpc_starttls_reply - the reply to STARTTLS: handshake, plaintext or next host */

void relay__smtpc_starttls_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct policy_outbound f = smtpc_facts(c);
    struct policy_out_verdict v;
    struct relay_decision d;

    f.starttls_offered = true;
    f.starttls_code = code;
    f.starttls_text = text;
    v = policy_send_secure(&f, POLICY_OUT_STARTTLS_REPLY);
    if (v.inner != NULL) {
        smtpc_secure_fail(c, &v, "");
        return;
    }
    {
        struct policy_sts_outbound sf = {
            .starttls_offered = true, .starttls_code = code, .starttls_text = text,
        };

        struct policy_dane_outbound df = {
            .starttls_offered = true, .starttls_code = code, .starttls_text = text,
        };

        if (relay__smtpc_sts_check(c, &sf, POLICY_OUT_STARTTLS_REPLY)
            || relay__smtpc_dane_check(c, &df, POLICY_OUT_STARTTLS_REPLY))
            return;                     /* enforce or DANE: the next host */
    }
    d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);
    switch (d.host) {
    case RELAY_H_NEXT_HOST:             /* refused, and require_tls */
        smtpc_require_tls_fail(c, &d);
        return;
    case RELAY_H_FALLBACK:              /* refused: opportunistic goes on in plaintext */
        relay_decision_free(&d);
        relay__smtpc_policy_row(c, NULL, "STARTTLS refused");
        relay__smtpc_take_job(c);
        return;
    case RELAY_H_FAIL_ALL:
        relay__smtpc_trouble(c, &d);
        return;
    case RELAY_H_CONTINUE:              /* 220: the handshake */
        relay_decision_free(&d);
        break;
    }
    relay__smtpc_enter_state(c, C_TLS);
    {
        struct smtpc_resume *r;
        char key[192];

        smtpc_resume_key(c, key, sizeof(key));
        /* No resumption under DANE, nor where a stapled OCSP response is
         * wanted: a resumed handshake carries no staple. */
        r = relay__smtpc_dane_no_resume(c) || smtpc_wants_staple(c) ? NULL
            : smtpc_resume_find(key, uv_now(c->loop));
        tls_conn_want_staple(c->conn, smtpc_wants_staple(c));
        if (tls_conn_starttls_client(c->conn, relay__smtpc_tls_ctx(c), c->dest->names[c->addr_i],
                                     r != NULL ? r->session : NULL) < 0)
            relay__smtpc_tls_failed(c, tls_conn_tls_error(c->conn));
    }
}

/* relay__smtpc_tls_failed - the handshake failed */

void relay__smtpc_tls_failed(struct relay_smtpc *c, const char *err)
{
    struct policy_outbound f = smtpc_facts(c);
    struct policy_out_verdict v;
    struct relay_decision d;

    relay__smtpc_resume_forget(c);
    relay_stats_tls_failed(false, relay_stats_tls_reason(err));
    relay_plog_tls_failed(&c->pl, err);
    f.starttls_offered = true;
    f.starttls_code = 220;
    f.handshake_error = err;
    v = policy_send_secure(&f, POLICY_OUT_HANDSHAKE);
    if (v.inner != NULL) {
        smtpc_secure_fail(c, &v, "");
        return;
    }
    {
        struct policy_sts_outbound sf = {
            .starttls_offered = true, .starttls_code = 220, .handshake_error = err,
        };

        struct policy_dane_outbound df = {
            .starttls_offered = true, .starttls_code = 220, .handshake_error = err,
        };

        if (relay__smtpc_sts_check(c, &sf, POLICY_OUT_HANDSHAKE)
            || relay__smtpc_dane_check(c, &df, POLICY_OUT_HANDSHAKE))
            return;                     /* enforce or DANE: the next host */
    }
    d = relay__smtpc_decide(c, RELAY_E_HANDSHAKE, 0, err);
    if (d.host != RELAY_H_FALLBACK) {   /* require_tls: the next host */
        smtpc_require_tls_fail(c, &d);
        return;
    }
    relay_decision_free(&d);
    /* Opportunistic TLS failed: try this host again without TLS (Postfix "may"). */
    log_info("smtp", c->sid, "TLS handshake with %s failed (%s): retrying in plaintext",
             c->dest->names[c->addr_i], err);
    relay__smtpc_drop_conn(c, 0);
    c->no_tls = true;
    relay__smtpc_connect_next(c);
}

/* smtpc_tls_log - the log lines and protocol-log rows of TLS, certificates and verdict */

static void smtpc_tls_log(struct relay_smtpc *c, const struct tls_facts *tf,
                          const struct tls_cert_info *ci, bool have,
                          const struct policy_outbound *f, const struct policy_out_verdict *v)
{
    log_info("smtp", c->sid, "TLS established to=%s version=%s cipher=%s bits=%d "
             "server_cert=\"%s\" chain_code=%ld resumed=%s", c->dest->names[c->addr_i],
             tf->version, tf->cipher, tf->cipher_bits, have ? ci->subject : "", tf->verify_code,
             tf->resumed ? "yes" : "no");
    if (v->secured)
        log_info("smtp", c->sid, "secure domain certificate domain=%s subject=\"%s\" "
                 "thumbprint=%s revocation=%s%s%s%s", c->dest->domain, ci->subject,
                 ci->thumbprint, relay_tls_revocation(tf, v->revocation_accepted),
                 v->revocation_accepted ? " detail=\"" : "",
                 v->revocation_accepted ? tf->revocation_reason : "",
                 v->revocation_accepted ? "\"" : "");
    else if (f->chain == POLICY_CHAIN_REVOKED || f->chain == POLICY_CHAIN_REVOCATION_UNKNOWN)
        log_info("smtp", c->sid, "server certificate revocation=%s detail=\"%s\"",
                 relay_tls_revocation(tf, false), tf->revocation_reason);
    if (log_proto_enabled(&c->pl)) {
        relay_plog_own_cert(&c->pl, c->dest->cfg, false,
                            (size_t)(c->dest->sc - c->dest->cfg->send));
        relay_plog_tls(&c->pl, tf, false);
        if (have)
            relay_plog_cert(&c->pl, "Remote certificate", ci);
        if (have && f->listed)
            relay_plog_cert(&c->pl, "Secure domain certificate", ci);
        if (tf->peer_cert)
            relay_plog_chain(&c->pl, tf, v->revocation_accepted);
        if (v->secured && v->revocation_accepted)
            log_proto_infof(&c->pl, c->dest->domain, "Message to secure domain '%s' on send "
                            "connector '%s' was domain-secured although revocation is unknown: "
                            "%s", c->dest->domain, c->dest->sc->name, tf->revocation_reason);
        else if (v->secured)
            log_proto_infof(&c->pl, c->dest->domain, "Message to secure domain '%s' on send "
                            "connector '%s' was domain-secured", c->dest->domain,
                            c->dest->sc->name);
    }
}

/* smtpc_smart_host_verified - is c's TLS with a smart host verified (RFC
 * 8689 4.2.1, as Postfix's "verify" level): the connector routes by smart
 * hosts, the chain is valid against its trusted anchors (trusted_ca_file,
 * revocation as checked for the connector) and the certificate's dNSNames
 * name the smart host as configured (an IP literal never matches) */

static bool smtpc_smart_host_verified(struct relay_smtpc *c, const struct policy_outbound *f,
                                      bool host_match)
{
    if (c->dest->sc->dns_routing || c->dest->sc->nsmart_hosts == 0)
        return false;
    log_info("smtp", c->sid, "smart host certificate host=%s chain=%s name=%s "
             "requiretls=%s", c->dest->names[c->addr_i], policy_chain_name(f->chain),
             host_match ? "match" : "mismatch",
             f->chain == POLICY_CHAIN_VALID && host_match ? "verified" : "not-verified");
    return f->chain == POLICY_CHAIN_VALID && host_match;
}

/*
 * smtpc_partner_identity - a listed domain's identity under its [partner D]
 * section (or the global rule) into f (identity_rule, chain, name_match,
 * revocation_failure) and *iv; why its own CA refused the chain into detail
 */
static void smtpc_partner_identity(struct relay_smtpc *c, const struct tls_facts *tf,
                                   const struct tls_cert_info *ci, struct policy_outbound *f,
                                   struct policy_identity_verdict *iv, char *detail, size_t dsz)
{
    const struct cfg_partner *p = policy_partner_find(c->dest->cfg, c->dest->domain);
    bool    dane = p != NULL && p->require == CFG_REQUIRE_DANE;
    struct tls_crl_cert sent[SMTPC_CHAIN_MAX];
    struct policy_identity idf;

    relay_tls_identity(c->dest->cfg, p, tf, ci, sent,
                       tls_conn_peer_chain(c->conn, sent, SMTPC_CHAIN_MAX), false,
                       f->name_match, &idf, detail, dsz);
    if (dane) {                         /* this host's DANE match decides */
        struct relay_dane_fact df;

        relay__smtpc_dane_fact(c, &df);
        idf.dane = df.match;
        snprintf(detail, dsz, "%s", df.match == POLICY_DANE_EE || df.match == POLICY_DANE_TA
                 ? "" : df.why);        /* why DaneRequired / DaneMismatch */
    }
    *iv = policy_identity_check(&idf);
    if (!dane && (!idf.partner_judged || idf.partner_chain == POLICY_CHAIN_VALID))
        detail[0] = '\0';              /* the chain's own detail applies */
    f->identity_rule = iv->rule;
    f->name_match = iv->name_match;
    f->chain = iv->chain;
    f->revocation_failure = iv->revocation_failure;
}

/* relay__smtpc_tls_ready - the handshake finished: check a partner, EHLO again */

void relay__smtpc_tls_ready(struct relay_smtpc *c)
{
    const struct tls_facts *tf = tls_conn_facts(c->conn);
    struct policy_outbound f = smtpc_facts(c);
    struct policy_out_verdict v;
    struct policy_identity_verdict iv;
    struct tls_cert_info ci;
    char    pdetail[320] = "";
    bool have, host_match;

    relay_stats_count(RELAY_LSTAT_TLS_OUT, relay_stats_label_find(c->dest->sc->name));
    have = tf->peer_der != NULL && tls_cert_info_from_der(tf->peer_der, tf->peer_der_len,
                                                          &ci) == 0;
    f.starttls_offered = true;
    f.starttls_code = 220;
    f.handshake_ok = true;
    f.name_match = have && policy_cert_name_match(c->dest->domain,
                                                  (const char *const *)ci.names, ci.nnames);
    f.chain = relay_tls_chain(tf);
    if (f.listed)
        smtpc_partner_identity(c, tf, have ? &ci : NULL, &f, &iv, pdetail, sizeof(pdetail));
    v = policy_send_secure(&f, POLICY_OUT_CERT);
    smtpc_tls_log(c, tf, &ci, have, &f, &v);
    if (f.listed) {
        char    line[768];

        policy_identity_logline(line, sizeof(line), c->dest->domain, &iv, false, v.rule,
                                v.revocation_accepted);
        log_proto_info(&c->pl, c->dest->domain, line);
    }
    if (v.inner != NULL) {
        if (have)
            tls_cert_info_free(&ci);
        smtpc_secure_fail(c, &v, pdetail[0] != '\0' ? pdetail : tls_facts_detail(tf));
        return;
    }
    if (v.secured)
        relay__smtpc_tlsrpt(c, TLSRPT_NO_POLICY, NULL, NULL);
    /* RFC 8461 4.2 (and RFC 6125 6.4.4 with a subjectAltName): the
     * certificate names the host in its dNSNames only, not the CN. */
    host_match = have && policy_cert_host_match(c->dest->names[c->addr_i],
                                                (const char *const *)ci.names
                                                    + (ci.cn_not_san ? 1 : 0),
                                                ci.nnames - (ci.cn_not_san ? 1 : 0));
    if (have)
        tls_cert_info_free(&ci);
    {
        struct policy_sts_outbound sf = {
            .starttls_offered = true, .starttls_code = 220, .handshake_ok = true,
            .chain = relay__smtpc_sts_chain(c, tf), .name_match = host_match,
        };

        if (relay__smtpc_sts_check(c, &sf, POLICY_OUT_CERT) || relay__smtpc_dane_cert(c))
            return;                     /* enforce or DANE: the next host */
    }
    relay__smtpc_policy_row(c, tf->version, NULL);
    c->tls = true;
    c->secured = v.secured;
    /* The list's checks passed, or MTA-STS enforce's did (relay__smtpc_sts_check
     * set it), or this is a verified smart host: REQUIRETLS may go. */
    c->tls_verified = v.secured || c->tls_verified || smtpc_smart_host_verified(c, &f,
                                                                                host_match);
    c->pipelining = false;              /* RFC 3207 4.2: learn the extensions again */
    c->peer_size = 0;
    c->starttls_offered = c->requiretls_offered = false;
    relay__smtpc_send(c, "EHLO %s", c->dest->sc->fqdn);
    tls_conn_flush(c->conn);
    relay__smtpc_enter_state(c, C_EHLO);
}
