/*
 * relay_smtpd.h - the SMTP receive session: fields shared by
 * relay_session.c (lifecycle, I/O, timers), relay_proto.c (command parser
 * and command table) and relay_data.c (DATA filter and spooling).
 * Private to those three files; everyone else sees struct relay_session
 * as opaque (relay_worker.h).  The smtpd/ API is relay_receive.h.
 *
 * Test seam: the unit tests (tests/unit/relay_smtpd_*_test.c) need no hook
 * of their own.  They run a real session on their own loop: a
 * loopback listener whose connection callback calls
 * relay_session_accept() with a relay_worker holding only loop, lock and
 * wake; a client socket feeds bytes and reads replies.  They read the
 * session's fields (state, tx, helo, errors, tarpit_reply), give it a
 * tls_ctx to offer STARTTLS, end a tarpit with relay__tarpit_end() instead
 * of waiting for its timer, and check the command table through
 * relay__cmd_find().
 */
#ifndef DOMSEC_RELAY_SMTPD_H
#define DOMSEC_RELAY_SMTPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "policy_config.h"
#include "policy_secure.h"
#include "relay_plog.h"
#include "relay_spool.h"
#include "relay_worker.h"
#include "tls_conn.h"
#include "tls_store.h"

#define RELAY_LINE_MAX 2048             /* command line incl. CRLF */
#define RELAY_SPOOL_CHUNK (64 * 1024)   /* flush DATA to disk in chunks this big */

/*
 * States of a receive session; only relay__enter_state() changes them.
 *
 *   CMD ──DATA──> DATA ──"."──> SPOOL_WAIT ──(committed, or file removed)──> CMD
 *    │              │└─(refused, no file to remove)──────────────────────> CMD
 *    │              └─(spool write busy)─> SPOOL_WAIT ─(written)─> DATA
 *    └─(refusal the verdict tarpits)─> TARPIT ─(timer, or worker stopping)─> CMD
 *   any ──relay__close()──> CLOSING (final)
 *
 * Input is read in CMD and DATA only; in both waits it stays buffered
 * (and the socket unread), so pipelined commands are answered in order.
 */
enum relay_state {
    RELAY_S_CMD,                        /* reading commands */
    RELAY_S_DATA,                       /* reading message text */
    RELAY_S_SPOOL_WAIT,                 /* waiting for the spool: a write, the commit, or
                                         * the removal of a refused message */
    RELAY_S_TARPIT,                     /* holding a refusal back (tarpit_reply) */
    RELAY_S_CLOSING,                    /* conn closing; waiting for CLOSED */
};

enum relay_body { RELAY_BODY_NONE, RELAY_BODY_7BIT, RELAY_BODY_8BITMIME };

/* The "TLS-Required: No" scan of the header section (relay_data.c, RFC 8689 3). */
struct relay_tlsreq {
    bool    done;                       /* past the header section */
    bool    mid;                        /* inside a line (past its leading CRs) */
    bool    name;                       /* in the line's field name (before the colon) */
    bool    name_blank;                 /* a blank after the name: only the colon may follow */
    unsigned crs;                       /* CRs that start the current line */
    bool    no;                         /* a "TLS-Required: No" field was seen */
    size_t  len;                        /* bytes in buf; sizeof(buf): too long to match */
    char    buf[32];                    /* the current field, unfolded, CR dropped,
                                         * whitespace runs as one space */
};

/* DATA filter (relay_data.c): RFC 5321 4.5.2 with smuggling defence. */
enum relay_dot_state { RELAY_DOT_BOL, RELAY_DOT_TEXT, RELAY_DOT_CR, RELAY_DOT_DOT, RELAY_DOT_DOTCR };

struct relay_tx {                       /* one mail transaction */
    char   *sender;                     /* owned; without <>; "" = null sender */
    char  **rcpts;                      /* owned strings, owned array */
    size_t  nrcpts, cap;
    enum relay_body body;
    uint64_t size_param;
    bool    requiretls;                 /* MAIL FROM REQUIRETLS (RFC 8689) */
    struct relay_tlsreq tlsreq;         /* TLS-Required: No (ignored with requiretls) */
    /* DATA phase. */
    char    id[RELAY_QID_LEN + 1];
    struct relay_spool *spool;          /* owned until commit/abort */
    enum relay_dot_state dot;
    bool    bare_eol;                   /* saw bare CR or LF: reject at end */
    bool    too_big;                    /* exceeded max_message_size: reject at end */
    bool    eod;                        /* end of data seen, a write still in flight */
    int     spool_err;                  /* first -errno from the spool */
    const char *reject;                 /* static reply, while the file is removed */
    uint64_t bytes;                     /* message bytes accepted so far */
    uint64_t eod_ns;                    /* uv_hrtime() at the final dot */
    char   *secured;                    /* owned: the partner domain if domain-secured */
    /* Header firewall (relay_data.c): strip X-MS-Exchange-Organization-*. */
    bool    in_body;                    /* past the empty line ending the header */
    bool    hdr_drop;                   /* dropping the current header (and its folds) */
    bool    hdr_bol;                    /* at the start of a header line */
    char    hbuf[32];                   /* start of a header line, until decided */
    size_t  hlen;
};

