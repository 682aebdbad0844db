/*
 * policy_value.c - parse and print single configuration values.
 *
 * CONTRACT
 *  Pure functions: no I/O, no globals, thread-safe.  The input string is
 *  not modified or kept; it is the whole value (the loader strips the
 *  white space around it).  Every parser returns 0 and fills *out, or -1
 *  with *why set to a static phrase that completes a sentence after the
 *  quoted value ("is not a size (use B, KB, MB, GB)"); on -1 *out is
 *  unspecified and nothing was allocated.  Only policy_parse_binding and
 *  policy_parse_smarthost allocate (out->text, out->host, via xstrdup);
 *  the caller owns that string.  Units and keywords are case-insensitive.
 *  Formatters always NUL-terminate and truncate to bufsz.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "policy_internal.h"

#define MS_SECOND   1000ULL
#define MS_MINUTE   (60 * MS_SECOND)
#define MS_HOUR     (60 * MS_MINUTE)
#define MS_DAY      (24 * MS_HOUR)

struct unit {
    const char *name;
    uint64_t mult;
};

/* Binary units; the bare number means bytes. */
static const struct unit size_units[] = {
    {"", 1}, {"b", 1}, {"kb", 1ULL << 10}, {"mb", 1ULL << 20}, {"gb", 1ULL << 30},
    {NULL, 0}
};

/* A bare number means seconds. */
static const struct unit duration_units[] = {
    {"", MS_SECOND}, {"ms", 1}, {"s", MS_SECOND}, {"m", MS_MINUTE},
    {"h", MS_HOUR}, {"d", MS_DAY}, {NULL, 0}
};

/* parse_digits - unsigned decimal at *p, advancing it; -1 on none or overflow */

static int parse_digits(const char **p, uint64_t *out, int *ndigits)
{
    uint64_t n = 0;
    int nd = 0;

    while (isdigit((unsigned char)**p)) {
        unsigned d = (unsigned)(**p - '0');

        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
        (*p)++;
        nd++;
    }
    if (ndigits)
        *ndigits = nd;
    *out = n;
    return nd > 0 ? 0 : -1;
}

/* parse_with_unit - "NUMBER [UNIT]" against a unit table */

