/*
 * tls_crl.c - CRL sets: build, list, publish, and check a peer's chain.
 * Reading CRLs and issuer certificates from bytes and files (PEM, base64,
 * directories) is tls_crl_load.c's, through tls_internal.h.
 *
 * CONTRACT
 *  A set owns copies of everything added to it (CRL DER, issuer
 *  certificates, source and url strings); callers keep their buffers.
 *  Building (tls_crl_set_new here, tls_crl_set_add* in tls_crl_load.c) is
 *  for one thread and happens before the set is shared; after that a set
 *  is immutable apart from its memo, a mutex-protected cache of wolfSSL
 *  cert managers, so any number of threads may call tls_crl_check() and
 *  tls_crl_set_info() on it at once.  Sets are reference counted; the last
 *  tls_crl_set_unref() frees it, on whatever thread drops it.  The one
 *  function here returning -1, tls__crl_set_add_der(), sets *why to static
 *  text; the tls_crl_set_add* calls use a per-thread buffer, valid until
 *  the next call in that thread.
 *
 *  Nothing here blocks on the network, and the check never reads files.
 *  The miss hook is called synchronously from tls_crl_check(), without any
 *  lock held.  There is nothing to cancel.
 *
 *  How a CRL is used.  Our own DER walk (tls_crl_der.c, which also has
 *  tls_crl_cdp_urls()) reads the fields (wolfSSL refuses to load a stale
 *  CRL at all, ASN_PARSE_E, so it cannot tell us dates).
 *  Signatures and lookups use wolfSSL: per (CRL, issuer certificate) a
 *  "checker" cert manager holding only that issuer as a CA and that CRL;
 *  loading verifies the CRL signature once, and the checker (or the failed
 *  load, with wolfSSL's code) is kept in the memo.  Staleness is decided
 *  by our nextUpdate against the caller's `now` at check time.
 *
 *  Quirks of wolfSSL 5.5.4 handled here:
 *   - wolfSSL_CertManagerCheckCRL() does not verify the checked
 *     certificate's signature (a checker holding an impostor CA with the
 *     same name and key id answers 1); it only looks up a CA by name/AKI
 *     (-188 if none) and checks the certificate's dates against the wall
 *     clock (-151/-150).  So the issuer of each certificate is chosen by
 *     verifying its signature ourselves (memoized per pair), never by name
 *     alone: a peer can present extra certificates that wolfSSL's
 *     alternative-chain logic ignores.
 *   - Loading a CRL enables CRL checking with a blocking HTTP fetcher as
 *     the "CRL missing" IO callback; every checker replaces it.
 *   - wolfSSL_d2i_X509_NAME() takes a non-const pointer and does not
 *     advance it.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "log.h"
#include "tls_crl.h"
#include "tls_internal.h"

#define CRL_WALK_MAX   8                /* certificates checked per chain */
#define CRL_CHAIN_MAX  16               /* presented certificates looked at */
#define MEMO_BUCKETS   256
#define MEMO_KEY       41               /* kind byte, then two 20-byte ids */
#define MEMO_LINKS_MAX 16384            /* then the link answers are dropped */
#define MEMO_CMS_MAX   4096             /* then checkers are built per call */

struct crl_entry {                      /* one CRL of a set */
    unsigned char *der;                 /* owned */
    size_t  len;
    struct tls__crl_tbs tbs;            /* views into der */
    char    issuer_text[512];
    char   *source, *url;               /* owned; url may be NULL */
};

struct crl_issuer {                     /* a certificate from an issuers file */
    unsigned char *der;                 /* owned */
    struct tls__crl_cert cert;          /* views into der */
    bool    anchor;
};

struct crl_memo {                       /* a cached answer of wolfSSL */
    struct crl_memo *next;
    unsigned char key[MEMO_KEY];
    int     result;
    WOLFSSL_CERT_MANAGER *cm;           /* owned, or NULL */
};

struct tls_crl_set {
    _Atomic int refs;
    struct crl_entry *crls;             /* owned, ncrls */
    size_t  ncrls;
    struct crl_issuer *issuers;         /* owned, nissuers */
    size_t  nissuers;
    uv_mutex_t lock;                    /* guards the memo */
    struct crl_memo *memo[MEMO_BUCKETS];        /* owned chains */
    size_t  nlinks, ncms;
};

