/*
 * relay_proto.c - SMTP commands of the receive session.
 *
 * A command table {verb, check, proceed, flags, limit} carries each
 * command's rules; one dispatcher, relay__command(), enforces them in this
 * order, first failure wins:
 *   1. sequence (flags NEED_HELO, NO_TX, NEED_TX, NEED_RCPT): 503;
 *   2. TLS required by the connector and not yet started, for a command
 *      without PRE_TLS: 451 5.7.3, then the session closes (Exchange);
 *   3. check: the syntax of the arguments, parsed into struct relay_args;
 *      its refusal is a protocol error (500/501/503);
 *   4. the limit counter the command bumps (RCPT: max_recipients_per_message,
 *      452, not a protocol error);
 *   5. proceed: policy (open relay, SIZE, domain security), then the
 *      change to the session or transaction, and the reply.
 * A command flagged LAST ends a pipelined group (RFC 2920 3.1, RFC 3207
 * 4.2): command input already buffered behind it is logged at debug level
 * as improper pipelining (STARTTLS discards it, DATA reads it as text).
 * Replies use the Exchange wording where one exists; see
 * docs/ARCHITECTURE.md for the full table.
 *
 * CONTRACT
 *  relay__command() gets one command line without its line end, in a
 *  buffer it may modify; it replies through relay__reply() and may change
 *  the state (DATA, TARPIT) or close the session.  Every protocol error
 *  (500/501/502/503) is counted; reaching max_protocol_errors closes the
 *  session with 421.  The table is exported read-only for tests
 *  (relay__cmd_find).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "log_util.h"
#include "policy_secure.h"
#include "policy_smtp.h"
#include "relay_plog.h"
#include "relay_smtpd.h"
#include "relay_tls.h"
#include "tls_conn.h"

#define RELAY_LOCAL_MAX 64
#define RELAY_DOMAIN_MAX 255
#define RELAY_PATH_MAX 256
#define RELAY_PROTO_CHAIN_MAX 16        /* sent certificates looked at for a partner CA */

/* relay__protocol_error - count an error; close the session at the limit */

bool relay__protocol_error(struct relay_session *s)
{
    if (++s->errors < s->rc->max_protocol_errors)
        return false;
    relay__reply(s, "421 4.7.0 Too many errors on this connection, closing transmission channel");
    relay__close(s, RELAY_CLOSE_TOO_MANY_ERRORS);
    return true;
}

/* relay_proto_error - reply with a protocol error and count it */

static void relay_proto_error(struct relay_session *s, const char *reply)
{
    relay__reply(s, "%s", reply);
    relay__protocol_error(s);
}

/* relay_proto_atext - RFC 5322 atext */

