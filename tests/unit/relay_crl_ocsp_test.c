/*
 * relay_crl_ocsp_test.c - what a fetched OCSP body may replace in the
 * cache (relay__crl_ocsp_accept): responses by `openssl ocsp -index` for
 * partner-ok of the test PKI (tests/pki/make-pki.sh with OCSP_PORT), from
 * the real index ("good") and from one where partner-ok is revoked.
 *
 *  - a newer good replaces a cached good;
 *  - an older good does not replace a newer cached one;
 *  - a good does not replace a current cached revoked (a replayed old good
 *    must not undo a revocation), a revoked does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "relay_crl_int.h"
#include "tls_ocsp.h"
#include "tls_pki_test_util.h"

#define OCSP_PORT "18126"               /* in the AIA URLs; nothing listens */

static unsigned char *req;              /* the request for partner-ok (malloc()ed) */
static size_t req_len;
static char name[65];

/* respond - the response to req from index, signed by ocsp-inter (malloc()ed) */

static unsigned char *respond(const char *index, size_t *len)
{
    assert_int_equal(sh("cd %s && openssl ocsp -index %s -CA inter.pem -rsigner ocsp-inter.pem "
                        "-rkey ocsp-inter.key -nmin 60 -reqin req.der -respout resp.der "
                        ">>ocsp.log 2>&1", path(""), index), 0);
    return slurp(path("resp.der"), len);
}

/* accept - relay__crl_ocsp_accept of body; the reason ("" if accepted) */

static const char *accept_body(const unsigned char *body, size_t len)
{
    static char why[256];
    int64_t refresh = 0;

    why[0] = '\0';
    relay__crl_ocsp_accept(path("cache"), name, "http://127.0.0.1:" OCSP_PORT "/", req,
                           req_len, body, len, (int64_t)time(NULL), &refresh, why,
                           sizeof(why));
    assert_true(refresh > 0);
    return why;
}

/* cached_status - what the cache holds for req: "good", "revoked" */

static const char *cached_status(int64_t *this_update)
{
    unsigned char key[32], *der;
    size_t  len;
    struct tls_ocsp_info in;

    tls_ocsp_key(req, req_len, key);
    assert_non_null(der = tls_ocsp_cache_get(key, &len));
    assert_int_equal(tls_ocsp_info(der, len, &in), 0);
    free(der);
    *this_update = in.this_update;
    return in.status;
}

static int setup(void **state)
{
    unsigned char *l, *i;
    size_t  ll, il;
    const char *why = NULL;
    FILE   *f;

    (void)state;
    setenv("OCSP_PORT", OCSP_PORT, 1);
    if (pki_build("relay_crl_ocsp_test") != 0
        || sh("cd %s && mkdir cache && for c in partner-ok inter; do openssl x509 -in $c.pem "
              "-outform DER -out $c.der || exit 1; done && "
              "sed '/OU=partner-ok\\//s/^V\\t\\([^\\t]*\\)\\t\\t/R\\t\\1\\t261201000000Z\\t/' "
              "ca/inter/index.txt > revoked-index.txt && "
              "grep -q '^R.*OU=partner-ok/' revoked-index.txt", path("")) != 0)
        return -1;
    l = slurp(path("partner-ok.der"), &ll);
    i = slurp(path("inter.der"), &il);
    if (tls_ocsp_request(l, ll, i, il, &req, &req_len, &why) != 0
        || (f = fopen(path("req.der"), "wb")) == NULL)
        return -1;
    fwrite(req, 1, req_len, f);
    fclose(f);
    free(l);
    free(i);
    relay__crl_ocsp_name(req, req_len, name);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(req);
    tls_ocsp_cache_clear();
    return pki_remove() == 0 ? 0 : -1;
}

/* next_second - poll the clock until the second after t (bounded) */

static void next_second(int64_t t)
{
    struct timespec tick = { 0, 20 * 1000 * 1000 };

    for (int i = 0; i < 100 && (int64_t)time(NULL) <= t; i++)
        nanosleep(&tick, NULL);
    assert_true((int64_t)time(NULL) > t);
}

/* An older response never replaces a newer one; a newer one does. */
static void test_older_is_not_taken(void **state)
{
    size_t  l1, l2;
    unsigned char *old, *new;
    int64_t t1, t2;

    (void)state;
    tls_ocsp_cache_clear();
    old = respond("ca/inter/index.txt", &l1);
    assert_string_equal(accept_body(old, l1), "");
    assert_string_equal(cached_status(&t1), "good");
    next_second(t1);
    new = respond("ca/inter/index.txt", &l2);
    assert_string_equal(accept_body(new, l2), "");
    assert_string_equal(cached_status(&t2), "good");
    assert_true(t2 > t1);
    assert_non_null(strstr(accept_body(old, l1), "older than the cached one"));
    assert_string_equal(cached_status(&t1), "good");
    assert_int_equal(t1, t2);           /* still the newer one */
    free(old);
    free(new);
}

/* A current cached "revoked" stays against a good, even a newer one. */
static void test_revoked_is_final(void **state)
{
    size_t  lg, lr;
    unsigned char *good, *revoked;
    int64_t t;

    (void)state;
    tls_ocsp_cache_clear();
    good = respond("ca/inter/index.txt", &lg);
    revoked = respond("revoked-index.txt", &lr);
    assert_string_equal(accept_body(revoked, lr), "");
    assert_string_equal(cached_status(&t), "revoked");
    assert_non_null(strstr(accept_body(good, lg), "the cached current one revoked"));
    assert_string_equal(cached_status(&t), "revoked");
    next_second(t);
    free(good);
    good = respond("ca/inter/index.txt", &lg);
    assert_non_null(strstr(accept_body(good, lg), "the cached current one revoked"));
    assert_string_equal(cached_status(&t), "revoked");
    assert_string_equal(accept_body(revoked, lr), "");    /* revoked again: taken */
    free(good);
    free(revoked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_older_is_not_taken),
        cmocka_unit_test(test_revoked_is_final),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
