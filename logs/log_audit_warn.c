/*
 * log_audit_warn.c - the audit's warnings (SPEC 5.3): refused
 * certificates and refusals without one (grouped, counted, with first and
 * last time, session ids and the reply given), certificate changes,
 * certificates (a partner's or ours) that expire within N days, and mail
 * with a listed domain that was not domain-secured.  The rules are in
 * log_audit.c's header ("Warnings").
 *
 * CONTRACT
 *  Internal to the audit; called only from log_audit.c, on one thread,
 *  during log_audit_finish().  log__audit_warn_event() groups an event by
 *  (kind, domain, direction, thumbprint, verdict, reason) and copies what
 *  it keeps.  log__audit_warnings() runs once, after every event, when
 *  the partners are final: it adds the other warnings, writes every
 *  warning's text, and sorts them by time.  The warnings and their strings
 *  are owned by the result (log__audit_warnings_free()); their domain
 *  points at the partner's.  No callbacks; allocation failure aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_int.h"

/* audit_warn_new - append an empty warning */

static struct log_audit_warning *audit_warn_new(struct log_audit *a, enum log_audit_warning_kind kind,
                                                const char *domain, const char *time)
{
    struct log_audit_result *r = &a->res;

    if (r->nwarnings == a->warn_cap) {
        a->warn_cap = a->warn_cap ? 2 * a->warn_cap : 16;
        r->warnings = xrealloc(r->warnings, a->warn_cap * sizeof(*r->warnings));
    }
    struct log_audit_warning *w = &r->warnings[r->nwarnings++];

    memset(w, 0, sizeof(*w));
    w->kind = kind;
    w->domain = domain;
    snprintf(w->first, sizeof(w->first), "%s", time ? time : "");
    memcpy(w->last, w->first, sizeof(w->last));
    memcpy(w->time, w->first, sizeof(w->time));
    w->count = 1;
    w->reply = xstrdup("");
    w->reason = xstrdup("");
    w->thumbprint = xstrdup("");
    return w;
}

/* audit_set - replace an owned string */

static void audit_set(char **slot, const char *s)
{
    free(*slot);
    *slot = xstrdup(s ? s : "");
}

/* log__audit_warn_event - one refusal into its group */

void log__audit_warn_event(struct log_audit *a, const struct audit_event *e)
{
    struct log_audit_result *r = &a->res;
    const char *tp = e->thumbprint ? e->thumbprint : "", *why = e->reason ? e->reason : "";
    struct log_audit_warning *w = NULL;

    for (size_t i = 0; i < r->nwarnings && w == NULL; i++) {
        struct log_audit_warning *x = &r->warnings[i];

        if (x->kind == e->kind && x->domain == e->ap->p.domain && x->inbound == e->inbound
            && x->verdict == e->verdict && strcmp(x->thumbprint, tp) == 0
            && strcmp(x->reason, why) == 0)
            w = x;
    }
    if (w == NULL) {
        w = audit_warn_new(a, e->kind, e->ap->p.domain, e->time);
        w->count = 0;
        w->inbound = e->inbound;
        w->verdict = e->verdict;
        w->listed = e->listed;
        audit_set(&w->thumbprint, tp);
        audit_set(&w->reason, why);
    }
    w->count++;
    if (e->time && strcmp(e->time, w->first) < 0) {
        snprintf(w->first, sizeof(w->first), "%s", e->time);
        memcpy(w->time, w->first, sizeof(w->time));
    }
    if (e->time && strcmp(e->time, w->last) > 0)
        snprintf(w->last, sizeof(w->last), "%s", e->time);
    if (w->reply[0] == '\0' && e->reply)
        audit_set(&w->reply, e->reply);
    if (e->listed.from_today)
        w->listed.from_today = true;
    log__audit_sids_add(&w->sids, e->sid);
}

/* audit_refusal_text - the line of a grouped refusal */

static char *audit_refusal_text(const struct log_audit_warning *w)
{
    const char *dir = w->inbound ? "from" : "to", *rs = w->reply[0] ? "; reply: " : "";

    if (w->kind == LOG_AUDIT_W_CERT_REFUSED)
        return xasprintf("%llu session(s) %s %s refused: certificate %s %s%s%s%s%s%s",
                         (unsigned long long)w->count, dir, w->domain, w->thumbprint,
                         log_audit_verdict_name(w->verdict), w->reason[0] ? " (" : "", w->reason,
                         w->reason[0] ? ")" : "", rs, w->reply);
    return xasprintf("%llu session(s) %s %s refused: %s%s%s", (unsigned long long)w->count, dir,
                     w->domain, w->reason, rs, w->reply);
}

/* audit_expiry - a certificate expiring within the window: a warning */

