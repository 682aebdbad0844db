/*
 * domsec_certshow.c - `domsec cert`, the reading side: open a command's
 * view of the certificate store and load it, find the entry a thumbprint
 * names, the Status, RootCAType and Services of an entry, and
 * `cert list` and `cert show` (text and --json), after Exchange's
 * Get-ExchangeCertificate (SPEC 6.1).
 *
 *   domsec [-c FILE] cert list
 *   domsec [-c FILE] cert show THUMBPRINT [--json]
 *
 * CONTRACT
 *  domsec_cert.c parses the options and owns the struct domsec__cert_cmd
 *  (domsec_cert_int.h): domsec__cert_open() fills it from FILE,
 *  domsec__cert_load() adds the store, and domsec__cert_close() releases
 *  everything it holds (also what domsec_cert.c added).  The CRLs are
 *  loaded once, on the first Status that needs them, into c->crls.  Every
 *  function runs synchronously in the command's thread and prints to
 *  stdout, failures to stderr; those returning int return the exit
 *  status (0 done, 1 failed).  Nothing calls back, nothing to cancel.
 *
 *  Status (Exchange 8.1, with domsecd's chain and CRL checks):
 *   PendingRequest  a request-K.csr with its key, no certificate yet
 *   Invalid         the .pem holds no readable certificate; or a CA-issued
 *                   certificate whose EKU lacks serverAuth (Exchange
 *                   validates with the serverAuth usage)
 *   Valid           self-signed and within its dates (Exchange: an
 *                   untrusted self-signed root is Valid, RootCAType None;
 *                   it is never revocation-checked); or CA-issued, chains to
 *                   trusted_ca_file, within its dates, and every certificate
 *                   below the root has a current CRL not listing it
 *   DateInvalid     outside its dates (self-signed, or chaining)
 *   Untrusted       not self-signed and does not chain to trusted_ca_file
 *   Unknown         not self-signed, and trusted_ca_file holds no
 *                   certificate to validate against
 *   Revoked         a CRL lists it or a certificate of its chain
 *   RevocationCheckFailure  a CRL is missing, stale or does not verify
 *                   (what domsecd's revocation_failure = fail refuses), or
 *                   crl_directory cannot be read
 *  RootCAType is ThirdParty when it chains to trusted_ca_file, Unknown when
 *  trusted_ca_file holds no certificate, else None.
 *  pin-sha256 (JSON PinSha256) is the SHA-256 of the certificate's public
 *  key (SPKI): what a partner lists in [partner D] certificate_pins; for a
 *  PendingRequest, its key's: the pin the issued certificate will have.
 *  Services is SMTP when a connector of FILE presents it (tls_store_select,
 *  as domsecd chooses), else None.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "domsec_cert_int.h"
#include "domsec_cmd.h"
#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "relay_crl.h"
#include "tls_certgen.h"
#include "tls_crl.h"
#include "tls_store.h"

#define CERT_FILE_MAX    (1024 * 1024)

/* ---- reading files ---------------------------------------------------------- */

/* domsec__cert_read - a whole file of at most CERT_FILE_MAX bytes (NUL-terminated) */

unsigned char *domsec__cert_read(const char *path, size_t *len)
{
    unsigned char *buf;

    return log_read_file(path, CERT_FILE_MAX, &buf, len, NULL) == 0 ? buf : NULL;
}

/* domsec__cert_wipe_free - wipe and free a buffer holding key material */

void domsec__cert_wipe_free(unsigned char *p, size_t len)
{
    if (p != NULL)
        explicit_bzero(p, len);
    free(p);
}

/* cert_meta_friendly - the FriendlyName of a .meta file, or NULL (owned) */

