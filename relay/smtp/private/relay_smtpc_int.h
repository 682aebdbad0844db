/*
 * relay_smtpc_int.h - what relay_smtpc.c (the outbound SMTP state machine
 * and the connection), relay_smtpc_reply.c (the transaction: commands and
 * replies), relay_smtpc_idle.c (the connection cache), relay_smtpc_tls.c
 * (STARTTLS and the domain-security checks), relay_smtpc_sts.c (MTA-STS
 * and the TLS-policy verdicts) and relay_smtpc_dane.c (DANE) share: the
 * connection and the steps each file calls in the others.  Private to
 * those six files;
 * everything runs on the queue manager's loop.
 */
#ifndef DOMSEC_RELAY_SMTPC_INT_H
#define DOMSEC_RELAY_SMTPC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "log_proto.h"
#include "policy_dane.h"
#include "policy_secure.h"
#include "relay_smtp.h"
#include "relay_tlsrpt.h"
#include "relay_trouble.h"
#include "tls_conn.h"

/* The states of one connection; arrays in relay_smtpc.c are indexed by them. */
enum relay_smtpc_state {
    C_CONNECT, C_BANNER, C_EHLO, C_HELO, C_STARTTLS, C_TLS, C_RSET, C_MAIL, C_RCPT, C_DATA,
    C_DOT, C_IDLE, C_QUIT, C_DONE,
};

struct relay_smtpc {
    uint64_t sid;
    struct relay_dest *dest;            /* not owned; outlives us (conns count) */
    uv_loop_t *loop;
    struct tls_conn *conn;              /* current conn, or NULL */
    int     conns;                      /* conns not yet CLOSED (old ones too) */
    uv_timer_t timer;
    bool    timer_closed;
    enum relay_smtpc_state state;
    size_t  addr_i;                     /* address being tried */
    struct relay_job *job;              /* current job, owned until reported */
    bool    pipelining, esmtp, tx_open;
    bool    starttls_offered;           /* in the EHLO reply */
    bool    tls;                        /* this connection is in TLS */
    bool    no_tls;                     /* retry this address in plaintext (opportunistic) */
    bool    secured;                    /* domain-secured: the partner checks passed */
    bool    tls_verified;               /* TLS verified as RFC 8689 4.2.1 wants: domain-
                                         * secured, or MTA-STS enforce passed (REQUIRETLS) */
    bool    requiretls_offered;         /* REQUIRETLS in the EHLO reply (inside TLS) */
    bool    policy_logged;              /* this conn's TLS-policy verdict row is written */
    bool    no_resume_keep;             /* an MTA-STS check failed (testing too): this
                                         * conn's TLS session is not kept for resumption */
    uint64_t peer_size;                 /* 0: no SIZE */
    size_t  rcpt_i;                     /* next RCPT reply expected */
    size_t  accepted;                   /* RCPTs accepted in this transaction */
    char    reply[2048];                /* the reply being read */
    size_t  rlen;
    bool    finishing;
    struct log_proto_session pl;        /* protocol log of the current conn */
    enum log_proto_reason end_reason;   /* "-" row of the current conn */
    unsigned nconn;                     /* log sessions started: a conn each, or a
                                         * DANE host skipped without one */
    uint64_t ready_ms;                  /* loop time the current conn was connected */
    struct relay_smtpc *prev, *next;    /* every live connection */
    bool    idling;                     /* in the dest's idle list */
    struct relay_smtpc *idle_prev, *idle_next;
};

/* The connections of one owner (relay_smtp.h). */
struct relay_smtp_client {
    struct relay_smtpc *all;            /* every live connection */
    unsigned nidle;                     /* how many are in an idle list */
    bool    stopping;                   /* relay_smtpc_shutdown_all was called */
};

