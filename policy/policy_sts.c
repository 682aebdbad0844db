/*
 * policy_sts.c - MTA-STS (RFC 8461): the TXT record, the policy file and
 * the MX host patterns.
 *
 * TXT (3.1): records not beginning with "v=STSv1" are discarded; unless
 * exactly one is left and it parses (sts-version, then fields separated by
 * *WSP ";" *WSP, one id=1*32(ALPHA/DIGIT), extension fields name=value
 * with the RFC's characters), the domain has no policy.
 *
 * Policy (3.2): lines end in CRLF or LF; "key:" *WSP value, trailing
 * whitespace dropped; version must be STSv1, mode one of enforce, testing,
 * none, max_age an integer 0..31557600, mx (repeatable) "*."? domain and
 * at least one unless mode is none (a single trailing dot of an mx value
 * is dropped; a pattern without '*' may be a single label, RFC 5321's
 * Domain).  Unknown keys are ignored; a key given twice (other than mx)
 * keeps its first value; the keys come in any order.  Empty lines and a
 * UTF-8 byte order mark at the start are skipped (hand-written files have
 * them; Postfix's resolver and the big senders skip them too); a line
 * without ':' makes the policy invalid.  The body must be UTF-8 without
 * control bytes other than CR, LF and TAB (the ABNF allows only VCHAR,
 * WSP and UTF-8): it becomes the TLS-RPT policy-string.
 *
 * MX match (4.1): case-insensitive, a trailing dot ignored; "*.d" matches
 * exactly one label followed by ".d".
 *
 * CONTRACT
 *  Pure: no I/O, no globals.  Inputs are not kept (copied where a result
 *  needs them).  A struct sts_policy is returned with one reference, owned
 *  by the caller; every why is a static string.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "log_util.h"
#include "policy_sts.h"

#define STS_WSP(c) ((c) == ' ' || (c) == '\t')

/* policy_sts_mode_name - a mode as the policy writes it */

const char *policy_sts_mode_name(enum sts_mode m)
{
    switch (m) {
    case STS_MODE_ENFORCE:
        return "enforce";
    case STS_MODE_TESTING:
        return "testing";
    case STS_MODE_NONE:
        break;
    }
    return "none";
}

/* policy_sts_domain_ok - a plain host name (cache file name, policy host) */

bool policy_sts_domain_ok(const char *d)
{
    size_t n = strlen(d);

    if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || strstr(d, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)d[i]) && d[i] != '-' && d[i] != '.')
            return false;
    return true;
}

/* ---- the TXT record ---- */

/* txt_parse - one record beginning with "v=STSv1": true and its id if valid */

static bool txt_parse(const char *s, char id[POLICY_STS_ID_MAX + 1])
{
    const char *p = s + strlen("v=STSv1");
    bool have_id = false;

    for (;;) {
        const char *name, *eq;
        size_t nlen, vlen;

        while (STS_WSP(*p))
            p++;
        if (*p == '\0')
            break;
        if (*p != ';')
            return false;
        p++;
        while (STS_WSP(*p))
            p++;
        if (*p == '\0')
            break;                      /* a trailing delimiter */
        name = p;
        while (isalnum((unsigned char)*p) || (p > name && strchr("_-.", *p) && *p != '\0'))
            p++;
        nlen = (size_t)(p - name);
        if (nlen == 0 || nlen > 32 || *p != '=')
            return false;
        eq = ++p;
        while ((unsigned char)*p >= 0x21 && (unsigned char)*p <= 0x7e && *p != ';' && *p != '=')
            p++;
        vlen = (size_t)(p - eq);
        if (vlen == 0)
            return false;
        if (nlen == 2 && strncmp(name, "id", 2) == 0) {
            if (have_id || vlen > POLICY_STS_ID_MAX)
                return false;
            for (size_t i = 0; i < vlen; i++)
                if (!isalnum((unsigned char)eq[i]))
                    return false;
            memcpy(id, eq, vlen);
            id[vlen] = '\0';
            have_id = true;
        }
    }
    return have_id;
}

/* policy_sts_txt_pick - the one STSv1 record among txt[0..n), or none */

