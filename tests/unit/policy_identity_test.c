/*
 * policy_identity_test.c - what proves a listed partner's identity
 * (policy_identity_check): the global rule, serverAuth-only client
 * certificates (accepted globally and by default; refused with
 * accept_server_auth_only = no), pins, ca+pin, a
 * partner's own CA with and without trust_global_ca, min_tls_version,
 * revocation per source (crl, ocsp, crl+ocsp, none), outbound DANE; the
 * tables (policy_mail_secure, policy_send_secure) refusing with its rule;
 * and the "Partner identity" log line.
 *
 * Table-driven; every row prints its label so a failure names its row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "policy_secure.h"

/* Rows start from GOOD and override a field or two on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define V   POLICY_CHAIN_VALID
#define U   POLICY_CHAIN_UNTRUSTED
#define RV  POLICY_CHAIN_REVOKED
#define RU  POLICY_CHAIN_REVOCATION_UNKNOWN
#define INV POLICY_CHAIN_INVALID
#define G   POLICY_REV_GOOD
#define R   POLICY_REV_REVOKED
#define UK  POLICY_REV_UNKNOWN
#define NC  POLICY_REV_NOT_CHECKED

/* Partners: P(require, revocation) with defaults; variants below. */
#define PARTNER(req, rev) { .domain = "woodgrovebank.test", .trust_global_ca = true, \
                            .require = (req), .revocation = (rev), \
                            .revocation_failure = CFG_REVFAIL_FAIL }

static const struct cfg_partner p_ca = PARTNER(CFG_REQUIRE_CA, CFG_REV_CRL);
static const struct cfg_partner p_pin = PARTNER(CFG_REQUIRE_PIN, CFG_REV_CRL);
static const struct cfg_partner p_capin = PARTNER(CFG_REQUIRE_CA_PIN, CFG_REV_CRL);
static const struct cfg_partner p_dane = PARTNER(CFG_REQUIRE_DANE, CFG_REV_CRL);
static const struct cfg_partner p_ocsp = PARTNER(CFG_REQUIRE_CA, CFG_REV_OCSP);
static const struct cfg_partner p_both = PARTNER(CFG_REQUIRE_CA, CFG_REV_CRL_OCSP);
static const struct cfg_partner p_none = PARTNER(CFG_REQUIRE_CA, CFG_REV_NONE);
static const struct cfg_partner p_knob = {
    .domain = "woodgrovebank.test", .trust_global_ca = true, .accept_server_auth_only = true,
    .require = CFG_REQUIRE_CA, .revocation = CFG_REV_CRL,
};
static const struct cfg_partner p_knob_pin = {
    .domain = "woodgrovebank.test", .trust_global_ca = true, .accept_server_auth_only = true,
    .require = CFG_REQUIRE_PIN, .revocation = CFG_REV_CRL,
};
static const struct cfg_partner p_knob_pin_noglobal = {        /* trust_global_ca = no */
    .domain = "woodgrovebank.test", .trust_global_ca = false, .accept_server_auth_only = true,
    .require = CFG_REQUIRE_PIN, .revocation = CFG_REV_CRL,
};
static const struct cfg_partner p_tls13 = {
    .domain = "woodgrovebank.test", .trust_global_ca = true, .min_tls_version = 13,
    .require = CFG_REQUIRE_CA, .revocation = CFG_REV_CRL,
};
static const struct cfg_partner p_ownca = {      /* instead of the global CA */
    .domain = "woodgrovebank.test", .trusted_ca_file = "/etc/domsec/woodgrove-ca.pem",
    .trust_global_ca = false, .require = CFG_REQUIRE_CA, .revocation = CFG_REV_CRL,
};
static const struct cfg_partner p_ownca_global = {       /* in addition to it */
    .domain = "woodgrovebank.test", .trusted_ca_file = "/etc/domsec/woodgrove-ca.pem",
    .trust_global_ca = true, .require = CFG_REQUIRE_CA, .revocation = CFG_REV_CRL,
    .revocation_failure = CFG_REVFAIL_ACCEPT,
};

