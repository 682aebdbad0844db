/*
 * tls_ocsp_test.c - OCSP requests and responses against `openssl ocsp`.
 *
 * The group setup builds the test PKI (tests/pki/make-pki.sh with
 * OCSP_PORT: leaves of inter carry an AIA OCSP URL, ocsp-inter is inter's
 * delegated responder) and the DER files of the certificates used here.
 * Each test builds its request with tls_ocsp_request() and has `openssl
 * ocsp -index ca/inter/index.txt` answer it (so the request is proven
 * readable by OpenSSL), signed by a chosen certificate, then checks the
 * response with tls_ocsp_check() given the chain leaf, inter, root.
 * partner-ok is good, partner-revoked revoked; unknown-index.txt is the
 * index without partner-ok (the responder then says "unknown").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tls_ocsp.h"
#include "tls_pki_test_util.h"

#define OCSP_PORT "18124"                /* in the AIA URLs; nothing listens */
#define INTER "CN=Domsec Test Intermediate CA, O=Domsec Test PKI"

static const char *validity = "-nmin 5";        /* openssl ocsp's nextUpdate option */

/* answer_by - our request for leaf under issuer, answered by `openssl ocsp
 * -index index -CA issuer` signed by signer (its .pem/.key); the response
 * DER (malloc()ed); *key (if not NULL) the cache key of the request */

static unsigned char *answer_by(const char *leaf, const char *issuer, const char *signer,
                                const char *index, size_t *len, unsigned char *key)
{
    char    file[64];
    unsigned char *l, *i, *req;
    size_t  ll, il, rl;
    const char *why = "";
    FILE   *f;

    snprintf(file, sizeof(file), "%s.der", leaf);
    l = slurp(path(file), &ll);
    snprintf(file, sizeof(file), "%s.der", issuer);
    i = slurp(path(file), &il);
    assert_int_equal(tls_ocsp_request(l, ll, i, il, &req, &rl, &why), 0);
    assert_string_equal(why, "");
    if (key != NULL)
        tls_ocsp_key(req, rl, key);
    assert_non_null(f = fopen(path("req.der"), "wb"));
    assert_int_equal(fwrite(req, 1, rl, f), rl);
    fclose(f);
    assert_int_equal(sh("cd %s && openssl ocsp -index %s -rsigner %s.pem -rkey %s.key "
                        "-CA %s.pem %s -reqin req.der -respout resp.der >>ocsp.log 2>&1",
                        path(""), index, signer, signer, issuer, validity), 0);
    free(l);
    free(i);
    free(req);
    return slurp(path("resp.der"), len);
}

static unsigned char *answer_index(const char *leaf, const char *signer, const char *index,
                                   size_t *len)
{
    return answer_by(leaf, "inter", signer, index, len, NULL);
}

static unsigned char *answer(const char *leaf, const char *signer, size_t *len)
{
    return answer_index(leaf, signer, "ca/inter/index.txt", len);
}

/* check - answer() for leaf, then tls_ocsp_check() at now */

/* chain - the DER certificates leaf (checked), inter, root (malloc()ed) */

static void chain(const char *checked, struct tls_crl_cert c[3])
{
    char    file[64];

    snprintf(file, sizeof(file), "%s.der", checked);
    c[0].der = slurp(path(file), &c[0].len);
    c[1].der = slurp(path("inter.der"), &c[1].len);
    c[2].der = slurp(path("root.der"), &c[2].len);
}

static void chain_free(struct tls_crl_cert c[3])
{
    for (int i = 0; i < 3; i++)
        free((void *)(uintptr_t)c[i].der);
}

/* check - answer() for leaf, then tls_ocsp_check() of checked at now with
 * nup certificates above it */

