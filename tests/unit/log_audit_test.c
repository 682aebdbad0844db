/*
 * log_audit_test.c - the audit's rules over hand-written rows of the
 * contract (docs/LOGS.md "The rows domsec writes"): sessions joined by
 * session id across files, secured / refused / failed verdicts, TLS
 * versions, partner certificates (change, expiry), messages via 02P and
 * the sender, directionality, listed domains from a config or inferred,
 * the --domain filter, and the chart buckets.
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

#define LOG_TEST_NAME "log_audit_test"
#include "log_test_util.h"

#define R(ts, sid, seq, ev, data, ctx) \
    "2026-11-22T" ts "Z,MX\\Inet," sid "," #seq ",192.0.2.10:25,198.51.100.7:40000," ev "," data "," ctx "\r\n"
#define S(ts, sid, seq, ev, data, ctx) \
    "2026-11-22T" ts "Z,Internet," sid "," #seq ",192.0.2.10:5000,203.0.113.5:25," ev "," data "," ctx "\r\n"
#define CERT(M, ts, sid, s0, subj, thumb, na) \
    M(ts, sid, s0, "*", subj, "Certificate subject") \
    M(ts, sid, s0, "*", "\"CN=Partner CA, O=P\"", "Certificate issuer name") \
    M(ts, sid, s0, "*", "0A", "Certificate serial number") \
    M(ts, sid, s0, "*", thumb, "Certificate thumbprint") \
    M(ts, sid, s0, "*", "mx.p.test", "Certificate alternate names") \
    M(ts, sid, s0, "*", "2026-01-01T00:00:00Z", "Certificate not before") \
    M(ts, sid, s0, "*", na, "Certificate not after")

#define T1 "1111111111111111111111111111111111111111"
#define T2 "2222222222222222222222222222222222222222"
#define T3 "3333333333333333333333333333333333333333"
#define TLS13 "\"TLS protocol SP_PROT_TLS1_3_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits\""
#define TLS12C "\"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 384 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits\""

/* Session 1: p.test, secured, T1.  Session 2 (split across two files):
 * p.test, secured, a new certificate T2 that expires 10 days after the
 * range.  Session 3: p.test refused (SubjectMismatch), no certificate.
 * Session 4: plain q.test, no TLS. */
static const char recv1[] =
    "\xEF\xBB\xBF#Software: domsec\r\n#Fields: date-time,connector-id,session-id,sequence-number,"
    "local-endpoint,remote-endpoint,event,data,context\r\n"
    R("08:00:00.000", "0000000000000001", 0, "+", "", "")
    R("08:00:00.010", "0000000000000001", 1, "*", "", "Sending certificate")
    CERT(R, "08:00:00.010", "0000000000000001", 2, "CN=mx.us.test", "9999999999999999999999999999999999999999", "2030-01-01T00:00:00Z")
    R("08:00:00.020", "0000000000000001", 3, "*", "", "Received certificate")
    CERT(R, "08:00:00.020", "0000000000000001", 4, "\"CN=mx.p.test, O=P\"", T1, "2030-01-01T00:00:00Z")
    R("08:00:00.020", "0000000000000001", 5, "*", "Valid", "Chain validation status")
    R("08:00:00.021", "0000000000000001", 6, "*", "", TLS13)
    R("08:00:00.030", "0000000000000001", 7, "<", "MAIL FROM:<a@p.test>", "")
    R("08:00:00.030", "0000000000000001", 8, "*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was domain-secured")
    R("08:00:00.040", "0000000000000001", 9, "*", "0000000000000001;2026-11-22T08:00:00.000Z;1", "receiving message")
    R("08:00:00.050", "0000000000000001", 10, "-", "", "QuitVerb")
    R("09:00:00.000", "0000000000000002", 0, "+", "", "")
    R("09:00:00.020", "0000000000000002", 1, "*", "", "Received certificate")
    CERT(R, "09:00:00.020", "0000000000000002", 2, "\"CN=mx.p.test, O=P\"", T2, "2026-12-02T00:00:00Z")
    R("09:00:00.021", "0000000000000002", 3, "*", "", TLS13);
