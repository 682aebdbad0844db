/*
 * log_audit_test_util.h - helpers shared by the audit's tests (header
 * only; include after cmocka.h and log_audit.h): a domain's record in a
 * result, and a name's count in a count list.
 */
#ifndef LOG_AUDIT_TEST_UTIL_H
#define LOG_AUDIT_TEST_UTIL_H

#include <string.h>

/* audit_find - the partner or other-domain record of d; fails the test when absent */

static __attribute__((unused)) const struct log_audit_partner *
audit_find(const struct log_audit_result *r, const char *d)
{
    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        const struct log_audit_partner *p = i < r->npartners ? &r->partners[i]
            : &r->others[i - r->npartners];

        if (strcmp(p->domain, d) == 0)
            return p;
    }
    fail_msg("no domain %s", d);
    return NULL;
}

/* audit_count - how often name is in a count list (0 if absent) */

static __attribute__((unused)) uint64_t audit_count(const struct log_audit_count *c, size_t n,
                                                    const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return c[i].count;
    return 0;
}

#endif
