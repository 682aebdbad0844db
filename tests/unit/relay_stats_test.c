/*
 * relay_stats_test.c - counter shards summed on read: N threads x M adds
 * (own shards and the shared fallback) give exactly N x M; histogram
 * bucket edges (le is inclusive, past the last bound only +Inf); connector
 * labels (interning is idempotent, the 64th name and later share "other");
 * the TLS failure reasons; and the Prometheus text of a known snapshot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>

#include "relay_metrics.h"
#include "relay_stats.h"

#define NTHREADS 8
#define NADDS 100000

static void adder(void *arg)
{
    bool own = *(bool *)arg;

    if (own)
        relay_stats_thread_init();
    for (int i = 0; i < NADDS; i++) {
        relay_stats_add(RELAY_STAT_RCPT_DELIVERED, 1);
        relay_stats_count(RELAY_LSTAT_CONN_IN, 1);
        relay_stats_observe(RELAY_HIST_COMMIT, (uint64_t)i);
    }
}

/* ---- the golden text first: it interns its labels before the overflow test ---- */

static const char golden[] =
    "# HELP domsec_build_info The version of domsec running (always 1).\n"
    "# TYPE domsec_build_info gauge\n"
    "domsec_build_info{version=\"9.9.9\"} 1\n"
    "# HELP domsec_start_time_seconds When domsecd started (unix time).\n"
    "# TYPE domsec_start_time_seconds gauge\n"
    "domsec_start_time_seconds 1796626800\n"
    "# HELP domsec_queue_messages Messages in the queue, by state.\n"
    "# TYPE domsec_queue_messages gauge\n"
    "domsec_queue_messages{state=\"active\"} 1\n"
    "domsec_queue_messages{state=\"deferred\"} 2\n"
    "domsec_queue_messages{state=\"held\"} 3\n"
    "# HELP domsec_queue_oldest_message_age_seconds Age of the oldest message in the queue (0 when empty).\n"
    "# TYPE domsec_queue_oldest_message_age_seconds gauge\n"
    "domsec_queue_oldest_message_age_seconds 120\n"
    "# HELP domsec_crl_set_age_seconds Seconds since the CRL set in use was built.\n"
    "# TYPE domsec_crl_set_age_seconds gauge\n"
    "domsec_crl_set_age_seconds 120\n"
    "# HELP domsec_certificate_expiry_timestamp_seconds When the certificate a connector presents expires (unix time).\n"
    "# TYPE domsec_certificate_expiry_timestamp_seconds gauge\n"
    "domsec_certificate_expiry_timestamp_seconds{direction=\"inbound\",connector=\"Default\",thumbprint=\"9243A4059E2637038630658E35657514089E54CE\"} 1830297600\n"
    "# HELP domsec_connections_total SMTP connections accepted (inbound) and established (outbound).\n"
    "# TYPE domsec_connections_total counter\n"
    "domsec_connections_total{direction=\"inbound\",connector=\"Default\"} 20\n"
    "domsec_connections_total{direction=\"inbound\",connector=\"Odd \\\"name\\\"\\\\\"} 0\n"
    "domsec_connections_total{direction=\"inbound\",connector=\"other\"} 2\n"
    "domsec_connections_total{direction=\"outbound\",connector=\"Internet\"} 21\n"
    "# HELP domsec_tls_handshakes_total TLS handshakes completed.\n"
    "# TYPE domsec_tls_handshakes_total counter\n"
    "domsec_tls_handshakes_total{direction=\"inbound\",connector=\"Default\"} 22\n"
    "domsec_tls_handshakes_total{direction=\"inbound\",connector=\"Odd \\\"name\\\"\\\\\"} 0\n"
    "domsec_tls_handshakes_total{direction=\"outbound\",connector=\"Internet\"} 23\n"
    "# HELP domsec_tls_handshake_failures_total TLS handshakes that failed, by direction and reason.\n"
    "# TYPE domsec_tls_handshake_failures_total counter\n"
    "domsec_tls_handshake_failures_total{direction=\"inbound\",reason=\"timeout\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"inbound\",reason=\"protocol\"} 7\n"
    "domsec_tls_handshake_failures_total{direction=\"inbound\",reason=\"closed\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"inbound\",reason=\"certificate\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"inbound\",reason=\"other\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"outbound\",reason=\"timeout\"} 8\n"
    "domsec_tls_handshake_failures_total{direction=\"outbound\",reason=\"protocol\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"outbound\",reason=\"closed\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"outbound\",reason=\"certificate\"} 0\n"
    "domsec_tls_handshake_failures_total{direction=\"outbound\",reason=\"other\"} 0\n"
    "# HELP domsec_messages_received_total Messages queued (250 sent after the final dot), by receive connector.\n"
    "# TYPE domsec_messages_received_total counter\n"
    "domsec_messages_received_total{connector=\"Default\"} 24\n"
    "domsec_messages_received_total{connector=\"Odd \\\"name\\\"\\\\\"} 0\n"
    "# HELP domsec_recipients_delivered_total Recipients delivered.\n"
    "# TYPE domsec_recipients_delivered_total counter\n"
    "domsec_recipients_delivered_total 9\n"
    "# HELP domsec_recipients_deferred_total Recipient deferrals (each attempt).\n"
    "# TYPE domsec_recipients_deferred_total counter\n"
    "domsec_recipients_deferred_total 10\n"
    "# HELP domsec_recipients_bounced_total Recipients that failed for good.\n"
    "# TYPE domsec_recipients_bounced_total counter\n"
    "domsec_recipients_bounced_total 11\n"
    "# HELP domsec_dsns_sent_total Delivery status notifications queued.\n"
    "# TYPE domsec_dsns_sent_total counter\n"
    "domsec_dsns_sent_total{type=\"failure\"} 12\n"
    "domsec_dsns_sent_total{type=\"delay\"} 13\n"
    "# HELP domsec_domain_secure_messages_received_total Exchange's Domain Secure Messages Received.\n"
    "# TYPE domsec_domain_secure_messages_received_total counter\n"
    "domsec_domain_secure_messages_received_total 4\n"
    "# HELP domsec_domain_secure_messages_sent_total Exchange's Domain Secure Messages Sent.\n"
    "# TYPE domsec_domain_secure_messages_sent_total counter\n"
    "domsec_domain_secure_messages_sent_total 5\n"
    "# HELP domsec_domain_secure_outbound_session_failures_total Exchange's Domain Secure Outbound Session Failures.\n"
    "# TYPE domsec_domain_secure_outbound_session_failures_total counter\n"
    "domsec_domain_secure_outbound_session_failures_total 6\n"
    "# HELP domsec_requiretls_messages_received_total Messages queued with MAIL FROM ... REQUIRETLS (RFC 8689).\n"
    "# TYPE domsec_requiretls_messages_received_total counter\n"
    "domsec_requiretls_messages_received_total 31\n"
    "# HELP domsec_requiretls_messages_sent_total REQUIRETLS messages a next hop took.\n"
    "# TYPE domsec_requiretls_messages_sent_total counter\n"
    "domsec_requiretls_messages_sent_total 32\n"
    "# HELP domsec_requiretls_recipients_bounced_total Recipients of REQUIRETLS messages bounced (5.7.10 / 5.7.30).\n"
    "# TYPE domsec_requiretls_recipients_bounced_total counter\n"
    "domsec_requiretls_recipients_bounced_total 33\n"
    "# HELP domsec_receive_commit_duration_seconds From the final dot of DATA to the 250 reply (the queue commit).\n"
    "# TYPE domsec_receive_commit_duration_seconds histogram\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.001\"} 1\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.0025\"} 2\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.005\"} 3\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.01\"} 4\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.025\"} 5\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.05\"} 6\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.1\"} 7\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.25\"} 8\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"0.5\"} 9\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"1\"} 10\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"2.5\"} 11\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"5\"} 12\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"10\"} 13\n"
    "domsec_receive_commit_duration_seconds_bucket{le=\"+Inf\"} 14\n"
    "domsec_receive_commit_duration_seconds_sum 12.345678\n"
    "domsec_receive_commit_duration_seconds_count 14\n"
    "# HELP domsec_delivery_duration_seconds From arrival to the peer's 250 after the final dot, per recipient.\n"
    "# TYPE domsec_delivery_duration_seconds histogram\n"
    "domsec_delivery_duration_seconds_bucket{le=\"1\"} 0\n"
    "domsec_delivery_duration_seconds_bucket{le=\"5\"} 0\n"
    "domsec_delivery_duration_seconds_bucket{le=\"15\"} 0\n"
    "domsec_delivery_duration_seconds_bucket{le=\"30\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"60\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"300\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"900\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"3600\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"14400\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"86400\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"172800\"} 5\n"
    "domsec_delivery_duration_seconds_bucket{le=\"+Inf\"} 5\n"
    "domsec_delivery_duration_seconds_sum 300.000000\n"
    "domsec_delivery_duration_seconds_count 5\n";

