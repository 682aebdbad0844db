/*
 * relay_session_test.c - the disconnect reasons of the receive session:
 * each enum value's word in the "disconnect ... reason=" log line and its
 * protocol log context, as they were when reasons were strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_smtpd.h"

static void test_close_reasons(void **state)
{
    static const struct {
        enum relay_close_reason why;
        const char *name, *plog;
    } cases[] = {
        { RELAY_CLOSE_LOCAL, "Local", "Local" },
        { RELAY_CLOSE_QUIT, "QuitVerb", "QuitVerb" },
        { RELAY_CLOSE_TIMEOUT, "Timeout", "Timeout" },
        { RELAY_CLOSE_TOO_MANY_ERRORS, "TooManyErrors", "TooManyErrors" },
        { RELAY_CLOSE_REMOTE, "Remote", "SenderDisconnected" },
        { RELAY_CLOSE_CONNECTION_LIMIT, "ConnectionLimit", "Local" },
        { RELAY_CLOSE_SOURCE_LIMIT, "SourceLimit", "Local" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(relay__close_reason_name(cases[i].why), cases[i].name);
        assert_string_equal(log_proto_reason_name(relay__close_reason_plog(cases[i].why)),
                            cases[i].plog);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_reasons),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
