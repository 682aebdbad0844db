/*
 * relay_ctl_sock.c - the control socket's file: its directory, a stale
 * socket left by a killed daemon, the bind, and the removal at stop.
 *
 * domsecd started as root binds the socket before it drops privileges,
 * in a directory (/run/domsec by default) that belongs to the service
 * user, who could swap any name in it for a link between two of root's
 * steps.  So, as root (docs/ARCHITECTURE.md "Root-time file handling"):
 *  - the directory is opened once with log_path_open (no untrusted link
 *    followed) and everything after goes through that descriptor:
 *    fstatat/openat with O_NOFOLLOW, unlinkat, and bind/connect through
 *    /proc/self/fd/N (the directory, or the socket's O_PATH descriptor);
 *  - the file-system identity is the service user's (setfsuid/setfsgid)
 *    for every step in a directory that anybody but root may write, so
 *    the kernel creates the socket owned by that user and group, mode
 *    0660 from the umask, and nothing is chmodded or chowned by name;
 *    in a directory only root may write, fsgid alone is the service
 *    group (the socket is root:group 0660).
 * Without root (systemd's User=domsec) the same steps run as ourselves.
 *
 * CONTRACT
 *  Main thread only (the file-system identity is per thread).  Errors
 *  are logged here; the caller only stops.  ctl__sock_open returns a
 *  bound, not yet listening, socket (the caller's); struct ctl_sock keeps
 *  the directory descriptor until ctl__sock_remove, which removes the
 *  socket only while the name is still the inode it bound (never another
 *  daemon's, never a link put in its place) and closes the descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "relay_ctl_int.h"

/* ctl_fs_enter - take the identity the socket's files are made with (root only) */

static void ctl_fs_enter(const struct ctl_sock *s)
{
    if (geteuid() != 0)
        return;
    setfsgid(s->gid);
    if (s->as_user)
        setfsuid(s->uid);
    if ((gid_t)setfsgid((gid_t)-1) != s->gid
        || (s->as_user && (uid_t)setfsuid((uid_t)-1) != s->uid))
        log_panic("ctl", "cannot take file-system identity %u:%u", (unsigned)s->uid,
                  (unsigned)s->gid);
}

/* ctl_fs_leave - root's file-system identity again */

static void ctl_fs_leave(void)
{
    if (geteuid() != 0)
        return;
    setfsuid(0);
    setfsgid(getegid());
    if (setfsuid((uid_t)-1) != 0 || (gid_t)setfsgid((gid_t)-1) != getegid())
        log_panic("ctl", "cannot take back root's file-system identity");
}

/* ctl_fd_path - "/proc/self/fd/FD[/name]" into sa; false if it does not fit */

static bool ctl_fd_path(struct sockaddr_un *sa, int fd, const char *name)
{
    int     n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d%s%s", fd,
                         name ? "/" : "", name ? name : "");

    sa->sun_family = AF_UNIX;
    return n > 0 && (size_t)n < sizeof(sa->sun_path);
}

/* ctl_sock_dir - open the socket's directory; when root and missing, made 0750 for uid:gid */

static int ctl_sock_dir(struct ctl_sock *s, const char *path)
{
    char    buf[PATH_MAX];
    struct stat st;
    const char *dir;
    int     fd;

    snprintf(buf, sizeof(buf), "%s", path);
    snprintf(s->name, sizeof(s->name), "%s", basename(buf));
    snprintf(buf, sizeof(buf), "%s", path);
    dir = dirname(buf);
    fd = log_path_open("ctl", dir, 0750, LOG_PATH_OPEN);
    if (fd < 0 && errno == ENOENT) {
        fd = log_path_open("ctl", dir, 0750, LOG_PATH_MKDIR);
        if (fd >= 0 && (fchmod(fd, 0750) < 0
                        || (geteuid() == 0 && fchown(fd, s->uid, s->gid) < 0))) {
            log_err("ctl", 0, "cannot give %s to uid %u", dir, (unsigned)s->uid);
            close(fd);
            return -1;
        }
    }
    if (fd < 0) {
        if (errno != ELOOP)             /* a refused link is logged already */
            log_err("ctl", 0, "cannot open the control socket's directory %s", dir);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        log_err("ctl", 0, "control socket directory %s", dir);
        close(fd);
        return -1;
    }
    s->as_user = geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)));
    s->dirfd = fd;
    return 0;
}

