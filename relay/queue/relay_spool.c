/*
 * relay_spool.c - write one message into incoming/ without blocking the loop.
 *
 * The session appends bytes; they collect in memory.  A small message never
 * touches the disk before commit: the commit thread creates, writes, syncs
 * and renames it in one go.  A large one is written in the background as
 * the buffer fills (relay_spool_flush, on libuv's thread pool), so a
 * session holds at most two buffers of RELAY_SPOOL_CHUNK, never the whole
 * message.  The data-length field in the envelope is a 16-digit
 * placeholder until commit fills it in.
 *
 * CONTRACT
 *  One spool belongs to one worker loop; all calls are made on it.  Flush,
 *  commit and abort callbacks run later on that loop, never inside the call.
 *  After relay_spool_abort() no flush or commit callback runs; once any
 *  background write has finished, the temporary file is removed, then the
 *  abort callback (if not NULL) runs with 0 and the spool is freed (at once
 *  when there is no file and no callback).  After the commit callback
 *  returns the spool is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay_commit.h"
#include "relay_qmsg.h"
#include "relay_spool.h"
#include "relay_worker.h"

#define RELAY_SPOOL_PLACEHOLDER "data 0000000000000000\n"

struct relay_spool {
    struct relay_worker *worker;
    char    id[RELAY_QID_LEN + 1];
    int     fd;                         /* -1 until the first background write */
    char   *buf;                        /* owned: bytes not yet written */
    size_t  len, cap;
    uint64_t file_off;                  /* bytes already in the file */
    uint64_t data_start;                /* file offset of the message bytes */
    uint64_t len_off;                   /* file offset of the 16 hex digits */
    /* Background write. */
    uv_work_t work;
    char   *wbuf;                       /* owned while in flight */
    size_t  wlen;
    int     werr;
    char   *records;                    /* owned: written after "end" at commit, or NULL */
    bool    busy, aborted, unlinking;
    relay_spool_cb cb;
    void   *arg;
    struct relay_commit_req req;
};

/* relay_spool_begin - start a message with its envelope */

struct relay_spool *relay_spool_begin(struct relay_worker *w, const char *id,
                                      const char *envelope, size_t envlen)
{
    struct relay_spool *sp = xcalloc(1, sizeof(*sp));

    sp->worker = w;
    memcpy(sp->id, id, RELAY_QID_LEN + 1);
    sp->fd = -1;
    sp->cap = envlen + sizeof(RELAY_SPOOL_PLACEHOLDER) + 4096;
    sp->buf = xmalloc(sp->cap);
    memcpy(sp->buf, envelope, envlen);
    memcpy(sp->buf + envlen, RELAY_SPOOL_PLACEHOLDER, sizeof(RELAY_SPOOL_PLACEHOLDER) - 1);
    sp->len = envlen + sizeof(RELAY_SPOOL_PLACEHOLDER) - 1;
    sp->len_off = envlen + 5;
    sp->data_start = sp->len;
    return sp;
}

/* relay_spool_append - buffer message bytes */

void relay_spool_append(struct relay_spool *sp, const void *p, size_t n)
{
    if (sp->len + n > sp->cap) {
        while (sp->cap < sp->len + n)
            sp->cap *= 2;
        sp->buf = xrealloc(sp->buf, sp->cap);
    }
    memcpy(sp->buf + sp->len, p, n);
    sp->len += n;
}

/* relay_spool_set_record - records the commit writes after "end" */

void relay_spool_set_record(struct relay_spool *sp, const char *records)
{
    free(sp->records);
    sp->records = records != NULL ? xstrdup(records) : NULL;
}

/* relay_spool_buffered - bytes waiting in memory */

size_t relay_spool_buffered(const struct relay_spool *sp)
{
    return sp->len;
}

/* relay_spool_size - message bytes so far */

uint64_t relay_spool_size(const struct relay_spool *sp)
{
    return sp->file_off + sp->wlen + sp->len - sp->data_start;
}

/* relay_spool_busy - background write in flight */

bool relay_spool_busy(const struct relay_spool *sp)
{
    return sp->busy;
}

/* relay_spool_write_work - thread pool: create if needed, write */

