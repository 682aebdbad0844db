/*
 * relay_trouble.h - the one decision of the delivery side (relay_trouble.c):
 * what an event means for the recipients, the connection and the retry.
 *
 * Whoever sees something happen describes it in a struct relay_event and
 * calls relay_decide(): the SMTP client (smtp/) a reply, a lost connection,
 * a timeout or a failed TLS check; the queue manager (qmgr/) a DNS answer,
 * an unreadable message, a missing route, expiry, the stop, every host
 * failing, a job's results and the end of a round.  The struct
 * relay_decision it gets back says which recipients are concerned and what
 * they get (delivered / defer / bounce), what the connection or destination
 * does next (go on, fall back, next host, end), the text to record (the
 * peer's reply, a local error, or Exchange's queue error), its DSN status
 * and when to try again.  The caller only carries it out.
 *
 * Pure: no I/O, no globals, no logging.  Used by smtp/ and qmgr/.
 */
#ifndef DOMSEC_RELAY_TROUBLE_H
#define DOMSEC_RELAY_TROUBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "dns.h"
#include "policy_config.h"

/* What the recipients concerned get. */
enum relay_outcome {
    RELAY_O_DELIVERED,                  /* the peer took it (2xx) */
    RELAY_O_DEFER,                      /* try again later (4xx, no answer, local trouble) */
    RELAY_O_FAIL,                       /* bounce: a DSN is due (5xx, null MX, expiry) */
};

/* What the connection (or, at the queue stages, the destination) does next. */
enum relay_host_action {
    RELAY_H_CONTINUE,                   /* go on: next command, next job, connect */
    RELAY_H_NEXT_HOST,                  /* this address failed: note text, the job
                                         * moves to the next address (all failed:
                                         * RELAY_S_ALL_HOSTS) */
    RELAY_H_FAIL_ALL,                   /* the recipients concerned get the outcome
                                         * now, and the connection ends (queue stages:
                                         * every job waiting for the destination) */
    RELAY_H_FALLBACK,                   /* go on with this stage's fallback: HELO after
                                         * a 5xx to EHLO; plaintext on this connection
                                         * after STARTTLS is refused, or on a new one
                                         * to the same address after the handshake
                                         * failed (opportunistic TLS only) */
};

/* Which recipients the outcome is for. */
enum relay_scope {
    RELAY_SCOPE_JOB,                    /* every recipient of the job (queue stages:
                                         * of every job the event concerns) */
    RELAY_SCOPE_ONE,                    /* the one recipient the event is about (a RCPT
                                         * reply, one result, one recipient's route) */
    RELAY_SCOPE_ACCEPTED,               /* only those the peer accepted at RCPT (the
                                         * replies to DATA and to the final dot) */
};

/* Where the event happened. */
enum relay_stage {
    /* The queue manager (qmgr/). */
    RELAY_S_DNS,                        /* the MX lookup answered: ev.dns (DNS_CANCELED:
                                         * the stop; a reload's re-ask is the caller's) */
    RELAY_S_SMARTHOST,                  /* every smart host looked up: none has an address */
    RELAY_S_READ,                       /* the queued message cannot be read */
    RELAY_S_ROUTE,                      /* no send connector covers the recipient domain */
    RELAY_S_EXPIRY,                     /* is the message (ev.age_ms old) expired?  FAIL
                                         * (QUEUE.Expired) once ev.age_ms reaches
                                         * message_expiration_timeout (always without
                                         * ev.transport), else retry_ms = the time left */
    RELAY_S_SHUTDOWN,                   /* the stop interrupted a lookup or a delivery */
    RELAY_S_ALL_HOSTS,                  /* every address failed; ev.text, ev.error and
                                         * ev.endpoint describe the last failure */
    RELAY_S_RESULT,                     /* a job came back: one recipient's ev.code
                                         * (0: no answer) and ev.text (its reply, or
                                         * the job's last failure, or NULL) */
    RELAY_S_RETRY,                      /* a round ended with recipients pending: when?
                                         * retry_ms from ev.transport, ev.rounds and
                                         * ev.conn_failure */
    RELAY_S_ADMIN_DELETE,               /* an administrator deleted the message with a
                                         * DSN: its pending recipients fail */
    RELAY_S_STS,                        /* MTA-STS enforce left no MX host to try: ev.domain
                                         * is the policy domain, ev.text the MX hosts the
                                         * policy refused ("a, b"; "" or NULL: every host
                                         * it allows has no address) */
    /* One SMTP connection (smtp/): what it was doing or waiting for. */
    RELAY_S_CONNECT,
    RELAY_S_BANNER,
    RELAY_S_EHLO,
    RELAY_S_HELO,
    RELAY_S_STARTTLS,
    RELAY_S_TLS,                        /* the handshake and the partner's checks */
    RELAY_S_RSET,
    RELAY_S_MAIL,
    RELAY_S_RCPT,
    RELAY_S_DATA,
    RELAY_S_DOT,                        /* the reply to the final dot */
};

