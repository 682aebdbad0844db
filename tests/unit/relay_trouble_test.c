/*
 * relay_trouble_test.c - the delivery decisions: relay_decide() row by row
 * over every stage (DNS answers, queue events, connection errors, replies),
 * the retry schedule and expiry it computes, and its building blocks
 * (recipient outcomes, session replies, Exchange's failover texts, DSN
 * status codes), and routing by address space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay_trouble.h"

/* ---- relay_decide, row by row ------------------------------------------ */

#define O_DLV RELAY_O_DELIVERED
#define O_DEF RELAY_O_DEFER
#define O_BNC RELAY_O_FAIL
#define H_CONT RELAY_H_CONTINUE
#define H_NEXT RELAY_H_NEXT_HOST
#define H_END RELAY_H_FAIL_ALL
#define H_FALL RELAY_H_FALLBACK
#define S_JOB RELAY_SCOPE_JOB
#define S_ONE RELAY_SCOPE_ONE
#define S_ACC RELAY_SCOPE_ACCEPTED

static const struct dns_result dns_ok = { .status = DNS_OK, .why = "ok", .nhosts = 1 };
static const struct dns_result dns_nx = { .status = DNS_FAIL, .why = "NXDOMAIN" };
static const struct dns_result dns_bad = { .status = DNS_FAIL, .why = "bad domain name" };
static const struct dns_result dns_noaddr = {
    .status = DNS_FAIL, .why = "no address for any MX host", .nhosts = 2, .no_address = true,
};
static const struct dns_result dns_noaddr_imp = {
    .status = DNS_FAIL, .why = "no MX and no address records", .implicit = true, .nhosts = 1,
    .no_address = true,
};
static const struct dns_result dns_null = { .status = DNS_NULLMX, .why = "null MX" };
static const struct dns_result dns_tmo = { .status = DNS_RETRY, .why = "DNS timeout" };
static const struct dns_result dns_tmo_hosts = {
    .status = DNS_RETRY, .why = "DNS server failure", .nhosts = 1, .no_address = true,
};
static const struct dns_result dns_cancel = { .status = DNS_CANCELED, .why = "canceled" };

#define FAILOVER_TAIL " Attempted failover to alternate host, but that did not succeed. " \
    "Either there are no alternate hosts, or delivery failed to all alternate hosts. "   \
    "The last endpoint attempted was "

struct decide_row {
    const char *label;
    struct relay_event ev;
    enum relay_outcome rcpt;
    enum relay_scope scope;
    enum relay_host_action host;
    const char *text;                   /* NULL: no text */
    const char *status;
    int     code;
    bool    conn_failure;
};

