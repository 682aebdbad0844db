/*
 * policy_value_test.c - the value parsers and formatters of policy_value.c.
 *
 * Table-driven: each table row is {input, expected result} or {input,
 * expected reason}; a test loops over its table and names the failing row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_config.h"
#include "policy_internal.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define BIG "18446744073709551616"      /* 2^64 */

struct num_case {
    const char *in;
    int     rc;
    uint64_t out;                       /* if rc == 0 */
    const char *why;                    /* if rc == -1 */
};

/* check_num - run one numeric parser over a table */

static void check_num(const struct num_case *t, size_t n,
                      int (*fn)(const char *, uint64_t *, const char **))
{
    for (size_t i = 0; i < n; i++) {
        uint64_t out = 0xdeadbeef;
        const char *why = NULL;
        int rc = fn(t[i].in, &out, &why);

        print_message("input \"%s\"\n", t[i].in);
        assert_int_equal(rc, t[i].rc);
        if (rc == 0)
            assert_int_equal(out, t[i].out);
        else
            assert_string_equal(why, t[i].why);
    }
}

#define NOSIZE "is not a size (use B, KB, MB, GB)"

static const struct num_case size_cases[] = {
    {"36MB", 0, 36ULL << 20, NULL},
    {"10KB", 0, 10240, NULL},
    {"1GB", 0, 1ULL << 30, NULL},
    {"65536", 0, 65536, NULL},
    {"512B", 0, 512, NULL},
    {"36mb", 0, 36ULL << 20, NULL},
    {"2 kB", 0, 2048, NULL},
    {"0", 0, 0, NULL},
    {"17179869183GB", 0, 17179869183ULL << 30, NULL},
    {"17179869184GB", -1, 0, "is too large"},
    {BIG, -1, 0, "is too large"},
    {"36XB", -1, 0, NOSIZE},
    {"1TB", -1, 0, NOSIZE},
    {"-1", -1, 0, NOSIZE},
    {"+1", -1, 0, NOSIZE},
    {"", -1, 0, NOSIZE},
    {"MB", -1, 0, NOSIZE},
    {"1.5MB", -1, 0, NOSIZE},
    {"10 MB x", -1, 0, NOSIZE},
};

/* test_size - sizes with binary units */

static void test_size(void **state)
{
    check_num(size_cases, NELEM(size_cases), policy_parse_size);
}

#define NODUR "is not a duration (use ms, s, m, h, d or [d.]hh:mm:ss)"
#define NOSPAN "is not a duration (use [d.]hh:mm:ss)"

static const struct num_case duration_cases[] = {
    {"30s", 0, 30000, NULL},
    {"5m", 0, 300000, NULL},
    {"4h", 0, 14400000, NULL},
    {"2d", 0, 172800000, NULL},
    {"500ms", 0, 500, NULL},
    {"30", 0, 30000, NULL},
    {"0", 0, 0, NULL},
    {"5M", 0, 300000, NULL},
    {"10 s", 0, 10000, NULL},
    {"00:05:00", 0, 300000, NULL},
    {"2.00:00:00", 0, 172800000, NULL},
    {"1:02:03", 0, 3723000, NULL},
    {"00:00:01.5", 0, 1500, NULL},
    {"00:00:00.1234567", 0, 123, NULL},
    {"5x", -1, 0, NODUR},
    {"-5s", -1, 0, NODUR},
    {"", -1, 0, NODUR},
    {"s", -1, 0, NODUR},
    {"1.5h", -1, 0, NODUR},
    {"18446744073709551615d", -1, 0, "is too large"},
    {BIG "ms", -1, 0, "is too large"},
    {"24:00:00", -1, 0, "is not a duration (hours 0-23, minutes and seconds 0-59)"},
    {"00:60:00", -1, 0, "is not a duration (hours 0-23, minutes and seconds 0-59)"},
    {"00:00:60", -1, 0, "is not a duration (hours 0-23, minutes and seconds 0-59)"},
    {"00:05", -1, 0, NOSPAN},
    {"000:05:00", -1, 0, NOSPAN},
    {"1.2.00:00:00", -1, 0, NOSPAN},
    {"00:00:00.12345678", -1, 0, NOSPAN},
    {"00:05:00x", -1, 0, NOSPAN},
    {":05:00", -1, 0, NOSPAN},
};

