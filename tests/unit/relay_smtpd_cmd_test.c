/*
 * relay_smtpd_cmd_test.c - every command in every state of the receive
 * session, as a table: (phase, command) -> reply code, next state, and
 * whether a transaction and a HELO remain.  A phase is how far the
 * session got in state CMD (fresh, after HELO, after EHLO, after MAIL,
 * after RCPT, and after EHLO on a connector with require_tls); states
 * DATA, SPOOL_WAIT, TARPIT and CLOSING have their own tests below and in
 * relay_smtpd_flow_test.c.  Each cell is a fresh session over loopback
 * (relay_smtpd_test_util.h).
 */
#include "relay_smtpd_test_util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum phase { P_FRESH, P_HELO, P_EHLO, P_MAIL, P_RCPT, P_PRETLS, P_COUNT };

static const char *const phase_names[] = { "fresh", "helo", "ehlo", "mail", "rcpt", "pretls" };

/* The commands, each with a valid argument, in table column order. */
enum { C_EHLO, C_HELO, C_MAIL, C_RCPT, C_DATA, C_RSET, C_NOOP, C_QUIT, C_VRFY, C_HELP,
       C_STARTTLS, C_UNKNOWN, C_COUNT };

static const char *const commands[] = {
    "EHLO client.test", "HELO client.test", "MAIL FROM:<s@a.test>", "RCPT TO:<u@a.test>",
    "DATA", "RSET", "NOOP", "QUIT", "VRFY u", "HELP", "STARTTLS", "XYZZY",
};

struct cell {
    int     code;
    enum relay_state next;
    bool    tx, helo;                   /* a transaction / a HELO after the command */
};

#define CMD RELAY_S_CMD
#define CLO RELAY_S_CLOSING

/* [phase][command]; STARTTLS is not offered here (no TLS context). */
static const struct cell table[P_COUNT][C_COUNT] = {
    [P_FRESH] = {
        { 250, CMD, false, true }, { 250, CMD, false, true }, { 503, CMD, false, false },
        { 503, CMD, false, false }, { 503, CMD, false, false }, { 250, CMD, false, false },
        { 250, CMD, false, false }, { 221, CLO, false, false }, { 252, CMD, false, false },
        { 214, CMD, false, false }, { 500, CMD, false, false }, { 500, CMD, false, false },
    },
    [P_HELO] = {
        { 250, CMD, false, true }, { 250, CMD, false, true }, { 250, CMD, true, true },
        { 503, CMD, false, true }, { 503, CMD, false, true }, { 250, CMD, false, true },
        { 250, CMD, false, true }, { 221, CLO, false, true }, { 252, CMD, false, true },
        { 214, CMD, false, true }, { 500, CMD, false, true }, { 500, CMD, false, true },
    },
    [P_EHLO] = {
        { 250, CMD, false, true }, { 250, CMD, false, true }, { 250, CMD, true, true },
        { 503, CMD, false, true }, { 503, CMD, false, true }, { 250, CMD, false, true },
        { 250, CMD, false, true }, { 221, CLO, false, true }, { 252, CMD, false, true },
        { 214, CMD, false, true }, { 500, CMD, false, true }, { 500, CMD, false, true },
    },
    [P_MAIL] = {                        /* EHLO and RSET end the transaction */
        { 250, CMD, false, true }, { 250, CMD, false, true }, { 503, CMD, true, true },
        { 250, CMD, true, true }, { 503, CMD, true, true }, { 250, CMD, false, true },
        { 250, CMD, true, true }, { 221, CLO, true, true }, { 252, CMD, true, true },
        { 214, CMD, true, true }, { 500, CMD, true, true }, { 500, CMD, true, true },
    },
    [P_RCPT] = {
        { 250, CMD, false, true }, { 250, CMD, false, true }, { 503, CMD, true, true },
        { 250, CMD, true, true }, { 354, RELAY_S_DATA, true, true }, { 250, CMD, false, true },
        { 250, CMD, true, true }, { 221, CLO, true, true }, { 252, CMD, true, true },
        { 214, CMD, true, true }, { 500, CMD, true, true }, { 500, CMD, true, true },
    },
    [P_PRETLS] = {                      /* require_tls: only MAIL needs TLS (and closes) */
        { 250, CMD, false, true }, { 250, CMD, false, true }, { 451, CLO, false, true },
        { 503, CMD, false, true }, { 503, CMD, false, true }, { 250, CMD, false, true },
        { 250, CMD, false, true }, { 221, CLO, false, true }, { 252, CMD, false, true },
        { 214, CMD, false, true }, { 500, CMD, false, true }, { 500, CMD, false, true },
    },
};

/* enter_phase - bring a fresh session to phase p */

static void enter_phase(struct sm *h, enum phase p)
{
    if (p == P_HELO)
        sm_expect(h, "HELO client.test", 250);
    if (p == P_EHLO || p == P_MAIL || p == P_RCPT || p == P_PRETLS)
        sm_expect(h, "EHLO client.test", 250);
    if (p == P_MAIL || p == P_RCPT)
        sm_expect(h, "MAIL FROM:<s@a.test>", 250);
    if (p == P_RCPT)
        sm_expect(h, "RCPT TO:<u@a.test>", 250);
}

/* test_state_by_command - the whole table */

