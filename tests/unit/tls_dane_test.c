/*
 * tls_dane_test.c - TLSA matching (tls_dane_match) on chains of the test
 * PKI: DANE-EE(3) by selector 0/1 and matching type 0/1/2 (records made
 * by the openssl CLI, so our SubjectPublicKeyInfo walk is checked against
 * openssl's), names and dates ignored; DANE-TA(2) on the intermediate the
 * peer sent (leaf verifies up to it), refused when the leaf has expired,
 * when the anchor was not sent, when the sent "intermediate" has the right
 * name and the wrong key, when the "anchor" is no CA; an expired anchor
 * still anchors (its dates are not checked); the usable-record filter; no records, no
 * certificate.
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
#include "tls_dane.h"
#include "tls_pki_test_util.h"

static int setup_pki(void **state)
{
    (void)state;
    if (pki_build("tls_dane_test") != 0)
        return -1;
    /* partner-ok's leaf with inter-wrongkey (inter's name, another key). */
    if (sh("cd %s/pki && sed '/END CERTIFICATE/q' partner-ok.pem > leaf-only.pem && "
           "cat leaf-only.pem inter-wrongkey.pem > wrongkey-chain.pem && "
           "cat leaf-only.pem root.pem inter.pem > leaf-root-inter.pem && "
           "sed '/END CERTIFICATE/q' partner-wrongname.pem > wrongname-only.pem && "
           "cat leaf-only.pem wrongname-only.pem > leaf-then-leaf.pem", tmp) != 0)
        return -1;
    /* oldca: a CA under root that expired in 2021; oldleaf: valid now, under it. */
    if (sh("(cd %s/pki && printf '%%s\\n' '[ca]' 'default_ca=x' '[x]' 'database=db.txt' "
           "'new_certs_dir=.' 'serial=db.serial' 'default_md=sha256' 'policy=p' '[p]' "
           "'commonName=supplied' 'organizationName=optional' '[ca_ext]' "
           "'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign' "
           "'subjectKeyIdentifier=hash' '[leaf_ext]' 'basicConstraints=critical,CA:FALSE' "
           "'subjectAltName=DNS:mx.woodgrove.test' > db.cnf && : > db.txt && "
           "echo 1000 > db.serial && "
           "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out oldca.key && "
           "openssl req -new -key oldca.key -subj '/O=Domsec Test PKI/CN=Old CA' -out oldca.csr "
           "&& openssl ca -batch -config db.cnf -notext -cert root.pem -keyfile root.key "
           "-in oldca.csr -out oldca.pem -startdate 20200101000000Z -enddate 20210101000000Z "
           "-extfile db.cnf -extensions ca_ext && "
           "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out oldleaf.key && "
           "openssl req -new -key oldleaf.key -subj '/CN=mx.woodgrove.test' -out oldleaf.csr && "
           "openssl x509 -req -in oldleaf.csr -CA oldca.pem -CAkey oldca.key -CAcreateserial "
           "-days 30 -extfile db.cnf -extensions leaf_ext -out oldleaf-only.pem && "
           "cat oldleaf-only.pem oldca.pem > oldleaf.pem && "
           /* nonca: partner-wrongname (CA:FALSE) signing a leaf with its key. */
           "openssl x509 -req -in oldleaf.csr -CA wrongname-only.pem -CAkey partner-wrongname.key "
           "-CAcreateserial -days 30 -extfile db.cnf -extensions leaf_ext -out byleaf-only.pem && "
           "cat byleaf-only.pem wrongname-only.pem > byleaf.pem) >>%s/pki.log 2>&1", tmp, tmp) != 0)
        return -1;
    return 0;
}

static int teardown_pki(void **state)
{
    (void)state;
    return pki_remove();
}

/* chain_of - the certificates of a PEM file of the test PKI (tls_chain_free) */

static struct tls_crl_cert *chain_of(const char *name, size_t *n)
{
    struct tls_crl_cert *c = NULL;
    const char *why = NULL;

    assert_int_equal(tls_chain_read_pem(path(name), &c, n, &why), 0);
    return c;
}

/*
 * rec_of - a TLSA record for the first certificate of PEM file name, made
 * by the openssl CLI: selector 0 the DER certificate, 1 its DER
 * SubjectPublicKeyInfo; mtype 0 as is, 1 SHA-256, 2 SHA-512.  data is
 * malloc'ed (free it).
 */
static struct tls_tlsa rec_of(unsigned usage, unsigned sel, unsigned mtype, const char *name)
{
    struct tls_tlsa t = { .usage = (uint8_t)usage, .selector = (uint8_t)sel,
                          .mtype = (uint8_t)mtype };
    const char *dgst[] = { "cat", "openssl dgst -sha256 -binary", "openssl dgst -sha512 -binary" };
    unsigned char buf[8192];
    FILE   *fp;

