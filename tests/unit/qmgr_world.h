/*
 * qmgr_world.h - the world of the queue manager's unit tests: a fake clock,
 * a fake SMTP client behind struct qmgr_smtp (it answers jobs later, from
 * settle(), or with fake.sync inside start and wake, as relay_smtpc.c may),
 * a fixture (configuration, a temporary queue directory, the commit
 * thread, a struct qmgr on its loop), queue files written as the spool
 * writes them, and helpers that move the fake clock (tick) and run the
 * loop until nothing is under way (settle) or until the stop has ended it
 * (stop_and_drain), and administration requests run to their answer
 * (admin_run).  Every wait is bounded: a hang fails the test.
 *
 * Header-only, for relay_qmgr_test.c and relay_qadmin_test.c; every function
 * is static.
 */
#ifndef DOMSEC_TEST_QMGR_WORLD_H
#define DOMSEC_TEST_QMGR_WORLD_H


#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "policy_config.h"
#include "relay_qmgr_int.h"
#include "relay_qmsg.h"
#include "relay_smtp.h"
#include "relay_spool.h"

#define QW_UNUSED __attribute__((unused))   /* not every test uses every helper */

#define T0 1795341600000ULL             /* 2026-11-22T10:00:00Z */
#define MINUTE 60000ULL
#define HOUR (60 * MINUTE)

/* ---- the fake clock and SMTP client ----------------------------------- */

enum fake_mode { FAKE_OK, FAKE_DEFER, FAKE_REJECT, FAKE_NO_CONNECT };

struct attempt {
    char    id[RELAY_QID_LEN + 1];
    char    rcpt[64];
    char    sender[64];
    uint64_t at;
    const char *data;                   /* the job's bytes (pointer, for sharing) */
    const char *msg_data;               /* the message's bytes at that time */
    char    head[64];                   /* their first bytes */
    bool    expired;                    /* they say "QUEUE.Expired" (a DSN's report) */
    bool    admin;                      /* they say "QUEUE.Admin" (an admin delete's DSN) */
    bool    requiretls;                 /* the message's RFC 8689 REQUIRETLS flag */
};

static struct {
    uint64_t now;
    enum fake_mode mode;
    bool    hold;                       /* leave started connections unanswered */
    bool    sync;                       /* answer inside start and wake (see fake_start) */
    struct fake_conn {
        struct relay_dest *d;
        struct relay_job *job;          /* taken at start, as relay_smtpc_start does */
        bool    closing;                /* only its conn_gone is left */
    } pending[64];                      /* connections started, not yet answered */
    size_t  npending;
    struct relay_dest *idle[16];        /* sync: connections waiting for a job */
    size_t  nidle;
    unsigned starts, wakes;             /* sync: answered inside start, inside wake */
    struct attempt att[256];
    size_t  natt;
} fake;

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake.now;
}

/* fake_work - a connection answers j, then d's waiting jobs; false when
 * every address failed (dest_failed took j and the waiting jobs) */

static bool fake_work(struct relay_dest *d, struct relay_job *j)
{
    for (; j != NULL; j = relay_dest_take_job(d)) {
        for (size_t i = 0; i < j->nridx; i++) {
            struct attempt *a = &fake.att[fake.natt++];

            assert_true(fake.natt < 256);
            snprintf(a->id, sizeof(a->id), "%s", j->msg->id);
            snprintf(a->rcpt, sizeof(a->rcpt), "%s", j->msg->rcpts[j->ridx[i]].addr);
            snprintf(a->sender, sizeof(a->sender), "%s", j->msg->sender);
            a->at = fake.now;
            a->data = j->data;
            a->msg_data = j->msg->data;
            snprintf(a->head, sizeof(a->head), "%.*s", (int)(j->len < 63 ? j->len : 63),
                     j->data);
            a->expired = memmem(j->data, j->len, "550 4.4.7 QUEUE.Expired", 23) != NULL;
            a->admin = memmem(j->data, j->len, "QUEUE.Admin; message deleted by administrative "
                              "action", 53) != NULL;
            a->requiretls = j->msg->requiretls;
        }
        snprintf(j->endpoint, sizeof(j->endpoint), "127.0.0.1:25");
        if (fake.mode == FAKE_NO_CONNECT && j->msg->sender[0] != '\0') {
            j->last = xstrdup("connect to 127.0.0.1:25: Connection refused");
            j->last_conn = true;
            d->ops->dest_failed(d, j);  /* defers j and every waiting job */
            return false;
        }
        j->remote = xstrdup("hub.test");
        for (size_t i = 0; i < j->nridx; i++) {
            bool ok = fake.mode == FAKE_OK || j->msg->sender[0] == '\0';  /* DSNs go */
            bool no = !ok && fake.mode == FAKE_REJECT;

            j->codes[i] = ok ? 250 : no ? 550 : 451;
            j->replies[i] = xstrdup(ok ? "250 2.0.0 Ok" : no ? "550 5.1.1 no such user"
                                                            : "451 4.3.0 try later");
        }
        d->ops->job_done(d, j);         /* j is the queue manager's again */
    }
    return true;
}

