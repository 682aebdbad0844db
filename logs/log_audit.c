/*
 * log_audit.c - per partner domain: sessions, messages, domain security,
 * failures, TLS versions, certificates, warnings (SPEC 5.3).
 *
 * CONTRACT
 *  log_audit_row() takes rows of any kind in any file order; it copies
 *  what it keeps (the row's buffer is the reader's).  log_audit_finish()
 *  may be called once; its result is owned by the audit.  Memory grows
 *  with the number of sessions (about 100 bytes each, more for those with
 *  a certificate or a verdict), partners, and messages not domain-secured
 *  (judged at the end, about 48 bytes each), not with the number of rows.
 *
 *  This file reads the rows; the certificate blocks and verdicts are in
 *  log_audit_cert.c, the warnings in log_audit_warn.c, the partner
 *  identity and DANE rows in log_audit_trust.c, closing the books
 *  in log_audit_result.c, the hash tables and small parsers in
 *  log_audit_index.c, the state the files share in log_int.h; the rules
 *  below cover them all.
 *
 * THE RULES (the rows are those of docs/LOGS.md "The rows domsec writes")
 *  Sessions are joined by (log, session-id).  A session's domains are: the
 *  <d> of its domain-security verdict rows ("Message from secure domain
 *  '<d>' ..." on Receive, "Message to secure domain '<d>' ..." on Send),
 *  the domain of every `<` MAIL FROM on Receive, and of every `>` RCPT TO
 *  on Send (not our accepted domains).  HELO names are never domains.
 *  Sessions on an internal receive connector count in total_internal only.
 *  - Listed then.  The daemon writes a verdict row for every MAIL FROM (and
 *    every delivery) of a listed domain and for no other: a verdict row
 *    means listed at that moment, a session without one for its domain
 *    means not listed.  A message whose session is not in the logs read is
 *    judged by the tracking log's last CONFIG row before it (the lists in
 *    force: start, reload); with none, by today's configuration (or, with
 *    none, by domain-secured traffic), flagged `from_today` with a note.
 *  - Partners are the domains listed then (either list) or that presented
 *    a certificate (a client certificate on Receive; a listed server's on
 *    Send); never our accepted domains.  The rest are `others`.
 *  - sessions_in/out: Receive/Send sessions with that domain; *_secured:
 *    those with a "... was domain-secured" row; *_refused: with a
 *    "... was refused because <rule> ." / "... failed because <reason> ."
 *    row (counted by rule or reason in failures); "TLS negotiation failed
 *    with error <e>" counts as "TLS negotiation failed: <e>".
 *  - tls: per session, the version in "TLS protocol SP_PROT_TLS1_x_..."
 *    ("TLS1.x"), or "none" when the session never negotiated TLS.
 *  - policies: per Send session, the TLS policy that applied and its
 *    verdict, from its verdict row: "Message to secure domain ..." (domain-
 *    secure: secured / failed), "MTA-STS policy of '<d>' (<mode>, id ...):
 *    certificate verified for ..." / "... <mx> failed: <result-type> (...)"
 *    / "... plaintext to ..." (mta-sts <mode>: verified / failed:
 *    <result-type> / plaintext), "Opportunistic TLS for '<d>' (...): TLS
 *    with ..." / "... plaintext to ..." (opportunistic: tls / plaintext).
 *    An MTA-STS or opportunistic row also makes <d> one of the session's
 *    domains (a refused host never sees RCPT TO).  DANE rows count the
 *    same way ("dane: ..."; log_audit_trust.c).
 *  - identity_in/out: the "Partner identity of '<d>' ..." rows: the policy
 *    that applied, what proved identity, the EKU, revocation and refusal
 *    rules, and the serverAuth-only acceptances (the rules in
 *    log_audit_trust.c's header).
 *  - certs: the block after "Received certificate" (Receive) or "Remote
 *    certificate" / "Secure domain certificate" (Send), with the "Chain
 *    validation status", "Chain validation reason" and "Revocation status"
 *    rows after it: every session's certificate, whatever the outcome, one
 *    record per (direction, thumbprint, verdict).  The verdict: accepted
 *    when the session was domain-secured for the domain; else the chain
 *    status (revoked, untrusted, expired, not-yet-valid, bad-eku,
 *    revocation-unknown, invalid); else wrong-name for a SubjectMismatch
 *    refusal; else no-decision.  A revoked one's CRL issuer and date come
 *    from the revocation row ("revoked by <issuer> on <date>"); the reply
 *    is the `>` row that follows a Receive refusal, and for a Send one the
 *    recipient-status of the tracking DEFER/FAIL row of that send session.  "Sending certificate"
 *    blocks are ours (own_certs).
 *  - messages_in: tracking RECEIVE rows (not Originating, not on an
 *    internal connector); the partner is <d> of "02P:<d>" (then secured),
 *    else the sender's domain, else (null sender) the first domain of the
 *    session named by source-context "<SID>;<start>;<n>".  messages_out:
 *    SEND rows (not Incoming); "02P:<d>" (secured), else each distinct
 *    recipient domain not ours.  The others count in total_internal.
 *  Warnings:
 *  - CERT_REFUSED / REFUSED: each refusal (with and without a certificate),
 *    grouped by domain, direction, certificate, verdict and reason: count,
 *    first and last time, session ids (the first 16), the reply given.
 *  - CERT_CHANGED: a partner's accepted certificates of one direction
 *    ordered by first seen; one warning per change.
 *  - CERT_EXPIRES: a partner's or our certificate whose not-after is
 *    before the end of the range (or of the rows) plus expiry_days; with
 *    the days left (negative: expired).  Not for one refused as expired.
 *  - NOT_SECURED: per partner and direction, the messages not 02P whose
 *    domain was listed then (one warning with the count and first time).
 *  Chart buckets: the messages above and the refusals by hour, or by day
 *  when they span more than two days; secured = "02P:"; per partner, and
 *  overall as the sum of the partners' (others' mail is not counted).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_int.h"

/* log_audit_warning_name - a warning kind as a stable word */

