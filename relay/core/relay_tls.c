/*
 * relay_tls.c - TLS material for the running configuration.
 *
 * For every receive connector that advertises STARTTLS (auth_mechanism =
 * tls), select the certificate from certificate_store by the connector's
 * fqdn (or its pinned tls_certificate thumbprint) and build a server
 * context with trusted_ca_file as the anchors for client certificates;
 * for every send connector, a client context with our certificate (if the
 * store has one for its fqdn), and for one with mta_sts = yes a second,
 * the WebPKI context: the same certificate, mta_sts_trusted_ca_file as the
 * anchors (RFC 8461 4.2: an MX under an MTA-STS policy is judged by the
 * public CAs, not by the partners' trusted_ca_file).  A WebPKI context that
 * cannot be built is noted (relay_tls_set_report), not an error: the
 * connector's MTA-STS sessions then fail verification (fail closed).
 *
 * Fail safe: a connector that must use TLS (receive: domain_secure_enabled
 * or require_tls; send: domain_secure_enabled) and cannot is an error of
 * the configuration ("FILE:LINE: ..." naming the file to mend), and the
 * material is not to be installed: the daemon does not start, a reload
 * keeps the running configuration (relay_failsafe.c).  Any other connector
 * without a usable certificate is logged as an error and does not offer
 * STARTTLS (Exchange does the same).
 *
 * CONTRACT
 *  relay_tls_build() runs on the main thread (--check-config, start-up and
 *  SIGHUP), as the user that will read the files, and does blocking file
 *  I/O by design (it is part of loading a configuration); it returns a set
 *  owned by the caller, who installs it with relay_tls_install() (taking
 *  it over) or frees it.  relay_tls_server_ctx() is thread-safe and
 *  returns a new reference; relay_tls_own_cert() calls its function under
 *  the lock.  Two generations are installed: the current configuration's
 *  and the previous one's, keyed by the config pointer.  Session ticket
 *  keys are not part of a generation: they belong to the process
 *  (tls_ticket.c) and survive every reload; a server context's tickets
 *  are good for its configuration's tls_session_ticket_lifetime.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "log.h"
#include "log_util.h"
#include "relay_tls.h"
#include "tls_anchors.h"
#include "tls_conn.h"
#include "tls_ctx.h"
#include "tls_store.h"
#include "tls_ticket.h"

struct relay_tls_used {                 /* a certificate some connector presents */
    char    thumbprint[41];
    char    subject[512];
    char    connectors[256];            /* "receive Default,send Internet" */
    int64_t not_after;
};

struct relay_tls_set {
    const struct config *cfg;           /* identity only: never dereferenced after install */
    struct relay_tls_used *used;        /* owned; one per distinct certificate */
    size_t  nused;
    struct tls_ctx **ctx;               /* owned refs, one per receive connector (NULL: none) */
    size_t  n;
    struct tls_ctx **sctx;              /* owned refs, one per send connector */
    struct tls_ctx **wctx;              /* owned refs, one per send connector: its WebPKI
                                         * context (mta_sts = yes), or NULL */
    size_t  ns;
    struct tls_cert_info *own;          /* owned: the certificate selected for each receive
                                         * connector (n), then each send connector (ns);
                                         * thumbprint "" when none */
    struct cfg_errors notes;            /* owned: connectors left without TLS, logged by
                                         * relay_tls_set_report (not for a refused set) */
    struct tls_anchors **anchors;       /* owned refs, one per [partner D] section: its own
                                         * trusted_ca_file, or NULL */
    size_t  np;
};

#define RELAY_TLS_EXPIRY_WARN (30 * 86400) /* warn daily from 30 days before NotAfter */

static struct relay_tls_set relay_tls_gens[2];
static uv_mutex_t relay_tls_lock;
static uv_once_t relay_tls_once = UV_ONCE_INIT;

static void relay_tls_init(void)
{
    uv_mutex_init(&relay_tls_lock);
}

/* relay_tls_gen_free - drop a generation's contexts */

