/*
 * log_read_test.c - the streaming log reader: the golden files (counts,
 * quoting and `\r`/`\n` escapes), files given out of order, a time range
 * (rows and whole files skipped by the date in their names), a truncated
 * last row from a crash, a file with a BOM and a header but no rows, bad
 * rows, a line longer than the read size, a round trip through the
 * protocol log writer, the time argument parser, and log names that are
 * not regular files (a link to another file, a FIFO, a directory:
 * skipped and counted, never read nor blocked on), a file or directory
 * swapped for a link after the walk (never read through), links in the
 * path named (followed only from a directory no one else may write), and
 * files named one by one (one descriptor for their directory).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_proto.h"
#include "log_read.h"

#define HDR_RECV "\xEF\xBB\xBF#Software: domsec\r\n#Version: 0.1.0\r\n#Log-type: SMTP Receive Protocol Log\r\n" \
    "#Date: 2026-11-22T08:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number," \
    "local-endpoint,remote-endpoint,event,data,context\r\n"

#define LOG_TEST_NAME "log_read_test"
#include "log_test_util.h"

/* row_text - a protocol row with a given time and session */

static char *row_text(char *buf, size_t n, const char *ts, const char *sid, int seq, const char *data)
{
    snprintf(buf, n, "%s,MAIL\\Inet,%s,%d,192.0.2.10:25,198.51.100.7:49152,<,%s,\r\n", ts, sid, seq, data);
    return buf;
}

static const char *golden_dir(void)
{
    static char dir[512];
    char *s;

    snprintf(dir, sizeof(dir), "%s", __FILE__);
    s = strstr(dir, "/unit/");
    assert_non_null(s);
    strcpy(s, "/golden");
    return dir;
}

static void test_golden(void **state)
{
    struct log_reader *r = log_reader_new(NULL);
    struct log_row row;
    struct log_read_stats st;
    unsigned n[LOG_READ_NKINDS] = { 0 };
    bool saw_odd = false, saw_fail = false;

    assert_int_equal(log_reader_add(r, golden_dir()), 0);
    while (log_reader_next(r, &row) == 1) {
        n[row.kind]++;
        if (row.kind == LOG_READ_RECV && log_field_prefix(&row.f[LOG_P_DATA], "X-Odd")) {
            /* "X-Odd: a\nb\rc ""d"", e" */
            assert_true(log_field_eq(&row.f[LOG_P_DATA], "X-Odd: a\\nb\\rc \"d\", e"));
            assert_null(row.line);
            log_field_unescape(&row.f[LOG_P_DATA]);
            assert_true(log_field_eq(&row.f[LOG_P_DATA], "X-Odd: a\nb\rc \"d\", e"));
            assert_int_equal(row.f[LOG_P_CONTEXT].len, 0);
            saw_odd = true;
        }
        if (row.kind == LOG_READ_TRACK && log_field_eq(&row.f[LOG_T_EVENT], "FAIL")) {
            assert_true(log_field_eq(&row.f[LOG_T_RECIPIENTS], "'\"dave;x\"@fabrikam.com';'o''neil@fabrikam.com'"));
            assert_true(log_field_eq(&row.f[LOG_T_DIRECTION], "Originating"));
            saw_fail = true;
        }
        if (row.line != NULL)
            assert_int_equal(row.line[0], '2');
    }
    assert_true(saw_odd);
    assert_true(saw_fail);
    assert_int_equal(n[LOG_READ_RECV], 39);
    assert_int_equal(n[LOG_READ_SEND], 38);
    assert_int_equal(n[LOG_READ_TRACK], 6);
    log_reader_stats(r, &st);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.rows_bad, 0);
    assert_int_equal(st.rows_truncated, 0);
    log_reader_free(r);
}

