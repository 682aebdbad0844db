/*
 * log_proto_engine_test.c - the engine under the protocol log writer:
 * rotation by size and by UTC day, restart appending, retention by
 * directory size and age (at start, after rotation, hourly), concurrency,
 * the flush timer, a stuck disk (bounded queue, counted drops and
 * diagnostics) and a write error.  (The rows themselves: log_proto_test.c.)
 *
 * DOMSEC_LOG_BENCH=1 also measures rows/s on one thread.
 */
#define LOG_TEST_NAME "log_proto_engine_test"
#include "log_proto_test_util.h"

/* ---- rotation ------------------------------------------------------------------- */

/* check_file - BOM, one header, size limit; returns the rows (after the header) */

static char *check_file(const char *path, uint64_t limit, const char *log_type)
{
    size_t len;
    char *f = slurp(path, &len), *rows;
    char want[128];

    assert_non_null(f);
    if (limit)
        assert_true(len <= limit);
    assert_memory_equal(f, "\xEF\xBB\xBF#Software: domsec\r\n#Version: 0.1.0\r\n#Log-type: ", 50);
    snprintf(want, sizeof(want), "#Log-type: %s\r\n#Date: ", log_type);
    assert_non_null(strstr(f, want));
    assert_int_equal(count_str(f, "#Software:"), 1);
    assert_int_equal(count_str(f, "#Fields:"), 1);
    rows = strstr(f, "#Fields:");
    rows = strstr(rows, "\r\n") + 2;
    memmove(f, rows, strlen(rows) + 1);
    return f;
}

static void test_rotate_size(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    struct log_proto_session s;
    struct log_file_stats st;
    char path[512], expect[64];
    unsigned nfiles = 0, next = 0;

    log_proto_session_init(&s, lp, "MAIL\\Inet", SID_RECV);
    log_proto_session_set_local(&s, "192.0.2.10:25");
    log_proto_session_set_remote(&s, "198.51.100.7:49152");
    for (unsigned i = 0; i < 300; i++) {
        char line[64];

        at(i);
        snprintf(line, sizeof(line), "RCPT TO:<user%04u@contoso.com>", i);
        log_proto_received(&s, line, strlen(line));
        if (i % 97 == 0)
            log_proto_flush(lp);        /* rotation across several writer rounds */
    }
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_written, 300);
    assert_int_equal(st.rows_dropped, 0);
    for (unsigned n = 1; ; n++) {
        char name[64], *rows, *p;

        snprintf(name, sizeof(name), "RECV20261122-%u.LOG", n);
        recv_path(path, sizeof(path), name);
        if (access(path, F_OK) < 0)
            break;
        nfiles++;
        rows = check_file(path, 4096, "SMTP Receive Protocol Log");
        assert_true(strlen(rows) > 0);                  /* no empty rotated file */
        for (p = rows; *p; p = strstr(p, "\r\n") + 2) {
            snprintf(expect, sizeof(expect), ",%u,192.0.2.10:25,", next);
            assert_non_null(strstr(p, expect));
            assert_true(strstr(p, expect) < strstr(p, "\r\n"));
            next++;
        }
        free(rows);
    }
    assert_true(nfiles >= 5);
    assert_int_equal(next, 300);
    assert_int_equal(st.files_created, nfiles);
    log_proto_close(lp);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpReceive", tmpdir);
    assert_int_equal(logcheck(path), 0);
}

static void test_rotate_day(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_SEND, 0, 0, 0, 3600000);
    struct log_proto_session s;
    char path[512], *a, *b;

    log_proto_session_init(&s, lp, "Internet", SID_SEND);
    at(DAY_MS - 8 * 3600000 - 500);             /* 2026-11-22T23:59:59.500Z */
    log_proto_info(&s, NULL, "attempting to connect");
    log_proto_connect(&s);
    at(DAY_MS - 8 * 3600000 + 250);             /* 2026-11-23T00:00:00.250Z */
    log_proto_sent(&s, S("QUIT\r\n"));
    log_proto_disconnect(&s, LOG_PROTO_R_LOCAL, NULL);
    log_proto_close(lp);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend/SEND20261122-1.LOG", tmpdir);
    a = check_file(path, 0, "SMTP Send Protocol Log");
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend/SEND20261123-1.LOG", tmpdir);
    b = check_file(path, 0, "SMTP Send Protocol Log");
    assert_int_equal(count_str(a, "\r\n"), 2);
    assert_int_equal(count_str(a, "2026-11-22T23:59:59.500Z"), 2);
    assert_int_equal(count_str(b, "\r\n"), 2);
    assert_int_equal(count_str(b, "2026-11-23T00:00:00.250Z,Internet,08DF486E9B5C0002,2,"), 1);
    free(a);
    free(b);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend", tmpdir);
    assert_int_equal(logcheck(path), 0);
}