const char *log_audit_warning_name(enum log_audit_warning_kind k)
{
    switch (k) {
    case LOG_AUDIT_W_CERT_CHANGED: return "certificate-changed";
    case LOG_AUDIT_W_CERT_EXPIRES: return "certificate-expires";
    case LOG_AUDIT_W_NOT_SECURED: return "not-domain-secured";
    case LOG_AUDIT_W_CERT_REFUSED: return "certificate-refused";
    case LOG_AUDIT_W_REFUSED: return "refused";
    }
    return "?";
}

/* log_audit_verdict_name - a certificate verdict as a stable word */

const char *log_audit_verdict_name(enum log_audit_verdict v)
{
    static const char *const names[LOG_AUDIT_V_COUNT] = {
        [LOG_AUDIT_V_ACCEPTED] = "accepted", [LOG_AUDIT_V_REVOKED] = "revoked",
        [LOG_AUDIT_V_UNTRUSTED] = "untrusted", [LOG_AUDIT_V_EXPIRED] = "expired",
        [LOG_AUDIT_V_NOT_YET_VALID] = "not-yet-valid", [LOG_AUDIT_V_WRONG_NAME] = "wrong-name",
        [LOG_AUDIT_V_BAD_EKU] = "bad-eku", [LOG_AUDIT_V_REVOCATION_UNKNOWN] = "revocation-unknown",
        [LOG_AUDIT_V_INVALID] = "invalid", [LOG_AUDIT_V_NO_DECISION] = "no-decision",
    };

    return (unsigned)v < LOG_AUDIT_V_COUNT ? names[v] : "?";
}

/* log_audit_has_warnings - the result holds warnings */

bool log_audit_has_warnings(const struct log_audit_result *r)
{
    return r->nwarnings > 0;
}

/* log_audit_new - an empty audit */

struct log_audit *log_audit_new(const struct log_audit_opts *opts)
{
    struct log_audit *a = xcalloc(1, sizeof(*a));

    if (opts)
        a->opts = *opts;
    if (a->opts.expiry_days == 0)
        a->opts.expiry_days = 30;
    return a;
}

/* audit_dec - the decision record of a session's domain slot */

static struct audit_dec *audit_dec(struct audit_sess *s, int slot)
{
    if (s->dec == NULL)
        s->dec = xcalloc(s->domcap, sizeof(*s->dec));
    return &s->dec[slot];
}

/* audit_verdict - a domain-security verdict row: "... '<d>' on ... connector '<c>' <rest>" */

