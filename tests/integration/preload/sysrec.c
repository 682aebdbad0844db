/*
 * sysrec.c - LD_PRELOAD shim for test_sync_order.py and test_power_loss.py:
 * records, in the order they happened, the system calls that decide
 * durability (writes, syncs, renames, unlinks, opens) with the path of
 * every descriptor and the thread that made the call.
 *
 * $DOMSEC_SYSREC names the trace file (appended), $DOMSEC_SYSREC_PROG the
 * program to record (optional).  Each call adds one
 * record, written with one writev(2) on an O_APPEND descriptor (so records
 * of concurrent threads never interleave):
 *
 *   S0 S1 TID CALL RET ERRNO FD OFF LEN "PATH" "PATH2" DLEN\n<DLEN raw bytes>\n
 *
 * S0 and S1 come from one global atomic counter, taken just before and
 * just after the real call: "a returned before b started" is S1(a) <
 * S0(b), exact across threads.  PATH is the descriptor's path
 * (/proc/self/fd; "socket:[N]" for a socket, "path (deleted)" once
 * unlinked) or, for the *at() calls, the directory's path + "/" + name;
 * PATH2 is the new name of a rename.  OFF is the file offset written at
 * (pwrite's argument, or the position after write(2) minus its length:
 * right for O_APPEND too), -1 when not a regular file.  The data written
 * follows in full for a path under $DOMSEC_SYSREC_FULL (the queue), else
 * its first 256 bytes (enough for a log line or an SMTP reply).  Nothing
 * here calls malloc or stdio: libuv writes to a pipe from its signal
 * handler, so the write wrapper must stay async-signal-safe.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define SYSREC_PREFIX 256
#define SYSREC_IOV 64

static _Atomic unsigned long sysrec_seq;
static int sysrec_fd = -2;               /* -2: not opened yet, -1: disabled */
static char sysrec_full[PATH_MAX];

/* sysrec_trace_fd - the trace file, opened once (racy first call is harmless:
 * both threads open it O_APPEND, one fd leaks); only in the program named
 * $DOMSEC_SYSREC_PROG if set (not in a wrapper such as env(1) that execs
 * it: the sequence numbers start again in each program) */

