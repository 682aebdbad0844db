/*
 * tls_facts.c - what a finished handshake established (struct tls_facts):
 * protocol, cipher suite and its IANA name, key exchange group and its
 * Schannel-style strength, whether a session was resumed, the peer's leaf
 * certificate, the chain verdict mapped from wolfSSL's X509_V_* code (SPEC
 * 6.2) and, for a valid chain, its revocation against the published CRLs;
 * for an untrusted chain, why (from the certificates the peer sent).
 *
 * CONTRACT
 *  tls__facts_collect() runs once per handshake on the conn's thread, right
 *  after it finished; it never blocks (the CRL check is memory only).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_internal.h"

#define TLS_FACTS_CHAIN_MAX 16          /* certificates looked at for a reason */

/* tls_facts_chain - classify the peer's chain (SPEC 6.2) */

static enum tls_chain tls_facts_chain(long code, WOLFSSL_X509 *x)
{
    unsigned eku;

    if (x == NULL)
        return TLS_CHAIN_NONE;
    switch (code) {
    case 0:
        eku = wolfSSL_X509_get_extended_key_usage(x);
        /* EKU absent, or serverAuth (0x1) or clientAuth (0x2). */
        return eku != 0 && (eku & 0x3) == 0 ? TLS_CHAIN_BAD_EKU : TLS_CHAIN_VALID;
    case 9:                             /* X509_V_ERR_CERT_NOT_YET_VALID */
        return TLS_CHAIN_NOT_YET_VALID;
    case 10:                            /* X509_V_ERR_CERT_HAS_EXPIRED */
        return TLS_CHAIN_EXPIRED;
    case 2: case 18: case 19: case 20: case 21: case 24:
        return TLS_CHAIN_UNTRUSTED;
    case 23:                            /* X509_V_ERR_CERT_REVOKED */
        return TLS_CHAIN_REVOKED;
    case 28:                            /* CRL missing ("rejected") */
        return TLS_CHAIN_REVOCATION_UNKNOWN;
    default:
        return TLS_CHAIN_INVALID;
    }
}

/*
 * tls_facts_kex_bits - the key exchange's strength as Schannel reports it
 * (dwExchStrength): the curve's size for ECDHE (X25519 255, X448 448), the
 * prime's bits for finite-field DHE; 0 if unknown.
 */
static int tls_facts_kex_bits(const char *group, const char *cipher, WOLFSSL *ssl)
{
    static const struct { const char *name; int bits; } curves[] = {
        { "SECP256R1", 256 }, { "SECP384R1", 384 }, { "SECP521R1", 521 },
        { "X25519", 255 }, { "X448", 448 }, { "SECP224R1", 224 },
        { "BRAINPOOLP256R1", 256 }, { "BRAINPOOLP384R1", 384 }, { "BRAINPOOLP512R1", 512 },
        { "FFDHE_2048", 2048 }, { "FFDHE_3072", 3072 }, { "FFDHE_4096", 4096 },
        { "FFDHE_6144", 6144 }, { "FFDHE_8192", 8192 },
    };
    int dh;

    for (size_t i = 0; group[0] != '\0' && i < sizeof(curves) / sizeof(curves[0]); i++)
        if (strcasecmp(group, curves[i].name) == 0)
            return curves[i].bits;
    if (strstr(cipher, "_DHE_") != NULL && (dh = wolfSSL_GetDhKey_Sz(ssl)) > 0)
        return dh;
    return 0;
}

/* facts_reason - format a reason, truncated to fit (by design) */

static void LOG_PRINTF(3, 4) facts_reason(char *out, size_t sz, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, sz, fmt, ap);
    va_end(ap);
}

/*
 * tls_facts_untrusted - why an Untrusted chain is not trusted, from what the
 * peer sent: follows issuer names from the leaf through the certificates
 * sent.  Names only, because this explains wolfSSL's verdict and decides
 * nothing.
 */
