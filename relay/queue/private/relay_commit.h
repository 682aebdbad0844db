/*
 * relay_commit.h - the request handed from relay_spool.c to the commit
 * thread (relay_commit.c).  Private to those two files.
 */
#ifndef DOMSEC_RELAY_COMMIT_H
#define DOMSEC_RELAY_COMMIT_H

#include <stdint.h>

#include "relay_spool.h"

struct relay_worker;

struct relay_commit_req {
    struct relay_commit_req *next;      /* list link (queue, then done list) */
    struct relay_worker *worker;        /* completion goes to this loop */
    char    id[RELAY_QID_LEN + 1];
    int     fd;                         /* -1: not created yet (thread creates it) */
    const char *buf;                    /* remaining bytes; owned by the spool */
    size_t  len;
    uint64_t file_off;                  /* where buf goes */
    char    patch[16];                  /* data length, hex, if not in buf */
    int     patch_len;                  /* 0 or 16 */
    uint64_t patch_off;
    int     status;                     /* 0 or -errno, set by the thread */
    void  (*done)(struct relay_commit_req *req);    /* on the worker loop */
};

#endif
