/*
 * relay_qmsg.c - the delivery state of one queued message, on disk and in
 * memory.
 *
 * A queue file (relay_queue.c) ends with "end\n"; delivery appends state
 * records after it, one line each, and fdatasyncs before acting on them:
 *
 *   tls-required no                   (the receive side's, with "end": RFC 8689)
 *   rcpt <index> delivered|failed|deferred <unix-ms> <attempts> <text>
 *   next <unix-ms>
 *   delay <unix-ms>
 *   hold <unix-ms> <uid>              (queue administration, relay_qadmin.c)
 *   release <unix-ms> <uid>
 *   delete <unix-ms> <uid> bounce|plain
 *
 * Loading replays the records in order (the last one of a recipient wins,
 * and the last hold or release), skipping empty lines;
 * a torn last line (no newline: a crash during append) is ignored, and
 * m->torn tells the round's writer to end it before appending.  An
 * administration record always starts with a newline of its own (an empty
 * line at worst): it may be appended while a round's write is under way,
 * in either order, so it can neither use nor clear m->torn.  A record with a
 * damaged number (a sign, no digits, an overflow, other characters after
 * the digits) is skipped as an unknown line is, never misread.
 *
 * CONTRACT
 *  Every function doing I/O blocks and is meant for libuv's thread pool or
 *  start-up.  Paths are relative to the messages/ directory fd.  Returned
 *  objects and strings are owned by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "relay_qmsg.h"

#define RELAY_QMSG_HEADER_MAX (16u << 20)

static const char *const relay_qmsg_states[] = {
    [RELAY_R_PENDING] = "deferred", [RELAY_R_DELIVERED] = "delivered",
    [RELAY_R_FAILED] = "failed",
};

/* relay_qmsg_free - release a message */

void relay_qmsg_free(struct relay_qmsg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nrcpts; i++) {
        free(m->rcpts[i].addr);
        free(m->rcpts[i].last);
        free(m->rcpts[i].remote);
    }
    free(m->rcpts);
    free(m->sender);
    relay_qmsg_drop_data(m);
    free(m);
}

/* relay_qmsg_pread - read exactly n bytes at off; -ENODATA when the file
 * ends first (too short: its bytes say so), else -errno of the read */

static int relay_qmsg_pread(int fd, char *buf, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, (off_t)off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -ENODATA;
        buf += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* qmsg_tail_short - the file is too short for its data and end marker */

static bool qmsg_tail_short(const struct stat *st, const struct relay_qmsg *m)
{
    return m->data_off + m->data_len + 4 > (uint64_t)st->st_size;
}

/* relay_qmsg_envelope - sender and recipients from the header lines, which
 * relay_queue_parse_header has checked: one sender line, no NUL or other
 * control character inside <...> */

static void relay_qmsg_envelope(struct relay_qmsg *m, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len, *nl;
    size_t cap = 0;

    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
        if ((size_t)(nl - p) > 7 && memcmp(p, "sender <", 8) == 0) {
            m->sender = xstrndup(p + 8, (size_t)(nl - p) - 9);
        } else if ((size_t)(nl - p) > 6 && memcmp(p, "rcpt <", 6) == 0) {
            if (m->nrcpts == cap) {
                cap = cap ? cap * 2 : 4;
                m->rcpts = xrealloc(m->rcpts, cap * sizeof(*m->rcpts));
            }
            memset(&m->rcpts[m->nrcpts], 0, sizeof(m->rcpts[0]));
            m->rcpts[m->nrcpts++].addr = xstrndup(p + 6, (size_t)(nl - p) - 7);
        } else if ((size_t)(nl - p) > 5 && memcmp(p, "data ", 5) == 0) {
            return;
        }
    }
}

/* qmsg_num - the decimal field at *p, at most max, into *v and *p past it;
 * -1 for a sign, no digits, overflow or anything but a space or the end of
 * the line after the digits (sscanf("%llu") took "-1" and "12x") */

static int qmsg_num(const char **p, unsigned long long max, unsigned long long *v)
{
    const char *s = *p;
    char *e;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, &e, 10);
    if (errno == ERANGE || *v > max || (*e != ' ' && *e != '\0'))
        return -1;
    *p = e;
    return 0;
}

