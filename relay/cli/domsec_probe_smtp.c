/*
 * domsec_probe_smtp.c - one host of `domsec test-partner`: connect, banner,
 * EHLO, STARTTLS with our certificate, the partner's certificate checked,
 * EHLO again, QUIT.  Never MAIL: no message is ever sent.
 *
 * Each step is judged the way relay/smtp/relay_smtpc_tls.c judges it in
 * domsecd: policy_send_secure() with the facts known so far (the domain
 * taken as listed when the connector routes by MX), then relay_decide()
 * for what a reply, a timeout, a lost connection or a failed handshake
 * means (next host, plaintext fallback, bounce).  Unlike domsecd, a probe
 * that has its verdict goes on as far as the partner lets it (a
 * certificate that fails the name check is still shown with its chain):
 * the first failure is the verdict, later steps only add facts.
 *
 * CONTRACT
 *  domsec__probe_host() starts on p->addrs[p->next] and returns; the host's
 *  JSON object is appended to p->hosts and domsec__probe_next() called
 *  from the conn's CLOSED event (never inside domsec__probe_host).  The
 *  session is freed after its conn and timer are closed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domsec_cmd.h"
#include "domsec_probe.h"
#include "log.h"
#include "log_util.h"
#include "policy_secure.h"
#include "relay_tls.h"
#include "relay_trouble.h"
#include "tls_conn.h"
#include "tls_store.h"

#define PROBE_CHAIN_MAX 16              /* certificates of a chain shown */
#define PROBE_REPLY_MAX 8192            /* one multiline reply, at most */

enum probe_state {
    PROBE_CONNECT, PROBE_BANNER, PROBE_EHLO, PROBE_STARTTLS, PROBE_TLS, PROBE_EHLO2,
    PROBE_QUIT, PROBE_DONE,
};

/* domsecd's timeouts (relay_smtpc.c, RFC 5321 4.5.3.2) and its stages. */
static const uint64_t probe_timeouts[] = {
    [PROBE_CONNECT] = 30000, [PROBE_BANNER] = 300000, [PROBE_EHLO] = 300000,
    [PROBE_STARTTLS] = 300000, [PROBE_TLS] = 300000, [PROBE_EHLO2] = 300000,
    [PROBE_QUIT] = 60000, [PROBE_DONE] = 0,
};
static const enum relay_stage probe_stages[] = {
    [PROBE_CONNECT] = RELAY_S_CONNECT, [PROBE_BANNER] = RELAY_S_BANNER,
    [PROBE_EHLO] = RELAY_S_EHLO, [PROBE_STARTTLS] = RELAY_S_STARTTLS, [PROBE_TLS] = RELAY_S_TLS,
    [PROBE_EHLO2] = RELAY_S_EHLO, [PROBE_QUIT] = RELAY_S_CONNECT, [PROBE_DONE] = RELAY_S_CONNECT,
};
static const char *const probe_state_names[] = {
    [PROBE_CONNECT] = "connect", [PROBE_BANNER] = "banner", [PROBE_EHLO] = "EHLO",
    [PROBE_STARTTLS] = "STARTTLS", [PROBE_TLS] = "TLS", [PROBE_EHLO2] = "EHLO (TLS)",
    [PROBE_QUIT] = "QUIT", [PROBE_DONE] = "done",
};

struct probe_sess {
    struct probe *p;                    /* not owned */
    const struct probe_addr *a;         /* p's */
    struct tls_conn *conn;              /* until CLOSED */
    uv_timer_t timer;
    enum probe_state state;
    json_t *h;                          /* owned until appended to p->hosts */
    char    reply[PROBE_REPLY_MAX];     /* the reply being read, lines joined by '\n' */
    size_t  rlen;
    bool    starttls_offered, plaintext, failed, conn_failure, timer_closed, conn_closed;
};

static void probe_event(struct tls_conn *tc, enum tls_event ev, void *arg);

/* probe_text - n bytes the peer sent as a JSON string: bytes that are not
 * UTF-8 become '?' (jansson takes UTF-8 only; the peer may send anything) */

static json_t *probe_text(const char *text, size_t n)
{
    json_t *j = json_stringn(text, n);
    char   *c;

    if (j != NULL)
        return j;
    c = xasprintf("%.*s", (int)n, text);
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j;
}

/* probe_policy_facts - the domain-security facts known before STARTTLS */

