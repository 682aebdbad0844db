/*
 * relay_tlsrpt_test.c - TLS-RPT data and report (relay/sts/relay_tlsrpt_data.c,
 * relay_tlsrpt_mail.c): counting results in a day, merging a day read back,
 * the RFC 8460 report of one domain, days, the rua of _smtp._tls records,
 * gzip and the report mail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "policy_config.h"

#include "relay_tlsrpt.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const lines[] = { "version: STSv1", "mode: enforce", "mx: *.woodgrove.test",
                                     "max_age: 86400" };
static const char *const mxs[] = { "*.woodgrove.test" };
static const struct relay_tlsrpt_who who = { "Org", "ops@snd.test", "relay.snd.test" };

/* sts_policy_of - the woodgrove.test MTA-STS policy as reported */

static struct relay_tlsrpt_policy sts_policy_of(void)
{
    return (struct relay_tlsrpt_policy){ TLSRPT_STS, "woodgrove.test", lines, NELEM(lines), mxs,
                                         NELEM(mxs) };
}

static json_int_t geti(const json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(b ? json_object_get(o, a) : o, b ? b : a));
}

/* test_day_add - sessions counted per policy; failures per distinct detail */

static void test_day_add(void **state)
{
    struct relay_tlsrpt_policy sp = sts_policy_of();
    struct relay_tlsrpt_policy np = { .type = TLSRPT_NO_POLICY, .domain = "fabrikam.test" };
    struct tlsrpt_result ok = { .domain = "woodgrove.test", .type = TLSRPT_STS };
    struct tlsrpt_result bad = { .domain = "woodgrove.test", .type = TLSRPT_STS,
                                 .failure = "certificate-host-mismatch", .mx_host = "mx1.woodgrove.test",
                                 .receiving_ip = "192.0.2.1", .sending_ip = "192.0.2.9" };
    struct tlsrpt_result other = bad;
    json_t *day = relay_tlsrpt_day_new("2026-12-06"), *pols, *e, *fd;

    (void)state;
    other.receiving_ip = "192.0.2.2";           /* another detail */
    other.detail = "certificate names mx.other.test";
    for (int i = 0; i < 3; i++)
        relay_tlsrpt_day_add(day, &sp, &ok);
    relay_tlsrpt_day_add(day, &sp, &bad);
    relay_tlsrpt_day_add(day, &sp, &bad);
    relay_tlsrpt_day_add(day, &sp, &other);
    ok.domain = "fabrikam.test";
    ok.type = TLSRPT_NO_POLICY;
    relay_tlsrpt_day_add(day, &np, &ok);
    pols = json_object_get(day, "policies");
    assert_int_equal(json_array_size(pols), 2);
    e = json_array_get(pols, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "policy"), "policy-type")), "sts");
    assert_int_equal(json_array_size(json_object_get(json_object_get(e, "policy"), "policy-string")), 4);
    assert_int_equal(geti(e, "summary", "total-successful-session-count"), 3);
    assert_int_equal(geti(e, "summary", "total-failure-session-count"), 3);
    fd = json_object_get(e, "failure-details");
    assert_int_equal(json_array_size(fd), 2);
    assert_int_equal(geti(json_array_get(fd, 0), "failed-session-count", NULL), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fd, 0), "sending-mta-ip")),
                        "192.0.2.9");
    assert_int_equal(geti(json_array_get(fd, 1), "failed-session-count", NULL), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fd, 1), "failure-reason-code")),
                        "certificate names mx.other.test");
    assert_null(json_object_get(json_array_get(fd, 0), "failure-reason-code"));  /* NULL: absent */
    e = json_array_get(pols, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "policy"), "policy-type")),
                        "no-policy-found");
    assert_null(json_object_get(json_object_get(e, "policy"), "policy-string"));
    assert_int_equal(geti(e, "summary", "total-successful-session-count"), 1);
    /* A changed policy text is another policy of the same domain. */
    sp.nstrings = 2;
    relay_tlsrpt_day_add(day, &sp, &bad);
    assert_int_equal(json_array_size(pols), 3);
    json_decref(day);
}

/* test_merge - a day read back plus the notes made meanwhile */

