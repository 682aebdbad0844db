/*
 * relay_smtpc_idle_test.c - what a connection of the SMTP client does
 * between jobs and at stop (relay_smtpc.c, relay_smtpc_idle.c), against the
 * scripted peer of smtp_peer.h in the same loop (smtpc_world.h): a job
 * waiting in the queue goes out on the same connection, after RSET when a
 * transaction was left open; with connection_cache_time the connection
 * waits idle, relay_smtpc_wake hands it a job, relay_smtpc_close_idle makes
 * it QUIT, and the cache time ending makes it QUIT; an idle connection
 * older than connection_reuse_time QUITs when a job comes, and the job
 * gets a new connection; an unasked 421 ends an idle connection; at stop
 * (relay_smtpc_shutdown_all) a message at its final dot waits for the
 * reply, an idle connection says QUIT, and a job in mid-transaction comes
 * back undelivered.
 *
 * Each test runs in a process of its own (the kept TLS sessions are the
 * process's) and has its own client (relay_smtp_client) and
 * its own loop, which must close cleanly.  No sleeps: the loop's check
 * hook acts when the client reaches the state a test waits for.
 */
#include "smtpc_world.h"

static const int ok[] = { 250 };      /* one recipient, delivered */

/* ---- connection reuse ----------------------------------------------------- */

/* two_jobs - two jobs queued at once: both reported, over one connection */

static void two_jobs(const struct peer_step *steps, size_t nsteps)
{
    static const int ports[] = { 0 };

    world(NULL, NULL, steps, nsteps, 1, ports, 1);
    relay_dest_put_job(&T.d, new_job());
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done job_done conn_gone");
    assert_int_equal(T.peer.accepted, 1);
}

/* Every recipient of the first job refused: RSET, and the second job goes
 * out on the same connection. */
static void test_reuse_after_rset(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "550 5.1.1 unknown"),
        STEP("RSET", "250 2.0.0 reset"), STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK,
        DOT_OK, QUIT_OK,
    };
    static const int refused[] = { 550 };

    (void)state;
    two_jobs(steps, NELEM(steps));
    assert_codes(T.done[0], refused);
    assert_codes(T.done[1], ok);
    finish();
}

static int idle_seen;                   /* times the connection was seen idle */

/* idle_hook - first idle: a new job wakes it; second: make room (QUIT) */

static void idle_hook(void)
{
    if (relay_smtpc_idle_count(T.d.client) == 0 || T.d.idle == NULL)
        return;
    if (idle_seen++ == 0) {
        relay_dest_put_job(&T.d, new_job());
        assert_true(relay_smtpc_wake(&T.d));
        assert_int_equal(T.d.njobs, 0);
        return;
    }
    assert_true(relay_smtpc_close_idle(T.d.client, NULL));
    assert_int_equal(relay_smtpc_idle_count(T.d.client), 0);
}

/* With connection_cache_time, the connection waits idle after its job; a
 * job handed to it (relay_smtpc_wake) goes out without a new connection
 * and without RSET (the transaction ended with the dot). */
static void test_reuse_idle_cache(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, DELIVER_A,
        DELIVER_A, QUIT_OK,
    };
    static const int ports[] = { 0 };

    (void)state;
    world("connection_cache_time = 2s", NULL, steps, NELEM(steps), 1, ports, 1);
    assert_false(relay_smtpc_wake(&T.d));          /* nobody idle yet */
    T.hook = idle_hook;
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_int_equal(idle_seen, 2);
    assert_string_equal(T.events, "job_done job_done conn_gone");
    assert_codes(T.done[0], ok);
    assert_codes(T.done[1], ok);
    assert_int_equal(T.peer.accepted, 1);
    assert_int_equal(peer_line_index(&T.peer, "RSET"), -1);
    finish();
}

/* Two jobs queued: the second follows the first's dot on the same
 * connection, with no RSET (the transaction ended with the dot). */
static void test_reuse_queued_job(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_PIPE, { MAIL, "250 ok", 0, 3 }, STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK,
        { MAIL, "250 ok", 0, 3 }, STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK, QUIT_OK,
    };

    (void)state;
    two_jobs(steps, NELEM(steps));
    assert_codes(T.done[0], ok);
    assert_codes(T.done[1], ok);
    assert_int_equal(peer_line_index(&T.peer, "RSET"), -1);
    finish();
}

static bool was_idle;                   /* the connection was seen in the idle list */

static void note_idle(void)
{
    if (relay_smtpc_idle_count(T.d.client) == 1 && T.d.idle != NULL)
        was_idle = true;
}

/* The cache time passes with no job: QUIT. */
static void test_cache_time_ends(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, DELIVER_A, QUIT_OK,
    };

    (void)state;
    run_one("connection_cache_time = 20ms", steps, NELEM(steps), 1, note_idle);
    assert_true(was_idle);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], ok);
    assert_int_equal(relay_smtpc_idle_count(T.d.client), 0);
    finish();
}

/* reuse_hook - the idle connection has become older than the reuse time
 * (lowered to 0 here, as time passing would): a job woken onto it makes it
 * QUIT instead, and stays queued for a new connection */

static void reuse_hook(void)
{
    if (was_idle || T.d.idle == NULL)
        return;
    was_idle = true;
    T.cfg->transport.connection_reuse_time = 0;
    relay_dest_put_job(&T.d, new_job());
    assert_true(relay_smtpc_wake(&T.d));
    assert_int_equal(T.d.njobs, 1);
}

