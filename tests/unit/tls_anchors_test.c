/*
 * tls_anchors_test.c - a partner's own anchor set: a chain under the
 * partner CA (rogue, not in trusted-ca.pem) is Valid against it and a
 * chain under the global CA is Untrusted with the handshake's reason; a
 * serverAuth-only leaf under it is Valid; an intermediate alone works as
 * an anchor; expired stays Expired; load errors; verification from four
 * threads at once on one set.  The group setup builds the test PKI.
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
#include <uv.h>

#include "log.h"
#include "tls_anchors.h"
#include "tls_conn.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_pki_test_util.h"

static int setup_pki(void **state)
{
    if (pki_build("tls_anchors_test") != 0)
        return -1;
    return sh("echo not a certificate > %s", path("junk.pem")) != 0 ? -1 : 0;
}

static int teardown_pki(void **state)
{
    tls_crl_cleanup();
    return pki_remove();
}

/* verdict - judge a PKI file against anchors a */

static void verdict(const struct tls_anchors *a, const char *file, struct tls_anchors_verdict *v)
{
    struct tls_crl_cert *chain = NULL;
    const char *why = NULL;
    size_t  n = 0;

    assert_int_equal(tls_chain_read_pem(path(file), &chain, &n, &why), 0);
    assert_int_equal(tls_anchors_verify(a, chain, n, v), 0);
    tls_chain_free(chain, n);
}

static void test_partner_ca(void **state)
{
    static const struct {
        const char *anchors, *file;
        enum tls_chain chain;
        const char *reason;             /* substring, "" = empty */
    } rows[] = {
        { "rogue.pem", "partner-untrusted.pem", TLS_CHAIN_VALID, "" },
        { "rogue.pem", "partner-serveronly-untrusted.pem", TLS_CHAIN_VALID, "" },
        { "rogue.pem", "partner-ok.pem", TLS_CHAIN_UNTRUSTED,
          "partner sent 2 certificates; issuer CN=Domsec Test Root CA, O=Domsec Test PKI "
          "not found" },
        { "inter.pem", "partner-ok.pem", TLS_CHAIN_VALID, "" },
        { "inter.pem", "partner-expired.pem", TLS_CHAIN_EXPIRED, "" },
        { "inter.pem", "partner-untrusted.pem", TLS_CHAIN_UNTRUSTED, "Rogue Test Root CA" },
        { "trusted-ca.pem", "partner-ok.pem", TLS_CHAIN_VALID, "" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *why = NULL;
        struct tls_anchors *a = tls_anchors_load(path(rows[i].anchors), &why);
        struct tls_anchors_verdict v;

        assert_non_null(a);
        verdict(a, rows[i].file, &v);
        if (v.chain != rows[i].chain
            || (rows[i].reason[0] == '\0' ? v.chain == TLS_CHAIN_UNTRUSTED
                                          : strstr(v.reason, rows[i].reason) == NULL))
            fail_msg("%s against %s: chain %d (want %d) reason \"%s\"", rows[i].file,
                     rows[i].anchors, (int)v.chain, (int)rows[i].chain, v.reason);
        tls_anchors_unref(a);
    }
}

/* Revocation of a valid chain against the published CRLs (inter revokes
 * partner-revoked); nothing published: unknown. */
static void test_revocation(void **state)
{
    struct tls_crl_set *s = tls_crl_set_new();
    const char *why = NULL;
    struct tls_anchors *a = tls_anchors_load(path("inter.pem"), &why);
    struct tls_anchors_verdict v;

    assert_non_null(a);
    assert_int_equal(tls_crl_set_add_issuers_file(s, path("trusted-ca.pem"), true, &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("inter.crl"), &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("root.crl"), &why), 0);
    tls_crl_publish(s);
    verdict(a, "partner-revoked.pem", &v);
    assert_int_equal(v.chain, TLS_CHAIN_VALID);
    assert_int_equal(v.revocation, TLS_REV_REVOKED);
    verdict(a, "partner-ok.pem", &v);
    assert_int_equal(v.revocation, TLS_REV_GOOD);
    tls_crl_publish(NULL);
    verdict(a, "partner-ok.pem", &v);
    assert_int_equal(v.revocation, TLS_REV_UNKNOWN);
    tls_anchors_unref(a);
}

static void test_load_errors(void **state)
{
    const char *why = NULL;
    struct tls_anchors_verdict v;
    struct tls_anchors *a;

    assert_null(tls_anchors_load(path("junk.pem"), &why));
    assert_string_equal(why, "holds no PEM certificate");
    assert_null(tls_anchors_load(path("missing.pem"), &why));
    assert_string_equal(why, "cannot be read");
    a = tls_anchors_load(path("chain.pem"), &why);
    assert_non_null(a);
    assert_true(tls_anchors_count(a) >= 2);
    assert_ptr_equal(tls_anchors_ref(a), a);
    tls_anchors_unref(a);
    assert_int_equal(tls_anchors_verify(a, NULL, 0, &v), -1);
    assert_int_equal(v.chain, TLS_CHAIN_INVALID);
    tls_anchors_unref(a);
}

/* Four threads verify on one set at once: each gets every verdict right. */
struct worker {
    const struct tls_anchors *a;
    struct tls_crl_cert *good, *bad;
    size_t  ngood, nbad;
    int     wrong;
};

static void worker_run(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 50; i++) {
        struct tls_anchors_verdict v;

        if (tls_anchors_verify(w->a, w->good, w->ngood, &v) != 0 || v.chain != TLS_CHAIN_VALID)
            w->wrong++;
        if (tls_anchors_verify(w->a, w->bad, w->nbad, &v) != 0
            || v.chain != TLS_CHAIN_UNTRUSTED)
            w->wrong++;
    }
    tls_thread_cleanup();
}

static void test_threads(void **state)
{
    const char *why = NULL;
    struct tls_anchors *a = tls_anchors_load(path("rogue.pem"), &why);
    struct worker w[4];
    uv_thread_t t[4];

    assert_non_null(a);
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].a = a;
        assert_int_equal(tls_chain_read_pem(path("partner-untrusted.pem"), &w[i].good,
                                            &w[i].ngood, &why), 0);
        assert_int_equal(tls_chain_read_pem(path("partner-ok.pem"), &w[i].bad, &w[i].nbad,
                                            &why), 0);
        assert_int_equal(uv_thread_create(&t[i], worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(uv_thread_join(&t[i]), 0);
        assert_int_equal(w[i].wrong, 0);
        tls_chain_free(w[i].good, w[i].ngood);
        tls_chain_free(w[i].bad, w[i].nbad);
    }
    tls_anchors_unref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partner_ca),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_threads),
    };
    int     rc;

    log_init("tls_anchors_test", LOG_WARN);
    rc = cmocka_run_group_tests(tests, setup_pki, teardown_pki);
    tls_thread_cleanup();
    return rc;
}
