/*
 * policy_secure.c - pure domain-security decisions (SPEC 3, 4, 6.2).
 *
 * CONTRACT
 *  Facts in, verdict out.  No I/O, no allocation, no globals: thread-safe.
 *  Inputs are borrowed for the duration of the call.  Verdict strings and
 *  replies are static, except policy_out_verdict.info, which may point
 *  into the facts (starttls_text, handshake_error; the same for
 *  policy_sts_verdict.info): copy it before the
 *  facts go.  Names and domains are C strings; tls/ must refuse a
 *  certificate name with an embedded NUL before it gets here.
 *
 *  MTA-STS (policy_send_sts) is RFC 8461 4.2 with RFC 8460's result types;
 *  its name match (policy_cert_host_match) is RFC 6125's, stricter than the
 *  domain-security one.
 *
 *  Inbound follows Exchange's CanSubmitMessage order exactly
 *  (exchange-behaviour 3, 4.1); outbound follows SmtpOutSession's checks
 *  (3, 4.2).  Where SPEC and Exchange differ, SPEC wins: a wildcard "*.P"
 *  needs at least two labels in P, so "*.com" covers nothing.
 *
 *  Out-of-range enum values fail closed: an unknown chain verdict is a
 *  validation failure, an unknown revocation_failure is "fail", an
 *  unknown outbound step runs every check.
 */
#include <stdio.h>
#include <string.h>

#include "policy_secure.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Inbound replies (exchange-behaviour 4.1). */
static const struct policy_reply secure_disabled =
    { 451, "4.7.3 The admin has temporarily disallowed this secure domain" };
static const struct policy_reply secure_not_authenticated = { 530, "5.7.1 Not authenticated" };
static const struct policy_reply secure_auth_temp_failure =
    { 454, "4.7.0 Temporary authentication failure" };
static const struct policy_reply secure_cert_failure = { 454, "4.7.5 Certificate validation failure" };

/* Outbound inner replies (exchange-behaviour 4.2), code included. */
#define OUT_REQUIRE_TLS "451 5.7.3 STARTTLS is required to send mail"
#define OUT_DISABLED    "451 4.7.3 The admin has temporarily disallowed this secure domain"
#define OUT_CERT_FAIL   "454 4.7.5 Certificate validation failure"

/*
 * Log reasons.  The first three are Exchange's CheckDomainSecure() traces,
 * byte for byte: "TLS negotiation failed with response: " ends in a space,
 * so with the format's own space the line reads "response:  454 ...".
 * Exchange writes no protocol-log line for certificate failures; ours
 * borrow the wording of its TlsDomainServerCertificate* events.
 */
#define WHY_DISABLED    "DomainSecureEnabled was set to false"
#define WHY_NOT_OFFERED "TLS was not offered"
#define WHY_NEGOTIATION "TLS negotiation failed with response: "
#define WHY_SUBJECT     "the TLS server certificate subject did not match"
#define WHY_CHAIN       "the TLS server certificate chain failed to validate and returned status"
#define WHY_IDENTITY    "the TLS server failed the partner policy:"

/* One row per chain verdict: log name, rule text, quoted status for WHY_CHAIN. */
static const struct chain_text {
    const char *name, *rule, *quoted;
} chain_texts[] = {
    [POLICY_CHAIN_VALID] = {"Valid", "CertificateValidationFailure (Valid)", "'Valid'"},
    [POLICY_CHAIN_UNTRUSTED] = {"Untrusted", "CertificateValidationFailure (Untrusted)",
                                "'Untrusted'"},
    [POLICY_CHAIN_EXPIRED] = {"Expired", "CertificateValidationFailure (Expired)", "'Expired'"},
    [POLICY_CHAIN_NOT_YET_VALID] = {"NotYetValid", "CertificateValidationFailure (NotYetValid)",
                                    "'NotYetValid'"},
    [POLICY_CHAIN_BAD_EKU] = {"BadEku", "CertificateValidationFailure (BadEku)", "'BadEku'"},
    [POLICY_CHAIN_REVOKED] = {"Revoked", "CertificateValidationFailure (Revoked)", "'Revoked'"},
    [POLICY_CHAIN_REVOCATION_UNKNOWN] = {"RevocationUnknown",
                                         "CertificateValidationFailure (RevocationUnknown)",
                                         "'RevocationUnknown'"},
    [POLICY_CHAIN_INVALID] = {"Invalid", "CertificateValidationFailure (Invalid)", "'Invalid'"},
};
static const struct chain_text chain_unknown = {
    "Unknown", "CertificateValidationFailure (Unknown)", "'Unknown'"
};

/* chain_text - the row for c, or the "Unknown" row */

static const struct chain_text *chain_text(enum policy_chain c)
{
    if ((unsigned)c < NELEM(chain_texts))
        return &chain_texts[c];
    return &chain_unknown;
}