static char *cert_meta_friendly(const char *meta_path)
{
    size_t  len;
    char   *text = (char *)domsec__cert_read(meta_path, &len), *line, *save = NULL, *out = NULL;

    if (text == NULL)
        return NULL;
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        size_t  n = strlen(line);

        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (strncasecmp(line, "FriendlyName:", 13) == 0) {
            const char *v = line + 13;

            while (*v == ' ' || *v == '\t')
                v++;
            free(out);
            out = xstrdup(v);
        }
    }
    free(text);
    return out;
}

/* domsec__cert_base - "DIR/NAME" of an entry's "DIR/NAME.pem" (owned) */

char *domsec__cert_base(const char *pem_path)
{
    size_t  n = strlen(pem_path);

    return xstrndup(pem_path, n > 4 ? n - 4 : n);
}

/* domsec__cert_friendly - the friendly name of a certificate entry (owned), or NULL */

char *domsec__cert_friendly(const struct tls_store_entry *e)
{
    char   *base = domsec__cert_base(e->cert_path), *meta = xasprintf("%s.meta", base);
    char   *f = cert_meta_friendly(meta);

    free(meta);
    free(base);
    return f;
}

/* ---- loading ---------------------------------------------------------------- */

/* domsec__cert_open - the configuration and the owner of new files */

int domsec__cert_open(struct domsec__cert_cmd *c, const char *config_path)
{
    struct cfg_errors errs = { 0 };

    c->config_path = config_path;
    c->now = (int64_t)time(NULL);
    if ((c->cfg = policy_config_load(config_path, &errs)) == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i]);
        policy_config_errors_free(&errs);
        return 1;
    }
    policy_config_errors_free(&errs);
    c->dir = c->cfg->transport.certificate_store;
    if (geteuid() == 0) {
        /* cppcheck-suppress getpwnamCalled ; the domsec command has one thread */
        struct passwd *pw = getpwnam(c->cfg->service.user);

        if (pw != NULL) {
            c->chown = true;
            c->uid = pw->pw_uid;
            c->gid = pw->pw_gid;
        } else {
            fprintf(stderr, "domsec: warning: [service] user %s does not exist: new files "
                    "stay owned by root, and domsecd cannot read them\n", c->cfg->service.user);
        }
    }
    return 0;
}

/* domsec__cert_close - release everything */

void domsec__cert_close(struct domsec__cert_cmd *c)
{
    tls_store_free(c->store);
    for (size_t i = 0; i < c->npend; i++) {
        free(c->pend[i].csr_path);
        free(c->pend[i].key_path);
        free(c->pend[i].friendly);
        tls_gen_request_info_free(&c->pend[i].ri);
    }
    free(c->pend);
    free(c->used);
    for (size_t i = 0; i < c->nused; i++)
        free(c->used_by[i]);
    free(c->used_by);
    if (c->crls != NULL)
        tls_crl_set_unref(c->crls);
    for (size_t i = 0; i < c->ncreated; i++)
        free(c->created[i]);
    free(c->created);
    if (c->cfg != NULL)
        policy_config_unref(c->cfg);
}

/* cert_is_request - "request-" + 40 hex + ".csr" */

static int cert_is_request(const struct dirent *d)
{
    const char *n = d->d_name;
    size_t  pl = strlen(DOMSEC__CERT_REQ_PREFIX);

    if (strncmp(n, DOMSEC__CERT_REQ_PREFIX, pl) != 0 || strlen(n) != pl + 40 + 4
        || strcmp(n + pl + 40, ".csr") != 0)
        return 0;
    for (size_t i = pl; i < pl + 40; i++)
        if (!isxdigit((unsigned char)n[i]))
            return 0;
    return 1;
}

/* cert_load_pending - every request-K.csr of the store */

