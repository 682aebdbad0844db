/*
 * relay_session.c - life of one SMTP receive session.
 *
 * Accept, choose the receive connector, enforce the connection limits, send
 * the banner, then feed input to the command parser or the DATA filter.
 * Replies collect in the conn's output buffer and are flushed once the
 * input at hand is used up, so a pipelined batch gets its replies in one
 * write.
 *
 * CONTRACT
 *  Everything runs on the worker loop that accepted the connection.
 *  The state (relay_smtpd.h) changes only in relay__enter_state().
 *  Destruction is deferred and happens in one place: relay__close() enters
 *  CLOSING, asks the conn and the three timers to close, and the session
 *  is freed by relay_session_maybe_free() once the conn has delivered
 *  TLS_EV_CLOSED, every timer's close callback ran, and no background
 *  operation (a commit) still holds it.  Handlers may call relay__close()
 *  and must return without touching the session's I/O.
 *  Time limits, each answered by a reply and a close with reason Timeout:
 *  connection_timeout for the whole session (421 4.4.1); and one timer
 *  for the earlier of connection_inactivity_timeout since the last input
 *  and the deadline of the request being read (451 4.7.0 both): a command
 *  line within command_timeout of the previous reply, DATA text at no less
 *  than min_data_rate on average.  Trickled bytes move only the first, so
 *  a byte every few seconds cannot hold a session (relay_smtpd.h).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_limits.h"
#include "relay_pcert.h"
#include "relay_plog.h"
#include "relay_smtpd.h"
#include "relay_stats.h"
#include "relay_tls.h"
#include "relay_worker.h"
#include "tls_ctx.h"

#define RELAY_LINGER_MS 2000            /* wait for our last reply to leave */
#define RELAY_OUTPUT_HIGH (256 * 1024)  /* stop reading while this much is unsent */

static void relay_session_maybe_free(struct relay_session *s);
static void relay_session_idle(uv_timer_t *t);
static void relay_session_deadline_enter(struct relay_session *s, enum relay_state st);

/* State names for logs and tests, by enum relay_state. */
static const char *const relay_states[] = {
    [RELAY_S_CMD] = "CMD",
    [RELAY_S_DATA] = "DATA",
    [RELAY_S_SPOOL_WAIT] = "SPOOL_WAIT",
    [RELAY_S_TARPIT] = "TARPIT",
    [RELAY_S_CLOSING] = "CLOSING",
};

/* relay__strstate - the name of a session state */

const char *relay__strstate(enum relay_state st)
{
    if ((unsigned)st >= sizeof(relay_states) / sizeof(relay_states[0]))
        log_panic("smtpd", "bad session state %d", (int)st);
    return relay_states[st];
}

/* relay__enter_state - change state (the only assignment of s->state) */

void relay__enter_state(struct relay_session *s, enum relay_state st)
{
    if (s->state == RELAY_S_CLOSING && st != RELAY_S_CLOSING) {
        /* A bug, but not one to stop every session for: it stays closing. */
        log_errx("smtpd", s->sid, "state CLOSING -> %s refused: CLOSING is final",
                 relay__strstate(st));
        return;
    }
    log_debug("smtpd", s->sid, "state %s -> %s", relay__strstate(s->state),
              relay__strstate(st));
    relay_session_deadline_enter(s, st);
    s->state = st;
}

/* relay_session_now - the worker loop's clock, ms */

static uint64_t relay_session_now(const struct relay_session *s)
{
    return uv_now(&s->worker->loop);
}

/* relay_session_request - a request begins: a command line, or DATA text */

static void relay_session_request(struct relay_session *s, bool data)
{
    s->credit_rem = 0;
    if (s->rc->command_timeout == 0 || (data && s->rc->min_data_rate == 0))
        s->deadline = 0;                /* none: the inactivity timer only */
    else
        s->deadline = relay_session_now(s) + s->rc->command_timeout;
}

