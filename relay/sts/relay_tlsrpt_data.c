/*
 * relay_tlsrpt_data.c - a day's TLS results as data, and the RFC 8460
 * report made of them.
 *
 * A day is one jansson object, the same in memory and on disk (DAY.json):
 *
 *   {"day": "2026-12-07",
 *    "policies": [ {RFC 8460 4.4 policies[] element}, ... ]}
 *
 * so a report for domain D is the header fields plus the elements whose
 * policy-domain is D, copied: nothing is translated twice.
 *
 * CONTRACT
 *  Pure: no I/O, no globals, no callbacks.  Inputs are borrowed for the
 *  call; every json_t returned is a new reference owned by the caller.
 *  Allocation failure aborts (x-allocators; jansson's through
 *  json_set_alloc_funcs is not changed, a NULL from it is log_panic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "relay_tlsrpt.h"

static const char *const tlsrpt_type_name[] = {
    [TLSRPT_STS] = "sts",
    [TLSRPT_TLSA] = "tlsa",
    [TLSRPT_NO_POLICY] = "no-policy-found",
};

/* tlsrpt_need - a jansson result that cannot be NULL but for memory */

static json_t *tlsrpt_need(json_t *j)
{
    if (j == NULL)
        log_panic("tlsrpt", "out of memory (jansson)");
    return j;
}

/* relay_tlsrpt_type_name - RFC 8460 policy-type of t */

const char *relay_tlsrpt_type_name(enum tlsrpt_policy t)
{
    return (unsigned)t < sizeof(tlsrpt_type_name) / sizeof(tlsrpt_type_name[0])
        ? tlsrpt_type_name[t] : "no-policy-found";
}

/* relay_tlsrpt_names - directory and report names of cfg */

void relay_tlsrpt_names(const struct config *cfg, struct relay_tlsrpt_names *n)
{
    const struct cfg_transport *tr = &cfg->transport;
    const char *host = cfg->nsend > 0 ? cfg->send[0].fqdn
                       : cfg->nreceive > 0 ? cfg->receive[0].fqdn : "localhost";

    n->dir = tr->tlsrpt_directory ? xstrdup(tr->tlsrpt_directory)
             : xasprintf("%s/tlsrpt", tr->queue_directory);
    n->submitter = xstrdup(host);
    n->org = xstrdup(tr->tlsrpt_organization_name ? tr->tlsrpt_organization_name : host);
    n->contact = tr->tlsrpt_contact_info ? xstrdup(tr->tlsrpt_contact_info)
                 : xasprintf("postmaster@%s", host);
    n->sender = tr->tlsrpt_sender ? xstrdup(tr->tlsrpt_sender) : xasprintf("postmaster@%s", host);
    n->ca_file = tr->mta_sts_trusted_ca_file ? xstrdup(tr->mta_sts_trusted_ca_file) : NULL;
}

void relay_tlsrpt_names_free(struct relay_tlsrpt_names *n)
{
    free(n->dir);
    free(n->org);
    free(n->contact);
    free(n->sender);
    free(n->submitter);
    free(n->ca_file);
}

/* relay_tlsrpt_day_name - "YYYY-MM-DD" of the UTC day holding unix time t */