static void audit_expiry(struct log_audit *a, const char *domain, const struct log_audit_cert *c,
                         long end_day, const char *end, bool ours)
{
    long na = c->not_after[0] ? log_read_day(c->not_after, false) : -1;

    if (na < 0 || end_day < 0 || na > end_day + (long)a->opts.expiry_days)
        return;
    struct log_audit_warning *w = audit_warn_new(a, LOG_AUDIT_W_CERT_EXPIRES, domain, c->last_seen);

    w->days_left = na - end_day;
    w->ours = ours;
    w->inbound = c->inbound;
    w->count = c->sessions;
    snprintf(w->first, sizeof(w->first), "%s", c->first_seen);
    audit_set(&w->thumbprint, c->thumbprint);
    free(w->sids.v);
    w->sids.v = NULL;
    w->sids.n = 0;
    for (size_t i = 0; i < c->sids.n; i++) {
        w->sids.v = xrealloc(w->sids.v, (i + 1) * sizeof(*w->sids.v));
        memcpy(w->sids.v[i], c->sids.v[i], 17);
    }
    w->sids.n = c->sids.n;
    w->sids.total = c->sids.total;
    w->text = xasprintf("%s certificate %s (subject %s) %s %s: %ld days %s %.10s",
                        ours ? "our" : domain, c->thumbprint, c->subject,
                        na < end_day ? "expired" : "expires", c->not_after,
                        na < end_day ? end_day - na : na - end_day,
                        na < end_day ? "before" : "after", end);
}

/* audit_changes - CERT_CHANGED: a partner's accepted certificates of one direction, in order */

static void audit_changes(struct log_audit *a, struct log_audit_partner *p)
{
    for (size_t i = 0; i < p->ncerts; i++) {
        const struct log_audit_cert *c = &p->certs[i], *prev = NULL;

        if (c->verdict != LOG_AUDIT_V_ACCEPTED)
            continue;
        for (size_t j = i; j-- > 0 && prev == NULL;)
            if (p->certs[j].inbound == c->inbound && p->certs[j].verdict == LOG_AUDIT_V_ACCEPTED)
                prev = &p->certs[j];
        if (prev == NULL || strcmp(prev->thumbprint, c->thumbprint) == 0)
            continue;
        struct log_audit_warning *w = audit_warn_new(a, LOG_AUDIT_W_CERT_CHANGED, p->domain,
                                                     c->first_seen);

        w->inbound = c->inbound;
        audit_set(&w->thumbprint, c->thumbprint);
        w->text = xasprintf("%s presented a new %s certificate %s (subject %s), replacing %s",
                            p->domain, c->inbound ? "client" : "server", c->thumbprint,
                            c->subject, prev->thumbprint);
    }
}

/* audit_warn_cmp - warnings by time, then kind and domain */

static int audit_warn_cmp(const void *x, const void *y)
{
    const struct log_audit_warning *v = x, *w = y;
    int c = strcmp(v->time, w->time);

    if (c == 0)
        c = (int)v->kind - (int)w->kind;
    return c ? c : strcmp(v->domain, w->domain);
}

/* log__audit_warnings - the other warnings, every text, in time order */

void log__audit_warnings(struct log_audit *a, const char *end)
{
    struct log_audit_result *r = &a->res;
    long end_day = log_read_day(end, false);

    for (size_t i = 0; i < r->nwarnings; i++) {
        struct log_audit_warning *w = &r->warnings[i];

        log__audit_sids_sort(&w->sids);
        if (w->text == NULL)
            w->text = audit_refusal_text(w);
    }
    for (size_t k = 0; k < r->npartners; k++) {
        struct log_audit_partner *p = &r->partners[k];
        struct audit_partner *ap = NULL;

        for (size_t i = 0; i < a->npartners && ap == NULL; i++)
            if (a->partners[i].p.domain == p->domain)
                ap = &a->partners[i];
        audit_changes(a, p);
        for (size_t i = 0; i < p->ncerts; i++) {
            bool dup = p->certs[i].verdict == LOG_AUDIT_V_EXPIRED;

            for (size_t j = 0; j < i && !dup; j++)  /* one per certificate */
                dup = p->certs[j].inbound == p->certs[i].inbound
                    && strcmp(p->certs[j].thumbprint, p->certs[i].thumbprint) == 0;
            if (!dup)
                audit_expiry(a, p->domain, &p->certs[i], end_day, end, false);
        }
        for (int in = 1; ap != NULL && in >= 0; in--) {
            uint64_t n = in ? ap->unsecured_in : ap->unsecured_out;
            struct log_audit_listed l = in ? p->listed_in : p->listed_out;

            if (n == 0 || !l.then)
                continue;
            struct log_audit_warning *w = audit_warn_new(a, LOG_AUDIT_W_NOT_SECURED, p->domain,
                                                         in ? ap->unsecured_in_at : ap->unsecured_out_at);

            w->count = n;
            w->inbound = in;
            w->listed = l;
            w->text = xasprintf("%llu message(s) %s listed domain %s were not domain-secured%s",
                                (unsigned long long)n, in ? "from" : "to", p->domain,
                                l.from_today ? " (listed by today's configuration: the logs "
                                "do not say whether it was listed then)" : "");
        }
    }
    for (size_t i = 0; i < r->nown_certs; i++)
        audit_expiry(a, "", &r->own_certs[i], end_day, end, true);
    if (r->nwarnings > 1)
        qsort(r->warnings, r->nwarnings, sizeof(*r->warnings), audit_warn_cmp);
}

/* log__audit_warnings_free - free the result's warnings */

void log__audit_warnings_free(struct log_audit_result *r)
{
    for (size_t i = 0; i < r->nwarnings; i++) {
        free(r->warnings[i].text);
        free(r->warnings[i].reply);
        free(r->warnings[i].reason);
        free(r->warnings[i].thumbprint);
        free(r->warnings[i].sids.v);
    }
    free(r->warnings);
}
