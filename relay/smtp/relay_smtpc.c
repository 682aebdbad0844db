/*
 * relay_smtpc.c - one outbound SMTP connection of a destination.
 *
 * The connection takes jobs (one message, some of its recipients) from its
 * destination's queue until none is left.  Then it waits, idle, for more
 * (Postfix's connection cache): a job queued for the destination within
 * connection_cache_time goes out on it at once, without a new TCP
 * connection, STARTTLS handshake and partner checks.  No transaction starts
 * on a connection older than connection_reuse_time: it says QUIT.  An idle
 * connection also gives way (QUIT) when another destination needs its slot
 * under max_outbound_connections (the idle list is relay_smtpc_idle.c's).
 * It walks the destination's addresses in order: a connection failure, a 4xx to the
 * banner, EHLO or MAIL, a timeout or a lost connection moves the current job
 * to the next address.  What every reply, error and timeout means is
 * relay_decide()'s (relay_trouble.c): this file says what happened
 * (relay__smtpc_decide) and carries the decision out.
 * With PIPELINING, MAIL, every RCPT and DATA go out in one write and the
 * replies are matched in order.  STARTTLS and the domain-security checks
 * are in relay_smtpc_tls.c; the two share relay_smtpc_int.h.
 *
 * CONTRACT
 *  Runs on the queue manager's loop.  relay_smtpc_start() always returns 0:
 *  a connection that cannot even be opened is reported as one that fails
 *  later.  The connection reports through its destination's ops
 *  (relay_smtp.h): job_done, dest_failed and finally, always later, conn_gone.
 *  The first two can run inside relay_smtpc_start() when no address can be
 *  tried at all (tls_conn_connect fails at once for every address, or the
 *  stop has begun).  The smtpc is freed after its last conn and its timer
 *  closed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "log.h"
#include "log_util.h"
#include "relay_smtp.h"
#include "relay_trouble.h"
#include "relay_limits.h"
#include "relay_plog.h"
#include "relay_smtpc_int.h"
#include "relay_stats.h"
#include "tls_conn.h"

/* RFC 5321 4.5.3.2 timeouts, and what we were doing (for error texts). */
static const uint64_t smtpc_timeouts[] = {
    [C_CONNECT] = 30000, [C_BANNER] = 300000, [C_EHLO] = 300000, [C_HELO] = 300000,
    [C_STARTTLS] = 300000, [C_TLS] = 300000,
    [C_RSET] = 300000, [C_MAIL] = 300000, [C_RCPT] = 300000, [C_DATA] = 120000,
    [C_DOT] = 600000, [C_IDLE] = 0, [C_QUIT] = 60000, [C_DONE] = 0,
};
/* The decision's stage of each state (no job waits in IDLE, QUIT or DONE). */
static const enum relay_stage smtpc_stages[] = {
    [C_CONNECT] = RELAY_S_CONNECT, [C_BANNER] = RELAY_S_BANNER, [C_EHLO] = RELAY_S_EHLO,
    [C_HELO] = RELAY_S_HELO, [C_STARTTLS] = RELAY_S_STARTTLS, [C_TLS] = RELAY_S_TLS,
    [C_RSET] = RELAY_S_RSET, [C_MAIL] = RELAY_S_MAIL, [C_RCPT] = RELAY_S_RCPT,
    [C_DATA] = RELAY_S_DATA, [C_DOT] = RELAY_S_DOT, [C_IDLE] = RELAY_S_CONNECT,
    [C_QUIT] = RELAY_S_CONNECT, [C_DONE] = RELAY_S_CONNECT,
};
static const char *const smtpc_states[] = {
    [C_CONNECT] = "connect", [C_BANNER] = "banner", [C_EHLO] = "EHLO", [C_HELO] = "HELO",
    [C_STARTTLS] = "STARTTLS", [C_TLS] = "TLS handshake",
    [C_RSET] = "RSET", [C_MAIL] = "MAIL FROM", [C_RCPT] = "RCPT TO", [C_DATA] = "DATA",
    [C_DOT] = "end of data", [C_IDLE] = "idle", [C_QUIT] = "QUIT", [C_DONE] = "done",
};