static void write_rows(struct log_proto *lp, uint64_t sid, unsigned n)
{
    struct log_proto_session s;

    log_proto_session_init(&s, lp, "MAIL\\Inet", sid);
    log_proto_connect(&s);
    for (unsigned i = 1; i < n; i++)
        log_proto_info(&s, "row", "restart test");
}

static void test_restart_append(void **state)
{
    struct log_proto *lp;
    char path[512], path2[512], *rows;
    int fd;

    lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    write_rows(lp, 1, 3);
    log_proto_close(lp);
    at(5000);
    lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    write_rows(lp, 2, 2);
    log_proto_close(lp);
    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    rows = check_file(path, 4096, "SMTP Receive Protocol Log");   /* header once */
    assert_int_equal(count_str(rows, "\r\n"), 5);
    free(rows);
    recv_path(path2, sizeof(path2), "RECV20261122-2.LOG");
    assert_int_equal(access(path2, F_OK), -1);

    /* A crash cut the last row: the next row still starts on its own line. */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "2026-11-22T08:00:05.000Z,MAIL\\In", 32), 32);
    close(fd);
    lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    write_rows(lp, 3, 1);
    log_proto_close(lp);
    rows = check_file(path, 4096, "SMTP Receive Protocol Log");
    assert_non_null(strstr(rows, "MAIL\\In\r\n2026-11-22T08:00:05.000Z,MAIL\\Inet,0000000000000003,0,"));
    free(rows);

    /* At or over the limit: the next instance, with its own header. */
    lp = open_writer(LOG_PROTO_RECEIVE, 600, 0, 0, 3600000);
    write_rows(lp, 4, 1);
    log_proto_close(lp);
    rows = check_file(path2, 600, "SMTP Receive Protocol Log");
    assert_int_equal(count_str(rows, "\r\n"), 1);
    free(rows);
}

/* ---- retention ------------------------------------------------------------------ */

static void mkdir_p(const char *dir)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void make_old(const char *dir, const char *name, size_t size, uint64_t age_ms)
{
    char path[512], *buf = calloc(1, size + 1);
    struct timespec ts[2];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    memset(buf, 'x', size);
    spit(path, buf, size);
    free(buf);
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= (time_t)(age_ms / 1000);
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int exists(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_retention_size(void **state)
{
    char dir[300], name[64];
    struct log_proto *lp;
    struct log_proto_session s;
    struct log_file_stats st;

    snprintf(dir, sizeof(dir), "%s/ProtocolLog/SmtpReceive", tmpdir);
    mkdir_p(dir);
    for (int d = 1; d <= 10; d++) {
        snprintf(name, sizeof(name), "RECV202611%02d-1.LOG", d);
        make_old(dir, name, 1000, 0);
    }
    make_old(dir, "RECV20261110-2.LOG", 1000, 0);
    make_old(dir, "notes.txt", 100000, 0);                 /* not ours: never touched */
    make_old(dir, "SEND20261101-1.LOG", 100000, 0);        /* another prefix: not ours */

    /* At start: keep newest first while the total stays within 5000. */
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 5000, 0, 3600000);
    log_proto_flush(lp);
    for (int d = 1; d <= 10; d++) {
        snprintf(name, sizeof(name), "RECV202611%02d-1.LOG", d);
        assert_int_equal(exists(dir, name), d >= 7);
    }
    assert_true(exists(dir, "RECV20261110-2.LOG"));
    assert_true(exists(dir, "notes.txt"));
    assert_true(exists(dir, "SEND20261101-1.LOG"));

    /* A new file counts first; older files go. */
    log_proto_session_init(&s, lp, "MAIL\\Inet", 9);
    for (int i = 0; i < 5; i++)
        log_proto_info(&s, "x", "retention");
    log_proto_flush(lp);
    assert_true(exists(dir, "RECV20261122-1.LOG"));
    assert_true(exists(dir, "RECV20261110-2.LOG"));
    assert_false(exists(dir, "RECV20261107-1.LOG"));
    assert_true(exists(dir, "RECV20261108-1.LOG"));
    log_proto_close(lp);

    /* Even a limit below the current file never deletes the current file. */
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 100, 0, 3600000);
    log_proto_session_init(&s, lp, "MAIL\\Inet", 10);
    at(DAY_MS);                                            /* a new day: a new file */
    log_proto_info(&s, "x", "retention");
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_true(exists(dir, "RECV20261123-1.LOG"));
    assert_false(exists(dir, "RECV20261122-1.LOG"));
    assert_false(exists(dir, "RECV20261110-2.LOG"));
    assert_true(exists(dir, "notes.txt"));
    assert_true(st.files_deleted >= 3);
    log_proto_close(lp);
}