enum crl_state { ST_GOOD, ST_REVOKED, ST_MISSING, ST_STALE, ST_BADSIG, ST_ERROR };

static uv_once_t crl_once = UV_ONCE_INIT;
static uv_mutex_t crl_pub_lock;         /* guards the three below */
static struct tls_crl_set *crl_published;
static tls_crl_miss_fn crl_miss_fn;
static void *crl_miss_arg;

static void crl_pub_init(void);

/* ---- text ---------------------------------------------------------- */

/* tls__name_text - a DER Name as RFC 2253 text, as tls_cert_info prints it */

void tls__name_text(struct tls__der_view name, char *out, size_t sz)
{
    unsigned char *p = (unsigned char *)name.p;         /* not advanced, not written */
    WOLFSSL_X509_NAME *x = wolfSSL_d2i_X509_NAME(NULL, &p, (long)name.len);
    WOLFSSL_BIO *bio = x != NULL ? wolfSSL_BIO_new(wolfSSL_BIO_s_mem()) : NULL;
    char   *text = NULL;
    long    n = 0;

    snprintf(out, sz, "(unreadable name)");
    if (bio != NULL && wolfSSL_X509_NAME_print_ex(bio, x, 0, XN_FLAG_RFC2253) == WOLFSSL_SUCCESS)
        n = wolfSSL_BIO_get_mem_data(bio, &text);
    if (n > 0 && text != NULL)          /* not NUL-terminated */
        snprintf(out, sz, "%.*s", (int)n, text);
    wolfSSL_BIO_free(bio);
    wolfSSL_X509_NAME_free(x);
}

/* crl_time_text - "2026-11-22" or "2026-11-22T13:33:41Z" */

static const char *crl_time_text(int64_t t, bool date_only, char *buf, size_t sz)
{
    time_t  tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, sz, date_only ? "%Y-%m-%d"
                                                : "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, sz, "%lld", (long long)t);
    return buf;
}

/* ---- building a set ---------------------------------------------- */

/* tls_crl_set_new - an empty set with one reference */

struct tls_crl_set *tls_crl_set_new(void)
{
    struct tls_crl_set *s = xcalloc(1, sizeof(*s));

    wolfSSL_Init();                     /* counted; released by the last unref */
    if (uv_mutex_init(&s->lock) != 0)
        log_panic("tls", "uv_mutex_init failed");
    s->refs = 1;
    return s;
}

/* tls__crl_set_add_der - parse one DER CRL (taking over der) and append it */

int tls__crl_set_add_der(struct tls_crl_set *s, unsigned char *der, size_t len,
                         const char *source, const char *url, const char **why)
{
    struct crl_entry e;

    memset(&e, 0, sizeof(e));
    e.der = der;
    e.len = len;
    if ((*why = tls__crl_parse(der, len, &e.tbs)) != NULL) {
        free(der);
        return -1;
    }
    tls__name_text(e.tbs.issuer, e.issuer_text, sizeof(e.issuer_text));
    e.source = xstrdup(source != NULL ? source : "-");
    e.url = url != NULL ? xstrdup(url) : NULL;
    s->crls = xrealloc(s->crls, (s->ncrls + 1) * sizeof(*s->crls));
    s->crls[s->ncrls++] = e;
    return 0;
}

/* tls__crl_set_add_issuer - parse one DER certificate (taking over der) and append it */

bool tls__crl_set_add_issuer(struct tls_crl_set *s, unsigned char *der, size_t len, bool anchor)
{
    struct crl_issuer is = {.der = der, .anchor = anchor};

    if (!tls__crl_cert_parse(der, len, &is.cert)) {
        free(der);
        return false;
    }
    s->issuers = xrealloc(s->issuers, (s->nissuers + 1) * sizeof(*s->issuers));
    s->issuers[s->nissuers++] = is;
    return true;
}

/* tls_crl_set_ref - take a reference */

struct tls_crl_set *tls_crl_set_ref(struct tls_crl_set *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

/* tls_crl_set_unref - drop a reference; the last frees everything */

void tls_crl_set_unref(struct tls_crl_set *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t b = 0; b < MEMO_BUCKETS; b++)
        for (struct crl_memo *m = s->memo[b], *next; m != NULL; m = next) {
            next = m->next;
            if (m->cm != NULL)
                wolfSSL_CertManagerFree(m->cm);
            free(m);
        }
    for (size_t i = 0; i < s->ncrls; i++) {
        free(s->crls[i].der);
        free(s->crls[i].source);
        free(s->crls[i].url);
    }
    for (size_t i = 0; i < s->nissuers; i++)
        free(s->issuers[i].der);
    free(s->crls);
    free(s->issuers);
    uv_mutex_destroy(&s->lock);
    free(s);
    wolfSSL_Cleanup();
}

