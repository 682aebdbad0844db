/*
 * log_audit_index.c - the audit's lookups: partners by domain and
 * sessions by (log, id) in open-addressing hash tables, and the small
 * parsers and classifiers the rules use (address domain, session id,
 * internal connector, accepted domain, counts, hour buckets).
 *
 * CONTRACT
 *  Internal to the audit (log_int.h); one thread.  Lookups create what
 *  they do not find; pointers into the tables (struct audit_sess *) stay
 *  valid only until the next log__audit_sess_get() (the table may grow);
 *  partner indices stay valid for the audit's life.  Names are copied.
 *  Allocation failure aborts (xmalloc).  No callbacks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "log_int.h"

/* audit_hash - FNV-1a over bytes, lowercased */

static uint64_t audit_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)tolower((unsigned char)s[i])) * 1099511628211ull;
    return h;
}

/* log__audit_partner_find - the partner index of a domain, created on demand */

uint32_t log__audit_partner_find(struct log_audit *a, const char *d, size_t n)
{
    size_t mask, i;

    while (n > 0 && d[n - 1] == '.')
        n--;
    if (a->npartners * 2 >= a->pidx_cap) {
        size_t cap = a->pidx_cap ? a->pidx_cap * 2 : 64;
        uint32_t *t = xcalloc(cap, sizeof(*t));

        for (size_t k = 0; k < a->npartners; k++) {
            const char *pd = a->partners[k].p.domain;

            for (i = audit_hash(pd, strlen(pd)) & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
                ;
            t[i] = (uint32_t)k + 1;
        }
        free(a->pidx);
        a->pidx = t;
        a->pidx_cap = cap;
    }
    mask = a->pidx_cap - 1;
    for (i = audit_hash(d, n) & mask; a->pidx[i]; i = (i + 1) & mask) {
        const char *pd = a->partners[a->pidx[i] - 1].p.domain;

        if (strncasecmp(pd, d, n) == 0 && pd[n] == '\0')
            return a->pidx[i] - 1;
    }
    if (a->npartners == a->partners_cap) {
        a->partners_cap = a->partners_cap ? 2 * a->partners_cap : 16;
        a->partners = xrealloc(a->partners, a->partners_cap * sizeof(*a->partners));
    }
    struct audit_partner *p = &a->partners[a->npartners];

    memset(p, 0, sizeof(*p));
    p->p.domain = xstrndup(d, n);
    for (char *c = p->p.domain; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    for (size_t k = 0; k < a->opts.nrecv_listed; k++)
        if (strcasecmp(a->opts.recv_listed[k], p->p.domain) == 0)
            p->p.listed_in_now = true;
    for (size_t k = 0; k < a->opts.nsend_listed; k++)
        if (strcasecmp(a->opts.send_listed[k], p->p.domain) == 0)
            p->p.listed_out_now = true;
    p->p.ours = log__audit_accepted(a, p->p.domain, strlen(p->p.domain));
    a->pidx[i] = (uint32_t)a->npartners + 1;
    return (uint32_t)a->npartners++;
}

/* log__audit_addr_domain - the domain of "x@d" or "<x@d>" (NULL, 0 if none) */

const char *log__audit_addr_domain(const char *s, size_t n, size_t *dl)
{
    const char *at = NULL, *end = s + n;

    for (const char *c = s; c < end; c++) {
        if (*c == '@')
            at = c;
        else if (*c == '>' || *c == ' ')
            { end = c; break; }
    }
    if (at == NULL || at + 1 >= end)
        return *dl = 0, NULL;
    *dl = (size_t)(end - at - 1);
    return at + 1;
}

/* log__audit_internal - the connector-id "<host>\\<name>" names an internal receive connector */

bool log__audit_internal(const struct log_audit *a, const struct log_field *conn)
{
    const char *name = conn->p, *end = conn->p + conn->len;

    for (const char *c = conn->p; c < end; c++)
        if (*c == '\\')
            name = c + 1;
    for (size_t i = 0; i < a->opts.ninternal; i++) {
        size_t n = strlen(a->opts.internal_connectors[i]);

        if (n == (size_t)(end - name) && strncasecmp(name, a->opts.internal_connectors[i], n) == 0)
            return true;
    }
    return false;
}

/* log__audit_accepted - d (n bytes) is one of our accepted domains ("d" or "*.d") */

bool log__audit_accepted(const struct log_audit *a, const char *d, size_t n)
{
    for (size_t i = 0; i < a->opts.naccepted; i++) {
        const char *ad = a->opts.accepted[i];
        size_t an = strlen(ad);

        if (an == n && strncasecmp(ad, d, n) == 0)
            return true;
        if (an > 2 && ad[0] == '*' && ad[1] == '.' && n > an - 1
            && strncasecmp(d + n - (an - 1), ad + 1, an - 1) == 0)
            return true;
    }
    return false;
}

/* log__audit_sess_get - the session record for (kind, sid), created on demand */

struct audit_sess *log__audit_sess_get(struct log_audit *a, enum log_read_kind kind, uint64_t sid)
{
    size_t mask, i;

    if (a->nsess * 2 >= a->sess_cap) {
        size_t cap = a->sess_cap ? a->sess_cap * 2 : 1024;
        struct audit_sess *t = xcalloc(cap, sizeof(*t));

        for (size_t k = 0; k < a->sess_cap; k++) {
            if (!a->sess[k].used)
                continue;
            for (i = (a->sess[k].sid * 0x9E3779B97F4A7C15ull + a->sess[k].kind) & (cap - 1);
                 t[i].used; i = (i + 1) & (cap - 1))
                ;
            t[i] = a->sess[k];
        }
        free(a->sess);
        a->sess = t;
        a->sess_cap = cap;
    }
    mask = a->sess_cap - 1;
    for (i = (sid * 0x9E3779B97F4A7C15ull + kind) & mask; a->sess[i].used; i = (i + 1) & mask)
        if (a->sess[i].sid == sid && a->sess[i].kind == kind)
            return &a->sess[i];
    a->sess[i].used = 1;
    a->sess[i].sid = sid;
    a->sess[i].kind = (uint8_t)kind;
    a->sess[i].reply_slot = AUDIT_NO_SLOT;
    a->nsess++;
    return &a->sess[i];
}

/* log__audit_sess_find - an existing session, or NULL */

struct audit_sess *log__audit_sess_find(struct log_audit *a, enum log_read_kind kind, uint64_t sid)
{
    if (a->sess_cap == 0)
        return NULL;
    size_t mask = a->sess_cap - 1;

    for (size_t i = (sid * 0x9E3779B97F4A7C15ull + kind) & mask; a->sess[i].used; i = (i + 1) & mask)
        if (a->sess[i].sid == sid && a->sess[i].kind == kind)
            return &a->sess[i];
    return NULL;
}

/* log__audit_sid - parse 16 hex digits; false if not */

bool log__audit_sid(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n < 16)
        return false;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

/* log__audit_sess_domain - add a partner domain to a session; its slot */

int log__audit_sess_domain(struct log_audit *a, struct audit_sess *s, const char *d, size_t n)
{
    uint32_t pi;

    if (n == 0)
        return -1;
    pi = log__audit_partner_find(a, d, n);
    for (int i = 0; i < s->ndom; i++)
        if (s->dom[i] == pi)
            return i;
    if (s->ndom == AUDIT_SESS_DOMAINS_MAX) {      /* full: evict a slot without a decision */
        for (int i = s->ndom - 1; i >= 0; i--)
            if (s->dec == NULL || !(s->dec[i].secured || s->dec[i].refused)) {
                if (s->dec != NULL) {
                    free(s->dec[i].rule);
                    free(s->dec[i].reply);
                    memset(&s->dec[i], 0, sizeof(s->dec[i]));
                }
                s->dom[i] = pi;
                return i;
            }
        return -1;                      /* AUDIT_SESS_DOMAINS_MAX decisions */
    }
    if (s->ndom == s->domcap) {
        uint16_t cap = s->domcap ? (uint16_t)(s->domcap * 2) : 4;

        s->dom = xrealloc(s->dom, cap * sizeof(*s->dom));
        if (s->dec != NULL) {
            s->dec = xrealloc(s->dec, cap * sizeof(*s->dec));
            memset(&s->dec[s->domcap], 0, (size_t)(cap - s->domcap) * sizeof(*s->dec));
        }
        s->domcap = cap;
    }
    s->dom[s->ndom] = pi;
    return s->ndom++;
}

/* log__audit_count_add - count one name in a small list */

void log__audit_count_add(struct log_audit_count **list, size_t *n, const char *name, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strncmp((*list)[i].name, name, len) == 0 && (*list)[i].name[len] == '\0') {
            (*list)[i].count++;
            return;
        }
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[*n].name = xstrndup(name, len);
    (*list)[(*n)++].count = 1;
}

/* log__audit_bucket - count one event in its hour */

void log__audit_bucket(struct audit_hours *h, const struct log_field *date, enum audit_count what)
{
    size_t lo = 0, hi = h->n;

    if (date->len < 13)
        return;
    while (lo < hi) {                   /* binary search; mostly appends */
        size_t mid = (lo + hi) / 2;
        int c = memcmp(h->v[mid].label, date->p, 13);

        if (c == 0) {
            lo = mid;
            goto found;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    memmove(&h->v[lo + 1], &h->v[lo], (h->n - lo) * sizeof(*h->v));
    memset(&h->v[lo], 0, sizeof(*h->v));
    memcpy(h->v[lo].label, date->p, 13);
    h->n++;
found:
    if (what == AUDIT_C_SECURED)
        h->v[lo].secured++;
    else if (what == AUDIT_C_NOT_SECURED)
        h->v[lo].not_secured++;
    else
        h->v[lo].refused++;
}

/* log__audit_sids_add - a session id into a certificate's or warning's list */

void log__audit_sids_add(struct log_audit_sids *l, uint64_t sid)
{
    char hex[17];

    snprintf(hex, sizeof(hex), "%016llX", (unsigned long long)sid);
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->v[i], hex, 17) == 0)
            return;
    l->total++;
    if (l->n < LOG_AUDIT_SIDS_MAX) {
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        memcpy(l->v[l->n++], hex, 17);
        return;
    }
    /* Keep the lowest ids (sessions ids grow with time: the first ones). */
    size_t hi = 0;

    for (size_t i = 1; i < l->n; i++)
        if (memcmp(l->v[i], l->v[hi], 17) > 0)
            hi = i;
    if (memcmp(hex, l->v[hi], 17) < 0)
        memcpy(l->v[hi], hex, 17);
}

/* sids_cmp - session ids in order */

static int sids_cmp(const void *x, const void *y)
{
    return memcmp(x, y, 17);
}

/* log__audit_sids_sort - a list's ids in order (in time order: ids grow) */

void log__audit_sids_sort(struct log_audit_sids *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), sids_cmp);
}
