/*
 * relay_smtpd_flow_test.c - the receive session beyond single commands:
 * pipelined groups and where they end, the TARPIT state (entered from the
 * policy verdict's flag, input held, replies in order), STARTTLS when
 * offered, and the limits (recipients, protocol errors, line length,
 * SIZE).  Sessions over loopback (relay_smtpd_test_util.h); STARTTLS is
 * offered by giving the session a server TLS context made here from a
 * fresh self-signed certificate (white-box: s->tls_ctx).
 */
#include "relay_smtpd_test_util.h"
#include "tls_certgen.h"
#include "tls_conn.h"
#include "tls_ctx.h"

#define SECURE_CFG "auth_mechanism = tls\ndomain_secure_enabled = yes\n" \
    "domain_secure_tarpit_interval = %s"
#define SECURE_LIST "tls_receive_domain_secure_list = secure.test"

/* offer_starttls - give the session a server context: STARTTLS is offered */

static void offer_starttls(struct sm *h)
{
    static const char *const names[] = { "mx.a.test" };
    struct tls_gen_params p = { .domains = names, .ndomains = 1, .days = 1,
                                .now = (int64_t)time(NULL) };
    struct tls_gen_buf key = { 0 }, cert = { 0 };
    char kpath[128], cpath[128];
    const char *why = NULL;
    struct tls_ctx *ctx;

    assert_int_equal(tls_gen_key(TLS_GEN_EC256, &key, &why), 0);
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &cert, &why), 0);
    snprintf(kpath, sizeof(kpath), "%s/key.pem", h->dir);
    snprintf(cpath, sizeof(cpath), "%s/cert.pem", h->dir);
    sm_write_file(kpath, key.data, key.len);
    sm_write_file(cpath, cert.data, cert.len);
    tls_gen_buf_free(&key);
    tls_gen_buf_free(&cert);
    ctx = tls_ctx_server_new(cpath, kpath, NULL, &why);
    if (ctx == NULL)
        fail_msg("server context: %s", why);
    sm_session(h)->tls_ctx = ctx;       /* the session's reference */
}

/* open_secure - a domain-secure connector with tarpit interval `tarpit` */

static struct sm *open_secure(const char *tarpit)
{
    char extra[256];

    snprintf(extra, sizeof(extra), SECURE_CFG, tarpit);
    return sm_open2(extra, SECURE_LIST);
}

/* open_offering - open_secure, banner read, STARTTLS offered, after EHLO */

static struct sm *open_offering(const char *tarpit)
{
    struct sm *h = open_secure(tarpit);

    assert_int_equal(sm_code(h), 220);
    offer_starttls(h);
    sm_expect(h, "EHLO client.test", 250);
    return h;
}

/*
 * hold - run until the session holds a reply in TARPIT, check nothing was
 * answered, then end the tarpit as its timer would (the interval is 10
 * minutes, so the timer cannot race the checks).
 */
static struct relay_session *hold(struct sm *h)
{
    struct relay_session *s;

    sm_until_state(h, RELAY_S_TARPIT);
    s = sm_session(h);
    assert_non_null(s->tarpit_reply);
    assert_int_equal(h->inlen, 0);              /* nothing answered yet */
    relay__tarpit_end(s);
    return s;
}

/* test_tarpit_state_holds_input - 530 NotAuthenticated is held back */

static void test_tarpit_state_holds_input(void **state)
{
    static const char batch[] = "MAIL FROM:<x@secure.test>\r\nNOOP\r\nMAIL FROM:<y@a.test>\r\n";
    struct sm *h = open_secure("10m");
    struct relay_session *s;

    assert_int_equal(sm_code(h), 220);
    offer_starttls(h);
    assert_non_null(strstr(sm_cmd(h, "EHLO client.test"), "250-STARTTLS\r\n"));
    sm_send(h, batch, sizeof(batch) - 1);
    s = hold(h);
    assert_string_equal(sm_reply(h), "530 5.7.1 Not authenticated\r\n");
    assert_int_equal(s->state, RELAY_S_CMD);
    assert_null(s->tarpit_reply);
    assert_int_equal(sm_code(h), 250);          /* NOOP, held until then */
    assert_int_equal(sm_code(h), 250);          /* MAIL of an unlisted domain */
    assert_non_null(s->tx);
    assert_int_equal(s->errors, 0);             /* a policy refusal is no protocol error */
    sm_close(h);
}

