/*
 * log_audit_trust_test.c - the audit's partner trust counts (issue 17):
 * the "Partner identity" lines counted per partner and direction (policy,
 * what proved identity, EKU, revocation, refusal rules, the serverAuth-only
 * acceptances with their sessions), malformed lines not counted, and the
 * DANE rows of unlisted destinations counted as outbound TLS policies
 * beside the MTA-STS ones, over hand-written protocol logs in the rows
 * of issue 17's contract (docs/LOGS.md).
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

#define LOG_TEST_NAME "log_audit_trust_test"
#include "log_test_util.h"
#include "log_audit_test_util.h"

#define HEAD "\xEF\xBB\xBF#Software: domsec\r\n#Fields: date-time,connector-id,session-id," \
    "sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"
#define R(ts, sid, seq, ev, data, ctx) \
    "2026-12-07T" ts "Z,Inet," sid "," #seq ",192.0.2.1:25,203.0.113.7:40000," ev "," data "," ctx "\r\n"
#define S(ts, sid, seq, ev, data, ctx) \
    "2026-12-07T" ts "Z,Internet," sid "," #seq ",192.0.2.10:5000,203.0.113.5:25," ev "," data "," ctx "\r\n"
#define SECURED_IN(d) "Message from secure domain '" d "' on receive connector 'Inet' was domain-secured"

/* Inbound: pin.test (partner, require=pin) secured twice, refused once for
 * a rolled-over key; public.test (partner, accept_server_auth_only = yes)
 * secured with a serverAuth-only certificate in two sessions (the 2026
 * exception) and once with a clientAuth one; global.test (no section)
 * refused a serverAuth-only certificate and an untrusted chain; one
 * malformed line for pin.test. */
