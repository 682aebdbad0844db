/*
 * tls_certinfo.c - the facts of one X.509 certificate, read with wolfSSL.
 *
 * CONTRACT
 *  tls_cert_info_from_der() reads a DER certificate (not copied, not kept)
 *  into a caller-owned struct tls_cert_info.  The names array inside it is
 *  owned by the struct: tls_cert_info_free() releases it.  Returns 0, or -1
 *  if the bytes are not a certificate (out is then zeroed and needs no
 *  free).  tls_cert_info_from_pem_file() does the same for the first
 *  certificate of a PEM file and says why it failed; the why text lives in
 *  a per-thread buffer until the next call in that thread.
 *
 *  tls_spki_sha256() hashes the SubjectPublicKeyInfo exactly as the
 *  certificate encodes it (our own DER walk, tls_crl_der.c), so the pin is
 *  the data of a TLSA 3 1 1 record for it.
 *
 *  Everything is synchronous; there are no callbacks and nothing to cancel.
 *  Each call holds a wolfSSL_Init() reference while it works (wolfSSL
 *  counts them), so callers need not initialize wolfSSL, and the daemon's
 *  own reference makes the pair cheap.  Thread-safe.
 *
 *  Quirks of wolfSSL 5.5.4 handled here: the SAN stack from
 *  wolfSSL_X509_get_ext_d2i() is in reverse certificate order; the subject
 *  printed with XN_FLAG_RFC2253 uses ", " between attributes.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_util.h"
#include "tls_internal.h"
#include "tls_store.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

static __thread char certinfo_why[512];

/* certinfo_hex - uppercase hex of n bytes into out (2n + 1 bytes) */

static void certinfo_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* certinfo_dn - a distinguished name in RFC 2253 order ("CN=a, O=b, C=c") */

static void certinfo_dn(WOLFSSL_X509_NAME *name, char *out, size_t sz)
{
    WOLFSSL_BIO *bio = wolfSSL_BIO_new(wolfSSL_BIO_s_mem());
    char   *text = NULL;
    long    n = 0;

    out[0] = '\0';
    if (bio == NULL)
        return;
    if (name != NULL
        && wolfSSL_X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) == WOLFSSL_SUCCESS)
        n = wolfSSL_BIO_get_mem_data(bio, &text);
    if (n > 0 && text != NULL)          /* not NUL-terminated */
        snprintf(out, sz, "%.*s", (int)n, text);
    wolfSSL_BIO_free(bio);
}

/* certinfo_time - an ASN.1 time as unix seconds; -1 if unreadable */

static int certinfo_time(const WOLFSSL_ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* tls__dns_like - a host name or "*." wildcard: LDH labels, dots between */

bool tls__dns_like(const char *s)
{
    size_t  len = strlen(s), label = 0;

    if (len == 0 || len > 253)
        return false;
    if (s[0] == '*' && s[1] == '.' && s[2] != '\0')
        s += 2;
    for (; *s; s++) {
        if (*s == '.') {
            if (label == 0 || s[-1] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)*s) || (*s == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0 && s[-1] != '-';
}

/* certinfo_add_name - append a name unless already there (any case) */

static void certinfo_add_name(struct tls_cert_info *ci, const char *name)
{
    for (size_t i = 0; i < ci->nnames; i++)
        if (strcasecmp(ci->names[i], name) == 0)
            return;
    ci->names = xrealloc(ci->names, (ci->nnames + 1) * sizeof(*ci->names));
    ci->names[ci->nnames++] = xstrdup(name);
}

/* certinfo_names - subject CN if DNS-like, then the SAN dNSNames */

static void certinfo_names(WOLFSSL_X509 *x, struct tls_cert_info *ci)
{
    char    cn[256];
    WOLFSSL_STACK *gens;
    bool    cn_in_san = false;

    if (wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x), NID_commonName,
                                          cn, (int)sizeof(cn)) > 0
        && tls__dns_like(cn))
        certinfo_add_name(ci, cn);
    ci->cn_not_san = ci->nnames == 1;   /* until a SAN dNSName says otherwise */

    gens = wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (gens == NULL)
        return;
    /* 5.5.4 pushes each entry at the head: walk backwards for certificate order */
    for (int i = wolfSSL_sk_GENERAL_NAME_num(gens) - 1; i >= 0; i--) {
        WOLFSSL_GENERAL_NAME *gn = wolfSSL_sk_GENERAL_NAME_value(gens, i);
        const char *dns;
        int     len;

        if (gn == NULL || gn->type != ASN_DNS_TYPE || gn->d.dNSName == NULL)
            continue;
        dns = (const char *)wolfSSL_ASN1_STRING_data(gn->d.dNSName);
        len = wolfSSL_ASN1_STRING_length(gn->d.dNSName);
        if (dns == NULL || len <= 0 || strnlen(dns, (size_t)len) != (size_t)len)
            continue;                   /* empty, or an embedded NUL */
        char   *name = xstrndup(dns, (size_t)len);

        cn_in_san |= ci->cn_not_san && strcasecmp(name, ci->names[0]) == 0;
        certinfo_add_name(ci, name);
        free(name);
    }
    wolfSSL_GENERAL_NAMES_free(gens);
    ci->cn_not_san &= !cn_in_san;
}

/* tls_sha256_hex - SHA-256 of bytes as 64 uppercase hex digits */

int tls_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[WC_SHA256_DIGEST_SIZE];

    if (wc_Sha256Hash(data, (word32)len, h) != 0)
        return -1;
    certinfo_hex(h, sizeof(h), out);
    return 0;
}

