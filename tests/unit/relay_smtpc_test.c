/*
 * relay_smtpc_test.c - the SMTP client (relay/smtp/) driven without the
 * queue manager (smtpc_world.h) against a scripted SMTP peer on a loopback
 * port of the same uv loop (smtp_peer.h).  Covered: one job with several
 * recipients (dot stuffing, SIZE); PIPELINING used when advertised and
 * only then; a 4xx, a 5xx, silence (a 50 ms timeout) and a malformed
 * reply at every stage (banner, EHLO and the HELO fallback, MAIL, each
 * RCPT, DATA, the final dot), each with the per-recipient codes and the
 * callback that reported it; refused connections and an exhausted address
 * list (dest_failed); STARTTLS refused, answered with bytes that are no
 * TLS, not offered, or offered when we have no TLS context, under
 * opportunistic and required TLS; REQUIRETLS jobs refused without verified
 * TLS (bounced one after another, or waiting for a failed MTA-STS lookup).
 * Connection reuse, the idle cache and
 * shutdown are relay_smtpc_idle_test.c's.
 *
 * Each test runs in a process of its own with its own loop, which must
 * close cleanly.  No sleeps: the timeouts are the client's own, set small
 * on the connector (its configured minimum is 1 s).
 */
#include "smtpc_world.h"

/* ---- one job, several recipients ------------------------------------ */

static void test_plain_delivery(void **state)
{
    static const struct peer_step steps[] = {
        OK220, STEP(EHLO, "250-mx.example.test\r\n250-SIZE 100000\r\n250 8BITMIME"),
        STEP(MAIL " SIZE=", "250 2.1.0 ok"),
        STEP(RCPT_A, "250 2.1.5 ok a"), STEP(RCPT_B, "250 2.1.5 ok b"),
        STEP(RCPT_C, "250 2.1.5 ok c"), DATA_OK, DOT_OK, QUIT_OK,
    };
    static const int codes[] = { 250, 250, 250 };
    char size[64];

    (void)state;
    run_one(NULL, steps, NELEM(steps), 3, NULL);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_int_equal(T.ndone, 1);
    assert_codes(T.done[0], codes);
    for (size_t i = 0; i < 3; i++)      /* the reply to the dot, for each */
        assert_string_equal(T.done[0]->replies[i], "250 2.0.0 queued as X1");
    assert_int_equal(T.done[0]->sid != 0, 1);
    snprintf(size, sizeof(size), MAIL " SIZE=%zu", strlen(body));
    assert_string_equal(T.peer.lines[peer_line_index(&T.peer, MAIL)].text, size);
    assert_int_equal(T.peer.blen, strlen(body_sent));   /* dot-stuffed */
    assert_memory_equal(T.peer.body, body_sent, T.peer.blen);
    assert_int_equal(T.peer.accepted, 1);
    finish();
}

/* A peer with SIZE smaller than the message: refused here, no MAIL sent. */
static void test_size_exceeded(void **state)
{
    static const struct peer_step steps[] = {
        OK220, STEP(EHLO, "250-mx.example.test\r\n250 SIZE 10"), QUIT_OK,
    };
    static const int codes[] = { 552, 552 };

    (void)state;
    run_one(NULL, steps, NELEM(steps), 2, NULL);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_int_equal(peer_line_index(&T.peer, "MAIL"), -1);
    finish();
}

/* RFC 8689: a REQUIRETLS message over plaintext (the peer even claims
 * REQUIRETLS, which only counts inside TLS): bounced 5.7.10, no MAIL sent. */
static void test_requiretls_not_verified(void **state)
{
    static const struct peer_step steps[] = {
        OK220, STEP(EHLO, "250-mx.example.test\r\n250 REQUIRETLS"), QUIT_OK,
    };
    static const int codes[] = { 550, 550 };
    static const int ports[] = { 0 };

    (void)state;
    world(NULL, NULL, steps, NELEM(steps), 2, ports, 1);
    T.msg.requiretls = true;
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_non_null(strstr(T.done[0]->replies[0], "550 5.7.10 REQUIRETLS: the connection to "));
    assert_int_equal(peer_line_index(&T.peer, "MAIL"), -1);
    finish();
}

/* Several REQUIRETLS jobs refused on one connection: each bounced in turn
 * (a loop, not a call per job on the stack), then QUIT; no MAIL. */
