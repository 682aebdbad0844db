/*
 * policy_match_test.c - domain lists, IP ranges and receive-connector choice.
 *
 * Table-driven; connectors are built in memory with the public parsers.
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

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* sa_make - "1.2.3.4", "::1" or "::ffff:1.2.3.4" with a port */

static struct sockaddr_storage sa_make(const char *ip, int port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
    }
    return ss;
}

/* test_domain_in_list - exact, case-insensitive, "*.d" for subdomains */

static void test_domain_in_list(void **state)
{
    char *entries[] = {"contoso.com", "*.fabrikam.com", "woodgrovebank.com"};
    struct cfg_list list = {entries, NELEM(entries)};
    char *star[] = {"*"};
    struct cfg_list all = {star, 1}, none = {NULL, 0};
    static const struct {
        const char *domain;
        bool in;
    } t[] = {
        {"contoso.com", true},
        {"CONTOSO.Com", true},
        {"contoso.com.", true},
        {"sub.contoso.com", false},
        {"xcontoso.com", false},
        {"contoso.co", false},
        {"fabrikam.com", false},
        {"mail.fabrikam.com", true},
        {"a.b.FABRIKAM.com", true},
        {"xfabrikam.com", false},
        {"woodgrovebank.com", true},
        {"", false},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        print_message("domain \"%s\"\n", t[i].domain);
        assert_true(policy_domain_in_list(&list, t[i].domain) == t[i].in);
    }
    assert_true(policy_domain_in_list(&all, "anything.example"));
    assert_false(policy_domain_in_list(&none, "contoso.com"));
    assert_false(policy_domain_in_list(&list, NULL));
}

/* test_range_contains - v4, v6, v4-mapped v6 */

static void test_range_contains(void **state)
{
    static const struct {
        const char *range, *ip;
        bool in;
    } t[] = {
        {"10.0.0.0/8", "10.1.2.3", true},
        {"10.0.0.0/8", "11.0.0.1", false},
        {"10.0.0.0/8", "::ffff:10.9.9.9", true},
        {"10.0.0.0/8", "::ffff:11.0.0.1", false},
        {"192.0.2.7", "192.0.2.7", true},
        {"192.0.2.7", "192.0.2.8", false},
        {"192.0.2.128/25", "192.0.2.200", true},
        {"192.0.2.128/25", "192.0.2.127", false},
        {"0.0.0.0/0", "203.0.113.1", true},
        {"0.0.0.0/0", "2001:db8::1", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "10.0.0.1", false},
        {"::/0", "::ffff:10.0.0.1", false},
        {"2001:db8::/32", "2001:db8:ffff::1", true},
        {"2001:db8::/33", "2001:db8:8000::1", false},
        {"2001:db8::1", "2001:db8::1", true},
    };

    for (size_t i = 0; i < NELEM(t); i++) {
        struct cfg_range r;
        struct sockaddr_storage ss = sa_make(t[i].ip, 0);
        const char *why;

        print_message("%s in %s\n", t[i].ip, t[i].range);
        assert_int_equal(policy_parse_range(t[i].range, &r, &why), 0);
        assert_true(policy_range_contains(&r, (struct sockaddr *)&ss) == t[i].in);
    }
}

/* add_receive - a connector from binding and range lists */

static void add_receive(struct config *cfg, const char *name, const char *bindings,
                        const char *ranges)
{
    struct cfg_receive *r;
    const char *why;
    char tok[128];

    cfg->receive = xrealloc(cfg->receive, (cfg->nreceive + 1) * sizeof(*cfg->receive));
    r = &cfg->receive[cfg->nreceive++];
    memset(r, 0, sizeof(*r));
    r->name = xstrdup(name);
    while (policy__list_next(&bindings, tok, sizeof(tok))) {
        r->bindings = xrealloc(r->bindings, (r->nbindings + 1) * sizeof(*r->bindings));
        assert_int_equal(policy_parse_binding(tok, &r->bindings[r->nbindings++], &why), 0);
    }
    while (policy__list_next(&ranges, tok, sizeof(tok))) {
        r->ranges = xrealloc(r->ranges, (r->nranges + 1) * sizeof(*r->ranges));
        assert_int_equal(policy_parse_range(tok, &r->ranges[r->nranges++], &why), 0);
    }
}

/* free_receives - undo add_receive */

