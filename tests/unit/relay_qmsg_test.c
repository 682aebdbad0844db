/*
 * relay_qmsg_test.c - delivery state on disk: records replay in order, the
 * last record of a recipient wins, a torn last line (crash mid-append) is
 * ignored, unknown lines and records with a damaged number are skipped,
 * appended records round-trip; hold/release/delete records (queue
 * administration) replay with the last hold or release winning, a torn
 * last one ignored; relay_qmsg_verify tells a removed or rewritten file;
 * a damaged header (repeated line, loose length, control character in an
 * address, id not the file name) is refused, never loaded half-read; a
 * FIFO in place of the file is refused without blocking; an image the
 * commit stashed is loaded once, with its bytes, without the file;
 * removals at the same time (sharing one directory fsync) all succeed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_util.h"
#include "relay_qmsg.h"

static const char head[] =
    "DSQ1\nid 0123456789ABCDEF\narrival 2026-11-22T10:00:00.123Z\nconnector Inet\n"
    "client 127.0.0.1:4000\nhelo c.example\nsession 08DE000000000001\n"
    "sender <a@b.example>\nrcpt <x@one.test>\nrcpt <y@two.test>\nrcpt <z@three.test>\n"
    "data 0000000000000005\nHELLOend\n";

static int write_file(const char *dir, const char *tail)
{
    char path[512];
    FILE *f;
    int dfd;

    snprintf(path, sizeof(path), "%s/0123456789ABCDEF", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(head, f);
    fputs(tail, f);
    fclose(f);
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    return dfd;
}

static void test_replay(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX";
    struct relay_qmsg *m;
    const char *why = NULL;
    int dfd, err;
    char *data;

    assert_non_null(mkdtemp(dir));
    dfd = write_file(dir,
                     "rcpt 0 deferred 1000 1 451 4.4.0 try later\n"
                     "next 2000\n"
                     "rcpt 1 failed 1500 1 550 5.1.1 User unknown\n"
                     "future-record whatever\n"
                     "rcpt 0 delivered 2500 2 250 2.0.0 Ok\n"
                     "rcpt 2 delivered 2600 1 250 torn");      /* no newline: ignored */
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), 0);
    assert_string_equal(m->sender, "a@b.example");
    assert_int_equal(m->nrcpts, 3);
    assert_string_equal(m->rcpts[2].addr, "z@three.test");
    assert_int_equal(m->rcpts[0].state, RELAY_R_DELIVERED);
    assert_int_equal(m->rcpts[0].attempts, 2);
    assert_string_equal(m->rcpts[0].last, "250 2.0.0 Ok");
    assert_int_equal(m->rcpts[1].state, RELAY_R_FAILED);
    assert_int_equal(m->rcpts[2].state, RELAY_R_PENDING);
    assert_int_equal(m->next_ms, 2000);
    assert_true(m->torn);
    assert_int_equal(m->arrival_ms, 1795341600123ULL);
    data = relay_qmsg_read_data(dfd, m, &err);
    assert_int_equal(err, 0);
    assert_string_equal(data, "HELLO");
    free(data);

    /* Append a record for recipient 2 and load again. */
    {
        char *buf = NULL;
        size_t len = 0;
        struct relay_qmsg *m2;

        m->rcpts[2].state = RELAY_R_DELIVERED;
        m->rcpts[2].attempts = 1;
        m->rcpts[2].last_ms = 3000;
        free(m->rcpts[2].last);
        m->rcpts[2].last = log_oneline("250 ok\r\nsecond line");
        relay_qmsg_record_rcpt(m, 2, &buf, &len);
        /* The torn line must not swallow the new record: end it first. */
        assert_int_equal(relay_qmsg_append(dfd, "0123456789ABCDEF", "\n", 1), 0);
        assert_int_equal(relay_qmsg_append(dfd, "0123456789ABCDEF", buf, len), 0);
        free(buf);
        assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m2, &why), 0);
        assert_int_equal(m2->rcpts[2].state, RELAY_R_DELIVERED);
        assert_string_equal(m2->rcpts[2].last, "250 ok  second line");
        relay_qmsg_free(m2);
    }
    relay_qmsg_free(m);
    assert_int_equal(relay_qmsg_remove(dfd, "0123456789ABCDEF"), 0);
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), -1);
    assert_null(m);
    relay_qmsg_free(NULL);
    close(dfd);
    rmdir(dir);
}

/* A record with a damaged number changes nothing (sscanf("%llu") took "-1"
 * as 2^64-1, overflow as anything and "12x" as 12); the file still loads. */
