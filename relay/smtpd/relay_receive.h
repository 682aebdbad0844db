/*
 * relay_receive.h - the receive side (smtpd/) as the daemon sees it:
 * listening sockets, the worker threads that accept and serve sessions,
 * and the hook that hears of every message queued.
 */
#ifndef DOMSEC_RELAY_RECEIVE_H
#define DOMSEC_RELAY_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy_config.h"
#include "relay_worker.h"

/* relay_listen.c */
/* Called by main (may be root): sockets for every worker x unique binding. */
int     relay_listen_open(struct relay_worker *workers, size_t nworkers,
                          const struct config *cfg);
/* The distinct bindings joined with ',' into buf (cut at sz - 1 bytes). */
void    relay_listen_describe(const struct config *cfg, char *buf, size_t sz);

/* relay_worker.c */
/* Start worker w (zeroed but for its listen sockets) as thread number
 * index; `done` is sent on the caller's loop when the thread has finished
 * (then w->finished is true, under w->lock).  Dies if no thread starts. */
void    relay_worker_start(struct relay_worker *w, int index, uv_async_t *done);
/* Any thread: ask w to stop accepting and finish its sessions. */
void    relay_worker_request_stop(struct relay_worker *w);

/* relay_data.c */
/* fn(id) is called, on a worker thread, for every message durably queued
 * (before the 250 is sent); set once, before the workers start. */
void    relay_receive_on_queued(void (*fn)(const char *id));

#endif
