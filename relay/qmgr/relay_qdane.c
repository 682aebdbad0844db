/*
 * relay_qdane.c - DANE (RFC 7672) for a destination: the TLSA records of
 * its MX hosts, found between the MX lookup and the connections.
 *
 * DANE is wanted (qmgr_dane_wanted) for an MX-routed destination when
 * [dns] dnssec = yes, its send connector has dane = yes (the default), the
 * messages do not say "TLS-Required: No" (RFC 8689 4.2.2: no DNS-based
 * policy), and the domain is not on the domain-secure list - or it is and
 * its [partner] section says require = dane.  It applies only when the
 * MX RRset (or the implicit MX's NODATA) is DNSSEC-validated (res->secure,
 * RFC 7672 2.2.1): then every host whose address records are secure gets a
 * TLSA lookup of _PORT._tcp.HOST (PORT: the connector's port, 25 on the
 * Internet), all at once, and each address of the destination gets a
 * struct relay_dane (d->dane, parallel to d->addrs and d->names):
 *
 *   secure TLSA records, some usable  -> USABLE with copies of the usable
 *   secure TLSA records, none usable  -> UNUSABLE (TLS, unauthenticated)
 *   no TLSA (denial), insecure TLSA or insecure host addresses -> NONE
 *   a failed lookup (SERVFAIL = bogus, timeout) -> FAILED, why set: the
 *                                        host is not used (RFC 7672 2.2.3)
 *
 * d->dane_applies is set when some address is USABLE.  DANE wins over
 * MTA-STS per host, not per domain (RFC 8461 2 forbids MTA-STS overriding
 * DANE; it does not drop MTA-STS for hosts DANE does not cover): an enforce
 * policy's MX filter keeps USABLE hosts whatever their names, the hosts
 * without validated TLSA records still need the policy's names and a
 * WebPKI certificate (relay__smtpc_sts per address).  An insecure MX RRset
 * leaves d->dane NULL (DANE does not apply).
 *
 * A record is usable when tls_tlsa_usable() says so (RFC 7672 3.1, RFC
 * 7671 5: usage DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching type
 * 0 with data, 1 (32 bytes) or 2 (64)).  Of the usable records, a host
 * keeps at most QDANE_TLSA_MAX records and QDANE_TLSA_BYTES bytes of
 * association data (a hostile signed zone must not make us hold megabytes
 * per host): a usable record beyond that is treated as unusable.  The
 * addresses of one host share its records (d->dane[i] of consecutive
 * addresses of the host point to the same tlsa and why: qmgr_dane_free).
 *
 * CONTRACT
 *  Runs on the queue manager's loop, inside qdest_dns_done.  While the
 *  TLSA lookups run, d->resolving stays true and q->busy counts them once;
 *  the MX result is copied (the DNS result dies with its callback).  When
 *  the last answer is in, qmgr_dest_hosts() continues as for any MX
 *  result; a canceled lookup (the resolver replaced on reload, or the
 *  stop) restarts the destination's resolution (qmgr_dest_resolve).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay_qmgr_int.h"
#include "tls_dane.h"

#define QDANE_TLSA_MAX   16             /* usable records kept per host */
#define QDANE_TLSA_BYTES 16384          /* association data kept per host */

struct qdane_host {                     /* a copy of one MX host */
    struct dns_host h;                  /* name and addrs owned */
    struct relay_dane dane;             /* its state; tlsa and why owned until moved */
    struct qdane *owner;
};

struct qdane {                          /* one destination's TLSA lookups */
    struct relay_dest *d;
    struct qdane_host *hosts;           /* owned */
    size_t  nhosts;
    bool    implicit;
    size_t  waiting;                    /* TLSA answers still to come */
    bool    canceled;                   /* some answer was DNS_CANCELED */
};

static const char *const qdane_state[] = {
    [RELAY_DANE_NONE] = "none", [RELAY_DANE_USABLE] = "usable",
    [RELAY_DANE_UNUSABLE] = "unusable", [RELAY_DANE_FAILED] = "failed",
};

/* qmgr_dane_wanted - should d's MX hosts be looked up for TLSA records? */

