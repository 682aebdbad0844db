/*
 * log_audit_trust.c - the audit's partner trust rows (issue 17): what the
 * "Partner identity" lines say per partner and direction, and the DANE
 * verdict rows of unlisted destinations counted with the other outbound
 * TLS policies.
 *
 * CONTRACT
 *  Internal to the audit; called from log_audit.c for protocol log context
 *  rows, on one thread.  Nothing of the row is kept: what is counted is
 *  copied (log__audit_count_add).  A malformed line (no "(inbound): " or
 *  "(outbound): ", no "policy=" or "verdict=") is not counted.  The
 *  counts live in the partner's record (struct log_audit_identity) and
 *  are freed with it (log__audit_identity_free); log__audit_identity_close
 *  sorts the exception's session ids once, at log_audit_finish().  No
 *  callbacks; allocation failure aborts.
 *
 * THE ROWS (docs/LOGS.md "The rows domsec writes")
 *  - Identity, written on every domain-secured verdict and every refusal
 *    of a listed domain, both directions:
 *      Partner identity of '<d>' (inbound|outbound): policy=global|partner
 *      require=<r>; proved=<p>; eku=<e>; revocation=<verdict> via <source>;
 *      verdict=Secured|<rule>
 *    Every line counts as a decision of <d> in its direction, by policy
 *    ("<policy> require=<r>"), eku and revocation ("<verdict> via
 *    <source>", or "<verdict>" alone when the source is "-"); a Secured
 *    one by proved=, a refused one by its rule (the rest of the line: a
 *    rule may hold spaces, "BadEku (serverAuth only)").  Inbound, secured
 *    with eku=serverAuth-only is the 2026 exception (accepted by the global
 *    rule and by default in a [partner] section): counted apart with its first and last time and session ids
 *    (outbound it is the norm: a server's certificate).
 *    The line is written only for a listed domain, so <d> was listed then
 *    in that direction.
 *  - DANE, per send session of an unlisted destination (as the MTA-STS
 *    rows): "DANE policy of '<d>' (...): certificate verified for <mx>
 *    ..." (dane: verified), "... <mx> failed: <result-type> (...)" (dane:
 *    failed: <result-type>), "DANE policy of '<d>': TLSA lookup for <mx>
 *    failed (...)" (dane: tlsa lookup failed), "... all unusable): TLS with
 *    <mx> ..." (dane: unusable: tls).  The row makes <d> one of the
 *    session's domains (a refused host never sees RCPT TO).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_int.h"

/* log_audit_has_identity - p has a Partner identity line */

bool log_audit_has_identity(const struct log_audit_partner *p)
{
    return p->identity_in.decisions > 0 || p->identity_out.decisions > 0;
}

/* trust_span - a part of the line: [p, e) */

struct trust_span {
    const char *p, *e;
};

/* trust_field - the value after `key` (searched from *from), up to the
 * next "; " or, with stop_at_space, the next space; false if absent */

static bool trust_field(const char *from, const char *end, const char *key, bool stop_at_space,
                        struct trust_span *out)
{
    size_t kl = strlen(key);
    const char *k = memmem(from, (size_t)(end - from), key, kl), *v, *e;

    if (k == NULL)
        return false;
    v = k + kl;
    for (e = v; e < end; e++)
        if ((stop_at_space && *e == ' ') || (*e == ';' && e + 1 < end && e[1] == ' '))
            break;
    out->p = v;
    out->e = e;
    return true;
}

/* trust_count - count "a" (or "a b" when b is given) in a list */

static void trust_count(struct log_audit_count **list, size_t *n, struct trust_span a,
                        const char *sep, const struct trust_span *b)
{
    char *s;

    if (b == NULL) {
        log__audit_count_add(list, n, a.p, (size_t)(a.e - a.p));
        return;
    }
    s = xasprintf("%.*s%s%.*s", (int)(a.e - a.p), a.p, sep, (int)(b->e - b->p), b->p);
    log__audit_count_add(list, n, s, strlen(s));
    free(s);
}

/* trust_eq - the span is exactly s */

static bool trust_eq(struct trust_span v, const char *s)
{
    size_t n = strlen(s);

    return (size_t)(v.e - v.p) == n && memcmp(v.p, s, n) == 0;
}

/* log__audit_identity_row - one "Partner identity of '<d>' (<dir>): ..." row */

