/*
 * relay_trouble_test.c - the delivery decisions: recipient outcomes, session
 * replies, Exchange's failover texts, the retry schedule, DSN status codes,
 * and routing by address space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay_trouble.h"

static void test_rcpt_outcomes(void **state)
{
    static const struct { int code; enum relay_outcome o; } t[] = {
        { 250, RELAY_O_DELIVERED }, { 251, RELAY_O_DELIVERED }, { 450, RELAY_O_DEFER },
        { 451, RELAY_O_DEFER }, { 452, RELAY_O_DEFER }, { 550, RELAY_O_FAIL },
        { 554, RELAY_O_FAIL }, { 0, RELAY_O_DEFER }, { 999, RELAY_O_DEFER },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(relay_trouble_rcpt(t[i].code), t[i].o);
}

static void test_session_replies(void **state)
{
    assert_int_equal(relay_trouble_session(220), RELAY_H_CONTINUE);
    assert_int_equal(relay_trouble_session(250), RELAY_H_CONTINUE);
    assert_int_equal(relay_trouble_session(421), RELAY_H_NEXT_HOST);
    assert_int_equal(relay_trouble_session(451), RELAY_H_NEXT_HOST);
    assert_int_equal(relay_trouble_session(554), RELAY_H_FAIL_ALL);
    assert_int_equal(relay_trouble_session(0), RELAY_H_NEXT_HOST);
}

static void test_failover_texts(void **state)
{
    char *a = relay_trouble_failover("451 5.7.3 STARTTLS is required to send mail", false,
                                     "127.0.0.20:25");
    char *b = relay_trouble_failover("connection refused", true, "127.0.0.30:25");
    char *c = relay_trouble_failover("421 4.4.1 Connection timed out.", false, "10.0.0.1:25");

    assert_string_equal(a, "451 4.4.0 Primary target IP address responded with: \"451 5.7.3 "
                        "STARTTLS is required to send mail.\" Attempted failover to alternate "
                        "host, but that did not succeed. Either there are no alternate hosts, or "
                        "delivery failed to all alternate hosts. The last endpoint attempted was "
                        "127.0.0.20:25");
    assert_string_equal(b, "441 4.4.1 Error encountered while communicating with primary target "
                        "IP address: \"connection refused\" Attempted failover to alternate host, "
                        "but that did not succeed. Either there are no alternate hosts, or "
                        "delivery failed to all alternate hosts. The last endpoint attempted was "
                        "127.0.0.30:25");
    /* One final period, as Exchange writes it (KB4051498). */
    assert_non_null(strstr(c, "\"421 4.4.1 Connection timed out.\" Attempted"));
    free(a);
    free(b);
    free(c);
}

static void test_retry_schedule(void **state)
{
    struct cfg_transport t = { 0 };

    t.transient_failure_retry_count = 3;
    t.transient_failure_retry_interval = 1000;
    t.message_retry_interval = 7000;
    t.outbound_connection_failure_retry_interval = 9000;
    assert_int_equal(relay_trouble_retry_after(&t, 0, false), 1000);
    assert_int_equal(relay_trouble_retry_after(&t, 2, true), 1000);
    assert_int_equal(relay_trouble_retry_after(&t, 3, false), 7000);
    assert_int_equal(relay_trouble_retry_after(&t, 3, true), 9000);
    assert_int_equal(relay_trouble_retry_after(&t, 40, false), 7000);
}

static void test_status_codes(void **state)
{
    static const struct { const char *reply, *status; } t[] = {
        { "550 5.1.1 User unknown", "5.1.1" },
        { "556 5.1.10 Recipient address has null MX", "5.1.10" },
        { "550 4.4.7 QUEUE.Expired; message expired", "4.4.7" },
        { "451 4.4.0 Primary target IP address responded with", "4.4.0" },
        { "550 No such user", "5.0.0" },
        { "452 try later", "4.0.0" },
        { "441 4.4.1 Error encountered", "4.4.1" },
        { "550-5.7.1 multi", "5.7.1" },
    };
    char out[16];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        relay_trouble_status(t[i].reply, out);
        assert_string_equal(out, t[i].status);
    }
}

static void test_route_select(void **state)
{
    static char *star[] = { "*" }, *dotc[] = { "*.contoso.com" }, *exact[] = { "contoso.com" },
                *sub[] = { "*.eu.contoso.com" };
    struct cfg_send sends[4] = {
        { .name = "Internet", .address_spaces = { star, 1 } },
        { .name = "Wild", .address_spaces = { dotc, 1 } },
        { .name = "Exact", .address_spaces = { exact, 1 } },
        { .name = "Longer", .address_spaces = { sub, 1 } },
    };
    struct config cfg = { .send = sends, .nsend = 4 };

    assert_string_equal(policy_route_select(&cfg, "fabrikam.com")->name, "Internet");
    assert_string_equal(policy_route_select(&cfg, "contoso.com")->name, "Exact");
    assert_string_equal(policy_route_select(&cfg, "mail.contoso.com")->name, "Wild");
    assert_string_equal(policy_route_select(&cfg, "a.eu.contoso.com")->name, "Longer");
    assert_string_equal(policy_route_select(&cfg, "xcontoso.com")->name, "Internet");
    cfg.nsend = 3;
    cfg.send = sends + 1;               /* no "*": unknown domains are unroutable */
    assert_null(policy_route_select(&cfg, "fabrikam.com"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rcpt_outcomes),
        cmocka_unit_test(test_session_replies),
        cmocka_unit_test(test_failover_texts),
        cmocka_unit_test(test_retry_schedule),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_route_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