    assert_int_equal(sh("openssl x509 -in %s %s | %s > %s/rec.bin", path(name),
                        sel == 0 ? "-outform DER"
                                 : "-noout -pubkey | openssl pkey -pubin -outform DER",
                        dgst[mtype], tmp), 0);
    snprintf((char *)buf, sizeof(buf), "%s/rec.bin", tmp);
    assert_non_null(fp = fopen((char *)buf, "rb"));
    t.len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    assert_true(t.len > 0);
    t.data = malloc(t.len);
    memcpy(t.data, buf, t.len);
    return t;
}

/* match_one - the outcome of one record against a PEM chain (result in *r) */

static enum tls_dane_outcome match_one(const char *chain_file, struct tls_tlsa t,
                                       struct tls_dane_result *r)
{
    size_t  n;
    struct tls_crl_cert *c = chain_of(chain_file, &n);
    enum tls_dane_outcome o = tls_dane_match(c, n, &t, 1, r);

    tls_chain_free(c, n);
    free(t.data);
    return o;
}

static void test_usable(void **state)
{
    unsigned char d[64] = { 1 };
    struct {
        struct tls_tlsa t;
        bool    usable;
    } rows[] = {
        { { 3, 1, 1, d, 32 }, true }, { { 3, 0, 2, d, 64 }, true }, { { 2, 1, 0, d, 5 }, true },
        { { 2, 0, 1, d, 32 }, true },
        { { 0, 1, 1, d, 32 }, false },          /* PKIX-TA: not for SMTP (RFC 7672 3.1.3) */
        { { 1, 1, 1, d, 32 }, false },          /* PKIX-EE */
        { { 4, 1, 1, d, 32 }, false }, { { 3, 2, 1, d, 32 }, false },
        { { 3, 1, 3, d, 32 }, false },
        { { 3, 1, 1, d, 31 }, false },          /* a SHA-256 digest of the wrong length */
        { { 3, 1, 2, d, 32 }, false }, { { 3, 1, 0, d, 0 }, false },
        { { 3, 1, 1, NULL, 32 }, false },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char    w[16];

        if (tls_tlsa_usable(&rows[i].t) != rows[i].usable)
            fail_msg("row %zu (%s len %zu): usable %d", i,
                     tls_tlsa_words(&rows[i].t, w, sizeof(w)), rows[i].t.len, rows[i].usable);
    }
    assert_false(tls_tlsa_usable(NULL));
}

static void test_ee(void **state)
{
    struct tls_dane_result r;

    (void)state;
    for (unsigned sel = 0; sel <= 1; sel++) {
        for (unsigned m = 0; m <= 2; m++) {
            if (match_one("partner-ok.pem", rec_of(3, sel, m, "partner-ok.pem"), &r)
                != TLS_DANE_MATCH_EE)
                fail_msg("3 %u %u: %s", sel, m, r.why);
            assert_int_equal(r.rec.selector, sel);
            assert_int_equal(r.rec.mtype, m);
            assert_int_equal(r.depth, 0);
            assert_string_equal(r.why, "");
        }
    }
    /* Names and dates are not looked at: an expired, a wrongly named and a
     * self-signed leaf match their own 3 1 1. */
    assert_int_equal(match_one("partner-expired.pem", rec_of(3, 1, 1, "partner-expired.pem"), &r),
                     TLS_DANE_MATCH_EE);
    assert_int_equal(match_one("partner-wrongname.pem",
                               rec_of(3, 1, 1, "partner-wrongname.pem"), &r), TLS_DANE_MATCH_EE);
    assert_int_equal(match_one("partner-selfsigned.pem",
                               rec_of(3, 1, 1, "partner-selfsigned.pem"), &r), TLS_DANE_MATCH_EE);
    /* Another key: no match, and the reason says how many were sent. */
    assert_int_equal(match_one("partner-ok.pem", rec_of(3, 1, 1, "partner-wrongname.pem"), &r),
                     TLS_DANE_NO_MATCH);
    assert_string_equal(r.why, "2 certificates sent, none matches a usable TLSA "
                        "record");
    /* DANE-EE of the intermediate does not authenticate the leaf. */
    assert_int_equal(match_one("partner-ok.pem", rec_of(3, 1, 1, "inter.pem"), &r),
                     TLS_DANE_NO_MATCH);
}