static struct policy_outbound probe_policy_facts(const struct probe_sess *s)
{
    struct policy_outbound f = { 0 };

    f.listed = s->p->as_listed;
    f.connector_secure = s->p->sc->domain_secure_enabled;
    f.starttls_offered = s->starttls_offered;
    f.revocation_failure = s->p->cfg->transport.revocation_failure;
    return f;
}

/* probe_timeout - no reply in time */

static void probe_fail(struct probe_sess *s, const char *text, bool conn, const char *rule);

static void probe_timeout(uv_timer_t *t)
{
    struct probe_sess *s = t->data;
    struct relay_event ev = { .stage = probe_stages[s->state], .error = RELAY_E_TIMEOUT };
    struct relay_decision d = relay_decide(&ev);

    probe_fail(s, d.text, d.conn_failure, "timeout");
    relay_decision_free(&d);
    if (s->conn != NULL)
        tls_conn_close(s->conn, 0);
}

/* probe_enter_state - change state and arm its timeout */

static void probe_enter_state(struct probe_sess *s, enum probe_state st)
{
    uint64_t ms = probe_timeouts[st];

    log_debug("probe", 0, "state %s -> %s", probe_state_names[s->state], probe_state_names[st]);
    s->state = st;
    if (s->p->sc->connection_inactivity_timeout < ms)
        ms = s->p->sc->connection_inactivity_timeout;
    if (ms > 0)
        uv_timer_start(&s->timer, probe_timeout, ms, 0);
    else
        uv_timer_stop(&s->timer);
}

/* probe_send - one command line */

static void LOG_PRINTF(2, 3) probe_send(struct probe_sess *s, const char *fmt, ...)
{
    char    buf[600];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > sizeof(buf) - 3)
        n = (int)sizeof(buf) - 3;
    buf[n++] = '\r';
    buf[n++] = '\n';
    tls_conn_write(s->conn, buf, (size_t)n);
    tls_conn_flush(s->conn);
}

/* probe_fail - note this host's first failure (the verdict); later ones add nothing */

static void probe_fail(struct probe_sess *s, const char *text, bool conn, const char *rule)
{
    if (s->failed || s->plaintext)
        return;
    s->failed = true;
    s->conn_failure = conn;
    json_object_set_new(s->h, "result", json_string("failed"));
    json_object_set_new(s->h, "failed_at", json_string(probe_state_names[s->state]));
    json_object_set_new(s->h, "reply", probe_text(text ? text : "", text ? strlen(text) : 0));
    if (rule != NULL)
        json_object_set_new(s->h, "rule", json_string(rule));
}

/* probe_secure_fail - policy_send_secure refused: Exchange's log line and the reply */

static void probe_secure_fail(struct probe_sess *s, const struct policy_out_verdict *v)
{
    char    line[700];

    if (s->failed)
        return;
    policy_send_secure_logline(line, sizeof(line), s->p->domain, s->p->sc->name, v->reason,
                               v->info);
    json_object_set_new(s->h, "log", probe_text(line, strlen(line)));   /* may quote the peer */
    probe_fail(s, v->inner, false, v->rule);
}

/* probe_quit - say goodbye (no message was sent) */

static void probe_quit(struct probe_sess *s)
{
    probe_send(s, "QUIT");
    probe_enter_state(s, PROBE_QUIT);
}

/* probe_decided - relay_decide's verdict on a reply: false when the probe stops */

static bool probe_decided(struct probe_sess *s, int code, const char *text, enum relay_error e)
{
    struct relay_event ev = {
        .stage = probe_stages[s->state], .error = e, .code = code, .text = text,
        .require_tls = s->p->sc->require_tls || s->p->as_listed,
    };
    struct relay_decision d = relay_decide(&ev);
    bool    go = true;

    switch (d.host) {
    case RELAY_H_CONTINUE:
        break;
    case RELAY_H_FALLBACK:              /* HELO, or plaintext: no STARTTLS after this */
        if (s->state == PROBE_STARTTLS || s->state == PROBE_TLS) {
            s->plaintext = !s->failed;
            json_object_set_new(s->h, "fallback", probe_text(d.text ? d.text : text,
                                                             strlen(d.text ? d.text : text)));
        }
        go = false;
        break;
    case RELAY_H_FAIL_ALL:
        s->p->bounced = d.rcpt == RELAY_O_FAIL;
        /* FALLTHROUGH */
    case RELAY_H_NEXT_HOST:
        probe_fail(s, d.text, d.conn_failure, NULL);
        go = false;
        break;
    }
    relay_decision_free(&d);
    return go;
}

