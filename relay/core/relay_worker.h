/*
 * relay_worker.h - one worker: a thread running its own libuv loop with its
 * own SO_REUSEPORT listeners and the sessions they accepted.  Internal to
 * relay/ (plain data shared by relay_server.c, relay_listen.c,
 * relay_session.c, relay_spool.c and relay_commit.c).
 */
#ifndef DOMSEC_RELAY_WORKER_H
#define DOMSEC_RELAY_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct config;
struct relay_session;
struct relay_commit_req;

struct relay_worker {
    /* Public, read-only after start. */
    int     index;
    uv_loop_t loop;
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
    bool    finished;                   /* set by the thread as it ends */
    bool    wake_closed;                /* wake is closing: never send to it */
};

/* relay_listen.c */
/* Called by main (may be root): sockets for every worker x unique binding. */
int     relay_listen_open(struct relay_worker *workers, size_t nworkers,
                          const struct config *cfg);
/* The distinct bindings joined with ',' into buf (cut at sz - 1 bytes). */
void    relay_listen_describe(const struct config *cfg, char *buf, size_t sz);
/* Called on the worker thread: start accepting. */
int     relay_listen_start(struct relay_worker *w);
/* Called on the worker thread: stop accepting and close the listeners. */
void    relay_listen_stop(struct relay_worker *w);

/* relay_session.c */
void    relay_session_accept(struct relay_worker *w, uv_stream_t *server);
/* Ask every session of w to finish: idle ones get 421 and close now. */
void    relay_session_shutdown_all(struct relay_worker *w);

/* relay_server.c */
/* A session of w ended; the worker may finish if it is stopping. */
void    relay_worker_session_gone(struct relay_worker *w);

#endif