static void relay_tls_gen_free(struct relay_tls_set *g)
{
    for (size_t i = 0; i < g->n; i++)
        tls_ctx_unref(g->ctx[i]);
    free(g->ctx);
    for (size_t i = 0; i < g->ns; i++) {
        tls_ctx_unref(g->sctx[i]);
        tls_ctx_unref(g->wctx != NULL ? g->wctx[i] : NULL);
    }
    free(g->sctx);
    free(g->wctx);
    for (size_t i = 0; g->own != NULL && i < g->n + g->ns; i++)
        tls_cert_info_free(&g->own[i]);
    free(g->own);
    for (size_t i = 0; i < g->np; i++)
        tls_anchors_unref(g->anchors[i]);
    free(g->anchors);
    free(g->used);
    policy_config_errors_free(&g->notes);
    memset(g, 0, sizeof(*g));
}

/* relay_tls_note_use - remember that a connector presents e (for expiry warnings) */

static void relay_tls_note_use(struct relay_tls_set *g, const struct tls_store_entry *e,
                               const char *role, const char *name)
{
    struct relay_tls_used *u = NULL;
    size_t n;

    for (size_t i = 0; i < g->nused && u == NULL; i++)
        if (strcmp(g->used[i].thumbprint, e->info.thumbprint) == 0)
            u = &g->used[i];
    if (u == NULL) {
        g->used = xrealloc(g->used, (g->nused + 1) * sizeof(*g->used));
        u = &g->used[g->nused++];
        memset(u, 0, sizeof(*u));
        snprintf(u->thumbprint, sizeof(u->thumbprint), "%s", e->info.thumbprint);
        snprintf(u->subject, sizeof(u->subject), "%s", e->info.subject);
        u->not_after = e->info.not_after;
    }
    n = strlen(u->connectors);
    snprintf(u->connectors + n, sizeof(u->connectors) - n, "%s%s %s", n ? "," : "", role, name);
}

/* relay_tls_note - remember a connector left without TLS, for relay_tls_set_report */

static void relay_tls_note(struct relay_tls_set *g, const char *fmt, ...)
{
    va_list ap;
    char   *text;

    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        log_fatal("tls", "out of memory");
    va_end(ap);
    g->notes.v = xrealloc(g->notes.v, (g->notes.n + 1) * sizeof(*g->notes.v));
    g->notes.v[g->notes.n++] = text;
}

/* relay_tls_keep_info - keep a copy of e's facts in *out (for "Sending certificate") */

static void relay_tls_keep_info(struct tls_cert_info *out, const struct tls_store_entry *e)
{
    *out = e->info;
    out->names = NULL;
    out->nnames = 0;
    if (e->info.nnames > 0) {
        out->names = xcalloc(e->info.nnames, sizeof(*out->names));
        for (size_t i = 0; i < e->info.nnames; i++)
            out->names[i] = xstrdup(e->info.names[i]);
        out->nnames = e->info.nnames;
    }
}

/* relay_tls_wanted - does cfg need the store (a connector uses TLS)? */

bool relay_tls_wanted(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].auth_mechanism == CFG_AUTH_TLS)
            return true;
    return cfg->nsend > 0;              /* outbound STARTTLS presents our certificate */
}

/* relay_tls_must - why connector (receive rc or send sc) must use TLS, or NULL */

const char *relay_tls_must(const struct cfg_receive *rc, const struct cfg_send *sc)
{
    if (rc != NULL && rc->domain_secure_enabled)
        return "domain_secure_enabled = yes";
    if (rc != NULL && rc->require_tls)
        return "require_tls = yes";
    if (sc != NULL && sc->domain_secure_enabled)
        return "domain_secure_enabled = yes";
    return NULL;
}

/* relay_tls_lax - is there a connector that uses TLS but may run without it? */

static bool relay_tls_lax(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].auth_mechanism == CFG_AUTH_TLS
            && relay_tls_must(&cfg->receive[i], NULL) == NULL)
            return true;
    for (size_t i = 0; i < cfg->nsend; i++)
        if (relay_tls_must(NULL, &cfg->send[i]) == NULL)
            return true;
    return false;
}

