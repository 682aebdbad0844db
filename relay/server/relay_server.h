/*
 * relay_server.h - the daemon: privileges, queue recovery, worker
 * threads, signals (SIGHUP reload, SIGTERM/SIGINT stop).
 */
#ifndef DOMSEC_RELAY_SERVER_H
#define DOMSEC_RELAY_SERVER_H

#include "policy_config.h"

/* relay_server.c */
/*
 * Run the daemon until SIGTERM/SIGINT.  Takes over the reference to cfg
 * (loaded from path, which SIGHUP reloads).  Returns the exit status.
 */
int     relay_server_run(const char *path, struct config *cfg);

#endif