/* policy_chain_name - log name of a chain verdict */

const char *policy_chain_name(enum policy_chain c)
{
    return chain_text(c)->name;
}

/* chain_passes - does the chain verdict pass under revocation_failure rf? */

static bool chain_passes(enum policy_chain c, enum cfg_revfail rf, bool *rev_accepted)
{
    *rev_accepted = false;
    if (c == POLICY_CHAIN_VALID)
        return true;
    if (c == POLICY_CHAIN_REVOCATION_UNKNOWN && rf == CFG_REVFAIL_ACCEPT) {
        *rev_accepted = true;
        return true;
    }
    return false;                       /* revoked always fails; unknown values too */
}

/* lc - ASCII lower case, independent of the locale */

static int lc(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* span_eq - n bytes equal, ASCII case-insensitive */

static bool span_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
            return false;
    return true;
}

/* name_len - length without one trailing dot */

static size_t name_len(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

/*
 * name_ok - are the n bytes of s a usable name?  Non-empty, no empty
 * label, and '*' only as a whole first label when allow_wild (then *wild).
 */
static bool name_ok(const char *s, size_t n, bool allow_wild, bool *wild)
{
    size_t label = 0;

    *wild = false;
    if (n == 0)
        return false;
    if (allow_wild && n >= 2 && s[0] == '*' && s[1] == '.') {
        *wild = true;
        s += 2;
        n -= 2;                         /* "*." alone fails below: no label */
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*')
            return false;
        if (s[i] == '.') {
            if (label == 0)
                return false;           /* ".x", "x..y" */
            label = 0;
        } else {
            label++;
        }
    }
    return label > 0;
}

/* name_covers - does the valid name n (nlen) cover the valid domain d (dlen)? */

static bool name_covers(const char *d, size_t dlen, const char *n, size_t nlen, bool wild)
{
    if (wild) {
        const char *p = n + 2;
        size_t plen = nlen - 2;

        /* "*.D" */
        if (plen == dlen && span_eq(p, d, dlen))
            return true;
        /* "*.P", D = "x.P" or "x.y.P"; P needs two labels (SPEC), so no "*.com". */
        if (memchr(p, '.', plen) != NULL && dlen > plen + 1 && d[dlen - plen - 1] == '.'
            && span_eq(d + dlen - plen, p, plen))
            return true;
        return false;
    }
    /* "D" */
    if (nlen == dlen && span_eq(n, d, dlen))
        return true;
    /* "label.D": exactly one label more. */
    {
        const char *dot = memchr(n, '.', nlen);
        size_t rest;

        if (dot == NULL)
            return false;
        rest = nlen - (size_t)(dot + 1 - n);
        return rest == dlen && span_eq(dot + 1, d, dlen);
    }
}

/* policy_cert_name_match - does any certificate name cover domain? */

bool policy_cert_name_match(const char *domain, const char *const *names, size_t nnames)
{
    size_t dlen;
    bool wild;

    if (domain == NULL || names == NULL)
        return false;
    dlen = name_len(domain);
    if (!name_ok(domain, dlen, false, &wild))
        return false;
    for (size_t i = 0; i < nnames; i++) {
        const char *n = names[i];
        size_t nlen;

        if (n == NULL)
            continue;
        nlen = name_len(n);
        if (!name_ok(n, nlen, true, &wild))
            continue;
        if (name_covers(domain, dlen, n, nlen, wild))
            return true;
    }
    return false;
}

/* policy_cert_host_match - does any certificate name cover host (RFC 6125, MTA-STS)? */

bool policy_cert_host_match(const char *host, const char *const *names, size_t nnames)
{
    size_t hlen;
    bool wild;
    const char *dot;

    if (host == NULL || names == NULL)
        return false;
    hlen = name_len(host);
    if (!name_ok(host, hlen, false, &wild))
        return false;
    dot = memchr(host, '.', hlen);
    for (size_t i = 0; i < nnames; i++) {
        const char *n = names[i], *p;
        size_t nlen, plen;

        if (n == NULL)
            continue;
        nlen = name_len(n);
        if (!name_ok(n, nlen, true, &wild))
            continue;
        if (!wild) {
            if (nlen == hlen && span_eq(n, host, hlen))
                return true;
            continue;
        }
        p = n + 2;                      /* "*.P": host = "label.P", P of two labels or more */
        plen = nlen - 2;
        if (dot != NULL && memchr(p, '.', plen) != NULL
            && (size_t)(host + hlen - (dot + 1)) == plen && span_eq(dot + 1, p, plen))
            return true;
    }
    return false;
}

/* policy_secure_listed - exact, case-insensitive secure-list membership */

bool policy_secure_listed(const struct cfg_list *list, const char *domain)
{
    size_t dlen;

    if (list == NULL || domain == NULL || (dlen = name_len(domain)) == 0)
        return false;
    for (size_t i = 0; i < list->n; i++) {
        const char *e = list->v[i];

        if (name_len(e) == dlen && span_eq(e, domain, dlen))
            return true;
    }
    return false;
}

/* in_verdict - a verdict with a reply, or an accept */

static struct policy_secure_verdict in_verdict(const struct policy_reply *reply, bool secured,
                                               bool rev_accepted, const char *rule)
{
    struct policy_secure_verdict v = {
        .reply = reply,
        .domain_secured = secured,
        .revocation_accepted = rev_accepted,
        /* Exchange tarpits its NotAuthenticated refusals, no other. */
        .tarpit = reply == &secure_not_authenticated,
        .rule = rule,
    };

    return v;
}

/* policy_mail_secure - the MAIL FROM table of SPEC 3, first matching row wins */

struct policy_secure_verdict policy_mail_secure(const struct policy_inbound *f)
{
    bool rev_accepted;

    if (!f->listed)
        return in_verdict(NULL, false, false, "NotListed");
    if (!f->connector_secure)
        return in_verdict(&secure_disabled, false, false, "DomainSecureDisabled");
    if (!f->tls && f->starttls_advertised)
        return in_verdict(&secure_not_authenticated, false, false,
                          "NotAuthenticated (STARTTLS not used)");
    if (!f->tls)
        return in_verdict(&secure_auth_temp_failure, false, false,
                          "AuthTempFailure (STARTTLS not advertised)");
    if (!f->client_cert)
        return in_verdict(&secure_not_authenticated, false, false,
                          "NotAuthenticated (no client certificate)");
    if (f->identity_rule != NULL)
        return in_verdict(&secure_cert_failure, false, false, f->identity_rule);
    if (!f->name_match)
        return in_verdict(&secure_cert_failure, false, false, "SubjectMismatch");
    if (!chain_passes(f->chain, f->revocation_failure, &rev_accepted))
        return in_verdict(&secure_cert_failure, false, false, chain_text(f->chain)->rule);
    return in_verdict(NULL, true, rev_accepted, "Secured");
}

/* out_fail - fill a failure into v */

static struct policy_out_verdict out_fail(struct policy_out_verdict v, int code,
                                          const char *inner, const char *reason,
                                          const char *info, const char *rule,
                                          const char *result)
{
    v.result = result;
    v.code = code;
    v.inner = inner;
    v.reason = reason;
    v.info = info != NULL ? info : "";
    v.rule = rule;
    return v;
}

/* chain_result - the RFC 8460 result-type of a chain that failed */

static const char *chain_result(enum policy_chain c)
{
    if (c == POLICY_CHAIN_UNTRUSTED)
        return "certificate-not-trusted";
    if (c == POLICY_CHAIN_EXPIRED)
        return "certificate-expired";
    return "validation-failure";
}

/* policy_send_secure - outbound checks up to and including step */

struct policy_out_verdict policy_send_secure(const struct policy_outbound *f,
                                             enum policy_out_step step)
{
    struct policy_out_verdict v = {.rule = "Proceed"};
    bool rev_accepted;

    if (!f->listed) {
        v.rule = "NotListed";           /* opportunistic TLS is decided elsewhere */
        return v;
    }
    if (!f->connector_secure)           /* at any step, as CheckDomainSecure() does */
        return out_fail(v, 451, OUT_DISABLED, WHY_DISABLED, "", "DomainSecureDisabled",
                        NULL);
    v.require_tls = true;

    /* POLICY_OUT_EHLO */
    if (!f->starttls_offered)
        return out_fail(v, 451, OUT_REQUIRE_TLS, WHY_NOT_OFFERED, "", "TlsNotOffered",
                        "starttls-not-supported");
    if (step == POLICY_OUT_EHLO)
        return v;

    /* POLICY_OUT_STARTTLS_REPLY: no plaintext fallback when refused. */
    if (f->starttls_code != 220)
        return out_fail(v, 451, OUT_REQUIRE_TLS, WHY_NEGOTIATION, f->starttls_text,
                        "TlsNegotiationFailed (STARTTLS refused)", "starttls-not-supported");
    if (step == POLICY_OUT_STARTTLS_REPLY)
        return v;

    /* POLICY_OUT_HANDSHAKE: Exchange's queue error here is unconfirmed; SPEC 4 says 5.7.3. */
    if (!f->handshake_ok)
        return out_fail(v, 451, OUT_REQUIRE_TLS, WHY_NEGOTIATION, f->handshake_error,
                        "TlsNegotiationFailure (handshake)", "validation-failure");
    if (step == POLICY_OUT_HANDSHAKE)
        return v;

    /* POLICY_OUT_CERT (and any unknown later step): the partner policy's own
     * checks, then the name, then the chain. */
    if (f->identity_rule != NULL)
        return out_fail(v, 454, OUT_CERT_FAIL, WHY_IDENTITY, f->identity_rule, f->identity_rule,
                        strncmp(f->identity_rule, "DaneRequired", 12) == 0 ? "dane-required"
                        : "validation-failure");
    if (!f->name_match)
        return out_fail(v, 454, OUT_CERT_FAIL, WHY_SUBJECT, "", "SubjectMismatch",
                        "certificate-host-mismatch");
    if (!chain_passes(f->chain, f->revocation_failure, &rev_accepted))
        return out_fail(v, 454, OUT_CERT_FAIL, WHY_CHAIN, chain_text(f->chain)->quoted,
                        chain_text(f->chain)->rule, chain_result(f->chain));
    v.secured = true;
    v.revocation_accepted = rev_accepted;
    v.rule = "Secured";
    return v;
}

/* MTA-STS queue texts: code and status (RFC 3463 X.7.10 Encryption Needed, X.7.5). */
#define STS_NO_TLS      "451 4.7.10"
#define STS_TLS_FAIL    "451 4.7.5"

/* sts_fail - fill a failure into v */

static struct policy_sts_verdict sts_fail(struct policy_sts_verdict v, const char *reply,
                                          const char *result, const char *why, const char *info)
{
    v.failed = true;
    v.reply = reply;
    v.result = result;
    v.why = why;
    v.info = info != NULL ? info : "";
    return v;
}

/* policy_send_sts - the MTA-STS checks up to and including step */

struct policy_sts_verdict policy_send_sts(const struct policy_sts_outbound *f,
                                          enum policy_out_step step)
{
    struct policy_sts_verdict v = {.require_tls = f->enforce, .info = ""};

    /* POLICY_OUT_EHLO */
    if (!f->starttls_offered)
        return sts_fail(v, STS_NO_TLS, "starttls-not-supported", "STARTTLS was not offered", "");
    if (step == POLICY_OUT_EHLO)
        return v;
    /* POLICY_OUT_STARTTLS_REPLY */
    if (f->starttls_code != 220)
        return sts_fail(v, STS_NO_TLS, "starttls-not-supported", "STARTTLS was refused",
                        f->starttls_text);
    if (step == POLICY_OUT_STARTTLS_REPLY)
        return v;
    /* POLICY_OUT_HANDSHAKE: ours never fails on the certificate (tls/ records it). */
    if (!f->handshake_ok)
        return sts_fail(v, STS_TLS_FAIL, "validation-failure", "the TLS handshake failed",
                        f->handshake_error);
    if (step == POLICY_OUT_HANDSHAKE)
        return v;
    /* POLICY_OUT_CERT (and any unknown later step): the chain, then the name. */
    switch (f->chain) {
    case POLICY_CHAIN_VALID:
    case POLICY_CHAIN_REVOCATION_UNKNOWN:
        break;
    case POLICY_CHAIN_UNTRUSTED:
        return sts_fail(v, STS_TLS_FAIL, chain_result(f->chain),
                        "the certificate chain is not trusted", "");
    case POLICY_CHAIN_EXPIRED:
        return sts_fail(v, STS_TLS_FAIL, chain_result(f->chain), "the certificate has expired",
                        "");
    default:                            /* NotYetValid, BadEku, Revoked, Invalid, unknown */
        return sts_fail(v, STS_TLS_FAIL, chain_result(f->chain),
                        "the certificate chain failed to validate", policy_chain_name(f->chain));
    }
    if (!f->name_match)
        return sts_fail(v, STS_TLS_FAIL, "certificate-host-mismatch",
                        "the certificate does not name the MX host", "");
    v.verified = true;
    return v;
}

/* policy_sts_reply - the queue text of an MTA-STS enforce failure */

int policy_sts_reply(char *buf, size_t sz, const char *domain, const char *host,
                     const struct policy_sts_verdict *v)
{
    const char *info = v->info != NULL ? v->info : "";

    return snprintf(buf, sz, "%s MTA-STS policy of %s: %s: %s%s%s (%s)",
                    v->reply != NULL ? v->reply : STS_TLS_FAIL, domain != NULL ? domain : "",
                    host != NULL ? host : "", v->why != NULL ? v->why : "checks passed",
                    info[0] ? ": " : "", info, v->result != NULL ? v->result : "success");
}

/* policy_send_secure_logline - Exchange's "Message to secure domain ..." context line */

int policy_send_secure_logline(char *buf, size_t sz, const char *domain, const char *connector,
                               const char *reason, const char *info)
{
    return snprintf(buf, sz,
                    "Message to secure domain '%s' on send connector '%s' failed because %s %s.",
                    domain != NULL ? domain : "", connector != NULL ? connector : "",
                    reason != NULL ? reason : "", info != NULL ? info : "");
}
