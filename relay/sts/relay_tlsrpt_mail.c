/*
 * relay_tlsrpt_mail.c - a report on its way: gzip'd (RFC 8460 5.1), the
 * _smtp._tls TXT record's rua (RFC 8460 3), and the report mail (RFC 8460
 * 5.3: multipart/report; report-type="tlsrpt").
 *
 * CONTRACT
 *  Pure: no I/O, no globals, no callbacks.  Inputs are borrowed for the
 *  call; results are owned by the caller (free()).  Allocation failure
 *  aborts (x-allocators); zlib failing on memory is log_panic.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <zlib.h>

#include "log.h"
#include "relay_tlsrpt_int.h"

/* relay_tlsrpt_gzip - p[0..n) as a gzip file (xmalloc'ed, *outlen bytes) */

unsigned char *relay_tlsrpt_gzip(const void *p, size_t n, size_t *outlen)
{
    z_stream z = { 0 };
    size_t cap = n + n / 1000 + 64;     /* deflateBound's margin and the gzip header */
    unsigned char *out;

    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)   /* +16: gzip */
        log_panic("tlsrpt", "deflateInit2 failed");
    cap = deflateBound(&z, n) + 32;
    out = xmalloc(cap);
    z.next_in = (unsigned char *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        log_panic("tlsrpt", "deflate did not finish in its bound");
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

#define TLSRPT_MAX_URIS     5           /* rua URIs used of one record, at most */
#define TLSRPT_MAX_URI      2048        /* bytes of one */

/* tlsrpt_hex - value of hex digit c, or -1 */

static int tlsrpt_hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* tlsrpt_mailto - "mailto:" + the address of a mailto: URI s[0..n) (RFC 6068:
 * hfields after '?' dropped, %XX decoded), xmalloc'ed; NULL unless the
 * address is LOCAL@DOMAIN with a printable local part (no specials, no
 * spaces) and a host name as domain */

static char *tlsrpt_mailto(const char *s, size_t n)
{
    size_t end = strcspn(s, "?"), k = 7;
    char *out = xmalloc(n + 1), *at;
    bool ok = true;

    if (end > n)
        end = n;
    memcpy(out, s, 7);
    for (size_t i = 7; i < end; i++) {
        int c = (unsigned char)s[i];

        if (c == '%' && i + 2 < end && tlsrpt_hex(s[i + 1]) >= 0 && tlsrpt_hex(s[i + 2]) >= 0) {
            c = tlsrpt_hex(s[i + 1]) << 4 | tlsrpt_hex(s[i + 2]);
            i += 2;
        }
        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c) != NULL)
            ok = false;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    at = strrchr(out + 7, '@');
    if (!ok || at == NULL || at == out + 7 || strchr(out + 7, '@') != at || at[1] == '\0'
        || at[1] == '.' || at[1] == '-')
        ok = false;
    for (const char *d = at ? at + 1 : ""; ok && *d != '\0'; d++)
        if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') || (*d >= '0' && *d <= '9')
              || *d == '-' || (*d == '.' && d[1] != '.' && d[1] != '\0')))
            ok = false;
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* tlsrpt_https_ok - an https: URI s[0..n) we POST to: no userinfo, a host */

static bool tlsrpt_https_ok(const char *s, size_t n)
{
    size_t auth = strcspn(s + 8, "/?#");

    if (auth > n - 8)
        auth = n - 8;
    return auth > 0 && memchr(s + 8, '@', auth) == NULL && s[8] != ':';
}

/* relay_tlsrpt_rua - the rua URIs of the _smtp._tls TXT records txt[0..n):
 * RFC 8460 3: only records starting "v=TLSRPTv1", exactly one of them, its
 * rua= field split at commas.  A URI is used only if made of 0x21-0x7e,
 * at most TLSRPT_MAX_URI bytes, and a mailto: with one plain address (its
 * hfields dropped, %XX decoded: "mailto:ADDRESS" is returned) or an
 * https: without userinfo; the first TLSRPT_MAX_URIS of them (a hostile
 * record cannot make us mail many third parties).  The URIs (each
 * xmalloc'ed) in a NULL-terminated array, or NULL with *why. */

char **relay_tlsrpt_rua(const char *const *txt, size_t n, const char **why)
{
    const char *rec = NULL, *p;
    size_t found = 0, nuri = 0;
    char **uris;

    for (size_t i = 0; i < n; i++)
        if (strncmp(txt[i], "v=TLSRPTv1", 10) == 0 && (txt[i][10] == ';' || txt[i][10] == ' '
                                                       || txt[i][10] == '\0')) {
            rec = txt[i];
            found++;
        }
    if (found != 1) {
        *why = found == 0 ? "no v=TLSRPTv1 record" : "more than one v=TLSRPTv1 record";
        return NULL;
    }
    uris = xcalloc(TLSRPT_MAX_URIS + 1, sizeof(*uris));
    for (p = rec + 10; *p != '\0';) {
        size_t len = strcspn(p, ";");
        const char *f = p;

        while (f < p + len && (*f == ' ' || *f == '\t'))
            f++;
        if (p + len - f > 4 && strncasecmp(f, "rua=", 4) == 0) {
            for (const char *u = f + 4; u < p + len && nuri < TLSRPT_MAX_URIS;) {
                size_t ulen = strcspn(u, ",;");
                const char *s = u, *e;

                if (u + ulen > p + len)
                    ulen = (size_t)(p + len - u);
                e = u + ulen;
                while (s < e && (*s == ' ' || *s == '\t'))
                    s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                    e--;
                bool clean = e - s <= TLSRPT_MAX_URI;

                for (const char *c = s; clean && c < e; c++)
                    clean = *c > 0x20 && *c < 0x7f;
                if (clean && e - s > 7 && strncasecmp(s, "mailto:", 7) == 0)
                    uris[nuri] = tlsrpt_mailto(s, (size_t)(e - s));
                else if (clean && e - s > 8 && strncasecmp(s, "https://", 8) == 0
                         && tlsrpt_https_ok(s, (size_t)(e - s)))
                    uris[nuri] = xstrndup(s, (size_t)(e - s));
                if (uris[nuri] != NULL)
                    nuri++;
                u += ulen + (u[ulen] == ',');
            }
        }
        p += len + (p[len] == ';');
    }
    if (nuri == 0) {
        free(uris);
        *why = "no usable mailto: or https: rua";
        return NULL;
    }
    return uris;
}

