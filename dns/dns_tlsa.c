/*
 * dns_tlsa.c - TLSA lookups (DANE, RFC 6698 / RFC 7672 "_25._tcp.MX").
 *
 * CONTRACT
 *  dns_tlsa_lookup() never fails and never calls back synchronously: it
 *  returns a query whose callback runs exactly once, later (dns_resolver.c
 *  delivers it).  The host is copied; the query name is _PORT._tcp.HOST.
 *  (an FQDN: no search list).  The result's tlsa array and data belong to
 *  the query and are freed after the callback returns; why is a static
 *  string ("ok" on success).
 *
 *    TLSA answer -> DNS_OK, tlsa[0..ntlsa) in DNS order (every TLSA record
 *                   of the answer section: no cap here, the message size
 *                   bounds them, so a caller's cap applies after its usable
 *                   filter; usage, selector and matching type as sent, and
 *                   empty association data (len 0) kept: which are usable
 *                   is the caller's business, RFC 7671 4), secure = AD
 *                   (dnssec only);
 *    NODATA, NXDOMAIN, or an answer without TLSA (a CNAME chain that
 *                   ends nowhere) -> DNS_FAIL "no TLSA records",
 *                   secure = AD of the denial;
 *    a TLSA RDATA shorter than 3 bytes, a malformed message -> DNS_RETRY
 *                   "malformed TLSA answer";
 *    timeout, SERVFAIL (a validating resolver's answer to a bogus zone),
 *                   REFUSED, unreachable -> DNS_RETRY (dns__classify's
 *                   texts); a bad host name -> DNS_FAIL.
 *  Cancel: see dns_resolver.c (DNS_CANCELED carries no records).
 */
#include <arpa/nameser.h>
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"
#include "log.h"

#define DNS_T_TLSA   52                 /* RFC 6698 7.1 (not in arpa/nameser.h) */
#define DNS_TLSA_RR_MIN (1 + RRFIXEDSZ + 3)     /* root name, fixed part, U S M */

struct dns_tlsa_state {                 /* q->priv */
    struct dns_tlsa *tlsa;              /* owned, each data owned */
    size_t  ntlsa;
};

/* dns_tlsa_free - free the lookup state (q->priv_free) */

static void dns_tlsa_free(void *priv)
{
    struct dns_tlsa_state *t = priv;

    for (size_t i = 0; i < t->ntlsa; i++)
        free((void *)t->tlsa[i].data);
    free(t->tlsa);
    free(t);
}

/* dns_tlsa_skip_name - offset after the (maybe compressed) name at off, or -1 */

static long dns_tlsa_skip_name(const unsigned char *abuf, int alen, long off)
{
    char   *name;
    long    enclen;

    if (off >= alen || ares_expand_name(abuf + off, abuf, alen, &name, &enclen) != ARES_SUCCESS)
        return -1;
    ares_free_string(name);
    return off + enclen;
}

/* dns_tlsa_parse - the TLSA records of the answer section; ARES_EBADRESP
 * if the message is malformed, ARES_ENODATA if it holds none */

static int dns_tlsa_parse(struct dns_tlsa_state *t, const unsigned char *abuf, int alen)
{
    unsigned qdcount, ancount;
    long    off = HFIXEDSZ;

    if (alen < HFIXEDSZ)
        return ARES_EBADRESP;
    qdcount = ((unsigned)abuf[4] << 8) | abuf[5];
    ancount = ((unsigned)abuf[6] << 8) | abuf[7];
    for (unsigned i = 0; i < qdcount; i++) {
        if ((off = dns_tlsa_skip_name(abuf, alen, off)) < 0 || off + QFIXEDSZ > alen)
            return ARES_EBADRESP;
        off += QFIXEDSZ;
    }
    if (ancount > (unsigned)(alen - off) / DNS_TLSA_RR_MIN)
        ancount = (unsigned)(alen - off) / DNS_TLSA_RR_MIN;    /* what can fit, not the header's word */
    t->tlsa = xcalloc(ancount ? ancount : 1, sizeof(*t->tlsa));
    for (unsigned i = 0; i < ancount; i++) {
        unsigned type, class, rdlen;
        const unsigned char *rd;
        unsigned char *data;

        if ((off = dns_tlsa_skip_name(abuf, alen, off)) < 0 || off + RRFIXEDSZ > alen)
            return ARES_EBADRESP;
        type = ((unsigned)abuf[off] << 8) | abuf[off + 1];
        class = ((unsigned)abuf[off + 2] << 8) | abuf[off + 3];
        rdlen = ((unsigned)abuf[off + 8] << 8) | abuf[off + 9];
        rd = abuf + off + RRFIXEDSZ;
        off += RRFIXEDSZ + rdlen;
        if (off > alen)
            return ARES_EBADRESP;
        if (type != DNS_T_TLSA || class != ns_c_in)
            continue;                   /* CNAMEs of the chain, RRSIGs */
        if (rdlen < 3)                  /* usage, selector, mtype (data may be empty:
                                         * an unusable record, not a broken answer) */
            return ARES_EBADRESP;
        data = xmalloc(rdlen - 3 + 1);
        memcpy(data, rd + 3, rdlen - 3);
        t->tlsa[t->ntlsa++] = (struct dns_tlsa) {
            .usage = rd[0], .selector = rd[1], .mtype = rd[2], .data = data, .len = rdlen - 3,
        };
    }
    return t->ntlsa > 0 ? ARES_SUCCESS : ARES_ENODATA;
}

/* dns_tlsa_on_answer - the TLSA answer */

static void dns_tlsa_on_answer(struct dns_query *q, void *arg, int status,
                               const unsigned char *abuf, int alen)
{
    struct dns_tlsa_state *t = q->priv;
    const char *why;
    enum dns_status st;

    if (status == ARES_SUCCESS)
        status = dns_tlsa_parse(t, abuf, alen);
    if (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND)
        q->res.secure = dns__answer_secure(q, abuf, alen);
    if (status == ARES_SUCCESS) {
        q->res.tlsa = t->tlsa;
        q->res.ntlsa = t->ntlsa;
        dns__query_finish(q, DNS_OK, "ok", false, NULL, 0);
        return;
    }
    st = dns__classify(status, &why);
    if (status == ARES_ENODATA || status == ARES_ENOTFOUND)
        why = "no TLSA records";
    else if (status == ARES_EBADRESP)
        why = "malformed TLSA answer";
    dns__query_finish(q, st, why, false, NULL, 0);
}

/* dns_tlsa_lookup - start TLSA lookup of _port._tcp.host */

struct dns_query *dns_tlsa_lookup(struct dns_resolver *r, const char *host, unsigned port,
                                  dns_cb cb, void *arg)
{
    struct dns_query *q = dns__query_new(r, cb, arg);
    struct dns_tlsa_state *t = xcalloc(1, sizeof(*t));
    char   *name, *fqdn;

    q->priv = t;
    q->priv_free = dns_tlsa_free;
    if (q->finished)                    /* resolver closing */
        return q;
    if ((name = dns__name(host)) == NULL || port == 0 || port > 65535) {
        free(name);
        dns__query_finish(q, DNS_FAIL, "bad domain name", false, NULL, 0);
        return q;
    }
    fqdn = xasprintf("_%u._tcp.%s.", port, name);
    free(name);
    dns__send_query(q, fqdn, DNS_T_TLSA, dns_tlsa_on_answer, NULL);
    free(fqdn);
    return q;
}
