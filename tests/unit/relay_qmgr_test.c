/*
 * relay_qmgr_test.c - the queue manager object (qmgr/) driven by a fake
 * clock and a fake SMTP client, no network and no waiting:
 *
 *  order      messages are attempted in the order they fall due, the
 *             timer is always armed for the earliest one;
 *  retry      transient_failure_retry_count rounds at
 *             transient_failure_retry_interval, then message_retry_interval,
 *             or outbound_connection_failure_retry_interval after a round
 *             that reached no host;
 *  expiry     message_expiration_timeout fails what is left with "550
 *             4.4.7 QUEUE.Expired", wakes the queue at the expiry even if
 *             the next attempt is later, and sends the sender a DSN;
 *  delay      one delay DSN once delay_notification_timeout has passed,
 *             however many rounds follow;
 *  outcomes   no route ("451 4.4.4 Unreachable") and an unreadable message
 *             defers, a file that no longer checks is quarantined
 *             and forgotten, every host failing records Exchange's
 *             failover text (441 4.4.1 after connection errors) - all
 *             as relay_decide says;
 *  slots      with every connection slot taken, due messages wait in the
 *             blocked FIFO (expiring there if they must) and go as soon as
 *             a connection ends;
 *  shared     the jobs of a round borrow the message's bytes (one read,
 *             no copy per destination);
 *  recovery   100,000 recovered messages are scheduled in linear time
 *             (heap comparisons counted, never wall time), and taking the
 *             due ones costs O(log n) each, and a wrapped key (arrival
 *             near UINT64_MAX) neither makes it due nor hangs a run;
 *  stop       nothing is looked up or left waiting after the stop: a
 *             round whose read ends later, and jobs waiting for a slot,
 *             are deferred ("451 4.4.0 delivery interrupted by shutdown");
 *  inside     the client answering inside start and wake is safe.
 *
 * The seam (relay_qmgr_int.h): qmgr_new takes the SMTP client as a table;
 * here (qmgr_world.h, with the fixture and the clock) it is a fake that answers each job through the destination's
 * relay_dest_ops, as relay_smtpc.c does: later (from settle()), or with
 * fake.sync inside start and wake.  Queue files are real, in a temporary
 * queue directory; DSNs go through the real spool and commit thread and come
 * back to the queue manager as new messages, which the fake then sees.
 */
#include "qmgr_world.h"

/* ---- tests --------------------------------------------------------------- */

static void test_order(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    static const char *const ids[] = { "00000000000000A1", "00000000000000B2",
                                       "00000000000000C3" };
    static const uint64_t next[] = { T0 + 30000, T0 + 10000, T0 + 20000 };

    for (size_t i = 0; i < 3; i++) {
        char rec[64];

        snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)next[i]);
        put_msg(ids[i], T0 - 1000, "s@sender.test", "r@a.test", rec);
        qmgr_notify(q, ids[i]);
    }
    settle(q);
    assert_int_equal(fake.natt, 0);                     /* nothing is due yet */
    assert_int_equal(q->wake_ms, T0 + 10000);           /* armed for the earliest */
    tick(q, T0 + 10000);
    assert_int_equal(fake.natt, 1);
    assert_string_equal(fake.att[0].id, ids[1]);
    assert_int_equal(q->wake_ms, T0 + 20000);
    assert_false(file_exists(ids[1]));                  /* delivered, removed */
    tick(q, T0 + 19999);                                /* a spurious wake-up: nothing */
    assert_int_equal(fake.natt, 1);
    tick(q, T0 + 45000);                                /* both due: earliest first */
    assert_int_equal(fake.natt, 3);
    assert_string_equal(fake.att[1].id, ids[2]);
    assert_string_equal(fake.att[2].id, ids[0]);
    assert_null(q->msgs);
    assert_int_equal(q->wake_ms, 0);                    /* nothing left: timer off */
}