/*
 * relay_tls_refuse - the error for a connector that must use TLS and has no
 * certificate: it names what to mend (the pinned thumbprint, the key file,
 * or the store).  section is &cfg->receive[i] or &cfg->send[i]; title
 * "[receive NAME]"; role "cannot offer STARTTLS" or the like.
 */
static void relay_tls_refuse(struct cfg_errors *errs, const struct config *cfg,
                             const void *section, const char *title, const char *must,
                             const char *role, const char *fqdn, const char *pinned,
                             const struct tls_store *store, const char *why)
{
    const char *dir = cfg->transport.certificate_store;
    int     line = policy_config_line(cfg, section, pinned ? "tls_certificate" : "fqdn");
    bool    in_store = false;

    if (store == NULL)                  /* the store itself: blame its key */
        line = policy_config_line(cfg, &cfg->transport, "certificate_store");
    if (line == 0)
        line = policy_config_line(cfg, store ? section : &cfg->transport, NULL);
    for (size_t i = 0; store != NULL && i < tls_store_count(store); i++) {
        const struct tls_store_entry *e = tls_store_entry_at(store, i);
        struct stat st;

        if (e->info.thumbprint[0] == '\0')
            continue;
        in_store |= pinned != NULL && strcasecmp(e->info.thumbprint, pinned) == 0;
        /* The certificate selection passed over for its key: name the key file. */
        if (e->key_ok || e->key_path == NULL || strstr(why, e->info.thumbprint) == NULL)
            continue;
        if (stat(e->key_path, &st) == 0 && (st.st_mode & 077) != 0)
            policy_config_error(errs, cfg, line, "%s (%s) %s: key file %s of certificate %s "
                                "is readable by group or others (mode %04o): chmod 600 %s",
                                title, must, role, e->key_path, e->info.thumbprint,
                                (unsigned)(st.st_mode & 07777), e->key_path);
        else
            policy_config_error(errs, cfg, line, "%s (%s) %s: key file %s of certificate %s: "
                                "%s", title, must, role, e->key_path, e->info.thumbprint,
                                e->problem ? e->problem : why);
        return;
    }
    if (store == NULL)
        policy_config_error(errs, cfg, line, "%s (%s) %s: %s", title, must, role, why);
    else if (pinned != NULL && !in_store)
        policy_config_error(errs, cfg, line, "%s (%s) %s: tls_certificate %s is not in "
                            "certificate_store %s", title, must, role, pinned, dir);
    else
        policy_config_error(errs, cfg, line, "%s (%s) %s: no usable certificate for %s in "
                            "certificate_store %s: %s", title, must, role, fqdn, dir, why);
}

/* relay_tls_ticket_seconds - tls_session_ticket_lifetime in seconds */

static uint32_t relay_tls_ticket_seconds(const struct config *cfg)
{
    return (uint32_t)(cfg->transport.tls_session_ticket_lifetime / 1000);
}

/* relay_tls_build_receive - receive connector i's context into g */