static const char recv2[] =
    R("09:00:00.030", "0000000000000002", 4, "<", "MAIL FROM:<b@P.TEST> SIZE=10", "")
    R("09:00:00.030", "0000000000000002", 5, "*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was domain-secured")
    R("09:00:00.050", "0000000000000002", 6, "-", "", "QuitVerb")
    R("10:00:00.000", "0000000000000003", 0, "+", "", "")
    R("10:00:00.030", "0000000000000003", 1, "<", "MAIL FROM:<c@p.test>", "")
    R("10:00:00.030", "0000000000000003", 2, "*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was refused because SubjectMismatch .")
    R("10:00:00.031", "0000000000000003", 3, ">", "550 5.7.1 no", "")
    R("11:00:00.000", "0000000000000004", 0, "+", "", "")
    R("11:00:00.030", "0000000000000004", 1, "<", "MAIL FROM:<d@q.test>", "")
    R("11:00:00.050", "0000000000000004", 2, "-", "", "QuitVerb");
/* Session 5: out to p.test, server certificate T3, failed; session 6: out
 * to p.test secured, T3 again, TLS 1.2. */
static const char send1[] =
    S("12:00:00.000", "0000000000000005", 0, "*", "", "attempting to connect")
    S("12:00:00.001", "0000000000000005", 1, "+", "", "")
    S("12:00:00.010", "0000000000000005", 2, "*", "", TLS12C)
    S("12:00:00.010", "0000000000000005", 3, "*", "", "Remote certificate")
    CERT(S, "12:00:00.010", "0000000000000005", 4, "CN=mx.p.test", T3, "2030-01-01T00:00:00Z")
    S("12:00:00.011", "0000000000000005", 5, "*", "", "Message to secure domain 'p.test' on send connector 'Internet' failed because the TLS server certificate subject did not match .")
    S("12:00:00.012", "0000000000000005", 6, "-", "", "Local")
    S("13:00:00.000", "0000000000000006", 0, "*", "", "attempting to connect")
    S("13:00:00.010", "0000000000000006", 1, "*", "", TLS12C)
    S("13:00:00.010", "0000000000000006", 2, "*", "", "Remote certificate")
    CERT(S, "13:00:00.010", "0000000000000006", 3, "CN=mx.p.test", T3, "2030-01-01T00:00:00Z")
    S("13:00:00.010", "0000000000000006", 4, "*", "", "Secure domain certificate")
    CERT(S, "13:00:00.010", "0000000000000006", 5, "CN=mx.p.test", T3, "2030-01-01T00:00:00Z")
    S("13:00:00.011", "0000000000000006", 6, "*", "p.test", "Message to secure domain 'p.test' on send connector 'Internet' was domain-secured")
    S("13:00:00.012", "0000000000000006", 7, ">", "RCPT TO:<x@p.test>", "")
    S("13:00:00.020", "0000000000000006", 8, "-", "", "Local");

#define M(ts, sc, ev, rcpt, sender, info, dir) \
    "2026-11-22T" ts "Z,198.51.100.7,h,192.0.2.10,mx," sc ",Inet,SMTP," ev ",00000000000000AA,<m@x>," rcpt ",,100,1,," sender "," info "," dir "\r\n"
static const char track[] =
    M("08:00:00.045", "0000000000000001;2026-11-22T08:00:00.000Z;1", "RECEIVE", "u@us.test", "a@p.test", "02P:p.test", "Incoming")
    M("08:00:01.000", "0000000000000007;250 ok", "SEND", "u@us.test", "a@p.test", "02P:p.test", "Incoming")
    M("09:30:00.000", "0000000000000008;2026-11-22T09:30:00.000Z;1", "RECEIVE", "u@us.test", "e@p.test", "", "Incoming")
    M("11:00:00.040", "0000000000000004;2026-11-22T11:00:00.000Z;1", "RECEIVE", "u@us.test", "d@q.test", "", "Incoming")
    M("12:30:00.000", "", "RECEIVE", "x@p.test", "u@us.test", "", "Originating")
    M("13:00:00.019", "0000000000000006;250 ok", "SEND", "x@p.test", "u@us.test", "02P:p.test", "Originating")
    M("14:00:00.000", "0000000000000009;250 ok", "SEND", "'y@p.test';z@q.test", "u@us.test", "", "Originating")
    M("15:00:00.000", "", "DEFER", "x@p.test", "u@us.test", "", "Originating");

