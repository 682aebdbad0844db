/*
 * log_int.h - internals shared by the .c files of logs/; private: nothing
 * outside logs/ includes it (the public APIs are log_audit.h, log_file.h ...).
 *
 *  - The audit (log_audit.c, log_audit_cert.c, log_audit_index.c,
 *    log_audit_trust.c ...): its state, whose rules are in log_audit.c's
 *    header.  log_audit_cert.c keeps the certificate blocks and the
 *    warnings, log_audit_index.c the hash tables and small parsers,
 *    log_audit_trust.c the partner identity and DANE rows.
 *  - The log file engine (log_file.c, log_dir.c): struct log_file, whose
 *    contract is in log_file.c's header.  log_dir.c keeps the directory
 *    side: listing the files, choosing the one to append to, retention.
 *
 * Prototypes are grouped by the .c file that implements them.
 */
#ifndef DOMSEC_LOG_INT_H
#define DOMSEC_LOG_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_audit.h"
#include "log_file.h"
#include "log_read.h"

/* The audit's state (log_audit*.c). */

/* A session's partner domains: the arrays grow to AUDIT_SESS_DOMAINS_MAX;
 * past it a domain without a decision gives its slot up, so a client cannot
 * push a verdict row out with junk MAIL FROMs (issue 14). */
#define AUDIT_SESS_DOMAINS_MAX 4096
#define AUDIT_NO_SLOT 0xffff

enum audit_block { BLOCK_NONE, BLOCK_OURS, BLOCK_PEER };

struct audit_cert_seen {                /* a certificate block of a session */
    char   *thumbprint, *subject, *issuer, *serial, *not_after;     /* xstrdup()ed or NULL */
    char   *not_before, *names;         /* xstrdup()ed or NULL */
    char   *chain_status, *chain_reason, *revocation;   /* the rows after it; NULL */
    char    seen[LOG_READ_TSLEN + 1];
};

struct audit_dec {                      /* a domain-security decision in a session */
    char    time[LOG_READ_TSLEN + 1];
    bool    secured, refused;
    char   *rule;                       /* owned: "refused because <rule>" / "failed
                                         * because <reason>"; NULL when secured */
    char   *reply;                      /* owned: the `>` row after a refusal; NULL */
};

struct audit_sess {
    uint64_t sid;
    uint8_t used, kind, block;
    uint16_t ndom, domcap;              /* dom[] (and dec[]) used and allocated */
    uint16_t reply_slot;                /* dec[] awaiting its reply row, or AUDIT_NO_SLOT */
    bool    internal;                   /* on an internal receive connector */
    char    tls[8];                     /* "TLS1.2"; "" none */
    uint32_t *dom;                      /* owned: partner indices; NULL when none */
    struct audit_dec *dec;              /* owned: domcap of them, or NULL when the
                                         * session had no decision row */
    struct audit_cert_seen *cert;       /* owned; NULL if none presented */
    struct audit_cert_seen *own;        /* owned: our block while it is open; NULL */
    char   *tls_error;                  /* owned; NULL */
};

struct audit_hours {                    /* hour buckets, sorted by label */
    struct log_audit_bucket *v;
    size_t  n, cap;
};

enum audit_count { AUDIT_C_SECURED, AUDIT_C_NOT_SECURED, AUDIT_C_REFUSED };

struct audit_partner {                  /* the result record, plus state */
    struct log_audit_partner p;
    bool    inferred;                   /* a decision row or a 02P message */
    bool    then_in, then_out;          /* the logs show it listed at the time */
    bool    today_in, today_out;        /* an event judged by today's configuration */
    uint64_t unsecured_in, unsecured_out;
    char    unsecured_in_at[LOG_READ_TSLEN + 1], unsecured_out_at[LOG_READ_TSLEN + 1];
    size_t  certs_cap;
    struct audit_hours hours;
};

struct audit_pending {                  /* a message not domain-secured, judged at the end */
    uint64_t sid;                       /* its session (source-context) */
    uint32_t pi;                        /* the partner */
    bool    in, has_sid;
    char    time[LOG_READ_TSLEN + 1];
};

struct log_audit {
    struct log_audit_opts opts;         /* strings not copied: the caller's */
    struct audit_sess *sess;            /* open addressing */
    size_t  sess_cap, nsess;
    struct audit_partner *partners;
    size_t  npartners, partners_cap;
    uint32_t *pidx;                     /* hash of partners: index + 1, 0 empty */
    size_t  pidx_cap;
    struct audit_hours hours;
    size_t  own_cap, warn_cap;
    uint64_t today_events;              /* events judged by today's configuration */
    struct audit_pending *pending;
    size_t  npending, pending_cap;
    char    first[LOG_READ_TSLEN + 1], last[LOG_READ_TSLEN + 1];
    struct log_audit_result res;
    bool    finished;
};

/* The log file engine's state (log_file.c, log_dir.c). */

struct log_buf;                         /* log_file.c */