static int relay_proto_atext(int c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * relay_proto_domain - skip a Domain (dot-separated labels of letters, digits
 * and inner hyphens, each at most 63); returns the end, or NULL.
 */
static char *relay_proto_domain(char *p)
{
    for (char *lab = p;; p++) {
        if (isalnum((unsigned char)*p) || *p == '-')
            continue;
        if (p == lab || lab[0] == '-' || p[-1] == '-' || p - lab > 63)
            return NULL;
        if (*p != '.')
            return p;
        lab = p + 1;
    }
}

/*
 * relay_proto_route - skip an RFC 5321 source route, A-d-l ":" where
 * A-d-l = At-domain *( "," At-domain ) and At-domain = "@" Domain; returns
 * the character after the ':', or NULL if the route is not one (it must not
 * reach past the path: "<@x> BODY=a:s@c>" is no route).
 */
static char *relay_proto_route(char *p)
{
    for (;;) {
        if (*p++ != '@' || (p = relay_proto_domain(p)) == NULL)
            return NULL;
        if (*p == ':')
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

/*
 * relay_proto_path - parse "<local@domain>" (RFC 5321 Path / Reverse-path).
 * Leading spaces are allowed.  Sets *addr (owned by the caller; domain
 * lower-cased; "" for <>) and *rest to the text after '>'.  0 or -1.
 */
static int relay_proto_path(char *p, char **addr, char **rest)
{
    char *start, *local, *at = NULL;
    size_t llen;

    while (*p == ' ')
        p++;
    if (*p++ != '<')
        return -1;
    if (*p == '>') {
        *addr = xstrdup("");
        *rest = p + 1;
        return 0;
    }
    if (*p == '@' && (p = relay_proto_route(p)) == NULL)
        return -1;                      /* source route: checked, dropped */
    start = local = p;
    if (*p == '"') {                    /* quoted-string */
        for (p++; *p != '"'; p++) {
            if (*p == '\\')
                p++;
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                return -1;
        }
        p++;
    } else {
        for (; relay_proto_atext((unsigned char)*p) || *p == '.'; p++)
            if (*p == '.' && (p == local || p[-1] == '.'))
                return -1;              /* leading or doubled dot */
        if (p == local || p[-1] == '.')
            return -1;
    }
    llen = (size_t)(p - local);
    if (llen == 0 || llen > RELAY_LOCAL_MAX)
        return -1;
    if (*p == '@') {
        at = ++p;
        if (*p == '[') {                /* address literal */
            for (p++; *p != ']'; p++)
                if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '[')
                    return -1;
            p++;
        } else if ((p = relay_proto_domain(p)) == NULL) {
            return -1;
        }
        if (p - at > RELAY_DOMAIN_MAX)
            return -1;
    }
    if (*p != '>' || (size_t)(p - start) > RELAY_PATH_MAX)
        return -1;
    *addr = xstrndup(start, (size_t)(p - start));   /* case kept as sent */
    *rest = p + 1;
    return 0;
}

/*
 * relay_proto_identity - the identity facts of the listed domain whose
 * section is p (NULL: the global rule) into *idf and detail; a section's
 * are judged once per TLS session and configuration generation
 * (struct relay_ident_memo), the global rule's (no anchors) every time.
 */
static void relay_proto_identity(struct relay_session *s, const struct cfg_partner *p,
                                 bool name_match, struct policy_identity *idf, char *detail,
                                 size_t dsz)
{
    const struct config *cfg = s->cfg;
    struct tls_crl_cert sent[RELAY_PROTO_CHAIN_MAX];
    struct relay_ident_memo *m = NULL;
    uint64_t gen = policy_config_generation();

    if (p != NULL && s->tls) {
        if (s->ident == NULL)
            s->ident = xcalloc(cfg->npartners, sizeof(*s->ident));
        m = &s->ident[p - cfg->partners];
        if (m->valid && m->generation == gen && m->name_match == name_match) {
            *idf = m->idf;
            snprintf(detail, dsz, "%s", m->detail);
            return;
        }
        log_debug("smtpd", s->sid, "partner identity judged domain=%s generation=%llu",
                  p->domain, (unsigned long long)gen);
    }
    relay_tls_identity(cfg, p, s->tls ? s->facts : NULL, s->peer, sent,
                       s->tls ? tls_conn_peer_chain(s->conn, sent, RELAY_PROTO_CHAIN_MAX) : 0,
                       true, name_match, idf, detail, dsz);
    if (m != NULL) {
        *m = (struct relay_ident_memo){ .valid = true, .name_match = name_match,
                                        .generation = gen, .idf = *idf };
        snprintf(m->detail, sizeof(m->detail), "%s", detail);
    }
}

/*
 * relay_proto_secure - domain security at MAIL FROM (SPEC 3): -1 after a
 * refusal reply; 0 with *secured = the partner domain (owned) or NULL.
 * Evaluated at every MAIL FROM (a section's identity facts once per TLS
 * session and reload: relay_proto_identity); never for <>.
 */
static int relay_proto_secure(struct relay_session *s, const char *sender, char **secured)
{
    const struct config *cfg = s->cfg;
    struct policy_secure_verdict v;
    struct policy_inbound f = { 0 };
    struct policy_identity idf;
    struct policy_identity_verdict iv;
    char domain[RELAY_DOMAIN_MAX + 1], pdetail[RELAY_IDENT_DETAIL_MAX], idline[768];

    *secured = NULL;
    log_mail_domain(domain, sizeof(domain), sender);
    f.listed = domain[0] != '\0' && policy_secure_listed(&cfg->transport.recv_secure, domain);
    if (!f.listed)
        return 0;
    f.connector_secure = s->rc->domain_secure_enabled;
    f.starttls_advertised = s->tls_ctx != NULL;
    f.tls = s->tls;
    f.client_cert = s->tls && s->facts->peer_cert;
    f.name_match = s->peer != NULL
        && policy_cert_name_match(domain, (const char *const *)s->peer->names, s->peer->nnames);
    /* What proves the partner: its [partner D] section, or the global rule. */
    relay_proto_identity(s, policy_partner_find(cfg, domain), f.name_match, &idf, pdetail,
                         sizeof(pdetail));
    iv = policy_identity_check(&idf);
    f.identity_rule = iv.rule;
    f.name_match = iv.name_match;
    f.chain = iv.chain;
    f.revocation_failure = iv.revocation_failure;
    v = policy_mail_secure(&f);
    policy_identity_logline(idline, sizeof(idline), domain, &iv, true, v.rule,
                            v.revocation_accepted);
    if (v.reply != NULL) {
        /* why the chain failed (revoked, revocation unknown, untrusted; the
         * partner CA's reason when it judged), or "" */
        const char *detail = !f.client_cert ? ""
            : idf.partner_judged && idf.partner_chain != POLICY_CHAIN_VALID ? pdetail
            : tls_facts_detail(s->facts);

        log_warnx("smtpd", s->sid, "domain security refused sender=<%s> domain=%s rule=\"%s\" "
                  "reply=\"%d %s\"%s%s%s", sender, domain, v.rule, v.reply->code, v.reply->text,
                  detail[0] ? " detail=\"" : "", detail, detail[0] ? "\"" : "");
        log_proto_infof(&s->plog.pl, domain, "Message from secure domain '%s' on "
                        "receive connector '%s' was refused because %s .", domain, s->rc->name,
                        v.rule);
        log_proto_info(&s->plog.pl, domain, idline);
        if (v.tarpit) {                 /* Exchange holds these back (rows 2 and 4) */
            char line[256];

            snprintf(line, sizeof(line), "%d %s", v.reply->code, v.reply->text);
            relay__tarpit(s, s->rc->domain_secure_tarpit_interval, line);
        } else {
            relay__reply(s, "%d %s", v.reply->code, v.reply->text);
        }
        return -1;
    }
    if (v.domain_secured) {
        log_info("smtpd", s->sid, "domain secured sender=<%s> domain=%s subject=\"%s\" "
                 "thumbprint=%s revocation=%s%s%s%s", sender, domain, s->peer->subject,
                 s->peer->thumbprint, relay_tls_revocation(s->facts, v.revocation_accepted),
                 v.revocation_accepted ? " detail=\"" : "",
                 v.revocation_accepted ? s->facts->revocation_reason : "",
                 v.revocation_accepted ? "\"" : "");
        if (v.revocation_accepted)
            log_proto_infof(&s->plog.pl, domain, "Message from secure domain '%s' on "
                            "receive connector '%s' was domain-secured although revocation is "
                            "unknown: %s", domain, s->rc->name, s->facts->revocation_reason);
        else
            log_proto_infof(&s->plog.pl, domain, "Message from secure domain '%s' on "
                            "receive connector '%s' was domain-secured", domain, s->rc->name);
        log_proto_info(&s->plog.pl, domain, idline);
        *secured = xstrdup(domain);
    }
    return 0;
}

/* relay_check_hello - HELO/EHLO domain: printable, 1..255 bytes */

static const char *relay_check_hello(struct relay_session *s, char *arg, struct relay_args *a)
{
    size_t n = strlen(arg);

    while (n > 0 && arg[n - 1] == ' ')
        arg[--n] = '\0';
    if (n == 0 || n > RELAY_DOMAIN_MAX)
        return "501 5.5.4 Invalid domain name";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)arg[i] < 0x21 || (unsigned char)arg[i] > 0x7e)
            return "501 5.5.4 Invalid domain name";
    a->text = arg;
    return NULL;
}