/*
 * relay_session_deadline_enter - the deadline as the state changes from
 * s->state to st: CMD after anything else, and DATA after CMD, begin a
 * request; the waits (SPOOL_WAIT, TARPIT) are not the client's time, so
 * they keep what was left and DATA resumes with it.
 */
static void relay_session_deadline_enter(struct relay_session *s, enum relay_state st)
{
    uint64_t now;
    bool waiting = s->state == RELAY_S_SPOOL_WAIT || s->state == RELAY_S_TARPIT;

    if (s->rc == NULL || st == s->state)
        return;
    now = relay_session_now(s);
    switch (st) {
    case RELAY_S_CMD:
        relay_session_request(s, false);
        return;
    case RELAY_S_DATA:
        if (!waiting)
            relay_session_request(s, true);
        else if (s->deadline != 0)
            s->deadline = now + s->deadline_left;
        return;
    case RELAY_S_SPOOL_WAIT:
    case RELAY_S_TARPIT:
        if (!waiting)
            s->deadline_left = s->deadline > now ? s->deadline - now : 0;
        return;
    case RELAY_S_CLOSING:
        return;
    }
    log_panic("smtpd", "bad session state %d", (int)st);
}

/* relay_session_credit - n bytes of DATA text read: min_data_rate credit */

static void relay_session_credit(struct relay_session *s, size_t n)
{
    const struct cfg_receive *rc = s->rc;
    uint64_t ms, cap;

    if (s->deadline == 0 || rc->min_data_rate == 0 || n == 0)
        return;
    s->credit_rem += (uint64_t)n * 1000;
    ms = s->credit_rem / rc->min_data_rate;
    s->credit_rem %= rc->min_data_rate;
    if (s->state == RELAY_S_DATA) {
        cap = relay_session_now(s) + rc->command_timeout;
        s->deadline = s->deadline + ms < cap ? s->deadline + ms : cap;
    } else if (s->state == RELAY_S_SPOOL_WAIT) {        /* the rest of DATA, or the end */
        s->deadline_left += ms;
        if (s->deadline_left > rc->command_timeout)
            s->deadline_left = rc->command_timeout;
    }
}

/* relay_session_arm - the timer: the earlier of inactivity and the deadline */

static void relay_session_arm(struct relay_session *s)
{
    uint64_t now = relay_session_now(s);
    uint64_t due = s->idle_since + s->rc->connection_inactivity_timeout;

    if (s->deadline != 0 && s->deadline < due)
        due = s->deadline;
    uv_timer_start(&s->idle_timer, relay_session_idle, due > now ? due - now : 0, 0);
}

/* relay__reply - append one reply line (CRLF added) */

void relay__reply(struct relay_session *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    if (s->conn == NULL)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 3)
        n = sizeof(buf) - 3;
    log_proto_sent(&s->plog.pl, buf, (size_t)n);
    buf[n++] = '\r';
    buf[n++] = '\n';
    tls_conn_write(s->conn, buf, (size_t)n);
}

/* relay__tx_free - end the transaction (RSET, end of data, close); the
 * struct and its recipient array stay as the session's spare, so the next
 * MAIL allocates neither */

void relay__tx_free(struct relay_session *s)
{
    struct relay_tx *tx = s->tx;
    char  **rcpts;
    size_t  cap;

    if (tx == NULL)
        return;
    if (tx->spool != NULL)
        relay_spool_abort(tx->spool, NULL, NULL);
    for (size_t i = 0; i < tx->nrcpts; i++)
        free(tx->rcpts[i]);
    free(tx->sender);
    free(tx->secured);
    s->tx = NULL;
    if (s->tx_spare != NULL) {          /* never: MAIL took it */
        free(tx->rcpts);
        free(tx);
        return;
    }
    rcpts = tx->rcpts;
    cap = tx->cap;
    memset(tx, 0, sizeof(*tx));
    tx->rcpts = rcpts;
    tx->cap = cap;
    s->tx_spare = tx;
}

/* relay_session_timer_closed - close_cb of a timer */

static void relay_session_timer_closed(uv_handle_t *h)
{
    struct relay_session *s = h->data;

    s->open_handles--;
    relay_session_maybe_free(s);
}