static void test_retry(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000001";
    struct relay_qmsg *m;
    uint64_t t = T0;

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    qmgr_notify(q, id);
    settle(q);
    /* transient_failure_retry_count = 2 rounds at 1m, then 10m. */
    static const uint64_t gaps[] = { MINUTE, MINUTE, 10 * MINUTE, 10 * MINUTE };

    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(fake.natt, i + 1);
        assert_int_equal(fake.att[i].at, t);
        assert_non_null(m = find_msg(q, id));
        assert_int_equal(m->next_ms, t + gaps[i]);
        assert_int_equal(q->wake_ms, t + gaps[i]);
        tick(q, t + gaps[i] - 1);                       /* not yet */
        assert_int_equal(fake.natt, i + 1);
        t += gaps[i];
        if (i == 3)
            break;
        tick(q, t);
    }
    assert_true(file_has(id, "rcpt 0 deferred"));
    /* A round that reaches no host: outbound_connection_failure_retry_interval. */
    fake.mode = FAKE_NO_CONNECT;
    tick(q, t);
    assert_int_equal(fake.natt, 5);
    assert_non_null(m = find_msg(q, id));
    assert_int_equal(m->next_ms, t + 30 * MINUTE);
    assert_true(file_has(id, "441 4.4.1 "));           /* Exchange's failover text */
    assert_true(file_has(id, "Connection refused"));
    fake.mode = FAKE_OK;
    tick(q, t + 30 * MINUTE);
    assert_int_equal(fake.natt, 6);
    assert_false(file_exists(id));
    assert_null(find_msg(q, id));
}

static void test_expiry(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000002";
    char rec[64];

    /* Next attempt after the expiry: the queue wakes at the expiry. */
    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + 5 * HOUR));
    put_msg(id, T0, "s@sender.test", "r@a.test r2@b.test", rec);
    fake.mode = FAKE_DEFER;
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(q->wake_ms, T0 + 2 * HOUR);
    tick(q, T0 + 2 * HOUR - 1);
    assert_non_null(find_msg(q, id));
    tick(q, T0 + 2 * HOUR);
    /* Both recipients failed in one failure DSN, delivered to the sender. */
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_false(file_exists(id));
    assert_null(find_msg(q, id));
    for (size_t i = 0; i < fake.natt; i++)
        assert_string_not_equal(fake.att[i].id, id);    /* never attempted */
}

/* RFC 8689 5: the failure DSN of a REQUIRETLS message is REQUIRETLS too
 * (and, as every DSN here, returns the header section only). */
static void test_requiretls_dsn(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000012";
    char path[300], buf[4096], *at;
    int fd;
    ssize_t n;

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    /* The receive side's line: before the sender. */
    fd = openat(relay_queue_dirfd(RELAY_QDIR_MESSAGES), id, O_RDWR);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    at = strstr(buf, "sender <");
    assert_non_null(at);
    snprintf(path, sizeof(path), "%.*srequiretls yes\n%s", (int)(at - buf), buf, at);
    assert_int_equal(pwrite(fd, path, strlen(path), 0), (ssize_t)strlen(path));
    close(fd);
    fake.mode = FAKE_REJECT;
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(count_dsns("s@sender.test"), 1);
    for (size_t i = 0; i < fake.natt; i++)
        assert_true(fake.att[i].requiretls);    /* the message, then its DSN */
}

/* RFC 8689 4.2.2: "TLS-Required: No" messages to an MX-routed domain get a
 * destination of their own (the one without MTA-STS); smart hosts do not
 * care. */
static void test_tls_required_no_destination(void **state)
{
    struct fx *fx = *state;
    struct config *cfg = policy_config_current();
    const struct cfg_send *mx = policy_route_select(cfg, "mx.test");
    const struct cfg_send *sh = policy_route_select(cfg, "a.test");
    struct relay_dest *d1, *d2;
    char *k1, *k2;

    assert_true(mx->dns_routing);
    assert_false(sh->dns_routing);
    k1 = qmgr_dest_key(mx, "mx.test", false);
    k2 = qmgr_dest_key(mx, "mx.test", true);
    assert_string_not_equal(k1, k2);
    free(k1);
    free(k2);
    k1 = qmgr_dest_key(sh, "a.test", false);
    k2 = qmgr_dest_key(sh, "a.test", true);
    assert_string_equal(k1, k2);
    free(k1);
    free(k2);
    d1 = qmgr_dest_get(fx->q, cfg, mx, "mx.test", false);
    d2 = qmgr_dest_get(fx->q, cfg, mx, "mx.test", true);
    assert_ptr_not_equal(d1, d2);
    assert_false(d1->tls_required_no);
    assert_true(d2->tls_required_no);
    assert_ptr_equal(qmgr_dest_get(fx->q, cfg, mx, "mx.test", true), d2);
    qmgr_dest_free(fx->q, d2);
    qmgr_dest_free(fx->q, d1);
    policy_config_unref(cfg);
}

