/*
 * relay_qadmin_test.c - queue administration (relay_qadmin.c) on the
 * queue manager's fake world (qmgr_world.h: fake clock, fake SMTP client,
 * real queue files, real spool and commit thread, the tracking log):
 *
 *  hold       idle: a "hold" record, then under held (no place the
 *             scheduler looks); never attempted over 3 simulated days,
 *             never expired, no delay DSN; survives a restart of the
 *             queue manager; in flight: the attempt finishes, then held;
 *  release    past the expiry: one attempt, then EXPIRE and its DSN;
 *  retry      heap -> due now, held ones skipped and counted, the domain's
 *             destinations look their addresses up again;
 *  delete     idle/in flight, with and without a DSN: the file goes, the
 *             DSN says QUEUE.Admin (built by the DSN code), the records in
 *             order (delete, then the failed recipients), none to <>;
 *  summary    qshape buckets: an age equal to a limit is in that bucket;
 *  list       paging by id: no message twice, none missing, while new
 *             messages arrive between pages; a page's text at most
 *             RELAY_ADMIN_LIST_BYTES, but one message however large;
 *  gone       a file removed by hand: BADMAIL, forgotten, at its next
 *             round and by the sweep;
 *  mailbox    done never runs inside qmgr_admin; after the stop: refused.
 */
#include <sys/stat.h>

#include "qmgr_world.h"
#include "relay_admin.h"
#include "relay_plog.h"
#include "relay_stats.h"

static unsigned ndone;
static uint64_t seen_resolved_ms = 1;   /* b.test's destination, when a retry answered */

static void on_done(struct relay_admin_req *req)
{
    (void)req;
    ndone++;
    for (struct relay_dest *d = ((struct qmgr *)req->arg)->dests; d != NULL; d = d->next)
        if (strcmp(d->domain, "b.test") == 0)
            seen_resolved_ms = d->resolved_ms;
}

/* run - hand req to q, run the loop until it is answered, then settle */

static struct relay_admin_req *run(struct qmgr *q, struct relay_admin_req *req)
{
    unsigned before = ndone;
    time_t deadline = time(NULL) + 20;

    req->done = on_done;
    req->arg = q;
    assert_int_equal(qmgr_admin(q, req), 0);
    assert_int_equal(ndone, before);    /* never inside the call */
    while (ndone == before) {
        uv_run(&q->w.loop, UV_RUN_NOWAIT);
        assert_true(time(NULL) < deadline);     /* a hang, not a timing check */
        usleep(200);
    }
    settle(q);
    assert_int_equal(ndone, before + 1);
    return req;
}

static struct relay_admin_req *req_id(enum relay_admin_op op, const char *id)
{
    struct relay_admin_req *req = relay_admin_req_new(op);

    snprintf(req->sel.id, sizeof(req->sel.id), "%s", id);
    return req;
}

static size_t attempts_of(const char *id)
{
    size_t n = 0;

    for (size_t i = 0; i < fake.natt; i++)
        n += strcmp(fake.att[i].id, id) == 0;
    return n;
}

/* plog_open - the tracking log (and the protocol logs) under the fixture's [logs] */

static void plog_open(void)
{
    struct config *cfg = policy_config_current();

    assert_int_equal(relay_plog_open(cfg, getuid(), getgid()), 0);
    policy_config_unref(cfg);
}

/* tracking - the tracking log so far (flushed by closing it), owned */

static char *tracking(struct fx *fx)
{
    char cmd[256], *out = xcalloc(1, 65536);
    FILE *p;
    size_t n;

    relay_plog_close();
    snprintf(cmd, sizeof(cmd), "cat $(find '%s/log' -name 'MSGTRK*.LOG') 2>/dev/null", fx->dir);
    assert_non_null(p = popen(cmd, "r"));
    n = fread(out, 1, 65535, p);
    out[n] = '\0';
    pclose(p);
    plog_open();
    return out;
}

static bool track_has(struct fx *fx, const char *event, const char *id)
{
    char *t = tracking(fx), want[64];
    bool r;

    snprintf(want, sizeof(want), ",%s,%s,", event, id);
    r = strstr(t, want) != NULL;
    free(t);
    return r;
}