struct log_file {
    /* Immutable after open. */
    char   *dir;                        /* xstrdup()ed */
    char   *prefix;                     /* xstrdup()ed */
    char   *head_a;                     /* BOM ... "#Date: ", xasprintf()ed */
    char   *head_b;                     /* "\r\n#Fields: ...\r\n", xasprintf()ed */
    size_t  head_len;                   /* whole header, date included */
    int     dirfd;
    uint64_t max_file, max_dir, max_age;
    unsigned flush_ms;
    size_t  queue_limit;
    log_clock_fn *clock;
    void   *clock_arg;
    pthread_t thread;

    /* Under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;                /* writer: work to do */
    pthread_cond_t done;                /* flushers: flush_done moved */
    struct log_buf *cur;                /* being filled, or NULL */
    struct log_buf *qhead, *qtail;      /* sealed, for the writer */
    struct log_buf *free;               /* spare LOG_BUF_SIZE buffers */
    unsigned nfree;
    size_t  mem;                        /* bytes of all buffers allocated */
    uint64_t day_hi;                    /* latest day of any buffer */
    uint64_t flush_req, flush_done;
    bool    stop, paused, dropping;
    struct log_file_stats st;
    char   *carry;                      /* a row repeated at the top of each new file, or NULL */
    size_t  carry_len;

    /* Writer thread only. */
    int     fd;                         /* current file, or -1 */
    uint64_t fday;                      /* its day */
    unsigned fn;                        /* its instance number */
    uint64_t fsize;
    bool    frows;                      /* it holds at least one row */
    bool    unsynced;
    bool    werr_logged;
    bool    had_file;                   /* a file was open before: a new one is a rotation */
    uint64_t last_retention;
    uint64_t drops_reported;
    uint64_t taken_day;                 /* log_dir.c: the day of the two below */
    unsigned taken_hi;                  /* its highest instance found taken (warned) */
    unsigned taken_warned;              /* its taken names warned */
};

/* log_audit.c */
void    log__audit_judge_messages(struct log_audit *a);

/* log_audit_index.c */
uint32_t log__audit_partner_find(struct log_audit *a, const char *d, size_t n);
const char *log__audit_addr_domain(const char *s, size_t n, size_t *dl);
bool    log__audit_internal(const struct log_audit *a, const struct log_field *conn);
bool    log__audit_accepted(const struct log_audit *a, const char *d, size_t n);
struct audit_sess *log__audit_sess_get(struct log_audit *a, enum log_read_kind kind, uint64_t sid);
struct audit_sess *log__audit_sess_find(struct log_audit *a, enum log_read_kind kind, uint64_t sid);
bool    log__audit_sid(const char *p, size_t n, uint64_t *out);
int     log__audit_sess_domain(struct log_audit *a, struct audit_sess *s, const char *d, size_t n);
void    log__audit_count_add(struct log_audit_count **list, size_t *n, const char *name, size_t len);
void    log__audit_bucket(struct audit_hours *h, const struct log_field *date, enum audit_count what);
void    log__audit_sids_add(struct log_audit_sids *l, uint64_t sid);
void    log__audit_sids_sort(struct log_audit_sids *l);

/* log_audit_cert.c */
bool    log__audit_cert_row(struct log_audit *a, struct audit_sess *s, enum log_read_kind kind,
                            struct log_field *f);
enum log_audit_verdict log__audit_cert_verdict(const struct audit_cert_seen *c,
                                               const struct audit_dec *d);
char   *log__audit_cert_reason(const struct audit_cert_seen *c, enum log_audit_verdict v,
                               const char *domain, bool inbound);
struct log_audit_cert *log__audit_cert_add(struct log_audit_cert **v, size_t *n, size_t *cap,
                                           const struct audit_cert_seen *c, bool inbound,
                                           enum log_audit_verdict verdict);
void    log__audit_cert_seen_free(struct audit_cert_seen *c);
void    log__audit_certs_free(struct log_audit_cert *v, size_t n);

/* log_audit_warn.c */
struct audit_event {                    /* one refusal, for log__audit_warn_event() */
    enum log_audit_warning_kind kind;   /* CERT_REFUSED or REFUSED */
    struct audit_partner *ap;
    bool    inbound;
    const char *thumbprint;             /* "" none */
    enum log_audit_verdict verdict;
    const char *reason, *reply;         /* may be NULL */
    const char *time;
    uint64_t sid;
    struct log_audit_listed listed;
};
void    log__audit_warn_event(struct log_audit *a, const struct audit_event *e);
void    log__audit_warnings(struct log_audit *a, const char *end);
void    log__audit_warnings_free(struct log_audit_result *r);

/* log_audit_trust.c */
void    log__audit_identity_row(struct log_audit *a, struct audit_sess *s,
                                const struct log_field *date, const struct log_field *ctx);
void    log__audit_dane_row(struct log_audit *a, struct audit_sess *s, const struct log_field *ctx);
void    log__audit_identity_close(struct log_audit_partner *p);
void    log__audit_identity_free(struct log_audit_partner *p);

/* log_audit_result.c */
void    log__audit_lists_free(struct log_audit_lists *l);

/* log_file.c */
int     log__file_write_all(int fd, const char *p, size_t n);
void    log__file_close_fd(struct log_file *lf);
int     log__file_header(struct log_file *lf);
int     log__file_carry(struct log_file *lf);

/* log_dir.c */
void    log__dir_retention(struct log_file *lf);
int     log__dir_open_day(struct log_file *lf, uint64_t day, bool force_new);

#endif
