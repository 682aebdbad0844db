/*
 * relay_smtpc_reply.c - the transaction of an outbound SMTP connection:
 * MAIL, RCPT, DATA and the message out, the replies in (split into lines,
 * multi-line replies joined, EHLO's extensions noted), and what follows
 * each reply.  What a reply means is relay_decide()'s (relay_trouble.c),
 * asked through relay__smtpc_decide; the connection itself (connect,
 * states, timeouts, next host, the end) is relay_smtpc.c's.
 *
 * CONTRACT
 *  Called only by relay_smtpc.c and relay_smtpc_tls.c, on the queue
 *  manager's loop, while c's current conn is open and c is not finishing.
 *  Each reply ends in a move of c through the relay__smtpc_* calls of
 *  relay_smtpc_int.h: a command sent and a new state, the job reported,
 *  the next job or address, or the end.  Reply texts are not kept: the
 *  job gets one-line copies.  relay__smtpc_input stops reading when the
 *  conn is dropped or c is finishing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "log_util.h"
#include "relay_plog.h"
#include "relay_smtp.h"
#include "relay_smtpc_int.h"
#include "relay_stats.h"
#include "relay_trouble.h"
#include "tls_conn.h"

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

/* smtpc_requiretls_check - RFC 8689 4.2.1: a REQUIRETLS message (not a
 * bounce: section 5) goes only over verified TLS to a next hop offering
 * REQUIRETLS: RELAY_E_NONE, or the error that fails its job here */

static enum relay_error smtpc_requiretls_check(const struct relay_smtpc *c,
                                               const struct relay_qmsg *m)
{
    if (!m->requiretls || m->sender[0] == '\0')
        return RELAY_E_NONE;
    if (!c->tls || !c->tls_verified)
        return RELAY_E_REQUIRETLS_TLS;
    return c->requiretls_offered ? RELAY_E_NONE : RELAY_E_REQUIRETLS_PEER;
}

/* smtpc_requiretls_refuse - the job may not go here (e): its recipients
 * bounce (or wait for the domain's MTA-STS policy), or it moves to the
 * next address; logged, counted.  true: c moved on (the next host) */

static bool smtpc_requiretls_refuse(struct relay_smtpc *c, enum relay_error e)
{
    struct relay_job *j = c->job;
    const struct relay_dest *dst = c->dest;
    struct relay_decision d;
    char host[320], ep[64];

    relay__smtpc_endpoint(c, ep, sizeof(ep));
    snprintf(host, sizeof(host), "%s [%s]", dst->names[c->addr_i], ep);
    d = relay__smtpc_decide_requiretls(c, e, host);
    log_info("smtp", c->sid, "requiretls refused id=%s to=%s tls=%s verified=%s offered=%s "
             "action=%s reply=\"%s\"", j->msg->id, host, c->tls ? "yes" : "no",
             c->tls_verified ? "yes" : "no", c->requiretls_offered ? "yes" : "no",
             d.host == RELAY_H_NEXT_HOST ? "next-host"
             : d.rcpt == RELAY_O_DEFER ? "defer" : "bounce", d.text);
    log_proto_infof(&c->pl, dst->domain, "Message %s requires TLS (REQUIRETLS, RFC 8689) "
                    "and was not sent to %s: %s%s", j->msg->id, host, d.text,
                    d.host == RELAY_H_NEXT_HOST ? "; trying the next host" : "");
    if (d.host == RELAY_H_NEXT_HOST) {
        relay__smtpc_trouble(c, &d);    /* notes the text, frees d */
        return true;
    }
    relay__smtpc_record(c, &d);
    if (d.rcpt == RELAY_O_FAIL)
        relay_stats_add(RELAY_STAT_REQUIRETLS_BOUNCED, j->nridx);
    relay_decision_free(&d);
    return false;
}

/* What smtpc_refuse found. */
enum smtpc_refusal {
    SMTPC_GO,                           /* the job may go on this connection */
    SMTPC_DONE,                         /* refused here: results recorded and reported */
    SMTPC_MOVED,                        /* it went to the next address with c */
};

/* smtpc_refuse - may the current job go on this connection? */

static enum smtpc_refusal smtpc_refuse(struct relay_smtpc *c)
{
    struct relay_job *j = c->job;
    enum relay_error rtls = smtpc_requiretls_check(c, j->msg);
    struct relay_decision d;

