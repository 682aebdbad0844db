/*
 * relay_sts_cache.c - the MTA-STS cache on disk: one file per policy
 * domain in mta_sts_cache_directory (created mode 0700 on the first
 * write), named after the domain in lower case; the format is
 * policy_sts_cache.c's.  A file is written to .D.PID.N.tmp, fsynced and renamed
 * (log_write_file); a policy that lapsed (no TXT record and max_age over)
 * has its file removed.
 *
 * Reading is lazy: a domain's file is read at its first lookup since the
 * start (or since it left the memory cache), before its TXT lookup; a
 * file that does not parse is ignored (logged) and replaced at the next
 * fetch.
 *
 * CONTRACT
 *  Called on the queue manager's loop; the file work runs on libuv's
 *  thread pool, which touches only the struct sts_io it is given (paths
 *  and bytes copied, the policy made there handed back in after_work).
 *  At most one piece of work per entry (e->io); relay__sts_io_done() is
 *  called in its after_work, always later.  Work is not cancelled at the
 *  stop: it is short, and the close waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "log_util.h"
#include "relay_sts_int.h"

/* One piece of pool work. */
struct sts_io {
    uv_work_t work;
    struct sts_entry *e;                /* touched only in after_work */
    char   *dir, *name;                 /* owned copies */
    char   *data;                       /* owned: the bytes to write; NULL: read or remove */
    size_t  len;
    bool    read;
    /* Results (set on the pool). */
    struct sts_policy *policy;          /* read: owned until handed over */
    const char *why;                    /* static */
    int     err;                        /* errno of a failed write / remove, or 0 */
};

/* io_new - work for e's file */

static struct sts_io *io_new(struct sts_entry *e)
{
    struct sts_io *io = xcalloc(1, sizeof(*io));

    io->e = e;
    io->dir = xstrdup(e->s->cache_dir);
    io->name = xstrdup(e->domain);
    io->work.data = io;
    e->io++;
    e->s->io++;
    return io;
}

/* io_work - on the pool: read, write or remove one file */

static void io_work(uv_work_t *w)
{
    struct sts_io *io = w->data;
    char *path = xasprintf("%s/%s", io->dir, io->name);
    unsigned char *buf = NULL;
    size_t len = 0;
    int fd;

    if (io->read) {
        if (log_read_file(path, POLICY_STS_MAX_BYTES + 4096, &buf, &len, NULL) < 0)
            io->why = errno == ENOENT ? NULL : "cannot read the cache file";
        else
            io->policy = policy_sts_cache_parse(io->name, (const char *)buf, len, &io->why);
        free(buf);
    } else if (io->data != NULL) {
        if ((fd = log_path_open("sts", io->dir, 0700, LOG_PATH_MKDIRS)) < 0
            || (close(fd), log_write_file(io->dir, io->name, io->data, io->len) < 0))
            io->err = errno;
    } else if (unlink(path) < 0 && errno != ENOENT) {
        io->err = errno;
    }
    free(path);
}

/* io_after - back on the loop */

static void io_after(uv_work_t *w, int status)
{
    struct sts_io *io = w->data;
    struct sts_entry *e = io->e;

    e->io--;
    e->s->io--;
    if (io->read)
        relay__sts_loaded(e, io->policy, io->why);
    else if (io->err != 0)
        log_warnx("sts", 0, "mta-sts domain=%s cannot %s the cache file %s/%s: %s", e->domain,
                  io->data ? "write" : "remove", io->dir, io->name, strerror(io->err));
    free(io->dir);
    free(io->name);
    free(io->data);
    free(io);
    relay__sts_io_done(e);
}

/* relay__sts_cache_read - read e's file (pool) */

void relay__sts_cache_read(struct sts_entry *e)
{
    struct sts_io *io = io_new(e);

    io->read = true;
    (void)uv_queue_work(e->s->loop, &io->work, io_work, io_after);
}

/* relay__sts_cache_sync - write or remove e's file (pool) */

void relay__sts_cache_sync(struct sts_entry *e)
{
    struct sts_io *io;

    e->dirty = false;
    if (e->s->cache_dir == NULL || !policy_sts_domain_ok(e->domain))
        return;
    io = io_new(e);
    if (e->policy != NULL)
        io->data = policy_sts_cache_format(e->policy, &io->len);
    (void)uv_queue_work(e->s->loop, &io->work, io_work, io_after);
}
