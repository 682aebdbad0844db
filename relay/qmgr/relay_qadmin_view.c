/*
 * relay_qadmin_view.c - the read-only queue administration commands: list
 * (a page of messages by id), summary (qshape: pending recipients by
 * domain and age bucket) and show (one message, with its envelope,
 * headers and a body page read from its file on the thread pool).  They
 * describe the queue manager's memory, so what they say is what it will
 * do; relay_qadmin.c runs them from the mailbox.
 *
 * CONTRACT
 *  Runs on the queue manager's loop; each answers req (req->done) exactly
 *  once, list and summary before returning, show after its read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_qmgr_int.h"

/* ---- list, summary ---------------------------------------------------- */

static int qadmin_cmp_id(const void *a, const void *b)
{
    return strcmp((*(struct relay_qmsg *const *)a)->id, (*(struct relay_qmsg *const *)b)->id);
}

/* qadmin_text_bytes - s as a JSON string at worst: a control character
 * \u00XX, a byte that may not be UTF-8 "\\xFF" (ctlproto_string), quotes */

static size_t qadmin_text_bytes(const char *s)
{
    size_t n = 2;

    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        n += *p < 0x20 || *p == 0x7f ? 6 : *p >= 0x80 ? 5 : *p == '"' || *p == '\\' ? 2 : 1;
    return n;
}

/* qadmin_msg_bytes - m's entry in a list page at most (numbers and keys
 * included: 320 bytes a message, 128 a recipient, more than they take) */

static size_t qadmin_msg_bytes(const struct relay_qmsg *m)
{
    size_t n = 320 + qadmin_text_bytes(m->sender);

    for (size_t i = 0; i < m->nrcpts; i++)
        n += 128 + qadmin_text_bytes(m->rcpts[i].addr) + qadmin_text_bytes(m->rcpts[i].last)
             + qadmin_text_bytes(m->rcpts[i].remote);
    return n;
}

/* qmgr_admin_list - a page of the matching messages, by id, after req->after:
 * at most req->limit of them and RELAY_ADMIN_LIST_BYTES of text (but one),
 * so no reply is built that the control socket would not send */

void qmgr_admin_list(struct qmgr *q, struct relay_admin_req *req)
{
    struct relay_qmsg **v = xcalloc(q->nmsgs + 1, sizeof(*v));
    size_t n = 0, limit = req->limit ? req->limit : 1000, bytes = 0, k;
    uint64_t now = qmgr_now(q);

    if (limit > RELAY_ADMIN_LIST_MAX)
        limit = RELAY_ADMIN_LIST_MAX;
    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next)
        if (strcmp(m->id, req->after) > 0 && qmgr_admin_match(m, &req->sel, now))
            v[n++] = m;
    qsort(v, n, sizeof(*v), qadmin_cmp_id);
    for (k = 0; k < n && k < limit; k++) {
        bytes += qadmin_msg_bytes(v[k]);
        if (k > 0 && bytes > RELAY_ADMIN_LIST_BYTES)
            break;
    }
    req->more = n > k;
    req->nmsgs = k;
    req->msgs = xcalloc(req->nmsgs + 1, sizeof(*req->msgs));
    for (size_t i = 0; i < req->nmsgs; i++)
        qmgr_admin_snap(q, v[i], &req->msgs[i]);
    req->matched = (unsigned)n;
    free(v);
    qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
}

struct qadmin_pair {                    /* summary: one counted recipient or message */
    char    domain[256];
    unsigned bucket;
};

static int qadmin_cmp_pair(const void *a, const void *b)
{
    return strcmp(((const struct qadmin_pair *)a)->domain, ((const struct qadmin_pair *)b)->domain);
}

static int qadmin_cmp_row(const void *a, const void *b)
{
    const struct relay_admin_row *x = a, *y = b;

    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(x->domain, y->domain);
}

/* qadmin_bucket - the age bucket of age (overflow: nbuckets) */

static unsigned qadmin_bucket(const struct relay_admin_summary *s, uint64_t age)
{
    unsigned i = 0;

    while (i < s->nbuckets && age > s->limit_ms[i])
        i++;
    return i;
}

