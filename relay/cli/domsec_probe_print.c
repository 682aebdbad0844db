/*
 * domsec_probe_print.c - `domsec test-partner`'s result as text: one block
 * per host, then the verdict line that monitoring greps.
 *
 * Arrays are walked with json_array_get() (NULL past the end, or for a
 * missing member), not jansson's json_array_foreach macro, which cppcheck
 * cannot parse.
 *
 * CONTRACT
 *  Prints the JSON record domsec_probe.c and domsec_probe_smtp.c (or
 *  domsec_probe_in.c) built, to stdout; reads it only.  Members that are
 *  missing (a host that never answered has no banner) print nothing.
 *  Every string from the record is printed through escaped()/domsec_term() (domsec_term.c):
 *  the peer chose most of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_probe.h"
#include "log.h"

/* domsec__probe_str - a string member, or "" */

const char *domsec__probe_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : "";
}

/* escaped - s for a terminal (xmalloc()ed), one line: domsec_term_text */

static char *escaped(const char *s)
{
    return domsec_term_text(s, false);
}

/* member - a string member of o for a terminal (domsec_term), or "" */

static const char *member(const json_t *o, const char *key)
{
    return domsec_term(domsec__probe_str(o, key), false);
}

/* print_line - "label  text" when text is not empty */

static void print_line(const char *indent, const char *label, const char *text)
{
    if (text != NULL && text[0] != '\0')
        printf("%s%-*s %s\n", indent, indent[0] ? 9 : 10, label, text);
}

/* print_words - the strings of an array on one line */

static void print_words(const char *indent, const char *label, const json_t *a)
{
    size_t  i;
    json_t *v;

    if (!json_is_array(a))
        return;
    printf("%s%-*s", indent, indent[0] ? 9 : 10, label);
    for (i = 0; (v = json_array_get(a, i)) != NULL; i++)
        printf(" %s", domsec_term(json_string_value(v), false));
    printf("\n");
}

/* print_chain - the certificates as presented, with each one's pin */

static void print_chain(const char *indent, const json_t *chain)
{
    int     w = indent[0] ? 9 : 10;
    size_t  i;
    json_t *c;

    for (i = 0; (c = json_array_get(chain, i)) != NULL; i++) {
        printf("%s%-*s %zu %s\n", indent, w, i == 0 ? "chain" : "", i, member(c, "subject"));
        printf("%s%-*s   issuer %s\n", indent, w, "", member(c, "issuer"));
        printf("%s%-*s   notAfter %s  sha1 %s\n", indent, w, "", member(c, "not_after"),
               member(c, "thumbprint"));
        if (json_object_get(c, "pin_sha256") != NULL) {
            printf("%s%-*s   pin-sha256: %s\n", indent, w, "", member(c, "pin_sha256"));
            printf("%s%-*s   pin-sha256-base64: %s\n", indent, w, "",
                   member(c, "pin_sha256_base64"));
        }
    }
}

/* print_verdicts - chain, validity, name, EKU, revocation */

static void print_verdicts(const json_t *v, const char *domain)
{
    const json_t *name = json_object_get(v, "name");
    const char *cd = member(v, "chain_detail"), *rd;
    size_t  i;
    json_t *n;

    if (v == NULL)
        return;
    printf("  %-9s chain: %s%s%s%s\n", "verdicts", member(v, "chain"),
           cd[0] ? " (" : "", cd, cd[0] ? ")" : "");
    if (strcmp(member(v, "status"), member(v, "chain")) != 0)
        printf("  %-9s status: %s\n", "", member(v, "status"));
    printf("  %-9s validity: %s\n", "", member(v, "validity"));
    printf("  %-9s name: %s %s (names:", "", domain,
           json_is_true(json_object_get(name, "match")) ? "matches" : "does NOT match");
    for (i = 0; (n = json_array_get(json_object_get(name, "names"), i)) != NULL; i++)
        printf(" %s", domsec_term(json_string_value(n), false));
    printf(")\n");
    printf("  %-9s eku: %s\n", "", member(v, "eku"));
    rd = member(v, "revocation_detail");
    printf("  %-9s revocation: %s%s%s%s\n", "", member(v, "revocation"),
           rd[0] ? " (" : "", rd, rd[0] ? ")" : "");
}

