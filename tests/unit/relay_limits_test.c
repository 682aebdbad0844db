/*
 * relay_limits_test.c - connection counters: total and per-source limits,
 * release restores capacity, sources are independent; the process-wide
 * count's high-water mark, and when a burst counts as over.
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

static void test_conn_peak(void **state)
{
    for (int i = 0; i < 5; i++)
        relay_limits_conn(+1);
    for (int i = 0; i < 3; i++)
        relay_limits_conn(-1);
    assert_int_equal(relay_limits_conn_peak(), 5);
    assert_int_equal(relay_limits_conn_peak(), 2);     /* restarted from the count */
    relay_limits_conn(+1);
    relay_limits_conn(-1);
    relay_limits_conn(-1);
    assert_int_equal(relay_limits_conn_peak(), 3);
    relay_limits_conn(-1);
    assert_int_equal(relay_limits_conn_peak(), 1);
    assert_int_equal(relay_limits_conn_peak(), 0);
}

static void test_burst_over(void **state)
{
    static const struct { long peak, now; bool over; } t[] = {
        { 0, 0, false },                /* nothing happened */
        { RELAY_LIMITS_BURST_DROP - 1, 0, false },     /* too small to bother */
        { RELAY_LIMITS_BURST_DROP, 0, true },
        { 100, 50, false },             /* half, but only 50 fewer */
        { 200, 100, true },
        { 200, 101, false },            /* 99 fewer, but more than half left */
        { 1000, 600, false },
        { 10000, 10, true },
        { 10000, 10000, false },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (relay_limits_burst_over(t[i].peak, t[i].now) != t[i].over)
            fail_msg("peak %ld now %ld: want %d", t[i].peak, t[i].now, t[i].over);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_source),
        cmocka_unit_test(test_total),
        cmocka_unit_test(test_conn_peak),
        cmocka_unit_test(test_burst_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