/* test_tarpit_holds_every_command - each command behind a held 530 waits */

static void test_tarpit_holds_every_command(void **state)
{
    static const struct {
        const char *line;
        int code;                       /* its reply after the 530 */
    } cmds[] = {
        { "EHLO client.test", 250 }, { "HELO client.test", 250 },
        { "MAIL FROM:<s@a.test>", 250 }, { "RCPT TO:<u@a.test>", 503 }, { "DATA", 503 },
        { "RSET", 250 }, { "NOOP", 250 }, { "QUIT", 221 }, { "VRFY u", 252 },
        { "HELP", 214 }, { "STARTTLS", 220 }, { "XYZZY", 500 },
    };

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        struct sm *h = open_offering("10m");
        char batch[128];
        int n;

        n = snprintf(batch, sizeof(batch), "MAIL FROM:<x@secure.test>\r\n%s\r\n",
                     cmds[i].line);
        sm_send(h, batch, (size_t)n);
        hold(h);
        assert_int_equal(sm_code(h), 530);
        if (sm_code(h) != cmds[i].code)
            fail_msg("%s after the tarpit: got %s", cmds[i].line, h->reply);
        sm_close(h);
    }
}

/* test_refusal_without_tarpit_flag - 454 (STARTTLS not offered) is not held */

static void test_refusal_without_tarpit_flag(void **state)
{
    struct sm *h = open_secure("10m");
    struct relay_session *s;

    assert_int_equal(sm_code(h), 220);
    sm_expect(h, "EHLO client.test", 250);
    assert_string_equal(sm_cmd(h, "MAIL FROM:<x@secure.test>"),
                        "454 4.7.0 Temporary authentication failure\r\n");
    s = sm_session(h);
    assert_int_equal(s->state, RELAY_S_CMD);
    assert_null(s->tarpit_reply);
    assert_null(s->tx);
    sm_close(h);
}

/* test_tarpit_interval_zero - the flag with interval 0: reply at once */

static void test_tarpit_interval_zero(void **state)
{
    struct sm *h = open_offering("0");

    sm_expect(h, "MAIL FROM:<x@secure.test>", 530);
    assert_int_equal(sm_session(h)->state, RELAY_S_CMD);
    assert_null(sm_session(h)->tarpit_reply);
    sm_close(h);
}

/* test_quit_in_tarpit - QUIT behind a held refusal: 530, 221, closed */

static void test_quit_in_tarpit(void **state)
{
    static const char batch[] = "MAIL FROM:<x@secure.test>\r\nQUIT\r\nNOOP\r\n";
    struct sm *h = open_offering("10m");

    sm_send(h, batch, sizeof(batch) - 1);
    hold(h);
    assert_int_equal(sm_code(h), 530);
    assert_int_equal(sm_code(h), 221);
    while (!h->eof)
        sm_step(h);
    assert_int_equal(h->inlen, 0);              /* NOOP after QUIT: never answered */
    sm_close(h);
}

/*
 * test_hangup_in_tarpit - the client leaves while a reply is held: input
 * is paused, so the session hears of it when the reply is due (as it
 * always did), then closes and is freed.
 */
static void test_hangup_in_tarpit(void **state)
{
    struct sm *h = open_offering("10m");
    struct relay_session *s;

    sm_send(h, "MAIL FROM:<x@secure.test>\r\n", 27);
    sm_until_state(h, RELAY_S_TARPIT);
    sm_hangup(h);
    s = sm_session(h);
    assert_int_equal(s->state, RELAY_S_TARPIT);  /* still holding */
    relay__tarpit_end(s);                        /* the timer would, after 10 minutes */
    sm_close(h);                                 /* freed; the loop closes clean */
}

/* test_tarpit_timer - a short interval: the timer sends the reply, in order */

static void test_tarpit_timer(void **state)
{
    static const char batch[] = "MAIL FROM:<x@secure.test>\r\nNOOP\r\n";
    struct sm *h = open_offering("1ms");

    sm_send(h, batch, sizeof(batch) - 1);
    assert_int_equal(sm_code(h), 530);          /* when the timer fired */
    assert_int_equal(sm_code(h), 250);
    assert_int_equal(sm_session(h)->state, RELAY_S_CMD);
    sm_close(h);
}

/* test_pipelined_batch - one write, a whole transaction: replies in order */

