/*
 * log_audit_result.c - closing the audit's books (SPEC 5.3): every
 * session's certificate and decisions attributed to its domains, the
 * partners told from the rest, totals, lists now and then, the chart
 * buckets, the report's metadata, and freeing it all.  The rules are in
 * log_audit.c's header.
 *
 * CONTRACT
 *  log_audit_finish() may be called once (later calls return the same
 *  result); the result and every string in it are owned by the audit
 *  until log_audit_free(), except the metadata strings of the options
 *  (host, version, paths), which are the caller's.  No callbacks;
 *  allocation failure aborts (xmalloc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "log_int.h"

/* audit_partner_cmp - partners by domain */

static int audit_partner_cmp(const void *x, const void *y)
{
    const struct log_audit_partner *c = x, *d = y;

    return strcmp(c->domain, d->domain);
}

/* audit_cert_cmp - certificates by first seen */

static int audit_cert_cmp(const void *x, const void *y)
{
    const struct log_audit_cert *c = x, *d = y;

    return strcmp(c->first_seen, d->first_seen);
}

/* audit_refused - a refused decision: counts, its bucket, its warning */

static void audit_refused(struct log_audit *a, struct audit_sess *s, int i, const struct log_audit_cert *rec)
{
    struct audit_partner *ap = &a->partners[s->dom[i]];
    const struct audit_dec *d = &s->dec[i];
    bool in = s->kind == LOG_READ_RECV;
    struct log_field date = { (char *)d->time, strlen(d->time) };
    bool cert = rec != NULL && rec->verdict != LOG_AUDIT_V_ACCEPTED
        && rec->verdict != LOG_AUDIT_V_NO_DECISION;

    *(in ? &ap->p.sessions_in_refused : &ap->p.sessions_out_refused) += 1;
    log__audit_bucket(&a->hours, &date, AUDIT_C_REFUSED);
    log__audit_bucket(&ap->hours, &date, AUDIT_C_REFUSED);
    log__audit_warn_event(a, &(struct audit_event){
        .kind = cert ? LOG_AUDIT_W_CERT_REFUSED : LOG_AUDIT_W_REFUSED, .ap = ap, .inbound = in,
        .thumbprint = cert ? rec->thumbprint : "", .verdict = cert ? rec->verdict : LOG_AUDIT_V_COUNT,
        .reason = cert ? rec->reason : d->rule, .reply = d->reply, .time = d->time, .sid = s->sid,
        .listed = { .then = true } });
}

/* audit_session_cert - the session's certificate into domain slot i's records */

static const struct log_audit_cert *audit_session_cert(struct log_audit *a, struct audit_sess *s, int i)
{
    struct audit_partner *ap = &a->partners[s->dom[i]];
    const struct audit_dec *d = s->dec ? &s->dec[i] : NULL;
    bool in = s->kind == LOG_READ_RECV, decided = d && (d->secured || d->refused);
    enum log_audit_verdict v = log__audit_cert_verdict(s->cert, decided ? d : NULL);
    struct log_audit_cert *rec = log__audit_cert_add(&ap->p.certs, &ap->p.ncerts, &ap->certs_cap,
                                                     s->cert, in, v);

    if (rec->reason == NULL)
        rec->reason = log__audit_cert_reason(s->cert, v, ap->p.domain, in);
    if (rec->reply[0] == '\0' && d && d->reply) {
        free(rec->reply);
        rec->reply = xstrdup(d->reply);
    }
    rec->listed.then |= decided;        /* a verdict row: listed then */
    log__audit_sids_add(&rec->sids, s->sid);
    if (in || decided)                  /* a client certificate, or a listed server's */
        ap->p.presented = true;
    return rec;
}

/* audit_close_sessions - attribute every session to its partners */

static void audit_close_sessions(struct log_audit *a)
{
    for (size_t k = 0; k < a->sess_cap; k++) {
        struct audit_sess *s = &a->sess[k];

        if (!s->used)
            continue;
        a->res.sessions++;
        if (s->internal) {
            a->res.total_internal.sessions_in++;
            continue;
        }
        for (int i = 0; i < s->ndom; i++) {
            struct audit_partner *ap = &a->partners[s->dom[i]];
            bool sec = s->dec && s->dec[i].secured;
            const char *tls = s->tls[0] ? s->tls : "none";
            const struct log_audit_cert *rec = NULL;

            if (s->kind == LOG_READ_RECV) {
                ap->p.sessions_in++;
                ap->p.sessions_in_secured += sec;
            } else {
                ap->p.sessions_out++;
                ap->p.sessions_out_secured += sec;
            }
            log__audit_count_add(&ap->p.tls, &ap->p.ntls, tls, strlen(tls));
            if (s->tls_error) {
                char *why = xasprintf("TLS negotiation failed: %s", s->tls_error);

                log__audit_count_add(&ap->p.failures, &ap->p.nfailures, why, strlen(why));
                free(why);
            }
            if (s->cert && s->cert->thumbprint)
                rec = audit_session_cert(a, s, i);
            if (s->dec && s->dec[i].refused)
                audit_refused(a, s, i, rec);
        }
    }
}

