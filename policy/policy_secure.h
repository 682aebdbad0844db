/*
 * policy_secure.h - pure domain-security decisions (Exchange "Domain Security").
 *
 * Facts in, verdict out: the SMTP server asks policy_mail_secure() at every
 * MAIL FROM, the SMTP client asks policy_send_secure() (a listed domain)
 * or policy_send_sts() (an MTA-STS domain) after each step of the
 * outbound handshake.  tls/ supplies the certificate facts (names,
 * chain verdict); nothing here does I/O, allocates or keeps state.  Every
 * string in a verdict is static, or borrowed from the facts (said where).
 */
#ifndef DOMSEC_POLICY_SECURE_H
#define DOMSEC_POLICY_SECURE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy_config.h"
#include "policy_smtp.h"

/* Chain verdict computed by tls/ for a peer certificate (SPEC 6.2). */
enum policy_chain {
    POLICY_CHAIN_VALID,
    POLICY_CHAIN_UNTRUSTED,             /* no path to trusted_ca_file */
    POLICY_CHAIN_EXPIRED,
    POLICY_CHAIN_NOT_YET_VALID,
    POLICY_CHAIN_BAD_EKU,               /* EKU present without serverAuth/clientAuth */
    POLICY_CHAIN_REVOKED,               /* a definite CRL entry: always fails */
    POLICY_CHAIN_REVOCATION_UNKNOWN,    /* CRL missing or stale: see revocation_failure */
    POLICY_CHAIN_INVALID,               /* anything else */
};

/* Inbound facts at MAIL FROM (SPEC 3 "Domain security at MAIL FROM"). */
struct policy_inbound {
    bool    listed;                     /* MAIL FROM domain in tls_receive_domain_secure_list
                                         * (always false for <>) */
    bool    connector_secure;           /* receive connector domain_secure_enabled */
    bool    starttls_advertised;        /* STARTTLS was offered in this session */
    bool    tls;                        /* the session is in TLS now */
    bool    client_cert;                /* the client presented a certificate */
    bool    name_match;                 /* policy_cert_name_match(domain, client cert names) */
    enum policy_chain chain;            /* validation of the client chain */
    enum cfg_revfail revocation_failure;/* transport revocation_failure */
    const char *identity_rule;          /* policy_identity_check()'s refusal (static), or
                                         * NULL: decides after the certificate row */
};

struct policy_secure_verdict {
    const struct policy_reply *reply;   /* NULL: accept (see domain_secured); static */
    bool    domain_secured;             /* stamp as Partner (X-MS-Exchange-Organization-Auth*) */
    bool    revocation_accepted;        /* passed only because revocation_failure = accept */
    bool    tarpit;                     /* hold the refusal back for the connector's
                                         * domain_secure_tarpit_interval, as Exchange does
                                         * for NotAuthenticated (rows 2 and 4) */
    const char *rule;                   /* the deciding row, for the protocol log; static:
                                         * "NotListed", "DomainSecureDisabled",
                                         * "NotAuthenticated (STARTTLS not used)",
                                         * "AuthTempFailure (STARTTLS not advertised)",
                                         * "NotAuthenticated (no client certificate)",
                                         * "SubjectMismatch",
                                         * "CertificateValidationFailure (<chain name>)",
                                         * "Secured" */
};

/* Steps of an outbound session, in order; each check includes the earlier ones. */
enum policy_out_step {
    POLICY_OUT_EHLO,                    /* EHLO reply read */
    POLICY_OUT_STARTTLS_REPLY,          /* reply to STARTTLS read */
    POLICY_OUT_HANDSHAKE,               /* TLS handshake finished (or failed) */
    POLICY_OUT_CERT,                    /* server certificate checked */
};