static int setup(void **state)
{
    struct fx *fx;

    fx_default(state);
    fx = *state;
    (void)fx;
    plog_open();
    ndone = 0;
    return 0;
}

static int teardown(void **state)
{
    relay_plog_close();
    return fx_teardown(state);
}

/* deferred - a queued message that was tried once and deferred (next T0+1m) */

static void deferred(struct qmgr *q, const char *id, const char *rcpts)
{
    put_msg(id, T0, "s@sender.test", rcpts, "");
    fake.mode = FAKE_DEFER;
    qmgr_notify(q, id);
    settle(q);
}

/* ---- tests --------------------------------------------------------------- */

static void test_hold_idle(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000101";
    struct relay_admin_req *req;
    struct relay_qmsg *m;

    deferred(q, id, "r@a.test");
    assert_int_equal(attempts_of(id), 1);
    req = run(q, req_id(RELAY_ADMIN_HOLD, id));
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->changed, 1);
    assert_int_equal(req->pending, 0);
    relay_admin_req_free(req);
    assert_true(file_has(id, "\nhold 1795341600000 "));
    assert_non_null(m = find_msg(q, id));
    assert_int_equal(m->held_ms, T0);
    assert_int_equal(m->heap_i, 0);     /* in no place the scheduler looks */
    assert_ptr_equal(q->held, m);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_HELD), 1);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_DEFERRED), 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_ACTIVE), 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_OLDEST_MS), T0);
    /* Three simulated days, every 10 minutes: never attempted, never
     * expired (2h), no delay DSN (1h). */
    for (uint64_t t = T0; t <= T0 + 72 * HOUR; t += 10 * MINUTE)
        tick(q, t);
    assert_int_equal(attempts_of(id), 1);
    assert_int_equal(count_dsns("s@sender.test"), 0);
    assert_non_null(m = find_msg(q, id));
    assert_true(file_exists(id));
    assert_int_equal(m->delay_ms, 0);
    /* Held again: a conflict, nothing written. */
    req = run(q, req_id(RELAY_ADMIN_HOLD, id));
    assert_int_equal(req->status, RELAY_ADMIN_CONFLICT);
    relay_admin_req_free(req);
    assert_true(track_has(fx, "SUSPEND", id));
    /* The hold survives a restart of the queue manager (the record). */
    stop_and_drain(q);
    qmgr_free(q);
    fx->q = q = qmgr_new(&fake_smtp, fake_clock, NULL);
    qmgr_notify(q, id);
    settle(q);
    tick(q, T0 + 80 * HOUR);
    assert_non_null(m = find_msg(q, id));
    assert_int_equal(m->held_ms, T0);
    assert_ptr_equal(q->held, m);
    assert_int_equal(attempts_of(id), 1);
    /* Released past its expiry: one attempt, then EXPIRE and its DSN. */
    fake.now = T0 + 80 * HOUR;
    req = run(q, req_id(RELAY_ADMIN_RELEASE, id));
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->changed, 1);
    relay_admin_req_free(req);
    assert_int_equal(attempts_of(id), 2);
    assert_int_equal(fake.att[fake.natt - 1].at, T0 + 80 * HOUR);
    tick(q, T0 + 80 * HOUR + MINUTE);
    assert_null(find_msg(q, id));
    assert_false(file_exists(id));
    assert_int_equal(attempts_of(id), 2);
    {
        size_t expired = 0;

        for (size_t i = 0; i < fake.natt; i++)
            expired += fake.att[i].expired && strcmp(fake.att[i].rcpt, "s@sender.test") == 0;
        assert_int_equal(expired, 1);
    }
    assert_true(track_has(fx, "RESUME", id));
    assert_true(track_has(fx, "EXPIRE", id));
    req = run(q, req_id(RELAY_ADMIN_RELEASE, id));
    assert_int_equal(req->status, RELAY_ADMIN_NOT_FOUND);
    relay_admin_req_free(req);
}