static void test_merge(void **state)
{
    struct relay_tlsrpt_policy sp = sts_policy_of();
    struct tlsrpt_result ok = { .domain = "woodgrove.test", .type = TLSRPT_STS };
    struct tlsrpt_result bad = { .domain = "woodgrove.test", .type = TLSRPT_STS,
                                 .failure = "starttls-not-supported", .mx_host = "mx2.woodgrove.test" };
    json_t *a = relay_tlsrpt_day_new("2026-12-06"), *b = relay_tlsrpt_day_new("2026-12-06"), *e;

    (void)state;
    relay_tlsrpt_day_add(a, &sp, &ok);
    relay_tlsrpt_day_add(a, &sp, &bad);
    relay_tlsrpt_day_add(b, &sp, &ok);
    relay_tlsrpt_day_add(b, &sp, &ok);
    relay_tlsrpt_day_add(b, &sp, &bad);
    ok.domain = "other.test";
    sp.domain = "other.test";
    relay_tlsrpt_day_add(b, &sp, &ok);
    relay_tlsrpt_day_merge(a, b);
    assert_int_equal(json_array_size(json_object_get(a, "policies")), 2);
    e = json_array_get(json_object_get(a, "policies"), 0);
    assert_int_equal(geti(e, "summary", "total-successful-session-count"), 3);
    assert_int_equal(geti(e, "summary", "total-failure-session-count"), 2);
    assert_int_equal(json_array_size(json_object_get(e, "failure-details")), 1);
    assert_int_equal(geti(json_array_get(json_object_get(e, "failure-details"), 0),
                          "failed-session-count", NULL), 2);
    json_decref(a);
    json_decref(b);
}

/* test_report - one domain's report: the header fields, its policies only */

static void test_report(void **state)
{
    struct relay_tlsrpt_policy sp = sts_policy_of();
    struct relay_tlsrpt_policy np = { .type = TLSRPT_NO_POLICY, .domain = "fabrikam.test" };
    struct tlsrpt_result ok = { .domain = "woodgrove.test", .type = TLSRPT_STS };
    json_t *day = relay_tlsrpt_day_new("2026-12-06"), *rep, *doms;
    char *id;

    (void)state;
    relay_tlsrpt_day_add(day, &sp, &ok);
    relay_tlsrpt_day_add(day, &np, &ok);
    rep = relay_tlsrpt_report(day, "woodgrove.test", &who);
    assert_non_null(rep);
    assert_string_equal(json_string_value(json_object_get(rep, "organization-name")), "Org");
    assert_string_equal(json_string_value(json_object_get(rep, "contact-info")), "ops@snd.test");
    assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "date-range"),
                                                          "start-datetime")), "2026-12-06T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "date-range"),
                                                          "end-datetime")), "2026-12-06T23:59:59Z");
    id = relay_tlsrpt_report_id("2026-12-06", "woodgrove.test", "relay.snd.test");
    assert_string_equal(id, "20261206.woodgrove.test@relay.snd.test");
    assert_string_equal(json_string_value(json_object_get(rep, "report-id")), id);
    free(id);
    assert_int_equal(json_array_size(json_object_get(rep, "policies")), 1);
    /* No failures: no empty failure-details array. */
    assert_null(json_object_get(json_array_get(json_object_get(rep, "policies"), 0), "failure-details"));
    json_decref(rep);
    assert_null(relay_tlsrpt_report(day, "nowhere.test", &who));
    doms = relay_tlsrpt_day_domains(day);
    assert_int_equal(json_array_size(doms), 2);
    assert_string_equal(json_string_value(json_array_get(doms, 0)), "fabrikam.test");
    json_decref(doms);
    json_decref(day);
}

/* test_days - day names and starts; impossible dates refused */

static void test_days(void **state)
{
    char d[11];

    (void)state;
    assert_int_equal(relay_tlsrpt_day_start("1970-01-02"), 86400);
    relay_tlsrpt_day_name(86400 * 2 - 1, d);
    assert_string_equal(d, "1970-01-02");
    assert_int_equal(relay_tlsrpt_day_start("2026-02-30"), -1);
    assert_int_equal(relay_tlsrpt_day_start("2026-1-01"), -1);
    assert_int_equal(relay_tlsrpt_day_start("2026-12-06x"), -1);
    assert_int_equal(relay_tlsrpt_day_start(""), -1);
}

/* test_rua - RFC 8460 3: one v=TLSRPTv1 record, mailto: and https: URIs */

