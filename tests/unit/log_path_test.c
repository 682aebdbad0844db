/*
 * log_path_test.c - log_path_open/openat: mkdir, mkdir -p and open-only
 * walks, "." and "..", links in trusted directories followed (relative and
 * absolute targets, loops end in ELOOP), links in directories others can
 * write (mode 0777 or 0770) refused with the error line naming them and
 * nothing created through them, and openat's directory path in the message.
 * Runs as any user: our own 0700 directories are the trusted ones.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "log_path.h"

#define LOG_TEST_NAME "log_path_test"
#include "log_test_util.h"

static char errpath[300];               /* the error lines of the code under test */

/* walk - log_path_openat (log_path_open when dfd is AT_FDCWD and dirpath
 * NULL) with stderr appended to errpath; errno kept */

static int walk(const char *subsys, int dfd, const char *dirpath, const char *path,
                mode_t mode, enum log_path_create create)
{
    int out = open(errpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600), keep = dup(2);
    int fd, err;

    assert_true(out >= 0 && keep >= 0);
    fflush(stderr);
    dup2(out, 2);
    if (dfd == AT_FDCWD && dirpath == NULL)
        fd = log_path_open(subsys, path, mode, create);
    else
        fd = log_path_openat(subsys, dfd, dirpath, path, mode, create);
    err = errno;
    dup2(keep, 2);
    close(keep);
    close(out);
    errno = err;
    return fd;
}

#define OPEN(path, mode, create) walk("t", AT_FDCWD, NULL, (path), (mode), (create))

/* p - tmpdir/name in a static buffer (two in turn) */

static const char *p(const char *name)
{
    static char buf[2][512];
    static int i;

    i ^= 1;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
    return buf[i];
}

static void mkdir_mode(const char *name, mode_t mode)
{
    assert_int_equal(mkdir(p(name), 0700), 0);
    assert_int_equal(chmod(p(name), mode), 0);
}

static void link_to(const char *name, const char *target)
{
    assert_int_equal(symlink(target, p(name)), 0);
}

static int setup(void **state)
{
    setup_dir(state);
    umask(022);
    snprintf(errpath, sizeof(errpath), "%s.stderr", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    unlink(errpath);
    return teardown_dir(state);
}

/* assert_is - fd is the directory at path (same inode) */

static void assert_is(int fd, const char *path)
{
    struct stat a, b;

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &a), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
}

/* assert_fails - the walk failed with errno e */

static void assert_fails(int fd, int e)
{
    int err = errno;

    assert_int_equal(fd, -1);
    assert_int_equal(err, e);
}

/* assert_logged - the stderr so far holds text (NULL: holds nothing) */

static void assert_logged(const char *text)
{
    char *log = slurp(errpath, NULL);

    if (log == NULL)
        log = strdup("");               /* nothing was ever logged */
    if (text == NULL && log[0] != '\0')
        fail_msg("unexpected log: %s", log);
    if (text != NULL && strstr(log, text) == NULL)
        fail_msg("log lacks \"%s\": %s", text, log);
    free(log);
}