void log__audit_identity_row(struct log_audit *a, struct audit_sess *s, const struct log_field *date,
                             const struct log_field *ctx)
{
    const char *end = ctx->p + ctx->len, *p = memchr(ctx->p, '\'', ctx->len), *q, *rest;
    struct trust_span policy, require = { "?", NULL }, proved = { "?", NULL }, eku = { "?", NULL };
    struct trust_span rev = { "?", NULL }, via = { "-", NULL }, verdict;
    bool in;

    require.e = require.p + 1;
    proved.e = proved.p + 1;
    eku.e = eku.p + 1;
    rev.e = rev.p + 1;
    via.e = via.p + 1;
    if (p == NULL || (q = memchr(p + 1, '\'', (size_t)(end - p - 1))) == NULL || q == p + 1)
        return;
    if (end - q >= 13 && memcmp(q, "' (inbound): ", 13) == 0) {
        in = true;
        rest = q + 13;
    } else if (end - q >= 14 && memcmp(q, "' (outbound): ", 14) == 0) {
        in = false;
        rest = q + 14;
    } else {
        return;
    }
    if (!trust_field(rest, end, "policy=", true, &policy)
        || !trust_field(rest, end, "; verdict=", false, &verdict))
        return;
    verdict.e = end;                    /* the rule runs to the end: "BadEku (serverAuth only)" */
    while (verdict.e > verdict.p && (verdict.e[-1] == ' ' || verdict.e[-1] == '.'))
        verdict.e--;
    trust_field(rest, end, " require=", false, &require);
    trust_field(rest, end, "; proved=", false, &proved);
    trust_field(rest, end, "; eku=", false, &eku);
    if (trust_field(rest, end, "; revocation=", true, &rev)
        && rev.e < end && end - rev.e > 5 && memcmp(rev.e, " via ", 5) == 0)
        trust_field(rev.e, end, " via ", false, &via);

    uint32_t pi = log__audit_partner_find(a, p + 1, (size_t)(q - p - 1));
    struct audit_partner *ap = &a->partners[pi];
    struct log_audit_identity *id = in ? &ap->p.identity_in : &ap->p.identity_out;

    ap->inferred = true;                /* written only for a listed domain: listed then */
    *(in ? &ap->then_in : &ap->then_out) = true;
    id->decisions++;
    trust_count(&id->policies, &id->npolicies, policy, " require=", &require);
    trust_count(&id->eku, &id->neku, eku, NULL, NULL);
    trust_count(&id->revocation, &id->nrevocation, rev, " via ", trust_eq(via, "-") ? NULL : &via);
    if (!trust_eq(verdict, "Secured")) {
        trust_count(&id->refusals, &id->nrefusals, verdict, NULL, NULL);
        return;
    }
    id->secured++;
    trust_count(&id->proved, &id->nproved, proved, NULL, NULL);
    if (!in || !trust_eq(eku, "serverAuth-only"))
        return;                         /* a server's certificate is serverAuth-only by nature */
    char t[LOG_READ_TSLEN + 1];         /* the 2026 exception */

    log_field_copy(date, t, sizeof(t));
    if (id->server_auth_only++ == 0 || strcmp(t, id->server_auth_only_first) < 0)
        memcpy(id->server_auth_only_first, t, sizeof(t));
    if (strcmp(t, id->server_auth_only_last) > 0)
        memcpy(id->server_auth_only_last, t, sizeof(t));
    log__audit_sids_add(&id->server_auth_only_sids, s->sid);
}

/* log__audit_dane_row - a Send session's "DANE policy of '<d>' ..." row */

void log__audit_dane_row(struct log_audit *a, struct audit_sess *s, const struct log_field *ctx)
{
    const char *end = ctx->p + ctx->len, *p = memchr(ctx->p, '\'', ctx->len), *q, *r, *f;
    char key[96];
    int slot, n;

    if (p == NULL || (q = memchr(p + 1, '\'', (size_t)(end - p - 1))) == NULL
        || (slot = log__audit_sess_domain(a, s, p + 1, (size_t)(q - p - 1))) < 0)
        return;
    if (end - q >= 14 && memcmp(q, "': TLSA lookup", 14) == 0)
        n = snprintf(key, sizeof(key), "dane: tlsa lookup failed");
    else if ((r = memmem(q, (size_t)(end - q), "): ", 3)) == NULL)
        return;
    else if (r += 3, end - r >= 20 && memcmp(r, "certificate verified", 20) == 0)
        n = snprintf(key, sizeof(key), "dane: verified");
    else if ((f = memmem(r, (size_t)(end - r), " failed: ", 9)) != NULL)
        n = snprintf(key, sizeof(key), "dane: failed: %.*s",
                     (int)strcspn(f + 9, " "), f + 9);  /* the result type, one word */
    else if (end - r >= 8 && memcmp(r, "TLS with", 8) == 0)
        n = snprintf(key, sizeof(key), "dane: unusable: tls");
    else
        return;
    struct audit_partner *ap = &a->partners[s->dom[slot]];

    log__audit_count_add(&ap->p.policies, &ap->p.npolicies, key,
                         n > 0 && (size_t)n < sizeof(key) ? (size_t)n : strlen(key));
}

/* log__audit_identity_close - the books of a partner's identity lines, once */

void log__audit_identity_close(struct log_audit_partner *p)
{
    log__audit_sids_sort(&p->identity_in.server_auth_only_sids);
    log__audit_sids_sort(&p->identity_out.server_auth_only_sids);
}

/* trust_counts_free - a count list */

static void trust_counts_free(struct log_audit_count *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].name);
    free(c);
}

/* log__audit_identity_free - what a partner's identity lines left */

void log__audit_identity_free(struct log_audit_partner *p)
{
    for (int k = 0; k < 2; k++) {
        struct log_audit_identity *id = k ? &p->identity_out : &p->identity_in;

        trust_counts_free(id->policies, id->npolicies);
        trust_counts_free(id->proved, id->nproved);
        trust_counts_free(id->eku, id->neku);
        trust_counts_free(id->revocation, id->nrevocation);
        trust_counts_free(id->refusals, id->nrefusals);
        free(id->server_auth_only_sids.v);
    }
}
