/*
 * relay_stats.c - counters, histograms and gauges.
 *
 * Each thread that called relay_stats_thread_init() owns a shard, aligned
 * to a cache line and written by that thread alone: an add is a relaxed
 * load and a relaxed store (no lock prefix, no line shared with another
 * writer).  Other threads (libuv's pool) add to one fallback shard with
 * atomic_fetch_add.  Shards are pushed on an append-only list (a mutex
 * only at registration) and never freed while the process runs, so a
 * reader can always walk it; a snapshot sums every shard.  Each value is a
 * 64-bit atomic, so a reader sees no torn value; values written while the
 * snapshot walks may be in or out of it (a histogram's count is the sum of
 * its buckets as read, so the exposition stays self-consistent).
 *
 * Labels: main interns connector names (relay_stats_label) into an
 * append-only table; the name is stored before the count is published
 * (release), so relay_stats_label_find and _name may run on any thread.
 *
 * CONTRACT
 *  Every function is thread-safe and never blocks, except
 *  relay_stats_thread_init (a mutex, once per thread) and
 *  relay_stats_label/_label_config, which only main may call.  Names
 *  returned are static or live until exit.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay_stats.h"

struct relay_stats_shard {
    _Alignas(64) _Atomic uint64_t c[RELAY_STAT_COUNT];
    _Atomic uint64_t l[RELAY_LSTAT_COUNT][RELAY_STATS_MAX_LABELS];
    _Atomic uint64_t hb[RELAY_HIST_COUNT][RELAY_HIST_MAX_BOUNDS + 1];  /* per bucket, not cumulative */
    _Atomic uint64_t hsum[RELAY_HIST_COUNT];
    struct relay_stats_shard *next;     /* registration list; set before publishing */
};

static struct relay_stats_shard stats_fallback;
static struct relay_stats_shard *_Atomic stats_shards = &stats_fallback;
static _Thread_local struct relay_stats_shard *stats_mine;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *stats_labels[RELAY_STATS_MAX_LABELS] = { "other" };
static _Atomic unsigned stats_nlabels = 1;

static _Atomic long long relay_gauges[RELAY_GAUGE_COUNT];

#define MS(x) ((x) * 1000ULL)
#define S(x) ((x) * 1000000ULL)
static const uint64_t stats_bounds_commit[] = {
    MS(1), 2500, MS(5), MS(10), MS(25), MS(50), MS(100), MS(250), MS(500), S(1), 2500000,
    S(5), S(10) };
static const uint64_t stats_bounds_delivery[] = {
    S(1), S(5), S(15), S(30), S(60), S(300), S(900), S(3600), S(14400), S(86400), S(172800) };
static const struct {
    const uint64_t *v;
    size_t  n;
} stats_bounds[RELAY_HIST_COUNT] = {
    [RELAY_HIST_COMMIT] = { stats_bounds_commit,
                            sizeof(stats_bounds_commit) / sizeof(stats_bounds_commit[0]) },
    [RELAY_HIST_DELIVERY] = { stats_bounds_delivery,
                              sizeof(stats_bounds_delivery) / sizeof(stats_bounds_delivery[0]) },
};
_Static_assert(sizeof(stats_bounds_commit) / sizeof(uint64_t) <= RELAY_HIST_MAX_BOUNDS, "bounds");
_Static_assert(sizeof(stats_bounds_delivery) / sizeof(uint64_t) <= RELAY_HIST_MAX_BOUNDS, "bounds");

static const char *const stats_tls_reasons[RELAY_TLS_FAIL_COUNT] = {
    [RELAY_TLS_FAIL_TIMEOUT] = "timeout", [RELAY_TLS_FAIL_PROTOCOL] = "protocol",
    [RELAY_TLS_FAIL_CLOSED] = "closed", [RELAY_TLS_FAIL_CERTIFICATE] = "certificate",
    [RELAY_TLS_FAIL_OTHER] = "other",
};

