/*
 * dns_mx.c - MX and host address lookups: what the answers mean.
 *
 * CONTRACT
 *  dns_mx_lookup() and dns_host_lookup() never fail and never call back
 *  synchronously: they return a query whose callback runs exactly once,
 *  later (dns_resolver.c delivers it).  The name is copied.  The result
 *  (hosts, names, addresses) belongs to the query and is freed after the
 *  callback returns; why is a static string, never NULL ("ok" on success).
 *
 *  MX lookup of D (RFC 5321 5.1, RFC 7505):
 *    MX answer   -> hosts by preference, equal preferences in random
 *                   order, at most DNS_MX_MAX of them; any MX with an empty
 *                   target ("0 .") -> DNS_NULLMX "null MX", no hosts;
 *    NODATA, or an answer without MX -> implicit MX: one host D, pref 0;
 *    NXDOMAIN    -> DNS_FAIL "NXDOMAIN";
 *    timeout     -> DNS_RETRY "DNS timeout"; SERVFAIL, REFUSED and an
 *                   unreachable server (all ECONNREFUSED in c-ares 1.18)
 *                   -> DNS_RETRY "DNS server failure"; a bad name -> DNS_FAIL;
 *                   anything else (malformed reply, ...) -> DNS_RETRY with
 *                   the c-ares text.
 *  Then A and AAAA of every host, in parallel, each as an FQDN (trailing
 *  dot: no search list).  Addresses: IPv4 then IPv6, each in DNS order,
 *  port 0.  A host whose lookup fails stays with naddrs 0 and its status.
 *  Overall: DNS_OK if any host has an address, else DNS_RETRY if any host
 *  failed transiently, else DNS_FAIL; either with no_address set (the MX
 *  answer or the implicit MX was there: not NXDOMAIN).
 *  dns_host_lookup() is the address step alone for one name (an IP literal
 *  is accepted as is): one host, whose status is the result's.
 *  With dnssec (dns_resolver_set_dnssec): res->secure is the AD bit of the
 *  MX answer (of its NODATA for an implicit MX), and each host's addresses
 *  come from an A and an AAAA query of their own (getaddrinfo cannot ask
 *  for AD); host->secure is set when the host has addresses and every one
 *  of them that answered (data or NODATA/NXDOMAIN) had AD.  A half that
 *  failed (SERVFAIL, timeout) adds no addresses and leaves secure alone: a
 *  broken AAAA lookup must not make the secure A addresses insecure (that
 *  would switch DANE off).  An IP literal is never secure.
 *  DNS_CANCELED results carry no hosts.  Cancel: see dns_resolver.c; no
 *  request is started for a query once it is canceled.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"
#include "log.h"

#define DNS_MX_MAX   32                 /* MX hosts kept, lowest preferences first */
#define DNS_NAME_MAX 253
#define DNS_MX_ADDRS 64                 /* addresses per family kept from an answer */

struct dns_mx_host {
    char   *name;                       /* owned */
    char   *qname;                      /* owned: name as sent (FQDN or IP literal) */
    unsigned pref;
    struct sockaddr_storage *addrs;     /* owned */
    size_t  naddrs;
    enum dns_status status;
    const char *why;                    /* static */
    bool    secure;                     /* dnssec: AD on every address answer so far */
    unsigned answered;                  /* dnssec: A/AAAA answers in (0..2) */
    struct sockaddr_storage *v6;        /* owned, dnssec: AAAA addresses until done */
    size_t  nv6;
};

struct dns_mx {                         /* q->priv */
    char   *domain;                     /* owned; MX lookup: no trailing dot */
    bool    implicit;
    bool    single;                     /* dns_host_lookup */
    bool    secure;                     /* dnssec: the MX answer had AD */
    struct dns_mx_host *hosts;          /* owned */
    struct dns_host *view;              /* owned: the result's host array */
    size_t  nhosts;
    size_t  waiting;                    /* address lookups not answered yet */
};

/* dns_mx_free - free the lookup state (q->priv_free) */

static void dns_mx_free(void *priv)
{
    struct dns_mx *mx = priv;

    for (size_t i = 0; i < mx->nhosts; i++) {
        free(mx->hosts[i].name);
        free(mx->hosts[i].qname);
        free(mx->hosts[i].addrs);
        free(mx->hosts[i].v6);
    }
    free(mx->hosts);
    free(mx->view);
    free(mx->domain);
    free(mx);
}

/* dns__classify - c-ares status to dns_status with a reason */