static void test_requiretls_many_refused(void **state)
{
    static const struct peer_step steps[] = { OK220, EHLO_OK, QUIT_OK };
    static const int codes[] = { 550 };
    static const int ports[] = { 0 };

    (void)state;
    world(NULL, NULL, steps, NELEM(steps), 1, ports, 1);
    T.msg.requiretls = true;
    for (size_t i = 0; i < 3; i++)
        relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done job_done job_done conn_gone");
    for (size_t i = 0; i < 3; i++)
        assert_codes(T.done[i], codes);
    assert_int_equal(peer_line_index(&T.peer, "MAIL"), -1);
    finish();
}

/* The domain's MTA-STS lookup failed and no policy is cached: the next
 * lookup may find enforce, so the job waits (451 4.7.10), not bounced. */
static void test_requiretls_sts_lookup_failed(void **state)
{
    static const struct peer_step steps[] = { OK220, EHLO_OK, QUIT_OK };
    static const int codes[] = { 451 };
    static const int ports[] = { 0 };

    (void)state;
    world(NULL, NULL, steps, NELEM(steps), 1, ports, 1);
    T.msg.requiretls = true;
    T.d.sts_failure = "sts-policy-fetch-error";
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_non_null(strstr(T.done[0]->replies[0],
                           "451 4.7.10 REQUIRETLS: the MTA-STS policy of example.test could "
                           "not be obtained (sts-policy-fetch-error), so the connection to "
                           "mx1.example.test [127.0.0.1:"));
    assert_non_null(strstr(T.done[0]->replies[0], "waits for the policy"));
    assert_int_equal(peer_line_index(&T.peer, "MAIL"), -1);
    finish();
}

/* RFC 8689 5: a bounce of a REQUIRETLS message (null sender) is not held
 * to it: sent over plaintext, without the parameter. */
static void test_requiretls_bounce_goes(void **state)
{
    static const struct peer_step steps[] = {
        OK220, STEP(EHLO, "250-mx.example.test\r\n250 REQUIRETLS"),
        STEP("MAIL FROM:<>", "250 2.1.0 ok"), STEP(RCPT_A, "250 2.1.5 ok a"), DATA_OK, DOT_OK,
        QUIT_OK,
    };
    static const int codes[] = { 250 };
    static const int ports[] = { 0 };

    (void)state;
    world(NULL, NULL, steps, NELEM(steps), 1, ports, 1);
    T.msg.requiretls = true;
    T.msg.sender = "";
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_string_equal(T.peer.lines[peer_line_index(&T.peer, "MAIL")].text, "MAIL FROM:<>");
    finish();
}

/* ---- PIPELINING ------------------------------------------------------ */

/* Advertised: MAIL, both RCPTs and DATA arrive before any reply to them
 * (the peer answers none until all four wait: batch 4). */
static void test_pipelining_advertised(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_PIPE, { MAIL, "250 2.1.0 ok", 0, 4 }, STEP(RCPT_A, "250 2.1.5 ok"),
        STEP(RCPT_B, "550 5.1.1 no such user"), DATA_OK, DOT_OK, QUIT_OK,
    };
    static const int codes[] = { 250, 550 };
    int m;

    (void)state;
    run_one(NULL, steps, NELEM(steps), 2, NULL);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_string_equal(T.done[0]->replies[1], "550 5.1.1 no such user");
    m = peer_line_index(&T.peer, MAIL);
    assert_true(m >= 0 && (size_t)m + 3 < T.peer.nlines);
    for (int i = 1; i <= 3; i++)        /* RCPT, RCPT, DATA: sent with MAIL */
        assert_int_equal(T.peer.lines[m + i].replies_before, T.peer.lines[m].replies_before);
    assert_string_equal(T.peer.lines[m + 3].text, "DATA");
    finish();
}

/* Not advertised: each command waits for the reply to the one before. */
static void test_pipelining_not_advertised(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, STEP(MAIL, "250 2.1.0 ok"), STEP(RCPT_A, "250 2.1.5 ok"),
        STEP(RCPT_B, "250 2.1.5 ok"), DATA_OK, DOT_OK, QUIT_OK,
    };
    static const int codes[] = { 250, 250 };
    int m;

    (void)state;
    run_one(NULL, steps, NELEM(steps), 2, NULL);
    assert_codes(T.done[0], codes);
    m = peer_line_index(&T.peer, MAIL);
    assert_true(m >= 0 && (size_t)m + 3 < T.peer.nlines);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(T.peer.lines[m + i].replies_before,
                         T.peer.lines[m + i - 1].replies_before + 1);
    finish();
}

/* ---- failures at every stage, table-driven ----------------------------- */

