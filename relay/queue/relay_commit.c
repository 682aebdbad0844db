/*
 * relay_commit.c - the group-commit thread: makes spooled messages durable.
 *
 * One thread takes every commit request submitted since its last round as
 * one batch: for each, write the remaining bytes, fdatasync and close the
 * file; then rename every good file from incoming/ into messages/ and
 * fsync messages/ once for the whole batch.  Sessions that finish DATA
 * together therefore share the directory fsync (and, on journaling file
 * systems, most of the journal commit of the file fsyncs).
 *
 * CONTRACT
 *  relay_commit__submit() is called on a worker loop with a request owned
 *  by relay_spool.c; the request comes back on the same worker loop through
 *  relay_commit_deliver(), which calls req->done(req) with req->status = 0
 *  (durable in messages/) or -errno (nothing queued; the temporary file
 *  has been removed).  Completion never runs inside submit.
 *  relay_commit_stop() finishes every submitted request before it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay_commit.h"
#include "relay_spool.h"
#include "relay_worker.h"

static uv_thread_t relay_commit_thread;
static uv_mutex_t relay_commit_lock;
static uv_cond_t relay_commit_cond;
static struct relay_commit_req *relay_commit_head, *relay_commit_tail;
static bool relay_commit_stopping, relay_commit_running;

/* relay_commit_write - pwrite all or fail with -errno */

static int relay_commit_write(int fd, const char *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* relay_commit_file - make one file complete and stable (before rename) */

static int relay_commit_file(struct relay_commit_req *r)
{
    int incoming = relay_queue_dirfd(RELAY_QDIR_INCOMING), st;

    if (r->fd < 0 && (r->fd = openat(incoming, r->id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                     0600)) < 0)
        return -errno;
    if ((st = relay_commit_write(r->fd, r->buf, r->len, r->file_off)) < 0)
        return st;
    if (r->patch_len && (st = relay_commit_write(r->fd, r->patch, sizeof(r->patch),
                                                 r->patch_off)) < 0)
        return st;
    if (fdatasync(r->fd) < 0)
        return -errno;
    return 0;
}

/* relay_commit_batch - process one batch of requests */

static void relay_commit_batch(struct relay_commit_req *batch)
{
    int incoming = relay_queue_dirfd(RELAY_QDIR_INCOMING);
    int messages = relay_queue_dirfd(RELAY_QDIR_MESSAGES);
    struct relay_commit_req *r, *next;
    size_t renamed = 0;

    for (r = batch; r != NULL; r = r->next) {
        r->status = relay_commit_file(r);
        if (r->fd >= 0 && close(r->fd) < 0 && r->status == 0)
            r->status = -errno;
        r->fd = -1;
        if (r->status == 0) {
            if (renameat2(incoming, r->id, messages, r->id, RENAME_NOREPLACE) < 0)
                r->status = -errno;
            else
                renamed++;
        }
        if (r->status != 0)
            (void)unlinkat(incoming, r->id, 0);
    }
    if (renamed > 0 && fsync(messages) < 0) {
        int e = -errno;

        /* The renames may not be durable: refuse them all (the client
         * retries; a duplicate is possible, a loss is not). */
        log_err("queue", 0, "fsync of messages directory failed");
        for (r = batch; r != NULL; r = r->next)
            if (r->status == 0) {
                (void)unlinkat(messages, r->id, 0);
                r->status = e;
            }
    }
    for (r = batch; r != NULL; r = next) {
        struct relay_worker *w = r->worker;

        next = r->next;
        r->next = NULL;
        uv_mutex_lock(&w->lock);
        if (w->done_tail)
            w->done_tail->next = r;
        else
            w->done_head = r;
        w->done_tail = r;
        /* Send under the lock: a worker cannot close wake in between (it
         * holds sessions, so pending commits, until this is delivered). */
        if (!w->wake_closed)
            uv_async_send(&w->wake);
        uv_mutex_unlock(&w->lock);
    }
}

/* relay_commit_main - thread body */

static void relay_commit_main(void *unused)
{
    for (;;) {
        struct relay_commit_req *batch;

        uv_mutex_lock(&relay_commit_lock);
        while (relay_commit_head == NULL && !relay_commit_stopping)
            uv_cond_wait(&relay_commit_cond, &relay_commit_lock);
        batch = relay_commit_head;
        relay_commit_head = relay_commit_tail = NULL;
        if (batch == NULL) {            /* stopping and drained */
            uv_mutex_unlock(&relay_commit_lock);
            return;
        }
        uv_mutex_unlock(&relay_commit_lock);
        relay_commit_batch(batch);
    }
}

/* relay_commit_start - start the thread */

int relay_commit_start(void)
{
    int r;

    uv_mutex_init(&relay_commit_lock);
    uv_cond_init(&relay_commit_cond);
    relay_commit_stopping = false;
    if ((r = uv_thread_create(&relay_commit_thread, relay_commit_main, NULL)) != 0)
        return r;
    relay_commit_running = true;
    return 0;
}

/* relay_commit_stop - drain and join */

void relay_commit_stop(void)
{
    if (!relay_commit_running)
        return;
    uv_mutex_lock(&relay_commit_lock);
    relay_commit_stopping = true;
    uv_cond_signal(&relay_commit_cond);
    uv_mutex_unlock(&relay_commit_lock);
    uv_thread_join(&relay_commit_thread);
    uv_cond_destroy(&relay_commit_cond);
    uv_mutex_destroy(&relay_commit_lock);
    relay_commit_running = false;
}

/* relay_commit__submit - queue a request for the next batch */

void relay_commit__submit(struct relay_commit_req *req)
{
    req->next = NULL;
    uv_mutex_lock(&relay_commit_lock);
    if (relay_commit_tail)
        relay_commit_tail->next = req;
    else
        relay_commit_head = req;
    relay_commit_tail = req;
    uv_cond_signal(&relay_commit_cond);
    uv_mutex_unlock(&relay_commit_lock);
}

/* relay_commit_deliver - on the worker loop: complete finished requests */

void relay_commit_deliver(struct relay_worker *w)
{
    struct relay_commit_req *r, *next;

    uv_mutex_lock(&w->lock);
    r = w->done_head;
    w->done_head = w->done_tail = NULL;
    uv_mutex_unlock(&w->lock);
    for (; r != NULL; r = next) {
        next = r->next;
        r->done(r);
    }
}