/*
 * qmgr_admin_summary - qshape: pending recipients by recipient domain (or
 * messages by sender domain) in geometric age buckets (each twice the
 * last; an age equal to a limit is in that bucket), a TOTAL row, the rows
 * by total descending.  One pass and a sort: O(n log n).
 */
void qmgr_admin_summary(struct qmgr *q, struct relay_admin_req *req)
{
    struct relay_admin_summary *s = xcalloc(1, sizeof(*s));
    struct qadmin_pair *p = NULL;
    size_t np = 0, cap = 0, top = req->top ? req->top : 50;
    uint64_t now = qmgr_now(q), first = req->bucket_ms ? req->bucket_ms : 5 * 60000;

    s->nbuckets = req->buckets == 0 ? 10 : req->buckets > RELAY_ADMIN_BUCKETS_MAX
                                           ? RELAY_ADMIN_BUCKETS_MAX : req->buckets;
    for (unsigned i = 0; i < s->nbuckets; i++)
        s->limit_ms[i] = i < 40 ? first << i : UINT64_MAX;
    for (struct relay_qmsg *m = q->msgs; m != NULL; m = m->next) {
        unsigned b;

        if (!qmgr_admin_match(m, &req->sel, now))
            continue;
        b = qadmin_bucket(s, now > m->arrival_ms ? now - m->arrival_ms : 0);
        for (size_t i = 0; i < (req->by_sender ? 1 : m->nrcpts); i++) {
            if (!req->by_sender && m->rcpts[i].state != RELAY_R_PENDING)
                continue;
            if (np == cap) {
                cap = cap ? cap * 2 : 64;
                p = xrealloc(p, cap * sizeof(*p));
            }
            if (req->by_sender && m->sender[0] == '\0')
                snprintf(p[np].domain, sizeof(p[np].domain), "MAILER-DAEMON");
            else
                log_mail_domain(p[np].domain, sizeof(p[np].domain),
                                req->by_sender ? m->sender : m->rcpts[i].addr);
            p[np++].bucket = b;
        }
    }
    if (np > 0)
        qsort(p, np, sizeof(*p), qadmin_cmp_pair);
    s->total.domain = xstrdup("TOTAL");
    for (size_t i = 0; i < np; i++) {
        struct relay_admin_row *r;

        if (i == 0 || strcmp(p[i].domain, p[i - 1].domain) != 0) {
            s->rows = xrealloc(s->rows, (s->nall + 1) * sizeof(*s->rows));
            r = &s->rows[s->nall++];
            memset(r, 0, sizeof(*r));
            r->domain = xstrdup(p[i].domain);
        }
        r = &s->rows[s->nall - 1];
        r->total++;
        r->counts[p[i].bucket]++;
        s->total.total++;
        s->total.counts[p[i].bucket]++;
    }
    if (s->nall > 0)
        qsort(s->rows, s->nall, sizeof(*s->rows), qadmin_cmp_row);
    s->nrows = s->nall < top ? s->nall : top;
    for (size_t i = s->nrows; i < s->nall; i++)
        free(s->rows[i].domain);
    free(p);
    req->summary = s;
    qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
}

/* ---- show ------------------------------------------------------------- */

struct qmgr_admin_show {
    struct relay_admin_req *req;
    struct relay_qmsg *copy;            /* id, data_off, data_len: m may go meanwhile */
};

/* qadmin_env_field - the value of envelope line "key value" in env, or NULL */

static char *qadmin_env_field(const char *env, const char *key)
{
    size_t kl = strlen(key);

    for (const char *p = env; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return xstrndup(p + kl + 1, strcspn(p + kl + 1, "\n"));
    return NULL;
}

/* qadmin_field_line - line p (len n, without its LF) starts a header field:
 * a name of ftext (RFC 5322: printable but ':', no space), then ':' (the
 * obsolete syntax's spaces before it allowed) */

static bool qadmin_field_line(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] > ' ' && p[i] < 0x7f && p[i] != ':')
        i++;
    if (i == 0)
        return false;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i < n && p[i] == ':';
}

/*
 * qadmin_header_len - the header section of data: the lines from the start
 * that are header fields or their continuations (a line starting with
 * space or tab).  It ends at the empty line (the body after it: *boff) or
 * at the first other line (the body starts there: a message without its
 * empty line, or without a header at all, shows no body as headers).
 */