struct stage_case {
    const char *name;
    struct peer_step steps[12];
    bool    short_timeout;              /* the connector waits SHORT_TIMEOUT_MS */
    const char *events;                 /* the ops callbacks, in order */
    int     codes[2];                   /* per recipient, when job_done reports it */
    const char *last;                   /* prefix of the job's last failure, or NULL */
};

static const struct stage_case stage_cases[] = {
    { "banner 421: next host, none left", { BANNER("421 4.3.2 busy") }, false,
      "dest_failed conn_gone", { 0, 0 }, "421 4.3.2 busy" },
    { "banner 554: every recipient fails", { BANNER("554 5.7.1 go away") }, false,
      "job_done conn_gone", { 554, 554 }, "554 5.7.1 go away" },
    { "banner malformed: next host", { BANNER("hello there") }, false,
      "dest_failed conn_gone", { 0, 0 }, "protocol error: malformed reply" },
    { "EHLO 421: next host", { OK220, STEP(EHLO, "421 4.3.2 closing") }, false,
      "dest_failed conn_gone", { 0, 0 }, "421 4.3.2 closing" },
    { "EHLO 502 then HELO 250: delivered",
      { OK220, STEP(EHLO, "502 5.5.1 what"), STEP(HELO, "250 mx.example.test"),
        STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), STEP(RCPT_B, "250 ok"), DATA_OK, DOT_OK,
        QUIT_OK }, false, "job_done conn_gone", { 250, 250 }, NULL },
    { "EHLO 500 then HELO 550: every recipient fails",
      { OK220, STEP(EHLO, "500 5.5.2 no"), STEP(HELO, "550 5.7.1 not you") }, false,
      "job_done conn_gone", { 550, 550 }, "550 5.7.1 not you" },
    { "EHLO 500 then HELO 421: next host",
      { OK220, STEP(EHLO, "500 5.5.2 no"), STEP(HELO, "421 4.3.2 later") }, false,
      "dest_failed conn_gone", { 0, 0 }, "421 4.3.2 later" },
    { "MAIL 451: next host", { OK220, EHLO_OK, STEP(MAIL, "451 4.3.0 try later") }, false,
      "dest_failed conn_gone", { 0, 0 }, "451 4.3.0 try later" },
    { "MAIL 553: every recipient fails",
      { OK220, EHLO_OK, STEP(MAIL, "553 5.1.8 bad sender") }, false,
      "job_done conn_gone", { 553, 553 }, "553 5.1.8 bad sender" },
    { "RCPT 250 and 550: one delivered",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"),
        STEP(RCPT_B, "550 5.1.1 unknown"), DATA_OK, DOT_OK, QUIT_OK }, false,
      "job_done conn_gone", { 250, 550 }, "250 2.0.0 queued as X1" },
    { "RCPT 450 and 550: no DATA",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "450 4.2.1 full"),
        STEP(RCPT_B, "550 5.1.1 unknown"), QUIT_OK }, false,
      "job_done conn_gone", { 450, 550 }, NULL },
    { "DATA 451: the accepted recipient shares it",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"),
        STEP(RCPT_B, "550 5.1.1 unknown"), STEP("DATA", "451 4.3.0 not now"), QUIT_OK }, false,
      "job_done conn_gone", { 451, 550 }, "451 4.3.0 not now" },
    { "DATA 554: every accepted recipient fails",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), STEP(RCPT_B, "250 ok"),
        STEP("DATA", "554 5.6.0 no data"), QUIT_OK }, false,
      "job_done conn_gone", { 554, 554 }, "554 5.6.0 no data" },
    { "dot 452: deferred",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), STEP(RCPT_B, "250 ok"),
        DATA_OK, STEP(".", "452 4.3.1 disk full"), QUIT_OK }, false,
      "job_done conn_gone", { 452, 452 }, "452 4.3.1 disk full" },
    { "dot 554: refused",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"),
        STEP(RCPT_B, "550 5.1.1 unknown"), DATA_OK, STEP(".", "554 5.6.0 spam"), QUIT_OK },
      false, "job_done conn_gone", { 554, 550 }, "554 5.6.0 spam" },
    { "pipelined MAIL 553: every recipient fails",
      { OK220, EHLO_PIPE, { MAIL, "553 5.1.8 bad sender", 0, 4 }, STEP(RCPT_A, "503 5.5.1 no"),
        STEP(RCPT_B, "503 5.5.1 no"), STEP("DATA", "503 5.5.1 no") }, false,
      "job_done conn_gone", { 553, 553 }, "553 5.1.8 bad sender" },
    { "pipelined RCPT 550 and 550: DATA refused, nothing sent",
      { OK220, EHLO_PIPE, { MAIL, "250 ok", 0, 4 }, STEP(RCPT_A, "550 5.1.1 unknown"),
        STEP(RCPT_B, "550 5.1.1 unknown"), STEP("DATA", "554 5.5.1 no valid recipients"),
        QUIT_OK }, false, "job_done conn_gone", { 550, 550 }, NULL },
    /* Silence: the connector's timeout moves the job on (no host left). */
    { "timeout: banner", { BANNER(NULL) }, true, "dest_failed conn_gone", { 0, 0 },
      "timeout while waiting for the reply to banner" },
    { "timeout: EHLO", { OK220, SILENT(EHLO) }, true, "dest_failed conn_gone", { 0, 0 },
      "timeout while waiting for the reply to EHLO" },
    { "timeout: MAIL", { OK220, EHLO_OK, SILENT(MAIL) }, true, "dest_failed conn_gone",
      { 0, 0 }, "timeout while waiting for the reply to MAIL FROM" },
    { "timeout: RCPT", { OK220, EHLO_OK, STEP(MAIL, "250 ok"), SILENT(RCPT_A) }, true,
      "dest_failed conn_gone", { 0, 0 }, "timeout while waiting for the reply to RCPT TO" },
    { "timeout: DATA",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), STEP(RCPT_B, "250 ok"),
        SILENT("DATA") }, true, "dest_failed conn_gone", { 250, 250 },
      "timeout while waiting for the reply to DATA" },
    { "timeout: final dot",
      { OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), STEP(RCPT_B, "250 ok"),
        DATA_OK, SILENT(".") }, true, "dest_failed conn_gone", { 250, 250 },
      "timeout while waiting for the reply to end of data" },
};

