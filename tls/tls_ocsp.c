/*
 * tls_ocsp.c - OCSP requests and responses (RFC 6960) with wolfSSL's OCSP API.
 *
 *  tls_ocsp_url() reads a certificate's AIA OCSP URL, tls_ocsp_request()
 *  builds the DER request for a certificate and its issuer, and
 *  tls_ocsp_check() decides what a DER response says about that
 *  certificate.  Inputs are DER bytes owned by the caller (not copied, not
 *  kept); results are plain data.  No I/O, no callbacks, nothing to cancel;
 *  everything is reentrant (wolfSSL objects are per call).
 *
 *  Facts about wolfSSL 5.5.4 (Debian) this relies on, measured by
 *  tls_ocsp_test against `openssl ocsp` responders:
 *  - wolfSSL_OCSP_request_add0_id() copies the CertID into the request
 *    (the caller still frees it: ASan saw the leak otherwise);
 *  - wolfSSL_i2d_OCSP_REQUEST(req, NULL) gives the size and
 *    wolfSSL_i2d_OCSP_REQUEST(req, &p) writes at p without allocating and
 *    without moving p (unlike OpenSSL's i2d);
 *  - wolfSSL_OCSP_basic_verify(bs, NULL, store, 0) verifies the response
 *    with the certificate the response carries (none: refused), and that
 *    certificate against the store: with a store holding only the issuer
 *    it accepts a responder certificate the issuer signed with the
 *    OCSPSigning EKU, refuses one of the same issuer without that EKU, and
 *    refuses the issuer itself as the signer unless the issuer's own issuer
 *    is in the store too (an intermediate CA signing its own responses), so
 *    that case is tried second, only when the carried certificate is the
 *    issuer byte for byte (OcspResponse.cert, a field of wolfSSL's asn.h);
 *    OCSP_NOVERIFY skips even the signature and OCSP_TRUSTOTHER with the
 *    issuer in certs does not help: neither is used;
 *  - wolfSSL_OCSP_resp_find_status() matches a single response whose
 *    serial is a prefix of the CertID's (it compares over the response's
 *    serial length), so it is not used: ocsp_single() compares the whole
 *    CertID; wolfSSL_OCSP_single_get0_status() reports neither the
 *    revocation time (NULL) nor the reason (always 0), so the reason text
 *    has neither;
 *  - wolfSSL_CertManagerCheckOCSPResponse() crashes when its status/entry
 *    arguments are NULL: it is not used.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/ocsp.h>
#include <wolfssl/openssl/bn.h>
#include <wolfssl/openssl/ocsp.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tls_ocsp.h"
#include "tls_store.h"

#define OCSP_SKEW 300                   /* seconds a thisUpdate may be ahead of us */
#define OCSP_MAX_AGE 86400              /* seconds a response without nextUpdate is
                                         * current after its thisUpdate */

/* ocsp_x509 - a wolfSSL certificate from DER, or NULL */

static WOLFSSL_X509 *ocsp_x509(const unsigned char *der, size_t len)
{
    if (der == NULL || len == 0 || len > INT32_MAX)
        return NULL;
    return wolfSSL_X509_load_certificate_buffer(der, (int)len, WOLFSSL_FILETYPE_ASN1);
}

/* ocsp_time - an ASN.1 time as unix seconds, 0 if absent or unreadable */

static int64_t ocsp_time(const WOLFSSL_ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS)
        return 0;
    return (int64_t)timegm(&tm);
}

/* ocsp_iso - unix seconds as 2026-12-07T15:45:14Z */

static void ocsp_iso(int64_t t, char *buf, size_t sz)
{
    time_t  tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, sz, "?");
}

/* tls_ocsp_url - the first http AIA OCSP URL of a certificate */

void tls_ocsp_url(const unsigned char *der, size_t len, char *buf, size_t sz)
{
    WOLFSSL_X509 *x;
    WOLF_STACK_OF(WOLFSSL_STRING) *urls;

    if (sz == 0)
        return;
    buf[0] = '\0';
    if ((x = ocsp_x509(der, len)) == NULL)
        return;
    if ((urls = wolfSSL_X509_get1_ocsp(x)) != NULL) {
        for (int i = 0; i < wolfSSL_sk_WOLFSSL_STRING_num(urls); i++) {
            const char *u = wolfSSL_sk_WOLFSSL_STRING_value(urls, i);

            if (u != NULL && strncasecmp(u, "http://", 7) == 0 && strlen(u) < sz) {
                snprintf(buf, sz, "%s", u);
                break;
            }
        }
        wolfSSL_X509_email_free(urls);
    }
    wolfSSL_X509_free(x);
}

/* ocsp_certid - the SHA-1 CertID of leaf under issuer, or NULL with *why */