static const struct log_audit_result *run(struct log_audit **ap, const struct log_audit_opts *o)
{
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ .from = o->from, .to = o->to });
    struct log_row row;

    put("RECV20261122-1.LOG", recv1);
    put("RECV20261122-2.LOG", recv2);
    put("SEND20261122-1.LOG", send1);
    put("MSGTRK20261122-1.LOG", track);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    *ap = log_audit_new(o);
    while (log_reader_next(r, &row) == 1)
        log_audit_row(*ap, &row);
    log_reader_free(r);
    return log_audit_finish(*ap);
}

static const struct log_audit_partner *find(const struct log_audit_partner *v, size_t n,
                                            const char *d)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].domain, d) == 0)
            return &v[i];
    fail_msg("no domain %s", d);
    return NULL;
}

#define partner(r, d) find((r)->partners, (r)->npartners, d)
#define other(r, d) find((r)->others, (r)->nothers, d)

static const struct log_audit_warning *warning(const struct log_audit_result *r,
                                               enum log_audit_warning_kind k, const char *domain)
{
    for (size_t i = 0; i < r->nwarnings; i++)
        if (r->warnings[i].kind == k && strcmp(r->warnings[i].domain, domain) == 0)
            return &r->warnings[i];
    fail_msg("no warning %s for %s", log_audit_warning_name(k), domain);
    return NULL;
}

static uint64_t count(const struct log_audit_count *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return c[i].count;
    return 0;
}

static size_t nwarn(const struct log_audit_result *r, enum log_audit_warning_kind k, const char *text)
{
    size_t n = 0;

    for (size_t i = 0; i < r->nwarnings; i++)
        if (r->warnings[i].kind == k && (!text || strstr(r->warnings[i].text, text)))
            n++;
    return n;
}