static const char *const stats_names[RELAY_STAT_COUNT] = {
    [RELAY_STAT_DS_RECEIVED] = "domain_secure_messages_received",
    [RELAY_STAT_DS_SENT] = "domain_secure_messages_sent",
    [RELAY_STAT_DS_OUT_FAILURES] = "domain_secure_outbound_session_failures",
    [RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_TIMEOUT] = "tls_handshake_failures_inbound_timeout",
    [RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_PROTOCOL] = "tls_handshake_failures_inbound_protocol",
    [RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_CLOSED] = "tls_handshake_failures_inbound_closed",
    [RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_CERTIFICATE] =
        "tls_handshake_failures_inbound_certificate",
    [RELAY_STAT_TLS_FAIL_IN + RELAY_TLS_FAIL_OTHER] = "tls_handshake_failures_inbound_other",
    [RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_TIMEOUT] = "tls_handshake_failures_outbound_timeout",
    [RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_PROTOCOL] =
        "tls_handshake_failures_outbound_protocol",
    [RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_CLOSED] = "tls_handshake_failures_outbound_closed",
    [RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_CERTIFICATE] =
        "tls_handshake_failures_outbound_certificate",
    [RELAY_STAT_TLS_FAIL_OUT + RELAY_TLS_FAIL_OTHER] = "tls_handshake_failures_outbound_other",
    [RELAY_STAT_RCPT_DELIVERED] = "recipients_delivered",
    [RELAY_STAT_RCPT_DEFERRED] = "recipients_deferred",
    [RELAY_STAT_RCPT_BOUNCED] = "recipients_bounced",
    [RELAY_STAT_DSN_FAILURE] = "dsn_sent_failure",
    [RELAY_STAT_DSN_DELAY] = "dsn_sent_delay",
    [RELAY_STAT_REQUIRETLS_RECEIVED] = "requiretls_messages_received",
    [RELAY_STAT_REQUIRETLS_SENT] = "requiretls_messages_sent",
    [RELAY_STAT_REQUIRETLS_BOUNCED] = "requiretls_recipients_bounced",
};

/* The stop log keeps Exchange's names for its three counters. */
static const char *const stats_exchange_names[] = {
    [RELAY_STAT_DS_RECEIVED] = "Domain Secure Messages Received",
    [RELAY_STAT_DS_SENT] = "Domain Secure Messages Sent",
    [RELAY_STAT_DS_OUT_FAILURES] = "Domain Secure Outbound Session Failures",
};

/* stats_bump - add n to *p of the calling thread's shard */

static inline void stats_bump(_Atomic uint64_t *p, uint64_t n)
{
    if (stats_mine != NULL)             /* the only writer of this shard */
        atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + n,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(p, n, memory_order_relaxed);
}

/* stats_shard - the calling thread's shard, or the fallback */

static inline struct relay_stats_shard *stats_shard(void)
{
    return stats_mine != NULL ? stats_mine : &stats_fallback;
}

/* relay_stats_thread_init - give the calling thread its own shard */

void relay_stats_thread_init(void)
{
    struct relay_stats_shard *s;

    if (stats_mine != NULL)
        return;
    if ((s = aligned_alloc(64, sizeof(*s))) == NULL)
        log_fatal("stats", "out of memory");
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&stats_lock);
    s->next = atomic_load_explicit(&stats_shards, memory_order_relaxed);
    atomic_store_explicit(&stats_shards, s, memory_order_release);
    pthread_mutex_unlock(&stats_lock);
    stats_mine = s;
}

/* relay_stats_add - count n */

void relay_stats_add(enum relay_stat st, unsigned long n)
{
    stats_bump(&stats_shard()->c[st], n);
}

/* relay_stats_count - count one by connector label */

void relay_stats_count(enum relay_lstat st, unsigned label)
{
    if (label >= RELAY_STATS_MAX_LABELS)
        label = RELAY_STATS_LABEL_OTHER;
    stats_bump(&stats_shard()->l[st][label], 1);
}

/* relay_stats_tls_failed - count a failed handshake */

void relay_stats_tls_failed(bool inbound, enum relay_tls_fail why)
{
    if ((unsigned)why >= RELAY_TLS_FAIL_COUNT)
        why = RELAY_TLS_FAIL_OTHER;
    relay_stats_add((inbound ? RELAY_STAT_TLS_FAIL_IN : RELAY_STAT_TLS_FAIL_OUT) + why, 1);
}