static const struct {
    const char *label, *record;
} damaged[] = {
    { "next: sign", "next -1\n" },
    { "next: overflow", "next 18446744073709551616\n" },
    { "next: trailing junk", "next 12x\n" },
    { "next: empty", "next \n" },
    { "next: plus sign", "next +5\n" },
    { "delay: sign", "delay -1\n" },
    { "delay: overflow", "delay 18446744073709551616\n" },
    { "delay: trailing junk", "delay 12x\n" },
    { "delay: empty", "delay \n" },
    { "rcpt index: sign", "rcpt -1 delivered 2500 2 250 ok\n" },
    { "rcpt index: overflow", "rcpt 18446744073709551616 delivered 2500 2 250 ok\n" },
    { "rcpt index: trailing junk", "rcpt 0x delivered 2500 2 250 ok\n" },
    { "rcpt index: out of range", "rcpt 3 delivered 2500 2 250 ok\n" },
    { "rcpt time: sign", "rcpt 0 delivered -1 2 250 ok\n" },
    { "rcpt time: overflow", "rcpt 0 delivered 18446744073709551616 2 250 ok\n" },
    { "rcpt time: trailing junk", "rcpt 0 delivered 12x 2 250 ok\n" },
    { "rcpt time: empty", "rcpt 0 delivered  2 250 ok\n" },
    { "rcpt attempts: sign", "rcpt 0 delivered 2500 -1 250 ok\n" },
    { "rcpt attempts: over unsigned", "rcpt 0 delivered 2500 4294967296 250 ok\n" },
    { "rcpt attempts: trailing junk", "rcpt 0 delivered 2500 12x 250 ok\n" },
    { "rcpt attempts: empty", "rcpt 0 delivered 2500 \n" },
    { "rcpt: no state", "rcpt 0\n" },
    { "rcpt: empty", "rcpt \n" },
};

static void test_damaged_records_change_nothing(void **state)
{
    static const char good[] = "rcpt 0 deferred 1000 1 451 4.4.0 try later\n"
                               "next 2000\ndelay 3000\n";

    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        char dir[] = "/tmp/qmsgtestXXXXXX", tail[256];
        struct relay_qmsg *m;
        const char *why = NULL;
        int dfd;

        print_message("damaged %s\n", damaged[i].label);
        assert_non_null(mkdtemp(dir));
        snprintf(tail, sizeof(tail), "%s%s", good, damaged[i].record);
        dfd = write_file(dir, tail);
        assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), 0);
        assert_int_equal(m->rcpts[0].state, RELAY_R_PENDING);
        assert_int_equal(m->rcpts[0].last_ms, 1000);
        assert_int_equal(m->rcpts[0].attempts, 1);
        assert_string_equal(m->rcpts[0].last, "451 4.4.0 try later");
        assert_int_equal(m->next_ms, 2000);
        assert_int_equal(m->rounds, 1);
        assert_int_equal(m->delay_ms, 3000);
        assert_false(m->torn);          /* the last line has its newline */
        relay_qmsg_free(m);
        assert_int_equal(relay_qmsg_remove(dfd, "0123456789ABCDEF"), 0);
        close(dfd);
        assert_int_equal(rmdir(dir), 0);
    }
}

/* The largest values still parse, and an empty reply text is kept. */
static void test_largest_numbers(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX";
    struct relay_qmsg *m;
    const char *why = NULL;
    int dfd;

    assert_non_null(mkdtemp(dir));
    dfd = write_file(dir, "rcpt 2 failed 18446744073709551615 4294967295 \n"
                          "next 18446744073709551615\ndelay 18446744073709551615\n");
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), 0);
    assert_int_equal(m->rcpts[2].state, RELAY_R_FAILED);
    assert_true(m->rcpts[2].last_ms == UINT64_MAX);
    assert_true(m->rcpts[2].attempts == 4294967295u);
    assert_string_equal(m->rcpts[2].last, "");
    assert_true(m->next_ms == UINT64_MAX);
    assert_true(m->delay_ms == UINT64_MAX);
    relay_qmsg_free(m);
    assert_int_equal(relay_qmsg_remove(dfd, "0123456789ABCDEF"), 0);
    close(dfd);
    assert_int_equal(rmdir(dir), 0);
}

/* load - write tail after the header, load, return the message (dir kept) */

static struct relay_qmsg *load(char *dir, const char *tail, int *dfd)
{
    struct relay_qmsg *m;
    const char *why = NULL;