/* relay_proto_hello - HELO and EHLO (esmtp): a new start, and the greeting */

static void relay_proto_hello(struct relay_session *s, const char *domain, bool esmtp)
{
    const struct cfg_receive *rc = s->rc;

    relay__tx_free(s);
    free(s->helo);
    s->helo = xstrdup(domain);
    s->esmtp = esmtp;
    if (!esmtp) {
        relay__reply(s, "250 %s Hello [%s]", rc->fqdn, s->remote_ip);
        return;
    }
    relay__reply(s, "250-%s Hello [%s]", rc->fqdn, s->remote_ip);
    relay__reply(s, "250-SIZE %llu", (unsigned long long)rc->max_message_size);
    relay__reply(s, "250-PIPELINING");
    relay__reply(s, "250-ENHANCEDSTATUSCODES");
    if (s->tls_ctx != NULL && !s->tls)
        relay__reply(s, "250-STARTTLS");
    if (s->tls && rc->requiretls_enable)        /* RFC 8689 2: inside TLS only */
        relay__reply(s, "250-REQUIRETLS");
    relay__reply(s, "250 8BITMIME");
}

static void relay_cmd_helo(struct relay_session *s, struct relay_args *a)
{
    relay_proto_hello(s, a->text, false);
}

static void relay_cmd_ehlo(struct relay_session *s, struct relay_args *a)
{
    relay_proto_hello(s, a->text, true);
}

