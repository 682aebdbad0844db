/*
 * relay_qbound_test.c - the queue manager's bounds on work in flight after
 * a large recovery (issue 15 item 4), counted, never timed:
 *
 *  loads     the recovered ids are loaded QMGR_LOADS_MAX at a time, so the
 *            first round starts while most of the queue is still on disk
 *            (all loads first: the first delivery waits for the last load);
 *  rounds    with every message due at once, at most rounds_max messages
 *            are in a round (their bytes in memory) - the others wait in
 *            the blocked FIFO, each examined a bounded number of times - and
 *            all of them are delivered in the end;
 *  bytes     the same for the bytes of the rounds in flight, with one round
 *            always allowed, however large its message;
 *  fifo      a due message that does not fit waits at the head of the
 *            blocked FIFO, and one due after it waits behind it even if it
 *            would fit (it overtook it: under steady load the large head
 *            never started);
 *  dest      one destination's rounds waiting for its connections take at
 *            most dest_rounds_max places: a message for another
 *            destination still starts (it waited behind them, blocked), and
 *            the parked ones all go in the end, first parked first;
 *  loading   a message still waiting for its load is named by id: the
 *            answer says it is being loaded (it said "no message", and a
 *            delete was lost), and the deferred gauge counts it;
 *  soon      room freed by a round that ends during a run is used at once -
 *            the timer is armed for now, not for the blocked messages' look
 *            a second later (forced by a clock hook: while a message
 *            expires, a peer's 5xx ends another round);
 *  leak      a round whose read fails, and then its DSN's read too (EMFILE),
 *            gives its place back: the counts return to 0 (they leaked one
 *            round for good, and enough leaks blocked every message).
 *
 * The world (fake clock, fake SMTP client, real queue files) is
 * qmgr_world.h's.
 */
#include <sys/resource.h>

#include "qmgr_world.h"
#include "relay_stats.h"

enum { N = 200 };

static size_t first_start_loaded;       /* messages loaded when the first connection started */
static unsigned nstarts;

/* counting_start - fake_start, noting how much of the queue was loaded */

static int counting_start(struct relay_dest *d, uv_loop_t *loop)
{
    struct qmgr *q = d->owner;

    if (nstarts++ == 0)
        first_start_loaded = q->nmsgs;
    return fake_start(d, loop);
}

static const struct qmgr_smtp counting_smtp = {
    .start = counting_start, .wake = fake_wake, .idle_count = fake_idle_count,
    .close_idle = fake_close_idle, .shutdown_all = fake_shutdown_all,
};

/* plant - n due messages to r@a.test (one smart host), notified in order */

static void plant(struct qmgr *q, size_t n, const char *body)
{
    for (size_t i = 0; i < n; i++) {
        char id[RELAY_QID_LEN + 1];

        snprintf(id, sizeof(id), "%016zX", i + 0x100);
        put_msg_data(id, T0 - 1000, "s@sender.test", "r@a.test", body, "");
        qmgr_notify(q, id);
    }
}

/* count_data - messages whose bytes are in memory */

static size_t count_data(const struct qmgr *q)
{
    size_t n = 0;

    for (const struct relay_qmsg *m = q->msgs; m != NULL; m = m->next)
        n += m->data != NULL;
    return n;
}

static void test_loads_bounded(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    time_t deadline = time(NULL) + 20;

    q->smtp = &counting_smtp;
    nstarts = 0;
    plant(q, N, "Subject: t\r\n\r\nhello\r\n");
    while (q->nincoming > 0 || q->busy == 0) {  /* the wake has run */
        uv_run(&q->w.loop, UV_RUN_NOWAIT);
        assert_true(time(NULL) < deadline);     /* a hang, not a timing check */
    }
    assert_true(q->loading <= QMGR_LOADS_MAX);
    assert_true(q->busy <= QMGR_LOADS_MAX);     /* all at once: N */
    settle(q);
    assert_int_equal(fake.natt, N);             /* every one delivered */
    assert_null(q->msgs);
    assert_int_equal(q->loading, 0);
    print_message("first connection with %zu of %d messages loaded\n", first_start_loaded, N);
    assert_true(first_start_loaded < N / 2);    /* loads first: N */
}

