/*
 * policy_config_line_test.c - where a loaded configuration's keys were
 * written (policy_config_line) and errors found after loading
 * (policy_config_error), as the fail-safe checks of relay_failsafe.c use
 * them.
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

#include "log.h"
#include "policy_config.h"

static const char conf_text[] =
    "; comment\n"                                   /* 1 */
    "[transport]\n"                                 /* 2 */
    "accepted_domains = contoso.test\n"             /* 3 */
    "trusted_ca_file = /x/ca.pem\n"                 /* 4 */
    "\n"                                            /* 5 */
    "[receive Partner]\n"                           /* 6 */
    "bindings = 127.0.0.1:2525\n"                   /* 7 */
    "fqdn = mail.contoso.test\n"                    /* 8 */
    "\n"                                            /* 9 */
    "[send Internet]\n"                             /* 10 */
    "address_spaces = *\n"                          /* 11 */
    "tls_certificate = 0123456789abcdef0123456789abcdef01234567\n"; /* 12 */

/* load - the config above from a temporary file */

static struct config *load(char *path, size_t sz)
{
    struct cfg_errors errs = { 0 };
    struct config *cfg;
    FILE   *fp;
    int     fd;

    snprintf(path, sz, "/tmp/policy_config_line_test.XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs(conf_text, fp);
    fclose(fp);
    cfg = policy_config_load(path, &errs);
    assert_int_equal(errs.n, 0);
    assert_non_null(cfg);
    return cfg;
}

static void test_lines(void **state)
{
    char    path[64];
    struct config *cfg = load(path, sizeof(path));

    (void)state;
    assert_int_equal(policy_config_line(cfg, &cfg->transport, "trusted_ca_file"), 4);
    assert_int_equal(policy_config_line(cfg, &cfg->transport, "crl_directory"), 0);
    assert_int_equal(policy_config_line(cfg, &cfg->transport, NULL), 2);
    assert_int_equal(policy_config_line(cfg, &cfg->receive[0], "fqdn"), 8);
    assert_int_equal(policy_config_line(cfg, &cfg->receive[0], "tls_certificate"), 0);
    assert_int_equal(policy_config_line(cfg, &cfg->receive[0], NULL), 6);
    assert_int_equal(policy_config_line(cfg, &cfg->send[0], "tls_certificate"), 12);
    assert_int_equal(policy_config_line(cfg, &cfg->send[0], NULL), 10);
    /* no [service] section in the file; an unknown key */
    assert_int_equal(policy_config_line(cfg, &cfg->service, NULL), 0);
    assert_int_equal(policy_config_line(cfg, &cfg->service, "user"), 0);
    assert_int_equal(policy_config_line(cfg, &cfg->receive[0], "no_such_key"), 0);
    policy_config_unref(cfg);
    unlink(path);
}

static void test_error(void **state)
{
    char    path[64], *want;
    struct config *cfg = load(path, sizeof(path));
    struct cfg_errors errs = { 0 };

    (void)state;
    policy_config_error(&errs, cfg, 8, "[receive %s] cannot offer STARTTLS", "Partner");
    policy_config_error(&errs, cfg, 0, "no line");
    assert_int_equal(errs.n, 2);
    want = xasprintf("%s:8: [receive Partner] cannot offer STARTTLS", path);
    assert_string_equal(errs.v[0], want);
    free(want);
    want = xasprintf("%s: no line", path);
    assert_string_equal(errs.v[1], want);
    free(want);
    policy_config_errors_free(&errs);
    policy_config_unref(cfg);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_error),
    };

    log_init("policy_config_line_test", LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
