/*
 * policy_secure_sts_test.c - the MTA-STS verdicts of policy_secure.c: the
 * RFC 6125 host name match, every step in enforce and testing mode with
 * its RFC 8460 result type, the queue text, and the result types of the
 * domain-security failures (TLS-RPT for listed domains).
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

/* test_host_match - exact, or a whole-leftmost-label wildcard over one label */

static void test_host_match(void **state)
{
    static const struct {
        const char *label, *host;
        const char *names[3];
        size_t  n;
        bool    match;
    } t[] = {
        {"exact", "mx.woodgrove.test", {"mx.woodgrove.test"}, 1, true},
        {"exact, case", "MX.Woodgrove.TEST", {"mx.woodgrove.test"}, 1, true},
        {"exact, trailing dot host", "mx.woodgrove.test.", {"mx.woodgrove.test"}, 1, true},
        {"exact, trailing dot name", "mx.woodgrove.test", {"mx.woodgrove.test."}, 1, true},
        {"second name", "mx.woodgrove.test", {"other.test", "mx.woodgrove.test"}, 2, true},
        {"wildcard one label", "mx.woodgrove.test", {"*.woodgrove.test"}, 1, true},
        {"wildcard not two labels", "a.mx.woodgrove.test", {"*.woodgrove.test"}, 1, false},
        {"wildcard not the parent", "woodgrove.test", {"*.woodgrove.test"}, 1, false},
        {"wildcard on a one-label suffix", "woodgrove.test", {"*.test"}, 1, false},
        {"partial wildcard label", "mx.woodgrove.test", {"m*.woodgrove.test"}, 1, false},
        {"wildcard not leftmost", "mx.woodgrove.test", {"mx.*.test"}, 1, false},
        {"bare wildcard", "mx.woodgrove.test", {"*"}, 1, false},
        {"domain is not the host (domain-security rule)", "mx.woodgrove.test",
         {"woodgrove.test"}, 1, false},
        {"one label below is not enough", "woodgrove.test", {"mx.woodgrove.test"}, 1, false},
        {"suffix only", "mx.woodgrove.test", {"grove.test"}, 1, false},
        {"longer name", "mx.woodgrove.test", {"mx.woodgrove.test.evil"}, 1, false},
        {"NULL and empty skipped", "mx.woodgrove.test", {NULL, "", "mx.woodgrove.test"}, 3, true},
        {"empty label in name", "mx.woodgrove.test", {"mx..woodgrove.test"}, 1, false},
        {"malformed host", "mx..woodgrove.test", {"mx..woodgrove.test"}, 1, false},
        {"empty host", "", {"mx.woodgrove.test"}, 1, false},
        {"no names", "mx.woodgrove.test", {NULL}, 0, false},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        print_message("%s\n", t[i].label);
        assert_int_equal(policy_cert_host_match(t[i].host, t[i].names, t[i].n), t[i].match);
    }
    assert_false(policy_cert_host_match(NULL, t[0].names, 1));
    assert_false(policy_cert_host_match("mx.woodgrove.test", NULL, 1));
}

/* The session at each step: what was seen so far. */
enum seen { NOT_OFFERED, REFUSED, HS_FAILED, UNTRUSTED, EXPIRED, NOT_YET, REVOKED, REV_UNKNOWN,
            MISMATCH, UNTRUSTED_MISMATCH, OK };

/* facts - the facts of a session that saw s */

static struct policy_sts_outbound facts(bool enforce, enum seen s)
{
    struct policy_sts_outbound f = {
        .enforce = enforce, .starttls_offered = s != NOT_OFFERED,
        .starttls_code = s == REFUSED ? 454 : 220,
        .starttls_text = s == REFUSED ? "454 4.7.0 TLS not available" : NULL,
        .handshake_ok = s != HS_FAILED,
        .handshake_error = s == HS_FAILED ? "no shared cipher" : NULL,
        .chain = POLICY_CHAIN_VALID, .name_match = s != MISMATCH && s != UNTRUSTED_MISMATCH,
    };

    if (s == UNTRUSTED || s == UNTRUSTED_MISMATCH)
        f.chain = POLICY_CHAIN_UNTRUSTED;
    if (s == EXPIRED)
        f.chain = POLICY_CHAIN_EXPIRED;
    if (s == NOT_YET)
        f.chain = POLICY_CHAIN_NOT_YET_VALID;
    if (s == REVOKED)
        f.chain = POLICY_CHAIN_REVOKED;
    if (s == REV_UNKNOWN)
        f.chain = POLICY_CHAIN_REVOCATION_UNKNOWN;
    return f;
}

/* test_verdicts - enforce and testing x every outcome, at the step where it shows */