static void test_order(void **state)
{
    char b[4][256], whole[1024];
    struct log_reader *r = log_reader_new(NULL);
    struct log_row row;
    char seen[8][32];
    int n = 0;

    /* Written in a shuffled order; N compares as a number (10 after 2). */
    row_text(b[0], 256, "2026-11-23T00:00:01.000Z", "0000000000000004", 0, "d");
    snprintf(whole, sizeof(whole), "%s%s", HDR_RECV, b[0]);
    put("RECV20261123-1.LOG", whole);
    put("RECV20261122-10.LOG", row_text(b[1], 256, "2026-11-22T09:00:00.000Z", "0000000000000003", 0, "c"));
    put("RECV20261122-2.LOG", row_text(b[2], 256, "2026-11-22T08:30:00.000Z", "0000000000000002", 0, "b"));
    put("RECV20261122-1.LOG", row_text(b[3], 256, "2026-11-22T08:00:00.000Z", "0000000000000001", 0, "a"));
    put("notes.txt", "not a log\r\n");
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1)
        log_field_copy(&row.f[LOG_P_DATA], seen[n++], sizeof(seen[0]));
    assert_int_equal(n, 4);
    assert_string_equal(seen[0], "a");
    assert_string_equal(seen[1], "b");
    assert_string_equal(seen[2], "c");
    assert_string_equal(seen[3], "d");
    /* A second pass gives the same rows. */
    log_reader_rewind(r);
    n = 0;
    while (log_reader_next(r, &row) == 1)
        n++;
    assert_int_equal(n, 4);
    log_reader_free(r);
}

static void test_time_range(void **state)
{
    char b[3][256], all[1024];
    struct log_row row;
    struct log_read_stats st;
    int n = 0;

    snprintf(all, sizeof(all), "%s%s%s", HDR_RECV,
             row_text(b[0], 256, "2026-11-21T23:59:59.990Z", "0000000000000001", 0, "late"),
             row_text(b[1], 256, "2026-11-22T10:00:00.000Z", "0000000000000001", 1, "ten"));
    put("RECV20261122-1.LOG", all);
    snprintf(all, sizeof(all), "%s%s", HDR_RECV,
             row_text(b[2], 256, "2026-11-20T10:00:00.000Z", "0000000000000009", 0, "old"));
    put("RECV20261120-1.LOG", all);
    put("RECV20261125-1.LOG", "garbage that must not even be opened\r\n");

    /* --from 2026-11-22 --to 2026-11-22T10: "ten" only; the 20th and 25th skipped unopened. */
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ .from = "2026-11-22",
                                                                  .to = "2026-11-22T10" });
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1) {
        assert_true(log_field_eq(&row.f[LOG_P_DATA], "ten"));
        n++;
    }
    assert_int_equal(n, 1);
    log_reader_stats(r, &st);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.files_skipped, 2);
    log_reader_free(r);

    /* --to 2026-11-21: the row of the 21st, written at the top of the 22nd's file. */
    r = log_reader_new(&(struct log_read_opts){ .from = "2026-11-21T23:59", .to = "2026-11-21" });
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    n = 0;
    while (log_reader_next(r, &row) == 1) {
        assert_true(log_field_eq(&row.f[LOG_P_DATA], "late"));
        n++;
    }
    assert_int_equal(n, 1);
    log_reader_free(r);
}

static void test_truncated_and_empty(void **state)
{
    char b[2][256], all[1024];
    struct log_reader *r = log_reader_new(NULL);
    struct log_row row;
    struct log_read_stats st;
    int n = 0;

    snprintf(all, sizeof(all), "%s%s%s", HDR_RECV,
             row_text(b[0], 256, "2026-11-22T08:00:00.000Z", "0000000000000001", 0, "whole"),
             "2026-11-22T08:00:00.001Z,MAIL\\Inet,0000000000000001,1,192.0.2.10:25,198.5");
    put("RECV20261122-1.LOG", all);
    put("RECV20261122-2.LOG", HDR_RECV);                           /* BOM and header only */
    put("SEND20261122-1.LOG", "\xEF\xBB\xBF");                      /* just a BOM */
    put("RECV20261122-3.LOG",
        "2026-11-22T08:00:02.000Z,c,0000000000000002,0,l,r,*,\"a,b\",\"un\"terminated\r\n"
        "2026-11-22T08:00:02.000Z,c,0000000000000002,1,l,r,*,too,many,fields\r\n"
        "2026-11-22T08:00:02.000Z,c,0000000000000002,2,l,r,*,\"x\"\"y\",\r\n");
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1) {
        n++;
        if (n == 2)
            assert_true(log_field_eq(&row.f[LOG_P_DATA], "x\"y"));
    }
    assert_int_equal(n, 2);
    log_reader_stats(r, &st);
    assert_int_equal(st.rows_truncated, 1);
    assert_int_equal(st.rows_bad, 2);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.files, 4);
    log_reader_free(r);
}