/* ---- the memo: checkers and verified issuer links ----------------- */

typedef int (*memo_build_fn)(const void *a, const void *b, WOLFSSL_CERT_MANAGER **cm);

/* memo_find - the entry under key; caller holds the lock */

static struct crl_memo *memo_find(struct tls_crl_set *s, const unsigned char *key, size_t *bucket)
{
    uint32_t h = 2166136261u;           /* FNV-1a */

    for (size_t i = 0; i < MEMO_KEY; i++)
        h = (h ^ key[i]) * 16777619u;
    *bucket = h % MEMO_BUCKETS;
    for (struct crl_memo *m = s->memo[*bucket]; m != NULL; m = m->next)
        if (memcmp(m->key, key, MEMO_KEY) == 0)
            return m;
    return NULL;
}

/* memo_drop_links - forget every link answer (they own nothing); lock held */

static void memo_drop_links(struct tls_crl_set *s)
{
    for (size_t b = 0; b < MEMO_BUCKETS; b++)
        for (struct crl_memo **pp = &s->memo[b], *m; (m = *pp) != NULL;)
            if (m->key[0] == 'L') {
                *pp = m->next;
                free(m);
            } else {
                pp = &m->next;
            }
    s->nlinks = 0;
}

/*
 * memo_get - wolfSSL's answer under key, built (outside the lock) by build
 * on a miss and then kept.  *cm (if cm is not NULL) gets the answer's cert
 * manager: owned by the set, or by the caller when *temp says so (the memo
 * is full).
 */
static int memo_get(struct tls_crl_set *s, const unsigned char *key, memo_build_fn build,
                    const void *a, const void *b, WOLFSSL_CERT_MANAGER **cm, bool *temp)
{
    struct crl_memo *m;
    WOLFSSL_CERT_MANAGER *made = NULL, *kept = NULL;
    size_t  bucket;
    int     result;

    uv_mutex_lock(&s->lock);
    if ((m = memo_find(s, key, &bucket)) == NULL) {
        uv_mutex_unlock(&s->lock);
        result = build(a, b, &made);
        uv_mutex_lock(&s->lock);
        if ((m = memo_find(s, key, &bucket)) == NULL) {
            if (key[0] == 'L' && s->nlinks >= MEMO_LINKS_MAX)
                memo_drop_links(s);
            if (made == NULL || s->ncms < MEMO_CMS_MAX) {
                m = xcalloc(1, sizeof(*m));
                memcpy(m->key, key, MEMO_KEY);
                m->result = result;
                m->cm = made;
                m->next = s->memo[bucket];
                s->memo[bucket] = m;
                s->nlinks += key[0] == 'L';
                s->ncms += made != NULL;
                made = NULL;
            }
        }
    }
    if (m != NULL) {
        result = m->result;
        kept = m->cm;                   /* link entries may be freed once unlocked */
    }
    uv_mutex_unlock(&s->lock);
    if (m != NULL && made != NULL)      /* another thread was faster */
        wolfSSL_CertManagerFree(made);
    if (cm != NULL) {
        *cm = m != NULL ? kept : made;
        *temp = m == NULL;
    } else if (made != NULL) {
        wolfSSL_CertManagerFree(made);
    }
    return result;
}

/* crl_no_fetch - the checkers' "CRL missing" IO callback: never fetch */

static int crl_no_fetch(WOLFSSL_CRL *crl, const char *url, int url_len)
{
    return -1;
}

/* checker_build - a cert manager with only the issuer as CA and the CRL loaded */

static int checker_build(const void *a, const void *b, WOLFSSL_CERT_MANAGER **out)
{
    const struct crl_entry *e = a;
    const struct tls__crl_cert *issuer = b;
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    int     r;

    if (cm == NULL)
        return MEMORY_E;
    r = wolfSSL_CertManagerLoadCABuffer(cm, issuer->der, (long)issuer->len,
                                        WOLFSSL_FILETYPE_ASN1);
    if (r == WOLFSSL_SUCCESS)           /* verifies the CRL's signature */
        r = wolfSSL_CertManagerLoadCRLBuffer(cm, e->der, (long)e->len, WOLFSSL_FILETYPE_ASN1);
    if (r == WOLFSSL_SUCCESS)
        r = wolfSSL_CertManagerSetCRL_IOCb(cm, crl_no_fetch);
    if (r != WOLFSSL_SUCCESS) {
        wolfSSL_CertManagerFree(cm);
        return r;
    }
    *out = cm;
    return r;
}

