/*
 * relay_trouble.c - the one place that decides: deliver, next host, defer
 * or bounce, with the text, the DSN status and the retry delay.
 *
 * Like Postfix's smtp_trouble.c, every delivery event is classified here
 * and nowhere else: the SMTP client and the queue manager say what
 * happened (relay_trouble.h's struct relay_event), relay_decide() says
 * what it means.  The table, stage by stage (rcpt / host / text):
 *
 *  DNS        OK: CONTINUE.  CANCELED: DEFER, the shutdown text.
 *             NULLMX: FAIL "556 5.1.10 Recipient address has null MX"
 *             (RFC 7505).  FAIL for the name (NXDOMAIN, a bad name): FAIL
 *             "550 5.1.2 DNS domain does not exist".  FAIL with the name
 *             found but no host address (dns_result.no_address): FAIL
 *             "550 5.4.4 Unable to route: ..." (RFC 3463 X.4.4; Postfix
 *             gives 5.4.4 when no MX host has an address).  RETRY: DEFER
 *             "451 4.4.0 DNS query failed: WHY".  Every failure: FAIL_ALL,
 *             for every job of the destination.
 *  SMARTHOST  DEFER "451 4.4.0 No address for any smart host", FAIL_ALL.
 *  READ       DEFER "451 4.3.0 Cannot read the queued message".
 *  ROUTE      DEFER "451 4.4.4 Unreachable: ..." (Exchange's Unreachable
 *             queue: wait for a connector or expiry, never bounce).
 *  EXPIRY     age >= message_expiration_timeout (or no transport): FAIL
 *             "550 4.4.7 QUEUE.Expired; message expired"; else DEFER with
 *             retry_ms = the time left.
 *  SHUTDOWN   DEFER "451 4.4.0 delivery interrupted by shutdown", FAIL_ALL.
 *  ALL_HOSTS  DEFER with Exchange's failover text: 441 4.4.1 after a
 *             connection error, else 451 4.4.0 quoting the last reply.
 *  RESULT     code 0: DEFER with the job's last failure (or "451 4.4.0
 *             delivery attempt ended"); else by the code (RCPT's rule).
 *  RETRY      DEFER, retry_ms from the [transport] schedule.
 *  STS        DEFER "451 4.7.5 MTA-STS policy of D: no MX host matches the
 *             policy (HOSTS)", or "...: no MX host that the policy allows
 *             has an address", FAIL_ALL (never another host: RFC 8461 5).
 *  A connection stage with an error: CONN and TIMEOUT (the text names the
 *  stage), PROTOCOL, SECURE (the verdict's reply) and NO_TLS ("451 5.7.3
 *  STARTTLS is required to send mail"): NEXT_HOST, DEFER; a connection
 *  failure is CONN, or TIMEOUT while connecting.  HANDSHAKE: require_tls:
 *  NEXT_HOST with 5.7.3, else FALLBACK (plaintext to the same address).
 *  TOO_BIG: FAIL the job "552 5.3.4 ...", CONTINUE with the next job.
 *  REQUIRETLS_TLS / REQUIRETLS_PEER (RFC 8689 4.2.1, a REQUIRETLS message
 *  that this connection cannot carry): FAIL the job "550 5.7.10 ..." (TLS
 *  not verified by the domain-secure list, DANE, MTA-STS enforce - testing
 *  mode does not count - or a verified smart host) or "550 5.7.30 ..." (no
 *  REQUIRETLS in the next hop's EHLO), CONTINUE with the next job.  But a
 *  domain whose MTA-STS lookup failed with no policy known: DEFER the job
 *  "451 4.7.10 ..." (expiry bounces it), CONTINUE; and 5.7.30 with another
 *  address left: NEXT_HOST (DEFER, noted), so every MX is tried first.
 *  The message is never sent without the guarantee.
 *  SHUTDOWN: DEFER the job (no answer counts), FAIL_ALL.
 *  Replies: BANNER, HELO, MAIL: 2xx/3xx CONTINUE, 5xx FAIL_ALL (the job
 *  fails with the reply), else NEXT_HOST.  EHLO: the same, but 5xx is
 *  FALLBACK (HELO).  STARTTLS: 220 CONTINUE (handshake); else require_tls:
 *  NEXT_HOST with 5.7.3; else FALLBACK (plaintext).  RSET: CONTINUE
 *  whatever the reply.  RCPT: the one recipient by its code.  DATA: 354
 *  CONTINUE; else the accepted recipients share the reply.  DOT: the
 *  accepted recipients get the reply.
 *  Every DEFER with a transport gets retry_ms from the schedule.
 *
 * CONTRACT
 *  Pure functions: no I/O, no globals.  ev and its strings are not kept.
 *  The decision's text is owned by it (relay_decision_free); other strings
 *  returned are owned by the caller.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_trouble.h"

#define RELAY_FAILOVER_TAIL " Attempted failover to alternate host, but that did not succeed. " \
    "Either there are no alternate hosts, or delivery failed to all alternate hosts. "      \
    "The last endpoint attempted was "

/* The texts of the decisions. */
#define T_NULLMX     "556 5.1.10 Recipient address has null MX"
#define T_NXDOMAIN   "550 5.1.2 DNS domain does not exist"
#define T_NOADDR_MX  "550 5.4.4 Unable to route: no MX host of the recipient domain has an address"
#define T_NOADDR_IMP "550 5.4.4 Unable to route: the recipient domain has no MX and no address"
#define T_SMARTHOST  "451 4.4.0 No address for any smart host"
#define T_READ       "451 4.3.0 Cannot read the queued message"
#define T_ROUTE      "451 4.4.4 Unreachable: no send connector's address space covers the " \
    "recipient domain"
