/*
 * tls_dane.c - DANE TLSA matching (RFC 6698 2.1, RFC 7671 5, RFC 7672 3.1)
 * on the DER chain a peer sent.
 *
 * CONTRACT
 *  Pure functions of their arguments: the chain and the records stay the
 *  caller's and are not kept; the result is written to the caller's
 *  struct.  DANE-EE(3) compares the leaf (certificate or SubjectPublicKeyInfo,
 *  exactly or by digest) and looks at nothing else (RFC 7671 5.1: names and
 *  dates are ignored).  DANE-TA(2) finds the record's certificate among
 *  the sent certificates above the leaf, then verifies the leaf up to it
 *  with a wolfSSL CertManager of its own that holds only that anchor and
 *  the sent CA certificates that verify under it (signatures, the dates of
 *  every certificate below the anchor, the CA flag of the anchor and of
 *  every issuer: checked here, since wolfSSL loads any certificate as a
 *  user CA); the anchor's own dates are not checked (RFC 5280 6.1.1).
 *  Names are the caller's (policy/policy_dane.c).  No
 *  allocation survives a call, nothing blocks, reentrant on any thread.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tls_dane.h"
#include "tls_internal.h"
#include "tls_store.h"

#define DANE_CHAIN_MAX 16               /* certificates looked at, as sent */

/* tls_tlsa_usable - can t authenticate an SMTP server (RFC 7672 3.1.3)? */

bool tls_tlsa_usable(const struct tls_tlsa *t)
{
    if (t == NULL || (t->usage != TLS_DANE_USAGE_TA && t->usage != TLS_DANE_USAGE_EE)
        || t->selector > 1 || t->data == NULL)
        return false;
    switch (t->mtype) {
    case 0:
        return t->len > 0;
    case 1:
        return t->len == WC_SHA256_DIGEST_SIZE;
    case 2:
        return t->len == WC_SHA512_DIGEST_SIZE;
    default:
        return false;
    }
}

/* tls_tlsa_words - "U S M" of t */

const char *tls_tlsa_words(const struct tls_tlsa *t, char *buf, size_t sz)
{
    snprintf(buf, sz, "%u %u %u", (unsigned)t->usage, (unsigned)t->selector,
             (unsigned)t->mtype);
    return buf;
}

/* dane_selected - the bytes t's selector picks from certificate der: false if
 * it does not parse */

static bool dane_selected(const struct tls_tlsa *t, const struct tls_crl_cert *cert,
                          const unsigned char **p, size_t *len)
{
    struct tls__crl_cert c;

    if (t->selector == 0) {
        *p = cert->der;
        *len = cert->len;
        return true;
    }
    if (!tls__crl_cert_parse(cert->der, cert->len, &c))
        return false;
    *p = c.spki.p;                      /* the whole SubjectPublicKeyInfo (tag and length) */
    *len = c.spki.len;
    return true;
}

/* dane_cert_matches - does t's data match certificate cert? */

static bool dane_cert_matches(const struct tls_tlsa *t, const struct tls_crl_cert *cert)
{
    unsigned char h[WC_SHA512_DIGEST_SIZE];
    const unsigned char *p;
    size_t  len;

    if (!dane_selected(t, cert, &p, &len))
        return false;
    switch (t->mtype) {
    case 0:
        return len == t->len && memcmp(p, t->data, len) == 0;
    case 1:
        return wc_Sha256Hash(p, (word32)len, h) == 0
            && memcmp(h, t->data, WC_SHA256_DIGEST_SIZE) == 0;
    case 2:
        return wc_Sha512Hash(p, (word32)len, h) == 0
            && memcmp(h, t->data, WC_SHA512_DIGEST_SIZE) == 0;
    default:
        return false;
    }
}

/* dane_is_ca - is der a CA certificate (basicConstraints CA:TRUE)?  wolfSSL
 * loads any certificate as a user CA, so the flag is checked here. */

static bool dane_is_ca(const struct tls_crl_cert *cert)
{
    struct tls_cert_info ci;
    bool    ca;

    if (tls_cert_info_from_der(cert->der, cert->len, &ci) < 0)
        return false;
    ca = ci.is_ca;
    tls_cert_info_free(&ci);
    return ca;
}

/* dane_ta_verify - does the leaf verify up to anchor chain[k] through the
 * other sent certificates?  NULL, or why not (static or in buf) */