static void cert_load_pending(struct domsec__cert_cmd *c)
{
    struct dirent **list;
    int     n = scandir(c->dir, &list, cert_is_request, alphasort);

    for (int i = 0; i < n; i++) {
        struct domsec__cert_pending *p;
        unsigned char *data;
        size_t  len, pl = strlen(DOMSEC__CERT_REQ_PREFIX);
        const char *why;
        char   *meta;

        c->pend = xrealloc(c->pend, (c->npend + 1) * sizeof(*c->pend));
        p = &c->pend[c->npend++];
        memset(p, 0, sizeof(*p));
        memcpy(p->id, list[i]->d_name + pl, 40);
        for (int k = 0; k < 40; k++)
            p->id[k] = (char)toupper((unsigned char)p->id[k]);
        p->csr_path = xasprintf("%s/%s", c->dir, list[i]->d_name);
        p->key_path = xasprintf("%s/%.*s.key", c->dir, (int)(pl + 40), list[i]->d_name);
        meta = xasprintf("%s/%.*s.meta", c->dir, (int)(pl + 40), list[i]->d_name);
        p->friendly = cert_meta_friendly(meta);
        free(meta);
        if ((data = domsec__cert_read(p->csr_path, &len)) != NULL) {
            tls_gen_request_info(data, len, &p->ri, &why);
            free(data);
        }
        if ((data = domsec__cert_read(p->key_path, &len)) != NULL) {
            tls_gen_key_info(data, len, &p->ki, &why);
            domsec__cert_wipe_free(data, len);
        }
        free(list[i]);
    }
    if (n >= 0)
        free(list);
}

/* domsec__cert_load - store, pending requests and what each connector presents */

int domsec__cert_load(struct domsec__cert_cmd *c)
{
    const struct config *cfg = c->cfg;
    struct tls_cert_info ci;
    const char *why;

    log_set_level(LOG_ERROR);           /* problems are shown per entry, not logged */
    c->store = tls_store_load(c->dir, cfg->transport.trusted_ca_file, c->now, &why);
    log_set_level(LOG_WARN);
    if (c->store == NULL)
        return domsec__cert_err("%s", why);
    if (tls_cert_info_from_pem_file(cfg->transport.trusted_ca_file, &ci, &why) == 0) {
        c->trust_ok = true;
        tls_cert_info_free(&ci);
    }
    c->used = xcalloc(cfg->nreceive + cfg->nsend + 1, sizeof(*c->used));
    c->used_by = xcalloc(cfg->nreceive + cfg->nsend + 1, sizeof(*c->used_by));
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].auth_mechanism == CFG_AUTH_TLS) {
            c->used_by[c->nused] = xasprintf("receive connector %s", cfg->receive[i].name);
            c->used[c->nused++] = tls_store_select(c->store, cfg->receive[i].fqdn,
                                                   cfg->receive[i].tls_certificate, c->now,
                                                   &why);
        }
    for (size_t i = 0; i < cfg->nsend; i++) {
        c->used_by[c->nused] = xasprintf("send connector %s", cfg->send[i].name);
        c->used[c->nused++] = tls_store_select(c->store, cfg->send[i].fqdn,
                                               cfg->send[i].tls_certificate, c->now, &why);
    }
    cert_load_pending(c);
    return 0;
}

/* domsec__cert_find - the entry a thumbprint (or unique prefix of 8+) names; exit status */

int domsec__cert_find(const struct domsec__cert_cmd *c, const char *arg,
                      struct domsec__cert_found *out)
{
    size_t  len = strlen(arg), hits = 0;   /* cert_parse checked: 8 to 40 hex digits */

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < tls_store_count(c->store); i++) {
        const struct tls_store_entry *e = tls_store_entry_at(c->store, i);

        if (e->info.thumbprint[0] != '\0' && strncasecmp(e->info.thumbprint, arg, len) == 0) {
            out->e = e;
            hits++;
        }
    }
    for (size_t i = 0; i < c->npend; i++)
        if (strncasecmp(c->pend[i].id, arg, len) == 0) {
            out->p = &c->pend[i];
            hits++;
        }
    if (hits == 1)
        return 0;
    memset(out, 0, sizeof(*out));
    if (hits == 0)
        return domsec__cert_err("no certificate or request %s in %s", arg, c->dir);
    return domsec__cert_err("%s names %zu entries of %s: give more digits", arg, hits, c->dir);
}

