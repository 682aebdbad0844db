/*
 * log_dir_test.c - the log directory side of the writer (log_dir.c) when
 * the service user has taken the names of a day's files (issue 15): more
 * than LOG_DIR_TAKEN_MAX names taken still leaves the log written, with a
 * warning per name for the first 100 and one line for the rest, not
 * repeated at the next buffer; and over size rotations each taken name is
 * warned once, a hard-linked first file included, and none at a restart.
 * (Single taken names, as root with the daemon: test_privileges.py.)
 */
#define LOG_TEST_NAME "log_dir_test"
#include "log_proto_test_util.h"

#define TAKEN_MAX 100                   /* LOG_DIR_TAKEN_MAX in log_dir.c */

/* plant_link - the receive log's directory made, RECV20261122-N.LOG a dangling link */

static void plant_link(unsigned n)
{
    char path[512], name[64];

    snprintf(path, sizeof(path), "%s/ProtocolLog", tmpdir);
    mkdir(path, 0750);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpReceive", tmpdir);
    mkdir(path, 0750);
    snprintf(name, sizeof(name), "RECV20261122-%u.LOG", n);
    recv_path(path, sizeof(path), name);
    assert_int_equal(symlink("/nonexistent/root-only", path), 0);
}

/* warned - how many times err names file RECV20261122-N.LOG as taken */

static int warned(const char *err, unsigned n)
{
    char want[128];

    snprintf(want, sizeof(want), "file=RECV20261122-%u.LOG kind=", n);
    return count_str(err, want);
}

/* test_taken_past_limit - 150 names taken: the log goes to -151; 100
 * warnings and one line for the rest, none again for the next buffer */

static void test_taken_past_limit(void **state)
{
    char cap[] = "/tmp/log_dir_err.XXXXXX", path[512], *err, *f;
    struct log_proto *lp;
    struct log_proto_session s;
    struct log_file_stats st;
    int saved;

    for (unsigned n = 1; n <= 150; n++)
        plant_link(n);
    saved = capture_begin(cap);
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 3600000);
    log_proto_session_init(&s, lp, "MAIL\\Inet", SID_RECV);
    log_proto_connect(&s);
    log_proto_flush(lp);
    log_proto_info(&s, "second buffer", NULL);
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    log_proto_close(lp);
    err = capture_end(saved, cap);
    recv_path(path, sizeof(path), "RECV20261122-151.LOG");
    f = slurp(path, NULL);
    print_message("150 names taken: %d warnings, %d summary lines, %llu rows written, "
                  "%llu dropped\n", count_str(err, "warning logs log file name taken dir="),
                  count_str(err, "warning logs log file names taken dir="),
                  (unsigned long long)st.rows_written, (unsigned long long)st.rows_dropped);
    assert_int_equal(st.rows_dropped, 0);
    assert_int_equal(st.rows_written, 2);
    assert_non_null(f);
    assert_non_null(strstr(f, "second buffer"));
    assert_int_equal(count_str(err, "warning logs log file name taken dir="), TAKEN_MAX);
    assert_int_equal(warned(err, 1), 1);
    assert_int_equal(warned(err, TAKEN_MAX), 1);
    assert_int_equal(warned(err, TAKEN_MAX + 1), 0);
    assert_int_equal(count_str(err, "warning logs log file names taken dir="), 1);
    assert_non_null(strstr(err, " day=20261122: more than 100"));
    assert_null(strstr(err, "error logs"));
    free(f);
    free(err);
}

/* test_taken_once - names taken among the instances a size limit makes
 * (-1 a hard link to root's file, the others links): each warned once,
 * the rows in the instances between them; a restart warns nothing */

static void test_taken_once(void **state)
{
    static const unsigned taken[] = { 3, 4, 6 };
    char cap[] = "/tmp/log_dir_err.XXXXXX", path[512], secret[512], *err;
    struct log_proto *lp;
    struct log_proto_session s;
    struct log_file_stats st;
    struct stat sb;
    int saved, files = 0;

    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
        plant_link(taken[i]);
    snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
    put("secret", "root's\n");
    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    assert_int_equal(link(secret, path), 0);
    saved = capture_begin(cap);
    lp = open_writer(LOG_PROTO_RECEIVE, 600, 0, 0, 3600000);
    log_proto_session_init(&s, lp, "MAIL\\Inet", SID_RECV);
    for (int i = 0; i < 40; i++) {
        log_proto_info(&s, "a row of some length, to fill the file", NULL);
        log_proto_flush(lp);            /* a buffer, and so an open, each */
    }
    log_proto_stats(lp, &st);
    log_proto_close(lp);
    /* A second writer (a restart) continues the top file, warning nothing. */
    lp = open_writer(LOG_PROTO_RECEIVE, 600, 0, 0, 3600000);
    log_proto_session_init(&s, lp, "MAIL\\Inet", SID_RECV);
    log_proto_info(&s, "after the restart", NULL);
    log_proto_close(lp);
    err = capture_end(saved, cap);
    assert_int_equal(st.rows_dropped, 0);
    assert_int_equal(st.rows_written, 40);
    for (unsigned n = 1; n <= 8; n++)
        assert_int_equal(warned(err, n), n == 1 || n == 3 || n == 4 || n == 6 ? 1 : 0);
    assert_int_equal(count_str(err, "warning logs log file name taken dir="), 4);
    assert_non_null(strstr(err, "file=RECV20261122-1.LOG kind=hard-linked file:"));
    for (unsigned n = 1; n < 100; n++) {
        char name[64];

        snprintf(name, sizeof(name), "RECV20261122-%u.LOG", n);
        recv_path(path, sizeof(path), name);
        files += lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 1;
    }
    assert_true(files >= 5);            /* 40 rows of ~100 bytes, 600 a file */
    assert_int_equal(stat(secret, &sb), 0);
    assert_int_equal(sb.st_size, 7);    /* nothing written through the hard link */
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_taken_past_limit, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_taken_once, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