static void test_retention_age(void **state)
{
    char dir[300];
    struct log_proto *lp;
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    atomic_store(&fake_now, (uint64_t)now.tv_sec * 1000);
    snprintf(dir, sizeof(dir), "%s/ProtocolLog/SmtpReceive", tmpdir);
    mkdir_p(dir);
    make_old(dir, "RECV20261001-1.LOG", 10, 40 * DAY_MS);
    make_old(dir, "RECV20261020-1.LOG", 10, 29 * DAY_MS);
    make_old(dir, "old-notes.LOG", 10, 400 * DAY_MS);

    /* At start. */
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 30 * DAY_MS, 200);
    log_proto_flush(lp);
    assert_false(exists(dir, "RECV20261001-1.LOG"));
    assert_true(exists(dir, "RECV20261020-1.LOG"));
    assert_true(exists(dir, "old-notes.LOG"));

    /* Hourly: two days and an hour later the 29-day-old file is 31 days old. */
    atomic_fetch_add(&fake_now, 2 * DAY_MS + 3600000);
    for (int i = 0; i < 100 && exists(dir, "RECV20261020-1.LOG"); i++)
        usleep(50000);
    assert_false(exists(dir, "RECV20261020-1.LOG"));
    assert_true(exists(dir, "old-notes.LOG"));
    log_proto_close(lp);
}

/* ---- concurrency, timer, stuck disk ------------------------------------------- */

#define CT_THREADS  4
#define CT_SESSIONS 250
#define CT_ROWS     12

struct ct_arg {
    struct log_proto *lp;
    unsigned thread;
};

static void *ct_main(void *p)
{
    struct ct_arg *a = p;

    for (unsigned k = 0; k < CT_SESSIONS; k++) {
        struct log_proto_session s;
        char data[64];

        log_proto_session_init(&s, a->lp, "MAIL\\Inet", log_proto_session_id());
        log_proto_session_set_remote(&s, "198.51.100.7:49152");
        for (unsigned r = 0; r < CT_ROWS; r++) {
            snprintf(data, sizeof(data), "T%u S%u R%u", a->thread, k, r);
            log_proto_received(&s, data, strlen(data));
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 128 * 1024, 0, 0, 0);
    pthread_t th[CT_THREADS];
    struct ct_arg args[CT_THREADS];
    static unsigned char seen[CT_THREADS][CT_SESSIONS][CT_ROWS];
    struct log_file_stats st;
    unsigned total = 0;
    char path[512];

    memset(seen, 0, sizeof(seen));
    for (unsigned t = 0; t < CT_THREADS; t++) {
        args[t] = (struct ct_arg){ lp, t };
        assert_int_equal(pthread_create(&th[t], NULL, ct_main, &args[t]), 0);
    }
    for (unsigned t = 0; t < CT_THREADS; t++)
        pthread_join(th[t], NULL);
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_appended, CT_THREADS * CT_SESSIONS * CT_ROWS);
    assert_int_equal(st.rows_written, CT_THREADS * CT_SESSIONS * CT_ROWS);
    log_proto_close(lp);

    for (unsigned n = 1; ; n++) {
        char name[64], *rows, *line, *save = NULL;

        snprintf(name, sizeof(name), "RECV20261122-%u.LOG", n);
        recv_path(path, sizeof(path), name);
        if (access(path, F_OK) < 0)
            break;
        rows = check_file(path, 128 * 1024, "SMTP Receive Protocol Log");
        for (line = strtok_r(rows, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            char *f[10];
            int nf = 0;
            unsigned t, k, r, seq;

            for (char *q = line; nf < 10; ) {
                f[nf++] = q;
                q = strchr(q, ',');
                if (q == NULL)
                    break;
                *q++ = '\0';
            }
            assert_int_equal(nf, 9);                   /* no interleaving inside a row */
            assert_int_equal(sscanf(f[7], "T%u S%u R%u", &t, &k, &r), 3);
            seq = (unsigned)strtoul(f[3], NULL, 10);
            assert_int_equal(seq, r);
            assert_true(t < CT_THREADS && k < CT_SESSIONS && r < CT_ROWS);
            assert_int_equal(seen[t][k][r], 0);        /* exactly once */
            seen[t][k][r] = 1;
            total++;
        }
        free(rows);
    }
    assert_int_equal(total, CT_THREADS * CT_SESSIONS * CT_ROWS);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpReceive", tmpdir);
    assert_int_equal(logcheck(path), 0);               /* sequences 0..n-1, in order */
}

static void test_flush_timer(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 0);   /* 1 s */
    struct log_proto_session s;
    struct timespec t0, t1;
    char path[512], *f = NULL;
    int i;

    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    log_proto_session_init(&s, lp, "MAIL\\Inet", 5);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    log_proto_connect(&s);
    for (i = 0; i < 100; i++) {                 /* eventually, within 5 s */
        f = slurp(path, NULL);
        if (f && strstr(f, ",+,,\r\n"))
            break;
        free(f);
        f = NULL;
        usleep(50000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(f);
    print_message("flush timer: row on disk after %.2f s\n",
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(f);
    log_proto_close(lp);
}

static void test_stuck_disk(void **state)
{
    struct log_proto_props pr = {
        .directory = tmpdir, .version = "0.1.0", .flush_interval_ms = 50,
        .queue_limit = 128 * 1024, .clock = fake_clock,
    };
    struct log_proto *lp = log_proto_open(LOG_PROTO_RECEIVE, &pr);
    struct log_proto_session s;
    struct log_file_stats st;
    char cap[] = "/tmp/log_proto_err.XXXXXX", *err;
    int saved;

    assert_non_null(lp);
    saved = capture_begin(cap);
    log_file__test_pause(log_proto_file(lp), true);
    log_proto_session_init(&s, lp, "MAIL\\Inet", 11);
    for (int i = 0; i < 5000; i++)              /* ~500 KB: 4x the queue; never blocks */
        log_proto_received(&s, S("RCPT TO:<someone.with.a.long.name@contoso.com> NOTIFY=NEVER"));
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_appended, 5000);
    assert_true(st.rows_dropped > 0);
    assert_int_equal(st.rows_written, 0);
    log_file__test_pause(log_proto_file(lp), false);
    log_proto_received(&s, S("QUIT"));          /* a new episode is not needed to report */
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_written + st.rows_dropped, st.rows_appended);
    log_proto_close(lp);
    err = capture_end(saved, cap);
    assert_non_null(strstr(err, "warning logs log queue full, dropping rows"));
    assert_non_null(strstr(err, "warning logs log rows dropped dir="));
    free(err);
}

static void test_write_error(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 3600000);
    struct log_proto_session s;
    struct log_file_stats st;
    char cap[] = "/tmp/log_proto_err.XXXXXX", dir[300], *err;
    int saved;

    log_proto_session_init(&s, lp, "MAIL\\Inet", 12);
    log_proto_connect(&s);
    log_proto_flush(lp);
    /* The directory vanishes; the next day needs a new file that cannot be made. */
    snprintf(dir, sizeof(dir), "rm -rf %s/ProtocolLog", tmpdir);
    assert_int_equal(system(dir), 0);
    saved = capture_begin(cap);
    at(DAY_MS);
    for (int i = 0; i < 10; i++)
        log_proto_info(&s, "lost", "write error");
    log_proto_flush(lp);
    log_proto_info(&s, "lost", "write error");  /* logged once, counted always */
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    log_proto_close(lp);
    err = capture_end(saved, cap);
    assert_int_equal(st.rows_written, 1);
    assert_int_equal(st.rows_dropped, 11);
    assert_int_equal(st.write_errors, 2);
    assert_int_equal(count_str(err, "error logs log file create failed"), 1);
    free(err);
}

