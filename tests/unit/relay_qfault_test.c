/*
 * relay_qfault_test.c - the queue manager when a queue file cannot be
 * opened for a while (no descriptor left: EMFILE, forced by lowering
 * RLIMIT_NOFILE to the lowest free descriptor, which works as root too),
 * on the fake world of qmgr_world.h:
 *
 *  round      the read at a round's start fails: the message is kept,
 *             not quarantined, deferred, and delivered once files open;
 *  dsn        the read for an expiry DSN fails: no DSN without its file,
 *             the message kept; once files open, exactly one DSN.
 */
#include <sys/resource.h>

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

static int setup(void **state)
{
    return fx_default(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_read_fails, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dsn_read_fails, setup, fx_teardown),
    };

    (void)fx_one_conn;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