/* fake_close - a sync connection ends: its conn_gone comes later (fake_run) */

static void fake_close(struct relay_dest *d)
{
    assert_true(fake.npending < 64);
    fake.pending[fake.npending++] = (struct fake_conn){ .d = d, .closing = true };
}

/* fake_park - a sync connection that has answered waits idle (or ends) */

static void fake_park(struct relay_dest *d, bool ok)
{
    if (!ok) {
        fake_close(d);
        return;
    }
    assert_true(fake.nidle < 16);
    fake.idle[fake.nidle++] = d;
}

/* fake_unidle - take idle connection i off the idle list */

static struct relay_dest *fake_unidle(size_t i)
{
    struct relay_dest *d = fake.idle[i];

    memmove(&fake.idle[i], &fake.idle[i + 1], (--fake.nidle - i) * sizeof(d));
    return d;
}

/*
 * fake_start - as relay_smtpc_start: the connection takes d's first job.
 * Normally it answers later (fake_run).  With fake.sync it answers inside
 * this call, as relay_smtpc does when no address can be tried at all
 * (dest_failed) - and then every waiting job of d, as a connection whose
 * message is over the peer's SIZE does (job_done, then the next job) - and
 * stays idle for fake_wake; conn_gone always comes later.
 */
static int fake_start(struct relay_dest *d, uv_loop_t *loop)
{
    struct relay_job *j;

    (void)loop;
    d->conns++;                         /* as relay_smtpc_start does */
    j = relay_dest_take_job(d);
    if (fake.sync) {
        fake.starts++;
        fake_park(d, fake_work(d, j));
        return 0;
    }
    assert_true(fake.npending < 64);    /* all of it: a stale closing would drop j */
    fake.pending[fake.npending++] = (struct fake_conn){ .d = d, .job = j };
    return 0;
}

/* fake_wake - as relay_smtpc_wake: an idle connection of d takes its jobs,
 * answered inside this call (fake.sync; there are idle ones only then) */

static bool fake_wake(struct relay_dest *d)
{
    for (size_t i = 0; i < fake.nidle; i++)
        if (fake.idle[i] == d) {
            fake_unidle(i);
            fake.wakes++;
            fake_park(d, fake_work(d, relay_dest_take_job(d)));
            return true;
        }
    return false;
}

static unsigned fake_idle_count(const struct relay_smtp_client *cl)
{
    return (unsigned)fake.nidle;
}

static bool fake_close_idle(struct relay_smtp_client *cl, const struct relay_dest *keep)
{
    for (size_t i = 0; i < fake.nidle; i++)
        if (fake.idle[i] != keep) {
            fake_close(fake_unidle(i)); /* QUIT: its slot comes back via conn_gone */
            return true;
        }
    return false;
}

static void fake_shutdown_all(struct relay_smtp_client *cl)
{
    while (fake.nidle > 0)
        fake_close(fake_unidle(0));
}

static const struct qmgr_smtp fake_smtp = {
    .start = fake_start, .wake = fake_wake, .idle_count = fake_idle_count,
    .close_idle = fake_close_idle, .shutdown_all = fake_shutdown_all,
};

/* fake_answer - one connection works through its job and then the
 * destination's waiting ones (or only ends, if closing) */

static void fake_answer(struct fake_conn c)
{
    if (!c.closing)
        (void)fake_work(c.d, c.job);
    c.d->ops->conn_gone(c.d);           /* may free d */
}

