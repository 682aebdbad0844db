/*
 * relay_admin.c - queue administration requests (relay_admin.h): make,
 * free, names of the enums, the domain filter.
 *
 * CONTRACT
 *  Plain data; any thread, one thread at a time per request.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "relay_admin.h"

/* relay_admin_req_new - an empty request for op */

struct relay_admin_req *relay_admin_req_new(enum relay_admin_op op)
{
    struct relay_admin_req *req = xcalloc(1, sizeof(*req));

    req->op = op;
    return req;
}

/* relay_admin_msg_clear - free what a message snapshot owns */

void relay_admin_msg_clear(struct relay_admin_msg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++) {
        free(m->rcpts[i].addr);
        free(m->rcpts[i].last);
        free(m->rcpts[i].remote);
    }
    free(m->rcpts);
    free(m->sender);
    free(m->connector);
    free(m->client);
    free(m->helo);
    free(m->session);
    free(m->headers);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

/* relay_admin_req_free - a request and everything its result owns */

void relay_admin_req_free(struct relay_admin_req *req)
{
    if (req == NULL)
        return;
    for (size_t i = 0; i < req->nmsgs; i++)
        relay_admin_msg_clear(&req->msgs[i]);
    free(req->msgs);
    if (req->summary != NULL) {
        for (size_t i = 0; i < req->summary->nrows; i++)
            free(req->summary->rows[i].domain);
        free(req->summary->rows);
        free(req->summary->total.domain);
        free(req->summary);
    }
    free(req->sel.domain);
    free(req->tlsrpt_domain);
    free(req->text);
    free(req->why);
    free(req);
}

const char *relay_admin_qstate_name(enum relay_admin_qstate st)
{
    static const char *const names[] = {
        [RELAY_AQ_ANY] = "any", [RELAY_AQ_ACTIVE] = "active",
        [RELAY_AQ_DEFERRED] = "deferred", [RELAY_AQ_HELD] = "held",
    };

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *relay_admin_rstate_name(enum relay_admin_rstate st)
{
    static const char *const names[] = {
        [RELAY_AR_PENDING] = "pending", [RELAY_AR_DELIVERED] = "delivered",
        [RELAY_AR_FAILED] = "failed",
    };

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *relay_admin_op_name(enum relay_admin_op op)
{
    static const char *const names[] = {
        [RELAY_ADMIN_LIST] = "list", [RELAY_ADMIN_SUMMARY] = "summary",
        [RELAY_ADMIN_SHOW] = "show", [RELAY_ADMIN_RETRY] = "retry",
        [RELAY_ADMIN_HOLD] = "hold", [RELAY_ADMIN_RELEASE] = "release",
        [RELAY_ADMIN_DELETE] = "delete", [RELAY_ADMIN_TLSRPT_SEND] = "tlsrpt-send",
    };

    return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

/* relay_admin_domain_match - "d" matches d exactly, ".d" matches d and
 * every subdomain of d (qshape's leading dot); case-insensitive */

bool relay_admin_domain_match(const char *f, const char *domain)
{
    size_t fl = strlen(f), dl = strlen(domain);

    if (f[0] != '.')
        return strcasecmp(f, domain) == 0;
    if (strcasecmp(f + 1, domain) == 0)
        return true;
    return dl > fl && strcasecmp(domain + dl - fl, f) == 0;
}
