/*
 * relay_tlsrpt_send.c - sending a day's reports (RFC 8460 3, 5).
 *
 * One send (struct tlsrpt_send) covers one day that is over (UTC) and
 * every policy domain of it, or one domain:
 *  0. if the day still has counts in memory (the old day right after
 *     midnight, or a write on the pool), the send waits for that write;
 *  1. on the pool: DAY.json and DAY.sent are read; for each domain not yet
 *     sent (or every one, with again) the report is built, serialized and
 *     gzip'd;
 *  2. here, at most TLSRPT_MAX_ACTIVE domains at a time:
 *     _smtp._tls.D TXT (dns_txt_lookup) gives the rua URIs; a mailto:
 *     report mail is spooled and committed like a DSN (relay_spool on the
 *     owner's worker) and the owner hears of it (env.queued); an https:
 *     report is POSTed (application/tlsrpt+gzip) through relay_http to the
 *     address dns_host_lookup finds;
 *  3. on the pool: every domain with at least one URI that took the report
 *     (a committed mail, a 2xx answer) is recorded in DAY.sent, so neither a
 *     restart nor the next pass sends it again; in the daily pass, a domain
 *     whose lookup or URIs failed for a reason that may pass (DNS timeout,
 *     refused POST) is tried again an hour later, until the next day's
 *     pass; one without a TLSRPT record is not (a restart looks again).
 *
 * CONTRACT
 *  relay_tlsrpt_send's callback runs exactly once, always later, with a
 *  text of one line per domain ("DOMAIN sent to URI..." / "DOMAIN not
 *  sent: why"), borrowed for the call.  Each send counts in t->busy
 *  until its callback has run, so the recorder outlives it.  At the
 *  close, lookups and transfers are cancelled and their URIs count as
 *  failed; mails being committed finish.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "relay_http.h"
#include "relay_spool.h"
#include "relay_tlsrpt_int.h"
#include "relay_worker.h"

#define TLSRPT_HTTP_TIMEOUT_MS  60000
#define TLSRPT_RETRY_S          3600    /* a failed domain: the next pass after this */
#define TLSRPT_ANSWER_MS        150000  /* `domsec tlsrpt send` waits 180 s: answer before */

struct tlsrpt_item;

struct tlsrpt_uri {                     /* one rua URI of one domain */
    struct tlsrpt_item *it;
    char   *uri;                        /* owned */
    struct dns_query *q;                /* https: host lookup in flight */
    struct relay_http_req *req;         /* https: POST in flight */
    char    qid[RELAY_QID_LEN + 1];     /* mailto: the report mail's queue id */
    char   *what;                       /* owned: "URI what happened", once over */
};

struct tlsrpt_item {                    /* one domain's report */
    struct tlsrpt_send *s;
    char   *domain, *report_id;         /* owned */
    unsigned char *gz;                  /* owned */
    size_t  gzlen;
    struct dns_query *q;                /* TXT lookup in flight */
    struct tlsrpt_uri *uris;            /* owned */
    size_t  nuris, pending;
    json_t *outcome;                    /* owned: per URI "URI: what happened" */
    bool    ok;                         /* at least one URI took it */
    bool    final;                      /* not sent, and trying again would not help:
                                         * no TLSRPT record, no usable rua */
    char   *why;                        /* owned: not sent because */
};

struct tlsrpt_send {
    struct relay_tlsrpt *t;
    struct tlsrpt_send *next;
    char    day[11];
    char   *domain;                     /* owned, or NULL: every domain of the day */
    bool    again;                      /* send what was sent already too */
    bool    daily;                      /* the daily pass (not an administrator's) */
    relay_tlsrpt_sent_cb *cb;
    void   *arg;
    struct relay_tlsrpt_names names;
    int     err;                        /* step 1: 0 or -errno reading the day */
    json_t *sent;                       /* owned: DAY.sent (object: domain -> record) */
    struct tlsrpt_item *items;          /* owned */
    size_t  nitems;
    size_t  started, active, ndone;     /* items started; started and not over; over */
    bool    in_next;                    /* tlsrpt_next is running (no recursion) */
    bool    waiting;                    /* step 0: the day's write, or another send of
                                         * the day, is not over */
    bool    building;                   /* step 1 or later (not waiting) */
    bool    finished;                   /* every item is over: step 3 started */
    bool    partial;                    /* today's counts so far: not recorded in DAY.sent */
    char   *text;                       /* owned: the callback's text */
    bool    canceled;
    uv_timer_t answer;                  /* an administrator's send: answer by this time */
    bool    has_timer;                  /* answer is initialised (closed before the free) */
};