/* probe_after_ehlo - EHLO answered: STARTTLS, or what no TLS means */

static void probe_after_ehlo(struct probe_sess *s)
{
    struct policy_outbound f = probe_policy_facts(s);
    struct policy_out_verdict v = policy_send_secure(&f, POLICY_OUT_EHLO);

    if (v.inner == NULL && s->p->sc->require_tls && !v.require_tls
        && (!s->starttls_offered || s->p->ctx == NULL)) {
        (void)probe_decided(s, 0, NULL, RELAY_E_NO_TLS);
        probe_quit(s);
        return;
    }
    if (v.inner == NULL && v.require_tls && s->p->ctx == NULL) {
        f.starttls_offered = false;     /* we cannot do TLS: as if it were not offered */
        v = policy_send_secure(&f, POLICY_OUT_EHLO);
    }
    if (v.inner != NULL)
        probe_secure_fail(s, &v);       /* e.g. DomainSecureDisabled: look at TLS anyway */
    if (s->starttls_offered && s->p->ctx != NULL) {
        probe_send(s, "STARTTLS");
        probe_enter_state(s, PROBE_STARTTLS);
        return;
    }
    s->plaintext = !s->failed;          /* opportunistic: plaintext */
    probe_quit(s);
}

/* probe_ehlo_keywords - the EHLO reply's keywords ("STARTTLS", "SIZE 1000") */

static void probe_ehlo_keywords(struct probe_sess *s, const char *key)
{
    json_t *kw = json_array();
    const char *line = strchr(s->reply, '\n');

    s->starttls_offered = false;
    while (line != NULL) {
        const char *eol = strchr(line + 1, '\n');
        size_t  n = eol ? (size_t)(eol - line - 1) : strlen(line + 1);

        if (n > 4) {
            json_array_append_new(kw, probe_text(line + 5, n - 4));
            if (n - 4 == 8 && strncasecmp(line + 5, "STARTTLS", 8) == 0)
                s->starttls_offered = true;
        }
        line = eol;
    }
    json_object_set_new(s->h, key, kw);
}

/* probe_tls_ready - the handshake finished: the partner's certificate judged */

static void probe_tls_ready(struct probe_sess *s)
{
    const struct tls_facts *tf = tls_conn_facts(s->conn);
    struct policy_outbound f = probe_policy_facts(s);
    struct tls_crl_cert chain[PROBE_CHAIN_MAX];
    size_t  n = tls_conn_peer_chain(s->conn, chain, PROBE_CHAIN_MAX);
    struct policy_out_verdict v;
    struct policy_identity_verdict iv;
    struct tls_cert_info ci;
    json_t *ch = json_array();
    char    detail[320] = "";
    bool    have, judged = false;

    have = tf->peer_der != NULL && tls_cert_info_from_der(tf->peer_der, tf->peer_der_len,
                                                          &ci) == 0;
    f.starttls_offered = true;
    f.starttls_code = 220;
    f.handshake_ok = true;
    f.name_match = have && policy_cert_name_match(s->p->domain,
                                                  (const char *const *)ci.names, ci.nnames);
    f.chain = relay_tls_chain(tf);
    if (f.listed)                       /* its [partner] section, as domsecd applies it */
        judged = domsec__probe_identity(s->p->cfg, s->p->domain, tf, have ? &ci : NULL, chain,
                                        n, false, &f.name_match, &f.chain,
                                        &f.revocation_failure, &iv, detail, sizeof(detail));
    f.identity_rule = judged ? iv.rule : NULL;
    v = policy_send_secure(&f, POLICY_OUT_CERT);
    if (judged)
        domsec__probe_identity_json(s->h, s->p->domain, &iv, false, v.rule,
                                    v.revocation_accepted, detail);
    else if (f.listed)
        json_object_set_new(s->h, "partner_identity",
                            json_string("not judged: require = dane (test-partner looks up "
                                        "no TLSA records)"));
    json_object_set_new(s->h, "tls", json_pack("{s:s, s:s, s:i, s:s}", "version", tf->version,
                                               "cipher", tf->cipher, "bits", tf->cipher_bits,
                                               "group", tf->group));
    for (size_t i = 0; i < n; i++) {
        json_t *c = domsec__probe_cert_json(chain[i].der, chain[i].len);

        if (c != NULL)
            json_array_append_new(ch, c);
    }
    json_object_set_new(s->h, "chain", ch);
    json_object_set_new(s->h, "verdicts", domsec__probe_verdicts(tf, have ? &ci : NULL, f.chain,
                                                                 f.name_match,
                                                                 v.revocation_accepted, false));
    if (have)
        tls_cert_info_free(&ci);
    if (v.inner != NULL)
        probe_secure_fail(s, &v);
    else if (!s->failed)
        json_object_set_new(s->h, "rule", json_string(v.rule));
    probe_send(s, "EHLO %s", s->p->sc->fqdn);
    probe_enter_state(s, PROBE_EHLO2);
}

