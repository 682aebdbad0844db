/*
 * relay_qdest.c - destinations: where a send connector and next hop lead.
 *
 * A destination (send connector + recipient domain, or the connector's
 * smart hosts) resolves its addresses (MX with c-ares, or the smart hosts
 * in order, literals without DNS; a DNSSEC-secure MX RRset also has its
 * hosts' TLSA records looked up first: relay_qdane.c, d->dane), holds the
 * jobs waiting for it, and
 * starts connections (relay_smtpc.c) up to the per-domain and total
 * limits.  What a lookup's outcome means for the waiting jobs (null MX,
 * NXDOMAIN and MX hosts without address fail, anything transient defers,
 * no smart host address defers) is relay_decide()'s; this file carries it
 * out.
 *
 * A destination's owner is its queue manager (struct qmgr): the SMTP
 * client reports through qdest_ops (qmgr_sched_job_done,
 * qmgr_sched_dest_failed, qmgr_dest_conn_gone), which find it in d->owner;
 * connections are started through q->smtp (relay_smtpc_*, or a test's
 * fake).  Smart hosts are resolved in order, d->smart_host the next one;
 * d->dns_status is only the last lookup's status.
 *
 * CONTRACT
 *  Runs on the queue manager's loop.  A destination is freed once it has
 *  no jobs, no connections and no lookup in flight.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "policy_secure.h"
#include "relay_qmgr_int.h"
#include "relay_sts.h"
#include "relay_tls.h"
#include "relay_tlsrpt.h"
#include "tls_ctx.h"

#define RELAY_DNS_TTL_MS 60000          /* re-resolve a destination after this */

/* qmgr_dest_free - a destination with no connections (and normally no jobs) */

void qmgr_dest_free(struct qmgr *q, struct relay_dest *d)
{
    struct relay_job *j;

    if (d->njobs > 0)                   /* a bug: their rounds never end */
        log_warnx("qmgr", 0, "destination %s freed with %zu waiting jobs", d->domain, d->njobs);
    while ((j = relay_dest_take_job(d)) != NULL)
        relay_job_free(j);
    for (struct relay_dest **pp = &q->dests; *pp != NULL; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    qmgr_dane_free(d);
    for (size_t i = 0; i < d->naddrs; i++)
        free(d->names[i]);
    free(d->names);
    free(d->addrs);
    free(d->key);
    free(d->domain);
    free(d->dns_why);
    policy_sts_unref(d->sts);
    tls_ctx_unref(d->tls_ctx);
    tls_ctx_unref(d->webpki);
    policy_config_unref(d->cfg);
    free(d);
}

/* qdest_add_addr - one address to try, with its port (and its host's DANE
 * state: dn given for every address of a DANE destination; the first
 * address of the host (first) gets a copy, the others share it) */

static void qdest_add_addr(struct relay_dest *d, const struct sockaddr_storage *ss,
                           const char *name, int port, const struct relay_dane *dn, bool first)
{
    if (dn != NULL) {
        d->dane = xrealloc(d->dane, (d->naddrs + 1) * sizeof(*d->dane));
        if (first || d->naddrs == 0)
            qmgr_dane_copy(&d->dane[d->naddrs], dn);
        else
            d->dane[d->naddrs] = d->dane[d->naddrs - 1];    /* freed once: qmgr_dane_free */
    }
    d->addrs = xrealloc(d->addrs, (d->naddrs + 1) * sizeof(*d->addrs));
    d->names = xrealloc(d->names, (d->naddrs + 1) * sizeof(*d->names));
    d->addrs[d->naddrs] = *ss;
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&d->addrs[d->naddrs])->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&d->addrs[d->naddrs])->sin_port = htons((uint16_t)port);
    d->names[d->naddrs] = xstrdup(name);
    d->naddrs++;
}

/* qdest_kick - start connections for waiting jobs */