/* qmsg_replay_rcpt - apply "<index> <state> <unix-ms> <attempts> <text>";
 * -1 (nothing applied) when a field is damaged */

static int qmsg_replay_rcpt(struct relay_qmsg *m, const char *p)
{
    unsigned long long idx, ms, att;
    const char *state;
    size_t slen;
    struct relay_qrcpt *r;

    if (qmsg_num(&p, ULLONG_MAX, &idx) < 0 || idx >= m->nrcpts || *p++ != ' ')
        return -1;
    state = p;
    if ((slen = strcspn(p, " ")) == 0 || p[slen] != ' ')
        return -1;
    p += slen + 1;
    if (qmsg_num(&p, ULLONG_MAX, &ms) < 0 || *p++ != ' ' || qmsg_num(&p, UINT_MAX, &att) < 0)
        return -1;
    r = &m->rcpts[idx];
    r->state = slen == 9 && memcmp(state, "delivered", 9) == 0 ? RELAY_R_DELIVERED
             : slen == 6 && memcmp(state, "failed", 6) == 0 ? RELAY_R_FAILED : RELAY_R_PENDING;
    r->attempts = (unsigned)att;
    r->last_ms = ms;
    free(r->last);
    r->last = xstrdup(p + strspn(p, " "));
    return 0;
}

/* relay_qmsg_replay - apply the state records after "end\n" */

static void relay_qmsg_replay(struct relay_qmsg *m, char *p, char *end)
{
    char *nl;

    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
        const char *f;
        unsigned long long ms;

        *nl = '\0';
        f = p + strcspn(p, " ") + 1;   /* the first field (used after a keyword) */
        if (strncmp(p, "rcpt ", 5) == 0) {
            qmsg_replay_rcpt(m, f);
        } else if (strncmp(p, "next ", 5) == 0) {
            if (qmsg_num(&f, ULLONG_MAX, &ms) == 0) {
                m->next_ms = ms;
                m->rounds++;
                m->release_grace = false;
            }
        } else if (strncmp(p, "delay ", 6) == 0) {
            if (qmsg_num(&f, ULLONG_MAX, &ms) == 0)
                m->delay_ms = ms;
        } else if (strncmp(p, "hold ", 5) == 0) {
            if (qmsg_num(&f, ULLONG_MAX, &ms) == 0 && ms > 0)
                m->held_ms = ms;
        } else if (strncmp(p, "release ", 8) == 0) {
            if (qmsg_num(&f, ULLONG_MAX, &ms) == 0) {
                m->held_ms = 0;
                m->released_ms = ms;
                m->release_grace = true;        /* until a round follows ("next") */
            }
        } else if (strcmp(p, "tls-required no") == 0) {
            m->tls_required_no = !m->requiretls;        /* RFC 8689 4.1: REQUIRETLS wins */
        } else if (strncmp(p, "delete ", 7) == 0) {
            if (qmsg_num(&f, ULLONG_MAX, &ms) == 0) {
                m->delete_pending = true;
                m->delete_bounce = strstr(f, " bounce") != NULL;
            }
        }
        /* Unknown lines are skipped: a newer version may add records.  So
         * are damaged ones: the end of a torn line (a crash mid-append) may
         * sit anywhere, ended by the newline written before the next
         * append; skipping a record only delays or repeats an attempt. */
    }
}

/* qmsg_open - open queue file id (flags: O_RDONLY, or O_WRONLY|O_APPEND)
 * and fstat it into *st: the descriptor, or -errno with *why.  O_NONBLOCK:
 * a FIFO put in place of the file, even after the load, never blocks the
 * thread (an open for writing would wait for a reader; recovery opens the
 * same way); only a regular file is used: -EINVAL, "not a regular file". */

static int qmsg_open(int dirfd, const char *id, int flags, struct stat *st, const char **why)
{
    int fd = openat(dirfd, id, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY), e;

    if (fd < 0 && errno == ENXIO) {    /* a FIFO without reader, opened for writing */
        *why = "not a regular file";
        return -EINVAL;
    }
    if (fd < 0) {
        e = -errno;
        *why = e == -ENOENT ? "file removed" : "cannot open";
        return e;
    }
    if (fstat(fd, st) < 0) {
        e = -errno;
        *why = "cannot stat";
    } else if (!S_ISREG(st->st_mode)) {
        e = -EINVAL;
        *why = "not a regular file";
    } else {
        return fd;
    }
    close(fd);
    return e;
}