/* A reload that shortens message_expiration_timeout wakes the queue manager,
 * which re-keys its messages at once instead of at its next timer. */
static void test_reload_rekeys_now(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000012";
    char rec[64];

    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + 5 * HOUR));
    put_msg(id, T0, "s@sender.test", "r@a.test", rec);
    fake.mode = FAKE_DEFER;
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(q->wake_ms, T0 + 2 * HOUR);
    policy_config_swap(fx_config(fx, "message_expiration_timeout = 1h\n"));
    qmgr_request_reload(q);
    settle(q);                          /* runs the wake: no timer, no tick */
    assert_int_equal(q->wake_ms, T0 + HOUR);
}

static void test_expiry_null_sender(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000003";

    /* Expired at load (a restart after a long stop): failed without an
     * attempt, and no DSN about a DSN. */
    put_msg(id, T0 - 3 * HOUR, "", "r@a.test", "");
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(fake.natt, 0);
    assert_false(file_exists(id));
    assert_null(find_msg(q, id));
}

static void test_expiry_text(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000004";
    size_t dsn = SIZE_MAX;

    /* One recipient delivered before, the other expires: the DSN reports
     * it with Exchange's text. */
    put_msg(id, T0 - 3 * HOUR, "s@sender.test", "done@a.test r@a.test",
            "rcpt 0 delivered 1 1 250 ok\n");
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(count_dsns("s@sender.test"), 1);
    for (size_t i = 0; i < fake.natt; i++)
        if (fake.att[i].sender[0] == '\0')
            dsn = i;
    assert_true(dsn != SIZE_MAX);
    assert_true(fake.att[dsn].expired);
    assert_false(file_exists(id));
}

static void test_delay_dsn(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000005";
    uint64_t t = T0 + HOUR;

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    fake.now = t;                                       /* delay_notification_timeout passed */
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_true(file_has(id, "\ndelay "));
    for (int round = 0; round < 3; round++) {           /* more rounds: no second DSN */
        t = find_msg(q, id)->next_ms;
        tick(q, t);
    }
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_non_null(find_msg(q, id));
}

static void test_no_delay_dsn_early(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000006";

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    fake.now = T0 + HOUR - 1;
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(count_dsns("s@sender.test"), 0);
    assert_false(file_has(id, "\ndelay "));
}

static void test_unreachable_and_unreadable(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000008", *gone = "0000000000000009";
    struct relay_qmsg *m;
    char path[160];

    /* No send connector covers the domain: Exchange's Unreachable, deferred
     * (a reload may add one), never attempted. */
    put_msg(id, T0, "s@sender.test", "r@nowhere.test", "");
    /* A file that cannot be read when its round starts. */
    put_msg(gone, T0, "s@sender.test", "r@a.test", "next 1795341600000\n");  /* T0 */
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(fake.natt, 0);
    assert_true(file_has(id, "rcpt 0 deferred"));
    assert_true(file_has(id, "451 4.4.4 Unreachable"));
    assert_non_null(m = find_msg(q, id));
    assert_int_equal(m->next_ms, T0 + MINUTE);
    assert_int_equal(m->rcpts[0].state, RELAY_R_PENDING);
    /* Loaded, then its bytes vanish (a damaged disk, or a hand): the round
     * notices that the file no longer checks, quarantines it to corrupt/
     * and forgets the message - never retried from memory (issue 13). */
    qmgr_notify(q, gone);
    fake.now = T0 - 1;
    settle(q);
    assert_non_null(m = find_msg(q, gone));
    snprintf(path, sizeof(path), "%s/queue/messages/%s", fx->dir, gone);
    assert_int_equal(truncate(path, 100), 0);           /* the bytes are gone */
    tick(q, T0);
    assert_int_equal(fake.natt, 0);
    assert_null(find_msg(q, gone));
    assert_false(file_exists(gone));
    snprintf(path, sizeof(path), "%s/queue/corrupt/%s", fx->dir, gone);
    assert_int_equal(access(path, F_OK), 0);            /* quarantined, not deleted */
    /* The unreachable one: its delay DSN, then its failure DSN at the expiry. */
    tick(q, T0 + HOUR);
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_true(file_has(id, "\ndelay "));
    tick(q, T0 + 2 * HOUR + 1000);
    assert_int_equal(count_dsns("s@sender.test"), 2);
    assert_false(file_exists(id));
}