/* At a connection stage: what went wrong instead of a reply. */
enum relay_error {
    RELAY_E_NONE,                       /* a reply: ev.code and ev.text */
    RELAY_E_CONN,                       /* could not connect, or the connection was
                                         * lost; ev.text says how ("connection refused"),
                                         * NULL: "connection lost while waiting for
                                         * the reply to STAGE" */
    RELAY_E_TIMEOUT,                    /* no reply in time ("timeout while waiting for
                                         * the reply to STAGE"; ev.text unused) */
    RELAY_E_PROTOCOL,                   /* a malformed reply */
    RELAY_E_SECURE,                     /* domain security refused this host; ev.text is
                                         * the verdict's reply (policy_send_secure) */
    RELAY_E_NO_TLS,                     /* [send] require_tls and no TLS with this host */
    RELAY_E_HANDSHAKE,                  /* the TLS handshake failed; ev.text: the error */
    RELAY_E_TOO_BIG,                    /* the message exceeds the peer's SIZE */
    RELAY_E_SHUTDOWN,                   /* the stop took this connection's job back */
    /* RFC 8689 4.2.1: a REQUIRETLS message (not a bounce) on a connection
     * that cannot carry it; ev.text names the host.  FAIL the job, CONTINUE,
     * except as ev.hosts_left and ev.sts_failure say. */
    RELAY_E_REQUIRETLS_TLS,             /* TLS not verified (list, MTA-STS enforce,
                                         * verified smart host): 5.7.10; with
                                         * ev.sts_failure DEFER 4.7.10 instead */
    RELAY_E_REQUIRETLS_PEER,            /* the next hop does not offer REQUIRETLS: 5.7.30;
                                         * with ev.hosts_left NEXT_HOST (DEFER, noted) */
};

struct relay_event {
    enum relay_stage stage;
    enum relay_error error;             /* connection stages and RELAY_S_ALL_HOSTS
                                         * (RELAY_E_CONN: the last failure was the
                                         * connection's, or nothing was tried: 441);
                                         * RELAY_E_NONE elsewhere */
    int     code;                       /* the reply's code; 0: none */
    const char *text;                   /* the reply (code first) or what went wrong;
                                         * not copied; NULL when there is nothing */
    const struct dns_result *dns;       /* RELAY_S_DNS: the lookup's result */
    bool    require_tls;                /* RELAY_S_STARTTLS, RELAY_S_TLS: [send] require_tls */
    const char *endpoint;               /* RELAY_S_ALL_HOSTS: last "ip:port" tried, or NULL */
    const char *domain;                 /* RELAY_S_STS, RELAY_E_REQUIRETLS_TLS: the
                                         * (policy) domain */
    bool    hosts_left;                 /* RELAY_E_REQUIRETLS_PEER: the destination has
                                         * another address to try */
    const char *sts_failure;            /* RELAY_E_REQUIRETLS_TLS: the domain's MTA-STS
                                         * lookup failed and no policy is known (its RFC
                                         * 8460 result type), or NULL */
    /* The attempt history (expiry and the retry delay of a deferral). */
    const struct cfg_transport *transport;      /* NULL: no retry_ms (and see EXPIRY) */
    unsigned rounds;                    /* delivery rounds of the message so far */
    bool    conn_failure;               /* this round could not connect (a longer wait) */
    uint64_t age_ms;                    /* RELAY_S_EXPIRY: time since the message arrived */
};

struct relay_decision {
    enum relay_outcome rcpt;            /* what the recipients concerned get */
    enum relay_scope scope;             /* which recipients are concerned */
    enum relay_host_action host;        /* what the connection / destination does next */
    bool    record;                     /* the recipients concerned get rcpt, code and
                                         * text now; false: nothing to record (go on,
                                         * fall back, or a host's failure only noted) */
    int     code;                       /* the reply code to keep for those recipients
                                         * (0: no answer; the job's last failure counts) */
    char   *text;                       /* owned (relay_decision_free; take it by
                                         * setting it NULL): the one-line text to record
                                         * or note; NULL when there is nothing to say
                                         * (a reply that lets the session go on) */
    char    status[16];                 /* the DSN status of text, "X.Y.Z"; without one
                                         * in the text, from the outcome ("4.0.0") */
    bool    conn_failure;               /* counts as a connection failure (the retry
                                         * schedule; 441 in the failover text) */
    uint64_t retry_ms;                  /* DEFER with ev.transport: wait this long;
                                         * EXPIRY not yet expired: the time left */
};

/* relay_trouble.c: the decision (pure). */
/*
 * What ev means; the caller carries it out, then frees the decision.  The
 * full table, stage by stage, is in relay_trouble.c.
 */
struct relay_decision relay_decide(const struct relay_event *ev);
/* Free what a decision owns (its text); d may be reused after. */
void    relay_decision_free(struct relay_decision *d);
/* The stage's name as texts and logs write it ("RCPT TO", "end of data"). */
const char *relay_stage_name(enum relay_stage st);

/*
 * The building blocks of relay_decide, exported for its unit tests only:
 * delivery code calls relay_decide, never these (tests/check-layers.sh).
 */
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

#endif
