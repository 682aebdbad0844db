/*
 * relay_qfault_test.c - the queue manager when a queue file cannot be
 * opened for a while (no descriptor left: EMFILE, forced by lowering
 * RLIMIT_NOFILE to the lowest free descriptor, which works as root too),
 * on the fake world of qmgr_world.h:
 *
 *  round      the read at a round's start fails: the message is kept,
 *             not quarantined, deferred, and delivered once files open;
 *  dsn        the read for an expiry DSN fails: no DSN without its file,
 *             the message kept; once files open, exactly one DSN;
 *  admin      a hold, release or delete --bounce whose record cannot be
 *             written answers RELAY_ADMIN_IO and changes nothing in
 *             memory (nor on disk); the same request then succeeds;
 *  torn       after such a failure on a file whose last line a crash
 *             tore, the round's own record still ends that line first;
 *  some fail  a change of several messages, one write failing: the others
 *             changed, the answer says both counts and the failed id; a
 *             busy message's file removed meanwhile is gone, not failed;
 *  dsns       delete --bounce counts a DSN only when one will be sent;
 *  delete     a delete --bounce whose DSN cannot be queued tries again in
 *             10 s, not at once (a busy loop).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include "qmgr_world.h"

static struct rlimit saved_nofile;

/* no_fds - from now on every open fails with EMFILE */

static void no_fds(void)
{
    struct rlimit lim;
    int fd = dup(0);

    assert_true(fd >= 0);
    close(fd);                          /* the lowest free descriptor */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    lim = saved_nofile;
    lim.rlim_cur = (rlim_t)fd;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    assert_int_equal(dup(0), -1);
    assert_int_equal(errno, EMFILE);
}

static void fds_back(void)
{
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
}

static bool corrupt_has(const char *id)
{
    return faccessat(relay_queue_dirfd(RELAY_QDIR_CORRUPT), id, F_OK, 0) == 0;
}

static size_t attempts_of(const char *id)
{
    size_t n = 0;

    for (size_t i = 0; i < fake.natt; i++)
        n += strcmp(fake.att[i].id, id) == 0;
    return n;
}

/* deferred - a queued message tried once and deferred (next T0+1m) */

static void deferred(struct qmgr *q, const char *id)
{
    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    qmgr_notify(q, id);
    settle(q);
    assert_int_equal(attempts_of(id), 1);
}

/* The read at a round's start fails: kept (was: quarantined, BADMAIL). */
static void test_round_read_fails(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000901";

    deferred(q, id);
    no_fds();
    tick(q, T0 + MINUTE);
    fds_back();
    assert_int_equal(attempts_of(id), 1);       /* the read did fail */
    assert_non_null(find_msg(q, id));
    assert_true(file_exists(id));
    assert_false(corrupt_has(id));
    fake.mode = FAKE_OK;
    tick(q, T0 + 20 * MINUTE);
    assert_int_equal(attempts_of(id), 2);
    assert_null(find_msg(q, id));
    assert_false(file_exists(id));
    assert_false(corrupt_has(id));
}

/* The read for an expiry DSN fails: no DSN yet, kept; then one DSN. */
static void test_dsn_read_fails(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000902";

    deferred(q, id);
    no_fds();
    tick(q, T0 + 2 * HOUR + MINUTE);    /* expired: a failure DSN is due */
    fds_back();
    assert_int_equal(count_dsns("s@sender.test"), 0);
    assert_non_null(find_msg(q, id));
    assert_true(file_exists(id));
    assert_false(corrupt_has(id));
    assert_false(file_has(id, "rcpt 0 failed"));
    tick(q, T0 + 2 * HOUR + 2 * MINUTE);
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_null(find_msg(q, id));
    assert_false(file_exists(id));
    assert_false(corrupt_has(id));
    tick(q, T0 + 3 * HOUR);
    assert_int_equal(count_dsns("s@sender.test"), 1);
}

/* A delete --bounce whose round's end cannot queue its DSN (nor read the
 * file again) waits 10 s between tries (was: tried again at once, a busy
 * loop as long as the error lasted); then exactly one DSN. */
