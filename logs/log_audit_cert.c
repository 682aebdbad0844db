/*
 * log_audit_cert.c - the audit's certificates: the certificate blocks of
 * protocol rows (the partner's and ours) with the chain and revocation
 * rows after them, the verdict on every certificate a partner presented,
 * and the records the result lists (SPEC 5.3).  The rules are in
 * log_audit.c's header ("certs"); the state is in log_int.h.
 *
 * CONTRACT
 *  Internal to the audit; called only from log_audit.c, on one thread.
 *  log__audit_cert_row() takes a protocol "*" row of a session; it copies
 *  what it keeps into the session's certificate (the row's buffer is the
 *  reader's) and may unescape the row's data field.  It returns true when
 *  the row was a certificate row (a block's header or field, the chain or
 *  revocation status after it: the caller is done with it), false when the
 *  caller must still look at it; either way it has ended any open block.
 *  log__audit_cert_verdict() judges a session's certificate for one of
 *  its domains.  log__audit_cert_add() finds or makes the record of
 *  (direction, thumbprint, verdict) in a list and counts the session in
 *  it; the strings it makes are owned by the list.  The *_free()
 *  functions free what the others allocated.  No callbacks, nothing to
 *  cancel; allocation failure aborts (xmalloc).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_int.h"

/* audit_cert_field - a "Certificate ..." row inside a block */

static void audit_cert_field(struct audit_cert_seen *c, const struct log_field *date,
                             struct log_field *data, const struct log_field *ctx)
{
    static const struct { const char *ctx; size_t off; } fields[] = {
        { "Certificate subject", offsetof(struct audit_cert_seen, subject) },
        { "Certificate issuer name", offsetof(struct audit_cert_seen, issuer) },
        { "Certificate serial number", offsetof(struct audit_cert_seen, serial) },
        { "Certificate thumbprint", offsetof(struct audit_cert_seen, thumbprint) },
        { "Certificate alternate names", offsetof(struct audit_cert_seen, names) },
        { "Certificate not before", offsetof(struct audit_cert_seen, not_before) },
        { "Certificate not after", offsetof(struct audit_cert_seen, not_after) },
        { "Chain validation status", offsetof(struct audit_cert_seen, chain_status) },
        { "Chain validation reason", offsetof(struct audit_cert_seen, chain_reason) },
        { "Revocation status", offsetof(struct audit_cert_seen, revocation) },
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!log_field_eq(ctx, fields[i].ctx))
            continue;
        char **slot = (char **)((char *)c + fields[i].off);

        log_field_unescape(data);
        free(*slot);
        *slot = xstrndup(data->p, data->len);
        if (fields[i].off == offsetof(struct audit_cert_seen, thumbprint))
            log_field_copy(date, c->seen, sizeof(c->seen));
        return;
    }
}

/* audit_own_done - our block ended: count it in the result's own certificates */

static void audit_own_done(struct log_audit *a, struct audit_sess *s)
{
    if (s->own != NULL && s->own->thumbprint != NULL) {
        struct log_audit_cert *c = log__audit_cert_add(&a->res.own_certs, &a->res.nown_certs,
                                                       &a->own_cap, s->own, s->kind == LOG_READ_RECV,
                                                       LOG_AUDIT_V_NO_DECISION);

        log__audit_sids_add(&c->sids, s->sid);
    }
    log__audit_cert_seen_free(s->own);
    s->own = NULL;
}

/* log__audit_cert_row - a certificate block's row, or the chain and revocation rows after it */

bool log__audit_cert_row(struct log_audit *a, struct audit_sess *s, enum log_read_kind kind,
                         struct log_field *f)
{
    struct log_field *ctx = &f[LOG_P_CONTEXT];
    bool peer_header;