/* The disconnect reasons: log word and protocol log context, by enum. */
static const struct {
    const char *name;
    enum log_proto_reason plog;
} relay_close_reasons[] = {
    [RELAY_CLOSE_LOCAL] = { "Local", LOG_PROTO_R_LOCAL },
    [RELAY_CLOSE_QUIT] = { "QuitVerb", LOG_PROTO_R_QUIT },
    [RELAY_CLOSE_TIMEOUT] = { "Timeout", LOG_PROTO_R_TIMEOUT },
    [RELAY_CLOSE_TOO_MANY_ERRORS] = { "TooManyErrors", LOG_PROTO_R_TOO_MANY_ERRORS },
    [RELAY_CLOSE_REMOTE] = { "Remote", LOG_PROTO_R_SENDER_DISCONNECTED },
    [RELAY_CLOSE_CONNECTION_LIMIT] = { "ConnectionLimit", LOG_PROTO_R_LOCAL },
    [RELAY_CLOSE_SOURCE_LIMIT] = { "SourceLimit", LOG_PROTO_R_LOCAL },
};

/* relay_close_reason_check - why, or a panic when out of the table */

static enum relay_close_reason relay_close_reason_check(enum relay_close_reason why)
{
    if ((unsigned)why >= sizeof(relay_close_reasons) / sizeof(relay_close_reasons[0]))
        log_panic("smtpd", "bad disconnect reason %d", (int)why);
    return why;
}

/* relay__close_reason_name - "QuitVerb", "Timeout", ... */

const char *relay__close_reason_name(enum relay_close_reason why)
{
    return relay_close_reasons[relay_close_reason_check(why)].name;
}

/* relay__close_reason_plog - the protocol log's disconnect context of why */

enum log_proto_reason relay__close_reason_plog(enum relay_close_reason why)
{
    return relay_close_reasons[relay_close_reason_check(why)].plog;
}

/* relay__close - begin closing; once closing, only re-check whether we can free */

void relay__close(struct relay_session *s, enum relay_close_reason why)
{
    if (s->state == RELAY_S_CLOSING) {
        relay_session_maybe_free(s);
        return;
    }
    relay__enter_state(s, RELAY_S_CLOSING);
    free(s->tarpit_reply);              /* a held reply dies with the session */
    s->tarpit_reply = NULL;
    log_info("smtpd", s->sid, "disconnect from=%s reason=%s messages=%u",
             s->remote_ep, relay__close_reason_name(why), s->ntx);
    if (log_proto_enabled(&s->plog.pl))
        log_proto_disconnect(&s->plog.pl, relay__close_reason_plog(why), NULL);
    if (s->pending == 0)
        relay__data_abort(s);           /* not committing: drop any partial message */
    uv_close((uv_handle_t *)&s->idle_timer, relay_session_timer_closed);
    uv_close((uv_handle_t *)&s->life_timer, relay_session_timer_closed);
    uv_close((uv_handle_t *)&s->tarpit_timer, relay_session_timer_closed);
    if (s->conn != NULL)
        tls_conn_close(s->conn, RELAY_LINGER_MS);
}

/* relay_session_maybe_free - free once nothing refers to the session */

static void relay_session_maybe_free(struct relay_session *s)
{
    struct relay_worker *w = s->worker;

    if (s->state != RELAY_S_CLOSING || s->conn != NULL || s->open_handles > 0
        || s->pending > 0)
        return;
    relay__tx_free(s);
    if (s->tx_spare != NULL) {
        free(s->tx_spare->rcpts);
        free(s->tx_spare);
    }
    if (s->limit_key != NULL)
        relay_limits_release(s->limit_key);
    tls_ctx_unref(s->tls_ctx);
    if (s->peer != NULL) {
        tls_cert_info_free(s->peer);
        free(s->peer);
    }
    free(s->ident);
    if (s->cfg != NULL)
        policy_config_unref(s->cfg);
    free(s->helo);
    free(s->tarpit_reply);
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
    w->nsessions--;
    relay_worker_session_gone(w);
}

