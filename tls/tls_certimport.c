/*
 * tls_certimport.c - the import half of tls_certgen.h: reading an import
 * file (PEM, one DER certificate, or PKCS#12) into a bundle, re-encoding
 * its private key, and putting the bundle in chain order and back into
 * PEM, with wolfCrypt.
 *
 * CONTRACT
 *  Every function is synchronous and works on caller-owned input that it
 *  neither copies nor keeps.  A bundle and the PEM made from it belong to
 *  the caller, who frees them with tls_gen_bundle_free() and
 *  tls_gen_buf_free(); key bytes are wiped on free and every scratch copy
 *  of a private key is wiped before it is released.  tls_gen_bundle_read()
 *  returns TLS_GEN_OK, TLS_GEN_PASSWORD or TLS_GEN_ERROR, and on failure
 *  leaves the bundle empty; *why (for the last two) lives in
 *  tls_certgen.c's per-thread buffer (tls__gen_fail) until the next call
 *  in that thread.  No callbacks, nothing to cancel; thread-safe (a read
 *  holds a wolfSSL_Init() reference while it works).
 *
 *  wolfCrypt 5.5.4 facts this file relies on (each checked by a program
 *  run against the Debian package, and by tests/unit/tls_certgen_test.c):
 *  - wc_PKCS12_parse: OpenSSL 3's default (PBES2, PBKDF2, AES-256-CBC,
 *    SHA-256 MAC) and 3DES/SHA-1 parse; `openssl pkcs12 -export -legacy`
 *    (RC2-40 certificate bag) fails with ASN_INPUT_E -154 and Camellia with
 *    ASN_PARSE_E -140, both after the MAC verified; a wrong password is
 *    MAC_CMP_FAILED_E -213 (-140 when the file has no MAC).  On failure
 *    the key may still have been allocated: it must be freed.  The EC key
 *    comes back as SEC1 without the curve OID (the curve is guessed from
 *    the key size) and is re-encoded here with it.
 *  - No cap on PKCS#12 MAC, PKCS#12 PBE or PBKDF2 iteration counts: a
 *    PKCS#12 file or an ENCRYPTED PRIVATE KEY block asking for more than
 *    10,000,000 is refused here before wolfSSL sees it (a small DER walk,
 *    gen_der_iterations; a BER file with indefinite lengths is not walked).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/pkcs12.h>
#include <wolfssl/wolfcrypt/types.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls_certgen.h"
#include "tls_internal.h"
#include "tls_store.h"

/* gen_bundle_add - append a DER certificate unless the same bytes are there */

static void gen_bundle_add(struct tls_gen_bundle *b, const unsigned char *der, size_t len)
{
    for (size_t i = 0; i < b->ncerts; i++)
        if (b->certs[i].len == len && memcmp(b->certs[i].data, der, len) == 0)
            return;
    b->certs = xrealloc(b->certs, (b->ncerts + 1) * sizeof(*b->certs));
    b->certs[b->ncerts].data = xmalloc(len);
    memcpy(b->certs[b->ncerts].data, der, len);
    b->certs[b->ncerts++].len = len;
}

/* The most key-derivation iterations an import file may ask for.  wolfSSL
 * 5.5.4 applies no cap: 2,000,000 PBKDF2 rounds take seconds (11-18 s under
 * ASan), so a hostile file could make `domsec cert import` spin.  OpenSSL 3
 * writes 2,048; 10,000,000 leaves room for any sane exporter. */
#define GEN_ITER_MAX 10000000LL

/* gen_der_item - header and content length of the DER item at p; -1 if none */

static int gen_der_item(const unsigned char *p, size_t avail, size_t *hdr, size_t *clen)
{
    size_t  n, l = 0;

    if (avail < 2 || (p[0] & 0x1f) == 0x1f)
        return -1;                      /* high tag numbers: not in these files */
    if ((n = p[1] < 0x80 ? 0 : p[1] & 0x7f) > 4 || (p[1] == 0x80) || avail < 2 + n)
        return -1;                      /* indefinite length (BER) or huge */
    for (size_t i = 0; i < n; i++)
        l = l << 8 | p[2 + i];
    *hdr = 2 + n;
    *clen = n ? l : p[1];
    return *clen > avail - *hdr ? -1 : 0;
}

