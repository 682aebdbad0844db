/*
 * relay_crl_build.c - a CRL set from files: crl_directory (PEM or DER), the
 * fetch cache (H.url + H.crl) and the issuers the checks may need (trust
 * anchors, each [partner]'s trusted_ca_file, the chain certificates of our
 * store).  Bad files are logged and
 * skipped.  No state: used by the CRL thread for every rebuild and by
 * relay_crl_load() for `domsec crl list`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "relay_crl_int.h"
#include "tls_crl.h"

/* ---- configuration copy --------------------------------------------------- */

/* relay__crl_paths_new - copy what the CRL code needs from cfg */

struct crl_paths *relay__crl_paths_new(const struct config *cfg)
{
    const struct cfg_transport *t = &cfg->transport;
    struct crl_paths *p = xcalloc(1, sizeof(*p));

    p->crl_directory = xstrdup(t->crl_directory);
    p->cache_directory = t->crl_cache_directory ? xstrdup(t->crl_cache_directory)
                         : xasprintf("%s/crl-cache", t->queue_directory);
    p->trusted_ca_file = xstrdup(t->trusted_ca_file);
    p->certificate_store = xstrdup(t->certificate_store);
    p->fetch = t->crl_fetch;
    for (size_t i = 0; i < cfg->npartners; i++) {
        if (cfg->partners[i].trusted_ca_file == NULL)
            continue;
        p->partner_ca_files = xrealloc(p->partner_ca_files,
                                       (p->npartner_ca_files + 1) * sizeof(char *));
        p->partner_ca_files[p->npartner_ca_files++] = xstrdup(cfg->partners[i].trusted_ca_file);
    }
    return p;
}

/* relay__crl_paths_free - release a copy (NULL is fine) */

void relay__crl_paths_free(struct crl_paths *p)
{
    if (p == NULL)
        return;
    free(p->crl_directory);
    free(p->cache_directory);
    free(p->trusted_ca_file);
    free(p->certificate_store);
    for (size_t i = 0; i < p->npartner_ca_files; i++)
        free(p->partner_ca_files[i]);
    free(p->partner_ca_files);
    free(p);
}

/* ---- building a set ------------------------------------------------------- */

/* crl_is_cache_crl - "<64 hex>.crl" */

static bool crl_is_cache_crl(const char *name)
{
    return strlen(name) == 68 && strspn(name, "0123456789abcdef") == 64
           && strcmp(name + 64, ".crl") == 0;
}

/* crl_is_pem - a visible "NAME.pem" of the store */

static bool crl_is_pem(const char *name)
{
    size_t n = strlen(name);

    return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

/* crl_cache_url - the URL of cache entry name (owned), or NULL with *why */

static char *crl_cache_url(const char *dir, const char *stem, const char **why)
{
    char *path = xasprintf("%s/%.64s.url", dir, stem), *url, hash[65];
    size_t len;

    if (log_read_file(path, RELAY__CRL_URL_MAX, (unsigned char **)&url, &len, NULL) < 0) {
        free(path);
        *why = "its .url file cannot be read";
        return NULL;
    }
    free(path);
    url[strcspn(url, "\r\n")] = '\0';
    relay__crl_cache_name(url, hash);
    if (strncmp(hash, stem, 64) != 0) {
        *why = "its .url file names another URL";
        free(url);
        return NULL;
    }
    return url;
}

/* crl_add_cache - every cache entry of dir into s (bad ones are logged) */

static void crl_add_cache(struct tls_crl_set *s, const char *dir)
{
    size_t n, len;
    char **names = log_dir_names(dir, crl_is_cache_crl, &n);

    if (names == NULL && errno != ENOENT)
        log_warn("crl", 0, "cannot read crl_cache_directory %s", dir);
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/%s", dir, names[i]), *url;
        const char *why = NULL;
        unsigned char *data;

        if ((url = crl_cache_url(dir, names[i], &why)) != NULL) {
            if (log_read_file(path, RELAY__CRL_MAX_BODY, &data, &len, NULL) < 0)
                why = strerror(errno);
            else if (tls_crl_set_add(s, data, len, path, url, &why) == 0)
                why = NULL;
            free(data);
        }
        if (why != NULL)
            log_warnx("crl", 0, "cache file %s skipped: %s", path, why);
        free(url);
        free(path);
    }
    log_dir_names_free(names, n);
}

/* crl_add_issuers - trust anchors (the global trusted_ca_file), issuers (the
 * partners' own trusted_ca_files, the store's chain certificates).  A
 * partner's CA file is an issuer only, never an anchor: an anchor ends the
 * CRL walk of every chain through it, so a partner file holding an
 * intermediate would stop other domains' chains from checking that
 * intermediate against its root's CRL.  A self-signed partner root still
 * ends the walk (its subject is its issuer).  Which CA may prove which
 * partner is decided elsewhere (policy_identity). */

static void crl_add_issuers(struct tls_crl_set *s, const struct crl_paths *p)
{
    const char *why = NULL;
    size_t n;
    char **names = log_dir_names(p->certificate_store, crl_is_pem, &n);

    if (access(p->trusted_ca_file, F_OK) == 0
        && tls_crl_set_add_issuers_file(s, p->trusted_ca_file, true, &why) < 0)
        log_warnx("crl", 0, "trusted_ca_file %s: %s: CRLs cannot be verified with it",
                  p->trusted_ca_file, why);
    for (size_t i = 0; i < p->npartner_ca_files; i++)
        if (tls_crl_set_add_issuers_file(s, p->partner_ca_files[i], false, &why) < 0)
            log_warnx("crl", 0, "[partner] trusted_ca_file %s: %s: CRLs cannot be verified "
                      "with it", p->partner_ca_files[i], why);
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/%s", p->certificate_store, names[i]);

        if (tls_crl_set_add_issuers_file(s, path, false, &why) < 0)
            log_debug("crl", 0, "issuers file %s skipped: %s", path, why);
        free(path);
    }
    log_dir_names_free(names, n);
}

/*
 * relay__crl_build - the set from p's files.  need_dir: NULL with *why when
 * crl_directory cannot be read; otherwise that is logged and skipped.
 */
struct tls_crl_set *relay__crl_build(const struct crl_paths *p, bool need_dir,
                                     const char **why)
{
    struct tls_crl_set *s = tls_crl_set_new();

    if (tls_crl_set_add_dir(s, p->crl_directory, why) < 0) {
        if (need_dir) {
            tls_crl_set_unref(s);
            return NULL;
        }
        log_errx("crl", 0, "cannot read crl_directory %s: %s", p->crl_directory, *why);
    }
    if (p->fetch)                       /* the cache is part of fetching */
        crl_add_cache(s, p->cache_directory);
    crl_add_issuers(s, p);
    return s;
}

/* relay_crl_load - the set domsecd would publish now, without fetching */

struct tls_crl_set *relay_crl_load(const struct config *cfg, const char **why)
{
    struct crl_paths *p = relay__crl_paths_new(cfg);
    struct tls_crl_set *s = relay__crl_build(p, true, why);

    relay__crl_paths_free(p);
    return s;
}
