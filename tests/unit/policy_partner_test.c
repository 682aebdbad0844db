/*
 * policy_partner_test.c - [partner D] sections, [dns] dnssec and [send]
 * dane: parsing, derived defaults, every FILE:LINE error, printing (and
 * loading the print again), policy_partner_find(), the loopback rule of
 * dnssec = yes and the warnings of a valid file.
 *
 * Each test writes small INI files into its own mkdtemp() directory
 * (policy_test_util.h); "{c}" and "{l}" in texts and expected errors are
 * the config and list file paths, "{a}" the partner CA file's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define POLICY_TEST_NAME "policy_partner_test"
#include "policy_test_util.h"

#define RECV_A "[receive A]\nbindings = 0.0.0.0:25\n"
#define LISTS "[transport]\ntls_send_domain_secure_list = woodgrovebank.com, fabrikam.com\n" \
    "tls_receive_domain_secure_list = woodgrovebank.com, contoso.com\n"
#define PIN_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define PIN_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define PIN_A_B64 "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="      /* base64 -w0 */
#define PIN_B_B64 "YDA64iuZiGG847KPM+7BvnWKITyGyTwHbb6fVYwRx1I="
#define NOT_PIN "is not a SHA-256 pin (64 hex digits or 44 base64 characters)"
/* PIN_B in upper case with colons, as `openssl dgst -c` might print it */
#define PIN_B_COLONS "60:30:3A:E2:2B:99:88:61:BC:E3:B2:8F:33:EE:C1:BE:" \
    "75:8A:21:3C:86:C9:3C:07:6D:BE:9F:55:8C:11:C7:52"
#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

/* ca_path - the partner CA file of the fixture (owned by the caller) */

static char *ca_path(const struct fx *fx)
{
    return xasprintf("%s/partner-ca.pem", fx->dir);
}

/* expand_ca - replace "{a}" by the CA path, then {c} and {l} (owned by the caller) */

static char *expand_ca(const struct fx *fx, const char *s)
{
    char   *ca = ca_path(fx), *out = xstrdup(""), *tmp, *res;

    for (const char *p = s; *p; p++) {
        tmp = strncmp(p, "{a}", 3) == 0 ? xasprintf("%s%s", out, ca)
            : xasprintf("%s%c", out, *p);
        if (strncmp(p, "{a}", 3) == 0)
            p += 2;
        free(out);
        out = tmp;
    }
    res = expand(fx, out);
    free(out);
    free(ca);
    return res;
}

/* load_text - load an expanded text; errors expected exactly (NULL-terminated) */

static struct config *load_text(const struct fx *fx, const char *text,
                                const char *const *want)
{
    struct cfg_errors errs = {NULL, 0};
    struct config *cfg;
    char   *t = expand_ca(fx, text);
    size_t  n = 0;

    write_file(fx->conf, t, strlen(t));
    free(t);
    cfg = policy_config_load(fx->conf, &errs);
    while (want[n])
        n++;
    if (errs.n != n)
        for (size_t i = 0; i < errs.n; i++)
            print_message("  got: %s\n", errs.v[i]);
    assert_int_equal(errs.n, n);
    for (size_t i = 0; i < n; i++) {
        char   *w = expand_ca(fx, want[i]);

        assert_string_equal(errs.v[i], w);
        free(w);
    }
    policy_config_errors_free(&errs);
    if (n > 0)
        assert_null(cfg);
    else
        assert_non_null(cfg);
    return cfg;
}

/* test_partner_keys - every key of a section, and what each means */

