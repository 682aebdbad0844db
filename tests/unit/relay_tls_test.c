/*
 * relay_tls_test.c - tls/'s chain verdicts in policy's terms
 * (relay_tls_chain): each verdict row by row, revocation on a valid chain,
 * and a value outside enum tls_chain taken as invalid, never read from
 * beyond a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "relay_tls.h"
#include "tls_conn.h"

static enum policy_chain chain_of(int chain, enum tls_revocation rev)
{
    struct tls_facts f;

    memset(&f, 0, sizeof(f));
    f.chain = (enum tls_chain)chain;
    f.revocation = rev;
    return relay_tls_chain(&f);
}

static void test_every_verdict(void **state)
{
    static const struct {
        const char *label;
        enum tls_chain chain;
        enum tls_revocation rev;
        enum policy_chain want;
    } t[] = {
        { "valid", TLS_CHAIN_VALID, TLS_REV_GOOD, POLICY_CHAIN_VALID },
        { "valid, revoked", TLS_CHAIN_VALID, TLS_REV_REVOKED, POLICY_CHAIN_REVOKED },
        { "valid, revocation unknown", TLS_CHAIN_VALID, TLS_REV_UNKNOWN,
          POLICY_CHAIN_REVOCATION_UNKNOWN },
        { "untrusted", TLS_CHAIN_UNTRUSTED, TLS_REV_GOOD, POLICY_CHAIN_UNTRUSTED },
        { "untrusted, revoked: the chain wins", TLS_CHAIN_UNTRUSTED, TLS_REV_REVOKED,
          POLICY_CHAIN_UNTRUSTED },
        { "expired", TLS_CHAIN_EXPIRED, TLS_REV_GOOD, POLICY_CHAIN_EXPIRED },
        { "not yet valid", TLS_CHAIN_NOT_YET_VALID, TLS_REV_GOOD, POLICY_CHAIN_NOT_YET_VALID },
        { "bad EKU", TLS_CHAIN_BAD_EKU, TLS_REV_GOOD, POLICY_CHAIN_BAD_EKU },
        { "revoked", TLS_CHAIN_REVOKED, TLS_REV_GOOD, POLICY_CHAIN_REVOKED },
        { "revocation unknown", TLS_CHAIN_REVOCATION_UNKNOWN, TLS_REV_GOOD,
          POLICY_CHAIN_REVOCATION_UNKNOWN },
        { "invalid", TLS_CHAIN_INVALID, TLS_REV_GOOD, POLICY_CHAIN_INVALID },
        { "no certificate", TLS_CHAIN_NONE, TLS_REV_GOOD, POLICY_CHAIN_INVALID },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        print_message("verdict %s\n", t[i].label);
        assert_int_equal(chain_of(t[i].chain, t[i].rev), t[i].want);
    }
}

/* Before, map[f->chain] read beyond the table: whatever lay there (chain 9
 * gave 0x625f6370, bytes of a string; 0 would have been VALID). */
static void test_outside_the_enum_is_invalid(void **state)
{
    static const int out[] = { TLS_CHAIN_NONE + 1, TLS_CHAIN_NONE + 2, 64, 100000, -1,
                               INT32_MIN };

    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        print_message("chain %d\n", out[i]);
        assert_int_equal(chain_of(out[i], TLS_REV_GOOD), POLICY_CHAIN_INVALID);
        assert_int_equal(chain_of(out[i], TLS_REV_REVOKED), POLICY_CHAIN_INVALID);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_verdict),
        cmocka_unit_test(test_outside_the_enum_is_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
