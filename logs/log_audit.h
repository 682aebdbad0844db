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
    /* Report metadata, not copied (the result points at them). */
    const char *host, *version;
    const char *const *paths;
    size_t  npaths;
    const char *now;                    /* "generated at" (yyyy-MM-ddTHH:mm:ss.fffZ); NULL =
                                         * the clock */
};

struct log_audit_count {                /* a name and how often */
    char   *name;                       /* owned */
    uint64_t count;
};

/* What the audit decided about a presented certificate. */
enum log_audit_verdict {
    LOG_AUDIT_V_ACCEPTED,               /* domain-secured with it */
    LOG_AUDIT_V_REVOKED,                /* on a CRL (serial, CRL issuer, date in the record) */
    LOG_AUDIT_V_UNTRUSTED,              /* chain to no trusted root (reason says why) */
    LOG_AUDIT_V_EXPIRED,
    LOG_AUDIT_V_NOT_YET_VALID,
    LOG_AUDIT_V_WRONG_NAME,             /* chain fine, names do not match the domain */
    LOG_AUDIT_V_BAD_EKU,
    LOG_AUDIT_V_REVOCATION_UNKNOWN,     /* refused: no usable CRL */
    LOG_AUDIT_V_INVALID,                /* any other chain failure */
    LOG_AUDIT_V_NO_DECISION,            /* chain valid, but no domain-security decision used
                                         * it (an unlisted sender, no MAIL FROM) */
    LOG_AUDIT_V_COUNT
};

/* Whether a domain was on a domain-secure list. */
struct log_audit_listed {
    bool    then;                       /* listed at the time (a decision row, or the
                                         * configuration the logs recorded then) */
    bool    from_today;                 /* the logs say nothing for the time: `then` is
                                         * today's configuration (or inferred); the report
                                         * says so */
};

#define LOG_AUDIT_SIDS_MAX 16           /* session ids kept per certificate / warning */

struct log_audit_sids {                 /* the sessions of a certificate or warning */
    char    (*v)[17];                   /* owned: 16 hex digits each, first LOG_AUDIT_SIDS_MAX */
    size_t  n;
    uint64_t total;                     /* all of them (n <= total) */
};

struct log_audit_cert {
    char   *thumbprint, *subject, *issuer, *serial, *not_after;   /* owned; "" if not logged */
    char   *not_before, *names;         /* owned; "" if not logged (names ;-joined) */
    char    first_seen[LOG_READ_TSLEN + 1];
    char    last_seen[LOG_READ_TSLEN + 1];
    uint64_t sessions;                  /* sessions that presented it for this partner */
    bool    inbound;                    /* presented by the partner's client (Receive), else
                                         * by its server (Send); a certificate seen both
                                         * ways is listed twice */
    /* The verdict: one record per (direction, thumbprint, verdict). */
    enum log_audit_verdict verdict;
    char   *chain_status;               /* owned: "Valid", "Untrusted" ... as logged; "" */
    char   *revocation;                 /* owned: the "Revocation status" data as logged; "" */
    char   *reason;                     /* owned: why refused, for people ("" accepted):
                                         * the rule, the chain or revocation reason */
    char   *crl_issuer;                 /* owned: revoked: the CRL's issuer; else "" */
    char   *revoked_at;                 /* owned: revoked: the revocation date; else "" */
    char   *reply;                      /* owned: the reply we (or the partner) gave; "" */
    struct log_audit_listed listed;     /* the domain, when it was presented */
    struct log_audit_sids sids;         /* the sessions */
};

struct log_audit_bucket {               /* the chart: messages per hour or day */
    char    label[LOG_READ_TSLEN + 1];  /* "2026-11-22" or "2026-11-22T08" */
    uint64_t secured, not_secured;
    uint64_t refused;                   /* domain-security refusals (sessions) */
};

/* What the "Partner identity of '<d>' (inbound|outbound): ..." lines say
 * for one partner and direction: one line per domain-security decision
 * (inbound at MAIL FROM, outbound after the certificate check). */