/* A good inbound client certificate under the global CA, CRL good. */
#define GOOD .inbound = true, .cert = true, .name_match = true, .eku = POLICY_EKU_ANY, \
             .tls_version = 13, .chain = V, .crl = G

static const struct {
    const char *label;
    struct policy_identity f;
    const char *rule;                   /* NULL: none */
    enum policy_chain chain;            /* for the tables */
    bool    name_match;
    const char *policy, *require, *proof, *eku, *rev, *via;
} rows[] = {
    {"global, valid", {GOOD}, NULL, V, true, "global", "ca", "ca", "any", "good", "crl"},
    {"global, CRL revoked", {GOOD, .crl = R}, NULL, RV, true, "global", "ca", "ca", "any",
     "revoked", "crl"},
    {"global, untrusted", {GOOD, .chain = U, .crl = NC}, NULL, U, true, "global", "ca", "ca",
     "any", "not-checked", "-"},
    {"global, name mismatch", {GOOD, .name_match = false}, NULL, V, false, "global", "ca",
     "ca", "any", "good", "crl"},
    {"global, no certificate", {.inbound = true, .tls_version = 13}, NULL, INV, false,
     "global", "ca", "ca", "none", "not-checked", "-"},
    {"global, serverAuth-only client certificate: accepted (SPEC 6.2, Exchange)",
     {GOOD, .eku = POLICY_EKU_SERVER_ONLY}, NULL, V, true, "global",
     "ca", "ca", "serverAuth-only", "good", "crl"},
    {"global, serverAuth-only from an untrusted CA stays untrusted",
     {GOOD, .eku = POLICY_EKU_SERVER_ONLY, .chain = U, .crl = NC}, NULL, U, true, "global",
     "ca", "ca", "serverAuth-only", "not-checked", "-"},
    {"global, serverAuth-only expired stays expired",
     {GOOD, .eku = POLICY_EKU_SERVER_ONLY, .chain = POLICY_CHAIN_EXPIRED, .crl = NC}, NULL,
     POLICY_CHAIN_EXPIRED, true, "global", "ca", "ca", "serverAuth-only", "not-checked", "-"},
    {"global, serverAuth-only, the name still matters",
     {GOOD, .eku = POLICY_EKU_SERVER_ONLY, .name_match = false}, NULL, V, false, "global",
     "ca", "ca", "serverAuth-only", "good", "crl"},
    {"global, serverAuth-only server certificate (outbound)",
     {GOOD, .inbound = false, .eku = POLICY_EKU_SERVER_ONLY}, NULL, V, true, "global", "ca",
     "ca", "serverAuth-only", "good", "crl"},
    {"partner with accept_server_auth_only = no, serverAuth-only",
     {GOOD, .partner = &p_ca, .eku = POLICY_EKU_SERVER_ONLY}, "BadEku (serverAuth only)", V,
     true, "partner", "ca", "ca", "serverAuth-only", "not-checked", "-"},
    {"knob, serverAuth-only, valid",
     {GOOD, .partner = &p_knob, .eku = POLICY_EKU_SERVER_ONLY}, NULL, V, true, "partner", "ca",
     "ca", "serverAuth-only", "good", "crl"},
    {"knob, serverAuth-only, untrusted CA stays untrusted",
     {GOOD, .partner = &p_knob, .eku = POLICY_EKU_SERVER_ONLY, .chain = U, .crl = NC}, NULL, U,
     true, "partner", "ca", "ca", "serverAuth-only", "not-checked", "-"},
    {"knob with require = pin: the name and chain still apply",
     {GOOD, .partner = &p_knob_pin, .eku = POLICY_EKU_SERVER_ONLY, .pin_match = true,
      .name_match = false}, NULL, V, false, "partner", "pin", "ca+pin", "serverAuth-only",
     "good", "crl"},
    {"knob with require = pin, trust_global_ca = no, no CA file: no anchor, untrusted",
     {GOOD, .partner = &p_knob_pin_noglobal, .eku = POLICY_EKU_SERVER_ONLY, .pin_match = true},
     NULL, U, true, "partner", "pin", "ca+pin", "serverAuth-only", "not-checked", "-"},
    {"pin listed: chain, dates and name not needed",
     {GOOD, .partner = &p_pin, .pin_match = true, .chain = POLICY_CHAIN_EXPIRED,
      .name_match = false}, NULL, V, true, "partner", "pin", "pin", "any", "not-checked", "-"},
    {"pin not listed (a rolled-over key), valid chain",
     {GOOD, .partner = &p_pin}, "PinMismatch", V, true, "partner", "pin", "pin", "any",
     "not-checked", "-"},
    {"ca+pin, both hold", {GOOD, .partner = &p_capin, .pin_match = true}, NULL, V, true,
     "partner", "ca+pin", "ca+pin", "any", "good", "crl"},
    {"ca+pin, pin without the chain",
     {GOOD, .partner = &p_capin, .pin_match = true, .chain = U, .crl = NC}, NULL, U, true,
     "partner", "ca+pin", "ca+pin", "any", "not-checked", "-"},
    {"ca+pin, chain without the pin", {GOOD, .partner = &p_capin}, "PinMismatch", V, true,
     "partner", "ca+pin", "ca+pin", "any", "not-checked", "-"},
    {"own CA proves it, the global CA does not",
     {GOOD, .partner = &p_ownca, .chain = U, .crl = NC, .partner_judged = true,
      .partner_chain = V, .partner_crl = G}, NULL, V, true, "partner", "ca", "ca", "any",
     "good", "crl"},
    {"own CA instead of the global: a global chain does not count",
     {GOOD, .partner = &p_ownca, .partner_judged = true, .partner_chain = U}, NULL, U, true,
     "partner", "ca", "ca", "any", "not-checked", "-"},
    {"own CA in addition to the global: the global chain counts",
     {GOOD, .partner = &p_ownca_global, .partner_judged = true, .partner_chain = U}, NULL, V,
     true, "partner", "ca", "ca", "any", "good", "crl"},
    {"own CA not judged (no chain): untrusted",
     {GOOD, .partner = &p_ownca, .chain = U}, NULL, U, true, "partner", "ca", "ca", "any",
     "not-checked", "-"},
    {"own CA, its CRL verdict counts",
     {GOOD, .partner = &p_ownca, .chain = U, .partner_judged = true, .partner_chain = V,
      .partner_crl = UK}, NULL, RU, true, "partner", "ca", "ca", "any", "unknown", "crl"},
    {"min_tls_version 1.3, TLS 1.2", {GOOD, .partner = &p_tls13, .tls_version = 12},
     "TlsVersionTooLow", V, true, "partner", "ca", "ca", "any", "not-checked", "-"},
    {"min_tls_version 1.3, TLS 1.3", {GOOD, .partner = &p_tls13}, NULL, V, true, "partner",
     "ca", "ca", "any", "good", "crl"},
    {"ocsp stapled good", {GOOD, .partner = &p_ocsp, .crl = UK, .ocsp = G,
                           .ocsp_source = POLICY_OCSP_SRC_STAPLED}, NULL, V, true, "partner",
     "ca", "ca", "any", "good", "ocsp-stapled"},
    {"ocsp fetched revoked", {GOOD, .partner = &p_ocsp, .ocsp = R,
                              .ocsp_source = POLICY_OCSP_SRC_FETCHED}, NULL, RV, true,
     "partner", "ca", "ca", "any", "revoked", "ocsp-fetched"},
    {"ocsp asked, no response", {GOOD, .partner = &p_ocsp}, NULL, RU, true, "partner", "ca",
     "ca", "any", "unknown", "-"},
    {"crl+ocsp both good", {GOOD, .partner = &p_both, .ocsp = G,
                            .ocsp_source = POLICY_OCSP_SRC_FETCHED}, NULL, V, true, "partner",
     "ca", "ca", "any", "good", "crl+ocsp"},
    {"crl+ocsp, OCSP unknown", {GOOD, .partner = &p_both, .ocsp = UK}, NULL, RU, true,
     "partner", "ca", "ca", "any", "unknown", "crl+ocsp"},
    {"crl+ocsp, CRL revoked, OCSP good", {GOOD, .partner = &p_both, .crl = R, .ocsp = G},
     NULL, RV, true, "partner", "ca", "ca", "any", "revoked", "crl+ocsp"},
    {"crl+ocsp, CRL unknown, OCSP revoked", {GOOD, .partner = &p_both, .crl = UK, .ocsp = R},
     NULL, RV, true, "partner", "ca", "ca", "any", "revoked", "crl+ocsp"},
    {"revocation none", {GOOD, .partner = &p_none, .crl = R}, NULL, V, true, "partner", "ca",
     "ca", "any", "not-checked", "-"},
    {"dane outbound, no usable TLSA", {GOOD, .inbound = false, .partner = &p_dane},
     "DaneRequired", V, true, "partner", "dane", "dane-ee", "any", "not-checked", "-"},
    {"dane outbound, mismatch",
     {GOOD, .inbound = false, .partner = &p_dane, .dane = POLICY_DANE_MISMATCH},
     "DaneMismatch", V, true, "partner", "dane", "dane-ee", "any", "not-checked", "-"},
    {"dane outbound, DANE-EE ignores the name and the chain",
     {GOOD, .inbound = false, .partner = &p_dane, .dane = POLICY_DANE_EE, .name_match = false,
      .chain = U}, NULL, V, true, "partner", "dane", "dane-ee", "any", "not-checked", "-"},
    {"dane outbound, DANE-TA: its names were checked with the match (MX host)",
     {GOOD, .inbound = false, .partner = &p_dane, .dane = POLICY_DANE_TA, .name_match = false},
     NULL, V, true, "partner", "dane", "dane-ta", "any", "not-checked", "-"},
    {"dane inbound is ca", {GOOD, .partner = &p_dane, .chain = U, .crl = NC}, NULL, U, true,
     "partner", "dane", "ca", "any", "not-checked", "-"},
};