static void test_hold_in_flight(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000102";
    struct relay_admin_req *req;
    struct relay_qmsg *m;

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    fake.hold = true;                   /* the connection does not answer yet */
    qmgr_notify(q, id);
    settle(q);
    assert_non_null(m = find_msg(q, id));
    assert_true(m->jobs > 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_ACTIVE), 1);
    req = run(q, req_id(RELAY_ADMIN_HOLD, id));
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->changed, 1);
    assert_int_equal(req->pending, 1);  /* the attempt finishes first */
    relay_admin_req_free(req);
    assert_true(file_has(id, "\nhold "));
    assert_true(m->jobs > 0);
    fake.hold = false;
    settle(q);                          /* the attempt ends: deferred, then held */
    assert_int_equal(attempts_of(id), 1);
    assert_true(file_has(id, "rcpt 0 deferred"));
    assert_int_equal(m->jobs, 0);
    assert_ptr_equal(q->held, m);
    assert_int_equal(m->heap_i, 0);
    tick(q, T0 + 10 * HOUR);
    assert_int_equal(attempts_of(id), 1);
    assert_ptr_equal(find_msg(q, id), m);
}

static void test_retry(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *a = "0000000000000201", *b = "0000000000000202", *h = "0000000000000203",
               *c = "0000000000000204";
    struct relay_admin_req *req;

    deferred(q, a, "r@a.test");
    deferred(q, b, "r@b.test");
    deferred(q, h, "r2@b.test");
    assert_int_equal(fake.natt, 3);
    relay_admin_req_free(run(q, req_id(RELAY_ADMIN_HOLD, h)));
    assert_non_null(find_msg(q, b)->heap_i);    /* waiting for T0 + 1m */
    put_msg(c, T0, "s@sender.test", "r3@b.test", "");
    fake.hold = true;                   /* c in flight: b.test's destination stays */
    qmgr_notify(q, c);
    settle(q);
    /* Retry b.test: b now (not at T0 + 1m), h skipped, c in flight, a untouched. */
    req = relay_admin_req_new(RELAY_ADMIN_RETRY);
    req->sel.domain = xstrdup("b.test");
    seen_resolved_ms = 1;
    run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->matched, 3);
    assert_int_equal(req->changed, 1);
    assert_int_equal(req->skipped, 1);
    assert_int_equal(req->in_flight, 1);
    assert_int_equal(seen_resolved_ms, 0);      /* b.test looks its addresses up again */
    relay_admin_req_free(req);
    fake.hold = false;
    settle(q);
    assert_int_equal(attempts_of(c), 1);
    assert_int_equal(attempts_of(b), 2);
    assert_int_equal(fake.att[fake.natt - 1].at, T0);
    assert_int_equal(attempts_of(a), 1);
    assert_int_equal(attempts_of(h), 1);
    /* Retry all: a now too; h still skipped. */
    req = relay_admin_req_new(RELAY_ADMIN_RETRY);
    req->sel.all = true;
    run(q, req);
    assert_int_equal(req->changed, 3);
    assert_int_equal(req->skipped, 1);
    relay_admin_req_free(req);
    assert_int_equal(attempts_of(a), 2);
    assert_int_equal(attempts_of(b), 3);
    assert_int_equal(attempts_of(c), 2);
    assert_int_equal(attempts_of(h), 1);
    req = run(q, req_id(RELAY_ADMIN_RETRY, "00000000000009FF"));
    assert_int_equal(req->status, RELAY_ADMIN_NOT_FOUND);
    relay_admin_req_free(req);
}

/* keep - a second name for id's file, so its records can be read after removal */

static void keep(struct fx *fx, const char *id, char *path, size_t size)
{
    char from[160];

    snprintf(from, sizeof(from), "%s/queue/messages/%s", fx->dir, id);
    snprintf(path, size, "%s/%s.kept", fx->dir, id);
    assert_int_equal(link(from, path), 0);
}

static char *slurp(const char *path)
{
    char *buf = xcalloc(1, 16384);
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, 16383);
    assert_true(n >= 0);
    close(fd);
    return buf;
}

