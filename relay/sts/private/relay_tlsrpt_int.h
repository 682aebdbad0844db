/*
 * relay_tlsrpt_int.h - the recorder object shared by relay_tlsrpt.c (notes,
 * day files, timers, close) and relay_tlsrpt_send.c (sending a day's
 * reports).  Private to sts/; everything on the owner's loop.
 */
#ifndef DOMSEC_RELAY_TLSRPT_INT_H
#define DOMSEC_RELAY_TLSRPT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "relay_tlsrpt.h"

#define TLSRPT_MAX_FILE  (256u << 20)   /* a day file larger than this is not read */
#define TLSRPT_MAX_ACTIVE 50            /* a send's domains in flight at once */
#define TLSRPT_MAX_URIS   5             /* rua URIs of one record used, at most */

struct tlsrpt_send;

struct relay_tlsrpt {
    struct relay_tlsrpt_env env;
    char    day[11];                    /* today (UTC) */
    json_t *today;                      /* owned: today's counts */
    json_t *old;                        /* owned: the day before, if not yet written */
    char    old_day[11];
    bool    loaded;                     /* today's file was read back (or was absent) */
    bool    dirty;                      /* today has notes not yet written */
    bool    writing;                    /* a day file write is on the pool */
    char    writing_day[11];            /* its day, or "" */
    bool    no_write;                   /* today's file was unreadable and is still there */
    unsigned busy;                      /* pool works and sends in flight */
    uv_timer_t tick;                    /* every minute: write, roll, due reports (unref'd) */
    char    passed[11];                 /* the last day whose daily pass ran */
    int64_t pass_at;                    /* unix s: when the next daily pass may run; 0 none */
    bool    pass_retry;                 /* the pass running left a domain to try again */
    struct tlsrpt_send *sends;          /* in flight */
    uint64_t rnd;                       /* the daily pass's random delay */
    bool    closing;
    void  (*done)(void *);
    void   *done_arg;
};

/* relay_tlsrpt.c */
/* Work on the pool: fn there, then after(t, arg) on the loop.  busy counts it. */
void    relay__tlsrpt_pool(struct relay_tlsrpt *t, void (*fn)(void *arg),
                           void (*after)(struct relay_tlsrpt *t, void *arg), void *arg);
/* busy dropped to zero during the close: finish it. */
void    relay__tlsrpt_maybe_done(struct relay_tlsrpt *t);
/* relay_tlsrpt_names of the current configuration. */
void    relay__tlsrpt_names(struct relay_tlsrpt_names *n);
/* day's file is not up to date: being written, or the old day not yet
 * written, or today's file not read back yet (today: flush first). */
bool    relay__tlsrpt_day_pending(const struct relay_tlsrpt *t, const char *day);
/* Start the write of what is pending now. */
void    relay__tlsrpt_flush_now(struct relay_tlsrpt *t);
/* Atomically write dir/name (tmp, fsync, rename; dir made 0700): 0 or -errno. */
int     relay__tlsrpt_write(const char *dir, const char *name, const char *text);

/* Append line and a newline to dir/name, fsync'ed: 0 or -errno. */
int     relay__tlsrpt_append(const char *dir, const char *name, const char *line);
/* DAY.sent and DAY.sent.log of dir: a new object, domain -> record. */
json_t *relay__tlsrpt_sent_read(const char *dir, const char *day);

/* relay_tlsrpt_mail.c */
/* a is loopback, unspecified, link-local, private or shared (no POST there). */
struct sockaddr_storage;
bool    relay__tlsrpt_addr_private(const struct sockaddr_storage *a);

/* relay_tlsrpt_send.c */
/* The minute tick and the start: yesterday's reports when due (once per
 * day; after a restart, yesterday's not yet sent; older days only by hand). */
void    relay__tlsrpt_daily(struct relay_tlsrpt *t, int64_t now);
/* A write ended: start the sends that waited for their day to be on disk. */
void    relay__tlsrpt_send_resume(struct relay_tlsrpt *t);
/* Cancel what the sends in flight wait for (the close); their ends still come. */
void    relay__tlsrpt_send_cancel_all(struct relay_tlsrpt *t);

#endif