static const struct decide_row decide_rows[] = {
    /* DNS: the three permanent texts are distinct (issue 12). */
    { "dns ok", { .stage = RELAY_S_DNS, .dns = &dns_ok }, O_DEF, S_JOB, H_CONT, NULL,
      "4.0.0", 0, false },
    { "dns nxdomain", { .stage = RELAY_S_DNS, .dns = &dns_nx }, O_BNC, S_JOB, H_END,
      "550 5.1.2 DNS domain does not exist", "5.1.2", 0, false },
    { "dns bad name", { .stage = RELAY_S_DNS, .dns = &dns_bad }, O_BNC, S_JOB, H_END,
      "550 5.1.2 DNS domain does not exist", "5.1.2", 0, false },
    { "dns mx hosts without address", { .stage = RELAY_S_DNS, .dns = &dns_noaddr }, O_BNC,
      S_JOB, H_END,
      "550 5.4.4 Unable to route: no MX host of the recipient domain has an address",
      "5.4.4", 0, false },
    { "dns implicit mx without address", { .stage = RELAY_S_DNS, .dns = &dns_noaddr_imp },
      O_BNC, S_JOB, H_END,
      "550 5.4.4 Unable to route: the recipient domain has no MX and no address",
      "5.4.4", 0, false },
    { "dns null mx", { .stage = RELAY_S_DNS, .dns = &dns_null }, O_BNC, S_JOB, H_END,
      "556 5.1.10 Recipient address has null MX", "5.1.10", 0, false },
    { "dns timeout", { .stage = RELAY_S_DNS, .dns = &dns_tmo }, O_DEF, S_JOB, H_END,
      "451 4.4.0 DNS query failed: DNS timeout", "4.4.0", 0, false },
    { "dns mx hosts transient", { .stage = RELAY_S_DNS, .dns = &dns_tmo_hosts }, O_DEF, S_JOB,
      H_END, "451 4.4.0 DNS query failed: DNS server failure", "4.4.0", 0, false },
    { "dns canceled by the stop", { .stage = RELAY_S_DNS, .dns = &dns_cancel }, O_DEF, S_JOB,
      H_END, "451 4.4.0 delivery interrupted by shutdown", "4.4.0", 0, false },
    /* The queue manager's own events. */
    { "no smart host address", { .stage = RELAY_S_SMARTHOST }, O_DEF, S_JOB, H_END,
      "451 4.4.0 No address for any smart host", "4.4.0", 0, false },
    { "read error", { .stage = RELAY_S_READ }, O_DEF, S_ONE, H_CONT,
      "451 4.3.0 Cannot read the queued message", "4.3.0", 0, false },
    { "unreachable", { .stage = RELAY_S_ROUTE }, O_DEF, S_ONE, H_CONT,
      "451 4.4.4 Unreachable: no send connector's address space covers the recipient domain",
      "4.4.4", 0, false },
    { "expired", { .stage = RELAY_S_EXPIRY }, O_BNC, S_JOB, H_CONT,
      "550 4.4.7 QUEUE.Expired; message expired", "4.4.7", 0, false },
    { "shutdown", { .stage = RELAY_S_SHUTDOWN }, O_DEF, S_JOB, H_END,
      "451 4.4.0 delivery interrupted by shutdown", "4.4.0", 0, false },
    /* MTA-STS enforce (issue 16): defer, never another host. */
    { "mta-sts: no mx matches",
      { .stage = RELAY_S_STS, .domain = "woodgrove.test", .text = "mx.evil.test" }, O_DEF,
      S_JOB, H_END, "451 4.7.5 MTA-STS policy of woodgrove.test: no MX host matches the "
      "policy (mx.evil.test)", "4.7.5", 0, false },
    { "mta-sts: allowed mx without address",
      { .stage = RELAY_S_STS, .domain = "woodgrove.test", .text = "" }, O_DEF, S_JOB, H_END,
      "451 4.7.5 MTA-STS policy of woodgrove.test: no MX host that the policy allows has an "
      "address", "4.7.5", 0, false },
    { "all hosts: last a reply",
      { .stage = RELAY_S_ALL_HOSTS, .text = "421 4.3.2 Service not available",
        .endpoint = "127.0.0.9:25" }, O_DEF, S_JOB, H_END,
      "451 4.4.0 Primary target IP address responded with: \"421 4.3.2 Service not "
      "available.\"" FAILOVER_TAIL "127.0.0.9:25", "4.4.0", 0, false },
    { "all hosts: last a connection error",
      { .stage = RELAY_S_ALL_HOSTS, .error = RELAY_E_CONN, .text = "connection refused",
        .endpoint = "127.0.0.9:25" }, O_DEF, S_JOB, H_END,
      "441 4.4.1 Error encountered while communicating with primary target IP address: "
      "\"connection refused\"" FAILOVER_TAIL "127.0.0.9:25", "4.4.1", 0, true },
    { "all hosts: nothing tried", { .stage = RELAY_S_ALL_HOSTS, .error = RELAY_E_CONN },
      O_DEF, S_JOB, H_END,
      "441 4.4.1 Error encountered while communicating with primary target IP address: "
      "\"no answer\"" FAILOVER_TAIL "(none)", "4.4.1", 0, true },
    { "result: delivered", { .stage = RELAY_S_RESULT, .code = 250, .text = "250 2.0.0 OK" },
      O_DLV, S_ONE, H_CONT, "250 2.0.0 OK", "2.0.0", 250, false },
    { "result: refused", { .stage = RELAY_S_RESULT, .code = 550, .text = "550 No such user" },
      O_BNC, S_ONE, H_CONT, "550 No such user", "5.0.0", 550, false },
    { "result: no answer", { .stage = RELAY_S_RESULT }, O_DEF, S_ONE, H_CONT,
      "451 4.4.0 delivery attempt ended", "4.4.0", 0, false },
    { "result: no answer, shutdown",
      { .stage = RELAY_S_RESULT, .text = "delivery interrupted by shutdown" }, O_DEF, S_ONE,
      H_CONT, "delivery interrupted by shutdown", "4.0.0", 0, false },
    { "retry", { .stage = RELAY_S_RETRY, .conn_failure = true }, O_DEF, S_JOB, H_CONT, NULL,
      "4.0.0", 0, true },
    /* A connection that could not do its part. */
    { "connect refused",
      { .stage = RELAY_S_CONNECT, .error = RELAY_E_CONN, .text = "connection refused" },
      O_DEF, S_JOB, H_NEXT, "connection refused", "4.0.0", 0, true },
    { "lost waiting for RCPT", { .stage = RELAY_S_RCPT, .error = RELAY_E_CONN }, O_DEF, S_JOB,
      H_NEXT, "connection lost while waiting for the reply to RCPT TO", "4.0.0", 0, true },
    { "lost sending", { .stage = RELAY_S_DOT, .error = RELAY_E_CONN, .text = "connection lost" },
      O_DEF, S_JOB, H_NEXT, "connection lost", "4.0.0", 0, true },
    { "connect timeout", { .stage = RELAY_S_CONNECT, .error = RELAY_E_TIMEOUT }, O_DEF, S_JOB,
      H_NEXT, "timeout while waiting for the reply to connect", "4.0.0", 0, true },
    { "dot timeout", { .stage = RELAY_S_DOT, .error = RELAY_E_TIMEOUT }, O_DEF, S_JOB, H_NEXT,
      "timeout while waiting for the reply to end of data", "4.0.0", 0, false },
    { "malformed reply", { .stage = RELAY_S_EHLO, .error = RELAY_E_PROTOCOL }, O_DEF, S_JOB,
      H_NEXT, "protocol error: malformed reply", "4.0.0", 0, false },
    { "secure domain refused",
      { .stage = RELAY_S_TLS, .error = RELAY_E_SECURE,
        .text = "454 4.7.5 Certificate validation failure" }, O_DEF, S_JOB, H_NEXT,
      "454 4.7.5 Certificate validation failure", "4.7.5", 0, false },
    { "require_tls, no TLS", { .stage = RELAY_S_EHLO, .error = RELAY_E_NO_TLS }, O_DEF, S_JOB,
      H_NEXT, "451 5.7.3 STARTTLS is required to send mail", "5.7.3", 0, false },
    { "handshake failed, opportunistic",
      { .stage = RELAY_S_TLS, .error = RELAY_E_HANDSHAKE, .text = "handshake error" }, O_DEF,
      S_JOB, H_FALL, "handshake error", "4.0.0", 0, false },
    { "handshake failed, require_tls",
      { .stage = RELAY_S_TLS, .error = RELAY_E_HANDSHAKE, .text = "handshake error",
        .require_tls = true }, O_DEF, S_JOB, H_NEXT,
      "451 5.7.3 STARTTLS is required to send mail", "5.7.3", 0, false },
    { "too big for the peer", { .stage = RELAY_S_MAIL, .error = RELAY_E_TOO_BIG }, O_BNC,
      S_JOB, H_CONT, "552 5.3.4 Message size exceeds fixed maximum message size", "5.3.4",
      552, false },
    { "REQUIRETLS, TLS not verified", { .stage = RELAY_S_MAIL, .error = RELAY_E_REQUIRETLS_TLS,
        .text = "mx.x.test [127.0.0.1:25]" }, O_BNC, S_JOB, H_CONT,
      "550 5.7.10 REQUIRETLS: the connection to mx.x.test [127.0.0.1:25] is not verified TLS "
      "(neither the domain-secure list, DANE with usable TLSA records, an MTA-STS policy in "
      "enforce mode - testing mode does not count - nor a verified smart host applies); the "
      "message was not sent", "5.7.10",
      550, false },
    /* No policy known because its lookup failed: wait for it (expiry bounces). */
    { "REQUIRETLS, MTA-STS lookup failed",
      { .stage = RELAY_S_MAIL, .error = RELAY_E_REQUIRETLS_TLS, .domain = "x.test",
        .sts_failure = "sts-policy-fetch-error", .text = "mx.x.test [127.0.0.1:25]" }, O_DEF,
      S_JOB, H_CONT,
      "451 4.7.10 REQUIRETLS: the MTA-STS policy of x.test could not be obtained "
      "(sts-policy-fetch-error), so the connection to mx.x.test [127.0.0.1:25] cannot be "
      "verified; the message was not sent and waits for the policy", "4.7.10", 451, false },
    /* RFC 8689 4.2.1: another MX may offer REQUIRETLS: try it first. */
    { "REQUIRETLS not offered, another address left",
      { .stage = RELAY_S_MAIL, .error = RELAY_E_REQUIRETLS_PEER, .hosts_left = true,
        .text = "mx.x.test [127.0.0.1:25]" }, O_DEF, S_JOB, H_NEXT,
      "550 5.7.30 REQUIRETLS support required: mx.x.test [127.0.0.1:25] does not offer "
      "REQUIRETLS; the message was not sent", "5.7.30", 0, false },
    { "REQUIRETLS not offered", { .stage = RELAY_S_MAIL, .error = RELAY_E_REQUIRETLS_PEER,
        .text = "mx.x.test [127.0.0.1:25]" }, O_BNC, S_JOB, H_CONT,
      "550 5.7.30 REQUIRETLS support required: mx.x.test [127.0.0.1:25] does not offer "
      "REQUIRETLS; the message was not sent", "5.7.30", 550, false },
    { "job taken back at stop", { .stage = RELAY_S_RCPT, .error = RELAY_E_SHUTDOWN }, O_DEF,
      S_JOB, H_END, "delivery interrupted by shutdown", "4.0.0", 0, true },
    /* Replies. */
    { "banner 220", { .stage = RELAY_S_BANNER, .code = 220, .text = "220 hi" }, O_DEF, S_JOB,
      H_CONT, NULL, "4.0.0", 220, false },
    { "banner 421", { .stage = RELAY_S_BANNER, .code = 421, .text = "421 4.3.2 busy" }, O_DEF,
      S_JOB, H_NEXT, "421 4.3.2 busy", "4.3.2", 421, false },
    { "banner 554", { .stage = RELAY_S_BANNER, .code = 554, .text = "554 5.7.1 go away" },
      O_BNC, S_JOB, H_END, "554 5.7.1 go away", "5.7.1", 554, false },
    { "EHLO 250", { .stage = RELAY_S_EHLO, .code = 250, .text = "250 ok" }, O_DEF, S_JOB,
      H_CONT, NULL, "4.0.0", 250, false },
    { "EHLO 502: HELO", { .stage = RELAY_S_EHLO, .code = 502, .text = "502 5.5.1 no" }, O_DEF,
      S_JOB, H_FALL, "502 5.5.1 no", "5.5.1", 502, false },
    { "EHLO 421", { .stage = RELAY_S_EHLO, .code = 421, .text = "421 bye" }, O_DEF, S_JOB,
      H_NEXT, "421 bye", "4.0.0", 421, false },
    { "HELO 550", { .stage = RELAY_S_HELO, .code = 550, .text = "550 no" }, O_BNC, S_JOB, H_END,
      "550 no", "5.0.0", 550, false },
    { "STARTTLS 220", { .stage = RELAY_S_STARTTLS, .code = 220, .text = "220 go" }, O_DEF,
      S_JOB, H_CONT, NULL, "4.0.0", 220, false },
    { "STARTTLS 454, opportunistic",
      { .stage = RELAY_S_STARTTLS, .code = 454, .text = "454 4.7.0 TLS not available" },
      O_DEF, S_JOB, H_FALL, "454 4.7.0 TLS not available", "4.7.0", 454, false },
    { "STARTTLS 454, require_tls",
      { .stage = RELAY_S_STARTTLS, .code = 454, .text = "454 4.7.0 TLS not available",
        .require_tls = true }, O_DEF, S_JOB, H_NEXT,
      "451 5.7.3 STARTTLS is required to send mail", "5.7.3", 454, false },
    { "RSET 500", { .stage = RELAY_S_RSET, .code = 500, .text = "500 what" }, O_DEF, S_JOB,
      H_CONT, NULL, "4.0.0", 500, false },
    { "MAIL 250", { .stage = RELAY_S_MAIL, .code = 250, .text = "250 ok" }, O_DEF, S_JOB,
      H_CONT, NULL, "4.0.0", 250, false },
    { "MAIL 451", { .stage = RELAY_S_MAIL, .code = 451, .text = "451 later" }, O_DEF, S_JOB,
      H_NEXT, "451 later", "4.0.0", 451, false },
    { "MAIL 553", { .stage = RELAY_S_MAIL, .code = 553, .text = "553 5.1.8 bad sender" },
      O_BNC, S_JOB, H_END, "553 5.1.8 bad sender", "5.1.8", 553, false },
    { "RCPT 250", { .stage = RELAY_S_RCPT, .code = 250, .text = "250 2.1.5 ok" }, O_DLV, S_ONE,
      H_CONT, "250 2.1.5 ok", "2.1.5", 250, false },
    { "RCPT 452", { .stage = RELAY_S_RCPT, .code = 452, .text = "452 4.5.3 too many" }, O_DEF,
      S_ONE, H_CONT, "452 4.5.3 too many", "4.5.3", 452, false },
    { "RCPT 550", { .stage = RELAY_S_RCPT, .code = 550, .text = "550 5.1.1 User unknown" },
      O_BNC, S_ONE, H_CONT, "550 5.1.1 User unknown", "5.1.1", 550, false },
    { "DATA 354", { .stage = RELAY_S_DATA, .code = 354, .text = "354 go" }, O_DEF, S_JOB,
      H_CONT, NULL, "4.0.0", 354, false },
    { "DATA 554", { .stage = RELAY_S_DATA, .code = 554, .text = "554 5.6.0 no" }, O_BNC, S_ACC,
      H_CONT, "554 5.6.0 no", "5.6.0", 554, false },
    { "DATA 451", { .stage = RELAY_S_DATA, .code = 451, .text = "451 4.3.0 later" }, O_DEF,
      S_ACC, H_CONT, "451 4.3.0 later", "4.3.0", 451, false },
    /* A 2xx to DATA: nothing was sent, so nothing is delivered. */
    { "DATA 250", { .stage = RELAY_S_DATA, .code = 250, .text = "250 2.0.0 ok" }, O_DEF,
      S_ACC, H_CONT, "451 4.5.0 Unexpected reply to DATA: 250 2.0.0 ok", "4.5.0", 451, false },
    { "dot 250", { .stage = RELAY_S_DOT, .code = 250, .text = "250 2.0.0 queued as X" }, O_DLV,
      S_ACC, H_CONT, "250 2.0.0 queued as X", "2.0.0", 250, false },
    { "dot 452", { .stage = RELAY_S_DOT, .code = 452, .text = "452 4.3.1 full" }, O_DEF, S_ACC,
      H_CONT, "452 4.3.1 full", "4.3.1", 452, false },
    { "dot 550", { .stage = RELAY_S_DOT, .code = 550, .text = "550 5.7.1 a\r\nb" },
      O_BNC, S_ACC, H_CONT, "550 5.7.1 a  b", "5.7.1", 550, false },
};

