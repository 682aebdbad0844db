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
    n->private_ok = tr->tlsrpt_private_addresses;
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

/*
 * Every string a day keeps is made safe first (tlsrpt_safe): the inputs
 * carry peer text (an MX's STARTTLS reply, a fetched policy, bytes cut by
 * a fixed-size buffer), and jansson refuses what is not valid UTF-8.  A
 * valid UTF-8 sequence of a printable character is kept; any other byte
 * (controls, stray or cut sequences, overlongs, surrogates) becomes '?',
 * and the copy stops at TLSRPT_MAX_STR bytes without cutting a sequence.
 */
#define TLSRPT_MAX_STR      1000        /* a kept string's bytes, at most */

/* tlsrpt_utf8_len - length of the valid UTF-8 sequence of a printable
 * character at p (n bytes left), or 0 */

static size_t tlsrpt_utf8_len(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t  len;

    if (p[0] < 0x80)
        return p[0] >= 0x20 && p[0] < 0x7f;
    len = log_utf8_len(p, n, &cp);
    return len == 0 || (cp >= 0x80 && cp < 0xa0) ? 0 : len;    /* not a C1 control */
}

/* relay__tlsrpt_safe - s as printable valid UTF-8, at most max bytes (xmalloc'ed) */

char *relay__tlsrpt_safe(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, k = 0, len;
    char *out = xmalloc((n < max ? n : max) + 1);

    while (i < n) {
        len = tlsrpt_utf8_len(p + i, n - i);
        if (k + (len ? len : 1) > max)
            break;
        if (len == 0) {
            out[k++] = '?';
            i++;
        } else {
            memcpy(out + k, p + i, len);
            k += len;
            i += len;
        }
    }
    out[k] = '\0';
    return out;
}

/* tlsrpt_str - a JSON string of s, made safe */

static json_t *tlsrpt_str(const char *s)
{
    char *c = relay__tlsrpt_safe(s, TLSRPT_MAX_STR);
    json_t *j = tlsrpt_need(json_string(c));

    free(c);
    return j;
}

/* tlsrpt_strs - a JSON array of v[0..n), each made safe */

static json_t *tlsrpt_strs(const char *const *v, size_t n)
{
    json_t *a = tlsrpt_need(json_array());

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, tlsrpt_str(v[i]));
    return a;
}

/*
 * The index: a note or a merge finds its policy and its failure detail in
 * constant time, not by scanning the day.  It lives in the day object
 * under TLSRPT_INDEX (never written: relay_tlsrpt_day_text leaves it out;
 * a day read back gets it at its first use), as
 *   {"KEY-OF-POLICY": entry, "KEY-OF-POLICY\nKEY-OF-DETAIL": detail}
 * where a key is the compact, key-sorted JSON text of the policy / of the
 * detail without its count: the same references as in "policies".
 *
 * Failure details are capped: a policy keeps at most TLSRPT_MAX_DETAILS
 * distinct ones; the sessions of any further one are counted in one
 * detail per result-type whose failure-reason-code says so (every session
 * is still counted, in the summary and in some detail).
 */
#define TLSRPT_INDEX        "index"
#define TLSRPT_MAX_DETAILS  100
#define TLSRPT_FOLDED       "other failures: more distinct details than this report keeps"

/* tlsrpt_key - the index key of j (+ "\n" + the key of sub, if any); xmalloc'ed */

static char *tlsrpt_key(const json_t *j, const char *prefix)
{
    char *k = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY), *out;

    if (k == NULL)
        log_panic("tlsrpt", "out of memory (json_dumps)");
    if (prefix == NULL)
        return k;
    out = xasprintf("%s\n%s", prefix, k);
    free(k);
    return out;
}

/* tlsrpt_index - day's index, built from its policies if it has none yet */

static json_t *tlsrpt_index(json_t *day)
{
    json_t *ix = json_object_get(day, TLSRPT_INDEX), *pols = json_object_get(day, "policies");

    if (ix != NULL)
        return ix;
    ix = tlsrpt_need(json_object());
    json_object_set_new(day, TLSRPT_INDEX, ix);
    for (size_t i = 0; i < json_array_size(pols); i++) {
        json_t *e = json_array_get(pols, i), *fd = json_object_get(e, "failure-details");
        char *pk = tlsrpt_key(json_object_get(e, "policy"), NULL);

        if (json_object_get(ix, pk) == NULL)       /* a duplicate on disk: the first counts */
            json_object_set(ix, pk, e);
        for (size_t j = 0; j < json_array_size(fd); j++) {
            json_t *d = json_array_get(fd, j), *key = tlsrpt_need(json_deep_copy(d));
            char *dk;

            json_object_del(key, "failed-session-count");
            dk = tlsrpt_key(key, pk);
            if (json_object_get(ix, dk) == NULL)
                json_object_set(ix, dk, d);
            free(dk);
            json_decref(key);
        }
        free(pk);
    }
    return ix;
}