/* probe_reply - one complete reply (code, lines joined in s->reply) */

static void probe_reply(struct probe_sess *s, int code)
{
    char   *first = xasprintf("%.*s", (int)strcspn(s->reply, "\n"), s->reply);
    struct policy_outbound f;
    struct policy_out_verdict v;

    if (strlen(first) > 3 && first[3] == '-')
        first[3] = ' ';                 /* the first line of several, as a line of its own */

    switch (s->state) {
    case PROBE_BANNER:
        json_object_set_new(s->h, "banner", probe_text(first, strlen(first)));
        if (probe_decided(s, code, first, RELAY_E_NONE)) {
            probe_send(s, "EHLO %s", s->p->sc->fqdn);
            probe_enter_state(s, PROBE_EHLO);
        } else {
            probe_quit(s);
        }
        break;
    case PROBE_EHLO:
        json_object_set_new(s->h, "ehlo_reply", probe_text(first, strlen(first)));
        if (code >= 200 && code < 300)
            probe_ehlo_keywords(s, "ehlo");
        if (probe_decided(s, code, first, RELAY_E_NONE) || code >= 500)
            probe_after_ehlo(s);        /* 5xx: HELO, which offers no STARTTLS */
        else
            probe_quit(s);
        break;
    case PROBE_STARTTLS:
        json_object_set_new(s->h, "starttls", probe_text(first, strlen(first)));
        f = probe_policy_facts(s);
        f.starttls_offered = true;
        f.starttls_code = code;
        f.starttls_text = first;
        v = policy_send_secure(&f, POLICY_OUT_STARTTLS_REPLY);
        if (v.inner != NULL)            /* (DomainSecureDisabled: handshake anyway) */
            probe_secure_fail(s, &v);
        if (code != 220) {
            (void)probe_decided(s, code, first, RELAY_E_NONE);
            probe_quit(s);
        } else {
            probe_enter_state(s, PROBE_TLS);
            if (tls_conn_starttls_client(s->conn, s->p->ctx, s->a->name, NULL) < 0)
                probe_event(s->conn, TLS_EV_ERROR, s);
        }
        break;
    case PROBE_EHLO2:
        json_object_set_new(s->h, "ehlo_tls_reply", probe_text(first, strlen(first)));
        if (code >= 200 && code < 300)
            probe_ehlo_keywords(s, "ehlo_tls");
        probe_quit(s);
        break;
    case PROBE_QUIT:
        probe_enter_state(s, PROBE_DONE);
        tls_conn_close(s->conn, 1000);
        break;
    default:
        break;                          /* a reply we did not ask for: ignore */
    }
    free(first);
}

/* probe_read - complete replies from the input (RFC 5321 4.2.1: "ddd-" continues).
 * Each line is copied and consumed before its reply is acted on: STARTTLS
 * discards the buffered plaintext. */

