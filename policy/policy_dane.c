/*
 * policy_dane.c - DANE for outbound SMTP (RFC 7672), the pure verdicts.
 *
 * CONTRACT
 *  Facts in, verdict out: no I/O, no allocation, no state.  Strings in a
 *  verdict are static or borrowed from the facts (the caller copies them
 *  before the facts go).  RFC 7672 2.2: with validated TLSA records TLS is
 *  required whether or not a record is usable, so every step before the
 *  certificate refuses the host on failure (the next host, never
 *  plaintext); at the certificate, usable records must match (DANE-EE(3):
 *  the key or certificate alone; DANE-TA(2): the chain and a name), and
 *  all-unusable records leave TLS unauthenticated.  Result types are RFC
 *  8460 4.3's.  Unknown enum values fail closed (a mismatch).
 */
#include <stdio.h>
#include <string.h>

#include "policy_dane.h"

#define DANE_REPLY "451 4.7.5"

/* policy_dane_match - the dane_match fact of a finished handshake */

enum policy_dane policy_dane_match(bool usable, enum policy_dane_found found,
                                         const char *mx_host, const char *domain,
                                         const char *const *names, size_t nnames)
{
    if (!usable)
        return POLICY_DANE_UNUSABLE;
    switch (found) {
    case POLICY_DANE_FOUND_EE:
        return POLICY_DANE_EE;
    case POLICY_DANE_FOUND_TA:
        if ((mx_host != NULL && policy_cert_host_match(mx_host, names, nnames))
            || (domain != NULL && policy_cert_host_match(domain, names, nnames)))
            return POLICY_DANE_TA;
        return POLICY_DANE_MISMATCH;
    case POLICY_DANE_FOUND_NONE:
    default:
        return POLICY_DANE_MISMATCH;
    }
}

/* policy_dane_match_name - the proved= word of a dane_match fact */

const char *policy_dane_match_name(enum policy_dane m)
{
    switch (m) {
    case POLICY_DANE_EE:
        return "dane-ee";
    case POLICY_DANE_TA:
        return "dane-ta";
    case POLICY_DANE_UNUSABLE:
    case POLICY_DANE_MISMATCH:
    default:
        return "none";
    }
}

/* dane_fail - fill a failure into v */

static struct policy_dane_verdict dane_fail(struct policy_dane_verdict v, const char *result,
                                            const char *why, const char *info)
{
    v.failed = true;
    v.reply = DANE_REPLY;
    v.result = result;
    v.why = why;
    v.info = info != NULL ? info : "";
    return v;
}

/* policy_send_dane - the DANE checks up to and including step */

struct policy_dane_verdict policy_send_dane(const struct policy_dane_outbound *f,
                                            enum policy_out_step step)
{
    struct policy_dane_verdict v = {.info = ""};

    /* POLICY_OUT_EHLO: TLS is required with any validated TLSA RRset. */
    if (!f->starttls_offered)
        return dane_fail(v, "starttls-not-supported", "STARTTLS was not offered", "");
    if (step == POLICY_OUT_EHLO)
        return v;
    /* POLICY_OUT_STARTTLS_REPLY */
    if (f->starttls_code != 220)
        return dane_fail(v, "starttls-not-supported", "STARTTLS was refused",
                         f->starttls_text);
    if (step == POLICY_OUT_STARTTLS_REPLY)
        return v;
    /* POLICY_OUT_HANDSHAKE: ours never fails on the certificate (tls/ records it). */
    if (!f->handshake_ok)
        return dane_fail(v, "validation-failure", "the TLS handshake failed",
                         f->handshake_error);
    if (step == POLICY_OUT_HANDSHAKE)
        return v;
    /* POLICY_OUT_CERT (and any unknown later step). */
    if (!f->usable)
        return v;                       /* TLS, not authenticated (RFC 7672 2.2) */
    switch (f->match) {
    case POLICY_DANE_EE:
    case POLICY_DANE_TA:
        v.verified = true;
        return v;
    case POLICY_DANE_MISMATCH:
        if (f->ta_name_mismatch)
            return dane_fail(v, "validation-failure", "the certificate does not name the MX "
                             "host or the domain (DANE-TA)", "");
        return dane_fail(v, "validation-failure", "the certificate chain does not match the "
                         "TLSA records", f->match_why);
    case POLICY_DANE_UNUSABLE:
    default:                            /* usable records and no fact: fail closed */
        return dane_fail(v, "validation-failure", "no usable TLSA record", f->match_why);
    }
}

/* policy_dane_reply - the queue text of a DANE failure */

int policy_dane_reply(char *buf, size_t sz, const char *domain, const char *host,
                      const struct policy_dane_verdict *v)
{
    const char *info = v->info != NULL ? v->info : "";

    return snprintf(buf, sz, "%s DANE policy of %s: %s: %s%s%s (%s)",
                    v->reply != NULL ? v->reply : DANE_REPLY, domain != NULL ? domain : "",
                    host != NULL ? host : "", v->why != NULL ? v->why : "checks passed",
                    info[0] ? ": " : "", info, v->result != NULL ? v->result : "success");
}