/* test_not_regular - a link, a FIFO, a directory under a log name: skipped, reported, no hang */

static void test_not_regular(void **state)
{
    char b[256], path[1024], target[1024];
    struct log_reader *r = log_reader_new(NULL);
    struct log_row row;
    struct log_read_stats st;
    int n = 0;

    snprintf(target, sizeof(target), "%s.secret", tmpdir);
    {
        FILE *f = fopen(target, "w");

        assert_non_null(f);
        fprintf(f, "%s%s", HDR_RECV, row_text(b, sizeof(b), "2026-11-22T08:00:01.000Z",
                                              "0000000000000009", 0, "secret"));
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s%s", HDR_RECV, row_text(b, sizeof(b),
             "2026-11-22T08:00:00.000Z", "0000000000000001", 0, "mine"));
    put("RECV20261122-1.LOG", path);
    snprintf(path, sizeof(path), "%s/RECV20261122-2.LOG", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/RECV20261122-3.LOG", tmpdir);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/RECV20261122-4.LOG", tmpdir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1) {
        n++;
        assert_true(log_field_eq(&row.f[LOG_P_DATA], "mine"));
    }
    assert_int_equal(n, 1);
    log_reader_stats(r, &st);
    assert_int_equal(st.errors, 3);
    log_reader_free(r);
    unlink(target);
}

/* put_row - tmpdir/name: a receive log with one row whose data is data */

static void put_row(const char *name, const char *data)
{
    char b[256], all[1024];

    snprintf(all, sizeof(all), "%s%s", HDR_RECV,
             row_text(b, sizeof(b), "2026-11-22T08:00:00.000Z", "0000000000000001", 0, data));
    put(name, all);
}

/* read_all - the rows' data, joined by ' ', into out; returns the count */

static int read_all(struct log_reader *r, char *out, size_t size)
{
    struct log_row row;
    char one[64];
    int n = 0;

    out[0] = '\0';
    while (log_reader_next(r, &row) == 1) {
        log_field_copy(&row.f[LOG_P_DATA], one, sizeof(one));
        snprintf(out + strlen(out), size - strlen(out), "%s%s", n++ ? " " : "", one);
    }
    return n;
}

/* test_swapped_after_walk - a log file replaced, after the walk, by a
 * symbolic link, or by a hard link to a file of another owner than the
 * directory's (as root: the secret is given to uid 65534), is not read
 * (issue 15); a hard link of the directory owner's own file is (a backup
 * made with cp -al or rsnapshot). */