static void test_ta(void **state)
{
    struct tls_dane_result r;

    (void)state;
    for (unsigned sel = 0; sel <= 1; sel++) {
        if (match_one("partner-ok.pem", rec_of(2, sel, 1, "inter.pem"), &r) != TLS_DANE_MATCH_TA)
            fail_msg("2 %u 1: %s", sel, r.why);
        assert_int_equal(r.depth, 1);
        assert_int_equal(r.rec.usage, 2);
    }
    /* The anchor sent after an unrelated certificate still counts. */
    assert_int_equal(match_one("leaf-root-inter.pem", rec_of(2, 1, 1, "inter.pem"), &r),
                     TLS_DANE_MATCH_TA);
    assert_int_equal(r.depth, 2);
    /* Dates of the leaf are checked under DANE-TA. */
    assert_int_equal(match_one("partner-expired.pem", rec_of(2, 1, 1, "inter.pem"), &r),
                     TLS_DANE_NO_MATCH);
    assert_non_null(strstr(r.why, "DANE-TA 2 1 1 matches certificate 1 but the chain does not "
                           "verify up to it: "));
    /* The anchor must be sent: root is the issuer's issuer, not in the chain. */
    assert_int_equal(match_one("partner-ok.pem", rec_of(2, 1, 1, "root.pem"), &r),
                     TLS_DANE_NO_MATCH);
    assert_string_equal(r.why, "2 certificates sent, none matches a usable TLSA "
                        "record");
    /* inter's name with another key: the record matches what was sent, the
     * leaf's signature does not verify under it. */
    assert_int_equal(match_one("wrongkey-chain.pem", rec_of(2, 1, 1, "inter-wrongkey.pem"), &r),
                     TLS_DANE_NO_MATCH);
    assert_non_null(strstr(r.why, "does not verify up to it"));
    /* The leaf is never its own trust anchor. */
    assert_int_equal(match_one("partner-ok.pem", rec_of(2, 1, 1, "partner-ok.pem"), &r),
                     TLS_DANE_NO_MATCH);
    /* A sent end-entity certificate is no trust anchor (not a CA), even
     * when its key signed the leaf. */
    assert_int_equal(match_one("byleaf.pem", rec_of(2, 1, 1, "wrongname-only.pem"), &r),
                     TLS_DANE_NO_MATCH);
    assert_non_null(strstr(r.why, "the trust anchor is not a CA certificate"));
    assert_int_equal(match_one("leaf-then-leaf.pem", rec_of(2, 1, 1, "wrongname-only.pem"), &r),
                     TLS_DANE_NO_MATCH);
    /* The anchor's own dates are not checked (RFC 5280 6.1.1: an anchor is
     * a key and a name): an expired CA named by 2 1 1 still anchors a
     * leaf that is valid itself; a DANE-EE record matches that leaf too. */
    if (match_one("oldleaf.pem", rec_of(2, 1, 1, "oldca.pem"), &r) != TLS_DANE_MATCH_TA)
        fail_msg("expired anchor: %d %s", (int)r.outcome, r.why);
    assert_int_equal(match_one("oldleaf.pem", rec_of(3, 1, 1, "oldleaf.pem"), &r),
                     TLS_DANE_MATCH_EE);
    /* A leaf from another CA than the anchor sent. */
    assert_int_equal(match_one("partner-untrusted.pem", rec_of(2, 1, 1, "inter.pem"), &r),
                     TLS_DANE_NO_MATCH);
}

static void test_several_and_none(void **state)
{
    struct tls_tlsa t[3];
    struct tls_dane_result r;
    struct tls_crl_cert *c;
    size_t  n;

    (void)state;
    c = chain_of("partner-ok.pem", &n);
    t[0] = rec_of(1, 1, 1, "partner-ok.pem");   /* PKIX-EE: unusable, skipped */
    t[1] = rec_of(2, 1, 1, "inter.pem");
    t[2] = rec_of(3, 1, 1, "partner-ok.pem");
    /* EE wins over TA whatever the order. */
    assert_int_equal(tls_dane_match(c, n, t, 3, &r), TLS_DANE_MATCH_EE);
    assert_int_equal(r.rec.usage, 3);
    assert_int_equal(tls_dane_match(c, n, t, 2, &r), TLS_DANE_MATCH_TA);
    /* Only unusable records. */
    assert_int_equal(tls_dane_match(c, n, t, 1, &r), TLS_DANE_NO_RECORDS);
    assert_string_equal(r.why, "no usable TLSA record");
    assert_int_equal(tls_dane_match(c, n, t, 0, &r), TLS_DANE_NO_RECORDS);
    /* No certificate. */
    assert_int_equal(tls_dane_match(c, 0, t, 3, &r), TLS_DANE_NO_CERT);
    assert_string_equal(r.why, "the server sent no certificate");
    /* A digest one bit off. */
    t[2].data[0] ^= 1;
    assert_int_equal(tls_dane_match(c, n, &t[2], 1, &r), TLS_DANE_NO_MATCH);
    for (size_t i = 0; i < 3; i++)
        free(t[i].data);
    tls_chain_free(c, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usable),
        cmocka_unit_test(test_ee),
        cmocka_unit_test(test_ta),
        cmocka_unit_test(test_several_and_none),
    };
    int     rc;

    log_init("tls_dane_test", LOG_WARN);
    rc = cmocka_run_group_tests(tests, setup_pki, teardown_pki);
    tls_thread_cleanup();
    return rc;
}