/* relay_check_mail - FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME] [REQUIRETLS] */

static const char *relay_check_mail(struct relay_session *s, char *arg, struct relay_args *a)
{
    char *rest, *param;

    if (strncasecmp(arg, "FROM:", 5) != 0 || relay_proto_path(arg + 5, &a->addr, &rest) < 0)
        return "501 5.5.4 Invalid address";
    if (a->addr[0] != '\0' && strchr(a->addr, '@') == NULL)
        return "501 5.5.4 Invalid address";     /* only <> may lack a domain */
    while ((param = strsep(&rest, " ")) != NULL) {
        char *end;

        if (*param == '\0')
            continue;
        if (!s->esmtp)                  /* no service extensions after HELO */
            ;
        else if (strncasecmp(param, "SIZE=", 5) == 0 && isdigit((unsigned char)param[5])) {
            a->size = strtoull(param + 5, &end, 10);
            if (*end == '\0')
                continue;
        } else if (strcasecmp(param, "BODY=8BITMIME") == 0) {
            a->body = RELAY_BODY_8BITMIME;
            continue;
        } else if (strcasecmp(param, "BODY=7BIT") == 0) {
            a->body = RELAY_BODY_7BIT;
            continue;
        } else if (strcasecmp(param, "REQUIRETLS") == 0 && s->rc->requiretls_enable) {
            if (a->requiretls)          /* RFC 5321 4.1.2: each parameter once */
                return "501 5.5.4 Duplicate REQUIRETLS parameter";
            a->requiretls = true;       /* outside TLS: refused by relay_cmd_mail */
            continue;
        }
        return "501 5.5.4 Unrecognized parameter";
    }
    return NULL;
}

/* relay_cmd_mail - SIZE and domain security, then a new transaction */

