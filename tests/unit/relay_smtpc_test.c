/*
 * relay_smtpc_test.c - the SMTP client (relay/smtp/) driven without the
 * queue manager: a destination and its jobs built here, its ops callbacks
 * recorded, and a scripted SMTP peer (smtp_peer.h) on a loopback port of
 * the same uv loop.  Covered: one job with several recipients (dot
 * stuffing, SIZE); PIPELINING used when advertised and only then; a 4xx,
 * a 5xx, silence (a 50 ms timeout) and a malformed reply at every stage
 * (banner, EHLO and the HELO fallback, MAIL, each RCPT, DATA, the final
 * dot), each with the per-recipient codes and the callback that reported
 * it; refused connections and an exhausted address list (dest_failed);
 * STARTTLS answered with bytes that are no TLS, under opportunistic and
 * required TLS; a second job on the same connection after RSET, and from
 * the idle cache.
 *
 * Each test runs in a process of its own (forked) with its own loop; the
 * loop runs until the connection is gone, bounded by a 3 s guard timer
 * that fails the test, and must close cleanly (uv_loop_close() == 0).
 * No sleeps: the timeouts are the client's own, set small on the
 * connector (its configured minimum is 1 s).  SMTPC_TEST_DEBUG=1 in the
 * environment shows the client's debug log (every command and reply).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"
#include "policy_config.h"
#include "relay_smtp.h"
#include "smtp_peer.h"
#include "tls_ctx.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define GUARD_MS 3000                   /* a test that takes longer fails */
#define SHORT_TIMEOUT_MS 50             /* the connector's wait, in timeout tests */
#define MAX_RCPTS 3

/* Script pieces (the peer's side of the dialogue). */
#define BANNER(r)  { NULL, (r), 0, 0 }
#define STEP(e, r) { (e), (r), 0, 0 }
#define EHLO       "EHLO relay.example.test"
#define HELO       "HELO relay.example.test"
#define MAIL       "MAIL FROM:<alice@sender.test>"
#define RCPT_A     "RCPT TO:<a@example.test>"
#define RCPT_B     "RCPT TO:<b@example.test>"
#define RCPT_C     "RCPT TO:<c@example.test>"
#define OK220      BANNER("220 mx.example.test ESMTP")
#define EHLO_OK    STEP(EHLO, "250-mx.example.test\r\n250 8BITMIME")
#define EHLO_PIPE  STEP(EHLO, "250-mx.example.test\r\n250-PIPELINING\r\n250 8BITMIME")
#define EHLO_TLS   STEP(EHLO, "250-mx.example.test\r\n250-STARTTLS\r\n250 8BITMIME")
#define DATA_OK    STEP("DATA", "354 go ahead")
#define DOT_OK     STEP(".", "250 2.0.0 queued as X1")
#define QUIT_OK    { "QUIT", "221 2.0.0 bye", PEER_CLOSE, 0 }
#define SILENT(e)  { (e), NULL, 0, 0 }

static const char body[] = "Subject: unit\r\n\r\nline one\r\n.starts with a dot\r\n";
static const char body_sent[] = "Subject: unit\r\n\r\nline one\r\n..starts with a dot\r\n";

/* One test's world (one per process). */
static struct {
    uv_loop_t loop;
    uv_timer_t guard;
    uv_check_t check;
    bool    guard_fired;
    void  (*hook)(void);                /* called after every loop iteration */
    char    conf[64];
    struct config *cfg;
    struct relay_qmsg msg;
    struct relay_dest d;
    struct peer peer;
    int     refuse_fd;                  /* bound, not listening: connections refused */
    struct relay_job *done[4];          /* reported by job_done, in order */
    size_t  ndone;
    struct relay_job *failed;           /* current job given to dest_failed */
    size_t  waiting_at_fail;            /* jobs still queued when dest_failed came */
    char    events[128];                /* the ops callbacks, in order */
    bool    gone;
} T;

static void event(const char *what)
{
    size_t n = strlen(T.events);

    snprintf(T.events + n, sizeof(T.events) - n, "%s%s", n ? " " : "", what);
}

static void job_free(struct relay_job *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->nridx; i++)
        free(j->replies[i]);
    free(j->replies);
    free(j->codes);
    free(j->ridx);
    free(j->data);
    free(j->last);
    free(j->remote);
    free(j);
}

/* The owner's side of relay_dest_ops, as the queue manager would do it. */