static void test_rua(void **state)
{
    static const struct {
        const char *rec[2];
        size_t n;
        const char *want[6];            /* NULL-terminated; want[0] NULL: none */
    } t[] = {
        {{"v=TLSRPTv1; rua=mailto:a@x.test"}, 1, {"mailto:a@x.test"}},
        {{"v=TLSRPTv1;rua=mailto:a@x.test,https://r.x.test/p"}, 1,
         {"mailto:a@x.test", "https://r.x.test/p"}},
        {{"v=TLSRPTv1; rua=mailto:a@x.test , https://r.x.test/p ;"}, 1,
         {"mailto:a@x.test", "https://r.x.test/p"}},
        {{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@x.test"}, 2, {"mailto:a@x.test"}},
        {{"v=TLSRPTv1; rua=mailto:a@x.test", "v=TLSRPTv1; rua=mailto:b@x.test"}, 2, {NULL}},
        {{"v=TLSRPTv1; rua=http://r.x.test/"}, 1, {NULL}},      /* http: not a reporting URI */
        {{"v=TLSRPTv1"}, 1, {NULL}},
        {{"v=TLSRPTv10; rua=mailto:a@x.test"}, 1, {NULL}},
        {{"v=spf1 rua=mailto:a@x.test"}, 1, {NULL}},
        /* RFC 6068 hfields dropped, %XX decoded; no address, no domain, specials: refused */
        {{"v=TLSRPTv1; rua=mailto:a@x.test?subject=hi,mailto:b%40y.test"}, 1,
         {"mailto:a@x.test", "mailto:b@y.test"}},
        {{"v=TLSRPTv1; rua=mailto:@x.test,mailto:a@,mailto:a,mailto:a%3Cb@x.test"}, 1, {NULL}},
        {{"v=TLSRPTv1; rua=mailto:a\tb@x.test,mailto:a@x.test\x1b[2J,mailto:\xc3\xa9@x.test"}, 1,
         {NULL}},                       /* controls, escapes, 8-bit: refused */
        {{"v=TLSRPTv1; rua=https://u:p@r.x.test/,https://r.x.test/ok"}, 1, {"https://r.x.test/ok"}},
        /* at most 5 URIs of one record */
        {{"v=TLSRPTv1; rua=mailto:a@x.test,mailto:b@x.test,mailto:c@x.test,mailto:d@x.test,"
          "mailto:e@x.test,mailto:f@x.test,mailto:g@x.test"}, 1,
         {"mailto:a@x.test", "mailto:b@x.test", "mailto:c@x.test", "mailto:d@x.test",
          "mailto:e@x.test"}},
    };

    (void)state;
    for (size_t i = 0; i < NELEM(t); i++) {
        const char *why = NULL;
        char **u = relay_tlsrpt_rua(t[i].rec, t[i].n, &why);
        size_t k = 0;

        if (t[i].want[0] == NULL) {
            assert_null(u);
            assert_non_null(why);
            continue;
        }
        assert_non_null(u);
        for (; t[i].want[k] != NULL; k++)
            assert_string_equal(u[k], t[i].want[k]);
        assert_null(u[k]);
        relay_tlsrpt_rua_free(u);
    }
}

/* test_gzip - a gzip member that zlib reads back */

static void test_gzip(void **state)
{
    const char *text = "{\"organization-name\": \"Org\", \"policies\": []}";
    size_t n;
    unsigned char *gz = relay_tlsrpt_gzip(text, strlen(text), &n), back[256];
    z_stream z = { 0 };

    (void)state;
    assert_true(n > 18);
    assert_int_equal(gz[0], 0x1f);
    assert_int_equal(gz[1], 0x8b);
    assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
    z.next_in = gz;
    z.avail_in = (uInt)n;
    z.next_out = back;
    z.avail_out = sizeof(back);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, strlen(text));
    assert_memory_equal(back, text, strlen(text));
    inflateEnd(&z);
    free(gz);
}

/* test_mail - RFC 8460 5.3 headers, the named attachment, short base64 lines */

static void test_mail(void **state)
{
    unsigned char gz[200];
    struct relay_tlsrpt_mail_in in = {
        .sender = "tlsrpt@relay.snd.test", .rcpt = "reports@woodgrove.test",
        .domain = "woodgrove.test", .submitter = "relay.snd.test",
        .report_id = "20261206.woodgrove.test@relay.snd.test", .day = "2026-12-06",
        .start = 1796515200, .unique = "0006620AD68B0893", .now = 1796601600,
        .gz = gz, .gzlen = sizeof(gz),
    };
    size_t len;
    char *m;

    (void)state;
    for (size_t i = 0; i < sizeof(gz); i++)
        gz[i] = (unsigned char)(i * 7);
    m = relay_tlsrpt_mail(&in, &len);
    assert_int_equal(strlen(m), len);
    /* folded (RFC 5322 2.2.3): unfolded, exactly the RFC 8460 5.3 text */
    assert_non_null(strstr(m, "\r\nSubject: Report Domain: woodgrove.test\r\n Submitter: relay.snd.test"
                              "\r\n Report-ID: <20261206.woodgrove.test@relay.snd.test>\r\n"));
    assert_non_null(strstr(m, "\r\nMessage-ID: <0006620AD68B0893.20261206.woodgrove.test@relay.snd.test>\r\n"));
    assert_non_null(strstr(m, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(m, "\r\nContent-Transfer-Encoding: base64\r\n"));
    /* RFC 8460 5.3: delivered despite TLS failures (RFC 8689 4.2.2) */
    assert_non_null(strstr(m, "\r\nTLS-Required: No\r\n"));
    assert_non_null(strstr(m, "\r\nTLS-Report-Domain: woodgrove.test\r\n"));
    assert_non_null(strstr(m, "\r\nTLS-Report-Submitter: relay.snd.test\r\n"));
    assert_non_null(strstr(m, "multipart/report; report-type=\"tlsrpt\""));
    assert_non_null(strstr(m, "Content-Type: application/tlsrpt+gzip\r\n"));
    assert_non_null(strstr(m, "filename=\"relay.snd.test!woodgrove.test!1796515200!1796601599!"
                              "0006620AD68B0893.json.gz\""));
    assert_non_null(strstr(m, "Date: Mon, 07 Dec 2026 00:00:00 +0000\r\n"));
    const char *b64 = strstr(strstr(m, "filename="), "\r\n\r\n") + 4;
    size_t nb64 = 0;

    for (const char *p = b64, *e; (e = strstr(p, "\r\n")) != NULL && e > p; p = e + 2, nb64++)
        assert_true(e - p <= 76);       /* RFC 2045 6.8 */
    assert_true(nb64 >= 3);             /* 200 bytes: 268 characters */
    for (char *p = m, *e; (e = strstr(p, "\r\n")) != NULL; p = e + 2) {
        assert_true(e - p <= 998);
        for (char *c = p; c < e; c++)
            assert_true((unsigned char)*c < 0x80 && *c != '\n' && *c != '\r');
    }
    free(m);
    /* The longest names: every header line still within 998 (RFC 5322 2.1.1). */
    char dom[254], sub[254], *id;

    memset(dom, 'd', 253);
    memset(sub, 's', 253);
    dom[253] = sub[253] = '\0';
    for (size_t i = 63; i < 253; i += 64)
        dom[i] = sub[i] = '.';
    id = relay_tlsrpt_report_id("2026-12-06", dom, sub);
    in.domain = dom;
    in.submitter = sub;
    in.report_id = id;
    m = relay_tlsrpt_mail(&in, &len);
    for (char *p = m, *e; (e = strstr(p, "\r\n")) != NULL; p = e + 2)
        assert_true(e - p <= 998);
    free(m);
    free(id);
}

/* test_bad_bytes - peer text that is not valid UTF-8 is kept safely, never an abort */

static void test_bad_bytes(void **state)
{
    static const char *const bad_lines[] = { "version: STSv1", "mode: testing", "x: \xff\xfe",
                                             "mx: *.woodgrove.test" };
    struct relay_tlsrpt_policy sp = sts_policy_of();
    struct tlsrpt_result bad = { .domain = "woodgrove.test", .type = TLSRPT_STS,
                                 .failure = "starttls-not-supported", .mx_host = "mx1.woodgrove.test",
                                 .detail = "454 TLS nicht verf\xfcgbar" };
    json_t *day = relay_tlsrpt_day_new("2026-12-06"), *e, *fd, *rep;
    char *s;

    (void)state;
    s = relay__tlsrpt_safe("a\xff" "b\xc3", 100);           /* stray byte, cut sequence */
    assert_string_equal(s, "a?b?");
    free(s);
    s = relay__tlsrpt_safe("caf\xc3\xa9 \xe2\x82\xac\x1b[0m", 100);   /* UTF-8 kept, ESC not */
    assert_string_equal(s, "caf\xc3\xa9 \xe2\x82\xac?[0m");
    free(s);
    s = relay__tlsrpt_safe("ab\xc3\xa9", 3);              /* never cut inside a sequence */
    assert_string_equal(s, "ab");
    free(s);
    s = relay__tlsrpt_safe("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", 100);  /* overlong, surrogate, >10FFFF */
    assert_string_equal(s, "?????????");
    free(s);
    sp.strings = bad_lines;
    sp.nstrings = NELEM(bad_lines);
    relay_tlsrpt_day_add(day, &sp, &bad);
    bad.detail = "454 \xc3";                 /* a 2-byte sequence cut by a buffer */
    relay_tlsrpt_day_add(day, &sp, &bad);
    e = json_array_get(json_object_get(day, "policies"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(e, "policy"),
                                                                         "policy-string"), 2)), "x: ??");
    fd = json_object_get(e, "failure-details");
    assert_int_equal(json_array_size(fd), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fd, 0), "failure-reason-code")),
                        "454 TLS nicht verf?gbar");
    assert_string_equal(json_string_value(json_object_get(json_array_get(fd, 1), "failure-reason-code")),
                        "454 ?");
    rep = relay_tlsrpt_report(day, "woodgrove.test", &who);
    assert_non_null(rep);
    s = json_dumps(rep, 0);
    assert_non_null(s);
    free(s);
    json_decref(rep);
    json_decref(day);
}

