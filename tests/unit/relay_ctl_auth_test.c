/*
 * relay_ctl_auth_test.c - who may do what on the control socket: the role
 * of a peer from its credentials (root, the daemon's own user, the service
 * group as primary or supplementary group, anybody else), and every
 * command of the table against every role.  The expected roles are listed
 * here by name: a command added to the table without a row below fails,
 * and so does a handler without a table row (it could never be reached).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "relay_ctl.h"
#include "relay_ctlproto.h"

#define SELF 113                        /* the daemon's uid */
#define GROUP 120                       /* the service user's group */

static void test_role_of(void **state)
{
    gid_t   supp[] = { 4, 27, GROUP }, other[] = { 4, 27 };

    assert_int_equal(ctl_role_of(0, 0, NULL, 0, SELF, GROUP), CTL_ADMIN);
    assert_int_equal(ctl_role_of(0, 999, other, 2, SELF, GROUP), CTL_ADMIN);
    assert_int_equal(ctl_role_of(SELF, GROUP, NULL, 0, SELF, GROUP), CTL_ADMIN);
    assert_int_equal(ctl_role_of(SELF, 5, NULL, 0, SELF, GROUP), CTL_ADMIN);
    assert_int_equal(ctl_role_of(1000, GROUP, NULL, 0, SELF, GROUP), CTL_READER);
    assert_int_equal(ctl_role_of(1000, 1000, supp, 3, SELF, GROUP), CTL_READER);
    assert_int_equal(ctl_role_of(1000, 1000, other, 2, SELF, GROUP), CTL_NONE);
    assert_int_equal(ctl_role_of(65534, 65534, NULL, 0, SELF, GROUP), CTL_NONE);
    /* the daemon started by a user (not root): its own uid is the admin */
    assert_int_equal(ctl_role_of(1000, 1000, NULL, 0, 1000, 1000), CTL_ADMIN);
}

static const struct {
    const char *cmd;
    enum ctl_role role;
} expected[] = {
    { "ping", CTL_READER },
    { "status", CTL_READER },
    { "reload", CTL_ADMIN },
    { "queue.list", CTL_READER },       /* reading, as mailq */
    { "queue.summary", CTL_READER },
    { "queue.show", CTL_READER },       /* with the body: admin (relay_ctl_queue.c) */
    { "queue.retry", CTL_ADMIN },       /* changing, as postsuper */
    { "queue.hold", CTL_ADMIN },
    { "queue.release", CTL_ADMIN },
    { "queue.delete", CTL_ADMIN },
    { "tlsrpt.send", CTL_ADMIN },       /* sends reports now, as queue.retry */
};

static void test_every_command_has_its_role(void **state)
{
    static const enum ctl_role roles[] = { CTL_NONE, CTL_READER, CTL_ADMIN };
    size_t  n = 0;

    for (const struct ctlproto_cmd *c = ctlproto_cmds; c->name != NULL; c++, n++) {
        size_t  k;

        for (k = 0; k < sizeof(expected) / sizeof(expected[0]); k++)
            if (strcmp(expected[k].cmd, c->name) == 0)
                break;
        if (k == sizeof(expected) / sizeof(expected[0]))
            fail_msg("command %s has no row in this test: which role may run it?", c->name);
        if (c->role != expected[k].role)
            fail_msg("command %s needs role %s, the test expects %s", c->name,
                     ctlproto_role_name(c->role), ctlproto_role_name(expected[k].role));
        for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
            bool    want = roles[r] != CTL_NONE && roles[r] >= expected[k].role;

            if (ctlproto_role_allows(roles[r], c) != want)
                fail_msg("command %s, role %s: allowed %d, want %d", c->name,
                         ctlproto_role_name(roles[r]), !want, want);
        }
        assert_non_null(c->args);
        assert_ptr_equal(ctlproto_cmd_find(c->name), c);
    }
    assert_int_equal(n, sizeof(expected) / sizeof(expected[0]));
}

static void test_every_handler_has_a_row(void **state)
{
    const struct ctl_handler *groups[] = { ctl_handlers_core, ctl_handlers_queue, NULL };

    for (size_t g = 0; groups[g] != NULL; g++)
        for (const struct ctl_handler *h = groups[g]; h->name != NULL; h++)
            if (ctlproto_cmd_find(h->name) == NULL)
                fail_msg("handler %s has no row in ctlproto_cmds", h->name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_of),
        cmocka_unit_test(test_every_command_has_its_role),
        cmocka_unit_test(test_every_handler_has_a_row),
    };

    log_init("relay_ctl_auth_test", LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