/* crl_checker - the (memoized) checker of CRL i with issuer; 1 or wolfSSL's error */

static int crl_checker(struct tls_crl_set *s, size_t i, const struct tls__crl_cert *issuer,
                       WOLFSSL_CERT_MANAGER **cm, bool *temp)
{
    unsigned char key[MEMO_KEY] = {'C'};

    memcpy(key + 1, &i, sizeof(i));
    memcpy(key + 21, issuer->sha1, WC_SHA_DIGEST_SIZE);
    return memo_get(s, key, checker_build, &s->crls[i], issuer, cm, temp);
}

/* link_build - 1 if b's key verifies a's signature, else 0 */

static int link_build(const void *a, const void *b, WOLFSSL_CERT_MANAGER **unused)
{
    const struct tls__crl_cert *child = a, *issuer = b;
    WOLFSSL_X509 *xc = wolfSSL_X509_d2i(NULL, child->der, (int)child->len);
    WOLFSSL_X509 *xi = wolfSSL_X509_d2i(NULL, issuer->der, (int)issuer->len);
    WOLFSSL_EVP_PKEY *key = xi != NULL ? wolfSSL_X509_get_pubkey(xi) : NULL;
    int     ok = xc != NULL && key != NULL && wolfSSL_X509_verify(xc, key) == WOLFSSL_SUCCESS;

    wolfSSL_EVP_PKEY_free(key);
    wolfSSL_X509_free(xi);
    wolfSSL_X509_free(xc);
    return ok;
}

/* crl_issued_by - whether issuer's name and key issued child (memoized) */

static bool crl_issued_by(struct tls_crl_set *s, const struct tls__crl_cert *child,
                          const struct tls__crl_cert *issuer)
{
    unsigned char key[MEMO_KEY] = {'L'};

    if (!tls__der_eq(child->issuer, issuer->subject))
        return false;
    memcpy(key + 1, child->sha1, WC_SHA_DIGEST_SIZE);
    memcpy(key + 21, issuer->sha1, WC_SHA_DIGEST_SIZE);
    return memo_get(s, key, link_build, child, issuer, NULL, NULL) == 1;
}

/* ---- listing ------------------------------------------------------ */

/* tls_crl_set_count - number of CRLs */

size_t tls_crl_set_count(const struct tls_crl_set *s)
{
    return s->ncrls;
}

/* tls_crl_set_info - facts and status of CRL i at now */

void tls_crl_set_info(struct tls_crl_set *s, size_t i, int64_t now, struct tls_crl_info *out)
{
    const struct crl_entry *e;
    bool    named = false;

    if (i >= s->ncrls)
        log_panic("tls", "CRL %zu of a set of %zu", i, s->ncrls);
    e = &s->crls[i];
    memset(out, 0, sizeof(*out));
    snprintf(out->issuer, sizeof(out->issuer), "%s", e->issuer_text);
    out->this_update = e->tbs.this_update;
    out->next_update = e->tbs.next_update;
    out->entries = e->tbs.entries;
    snprintf(out->number, sizeof(out->number), "%s", e->tbs.number);
    out->source = e->source;
    out->url = e->url;
    out->status = "IssuerUnknown";
    if (e->tbs.next_update != 0 && e->tbs.next_update <= now) {
        out->status = "Stale";          /* wolfSSL cannot even load it to verify */
        return;
    }
    for (size_t k = 0; k < s->nissuers; k++) {
        WOLFSSL_CERT_MANAGER *cm;
        bool    temp;

        if (!tls__der_eq(s->issuers[k].cert.subject, e->tbs.issuer))
            continue;
        named = true;
        if (crl_checker(s, i, &s->issuers[k].cert, &cm, &temp) == WOLFSSL_SUCCESS) {
            if (temp)
                wolfSSL_CertManagerFree(cm);
            out->status = "Current";
            return;
        }
    }
    if (named)
        out->status = "BadSignature";
}