/* Outbound facts (SPEC 4 "Domain security outbound"); fields of later steps are ignored. */
struct policy_outbound {
    bool    listed;                     /* next-hop (recipient) domain in tls_send_domain_secure_list */
    bool    connector_secure;           /* send connector domain_secure_enabled */
    bool    starttls_offered;           /* STARTTLS in the EHLO reply */
    int     starttls_code;              /* reply code to STARTTLS (0 if not sent) */
    const char *starttls_text;          /* that reply, one line ("454 4.7.0 TLS not available"); borrowed */
    bool    handshake_ok;
    const char *handshake_error;        /* text when !handshake_ok; borrowed */
    bool    name_match;                 /* server cert names vs the recipient domain */
    enum policy_chain chain;
    enum cfg_revfail revocation_failure;
    const char *identity_rule;          /* policy_identity_check()'s refusal (static), or
                                         * NULL: decides first at step CERT */
};

struct policy_out_verdict {
    bool    require_tls;                /* listed && connector_secure: no plaintext fallback */
    int     code;                       /* 0 = go on; else the code of inner (451, 454) */
    const char *inner;                  /* NULL = go on; else the reply for the queue error
                                         * ("Primary target IP address responded with: ..."),
                                         * e.g. "451 5.7.3 STARTTLS is required to send mail";
                                         * static.  Also: count a Domain Secure Outbound
                                         * Session Failure and try the next host. */
    const char *reason;                 /* for policy_send_secure_logline(); static; NULL if
                                         * no failure */
    const char *info;                   /* ditto: "" or static or borrowed from the facts */
    const char *rule;                   /* static: "NotListed", "Proceed", "DomainSecureDisabled",
                                         * "TlsNotOffered",
                                         * "TlsNegotiationFailed (STARTTLS refused)",
                                         * "TlsNegotiationFailure (handshake)",
                                         * "SubjectMismatch", "CertificateValidationFailure (<chain>)",
                                         * "Secured" */
    const char *result;                 /* the failure's RFC 8460 result-type (TLS-RPT,
                                         * policy-type no-policy-found), static; NULL on
                                         * success and for DomainSecureDisabled (no TLS
                                         * session was judged) */
    bool    secured;                    /* step CERT and every check passed: log "Secure domain
                                         * certificate", count Domain Secure Messages Sent */
    bool    revocation_accepted;        /* secured only because revocation_failure = accept */
};

/*
 * MTA-STS (RFC 8461 4.2): the facts of one outbound session with an MX host
 * of a domain whose policy is enforce or testing (the domain-secure list
 * wins: a listed domain never gets here).  Fields of later steps are
 * ignored; the steps are enum policy_out_step's.
 */
struct policy_sts_outbound {
    bool    enforce;                    /* mode enforce; false: testing (report only) */
    bool    starttls_offered;           /* STARTTLS in the EHLO reply (and we can do TLS) */
    int     starttls_code;              /* reply code to STARTTLS (0 if not sent) */
    const char *starttls_text;          /* that reply, one line; borrowed */
    bool    handshake_ok;
    const char *handshake_error;        /* text when !handshake_ok; borrowed */
    enum policy_chain chain;            /* the MX's chain against mta_sts_trusted_ca_file
                                         * (WebPKI); REVOCATION_UNKNOWN passes (RFC 8461
                                         * 4.2: revocation checking is optional) */
    bool    name_match;                 /* policy_cert_host_match(MX host name, the
                                         * certificate's subjectAltName dNSNames) */
};

struct policy_sts_verdict {
    bool    require_tls;                /* enforce: no plaintext at any step */
    bool    failed;                     /* a check failed: enforce - this host is refused
                                         * (the next host, never plaintext); testing -
                                         * report it and go on as opportunistic TLS */
    bool    verified;                   /* step CERT and every check passed */
    const char *result;                 /* NULL = success so far; else the RFC 8460
                                         * result-type: "starttls-not-supported",
                                         * "validation-failure", "certificate-not-trusted",
                                         * "certificate-expired", "certificate-host-mismatch";
                                         * static */
    const char *why;                    /* for people, static: "STARTTLS was not offered",
                                         * "STARTTLS was refused", "the TLS handshake failed",
                                         * "the certificate chain is not trusted (<chain>)",
                                         * "the certificate has expired", "the certificate
                                         * does not name the MX host"; NULL on success */
    const char *info;                   /* "" or the reply / handshake error (borrowed from
                                         * the facts: copy it before they go) */
    const char *reply;                  /* code and status of the queue text: "451 4.7.10"
                                         * (no TLS), "451 4.7.5" (TLS or certificate);
                                         * static; NULL on success */
};