/* wolfSSL's error codes (error-ssl.h, asn.h) that say more than "protocol". */
static const struct {
    long    code;
    enum relay_tls_fail why;
} stats_tls_codes[] = {
    { -308, RELAY_TLS_FAIL_CLOSED },            /* SOCKET_ERROR_E: the socket went away */
    { -343, RELAY_TLS_FAIL_CLOSED },            /* ZERO_RETURN: close notify */
    { -397, RELAY_TLS_FAIL_CLOSED },            /* SOCKET_PEER_CLOSED_E */
    { -329, RELAY_TLS_FAIL_CERTIFICATE },       /* VERIFY_CERT_ERROR */
    { -345, RELAY_TLS_FAIL_CERTIFICATE },       /* NO_PEER_CERT */
    { -360, RELAY_TLS_FAIL_CERTIFICATE },       /* OCSP_CERT_REVOKED */
    { -361, RELAY_TLS_FAIL_CERTIFICATE },       /* CRL_CERT_REVOKED */
    { -150, RELAY_TLS_FAIL_CERTIFICATE },       /* ASN_BEFORE_DATE_E */
    { -151, RELAY_TLS_FAIL_CERTIFICATE },       /* ASN_AFTER_DATE_E */
    { -155, RELAY_TLS_FAIL_CERTIFICATE },       /* ASN_SIG_CONFIRM_E */
    { -188, RELAY_TLS_FAIL_CERTIFICATE },       /* ASN_NO_SIGNER_E */
};

/*
 * relay_stats_tls_reason - sort a tls/ error text.  tls_conn words its
 * errors "TLS handshake failed: connection closed", "<step> failed:
 * <wolfSSL text> (<code>)" or "cannot create a TLS session"; "" means the
 * socket failed under the handshake (the peer reset it), and smtp/ says
 * "connection lost during the handshake".  A wolfSSL code not in the
 * table above is a protocol failure (bad record, alert, no shared cipher).
 */
enum relay_tls_fail relay_stats_tls_reason(const char *err)
{
    const char *paren;
    char   *end;
    long    code;

    if (err == NULL || *err == '\0' || strstr(err, "connection closed") != NULL
        || strstr(err, "connection lost") != NULL)
        return RELAY_TLS_FAIL_CLOSED;
    if ((paren = strrchr(err, '(')) != NULL && (code = strtol(paren + 1, &end, 10)) < 0
        && *end == ')') {
        for (size_t i = 0; i < sizeof(stats_tls_codes) / sizeof(stats_tls_codes[0]); i++)
            if (stats_tls_codes[i].code == code)
                return stats_tls_codes[i].why;
        return RELAY_TLS_FAIL_PROTOCOL;
    }
    return RELAY_TLS_FAIL_OTHER;
}

/* relay_stats_observe - one observation of histogram h */

void relay_stats_observe(enum relay_hist h, uint64_t usec)
{
    struct relay_stats_shard *s = stats_shard();
    size_t  i = 0;

    while (i < stats_bounds[h].n && usec > stats_bounds[h].v[i])
        i++;
    stats_bump(&s->hb[h][i], 1);
    stats_bump(&s->hsum[h], usec);
}

/* relay_stats_label - intern a connector name (main only) */

unsigned relay_stats_label(const char *name)
{
    unsigned n = atomic_load_explicit(&stats_nlabels, memory_order_relaxed);
    unsigned id = relay_stats_label_find(name);

    if (id != RELAY_STATS_LABEL_OTHER)
        return id;
    if (n >= RELAY_STATS_MAX_LABELS)
        return RELAY_STATS_LABEL_OTHER;
    stats_labels[n] = xstrdup(name);    /* kept until exit */
    atomic_store_explicit(&stats_nlabels, n + 1, memory_order_release);
    return n;
}

/* relay_stats_label_config - intern every connector name of cfg (main only) */

void relay_stats_label_config(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nreceive; i++)
        (void)relay_stats_label(cfg->receive[i].name);
    for (size_t i = 0; i < cfg->nsend; i++)
        (void)relay_stats_label(cfg->send[i].name);
}

/* relay_stats_label_find - the label of an interned name, or OTHER */