static void qdest_kick(struct qmgr *q, struct relay_dest *d)
{
    const struct cfg_transport *t = &d->cfg->transport;

    while (d->njobs > 0 && q->smtp->wake(d))
        ;                               /* idle connections first */
    if (d->njobs > 0 && d->conns < t->max_per_domain_outbound_connections
        && q->conns >= t->max_outbound_connections)
        (void)q->smtp->close_idle(q->client, d);   /* its slot comes back via conn_gone */
    while (d->njobs > 0 && d->conns < t->max_per_domain_outbound_connections
           && q->conns < t->max_outbound_connections && d->naddrs > 0 && !q->stopping) {
        q->conns++;
        q->smtp->start(d, &q->w.loop);
    }
    if (d->njobs == 0 && d->conns == 0 && !d->resolving)
        qmgr_dest_free(q, d);
}

/* qmgr_dest_conn_gone - a connection of d ended */

void qmgr_dest_conn_gone(struct relay_dest *d)
{
    struct qmgr *q = d->owner;

    q->conns--;
    d->conns--;
    qdest_kick(q, d);                   /* may free d */
    /* Jobs of other destinations that waited for a slot.  A kick frees only
     * a destination without jobs, and what a job's end starts (records, DSNs)
     * is asynchronous, so only o itself could go: next is taken first. */
    for (struct relay_dest *o = q->dests, *next; o != NULL; o = next) {
        next = o->next;
        if (o->njobs > 0 && !o->resolving)
            qdest_kick(q, o);
    }
    qmgr_sched_run(q);                  /* a freed slot may start other work */
    qmgr_maybe_exit(q);
}

static void qdest_resolve(struct qmgr *q, struct relay_dest *d);

/* qdest_decide - what ev means for d's waiting jobs (relay_decide): all of
 * them get its outcome when it fails the destination, else nothing */

static void qdest_decide(struct qmgr *q, struct relay_dest *d, const struct relay_event *ev)
{
    struct relay_decision dec = relay_decide(ev);

    if (dec.host == RELAY_H_FAIL_ALL)
        qmgr_sched_dest_flush(q, d, &dec);
    relay_decision_free(&dec);
}

/* qdest_sts_filter - MTA-STS enforce: only the MX hosts the policy names
 * (RFC 8461 4.1), and hosts with usable TLSA records (DANE authenticates
 * them, and MTA-STS must not override DANE: RFC 8461 2; the MX RRset is
 * DNSSEC-validated, so their names are not spoofed); each refused one is
 * noted for TLS-RPT (validation-failure, RFC 8460 4.3.1's catch-all: a
 * spoofed MX is what MTA-STS reveals); none left: every waiting job is
 * deferred (relay_decide).  A host whose records are all unusable is not
 * authenticated by anything: the policy must name it. */

static void qdest_sts_filter(struct qmgr *q, struct relay_dest *d, const struct dns_result *res,
                             const struct relay_dane *hdane)
{
    char refused[512] = "";
    size_t used = 0, matched = 0;

    for (size_t h = 0; h < res->nhosts; h++) {
        const struct dns_host *host = &res->hosts[h];
        char name[256];

        if (policy_sts_mx_match(d->sts, host->name)
            || (hdane != NULL && hdane[h].state == RELAY_DANE_USABLE)) {
            matched++;
            for (size_t a = 0; a < host->naddrs; a++)
                qdest_add_addr(d, &host->addrs[a], host->name, d->sc->port,
                               hdane ? &hdane[h] : NULL, a == 0);
            continue;
        }
        relay_sts_ascii(name, sizeof(name), host->name);
        relay_tlsrpt_note(d->tlsrpt, &(struct tlsrpt_result){
            .domain = d->domain, .type = TLSRPT_STS, .sts = d->sts,
            .failure = "validation-failure", .mx_host = name,
            .detail = "MX host not named by the policy" });
        if (used < sizeof(refused) - 1) {
            int n = snprintf(refused + used, sizeof(refused) - used, "%s%s", used ? ", " : "",
                             name);

            used = n < 0 ? used : used + (size_t)n;
        }
    }
    if (refused[0] != '\0')
        log_info("queue", 0, "mta-sts domain=%s id=%s mode=enforce mx-refused=\"%s\" "
                 "mx-allowed=%zu", d->domain, d->sts->id, refused, d->naddrs);
    if (d->naddrs == 0) {
        /* Hosts that matched but have no address: the other text (relay_trouble). */
        struct relay_event ev = { .stage = RELAY_S_STS, .domain = d->domain,
                                  .text = matched > 0 ? NULL : refused };

        qdest_decide(q, d, &ev);
    }
}

