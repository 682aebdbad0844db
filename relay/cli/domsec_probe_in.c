/*
 * domsec_probe_in.c - `domsec test-partner DOMAIN --inbound --cert FILE`:
 * would MAIL FROM:<x@DOMAIN> be accepted from a client that presents the
 * certificate chain in FILE (PEM, leaf first) over STARTTLS?
 *
 * The chain is judged as a handshake judges a client's (tls_facts_from_chain:
 * trusted_ca_file, the handshake's classification, revocation against the
 * CRL set domsecd would publish, from relay_crl_load), the names with
 * policy_cert_name_match, DOMAIN's [partner] section applied as domsecd
 * applies it (domsec__probe_identity: pins, its own CA, EKU, revocation;
 * no TLS version, there is no handshake), and the verdict is
 * policy_mail_secure's, the table domsecd asks at every MAIL FROM, with
 * DOMAIN taken as listed in
 * tls_receive_domain_secure_list and the session in TLS with a client
 * certificate.  The receive connector is the first with
 * domain_secure_enabled (else the first with auth_mechanism = tls, else
 * the first).  Without --cert the caller finds the file first
 * (domsec_probe_log.c) and passes where it came from as source.
 *
 * CONTRACT
 *  Returns the exit status (domsec_probe.h): 0 accepted, 1 refused, 3
 *  when FILE cannot be read or the chain cannot be checked at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_probe.h"
#include "log.h"
#include "policy_secure.h"
#include "relay_crl.h"
#include "relay_tls.h"
#include "tls_conn.h"
#include "tls_crl.h"
#include "tls_store.h"

/* domsec__probe_identity - the [partner D] rule's verdict on a peer, for the table */

bool domsec__probe_identity(const struct config *cfg, const char *domain,
                            const struct tls_facts *tf, const struct tls_cert_info *ci,
                            const struct tls_crl_cert *chain, size_t n, bool inbound,
                            bool *name_match, enum policy_chain *chain_verdict,
                            enum cfg_revfail *revfail, struct policy_identity_verdict *iv,
                            char *detail, size_t dsz)
{
    const struct cfg_partner *p = policy_partner_find(cfg, domain);
    struct policy_identity idf;

    if (!inbound && p != NULL && p->require == CFG_REQUIRE_DANE)
        return false;
    relay_tls_identity(cfg, p, tf, ci, chain, n, inbound, *name_match, &idf, detail, dsz);
    if (tf->version[0] == '\0')          /* no handshake: no version to judge */
        idf.tls_version = 99;
    *iv = policy_identity_check(&idf);
    if (!idf.partner_judged || idf.partner_chain == POLICY_CHAIN_VALID)
        detail[0] = '\0';              /* the chain's own detail applies */
    *name_match = iv->name_match;
    *chain_verdict = iv->chain;
    *revfail = iv->revocation_failure;
    return true;
}

/* domsec__probe_identity_json - the Partner identity line into out */

void domsec__probe_identity_json(json_t *out, const char *domain,
                                 const struct policy_identity_verdict *iv, bool inbound,
                                 const char *rule, bool revocation_accepted, const char *detail)
{
    char    line[768];

    policy_identity_logline(line, sizeof(line), domain, iv, inbound, rule, revocation_accepted);
    json_object_set_new(out, "partner_identity", json_string(line));
    if (detail[0] != '\0')
        json_object_set_new(out, "identity_detail", json_string(detail));
}

/* probe_in_connector - the receive connector whose verdict we give */

static const struct cfg_receive *probe_in_connector(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].domain_secure_enabled)
            return &cfg->receive[i];
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].auth_mechanism == CFG_AUTH_TLS)
            return &cfg->receive[i];
    return cfg->nreceive > 0 ? &cfg->receive[0] : NULL;
}

/* probe_in_judge - the verdicts and policy_mail_secure's answer into out */