/* tlsrpt_policy_entry - day's policies[] element whose policy equals pol, made if
 * new; *pk gets its index key (xmalloc'ed) */

static json_t *tlsrpt_policy_entry(json_t *day, json_t *pol, char **pk)
{
    json_t *ix = tlsrpt_index(day), *e;

    *pk = tlsrpt_key(pol, NULL);
    if ((e = json_object_get(ix, *pk)) != NULL)
        return e;
    e = tlsrpt_need(json_pack("{s:O, s:{s:I, s:I}, s:[]}", "policy", pol, "summary",
                              "total-successful-session-count", (json_int_t)0,
                              "total-failure-session-count", (json_int_t)0, "failure-details"));
    json_array_append_new(json_object_get(day, "policies"), e);
    json_object_set(ix, *pk, e);
    return e;
}

/* tlsrpt_add - add n to the integer member key of o */

static void tlsrpt_add(json_t *o, const char *key, json_int_t n)
{
    json_object_set_new(o, key, tlsrpt_need(json_integer(json_integer_value(json_object_get(o, key)) + n)));
}

/* tlsrpt_detail_add - add n sessions to the failure detail key (all but the
 * count) of entry e (index key pk) of day; past the cap, to its folded one */

static void tlsrpt_detail_add(json_t *day, json_t *e, const char *pk, const json_t *key, json_int_t n)
{
    json_t *ix = tlsrpt_index(day), *fd = json_object_get(e, "failure-details"), *d;
    json_t *folded = NULL;
    char *dk = tlsrpt_key(key, pk);

    if ((d = json_object_get(ix, dk)) == NULL && json_array_size(fd) >= TLSRPT_MAX_DETAILS) {
        const char *type = json_string_value(json_object_get(key, "result-type"));

        folded = tlsrpt_need(json_pack("{s:s, s:s}", "result-type", type ? type : "validation-failure",
                                       "failure-reason-code", TLSRPT_FOLDED));
        free(dk);
        dk = tlsrpt_key(folded, pk);
        key = folded;                   /* a folded detail is past the cap itself */
        d = json_object_get(ix, dk);
    }
    if (d != NULL) {
        tlsrpt_add(d, "failed-session-count", n);
    } else {
        d = tlsrpt_need(json_deep_copy(key));
        json_object_set_new(d, "failed-session-count", tlsrpt_need(json_integer(n)));
        json_array_append_new(fd, d);
        json_object_set(ix, dk, d);
    }
    json_decref(folded);
    free(dk);
}

/* relay_tlsrpt_day_add - count one result of r (with its policy p) in day */

void relay_tlsrpt_day_add(json_t *day, const struct relay_tlsrpt_policy *p, const struct tlsrpt_result *r)
{
    static const char *const key[] = {
        "result-type", "sending-mta-ip", "receiving-mx-hostname", "receiving-ip", "failure-reason-code",
    };
    json_t *pol = tlsrpt_need(json_pack("{s:s, s:o}", "policy-type", relay_tlsrpt_type_name(p->type),
                                        "policy-domain", tlsrpt_str(p->domain)));
    json_t *e, *d;
    char *pk;

    /* RFC 8460 4.4: omitted for no-policy-found, and when no policy was had
     * (an sts-policy-fetch-error, say: strings NULL) */
    if (p->type != TLSRPT_NO_POLICY && p->strings != NULL) {
        json_object_set_new(pol, "policy-string", tlsrpt_strs(p->strings, p->nstrings));
        json_object_set_new(pol, "mx-host", tlsrpt_strs(p->mx, p->nmx));
    }
    e = tlsrpt_policy_entry(day, pol, &pk);
    json_decref(pol);
    if (r->failure == NULL) {
        tlsrpt_add(json_object_get(e, "summary"), "total-successful-session-count", 1);
        free(pk);
        return;
    }
    tlsrpt_add(json_object_get(e, "summary"), "total-failure-session-count", 1);
    const char *val[] = { r->failure, r->sending_ip, r->mx_host, r->receiving_ip, r->detail };
    d = tlsrpt_need(json_object());
    for (size_t k = 0; k < 5; k++)
        if (val[k] != NULL)
            json_object_set_new(d, key[k], tlsrpt_str(val[k]));
    tlsrpt_detail_add(day, e, pk, d, 1);
    json_decref(d);
    free(pk);
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
        char *pk;

        if (!json_is_object(pol) || !json_is_object(sum))
            continue;
        to = tlsrpt_policy_entry(dst, pol, &pk);
        tlsrpt_add(json_object_get(to, "summary"), "total-successful-session-count",
                   json_integer_value(json_object_get(sum, "total-successful-session-count")));
        tlsrpt_add(json_object_get(to, "summary"), "total-failure-session-count",
                   json_integer_value(json_object_get(sum, "total-failure-session-count")));
        for (j = 0; j < json_array_size(json_object_get(e, "failure-details")); j++) {
            d = json_array_get(json_object_get(e, "failure-details"), j);
            json_t *key = tlsrpt_need(json_deep_copy(d));

            json_object_del(key, "failed-session-count");
            tlsrpt_detail_add(dst, to, pk, key, json_integer_value(json_object_get(d, "failed-session-count")));
            json_decref(key);
        }
        free(pk);
    }
}