static void test_pipelined_batch(void **state)
{
    static const char batch[] = "EHLO client.test\r\nMAIL FROM:<s@a.test>\r\n"
        "RCPT TO:<u@a.test>\r\nRCPT TO:<v@elsewhere.example>\r\nRCPT TO:<w@x.b.test>\r\n"
        "DATA\r\nSubject: t\r\n\r\nQUIT\r\n.\r\nQUIT\r\nNOOP\r\n";
    static const int want[] = { 250, 250, 250, 550, 250, 354, 250, 221 };
    struct sm *h = sm_open(NULL);

    assert_int_equal(sm_code(h), 220);
    sm_send(h, batch, sizeof(batch) - 1);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (sm_code(h) != want[i])
            fail_msg("reply %zu: want %d, got %s", i, want[i], h->reply);
    while (!h->eof)
        sm_step(h);
    assert_int_equal(h->inlen, 0);              /* QUIT ended it: no NOOP reply */
    assert_int_equal(sm_queued(h), 1);
    sm_close(h);
}

/* test_command_split_across_reads - a line completes in a later read */

static void test_command_split_across_reads(void **state)
{
    struct sm *h = sm_open(NULL);
    size_t len = 0;

    assert_int_equal(sm_code(h), 220);
    sm_send(h, "NO", 2);
    while (len < 2) {                           /* the server has read "NO" */
        sm_step(h);
        (void)tls_conn_peek(sm_session(h)->conn, &len);
    }
    assert_int_equal(h->inlen, 0);
    sm_send(h, "OP\r\n", 4);
    assert_string_equal(sm_reply(h), "250 2.0.0 OK\r\n");
    sm_close(h);
}

/* test_starttls_ends_group - input pipelined behind STARTTLS is dropped */

static void test_starttls_ends_group(void **state)
{
    static const char batch[] = "STARTTLS\r\nNOOP\r\n";
    struct sm *h = sm_open(NULL);
    struct relay_session *s;

    assert_int_equal(sm_code(h), 220);
    offer_starttls(h);
    sm_expect(h, "EHLO client.test", 250);
    sm_expect(h, "STARTTLS x", 501);
    sm_send(h, batch, sizeof(batch) - 1);
    assert_string_equal(sm_reply(h), "220 2.0.0 SMTP server ready\r\n");
    s = sm_session(h);
    assert_null(s->helo);                       /* RFC 3207: EHLO again */
    assert_int_equal(s->state, RELAY_S_CMD);
    sm_close(h);
    /* No NOOP reply ever came in plaintext (the loop ran until the end). */
}

/* test_recipient_limit - the RCPT counter: 452, after the syntax check */

static void test_recipient_limit(void **state)
{
    struct sm *h = sm_open("max_recipients_per_message = 2");

    assert_int_equal(sm_code(h), 220);
    sm_expect(h, "EHLO client.test", 250);
    sm_expect(h, "MAIL FROM:<s@a.test>", 250);
    sm_expect(h, "RCPT TO:<u1@a.test>", 250);
    sm_expect(h, "RCPT TO:<u2@a.test>", 250);
    assert_string_equal(sm_cmd(h, "RCPT TO:<u3@a.test>"), "452 4.5.3 Too many recipients\r\n");
    assert_int_equal(sm_session(h)->errors, 0);
    sm_expect(h, "RCPT TO:<bad", 501);          /* syntax comes first */
    assert_int_equal(sm_session(h)->errors, 1);
    assert_int_equal(sm_session(h)->tx->nrcpts, 2);
    sm_expect(h, "RSET", 250);
    sm_close(h);
}

/* test_requiretls_plaintext - RFC 8689: REQUIRETLS is not offered before
 * TLS, and its MAIL parameter there gets 530 5.7.10 (no transaction, not a
 * protocol error), twice 501; after HELO, or with requiretls_enable = no, it
 * is an unknown parameter */