static WOLFSSL_OCSP_CERTID *ocsp_certid(const unsigned char *leaf, size_t leaf_len,
                                        const unsigned char *issuer, size_t issuer_len,
                                        const char **why)
{
    WOLFSSL_X509 *l = ocsp_x509(leaf, leaf_len), *i = ocsp_x509(issuer, issuer_len);
    WOLFSSL_OCSP_CERTID *id = NULL;

    if (l == NULL || i == NULL)
        *why = l == NULL ? "the certificate cannot be read" : "its issuer cannot be read";
    else if ((id = wolfSSL_OCSP_cert_to_id(NULL, l, i)) == NULL)
        *why = "no OCSP certificate ID for it";
    wolfSSL_X509_free(l);
    wolfSSL_X509_free(i);
    return id;
}

/* tls_ocsp_request - the DER OCSP request for a certificate */

int tls_ocsp_request(const unsigned char *leaf, size_t leaf_len,
                     const unsigned char *issuer, size_t issuer_len,
                     unsigned char **out, size_t *out_len, const char **why)
{
    WOLFSSL_OCSP_CERTID *id = ocsp_certid(leaf, leaf_len, issuer, issuer_len, why);
    OcspRequest *req;
    unsigned char *der, *p;
    int     n;

    *out = NULL;
    *out_len = 0;
    if (id == NULL)
        return -1;
    if ((req = wolfSSL_OCSP_REQUEST_new()) == NULL) {
        wolfSSL_OCSP_CERTID_free(id);
        *why = "out of memory";
        return -1;
    }
    if (wolfSSL_OCSP_request_add0_id(req, id) == NULL) {
        wolfSSL_OCSP_CERTID_free(id);
        wolfSSL_OCSP_REQUEST_free(req);
        *why = "cannot add the certificate ID to the request";
        return -1;
    }
    wolfSSL_OCSP_CERTID_free(id);       /* add0 copied it (despite its name) */
    n = wolfSSL_i2d_OCSP_REQUEST(req, NULL);
    if (n <= 0 || (der = malloc((size_t)n)) == NULL) {
        wolfSSL_OCSP_REQUEST_free(req);
        *why = "cannot encode the request";
        return -1;
    }
    p = der;
    if (wolfSSL_i2d_OCSP_REQUEST(req, &p) != n) {
        free(der);
        wolfSSL_OCSP_REQUEST_free(req);
        *why = "cannot encode the request";
        return -1;
    }
    wolfSSL_OCSP_REQUEST_free(req);
    *out = der;
    *out_len = (size_t)n;
    return 0;
}

/* ocsp_unknown - set an UNKNOWN result with a reason */