/* ---- checking a chain ------------------------------------------- */

/* crl_is_anchor - c is one of the set's trust anchors (same DER, or name and key) */

static bool crl_is_anchor(const struct tls_crl_set *s, const struct tls__crl_cert *c)
{
    for (size_t k = 0; k < s->nissuers; k++) {
        const struct tls__crl_cert *a = &s->issuers[k].cert;

        if (s->issuers[k].anchor && (memcmp(a->sha1, c->sha1, sizeof(a->sha1)) == 0
                                     || (tls__der_eq(a->subject, c->subject)
                                         && tls__der_eq(a->spki, c->spki))))
            return true;
    }
    return false;
}

/* crl_find_issuer - the presented, else known, certificate that issued c */

static const struct tls__crl_cert *crl_find_issuer(struct tls_crl_set *s,
                                                   const struct tls__crl_cert *pres, size_t np,
                                                   const struct tls__crl_cert *c)
{
    for (size_t k = 0; k < np; k++)
        if (memcmp(pres[k].sha1, c->sha1, sizeof(c->sha1)) != 0
            && crl_issued_by(s, c, &pres[k]))
            return &pres[k];
    for (size_t k = 0; k < s->nissuers; k++)
        if (crl_issued_by(s, c, &s->issuers[k].cert))
            return &s->issuers[k].cert;
    return NULL;
}

/* tls__crl_issuer_of - a copy of the published set's issuer whose key signed der */

unsigned char *tls__crl_issuer_of(const unsigned char *der, size_t len, size_t *out_len)
{
    struct tls_crl_set *s = tls_crl_current();
    struct tls__crl_cert c;
    const struct tls__crl_cert *i;
    unsigned char *copy = NULL;

    if (s == NULL)
        return NULL;
    if (tls__crl_cert_parse(der, len, &c) && (i = crl_find_issuer(s, NULL, 0, &c)) != NULL) {
        copy = xmalloc(i->len);
        memcpy(copy, i->der, i->len);
        *out_len = i->len;
    }
    tls_crl_set_unref(s);
    return copy;
}

/*
 * crl_decide - c against the CRLs of its issuer at now: the newest current
 * CRL of that name whose signature verifies with the issuer's key.  *which
 * gets the CRL that decided, *since the latest nextUpdate of stale ones,
 * *err wolfSSL's code for ST_ERROR.
 */
static enum crl_state crl_decide(struct tls_crl_set *s, const struct tls__crl_cert *c,
                                 const struct tls__crl_cert *issuer, int64_t now, size_t *which,
                                 int64_t *since, int *err)
{
    int64_t prev_t = INT64_MAX;
    size_t  prev_i = SIZE_MAX;
    bool    any = false, current = false;

    *since = 0;
    for (;;) {                          /* candidates by (thisUpdate, index), newest first */
        size_t  best = SIZE_MAX;
        WOLFSSL_CERT_MANAGER *cm;
        bool    temp;
        int     r;

        for (size_t k = 0; k < s->ncrls; k++) {
            const struct crl_entry *e = &s->crls[k];

            if (!tls__der_eq(e->tbs.issuer, c->issuer))
                continue;
            any = true;
            if (e->tbs.next_update != 0 && e->tbs.next_update <= now) {
                *since = e->tbs.next_update > *since ? e->tbs.next_update : *since;
                continue;
            }
            current = true;
            if (e->tbs.this_update > prev_t || (e->tbs.this_update == prev_t && k >= prev_i))
                continue;               /* already tried */
            if (best == SIZE_MAX || e->tbs.this_update >= s->crls[best].tbs.this_update)
                best = k;
        }
        if (best == SIZE_MAX)
            return !any ? ST_MISSING : current ? ST_BADSIG : ST_STALE;
        prev_t = s->crls[best].tbs.this_update;
        prev_i = best;
        if (crl_checker(s, best, issuer, &cm, &temp) != WOLFSSL_SUCCESS)
            continue;                   /* does not verify with this issuer */
        r = wolfSSL_CertManagerCheckCRL(cm, (unsigned char *)c->der, (int)c->len);
        if (temp)
            wolfSSL_CertManagerFree(cm);
        *which = best;
        *err = r;
        return r == WOLFSSL_SUCCESS ? ST_GOOD : r == CRL_CERT_REVOKED ? ST_REVOKED
            : ST_ERROR;
    }
}

