/*
 * dns_internal.h - cross-file internals of dns/ (not for other folders).
 *
 * dns_resolver.c owns the c-ares channel, the libuv handles that drive it
 * and the life of every query: it delivers results (always later, from a
 * uv_idle handle), cancels, and frees.  dns_mx.c owns what a lookup means:
 * which c-ares requests to send and how their answers become a
 * dns_result.  The two meet here:
 *
 *   - dns__query_new() links a query; dns__query_finish() records its
 *     result (delivered later, by the resolver);
 *   - dns__send_query()/dns__send_addrinfo() submit a c-ares request for
 *     a query and count it; the answer callback runs only while the query
 *     is not finished (a canceled query's late answers are swallowed), and
 *     may run synchronously inside the submitting call (c-ares does so for
 *     bad names and numeric addresses), so submitters must not rely on the
 *     query staying unfinished across the call.
 */
#ifndef DOMSEC_DNS_INTERNAL_H
#define DOMSEC_DNS_INTERNAL_H

#include <ares.h>
#include <stdbool.h>

#include "dns.h"

struct dns_query {
    /* Resolver bookkeeping (dns_resolver.c). */
    struct dns_resolver *r;             /* not owned */
    struct dns_query *prev, *next;      /* r->queries: every query not yet freed */
    struct dns_query *pnext;            /* r->pending: finished, not yet delivered */
    dns_cb  cb;
    void   *arg;
    unsigned outstanding;               /* c-ares requests not yet called back */
    bool    finished;                   /* res is set, or canceled: on r->pending */
    bool    canceled;                   /* deliver DNS_CANCELED whatever res says */
    bool    delivering;                 /* inside cb */
    bool    delivered;                  /* cb returned: free once outstanding == 0 */
    /* Result; its pointers are owned by priv. */
    struct dns_result res;
    /* Lookup state (dns_mx.c), freed with the query. */
    void   *priv;
    void  (*priv_free)(void *priv);
};

typedef void (*dns__answer_fn)(struct dns_query *q, void *arg, int status,
                               const unsigned char *abuf, int alen);
/* ai is NULL unless status is ARES_SUCCESS; freed after the call returns. */
typedef void (*dns__addr_fn)(struct dns_query *q, void *arg, int status,
                             const struct ares_addrinfo *ai);

/* dns_mx.c */
/* c-ares status to dns_status with a static reason text (ENODATA: "no address
 * records"; callers that look up other types say their own). */
enum dns_status dns__classify(int status, const char **why);
/* Copy of name without one trailing dot; NULL if empty or too long. */
char   *dns__name(const char *name);

/* dns_resolver.c */
/*
 * A new query linked into r.  If r is closing, it comes back already
 * finished with DNS_CANCELED (still delivered later): check q->finished.
 */
struct dns_query *dns__query_new(struct dns_resolver *r, dns_cb cb, void *arg);
/* Record the result (copied; its pointers must live as long as q). */
void    dns__query_finish(struct dns_query *q, enum dns_status status, const char *why,
                          bool implicit, const struct dns_host *hosts, size_t nhosts);
/* ares_query(name, C_IN, type) on behalf of q; fn(q, arg, ...) on answer
 * (with dnssec: the same, sent with AD=1 and EDNS0 by ares_send). */
void    dns__send_query(struct dns_query *q, const char *name, int type,
                        dns__answer_fn fn, void *arg);
/* Did this answer of q's come with AD=1 from a resolver whose AD is trusted? */
bool    dns__answer_secure(const struct dns_query *q, const unsigned char *abuf, int alen);
/* ares_getaddrinfo(name, AF_UNSPEC, ARES_AI_NOSORT) on behalf of q. */
void    dns__send_addrinfo(struct dns_query *q, const char *name, dns__addr_fn fn,
                           void *arg);

#endif
