/*
 * policy_dane.h - DANE (RFC 7672) for outbound SMTP, the pure part: the
 * verdict of each step of a session with an MX host that has validated
 * TLSA records, and the dane_match fact of a finished handshake.
 *
 * Facts in, verdict out, as policy_send_sts() (policy_secure.h): relay/
 * does the lookups (qmgr), the matching of the chain (tls_dane_match) and
 * the logs; nothing here does I/O, allocates or keeps state.  Every string
 * in a verdict is static, or borrowed from the facts (said where).
 */
#ifndef DOMSEC_POLICY_DANE_H
#define DOMSEC_POLICY_DANE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy_secure.h"             /* enum policy_out_step, enum policy_dane */

/* What the TLSA records found in the server's chain (tls_dane_match's outcome). */
enum policy_dane_found {
    POLICY_DANE_FOUND_NONE,             /* no usable record matched (or none was given) */
    POLICY_DANE_FOUND_EE,               /* DANE-EE(3) matched the leaf */
    POLICY_DANE_FOUND_TA,               /* DANE-TA(2) matched and the leaf verifies up to it */
};

/*
 * The dane_match fact of one TLS session is policy_secure.h's enum
 * policy_dane (the identity verdict of a listed partner with require = dane
 * reads it): POLICY_DANE_EE -> proved=dane-ee, POLICY_DANE_TA (here: with
 * the name check done) -> proved=dane-ta, POLICY_DANE_UNUSABLE ->
 * DaneRequired, POLICY_DANE_MISMATCH -> DaneMismatch.
 */

/* The facts of one outbound session with an MX host whose TLSA records
 * validated (RFC 7672 2.2); fields of later steps are ignored. */
struct policy_dane_outbound {
    bool    usable;                     /* at least one usable record: the chain must
                                         * match; false: all unusable, TLS without
                                         * authentication (still never plaintext) */
    bool    starttls_offered;           /* STARTTLS in the EHLO reply (and we can do TLS) */
    int     starttls_code;              /* reply code to STARTTLS (0 if not sent) */
    const char *starttls_text;          /* that reply, one line; borrowed */
    bool    handshake_ok;
    const char *handshake_error;        /* text when !handshake_ok; borrowed */
    enum policy_dane match;             /* step CERT: policy_dane_match() */
    bool    ta_name_mismatch;           /* MISMATCH because a DANE-TA(2) chain matched and
                                         * the names did not */
    const char *match_why;              /* why MISMATCH (tls_dane_match's text); borrowed */
};

struct policy_dane_verdict {
    bool    failed;                     /* this host is refused: the next host, never
                                         * plaintext */
    bool    verified;                   /* step CERT, usable records, and the chain matched */
    const char *result;                 /* NULL = success so far; else the RFC 8460
                                         * result-type: "starttls-not-supported",
                                         * "validation-failure"; static */
    const char *why;                    /* for people, static: "STARTTLS was not offered",
                                         * "STARTTLS was refused", "the TLS handshake
                                         * failed", "the certificate chain does not match
                                         * the TLSA records", "the certificate does not name the MX
                                         * host or the domain (DANE-TA)", "no usable TLSA
                                         * record"; NULL on success */
    const char *info;                   /* "" or the reply / handshake error / match text
                                         * (borrowed from the facts) */
    const char *reply;                  /* code and status of the queue text: "451 4.7.5";
                                         * static; NULL on success */
};

/* policy_dane.c */
/*
 * The dane_match fact: found (tls_dane_match's outcome) with, for DANE-TA,
 * the name check of RFC 7672 3.2.3: names (the leaf's subjectAltName
 * dNSNames; its CN only when it has none) must cover the MX host (the
 * TLSA base domain) or the next-hop domain, by policy_cert_host_match
 * (one leftmost wildcard label).  usable false: NO_TLSA whatever found says.
 */
enum policy_dane policy_dane_match(bool usable, enum policy_dane_found found,
                                         const char *mx_host, const char *domain,
                                         const char *const *names, size_t nnames);
/* "dane-ee", "dane-ta", "none" (NO_TLSA, MISMATCH): the proved= word. */
const char *policy_dane_match_name(enum policy_dane m);
/* The DANE checks up to and including step (RFC 7672 2.2, 3.1; RFC 8460
 * 4.3).  Order: STARTTLS offered, accepted, handshake, then (usable
 * records only) the match.  Every failure refuses the host. */
struct policy_dane_verdict policy_send_dane(const struct policy_dane_outbound *f,
                                            enum policy_out_step step);
/*
 * The queue text of a failure into buf (always terminated when sz > 0):
 * "451 4.7.5 DANE policy of D: mx.D: the certificate chain does not
 * match the TLSA records: <info> (validation-failure)".  Returns what
 * snprintf returns.
 */
int     policy_dane_reply(char *buf, size_t sz, const char *domain, const char *host,
                          const struct policy_dane_verdict *v);

#endif