static void test_decide_table(void **state)
{
    for (size_t i = 0; i < sizeof(decide_rows) / sizeof(decide_rows[0]); i++) {
        const struct decide_row *r = &decide_rows[i];
        struct relay_decision d = relay_decide(&r->ev);

        print_message("  %s\n", r->label);
        assert_int_equal(d.rcpt, r->rcpt);
        assert_int_equal(d.scope, r->scope);
        assert_int_equal(d.host, r->host);
        /* Recorded: what settles the recipients, not a host's failure or a fallback. */
        assert_int_equal(d.record, r->text != NULL && (r->host == H_CONT || r->host == H_END));
        if (r->text == NULL)
            assert_null(d.text);
        else
            assert_string_equal(d.text, r->text);
        assert_string_equal(d.status, r->status);
        assert_int_equal(d.code, r->code);
        assert_int_equal(d.conn_failure, r->conn_failure);
        assert_int_equal(d.retry_ms, 0);        /* no transport: no schedule */
        relay_decision_free(&d);
        assert_null(d.text);
    }
}

static void test_decide_schedule(void **state)
{
    struct cfg_transport t = {
        .transient_failure_retry_count = 2, .transient_failure_retry_interval = 1000,
        .message_retry_interval = 7000, .outbound_connection_failure_retry_interval = 9000,
        .message_expiration_timeout = 60000,
    };
    static const struct {
        enum relay_stage stage;
        enum relay_error error;
        int     code;
        unsigned rounds;
        bool    conn_failure;
        uint64_t age_ms;
        enum relay_outcome rcpt;
        uint64_t retry_ms;
    } rows[] = {
        { RELAY_S_RETRY, RELAY_E_NONE, 0, 0, false, 0, RELAY_O_DEFER, 1000 },
        { RELAY_S_RETRY, RELAY_E_NONE, 0, 1, true, 0, RELAY_O_DEFER, 1000 },
        { RELAY_S_RETRY, RELAY_E_NONE, 0, 2, false, 0, RELAY_O_DEFER, 7000 },
        { RELAY_S_RETRY, RELAY_E_NONE, 0, 2, true, 0, RELAY_O_DEFER, 9000 },
        /* a deferral says how long; a connection error waits longer */
        { RELAY_S_RCPT, RELAY_E_NONE, 451, 5, false, 0, RELAY_O_DEFER, 7000 },
        { RELAY_S_CONNECT, RELAY_E_CONN, 0, 5, false, 0, RELAY_O_DEFER, 9000 },
        { RELAY_S_ALL_HOSTS, RELAY_E_CONN, 0, 5, false, 0, RELAY_O_DEFER, 9000 },
        /* final outcomes have no retry */
        { RELAY_S_RCPT, RELAY_E_NONE, 550, 5, false, 0, RELAY_O_FAIL, 0 },
        { RELAY_S_DOT, RELAY_E_NONE, 250, 5, false, 0, RELAY_O_DELIVERED, 0 },
        /* expiry: the time left, then QUEUE.Expired */
        { RELAY_S_EXPIRY, RELAY_E_NONE, 0, 0, false, 0, RELAY_O_DEFER, 60000 },
        { RELAY_S_EXPIRY, RELAY_E_NONE, 0, 9, true, 59999, RELAY_O_DEFER, 1 },
        { RELAY_S_EXPIRY, RELAY_E_NONE, 0, 0, false, 60000, RELAY_O_FAIL, 0 },
        { RELAY_S_EXPIRY, RELAY_E_NONE, 0, 0, false, 90000, RELAY_O_FAIL, 0 },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct relay_event ev = {
            .stage = rows[i].stage, .error = rows[i].error, .code = rows[i].code,
            .transport = &t, .rounds = rows[i].rounds, .conn_failure = rows[i].conn_failure,
            .age_ms = rows[i].age_ms, .text = "x",
        };
        struct relay_decision d = relay_decide(&ev);

        print_message("  row %zu\n", i);
        assert_int_equal(d.rcpt, rows[i].rcpt);
        assert_int_equal(d.retry_ms, rows[i].retry_ms);
        if (rows[i].stage == RELAY_S_EXPIRY)
            assert_int_equal(d.record, d.rcpt == RELAY_O_FAIL);
        if (rows[i].stage == RELAY_S_EXPIRY)
            assert_true(d.rcpt == RELAY_O_FAIL
                        ? strcmp(d.text, "550 4.4.7 QUEUE.Expired; message expired") == 0
                        : d.text == NULL);
        relay_decision_free(&d);
    }
}

static void test_stage_names(void **state)
{
    assert_string_equal(relay_stage_name(RELAY_S_CONNECT), "connect");
    assert_string_equal(relay_stage_name(RELAY_S_TLS), "TLS handshake");
    assert_string_equal(relay_stage_name(RELAY_S_MAIL), "MAIL FROM");
    assert_string_equal(relay_stage_name(RELAY_S_RCPT), "RCPT TO");
    assert_string_equal(relay_stage_name(RELAY_S_DOT), "end of data");
    assert_string_equal(relay_stage_name((enum relay_stage)999), "?");
}

/* ---- the building blocks ---------------------------------------------- */

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
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_decide_schedule),
        cmocka_unit_test(test_stage_names),
        cmocka_unit_test(test_rcpt_outcomes),
        cmocka_unit_test(test_session_replies),
        cmocka_unit_test(test_failover_texts),
        cmocka_unit_test(test_retry_schedule),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_route_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