/* print_host - one address's block */

static void print_host(const json_t *h, const char *domain)
{
    const json_t *tls = json_object_get(h, "tls");
    const char *res = domsec__probe_str(h, "result");

    printf("host       %s [%s]\n", member(h, "name"), member(h, "address"));
    print_line("  ", "banner", member(h, "banner"));
    print_line("  ", "ehlo", member(h, "ehlo_reply"));
    print_words("  ", "", json_object_get(h, "ehlo"));
    print_line("  ", "starttls", member(h, "starttls"));
    print_line("  ", "tls error", member(h, "tls_error"));
    if (tls != NULL)
        printf("  %-9s %s %s (%d bits)%s%s\n", "tls", member(tls, "version"),
               member(tls, "cipher"),
               (int)json_integer_value(json_object_get(tls, "bits")),
               member(tls, "group")[0] ? " group " : "",
               member(tls, "group"));
    print_chain("  ", json_object_get(h, "chain"));
    print_verdicts(json_object_get(h, "verdicts"), domain);
    print_line("  ", "identity", member(h, "partner_identity"));
    print_line("  ", "  why", member(h, "identity_detail"));
    print_line("  ", "rule", member(h, "rule"));
    print_line("  ", "log", member(h, "log"));
    if (strcmp(res, "failed") == 0)
        printf("  %-9s FAILED at %s: %s\n", "result", member(h, "failed_at"),
               member(h, "reply"));
    else if (strcmp(res, "delivered_plaintext") == 0)
        printf("  %-9s would deliver WITHOUT TLS (%s)\n", "result",
               member(h, "fallback")[0] ? member(h, "fallback")
                                                   : "STARTTLS not used");
    else
        printf("  %-9s would deliver\n", "result");
}

/* print_sts - the MTA-STS policy found, and which MX hosts it names */

static void print_sts(const json_t *sts, const json_t *mx)
{
    const json_t *pol = json_object_get(sts, "policy"), *h;
    const char *failure = member(sts, "failure");
    size_t  i;

    if (!json_is_object(sts))
        return;
    if (json_is_object(pol)) {
        printf("mta-sts    %s, id %s, max_age %lld s%s\n", member(pol, "mode"),
               member(pol, "id"), (long long)json_integer_value(json_object_get(pol, "max_age")),
               strcmp(member(sts, "status"), "stale") == 0 ? " (cached; the refresh failed)" : "");
        print_words("  ", "mx", json_object_get(pol, "mx"));
        for (i = 0; (h = json_array_get(mx, i)) != NULL; i++)
            if (json_object_get(h, "mta_sts_match") != NULL)
                printf("  %-9s %s %s\n", i == 0 ? "MX hosts" : "", member(h, "name"),
                       json_is_true(json_object_get(h, "mta_sts_match")) ? "matches"
                                                                         : "does NOT match");
    } else {
        printf("mta-sts    %s%s%s%s%s\n", strcmp(member(sts, "status"), "none") == 0
               ? "no policy" : member(sts, "status"), member(sts, "why")[0] ? ": " : "",
               member(sts, "why"), failure[0] ? " - " : "", failure);
    }
    printf("  %-9s %s\n", "applies", json_is_true(json_object_get(sts, "applies"))
           ? (json_is_object(pol) ? "yes: domsecd applies it to mail for this domain"
                                  : "yes: domsecd looks for a policy for this domain")
           : !json_is_true(json_object_get(sts, "connector"))
           ? "no: the send connector has mta_sts = no"
           : "no: the domain is listed (domain security wins)");
}

/* domsec__probe_print - the outbound result */

