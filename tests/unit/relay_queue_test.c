/*
 * relay_queue_test.c - the queue-file format: a complete file parses, every
 * kind of damage is detected (and named): anything looser than what the
 * writer writes (repeated lines, a length or time not in its exact digits,
 * a control character inside <...>), ids are unique.
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
    assert_false(qf.requiretls);        /* a file without the line: as before */
}

/* RFC 8689: "requiretls yes" between body and sender sets the flag */
static void test_parse_requiretls(void **state)
{
    char buf[1024];
    const char *at = strstr(good, "sender ");
    struct relay_qfile qf;
    const char *why = NULL;

    snprintf(buf, sizeof(buf), "%.*srequiretls yes\n%s", (int)(at - good), good, at);
    assert_int_equal(relay_queue_parse(buf, strlen(buf), &qf, &why), 0);
    assert_true(qf.requiretls);
    assert_int_equal(qf.nrcpts, 2);
    assert_memory_equal(buf + qf.data_off, "HELLO", 5);
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
    size_t tolen;                       /* bytes of to (it may hold a NUL); 0: strlen */
    const char *why;
};

#define NUL_IN(s) s, sizeof(s) - 1      /* a replacement with a NUL inside */

static const struct damage damages[] = {
    { "bad magic", "DSQ1", "DSQ9", 0, "bad magic" },
    { "truncated data", "HELLOend\n", "HEL", 0, "message data truncated or end marker missing" },
    { "missing end", "end\n", "", 0, "message data truncated or end marker missing" },
    { "length too big", "data 0000000000000005", "data 0000000000000009", 0,
      "message data truncated or end marker missing" },
    { "bad length", "data 0000000000000005", "data 00000000000000zz", 0, "bad data length" },
    { "no recipients", "rcpt <x@contoso.test>\nrcpt <y@contoso.test>\n", "", 0,
      "incomplete envelope" },
    { "bad id", "id 0123456789ABCDEF", "id 0123456789abcdeX", 0, "bad id" },
    { "unknown line", "helo c.example", "hack c.example", 0, "unknown header line" },
    { "bad time", "2026-11-22T10:00:00.123Z", "yesterday", 0, "bad arrival time" },
    { "header cut", "DSQ1\nid", "DSQ1\nid\n", 0, "malformed header line" },
    /* The length is exactly the 16 upper-case hex digits the writer puts
     * (strtoull took these as 5, 5, 5, 5 and 2^64-5). */
    { "length: leading space", "data 0000000000000005", "data  000000000000005", 0,
      "bad data length" },
    { "length: plus sign", "data 0000000000000005", "data +000000000000005", 0,
      "bad data length" },
    { "length: 0x", "data 0000000000000005", "data 0x00000000000005", 0, "bad data length" },
    { "length: minus sign", "data 0000000000000005", "data -FFFFFFFFFFFFFFB", 0,
      "bad data length" },
    { "length: trailing space", "data 0000000000000005", "data 000000000000005 ", 0,
      "bad data length" },
    /* A repeated line is damage, not "the last one wins". */
    { "repeated sender", "sender <a@b.example>\n",
      "sender <evil@x.example>\nsender <a@b.example>\n", 0, "repeated header line" },
    { "repeated id", "id 0123456789ABCDEF\n", "id FEDCBA9876543210\nid 0123456789ABCDEF\n", 0,
      "repeated header line" },
    { "repeated arrival", "arrival ", "arrival 2020-01-01T00:00:00.000Z\narrival ", 0,
      "repeated header line" },
    { "repeated helo", "helo c.example\n", "helo c.example\nhelo d.example\n", 0,
      "repeated header line" },
    { "repeated body", "body 8BITMIME\n", "body 8BITMIME\nbody 7BIT\n", 0,
      "repeated header line" },
    { "no arrival", "arrival 2026-11-22T10:00:00.123Z\n", "", 0, "incomplete envelope" },
    /* No NUL or other control character inside <...>: the loader would cut
     * the address at a NUL, and a CR would reach an SMTP command line. */
    { "NUL in sender", "sender <a@b.example>", NUL_IN("sender <a@b.exam\0ple>"), "bad sender" },
    { "NUL in recipient", "rcpt <x@contoso.test>", NUL_IN("rcpt <x@contoso.test\0.evil>"),
      "bad recipient" },
    { "CR in recipient", "rcpt <y@contoso.test>", "rcpt <y@contoso.test\rDATA>", 0,
      "bad recipient" },
    { "CR in sender", "sender <a@b.example>", "sender <a@b.example\r>", 0, "bad sender" },
    { "tab in recipient", "rcpt <x@contoso.test>", "rcpt <x@\tcontoso.test>", 0,
      "bad recipient" },
    { "DEL in recipient", "rcpt <x@contoso.test>", "rcpt <x@contoso.test\x7f>", 0,
      "bad recipient" },
    { "NUL in helo", "helo c.example", NUL_IN("helo c.ex\0ample"), "NUL in header line" },
    /* The time is exactly the writer's digits (sscanf took these). */
    { "time: month 13", "2026-11-22T10:00:00.123Z", "2026-13-22T10:00:00.123Z", 0,
      "bad arrival time" },
    { "time: sign", "2026-11-22T10:00:00.123Z", "+026-11-22T10:00:00.123Z", 0,
      "bad arrival time" },
    { "time: short field", "2026-11-22T10:00:00.123Z", "2026-11-22T10:00:00.1Z99", 0,
      "bad arrival time" },
    { "time: 31 February", "2026-11-22T10:00:00.123Z", "2026-02-31T10:00:00.123Z", 0,
      "bad arrival time" },
    { "time: second 60", "2026-11-22T10:00:00.123Z", "2026-11-22T10:00:60.123Z", 0,
      "bad arrival time" },
    { "time: before 1970", "2026-11-22T10:00:00.123Z", "1969-12-31T23:59:59.999Z", 0,
      "bad arrival time" },
    { "time: space", "2026-11-22T10:00:00.123Z", "2026-11-22T 1:00:00.123Z", 0,
      "bad arrival time" },
    { "requiretls: other value", "body 8BITMIME\n", "body 8BITMIME\nrequiretls no\n", 0,
      "bad requiretls" },
    { "requiretls: case", "body 8BITMIME\n", "body 8BITMIME\nrequiretls YES\n", 0,
      "bad requiretls" },
    { "requiretls: trailing space", "body 8BITMIME\n", "body 8BITMIME\nrequiretls yes \n", 0,
      "bad requiretls" },
    { "requiretls: repeated", "body 8BITMIME\n",
      "body 8BITMIME\nrequiretls yes\nrequiretls yes\n", 0, "repeated header line" },
};

static void test_parse_damaged(void **state)
{
    for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
        const struct damage *d = &damages[i];
        char buf[1024];
        const char *at = strstr(good, d->from), *why = NULL;
        struct relay_qfile qf;
        size_t pre = (size_t)(at - good), tolen = d->tolen ? d->tolen : strlen(d->to);
        size_t post = strlen(at + strlen(d->from)), n = pre + tolen + post;

        assert_non_null(at);
        assert_true(n <= sizeof(buf));
        memcpy(buf, good, pre);
        memcpy(buf + pre, d->to, tolen);
        memcpy(buf + pre + tolen, at + strlen(d->from), post);
        print_message("damage %s\n", d->label);
        assert_int_equal(relay_queue_parse(buf, n, &qf, &why), -1);
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
        cmocka_unit_test(test_parse_requiretls),
        cmocka_unit_test(test_parse_state_records_after_end),
        cmocka_unit_test(test_parse_damaged),
        cmocka_unit_test(test_ids_unique_and_increasing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
