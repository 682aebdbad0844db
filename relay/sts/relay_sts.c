/*
 * relay_sts.c - MTA-STS policy lookups (RFC 8461 5) for the queue manager.
 *
 * A lookup of domain D joins D's entry (one per policy domain; concurrent
 * lookups share its work) and runs, when the entry is idle:
 *
 *   READ   first lookup since the start: the cache file (relay_sts_cache.c)
 *   TXT    _mta-sts.D TXT: exactly one v=STSv1 record (policy_sts_txt_pick)
 *          - its id equals the cached policy's and max_age has not run
 *            out: the cached policy (OK; no fetch); when the policy is
 *            older than half its max_age (a day at most), it is also
 *            refreshed in the background (RFC 8461 5.1: lookups answered
 *            from the cache meanwhile; a failure keeps the cached policy
 *            and is told, as STALE with its failure, to the next lookup)
 *          - a fetch of this id failed less than the back-off ago (1 min,
 *            doubled per failure in a row, 1 h at most): no new fetch; the
 *            cached policy within max_age as STALE, else FAILED, both
 *            with the last failure, told (nothing new for TLS-RPT; a
 *            REQUIRETLS message still waits for the policy)
 *          - else a fetch
 *          - no record (NXDOMAIN, NODATA, none or several STSv1 records):
 *            a cached policy within max_age is kept (5.1: the record's
 *            absence is not removal); one past max_age is dropped, its
 *            file removed; then NONE
 *          - the lookup failed (timeout, SERVFAIL): the cached policy
 *            within max_age as STALE, else NONE
 *          - cancelled by a reload (the owner's resolver was replaced, not
 *            closing): asked again on the new resolver (likewise HOST)
 *   QUEUED at most RELAY_STS_MAX_FETCHES fetches at once; the rest wait
 *   HOST   address of mta-sts.D (dns_host_lookup; the tests' dnsmasq decides)
 *   FETCH  GET https://mta-sts.D/.well-known/mta-sts.txt via relay_http:
 *          no redirects, 64 KiB, 20 s in all, under 100 bytes/s for 10 s
 *          aborts, WebPKI against ca_file; 200 only,
 *          Content-Type text/plain; the body parsed (policy_sts_parse)
 *          - valid: it replaces the cached one, written to disk (pool)
 *          - failed: the cached policy within max_age as STALE (failure
 *            set), else FAILED with the RFC 8460 result type (none when
 *            our own trust store is unreadable: logged as a warning)
 *
 * A policy of mode none is cached like any other, and its lookups get
 * NONE.  Memory: at most RELAY_STS_MAX_DOMAINS entries; beyond that the
 * least recently used idle ones go (their files stay, read again when
 * needed).  The disk cache is not bounded by count: one small file per
 * policy domain we sent to.
 *
 * Log lines (subsystem "sts"), one per fetch, refresh, failure or load:
 *   mta-sts domain=D id=ID mode=MODE result=RESULT [failure=TYPE] [why="..."]
 * RESULT: loaded (from the cache file), fetched (first policy), refreshed
 * (replaced a cached one), stale (refresh failed, cached one kept), failed
 * (no usable policy), expired (no TXT record and max_age over: dropped),
 * none (TXT lookup failed with nothing cached), invalid-cache.
 *
 * CONTRACT
 *  See relay_sts.h.  Entries are freed only when idle, without waiters and
 *  without pool work; DNS callbacks of a closing cache end their waiters
 *  with RELAY_STS_CANCELED; cancelled HTTP requests do not call back, so
 *  the close ends their waiters from a zero timer (always later).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "relay_sts_int.h"

#define STS_URL_FMT "https://mta-sts.%s/.well-known/mta-sts.txt"

static void sts_step(struct sts_entry *e);
static void sts_fetch_start(struct sts_entry *e);
static void sts_fetch_next(struct relay_sts *s);
static void sts_try_free(struct relay_sts *s);
static void sts_later(uv_timer_t *t);
static void sts_drop(struct sts_entry *e);

/* relay_sts_status_name - a status as logs write it */

