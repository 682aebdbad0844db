/*
 * log_util_test.c - the shared helpers of log_util.h, table-driven: the
 * text of IPv4, IPv6 and v4-mapped socket addresses, of an unknown family
 * and of NULL, truncation to the buffer; the lower-cased domain of mail
 * addresses (none, empty, upper case, several '@', too long); ISO 8601
 * times (the epoch, 0 with and without its stand-in, leap day, far past and
 * future, a year gmtime cannot hold); reading whole files (empty, exactly
 * the limit, one byte over, missing, a directory, the mode bits); sorted
 * directory listings (by the strings, whatever the order of creation or
 * allocation; with and without a filter; an empty and a missing directory).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_util.h"

/* sa_of - a sockaddr_storage holding ip (v4 or v6 by its text) and port */

static struct sockaddr_storage sa_of(const char *ip, unsigned port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    } else {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    }
    return ss;
}

static void test_addr(void **state)
{
    static const struct {
        const char *ip;
        unsigned port;
        const char *text, *endpoint;
    } cases[] = {
        { "192.0.2.10", 25, "192.0.2.10", "192.0.2.10:25" },
        { "0.0.0.0", 0, "0.0.0.0", "0.0.0.0:0" },
        { "255.255.255.255", 65535, "255.255.255.255", "255.255.255.255:65535" },
        { "2001:db8::1", 587, "2001:db8::1", "[2001:db8::1]:587" },
        { "::", 25, "::", "[::]:25" },
        { "::ffff:192.0.2.7", 2525, "::ffff:192.0.2.7", "[::ffff:192.0.2.7]:2525" },
        { "2001:db8:1:2:3:4:5:6", 465, "2001:db8:1:2:3:4:5:6", "[2001:db8:1:2:3:4:5:6]:465" },
    };
    char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss = sa_of(cases[i].ip, cases[i].port);
        const struct sockaddr *sa = (const struct sockaddr *)&ss;

        assert_ptr_equal(log_addr_ip(buf, sizeof(buf), sa), buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(log_addr_port(sa), cases[i].port);
        assert_ptr_equal(log_addr_endpoint(buf, sizeof(buf), sa), buf);
        assert_string_equal(buf, cases[i].endpoint);
    }
}

static void test_addr_other(void **state)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    struct sockaddr_storage ss = sa_of("2001:db8::1", 587);
    char buf[64] = "junk", small[8] = "junk";

    (void)state;
    assert_string_equal(log_addr_ip(buf, sizeof(buf), NULL), "");
    strcpy(buf, "junk");
    assert_string_equal(log_addr_endpoint(buf, sizeof(buf), NULL), "");
    strcpy(buf, "junk");
    assert_string_equal(log_addr_ip(buf, sizeof(buf), (struct sockaddr *)&un), "");
    strcpy(buf, "junk");
    assert_string_equal(log_addr_endpoint(buf, sizeof(buf), (struct sockaddr *)&un), "");
    assert_int_equal(log_addr_port((struct sockaddr *)&un), 0);
    /* too small for the IP: "", never a partial address */
    assert_string_equal(log_addr_ip(small, sizeof(small), (struct sockaddr *)&ss), "");
    /* the endpoint is truncated to the buffer, NUL-terminated */
    assert_string_equal(log_addr_endpoint(small, sizeof(small), (struct sockaddr *)&ss), "[2001:d");
    assert_ptr_equal(log_addr_endpoint(small, 0, (struct sockaddr *)&ss), small);
}

static void test_mail_domain(void **state)
{
    static const struct {
        const char *addr;
        size_t size;
        const char *domain;
    } cases[] = {
        { "alice@example.org", 64, "example.org" },
        { "Alice@EXAMPLE.Org", 64, "example.org" },
        { "postmaster", 64, "" },               /* no '@' */
        { "", 64, "" },
        { "alice@", 64, "" },                   /* empty domain */
        { "\"a@b\"@Example.NET", 64, "example.net" }, /* the last '@' */
        { "bob@[192.0.2.1]", 64, "[192.0.2.1]" },
        { "bob@Example.Org", 5, "exam" },       /* truncated to size - 1 */
        { "bob@Example.Org", 1, "" },
    };
    char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        assert_ptr_equal(log_mail_domain(buf, cases[i].size, cases[i].addr), buf);
        assert_string_equal(buf, cases[i].domain);
    }
    buf[0] = 'x';
    assert_ptr_equal(log_mail_domain(buf, 0, "a@b"), buf);
    assert_int_equal(buf[0], 'x');              /* size 0: nothing written */
}