/* fake_run - answer the started connections, first started first */

static void fake_run(void)
{
    while (fake.npending > 0) {
        struct fake_conn c = fake.pending[0];

        memmove(&fake.pending[0], &fake.pending[1], --fake.npending * sizeof(c));
        fake_answer(c);
    }
}

/* settle - run the loop and answer connections until nothing is under way */

static void settle(struct qmgr *q)
{
    time_t deadline = time(NULL) + 20;

    for (;;) {
        bool idle;

        uv_run(&q->w.loop, UV_RUN_NOWAIT);
        if (!fake.hold)
            fake_run();
        uv_mutex_lock(&q->w.lock);
        idle = q->nincoming == 0;
        uv_mutex_unlock(&q->w.lock);
        if (idle && q->busy == 0
            && (fake.hold || (q->conns == fake.nidle && fake.npending == 0)))
            return;
        assert_true(time(NULL) < deadline);     /* a hang, not a timing check */
        usleep(200);
    }
}

/* ---- fixture: config, queue directory, commit thread ------------------ */

struct fx {
    char    dir[64];
    struct qmgr *q;
};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* fx_config - the test's configuration with these [transport] lines, loaded */

static struct config *fx_config(const struct fx *fx, const char *transport)
{
    struct cfg_errors errs = { NULL, 0 };
    struct config *cfg;
    char path[128], qdir[96], *text;

    snprintf(qdir, sizeof(qdir), "%s/queue", fx->dir);
    /* No TLS-RPT recorder: its start-up catch-up pass runs on libuv's pool with
     * descriptors and timers of its own (real time), which the fd-exhaustion
     * and counting tests here must not share; relay_tlsrpt_test covers it. */
    text = xasprintf("[transport]\naccepted_domains = local.test\nqueue_directory = %s\n"
                     "tls_reporting = no\n%s\n"
                     "[logs]\ndirectory = %s/log\n\n"
                     "[receive Inet]\nbindings = 127.0.0.1:2\nremote_ip_ranges = 127.0.0.0/8\n"
                     "fqdn = mx.local.test\nauth_mechanism = none\n\n"
                     "[send A]\naddress_spaces = a.test, sender.test\n"
                     "smart_hosts = [127.0.0.1]:25\n\n"
                     "[send B]\naddress_spaces = b.test\nsmart_hosts = [127.0.0.2]:25\n\n"
                     "[send C]\naddress_spaces = mx.test\n\n"   /* MX routing */
                     "[dns]\nservers = 127.0.0.1:1\n",
                     qdir, transport, fx->dir);
    snprintf(path, sizeof(path), "%s/domsec.conf", fx->dir);
    write_text(path, text);
    free(text);
    cfg = policy_config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("config: %s\n", errs.v[i]);
    assert_non_null(cfg);
    return cfg;
}

static int fx_setup(void **state, const char *transport)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char qdir[96];

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/qmgrtestXXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(qdir, sizeof(qdir), "%s/queue", fx->dir);
    policy_config_swap(fx_config(fx, transport));
    assert_int_equal(relay_queue_open(qdir, getuid(), getgid()), 0);
    assert_int_equal(relay_commit_start(), 0);
    memset(&fake, 0, sizeof(fake));
    fake.now = T0;
    fx->q = qmgr_new(&fake_smtp, fake_clock, NULL);
    assert_non_null(fx->q);
    *state = fx;
    return 0;
}

static int fx_default(void **state)
{
    return fx_setup(state, "transient_failure_retry_count = 2\n"
                           "transient_failure_retry_interval = 1m\n"
                           "message_retry_interval = 10m\n"
                           "outbound_connection_failure_retry_interval = 30m\n"
                           "message_expiration_timeout = 2h\n"
                           "delay_notification_timeout = 1h\n");
}

static QW_UNUSED int fx_one_conn(void **state)
{
    return fx_setup(state, "max_outbound_connections = 1\n"
                           "message_expiration_timeout = 2h\n");
}

/* stop_and_drain - stop q and run its loop (answering connections) until it ends */