#define T_EXPIRED    "550 4.4.7 QUEUE.Expired; message expired"
/* Exchange's text for Remove-Message -WithNDR; 5.0.0: RFC 3463 has no code for it. */
#define T_ADMIN_DEL  "550 5.0.0 QUEUE.Admin; message deleted by administrative action"
#define T_SHUTDOWN   "451 4.4.0 delivery interrupted by shutdown"
#define T_ENDED      "451 4.4.0 delivery attempt ended"
#define T_NO_TLS     "451 5.7.3 STARTTLS is required to send mail"
#define T_TOO_BIG    "552 5.3.4 Message size exceeds fixed maximum message size"
#define T_MALFORMED  "protocol error: malformed reply"
#define T_ABANDONED  "delivery interrupted by shutdown"

static const char *const relay_stage_names[] = {
    [RELAY_S_DNS] = "DNS", [RELAY_S_SMARTHOST] = "smart host lookup",
    [RELAY_S_READ] = "read", [RELAY_S_ROUTE] = "route", [RELAY_S_EXPIRY] = "expiry",
    [RELAY_S_SHUTDOWN] = "shutdown", [RELAY_S_ALL_HOSTS] = "all hosts",
    [RELAY_S_RESULT] = "result", [RELAY_S_RETRY] = "retry",
    [RELAY_S_ADMIN_DELETE] = "administrative delete", [RELAY_S_STS] = "MTA-STS",
    [RELAY_S_CONNECT] = "connect", [RELAY_S_BANNER] = "banner", [RELAY_S_EHLO] = "EHLO",
    [RELAY_S_HELO] = "HELO", [RELAY_S_STARTTLS] = "STARTTLS", [RELAY_S_TLS] = "TLS handshake",
    [RELAY_S_RSET] = "RSET", [RELAY_S_MAIL] = "MAIL FROM", [RELAY_S_RCPT] = "RCPT TO",
    [RELAY_S_DATA] = "DATA", [RELAY_S_DOT] = "end of data",
};

/* relay_stage_name - a stage as texts and logs write it */

const char *relay_stage_name(enum relay_stage st)
{
    if ((size_t)st >= sizeof(relay_stage_names) / sizeof(relay_stage_names[0])
        || relay_stage_names[st] == NULL)
        return "?";
    return relay_stage_names[st];
}

/* relay_trouble_rcpt - a reply to RCPT or to the final dot */

enum relay_outcome relay_trouble_rcpt(int code)
{
    if (code >= 200 && code < 300)
        return RELAY_O_DELIVERED;
    if (code >= 500 && code < 600)
        return RELAY_O_FAIL;
    return RELAY_O_DEFER;               /* 4xx, and anything malformed */
}

/* relay_trouble_session - a reply to the banner, EHLO/HELO or MAIL */

enum relay_host_action relay_trouble_session(int code)
{
    if (code >= 200 && code < 400)
        return RELAY_H_CONTINUE;
    if (code >= 500 && code < 600)
        return RELAY_H_FAIL_ALL;
    return RELAY_H_NEXT_HOST;           /* 4xx, garbage, no answer */
}

/* relay_trouble_failover - Exchange's text once every host has failed */