static void test_partner_keys(void **state)
{
    struct fx *fx = *state;
    char   *ca = ca_path(fx), pin[65];
    struct config *cfg;
    const struct cfg_partner *p;

    write_text(fx, ca, "# Woodgrove Bank partner CA\n" PEM PEM);
    cfg = load_text(fx, LISTS RECV_A
                    "[partner WoodgroveBank.COM.]\n"
                    "trusted_ca_file = {a}\n"
                    "trust_global_ca = yes\n"
                    "certificate_pins = " PIN_A ", " PIN_B_COLONS " " PIN_A "\n"
                    "accept_server_auth_only = yes\n"
                    "min_tls_version = 1.3\n"
                    "require = pin\n"
                    "revocation = crl+ocsp\n"
                    "revocation_failure = accept\n",
                    (const char *const[]){NULL});
    assert_int_equal(cfg->npartners, 1);
    p = &cfg->partners[0];
    assert_string_equal(p->domain, "woodgrovebank.com");
    assert_string_equal(p->trusted_ca_file, ca);
    assert_true(p->trust_global_ca);
    assert_int_equal(p->npins, 2);              /* the repeated pin is dropped */
    policy_format_pin(p->pins[0].sha256, pin);
    assert_string_equal(pin, PIN_A);
    policy_format_pin(p->pins[1].sha256, pin);
    assert_string_equal(pin, PIN_B);
    assert_true(p->accept_server_auth_only);
    assert_int_equal(p->min_tls_version, 13);
    assert_int_equal(p->require, CFG_REQUIRE_PIN);
    assert_int_equal(p->revocation, CFG_REV_CRL_OCSP);
    assert_int_equal(p->revocation_failure, CFG_REVFAIL_ACCEPT);
    assert_int_equal(p->line, 6);
    assert_int_equal(policy_config_line(cfg, p, NULL), 6);
    assert_int_equal(policy_config_line(cfg, p, "require"), 12);
    assert_int_equal(policy_config_line(cfg, p, "certificate_pins"), 9);

    /* policy_partner_find: any case, one trailing dot; others have none */
    assert_ptr_equal(policy_partner_find(cfg, "WOODGROVEBANK.com."), p);
    assert_null(policy_partner_find(cfg, "fabrikam.com"));
    assert_null(policy_partner_find(cfg, "woodgrovebank.co"));
    assert_null(policy_partner_find(cfg, "mail.woodgrovebank.com"));
    policy_config_unref(cfg);
    unlink(ca);
    free(ca);
}

/* test_partner_defaults - derived defaults, and no section: no partner */

static void test_partner_defaults(void **state)
{
    struct fx *fx = *state;
    char   *ca = ca_path(fx);
    struct config *cfg;
    const struct cfg_partner *p;

    write_text(fx, ca, PEM);
    cfg = load_text(fx, LISTS "revocation_failure = accept\n" RECV_A
                    "[partner woodgrovebank.com]\n"
                    "[partner fabrikam.com]\ncertificate_pins = " PIN_A "\n"
                    "[partner contoso.com]\ntrusted_ca_file = {a}\n"
                    "[send S]\naddress_spaces = *\n",
                    (const char *const[]){NULL});
    assert_int_equal(cfg->npartners, 3);
    p = &cfg->partners[0];                      /* nothing set: the global behaviour */
    assert_null(p->trusted_ca_file);
    assert_true(p->trust_global_ca);
    assert_int_equal(p->npins, 0);
    assert_true(p->accept_server_auth_only);    /* as the global rule */
    assert_int_equal(p->min_tls_version, 0);
    assert_int_equal(p->require, CFG_REQUIRE_CA);
    assert_int_equal(p->revocation, CFG_REV_CRL);
    assert_int_equal(p->revocation_failure, CFG_REVFAIL_ACCEPT);       /* [transport]'s */
    assert_int_equal(policy_config_line(cfg, p, "require"), 0);
    p = &cfg->partners[1];                      /* pins given: ca+pin */
    assert_int_equal(p->require, CFG_REQUIRE_CA_PIN);
    assert_true(p->trust_global_ca);
    p = &cfg->partners[2];                      /* its own CA: instead of the global one */
    assert_int_equal(p->require, CFG_REQUIRE_CA);
    assert_false(p->trust_global_ca);
    assert_true(cfg->send[0].dane);             /* [send] dane = yes */
    assert_false(cfg->dns.dnssec);              /* [dns] dnssec = no */
    policy_config_unref(cfg);

    cfg = load_text(fx, LISTS RECV_A, (const char *const[]){NULL});
    assert_int_equal(cfg->npartners, 0);
    assert_null(cfg->partners);
    assert_null(policy_partner_find(cfg, "woodgrovebank.com"));
    policy_config_unref(cfg);
    unlink(ca);
    free(ca);
}