static void test_reuse_time_passed(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, DELIVER_A, QUIT_OK,
        OK220, EHLO_OK, DELIVER_A, QUIT_OK,
    };

    (void)state;
    T.restart = true;
    run_one("connection_cache_time = 5m", steps, NELEM(steps), 1, reuse_hook);
    assert_true(was_idle);
    assert_string_equal(T.events, "job_done conn_gone job_done conn_gone");
    assert_codes(T.done[0], ok);
    assert_codes(T.done[1], ok);
    assert_int_equal(T.peer.accepted, 2);
    assert_int_equal(T.peer.lines[peer_line_index(&T.peer, "QUIT")].conn, 1);
    finish();
}

/* hang_up_hook - the server says 421 to the idle connection */

static void hang_up_hook(void)
{
    if (was_idle || T.d.idle == NULL)
        return;
    was_idle = true;
    peer_say(&T.peer, 1, "421 4.3.2 closing idle connections");
}

static void test_idle_connection_gets_421(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, DELIVER_A,
    };

    (void)state;
    run_one("connection_cache_time = 5m", steps, NELEM(steps), 1, hang_up_hook);
    assert_true(was_idle);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_int_equal(relay_smtpc_idle_count(T.d.client), 0);
    assert_int_equal(peer_line_index(&T.peer, "QUIT"), -1);   /* it just closes */
    finish();
}

/* garbage_hook - the server sends a line that is no reply to the idle connection */

static void garbage_hook(void)
{
    if (was_idle || T.d.idle == NULL)
        return;
    was_idle = true;
    peer_say(&T.peer, 1, "this is not a reply");
}

/* A malformed line while idle ends that connection only: there is no job to
 * move to the next address, and nothing to fail for the destination. */
static void test_idle_connection_gets_garbage(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, DELIVER_A,
    };

    (void)state;
    run_one("connection_cache_time = 5m", steps, NELEM(steps), 1, garbage_hook);
    assert_true(was_idle);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_int_equal(relay_smtpc_idle_count(T.d.client), 0);
    assert_int_equal(T.peer.accepted, 1);                   /* no new connection */
    finish();
}

/* ---- stop ------------------------------------------------------------------ */

static bool stopped;

/* stop_at_dot - the peer holds the final dot: stop, then the peer answers */

static void stop_at_dot(void)
{
    if (stopped || peer_line_index(&T.peer, ".") < 0)
        return;
    stopped = true;
    relay_smtpc_shutdown_all(T.d.client);
    peer_say(&T.peer, 1, "250 2.0.0 queued as X1");
}

/* A message that went out is not abandoned at stop: the reply to its dot
 * decides (it would otherwise be sent again after a restart). */
static void test_stop_waits_for_the_dot_reply(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, SILENT("."),
        QUIT_OK,
    };

    (void)state;
    run_one(NULL, steps, NELEM(steps), 1, stop_at_dot);
    assert_true(stopped);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], ok);
    finish();
}

/* stop_at_mail - the peer holds MAIL: stop */

static void stop_at_mail(void)
{
    if (stopped || peer_line_index(&T.peer, MAIL) < 0)
        return;
    stopped = true;
    relay_smtpc_shutdown_all(T.d.client);
}

/* Before the dot, the job comes back undelivered at once. */
static void test_stop_mid_transaction(void **state)
{
    static const struct peer_step steps[] = { OK220, EHLO_OK, SILENT(MAIL) };
    static const int none[] = { 0, 0 };

    (void)state;
    run_one(NULL, steps, NELEM(steps), 2, stop_at_mail);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], none);
    assert_string_equal(T.done[0]->last, "delivery interrupted by shutdown");
    assert_true(T.done[0]->last_conn);
    finish();
}

/* stop_when_idle - stop while the connection waits for a job */

static void stop_when_idle(void)
{
    if (stopped || T.d.idle == NULL)
        return;
    stopped = true;
    relay_smtpc_shutdown_all(T.d.client);
}

/* An idle connection says QUIT at stop; no new connection starts after. */
static void test_stop_idle_then_no_new_connection(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, DELIVER_A, QUIT_OK,
    };
    static const int none[] = { 0 };

    (void)state;
    run_one("connection_cache_time = 5m", steps, NELEM(steps), 1, stop_when_idle);
    assert_true(stopped);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], ok);
    /* after the stop a new connection gives its job back without connecting */
    T.gone = false;
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done conn_gone job_done conn_gone");
    assert_codes(T.done[1], none);
    assert_string_equal(T.done[1]->last, "delivery interrupted by shutdown");
    assert_int_equal(T.peer.accepted, 1);
    finish();
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_queued_job),
        cmocka_unit_test(test_reuse_after_rset),
        cmocka_unit_test(test_reuse_idle_cache),
        cmocka_unit_test(test_cache_time_ends),
        cmocka_unit_test(test_reuse_time_passed),
        cmocka_unit_test(test_idle_connection_gets_421),
        cmocka_unit_test(test_idle_connection_gets_garbage),
        cmocka_unit_test(test_stop_waits_for_the_dot_reply),
        cmocka_unit_test(test_stop_mid_transaction),
        cmocka_unit_test(test_stop_idle_then_no_new_connection),
    };

    return smtpc_run_forked("relay_smtpc_idle_test", tests, NELEM(tests));
}