static void on_job_done(struct relay_dest *d, struct relay_job *j)
{
    assert_ptr_equal(d, &T.d);
    event("job_done");
    assert_true(T.ndone < NELEM(T.done));
    T.done[T.ndone++] = j;
}

static void on_dest_failed(struct relay_dest *d, struct relay_job *current)
{
    struct relay_job *j;

    event("dest_failed");
    T.failed = current;
    T.waiting_at_fail = d->njobs;
    while ((j = relay_dest_take_job(d)) != NULL)   /* deferred with it */
        job_free(j);
}

static void on_conn_gone(struct relay_dest *d)
{
    event("conn_gone");
    d->conns--;
    T.gone = true;
}

static const struct relay_dest_ops ops = {
    .job_done = on_job_done, .dest_failed = on_dest_failed, .conn_gone = on_conn_gone,
};

/* load_config - [send Out] for every domain, with extra lines per section
 * (transport NULL: no connection cache, QUIT after the last job) */

static void load_config(const char *transport, const char *send)
{
    struct cfg_errors errs = { 0 };
    FILE   *fp;
    int     fd;

    snprintf(T.conf, sizeof(T.conf), "/tmp/relay_smtpc_test.XXXXXX");
    fd = mkstemp(T.conf);
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    fprintf(fp, "[transport]\naccepted_domains = local.test\n%s\n"
            "[receive Inet]\nbindings = 127.0.0.1:2599\n\n"
            "[send Out]\naddress_spaces = *\nfqdn = relay.example.test\n%s\n",
            transport ? transport : "connection_cache_time = 0", send ? send : "");
    fclose(fp);
    T.cfg = policy_config_load(T.conf, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("config: %s\n", errs.v[i]);
    assert_int_equal(errs.n, 0);
    assert_non_null(T.cfg);
}

/* new_job - a job for every recipient of T.msg */

static struct relay_job *new_job(void)
{
    struct relay_job *j = xcalloc(1, sizeof(*j));

    j->msg = &T.msg;
    j->nridx = T.msg.nrcpts;
    j->ridx = xcalloc(j->nridx, sizeof(*j->ridx));
    j->codes = xcalloc(j->nridx, sizeof(*j->codes));
    j->replies = xcalloc(j->nridx, sizeof(*j->replies));
    for (size_t i = 0; i < j->nridx; i++)
        j->ridx[i] = i;
    j->data = xstrdup(body);
    j->len = strlen(body);
    return j;
}

static void guard_expired(uv_timer_t *t)
{
    T.guard_fired = true;
    uv_stop(t->loop);
}

static void check_cb(uv_check_t *c)
{
    (void)c;
    if (T.hook != NULL)
        T.hook();
}

/*
 * world - the loop, the config, the peer with its script, a message to
 * nrcpts recipients (a@, b@, c@example.test), and the destination: ports
 * lists its addresses on 127.0.0.1 (0 = the peer, 1 = a refusing port).
 */
static void world(const char *transport, const char *send, const struct peer_step *steps,
                  size_t nsteps, size_t nrcpts, const int *ports, size_t naddrs)
{
    static char *rcpts[MAX_RCPTS] = { "a@example.test", "b@example.test", "c@example.test" };
    unsigned short refusing = peer_refusing_port(&T.refuse_fd);

    assert_int_not_equal(refusing, 0);
    assert_int_equal(uv_loop_init(&T.loop), 0);
    uv_timer_init(&T.loop, &T.guard);
    uv_timer_start(&T.guard, guard_expired, GUARD_MS, 0);
    uv_check_init(&T.loop, &T.check);
    uv_check_start(&T.check, check_cb);
    load_config(transport, send);
    peer_start(&T.peer, &T.loop, steps, nsteps);
    assert_string_equal(T.peer.error, "");

    snprintf(T.msg.id, sizeof(T.msg.id), "UNITTEST0001");
    T.msg.sender = "alice@sender.test";
    T.msg.rcpts = xcalloc(nrcpts, sizeof(*T.msg.rcpts));
    T.msg.nrcpts = nrcpts;
    for (size_t i = 0; i < nrcpts; i++)
        T.msg.rcpts[i].addr = rcpts[i];

    T.d.key = "Out\nexample.test";
    T.d.domain = "example.test";
    T.d.cfg = T.cfg;
    T.d.sc = &T.cfg->send[0];
    T.d.ops = &ops;
    T.d.addrs = xcalloc(naddrs, sizeof(*T.d.addrs));
    T.d.names = xcalloc(naddrs, sizeof(*T.d.names));
    T.d.naddrs = naddrs;
    for (size_t i = 0; i < naddrs; i++) {
        uv_ip4_addr("127.0.0.1", ports[i] == 0 ? T.peer.port : refusing,
                    (struct sockaddr_in *)&T.d.addrs[i]);
        T.d.names[i] = xasprintf("mx%zu.example.test", i + 1);
    }
}

/* run - start one connection for T.d and run until it is gone and the peer
 * has seen every connection close; the guard or a script error stops it */

static void run(void)
{
    assert_int_equal(relay_smtpc_start(&T.d, &T.loop), 0);
    while ((!T.gone || T.peer.open > 0) && !T.guard_fired && T.peer.error[0] == '\0')
        uv_run(&T.loop, UV_RUN_ONCE);
    assert_string_equal(T.peer.error, "");
    assert_false(T.guard_fired);
    assert_int_equal(T.d.conns, 0);
}

/* run_one - one job to nrcpts recipients, the peer the only address */

static void run_one(const struct peer_step *steps, size_t nsteps, size_t nrcpts)
{
    static const int ports[] = { 0 };

    world(NULL, NULL, steps, nsteps, nrcpts, ports, 1);
    relay_dest_put_job(&T.d, new_job());
    run();
}

/* finish - every step used; close what is left, the loop must close */

static void finish(void)
{
    assert_int_equal(T.peer.at, T.peer.nsteps);
    assert_null(T.d.idle);
    peer_stop(&T.peer);
    uv_close((uv_handle_t *)&T.guard, NULL);
    uv_close((uv_handle_t *)&T.check, NULL);
    assert_int_equal(uv_run(&T.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&T.loop), 0);
    for (size_t i = 0; i < T.ndone; i++)
        job_free(T.done[i]);
    job_free(T.failed);
    for (size_t i = 0; i < T.d.naddrs; i++)
        free(T.d.names[i]);
    free(T.d.names);
    free(T.d.addrs);
    free(T.msg.rcpts);
    tls_ctx_unref(T.d.tls_ctx);
    policy_config_unref(T.cfg);
    unlink(T.conf);
    close(T.refuse_fd);
}

/* assert_codes - the job's per-recipient reply codes */

static void assert_codes(const struct relay_job *j, const int *codes)
{
    assert_non_null(j);
    for (size_t i = 0; i < j->nridx; i++) {
        if (j->codes[i] != codes[i])
            print_error("recipient %zu: code %d, reply \"%s\"\n", i, j->codes[i],
                        j->replies[i] ? j->replies[i] : "(none)");
        assert_int_equal(j->codes[i], codes[i]);
    }
}

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
    run_one(steps, NELEM(steps), 3);
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
    run_one(steps, NELEM(steps), 2);
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_int_equal(peer_line_index(&T.peer, "MAIL"), -1);
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
    run_one(steps, NELEM(steps), 2);
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
    run_one(steps, NELEM(steps), 2);
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

/* ---- STARTTLS answered with bytes that are no TLS ----------------------- */

static const struct peer_step tls_garbage_steps[] = {
    OK220, EHLO_TLS, { "STARTTLS", "220 2.0.0 ready", PEER_GARBAGE, 0 },
    /* opportunistic only: the same host again, in plaintext */
    OK220, EHLO_TLS, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK, QUIT_OK,
};

static void tls_world(const char *send, size_t nsteps)
{
    static const int ports[] = { 0 };
    const char *why = NULL;

    world(NULL, send, tls_garbage_steps, nsteps, 1, ports, 1);
    T.d.tls_ctx = tls_ctx_client_new(NULL, NULL, NULL, &why);
    assert_non_null(T.d.tls_ctx);
    relay_dest_put_job(&T.d, new_job());
    run();
}

/* Opportunistic: the failed handshake is retried once without STARTTLS. */
static void test_tls_garbage_opportunistic(void **state)
{
    static const int codes[] = { 250 };

    (void)state;
    tls_world(NULL, NELEM(tls_garbage_steps));
    assert_string_equal(T.events, "job_done conn_gone");
    assert_codes(T.done[0], codes);
    assert_int_equal(T.peer.accepted, 2);
    for (size_t i = 0; i < T.peer.nlines; i++)  /* STARTTLS on the first conn only */
        if (strcmp(T.peer.lines[i].text, "STARTTLS") == 0)
            assert_int_equal(T.peer.lines[i].conn, 1);
    finish();
}

/* require_tls: never plaintext; no other host, so dest_failed. */
static void test_tls_garbage_required(void **state)
{
    (void)state;
    tls_world("require_tls = yes", 3);
    assert_string_equal(T.events, "dest_failed conn_gone");
    assert_non_null(T.failed);
    assert_string_equal(T.failed->last, "451 5.7.3 STARTTLS is required to send mail");
    assert_int_equal(T.peer.accepted, 1);
    finish();
}

/* require_tls and no STARTTLS offered: no MAIL, dest_failed. */
static void test_tls_required_not_offered(void **state)
{
    static const struct peer_step steps[] = { OK220, EHLO_OK };
    static const int ports[] = { 0 };
    const char *why = NULL;

    (void)state;
    world(NULL, "require_tls = yes", steps, NELEM(steps), 1, ports, 1);
    T.d.tls_ctx = tls_ctx_client_new(NULL, NULL, NULL, &why);
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "dest_failed conn_gone");
    assert_string_equal(T.failed->last, "451 5.7.3 STARTTLS is required to send mail");
    finish();
}