static void ocsp_unknown(struct tls_ocsp_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ocsp_unknown(struct tls_ocsp_result *out, const char *fmt, ...)
{
    va_list ap;

    out->status = TLS_OCSP_UNKNOWN;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

/* ocsp_issuer_name - the issuer's subject for reasons */

static void ocsp_issuer_name(const unsigned char *issuer, size_t len, char *buf, size_t sz)
{
    struct tls_cert_info ci;

    if (tls_cert_info_from_der(issuer, len, &ci) == 0) {
        snprintf(buf, sz, "%.*s", (int)sz - 1, ci.subject);   /* cut: a log line */
        tls_cert_info_free(&ci);
    } else {
        snprintf(buf, sz, "an unreadable issuer");
    }
}

/*
 * ocsp_single - the single response of bs about exactly id, or NULL.
 * wolfSSL_OCSP_resp_find_status() (and its id comparison) compares serials
 * only over the length of the response's serial, so a response about
 * serial 12 would answer for serial 1234: the CertID is compared here in
 * full (issuer name and key hashes, serial length and bytes; the hash
 * algorithm too when the id has it: wolfSSL_OCSP_cert_to_id leaves it 0).
 */
static WOLFSSL_OCSP_SINGLERESP *ocsp_single(WOLFSSL_OCSP_BASICRESP *bs,
                                            const WOLFSSL_OCSP_CERTID *id)
{
    int     n = wolfSSL_OCSP_resp_count(bs);

    if (id->status == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        WOLFSSL_OCSP_SINGLERESP *s = wolfSSL_OCSP_resp_get0(bs, i);

        if (s != NULL && s->status != NULL
            && (id->hashAlgoOID == 0 || s->hashAlgoOID == id->hashAlgoOID)
            && memcmp(s->issuerHash, id->issuerHash, sizeof(id->issuerHash)) == 0
            && memcmp(s->issuerKeyHash, id->issuerKeyHash, sizeof(id->issuerKeyHash)) == 0
            && s->status->serialSz == id->status->serialSz
            && s->status->serialSz > 0
            && memcmp(s->status->serial, id->status->serial,
                      (size_t)id->status->serialSz) == 0)
            return s;
    }
    return NULL;
}

/* ocsp_verdict - what a verified basic response says about id */

static void ocsp_verdict(WOLFSSL_OCSP_BASICRESP *bs, WOLFSSL_OCSP_CERTID *id,
                         const struct tls_crl_cert *leaf, const char *iname, int64_t now,
                         struct tls_ocsp_result *out)
{
    int     status = -1, reason = -1;
    WOLFSSL_ASN1_TIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    WOLFSSL_OCSP_SINGLERESP *single;
    char    when[24];

    if ((single = ocsp_single(bs, id)) == NULL
        || (status = wolfSSL_OCSP_single_get0_status(single, &reason, &rev, &thisu,
                                                     &nextu)) < 0) {
        ocsp_unknown(out, "OCSP response of %s does not cover the certificate", iname);
        return;
    }
    out->this_update = ocsp_time(thisu);
    out->next_update = ocsp_time(nextu);
    if (out->this_update == 0 || out->this_update > now + OCSP_SKEW) {
        ocsp_unknown(out, "OCSP response of %s is not yet valid", iname);
        return;
    }
    if (out->next_update != 0 && out->next_update <= now) {
        ocsp_iso(out->next_update, when, sizeof(when));
        ocsp_unknown(out, "OCSP response of %s is stale since %s", iname, when);
        return;
    }
    if (out->next_update == 0 && out->this_update + OCSP_MAX_AGE <= now) {
        ocsp_iso(out->this_update + OCSP_MAX_AGE, when, sizeof(when));
        ocsp_unknown(out, "OCSP response of %s (no nextUpdate) is stale since %s", iname,
                     when);
        return;
    }
    if (status == V_OCSP_CERTSTATUS_GOOD) {
        out->status = TLS_OCSP_GOOD;
        out->reason[0] = '\0';
    } else if (status == V_OCSP_CERTSTATUS_REVOKED) {
        struct tls_cert_info ci;
        bool    have = tls_cert_info_from_der(leaf->der, leaf->len, &ci) == 0;

        out->status = TLS_OCSP_REVOKED;
        snprintf(out->reason, sizeof(out->reason),
                 "certificate serial %.40s revoked (OCSP response of %.150s)",
                 have ? ci.serial : "?", iname);
        if (have)
            tls_cert_info_free(&ci);
    } else {
        ocsp_unknown(out, "OCSP responder of %s says status unknown", iname);
    }
}

/* ocsp_verify - 1 if bs verifies with the certificates up[0..n-1] as the store */

static int ocsp_verify(WOLFSSL_OCSP_BASICRESP *bs, const struct tls_crl_cert *up, size_t n)
{
    WOLFSSL_X509_STORE *st = wolfSSL_X509_STORE_new();
    int     ok = st != NULL;

    for (size_t i = 0; ok && i < n; i++) {
        WOLFSSL_X509 *x = ocsp_x509(up[i].der, up[i].len);

        ok = x != NULL && wolfSSL_X509_STORE_add_cert(st, x) == WOLFSSL_SUCCESS;
        wolfSSL_X509_free(x);           /* the store keeps its own reference */
    }
    ok = ok && wolfSSL_OCSP_basic_verify(bs, NULL, st, 0) == WOLFSSL_SUCCESS;
    if (st != NULL)
        wolfSSL_X509_STORE_free(st);
    return ok;
}

/* ocsp_signed - 1 if the issuer or a responder it delegated signed bs */

static int ocsp_signed(WOLFSSL_OCSP_BASICRESP *bs, const struct tls_crl_cert *up, size_t n)
{
    if (ocsp_verify(bs, up, 1))
        return 1;
    /* The issuer signed itself: its chain must be in the store as well. */
    return n > 1 && bs->cert != NULL && bs->certSz == up[0].len
        && memcmp(bs->cert, up[0].der, up[0].len) == 0 && ocsp_verify(bs, up, n);
}

/* tls_ocsp_check - what a DER OCSP response says about a certificate */

void tls_ocsp_check(const unsigned char *resp, size_t resp_len,
                    const struct tls_crl_cert *leaf, const struct tls_crl_cert *up,
                    size_t n, int64_t now, struct tls_ocsp_result *out)
{
    const unsigned char *p = resp;
    const char *why = NULL;
    char    iname[160];
    OcspResponse *r = NULL;
    WOLFSSL_OCSP_BASICRESP *bs = NULL;
    WOLFSSL_OCSP_CERTID *id;
    int     rs;

    memset(out, 0, sizeof(*out));
    if (n == 0) {
        ocsp_unknown(out, "no OCSP check: the certificate's issuer is not known");
        return;
    }
    ocsp_issuer_name(up[0].der, up[0].len, iname, sizeof(iname));
    if ((id = ocsp_certid(leaf->der, leaf->len, up[0].der, up[0].len, &why)) == NULL) {
        ocsp_unknown(out, "no OCSP check: %s", why);
        return;
    }
    if (resp == NULL || resp_len == 0 || resp_len > INT32_MAX
        || (r = wolfSSL_d2i_OCSP_RESPONSE(NULL, &p, (int)resp_len)) == NULL) {
        ocsp_unknown(out, "OCSP response for a certificate of %s cannot be parsed", iname);
        goto out;
    }
    if ((rs = wolfSSL_OCSP_response_status(r)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        ocsp_unknown(out, "OCSP responder of %s answered %s", iname,
                     wolfSSL_OCSP_response_status_str(rs));
        goto out;
    }
    if ((bs = wolfSSL_OCSP_response_get1_basic(r)) == NULL || !ocsp_signed(bs, up, n)) {
        ocsp_unknown(out, "OCSP response does not verify with the key of %s or a responder "
                     "it delegated", iname);
        goto out;
    }
    ocsp_verdict(bs, id, leaf, iname, now, out);
out:
    if (bs != NULL)
        wolfSSL_OCSP_BASICRESP_free(bs);
    if (r != NULL)
        wolfSSL_OCSP_RESPONSE_free(r);
    wolfSSL_OCSP_CERTID_free(id);
}

/* ocsp_serial_hex - a CertID's serial as uppercase hex into out ("" if unreadable) */

static void ocsp_serial_hex(WOLFSSL_OCSP_CERTID *id, char *out, size_t sz)
{
    WOLFSSL_ASN1_INTEGER *serial = NULL;
    WOLFSSL_BIGNUM *bn;
    char   *hex;

    out[0] = '\0';
    if (wolfSSL_OCSP_id_get0_info(NULL, NULL, NULL, &serial, id) != WOLFSSL_SUCCESS
        || serial == NULL || (bn = wolfSSL_ASN1_INTEGER_to_BN(serial, NULL)) == NULL)
        return;
    if ((hex = wolfSSL_BN_bn2hex(bn)) != NULL) {
        snprintf(out, sz, "%s", hex);
        XFREE(hex, NULL, DYNAMIC_TYPE_OPENSSL);
    }
    wolfSSL_BN_free(bn);
}

/* tls_ocsp_info - what a response's first single response says, unverified */

int tls_ocsp_info(const unsigned char *resp, size_t len, struct tls_ocsp_info *out)
{
    const unsigned char *p = resp;
    OcspResponse *r;
    WOLFSSL_OCSP_BASICRESP *bs = NULL;
    WOLFSSL_OCSP_SINGLERESP *single;
    WOLFSSL_ASN1_TIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    int     reason, st, rc = -1;

    memset(out, 0, sizeof(*out));
    out->status = "unknown";
    if (resp == NULL || len == 0 || len > INT32_MAX
        || (r = wolfSSL_d2i_OCSP_RESPONSE(NULL, &p, (int)len)) == NULL)
        return -1;
    if (wolfSSL_OCSP_response_status(r) == OCSP_RESPONSE_STATUS_SUCCESSFUL
        && (bs = wolfSSL_OCSP_response_get1_basic(r)) != NULL
        && (single = wolfSSL_OCSP_resp_get0(bs, 0)) != NULL
        && (st = wolfSSL_OCSP_single_get0_status(single, &reason, &rev, &thisu, &nextu)) >= 0) {
        out->this_update = ocsp_time(thisu);
        out->next_update = ocsp_time(nextu);
        out->status = st == V_OCSP_CERTSTATUS_GOOD ? "good"
            : st == V_OCSP_CERTSTATUS_REVOKED ? "revoked" : "unknown";
        ocsp_serial_hex(single, out->serial, sizeof(out->serial));
        rc = 0;
    }
    if (bs != NULL)
        wolfSSL_OCSP_BASICRESP_free(bs);
    wolfSSL_OCSP_RESPONSE_free(r);
    return rc;
}

/* tls_ocsp_status_name - static name of an OCSP status */

const char *tls_ocsp_status_name(enum tls_ocsp_status s)
{
    switch (s) {
    case TLS_OCSP_GOOD:
        return "good";
    case TLS_OCSP_REVOKED:
        return "revoked";
    case TLS_OCSP_UNKNOWN:
        return "unknown";
    case TLS_OCSP_NOT_CHECKED:
        break;
    }
    return "not-checked";
}

/* tls_ocsp_source_name - static name of where a response came from */

const char *tls_ocsp_source_name(enum tls_ocsp_source s)
{
    switch (s) {
    case TLS_OCSP_SRC_STAPLED:
        return "stapled";
    case TLS_OCSP_SRC_FETCHED:
        return "fetched";
    case TLS_OCSP_SRC_NONE:
        break;
    }
    return "none";
}