static void audit_verdict(struct log_audit *a, struct audit_sess *s, const struct log_field *date,
                          const struct log_field *ctx)
{
    const char *p = memchr(ctx->p, '\'', ctx->len), *end = ctx->p + ctx->len, *q, *rest;
    int slot;

    if (p == NULL || (q = memchr(p + 1, '\'', (size_t)(end - p - 1))) == NULL)
        return;
    slot = log__audit_sess_domain(a, s, p + 1, (size_t)(q - p - 1));
    if (slot < 0)
        return;
    struct audit_partner *ap = &a->partners[s->dom[slot]];
    struct audit_dec *d = audit_dec(s, slot);

    ap->inferred = true;
    /* A verdict row is written only for a listed domain: it was listed then. */
    if (s->kind == LOG_READ_RECV)
        ap->then_in = true;
    else
        ap->then_out = true;
    if (d->time[0] == '\0')
        log_field_copy(date, d->time, sizeof(d->time));
    /* Skip " on ... connector '<c>'". */
    if ((q = memchr(q + 1, '\'', (size_t)(end - q - 1))) == NULL
        || (q = memchr(q + 1, '\'', (size_t)(end - q - 1))) == NULL)
        return;
    rest = q + 1;
    if (end - rest >= 19 && memcmp(rest, " was domain-secured", 19) == 0) {
        d->secured = true;
        if (s->kind == LOG_READ_SEND)
            log__audit_count_add(&ap->p.policies, &ap->p.npolicies, "domain-secure: secured", 22);
        return;
    }
    if (s->kind == LOG_READ_SEND)       /* "failed because": the rule is counted below */
        log__audit_count_add(&ap->p.policies, &ap->p.npolicies, "domain-secure: failed", 21);
    static const char *const because[] = { " was refused because ", " failed because " };

    for (int i = 0; i < 2; i++) {
        size_t bl = strlen(because[i]);

        if ((size_t)(end - rest) >= bl && memcmp(rest, because[i], bl) == 0) {
            const char *r = rest + bl, *re = end;

            while (re > r && (re[-1] == '.' || re[-1] == ' '))
                re--;
            log__audit_count_add(&ap->p.failures, &ap->p.nfailures, r, (size_t)(re - r));
            if (!d->refused) {
                d->refused = true;
                d->rule = xstrndup(r, (size_t)(re - r));
                log_field_copy(date, d->time, sizeof(d->time));
                if (s->kind == LOG_READ_RECV)
                    s->reply_slot = (uint16_t)slot;      /* the `>` row that follows */
            }
        }
    }
}

/* audit_policy_row - a Send session's MTA-STS or opportunistic verdict row:
 * "... '<d>' (<words>): <verdict>", counted as "<policy>: <verdict>" */

static void audit_policy_row(struct log_audit *a, struct audit_sess *s, const struct log_field *ctx)
{
    const char *p = memchr(ctx->p, '\'', ctx->len), *end = ctx->p + ctx->len, *q, *r, *f;
    bool sts = ctx->p[0] == 'M';
    char key[96];
    int slot, n;

    if (p == NULL || (q = memchr(p + 1, '\'', (size_t)(end - p - 1))) == NULL
        || (r = memmem(q, (size_t)(end - q), "): ", 3)) == NULL
        || (slot = log__audit_sess_domain(a, s, p + 1, (size_t)(q - p - 1))) < 0)
        return;
    r += 3;
    const char *mode = end - q >= 10 && memcmp(q, "' (enforce", 10) == 0 ? "enforce" : "testing";

    if (!sts)
        n = snprintf(key, sizeof(key), "opportunistic: %s",
                     end - r >= 8 && memcmp(r, "TLS with", 8) == 0 ? "tls" : "plaintext");
    else if (end - r >= 20 && memcmp(r, "certificate verified", 20) == 0)
        n = snprintf(key, sizeof(key), "mta-sts %s: verified", mode);
    else if ((f = memmem(r, (size_t)(end - r), " failed: ", 9)) != NULL)
        n = snprintf(key, sizeof(key), "mta-sts %s: failed: %.*s", mode,
                     (int)strcspn(f + 9, " "), f + 9);  /* the result type, one word */
    else
        n = snprintf(key, sizeof(key), "mta-sts %s: plaintext", mode);
    struct audit_partner *ap = &a->partners[s->dom[slot]];

    log__audit_count_add(&ap->p.policies, &ap->p.npolicies, key,
                         n > 0 && (size_t)n < sizeof(key) ? (size_t)n : strlen(key));
}

/* audit_proto_row - one protocol log row */

