/*
 * relay_worker.h - one worker: a thread running its own libuv loop with its
 * own SO_REUSEPORT listeners and the sessions they accepted (smtpd/), and
 * the mailbox through which the commit thread hands back finished spool
 * commits (queue/).  Plain data, here in core/ because queue/, smtpd/,
 * qmgr/ (whose loop is a worker too) and server/ all use it; the worker's
 * code is smtpd/relay_worker.c.
 */
#ifndef DOMSEC_RELAY_WORKER_H
#define DOMSEC_RELAY_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct config;
struct relay_session;
struct relay_commit_req;
struct relay_pcert;

struct relay_worker {
    /* Public, read-only after start. */
    int     index;
    uv_loop_t loop;
    struct relay_pcert *pcert;          /* not owned: where client certificates are kept
                                         * (relay_pcert.h), or NULL */
    /* Private to the worker thread. */
    uv_thread_t thread;
    uv_async_t wake;                    /* commit completions and stop requests */
    uv_tcp_t *listeners;                /* owned; nlisteners handles */
    int    *listen_fds;                 /* owned; sockets made by main (the handles
                                         * hold dups; closed at relay_listen_stop) */
    size_t  nlisteners;
    int     open_listeners;
    uv_timer_t accept_timer;            /* ends a pause at the fd limit */
    bool    accept_paused;
    struct relay_session *sessions;     /* live sessions (list owned by relay_session.c) */
    size_t  nsessions;
    bool    stopping;
    /* Shared with other threads, under lock. */
    uv_mutex_t lock;
    struct relay_commit_req *done_head, *done_tail; /* finished commits */
    bool    stop_requested;
    bool    release_caches;             /* drop thread caches if idle (after a burst) */
    unsigned long beats;                /* wake callbacks run: the loop's heartbeat, which
                                         * main's systemd watchdog looks at */
    bool    finished;                   /* set by the thread as it ends */
    bool    wake_closed;                /* wake is closing: never send to it */
    uv_async_t *done;                   /* sent when the thread has finished */
};

#endif
