/*
 * relay_dsn_test.c - the DSN builder: exact header lines, the three MIME
 * parts in order, the delivery-status fields, the copied header section,
 * CRLF-only output, 998-octet lines and 7-bit text, one case per table row.
 *
 * With DSN_OUT_DIR set, each DSN is also written to DSN_OUT_DIR/LABEL.eml
 * for tests/unit/dsn_check.py (Python's email package) to parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "relay_dsn.h"

#define NOW_MS      1700000000123ULL    /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define ARRIVAL_MS  1699999000000ULL    /* Tue, 14 Nov 2023 21:56:40 +0000 */
#define LAST_MS     1699999900000ULL    /* Tue, 14 Nov 2023 22:11:40 +0000 */
#define BOUNDARY    "=_dsn_ABC123_1700000000123"

#define DEFER_TEXT "451 4.4.0 Primary target IP address responded with: \"421 4.3.2 " \
    "Service not available.\" Attempted failover to alternate host, but that did not " \
    "succeed. Either there are no alternate hosts, or delivery failed to all alternate " \
    "hosts. The last endpoint attempted was 192.0.2.25:25"

struct dsn_case {
    const char *label;                  /* also the output file name */
    enum relay_dsn_kind kind;
    const char *message;                /* original message */
    struct relay_dsn_rcpt rcpts[2];
    size_t  nrcpts;
    bool    long_diag;                  /* rcpts[0].diagnostic = long_diag_text */
    const char *subject;                /* the exact Subject: field, folded lines included */
    const char *boundary;
    const char *headers;                /* expected text/rfc822-headers content */
    const char *present[10];            /* must occur (exact lines with their CRLF) */
    const char *absent[4];              /* must not occur */
};

static char long_diag_text[3200];

static const struct dsn_case cases[] = {
    { "failure_two_recipients", RELAY_DSN_FAILURE,
      "From: Alice <alice@contoso.com>\r\nSubject: Quarterly r\xc3\xa9port\r\n"
      "Message-ID: <1@contoso.com>\r\n\r\nHello.\r\n",
      { { "bob@fabrikam.com", "5.1.1", "550 5.1.1 User unknown", "mx.fabrikam.com", LAST_MS },
        { "carol@null.example", "5.1.10", "556 5.1.10 Recipient address has null MX",
          NULL, 0 } }, 2, false,
      "Subject: Undeliverable: Quarterly r??port\r\n", BOUNDARY,
      "From: Alice <alice@contoso.com>\r\nSubject: Quarterly r\xc3\xa9port\r\n"
      "Message-ID: <1@contoso.com>\r\n",
      { "\r\nDelivery has failed to these recipients or groups:\r\n\r\nbob@fabrikam.com\r\n"
        "    550 5.1.1 User unknown\r\n\r\ncarol@null.example\r\n",
        "\r\nReporting-MTA: dns; mx.contoso.com\r\nArrival-Date: Tue, 14 Nov 2023 21:56:40 +0000\r\n"
        "\r\nFinal-Recipient: rfc822; bob@fabrikam.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Remote-MTA: dns; mx.fabrikam.com\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "Last-Attempt-Date: Tue, 14 Nov 2023 22:11:40 +0000\r\n"
        "\r\nFinal-Recipient: rfc822; carol@null.example\r\nAction: failed\r\nStatus: 5.1.10\r\n"
        "Diagnostic-Code: smtp; 556 5.1.10 Recipient address has null MX\r\n\r\n--",
        "\r\nReporting server: mx.contoso.com\r\nOriginal queue id: ABC123\r\n" },
      { NULL } },
    { "delay", RELAY_DSN_DELAY,
      "Subject: hello\r\nFrom: alice@contoso.com\r\n\r\nbody\r\n",
      { { "dave@fabrikam.com", "4.4.0", DEFER_TEXT, "mx.fabrikam.com", LAST_MS } }, 1, false,
      "Subject: Delivery delayed: hello\r\n", BOUNDARY,
      "Subject: hello\r\nFrom: alice@contoso.com\r\n",
      { "\r\nAction: delayed\r\nStatus: 4.4.0\r\n",
        "\r\nDiagnostic-Code: smtp; 451 4.4.0 Primary target IP address responded with:\r\n"
        " \"421 4.3.2 Service not available.\" Attempted failover to alternate host, but\r\n",
        "Delivery of the message to these recipients has been delayed. The server will\r\n"
        "keep trying", "\r\ndave@fabrikam.com\r\n    451 4.4.0 Primary" },
      { "Action: failed", "Undeliverable" } },
    { "no_subject", RELAY_DSN_FAILURE,
      "From: alice@contoso.com\r\n\r\nbody\r\n",
      { { "erin@fabrikam.com", NULL, NULL, NULL, 0 } }, 1, false,
      "Subject: Undeliverable: (no subject)\r\n", BOUNDARY,
      "From: alice@contoso.com\r\n",
      { "\r\nFinal-Recipient: rfc822; erin@fabrikam.com\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n--",
        "\r\nerin@fabrikam.com\r\n    (no further information)\r\n" },
      { "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date" } },
    { "folded_subject", RELAY_DSN_FAILURE,
      "From: alice@contoso.com\r\nsubject : A very\r\n long\r\n\tsubject  \r\nTo: x@y\r\n\r\n",
      { { "frank@fabrikam.com", "5.4.4", "550 5.4.4 Unable to route", NULL, 0 } }, 1, false,
      "Subject: Undeliverable: A very long subject\r\n", BOUNDARY,
      "From: alice@contoso.com\r\nsubject : A very\r\n long\r\n\tsubject  \r\nTo: x@y\r\n",
      { NULL }, { NULL } },
    { "headers_only", RELAY_DSN_FAILURE,
      "From: alice@contoso.com\nSubject: hi\r\nX-Last: 1",
      { { "gina@fabrikam.com", "4.4.7", "550 4.4.7 QUEUE.Expired; message expired", NULL, 0 } },
      1, false, "Subject: Undeliverable: hi\r\n", BOUNDARY,
      "From: alice@contoso.com\r\nSubject: hi\r\nX-Last: 1\r\n",
      { "\r\nStatus: 4.4.7\r\n" }, { NULL } },
    { "boundary_collision", RELAY_DSN_FAILURE,
      "Subject: trap\r\nX-Trap: " BOUNDARY "\r\nX-Trap-2: --" BOUNDARY "_1\r\n\r\n",
      { { "hank@fabrikam.com", "5.7.1", "550 5.7.1 Relay denied", "mx.fabrikam.com", 0 } }, 1,
      false, "Subject: Undeliverable: trap\r\n", BOUNDARY "_2",
      "Subject: trap\r\nX-Trap: " BOUNDARY "\r\nX-Trap-2: --" BOUNDARY "_1\r\n",
      { NULL }, { NULL } },
    { "long_diagnostic", RELAY_DSN_FAILURE,
      "Subject: long\r\n\r\n",
      { { "ivan@fabrikam.com", "5.0.0", NULL, "mx.fabrikam.com", LAST_MS } }, 1, true,
      "Subject: Undeliverable: long\r\n", BOUNDARY, "Subject: long\r\n",
      { "\r\nDiagnostic-Code: smtp; 550 5.0.0 word0 word1 word2", }, { NULL } },
};