static void relay_tls_build_receive(struct relay_tls_set *g, const struct config *cfg,
                                    size_t i, const struct tls_store *store,
                                    const char *store_why, struct cfg_errors *errs)
{
    const struct cfg_receive *rc = &cfg->receive[i];
    const char *must = relay_tls_must(rc, NULL), *why = store_why;
    const struct tls_store_entry *e = NULL;
    char    title[300];

    snprintf(title, sizeof(title), "[receive %s]", rc->name);
    if (store != NULL)
        e = tls_store_select(store, rc->fqdn, rc->tls_certificate, time(NULL), &why);
    if (e == NULL && must != NULL) {
        relay_tls_refuse(errs, cfg, rc, title, must, "cannot offer STARTTLS", rc->fqdn,
                         rc->tls_certificate, store, why);
        return;
    }
    if (e == NULL) {
        if (store != NULL)              /* no store: logged once by the caller */
            relay_tls_note(g, "receive connector %s: no usable certificate for %s: %s: "
                           "STARTTLS is not offered", rc->name, rc->fqdn, why);
        return;
    }
    relay_tls_keep_info(&g->own[i], e);
    g->ctx[i] = tls_ctx_server_new(e->cert_path, e->key_path, cfg->transport.trusted_ca_file,
                                   &why);
    if (g->ctx[i] != NULL
        && tls_ctx_ticket_lifetime(g->ctx[i], relay_tls_ticket_seconds(cfg)) != 0) {
        tls_ctx_unref(g->ctx[i]);
        g->ctx[i] = NULL;
        why = "cannot set up session tickets";
    }
    if (g->ctx[i] != NULL)
        relay_tls_note_use(g, e, "receive", rc->name);
    else if (must != NULL)
        policy_config_error(errs, cfg, policy_config_line(cfg, rc, NULL), "%s (%s) cannot "
                            "offer STARTTLS: certificate %s, trusted_ca_file %s: %s", title,
                            must, e->cert_path, cfg->transport.trusted_ca_file, why);
    else
        relay_tls_note(g, "receive connector %s: certificate %s, trusted_ca_file %s: %s: "
                       "STARTTLS is not offered", rc->name, e->cert_path,
                       cfg->transport.trusted_ca_file, why);
}

/* relay_tls_build_send - send connector i's context into g */

static void relay_tls_build_send(struct relay_tls_set *g, const struct config *cfg, size_t i,
                                 const struct tls_store *store, const char *store_why,
                                 struct cfg_errors *errs)
{
    const struct cfg_send *sc = &cfg->send[i];
    const char *must = relay_tls_must(NULL, sc), *why = store_why;
    const struct tls_store_entry *e = NULL;
    char    title[300];

    snprintf(title, sizeof(title), "[send %s]", sc->name);
    if (store != NULL)
        e = tls_store_select(store, sc->fqdn, sc->tls_certificate, time(NULL), &why);
    if (e == NULL && must != NULL) {
        relay_tls_refuse(errs, cfg, sc, title, must, "has no client certificate for partners "
                         "to check", sc->fqdn, sc->tls_certificate, store, why);
        return;
    }
    if (e != NULL)
        relay_tls_keep_info(&g->own[cfg->nreceive + i], e);
    g->sctx[i] = tls_ctx_client_new(e ? e->cert_path : NULL, e ? e->key_path : NULL,
                                    cfg->transport.trusted_ca_file, &why);
    if (g->sctx[i] == NULL && must != NULL)
        policy_config_error(errs, cfg, policy_config_line(cfg, sc, NULL), "%s (%s) cannot use "
                            "STARTTLS: %s", title, must, why);
    else if (g->sctx[i] == NULL)
        relay_tls_note(g, "send connector %s: %s: outbound STARTTLS is not used", sc->name,
                       why);
    else if (e != NULL)
        relay_tls_note_use(g, e, "send", sc->name);
    if (!sc->mta_sts || g->sctx[i] == NULL)
        return;
    why = NULL;
    g->wctx[i] = tls_ctx_client_new(e ? e->cert_path : NULL, e ? e->key_path : NULL,
                                    cfg->transport.mta_sts_trusted_ca_file, &why);
    if (g->wctx[i] == NULL)
        relay_tls_note(g, "send connector %s: mta_sts_trusted_ca_file %s: %s: MX hosts under "
                       "an MTA-STS policy fail verification", sc->name,
                       cfg->transport.mta_sts_trusted_ca_file, why ? why : "unusable");
}

/* relay_tls_build_partners - each partner's own anchors (trusted_ca_file) into g */

static void relay_tls_build_partners(struct relay_tls_set *g, const struct config *cfg,
                                     struct cfg_errors *errs)
{
    g->anchors = xcalloc(cfg->npartners ? cfg->npartners : 1, sizeof(*g->anchors));
    g->np = cfg->npartners;
    for (size_t i = 0; i < cfg->npartners; i++) {
        const struct cfg_partner *p = &cfg->partners[i];
        const char *why = NULL;
        int     line;

        if (p->trusted_ca_file == NULL)
            continue;
        if ((g->anchors[i] = tls_anchors_load(p->trusted_ca_file, &why)) != NULL)
            continue;
        line = policy_config_line(cfg, p, "trusted_ca_file");
        policy_config_error(errs, cfg, line ? line : p->line, "[partner %s] trusted_ca_file "
                            "%s %s", p->domain, p->trusted_ca_file, why);
    }
}