/* test_duration - suffixed numbers and Exchange TimeSpan */

static void test_duration(void **state)
{
    check_num(duration_cases, NELEM(duration_cases), policy_parse_duration);
}

static const struct num_case uint_cases[] = {
    {"0", 0, 0, NULL},
    {"200", 0, 200, NULL},
    {"18446744073709551615", 0, UINT64_MAX, NULL},
    {BIG, -1, 0, "is too large"},
    {"-1", -1, 0, "is not a number"},
    {"12a", -1, 0, "is not a number"},
    {"", -1, 0, "is not a number"},
};

/* test_uint - plain numbers */

static void test_uint(void **state)
{
    check_num(uint_cases, NELEM(uint_cases), policy__parse_uint);
}

/* test_bool - every spelling, and rejections */

static void test_bool(void **state)
{
    static const struct {
        const char *in;
        int rc;
        bool out;
    } t[] = {
        {"yes", 0, true}, {"no", 0, false}, {"true", 0, true}, {"false", 0, false},
        {"on", 0, true}, {"off", 0, false}, {"1", 0, true}, {"0", 0, false},
        {"$true", 0, true}, {"$false", 0, false}, {"YES", 0, true}, {"$False", 0, false},
        {"maybe", -1, false}, {"", -1, false}, {"yess", -1, false}, {"2", -1, false},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        bool out = !t[i].out;
        const char *why = NULL;

        print_message("input \"%s\"\n", t[i].in);
        assert_int_equal(policy_parse_bool(t[i].in, &out, &why), t[i].rc);
        if (t[i].rc == 0)
            assert_true(out == t[i].out);
        else
            assert_string_equal(why, "is not a boolean (use yes or no)");
    }
}

/* test_domain - LDH names, normalisation, rejections */

static void test_domain(void **state)
{
    char l63[64], l64[65], long253[300], long254[300];
    struct {
        const char *in;
        const char *out;                /* NULL: rejected */
        const char *why;
    } t[] = {
        {"Contoso.COM.", "contoso.com", NULL},
        {"localhost", "localhost", NULL},
        {"xn--bcher-kva.example", "xn--bcher-kva.example", NULL},
        {"a-b.c0", "a-b.c0", NULL},
        {l63, l63, NULL},
        {long253, long253, NULL},
        {l64, NULL, "is not a domain name (labels must have 1 to 63 characters)"},
        {long254, NULL, "is not a domain name (longer than 253 characters)"},
        {"*.contoso.com", NULL, "is not a domain name (wildcards are not supported)"},
        {"*", NULL, "is not a domain name (wildcards are not supported)"},
        {"192.0.2.1", NULL, "is not a domain name (IP literals are not supported)"},
        {"[192.0.2.1]", NULL, "is not a domain name (IP literals are not supported)"},
        {"2001:db8::1", NULL, "is not a domain name (IP literals are not supported)"},
        {"10.1.1", NULL, "is not a domain name (IP literals are not supported)"},
        {"-a.com", NULL, "is not a domain name (a label starts with '-')"},
        {"a-.com", NULL, "is not a domain name (a label ends with '-')"},
        {"a..com", NULL, "is not a domain name (labels must have 1 to 63 characters)"},
        {".com", NULL, "is not a domain name (labels must have 1 to 63 characters)"},
        {"a_b.com", NULL, "is not a domain name (letters, digits, '-' and '.' only)"},
        {"a b.com", NULL, "is not a domain name (letters, digits, '-' and '.' only)"},
        {"", NULL, "is not a domain name (empty)"},
        {".", NULL, "is not a domain name (empty)"},
    };

    memset(l63, 'a', 63);
    l63[63] = '\0';
    memset(l64, 'b', 64);
    l64[64] = '\0';
    /* 4 labels of 63 + 3 dots = 255; trim to 253 and 254 characters. */
    snprintf(long253, sizeof(long253), "%s.%s.%s.%s", l63, l63, l63, l63);
    long253[253] = '\0';
    snprintf(long254, sizeof(long254), "%s.%s.%s.%s", l63, l63, l63, l63);
    long254[254] = '\0';
    for (size_t i = 0; i < NELEM(t); i++) {
        char out[256];
        const char *why = NULL;
        int rc = policy_parse_domain(t[i].in, out, sizeof(out), &why);

        print_message("input \"%s\"\n", t[i].in);
        if (t[i].out) {
            assert_int_equal(rc, 0);
            assert_string_equal(out, t[i].out);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(why, t[i].why);
        }
    }
    /* A buffer too small for the name is a failure, not an overflow. */
    {
        char small[4];
        const char *why;

        assert_int_equal(policy_parse_domain("abcd.e", small, sizeof(small), &why), -1);
    }
}