/* qdest_dane_wins - note whether some address is DANE-USABLE.  DANE wins
 * per host, not per domain: the MTA-STS policy (if any) is kept for the
 * hosts without validated TLSA records (relay__smtpc_sts asks per address),
 * so one DANE host does not downgrade the others to opportunistic TLS */

static void qdest_dane_wins(struct relay_dest *d, const struct dns_result *res,
                            const struct relay_dane *hdane)
{
    for (size_t h = 0; h < res->nhosts && !d->dane_applies; h++)
        d->dane_applies = hdane[h].state == RELAY_DANE_USABLE && res->hosts[h].naddrs > 0;
    if (d->dane_applies && d->sts != NULL)
        log_info("queue", 0, "dane domain=%s wins over mta-sts id=%s for its DANE hosts; "
                 "mta-sts applies to the others", d->domain, d->sts->id);
}

/* qmgr_dest_hosts - the MX lookup's outcome: addresses, decision, connections */

void qmgr_dest_hosts(struct qmgr *q, struct relay_dest *d, const struct dns_result *res,
                     const struct relay_dane *hdane)
{
    const struct cfg_send *sc = d->sc;
    struct relay_event ev = { .stage = RELAY_S_DNS, .dns = res };

    d->resolving = false;
    d->resolved_ms = qmgr_now(q);
    d->dns_status = res->status;
    if (res->status == DNS_OK && hdane != NULL)
        qdest_dane_wins(d, res, hdane);
    if (res->status == DNS_OK && d->sts != NULL && d->sts->mode == STS_MODE_ENFORCE) {
        qdest_sts_filter(q, d, res, hdane);     /* may defer every job */
    } else if (res->status == DNS_OK) {
        for (size_t h = 0; h < res->nhosts; h++)
            for (size_t a = 0; a < res->hosts[h].naddrs; a++)
                qdest_add_addr(d, &res->hosts[h].addrs[a], res->hosts[h].name, sc->port,
                               hdane ? &hdane[h] : NULL, a == 0);
    }
    if (res->status == DNS_FAIL)
        log_info("queue", 0, "dns domain=%s status=fail why=\"%s\"", d->domain,
                 res->why ? res->why : "");
    qdest_decide(q, d, &ev);            /* OK: go on; else every waiting job's outcome */
    qdest_kick(q, d);
    qmgr_maybe_exit(q);
}

/* qdest_dns_done - the next hop's addresses are known (or not); a secure
 * MX RRset of a DANE destination first has its TLSA records looked up */

static void qdest_dns_done(struct dns_query *query, const struct dns_result *res, void *arg)
{
    struct relay_dest *d = arg;
    struct qmgr *q = d->owner;

    q->busy--;
    if (res->status == DNS_CANCELED && !q->stopping) {
        qdest_resolve(q, d);            /* its resolver was replaced (reload): ask again */
        return;
    }
    if (res->status == DNS_OK && res->secure && qmgr_dane_wanted(q, d)) {
        qmgr_dane_start(q, d, res);     /* d->resolving until its TLSA answers are in */
        return;
    }
    qmgr_dest_hosts(q, d, res, NULL);
}

/* qdest_sh_done - one smart host name resolved; continue with the next */