static void test_waiting_for_a_slot(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *first = "000000000000000A", *second = "000000000000000B",
               *late = "000000000000000C";
    char rec[64];

    /* max_outbound_connections = 1, and the first message's connection
     * stays busy: what falls due meanwhile waits for the slot. */
    fake.hold = true;
    put_msg(first, T0, "s@sender.test", "r@a.test", "");
    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + 1000));
    put_msg(second, T0, "s@sender.test", "r@b.test", rec);
    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + 2000));
    put_msg(late, T0 - 2 * HOUR + 5000, "s@sender.test", "r@b.test", rec);
    qmgr_notify(q, first);
    qmgr_notify(q, second);
    qmgr_notify(q, late);
    settle(q);
    assert_int_equal(q->conns, 1);
    assert_int_equal(fake.npending, 1);
    tick(q, T0 + 2000);                                 /* both others due: no slot */
    assert_ptr_equal(q->blocked, find_msg(q, second));
    assert_ptr_equal(q->blocked->qnext, find_msg(q, late));
    assert_int_equal(q->wake_ms, T0 + 3000);            /* a look each second */
    /* The late one expires while it waits: failed without a slot. */
    tick(q, T0 + 5000);
    assert_null(find_msg(q, late));
    assert_ptr_equal(q->blocked, find_msg(q, second));
    /* The slot frees: the waiting message goes at once, no timer needed. */
    fake.hold = false;
    settle(q);
    assert_null(q->blocked);
    assert_null(find_msg(q, first));
    assert_null(find_msg(q, second));
    assert_string_equal(fake.att[0].id, first);
    assert_string_equal(fake.att[1].id, second);
    assert_int_equal(count_dsns("s@sender.test"), 1);   /* the late one's failure */
}

static void test_shared_bytes(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000007";

    put_msg(id, T0, "s@sender.test", "x@a.test y@b.test z@a.test", "");
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(fake.natt, 3);                     /* two connectors: two jobs */
    for (size_t i = 0; i < 3; i++) {
        assert_ptr_equal(fake.att[i].data, fake.att[0].data);   /* one buffer */
        assert_ptr_equal(fake.att[i].data, fake.att[i].msg_data);  /* the message's */
        assert_string_equal(fake.att[i].head, "Subject: test\r\n\r\nhello\r\n");
    }
    assert_false(file_exists(id));
}

static void test_arrival_far_future(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    struct relay_qmsg *m = xcalloc(1, sizeof(*m));

    /* A queue file's arrival near UINT64_MAX: arrival + expiration must not
     * wrap to a small key (due at once, again and again in one run, which
     * then never ends); it saturates, and the message waits for its next
     * attempt.  alarm: a hang fails the test instead of blocking it. */
    snprintf(m->id, sizeof(m->id), "00000000000000F1");
    m->sender = xstrdup("s@sender.test");
    m->arrival_ms = UINT64_MAX - 1000;
    m->next_ms = T0 + MINUTE;
    m->nrcpts = 1;
    m->rcpts = xcalloc(1, sizeof(*m->rcpts));
    m->rcpts[0].addr = xstrdup("r@a.test");
    alarm(10);
    qmgr_add(q, m);
    settle(q);
    alarm(0);
    assert_int_equal(q->examined, 0);                   /* not due: never looked at */
    assert_int_equal(m->heap_i, 1);
    assert_int_equal(m->due_ms, T0 + MINUTE);
    assert_int_equal(q->wake_ms, T0 + MINUTE);
    assert_null(q->due);
}

