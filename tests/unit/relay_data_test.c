/*
 * relay_data_test.c - the DATA filter: dot-unstuffing, end of data, and
 * the SMTP-smuggling cases, fed whole and one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "relay_smtpd.h"

struct filter_case {
    const char *label;
    const char *in;
    const char *out;                    /* decoded message */
    size_t  used;                       /* bytes consumed incl. the final CRLF.CRLF; 0 = all */
    bool    done;
    bool    bare;
};

static const struct filter_case cases[] = {
    { "plain", "Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n", 0, true, false },
    { "empty message", ".\r\n", "", 0, true, false },
    { "dot unstuffing", "..a\r\n...\r\n.\r\n", ".a\r\n..\r\n", 0, true, false },
    { "dot in the middle", "a.b\r\n.\r\n", "a.b\r\n", 0, true, false },
    { "trailing data after end", "x\r\n.\r\nQUIT\r\n", "x\r\n", 6, true, false },
    { "LF.LF does not end", "a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", 0, true, true },
    { "CRLF.LF does not end", "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", 0, true, true },
    { "LF.CRLF does not end", "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", 0, true, true },
    { "bare CR", "a\rb\r\n.\r\n", "a\rb\r\n", 0, true, true },
    { "CR.CR does not end", "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", 0, true, true },
    { "dot bare CR", "x\r\n.\rb\r\n.\r\n", "x\r\n\rb\r\n", 0, true, true },
    { "not finished", "a\r\nb", "a\r\nb", 0, false, false },
    { "CRCRLF", "a\r\r\n.\r\n", "a\r\r\n", 0, true, true },
};

/* run_case - feed `in` in pieces of `step` bytes and compare */

static void run_case(const struct filter_case *c, size_t step)
{
    enum relay_dot_state st = RELAY_DOT_BOL;
    size_t len = strlen(c->in), pos = 0, olen = 0;
    char out[256];
    bool bare = false, done = false;

    while (pos < len && !done) {
        size_t n = len - pos < step ? len - pos : step, room = sizeof(out) - olen;
        size_t used = relay_data_filter(&st, &bare, c->in + pos, n, out + olen, &room, &done);

        assert_true(used <= n);
        pos += used;
        olen += room;
    }
    print_message("case %s step %zu\n", c->label, step);
    assert_int_equal(done, c->done);
    assert_int_equal(bare, c->bare);
    assert_int_equal(pos, c->used ? len - c->used : len);
    assert_int_equal(olen, strlen(c->out));
    assert_memory_equal(out, c->out, olen);
}

/* The TLS-Required: No scan (RFC 8689 3), fed whole and one byte at a time. */
static const struct {
    const char *label, *in;
    bool no;
} tlsreq_cases[] = {
    { "plain", "Subject: x\r\nTLS-Required: No\r\n\r\nbody\r\n", true },
    { "any case, blanks", "tls-required :  nO \r\n\r\n", true },
    { "folded", "Subject: x\r\nTLS-Required:\r\n No\r\n\r\n", true },
    { "last field, LF only", "From: a\nTLS-Required: No\n\n", true },
    { "first field, no tab issue", "TLS-Required:\tNo\r\nSubject: y\r\n\r\n", true },
    { "other value", "TLS-Required: Yes\r\n\r\n", false },
    { "longer value", "TLS-Required: Nope\r\n\r\n", false },
    { "other field", "X-TLS-Required: No\r\n\r\n", false },
    { "name prefix", "TLS-Required-Not: No\r\n\r\n", false },
    { "only in the body", "Subject: x\r\n\r\nTLS-Required: No\r\n", false },
    { "long field", "TLS-Required: No                                       x\r\n\r\n", false },
    { "no colon", "TLS-Required No\r\n\r\n", false },
    /* A header-only message: its last field is judged at the end. */
    { "header-only, field last", "Subject: x\r\nTLS-Required: No\r\n", true },
    { "header-only, the only field", "TLS-Required: No\r\n", true },
    { "colon in a value", "Subject: a: b\r\nTLS-Required: No\r\n\r\n", true },
    /* The header section ends where Postfix and Python's email package see
     * the body start: the first line that is no field, "\r\r\n" too. */
    { "non-header line then field", "Subject: x\r\nno header here\r\nTLS-Required: No\r\n\r\n",
      false },
    { "line without colon then field", "Subject: x\r\nnoheader\r\nTLS-Required: No\r\n\r\n",
      false },
    { "CR CR LF then field", "Subject: x\r\n\r\r\nTLS-Required: No\r\n\r\n", false },
    { "8-bit name then field", "Subj\xc3\xa9: x\r\nTLS-Required: No\r\n\r\n", false },
    { "field then non-header line", "TLS-Required: No\r\nno header here\r\n\r\n", true },
    /* ... and the field before such a line is judged like before any other. */
    { "field then CR CR LF", "TLS-Required: No\r\n\r\r\nx", true },
    { "field then CR-led line", "TLS-Required: No\r\n\rX: y\r\n", true },
};

static void test_tlsreq_scan(void **state)
{
    for (size_t i = 0; i < sizeof(tlsreq_cases) / sizeof(tlsreq_cases[0]); i++) {
        const char *in = tlsreq_cases[i].in;
        struct relay_tlsreq whole = { 0 }, bytes = { 0 };

        print_message("%s\n", tlsreq_cases[i].label);
        relay_data_tlsreq_scan(&whole, in, strlen(in));
        for (size_t k = 0; in[k] != '\0'; k++)
            relay_data_tlsreq_scan(&bytes, in + k, 1);
        relay_data_tlsreq_end(&whole);  /* the message text ends */
        relay_data_tlsreq_end(&bytes);
        assert_int_equal(whole.no, tlsreq_cases[i].no);
        assert_int_equal(bytes.no, tlsreq_cases[i].no);
    }
}

static void test_filter_whole(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], 1000);
}

static void test_filter_bytewise(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], 1);
}

static void test_filter_small_output(void **state)
{
    /* The output room limits consumption; nothing is lost across calls. */
    enum relay_dot_state st = RELAY_DOT_BOL;
    const char *in = "abcdefghij\r\n.\r\n";
    char out[64];
    size_t pos = 0, olen = 0, len = strlen(in);
    bool bare = false, done = false;

    while (!done) {
        size_t room = 3;                /* never more than 3 bytes per call */

        pos += relay_data_filter(&st, &bare, in + pos, len - pos, out + olen, &room, &done);
        assert_true(room <= 3);
        olen += room;
        assert_true(pos <= len);
    }
    assert_int_equal(olen, 12);
    assert_memory_equal(out, "abcdefghij\r\n", 12);
    assert_false(bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_whole),
        cmocka_unit_test(test_tlsreq_scan),
        cmocka_unit_test(test_filter_bytewise),
        cmocka_unit_test(test_filter_small_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