static void test_stage(void **state)
{
    const struct stage_case *c = *state;
    static const int ports[] = { 0 };
    size_t nsteps = 0;
    const struct relay_job *j;

    while (nsteps < NELEM(c->steps) && (c->steps[nsteps].expect || c->steps[nsteps].reply
                                        || nsteps == 0))
        nsteps++;
    world(NULL, NULL, c->steps, nsteps, 2, ports, 1);
    if (c->short_timeout)
        T.cfg->send[0].connection_inactivity_timeout = SHORT_TIMEOUT_MS;
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, c->events);
    j = T.ndone > 0 ? T.done[0] : T.failed;
    assert_non_null(j);
    if (T.ndone > 0) {
        assert_codes(j, c->codes);
    } else {                            /* the queue manager reads last, last_conn, endpoint */
        char ep[64];

        snprintf(ep, sizeof(ep), "127.0.0.1:%u", T.peer.port);
        assert_string_equal(j->endpoint, ep);
        assert_false(j->last_conn);     /* an answer, or silence after connecting */
    }
    if (c->last != NULL) {
        assert_non_null(j->last);
        if (strncmp(j->last, c->last, strlen(c->last)) != 0)
            print_error("last: \"%s\"\n", j->last);
        assert_int_equal(strncmp(j->last, c->last, strlen(c->last)), 0);
        assert_string_equal(j->remote, "mx1.example.test");
    }
    assert_int_equal(T.peer.accepted, 1);
    finish();
}

/* ---- connections refused ---------------------------------------------- */

/* Every address refuses: dest_failed with the current job (the second job
 * still waits in the queue, for the owner to defer), a connection error. */
static void test_refused_everywhere(void **state)
{
    static const int ports[] = { 1, 1 };

    (void)state;
    world(NULL, NULL, NULL, 0, 2, ports, 2);
    relay_dest_put_job(&T.d, new_job());
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "dest_failed conn_gone");
    assert_non_null(T.failed);
    assert_int_equal(T.waiting_at_fail, 1);
    assert_string_equal(T.failed->last, "connection refused");
    assert_true(T.failed->last_conn);
    assert_string_equal(T.failed->remote, "mx2.example.test");      /* the last one tried */
    assert_int_equal(T.peer.accepted, 0);
    finish();
}

/* The first address refuses, the second takes the message. */
static void test_refused_then_next_host(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK, QUIT_OK,
    };
    static const int ports[] = { 1, 0 }, codes[] = { 250 };

    (void)state;
    world(NULL, NULL, steps, NELEM(steps), 1, ports, 2);
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    finish();
}

/* ---- STARTTLS refused or answered with bytes that are no TLS ---------- */

struct tls_case {
    const char *name;
    const char *send;                   /* [send Out] lines */
    bool    no_ctx;                     /* we have no client TLS context */
    struct peer_step steps[12];
    const char *events;
    unsigned conns, starttls;           /* connections the peer saw, STARTTLS lines */
};