static void test_delete_idle(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *plain = "0000000000000301", *bounce = "0000000000000302",
               *null = "0000000000000303";
    struct relay_admin_req *req;
    char kept[200], *text, *del, *failed;

    deferred(q, plain, "r@a.test");
    deferred(q, bounce, "r@a.test r2@b.test");
    put_msg(null, T0, "", "r@a.test", "next 1795345200000\n");     /* T0 + 1h: idle */
    qmgr_notify(q, null);
    settle(q);
    /* Plain: the file is gone when the answer comes; no DSN. */
    req = run(q, req_id(RELAY_ADMIN_DELETE, plain));
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->changed, 1);
    assert_int_equal(req->dsns, 0);
    relay_admin_req_free(req);
    assert_false(file_exists(plain));
    assert_null(find_msg(q, plain));
    assert_int_equal(count_dsns("s@sender.test"), 0);
    assert_true(track_has(fx, "DELETE", plain));
    /* With a DSN: built by the DSN code, QUEUE.Admin's text, both recipients. */
    keep(fx, bounce, kept, sizeof(kept));
    req = relay_admin_req_new(RELAY_ADMIN_DELETE);
    snprintf(req->sel.id, sizeof(req->sel.id), "%s", bounce);
    req->bounce = true;
    run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->dsns, 1);
    relay_admin_req_free(req);
    assert_false(file_exists(bounce));
    assert_null(find_msg(q, bounce));
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_true(fake.att[fake.natt - 1].admin);
    /* Records in order: the delete, then the failed recipients (written
     * after the DSN's commit), then the removal. */
    text = slurp(kept);
    assert_non_null(del = strstr(text, "\ndelete 1795341600000 0 bounce\n"));
    assert_non_null(failed = strstr(text, "\nrcpt 1 failed "));
    assert_true(del < failed);
    assert_non_null(strstr(failed, "550 5.0.0 QUEUE.Admin; message deleted by administrative action"));
    free(text);
    assert_true(track_has(fx, "FAIL", bounce));
    assert_false(track_has(fx, "DELETE", bounce));
    /* A null sender never gets a DSN. */
    req = relay_admin_req_new(RELAY_ADMIN_DELETE);
    snprintf(req->sel.id, sizeof(req->sel.id), "%s", null);
    req->bounce = true;
    run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->dsns, 0);
    relay_admin_req_free(req);
    assert_false(file_exists(null));
    assert_int_equal(count_dsns(""), 0);
    assert_int_equal(attempts_of(null), 0);
    assert_int_equal(fake.natt, 4);     /* plain, bounce's 2 recipients tried once; the DSN */
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_DEFERRED), 0);
}

static void test_delete_in_flight(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *plain = "0000000000000401", *bounce = "0000000000000402";
    struct relay_admin_req *req;

    put_msg(plain, T0, "s@sender.test", "r@a.test", "");
    put_msg(bounce, T0, "s@sender.test", "r@b.test", "");
    fake.mode = FAKE_DEFER;
    fake.hold = true;
    qmgr_notify(q, plain);
    qmgr_notify(q, bounce);
    settle(q);
    assert_true(find_msg(q, plain)->jobs > 0 && find_msg(q, bounce)->jobs > 0);
    req = run(q, req_id(RELAY_ADMIN_DELETE, plain));
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->pending, 1);
    relay_admin_req_free(req);
    req = req_id(RELAY_ADMIN_DELETE, bounce);
    req->bounce = true;
    run(q, req);
    assert_int_equal(req->pending, 1);
    relay_admin_req_free(req);
    /* Recorded durably before the answer; the files stay till the round ends. */
    assert_true(file_has(plain, "\ndelete 1795341600000 0 plain\n"));
    assert_true(file_has(bounce, "\ndelete 1795341600000 0 bounce\n"));
    assert_true(file_exists(plain) && file_exists(bounce));
    fake.hold = false;
    settle(q);                          /* the attempts end (deferred), then the deletes */
    assert_int_equal(attempts_of(plain), 1);
    assert_int_equal(attempts_of(bounce), 1);
    assert_false(file_exists(plain));
    assert_false(file_exists(bounce));
    assert_null(q->msgs);
    assert_int_equal(count_dsns("s@sender.test"), 1);   /* only bounce's */
    assert_true(fake.att[fake.natt - 1].admin);
    assert_true(track_has(fx, "DELETE", plain));
}