static void qdest_sh_done(struct dns_query *query, const struct dns_result *res, void *arg)
{
    struct relay_dest *d = arg;
    struct qmgr *q = d->owner;
    const struct cfg_smarthost *h = &d->sc->smart_hosts[d->smart_host];

    q->busy--;
    if (res->status == DNS_CANCELED && !q->stopping) {
        qdest_resolve(q, d);            /* its resolver was replaced (reload): ask again */
        return;
    }
    if (res->status == DNS_CANCELED) {
        struct relay_event ev = { .stage = RELAY_S_SHUTDOWN };

        d->resolving = false;
        qdest_decide(q, d, &ev);
        qdest_kick(q, d);
        qmgr_maybe_exit(q);
        return;
    }
    if (res->status == DNS_OK)
        for (size_t a = 0; a < res->hosts[0].naddrs; a++)
            qdest_add_addr(d, &res->hosts[0].addrs[a], h->host,
                           h->port ? h->port : d->sc->port, NULL, false);
    d->smart_host++;
    qdest_resolve(q, d);
}

/* qdest_sts_done - the domain's MTA-STS policy (or none): now the MX lookup */

static void qdest_sts_done(void *arg, const struct relay_sts_result *res)
{
    struct relay_dest *d = arg;
    struct qmgr *q = d->owner;

    q->busy--;
    d->sts_checked = true;
    policy_sts_unref(d->sts);
    d->sts = res->policy != NULL ? policy_sts_ref(res->policy) : NULL;
    d->sts_stale = res->status == RELAY_STS_STALE;
    d->sts_failure = res->failure;      /* static strings */
    /* A failed fetch or parse (FAILED, or STALE: the cached policy goes on) is
     * TLS-RPT's sts-policy-fetch-error / -invalid / sts-webpki-invalid, noted
     * once per attempt: told marks a back-off's repeat of the last failure
     * and our own trust store's failure, which sts_failure still carries (a
     * REQUIRETLS message defers).  why is printable ASCII (relay_sts). */
    if (res->failure != NULL && !res->told && res->status != RELAY_STS_CANCELED)
        relay_tlsrpt_note(d->tlsrpt, &(struct tlsrpt_result){
            .domain = d->domain, .type = TLSRPT_STS, .sts = res->policy,
            .failure = res->failure, .detail = res->why });
    qdest_resolve(q, d);                /* the stop (CANCELED included): SHUTDOWN there */
}

/* qdest_resolve - find d's addresses: MX of the domain, or the smart hosts
 * (none once the stop has begun: the resolver is closing or gone, and the
 * waiting jobs come back with RELAY_S_SHUTDOWN) */

static void qdest_resolve(struct qmgr *q, struct relay_dest *d)
{
    const struct cfg_send *sc = d->sc;

    if (q->stopping || q->resolver == NULL) {
        struct relay_event ev = { .stage = RELAY_S_SHUTDOWN };

        d->resolving = false;
        qdest_decide(q, d, &ev);
        qdest_kick(q, d);               /* may free d (starts nothing: stopping) */
        return;
    }
    /* RFC 8689 4.2.2: a "TLS-Required: No" message's destination asks for no policy. */
    if (sc->dns_routing && !d->listed && !d->tls_required_no && sc->mta_sts && q->sts != NULL
        && !d->sts_checked) {
        d->resolving = true;            /* the policy first: it decides which MX hosts */
        q->busy++;
        relay_sts_lookup(q->sts, d->domain, d->cfg->transport.mta_sts_trusted_ca_file,
                         qdest_sts_done, d);
        return;
    }
    if (sc->dns_routing) {
        d->resolving = true;
        q->busy++;
        dns_mx_lookup(q->resolver, d->domain, qdest_dns_done, d);
        return;
    }
    /* Smart hosts in order; smart_host is the index of the next one. */
    while (d->smart_host < sc->nsmart_hosts) {
        const struct cfg_smarthost *h = &sc->smart_hosts[d->smart_host];
        struct sockaddr_storage ss;

        if (dns_literal(h->host, &ss)) {
            qdest_add_addr(d, &ss, h->host, h->port ? h->port : sc->port, NULL, false);
            d->smart_host++;
            continue;
        }
        d->resolving = true;
        q->busy++;
        dns_host_lookup(q->resolver, h->host, qdest_sh_done, d);
        return;
    }
    d->resolving = false;
    d->resolved_ms = qmgr_now(q);
    if (d->naddrs == 0) {
        struct relay_event ev = { .stage = RELAY_S_SMARTHOST };

        qdest_decide(q, d, &ev);
    }
    qdest_kick(q, d);
}