static void test_answers_inside_calls(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *first = "00000000000000E1", *second = "00000000000000E2",
               *third = "00000000000000E3", *fourth = "00000000000000E4";

    /* The SMTP client may report inside start and wake (relay_qmgr_int.h):
     * a round's jobs may come back while it hands them out, and a round
     * may end - its bytes freed - inside a kick of its destination.  One
     * connection slot (max_outbound_connections = 1). */
    fake.sync = true;
    put_msg(first, T0, "s@sender.test", "r@a.test", "");
    qmgr_notify(q, first);
    settle(q);
    assert_int_equal(fake.starts, 1);                   /* answered inside start */
    assert_int_equal(fake.natt, 1);
    assert_false(file_exists(first));
    assert_int_equal(fake.nidle, 1);                    /* the connection waits idle */
    assert_int_equal(q->conns, 1);
    put_msg(second, T0, "s@sender.test", "r@a.test", "");
    qmgr_notify(q, second);
    settle(q);
    assert_int_equal(fake.wakes, 1);                    /* answered inside wake */
    assert_int_equal(fake.starts, 1);
    assert_int_equal(fake.natt, 2);
    assert_false(file_exists(second));
    /* b.test: a.test's idle connection gives up the slot; b.test's job
     * starts from that connection's conn_gone and is rejected inside start,
     * so its round ends (DSN, bytes freed) inside the kick. */
    fake.mode = FAKE_REJECT;
    put_msg(third, T0, "s@sender.test", "r@b.test", "");
    qmgr_notify(q, third);
    settle(q);
    assert_string_equal(fake.att[2].rcpt, "r@b.test");
    assert_int_equal(count_dsns("s@sender.test"), 1);   /* through a.test again */
    assert_false(file_exists(third));
    /* Every address failing inside start (dest_failed). */
    fake.mode = FAKE_NO_CONNECT;
    put_msg(fourth, T0, "s@sender.test", "r@b.test x@b.test", "");
    qmgr_notify(q, fourth);
    settle(q);
    assert_non_null(find_msg(q, fourth));
    assert_int_equal(find_msg(q, fourth)->jobs, 0);
    assert_true(file_has(fourth, "rcpt 1 deferred"));
    assert_true(file_has(fourth, "441 4.4.1 "));
    print_message("inside start: %u, inside wake: %u\n", fake.starts, fake.wakes);
}

/* gate_work - a thread-pool work that holds the (one) pool thread until posted */

static void gate_work(uv_work_t *req)
{
    uv_sem_wait(req->data);
}

static void gate_done(uv_work_t *req, int status)
{
    (void)req;
    (void)status;
}

/* stop_during_read - stop q while the round of id (to rcpt) waits for its
 * bytes, until the resolver is closed; then let the read end.  The round's
 * recipient must be deferred by the stop: no lookup, no job left behind. */

static void stop_during_read(struct qmgr *q, const char *id, const char *rcpt)
{
    uv_work_t blocker;
    uv_sem_t gate;
    struct relay_qmsg *m;
    char rec[64];
    time_t deadline = time(NULL) + 20;

    snprintf(rec, sizeof(rec), "next %llu\n", (unsigned long long)(T0 + 1000));
    put_msg(id, T0, "s@sender.test", rcpt, rec);
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(uv_sem_init(&gate, 0), 0);
    blocker.data = &gate;
    assert_int_equal(uv_queue_work(&q->w.loop, &blocker, gate_work, gate_done), 0);
    fake.now = T0 + 1000;
    qmgr_sched_run(q);                  /* the round's read waits behind the blocker */
    assert_non_null(m = find_msg(q, id));
    assert_true(m->io);
    qmgr_request_stop(q);
    while (q->resolver != NULL) {       /* the stop closes the resolver */
        uv_run(&q->w.loop, UV_RUN_NOWAIT);
        assert_true(time(NULL) < deadline);     /* a hang, not a timing check */
        usleep(200);
    }
    uv_sem_post(&gate);                 /* the read ends after the stop */
    stop_and_drain(q);
    uv_sem_destroy(&gate);
    assert_int_equal(fake.natt, 0);
    assert_int_equal(m->jobs, 0);
    assert_false(m->io);
    assert_int_equal(m->rcpts[0].state, RELAY_R_PENDING);
    assert_string_equal(m->rcpts[0].last, "451 4.4.0 delivery interrupted by shutdown");
    assert_true(file_has(id, "interrupted by shutdown"));
    assert_null(q->dests);
}

static void test_stop_during_read_mx(void **state)
{
    struct fx *fx = *state;

    /* An MX-routed destination: no lookup on the closed resolver. */
    stop_during_read(fx->q, "00000000000000D1", "r@mx.test");
}

static void test_stop_during_read_literal(void **state)
{
    struct fx *fx = *state;

    /* A literal smart host needs no lookup: no job stranded, unstarted. */
    stop_during_read(fx->q, "00000000000000D2", "r@a.test");
}

