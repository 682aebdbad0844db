/*
 * policy_secure_test.c - domain-security decisions: name match, secure
 * lists, the MAIL FROM table, the outbound checks and the log line.
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

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define V  POLICY_CHAIN_VALID
#define F  CFG_REVFAIL_FAIL
#define A  CFG_REVFAIL_ACCEPT

/* test_chain_name - every verdict has its log name; unknown values too */

static void test_chain_name(void **state)
{
    static const struct {
        enum policy_chain c;
        const char *name;
    } t[] = {
        {POLICY_CHAIN_VALID, "Valid"},
        {POLICY_CHAIN_UNTRUSTED, "Untrusted"},
        {POLICY_CHAIN_EXPIRED, "Expired"},
        {POLICY_CHAIN_NOT_YET_VALID, "NotYetValid"},
        {POLICY_CHAIN_BAD_EKU, "BadEku"},
        {POLICY_CHAIN_REVOKED, "Revoked"},
        {POLICY_CHAIN_REVOCATION_UNKNOWN, "RevocationUnknown"},
        {POLICY_CHAIN_INVALID, "Invalid"},
        {(enum policy_chain)99, "Unknown"},
        {(enum policy_chain)-1, "Unknown"},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        print_message("chain %d\n", (int)t[i].c);
        assert_string_equal(policy_chain_name(t[i].c), t[i].name);
    }
}

/* test_name_match - SPEC 3 rules, exchange-behaviour 1.1 port results */

static void test_name_match(void **state)
{
    static const struct {
        const char *label, *domain;
        const char *names[4];
        size_t  n;
        bool    match;
    } t[] = {
        /* The port-results table of exchange-behaviour 1.1. */
        {"port: exact", "contoso.com", {"contoso.com"}, 1, true},
        {"port: upper-case name", "contoso.com", {"CONTOSO.COM"}, 1, true},
        {"port: *.D", "contoso.com", {"*.contoso.com"}, 1, true},
        {"port: one label below", "contoso.com", {"mail.contoso.com"}, 1, true},
        {"port: two labels below", "contoso.com", {"a.mail.contoso.com"}, 1, false},
        {"one label, then more", "contoso.com", {"mail.contoso.com.evil.example"}, 1, false},
        {"one label, longer TLD", "contoso.com", {"mail.contoso.community"}, 1, false},
        {"port: parent of D", "sub.contoso.com", {"contoso.com"}, 1, false},
        {"port: other domain", "contoso.com", {"fabrikam.com"}, 1, false},
        /* Exchange matches here; SPEC requires two labels in P. */
        {"port: *.com (SPEC: no)", "contoso.com", {"*.com"}, 1, false},
        /* Wildcards at any depth. */
        {"*.P one below", "sub.contoso.com", {"*.contoso.com"}, 1, true},
        {"*.P any depth", "a.b.contoso.com", {"*.contoso.com"}, 1, true},
        {"*.P two-label suffix", "contoso.co.uk", {"*.co.uk"}, 1, true},
        {"*.P not on a label edge", "xcontoso.com", {"*.contoso.com"}, 1, false},
        {"*.P glued, deeper", "a.xcontoso.com", {"*.contoso.com"}, 1, false},
        {"*.P glued, longer", "abcontoso.com", {"*.contoso.com"}, 1, false},
        {"*.P longer than D", "contoso.com", {"*.mail.contoso.com"}, 1, false},
        {"*.com, deeper D", "a.b.contoso.com", {"*.com"}, 1, false},
        /* Case, both sides. */
        {"upper-case domain", "CONTOSO.Com", {"mail.contoso.com"}, 1, true},
        {"mixed case wildcard", "Sub.Contoso.COM", {"*.CONTOSO.com"}, 1, true},
        /* Trailing dots, one on either side. */
        {"dot on domain", "contoso.com.", {"contoso.com"}, 1, true},
        {"dot on name", "contoso.com", {"mail.contoso.com."}, 1, true},
        {"dots on both", "contoso.com.", {"*.contoso.com."}, 1, true},
        {"two dots on domain", "contoso.com..", {"contoso.com"}, 1, false},
        {"two dots on name", "contoso.com", {"contoso.com.."}, 1, false},
        /* CN only (no SANs), and several names. */
        {"CN only", "contoso.com", {"mail.contoso.com"}, 1, true},
        {"third name matches", "contoso.com",
         {"fabrikam.com", "www.fabrikam.com", "smtp.contoso.com"}, 3, true},
        {"no name matches", "contoso.com", {"fabrikam.com", "*.com", "a.b.contoso.com"}, 3, false},
        {"name past nnames ignored", "contoso.com", {"fabrikam.com", "contoso.com"}, 1, false},
        /* Empty and NULL names are skipped, not fatal. */
        {"NULL and empty skipped", "contoso.com", {NULL, "", ".", "mail.contoso.com"}, 4, true},
        {"only empty names", "contoso.com", {"", NULL}, 2, false},
        {"no names", "contoso.com", {NULL}, 0, false},
        /* Malformed names never match. */
        {"leading dot", "contoso.com", {".contoso.com"}, 1, false},
        {"empty label", "contoso.com", {"mail..contoso.com"}, 1, false},
        {"double wildcard", "a.b.contoso.com", {"*.*.contoso.com"}, 1, false},
        {"partial-label wildcard", "contoso.com", {"m*.contoso.com"}, 1, false},
        {"glued wildcard", "xcontoso.com", {"*contoso.com"}, 1, false},
        {"bare star", "contoso.com", {"*"}, 1, false},
        {"star dot", "contoso.com", {"*."}, 1, false},
        {"suffix trick", "contoso.com", {"contoso.com.evil.example"}, 1, false},
        {"prefix trick", "contoso.com", {"evilcontoso.com"}, 1, false},
        /* Malformed domains never match. */
        {"empty domain", "", {"contoso.com"}, 1, false},
        {"wildcard domain", "*.contoso.com", {"*.contoso.com"}, 1, false},
        {"leading-dot domain", ".contoso.com", {"*.contoso.com"}, 1, false},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        print_message("%s: %s\n", t[i].label, t[i].domain);
        assert_true(policy_cert_name_match(t[i].domain, t[i].names, t[i].n) == t[i].match);
    }
    {
        const char *const one[] = {"contoso.com"};

        assert_false(policy_cert_name_match(NULL, one, 1));
        assert_false(policy_cert_name_match("contoso.com", NULL, 3));
    }
}