static const struct {
    const char *label;
    const char *conf;
    const char *ca;                     /* the partner CA file's text; NULL: none */
    const char *errors[10];
} error_cases[] = {
    {"bad pins",
     LISTS RECV_A "[partner woodgrovebank.com]\ncertificate_pins = xx, " PIN_A ", "
     PIN_A "0, 9f:86" PIN_A "\n", NULL,
     {"{c}:7: certificate_pins: \"xx\" " NOT_PIN,
      "{c}:7: certificate_pins: \"" PIN_A "0\" " NOT_PIN,
      "{c}:7: certificate_pins: \"9f:86" PIN_A "\" " NOT_PIN}},
    {"pin with a non-hex digit",
     LISTS RECV_A "[partner woodgrovebank.com]\ncertificate_pins = "
     "gf86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nrequire = pin\n", NULL,
     {"{c}:7: certificate_pins: \"gf86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
      "\" " NOT_PIN}},
    {"pins with bad colons",
     LISTS RECV_A "[partner woodgrovebank.com]\ncertificate_pins = "
     "60:30:3A:E2:2B:99:88:61:BC:E3:B2:8F:33:EE:C1:BE:75:8A:21:3C:86:C9:3C:07:6D:BE:9F:55:"
     "8C:11:C7;52\n", NULL,
     {"{c}:7: certificate_pins: \"60:30:3A:E2:2B:99:88:61:BC:E3:B2:8F:33:EE:C1:BE:75:8A:21:"
      "3C:86:C9:3C:07:6D:BE:9F:55:8C:11:C7;52\" " NOT_PIN}},
    {"not a listed domain",
     LISTS RECV_A "[partner northwind.example]\n[partner fabrikam.com]\n", NULL,
     {"{c}:6: [partner northwind.example]: northwind.example is on neither "
      "tls_send_domain_secure_list nor tls_receive_domain_secure_list (a partner section "
      "is for a domain-secure partner)"}},
    {"duplicate and bad names",
     LISTS RECV_A "[partner woodgrovebank.com]\n[partner WoodGroveBank.com.]\n"
     "require = pin\n[partner *.woodgrovebank.com]\n[partner]\n", NULL,
     {"{c}:7: duplicate section [partner woodgrovebank.com] (first at line 6)",
      "{c}:9: [partner *.woodgrovebank.com]: \"*.woodgrovebank.com\" is not a domain name "
      "(wildcards are not supported)",
      "{c}:10: section [partner] needs a name, e.g. [partner NAME]"}},
    {"require pin without pins",
     LISTS RECV_A "[partner woodgrovebank.com]\nrequire = pin\n"
     "[partner fabrikam.com]\nrequire = ca+pin\ncertificate_pins =\n", NULL,
     {"{c}:7: require = pin needs certificate_pins (the SHA-256 of each accepted "
      "certificate's public key: `domsec cert show` prints it as pin-sha256)",
      "{c}:9: require = ca+pin needs certificate_pins (the SHA-256 of each accepted "
      "certificate's public key: `domsec cert show` prints it as pin-sha256)"}},
    {"bad values",
     LISTS RECV_A "[partner woodgrovebank.com]\nrequire = any\nrevocation = always\n"
     "revocation_failure = ignore\nmin_tls_version = 1.1\naccept_server_auth_only = maybe\n"
     "trusted_ca_file = ca.pem\ntrust_global_ca = 2\nverify = yes\n", NULL,
     {"{c}:7: require: \"any\" is not valid (use ca or pin or ca+pin or dane)",
      "{c}:8: revocation: \"always\" is not valid (use crl or ocsp or crl+ocsp or none)",
      "{c}:9: revocation_failure: \"ignore\" is not valid (use fail or accept)",
      "{c}:10: min_tls_version: \"1.1\" is not valid (use 1.2 or 1.3)",
      "{c}:11: accept_server_auth_only: \"maybe\" is not a boolean (use yes or no)",
      "{c}:12: trusted_ca_file: \"ca.pem\" is not an absolute path",
      "{c}:13: trust_global_ca: \"2\" is not a boolean (use yes or no)",
      "{c}:14: unknown key \"verify\" in [partner woodgrovebank.com]"}},
    {"no CA at all",
     LISTS RECV_A "[partner woodgrovebank.com]\ntrust_global_ca = no\n"
     "[partner contoso.com]\ntrust_global_ca = no\nrequire = pin\ncertificate_pins = "
     PIN_A "\n", NULL,
     {"{c}:7: [partner woodgrovebank.com]: trust_global_ca = no without trusted_ca_file "
      "leaves no CA to prove woodgrovebank.com (require = ca)"}},
    {"partner CA file missing",
     LISTS RECV_A "[partner woodgrovebank.com]\ntrusted_ca_file = {a}\n", NULL,
     {"{c}:7: trusted_ca_file {a} cannot be read: No such file or directory"}},
    {"partner CA file without a certificate",
     LISTS RECV_A "[partner woodgrovebank.com]\n\ntrusted_ca_file = {a}\n",
     "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
     "-----BEGIN CERTIFICATE-----\nMIIB (cut)\n",
     {"{c}:8: trusted_ca_file {a} holds no certificate (PEM \"-----BEGIN CERTIFICATE-----\")"}},
    {"partner CA file is a directory",
     LISTS RECV_A "[partner woodgrovebank.com]\ntrusted_ca_file = /tmp\n", NULL,
     {"{c}:7: trusted_ca_file /tmp is not a regular file"}},
    {"dane without dnssec",
     LISTS RECV_A "[partner fabrikam.com]\nrequire = dane\n[dns]\ndnssec = no\n", NULL,
     {"{c}:7: require = dane needs [dns] dnssec = yes (TLSA records are trusted only "
      "when DNSSEC-validated)"}},
    {"dnssec with a remote resolver",
     RECV_A "[dns]\nservers = 127.0.0.53, [::1]:5353, 10.0.0.1:53, 192.0.2.1\n"
     "dnssec = yes\n", NULL,
     {"{c}:5: dnssec = yes needs a validating resolver on this host; 10.0.0.1 is not a "
      "loopback address"}},
    {"dnssec and send dane values",
     RECV_A "[send S]\naddress_spaces = *\ndane = sometimes\n[dns]\ndnssec = validate\n", NULL,
     {"{c}:5: dane: \"sometimes\" is not a boolean (use yes or no)",
      "{c}:7: dnssec: \"validate\" is not a boolean (use yes or no)"}},
};