static void relay_spool_write_work(uv_work_t *req)
{
    struct relay_spool *sp = req->data;
    const char *p = sp->wbuf;
    size_t n = sp->wlen;
    uint64_t off = sp->file_off;

    sp->werr = 0;
    if (sp->fd < 0 && (sp->fd = openat(relay_queue_dirfd(RELAY_QDIR_INCOMING), sp->id,
                                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        sp->werr = -errno;
        return;
    }
    while (n > 0) {
        ssize_t w = pwrite(sp->fd, p, n, (off_t)off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            sp->werr = -errno;
            return;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

/* relay_spool_unlink_work - thread pool: close and remove the file */

static void relay_spool_unlink_work(uv_work_t *req)
{
    struct relay_spool *sp = req->data;

    if (sp->fd >= 0) {
        close(sp->fd);
        sp->fd = -1;
        (void)unlinkat(relay_queue_dirfd(RELAY_QDIR_INCOMING), sp->id, 0);
    }
}

/* relay_spool_free - release memory */

static void relay_spool_free(struct relay_spool *sp)
{
    free(sp->buf);
    free(sp->wbuf);
    free(sp->records);
    free(sp);
}

/* relay_spool_unlinked - after the file is gone */

static void relay_spool_unlinked(uv_work_t *req, int status)
{
    struct relay_spool *sp = req->data;

    if (sp->cb != NULL)
        sp->cb(sp, 0, sp->arg);
    relay_spool_free(sp);
}

/* relay_spool_discard - remove the file in the background, then free */

static void relay_spool_discard(struct relay_spool *sp)
{
    sp->unlinking = true;
    if (sp->fd < 0 && sp->cb == NULL) {
        relay_spool_free(sp);           /* no file, nobody waiting */
        return;
    }
    sp->work.data = sp;
    if (uv_queue_work(&sp->worker->loop, &sp->work, relay_spool_unlink_work,
                      relay_spool_unlinked) != 0)
        log_panic("spool", "uv_queue_work refused id=%s", sp->id);  /* only EINVAL */
}

/* relay_spool_written - loop: a background write finished */

static void relay_spool_written(uv_work_t *req, int status)
{
    struct relay_spool *sp = req->data;

    sp->busy = false;
    if (sp->werr == 0)
        sp->file_off += sp->wlen;
    free(sp->wbuf);
    sp->wbuf = NULL;
    sp->wlen = 0;
    if (sp->aborted) {
        relay_spool_discard(sp);
        return;
    }
    sp->cb(sp, sp->werr, sp->arg);
}

/* relay_spool_flush - write buffered bytes in the background */

int relay_spool_flush(struct relay_spool *sp, relay_spool_cb cb, void *arg)
{
    int r;

    if (sp->busy)
        return -EBUSY;
    sp->wbuf = sp->buf;
    sp->wlen = sp->len;
    sp->cap = sp->cap < 4096 ? 4096 : sp->cap;
    sp->buf = xmalloc(sp->cap);
    sp->len = 0;
    sp->cb = cb;
    sp->arg = arg;
    sp->busy = true;
    sp->work.data = sp;
    if ((r = uv_queue_work(&sp->worker->loop, &sp->work, relay_spool_write_work,
                           relay_spool_written)) != 0) {
        sp->busy = false;
        return r;
    }
    return 0;
}

/* relay_spool_committed - loop: the commit thread is done with it */

static void relay_spool_committed(struct relay_commit_req *req)
{
    struct relay_spool *sp = (struct relay_spool *)((char *)req
                                                    - offsetof(struct relay_spool, req));

    /* The whole file is in sp->buf (never written in the background): the
     * queue manager's load and first round take it from there. */
    if (req->status == 0 && sp->file_off == 0 && sp->len < sp->cap
        && relay_qmsg_stash(sp->id, sp->buf, sp->len))
        sp->buf = NULL;
    sp->cb(sp, req->status, sp->arg);
    relay_spool_free(sp);
}

/* relay_spool_commit - finish the message durably */

void relay_spool_commit(struct relay_spool *sp, relay_spool_cb cb, void *arg)
{
    uint64_t msglen;
    char hex[17];

    if (sp->busy)
        log_panic("spool", "commit while a write is in flight id=%s", sp->id);
    msglen = sp->file_off + sp->len - sp->data_start;
    snprintf(hex, sizeof(hex), "%016llX", (unsigned long long)msglen);
    relay_spool_append(sp, "end\n", 4);
    if (sp->records != NULL)            /* made durable with the rest */
        relay_spool_append(sp, sp->records, strlen(sp->records));
    sp->cb = cb;
    sp->arg = arg;
    memset(&sp->req, 0, sizeof(sp->req));
    sp->req.worker = sp->worker;
    memcpy(sp->req.id, sp->id, sizeof(sp->id));
    sp->req.fd = sp->fd;
    sp->fd = -1;                        /* the commit thread closes it */
    sp->req.buf = sp->buf;
    sp->req.len = sp->len;
    sp->req.file_off = sp->file_off;
    if (sp->len_off >= sp->file_off) {  /* placeholder still in memory */
        memcpy(sp->buf + (sp->len_off - sp->file_off), hex, 16);
    } else {
        memcpy(sp->req.patch, hex, 16);
        sp->req.patch_len = 16;
        sp->req.patch_off = sp->len_off;
    }
    sp->req.done = relay_spool_committed;
    relay_commit__submit(&sp->req);
}

/* relay_spool_abort - drop the message */

void relay_spool_abort(struct relay_spool *sp, relay_spool_cb cb, void *arg)
{
    sp->aborted = true;
    sp->cb = cb;
    sp->arg = arg;
    if (sp->busy)
        return;                         /* relay_spool_written finishes it */
    relay_spool_discard(sp);
}