/* gen_der_iterations - the largest INTEGER that follows an OCTET STRING
 * which opens a SEQUENCE or follows a SEQUENCE in it, anywhere in the DER p,
 * also inside OCTET STRINGs that hold DER: the shape of PKCS#12 MacData
 * {DigestInfo, salt, iterations}, pkcs-12PbeParams and PBKDF2-params
 * {salt, iterations, ...} (and not of an OCSP CertID's hash, hash, serial).
 * -1: not DER (BER with indefinite lengths is not walked: wolfSSL decides). */

static long long gen_der_iterations(const unsigned char *p, size_t len, int depth)
{
    long long most = 0, v;
    unsigned char prev = 0, prev2 = 0;
    size_t  hdr, clen;

    while (len > 0 && depth < 24) {
        if (gen_der_item(p, len, &hdr, &clen) < 0)
            return -1;
        v = 0;
        if (p[0] == 0x02 && prev == 0x04 && (prev2 == 0 || prev2 == 0x30)) {
            for (size_t i = 0; i < clen && v <= GEN_ITER_MAX; i++)
                v = v << 8 | p[hdr + i];
        } else if (p[0] & 0x20) {                       /* constructed */
            if ((v = gen_der_iterations(p + hdr, clen, depth + 1)) < 0)
                return -1;
        } else if (p[0] == 0x04) {                      /* maybe DER inside */
            v = gen_der_iterations(p + hdr, clen, depth + 1);
        }
        most = v > most ? v : most;
        prev2 = prev;
        prev = p[0];
        p += hdr + clen;
        len -= hdr + clen;
    }
    return most;
}

/* gen_iterations_ok - whether a DER file asks for at most GEN_ITER_MAX iterations */

static bool gen_iterations_ok(const unsigned char *der, size_t len, const char **why)
{
    if (gen_der_iterations(der, len, 0) <= GEN_ITER_MAX)
        return true;
    tls__gen_fail(why, "it asks for more than %lld key-derivation iterations (a hostile "
                  "or broken file; re-export it)", GEN_ITER_MAX);
    return false;
}

/* gen_bundle_key - normalise and keep a private key */

static int gen_bundle_key(struct tls_gen_bundle *b, const unsigned char *key, size_t len,
                          const char *password, const char **why)
{
    struct tls__gen_key k;
    int     rc = tls__gen_key_load(key, len, password, &k, why);

    if (rc == TLS_GEN_OK && tls__gen_key_pem(&k, &b->key) < 0)
        rc = tls__gen_fail(why, "the private key cannot be re-encoded");
    tls__gen_key_free(&k);
    return rc;
}

/* gen_pem_iterations_ok - the same for the base64 text from p to end */

static bool gen_pem_iterations_ok(const char *p, const char *end, const char **why)
{
    word32  n = end > p ? (word32)(end - p) : 0;
    byte   *der = xmalloc(n + 1);
    bool    ok = Base64_Decode((const byte *)p, n, der, &n) != 0  /* wolfSSL says then */
        || gen_iterations_ok(der, n, why);

    free(der);
    return ok;
}

/* gen_bundle_pem - every certificate and the private key of a PEM text */

static int gen_bundle_pem(const unsigned char *data, size_t len, const char *password,
                          struct tls_gen_bundle *b, const char **why)
{
    const char *p = (const char *)data, *end = p + len;
    bool    request = false;

