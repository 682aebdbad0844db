/*
 * tls_crl_der.c - the DER walk of certificates and CRLs, for tls_crl.c.
 *
 * CONTRACT
 *  Our own reading of the fields tls_crl.c needs: a certificate's serial,
 *  names, key and extensions; a CRL's TBSCertList (issuer, thisUpdate,
 *  nextUpdate, the revoked list and its length, cRLNumber); one serial's
 *  revocation date and reason; and a certificate's http CRL distribution
 *  points (the public tls_crl_cdp_urls()).  wolfSSL is used only for
 *  SHA-1; it refuses to load a stale CRL at all (ASN_PARSE_E), so it cannot
 *  tell us a CRL's dates.
 *
 *  The caller owns the DER; every struct tls__der_view filled in here
 *  points into it (nothing is copied or allocated) and is valid as long as
 *  those bytes are.  Parsers return false, or tls__crl_parse() a static
 *  reason text, for input they cannot read; they never read outside the
 *  given length.  Delta CRLs are refused; unknown extensions are ignored.
 *  Everything is reentrant; there are no callbacks and nothing to cancel.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tls_crl.h"
#include "tls_internal.h"

_Static_assert(sizeof(((struct tls__crl_cert *)0)->sha1) == WC_SHA_DIGEST_SIZE,
               "tls__crl_cert.sha1 holds a SHA-1");

/* der_take - consume the next element (any tag if tag < 0): content, whole */

static bool der_take(struct tls__der_view *in, int tag, struct tls__der_view *val,
                     struct tls__der_view *tlv)
{
    size_t  hl = 2, n;

    if (in->len < 2 || (tag >= 0 && in->p[0] != tag) || (in->p[0] & 0x1f) == 0x1f)
        return false;
    n = in->p[1];
    if (n & 0x80) {
        size_t  k = n & 0x7f;

        if (k == 0 || k > 4 || in->len < 2 + k)
            return false;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = (n << 8) | in->p[2 + i];
        hl += k;
    }
    if (n > in->len - hl)
        return false;
    if (val != NULL)
        *val = (struct tls__der_view){in->p + hl, n};
    if (tlv != NULL)
        *tlv = (struct tls__der_view){in->p, hl + n};
    in->p += hl + n;
    in->len -= hl + n;
    return true;
}

/* der_peek - the tag of the next element, or -1 */

static int der_peek(const struct tls__der_view *in)
{
    return in->len >= 2 ? in->p[0] : -1;
}

/* tls__der_eq - same bytes */