    assert_non_null(mkdtemp(dir));
    *dfd = write_file(dir, tail);
    assert_int_equal(relay_qmsg_load(*dfd, "0123456789ABCDEF", &m, &why), 0);
    return m;
}

static void unload(char *dir, struct relay_qmsg *m, int dfd)
{
    relay_qmsg_free(m);
    assert_int_equal(relay_qmsg_remove(dfd, "0123456789ABCDEF"), 0);
    close(dfd);
    assert_int_equal(rmdir(dir), 0);
}

static void test_hold_release_replay(void **state)
{
    static const struct {
        const char *label, *tail;
        uint64_t held, released;
        bool grace, del, bounce;
    } cases[] = {
        { "hold", "hold 5000 0\n", 5000, 0, false, false, false },
        { "hold, release", "hold 5000 0\nrelease 6000 0\n", 0, 6000, true, false, false },
        { "hold, release, hold: last wins", "hold 5000 0\nrelease 6000 0\nhold 7000 33\n",
          7000, 6000, true, false, false },
        { "released, then a round", "hold 5000 0\nrelease 6000 0\nnext 9000\n", 0, 6000,
          false, false, false },
        { "torn last hold ignored", "hold 5000 0\nrelease 6000 0\nhold 7000", 0, 6000, true,
          false, false },
        { "damaged hold ignored", "hold 12x 0\n", 0, 0, false, false, false },
        { "delete plain", "delete 8000 0 plain\n", 0, 0, false, true, false },
        { "delete bounce", "hold 5000 0\ndelete 8000 0 bounce\n", 5000, 0, false, true, true },
        { "torn delete ignored", "delete 8000 0 bou", 0, 0, false, false, false },
        /* A crash tore a line; a hold came (its own newline first), then a
         * round's record (the writer ends the torn line: an empty line). */
        { "torn line, hold, round", "next 8000\nrcpt 0 deliv\nhold 5000 0\n\nnext 9000\n",
          5000, 0, false, false, false },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dir[] = "/tmp/qmsgtestXXXXXX";
        struct relay_qmsg *m;
        int dfd;

        print_message("%s\n", cases[i].label);
        m = load(dir, cases[i].tail, &dfd);
        assert_int_equal(m->held_ms, cases[i].held);
        assert_int_equal(m->released_ms, cases[i].released);
        assert_int_equal(m->release_grace, cases[i].grace);
        assert_int_equal(m->delete_pending, cases[i].del);
        assert_int_equal(m->delete_bounce, cases[i].bounce);
        unload(dir, m, dfd);
    }
}

/* RFC 8689 flags: "requiretls yes" in the header, the "tls-required no"
 * record after "end" (ignored when REQUIRETLS is set, RFC 8689 4.1); a file
 * without either loads as before. */
static void test_requiretls_flags(void **state)
{
    static const struct {
        const char *label, *header_line, *tail;
        bool requiretls, no;
    } cases[] = {
        { "neither", "", "next 9000\n", false, false },
        { "requiretls", "requiretls yes\n", "", true, false },
        { "tls-required no", "", "tls-required no\nrcpt 0 deferred 5 1 451 x\n", false, true },
        { "both: requiretls wins", "requiretls yes\n", "tls-required no\n", true, false },
        { "torn record ignored", "", "tls-required n", false, false },
        { "other value ignored", "", "tls-required yes\n", false, false },
    };
    const char *at = strstr(head, "sender ");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dir[] = "/tmp/qmsgtestXXXXXX", path[512];
        struct relay_qmsg *m;
        const char *why = NULL;
        FILE *f;
        int dfd;

        print_message("%s\n", cases[i].label);
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/0123456789ABCDEF", dir);
        assert_non_null(f = fopen(path, "w"));
        fprintf(f, "%.*s%s%s%s", (int)(at - head), head, cases[i].header_line, at,
                cases[i].tail);
        fclose(f);
        assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
        assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), 0);
        assert_int_equal(m->requiretls, cases[i].requiretls);
        assert_int_equal(m->tls_required_no, cases[i].no);
        assert_int_equal(m->nrcpts, 3);
        unload(dir, m, dfd);
    }
}

