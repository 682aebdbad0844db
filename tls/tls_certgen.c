/*
 * tls_certgen.c - keys, self-signed certificates and PKCS#10 requests
 * with wolfCrypt, and the PEM and error helpers that tls_certkey.c (key
 * loading) and tls_certimport.c (the parsing of import files) share
 * through tls_internal.h.
 *
 * CONTRACT
 *  Every function is synchronous and works on caller-owned input that it
 *  neither copies nor keeps.  Output buffers (struct tls_gen_buf, request
 *  facts) belong to the caller, who frees them with the matching *_free();
 *  key bytes are wiped on free and every scratch copy of a private key is
 *  wiped before it is released.  Fallible calls return TLS_GEN_OK,
 *  TLS_GEN_PASSWORD or TLS_GEN_ERROR; *why (for the last two as well)
 *  lives in a per-thread buffer until the next call in that thread (the
 *  buffer is this file's, and tls_certkey.c and tls_certimport.c fill it
 *  too, through tls__gen_fail).  No callbacks, nothing to cancel;
 *  thread-safe (each call has its own RNG and holds a wolfSSL_Init()
 *  reference while it works).
 *
 *  wolfCrypt 5.5.4 facts this file relies on (each checked by a program
 *  run against the Debian package, and by tests/unit/tls_certgen_test.c):
 *  - basicConstraints is written only with isCA or basicConstSet = 1; the
 *    latter with isCA = 0 gives "CA:FALSE" (not critical).
 *  - wc_InitCert sets version 2 (v3): a request made with it says
 *    "Version: Unknown (2)" to OpenSSL, so requests set version 0.
 *  - Without beforeDate/afterDate wolfCrypt back-dates notBefore by a day
 *    and writes GeneralizedTime; raw TLVs in beforeDate/afterDate are
 *    copied as they are, so we write RFC 5280 UTCTime before 2050.
 *  - A serial whose first byte has the high bit set gets a 0x00 prefix
 *    (17 bytes); a first byte in 0x01..0x7F keeps exactly 16.
 *  - wc_SetSubjectRaw with selfSigned = 1 leaves the issuer EMPTY (the
 *    issuer is copied from the CertName fields, not the raw subject);
 *    wc_SetIssuerRaw from the same certificate fixes it.
 *  - wc_GetPubKeyDerFromCert gives PKCS#1 RSAPublicKey for RSA but a
 *    SubjectPublicKeyInfo for EC; wolfSSL_X509_get_pubkey_buffer gives
 *    SPKI for both (and fails for a request), equal to
 *    wc_RsaKeyToPublicDer / wc_EccPublicKeyToDer(.., 1) of the key.
 *  The PKCS#12 facts are in tls_certimport.c, the EC key checks' in
 *  tls_certkey.c.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "tls_certgen.h"
#include "tls_internal.h"
#include "tls_store.h"

#define GEN_DER_MAX  (CTC_MAX_ALT_SIZE + 8192)  /* a certificate or request we make */
#define GEN_SPKI_MAX 1024                       /* RSA 4096 SPKI is 550 bytes */
#define GEN_MAX_DAYS 36500

static const struct {
    const char *name;
    int     type, bits;
} gen_keys[] = {
    [TLS_GEN_RSA2048] = { "rsa2048", TLS_KEY_RSA, 2048 },
    [TLS_GEN_RSA4096] = { "rsa4096", TLS_KEY_RSA, 4096 },
    [TLS_GEN_EC256] = { "ec256", TLS_KEY_EC, 256 },
};

static __thread char gen_why[512];

/* tls__gen_fail - set *why from a format and return TLS_GEN_ERROR */

int tls__gen_fail(const char **why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(gen_why, sizeof(gen_why), fmt, ap);
    va_end(ap);
    *why = gen_why;
    return TLS_GEN_ERROR;
}

/* gen_hex - uppercase hex of n bytes into out (2n + 1 bytes) */

static void gen_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* gen_sha1_hex - the key id of a DER SubjectPublicKeyInfo */