static const char recv1[] = HEAD
    R("08:00:00.000", "0000000000000001", 0, "<", "MAIL FROM:<a@pin.test>", "")
    R("08:00:00.001", "0000000000000001", 1, "*", "pin.test", SECURED_IN("pin.test"))
    R("08:00:00.002", "0000000000000001", 2, "*", "pin.test", "Partner identity of 'pin.test' (inbound): policy=partner require=pin; proved=pin; eku=clientAuth; revocation=not-checked via -; verdict=Secured")
    R("08:00:00.003", "0000000000000001", 3, "<", "MAIL FROM:<b@pin.test>", "")
    R("08:00:00.004", "0000000000000001", 4, "*", "pin.test", SECURED_IN("pin.test"))
    R("08:00:00.005", "0000000000000001", 5, "*", "pin.test", "Partner identity of 'pin.test' (inbound): policy=partner require=pin; proved=pin; eku=clientAuth; revocation=not-checked via -; verdict=Secured")
    R("08:00:00.006", "0000000000000001", 6, "*", "pin.test", "\"Partner identity of 'pin.test' (sideways): policy=partner require=pin; proved=pin; eku=clientAuth; revocation=good via crl; verdict=Secured\"")
    R("08:00:00.007", "0000000000000001", 7, "*", "pin.test", "Partner identity of 'pin.test' (inbound): require=pin; proved=pin; verdict=Secured")
    R("09:00:00.000", "0000000000000002", 0, "<", "MAIL FROM:<a@pin.test>", "")
    R("09:00:00.001", "0000000000000002", 1, "*", "pin.test", "Message from secure domain 'pin.test' on receive connector 'Inet' was refused because PinMismatch .")
    R("09:00:00.002", "0000000000000002", 2, "*", "pin.test", "Partner identity of 'pin.test' (inbound): policy=partner require=pin; proved=none; eku=clientAuth; revocation=not-checked via -; verdict=PinMismatch")
    R("09:00:00.003", "0000000000000002", 3, ">", "530 5.7.1 Not authorized", "")
    R("10:00:00.000", "0000000000000003", 0, "<", "MAIL FROM:<a@public.test>", "")
    R("10:00:00.001", "0000000000000003", 1, "*", "public.test", SECURED_IN("public.test"))
    R("10:00:00.002", "0000000000000003", 2, "*", "public.test", "Partner identity of 'public.test' (inbound): policy=partner require=ca; proved=ca; eku=serverAuth-only; revocation=good via ocsp-fetched; verdict=Secured")
    R("11:00:00.000", "0000000000000004", 0, "<", "MAIL FROM:<a@public.test>", "")
    R("11:00:00.001", "0000000000000004", 1, "*", "public.test", SECURED_IN("public.test"))
    R("11:00:00.002", "0000000000000004", 2, "*", "public.test", "Partner identity of 'public.test' (inbound): policy=partner require=ca; proved=ca; eku=serverAuth-only; revocation=good via ocsp-stapled; verdict=Secured")
    R("07:00:00.000", "0000000000000005", 0, "<", "MAIL FROM:<a@public.test>", "")
    R("07:00:00.001", "0000000000000005", 1, "*", "public.test", SECURED_IN("public.test"))
    R("07:00:00.002", "0000000000000005", 2, "*", "public.test", "Partner identity of 'public.test' (inbound): policy=partner require=ca; proved=ca; eku=clientAuth; revocation=good via crl; verdict=Secured")
    R("12:00:00.000", "0000000000000006", 0, "<", "MAIL FROM:<a@global.test>", "")
    R("12:00:00.001", "0000000000000006", 1, "*", "global.test", "Message from secure domain 'global.test' on receive connector 'Inet' was refused because BadEku (serverAuth only) .")
    R("12:00:00.002", "0000000000000006", 2, "*", "global.test", "\"Partner identity of 'global.test' (inbound): policy=global require=ca; proved=none; eku=serverAuth-only; revocation=not-checked via -; verdict=BadEku (serverAuth only)\"")
    R("13:00:00.000", "0000000000000007", 0, "<", "MAIL FROM:<a@global.test>", "")
    R("13:00:00.001", "0000000000000007", 1, "*", "global.test", "Message from secure domain 'global.test' on receive connector 'Inet' was refused because CertificateValidationFailure (Untrusted) .")
    R("13:00:00.002", "0000000000000007", 2, "*", "global.test", "Partner identity of 'global.test' (inbound): policy=global require=ca; proved=none; eku=any; revocation=not-checked via -; verdict=CertificateValidationFailure (Untrusted)");

/* Outbound: dane.test (partner, require=dane) secured by DANE-EE, then
 * refused for a mismatch; pin.test secured with ca+pin and OCSP; mta.test,
 * unlisted under DANE: verified, failed (validation-failure), a failed
 * TLSA lookup, all records unusable (TLS), all unusable and no STARTTLS. */
