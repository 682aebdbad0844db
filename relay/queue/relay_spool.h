/*
 * relay_spool.h - the durable queue: directories, file format, writing a
 * message (spool), and the group-commit thread that makes it durable.
 *
 * Layout under queue_directory: incoming/ (being written, not yet
 * acknowledged), messages/ (committed: the 250 was or will be sent),
 * corrupt/ (quarantine; never deleted by domsec).  File format: see
 * relay_queue.c and docs/ARCHITECTURE.md.
 */
#ifndef DOMSEC_RELAY_SPOOL_H
#define DOMSEC_RELAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct relay_worker;

#define RELAY_QID_LEN 16                /* hex digits */

enum relay_qdir { RELAY_QDIR_INCOMING, RELAY_QDIR_MESSAGES, RELAY_QDIR_CORRUPT, RELAY_QDIR_COUNT };

/* A parsed queue file.  Strings point into the caller's buffer (not copied). */
struct relay_qfile {
    char    id[RELAY_QID_LEN + 1];
    const char *sender;                 /* without <>; "" for the null sender */
    size_t  sender_len;
    size_t  nrcpts;
    uint64_t data_off;                  /* offset of the message bytes */
    uint64_t data_len;
    uint64_t arrival_ms;
    bool    requiretls;                 /* "requiretls yes": RFC 8689 REQUIRETLS */
};

/* relay_queue.c */
/* Create (as root: chown to uid/gid) and open the queue directories, never
 * through a symbolic link the service user could plant (log_path.h).  0 or
 * -errno (-ELOOP: such a link, logged). */
int     relay_queue_open(const char *dir, uid_t uid, gid_t gid);
void    relay_queue_close(void);
int     relay_queue_dirfd(enum relay_qdir which);
/* A new, unique queue id (16 uppercase hex). Thread-safe. */
void    relay_queue_new_id(char out[RELAY_QID_LEN + 1]);
/* Parse a whole queue file held in memory. 0, or -1 with *why set. */
int     relay_queue_parse(const char *buf, size_t len, struct relay_qfile *qf, const char **why);
/* Parse only the header (up to the "data" line) of a file's first bytes. */
int     relay_queue_parse_header(const char *buf, size_t len, struct relay_qfile *qf,
                                 const char **why);
/* Scan messages/ (quarantining corrupt files) and clean incoming/. 0 or -errno. */
int     relay_queue_recover(size_t *nmessages, size_t *ncorrupt);
/* Move messages/NAME to corrupt/ (never deleted; a numbered name if taken)
 * and log why.  Blocking. */
void    relay_queue_quarantine(const char *name, const char *why);

/* relay_spool.c: one message being written, owned by one worker loop. */
struct relay_spool;
typedef void (*relay_spool_cb)(struct relay_spool *sp, int status, void *arg);

/* Start a message; the envelope text (everything before "data") is copied. */
struct relay_spool *relay_spool_begin(struct relay_worker *w, const char *id,
                                      const char *envelope, size_t envlen);
void    relay_spool_append(struct relay_spool *sp, const void *p, size_t n);
/* Records (complete lines, copied) the commit writes right after "end";
 * replaces any set before.  NULL: none. */
void    relay_spool_set_record(struct relay_spool *sp, const char *records);
size_t  relay_spool_buffered(const struct relay_spool *sp);
uint64_t relay_spool_size(const struct relay_spool *sp);   /* message bytes so far */
bool    relay_spool_busy(const struct relay_spool *sp);    /* a write is in flight */
/*
 * Write the buffered bytes in the background.  cb runs later on the
 * worker loop with 0 or -errno (-ENOSPC, -EDQUOT for a full disk).
 * Returns -EBUSY if a write is already in flight.
 */
int     relay_spool_flush(struct relay_spool *sp, relay_spool_cb cb, void *arg);
/*
 * Finish: write the rest, fsync, rename into messages/, fsync the
 * directory (shared with other commits of the same batch).  cb runs later
 * with 0 (durable) or -errno (nothing queued); sp is freed after cb.
 */
void    relay_spool_commit(struct relay_spool *sp, relay_spool_cb cb, void *arg);
/*
 * Drop the message: nothing is queued and the temporary file is removed in
 * the background.  If cb is not NULL it runs later (never inside this
 * call) with status 0 once the file is gone, so a reply can wait for the
 * disk space to be free again; sp is freed after it.  Safe while a flush
 * is in flight (that flush's callback then never runs).
 */
void    relay_spool_abort(struct relay_spool *sp, relay_spool_cb cb, void *arg);

/* relay_commit.c: the group-commit thread. */
struct relay_commit_req;
int     relay_commit_start(void);
void    relay_commit_stop(void);        /* finish every submitted request, then join */
/* Called by relay_spool.c; completion is delivered via relay_commit_deliver(). */
void    relay_commit__submit(struct relay_commit_req *req);
/* Run on a worker loop: complete the requests the thread finished for it. */
void    relay_commit_deliver(struct relay_worker *w);

#endif