/* ---- step 3: record and report ------------------------------------------ */

/* tlsrpt_sent_fn - merge this send's successes into DAY.sent (pool) */

static void tlsrpt_sent_fn(void *arg)
{
    struct tlsrpt_send *s = arg;
    char *path = xasprintf("%s/%s.sent", s->names.dir, s->day), name[16], *text;
    unsigned char *data = NULL;
    size_t len;
    json_t *sent = NULL;
    bool any = false;

    if (log_read_file(path, TLSRPT_MAX_FILE, &data, &len, NULL) == 0)
        sent = json_loads((char *)data, 0, NULL);
    if (!json_is_object(sent)) {
        json_decref(sent);
        sent = json_object();
    }
    for (size_t i = 0; i < s->nitems; i++) {
        struct tlsrpt_item *it = &s->items[i];

        if (!it->ok || s->partial)
            continue;
        any = true;
        json_object_set_new(sent, it->domain,
                            json_pack("{s:I, s:s, s:O}", "at", (json_int_t)time(NULL),
                                      "report-id", it->report_id, "to", it->outcome));
    }
    if (any) {
        snprintf(name, sizeof(name), "%s.sent", s->day);
        text = json_dumps(sent, JSON_INDENT(1) | JSON_SORT_KEYS);
        s->err = relay__tlsrpt_write(s->names.dir, name, text);
        free(text);
    }
    json_decref(sent);
    free(data);
    free(path);
}

static void tlsrpt_send_free(struct tlsrpt_send *s)
{
    for (size_t i = 0; i < s->nitems; i++) {
        struct tlsrpt_item *it = &s->items[i];

        for (size_t k = 0; k < it->nuris; k++) {
            free(it->uris[k].uri);
            free(it->uris[k].what);
        }
        free(it->uris);
        free(it->domain);
        free(it->report_id);
        free(it->gz);
        free(it->why);
        json_decref(it->outcome);
    }
    free(s->items);
    free(s->domain);
    free(s->text);
    json_decref(s->sent);
    relay_tlsrpt_names_free(&s->names);
    free(s);
}

/* tlsrpt_send_closed - close_cb of the answer timer: free the send */

static void tlsrpt_send_closed(uv_handle_t *h)
{
    struct tlsrpt_send *s = h->data;
    struct relay_tlsrpt *t = s->t;

    tlsrpt_send_free(s);
    t->busy--;
    relay__tlsrpt_maybe_done(t);
}

/* tlsrpt_answer_due - an administrator's send runs long: answer now with what is
 * done; the rest goes on and is logged */

static void tlsrpt_answer_due(uv_timer_t *h)
{
    struct tlsrpt_send *s = h->data;
    char *text;

    if (s->cb == NULL)
        return;
    text = xasprintf("day %s: still sending after %u s (%zu of %zu domains done); the rest go on,"
                     " see the log (tlsrpt report day=%s)\n", s->day, TLSRPT_ANSWER_MS / 1000,
                     s->ndone, s->nitems, s->day);
    s->cb(s->arg, text);
    s->cb = NULL;
    free(text);
}

/* tlsrpt_sent_done - recorded: tell the caller, unlink, free */