    if (ctx->len > 12 && memcmp(ctx->p, "Certificate ", 12) == 0) {
        if (s->block == BLOCK_PEER && s->cert)
            audit_cert_field(s->cert, &f[LOG_P_DATE], &f[LOG_P_DATA], ctx);
        else if (s->block == BLOCK_OURS && s->own)
            audit_cert_field(s->own, &f[LOG_P_DATE], &f[LOG_P_DATA], ctx);
        return true;
    }
    if (s->block == BLOCK_OURS)
        audit_own_done(a, s);
    s->block = BLOCK_NONE;
    if (log_field_eq(ctx, "Chain validation status") || log_field_eq(ctx, "Chain validation reason")
        || log_field_eq(ctx, "Revocation status")) {
        if (s->cert)
            audit_cert_field(s->cert, &f[LOG_P_DATE], &f[LOG_P_DATA], ctx);
        return true;
    }
    if (log_field_eq(ctx, "Sending certificate")) {
        s->block = BLOCK_OURS;
        log__audit_cert_seen_free(s->own);
        s->own = xcalloc(1, sizeof(*s->own));
        return true;
    }
    /* On Send, "Secure domain certificate" repeats the "Remote certificate". */
    peer_header = kind == LOG_READ_RECV ? log_field_eq(ctx, "Received certificate")
        : log_field_eq(ctx, "Remote certificate") || log_field_eq(ctx, "Secure domain certificate");
    if (!peer_header)
        return false;
    s->block = BLOCK_PEER;
    if (s->cert == NULL)
        s->cert = xcalloc(1, sizeof(*s->cert));
    return true;
}

/* audit_chain_verdict - the verdict a logged chain status means; ACCEPTED for Valid */

static enum log_audit_verdict audit_chain_verdict(const char *st, size_t n)
{
    static const struct { const char *name; enum log_audit_verdict v; } map[] = {
        { "Valid", LOG_AUDIT_V_ACCEPTED }, { "Untrusted", LOG_AUDIT_V_UNTRUSTED },
        { "Expired", LOG_AUDIT_V_EXPIRED }, { "NotYetValid", LOG_AUDIT_V_NOT_YET_VALID },
        { "BadEku", LOG_AUDIT_V_BAD_EKU }, { "Revoked", LOG_AUDIT_V_REVOKED },
        { "RevocationUnknown", LOG_AUDIT_V_REVOCATION_UNKNOWN },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].name) == n && strncmp(st, map[i].name, n) == 0)
            return map[i].v;
    return LOG_AUDIT_V_INVALID;
}

/* log__audit_cert_verdict - what the session's certificate was for decision d (NULL: none) */

enum log_audit_verdict log__audit_cert_verdict(const struct audit_cert_seen *c,
                                               const struct audit_dec *d)
{
    enum log_audit_verdict v;
    const char *rule = d && d->rule ? d->rule : "", *paren;

    if (d && d->secured)
        return LOG_AUDIT_V_ACCEPTED;
    if (c->chain_status != NULL)
        v = audit_chain_verdict(c->chain_status, strlen(c->chain_status));
    else if ((paren = strstr(rule, "CertificateValidationFailure (")) != NULL)
        v = audit_chain_verdict(paren + 30, strcspn(paren + 30, ")"));
    else
        v = LOG_AUDIT_V_ACCEPTED;       /* not logged: judge by the rule alone */
    if (v != LOG_AUDIT_V_ACCEPTED)
        return v;
    if (strncmp(rule, "SubjectMismatch", 15) == 0
        || strncmp(rule, "the TLS server certificate subject did not match", 48) == 0)
        return LOG_AUDIT_V_WRONG_NAME;
    return LOG_AUDIT_V_NO_DECISION;
}

/* audit_revoked_parse - CRL issuer and date of "revoked: ... revoked by <issuer> on <date> (<why>)" */

static void audit_revoked_parse(const char *rev, char **issuer, char **date)
{
    const char *by = rev ? strstr(rev, " revoked by ") : NULL, *on = NULL, *p, *end;

    if (by == NULL) {
        *issuer = xstrdup("");
        *date = xstrdup("");
        return;
    }
    by += 12;
    for (p = by; (p = strstr(p, " on ")) != NULL; p += 4)
        on = p;                         /* the last " on ": an issuer may hold one */
    if (on == NULL) {
        end = strstr(by, " (");
        *issuer = end ? xstrndup(by, (size_t)(end - by)) : xstrdup(by);
        *date = xstrdup("");
        return;
    }
    *issuer = xstrndup(by, (size_t)(on - by));
    end = on + 4 + strcspn(on + 4, " ");
    *date = xstrndup(on + 4, (size_t)(end - on - 4));
}

/* audit_after_colon - "verdict: reason" -> "reason" (the whole text if no colon) */

static const char *audit_after_colon(const char *s)
{
    const char *c = s ? strstr(s, ": ") : NULL;

    return c ? c + 2 : s ? s : "";
}

/* log__audit_cert_reason - why a certificate got its verdict, for people (xasprintf()ed) */

