/*
 * policy_dane_test.c - the DANE verdicts of policy_dane.c: the dane_match
 * fact (DANE-EE without names, DANE-TA with the MX host or the next-hop
 * domain, wildcards, CN fallback as the caller passes it, unusable
 * records), every step with usable and with all-unusable records and its
 * RFC 8460 result type, and the queue text.
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

#include "policy_dane.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* test_match - the dane_match fact */

static void test_match(void **state)
{
    static const struct {
        const char *label;
        bool    usable;
        enum policy_dane_found found;
        const char *names[2];
        size_t  n;
        enum policy_dane want;
    } rows[] = {
        { "EE ignores names", true, POLICY_DANE_FOUND_EE, { "other.example" }, 1,
          POLICY_DANE_EE },
        { "EE with no names", true, POLICY_DANE_FOUND_EE, { NULL }, 0, POLICY_DANE_EE },
        { "TA naming the MX host", true, POLICY_DANE_FOUND_TA, { "mx.woodgrove.test" }, 1,
          POLICY_DANE_TA },
        { "TA naming the domain", true, POLICY_DANE_FOUND_TA, { "x.other", "woodgrove.test" }, 2,
          POLICY_DANE_TA },
        { "TA wildcard over the MX host", true, POLICY_DANE_FOUND_TA, { "*.woodgrove.test" }, 1,
          POLICY_DANE_TA },
        { "TA, MX host in other case, trailing dot", true, POLICY_DANE_FOUND_TA,
          { "MX.Woodgrove.Test." }, 1, POLICY_DANE_TA },
        { "TA naming another host", true, POLICY_DANE_FOUND_TA, { "mx.fabrikam.test" }, 1,
          POLICY_DANE_MISMATCH },
        { "TA wildcard two labels up", true, POLICY_DANE_FOUND_TA, { "*.test" }, 1,
          POLICY_DANE_MISMATCH },
        { "TA without names", true, POLICY_DANE_FOUND_TA, { NULL }, 0, POLICY_DANE_MISMATCH },
        { "nothing found", true, POLICY_DANE_FOUND_NONE, { "mx.woodgrove.test" }, 1,
          POLICY_DANE_MISMATCH },
        { "unusable records: no TLSA whatever matched", false, POLICY_DANE_FOUND_EE,
          { "mx.woodgrove.test" }, 1, POLICY_DANE_UNUSABLE },
        { "unknown found value fails closed", true, (enum policy_dane_found)77,
          { "mx.woodgrove.test" }, 1, POLICY_DANE_MISMATCH },
    };

    (void)state;
    for (size_t i = 0; i < NELEM(rows); i++) {
        enum policy_dane m = policy_dane_match(rows[i].usable, rows[i].found,
                                                     "mx.woodgrove.test", "woodgrove.test",
                                                     rows[i].names, rows[i].n);

        if (m != rows[i].want)
            fail_msg("%s: got %d, want %d", rows[i].label, (int)m, (int)rows[i].want);
    }
    assert_string_equal(policy_dane_match_name(POLICY_DANE_EE), "dane-ee");
    assert_string_equal(policy_dane_match_name(POLICY_DANE_TA), "dane-ta");
    assert_string_equal(policy_dane_match_name(POLICY_DANE_MISMATCH), "none");
    assert_string_equal(policy_dane_match_name(POLICY_DANE_UNUSABLE), "none");
}

enum kind { OK, NOT_OFFERED, REFUSED, HS_FAIL, MISMATCH, TA_NAME, NO_FACT };

/* facts - a session that got as far as kind says */

static struct policy_dane_outbound facts(bool usable, enum kind k)
{
    struct policy_dane_outbound f = {
        .usable = usable, .starttls_offered = k != NOT_OFFERED,
        .starttls_code = k == REFUSED ? 454 : 220,
        .starttls_text = k == REFUSED ? "454 4.7.0 TLS not available" : NULL,
        .handshake_ok = k != HS_FAIL,
        .handshake_error = k == HS_FAIL ? "handshake failure" : NULL,
        .match = k == OK ? POLICY_DANE_EE : k == NO_FACT ? POLICY_DANE_UNUSABLE
            : POLICY_DANE_MISMATCH,
        .ta_name_mismatch = k == TA_NAME,
        .match_why = k == MISMATCH ? "1 certificate sent, none matches a usable TLSA "
                                     "record" : NULL,
    };

    return f;
}

/* test_verdicts - each failure at its step, with usable and unusable records */