/* relay__tlsrpt_addr_private - a is loopback, unspecified, link-local, private (RFC 1918,
 * RFC 4193), shared (RFC 6598) or an IPv4-mapped one of those */

bool relay__tlsrpt_addr_private(const struct sockaddr_storage *a)
{
    uint32_t v4;

    if (a->ss_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (memcmp(b, mapped, 12) != 0)
            return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)b)
                   || IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)b)
                   || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || (b[0] & 0xfe) == 0xfc;
        v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    } else if (a->ss_family == AF_INET) {
        v4 = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
    } else {
        return true;
    }
    return (v4 >> 24) == 127 || (v4 >> 24) == 0 || (v4 >> 24) == 10 || (v4 >> 16) == 0xa9fe
           || (v4 >> 20) == 0xac1 || (v4 >> 16) == 0xc0a8 || (v4 >> 22) == (0x64400000u >> 22);
}

/* relay_tlsrpt_rua_free - free what relay_tlsrpt_rua returned (NULL allowed) */

void relay_tlsrpt_rua_free(char **uris)
{
    for (size_t i = 0; uris != NULL && uris[i] != NULL; i++)
        free(uris[i]);
    free(uris);
}

/* relay_tlsrpt_file_name - RFC 8460 5.1:
 * submitter!policy-domain!begin-timestamp!end-timestamp!unique-id.json.gz */

char *relay_tlsrpt_file_name(const char *submitter, const char *domain, int64_t start,
                             const char *unique)
{
    return xasprintf("%s!%s!%lld!%lld!%s.json.gz", submitter, domain, (long long)start,
                     (long long)(start + 86399), unique);
}

/* tlsrpt_base64 - MIME base64 of p[0..n), CRLF every 76 characters */

static char *tlsrpt_base64(const unsigned char *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t quads = (n + 2) / 3;
    char *out = xmalloc(quads * 4 + (quads / 19 + 1) * 2 + 1), *o = out;

    for (size_t i = 0, q = 0; i < n; i += 3, q++) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0)
                     | (i + 2 < n ? p[i + 2] : 0);

        if (q > 0 && q % 19 == 0) {      /* 19 quads = 76 characters */
            *o++ = '\r';
            *o++ = '\n';
        }
        *o++ = al[v >> 18 & 63];
        *o++ = al[v >> 12 & 63];
        *o++ = i + 1 < n ? al[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? al[v & 63] : '=';
    }
    *o++ = '\r';
    *o++ = '\n';
    *o = '\0';
    return out;
}

/* relay_tlsrpt_mail - the report mail of RFC 8460 5.3 (CRLF lines, 7-bit) */

char *relay_tlsrpt_mail(const struct relay_tlsrpt_mail_in *in, size_t *len)
{
    time_t now = (time_t)in->now;
    struct tm tm;
    char date[64], *b64, *name, *mail;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    b64 = tlsrpt_base64(in->gz, in->gzlen);
    name = relay_tlsrpt_file_name(in->submitter, in->domain, in->start, in->unique);
    mail = xasprintf(
        "From: <%s>\r\n"
        "To: <%s>\r\n"
        "Date: %s\r\n"
        "Subject: Report Domain: %s\r\n Submitter: %s\r\n Report-ID: <%s>\r\n"
        "Message-ID: <%s.%s>\r\n"
        "TLS-Report-Domain: %s\r\n"
        "TLS-Report-Submitter: %s\r\n"
        "TLS-Required: No\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
        "\tboundary=\"=_tlsrpt_%s\"\r\n"
        "\r\n"
        "This is a multipart message in MIME format.\r\n"
        "\r\n"
        "--=_tlsrpt_%s\r\n"
        "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "This is an aggregate TLS report (RFC 8460) from %s\r\n"
        "for the policy domain %s, %s.\r\n"
        "\r\n"
        "--=_tlsrpt_%s\r\n"
        "Content-Type: application/tlsrpt+gzip\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment;\r\n"
        "\tfilename=\"%s\"\r\n"
        "\r\n"
        "%s"
        "\r\n"
        "--=_tlsrpt_%s--\r\n",
        in->sender, in->rcpt, date, in->domain, in->submitter, in->report_id, in->unique,
        in->report_id, in->domain, in->submitter, in->unique, in->unique, in->submitter, in->domain,
        in->day, in->unique, name, b64, in->unique);
    free(b64);
    free(name);
    *len = strlen(mail);
    return mail;
}