    if (rtls != RELAY_E_NONE) {         /* never sent without the guarantee */
        if (smtpc_requiretls_refuse(c, rtls))
            return SMTPC_MOVED;
        relay__smtpc_job_done(c);
        return SMTPC_DONE;
    }
    if (c->peer_size > 0 && j->len > c->peer_size) {
        d = relay__smtpc_decide(c, RELAY_E_TOO_BIG, 0, NULL);
        relay__smtpc_record(c, &d);
        relay_decision_free(&d);
        relay__smtpc_job_done(c);
        return SMTPC_DONE;
    }
    return SMTPC_GO;
}

/* relay__smtpc_start_tx - MAIL, RCPTs and DATA for the current job; the
 * jobs refused here (RELAY_H_CONTINUE: the next job) are taken in a loop,
 * not by recursion, however many wait */

void relay__smtpc_start_tx(struct relay_smtpc *c)
{
    struct relay_job *j;
    struct relay_qmsg *m;
    struct relay_decision d;
    const char *rparam;
    enum smtpc_refusal r;

    while ((r = smtpc_refuse(c)) != SMTPC_GO)
        if (r == SMTPC_MOVED || !relay__smtpc_next_job(c))
            return;                     /* moved, or idle, QUIT or RSET first */
    j = c->job;
    m = j->msg;
    /* RFC 8689 5: a bounce of a REQUIRETLS message asks for it where it can */
    rparam = m->requiretls && c->tls && c->requiretls_offered ? " REQUIRETLS" : "";
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
        relay__smtpc_send(c, "MAIL FROM:<%s> SIZE=%zu%s", m->sender, j->len, rparam);
    else
        relay__smtpc_send(c, "MAIL FROM:<%s>%s", m->sender, rparam);
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

/* smtpc_ehlo_line - note an extension from a 250 line of EHLO */

static void smtpc_ehlo_line(struct relay_smtpc *c, const char *kw)
{
    if (strcasecmp(kw, "PIPELINING") == 0)
        c->pipelining = true;
    else if (strcasecmp(kw, "STARTTLS") == 0)
        c->starttls_offered = true;
    else if (strcasecmp(kw, "REQUIRETLS") == 0)
        c->requiretls_offered = true;   /* counts inside TLS only (RFC 8689 2) */
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
    relay__smtpc_endpoint(c, ep, sizeof(ep));
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
            relay__smtpc_job_done(c);
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
        relay__smtpc_job_done(c);
        relay__smtpc_finish(c);
        return;
    }
    if (c->accepted > 0)                /* refused: the accepted recipients share it */
        relay__smtpc_record(c, &d);
    relay_decision_free(&d);
    relay__smtpc_job_done(c);
    relay__smtpc_take_job(c);
}

/* smtpc_dot_reply - the reply to the final dot: the accepted recipients' result */

static void smtpc_dot_reply(struct relay_smtpc *c, int code, const char *text)
{
    struct relay_decision d = relay__smtpc_decide(c, RELAY_E_NONE, code, text);

    relay__smtpc_record(c, &d);
    c->tx_open = false;
    if (d.rcpt == RELAY_O_DELIVERED) {
        if (c->secured)
            relay_stats_add(RELAY_STAT_DS_SENT, 1);
        if (c->job->msg->requiretls && c->job->msg->sender[0] != '\0')
            relay_stats_add(RELAY_STAT_REQUIRETLS_SENT, 1);
        smtpc_track_send(c, text);
    }
    relay_decision_free(&d);
    relay__smtpc_job_done(c);
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
        relay__smtpc_start_tx(c);
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
        relay__smtpc_finish(c);
        return;
    case C_IDLE:                        /* unasked: a 421 before the server closes */
        relay__smtpc_idle_unlink(c);
        c->end_reason = LOG_PROTO_R_REMOTE;
        relay__smtpc_finish(c);
        return;
    case C_CONNECT:
    case C_TLS:
    case C_DONE:
        break;
    }
    log_panic("smtp", "reply %d in state %s", code, relay__smtpc_strstate(c->state));
}

/* relay__smtpc_input - split input into reply lines, replies into smtpc_reply */

void relay__smtpc_input(struct relay_smtpc *c)
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
            struct relay_decision d;

            if (c->job == NULL) {       /* idle or QUITting: nothing to fail over, and
                                         * no job for the next address to carry */
                relay__smtpc_finish(c);
                return;
            }
            d = relay__smtpc_decide(c, RELAY_E_PROTOCOL, 0, NULL);
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