/* relay_tls_build - build the material for cfg; errors of connectors that must use TLS */

struct relay_tls_set *relay_tls_build(const struct config *cfg, struct cfg_errors *errs)
{
    struct relay_tls_set *g = xcalloc(1, sizeof(*g));
    const char *why = NULL;
    struct tls_store *store = NULL;

    uv_once(&relay_tls_once, relay_tls_init);
    g->cfg = cfg;
    g->ctx = xcalloc(cfg->nreceive ? cfg->nreceive : 1, sizeof(void *));
    g->n = cfg->nreceive;
    g->sctx = xcalloc(cfg->nsend ? cfg->nsend : 1, sizeof(void *));
    g->wctx = xcalloc(cfg->nsend ? cfg->nsend : 1, sizeof(void *));
    g->ns = cfg->nsend;
    g->own = xcalloc(cfg->nreceive + cfg->nsend + 1, sizeof(struct tls_cert_info));
    if (relay_tls_wanted(cfg)
        && (store = tls_store_load(cfg->transport.certificate_store,
                                   cfg->transport.trusted_ca_file, time(NULL), &why)) == NULL
        && relay_tls_lax(cfg))          /* the others get an error each */
        relay_tls_note(g, "certificate_store %s: %s: STARTTLS is not offered",
                       cfg->transport.certificate_store, why);
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].auth_mechanism == CFG_AUTH_TLS)
            relay_tls_build_receive(g, cfg, i, store, why, errs);
    for (size_t i = 0; i < cfg->nsend; i++)
        relay_tls_build_send(g, cfg, i, store, why, errs);
    tls_store_free(store);
    relay_tls_build_partners(g, cfg, errs);
    return g;
}

/* relay_tls_set_report - log the connectors that set leaves without TLS */

void relay_tls_set_report(const struct relay_tls_set *set)
{
    for (size_t i = 0; i < set->notes.n; i++)
        log_errx("tls", 0, "%s", set->notes.v[i]);
}

/* relay_tls_set_free - drop a set that was not installed (NULL is a no-op) */

void relay_tls_set_free(struct relay_tls_set *set)
{
    if (set == NULL)
        return;
    relay_tls_gen_free(set);
    free(set);
}

/* relay_tls_install - make set current (the previous one stays for its sessions) */

void relay_tls_install(struct relay_tls_set *set)
{
    const struct config *cfg = set->cfg;

    for (size_t i = 0; i < set->n; i++)
        if (set->ctx[i] != NULL)
            log_info("tls", 0, "receive connector %s certificate thumbprint=%s subject=\"%s\"",
                     cfg->receive[i].name, set->own[i].thumbprint, set->own[i].subject);
    /* The ticket keys are the process's: they stay, with this lifetime. */
    tls_ticket_set_lifetime(relay_tls_ticket_seconds(cfg));
    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    relay_tls_gen_free(&relay_tls_gens[1]);
    relay_tls_gens[1] = relay_tls_gens[0];
    relay_tls_gens[0] = *set;
    uv_mutex_unlock(&relay_tls_lock);
    free(set);
    relay_tls_warn_expiring(time(NULL));
}

/* relay_tls_warn_expiring - warn about certificates in use that expire within 30 days */