char *relay_trouble_failover(const char *last, bool connection_error, const char *endpoint)
{
    char *text = log_oneline(last), *r;
    size_t n = strlen(text);

    if (connection_error) {
        r = xasprintf("441 4.4.1 Error encountered while communicating with primary target IP "
                      "address: \"%s\"" RELAY_FAILOVER_TAIL "%s", text, endpoint);
    } else {
        /* Exchange quotes the reply and ends it with a period. */
        while (n > 0 && (text[n - 1] == '.' || text[n - 1] == ' '))
            text[--n] = '\0';
        r = xasprintf("451 4.4.0 Primary target IP address responded with: \"%s.\""
                      RELAY_FAILOVER_TAIL "%s", text, endpoint);
    }
    free(text);
    return r;
}

/* relay_trouble_retry_after - the retry schedule */

uint64_t relay_trouble_retry_after(const struct cfg_transport *t, unsigned rounds,
                                   bool connection_failure)
{
    if (rounds < t->transient_failure_retry_count)
        return t->transient_failure_retry_interval;
    return connection_failure ? t->outbound_connection_failure_retry_interval
                              : t->message_retry_interval;
}

/* relay_trouble_status - "X.Y.Z" from a reply, or derived from its code */

void relay_trouble_status(const char *reply, char out[16])
{
    const char *p = reply;
    int a, b, c, n = 0;

    while (*p && isdigit((unsigned char)*p))
        p++;
    while (*p == ' ' || *p == '-')
        p++;
    if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 && (a == 2 || a == 4 || a == 5)
        && (p[n] == '\0' || p[n] == ' ')) {
        snprintf(out, 16, "%d.%d.%d", a, b, c);
        return;
    }
    snprintf(out, 16, "%c.0.0", reply[0] == '2' || reply[0] == '4' ? reply[0] : '5');
}

/* decide_set - outcome, scope, next step, and a one-line copy of text (or NULL) */

static void decide_set(struct relay_decision *d, enum relay_outcome o, enum relay_scope s,
                       enum relay_host_action h, const char *text)
{
    d->rcpt = o;
    d->scope = s;
    d->host = h;
    d->record = h != RELAY_H_NEXT_HOST && h != RELAY_H_FALLBACK;
    free(d->text);
    d->text = text != NULL ? log_oneline(text) : NULL;
}

/* decide_dns - what the next hop's MX lookup means */

static void decide_dns(const struct relay_event *ev, struct relay_decision *d)
{
    const struct dns_result *r = ev->dns;

    switch (r != NULL ? r->status : DNS_RETRY) {
    case DNS_OK:
        return;                         /* CONTINUE: connect */
    case DNS_CANCELED:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, T_SHUTDOWN);
        return;
    case DNS_NULLMX:
        decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, T_NULLMX);
        return;
    case DNS_FAIL:
        decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL,
                   !r->no_address ? T_NXDOMAIN : r->implicit ? T_NOADDR_IMP : T_NOADDR_MX);
        return;
    case DNS_RETRY:
        break;
    }
    decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, NULL);
    d->text = xasprintf("451 4.4.0 DNS query failed: %s", r != NULL && r->why ? r->why : "error");
}

/* decide_queue - the queue manager's events */

static void decide_queue(const struct relay_event *ev, struct relay_decision *d)
{
    const struct cfg_transport *t = ev->transport;

    switch (ev->stage) {
    case RELAY_S_DNS:
        decide_dns(ev, d);
        break;
    case RELAY_S_SMARTHOST:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, T_SMARTHOST);
        break;
    case RELAY_S_READ:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_ONE, RELAY_H_CONTINUE, T_READ);
        break;
    case RELAY_S_ROUTE:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_ONE, RELAY_H_CONTINUE, T_ROUTE);
        break;
    case RELAY_S_EXPIRY:
        if (t == NULL || ev->age_ms >= t->message_expiration_timeout)
            decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_JOB, RELAY_H_CONTINUE, T_EXPIRED);
        else
            d->retry_ms = t->message_expiration_timeout - ev->age_ms;
        break;
    case RELAY_S_SHUTDOWN:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, T_SHUTDOWN);
        break;
    case RELAY_S_ALL_HOSTS:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, NULL);
        d->conn_failure = ev->error == RELAY_E_CONN;
        d->text = relay_trouble_failover(ev->text ? ev->text : "no answer", d->conn_failure,
                                         ev->endpoint && ev->endpoint[0] ? ev->endpoint
                                                                         : "(none)");
        break;
    case RELAY_S_RESULT:
        if (ev->code == 0)
            decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_ONE, RELAY_H_CONTINUE,
                       ev->text ? ev->text : T_ENDED);
        else
            decide_set(d, relay_trouble_rcpt(ev->code), RELAY_SCOPE_ONE, RELAY_H_CONTINUE,
                       ev->text);
        break;
    case RELAY_S_RETRY:
        d->conn_failure = ev->conn_failure;
        break;
    case RELAY_S_ADMIN_DELETE:
        decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_ONE, RELAY_H_CONTINUE, T_ADMIN_DEL);
        break;
    case RELAY_S_STS: {                 /* enforce: no other host, never plaintext */
        const char *dom = ev->domain ? ev->domain : "?";
        char *txt = ev->text != NULL && ev->text[0] != '\0'
            ? xasprintf("451 4.7.5 MTA-STS policy of %s: no MX host matches the policy (%s)",
                        dom, ev->text)
            : xasprintf("451 4.7.5 MTA-STS policy of %s: no MX host that the policy allows "
                        "has an address", dom);

        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, txt);
        free(txt);
        break;
    }
    default:
        log_panic("trouble", "decide_queue: stage %s", relay_stage_name(ev->stage));
    }
}