static void audit_proto_row(struct log_audit *a, struct log_row *row)
{
    struct log_field *f = row->f;
    uint64_t sid;
    struct audit_sess *s;
    char ev;

    if (f[LOG_P_EVENT].len != 1 || !log__audit_sid(f[LOG_P_SESSION].p, f[LOG_P_SESSION].len, &sid))
        return;
    s = log__audit_sess_get(a, row->kind, sid);
    if (row->kind == LOG_READ_RECV && a->opts.ninternal && log__audit_internal(a, &f[LOG_P_CONNECTOR]))
        s->internal = true;
    if (s->internal)
        return;                         /* our users' mail: counted apart, not read */
    ev = f[LOG_P_EVENT].p[0];
    if (ev == '*') {
        struct log_field *ctx = &f[LOG_P_CONTEXT];

        if (log__audit_cert_row(a, s, row->kind, f))
            return;                     /* a certificate block's row */
        if (log_field_prefix(ctx, "TLS protocol SP_PROT_")) {
            const char *v = ctx->p + 21;
            size_t n = 0;

            while (21 + n < ctx->len && v[n] != ' ' && n < 6)
                n++;
            /* "TLS1_2_SERVER" -> "TLS1.2" */
            memcpy(s->tls, v, n);
            s->tls[n] = '\0';
            for (char *c = s->tls; *c; c++)
                if (*c == '_')
                    *c = '.';
        } else if (log_field_prefix(ctx, "TLS negotiation failed with error ")) {
            free(s->tls_error);
            s->tls_error = xstrndup(ctx->p + 34, ctx->len - 34);
        } else if (log_field_prefix(ctx, "Message from secure domain '")
                   || log_field_prefix(ctx, "Message to secure domain '")) {
            audit_verdict(a, s, &f[LOG_P_DATE], ctx);
        } else if (row->kind == LOG_READ_SEND && (log_field_prefix(ctx, "MTA-STS policy of '")
                                                  || log_field_prefix(ctx, "Opportunistic TLS for '"))) {
            audit_policy_row(a, s, ctx);
        } else if (log_field_prefix(ctx, "Partner identity of '")) {
            log__audit_identity_row(a, s, &f[LOG_P_DATE], ctx);
        } else if (row->kind == LOG_READ_SEND && log_field_prefix(ctx, "DANE policy of '")) {
            log__audit_dane_row(a, s, ctx);
        }
        return;
    }
    if (ev == '>' && s->reply_slot != AUDIT_NO_SLOT && s->dec != NULL && row->kind == LOG_READ_RECV) {
        struct audit_dec *d = &s->dec[s->reply_slot];

        log_field_unescape(&f[LOG_P_DATA]);
        free(d->reply);
        d->reply = xstrndup(f[LOG_P_DATA].p, f[LOG_P_DATA].len);
        s->reply_slot = AUDIT_NO_SLOT;
        return;
    }
    if (ev == '<' && row->kind == LOG_READ_RECV && f[LOG_P_DATA].len > 10
        && strncasecmp(f[LOG_P_DATA].p, "MAIL FROM:", 10) == 0) {
        size_t dl;
        const char *d = log__audit_addr_domain(f[LOG_P_DATA].p + 10, f[LOG_P_DATA].len - 10, &dl);

        log__audit_sess_domain(a, s, d, dl);
    } else if (ev == '>' && row->kind == LOG_READ_SEND && f[LOG_P_DATA].len > 8
               && strncasecmp(f[LOG_P_DATA].p, "RCPT TO:", 8) == 0) {
        size_t dl;
        const char *d = log__audit_addr_domain(f[LOG_P_DATA].p + 8, f[LOG_P_DATA].len - 8, &dl);

        if (!log__audit_accepted(a, d, dl))
            log__audit_sess_domain(a, s, d, dl);
    }
}

/* audit_message - count one message for a partner; judge it later (log__audit_judge_messages) */