static void probe_in_judge(json_t *out, const struct config *cfg, const struct cfg_receive *rc,
                           const char *domain, const struct tls_facts *tf,
                           const struct tls_crl_cert *chain, size_t n)
{
    struct policy_inbound f = { 0 };
    struct policy_secure_verdict v;
    struct policy_identity_verdict iv;
    struct tls_cert_info ci;
    bool    have = tls_cert_info_from_der(tf->peer_der, tf->peer_der_len, &ci) == 0;
    char    reply[300], detail[320];

    f.listed = true;                    /* the question: as if it were listed */
    f.connector_secure = rc != NULL && rc->domain_secure_enabled;
    f.starttls_advertised = f.tls = f.client_cert = true;
    f.name_match = have && policy_cert_name_match(domain, (const char *const *)ci.names,
                                                  ci.nnames);
    f.chain = relay_tls_chain(tf);
    f.revocation_failure = cfg->transport.revocation_failure;
    domsec__probe_identity(cfg, domain, tf, have ? &ci : NULL, chain, n, true, &f.name_match,
                           &f.chain, &f.revocation_failure, &iv, detail, sizeof(detail));
    f.identity_rule = iv.rule;
    v = policy_mail_secure(&f);
    json_object_set_new(out, "verdicts", domsec__probe_verdicts(tf, have ? &ci : NULL, f.chain,
                                                                f.name_match,
                                                                v.revocation_accepted, true));
    domsec__probe_identity_json(out, domain, &iv, true, v.rule, v.revocation_accepted, detail);
    if (have)
        tls_cert_info_free(&ci);
    json_object_set_new(out, "rule", json_string(v.rule));
    json_object_set_new(out, "accepted", json_boolean(v.reply == NULL));
    if (v.reply != NULL) {
        snprintf(reply, sizeof(reply), "%d %s", v.reply->code, v.reply->text);
        json_object_set_new(out, "reply", json_string(reply));
    } else {
        json_object_set_new(out, "reply", json_null());
    }
}

/* domsec__probe_inbound - judge the certificate chain in cert_file */

int domsec__probe_inbound(const struct config *cfg, const char *domain, const char *cert_file,
                          int cert_fd, json_t *source, bool json)
{
    const struct cfg_receive *rc = probe_in_connector(cfg);
    struct tls_crl_cert *chain = NULL;
    struct tls_crl_set *crls;
    struct tls_facts tf;
    struct cfg_errors errs = { 0 };
    const char *why = NULL;
    size_t  n = 0;
    json_t *out, *ch;
    int     status;

    if ((cert_fd >= 0 ? tls_chain_read_pem_fd(cert_fd, &chain, &n, &why)
                      : tls_chain_read_pem(cert_file, &chain, &n, &why)) < 0) {
        fprintf(stderr, "domsec: %s: %s\n", cert_file, why);
        json_decref(source);
        return PROBE_EXIT_UNKNOWN;
    }
    if ((crls = relay_crl_load(cfg, &why)) == NULL)
        fprintf(stderr, "domsec: warning: crl_directory %s: %s: revocation will be unknown\n",
                cfg->transport.crl_directory, why ? why : "cannot be read");
    else
        tls_crl_publish(crls);
    if (tls_facts_from_chain(chain, n, cfg->transport.trusted_ca_file, &tf, &why) < 0) {
        fprintf(stderr, "domsec: %s: %s (trusted_ca_file %s)\n", cert_file, why,
                cfg->transport.trusted_ca_file ? cfg->transport.trusted_ca_file : "unset");
        tls_chain_free(chain, n);
        tls_crl_cleanup();
        json_decref(source);
        return PROBE_EXIT_UNKNOWN;
    }
    out = json_pack("{s:s, s:s, s:s, s:b}", "domain", domain, "file", cert_file,
                    "connector", rc != NULL ? rc->name : "",
                    "listed", policy_secure_listed(&cfg->transport.recv_secure, domain));
    if (source != NULL)
        json_object_set_new(out, "source", source);
    ch = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = domsec__probe_cert_json(chain[i].der, chain[i].len);

        if (c != NULL)
            json_array_append_new(ch, c);
    }
    json_object_set_new(out, "chain", ch);
    /* The partners' own anchors, loaded as domsecd loads them; connector
     * errors (our certificates) do not concern this question. */
    relay_tls_install(relay_tls_build(cfg, &errs));
    policy_config_errors_free(&errs);
    probe_in_judge(out, cfg, rc, domain, &tf, chain, n);
    status = json_is_true(json_object_get(out, "accepted")) ? PROBE_EXIT_OK : PROBE_EXIT_REFUSED;
    json_object_set_new(out, "exit", json_integer(status));
    if (json) {
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        domsec__probe_print_in(out);
    }
    json_decref(out);
    tls_chain_free(chain, n);
    relay_tls_shutdown();
    tls_crl_cleanup();
    return status;
}
