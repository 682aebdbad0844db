/*
 * log_path.h - open a directory by path the way root must: a symbolic link
 * in a directory that someone else can write is never followed.
 *
 * domsecd creates and opens its queue and log directories as root, then
 * hands them to the [service] user.  That user could later put
 * MessageTracking -> /etc there; the next start, still root, must refuse
 * it instead of creating, opening or chowning anything through it.  Here
 * for every layer that creates directories (logs/ itself, relay/).
 *
 * A directory is trusted when it belongs to root or to us and neither its
 * group nor others may write it.  The path is walked one component at a
 * time with openat(O_NOFOLLOW | O_DIRECTORY): a symbolic link found in a
 * trusted directory was put there by root (or us) and is followed, its
 * target walked the same way; one found anywhere else is refused with the
 * error "PATH is a symbolic link: refusing to follow it as root".
 */
#ifndef DOMSEC_LOG_PATH_H
#define DOMSEC_LOG_PATH_H

#include <sys/types.h>

enum log_path_create {
    LOG_PATH_OPEN,                      /* open only: every component must exist */
    LOG_PATH_MKDIR,                     /* create the last component if missing (mkdir) */
    LOG_PATH_MKDIRS                     /* create every missing component (mkdir -p) */
};

/* log_path.c */
/* The directory path (absolute, or relative to the working directory),
 * created as asked with mode (umask applies; existing directories keep
 * theirs).  A descriptor (O_RDONLY | O_DIRECTORY | O_CLOEXEC) the caller
 * closes, or -1 with errno set: ELOOP after a refused link, logged as an
 * error under subsys; otherwise not logged (the caller names the directory). */
int     log_path_open(const char *subsys, const char *path, mode_t mode,
                      enum log_path_create create);
/* The same for path relative to the open directory dirfd, whose path
 * dirpath is only used in the message.  dirfd stays the caller's. */
int     log_path_openat(const char *subsys, int dirfd, const char *dirpath, const char *path,
                        mode_t mode, enum log_path_create create);
/* What a directory entry of type mode (st_mode) is, for messages: "fifo",
 * "socket", "character device", "block device", "symbolic link",
 * "directory", "regular file"; a static string. */
const char *log_path_kind(mode_t mode);

#endif