/* test_secure_listed - exact, case-insensitive, no subdomains, no wildcards */

static void test_secure_listed(void **state)
{
    char *entries[] = {"contoso.com", "fabrikam.com", "*"};
    struct cfg_list list = {entries, NELEM(entries)}, none = {NULL, 0};
    static const struct {
        const char *domain;
        bool    in;
    } t[] = {
        {"contoso.com", true},
        {"CONTOSO.COM", true},
        {"Fabrikam.Com", true},
        {"contoso.com.", true},
        {"sub.contoso.com", false},
        {"xcontoso.com", false},
        {"contoso.co", false},
        {"contoso.comx", false},
        {"woodgrovebank.com", false},       /* "*" is a literal here, not "all" */
        {"", false},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        print_message("domain \"%s\"\n", t[i].domain);
        assert_true(policy_secure_listed(&list, t[i].domain) == t[i].in);
    }
    assert_false(policy_secure_listed(&none, "contoso.com"));
    assert_false(policy_secure_listed(NULL, "contoso.com"));
    assert_false(policy_secure_listed(&list, NULL));
}

/* test_mail_secure - every row of the SPEC 3 table, and that the order holds */

static void test_mail_secure(void **state)
{
    static const struct {
        const char *label;
        /* facts */
        bool    listed, csec, adv, tls, cert, name;
        enum policy_chain chain;
        enum cfg_revfail rf;
        /* verdict */
        int     code;                   /* 0 = accept */
        const char *text;
        bool    secured, rev_accepted;
        const char *rule;
    } t[] = {
        /* label                     lst   csec   adv    tls    cert   name   chain rf */
        {"all good",                 true, true,  true,  true,  true,  true,  V, F,
         0, NULL, true, false, "Secured"},
        {"not listed, all bad",      false, false, false, false, false, false,
         POLICY_CHAIN_REVOKED, F, 0, NULL, false, false, "NotListed"},
        {"<> with a good cert",      false, true, true,  true,  true,  true,  V, F,
         0, NULL, false, false, "NotListed"},
        {"connector disabled",       true, false, true,  true,  true,  true,  V, F,
         451, "4.7.3 The admin has temporarily disallowed this secure domain", false, false,
         "DomainSecureDisabled"},
        {"disabled beats no TLS",    true, false, false, false, false, false,
         POLICY_CHAIN_REVOKED, F,
         451, "4.7.3 The admin has temporarily disallowed this secure domain", false, false,
         "DomainSecureDisabled"},
        {"STARTTLS not used",        true, true,  true,  false, false, false, V, F,
         530, "5.7.1 Not authenticated", false, false, "NotAuthenticated (STARTTLS not used)"},
        {"not used beats cert facts", true, true, true,  false, true,  false,
         POLICY_CHAIN_REVOKED, F,
         530, "5.7.1 Not authenticated", false, false, "NotAuthenticated (STARTTLS not used)"},
        {"STARTTLS not advertised",  true, true,  false, false, false, false, V, F,
         454, "4.7.0 Temporary authentication failure", false, false,
         "AuthTempFailure (STARTTLS not advertised)"},
        {"not advertised, cert facts", true, true, false, false, true, true, V, F,
         454, "4.7.0 Temporary authentication failure", false, false,
         "AuthTempFailure (STARTTLS not advertised)"},
        {"TLS, no client cert",      true, true,  true,  true,  false, true,  V, F,
         530, "5.7.1 Not authenticated", false, false,
         "NotAuthenticated (no client certificate)"},
        {"no cert beats mismatch",   true, true,  true,  true,  false, false,
         POLICY_CHAIN_UNTRUSTED, F,
         530, "5.7.1 Not authenticated", false, false,
         "NotAuthenticated (no client certificate)"},
        {"name mismatch",            true, true,  true,  true,  true,  false, V, F,
         454, "4.7.5 Certificate validation failure", false, false, "SubjectMismatch"},
        {"mismatch beats revoked",   true, true,  true,  true,  true,  false,
         POLICY_CHAIN_REVOKED, F,
         454, "4.7.5 Certificate validation failure", false, false, "SubjectMismatch"},
        {"mismatch beats rev. accept", true, true, true, true,  true,  false,
         POLICY_CHAIN_REVOCATION_UNKNOWN, A,
         454, "4.7.5 Certificate validation failure", false, false, "SubjectMismatch"},
        {"untrusted",                true, true,  true,  true,  true,  true,
         POLICY_CHAIN_UNTRUSTED, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Untrusted)"},
        {"expired",                  true, true,  true,  true,  true,  true,
         POLICY_CHAIN_EXPIRED, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Expired)"},
        {"not yet valid",            true, true,  true,  true,  true,  true,
         POLICY_CHAIN_NOT_YET_VALID, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (NotYetValid)"},
        {"bad EKU",                  true, true,  true,  true,  true,  true,
         POLICY_CHAIN_BAD_EKU, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (BadEku)"},
        {"revoked",                  true, true,  true,  true,  true,  true,
         POLICY_CHAIN_REVOKED, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Revoked)"},
        {"revoked, revfail accept",  true, true,  true,  true,  true,  true,
         POLICY_CHAIN_REVOKED, A,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Revoked)"},
        {"invalid",                  true, true,  true,  true,  true,  true,
         POLICY_CHAIN_INVALID, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Invalid)"},
        {"untrusted, revfail accept", true, true, true,  true,  true,  true,
         POLICY_CHAIN_UNTRUSTED, A,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Untrusted)"},
        {"revocation unknown, fail", true, true,  true,  true,  true,  true,
         POLICY_CHAIN_REVOCATION_UNKNOWN, F,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (RevocationUnknown)"},
        {"revocation unknown, accept", true, true, true, true,  true,  true,
         POLICY_CHAIN_REVOCATION_UNKNOWN, A, 0, NULL, true, true, "Secured"},
        {"valid, revfail accept",    true, true,  true,  true,  true,  true,  V, A,
         0, NULL, true, false, "Secured"},
        /* Advertising only matters without TLS (e.g. implicit TLS later). */
        {"TLS, STARTTLS not advertised", true, true, false, true, true,  true, V, F,
         0, NULL, true, false, "Secured"},
        /* Out-of-range values fail closed. */
        {"unknown chain value",      true, true,  true,  true,  true,  true,
         (enum policy_chain)99, A,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (Unknown)"},
        {"unknown revfail value",    true, true,  true,  true,  true,  true,
         POLICY_CHAIN_REVOCATION_UNKNOWN, (enum cfg_revfail)7,
         454, "4.7.5 Certificate validation failure", false, false,
         "CertificateValidationFailure (RevocationUnknown)"},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct policy_inbound f = {
            .listed = t[i].listed,
            .connector_secure = t[i].csec,
            .starttls_advertised = t[i].adv,
            .tls = t[i].tls,
            .client_cert = t[i].cert,
            .name_match = t[i].name,
            .chain = t[i].chain,
            .revocation_failure = t[i].rf,
        };
        struct policy_secure_verdict v;

        print_message("%s\n", t[i].label);
        v = policy_mail_secure(&f);
        if (t[i].code == 0) {
            assert_null(v.reply);
        } else {
            assert_non_null(v.reply);
            assert_int_equal(v.reply->code, t[i].code);
            assert_string_equal(v.reply->text, t[i].text);
        }
        assert_true(v.domain_secured == t[i].secured);
        assert_true(v.revocation_accepted == t[i].rev_accepted);
        assert_string_equal(v.rule, t[i].rule);
        /* The session tarpits exactly the NotAuthenticated rows (530). */
        assert_true(v.tarpit == (strncmp(t[i].rule, "NotAuthenticated", 16) == 0));
    }
}

#define REQ_TLS  "451 5.7.3 STARTTLS is required to send mail"
#define DISABLED "451 4.7.3 The admin has temporarily disallowed this secure domain"
#define CERTFAIL "454 4.7.5 Certificate validation failure"
#define NEG      "TLS negotiation failed with response: "
#define CHAIN    "the TLS server certificate chain failed to validate and returned status"
#define SUBJECT  "the TLS server certificate subject did not match"

/* test_send_secure - the outbound checks, step by step */

static void test_send_secure(void **state)
{
    enum { E = POLICY_OUT_EHLO, S = POLICY_OUT_STARTTLS_REPLY, H = POLICY_OUT_HANDSHAKE,
           C = POLICY_OUT_CERT };
    static const struct {
        const char *label;
        /* facts */
        bool    listed, csec, offered;
        int     stcode;
        const char *sttext;
        bool    hs_ok;
        const char *hs_err;
        bool    name;
        enum policy_chain chain;
        enum cfg_revfail rf;
        int     step;
        /* verdict */
        bool    require;
        int     code;
        const char *inner, *reason, *info, *rule;
        bool    secured, rev_accepted;
    } t[] = {
        /* Not listed: nothing required, whatever happens. */
        {"not listed, EHLO", false, true, false, 0, NULL, false, NULL, false,
         POLICY_CHAIN_REVOKED, F, E, false, 0, NULL, NULL, NULL, "NotListed", false, false},
        {"not listed, CERT", false, false, false, 500, "500 no", false, "x", false,
         POLICY_CHAIN_REVOKED, F, C, false, 0, NULL, NULL, NULL, "NotListed", false, false},
        {"not listed, all good", false, true, true, 220, NULL, true, NULL, true, V, F, C,
         false, 0, NULL, NULL, NULL, "NotListed", false, false},
        /* Listed, connector not secure: DomainSecureDisabled at every step. */
        {"disabled at EHLO", true, false, true, 0, NULL, false, NULL, false, V, F, E,
         false, 451, DISABLED, "DomainSecureEnabled was set to false", "",
         "DomainSecureDisabled", false, false},
        {"disabled beats not offered", true, false, false, 0, NULL, false, NULL, false, V, F,
         E, false, 451, DISABLED, "DomainSecureEnabled was set to false", "",
         "DomainSecureDisabled", false, false},
        {"disabled at CERT, all good", true, false, true, 220, NULL, true, NULL, true, V, F, C,
         false, 451, DISABLED, "DomainSecureEnabled was set to false", "",
         "DomainSecureDisabled", false, false},
        /* EHLO. */
        {"EHLO, STARTTLS offered", true, true, true, 0, NULL, false, NULL, false,
         POLICY_CHAIN_REVOKED, F, E, true, 0, NULL, NULL, NULL, "Proceed", false, false},
        {"EHLO, not offered", true, true, false, 0, NULL, false, NULL, false, V, F, E,
         true, 451, REQ_TLS, "TLS was not offered", "", "TlsNotOffered", false, false},
        {"not offered, seen at CERT", true, true, false, 220, NULL, true, NULL, true, V, F, C,
         true, 451, REQ_TLS, "TLS was not offered", "", "TlsNotOffered", false, false},
        /* STARTTLS reply. */
        {"STARTTLS 220", true, true, true, 220, "220 2.0.0 SMTP server ready", false, NULL,
         false, V, F, S, true, 0, NULL, NULL, NULL, "Proceed", false, false},
        {"STARTTLS 454", true, true, true, 454, "454 4.7.0 TLS not available", false, NULL,
         false, V, F, S, true, 451, REQ_TLS, NEG, "454 4.7.0 TLS not available",
         "TlsNegotiationFailed (STARTTLS refused)", false, false},
        {"STARTTLS 250 is not 220", true, true, true, 250, "250 OK", true, NULL, true, V, F, S,
         true, 451, REQ_TLS, NEG, "250 OK", "TlsNegotiationFailed (STARTTLS refused)",
         false, false},
        {"STARTTLS no text", true, true, true, 502, NULL, false, NULL, false, V, F, S,
         true, 451, REQ_TLS, NEG, "", "TlsNegotiationFailed (STARTTLS refused)", false, false},
        {"STARTTLS refused, seen at CERT", true, true, true, 530, "530 5.7.0 no", true, NULL,
         true, V, F, C, true, 451, REQ_TLS, NEG, "530 5.7.0 no",
         "TlsNegotiationFailed (STARTTLS refused)", false, false},
        /* Handshake. */
        {"handshake ok", true, true, true, 220, NULL, true, NULL, false, POLICY_CHAIN_REVOKED,
         F, H, true, 0, NULL, NULL, NULL, "Proceed", false, false},
        {"handshake failed", true, true, true, 220, NULL, false, "unknown CA (-313)", true, V,
         F, H, true, 451, REQ_TLS, NEG, "unknown CA (-313)",
         "TlsNegotiationFailure (handshake)", false, false},
        {"handshake failed, no text", true, true, true, 220, NULL, false, NULL, true, V, F, H,
         true, 451, REQ_TLS, NEG, "", "TlsNegotiationFailure (handshake)", false, false},
        {"handshake failed, seen at CERT", true, true, true, 220, NULL, false, "reset", true,
         V, F, C, true, 451, REQ_TLS, NEG, "reset", "TlsNegotiationFailure (handshake)",
         false, false},
        /* Certificate. */
        {"secured", true, true, true, 220, NULL, true, NULL, true, V, F, C,
         true, 0, NULL, NULL, NULL, "Secured", true, false},
        {"name mismatch", true, true, true, 220, NULL, true, NULL, false, V, F, C,
         true, 454, CERTFAIL, SUBJECT, "", "SubjectMismatch", false, false},
        {"mismatch beats revoked", true, true, true, 220, NULL, true, NULL, false,
         POLICY_CHAIN_REVOKED, F, C, true, 454, CERTFAIL, SUBJECT, "", "SubjectMismatch",
         false, false},
        {"untrusted", true, true, true, 220, NULL, true, NULL, true, POLICY_CHAIN_UNTRUSTED, F,
         C, true, 454, CERTFAIL, CHAIN, "'Untrusted'",
         "CertificateValidationFailure (Untrusted)", false, false},
        {"expired", true, true, true, 220, NULL, true, NULL, true, POLICY_CHAIN_EXPIRED, F, C,
         true, 454, CERTFAIL, CHAIN, "'Expired'", "CertificateValidationFailure (Expired)",
         false, false},
        {"not yet valid", true, true, true, 220, NULL, true, NULL, true,
         POLICY_CHAIN_NOT_YET_VALID, F, C, true, 454, CERTFAIL, CHAIN, "'NotYetValid'",
         "CertificateValidationFailure (NotYetValid)", false, false},
        {"bad EKU", true, true, true, 220, NULL, true, NULL, true, POLICY_CHAIN_BAD_EKU, F, C,
         true, 454, CERTFAIL, CHAIN, "'BadEku'", "CertificateValidationFailure (BadEku)",
         false, false},
        {"revoked, accept", true, true, true, 220, NULL, true, NULL, true, POLICY_CHAIN_REVOKED,
         A, C, true, 454, CERTFAIL, CHAIN, "'Revoked'", "CertificateValidationFailure (Revoked)",
         false, false},
        {"invalid", true, true, true, 220, NULL, true, NULL, true, POLICY_CHAIN_INVALID, F, C,
         true, 454, CERTFAIL, CHAIN, "'Invalid'", "CertificateValidationFailure (Invalid)",
         false, false},
        {"revocation unknown, fail", true, true, true, 220, NULL, true, NULL, true,
         POLICY_CHAIN_REVOCATION_UNKNOWN, F, C, true, 454, CERTFAIL, CHAIN,
         "'RevocationUnknown'", "CertificateValidationFailure (RevocationUnknown)", false, false},
        {"revocation unknown, accept", true, true, true, 220, NULL, true, NULL, true,
         POLICY_CHAIN_REVOCATION_UNKNOWN, A, C, true, 0, NULL, NULL, NULL, "Secured",
         true, true},
        {"unknown chain value", true, true, true, 220, NULL, true, NULL, true,
         (enum policy_chain)42, A, C, true, 454, CERTFAIL, CHAIN, "'Unknown'",
         "CertificateValidationFailure (Unknown)", false, false},
        /* An unknown step runs every check. */
        {"unknown step", true, true, true, 220, NULL, true, NULL, false, V, F, 17,
         true, 454, CERTFAIL, SUBJECT, "", "SubjectMismatch", false, false},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct policy_outbound f = {
            .listed = t[i].listed,
            .connector_secure = t[i].csec,
            .starttls_offered = t[i].offered,
            .starttls_code = t[i].stcode,
            .starttls_text = t[i].sttext,
            .handshake_ok = t[i].hs_ok,
            .handshake_error = t[i].hs_err,
            .name_match = t[i].name,
            .chain = t[i].chain,
            .revocation_failure = t[i].rf,
        };
        struct policy_out_verdict v;

        print_message("%s\n", t[i].label);
        v = policy_send_secure(&f, (enum policy_out_step)t[i].step);
        assert_true(v.require_tls == t[i].require);
        assert_int_equal(v.code, t[i].code);
        if (t[i].inner == NULL) {
            assert_null(v.inner);
            assert_null(v.reason);
        } else {
            assert_string_equal(v.inner, t[i].inner);
            assert_int_equal(v.code, (v.inner[0] - '0') * 100 + (v.inner[1] - '0') * 10
                                     + (v.inner[2] - '0'));
            assert_string_equal(v.reason, t[i].reason);
            assert_non_null(v.info);
            assert_string_equal(v.info, t[i].info);
        }
        assert_string_equal(v.rule, t[i].rule);
        assert_true(v.secured == t[i].secured);
        assert_true(v.revocation_accepted == t[i].rev_accepted);
    }
}

/* test_send_secure_info_borrowed - info points into the facts, not a copy */

static void test_send_secure_info_borrowed(void **state)
{
    char reply[] = "421 4.3.2 busy", err[] = "handshake timeout";
    struct policy_outbound f = {
        .listed = true, .connector_secure = true, .starttls_offered = true,
        .starttls_code = 421, .starttls_text = reply,
        .handshake_error = err,
    };
    struct policy_out_verdict v = policy_send_secure(&f, POLICY_OUT_STARTTLS_REPLY);

    assert_ptr_equal(v.info, reply);
    f.starttls_code = 220;
    v = policy_send_secure(&f, POLICY_OUT_HANDSHAKE);
    assert_ptr_equal(v.info, err);
}

/* test_logline - Exchange's context line, exact bytes */

static void test_logline(void **state)
{
    static const struct {
        const char *domain, *conn, *reason, *info, *want;
    } t[] = {
        {"contoso.com", "Partner", "TLS was not offered", "",
         "Message to secure domain 'contoso.com' on send connector 'Partner' failed because "
         "TLS was not offered ."},
        {"contoso.com", "Partner", "TLS was not offered", NULL,
         "Message to secure domain 'contoso.com' on send connector 'Partner' failed because "
         "TLS was not offered ."},
        {"contoso.com", "Partner", "DomainSecureEnabled was set to false", "",
         "Message to secure domain 'contoso.com' on send connector 'Partner' failed because "
         "DomainSecureEnabled was set to false ."},
        /* Exchange's reason ends in a space: two spaces before the reply. */
        {"fabrikam.com", "To Fabrikam", NEG, "454 4.7.0 TLS not available",
         "Message to secure domain 'fabrikam.com' on send connector 'To Fabrikam' failed "
         "because TLS negotiation failed with response:  454 4.7.0 TLS not available."},
        {"fabrikam.com", "Out", CHAIN, "'Revoked'",
         "Message to secure domain 'fabrikam.com' on send connector 'Out' failed because "
         "the TLS server certificate chain failed to validate and returned status 'Revoked'."},
        {NULL, NULL, NULL, NULL,
         "Message to secure domain '' on send connector '' failed because  ."},
    };
    char buf[512];

    for (size_t i = 0; i < NELEM(t); i++) {
        int n;

        print_message("row %zu\n", i);
        memset(buf, 'X', sizeof(buf));
        n = policy_send_secure_logline(buf, sizeof(buf), t[i].domain, t[i].conn, t[i].reason,
                                       t[i].info);
        assert_string_equal(buf, t[i].want);
        assert_int_equal(n, (int)strlen(t[i].want));
    }
}

/* test_logline_truncated - a short buffer holds a terminated prefix */

static void test_logline_truncated(void **state)
{
    const char *want = "Message to secure domain 'contoso.com' on send connector 'P' failed "
                       "because TLS was not offered .";
    char buf[16];
    int n;

    memset(buf, 'X', sizeof(buf));
    n = policy_send_secure_logline(buf, sizeof(buf), "contoso.com", "P", "TLS was not offered",
                                   "");
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(buf, want, sizeof(buf) - 1);
    assert_int_equal(buf[sizeof(buf) - 1], '\0');
    assert_int_equal(policy_send_secure_logline(NULL, 0, "contoso.com", "P",
                                                "TLS was not offered", ""), (int)strlen(want));
}

/* test_verdict_to_logline - the verdict's reason and info make the Exchange line */

static void test_verdict_to_logline(void **state)
{
    struct policy_outbound f = {
        .listed = true, .connector_secure = true, .starttls_offered = false,
    };
    struct policy_out_verdict v = policy_send_secure(&f, POLICY_OUT_EHLO);
    char buf[256];

    policy_send_secure_logline(buf, sizeof(buf), "contoso.com", "Partner", v.reason, v.info);
    assert_string_equal(buf, "Message to secure domain 'contoso.com' on send connector "
                             "'Partner' failed because TLS was not offered .");
    f.starttls_offered = true;
    f.starttls_code = 454;
    f.starttls_text = "454 4.7.0 TLS not available";
    v = policy_send_secure(&f, POLICY_OUT_STARTTLS_REPLY);
    policy_send_secure_logline(buf, sizeof(buf), "contoso.com", "Partner", v.reason, v.info);
    assert_string_equal(buf, "Message to secure domain 'contoso.com' on send connector "
                             "'Partner' failed because TLS negotiation failed with response:  "
                             "454 4.7.0 TLS not available.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_name),
        cmocka_unit_test(test_name_match),
        cmocka_unit_test(test_secure_listed),
        cmocka_unit_test(test_mail_secure),
        cmocka_unit_test(test_send_secure),
        cmocka_unit_test(test_send_secure_info_borrowed),
        cmocka_unit_test(test_logline),
        cmocka_unit_test(test_logline_truncated),
        cmocka_unit_test(test_verdict_to_logline),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