/* qmsg_make - the message from its checked header (qf, hdr) and its tail
 * t[0..tlen) from "end\n" on (written over: the replay cuts its lines) */

static struct relay_qmsg *qmsg_make(const struct relay_qfile *qf, const char *hdr, char *t,
                                    size_t tlen)
{
    struct relay_qmsg *m = xcalloc(1, sizeof(*m));

    memcpy(m->id, qf->id, sizeof(m->id));
    m->arrival_ms = qf->arrival_ms;
    m->data_off = qf->data_off;
    m->data_len = qf->data_len;
    m->requiretls = qf->requiretls;
    relay_qmsg_envelope(m, hdr, (size_t)qf->data_off);
    /* Before the replay, which overwrites every newline. */
    m->torn = tlen > 4 && t[tlen - 1] != '\n';
    relay_qmsg_replay(m, t + 4, t + tlen);
    return m;
}

/*
 * The stash: the image of a file the commit has just made durable, handed
 * by the receive side (relay_spool.c) so that the queue manager's load and
 * first round take it from memory instead of reading the file back.  Keyed
 * by id (ids are never reused), one slot per id modulo QMSG_STASH_SLOTS (a
 * collision drops the older image: that message is read from its file, as
 * any other).  Images stashed and bytes loaded from them but not yet freed
 * (m->data_stashed) count against QMSG_STASH_BYTES together, so messages
 * that wait for their first round cannot hold more memory than that.
 */
#define QMSG_STASH_SLOTS 1024
#define QMSG_STASH_BYTES (32u << 20)

static struct { char id[RELAY_QID_LEN + 1]; char *buf; size_t len; } qmsg_stash[QMSG_STASH_SLOTS];
static uv_mutex_t qmsg_stash_lock;
static uv_once_t qmsg_stash_once = UV_ONCE_INIT;
static size_t qmsg_stash_bytes;         /* under the lock */

static void qmsg_stash_init(void)
{
    uv_mutex_init(&qmsg_stash_lock);
}

/* qmsg_stash_slot - the slot of an id (16 hex digits) */

static size_t qmsg_stash_slot(const char *id)
{
    return (size_t)(strtoull(id + RELAY_QID_LEN - 4, NULL, 16) % QMSG_STASH_SLOTS);
}

/* qmsg_stash_count - add (or take back) n bytes of images: false when over the bound */

static bool qmsg_stash_count(size_t n, bool add)
{
    bool ok = true;

    uv_once(&qmsg_stash_once, qmsg_stash_init);
    uv_mutex_lock(&qmsg_stash_lock);
    if (!add)
        qmsg_stash_bytes -= n;
    else if ((ok = qmsg_stash_bytes + n <= QMSG_STASH_BYTES))
        qmsg_stash_bytes += n;
    uv_mutex_unlock(&qmsg_stash_lock);
    return ok;
}

/* relay_qmsg_stash - keep the image of a committed file (takes buf, of
 * cap >= len + 1 bytes) for the first load of id; false (buf not taken)
 * when it is too large or the bound is reached */

bool relay_qmsg_stash(const char *id, char *buf, size_t len)
{
    size_t i = qmsg_stash_slot(id);
    char *old = NULL;

    if (len > RELAY_QMSG_STASH_MAX || !qmsg_stash_count(len, true))
        return false;
    uv_mutex_lock(&qmsg_stash_lock);
    if (qmsg_stash[i].buf != NULL) {
        old = qmsg_stash[i].buf;
        qmsg_stash_bytes -= qmsg_stash[i].len;
    }
    memcpy(qmsg_stash[i].id, id, sizeof(qmsg_stash[i].id));
    qmsg_stash[i].buf = buf;
    qmsg_stash[i].len = len;
    uv_mutex_unlock(&qmsg_stash_lock);
    free(old);
    return true;
}