struct log_audit_identity {
    uint64_t decisions;                 /* identity lines */
    uint64_t secured;                   /* of them with verdict=Secured */
    struct log_audit_count *policies;   /* every decision by the policy that applied:
                                         * "partner require=ca+pin", "global require=ca" */
    size_t  npolicies;
    struct log_audit_count *proved;     /* secured decisions by what proved identity:
                                         * "ca", "pin", "ca+pin", "dane-ee", "dane-ta" */
    size_t  nproved;
    struct log_audit_count *eku;        /* every decision by eku=: "any", "clientAuth",
                                         * "serverAuth-only", "none" */
    size_t  neku;
    struct log_audit_count *revocation; /* every decision by revocation verdict and source:
                                         * "good via ocsp-stapled", "not-checked" */
    size_t  nrevocation;
    struct log_audit_count *refusals;   /* refusals by rule: "PinMismatch",
                                         * "BadEku (serverAuth only)", "DaneMismatch" */
    size_t  nrefusals;
    /* The 2026 exception, inbound only: a client secured with a
     * serverAuth-only certificate (accepted by default; a [partner]
     * section's accept_server_auth_only = no refuses it): how
     * often, when, which sessions.  0 outbound (a server's certificate is
     * serverAuth-only by nature). */
    uint64_t server_auth_only;
    char    server_auth_only_first[LOG_READ_TSLEN + 1];
    char    server_auth_only_last[LOG_READ_TSLEN + 1];
    struct log_audit_sids server_auth_only_sids;
};

struct log_audit_partner {
    char   *domain;                     /* owned, lowercase */
    bool    listed;                     /* listed then (or today when the logs do not say) */
    uint64_t sessions_in, sessions_in_secured;
    uint64_t sessions_out, sessions_out_secured;
    uint64_t messages_in, messages_in_secured;
    uint64_t messages_out, messages_out_secured;
    struct log_audit_count *failures;   /* "refused because <rule>" / "failed because ..." */
    size_t  nfailures;
    struct log_audit_count *tls;        /* "TLS1.2", "TLS1.3", "none" per session */
    size_t  ntls;
    struct log_audit_count *policies;   /* Send sessions by TLS policy and verdict:
                                         * "domain-secure: secured" / "domain-secure: failed",
                                         * "mta-sts enforce: verified", "mta-sts enforce:
                                         * failed: <RFC 8460 result-type>", "mta-sts testing:
                                         * ..." (also "mta-sts testing: plaintext"),
                                         * "opportunistic: tls" / "opportunistic: plaintext",
                                         * "dane: verified", "dane: failed: <result-type>",
                                         * "dane: tlsa lookup failed", "dane: unusable: tls" */
    size_t  npolicies;
    struct log_audit_identity identity_in, identity_out;  /* Partner identity lines */
    struct log_audit_cert *certs;       /* every one presented, by first seen */
    size_t  ncerts;
    /* Why it is (or is not) a partner. */
    struct log_audit_listed listed_in;  /* tls_receive_domain_secure_list */
    struct log_audit_listed listed_out; /* tls_send_domain_secure_list */
    bool    listed_in_now, listed_out_now;      /* today's configuration (false if none) */
    bool    presented;                  /* presented a certificate */
    bool    ours;                       /* one of our accepted domains (not a partner) */
    uint64_t sessions_in_refused, sessions_out_refused;   /* domain-security refusals */
    struct log_audit_bucket *buckets;   /* owned: same labels and order as the result's */
};

enum log_audit_warning_kind {
    LOG_AUDIT_W_CERT_CHANGED,           /* a partner presented a different certificate */
    LOG_AUDIT_W_CERT_EXPIRES,           /* not-after within expiry_days of the range's end
                                         * (a partner's or ours: `ours`) */
    LOG_AUDIT_W_NOT_SECURED,            /* mail to/from a listed domain not domain-secured */
    LOG_AUDIT_W_CERT_REFUSED,           /* a presented certificate was refused */
    LOG_AUDIT_W_REFUSED                 /* a listed domain refused without a certificate
                                         * (none presented, no STARTTLS ...) */
};

struct log_audit_warning {
    enum log_audit_warning_kind kind;
    const char *domain;                 /* the partner's, owned by the result; "" for ours */
    char    time[LOG_READ_TSLEN + 1];   /* when (first occurrence) */
    char   *text;                       /* owned: one line, for people */
    /* The facts behind the line. */
    char    first[LOG_READ_TSLEN + 1], last[LOG_READ_TSLEN + 1];
    uint64_t count;                     /* occurrences (sessions, messages) */
    struct log_audit_sids sids;
    char   *reply;                      /* owned: the reply given ("" none) */
    char   *reason;                     /* owned: the rule / verdict reason ("" none) */
    char   *thumbprint;                 /* owned: the certificate's, "" if none */
    enum log_audit_verdict verdict;     /* CERT_REFUSED */
    long    days_left;                  /* CERT_EXPIRES: negative = expired */
    bool    ours;                       /* CERT_EXPIRES: our own certificate */
    bool    inbound;                    /* the direction (Receive) */
    struct log_audit_listed listed;     /* the domain at the time (CERT_REFUSED, REFUSED,
                                         * NOT_SECURED) */
};