/* ---- connection reuse ----------------------------------------------------- */

/* Every recipient of the first job refused: RSET, and the second job goes
 * out on the same connection. */
static void test_reuse_after_rset(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "550 5.1.1 unknown"),
        STEP("RSET", "250 2.0.0 reset"), STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK,
        DOT_OK, QUIT_OK,
    };
    static const int ports[] = { 0 }, refused[] = { 550 }, ok[] = { 250 };

    (void)state;
    world(NULL, NULL, steps, NELEM(steps), 1, ports, 1);
    relay_dest_put_job(&T.d, new_job());
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, "job_done job_done conn_gone");
    assert_codes(T.done[0], refused);
    assert_codes(T.done[1], ok);
    assert_int_equal(T.peer.accepted, 1);
    finish();
}

static int idle_seen;                   /* times the connection was seen idle */

/* idle_hook - first idle: a new job wakes it; second: make room (QUIT) */

static void idle_hook(void)
{
    if (relay_smtpc_idle_count() == 0 || T.d.idle == NULL)
        return;
    if (idle_seen++ == 0) {
        relay_dest_put_job(&T.d, new_job());
        assert_true(relay_smtpc_wake(&T.d));
        assert_int_equal(T.d.njobs, 0);
        return;
    }
    assert_true(relay_smtpc_close_idle(NULL));
    assert_int_equal(relay_smtpc_idle_count(), 0);
}