const char *relay_sts_status_name(enum relay_sts_status st)
{
    static const char *const names[] = {
        [RELAY_STS_NONE] = "none", [RELAY_STS_OK] = "ok", [RELAY_STS_STALE] = "stale",
        [RELAY_STS_FAILED] = "failed", [RELAY_STS_CANCELED] = "canceled",
    };

    return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* relay_sts_ascii - printable ASCII only */

char *relay_sts_ascii(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; src != NULL && src[i] != '\0' && i + 1 < size; i++)
        dst[i] = (unsigned char)src[i] >= 0x20 && (unsigned char)src[i] <= 0x7e ? src[i] : '?';
    dst[i] = '\0';
    return dst;
}

/* sts_wall_ms - the real clock, ms since the epoch */

static uint64_t sts_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* sts_log - the one log line of a fetch, refresh, failure or load */

static void sts_log(const struct sts_entry *e, const char *id, const char *result,
                    const char *failure, const char *why)
{
    const struct sts_policy *p = e->policy;

    log_info("sts", 0, "mta-sts domain=%s id=%s mode=%s result=%s%s%s%s%s%s", e->domain,
             id && id[0] ? id : "-", p ? policy_sts_mode_name(p->mode) : "-", result,
             failure ? " failure=" : "", failure ? failure : "", why ? " why=\"" : "",
             why ? why : "", why ? "\"" : "");
}

#define STS_WHY_REFRESH "cached policy; refreshing it"

/* sts_notify - every waiter of e gets the outcome (e's state unchanged) */

static void sts_notify_told(struct sts_entry *e, enum relay_sts_status st, const char *failure,
                            bool told, const char *why)
{
    struct relay_sts_result res = { .status = st, .failure = failure, .told = told, .why = why };
    struct sts_policy *keep = NULL;
    struct relay_sts_lookup *l;

    if (st == RELAY_STS_OK || st == RELAY_STS_STALE) {
        if (e->policy == NULL) {
            res.status = RELAY_STS_NONE;
        } else if (e->policy->mode == STS_MODE_NONE) {
            res.status = RELAY_STS_NONE;
            if (why == NULL)            /* not to be mistaken for "no record" */
                res.why = "the published policy has mode none";
            else if (strcmp(why, STS_WHY_REFRESH) == 0)
                res.why = "the published policy has mode none; " STS_WHY_REFRESH;
        } else {
            res.policy = keep = policy_sts_ref(e->policy);  /* alive through the callbacks */
        }
    }
    /* The waiters are taken first: a lookup a callback starts joins the
     * next round (e is idle, so it starts one).  e is never freed inside
     * a callback: only sts_try_free and the LRU free, from elsewhere. */
    l = e->waiters;
    e->waiters = NULL;
    e->finishing = true;
    while (l != NULL) {
        struct relay_sts_lookup *next = l->next;

        l->cb(l->arg, &res);
        free(l);
        l = next;
    }
    e->finishing = false;
    policy_sts_unref(keep);
    if (e->waiters != NULL && e->state == STS_E_IDLE)
        sts_step(e);                    /* lookups the callbacks made: the next round */
    else if (e->waiters != NULL && e->bg)
        uv_timer_start(&e->s->later, sts_later, 0, 0);  /* answered from the cache */
}

/* sts_notify - sts_notify_told, a failure that is new (TLS-RPT notes it) */

static void sts_notify(struct sts_entry *e, enum relay_sts_status st, const char *failure,
                       const char *why)
{
    sts_notify_told(e, st, failure, false, why);
}

/* sts_finish_told - every waiter of e gets the outcome; e becomes idle */

static void sts_finish_told(struct sts_entry *e, enum relay_sts_status st, const char *failure,
                            bool told, const char *why)
{
    e->state = STS_E_IDLE;
    e->bg = false;
    sts_notify_told(e, st, failure, told, why);
}

/* sts_finish - sts_finish_told, a failure that is new (TLS-RPT notes it) */

static void sts_finish(struct sts_entry *e, enum relay_sts_status st, const char *failure,
                       const char *why)
{
    sts_finish_told(e, st, failure, false, why);
}

/* sts_usable - e's cached policy, if max_age has not run out */

static bool sts_usable(const struct sts_entry *e)
{
    return e->policy != NULL && !policy_sts_expired(e->policy, e->s->now_ms());
}

/* sts_drop - forget e's policy (max_age over and no TXT record): file removed */

static void sts_drop(struct sts_entry *e)
{
    policy_sts_unref(e->policy);
    e->policy = NULL;
    e->dirty = true;
    if (e->io == 0)
        relay__sts_cache_sync(e);
}

