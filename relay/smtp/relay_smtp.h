/*
 * relay_smtp.h - the SMTP client (smtp/): destinations, the jobs waiting
 * for them, and the connections that work through those jobs.  A
 * destination's owner (the queue manager) fills it in and hears back
 * through its relay_dest_ops; the client never calls the owner directly.
 * Everything runs on the owner's loop.
 */
#ifndef DOMSEC_RELAY_SMTP_H
#define DOMSEC_RELAY_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "policy_config.h"
#include "policy_sts.h"
#include "relay_qmsg.h"
#include "tls_dane.h"

/* relay_smtpc.c: one outbound SMTP connection working through jobs. */
struct relay_dest;
struct relay_tlsrpt;
struct sts_policy;
struct relay_smtpc;
struct relay_smtp_client;
struct relay_job {
    struct relay_job *next;             /* dest queue */
    struct relay_qmsg *msg;             /* not owned (qmgr's) */
    size_t *ridx;                       /* owned: recipients in this job */
    size_t  nridx;
    int    *codes;                      /* owned: per recipient: reply code, 0 = none */
    char  **replies;                    /* owned: per recipient reply text */
    const char *data;                   /* not owned: the message bytes (the qmgr's, shared) */
    size_t  len;
    char   *last;                       /* owned: last failure (reply or error) */
    bool    last_conn;                  /* last failure was a connection error */
    char    endpoint[64];               /* last endpoint tried */
    char   *remote;                     /* owned: host name of the last answer */
    uint64_t sid;                       /* session that finished it */
};

/* DANE (RFC 7672) state of one address's MX host, found by the owner. */
enum relay_dane_state {
    RELAY_DANE_NONE,                    /* no TLSA (secure denial) or the host's address
                                         * records are insecure: the next policy applies */
    RELAY_DANE_USABLE,                  /* validated TLSA records, at least one usable:
                                         * TLS required and the chain must match */
    RELAY_DANE_UNUSABLE,                /* validated TLSA records, none usable (RFC 7672
                                         * 2.2): TLS required, not authenticated (Postfix's
                                         * "encrypt"); never plaintext */
    RELAY_DANE_FAILED,                  /* the TLSA lookup failed or was bogus: this host
                                         * is not used (deferred if none is left) */
};

struct relay_dane {
    enum relay_dane_state state;
    struct tls_tlsa *tlsa;              /* owned, with each record's data: the usable
                                         * records (state USABLE), else NULL */
    size_t  ntlsa;
    char   *why;                        /* owned: why FAILED ("bogus", "SERVFAIL", ...), or NULL */
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
    size_t  smart_host;                 /* owner's: index of the next smart host to resolve */
    char   *dns_why;                    /* owned */
    bool    resolving;
    uint64_t resolved_ms;
    struct relay_job *jobs, *jobs_tail; /* waiting jobs */
    size_t  njobs;
    unsigned conns;                     /* open connections (idle ones too) */
    struct relay_smtpc *idle;           /* connections waiting for a job (smtpc's list) */
    struct tls_ctx *tls_ctx;            /* referenced: our client context, or NULL */
    struct tls_ctx *webpki;             /* referenced: the connector's WebPKI context
                                         * (MTA-STS MX hosts), or NULL; taken with tls_ctx
                                         * when the destination is made, so a reload
                                         * cannot take it away from waiting jobs */
    bool    listed;                     /* domain in tls_send_domain_secure_list (DNS routing) */
    struct sts_policy *sts;             /* referenced: the domain's MTA-STS policy (mode
                                         * testing or enforce) found by the last lookup,
                                         * or NULL (none, listed, mta_sts = no, smart hosts) */
    bool    sts_stale;                  /* sts is the cached policy: its refresh failed */
    const char *sts_failure;            /* static: the RFC 8460 result type of the last
                                         * lookup's failed fetch or parse (TLS-RPT), or
                                         * "local-trust-store" (our anchors), or NULL */
    bool    sts_checked;                /* owner's: this resolution looked the policy up */
    struct relay_dane *dane;            /* owned: one per address (parallel to addrs and
                                         * names; the addresses of one host share its
                                         * tlsa and why), or NULL: DANE does not apply ([dns]
                                         * dnssec = no, [send] dane = no, smart hosts, the
                                         * MX RRset is not DNSSEC-validated) */
    bool    dane_applies;               /* dane != NULL and some address is USABLE (DANE
                                         * wins over MTA-STS per address, not for the
                                         * whole destination: relay__smtpc_sts) */
    struct relay_tlsrpt *tlsrpt;        /* borrowed: the owner's TLS-RPT recorder, or NULL
                                         * (relay_tlsrpt_note(d->tlsrpt, ...) takes NULL) */
    bool    tls_required_no;            /* its messages say "TLS-Required: No" (RFC 8689
                                         * 4.2.2; DNS routing): no MTA-STS policy applies */
    const struct relay_dest_ops *ops;   /* the owner's callbacks */
    struct relay_smtp_client *client;   /* the owner's connections */
    void   *owner;                      /* the owner's object (for ops) */
    struct relay_dest *next;
};

/* Free j and what it owns (not the message's bytes it borrows); NULL: nothing. */
void    relay_job_free(struct relay_job *j);

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

/*
 * How connections report to the owner of their destination (the queue
 * manager): set in every relay_dest, so smtp/ never calls qmgr/.
 */
struct relay_dest_ops {
    /* A job is finished (results in the job, which the owner now owns). */
    void  (*job_done)(struct relay_dest *d, struct relay_job *j);
    /* Every address of d failed: defer current (may be NULL) and every waiting job. */
    void  (*dest_failed)(struct relay_dest *d, struct relay_job *current);
    /* A connection of d has ended (always after its last job_done/dest_failed). */
    void  (*conn_gone)(struct relay_dest *d);
};

/*
 * The connections of one owner (the queue manager has one): which are live,
 * which wait idle, whether the stop has begun.  Every destination the owner
 * makes points to it (relay_dest.client).
 */
struct relay_smtp_client *relay_smtp_client_new(void);
/* Free it once every connection of it has gone (conn_gone reported). */
void    relay_smtp_client_free(struct relay_smtp_client *cl);

/* Start a connection for dest (it pulls jobs); always 0 (relay_smtpc.c's
 * CONTRACT says what is reported, and when). */
int     relay_smtpc_start(struct relay_dest *d, uv_loop_t *loop);
/* Give d's next job to one of its idle connections; false if it has none. */
bool    relay_smtpc_wake(struct relay_dest *d);
/* How many connections of cl wait idle for a job. */
unsigned relay_smtpc_idle_count(const struct relay_smtp_client *cl);
/* Close one idle connection of cl of any destination but keep (QUIT); false if none. */
bool    relay_smtpc_close_idle(struct relay_smtp_client *cl, const struct relay_dest *keep);
/* Abandon every connection of cl: current jobs come back undelivered. */
void    relay_smtpc_shutdown_all(struct relay_smtp_client *cl);
#endif