static void tls_facts_untrusted(WOLFSSL *ssl, const unsigned char *leaf, size_t len, char *out,
                                size_t sz)
{
    WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(ssl);
    struct tls__crl_cert pres[TLS_FACTS_CHAIN_MAX];
    const struct tls__crl_cert *cur;
    int     count = ch != NULL ? wolfSSL_get_chain_count(ch) : 0, sent = count > 0 ? count : 1;
    size_t  np = 0;
    char    sent_text[48], name[256];

    if (!tls__crl_cert_parse(leaf, len, &pres[np++])) {
        snprintf(out, sz, "the certificate cannot be parsed");
        return;
    }
    for (int i = 0; i < count && np < TLS_FACTS_CHAIN_MAX; i++) {
        const unsigned char *der = wolfSSL_get_chain_cert(ch, i);
        int     dlen = wolfSSL_get_chain_length(ch, i);

        if (der != NULL && dlen > 0 && !((size_t)dlen == len && memcmp(der, leaf, len) == 0)
            && tls__crl_cert_parse(der, (size_t)dlen, &pres[np]))
            np++;
    }
    snprintf(sent_text, sizeof(sent_text), "partner sent %d certificate%s", sent,
             sent == 1 ? "" : "s");
    cur = &pres[0];
    for (size_t step = 0; step < np && !tls__der_eq(cur->subject, cur->issuer); step++) {
        const struct tls__crl_cert *up = NULL;

        for (size_t k = 1; k < np && up == NULL; k++)
            if (&pres[k] != cur && tls__der_eq(pres[k].subject, cur->issuer))
                up = &pres[k];
        if (up == NULL)
            break;
        cur = up;
    }
    if (!tls__der_eq(cur->subject, cur->issuer)) {
        tls__name_text(cur->issuer, name, sizeof(name));
        facts_reason(out, sz, "%s; issuer %s not found", sent_text, name);
    } else if (cur == &pres[0]) {
        facts_reason(out, sz, "%s; self-signed certificate not in trusted_ca_file", sent_text);
    } else {
        tls__name_text(cur->subject, name, sizeof(name));
        facts_reason(out, sz, "%s; chain does not end at a trusted root: %s is not in "
                     "trusted_ca_file", sent_text, name);
    }
}

/* tls_facts_detail - why the chain failed, for a log line */

const char *tls_facts_detail(const struct tls_facts *f)
{
    if (f->chain == TLS_CHAIN_UNTRUSTED)
        return f->chain_reason;
    if (f->revocation == TLS_REV_REVOKED || f->revocation == TLS_REV_UNKNOWN)
        return f->revocation_reason;
    return "";
}

/* tls__facts_collect - what the handshake established */

unsigned char *tls__facts_collect(WOLFSSL *ssl, struct tls_facts *f)
{
    WOLFSSL_CIPHER *ci = wolfSSL_get_current_cipher(ssl);
    unsigned char *peer_der = NULL;
    const char *s, *iana;
    WOLFSSL_X509 *x;
    int cs;

    snprintf(f->version, sizeof(f->version), "%s", wolfSSL_get_version(ssl));
    cs = wolfSSL_get_current_cipher_suite(ssl);
    iana = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)((cs >> 8) & 0xff),
                                                   (unsigned char)(cs & 0xff));
    snprintf(f->cipher, sizeof(f->cipher), "%s", iana ? iana : wolfSSL_get_cipher_name(ssl));
    f->cipher_bits = ci ? wolfSSL_CIPHER_get_bits(ci, NULL) : 0;
    s = wolfSSL_get_curve_name(ssl);
    snprintf(f->group, sizeof(f->group), "%s", s ? s : "");
    f->kex_bits = tls_facts_kex_bits(f->group, f->cipher, ssl);
    f->resumed = wolfSSL_session_reused(ssl) == 1;
    x = wolfSSL_get_peer_certificate(ssl);
    f->verify_code = wolfSSL_get_verify_result(ssl);
    f->chain = tls_facts_chain(f->verify_code, x);
    if (x != NULL) {
        int len = 0;
        const unsigned char *der = wolfSSL_X509_get_der(x, &len);

        if (der != NULL && len > 0) {
            peer_der = xmalloc((size_t)len);
            memcpy(peer_der, der, (size_t)len);
            f->peer_der = peer_der;
            f->peer_der_len = (size_t)len;
        }
        f->peer_cert = true;
        wolfSSL_X509_free(x);           /* get_peer_certificate returns a copy */
    }
    /* Revocation (SPEC 6.3) after the handshake, against the published CRLs:
     * wolfSSL's own CRL checking stays off, so a revoked intermediate is
     * reported as revoked rather than as an unverifiable chain. */
    f->revocation = TLS_REV_NOT_CHECKED;
    f->revocation_reason[0] = '\0';
    f->chain_reason[0] = '\0';
    if (f->chain == TLS_CHAIN_UNTRUSTED && f->peer_der != NULL)
        tls_facts_untrusted(ssl, f->peer_der, f->peer_der_len, f->chain_reason,
                            sizeof(f->chain_reason));
    if (f->chain == TLS_CHAIN_VALID && f->peer_der != NULL)
        f->revocation = tls__crl_check_peer(ssl, f->peer_der, f->peer_der_len,
                                            f->revocation_reason,
                                            sizeof(f->revocation_reason));
    return peer_der;
}
