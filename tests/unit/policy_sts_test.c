/*
 * policy_sts_test.c - MTA-STS parsers (policy/policy_sts*.c): the TXT
 * record pick, the policy file, MX patterns and the cache entry.
 *
 * Table-driven; each row says what RFC 8461 makes of the input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_sts.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* test_txt_pick - exactly one valid v=STSv1 record, else none */

static void test_txt_pick(void **state)
{
    static const struct {
        const char *rec[3];
        size_t n;
        bool ok;
        const char *id;
    } t[] = {
        {{"v=STSv1; id=20160831085700Z;"}, 1, true, "20160831085700Z"},
        {{"v=STSv1;id=abc"}, 1, true, "abc"},
        {{"v=STSv1 ; id=abc ; "}, 1, true, "abc"},
        {{"v=STSv1; id=abc; ext-1.x=value!"}, 1, true, "abc"},
        {{"v=spf1 -all", "v=STSv1; id=one"}, 2, true, "one"},
        {{"v=STSv1; id=one", "v=STSv1; id=two"}, 2, false, ""},   /* two: none */
        {{"v=spf1 -all"}, 1, false, ""},
        {{"v=STSv1"}, 1, false, ""},                               /* no id */
        {{"v=STSv1; id="}, 1, false, ""},
        {{"v=STSv1; id=abc-def"}, 1, false, ""},                   /* id: ALPHA/DIGIT */
        {{"v=STSv1; id=123456789012345678901234567890123"}, 1, false, ""},  /* 33 chars */
        {{"v=STSv1; id=12345678901234567890123456789012"}, 1, true,
         "12345678901234567890123456789012"},
        {{"v=STSv1; id=a; id=b"}, 1, false, ""},                   /* two ids */
        {{"v=STSv10; id=a"}, 1, false, ""},                        /* not v=STSv1 */
        {{"v=STSv1 id=a"}, 1, false, ""},                          /* no ';' */
        {{"v=STSv1; =x; id=a"}, 1, false, ""},
        {{"V=STSv1; id=a"}, 1, false, ""},                         /* %s: case-sensitive */
        {{NULL}, 0, false, ""},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        char id[POLICY_STS_ID_MAX + 1];
        const char *why = "unset";
        enum policy_sts_txt r = policy_sts_txt_pick(t[i].rec, t[i].n, id, &why);

        if ((r == POLICY_STS_TXT_OK) != t[i].ok)
            fail_msg("row %zu (%s): ok=%d why=%s", i, t[i].rec[0] ? t[i].rec[0] : "-",
                     r == POLICY_STS_TXT_OK, why ? why : "-");
        assert_string_equal(id, t[i].id);
        if (t[i].ok)
            assert_null(why);
        else
            assert_non_null(why);
    }
}

/* test_policy_parse - valid and invalid policies */