struct relay_smtpc *relay__smtpc_all;   /* queue manager thread only */
static bool smtpc_stopping;             /* relay_smtpc_shutdown_all was called */

#define RELAY_SMTPC_STOP_GRACE_MS 30000 /* at stop, the longest wait for a dot's reply */
#define RELAY_SMTPC_QUIT_WAIT_MS 2000   /* at stop, the wait for the reply to QUIT */
#define RELAY_SMTPC_LINGER_MS 2000      /* at close, wait for our last command to
                                         * leave (relay_session.c's RELAY_LINGER_MS) */

static void smtpc_event(struct tls_conn *tc, enum tls_event ev, void *arg);
static void smtpc_timeout(uv_timer_t *t);

/* relay__smtpc_enter_state - change state, (re)arm its timeout */

void relay__smtpc_enter_state(struct relay_smtpc *c, enum relay_smtpc_state st)
{
    log_debug("smtp", c->sid, "state %s -> %s", smtpc_states[c->state], smtpc_states[st]);
    c->state = st;
    if (st == C_IDLE) {                 /* caching is on: connection_cache_time > 0 */
        uv_timer_start(&c->timer, smtpc_timeout,
                       c->dest->cfg->transport.connection_cache_time, 0);
    } else if (smtpc_timeouts[st] > 0) {
        uint64_t ms = smtpc_timeouts[st];

        /* The send connector's connection_inactivity_timeout caps every wait. */
        if (c->dest->sc->connection_inactivity_timeout < ms)
            ms = c->dest->sc->connection_inactivity_timeout;
        uv_timer_start(&c->timer, smtpc_timeout, ms, 0);
    } else {
        uv_timer_stop(&c->timer);
    }
}

/* relay__smtpc_send - queue a command line */

void relay__smtpc_send(struct relay_smtpc *c, const char *fmt, ...)
{
    char buf[1100];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > sizeof(buf) - 3)
        n = (int)sizeof(buf) - 3;
    log_debug("smtp", c->sid, "> %.*s", n, buf);
    log_proto_sent(&c->pl, buf, (size_t)n);
    buf[n++] = '\r';
    buf[n++] = '\n';
    tls_conn_write(c->conn, buf, (size_t)n);
}

/* smtpc_maybe_free - after the last conn and the timer are closed */

static void smtpc_maybe_free(struct relay_smtpc *c)
{
    if (!c->finishing || c->conns > 0 || !c->timer_closed)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        relay__smtpc_all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->dest->ops->conn_gone(c->dest);
    free(c);
}

/* smtpc_timer_closed - the timer's close_cb */

static void smtpc_timer_closed(uv_handle_t *h)
{
    struct relay_smtpc *c = h->data;

    c->timer_closed = true;
    smtpc_maybe_free(c);
}

/* relay__smtpc_drop_conn - close the current conn (its CLOSED comes later) */

void relay__smtpc_drop_conn(struct relay_smtpc *c, unsigned linger)
{
    if (c->conn != NULL) {
        log_proto_disconnect(&c->pl, c->end_reason, NULL);
        log_proto_session_init(&c->pl, NULL, NULL, c->sid);    /* ended */
        tls_conn_close(c->conn, linger);
        c->conn = NULL;
    }
    c->tx_open = false;
    c->rlen = 0;
}

/* smtpc_finish - no more work: close everything */

static void smtpc_finish(struct relay_smtpc *c)
{
    if (c->finishing)
        return;
    relay__smtpc_idle_unlink(c);
    c->finishing = true;
    c->state = C_DONE;
    relay__smtpc_drop_conn(c, RELAY_SMTPC_LINGER_MS);
    uv_close((uv_handle_t *)&c->timer, smtpc_timer_closed);
}

/* smtpc_endpoint - "ip:port" of the address being tried */

static void smtpc_endpoint(struct relay_smtpc *c, char *buf, size_t sz)
{
    log_addr_endpoint(buf, sz, (const struct sockaddr *)&c->dest->addrs[c->addr_i]);
}