    while (p < end) {
        const char *begin = memmem(p, (size_t)(end - p), "-----BEGIN ", 11), *lend, *stop;
        char    label[64], endline[96];
        size_t  ll;

        if (begin == NULL)
            break;
        lend = memmem(begin + 11, (size_t)(end - begin - 11), "-----", 5);
        if (lend == NULL || (ll = (size_t)(lend - begin - 11)) >= sizeof(label))
            return tls__gen_fail(why, "a damaged PEM header");
        memcpy(label, begin + 11, ll);
        label[ll] = '\0';
        snprintf(endline, sizeof(endline), "-----END %s-----", label);
        lend += 5;                      /* the END line starts after the BEGIN line */
        if ((stop = memmem(lend, (size_t)(end - lend), endline, strlen(endline))) == NULL)
            return tls__gen_fail(why, "no \"%s\" line", endline);
        stop += strlen(endline);
        if (strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0) {
            size_t  bl = (size_t)(stop - begin);
            unsigned char *der = xmalloc(bl);
            int     n = wc_CertPemToDer((const unsigned char *)begin, (int)bl, der, (int)bl,
                                        CERT_TYPE);

            if (n > 0)
                gen_bundle_add(b, der, (size_t)n);
            free(der);
            if (n <= 0)
                return tls__gen_fail(why, "a damaged CERTIFICATE block");
        } else if (ll >= 11 && strcmp(label + ll - 11, "PRIVATE KEY") == 0) {
            int     rc;

            if (b->key.data != NULL)
                return tls__gen_fail(why, "more than one private key");
            if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0
                && !gen_pem_iterations_ok(lend, stop - strlen(endline), why))
                return TLS_GEN_ERROR;
            rc = gen_bundle_key(b, (const unsigned char *)begin, (size_t)(stop - begin),
                                password, why);
            if (rc != TLS_GEN_OK)
                return rc;
        } else if (strstr(label, "REQUEST") != NULL) {
            request = true;
        }
        p = stop;
    }
    if (b->ncerts == 0)
        return tls__gen_fail(why, request ? "it holds a certificate request, not a "
                             "certificate: have the CA sign it and import the certificate "
                             "it returns" : "no certificate in it");
    return TLS_GEN_OK;
}

/* gen_bundle_p12 - key and certificates of a PKCS#12 file */

static int gen_bundle_p12(const unsigned char *data, size_t len, const char *password,
                          struct tls_gen_bundle *b, const char **why)
{
    WC_PKCS12 *p12 = wc_PKCS12_new();
    byte   *key = NULL, *crt = NULL;
    word32  key_len = 0, crt_len = 0;
    WC_DerCertList *ca = NULL;
    int     r, rc = TLS_GEN_OK;

    if (p12 == NULL)
        return tls__gen_fail(why, "out of memory");
    if (wc_d2i_PKCS12(data, (word32)len, p12) != 0) {
        wc_PKCS12_free(p12);
        return tls__gen_fail(why, "neither PEM, a DER certificate nor PKCS#12");
    }
    b->pkcs12 = true;
    if (!gen_iterations_ok(data, len, why)) {
        wc_PKCS12_free(p12);
        return TLS_GEN_ERROR;
    }
    r = wc_PKCS12_parse(p12, password ? password : "", &key, &key_len, &crt, &crt_len, &ca);
    if (r == MAC_CMP_FAILED_E) {
        rc = TLS_GEN_PASSWORD;
        tls__gen_fail(why, "the password is %s (the PKCS#12 integrity check failed)",
                      password ? "wrong" : "missing (--password)");
    } else if (r != 0) {
        rc = tls__gen_fail(why, "PKCS#12 cannot be decrypted (%s, %d): it uses an "
                           "algorithm wolfSSL 5.5.4 lacks, such as RC2-40 (`openssl pkcs12 "
                           "-export -legacy`) or Camellia; re-export it with OpenSSL 3's "
                           "default, or explicitly `openssl pkcs12 -export -certpbe "
                           "AES-256-CBC -keypbe AES-256-CBC -macalg sha256`",
                           wc_GetErrorString(r), r);
    } else {
        if (crt != NULL)
            gen_bundle_add(b, crt, crt_len);
        for (WC_DerCertList *c = ca; c != NULL; c = c->next)
            gen_bundle_add(b, c->buffer, c->bufferSz);
        if (key != NULL)
            rc = gen_bundle_key(b, key, key_len, NULL, why);
        if (rc == TLS_GEN_OK && b->ncerts == 0)
            rc = tls__gen_fail(why, "no certificate in the PKCS#12 file");
    }
    if (key != NULL) {                  /* allocated even when parsing fails */
        explicit_bzero(key, key_len);
        XFREE(key, NULL, DYNAMIC_TYPE_PUBLIC_KEY);
    }
    if (crt != NULL)
        XFREE(crt, NULL, DYNAMIC_TYPE_PKCS);
    while (ca != NULL) {                /* wc_FreeCertList is not exported */
        WC_DerCertList *next = ca->next;

        XFREE(ca->buffer, NULL, DYNAMIC_TYPE_PKCS);
        XFREE(ca, NULL, DYNAMIC_TYPE_PKCS);
        ca = next;
    }
    wc_PKCS12_free(p12);
    return rc;
}