static void test_inferred(void **state)
{
    struct log_audit *a;
    const struct log_audit_result *r = run(&a, &(struct log_audit_opts){ .to = "2026-11-22" });
    const struct log_audit_partner *p = partner(r, "p.test"), *q = other(r, "q.test");
    const struct log_audit_warning *w;

    assert_false(r->listed_from_config);
    assert_int_equal(r->sessions, 6);
    assert_true(p->listed);
    assert_true(p->listed_in.then);
    assert_false(p->listed_in.from_today);      /* verdict rows say so */
    assert_false(q->listed);
    /* q.test sent plain mail, was never listed and presented nothing: not a partner. */
    assert_int_equal(r->npartners, 1);
    assert_int_equal(p->sessions_in, 3);
    assert_int_equal(p->sessions_in_secured, 2);
    assert_int_equal(p->sessions_in_refused, 1);
    assert_int_equal(p->sessions_out, 2);
    assert_int_equal(p->sessions_out_secured, 1);
    assert_int_equal(p->sessions_out_refused, 1);
    assert_int_equal(count(p->failures, p->nfailures, "SubjectMismatch"), 1);
    assert_int_equal(count(p->failures, p->nfailures,
                           "the TLS server certificate subject did not match"), 1);
    assert_int_equal(count(p->tls, p->ntls, "TLS1.3"), 2);
    assert_int_equal(count(p->tls, p->ntls, "TLS1.2"), 2);
    assert_int_equal(count(p->tls, p->ntls, "none"), 1);
    assert_int_equal(q->sessions_in, 1);
    assert_int_equal(count(q->tls, q->ntls, "none"), 1);
    /* Messages: in = 02P RECEIVE + plain RECEIVE from e@p.test; the
     * Incoming SEND and Originating RECEIVE are not partner traffic. */
    assert_int_equal(p->messages_in, 2);
    assert_int_equal(p->messages_in_secured, 1);
    assert_int_equal(p->messages_out, 2);
    assert_int_equal(p->messages_out_secured, 1);
    assert_int_equal(q->messages_in, 1);
    assert_int_equal(q->messages_out, 1);
    assert_int_equal(r->total_internal.messages_in, 1);
    assert_int_equal(r->total_internal.messages_out, 1);
    assert_int_equal(r->total_others.messages_in, 1);
    assert_int_equal(r->total_partners.refused, 2);
    /* Certificates: every one presented: T1, T2 inbound (a change), T3
     * outbound refused (wrong name, session 5) and accepted (session 6). */
    assert_int_equal(p->ncerts, 4);
    assert_string_equal(p->certs[0].thumbprint, T1);
    assert_int_equal(p->certs[0].verdict, LOG_AUDIT_V_ACCEPTED);
    assert_string_equal(p->certs[0].subject, "CN=mx.p.test, O=P");
    assert_string_equal(p->certs[0].issuer, "CN=Partner CA, O=P");
    assert_string_equal(p->certs[0].first_seen, "2026-11-22T08:00:00.020Z");
    assert_string_equal(p->certs[0].chain_status, "Valid");
    assert_true(p->certs[0].listed.then);
    assert_true(p->certs[0].inbound);
    assert_string_equal(p->certs[1].thumbprint, T2);
    assert_string_equal(p->certs[1].not_after, "2026-12-02T00:00:00Z");
    assert_string_equal(p->certs[2].thumbprint, T3);
    assert_int_equal(p->certs[2].verdict, LOG_AUDIT_V_WRONG_NAME);
    assert_string_equal(p->certs[2].sids.v[0], "0000000000000005");
    assert_string_equal(p->certs[3].thumbprint, T3);
    assert_int_equal(p->certs[3].verdict, LOG_AUDIT_V_ACCEPTED);
    assert_false(p->certs[3].inbound);
    assert_int_equal(p->certs[3].sessions, 1);
    assert_string_equal(p->certs[3].last_seen, "2026-11-22T13:00:00.010Z");
    /* Ours, from the "Sending certificate" block. */
    assert_int_equal(r->nown_certs, 1);
    assert_string_equal(r->own_certs[0].subject, "CN=mx.us.test");
    /* Warnings. */
    assert_int_equal(nwarn(r, LOG_AUDIT_W_CERT_CHANGED, T2), 1);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_CERT_CHANGED, NULL), 1);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_CERT_EXPIRES, T2), 1);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_CERT_EXPIRES, NULL), 1);
    w = warning(r, LOG_AUDIT_W_CERT_EXPIRES, "p.test");
    assert_int_equal(w->days_left, 10);
    assert_false(w->ours);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_NOT_SECURED, "1 message(s) from listed domain p.test"), 1);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_NOT_SECURED, "1 message(s) to listed domain p.test"), 1);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_NOT_SECURED, "q.test"), 0);
    w = warning(r, LOG_AUDIT_W_REFUSED, "p.test");
    assert_int_equal(w->count, 1);
    assert_string_equal(w->reason, "SubjectMismatch");
    assert_string_equal(w->reply, "550 5.7.1 no");
    assert_string_equal(w->sids.v[0], "0000000000000003");
    assert_string_equal(w->first, "2026-11-22T10:00:00.030Z");
    w = warning(r, LOG_AUDIT_W_CERT_REFUSED, "p.test");
    assert_int_equal(w->verdict, LOG_AUDIT_V_WRONG_NAME);
    assert_string_equal(w->thumbprint, T3);
    assert_false(w->inbound);
    assert_int_equal(r->nwarnings, 6);
    assert_true(log_audit_has_warnings(r));
    /* Chart: hours 08 .. 14 (10 and 12: the refusals). */
    assert_int_equal(r->nbuckets, 7);
    assert_string_equal(r->bucket_unit, "hour");
    assert_string_equal(r->buckets[0].label, "2026-11-22T08");
    assert_int_equal(r->buckets[0].secured, 1);
    assert_int_equal(r->buckets[1].not_secured, 1);
    assert_int_equal(r->buckets[2].refused, 1);
    assert_int_equal(p->buckets[2].refused, 1);
    assert_int_equal(q->buckets[3].not_secured, 1);
    log_audit_free(a);
}