/* qmgr_dest_resolve - find d's addresses again (relay_qdane.c: a canceled
 * TLSA lookup) */

void qmgr_dest_resolve(struct qmgr *q, struct relay_dest *d)
{
    qdest_resolve(q, d);
}

/* How the SMTP client reports to us. */
static const struct relay_dest_ops qdest_ops = {
    .job_done = qmgr_sched_job_done,
    .dest_failed = qmgr_sched_dest_failed,
    .conn_gone = qmgr_dest_conn_gone,
};

/* qmgr_dest_key - the key of a destination: its connector, and the domain
 * when it routes by MX (smart hosts serve every domain alike); messages
 * with "TLS-Required: No" (RFC 8689 4.2.2) to an MX-routed domain have a
 * destination of their own, the one without MTA-STS policy */

char *qmgr_dest_key(const struct cfg_send *sc, const char *domain, bool tls_required_no)
{
    return xasprintf("%s\n%s%s", sc->name, sc->dns_routing ? domain : "",
                     sc->dns_routing && tls_required_no ? "\ntls-required-no" : "");
}

/* qmgr_dest_get - the destination for a connector and recipient domain
 * (and whether the message says TLS-Required: No) */

struct relay_dest *qmgr_dest_get(struct qmgr *q, struct config *cfg,
                                    const struct cfg_send *sc, const char *domain,
                                    bool tls_required_no)
{
    char *key = qmgr_dest_key(sc, domain, tls_required_no);
    struct relay_dest *d;

    for (d = q->dests; d != NULL; d = d->next)
        if (strcmp(d->key, key) == 0 && d->cfg == cfg) {
            free(key);
            return d;
        }
    d = xcalloc(1, sizeof(*d));
    d->key = key;
    d->domain = xstrdup(domain);
    d->sc = sc;
    d->cfg = policy_config_ref(cfg);
    d->tls_ctx = relay_tls_client_ctx(cfg, sc);
    d->webpki = relay_tls_webpki_ctx(cfg, sc);  /* now: later ones may be gone */
    d->listed = sc->dns_routing && policy_secure_listed(&cfg->transport.send_secure, domain);
    d->tlsrpt = q->tlsrpt;
    d->tls_required_no = sc->dns_routing && tls_required_no;
    d->ops = &qdest_ops;
    d->client = q->client;
    d->owner = q;
    d->next = q->dests;
    q->dests = d;
    return d;
}

/* qmgr_dest_shutdown - the stop (after the SMTP client's shutdown_all):
 * no connection starts any more, so every waiting job comes back now with
 * RELAY_S_SHUTDOWN's decision and its round ends; a destination left with
 * nothing in flight is freed */

void qmgr_dest_shutdown(struct qmgr *q)
{
    struct relay_event ev = { .stage = RELAY_S_SHUTDOWN };
    struct relay_decision dec = relay_decide(&ev);

    /* A flush ends rounds, which only start asynchronous work: no other
     * destination goes meanwhile, so next is safe to take first. */
    for (struct relay_dest *d = q->dests, *next; d != NULL; d = next) {
        next = d->next;
        qmgr_sched_dest_flush(q, d, &dec);
        if (d->conns == 0 && !d->resolving)
            qmgr_dest_free(q, d);
    }
    relay_decision_free(&dec);
}