static void test_delete_dsn_fails_waits(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000910";
    struct relay_admin_req *req = admin_req_id(RELAY_ADMIN_DELETE, id);

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    fake.hold = true;                   /* in flight until fake_run */
    qmgr_notify(q, id);
    settle(q);
    req->bounce = true;
    admin_run(q, req);
    assert_int_equal(req->pending, 1);
    relay_admin_req_free(req);
    no_fds();
    fake.hold = false;
    settle(q);                          /* a busy loop would never settle */
    fds_back();
    assert_int_equal(count_dsns("s@sender.test"), 0);
    assert_non_null(find_msg(q, id));
    assert_true(file_exists(id));
    tick(q, T0 + 11000);
    assert_int_equal(count_dsns("s@sender.test"), 1);
    assert_null(find_msg(q, id));
    assert_false(file_exists(id));
}

/* admin_fails - req's record cannot be written: IO, nothing changed */

static void admin_fails(struct qmgr *q, enum relay_admin_op op, const char *id, bool bounce)
{
    struct relay_admin_req *req = admin_req_id(op, id);
    struct relay_qmsg *m = find_msg(q, id);
    uint64_t held = m->held_ms, next = m->next_ms;
    unsigned rounds = m->rounds;

    req->bounce = bounce;
    no_fds();
    admin_run(q, req);
    fds_back();
    assert_int_equal(req->status, RELAY_ADMIN_IO);
    assert_non_null(req->why);
    assert_int_equal(req->changed, 0);
    relay_admin_req_free(req);
    assert_ptr_equal(find_msg(q, id), m);
    assert_int_equal(m->held_ms, held);
    assert_int_equal(m->next_ms, next);
    assert_int_equal(m->rounds, rounds);
    assert_false(m->delete_pending);
    assert_false(m->io);
    assert_true(held != 0 ? q->held == m : m->heap_i != 0);    /* in its place */
    assert_false(file_has(id, op == RELAY_ADMIN_HOLD ? "\nhold " : op == RELAY_ADMIN_RELEASE
                          ? "\nrelease " : "\ndelete "));
}

static void admin_works(struct qmgr *q, enum relay_admin_op op, const char *id, bool bounce)
{
    struct relay_admin_req *req = admin_req_id(op, id);

    req->bounce = bounce;
    admin_run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->changed, 1);
    relay_admin_req_free(req);
}

/* A crash tore the file's last line; a hold whose write fails must leave
 * the round's writer to end it (was: cleared m->torn before the write, so
 * the round's record was glued to the torn line and lost at the next load). */
static void test_torn_after_failed_admin(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000904", *why = NULL;
    struct relay_qmsg *m;

    put_msg(id, T0, "s@sender.test", "r@a.test", "next 1795341660000\nrcpt 0 def");
    qmgr_notify(q, id);
    settle(q);
    assert_non_null(m = find_msg(q, id));
    assert_true(m->torn);
    admin_fails(q, RELAY_ADMIN_HOLD, id, false);
    assert_true(m->torn);
    fake.mode = FAKE_DEFER;
    tick(q, T0 + MINUTE);
    assert_int_equal(attempts_of(id), 1);
    assert_int_equal(relay_qmsg_load(relay_queue_dirfd(RELAY_QDIR_MESSAGES), id, &m, &why), 0);
    assert_int_equal(m->rcpts[0].attempts, 1);  /* the round's record was read */
    assert_int_equal(m->rcpts[0].state, RELAY_R_PENDING);
    assert_string_equal(m->rcpts[0].last, "451 4.3.0 try later");
    relay_qmsg_free(m);
}

