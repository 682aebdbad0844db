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
 * relay_decide()'s (relay_trouble.c): relay__smtpc_decide asks it with the
 * connection's stage, relay__smtpc_trouble carries out a next host or an
 * end.  The transaction (MAIL, RCPT, DATA, pipelined when offered) and the
 * replies are relay_smtpc_reply.c's; STARTTLS and the domain-security
 * checks relay_smtpc_tls.c's; they share relay_smtpc_int.h.
 *
 * CONTRACT
 *  Runs on the queue manager's loop.  relay_smtpc_start() always returns 0:
 *  a connection that cannot even be opened is reported as one that fails
 *  later.  The connection reports through its destination's ops
 *  (relay_smtp.h): job_done, dest_failed and finally, always later, conn_gone.
 *  The first two can run inside relay_smtpc_start() when no address can be
 *  tried at all (tls_conn_connect fails at once for every address, or the
 *  stop has begun), inside relay_smtpc_wake() (a message over the peer's
 *  SIZE, or a REQUIRETLS message this connection cannot carry, is done at
 *  once; a write that fails, or a REQUIRETLS message to a host without the
 *  extension while another address is left, moves to the next address) and
 *  inside relay_smtpc_shutdown_all().  The smtpc is freed after its last conn and its timer
 *  closed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "tls_ctx.h"

/* RFC 5321 4.5.3.2 timeouts. */
static const uint64_t smtpc_timeouts[] = {
    [C_CONNECT] = 30000, [C_BANNER] = 300000, [C_EHLO] = 300000, [C_HELO] = 300000,
    [C_STARTTLS] = 300000, [C_TLS] = 300000,
    [C_RSET] = 300000, [C_MAIL] = 300000, [C_RCPT] = 300000, [C_DATA] = 120000,
    [C_DOT] = 600000, [C_IDLE] = 0, [C_QUIT] = 60000, [C_DONE] = 0,
};
/* What we were doing: the decision's stage of each state, which also names
 * it (no job waits in IDLE, QUIT or DONE; a connect that fails at once is
 * decided in the state before it). */
static const enum relay_stage smtpc_stages[] = {
    [C_CONNECT] = RELAY_S_CONNECT, [C_BANNER] = RELAY_S_BANNER, [C_EHLO] = RELAY_S_EHLO,
    [C_HELO] = RELAY_S_HELO, [C_STARTTLS] = RELAY_S_STARTTLS, [C_TLS] = RELAY_S_TLS,
    [C_RSET] = RELAY_S_RSET, [C_MAIL] = RELAY_S_MAIL, [C_RCPT] = RELAY_S_RCPT,
    [C_DATA] = RELAY_S_DATA, [C_DOT] = RELAY_S_DOT, [C_IDLE] = RELAY_S_CONNECT,
    [C_QUIT] = RELAY_S_CONNECT, [C_DONE] = RELAY_S_CONNECT,
};