/* tls_spki_sha256 - SHA-256 of a DER certificate's SubjectPublicKeyInfo (its pin) */

int tls_spki_sha256(const unsigned char *der, size_t len, unsigned char out[32])
{
    struct tls__crl_cert c;

    _Static_assert(WC_SHA256_DIGEST_SIZE == 32, "a pin is 32 bytes");
    if (!tls__crl_cert_parse(der, len, &c)
        || wc_Sha256Hash(c.spki.p, (word32)c.spki.len, out) != 0)
        return -1;
    return 0;
}

/* certinfo_fill - every field from a parsed certificate */

static int certinfo_fill(WOLFSSL_X509 *x, struct tls_cert_info *ci)
{
    const unsigned char *der;
    unsigned char serial[64], sha[WC_SHA_DIGEST_SIZE];
    int     der_len = 0, serial_len = (int)sizeof(serial);
    WOLFSSL_EVP_PKEY *pkey;

    der = wolfSSL_X509_get_der(x, &der_len);
    if (der == NULL || der_len <= 0 || wc_ShaHash(der, (word32)der_len, sha) != 0)
        return -1;
    /* Our own DER walk; should it not read what wolfSSL read, no pin (zeros). */
    if (tls_spki_sha256(der, (size_t)der_len, ci->spki_sha256) < 0)
        memset(ci->spki_sha256, 0, sizeof(ci->spki_sha256));
    certinfo_hex(sha, sizeof(sha), ci->thumbprint);

    if (wolfSSL_X509_get_serial_number(x, serial, &serial_len) != WOLFSSL_SUCCESS)
        return -1;
    if (serial_len > 0)
        certinfo_hex(serial, (size_t)serial_len, ci->serial);
    else
        strcpy(ci->serial, "00");       /* as openssl prints a zero serial */

    if (certinfo_time(wolfSSL_X509_get_notBefore(x), &ci->not_before) < 0
        || certinfo_time(wolfSSL_X509_get_notAfter(x), &ci->not_after) < 0)
        return -1;

    certinfo_dn(wolfSSL_X509_get_subject_name(x), ci->subject, sizeof(ci->subject));
    certinfo_dn(wolfSSL_X509_get_issuer_name(x), ci->issuer, sizeof(ci->issuer));
    certinfo_names(x, ci);

    ci->is_ca = wolfSSL_X509_get_isCA(x) != 0;
    ci->eku_present = wolfSSL_X509_get_ext_by_NID(x, NID_ext_key_usage, -1) >= 0;
    if (ci->eku_present) {
        unsigned int eku = wolfSSL_X509_get_extended_key_usage(x);

        ci->eku_server = (eku & XKU_SSL_SERVER) != 0;
        ci->eku_client = (eku & XKU_SSL_CLIENT) != 0;
    }

    ci->key_type = TLS_KEY_OTHER;
    pkey = wolfSSL_X509_get_pubkey(x);
    if (pkey != NULL) {
        switch (wolfSSL_EVP_PKEY_base_id(pkey)) {
        case EVP_PKEY_RSA:
            ci->key_type = TLS_KEY_RSA;
            break;
        case EVP_PKEY_EC:
            ci->key_type = TLS_KEY_EC;
            break;
        }
        ci->key_bits = wolfSSL_EVP_PKEY_bits(pkey);
        ci->self_signed = wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_subject_name(x),
                                                wolfSSL_X509_get_issuer_name(x)) == 0
            && wolfSSL_X509_verify(x, pkey) == WOLFSSL_SUCCESS;
        wolfSSL_EVP_PKEY_free(pkey);
    }
    return 0;
}