void domsec__probe_print(const json_t *out)
{
    char   *domain = escaped(domsec__probe_str(out, "domain"));
    const char *verdict = domsec__probe_str(out, "verdict");
    const json_t *own = json_object_get(out, "client_certificate"), *mx = json_object_get(out, "mx");
    size_t  i;
    json_t *h;

    printf("domain     %s\n", domain);
    if (json_object_get(out, "connector") != NULL)
        printf("connector  %s (domain_secure_enabled %s, require_tls %s); %s %s listed in "
               "tls_send_domain_secure_list\n", member(out, "connector"),
               json_is_true(json_object_get(out, "domain_secure_enabled")) ? "yes" : "no",
               json_is_true(json_object_get(out, "require_tls")) ? "yes" : "no", domain,
               json_is_true(json_object_get(out, "listed")) ? "is" : "is not");
    if (json_is_object(own)) {
        printf("our cert   %s  sha1 %s\n", member(own, "subject"),
               member(own, "thumbprint"));
        if (json_object_get(own, "pin_sha256") != NULL) {
            printf("           pin-sha256: %s\n", member(own, "pin_sha256"));
            printf("           pin-sha256-base64: %s\n", member(own, "pin_sha256_base64"));
        }
    }
    else if (json_is_null(own))
        printf("our cert   none\n");
    if (strcmp(domsec__probe_str(out, "route"), "smart_host") == 0)
        printf("route      smart hosts (domain security applies only to MX routing)\n");
    if (json_is_array(mx)) {
        printf("mx        ");
        for (i = 0; (h = json_array_get(mx, i)) != NULL; i++)
            printf(" %d %s", (int)json_integer_value(json_object_get(h, "pref")),
                   member(h, "name"));
        printf("%s\n", json_is_true(json_object_get(out, "implicit_mx")) ? " (no MX: implicit)"
                                                                     : "");
    }
    print_sts(json_object_get(out, "mta_sts"), mx);
    print_line("", "dns error", member(out, "dns_error"));
    for (i = 0; (h = json_array_get(json_object_get(out, "hosts"), i)) != NULL; i++)
        print_host(h, domain);
    if (strcmp(verdict, "delivered") == 0)
        printf("verdict    mail to %s would be delivered\n", domain);
    else if (strcmp(verdict, "unknown") == 0)
        printf("verdict    cannot tell whether mail to %s would be delivered%s%s\n", domain,
               json_is_string(json_object_get(out, "reply")) ? ": " : "",
               member(out, "reply"));
    else
        printf("verdict    mail to %s would be %s: %s\n", domain,
               strcmp(verdict, "bounced") == 0 ? "BOUNCED" : "DEFERRED",
               member(out, "reply"));
    free(domain);
}

/* domsec__probe_print_in - the inbound result */

void domsec__probe_print_in(const json_t *out)
{
    char   *domain = escaped(domsec__probe_str(out, "domain"));

    printf("domain     %s (connector %s; %s listed in tls_receive_domain_secure_list)\n",
           domain, member(out, "connector"),
           json_is_true(json_object_get(out, "listed")) ? "is" : "is not");
    {
        const json_t *src = json_object_get(out, "source");

        if (src != NULL)
            printf("source     session %s from %s at %s (%s)\n", member(src, "session"),
                   member(src, "client"), member(src, "time"), member(src, "log"));
    }
    print_line("", "file", member(out, "file"));
    print_chain("", json_object_get(out, "chain"));
    print_verdicts(json_object_get(out, "verdicts"), domain);
    print_line("", "identity", member(out, "partner_identity"));
    print_line("", "  why", member(out, "identity_detail"));
    print_line("", "rule", member(out, "rule"));
    if (json_is_true(json_object_get(out, "accepted")))
        printf("verdict    MAIL FROM:<x@%s> would be accepted\n", domain);
    else
        printf("verdict    MAIL FROM:<x@%s> would be REFUSED: %s\n", domain,
               member(out, "reply"));
    free(domain);
}