static void test_swapped_after_walk(void **state)
{
    char target[300], path[300], got[256], cap[] = "/tmp/log_read_err.XXXXXX", *err;
    struct log_reader *r = log_reader_new(NULL);
    struct log_read_stats st;
    int saved, n;

    put_row("secret", "secret");        /* root's file, moved out of the walk */
    snprintf(path, sizeof(path), "%s/secret", tmpdir);
    snprintf(target, sizeof(target), "%s.secret", tmpdir);
    assert_int_equal(rename(path, target), 0);
    if (geteuid() == 0)
        assert_int_equal(chown(target, 65534, 65534), 0);
    put_row("RECV20261122-1.LOG", "mine");
    put_row("RECV20261122-2.LOG", "mine");
    put_row("RECV20261122-3.LOG", "mine too");
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    /* Between the walk and the reads, -1 becomes a link to the secret, -2 a
     * hard link. */
    snprintf(path, sizeof(path), "%s/RECV20261122-1.LOG", tmpdir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/RECV20261122-2.LOG", tmpdir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(link(target, path), 0);
    saved = capture_begin(cap);
    n = read_all(r, got, sizeof(got));
    err = capture_end(saved, cap);
    log_reader_stats(r, &st);
    assert_non_null(strstr(err, "RECV20261122-1.LOG: not a regular file, skipped"));
    if (geteuid() == 0) {
        assert_string_equal(got, "mine too");
        assert_int_equal(n, 1);
        assert_int_equal(st.errors, 2);
        assert_non_null(strstr(err, "RECV20261122-2.LOG: hard-linked file (2 links) not owned"
                                    " by its directory's owner, skipped"));
    } else {                            /* the same owner: a backup's hard link */
        assert_string_equal(got, "secret mine too");
        assert_int_equal(n, 2);
        assert_int_equal(st.errors, 1);
    }
    free(err);
    log_reader_free(r);
    unlink(target);
}

/* test_dir_swapped_after_walk - a directory replaced after the walk by a
 * link to another: the files are read from the directory walked */

static void test_dir_swapped_after_walk(void **state)
{
    char a[300], b[300], got[256];
    struct log_reader *r = log_reader_new(NULL);

    snprintf(a, sizeof(a), "%s/SmtpReceive", tmpdir);
    assert_int_equal(mkdir(a, 0700), 0);
    put_row("SmtpReceive/RECV20261122-1.LOG", "walked");
    snprintf(b, sizeof(b), "%s/planted", tmpdir);
    assert_int_equal(mkdir(b, 0700), 0);
    put_row("planted/RECV20261122-1.LOG", "planted");
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    snprintf(b, sizeof(b), "%s/SmtpReceive.old", tmpdir);
    assert_int_equal(rename(a, b), 0);
    assert_int_equal(symlink("planted", a), 0);
    assert_int_equal(read_all(r, got, sizeof(got)), 2);
    assert_string_equal(got, "walked planted");    /* planted/ itself was walked too */
    log_reader_free(r);
}

/* open_fds - how many descriptors this process has open */

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* test_named_files - files named one by one share their directory's
 * descriptor (a shell's RECV*.LOG), and freeing the reader closes it */

static void test_named_files(void **state)
{
    char path[300], got[256];
    int before = open_fds();
    struct log_reader *r = log_reader_new(NULL);

    for (int i = 1; i <= 3; i++) {
        snprintf(path, sizeof(path), "RECV20261122-%d.LOG", i);
        put_row(path, i == 2 ? "two" : "other");
        snprintf(path, sizeof(path), "%s/RECV20261122-%d.LOG", tmpdir, i);
        assert_int_equal(log_reader_add(r, path), 0);
    }
    assert_int_equal(log_reader_add(r, path), 0);     /* twice: read once */
    assert_int_equal(open_fds(), before + 1);
    assert_int_equal(read_all(r, got, sizeof(got)), 3);
    assert_string_equal(got, "other two other");
    log_reader_free(r);
    assert_int_equal(open_fds(), before);
}

/* test_top_link - the directory or file named: a link is followed only
 * where log_path_open follows one (a directory only root or we may
 * change); links below it never */

static void test_top_link(void **state)
{
    char path[300], file[300], dir[300], got[256], cap[] = "/tmp/log_read_err.XXXXXX", *err;
    struct log_reader *r = log_reader_new(NULL);
    int saved, rc[2], err_no[2];

    snprintf(dir, sizeof(dir), "%s/real", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    put_row("real/RECV20261122-1.LOG", "real");
    /* In tmpdir (ours, mode 0700): followed, to a directory and to a file. */
    snprintf(path, sizeof(path), "%s/logs", tmpdir);
    assert_int_equal(symlink("real", path), 0);
    assert_int_equal(log_reader_add(r, path), 0);
    snprintf(path, sizeof(path), "%s/RECV20261122-9.LOG", tmpdir);
    assert_int_equal(symlink("real/RECV20261122-1.LOG", path), 0);
    assert_int_equal(log_reader_add(r, path), 0);
    assert_int_equal(read_all(r, got, sizeof(got)), 2);
    assert_string_equal(got, "real real");
    log_reader_free(r);
    /* In a directory others may write: refused, and said so. */
    snprintf(dir, sizeof(dir), "%s/open", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    snprintf(path, sizeof(path), "%s/open/logs", tmpdir);
    assert_int_equal(symlink("../real", path), 0);
    r = log_reader_new(NULL);
    snprintf(file, sizeof(file), "%s/open/RECV20261122-1.LOG", tmpdir);
    assert_int_equal(symlink("../real/RECV20261122-1.LOG", file), 0);
    saved = capture_begin(cap);
    errno = 0;
    rc[0] = log_reader_add(r, path);
    err_no[0] = errno;
    errno = 0;
    rc[1] = log_reader_add(r, file);
    err_no[1] = errno;
    err = capture_end(saved, cap);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rc[i], -1);
        assert_int_equal(err_no[i], ELOOP);
    }
    assert_non_null(strstr(err, "open/logs is a symbolic link: refusing to follow it"));
    assert_non_null(strstr(err, "open/RECV20261122-1.LOG is a symbolic link: refusing to follow it"));
    free(err);
    assert_int_equal(read_all(r, got, sizeof(got)), 0);
    log_reader_free(r);
}

static void test_long_line(void **state)
{
    size_t big = 300000;
    char *data = malloc(big + 1), *all = malloc(big + 1024);
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ .bufsize = 4096 });
    struct log_row row;
    int n = 0;

    memset(data, 'x', big);
    data[big] = '\0';
    sprintf(all, "%s2026-11-22T08:00:00.000Z,c,0000000000000001,0,l,r,<,%s,\r\n"
            "2026-11-22T08:00:00.000Z,c,0000000000000001,1,l,r,<,short,\r\n", HDR_RECV, data);
    put("RECV20261122-1.LOG", all);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1) {
        assert_int_equal(row.f[LOG_P_DATA].len, n == 0 ? big : 5);
        n++;
    }
    assert_int_equal(n, 2);
    log_reader_free(r);
    free(data);
    free(all);
}