static void tlsrpt_sent_done(struct relay_tlsrpt *t, void *arg)
{
    struct tlsrpt_send *s = arg;
    struct tlsrpt_send **pp;

    if (s->err != 0)
        log_errx("tlsrpt", 0, "cannot record day=%s sent in %s: %s (a restart may send again)",
                 s->day, s->names.dir, strerror(-s->err));
    for (pp = &t->sends; *pp != s; pp = &(*pp)->next)
        ;
    *pp = s->next;
    if (s->cb != NULL)
        s->cb(s->arg, s->text ? s->text : "");
    if (s->has_timer) {
        uv_close((uv_handle_t *)&s->answer, tlsrpt_send_closed);   /* frees s then */
    } else {
        tlsrpt_send_free(s);
        t->busy--;                      /* the send's own count; the pool work's follows */
    }
    if (!t->closing)
        relay__tlsrpt_send_resume(t);   /* a send of the same day waited for this one */
}

/* tlsrpt_finish - every domain is done: the text, then step 3 */

static void tlsrpt_finish(struct tlsrpt_send *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    if (fp == NULL)
        log_panic("tlsrpt", "out of memory (open_memstream)");
    fputs(s->text ? s->text : "", fp);
    for (size_t i = 0; i < s->nitems; i++) {
        struct tlsrpt_item *it = &s->items[i];

        fprintf(fp, "%s %s: ", it->domain, it->ok ? "sent" : "not sent");
        if (!it->ok && it->why != NULL)
            fputs(it->why, fp);
        for (size_t k = 0; (it->ok || it->why == NULL) && k < it->nuris; k++)  /* the record's order */
            fprintf(fp, "%s%s", k ? "; " : "", it->uris[k].what ? it->uris[k].what : it->uris[k].uri);
        fputc('\n', fp);
        log_info("tlsrpt", 0, "report day=%s domain=%s id=%s %s", s->day, it->domain, it->report_id,
                 it->ok ? "sent" : "not-sent");
        if (!it->ok && !it->final && s->daily)
            s->t->pass_retry = true;
    }
    if (s->partial && s->nitems > 0)
        fprintf(fp, "(day %s is not over: its counts so far; not recorded as sent)\n", s->day);
    if (fclose(fp) != 0)
        log_panic("tlsrpt", "out of memory (open_memstream)");
    free(s->text);
    s->text = text;
    relay__tlsrpt_pool(s->t, tlsrpt_sent_fn, tlsrpt_sent_done, s);
}

/* ---- step 2 for one domain: recorded as sent at once ---------------------- */

struct tlsrpt_rec {                     /* one line for DAY.sent.log; owns its copies */
    char   *dir, *name, *line;
    int     err;
};

/* tlsrpt_rec_fn - append the line, durably (pool) */

static void tlsrpt_rec_fn(void *arg)
{
    struct tlsrpt_rec *r = arg;

    r->err = relay__tlsrpt_append(r->dir, r->name, r->line);
}

static void tlsrpt_rec_done(struct relay_tlsrpt *t, void *arg)
{
    struct tlsrpt_rec *r = arg;

    (void)t;
    if (r->err != 0)
        log_errx("tlsrpt", 0, "cannot record in %s/%s: %s (a restart may send again)", r->dir,
                 r->name, strerror(-r->err));
    free(r->dir);
    free(r->name);
    free(r->line);
    free(r);
}

/* tlsrpt_item_over - every URI of it is over: its outcome; taken: recorded now, so
 * a crash later in the pass does not send it again */

static void tlsrpt_item_over(struct tlsrpt_item *it)
{
    struct tlsrpt_send *s = it->s;
    struct tlsrpt_rec *r;
    json_t *rec;

    s->ndone++;
    for (size_t k = 0; k < it->nuris; k++)
        json_array_append_new(it->outcome, json_string(it->uris[k].what ? it->uris[k].what
                                                                         : it->uris[k].uri));
    if (!it->ok || s->partial)
        return;
    rec = json_pack("{s:s, s:I, s:s, s:O}", "domain", it->domain, "at", (json_int_t)time(NULL),
                    "report-id", it->report_id, "to", it->outcome);
    r = xcalloc(1, sizeof(*r));
    r->dir = xstrdup(s->names.dir);
    r->name = xasprintf("%s.sent.log", s->day);
    r->line = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (r->line == NULL)
        log_panic("tlsrpt", "out of memory (json_dumps)");
    relay__tlsrpt_pool(s->t, tlsrpt_rec_fn, tlsrpt_rec_done, r);
}

