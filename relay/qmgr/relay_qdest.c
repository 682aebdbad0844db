/*
 * relay_qdest.c - destinations: where a send connector and next hop lead.
 *
 * A destination (send connector + recipient domain, or the connector's
 * smart hosts) resolves its addresses (MX with c-ares, or the smart hosts
 * in order, literals without DNS), holds the jobs waiting for it, and
 * starts connections (relay_smtpc.c) up to the per-domain and total
 * limits.  DNS outcomes are turned into recipient outcomes here: null MX
 * and NXDOMAIN fail, anything transient defers.
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
#include "policy_secure.h"
#include "relay_qmgr_int.h"
#include "relay_tls.h"
#include "tls_ctx.h"

#define RELAY_DNS_TTL_MS 60000          /* re-resolve a destination after this */

/* relay__qdest_free - a destination with no jobs and no connections */

void relay__qdest_free(struct relay_dest *d)
{
    for (struct relay_dest **pp = &relay__q.dests; *pp != NULL; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    for (size_t i = 0; i < d->naddrs; i++)
        free(d->names[i]);
    free(d->names);
    free(d->addrs);
    free(d->key);
    free(d->domain);
    free(d->dns_why);
    tls_ctx_unref(d->tls_ctx);
    policy_config_unref(d->cfg);
    free(d);
}

/* qmgr_dest_add_addr - one address to try, with its port */

static void qmgr_dest_add_addr(struct relay_dest *d, const struct sockaddr_storage *ss,
                               const char *name, int port)
{
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

/* qmgr_dest_kick - start connections for waiting jobs */

static void qmgr_dest_kick(struct relay_dest *d)
{
    const struct cfg_transport *t = &d->cfg->transport;

    while (d->njobs > 0 && relay_smtpc_wake(d))
        ;                               /* idle connections first */
    if (d->njobs > 0 && d->conns < t->max_per_domain_outbound_connections
        && relay__q.conns >= t->max_outbound_connections)
        (void)relay_smtpc_close_idle(d);        /* its slot comes back via conn_gone */
    while (d->njobs > 0 && d->conns < t->max_per_domain_outbound_connections
           && relay__q.conns < t->max_outbound_connections && d->naddrs > 0 && !relay__q.stopping) {
        relay__q.conns++;
        relay_smtpc_start(d, &relay__q.w.loop);
    }
    if (d->njobs == 0 && d->conns == 0 && !d->resolving)
        relay__qdest_free(d);
}

/* relay__qmgr_conn_gone - a connection of d ended */

void relay__qmgr_conn_gone(struct relay_dest *d)
{
    relay__q.conns--;
    d->conns--;
    qmgr_dest_kick(d);                  /* may free d */
    /* Jobs of other destinations that waited for a slot.  A kick frees only
     * a destination without jobs, and what a job's end starts (records, DSNs)
     * is asynchronous, so only o itself could go: next is taken first. */
    for (struct relay_dest *o = relay__q.dests, *next; o != NULL; o = next) {
        next = o->next;
        if (o->njobs > 0 && !o->resolving)
            qmgr_dest_kick(o);
    }
    relay__qmgr_schedule();                    /* a freed slot may start other work */
    relay__qmgr_maybe_exit();
}

static void qmgr_resolve(struct relay_dest *d);

/* qmgr_dns_done - the next hop's addresses are known (or not) */

static void qmgr_dns_done(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct relay_dest *d = arg;
    const struct cfg_send *sc = d->sc;
    char *text;

    d->resolving = false;
    relay__q.busy--;
    if (res->status == DNS_CANCELED && !relay__q.stopping) {
        qmgr_resolve(d);                /* its resolver was replaced (reload): ask again */
        return;
    }
    d->resolved_ms = relay__qmgr_now();
    d->dns_status = res->status;
    if (res->status == DNS_CANCELED) {
        relay__qmgr_dest_flush(d, RELAY_O_DEFER, "451 4.4.0 delivery interrupted by shutdown", false);
    } else if (res->status == DNS_OK) {
        for (size_t h = 0; h < res->nhosts; h++)
            for (size_t a = 0; a < res->hosts[h].naddrs; a++)
                qmgr_dest_add_addr(d, &res->hosts[h].addrs[a], res->hosts[h].name, sc->port);
    } else if (res->status == DNS_NULLMX) {
        relay__qmgr_dest_flush(d, RELAY_O_FAIL, "556 5.1.10 Recipient address has null MX", false);
    } else if (res->status == DNS_FAIL) {
        log_info("queue", 0, "dns domain=%s status=fail why=\"%s\"", d->domain,
                 res->why ? res->why : "");
        relay__qmgr_dest_flush(d, RELAY_O_FAIL, "550 5.1.2 DNS domain does not exist", false);
    } else {
        text = xasprintf("451 4.4.0 DNS query failed: %s", res->why ? res->why : "error");
        relay__qmgr_dest_flush(d, RELAY_O_DEFER, text, false);
        free(text);
    }
    qmgr_dest_kick(d);
    relay__qmgr_maybe_exit();
}

/* qmgr_literal - a smart host that is an IP literal (needs no DNS) into ss */

static bool qmgr_literal(const char *host, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ss->ss_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ss->ss_family = AF_INET6;
        return true;
    }
    return false;
}

/* qmgr_sh_done - one smart host name resolved; continue with the next */

static void qmgr_sh_done(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct relay_dest *d = arg;
    const struct cfg_smarthost *h = &d->sc->smart_hosts[d->dns_status];

    relay__q.busy--;
    if (res->status == DNS_CANCELED && !relay__q.stopping) {
        qmgr_resolve(d);                /* its resolver was replaced (reload): ask again */
        return;
    }
    if (res->status == DNS_CANCELED) {
        d->resolving = false;
        relay__qmgr_dest_flush(d, RELAY_O_DEFER, "451 4.4.0 delivery interrupted by shutdown", false);
        qmgr_dest_kick(d);
        relay__qmgr_maybe_exit();
        return;
    }
    if (res->status == DNS_OK)
        for (size_t a = 0; a < res->hosts[0].naddrs; a++)
            qmgr_dest_add_addr(d, &res->hosts[0].addrs[a], h->host,
                               h->port ? h->port : d->sc->port);
    d->dns_status++;
    qmgr_resolve(d);
}

/* qmgr_resolve - find d's addresses: MX of the domain, or the smart hosts */

static void qmgr_resolve(struct relay_dest *d)
{
    const struct cfg_send *sc = d->sc;

    if (sc->dns_routing) {
        d->resolving = true;
        relay__q.busy++;
        dns_mx_lookup(relay__q.resolver, d->domain, qmgr_dns_done, d);
        return;
    }
    /* Smart hosts in order; dns_status is the index of the next one. */
    while ((size_t)d->dns_status < sc->nsmart_hosts) {
        const struct cfg_smarthost *h = &sc->smart_hosts[d->dns_status];
        struct sockaddr_storage ss;

        if (qmgr_literal(h->host, &ss)) {
            qmgr_dest_add_addr(d, &ss, h->host, h->port ? h->port : sc->port);
            d->dns_status++;
            continue;
        }
        d->resolving = true;
        relay__q.busy++;
        dns_host_lookup(relay__q.resolver, h->host, qmgr_sh_done, d);
        return;
    }
    d->resolving = false;
    d->resolved_ms = relay__qmgr_now();
    if (d->naddrs == 0)
        relay__qmgr_dest_flush(d, RELAY_O_DEFER, "451 4.4.0 No address for any smart host", false);
    qmgr_dest_kick(d);
}

/* How the SMTP client reports to us. */
static const struct relay_dest_ops qdest_ops = {
    .job_done = relay__qmgr_job_done,
    .dest_failed = relay__qmgr_dest_failed,
    .conn_gone = relay__qmgr_conn_gone,
};

/* relay__qdest_get - the destination for a connector and recipient domain */

struct relay_dest *relay__qdest_get(struct config *cfg, const struct cfg_send *sc,
                                        const char *domain)
{
    char *key = xasprintf("%s\n%s", sc->name, sc->dns_routing ? domain : "");
    struct relay_dest *d;

    for (d = relay__q.dests; d != NULL; d = d->next)
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
    d->listed = sc->dns_routing && policy_secure_listed(&cfg->transport.send_secure, domain);
    d->ops = &qdest_ops;
    d->next = relay__q.dests;
    relay__q.dests = d;
    return d;
}

/* relay__qdest_enqueue - add a job; resolve or connect as needed */

void relay__qdest_enqueue(struct relay_dest *d, struct relay_job *j)
{
    relay_dest_put_job(d, j);
    if (d->resolving)
        return;
    if (d->naddrs == 0 || relay__qmgr_now() - d->resolved_ms > RELAY_DNS_TTL_MS) {
        if (d->conns == 0) {            /* (re)resolve when nobody uses the old list */
            for (size_t i = 0; i < d->naddrs; i++)
                free(d->names[i]);
            d->naddrs = 0;
            d->dns_status = 0;
            qmgr_resolve(d);
            return;
        }
    }
    qmgr_dest_kick(d);
}