/* audit_buckets - hours, or days when the events span more than 2 days */

static void audit_buckets(struct log_audit *a)
{
    struct log_audit_result *r = &a->res;
    const struct audit_hours *h = &a->hours;

    r->bucket_unit = "hour";
    if (h->n == 0)
        return;
    long d0 = log_read_day(h->v[0].label, false);
    long d1 = log_read_day(h->v[h->n - 1].label, false);

    r->buckets = xcalloc(h->n, sizeof(*r->buckets));
    if (d1 - d0 < 2) {
        memcpy(r->buckets, h->v, h->n * sizeof(*r->buckets));
        r->nbuckets = h->n;
        return;
    }
    r->bucket_unit = "day";
    for (size_t i = 0; i < h->n; i++) {
        if (r->nbuckets == 0 || memcmp(r->buckets[r->nbuckets - 1].label, h->v[i].label, 10) != 0)
            memcpy(r->buckets[r->nbuckets++].label, h->v[i].label, 10);
        r->buckets[r->nbuckets - 1].secured += h->v[i].secured;
        r->buckets[r->nbuckets - 1].not_secured += h->v[i].not_secured;
        r->buckets[r->nbuckets - 1].refused += h->v[i].refused;
    }
}

/* audit_partner_buckets - a partner's hours on the result's buckets */

static struct log_audit_bucket *audit_partner_buckets(const struct log_audit_result *r,
                                                      const struct audit_hours *h)
{
    struct log_audit_bucket *b = xcalloc(r->nbuckets ? r->nbuckets : 1, sizeof(*b));
    size_t len = strcmp(r->bucket_unit, "day") == 0 ? 10 : 13, j = 0;

    for (size_t i = 0; i < r->nbuckets; i++)
        memcpy(b[i].label, r->buckets[i].label, sizeof(b[i].label));
    for (size_t i = 0; i < h->n; i++) {
        while (j < r->nbuckets && memcmp(r->buckets[j].label, h->v[i].label, len) < 0)
            j++;
        if (j == r->nbuckets)
            break;
        b[j].secured += h->v[i].secured;
        b[j].not_secured += h->v[i].not_secured;
        b[j].refused += h->v[i].refused;
    }
    return b;
}

/* audit_total_add - a partner's counts into a total */

static void audit_total_add(struct log_audit_totals *t, const struct log_audit_partner *p)
{
    t->sessions_in += p->sessions_in;
    t->sessions_in_secured += p->sessions_in_secured;
    t->sessions_out += p->sessions_out;
    t->sessions_out_secured += p->sessions_out_secured;
    t->messages_in += p->messages_in;
    t->messages_in_secured += p->messages_in_secured;
    t->messages_out += p->messages_out;
    t->messages_out_secured += p->messages_out_secured;
    t->refused += p->sessions_in_refused + p->sessions_out_refused;
}

/* audit_strv - a sorted owned copy of a list of strings (lowercase) */

