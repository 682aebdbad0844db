/*
 * relay_admin.h - a queue administration request and its result, as plain
 * data: the control server (ctl/) fills the request on main's loop, the
 * queue manager (qmgr/, relay_qmgr_admin) executes it on its own loop and
 * fills the result, then calls req->done there.  No JSON and no pointer
 * into the queue manager's memory crosses: every string in a result is
 * owned by the request and freed by relay_admin_req_free.
 */
#ifndef DOMSEC_RELAY_ADMIN_H
#define DOMSEC_RELAY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RELAY_ADMIN_ID_LEN 16           /* a queue id: 16 hex digits (RELAY_QID_LEN) */
#define RELAY_ADMIN_LIST_MAX 10000      /* messages per list page */
#define RELAY_ADMIN_LIST_BYTES (1u << 20)   /* list: a page's text at most (estimated as
                                         * JSON, worst-case escapes), but one message */
#define RELAY_ADMIN_HEADERS_MAX 65536   /* show: header bytes returned */
#define RELAY_ADMIN_BODY_MAX (1u << 20) /* show: body bytes per page */
#define RELAY_ADMIN_BUCKETS_MAX 16      /* summary: age buckets (plus the overflow) */
#define RELAY_ADMIN_TOP_MAX 1000        /* summary: domain rows */

enum relay_admin_op {
    RELAY_ADMIN_LIST, RELAY_ADMIN_SUMMARY, RELAY_ADMIN_SHOW, RELAY_ADMIN_RETRY,
    RELAY_ADMIN_HOLD, RELAY_ADMIN_RELEASE, RELAY_ADMIN_DELETE,
    RELAY_ADMIN_TLSRPT_SEND,            /* send a day's TLS-RPT reports (relay_tlsrpt.h) */
};

enum relay_admin_status {
    RELAY_ADMIN_OK,
    RELAY_ADMIN_NOT_FOUND,              /* no such queue id */
    RELAY_ADMIN_CONFLICT,               /* by id: already held, not held, being deleted */
    RELAY_ADMIN_IO,                     /* a record or removal failed: why = errno text */
    RELAY_ADMIN_STOPPING,               /* the stop has begun: nothing was done */
};

/* A message's state as shown (and filtered on). */
enum relay_admin_qstate {
    RELAY_AQ_ANY,                       /* filter only */
    RELAY_AQ_ACTIVE,                    /* a round or an I/O is under way */
    RELAY_AQ_DEFERRED,                  /* idle: waiting for its next attempt or a slot */
    RELAY_AQ_HELD,                      /* held by an administrator */
};

/* A recipient's state (as relay_qmsg's enum relay_rstate). */
enum relay_admin_rstate { RELAY_AR_PENDING, RELAY_AR_DELIVERED, RELAY_AR_FAILED };

/* Which messages; exactly one of id / domain / all selects (list and
 * summary take none: every message), state and older_than_ms filter. */
struct relay_admin_sel {
    char    id[RELAY_ADMIN_ID_LEN + 1]; /* "" = not by id */
    char   *domain;                     /* owned; a pending recipient's domain, lower
                                         * case; ".d" = d and its subdomains; or NULL */
    bool    all;
    enum relay_admin_qstate state;
    uint64_t older_than_ms;             /* 0 = any age */
};

struct relay_admin_rcpt {
    char   *addr, *last, *remote;       /* owned; last/remote may be NULL */
    enum relay_admin_rstate state;
    unsigned attempts;
    uint64_t last_ms;                   /* 0 = never tried */
};