/* test_detail_cap - at most 100 distinct failure details a policy; the rest
 * folded per result-type, every session still counted; the index is never
 * written */

static void test_detail_cap(void **state)
{
    struct relay_tlsrpt_policy sp = sts_policy_of();
    struct tlsrpt_result bad = { .domain = "woodgrove.test", .type = TLSRPT_STS,
                                 .failure = "certificate-host-mismatch", .mx_host = "mx1.woodgrove.test" };
    json_t *day = relay_tlsrpt_day_new("2026-12-06"), *back = relay_tlsrpt_day_new("2026-12-06");
    json_t *e, *fd, *last, *read;
    json_int_t sum = 0;
    char detail[32], *text;

    (void)state;
    for (int i = 0; i < 150; i++) {
        snprintf(detail, sizeof(detail), "peer text %d", i);
        bad.detail = detail;
        relay_tlsrpt_day_add(day, &sp, &bad);
    }
    bad.failure = "starttls-not-supported";
    relay_tlsrpt_day_add(day, &sp, &bad);
    e = json_array_get(json_object_get(day, "policies"), 0);
    fd = json_object_get(e, "failure-details");
    assert_int_equal(json_array_size(fd), 102);         /* 100 kept + one folded per type */
    last = json_array_get(fd, 100);
    assert_string_equal(json_string_value(json_object_get(last, "result-type")), "certificate-host-mismatch");
    assert_int_equal(geti(last, "failed-session-count", NULL), 50);
    assert_null(json_object_get(last, "receiving-mx-hostname"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(fd, 101), "result-type")),
                        "starttls-not-supported");
    for (size_t i = 0; i < json_array_size(fd); i++)
        sum += geti(json_array_get(fd, i), "failed-session-count", NULL);
    assert_int_equal(sum, 151);
    assert_int_equal(geti(e, "summary", "total-failure-session-count"), 151);
    /* The file text has no index; read back and merged, the cap and the counts hold. */
    text = relay_tlsrpt_day_text(day);
    assert_null(strstr(text, "\"index\""));
    read = json_loads(text, 0, NULL);
    assert_non_null(read);
    relay_tlsrpt_day_merge(back, read);
    relay_tlsrpt_day_merge(back, read);
    e = json_array_get(json_object_get(back, "policies"), 0);
    assert_int_equal(json_array_size(json_object_get(back, "policies")), 1);
    assert_int_equal(json_array_size(json_object_get(e, "failure-details")), 102);
    assert_int_equal(geti(e, "summary", "total-failure-session-count"), 302);
    assert_int_equal(geti(json_array_get(json_object_get(e, "failure-details"), 100),
                          "failed-session-count", NULL), 100);
    /* A day read back (no index yet) finds its entries: no duplicate policy. */
    bad.detail = "peer text 3";
    bad.failure = "certificate-host-mismatch";
    relay_tlsrpt_day_add(read, &sp, &bad);
    assert_int_equal(json_array_size(json_object_get(read, "policies")), 1);
    assert_int_equal(geti(json_array_get(json_object_get(json_array_get(json_object_get(read, "policies"), 0),
                                                         "failure-details"), 3), "failed-session-count", NULL), 2);
    free(text);
    json_decref(read);
    json_decref(back);
    json_decref(day);
}