static void probe_read(struct probe_sess *s)
{
    const char *in, *nl;
    size_t  len;

    while (s->conn != NULL && s->state != PROBE_DONE && s->state != PROBE_TLS
           && (in = tls_conn_peek(s->conn, &len)) != NULL
           && (nl = memchr(in, '\n', len)) != NULL) {
        size_t  n = (size_t)(nl - in), start = s->rlen > 0 ? s->rlen + 1 : 0;
        bool    more;
        int     code;

        if (n > 0 && in[n - 1] == '\r')
            n--;
        more = n >= 4 && in[3] == '-';
        code = n >= 3 && in[0] >= '1' && in[0] <= '5' && in[1] >= '0' && in[1] <= '9'
               && in[2] >= '0' && in[2] <= '9' ? (in[0] - '0') * 100 + (in[1] - '0') * 10
                                                 + (in[2] - '0') : 0;
        if (start + n + 1 < sizeof(s->reply)) {
            if (s->rlen > 0)
                s->reply[s->rlen] = '\n';
            memcpy(s->reply + start, in, n);
            s->rlen = start + n;
            s->reply[s->rlen] = '\0';
        }
        tls_conn_consume(s->conn, (size_t)(nl - in) + 1);
        if (more && code != 0)
            continue;
        if (code == 0) {
            struct relay_event ev = { .stage = probe_stages[s->state], .error = RELAY_E_PROTOCOL };
            struct relay_decision d = relay_decide(&ev);

            probe_fail(s, d.text, false, NULL);
            relay_decision_free(&d);
            s->state = PROBE_DONE;
            tls_conn_close(s->conn, 0);
            return;
        }
        probe_reply(s, code);
        s->rlen = 0;
        s->reply[0] = '\0';
    }
}

/* probe_sess_free - after the conn and the timer closed: report the host */

static void probe_sess_free(struct probe_sess *s)
{
    struct probe *p = s->p;

    if (!s->timer_closed || !s->conn_closed)
        return;
    if (!s->failed) {
        json_object_set_new(s->h, "result", json_string(s->plaintext ? "delivered_plaintext"
                                                         : "delivered"));
        p->delivered = true;
    } else {
        free(p->last);
        p->last = xstrdup(domsec__probe_str(s->h, "reply"));
        p->last_conn = s->conn_failure;
    }
    json_array_append_new(p->hosts, s->h);
    free(s);
    domsec__probe_next(p);
}

/* probe_timer_closed - the timer's close_cb */

static void probe_timer_closed(uv_handle_t *h)
{
    struct probe_sess *s = h->data;

    s->timer_closed = true;
    probe_sess_free(s);
}

/* probe_event - the conn's events */

static void probe_event(struct tls_conn *tc, enum tls_event ev, void *arg)
{
    struct probe_sess *s = arg;

    switch (ev) {
    case TLS_EV_CONNECTED:
        probe_enter_state(s, PROBE_BANNER);
        tls_conn_resume(tc);
        break;
    case TLS_EV_DATA_IN:
        probe_read(s);
        break;
    case TLS_EV_TLS_READY:
        probe_tls_ready(s);
        break;
    case TLS_EV_EOF:
    case TLS_EV_ERROR:
        if (s->state == PROBE_TLS) {    /* the handshake failed */
            struct policy_outbound f = probe_policy_facts(s);
            struct policy_out_verdict v;
            const char *err = tls_conn_tls_error(tc);

            f.starttls_offered = true;
            f.starttls_code = 220;
            f.handshake_error = err;
            json_object_set_new(s->h, "tls_error", json_string(err));
            v = policy_send_secure(&f, POLICY_OUT_HANDSHAKE);
            if (v.inner != NULL)
                probe_secure_fail(s, &v);
            else
                (void)probe_decided(s, 0, err, RELAY_E_HANDSHAKE);
        } else if (s->state != PROBE_QUIT && s->state != PROBE_DONE) {
            (void)probe_decided(s, 0, s->state == PROBE_CONNECT
                                ? uv_strerror(tls_conn_error(tc)) : NULL, RELAY_E_CONN);
        }
        s->state = PROBE_DONE;
        tls_conn_close(tc, 0);
        break;
    case TLS_EV_CLOSED:
        s->conn = NULL;
        s->conn_closed = true;
        uv_close((uv_handle_t *)&s->timer, probe_timer_closed);
        break;
    case TLS_EV_DRAINED:
        break;
    }
}

/* domsec__probe_host - probe the current address */