static void test_state_by_command(void **state)
{
    for (int p = 0; p < P_COUNT; p++) {
        for (int c = 0; c < C_COUNT; c++) {
            const struct cell *want = &table[p][c];
            struct relay_session *s;
            const char *r;
            struct sm *h;

            /* auth tls, but no certificate installed: STARTTLS is not offered */
            h = sm_open(p == P_PRETLS ? "auth_mechanism = tls\nrequire_tls = yes" : NULL);
            assert_int_equal(sm_code(h), 220);
            enter_phase(h, (enum phase)p);
            r = sm_cmd(h, commands[c]);
            /* A closing session may be gone already: then it had closed. */
            s = sm_session(h);
            if (atoi(r) != want->code
                || (s == NULL ? RELAY_S_CLOSING : s->state) != want->next
                || (s != NULL && ((s->tx != NULL) != want->tx
                                  || (s->helo != NULL) != want->helo)))
                fail_msg("phase %s, %s: got %.3s state %s tx %d helo %d; want %d %s %d %d",
                         phase_names[p], commands[c], r,
                         s ? relay__strstate(s->state) : "(freed)", s && s->tx != NULL,
                         s && s->helo != NULL, want->code, relay__strstate(want->next),
                         want->tx, want->helo);
            if (want->next == RELAY_S_CLOSING) {        /* the server hangs up */
                while (!h->eof)
                    sm_step(h);
                assert_int_equal(h->inlen, 0);
            }
            sm_close(h);
        }
    }
}

/* test_data_state_takes_commands_as_text - in DATA every verb is message text */

static void test_data_state_takes_commands_as_text(void **state)
{
    struct relay_session *s;
    struct sm *h;

    h = sm_open(NULL);
    assert_int_equal(sm_code(h), 220);
    enter_phase(h, P_RCPT);
    sm_expect(h, "DATA", 354);
    for (int c = 0; c < C_COUNT; c++) {
        char line[128];
        int n = snprintf(line, sizeof(line), "%s\r\n", commands[c]);

        sm_send(h, line, (size_t)n);
    }
    sm_send(h, ".\r\n", 3);
    assert_int_equal(sm_code(h), 250);         /* the one reply: queued */
    assert_true(strstr(h->reply, "Queued mail for delivery") != NULL);
    s = sm_session(h);
    assert_int_equal(s->state, RELAY_S_CMD);
    assert_null(s->tx);
    assert_int_equal(s->ntx, 1);
    assert_int_equal(sm_queued(h), 1);
    sm_expect(h, "NOOP", 250);                 /* nothing else was answered */
    assert_int_equal(h->inlen, 0);
    sm_close(h);
}

/* test_spool_wait_holds_every_command - commands behind "." wait for the commit */

static void test_spool_wait_holds_every_command(void **state)
{
    for (int c = 0; c < C_COUNT; c++) {
        char buf[256];
        struct sm *h;
        int n;

        h = sm_open(NULL);
        assert_int_equal(sm_code(h), 220);
        enter_phase(h, P_RCPT);
        sm_expect(h, "DATA", 354);
        n = snprintf(buf, sizeof(buf), "Subject: t\r\n\r\nbody\r\n.\r\n%s\r\n", commands[c]);
        sm_send(h, buf, (size_t)n);
        sm_until_state(h, RELAY_S_SPOOL_WAIT);
        assert_int_equal(h->inlen, 0);           /* nothing answered while waiting */
        assert_int_equal(sm_code(h), 250);     /* queued, then the command, in order */
        /* After the commit the session is where P_EHLO is: compare with that row. */
        if (sm_code(h) != table[P_EHLO][c].code)
            fail_msg("after the commit, %s: got %s", commands[c], h->reply);
        sm_close(h);
    }
}

/* test_table_flags - the table carries the rules the dispatcher enforces */

static void test_table_flags(void **state)
{
    static const struct {
        const char *verb;
        unsigned flags;
        enum relay_cmd_limit limit;
    } want[] = {
#define LAST RELAY_CMD_LAST_IN_PIPELINE
        { "EHLO", RELAY_CMD_PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
        { "helo", RELAY_CMD_PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
        { "MAIL", RELAY_CMD_NEED_HELO | RELAY_CMD_NO_TX, RELAY_CMD_NO_LIMIT },
        { "RCPT", RELAY_CMD_NEED_TX, RELAY_CMD_RCPT_LIMIT },
        { "DATA", RELAY_CMD_NEED_TX | RELAY_CMD_NEED_RCPT | LAST, RELAY_CMD_NO_LIMIT },
        { "RSET", RELAY_CMD_PRE_TLS, RELAY_CMD_NO_LIMIT },
        { "NOOP", RELAY_CMD_PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
        { "QUIT", RELAY_CMD_PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
        { "VRFY", RELAY_CMD_PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
        { "HELP", RELAY_CMD_PRE_TLS, RELAY_CMD_NO_LIMIT },
        { "StartTLS", RELAY_CMD_PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
#undef LAST
    };

    for (size_t i = 0; i < NELEM(want); i++) {
        const struct relay_cmd *c = relay__cmd_find(want[i].verb, strlen(want[i].verb));

        assert_non_null(c);
        assert_non_null(c->proceed);
        assert_int_equal(c->flags, want[i].flags);
        assert_int_equal(c->limit, want[i].limit);
    }
    assert_null(relay__cmd_find("EXPN", 4));
    assert_null(relay__cmd_find("MAILX", 5));
    assert_null(relay__cmd_find("MAI", 3));
}

/* test_state_names - the name table covers every state */

static void test_state_names(void **state)
{
    assert_string_equal(relay__strstate(RELAY_S_CMD), "CMD");
    assert_string_equal(relay__strstate(RELAY_S_DATA), "DATA");
    assert_string_equal(relay__strstate(RELAY_S_SPOOL_WAIT), "SPOOL_WAIT");
    assert_string_equal(relay__strstate(RELAY_S_TARPIT), "TARPIT");
    assert_string_equal(relay__strstate(RELAY_S_CLOSING), "CLOSING");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_table_flags),
        cmocka_unit_test(test_state_by_command),
        cmocka_unit_test(test_data_state_takes_commands_as_text),
        cmocka_unit_test(test_spool_wait_holds_every_command),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
