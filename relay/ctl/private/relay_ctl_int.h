/*
 * relay_ctl_int.h - what relay_ctl.c shares with the handler files of
 * relay/ctl/ (not for other folders).  Main loop only.
 */
#ifndef DOMSEC_RELAY_CTL_INT_H
#define DOMSEC_RELAY_CTL_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "relay_ctl.h"

/* The control socket's file (relay_ctl_sock.c).  Private. */
struct ctl_sock {
    int     dirfd;                      /* its directory, open; -1 none */
    char    name[NAME_MAX + 1];         /* its name there */
    uid_t   uid;                        /* the service user and group */
    gid_t   gid;
    bool    as_user;                    /* root, in a directory not root's alone */
    dev_t   dev;                        /* the inode bound (ino 0: unknown) */
    ino_t   ino;
};

/* relay_ctl.c */
/* The server's operations (never NULL while the server runs). */
const struct relay_ctl_ops *ctl__ops(void);
/* When the daemon started (Unix ms). */
int64_t ctl__started_ms(void);
/* Wall clock, Unix ms. */
int64_t ctl__now_ms(void);

/* relay_ctl_sock.c */
/* A socket bound at path, mode 0660, owned by uid:gid when root made it
 * in a directory not root's alone (root:gid otherwise); the directory is
 * made 0750 for uid:gid when root finds it missing.  The descriptor (not
 * listening yet) is the caller's; -1 after the error is logged. */
int     ctl__sock_open(struct ctl_sock *s, const char *path, uid_t uid, gid_t gid);
/* Remove the socket if path's name is still the inode bound; idempotent. */
void    ctl__sock_remove(struct ctl_sock *s, const char *path);

#endif