/*
 * The identity of a listed partner (SPEC 9 [partner D]): what the
 * certificate facts prove under the partner's policy, or the global one
 * (no section).  Revocation is given per source; the verdict folds it into
 * the chain for the tables above as the partner's `revocation` says.
 */
enum policy_rev { POLICY_REV_NOT_CHECKED, POLICY_REV_GOOD, POLICY_REV_REVOKED,
                  POLICY_REV_UNKNOWN };
enum policy_ocsp_src { POLICY_OCSP_SRC_NONE, POLICY_OCSP_SRC_STAPLED, POLICY_OCSP_SRC_FETCHED };
enum policy_eku {
    POLICY_EKU_NONE,                    /* no certificate */
    POLICY_EKU_ANY,                     /* no EKU, or both serverAuth and clientAuth */
    POLICY_EKU_SERVER_ONLY,             /* serverAuth without clientAuth (2026 public CAs) */
    POLICY_EKU_CLIENT,                  /* clientAuth (without serverAuth) */
};
enum policy_dane {                      /* outbound, a partner with require = dane */
    POLICY_DANE_UNUSABLE,               /* no usable TLSA record (or not looked up) */
    POLICY_DANE_EE,                     /* a DANE-EE(3) record matched */
    POLICY_DANE_TA,                     /* a DANE-TA(2) record matched and the leaf names
                                         * the MX host or the domain (policy_dane_match) */
    POLICY_DANE_MISMATCH,               /* usable records, none matched */
};

struct policy_identity {
    bool    inbound;                    /* client certificate at MAIL FROM; else outbound */
    const struct cfg_partner *partner;  /* the [partner D] section, NULL = global; borrowed */
    bool    cert;                       /* the peer presented a certificate */
    bool    name_match;                 /* policy_cert_name_match(D, names) */
    enum policy_eku eku;
    int     tls_version;                /* 10, 11, 12, 13; 0 unknown */
    bool    pin_match;                  /* the leaf's SPKI SHA-256 is one of partner->pins */
    enum policy_chain chain;            /* against the global trusted_ca_file, revocation
                                         * not folded in */
    enum policy_rev crl;                /* CRL verdict of that chain (when VALID) */
    bool    partner_judged;             /* partner_chain holds the verdict against the
                                         * partner's own trusted_ca_file */
    enum policy_chain partner_chain;    /* ditto, revocation not folded in */
    enum policy_rev partner_crl;        /* CRL verdict of the chain under the partner CA */
    enum policy_rev ocsp;               /* OCSP verdict of the leaf */
    enum policy_ocsp_src ocsp_source;
    enum policy_dane dane;              /* outbound, require = dane */
    enum cfg_revfail revocation_failure;/* transport's; a partner's own wins */
};

struct policy_identity_verdict {
    const char *rule;                   /* a refusal: "TlsVersionTooLow", "BadEku (serverAuth
                                         * only)", "DaneRequired", "DaneMismatch",
                                         * "PinMismatch"; NULL: the tables' later rows decide
                                         * with chain and name_match below.  Static. */
    enum policy_chain chain;            /* for the tables: the proving chain with revocation
                                         * folded in per `revocation`; VALID when no CA
                                         * proof is required */
    bool    name_match;                 /* for the tables (true when no name is required) */
    enum cfg_revfail revocation_failure;/* for the tables */
    /* Log words (static): */
    const char *policy;                 /* "global", "partner" */
    const char *require;                /* "ca", "pin", "ca+pin", "dane" */
    const char *proof;                  /* what holds if the tables agree: "ca", "pin",
                                         * "ca+pin", "dane-ee", "dane-ta" */
    const char *eku;                    /* "any", "serverAuth-only", "clientAuth", "none" */
    const char *revocation;             /* "good", "revoked", "unknown", "not-checked" */
    const char *via;                    /* "crl", "ocsp-stapled", "ocsp-fetched", "crl+ocsp",
                                         * "-" */
};