/* smtpc_note - remember why this address did not work */

static void smtpc_note(struct relay_smtpc *c, const char *what, bool conn_error)
{
    struct relay_job *j = c->job;

    if (j == NULL)
        return;
    free(j->last);
    j->last = log_oneline(what);
    j->last_conn = conn_error;
    smtpc_endpoint(c, j->endpoint, sizeof(j->endpoint));
    free(j->remote);
    j->remote = xstrdup(c->dest->names[c->addr_i]);
}

/* smtpc_next_host - give the current job to the next address */

static void smtpc_next_host(struct relay_smtpc *c)
{
    relay__smtpc_drop_conn(c, 0);
    c->no_tls = false;
    c->addr_i++;
    relay__smtpc_connect_next(c);
}

/* smtpc_job_done - report the current job to the queue manager */

static void smtpc_job_done(struct relay_smtpc *c)
{
    struct relay_job *j = c->job;

    c->job = NULL;
    j->sid = c->sid;
    c->dest->ops->job_done(c->dest, j);
}

/* smtpc_decide_at - what this event at this stage means for c */

static struct relay_decision smtpc_decide_at(const struct relay_smtpc *c, enum relay_stage stage,
                                             enum relay_error error, int code, const char *text)
{
    struct relay_event ev = {
        .stage = stage, .error = error, .code = code, .text = text,
        .require_tls = c->dest->sc->require_tls,
    };

    return relay_decide(&ev);
}

/* relay__smtpc_decide - what this event at c's current stage means */

struct relay_decision relay__smtpc_decide(const struct relay_smtpc *c, enum relay_error error,
                                          int code, const char *text)
{
    return smtpc_decide_at(c, smtpc_stages[c->state], error, code, text);
}

/* smtpc_record - the job's recipients in d's scope get d's code and text */

static void smtpc_record(struct relay_smtpc *c, const struct relay_decision *d)
{
    struct relay_job *j = c->job;

    smtpc_note(c, d->text, d->conn_failure);
    for (size_t i = 0; i < j->nridx; i++) {
        /* RELAY_SCOPE_ACCEPTED: those whose RCPT the peer took. */
        if (d->scope == RELAY_SCOPE_ACCEPTED && !(j->codes[i] >= 200 && j->codes[i] < 300))
            continue;
        j->codes[i] = d->code;
        free(j->replies[i]);
        j->replies[i] = d->code != 0 && d->text != NULL ? xstrdup(d->text) : NULL;
    }
}

/* relay__smtpc_trouble - carry out a NEXT_HOST or FAIL_ALL decision; frees d */

void relay__smtpc_trouble(struct relay_smtpc *c, struct relay_decision *d)
{
    switch (d->host) {
    case RELAY_H_NEXT_HOST:
        smtpc_note(c, d->text, d->conn_failure);
        smtpc_next_host(c);
        break;
    case RELAY_H_FAIL_ALL:
        if (c->job != NULL) {
            smtpc_record(c, d);
            smtpc_job_done(c);
        }
        smtpc_finish(c);                /* pipelined replies may follow: start afresh */
        break;
    case RELAY_H_CONTINUE:
    case RELAY_H_FALLBACK:
        log_panic("smtp", "relay__smtpc_trouble: no trouble in state %s",
                  smtpc_states[c->state]);
    }
    relay_decision_free(d);
}

/* smtpc_plog_start - a new conn: its own protocol log session */

static void smtpc_plog_start(struct relay_smtpc *c)
{
    const struct cfg_send *sc = c->dest->sc;
    char ep[64];

    if (c->nconn++ > 0)                 /* one session id per connection */
        c->sid = log_session_id_next();
    c->end_reason = LOG_PROTO_R_LOCAL;
    if (sc->protocol_logging_level == CFG_LOG_NONE || relay_plog_send() == NULL) {
        log_proto_session_init(&c->pl, NULL, NULL, c->sid);
        return;
    }
    log_proto_session_init(&c->pl, relay_plog_send(), sc->name, c->sid);
    smtpc_endpoint(c, ep, sizeof(ep));
    log_proto_session_set_remote(&c->pl, ep);
    log_proto_info(&c->pl, NULL, "attempting to connect");
}