/* A restart finds a "delete" record: the delete is finished, not the delivery. */
static void test_delete_recovered(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000403";

    put_msg(id, T0, "s@sender.test", "r@a.test", "delete 1795341600000 0 bounce\n");
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(attempts_of(id), 0);
    assert_false(file_exists(id));
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_true(fake.att[fake.natt - 1].admin);
}

static void test_summary_buckets(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    static const struct { const char *id; uint64_t age; const char *rcpts; } msgs[] = {
        { "0000000000000501", 0, "x@a.test" },
        { "0000000000000502", 5 * MINUTE, "x@a.test y@a.test" },     /* <= 5: first */
        { "0000000000000503", 5 * MINUTE + 1, "x@b.test" },          /* second */
        { "0000000000000504", 10 * MINUTE, "x@b.test" },             /* second */
        { "0000000000000505", 20 * MINUTE + 1, "x@a.test" },         /* overflow of 3 */
    };
    struct relay_admin_req *req;
    struct relay_admin_summary *s;

    fake.now = T0 + HOUR;
    for (size_t i = 0; i < 5; i++) {
        put_msg(msgs[i].id, T0 + HOUR - msgs[i].age, "s@sender.test", msgs[i].rcpts,
                "next 1795370400000\n");        /* T0 + 8h: idle */
        qmgr_notify(q, msgs[i].id);
    }
    settle(q);
    req = relay_admin_req_new(RELAY_ADMIN_SUMMARY);
    req->buckets = 3;                   /* <=5m, <=10m, <=20m, more */
    run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    s = req->summary;
    assert_int_equal(s->nbuckets, 3);
    assert_int_equal(s->limit_ms[0], 5 * MINUTE);
    assert_int_equal(s->limit_ms[2], 20 * MINUTE);
    assert_int_equal(s->total.total, 6);
    assert_int_equal(s->total.counts[0], 3);
    assert_int_equal(s->total.counts[1], 2);
    assert_int_equal(s->total.counts[2], 0);
    assert_int_equal(s->total.counts[3], 1);
    assert_int_equal(s->nrows, 2);
    assert_string_equal(s->rows[0].domain, "a.test");   /* by total, descending */
    assert_int_equal(s->rows[0].total, 4);
    assert_int_equal(s->rows[0].counts[0], 3);
    assert_int_equal(s->rows[0].counts[3], 1);
    assert_string_equal(s->rows[1].domain, "b.test");
    assert_int_equal(s->rows[1].counts[1], 2);
    relay_admin_req_free(req);
    /* By sender: messages, one row. */
    req = relay_admin_req_new(RELAY_ADMIN_SUMMARY);
    req->by_sender = true;
    run(q, req);
    assert_int_equal(req->summary->nrows, 1);
    assert_string_equal(req->summary->rows[0].domain, "sender.test");
    assert_int_equal(req->summary->rows[0].total, 5);
    relay_admin_req_free(req);
}

static void put_idle(struct qmgr *q, unsigned n)
{
    char id[RELAY_QID_LEN + 1];

    snprintf(id, sizeof(id), "%016X", n);
    put_msg(id, T0, "s@sender.test", n % 2 ? "x@a.test" : "x@b.test", "next 1795370400000\n");
    qmgr_notify(q, id);
}

