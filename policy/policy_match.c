/*
 * policy_match.c - pure matching: domain lists, IP ranges, receive connectors.
 *
 * CONTRACT
 *  No I/O, no allocation, no globals: thread-safe.  Inputs are borrowed
 *  for the duration of the call; policy_receive_select() returns a pointer
 *  into cfg, valid while the caller holds its reference to cfg.  Addresses
 *  are struct sockaddr_in or sockaddr_in6; an IPv4-mapped IPv6 address
 *  (::ffff:a.b.c.d, as a dual-stack socket reports it) is treated as the
 *  IPv4 address it carries.  Any other family never matches.
 */
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "policy_config.h"

struct ipaddr {
    int     family;                     /* AF_INET or AF_INET6 */
    uint8_t a[16];
    int     port;
};

/* ip_from_sa - family and bytes of a socket address; unmap: v4-mapped as IPv4 */

static bool ip_from_sa(const struct sockaddr *sa, struct ipaddr *ip, bool unmap)
{
    if (sa == NULL)
        return false;
    memset(ip, 0, sizeof(*ip));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

        ip->family = AF_INET;
        memcpy(ip->a, &sin->sin_addr, 4);
        ip->port = ntohs(sin->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

        ip->port = ntohs(sin6->sin6_port);
        if (unmap && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ip->family = AF_INET;
            memcpy(ip->a, &sin6->sin6_addr.s6_addr[12], 4);
        } else {
            ip->family = AF_INET6;
            memcpy(ip->a, &sin6->sin6_addr, 16);
        }
        return true;
    }
    return false;
}

/* prefix_match - do the first `bits` bits of a and b agree? */

static bool prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a[bytes] ^ b[bytes]) & (0xff00 >> rest) & 0xff) == 0;
}

/* domain_len - length without one trailing dot */

static size_t domain_len(const char *d)
{
    size_t n = strlen(d);

    return n > 0 && d[n - 1] == '.' ? n - 1 : n;
}

/* policy_domain_in_list - exact, case-insensitive; "*.d" covers subdomains, "*" all */

bool policy_domain_in_list(const struct cfg_list *list, const char *domain)
{
    size_t dlen;

    if (list == NULL || domain == NULL || (dlen = domain_len(domain)) == 0)
        return false;
    for (size_t i = 0; i < list->n; i++) {
        const char *e = list->v[i];
        size_t elen = strlen(e);

        if (strcmp(e, "*") == 0)
            return true;
        if (strncmp(e, "*.", 2) == 0) {
            /* "*.d" matches "x.d", "y.x.d", never "d" itself. */
            elen -= 1;                  /* ".d" */
            if (dlen > elen && strncasecmp(domain + dlen - elen, e + 1, elen) == 0)
                return true;
        } else if (elen == dlen && strncasecmp(domain, e, dlen) == 0) {
            return true;
        }
    }
    return false;
}

/* policy_range_contains - is the address inside the range? */

bool policy_range_contains(const struct cfg_range *r, const struct sockaddr *sa)
{
    struct ipaddr ip;

    if (r == NULL || !ip_from_sa(sa, &ip, true) || ip.family != r->family)
        return false;
    return prefix_match(ip.a, r->addr, r->prefix);
}

/*
 * binding_covers - does binding b cover local address raw (as the socket
 * reported it) or its unmapped IPv4 form v4?  "[::]:25" covers every IPv6
 * address, v4-mapped ones included; "0.0.0.0:25" every IPv4 address.
 */
static bool binding_covers(const struct cfg_binding *b, const struct ipaddr *raw,
                           const struct ipaddr *v4)
{
    struct ipaddr bip;

    if (!ip_from_sa((const struct sockaddr *)&b->addr, &bip, false)
        || bip.port != raw->port)
        return false;
    if (bip.family == raw->family && (b->wildcard || memcmp(bip.a, raw->a, 16) == 0))
        return true;
    return bip.family == v4->family && (b->wildcard || memcmp(bip.a, v4->a, 16) == 0);
}

/* policy_receive_select - the connector for a connection (local, remote) */

const struct cfg_receive *policy_receive_select(const struct config *cfg,
                                                const struct sockaddr *local,
                                                const struct sockaddr *remote)
{
    const struct cfg_receive *best = NULL;
    int best_prefix = -1;
    bool best_specific = false;
    struct ipaddr raw, v4;

    if (cfg == NULL || !ip_from_sa(local, &raw, false) || !ip_from_sa(local, &v4, true))
        return NULL;
    for (size_t i = 0; i < cfg->nreceive; i++) {
        const struct cfg_receive *r = &cfg->receive[i];
        bool covered = false, specific = false;
        int prefix = -1;

        for (size_t j = 0; j < r->nbindings; j++) {
            if (binding_covers(&r->bindings[j], &raw, &v4)) {
                covered = true;
                specific |= !r->bindings[j].wildcard;
            }
        }
        if (!covered)
            continue;
        for (size_t j = 0; j < r->nranges; j++)
            if (r->ranges[j].prefix > prefix && policy_range_contains(&r->ranges[j], remote))
                prefix = r->ranges[j].prefix;
        if (prefix < 0)
            continue;
        /* Longest prefix, then a specific binding; the first in the file on a tie. */
        if (prefix > best_prefix || (prefix == best_prefix && specific && !best_specific)) {
            best = r;
            best_prefix = prefix;
            best_specific = specific;
        }
    }
    return best;
}

/* policy_route_score - how well one address space matches domain (-1: not) */

static long policy_route_score(const char *space, const char *domain)
{
    size_t dl = strlen(domain), sl;

    if (strcmp(space, "*") == 0)
        return 0;
    if (space[0] == '*' && space[1] == '.') {
        sl = strlen(space + 1);         /* ".suffix" */
        if (dl > sl && strcasecmp(domain + dl - sl, space + 1) == 0)
            return (long)sl;
        return -1;
    }
    return strcasecmp(space, domain) == 0 ? (long)dl + 1000 : -1;
}

/* policy_route_select - the send connector for a recipient domain */

const struct cfg_send *policy_route_select(const struct config *cfg, const char *domain)
{
    const struct cfg_send *best = NULL;
    long best_score = -1;

    for (size_t i = 0; i < cfg->nsend; i++) {
        const struct cfg_send *sc = &cfg->send[i];

        for (size_t j = 0; j < sc->address_spaces.n; j++) {
            long score = policy_route_score(sc->address_spaces.v[j], domain);

            if (score > best_score) {
                best_score = score;
                best = sc;
            }
        }
    }
    return best;
}

/* policy_partner_find - the [partner D] section of a domain, or NULL */

const struct cfg_partner *policy_partner_find(const struct config *cfg, const char *domain)
{
    size_t  n;

    if (cfg == NULL || domain == NULL)
        return NULL;
    n = strlen(domain);
    if (n > 0 && domain[n - 1] == '.')
        n--;
    for (size_t i = 0; i < cfg->npartners; i++) {
        const struct cfg_partner *p = &cfg->partners[i];

        if (strlen(p->domain) == n && strncasecmp(p->domain, domain, n) == 0)
            return p;
    }
    return NULL;
}