enum policy_sts_txt policy_sts_txt_pick(const char *const *txt, size_t n,
                                        char id[POLICY_STS_ID_MAX + 1], const char **why)
{
    const char *one = NULL, *dummy;
    size_t count = 0;

    if (why == NULL)
        why = &dummy;
    for (size_t i = 0; i < n; i++)
        if (txt[i] != NULL && strncmp(txt[i], "v=STSv1", 7) == 0
            && (txt[i][7] == '\0' || txt[i][7] == ';' || STS_WSP(txt[i][7]))) {
            one = txt[i];
            count++;
        }
    id[0] = '\0';
    if (count == 0) {
        *why = "no v=STSv1 TXT record";
        return POLICY_STS_TXT_NONE;
    }
    if (count > 1) {
        *why = "more than one v=STSv1 TXT record";
        return POLICY_STS_TXT_NONE;
    }
    if (!txt_parse(one, id)) {
        id[0] = '\0';
        *why = "malformed v=STSv1 TXT record";
        return POLICY_STS_TXT_NONE;
    }
    *why = NULL;
    return POLICY_STS_TXT_OK;
}

/* ---- the policy ---- */

/* mx_pattern_ok - a host name, or "*." and a name of at least two labels;
 * a trailing dot was dropped by the caller */

static bool mx_pattern_ok(const char *v)
{
    bool wild = strncmp(v, "*.", 2) == 0;

    if (wild)
        v += 2;
    return policy_sts_domain_ok(v) && (!wild || strchr(v, '.') != NULL)
           && v[strlen(v) - 1] != '.';
}

/* text_ok - well-formed UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF) without control bytes other than CR, LF and TAB */

static bool text_ok(const unsigned char *s, size_t len)
{
    size_t  n;

    for (size_t i = 0; i < len; i += n) {
        if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') || s[i] == 0x7f)
            return false;
        if ((n = log_utf8_len(s + i, len - i, NULL)) == 0)
            return false;
    }
    return true;
}

/* parse_max_age - 0..POLICY_STS_MAX_AGE, digits only */