static void test_golden_text(void **state)
{
    static const char *const recv[] = { "Default", "Odd \"name\"\\" };
    static const char *const send[] = { "Internet" };
    struct relay_metrics_cert certs[] = {
        { .connector = "Default", .receive = true, .not_after = 1830297600,
          .thumbprint = "9243A4059E2637038630658E35657514089E54CE" },
    };
    struct relay_metrics_info in = {
        .version = "9.9.9", .now_s = 1796630400, .start_s = 1796626800,
        .receive = recv, .nreceive = 2, .send = send, .nsend = 1,
        .queue_active = 1, .queue_deferred = 2, .queue_held = 3,
        .oldest_ms = 1796630280000, .crl_built_s = 1796630280,
        .certs = certs, .ncerts = 1,
    };
    struct relay_stats_view v;
    unsigned def, inet;
    size_t  len;
    char   *text;

    def = relay_stats_label("Default");
    inet = relay_stats_label("Internet");
    v.nlabels = relay_stats_label(recv[1]) + 1;
    assert_int_not_equal(def, RELAY_STATS_LABEL_OTHER);
    memset(&v.c, 0, sizeof(v.c));
    memset(&v.l, 0, sizeof(v.l));
    memset(&v.h, 0, sizeof(v.h));
    v.c[RELAY_STAT_DS_RECEIVED] = 4;
    v.c[RELAY_STAT_DS_SENT] = 5;
    v.c[RELAY_STAT_DS_OUT_FAILURES] = 6;
    v.c[RELAY_STAT_REQUIRETLS_RECEIVED] = 31;
    v.c[RELAY_STAT_REQUIRETLS_SENT] = 32;
    v.c[RELAY_STAT_REQUIRETLS_BOUNCED] = 33;
    v.c[RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_PROTOCOL] = 7;
    v.c[RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_TIMEOUT] = 8;
    v.c[RELAY_STAT_RCPT_DELIVERED] = 9;
    v.c[RELAY_STAT_RCPT_DEFERRED] = 10;
    v.c[RELAY_STAT_RCPT_BOUNCED] = 11;
    v.c[RELAY_STAT_DSN_FAILURE] = 12;
    v.c[RELAY_STAT_DSN_DELAY] = 13;
    v.l[RELAY_LSTAT_CONN_IN][def] = 20;
    v.l[RELAY_LSTAT_CONN_IN][RELAY_STATS_LABEL_OTHER] = 2;     /* a name that did not fit */
    v.l[RELAY_LSTAT_CONN_OUT][inet] = 21;
    v.l[RELAY_LSTAT_TLS_IN][def] = 22;
    v.l[RELAY_LSTAT_TLS_OUT][inet] = 23;
    v.l[RELAY_LSTAT_MSG_RECEIVED][def] = 24;
    for (int b = 0; b <= 13; b++)                   /* commit: 13 bounds, 1 per bucket */
        v.h[RELAY_HIST_COMMIT].bucket[b] = (uint64_t)b + 1;
    v.h[RELAY_HIST_COMMIT].count = 14;
    v.h[RELAY_HIST_COMMIT].sum_us = 12345678;
    for (int b = 0; b <= 11; b++)
        v.h[RELAY_HIST_DELIVERY].bucket[b] = b < 3 ? 0 : 5;
    v.h[RELAY_HIST_DELIVERY].count = 5;
    v.h[RELAY_HIST_DELIVERY].sum_us = 300000000;
    text = relay_metrics_render(&v, &in, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    if (getenv("DOMSEC_GOLDEN_PRINT"))
        fputs(text, stdout);
    assert_string_equal(text, golden);
    free(text);
}

/* ---- shards ------------------------------------------------------------------ */

static void test_threads_sum_exactly(void **state)
{
    struct relay_stats_view before, after;
    uv_thread_t t[NTHREADS];
    bool    own[NTHREADS];

    relay_stats_snapshot(&before);
    for (int i = 0; i < NTHREADS; i++) {
        own[i] = i % 4 != 3;            /* every fourth thread adds to the fallback */
        assert_int_equal(uv_thread_create(&t[i], adder, &own[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(uv_thread_join(&t[i]), 0);
    relay_stats_snapshot(&after);
    assert_int_equal(after.c[RELAY_STAT_RCPT_DELIVERED] - before.c[RELAY_STAT_RCPT_DELIVERED],
                     (uint64_t)NTHREADS * NADDS);
    assert_int_equal(relay_stats_get(RELAY_STAT_RCPT_DELIVERED),
                     after.c[RELAY_STAT_RCPT_DELIVERED]);
    assert_int_equal(after.l[RELAY_LSTAT_CONN_IN][1] - before.l[RELAY_LSTAT_CONN_IN][1],
                     (uint64_t)NTHREADS * NADDS);
    assert_int_equal(after.h[RELAY_HIST_COMMIT].count - before.h[RELAY_HIST_COMMIT].count,
                     (uint64_t)NTHREADS * NADDS);
    /* sum of 0..NADDS-1 usec per thread */
    assert_int_equal(after.h[RELAY_HIST_COMMIT].sum_us - before.h[RELAY_HIST_COMMIT].sum_us,
                     (uint64_t)NTHREADS * ((uint64_t)NADDS * (NADDS - 1) / 2));
    /* Nothing else moved. */
    assert_int_equal(after.c[RELAY_STAT_RCPT_BOUNCED], before.c[RELAY_STAT_RCPT_BOUNCED]);
}

/* ---- histograms ---------------------------------------------------------------- */

static void test_bucket_edges(void **state)
{
    struct relay_stats_view a, b;
    const uint64_t *bounds;
    size_t  n = relay_stats_hist_bounds(RELAY_HIST_DELIVERY, &bounds);

    assert_int_equal(n, 11);
    assert_int_equal(bounds[0], 1000000);               /* 1 s */
    assert_int_equal(bounds[n - 1], 172800000000ULL);    /* 2 days */
    relay_stats_thread_init();
    for (size_t i = 0; i < n; i++) {
        relay_stats_snapshot(&a);
        relay_stats_observe(RELAY_HIST_DELIVERY, bounds[i]);     /* on the edge: le holds */
        relay_stats_snapshot(&b);
        for (size_t k = 0; k <= n; k++)
            assert_int_equal(b.h[RELAY_HIST_DELIVERY].bucket[k]
                             - a.h[RELAY_HIST_DELIVERY].bucket[k], k >= i ? 1 : 0);
        relay_stats_snapshot(&a);
        relay_stats_observe(RELAY_HIST_DELIVERY, bounds[i] + 1);  /* just past: the next */
        relay_stats_snapshot(&b);
        for (size_t k = 0; k <= n; k++)
            assert_int_equal(b.h[RELAY_HIST_DELIVERY].bucket[k]
                             - a.h[RELAY_HIST_DELIVERY].bucket[k], k > i ? 1 : 0);
        assert_int_equal(b.h[RELAY_HIST_DELIVERY].count - a.h[RELAY_HIST_DELIVERY].count, 1);
    }
    relay_stats_snapshot(&a);
    relay_stats_observe(RELAY_HIST_DELIVERY, 0);
    relay_stats_snapshot(&b);
    assert_int_equal(b.h[RELAY_HIST_DELIVERY].bucket[0] - a.h[RELAY_HIST_DELIVERY].bucket[0], 1);
}

/* ---- labels ----------------------------------------------------------------------- */

static void test_label_overflow(void **state)
{
    unsigned first = relay_stats_label("Overflow 0"), id;
    char    name[32];

    assert_int_not_equal(first, RELAY_STATS_LABEL_OTHER);
    assert_int_equal(relay_stats_label("Overflow 0"), first);      /* idempotent */
    assert_int_equal(relay_stats_label_find("Overflow 0"), first);
    assert_string_equal(relay_stats_label_name(first), "Overflow 0");
    assert_string_equal(relay_stats_label_name(RELAY_STATS_LABEL_OTHER), "other");
    assert_int_equal(relay_stats_label_find("never interned"), RELAY_STATS_LABEL_OTHER);
    for (unsigned i = 1; i < 100; i++) {
        snprintf(name, sizeof(name), "Overflow %u", i);
        id = relay_stats_label(name);
        if (first + i < RELAY_STATS_MAX_LABELS) {
            assert_int_equal(id, first + i);
            assert_string_equal(relay_stats_label_name(id), name);
        } else {
            assert_int_equal(id, RELAY_STATS_LABEL_OTHER);
            assert_int_equal(relay_stats_label_find(name), RELAY_STATS_LABEL_OTHER);
        }
    }
    assert_null(relay_stats_label_name(RELAY_STATS_MAX_LABELS));
    /* Counting past the table goes to "other", never out of bounds. */
    relay_stats_count(RELAY_LSTAT_MSG_RECEIVED, RELAY_STATS_MAX_LABELS + 5);
}

/* ---- TLS failure reasons -------------------------------------------------------- */

static void test_tls_reasons(void **state)
{
    static const struct {
        const char *err;
        enum relay_tls_fail want;
    } rows[] = {
        { "", RELAY_TLS_FAIL_CLOSED },
        { "TLS handshake failed: connection closed", RELAY_TLS_FAIL_CLOSED },
        { "connection lost during the handshake", RELAY_TLS_FAIL_CLOSED },
        { "TLS handshake failed: error state on socket (-308)", RELAY_TLS_FAIL_CLOSED },
        { "TLS handshake failed: record layer length error (-341)", RELAY_TLS_FAIL_PROTOCOL },
        { "TLS handshake failed: revcd alert fatal error (-313)", RELAY_TLS_FAIL_PROTOCOL },
        { "TLS handshake failed: ASN no signer error to confirm failure (-188)",
          RELAY_TLS_FAIL_CERTIFICATE },
        { "TLS handshake failed: peer didn't send cert (-345)", RELAY_TLS_FAIL_CERTIFICATE },
        { "cannot create a TLS session", RELAY_TLS_FAIL_OTHER },
        { "something (else)", RELAY_TLS_FAIL_OTHER },
    };
    struct relay_stats_view a, b;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(relay_stats_tls_reason(rows[i].err), rows[i].want);
    relay_stats_snapshot(&a);
    relay_stats_tls_failed(false, RELAY_TLS_FAIL_CERTIFICATE);
    relay_stats_tls_failed(true, RELAY_TLS_FAIL_TIMEOUT);
    relay_stats_snapshot(&b);
    assert_int_equal(b.c[RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_CERTIFICATE]
                     - a.c[RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_CERTIFICATE], 1);
    assert_int_equal(b.c[RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_TIMEOUT]
                     - a.c[RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_TIMEOUT], 1);
    assert_string_equal(relay_stats_tls_reason_name(RELAY_TLS_FAIL_CERTIFICATE), "certificate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_text),
        cmocka_unit_test(test_threads_sum_exactly),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_label_overflow),
        cmocka_unit_test(test_tls_reasons),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