/* tls_gen_bundle_read - the certificates and key of an import file */

int tls_gen_bundle_read(const unsigned char *data, size_t len, const char *password,
                        struct tls_gen_bundle *out, const char **why)
{
    WOLFSSL_X509 *x;
    int     rc;

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return tls__gen_fail(why, "the file is empty");
    wolfSSL_Init();
    if (memmem(data, len, "-----BEGIN ", 11) != NULL) {
        rc = gen_bundle_pem(data, len, password, out, why);
    } else if ((x = wolfSSL_X509_d2i(NULL, data, (int)len)) != NULL) {
        wolfSSL_X509_free(x);
        gen_bundle_add(out, data, len);
        rc = TLS_GEN_OK;
    } else {
        rc = gen_bundle_p12(data, len, password, out, why);
    }
    wolfSSL_Cleanup();
    if (rc != TLS_GEN_OK)
        tls_gen_bundle_free(out);
    return rc;
}

/* tls_gen_bundle_key_cert - the certificate of the bundle's key */

int tls_gen_bundle_key_cert(const struct tls_gen_bundle *b)
{
    struct tls_gen_key_info ki;
    const char *why;
    char    id[41];

    if (b->key.data == NULL || tls_gen_key_info(b->key.data, b->key.len, &ki, &why) < 0)
        return -1;
    for (size_t i = 0; i < b->ncerts; i++)
        if (tls_gen_cert_key_id(b->certs[i].data, b->certs[i].len, id) == 0
            && strcmp(id, ki.id) == 0)
            return (int)i;
    return -1;
}

/* tls_gen_bundle_order - leaf first, then up its issuers, then the rest */

void    tls_gen_bundle_order(struct tls_gen_bundle *b, size_t leaf)
{
    struct tls_cert_info *ci = xcalloc(b->ncerts, sizeof(*ci));
    struct tls_gen_buf *v = xcalloc(b->ncerts, sizeof(*v));
    bool   *used = xcalloc(b->ncerts, sizeof(*used));
    size_t  n = 0, cur = leaf;

    for (size_t i = 0; i < b->ncerts; i++)
        tls_cert_info_from_der(b->certs[i].data, b->certs[i].len, &ci[i]);
    for (;;) {
        size_t  next = b->ncerts;

        v[n++] = b->certs[cur];
        used[cur] = true;
        if (ci[cur].subject[0] == '\0' || strcmp(ci[cur].subject, ci[cur].issuer) == 0)
            break;                      /* unparsable or self-issued: the top */
        for (size_t i = 0; i < b->ncerts && next == b->ncerts; i++)
            if (!used[i] && strcmp(ci[i].subject, ci[cur].issuer) == 0)
                next = i;
        if (next == b->ncerts)
            break;
        cur = next;
    }
    for (size_t i = 0; i < b->ncerts; i++) {
        if (!used[i])
            v[n++] = b->certs[i];
        tls_cert_info_free(&ci[i]);
    }
    memcpy(b->certs, v, b->ncerts * sizeof(*v));
    free(v);
    free(used);
    free(ci);
}

/* tls_gen_bundle_pem - the certificates as one PEM text */

void tls_gen_bundle_pem(const struct tls_gen_bundle *b, struct tls_gen_buf *pem)
{
    pem->data = NULL;
    pem->len = 0;
    for (size_t i = 0; i < b->ncerts; i++) {
        struct tls_gen_buf one;

        if (tls__gen_pem(b->certs[i].data, b->certs[i].len, CERT_TYPE, &one) < 0)
            continue;                   /* cannot happen for a parsed certificate */
        pem->data = xrealloc(pem->data, pem->len + one.len + 1);
        memcpy(pem->data + pem->len, one.data, one.len + 1);
        pem->len += one.len;
        tls_gen_buf_free(&one);
    }
}

/* tls_gen_bundle_free - release everything */

void tls_gen_bundle_free(struct tls_gen_bundle *b)
{
    tls_gen_buf_free(&b->key);
    for (size_t i = 0; i < b->ncerts; i++)
        tls_gen_buf_free(&b->certs[i]);
    free(b->certs);
    memset(b, 0, sizeof(*b));
}