/* fill_long_diag - 500 short words, one 2000-byte word, a tab, CRLF and 8-bit bytes */

static void fill_long_diag(void)
{
    size_t  o = (size_t)snprintf(long_diag_text, sizeof(long_diag_text), "550 5.0.0");

    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(long_diag_text + o, sizeof(long_diag_text) - o, " word%d", i);
    long_diag_text[o++] = '\t';
    memset(long_diag_text + o, 'x', 2000);
    o += 2000;
    strcpy(long_diag_text + o, "\r\n550 end \xff\x01 done");
}

/* count - occurrences of needle in hay */

static size_t count(const char *hay, const char *needle)
{
    size_t  n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* check_lines - CRLF only, no line over 998, no NUL; 7-bit up to `eight` */

static void check_lines(const char *m, size_t len, size_t eight)
{
    size_t  start = 0;

    assert_int_equal(strlen(m), len);
    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\r')
            assert_true(i + 1 < len && m[i + 1] == '\n');
        if (m[i] == '\n') {
            assert_true(i > 0 && m[i - 1] == '\r');
            assert_true(i - 1 - start <= 998);
            start = i + 1;
        }
        if (i < eight)
            assert_true((unsigned char)m[i] < 0x80);
    }
    assert_int_equal(start, len);       /* ends with CRLF */
}

/* check_long_diag - the folded Diagnostic-Code unfolds to the cleaned text */

static void check_long_diag(const char *m)
{
    const char *p = strstr(m, "\r\nDiagnostic-Code: smtp; ") + 2, *e;
    char   *un = xcalloc(1, strlen(p) + 1), *q = un;

    for (e = p; !(e[0] == '\r' && e[1] == '\n' && e[2] != ' '); e++)
        if (e[0] == '\r')
            e++;                        /* drop CRLF, keep the folding space */
        else
            *q++ = *e;
    assert_non_null(strstr(un, " word98 word99 xxxx"));
    assert_non_null(strstr(un, "xxxx 550 end ?? done"));
    assert_true(count(un, "x") >= 2000);
    free(un);
}