static void test_rows(void **state)
{
    for (size_t i = 0; i < NELEM(rows); i++) {
        struct policy_identity_verdict v = policy_identity_check(&rows[i].f);
        bool    rule_ok = rows[i].rule == NULL ? v.rule == NULL
            : v.rule != NULL && strcmp(v.rule, rows[i].rule) == 0;

        if (!rule_ok || (rows[i].rule == NULL && (v.chain != rows[i].chain
                                                  || v.name_match != rows[i].name_match))
            || strcmp(v.policy, rows[i].policy) != 0 || strcmp(v.require, rows[i].require) != 0
            || strcmp(v.proof, rows[i].proof) != 0 || strcmp(v.eku, rows[i].eku) != 0
            || strcmp(v.revocation, rows[i].rev) != 0 || strcmp(v.via, rows[i].via) != 0)
            fail_msg("%s: rule %s chain %s name %d policy=%s require=%s proof=%s eku=%s "
                     "revocation=%s via %s", rows[i].label, v.rule ? v.rule : "(none)",
                     policy_chain_name(v.chain), (int)v.name_match, v.policy, v.require,
                     v.proof, v.eku, v.revocation, v.via);
    }
}

/* The partner's revocation_failure wins over the transport's. */
static void test_revocation_failure(void **state)
{
    struct policy_identity f = {GOOD, .crl = UK, .revocation_failure = CFG_REVFAIL_FAIL};
    struct policy_identity_verdict v = policy_identity_check(&f);

    assert_int_equal(v.revocation_failure, CFG_REVFAIL_FAIL);
    f.partner = &p_ownca_global;
    v = policy_identity_check(&f);
    assert_int_equal(v.revocation_failure, CFG_REVFAIL_ACCEPT);
    assert_int_equal(v.chain, RU);
}

