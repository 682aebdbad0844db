/*
 * relay_ctl_queue.c - the queue.* commands of the control socket: JSON
 * args -> a relay_admin_req (relay_admin.h) -> the queue manager
 * (relay_qmgr_admin), whose answer comes back here as JSON.
 *
 *   queue.list     {domain?, state?, older_than_s?, limit?, after?}
 *   queue.summary  {domain?, state?, older_than_s?, buckets?, bucket_s?, by_sender?, top?}
 *   queue.show     {id, body?, body_offset?}          (body: admin only)
 *   queue.retry    {id | domain | all, state?, older_than_s?}
 *   queue.hold     the same;  queue.release  the same
 *   queue.delete   the same + {bounce?, confirm?}     (all: confirm "ALL")
 *
 * Times are Unix ms on the wire, addresses without <>, "" the null sender.
 * The shapes (JSON_STRICT) are checked by relay_ctlproto.c's table before a
 * handler runs; the handlers check the values (id syntax, one selector,
 * ranges).
 *
 * CONTRACT
 *  Handlers run on the main loop and answer later: the request goes to
 *  the queue manager's mailbox; its done (on the queue manager's loop)
 *  only hands it back to main (ctl_req_defer), where the JSON is built,
 *  the answer sent and the request freed.  The ctl_req stays valid until
 *  answered even if the client has gone.  Errors: not_found, conflict,
 *  internal (I/O: the errno text), stopping; bad_args for bad values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay_admin.h"
#include "relay_ctl.h"
#include "relay_qmgr.h"

/* ---- results to JSON ---------------------------------------------------- */

/* ctlq_base64 - standard base64 of n bytes (owned) */

static char *ctlq_base64(const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char   *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0)
                     | (i + 2 < n ? p[i + 2] : 0);

        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* ctlq_bytes - bytes as obj[key] (UTF-8 as it is, else base64 and
 * obj[key_encoding] = "base64") */

static void ctlq_bytes(json_t *obj, const char *key, const char *p, size_t n)
{
    json_t *s = json_stringn(p, n);     /* NULL when not valid UTF-8 */
    char    enc[64];

    if (s == NULL) {
        char   *b = ctlq_base64((const unsigned char *)p, n);

        s = json_string(b);
        free(b);
        snprintf(enc, sizeof(enc), "%s_encoding", key);
        json_object_set_new(obj, enc, json_string("base64"));
    }
    json_object_set_new(obj, key, s);
}

/* ctlq_str_or_null - text from outside (a peer's reply, a client's HELO,
 * an address) as a JSON string, bytes that are not UTF-8 as "\xFF", or null:
 * json_string() would give NULL and drop the whole message or recipient */

static json_t *ctlq_str_or_null(const char *s)
{
    return s != NULL ? ctlproto_string(s) : json_null();
}

/* ctlq_msg - one message as queue.list lists it (queue.show adds to it) */

static json_t *ctlq_msg(const struct relay_admin_msg *m)
{
    json_t *rcpts = json_array();
    json_t *o = json_pack("{s:s, s:o, s:I, s:I, s:s, s:b, s:I, s:I, s:I, s:i, s:b}",
                          "id", m->id, "sender", ctlq_str_or_null(m->sender),
                          "arrival_ms", (json_int_t)m->arrival_ms, "size", (json_int_t)m->size,
                          "state", relay_admin_qstate_name(m->state), "held", m->held_ms != 0,
                          "held_ms", (json_int_t)m->held_ms, "next_ms", (json_int_t)m->next_ms,
                          "expires_ms", (json_int_t)m->expires_ms, "rounds", (int)m->rounds,
                          "delete_pending", m->delete_pending);

    for (size_t i = 0; i < m->nrcpts; i++) {
        const struct relay_admin_rcpt *r = &m->rcpts[i];

        json_array_append_new(rcpts, json_pack("{s:o, s:s, s:i, s:o, s:o, s:I}",
                                               "addr", ctlq_str_or_null(r->addr),
                                               "state", relay_admin_rstate_name(r->state),
                                               "attempts", (int)r->attempts,
                                               "last", ctlq_str_or_null(r->last),
                                               "remote", ctlq_str_or_null(r->remote),
                                               "last_ms", (json_int_t)r->last_ms));
    }
    json_object_set_new(o, "rcpts", rcpts);
    return o;
}

