/*
 * policy_sts.h - MTA-STS (RFC 8461), the pure part: the `_mta-sts` TXT
 * record, the policy file, MX host patterns, and the on-disk cache entry.
 *
 * Text in, result out: no I/O, no globals, no logging.  relay/sts/ does the
 * DNS, the HTTPS fetch, the cache and the refresh rules; smtp/ and qmgr/
 * read a struct sts_policy (reference counted on one thread, the queue
 * manager's loop).
 */
#ifndef DOMSEC_POLICY_STS_H
#define DOMSEC_POLICY_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_STS_ID_MAX     32          /* sts-id = 1*32(ALPHA / DIGIT) */
#define POLICY_STS_MAX_AGE    31557600u   /* RFC 8461 3.2: max_age at most one year */
#define POLICY_STS_MAX_BYTES  65536u      /* RFC 8461 3.3: a policy body of 64 KiB at most */
#define POLICY_STS_CLOCK_SLACK_MS 300000u /* a fetch time up to 5 min ahead of now is fine;
                                           * further ahead: expired */

enum sts_mode { STS_MODE_NONE, STS_MODE_TESTING, STS_MODE_ENFORCE };

/* A parsed, valid policy.  Visible, read-only once made; refs on one thread. */
struct sts_policy {
    unsigned refs;                      /* one thread (qmgr) */
    char   *domain, *id, *text;         /* owned; text: the policy as fetched (TLS-RPT
                                         * policy-string), NUL-terminated */
    enum sts_mode mode;
    char  **mx;                         /* owned: patterns, lower case ("*.example.com") */
    size_t  nmx;
    uint64_t max_age_s, fetched_ms;     /* fetched_ms: wall clock (ms since the epoch) */
};

/* What the `_mta-sts.D` TXT records say (RFC 8461 3.1). */
enum policy_sts_txt {
    POLICY_STS_TXT_NONE,                /* no record starts with "v=STSv1", or more than
                                         * one does, or the one is malformed: no policy */
    POLICY_STS_TXT_OK,                  /* exactly one valid record; id filled in */
};

/* policy_sts.c: parsers (pure). */
/*
 * The TXT records txt[0..n) of _mta-sts.D: exactly one beginning with
 * "v=STSv1" and valid -> OK with its id (NUL-terminated) in id; anything
 * else -> NONE with a static reason in *why (may be NULL).
 */
enum policy_sts_txt policy_sts_txt_pick(const char *const *txt, size_t n,
                                        char id[POLICY_STS_ID_MAX + 1], const char **why);
/*
 * Parse a policy body (len bytes, not NUL-terminated; CRLF or LF lines)
 * fetched for domain with TXT id at fetched_ms.  A valid policy is
 * returned with one reference (owned by the caller); NULL with a static
 * reason in *why when it is invalid (RFC 8461 3.2: version STSv1, a known
 * mode, max_age 0..31557600, at least one mx unless mode is none; UTF-8
 * without control bytes but CR, LF, TAB).  Unknown keys are ignored; a
 * repeated key other than mx: its first value; empty lines and a leading
 * byte order mark are skipped; an mx value's trailing dot is dropped.
 */
struct sts_policy *policy_sts_parse(const char *domain, const char *id, const char *body,
                                    size_t len, uint64_t fetched_ms, const char **why);
/* Does MX host name host match one of p's patterns (RFC 8461 4.1)? */
bool    policy_sts_mx_match(const struct sts_policy *p, const char *host);
/* One pattern against one host: exact, or "*." matching one leftmost label. */
bool    policy_sts_pattern_match(const char *pattern, const char *host);
/* "none" / "testing" / "enforce" */
const char *policy_sts_mode_name(enum sts_mode m);
/* Is d a plain host name usable as a cache file name (letters, digits, '-', '.')? */
bool    policy_sts_domain_ok(const char *d);
/* Take one more reference; returns p. */
struct sts_policy *policy_sts_ref(struct sts_policy *p);
/* Drop one reference; the last frees.  NULL: nothing. */
void    policy_sts_unref(struct sts_policy *p);
/* Has p's max_age run out at now_ms (wall clock)?  Also true when p was
 * fetched more than POLICY_STS_CLOCK_SLACK_MS after now_ms (the clock went
 * back, or a cache file has a time in the future). */
bool    policy_sts_expired(const struct sts_policy *p, uint64_t now_ms);

/* policy_sts_cache.c: the cache file of one policy domain (pure). */
/*
 * The cache entry of p (owned string, *len its length): a header
 * ("domsec-mta-sts 1", "domain:", "id:", "fetched:" lines), an empty line,
 * then p->text as fetched.
 */
char   *policy_sts_cache_format(const struct sts_policy *p, size_t *len);
/*
 * Parse a cache entry (len bytes): the policy again (one reference, the
 * caller's), or NULL with a static reason in *why.  The domain inside must
 * be domain (a file renamed by hand does not apply to another domain).
 */
struct sts_policy *policy_sts_cache_parse(const char *domain, const char *buf, size_t len,
                                          const char **why);
#endif