/* sts_backoff_start - a fetch of e->id failed: no new fetch of that id for
 * RELAY_STS_BACKOFF_MIN_MS, doubled at each failure in a row, at most
 * RELAY_STS_BACKOFF_MAX_MS (a new TXT id is fetched at once) */

static void sts_backoff_start(struct sts_entry *e, const char *failure)
{
    uint64_t b = e->backoff_ms;

    b = strcmp(e->fail_id, e->id) == 0 && b > 0 ? b * 2 : RELAY_STS_BACKOFF_MIN_MS;
    e->backoff_ms = b < RELAY_STS_BACKOFF_MAX_MS ? b : RELAY_STS_BACKOFF_MAX_MS;
    snprintf(e->fail_id, sizeof(e->fail_id), "%s", e->id);
    e->fail_type = failure;
    e->retry_ms = e->s->now_ms() + e->backoff_ms;
}

/* sts_backing_off - a fetch of id failed a moment ago: do not try it yet */

static bool sts_backing_off(const struct sts_entry *e, const char *id, uint64_t now)
{
    return e->fail_id[0] != '\0' && strcmp(e->fail_id, id) == 0 && now < e->retry_ms
           && e->retry_ms - now <= RELAY_STS_BACKOFF_MAX_MS;    /* a clock set back */
}

/* sts_fetch_failed - no new policy: keep the cached one within max_age.  A
 * refresh in the background (e->bg) with nobody waiting keeps its failure
 * for the next lookup, so that TLS-RPT hears of it; failure
 * RELAY_STS_FAILURE_LOCAL: ours (our trust store), told but not reported. */

static void sts_fetch_failed(struct sts_entry *e, const char *failure, const char *raw)
{
    struct relay_sts *s = e->s;
    bool local = strcmp(failure, RELAY_STS_FAILURE_LOCAL) == 0;
    char why[200];

    relay_sts_ascii(why, sizeof(why), raw);  /* a server's header, curl's text */
    s->fetching--;
    if (!s->closing)
        sts_backoff_start(e, failure);
    if (s->closing) {
        sts_finish(e, RELAY_STS_CANCELED, NULL, "shutdown");
    } else if (sts_usable(e)) {
        sts_log(e, e->id, "stale", failure, why);
        if (e->bg && e->waiters == NULL && !local) {
            e->bg_failure = failure;
            snprintf(e->bg_why, sizeof(e->bg_why), "%s", why);
        }
        sts_finish_told(e, RELAY_STS_STALE, failure, local, why);
    } else {
        if (e->policy != NULL)
            sts_drop(e);
        sts_log(e, e->id, "failed", failure, why);
        sts_finish_told(e, RELAY_STS_FAILED, failure, local, why);
    }
    sts_fetch_next(s);
    sts_try_free(s);
}

/* sts_content_ok - Content-Type text/plain, parameters allowed (RFC 8461 3.3) */