static void tlsrpt_next(struct tlsrpt_send *s);

/* tlsrpt_uri_end - one URI u (or, u NULL, the lookup) of it is over */

static void tlsrpt_uri_end(struct tlsrpt_item *it, struct tlsrpt_uri *u, bool ok, const char *what)
{
    if (u != NULL) {
        u->what = xasprintf("%s %s", u->uri, what);
        log_info("tlsrpt", 0, "report domain=%s uri=%s %s", it->domain, u->uri, what);
    }
    if (ok)
        it->ok = true;
    if (it->pending > 0 && --it->pending > 0)
        return;
    tlsrpt_item_over(it);
    it->s->active--;
    tlsrpt_next(it->s);
}

/* ---- step 2: mailto ------------------------------------------------------ */

/* tlsrpt_mail_committed - the report mail is durable (or not) */

static void tlsrpt_mail_committed(struct relay_spool *sp, int status, void *arg)
{
    struct tlsrpt_uri *u = arg;
    struct relay_tlsrpt *t = u->it->s->t;
    char what[96];

    (void)sp;
    t->busy--;
    if (status < 0) {
        snprintf(what, sizeof(what), "not queued: %s", uv_strerror(status));
    } else {
        snprintf(what, sizeof(what), "queued id=%s", u->qid);
        if (t->env.queued != NULL)
            t->env.queued(t->env.owner, u->qid);
    }
    tlsrpt_uri_end(u->it, u, status >= 0, what);
    relay__tlsrpt_maybe_done(t);
}

/* tlsrpt_mailto - the report mail into our own queue */

static void tlsrpt_mailto(struct tlsrpt_uri *u)
{
    struct tlsrpt_item *it = u->it;
    struct tlsrpt_send *s = it->s;
    const char *rcpt = u->uri + 7;
    int64_t now = (int64_t)time(NULL);
    char when[32], *env, *mail;
    size_t len;

    if (*rcpt == '\0' || strpbrk(rcpt, "<>\r\n ?") != NULL || strchr(rcpt, '@') == NULL) {
        tlsrpt_uri_end(it, u, false, "not a usable address");
        return;
    }
    relay_queue_new_id(u->qid);
    struct relay_tlsrpt_mail_in in = {
        .sender = s->names.sender, .rcpt = rcpt, .domain = it->domain,
        .submitter = s->names.submitter, .report_id = it->report_id, .day = s->day,
        .start = relay_tlsrpt_day_start(s->day), .unique = u->qid, .now = now,
        .gz = it->gz, .gzlen = it->gzlen,
    };
    mail = relay_tlsrpt_mail(&in, &len);
    log_iso_time(when, sizeof(when), now, NULL);
    when[strlen(when) - 1] = '\0';      /* the envelope's arrival: "...T..:..:..", then ".000Z" */
    env = xasprintf("DSQ1\nid %s\narrival %s.000Z\nconnector (tlsrpt)\nclient 127.0.0.1:0\n"
                    "helo %s\nsession 0000000000000000\nsender <%s>\nrcpt <%s>\n",
                    u->qid, when, s->names.submitter, s->names.sender, rcpt);
    struct relay_spool *sp = relay_spool_begin(s->t->env.w, u->qid, env, strlen(env));
    relay_spool_append(sp, mail, len);
    /* RFC 8460 5.3: delivered despite TLS failures (the mail says TLS-Required: No,
     * RFC 8689 4.2.2: no MTA-STS for it; a domain-secure partner still wins). */
    relay_spool_set_record(sp, "tls-required no\n");
    s->t->busy++;
    relay_spool_commit(sp, tlsrpt_mail_committed, u);
    free(env);
    free(mail);
}

