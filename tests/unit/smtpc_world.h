/*
 * smtpc_world.h - the world of one SMTP client unit test: a uv loop with a
 * guard timer, a configuration loaded from an ini text, a message, a
 * destination whose addresses are the scripted peer (smtp_peer.h) or a
 * refusing port, and the owner's side of relay_dest_ops recording each
 * callback.  world() builds it, run() starts one connection and runs the
 * loop until no connection is left (the guard, GUARD_MS, fails the test),
 * finish() checks the script was used up and the loop closes, and frees.
 * smtpc_run_forked() runs each test in a process of its own.
 *
 * Header-only, for relay_smtpc_test.c and relay_smtpc_idle_test.c; every
 * function is static (unused ones are allowed).  SMTPC_TEST_DEBUG=1 in the
 * environment shows the client's debug log (every command and reply).
 */
#ifndef DOMSEC_TEST_SMTPC_WORLD_H
#define DOMSEC_TEST_SMTPC_WORLD_H

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

#define SMTPC_UNUSED __attribute__((unused))

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
#define DELIVER_A  STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK
#define QUIT_OK    { "QUIT", "221 2.0.0 bye", PEER_CLOSE, 0 }
#define SILENT(e)  { (e), NULL, 0, 0 }

/* The message, and what the peer must receive (dot-stuffed). */
static SMTPC_UNUSED const char body[] =
    "Subject: unit\r\n\r\nline one\r\n.starts with a dot\r\n";
static SMTPC_UNUSED const char body_sent[] =
    "Subject: unit\r\n\r\nline one\r\n..starts with a dot\r\n";

/* One test's world (one per process). */
static SMTPC_UNUSED struct {
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
    bool    restart;                    /* conn_gone starts a connection for waiting jobs */
    bool    gone;                       /* no connection left */
} T;

/* event - note an ops callback in T.events */

static SMTPC_UNUSED void event(const char *what)
{
    size_t n = strlen(T.events);

    snprintf(T.events + n, sizeof(T.events) - n, "%s%s", n ? " " : "", what);
}

/* The owner's side of relay_dest_ops, as the queue manager would do it. */

/* on_job_done - keep the finished job for the test to check */

static SMTPC_UNUSED void on_job_done(struct relay_dest *d, struct relay_job *j)
{
    assert_ptr_equal(d, &T.d);
    event("job_done");
    assert_true(T.ndone < NELEM(T.done));
    T.done[T.ndone++] = j;
}

/* on_dest_failed - keep the current job; the waiting ones are deferred */

static SMTPC_UNUSED void on_dest_failed(struct relay_dest *d, struct relay_job *current)
{
    struct relay_job *j;

    event("dest_failed");
    T.failed = current;
    T.waiting_at_fail = d->njobs;
    while ((j = relay_dest_take_job(d)) != NULL)   /* deferred with it */
        relay_job_free(j);
}

/* on_conn_gone - a connection ended: maybe start another, as qmgr would */

static SMTPC_UNUSED void on_conn_gone(struct relay_dest *d)
{
    event("conn_gone");
    d->conns--;
    if (T.restart && d->njobs > 0)      /* the queue manager would start another */
        relay_smtpc_start(d, &T.loop);
    T.gone = d->conns == 0;
}

static SMTPC_UNUSED const struct relay_dest_ops ops = {
    .job_done = on_job_done, .dest_failed = on_dest_failed, .conn_gone = on_conn_gone,
};

/* load_config - [send Out] for every domain, with extra lines per section
 * (transport NULL: no connection cache, QUIT after the last job) */

static SMTPC_UNUSED void load_config(const char *transport, const char *send)
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

static SMTPC_UNUSED struct relay_job *new_job(void)
{
    struct relay_job *j = xcalloc(1, sizeof(*j));

    j->msg = &T.msg;
    j->nridx = T.msg.nrcpts;
    j->ridx = xcalloc(j->nridx, sizeof(*j->ridx));
    j->codes = xcalloc(j->nridx, sizeof(*j->codes));
    j->replies = xcalloc(j->nridx, sizeof(*j->replies));
    for (size_t i = 0; i < j->nridx; i++)
        j->ridx[i] = i;
    j->data = body;                     /* borrowed, as the queue manager lends it */
    j->len = strlen(body);
    return j;
}