static size_t qadmin_header_len(const char *data, size_t len, size_t *boff)
{
    size_t off = 0;

    while (off < len) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t n = (nl ? (size_t)(nl - data) : len) - off, line = nl ? n + 1 : n;

        if (n > 0 && data[off + n - 1] == '\r')
            n--;
        if (n == 0) {                   /* the empty line */
            *boff = off + line;
            return off;
        }
        if (!(off > 0 && (data[off] == ' ' || data[off] == '\t'))
            && !qadmin_field_line(data + off, n))
            break;
        off += line;
    }
    *boff = off;
    return off;
}

/* qadmin_show_work - pool: the envelope, the header section, a body page */

static void qadmin_show_work(uv_work_t *r)
{
    struct qmgr_work *w = r->data;
    struct qmgr_admin_show *sh = w->arg;
    struct relay_admin_msg *o = &sh->req->msgs[0];
    char *env, *data;
    size_t hlen, blen, boff;

    if ((env = relay_qmsg_read_envelope(qmgr_dirfd(), sh->copy, &w->err)) == NULL)
        return;
    o->connector = qadmin_env_field(env, "connector");
    o->client = qadmin_env_field(env, "client");
    o->helo = qadmin_env_field(env, "helo");
    o->session = qadmin_env_field(env, "session");
    free(env);
    if ((data = relay_qmsg_read_data(qmgr_dirfd(), sh->copy, &w->err)) == NULL)
        return;
    hlen = qadmin_header_len(data, sh->copy->data_len, &boff);
    o->headers_truncated = hlen > RELAY_ADMIN_HEADERS_MAX;
    o->headers_len = o->headers_truncated ? RELAY_ADMIN_HEADERS_MAX : hlen;
    o->headers = xstrndup(data, o->headers_len);
    if (sh->req->want_body) {
        size_t avail = sh->copy->data_len - boff;

        if (sh->req->body_off < avail) {
            blen = avail - (size_t)sh->req->body_off;
            if (blen > RELAY_ADMIN_BODY_MAX)
                blen = RELAY_ADMIN_BODY_MAX;
            o->body = xmalloc(blen + 1);
            memcpy(o->body, data + boff + sh->req->body_off, blen);
            o->body[blen] = '\0';
            o->body_len = blen;
            o->body_more = sh->req->body_off + blen < avail;
        } else {
            o->body = xstrdup("");
        }
    }
    free(data);
}

static void qadmin_shown(struct qmgr_work *w)
{
    struct qmgr_admin_show *sh = w->arg;
    struct relay_admin_req *req = sh->req;

    relay_qmsg_free(sh->copy);
    free(sh);
    if (w->err == -ENOENT)
        qmgr_admin_answer(req, RELAY_ADMIN_NOT_FOUND, "queue file %s is gone", req->sel.id);
    else if (w->err < 0)
        qmgr_admin_answer(req, RELAY_ADMIN_IO, "cannot read queue file %s: %s", req->sel.id,
                      strerror(-w->err));
    else
        qmgr_admin_answer(req, RELAY_ADMIN_OK, NULL);
}

/* qmgr_admin_show - one message: the snapshot, then its file's details (pool) */

void qmgr_admin_show(struct qmgr *q, struct relay_admin_req *req)
{
    struct relay_qmsg *m = qmgr_admin_find(q, req->sel.id);
    struct qmgr_admin_show *sh;

    if (m == NULL) {
        qmgr_admin_not_found(q, req);
        return;
    }
    req->msgs = xcalloc(1, sizeof(*req->msgs));
    req->nmsgs = 1;
    req->matched = 1;
    qmgr_admin_snap(q, m, &req->msgs[0]);
    sh = xcalloc(1, sizeof(*sh));
    sh->req = req;
    sh->copy = xcalloc(1, sizeof(*sh->copy));
    memcpy(sh->copy->id, m->id, sizeof(m->id));
    sh->copy->data_off = m->data_off;
    sh->copy->data_len = m->data_len;
    qmgr_submit_arg(q, m->id, qadmin_show_work, qadmin_shown, sh);
}