/* ---- status ----------------------------------------------------------------- */

/* domsec__cert_services - "SMTP" when a connector presents e, else "None" */

const char *domsec__cert_services(const struct domsec__cert_cmd *c,
                                  const struct tls_store_entry *e)
{
    for (size_t i = 0; i < c->nused; i++)
        if (c->used[i] == e)
            return "SMTP";
    return "None";
}

/* domsec__cert_users - the connectors presenting or pinning e */

char   *domsec__cert_users(const struct domsec__cert_cmd *c, const struct tls_store_entry *e,
                          bool *pinned)
{
    const struct config *cfg = c->cfg;
    char   *text = xstrdup(""), *next;

    *pinned = false;
    for (size_t k = 0; k < cfg->nreceive + cfg->nsend; k++) {
        bool    rx = k < cfg->nreceive, presents = false, pins;
        const char *pin = rx ? cfg->receive[k].tls_certificate
            : cfg->send[k - cfg->nreceive].tls_certificate;
        const void *section = rx ? (const void *)&cfg->receive[k]
            : (const void *)&cfg->send[k - cfg->nreceive];
        int     line = policy_config_line(cfg, section, "tls_certificate");
        char   *who = xasprintf("%s connector %s", rx ? "receive" : "send",
                                rx ? cfg->receive[k].name : cfg->send[k - cfg->nreceive].name);

        pins = pin != NULL && strcasecmp(pin, e->info.thumbprint) == 0;
        for (size_t j = 0; j < c->nused && !presents; j++)
            presents = c->used[j] == e && strcmp(c->used_by[j], who) == 0;
        if (pins)
            next = xasprintf("%s%s%s (tls_certificate, %s:%d)", text, text[0] ? ", " : "", who,
                             c->config_path, line);
        else if (presents)
            next = xasprintf("%s%s%s", text, text[0] ? ", " : "", who);
        else
            next = NULL;
        if (next != NULL) {
            free(text);
            text = next;
        }
        *pinned |= pins;
        free(who);
    }
    return text;
}

/* cert_revocation - Valid, Revoked or RevocationCheckFailure from the CRLs */

static const char *cert_revocation(struct domsec__cert_cmd *c, const struct tls_store_entry *e,
                                   char *detail, size_t dsz)
{
    struct tls_gen_bundle b;
    struct tls_crl_cert *chain;
    struct tls_crl_result res;
    unsigned char *pem;
    size_t  len;
    const char *why;

    if (!c->crl_tried) {
        c->crl_tried = true;
        c->crls = relay_crl_load(c->cfg, &c->crl_why);
    }
    if (c->crls == NULL) {
        snprintf(detail, dsz, "%s", c->crl_why ? c->crl_why : "no CRLs");
        return "RevocationCheckFailure";
    }
    if ((pem = domsec__cert_read(e->cert_path, &len)) == NULL
                || tls_gen_bundle_read(pem, len, NULL, &b, &why) != TLS_GEN_OK) {
        free(pem);
        snprintf(detail, dsz, "%s cannot be read again", e->cert_path);
        return "Unknown";
    }
    free(pem);
    chain = xcalloc(b.ncerts, sizeof(*chain));
    for (size_t i = 0; i < b.ncerts; i++) {
        chain[i].der = b.certs[i].data;
        chain[i].len = b.certs[i].len;
    }
    tls_crl_check(c->crls, chain, b.ncerts, c->now, &res);
    free(chain);
    tls_gen_bundle_free(&b);
    snprintf(detail, dsz, "%s", res.reason);
    switch (res.verdict) {
    case TLS_REV_GOOD:
        return "Valid";
    case TLS_REV_REVOKED:
        return "Revoked";
    case TLS_REV_UNKNOWN:
        return "RevocationCheckFailure";
    default:
        return "Unknown";
    }
}