static void check_up(const char *leaf, const char *signer, const char *checked, size_t nup,
                     int64_t now, struct tls_ocsp_result *r)
{
    size_t  rl;
    unsigned char *resp = answer(leaf, signer, &rl);
    struct tls_crl_cert c[3];

    chain(checked, c);
    tls_ocsp_check(resp, rl, &c[0], &c[1], nup, now, r);
    free(resp);
    chain_free(c);
}

static void check(const char *leaf, const char *signer, const char *checked, int64_t now,
                  struct tls_ocsp_result *r)
{
    check_up(leaf, signer, checked, 2, now, r);
}

static int setup_pki(void **state)
{
    (void)state;
    setenv("OCSP_PORT", OCSP_PORT, 1);
    if (pki_build("tls_ocsp_test") != 0)
        return -1;
    return sh("cd %s && for c in partner-ok partner-revoked inter root inter-wrongkey; do "
              "openssl x509 -in $c.pem -outform DER -out $c.der || exit 1; done && "
              "grep -v '/OU=partner-ok/' ca/inter/index.txt > unknown-index.txt",
              path("")) == 0 ? 0 : -1;
}

static int teardown_pki(void **state)
{
    (void)state;
    return pki_remove() == 0 ? 0 : -1;
}

/* The AIA OCSP URL of a leaf; none in a CA without AIA; garbage gives "". */
static void test_url(void **state)
{
    size_t  n;
    unsigned char *der = slurp(path("partner-ok.der"), &n);
    char    url[256] = "x";

    (void)state;
    tls_ocsp_url(der, n, url, sizeof(url));
    assert_string_equal(url, "http://127.0.0.1:" OCSP_PORT "/");
    tls_ocsp_url(der, n, url, 10);      /* too small: none rather than cut */
    assert_string_equal(url, "");
    free(der);
    der = slurp(path("inter.der"), &n);
    tls_ocsp_url(der, n, url, sizeof(url));
    assert_string_equal(url, "");
    tls_ocsp_url((const unsigned char *)"junk", 4, url, sizeof(url));
    assert_string_equal(url, "");
    free(der);
}

/* OpenSSL reads our request: the serial it asks about is the leaf's. */
static void test_request_readable(void **state)
{
    size_t  rl;
    unsigned char *resp = answer("partner-ok", "ocsp-inter", &rl);
    char    cmd[256], line[256], want[80], serial[64] = "";
    FILE   *p;
    int     found = 0;

    (void)state;
    free(resp);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -serial", path("partner-ok.pem"));
    assert_non_null(p = popen(cmd, "r"));
    assert_non_null(fgets(serial, sizeof(serial), p));
    assert_int_equal(pclose(p), 0);
    serial[strcspn(serial, "\n")] = '\0';
    assert_true(strncmp(serial, "serial=", 7) == 0);
    snprintf(want, sizeof(want), "Serial Number: %s", serial + 7);
    snprintf(cmd, sizeof(cmd), "openssl ocsp -reqin %s -req_text", path("req.der"));
    assert_non_null(p = popen(cmd, "r"));
    while (fgets(line, sizeof(line), p) != NULL)
        found += strstr(line, want) != NULL;
    assert_int_equal(pclose(p), 0);
    assert_int_equal(found, 1);
}

static void test_good(void **state)
{
    struct tls_ocsp_result r;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    check("partner-ok", "ocsp-inter", "partner-ok", now, &r);
    assert_int_equal(r.status, TLS_OCSP_GOOD);
    assert_string_equal(r.reason, "");
    assert_true(r.this_update <= now + 5 && r.this_update >= now - 60);
    assert_int_equal(r.next_update - r.this_update, 300);      /* -nmin 5 */
    assert_string_equal(tls_ocsp_status_name(r.status), "good");
}

/* The issuer may sign its responses itself (then its chain is needed); a
 * delegated responder needs only the issuer. */