static void relay_cmd_mail(struct relay_session *s, struct relay_args *a)
{
    char *secured = NULL;

    if (a->size > s->rc->max_message_size) {
        relay__reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
        return;
    }
    if (a->requiretls && !s->tls) {     /* RFC 8689 2: only in a TLS session; X.7.10 */
        log_info("smtpd", s->sid, "requiretls refused sender=<%s> reason=no-tls", a->addr);
        relay__reply(s, "530 5.7.10 REQUIRETLS needs a TLS session; send STARTTLS first");
        return;
    }
    if (relay_proto_secure(s, a->addr, &secured) < 0)
        return;                         /* refused; the session stays open */
    if ((s->tx = s->tx_spare) == NULL)  /* zeroed but for the recipient array */
        s->tx = xcalloc(1, sizeof(*s->tx));
    s->tx_spare = NULL;
    s->tx->secured = secured;
    s->tx->sender = a->addr;
    a->addr = NULL;                     /* taken */
    s->tx->body = a->body;
    s->tx->size_param = a->size;
    s->tx->requiretls = a->requiretls;
    relay__reply(s, "250 2.1.0 Sender OK");
}

/* relay_check_rcpt - TO:<path>; <postmaster> becomes postmaster@first domain */

static const char *relay_check_rcpt(struct relay_session *s, char *arg, struct relay_args *a)
{
    char *rest;

    if (strncasecmp(arg, "TO:", 3) != 0 || relay_proto_path(arg + 3, &a->addr, &rest) < 0)
        return "501 5.5.4 Invalid address";
    if (a->addr[0] == '\0')             /* <> is not a recipient */
        return "501 5.5.4 Invalid address";
    while (*rest == ' ')
        rest++;
    if (*rest != '\0')
        return "501 5.5.4 Unrecognized parameter";
    if (strchr(a->addr, '@') == NULL) {
        const struct cfg_list *ad = &s->cfg->transport.accepted_domains;
        const char *dom = NULL;

        /* RFC 5321 4.5.1: <postmaster> must be accepted. */
        for (size_t i = 0; i < ad->n && dom == NULL; i++)
            if (ad->v[i][0] != '*')
                dom = ad->v[i];
        if (strcasecmp(a->addr, "postmaster") != 0 || dom == NULL)
            return "501 5.5.4 Invalid address";
        free(a->addr);
        a->addr = xasprintf("postmaster@%s", dom);
    }
    return NULL;
}

/* relay_cmd_rcpt - the open-relay and routing rules, then one more recipient */

static void relay_cmd_rcpt(struct relay_session *s, struct relay_args *a)
{
    const struct policy_reply *verdict;
    struct relay_tx *tx = s->tx;
    char domain[RELAY_DOMAIN_MAX + 1];
    const char *rule;

    log_mail_domain(domain, sizeof(domain), a->addr);
    if ((verdict = policy_rcpt_check(s->cfg, s->rc, a->addr, domain, &rule)) != NULL) {
        log_info("smtpd", s->sid, "rcpt refused to=<%s> rule=%s reply=\"%d %s\"", a->addr,
                 rule, verdict->code, verdict->text);
        relay__reply(s, "%d %s", verdict->code, verdict->text);
        return;
    }
    if (tx->nrcpts == tx->cap) {
        tx->cap = tx->cap ? tx->cap * 2 : 4;
        tx->rcpts = xrealloc(tx->rcpts, tx->cap * sizeof(*tx->rcpts));
    }
    tx->rcpts[tx->nrcpts++] = a->addr;
    a->addr = NULL;                     /* taken */
    relay__reply(s, "250 2.1.5 Recipient OK");
}

/* relay_check_noarg - a command that takes no argument (DATA) */

static const char *relay_check_noarg(struct relay_session *s, char *arg, struct relay_args *a)
{
    return *arg != '\0' ? "501 5.5.4 Unrecognized parameter" : NULL;
}

/* relay_cmd_data - open the spool file; message text follows */

static void relay_cmd_data(struct relay_session *s, struct relay_args *a)
{
    if (relay__data_begin(s) < 0) {
        relay__reply(s, "451 4.3.0 Error writing message to the queue");
        return;
    }
    relay__reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
    relay__enter_state(s, RELAY_S_DATA);
}

/* relay_check_starttls - offered, not yet active, no argument */