struct log_audit_lists {                /* the domain-secure lists */
    char  **recv;                       /* owned: tls_receive_domain_secure_list */
    size_t  nrecv;
    char  **send;                       /* owned: tls_send_domain_secure_list */
    size_t  nsend;
};

struct log_audit_config {               /* a configuration the logs recorded */
    char    time[LOG_READ_TSLEN + 1];   /* when it took effect (start, reload) */
    char    digest[65];                 /* SHA-256 of the effective lists, hex */
    struct log_audit_lists lists;
};

struct log_audit_totals {               /* one class of traffic */
    uint64_t sessions_in, sessions_in_secured, sessions_out, sessions_out_secured;
    uint64_t messages_in, messages_in_secured, messages_out, messages_out_secured;
    uint64_t refused;                   /* domain-security refusals */
};

struct log_audit_result {
    char    from[LOG_READ_TSLEN + 1];   /* the range asked for, else the rows' first */
    char    to[LOG_READ_TSLEN + 1];     /* ... and last date-time */
    bool    listed_from_config;
    struct log_audit_partner *partners; /* sorted by domain: listed then, or presented a
                                         * certificate */
    size_t  npartners;
    struct log_audit_warning *warnings;
    size_t  nwarnings;
    struct log_audit_bucket *buckets;   /* in time order */
    size_t  nbuckets;
    uint64_t rows, sessions;            /* rows seen, sessions seen */
    /* Report metadata (the caller's, copied: log_audit_opts). */
    char    generated[LOG_READ_TSLEN + 1];      /* when the report was made, UTC */
    const char *host;                   /* opts.host, or "" */
    const char *version;                /* opts.version, or "" */
    const char *const *paths;           /* opts.paths: the log directories/files read */
    size_t  npaths;
    char    first_row[LOG_READ_TSLEN + 1], last_row[LOG_READ_TSLEN + 1];  /* rows covered */
    const char *bucket_unit;            /* "hour" or "day" */
    /* Lists: now (today's configuration) and then (the logs). */
    struct log_audit_lists lists_now;   /* empty when no configuration */
    struct log_audit_lists listed_then; /* domains the logs show listed in the range */
    struct log_audit_config *configs;   /* recorded configurations in range, in time order */
    size_t  nconfigs;
    bool    history_incomplete;         /* some events had no record of the lists then:
                                         * judged by today's configuration (see notes) */
    char  **notes;                      /* owned: lines for people (fallbacks, limits) */
    size_t  nnotes;
    /* Everything else, apart from the partners. */
    struct log_audit_partner *others;   /* our accepted domains (ours) and unlisted domains
                                         * that presented no certificate; sorted */
    size_t  nothers;
    struct log_audit_totals total_partners, total_internal, total_others;
    /* Our own certificates ("Sending certificate"), by first seen. */
    struct log_audit_cert *own_certs;
    size_t  nown_certs;
};

struct log_audit;                       /* opaque */

/* log_audit.c */
struct log_audit *log_audit_new(const struct log_audit_opts *opts);
/* Feed one row (any kind, any order of files).  May unescape its fields. */
void    log_audit_row(struct log_audit *a, struct log_row *row);
/* Before the rows: a tracking row older than opts.from.  Only its CONFIG
 * rows count, and only the latest is kept, so the lists in force when the
 * range starts are known (the reader's range would leave it out). */
void    log_audit_row_before(struct log_audit *a, struct log_row *row);
/* Close the books; the result is owned by a and valid until log_audit_free(). */
const struct log_audit_result *log_audit_finish(struct log_audit *a);
void    log_audit_free(struct log_audit *a);
const char *log_audit_warning_name(enum log_audit_warning_kind k);
/* A verdict as a stable word: "accepted", "revoked", "untrusted" ... */
const char *log_audit_verdict_name(enum log_audit_verdict v);
/* Nonzero when the result holds warnings (`domsec log audit` exits 1). */
bool    log_audit_has_warnings(const struct log_audit_result *r);

/* log_audit_trust.c */
/* Whether p has any Partner identity line (either direction). */
bool    log_audit_has_identity(const struct log_audit_partner *p);

#endif