static void test_requiretls_plaintext(void **state)
{
    struct sm *h = sm_open(NULL);

    assert_int_equal(sm_code(h), 220);
    assert_null(strstr(sm_cmd(h, "EHLO client.test"), "REQUIRETLS"));
    assert_string_equal(sm_cmd(h, "MAIL FROM:<s@a.test> REQUIRETLS"),
                        "530 5.7.10 REQUIRETLS needs a TLS session; send STARTTLS first\r\n");
    assert_null(sm_session(h)->tx);
    assert_int_equal(sm_session(h)->errors, 0);
    /* Syntax first: the parameter twice is refused as such. */
    assert_string_equal(sm_cmd(h, "MAIL FROM:<s@a.test> REQUIRETLS REQUIRETLS"),
                        "501 5.5.4 Duplicate REQUIRETLS parameter\r\n");
    assert_null(sm_session(h)->tx);
    sm_expect(h, "MAIL FROM:<s@a.test>", 250);
    assert_false(sm_session(h)->tx->requiretls);
    sm_close(h);

    /* After HELO no extension was offered: REQUIRETLS is unknown. */
    h = sm_open(NULL);
    assert_int_equal(sm_code(h), 220);
    sm_expect(h, "HELO client.test", 250);
    assert_string_equal(sm_cmd(h, "MAIL FROM:<s@a.test> REQUIRETLS"),
                        "501 5.5.4 Unrecognized parameter\r\n");
    sm_close(h);

    h = sm_open("requiretls_enable = no");
    assert_int_equal(sm_code(h), 220);
    sm_expect(h, "EHLO client.test", 250);
    assert_string_equal(sm_cmd(h, "MAIL FROM:<s@a.test> REQUIRETLS"),
                        "501 5.5.4 Unrecognized parameter\r\n");
    sm_close(h);
}

/* test_protocol_error_limit - the third error closes with 421 */

static void test_protocol_error_limit(void **state)
{
    static const char batch[] = "XYZZY\r\nMAIL FROM:<s@a.test>\r\nHELO\r\nNOOP\r\n";
    struct sm *h = sm_open("max_protocol_errors = 3");

    assert_int_equal(sm_code(h), 220);
    sm_expect(h, "EHLO client.test", 250);
    sm_expect(h, "MAIL FROM:<s@a.test> SIZE=99999999999", 552);     /* not an error */
    sm_expect(h, "RCPT TO:<u@elsewhere.example>", 503);             /* no MAIL: 1 */
    assert_int_equal(sm_session(h)->errors, 1);
    sm_expect(h, "MAIL FROM:<s@a.test>", 250);
    sm_expect(h, "RCPT TO:<u@elsewhere.example>", 550);             /* policy: not one */
    sm_expect(h, "RSET", 250);
    sm_expect(h, "HELO", 501);                                      /* 2 */
    sm_send(h, batch + 7, sizeof(batch) - 8);   /* MAIL (fine), HELO (3), NOOP */
    assert_int_equal(sm_code(h), 250);
    assert_int_equal(sm_code(h), 501);
    assert_string_equal(sm_reply(h), "421 4.7.0 Too many errors on this connection, "
                        "closing transmission channel\r\n");
    while (!h->eof)
        sm_step(h);
    assert_int_equal(h->inlen, 0);
    sm_close(h);
}

/* test_long_and_nul_lines - both are protocol errors; the session goes on */

static void test_long_and_nul_lines(void **state)
{
    char line[RELAY_LINE_MAX + 100];
    struct sm *h = sm_open(NULL);

    assert_int_equal(sm_code(h), 220);
    memset(line, 'A', sizeof(line) - 2);
    memcpy(line + sizeof(line) - 2, "\r\n", 2);
    sm_send(h, line, sizeof(line));
    assert_string_equal(sm_reply(h), "500 5.5.2 Line too long\r\n");
    sm_send(h, "NO\0OP\r\n", 7);
    assert_string_equal(sm_reply(h), "500 5.3.3 Unrecognized command\r\n");
    assert_int_equal(sm_session(h)->errors, 2);
    sm_expect(h, "NOOP", 250);
    sm_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tarpit_state_holds_input),
        cmocka_unit_test(test_tarpit_holds_every_command),
        cmocka_unit_test(test_refusal_without_tarpit_flag),
        cmocka_unit_test(test_tarpit_interval_zero),
        cmocka_unit_test(test_quit_in_tarpit),
        cmocka_unit_test(test_hangup_in_tarpit),
        cmocka_unit_test(test_tarpit_timer),
        cmocka_unit_test(test_pipelined_batch),
        cmocka_unit_test(test_command_split_across_reads),
        cmocka_unit_test(test_starttls_ends_group),
        cmocka_unit_test(test_recipient_limit),
        cmocka_unit_test(test_requiretls_plaintext),
        cmocka_unit_test(test_protocol_error_limit),
        cmocka_unit_test(test_long_and_nul_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