static const char *dane_ta_verify(const struct tls_crl_cert *chain, size_t n, size_t k,
                                  char *buf, size_t sz)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    bool    loaded[DANE_CHAIN_MAX] = { false };
    bool    progress = true;
    const char *why = NULL;
    int     r;

    if (cm == NULL)
        return "out of memory";
    if (!dane_is_ca(&chain[k])) {
        wolfSSL_CertManagerFree(cm);
        return "the trust anchor is not a CA certificate";
    }
    r = wolfSSL_CertManagerLoadCABuffer(cm, chain[k].der, (long)chain[k].len,
                                        WOLFSSL_FILETYPE_ASN1);
    if (r != WOLFSSL_SUCCESS) {
        snprintf(buf, sz, "the trust anchor is not a usable CA certificate: %s",
                 wc_GetErrorString(r));
        wolfSSL_CertManagerFree(cm);
        return buf;
    }
    loaded[k] = true;
    /* The sent CA certificates between the leaf and the anchor, in any
     * order: each one that verifies under what is loaded is loaded. */
    while (progress) {
        progress = false;
        for (size_t i = 1; i < n; i++) {
            if (loaded[i]
                || wolfSSL_CertManagerVerifyBuffer(cm, chain[i].der, (long)chain[i].len,
                                                   WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
                continue;
            loaded[i] = true;           /* tried once: verified, CA or not */
            if (dane_is_ca(&chain[i])
                && wolfSSL_CertManagerLoadCABuffer(cm, chain[i].der, (long)chain[i].len,
                                                WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
                progress = true;
        }
    }
    r = wolfSSL_CertManagerVerifyBuffer(cm, chain[0].der, (long)chain[0].len,
                                        WOLFSSL_FILETYPE_ASN1);
    if (r != WOLFSSL_SUCCESS) {
        snprintf(buf, sz, "%s", wc_GetErrorString(r));
        why = buf;
    }
    wolfSSL_CertManagerFree(cm);
    return why;
}

/* tls_dane_match - match the sent chain against the TLSA records */

enum tls_dane_outcome tls_dane_match(const struct tls_crl_cert *chain, size_t n,
                                     const struct tls_tlsa *t, size_t nt,
                                     struct tls_dane_result *out)
{
    size_t  usable = 0;
    char    words[16], err[160], ta_fail_why[160];
    bool    failed[DANE_CHAIN_MAX] = { false };    /* k tried and failed, or a repeat */
    const char *ta_fail = NULL;
    size_t  ta_fail_rec = 0, ta_fail_depth = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < nt; i++)
        usable += tls_tlsa_usable(&t[i]);
    if (usable == 0) {
        snprintf(out->why, sizeof(out->why), "no usable TLSA record");
        return out->outcome = TLS_DANE_NO_RECORDS;
    }
    if (n == 0 || chain == NULL || chain[0].der == NULL) {
        snprintf(out->why, sizeof(out->why), "the server sent no certificate");
        return out->outcome = TLS_DANE_NO_CERT;
    }
    if (n > DANE_CHAIN_MAX)
        n = DANE_CHAIN_MAX;
    for (size_t i = 0; i < nt; i++) {   /* DANE-EE first: the leaf alone decides */
        if (tls_tlsa_usable(&t[i]) && t[i].usage == TLS_DANE_USAGE_EE
            && dane_cert_matches(&t[i], &chain[0])) {
            out->rec = t[i];
            out->depth = 0;
            return out->outcome = TLS_DANE_MATCH_EE;
        }
    }
    /* The chain check up to k depends on k alone: each k is verified at most
     * once, and a certificate sent twice only once (a peer prepending copies
     * of a public TA must not multiply the signature checks). */
    for (size_t k = 1; k < n; k++)
        for (size_t j = 1; j < k && !failed[k]; j++)
            failed[k] = chain[j].len == chain[k].len
                && memcmp(chain[j].der, chain[k].der, chain[k].len) == 0;
    for (size_t i = 0; i < nt; i++) {
        if (!tls_tlsa_usable(&t[i]) || t[i].usage != TLS_DANE_USAGE_TA)
            continue;
        for (size_t k = 1; k < n; k++) {
            const char *why;

            if (failed[k] || !dane_cert_matches(&t[i], &chain[k]))
                continue;
            if ((why = dane_ta_verify(chain, n, k, err, sizeof(err))) == NULL) {
                out->rec = t[i];
                out->depth = k;
                return out->outcome = TLS_DANE_MATCH_TA;
            }
            failed[k] = true;
            if (ta_fail == NULL) {
                snprintf(ta_fail_why, sizeof(ta_fail_why), "%s", why);
                ta_fail = ta_fail_why;
                ta_fail_rec = i;
                ta_fail_depth = k;
            }
        }
    }
    if (ta_fail != NULL)
        snprintf(out->why, sizeof(out->why), "DANE-TA %s matches certificate %zu but the "
                 "chain does not verify up to it: %s",
                 tls_tlsa_words(&t[ta_fail_rec], words, sizeof(words)), ta_fail_depth, ta_fail);
    else
        snprintf(out->why, sizeof(out->why), "%zu certificate%s sent, none matches a usable "
                 "TLSA record", n, n == 1 ? "" : "s");
    return out->outcome = TLS_DANE_NO_MATCH;
}