static char **audit_strv(const char *const *v, size_t n)
{
    char **out = xcalloc(n ? n : 1, sizeof(*out));

    for (size_t i = 0; i < n; i++) {
        out[i] = xstrdup(v[i]);
        for (char *c = out[i]; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    }
    return out;
}

/* audit_note - append a line for people */

static void audit_note(struct log_audit_result *r, char *text)
{
    r->notes = xrealloc(r->notes, (r->nnotes + 1) * sizeof(*r->notes));
    r->notes[r->nnotes++] = text;
}

/* audit_partition - partners (listed then, or presented a certificate) and the rest */

static void audit_partition(struct log_audit *a)
{
    struct log_audit_result *r = &a->res;
    const char **then_in = xcalloc(a->npartners + 1, sizeof(*then_in));
    const char **then_out = xcalloc(a->npartners + 1, sizeof(*then_out));
    size_t nin = 0, nout = 0;

    r->partners = xcalloc(a->npartners + 1, sizeof(*r->partners));
    r->others = xcalloc(a->npartners + 1, sizeof(*r->others));
    for (size_t k = 0; k < a->npartners; k++) {
        struct audit_partner *ap = &a->partners[k];
        struct log_audit_partner *p = &ap->p;
        bool now_in = a->opts.listed_known ? p->listed_in_now : ap->inferred;
        bool now_out = a->opts.listed_known ? p->listed_out_now : ap->inferred;

        p->listed_in.then = ap->then_in || (ap->today_in && now_in);
        p->listed_in.from_today = !ap->then_in && ap->today_in;
        p->listed_out.then = ap->then_out || (ap->today_out && now_out);
        p->listed_out.from_today = !ap->then_out && ap->today_out;
        p->listed = p->listed_in.then || p->listed_out.then;
        if (ap->then_in)
            then_in[nin++] = p->domain;
        if (ap->then_out)
            then_out[nout++] = p->domain;
        if (a->opts.domain && strcasecmp(a->opts.domain, p->domain) != 0)
            continue;
        if (!p->ours && (p->listed || p->presented))
            r->partners[r->npartners++] = *p;
        else
            r->others[r->nothers++] = *p;
    }
    r->listed_then.recv = audit_strv(then_in, nin);
    r->listed_then.nrecv = nin;
    r->listed_then.send = audit_strv(then_out, nout);
    r->listed_then.nsend = nout;
    free(then_in);
    free(then_out);
    qsort(r->partners, r->npartners, sizeof(*r->partners), audit_partner_cmp);
    qsort(r->others, r->nothers, sizeof(*r->others), audit_partner_cmp);
    for (size_t i = 0; i < r->npartners; i++)
        audit_total_add(&r->total_partners, &r->partners[i]);
    for (size_t i = 0; i < r->nothers; i++)
        audit_total_add(&r->total_others, &r->others[i]);
}

/* audit_partner_state - the audit's record of a result partner */

static struct audit_partner *audit_partner_state(struct log_audit *a, const char *domain)
{
    for (size_t i = 0; i < a->npartners; i++)
        if (a->partners[i].p.domain == domain)
            return &a->partners[i];
    return NULL;
}

/* audit_filter_warnings - only the partner asked for (--partner): drop the rest */

static void audit_filter_warnings(struct log_audit *a)
{
    struct log_audit_result *r = &a->res;
    size_t n = 0;

    if (a->opts.domain == NULL)
        return;
    for (size_t i = 0; i < r->nwarnings; i++) {
        if (strcasecmp(r->warnings[i].domain, a->opts.domain) == 0) {
            r->warnings[n++] = r->warnings[i];
            continue;
        }
        free(r->warnings[i].text);
        free(r->warnings[i].reply);
        free(r->warnings[i].reason);
        free(r->warnings[i].thumbprint);
        free(r->warnings[i].sids.v);
    }
    r->nwarnings = n;
}

/* audit_metadata - when, by what, over what */

static void audit_metadata(struct log_audit *a)
{
    struct log_audit_result *r = &a->res;

    if (a->opts.now != NULL) {
        snprintf(r->generated, sizeof(r->generated), "%s", a->opts.now);
    } else {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        log_csv_time((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, r->generated);
    }
    r->host = a->opts.host ? a->opts.host : "";
    r->version = a->opts.version ? a->opts.version : "";
    r->paths = a->opts.paths;
    r->npaths = a->opts.npaths;
    memcpy(r->first_row, a->first, sizeof(r->first_row));
    memcpy(r->last_row, a->last, sizeof(r->last_row));
    r->listed_from_config = a->opts.listed_known;
    r->lists_now.recv = audit_strv(a->opts.recv_listed, a->opts.nrecv_listed);
    r->lists_now.nrecv = a->opts.nrecv_listed;
    r->lists_now.send = audit_strv(a->opts.send_listed, a->opts.nsend_listed);
    r->lists_now.nsend = a->opts.nsend_listed;
    if (!a->opts.listed_known)
        audit_note(r, xstrdup("No configuration was loaded: the domain-secure lists of today are "
                              "unknown; where the logs do not say whether a domain was listed, "
                              "it counts as listed when it had domain-secured traffic."));
    if (r->nconfigs)
        audit_note(r, xasprintf("The logs record %zu configuration(s) of the domain-secure lists "
                                "(CONFIG rows at start and reload), the first at %s: messages "
                                "without a session are judged by the one then in force.",
                                r->nconfigs, r->configs[0].time));
    if (a->today_events) {
        r->history_incomplete = true;
        audit_note(r, xasprintf("%llu message(s) have no protocol log session and no recorded "
                                "configuration before them in the logs read (no record of "
                                "whether their domain was listed then): judged by %s.",
                                (unsigned long long)a->today_events,
                                a->opts.listed_known ? "today's configuration"
                                : "domain-secured traffic"));
    }
}

/* log_audit_finish - the result */

const struct log_audit_result *log_audit_finish(struct log_audit *a)
{
    struct log_audit_result *r = &a->res;
    char end[LOG_READ_TSLEN + 1];

    if (a->finished)
        return r;
    a->finished = true;
    if (log_read_time_arg(a->opts.from, r->from) == 0)
        strcpy(r->from, a->first);
    if (log_read_time_arg(a->opts.to, r->to) == 0)
        strcpy(r->to, a->last);
    strcpy(end, r->to[0] ? r->to : "1970-01-01");
    log__audit_judge_messages(a);
    audit_close_sessions(a);
    for (size_t k = 0; k < a->npartners; k++)
        if (a->partners[k].p.ncerts > 1)
            qsort(a->partners[k].p.certs, a->partners[k].p.ncerts, sizeof(struct log_audit_cert),
                  audit_cert_cmp);
    if (r->nown_certs > 1)
        qsort(r->own_certs, r->nown_certs, sizeof(*r->own_certs), audit_cert_cmp);
    audit_partition(a);
    audit_metadata(a);
    log__audit_warnings(a, end);
    audit_filter_warnings(a);
    audit_buckets(a);
    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        struct log_audit_partner *p = i < r->npartners ? &r->partners[i] : &r->others[i - r->npartners];
        struct audit_partner *ap = audit_partner_state(a, p->domain);

        p->buckets = audit_partner_buckets(r, &ap->hours);
        log__audit_identity_close(p);
        for (size_t k = 0; k < p->ncerts; k++)
            log__audit_sids_sort(&p->certs[k].sids);
    }
    /* The overall chart is the partners' sum, as the HTML draws it: mail of
     * our own or unlisted domains is not expected to be domain-secured. */
    for (size_t j = 0; j < r->nbuckets; j++) {
        r->buckets[j].secured = r->buckets[j].not_secured = r->buckets[j].refused = 0;
        for (size_t i = 0; i < r->npartners; i++) {
            r->buckets[j].secured += r->partners[i].buckets[j].secured;
            r->buckets[j].not_secured += r->partners[i].buckets[j].not_secured;
            r->buckets[j].refused += r->partners[i].buckets[j].refused;
        }
    }
    for (size_t k = 0; k < r->nown_certs; k++) {
        log__audit_sids_sort(&r->own_certs[k].sids);
        if (r->own_certs[k].reason == NULL)
            r->own_certs[k].reason = xstrdup("");
    }
    return r;
}

/* log__audit_lists_free - free a pair of lists */

void log__audit_lists_free(struct log_audit_lists *l)
{
    for (size_t i = 0; i < l->nrecv; i++)
        free(l->recv[i]);
    for (size_t i = 0; i < l->nsend; i++)
        free(l->send[i]);
    free(l->recv);
    free(l->send);
}

/* log_audit_free - free the audit and its result */

void log_audit_free(struct log_audit *a)
{
    struct log_audit_result *r;

    if (a == NULL)
        return;
    r = &a->res;
    for (size_t k = 0; k < a->sess_cap; k++) {
        struct audit_sess *s = &a->sess[k];

        if (!s->used)
            continue;
        log__audit_cert_seen_free(s->cert);
        log__audit_cert_seen_free(s->own);
        free(s->tls_error);
        for (int i = 0; s->dec && i < s->ndom; i++) {
            free(s->dec[i].rule);
            free(s->dec[i].reply);
        }
        free(s->dec);
        free(s->dom);
    }
    free(a->sess);
    for (size_t k = 0; k < a->npartners; k++) {
        struct audit_partner *ap = &a->partners[k];
        struct log_audit_partner *p = &ap->p;

        for (size_t i = 0; i < p->nfailures; i++)
            free(p->failures[i].name);
        for (size_t i = 0; i < p->ntls; i++)
            free(p->tls[i].name);
        for (size_t i = 0; i < p->npolicies; i++)
            free(p->policies[i].name);
        free(p->policies);
        log__audit_identity_free(p);
        log__audit_certs_free(p->certs, p->ncerts);    /* shared with the result's copy */
        free(p->failures);
        free(p->tls);
        free(p->domain);
        free(ap->hours.v);
    }
    for (size_t i = 0; i < r->npartners; i++)       /* made for the result's copies only */
        free(r->partners[i].buckets);
    for (size_t i = 0; i < r->nothers; i++)
        free(r->others[i].buckets);
    free(a->partners);
    free(a->pidx);
    free(a->hours.v);
    free(a->pending);
    log__audit_warnings_free(r);
    log__audit_certs_free(r->own_certs, r->nown_certs);
    for (size_t i = 0; i < r->nnotes; i++)
        free(r->notes[i]);
    free(r->notes);
    log__audit_lists_free(&r->lists_now);
    log__audit_lists_free(&r->listed_then);
    for (size_t i = 0; i < r->nconfigs; i++)
        log__audit_lists_free(&r->configs[i].lists);
    free(r->configs);
    free(r->partners);
    free(r->others);
    free(r->buckets);
    free(a);
}