/* relay_smtpc.c: the connection: states, connect, next host, the end. */
/* A state's name (logs, errors). */
const char *relay__smtpc_strstate(enum relay_smtpc_state st);
/* Change state and (re)arm its timeout. */
void    relay__smtpc_enter_state(struct relay_smtpc *c, enum relay_smtpc_state st);
/* Queue one command line (CRLF added); the caller flushes. */
void    relay__smtpc_send(struct relay_smtpc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Close the current conn (its CLOSED comes later); linger in ms. */
void    relay__smtpc_drop_conn(struct relay_smtpc *c, unsigned linger);
/* No more work: leave the idle list, close the conn and the timer. */
void    relay__smtpc_finish(struct relay_smtpc *c);
/* "ip:port" of the address being tried. */
void    relay__smtpc_endpoint(struct relay_smtpc *c, char *buf, size_t sz);
/* Report the current job (its results) to the destination's owner. */
void    relay__smtpc_job_done(struct relay_smtpc *c);
/* What an event (a reply, or error with text) at c's current stage means:
 * relay_decide() with c's facts; the caller frees the decision. */
struct relay_decision relay__smtpc_decide(const struct relay_smtpc *c, enum relay_error error,
                                          int code, const char *text);
/* What a REQUIRETLS job that may not go on c means (error: REQUIRETLS_TLS
 * or _PEER; host: "name [ip:port]"); the caller frees the decision. */
struct relay_decision relay__smtpc_decide_requiretls(const struct relay_smtpc *c,
                                                     enum relay_error error, const char *host);
/* Carry out a RELAY_H_NEXT_HOST (note, next address) or RELAY_H_FAIL_ALL
 * (the job's recipients get the outcome, the connection ends) decision,
 * and free it. */
void    relay__smtpc_trouble(struct relay_smtpc *c, struct relay_decision *d);
/* Remember for the job why the current address did not work. */
void    relay__smtpc_note(struct relay_smtpc *c, const char *what, bool conn_error);
/* The job's recipients in d's scope get d's code and text (noted too). */
void    relay__smtpc_record(struct relay_smtpc *c, const struct relay_decision *d);
/* Connect to the current address, or give up on the destination. */
void    relay__smtpc_connect_next(struct relay_smtpc *c);
/* Start the next job (RSET first if needed), or wait idle for one, or QUIT. */
void    relay__smtpc_take_job(struct relay_smtpc *c);
/* The same, but a job ready for MAIL is not started: true, it is c->job. */
bool    relay__smtpc_next_job(struct relay_smtpc *c);

/* relay_smtpc_reply.c: the transaction and the replies. */
/* MAIL, the RCPTs and DATA of the current job (pipelined if offered). */
void    relay__smtpc_start_tx(struct relay_smtpc *c);
/* Read what arrived: whole replies go to their state's handler. */
void    relay__smtpc_input(struct relay_smtpc *c);

/* relay_smtpc_idle.c: the connection cache. */
/* No job: wait idle in the destination's list (state C_IDLE). */
void    relay__smtpc_idle(struct relay_smtpc *c);
/* Leave the idle list (no-op if not in it). */
void    relay__smtpc_idle_unlink(struct relay_smtpc *c);
/* No (more) work: leave the idle list, QUIT. */
void    relay__smtpc_quit(struct relay_smtpc *c);

/* relay_smtpc_tls.c: STARTTLS and domain security. */
/* EHLO/HELO accepted: STARTTLS, or on to the mail. */
void    relay__smtpc_after_hello(struct relay_smtpc *c);
/* The reply to STARTTLS: handshake, plaintext, or next host. */
void    relay__smtpc_starttls_reply(struct relay_smtpc *c, int code, const char *text);
/* The handshake failed (err: not copied). */
void    relay__smtpc_tls_failed(struct relay_smtpc *c, const char *err);
/* TLS_READY: check the partner, log, EHLO again. */
void    relay__smtpc_tls_ready(struct relay_smtpc *c);
/* Drop the kept TLS session of c's address (and context): a check failed. */
void    relay__smtpc_resume_forget(struct relay_smtpc *c);
/* Free the kept TLS sessions (at stop). */
void    relay__smtpc_resume_clear(void);

/* relay_smtpc_sts.c: MTA-STS and the TLS-policy verdict of a session. */
/* The MTA-STS policy (testing or enforce) that applies to c's destination
 * (not listed), or NULL. */
const struct sts_policy *relay__smtpc_sts(const struct relay_smtpc *c);
/* Does an enforce policy apply?  Then nothing may go in plaintext. */
bool    relay__smtpc_sts_enforce(const struct relay_smtpc *c);
/* The client context for c's STARTTLS (the WebPKI one under MTA-STS), or
 * NULL: no TLS.  Not referenced for the caller. */
struct tls_ctx *relay__smtpc_tls_ctx(const struct relay_smtpc *c);
/* The MX chain verdict under MTA-STS (INVALID without WebPKI anchors). */
enum policy_chain relay__smtpc_sts_chain(const struct relay_smtpc *c, const struct tls_facts *tf);
/* Judge c under its policy at step (f's enforce is filled in here): log,
 * row, TLS-RPT; false: go on; true: an enforce failure moved c to the
 * next host. */
bool    relay__smtpc_sts_check(struct relay_smtpc *c, struct policy_sts_outbound *f,
                               enum policy_out_step step);
/* The verdict row of an MTA-STS testing or opportunistic session not yet
 * logged: over TLS (tls_version) or in plaintext (why). */
void    relay__smtpc_policy_row(struct relay_smtpc *c, const char *tls_version, const char *why);
/* Note c's session for TLS-RPT (failure: an RFC 8460 result type, NULL =
 * success; detail may be NULL). */
void    relay__smtpc_tlsrpt(struct relay_smtpc *c, enum tlsrpt_policy type, const char *failure,
                            const char *detail);
/* The same with a TLSA policy-string (tlsa[0..ntlsa): "3 1 1 <HEX>" lines,
 * or NULL). */
void    relay__smtpc_tlsrpt_tlsa(struct relay_smtpc *c, enum tlsrpt_policy type,
                                 const char *failure, const char *detail,
                                 const char *const *tlsa, size_t ntlsa);

/* relay_smtpc_dane.c: DANE (RFC 7672). */
/* The dane_match fact of c's current conn, once TLS is up. */
struct relay_dane_fact {
    enum policy_dane match;       /* NO_TLSA unless the address's records are USABLE */
    bool    ta_name_mismatch;           /* MISMATCH: DANE-TA matched, the names did not */
    char    words[16];                  /* "3 1 1" of the matching record, or "" */
    char    why[256];                   /* NO_TLSA / MISMATCH: why, for a log detail */
};
/* The DANE state governing c's current address (not listed; validated
 * TLSA records, usable or not), or NULL: DANE does not decide here. */
const struct relay_dane *relay__smtpc_dane(const struct relay_smtpc *c);
/* Validated TLSA records for the address (listed or not): STARTTLS must
 * not resume a kept session. */
bool    relay__smtpc_dane_no_resume(const struct relay_smtpc *c);
/* The dane_match fact of c's current conn (TLS up): the address's usable
 * records against the chain the server sent; DANE-TA's names against the
 * MX host and the next-hop domain.  For a listed partner with require =
 * dane too (the identity verdict decides, relay_smtpc_tls.c). */
void    relay__smtpc_dane_fact(const struct relay_smtpc *c, struct relay_dane_fact *out);
/* Judge c under DANE at a step before the certificate (f's usable is
 * filled in here): log, row, TLS-RPT; false: go on; true: c moved to the
 * next host. */
bool    relay__smtpc_dane_check(struct relay_smtpc *c, struct policy_dane_outbound *f,
                                enum policy_out_step step);
/* TLS is up: the same with the chain matched; true: c moved on. */
bool    relay__smtpc_dane_cert(struct relay_smtpc *c);
/* The current address's TLSA lookup failed (not listed): log and note once
 * for its host, step addr_i past the host's addresses and return true (the
 * caller loops: no recursion), or hand c to relay__smtpc_trouble (true, c
 * is finishing); false: connect to it. */
bool    relay__smtpc_dane_skip(struct relay_smtpc *c);

#endif