/* ---- step 2: https ------------------------------------------------------- */

/* tlsrpt_posted - the POST's answer */

static void tlsrpt_posted(void *arg, const struct relay_http_result *res)
{
    struct tlsrpt_uri *u = arg;
    bool ok = res->error == NULL && res->status >= 200 && res->status < 300;
    char what[160];

    u->req = NULL;
    if (res->error != NULL)
        snprintf(what, sizeof(what), "not posted: %s", res->error);
    else
        snprintf(what, sizeof(what), "%s status=%d", ok ? "posted" : "refused", res->status);
    tlsrpt_uri_end(u->it, u, ok, what);
}

/* tlsrpt_host_found - the https URI's host has addresses (or not): POST */

static void tlsrpt_host_found(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct tlsrpt_uri *u = arg;
    struct relay_tlsrpt *t = u->it->s->t;
    struct relay_http *http;
    struct sockaddr_storage *addrs;
    struct relay_http_opts o = {
        .url = u->uri, .post_type = "application/tlsrpt+gzip",
        .post = u->it->gz, .post_len = u->it->gzlen, .timeout_ms = TLSRPT_HTTP_TIMEOUT_MS,
    };

    (void)q;
    u->q = NULL;
    if (u->it->s->canceled) {
        tlsrpt_uri_end(u->it, u, false, "not posted: stopping");
        return;
    }
    if (res->status != DNS_OK || res->nhosts == 0 || res->hosts[0].naddrs == 0) {
        char what[160];

        snprintf(what, sizeof(what), "not posted: host: %s", res->why ? res->why : "no address");
        tlsrpt_uri_end(u->it, u, false, what);
        return;
    }
    if ((http = t->env.http ? t->env.http(t->env.owner) : NULL) == NULL) {
        tlsrpt_uri_end(u->it, u, false, "not posted: no HTTP client");
        return;
    }
    addrs = xcalloc(res->hosts[0].naddrs, sizeof(*addrs));
    o.ca_file = u->it->s->names.ca_file;
    o.naddrs = 0;
    for (size_t i = 0; i < res->hosts[0].naddrs; i++)   /* no SSRF from a hostile record */
        if (u->it->s->names.private_ok || !relay__tlsrpt_addr_private(&res->hosts[0].addrs[i]))
            addrs[o.naddrs++] = res->hosts[0].addrs[i];
    if (o.naddrs == 0) {
        free(addrs);
        tlsrpt_uri_end(u->it, u, false, "not posted: the host has only loopback, link-local or"
                                         " private addresses (tlsrpt_private_addresses = no)");
        return;
    }
    o.addrs = addrs;
    u->req = relay_http_start(http, &o, tlsrpt_posted, u);
    free(addrs);
}

/* tlsrpt_https - look the URI's host up, then POST */