static int parse_with_unit(const char *s, const struct unit *units, uint64_t *out,
                           const char **why, const char *bad)
{
    const char *p = s;
    uint64_t n;
    const struct unit *u;

    if (!isdigit((unsigned char)*p)) {
        *why = bad;
        return -1;
    }
    if (parse_digits(&p, &n, NULL) < 0) {
        *why = "is too large";
        return -1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    for (u = units; u->name; u++)
        if (strcasecmp(p, u->name) == 0)
            break;
    if (u->name == NULL) {
        *why = bad;
        return -1;
    }
    if (n > UINT64_MAX / u->mult) {
        *why = "is too large";
        return -1;
    }
    *out = n * u->mult;
    return 0;
}

/* policy_parse_size - "36MB", "10KB", "1GB", "512B", "65536" */

int policy_parse_size(const char *s, uint64_t *out, const char **why)
{
    return parse_with_unit(s, size_units, out, why,
                           "is not a size (use B, KB, MB, GB)");
}

/* parse_timespan - Exchange TimeSpan "[d.]hh:mm:ss[.fffffff]" */

static int parse_timespan(const char *s, uint64_t *out, const char **why)
{
    const char *p = s;
    uint64_t days = 0, h, m, sec, frac = 0;
    int nd;

    *why = "is not a duration (use [d.]hh:mm:ss)";
    if (parse_digits(&p, &h, &nd) < 0)
        return -1;
    if (*p == '.') {
        days = h;
        p++;
        if (parse_digits(&p, &h, &nd) < 0)
            return -1;
    }
    if (nd > 2 || *p++ != ':')
        return -1;
    if (parse_digits(&p, &m, &nd) < 0 || nd > 2 || *p++ != ':')
        return -1;
    if (parse_digits(&p, &sec, &nd) < 0 || nd > 2)
        return -1;
    if (*p == '.') {
        const char *f = ++p;

        if (parse_digits(&p, &frac, &nd) < 0 || nd > 7)
            return -1;
        /* Keep milliseconds: the first three fraction digits. */
        frac = 0;
        for (int i = 0; i < 3; i++)
            frac = frac * 10 + (i < nd ? (uint64_t)(f[i] - '0') : 0);
    }
    if (*p != '\0')
        return -1;
    if (h > 23 || m > 59 || sec > 59) {
        *why = "is not a duration (hours 0-23, minutes and seconds 0-59)";
        return -1;
    }
    if (days > (UINT64_MAX - MS_DAY) / MS_DAY) {
        *why = "is too large";
        return -1;
    }
    *out = days * MS_DAY + h * MS_HOUR + m * MS_MINUTE + sec * MS_SECOND + frac;
    return 0;
}

/* policy_parse_duration - "30s", "5m", "4h", "2d", "500ms", "30", "00:05:00" */

int policy_parse_duration(const char *s, uint64_t *out_ms, const char **why)
{
    if (strchr(s, ':'))
        return parse_timespan(s, out_ms, why);
    return parse_with_unit(s, duration_units, out_ms, why,
                           "is not a duration (use ms, s, m, h, d or [d.]hh:mm:ss)");
}

/* policy_parse_bool - yes/no, true/false, on/off, 1/0, $true/$false */

int policy_parse_bool(const char *s, bool *out, const char **why)
{
    static const char *const yes[] = {"yes", "true", "on", "1", "$true", NULL};
    static const char *const no[] = {"no", "false", "off", "0", "$false", NULL};

    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    *why = "is not a boolean (use yes or no)";
    return -1;
}

/* policy_parse_domain - LDH domain name, lower-cased, trailing dot stripped */

int policy_parse_domain(const char *s, char *out, size_t outsz, const char **why)
{
    size_t len = strlen(s), label = 0;
    struct in_addr a4;
    const char *last;

    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0) {
        *why = "is not a domain name (empty)";
        return -1;
    }
    if (strchr(s, '*')) {
        *why = "is not a domain name (wildcards are not supported)";
        return -1;
    }
    if (s[0] == '[' || strchr(s, ':') || inet_pton(AF_INET, s, &a4) == 1) {
        *why = "is not a domain name (IP literals are not supported)";
        return -1;
    }
    if (len > 253 || len >= outsz) {
        *why = "is not a domain name (longer than 253 characters)";
        return -1;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63) {
                *why = "is not a domain name (labels must have 1 to 63 characters)";
                return -1;
            }
            if (s[i - 1] == '-') {
                *why = "is not a domain name (a label ends with '-')";
                return -1;
            }
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-') {
            if (label == 0 && c == '-') {
                *why = "is not a domain name (a label starts with '-')";
                return -1;
            }
            label++;
        } else {
            *why = "is not a domain name (letters, digits, '-' and '.' only)";
            return -1;
        }
        out[i] = (char)tolower((unsigned char)c);
    }
    out[len] = '\0';
    /* A numeric top-level label would make "10.1.1" look like a name. */
    last = strrchr(out, '.');
    last = last ? last + 1 : out;
    if (strspn(last, "0123456789") == strlen(last)) {
        *why = "is not a domain name (IP literals are not supported)";
        return -1;
    }
    return 0;
}

/* parse_port - "1".."65535" */

static int parse_port(const char *s, int *port)
{
    uint64_t n;

    if (parse_digits(&s, &n, NULL) < 0 || *s != '\0' || n < 1 || n > 65535)
        return -1;
    *port = (int)n;
    return 0;
}

/* split_hostport - "[a]:p" / "a:p" / "a" into host and port text; -1 if malformed */

static int split_hostport(const char *s, char *host, size_t hostsz,
                          const char **port, bool *bracketed)
{
    const char *end, *colon;
    size_t n;

    *port = NULL;
    *bracketed = (s[0] == '[');
    if (*bracketed) {
        if ((end = strchr(s, ']')) == NULL)
            return -1;
        n = (size_t)(end - s - 1);
        if (n >= hostsz)
            return -1;
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (end[1] == ':')
            *port = end + 2;
        else if (end[1] != '\0')
            return -1;
        return 0;
    }
    colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':'))
        return -1;                      /* bare IPv6: needs brackets */
    n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= hostsz)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (colon)
        *port = colon + 1;
    return 0;
}

/* policy_parse_binding - "0.0.0.0:25", "[::]:25", "127.0.0.1:2525" */