/* The tables refuse with the identity rule, at the certificate's row. */
static void test_tables(void **state)
{
    struct policy_inbound in = {
        .listed = true, .connector_secure = true, .starttls_advertised = true, .tls = true,
        .client_cert = true, .name_match = true, .chain = V,
        .identity_rule = "BadEku (serverAuth only)",
    };
    struct policy_outbound out = {
        .listed = true, .connector_secure = true, .starttls_offered = true,
        .starttls_code = 220, .handshake_ok = true, .name_match = true, .chain = V,
        .identity_rule = "DaneRequired",
    };
    struct policy_secure_verdict iv = policy_mail_secure(&in);
    struct policy_out_verdict ov = policy_send_secure(&out, POLICY_OUT_CERT);

    assert_non_null(iv.reply);
    assert_int_equal(iv.reply->code, 454);
    assert_string_equal(iv.reply->text, "4.7.5 Certificate validation failure");
    assert_string_equal(iv.rule, "BadEku (serverAuth only)");
    assert_false(iv.domain_secured);
    in.client_cert = false;             /* the earlier rows still come first */
    assert_string_equal(policy_mail_secure(&in).rule,
                        "NotAuthenticated (no client certificate)");
    assert_int_equal(ov.code, 454);
    assert_string_equal(ov.rule, "DaneRequired");
    assert_string_equal(ov.result, "dane-required");
    assert_false(ov.secured);
    out.identity_rule = "PinMismatch";
    ov = policy_send_secure(&out, POLICY_OUT_CERT);
    assert_string_equal(ov.rule, "PinMismatch");
    assert_string_equal(ov.result, "validation-failure");
    assert_string_equal(ov.info, "PinMismatch");
    assert_true(policy_send_secure(&out, POLICY_OUT_HANDSHAKE).code == 0);
    out.identity_rule = NULL;
    assert_true(policy_send_secure(&out, POLICY_OUT_CERT).secured);
}