static void test_admin_write_fails(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000903";

    deferred(q, id);
    admin_fails(q, RELAY_ADMIN_HOLD, id, false);
    admin_works(q, RELAY_ADMIN_HOLD, id, false);
    assert_int_equal(find_msg(q, id)->held_ms, T0);
    admin_fails(q, RELAY_ADMIN_RELEASE, id, false);
    admin_works(q, RELAY_ADMIN_RELEASE, id, false);
    assert_int_equal(find_msg(q, id)->held_ms, 0);
    settle(q);
    admin_fails(q, RELAY_ADMIN_DELETE, id, true);
    assert_int_equal(count_dsns("s@sender.test"), 0);
    admin_works(q, RELAY_ADMIN_DELETE, id, true);
    settle(q);
    assert_null(find_msg(q, id));
    assert_false(file_exists(id));
    assert_int_equal(count_dsns("s@sender.test"), 1);
}

/* hold --all: one file cannot be written (a directory stands in its
 * place: EISDIR), the other is held.  Answered IO with both counts and
 * the failed id (was: IO alone, as if nothing had changed). */
static void test_admin_some_fail(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *ok = "0000000000000905", *bad = "0000000000000906";
    struct relay_admin_req *req = relay_admin_req_new(RELAY_ADMIN_HOLD);
    char path[160];

    deferred(q, ok);
    deferred(q, bad);
    snprintf(path, sizeof(path), "%s/queue/messages/%s", fx->dir, bad);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    req->sel.all = true;
    admin_run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_IO);
    assert_int_equal(req->matched, 2);
    assert_int_equal(req->changed, 1);
    assert_int_equal(req->failed, 1);
    assert_non_null(strstr(req->why, bad));
    assert_null(strstr(req->why, ok));
    relay_admin_req_free(req);
    assert_int_equal(find_msg(q, ok)->held_ms, T0);
    assert_int_equal(find_msg(q, bad)->held_ms, 0);
    assert_int_equal(rmdir(path), 0);
}

/* A busy message whose file is removed before the hold is written: gone,
 * not a failure (was: IO); its round then forgets it. */
static void test_admin_busy_gone(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000907";
    struct relay_admin_req *req = admin_req_id(RELAY_ADMIN_HOLD, id);
    char path[160];

    put_msg(id, T0, "s@sender.test", "r@a.test", "");
    fake.mode = FAKE_DEFER;
    fake.hold = true;                   /* in flight until fake_run */
    qmgr_notify(q, id);
    settle(q);
    assert_true(find_msg(q, id)->jobs > 0);
    snprintf(path, sizeof(path), "%s/queue/messages/%s", fx->dir, id);
    assert_int_equal(unlink(path), 0);
    admin_run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->gone, 1);
    assert_int_equal(req->changed, 0);
    assert_int_equal(req->failed, 0);
    relay_admin_req_free(req);
    fake.hold = false;
    settle(q);
    assert_null(find_msg(q, id));
}

/* delete --bounce counts a DSN only if one is sent: a held message whose
 * recipients are all final gets none (was: counted whenever the sender
 * was not <>). */
static void test_delete_bounce_counts(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000908", *sent = "0000000000000909";
    struct relay_admin_req *req;

    put_msg(id, T0, "s@sender.test", "r@a.test",
            "rcpt 0 delivered 1795341600000 1 250 ok\nhold 1795341600000 0\n");
    qmgr_notify(q, id);
    settle(q);
    assert_non_null(find_msg(q, id));
    req = admin_req_id(RELAY_ADMIN_DELETE, id);
    req->bounce = true;
    admin_run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->changed, 1);
    assert_int_equal(req->dsns, 0);
    relay_admin_req_free(req);
    settle(q);
    assert_null(find_msg(q, id));
    assert_int_equal(count_dsns("s@sender.test"), 0);
    deferred(q, sent);                  /* a pending recipient: one DSN, counted */
    req = admin_req_id(RELAY_ADMIN_DELETE, sent);
    req->bounce = true;
    admin_run(q, req);
    assert_int_equal(req->dsns, 1);
    relay_admin_req_free(req);
    settle(q);
    assert_int_equal(count_dsns("s@sender.test"), 1);
}

static int setup(void **state)
{
    return fx_default(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_read_fails, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dsn_read_fails, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_write_fails, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_after_failed_admin, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_some_fail, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_busy_gone, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_bounce_counts, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_dsn_fails_waits, setup, fx_teardown),
    };

    (void)fx_one_conn;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