int policy_parse_binding(const char *s, struct cfg_binding *out, const char **why)
{
    char host[INET6_ADDRSTRLEN + 1], ep[INET6_ADDRSTRLEN + 8];
    const char *port_text;
    bool br;
    int port;

    memset(out, 0, sizeof(*out));
    *why = "is not a binding (use IP:PORT or [IPv6]:PORT)";
    if (split_hostport(s, host, sizeof(host), &port_text, &br) < 0)
        return -1;
    if (port_text == NULL) {
        *why = "has no port (use IP:PORT or [IPv6]:PORT)";
        return -1;
    }
    if (parse_port(port_text, &port) < 0) {
        *why = "has an invalid port (1..65535)";
        return -1;
    }
    if (br) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;

        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        out->addrlen = sizeof(*sin6);
        out->wildcard = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;

        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        out->addrlen = sizeof(*sin);
        out->wildcard = sin->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    out->text = xstrdup(log_addr_endpoint(ep, sizeof(ep), (const struct sockaddr *)&out->addr));
    return 0;
}

/* policy_parse_range - "10.0.0.0/8", "192.0.2.7", "2001:db8::/32" */

int policy_parse_range(const char *s, struct cfg_range *out, const char **why)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int bits;

    memset(out, 0, sizeof(*out));
    *why = "is not an IP range (use ADDRESS/PREFIX)";
    if (n >= sizeof(ip))
        return -1;
    memcpy(ip, s, n);
    ip[n] = '\0';
    if (inet_pton(AF_INET, ip, out->addr) == 1) {
        out->family = AF_INET;
        bits = 32;
    } else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
        out->family = AF_INET6;
        bits = 128;
    } else {
        return -1;
    }
    out->prefix = bits;
    if (slash) {
        const char *p = slash + 1;
        uint64_t pfx;
        int nd;

        if (parse_digits(&p, &pfx, &nd) < 0 || *p != '\0' || nd > 3
            || pfx > (uint64_t)bits) {
            *why = "has an invalid prefix length";
            return -1;
        }
        out->prefix = (int)pfx;
    }
    for (int i = out->prefix; i < bits; i++) {
        if (out->addr[i / 8] & (0x80 >> (i % 8))) {
            *why = "has host bits set";
            return -1;
        }
    }
    return 0;
}

/* policy_parse_smarthost - "relay.example.net:25", "[10.1.1.1]:587", "host" */

int policy_parse_smarthost(const char *s, struct cfg_smarthost *out, const char **why)
{
    char host[256], name[256];
    unsigned char a[16];
    const char *port_text;
    bool br;

    memset(out, 0, sizeof(*out));
    *why = "is not a smart host (use HOST, HOST:PORT or [IP]:PORT)";
    if (split_hostport(s, host, sizeof(host), &port_text, &br) < 0)
        return -1;
    if (port_text && parse_port(port_text, &out->port) < 0) {
        *why = "has an invalid port (1..65535)";
        return -1;
    }
    if (inet_pton(AF_INET, host, a) == 1 || (br && inet_pton(AF_INET6, host, a) == 1)) {
        /* A bare IPv4 address is as literal as a bracketed one. */
        out->literal = true;
        inet_ntop(strchr(host, ':') ? AF_INET6 : AF_INET, a, name, sizeof(name));
    } else if (br) {
        *why = "is not a smart host ([...] must hold an IP address)";
        return -1;
    } else if (policy_parse_domain(host, name, sizeof(name), why) < 0) {
        return -1;
    }
    out->host = xstrdup(name);
    return 0;
}

/* policy__list_next - next list item; items are separated by commas and/or white space */

bool policy__list_next(const char **cursor, char *tok, size_t toksz)
{
    const char *p = *cursor, *start;
    size_t n;

    while (*p == ',' || isspace((unsigned char)*p))
        p++;
    if (*p == '\0') {
        *cursor = p;
        return false;
    }
    start = p;
    while (*p && *p != ',' && !isspace((unsigned char)*p))
        p++;
    n = (size_t)(p - start);
    if (n >= toksz)
        n = toksz - 1;                  /* a truncated item fails its parser */
    memcpy(tok, start, n);
    tok[n] = '\0';
    *cursor = p;
    return true;
}

/* policy__parse_uint - plain unsigned decimal */

int policy__parse_uint(const char *s, uint64_t *out, const char **why)
{
    const char *p = s;

    if (!isdigit((unsigned char)*p)) {
        *why = "is not a number";
        return -1;
    }
    if (parse_digits(&p, out, NULL) < 0) {
        *why = "is too large";
        return -1;
    }
    if (*p != '\0') {
        *why = "is not a number";
        return -1;
    }
    return 0;
}

/* policy__parse_address - one IPv4 or IPv6 address (port 0) */

int policy__parse_address(const char *s, struct sockaddr_storage *out, const char **why)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        return 0;
    }
    *why = "is not an IP address";
    return -1;
}

/* policy__parse_dns_server - a resolver address with optional port */