static int sysrec_trace_fd(void)
{
    if (sysrec_fd == -2) {
        const char *p = getenv("DOMSEC_SYSREC"), *f = getenv("DOMSEC_SYSREC_FULL");
        const char *prog = getenv("DOMSEC_SYSREC_PROG");

        if (f != NULL)
            snprintf(sysrec_full, sizeof(sysrec_full), "%s", f);
        if (prog != NULL && strcmp(prog, program_invocation_short_name) != 0)
            p = NULL;
        sysrec_fd = p == NULL ? -1 : (int)syscall(SYS_openat, AT_FDCWD, p,
                                                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    }
    return sysrec_fd;
}

/* sysrec_fdpath - the path of fd (or "?") */

static void sysrec_fdpath(int fd, char *out, size_t n)
{
    char link[64];
    ssize_t r;

    if (fd == AT_FDCWD)
        fd = -1;
    snprintf(link, sizeof(link), fd < 0 ? "/proc/self/cwd" : "/proc/self/fd/%d", fd);
    r = readlink(link, out, n - 1);
    out[r < 0 ? 0 : r] = '\0';
    if (r < 0)
        snprintf(out, n, "?");
}

/* sysrec_atpath - dirfd + name as one path */

static void sysrec_atpath(int dirfd, const char *name, char *out, size_t n)
{
    char dir[PATH_MAX];

    if (name[0] == '/') {
        snprintf(out, n, "%s", name);
        return;
    }
    sysrec_fdpath(dirfd, dir, sizeof(dir));
    if (strlen(dir) + strlen(name) + 2 > n)
        snprintf(out, n, "?");
    else
        strcat(strcat(strcpy(out, dir), "/"), name);
}

/* sysrec_full_path - is the whole data of a write to path recorded */

static int sysrec_full_path(const char *path)
{
    size_t n = strlen(sysrec_full);

    return n > 0 && strncmp(path, sysrec_full, n) == 0;
}

/* sysrec_emit - write one record with up to dlen bytes of iov as its data */

static void sysrec_emit(unsigned long s0, unsigned long s1, const char *call, long ret, int err,
                        int fd, long long off, long long len, const char *path,
                        const char *path2, const struct iovec *iov, int iovcnt, size_t dlen)
{
    struct iovec out[SYSREC_IOV + 2];
    char head[2 * PATH_MAX + 256];
    size_t left = dlen;
    int n = 1, tfd = sysrec_trace_fd();

    if (tfd < 0)
        return;
    for (int i = 0; i < iovcnt && left > 0 && n <= SYSREC_IOV; i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;

        out[n].iov_base = iov[i].iov_base;
        out[n++].iov_len = take;
        left -= take;
    }
    dlen -= left;                       /* past SYSREC_IOV pieces: what fits */
    out[0].iov_base = head;
    out[0].iov_len = (size_t)snprintf(head, sizeof(head),
                                      "%lu %lu %ld %s %ld %d %d %lld %lld \"%s\" \"%s\" %zu\n",
                                      s0, s1, (long)syscall(SYS_gettid), call, ret, err, fd,
                                      off, len, path, path2 ? path2 : "", dlen);
    out[n].iov_base = "\n";
    out[n++].iov_len = 1;
    (void)syscall(SYS_writev, tfd, out, n);
}

/* sysrec_real - the next definition of a symbol */

static void *sysrec_real(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* sysrec_written - record a write-like call that returned ret */

static void sysrec_written(unsigned long s0, const char *call, int fd, long long off, long ret,
                           int err, const struct iovec *iov, int iovcnt)
{
    unsigned long s1 = atomic_fetch_add(&sysrec_seq, 1);
    char path[PATH_MAX];
    struct stat st;
    size_t dlen;

    if (sysrec_trace_fd() < 0)
        return;
    sysrec_fdpath(fd, path, sizeof(path));
    if (syscall(SYS_fstat, fd, &st) < 0 || !S_ISREG(st.st_mode))
        off = -1;
    else if (off < 0 && ret >= 0)
        off = (long long)lseek(fd, 0, SEEK_CUR) - ret;
    dlen = ret <= 0 ? 0 : (size_t)ret;
    if (!sysrec_full_path(path) && dlen > SYSREC_PREFIX)
        dlen = SYSREC_PREFIX;
    sysrec_emit(s0, s1, call, ret, err, fd, off, ret, path, NULL, iov, iovcnt, dlen);
}

#define SYSREC_BEGIN() unsigned long s0 = atomic_fetch_add(&sysrec_seq, 1); int saved

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    struct iovec v = { (void *)buf, n };
    SYSREC_BEGIN();
    ssize_t r;

    if (real == NULL)
        *(void **)&real = sysrec_real("write");
    r = real(fd, buf, n);
    saved = errno;
    if (fd != sysrec_fd)
        sysrec_written(s0, "write", fd, -1, r, r < 0 ? saved : 0, &v, 1);
    errno = saved;
    return r;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    SYSREC_BEGIN();
    ssize_t r;

    if (real == NULL)
        *(void **)&real = sysrec_real("writev");
    r = real(fd, iov, iovcnt);
    saved = errno;
    sysrec_written(s0, "writev", fd, -1, r, r < 0 ? saved : 0, iov, iovcnt);
    errno = saved;
    return r;
}

/* sysrec_pwrite - pwrite and pwrite64 (the same on LP64) */

static ssize_t sysrec_pwrite(const char *name, int fd, const void *buf, size_t n, off_t off)
{
    ssize_t (*real)(int, const void *, size_t, off_t);
    struct iovec v = { (void *)buf, n };
    SYSREC_BEGIN();
    ssize_t r;

    *(void **)&real = sysrec_real(name);
    r = real(fd, buf, n, off);
    saved = errno;
    sysrec_written(s0, "pwrite", fd, (long long)off, r, r < 0 ? saved : 0, &v, 1);
    errno = saved;
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return sysrec_pwrite("pwrite", fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return sysrec_pwrite("pwrite64", fd, buf, n, off);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    struct iovec v = { (void *)buf, n };
    SYSREC_BEGIN();
    ssize_t r;

    if (real == NULL)
        *(void **)&real = sysrec_real("send");
    r = real(fd, buf, n, flags);
    saved = errno;
    sysrec_written(s0, "send", fd, -1, r, r < 0 ? saved : 0, &v, 1);
    errno = saved;
    return r;
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa,
               socklen_t salen)
{
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    struct iovec v = { (void *)buf, n };
    SYSREC_BEGIN();
    ssize_t r;

    if (real == NULL)
        *(void **)&real = sysrec_real("sendto");
    r = real(fd, buf, n, flags, sa, salen);
    saved = errno;
    sysrec_written(s0, "sendto", fd, -1, r, r < 0 ? saved : 0, &v, 1);
    errno = saved;
    return r;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*real)(int, const struct msghdr *, int);
    SYSREC_BEGIN();
    ssize_t r;

    if (real == NULL)
        *(void **)&real = sysrec_real("sendmsg");
    r = real(fd, msg, flags);
    saved = errno;
    sysrec_written(s0, "sendmsg", fd, -1, r, r < 0 ? saved : 0, msg->msg_iov,
                   (int)msg->msg_iovlen);
    errno = saved;
    return r;
}

/* sysrec_sync - fsync and fdatasync */

static int sysrec_sync(const char *name, int fd)
{
    int (*real)(int);
    SYSREC_BEGIN();
    char path[PATH_MAX];
    int r;

    *(void **)&real = sysrec_real(name);
    r = real(fd);
    saved = errno;
    if (sysrec_trace_fd() >= 0) {
        sysrec_fdpath(fd, path, sizeof(path));
        sysrec_emit(s0, atomic_fetch_add(&sysrec_seq, 1), name, r, r < 0 ? saved : 0, fd, -1, 0,
                    path, NULL, NULL, 0, 0);
    }
    errno = saved;
    return r;
}

int fsync(int fd)
{
    return sysrec_sync("fsync", fd);
}

int fdatasync(int fd)
{
    return sysrec_sync("fdatasync", fd);
}

/* sysrec_rename2 - every rename as renameat2 */

static int sysrec_rename2(const char *call, int ofd, const char *from, int nfd, const char *to,
                          unsigned flags)
{
    SYSREC_BEGIN();
    char p1[PATH_MAX], p2[PATH_MAX];
    int r;

    sysrec_atpath(ofd, from, p1, sizeof(p1));   /* before: the directory may move */
    sysrec_atpath(nfd, to, p2, sizeof(p2));
    r = (int)syscall(SYS_renameat2, ofd, from, nfd, to, flags);
    saved = errno;
    sysrec_emit(s0, atomic_fetch_add(&sysrec_seq, 1), call, r, r < 0 ? saved : 0, -1, -1,
                (long long)flags, p1, p2, NULL, 0, 0);
    errno = saved;
    return r;
}

int rename(const char *from, const char *to)
{
    return sysrec_rename2("rename", AT_FDCWD, from, AT_FDCWD, to, 0);
}

int renameat(int ofd, const char *from, int nfd, const char *to)
{
    return sysrec_rename2("renameat", ofd, from, nfd, to, 0);
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
    return sysrec_rename2("renameat2", ofd, from, nfd, to, flags);
}

/* sysrec_unlink2 - unlink and unlinkat */

static int sysrec_unlink2(const char *call, int dirfd, const char *name, int flags)
{
    SYSREC_BEGIN();
    char p[PATH_MAX];
    int r;

    sysrec_atpath(dirfd, name, p, sizeof(p));
    r = (int)syscall(SYS_unlinkat, dirfd, name, flags);
    saved = errno;
    sysrec_emit(s0, atomic_fetch_add(&sysrec_seq, 1), call, r, r < 0 ? saved : 0, -1, -1,
                flags, p, NULL, NULL, 0, 0);
    errno = saved;
    return r;
}

int unlink(const char *name)
{
    return sysrec_unlink2("unlink", AT_FDCWD, name, 0);
}

int unlinkat(int dirfd, const char *name, int flags)
{
    return sysrec_unlink2("unlinkat", dirfd, name, flags);
}

/* sysrec_open2 - open and openat (and their 64 names): LEN is the flags */

static int sysrec_open2(const char *call, int dirfd, const char *name, int flags, mode_t mode)
{
    SYSREC_BEGIN();
    char p[PATH_MAX];
    int r;

    r = (int)syscall(SYS_openat, dirfd, name, flags, mode);
    saved = errno;
    if (sysrec_trace_fd() >= 0) {
        sysrec_atpath(dirfd, name, p, sizeof(p));
        sysrec_emit(s0, atomic_fetch_add(&sysrec_seq, 1), call, r, r < 0 ? saved : 0, r, -1,
                    flags, p, NULL, NULL, 0, 0);
    }
    errno = saved;
    return r;
}

#define SYSREC_MODE(flags, mode) do { \
        if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); \
            mode = va_arg(ap, mode_t); va_end(ap); } } while (0)

int open(const char *name, int flags, ...)
{
    mode_t mode = 0;

    SYSREC_MODE(flags, mode);
    return sysrec_open2("open", AT_FDCWD, name, flags, mode);
}

int open64(const char *name, int flags, ...)
{
    mode_t mode = 0;

    SYSREC_MODE(flags, mode);
    return sysrec_open2("open", AT_FDCWD, name, flags, mode);
}

int openat(int dirfd, const char *name, int flags, ...)
{
    mode_t mode = 0;

    SYSREC_MODE(flags, mode);
    return sysrec_open2("openat", dirfd, name, flags, mode);
}

int openat64(int dirfd, const char *name, int flags, ...)
{
    mode_t mode = 0;

    SYSREC_MODE(flags, mode);
    return sysrec_open2("openat", dirfd, name, flags, mode);
}