/* qmsg_stash_take - the image of id (the caller owns it then, still
 * counted), or NULL */

static char *qmsg_stash_take(const char *id, size_t *len)
{
    size_t i = qmsg_stash_slot(id);
    char *buf = NULL;

    uv_once(&qmsg_stash_once, qmsg_stash_init);
    uv_mutex_lock(&qmsg_stash_lock);
    if (qmsg_stash[i].buf != NULL && strcmp(qmsg_stash[i].id, id) == 0) {
        buf = qmsg_stash[i].buf;
        *len = qmsg_stash[i].len;
        qmsg_stash[i].buf = NULL;
    }
    uv_mutex_unlock(&qmsg_stash_lock);
    return buf;
}

/* relay_qmsg_stash_clear - drop every stashed image (at the stop) */

void relay_qmsg_stash_clear(void)
{
    uv_once(&qmsg_stash_once, qmsg_stash_init);
    uv_mutex_lock(&qmsg_stash_lock);
    for (size_t i = 0; i < QMSG_STASH_SLOTS; i++) {
        if (qmsg_stash[i].buf != NULL)
            qmsg_stash_bytes -= qmsg_stash[i].len;
        free(qmsg_stash[i].buf);
        qmsg_stash[i].buf = NULL;
    }
    uv_mutex_unlock(&qmsg_stash_lock);
}

/* relay_qmsg_drop_data - free m's bytes (and uncount them if stashed) */

void relay_qmsg_drop_data(struct relay_qmsg *m)
{
    if (m->data != NULL && m->data_stashed)
        qmsg_stash_count(m->data_stash_len, false);
    free(m->data);
    m->data = NULL;
    m->data_stashed = false;
}

/* qmsg_load_image - the message from a stashed image, with its bytes in
 * m->data (the image, moved to its start); the image is freed on failure */

static int qmsg_load_image(const char *id, char *img, size_t len, struct relay_qmsg **out,
                           const char **why)
{
    struct relay_qfile qf;
    struct relay_qmsg *m;
    uint64_t tail;

    if (relay_queue_parse(img, len, &qf, why) < 0 || strcmp(qf.id, id) != 0) {
        qmsg_stash_count(len, false);   /* never: the commit wrote it; the file decides */
        free(img);
        return -1;
    }
    tail = qf.data_off + qf.data_len;
    m = qmsg_make(&qf, img, img + tail, len - (size_t)tail);
    memmove(img, img + qf.data_off, (size_t)qf.data_len);
    img[qf.data_len] = '\0';            /* as relay_qmsg_read_data gives it */
    m->data = img;
    m->data_stashed = true;
    m->data_stash_len = len;
    *out = m;
    return 0;
}

/* relay_qmsg_load - read a queue file's envelope and delivery state (from
 * the stash, with the bytes, when the commit left its image there) */

int relay_qmsg_load(int dirfd, const char *id, struct relay_qmsg **out, const char **why)
{
    struct relay_qfile qf;
    struct stat st;
    char *buf = NULL, *img;
    size_t want, ilen;
    int fd, r = -1;

    *out = NULL;
    if ((img = qmsg_stash_take(id, &ilen)) != NULL
        && qmsg_load_image(id, img, ilen, out, why) == 0)
        return 0;
    if ((fd = qmsg_open(dirfd, id, O_RDONLY, &st, why)) < 0)
        return -1;
    want = (size_t)st.st_size < RELAY_QMSG_HEADER_MAX ? (size_t)st.st_size : RELAY_QMSG_HEADER_MAX;
    buf = xmalloc(want + 1);
    if (relay_qmsg_pread(fd, buf, want, 0) < 0)
        *why = "read error";
    else if (relay_queue_parse_header(buf, want, &qf, why) == 0) {
        uint64_t tail = qf.data_off + qf.data_len;

        if (strcmp(qf.id, id) != 0) {  /* its records and removal would hit another file */
            *why = "id does not match file name";
        } else if (qf.data_len > (uint64_t)st.st_size || tail + 4 > (uint64_t)st.st_size) {
            *why = "message data truncated or end marker missing";
        } else {
            size_t tlen = (size_t)((uint64_t)st.st_size - tail);
            char *t = xmalloc(tlen + 1);

            if (relay_qmsg_pread(fd, t, tlen, tail) < 0 || memcmp(t, "end\n", 4) != 0) {
                *why = "message data truncated or end marker missing";
            } else {
                *out = qmsg_make(&qf, buf, t, tlen);
                r = 0;
            }
            free(t);
        }
    }
    free(buf);
    close(fd);
    return r;
}

