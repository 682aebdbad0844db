/*
 * log_audit.h - the domain-security audit over protocol and message
 * tracking rows (SPEC 5.3, `domsec log audit`).
 *
 *   struct log_audit *a = log_audit_new(&opts);
 *   while (log_reader_next(r, &row) == 1)
 *       log_audit_row(a, &row);
 *   const struct log_audit_result *res = log_audit_finish(a);
 *   ... print res ...
 *   log_audit_free(a);
 *
 * The rules (which rows count for what) are in log_audit.c's header and in
 * docs/LOGS.md "The rows domsec writes".
 */
#ifndef DOMSEC_LOG_AUDIT_H
#define DOMSEC_LOG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_read.h"

struct log_audit_opts {
    const char *from, *to;              /* the range the rows were read for (labels, expiry) */
    const char *const *send_listed;     /* tls_send_domain_secure_list; NULL = infer */
    size_t  nsend_listed;
    const char *const *recv_listed;     /* tls_receive_domain_secure_list */
    size_t  nrecv_listed;
    bool    listed_known;               /* the lists above come from a config */
    const char *domain;                 /* only this partner; NULL = all */
    unsigned expiry_days;               /* 0 = 30 */
    /* From a config (both optional): our receive connectors with permission
     * internal (their sessions and RECEIVE rows are our own users' mail, not a
     * partner's: the relay writes their RECEIVE rows as Originating, but logs
     * from before that wrote Incoming), and our accepted
     * domains (a SEND to one is a delivery inward, not to a partner). */
    const char *const *internal_connectors;
    size_t  ninternal;
    const char *const *accepted;        /* "d" or "*.d" */
    size_t  naccepted;
};

struct log_audit_count {                /* a name and how often */
    char   *name;                       /* owned */
    uint64_t count;
};

struct log_audit_cert {
    char   *thumbprint, *subject, *issuer, *serial, *not_after;   /* owned; "" if not logged */
    char    first_seen[LOG_READ_TSLEN + 1];
    char    last_seen[LOG_READ_TSLEN + 1];
    uint64_t sessions;                  /* sessions that presented it for this partner */
    bool    inbound;                    /* presented by the partner's client (Receive), else
                                         * by its server (Send); a certificate seen both
                                         * ways is listed twice */
};

struct log_audit_partner {
    char   *domain;                     /* owned, lowercase */
    bool    listed;                     /* on a domain-secure list (config or inferred) */
    uint64_t sessions_in, sessions_in_secured;
    uint64_t sessions_out, sessions_out_secured;
    uint64_t messages_in, messages_in_secured;
    uint64_t messages_out, messages_out_secured;
    struct log_audit_count *failures;   /* "refused because <rule>" / "failed because ..." */
    size_t  nfailures;
    struct log_audit_count *tls;        /* "TLS1.2", "TLS1.3", "none" per session */
    size_t  ntls;
    struct log_audit_cert *certs;       /* in order of first seen */
    size_t  ncerts;
};

enum log_audit_warning_kind {
    LOG_AUDIT_W_CERT_CHANGED,           /* a partner presented a different certificate */
    LOG_AUDIT_W_CERT_EXPIRES,           /* not-after within expiry_days of the range's end */
    LOG_AUDIT_W_NOT_SECURED             /* mail to/from a listed domain not domain-secured */
};

struct log_audit_warning {
    enum log_audit_warning_kind kind;
    const char *domain;                 /* the partner's, owned by the result */
    char    time[LOG_READ_TSLEN + 1];   /* when (first occurrence) */
    char   *text;                       /* owned: one line, for people */
};

struct log_audit_bucket {               /* the chart: messages per hour or day */
    char    label[LOG_READ_TSLEN + 1];  /* "2026-11-22" or "2026-11-22T08" */
    uint64_t secured, not_secured;
};

struct log_audit_result {
    char    from[LOG_READ_TSLEN + 1];   /* the range asked for, else the rows' first */
    char    to[LOG_READ_TSLEN + 1];     /* ... and last date-time */
    bool    listed_from_config;
    struct log_audit_partner *partners; /* sorted by domain */
    size_t  npartners;
    struct log_audit_warning *warnings;
    size_t  nwarnings;
    struct log_audit_bucket *buckets;   /* in time order */
    size_t  nbuckets;
    uint64_t rows, sessions;            /* rows seen, sessions seen */
};

struct log_audit;                       /* opaque */

/* log_audit.c */
struct log_audit *log_audit_new(const struct log_audit_opts *opts);
/* Feed one row (any kind, any order of files).  May unescape its fields. */
void    log_audit_row(struct log_audit *a, struct log_row *row);
/* Close the books; the result is owned by a and valid until log_audit_free(). */
const struct log_audit_result *log_audit_finish(struct log_audit *a);
void    log_audit_free(struct log_audit *a);
const char *log_audit_warning_name(enum log_audit_warning_kind k);

#endif