#define DELIVER_A_QUIT STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK, QUIT_OK
#define TLS_GARBAGE    { "STARTTLS", "220 2.0.0 ready", PEER_GARBAGE, 0 }
#define REQUIRED       "451 5.7.3 STARTTLS is required to send mail"

static const struct tls_case tls_cases[] = {
    /* Opportunistic: a failed handshake is retried once, on a new connection
     * to the same host, without STARTTLS. */
    { "TLS garbage, opportunistic: plaintext on a new connection", NULL, false,
      { OK220, EHLO_TLS, TLS_GARBAGE, OK220, EHLO_TLS, DELIVER_A_QUIT },
      "job_done conn_gone", 2, 1 },
    { "TLS garbage, require_tls: never plaintext", "require_tls = yes", false,
      { OK220, EHLO_TLS, TLS_GARBAGE }, "dest_failed conn_gone", 1, 1 },
    { "STARTTLS 454, opportunistic: plaintext on the same connection", NULL, false,
      { OK220, EHLO_TLS, STEP("STARTTLS", "454 4.7.0 TLS not available"), DELIVER_A_QUIT },
      "job_done conn_gone", 1, 1 },
    { "STARTTLS 454, require_tls: never plaintext", "require_tls = yes", false,
      { OK220, EHLO_TLS, STEP("STARTTLS", "454 4.7.0 TLS not available") },
      "dest_failed conn_gone", 1, 1 },
    { "STARTTLS not offered, require_tls: no MAIL", "require_tls = yes", false,
      { OK220, EHLO_OK }, "dest_failed conn_gone", 1, 0 },
    { "STARTTLS offered, no TLS context: plaintext", NULL, true,
      { OK220, EHLO_TLS, DELIVER_A_QUIT }, "job_done conn_gone", 1, 0 },
    { "STARTTLS offered, no TLS context, require_tls: no MAIL", "require_tls = yes", true,
      { OK220, EHLO_TLS }, "dest_failed conn_gone", 1, 0 },
};

static void test_tls(void **state)
{
    const struct tls_case *c = *state;
    static const int ports[] = { 0 }, codes[] = { 250 };
    const char *why = NULL;
    size_t nsteps = 0;
    unsigned starttls = 0;

    while (nsteps < NELEM(c->steps) && (c->steps[nsteps].expect || c->steps[nsteps].reply))
        nsteps++;
    world(NULL, c->send, c->steps, nsteps, 1, ports, 1);
    if (!c->no_ctx) {
        T.d.tls_ctx = tls_ctx_client_new(NULL, NULL, NULL, &why);
        assert_non_null(T.d.tls_ctx);
    }
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, c->events);
    if (T.ndone > 0)
        assert_codes(T.done[0], codes);
    else                                /* the next host; none left */
        assert_string_equal(T.failed->last, REQUIRED);
    assert_int_equal(T.peer.accepted, c->conns);
    for (size_t i = 0; i < T.peer.nlines; i++)
        starttls += strcmp(T.peer.lines[i].text, "STARTTLS") == 0;
    assert_int_equal(starttls, c->starttls);
    finish();
}

/* ---- one process per test ------------------------------------------------ */

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_plain_delivery),
        cmocka_unit_test(test_size_exceeded),
        cmocka_unit_test(test_requiretls_not_verified),
        cmocka_unit_test(test_requiretls_bounce_goes),
        cmocka_unit_test(test_requiretls_many_refused),
        cmocka_unit_test(test_requiretls_sts_lookup_failed),
        cmocka_unit_test(test_pipelining_advertised),
        cmocka_unit_test(test_pipelining_not_advertised),
        cmocka_unit_test(test_refused_everywhere),
        cmocka_unit_test(test_refused_then_next_host),
    };
    struct CMUnitTest tests[NELEM(fixed) + NELEM(stage_cases) + NELEM(tls_cases)];
    size_t n = 0;

    for (size_t i = 0; i < NELEM(fixed); i++)
        tests[n++] = fixed[i];
    for (size_t i = 0; i < NELEM(stage_cases); i++)
        tests[n++] = (struct CMUnitTest){ stage_cases[i].name, test_stage, NULL, NULL,
                                          (void *)&stage_cases[i] };
    for (size_t i = 0; i < NELEM(tls_cases); i++)
        tests[n++] = (struct CMUnitTest){ tls_cases[i].name, test_tls, NULL, NULL,
                                          (void *)&tls_cases[i] };
    return smtpc_run_forked("relay_smtpc_test", tests, n);
}
