/*
 * dns.h - MX resolution with c-ares driven by a libuv loop.
 *
 * One resolver per loop.  A lookup resolves a domain to the ordered list
 * of hosts to try (RFC 5321 5.1) with their addresses:
 *   - MX records sorted by preference, equal preferences shuffled;
 *   - no MX (NODATA, or a reply without MX records): implicit MX, the
 *     domain itself with its A/AAAA records (implicit = true);
 *   - null MX ("0 ." RFC 7505): status DNS_NULLMX (permanent, 556 5.1.10);
 *   - NXDOMAIN: DNS_FAIL; timeout, SERVFAIL, REFUSED, unreachable server:
 *     DNS_RETRY.  Classified here, once, with a short reason text.
 *   - an MX host whose address lookup fails is kept with naddrs = 0 and
 *     its own status; if no host has an address the whole result is
 *     DNS_RETRY if any host lookup was transient, else DNS_FAIL, and
 *     no_address is set: the domain exists, its hosts have no address
 *     (not NXDOMAIN; the same for an implicit MX without address).
 * Addresses of each host: IPv4 first, then IPv6, each in DNS order; the
 * port is left 0 (the caller sets it).
 * A TXT lookup (dns_txt.c, for MTA-STS and TLS-RPT) gives the records of
 * one name, each record's strings concatenated; no hosts.  A TLSA lookup
 * (dns_tlsa.c, for DANE) gives the TLSA records of _PORT._tcp.HOST.
 *
 * DNSSEC (dns_resolver_set_dnssec, [dns] dnssec = yes): every query is
 * sent with AD=1 (RFC 6840 5.7) and EDNS0, and the AD bit of each answer
 * is trusted: the configured servers are validating resolvers on this host
 * (the loopback rule is the config's).  "secure" below is that AD bit;
 * without dnssec it is always false.  A bogus answer comes back from a
 * validating resolver as SERVFAIL: DNS_RETRY (it defers, never insecure).
 *
 * CONTRACT (libuv's): callbacks never run inside the call that started
 * them.  A result is valid only during the callback (copy what you keep).
 * dns_query_cancel() makes the callback run exactly once, later, with
 * DNS_CANCELED (unless it already ran, then it is a no-op on a query that
 * no longer exists: the caller must forget the query pointer when its
 * callback runs).  dns_resolver_close() cancels every query and frees the
 * resolver after its handles are closed, then calls done (if not NULL).
 */
#ifndef DOMSEC_DNS_H
#define DOMSEC_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

enum dns_status {
    DNS_OK,
    DNS_RETRY,                          /* transient: try again later */
    DNS_FAIL,                           /* permanent: no such domain (NXDOMAIN), a bad
                                         * name, or (no_address) no host has an address */
    DNS_NULLMX,                         /* RFC 7505 null MX: permanent */
    DNS_CANCELED,
};

struct dns_host {
    const char *name;                   /* MX target, or the domain (implicit) */
    unsigned pref;                      /* MX preference (0 for implicit) */
    const struct sockaddr_storage *addrs;
    size_t  naddrs;
    enum dns_status status;             /* of this host's address lookup */
    bool    secure;                     /* dnssec: every address answer of the host
                                         * (A and AAAA, data or NODATA) had AD; a failed
                                         * half (no addresses) does not count; false
                                         * for an IP literal or without dnssec */
};

/* One TLSA record (RFC 6698 2.1), as the DNS gave it. */
struct dns_tlsa {
    uint8_t usage, selector, mtype;
    const unsigned char *data;          /* association data, len bytes (len may be
                                         * 0: an unusable record) */
    size_t  len;
};

