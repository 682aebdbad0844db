/*
 * relay_pcert_test.c - the pure parts of keeping partner certificates: a
 * thumbprint as a key and as a file name (nothing but 40 hex digits makes
 * a name, so a log or a peer can never steer the path), the bounded
 * thumbprint set (members found again across growth and removals; past the
 * bound the oldest is evicted, in order) and the rate limit of new files
 * (a token bucket driven by a clock the test passes in).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay_pcert.h"

#define T1 "9876DD242B2C81BD1D4B0719AACDBA52F2DF56EB"

static void test_name(void **state)
{
    char    name[RELAY_PCERT_NAME];
    static const char *const bad[] = {
        "", "9876", T1 "0", "9876DD242B2C81BD1D4B0719AACDBA52F2DF56E",
        "9876DD242B2C81BD1D4B0719AACDBA52F2DF56EG", "../../../../../../../../etc/passwd00000",
        "9876DD242B2C81BD1D4B0719AACDBA52F2DF5/EB", "9876DD242B2C81BD1D4B0719AACDBA52F2DF56E ",
    };

    (void)state;
    assert_true(relay_pcert_name(name, T1));
    assert_string_equal(name, T1 ".pem");
    /* Lower case is the same certificate, and the same file. */
    assert_true(relay_pcert_name(name, "9876dd242b2c81bd1d4b0719aacdba52f2df56eb"));
    assert_string_equal(name, T1 ".pem");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strcpy(name, "x");
        if (relay_pcert_name(name, bad[i]) || name[0] != '\0')
            fail_msg("\"%s\" made a name \"%s\"", bad[i], name);
    }
}

static void test_key(void **state)
{
    unsigned char k[20], l[20];

    (void)state;
    assert_true(relay_pcert_key(T1, 40, k));
    assert_int_equal(k[0], 0x98);
    assert_int_equal(k[19], 0xEB);
    /* A prefix of a longer text, as a directory entry "HEX.pem" is read. */
    assert_true(relay_pcert_key(T1 ".pem", 40, l));
    assert_memory_equal(k, l, 20);
    assert_false(relay_pcert_key(T1, 39, k));
    assert_false(relay_pcert_key("9876DD242B2C81BD1D4B" "\0" "719AACDBA52F2DF56EB", 40, k));
}

/* key_of - a distinct key per i, sharing the low bytes often (probe chains) */

static void key_of(unsigned i, unsigned char key[20])
{
    memset(key, 0, 20);
    key[0] = (unsigned char)(i % 4);    /* many collide in a small table */
    memcpy(key + 10, &i, sizeof(i));
}

static void test_set(void **state)
{
    struct relay_pcert_set s;
    unsigned char k[20], old[20];

    (void)state;
    relay_pcert_set_init(&s, 1000);
    key_of(7, k);
    assert_false(relay_pcert_set_has(&s, k));   /* empty: no table at all */
    for (unsigned i = 0; i < 1000; i++) {
        key_of(i, k);
        assert_int_equal(relay_pcert_set_add(&s, k, old), 1);
        assert_int_equal(relay_pcert_set_add(&s, k, old), 0);
    }
    assert_int_equal(s.n, 1000);
    for (unsigned i = 0; i < 1000; i++) {      /* every one kept through the growths */
        key_of(i, k);
        if (!relay_pcert_set_has(&s, k))
            fail_msg("key %u lost", i);
    }
    assert_true(s.cap >= 2 * s.n);              /* probes stay short */
    relay_pcert_set_free(&s);
    assert_int_equal(s.n, 0);
    assert_false(relay_pcert_set_has(&s, k));
}

static void test_set_evicts_the_oldest(void **state)
{
    struct relay_pcert_set s;
    unsigned char k[20], old[20], want[20];

    (void)state;
    relay_pcert_set_init(&s, 100);
    for (unsigned i = 0; i < 100; i++) {
        key_of(i, k);
        assert_int_equal(relay_pcert_set_add(&s, k, old), 1);
    }
    /* Full: each new one goes in and the oldest comes out, in the order added,
     * however many times round the ring; every other member is still found
     * (a removal in the middle of a probe run must not hide the ones after). */
    for (unsigned i = 100; i < 350; i++) {
        key_of(i, k);
        assert_int_equal(relay_pcert_set_add(&s, k, old), 2);
        key_of(i - 100, want);
        assert_memory_equal(old, want, 20);
        assert_false(relay_pcert_set_has(&s, want));
        assert_int_equal(s.n, 100);
        for (unsigned m = i - 99; m <= i; m++) {
            key_of(m, k);
            if (!relay_pcert_set_has(&s, k))
                fail_msg("key %u lost after adding %u", m, i);
        }
    }
    /* A member is not added again and evicts nothing; an evicted one comes back
     * as the newest, pushing out the oldest. */
    key_of(300, k);
    assert_int_equal(relay_pcert_set_add(&s, k, old), 0);
    key_of(0, k);
    assert_int_equal(relay_pcert_set_add(&s, k, old), 2);
    key_of(250, want);
    assert_memory_equal(old, want, 20);
    assert_true(relay_pcert_set_has(&s, k));
    relay_pcert_set_free(&s);
}

static void test_bucket(void **state)
{
    struct relay_pcert_bucket b = { 0 };
    uint64_t t = 5000000;
    unsigned n = 0;

    (void)state;
    /* A burst of RELAY_PCERT_BURST at once, then nothing at the same instant. */
    while (relay_pcert_bucket_take(&b, t))
        n++;
    assert_int_equal(n, RELAY_PCERT_BURST);
    assert_false(relay_pcert_bucket_take(&b, t + RELAY_PCERT_EVERY_MS - 1));
    /* Sustained: one per RELAY_PCERT_EVERY_MS, never two. */
    for (unsigned i = 1; i <= 50; i++) {
        t += RELAY_PCERT_EVERY_MS;
        assert_true(relay_pcert_bucket_take(&b, t));
        assert_false(relay_pcert_bucket_take(&b, t));
    }
    /* A clock going back gives nothing. */
    assert_false(relay_pcert_bucket_take(&b, t - 10 * RELAY_PCERT_EVERY_MS));
    /* A long pause fills it to the burst again, no more. */
    t += 1000 * (uint64_t)RELAY_PCERT_EVERY_MS;
    for (n = 0; relay_pcert_bucket_take(&b, t); n++)
        ;
    assert_int_equal(n, RELAY_PCERT_BURST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_set_evicts_the_oldest),
        cmocka_unit_test(test_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
