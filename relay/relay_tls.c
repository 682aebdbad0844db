/*
 * relay_tls.c - TLS material for the running configuration.
 *
 * For every receive connector that advertises STARTTLS (auth_mechanism =
 * tls), select the certificate from certificate_store by the connector's
 * fqdn (or its pinned tls_certificate thumbprint) and build a server
 * context with trusted_ca_file as the anchors for client certificates.
 * No usable certificate: log why, and that connector does not offer
 * STARTTLS (Exchange does the same).
 *
 * CONTRACT
 *  relay_tls_install() runs on the main thread (start-up and SIGHUP) and
 *  does blocking file I/O by design (it is part of loading a
 *  configuration).  relay_tls_server_ctx() is thread-safe and returns a
 *  new reference.  Two generations are kept: the current configuration's
 *  and the previous one's, keyed by the config pointer.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "relay_tls.h"
#include "tls_ctx.h"
#include "tls_store.h"

struct relay_tls_gen {
    const struct config *cfg;           /* identity only: never dereferenced later */
    struct tls_ctx **ctx;               /* owned refs, one per receive connector (NULL: none) */
    size_t  n;
};

static struct relay_tls_gen relay_tls_gens[2];
static uv_mutex_t relay_tls_lock;
static uv_once_t relay_tls_once = UV_ONCE_INIT;

static void relay_tls_init(void)
{
    uv_mutex_init(&relay_tls_lock);
}

/* relay_tls_gen_free - drop a generation's contexts */

static void relay_tls_gen_free(struct relay_tls_gen *g)
{
    for (size_t i = 0; i < g->n; i++)
        tls_ctx_unref(g->ctx[i]);
    free(g->ctx);
    memset(g, 0, sizeof(*g));
}

/* relay_tls_install - build and keep the material for cfg */

void relay_tls_install(const struct config *cfg)
{
    struct relay_tls_gen g = { cfg, xcalloc(cfg->nreceive ? cfg->nreceive : 1, sizeof(void *)),
                               cfg->nreceive };
    const char *why = NULL;
    struct tls_store *store = NULL;
    bool wanted = false;

    uv_once(&relay_tls_once, relay_tls_init);
    for (size_t i = 0; i < cfg->nreceive; i++)
        wanted |= cfg->receive[i].auth_mechanism == CFG_AUTH_TLS;
    if (wanted && access(cfg->transport.trusted_ca_file, F_OK) != 0)
        log_warnx("tls", 0, "trusted_ca_file %s does not exist: no client certificate can be "
                  "trusted, domain-secured mail will be refused", cfg->transport.trusted_ca_file);
    if (wanted && (store = tls_store_load(cfg->transport.certificate_store,
                                          cfg->transport.trusted_ca_file, time(NULL),
                                          &why)) == NULL)
        log_errx("tls", 0, "certificate_store %s: %s: STARTTLS is not offered",
                 cfg->transport.certificate_store, why);
    for (size_t i = 0; store != NULL && i < cfg->nreceive; i++) {
        const struct cfg_receive *rc = &cfg->receive[i];
        const struct tls_store_entry *e;

        if (rc->auth_mechanism != CFG_AUTH_TLS)
            continue;
        e = tls_store_select(store, rc->fqdn, rc->tls_certificate, time(NULL), &why);
        if (e == NULL) {
            log_errx("tls", 0, "receive connector %s: no usable certificate for %s: %s: "
                     "STARTTLS is not offered", rc->name, rc->fqdn, why);
            continue;
        }
        g.ctx[i] = tls_ctx_server_new(e->cert_path, e->key_path, cfg->transport.trusted_ca_file,
                                      &why);
        if (g.ctx[i] == NULL)
            log_errx("tls", 0, "receive connector %s: certificate %s, trusted_ca_file %s: %s: "
                     "STARTTLS is not offered", rc->name, e->cert_path,
                     cfg->transport.trusted_ca_file, why);
        else
            log_info("tls", 0, "receive connector %s certificate thumbprint=%s subject=\"%s\"",
                     rc->name, e->info.thumbprint, e->info.subject);
    }
    tls_store_free(store);
    uv_mutex_lock(&relay_tls_lock);
    relay_tls_gen_free(&relay_tls_gens[1]);
    relay_tls_gens[1] = relay_tls_gens[0];
    relay_tls_gens[0] = g;
    uv_mutex_unlock(&relay_tls_lock);
}

/* relay_tls_server_ctx - the context of connector rc of cfg */

struct tls_ctx *relay_tls_server_ctx(const struct config *cfg, const struct cfg_receive *rc)
{
    struct tls_ctx *ctx = NULL;

    uv_once(&relay_tls_once, relay_tls_init);
    uv_mutex_lock(&relay_tls_lock);
    for (int i = 0; i < 2 && ctx == NULL; i++) {
        const struct relay_tls_gen *g = &relay_tls_gens[i];
        size_t idx = (size_t)(rc - cfg->receive);

        if (g->cfg == cfg && idx < g->n && g->ctx[idx] != NULL)
            ctx = tls_ctx_ref(g->ctx[idx]);
    }
    uv_mutex_unlock(&relay_tls_lock);
    return ctx;
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