/*
 * The identity facts of one [partner D] section, judged once per TLS
 * session and configuration generation (review A #5: re-verifying the
 * sent chain against a partner CA bundle at every MAIL FROM is CPU that a
 * client controls; the chain cannot change within a TLS session, and a
 * reload changes policy_config_generation(), so it is judged again).
 */
#define RELAY_IDENT_DETAIL_MAX 320       /* why a partner CA did not verify the chain */

struct relay_ident_memo {
    bool    valid;
    bool    name_match;                 /* the input it was judged with */
    uint64_t generation;                /* policy_config_generation() before judging */
    struct policy_identity idf;         /* idf.partner points into the session's cfg */
    char    detail[RELAY_IDENT_DETAIL_MAX];
};

struct relay_session {
    uint64_t sid;
    struct relay_session_plog plog;     /* the protocol log of this session */
    struct relay_worker *worker;        /* not owned */
    struct relay_session *prev, *next;  /* worker's list */
    struct config *cfg;                 /* referenced for the session's life */
    const struct cfg_receive *rc;       /* points into cfg */
    struct tls_conn *conn;              /* owned; freed after TLS_EV_CLOSED */
    struct sockaddr_storage local, remote;
    char    remote_ip[48];              /* text, no brackets */
    char    remote_ep[64];              /* ip:port / [ip]:port */
    char   *limit_key;                  /* owned; per-source limit slot */
    enum relay_state state;
    char   *helo;                       /* owned */
    bool    esmtp;
    bool    discarding;                 /* skipping the rest of an overlong line */
    bool    quit;                       /* close after flushing */
    struct tls_ctx *tls_ctx;            /* referenced: STARTTLS offered; NULL: not */
    bool    tls;                        /* the session is in TLS */
    bool    tls_started;                /* STARTTLS accepted: a handshake began */
    unsigned stats_label;               /* relay_stats label of rc */
    const struct tls_facts *facts;      /* owned by conn; valid while tls */
    struct tls_cert_info *peer;         /* owned: the client certificate's facts, or NULL */
    struct relay_ident_memo *ident;     /* owned: cfg->npartners entries, NULL until used */
    unsigned errors;
    unsigned ntx;                       /* transactions completed */
    struct relay_tx *tx;                /* owned; NULL outside MAIL..end */
    struct relay_tx *tx_spare;          /* owned: the last one, zeroed, reused by MAIL */
    /*
     * Time limits (relay_session.c).  idle_timer runs for the earlier of
     * connection_inactivity_timeout after the last input and the deadline
     * of the request being read: a command line must be complete within
     * command_timeout of the moment it may start (the previous reply);
     * DATA text starts with command_timeout of credit and each byte read
     * earns 1/min_data_rate s more, never beyond command_timeout ahead
     * (Postfix smtpd_per_request_deadline + smtpd_min_data_rate).
     * Bytes that trickle in restart the inactivity timer, not the deadline.
     */
    uv_timer_t idle_timer, life_timer;
    uint64_t idle_since;                /* uv_now() of the last input or wait's end */
    uint64_t deadline;                  /* uv_now() by which the request must be in; 0: none */
    uint64_t deadline_left;             /* in SPOOL_WAIT/TARPIT: ms the request had left */
    uint64_t credit_rem;                /* DATA credit: (bytes * 1000) mod min_data_rate */
    uv_timer_t tarpit_timer;            /* holds a refusal back (domain security) */
    char   *tarpit_reply;               /* owned: the reply held back, or NULL */
    int     open_handles;
    bool    handles_closed;
    int     pending;                    /* background operations that hold us */
};

/* Why a session closes: the word of the "disconnect ... reason=" log line
 * and the protocol log's "-" context (relay__close_reason_name/_plog). */
enum relay_close_reason {
    RELAY_CLOSE_LOCAL,                  /* "Local": we end it (also: just re-check) */
    RELAY_CLOSE_QUIT,                   /* "QuitVerb" */
    RELAY_CLOSE_TIMEOUT,                /* "Timeout" */
    RELAY_CLOSE_TOO_MANY_ERRORS,        /* "TooManyErrors" */
    RELAY_CLOSE_REMOTE,                 /* "Remote": the client went away */
    RELAY_CLOSE_CONNECTION_LIMIT,       /* "ConnectionLimit" */
    RELAY_CLOSE_SOURCE_LIMIT            /* "SourceLimit" */
};