static json_t *ctlq_list_json(const struct relay_admin_req *req)
{
    json_t *msgs = json_array();

    for (size_t i = 0; i < req->nmsgs; i++)
        json_array_append_new(msgs, ctlq_msg(&req->msgs[i]));
    return json_pack("{s:o, s:b, s:o}", "messages", msgs, "more", req->more, "next_after",
                     req->more && req->nmsgs > 0 ? json_string(req->msgs[req->nmsgs - 1].id)
                                                 : json_null());
}

static json_t *ctlq_show_json(const struct relay_admin_req *req)
{
    const struct relay_admin_msg *m = &req->msgs[0];
    json_t *o = ctlq_msg(m);

    json_object_set_new(o, "connector", ctlq_str_or_null(m->connector));
    json_object_set_new(o, "client", ctlq_str_or_null(m->client));
    json_object_set_new(o, "helo", ctlq_str_or_null(m->helo));
    json_object_set_new(o, "session", ctlq_str_or_null(m->session));
    json_object_set_new(o, "delay_dsn_ms", json_integer((json_int_t)m->delay_dsn_ms));
    if (m->headers != NULL) {
        ctlq_bytes(o, "headers", m->headers, m->headers_len);
        json_object_set_new(o, "headers_truncated", json_boolean(m->headers_truncated));
    }
    if (m->body != NULL) {
        ctlq_bytes(o, "body", m->body, m->body_len);
        json_object_set_new(o, "body_offset", json_integer((json_int_t)req->body_off));
        json_object_set_new(o, "body_more", json_boolean(m->body_more));
        json_object_set_new(o, "body_next_offset",
                            json_integer((json_int_t)(req->body_off + m->body_len)));
    }
    return o;
}

static json_t *ctlq_row(const struct relay_admin_row *r, unsigned nb)
{
    json_t *counts = json_array();

    for (unsigned i = 0; i <= nb; i++)
        json_array_append_new(counts, json_integer(r->counts[i]));
    return json_pack("{s:o, s:i, s:o}", "domain", ctlq_str_or_null(r->domain),
                     "total", (int)r->total,
                     "counts", counts);
}

static json_t *ctlq_summary_json(const struct relay_admin_req *req)
{
    const struct relay_admin_summary *s = req->summary;
    json_t *limits = json_array(), *rows = json_array();

    for (unsigned i = 0; i < s->nbuckets; i++)
        json_array_append_new(limits, json_integer((json_int_t)(s->limit_ms[i] / 1000)));
    for (size_t i = 0; i < s->nrows; i++)
        json_array_append_new(rows, ctlq_row(&s->rows[i], s->nbuckets));
    return json_pack("{s:o, s:o, s:o, s:I, s:s}", "buckets_s", limits, "total",
                     ctlq_row(&s->total, s->nbuckets), "rows", rows, "domains",
                     (json_int_t)s->nall, "by", req->by_sender ? "sender" : "rcpt");
}

static json_t *ctlq_counts_json(const struct relay_admin_req *req)
{
    switch (req->op) {
    case RELAY_ADMIN_RETRY:
        return json_pack("{s:i, s:i, s:i, s:i}", "matched", (int)req->matched, "retried",
                         (int)req->changed, "skipped_held", (int)req->skipped, "in_flight",
                         (int)req->in_flight);
    case RELAY_ADMIN_DELETE:
        return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "matched", (int)req->matched,
                         "deleted", (int)req->changed, "pending", (int)req->pending,
                         "dsns", (int)req->dsns, "failed", (int)req->failed,
                         "gone", (int)req->gone);
    default:
        return json_pack("{s:i, s:i, s:i, s:i, s:i}", "matched", (int)req->matched, "changed",
                         (int)req->changed, "pending", (int)req->pending,
                         "failed", (int)req->failed, "gone", (int)req->gone);
    }
}