void domsec__probe_host(struct probe *p)
{
    struct probe_sess *s = xcalloc(1, sizeof(*s));
    const struct sockaddr *src = p->sc->source_ip.ss_family != AF_UNSPEC
                                 ? (const struct sockaddr *)&p->sc->source_ip : NULL;
    char    ep[64];
    int     err = 0;

    s->p = p;
    s->a = &p->addrs[p->next];
    log_addr_endpoint(ep, sizeof(ep), (const struct sockaddr *)&s->a->ss);
    snprintf(p->endpoint, sizeof(p->endpoint), "%s", ep);
    s->h = json_pack("{s:s, s:s}", "name", s->a->name, "address", ep);
    uv_timer_init(&p->loop, &s->timer);
    s->timer.data = s;
    s->conn = tls_conn_connect(&p->loop, (const struct sockaddr *)&s->a->ss, src, probe_event, s,
                               &err);
    probe_enter_state(s, PROBE_CONNECT);
    if (s->conn == NULL) {              /* no conn, no CLOSED: finish through the timer */
        (void)probe_decided(s, 0, uv_strerror(err), RELAY_E_CONN);
        s->conn_closed = true;
        uv_close((uv_handle_t *)&s->timer, probe_timer_closed);
    }
}

/* domsec__probe_verdicts - the verdicts on a peer certificate */

json_t *domsec__probe_verdicts(const struct tls_facts *tf, const struct tls_cert_info *ci,
                               enum policy_chain chain, bool name_match, bool rev_accepted,
                               bool client)
{
    json_t *names = json_array();
    int64_t now = time(NULL);
    struct tls_facts path;
    const char *eku = "-";
    char    validity[64] = "no certificate";

    for (size_t i = 0; ci != NULL && i < ci->nnames; i++)
        json_array_append_new(names, json_string(ci->names[i]));
    if (ci != NULL && now < ci->not_before)
        snprintf(validity, sizeof(validity), "not yet valid");
    else if (ci != NULL && now > ci->not_after)
        snprintf(validity, sizeof(validity), "expired");
    else if (ci != NULL)
        snprintf(validity, sizeof(validity), "ok (%lld days left)",
                 (long long)((ci->not_after - now) / 86400));
    if (ci != NULL)                     /* the use asked for first; either passes (tls_facts) */
        eku = !ci->eku_present ? "absent (any use)"
              : (client ? ci->eku_client : ci->eku_server) ? (client ? "clientAuth" : "serverAuth")
              : (client ? ci->eku_server : ci->eku_client) ? (client ? "serverAuth only"
                                                                     : "clientAuth only")
              : "neither serverAuth nor clientAuth";
    path = *tf;                         /* the path alone, before its revocation */
    path.revocation = TLS_REV_NOT_CHECKED;
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:b, s:o}, s:s, s:s, s:s}",
                     "status", policy_chain_name(chain),
                     "chain", policy_chain_name(relay_tls_chain(&path)),
                     "chain_code", (json_int_t)tf->verify_code,
                     "chain_detail", tf->chain_reason, "validity", validity,
                     "name", "match", name_match, "names", names, "eku", eku,
                     "revocation", relay_tls_revocation(tf, rev_accepted),
                     "revocation_detail", tf->revocation_reason);
}

/* domsec__probe_pin_json - a certificate's pin as o's pin_sha256 (hex) and
 * pin_sha256_base64, when it has one */

void domsec__probe_pin_json(json_t *o, const struct tls_cert_info *ci)
{
    char    pin[65], b64[45];

    if (domsec_pin(ci, pin, b64) == NULL)
        return;
    json_object_set_new(o, "pin_sha256", json_string(pin));
    json_object_set_new(o, "pin_sha256_base64", json_string(b64));
}

/* domsec__probe_cert_json - one certificate's facts */

json_t *domsec__probe_cert_json(const unsigned char *der, size_t len)
{
    struct tls_cert_info ci;
    json_t *o, *names = json_array();
    char    nb[32], na[32];

    if (tls_cert_info_from_der(der, len, &ci) < 0) {
        json_decref(names);
        return NULL;
    }
    for (size_t i = 0; i < ci.nnames; i++)
        json_array_append_new(names, json_string(ci.names[i]));
    o = json_pack("{s:o, s:o, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:b}",
                  "subject", probe_text(ci.subject, strlen(ci.subject)),
                  "issuer", probe_text(ci.issuer, strlen(ci.issuer)),
                  "not_before", log_iso_time(nb, sizeof(nb), ci.not_before, "-"),
                  "not_after", log_iso_time(na, sizeof(na), ci.not_after, "-"),
                  "thumbprint", ci.thumbprint, "serial", ci.serial, "names", names,
                  "eku_present", ci.eku_present, "eku_server", ci.eku_server,
                  "eku_client", ci.eku_client);
    domsec__probe_pin_json(o, &ci);
    tls_cert_info_free(&ci);
    return o;
}