/* test_policy_failure - an MTA-STS policy failure without a policy (.sts NULL:
 * fetch error, invalid policy) is an "sts" policy without policy-string and
 * mx-host, its result-type in failure-details (RFC 8460 4.3.2.1, 4.4) */

static void test_policy_failure(void **state)
{
    struct relay_tlsrpt_policy np = { .type = TLSRPT_STS, .domain = "woodgrove.test" };
    struct tlsrpt_result inv = { .domain = "woodgrove.test", .type = TLSRPT_STS,
                                 .failure = "sts-policy-invalid", .detail = "mode: \xff" };
    json_t *day = relay_tlsrpt_day_new("2026-12-06"), *rep, *p, *d;

    (void)state;
    relay_tlsrpt_day_add(day, &np, &inv);
    rep = relay_tlsrpt_report(day, "woodgrove.test", &who);
    assert_non_null(rep);
    p = json_array_get(json_object_get(rep, "policies"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "policy"), "policy-type")), "sts");
    assert_null(json_object_get(json_object_get(p, "policy"), "policy-string"));
    assert_null(json_object_get(json_object_get(p, "policy"), "mx-host"));
    assert_int_equal(geti(p, "summary", "total-failure-session-count"), 1);
    d = json_array_get(json_object_get(p, "failure-details"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "result-type")), "sts-policy-invalid");
    assert_string_equal(json_string_value(json_object_get(d, "failure-reason-code")), "mode: ?");
    assert_null(json_object_get(d, "receiving-mx-hostname"));
    json_decref(rep);
    json_decref(day);
}