static const char *relay_check_starttls(struct relay_session *s, char *arg, struct relay_args *a)
{
    if (s->tls_ctx == NULL)
        return "500 5.3.3 Unrecognized command";        /* not offered */
    if (s->tls)
        return "503 5.5.1 TLS already active";
    if (*arg != '\0')
        return "501 5.5.4 Syntax error";
    return NULL;
}

/* relay_cmd_starttls - STARTTLS (RFC 3207) */

static void relay_cmd_starttls(struct relay_session *s, struct relay_args *a)
{
    const struct config *cfg = s->cfg;
    size_t dropped = 0;
    bool ask;

    relay__reply(s, "220 2.0.0 SMTP server ready");
    /* Ask for a client certificate when domain security may need one. */
    ask = s->rc->domain_secure_enabled && cfg->transport.recv_secure.n > 0;
    if (tls_conn_starttls_server(s->conn, s->tls_ctx, ask, &dropped) < 0) {
        relay__close(s, RELAY_CLOSE_LOCAL);
        return;
    }
    s->tls_started = true;
    if (dropped > 0)                    /* CVE-2011-0411: never executed inside TLS */
        log_info("smtpd", s->sid, "dropped %zu bytes pipelined after STARTTLS", dropped);
    /* RFC 3207 4.2: forget everything learned before TLS; EHLO again. */
    relay__tx_free(s);
    free(s->helo);
    s->helo = NULL;
    s->esmtp = false;
}

static void relay_cmd_rset(struct relay_session *s, struct relay_args *a)
{
    relay__tx_free(s);
    relay__reply(s, "250 2.0.0 Resetting");
}

static void relay_cmd_noop(struct relay_session *s, struct relay_args *a)
{
    relay__reply(s, "250 2.0.0 OK");
}

static void relay_cmd_quit(struct relay_session *s, struct relay_args *a)
{
    relay__reply(s, "221 2.0.0 Service closing transmission channel");
    relay__close(s, RELAY_CLOSE_QUIT);
}

static void relay_cmd_vrfy(struct relay_session *s, struct relay_args *a)
{
    relay__reply(s, "252 2.1.5 Cannot VRFY user");
}

static void relay_cmd_help(struct relay_session *s, struct relay_args *a)
{
    relay__reply(s, "214-This server supports the following commands:");
    relay__reply(s, "214 HELO EHLO %sMAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
                 s->tls_ctx != NULL && !s->tls ? "STARTTLS " : "");
}

#define PRE_TLS   RELAY_CMD_PRE_TLS
#define LAST      RELAY_CMD_LAST_IN_PIPELINE