/* decide_requiretls - a REQUIRETLS message this connection cannot carry
 * (RFC 8689 4.2.1): bounce, or wait for the policy, or the next MX */

static void decide_requiretls(const struct relay_event *ev, struct relay_decision *d)
{
    const char *host = ev->text ? ev->text : "?";

    if (ev->error == RELAY_E_REQUIRETLS_PEER) {
        /* Another MX (address) may offer it: only the last refusal bounces. */
        decide_set(d, ev->hosts_left ? RELAY_O_DEFER : RELAY_O_FAIL, RELAY_SCOPE_JOB,
                   ev->hosts_left ? RELAY_H_NEXT_HOST : RELAY_H_CONTINUE, NULL);
        d->code = ev->hosts_left ? 0 : 550;
        d->text = xasprintf("550 5.7.30 REQUIRETLS support required: %s does not offer "
                            "REQUIRETLS; the message was not sent", host);
        return;
    }
    if (ev->sts_failure != NULL) {      /* the policy may verify it next time */
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_CONTINUE, NULL);
        d->code = 451;
        d->text = xasprintf("451 4.7.10 REQUIRETLS: the MTA-STS policy of %s could not be "
                            "obtained (%s), so the connection to %s cannot be verified; the "
                            "message was not sent and waits for the policy",
                            ev->domain ? ev->domain : "?", ev->sts_failure, host);
        return;
    }
    decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_JOB, RELAY_H_CONTINUE, NULL);
    d->code = 550;
    d->text = xasprintf("550 5.7.10 REQUIRETLS: the connection to %s is not verified TLS "
                        "(neither the domain-secure list, DANE with usable TLSA records, an "
                        "MTA-STS policy in enforce mode - testing mode does not count - nor a "
                        "verified smart host applies); the message was not sent", host);
}

/* decide_error - no reply at a connection stage: what went wrong instead */

static void decide_error(const struct relay_event *ev, struct relay_decision *d)
{
    const char *stage = relay_stage_name(ev->stage);

    switch (ev->error) {
    case RELAY_E_CONN:
        d->conn_failure = true;
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, ev->text);
        if (d->text == NULL)
            d->text = xasprintf("connection lost while waiting for the reply to %s", stage);
        return;
    case RELAY_E_TIMEOUT:
        d->conn_failure = ev->stage == RELAY_S_CONNECT;
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, NULL);
        d->text = xasprintf("timeout while waiting for the reply to %s", stage);
        return;
    case RELAY_E_PROTOCOL:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, T_MALFORMED);
        return;
    case RELAY_E_SECURE:                /* never plaintext: the next host, then defer */
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, ev->text);
        return;
    case RELAY_E_HANDSHAKE:
        if (!ev->require_tls) {         /* opportunistic (Postfix "may"): plaintext */
            decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FALLBACK, ev->text);
            return;
        }
        /* FALLTHROUGH */
    case RELAY_E_NO_TLS:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, T_NO_TLS);
        return;
    case RELAY_E_TOO_BIG:
        decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_JOB, RELAY_H_CONTINUE, T_TOO_BIG);
        d->code = 552;
        return;
    case RELAY_E_REQUIRETLS_TLS:        /* RFC 8689 4.2.1 (RFC 5248 X.7.10) */
    case RELAY_E_REQUIRETLS_PEER:       /* RFC 8689 4.2.1 and 6 (X.7.30) */
        decide_requiretls(ev, d);
        return;
    case RELAY_E_SHUTDOWN:              /* nothing counts without the dot's reply */
        d->conn_failure = true;
        d->code = 0;
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, T_ABANDONED);
        return;
    case RELAY_E_NONE:
        break;
    }
    log_panic("trouble", "decide_error: error %d at %s", (int)ev->error, stage);
}