/* guard_expired - the test took too long: stop the loop (run() fails) */

static SMTPC_UNUSED void guard_expired(uv_timer_t *t)
{
    T.guard_fired = true;
    uv_stop(t->loop);
}

/* check_cb - after each loop iteration: the test's hook, if any */

static SMTPC_UNUSED void check_cb(uv_check_t *c)
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
static SMTPC_UNUSED void world(const char *transport, const char *send,
                               const struct peer_step *steps, size_t nsteps, size_t nrcpts,
                               const int *ports, size_t naddrs)
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
    T.d.client = relay_smtp_client_new();
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

static SMTPC_UNUSED void run(void)
{
    assert_int_equal(relay_smtpc_start(&T.d, &T.loop), 0);
    while ((!T.gone || T.peer.open > 0) && !T.guard_fired && T.peer.error[0] == '\0')
        uv_run(&T.loop, UV_RUN_ONCE);
    assert_string_equal(T.peer.error, "");
    assert_false(T.guard_fired);
    assert_int_equal(T.d.conns, 0);
}

/* run_one - one job to nrcpts recipients, the peer the only address;
 * transport as for load_config, hook (or NULL) as T.hook */

static SMTPC_UNUSED void run_one(const char *transport, const struct peer_step *steps,
                                 size_t nsteps, size_t nrcpts, void (*hook)(void))
{
    static const int ports[] = { 0 };

    world(transport, NULL, steps, nsteps, nrcpts, ports, 1);
    T.hook = hook;
    relay_dest_put_job(&T.d, new_job());
    run();
}

/* finish - every step used; close what is left, the loop must close */

static SMTPC_UNUSED void finish(void)
{
    assert_int_equal(T.peer.at, T.peer.nsteps);
    assert_null(T.d.idle);
    peer_stop(&T.peer);
    uv_close((uv_handle_t *)&T.guard, NULL);
    uv_close((uv_handle_t *)&T.check, NULL);
    assert_int_equal(uv_run(&T.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&T.loop), 0);
    for (size_t i = 0; i < T.ndone; i++)
        relay_job_free(T.done[i]);
    relay_job_free(T.failed);
    for (size_t i = 0; i < T.d.naddrs; i++)
        free(T.d.names[i]);
    free(T.d.names);
    free(T.d.addrs);
    relay_smtp_client_free(T.d.client);
    free(T.msg.rcpts);
    tls_ctx_unref(T.d.tls_ctx);
    policy_config_unref(T.cfg);
    unlink(T.conf);
    close(T.refuse_fd);
}

/* assert_codes - the job's per-recipient reply codes */

static SMTPC_UNUSED void assert_codes(const struct relay_job *j, const int *codes)
{
    assert_non_null(j);
    for (size_t i = 0; i < j->nridx; i++) {
        if (j->codes[i] != codes[i])
            print_error("recipient %zu: code %d, reply \"%s\"\n", i, j->codes[i],
                        j->replies[i] ? j->replies[i] : "(none)");
        assert_int_equal(j->codes[i], codes[i]);
    }
}

/* smtpc_run_forked - each test in a child process (its own loop, statics
 * and sanitizer report); the number of tests that failed */

static SMTPC_UNUSED int smtpc_run_forked(const char *prog, const struct CMUnitTest *tests,
                                         size_t n)
{
    size_t failed = 0;

    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        int st;

        fflush(NULL);
        if ((pid = fork()) == 0) {
            log_init(prog, getenv("SMTPC_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
            st = _cmocka_run_group_tests(tests[i].name, &tests[i], 1, NULL, NULL);
            tls_library_cleanup();
            exit(st == 0 ? 0 : 1);      /* exit, not _exit: sanitizers report at exit */
        }
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAILED: %s\n", tests[i].name);
            failed++;
        }
    }
    printf("%s: %zu of %zu tests failed\n", prog, failed, n);
    return failed > 0;
}

#endif