static void test_rounds_bounded(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;

    q->rounds_max = 5;
    fake.hold = true;                           /* connections take jobs, never answer */
    plant(q, N, "Subject: t\r\n\r\nhello\r\n");
    settle(q);
    assert_int_equal(q->nmsgs, N);
    assert_int_equal(count_data(q), 5);         /* unbounded: N */
    assert_int_equal(q->rounds, 5);
    assert_int_equal(q->nqueued, N - 5);        /* the rest wait, blocked */
    print_message("%d due, 5 rounds: %llu examined\n", N, (unsigned long long)q->examined);
    assert_true(q->examined <= 2 * N);          /* once to block, once to start */
    fake.hold = false;
    settle(q);
    assert_int_equal(fake.natt, N);
    assert_null(q->msgs);
    assert_int_equal(q->rounds, 0);
    assert_int_equal(q->round_bytes, 0);
    print_message("all delivered: %llu examined\n", (unsigned long long)q->examined);
    assert_true(q->examined <= 2 * N);          /* a rescan per round's end: ~N*N/5 */
}

static void test_bytes_bounded(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    char *big = xcalloc(1, 10001);

    memset(big, 'x', 10000);
    q->round_bytes_max = 25000;                 /* two messages of 10000 bytes */
    fake.hold = true;
    plant(q, 20, big);
    settle(q);
    assert_int_equal(count_data(q), 2);         /* unbounded: 20 */
    assert_int_equal(q->rounds, 2);
    assert_true(q->round_bytes <= 25000);
    fake.hold = false;
    settle(q);
    assert_int_equal(fake.natt, 20);
    assert_null(q->msgs);
    /* One round always runs, even over the bound. */
    q->round_bytes_max = 100;
    fake.hold = true;
    plant(q, 3, big);
    settle(q);
    assert_int_equal(q->rounds, 1);
    fake.hold = false;
    settle(q);
    assert_int_equal(fake.natt, 23);
    assert_int_equal(q->round_bytes, 0);
    free(big);
}

/* put_one - a due message to r@a.test of `size` bytes, notified, settled */

static void put_one(struct qmgr *q, const char *id, size_t size)
{
    char *body = xcalloc(1, size + 1);

    memset(body, 'x', size);
    put_msg_data(id, T0 - 1000, "s@sender.test", "r@a.test", body, "");
    free(body);
    qmgr_notify(q, id);
    settle(q);
}

static void test_blocked_fifo(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;

    q->round_bytes_max = 25000;
    fake.hold = true;
    put_one(q, "0000000000000101", 10000);      /* in a round */
    assert_int_equal(q->rounds, 1);
    put_one(q, "0000000000000102", 20000);      /* 30000 > 25000: blocked */
    assert_int_equal(q->rounds, 1);
    assert_true(find_msg(q, "0000000000000102")->queued);
    put_one(q, "0000000000000103", 10000);      /* would fit (20000), waits behind */
    assert_false(find_msg(q, "0000000000000103")->in_round);    /* overtook: true */
    assert_true(find_msg(q, "0000000000000103")->queued);
    assert_int_equal(q->rounds, 1);
    assert_int_equal(q->round_bytes, 10000);
    fake.hold = false;
    settle(q);
    assert_int_equal(fake.natt, 3);
    assert_string_equal(fake.att[0].id, "0000000000000101");
    assert_string_equal(fake.att[1].id, "0000000000000102");    /* first in, first out */
    assert_string_equal(fake.att[2].id, "0000000000000103");
    assert_null(q->msgs);
    assert_int_equal(q->round_bytes, 0);
}