static void test_verdicts(void **state)
{
    static const struct {
        const char *label;
        enum seen seen;
        enum policy_out_step step;
        const char *result, *reply, *info;      /* result NULL: passes at step */
    } t[] = {
        {"not offered", NOT_OFFERED, POLICY_OUT_EHLO, "starttls-not-supported", "451 4.7.10", ""},
        {"offered: EHLO passes", OK, POLICY_OUT_EHLO, NULL, NULL, ""},
        {"refused", REFUSED, POLICY_OUT_STARTTLS_REPLY, "starttls-not-supported", "451 4.7.10",
         "454 4.7.0 TLS not available"},
        {"refused, seen at EHLO: not yet", REFUSED, POLICY_OUT_EHLO, NULL, NULL, ""},
        {"handshake failed", HS_FAILED, POLICY_OUT_HANDSHAKE, "validation-failure", "451 4.7.5",
         "no shared cipher"},
        {"handshake failed, seen at CERT", HS_FAILED, POLICY_OUT_CERT, "validation-failure",
         "451 4.7.5", "no shared cipher"},
        {"untrusted", UNTRUSTED, POLICY_OUT_CERT, "certificate-not-trusted", "451 4.7.5", ""},
        {"untrusted: the handshake step passes", UNTRUSTED, POLICY_OUT_HANDSHAKE, NULL, NULL, ""},
        {"expired", EXPIRED, POLICY_OUT_CERT, "certificate-expired", "451 4.7.5", ""},
        {"not yet valid", NOT_YET, POLICY_OUT_CERT, "validation-failure", "451 4.7.5",
         "NotYetValid"},
        {"revoked", REVOKED, POLICY_OUT_CERT, "validation-failure", "451 4.7.5", "Revoked"},
        {"revocation unknown passes", REV_UNKNOWN, POLICY_OUT_CERT, NULL, NULL, ""},
        {"name mismatch", MISMATCH, POLICY_OUT_CERT, "certificate-host-mismatch", "451 4.7.5",
         ""},
        {"untrusted beats mismatch", UNTRUSTED_MISMATCH, POLICY_OUT_CERT,
         "certificate-not-trusted", "451 4.7.5", ""},
        {"verified", OK, POLICY_OUT_CERT, NULL, NULL, ""},
        {"unknown step runs every check", MISMATCH, (enum policy_out_step)17,
         "certificate-host-mismatch", "451 4.7.5", ""},
    };

    for (int enforce = 0; enforce < 2; enforce++)
        for (size_t i = 0; i < NELEM(t); i++) {
            struct policy_sts_outbound f = facts(enforce, t[i].seen);
            struct policy_sts_verdict v = policy_send_sts(&f, t[i].step);
            bool at_cert = t[i].step != POLICY_OUT_EHLO && t[i].step != POLICY_OUT_STARTTLS_REPLY
                && t[i].step != POLICY_OUT_HANDSHAKE;

            print_message("%s: %s\n", enforce ? "enforce" : "testing", t[i].label);
            assert_int_equal(v.require_tls, enforce);   /* testing never blocks */
            assert_int_equal(v.failed, t[i].result != NULL);
            assert_int_equal(v.verified, t[i].result == NULL && at_cert);
            if (t[i].result == NULL) {
                assert_null(v.result);
                assert_null(v.why);
                assert_null(v.reply);
            } else {
                assert_string_equal(v.result, t[i].result);
                assert_string_equal(v.reply, t[i].reply);
                assert_non_null(v.why);
            }
            assert_string_equal(v.info, t[i].info);
        }
}

/* test_reply - the queue text names policy, domain, host, why and result type */

static void test_reply(void **state)
{
    struct policy_sts_outbound f = facts(true, MISMATCH);
    struct policy_sts_verdict v = policy_send_sts(&f, POLICY_OUT_CERT);
    char buf[300], small[16];
    int n;

    n = policy_sts_reply(buf, sizeof(buf), "woodgrove.test", "mx.woodgrove.test", &v);
    assert_string_equal(buf, "451 4.7.5 MTA-STS policy of woodgrove.test: mx.woodgrove.test: "
                        "the certificate does not name the MX host (certificate-host-mismatch)");
    assert_int_equal(n, (int)strlen(buf));
    f = facts(true, REFUSED);
    v = policy_send_sts(&f, POLICY_OUT_STARTTLS_REPLY);
    policy_sts_reply(buf, sizeof(buf), "woodgrove.test", "mx.woodgrove.test", &v);
    assert_string_equal(buf, "451 4.7.10 MTA-STS policy of woodgrove.test: mx.woodgrove.test: "
                        "STARTTLS was refused: 454 4.7.0 TLS not available "
                        "(starttls-not-supported)");
    n = policy_sts_reply(small, sizeof(small), "woodgrove.test", "mx", &v);
    assert_true(n > (int)sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* test_secure_result - a listed domain's failures carry their RFC 8460 result type */

static void test_secure_result(void **state)
{
    static const struct {
        const char *label;
        struct policy_outbound f;
        const char *result;
    } t[] = {
        {"disabled: no TLS session judged", {.listed = true}, NULL},
        {"not offered", {.listed = true, .connector_secure = true}, "starttls-not-supported"},
        {"refused", {.listed = true, .connector_secure = true, .starttls_offered = true,
                     .starttls_code = 454}, "starttls-not-supported"},
        {"handshake", {.listed = true, .connector_secure = true, .starttls_offered = true,
                       .starttls_code = 220}, "validation-failure"},
        {"name", {.listed = true, .connector_secure = true, .starttls_offered = true,
                  .starttls_code = 220, .handshake_ok = true}, "certificate-host-mismatch"},
        {"untrusted", {.listed = true, .connector_secure = true, .starttls_offered = true,
                       .starttls_code = 220, .handshake_ok = true, .name_match = true,
                       .chain = POLICY_CHAIN_UNTRUSTED}, "certificate-not-trusted"},
        {"expired", {.listed = true, .connector_secure = true, .starttls_offered = true,
                     .starttls_code = 220, .handshake_ok = true, .name_match = true,
                     .chain = POLICY_CHAIN_EXPIRED}, "certificate-expired"},
        {"revoked", {.listed = true, .connector_secure = true, .starttls_offered = true,
                     .starttls_code = 220, .handshake_ok = true, .name_match = true,
                     .chain = POLICY_CHAIN_REVOKED}, "validation-failure"},
        {"secured", {.listed = true, .connector_secure = true, .starttls_offered = true,
                     .starttls_code = 220, .handshake_ok = true, .name_match = true}, NULL},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct policy_out_verdict v = policy_send_secure(&t[i].f, POLICY_OUT_CERT);

        print_message("%s\n", t[i].label);
        if (t[i].result == NULL)
            assert_null(v.result);
        else
            assert_string_equal(v.result, t[i].result);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_match),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_secure_result),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