enum dns_status dns__classify(int status, const char **why)
{
    switch (status) {
    case ARES_ENOTFOUND:
        *why = "NXDOMAIN";
        return DNS_FAIL;
    case ARES_ENODATA:
        *why = "no address records";
        return DNS_FAIL;
    case ARES_EBADNAME:
        *why = "bad domain name";
        return DNS_FAIL;
    case ARES_ETIMEOUT:
        *why = "DNS timeout";
        return DNS_RETRY;
    case ARES_ECONNREFUSED:             /* SERVFAIL, REFUSED, port closed */
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
        *why = "DNS server failure";
        return DNS_RETRY;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        *why = "canceled";
        return DNS_CANCELED;
    default:
        *why = ares_strerror(status);
        return DNS_RETRY;
    }
}

/* dns_mx_new - a query with empty lookup state */

static struct dns_query *dns_mx_new(struct dns_resolver *r, dns_cb cb, void *arg,
                                    struct dns_mx **mxp)
{
    struct dns_query *q = dns__query_new(r, cb, arg);
    struct dns_mx *mx = xcalloc(1, sizeof(*mx));

    q->priv = mx;
    q->priv_free = dns_mx_free;
    *mxp = mx;
    return q;
}

/* dns__name - copy name without one trailing dot; NULL if unusable */

char *dns__name(const char *name)
{
    size_t len = name ? strlen(name) : 0;

    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_NAME_MAX)
        return NULL;
    return xstrndup(name, len);
}

/* dns_mx_add_host - append a host to look up */

static struct dns_mx_host *dns_mx_add_host(struct dns_mx *mx, const char *name, unsigned pref)
{
    struct dns_mx_host *h = &mx->hosts[mx->nhosts++];
    unsigned char ip[sizeof(struct in6_addr)];

    h->name = xstrdup(name);
    h->pref = pref;
    h->status = DNS_FAIL;
    h->why = "no address records";
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        h->qname = xstrdup(name);       /* c-ares answers it without DNS */
    else
        h->qname = xasprintf("%s.", name);
    return h;
}

/* dns_mx_done - every address lookup answered: build the result */

static void dns_mx_done(struct dns_query *q, struct dns_mx *mx)
{
    enum dns_status status = DNS_FAIL;
    const char *why = mx->single ? mx->hosts[0].why
        : mx->implicit ? "no MX and no address records" : "no address for any MX host";

    mx->view = xcalloc(mx->nhosts, sizeof(*mx->view));
    for (size_t i = 0; i < mx->nhosts; i++) {
        struct dns_mx_host *h = &mx->hosts[i];

        mx->view[i] = (struct dns_host) {
            .name = h->name, .pref = h->pref, .addrs = h->addrs, .naddrs = h->naddrs,
            .status = h->status, .secure = h->secure,
        };
        if (h->naddrs > 0) {
            status = DNS_OK;
            why = "ok";
        } else if (h->status == DNS_RETRY && status == DNS_FAIL) {
            status = DNS_RETRY;
            why = h->why;
        }
    }
    q->res.no_address = status != DNS_OK && !mx->single;      /* the name exists */
    q->res.secure = mx->secure;
    dns__query_finish(q, status, why, mx->implicit, mx->view, mx->nhosts);
}

/* dns_mx_copy_addrs - addresses of one family, appended, port 0 */

static void dns_mx_copy_addrs(struct dns_mx_host *h, const struct ares_addrinfo *ai, int family)
{
    for (const struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next) {
        struct sockaddr_storage *ss;

        if (n->ai_family != family || n->ai_addr == NULL)
            continue;
        ss = &h->addrs[h->naddrs++];
        memset(ss, 0, sizeof(*ss));
        if (family == AF_INET) {
            memcpy(ss, n->ai_addr, sizeof(struct sockaddr_in));
            ((struct sockaddr_in *)ss)->sin_port = 0;
        } else {
            memcpy(ss, n->ai_addr, sizeof(struct sockaddr_in6));
            ((struct sockaddr_in6 *)ss)->sin6_port = 0;
        }
    }
}

/* dns_mx_on_addr - A/AAAA answer for host number arg */

static void dns_mx_on_addr(struct dns_query *q, void *arg, int status,
                           const struct ares_addrinfo *ai)
{
    struct dns_mx *mx = q->priv;
    struct dns_mx_host *h = &mx->hosts[(uintptr_t)arg];
    size_t n = 0;

    if (status == ARES_SUCCESS && ai) {
        for (const struct ares_addrinfo_node *node = ai->nodes; node; node = node->ai_next)
            n++;
        h->addrs = xcalloc(n, sizeof(*h->addrs));
        dns_mx_copy_addrs(h, ai, AF_INET);
        dns_mx_copy_addrs(h, ai, AF_INET6);
        if (h->naddrs > 0) {
            h->status = DNS_OK;
            h->why = "ok";
        }
    } else {
        h->status = dns__classify(status, &h->why);
    }
    if (--mx->waiting == 0)
        dns_mx_done(q, mx);
}

/* dns_mx_rr_addrs - the A or AAAA addresses of an answer, appended to *v */