static void test_list_paging(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    char after[RELAY_QID_LEN + 1] = "", last[RELAY_QID_LEN + 1] = "";
    unsigned seen[64] = { 0 }, pages = 0;
    bool more = true;

    for (unsigned n = 0x600; n < 0x600 + 25; n++)
        put_idle(q, n * 2);             /* even ids: there from the start */
    settle(q);
    while (more) {
        struct relay_admin_req *req = relay_admin_req_new(RELAY_ADMIN_LIST);

        req->limit = 10;
        memcpy(req->after, after, sizeof(after));
        run(q, req);
        assert_int_equal(req->status, RELAY_ADMIN_OK);
        assert_true(req->nmsgs <= 10);
        for (size_t i = 0; i < req->nmsgs; i++) {
            unsigned n = (unsigned)strtoul(req->msgs[i].id, NULL, 16);

            assert_true(strcmp(req->msgs[i].id, last) > 0);     /* sorted, never twice */
            memcpy(last, req->msgs[i].id, sizeof(last));
            if (n % 2 == 0)
                seen[n / 2 - 0x600]++;
            assert_int_equal(req->msgs[i].state, RELAY_AQ_DEFERRED);
            assert_int_equal(req->msgs[i].nrcpts, 1);
            assert_int_equal(req->msgs[i].next_ms, T0 + 8 * HOUR);
        }
        more = req->more;
        if (req->nmsgs > 0)
            memcpy(after, req->msgs[req->nmsgs - 1].id, sizeof(after));
        relay_admin_req_free(req);
        put_idle(q, (0x600 + pages * 7) * 2 + 1);   /* odd ids arrive between pages */
        settle(q);
        pages++;
        assert_true(pages < 10);
    }
    for (unsigned i = 0; i < 25; i++)
        assert_int_equal(seen[i], 1);   /* every one present all along, exactly once */
    /* Filters: domain, state. */
    {
        struct relay_admin_req *req = relay_admin_req_new(RELAY_ADMIN_LIST);

        req->sel.domain = xstrdup("b.test");
        req->limit = 1000;
        run(q, req);
        assert_int_equal(req->nmsgs, 25);       /* the even ids */
        relay_admin_req_free(req);
        req = relay_admin_req_new(RELAY_ADMIN_LIST);
        req->sel.domain = xstrdup(".A.test");  /* a.test and below, any case */
        run(q, req);
        assert_int_equal(req->nmsgs, pages);    /* the odd ones, one per page */
        relay_admin_req_free(req);
        req = relay_admin_req_new(RELAY_ADMIN_LIST);
        req->sel.state = RELAY_AQ_HELD;
        run(q, req);
        assert_int_equal(req->nmsgs, 0);
        relay_admin_req_free(req);
    }
}

/* put_wide - an idle message with nrcpts recipients, each with a long reply */

static void put_wide(struct qmgr *q, unsigned n, unsigned nrcpts)
{
    char id[RELAY_QID_LEN + 1], text[301];
    size_t cap = 64 + nrcpts * 400, len;
    char *rcpts = xcalloc(1, nrcpts * 40 + 1), *recs = xmalloc(cap);

    memset(text, 'x', 300);
    text[300] = '\0';
    len = (size_t)snprintf(recs, cap, "next 1795370400000\n");
    for (unsigned i = 0; i < nrcpts; i++) {
        sprintf(rcpts + strlen(rcpts), "%srecipient-%05u@a.test", i ? " " : "", i);
        len += (size_t)snprintf(recs + len, cap - len, "rcpt %u deferred %llu 1 451 %s\n", i,
                                (unsigned long long)T0, text);
    }
    snprintf(id, sizeof(id), "%016X", n);
    put_msg(id, T0, "s@sender.test", rcpts, recs);
    qmgr_notify(q, id);
    free(rcpts);
    free(recs);
}

/* page_text - what a page's strings take, plus a little per entry: less
 * than its JSON, more than half of it */

static size_t page_text(const struct relay_admin_req *req)
{
    size_t n = 0;

    for (size_t i = 0; i < req->nmsgs; i++) {
        const struct relay_admin_msg *m = &req->msgs[i];

        n += 200 + strlen(m->sender);
        for (size_t j = 0; j < m->nrcpts; j++)
            n += 80 + strlen(m->rcpts[j].addr) + (m->rcpts[j].last ? strlen(m->rcpts[j].last) : 0)
                 + (m->rcpts[j].remote ? strlen(m->rcpts[j].remote) : 0);
    }
    return n;
}

/* A page holds at most RELAY_ADMIN_LIST_BYTES of text whatever the limit
 * (was: 10,000 messages of any size, hundreds of MB built on the loop),
 * but always one message, however large. */