/* One message as the queue manager saw it (a snapshot; all owned). */
struct relay_admin_msg {
    char    id[RELAY_ADMIN_ID_LEN + 1];
    char   *sender;                     /* "" = null sender */
    uint64_t arrival_ms, next_ms, expires_ms, size;
    uint64_t held_ms;                   /* 0 = not held */
    uint64_t delay_dsn_ms;              /* delay DSN sent at, 0 = none */
    unsigned rounds;
    enum relay_admin_qstate state;
    bool    delete_pending;             /* deleted while in flight: goes when the round ends */
    struct relay_admin_rcpt *rcpts;
    size_t  nrcpts;
    /* show only */
    char   *connector, *client, *helo, *session;    /* from the queue file, or NULL */
    char   *headers;                    /* header section, NUL-terminated */
    size_t  headers_len;
    bool    headers_truncated;          /* longer than RELAY_ADMIN_HEADERS_MAX */
    char   *body;                       /* with want_body: a page from body_off */
    size_t  body_len;
    bool    body_more;                  /* more body after this page */
};

/* summary: one row of counts; counts[nbuckets] is the overflow */
struct relay_admin_row {
    char   *domain;                     /* owned */
    unsigned total;
    unsigned counts[RELAY_ADMIN_BUCKETS_MAX + 1];
};

struct relay_admin_summary {
    unsigned nbuckets;
    uint64_t limit_ms[RELAY_ADMIN_BUCKETS_MAX];  /* bucket i holds ages <= limit_ms[i] */
    struct relay_admin_row total;       /* domain "TOTAL" */
    struct relay_admin_row *rows;       /* by total, descending; at most top */
    size_t  nrows, nall;                /* returned, and domains in all */
};

struct relay_admin_req {
    /* In: filled by the caller. */
    enum relay_admin_op op;
    struct relay_admin_sel sel;
    bool    bounce;                     /* delete: send the sender a failure DSN */
    unsigned limit;                     /* list: 1..RELAY_ADMIN_LIST_MAX (0 = 1000) */
    char    after[RELAY_ADMIN_ID_LEN + 1];      /* list: ids greater than this ("" = from the start) */
    unsigned buckets;                   /* summary: 1..16 (0 = 10) */
    uint64_t bucket_ms;                 /* summary: first bucket (0 = 5 min) */
    bool    by_sender;                  /* summary: messages by sender domain */
    unsigned top;                       /* summary: rows (0 = 50) */
    bool    want_body;                  /* show */
    uint64_t body_off;
    char    tlsrpt_day[11];             /* tlsrpt send: YYYY-MM-DD */
    char   *tlsrpt_domain;              /* tlsrpt send: owned; NULL = every domain */
    bool    tlsrpt_again;               /* tlsrpt send: reports sent already too */
    uid_t   uid;                        /* who asks (logs, records) */
    pid_t   pid;
    /* Out: filled by the queue manager. */
    enum relay_admin_status status;
    char   *why;                        /* owned: the error's text, or NULL */
    struct relay_admin_msg *msgs;       /* list: a page; show: one */
    size_t  nmsgs;
    bool    more;                       /* list: more after msgs[nmsgs - 1] */
    struct relay_admin_summary *summary;
    unsigned matched, changed, pending, skipped, in_flight, dsns;
    unsigned failed;                    /* changes: writes that failed (why names them) */
    unsigned gone;                      /* changes: files removed meanwhile (forgotten) */
    char   *text;                       /* owned: tlsrpt send's result lines */
    /* The caller's: done runs once on the queue manager's loop, never
     * inside relay_qmgr_admin; it must not block (hand the request back
     * to its own loop). */
    void  (*done)(struct relay_admin_req *req);
    void   *arg;
    /* Private: the mailbox. */
    struct relay_admin_req *next;
};

/* relay_admin.c */
struct relay_admin_req *relay_admin_req_new(enum relay_admin_op op);
void    relay_admin_req_free(struct relay_admin_req *req);
void    relay_admin_msg_clear(struct relay_admin_msg *m);
const char *relay_admin_qstate_name(enum relay_admin_qstate st);  /* "active", ... */
const char *relay_admin_rstate_name(enum relay_admin_rstate st);  /* "pending", ... */
const char *relay_admin_op_name(enum relay_admin_op op);          /* "hold", ... */
/* Does domain (lower case) match the filter f ("d" exact, ".d" d or below)? */
bool    relay_admin_domain_match(const char *f, const char *domain);

#endif