static void test_config_lists_and_filter(void **state)
{
    static const char *const send[] = { "q.test" };
    static const char *const recv[] = { "Q.test" };
    struct log_audit *a;
    const struct log_audit_result *r = run(&a, &(struct log_audit_opts){
        .listed_known = true, .send_listed = send, .nsend_listed = 1,
        .recv_listed = recv, .nrecv_listed = 1, .domain = "q.test", .expiry_days = 1 });

    assert_true(r->listed_from_config);
    assert_int_equal(r->npartners, 1);
    assert_string_equal(r->partners[0].domain, "q.test");
    assert_true(r->partners[0].listed);
    /* Its RECEIVE's session has no verdict row: it was not listed then,
     * whatever today's lists say; its SEND has no session in the logs:
     * judged by today's configuration, and flagged so. */
    assert_false(r->partners[0].listed_in.then);
    assert_true(r->partners[0].listed_out.then);
    assert_true(r->partners[0].listed_out.from_today);
    assert_true(r->history_incomplete);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_NOT_SECURED, "from listed domain q.test"), 0);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_NOT_SECURED, "to listed domain q.test"), 1);
    assert_true(warning(r, LOG_AUDIT_W_NOT_SECURED, "q.test")->listed.from_today);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_CERT_CHANGED, NULL), 0);     /* p.test filtered out */
    log_audit_free(a);
}

static void test_time_range(void **state)
{
    struct log_audit *a;
    const struct log_audit_result *r = run(&a, &(struct log_audit_opts){
        .from = "2026-11-22T08", .to = "2026-11-22T08" });
    const struct log_audit_partner *p = partner(r, "p.test");

    assert_int_equal(p->sessions_in, 1);
    assert_int_equal(p->messages_in, 1);
    assert_int_equal(p->ncerts, 1);
    assert_int_equal(nwarn(r, LOG_AUDIT_W_CERT_CHANGED, NULL), 0);
    assert_string_equal(r->from, "2026-11-22T08");
    log_audit_free(a);
}

/* What real relay logs revealed (tests/integration/test_log_audit.py
 * RealSessionAuditTest): every RECEIVE is Incoming, also on an internal
 * connector (our users' submissions); SEND rows to our accepted domains are
 * inward deliveries; a refused session's certificate (wrong name, revoked)
 * is logged in full but is not the partner's. */
#define H(ts, conn, sid, seq, ev, data, ctx) \
    "2026-11-22T" ts "Z," conn "," sid "," #seq ",127.0.0.1:25,127.0.0.1:40000," ev "," data "," ctx "\r\n"
