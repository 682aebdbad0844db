/*
 * log_audit_policy_test.c - the audit's outbound TLS policy counts: every
 * Send session's verdict row (domain-secure, MTA-STS enforce and testing,
 * opportunistic) counted per domain as "<policy>: <verdict>", and an
 * MTA-STS row making its domain one of the session's domains (a refused
 * host never sees RCPT TO).
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_audit.h"
#include "log_read.h"

#define LOG_TEST_NAME "log_audit_policy_test"
#include "log_test_util.h"
#include "log_audit_test_util.h"

#define S(ts, sid, seq, ev, data, ctx) \
    "2026-12-07T" ts "Z,Internet," sid "," #seq ",192.0.2.10:5000,203.0.113.5:25," ev "," data "," ctx "\r\n"

/* w.test (MTA-STS enforce): verified and delivered (1), refused for its
 * name (2), refused without STARTTLS (3); t.test (testing): failed but
 * delivered (4), plaintext after a failed handshake (5); o.test: TLS (6),
 * plaintext (7); p.test (listed): secured (8), failed (9). */
static const char send1[] =
    "\xEF\xBB\xBF#Software: domsec\r\n#Fields: date-time,connector-id,session-id,sequence-number,"
    "local-endpoint,remote-endpoint,event,data,context\r\n"
    S("08:00:00.000", "0000000000000001", 0, "*", "w.test", "\"MTA-STS policy of 'w.test' (enforce, id 20261207): certificate verified for mx.w.test\"")
    S("08:00:00.001", "0000000000000001", 1, ">", "RCPT TO:<a@w.test>", "")
    S("08:00:00.002", "0000000000000001", 2, "-", "", "Local")
    S("09:00:00.000", "0000000000000002", 0, "*", "w.test", "\"MTA-STS policy of 'w.test' (enforce, id 20261207, cached policy, refresh failing): mx.w.test failed: certificate-host-mismatch (the certificate does not name the MX host); trying the next host\"")
    S("09:00:00.002", "0000000000000002", 1, "-", "", "Local")
    S("10:00:00.000", "0000000000000003", 0, "*", "w.test", "\"MTA-STS policy of 'w.test' (enforce, id 20261207): mx2.w.test failed: starttls-not-supported (STARTTLS was not offered); trying the next host\"")
    S("11:00:00.000", "0000000000000004", 0, "*", "t.test", "\"MTA-STS policy of 't.test' (testing, id 7): mx.t.test failed: certificate-not-trusted (the certificate chain is not trusted); delivering without the policy\"")
    S("11:00:00.001", "0000000000000004", 1, ">", "RCPT TO:<a@t.test>", "")
    S("12:00:00.000", "0000000000000005", 0, "*", "t.test", "\"MTA-STS policy of 't.test' (testing, id 7): plaintext to mx.t.test (after a failed TLS handshake)\"")
    S("13:00:00.000", "0000000000000006", 0, "*", "o.test", "Opportunistic TLS for 'o.test' (no domain-secure or MTA-STS policy): TLS with mx.o.test (TLSv1.3)")
    S("13:00:00.001", "0000000000000006", 1, ">", "RCPT TO:<a@o.test>", "")
    S("14:00:00.000", "0000000000000007", 0, "*", "o.test", "Opportunistic TLS for 'o.test' (no domain-secure or MTA-STS policy): plaintext to mx.o.test (STARTTLS not offered)")
    S("15:00:00.000", "0000000000000008", 0, "*", "p.test", "Message to secure domain 'p.test' on send connector 'Internet' was domain-secured")
    S("16:00:00.000", "0000000000000009", 0, "*", "", "Message to secure domain 'p.test' on send connector 'Internet' failed because TLS was not offered .");

/* count - p's sessions under a policy and verdict */

static uint64_t count(const struct log_audit_partner *p, const char *name)
{
    return audit_count(p->policies, p->npolicies, name);
}

static void test_policies(void **state)
{
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ 0 });
    struct log_audit *a = log_audit_new(NULL);
    const struct log_audit_result *res;
    const struct log_audit_partner *p;
    struct log_row row;

    put("SEND20261207-1.LOG", send1);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1)
        log_audit_row(a, &row);
    log_reader_free(r);
    res = log_audit_finish(a);

    p = audit_find(res, "w.test");
    assert_int_equal(p->sessions_out, 3);       /* the refused ones count too */
    assert_int_equal(p->npolicies, 3);
    assert_int_equal(count(p, "mta-sts enforce: verified"), 1);
    assert_int_equal(count(p, "mta-sts enforce: failed: certificate-host-mismatch"), 1);
    assert_int_equal(count(p, "mta-sts enforce: failed: starttls-not-supported"), 1);
    p = audit_find(res, "t.test");
    assert_int_equal(p->sessions_out, 2);
    assert_int_equal(count(p, "mta-sts testing: failed: certificate-not-trusted"), 1);
    assert_int_equal(count(p, "mta-sts testing: plaintext"), 1);
    p = audit_find(res, "o.test");
    assert_int_equal(p->npolicies, 2);
    assert_int_equal(count(p, "opportunistic: tls"), 1);
    assert_int_equal(count(p, "opportunistic: plaintext"), 1);
    p = audit_find(res, "p.test");
    assert_int_equal(p->npolicies, 2);
    assert_int_equal(count(p, "domain-secure: secured"), 1);
    assert_int_equal(count(p, "domain-secure: failed"), 1);
    log_audit_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_policies, setup_dir, teardown_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