static void audit_message(struct log_audit *a, uint32_t pi, bool in, bool secured,
                          const struct log_field *date, const struct log_field *sc)
{
    struct audit_partner *ap = &a->partners[pi];

    if (in) {
        ap->p.messages_in++;
        ap->p.messages_in_secured += secured;
    } else {
        ap->p.messages_out++;
        ap->p.messages_out_secured += secured;
    }
    log__audit_bucket(&ap->hours, date, secured ? AUDIT_C_SECURED : AUDIT_C_NOT_SECURED);
    if (secured) {                      /* 02P: listed then */
        ap->inferred = true;
        *(in ? &ap->then_in : &ap->then_out) = true;
        return;
    }
    /* Whether it was listed then needs its session, which may be in a file
     * read later (a day's RECV-2 after its MSGTRK-1): at the end. */
    if (a->npending == a->pending_cap) {
        a->pending_cap = a->pending_cap ? 2 * a->pending_cap : 256;
        a->pending = xrealloc(a->pending, a->pending_cap * sizeof(*a->pending));
    }
    struct audit_pending *m = &a->pending[a->npending++];

    memset(m, 0, sizeof(*m));
    m->pi = pi;
    m->in = in;
    m->has_sid = log__audit_sid(sc->p, sc->len, &m->sid);
    log_field_copy(date, m->time, sizeof(m->time));
}

/* audit_config_cmp - recorded configurations by time */

static int audit_config_cmp(const void *x, const void *y)
{
    const struct log_audit_config *c = x, *d = y;

    return strcmp(c->time, d->time);
}

/* audit_config_at - the recorded configuration in force at time t, or NULL */

static const struct log_audit_config *audit_config_at(const struct log_audit *a, const char *t)
{
    const struct log_audit_config *found = NULL;

    for (size_t i = 0; i < a->res.nconfigs && strcmp(a->res.configs[i].time, t) <= 0; i++)
        found = &a->res.configs[i];
    return found;
}

/* audit_in_list - d is on a list (exact, case-insensitive, as the daemon's lists are lowercase) */

static bool audit_in_list(char *const *v, size_t n, const char *d)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], d) == 0)
            return true;
    return false;
}

/* log__audit_judge_messages - the messages not domain-secured: was their domain listed then? */

void log__audit_judge_messages(struct log_audit *a)
{
    if (a->res.nconfigs > 1)
        qsort(a->res.configs, a->res.nconfigs, sizeof(*a->res.configs), audit_config_cmp);
    for (size_t k = 0; k < a->npending; k++) {
        const struct audit_pending *m = &a->pending[k];
        struct audit_partner *ap = &a->partners[m->pi];
        struct audit_sess *s = m->has_sid
            ? log__audit_sess_find(a, m->in ? LOG_READ_RECV : LOG_READ_SEND, m->sid) : NULL;
        const struct log_audit_config *c;
        bool listed = false;

        if (s != NULL) {                /* a verdict row is written for every listed domain */
            for (int i = 0; i < s->ndom; i++)
                if (s->dom[i] == m->pi && s->dec != NULL && (s->dec[i].secured || s->dec[i].refused))
                    listed = true;
            if (listed)
                *(m->in ? &ap->then_in : &ap->then_out) = true;
        } else if ((c = audit_config_at(a, m->time)) != NULL) {   /* the lists then */
            listed = audit_in_list(m->in ? c->lists.recv : c->lists.send,
                                   m->in ? c->lists.nrecv : c->lists.nsend, ap->p.domain);
            if (listed)
                *(m->in ? &ap->then_in : &ap->then_out) = true;
        } else {                        /* the logs do not say: today's configuration */
            *(m->in ? &ap->today_in : &ap->today_out) = true;
            a->today_events++;
            listed = a->opts.listed_known ? (m->in ? ap->p.listed_in_now : ap->p.listed_out_now)
                : ap->inferred;
        }
        if (!listed)
            continue;
        uint64_t *n = m->in ? &ap->unsecured_in : &ap->unsecured_out;
        char *at = m->in ? ap->unsecured_in_at : ap->unsecured_out_at;

        if ((*n)++ == 0 || strcmp(m->time, at) < 0)
            strcpy(at, m->time);
    }
}

/* audit_internal_message - our users' mail (internal connector, Originating) or a delivery inward */

static void audit_internal_message(struct log_audit *a, bool in, bool secured)
{
    struct log_audit_totals *t = &a->res.total_internal;

    if (in) {
        t->messages_in++;
        t->messages_in_secured += secured;
    } else {
        t->messages_out++;
        t->messages_out_secured += secured;
    }
}

/* audit_split - a ","-separated list into owned lowercase strings */

static char **audit_split(const char *p, size_t n, size_t *count)
{
    char  **v = NULL;
    const char *end = p + n;

    *count = 0;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;

        if (e > p) {
            v = xrealloc(v, (*count + 1) * sizeof(*v));
            v[*count] = xstrndup(p, (size_t)(e - p));
            for (char *q = v[*count]; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            (*count)++;
        }
        p = e + 1;
    }
    return v;
}