static void test_iso_time(void **state)
{
    static const struct {
        int64_t t;
        const char *zero, *text;
    } cases[] = {
        { 0, NULL, "1970-01-01T00:00:00Z" },
        { 0, "-", "-" },
        { 1, "-", "1970-01-01T00:00:01Z" },
        { 1795354421, NULL, "2026-11-22T13:33:41Z" },
        { 951782400, NULL, "2000-02-29T00:00:00Z" },
        { -1, NULL, "1969-12-31T23:59:59Z" },
        { 253402300799LL, NULL, "9999-12-31T23:59:59Z" },
        { INT64_MAX, NULL, "9223372036854775807" },    /* beyond gmtime */
    };
    char buf[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_ptr_equal(log_iso_time(buf, sizeof(buf), cases[i].t, cases[i].zero), buf);
        assert_string_equal(buf, cases[i].text);
    }
}

/* put - write n bytes of c to dir/name with mode; returns the path (static) */

static const char *put(const char *dir, const char *name, size_t n, int c, mode_t mode)
{
    static char path[256];
    char *buf = malloc(n + 1);
    int fd;

    assert_non_null(buf);
    memset(buf, c, n);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    free(buf);
    return path;
}

static void test_read_file(void **state)
{
    static const struct {
        const char *name;
        size_t size, max;               /* size (size_t)-1: do not create */
        int rc, err;
    } cases[] = {
        { "empty", 0, 16, 0, 0 },
        { "small", 5, 16, 0, 0 },
        { "at-limit", 16, 16, 0, 0 },
        { "over-limit", 17, 16, -1, EFBIG },
        { "large", 300000, 1024 * 1024, 0, 0 },
        { "missing", (size_t)-1, 16, -1, ENOENT },
    };
    char dir[] = "/tmp/log_util_test.XXXXXX", path[256];
    unsigned char *data;
    size_t len;
    unsigned mode;

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
        if (cases[i].size != (size_t)-1)
            put(dir, cases[i].name, cases[i].size, 'a' + (int)i, 0640);
        len = 99;
        mode = 0;
        errno = 0;
        assert_int_equal(log_read_file(path, cases[i].max, &data, &len, &mode), cases[i].rc);
        unlink(path);
        if (cases[i].rc < 0) {
            assert_int_equal(errno, cases[i].err);
            assert_null(data);
            assert_int_equal(len, 0);
            continue;
        }
        assert_int_equal(len, cases[i].size);
        assert_int_equal(mode, 0640);
        assert_int_equal(data[len], '\0');
        for (size_t k = 0; k < len; k++)
            assert_int_equal(data[k], 'a' + (int)i);
        free(data);
    }
    /* a directory is not a regular file; mode NULL is allowed */
    errno = 0;
    assert_int_equal(log_read_file(dir, 16, &data, &len, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_null(data);
    snprintf(path, sizeof(path), "%s", put(dir, "text", 3, 'z', 0600));
    assert_int_equal(log_read_file(path, 16, &data, &len, NULL), 0);
    assert_string_equal((char *)data, "zzz");
    free(data);
    assert_int_equal(log_file_check(path, 3), 0);
    errno = 0;
    assert_int_equal(log_file_check(path, 2), -1);
    assert_int_equal(errno, EFBIG);
    unlink(path);
    /* a FIFO nobody writes (opening it must not wait) and an endless device
     * are refused without a read */
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    errno = 0;
    assert_int_equal(log_read_file(path, 16, &data, &len, NULL), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(log_file_check(path, 16), -1);
    assert_int_equal(errno, EINVAL);
    unlink(path);
    errno = 0;
    assert_int_equal(log_read_file("/dev/zero", 16, &data, &len, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(log_file_check(dir, 16), -1);
    assert_int_equal(rmdir(dir), 0);
}

/* is_pem - a filter for log_dir_names */

static bool is_pem(const char *name)
{
    size_t n = strlen(name);

    return n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

static void test_dir_names(void **state)
{
    static const char *const made[] = {     /* created in this order */
        "b", "a.pem", "9", ".hidden", "B", "10", "a", "z.pem", "A.pem",
    };
    static const struct {
        bool (*keep)(const char *name);
        size_t n;
        const char *const names[9];
    } cases[] = {
        { NULL, 9, { ".hidden", "10", "9", "A.pem", "B", "a", "a.pem", "b", "z.pem" } },
        { is_pem, 3, { "A.pem", "a.pem", "z.pem" } },
    };
    char dir[] = "/tmp/log_util_test.XXXXXX", path[300], name[16];
    char **v;
    size_t n;

    (void)state;
    assert_non_null(mkdtemp(dir));
    v = log_dir_names(dir, NULL, &n);           /* empty: an array of none */
    assert_non_null(v);
    assert_int_equal(n, 0);
    log_dir_names_free(v, n);
    for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++)
        put(dir, made[i], 1, 'x', 0600);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        v = log_dir_names(dir, cases[c].keep, &n);
        assert_non_null(v);
        assert_int_equal(n, cases[c].n);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(v[i], cases[c].names[i]);
        log_dir_names_free(v, n);
    }
    /* many names made in descending order: the result is by the strings,
     * not by where readdir put them or where they were allocated */
    for (int i = 199; i >= 0; i--) {
        snprintf(name, sizeof(name), "n%03d", (i * 37) % 200);
        put(dir, name, 0, 'x', 0600);
    }
    v = log_dir_names(dir, NULL, &n);
    assert_int_equal(n, 209);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(v[i - 1], v[i]) < 0);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, v[i]);
        assert_int_equal(unlink(path), 0);
    }
    log_dir_names_free(v, n);
    assert_int_equal(rmdir(dir), 0);
    errno = 0;
    assert_null(log_dir_names(dir, NULL, &n));  /* missing */
    assert_int_equal(errno, ENOENT);
    assert_int_equal(n, 0);
    log_dir_names_free(NULL, 0);
}