/* The writer's records are what the loader reads. */
static void test_admin_records_round_trip(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX", *buf = NULL;
    struct relay_qmsg *m, *m2;
    const char *why = NULL;
    size_t len = 0;
    int dfd;

    m = load(dir, "", &dfd);
    relay_qmsg_record_admin("hold", 1796620000000ULL, 0, NULL, &buf, &len);
    assert_string_equal(buf, "\nhold 1796620000000 0\n");
    relay_qmsg_record_admin("delete", 1796620100000ULL, 7, "bounce", &buf, &len);
    assert_string_equal(buf, "\nhold 1796620000000 0\n\ndelete 1796620100000 7 bounce\n");
    assert_int_equal(relay_qmsg_append(dfd, "0123456789ABCDEF", buf, len), 0);
    free(buf);
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m2, &why), 0);
    assert_int_equal(m2->held_ms, 1796620000000ULL);
    assert_true(m2->delete_pending && m2->delete_bounce);
    relay_qmsg_free(m2);
    unload(dir, m, dfd);
}

/* relay_qmsg_verify: the same file passes; removed: -ENOENT; rewritten
 * with another header, or cut short: -EBADMSG. */
static void test_verify(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX", path[512];
    struct relay_qmsg *m;
    const char *why = NULL;
    int dfd;
    FILE *f;

    m = load(dir, "next 2000\n", &dfd);
    assert_int_equal(relay_qmsg_verify(dfd, m, &why), 0);
    snprintf(path, sizeof(path), "%s/0123456789ABCDEF", dir);
    assert_int_equal(truncate(path, 60), 0);
    assert_int_equal(relay_qmsg_verify(dfd, m, &why), -EBADMSG);
    assert_non_null(f = fopen(path, "w"));
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(relay_qmsg_verify(dfd, m, &why), -EBADMSG);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(relay_qmsg_verify(dfd, m, &why), -ENOENT);
    relay_qmsg_free(m);
    close(dfd);
    assert_int_equal(rmdir(dir), 0);
}

/* A damaged header is refused as recovery quarantines it, never loaded
 * half-read: a repeated line (the last one won), a length strtoull took, a
 * control character inside <...> (a NUL cut the loaded address there), a
 * header id that is not the file name (records would go to another file). */
static const struct {
    const char *label, *from, *to;
    size_t tolen;                       /* bytes of to (it may hold a NUL); 0: strlen */
    const char *why;
} refused[] = {
    { "repeated sender", "sender <a@b.example>\n", "sender <a@b.example>\nsender <e@x.example>\n",
      0, "repeated header line" },
    { "repeated id", "id 0123456789ABCDEF\n", "id 0123456789ABCDEF\nid 0123456789ABCDEF\n", 0,
      "repeated header line" },
    { "NUL in sender", "sender <a@b.example>", "sender <a@b.ex\0ample>", 21, "bad sender" },
    { "NUL in recipient", "rcpt <y@two.test>", "rcpt <y@two.test\0.evil>", 23,
      "bad recipient" },
    { "CR in recipient", "rcpt <y@two.test>", "rcpt <y@two.test\rRSET>", 0, "bad recipient" },
    { "length: plus sign", "data 0000000000000005", "data +000000000000005", 0,
      "bad data length" },
    { "length: 0x", "data 0000000000000005", "data 0x00000000000005", 0, "bad data length" },
    { "length: lower-case", "data 0000000000000005\nHELLO", "data 000000000000000a\nHELLOHELLO",
      0, "bad data length" },
    { "id not the file name", "id 0123456789ABCDEF", "id 0123456789ABCDEE", 0,
      "id does not match file name" },
};

static void test_damaged_header_refused(void **state)
{
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char dir[] = "/tmp/qmsgtestXXXXXX", path[512];
        const char *at = strstr(head, refused[i].from), *why = NULL;
        size_t tolen = refused[i].tolen ? refused[i].tolen : strlen(refused[i].to);
        struct relay_qmsg *m = (struct relay_qmsg *)1;
        FILE *f;
        int dfd;

        print_message("refused %s\n", refused[i].label);
        assert_non_null(at);
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/0123456789ABCDEF", dir);
        assert_non_null(f = fopen(path, "w"));
        fwrite(head, 1, (size_t)(at - head), f);
        fwrite(refused[i].to, 1, tolen, f);
        fputs(at + strlen(refused[i].from), f);
        assert_int_equal(fclose(f), 0);
        assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
        assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), -1);
        assert_null(m);
        assert_string_equal(why, refused[i].why);
        assert_int_equal(unlink(path), 0);
        close(dfd);
        assert_int_equal(rmdir(dir), 0);
    }
}

/* A FIFO in place of a queue file is refused at once, never waited on
 * (the alarm turns a hang into a failure): at the load, and when it is
 * swapped in after the load - the check, the reads of a round or a DSN
 * and the append of records (an open for writing waits for a reader). */
