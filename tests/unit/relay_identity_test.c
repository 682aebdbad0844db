/*
 * relay_identity_test.c - relay_tls_identity() for a partner with its own
 * trusted_ca_file whose configuration generation is not installed (what a
 * session that outlived two reloads sees): the partner CA judges nothing,
 * the chain is untrusted, and detail says why (it was "" before).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "relay_tls.h"
#include "tls_conn.h"

static void test_generation_gone(void **state)
{
    static const unsigned char der[] = { 0x30, 0x00 };
    struct config cfg;
    struct cfg_partner p;
    struct tls_facts tf;
    struct policy_identity out;
    char    detail[320] = "x";

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&p, 0, sizeof(p));
    memset(&tf, 0, sizeof(tf));
    p.domain = "woodgrovebank.test";
    p.trusted_ca_file = "/nonexistent/partner-ca.pem";
    cfg.partners = &p;
    cfg.npartners = 1;
    tf.peer_cert = true;
    tf.peer_der = der;
    tf.peer_der_len = sizeof(der);
    snprintf(tf.version, sizeof(tf.version), "TLSv1.3");
    relay_tls_identity(&cfg, &p, &tf, NULL, NULL, 0, true, true, &out, detail, sizeof(detail));
    assert_true(out.partner_judged);
    assert_int_equal(out.partner_chain, POLICY_CHAIN_UNTRUSTED);
    assert_string_equal(detail, RELAY_IDENTITY_NO_ANCHORS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generation_gone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
