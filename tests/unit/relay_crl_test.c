/*
 * relay_crl_test.c - the pure parts of CRL fetching: cache file names
 * (SHA-256 of the URL), the retry backoff and the refresh schedule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay_crl.h"

static void test_cache_name_is_sha256_hex(void **state)
{
    static const struct { const char *in, *hex; } t[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        /* 56 bytes: the length does not fit the first padding block */
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "http://127.0.0.1:8080/inter.crl",
          "d3fed02ebace43931dca2a935b723b9a2826847b01454ad8926a0bcb3e9b903f" },
    };
    char out[65];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        relay__crl_cache_name(t[i].in, out);
        assert_string_equal(out, t[i].hex);
    }
}

static void test_cache_name_of_a_long_url(void **state)
{
    char *a = malloc(1000001), out[65];

    memset(a, 'a', 1000000);
    a[1000000] = '\0';
    relay__crl_cache_name(a, out);
    assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_backoff_doubles_to_an_hour_with_jitter(void **state)
{
    static const struct { unsigned failures, base; } t[] = {
        { 1, 60 }, { 2, 120 }, { 3, 240 }, { 4, 480 }, { 5, 960 }, { 6, 1920 }, { 7, 3600 },
        { 8, 3600 }, { 1000, 3600 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_int_equal(relay__crl_backoff(t[i].failures, 0), t[i].base);
        for (uint32_t r = 1; r < 100000; r = r * 3 + 1) {
            unsigned b = relay__crl_backoff(t[i].failures, r);

            assert_true(b <= t[i].base);
            assert_true(b >= t[i].base - t[i].base / 10);
        }
    }
    assert_int_equal(relay__crl_backoff(1, UINT32_MAX), 60 - UINT32_MAX % 7);
}

static void test_refresh_schedule(void **state)
{
    static const struct {
        const char *label;
        int64_t this_update, next_update, now, want;
    } t[] = {
        { "three quarters into the validity", 1000, 5000, 1000, 4000 },
        { "later than now when fetched late", 1000, 5000, 3000, 4000 },
        { "not sooner than 60 s", 1000, 5000, 3990, 4050 },
        { "60 s even when that passes nextUpdate", 1000, 5000, 4980, 5040 },
        { "stale: at once", 1000, 5000, 5000, 5000 },
        { "stale for long: at once", 1000, 5000, 90000, 90000 },
        { "at most a day ahead", 0, 30 * 86400, 0, 86400 },
        { "no nextUpdate: daily", 1000, 0, 2000, 2000 + 86400 },
        { "nextUpdate before thisUpdate: daily", 5000, 4000, 3000, 3000 + 86400 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int64_t got = relay__crl_refresh_at(t[i].this_update, t[i].next_update, t[i].now);

        if (got != t[i].want)
            fail_msg("%s: got %lld, want %lld", t[i].label, (long long)got,
                     (long long)t[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_name_is_sha256_hex),
        cmocka_unit_test(test_cache_name_of_a_long_url),
        cmocka_unit_test(test_backoff_doubles_to_an_hour_with_jitter),
        cmocka_unit_test(test_refresh_schedule),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