/* relay__smtpc_connect_next - connect to the current address, or give up */

void relay__smtpc_connect_next(struct relay_smtpc *c)
{
    struct relay_decision d;
    int err;

    if (smtpc_stopping) {               /* no new connection at stop: the job waits */
        d = relay__smtpc_decide(c, RELAY_E_SHUTDOWN, 0, NULL);
        relay__smtpc_trouble(c, &d);
        return;
    }
    if (c->addr_i >= c->dest->naddrs) {
        struct relay_job *j = c->job;

        c->job = NULL;
        if (j != NULL)
            j->sid = c->sid;
        c->dest->ops->dest_failed(c->dest, j);     /* defers j and every waiting job */
        smtpc_finish(c);
        return;
    }
    c->conn = tls_conn_connect(c->loop, (const struct sockaddr *)&c->dest->addrs[c->addr_i],
                               c->dest->sc->source_ip.ss_family != AF_UNSPEC
                                   ? (const struct sockaddr *)&c->dest->sc->source_ip : NULL,
                               smtpc_event, c, &err);
    if (c->conn == NULL) {
        d = smtpc_decide_at(c, RELAY_S_CONNECT, RELAY_E_CONN, 0, uv_strerror(err));
        relay__smtpc_trouble(c, &d);    /* the next address */
        return;
    }
    c->conns++;
    relay_limits_conn(+1);              /* until TLS_EV_CLOSED */
    smtpc_plog_start(c);
    c->esmtp = c->pipelining = c->tx_open = false;
    c->starttls_offered = c->tls = c->secured = false;
    c->peer_size = 0;
    relay__smtpc_enter_state(c, C_CONNECT);
}

/* smtpc_send_body - the message, dot-stuffed, then the final dot */

static void smtpc_send_body(struct relay_smtpc *c)
{
    const char *p = c->job->data, *end = p + c->job->len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;

        if (*p == '.')
            tls_conn_write(c->conn, ".", 1);
        tls_conn_write(c->conn, p, (size_t)(stop - p));
        p = stop;
    }
    tls_conn_write(c->conn, ".\r\n", 3);
}

/* smtpc_start_tx - MAIL, RCPTs and DATA for the current job */

static void smtpc_start_tx(struct relay_smtpc *c)
{
    struct relay_job *j = c->job;
    struct relay_qmsg *m = j->msg;
    struct relay_decision d;

    if (c->peer_size > 0 && j->len > c->peer_size) {
        d = smtpc_decide_at(c, RELAY_S_MAIL, RELAY_E_TOO_BIG, 0, NULL);
        smtpc_record(c, &d);
        relay_decision_free(&d);
        smtpc_job_done(c);
        relay__smtpc_take_job(c);       /* RELAY_H_CONTINUE: the next job */
        return;
    }
    c->rcpt_i = 0;
    c->accepted = 0;
    for (size_t i = 0; i < j->nridx; i++) {    /* results of an earlier host do not count */
        j->codes[i] = 0;
        free(j->replies[i]);
        j->replies[i] = NULL;
    }
    if (log_proto_enabled(&c->pl)) {
        char mid[256];

        relay_plog_message_id(j->data, j->len, mid, sizeof(mid));
        log_proto_sending_message(&c->pl, m->id, mid);
    }
    if (c->peer_size > 0)
        relay__smtpc_send(c, "MAIL FROM:<%s> SIZE=%zu", m->sender, j->len);
    else
        relay__smtpc_send(c, "MAIL FROM:<%s>", m->sender);
    if (c->pipelining) {
        for (size_t i = 0; i < j->nridx; i++)
            relay__smtpc_send(c, "RCPT TO:<%s>", m->rcpts[j->ridx[i]].addr);
        relay__smtpc_send(c, "DATA");
    }
    relay__smtpc_enter_state(c, C_MAIL);
    if (tls_conn_flush(c->conn) != 0) {
        d = relay__smtpc_decide(c, RELAY_E_CONN, 0, "connection lost");
        relay__smtpc_trouble(c, &d);
    }
}