static const char real_recv[] =
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"
    H("08:00:00.000", "vm\\Hub", "00000000000000A1", 0, "+", "", "")
    H("08:00:00.001", "vm\\Hub", "00000000000000A1", 1, "<", "MAIL FROM:<s@us.test>", "")
    H("08:00:00.002", "vm\\Hub", "00000000000000A1", 2, "-", "", "QuitVerb")
    H("08:01:00.000", "vm\\Inet", "00000000000000A2", 0, "*", "", "Received certificate")
    H("08:01:00.000", "vm\\Inet", "00000000000000A2", 1, "*", T1, "Certificate thumbprint")
    H("08:01:00.000", "vm\\Inet", "00000000000000A2", 2, "*", "Revoked", "Chain validation status")
    H("08:01:00.000", "vm\\Inet", "00000000000000A2", 3, "*", "\"revoked: certificate serial 200F (CN=mx.p.test) revoked by CN=P CA, O=P on 2026-11-20 (keyCompromise)\"", "Revocation status")
    H("08:01:00.001", "vm\\Inet", "00000000000000A2", 4, "<", "MAIL FROM:<a@p.test>", "")
    H("08:01:00.001", "vm\\Inet", "00000000000000A2", 5, "*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was refused because CertificateValidationFailure (Revoked) .")
    H("08:01:00.002", "vm\\Inet", "00000000000000A2", 6, ">", "454 4.7.5 Certificate validation failure", "")
    H("08:02:00.000", "vm\\Inet", "00000000000000A3", 0, "*", "", "Received certificate")
    H("08:02:00.000", "vm\\Inet", "00000000000000A3", 1, "*", T2, "Certificate thumbprint")
    H("08:02:00.000", "vm\\Inet", "00000000000000A3", 2, "*", "Valid", "Chain validation status")
    H("08:02:00.000", "vm\\Inet", "00000000000000A3", 3, "*", "good", "Revocation status")
    H("08:02:00.001", "vm\\Inet", "00000000000000A3", 4, "<", "MAIL FROM:<b@p.test>", "")
    H("08:02:00.001", "vm\\Inet", "00000000000000A3", 5, "*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was domain-secured");
#define MT(ts, sc, conn, ev, rcpt, sender, info, dir) \
    "2026-11-22T" ts "Z,127.0.0.1,h,127.0.0.1,mx," sc "," conn ",SMTP," ev ",00000000000000AA,<m@x>," rcpt ",,100,1,," sender "," info "," dir "\r\n"
static const char real_track[] =
    "#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,reference,sender-address,message-info,directionality\r\n"
    MT("08:00:00.002", "00000000000000A1;2026-11-22T08:00:00.000Z;1", "vm\\Hub", "RECEIVE", "x@q.test", "s@us.test", "", "Incoming")
    MT("08:02:00.002", "00000000000000A3;2026-11-22T08:02:00.000Z;1", "vm\\Inet", "RECEIVE", "u@us.test", "b@p.test", "02P:p.test", "Incoming")
    MT("08:03:00.000", "00000000000000A4;250 ok", "Internal", "SEND", "u@us.test;v@eu.us.test", "b@p.test", "", "Originating")
    MT("08:04:00.000", "00000000000000A5;250 ok", "Internet", "SEND", "x@q.test", "s@us.test", "", "Originating");

static void test_real_rows(void **state)
{
    static const char *const internal[] = { "hub" }, *const accepted[] = { "us.test", "*.us.test" };
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ 0 });
    struct log_audit *a = log_audit_new(&(struct log_audit_opts){
        .internal_connectors = internal, .ninternal = 1, .accepted = accepted, .naccepted = 2 });
    struct log_row row;

    put("RECV20261122-1.LOG", real_recv);
    put("MSGTRK20261122-1.LOG", real_track);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1)
        log_audit_row(a, &row);
    log_reader_free(r);

    const struct log_audit_result *res = log_audit_finish(a);
    const struct log_audit_partner *p = partner(res, "p.test"), *q;

    /* The Hub session and its RECEIVE are ours: no us.test partner; the SEND
     * to us.test / eu.us.test is inward; q.test is no partner. */
    assert_int_equal(res->npartners, 1);
    q = other(res, "q.test");
    assert_int_equal(p->sessions_in, 2);
    assert_int_equal(p->sessions_in_secured, 1);
    assert_int_equal(p->messages_in, 1);
    assert_int_equal(p->messages_out, 0);
    assert_int_equal(q->messages_in, 0);
    assert_int_equal(q->messages_out, 1);
    assert_int_equal(count(p->failures, p->nfailures, "CertificateValidationFailure (Revoked)"), 1);
    /* The revoked certificate T1 is listed with its verdict, and refused:
     * a warning; it was never accepted, so no change to T2. */
    assert_int_equal(p->ncerts, 2);
    assert_string_equal(p->certs[0].thumbprint, T1);
    assert_int_equal(p->certs[0].verdict, LOG_AUDIT_V_REVOKED);
    assert_string_equal(p->certs[0].crl_issuer, "CN=P CA, O=P");
    assert_string_equal(p->certs[0].revoked_at, "2026-11-20");
    assert_string_equal(p->certs[0].reply, "454 4.7.5 Certificate validation failure");
    assert_string_equal(p->certs[1].thumbprint, T2);
    assert_int_equal(p->certs[1].verdict, LOG_AUDIT_V_ACCEPTED);
    assert_int_equal(nwarn(res, LOG_AUDIT_W_CERT_CHANGED, NULL), 0);
    assert_int_equal(nwarn(res, LOG_AUDIT_W_CERT_REFUSED, T1), 1);
    assert_int_equal(res->total_internal.sessions_in, 1);
    /* Chart: the partner's RECEIVE; not the SEND to q.test (not a partner: the
     * overall chart is the partners' sum), the Hub's nor the inward SEND. */
    assert_int_equal(res->nbuckets, 1);
    assert_int_equal(res->buckets[0].secured + res->buckets[0].not_secured, 1);
    log_audit_free(a);
}