/* cert_status - Exchange's Status of a certificate entry (see CONTRACT) */

static const char *cert_status(struct domsec__cert_cmd *c, const struct tls_store_entry *e,
                               const char **root_type, char *detail, size_t dsz)
{
    const struct tls_cert_info *ci = &e->info;
    bool    in_period = c->now >= ci->not_before && c->now <= ci->not_after;

    detail[0] = '\0';
    *root_type = "None";
    if (ci->thumbprint[0] == '\0') {
        snprintf(detail, dsz, "%s", e->problem ? e->problem : "no certificate");
        return "Invalid";
    }
    if (ci->self_signed) {
        if (!in_period)
            snprintf(detail, dsz, "outside its validity period");
        return in_period ? "Valid" : "DateInvalid";
    }
    if (!c->trust_ok) {
        *root_type = "Unknown";
        snprintf(detail, dsz, "trusted_ca_file %s holds no certificate",
                 c->cfg->transport.trusted_ca_file);
        return "Unknown";
    }
    if (!e->ca_chained) {
        snprintf(detail, dsz, "does not chain to trusted_ca_file %s",
                 c->cfg->transport.trusted_ca_file);
        return "Untrusted";
    }
    *root_type = "ThirdParty";
    if (!in_period) {
        snprintf(detail, dsz, "outside its validity period");
        return "DateInvalid";
    }
    if (ci->eku_present && !ci->eku_server) {
        snprintf(detail, dsz, "EKU without serverAuth");
        return "Invalid";
    }
    return cert_revocation(c, e, detail, dsz);
}

/* ---- list and show ---------------------------------------------------------- */

/* cert_json_str - a JSON string (or null) */