/* tls_cert_info_from_der - the facts of one DER certificate */

int tls_cert_info_from_der(const unsigned char *der, size_t len, struct tls_cert_info *out)
{
    WOLFSSL_X509 *x;
    int     rc = -1;

    memset(out, 0, sizeof(*out));
    if (der == NULL || len == 0 || len > TLS__FILE_MAX)
        return -1;
    wolfSSL_Init();
    x = wolfSSL_X509_d2i(NULL, der, (int)len);
    if (x != NULL) {
        rc = certinfo_fill(x, out);
        wolfSSL_X509_free(x);
    }
    wolfSSL_Cleanup();
    if (rc < 0)
        tls_cert_info_free(out);
    return rc;
}

/* tls_cert_info_from_pem_file - the facts of the first certificate of a file */

int tls_cert_info_from_pem_file(const char *path, struct tls_cert_info *out, const char **why)
{
    unsigned char *pem;
    size_t  len, n;
    struct tls__der *ders;
    int     rc = -1;

    memset(out, 0, sizeof(*out));
    if (log_read_file(path, TLS__FILE_MAX, &pem, &len, NULL) < 0) {
        snprintf(certinfo_why, sizeof(certinfo_why), "cannot read %s: %s", path,
                 errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
        *why = certinfo_why;
        return -1;
    }
    n = tls__pem_certs(pem, len, &ders);
    free(pem);
    if (n == 0)
        snprintf(certinfo_why, sizeof(certinfo_why), "no certificate in %s", path);
    else if ((rc = tls_cert_info_from_der(ders[0].der, ders[0].len, out)) < 0)
        snprintf(certinfo_why, sizeof(certinfo_why), "the certificate in %s cannot be parsed",
                 path);
    tls__der_free(ders, n);
    if (rc < 0)
        *why = certinfo_why;
    return rc;
}

/* tls_cert_info_free - release the names */

void tls_cert_info_free(struct tls_cert_info *ci)
{
    for (size_t i = 0; i < ci->nnames; i++)
        free(ci->names[i]);
    free(ci->names);
    memset(ci, 0, sizeof(*ci));
}

/* tls_cert_info_names - "a;b;c" for the protocol log */

void tls_cert_info_names(const struct tls_cert_info *ci, char *buf, size_t sz)
{
    size_t  pos = 0;

    if (sz == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < ci->nnames; i++) {
        size_t  need = strlen(ci->names[i]) + (pos > 0);

        if (pos + need >= sz)
            break;                      /* whole names only */
        pos += (size_t)snprintf(buf + pos, sz - pos, "%s%s", pos > 0 ? ";" : "", ci->names[i]);
    }
}

/* tls__pem_certs - the DER of every CERTIFICATE block, in file order */

size_t tls__pem_certs(const unsigned char *pem, size_t len, struct tls__der **out)
{
    const char *p = (const char *)pem, *end = p + len;
    size_t  n = 0;

    *out = NULL;
    while (p < end) {
        const char *begin = memmem(p, (size_t)(end - p), PEM_BEGIN, strlen(PEM_BEGIN));
        const char *stop;
        size_t  block;
        unsigned char *der;
        int     der_len;

        if (begin == NULL)
            break;
        stop = memmem(begin, (size_t)(end - begin), PEM_END, strlen(PEM_END));
        if (stop == NULL)
            break;
        stop += strlen(PEM_END);
        block = (size_t)(stop - begin);
        der = xmalloc(block);           /* DER is shorter than its base64 */
        der_len = wc_CertPemToDer((const unsigned char *)begin, (int)block, der, (int)block,
                                  CERT_TYPE);
        if (der_len > 0) {
            *out = xrealloc(*out, (n + 1) * sizeof(**out));
            (*out)[n].der = der;
            (*out)[n++].len = (size_t)der_len;
        } else {
            free(der);                  /* a damaged block: skip it */
        }
        p = stop;
    }
    return n;
}

/* tls__der_free - free what tls__pem_certs returned */

void tls__der_free(struct tls__der *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].der);
    free(v);
}