static void test_dest_share(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    char id[RELAY_QID_LEN + 1];
    struct relay_qmsg *m;

    q->rounds_max = 5;
    q->dest_rounds_max = 2;             /* as 100 of 10,000 */
    fake.hold = true;                   /* b.test's connections never answer */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "%016X", 0x100 + i);
        put_msg(id, T0 - 1000, "s@sender.test", "r@b.test", "");
        qmgr_notify(q, id);
    }
    settle(q);
    assert_int_equal(q->rounds, 2);     /* without a share: 5, every place */
    assert_int_equal(q->nparked, 8);
    put_msg("0000000000000200", T0 - 1000, "s@sender.test", "r@a.test", "");
    qmgr_notify(q, "0000000000000200");
    settle(q);
    assert_non_null(m = find_msg(q, "0000000000000200"));
    assert_true(m->in_round);           /* blocked behind b.test's: false */
    assert_int_equal(q->rounds, 3);
    fake.hold = false;
    settle(q);
    assert_int_equal(fake.natt, 11);
    for (int i = 0; i < 10; i++) {      /* b.test's in the order they were due */
        size_t k = (size_t)i + (i >= 2);        /* a.test's went third */

        snprintf(id, sizeof(id), "%016X", 0x100 + i);
        assert_string_equal(fake.att[k].id, id);
    }
    assert_null(q->msgs);
    assert_int_equal(q->rounds, 0);
    assert_int_equal(q->nparked, 0);
    assert_null(q->dwaits);             /* every share freed */
    print_message("11 messages, 2 at a time for b.test: %llu examined\n",
                  (unsigned long long)q->examined);
    assert_true(q->examined <= 3 * 11); /* parked, woken, started: no rescans */
}

static void test_loading_visible(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const enum relay_admin_op ops[] = { RELAY_ADMIN_DELETE, RELAY_ADMIN_SHOW, RELAY_ADMIN_HOLD };
    char last[RELAY_QID_LEN + 1];
    time_t deadline = time(NULL) + 20;

    fake.hold = true;
    plant(q, N, "Subject: t\r\n\r\nhello\r\n");
    snprintf(last, sizeof(last), "%016zX", (size_t)N - 1 + 0x100);
    while (q->nincoming > 0 || q->busy == 0) {  /* the wake has run: loads started */
        uv_run(&q->w.loop, UV_RUN_NOWAIT);
        assert_true(time(NULL) < deadline);     /* a hang, not a timing check */
    }
    assert_true(q->ntoload > q->toload_head);   /* most wait for a load */
    qmgr_sched_gauges(q);
    assert_true(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_DEFERRED)
                + relay_stats_gauge_get(RELAY_GAUGE_QUEUE_ACTIVE) == N);   /* loaded only */
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct relay_admin_req *req = relay_admin_req_new(ops[i]);

        snprintf(req->sel.id, sizeof(req->sel.id), "%s", last);
        req->done = qw_done;
        assert_int_equal(qmgr_admin(q, req), 0);
        while (qw_ndone == 0) {
            uv_run(&q->w.loop, UV_RUN_NOWAIT);
            assert_true(time(NULL) < deadline);
        }
        qw_ndone = 0;
        assert_null(find_msg(q, last));         /* still not loaded when answered */
        assert_int_equal(req->status, RELAY_ADMIN_CONFLICT);    /* NOT_FOUND */
        assert_non_null(strstr(req->why, "being loaded"));
        relay_admin_req_free(req);
    }
    settle(q);
    assert_int_equal(q->nmsgs, N);
}

static struct qmgr *hook_q;
static const char *hook_id;             /* answer the held connection once this one is popped */

/* hook_clock - fake_clock; inside the run that pops hook_id from the heap,
 * the first held connection answers (its round ends there and then) */

