/*
 * swap_after_bind.c - LD_PRELOAD shim for test_root_nofollow.py: plays the
 * service user who wins the race between domsecd's bind() of its control
 * socket and whatever it does next.  After the first successful bind() of
 * an AF_UNIX socket whose path ends in "/control", the socket is renamed
 * to "control.bound" and a symbolic link control -> $DOMSEC_SWAP_TARGET
 * is put in its place, owned by $DOMSEC_SWAP_UID:$DOMSEC_SWAP_GID.  A
 * daemon that chmods or chowns by name after bind() then changes the
 * target; one that does not leaves it alone.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int     bind(int fd, const struct sockaddr *sa, socklen_t len);

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    static int done;
    int     (*real)(int, const struct sockaddr *, socklen_t);
    const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
    const char *target = getenv("DOMSEC_SWAP_TARGET");
    char    path[sizeof(un->sun_path) + 1], moved[sizeof(path) + 8];
    size_t  n;
    int     r;

    *(void **)&real = dlsym(RTLD_NEXT, "bind");
    r = real(fd, sa, len);
    if (r != 0 || done || target == NULL || sa->sa_family != AF_UNIX)
        return r;
    snprintf(path, sizeof(path), "%.*s", (int)sizeof(un->sun_path), un->sun_path);
    n = strlen(path);
    if (n < 8 || strcmp(path + n - 8, "/control") != 0)
        return r;
    done = 1;
    snprintf(moved, sizeof(moved), "%s.bound", path);
    if (rename(path, moved) != 0 || symlink(target, path) != 0
        || lchown(path, (uid_t)atoi(getenv("DOMSEC_SWAP_UID")),
                  (gid_t)atoi(getenv("DOMSEC_SWAP_GID"))) != 0)
        fprintf(stderr, "swap_after_bind: cannot swap %s: %m\n", path);
    else
        fprintf(stderr, "swap_after_bind: %s -> %s\n", path, target);
    return r;
}