/* decide_session - a reply to the banner, EHLO, HELO or MAIL */

static void decide_session(const struct relay_event *ev, struct relay_decision *d)
{
    switch (relay_trouble_session(ev->code)) {
    case RELAY_H_CONTINUE:
    case RELAY_H_FALLBACK:
        return;
    case RELAY_H_NEXT_HOST:
        decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, ev->text);
        return;
    case RELAY_H_FAIL_ALL:              /* the connection ends: pipelined replies may follow */
        decide_set(d, RELAY_O_FAIL, RELAY_SCOPE_JOB, RELAY_H_FAIL_ALL, ev->text);
        return;
    }
}

/* decide_reply - the peer's reply at a connection stage */

static void decide_reply(const struct relay_event *ev, struct relay_decision *d)
{
    int code = ev->code;

    switch (ev->stage) {
    case RELAY_S_EHLO:
        if (code >= 500 && code < 600) {
            decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FALLBACK, ev->text);
            return;
        }
        decide_session(ev, d);
        return;
    case RELAY_S_STARTTLS:
        if (code == 220)
            return;                     /* CONTINUE: the handshake */
        if (ev->require_tls)
            decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_NEXT_HOST, T_NO_TLS);
        else
            decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_JOB, RELAY_H_FALLBACK, ev->text);
        return;
    case RELAY_S_RSET:
        return;                         /* whatever it says, MAIL tells */
    case RELAY_S_RCPT:
        decide_set(d, relay_trouble_rcpt(code), RELAY_SCOPE_ONE, RELAY_H_CONTINUE, ev->text);
        return;
    case RELAY_S_DATA:
        if (code == 354)
            return;                     /* CONTINUE: the message; else the accepted
                                         * recipients share the refusal, as at the dot */
        if (code < 400) {               /* 2xx/3xx but not 354: the message was not
                                         * sent, so it cannot count as delivered */
            char *t = xasprintf("451 4.5.0 Unexpected reply to DATA: %s",
                                ev->text != NULL ? ev->text : "");

            decide_set(d, RELAY_O_DEFER, RELAY_SCOPE_ACCEPTED, RELAY_H_CONTINUE, t);
            d->code = 451;
            free(t);
            return;
        }
        /* FALLTHROUGH */
    case RELAY_S_DOT:
        decide_set(d, relay_trouble_rcpt(code), RELAY_SCOPE_ACCEPTED, RELAY_H_CONTINUE,
                   ev->text);
        return;
    default:                            /* banner, HELO, MAIL (connect, TLS: never) */
        decide_session(ev, d);
        return;
    }
}

/* decide_status - the DSN status of the decision's text */

static void decide_status(struct relay_decision *d)
{
    char cls = d->rcpt == RELAY_O_DELIVERED ? '2' : d->rcpt == RELAY_O_DEFER ? '4' : '5';

    if (d->text != NULL && isdigit((unsigned char)d->text[0]))
        relay_trouble_status(d->text, d->status);
    else
        snprintf(d->status, sizeof(d->status), "%c.0.0", cls);
}

/* relay_decide - what ev means */

struct relay_decision relay_decide(const struct relay_event *ev)
{
    struct relay_decision d = {
        .rcpt = RELAY_O_DEFER, .scope = RELAY_SCOPE_JOB, .host = RELAY_H_CONTINUE,
        .code = ev->code,
    };

    if (ev->stage < RELAY_S_CONNECT)
        decide_queue(ev, &d);
    else if (ev->error != RELAY_E_NONE)
        decide_error(ev, &d);
    else
        decide_reply(ev, &d);
    if (d.rcpt == RELAY_O_DEFER && ev->transport != NULL && ev->stage != RELAY_S_EXPIRY)
        d.retry_ms = relay_trouble_retry_after(ev->transport, ev->rounds,
                                               ev->conn_failure || d.conn_failure);
    decide_status(&d);
    return d;
}

/* relay_decision_free - free what a decision owns */

void relay_decision_free(struct relay_decision *d)
{
    free(d->text);
    d->text = NULL;
}
