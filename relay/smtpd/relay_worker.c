/*
 * relay_worker.c - one worker thread: its loop, its listeners and the
 * sessions they accept; commit completions and stop requests arrive on
 * its wake handle.  Out of relay_server.c so that smtpd/ does not call
 * server/: the daemon starts and stops workers (relay_receive.h) and hears
 * that one has finished through the `done` handle it passed.
 *
 * CONTRACT
 *  A worker's fields are touched by other threads only through its
 *  lock-protected part (relay_worker.h) and uv_async_send().
 */
#include <stdbool.h>

#include "log.h"
#include "relay_receive.h"
#include "relay_smtpd.h"
#include "relay_spool.h"
#include "relay_worker.h"
#include "relay_stats.h"
#include "tls_ctx.h"

/* relay_worker_maybe_finish - a stopping worker with nothing left ends */

static void relay_worker_maybe_finish(struct relay_worker *w)
{
    if (w->stopping && w->nsessions == 0 && w->open_listeners == 0
        && !uv_is_closing((uv_handle_t *)&w->wake)) {
        uv_mutex_lock(&w->lock);
        w->wake_closed = true;          /* other threads stop sending first */
        uv_mutex_unlock(&w->lock);
        uv_close((uv_handle_t *)&w->wake, NULL);
    }
}

/* relay_worker_session_gone - a session or listener of w went away */

void relay_worker_session_gone(struct relay_worker *w)
{
    relay_worker_maybe_finish(w);
}

/* relay_worker_wake - commit completions and stop requests */

static void relay_worker_wake(uv_async_t *a)
{
    struct relay_worker *w = a->data;
    bool stop, release;

    relay_commit_deliver(w);
    uv_mutex_lock(&w->lock);
    w->beats++;
    stop = w->stop_requested;
    release = w->release_caches;
    w->release_caches = false;
    uv_mutex_unlock(&w->lock);
    /* wolfSSL's per-thread ECC cache (FP_ECC: ~12 MiB once a thread has done
     * handshakes) is only used inside a handshake on this thread, so it may
     * go between callbacks; the next handshake rebuilds it.  Not while
     * sessions are live: they would rebuild it at once. */
    if (release && w->nsessions == 0)
        tls_thread_cleanup();
    if (stop && !w->stopping) {
        w->stopping = true;
        relay_listen_stop(w);
        relay_session_shutdown_all(w);
        relay_worker_maybe_finish(w);
    }
}

/* relay_worker_main - worker thread body */

static void relay_worker_main(void *arg)
{
    struct relay_worker *w = arg;

    relay_stats_thread_init();
    if (relay_listen_start(w) != 0)
        log_fatal("server", "worker %d cannot accept connections", w->index);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        log_warnx("server", 0, "worker %d loop closed with active handles", w->index);
    tls_thread_cleanup();
    uv_mutex_lock(&w->lock);
    w->finished = true;
    uv_mutex_unlock(&w->lock);
    uv_async_send(w->done);
}

/* relay_worker_start - start the thread of worker w */

void relay_worker_start(struct relay_worker *w, int index, uv_async_t *done)
{
    int r;

    w->index = index;
    w->done = done;
    uv_loop_init(&w->loop);
    uv_mutex_init(&w->lock);
    uv_async_init(&w->loop, &w->wake, relay_worker_wake);
    w->wake.data = w;
    if ((r = uv_thread_create(&w->thread, relay_worker_main, w)) != 0)
        log_fatal("server", "cannot start worker thread: %s", uv_strerror(r));
}

/* relay_worker_request_stop - ask w to stop (any thread) */

void relay_worker_request_stop(struct relay_worker *w)
{
    uv_mutex_lock(&w->lock);
    w->stop_requested = true;
    if (!w->wake_closed)
        uv_async_send(&w->wake);
    uv_mutex_unlock(&w->lock);
}