static void test_verdicts(void **state)
{
    static const struct {
        const char *label;
        bool    usable;
        enum kind k;
        enum policy_out_step step;
        bool    failed, verified;
        const char *result, *why, *info;
    } rows[] = {
        { "usable, EHLO ok", true, OK, POLICY_OUT_EHLO, false, false, NULL, NULL, "" },
        { "usable, not offered", true, NOT_OFFERED, POLICY_OUT_EHLO, true, false,
          "starttls-not-supported", "STARTTLS was not offered", "" },
        { "unusable, not offered: never plaintext", false, NOT_OFFERED, POLICY_OUT_EHLO, true,
          false, "starttls-not-supported", "STARTTLS was not offered", "" },
        { "usable, refused", true, REFUSED, POLICY_OUT_STARTTLS_REPLY, true, false,
          "starttls-not-supported", "STARTTLS was refused", "454 4.7.0 TLS not available" },
        { "unusable, refused", false, REFUSED, POLICY_OUT_STARTTLS_REPLY, true, false,
          "starttls-not-supported", "STARTTLS was refused", "454 4.7.0 TLS not available" },
        { "refused, judged at EHLO only", true, REFUSED, POLICY_OUT_EHLO, false, false, NULL,
          NULL, "" },
        { "handshake failed", true, HS_FAIL, POLICY_OUT_HANDSHAKE, true, false,
          "validation-failure", "the TLS handshake failed", "handshake failure" },
        { "unusable, handshake failed", false, HS_FAIL, POLICY_OUT_CERT, true, false,
          "validation-failure", "the TLS handshake failed", "handshake failure" },
        { "usable, matched", true, OK, POLICY_OUT_CERT, false, true, NULL, NULL, "" },
        { "usable, matched, handshake step", true, OK, POLICY_OUT_HANDSHAKE, false, false, NULL,
          NULL, "" },
        { "usable, mismatch", true, MISMATCH, POLICY_OUT_CERT, true, false,
          "validation-failure", "the certificate chain does not match the TLSA records",
          "1 certificate sent, none matches a usable TLSA record" },
        { "mismatch not judged before the certificate", true, MISMATCH, POLICY_OUT_HANDSHAKE,
          false, false, NULL, NULL, "" },
        { "usable, DANE-TA without the name", true, TA_NAME, POLICY_OUT_CERT, true, false,
          "validation-failure",
          "the certificate does not name the MX host or the domain (DANE-TA)", "" },
        { "usable, no fact: fails closed", true, NO_FACT, POLICY_OUT_CERT, true, false,
          "validation-failure", "no usable TLSA record", "" },
        { "unusable, mismatch: TLS unauthenticated", false, MISMATCH, POLICY_OUT_CERT, false,
          false, NULL, NULL, "" },
    };

    (void)state;
    for (size_t i = 0; i < NELEM(rows); i++) {
        struct policy_dane_outbound f = facts(rows[i].usable, rows[i].k);
        struct policy_dane_verdict v = policy_send_dane(&f, rows[i].step);

        if (v.failed != rows[i].failed || v.verified != rows[i].verified
            || (v.result == NULL) != (rows[i].result == NULL)
            || (v.result != NULL && strcmp(v.result, rows[i].result) != 0)
            || (v.why == NULL) != (rows[i].why == NULL)
            || (v.why != NULL && strcmp(v.why, rows[i].why) != 0)
            || strcmp(v.info, rows[i].info) != 0
            || (v.failed ? v.reply == NULL || strcmp(v.reply, "451 4.7.5") != 0
                         : v.reply != NULL))
            fail_msg("%s: failed %d verified %d result %s why %s info '%s'", rows[i].label,
                     v.failed, v.verified, v.result ? v.result : "-", v.why ? v.why : "-",
                     v.info);
    }
}

/* test_reply - the queue text names the policy, domain, host, why and result type */

static void test_reply(void **state)
{
    struct policy_dane_outbound f = facts(true, MISMATCH);
    struct policy_dane_verdict v = policy_send_dane(&f, POLICY_OUT_CERT);
    char    buf[400], small[16];
    int     n;

    (void)state;
    n = policy_dane_reply(buf, sizeof(buf), "woodgrove.test", "mx.woodgrove.test", &v);
    assert_string_equal(buf, "451 4.7.5 DANE policy of woodgrove.test: mx.woodgrove.test: "
                        "the certificate chain does not match the TLSA records: 1 certificate "
                        "sent, none matches a usable TLSA record (validation-failure)");
    assert_int_equal(n, (int)strlen(buf));
    f = facts(false, NOT_OFFERED);
    v = policy_send_dane(&f, POLICY_OUT_EHLO);
    policy_dane_reply(buf, sizeof(buf), "woodgrove.test", "mx.woodgrove.test", &v);
    assert_string_equal(buf, "451 4.7.5 DANE policy of woodgrove.test: mx.woodgrove.test: "
                        "STARTTLS was not offered (starttls-not-supported)");
    n = policy_dane_reply(small, sizeof(small), "woodgrove.test", "mx", &v);
    assert_true(n > (int)sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