/*
 * relay_qmsg_verify - is the file still the message loaded: present, its
 * header parses, same id and data.  -ENOENT: gone; -EBADMSG: its bytes
 * were read and are not the message (only this may quarantine it); any
 * other -errno (EMFILE, EIO, ...): it could not be read now, nothing is
 * known about it - keep it and try again later.
 */
int relay_qmsg_verify(int dirfd, const struct relay_qmsg *m, const char **why)
{
    struct relay_qfile qf;
    struct stat st;
    size_t want = m->data_off < RELAY_QMSG_HEADER_MAX ? (size_t)m->data_off : RELAY_QMSG_HEADER_MAX;
    char *buf;
    int fd = qmsg_open(dirfd, m->id, O_RDONLY, &st, why), r = 0;

    if (fd == -EINVAL)                  /* not a regular file: not the message */
        return -EBADMSG;
    if (fd < 0)
        return fd;
    buf = xmalloc(want + 1);
    if ((r = relay_qmsg_pread(fd, buf, want, 0)) < 0) {
        *why = r == -ENODATA ? "file truncated" : "read error";
        if (r == -ENODATA)
            r = -EBADMSG;
    } else if (relay_queue_parse_header(buf, want, &qf, why) < 0) {
        r = -EBADMSG;
    } else if (strcmp(qf.id, m->id) != 0 || qf.data_off != m->data_off
               || qf.data_len != m->data_len
               || qmsg_tail_short(&st, m)) {
        *why = "header no longer matches the message";
        r = -EBADMSG;
    }
    free(buf);
    close(fd);
    return r;
}

/* qmsg_read_range - n bytes of file id at off, NUL-terminated; NULL with *err */

static char *qmsg_read_range(int dirfd, const char *id, uint64_t off, size_t n, int *err)
{
    struct stat st;
    const char *why;
    char *buf;
    int fd = qmsg_open(dirfd, id, O_RDONLY, &st, &why);

    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    buf = xmalloc(n + 1);
    if ((*err = relay_qmsg_pread(fd, buf, n, off)) < 0) {
        close(fd);
        free(buf);
        return NULL;
    }
    close(fd);
    buf[n] = '\0';
    *err = 0;
    return buf;
}

/* relay_qmsg_read_envelope - the header lines before the message bytes */

char *relay_qmsg_read_envelope(int dirfd, const struct relay_qmsg *m, int *err)
{
    return qmsg_read_range(dirfd, m->id, 0, m->data_off < RELAY_QMSG_HEADER_MAX
                           ? (size_t)m->data_off : RELAY_QMSG_HEADER_MAX, err);
}

/* relay_qmsg_read_data - the message bytes */

char *relay_qmsg_read_data(int dirfd, const struct relay_qmsg *m, int *err)
{
    return qmsg_read_range(dirfd, m->id, m->data_off, m->data_len, err);
}

/* relay_qmsg_append - append complete record lines durably */

int relay_qmsg_append(int dirfd, const char *id, const char *records, size_t len)
{
    struct stat st;
    const char *why;
    int fd = qmsg_open(dirfd, id, O_WRONLY | O_APPEND, &st, &why), e = 0;

    if (fd < 0)
        return fd;
    while (len > 0) {
        ssize_t w = write(fd, records, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            e = -errno;
            break;
        }
        records += w;
        len -= (size_t)w;
    }
    if (e == 0 && fdatasync(fd) < 0)
        e = -errno;
    close(fd);
    return e;
}

/*
 * Removals share the directory fsync (group commit, as reception's commit
 * thread does for renames): a removal's unlink has returned before it takes
 * a generation number, and a fsync of the same directory that starts after
 * that covers it.  So one removal syncs while the others that came in the
 * meantime wait, then return with its result.  A failed fsync fails every
 * removal it was to cover (and possibly a few others: an error is safe, the
 * file is gone from the namespace either way; a false success is not).
 */