static void test_fifo_refused(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX", dir2[] = "/tmp/qmsgtestXXXXXX", path[512];
    struct relay_qmsg *m = NULL;
    const char *why = NULL;
    int dfd, err = 0;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/0123456789ABCDEF", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
    alarm(10);
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), -1);
    alarm(0);
    assert_null(m);
    assert_string_equal(why, "not a regular file");
    assert_int_equal(unlink(path), 0);
    close(dfd);
    assert_int_equal(rmdir(dir), 0);

    m = load(dir2, "next 2000\n", &dfd);
    snprintf(path, sizeof(path), "%s/0123456789ABCDEF", dir2);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(10);
    why = NULL;
    assert_int_equal(relay_qmsg_verify(dfd, m, &why), -EBADMSG);       /* quarantined */
    assert_string_equal(why, "not a regular file");
    assert_null(relay_qmsg_read_envelope(dfd, m, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(relay_qmsg_read_data(dfd, m, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(relay_qmsg_append(dfd, m->id, "next 3000\n", 10), -EINVAL);
    alarm(0);
    unload(dir2, m, dfd);
}

/* The image the commit stashes is loaded without the file (none exists
 * here), once, with the bytes in m->data; the next load reads the file.
 * An image over RELAY_QMSG_STASH_MAX is refused (the caller keeps it). */
static void test_stash(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX";
    const char *tail = "tls-required no\n";
    size_t len = strlen(head) + strlen(tail);
    char *img = malloc(len + 1), *big = malloc(RELAY_QMSG_STASH_MAX + 2);
    struct relay_qmsg *m;
    const char *why = NULL;
    int dfd;

    assert_non_null(img);
    assert_non_null(big);
    memcpy(img, head, strlen(head));
    memcpy(img + strlen(head), tail, strlen(tail));
    assert_non_null(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_true(relay_qmsg_stash("0123456789ABCDEF", img, len));
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), 0);
    assert_string_equal(m->sender, "a@b.example");
    assert_int_equal(m->nrcpts, 3);
    assert_true(m->tls_required_no);
    assert_true(m->data_stashed);
    assert_int_equal(m->data_len, 5);
    assert_string_equal(m->data, "HELLO");
    relay_qmsg_drop_data(m);
    assert_null(m->data);
    relay_qmsg_free(m);
    /* Taken: a second load looks for the file, which is not there. */
    assert_int_equal(relay_qmsg_load(dfd, "0123456789ABCDEF", &m, &why), -1);
    assert_string_equal(why, "file removed");
    assert_false(relay_qmsg_stash("0123456789ABCDEF", big, RELAY_QMSG_STASH_MAX + 1));
    free(big);
    relay_qmsg_stash_clear();
    close(dfd);
    assert_int_equal(rmdir(dir), 0);
}

/* Removals at the same time share the directory fsync: every one returns
 * 0 (none waits forever for a sync that covers it), every file is gone. */
struct remove_arg { int dfd; char id[17]; int r; };

static void *remove_thread(void *p)
{
    struct remove_arg *a = p;

    a->r = relay_qmsg_remove(a->dfd, a->id);
    return NULL;
}

static void test_concurrent_removals(void **state)
{
    char dir[] = "/tmp/qmsgtestXXXXXX", path[512];
    struct remove_arg a[16];
    pthread_t th[16];
    int dfd;

    assert_non_null(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 16; i++) {
            a[i].dfd = dfd;
            snprintf(a[i].id, sizeof(a[i].id), "%016X", round * 16 + i);
            snprintf(path, sizeof(path), "%s/%s", dir, a[i].id);
            close(open(path, O_WRONLY | O_CREAT, 0600));
            a[i].r = -1;
        }
        for (int i = 0; i < 16; i++)
            assert_int_equal(pthread_create(&th[i], NULL, remove_thread, &a[i]), 0);
        for (int i = 0; i < 16; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            assert_int_equal(a[i].r, 0);
            assert_int_equal(faccessat(dfd, a[i].id, F_OK, 0), -1);
        }
    }
    assert_int_equal(relay_qmsg_remove(dfd, "0000000000000000"), -ENOENT);
    close(dfd);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_damaged_records_change_nothing),
        cmocka_unit_test(test_largest_numbers),
        cmocka_unit_test(test_hold_release_replay),
        cmocka_unit_test(test_requiretls_flags),
        cmocka_unit_test(test_admin_records_round_trip),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_damaged_header_refused),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_stash),
        cmocka_unit_test(test_concurrent_removals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