static void test_list_byte_budget(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    char after[RELAY_QID_LEN + 1] = "";
    unsigned seen[41] = { 0 }, pages = 0, alone = 0;
    bool more = true;

    for (unsigned n = 0; n < 40; n++)
        put_wide(q, 0x800 + n, 200);    /* ~90 KB each: 3.6 MB in all */
    put_wide(q, 0x800 + 40, 2600);      /* ~1.2 MB alone */
    settle(q);
    assert_int_equal(q->nmsgs, 41);
    while (more) {
        struct relay_admin_req *req = relay_admin_req_new(RELAY_ADMIN_LIST);

        req->limit = RELAY_ADMIN_LIST_MAX;
        memcpy(req->after, after, sizeof(after));
        run(q, req);
        assert_int_equal(req->status, RELAY_ADMIN_OK);
        assert_true(req->nmsgs >= 1);
        if (req->nmsgs > 1)
            assert_true(page_text(req) <= RELAY_ADMIN_LIST_BYTES);
        for (size_t i = 0; i < req->nmsgs; i++) {
            unsigned n = (unsigned)strtoul(req->msgs[i].id, NULL, 16) - 0x800;

            assert_true(n <= 40);
            seen[n]++;
            alone += n == 40 && req->nmsgs == 1;
        }
        more = req->more;
        memcpy(after, req->msgs[req->nmsgs - 1].id, sizeof(after));
        relay_admin_req_free(req);
        pages++;
        assert_true(pages < 50);
    }
    assert_true(pages >= 5);
    assert_int_equal(alone, 1);
    for (unsigned i = 0; i <= 40; i++)
        assert_int_equal(seen[i], 1);
}

static void test_removed_by_hand(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *round = "0000000000000701", *swept = "0000000000000702";
    char path[160];
    size_t before;

    deferred(q, round, "r@a.test");
    put_msg(swept, T0, "s@sender.test", "r@a.test", "next 1795370400000\n");
    qmgr_notify(q, swept);
    settle(q);
    before = fake.natt;
    /* At its next round. */
    snprintf(path, sizeof(path), "%s/queue/messages/%s", fx->dir, round);
    assert_int_equal(unlink(path), 0);
    tick(q, T0 + MINUTE);
    assert_null(find_msg(q, round));
    assert_int_equal(fake.natt, before);
    assert_true(track_has(fx, "BADMAIL", round));
    /* By the sweep, long before its next round. */
    snprintf(path, sizeof(path), "%s/queue/messages/%s", fx->dir, swept);
    assert_int_equal(unlink(path), 0);
    assert_non_null(find_msg(q, swept));
    qmgr_admin_sweep(q);
    settle(q);
    assert_null(find_msg(q, swept));
    assert_true(track_has(fx, "BADMAIL", swept));
    assert_null(q->msgs);
    assert_int_equal(q->nmsgs, 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_ACTIVE), 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_DEFERRED), 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_HELD), 0);
    assert_int_equal(relay_stats_gauge_get(RELAY_GAUGE_QUEUE_OLDEST_MS), 0);
    tick(q, T0 + 9 * HOUR);
    assert_int_equal(fake.natt, before);
}

/* After the stop, the mailbox refuses; a request in it when the stop
 * began is answered "stopping". */
static void test_mailbox_stop(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    struct relay_admin_req *a = relay_admin_req_new(RELAY_ADMIN_LIST);
    struct relay_admin_req *b = relay_admin_req_new(RELAY_ADMIN_LIST);
    unsigned before = ndone;

    a->done = on_done;
    a->arg = q;
    assert_int_equal(qmgr_admin(q, a), 0);
    qmgr_request_stop(q);
    assert_int_equal(qmgr_admin(q, b), -ESHUTDOWN);
    stop_and_drain(q);
    assert_int_equal(ndone, before + 1);
    assert_int_equal(a->status, RELAY_ADMIN_STOPPING);
    relay_admin_req_free(a);
    relay_admin_req_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_byte_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mailbox_stop, setup, teardown),
    };

    (void)fx_one_conn;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
