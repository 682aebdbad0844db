/*
 * relay_metrics_text.c - the Prometheus text exposition (format 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/) of a
 * counter snapshot: names and units as https://prometheus.io/docs/practices/naming/
 * says (base units, _total for counters, _seconds, labels for dimensions).
 *
 * Series by connector: one for every connector of the running
 * configuration (zero included, so a rate() has a start), plus any other
 * label that counted something (a connector removed by a reload, "other":
 * the connectors past the label table, which get no series of their own).
 *
 * CONTRACT
 *  relay_metrics_render() is a pure function of its inputs (borrowed, not
 *  kept); the text is malloc'd for the caller, NULL on out of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_metrics.h"

/* mt_head - the HELP and TYPE lines of a metric */

static void mt_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* mt_label - a label value, escaped (backslash, quote, newline) */

static void mt_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

/* mt_listed - is name among names? */

static bool mt_listed(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/*
 * mt_by_connector - one series per connector label of counter st: the
 * connectors in names (zero or not), then any other label with a count.
 * pre: the labels before connector ("direction=\"inbound\","), or "".
 */
static void mt_by_connector(FILE *f, const char *name, const char *pre,
                            const struct relay_stats_view *v, enum relay_lstat st,
                            const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned id = relay_stats_label_find(names[i]);

        if (id == RELAY_STATS_LABEL_OTHER)      /* did not fit: counted under "other" */
            continue;
        fprintf(f, "%s{%sconnector=\"", name, pre);
        mt_label(f, names[i]);
        fprintf(f, "\"} %llu\n", (unsigned long long)v->l[st][id]);
    }
    for (unsigned id = 0; id < v->nlabels && id < RELAY_STATS_MAX_LABELS; id++) {
        const char *label = relay_stats_label_name(id);

        if (v->l[st][id] == 0 || label == NULL
            || (id != RELAY_STATS_LABEL_OTHER && mt_listed(label, names, n)))
            continue;
        fprintf(f, "%s{%sconnector=\"", name, pre);
        mt_label(f, label);
        fprintf(f, "\"} %llu\n", (unsigned long long)v->l[st][id]);
    }
}

/* mt_counter - a counter without labels */

static void mt_counter(FILE *f, const char *name, const char *help, uint64_t value)
{
    mt_head(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)value);
}

/* mt_histogram - buckets (le in seconds), sum and count */

static void mt_histogram(FILE *f, const char *name, const char *help,
                         const struct relay_stats_view *v, enum relay_hist h)
{
    const uint64_t *bounds;
    size_t  n = relay_stats_hist_bounds(h, &bounds);

    mt_head(f, name, "histogram", help);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / 1e6,
                (unsigned long long)v->h[h].bucket[i]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)v->h[h].count);
    fprintf(f, "%s_sum %.6f\n", name, (double)v->h[h].sum_us / 1e6);
    fprintf(f, "%s_count %llu\n", name, (unsigned long long)v->h[h].count);
}

/* mt_connections - connections and TLS handshakes by direction and connector */

static void mt_connections(FILE *f, const struct relay_stats_view *v,
                           const struct relay_metrics_info *in)
{
    mt_head(f, "domsec_connections_total", "counter",
            "SMTP connections accepted (inbound) and established (outbound).");
    mt_by_connector(f, "domsec_connections_total", "direction=\"inbound\",", v,
                    RELAY_LSTAT_CONN_IN, in->receive, in->nreceive);
    mt_by_connector(f, "domsec_connections_total", "direction=\"outbound\",", v,
                    RELAY_LSTAT_CONN_OUT, in->send, in->nsend);
    mt_head(f, "domsec_tls_handshakes_total", "counter", "TLS handshakes completed.");
    mt_by_connector(f, "domsec_tls_handshakes_total", "direction=\"inbound\",", v,
                    RELAY_LSTAT_TLS_IN, in->receive, in->nreceive);
    mt_by_connector(f, "domsec_tls_handshakes_total", "direction=\"outbound\",", v,
                    RELAY_LSTAT_TLS_OUT, in->send, in->nsend);
    mt_head(f, "domsec_tls_handshake_failures_total", "counter",
            "TLS handshakes that failed, by direction and reason.");
    for (int d = 0; d < 2; d++)
        for (int r = 0; r < RELAY_TLS_FAIL_COUNT; r++)
            fprintf(f, "domsec_tls_handshake_failures_total{direction=\"%s\",reason=\"%s\"} "
                    "%llu\n", d == 0 ? "inbound" : "outbound", relay_stats_tls_reason_name(r),
                    (unsigned long long)v->c[(d == 0 ? RELAY_STAT_TLS_FAIL_IN
                                                     : RELAY_STAT_TLS_FAIL_OUT) + r]);
}

/* mt_messages - messages, recipients, DSNs, the Exchange counters */

