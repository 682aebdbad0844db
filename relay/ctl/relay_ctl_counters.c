/*
 * relay_ctl_counters.c - the counters `domsec status` shows: the same
 * snapshot /metrics exposes (relay_stats_snapshot), named as in the
 * status schema (snake case, no unit suffix), plus the CRL set's age.
 *
 *   "domain_secure_messages_received", "..._sent",
 *   "domain_secure_outbound_session_failures",
 *   "connections_inbound", "connections_outbound",
 *   "tls_handshakes_inbound", "tls_handshakes_outbound",
 *   "messages_received",
 *   "tls_handshake_failures_inbound": {"timeout":..., "protocol":...,
 *       "closed":..., "certificate":..., "other":...},
 *   "tls_handshake_failures_outbound": {...},
 *   "recipients_delivered", "recipients_deferred", "recipients_bounced",
 *   "dsn_sent": {"failure":..., "delay":...},
 *   "receive_commit": {"count":..., "sum_ms":...},     (final dot -> 250)
 *   "delivery": {"count":..., "sum_ms":...},           (arrival -> delivered)
 *   "connections_inbound_by_connector": {"NAME": n, ...}, and the same
 *   for connections_outbound, tls_handshakes_inbound/_outbound and
 *   messages_received,
 *   "crl_set_age_s": N (absent before the first CRL set is built)
 *
 * Every value is an integer, at most one object deep (`domsec status`
 * prints an object's members as name{key}).  The _by_connector objects
 * list the labels that counted something; their sums are the totals.
 *
 * CONTRACT
 *  relay_ctl_counters_json returns a new object; any thread (it reads
 *  atomics only).
 */
#include <stdio.h>
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

/* ctl_hist - {"count": n, "sum_ms": ms} */

static json_t *ctl_hist(const struct relay_stats_view *v, enum relay_hist h)
{
    return json_pack("{s:o, s:o}", "count", ctl_count(v->h[h].count),
                     "sum_ms", ctl_count(v->h[h].sum_us / 1000));
}

/* ctl_by_connector - {"NAME": n} of the labels of st that counted something */

static json_t *ctl_by_connector(const struct relay_stats_view *v, enum relay_lstat st)
{
    json_t *o = json_object();

    for (unsigned id = 0; id < v->nlabels && id < RELAY_STATS_MAX_LABELS; id++)
        if (v->l[st][id] != 0)
            json_object_set_new(o, relay_stats_label_name(id), ctl_count(v->l[st][id]));
    return o;
}

/* relay_ctl_counters_json - the counters since start */

json_t *relay_ctl_counters_json(void)
{
    struct relay_stats_view *v = xmalloc(sizeof(*v));
    json_t *o = json_object();
    char    key[64];
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
    json_object_set_new(o, "tls_handshake_failures_inbound",
                        ctl_tls_failures(v, RELAY_STAT_TLS_FAIL_IN));
    json_object_set_new(o, "tls_handshake_failures_outbound",
                        ctl_tls_failures(v, RELAY_STAT_TLS_FAIL_OUT));
    json_object_set_new(o, "recipients_delivered", ctl_count(v->c[RELAY_STAT_RCPT_DELIVERED]));
    json_object_set_new(o, "recipients_deferred", ctl_count(v->c[RELAY_STAT_RCPT_DEFERRED]));
    json_object_set_new(o, "recipients_bounced", ctl_count(v->c[RELAY_STAT_RCPT_BOUNCED]));
    json_object_set_new(o, "dsn_sent", json_pack("{s:o, s:o}",
                                                 "failure", ctl_count(v->c[RELAY_STAT_DSN_FAILURE]),
                                                 "delay", ctl_count(v->c[RELAY_STAT_DSN_DELAY])));
    json_object_set_new(o, "requiretls", json_pack("{s:o, s:o, s:o}",
        "received", ctl_count(v->c[RELAY_STAT_REQUIRETLS_RECEIVED]),
        "sent", ctl_count(v->c[RELAY_STAT_REQUIRETLS_SENT]),
        "recipients_bounced", ctl_count(v->c[RELAY_STAT_REQUIRETLS_BOUNCED])));
    json_object_set_new(o, "receive_commit", ctl_hist(v, RELAY_HIST_COMMIT));
    json_object_set_new(o, "delivery", ctl_hist(v, RELAY_HIST_DELIVERY));
    for (int st = 0; st < RELAY_LSTAT_COUNT; st++) {
        snprintf(key, sizeof(key), "%s_by_connector", ctl_lstat_names[st]);
        json_object_set_new(o, key, ctl_by_connector(v, st));
    }
    if (built > 0)
        json_object_set_new(o, "crl_set_age_s", json_integer(now > built ? now - built : 0));
    free(v);
    return o;
}