unsigned relay_stats_label_find(const char *name)
{
    unsigned n = atomic_load_explicit(&stats_nlabels, memory_order_acquire);

    for (unsigned i = 1; i < n; i++)
        if (strcmp(stats_labels[i], name) == 0)
            return i;
    return RELAY_STATS_LABEL_OTHER;
}

/* relay_stats_label_name - the name of a label; NULL past the last */

const char *relay_stats_label_name(unsigned id)
{
    return id < atomic_load_explicit(&stats_nlabels, memory_order_acquire) ? stats_labels[id]
                                                                          : NULL;
}

/* relay_stats_hist_bounds - the upper bounds of h in usec */

size_t relay_stats_hist_bounds(enum relay_hist h, const uint64_t **bounds)
{
    *bounds = stats_bounds[h].v;
    return stats_bounds[h].n;
}

/* relay_stats_name - "recipients_delivered" */

const char *relay_stats_name(enum relay_stat st)
{
    return stats_names[st];
}

/* relay_stats_tls_reason_name - "timeout" */

const char *relay_stats_tls_reason_name(enum relay_tls_fail why)
{
    return stats_tls_reasons[why];
}

/* relay_stats_snapshot - sum every shard */

void relay_stats_snapshot(struct relay_stats_view *out)
{
    memset(out, 0, sizeof(*out));
    out->nlabels = atomic_load_explicit(&stats_nlabels, memory_order_acquire);
    for (struct relay_stats_shard *s = atomic_load_explicit(&stats_shards, memory_order_acquire);
         s != NULL; s = s->next) {
        for (int i = 0; i < RELAY_STAT_COUNT; i++)
            out->c[i] += atomic_load_explicit(&s->c[i], memory_order_relaxed);
        for (int i = 0; i < RELAY_LSTAT_COUNT; i++)
            for (int j = 0; j < RELAY_STATS_MAX_LABELS; j++)
                out->l[i][j] += atomic_load_explicit(&s->l[i][j], memory_order_relaxed);
        for (int h = 0; h < RELAY_HIST_COUNT; h++) {
            for (size_t b = 0; b <= stats_bounds[h].n; b++)
                out->h[h].bucket[b] += atomic_load_explicit(&s->hb[h][b], memory_order_relaxed);
            out->h[h].sum_us += atomic_load_explicit(&s->hsum[h], memory_order_relaxed);
        }
    }
    for (int h = 0; h < RELAY_HIST_COUNT; h++) {
        for (size_t b = 1; b <= stats_bounds[h].n; b++)     /* cumulative, as "le" wants */
            out->h[h].bucket[b] += out->h[h].bucket[b - 1];
        out->h[h].count = out->h[h].bucket[stats_bounds[h].n];
    }
}

/* relay_stats_get - one counter, summed */

unsigned long relay_stats_get(enum relay_stat st)
{
    uint64_t sum = 0;

    for (struct relay_stats_shard *s = atomic_load_explicit(&stats_shards, memory_order_acquire);
         s != NULL; s = s->next)
        sum += atomic_load_explicit(&s->c[st], memory_order_relaxed);
    return (unsigned long)sum;
}

/* relay_stats_log - one line per Exchange counter, one for the rest */

void relay_stats_log(void)
{
    struct relay_stats_view v;
    char    line[2048];
    size_t  len = 0;

    relay_stats_snapshot(&v);
    for (int i = 0; i <= RELAY_STAT_DS_OUT_FAILURES; i++)
        log_info("stats", 0, "\"%s\"=%llu", stats_exchange_names[i], (unsigned long long)v.c[i]);
    line[0] = '\0';
    for (int i = RELAY_STAT_DS_OUT_FAILURES + 1; i < RELAY_STAT_COUNT && len < sizeof(line); i++)
        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s=%llu", len ? " " : "",
                                stats_names[i], (unsigned long long)v.c[i]);
    log_info("stats", 0, "%s", line);
}

/* relay_stats_gauge_set - the gauge's one writer sets it */

void relay_stats_gauge_set(enum relay_gauge g, long long v)
{
    atomic_store_explicit(&relay_gauges[g], v, memory_order_relaxed);
}

/* relay_stats_gauge_get - read a gauge */

long long relay_stats_gauge_get(enum relay_gauge g)
{
    return atomic_load_explicit(&relay_gauges[g], memory_order_relaxed);
}