/* ---- throughput (DOMSEC_LOG_BENCH=1) ----------------------------------------- */

static void test_throughput(void **state)
{
    struct log_proto_props pr = {       /* a queue big enough for the burst: no drops */
        .directory = tmpdir, .max_file_size = 10485760, .queue_limit = 256u << 20,
    };
    struct log_proto *lp;
    struct log_proto_session s;
    struct timespec t0, t1, t2;
    struct log_file_stats st;
    const unsigned n = 1000000;
    double a, w;

    if (getenv("DOMSEC_LOG_BENCH") == NULL) {
        skip();
        return;
    }
    lp = log_proto_open(LOG_PROTO_RECEIVE, &pr);
    assert_non_null(lp);
    log_proto_session_init(&s, lp, "MAIL\\Default Frontend MAIL", log_proto_session_id());
    log_proto_session_set_local(&s, "192.0.2.10:25");
    log_proto_session_set_remote(&s, "198.51.100.7:49152");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < n; i++)
        log_proto_received(&s, S("RCPT TO:<bob@contoso.com>"));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_proto_flush(lp);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    log_proto_stats(lp, &st);
    a = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    w = (double)(t2.tv_sec - t0.tv_sec) + (double)(t2.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("throughput: %u rows, %.0f rows/s queued by one thread, %.0f rows/s on disk "
                  "(%llu bytes, %llu files, %llu dropped)\n", n, n / a, n / w,
                  (unsigned long long)st.bytes_written, (unsigned long long)st.files_created,
                  (unsigned long long)st.rows_dropped);
    log_proto_close(lp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotate_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_rotate_day, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_restart_append, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_retention_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_retention_age, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_flush_timer, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_stuck_disk, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_error, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_throughput, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