void relay_tls_warn_expiring(int64_t now)
{
    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    for (size_t i = 0; i < relay_tls_gens[0].nused; i++) {
        const struct relay_tls_used *u = &relay_tls_gens[0].used[i];
        char when[32];

        if (u->not_after - now > RELAY_TLS_EXPIRY_WARN)
            continue;
        log_iso_time(when, sizeof(when), u->not_after, NULL);
        if (u->not_after <= now)
            log_warnx("tls", 0, "certificate expired thumbprint=%s subject=\"%s\" not_after=%s "
                      "connectors=\"%s\": renew it (domsec cert renew)", u->thumbprint,
                      u->subject, when, u->connectors);
        else
            log_warnx("tls", 0, "certificate expires soon thumbprint=%s subject=\"%s\" "
                      "not_after=%s days_left=%lld connectors=\"%s\": renew it (domsec cert "
                      "renew)", u->thumbprint, u->subject, when,
                      (long long)((u->not_after - now) / 86400), u->connectors);
    }
    uv_mutex_unlock(&relay_tls_lock);
}

enum relay_tls_kind { RELAY_TLS_RECEIVE, RELAY_TLS_SEND, RELAY_TLS_WEBPKI };

/* relay_tls_find - a context of cfg's generation: a receive, send or WebPKI one, by index */

static struct tls_ctx *relay_tls_find(const struct config *cfg, size_t idx,
                                      enum relay_tls_kind kind)
{
    struct tls_ctx *ctx = NULL;

    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    for (int i = 0; i < 2 && ctx == NULL; i++) {
        const struct relay_tls_set *g = &relay_tls_gens[i];
        struct tls_ctx *const *v = kind == RELAY_TLS_RECEIVE ? g->ctx
            : kind == RELAY_TLS_SEND ? g->sctx : g->wctx;

        if (g->cfg == cfg && v != NULL && idx < (kind == RELAY_TLS_RECEIVE ? g->n : g->ns)
            && v[idx] != NULL)
            ctx = tls_ctx_ref(v[idx]);
    }
    uv_mutex_unlock(&relay_tls_lock);
    return ctx;
}

/* relay_tls_server_ctx - the context of receive connector rc of cfg */

struct tls_ctx *relay_tls_server_ctx(const struct config *cfg, const struct cfg_receive *rc)
{
    return relay_tls_find(cfg, (size_t)(rc - cfg->receive), RELAY_TLS_RECEIVE);
}

/* relay_tls_client_ctx - the context of send connector sc of cfg */

struct tls_ctx *relay_tls_client_ctx(const struct config *cfg, const struct cfg_send *sc)
{
    return relay_tls_find(cfg, (size_t)(sc - cfg->send), RELAY_TLS_SEND);
}

/* relay_tls_webpki_ctx - the WebPKI context of send connector sc of cfg (MTA-STS) */

struct tls_ctx *relay_tls_webpki_ctx(const struct config *cfg, const struct cfg_send *sc)
{
    return relay_tls_find(cfg, (size_t)(sc - cfg->send), RELAY_TLS_WEBPKI);
}

/* relay_tls_own_cert - our certificate on a connector of cfg's generation */

bool relay_tls_own_cert(const struct config *cfg, bool receive, size_t index,
                        void (*fn)(const struct tls_cert_info *, void *), void *arg)
{
    bool found = false;

    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    for (int i = 0; i < 2 && !found; i++) {
        const struct relay_tls_set *g = &relay_tls_gens[i];
        size_t k = receive ? index : g->n + index;

        if (g->cfg != cfg || g->own == NULL || index >= (receive ? g->n : g->ns))
            continue;
        if (g->own[k].thumbprint[0] != '\0') {
            fn(&g->own[k], arg);
            found = true;
        }
        break;
    }
    uv_mutex_unlock(&relay_tls_lock);
    return found;
}

/* relay_tls_why_not - the note of a receive connector left without STARTTLS */

bool relay_tls_why_not(const struct config *cfg, const struct cfg_receive *rc, char *buf,
                       size_t size)
{
    char    prefix[300];
    size_t  n = (size_t)snprintf(prefix, sizeof(prefix), "receive connector %s: ", rc->name);
    bool    found = false;

    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    for (int i = 0; i < 2 && !found; i++) {
        const struct relay_tls_set *g = &relay_tls_gens[i];

        for (size_t k = 0; g->cfg == cfg && k < g->notes.n && !found; k++)
            if (strncmp(g->notes.v[k], prefix, n) == 0) {
                snprintf(buf, size, "%s", g->notes.v[k] + n);
                found = true;
            }
    }
    uv_mutex_unlock(&relay_tls_lock);
    return found;
}

