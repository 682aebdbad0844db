/*
 * tls_ocsp_cache.c - the process-wide OCSP response cache and the OCSP
 * verdict of a peer's chain.
 *
 *  Whoever fetches responses (relay/crl/) puts them here by the SHA-256 of
 *  the DER request they answer; a handshake's check builds the leaf's
 *  request, looks its response up and judges it with tls_ocsp_check()
 *  against the chain the peer sent.  A missing or useless response makes
 *  the verdict UNKNOWN now; when the caller asks (relay/ does, only for a
 *  partner whose policy uses OCSP) the miss hook hears the URL and
 *  request, so the next session finds the answer: a handshake never waits.
 *  The leaf's issuer (which names the CertID and must sign the response) is
 *  a certificate whose key verifies the leaf's signature: one sent, else a
 *  known CA of the published CRL set, never one picked by name alone.
 *
 *  The cache is a small array under a mutex (at most 4096 responses, the
 *  oldest put dropped first); entries are replaced, never changed.
 *  Responses are not verified when put: every check verifies the one it
 *  uses (a signature per check, as for every new handshake anyway).
 *
 * CONTRACT
 *  Every function may be called from any thread.  Inputs are copied or
 *  only read during the call; tls_ocsp_cache_get() returns a malloc()ed
 *  copy.  The miss hook runs in the checking thread, without the cache
 *  lock held, and must not block.  No callbacks otherwise, nothing to
 *  cancel.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls_internal.h"
#include "tls_ocsp.h"

#define OCSP_CACHE_MAX 4096

struct ocsp_entry {
    unsigned char key[32];
    unsigned char *der;                 /* owned */
    size_t  len;
    uint64_t seq;                       /* put order: the smallest goes first */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ocsp_entry *cache;        /* owned, ncache used of cap */
static size_t ncache, cache_cap;
static uint64_t cache_seq;
static tls_ocsp_miss_fn miss_fn;
static void *miss_arg;

/* tls_ocsp_key - the cache key of a DER request */

void tls_ocsp_key(const unsigned char *req, size_t len, unsigned char key[32])
{
    if (wc_Sha256Hash(req, (word32)len, key) != 0)
        memset(key, 0, 32);
}

/* cache_find - the index of key, or ncache; lock held */

static size_t cache_find(const unsigned char key[32])
{
    size_t  i = 0;

    while (i < ncache && memcmp(cache[i].key, key, 32) != 0)
        i++;
    return i;
}

/* tls_ocsp_cache_put - keep a response for the request whose hash is key */

void tls_ocsp_cache_put(const unsigned char key[32], const unsigned char *resp, size_t len)
{
    unsigned char *der = xmalloc(len > 0 ? len : 1), *old = NULL;
    size_t  i;

    memcpy(der, resp, len);
    pthread_mutex_lock(&cache_lock);
    if ((i = cache_find(key)) == ncache) {
        if (ncache == OCSP_CACHE_MAX) {     /* drop the oldest */
            i = 0;
            for (size_t j = 1; j < ncache; j++)
                if (cache[j].seq < cache[i].seq)
                    i = j;
        } else {
            if (ncache == cache_cap) {
                cache_cap = cache_cap ? cache_cap * 2 : 16;
                cache = xrealloc(cache, cache_cap * sizeof(*cache));
            }
            ncache++;
            cache[i].der = NULL;
        }
        memcpy(cache[i].key, key, 32);
    }
    old = cache[i].der;
    cache[i].der = der;
    cache[i].len = len;
    cache[i].seq = ++cache_seq;
    pthread_mutex_unlock(&cache_lock);
    free(old);
}

/* tls_ocsp_cache_get - a copy of the response for key, or NULL */

unsigned char *tls_ocsp_cache_get(const unsigned char key[32], size_t *len)
{
    unsigned char *der = NULL;
    size_t  i;

    pthread_mutex_lock(&cache_lock);
    if ((i = cache_find(key)) < ncache) {
        der = xmalloc(cache[i].len > 0 ? cache[i].len : 1);
        memcpy(der, cache[i].der, cache[i].len);
        *len = cache[i].len;
    }
    pthread_mutex_unlock(&cache_lock);
    return der;
}

/* ocsp_cache_forget - drop the response for key if it is still resp: a
 * cached response that does not give a verdict (it does not verify, is stale
 * or says unknown) must not stand in the way of the next fetch */

static void ocsp_cache_forget(const unsigned char key[32], const unsigned char *resp,
                              size_t len)
{
    unsigned char *der = NULL;
    size_t  i;

    pthread_mutex_lock(&cache_lock);
    if ((i = cache_find(key)) < ncache && cache[i].len == len
        && memcmp(cache[i].der, resp, len) == 0) {
        der = cache[i].der;
        cache[i] = cache[--ncache];
    }
    pthread_mutex_unlock(&cache_lock);
    free(der);
}

/* tls_ocsp_cache_clear - drop every response */

void tls_ocsp_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < ncache; i++)
        free(cache[i].der);
    free(cache);
    cache = NULL;
    ncache = cache_cap = 0;
    pthread_mutex_unlock(&cache_lock);
}

/* tls_ocsp_set_miss_hook - who hears about missing responses */