static int dns_mx_rr_addrs(const unsigned char *abuf, int alen, int family,
                           struct sockaddr_storage **v, size_t *n)
{
    struct ares_addrttl a4[DNS_MX_ADDRS];
    struct ares_addr6ttl a6[DNS_MX_ADDRS];
    int naddr = DNS_MX_ADDRS, rc;

    if (family == AF_INET)
        rc = ares_parse_a_reply(abuf, alen, NULL, a4, &naddr);
    else
        rc = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &naddr);
    if (rc != ARES_SUCCESS)
        return rc;
    *v = xrealloc(*v, (*n + (size_t)naddr + 1) * sizeof(**v));
    for (int i = 0; i < naddr; i++) {
        struct sockaddr_storage *ss = &(*v)[(*n)++];

        memset(ss, 0, sizeof(*ss));
        ss->ss_family = (sa_family_t)family;
        if (family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_addr = a4[i].ipaddr;
        else
            memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, &a6[i].ip6addr, 16);
    }
    return naddr > 0 ? ARES_SUCCESS : ARES_ENODATA;
}

/* dns_mx_on_rr - dnssec: the A (even arg) or AAAA (odd arg) answer of host arg/2 */

static void dns_mx_on_rr(struct dns_query *q, void *arg, int status,
                         const unsigned char *abuf, int alen)
{
    struct dns_mx *mx = q->priv;
    struct dns_mx_host *h = &mx->hosts[(uintptr_t)arg / 2];
    int family = (uintptr_t)arg % 2 ? AF_INET6 : AF_INET;

    if (status == ARES_SUCCESS)
        status = family == AF_INET ? dns_mx_rr_addrs(abuf, alen, family, &h->addrs, &h->naddrs)
            : dns_mx_rr_addrs(abuf, alen, family, &h->v6, &h->nv6);
    /*
     * Only an answer (data or a denial) without AD makes the host insecure. A failed
     * half (SERVFAIL for a bogus RRset, a timeout) adds no addresses, so the other
     * half's AD still describes every address we have: turning it into "insecure"
     * would let whoever breaks the AAAA lookup switch DANE off (RFC 7672 2.1.1).
     */
    if (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND)
        h->secure &= dns__answer_secure(q, abuf, alen);
    if (status != ARES_SUCCESS && h->status != DNS_RETRY)
        h->status = dns__classify(status, &h->why);     /* A's failure may stand */
    if (++h->answered < 2)
        return;
    if (h->nv6 > 0) {                   /* IPv4 first, then IPv6 */
        h->addrs = xrealloc(h->addrs, (h->naddrs + h->nv6) * sizeof(*h->addrs));
        memcpy(&h->addrs[h->naddrs], h->v6, h->nv6 * sizeof(*h->v6));
        h->naddrs += h->nv6;
    }
    if (h->naddrs > 0) {
        h->status = DNS_OK;
        h->why = "ok";
    } else {
        h->secure = false;              /* no address: nothing proved */
    }
    if (--mx->waiting == 0)
        dns_mx_done(q, mx);
}

/* dns_mx_resolve_hosts - start the address lookup of every host */

static void dns_mx_resolve_hosts(struct dns_query *q, struct dns_mx *mx)
{
    size_t n = mx->nhosts;

    mx->waiting = n;                    /* before any (maybe synchronous) answer */
    for (size_t i = 0; i < n; i++) {
        struct dns_mx_host *h = &mx->hosts[i];
        uintptr_t k = 2 * (uintptr_t)i;

        if (!dns_resolver_dnssec(q->r) || strcmp(h->qname, h->name) == 0) {
            dns__send_addrinfo(q, h->qname, dns_mx_on_addr, (void *)(uintptr_t)i);
            continue;                   /* no AD, or an IP literal (never secure) */
        }
        h->secure = true;               /* until an answer says otherwise */
        h->status = DNS_FAIL;
        dns__send_query(q, h->qname, ns_t_a, dns_mx_on_rr, (void *)k);
        if (!q->finished)               /* a synchronous answer may have ended it */
            dns__send_query(q, h->qname, ns_t_aaaa, dns_mx_on_rr, (void *)(k + 1));
    }
}

/* dns_mx_cmp - order MX replies by preference */

static int dns_mx_cmp(const void *a, const void *b)
{
    const struct ares_mx_reply *x = *(struct ares_mx_reply *const *)a;
    const struct ares_mx_reply *y = *(struct ares_mx_reply *const *)b;

    return (int)x->priority - (int)y->priority;
}

/* dns_mx_shuffle - random order within each run of equal preferences */