struct dns_result {
    enum dns_status status;
    const char *why;                    /* e.g. "DNS timeout", "NXDOMAIN", "null MX" */
    bool    implicit;                   /* no MX: the domain itself */
    const struct dns_host *hosts;
    size_t  nhosts;
    bool    no_address;                 /* MX lookup, DNS_FAIL or DNS_RETRY: the domain
                                         * answered (MX records, or implicit MX) but no
                                         * host has an address; false for NXDOMAIN, a
                                         * bad name, a failed MX query, dns_host_lookup */
    const char *const *txt;             /* dns_txt_lookup, DNS_OK: the TXT records, each
                                         * record's strings concatenated (RFC 7208 3.3),
                                         * NUL-terminated, in DNS order */
    size_t  ntxt;                       /* >= 1 when DNS_OK, else 0 */
    bool    secure;                     /* dnssec: the MX answer (its NODATA for an
                                         * implicit MX) or the TLSA answer (or its
                                         * NODATA/NXDOMAIN: secure denial) had AD */
    const struct dns_tlsa *tlsa;        /* dns_tlsa_lookup, DNS_OK: the records, DNS
                                         * order, secure or not (check secure) */
    size_t  ntlsa;                      /* >= 1 when DNS_OK, else 0 */
};

struct dns_resolver;
struct dns_query;

typedef void (*dns_cb)(struct dns_query *q, const struct dns_result *res, void *arg);

/* dns_resolver.c */
/*
 * servers: NULL (use /etc/resolv.conf) or "ip:port,[v6]:port" ([dns]
 * servers); timeout_ms per try ([dns] timeout).  NULL with *err (a
 * c-ares or libuv error text, static) on failure.
 */
struct dns_resolver *dns_resolver_new(uv_loop_t *loop, const char *servers,
                                      uint64_t timeout_ms, const char **err);
void    dns_resolver_close(struct dns_resolver *r, void (*done)(void *arg), void *arg);
/* [dns] dnssec: AD=1 on every query from now on and trust the answers' AD
 * bit (see above).  Default off.  Set it before the first lookup. */
void    dns_resolver_set_dnssec(struct dns_resolver *r, bool on);
bool    dns_resolver_dnssec(const struct dns_resolver *r);
void    dns_query_cancel(struct dns_query *q);

/* dns_mx.c */
/* MX lookup with implicit-MX fallback (for dns_routing). */
struct dns_query *dns_mx_lookup(struct dns_resolver *r, const char *domain, dns_cb cb,
                                void *arg);
/* Address lookup of one host name (smart hosts): one host in the result. */
struct dns_query *dns_host_lookup(struct dns_resolver *r, const char *name, dns_cb cb,
                                  void *arg);
/* Is host an IP literal (IPv4, or IPv6 without brackets)?  Then its address
 * (port 0) in *ss, which needs no lookup.  Synchronous, no resolver. */
bool    dns_literal(const char *host, struct sockaddr_storage *ss);

/* dns_txt.c */
/*
 * TXT lookup of name: res->txt[0..ntxt) are the TXT records, each record's
 * strings concatenated (RFC 7208 3.3 style), NUL-terminated; NXDOMAIN and
 * NODATA -> DNS_FAIL (no record), timeouts/SERVFAIL -> DNS_RETRY.
 */
struct dns_query *dns_txt_lookup(struct dns_resolver *r, const char *name, dns_cb cb,
                                 void *arg);

/* dns_tlsa.c */
/*
 * TLSA lookup of _PORT._tcp.HOST (RFC 7672 2.2.3, for DANE): res->tlsa and
 * res->secure.  NXDOMAIN and NODATA -> DNS_FAIL "no TLSA records" (secure
 * tells a validated denial); timeout, SERVFAIL (a bogus answer from the
 * validating resolver), REFUSED, malformed -> DNS_RETRY; records whose
 * RDATA is shorter than 3 bytes make the answer malformed (DNS_RETRY); an
 * empty association data is kept (len 0: unusable).  Every TLSA record is
 * returned (no cap: cap after the usable filter).
 */
struct dns_query *dns_tlsa_lookup(struct dns_resolver *r, const char *host, unsigned port,
                                  dns_cb cb, void *arg);

#endif