/* ctl_sock_stale - is something answering at the name?  0 free (a dead socket removed), -1 logged */

static int ctl_sock_stale(struct ctl_sock *s, const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int     pfd, fd, r, e;

    if ((pfd = openat(s->dirfd, s->name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : (log_err("ctl", 0, "control socket %s", path), -1);
    if (fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        close(pfd);
        log_errx("ctl", 0, "control socket %s exists and is not a socket: remove it or set "
                 "[service] control_socket", path);
        return -1;
    }
    ctl_fd_path(&sa, pfd, NULL);        /* that very socket, whatever the name is now */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        close(pfd);
        return log_err("ctl", 0, "socket"), -1;
    }
    ctl_fs_enter(s);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    e = errno;
    ctl_fs_leave();
    close(fd);
    close(pfd);
    if (r == 0) {
        log_errx("ctl", 0, "another domsecd is running (control socket %s answers)", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        errno = e;
        log_err("ctl", 0, "control socket %s", path);
        return -1;
    }
    ctl_fs_enter(s);
    r = unlinkat(s->dirfd, s->name, 0);
    e = errno;
    ctl_fs_leave();
    if (r < 0 && e != ENOENT) {
        errno = e;
        return log_err("ctl", 0, "cannot remove the stale control socket %s", path), -1;
    }
    log_info("ctl", 0, "removed a stale control socket path=%s", path);
    return 0;
}

/* ctl_sock_bind - a socket bound at the name, mode 0660; -errno */

static int ctl_sock_bind(struct ctl_sock *s, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    mode_t  old;
    int     fd, r, e;

    if (!ctl_fd_path(&sa, s->dirfd, s->name)) {
        if (geteuid() == 0)             /* by name, root could be led elsewhere */
            return -ENAMETOOLONG;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    old = umask(0117);
    ctl_fs_enter(s);
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    e = errno;
    ctl_fs_leave();
    umask(old);
    if (r < 0) {
        close(fd);
        return -e;
    }
    if (fstatat(s->dirfd, s->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode)) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    return fd;
}

/* ctl__sock_open - a bound socket at path (the caller's), or -1 logged */

int ctl__sock_open(struct ctl_sock *s, const char *path, uid_t uid, gid_t gid)
{
    int     fd = -1;

    s->dirfd = -1;
    s->uid = uid;
    s->gid = gid;
    s->dev = 0;
    s->ino = 0;
    if (ctl_sock_dir(s, path) < 0)
        return -1;
    if (ctl_sock_stale(s, path) == 0 && (fd = ctl_sock_bind(s, path)) < 0)
        log_errx("ctl", 0, "cannot listen on control socket %s: %s%s", path, strerror(-fd),
                 s->as_user ? " (bound as the service user, who must be able to write its "
                 "directory)" : "");
    if (fd < 0) {
        close(s->dirfd);
        s->dirfd = -1;
        return -1;
    }
    return fd;
}

/* ctl__sock_remove - remove the socket if the name is still ours; forget the directory */

void ctl__sock_remove(struct ctl_sock *s, const char *path)
{
    struct stat st;
    int     r, e;

    if (s->dirfd < 0)
        return;
    if (fstatat(s->dirfd, s->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && s->ino != 0
        && S_ISSOCK(st.st_mode) && st.st_dev == s->dev && st.st_ino == s->ino) {
        ctl_fs_enter(s);
        r = unlinkat(s->dirfd, s->name, 0);
        e = errno;
        ctl_fs_leave();
        if (r < 0 && e == EACCES)
            log_info("ctl", 0, "control socket left path=%s (its directory is root's; the "
                     "next start removes it)", path);
        else if (r < 0 && e != ENOENT) {
            errno = e;
            log_warn("ctl", 0, "cannot remove control socket %s", path);
        }
    }
    close(s->dirfd);
    s->dirfd = -1;
}
