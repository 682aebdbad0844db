/*
 * tls_facts_test.c - a chain read from a file judged as a handshake judges
 * a peer's (tls_facts_from_chain, for `domsec test-partner --inbound`):
 * every kind of certificate of the test PKI against trusted-ca.pem, with
 * the CRLs of inter and root published (root.crl revokes inter2), row by row (chain verdict, the
 * X509_V code, revocation, the reason text); the same with no CRLs; and
 * tls_chain_read_pem on a chain, a file without PEM and a missing file.
 *
 * The group setup builds the test PKI (tls_pki_test_util.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_pki_test_util.h"

static int setup_pki(void **state)
{
    if (pki_build("tls_facts_test") != 0)
        return -1;
    /* partner-ok without its intermediate; a file with no certificate in it. */
    if (sh("sed '/END CERTIFICATE/q' %s > %s", path("partner-ok.pem"), path("leaf-only.pem"))
        != 0 || sh("echo not a certificate > %s", path("junk.pem")) != 0)
        return -1;
    return 0;
}

static int teardown_pki(void **state)
{
    tls_crl_cleanup();
    return pki_remove();
}

/* publish - the CRLs of inter and root, as domsecd publishes its set */

static void publish(void)
{
    struct tls_crl_set *s = tls_crl_set_new();
    const char *why = NULL;

    assert_int_equal(tls_crl_set_add_issuers_file(s, path("trusted-ca.pem"), true, &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("inter.crl"), &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("root.crl"), &why), 0);
    tls_crl_publish(s);
}

struct row {
    const char *file;
    size_t  ncerts;                     /* certificates in the file */
    enum tls_chain chain;
    long    code;                       /* X509_V_* */
    enum tls_revocation rev;
    const char *reason;                 /* substring of tls_facts_detail(), "" = empty */
};

static const struct row rows[] = {
    { "partner-ok.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_GOOD, "" },
    { "partner-revoked.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_REVOKED,
      "revoked by CN=Domsec Test Intermediate CA, O=Domsec Test PKI" },
    { "partner-untrusted.pem", 2, TLS_CHAIN_UNTRUSTED, 20, TLS_REV_NOT_CHECKED,
      "partner sent 2 certificates; chain does not end at a trusted root: CN=Rogue Test "
      "Root CA, O=Rogue Test PKI is not in trusted_ca_file" },
    { "partner-selfsigned.pem", 1, TLS_CHAIN_UNTRUSTED, 18, TLS_REV_NOT_CHECKED,
      "partner sent 1 certificate; self-signed certificate not in trusted_ca_file" },
    { "leaf-only.pem", 1, TLS_CHAIN_UNTRUSTED, 20, TLS_REV_NOT_CHECKED,
      "partner sent 1 certificate; issuer CN=Domsec Test Intermediate CA, O=Domsec Test "
      "PKI not found" },
    { "partner-expired.pem", 2, TLS_CHAIN_EXPIRED, 10, TLS_REV_NOT_CHECKED, "" },
    { "partner-notyet.pem", 2, TLS_CHAIN_NOT_YET_VALID, 9, TLS_REV_NOT_CHECKED, "" },
    { "partner-noeku.pem", 2, TLS_CHAIN_BAD_EKU, 0, TLS_REV_NOT_CHECKED, "" },
    { "partner-noeku-server.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_GOOD, "" },   /* clientAuth */
    /* Its intermediate is revoked by the root (root.crl): the chain is revoked. */
    { "partner-under-inter2.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_REVOKED,
      "(CN=Domsec Test Intermediate CA 2, O=Domsec Test PKI) revoked by CN=Domsec Test Root "
      "CA, O=Domsec Test PKI" },
};

/* judge - read and judge one file of the PKI */

static void judge(const char *file, size_t want_n, struct tls_facts *f)
{
    struct tls_crl_cert *chain = NULL;
    const char *why = NULL;
    size_t  n = 0;

    assert_int_equal(tls_chain_read_pem(path(file), &chain, &n, &why), 0);
    assert_int_equal(n, want_n);
    assert_int_equal(tls_facts_from_chain(chain, n, path("trusted-ca.pem"), f, &why), 0);
    assert_true(f->peer_cert);
    assert_ptr_equal(f->peer_der, chain[0].der);
    f->peer_der = NULL;                 /* freed next */
    tls_chain_free(chain, n);
}

static void test_rows(void **state)
{
    publish();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct tls_facts f;

        judge(r->file, r->ncerts, &f);
        if (f.chain != r->chain || f.verify_code != r->code || f.revocation != r->rev
            || (r->reason[0] == '\0' ? tls_facts_detail(&f)[0] != '\0'
                                     : strstr(tls_facts_detail(&f), r->reason) == NULL))
            fail_msg("%s: chain %d code %ld revocation %d detail \"%s\"", r->file, (int)f.chain,
                     f.verify_code, (int)f.revocation, tls_facts_detail(&f));
    }
    tls_crl_publish(NULL);
}

static void test_no_crls_is_unknown(void **state)
{
    struct tls_facts f;

    tls_crl_publish(NULL);
    judge("partner-ok.pem", 2, &f);
    assert_int_equal(f.chain, TLS_CHAIN_VALID);
    assert_int_equal(f.revocation, TLS_REV_UNKNOWN);
    assert_string_equal(f.revocation_reason, "no CRLs loaded");
}

static void test_read_pem_errors(void **state)
{
    struct tls_crl_cert *chain = NULL;
    struct tls_facts f;
    const char *why = NULL;
    size_t  n = 7;

    assert_int_equal(tls_chain_read_pem(path("junk.pem"), &chain, &n, &why), -1);
    assert_string_equal(why, "holds no PEM certificate");
    assert_null(chain);
    assert_int_equal(n, 0);
    assert_int_equal(tls_chain_read_pem(path("missing.pem"), &chain, &n, &why), -1);
    assert_string_equal(why, "cannot be read");
    assert_int_equal(tls_facts_from_chain(NULL, 0, path("trusted-ca.pem"), &f, &why), -1);
    assert_string_equal(why, "no certificate");
    assert_int_equal(tls_chain_read_pem(path("partner-ok.pem"), &chain, &n, &why), 0);
    assert_int_equal(tls_facts_from_chain(chain, n, path("missing-ca.pem"), &f, &why), -1);
    assert_string_equal(why, "trusted_ca_file cannot be loaded");
    tls_chain_free(chain, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_no_crls_is_unknown),
        cmocka_unit_test(test_read_pem_errors),
    };
    int     rc;

    log_init("tls_facts_test", LOG_WARN);
    rc = cmocka_run_group_tests(tests, setup_pki, teardown_pki);
    tls_thread_cleanup();
    return rc;
}