static void cert_json_str(const char *s)
{
    if (s == NULL) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

struct cert_view {                      /* one entry, ready to print */
    const char *friendly, *subject, *issuer, *serial, *status, *root_type, *services;
    const char *thumbprint, *key_type, *cert_file, *key_file, *request_file, *problem;
    const char *pin;                    /* pin-sha256, or NULL (a request has none) */
    const char *pin64;                  /* the same in base64, or NULL */
    char    detail[300], not_before[32], not_after[32], pinbuf[65], pin64buf[45];
    char  **domains;
    size_t  ndomains;
    int     key_bits;
    bool    self_signed, has_key, dates;
};

/* domsec_pin - a certificate's pin as printed (hex; base64 in b64), or NULL if it has none */

const char *domsec_pin(const struct tls_cert_info *ci, char out[65], char b64[45])
{
    static const unsigned char none[32];

    if (memcmp(ci->spki_sha256, none, sizeof(none)) == 0)
        return NULL;
    policy_format_pin(ci->spki_sha256, out);
    policy_format_pin_base64(ci->spki_sha256, b64);
    return out;
}

/* cert_view_of - the fields of an entry */

static void cert_view_of(struct domsec__cert_cmd *c, const struct domsec__cert_found *f,
                         struct cert_view *v, char **friendly)
{
    memset(v, 0, sizeof(*v));
    if (f->p != NULL) {
        const struct domsec__cert_pending *p = f->p;

        *friendly = p->friendly ? xstrdup(p->friendly) : NULL;
        v->subject = p->ri.subject;
        v->domains = p->ri.names;
        v->ndomains = p->ri.nnames;
        v->status = "PendingRequest";
        v->root_type = "None";
        v->services = "None";
        v->thumbprint = p->id;
        v->key_bits = p->ki.key_bits;
        v->key_type = p->ki.key_type == TLS_KEY_RSA ? "RSA" : p->ki.key_type == TLS_KEY_EC
            ? "EC" : NULL;
        v->has_key = p->ki.id[0] != '\0';
        if (v->has_key) {               /* the pin the issued certificate will have */
            policy_format_pin(p->ki.spki_sha256, v->pinbuf);
            policy_format_pin_base64(p->ki.spki_sha256, v->pin64buf);
            v->pin = v->pinbuf;
            v->pin64 = v->pin64buf;
        }
        v->key_file = p->key_path;
        v->request_file = p->csr_path;
        if (!v->has_key)
            v->problem = "the request's private key is missing or unreadable";
    } else {
        const struct tls_store_entry *e = f->e;

        *friendly = domsec__cert_friendly(e);
        v->subject = e->info.subject;
        v->issuer = e->info.issuer;
        v->serial = e->info.serial;
        v->domains = e->info.names;
        v->ndomains = e->info.nnames;
        v->status = cert_status(c, e, &v->root_type, v->detail, sizeof(v->detail));
        v->services = domsec__cert_services(c, e);
        v->thumbprint = e->info.thumbprint[0] ? e->info.thumbprint : NULL;
        v->pin = v->thumbprint ? domsec_pin(&e->info, v->pinbuf, v->pin64buf) : NULL;
        v->pin64 = v->pin ? v->pin64buf : NULL;
        v->key_bits = e->info.key_bits;
        v->key_type = e->info.key_type == TLS_KEY_RSA ? "RSA" : e->info.key_type == TLS_KEY_EC
            ? "EC" : NULL;
        v->self_signed = e->info.self_signed;
        v->has_key = e->key_path != NULL;
        v->cert_file = e->cert_path;
        v->key_file = e->key_path;
        v->problem = e->problem;
        v->dates = e->info.thumbprint[0] != '\0';
        log_iso_time(v->not_before, sizeof(v->not_before), e->info.not_before, NULL);
        log_iso_time(v->not_after, sizeof(v->not_after), e->info.not_after, NULL);
    }
    v->friendly = *friendly ? *friendly : "";
}

/* domsec__cert_list - one line per entry */

int domsec__cert_list(struct domsec__cert_cmd *c)
{
    size_t  n = tls_store_count(c->store);

    printf("%-40s %-8s %-22s %s\n", "Thumbprint", "Services", "Status", "Subject");
    printf("%-40s %-8s %-22s %s\n", "----------", "--------", "------", "-------");
    for (size_t i = 0; i < n + c->npend; i++) {
        struct domsec__cert_found f = { i < n ? tls_store_entry_at(c->store, i) : NULL,
                                i < n ? NULL : &c->pend[i - n] };
        struct cert_view v;
        char   *friendly;

        cert_view_of(c, &f, &v, &friendly);
        printf("%-40s %-8s %-22s %s\n", v.thumbprint ? v.thumbprint : "-", v.services, v.status,
               v.subject[0] ? v.subject : f.e ? f.e->cert_path : f.p->csr_path);
        free(friendly);
    }
    return 0;
}

/* cert_show_json - one entry as a JSON object */

static void cert_show_json(const struct cert_view *v)
{
    printf("{\n  \"FriendlyName\": ");
    cert_json_str(v->friendly);
    printf(",\n  \"Subject\": ");
    cert_json_str(v->subject);
    printf(",\n  \"Issuer\": ");
    cert_json_str(v->issuer);
    printf(",\n  \"CertificateDomains\": [");
    for (size_t i = 0; i < v->ndomains; i++) {
        printf("%s", i ? ", " : "");
        cert_json_str(v->domains[i]);
    }
    printf("],\n  \"SerialNumber\": ");
    cert_json_str(v->serial);
    printf(",\n  \"NotBefore\": ");
    cert_json_str(v->dates ? v->not_before : NULL);
    printf(",\n  \"NotAfter\": ");
    cert_json_str(v->dates ? v->not_after : NULL);
    printf(",\n  \"PublicKeySize\": %d,\n  \"KeyType\": ", v->key_bits);
    cert_json_str(v->key_type);
    printf(",\n  \"IsSelfSigned\": %s,\n  \"HasPrivateKey\": %s,\n  \"RootCAType\": ",
           v->self_signed ? "true" : "false", v->has_key ? "true" : "false");
    cert_json_str(v->root_type);
    printf(",\n  \"Services\": ");
    cert_json_str(v->services);
    printf(",\n  \"Thumbprint\": ");
    cert_json_str(v->thumbprint);
    printf(",\n  \"PinSha256\": ");
    cert_json_str(v->pin);
    printf(",\n  \"PinSha256Base64\": ");
    cert_json_str(v->pin64);
    printf(",\n  \"Status\": ");
    cert_json_str(v->status);
    printf(",\n  \"StatusDetail\": ");
    cert_json_str(v->detail[0] ? v->detail : NULL);
    printf(",\n  \"Problem\": ");
    cert_json_str(v->problem);
    printf(",\n  \"CertificateFile\": ");
    cert_json_str(v->cert_file);
    printf(",\n  \"KeyFile\": ");
    cert_json_str(v->key_file);
    printf(",\n  \"RequestFile\": ");
    cert_json_str(v->request_file);
    printf("\n}\n");
}

/* cert_show_text - one entry as "Name : value" lines (Format-List) */

static void cert_show_text(const struct cert_view *v)
{
    const char *na = "";

    printf("%-18s : %s\n", "FriendlyName", v->friendly);
    printf("%-18s : %s\n", "Subject", v->subject);
    printf("%-18s : %s\n", "Issuer", v->issuer ? v->issuer : na);
    printf("%-18s : {", "CertificateDomains");
    for (size_t i = 0; i < v->ndomains; i++)
        printf("%s%s", i ? ", " : "", v->domains[i]);
    printf("}\n");
    printf("%-18s : %s\n", "SerialNumber", v->serial ? v->serial : na);
    printf("%-18s : %s\n", "NotBefore", v->dates ? v->not_before : na);
    printf("%-18s : %s\n", "NotAfter", v->dates ? v->not_after : na);
    printf("%-18s : %d\n", "PublicKeySize", v->key_bits);
    printf("%-18s : %s\n", "KeyType", v->key_type ? v->key_type : na);
    printf("%-18s : %s\n", "IsSelfSigned", v->self_signed ? "True" : "False");
    printf("%-18s : %s\n", "HasPrivateKey", v->has_key ? "True" : "False");
    printf("%-18s : %s\n", "RootCAType", v->root_type);
    printf("%-18s : %s\n", "Services", v->services);
    printf("%-18s : %s\n", "Thumbprint", v->thumbprint ? v->thumbprint : na);
    if (v->pin) {                       /* [partner D] certificate_pins, TLSA 3 1 1 */
        printf("%-18s : %s\n", "pin-sha256", v->pin);
        printf("%-18s : %s\n", "pin-sha256-base64", v->pin64);
    }
    printf("%-18s : %s\n", "Status", v->status);
    if (v->detail[0])
        printf("%-18s : %s\n", "StatusDetail", v->detail);
    if (v->problem)
        printf("%-18s : %s\n", "Problem", v->problem);
    if (v->cert_file)
        printf("%-18s : %s\n", "CertificateFile", v->cert_file);
    if (v->key_file)
        printf("%-18s : %s\n", "KeyFile", v->key_file);
    if (v->request_file)
        printf("%-18s : %s\n", "RequestFile", v->request_file);
}

/* domsec__cert_show - one entry in detail */

int domsec__cert_show(struct domsec__cert_cmd *c, const char *arg, bool json)
{
    struct domsec__cert_found f;
    struct cert_view v;
    char   *friendly;
    int     rc = domsec__cert_find(c, arg, &f);

    if (rc != 0)
        return rc;
    cert_view_of(c, &f, &v, &friendly);
    if (json)
        cert_show_json(&v);
    else
        cert_show_text(&v);
    free(friendly);
    return 0;
}
