/*
 * relay_tlsrpt.h - SMTP TLS reporting (RFC 8460), the sending side.
 *
 * The queue manager owns one struct relay_tlsrpt (struct qmgr's tlsrpt,
 * created with its resolver; NULL when [transport] tls_reporting = no).
 * Every destination it makes borrows it: struct relay_dest's tlsrpt
 * (relay/smtp/relay_smtp.h), set by qmgr_dest_get.  So the SMTP client
 * notes a session's result with
 *
 *     relay_tlsrpt_note(d->tlsrpt, &(struct tlsrpt_result){ ... });
 *
 * and the queue manager (a failed MTA-STS policy fetch, say) with its own
 * q->tlsrpt.  A NULL instance makes relay_tlsrpt_note do nothing, so no
 * caller tests for it.  Everything runs on the queue manager's loop; the
 * note itself never blocks and never fails (counts are kept in memory).
 *
 * What is kept: per UTC day, per policy (domain, type, policy text), the
 * successful and failed session counts and the failure details (one per
 * distinct result-type / sending ip / mx host / receiving ip / detail).
 * The day's counts are written to [transport] tlsrpt_directory
 * (DAY.json, DAY = YYYY-MM-DD) on libuv's pool every minute when they
 * changed and at the stop: a crash loses at most the last minute's notes.
 * Once a day, after UTC midnight, the previous day's report is sent to the
 * rua of each policy domain's _smtp._tls TXT record (mailto: as a
 * multipart/report through our own queue; https: by POST); sent reports
 * are recorded (DAY.sent.log as each domain's report is taken, DAY.sent
 * at the end of the pass) so neither a restart nor a crash sends one
 * twice: delivery is at least once, a crash between a rua taking the
 * report and the fsync of its record can repeat it (same report-id).
 */
#ifndef DOMSEC_RELAY_TLSRPT_H
#define DOMSEC_RELAY_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sts_policy;                      /* policy/policy_sts.h */
struct relay_tlsrpt;

/* RFC 8460 4.4 policy-type */
enum tlsrpt_policy {
    TLSRPT_STS,                         /* "sts" */
    TLSRPT_TLSA,                        /* "tlsa" */
    TLSRPT_NO_POLICY,                   /* "no-policy-found" (domain-secure partners too) */
};

/*
 * One session's result (or one policy failure, e.g. a failed fetch: then
 * mx_host etc. are NULL).  Every pointer is borrowed for the call only:
 * the note copies what it keeps.
 */
struct tlsrpt_result {
    const char *domain;                 /* policy domain */
    enum tlsrpt_policy type;
    const struct sts_policy *sts;       /* TLSRPT_STS: policy-string and mx-host come from it;
                                         * may be NULL (e.g. sts-policy-fetch-error) */
    const char *failure;                /* NULL = success; else an RFC 8460 result-type
                                         * ("starttls-not-supported", "certificate-host-mismatch",
                                         * "certificate-expired", "certificate-not-trusted",
                                         * "validation-failure", "sts-policy-fetch-error",
                                         * "sts-policy-invalid", "sts-webpki-invalid", ...) */
    const char *mx_host;                /* receiving-mx-hostname, or NULL */
    const char *receiving_ip;           /* or NULL */
    const char *sending_ip;             /* sending-mta-ip, or NULL */
    const char *detail;                 /* failure-reason-code (RFC 8460 4.4: a TLS error code
                                         * or message; additional-information would be a
                                         * URI, which we do not have), or NULL */
    const char *const *tlsa;            /* TLSRPT_TLSA: the policy-string, one TLSA record a
                                         * line ("3 1 1 1F85..."), or NULL (none usable) */
    size_t  ntlsa;
};

/*
 * What the owner (the queue manager) lends: its loop (a worker, so report
 * mail is spooled and committed like a DSN), its current resolver and
 * HTTP client (looked up at each use: a reload may replace the resolver),
 * and the hook that hears of a report mail committed to the queue (as
 * relay_receive_on_queued: sts/ never calls qmgr/).
 */
struct relay_worker;
struct dns_resolver;
struct relay_http;
struct config;
struct relay_tlsrpt_env {
    struct relay_worker *w;
    struct dns_resolver *(*resolver)(void *owner);
    struct relay_http *(*http)(void *owner);        /* the loop's client (kept until the
                                                     * recorder is closed); NULL or a NULL
                                                     * answer: https rua not sent */
    void  (*queued)(void *owner, const char *id);   /* a report mail is in messages/ */
    void   *owner;
};

/* relay_tlsrpt.c */
/* A recorder on env->w's loop: its day files in cfg's tlsrpt_directory.
 * NULL if cfg says tls_reporting = no.  env is copied. */
struct relay_tlsrpt *relay_tlsrpt_new(const struct relay_tlsrpt_env *env, struct config *cfg);
/* Record one result for today (UTC).  t NULL: nothing.  Queue manager's loop. */
void    relay_tlsrpt_note(struct relay_tlsrpt *t, const struct tlsrpt_result *r);
/*
 * Send day's reports (day "YYYY-MM-DD"; domain NULL: every policy domain
 * of it) to each domain's rua.  Reports recorded as sent are left out
 * unless again (an administrator's `domsec tlsrpt send --again` sends
 * them once more, with the same report-id).  day must have begun (UTC);
 * today's counts so far are sent but never recorded as sent.  cb(arg,
 * text) runs once, later: one line per domain, "D sent: URI queued
 * id=..." or "D not sent: why" (text borrowed for the call); for any cb
 * but the daily pass's, after at most 150 s: then it says how many
 * domains are done and the rest goes on (logged).
 */
