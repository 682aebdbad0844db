/*
 * relay_queue_test.c - the queue-file format: a complete file parses, every
 * kind of damage is detected (and named), ids are unique.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay_spool.h"

static const char good[] =
    "DSQ1\nid 0123456789ABCDEF\narrival 2026-11-22T10:00:00.123Z\nconnector Inet\n"
    "client 127.0.0.1:4000\nhelo c.example\nsession 08DE000000000001\nbody 8BITMIME\n"
    "sender <a@b.example>\nrcpt <x@contoso.test>\nrcpt <y@contoso.test>\n"
    "data 0000000000000005\nHELLOend\n";

static void test_parse_good(void **state)
{
    struct relay_qfile qf;
    const char *why = NULL;

    assert_int_equal(relay_queue_parse(good, strlen(good), &qf, &why), 0);
    assert_string_equal(qf.id, "0123456789ABCDEF");
    assert_int_equal(qf.nrcpts, 2);
    assert_int_equal(qf.data_len, 5);
    assert_memory_equal(good + qf.data_off, "HELLO", 5);
    assert_int_equal(qf.sender_len, strlen("a@b.example"));
    assert_memory_equal(qf.sender, "a@b.example", qf.sender_len);
    assert_int_equal(qf.arrival_ms, 1795341600123ULL);
}

static void test_parse_state_records_after_end(void **state)
{
    char buf[1024];
    struct relay_qfile qf;
    const char *why;

    snprintf(buf, sizeof(buf), "%sstate 0 delivered 1795341600999 1 250 ok\n", good);
    assert_int_equal(relay_queue_parse(buf, strlen(buf), &qf, &why), 0);
}

struct damage {
    const char *label;
    const char *from, *to;              /* replace first occurrence */
    const char *why;
};

static const struct damage damages[] = {
    { "bad magic", "DSQ1", "DSQ9", "bad magic" },
    { "truncated data", "HELLOend\n", "HEL", "message data truncated or end marker missing" },
    { "missing end", "end\n", "", "message data truncated or end marker missing" },
    { "length too big", "data 0000000000000005", "data 0000000000000009",
      "message data truncated or end marker missing" },
    { "bad length", "data 0000000000000005", "data 00000000000000zz", "bad data length" },
    { "no recipients", "rcpt <x@contoso.test>\nrcpt <y@contoso.test>\n", "",
      "incomplete envelope" },
    { "bad id", "id 0123456789ABCDEF", "id 0123456789abcdeX", "bad id" },
    { "unknown line", "helo c.example", "hack c.example", "unknown header line" },
    { "bad time", "2026-11-22T10:00:00.123Z", "yesterday", "bad arrival time" },
    { "header cut", "DSQ1\nid", "DSQ1\nid\n", "malformed header line" },
};

static void test_parse_damaged(void **state)
{
    for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
        const struct damage *d = &damages[i];
        char buf[1024];
        const char *at = strstr(good, d->from), *why = NULL;
        struct relay_qfile qf;
        size_t pre = (size_t)(at - good);

        assert_non_null(at);
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)pre, good, d->to, at + strlen(d->from));
        print_message("damage %s\n", d->label);
        assert_int_equal(relay_queue_parse(buf, strlen(buf), &qf, &why), -1);
        assert_string_equal(why, d->why);
    }
}

static void test_ids_unique_and_increasing(void **state)
{
    char prev[RELAY_QID_LEN + 1] = "", id[RELAY_QID_LEN + 1];

    for (int i = 0; i < 1000; i++) {
        relay_queue_new_id(id);
        assert_int_equal(strlen(id), RELAY_QID_LEN);
        assert_true(strcmp(id, prev) > 0);
        memcpy(prev, id, sizeof(id));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_state_records_after_end),
        cmocka_unit_test(test_parse_damaged),
        cmocka_unit_test(test_ids_unique_and_increasing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