/* With connection_cache_time, the connection waits idle after its job; a
 * job handed to it (relay_smtpc_wake) goes out without a new connection
 * and without RSET (the transaction ended with the dot). */
static void test_reuse_idle_cache(void **state)
{
    static const struct peer_step steps[] = {
        OK220, EHLO_OK, STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK,
        STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK, QUIT_OK,
    };
    static const int ports[] = { 0 }, ok[] = { 250 };

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

/* ---- one process per test ------------------------------------------------ */

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_plain_delivery),
        cmocka_unit_test(test_size_exceeded),
        cmocka_unit_test(test_pipelining_advertised),
        cmocka_unit_test(test_pipelining_not_advertised),
        cmocka_unit_test(test_refused_everywhere),
        cmocka_unit_test(test_refused_then_next_host),
        cmocka_unit_test(test_tls_garbage_opportunistic),
        cmocka_unit_test(test_tls_garbage_required),
        cmocka_unit_test(test_tls_required_not_offered),
        cmocka_unit_test(test_reuse_after_rset),
        cmocka_unit_test(test_reuse_idle_cache),
    };
    struct CMUnitTest tests[NELEM(fixed) + NELEM(stage_cases)];
    size_t n = 0, failed = 0;

    for (size_t i = 0; i < NELEM(fixed); i++)
        tests[n++] = fixed[i];
    for (size_t i = 0; i < NELEM(stage_cases); i++)
        tests[n++] = (struct CMUnitTest){ stage_cases[i].name, test_stage, NULL, NULL,
                                          (void *)&stage_cases[i] };
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        int st;

        fflush(NULL);
        if ((pid = fork()) == 0) {
            log_init("relay_smtpc_test", getenv("SMTPC_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
            st = _cmocka_run_group_tests(tests[i].name, &tests[i], 1, NULL, NULL);
            tls_library_cleanup();
            exit(st == 0 ? 0 : 1);      /* exit, not _exit: sanitizers report at exit */
        }
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAILED: %s\n", tests[i].name);
            failed++;
        }
    }
    printf("relay_smtpc_test: %zu of %zu tests failed\n", failed, n);
    return failed > 0;
}