/* test_binding - listen addresses */

static void test_binding(void **state)
{
    static const struct {
        const char *in;
        const char *text;               /* NULL: rejected */
        int family, port;
        bool wildcard;
        const char *why;
    } t[] = {
        {"0.0.0.0:25", "0.0.0.0:25", AF_INET, 25, true, NULL},
        {"[::]:25", "[::]:25", AF_INET6, 25, true, NULL},
        {"127.0.0.1:2525", "127.0.0.1:2525", AF_INET, 2525, false, NULL},
        {"[2001:DB8:0::1]:587", "[2001:db8::1]:587", AF_INET6, 587, false, NULL},
        {"10.0.0.5:65535", "10.0.0.5:65535", AF_INET, 65535, false, NULL},
        {"0.0.0.0", NULL, 0, 0, false, "has no port (use IP:PORT or [IPv6]:PORT)"},
        {"[::1]", NULL, 0, 0, false, "has no port (use IP:PORT or [IPv6]:PORT)"},
        {"0.0.0.0:0", NULL, 0, 0, false, "has an invalid port (1..65535)"},
        {"0.0.0.0:65536", NULL, 0, 0, false, "has an invalid port (1..65535)"},
        {"0.0.0.0:25x", NULL, 0, 0, false, "has an invalid port (1..65535)"},
        {"0.0.0.0:", NULL, 0, 0, false, "has an invalid port (1..65535)"},
        {"::1:25", NULL, 0, 0, false, "is not a binding (use IP:PORT or [IPv6]:PORT)"},
        {"mail.example:25", NULL, 0, 0, false, "is not a binding (use IP:PORT or [IPv6]:PORT)"},
        {"[1.2.3.4]:25", NULL, 0, 0, false, "is not a binding (use IP:PORT or [IPv6]:PORT)"},
        {"[::1]x:25", NULL, 0, 0, false, "is not a binding (use IP:PORT or [IPv6]:PORT)"},
        {"", NULL, 0, 0, false, "has no port (use IP:PORT or [IPv6]:PORT)"},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct cfg_binding b;
        const char *why = NULL;
        int rc = policy_parse_binding(t[i].in, &b, &why);

        print_message("input \"%s\"\n", t[i].in);
        if (t[i].text == NULL) {
            assert_int_equal(rc, -1);
            assert_string_equal(why, t[i].why);
            assert_null(b.text);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(b.text, t[i].text);
        assert_int_equal(b.addr.ss_family, t[i].family);
        assert_true(b.wildcard == t[i].wildcard);
        if (t[i].family == AF_INET) {
            assert_int_equal(ntohs(((struct sockaddr_in *)&b.addr)->sin_port), t[i].port);
            assert_int_equal(b.addrlen, sizeof(struct sockaddr_in));
        } else {
            assert_int_equal(ntohs(((struct sockaddr_in6 *)&b.addr)->sin6_port), t[i].port);
            assert_int_equal(b.addrlen, sizeof(struct sockaddr_in6));
        }
        free(b.text);
    }
}

/* test_range - CIDR ranges and single addresses */

static void test_range(void **state)
{
    static const struct {
        const char *in;
        const char *out;                /* formatted back; NULL: rejected */
        const char *why;
    } t[] = {
        {"10.0.0.0/8", "10.0.0.0/8", NULL},
        {"192.0.2.7", "192.0.2.7/32", NULL},
        {"0.0.0.0/0", "0.0.0.0/0", NULL},
        {"::/0", "::/0", NULL},
        {"2001:DB8::/32", "2001:db8::/32", NULL},
        {"2001:db8::1", "2001:db8::1/128", NULL},
        {"10.0.0.128/25", "10.0.0.128/25", NULL},
        {"10.0.0.1/8", NULL, "has host bits set"},
        {"10.0.0.129/25", NULL, "has host bits set"},
        {"2001:db8::1/32", NULL, "has host bits set"},
        {"10.0.0.0/33", NULL, "has an invalid prefix length"},
        {"::/129", NULL, "has an invalid prefix length"},
        {"10.0.0.0/", NULL, "has an invalid prefix length"},
        {"10.0.0.0/-1", NULL, "has an invalid prefix length"},
        {"10.0.0.0/8x", NULL, "has an invalid prefix length"},
        {"10.0.0/8", NULL, "is not an IP range (use ADDRESS/PREFIX)"},
        {"example.com", NULL, "is not an IP range (use ADDRESS/PREFIX)"},
        {"[::1]/128", NULL, "is not an IP range (use ADDRESS/PREFIX)"},
        {"", NULL, "is not an IP range (use ADDRESS/PREFIX)"},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct cfg_range r;
        const char *why = NULL;
        char buf[64];
        int rc = policy_parse_range(t[i].in, &r, &why);

        print_message("input \"%s\"\n", t[i].in);
        if (t[i].out == NULL) {
            assert_int_equal(rc, -1);
            assert_string_equal(why, t[i].why);
            continue;
        }
        assert_int_equal(rc, 0);
        policy__format_range(&r, buf, sizeof(buf));
        assert_string_equal(buf, t[i].out);
    }
}

/* test_smarthost - names, literals, ports */

static void test_smarthost(void **state)
{
    static const struct {
        const char *in;
        const char *host;               /* NULL: rejected */
        int port;
        bool literal;
        const char *why;
        const char *printed;
    } t[] = {
        {"relay.example.net:25", "relay.example.net", 25, false, NULL, "relay.example.net:25"},
        {"[10.1.1.1]:587", "10.1.1.1", 587, true, NULL, "[10.1.1.1]:587"},
        {"Hub.Contoso.LOCAL", "hub.contoso.local", 0, false, NULL, "hub.contoso.local"},
        {"10.1.1.1", "10.1.1.1", 0, true, NULL, "[10.1.1.1]"},
        {"[2001:db8::1]:25", "2001:db8::1", 25, true, NULL, "[2001:db8::1]:25"},
        {"[relay.example.net]:25", NULL, 0, false,
         "is not a smart host ([...] must hold an IP address)", NULL},
        {"relay:0", NULL, 0, false, "has an invalid port (1..65535)", NULL},
        {"relay:", NULL, 0, false, "has an invalid port (1..65535)", NULL},
        {"2001:db8::1", NULL, 0, false,
         "is not a smart host (use HOST, HOST:PORT or [IP]:PORT)", NULL},
        {"*.example.net", NULL, 0, false,
         "is not a domain name (wildcards are not supported)", NULL},
        {"", NULL, 0, false, "is not a domain name (empty)", NULL},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct cfg_smarthost h;
        const char *why = NULL;
        char buf[300];
        int rc = policy_parse_smarthost(t[i].in, &h, &why);

        print_message("input \"%s\"\n", t[i].in);
        if (t[i].host == NULL) {
            assert_int_equal(rc, -1);
            assert_string_equal(why, t[i].why);
            assert_null(h.host);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(h.host, t[i].host);
        assert_int_equal(h.port, t[i].port);
        assert_true(h.literal == t[i].literal);
        policy__format_smarthost(&h, buf, sizeof(buf));
        assert_string_equal(buf, t[i].printed);
        free(h.host);
    }
}

/* test_list_split - commas and/or white space separate items */

static void test_list_split(void **state)
{
    static const struct {
        const char *in;
        const char *joined;             /* items joined with '|' */
    } t[] = {
        {"a, b  c,,d", "a|b|c|d"},
        {"  one  ", "one"},
        {"x,\ty", "x|y"},
        {"", ""},
        {" , ,", ""},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        const char *p = t[i].in;
        char tok[16], got[64] = "";

        while (policy__list_next(&p, tok, sizeof(tok)))
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
                     got[0] ? "|" : "", tok);
        print_message("input \"%s\"\n", t[i].in);
        assert_string_equal(got, t[i].joined);
    }
}

/* test_small_parsers - addresses, DNS servers, thumbprints */

static void test_small_parsers(void **state)
{
    static const struct {
        const char *in;
        const char *out;                /* NULL: rejected */
    } dns[] = {
        {"127.0.0.53", "127.0.0.53:53"}, {"127.0.0.53:5353", "127.0.0.53:5353"},
        {"::1", "[::1]:53"}, {"[2001:DB8::1]:5353", "[2001:db8::1]:5353"},
        {"[::1]", "[::1]:53"}, {"1.2.3.4:0", NULL}, {"resolver", NULL}, {"[1.2.3.4]", NULL},
    };
    static const struct {
        const char *in;
        const char *out;
    } thumb[] = {
        {"0123456789abcdef0123456789ABCDEF01234567", "0123456789ABCDEF0123456789ABCDEF01234567"},
        {"0123456789abcdef0123456789ABCDEF0123456", NULL},
        {"0123456789abcdef0123456789ABCDEF0123456g", NULL},
    };
    struct sockaddr_storage ss;
    const char *why;
    char buf[80];

    for (size_t i = 0; i < NELEM(dns); i++) {
        print_message("dns \"%s\"\n", dns[i].in);
        assert_int_equal(policy__parse_dns_server(dns[i].in, buf, sizeof(buf), &why),
                         dns[i].out ? 0 : -1);
        if (dns[i].out)
            assert_string_equal(buf, dns[i].out);
    }
    for (size_t i = 0; i < NELEM(thumb); i++) {
        assert_int_equal(policy__parse_thumbprint(thumb[i].in, buf, sizeof(buf), &why),
                         thumb[i].out ? 0 : -1);
        if (thumb[i].out)
            assert_string_equal(buf, thumb[i].out);
        else
            assert_string_equal(why, "is not a certificate thumbprint (40 hex digits)");
    }
    assert_int_equal(policy__parse_address("192.0.2.1", &ss, &why), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    policy__format_address(&ss, buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.1");
    assert_int_equal(policy__parse_address("2001:db8::1", &ss, &why), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(policy__parse_address("192.0.2.1:25", &ss, &why), -1);
    assert_string_equal(why, "is not an IP address");
}

/* test_format - printing uses the largest exact unit and parses back */

static void test_format(void **state)
{
    static const struct {
        uint64_t n;
        const char *text;
    } size[] = {
        {36ULL << 20, "36MB"}, {65536, "64KB"}, {2147483647, "2147483647"},
        {1ULL << 30, "1GB"}, {0, "0"}, {1536, "1536"},
    }, dur[] = {
        {172800000, "2d"}, {90000, "90s"}, {500, "500ms"}, {0, "0s"},
        {14400000, "4h"}, {300000, "5m"}, {1500, "1500ms"},
    };
    char buf[32];
    uint64_t back;
    const char *why;

    for (size_t i = 0; i < NELEM(size); i++) {
        policy__format_size(size[i].n, buf, sizeof(buf));
        assert_string_equal(buf, size[i].text);
        assert_int_equal(policy_parse_size(buf, &back, &why), 0);
        assert_int_equal(back, size[i].n);
    }
    for (size_t i = 0; i < NELEM(dur); i++) {
        policy__format_duration(dur[i].n, buf, sizeof(buf));
        assert_string_equal(buf, dur[i].text);
        assert_int_equal(policy_parse_duration(buf, &back, &why), 0);
        assert_int_equal(back, dur[i].n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_domain),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_smarthost),
        cmocka_unit_test(test_list_split),
        cmocka_unit_test(test_small_parsers),
        cmocka_unit_test(test_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
