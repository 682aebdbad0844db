/*
 * relay_crl_partner_test.c - a [partner]'s own trusted_ca_file is a CRL
 * issuer: with the test PKI (tests/pki/make-pki.sh) and a CRL of the rogue
 * root (a CA the global trusted_ca_file does not hold) in crl_directory,
 * relay_crl_load() lists that CRL as IssuerUnknown without a partner and as
 * Current once a partner names rogue.pem as its trusted_ca_file; a
 * partner CA file that cannot be read changes nothing.  A partner file
 * holding an intermediate (inter2, revoked by root's CRL) is an issuer,
 * not an anchor: the walk of any chain through it still checks inter2
 * against root's CRL (one partner's file never weakens other chains).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "policy_config.h"
#include "relay_crl.h"
#include "tls_pki_test_util.h"

static int setup(void **state)
{
    (void)state;
    if (pki_build("relay_crl_partner_test") != 0)
        return -1;
    return sh("cd %s && mkdir crl empty crl2 && CA=rogue openssl ca -batch -config ca/openssl.cnf "
              "-gencrl -crldays 30 -out crl/rogue.crl >>ca/openssl.log 2>&1 && "
              "cp www/root.crl www/inter2.crl crl2/ && "
              "openssl x509 -in partner-under-inter2.pem -outform DER -out pui2.der && "
              "openssl x509 -in inter2.pem -outform DER -out inter2.der", path(""));
}

static int teardown(void **state)
{
    (void)state;
    return pki_remove() == 0 ? 0 : -1;
}

/* test_config - a configuration with crl_directory crl_dir (in the PKI) and,
 * if ca is not NULL, one partner whose trusted_ca_file is ca */

static void test_config(struct config *cfg, struct cfg_partner *partner, const char *crl_dir,
                        const char *ca)
{
    memset(cfg, 0, sizeof(*cfg));
    memset(partner, 0, sizeof(*partner));
    cfg->transport.crl_directory = (char *)path(crl_dir);
    cfg->transport.crl_cache_directory = (char *)path("empty");
    cfg->transport.queue_directory = (char *)path("empty");
    cfg->transport.trusted_ca_file = (char *)path("trusted-ca.pem");
    cfg->transport.certificate_store = (char *)path("empty");
    partner->domain = "woodgrovebank.test";
    partner->trusted_ca_file = (char *)ca;
    if (ca != NULL) {
        cfg->partners = partner;
        cfg->npartners = 1;
    }
}

/* rogue_status - the status relay_crl_load gives rogue's CRL, with a
 * partner CA file ca (NULL: no partner section) */

static const char *rogue_status(const char *ca)
{
    static char status[32];
    struct config cfg;
    struct cfg_partner partner;
    struct tls_crl_set *s;
    struct tls_crl_info in;
    const char *why = NULL;

    test_config(&cfg, &partner, "crl", ca);
    s = relay_crl_load(&cfg, &why);
    assert_non_null(s);
    assert_int_equal(tls_crl_set_count(s), 1);
    tls_crl_set_info(s, 0, (int64_t)time(NULL), &in);
    assert_non_null(strstr(in.issuer, "Rogue Test Root CA"));
    snprintf(status, sizeof(status), "%s", in.status);
    tls_crl_set_unref(s);
    return status;
}

static void test_partner_ca_is_a_crl_issuer(void **state)
{
    (void)state;
    assert_string_equal(rogue_status(NULL), "IssuerUnknown");
    assert_string_equal(rogue_status(path("rogue.pem")), "Current");
    assert_string_equal(rogue_status(path("missing.pem")), "IssuerUnknown");
}

/* inter2_verdict - the CRL verdict of partner-under-inter2's chain with a
 * partner whose trusted_ca_file is inter2.pem */

static enum tls_revocation inter2_verdict(char *reason, size_t sz)
{
    struct config cfg;
    struct cfg_partner partner;
    struct tls_crl_set *s;
    struct tls_crl_cert c[2];
    struct tls_crl_result r;
    const char *why = NULL;

    test_config(&cfg, &partner, "crl2", path("inter2.pem"));
    assert_non_null(s = relay_crl_load(&cfg, &why));
    c[0].der = slurp(path("pui2.der"), &c[0].len);
    c[1].der = slurp(path("inter2.der"), &c[1].len);
    tls_crl_check(s, c, 2, (int64_t)time(NULL), &r);
    snprintf(reason, sz, "%s", r.reason);
    free((void *)(uintptr_t)c[0].der);
    free((void *)(uintptr_t)c[1].der);
    tls_crl_set_unref(s);
    return r.verdict;
}

static void test_partner_intermediate_is_no_anchor(void **state)
{
    char    reason[256];

    (void)state;
    assert_int_equal(inter2_verdict(reason, sizeof(reason)), TLS_REV_REVOKED);
    assert_non_null(strstr(reason, "Intermediate CA 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partner_ca_is_a_crl_issuer),
        cmocka_unit_test(test_partner_intermediate_is_no_anchor),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