static int gen_sha1_hex(const unsigned char *der, size_t len, char id[41])
{
    unsigned char sha[WC_SHA_DIGEST_SIZE];

    if (wc_ShaHash(der, (word32)len, sha) != 0)
        return -1;
    gen_hex(sha, sizeof(sha), id);
    return 0;
}

/* tls__gen_pem - DER into a new PEM buffer of the given wolfCrypt type */

int tls__gen_pem(const unsigned char *der, size_t len, int type, struct tls_gen_buf *out)
{
    size_t  cap = len * 2 + 256;        /* base64 + line ends + header lines */
    int     n;

    out->data = xmalloc(cap + 1);
    n = wc_DerToPem(der, (word32)len, out->data, (word32)cap, type);
    if (n <= 0) {
        tls_gen_buf_free(out);
        return -1;
    }
    out->data[n] = '\0';
    out->len = (size_t)n;
    return 0;
}

/* tls_gen_buf_free - wipe and free */

void tls_gen_buf_free(struct tls_gen_buf *b)
{
    if (b->data != NULL) {
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

/* tls_gen_key_parse - a key kind by name */

int tls_gen_key_parse(const char *name, enum tls_gen_key *out)
{
    for (size_t i = 0; i < sizeof(gen_keys) / sizeof(gen_keys[0]); i++)
        if (strcasecmp(name, gen_keys[i].name) == 0) {
            *out = (enum tls_gen_key)i;
            return 0;
        }
    return -1;
}

/* tls_gen_key_name - the name of a key kind */

const char *tls_gen_key_name(enum tls_gen_key k)
{
    return gen_keys[k].name;
}

/* tls_gen_key_like - the key kind of a certificate's key, if domsec makes it */

int tls_gen_key_like(int key_type, int key_bits, enum tls_gen_key *out)
{
    for (size_t i = 0; i < sizeof(gen_keys) / sizeof(gen_keys[0]); i++)
        if (gen_keys[i].type == key_type && gen_keys[i].bits == key_bits) {
            *out = (enum tls_gen_key)i;
            return 0;
        }
    return -1;
}

/* tls_gen_domain_ok - a DNS name, or "*." and one */

bool tls_gen_domain_ok(const char *s)
{
    return tls__dns_like(s);
}

/* ---- subject ------------------------------------------------------------ */

/* gen_subject_field - the field of out for an attribute name, or NULL */

static char *gen_subject_field(struct tls_gen_subject *out, const char *name, size_t *cap,
                               const char **canon)
{
    static const struct {
        const char *names[3];
        size_t  offset, cap;
    } attrs[] = {
        { { "C" }, offsetof(struct tls_gen_subject, c), 3 },
        { { "ST", "S" }, offsetof(struct tls_gen_subject, st), TLS_GEN_ATTR_MAX + 1 },
        { { "L" }, offsetof(struct tls_gen_subject, l), TLS_GEN_ATTR_MAX + 1 },
        { { "O" }, offsetof(struct tls_gen_subject, o), TLS_GEN_ATTR_MAX + 1 },
        { { "OU" }, offsetof(struct tls_gen_subject, ou), TLS_GEN_ATTR_MAX + 1 },
        { { "CN" }, offsetof(struct tls_gen_subject, cn), TLS_GEN_ATTR_MAX + 1 },
        { { "emailAddress", "E", "email" }, offsetof(struct tls_gen_subject, email),
          TLS_GEN_ATTR_MAX + 1 },
    };

    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        for (size_t j = 0; j < 3 && attrs[i].names[j] != NULL; j++)
            if (strcasecmp(name, attrs[i].names[j]) == 0) {
                *cap = attrs[i].cap;
                *canon = attrs[i].names[0];
                return (char *)out + attrs[i].offset;
            }
    return NULL;
}

/* gen_hexval - value of a hex digit, or -1 */

static int gen_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* gen_subject_value - one value at *pp up to a separator; advances *pp */

static int gen_subject_value(const char **pp, char sep, char *val, size_t cap,
                             const char *name, const char **why)
{
    const char *p = *pp;
    size_t  n = 0, keep = 0;            /* keep: length without trailing blanks */
    bool    quoted = *p == '"';

    if (quoted)
        p++;
    for (;;) {
        int     ch = (unsigned char)*p;

        if (ch == '\0') {
            if (quoted)
                return tls__gen_fail(why, "unterminated \" in the value of %s", name);
            break;
        }
        if (quoted && ch == '"') {
            p++;
            while (*p == ' ')
                p++;
            if (*p != '\0' && *p != sep && !(sep == ',' && *p == ';'))
                return tls__gen_fail(why, "unexpected text after the quoted value of %s",
                                     name);
            break;
        }
        if (!quoted && (ch == sep || (sep == ',' && ch == ';')))
            break;
        if (ch == '\\') {
            int     h1 = gen_hexval((unsigned char)p[1]), h2 = h1 < 0 ? -1 :
                gen_hexval((unsigned char)p[2]);

            if (p[1] == '\0')
                return tls__gen_fail(why, "a \\ ends the value of %s", name);
            if (h1 >= 0 && h2 >= 0) {
                ch = h1 * 16 + h2;
                p += 3;
            } else {
                ch = (unsigned char)p[1];
                p += 2;
            }
            if (ch < 0x20 || ch == 0x7f)
                return tls__gen_fail(why, "control character in the value of %s", name);
            if (n + 1 >= cap)
                goto toolong;
            val[n++] = (char)ch;
            keep = n;
            continue;
        }
        if (ch < 0x20 || ch == 0x7f)
            return tls__gen_fail(why, "control character in the value of %s", name);
        if (n + 1 >= cap)
            goto toolong;
        val[n++] = (char)ch;
        if (ch != ' ' || quoted)
            keep = n;
        p++;
    }
    val[keep] = '\0';
    *pp = p;
    return 0;

toolong:
    return tls__gen_fail(why, "the value of %s is longer than %zu bytes", name, cap - 1);
}

/* tls_gen_subject_parse - "C=US, O=Contoso, CN=mail.contoso.com" */

int tls_gen_subject_parse(const char *text, struct tls_gen_subject *out, const char **why)
{
    const char *p = text;
    char    sep = ',';
    int     count = 0;

    memset(out, 0, sizeof(*out));
    while (*p == ' ')
        p++;
    if (*p == '/') {                    /* OpenSSL's "/C=US/O=Contoso/CN=..." */
        sep = '/';
        p++;
    }
    for (;;) {
        char    name[32], val[TLS_GEN_ATTR_MAX + 1], *field;
        const char *canon;
        size_t  n = 0, cap;

        while (*p == ' ')
            p++;
        if (*p == '\0' && count > 0 && sep == '/')
            break;
        while (isalnum((unsigned char)p[n]))
            n++;
        if (n == 0 || n >= sizeof(name))
            return tls__gen_fail(why, "expected NAME=value at \"%.40s\"", p);
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        while (*p == ' ')
            p++;
        if (*p != '=')
            return tls__gen_fail(why, "expected = after %s", name);
        p++;
        while (*p == ' ')
            p++;
        if ((field = gen_subject_field(out, name, &cap, &canon)) == NULL)
            return tls__gen_fail(why, "unknown attribute %s (known: C, ST, L, O, OU, CN, "
                                 "emailAddress)", name);
        if (*field != '\0')
            return tls__gen_fail(why, "%s appears twice (one value per attribute)", canon);
        if (gen_subject_value(&p, sep, val, sizeof(val), canon, why) < 0)
            return TLS_GEN_ERROR;
        if (val[0] == '\0')
            return tls__gen_fail(why, "empty value for %s", canon);
        if (field == out->c && (strlen(val) != 2 || !isalpha((unsigned char)val[0])
                                || !isalpha((unsigned char)val[1])))
            return tls__gen_fail(why, "C must be a two-letter country code, not \"%s\"", val);
        if (field == out->email && strchr(val, '@') == NULL)
            return tls__gen_fail(why, "emailAddress \"%s\" is not an address", val);
        if (strlen(val) >= cap)         /* cannot happen: every cap holds the maximum */
            return tls__gen_fail(why, "the value of %s is too long", canon);
        strcpy(field, val);
        count++;
        if (*p == '\0')
            break;
        p++;                            /* the separator */
    }
    if (out->c[0] != '\0') {
        out->c[0] = (char)toupper((unsigned char)out->c[0]);
        out->c[1] = (char)toupper((unsigned char)out->c[1]);
    }
    return 0;
}

/* ---- keys ----------------------------------------------------------------- */

/* gen_key_facts - id, type and size of a loaded key */

static int gen_key_facts(struct tls__gen_key *k, struct tls_gen_key_info *out)
{
    unsigned char spki[GEN_SPKI_MAX];
    int     n = tls__gen_key_spki(k, spki, sizeof(spki));

    memset(out, 0, sizeof(*out));
    if (n <= 0 || gen_sha1_hex(spki, (size_t)n, out->id) < 0
        || wc_Sha256Hash(spki, (word32)n, out->spki_sha256) != 0)
        return -1;
    out->key_type = k->type == RSA_TYPE ? TLS_KEY_RSA : TLS_KEY_EC;
    out->key_bits = k->type == RSA_TYPE ? wc_RsaEncryptSize(&k->rsa) * 8
        : wc_ecc_size(&k->ecc) * 8;
    return 0;
}

/* tls_gen_key - a new private key */

int tls_gen_key(enum tls_gen_key kind, struct tls_gen_buf *out, const char **why)
{
    struct tls__gen_key k;
    WC_RNG  rng;
    int     rc;

    out->data = NULL;
    out->len = 0;
    if (wc_InitRng(&rng) != 0)
        return tls__gen_fail(why, "the random number generator cannot start");
    tls__gen_key_init(&k);
    if (gen_keys[kind].type == TLS_KEY_RSA) {
        k.type = RSA_TYPE;
        rc = wc_MakeRsaKey(&k.rsa, gen_keys[kind].bits, WC_RSA_EXPONENT, &rng);
    } else {
        k.type = ECC_TYPE;
        rc = wc_ecc_make_key_ex(&rng, 32, &k.ecc, ECC_SECP256R1);
    }
    if (rc == 0 && tls__gen_key_pem(&k, out) < 0)
        rc = -1;
    tls__gen_key_free(&k);
    wc_FreeRng(&rng);
    if (rc != 0)
        return tls__gen_fail(why, "%s key generation failed (%d)", gen_keys[kind].name, rc);
    return TLS_GEN_OK;
}

/* tls_gen_key_info - facts about a private key */

int tls_gen_key_info(const unsigned char *key, size_t len, struct tls_gen_key_info *out,
                     const char **why)
{
    struct tls__gen_key k;
    int     rc = tls__gen_key_load(key, len, NULL, &k, why);

    memset(out, 0, sizeof(*out));
    if (rc == TLS_GEN_OK && gen_key_facts(&k, out) < 0)
        rc = tls__gen_fail(why, "the public key cannot be encoded");
    tls__gen_key_free(&k);
    return rc;
}

/* ---- certificates and requests ------------------------------------------- */

/* gen_der_len - append a DER length; bytes written */

static size_t gen_der_len(unsigned char *o, size_t len)
{
    if (len < 0x80) {
        o[0] = (unsigned char)len;
        return 1;
    }
    if (len < 0x100) {
        o[0] = 0x81;
        o[1] = (unsigned char)len;
        return 2;
    }
    o[0] = 0x82;
    o[1] = (unsigned char)(len >> 8);
    o[2] = (unsigned char)len;
    return 3;
}

/* gen_san - GeneralNames of dNSName entries into cert->altNames */

static int gen_san(Cert *c, const char *const *names, size_t n, const char **why)
{
    unsigned char *body = xmalloc(CTC_MAX_ALT_SIZE);
    size_t  bl = 0, o = 0;

    for (size_t i = 0; i < n; i++) {
        size_t  l = strlen(names[i]);

        if (!tls_gen_domain_ok(names[i])) {
            free(body);
            return tls__gen_fail(why, "\"%s\" is not a DNS name", names[i]);
        }
        if (bl + l + 4 > CTC_MAX_ALT_SIZE - 8) {
            free(body);
            return tls__gen_fail(why, "too many domains (the names exceed %d bytes)",
                                 CTC_MAX_ALT_SIZE - 8);
        }
        body[bl++] = 0x82;              /* [2] IMPLICIT IA5String: dNSName */
        bl += gen_der_len(body + bl, l);
        memcpy(body + bl, names[i], l);
        bl += l;
    }
    c->altNames[o++] = 0x30;            /* SEQUENCE OF GeneralName */
    o += gen_der_len(c->altNames + o, bl);
    memcpy(c->altNames + o, body, bl);
    c->altNamesSz = (int)(o + bl);
    free(body);
    return 0;
}

/* gen_time - an X.509 Time TLV (UTCTime before 2050) into out; its length */

static int gen_time(unsigned char *out, int64_t t)
{
    time_t  tt = (time_t)t;
    struct tm tm;
    int     year;
    char    gt[16];                     /* GeneralizedTime: YYYYMMDDhhmmssZ */

    if (gmtime_r(&tt, &tm) == NULL)
        return -1;
    year = tm.tm_year + 1900;
    if (year > 9999)
        return -1;
    strftime(gt, sizeof(gt), "%Y%m%d%H%M%SZ", &tm);
    if (year >= 1950 && year < 2050) {  /* UTCTime: the same without the century */
        out[0] = ASN_UTC_TIME;
        out[1] = 13;
        memcpy(out + 2, gt + 2, 13);
        return 15;
    }
    out[0] = ASN_GENERALIZED_TIME;
    out[1] = 15;
    memcpy(out + 2, gt, 15);
    return 17;
}

/* gen_names - the subject and SAN of p into c */

static int gen_names(Cert *c, const struct tls_gen_params *p, bool request, const char **why)
{
    const struct tls_gen_subject *s = p->subject;

    if (p->like != NULL) {
        if (wc_SetSubjectRaw(c, p->like, (int)p->like_len) != 0
            || (!request && wc_SetIssuerRaw(c, p->like, (int)p->like_len) != 0))
            return tls__gen_fail(why, "the subject of the certificate cannot be copied");
        if (wc_SetAltNamesBuffer(c, p->like, (int)p->like_len) != 0)
            c->altNamesSz = 0;          /* it has none */
        return 0;
    }
    if (p->ndomains > 0 && gen_san(c, p->domains, p->ndomains, why) < 0)
        return TLS_GEN_ERROR;
    if (s == NULL) {
        if (p->ndomains == 0)
            return tls__gen_fail(why, "no domain and no subject");
        if (strlen(p->domains[0]) > TLS_GEN_ATTR_MAX)
            return tls__gen_fail(why, "%s is too long for a CN (at most %d bytes): "
                                 "give --subject", p->domains[0], TLS_GEN_ATTR_MAX);
        strcpy(c->subject.commonName, p->domains[0]);
        return 0;
    }
    if (!s->c[0] && !s->st[0] && !s->l[0] && !s->o[0] && !s->ou[0] && !s->cn[0] && !s->email[0])
        return tls__gen_fail(why, "empty subject");
    strcpy(c->subject.country, s->c);
    strcpy(c->subject.state, s->st);
    strcpy(c->subject.locality, s->l);
    strcpy(c->subject.org, s->o);
    strcpy(c->subject.unit, s->ou);
    strcpy(c->subject.commonName, s->cn);
    strcpy(c->subject.email, s->email);
    return 0;
}

/* gen_make - a self-signed certificate or a request, as PEM */

static int gen_make(const struct tls_gen_params *p, const unsigned char *key, size_t key_len,
                    bool request, struct tls_gen_buf *out, const char **why)
{
    Cert   *c = xcalloc(1, sizeof(*c));
    unsigned char *der = xmalloc(GEN_DER_MAX);
    struct tls__gen_key k;
    void   *kp;
    WC_RNG  rng;
    bool    have_rng = false;
    int     rc, n;

    out->data = NULL;
    out->len = 0;
    if ((rc = tls__gen_key_load(key, key_len, NULL, &k, why)) != TLS_GEN_OK)
        goto out;
    rc = TLS_GEN_ERROR;
    kp = k.type == RSA_TYPE ? (void *)&k.rsa : (void *)&k.ecc;
    if (wc_InitRng(&rng) != 0) {
        tls__gen_fail(why, "the random number generator cannot start");
        goto out;
    }
    have_rng = true;
    wc_InitCert(c);
    c->sigType = k.type == RSA_TYPE ? CTC_SHA256wRSA : CTC_SHA256wECDSA;
    if (gen_names(c, p, request, why) < 0)
        goto out;
    if (wc_SetKeyUsage(c, k.type == RSA_TYPE ? "digitalSignature,keyEncipherment"
                       : "digitalSignature") != 0
        || wc_SetExtKeyUsage(c, "serverAuth,clientAuth") != 0) {
        tls__gen_fail(why, "key usage cannot be set");
        goto out;
    }
    if (request) {
        c->version = 0;                 /* PKCS#10 v1 (wc_InitCert says v3) */
        n = wc_MakeCertReq_ex(c, der, GEN_DER_MAX, k.type, kp);
    } else {
        if (p->days < 1 || p->days > GEN_MAX_DAYS) {
            tls__gen_fail(why, "the validity must be 1 to %d days", GEN_MAX_DAYS);
            goto out;
        }
        c->isCA = 0;
        c->basicConstSet = 1;           /* write "CA:FALSE" */
        c->selfSigned = 1;
        if (wc_RNG_GenerateBlock(&rng, c->serial, 16) != 0) {
            tls__gen_fail(why, "no random serial number");
            goto out;
        }
        c->serial[0] &= 0x7f;           /* positive, and exactly 16 bytes */
        if (c->serial[0] == 0)
            c->serial[0] = 0x01;
        c->serialSz = 16;
        c->beforeDateSz = gen_time(c->beforeDate, p->now - 3600);
        c->afterDateSz = gen_time(c->afterDate, p->now + (int64_t)p->days * 86400);
        if (c->beforeDateSz < 0 || c->afterDateSz < 0) {
            tls__gen_fail(why, "the validity dates cannot be encoded");
            goto out;
        }
        if (wc_SetSubjectKeyIdFromPublicKey_ex(c, k.type, kp) != 0) {
            tls__gen_fail(why, "subject key identifier cannot be set");
            goto out;
        }
        n = wc_MakeCert_ex(c, der, GEN_DER_MAX, k.type, kp, &rng);
    }
    if (n > 0)
        n = wc_SignCert_ex(c->bodySz, c->sigType, der, GEN_DER_MAX, k.type, kp, &rng);
    if (n <= 0) {
        tls__gen_fail(why, "%s cannot be made: %s (%d)",
                      request ? "the request" : "the certificate", wc_GetErrorString(n), n);
        goto out;
    }
    if (tls__gen_pem(der, (size_t)n, request ? CERTREQ_TYPE : CERT_TYPE, out) < 0) {
        tls__gen_fail(why, "PEM encoding failed");
        goto out;
    }
    rc = TLS_GEN_OK;
out:
    tls__gen_key_free(&k);
    if (have_rng)
        wc_FreeRng(&rng);
    free(der);
    free(c);
    return rc;
}

/* tls_gen_self_signed - a new self-signed certificate */

int tls_gen_self_signed(const struct tls_gen_params *p, const unsigned char *key,
                        size_t key_len, struct tls_gen_buf *cert, const char **why)
{
    return gen_make(p, key, key_len, false, cert, why);
}

/* tls_gen_request - a new PKCS#10 request */

int tls_gen_request(const struct tls_gen_params *p, const unsigned char *key, size_t key_len,
                    struct tls_gen_buf *csr, const char **why)
{
    return gen_make(p, key, key_len, true, csr, why);
}

/* tls_gen_request_info - subject and names of a request */

int tls_gen_request_info(const unsigned char *csr, size_t len,
                         struct tls_gen_request_info *out, const char **why)
{
    unsigned char *der = xmalloc(len + 1);
    int     der_len = (int)len, rc = TLS_GEN_ERROR;
    DecodedCert dc;
    WOLFSSL_X509 *x = NULL;
    WOLFSSL_BIO *bio = NULL;

    memset(out, 0, sizeof(*out));
    if (memmem(csr, len, "-----BEGIN", 10) != NULL)
        der_len = wc_CertPemToDer(csr, (int)len, der, (int)len, CERTREQ_TYPE);
    else
        memcpy(der, csr, len);
    if (der_len <= 0) {
        free(der);
        return tls__gen_fail(why, "no certificate request in the file");
    }
    wolfSSL_Init();
    wc_InitDecodedCert(&dc, der, (word32)der_len, NULL);
    if (wc_ParseCert(&dc, CERTREQ_TYPE, NO_VERIFY, NULL) != 0
        || (x = wolfSSL_X509_REQ_d2i(NULL, der, der_len)) == NULL) {
        tls__gen_fail(why, "the certificate request cannot be parsed");
        goto out;
    }
    for (DNS_entry *a = dc.altNames; a != NULL; a = a->next) {
        if (a->type != ASN_DNS_TYPE || a->name == NULL)
            continue;
        out->names = xrealloc(out->names, (out->nnames + 1) * sizeof(*out->names));
        out->names[out->nnames++] = xstrdup(a->name);
    }
    if ((bio = wolfSSL_BIO_new(wolfSSL_BIO_s_mem())) != NULL
        && wolfSSL_X509_NAME_print_ex(bio, wolfSSL_X509_get_subject_name(x), 0,
                                      XN_FLAG_RFC2253) == WOLFSSL_SUCCESS) {
        char   *text = NULL;
        long    n = wolfSSL_BIO_get_mem_data(bio, &text);

        if (n > 0 && text != NULL)      /* not NUL-terminated */
            snprintf(out->subject, sizeof(out->subject), "%.*s", (int)n, text);
    }
    rc = TLS_GEN_OK;
out:
    if (bio != NULL)
        wolfSSL_BIO_free(bio);
    if (x != NULL)
        wolfSSL_X509_free(x);
    wc_FreeDecodedCert(&dc);
    wolfSSL_Cleanup();
    free(der);
    if (rc != TLS_GEN_OK)
        tls_gen_request_info_free(out);
    return rc;
}

/* tls_gen_request_info_free - release the names */

void tls_gen_request_info_free(struct tls_gen_request_info *ri)
{
    for (size_t i = 0; i < ri->nnames; i++)
        free(ri->names[i]);
    free(ri->names);
    memset(ri, 0, sizeof(*ri));
}

/* tls_gen_cert_key_id - the key id of a certificate's public key */

int tls_gen_cert_key_id(const unsigned char *der, size_t len, char id[41])
{
    unsigned char spki[GEN_SPKI_MAX];
    int     n = (int)sizeof(spki), rc = -1;
    WOLFSSL_X509 *x;

    wolfSSL_Init();
    if ((x = wolfSSL_X509_d2i(NULL, der, (int)len)) != NULL) {
        if (wolfSSL_X509_get_pubkey_buffer(x, spki, &n) == WOLFSSL_SUCCESS && n > 0)
            rc = gen_sha1_hex(spki, (size_t)n, id);
        wolfSSL_X509_free(x);
    }
    wolfSSL_Cleanup();
    return rc;
}