static void test_signed_by_issuer(void **state)
{
    struct tls_ocsp_result r;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    check("partner-ok", "inter", "partner-ok", now, &r);
    assert_int_equal(r.status, TLS_OCSP_GOOD);
    check_up("partner-ok", "inter", "partner-ok", 1, now, &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_non_null(strstr(r.reason, "does not verify"));
    check_up("partner-ok", "ocsp-inter", "partner-ok", 1, now, &r);
    assert_int_equal(r.status, TLS_OCSP_GOOD);
    check_up("partner-ok", "ocsp-inter", "partner-ok", 0, now, &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "no OCSP check: the certificate's issuer is not known");
}

/* A response signed by the root for a certificate of inter: the root is in
 * the chain but not the issuer, so it is not the responder. */
static void test_signed_by_root(void **state)
{
    struct tls_ocsp_result r;

    (void)state;
    check("partner-ok", "root", "partner-ok", (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_non_null(strstr(r.reason, "does not verify"));
}

static void test_revoked(void **state)
{
    struct tls_ocsp_result r;

    (void)state;
    check("partner-revoked", "ocsp-inter", "partner-revoked", (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_REVOKED);
    assert_true(strncmp(r.reason, "certificate serial 20", 21) == 0);
    assert_non_null(strstr(r.reason, " revoked (OCSP response of " INTER ")"));
    assert_string_equal(tls_ocsp_status_name(r.status), "revoked");
}

/* A certificate the responder does not know about. */
static void test_status_unknown(void **state)
{
    struct tls_ocsp_result r;

    (void)state;
    size_t  rl;
    unsigned char *resp = answer_index("partner-ok", "ocsp-inter", "unknown-index.txt", &rl);
    struct tls_crl_cert c[3];

    chain("partner-ok", c);
    tls_ocsp_check(resp, rl, &c[0], &c[1], 2, (int64_t)time(NULL), &r);
    free(resp);
    chain_free(c);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "OCSP responder of " INTER " says status unknown");
}

/* A good response about another certificate proves nothing about this one. */
static void test_other_certificate(void **state)
{
    struct tls_ocsp_result r;

    (void)state;
    check("partner-ok", "ocsp-inter", "partner-revoked", (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason,
                        "OCSP response of " INTER " does not cover the certificate");
}

/*
 * Serials 0x12 and 0x1234 of the same issuer: a genuine, signed "good" for
 * 0x12 says nothing about 0x1234 (revoked), whose DER serial it prefixes
 * (wolfSSL's own lookup compares only over the response's serial length).
 */
static void test_serial_prefix(void **state)
{
    struct tls_ocsp_result r;
    size_t  rl;
    unsigned char *resp;
    struct tls_crl_cert c[3];

    (void)state;
    assert_int_equal(sh("cd %s && for s in 12 1234; do "
                        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                        "-subj /CN=s$s.test -keyout s$s.key -out s$s.csr 2>/dev/null && "
                        "openssl x509 -req -in s$s.csr -CA inter.pem -CAkey inter.key "
                        "-set_serial 0x$s -days 2 -outform DER -out s$s.der 2>/dev/null "
                        "|| exit 1; done && "
                        "printf 'V\t301231000000Z\t\t12\tunknown\t/CN=s12.test\n"
                        "R\t301231000000Z\t261201000000Z\t1234\tunknown\t/CN=s1234.test\n'"
                        " > prefix-index.txt", path("")), 0);
    resp = answer_index("s1234", "ocsp-inter", "prefix-index.txt", &rl);   /* sanity */
    chain("s1234", c);
    tls_ocsp_check(resp, rl, &c[0], &c[1], 2, (int64_t)time(NULL), &r);
    free(resp);
    assert_int_equal(r.status, TLS_OCSP_REVOKED);
    resp = answer_index("s12", "ocsp-inter", "prefix-index.txt", &rl);
    tls_ocsp_check(resp, rl, &c[0], &c[1], 2, (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason,
                        "OCSP response of " INTER " does not cover the certificate");
    chain_free(c);
    chain("s12", c);                    /* and it is good for its own certificate */
    tls_ocsp_check(resp, rl, &c[0], &c[1], 2, (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_GOOD);
    free(resp);
    chain_free(c);
}

/* cache_answer - answer_by() put into the cache under its request's key */

static void cache_answer(const char *leaf, const char *issuer, const char *signer,
                         const char *index)
{
    unsigned char key[32], *resp;
    size_t  rl;

    resp = answer_by(leaf, issuer, signer, index, &rl, key);
    tls_ocsp_cache_put(key, resp, rl);
    free(resp);
}

/*
 * The issuer of a chain check is proved by the leaf's signature.  The
 * cache holds the genuine "revoked" for partner-revoked; the impostor
 * inter-wrongkey (inter's name and key identifier, its own key) sent
 * before inter does not hide it (picked by name, it made the verdict
 * "unknown": no CertID for it; wolfSSL_OCSP_cert_to_id refuses an issuer
 * whose key did not sign the leaf, so no response under the impostor's key
 * can even be asked for).  Leaf alone: the
 * issuer comes from the published CRL set's CAs (a partner CA that signs
 * leaves directly and is never sent), again only by signature.
 */
static void test_chain_issuer_by_signature(void **state)
{
    struct tls_crl_cert c[4];
    struct tls_crl_set *s;
    struct tls_ocsp_result r;
    const char *why = NULL;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    tls_ocsp_cache_clear();
    cache_answer("partner-revoked", "inter", "ocsp-inter", "ca/inter/index.txt");
    c[0].der = slurp(path("partner-revoked.der"), &c[0].len);
    c[1].der = slurp(path("inter-wrongkey.der"), &c[1].len);
    c[2].der = slurp(path("inter.der"), &c[2].len);
    c[3].der = slurp(path("root.der"), &c[3].len);
    tls_ocsp_check_chain(c, 4, false, now, &r);
    assert_int_equal(r.status, TLS_OCSP_REVOKED);
    tls_ocsp_check_chain(c, 1, false, now, &r);        /* nothing published */
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "issuer of the certificate neither sent nor a known CA");
    s = tls_crl_set_new();              /* only the impostor known: still no issuer */
    assert_int_equal(tls_crl_set_add_issuers_file(s, path("inter-wrongkey.pem"), true, &why), 0);
    tls_crl_publish(s);
    tls_ocsp_check_chain(c, 1, false, now, &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "issuer of the certificate neither sent nor a known CA");
    s = tls_crl_set_new();
    assert_int_equal(tls_crl_set_add_issuers_file(s, path("inter-wrongkey.pem"), true, &why), 0);
    assert_int_equal(tls_crl_set_add_issuers_file(s, path("inter.pem"), false, &why), 0);
    tls_crl_publish(s);
    tls_ocsp_check_chain(c, 1, false, now, &r);
    assert_int_equal(r.status, TLS_OCSP_REVOKED);
    tls_crl_publish(NULL);
    tls_ocsp_cache_clear();
    for (int i = 0; i < 4; i++)
        free((void *)(uintptr_t)c[i].der);
}

/*
 * A cached response that gives no verdict (here a "revoked" signed by a
 * certificate inter never delegated, as an attacker on the plain-http fetch
 * could plant) is forgotten at its first use, so it cannot keep the genuine
 * answer of the next fetch out of the cache (relay_crl_ocsp.c keeps a cached
 * "revoked" against a later "good"); a verified one stays.
 */
static void test_unverifiable_cached_is_forgotten(void **state)
{
    struct tls_crl_cert c[2];
    struct tls_ocsp_result r;
    unsigned char key[32], *resp, *left;
    size_t  rl, ll = 0;

    (void)state;
    tls_ocsp_cache_clear();
    resp = answer_by("partner-revoked", "inter", "relay", "ca/inter/index.txt", &rl, key);
    tls_ocsp_cache_put(key, resp, rl);
    free(resp);
    c[0].der = slurp(path("partner-revoked.der"), &c[0].len);
    c[1].der = slurp(path("inter.der"), &c[1].len);
    tls_ocsp_check_chain(c, 2, false, (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    left = tls_ocsp_cache_get(key, &ll);
    assert_null(left);
    cache_answer("partner-revoked", "inter", "ocsp-inter", "ca/inter/index.txt");
    tls_ocsp_check_chain(c, 2, false, (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_REVOKED);
    left = tls_ocsp_cache_get(key, &ll);
    assert_non_null(left);
    free(left);
    tls_ocsp_cache_clear();
    for (int i = 0; i < 2; i++)
        free((void *)(uintptr_t)c[i].der);
}

/* Signed by a certificate of the same issuer without OCSPSigning: refused. */
static void test_signer_not_delegated(void **state)
{
    struct tls_ocsp_result r;

    (void)state;
    check("partner-ok", "relay", "partner-ok", (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "OCSP response does not verify with the key of "
                        INTER " or a responder it delegated");
}

/* Past nextUpdate, or thisUpdate too far ahead of our clock. */
static void test_dates(void **state)
{
    struct tls_ocsp_result r;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    check("partner-ok", "ocsp-inter", "partner-ok", now + 301, &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_non_null(strstr(r.reason, "OCSP response of " INTER " is stale since 20"));
    check("partner-ok", "ocsp-inter", "partner-ok", now - 400, &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "OCSP response of " INTER " is not yet valid");
    check("partner-ok", "ocsp-inter", "partner-ok", now + 290, &r);     /* still current */
    assert_int_equal(r.status, TLS_OCSP_GOOD);
}

/* Without nextUpdate a response is current for a day after thisUpdate,
 * never for ever (a captured good could be replayed after a revocation). */
static void test_no_next_update(void **state)
{
    struct tls_ocsp_result r;
    int64_t now = (int64_t)time(NULL);

    (void)state;
    validity = "";
    check("partner-ok", "ocsp-inter", "partner-ok", now + 3600, &r);
    assert_int_equal(r.status, TLS_OCSP_GOOD);
    assert_int_equal(r.next_update, 0);
    check("partner-ok", "ocsp-inter", "partner-ok", now + 86400 + 60, &r);
    validity = "-nmin 5";
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_non_null(strstr(r.reason, "OCSP response of " INTER " (no nextUpdate) is stale "
                           "since 20"));
}

/* Not a response at all; a responder's error status. */
static void test_bad_responses(void **state)
{
    static const unsigned char unauthorized[] = { 0x30, 0x03, 0x0a, 0x01, 0x06 };
    struct tls_ocsp_result r;
    struct tls_crl_cert c[3], bad = { (const unsigned char *)"x", 1 };

    (void)state;
    chain("partner-ok", c);
    tls_ocsp_check((const unsigned char *)"junk", 4, &c[0], &c[1], 2, time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "OCSP response for a certificate of " INTER " "
                        "cannot be parsed");
    tls_ocsp_check(unauthorized, sizeof(unauthorized), &c[0], &c[1], 2, time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_non_null(strstr(r.reason, "OCSP responder of " INTER " answered "));
    tls_ocsp_check(unauthorized, sizeof(unauthorized), &bad, &c[1], 2, time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(r.reason, "no OCSP check: the certificate cannot be read");
    chain_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_request_readable),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_signed_by_issuer),
        cmocka_unit_test(test_signed_by_root),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_status_unknown),
        cmocka_unit_test(test_other_certificate),
        cmocka_unit_test(test_serial_prefix),
        cmocka_unit_test(test_chain_issuer_by_signature),
        cmocka_unit_test(test_signer_not_delegated),
        cmocka_unit_test(test_unverifiable_cached_is_forgotten),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_no_next_update),
        cmocka_unit_test(test_bad_responses),
    };

    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