/* write_out - keep the DSN for dsn_check.py */

static void write_out(const char *label, const char *m, size_t len)
{
    const char *dir = getenv("DSN_OUT_DIR");
    char    path[512];
    FILE   *f;

    if (dir == NULL || *dir == '\0')
        return;
    snprintf(path, sizeof(path), "%s/%s.eml", dir, label);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* run_case - build one DSN and check everything */

static void run_case(void **state)
{
    const struct dsn_case *c = *state;
    struct relay_dsn_rcpt rcpts[2];
    struct relay_dsn_input in = {
        .kind = c->kind, .reporting_mta = "mx.contoso.com", .queue_id = "ABC123",
        .original_sender = "alice@contoso.com", .postmaster = "postmaster@contoso.com",
        .arrival_ms = ARRIVAL_MS, .now_ms = NOW_MS,
        .message = c->message, .message_len = strlen(c->message),
        .rcpts = rcpts, .nrcpts = c->nrcpts,
    };
    static const char *const types[3] = {
        "text/plain; charset=us-ascii", "message/delivery-status", "text/rfc822-headers",
    };
    char    delim[128], *m, *hend, *part3;
    const char *p;
    size_t  len;

    memcpy(rcpts, c->rcpts, sizeof(rcpts));
    if (c->long_diag)
        rcpts[0].diagnostic = long_diag_text;
    m = relay_dsn_build(&in, &len);
    assert_non_null(m);
    write_out(c->label, m, len);

    /* Top-level header lines. */
    hend = strstr(m, "\r\n\r\n");
    assert_non_null(hend);
    hend[2] = '\0';
    assert_true(strncmp(m, "From: Mail Delivery System <postmaster@contoso.com>\r\n", 53) == 0);
    assert_non_null(strstr(m, "\r\nTo: <alice@contoso.com>\r\n"));
    assert_non_null(strstr(m, c->subject));
    assert_non_null(strstr(m, "\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
    assert_non_null(strstr(m, "\r\nMessage-ID: <ABC123.dsn.1700000000123@mx.contoso.com>\r\n"));
    assert_non_null(strstr(m, "\r\nX-Domsec-Original-Queue-Id: ABC123\r\n"));
    assert_non_null(strstr(m, "\r\nAuto-Submitted: auto-replied\r\n"));
    assert_non_null(strstr(m, "\r\nMIME-Version: 1.0\r\n"));
    snprintf(delim, sizeof(delim), "\r\nContent-Type: multipart/report; "
             "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", c->boundary);
    assert_non_null(strstr(m, delim));
    hend[2] = '\r';

    /* Three parts in order, then the close delimiter at the very end. */
    p = hend;
    for (int i = 0; i < 3; i++) {
        snprintf(delim, sizeof(delim), "\r\n--%s\r\nContent-Type: %s\r\n", c->boundary, types[i]);
        p = strstr(p, delim);
        assert_non_null(p);
    }
    part3 = strstr(p, "\r\n\r\n") + 4;
    snprintf(delim, sizeof(delim), "\r\n--%s--\r\n", c->boundary);
    assert_true(len > strlen(delim));
    assert_string_equal(m + len - strlen(delim), delim);
    assert_int_equal(count(m, c->boundary), 5);
    assert_true(strncmp(part3, c->headers, strlen(c->headers)) == 0);
    assert_ptr_equal(part3 + strlen(c->headers), m + len - strlen(delim));
    check_lines(m, len, (size_t)(part3 - m));

    /* Delivery-status fields, then the case's own expectations. */
    for (size_t i = 0; i < c->nrcpts; i++) {
        snprintf(delim, sizeof(delim), "\r\nFinal-Recipient: rfc822; %s\r\n", c->rcpts[i].addr);
        assert_int_equal(count(m, delim), 1);
    }
    assert_int_equal(count(m, c->kind == RELAY_DSN_FAILURE ? "\r\nAction: failed\r\n"
                           : "\r\nAction: delayed\r\n"), c->nrcpts);
    for (int i = 0; i < 10 && c->present[i]; i++) {
        print_message("case %s present %d\n", c->label, i);
        assert_non_null(strstr(m, c->present[i]));
    }
    for (int i = 0; i < 4 && c->absent[i]; i++)
        assert_null(strstr(m, c->absent[i]));
    if (c->long_diag)
        check_long_diag(m);
    free(m);
}

int main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];

    fill_long_diag();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        tests[i] = (struct CMUnitTest) { cases[i].label, run_case, NULL, NULL, (void *)&cases[i] };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