static void test_policy_parse(void **state)
{
    static const struct {
        const char *body;
        const char *why;                /* NULL: valid */
        enum sts_mode mode;
        size_t nmx;
        uint64_t max_age;
    } t[] = {
        {"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
         "max_age: 604800\r\n", NULL, STS_MODE_ENFORCE, 2, 604800},
        {"version: STSv1\nmode: testing\nmx: MX.Example.COM\nmax_age: 86400", NULL,
         STS_MODE_TESTING, 1, 86400},
        {"version: STSv1\nmode: none\nmax_age: 0\n", NULL, STS_MODE_NONE, 0, 0},
        {"version:STSv1\nmode:\tenforce  \nmx:mx.example.com\nmax_age:31557600\nfoo: bar\n",
         NULL, STS_MODE_ENFORCE, 1, 31557600},
        {"version: STSv1\nmode: enforce\nmode: none\nmx: a.example.com\nmax_age: 1\n", NULL,
         STS_MODE_ENFORCE, 1, 1},                        /* first mode wins */
        {"version: STSv2\nmode: enforce\nmx: a.example.com\nmax_age: 1\n",
         "policy version is not STSv1", STS_MODE_NONE, 0, 0},
        {"mode: enforce\nmx: a.example.com\nmax_age: 1\n", "policy without version", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmx: a.example.com\nmax_age: 1\n", "policy without mode", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: a.example.com\n", "policy without max_age", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmax_age: 1\n", "policy without mx", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: strict\nmx: a.example.com\nmax_age: 1\n",
         "unknown policy mode", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 31557601\n",
         "max_age is not an integer 0..31557600", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: -1\n",
         "max_age is not an integer 0..31557600", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 1d\n",
         "max_age is not an integer 0..31557600", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 1\n",
         "malformed mx pattern", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 1\n", "malformed mx pattern", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 1\n", NULL,
         STS_MODE_ENFORCE, 1, 1},                       /* RFC 5321 Domain: one label */
        {"version: STSv1\nmode: enforce\nmx: mx.example.com.\nmx: *.b.test.\nmax_age: 1\n",
         NULL, STS_MODE_ENFORCE, 2, 1},                 /* a trailing dot: dropped */
        {"version: STSv1\nmode: enforce\nmx: mx.example.com..\nmax_age: 1\n",
         "malformed mx pattern", STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: .\nmax_age: 1\n", "malformed mx pattern",
         STS_MODE_NONE, 0, 0},
        {"version: STSv1\nmode: enforce\nmx: a.example.com\nmax_age: 86400\n\n", NULL,
         STS_MODE_ENFORCE, 1, 86400},                   /* a trailing empty line */
        {"version: STSv1\r\nmode: enforce\r\nmx: a.example.com\r\nmax_age: 86400\r\n\r\n",
         NULL, STS_MODE_ENFORCE, 1, 86400},
        {"\xef\xbb\xbfversion: STSv1\nmode: testing\nmx: a.example.com\nmax_age: 5\n", NULL,
         STS_MODE_TESTING, 1, 5},                       /* a byte order mark */
        {"mode: enforce\nmx: a.example.com\nmax_age: 1\nversion: STSv1\n", NULL,
         STS_MODE_ENFORCE, 1, 1},                       /* any order */
        {"version: STSv1\nmode: none\nmax_age: 1\nx: gr\xc3\xbc\xc3\x9f \xe2\x82\xac\n", NULL,
         STS_MODE_NONE, 0, 1},                          /* UTF-8 is fine */
        {"version: STSv1\nmode: enforce\nmx: mail.example.com/x\nmax_age: 1\n",
         "malformed mx pattern", STS_MODE_NONE, 0, 0},
        {"version: STSv1\n\nmode: enforce\nmx: a.example.com\nmax_age: 1\n", NULL,
         STS_MODE_ENFORCE, 1, 1},                       /* an empty line: skipped */
        {"<html>not a policy</html>\n", "policy line without ':'", STS_MODE_NONE, 0, 0},
        {"", "policy without version", STS_MODE_NONE, 0, 0},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        const char *why = "unset";
        struct sts_policy *p = policy_sts_parse("example.com", "id1", t[i].body,
                                                strlen(t[i].body), 1000, &why);

        if (t[i].why == NULL) {
            if (p == NULL)
                fail_msg("row %zu: invalid: %s", i, why);
            assert_null(why);
            assert_int_equal(p->mode, t[i].mode);
            assert_int_equal(p->nmx, t[i].nmx);
            assert_int_equal(p->max_age_s, t[i].max_age);
            assert_string_equal(p->text, t[i].body);
            assert_string_equal(p->domain, "example.com");
            assert_string_equal(p->id, "id1");
            assert_int_equal(p->refs, 1);
            policy_sts_unref(p);
        } else {
            if (p != NULL)
                fail_msg("row %zu: valid, expected: %s", i, t[i].why);
            assert_string_equal(why, t[i].why);
        }
    }
}

/* test_policy_limits - NUL bytes and the 64 KiB bound */

static void test_policy_limits(void **state)
{
    static const char nul[] = "version: STSv1\nmode: none\0\nmax_age: 1\n";
    size_t big = POLICY_STS_MAX_BYTES + 1;
    char *b = malloc(big);
    const char *why;

    assert_null(policy_sts_parse("d.test", "i", nul, sizeof(nul) - 1, 0, &why));
    assert_string_equal(why, "NUL byte in the policy");
    memset(b, 'x', big);
    assert_null(policy_sts_parse("d.test", "i", b, big, 0, &why));
    assert_string_equal(why, "policy larger than 64 KiB");
    free(b);
}

/* test_policy_bytes - not UTF-8, or control bytes: invalid (the text becomes
 * TLS-RPT's policy-string, JSON) */

static void test_policy_bytes(void **state)
{
    static const char *const bad[] = {
        "x: \xff\n",                    /* not UTF-8 */
        "x: verf\xfcgbar\n",            /* Latin-1 */
        "x: \xc3\n",                    /* cut inside a character */
        "x: \xc0\xaf\n",                /* overlong */
        "x: \xed\xa0\x80\n",            /* a surrogate */
        "x: \xf4\x90\x80\x80\n",        /* past U+10FFFF */
        "x: a\x01" "b\n",               /* a control byte */
        "x: \x1b[31m\n",
        "x: del\x7f\n",
    };

    for (size_t i = 0; i < NELEM(bad); i++) {
        char *body = NULL;
        const char *why = NULL;
        size_t n;

        n = (size_t)asprintf(&body, "version: STSv1\nmode: enforce\nmx: mx.example.com\n"
                                    "max_age: 86400\n%s", bad[i]);
        if (policy_sts_parse("example.com", "1", body, n, 0, &why) != NULL)
            fail_msg("row %zu: accepted", i);
        assert_string_equal(why, "policy is not UTF-8 text (bad byte or control character)");
        free(body);
    }
}

/* test_expired_future - a fetch time in the future does not keep a policy forever */