bool qmgr_dane_wanted(const struct qmgr *q, const struct relay_dest *d)
{
    const struct cfg_partner *p;

    if (!d->cfg->dns.dnssec || !d->sc->dns_routing || !d->sc->dane || d->tls_required_no
        || q->resolver == NULL || !dns_resolver_dnssec(q->resolver))
        return false;
    if (!d->listed)
        return true;
    p = policy_partner_find(d->cfg, d->domain);
    return p != NULL && p->require == CFG_REQUIRE_DANE;
}

/* qdane_copy - the usable records of a TLSA answer (within the caps), copied */

static size_t qdane_copy(const struct dns_result *res, struct tls_tlsa **out)
{
    size_t n = 0, bytes = 0;

    *out = NULL;
    for (size_t i = 0; i < res->ntlsa && n < QDANE_TLSA_MAX; i++) {
        const struct dns_tlsa *t = &res->tlsa[i];
        struct tls_tlsa v = {
            .usage = t->usage, .selector = t->selector, .mtype = t->mtype,
            .data = (unsigned char *)t->data, .len = t->len,
        };

        if (!tls_tlsa_usable(&v) || t->len > QDANE_TLSA_BYTES - bytes)
            continue;                   /* unusable, or over the byte cap */
        *out = xrealloc(*out, (n + 1) * sizeof(**out));
        v.data = xmalloc(t->len);
        memcpy(v.data, t->data, t->len);
        (*out)[n++] = v;
        bytes += t->len;
    }
    return n;
}

/* qmgr_dane_clear - free one address's DANE state */

void qmgr_dane_clear(struct relay_dane *dn)
{
    for (size_t i = 0; i < dn->ntlsa; i++)
        free(dn->tlsa[i].data);
    free(dn->tlsa);
    free(dn->why);
    memset(dn, 0, sizeof(*dn));
}

/* qmgr_dane_copy - a deep copy of one address's DANE state */

void qmgr_dane_copy(struct relay_dane *to, const struct relay_dane *from)
{
    to->state = from->state;
    to->ntlsa = from->ntlsa;
    to->tlsa = from->ntlsa ? xcalloc(from->ntlsa, sizeof(*to->tlsa)) : NULL;
    for (size_t i = 0; i < from->ntlsa; i++) {
        to->tlsa[i] = from->tlsa[i];
        to->tlsa[i].data = xmalloc(from->tlsa[i].len);
        memcpy(to->tlsa[i].data, from->tlsa[i].data, from->tlsa[i].len);
    }
    to->why = from->why ? xstrdup(from->why) : NULL;
}

/* qmgr_dane_free - free d->dane (every address's state; the addresses of
 * one host share its records: freed with the first of them) */

void qmgr_dane_free(struct relay_dest *d)
{
    for (size_t i = d->dane != NULL ? d->naddrs : 0; i-- > 0;)     /* last first: */
        if (i == 0 || d->dane[i].tlsa != d->dane[i - 1].tlsa     /* a clear zeroes it */
            || d->dane[i].why != d->dane[i - 1].why)
            qmgr_dane_clear(&d->dane[i]);
    free(d->dane);
    d->dane = NULL;
    d->dane_applies = false;
}

/* qdane_free - free the lookup state */

static void qdane_free(struct qdane *x)
{
    for (size_t i = 0; i < x->nhosts; i++) {
        free((char *)x->hosts[i].h.name);
        free((void *)x->hosts[i].h.addrs);
        qmgr_dane_clear(&x->hosts[i].dane);
    }
    free(x->hosts);
    free(x);
}

/* qdane_finish - every TLSA answer is in: on with the hosts */

