/*
 * tls_anchors.c - a partner's own trust anchors and the verdict on a chain
 * judged against them.
 *
 * CONTRACT
 *  tls_anchors_load() reads one PEM file (blocking: configuration load);
 *  the set is immutable afterwards, shared by reference count, and freed by
 *  the last tls_anchors_unref().  tls_anchors_verify() never blocks on I/O
 *  and may run on any thread at once: it builds a CertManager of its own
 *  from the anchors held in memory (DER), judges the chain with
 *  tls__chain_judge() (the walk a handshake makes, so the verdict and its
 *  reason read as the global chain's do), and frees it.  A partner CA
 *  proves only the partner it is configured for: the global
 *  trusted_ca_file and its contexts never see these anchors.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls_anchors.h"
#include "tls_internal.h"

struct tls_anchors {
    _Atomic int refs;
    struct tls_crl_cert *certs;         /* owned (tls_chain_free): the usable anchors, DER */
    size_t  n;
};

/* anchors_cm - a new CertManager holding a's anchors, or NULL */

static WOLFSSL_CERT_MANAGER *anchors_cm(const struct tls_crl_cert *certs, size_t n,
                                        size_t *loaded)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();

    *loaded = 0;
    for (size_t i = 0; cm != NULL && i < n; i++)
        if (wolfSSL_CertManagerLoadCABuffer(cm, certs[i].der, (long)certs[i].len,
                                            WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
            (*loaded)++;
    return cm;
}

/* tls_anchors_load - the anchors of a PEM file */

struct tls_anchors *tls_anchors_load(const char *path, const char **why)
{
    struct tls_crl_cert *certs = NULL;
    struct tls_anchors *a;
    WOLFSSL_CERT_MANAGER *cm;
    size_t  n = 0, loaded = 0;

    if (tls_chain_read_pem(path, &certs, &n, why) < 0)
        return NULL;
    cm = anchors_cm(certs, n, &loaded);       /* refuse a file wolfSSL takes nothing from */
    if (cm != NULL)
        wolfSSL_CertManagerFree(cm);
    if (cm == NULL || loaded == 0) {
        *why = "holds no usable CA certificate";
        tls_chain_free(certs, n);
        return NULL;
    }
    a = xcalloc(1, sizeof(*a));
    atomic_init(&a->refs, 1);
    a->certs = certs;
    a->n = n;
    return a;
}

/* tls_anchors_ref - another reference */

struct tls_anchors *tls_anchors_ref(struct tls_anchors *a)
{
    if (a != NULL)
        atomic_fetch_add(&a->refs, 1);
    return a;
}

/* tls_anchors_unref - drop a reference; the last frees */

void tls_anchors_unref(struct tls_anchors *a)
{
    if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    tls_chain_free(a->certs, a->n);
    free(a);
}

/* tls_anchors_count - how many anchors */

size_t tls_anchors_count(const struct tls_anchors *a)
{
    return a != NULL ? a->n : 0;
}

/* tls_anchors_verify - judge a sent chain against the anchors */

int tls_anchors_verify(const struct tls_anchors *a, const struct tls_crl_cert *chain, size_t n,
                       struct tls_anchors_verdict *v)
{
    WOLFSSL_CERT_MANAGER *cm;
    struct tls_facts f;
    const char *why = "no certificate";
    size_t  loaded = 0;
    int     rc = -1;

    memset(v, 0, sizeof(*v));
    v->chain = TLS_CHAIN_INVALID;
    v->revocation = TLS_REV_NOT_CHECKED;
    if (a == NULL || n == 0 || (cm = anchors_cm(a->certs, a->n, &loaded)) == NULL) {
        snprintf(v->reason, sizeof(v->reason), "%s", a == NULL ? "no anchors" : why);
        return -1;
    }
    if (tls__chain_judge(cm, chain, n, &f, &why) == 0) {
        v->chain = f.chain;
        v->verify_code = f.verify_code;
        v->revocation = f.revocation;
        snprintf(v->reason, sizeof(v->reason), "%s", tls_facts_detail(&f));
        rc = 0;
    } else {
        snprintf(v->reason, sizeof(v->reason), "%s", why);
    }
    wolfSSL_CertManagerFree(cm);
    return rc;
}