typedef void relay_tlsrpt_sent_cb(void *arg, const char *text);
void    relay_tlsrpt_send(struct relay_tlsrpt *t, const char *day, const char *domain, bool again,
                          relay_tlsrpt_sent_cb *cb, void *arg);
/* Write what is unwritten, stop the timers and cancel sends, then free t
 * and call done(arg) (always later). */
void    relay_tlsrpt_close(struct relay_tlsrpt *t, void (*done)(void *), void *arg);

/*
 * relay_tlsrpt_data.c: a day's results as data, the report (pure; also
 * used by `domsec tlsrpt show`).  A day is a json_t (jansson):
 * {"day": "YYYY-MM-DD", "policies": [RFC 8460 4.4 policies[] elements]}.
 */
typedef struct json_t json_t;
struct relay_tlsrpt_policy {            /* one policy as reported; borrowed */
    enum tlsrpt_policy type;
    const char *domain;
    const char *const *strings;         /* policy-string lines */
    size_t  nstrings;
    const char *const *mx;              /* mx-host patterns */
    size_t  nmx;
};
struct relay_tlsrpt_who {               /* the report's submitter fields; borrowed */
    const char *organization;           /* organization-name */
    const char *contact;                /* contact-info */
    const char *submitter;              /* our host name: report-id, TLS-Report-Submitter */
};
struct relay_tlsrpt_names {             /* from the configuration; each xstrdup'ed */
    char   *dir;                        /* tlsrpt_directory (default QUEUE/tlsrpt) */
    char   *org, *contact, *sender;     /* tlsrpt_organization_name, _contact_info, _sender */
    char   *submitter;                  /* our host name: the first send connector's fqdn */
    char   *ca_file;                    /* https rua: mta_sts_trusted_ca_file (WebPKI) or NULL */
    bool    private_ok;                 /* tlsrpt_private_addresses */
};
void    relay_tlsrpt_names(const struct config *cfg, struct relay_tlsrpt_names *n);
void    relay_tlsrpt_names_free(struct relay_tlsrpt_names *n);
const char *relay_tlsrpt_type_name(enum tlsrpt_policy t);
/* "YYYY-MM-DD" of the UTC day of unix time t. */
void    relay_tlsrpt_day_name(int64_t t, char out[11]);
/* Unix time of the day's 00:00:00Z; -1 if day is not a real YYYY-MM-DD. */
int64_t relay_tlsrpt_day_start(const char *day);
json_t *relay_tlsrpt_day_new(const char *day);
/* Count r (whose policy is p) in day. */
void    relay_tlsrpt_day_add(json_t *day, const struct relay_tlsrpt_policy *p,
                             const struct tlsrpt_result *r);
/* Add every count of src to dst. */
void    relay_tlsrpt_day_merge(json_t *dst, const json_t *src);
/* day as its file holds it: JSON text (xmalloc'ed). */
char   *relay_tlsrpt_day_text(const json_t *day);
/* day's policies[] elements per policy domain (new object: domain -> array). */
json_t *relay_tlsrpt_day_by_domain(const json_t *day);
/* The day's policy domains, sorted, each once: a new JSON array of strings. */
json_t *relay_tlsrpt_day_domains(const json_t *day);
/* report-id of (day, domain): "YYYYMMDD.DOMAIN@SUBMITTER", stable (xasprintf'ed). */
char   *relay_tlsrpt_report_id(const char *day, const char *domain, const char *submitter);
/* The RFC 8460 report of day for domain (new reference); NULL when day
 * holds nothing for domain. */
json_t *relay_tlsrpt_report(const json_t *day, const char *domain, const struct relay_tlsrpt_who *who);
/* The same from day name dname and domain's elements (relay_tlsrpt_day_by_domain). */
json_t *relay_tlsrpt_report_of(const char *dname, const char *domain, const json_t *entries,
                               const struct relay_tlsrpt_who *who);
/* s as printable, valid UTF-8 of at most max bytes: any other byte is '?'
 * (xmalloc'ed).  Peer text goes through it before it is kept. */
char   *relay__tlsrpt_safe(const char *s, size_t max);

/* relay_tlsrpt_mail.c: a report on its way (pure). */
struct relay_tlsrpt_mail_in {           /* borrowed */
    const char *sender, *rcpt;          /* From (and envelope), To: addresses */
    const char *domain, *submitter, *report_id;
    const char *day;                    /* YYYY-MM-DD */
    int64_t start;                      /* the day's 00:00:00Z, unix seconds */
    const char *unique;                 /* file name's unique-id, Message-ID's and boundary's */
    int64_t now;                        /* Date:, unix seconds */
    const unsigned char *gz;            /* the report, gzip'd */
    size_t  gzlen;
};
/* p[0..n) gzip'd (xmalloc'ed, *outlen bytes). */
unsigned char *relay_tlsrpt_gzip(const void *p, size_t n, size_t *outlen);
/* rua URIs (mailto:/https:) of the one v=TLSRPTv1 record among txt[0..n):
 * a NULL-terminated array (relay_tlsrpt_rua_free), or NULL with *why. */
char  **relay_tlsrpt_rua(const char *const *txt, size_t n, const char **why);
void    relay_tlsrpt_rua_free(char **uris);
/* RFC 8460 5.1 file name (xasprintf'ed). */
char   *relay_tlsrpt_file_name(const char *submitter, const char *domain, int64_t start,
                               const char *unique);
/* The RFC 8460 5.3 report mail, CRLF lines (xmalloc'ed, *len bytes). */
char   *relay_tlsrpt_mail(const struct relay_tlsrpt_mail_in *in, size_t *len);

#endif