/* The commands and their rules (relay_smtpd.h explains each flag). */
static const struct relay_cmd relay_cmd_table[] = {
    { "EHLO", relay_check_hello, relay_cmd_ehlo, PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
    { "HELO", relay_check_hello, relay_cmd_helo, PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
    { "MAIL", relay_check_mail, relay_cmd_mail, RELAY_CMD_NEED_HELO | RELAY_CMD_NO_TX,
      RELAY_CMD_NO_LIMIT },
    { "RCPT", relay_check_rcpt, relay_cmd_rcpt, RELAY_CMD_NEED_TX, RELAY_CMD_RCPT_LIMIT },
    { "DATA", relay_check_noarg, relay_cmd_data,
      RELAY_CMD_NEED_TX | RELAY_CMD_NEED_RCPT | LAST, RELAY_CMD_NO_LIMIT },
    { "RSET", NULL, relay_cmd_rset, PRE_TLS, RELAY_CMD_NO_LIMIT },
    { "NOOP", NULL, relay_cmd_noop, PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
    { "QUIT", NULL, relay_cmd_quit, PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
    { "VRFY", NULL, relay_cmd_vrfy, PRE_TLS | LAST, RELAY_CMD_NO_LIMIT },
    { "HELP", NULL, relay_cmd_help, PRE_TLS, RELAY_CMD_NO_LIMIT },
    { "STARTTLS", relay_check_starttls, relay_cmd_starttls, PRE_TLS | LAST,
      RELAY_CMD_NO_LIMIT },
};

#undef PRE_TLS
#undef LAST

/* relay__cmd_find - the table entry of verb (vlen bytes, any case), or NULL */

const struct relay_cmd *relay__cmd_find(const char *verb, size_t vlen)
{
    for (size_t i = 0; i < sizeof(relay_cmd_table) / sizeof(relay_cmd_table[0]); i++) {
        const struct relay_cmd *c = &relay_cmd_table[i];

        if (vlen == strlen(c->verb) && strncasecmp(verb, c->verb, vlen) == 0)
            return c;
    }
    return NULL;
}

/* relay_cmd_sequence - the 503 of a command out of sequence, or NULL */

static const char *relay_cmd_sequence(const struct relay_session *s, unsigned flags)
{
    if ((flags & RELAY_CMD_NEED_HELO) && s->helo == NULL)
        return "503 5.5.2 Send hello first";
    if ((flags & RELAY_CMD_NO_TX) && s->tx != NULL)
        return "503 5.5.2 Sender already specified";
    if ((flags & RELAY_CMD_NEED_TX) && s->tx == NULL)
        return "503 5.5.2 Need mail command";
    if ((flags & RELAY_CMD_NEED_RCPT) && (s->tx == NULL || s->tx->nrcpts == 0))
        return "503 5.5.2 Need rcpt command";
    return NULL;
}

/* relay_cmd_over_limit - the reply when the command's counter is full, or NULL */

static const char *relay_cmd_over_limit(const struct relay_session *s, enum relay_cmd_limit lim)
{
    switch (lim) {
    case RELAY_CMD_NO_LIMIT:
        return NULL;
    case RELAY_CMD_RCPT_LIMIT:
        return s->tx != NULL && s->tx->nrcpts >= s->rc->max_recipients_per_message
            ? "452 4.5.3 Too many recipients" : NULL;
    }
    log_panic("smtpd", "unknown command limit %d", (int)lim);
}

/* relay_cmd_pipelining - note command input buffered behind a LAST command */

static void relay_cmd_pipelining(struct relay_session *s, const struct relay_cmd *c)
{
    size_t len = 0;

    if (s->state == RELAY_S_CMD && s->conn != NULL)
        (void)tls_conn_peek(s->conn, &len);
    if (len > 0)
        log_debug("smtpd", s->sid, "improper pipelining after %s", c->verb);
}

/* relay__command - dispatch one command line: the table's rules, check, proceed */

void relay__command(struct relay_session *s, char *line, size_t len)
{
    size_t vlen = strcspn(line, " ");
    const struct relay_cmd *c = relay__cmd_find(line, vlen);
    struct relay_args a = { .text = line + vlen };
    const char *err;

    while (*a.text == ' ')
        a.text++;
    if (c == NULL) {
        relay_proto_error(s, "500 5.3.3 Unrecognized command");
        return;
    }
    if ((err = relay_cmd_sequence(s, c->flags)) != NULL) {
        relay_proto_error(s, err);
        return;
    }
    if (!(c->flags & RELAY_CMD_PRE_TLS) && s->rc->require_tls && !s->tls) {
        relay__reply(s, "451 5.7.3 STARTTLS is required to send mail");
        relay__close(s, RELAY_CLOSE_LOCAL);     /* Exchange: reply, then disconnect */
        return;
    }
    if (c->check != NULL && (err = c->check(s, a.text, &a)) != NULL)
        relay_proto_error(s, err);
    else if ((err = relay_cmd_over_limit(s, c->limit)) != NULL)
        relay__reply(s, "%s", err);
    else
        c->proceed(s, &a);
    free(a.addr);                       /* unless proceed took it */
    if (c->flags & RELAY_CMD_LAST_IN_PIPELINE)
        relay_cmd_pipelining(s, c);
}