static void stop_and_drain(struct qmgr *q)
{
    time_t deadline = time(NULL) + 20;

    fake.hold = false;
    qmgr_request_stop(q);
    while (uv_run(&q->w.loop, UV_RUN_NOWAIT) != 0 || uv_loop_alive(&q->w.loop)) {
        fake_run();                     /* connections still under way */
        assert_true(time(NULL) < deadline);     /* a hang, not a timing check */
        usleep(200);
    }
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];

    stop_and_drain(fx->q);              /* done already by a test that stops */
    qmgr_free(fx->q);
    relay_commit_stop();
    relay_queue_close();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* ---- queue files --------------------------------------------------------- */

/* put_msg_data - a committed queue file: arrival, recipients, the message's
 * bytes, state records */

static void put_msg_data(const char *id, uint64_t arrival, const char *sender,
                         const char *rcpts, const char *body, const char *records)
{
    char when[32], *text, *rl = xstrdup(""), *r, *save = NULL, *list = xstrdup(rcpts);
    time_t secs = (time_t)(arrival / 1000);
    struct tm tm;
    int fd;

    for (r = strtok_r(list, " ", &save); r != NULL; r = strtok_r(NULL, " ", &save)) {
        char *n = xasprintf("%srcpt <%s>\n", rl, r);

        free(rl);
        rl = n;
    }
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    text = xasprintf("DSQ1\nid %s\narrival %s.%03dZ\nconnector Inet\nclient 127.0.0.1:4000\n"
                     "helo c.test\nsession 08DE000000000001\nsender <%s>\n%sdata %016zX\n%send\n%s",
                     id, when, (int)(arrival % 1000), sender, rl, strlen(body), body, records);
    fd = openat(relay_queue_dirfd(RELAY_QDIR_MESSAGES), id, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(text);
    free(rl);
    free(list);
}

/* put_msg - put_msg_data with a small message */

static QW_UNUSED void put_msg(const char *id, uint64_t arrival, const char *sender, const char *rcpts,
                    const char *records)
{
    put_msg_data(id, arrival, sender, rcpts, "Subject: test\r\n\r\nhello\r\n", records);
}

/* file_exists - is the queue file still there */

static QW_UNUSED bool file_exists(const char *id)
{
    return faccessat(relay_queue_dirfd(RELAY_QDIR_MESSAGES), id, F_OK, 0) == 0;
}

/* file_has - does the queue file contain text */

static QW_UNUSED bool file_has(const char *id, const char *text)
{
    char buf[8192];
    int fd = openat(relay_queue_dirfd(RELAY_QDIR_MESSAGES), id, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, text) != NULL;
}

static QW_UNUSED struct relay_qmsg *find_msg(struct qmgr *q, const char *id)
{
    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

/* tick - the clock reaches `at`, and the timer (armed for wake_ms) fires */

static QW_UNUSED void tick(struct qmgr *q, uint64_t at)
{
    fake.now = at;
    qmgr_sched_run(q);
    settle(q);
}

static QW_UNUSED size_t count_dsns(const char *to)
{
    size_t n = 0;

    for (size_t i = 0; i < fake.natt; i++)
        n += fake.att[i].sender[0] == '\0' && strcmp(fake.att[i].rcpt, to) == 0;
    return n;
}

/* ---- administration requests ------------------------------------------ */

static unsigned qw_ndone;

static void qw_done(struct relay_admin_req *req)
{
    (void)req;
    qw_ndone++;
}

/* admin_run - hand req to q, run the loop until it is answered, settle */

static QW_UNUSED struct relay_admin_req *admin_run(struct qmgr *q, struct relay_admin_req *req)
{
    unsigned before = qw_ndone;
    time_t deadline = time(NULL) + 20;

    req->done = qw_done;
    assert_int_equal(qmgr_admin(q, req), 0);
    assert_int_equal(qw_ndone, before);     /* never inside the call */
    while (qw_ndone == before) {
        uv_run(&q->w.loop, UV_RUN_NOWAIT);
        assert_true(time(NULL) < deadline); /* a hang, not a timing check */
        usleep(200);
    }
    settle(q);
    return req;
}

/* admin_req_id - a request for one message */

static QW_UNUSED struct relay_admin_req *admin_req_id(enum relay_admin_op op, const char *id)
{
    struct relay_admin_req *req = relay_admin_req_new(op);

    snprintf(req->sel.id, sizeof(req->sel.id), "%s", id);
    return req;
}

#endif