/* conf_errors - errors of loading conf (a temporary file), joined by "\n" */

static char *conf_errors(const char *conf)
{
    char path[] = "/tmp/tlsrpt_conf_XXXXXX", *out = strdup("");
    int fd = mkstemp(path);
    struct cfg_errors errs = { NULL, 0 };
    struct config *cfg;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
    close(fd);
    cfg = policy_config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++) {
        char *n = NULL;

        assert_true(asprintf(&n, "%s%s\n", out, strstr(errs.v[i], ":") ? strstr(errs.v[i], ":") : "") > 0);
        free(out);
        out = n;
    }
    policy_config_errors_free(&errs);
    if (cfg != NULL)
        policy_config_unref(cfg);
    unlink(path);
    return out;
}

/* test_config - tlsrpt keys checked at load with FILE:LINE: JSON needs UTF-8, the
 * sender goes into an envelope, the delay stays below a day */

static void test_config(void **state)
{
    char *e;

    (void)state;
    e = conf_errors("[receive A]\nbindings = 0.0.0.0:25\n[transport]\n"
                    "tlsrpt_organization_name = M\xfcller GmbH\n"
                    "tlsrpt_contact_info = ops\xc3\n"
                    "tlsrpt_sender = a b@x.test\n"
                    "tlsrpt_send_delay = 1d\n");
    assert_non_null(strstr(e, ":4: tlsrpt_organization_name: \"M\xfcller GmbH\" is not valid UTF-8\n"));
    assert_non_null(strstr(e, ":5: tlsrpt_contact_info: \"ops\xc3\" is not valid UTF-8\n"));
    assert_non_null(strstr(e, ":6: tlsrpt_sender: \"a b@x.test\" is not a mail address\n"));
    assert_non_null(strstr(e, ":7: tlsrpt_send_delay: \"1d\" is out of bounds"));
    free(e);
    static const char *const bad_senders[] = { "<x@y.test>", "x", "@y.test", "x@", "x@y..test",
                                               "\"x\"@y.test" };
    for (size_t i = 0; i < NELEM(bad_senders); i++) {
        char *conf = NULL;

        assert_true(asprintf(&conf, "[receive A]\nbindings = 0.0.0.0:25\n[transport]\n"
                             "tlsrpt_sender = %s\n", bad_senders[i]) > 0);
        e = conf_errors(conf);
        assert_non_null(strstr(e, "is not a mail address"));
        free(e);
        free(conf);
    }
    e = conf_errors("[receive A]\nbindings = 0.0.0.0:25\n[transport]\n"
                    "tlsrpt_organization_name = M\xc3\xbcller GmbH\n"
                    "tlsrpt_sender = tlsrpt-noreply@relay.snd.test\ntlsrpt_send_delay = 23h\n");
    assert_null(strstr(e, "tlsrpt"));
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_add),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_days),
        cmocka_unit_test(test_rua),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_mail),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_detail_cap),
        cmocka_unit_test(test_policy_failure),
        cmocka_unit_test(test_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