/* relay_tls_chain_of - policy's name for one of tls/'s chain verdicts.  A
 * switch, not a table: -Wswitch (in -Wall) names a verdict added to
 * enum tls_chain without a case, where a table would silently give it 0,
 * POLICY_CHAIN_VALID.  A value outside the enum (a bug) is INVALID, which
 * never passes a domain-security check. */

static enum policy_chain relay_tls_chain_of(enum tls_chain chain)
{
    switch (chain) {
    case TLS_CHAIN_VALID:
        return POLICY_CHAIN_VALID;
    case TLS_CHAIN_UNTRUSTED:
        return POLICY_CHAIN_UNTRUSTED;
    case TLS_CHAIN_EXPIRED:
        return POLICY_CHAIN_EXPIRED;
    case TLS_CHAIN_NOT_YET_VALID:
        return POLICY_CHAIN_NOT_YET_VALID;
    case TLS_CHAIN_BAD_EKU:
        return POLICY_CHAIN_BAD_EKU;
    case TLS_CHAIN_REVOKED:
        return POLICY_CHAIN_REVOKED;
    case TLS_CHAIN_REVOCATION_UNKNOWN:
        return POLICY_CHAIN_REVOCATION_UNKNOWN;
    case TLS_CHAIN_INVALID:
    case TLS_CHAIN_NONE:
        return POLICY_CHAIN_INVALID;
    }
    log_errx("tls", 0, "unknown chain verdict %d taken as invalid", (int)chain);
    return POLICY_CHAIN_INVALID;
}

/* relay_tls_partner_anchors - partner p's own anchors in cfg's generation */

struct tls_anchors *relay_tls_partner_anchors(const struct config *cfg,
                                              const struct cfg_partner *p)
{
    struct tls_anchors *a = NULL;
    size_t  i;

    if (p == NULL || p < cfg->partners || p >= cfg->partners + cfg->npartners)
        return NULL;
    i = (size_t)(p - cfg->partners);
    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    for (int k = 0; k < 2 && a == NULL; k++)
        if (relay_tls_gens[k].cfg == cfg && i < relay_tls_gens[k].np)
            a = tls_anchors_ref(relay_tls_gens[k].anchors[i]);
    uv_mutex_unlock(&relay_tls_lock);
    return a;
}

/* relay_tls_chain_plain - tls/'s chain verdict in policy's terms, revocation apart */

enum policy_chain relay_tls_chain_plain(enum tls_chain chain)
{
    return relay_tls_chain_of(chain);
}

/* relay_tls_chain - tls/'s verdict in policy's terms */

enum policy_chain relay_tls_chain(const struct tls_facts *f)
{
    enum policy_chain c = relay_tls_chain_of(f->chain);

    if (c == POLICY_CHAIN_VALID && f->revocation == TLS_REV_REVOKED)
        return POLICY_CHAIN_REVOKED;
    if (c == POLICY_CHAIN_VALID && f->revocation == TLS_REV_UNKNOWN)
        return POLICY_CHAIN_REVOCATION_UNKNOWN;
    return c;
}

/* relay_tls_revocation - the revocation verdict as the log says it */

const char *relay_tls_revocation(const struct tls_facts *f, bool accepted)
{
    switch (f->revocation) {
    case TLS_REV_GOOD:
        return "good";
    case TLS_REV_REVOKED:
        return "revoked";
    case TLS_REV_UNKNOWN:
        return accepted ? "unknown (accepted)" : "unknown";
    default:
        return "not checked";
    }
}

/* relay_tls_shutdown - release everything */

void relay_tls_shutdown(void)
{
    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    relay_tls_gen_free(&relay_tls_gens[0]);
    relay_tls_gen_free(&relay_tls_gens[1]);
    uv_mutex_unlock(&relay_tls_lock);
}
