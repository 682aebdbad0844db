/*
 * relay_ctl_counters.c - the counters `domsec status` shows: the same
 * snapshot /metrics exposes (relay_stats_snapshot), named as in the
 * status schema (snake case, no unit suffix), plus the CRL set's age.
 *
 *   "domain_secure_messages_received", "..._sent",
 *   "domain_secure_outbound_session_failures",
 *   "connections_inbound", "connections_outbound",
 *   "tls_handshakes_inbound", "tls_handshakes_outbound",
 *   "tls_handshake_failures": {"inbound": {"timeout":..., "protocol":...,
 *       "closed":..., "certificate":..., "other":...}, "outbound": {...}},
 *   "messages_received", "recipients_delivered", "recipients_deferred",
 *   "recipients_bounced", "dsn_sent": {"failure":..., "delay":...},
 *   "receive_commit_seconds": {"count":..., "sum":...},
 *   "delivery_seconds": {"count":..., "sum":...},
 *   "by_connector": {"NAME": {"connections_inbound":..., ...}},
 *   "crl_set_age_s": N or null (no set built yet)
 *
 * by_connector lists every label that counted something (sums over all
 * connectors are the totals above).
 *
 * CONTRACT
 *  relay_ctl_counters_json returns a new object; any thread (it reads
 *  atomics only).
 */
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "relay_crl.h"
#include "relay_ctl.h"
#include "relay_stats.h"

static const char *const ctl_lstat_names[RELAY_LSTAT_COUNT] = {
    [RELAY_LSTAT_CONN_IN] = "connections_inbound",
    [RELAY_LSTAT_CONN_OUT] = "connections_outbound",
    [RELAY_LSTAT_TLS_IN] = "tls_handshakes_inbound",
    [RELAY_LSTAT_TLS_OUT] = "tls_handshakes_outbound",
    [RELAY_LSTAT_MSG_RECEIVED] = "messages_received",
};

/* ctl_count - a counter as a JSON integer */

static json_t *ctl_count(uint64_t n)
{
    return json_integer((json_int_t)n);
}

/* ctl_tls_failures - {"timeout": n, ...} of one direction */

static json_t *ctl_tls_failures(const struct relay_stats_view *v, enum relay_stat first)
{
    json_t *o = json_object();

    for (int r = 0; r < RELAY_TLS_FAIL_COUNT; r++)
        json_object_set_new(o, relay_stats_tls_reason_name(r), ctl_count(v->c[first + r]));
    return o;
}

/* ctl_hist - {"count": n, "sum": seconds} */

static json_t *ctl_hist(const struct relay_stats_view *v, enum relay_hist h)
{
    return json_pack("{s:o, s:f}", "count", ctl_count(v->h[h].count),
                     "sum", (double)v->h[h].sum_us / 1e6);
}

/* relay_ctl_counters_json - the counters since start */

json_t *relay_ctl_counters_json(void)
{
    struct relay_stats_view *v = xmalloc(sizeof(*v));
    json_t *o = json_object(), *by = json_object();
    int64_t built = relay_crl_published(), now = (int64_t)time(NULL);

    relay_stats_snapshot(v);
    for (int i = 0; i <= RELAY_STAT_DS_OUT_FAILURES; i++)
        json_object_set_new(o, relay_stats_name(i), ctl_count(v->c[i]));
    for (int st = 0; st < RELAY_LSTAT_COUNT; st++) {
        uint64_t sum = 0;

        for (unsigned id = 0; id < v->nlabels; id++)
            sum += v->l[st][id];
        json_object_set_new(o, ctl_lstat_names[st], ctl_count(sum));
    }
    json_object_set_new(o, "tls_handshake_failures",
                        json_pack("{s:o, s:o}",
                                  "inbound", ctl_tls_failures(v, RELAY_STAT_TLS_FAIL_IN),
                                  "outbound", ctl_tls_failures(v, RELAY_STAT_TLS_FAIL_OUT)));
    json_object_set_new(o, "recipients_delivered", ctl_count(v->c[RELAY_STAT_RCPT_DELIVERED]));
    json_object_set_new(o, "recipients_deferred", ctl_count(v->c[RELAY_STAT_RCPT_DEFERRED]));
    json_object_set_new(o, "recipients_bounced", ctl_count(v->c[RELAY_STAT_RCPT_BOUNCED]));
    json_object_set_new(o, "dsn_sent", json_pack("{s:o, s:o}",
                                                 "failure", ctl_count(v->c[RELAY_STAT_DSN_FAILURE]),
                                                 "delay", ctl_count(v->c[RELAY_STAT_DSN_DELAY])));
    json_object_set_new(o, "receive_commit_seconds", ctl_hist(v, RELAY_HIST_COMMIT));
    json_object_set_new(o, "delivery_seconds", ctl_hist(v, RELAY_HIST_DELIVERY));
    for (unsigned id = 0; id < v->nlabels && id < RELAY_STATS_MAX_LABELS; id++) {
        json_t *c = NULL;

        for (int st = 0; st < RELAY_LSTAT_COUNT; st++) {
            if (v->l[st][id] == 0)
                continue;
            if (c == NULL)
                c = json_object();
            json_object_set_new(c, ctl_lstat_names[st], ctl_count(v->l[st][id]));
        }
        if (c != NULL)
            json_object_set_new(by, relay_stats_label_name(id), c);
    }
    json_object_set_new(o, "by_connector", by);
    json_object_set_new(o, "crl_set_age_s",
                        built > 0 ? json_integer(now > built ? now - built : 0) : json_null());
    free(v);
    return o;
}