/* relay__smtpc_take_job - next job, or wait idle, or QUIT */

void relay__smtpc_take_job(struct relay_smtpc *c)
{
    struct relay_dest *d = c->dest;

    if (smtpc_stopping && c->job == NULL) {     /* the last reply came: goodbye */
        relay__smtpc_quit(c);
        uv_timer_start(&c->timer, smtpc_timeout, RELAY_SMTPC_QUIT_WAIT_MS, 0);
        return;
    }
    if (c->job == NULL && d->jobs != NULL) {
        if (uv_now(c->loop) - c->ready_ms >= d->cfg->transport.connection_reuse_time) {
            relay__smtpc_quit(c);              /* too old: the job gets a new connection */
            return;
        }
        c->job = relay_dest_take_job(d);
    }
    if (c->job == NULL) {
        const struct cfg_transport *t = &d->cfg->transport;

        if (c->tx_open || t->connection_cache_time == 0
            || uv_now(c->loop) - c->ready_ms >= t->connection_reuse_time) {
            relay__smtpc_quit(c);
            return;
        }
        relay__smtpc_idle(c);           /* wait for the next job (relay_smtpc_wake) */
        return;
    }
    if (c->tx_open) {
        relay__smtpc_send(c, "RSET");
        tls_conn_flush(c->conn);
        relay__smtpc_enter_state(c, C_RSET);
        return;
    }
    smtpc_start_tx(c);
}

/* smtpc_ehlo_line - note an extension from a 250 line of EHLO */

static void smtpc_ehlo_line(struct relay_smtpc *c, const char *kw)
{
    if (strcasecmp(kw, "PIPELINING") == 0)
        c->pipelining = true;
    else if (strcasecmp(kw, "STARTTLS") == 0)
        c->starttls_offered = true;
    else if (strncasecmp(kw, "SIZE", 4) == 0 && (kw[4] == ' ' || kw[4] == '\0'))
        c->peer_size = strtoull(kw + 4, NULL, 10);
}

/* smtpc_track_send - the tracking log's SEND: the peer took the message */

static void smtpc_track_send(struct relay_smtpc *c, const char *reply)
{
    struct relay_job *j = c->job;
    const char **to, **st;
    char ep[64], ip[64], ctx[600];
    struct relay_plog_out o = {
        .event = LOG_TRACK_SEND, .source = LOG_TRACK_SRC_SMTP, .internal_id = j->msg->id,
        .data = j->data, .data_len = j->len, .server_hostname = c->dest->names[c->addr_i],
        .connector_id = c->dest->sc->name, .total_bytes = j->len, .sender = j->msg->sender,
        .secured = c->secured ? c->dest->domain : NULL,
    };

    if (relay_plog_track() == NULL)
        return;
    to = xcalloc(j->nridx + 1, sizeof(*to));
    st = xcalloc(j->nridx + 1, sizeof(*st));
    for (size_t i = 0; i < j->nridx; i++)
        if (j->codes[i] >= 200 && j->codes[i] < 300) {
            to[o.nrecipients] = j->msg->rcpts[j->ridx[i]].addr;
            st[o.nrecipients++] = j->replies[i] ? j->replies[i] : reply;
        }
    smtpc_endpoint(c, ep, sizeof(ep));
    relay_plog_ip(ep, ip, sizeof(ip));
    log_session_id_format(c->sid, ctx);
    snprintf(ctx + 16, sizeof(ctx) - 16, ";%.500s", reply);
    o.server_ip = ip;
    o.source_context = ctx;
    o.recipients = to;
    o.status = st;
    relay_plog_track_out(&o);
    free(to);
    free(st);
}

/* smtpc_hello_reply - the reply to the banner, EHLO or HELO */