/* relay_session_paused - a wait state: input stays buffered, unread */

static bool relay_session_paused(const struct relay_session *s)
{
    return s->state == RELAY_S_SPOOL_WAIT || s->state == RELAY_S_TARPIT;
}

/* relay_session_line - handle one command line from the input */

static void relay_session_line(struct relay_session *s, const char *p, size_t n)
{
    char line[RELAY_LINE_MAX + 1];
    size_t len = n - 1;                 /* drop LF */

    if (len > 0 && p[len - 1] == '\r')
        len--;
    memcpy(line, p, len);
    line[len] = '\0';
    tls_conn_consume(s->conn, n);
    if (memchr(line, '\0', len) != NULL) {
        relay__reply(s, "500 5.3.3 Unrecognized command");
        relay__protocol_error(s);
        return;
    }
    log_debug("smtpd", s->sid, "< %s", line);
    log_proto_received(&s->plog.pl, line, len);
    relay__command(s, line, len);
}

/* relay__process - use the buffered input in the current state */

void relay__process(struct relay_session *s)
{
    for (;;) {
        const char *p, *nl;
        size_t len;

        if (s->state == RELAY_S_CLOSING)
            return;
        if (s->state == RELAY_S_CMD && s->worker->stopping) {
            relay__reply(s, "421 4.3.2 Service not available, closing transmission channel");
            relay__close(s, RELAY_CLOSE_LOCAL);
            return;
        }
        if (tls_conn_write_queued(s->conn) > RELAY_OUTPUT_HIGH) {
            tls_conn_pause(s->conn);    /* resumed on TLS_EV_DRAINED */
            tls_conn_notify_drained(s->conn);
            if (tls_conn_flush(s->conn) != 0)
                relay__close(s, RELAY_CLOSE_REMOTE);
            return;
        }
        p = tls_conn_peek(s->conn, &len);
        if (len == 0 || relay_session_paused(s))
            break;
        if (s->state == RELAY_S_DATA) {
            size_t used = relay__data_feed(s, p, len);

            relay_session_credit(s, used);
            tls_conn_consume(s->conn, used);
            continue;
        }
        if (s->discarding) {            /* the rest of an overlong line */
            nl = memchr(p, '\n', len);
            if (nl == NULL) {
                tls_conn_consume(s->conn, len);
                break;
            }
            tls_conn_consume(s->conn, (size_t)(nl - p) + 1);
            s->discarding = false;
            relay__reply(s, "500 5.5.2 Line too long");
            if (!relay__protocol_error(s))
                relay_session_request(s, false);        /* the next line may start */
            continue;
        }
        nl = memchr(p, '\n', len < RELAY_LINE_MAX + 1 ? len : RELAY_LINE_MAX + 1);
        if (nl == NULL) {
            if (len > RELAY_LINE_MAX) {
                s->discarding = true;
                continue;
            }
            break;                      /* wait for the rest of the line */
        }
        relay_session_line(s, p, (size_t)(nl - p) + 1);
        if (s->state == RELAY_S_CMD)
            relay_session_request(s, false);    /* the next line may start */
    }
    if (relay_session_paused(s)) {
        tls_conn_pause(s->conn);
        uv_timer_stop(&s->idle_timer);
    } else {
        if (tls_conn_resume(s->conn) != 0) {
            relay__close(s, RELAY_CLOSE_LOCAL);
            return;
        }
        if (!uv_is_active((uv_handle_t *)&s->idle_timer))
            s->idle_since = relay_session_now(s);       /* after a wait: a fresh period */
        relay_session_arm(s);
    }
    if (tls_conn_flush(s->conn) != 0)
        relay__close(s, RELAY_CLOSE_REMOTE);
}

/* relay__tarpit_end - the held reply goes out; input resumes */

void relay__tarpit_end(struct relay_session *s)
{
    char *reply = s->tarpit_reply;

    uv_timer_stop(&s->tarpit_timer);
    s->tarpit_reply = NULL;
    if (s->state == RELAY_S_TARPIT)
        relay__enter_state(s, RELAY_S_CMD);
    relay__reply(s, "%s", reply);
    free(reply);
    relay__process(s);
}

