/*
 * policy_sts_cache.c - the cache entry of one MTA-STS policy domain.
 *
 * Format (text, one file per policy domain, written by relay/sts/):
 *
 *   domsec-mta-sts 1
 *   domain: example.com
 *   id: 20160831085700Z
 *   fetched: 1765111111000          (ms since the epoch)
 *                                   (an empty line)
 *   the policy body, byte for byte as fetched
 *
 * On reading, the body is parsed again with policy_sts_parse(): a cache
 * entry holds nothing a fetched policy could not.
 *
 * CONTRACT
 *  Pure: no I/O, no globals.  Returned strings and policies are the
 *  caller's; why strings are static.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_sts.h"

#define STS_CACHE_MAGIC "domsec-mta-sts 1\n"

/* policy_sts_cache_format - p as a cache entry */

char *policy_sts_cache_format(const struct sts_policy *p, size_t *len)
{
    char *head = xasprintf(STS_CACHE_MAGIC "domain: %s\nid: %s\nfetched: %llu\n\n", p->domain,
                           p->id, (unsigned long long)p->fetched_ms);
    size_t hl = strlen(head), tl = strlen(p->text);
    char *out = xrealloc(head, hl + tl + 1);

    memcpy(out + hl, p->text, tl + 1);
    *len = hl + tl;
    return out;
}

/* cache_field - the value of header line "key: value" at *s (advanced), or NULL */

static char *cache_field(const char **s, const char *end, const char *key)
{
    size_t kl = strlen(key);
    const char *eol = memchr(*s, '\n', (size_t)(end - *s));
    char *v;

    if (eol == NULL || (size_t)(eol - *s) <= kl + 2 || strncmp(*s, key, kl) != 0
        || (*s)[kl] != ':' || (*s)[kl + 1] != ' ')
        return NULL;
    v = xstrndup(*s + kl + 2, (size_t)(eol - *s) - kl - 2);
    *s = eol + 1;
    return v;
}

/* policy_sts_cache_parse - a cache entry back into a policy */

struct sts_policy *policy_sts_cache_parse(const char *domain, const char *buf, size_t len,
                                          const char **why)
{
    const char *s = buf, *end = buf + len, *dummy;
    char *dom = NULL, *id = NULL, *fetched = NULL, *e = NULL;
    struct sts_policy *p = NULL;
    unsigned long long ms = 0;

    if (why == NULL)
        why = &dummy;
    *why = "malformed cache header";
    if (len < strlen(STS_CACHE_MAGIC) || memcmp(buf, STS_CACHE_MAGIC, strlen(STS_CACHE_MAGIC)))
        return NULL;
    s += strlen(STS_CACHE_MAGIC);
    if ((dom = cache_field(&s, end, "domain")) == NULL || (id = cache_field(&s, end, "id")) == NULL
        || (fetched = cache_field(&s, end, "fetched")) == NULL || s >= end || *s != '\n')
        goto out;
    s++;
    ms = strtoull(fetched, &e, 10);
    if (e == fetched || *e != '\0' || fetched[0] == '-')
        goto out;
    if (strcmp(dom, domain) != 0) {
        *why = "cache entry of another domain";
        goto out;
    }
    if (id[0] == '\0' || strlen(id) > POLICY_STS_ID_MAX) {
        *why = "malformed id in the cache";
        goto out;
    }
    p = policy_sts_parse(domain, id, s, (size_t)(end - s), (uint64_t)ms, why);
out:
    free(dom);
    free(id);
    free(fetched);
    return p;
}
