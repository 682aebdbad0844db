/*
 * dns_txt.c - TXT lookups (MTA-STS "_mta-sts.D", TLS-RPT "_smtp._tls.D").
 *
 * CONTRACT
 *  dns_txt_lookup() never fails and never calls back synchronously: it
 *  returns a query whose callback runs exactly once, later (dns_resolver.c
 *  delivers it).  The name is copied and sent as an FQDN (no search list).
 *  The result's txt array and strings belong to the query and are freed
 *  after the callback returns; why is a static string ("ok" on success).
 *
 *    TXT answer  -> DNS_OK, txt[0..ntxt) in DNS order, one entry per TXT
 *                   record: its character-strings concatenated without
 *                   separator (RFC 7208 3.3, RFC 8461 3.1), NUL-terminated.
 *                   A string holding a NUL byte ends the entry there (no
 *                   record of interest to us contains one).
 *    NODATA, or an answer without TXT (e.g. CNAME only) -> DNS_FAIL
 *                   "no TXT records";
 *    NXDOMAIN    -> DNS_FAIL "NXDOMAIN";  a bad name -> DNS_FAIL;
 *    timeout, SERVFAIL, REFUSED, unreachable, malformed -> DNS_RETRY
 *                   (dns__classify's texts).
 *  Callers filter the records themselves (e.g. only those starting with
 *  "v=STSv1;").  Every record is kept: a caller deciding "exactly one
 *  v=STSv1 record" must see them all (the answer bounds them: a 64 KiB
 *  message holds at most about 5000 TXT records).  Cancel: see
 *  dns_resolver.c (DNS_CANCELED carries no records).
 */
#include <arpa/nameser.h>
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"
#include "log.h"

struct dns_txt {                        /* q->priv */
    char  **txt;                        /* owned, each owned */
    size_t  ntxt;
};

/* dns_txt_free - free the lookup state (q->priv_free) */

static void dns_txt_free(void *priv)
{
    struct dns_txt *t = priv;

    for (size_t i = 0; i < t->ntxt; i++)
        free(t->txt[i]);
    free(t->txt);
    free(t);
}

/* dns_txt_append - add one character-string to record i (strings stop at a NUL) */

static void dns_txt_append(struct dns_txt *t, size_t i, const unsigned char *s, size_t len)
{
    size_t old = strlen(t->txt[i]);
    const unsigned char *nul = memchr(s, '\0', len);

    if (nul)
        len = (size_t)(nul - s);
    t->txt[i] = xrealloc(t->txt[i], old + len + 1);
    memcpy(t->txt[i] + old, s, len);
    t->txt[i][old + len] = '\0';
}

/* dns_txt_from_replies - one entry per record from c-ares' string list */

static void dns_txt_from_replies(struct dns_txt *t, const struct ares_txt_ext *replies)
{
    size_t n = 0;

    for (const struct ares_txt_ext *x = replies; x; x = x->next)
        n += x->record_start || x == replies;
    t->txt = xcalloc(n, sizeof(*t->txt));
    for (const struct ares_txt_ext *x = replies; x; x = x->next) {
        if (x->record_start || x == replies)
            t->txt[t->ntxt++] = xstrdup("");
        dns_txt_append(t, t->ntxt - 1, x->txt, x->length);
    }
}

/* dns_txt_on_answer - the TXT answer */

static void dns_txt_on_answer(struct dns_query *q, void *arg, int status,
                              const unsigned char *abuf, int alen)
{
    struct dns_txt *t = q->priv;
    struct ares_txt_ext *replies = NULL;
    const char *why;
    enum dns_status st;

    if (status == ARES_SUCCESS) {
        status = ares_parse_txt_reply_ext(abuf, alen, &replies);
        if (status == ARES_SUCCESS && replies == NULL)
            status = ARES_ENODATA;
        else if (status != ARES_SUCCESS && status != ARES_ENODATA)
            status = ARES_EBADRESP;
    }
    if (status == ARES_SUCCESS) {
        dns_txt_from_replies(t, replies);
        q->res.txt = (const char *const *)t->txt;
        q->res.ntxt = t->ntxt;
        dns__query_finish(q, DNS_OK, "ok", false, NULL, 0);
    } else {
        st = dns__classify(status, &why);
        if (status == ARES_ENODATA)
            why = "no TXT records";
        dns__query_finish(q, st, why, false, NULL, 0);
    }
    if (replies)
        ares_free_data(replies);
}

/* dns_txt_lookup - start TXT lookup of name */

struct dns_query *dns_txt_lookup(struct dns_resolver *r, const char *name, dns_cb cb,
                                 void *arg)
{
    struct dns_query *q = dns__query_new(r, cb, arg);
    struct dns_txt *t = xcalloc(1, sizeof(*t));
    char *host, *fqdn;

    q->priv = t;
    q->priv_free = dns_txt_free;
    if (q->finished)                    /* resolver closing */
        return q;
    if ((host = dns__name(name)) == NULL) {
        dns__query_finish(q, DNS_FAIL, "bad domain name", false, NULL, 0);
        return q;
    }
    fqdn = xasprintf("%s.", host);
    free(host);
    dns__send_query(q, fqdn, ns_t_txt, dns_txt_on_answer, NULL);
    free(fqdn);
    return q;
}