void tls_ocsp_set_miss_hook(tls_ocsp_miss_fn fn, void *arg)
{
    pthread_mutex_lock(&cache_lock);
    miss_fn = fn;
    miss_arg = arg;
    pthread_mutex_unlock(&cache_lock);
}

/* ocsp_miss - tell the miss hook (if any) about url and req */

static void ocsp_miss(const char *url, const unsigned char *req, size_t len)
{
    tls_ocsp_miss_fn fn;
    void   *arg;

    pthread_mutex_lock(&cache_lock);
    fn = miss_fn;
    arg = miss_arg;
    pthread_mutex_unlock(&cache_lock);
    if (fn != NULL)
        fn(url, req, len, arg);
}

/* ocsp_issued - whether cand's name and key issued leaf: its signature
 * verifies with cand's key (never by name and key identifier alone) */

static bool ocsp_issued(WOLFSSL_X509 *leaf, const unsigned char *der, size_t len)
{
    WOLFSSL_X509 *x = len > 0 && len <= INT32_MAX
        ? wolfSSL_X509_load_certificate_buffer(der, (int)len, WOLFSSL_FILETYPE_ASN1) : NULL;
    WOLFSSL_EVP_PKEY *k = NULL;
    bool    ok = x != NULL && wolfSSL_X509_check_issued(x, leaf) == X509_V_OK
        && (k = wolfSSL_X509_get_pubkey(x)) != NULL
        && wolfSSL_X509_verify(leaf, k) == WOLFSSL_SUCCESS;

    wolfSSL_EVP_PKEY_free(k);
    wolfSSL_X509_free(x);
    return ok;
}

/*
 * ocsp_issuer - the leaf's issuer: the position among the sent certificates
 * (1..n-1) of the first whose key signed the leaf, else 0 and *known a
 * malloc()ed copy of the published CRL set's issuer that did (the global
 * or a partner's trusted_ca_file: a root that signs leaves directly is
 * rarely sent), else 0 and *known NULL.
 */
static size_t ocsp_issuer(const struct tls_crl_cert *chain, size_t n,
                          struct tls_crl_cert *known)
{
    WOLFSSL_X509 *leaf = chain[0].len <= INT32_MAX
        ? wolfSSL_X509_load_certificate_buffer(chain[0].der, (int)chain[0].len,
                                               WOLFSSL_FILETYPE_ASN1) : NULL;
    size_t  found = 0;

    known->der = NULL;
    known->len = 0;
    for (size_t i = 1; leaf != NULL && found == 0 && i < n; i++)
        if (ocsp_issued(leaf, chain[i].der, chain[i].len))
            found = i;
    if (leaf != NULL && found == 0)
        known->der = tls__crl_issuer_of(chain[0].der, chain[0].len, &known->len);
    wolfSSL_X509_free(leaf);
    return found;
}

/* tls_ocsp_check_chain - the OCSP verdict of a verified chain, from the cache */

void tls_ocsp_check_chain(const struct tls_crl_cert *chain, size_t n, bool fetch,
                          int64_t now, struct tls_ocsp_result *out)
{
    struct tls_crl_cert up[8], known;
    size_t  i, nup = 0, rlen = 0, qlen = 0;
    unsigned char key[32], *req = NULL, *resp = NULL;
    const char *why = NULL;
    char    url[1024];

    memset(out, 0, sizeof(*out));
    out->status = TLS_OCSP_UNKNOWN;
    if (n == 0) {
        snprintf(out->reason, sizeof(out->reason), "no certificate");
        return;
    }
    if ((i = ocsp_issuer(chain, n, &known)) > 0)
        up[nup++] = chain[i];           /* the issuer, then the rest as sent */
    else if (known.der != NULL)
        up[nup++] = known;
    else {
        snprintf(out->reason, sizeof(out->reason),
                 "issuer of the certificate neither sent nor a known CA");
        return;
    }
    for (size_t j = 1; j < n && nup < 8; j++)
        if (j != i)
            up[nup++] = chain[j];
    if (tls_ocsp_request(chain[0].der, chain[0].len, up[0].der, up[0].len, &req, &qlen,
                         &why) < 0) {
        snprintf(out->reason, sizeof(out->reason), "no OCSP check: %s", why);
        goto out;
    }
    tls_ocsp_key(req, qlen, key);
    if ((resp = tls_ocsp_cache_get(key, &rlen)) != NULL) {
        tls_ocsp_check(resp, rlen, &chain[0], up, nup, now, out);
        if (out->status != TLS_OCSP_GOOD && out->status != TLS_OCSP_REVOKED)
            ocsp_cache_forget(key, resp, rlen);
        free(resp);
    } else {
        snprintf(out->reason, sizeof(out->reason), "no OCSP response yet");
    }
    if (out->status != TLS_OCSP_GOOD && out->status != TLS_OCSP_REVOKED) {
        tls_ocsp_url(chain[0].der, chain[0].len, url, sizeof(url));
        if (url[0] != '\0' && fetch)
            ocsp_miss(url, req, qlen);
        else if (url[0] == '\0' && resp == NULL)
            snprintf(out->reason, sizeof(out->reason),
                     "the certificate names no OCSP responder");
    }
out:
    free(req);
    free((void *)(uintptr_t)known.der);
}