/* relay_tlsrpt_day_text - day as its file holds it (no index; xmalloc'ed JSON) */

char *relay_tlsrpt_day_text(const json_t *day)
{
    json_t *c = tlsrpt_need(json_pack("{s:O, s:O}", "day", json_object_get(day, "day"),
                                      "policies", json_object_get(day, "policies")));
    char *text = json_dumps(c, JSON_INDENT(1) | JSON_SORT_KEYS);

    json_decref(c);
    if (text == NULL)
        log_panic("tlsrpt", "out of memory (json_dumps)");
    return text;
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

/* relay_tlsrpt_day_by_domain - day's policies[] elements per policy domain:
 * a new object, domain -> array of the elements (references) */

json_t *relay_tlsrpt_day_by_domain(const json_t *day)
{
    const json_t *pols = json_object_get(day, "policies");
    json_t *out = tlsrpt_need(json_object()), *a;

    for (size_t i = 0; i < json_array_size(pols); i++) {
        json_t *e = json_array_get(pols, i);
        const char *d = json_string_value(json_object_get(json_object_get(e, "policy"), "policy-domain"));

        if (d == NULL)
            continue;
        if ((a = json_object_get(out, d)) == NULL)
            json_object_set_new(out, d, a = tlsrpt_need(json_array()));
        json_array_append(a, e);
    }
    return out;
}

/* relay_tlsrpt_report_of - the RFC 8460 report of day dname for domain, whose
 * policies[] elements are entries; NULL if there are none */

json_t *relay_tlsrpt_report_of(const char *dname, const char *domain, const json_t *entries,
                               const struct relay_tlsrpt_who *who)
{
    int64_t start = dname ? relay_tlsrpt_day_start(dname) : -1;
    char from[32], to[32], *id;
    json_t *pols, *rep;

    if (start < 0 || json_array_size(entries) == 0)
        return NULL;
    pols = tlsrpt_need(json_array());
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *c = tlsrpt_need(json_deep_copy(json_array_get(entries, i)));

        if (json_array_size(json_object_get(c, "failure-details")) == 0)
            json_object_del(c, "failure-details");
        json_array_append_new(pols, c);
    }
    log_iso_time(from, sizeof(from), start, NULL);
    log_iso_time(to, sizeof(to), start + 86399, NULL);
    id = relay_tlsrpt_report_id(dname, domain, who->submitter);
    rep = tlsrpt_need(json_pack("{s:o, s:{s:s, s:s}, s:o, s:o, s:o}",
                                "organization-name", tlsrpt_str(who->organization),
                                "date-range", "start-datetime", from, "end-datetime", to,
                                "contact-info", tlsrpt_str(who->contact), "report-id", tlsrpt_str(id),
                                "policies", pols));
    free(id);
    return rep;
}

/* relay_tlsrpt_report - the RFC 8460 report of day for domain; NULL if day has nothing for it */

json_t *relay_tlsrpt_report(const json_t *day, const char *domain, const struct relay_tlsrpt_who *who)
{
    json_t *by = relay_tlsrpt_day_by_domain(day);
    json_t *rep = relay_tlsrpt_report_of(json_string_value(json_object_get(day, "day")), domain,
                                         json_object_get(by, domain), who);

    json_decref(by);
    return rep;
}