static uv_mutex_t qmsg_dsync_lock;
static uv_cond_t qmsg_dsync_cond;
static uv_once_t qmsg_dsync_once = UV_ONCE_INIT;
static uint64_t qmsg_dsync_gen;         /* removals that asked for a sync */
static bool qmsg_dsync_busy;            /* a fsync is running */
static int qmsg_dsync_ok_fd = -1, qmsg_dsync_bad_fd = -1;
static uint64_t qmsg_dsync_ok_gen;      /* last successful fsync covered up to here */
static uint64_t qmsg_dsync_bad_gen;     /* last failed one was to cover up to here */
static int qmsg_dsync_bad_err;

static void qmsg_dsync_init(void)
{
    uv_mutex_init(&qmsg_dsync_lock);
    uv_cond_init(&qmsg_dsync_cond);
}

/* qmsg_dir_sync - fsync dirfd after a change that has returned: 0 or -errno */

static int qmsg_dir_sync(int dirfd)
{
    uint64_t my, target;
    int r;

    uv_once(&qmsg_dsync_once, qmsg_dsync_init);
    uv_mutex_lock(&qmsg_dsync_lock);
    my = ++qmsg_dsync_gen;
    for (;;) {
        /* Failure first: after a failed fsync Linux may have dropped the
         * dirty state it covered, so a later success proves nothing about
         * this change. */
        if (qmsg_dsync_bad_fd == dirfd && qmsg_dsync_bad_gen >= my) {
            r = qmsg_dsync_bad_err;
            break;
        }
        if (qmsg_dsync_ok_fd == dirfd && qmsg_dsync_ok_gen >= my) {
            r = 0;
            break;
        }
        if (qmsg_dsync_busy) {
            uv_cond_wait(&qmsg_dsync_cond, &qmsg_dsync_lock);
            continue;
        }
        qmsg_dsync_busy = true;
        target = qmsg_dsync_gen;
        uv_mutex_unlock(&qmsg_dsync_lock);
        r = fsync(dirfd) < 0 ? -errno : 0;
        uv_mutex_lock(&qmsg_dsync_lock);
        qmsg_dsync_busy = false;
        if (r == 0) {
            qmsg_dsync_ok_fd = dirfd;
            qmsg_dsync_ok_gen = target;
        } else {
            qmsg_dsync_bad_fd = dirfd;
            qmsg_dsync_bad_gen = target;
            qmsg_dsync_bad_err = r;
        }
        uv_cond_broadcast(&qmsg_dsync_cond);
        break;
    }
    uv_mutex_unlock(&qmsg_dsync_lock);
    return r;
}

/* relay_qmsg_remove - delete a finished message */

int relay_qmsg_remove(int dirfd, const char *id)
{
    if (unlinkat(dirfd, id, 0) < 0)
        return -errno;
    return qmsg_dir_sync(dirfd);
}

/* relay_qmsg_record_admin - append one administration record to a buffer,
 * after a newline that ends whatever line the file may end in */

void relay_qmsg_record_admin(const char *what, uint64_t ms, unsigned uid, const char *arg,
                             char **buf, size_t *len)
{
    char *line = xasprintf("\n%s %llu %u%s%s\n", what, (unsigned long long)ms, uid,
                           arg ? " " : "", arg ? arg : "");
    size_t n = strlen(line);

    *buf = xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, line, n + 1);
    *len += n;
    free(line);
}

/* relay_qmsg_record_rcpt - append one recipient record to a buffer */

void relay_qmsg_record_rcpt(const struct relay_qmsg *m, size_t i, char **buf, size_t *len)
{
    const struct relay_qrcpt *r = &m->rcpts[i];
    char *line = xasprintf("rcpt %zu %s %llu %u %s\n", i, relay_qmsg_states[r->state],
                           (unsigned long long)r->last_ms, r->attempts, r->last ? r->last : "");
    size_t n = strlen(line);

    *buf = xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, line, n + 1);
    *len += n;
    free(line);
}
