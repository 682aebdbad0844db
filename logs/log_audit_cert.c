/*
 * log_audit_cert.c - the audit's certificate tracking and its warnings:
 * partner certificate blocks in protocol rows, each certificate's first and
 * last seen, certificate-changed, expires-within-N-days and
 * not-domain-secured (SPEC 5.3).  The rules are in log_audit.c's header
 * ("certs", "Warnings"); the state is in log_int.h.
 *
 * CONTRACT
 *  Internal to the audit; called only from log_audit.c, on one thread.
 *  log__audit_cert_row() takes a protocol "*" row of a session; it copies
 *  what it keeps into the session's certificate (the row's buffer is the
 *  reader's) and may unescape the row's data field.  It returns true when
 *  the row was a certificate row (the caller is done with it), false when
 *  the caller must still look at it; either way it has ended any open
 *  certificate block.
 *  log__audit_add_cert() copies the session's certificate into the
 *  partner's list (owned by the partner record).  log__audit_warnings()
 *  runs once, from log_audit_finish(), after the sessions are closed and
 *  the listed flags are final; the warnings it appends, and their text, are
 *  owned by the audit's result, and their domain points at the partner's.
 *  The *_free() functions free what the others allocated.  No callbacks,
 *  nothing to cancel; allocation failure aborts (xmalloc).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_int.h"

/* audit_cert_field - a "Certificate ..." row inside a partner's block */

static void audit_cert_field(struct audit_sess *s, const struct log_field *date,
                             struct log_field *data, const struct log_field *ctx)
{
    static const struct { const char *ctx; size_t off; } fields[] = {
        { "Certificate subject", offsetof(struct audit_cert_seen, subject) },
        { "Certificate issuer name", offsetof(struct audit_cert_seen, issuer) },
        { "Certificate serial number", offsetof(struct audit_cert_seen, serial) },
        { "Certificate thumbprint", offsetof(struct audit_cert_seen, thumbprint) },
        { "Certificate not after", offsetof(struct audit_cert_seen, not_after) },
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!log_field_eq(ctx, fields[i].ctx))
            continue;
        if (s->cert == NULL)
            s->cert = xcalloc(1, sizeof(*s->cert));
        char **slot = (char **)((char *)s->cert + fields[i].off);

        log_field_unescape(data);
        free(*slot);
        *slot = xstrndup(data->p, data->len);
        if (fields[i].off == offsetof(struct audit_cert_seen, thumbprint))
            log_field_copy(date, s->cert->seen, sizeof(s->cert->seen));
        return;
    }
}

/* log__audit_cert_row - a "Certificate ..." row, or the start or end of a certificate block */

bool log__audit_cert_row(struct audit_sess *s, enum log_read_kind kind, struct log_field *f)
{
    struct log_field *ctx = &f[LOG_P_CONTEXT];

    if (ctx->len > 12 && memcmp(ctx->p, "Certificate ", 12) == 0) {
        if (s->block == BLOCK_PEER)
            audit_cert_field(s, &f[LOG_P_DATE], &f[LOG_P_DATA], ctx);
        return true;
    }
    s->block = BLOCK_NONE;
    if (log_field_eq(ctx, "Sending certificate"))
        s->block = BLOCK_OURS;
    else if (kind == LOG_READ_RECV ? log_field_eq(ctx, "Received certificate")
             : log_field_eq(ctx, "Remote certificate") || log_field_eq(ctx, "Secure domain certificate"))
        s->block = BLOCK_PEER;
    return s->block != BLOCK_NONE;
}

/* audit_cert_cmp - certificates by first seen */

static int audit_cert_cmp(const void *x, const void *y)
{
    const struct log_audit_cert *c = x, *d = y;

    return strcmp(c->first_seen, d->first_seen);
}

/* audit_warn - append a warning */

static void audit_warn(struct log_audit *a, enum log_audit_warning_kind kind, const char *domain,
                       const char *time, char *text)
{
    struct log_audit_result *r = &a->res;

    r->warnings = xrealloc(r->warnings, (r->nwarnings + 1) * sizeof(*r->warnings));
    struct log_audit_warning *w = &r->warnings[r->nwarnings++];

    w->kind = kind;
    w->domain = domain;
    snprintf(w->time, sizeof(w->time), "%s", time ? time : "");
    w->text = text;
}

/* log__audit_add_cert - a session's partner certificate into the partner's list */