static void test_stop_with_waiting_jobs(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "00000000000000D3";
    struct relay_qmsg *m;

    /* max_outbound_connections = 1: a.test's job has the slot (held), b.test's
     * waits for it.  The stop starts no connection: the waiting job comes
     * back deferred and the round ends when a.test's answer does. */
    fake.hold = true;
    put_msg(id, T0, "s@sender.test", "r@a.test r@b.test", "");
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(fake.npending, 1);
    assert_non_null(m = find_msg(q, id));
    assert_int_equal(m->jobs, 2);
    stop_and_drain(q);
    assert_int_equal(fake.natt, 1);
    assert_string_equal(fake.att[0].rcpt, "r@a.test");
    assert_int_equal(m->jobs, 0);
    assert_int_equal(m->rcpts[0].state, RELAY_R_DELIVERED);
    assert_int_equal(m->rcpts[1].state, RELAY_R_PENDING);
    assert_string_equal(m->rcpts[1].last, "451 4.4.0 delivery interrupted by shutdown");
    assert_true(file_has(id, "rcpt 1 deferred"));
    assert_null(q->dests);
}

/* lcg - a fixed pseudo-random sequence */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void test_recovery_linear(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    enum { N = 100000 };
    uint64_t seed = 42, cmps, keys_below = 0, horizon;
    struct relay_qmsg *m;

    /* A restart with a deferred queue: every message has its next attempt
     * in the future, in no particular order (as readdir returns them).
     * Each arrives as a loaded message does (qmgr_add, then scheduling). */
    for (size_t i = 0; i < N; i++) {
        m = xcalloc(1, sizeof(*m));
        snprintf(m->id, sizeof(m->id), "%016zX", i + 0x1000);
        m->sender = xstrdup("s@sender.test");
        m->arrival_ms = T0;
        m->next_ms = T0 + 1000 + lcg(&seed) % HOUR;
        m->nrcpts = 1;
        m->rcpts = xcalloc(1, sizeof(*m->rcpts));
        m->rcpts[0].addr = xstrdup("r@a.test");
        qmgr_add(q, m);
    }
    settle(q);
    assert_int_equal(q->examined, 0);                   /* nothing due: nothing looked at */
    assert_int_equal(q->heap.n, N);
    print_message("recovery of %d messages: %llu heap comparisons\n", N,
                  (unsigned long long)q->heap.cmps);
    assert_true(q->heap.cmps <= 3ULL * N);              /* linear (a rescan: N*N/2) */
    /* The timer is armed for the earliest. */
    horizon = q->heap.v[0]->due_ms;
    assert_int_equal(q->wake_ms, horizon);
    /* The K earliest become due: taking them costs O(log N) each.  Give
     * them queue files so their round runs for real. */
    for (m = q->msgs; m != NULL; m = m->next)
        if (m->next_ms < horizon + 2000)
            keys_below++;
    assert_true(keys_below > 0 && keys_below < 200);
    for (m = q->msgs; m != NULL; m = m->next)
        if (m->next_ms < horizon + 2000)
            put_msg(m->id, T0, "s@sender.test", "r@a.test", "");
    for (m = q->msgs; m != NULL; m = m->next)
        if (m->next_ms < horizon + 2000) {
            struct relay_qmsg *l;
            const char *why;

            assert_int_equal(relay_qmsg_load(relay_queue_dirfd(RELAY_QDIR_MESSAGES), m->id,
                                             &l, &why), 0);
            m->data_off = l->data_off;
            m->data_len = l->data_len;
            relay_qmsg_free(l);
        }
    cmps = q->heap.cmps;
    tick(q, horizon + 2000 - 1);
    assert_int_equal(q->examined, keys_below);
    assert_int_equal(fake.natt, keys_below);
    print_message("taking the %llu due: %llu heap comparisons\n",
                  (unsigned long long)keys_below, (unsigned long long)(q->heap.cmps - cmps));
    assert_true(q->heap.cmps - cmps <= keys_below * 2 * 18);    /* 2 log2 N each */
    assert_int_equal(q->heap.n, N - keys_below);
}

int main(void)
{
    /* One pool thread: reads end in the order they were asked, so the order
     * the fake sees is the order the scheduler dispatched. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retry, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reload_rekeys_now, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_null_sender, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_text, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delay_dsn, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_delay_dsn_early, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_and_unreadable, fx_default,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_for_a_slot, fx_one_conn, fx_teardown),
        cmocka_unit_test_setup_teardown(test_shared_bytes, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_linear, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_arrival_far_future, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_read_mx, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_requiretls_dsn, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tls_required_no_destination, fx_default,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_read_literal, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_waiting_jobs, fx_one_conn, fx_teardown),
        cmocka_unit_test_setup_teardown(test_answers_inside_calls, fx_one_conn, fx_teardown),
    };

    if (getenv("QMGR_TEST") != NULL)    /* one test (a pattern), e.g. to debug it */
        cmocka_set_test_filter(getenv("QMGR_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