static void relay_session_tarpit_fired(uv_timer_t *t)
{
    relay__tarpit_end(t->data);
}

/* relay__tarpit - send reply after ms; no input is read meanwhile */

void relay__tarpit(struct relay_session *s, uint64_t ms, const char *reply)
{
    if (ms == 0 || s->tarpit_reply != NULL) {
        relay__reply(s, "%s", reply);
        return;
    }
    log_info("smtpd", s->sid, "tarpit %llu ms before \"%s\"", (unsigned long long)ms, reply);
    s->tarpit_reply = xstrdup(reply);
    relay__enter_state(s, RELAY_S_TARPIT);      /* relay__process pauses input */
    uv_timer_start(&s->tarpit_timer, relay_session_tarpit_fired, ms, 0);
}

/* relay_session_deadline - command_timeout or min_data_rate: the request is late */

static void relay_session_deadline(struct relay_session *s)
{
    const struct cfg_receive *rc = s->rc;

    if (s->state == RELAY_S_DATA) {
        log_info("smtpd", s->sid, "deadline from=%s limit=min_data_rate rate=%u bytes=%llu",
                 s->remote_ep, rc->min_data_rate,
                 (unsigned long long)(s->tx != NULL ? s->tx->bytes : 0));
        log_proto_infof(&s->plog.pl, NULL, "Message data arrived slower than min_data_rate "
                        "(%u bytes/s)", rc->min_data_rate);
    } else {
        log_info("smtpd", s->sid, "deadline from=%s limit=command_timeout ms=%llu",
                 s->remote_ep, (unsigned long long)rc->command_timeout);
        log_proto_infof(&s->plog.pl, NULL, "No complete command within command_timeout "
                        "(%llu ms)", (unsigned long long)rc->command_timeout);
    }
    if (s->tls_started && !s->tls)
        relay_stats_tls_failed(true, RELAY_TLS_FAIL_TIMEOUT);
    relay__reply(s, "451 4.7.0 Timeout waiting for client input");
    relay__close(s, RELAY_CLOSE_TIMEOUT);
}

/* relay_session_idle - inactivity, or the request's deadline (relay_session_arm) */

static void relay_session_idle(uv_timer_t *t)
{
    struct relay_session *s = t->data;
    uint64_t now = relay_session_now(s);
    uint64_t idle_due = s->idle_since + s->rc->connection_inactivity_timeout;

    if (s->deadline != 0 && s->deadline < idle_due && now >= s->deadline) {
        relay_session_deadline(s);      /* a tie counts as inactivity: the client was silent */
        return;
    }
    if (now < idle_due) {               /* input or a new request moved both on */
        relay_session_arm(s);
        return;
    }
    if (s->tls_started && !s->tls)
        relay_stats_tls_failed(true, RELAY_TLS_FAIL_TIMEOUT);
    relay__reply(s, "451 4.7.0 Timeout waiting for client input");
    relay__close(s, RELAY_CLOSE_TIMEOUT);
}

/* relay_session_life - connection_timeout expired */

static void relay_session_life(uv_timer_t *t)
{
    struct relay_session *s = t->data;

    if (s->pending > 0) {               /* a commit is under way: answer it first */
        uv_timer_start(&s->life_timer, relay_session_life, 1000, 0);
        return;
    }
    if (s->tls_started && !s->tls)
        relay_stats_tls_failed(true, RELAY_TLS_FAIL_TIMEOUT);
    relay__reply(s, "421 4.4.1 Connection timed out");
    relay__close(s, RELAY_CLOSE_TIMEOUT);
}

/* relay_session_event - events of the session's conn */