/* Recorded configurations (CONFIG rows at start and reload): a message
 * without a session is judged by the lists then in force, not today's. */
#define CF(ts, sc) \
    "2026-11-22T" ts "Z,,,,vm,\"" sc "\",,ADMIN,CONFIG,,,,,0,0,,,,\r\n"
static const char config_track[] =
    "#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,reference,sender-address,message-info,directionality\r\n"
    CF("08:00:00.000", "start;sha256=AA;receive=p.test,r.test;send=")
    M("09:00:00.000", "", "RECEIVE", "u@us.test", "a@p.test", "", "Incoming")
    CF("09:30:00.000", "carried;sha256=AA;receive=p.test,r.test;send=")   /* same: not listed again */
    CF("10:00:00.000", "reload;sha256=BB;receive=r.test;send=")
    M("11:00:00.000", "", "RECEIVE", "u@us.test", "b@p.test", "", "Incoming")
    CF("12:00:00.000", "carried;sha256=BB;receive=r.test;send=");

static void test_recorded_config(void **state)
{
    static const char *const recv[] = { "q.test" };         /* today: p.test not listed */
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ 0 });
    struct log_audit *a = log_audit_new(&(struct log_audit_opts){
        .listed_known = true, .recv_listed = recv, .nrecv_listed = 1 });
    struct log_row row;

    put("MSGTRK20261122-1.LOG", config_track);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1)
        log_audit_row(a, &row);
    log_reader_free(r);

    const struct log_audit_result *res = log_audit_finish(a);
    const struct log_audit_partner *p = partner(res, "p.test");
    const struct log_audit_warning *w = warning(res, LOG_AUDIT_W_NOT_SECURED, "p.test");

    assert_int_equal(res->nconfigs, 2);        /* the carried rows repeat, they do not change */
    assert_string_equal(res->configs[0].digest, "AA");
    assert_string_equal(res->configs[0].time, "2026-11-22T08:00:00.000Z");
    assert_string_equal(res->configs[1].digest, "BB");
    assert_int_equal(res->configs[0].lists.nrecv, 2);
    assert_string_equal(res->configs[1].lists.recv[0], "r.test");
    assert_int_equal(res->configs[1].lists.nsend, 0);
    /* a@p.test at 09:00: listed by the start configuration, not secured; b@ at
     * 11:00: not listed after the reload.  Neither is today's say. */
    assert_true(p->listed_in.then);
    assert_false(p->listed_in.from_today);
    assert_false(res->history_incomplete);
    assert_int_equal(w->count, 1);
    assert_string_equal(w->time, "2026-11-22T09:00:00.000Z");
    assert_int_equal(p->messages_in, 2);
    log_audit_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inferred, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_config_lists_and_filter, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_time_range, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_real_rows, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_recorded_config, setup_dir, teardown_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