/* test_partner_errors - every partner error, with its exact FILE:LINE prefix */

static void test_partner_errors(void **state)
{
    struct fx *fx = *state;
    char   *ca = ca_path(fx);

    for (size_t i = 0; i < NELEM(error_cases); i++) {
        print_message("case: %s\n", error_cases[i].label);
        if (error_cases[i].ca)
            write_text(fx, ca, error_cases[i].ca);
        load_text(fx, error_cases[i].conf, error_cases[i].errors);
        unlink(ca);
    }
    free(ca);
}

/* test_partner_list_file - a domain of a *_list_file may have a section,
 * whatever the order of the sections */

static void test_partner_list_file(void **state)
{
    struct fx *fx = *state;
    struct config *cfg;

    write_text(fx, fx->list, "# partners\nTailspintoys.example\n");
    cfg = load_text(fx, "[partner tailspintoys.example]\nrequire = pin\n"
                    "certificate_pins = " PIN_B "\n" RECV_A
                    "[transport]\ntls_receive_domain_secure_list_file = {l}\n",
                    (const char *const[]){NULL});
    assert_int_equal(cfg->npartners, 1);
    assert_int_equal(cfg->partners[0].require, CFG_REQUIRE_PIN);
    policy_config_unref(cfg);
}

/* test_partner_print - the print is loadable and prints the same again */