/* ctlq_reply - main loop: the queue manager has answered req */

static void ctlq_reply(struct ctl_req *r, void *arg)
{
    struct relay_admin_req *req = arg;
    static const char *const codes[] = {
        [RELAY_ADMIN_NOT_FOUND] = CTL_E_NOT_FOUND, [RELAY_ADMIN_CONFLICT] = CTL_E_CONFLICT,
        [RELAY_ADMIN_IO] = CTL_E_INTERNAL, [RELAY_ADMIN_STOPPING] = CTL_E_STOPPING,
    };

    if (req->status == RELAY_ADMIN_IO && req->op >= RELAY_ADMIN_HOLD) {
        /* Some writes failed, others may not have: the counts go with it. */
        json_t *e = ctlproto_error(CTL_E_INTERNAL, "%s", req->why ? req->why : "failed");

        json_object_update_new(e, ctlq_counts_json(req));
        ctl_req_err_json(r, e);
    } else if (req->status != RELAY_ADMIN_OK) {
        ctl_req_err(r, codes[req->status], "%s", req->why ? req->why : "failed");
    } else {
        switch (req->op) {
        case RELAY_ADMIN_LIST:
            ctl_req_ok(r, ctlq_list_json(req));
            break;
        case RELAY_ADMIN_SHOW:
            ctl_req_ok(r, ctlq_show_json(req));
            break;
        case RELAY_ADMIN_SUMMARY:
            ctl_req_ok(r, ctlq_summary_json(req));
            break;
        default:
            ctl_req_ok(r, ctlq_counts_json(req));
            break;
        }
    }
    relay_admin_req_free(req);
}

/* ctlq_done - the queue manager's loop: back to main */

static void ctlq_done(struct relay_admin_req *req)
{
    ctl_req_defer(req->arg, ctlq_reply, req);
}

/* ---- args to a request ------------------------------------------------- */

/* ctlq_is_id - 16 upper-case hex digits */

static bool ctlq_is_id(const char *s)
{
    size_t n = strspn(s, "0123456789ABCDEF");

    return n == RELAY_ADMIN_ID_LEN && s[n] == '\0';
}

/* The arguments of every queue command (each takes some of them). */
struct ctlq_args {
    const char *id, *domain, *state, *after, *confirm;
    json_int_t older_than_s, limit, buckets, bucket_s, top, body_offset;
    int     all, bounce, body, by_sender;
};

/* ctlq_unpack - args against the command's keys (JSON_STRICT: no other
 * key); false after answering bad_args with jansson's text */

static bool ctlq_unpack(struct ctl_req *r, json_t *args, enum relay_admin_op op,
                        struct ctlq_args *a)
{
    json_error_t err;
    int rc;

    memset(a, 0, sizeof(*a));
    a->limit = 1000;
    a->buckets = 10;
    a->bucket_s = 300;
    a->top = 50;
    switch (op) {
    case RELAY_ADMIN_LIST:
        rc = json_unpack_ex(args, &err, JSON_STRICT, "{s?s, s?s, s?I, s?I, s?s}",
                            "domain", &a->domain, "state", &a->state,
                            "older_than_s", &a->older_than_s, "limit", &a->limit,
                            "after", &a->after);
        break;
    case RELAY_ADMIN_SUMMARY:
        rc = json_unpack_ex(args, &err, JSON_STRICT, "{s?s, s?s, s?I, s?I, s?I, s?b, s?I}",
                            "domain", &a->domain, "state", &a->state,
                            "older_than_s", &a->older_than_s, "buckets", &a->buckets,
                            "bucket_s", &a->bucket_s, "by_sender", &a->by_sender,
                            "top", &a->top);
        break;
    case RELAY_ADMIN_SHOW:
        rc = json_unpack_ex(args, &err, JSON_STRICT, "{s:s, s?b, s?I}", "id", &a->id,
                            "body", &a->body, "body_offset", &a->body_offset);
        break;
    case RELAY_ADMIN_DELETE:
        rc = json_unpack_ex(args, &err, JSON_STRICT, "{s?s, s?s, s?b, s?s, s?I, s?b, s?s}",
                            "id", &a->id, "domain", &a->domain, "all", &a->all,
                            "state", &a->state, "older_than_s", &a->older_than_s,
                            "bounce", &a->bounce, "confirm", &a->confirm);
        break;
    default:
        rc = json_unpack_ex(args, &err, JSON_STRICT, "{s?s, s?s, s?b, s?s, s?I}",
                            "id", &a->id, "domain", &a->domain, "all", &a->all,
                            "state", &a->state, "older_than_s", &a->older_than_s);
        break;
    }
    if (rc < 0)
        ctl_req_err(r, CTL_E_BAD_ARGS, "queue.%s: %s", relay_admin_op_name(op), err.text);
    return rc == 0;
}