static bool sts_content_ok(const char *ct)
{
    size_t n = strlen("text/plain");

    if (ct == NULL || strncasecmp(ct, "text/plain", n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

/* sts_http_done - the policy body (or not) */

static void sts_http_done(void *arg, const struct relay_http_result *res)
{
    struct sts_entry *e = arg;
    struct relay_sts *s = e->s;
    struct sts_policy *p;
    const char *why = NULL;
    char buf[160];
    bool first;

    e->req = NULL;
    if (res->error != NULL && res->local_error) {   /* our anchors: not the domain's fault */
        log_warnx("sts", 0, "mta-sts domain=%s cannot fetch the policy: our trust store "
                  "(mta_sts_trusted_ca_file %s): %s", e->domain, e->ca_file ? e->ca_file : "-",
                  res->error);
        snprintf(buf, sizeof(buf), "local trust store: %s", res->error);
        sts_fetch_failed(e, RELAY_STS_FAILURE_LOCAL, buf);
        return;
    }
    if (res->error != NULL) {
        snprintf(buf, sizeof(buf), "fetch of " STS_URL_FMT " failed: %s", e->domain, res->error);
        sts_fetch_failed(e, res->tls_error ? "sts-webpki-invalid" : "sts-policy-fetch-error",
                         buf);
        return;
    }
    if (res->status != 200) {
        snprintf(buf, sizeof(buf), "fetch of " STS_URL_FMT " answered HTTP %d", e->domain,
                 res->status);
        sts_fetch_failed(e, "sts-policy-fetch-error", buf);
        return;
    }
    if (!sts_content_ok(res->content_type)) {
        snprintf(buf, sizeof(buf), "Content-Type is %.80s, not text/plain",
                 res->content_type ? res->content_type : "missing");
        sts_fetch_failed(e, "sts-policy-invalid", buf);
        return;
    }
    if ((p = policy_sts_parse(e->domain, e->id, res->body, res->len, s->now_ms(), &why)) == NULL) {
        sts_fetch_failed(e, "sts-policy-invalid", why);
        return;
    }
    s->fetching--;
    e->fail_id[0] = '\0';
    e->fail_type = NULL;
    e->backoff_ms = 0;
    e->bg_failure = NULL;
    first = e->policy == NULL;
    policy_sts_unref(e->policy);
    e->policy = p;
    e->dirty = true;
    if (e->io == 0)
        relay__sts_cache_sync(e);
    sts_log(e, e->id, first ? "fetched" : "refreshed", NULL, NULL);
    sts_finish(e, RELAY_STS_OK, NULL, NULL);
    sts_fetch_next(s);
    sts_try_free(s);
}

/* sts_host_done - where mta-sts.D is; then the GET */

static void sts_host_done(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct sts_entry *e = arg;
    struct relay_http_opts o = { .max_bytes = POLICY_STS_MAX_BYTES,
                                 .timeout_ms = RELAY_STS_FETCH_MS, .ca_file = e->ca_file };
    char buf[160], *url;

    e->query = NULL;
    if (res->status == DNS_CANCELED && !e->s->closing) {
        e->s->fetching--;               /* a reload replaced the resolver: ask again */
        sts_fetch_start(e);
        return;
    }
    if (res->status != DNS_OK || res->nhosts == 0 || res->hosts[0].naddrs == 0) {
        snprintf(buf, sizeof(buf), "no address for mta-sts.%s: %s", e->domain,
                 res->why ? res->why : "no address");
        sts_fetch_failed(e, "sts-policy-fetch-error", buf);
        return;
    }
    url = xasprintf(STS_URL_FMT, e->domain);
    o.url = url;
    o.addrs = res->hosts[0].addrs;
    o.naddrs = res->hosts[0].naddrs;
    e->state = STS_E_FETCH;
    e->req = relay_http_start(e->s->http, &o, sts_http_done, e);
    free(url);
}

/* sts_fetch_start - a fetch slot is e's: resolve the policy host */

static void sts_fetch_start(struct sts_entry *e)
{
    struct relay_sts *s = e->s;
    char *host = xasprintf("mta-sts.%s", e->domain);

    s->fetching++;
    e->state = STS_E_HOST;
    if (*s->resolver == NULL) {
        free(host);
        sts_fetch_failed(e, "sts-policy-fetch-error", "no DNS resolver");  /* the stop */
        return;
    }
    e->query = dns_host_lookup(*s->resolver, host, sts_host_done, e);
    free(host);
}

/* sts_fetch_next - start waiting fetches while slots are free */

static void sts_fetch_next(struct relay_sts *s)
{
    while (s->fetchq != NULL && s->fetching < RELAY_STS_MAX_FETCHES && !s->closing) {
        struct sts_entry *e = s->fetchq;

        s->fetchq = e->qnext;
        if (s->fetchq == NULL)
            s->fetchq_tail = NULL;
        e->qnext = NULL;
        sts_fetch_start(e);
    }
}

/* sts_fetch - a fetch of e's policy with TXT id id is due */

static void sts_fetch(struct sts_entry *e, const char *id)
{
    struct relay_sts *s = e->s;

    snprintf(e->id, sizeof(e->id), "%s", id);
    e->state = STS_E_QUEUED;
    if (s->fetching < RELAY_STS_MAX_FETCHES) {
        sts_fetch_start(e);
        return;
    }
    if (s->fetchq_tail != NULL)
        s->fetchq_tail->qnext = e;
    else
        s->fetchq = e;
    s->fetchq_tail = e;
}

/* sts_refresh_due - the cached policy is older than half its max_age
 * (RELAY_STS_REFRESH_MAX_MS at most): refresh it before it runs out */

static bool sts_refresh_due(const struct sts_entry *e, uint64_t now)
{
    uint64_t half = e->policy->max_age_s * 1000 / 2;

    if (half > RELAY_STS_REFRESH_MAX_MS)
        half = RELAY_STS_REFRESH_MAX_MS;
    return now >= e->policy->fetched_ms && now - e->policy->fetched_ms >= half;
}

/* sts_txt_id - the TXT record names policy id: cached, fetched, or backing off */

static void sts_txt_id(struct sts_entry *e, const char *id)
{
    uint64_t now = e->s->now_ms();
    char buf[200];

    if (e->policy != NULL && strcmp(e->policy->id, id) == 0 && sts_usable(e)) {
        if (e->bg_failure != NULL) {    /* a background refresh failed: told once */
            const char *failure = e->bg_failure;

            e->bg_failure = NULL;
            snprintf(buf, sizeof(buf), "%s", e->bg_why);
            sts_finish(e, RELAY_STS_STALE, failure, buf);
            return;
        }
        if (!sts_refresh_due(e, now) || sts_backing_off(e, id, now)) {
            sts_finish(e, RELAY_STS_OK, NULL, NULL);
            return;
        }
        /* RFC 8461 5.1: refresh before max_age runs out.  The waiters get the
         * cached policy now; the fetch goes on without them, and a failure
         * keeps the cached one (until max_age). */
        e->bg = true;
        sts_notify(e, RELAY_STS_OK, NULL, STS_WHY_REFRESH);
        sts_fetch(e, id);
        return;
    }
    if (sts_backing_off(e, id, now)) {  /* the last failure, told, not reported again */
        snprintf(buf, sizeof(buf), "the fetch of policy id %s failed; next try in %llu s", id,
                 (unsigned long long)((e->retry_ms - now + 999) / 1000));
        if (sts_usable(e)) {
            sts_finish_told(e, RELAY_STS_STALE, e->fail_type, true, buf);
        } else {
            if (e->policy != NULL)
                sts_drop(e);
            sts_finish_told(e, RELAY_STS_FAILED, e->fail_type, true, buf);
        }
        return;
    }
    sts_fetch(e, id);
}

/* sts_txt_done - the _mta-sts TXT answer decides */

static void sts_txt_done(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct sts_entry *e = arg;
    struct relay_sts *s = e->s;
    char id[POLICY_STS_ID_MAX + 1], buf[160];
    const char *why = NULL;

    e->query = NULL;
    if (s->closing) {
        sts_finish(e, RELAY_STS_CANCELED, NULL, "shutdown");
        sts_try_free(s);
        return;
    }
    if (res->status == DNS_CANCELED) {  /* a reload replaced the resolver: ask again */
        e->state = STS_E_IDLE;
        sts_step(e);
        return;
    }
    if (res->status == DNS_OK
        && policy_sts_txt_pick(res->txt, res->ntxt, id, &why) == POLICY_STS_TXT_OK) {
        sts_txt_id(e, id);
        return;
    }
    if (res->status == DNS_OK || res->status == DNS_FAIL) {   /* no (usable) record */
        if (sts_usable(e)) {
            sts_finish(e, RELAY_STS_OK, NULL, "no TXT record; cached policy within max_age");
            return;
        }
        if (e->policy != NULL) {
            sts_log(e, e->policy->id, "expired", NULL, why ? why : "no TXT record");
            sts_drop(e);
        }
        sts_finish(e, RELAY_STS_NONE, NULL, why ? why : "no TXT record");
        return;
    }
    snprintf(buf, sizeof(buf), "TXT lookup of _mta-sts.%s failed: %s", e->domain,
             res->why ? res->why : "DNS error");
    if (sts_usable(e)) {                /* DNS_RETRY */
        sts_log(e, e->policy->id, "stale", NULL, buf);
        sts_finish(e, RELAY_STS_STALE, NULL, buf);
        return;
    }
    sts_log(e, NULL, "none", NULL, buf);
    sts_finish(e, RELAY_STS_NONE, NULL, buf);
}

/* sts_step - an idle entry with waiters starts its round */

static void sts_step(struct sts_entry *e)
{
    struct relay_sts *s = e->s;
    char *name;

    if (!e->loaded && s->cache_dir != NULL && policy_sts_domain_ok(e->domain)) {
        if (e->io > 0)
            return;                     /* relay__sts_io_done steps again */
        e->state = STS_E_READ;
        relay__sts_cache_read(e);
        return;
    }
    e->loaded = true;
    /* The stop, or not a host name (an address literal "[...]" would make
     * another URL): the waiters hear from the timer */
    if (s->closing || *s->resolver == NULL || !policy_sts_domain_ok(e->domain)) {
        uv_timer_start(&s->later, sts_later, 0, 0);
        return;
    }
    e->state = STS_E_TXT;
    name = xasprintf("_mta-sts.%s", e->domain);
    e->query = dns_txt_lookup(*s->resolver, name, sts_txt_done, e);
    free(name);
}

/* relay__sts_loaded - the cache file of e was read */

void relay__sts_loaded(struct sts_entry *e, struct sts_policy *policy, const char *why)
{
    e->loaded = true;
    if (policy != NULL && e->policy == NULL) {
        e->policy = policy;
        sts_log(e, policy->id, "loaded", NULL, NULL);
    } else {
        policy_sts_unref(policy);
        if (why != NULL)
            sts_log(e, NULL, "invalid-cache", NULL, why);
    }
}

/* sts_entry_free - e is idle, without waiters or work */

static void sts_entry_free(struct sts_entry *e)
{
    struct relay_sts *s = e->s;

    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        s->entries = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    s->nentries--;
    policy_sts_unref(e->policy);
    free(e->domain);
    free(e->ca_file);
    free(e);
}

/* sts_idle - nothing in flight for e and nobody waits */

static bool sts_idle(const struct sts_entry *e)
{
    return e->state == STS_E_IDLE && e->waiters == NULL && e->io == 0 && !e->finishing
           && e->query == NULL && e->req == NULL;
}

/* relay__sts_io_done - pool work of e ended */

void relay__sts_io_done(struct sts_entry *e)
{
    struct relay_sts *s = e->s;

    if (s->closing) {
        if (e->state == STS_E_READ)
            sts_finish(e, RELAY_STS_CANCELED, NULL, "shutdown");
        else if (e->dirty && e->io == 0)
            relay__sts_cache_sync(e);   /* a policy fetched while the last write ran:
                                         * the close waits for this one too */
        sts_try_free(s);
        return;
    }
    if (e->dirty && e->io == 0)
        relay__sts_cache_sync(e);       /* a newer state than the one just written */
    if (e->state == STS_E_READ)
        sts_step(e);
}

/* sts_evict - keep at most s->max_entries entries: idle ones from the LRU end (an
 * entry in use stays; the bound is met again at a later lookup) */

static void sts_evict(struct relay_sts *s)
{
    struct sts_entry *e = s->entries;

    if (s->nentries <= s->max_entries)
        return;
    while (e != NULL && e->next != NULL)
        e = e->next;                    /* the least recently used */
    while (e != NULL && s->nentries > s->max_entries) {
        struct sts_entry *prev = e->prev;

        if (sts_idle(e) && !e->dirty)
            sts_entry_free(e);
        e = prev;
    }
}

/* relay_sts_lookup - the policy of domain, later */

struct relay_sts_lookup *relay_sts_lookup(struct relay_sts *s, const char *domain,
                                          const char *ca_file, relay_sts_cb *cb, void *arg)
{
    struct relay_sts_lookup *l = xcalloc(1, sizeof(*l));
    char *key = xstrdup(domain);
    struct sts_entry *e;
    size_t n = strlen(key);

    if (n > 0 && key[n - 1] == '.')
        key[n - 1] = '\0';
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    for (e = s->entries; e != NULL; e = e->next)
        if (strcmp(e->domain, key) == 0)
            break;
    if (e == NULL) {
        e = xcalloc(1, sizeof(*e));
        e->s = s;
        e->domain = key;
        s->nentries++;
    } else {
        free(key);
        if (e->prev != NULL) {          /* unlink: it moves to the front */
            e->prev->next = e->next;
            if (e->next != NULL)
                e->next->prev = e->prev;
        } else {
            s->entries = e->next;
            if (e->next != NULL)
                e->next->prev = NULL;
        }
    }
    e->prev = NULL;
    e->next = s->entries;
    if (s->entries != NULL)
        s->entries->prev = e;
    s->entries = e;
    free(e->ca_file);
    e->ca_file = ca_file ? xstrdup(ca_file) : NULL;
    l->e = e;
    l->cb = cb;
    l->arg = arg;
    l->next = e->waiters;
    e->waiters = l;
    if (e->state == STS_E_IDLE && !e->finishing)
        sts_step(e);
    else if (e->bg && !e->finishing)    /* a refresh in the background: the cache answers */
        uv_timer_start(&s->later, sts_later, 0, 0);
    sts_evict(s);
    return l;
}

/* relay_sts_cancel - the caller no longer wants l's answer */

void relay_sts_cancel(struct relay_sts_lookup *l)
{
    for (struct relay_sts_lookup **pp = &l->e->waiters; *pp != NULL; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    free(l);                            /* e goes on: its fetch still fills the cache */
}

/* sts_later - idle entries with waiters and no resolver (the stop), or whose
 * domain is not a host name: their answer; lookups that joined a refresh in
 * the background: the cached policy */

static void sts_later(uv_timer_t *t)
{
    struct relay_sts *s = t->data;

    for (struct sts_entry *e = s->entries; e != NULL; e = e->next)
        if (e->waiters != NULL && e->bg && !e->finishing && !s->closing && sts_usable(e)) {
            sts_notify(e, RELAY_STS_OK, NULL, STS_WHY_REFRESH);
        } else if (e->waiters != NULL && e->state == STS_E_IDLE && !e->finishing) {
            if (s->closing)
                sts_finish(e, RELAY_STS_CANCELED, NULL, "shutdown");
            else if (!policy_sts_domain_ok(e->domain))
                sts_finish(e, RELAY_STS_NONE, NULL, "not a domain name");
            else
                sts_finish(e, RELAY_STS_NONE, NULL, "no DNS resolver");
        }
    sts_try_free(s);
}

/* relay_sts_new - an empty cache */

struct relay_sts *relay_sts_new(uv_loop_t *loop, struct dns_resolver *const *resolver,
                                struct relay_http *http, const char *cache_dir,
                                uint64_t (*now_ms)(void))
{
    struct relay_sts *s = xcalloc(1, sizeof(*s));

    s->loop = loop;
    s->resolver = resolver;
    s->http = http;
    s->cache_dir = cache_dir ? xstrdup(cache_dir) : NULL;
    s->now_ms = now_ms ? now_ms : sts_wall_ms;
    s->max_entries = RELAY_STS_MAX_DOMAINS;
    uv_timer_init(loop, &s->later);
    s->later.data = s;
    return s;
}

/* relay_sts_limit - a lower bound on the policies in memory */

void relay_sts_limit(struct relay_sts *s, size_t max_domains)
{
    s->max_entries = max_domains > 0 ? max_domains : 1;
}

/* relay_sts_io_pending - pool work in flight */

unsigned relay_sts_io_pending(const struct relay_sts *s)
{
    return s->io;
}

/* relay_sts_fetches_pending - fetches running or queued */

unsigned relay_sts_fetches_pending(const struct relay_sts *s)
{
    unsigned n = s->fetching;

    for (const struct sts_entry *e = s->fetchq; e != NULL; e = e->qnext)
        n++;
    return n;
}

/* sts_closed - the timer is closed: free everything */

static void sts_closed(uv_handle_t *h)
{
    struct relay_sts *s = h->data;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;

    while (s->entries != NULL)
        sts_entry_free(s->entries);
    free(s->cache_dir);
    free(s);
    if (done != NULL)
        done(arg);
}

/* sts_try_free - a closing cache with nothing in flight goes */

static void sts_try_free(struct relay_sts *s)
{
    if (!s->closing || s->timer_closed)
        return;
    for (struct sts_entry *e = s->entries; e != NULL; e = e->next)
        if (e->io > 0 || e->query != NULL || e->finishing || e->waiters != NULL)
            return;
    s->timer_closed = true;
    uv_close((uv_handle_t *)&s->later, sts_closed);
}

/* relay_sts_close - end every lookup, then free */

void relay_sts_close(struct relay_sts *s, void (*done)(void *), void *arg)
{
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    s->fetchq = s->fetchq_tail = NULL;
    for (struct sts_entry *e = s->entries; e != NULL; e = e->next) {
        e->qnext = NULL;
        e->bg = false;
        if (e->req != NULL) {           /* no callback: the timer answers its waiters */
            relay_http_cancel(e->req);
            e->req = NULL;
            e->state = STS_E_IDLE;
        } else if (e->state == STS_E_QUEUED) {
            e->state = STS_E_IDLE;
        }
        if (e->query != NULL)
            dns_query_cancel(e->query); /* its callback answers CANCELED */
    }
    uv_timer_start(&s->later, sts_later, 0, 0);
}