char   *log__audit_cert_reason(const struct audit_cert_seen *c, enum log_audit_verdict v,
                               const char *domain, bool inbound)
{
    switch (v) {
    case LOG_AUDIT_V_ACCEPTED:
        return xstrdup(c->revocation && strncmp(c->revocation, "unknown (accepted)", 18) == 0
                       ? c->revocation : "");
    case LOG_AUDIT_V_REVOKED:
    case LOG_AUDIT_V_REVOCATION_UNKNOWN:
        return xstrdup(audit_after_colon(c->revocation));
    case LOG_AUDIT_V_UNTRUSTED:
        return xstrdup(c->chain_reason ? c->chain_reason : "chain to no trusted root");
    case LOG_AUDIT_V_EXPIRED:
        return xasprintf("not valid after %s", c->not_after ? c->not_after : "?");
    case LOG_AUDIT_V_NOT_YET_VALID:
        return xasprintf("not valid before %s", c->not_before ? c->not_before : "?");
    case LOG_AUDIT_V_WRONG_NAME:
        return xasprintf("%s is not among the certificate's names (%s)", domain,
                         c->names && *c->names ? c->names : c->subject ? c->subject : "");
    case LOG_AUDIT_V_BAD_EKU:
        return xasprintf("extended key usage does not allow TLS %s authentication",
                         inbound ? "client" : "server");
    case LOG_AUDIT_V_INVALID:
        return xasprintf("chain validation status %s", c->chain_status ? c->chain_status : "?");
    default:
        return xstrdup("");
    }
}

/* audit_dup - s, or "" */

static char *audit_dup(const char *s)
{
    return xstrdup(s ? s : "");
}

/* log__audit_cert_add - the record of (direction, thumbprint, verdict) in a list; one more session */

struct log_audit_cert *log__audit_cert_add(struct log_audit_cert **v, size_t *n, size_t *cap,
                                           const struct audit_cert_seen *c, bool inbound,
                                           enum log_audit_verdict verdict)
{
    const char *tp = c->thumbprint ? c->thumbprint : "";
    struct log_audit_cert *pc = NULL;

    for (size_t i = 0; i < *n && pc == NULL; i++)
        if ((*v)[i].inbound == inbound && (*v)[i].verdict == verdict
            && strcmp((*v)[i].thumbprint, tp) == 0)
            pc = &(*v)[i];
    if (pc == NULL) {
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 4;
            *v = xrealloc(*v, *cap * sizeof(**v));
        }
        pc = &(*v)[(*n)++];
        memset(pc, 0, sizeof(*pc));
        pc->inbound = inbound;
        pc->verdict = verdict;
        pc->thumbprint = xstrdup(tp);
        pc->subject = audit_dup(c->subject);
        pc->issuer = audit_dup(c->issuer);
        pc->serial = audit_dup(c->serial);
        pc->not_after = audit_dup(c->not_after);
        pc->not_before = audit_dup(c->not_before);
        pc->names = audit_dup(c->names);
        pc->chain_status = audit_dup(c->chain_status);
        pc->revocation = audit_dup(c->revocation);
        pc->reply = xstrdup("");
        if (verdict == LOG_AUDIT_V_REVOKED) {
            audit_revoked_parse(c->revocation, &pc->crl_issuer, &pc->revoked_at);
        } else {
            pc->crl_issuer = xstrdup("");
            pc->revoked_at = xstrdup("");
        }
        strcpy(pc->first_seen, c->seen);
        strcpy(pc->last_seen, c->seen);
    }
    pc->sessions++;
    if (strcmp(c->seen, pc->first_seen) < 0)
        strcpy(pc->first_seen, c->seen);
    if (strcmp(c->seen, pc->last_seen) > 0)
        strcpy(pc->last_seen, c->seen);
    return pc;
}

/* log__audit_cert_seen_free - free a session's certificate */

void log__audit_cert_seen_free(struct audit_cert_seen *c)
{
    if (c == NULL)
        return;
    free(c->thumbprint);
    free(c->subject);
    free(c->issuer);
    free(c->serial);
    free(c->not_after);
    free(c->not_before);
    free(c->names);
    free(c->chain_status);
    free(c->chain_reason);
    free(c->revocation);
    free(c);
}

/* log__audit_certs_free - free a list of certificate records */

void log__audit_certs_free(struct log_audit_cert *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct log_audit_cert *c = &v[i];

        free(c->thumbprint);
        free(c->subject);
        free(c->issuer);
        free(c->serial);
        free(c->not_after);
        free(c->not_before);
        free(c->names);
        free(c->chain_status);
        free(c->revocation);
        free(c->reason);
        free(c->crl_issuer);
        free(c->revoked_at);
        free(c->reply);
        free(c->sids.v);
    }
    free(v);
}