static void test_partner_print(void **state)
{
    struct fx *fx = *state;
    char   *ca = ca_path(fx), *first, *second, *want;
    struct config *cfg, *again;
    struct cfg_errors errs = {NULL, 0};

    write_text(fx, ca, PEM);
    cfg = load_text(fx, LISTS RECV_A
                    "[partner woodgrovebank.com]\ncertificate_pins = " PIN_B_COLONS ", "
                    PIN_A "\nmin_tls_version = 1.2\nrevocation = ocsp\n"
                    "[partner contoso.com]\ntrusted_ca_file = {a}\n"
                    "[send S]\naddress_spaces = *\ndane = no\n"
                    "[dns]\nservers = 127.0.0.1:5353\ndnssec = yes\n",
                    (const char *const[]){NULL});
    first = print_to_string(cfg);
    want = expand_ca(fx, "\n[partner woodgrovebank.com]\n"
                     "trust_global_ca = yes\n"
                     "certificate_pins = " PIN_B ", " PIN_A "\n"
                     "accept_server_auth_only = yes\n"
                     "min_tls_version = 1.2\n"
                     "require = ca+pin\n"
                     "revocation = ocsp\n"
                     "revocation_failure = fail\n"
                     "\n[partner contoso.com]\n"
                     "trusted_ca_file = {a}\n"
                     "trust_global_ca = no\n"
                     "accept_server_auth_only = yes\n"
                     "require = ca\n"
                     "revocation = crl\n"
                     "revocation_failure = fail\n\n[dns]\n");
    assert_non_null(strstr(first, want));
    assert_non_null(strstr(first, "\nmta_sts = yes\ndane = no\n"));
    assert_non_null(strstr(first, "\n[dns]\nservers = 127.0.0.1:5353\ntimeout = 5s\n"
                           "dnssec = yes\n"));
    free(want);

    write_file(fx->out, first, strlen(first));
    again = policy_config_load(fx->out, &errs);
    assert_int_equal(errs.n, 0);
    assert_non_null(again);
    second = print_to_string(again);
    /* the first line names the file it came from */
    assert_string_equal(strchr(first, '\n'), strchr(second, '\n'));

    /* one section alone, as `domsec transport-config partner show` prints it */
    free(second);
    {
        size_t  len = 0;
        FILE   *fp = open_memstream(&second, &len);

        policy_partner_print(&again->partners[1], fp);
        fclose(fp);
    }
    want = expand_ca(fx, "[partner contoso.com]\ntrusted_ca_file = {a}\n"
                     "trust_global_ca = no\naccept_server_auth_only = yes\nrequire = ca\n"
                     "revocation = crl\nrevocation_failure = fail\n");
    assert_string_equal(second, want);
    free(want);
    free(first);
    free(second);
    policy_config_unref(again);
    policy_config_unref(cfg);
    unlink(ca);
    free(ca);
}

/* test_pin_parse - spellings of a pin, and its print */

