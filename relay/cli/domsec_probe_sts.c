/*
 * domsec_probe_sts.c - `domsec test-partner`: the partner's MTA-STS policy
 * (RFC 8461) as domsecd would find it now.
 *
 * The daemon's own code on the probe's loop: relay_sts (the _mta-sts TXT
 * lookup, the fetch of https://mta-sts.D/.well-known/mta-sts.txt through
 * relay_http with mta_sts_trusted_ca_file as the anchors, the parse) with a
 * cache in memory only, so the policy shown is the one published today,
 * not one domsecd cached (its cache directory is neither read nor
 * written).  The result goes into the probe's JSON as "mta_sts": status,
 * failure (RFC 8460 result type), why, and the policy (id, mode, mx
 * patterns, max_age, the text as fetched); domsec__probe_sts_mark() then
 * says for each MX host whether the policy names it.
 *
 * Informational: test-partner judges the domain as if it were listed in
 * tls_send_domain_secure_list, and a listed domain gets no MTA-STS lookup
 * in domsecd (domain security wins), so the policy does not change the
 * verdict.  "applies" says whether domsecd would use it for mail to the
 * domain as configured now (MX routing, the connector's mta_sts, not
 * listed).
 *
 * CONTRACT
 *  domsec__probe_sts() runs p's loop until the lookup and every handle it
 *  made are done; it always sets "mta_sts" (null when the connector does
 *  not route by MX: no lookup at all) and keeps a reference to the policy
 *  in p->sts (NULL without one; domsec_probe.c drops it).  DNS or HTTPS
 *  trouble is part of the result, never an exit status of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "domsec_probe.h"
#include "log.h"
#include "policy_sts.h"
#include "relay_http.h"
#include "relay_sts.h"

struct probe_sts_wait {
    struct probe *p;
    bool    done;
    int     closing;                    /* closes not yet done */
};

/* probe_sts_closed - one of the sts cache, http client and resolver is closed */

static void probe_sts_closed(void *arg)
{
    struct probe_sts_wait *w = arg;

    w->closing--;
}

/* probe_sts_policy - a policy as JSON */

static json_t *probe_sts_policy(const struct sts_policy *pol)
{
    json_t *mx = json_array(), *text = json_string(pol->text);

    if (text == NULL) {                 /* not UTF-8 (policy_sts_parse refuses that, but
                                         * the key must never silently go missing) */
        char *a = xmalloc(strlen(pol->text) + 1);

        text = json_string(relay_sts_ascii(a, strlen(pol->text) + 1, pol->text));
        free(a);
    }
    for (size_t i = 0; i < pol->nmx; i++)
        json_array_append_new(mx, json_string(pol->mx[i]));
    return json_pack("{s:s, s:s, s:o, s:I, s:o}", "id", pol->id,
                     "mode", policy_sts_mode_name(pol->mode), "mx", mx,
                     "max_age", (json_int_t)pol->max_age_s, "text", text);
}

/* probe_sts_done - relay_sts's answer */

static void probe_sts_done(void *arg, const struct relay_sts_result *res)
{
    struct probe_sts_wait *w = arg;
    json_t *o = json_object_get(w->p->out, "mta_sts");

    w->done = true;
    json_object_set_new(o, "status", json_string(relay_sts_status_name(res->status)));
    json_object_set_new(o, "failure", res->failure ? json_string(res->failure) : json_null());
    json_object_set_new(o, "why", res->why ? json_string(res->why) : json_null());
    json_object_set_new(o, "policy", res->policy ? probe_sts_policy(res->policy) : json_null());
    if (res->policy)
        w->p->sts = policy_sts_ref(res->policy);
}

/* domsec__probe_sts - look the policy up as domsecd would, into p->out */

void domsec__probe_sts(struct probe *p)
{
    const struct config *cfg = p->cfg;
    struct probe_sts_wait w = { .p = p };
    struct dns_resolver *r;
    struct relay_http *http;
    struct relay_sts *sts;
    const char *err = NULL;
    bool    listed = policy_secure_listed(&cfg->transport.send_secure, p->domain);

    if (!p->sc->dns_routing) {
        json_object_set_new(p->out, "mta_sts", json_null());    /* smart hosts: none */
        return;
    }
    json_object_set_new(p->out, "mta_sts", json_pack("{s:b, s:b, s:s?}", "applies",
                                                     p->sc->mta_sts && !listed, "connector",
                                                     p->sc->mta_sts, "ca_file",
                                                     cfg->transport.mta_sts_trusted_ca_file));
    r = dns_resolver_new(&p->loop, cfg->dns.servers, cfg->dns.timeout, &err);
    if (r == NULL || (http = relay_http_new(&p->loop)) == NULL) {
        json_object_set_new(json_object_get(p->out, "mta_sts"), "status",
                            json_string("unknown"));
        json_object_set_new(json_object_get(p->out, "mta_sts"), "why",
                            json_string(err ? err : "cannot start the DNS or HTTP client"));
        if (r)
            dns_resolver_close(r, NULL, NULL);
        return;
    }
    sts = relay_sts_new(&p->loop, &r, http, NULL, NULL);
    relay_sts_lookup(sts, p->domain, cfg->transport.mta_sts_trusted_ca_file, probe_sts_done,
                     &w);
    while (!w.done)
        uv_run(&p->loop, UV_RUN_ONCE);
    w.closing = 1;
    relay_sts_close(sts, probe_sts_closed, &w);         /* before its http and resolver */
    while (w.closing > 0)
        uv_run(&p->loop, UV_RUN_ONCE);
    w.closing = 2;
    relay_http_close(http, probe_sts_closed, &w);
    dns_resolver_close(r, probe_sts_closed, &w);
    while (w.closing > 0)
        uv_run(&p->loop, UV_RUN_ONCE);
}

/* domsec__probe_sts_mark - "mta_sts_match" on each MX host, when there is a policy */

void domsec__probe_sts_mark(struct probe *p)
{
    json_t *mx = json_object_get(p->out, "mx"), *h;

    for (size_t i = 0; p->sts != NULL && (h = json_array_get(mx, i)) != NULL; i++)
        json_object_set_new(h, "mta_sts_match", json_boolean(policy_sts_mx_match(
                                p->sts, json_string_value(json_object_get(h, "name")))));
}