static void dns_mx_shuffle(struct ares_mx_reply **v, size_t n)
{
    size_t start = 0;

    while (start < n) {
        size_t end = start + 1;

        while (end < n && v[end]->priority == v[start]->priority)
            end++;
        for (size_t i = end - 1; i > start; i--) {      /* Fisher-Yates */
            size_t j = start + arc4random_uniform((uint32_t)(i - start + 1));
            struct ares_mx_reply *t = v[i];

            v[i] = v[j];
            v[j] = t;
        }
        start = end;
    }
}

/* dns_mx_from_replies - sorted hosts from a parsed MX answer, or null MX */

static void dns_mx_from_replies(struct dns_query *q, struct dns_mx *mx,
                                struct ares_mx_reply *replies)
{
    struct ares_mx_reply **v;
    size_t n = 0, i = 0;

    for (struct ares_mx_reply *m = replies; m; m = m->next) {
        if (m->host == NULL || m->host[0] == '\0' || strcmp(m->host, ".") == 0) {
            dns__query_finish(q, DNS_NULLMX, "null MX", false, NULL, 0);
            return;
        }
        n++;
    }
    v = xcalloc(n, sizeof(*v));
    for (struct ares_mx_reply *m = replies; m; m = m->next)
        v[i++] = m;
    qsort(v, n, sizeof(*v), dns_mx_cmp);
    dns_mx_shuffle(v, n);
    if (n > DNS_MX_MAX)
        n = DNS_MX_MAX;
    mx->hosts = xcalloc(n, sizeof(*mx->hosts));
    for (i = 0; i < n; i++)
        dns_mx_add_host(mx, v[i]->host, v[i]->priority);
    free(v);
    dns_mx_resolve_hosts(q, mx);
}

/* dns_mx_implicit - no MX: the domain itself is the host */

static void dns_mx_implicit(struct dns_query *q, struct dns_mx *mx)
{
    mx->implicit = true;
    mx->hosts = xcalloc(1, sizeof(*mx->hosts));
    dns_mx_add_host(mx, mx->domain, 0);
    dns_mx_resolve_hosts(q, mx);
}

/* dns_mx_on_mx - the MX answer for the domain */

static void dns_mx_on_mx(struct dns_query *q, void *arg, int status,
                         const unsigned char *abuf, int alen)
{
    struct dns_mx *mx = q->priv;
    struct ares_mx_reply *replies = NULL;
    enum dns_status st;
    const char *why;

    if (status == ARES_SUCCESS) {
        status = ares_parse_mx_reply(abuf, alen, &replies);
        if (status == ARES_SUCCESS && replies == NULL)
            status = ARES_ENODATA;
        else if (status != ARES_SUCCESS && status != ARES_ENODATA)
            status = ARES_EBADRESP;
    }
    if (status == ARES_SUCCESS || status == ARES_ENODATA)
        mx->secure = dns__answer_secure(q, abuf, alen);
    if (status == ARES_SUCCESS) {
        dns_mx_from_replies(q, mx, replies);
    } else if (status == ARES_ENODATA) {
        dns_mx_implicit(q, mx);
    } else {
        st = dns__classify(status, &why);
        dns__query_finish(q, st, why, false, NULL, 0);
    }
    if (replies)
        ares_free_data(replies);
}

/* dns_mx_lookup - start MX lookup for domain */

struct dns_query *dns_mx_lookup(struct dns_resolver *r, const char *domain, dns_cb cb,
                                void *arg)
{
    struct dns_mx *mx;
    struct dns_query *q = dns_mx_new(r, cb, arg, &mx);
    char *fqdn;

    if (q->finished)                    /* resolver closing */
        return q;
    if ((mx->domain = dns__name(domain)) == NULL) {
        dns__query_finish(q, DNS_FAIL, "bad domain name", false, NULL, 0);
        return q;
    }
    fqdn = xasprintf("%s.", mx->domain);
    dns__send_query(q, fqdn, ns_t_mx, dns_mx_on_mx, NULL);
    free(fqdn);
    return q;
}

/* dns_host_lookup - start address lookup of one host name */

struct dns_query *dns_host_lookup(struct dns_resolver *r, const char *name, dns_cb cb,
                                  void *arg)
{
    struct dns_mx *mx;
    struct dns_query *q = dns_mx_new(r, cb, arg, &mx);
    char *host;

    mx->single = true;
    if (q->finished)
        return q;
    if ((host = dns__name(name)) == NULL) {
        mx->hosts = xcalloc(1, sizeof(*mx->hosts));
        dns_mx_add_host(mx, name ? name : "", 0);
        mx->hosts[0].why = "bad domain name";
        dns_mx_done(q, mx);
        return q;
    }
    mx->hosts = xcalloc(1, sizeof(*mx->hosts));
    dns_mx_add_host(mx, host, 0);
    free(host);
    dns_mx_resolve_hosts(q, mx);
    return q;
}

/* dns_literal - an IP literal's address (smart hosts, --host) */

bool dns_literal(const char *host, struct sockaddr_storage *ss)
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