static void free_receives(struct config *cfg)
{
    for (size_t i = 0; i < cfg->nreceive; i++) {
        for (size_t j = 0; j < cfg->receive[i].nbindings; j++)
            free(cfg->receive[i].bindings[j].text);
        free(cfg->receive[i].bindings);
        free(cfg->receive[i].ranges);
        free(cfg->receive[i].name);
    }
    free(cfg->receive);
}

/* test_receive_select - binding coverage, longest prefix, specific binding */

static void test_receive_select(void **state)
{
    struct config cfg;
    static const struct {
        const char *local;
        int port;
        const char *remote;
        const char *want;               /* connector name, NULL = none */
    } t[] = {
        {"192.0.2.10", 25, "203.0.113.5", "Inet"},
        {"10.0.0.5", 25, "203.0.113.5", "Inet"},
        {"10.0.0.5", 25, "10.1.2.3", "FromHub"},          /* /8 beats /0 */
        {"192.0.2.10", 25, "10.1.2.3", "AllInternal"},    /* binding 10.0.0.5 not hit */
        {"10.0.0.5", 25, "10.0.0.99", "HubExact"},        /* /24 specific beats wildcard /24 */
        {"192.0.2.10", 25, "10.0.0.99", "WildExact"},
        {"2001:db8::25", 25, "2001:db8:1::1", "Inet"},
        {"::ffff:10.0.0.5", 25, "::ffff:10.1.2.3", "FromHub"}, /* mapped = v4 */
        {"::ffff:192.0.2.10", 25, "::ffff:198.51.100.1", "Inet"},
        {"192.0.2.10", 2525, "127.0.0.1", "Submit"},
        {"192.0.2.10", 2525, "198.51.100.1", NULL},       /* no range */
        {"192.0.2.10", 26, "203.0.113.5", NULL},          /* no binding */
        {"2001:db8::25", 2525, "::1", NULL},              /* v4-only binding */
    };

    memset(&cfg, 0, sizeof(cfg));
    add_receive(&cfg, "Inet", "0.0.0.0:25, [::]:25", "0.0.0.0/0, ::/0");
    add_receive(&cfg, "FromHub", "10.0.0.5:25", "10.0.0.0/8");
    add_receive(&cfg, "AllInternal", "0.0.0.0:25", "10.0.0.0/8, 172.16.0.0/12");
    add_receive(&cfg, "WildExact", "0.0.0.0:25", "10.0.0.0/24");
    add_receive(&cfg, "HubExact", "10.0.0.5:25", "10.0.0.0/24");
    add_receive(&cfg, "Submit", "0.0.0.0:2525", "127.0.0.0/8");
    for (size_t i = 0; i < NELEM(t); i++) {
        struct sockaddr_storage l = sa_make(t[i].local, t[i].port);
        struct sockaddr_storage r = sa_make(t[i].remote, 40000);
        const struct cfg_receive *got =
            policy_receive_select(&cfg, (struct sockaddr *)&l, (struct sockaddr *)&r);

        print_message("%s:%d from %s\n", t[i].local, t[i].port, t[i].remote);
        if (t[i].want == NULL)
            assert_null(got);
        else {
            assert_non_null(got);
            assert_string_equal(got->name, t[i].want);
        }
    }
    free_receives(&cfg);
}

/* test_receive_select_tie - equal prefix and binding kind: the first connector wins */

static void test_receive_select_tie(void **state)
{
    struct config cfg;
    struct sockaddr_storage l = sa_make("192.0.2.1", 25), r = sa_make("10.0.0.1", 1);
    const struct cfg_receive *got;

    memset(&cfg, 0, sizeof(cfg));
    add_receive(&cfg, "First", "0.0.0.0:25", "10.0.0.0/8");
    add_receive(&cfg, "Second", "[::]:25, 0.0.0.0:25", "10.0.0.0/8");
    got = policy_receive_select(&cfg, (struct sockaddr *)&l, (struct sockaddr *)&r);
    assert_non_null(got);
    assert_string_equal(got->name, "First");
    assert_null(policy_receive_select(NULL, (struct sockaddr *)&l, (struct sockaddr *)&r));
    free_receives(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_in_list),
        cmocka_unit_test(test_range_contains),
        cmocka_unit_test(test_receive_select),
        cmocka_unit_test(test_receive_select_tie),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