bool tls__der_eq(struct tls__der_view a, struct tls__der_view b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* der_time - consume a UTCTime or GeneralizedTime ("...Z") as unix seconds */

static bool der_time(struct tls__der_view *in, int64_t *out)
{
    struct tls__der_view v;
    struct tm tm;
    int     d[7] = {0};
    size_t  ylen = der_peek(in) == 0x17 ? 2 : 4, pos = 0;

    if ((der_peek(in) != 0x17 && der_peek(in) != 0x18) || !der_take(in, -1, &v, NULL)
        || v.len != ylen + 11 || v.p[v.len - 1] != 'Z')
        return false;
    for (int f = 0; f < 6; f++)
        for (size_t k = 0; k < (f == 0 ? ylen : 2); k++, pos++) {
            if (v.p[pos] < '0' || v.p[pos] > '9')
                return false;
            d[f] = d[f] * 10 + (v.p[pos] - '0');
        }
    if (ylen == 2)
        d[0] += d[0] < 50 ? 2000 : 1900;        /* RFC 5280 4.1.2.5.1 */
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = d[0] - 1900;
    tm.tm_mon = d[1] - 1;
    tm.tm_mday = d[2];
    tm.tm_hour = d[3];
    tm.tm_min = d[4];
    tm.tm_sec = d[5];
    *out = (int64_t)timegm(&tm);
    return true;
}

/* der_ext - the extnValue content of extension 2.5.29.id in an Extensions list */

static bool der_ext(struct tls__der_view exts, unsigned char id, struct tls__der_view *value)
{
    struct tls__der_view e, oid;

    while (der_take(&exts, 0x30, &e, NULL)) {
        if (!der_take(&e, 0x06, &oid, NULL))
            return false;
        if (oid.len == 3 && oid.p[0] == 0x55 && oid.p[1] == 0x1d && oid.p[2] == id) {
            der_take(&e, 0x01, NULL, NULL);     /* critical */
            return der_take(&e, 0x04, value, NULL);
        }
    }
    return false;
}

/* der_unsigned - an INTEGER's content without leading zero bytes */

static struct tls__der_view der_unsigned(struct tls__der_view v)
{
    while (v.len > 1 && v.p[0] == 0) {
        v.p++;
        v.len--;
    }
    return v;
}

/* der_decimal - a non-negative INTEGER in decimal ("" if negative or huge) */

static void der_decimal(struct tls__der_view v, char *out, size_t sz)
{
    unsigned char n[32];
    char    digits[80];
    size_t  nd = 0;
    bool    more;

    out[0] = '\0';
    v = der_unsigned(v);
    if (v.len == 0 || v.len > sizeof(n) || (v.p[0] & 0x80))
        return;
    memcpy(n, v.p, v.len);
    do {                                /* long division by 10 */
        unsigned rem = 0;

        more = false;
        for (size_t i = 0; i < v.len; i++) {
            unsigned cur = rem * 256 + n[i];

            n[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
            more |= n[i] != 0;
        }
        digits[nd++] = (char)('0' + rem);
    } while (more && nd < sizeof(digits));
    for (size_t i = 0; i < nd && i + 1 < sz; i++)
        out[i] = digits[nd - 1 - i], out[i + 1] = '\0';
}

/* tls__der_int_hex - uppercase hex of an INTEGER's magnitude, as openssl prints serials */

void tls__der_int_hex(struct tls__der_view v, char *out, size_t sz)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t  o = 0;

    v = der_unsigned(v);
    for (size_t i = 0; i < v.len && o + 2 < sz; i++) {
        out[o++] = digits[v.p[i] >> 4];
        out[o++] = digits[v.p[i] & 15];
    }
    out[o] = '\0';
}

/* tls__crl_cert_parse - the fields of a DER certificate that the walk needs */

bool tls__crl_cert_parse(const unsigned char *der, size_t len, struct tls__crl_cert *c)
{
    struct tls__der_view in = {der, len}, cert, tbs, v;

    memset(c, 0, sizeof(*c));
    c->der = der;
    c->len = len;
    if (der == NULL || len == 0 || len > UINT32_MAX || !der_take(&in, 0x30, &cert, NULL)
        || in.len != 0 || !der_take(&cert, 0x30, &tbs, NULL))
        return false;
    der_take(&tbs, 0xa0, NULL, NULL);   /* version */
    if (!der_take(&tbs, 0x02, &c->serial, NULL) || !der_take(&tbs, 0x30, NULL, NULL)
        || !der_take(&tbs, 0x30, NULL, &c->issuer) || !der_take(&tbs, 0x30, NULL, NULL)
        || !der_take(&tbs, 0x30, NULL, &c->subject) || !der_take(&tbs, 0x30, NULL, &c->spki))
        return false;
    der_take(&tbs, 0x81, NULL, NULL);   /* issuerUniqueID */
    der_take(&tbs, 0x82, NULL, NULL);   /* subjectUniqueID */
    if (der_take(&tbs, 0xa3, &v, NULL) && !der_take(&v, 0x30, &c->exts, NULL))
        return false;
    return wc_ShaHash(der, (word32)len, c->sha1) == 0;
}

/* tls__crl_parse - the TBSCertList fields of a DER CRL; NULL, or why it is not usable */

const char *tls__crl_parse(const unsigned char *der, size_t len, struct tls__crl_tbs *t)
{
    struct tls__der_view in = {der, len}, list, tbs, v, exts, ext, entry, rev;

    memset(t, 0, sizeof(*t));
    if (!der_take(&in, 0x30, &list, NULL) || in.len != 0 || !der_take(&list, 0x30, &tbs, NULL))
        return "not a DER CRL";
    if (der_peek(&tbs) == 0x02)
        der_take(&tbs, 0x02, NULL, NULL);       /* version */
    if (!der_take(&tbs, 0x30, NULL, NULL) || !der_take(&tbs, 0x30, NULL, &t->issuer))
        return "not a DER CRL";
    if (!der_time(&tbs, &t->this_update))
        return "unreadable thisUpdate";
    if ((der_peek(&tbs) == 0x17 || der_peek(&tbs) == 0x18) && !der_time(&tbs, &t->next_update))
        return "unreadable nextUpdate";
    if (der_peek(&tbs) == 0x30) {
        der_take(&tbs, 0x30, &t->revoked, NULL);
        for (rev = t->revoked; rev.len > 0; t->entries++)
            if (!der_take(&rev, 0x30, &entry, NULL) || !der_take(&entry, 0x02, NULL, NULL))
                return "damaged list of revoked certificates";
    }
    if (der_take(&tbs, 0xa0, &v, NULL)) {
        if (!der_take(&v, 0x30, &exts, NULL))
            return "damaged CRL extensions";
        if (der_ext(exts, 0x1b, &ext))
            return "a delta CRL (not supported)";
        if (der_ext(exts, 0x14, &ext) && der_take(&ext, 0x02, &v, NULL))
            der_decimal(v, t->number, sizeof(t->number));
    }
    if (tbs.len != 0 || !der_take(&list, 0x30, NULL, NULL) || !der_take(&list, 0x03, NULL, NULL)
        || list.len != 0)
        return "not a DER CRL";
    return NULL;
}

/* tls__crl_find_serial - revocation date and reason code of serial in t, if listed */

bool tls__crl_find_serial(const struct tls__crl_tbs *t, struct tls__der_view serial,
                          int64_t *when, int *reason)
{
    struct tls__der_view rev = t->revoked, entry, s, exts, ext, v;

    serial = der_unsigned(serial);
    while (der_take(&rev, 0x30, &entry, NULL)) {
        if (!der_take(&entry, 0x02, &s, NULL) || !tls__der_eq(der_unsigned(s), serial))
            continue;
        *reason = -1;
        if (!der_time(&entry, when))
            *when = 0;
        if (der_take(&entry, 0x30, &exts, NULL) && der_ext(exts, 0x15, &ext)
            && der_take(&ext, 0x0a, &v, NULL) && v.len == 1)
            *reason = v.p[0];
        return true;
    }
    return false;
}

/* tls_crl_cdp_urls - the http CRL distribution points of a certificate */

void tls_crl_cdp_urls(const unsigned char *der, size_t len, char *buf, size_t sz)
{
    struct tls__crl_cert c;
    struct tls__der_view v, dps, dp, name, names, uri, tlv;
    size_t  pos = 0;

    if (sz == 0)
        return;
    buf[0] = '\0';
    if (!tls__crl_cert_parse(der, len, &c) || !der_ext(c.exts, 0x1f, &v)
        || !der_take(&v, 0x30, &dps, NULL))
        return;
    while (der_take(&dps, 0x30, &dp, NULL)) {
        /* distributionPoint [0] { fullName [0] GeneralNames } */
        if (!der_take(&dp, 0xa0, &name, NULL) || !der_take(&name, 0xa0, &names, NULL))
            continue;
        while (der_take(&names, -1, &uri, &tlv)) {
            if (tlv.p[0] != 0x86 || uri.len < 8 || strncasecmp((const char *)uri.p, "http://", 7)
                || memchr(uri.p, ' ', uri.len) || memchr(uri.p, '\0', uri.len))
                continue;               /* uniformResourceIdentifier, http only */
            if (pos + (pos > 0) + uri.len >= sz)
                return;                 /* whole URLs only */
            pos += (size_t)snprintf(buf + pos, sz - pos, "%s%.*s", pos > 0 ? " " : "",
                                    (int)uri.len, (const char *)uri.p);
        }
    }
}