static uint64_t hook_clock(void *arg)
{
    struct relay_qmsg *m = hook_id ? find_msg(hook_q, hook_id) : NULL;

    if (m != NULL && m->heap_i == 0 && !m->queued && fake.npending > 0) {
        struct fake_conn c = fake.pending[0];

        hook_id = NULL;
        memmove(&fake.pending[0], &fake.pending[1], --fake.npending * sizeof(c));
        (void)fake_work(c.d, c.job);    /* 550: failed, its DSN queued, the round ends */
        fake_close(c.d);                /* its conn_gone later: no run inside this one */
    }
    return fake.now;
}

static void test_room_soon(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    char rec[64];

    q->rounds_max = 1;
    fake.hold = true;
    put_msg("0000000000000301", T0 - 1000, "s@sender.test", "r@a.test", "");
    qmgr_notify(q, "0000000000000301");
    settle(q);                          /* in its round, unanswered */
    put_msg("0000000000000302", T0 - 1000, "s@sender.test", "r@a.test", "");
    qmgr_notify(q, "0000000000000302");
    settle(q);
    assert_true(find_msg(q, "0000000000000302")->queued);      /* blocked */
    /* Expires at T0 + 10 s (message_expiration_timeout 2h). */
    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + HOUR));
    put_msg("0000000000000303", T0 + 10000 - 2 * HOUR, "s@sender.test", "r@a.test", rec);
    qmgr_notify(q, "0000000000000303");
    settle(q);
    assert_int_equal(q->rounds, 1);
    fake.mode = FAKE_REJECT;
    hook_q = q;
    hook_id = "0000000000000303";
    q->clock = hook_clock;
    fake.now = T0 + 10000;
    qmgr_sched_run(q);                  /* 303 expires; meanwhile 301's round ends */
    assert_null(hook_id);               /* the hook ran */
    assert_int_equal(q->rounds, 0);     /* room, freed inside the run */
    assert_true(find_msg(q, "0000000000000302")->queued);      /* 302 still waits */
    assert_int_equal(q->wake_ms, T0 + 10000);   /* a run now (was T0 + 11000) */
    q->clock = fake_clock;
    fake.mode = FAKE_OK;
    fake.hold = false;
    qmgr_sched_run(q);
    settle(q);
    assert_null(find_msg(q, "0000000000000302"));      /* delivered */
}

static struct rlimit saved_nofile;

/* fds_exhaust - every new descriptor fails with EMFILE (fds_restore undoes) */

static void fds_exhaust(void)
{
    struct rlimit rl;
    int fd = dup(0);

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    rl = saved_nofile;
    rl.rlim_cur = (rlim_t)fd;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void fds_restore(void)
{
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
}

static void test_round_leak(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000AAA";
    struct relay_qmsg *m;
    char rec[64];

    /* 90 minutes old: past delay_notification_timeout, so its round owes a
     * delay DSN, whose read happens after the round's own read failed. */
    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + 1000));
    put_msg_data(id, T0 - 90 * MINUTE, "s@sender.test", "r@a.test",
                 "Subject: t\r\n\r\nhello\r\n", rec);
    qmgr_notify(q, id);
    settle(q);
    assert_non_null(m = find_msg(q, id));
    assert_int_equal(q->rounds, 0);
    fds_exhaust();
    tick(q, T0 + 2000);                 /* the round's read fails, then the DSN's */
    fds_restore();
    assert_non_null(m = find_msg(q, id));
    assert_false(m->in_round);          /* the round is over: its place is back */
    assert_int_equal(q->rounds, 0);
    assert_int_equal(q->round_bytes, 0);
    tick(q, T0 + 2000 + 11000);         /* a new round: the read works, delivered */
    assert_int_equal(fake.natt, 1);     /* (so no delay DSN is owed any more) */
    assert_null(q->msgs);
    assert_int_equal(q->rounds, 0);     /* leaked: 1 */
    assert_int_equal(q->round_bytes, 0);
}