/* test_write_file - atomic write; a stale .name.tmp (a symlink, a file) is
 * replaced, never written through */

static void test_write_file(void **state)
{
    char dir[] = "/tmp/log_util_test.XXXXXX", path[300], tmp[300], victim[300];
    unsigned char *buf;
    struct stat st;
    size_t len;
    int left = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/policy", dir);
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    put(dir, "victim", 6, 'v', 0600);
    /* Symlinks planted at every name this process's next writes may take. */
    for (int k = 0; k < 64; k++) {
        snprintf(tmp, sizeof(tmp), "%s/.policy.%ld.%d.tmp", dir, (long)getpid(), k);
        assert_int_equal(symlink(victim, tmp), 0);
    }
    assert_int_equal(log_write_file(dir, "policy", "hello\n", 6), 0);
    assert_int_equal(log_read_file(victim, 100, &buf, &len, NULL), 0);
    assert_memory_equal(buf, "vvvvvv", 6);              /* not written through */
    free(buf);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));                   /* not the symlink renamed */
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(log_read_file(path, 100, &buf, &len, NULL), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "hello\n", 6);
    free(buf);
    for (int k = 0; k < 64; k++) {                      /* the one used is gone */
        snprintf(tmp, sizeof(tmp), "%s/.policy.%ld.%d.tmp", dir, (long)getpid(), k);
        if (unlink(tmp) == 0)
            left++;
    }
    assert_int_equal(left, 63);
    /* Another writer's half-written temporary file (another process, or the
     * old fixed name) is neither removed nor renamed: a second write. */
    put(dir, ".policy.1.0.tmp", 50, 'x', 0644);
    put(dir, ".policy.tmp", 50, 'y', 0644);
    assert_int_equal(log_write_file(dir, "policy", "again", 5), 0);
    assert_int_equal(log_read_file(path, 100, &buf, &len, NULL), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "again", 5);
    free(buf);
    snprintf(tmp, sizeof(tmp), "%s/.policy.1.0.tmp", dir);
    assert_int_equal(stat(tmp, &st), 0);
    assert_int_equal(st.st_size, 50);
    assert_int_equal(unlink(tmp), 0);
    snprintf(tmp, sizeof(tmp), "%s/.policy.tmp", dir);
    assert_int_equal(stat(tmp, &st), 0);
    assert_int_equal(st.st_size, 50);
    assert_int_equal(unlink(tmp), 0);
    /* A directory that is not there: -1, errno. */
    errno = 0;
    assert_int_equal(log_write_file("/nonexistent/dir", "x", "y", 1), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(victim), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Two processes write one name 200 times each at once: every write
 * succeeds, the file is always one writer's whole content, no temporary
 * file is left. */

#define WRITERS 2
#define WRITE_LEN 32768

static void test_write_file_concurrent(void **state)
{
    char dir[] = "/tmp/log_util_test.XXXXXX", path[300];
    static char data[WRITERS][WRITE_LEN];
    pid_t pid[WRITERS];
    unsigned char *buf;
    size_t len, n = 0;
    char **names;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/shared", dir);
    for (int w = 0; w < WRITERS; w++) {
        memset(data[w], 'a' + w, WRITE_LEN);
        pid[w] = fork();
        assert_true(pid[w] >= 0);
        if (pid[w] == 0) {
            for (int i = 0; i < 200; i++)
                if (log_write_file(dir, "shared", data[w], WRITE_LEN) < 0)
                    _exit(1);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int ws;

        assert_int_equal(waitpid(pid[w], &ws, 0), pid[w]);
        assert_true(WIFEXITED(ws));
        assert_int_equal(WEXITSTATUS(ws), 0);           /* every write succeeded */
    }
    assert_int_equal(log_read_file(path, WRITE_LEN + 1, &buf, &len, NULL), 0);
    assert_int_equal(len, WRITE_LEN);
    assert_true(buf[0] == 'a' || buf[0] == 'b');
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], buf[0]);               /* one writer's, whole */
    free(buf);
    names = log_dir_names(dir, NULL, &n);
    assert_non_null(names);
    assert_int_equal(n, 1);                             /* no temporary file left */
    assert_string_equal(names[0], "shared");
    log_dir_names_free(names, n);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_addr_other),
        cmocka_unit_test(test_mail_domain),
        cmocka_unit_test(test_iso_time),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_dir_names),
        cmocka_unit_test(test_write_file),
        cmocka_unit_test(test_write_file_concurrent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