static const char send1[] = HEAD
    S("08:00:00.000", "00000000000000A1", 0, "*", "dane.test", "Message to secure domain 'dane.test' on send connector 'Internet' was domain-secured")
    S("08:00:00.001", "00000000000000A1", 1, "*", "dane.test", "Partner identity of 'dane.test' (outbound): policy=partner require=dane; proved=dane-ee; eku=serverAuth-only; revocation=not-checked via -; verdict=Secured")
    S("08:00:00.002", "00000000000000A1", 2, ">", "RCPT TO:<a@dane.test>", "")
    S("09:00:00.000", "00000000000000A2", 0, "*", "", "Message to secure domain 'dane.test' on send connector 'Internet' failed because DaneMismatch .")
    S("09:00:00.001", "00000000000000A2", 1, "*", "dane.test", "Partner identity of 'dane.test' (outbound): policy=partner require=dane; proved=none; eku=any; revocation=not-checked via -; verdict=DaneMismatch")
    S("10:00:00.000", "00000000000000A3", 0, "*", "pin.test", "Message to secure domain 'pin.test' on send connector 'Internet' was domain-secured")
    S("10:00:00.001", "00000000000000A3", 1, "*", "pin.test", "Partner identity of 'pin.test' (outbound): policy=partner require=ca+pin; proved=ca+pin; eku=any; revocation=good via crl+ocsp; verdict=Secured")
    S("11:00:00.000", "00000000000000A4", 0, "*", "mta.test", "DANE policy of 'mta.test' (2 usable TLSA records for mx.mta.test): certificate verified for mx.mta.test (3 1 1)")
    S("11:00:00.001", "00000000000000A4", 1, ">", "RCPT TO:<a@mta.test>", "")
    S("12:00:00.000", "00000000000000A5", 0, "*", "mta.test", "DANE policy of 'mta.test' (1 usable TLSA records for mx.mta.test): mx.mta.test failed: validation-failure (no TLSA record matches the certificate); trying the next host")
    S("13:00:00.000", "00000000000000A6", 0, "*", "mta.test", "DANE policy of 'mta.test': TLSA lookup for mx2.mta.test failed (SERVFAIL); trying the next host")
    S("14:00:00.000", "00000000000000A7", 0, "*", "mta.test", "\"DANE policy of 'mta.test' (TLSA records for mx.mta.test all unusable): TLS with mx.mta.test (TLSv1.3), not authenticated\"")
    S("14:00:00.001", "00000000000000A7", 1, ">", "RCPT TO:<a@mta.test>", "")
    S("15:00:00.000", "00000000000000A8", 0, "*", "mta.test", "DANE policy of 'mta.test' (TLSA records for mx.mta.test all unusable): mx.mta.test failed: starttls-not-supported (STARTTLS was not offered); trying the next host");

#define PCOUNT(p, name) audit_count((p)->policies, (p)->npolicies, (name))
#define ID_COUNT(id, list, name) audit_count((id)->list, (id)->n##list, (name))

/* audit - the audit over the two files */

static struct log_audit *audit(const struct log_audit_result **res)
{
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ 0 });
    struct log_audit *a = log_audit_new(NULL);
    struct log_row row;

    put("RECV20261207-1.LOG", recv1);
    put("SEND20261207-1.LOG", send1);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1)
        log_audit_row(a, &row);
    log_reader_free(r);
    *res = log_audit_finish(a);
    return a;
}

static void test_identity_inbound(void **state)
{
    const struct log_audit_result *res;
    struct log_audit *a = audit(&res);
    const struct log_audit_partner *p = audit_find(res, "pin.test");
    const struct log_audit_identity *id = &p->identity_in;

    assert_true(p->listed_in.then);
    assert_int_equal(id->decisions, 3);         /* the malformed two are not counted */
    assert_int_equal(id->secured, 2);
    assert_int_equal(id->npolicies, 1);
    assert_int_equal(ID_COUNT(id, policies, "partner require=pin"), 3);
    assert_int_equal(id->nproved, 1);
    assert_int_equal(ID_COUNT(id, proved, "pin"), 2);      /* secured ones only */
    assert_int_equal(ID_COUNT(id, eku, "clientAuth"), 3);
    assert_int_equal(ID_COUNT(id, revocation, "not-checked"), 3);
    assert_int_equal(id->nrefusals, 1);
    assert_int_equal(ID_COUNT(id, refusals, "PinMismatch"), 1);
    assert_int_equal(id->server_auth_only, 0);
    assert_int_equal(id->server_auth_only_sids.total, 0);
    assert_true(log_audit_has_identity(p));

    p = audit_find(res, "public.test");
    id = &p->identity_in;
    assert_int_equal(id->decisions, 3);
    assert_int_equal(id->secured, 3);
    assert_int_equal(ID_COUNT(id, proved, "ca"), 3);
    assert_int_equal(ID_COUNT(id, eku, "serverAuth-only"), 2);
    assert_int_equal(ID_COUNT(id, eku, "clientAuth"), 1);
    assert_int_equal(ID_COUNT(id, revocation, "good via ocsp-fetched"), 1);
    assert_int_equal(ID_COUNT(id, revocation, "good via ocsp-stapled"), 1);
    assert_int_equal(ID_COUNT(id, revocation, "good via crl"), 1);
    assert_int_equal(id->nrefusals, 0);
    assert_int_equal(id->server_auth_only, 2);  /* the 2026 exception, not the clientAuth one */
    assert_string_equal(id->server_auth_only_first, "2026-12-07T10:00:00.002Z");
    assert_string_equal(id->server_auth_only_last, "2026-12-07T11:00:00.002Z");
    assert_int_equal(id->server_auth_only_sids.n, 2);
    assert_string_equal(id->server_auth_only_sids.v[0], "0000000000000003");
    assert_string_equal(id->server_auth_only_sids.v[1], "0000000000000004");
    assert_int_equal(p->identity_out.decisions, 0);

    p = audit_find(res, "global.test");
    id = &p->identity_in;
    assert_int_equal(id->decisions, 2);
    assert_int_equal(id->secured, 0);
    assert_int_equal(id->nproved, 0);
    assert_int_equal(ID_COUNT(id, policies, "global require=ca"), 2);
    assert_int_equal(ID_COUNT(id, refusals, "BadEku (serverAuth only)"), 1);
    assert_int_equal(ID_COUNT(id, refusals, "CertificateValidationFailure (Untrusted)"), 1);
    assert_int_equal(id->server_auth_only, 0);  /* refused: no exception */
    assert_int_equal(p->sessions_in_refused, 2);
    log_audit_free(a);
}