int policy__parse_dns_server(const char *s, char *out, size_t outsz, const char **why)
{
    char host[INET6_ADDRSTRLEN + 1], ip[INET6_ADDRSTRLEN];
    unsigned char a[16];
    const char *port_text = NULL;
    bool br = false;
    int port = 53;

    *why = "is not a DNS server (use IP, IP:PORT or [IPv6]:PORT)";
    if (s[0] != '[' && inet_pton(AF_INET6, s, a) == 1) {
        inet_ntop(AF_INET6, a, ip, sizeof(ip));         /* bare IPv6, no port */
        snprintf(out, outsz, "[%s]:%d", ip, port);
        return 0;
    }
    if (split_hostport(s, host, sizeof(host), &port_text, &br) < 0)
        return -1;
    if (port_text && parse_port(port_text, &port) < 0) {
        *why = "has an invalid port (1..65535)";
        return -1;
    }
    if (br && inet_pton(AF_INET6, host, a) == 1) {
        inet_ntop(AF_INET6, a, ip, sizeof(ip));
        snprintf(out, outsz, "[%s]:%d", ip, port);
    } else if (!br && inet_pton(AF_INET, host, a) == 1) {
        inet_ntop(AF_INET, a, ip, sizeof(ip));
        snprintf(out, outsz, "%s:%d", ip, port);
    } else {
        return -1;
    }
    return 0;
}

/* policy__parse_thumbprint - 40 hex digits (SHA-1), stored upper-case */

int policy__parse_thumbprint(const char *s, char *out, size_t outsz, const char **why)
{
    size_t len = strlen(s);

    if (len != 40 || strspn(s, "0123456789abcdefABCDEF") != 40 || outsz <= 40) {
        *why = "is not a certificate thumbprint (40 hex digits)";
        return -1;
    }
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    return 0;
}

/* hex_value - the value of a hex digit (checked by the caller) */

static int hex_value(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* b64_value - the value of a standard base64 character, -1 if not one */

static int b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

    return p ? (int)(p - alphabet) : -1;
}

/* parse_pin_base64 - 32 bytes as 44 canonical base64 characters (43 and '=') */

static int parse_pin_base64(const char *s, unsigned char pin[32])
{
    uint32_t acc = 0;
    int     bits = 0;
    size_t  k = 0;

    if (strlen(s) != 44 || s[43] != '=')
        return -1;
    for (size_t i = 0; i < 43; i++) {
        int     v = b64_value(s[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            pin[k++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return k == 32 && acc == 0 ? 0 : -1;      /* the 2 spare bits are zero */
}

/* parse_pin_hex - 32 bytes as 64 hex digits, or 32 colon-separated pairs */

static int parse_pin_hex(const char *s, unsigned char pin[32])
{
    size_t  len = strlen(s), step = len == 95 ? 3 : 2;

    if (len != 64 && len != 95)
        return -1;
    for (size_t i = 0, k = 0; k < 32; i += step, k++) {
        if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1])
            || (step == 3 && k < 31 && s[i + 2] != ':'))
            return -1;
        pin[k] = (unsigned char)((hex_value(s[i]) << 4) | hex_value(s[i + 1]));
    }
    return 0;
}

/*
 * policy_parse_pin - a SHA-256 pin: 64 hex digits, any case, or 32
 * colon-separated pairs; or base64 (SPEC 9), bare (44 characters) or as
 * curl's --pinnedpubkey "sha256//BASE64=".  All zeros is refused: it is
 * what an unreadable key would hash to, so it must never be a pin.
 */
int policy_parse_pin(const char *s, struct cfg_pin *out, const char **why)
{
    static const unsigned char zero[32];
    unsigned char pin[32];
    int     r;

    *why = "is not a SHA-256 pin (64 hex digits or 44 base64 characters)";
    if (strncmp(s, "sha256//", 8) == 0)
        r = parse_pin_base64(s + 8, pin);
    else if (strlen(s) == 44)
        r = parse_pin_base64(s, pin);
    else
        r = parse_pin_hex(s, pin);
    if (r < 0)
        return -1;
    if (memcmp(pin, zero, sizeof(pin)) == 0) {
        *why = "is not a SHA-256 pin (all zeros)";
        return -1;
    }
    memcpy(out->sha256, pin, sizeof(pin));
    return 0;
}

/* policy_format_pin - 64 lowercase hex digits and a NUL */

void policy_format_pin(const unsigned char sha256[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t k = 0; k < 32; k++) {
        out[2 * k] = digits[sha256[k] >> 4];
        out[2 * k + 1] = digits[sha256[k] & 15];
    }
    out[64] = '\0';
}

/* policy_format_pin_base64 - 44 base64 characters (the last '=') and a NUL */

void policy_format_pin_base64(const unsigned char sha256[32], char out[45])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t  o = 0;

    for (size_t k = 0; k < 33; k += 3) {
        uint32_t v = (uint32_t)sha256[k] << 16 | (uint32_t)sha256[k + 1] << 8
            | (k + 2 < 32 ? sha256[k + 2] : 0);

        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = k + 2 < 32 ? alphabet[v & 63] : '=';
    }
    out[44] = '\0';
}

