/*
 * log_path.c - walking a directory path without following a symbolic link
 * that a less privileged user could have planted (the rule is in
 * log_path.h).
 *
 * CONTRACT
 *  log_path_open() and log_path_openat() are synchronous, may block on the
 *  disk and keep no state: any thread may call them.  The walk holds one
 *  descriptor, the directory reached so far (O_PATH), and opens the next
 *  component from it with openat(O_NOFOLLOW | O_DIRECTORY), after
 *  mkdirat() when asked; so a component renamed or replaced behind the
 *  walk cannot redirect it.  A symbolic link in a trusted directory is read
 *  (readlinkat) and its target put in front of what is left of the path,
 *  walked from "/" when absolute, else from the directory holding it; past
 *  LOG_PATH_MAX_LINKS links the walk fails with ELOOP, as the kernel's
 *  does.  "." is skipped; ".." is the physical parent.  The directory
 *  reached is reopened O_RDONLY for the caller.  Results and errors: see
 *  log_path.h.  No callbacks, nothing to cancel; allocation failure aborts
 *  (xmalloc).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"

#define LOG_PATH_MAX_LINKS 40
#define LOG_PATH_DIR (O_PATH | O_DIRECTORY | O_CLOEXEC)

struct log_walk {
    const char *subsys;                 /* of the refusal line; not copied */
    mode_t  mode;
    enum log_path_create create;
    int     fd;                         /* the directory reached (O_PATH), or -1 */
    char   *shown;                      /* its path for messages (NULL: the working
                                         * directory); xstrdup()ed */
    char   *rest;                       /* the path left to walk from pos; xstrdup()ed */
    size_t  pos;
    int     links;                      /* symbolic links followed */
};

/* log_path_trusted - may only root (or we) change the entries of directory fd? */

static bool log_path_trusted(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && (st.st_uid == 0 || st.st_uid == geteuid())
        && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* log_path_move - make fd, whose path is shown (taken), the directory reached */

static void log_path_move(struct log_walk *w, int fd, char *shown)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = fd;
    free(w->shown);
    w->shown = shown;
}

/* log_path_root - continue the walk from "/" */

static int log_path_root(struct log_walk *w)
{
    int     fd = open("/", LOG_PATH_DIR);

    if (fd < 0)
        return -1;
    log_path_move(w, fd, xstrdup(""));
    return 0;
}

/* log_path_skip - past slashes and "." components */

static const char *log_path_skip(const char *p)
{
    for (;;) {
        p += strspn(p, "/");
        if (p[0] != '.' || (p[1] != '/' && p[1] != '\0'))
            return p;
        p++;
    }
}

/* log_path_next - the next component into name: 1, 0 at the end, -1 (errno) */

static int log_path_next(struct log_walk *w, char name[NAME_MAX + 1], bool *last)
{
    const char *p = log_path_skip(w->rest + w->pos);
    size_t  n = strcspn(p, "/");

    if (*p == '\0')
        return 0;
    if (n > NAME_MAX)
        return (errno = ENAMETOOLONG), -1;
    memcpy(name, p, n);
    name[n] = '\0';
    w->pos = (size_t)(p + n - w->rest);
    *last = *log_path_skip(p + n) == '\0';
    return 1;
}

/* log_path_follow - name is a symbolic link: walk its target next, if trusted */

static int log_path_follow(struct log_walk *w, const char *name)
{
    char    target[PATH_MAX], *rest;
    ssize_t n;

    if (!log_path_trusted(w->fd)) {
        log_errx(w->subsys, 0, "%s%s%s is a symbolic link: refusing to follow it%s",
                 w->shown ? w->shown : "", w->shown ? "/" : "", name,
                 geteuid() == 0 ? " as root" : "");
        return (errno = ELOOP), -1;
    }
    if (++w->links > LOG_PATH_MAX_LINKS)
        return (errno = ELOOP), -1;
    if ((n = readlinkat(w->fd, name, target, sizeof(target))) < 0)
        return -1;
    if ((size_t)n == sizeof(target))
        return (errno = ENAMETOOLONG), -1;
    target[n] = '\0';
    rest = xasprintf("%s/%s", target, w->rest + w->pos);
    free(w->rest);
    w->rest = rest;
    w->pos = 0;
    return target[0] == '/' ? log_path_root(w) : 0;
}

/* log_path_step - into component name of the directory reached */

static int log_path_step(struct log_walk *w, const char *name, bool last)
{
    struct stat st;
    int     fd, err;

    if ((w->create == LOG_PATH_MKDIRS || (last && w->create == LOG_PATH_MKDIR))
        && mkdirat(w->fd, name, w->mode) < 0 && errno != EEXIST)
        return -1;
    if ((fd = openat(w->fd, name, LOG_PATH_DIR | O_NOFOLLOW)) >= 0) {
        log_path_move(w, fd, w->shown ? xasprintf("%s/%s", w->shown, name) : xstrdup(name));
        return 0;
    }
    err = errno;
    if ((err == ENOTDIR || err == ELOOP) && fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISLNK(st.st_mode))
        return log_path_follow(w, name);
    return (errno = err), -1;
}

/* log_path_openat - open directory path below dirfd, never through an untrusted link */

int log_path_openat(const char *subsys, int dirfd, const char *dirpath, const char *path,
                    mode_t mode, enum log_path_create create)
{
    struct log_walk w = { .subsys = subsys, .mode = mode, .create = create, .fd = -1 };
    char    name[NAME_MAX + 1];
    bool    last;
    int     r = 0, err;

    if (*path == '\0')
        return (errno = ENOENT), -1;
    w.rest = xstrdup(path);
    if (path[0] == '/')
        r = log_path_root(&w);
    else if ((w.fd = dirfd == AT_FDCWD ? open(".", LOG_PATH_DIR)
              : fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
        r = -1;
    else
        w.shown = dirpath ? xstrdup(dirpath) : NULL;
    while (r == 0 && (r = log_path_next(&w, name, &last)) > 0)
        r = log_path_step(&w, name, last);
    if (r == 0)
        r = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    err = errno;
    if (w.fd >= 0)
        close(w.fd);
    free(w.rest);
    free(w.shown);
    errno = err;
    return r;
}

/* log_path_open - open directory path, never through an untrusted link */

int log_path_open(const char *subsys, const char *path, mode_t mode,
                  enum log_path_create create)
{
    return log_path_openat(subsys, AT_FDCWD, NULL, path, mode, create);
}

/* log_path_kind - what a directory entry of type mode is, for messages */

const char *log_path_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:  return "regular file";
    case S_IFDIR:  return "directory";
    case S_IFLNK:  return "symbolic link";
    case S_IFIFO:  return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR:  return "character device";
    case S_IFBLK:  return "block device";
    default:       return "unknown file type";
    }
}
