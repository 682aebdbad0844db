/*
 * relay_deliver.h - the delivery side: queue manager (relay_qmgr.c), queued
 * message state (relay_qmsg.c), the SMTP client (relay_smtpc.c, with
 * STARTTLS and domain security in relay_smtpc_tls.c) and the one module
 * that decides next host / defer / bounce (relay_trouble.c).
 * Private to those files, except the three relay_qmgr_* entry points used
 * by relay_server.c and relay_data.c.
 */
#ifndef DOMSEC_RELAY_DELIVER_H
#define DOMSEC_RELAY_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "policy_config.h"
#include "relay_spool.h"

/* relay_qmgr.c: public entry points. */
int     relay_qmgr_start(void);         /* after queue recovery; 0 or a libuv error */
void    relay_qmgr_notify(const char *id);      /* any thread: a new message is queued */
void    relay_qmgr_stop(void);          /* stop delivering (in-flight attempts end), join */

enum relay_rstate { RELAY_R_PENDING, RELAY_R_DELIVERED, RELAY_R_FAILED };

struct relay_qrcpt {
    char   *addr;                       /* owned; without <> */
    enum relay_rstate state;
    unsigned attempts;
    char   *last;                       /* owned: last reply or reason (one line), or NULL */
    char   *remote;                     /* owned: host that gave `last`, or NULL */
    uint64_t last_ms;                   /* when `last` happened */
    bool    busy;                       /* in a job now */
    bool    dsn_due;                    /* failed, not yet reported in a DSN */
    bool    dirty;                      /* changed since the last record write */
    bool    note;                       /* outcome to log once its record is durable */
    uint64_t note_sid;                  /* session that produced it (0: the queue) */
};

struct relay_qmsg {
    char    id[RELAY_QID_LEN + 1];
    char   *sender;                     /* owned; "" = null sender */
    uint64_t arrival_ms;
    uint64_t next_ms;                   /* next attempt (0 = now) */
    uint64_t delay_ms;                  /* delay DSN queued at (0 = not yet) */
    uint64_t data_off, data_len;        /* message bytes in the file */
    unsigned rounds;                    /* delivery rounds with a deferral */
    struct relay_qrcpt *rcpts;          /* owned */
    size_t  nrcpts;
    /* Queue manager bookkeeping. */
    int     jobs;                       /* jobs in flight */
    bool    io;                         /* a record write, DSN or removal under way */
    bool    conn_failure;               /* last round failed to connect anywhere */
    char   *data;                       /* owned: message bytes during a round, or NULL */
    bool    torn;                       /* the file ends in a torn record (no newline) */
    bool    round_due;                  /* all jobs back: end the round after the writes */
    struct relay_qmsg *next;            /* qmgr list */
};

/* relay_qmsg.c: blocking I/O, run on the thread pool. */
int     relay_qmsg_load(int dirfd, const char *id, struct relay_qmsg **out, const char **why);
void    relay_qmsg_free(struct relay_qmsg *m);
/* Read the message bytes; NULL with *err = -errno. */
char   *relay_qmsg_read_data(int dirfd, const struct relay_qmsg *m, int *err);
/* Append records (complete lines) and fdatasync.  0 or -errno. */
int     relay_qmsg_append(int dirfd, const char *id, const char *records, size_t len);
/* Remove the file and fsync the directory.  0 or -errno. */
int     relay_qmsg_remove(int dirfd, const char *id);
/* Record line for recipient i ("rcpt I STATE MS ATTEMPTS TEXT\n"); appended to *buf. */
void    relay_qmsg_record_rcpt(const struct relay_qmsg *m, size_t i, char **buf, size_t *len);
/* Make one line of printable text (replies may be multi-line): owned copy. */
char   *relay_qmsg_oneline(const char *text);

/* relay_trouble.c: the decisions (pure). */
enum relay_outcome { RELAY_O_DELIVERED, RELAY_O_DEFER, RELAY_O_FAIL };
enum relay_host_action { RELAY_H_CONTINUE, RELAY_H_NEXT_HOST, RELAY_H_FAIL_ALL };
/* Reply code to a RCPT or to the final dot: what happens to the recipient. */
enum relay_outcome relay_trouble_rcpt(int code);
/* Reply to the banner, EHLO/HELO or MAIL: go on, try the next host, or fail. */
enum relay_host_action relay_trouble_session(int code);
/* Exchange's queue error after every host failed (owned string). */
char   *relay_trouble_failover(const char *last, bool connection_error, const char *endpoint);
/* When to try a deferred message again (ms from now). */
uint64_t relay_trouble_retry_after(const struct cfg_transport *t, unsigned rounds,
                                   bool connection_failure);