/* relay_session.c */
/* "CMD", "DATA", "SPOOL_WAIT", "TARPIT", "CLOSING"; panics on a bad value. */
const char *relay__strstate(enum relay_state st);
/* The one place s->state changes; logs "state OLD -> NEW" at debug level. */
void    relay__enter_state(struct relay_session *s, enum relay_state st);
void    relay__reply(struct relay_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Begin closing s (once; later calls only re-check whether it can be freed). */
void    relay__close(struct relay_session *s, enum relay_close_reason why);
/* The log word of why; its protocol log context. Panic on a bad value. */
const char *relay__close_reason_name(enum relay_close_reason why);
enum log_proto_reason relay__close_reason_plog(enum relay_close_reason why);
void    relay__process(struct relay_session *s);
/*
 * Send reply (one line, without CRLF) after ms instead of now (Exchange's
 * tarpit after 530 5.7.1 Not authenticated): input waits meanwhile, so
 * pipelined commands are answered after it, in order.  ms 0: now.
 */
void    relay__tarpit(struct relay_session *s, uint64_t ms, const char *reply);
/* End the tarpit now: the held reply goes out, input resumes (the timer,
 * a stopping worker, and tests, which must not wait for the timer). */
void    relay__tarpit_end(struct relay_session *s);
void    relay__tx_free(struct relay_session *s);

/*
 * The command table (relay_proto.c): each command's rules, enforced by the
 * one dispatcher relay__command() before the command's own code runs.
 */
#define RELAY_CMD_PRE_TLS          0x01u    /* allowed before STARTTLS on a connector with
                                             * require_tls (others: 451 5.7.3, close) */
#define RELAY_CMD_NEED_HELO        0x02u    /* 503 "Send hello first" before EHLO/HELO */
#define RELAY_CMD_NO_TX            0x04u    /* 503 "Sender already specified" in MAIL..end */
#define RELAY_CMD_NEED_TX          0x08u    /* 503 "Need mail command" outside MAIL..end */
#define RELAY_CMD_NEED_RCPT        0x10u    /* 503 "Need rcpt command" before a recipient */
#define RELAY_CMD_LAST_IN_PIPELINE 0x20u    /* ends a pipelined group (RFC 2920 3.1):
                                             * command input buffered behind it is
                                             * improper pipelining (a debug log line) */

/* The counter a command bumps, checked after its syntax, before policy. */
enum relay_cmd_limit {
    RELAY_CMD_NO_LIMIT,
    RELAY_CMD_RCPT_LIMIT,               /* max_recipients_per_message: 452 4.5.3 */
};
/* Every protocol error of any command (a 500/501/503 of the dispatcher or a
 * check) bumps s->errors toward max_protocol_errors (relay__protocol_error). */

/* What a command's check parsed, for its proceed step; owned by the dispatcher. */
struct relay_args {
    char   *text;                       /* the argument text (in the line buffer) */
    char   *addr;                       /* MAIL/RCPT path, owned; proceed may take it
                                         * (set to NULL); "" for <> */
    enum relay_body body;               /* MAIL BODY= */
    uint64_t size;                      /* MAIL SIZE= */
    bool    requiretls;                 /* MAIL REQUIRETLS (RFC 8689) */
};

struct relay_cmd {
    const char *verb;
    /* Syntax of arg: NULL if fine (*a filled), else a protocol-error reply. */
    const char *(*check)(struct relay_session *s, char *arg, struct relay_args *a);
    /* Policy, then the change and the reply. */
    void  (*proceed)(struct relay_session *s, struct relay_args *a);
    unsigned flags;                     /* RELAY_CMD_* */
    enum relay_cmd_limit limit;
};

/* relay_proto.c */
/* The table entry of verb (vlen bytes, any case), or NULL.  For tests too. */
const struct relay_cmd *relay__cmd_find(const char *verb, size_t vlen);
/* Handle one command line (without CRLF). */
void    relay__command(struct relay_session *s, char *line, size_t len);
/* Count a protocol error; true if the session was closed for too many. */
bool    relay__protocol_error(struct relay_session *s);

/* relay_data.c */
/* Start DATA: builds the envelope and the Received header.  0 or -errno. */
int     relay__data_begin(struct relay_session *s);
/* Consume message text; returns bytes used.  May finish the DATA phase. */
size_t  relay__data_feed(struct relay_session *s, const char *p, size_t len);
/* Drop the transaction's spool (client went away). */
void    relay__data_abort(struct relay_session *s);
/* The pure filter, exposed for unit tests: see relay_data.c. */
size_t  relay_data_filter(enum relay_dot_state *st, bool *bare, const char *in, size_t len,
                          char *out, size_t *outlen, bool *done);
/* The pure TLS-Required scan of decoded message text (any split), for tests too. */
void    relay_data_tlsreq_scan(struct relay_tlsreq *st, const char *p, size_t n);
/* The text has ended: judge the field it ended with (a header-only message). */
void    relay_data_tlsreq_end(struct relay_tlsreq *st);

/* The worker thread's side (relay_worker.h is the worker's data). */
/* relay_listen.c */
/* Called on the worker thread: start accepting. */
int     relay_listen_start(struct relay_worker *w);
/* Called on the worker thread: stop accepting and close the listeners. */
void    relay_listen_stop(struct relay_worker *w);

/* relay_session.c */
void    relay_session_accept(struct relay_worker *w, uv_stream_t *server);
/* Ask every session of w to finish: idle ones get 421 and close now. */
void    relay_session_shutdown_all(struct relay_worker *w);

/* relay_worker.c */
/* A session of w ended; the worker may finish if it is stopping. */
void    relay_worker_session_gone(struct relay_worker *w);

#endif