void log__audit_add_cert(struct audit_partner *ap, const struct audit_cert_seen *c, bool inbound)
{
    const char *tp = c->thumbprint ? c->thumbprint : "";
    struct log_audit_cert *pc = NULL;

    for (size_t i = 0; i < ap->p.ncerts; i++)
        if (ap->p.certs[i].inbound == inbound && strcmp(ap->p.certs[i].thumbprint, tp) == 0)
            pc = &ap->p.certs[i];
    if (pc == NULL) {
        if (ap->p.ncerts == ap->certs_cap) {
            ap->certs_cap = ap->certs_cap ? 2 * ap->certs_cap : 4;
            ap->p.certs = xrealloc(ap->p.certs, ap->certs_cap * sizeof(*ap->p.certs));
        }
        pc = &ap->p.certs[ap->p.ncerts++];
        memset(pc, 0, sizeof(*pc));
        pc->inbound = inbound;
        pc->thumbprint = xstrdup(tp);
        pc->subject = xstrdup(c->subject ? c->subject : "");
        pc->issuer = xstrdup(c->issuer ? c->issuer : "");
        pc->serial = xstrdup(c->serial ? c->serial : "");
        pc->not_after = xstrdup(c->not_after ? c->not_after : "");
        strcpy(pc->first_seen, c->seen);
        strcpy(pc->last_seen, c->seen);
    }
    pc->sessions++;
    if (strcmp(c->seen, pc->first_seen) < 0)
        strcpy(pc->first_seen, c->seen);
    if (strcmp(c->seen, pc->last_seen) > 0)
        strcpy(pc->last_seen, c->seen);
}

/* log__audit_warnings - certificate changes and expiry, unsecured mail */

void log__audit_warnings(struct log_audit *a, const char *end)
{
    long end_day = log_read_day(end, false);

    for (size_t k = 0; k < a->npartners; k++) {
        struct audit_partner *ap = &a->partners[k];
        struct log_audit_partner *p = &ap->p;

        if (a->opts.domain && strcasecmp(a->opts.domain, p->domain) != 0)
            continue;
        if (p->ncerts > 1)
            qsort(p->certs, p->ncerts, sizeof(*p->certs), audit_cert_cmp);
        for (size_t i = 1; i < p->ncerts; i++) {
            size_t j = i;               /* the previous one of the same direction */

            while (j-- > 0 && p->certs[j].inbound != p->certs[i].inbound)
                ;
            if (j == (size_t)-1)
                continue;
            audit_warn(a, LOG_AUDIT_W_CERT_CHANGED, p->domain, p->certs[i].first_seen,
                       xasprintf("%s presented a new %s certificate %s (subject %s), replacing %s",
                                 p->domain, p->certs[i].inbound ? "client" : "server",
                                 p->certs[i].thumbprint, p->certs[i].subject,
                                 p->certs[j].thumbprint));
        }
        for (size_t i = 0; i < p->ncerts; i++) {
            long na = p->certs[i].not_after[0] ? log_read_day(p->certs[i].not_after, false) : -1;

            if (na < 0 || end_day < 0 || na > end_day + (long)a->opts.expiry_days)
                continue;
            audit_warn(a, LOG_AUDIT_W_CERT_EXPIRES, p->domain, p->certs[i].last_seen,
                       xasprintf("%s certificate %s %s %s (%ld days after %.10s)", p->domain,
                                 p->certs[i].thumbprint, na < end_day ? "expired" : "expires",
                                 p->certs[i].not_after, na - end_day, end));
        }
        if (ap->listed_in && ap->unsecured_in)
            audit_warn(a, LOG_AUDIT_W_NOT_SECURED, p->domain, ap->unsecured_in_at,
                       xasprintf("%llu message(s) from listed domain %s were not domain-secured",
                                 (unsigned long long)ap->unsecured_in, p->domain));
        if (ap->listed_out && ap->unsecured_out)
            audit_warn(a, LOG_AUDIT_W_NOT_SECURED, p->domain, ap->unsecured_out_at,
                       xasprintf("%llu message(s) to listed domain %s were not domain-secured",
                                 (unsigned long long)ap->unsecured_out, p->domain));
    }
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
    free(c);
}

/* log__audit_certs_free - free a partner's certificate list */

void log__audit_certs_free(struct log_audit_partner *p)
{
    for (size_t i = 0; i < p->ncerts; i++) {
        free(p->certs[i].thumbprint);
        free(p->certs[i].subject);
        free(p->certs[i].issuer);
        free(p->certs[i].serial);
        free(p->certs[i].not_after);
    }
    free(p->certs);
}