static void smtpc_hello_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct relay_decision d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);

    switch (d.host) {
    case RELAY_H_FALLBACK:              /* EHLO refused: HELO */
        relay_decision_free(&d);
        relay__smtpc_send(c, "HELO %s", c->dest->sc->fqdn);
        tls_conn_flush(c->conn);
        relay__smtpc_enter_state(c, C_HELO);
        return;
    case RELAY_H_CONTINUE:
        relay_decision_free(&d);
        if (c->state == C_BANNER) {
            relay__smtpc_send(c, "EHLO %s", c->dest->sc->fqdn);
            tls_conn_flush(c->conn);
            relay__smtpc_enter_state(c, C_EHLO);
            return;
        }
        c->esmtp = c->state == C_EHLO;
        relay__smtpc_after_hello(c);
        return;
    case RELAY_H_NEXT_HOST:
    case RELAY_H_FAIL_ALL:
        relay__smtpc_trouble(c, &d);
        return;
    }
}

/* smtpc_rcpt_reply - the reply to one RCPT: that recipient's result */

static void smtpc_rcpt_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct relay_job *j = c->job;
    struct relay_decision d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);

    j->codes[c->rcpt_i] = d.code;
    free(j->replies[c->rcpt_i]);
    j->replies[c->rcpt_i] = d.text;     /* taken */
    d.text = NULL;
    if (d.rcpt == RELAY_O_DELIVERED)
        c->accepted++;
    relay_decision_free(&d);
    if (++c->rcpt_i < j->nridx) {
        if (!c->pipelining) {
            relay__smtpc_send(c, "RCPT TO:<%s>", j->msg->rcpts[j->ridx[c->rcpt_i]].addr);
            tls_conn_flush(c->conn);
        }
        return;
    }
    relay__smtpc_enter_state(c, C_DATA);
    if (!c->pipelining) {
        if (c->accepted == 0) {         /* nobody to send to */
            smtpc_job_done(c);
            relay__smtpc_take_job(c);
            return;
        }
        relay__smtpc_send(c, "DATA");
        tls_conn_flush(c->conn);
    }
}

/* smtpc_data_reply - the reply to DATA: the message, or a refusal */

static void smtpc_data_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct relay_decision d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);

    if (!d.record && c->accepted > 0) { /* 354: the message */
        relay_decision_free(&d);
        smtpc_send_body(c);
        relay__smtpc_enter_state(c, C_DOT);
        if (tls_conn_flush(c->conn) != 0) {
            d = relay__smtpc_decide(c, RELAY_E_CONN, 0, "connection lost");
            relay__smtpc_trouble(c, &d);
        }
        return;
    }
    if (!d.record) {                    /* 354 with no recipient: cannot continue */
        relay_decision_free(&d);
        smtpc_job_done(c);
        smtpc_finish(c);
        return;
    }
    if (c->accepted > 0)                /* refused: the accepted recipients share it */
        smtpc_record(c, &d);
    relay_decision_free(&d);
    smtpc_job_done(c);
    relay__smtpc_take_job(c);
}

/* smtpc_dot_reply - the reply to the final dot: the accepted recipients' result */

static void smtpc_dot_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct relay_decision d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);

    smtpc_record(c, &d);
    c->tx_open = false;
    if (d.rcpt == RELAY_O_DELIVERED) {
        if (c->secured)
            relay_stats_add(RELAY_STAT_DS_SENT, 1);
        smtpc_track_send(c, text);
    }
    relay_decision_free(&d);
    smtpc_job_done(c);
    relay__smtpc_take_job(c);
}

/* smtpc_reply - a complete reply arrived */