static void test_logline(void **state)
{
    struct policy_identity f = {GOOD, .partner = &p_capin, .pin_match = true};
    struct policy_identity_verdict v = policy_identity_check(&f);
    char    buf[512];

    policy_identity_logline(buf, sizeof(buf), "woodgrovebank.test", &v, true, "Secured", false);
    assert_string_equal(buf, "Partner identity of 'woodgrovebank.test' (inbound): "
                        "policy=partner require=ca+pin; proved=ca+pin; eku=any; "
                        "revocation=good via crl; verdict=Secured");
    f = (struct policy_identity){GOOD, .inbound = false, .eku = POLICY_EKU_SERVER_ONLY,
                                 .crl = UK};
    v = policy_identity_check(&f);
    policy_identity_logline(buf, sizeof(buf), "fabrikam.test", &v, false, "Secured", true);
    assert_string_equal(buf, "Partner identity of 'fabrikam.test' (outbound): policy=global "
                        "require=ca; proved=ca; eku=serverAuth-only; "
                        "revocation=unknown-accepted via crl; verdict=Secured");
    f = (struct policy_identity){GOOD, .partner = &p_pin};
    v = policy_identity_check(&f);
    policy_identity_logline(buf, sizeof(buf), "woodgrovebank.test", &v, true, v.rule, false);
    assert_string_equal(buf, "Partner identity of 'woodgrovebank.test' (inbound): "
                        "policy=partner require=pin; proved=none; eku=any; "
                        "revocation=not-checked via -; verdict=PinMismatch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_revocation_failure),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_logline),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