static void mt_messages(FILE *f, const struct relay_stats_view *v,
                        const struct relay_metrics_info *in)
{
    mt_head(f, "domsec_messages_received_total", "counter",
            "Messages queued (250 sent after the final dot), by receive connector.");
    mt_by_connector(f, "domsec_messages_received_total", "", v, RELAY_LSTAT_MSG_RECEIVED,
                    in->receive, in->nreceive);
    mt_counter(f, "domsec_recipients_delivered_total", "Recipients delivered.",
               v->c[RELAY_STAT_RCPT_DELIVERED]);
    mt_counter(f, "domsec_recipients_deferred_total", "Recipient deferrals (each attempt).",
               v->c[RELAY_STAT_RCPT_DEFERRED]);
    mt_counter(f, "domsec_recipients_bounced_total", "Recipients that failed for good.",
               v->c[RELAY_STAT_RCPT_BOUNCED]);
    mt_head(f, "domsec_dsns_sent_total", "counter", "Delivery status notifications queued.");
    fprintf(f, "domsec_dsns_sent_total{type=\"failure\"} %llu\n",
            (unsigned long long)v->c[RELAY_STAT_DSN_FAILURE]);
    fprintf(f, "domsec_dsns_sent_total{type=\"delay\"} %llu\n",
            (unsigned long long)v->c[RELAY_STAT_DSN_DELAY]);
    mt_counter(f, "domsec_domain_secure_messages_received_total",
               "Exchange's Domain Secure Messages Received.", v->c[RELAY_STAT_DS_RECEIVED]);
    mt_counter(f, "domsec_domain_secure_messages_sent_total",
               "Exchange's Domain Secure Messages Sent.", v->c[RELAY_STAT_DS_SENT]);
    mt_counter(f, "domsec_domain_secure_outbound_session_failures_total",
               "Exchange's Domain Secure Outbound Session Failures.",
               v->c[RELAY_STAT_DS_OUT_FAILURES]);
    mt_counter(f, "domsec_requiretls_messages_received_total",
               "Messages queued with MAIL FROM ... REQUIRETLS (RFC 8689).",
               v->c[RELAY_STAT_REQUIRETLS_RECEIVED]);
    mt_counter(f, "domsec_requiretls_messages_sent_total",
               "REQUIRETLS messages a next hop took.", v->c[RELAY_STAT_REQUIRETLS_SENT]);
    mt_counter(f, "domsec_requiretls_recipients_bounced_total",
               "Recipients of REQUIRETLS messages bounced (5.7.10 / 5.7.30).",
               v->c[RELAY_STAT_REQUIRETLS_BOUNCED]);
}

/* mt_gauges - build, start, queue, CRL, certificates */

static void mt_gauges(FILE *f, const struct relay_metrics_info *in)
{
    mt_head(f, "domsec_build_info", "gauge", "The version of domsec running (always 1).");
    fputs("domsec_build_info{version=\"", f);
    mt_label(f, in->version);
    fputs("\"} 1\n", f);
    mt_head(f, "domsec_start_time_seconds", "gauge", "When domsecd started (unix time).");
    fprintf(f, "domsec_start_time_seconds %lld\n", (long long)in->start_s);
    mt_head(f, "domsec_queue_messages", "gauge", "Messages in the queue, by state.");
    fprintf(f, "domsec_queue_messages{state=\"active\"} %lld\n", in->queue_active);
    fprintf(f, "domsec_queue_messages{state=\"deferred\"} %lld\n", in->queue_deferred);
    fprintf(f, "domsec_queue_messages{state=\"held\"} %lld\n", in->queue_held);
    mt_head(f, "domsec_queue_oldest_message_age_seconds", "gauge",
            "Age of the oldest message in the queue (0 when empty).");
    fprintf(f, "domsec_queue_oldest_message_age_seconds %lld\n",
            in->oldest_ms > 0 && in->now_s * 1000 > in->oldest_ms
                ? (long long)(in->now_s * 1000 - in->oldest_ms) / 1000 : 0LL);
    if (in->crl_built_s > 0) {
        mt_head(f, "domsec_crl_set_age_seconds", "gauge",
                "Seconds since the CRL set in use was built.");
        fprintf(f, "domsec_crl_set_age_seconds %lld\n",
                (long long)(in->now_s > in->crl_built_s ? in->now_s - in->crl_built_s : 0));
    }
    if (in->ncerts > 0)
        mt_head(f, "domsec_certificate_expiry_timestamp_seconds", "gauge",
                "When the certificate a connector presents expires (unix time).");
    for (size_t i = 0; i < in->ncerts; i++) {
        const struct relay_metrics_cert *c = &in->certs[i];

        fprintf(f, "domsec_certificate_expiry_timestamp_seconds{direction=\"%s\",connector=\"",
                c->receive ? "inbound" : "outbound");
        mt_label(f, c->connector);
        fprintf(f, "\",thumbprint=\"%s\"} %lld\n", c->thumbprint, (long long)c->not_after);
    }
}

/* relay_metrics_render - the whole exposition */

char *relay_metrics_render(const struct relay_stats_view *v, const struct relay_metrics_info *in,
                           size_t *len)
{
    char   *buf = NULL;
    FILE   *f = open_memstream(&buf, len);

    if (f == NULL)
        return NULL;
    mt_gauges(f, in);
    mt_connections(f, v, in);
    mt_messages(f, v, in);
    mt_histogram(f, "domsec_receive_commit_duration_seconds",
                 "From the final dot of DATA to the 250 reply (the queue commit).", v,
                 RELAY_HIST_COMMIT);
    mt_histogram(f, "domsec_delivery_duration_seconds",
                 "From arrival to the peer's 250 after the final dot, per recipient.", v,
                 RELAY_HIST_DELIVERY);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return NULL;
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