static void relay_session_event(struct tls_conn *c, enum tls_event ev, void *arg)
{
    struct relay_session *s = arg;

    switch (ev) {
    case TLS_EV_DATA_IN:
        if (s->state == RELAY_S_CLOSING)
            return;
        s->idle_since = relay_session_now(s);   /* input restarts inactivity, not the deadline */
        relay_session_arm(s);
        relay__process(s);
        return;
    case TLS_EV_DRAINED:
        relay__process(s);
        return;
    case TLS_EV_EOF:
    case TLS_EV_ERROR:
        if (s->tls_started && !s->tls) {        /* counted once: the session closes */
            relay_stats_tls_failed(true, relay_stats_tls_reason(tls_conn_tls_error(c)));
            s->tls_started = false;
        }
        if (*tls_conn_tls_error(c) != '\0') {
            log_info("smtpd", s->sid, "TLS negotiation failed from=%s error=\"%s\"",
                     s->remote_ep, tls_conn_tls_error(c));
            relay_plog_tls_failed(&s->plog.pl, tls_conn_tls_error(c));
        }
        relay__close(s, RELAY_CLOSE_REMOTE);
        return;
    case TLS_EV_TLS_READY:
        s->tls = true;
        relay_stats_count(RELAY_LSTAT_TLS_IN, s->stats_label);
        s->facts = tls_conn_facts(c);
        if (s->facts->peer_der != NULL) {
            s->peer = xcalloc(1, sizeof(*s->peer));
            if (tls_cert_info_from_der(s->facts->peer_der, s->facts->peer_der_len,
                                       s->peer) != 0) {
                free(s->peer);
                s->peer = NULL;
            }
        }
        if (s->peer != NULL)            /* whatever the verdict: kept for test-partner */
            relay_pcert_saw(s->worker->pcert, &s->worker->loop, c, s->peer->thumbprint,
                            s->sid);
        log_info("smtpd", s->sid, "TLS established from=%s version=%s cipher=%s bits=%d "
                 "client_cert=%s chain_code=%ld resumed=%s", s->remote_ep, s->facts->version,
                 s->facts->cipher, s->facts->cipher_bits, s->facts->peer_cert ? "yes" : "no",
                 s->facts->verify_code, s->facts->resumed ? "yes" : "no");
        if (log_proto_enabled(&s->plog.pl)) {
            struct log_proto_session *pl = &s->plog.pl;

            relay_plog_own_cert(pl, s->cfg, true, (size_t)(s->rc - s->cfg->receive));
            relay_plog_tls(pl, s->facts, true);
            if (s->facts->peer_cert) {  /* parsed once above: s->peer */
                relay_plog_cert(pl, "Received certificate", s->peer);
                relay_plog_chain(pl, s->facts,
                                 s->cfg->transport.revocation_failure == CFG_REVFAIL_ACCEPT);
            }
        }
        relay__process(s);              /* input that came with the handshake */
        return;
    case TLS_EV_CLOSED:
        s->conn = NULL;
        relay_limits_conn(-1);
        relay_session_maybe_free(s);
        return;
    case TLS_EV_CONNECTED:
        break;                          /* not for an accepted conn */
    }
    log_panic("smtpd", "unknown conn event %d", (int)ev);
}

/* relay_session_format_ep - "ip:port" or "[ip]:port" */

static void relay_session_format_ep(struct relay_session *s)
{
    const struct sockaddr *sa = (const struct sockaddr *)&s->remote;

    log_addr_ip(s->remote_ip, sizeof(s->remote_ip), sa);
    log_addr_endpoint(s->remote_ep, sizeof(s->remote_ep), sa);
}

/* relay_session_plog_start - the protocol log session: "+" and permissions */