static void test_pin_parse(void **state)
{
    struct cfg_pin pin;
    const char *why = NULL;
    char    out[65], b64[45];

    (void)state;
    assert_int_equal(policy_parse_pin(PIN_B_COLONS, &pin, &why), 0);
    policy_format_pin(pin.sha256, out);
    assert_string_equal(out, PIN_B);
    assert_int_equal(pin.sha256[0], 0x60);
    assert_int_equal(pin.sha256[31], 0x52);
    assert_int_equal(policy_parse_pin("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15"
                                      "B0F00A08", &pin, &why), 0);
    policy_format_pin(pin.sha256, out);
    assert_string_equal(out, PIN_A);
    /* 40 hex digits is a SHA-1 thumbprint, not a pin */
    assert_int_equal(policy_parse_pin("0123456789abcdef0123456789abcdef01234567", &pin, &why),
                     -1);
    assert_string_equal(why, NOT_PIN);
    assert_int_equal(policy_parse_pin("", &pin, &why), -1);
    assert_int_equal(policy_parse_pin(":" PIN_A, &pin, &why), -1);
    assert_int_equal(policy_parse_pin(PIN_A ":", &pin, &why), -1);
    /* base64 (SPEC 9), bare and as curl's --pinnedpubkey, and printed back */
    memset(&pin, 0, sizeof(pin));
    assert_int_equal(policy_parse_pin(PIN_A_B64, &pin, &why), 0);
    policy_format_pin(pin.sha256, out);
    assert_string_equal(out, PIN_A);
    assert_int_equal(policy_parse_pin("sha256//" PIN_B_B64, &pin, &why), 0);
    policy_format_pin(pin.sha256, out);
    assert_string_equal(out, PIN_B);
    policy_format_pin_base64(pin.sha256, b64);
    assert_string_equal(b64, PIN_B_B64);
    policy_parse_pin(PIN_A, &pin, &why);
    policy_format_pin_base64(pin.sha256, b64);
    assert_string_equal(b64, PIN_A_B64);
    /* not canonical (spare bits set), wrong length, wrong alphabet, no padding */
    assert_int_equal(policy_parse_pin("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgh=", &pin,
                                      &why), -1);
    assert_int_equal(policy_parse_pin("sha256//n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCg==",
                                      &pin, &why), -1);
    assert_int_equal(policy_parse_pin("n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg=", &pin,
                                      &why), -1);
    assert_int_equal(policy_parse_pin("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCggA", &pin,
                                      &why), -1);
    assert_int_equal(policy_parse_pin("sha256//" PIN_A, &pin, &why), -1);
    assert_string_equal(why, NOT_PIN);
    /* all zeros is what an unreadable key hashes to: never a pin, in either form */
    assert_int_equal(policy_parse_pin("0000000000000000000000000000000000000000000000000000000000"
                                      "000000", &pin, &why), -1);
    assert_string_equal(why, "is not a SHA-256 pin (all zeros)");
    assert_int_equal(policy_parse_pin("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &pin, &why),
                     -1);
    assert_string_equal(why, "is not a SHA-256 pin (all zeros)");
    /* the colon form needs every pair separated */
    assert_int_equal(policy_parse_pin("6030:3AE2:2B99:8861:BCE3:B28F:33EE:C1BE:758A:213C:86C9:"
                                      "3C07:6DBE:9F55:8C11:C752:6030:3AE2:2B99:8861", &pin,
                                      &why), -1);
}

/* test_dnssec_resolvers - the loopback rule over [dns] servers and resolv.conf */

static void test_dnssec_resolvers(void **state)
{
    struct fx *fx = *state;
    char   *rc = xasprintf("%s/resolv.conf", fx->dir), bad[80] = "";

    assert_false(policy__dnssec_offhost("127.0.0.1:53,[::1]:53,127.0.0.53:5353", rc, bad,
                                        sizeof(bad)));
    assert_false(policy__dnssec_offhost("[::ffff:127.0.0.1]:53", rc, bad, sizeof(bad)));
    assert_true(policy__dnssec_offhost("127.0.0.1:53,[::2]:53", rc, bad, sizeof(bad)));
    assert_string_equal(bad, "::2");
    assert_true(policy__dnssec_offhost("[::ffff:10.0.0.1]:53", rc, bad, sizeof(bad)));
    assert_string_equal(bad, "::ffff:10.0.0.1");

    /* no servers: resolv.conf's nameservers (none, or no file: c-ares asks 127.0.0.1) */
    assert_false(policy__dnssec_offhost(NULL, rc, bad, sizeof(bad)));
    write_text(fx, rc, "# local unbound\nsearch example\nnameserver 127.0.0.1\n"
               "nameserver ::1\n");
    assert_false(policy__dnssec_offhost(NULL, rc, bad, sizeof(bad)));
    write_text(fx, rc, "nameserver 127.0.0.1\n  nameserver\t192.0.2.53  \n"
               "nameserver 10.0.0.1\n");
    assert_true(policy__dnssec_offhost(NULL, rc, bad, sizeof(bad)));
    assert_string_equal(bad, "192.0.2.53");
    write_text(fx, rc, "nameserver fe80::1%eth0\n");
    assert_true(policy__dnssec_offhost(NULL, rc, bad, sizeof(bad)));
    assert_string_equal(bad, "fe80::1%eth0");
    unlink(rc);
    free(rc);
}

/* test_warnings - require = dane for a domain we also receive from */

static void test_warnings(void **state)
{
    struct fx *fx = *state;
    struct cfg_errors warns = {NULL, 0};
    struct config *cfg;

    cfg = load_text(fx, LISTS RECV_A "[dns]\nservers = 127.0.0.1\ndnssec = yes\n"
                    "[partner woodgrovebank.com]\nrequire = dane\n"
                    "[partner fabrikam.com]\nrequire = dane\n"
                    "[partner contoso.com]\ncertificate_pins = " PIN_A "\nrequire = ca\n",
                    (const char *const[]){NULL});
    assert_int_equal(cfg->partners[0].require, CFG_REQUIRE_DANE);
    policy_config_warnings(cfg, &warns);
    /* fabrikam.com is on the send list only: nothing to say */
    assert_int_equal(warns.n, 2);
    {
        char   *w = expand(fx, "{c}:10: [partner woodgrovebank.com] require = dane holds "
                           "when sending only: mail received from woodgrovebank.com is "
                           "checked as require = ca");

        assert_string_equal(warns.v[0], w);
        free(w);
        w = expand(fx, "{c}:15: [partner contoso.com] certificate_pins are not checked "
                   "with require = ca (use ca+pin or pin)");
        assert_string_equal(warns.v[1], w);
        free(w);
    }
    policy_config_errors_free(&warns);
    policy_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partner_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_list_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partner_print, setup, teardown),
        cmocka_unit_test(test_pin_parse),
        cmocka_unit_test_setup_teardown(test_dnssec_resolvers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warnings, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