/* audit_config_row - CONFIG: "<start|reload|carried>;sha256=<hex>;receive=a,b;send=c,d".
 * A "carried" row (at the top of each tracking file that rotation opened)
 * with the digest of the configuration before it changes nothing and is not
 * listed again; a start or reload always is. */

static void audit_config_row(struct log_audit *a, const struct log_field *date, const struct log_field *sc)
{
    struct log_audit_result *r = &a->res;
    const char *p = sc->p, *end = sc->p + sc->len, *semi;
    struct log_audit_config *c;

    if (r->nconfigs > 0 && sc->len > 8 && memcmp(p, "carried;", 8) == 0) {
        const char *d = r->configs[r->nconfigs - 1].digest;
        size_t  dl = strlen(d);
        const char *h = memmem(p, sc->len, ";sha256=", 8);

        if (dl > 0 && h != NULL && (size_t)(end - h - 8) >= dl && memcmp(h + 8, d, dl) == 0
            && (h + 8 + dl == end || h[8 + dl] == ';'))
            return;
    }
    r->configs = xrealloc(r->configs, (r->nconfigs + 1) * sizeof(*r->configs));
    c = &r->configs[r->nconfigs++];
    memset(c, 0, sizeof(*c));
    log_field_copy(date, c->time, sizeof(c->time));
    for (; p < end; p = semi + 1) {
        semi = memchr(p, ';', (size_t)(end - p));
        if (semi == NULL)
            semi = end;
        size_t n = (size_t)(semi - p);

        if (n > 7 && memcmp(p, "sha256=", 7) == 0 && n - 7 < sizeof(c->digest))
            memcpy(c->digest, p + 7, n - 7);
        else if (n >= 8 && memcmp(p, "receive=", 8) == 0 && c->lists.recv == NULL)
            c->lists.recv = audit_split(p + 8, n - 8, &c->lists.nrecv);
        else if (n >= 5 && memcmp(p, "send=", 5) == 0 && c->lists.send == NULL)
            c->lists.send = audit_split(p + 5, n - 5, &c->lists.nsend);
    }
}

/* audit_send_reply - a DEFER/FAIL of a send session refused by domain security: its reply */

static void audit_send_reply(struct log_audit *a, const struct log_field *sc, struct log_field *status)
{
    uint64_t sid;
    struct audit_sess *s;

    if (!log__audit_sid(sc->p, sc->len, &sid) || (s = log__audit_sess_find(a, LOG_READ_SEND, sid)) == NULL
        || s->dec == NULL)
        return;
    for (int i = 0; i < s->ndom; i++) {
        struct audit_dec *d = &s->dec[i];
        size_t n = status->len;

        if (!d->refused || d->reply != NULL)
            continue;
        for (size_t k = 0; k < status->len; k++)
            if (status->p[k] == ';') {  /* the first recipient's status */
                n = k;
                break;
            }
        d->reply = xstrndup(status->p, n);
    }
}

/* audit_track_row - one message tracking row */