#define RELAY_SMTPC_STOP_GRACE_MS 30000 /* at stop, the longest wait for a dot's reply */
#define RELAY_SMTPC_QUIT_WAIT_MS 2000   /* at stop, the wait for the reply to QUIT */
#define RELAY_SMTPC_LINGER_MS 2000      /* at close, wait for our last command to
                                         * leave (relay_session.c's RELAY_LINGER_MS) */

static void smtpc_event(struct tls_conn *tc, enum tls_event ev, void *arg);
static void smtpc_timeout(uv_timer_t *t);

/* relay__smtpc_strstate - a state's name: its stage's, or its own */

const char *relay__smtpc_strstate(enum relay_smtpc_state st)
{
    switch (st) {
    case C_IDLE:
        return "idle";
    case C_QUIT:
        return "QUIT";
    case C_DONE:
        return "done";
    default:
        return relay_stage_name(smtpc_stages[st]);
    }
}

/* relay__smtpc_enter_state - change state, (re)arm its timeout */

void relay__smtpc_enter_state(struct relay_smtpc *c, enum relay_smtpc_state st)
{
    log_debug("smtp", c->sid, "state %s -> %s", relay__smtpc_strstate(c->state),
              relay__smtpc_strstate(st));
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
        c->dest->client->all = c->next;
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

/* relay__smtpc_finish - no more work: close everything */

void relay__smtpc_finish(struct relay_smtpc *c)
{
    if (c->finishing)
        return;
    relay__smtpc_idle_unlink(c);
    c->finishing = true;
    c->state = C_DONE;
    relay__smtpc_drop_conn(c, RELAY_SMTPC_LINGER_MS);
    uv_close((uv_handle_t *)&c->timer, smtpc_timer_closed);
}

/* relay_job_free - free a job and what it owns (its bytes are its message's) */

void relay_job_free(struct relay_job *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->nridx; i++)
        free(j->replies[i]);
    free(j->replies);
    free(j->codes);
    free(j->ridx);
    free(j->last);
    free(j->remote);
    free(j);
}

/* relay__smtpc_endpoint - "ip:port" of the address being tried */

void relay__smtpc_endpoint(struct relay_smtpc *c, char *buf, size_t sz)
{
    log_addr_endpoint(buf, sz, (const struct sockaddr *)&c->dest->addrs[c->addr_i]);
}

/* relay__smtpc_note - remember why this address did not work */

void relay__smtpc_note(struct relay_smtpc *c, const char *what, bool conn_error)
{
    struct relay_job *j = c->job;

    if (j == NULL)
        return;
    free(j->last);
    j->last = log_oneline(what);
    j->last_conn = conn_error;
    relay__smtpc_endpoint(c, j->endpoint, sizeof(j->endpoint));
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

/* relay__smtpc_job_done - report the current job to the queue manager */

void relay__smtpc_job_done(struct relay_smtpc *c)
{
    struct relay_job *j = c->job;

    c->job = NULL;
    j->sid = c->sid;
    c->dest->ops->job_done(c->dest, j);
}

/* relay__smtpc_decide - what this event at c's current stage means */

struct relay_decision relay__smtpc_decide(const struct relay_smtpc *c, enum relay_error error,
                                          int code, const char *text)
{
    struct relay_event ev = {
        .stage = smtpc_stages[c->state], .error = error, .code = code, .text = text,
        /* A domain-secured partner, or an MTA-STS enforce domain, never gets
         * plaintext either: the TLS steps ask policy_send_secure /
         * policy_send_sts first, and the decision is safe without it. */
        .require_tls = c->dest->sc->require_tls || c->dest->listed
            || relay__smtpc_sts_enforce(c) || relay__smtpc_dane(c) != NULL,
    };

    return relay_decide(&ev);
}

/* relay__smtpc_decide_requiretls - what a REQUIRETLS job that may not go
 * on c (error) means: host names the address; another address left, and
 * the destination's failed MTA-STS lookup, count */

struct relay_decision relay__smtpc_decide_requiretls(const struct relay_smtpc *c,
                                                     enum relay_error error, const char *host)
{
    const struct relay_dest *d = c->dest;
    struct relay_event ev = {
        .stage = smtpc_stages[c->state], .error = error, .text = host, .domain = d->domain,
        .hosts_left = c->addr_i + 1 < d->naddrs,
        /* No policy known because its lookup failed: the next may verify. */
        .sts_failure = d->sts == NULL && !d->listed ? d->sts_failure : NULL,
    };

    return relay_decide(&ev);
}

/* relay__smtpc_record - the job's recipients in d's scope get d's code and text */

void relay__smtpc_record(struct relay_smtpc *c, const struct relay_decision *d)
{
    struct relay_job *j = c->job;

    relay__smtpc_note(c, d->text, d->conn_failure);
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
        relay__smtpc_note(c, d->text, d->conn_failure);
        smtpc_next_host(c);
        break;
    case RELAY_H_FAIL_ALL:
        if (c->job != NULL) {
            relay__smtpc_record(c, d);
            relay__smtpc_job_done(c);
        }
        relay__smtpc_finish(c);                /* pipelined replies may follow: start afresh */
        break;
    case RELAY_H_CONTINUE:
    case RELAY_H_FALLBACK:
        log_panic("smtp", "relay__smtpc_trouble: no trouble in state %s",
                  relay__smtpc_strstate(c->state));
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
    relay__smtpc_endpoint(c, ep, sizeof(ep));
    log_proto_session_set_remote(&c->pl, ep);
    log_proto_info(&c->pl, NULL, "attempting to connect");
}

/* relay__smtpc_connect_next - connect to the current address, or give up */

void relay__smtpc_connect_next(struct relay_smtpc *c)
{
    struct relay_decision d;
    int err;

    for (;;) {                          /* a loop, not recursion: a hostile zone
                                         * may have thousands of skipped addresses */
        if (c->dest->client->stopping) {        /* no new connection at stop: the job waits */
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
            relay__smtpc_finish(c);
            return;
        }
        if (!relay__smtpc_dane_skip(c))
            break;
        if (c->finishing)
            return;                     /* the skip ended c */
    }                                   /* its TLSA lookup failed: the next host */
    c->conn = tls_conn_connect(c->loop, (const struct sockaddr *)&c->dest->addrs[c->addr_i],
                               c->dest->sc->source_ip.ss_family != AF_UNSPEC
                                   ? (const struct sockaddr *)&c->dest->sc->source_ip : NULL,
                               smtpc_event, c, &err);
    if (c->conn == NULL) {
        d = relay__smtpc_decide(c, RELAY_E_CONN, 0, uv_strerror(err));
        relay__smtpc_trouble(c, &d);    /* the next address */
        return;
    }
    c->conns++;
    relay_limits_conn(+1);              /* until TLS_EV_CLOSED */
    smtpc_plog_start(c);
    c->esmtp = c->pipelining = c->tx_open = false;
    c->starttls_offered = c->tls = c->secured = c->policy_logged = false;
    c->tls_verified = c->requiretls_offered = c->no_resume_keep = false;
    c->peer_size = 0;
    relay__smtpc_enter_state(c, C_CONNECT);
}

/* relay__smtpc_next_job - next job, or wait idle, or QUIT; true: a job to start */

bool relay__smtpc_next_job(struct relay_smtpc *c)
{
    struct relay_dest *d = c->dest;

    if (c->dest->client->stopping && c->job == NULL) {  /* the last reply came: goodbye */
        relay__smtpc_quit(c);
        uv_timer_start(&c->timer, smtpc_timeout, RELAY_SMTPC_QUIT_WAIT_MS, 0);
        return false;
    }
    if (c->job == NULL && d->jobs != NULL) {
        if (uv_now(c->loop) - c->ready_ms >= d->cfg->transport.connection_reuse_time) {
            relay__smtpc_quit(c);              /* too old: the job gets a new connection */
            return false;
        }
        c->job = relay_dest_take_job(d);
    }
    if (c->job == NULL) {
        const struct cfg_transport *t = &d->cfg->transport;

        if (c->tx_open || t->connection_cache_time == 0
            || uv_now(c->loop) - c->ready_ms >= t->connection_reuse_time) {
            relay__smtpc_quit(c);
            return false;
        }
        relay__smtpc_idle(c);           /* wait for the next job (relay_smtpc_wake) */
        return false;
    }
    if (c->tx_open) {
        relay__smtpc_send(c, "RSET");
        tls_conn_flush(c->conn);
        relay__smtpc_enter_state(c, C_RSET);
        return false;
    }
    return true;
}

/* relay__smtpc_take_job - next job (started), or wait idle, or QUIT */

void relay__smtpc_take_job(struct relay_smtpc *c)
{
    if (relay__smtpc_next_job(c))
        relay__smtpc_start_tx(c);
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
        relay_stats_count(RELAY_LSTAT_CONN_OUT, relay_stats_label_find(c->dest->sc->name));
        c->ready_ms = uv_now(c->loop);
        relay__smtpc_enter_state(c, C_BANNER);
        return;
    case TLS_EV_DATA_IN:
        relay__smtpc_input(c);
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
            relay__smtpc_finish(c);
            return;
        }
        if (c->job == NULL) {           /* idle: nothing lost */
            relay__smtpc_finish(c);
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
    if (c->state == C_TLS)
        relay_stats_tls_failed(false, RELAY_TLS_FAIL_TIMEOUT);
    if (c->job == NULL) {
        relay__smtpc_finish(c);
        return;
    }
    d = relay__smtpc_decide(c, RELAY_E_TIMEOUT, 0, NULL);
    relay__smtpc_trouble(c, &d);
}

/* relay_smtp_client_new - the connections of a new owner */

struct relay_smtp_client *relay_smtp_client_new(void)
{
    return xcalloc(1, sizeof(struct relay_smtp_client));
}

/* relay_smtp_client_free - after its last connection */

void relay_smtp_client_free(struct relay_smtp_client *cl)
{
    if (cl != NULL && cl->all != NULL)  /* a bug; its loop has ended, so nothing runs */
        log_warnx("smtp", 0, "connections still live when their client is freed");
    free(cl);
}

/* relay_smtpc_start - open a connection for d */

int relay_smtpc_start(struct relay_dest *d, uv_loop_t *loop)
{
    struct relay_smtpc *c = xcalloc(1, sizeof(*c));

    c->sid = log_session_id_next();
    c->dest = d;
    c->next = d->client->all;
    if (c->next)
        c->next->prev = c;
    d->client->all = c;
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

void relay_smtpc_shutdown_all(struct relay_smtp_client *cl)
{
    struct relay_decision d;

    cl->stopping = true;
    for (struct relay_smtpc *c = cl->all; c != NULL; c = c->next) {
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