static void tlsrpt_https(struct tlsrpt_uri *u)
{
    const char *h = u->uri + 8;
    size_t n = strcspn(h, ":/?#");
    char host[256];
    struct dns_resolver *r = u->it->s->t->env.resolver(u->it->s->t->env.owner);

    if (n == 0 || n >= sizeof(host) || r == NULL || u->it->s->canceled) {
        tlsrpt_uri_end(u->it, u, false, n == 0 || n >= sizeof(host) ? "not a usable URI"
                                                                         : "not posted: stopping");
        return;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    u->q = dns_host_lookup(r, host, tlsrpt_host_found, u);
}

/* ---- step 2: the rua ----------------------------------------------------- */

/* tlsrpt_txt_found - _smtp._tls.D answered: each URI gets the report */

static void tlsrpt_txt_found(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct tlsrpt_item *it = arg;
    const char *why = NULL;
    char **uris;
    size_t n = 0;

    (void)q;
    it->q = NULL;
    if (it->s->canceled || res->status == DNS_CANCELED) {
        it->why = xstrdup("stopping");
        tlsrpt_uri_end(it, NULL, false, NULL);
        return;
    }
    if (res->status != DNS_OK) {
        it->final = res->status == DNS_FAIL;
        it->why = xasprintf("_smtp._tls.%s: %s", it->domain,
                            res->status == DNS_FAIL ? "no TLSRPT record"
                            : res->why ? res->why : "DNS failure");
        tlsrpt_uri_end(it, NULL, false, NULL);
        return;
    }
    if ((uris = relay_tlsrpt_rua(res->txt, res->ntxt, &why)) == NULL) {
        it->final = true;
        it->why = xasprintf("_smtp._tls.%s: %s", it->domain, why);
        tlsrpt_uri_end(it, NULL, false, NULL);
        return;
    }
    while (uris[n] != NULL)
        n++;
    it->uris = xcalloc(n, sizeof(*it->uris));
    it->nuris = it->pending = n;
    for (size_t i = 0; i < n; i++) {
        it->uris[i].it = it;
        it->uris[i].uri = uris[i];
    }
    free(uris);                         /* the strings are the URIs' now */
    for (size_t i = 0; i < n; i++) {
        if (strncasecmp(it->uris[i].uri, "mailto:", 7) == 0)
            tlsrpt_mailto(&it->uris[i]);
        else
            tlsrpt_https(&it->uris[i]);
    }
}

/* ---- step 1: the reports -------------------------------------------------- */

/* tlsrpt_build_fn - read the day and DAY.sent, build the reports due (pool) */

static void tlsrpt_build_fn(void *arg)
{
    struct tlsrpt_send *s = arg;
    char *path = xasprintf("%s/%s.json", s->names.dir, s->day);
    struct relay_tlsrpt_who who = {
        .organization = s->names.org, .contact = s->names.contact, .submitter = s->names.submitter,
    };
    unsigned char *data = NULL;
    json_t *day = NULL, *domains, *by;
    size_t len, i;

    if (log_read_file(path, TLSRPT_MAX_FILE, &data, &len, NULL) < 0)
        s->err = -errno;
    else if ((day = json_loads((char *)data, 0, NULL)) == NULL)
        s->err = -EBADMSG;
    free(data);
    free(path);
    s->sent = relay__tlsrpt_sent_read(s->names.dir, s->day);
    if (day == NULL)
        return;
    domains = relay_tlsrpt_day_domains(day);
    by = relay_tlsrpt_day_by_domain(day);      /* each report in O(its size), not O(day) */
    s->items = xcalloc(json_array_size(domains) + 1, sizeof(*s->items));
    for (i = 0; i < json_array_size(domains); i++) {
        const char *dom = json_string_value(json_array_get(domains, i));
        struct tlsrpt_item *it;
        json_t *rep;
        char *text;

        if ((s->domain != NULL && strcasecmp(s->domain, dom) != 0)
            || (!s->again && json_object_get(s->sent, dom) != NULL))
            continue;
        rep = relay_tlsrpt_report_of(s->day, dom, json_object_get(by, dom), &who);
        if (rep == NULL)
            continue;
        it = &s->items[s->nitems++];
        it->s = s;
        it->domain = xstrdup(dom);
        it->report_id = xstrdup(json_string_value(json_object_get(rep, "report-id")));
        text = json_dumps(rep, JSON_COMPACT);
        it->gz = relay_tlsrpt_gzip(text, strlen(text), &it->gzlen);
        it->outcome = json_array();
        free(text);
        json_decref(rep);
    }
    json_decref(by);
    json_decref(domains);
    json_decref(day);
}

/* tlsrpt_item_start - look one domain's rua up */

static void tlsrpt_item_start(struct tlsrpt_item *it)
{
    struct relay_tlsrpt *t = it->s->t;
    struct dns_resolver *r = t->env.resolver(t->env.owner);
    char *name;

    if (r == NULL || it->s->canceled) {
        it->why = xstrdup("stopping");
        tlsrpt_uri_end(it, NULL, false, NULL);
        return;
    }
    name = xasprintf("_smtp._tls.%s", it->domain);
    it->q = dns_txt_lookup(r, name, tlsrpt_txt_found, it);
    free(name);
}

/* tlsrpt_next - start domains up to TLSRPT_MAX_ACTIVE at once; all over: finish */

static void tlsrpt_next(struct tlsrpt_send *s)
{
    if (s->in_next)
        return;                         /* an item ended inside tlsrpt_item_start */
    s->in_next = true;
    while (s->started < s->nitems && s->active < TLSRPT_MAX_ACTIVE) {
        s->active++;
        tlsrpt_item_start(&s->items[s->started++]);
    }
    s->in_next = false;
    if (s->started == s->nitems && s->active == 0 && !s->finished) {
        s->finished = true;
        tlsrpt_finish(s);
    }
}

/* tlsrpt_built - the reports are built: look each domain's rua up */

static void tlsrpt_built(struct relay_tlsrpt *t, void *arg)
{
    struct tlsrpt_send *s = arg;

    (void)t;
    if (s->err != 0 || s->nitems == 0) {
        log_info("tlsrpt", 0, "report day=%s nothing to send%s", s->day,
                 s->err == -ENOENT ? " (no results recorded)" : s->err ? " (cannot read)" : "");
        if (s->err == -ENOENT)
            s->text = xasprintf("day %s: no TLS results recorded\n", s->day);
        else if (s->err != 0)
            s->text = xasprintf("day %s: cannot read %s/%s.json: %s\n", s->day, s->names.dir,
                                s->day, strerror(-s->err));
        else
            s->text = xasprintf("day %s: nothing to send%s%s%s\n", s->day,
                                s->domain ? " for " : "", s->domain ? s->domain : "",
                                s->again ? "" : " (reports already sent are not sent again"
                                           " without --again)");
        tlsrpt_finish(s);
        return;
    }
    tlsrpt_next(s);
}

/* tlsrpt_build - step 1 on the pool */

static void tlsrpt_build(struct tlsrpt_send *s)
{
    s->waiting = false;
    s->building = true;
    relay__tlsrpt_pool(s->t, tlsrpt_build_fn, tlsrpt_built, s);
}

/* tlsrpt_may_build - s's day is on disk and no other send of it runs: one send
 * of a day at a time, so two never both send a domain nor write DAY.sent at once */

static bool tlsrpt_may_build(const struct tlsrpt_send *s)
{
    if (relay__tlsrpt_day_pending(s->t, s->day))
        return false;
    for (const struct tlsrpt_send *o = s->t->sends; o != NULL; o = o->next)
        if (o != s && o->building && strcmp(o->day, s->day) == 0)
            return false;
    return true;
}

/* relay__tlsrpt_send_resume - a write or a send ended: the sends waiting, oldest first */

void relay__tlsrpt_send_resume(struct relay_tlsrpt *t)
{
    struct tlsrpt_send *oldest;

    do {                                /* the list is newest first */
        oldest = NULL;
        for (struct tlsrpt_send *s = t->sends; s != NULL; s = s->next)
            if (s->waiting && tlsrpt_may_build(s))
                oldest = s;
        if (oldest != NULL)
            tlsrpt_build(oldest);
    } while (oldest != NULL);
}

static void tlsrpt_daily_done(void *arg, const char *text);

/* relay_tlsrpt_send - send day's reports (domain: only its; again: sent ones too) */

void relay_tlsrpt_send(struct relay_tlsrpt *t, const char *day, const char *domain, bool again,
                       relay_tlsrpt_sent_cb *cb, void *arg)
{
    struct tlsrpt_send *s = xcalloc(1, sizeof(*s));
    char today[11];

    s->t = t;
    memcpy(s->day, day, sizeof(s->day) - 1);
    s->domain = domain && *domain ? xstrdup(domain) : NULL;
    s->again = again;
    s->cb = cb;
    s->arg = arg;
    relay__tlsrpt_names(&s->names);
    s->next = t->sends;
    t->sends = s;
    t->busy++;                          /* until the send is freed: t outlives every send */
    if (cb != NULL && cb != tlsrpt_daily_done) {
        uv_timer_init(&t->env.w->loop, &s->answer);
        s->answer.data = s;
        uv_timer_start(&s->answer, tlsrpt_answer_due, TLSRPT_ANSWER_MS, 0);
        s->has_timer = true;
    }
    relay_tlsrpt_day_name((int64_t)time(NULL), today);
    if (strcmp(s->day, today) > 0 || t->closing) {
        s->text = t->closing ? xasprintf("day %s: not sent: stopping\n", s->day)
                  : xasprintf("day %s: not begun yet (UTC): not sent\n", s->day);
        tlsrpt_finish(s);
        return;
    }
    /* Today's counts so far: sent (an administrator's test), never recorded
     * as sent, so the daily pass still sends the whole day. */
    s->partial = strcmp(s->day, today) == 0;
    log_info("tlsrpt", 0, "send day=%s domain=%s again=%s", s->day, domain ? domain : "*",
             again ? "yes" : "no");
    relay__tlsrpt_flush_now(t);
    if (!tlsrpt_may_build(s)) {
        s->waiting = true;              /* its last counts are written first, or the
                                         * other send of the day ends first */
        return;
    }
    tlsrpt_build(s);
}

/* ---- the daily pass ------------------------------------------------------- */

/* tlsrpt_daily_done - the pass is over; a domain left unsent is tried again later */

static void tlsrpt_daily_done(void *arg, const char *text)
{
    struct relay_tlsrpt *t = arg;

    (void)text;
    t->pass_at = t->pass_retry ? (int64_t)time(NULL) + TLSRPT_RETRY_S : 0;
    t->pass_retry = false;
}

/* relay__tlsrpt_daily - yesterday's reports once due (and again hourly for failures) */

void relay__tlsrpt_daily(struct relay_tlsrpt *t, int64_t now)
{
    char yday[11];
    int64_t due;
    struct config *cfg;

    if (t->closing || !t->loaded)
        return;
    relay_tlsrpt_day_name(now - 86400, yday);
    if (strcmp(yday, t->passed) != 0) {          /* a new day to report: when? */
        cfg = policy_config_current();
        if (t->rnd == 0)
            t->rnd = uv_hrtime() | 1;
        t->rnd = t->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        due = relay_tlsrpt_day_start(yday) + 86400
              + (int64_t)(cfg->transport.tlsrpt_send_delay
                          ? (t->rnd >> 33) % (cfg->transport.tlsrpt_send_delay / 1000 + 1) : 0);
        policy_config_unref(cfg);
        memcpy(t->passed, yday, sizeof(t->passed));
        t->pass_at = due;
    }
    if (t->pass_at == 0 || now < t->pass_at)
        return;
    t->pass_at = 0;                     /* running; tlsrpt_daily_done sets a retry */
    relay_tlsrpt_send(t, yday, NULL, false, tlsrpt_daily_done, t);
    t->sends->daily = true;
}

/* relay__tlsrpt_send_cancel_all - the close: cancel lookups and transfers; a
 * send still waiting for its day's write ends now */

void relay__tlsrpt_send_cancel_all(struct relay_tlsrpt *t)
{
    for (struct tlsrpt_send *s = t->sends; s != NULL; s = s->next) {
        s->canceled = true;
        if (s->waiting) {
            s->waiting = false;
            s->text = xasprintf("day %s: not sent: stopping\n", s->day);
            tlsrpt_finish(s);
            continue;
        }
        for (size_t i = 0; i < s->nitems; i++) {
            struct tlsrpt_item *it = &s->items[i];

            dns_query_cancel(it->q);    /* their callbacks end them, later */
            for (size_t k = 0; k < it->nuris; k++) {
                struct tlsrpt_uri *u = &it->uris[k];

                dns_query_cancel(u->q);
                if (u->req != NULL) {
                    relay_http_cancel(u->req);
                    u->req = NULL;
                    tlsrpt_uri_end(it, u, false, "not posted: stopping");
                }
            }
        }
    }
}