static void audit_track_row(struct log_audit *a, struct log_row *row)
{
    struct log_field *f = row->f, *info = &f[LOG_T_MESSAGE_INFO], *date = &f[LOG_T_DATE];
    bool in, secured = info->len > 4 && memcmp(info->p, "02P:", 4) == 0;

    if (log_field_eq(&f[LOG_T_EVENT], "CONFIG")) {
        audit_config_row(a, date, &f[LOG_T_SOURCE_CONTEXT]);
        return;
    }
    if (log_field_eq(&f[LOG_T_EVENT], "RECEIVE")) {
        if (log_field_eq(&f[LOG_T_DIRECTION], "Originating")
            || (a->opts.ninternal && log__audit_internal(a, &f[LOG_T_CONNECTOR]))) {
            audit_internal_message(a, true, secured);
            return;
        }
        in = true;
    } else if (log_field_eq(&f[LOG_T_EVENT], "SEND")) {
        if (log_field_eq(&f[LOG_T_DIRECTION], "Incoming")) {
            audit_internal_message(a, false, secured);
            return;
        }
        in = false;
    } else {
        if (log_field_eq(&f[LOG_T_EVENT], "DEFER") || log_field_eq(&f[LOG_T_EVENT], "FAIL"))
            audit_send_reply(a, &f[LOG_T_SOURCE_CONTEXT], &f[LOG_T_RECIPIENT_STATUS]);
        return;
    }
    if (in || secured)
        log__audit_bucket(&a->hours, date, secured ? AUDIT_C_SECURED : AUDIT_C_NOT_SECURED);
    if (secured) {
        audit_message(a, log__audit_partner_find(a, info->p + 4, info->len - 4), in, true, date,
                      &f[LOG_T_SOURCE_CONTEXT]);
        return;
    }
    if (in) {
        size_t dl;
        const char *d = log__audit_addr_domain(f[LOG_T_SENDER].p, f[LOG_T_SENDER].len, &dl);
        uint64_t sid;
        struct audit_sess *s;
        uint32_t pi;

        if (d != NULL) {
            pi = log__audit_partner_find(a, d, dl);
            audit_message(a, pi, true, false, date, &f[LOG_T_SOURCE_CONTEXT]);
        } else if (log__audit_sid(f[LOG_T_SOURCE_CONTEXT].p, f[LOG_T_SOURCE_CONTEXT].len, &sid)
                   && (s = log__audit_sess_find(a, LOG_READ_RECV, sid)) != NULL && s->ndom > 0) {
            audit_message(a, s->dom[0], true, false, date, &f[LOG_T_SOURCE_CONTEXT]);
        }
        return;
    }
    /* SEND: each distinct recipient domain ("'"-quoted members allowed). */
    uint32_t seen[16];
    size_t nseen = 0;
    const char *p = f[LOG_T_RECIPIENTS].p, *end = p + f[LOG_T_RECIPIENTS].len;

    while (p < end) {
        const char *semi = p, *at = NULL;
        bool quoted = *p == '\'';

        for (semi = p + quoted; semi < end; semi++) {
            if (quoted && *semi == '\'') {
                if (semi + 1 < end && semi[1] == '\'') { semi++; continue; }
                quoted = false;
                continue;
            }
            if (!quoted && *semi == ';')
                break;
            if (*semi == '@')
                at = semi;
        }
        if (at != NULL) {
            const char *de = semi;

            if (de > at && de[-1] == '\'')
                de--;
            if (log__audit_accepted(a, at + 1, (size_t)(de - at - 1))) {
                p = semi + 1;           /* inward: not a partner */
                continue;
            }
            uint32_t pi = log__audit_partner_find(a, at + 1, (size_t)(de - at - 1));
            size_t k;

            for (k = 0; k < nseen && seen[k] != pi; k++)
                ;
            if (k == nseen && nseen < 16) {
                if (nseen == 0)
                    log__audit_bucket(&a->hours, date, AUDIT_C_NOT_SECURED);
                seen[nseen++] = pi;
                audit_message(a, pi, false, false, date, &f[LOG_T_SOURCE_CONTEXT]);
            }
        }
        p = semi + 1;
    }
    if (nseen == 0)
        audit_internal_message(a, false, false);        /* every recipient is ours */
}

/* log_audit_row - feed one row */

void log_audit_row(struct log_audit *a, struct log_row *row)
{
    const struct log_field *date = &row->f[0];

    a->res.rows++;
    if (date->len == LOG_READ_TSLEN) {
        if (a->first[0] == '\0' || memcmp(date->p, a->first, LOG_READ_TSLEN) < 0)
            memcpy(a->first, date->p, LOG_READ_TSLEN);
        if (memcmp(date->p, a->last, LOG_READ_TSLEN) > 0)
            memcpy(a->last, date->p, LOG_READ_TSLEN);
    }
    if (row->kind == LOG_READ_TRACK)
        audit_track_row(a, row);
    else
        audit_proto_row(a, row);
}

/* log_audit_row_before - a tracking row before the range: keep the last CONFIG */

void log_audit_row_before(struct log_audit *a, struct log_row *row)
{
    struct log_audit_result *r = &a->res;

    if (row->kind != LOG_READ_TRACK || !log_field_eq(&row->f[LOG_T_EVENT], "CONFIG"))
        return;
    audit_config_row(a, &row->f[LOG_T_DATE], &row->f[LOG_T_SOURCE_CONTEXT]);
    if (r->nconfigs == 2) {             /* the later one stays */
        size_t  drop = strcmp(r->configs[1].time, r->configs[0].time) >= 0 ? 0 : 1;

        log__audit_lists_free(&r->configs[drop].lists);
        if (drop == 0)
            r->configs[0] = r->configs[1];
        r->nconfigs = 1;
    }
}