/* crl_miss - tell the miss hook c's first http distribution point */

static void crl_miss(const struct tls__crl_cert *c)
{
    tls_crl_miss_fn fn;
    void   *arg;
    char    urls[1024];

    uv_once(&crl_once, crl_pub_init);
    uv_mutex_lock(&crl_pub_lock);
    fn = crl_miss_fn;
    arg = crl_miss_arg;
    uv_mutex_unlock(&crl_pub_lock);
    if (fn == NULL)
        return;
    tls_crl_cdp_urls(c->der, c->len, urls, sizeof(urls));
    urls[strcspn(urls, " ")] = '\0';
    if (urls[0] != '\0')
        fn(urls, arg);
}

/* crl_reason - format a reason line, truncated to fit (by design) */

static void crl_reason(struct tls_crl_result *out, const char *fmt, ...) LOG_PRINTF(2, 3);

static void crl_reason(struct tls_crl_result *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

/* crl_revoked - the REVOKED verdict for c, listed in CRL e */

static void crl_revoked(struct tls_crl_result *out, int depth, const struct tls__crl_cert *c,
                        const struct crl_entry *e)
{
    static const char *const reasons[] = {
        "unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
        "cessationOfOperation", "certificateHold", "7", "removeFromCRL",
        "privilegeWithdrawn", "aACompromise",
    };
    char    serial[80], subject[256], when[40] = "", why[40] = "", date[32];
    int64_t t = 0;
    int     reason = -1;

    tls__der_int_hex(c->serial, serial, sizeof(serial));
    tls__name_text(c->subject, subject, sizeof(subject));
    if (tls__crl_find_serial(&e->tbs, c->serial, &t, &reason) && t != 0)
        snprintf(when, sizeof(when), " on %s", crl_time_text(t, true, date, sizeof(date)));
    if (reason >= 0 && reason < (int)(sizeof(reasons) / sizeof(reasons[0])))
        snprintf(why, sizeof(why), " (%s)", reasons[reason]);
    out->verdict = TLS_REV_REVOKED;
    out->depth = depth;
    crl_reason(out, "certificate serial %s (%s) revoked by %s%s%s", serial, subject,
               e->issuer_text, when, why);
}

/* crl_unknown - record the first reason for UNKNOWN: before, the name, after */

static void crl_unknown(struct tls_crl_result *out, int depth, const char *before,
                        struct tls__der_view name, const char *after)
{
    char    text[256];

    if (out->verdict == TLS_REV_UNKNOWN)
        return;
    tls__name_text(name, text, sizeof(text));
    out->verdict = TLS_REV_UNKNOWN;
    out->depth = depth;
    crl_reason(out, "%s%s%s", before, text, after);
}

/* tls_crl_check - revocation of a verified chain, leaf first */

void tls_crl_check(struct tls_crl_set *s, const struct tls_crl_cert *chain, size_t n,
                   int64_t now, struct tls_crl_result *out)
{
    struct tls__crl_cert pres[CRL_CHAIN_MAX];
    const struct tls__crl_cert *cur;
    size_t  np = 0;

    out->verdict = TLS_REV_NOT_CHECKED;
    out->depth = -1;
    out->reason[0] = '\0';
    if (n == 0)
        return;
    for (size_t k = 0; k < n && np < CRL_CHAIN_MAX; k++)
        if (tls__crl_cert_parse(chain[k].der, chain[k].len, &pres[np]))
            np++;
        else if (k == 0)
            break;
    if (np == 0) {                      /* the leaf itself did not parse */
        out->verdict = TLS_REV_UNKNOWN;
        out->depth = 0;
        snprintf(out->reason, sizeof(out->reason), "the certificate cannot be parsed");
        return;
    }
    out->verdict = TLS_REV_GOOD;
    cur = &pres[0];
    for (int depth = 0; !crl_is_anchor(s, cur) && !tls__der_eq(cur->subject, cur->issuer);
         depth++) {
        const struct tls__crl_cert *issuer;
        enum crl_state st;
        size_t  which = 0;
        int64_t since;
        int     err = 0;
        char    text[64], date[32];

        if (depth == CRL_WALK_MAX) {
            crl_unknown(out, depth, "chain above ", cur->subject, " is too long");
            return;
        }
        if ((issuer = crl_find_issuer(s, pres, np, cur)) == NULL) {
            crl_unknown(out, depth, "issuer of ", cur->subject, " not found");
            return;
        }
        st = crl_decide(s, cur, issuer, now, &which, &since, &err);
        switch (st) {
        case ST_GOOD:
            break;
        case ST_REVOKED:
            crl_revoked(out, depth, cur, &s->crls[which]);
            return;
        case ST_MISSING:
            crl_unknown(out, depth, "no CRL for issuer ", cur->issuer, "");
            break;
        case ST_STALE:
            snprintf(text, sizeof(text), " is stale since %s",
                     crl_time_text(since, false, date, sizeof(date)));
            crl_unknown(out, depth, "CRL of ", cur->issuer, text);
            break;
        case ST_BADSIG:
            crl_unknown(out, depth, "CRL of ", cur->issuer,
                        " does not verify with its issuer's key");
            break;
        case ST_ERROR:
            snprintf(text, sizeof(text), " failed (wolfSSL error %d)", err);
            crl_unknown(out, depth, "CRL check of ", cur->subject, text);
            break;
        }
        if (st != ST_GOOD && st != ST_ERROR)
            crl_miss(cur);
        cur = issuer;
    }
}

/* tls__crl_check_peer - the revocation of a finished session's peer chain */

enum tls_revocation tls__crl_check_peer(WOLFSSL *ssl, const unsigned char *leaf, size_t len,
                                        char *reason, size_t sz)
{
    struct tls_crl_cert chain[CRL_CHAIN_MAX], sent[CRL_CHAIN_MAX - 1];
    struct tls_crl_set *s;
    struct tls_crl_result r;
    /* As tls_facts.c reads it: a resumed session's is its sealing handshake's. */
    size_t  count = tls__facts_peer_chain(ssl, sent, CRL_CHAIN_MAX - 1), n = 0;

    /* The leaf first, then what the peer sent (which normally starts with it). */
    chain[n++] = (struct tls_crl_cert){leaf, len};
    for (size_t i = 0; i < count; i++)
        if (!(sent[i].len == len && memcmp(sent[i].der, leaf, len) == 0))
            chain[n++] = sent[i];
    if ((s = tls_crl_current()) == NULL) {
        snprintf(reason, sz, "no CRLs loaded");
        return TLS_REV_UNKNOWN;
    }
    tls_crl_check(s, chain, n, (int64_t)time(NULL), &r);
    tls_crl_set_unref(s);
    snprintf(reason, sz, "%s", r.reason);
    return r.verdict;
}

/* ---- publication ------------------------------------------------ */

/* crl_pub_init - the publication mutex, once */

static void crl_pub_init(void)
{
    if (uv_mutex_init(&crl_pub_lock) != 0)
        log_panic("tls", "uv_mutex_init failed");
}

/* tls_crl_publish - make s (our reference) the set handshakes check against */

void tls_crl_publish(struct tls_crl_set *s)
{
    struct tls_crl_set *old;
    struct tls_crl_info info;

    uv_once(&crl_once, crl_pub_init);
    /* Verify every CRL signature now, here, rather than in a handshake. */
    for (size_t i = 0; s != NULL && i < s->ncrls; i++)
        tls_crl_set_info(s, i, (int64_t)time(NULL), &info);
    uv_mutex_lock(&crl_pub_lock);
    old = crl_published;
    crl_published = s;
    uv_mutex_unlock(&crl_pub_lock);
    tls_crl_set_unref(old);
}

/* tls_crl_current - a new reference to the published set, or NULL */

struct tls_crl_set *tls_crl_current(void)
{
    struct tls_crl_set *s;

    uv_once(&crl_once, crl_pub_init);
    uv_mutex_lock(&crl_pub_lock);
    s = crl_published != NULL ? tls_crl_set_ref(crl_published) : NULL;
    uv_mutex_unlock(&crl_pub_lock);
    return s;
}

/* tls_crl_set_miss_hook - who hears about missing or stale CRLs */

void tls_crl_set_miss_hook(tls_crl_miss_fn fn, void *arg)
{
    uv_once(&crl_once, crl_pub_init);
    uv_mutex_lock(&crl_pub_lock);
    crl_miss_fn = fn;
    crl_miss_arg = arg;
    uv_mutex_unlock(&crl_pub_lock);
}

/* tls_crl_cleanup - drop the published set at exit */

void tls_crl_cleanup(void)
{
    tls_crl_publish(NULL);
}
