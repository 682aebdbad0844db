/*
 * policy_edit_test.c - in-place edits of an INI text (policy_edit.c): get,
 * set (replace, add after the section's last key, append a section) and
 * remove of a section, with section headers spelled as the loader accepts
 * them ("[Partner  Woodgrove.COM.]"), every other line kept as it was.
 * Table-driven: {label, text, section, key, value, expected text}.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_edit.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define HEAD "[transport]\n; partners\ntls_send_domain_secure_list = a.example\n\n"

static const struct {
    const char *label, *text, *section, *key, *value, *want;
} set_cases[] = {
    {"replace a key, inline comment and spacing of others kept",
     HEAD "[partner a.example]\nrequire = ca   ; for now\nrevocation=crl\n",
     "partner a.example", "require", "pin",
     HEAD "[partner a.example]\nrequire = pin\nrevocation=crl\n"},
    {"header spelled otherwise: kind and domain case, blanks, trailing dot",
     HEAD "[ Partner \tA.Example. ]\nrequire = ca\n",
     "partner a.example", "require", "ca+pin",
     HEAD "[ Partner \tA.Example. ]\nrequire = ca+pin\n"},
    {"add after the last key, before the comments that head the next section",
     HEAD "[partner a.example]\nrequire = pin\n; inside\nrevocation = crl\n\n"
     "; the hub\n[send Hub]\naddress_spaces = *\n",
     "partner a.example", "certificate_pins", "00ff",
     HEAD "[partner a.example]\nrequire = pin\n; inside\nrevocation = crl\n"
     "certificate_pins = 00ff\n\n; the hub\n[send Hub]\naddress_spaces = *\n"},
    {"add to a section with no key: after its header",
     HEAD "[partner a.example]\n; nothing yet\n[send Hub]\n",
     "partner a.example", "require", "ca",
     HEAD "[partner a.example]\nrequire = ca\n; nothing yet\n[send Hub]\n"},
    {"a section of another name is not this one",
     HEAD "[partner b.example]\nrequire = ca\n",
     "partner a.example", "require", "pin",
     HEAD "[partner b.example]\nrequire = ca\n\n[partner a.example]\nrequire = pin\n"},
    {"append to a file without a final newline",
     "[transport]\naccepted_domains = x.example",
     "partner a.example", "require", "pin",
     "[transport]\naccepted_domains = x.example\n\n[partner a.example]\nrequire = pin\n"},
    {"a connector name keeps its trailing dot",
     "[send Out.]\nport = 25\n", "send Out", "port", "26",
     "[send Out.]\nport = 25\n\n[send Out]\nport = 26\n"},
};

/* test_set - every set case gives exactly the expected text */

static void test_set(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEM(set_cases); i++) {
        char   *out;

        print_message("case: %s\n", set_cases[i].label);
        out = policy_edit_set(set_cases[i].text, set_cases[i].section, set_cases[i].key,
                              set_cases[i].value);
        assert_string_equal(out, set_cases[i].want);
        free(out);
    }
}

/* test_get - the raw value, trimmed, without its comment; NULL when absent */

static void test_get(void **state)
{
    const char *text = HEAD "[Partner A.example.]\nrequire = ca+pin   ; rollover\n"
        "[partner b.example]\n";
    char   *v;

    (void)state;
    v = policy_edit_get(text, "partner a.example", "REQUIRE");
    assert_string_equal(v, "ca+pin");
    free(v);
    assert_null(policy_edit_get(text, "partner a.example", "revocation"));
    assert_null(policy_edit_get(text, "partner b.example", "require"));
    assert_null(policy_edit_get(text, "partner c.example", "require"));
    v = policy_edit_get(text, "transport", "tls_send_domain_secure_list");
    assert_string_equal(v, "a.example");
    free(v);
}

static const struct {
    const char *label, *text, *section, *want;      /* want NULL: no such section */
} remove_cases[] = {
    {"a middle section and one of the blank lines around it",
     HEAD "[partner a.example]\nrequire = pin\ncertificate_pins = 00ff\n\n"
     "; the hub\n[send Hub]\naddress_spaces = *\n",
     "partner A.EXAMPLE.",
     HEAD "; the hub\n[send Hub]\naddress_spaces = *\n"},
    {"comments inside go, the comment above stays",
     "[transport]\n; woodgrove: pinned since 2026\n[partner a.example]\n; old key:\n"
     "require = pin\n[send Hub]\n",
     "partner a.example",
     "[transport]\n; woodgrove: pinned since 2026\n[send Hub]\n"},
    {"the last section, to the end of the file, and the blank line before it",
     HEAD "[partner a.example]\nrequire = ca", "partner a.example",
     "[transport]\n; partners\ntls_send_domain_secure_list = a.example\n"},
    {"the last section after a key line",
     "[transport]\nx = 1\n[partner a.example]\nrequire = ca\n", "partner a.example",
     "[transport]\nx = 1\n"},
    {"a header alone", "[partner a.example]\n[transport]\n", "partner a.example",
     "[transport]\n"},
    {"only the first of two (the loader refuses the second anyway)",
     "[partner a.example]\nrequire = ca\n[partner a.example]\nrequire = pin\n",
     "partner a.example", "[partner a.example]\nrequire = pin\n"},
    {"not there", HEAD "[partner b.example]\n", "partner a.example", NULL},
    {"a key that names the section is not its header",
     "[transport]\npartner a.example = 1\n", "partner a.example", NULL},
};

/* test_remove - every remove case gives exactly the expected text */

static void test_remove(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEM(remove_cases); i++) {
        char   *out;

        print_message("case: %s\n", remove_cases[i].label);
        out = policy_edit_remove(remove_cases[i].text, remove_cases[i].section);
        if (remove_cases[i].want == NULL) {
            assert_null(out);
            continue;
        }
        assert_non_null(out);
        assert_string_equal(out, remove_cases[i].want);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_remove),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