/* qmgr_dest_forget_dns - d's addresses are stale: the next job resolves
 * again (once no connection uses the old list), so a fixed DNS record is
 * seen at once by `domsec queue retry --domain` */

void qmgr_dest_forget_dns(struct qmgr *q, struct relay_dest *d)
{
    (void)q;
    d->resolved_ms = 0;
}

/* qmgr_dest_enqueue - add a job; resolve or connect as needed */

void qmgr_dest_enqueue(struct qmgr *q, struct relay_dest *d, struct relay_job *j)
{
    relay_dest_put_job(d, j);
    if (d->resolving)
        return;
    if (d->naddrs == 0 || qmgr_now(q) - d->resolved_ms > RELAY_DNS_TTL_MS) {
        if (d->conns == 0) {            /* (re)resolve when nobody uses the old list */
            qmgr_dane_free(d);
            for (size_t i = 0; i < d->naddrs; i++)
                free(d->names[i]);
            d->naddrs = 0;
            d->dns_status = 0;
            d->smart_host = 0;
            d->sts_checked = false;     /* the policy is looked up again too */
            qdest_resolve(q, d);
            return;
        }
    }
    qdest_kick(q, d);
}

/* ---- a destination's share of the rounds in flight (relay_qpark.c) ---- */

/* qdest_wait_get - the share for key (taken: owned or freed), made if new */

static struct qmgr_dwait *qdest_wait_get(struct qmgr *q, char *key)
{
    struct qmgr_dwait *w;

    for (w = q->dwaits; w != NULL; w = w->next)
        if (strcmp(w->key, key) == 0) {
            free(key);
            return w;
        }
    w = xcalloc(1, sizeof(*w));
    w->key = key;
    w->next = q->dwaits;
    q->dwaits = w;
    return w;
}

/* qmgr_dest_waits - the shares of the destinations of m's pending
 * recipients (routed as qsched_dispatch_go routes them; none for a
 * recipient without a route) */

size_t qmgr_dest_waits(struct qmgr *q, const struct config *cfg, const struct relay_qmsg *m,
                       struct qmgr_dwait ***out)
{
    struct qmgr_dwait **v = xcalloc(m->nrcpts + 1, sizeof(*v));
    size_t n = 0;

    q->dwait_pass++;                    /* distinct: marked once in this pass, not O(r^2) */
    for (size_t i = 0; i < m->nrcpts; i++) {
        const struct cfg_send *sc;
        struct qmgr_dwait *w;
        char domain[256];

        if (m->rcpts[i].state != RELAY_R_PENDING)
            continue;
        log_mail_domain(domain, sizeof(domain), m->rcpts[i].addr);
        if ((sc = policy_route_select(cfg, domain)) == NULL)
            continue;
        w = qdest_wait_get(q, qmgr_dest_key(sc, domain, m->tls_required_no));
        if (w->pass != q->dwait_pass) {
            w->pass = q->dwait_pass;
            v[n++] = w;
        }
    }
    *out = v;
    return n;
}

/* qmgr_dest_wait_drop - free w once nothing refers to it */

void qmgr_dest_wait_drop(struct qmgr *q, struct qmgr_dwait *w)
{
    if (w->rounds > 0 || w->head != NULL || w->ready)
        return;
    for (struct qmgr_dwait **pp = &q->dwaits; *pp != NULL; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    free(w->key);
    free(w);
}

/* qmgr_dest_waits_free - every share goes (the messages are gone) */

void qmgr_dest_waits_free(struct qmgr *q)
{
    while (q->dwaits != NULL) {
        struct qmgr_dwait *w = q->dwaits;

        q->dwaits = w->next;
        free(w->key);
        free(w);
    }
    q->dready = q->dready_tail = NULL;
}