static void test_writer_round_trip(void **state)
{
    struct log_proto_props pp = { .directory = tmpdir, .max_file_size = 10 << 20 };
    struct log_proto *lp = log_proto_open(LOG_PROTO_RECEIVE, &pp);
    struct log_proto_session s;
    struct log_reader *r = log_reader_new(NULL);
    struct log_row row;
    int n = 0;
    static const char odd[] = "a,\"b\"\rc\nd\\e";   /* CR, LF, a backslash */

    assert_non_null(lp);
    log_proto_session_init(&s, lp, "MAIL\\Inet", 0x08DF486E9B5C0001ull);
    log_proto_connect(&s);
    log_proto_info(&s, odd, "Certificate subject");
    log_proto_disconnect(&s, LOG_PROTO_R_QUIT, NULL);
    log_proto_close(lp);
    assert_int_equal(log_reader_add(r, tmpdir), 0);
    while (log_reader_next(r, &row) == 1) {
        assert_true(log_field_eq(&row.f[LOG_P_SESSION], "08DF486E9B5C0001"));
        if (n == 1) {
            log_field_unescape(&row.f[LOG_P_DATA]);
            assert_int_equal(row.f[LOG_P_DATA].len, strlen(odd));
            assert_memory_equal(row.f[LOG_P_DATA].p, odd, strlen(odd));
            assert_true(log_field_eq(&row.f[LOG_P_CONTEXT], "Certificate subject"));
        }
        n++;
    }
    assert_int_equal(n, 3);
    log_reader_free(r);
}

static void test_time_arg(void **state)
{
    char out[LOG_READ_TSLEN + 1];

    assert_int_equal(log_read_time_arg("2026-11-22", out), 10);
    assert_int_equal(log_read_time_arg("2026-11-22 08:30", out), 16);
    assert_string_equal(out, "2026-11-22T08:30");
    assert_int_equal(log_read_time_arg("2026-11-22T08:30:00Z", out), 19);
    assert_int_equal(log_read_time_arg("2026-11-22T08:30:00.123Z", out), 24);
    assert_int_equal(log_read_time_arg("2026-11-22T08:3", out), 0);
    assert_int_equal(log_read_time_arg("yesterday", out), 0);
    assert_int_equal(log_read_time_arg("2026-13-01", out), 0);
    assert_int_equal(log_read_day("19700101", true), 0);
    assert_int_equal(log_read_day("2026-11-22", false), log_read_day("20261122", true));
    log_read_day_str(log_read_day("2024-02-29", false) + 1, out);
    assert_string_equal(out, "2024-03-01");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test_setup_teardown(test_order, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_time_range, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_truncated_and_empty, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_not_regular, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_swapped_after_walk, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dir_swapped_after_walk, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_top_link, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_named_files, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_long_line, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_writer_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test(test_time_arg),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