/* format_unit - n in the largest unit that divides it exactly */

static void format_unit(uint64_t n, const char *const *names, const uint64_t *mults,
                        char *buf, size_t bufsz)
{
    int i = 0;

    if (n != 0)
        while (mults[i + 1] && n % mults[i] != 0)
            i++;
    else
        while (mults[i + 1])
            i++;
    snprintf(buf, bufsz, "%llu%s", (unsigned long long)(n / mults[i]), names[i]);
}

/* policy__format_size - "36MB", "64KB", "2147483647" */

void policy__format_size(uint64_t n, char *buf, size_t bufsz)
{
    static const char *const names[] = {"GB", "MB", "KB", ""};
    static const uint64_t mults[] = {1ULL << 30, 1ULL << 20, 1ULL << 10, 1, 0};

    format_unit(n, names, mults, buf, bufsz);
}

/* policy__format_duration - "2d", "5m", "500ms", "0s" */

void policy__format_duration(uint64_t ms, char *buf, size_t bufsz)
{
    static const char *const names[] = {"d", "h", "m", "s", "ms"};
    static const uint64_t mults[] = {MS_DAY, MS_HOUR, MS_MINUTE, MS_SECOND, 1, 0};

    if (ms == 0)
        snprintf(buf, bufsz, "0s");
    else
        format_unit(ms, names, mults, buf, bufsz);
}

/* policy__format_range - "10.0.0.0/8", "::/0" */

void policy__format_range(const struct cfg_range *r, char *buf, size_t bufsz)
{
    char ip[INET6_ADDRSTRLEN];

    inet_ntop(r->family, r->addr, ip, sizeof(ip));
    snprintf(buf, bufsz, "%s/%d", ip, r->prefix);
}

/* policy__format_smarthost - "host", "host:25", "[10.1.1.1]:587" */

void policy__format_smarthost(const struct cfg_smarthost *h, char *buf, size_t bufsz)
{
    int n = snprintf(buf, bufsz, h->literal ? "[%s]" : "%s", h->host);

    if (h->port && n >= 0 && (size_t)n < bufsz)
        snprintf(buf + n, bufsz - (size_t)n, ":%d", h->port);
}

/* policy__format_address - the IP of a sockaddr_storage, "" if unset */

void policy__format_address(const struct sockaddr_storage *ss, char *buf, size_t bufsz)
{
    log_addr_ip(buf, bufsz, (const struct sockaddr *)ss);
}

/* policy__same_dir - a names directory b (or b/sub), trailing '/'s aside */

bool policy__same_dir(const char *a, const char *b, const char *sub)
{
    size_t  na = strlen(a), nb = strlen(b);

    while (na > 1 && a[na - 1] == '/')
        na--;
    while (nb > 1 && b[nb - 1] == '/')
        nb--;
    if (sub == NULL)
        return na == nb && strncmp(a, b, na) == 0;
    return na == nb + 1 + strlen(sub) && strncmp(a, b, nb) == 0 && a[nb] == '/'
           && strncmp(a + nb + 1, sub, strlen(sub)) == 0;
}

/* policy__text_utf8 - v is valid UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF) */

bool policy__text_utf8(const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    size_t  n = strlen(v), len;

    for (size_t i = 0; i < n; i += len)
        if ((len = log_utf8_len(p + i, n - i, NULL)) == 0)
            return false;
    return true;
}

/* policy__text_mailbox - v is LOCAL@DOMAIN: a printable ASCII local part without
 * specials or spaces, and a domain name */

bool policy__text_mailbox(const char *v)
{
    const char *at = strrchr(v, '@'), *why;
    char dom[256];

    if (at == NULL || at == v || at - v > 64)
        return false;
    for (const char *p = v; p < at; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[]\\,;:@\"", *p) != NULL)
            return false;
    return policy_parse_domain(at + 1, dom, sizeof(dom), &why) == 0;
}