static bool parse_max_age(const char *v, uint64_t *out)
{
    uint64_t n = 0;

    if (*v == '\0' || strlen(v) > 10)
        return false;
    for (; *v; v++) {
        if (!isdigit((unsigned char)*v))
            return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    if (n > POLICY_STS_MAX_AGE)
        return false;
    *out = n;
    return true;
}

/* policy_sts_parse - a fetched policy body, validated */

struct sts_policy *policy_sts_parse(const char *domain, const char *id, const char *body,
                                    size_t len, uint64_t fetched_ms, const char **why)
{
    struct sts_policy *p = xcalloc(1, sizeof(*p));
    bool have_version = false, have_mode = false, have_age = false;
    const char *dummy, *s = body, *end = body + len;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    p->refs = 1;
    p->domain = xstrdup(domain);
    p->id = xstrdup(id);
    p->text = xstrndup(body, len);
    p->fetched_ms = fetched_ms;
    if (len > POLICY_STS_MAX_BYTES)
        *why = "policy larger than 64 KiB";
    else if (memchr(body, '\0', len) != NULL)
        *why = "NUL byte in the policy";
    else if (!text_ok((const unsigned char *)body, len))
        *why = "policy is not UTF-8 text (bad byte or control character)";
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        s += 3;                         /* a byte order mark */
    while (*why == NULL && s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s)), *colon, *v;
        size_t llen = (size_t)((eol ? eol : end) - s), klen, vlen;
        char key[16], *val;

        if (llen > 0 && s[llen - 1] == '\r')
            llen--;
        if (llen == 0) {                /* an empty line: skipped */
            s = eol ? eol + 1 : end;
            continue;
        }
        colon = memchr(s, ':', llen);
        if (colon == NULL) {
            *why = "policy line without ':'";
            break;
        }
        klen = (size_t)(colon - s);
        for (v = colon + 1; v < s + llen && STS_WSP(*v); v++)
            ;
        vlen = (size_t)(s + llen - v);
        while (vlen > 0 && STS_WSP(v[vlen - 1]))
            vlen--;
        if (klen == 0 || klen >= sizeof(key)) {
            if (klen == 0)
                *why = "policy line without a key";
            s = eol ? eol + 1 : end;    /* an unknown long key: ignored */
            continue;
        }
        memcpy(key, s, klen);
        key[klen] = '\0';
        val = xstrndup(v, vlen);
        if (strcmp(key, "version") == 0 && !have_version) {
            have_version = true;
            if (strcmp(val, "STSv1") != 0)
                *why = "policy version is not STSv1";
        } else if (strcmp(key, "mode") == 0 && !have_mode) {
            have_mode = true;
            if (strcmp(val, "enforce") == 0)
                p->mode = STS_MODE_ENFORCE;
            else if (strcmp(val, "testing") == 0)
                p->mode = STS_MODE_TESTING;
            else if (strcmp(val, "none") == 0)
                p->mode = STS_MODE_NONE;
            else
                *why = "unknown policy mode";
        } else if (strcmp(key, "max_age") == 0 && !have_age) {
            have_age = true;
            if (!parse_max_age(val, &p->max_age_s))
                *why = "max_age is not an integer 0..31557600";
        } else if (strcmp(key, "mx") == 0) {
            if (vlen > 1 && val[vlen - 1] == '.')
                val[vlen - 1] = '\0';      /* mx.example.com. */
            if (!mx_pattern_ok(val)) {
                *why = "malformed mx pattern";
            } else {
                for (char *c = val; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                p->mx = xrealloc(p->mx, (p->nmx + 1) * sizeof(*p->mx));
                p->mx[p->nmx++] = val;
                val = NULL;
            }
        }
        free(val);
        s = eol ? eol + 1 : end;
    }
    if (*why == NULL) {
        if (!have_version)
            *why = "policy without version";
        else if (!have_mode)
            *why = "policy without mode";
        else if (!have_age)
            *why = "policy without max_age";
        else if (p->mode != STS_MODE_NONE && p->nmx == 0)
            *why = "policy without mx";
    }
    if (*why != NULL) {
        policy_sts_unref(p);
        return NULL;
    }
    return p;
}

/* ---- MX patterns ---- */

/* policy_sts_pattern_match - exact, or "*." and one leftmost label */

bool policy_sts_pattern_match(const char *pattern, const char *host)
{
    size_t hn = strlen(host), pn = strlen(pattern);

    if (hn > 0 && host[hn - 1] == '.')
        hn--;
    if (strncmp(pattern, "*.", 2) != 0)
        return hn == pn && strncasecmp(pattern, host, hn) == 0;
    pattern++;                          /* ".d" */
    pn--;
    if (hn <= pn)
        return false;
    /* host = label ".d": the part before ".d" is one non-empty label */
    if (strncasecmp(host + hn - pn, pattern, pn) != 0)
        return false;
    return memchr(host, '.', hn - pn) == NULL;
}

/* policy_sts_mx_match - host against every pattern of p */

bool policy_sts_mx_match(const struct sts_policy *p, const char *host)
{
    for (size_t i = 0; i < p->nmx; i++)
        if (policy_sts_pattern_match(p->mx[i], host))
            return true;
    return false;
}

/* policy_sts_expired - max_age after the fetch has passed, or the fetch
 * lies in the future (a clock that was ahead, a cache file from elsewhere:
 * otherwise such a policy would never expire) */

bool policy_sts_expired(const struct sts_policy *p, uint64_t now_ms)
{
    if (p->fetched_ms > now_ms)
        return p->fetched_ms - now_ms > POLICY_STS_CLOCK_SLACK_MS;
    return now_ms - p->fetched_ms >= p->max_age_s * 1000;
}

/* policy_sts_ref - one more reference */

struct sts_policy *policy_sts_ref(struct sts_policy *p)
{
    p->refs++;
    return p;
}

/* policy_sts_unref - the last reference frees */

void policy_sts_unref(struct sts_policy *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    for (size_t i = 0; i < p->nmx; i++)
        free(p->mx[i]);
    free(p->mx);
    free(p->domain);
    free(p->id);
    free(p->text);
    free(p);
}