static void test_expired_future(void **state)
{
    static const char body[] = "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 60\n";
    uint64_t now = 1765111111000ULL;
    struct sts_policy *p = policy_sts_parse("a.test", "x", body, sizeof(body) - 1,
                                            now + 365ULL * 86400 * 1000, NULL);

    assert_non_null(p);
    assert_true(policy_sts_expired(p, now));                /* a year ahead */
    p->fetched_ms = now + POLICY_STS_CLOCK_SLACK_MS;
    assert_false(policy_sts_expired(p, now));               /* within the slack */
    p->fetched_ms = now + POLICY_STS_CLOCK_SLACK_MS + 1;
    assert_true(policy_sts_expired(p, now));
    policy_sts_unref(p);
}

/* test_mx_match - RFC 8461 4.1 */

static void test_mx_match(void **state)
{
    static const struct {
        const char *pattern, *host;
        bool match;
    } t[] = {
        {"mail.example.com", "mail.example.com", true},
        {"mail.example.com", "MAIL.Example.com.", true},
        {"mail.example.com", "mail2.example.com", false},
        {"mail.example.com", "example.com", false},
        {"*.example.com", "mx1.example.com", true},
        {"*.example.com", "MX1.EXAMPLE.COM.", true},
        {"*.example.com", "example.com", false},
        {"*.example.com", "a.b.example.com", false},
        {"*.example.com", ".example.com", false},
        {"*.example.com", "mx1.example.com.evil.test", false},
        {"*.example.com", "mx1-example.com", false},
    };

    for (size_t i = 0; i < NELEM(t); i++)
        if (policy_sts_pattern_match(t[i].pattern, t[i].host) != t[i].match)
            fail_msg("row %zu: %s vs %s", i, t[i].pattern, t[i].host);
}

/* test_policy_mx - the policy's patterns, lower-cased at parse */

static void test_policy_mx(void **state)
{
    static const char body[] = "version: STSv1\nmode: enforce\nmx: MX.Woodgrove.TEST\n"
                               "mx: *.backup.test\nmax_age: 60\n";
    struct sts_policy *p = policy_sts_parse("woodgrove.test", "x", body, sizeof(body) - 1, 5000,
                                            NULL);

    assert_non_null(p);
    assert_string_equal(p->mx[0], "mx.woodgrove.test");
    assert_true(policy_sts_mx_match(p, "mx.woodgrove.test"));
    assert_true(policy_sts_mx_match(p, "b1.backup.test"));
    assert_false(policy_sts_mx_match(p, "mx.evil.test"));
    assert_false(policy_sts_expired(p, 5000 + 59999));
    assert_true(policy_sts_expired(p, 5000 + 60000));
    assert_ptr_equal(policy_sts_ref(p), p);
    assert_int_equal(p->refs, 2);
    policy_sts_unref(p);
    policy_sts_unref(p);
}

/* test_cache_roundtrip - format then parse gives the same policy */

static void test_cache_roundtrip(void **state)
{
    static const char body[] = "version: STSv1\r\nmode: testing\r\nmx: mx.a.test\r\n"
                               "max_age: 300\r\n";
    struct sts_policy *p = policy_sts_parse("a.test", "ID42", body, sizeof(body) - 1,
                                            1765111111000ULL, NULL), *q;
    static const char bad[] = "domsec-mta-sts 1\ndomain: a.test\nid: x\nfetched: 12x\n\n"
                              "version: STSv1\nmode: none\nmax_age: 1\n";
    const char *why;
    size_t len;
    char *buf;

    assert_non_null(p);
    buf = policy_sts_cache_format(p, &len);
    assert_int_equal(strlen(buf), len);
    q = policy_sts_cache_parse("a.test", buf, len, &why);
    assert_non_null(q);
    assert_string_equal(q->id, "ID42");
    assert_string_equal(q->text, body);
    assert_int_equal(q->fetched_ms, 1765111111000ULL);
    assert_int_equal(q->mode, STS_MODE_TESTING);
    assert_int_equal(q->max_age_s, 300);
    /* Another domain's file, a truncated header, a bad time: refused. */
    assert_null(policy_sts_cache_parse("b.test", buf, len, &why));
    assert_string_equal(why, "cache entry of another domain");
    assert_null(policy_sts_cache_parse("a.test", buf, 30, &why));
    assert_null(policy_sts_cache_parse("a.test", bad, strlen(bad), &why));
    free(buf);
    policy_sts_unref(p);
    policy_sts_unref(q);
}

/* test_domain_ok - names usable as cache file names */

static void test_domain_ok(void **state)
{
    assert_true(policy_sts_domain_ok("example.com"));
    assert_true(policy_sts_domain_ok("mx-1.Example.com"));
    assert_false(policy_sts_domain_ok(""));
    assert_false(policy_sts_domain_ok("../etc"));
    assert_false(policy_sts_domain_ok("a/b"));
    assert_false(policy_sts_domain_ok(".hidden"));
    assert_false(policy_sts_domain_ok("a..b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txt_pick),
        cmocka_unit_test(test_policy_parse),
        cmocka_unit_test(test_policy_limits),
        cmocka_unit_test(test_policy_bytes),
        cmocka_unit_test(test_expired_future),
        cmocka_unit_test(test_mx_match),
        cmocka_unit_test(test_policy_mx),
        cmocka_unit_test(test_cache_roundtrip),
        cmocka_unit_test(test_domain_ok),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