/* Enhanced status code for a DSN from a reply ("5.1.1" or derived from the code). */
void    relay_trouble_status(const char *reply, char out[16]);

/* relay_smtpc.c: one outbound SMTP connection working through jobs. */
struct relay_dest;
struct relay_smtpc;
struct relay_job {
    struct relay_job *next;             /* dest queue */
    struct relay_qmsg *msg;             /* not owned (qmgr's) */
    size_t *ridx;                       /* owned: recipients in this job */
    size_t  nridx;
    int    *codes;                      /* owned: per recipient: reply code, 0 = none */
    char  **replies;                    /* owned: per recipient reply text */
    char   *data;                       /* owned: the message bytes */
    size_t  len;
    char   *last;                       /* owned: last failure (reply or error) */
    bool    last_conn;                  /* last failure was a connection error */
    char    endpoint[64];               /* last endpoint tried */
    char   *remote;                     /* owned: host name of the last answer */
    uint64_t sid;                       /* session that finished it */
};

struct relay_dest {
    char   *key;                        /* owned: "connector\ndomain" */
    char   *domain;                     /* owned: next-hop domain (recipient domain) */
    const struct cfg_send *sc;          /* points into cfg */
    struct config *cfg;                 /* referenced */
    struct sockaddr_storage *addrs;     /* owned: every address to try, in order */
    char  **names;                      /* owned: host name per address */
    size_t  naddrs;
    int     dns_status;                 /* enum dns_status of the last lookup */
    char   *dns_why;                    /* owned */
    bool    resolving;
    uint64_t resolved_ms;
    struct relay_job *jobs, *jobs_tail; /* waiting jobs */
    size_t  njobs;
    unsigned conns;                     /* open connections (idle ones too) */
    struct relay_smtpc *idle;           /* connections waiting for a job (smtpc's list) */
    struct tls_ctx *tls_ctx;            /* referenced: our client context, or NULL */
    bool    listed;                     /* domain in tls_send_domain_secure_list (DNS routing) */
    struct relay_dest *next;
};

/* relay_dest_put_job - append j (next NULL) to d's waiting jobs */
static inline void relay_dest_put_job(struct relay_dest *d, struct relay_job *j)
{
    if (d->jobs_tail)
        d->jobs_tail->next = j;
    else
        d->jobs = j;
    d->jobs_tail = j;
    d->njobs++;
}

/* relay_dest_take_job - the first waiting job of d, unlinked (its next is
 * NULL and d->njobs counts one fewer), or NULL when none waits.  With
 * relay_dest_put_job, the only code that touches the queue's links. */
static inline struct relay_job *relay_dest_take_job(struct relay_dest *d)
{
    struct relay_job *j = d->jobs;

    if (j == NULL)
        return NULL;
    d->jobs = j->next;
    if (d->jobs == NULL)
        d->jobs_tail = NULL;
    d->njobs--;
    j->next = NULL;
    return j;
}

/* Start a connection for dest (it pulls jobs); always 0 (relay_smtpc.c's
 * CONTRACT says what is reported, and when). */
int     relay_smtpc_start(struct relay_dest *d, uv_loop_t *loop);
/* Give d's next job to one of its idle connections; false if it has none. */
bool    relay_smtpc_wake(struct relay_dest *d);
/* How many connections wait idle for a job. */
unsigned relay_smtpc_idle_count(void);
/* Close one idle connection of any destination but keep (QUIT); false if none. */
bool    relay_smtpc_close_idle(const struct relay_dest *keep);
/* Abandon every connection: current jobs come back undelivered. */
void    relay_smtpc_shutdown_all(void);
/* Called by relay_smtpc.c when a job is finished (results in the job). */
void    relay_qmgr_job_done(struct relay_dest *d, struct relay_job *j);
/* Called by relay_smtpc.c when a connection of d has ended. */
void    relay_qmgr_conn_gone(struct relay_dest *d);
/* Called by relay_smtpc.c when every address of d failed: defer all of d's jobs. */
void    relay_qmgr_dest_failed(struct relay_dest *d, struct relay_job *current);

#endif