static void qdane_finish(struct qmgr *q, struct qdane *x)
{
    struct relay_dest *d = x->d;
    struct dns_host *hosts = xcalloc(x->nhosts ? x->nhosts : 1, sizeof(*hosts));
    struct relay_dane *dane = xcalloc(x->nhosts ? x->nhosts : 1, sizeof(*dane));
    struct dns_result res = { .status = DNS_OK, .why = "ok", .implicit = x->implicit,
                              .hosts = hosts, .nhosts = x->nhosts, .secure = true };

    q->busy--;
    if (x->canceled) {
        free(hosts);
        free(dane);
        qdane_free(x);
        qmgr_dest_resolve(q, d);        /* reload: ask the new resolver; stop: SHUTDOWN */
        return;
    }
    for (size_t i = 0; i < x->nhosts; i++) {
        struct qdane_host *qh = &x->hosts[i];

        hosts[i] = qh->h;
        dane[i] = qh->dane;
        if (qh->h.naddrs > 0)
            log_info("queue", 0, "dane domain=%s mx=%s state=%s records=%zu%s%s%s", d->domain,
                     qh->h.name, qdane_state[qh->dane.state], qh->dane.ntlsa,
                     qh->dane.why ? " why=\"" : "", qh->dane.why ? qh->dane.why : "",
                     qh->dane.why ? "\"" : "");
    }
    qmgr_dest_hosts(q, d, &res, dane);
    free(hosts);
    free(dane);
    qdane_free(x);
}

/* qdane_on_tlsa - the TLSA answer of one MX host */

static void qdane_on_tlsa(struct dns_query *query, const struct dns_result *res, void *arg)
{
    struct qdane_host *qh = arg;
    struct qdane *x = qh->owner;

    switch (res->status) {
    case DNS_OK:
        if (!res->secure) {
            qh->dane.state = RELAY_DANE_NONE;   /* insecure TLSA RRset: no DANE */
        } else if ((qh->dane.ntlsa = qdane_copy(res, &qh->dane.tlsa)) > 0) {
            qh->dane.state = RELAY_DANE_USABLE;
        } else {
            qh->dane.state = RELAY_DANE_UNUSABLE;
        }
        break;
    case DNS_FAIL:                      /* no TLSA records (or a bad name) */
        qh->dane.state = RELAY_DANE_NONE;
        break;
    case DNS_CANCELED:
        x->canceled = true;
        break;
    default:                            /* SERVFAIL from the validator = bogus */
        qh->dane.state = RELAY_DANE_FAILED;
        qh->dane.why = strcmp(res->why, "DNS server failure") == 0
            ? xstrdup("SERVFAIL (DNSSEC bogus or server failure)") : xstrdup(res->why);
        break;
    }
    if (--x->waiting == 0)
        qdane_finish(x->d->owner, x);
}

/* qmgr_dane_start - a secure MX result for d: look up its hosts' TLSA
 * records, then qmgr_dest_hosts (at once if no host has secure addresses) */

void qmgr_dane_start(struct qmgr *q, struct relay_dest *d, const struct dns_result *res)
{
    struct qdane *x = xcalloc(1, sizeof(*x));

    x->d = d;
    x->implicit = res->implicit;
    x->nhosts = res->nhosts;
    x->hosts = xcalloc(res->nhosts ? res->nhosts : 1, sizeof(*x->hosts));
    for (size_t i = 0; i < res->nhosts; i++) {
        const struct dns_host *h = &res->hosts[i];
        struct qdane_host *qh = &x->hosts[i];
        struct sockaddr_storage *addrs = xcalloc(h->naddrs ? h->naddrs : 1, sizeof(*addrs));

        memcpy(addrs, h->addrs, h->naddrs * sizeof(*addrs));
        qh->h = *h;
        qh->h.name = xstrdup(h->name);
        qh->h.addrs = addrs;
        qh->owner = x;
        qh->dane.state = RELAY_DANE_NONE;
        if (h->naddrs > 0 && h->secure)
            x->waiting++;
    }
    if (x->waiting == 0) {              /* no host is secure: every state is NONE */
        struct relay_dane *dane = xcalloc(x->nhosts ? x->nhosts : 1, sizeof(*dane));

        qdane_free(x);
        qmgr_dest_hosts(q, d, res, dane);
        free(dane);
        return;
    }
    q->busy++;
    for (size_t i = 0; i < x->nhosts; i++)
        if (x->hosts[i].h.naddrs > 0 && x->hosts[i].h.secure)
            dns_tlsa_lookup(q->resolver, x->hosts[i].h.name, (unsigned)d->sc->port,
                            qdane_on_tlsa, &x->hosts[i]);
}