static void test_mkdirs(void **state)
{
    struct stat st;

    assert_is(OPEN(p("a/b//c/"), 0750, LOG_PATH_MKDIRS), p("a/b/c"));
    assert_int_equal(stat(p("a/b"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_is(OPEN(p("a/b/c"), 0750, LOG_PATH_MKDIRS), p("a/b/c"));
    assert_logged(NULL);
}

static void test_mkdir_last_only(void **state)
{
    struct stat st;

    assert_fails(OPEN(p("x/y"), 0700, LOG_PATH_MKDIR), ENOENT);
    assert_int_equal(stat(p("x"), &st), -1);
    assert_is(OPEN(p("x"), 0700, LOG_PATH_MKDIR), p("x"));
    assert_int_equal(stat(p("x"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_open_only(void **state)
{
    put("file", "x");
    assert_fails(OPEN(p("missing"), 0700, LOG_PATH_OPEN), ENOENT);
    assert_fails(OPEN(p("file"), 0700, LOG_PATH_OPEN), ENOTDIR);
    assert_fails(OPEN(p("file/sub"), 0700, LOG_PATH_MKDIRS), ENOTDIR);
    assert_fails(OPEN("", 0700, LOG_PATH_OPEN), ENOENT);
    mkdir_mode("d", 0700);
    assert_is(OPEN(p("d/./../d/."), 0, LOG_PATH_OPEN), p("d"));
    assert_is(OPEN("/", 0, LOG_PATH_OPEN), "/");
    assert_logged(NULL);
}

static void test_trusted_links_followed(void **state)
{
    mkdir_mode("real", 0700);
    link_to("rel", "real");
    link_to("abs", p("real"));
    link_to("chain", "abs");
    assert_is(OPEN(p("rel/sub"), 0700, LOG_PATH_MKDIRS), p("real/sub"));
    assert_is(OPEN(p("abs/sub"), 0700, LOG_PATH_OPEN), p("real/sub"));
    assert_is(OPEN(p("chain"), 0700, LOG_PATH_OPEN), p("real"));
    link_to("real/up", "..");
    assert_is(OPEN(p("rel/up/real/sub"), 0, LOG_PATH_OPEN), p("real/sub"));
    assert_int_equal(chdir(tmpdir), 0);                   /* relative to the working dir */
    assert_is(OPEN("rel/sub", 0, LOG_PATH_OPEN), p("real/sub"));
    assert_int_equal(chdir("/"), 0);
    assert_logged(NULL);
}

static void test_link_loop(void **state)
{
    link_to("l1", "l2");
    link_to("l2", "l1");
    assert_fails(OPEN(p("l1"), 0700, LOG_PATH_OPEN), ELOOP);
    assert_logged(NULL);                /* a loop, not a refusal */
}

static void test_untrusted_links_refused(void **state)
{
    static const mode_t modes[] = { 0777, 01777, 0770, 0720 };
    struct stat st;
    char want[600];

    mkdir_mode("target", 0700);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char w[32], l[64];

        snprintf(w, sizeof(w), "w%zu", i);
        snprintf(l, sizeof(l), "w%zu/link", i);
        mkdir_mode(w, modes[i]);
        link_to(l, p("target"));
        assert_fails(walk("tsub", AT_FDCWD, NULL, p(l), 0700, LOG_PATH_MKDIRS), ELOOP);
        snprintf(want, sizeof(want), "error tsub %s is a symbolic link: refusing to follow it",
                 p(l));
        assert_logged(want);
    }
    assert_fails(OPEN(p("w0/link/new"), 0700, LOG_PATH_MKDIRS), ELOOP);
    assert_int_equal(chdir(tmpdir), 0);
    assert_fails(walk("rel", AT_FDCWD, NULL, "w1/link", 0700, LOG_PATH_OPEN), ELOOP);
    assert_int_equal(chdir("/"), 0);
    assert_logged("error rel w1/link is a symbolic link: refusing to follow it");
    assert_int_equal(stat(p("target/new"), &st), -1);    /* nothing made through a link */
    link_to("w0/dangling", p("target/made"));
    assert_fails(OPEN(p("w0/dangling"), 0700, LOG_PATH_MKDIR), ELOOP);
    assert_int_equal(stat(p("target/made"), &st), -1);
}

static void test_openat_names_dirpath(void **state)
{
    int dfd;

    mkdir_mode("q", 0777);
    mkdir_mode("elsewhere", 0700);
    link_to("q/messages", p("elsewhere"));
    assert_true((dfd = open(p("q"), O_RDONLY | O_DIRECTORY)) >= 0);
    assert_is(walk("queue", dfd, "QUEUE", "incoming", 0700, LOG_PATH_MKDIR),
              p("q/incoming"));
    assert_fails(walk("queue", dfd, "QUEUE", "messages", 0700, LOG_PATH_MKDIR),
                 ELOOP);
    assert_logged("error queue QUEUE/messages is a symbolic link: refusing to follow it");
    assert_true(fcntl(dfd, F_GETFD) >= 0);                /* still the caller's */
    close(dfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_last_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trusted_links_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_links_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openat_names_dirpath, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