/* take_dom - the first started, unanswered connection of dom, taken out */
static struct fake_conn take_dom(const char *dom)
{
    for (size_t i = 0; i < fake.npending; i++)
        if (!fake.pending[i].closing && strcmp(fake.pending[i].d->domain, dom) == 0) {
            struct fake_conn c = fake.pending[i];

            memmove(&fake.pending[i], &fake.pending[i + 1], (--fake.npending - i) * sizeof(c));
            return c;
        }
    fail_msg("no pending connection for %s", dom);
    return (struct fake_conn){ 0 };
}

static void answer_dom(struct qmgr *q, const char *dom)
{
    fake_answer(take_dom(dom));
    settle(q);
}

static void put(struct qmgr *q, const char *id, const char *rcpts)
{
    put_msg(id, T0 - 1000, "s@sender.test", rcpts, "");
    qmgr_notify(q, id);
    settle(q);
}

/* A message for two busy destinations: parked on a.test, then, once a.test
 * has room, it must start - not be parked again at b.test's tail behind
 * later messages, and so on until it expires (the leapfrog). */
static void test_rev_leapfrog(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    struct relay_qmsg *m;

    q->dest_rounds_max = 1;
    fake.hold = true;
    put(q, "0000000000000101", "r@a.test");            /* A1 in a round */
    put(q, "0000000000000102", "r@b.test");            /* B1 in a round */
    put(q, "0000000000000103", "r@a.test r@b.test");   /* M: parked on a */
    put(q, "0000000000000104", "r@b.test");            /* B2: parked on b */
    put(q, "0000000000000105", "r@a.test");            /* A2: parked on a behind M */
    for (int round = 0; round < 6; round++) {
        char id[RELAY_QID_LEN + 1], rc[64];
        const char *dom = round % 2 == 0 ? "a.test" : "b.test";

        answer_dom(q, dom);                             /* one round of dom ends */
        snprintf(id, sizeof(id), "%016X", 0x200 + round);
        snprintf(rc, sizeof(rc), "r@%s", dom);
        put(q, id, rc);                                 /* steady load on dom */
    }
    m = find_msg(q, "0000000000000103");
    assert_true(m == NULL || m->in_round);              /* leapfrogged: still parked */
}

/* A destination's share comes back with its job, not at the end of the
 * whole round: with a.test slow, ten messages for a.test and b.test must
 * not keep b.test's share full once b.test's jobs are back - a message
 * for b.test only starts. */
static void test_rev_share_per_job(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    struct relay_qmsg *m;

    q->dest_rounds_max = 2;
    fake.hold = true;                   /* nothing answers unless asked to */
    for (int i = 0; i < 10; i++) {
        char id[RELAY_QID_LEN + 1];

        snprintf(id, sizeof(id), "%016X", 0x100 + i);
        put(q, id, "r@a.test r@b.test");
    }
    assert_int_equal(q->rounds, 2);
    assert_int_equal(q->nparked, 8);
    for (;;) {                          /* b.test answers; a.test stays slow */
        size_t i;

        for (i = 0; i < fake.npending; i++)
            if (!fake.pending[i].closing && strcmp(fake.pending[i].d->domain, "b.test") == 0)
                break;
        if (i == fake.npending)
            break;
        answer_dom(q, "b.test");
    }
    assert_int_equal(q->rounds, 2);     /* a.test's jobs are still out */
    put(q, "0000000000000300", "r@b.test");
    assert_non_null(m = find_msg(q, "0000000000000300"));
    assert_true(m->in_round);           /* without: parked on b.test's full share */
    fake.hold = false;
    settle(q);
    assert_null(q->msgs);
    assert_int_equal(q->rounds, 0);
    assert_int_equal(q->nparked, 0);
    assert_null(q->dwaits);             /* every share given back exactly once */
}

int main(void)
{
    /* One pool thread: work runs in the order it was asked for. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_bounded, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rounds_bounded, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bytes_bounded, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_blocked_fifo, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dest_share, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_loading_visible, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_room_soon, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_round_leak, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rev_leapfrog, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rev_share_per_job, fx_default, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
