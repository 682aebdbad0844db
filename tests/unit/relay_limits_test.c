/*
 * relay_limits_test.c - connection counters: total and per-source limits,
 * release restores capacity, sources are independent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "relay_limits.h"

static void test_per_source(void **state)
{
    char *k1, *k2, *k3, *k4;

    assert_int_equal(relay_limits_acquire("A", 10, "192.0.2.1", 2, &k1), RELAY_LIMIT_OK);
    assert_int_equal(relay_limits_acquire("A", 10, "192.0.2.1", 2, &k2), RELAY_LIMIT_OK);
    assert_int_equal(relay_limits_acquire("A", 10, "192.0.2.1", 2, &k3), RELAY_LIMIT_SOURCE);
    assert_null(k3);
    assert_int_equal(relay_limits_acquire("A", 10, "192.0.2.2", 2, &k4), RELAY_LIMIT_OK);
    assert_int_equal(relay_limits_count("A"), 3);
    relay_limits_release(k1);
    assert_int_equal(relay_limits_acquire("A", 10, "192.0.2.1", 2, &k3), RELAY_LIMIT_OK);
    relay_limits_release(k2);
    relay_limits_release(k3);
    relay_limits_release(k4);
    assert_int_equal(relay_limits_count("A"), 0);
}

static void test_total(void **state)
{
    char *k[3];

    assert_int_equal(relay_limits_acquire("B", 2, "192.0.2.1", 5, &k[0]), RELAY_LIMIT_OK);
    assert_int_equal(relay_limits_acquire("B", 2, "192.0.2.2", 5, &k[1]), RELAY_LIMIT_OK);
    assert_int_equal(relay_limits_acquire("B", 2, "192.0.2.3", 5, &k[2]), RELAY_LIMIT_TOTAL);
    /* Another connector is counted apart. */
    assert_int_equal(relay_limits_acquire("C", 2, "192.0.2.3", 5, &k[2]), RELAY_LIMIT_OK);
    relay_limits_release(k[0]);
    relay_limits_release(k[1]);
    relay_limits_release(k[2]);
    assert_int_equal(relay_limits_count("B"), 0);
    assert_int_equal(relay_limits_count("C"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_source),
        cmocka_unit_test(test_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