static void test_identity_outbound(void **state)
{
    const struct log_audit_result *res;
    struct log_audit *a = audit(&res);
    const struct log_audit_partner *p = audit_find(res, "dane.test");
    const struct log_audit_identity *id = &p->identity_out;

    assert_true(p->listed_out.then);
    assert_int_equal(p->identity_in.decisions, 0);
    assert_int_equal(id->decisions, 2);
    assert_int_equal(id->secured, 1);
    assert_int_equal(ID_COUNT(id, policies, "partner require=dane"), 2);
    assert_int_equal(ID_COUNT(id, proved, "dane-ee"), 1);
    assert_int_equal(ID_COUNT(id, eku, "serverAuth-only"), 1);
    assert_int_equal(id->server_auth_only, 0);  /* a server's certificate: no exception */
    assert_int_equal(ID_COUNT(id, refusals, "DaneMismatch"), 1);
    assert_int_equal(p->sessions_out, 2);

    p = audit_find(res, "pin.test");          /* both directions, kept apart */
    id = &p->identity_out;
    assert_int_equal(id->decisions, 1);
    assert_int_equal(ID_COUNT(id, proved, "ca+pin"), 1);
    assert_int_equal(ID_COUNT(id, revocation, "good via crl+ocsp"), 1);
    assert_int_equal(p->identity_in.decisions, 3);
    log_audit_free(a);
}

static void test_dane_policies(void **state)
{
    const struct log_audit_result *res;
    struct log_audit *a = audit(&res);
    const struct log_audit_partner *p = audit_find(res, "mta.test");

    assert_false(log_audit_has_identity(p));
    assert_int_equal(p->sessions_out, 5);       /* the refused hosts count too */
    assert_int_equal(p->npolicies, 5);
    assert_int_equal(PCOUNT(p, "dane: verified"), 1);
    assert_int_equal(PCOUNT(p, "dane: failed: validation-failure"), 1);
    assert_int_equal(PCOUNT(p, "dane: tlsa lookup failed"), 1);
    assert_int_equal(PCOUNT(p, "dane: unusable: tls"), 1);
    assert_int_equal(PCOUNT(p, "dane: failed: starttls-not-supported"), 1);
    p = audit_find(res, "dane.test");         /* a listed partner: its verdict rows, not DANE rows */
    assert_int_equal(PCOUNT(p, "domain-secure: secured"), 1);
    assert_int_equal(PCOUNT(p, "domain-secure: failed"), 1);
    log_audit_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_inbound, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_identity_outbound, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dane_policies, setup_dir, teardown_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