/* ctlq_filters - state, older_than_s, domain; false after answering bad_args */

static bool ctlq_filters(struct ctl_req *r, const struct ctlq_args *a,
                         struct relay_admin_req *req)
{
    if (a->state == NULL)
        req->sel.state = RELAY_AQ_ANY;
    else if (strcmp(a->state, "active") == 0)
        req->sel.state = RELAY_AQ_ACTIVE;
    else if (strcmp(a->state, "deferred") == 0)
        req->sel.state = RELAY_AQ_DEFERRED;
    else if (strcmp(a->state, "held") == 0)
        req->sel.state = RELAY_AQ_HELD;
    else
        return ctl_req_err(r, CTL_E_BAD_ARGS, "state: active, deferred or held, not %s",
                           a->state), false;
    if (a->older_than_s < 0 || a->older_than_s > 100LL * 365 * 86400)
        return ctl_req_err(r, CTL_E_BAD_ARGS, "older_than_s: 0 to 100 years"), false;
    req->sel.older_than_ms = (uint64_t)a->older_than_s * 1000;
    if (a->domain != NULL) {
        if (a->domain[0] == '\0' || strlen(a->domain) > 255
            || strpbrk(a->domain, "@ <>\"") != NULL)
            return ctl_req_err(r, CTL_E_BAD_ARGS, "domain: not a domain: %s", a->domain), false;
        req->sel.domain = xstrdup(a->domain);
        for (char *p = req->sel.domain; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    return true;
}

/* ctlq_selector - exactly one of id / domain / all (a change's target) */

static bool ctlq_selector(struct ctl_req *r, const struct ctlq_args *a,
                          struct relay_admin_req *req)
{
    if ((a->id != NULL) + (a->domain != NULL) + (a->all != 0) != 1)
        return ctl_req_err(r, CTL_E_BAD_ARGS, "exactly one of id, domain, all is needed"), false;
    if (a->id != NULL && !ctlq_is_id(a->id))
        return ctl_req_err(r, CTL_E_BAD_ARGS, "id: 16 upper-case hex digits, not %s", a->id),
               false;
    if (a->id != NULL)
        snprintf(req->sel.id, sizeof(req->sel.id), "%s", a->id);
    req->sel.all = a->all != 0;
    return true;
}

/* ctlq_values - the checks of op's values; false after answering bad_args */

static bool ctlq_values(struct ctl_req *r, const struct ctlq_args *a,
                        struct relay_admin_req *req)
{
    switch (req->op) {
    case RELAY_ADMIN_LIST:
        if (a->limit < 1 || a->limit > RELAY_ADMIN_LIST_MAX)
            return ctl_req_err(r, CTL_E_BAD_ARGS, "limit: 1 to %d", RELAY_ADMIN_LIST_MAX), false;
        if (a->after != NULL && a->after[0] != '\0' && !ctlq_is_id(a->after))
            return ctl_req_err(r, CTL_E_BAD_ARGS, "after: a queue id, not %s", a->after), false;
        req->limit = (unsigned)a->limit;
        snprintf(req->after, sizeof(req->after), "%s", a->after ? a->after : "");
        return true;
    case RELAY_ADMIN_SUMMARY:
        if (a->buckets < 1 || a->buckets > RELAY_ADMIN_BUCKETS_MAX || a->bucket_s < 1
            || a->bucket_s > 86400 * 30 || a->top < 1 || a->top > RELAY_ADMIN_TOP_MAX)
            return ctl_req_err(r, CTL_E_BAD_ARGS, "buckets 1 to %d, bucket_s 1 to 2592000, "
                               "top 1 to %d", RELAY_ADMIN_BUCKETS_MAX, RELAY_ADMIN_TOP_MAX),
                   false;
        req->buckets = (unsigned)a->buckets;
        req->bucket_ms = (uint64_t)a->bucket_s * 1000;
        req->by_sender = a->by_sender != 0;
        req->top = (unsigned)a->top;
        return true;
    case RELAY_ADMIN_SHOW:
        if (!ctlq_is_id(a->id))
            return ctl_req_err(r, CTL_E_BAD_ARGS, "id: 16 upper-case hex digits, not %s",
                               a->id), false;
        if (a->body && ctl_req_role(r) < CTL_ADMIN)    /* the bytes: as postcat -q, not mailq */
            return ctl_req_err(r, CTL_E_DENIED, "queue.show with the body needs an "
                               "administrator"), false;
        if (a->body_offset < 0)
            return ctl_req_err(r, CTL_E_BAD_ARGS, "body_offset: not negative"), false;
        snprintf(req->sel.id, sizeof(req->sel.id), "%s", a->id);
        req->want_body = a->body != 0;
        req->body_off = (uint64_t)a->body_offset;
        return true;
    case RELAY_ADMIN_DELETE:
        if (a->all && (a->confirm == NULL || strcmp(a->confirm, "ALL") != 0))
            return ctl_req_err(r, CTL_E_BAD_ARGS, "deleting every message needs "
                               "\"confirm\":\"ALL\""), false;
        req->bounce = a->bounce != 0;
        /* FALLTHROUGH */
    default:
        return ctlq_selector(r, a, req);
    }
}

/* ctlq_run - args -> a request for the queue manager (it answers through
 * ctlq_done), or bad_args / denied / stopping now */

static void ctlq_run(struct ctl_req *r, json_t *args, enum relay_admin_op op)
{
    struct relay_admin_req *req = relay_admin_req_new(op);
    struct ctlq_args a;

    if (!ctlq_unpack(r, args, op, &a) || !ctlq_filters(r, &a, req) || !ctlq_values(r, &a, req)) {
        relay_admin_req_free(req);
        return;
    }
    req->uid = ctl_req_uid(r);
    req->pid = ctl_req_pid(r);
    req->done = ctlq_done;
    req->arg = r;
    if (relay_qmgr_admin(req) < 0) {
        relay_admin_req_free(req);
        ctl_req_err(r, CTL_E_STOPPING, "the daemon is stopping");
    }
}

/* One handler per command: the same path with its op. */
#define CTLQ_HANDLER(name, op) \
    static void ctlq_##name(struct ctl_req *r, json_t *args) { ctlq_run(r, args, op); }
CTLQ_HANDLER(list, RELAY_ADMIN_LIST)
CTLQ_HANDLER(summary, RELAY_ADMIN_SUMMARY)
CTLQ_HANDLER(show, RELAY_ADMIN_SHOW)
CTLQ_HANDLER(retry, RELAY_ADMIN_RETRY)
CTLQ_HANDLER(hold, RELAY_ADMIN_HOLD)
CTLQ_HANDLER(release, RELAY_ADMIN_RELEASE)
CTLQ_HANDLER(delete, RELAY_ADMIN_DELETE)

const struct ctl_handler ctl_handlers_queue[] = {
    { "queue.list", ctlq_list },
    { "queue.summary", ctlq_summary },
    { "queue.show", ctlq_show },
    { "queue.retry", ctlq_retry },
    { "queue.hold", ctlq_hold },
    { "queue.release", ctlq_release },
    { "queue.delete", ctlq_delete },
    { NULL, NULL },
};
