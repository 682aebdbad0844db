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
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_util.h"
#include "tls_conn.h"
#include "tls_internal.h"
#include <wolfssl/wolfcrypt/asn.h>   /* after tls_internal.h: wolfssl/options.h first */
#include <wolfssl/openssl/x509v3.h>   /* XKU_* */
#include "tls_store.h"

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
 * tls_facts_server_only - an EKU with serverAuth and without clientAuth (or
 * anyExtendedKeyUsage): what public CAs issue from 2026
 */
static bool tls_facts_server_only(WOLFSSL_X509 *x)
{
    unsigned eku = wolfSSL_X509_get_extended_key_usage(x);

    return (eku & XKU_SSL_SERVER) != 0 && (eku & (XKU_SSL_CLIENT | XKU_ANYEKU)) == 0;
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
static void tls_facts_untrusted(const struct tls_crl_cert *sent_certs, int count,
                                const unsigned char *leaf, size_t len, char *out, size_t sz)
{
    struct tls__crl_cert pres[TLS_FACTS_CHAIN_MAX];
    const struct tls__crl_cert *cur;
    int     sent = count > 0 ? count : 1;
    size_t  np = 0;
    char    sent_text[48], name[256];

    if (!tls__crl_cert_parse(leaf, len, &pres[np++])) {
        snprintf(out, sz, "the certificate cannot be parsed");
        return;
    }
    for (int i = 0; i < count && np < TLS_FACTS_CHAIN_MAX; i++) {
        const unsigned char *der = sent_certs[i].der;
        size_t  dlen = sent_certs[i].len;

        if (!(dlen == len && memcmp(der, leaf, len) == 0)
            && tls__crl_cert_parse(der, dlen, &pres[np]))
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
    /* wolfSSL checks the EKU per direction and reports a client certificate
     * without clientAuth (a serverAuth-only 2026 public certificate) as
     * EXTKEYUSE_AUTH_E to the verify callback only, which records and never
     * refuses.  That error replaces the leaf's other error there, but not in
     * the verify result: wolfSSL 5.5.4 records 0 for such a certificate under
     * a trusted CA, 21 under an unknown CA or with a bad signature, 10 / 9
     * when expired / not yet valid (tls_facts_test proves each).  So the
     * verdict below stays the chain's; eku_server_only lets policy decide. */
    f->verify_code = wolfSSL_get_verify_result(ssl);
    /* A resumed ticket: the peer of the handshake that sealed it (tls_ticket_chain.c). */
    if (tls__ticket_peer(ssl, &f->verify_code)) {
        struct tls_crl_cert leaf;

        wolfSSL_X509_free(x);
        x = tls__ticket_peer_chain(ssl, &leaf, 1) == 1
            ? wolfSSL_X509_d2i(NULL, leaf.der, (int)leaf.len) : NULL;
    } else if (f->resumed && wolfSSL_is_server(ssl) == 1) {
        /* A server resumed without our ticket's peer (never expected: the
         * cache is off and every ticket opens through tls_ticket.c).
         * wolfSSL's 0 is not that handshake's verdict: fail closed, as no
         * certificate.  (A client's resumed session has its server's chain
         * and verify result back from wolfSSL_set_session.) */
        log_warnx("tls", 0, "resumed session without its ticket's peer: "
                  "treated as no client certificate");
        wolfSSL_X509_free(x);
        x = NULL;
        f->verify_code = 50;            /* X509_V_ERR_APPLICATION_VERIFICATION */
    }
    f->chain = tls_facts_chain(f->verify_code, x);
    memset(f->spki_sha256, 0, sizeof(f->spki_sha256));
    f->eku_server_only = x != NULL && tls_facts_server_only(x);
    if (x != NULL) {
        int len = 0;
        const unsigned char *der = wolfSSL_X509_get_der(x, &len);

        if (der != NULL && len > 0) {
            peer_der = xmalloc((size_t)len);
            memcpy(peer_der, der, (size_t)len);
            f->peer_der = peer_der;
            f->peer_der_len = (size_t)len;
            if (tls_spki_sha256(peer_der, (size_t)len, f->spki_sha256) < 0)
                memset(f->spki_sha256, 0, sizeof(f->spki_sha256));
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
    if (f->chain == TLS_CHAIN_UNTRUSTED && f->peer_der != NULL) {
        struct tls_crl_cert sent[TLS_FACTS_CHAIN_MAX];
        size_t  n = tls__facts_peer_chain(ssl, sent, TLS_FACTS_CHAIN_MAX);

        tls_facts_untrusted(sent, (int)n, f->peer_der, f->peer_der_len, f->chain_reason,
                            sizeof(f->chain_reason));
    }
    if (f->chain == TLS_CHAIN_VALID && f->peer_der != NULL)
        f->revocation = tls__crl_check_peer(ssl, f->peer_der, f->peer_der_len,
                                            f->revocation_reason,
                                            sizeof(f->revocation_reason));
    tls__ocsp_facts(ssl, f);            /* tls_ocsp_peer.c */
    return peer_der;
}

/* tls__facts_peer_chain - the certificates the peer sent, as sent */

size_t tls__facts_peer_chain(WOLFSSL *ssl, struct tls_crl_cert *out, size_t max)
{
    WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(ssl);
    int     count = ch != NULL ? wolfSSL_get_chain_count(ch) : 0;
    size_t  n = 0;

    if (tls__ticket_peer(ssl, NULL))    /* resumed: the sealing handshake's chain */
        return tls__ticket_peer_chain(ssl, out, max);

    for (int i = 0; i < count && n < max; i++) {
        const unsigned char *der = wolfSSL_get_chain_cert(ch, i);
        int     len = wolfSSL_get_chain_length(ch, i);

        if (der != NULL && len > 0) {
            out[n].der = der;
            out[n].len = (size_t)len;
            n++;
        }
    }
    return n;
}

/*
 * tls_facts_code - the X509_V_* code a handshake records for wolfSSL's
 * result r on the leaf: dates, no signer, self-signed; anything else
 * X509_V_ERR_UNSPECIFIED (1).
 */
static long tls_facts_code(int r, bool self_signed)
{
    switch (r) {
    case WOLFSSL_SUCCESS:
        return 0;
    case ASN_AFTER_DATE_E:
        return 10;                      /* X509_V_ERR_CERT_HAS_EXPIRED */
    case ASN_BEFORE_DATE_E:
        return 9;                       /* X509_V_ERR_CERT_NOT_YET_VALID */
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
        return self_signed ? 18 : 20;   /* DEPTH_ZERO_SELF_SIGNED, UNABLE_TO_GET_ISSUER_LOCALLY */
    default:
        return 1;
    }
}

/* tls_facts_refused - why: sent certificate number i (of n) failed with wolfSSL error r */

static void tls_facts_refused(const struct tls_crl_cert *c, size_t i, size_t n, int r,
                              char *out, size_t sz)
{
    struct tls__crl_cert pc;
    char    name[256] = "?";

    if (tls__crl_cert_parse(c->der, c->len, &pc))
        tls__name_text(pc.subject, name, sizeof(name));
    facts_reason(out, sz, "partner sent %zu certificates; certificate %zu (%s) does not "
                 "verify: %s", n, i, name, wc_GetErrorString(r));
}

/*
 * tls_facts_misordered - why, when a sent CA certificate was not trusted
 * because its issuer was sent before it (nearer the leaf): a handshake
 * takes the chain from the last certificate, so it checks that one before
 * its issuer is known.  False if no such pair explains it.
 */
static bool tls_facts_misordered(const struct tls_crl_cert *chain, size_t n,
                                 const bool *trusted, char *out, size_t sz)
{
    struct tls__crl_cert c, up;
    char    cn[256], un[256];

    for (size_t i = n - 1; i >= 2; i--) {
        if (trusted[i] || !tls__crl_cert_parse(chain[i].der, chain[i].len, &c))
            continue;
        for (size_t j = 1; j < i; j++)
            if (tls__crl_cert_parse(chain[j].der, chain[j].len, &up)
                && tls__der_eq(up.subject, c.issuer) && !tls__der_eq(c.subject, c.issuer)) {
                tls__name_text(c.subject, cn, sizeof(cn));
                tls__name_text(up.subject, un, sizeof(un));
                facts_reason(out, sz, "partner sent %zu certificates out of order: %s "
                             "(certificate %zu) comes after its issuer %s (certificate %zu); "
                             "each must be followed by its issuer", n, cn, i, un, j);
                return true;
            }
    }
    return false;
}

/* tls__chain_judge - a handshake's chain facts for a chain, against cm's anchors */

int tls__chain_judge(WOLFSSL_CERT_MANAGER *cm, const struct tls_crl_cert *chain, size_t n,
                     struct tls_facts *f, const char **why)
{
    WOLFSSL_X509 *leaf;
    struct tls_cert_info ci;
    bool   *trusted = NULL;             /* sent certificate i became a trusted CA */
    size_t  bad = 0;                    /* a sent CA certificate that failed, or 0 */
    int     bad_r = 0, rc = -1;

    memset(f, 0, sizeof(*f));
    if (n == 0 || (leaf = wolfSSL_X509_d2i(NULL, chain[0].der, (int)chain[0].len)) == NULL) {
        *why = "no certificate";
        return -1;
    }
    /* The certificates sent, as a handshake takes them (wolfSSL's
     * ProcessPeerCerts): from the last toward the leaf, each once, verified
     * against what is trusted so far; one that verifies and is a CA is
     * trusted for the rest (never for being sent: a self-signed root is
     * not); one whose issuer is not trusted yet, or that is self-signed, is
     * passed over (WOLFSSL_ALT_CERT_CHAINS).  No second pass: a CA sent
     * before its issuer stays untrusted, as in the handshake.  Any other
     * failure (dates, path length, signature) leaves its certificate
     * untrusted and decides the verdict (below); the first is the reason. */
    trusted = xcalloc(n, sizeof(*trusted));
    for (size_t i = n - 1; i >= 1; i--) {
        int     r = wolfSSL_CertManagerVerifyBuffer(cm, chain[i].der, (long)chain[i].len,
                                                    WOLFSSL_FILETYPE_ASN1);

        if (r == WOLFSSL_SUCCESS
            && tls_cert_info_from_der(chain[i].der, chain[i].len, &ci) == 0) {
            bool    ca = ci.is_ca;

            tls_cert_info_free(&ci);
            trusted[i] = ca && wolfSSL_CertManagerLoadCABuffer(cm, chain[i].der,
                                                               (long)chain[i].len,
                                                               WOLFSSL_FILETYPE_ASN1)
                == WOLFSSL_SUCCESS;
        } else if (r != WOLFSSL_SUCCESS && r != ASN_NO_SIGNER_E && r != ASN_SELF_SIGNED_E
                   && bad == 0) {
            bad = i;
            bad_r = r;
        }
    }
    if (tls_cert_info_from_der(chain[0].der, chain[0].len, &ci) < 0) {
        *why = "the first certificate cannot be parsed";
        goto out;
    }
    /* A sent certificate that failed for another reason than a missing
     * issuer makes a handshake record X509_V_ERR_INVALID_CA (24), whatever
     * the leaf's own result (wolfSSL 5.5.4, checked by tls_facts_test). */
    f->verify_code = bad != 0 ? 24
        : tls_facts_code(wolfSSL_CertManagerVerifyBuffer(cm, chain[0].der, (long)chain[0].len,
                                                         WOLFSSL_FILETYPE_ASN1), ci.self_signed);
    tls_cert_info_free(&ci);
    f->chain = tls_facts_chain(f->verify_code, leaf);
    f->peer_cert = true;
    f->peer_der = chain[0].der;
    f->peer_der_len = chain[0].len;
    f->eku_server_only = tls_facts_server_only(leaf);
    if (tls_spki_sha256(chain[0].der, chain[0].len, f->spki_sha256) < 0)
        memset(f->spki_sha256, 0, sizeof(f->spki_sha256));
    f->revocation = TLS_REV_NOT_CHECKED;
    if (f->chain == TLS_CHAIN_UNTRUSTED) {
        if (bad != 0)
            tls_facts_refused(&chain[bad], bad, n, bad_r, f->chain_reason,
                              sizeof(f->chain_reason));
        else if (!tls_facts_misordered(chain, n, trusted, f->chain_reason,
                                       sizeof(f->chain_reason)))
            tls_facts_untrusted(chain, (int)n, chain[0].der, chain[0].len, f->chain_reason,
                                sizeof(f->chain_reason));
    }
    if (f->chain == TLS_CHAIN_VALID) {
        struct tls_crl_set *s = tls_crl_current();
        struct tls_crl_result r;

        if (s == NULL) {
            f->revocation = TLS_REV_UNKNOWN;
            snprintf(f->revocation_reason, sizeof(f->revocation_reason), "no CRLs loaded");
        } else {
            tls_crl_check(s, chain, n, (int64_t)time(NULL), &r);
            tls_crl_set_unref(s);
            f->revocation = r.verdict;
            snprintf(f->revocation_reason, sizeof(f->revocation_reason), "%s", r.reason);
        }
    }
    rc = 0;
out:
    free(trusted);
    wolfSSL_X509_free(leaf);
    return rc;
}

/* tls_facts_from_chain - a handshake's chain facts for a chain read from a file */

int tls_facts_from_chain(const struct tls_crl_cert *chain, size_t n, const char *trusted_ca,
                         struct tls_facts *f, const char **why)
{
    WOLFSSL_CERT_MANAGER *cm = NULL;
    int     rc;

    memset(f, 0, sizeof(*f));
    if (n == 0) {
        *why = "no certificate";
        return -1;
    }
    if ((cm = wolfSSL_CertManagerNew()) == NULL || trusted_ca == NULL
        || log_file_check(trusted_ca, TLS__FILE_MAX) < 0        /* no FIFO */
        || wolfSSL_CertManagerLoadCA(cm, trusted_ca, NULL) != WOLFSSL_SUCCESS) {
        *why = "trusted_ca_file cannot be loaded";
        if (cm != NULL)
            wolfSSL_CertManagerFree(cm);
        return -1;
    }
    rc = tls__chain_judge(cm, chain, n, f, why);
    wolfSSL_CertManagerFree(cm);
    return rc;
}

/* tls_chain_read_pem - every certificate of a PEM file (DER, file order) */

int tls_chain_read_pem(const char *path, struct tls_crl_cert **out, size_t *n, const char **why)
{
    /* O_NONBLOCK: a FIFO is opened without waiting, then refused unread. */
    int     fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), rc;

    *out = NULL;
    *n = 0;
    if (fd < 0) {
        *why = "cannot be read";
        return -1;
    }
    rc = tls_chain_read_pem_fd(fd, out, n, why);
    close(fd);
    return rc;
}

/* tls_chain_read_pem_fd - the same from an open descriptor */

int tls_chain_read_pem_fd(int fd, struct tls_crl_cert **out, size_t *n, const char **why)
{
    unsigned char *pem;
    struct tls__der *ders = NULL;
    size_t  len;

    *out = NULL;
    *n = 0;
    if (log_read_fd(fd, TLS__FILE_MAX, &pem, &len, NULL) < 0) {
        *why = errno == EINVAL ? "not a regular file" : "cannot be read";
        return -1;
    }
    *n = tls__pem_certs(pem, len, &ders);
    free(pem);
    if (*n == 0) {
        *why = "holds no PEM certificate";
        free(ders);
        return -1;
    }
    *out = xcalloc(*n, sizeof(**out));
    for (size_t i = 0; i < *n; i++)     /* the DER moves over: freed by tls_chain_free */
        (*out)[i] = (struct tls_crl_cert){ ders[i].der, ders[i].len };
    free(ders);
    return 0;
}

/* tls_chain_pem - the certificates as PEM text, in order */

char *tls_chain_pem(const struct tls_crl_cert *chain, size_t n, size_t *len)
{
    size_t  cap = 1, used = 0;
    char   *out;

    for (size_t i = 0; i < n; i++)
        cap += chain[i].len * 2 + 128;  /* base64, line ends, the two armour lines */
    out = xmalloc(cap);
    for (size_t i = 0; i < n; i++) {
        int     k = wc_DerToPem(chain[i].der, (word32)chain[i].len, (byte *)out + used,
                                (word32)(cap - used - 1), CERT_TYPE);

        if (k <= 0) {
            free(out);
            *len = 0;
            return NULL;
        }
        used += (size_t)k;
    }
    out[used] = '\0';
    *len = used;
    return out;
}

/* tls_chain_free - free what tls_chain_read_pem returned */

void tls_chain_free(struct tls_crl_cert *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free((void *)(uintptr_t)v[i].der);
    free(v);
}