static void smtpc_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct relay_decision d;

    switch (c->state) {
    case C_BANNER:
    case C_EHLO:
    case C_HELO:
        smtpc_hello_reply(c, code, text);
        return;
    case C_STARTTLS:
        relay__smtpc_starttls_reply(c, code, text);
        return;
    case C_RSET:
        d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);
        if (d.host != RELAY_H_CONTINUE) {       /* (whatever it says, today) */
            relay__smtpc_trouble(c, &d);
            return;
        }
        relay_decision_free(&d);
        c->tx_open = false;
        smtpc_start_tx(c);
        return;
    case C_MAIL:
        d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);
        if (d.host != RELAY_H_CONTINUE) {
            relay__smtpc_trouble(c, &d);
            return;
        }
        relay_decision_free(&d);
        c->tx_open = true;
        relay__smtpc_enter_state(c, C_RCPT);
        if (!c->pipelining) {
            relay__smtpc_send(c, "RCPT TO:<%s>", c->job->msg->rcpts[c->job->ridx[0]].addr);
            tls_conn_flush(c->conn);
        }
        return;
    case C_RCPT:
        smtpc_rcpt_reply(c, code, text);
        return;
    case C_DATA:
        smtpc_data_reply(c, code, text);
        return;
    case C_DOT:
        smtpc_dot_reply(c, code, text);
        return;
    case C_QUIT:
        smtpc_finish(c);
        return;
    case C_IDLE:                        /* unasked: a 421 before the server closes */
        relay__smtpc_idle_unlink(c);
        c->end_reason = LOG_PROTO_R_REMOTE;
        smtpc_finish(c);
        return;
    case C_CONNECT:
    case C_TLS:
    case C_DONE:
        break;
    }
    log_panic("smtp", "reply %d in state %s", code, smtpc_states[c->state]);
}

/* smtpc_input - split input into reply lines, replies into smtpc_reply */

static void smtpc_input(struct relay_smtpc *c)
{
    const char *p, *nl;
    size_t len;

    while (c->conn != NULL && !c->finishing && (p = tls_conn_peek(c->conn, &len)) != NULL
           && len > 0 && (nl = memchr(p, '\n', len)) != NULL) {
        size_t n = (size_t)(nl - p), keep;
        char line[1024];
        bool last;
        int code;

        if (n > 0 && p[n - 1] == '\r')
            n--;
        keep = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
        memcpy(line, p, keep);
        line[keep] = '\0';
        tls_conn_consume(c->conn, (size_t)(nl - p) + 1);
        log_debug("smtp", c->sid, "< %s", line);
        log_proto_received(&c->pl, line, keep);
        if (keep < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9'
            || line[2] < '0' || line[2] > '9' || (keep > 3 && line[3] != ' ' && line[3] != '-')) {
            struct relay_decision d = relay__smtpc_decide(c, RELAY_E_PROTOCOL, 0, NULL);

            relay__smtpc_trouble(c, &d);
            return;
        }
        code = atoi(line);
        last = keep == 3 || line[3] == ' ';
        if (c->state == C_EHLO && code == 250 && c->rlen > 0)
            smtpc_ehlo_line(c, line + 4);
        if (c->rlen == 0)
            c->rlen = (size_t)snprintf(c->reply, sizeof(c->reply), "%s", line);
        else if (c->rlen < sizeof(c->reply) - 2)
            c->rlen += (size_t)snprintf(c->reply + c->rlen, sizeof(c->reply) - c->rlen, " %s",
                                        keep > 4 ? line + 4 : "");
        if (c->rlen >= sizeof(c->reply))
            c->rlen = sizeof(c->reply) - 1;
        if (last) {
            char text[sizeof(c->reply)];

            memcpy(text, c->reply, c->rlen + 1);
            c->rlen = 0;
            smtpc_reply(c, code, text);
        }
    }
}

/* smtpc_event - events of our conns (current and closing old ones) */

