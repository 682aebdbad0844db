/*
 * fuzz_sts.c - libFuzzer target: the MTA-STS parsers (policy/policy_sts*.c):
 * the policy body fetched over HTTPS, the cache entry read back from disk,
 * and the _mta-sts TXT records, all peer or disk input.
 *
 * Input: byte 0 picks the parser (0: policy body, 1: cache entry, 2: TXT
 * records separated by NUL bytes); the rest is its input.
 * Checks the contract of policy_sts.h: a valid policy has a known mode,
 * max_age within the RFC's bound, mx patterns unless mode is none, its
 * text equal to the input; a cache entry formatted from it parses back to
 * the same policy; a TXT id is 1..32 letters and digits.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - the invariants of a valid policy parsed from body (len bytes) */

static void check(const struct sts_policy *p, const char *body, size_t len, bool from_cache)
{
    struct sts_policy *q;
    size_t clen;
    char *c;

    if (p->max_age_s > POLICY_STS_MAX_AGE || (p->mode != STS_MODE_NONE && p->nmx == 0))
        abort();
    if (p->mode != STS_MODE_NONE && p->mode != STS_MODE_TESTING && p->mode != STS_MODE_ENFORCE)
        abort();
    if (!from_cache && (strlen(p->text) != len || memcmp(p->text, body, len) != 0))
        abort();
    for (size_t i = 0; i < p->nmx; i++) {
        const char *host = p->mx[i][0] == '*' ? p->mx[i] + 2 : p->mx[i];

        if (p->mx[i][0] != '*' && !policy_sts_mx_match(p, host))
            abort();                    /* an exact pattern matches itself */
    }
    c = policy_sts_cache_format(p, &clen);
    q = policy_sts_cache_parse(p->domain, c, clen, NULL);
    if (q == NULL || q->mode != p->mode || q->nmx != p->nmx || q->max_age_s != p->max_age_s
        || strcmp(q->text, p->text) != 0 || strcmp(q->id, p->id) != 0)
        abort();
    policy_sts_unref(q);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data + 1, *why;
    size_t len = size - 1;
    struct sts_policy *p;

    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        if ((p = policy_sts_parse("example.com", "id1", body, len, 1000, &why)) != NULL) {
            check(p, body, len, false);
            policy_sts_unref(p);
        } else if (why == NULL) {
            abort();
        }
        break;
    case 1:
        if ((p = policy_sts_cache_parse("example.com", body, len, &why)) != NULL) {
            check(p, body, len, true);
            policy_sts_unref(p);
        }
        break;
    default: {
        char *copy = malloc(len + 1), *recs[16], id[POLICY_STS_ID_MAX + 1];
        size_t n = 0;

        memcpy(copy, body, len);
        copy[len] = '\0';
        for (char *s = copy; n < 16 && s <= copy + len; s += strlen(s) + 1)
            recs[n++] = s;
        if (policy_sts_txt_pick((const char *const *)recs, n, id, &why) == POLICY_STS_TXT_OK) {
            size_t il = strlen(id);

            if (il == 0 || il > POLICY_STS_ID_MAX)
                abort();
            for (size_t i = 0; i < il; i++)
                if (!isalnum((unsigned char)id[i]))
                    abort();
        }
        free(copy);
        break;
    }
    }
    return 0;
}