static void relay_session_plog_start(struct relay_session *s)
{
    struct log_proto_session *pl = &s->plog.pl;
    char id[LOG_PROTO_CONNECTOR_MAX], ep[LOG_PROTO_ENDPOINT_MAX];

    if (s->rc->protocol_logging_level == CFG_LOG_NONE || relay_plog_recv() == NULL) {
        log_proto_session_init(pl, NULL, NULL, s->sid);    /* nothing is formatted */
        return;
    }
    log_proto_connector_id(id, sizeof(id), relay_plog_hostname(), s->rc->name);
    log_proto_session_init(pl, relay_plog_recv(), id, s->sid);
    log_addr_endpoint(ep, sizeof(ep), (const struct sockaddr *)&s->local);
    log_proto_session_set_local(pl, ep);
    log_proto_session_set_remote(pl, s->remote_ep);
    log_proto_connect(pl);
    log_proto_info(pl, "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                   "AcceptRoutingHeaders", "Set Session Permissions");
}

/* relay_session_accept - a new connection on one of w's listeners */

void relay_session_accept(struct relay_worker *w, uv_stream_t *server)
{
    struct relay_session *s = xcalloc(1, sizeof(*s));
    enum relay_limit lim;
    int err;

    s->worker = w;
    s->sid = log_session_id_next();     /* state: RELAY_S_CMD (zero) */
    if ((s->conn = tls_conn_accept(server, relay_session_event, s, &err)) == NULL) {
        log_warnx("smtpd", s->sid, "accept failed: %s", uv_strerror(err));
        free(s);
        return;
    }
    relay_limits_conn(+1);              /* until TLS_EV_CLOSED */
    uv_timer_init(&w->loop, &s->idle_timer);
    uv_timer_init(&w->loop, &s->life_timer);
    uv_timer_init(&w->loop, &s->tarpit_timer);
    s->idle_timer.data = s->life_timer.data = s->tarpit_timer.data = s;
    s->open_handles = 3;
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    w->nsessions++;
    if ((err = tls_conn_endpoints(s->conn, &s->local, &s->remote)) != 0) {
        relay__close(s, RELAY_CLOSE_REMOTE);
        return;
    }
    relay_session_format_ep(s);
    s->cfg = policy_config_current();
    s->rc = policy_receive_select(s->cfg, (struct sockaddr *)&s->local,
                                  (struct sockaddr *)&s->remote);
    if (s->rc == NULL) {
        log_info("smtpd", s->sid, "no receive connector for client=%s: closing", s->remote_ep);
        relay__close(s, RELAY_CLOSE_LOCAL);
        return;
    }
    s->stats_label = relay_stats_label_find(s->rc->name);
    relay_stats_count(RELAY_LSTAT_CONN_IN, s->stats_label);
    relay_session_plog_start(s);
    lim = relay_limits_acquire(s->rc->name, s->rc->max_inbound_connection, s->remote_ip,
                               s->rc->max_inbound_connection_per_source, &s->limit_key);
    log_info("smtpd", s->sid, "connect from=%s connector=%s", s->remote_ep, s->rc->name);
    if (s->rc->auth_mechanism == CFG_AUTH_TLS)
        s->tls_ctx = relay_tls_server_ctx(s->cfg, s->rc);
    if (lim != RELAY_LIMIT_OK) {
        relay__reply(s, lim == RELAY_LIMIT_TOTAL
                     ? "421 4.3.2 The maximum number of concurrent server connections has "
                       "exceeded a limit, closing transmission channel"
                     : "421 4.3.2 The maximum number of concurrent connections has exceeded "
                       "a limit, closing transmission channel");
        relay__close(s, lim == RELAY_LIMIT_TOTAL ? RELAY_CLOSE_CONNECTION_LIMIT
                                                 : RELAY_CLOSE_SOURCE_LIMIT);
        return;
    }
    relay__reply(s, "220 %s", s->rc->banner);
    uv_timer_start(&s->life_timer, relay_session_life, s->rc->connection_timeout, 0);
    relay_session_request(s, false);    /* the first command may start */
    relay__process(s);
}

/* relay_session_shutdown_all - the worker is stopping */

void relay_session_shutdown_all(struct relay_worker *w)
{
    struct relay_session *s, *next;

    for (s = w->sessions; s != NULL; s = next) {
        next = s->next;
        if (s->tarpit_reply != NULL)
            relay__tarpit_end(s);        /* the held reply, then 421 */
        else if (s->state == RELAY_S_CMD)
            relay__process(s);          /* replies 421 and closes */
    }
}