static void smtpc_event(struct tls_conn *tc, enum tls_event ev, void *arg)
{
    struct relay_smtpc *c = arg;
    struct relay_decision d;

    if (ev == TLS_EV_CLOSED) {
        c->conns--;
        relay_limits_conn(-1);
        smtpc_maybe_free(c);
        return;
    }
    if (tc != c->conn || c->finishing)
        return;                         /* an old conn on its way out */
    switch (ev) {
    case TLS_EV_CONNECTED:
        if (log_proto_enabled(&c->pl)) {
            struct sockaddr_storage local, remote;
            char ep[64];

            if (tls_conn_endpoints(c->conn, &local, &remote) == 0) {
                log_addr_endpoint(ep, sizeof(ep), (const struct sockaddr *)&local);
                log_proto_session_set_local(&c->pl, ep);
            }
            log_proto_connect(&c->pl);
        }
        tls_conn_resume(c->conn);
        c->ready_ms = uv_now(c->loop);
        relay__smtpc_enter_state(c, C_BANNER);
        return;
    case TLS_EV_DATA_IN:
        smtpc_input(c);
        return;
    case TLS_EV_DRAINED:
        return;
    case TLS_EV_TLS_READY:
        relay__smtpc_tls_ready(c);
        return;
    case TLS_EV_EOF:
    case TLS_EV_ERROR:
        if (c->state != C_QUIT)
            c->end_reason = LOG_PROTO_R_REMOTE;
        if (c->state == C_QUIT) {
            smtpc_finish(c);
            return;
        }
        if (c->job == NULL) {           /* idle: nothing lost */
            smtpc_finish(c);
            return;
        }
        if (c->state == C_TLS) {
            relay__smtpc_tls_failed(c, *tls_conn_tls_error(tc) ? tls_conn_tls_error(tc)
                                                        : "connection lost during the handshake");
            return;
        }
        /* Connecting: why it failed; later: "connection lost while ..." */
        d = relay__smtpc_decide(c, RELAY_E_CONN, 0,
                                c->state == C_CONNECT ? uv_strerror(tls_conn_error(tc)) : NULL);
        relay__smtpc_trouble(c, &d);
        return;
    case TLS_EV_CLOSED:
        break;
    }
}

/* smtpc_timeout - no reply in time */

static void smtpc_timeout(uv_timer_t *t)
{
    struct relay_smtpc *c = t->data;
    struct relay_decision d;

    if (c->state == C_IDLE) {           /* no job came: goodbye */
        relay__smtpc_quit(c);
        return;
    }
    c->end_reason = LOG_PROTO_R_TIMEOUT;
    if (c->job == NULL) {
        smtpc_finish(c);
        return;
    }
    d = relay__smtpc_decide(c, RELAY_E_TIMEOUT, 0, NULL);
    relay__smtpc_trouble(c, &d);
}

/* relay_smtpc_start - open a connection for d */

int relay_smtpc_start(struct relay_dest *d, uv_loop_t *loop)
{
    struct relay_smtpc *c = xcalloc(1, sizeof(*c));

    c->sid = log_session_id_next();
    c->dest = d;
    c->next = relay__smtpc_all;
    if (relay__smtpc_all)
        relay__smtpc_all->prev = c;
    relay__smtpc_all = c;
    c->loop = loop;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    d->conns++;
    /* Take the first job now so a connection failure is charged to it. */
    c->job = relay_dest_take_job(d);
    relay__smtpc_connect_next(c);
    return 0;
}

/* relay_smtpc_shutdown_all - stop every connection now */

void relay_smtpc_shutdown_all(void)
{
    struct relay_decision d;

    smtpc_stopping = true;
    for (struct relay_smtpc *c = relay__smtpc_all; c != NULL; c = c->next) {
        if (c->finishing)
            continue;
        if (c->state == C_DOT && c->job != NULL) {
            /* The message went out: wait (bounded) for the reply to the dot
             * rather than send it again after restart. */
            uint64_t left = uv_timer_get_due_in(&c->timer);

            uv_timer_start(&c->timer, smtpc_timeout,
                           left < RELAY_SMTPC_STOP_GRACE_MS ? left : RELAY_SMTPC_STOP_GRACE_MS, 0);
            continue;
        }
        if (c->idling) {                /* nothing in flight: QUIT, wait for 221 */
            relay__smtpc_quit(c);
            uv_timer_start(&c->timer, smtpc_timeout, RELAY_SMTPC_QUIT_WAIT_MS, 0);
            continue;
        }
        /* Nothing counts as delivered without the reply to the final dot:
         * the job comes back unanswered (RELAY_E_SHUTDOWN), and we end. */
        d = relay__smtpc_decide(c, RELAY_E_SHUTDOWN, 0, NULL);
        relay__smtpc_trouble(c, &d);
    }
    relay__smtpc_resume_clear();
}