/* policy_identity.c */
/* The identity checks of a listed partner (global without a section). */
struct policy_identity_verdict policy_identity_check(const struct policy_identity *f);
/*
 * The protocol log's identity line into buf (always terminated when sz >
 * 0): "Partner identity of 'D' (inbound): policy=partner require=ca+pin;
 * proved=ca+pin; eku=any; revocation=good via crl; verdict=Secured".
 * rule is the final verdict's ("Secured" or a refusal); proved is "none"
 * unless it is "Secured"; revocation_accepted (the tables passed only
 * because of revocation_failure = accept) says "unknown-accepted".
 * Returns what snprintf returns.
 */
int     policy_identity_logline(char *buf, size_t sz, const char *domain,
                                const struct policy_identity_verdict *v, bool inbound,
                                const char *rule, bool revocation_accepted);

/* policy_secure.c */
/* "Valid", "Untrusted", "Expired", "NotYetValid", "BadEku", "Revoked",
 * "RevocationUnknown", "Invalid"; "Unknown" for anything else.  Static. */
const char *policy_chain_name(enum policy_chain c);
/*
 * SPEC 3 name match: does any of names (SAN dNSNames + subject CN) cover
 * domain D?  D; "*.D"; exactly one label below D ("mail.D", not
 * "a.mail.D"); "*.P" where D ends with ".P" at any depth and P has at
 * least two labels ("*.com" never matches).  ASCII case-insensitive; one
 * trailing dot on either side ignored; NULL, empty and malformed names
 * (empty labels, '*' other than a whole first label) are skipped.
 */
bool    policy_cert_name_match(const char *domain, const char *const *names, size_t nnames);
/*
 * RFC 6125 6.4 / RFC 8461 4.2 host name match: does any of names cover the
 * host name host?  host itself, or "*.P" where host is exactly one label
 * more than P and P has at least two labels (the wildcard only as the
 * whole leftmost label: "*.example.com" covers "mx.example.com", not
 * "a.mx.example.com" nor "example.com").  ASCII case-insensitive; one
 * trailing dot ignored; NULL, empty and malformed names are skipped.  The
 * caller passes subjectAltName dNSNames only (RFC 8461: not the CN).
 */
bool    policy_cert_host_match(const char *host, const char *const *names, size_t nnames);
/* Is domain in a secure list?  Exact, ASCII case-insensitive, whole domain (no subdomains). */
bool    policy_secure_listed(const struct cfg_list *list, const char *domain);
/* The MAIL FROM decision table of SPEC 3, in order. */
struct policy_secure_verdict policy_mail_secure(const struct policy_inbound *f);
/* The outbound checks up to and including `step` (SPEC 4; exchange-behaviour 3, 4.2). */
struct policy_out_verdict policy_send_secure(const struct policy_outbound *f,
                                             enum policy_out_step step);
/* The MTA-STS checks up to and including step (RFC 8461 4.2; RFC 8460 4.3
 * result types).  Order: STARTTLS offered, accepted, handshake, chain,
 * then the name (an untrusted certificate's names prove nothing). */
struct policy_sts_verdict policy_send_sts(const struct policy_sts_outbound *f,
                                          enum policy_out_step step);
/*
 * The queue text of an enforce failure into buf (always terminated when sz
 * > 0): "451 4.7.5 MTA-STS policy of D: mx.D: the certificate does not name
 * the MX host (certificate-host-mismatch)", with ": <info>" before the
 * parenthesis when there is one.  Returns what snprintf returns.
 */
int     policy_sts_reply(char *buf, size_t sz, const char *domain, const char *host,
                         const struct policy_sts_verdict *v);
/*
 * Format Exchange's protocol-log context line into buf (always terminated
 * when sz > 0): "Message to secure domain 'D' on send connector 'C' failed
 * because R I."  NULL strings print as "".  Returns what snprintf returns
 * (the untruncated length).
 */
int     policy_send_secure_logline(char *buf, size_t sz, const char *domain,
                                   const char *connector, const char *reason,
                                   const char *info);

#endif
