/*
 * relay_qmsg.h - a queued message's delivery state: the recipients with
 * their outcome so far, and the blocking file I/O of relay_qmsg.c (load,
 * read the bytes, append records, remove), run on the thread pool.  The
 * "Queue manager bookkeeping" fields belong to qmgr/ (relay_qmgr_int.h
 * says where a message is); relay_qmsg.c only zeroes them.
 */
#ifndef DOMSEC_RELAY_QMSG_H
#define DOMSEC_RELAY_QMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_spool.h"

enum relay_rstate { RELAY_R_PENDING, RELAY_R_DELIVERED, RELAY_R_FAILED };

struct relay_qrcpt {
    char   *addr;                       /* owned; without <> */
    enum relay_rstate state;
    unsigned attempts;
    char   *last;                       /* owned: last reply or reason (one line), or NULL */
    char   *remote;                     /* owned: host that gave `last`, or NULL */
    uint64_t last_ms;                   /* when `last` happened */
    bool    busy;                       /* in a job now */
    bool    dsn_due;                    /* failed, not yet reported in a DSN */
    bool    dirty;                      /* changed since the last record write */
    bool    note;                       /* outcome to log once its record is durable */
    uint64_t note_sid;                  /* session that produced it (0: the queue) */
};

struct qmgr_dwait;                      /* the queue manager's (relay_qmgr_int.h) */

struct relay_qmsg {
    char    id[RELAY_QID_LEN + 1];
    char   *sender;                     /* owned; "" = null sender */
    uint64_t arrival_ms;
    uint64_t next_ms;                   /* next attempt (0 = now) */
    uint64_t delay_ms;                  /* delay DSN queued at (0 = not yet) */
    uint64_t data_off, data_len;        /* message bytes in the file */
    unsigned rounds;                    /* delivery rounds with a deferral */
    uint64_t held_ms;                   /* held by an administrator at (0 = not held) */
    uint64_t released_ms;               /* last released at (0 = never) */
    bool    release_grace;              /* released, no round since: one attempt even
                                         * if expired */
    bool    delete_pending;             /* deleted by an administrator: remove (and
                                         * bounce) when the round ends */
    bool    delete_bounce;
    bool    requiretls;                 /* RFC 8689 REQUIRETLS: verified TLS to a next hop
                                         * that offers it, or a 5.7.10/5.7.30 bounce */
    bool    tls_required_no;            /* "TLS-Required: No" (RFC 8689 4.2.2, never with
                                         * requiretls): no MTA-STS policy applies */
    struct relay_qrcpt *rcpts;          /* owned */
    size_t  nrcpts;
    /* Queue manager bookkeeping. */
    int     jobs;                       /* jobs in flight */
    bool    io;                         /* a record write, DSN or removal under way */
    bool    conn_failure;               /* last round failed to connect anywhere */
    char   *data;                       /* owned: message bytes during a round, or NULL;
                                         * read once, borrowed by the round's jobs; freed
                                         * by relay_qmsg_drop_data */
    bool    data_stashed;               /* data came from the stash (counted there) */
    size_t  data_stash_len;             /* the image's size, as counted */
    bool    data_tried;                 /* the round's end is reading the bytes for its
                                         * DSN (a failed read: no DSN, retried later) */
    bool    in_round;                   /* counted in the qmgr's rounds in flight */
    struct qmgr_dwait **dwaits;         /* owned, in a round: the destinations it counts
                                         * against (the qmgr's; NULL: given back, its
                                         * job is back) */
    size_t  ndwaits;
    uint64_t io_retry_ms;               /* the round's end failed to read or to queue
                                         * its DSN: not again before (unix ms) */
    bool    torn;                       /* the file ends in a torn record (no newline) */
    bool    round_due;                  /* all jobs back: end the round after the writes */
    uint64_t due_ms;                    /* qmgr heap key: when to look at it next */
    size_t  heap_i;                     /* 1 + index in the qmgr heap, 0 = not in it */
    bool    queued;                     /* in a qmgr FIFO (due, blocked or held) */
    bool    admin_mark;                 /* qmgr: chosen by the administration request
                                         * being executed (relay_qadmin.c) */
    struct relay_qmsg *qnext;           /* that FIFO */
    struct relay_qmsg *next, *prev;     /* qmgr list of every message */
};

/* relay_qmsg.c: blocking I/O, run on the thread pool. */
/* Load messages/ID (from the stash when its image is there, with m->data
 * set): 0 and *out, or -1 and *why (the file is damaged as
 * relay_queue_parse_header says, or its header's id is not ID). */
int     relay_qmsg_load(int dirfd, const char *id, struct relay_qmsg **out, const char **why);
void    relay_qmsg_free(struct relay_qmsg *m);
/* Read the envelope (the header lines before "data", NUL-terminated); NULL
 * with *err = -errno (-EINVAL: not a regular file; opened without blocking). */
char   *relay_qmsg_read_envelope(int dirfd, const struct relay_qmsg *m, int *err);
/* The image of a file just committed (takes buf, whose size must be at
 * least len + 1), for the first relay_qmsg_load of id, which then also
 * sets m->data: the first round needs no read.  False (buf not taken) if
 * len > RELAY_QMSG_STASH_MAX or the stash's bound is reached.  Any thread. */
#define RELAY_QMSG_STASH_MAX (256u << 10)
bool    relay_qmsg_stash(const char *id, char *buf, size_t len);
void    relay_qmsg_stash_clear(void);
/* Free m->data (uncounted from the stash's bound if it came from there). */
void    relay_qmsg_drop_data(struct relay_qmsg *m);
/* Read the message bytes; NULL with *err = -errno. */
char   *relay_qmsg_read_data(int dirfd, const struct relay_qmsg *m, int *err);
/* Append records (complete lines) and fdatasync.  0 or -errno (-EINVAL: not
 * a regular file, e.g. a FIFO, which is never waited on). */
int     relay_qmsg_append(int dirfd, const char *id, const char *records, size_t len);
/* Remove the file and fsync the directory; removals running at the same
 * time on the thread pool share one fsync.  0 or -errno. */
int     relay_qmsg_remove(int dirfd, const char *id);
/* Is the file still the one loaded (present, header checks, same data)?
 * 0, -ENOENT (gone) or -EBADMSG (*why: what no longer checks, or "not a
 * regular file"), or another -errno (could not be read now). */
int     relay_qmsg_verify(int dirfd, const struct relay_qmsg *m, const char **why);
/* Administration records, appended to *buf: "hold MS UID", "release MS UID",
 * "delete MS UID bounce|plain". */
void    relay_qmsg_record_admin(const char *what, uint64_t ms, unsigned uid, const char *arg,
                                char **buf, size_t *len);
/* Record line for recipient i ("rcpt I STATE MS ATTEMPTS TEXT\n"); appended to *buf. */
void    relay_qmsg_record_rcpt(const struct relay_qmsg *m, size_t i, char **buf, size_t *len);

#endif