void relay_tlsrpt_day_name(int64_t t, char out[11])
{
    time_t secs = (time_t)t;
    struct tm tm;

    gmtime_r(&secs, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* relay_tlsrpt_day_start - unix time of 00:00:00Z of day "YYYY-MM-DD"; -1 if malformed */

int64_t relay_tlsrpt_day_start(const char *day)
{
    struct tm tm = { 0 };
    char back[11];

    if (strlen(day) != 10 || sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm);
    relay_tlsrpt_day_name(t, back);
    return strcmp(back, day) == 0 ? t : -1;    /* 2026-02-30 and "2026-1-1x" are not days */
}

/* relay_tlsrpt_day_new - an empty day */

json_t *relay_tlsrpt_day_new(const char *day)
{
    return tlsrpt_need(json_pack("{s:s, s:[]}", "day", day, "policies"));
}

/* tlsrpt_strs - a JSON array of v[0..n) */

static json_t *tlsrpt_strs(const char *const *v, size_t n)
{
    json_t *a = tlsrpt_need(json_array());

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, tlsrpt_need(json_string(v[i])));
    return a;
}

/* tlsrpt_policy_entry - day's policies[] element whose policy equals pol, made if new */

static json_t *tlsrpt_policy_entry(json_t *day, json_t *pol)
{
    json_t *pols = json_object_get(day, "policies"), *e;
    size_t i;

    for (i = 0; i < json_array_size(pols); i++)
        if (json_equal(json_object_get(e = json_array_get(pols, i), "policy"), pol))
            return e;
    e = tlsrpt_need(json_pack("{s:O, s:{s:I, s:I}, s:[]}", "policy", pol, "summary",
                              "total-successful-session-count", (json_int_t)0,
                              "total-failure-session-count", (json_int_t)0, "failure-details"));
    json_array_append_new(pols, e);
    return e;
}

/* tlsrpt_add - add n to the integer member key of o */

static void tlsrpt_add(json_t *o, const char *key, json_int_t n)
{
    json_object_set_new(o, key, tlsrpt_need(json_integer(json_integer_value(json_object_get(o, key)) + n)));
}

/* tlsrpt_detail_add - add n sessions to the failure detail of e equal to key (all but the count) */

static void tlsrpt_detail_add(json_t *e, const json_t *key, json_int_t n)
{
    json_t *fd = json_object_get(e, "failure-details"), *d;
    size_t i;

    for (i = 0; i < json_array_size(fd); i++) {
        d = json_array_get(fd, i);
        bool same = json_object_size(d) == json_object_size(key) + 1;

        for (void *it = json_object_iter((json_t *)key); same && it != NULL;
             it = json_object_iter_next((json_t *)key, it))
            same = json_equal(json_object_get(d, json_object_iter_key(it)), json_object_iter_value(it));
        if (same) {
            tlsrpt_add(d, "failed-session-count", n);
            return;
        }
    }
    d = tlsrpt_need(json_deep_copy(key));
    json_object_set_new(d, "failed-session-count", tlsrpt_need(json_integer(n)));
    json_array_append_new(fd, d);
}

/* relay_tlsrpt_day_add - count one result of r (with its policy p) in day */

void relay_tlsrpt_day_add(json_t *day, const struct relay_tlsrpt_policy *p, const struct tlsrpt_result *r)
{
    static const char *const key[] = {
        "result-type", "sending-mta-ip", "receiving-mx-hostname", "receiving-ip", "failure-reason-code",
    };
    json_t *pol = tlsrpt_need(json_pack("{s:s, s:s}", "policy-type", relay_tlsrpt_type_name(p->type),
                                        "policy-domain", p->domain));
    json_t *e, *d;

    if (p->type != TLSRPT_NO_POLICY) {          /* RFC 8460 4.4: omitted for no-policy-found */
        json_object_set_new(pol, "policy-string", tlsrpt_strs(p->strings, p->nstrings));
        json_object_set_new(pol, "mx-host", tlsrpt_strs(p->mx, p->nmx));
    }
    e = tlsrpt_policy_entry(day, pol);
    json_decref(pol);
    if (r->failure == NULL) {
        tlsrpt_add(json_object_get(e, "summary"), "total-successful-session-count", 1);
        return;
    }
    tlsrpt_add(json_object_get(e, "summary"), "total-failure-session-count", 1);
    const char *val[] = { r->failure, r->sending_ip, r->mx_host, r->receiving_ip, r->detail };
    d = tlsrpt_need(json_object());
    for (size_t k = 0; k < 5; k++)
        if (val[k] != NULL)
            json_object_set_new(d, key[k], tlsrpt_need(json_string(val[k])));
    tlsrpt_detail_add(e, d, 1);
    json_decref(d);
}

/* relay_tlsrpt_day_merge - add every count of src to dst (a day read back from
 * disk and the notes made meanwhile) */

void relay_tlsrpt_day_merge(json_t *dst, const json_t *src)
{
    const json_t *e, *d;
    size_t i, j;

    for (i = 0; i < json_array_size(json_object_get(src, "policies")); i++) {
        e = json_array_get(json_object_get(src, "policies"), i);
        json_t *pol = json_object_get(e, "policy"), *sum = json_object_get(e, "summary");
        json_t *to;

        if (!json_is_object(pol) || !json_is_object(sum))
            continue;
        to = tlsrpt_policy_entry(dst, pol);
        tlsrpt_add(json_object_get(to, "summary"), "total-successful-session-count",
                   json_integer_value(json_object_get(sum, "total-successful-session-count")));
        tlsrpt_add(json_object_get(to, "summary"), "total-failure-session-count",
                   json_integer_value(json_object_get(sum, "total-failure-session-count")));
        for (j = 0; j < json_array_size(json_object_get(e, "failure-details")); j++) {
            d = json_array_get(json_object_get(e, "failure-details"), j);
            json_t *key = tlsrpt_need(json_deep_copy(d));

            json_object_del(key, "failed-session-count");
            tlsrpt_detail_add(to, key, json_integer_value(json_object_get(d, "failed-session-count")));
            json_decref(key);
        }
    }
}

/* tlsrpt_cmp - qsort comparator of char * */

static int tlsrpt_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* relay_tlsrpt_day_domains - the policy domains of day, sorted, each once (a JSON array) */

json_t *relay_tlsrpt_day_domains(const json_t *day)
{
    const json_t *pols = json_object_get(day, "policies"), *e;
    const char **v = xcalloc(json_array_size(pols) + 1, sizeof(*v));
    json_t *out = tlsrpt_need(json_array());
    size_t i, n = 0;

    for (i = 0; i < json_array_size(pols); i++) {
        e = json_array_get(pols, i);
        const char *d = json_string_value(json_object_get(json_object_get(e, "policy"), "policy-domain"));

        if (d != NULL)
            v[n++] = d;
    }
    qsort(v, n, sizeof(*v), tlsrpt_cmp);
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
            json_array_append_new(out, tlsrpt_need(json_string(v[i])));
    free(v);
    return out;
}

/* relay_tlsrpt_report_id - report-id of (day, domain) from submitter: stable, so
 * a report sent again has the same id (RFC 8460 4.4 lets us choose) */

char *relay_tlsrpt_report_id(const char *day, const char *domain, const char *submitter)
{
    char compact[9] = { 0 };

    for (size_t i = 0, k = 0; day[i] != '\0' && k < 8; i++)
        if (day[i] != '-')
            compact[k++] = day[i];
    return xasprintf("%s.%s@%s", compact, domain, submitter);
}

/* relay_tlsrpt_report - the RFC 8460 report of day for domain; NULL if day has nothing for it */

json_t *relay_tlsrpt_report(const json_t *day, const char *domain, const struct relay_tlsrpt_who *who)
{
    const char *dname = json_string_value(json_object_get(day, "day"));
    int64_t start = dname ? relay_tlsrpt_day_start(dname) : -1;
    char from[32], to[32], *id;
    json_t *pols, *e, *rep;
    size_t i;

    if (start < 0)
        return NULL;
    pols = tlsrpt_need(json_array());
    for (i = 0; i < json_array_size(json_object_get(day, "policies")); i++) {
        e = json_array_get(json_object_get(day, "policies"), i);
        const char *d = json_string_value(json_object_get(json_object_get(e, "policy"), "policy-domain"));

        if (d != NULL && strcmp(d, domain) == 0) {
            json_t *c = tlsrpt_need(json_deep_copy(e));

            if (json_array_size(json_object_get(c, "failure-details")) == 0)
                json_object_del(c, "failure-details");
            json_array_append_new(pols, c);
        }
    }
    if (json_array_size(pols) == 0) {
        json_decref(pols);
        return NULL;
    }
    log_iso_time(from, sizeof(from), start, NULL);
    log_iso_time(to, sizeof(to), start + 86399, NULL);
    id = relay_tlsrpt_report_id(dname, domain, who->submitter);
    rep = tlsrpt_need(json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:o}",
                                "organization-name", who->organization,
                                "date-range", "start-datetime", from, "end-datetime", to,
                                "contact-info", who->contact, "report-id", id, "policies", pols));
    free(id);
    return rep;
}
