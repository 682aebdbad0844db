/*
 * domsec_cert.c - `domsec cert`: the certificate store, after Exchange's
 * *-ExchangeCertificate cmdlets (SPEC 6.1).
 *
 *   domsec [-c FILE] cert new --domain D [--domain D]... [--key K] [--days N]
 *                             [--name F] [--subject S]
 *   domsec [-c FILE] cert request (--subject S | --domain D)... [--key K] [--name F]
 *                                 [--out FILE]
 *   domsec [-c FILE] cert import FILE [--password P] [--name F]
 *   domsec [-c FILE] cert list
 *   domsec [-c FILE] cert show THUMBPRINT [--json]
 *   domsec [-c FILE] cert renew THUMBPRINT [--days N] [--out FILE]
 *   domsec [-c FILE] cert remove THUMBPRINT [--force]
 *
 * CONTRACT
 *  The store is the [transport] certificate_store directory of FILE, in
 *  the layout of tls_certgen.h.  Nothing is ever replaced: every new file
 *  is written under a hidden temporary name (created O_EXCL with its final
 *  mode, so a key is never readable by others even for a moment), fsync'd,
 *  and linked to its name, which fails if the name exists; the .pem comes
 *  last, so domsecd never sees a certificate without its key.  A failed
 *  command removes what it created.  Run as root, new files are given to
 *  the [service] user, who reads the store after domsecd drops privileges.
 *  After new, import, renew and remove, every domsecd running with FILE
 *  is told to reload (SIGHUP) unless --no-reload.  remove refuses, naming
 *  the connectors, a certificate in use: one a connector of FILE presents
 *  (Services SMTP in `cert list`) or pins with tls_certificate, unless
 *  --force.
 *
 *  This file has the options and the commands that change the store (new,
 *  request, import, renew, remove).  Reading the store (loading it,
 *  finding an entry), the Status, RootCAType and Services of an entry,
 *  and list and show are domsec_certshow.c's; the two share
 *  domsec_cert_int.h.
 *
 *  Exit status: 0 done, 1 failed (the message names the file), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domsec_cert_int.h"
#include "domsec_cmd.h"
#include "log.h"
#include "policy_config.h"
#include "tls_certgen.h"
#include "tls_store.h"

#define CERT_MAX_DOMAINS 100

/* cert_usage - the usage of one subcommand (or all of them) and exit */

static void cert_usage(const char *sub, int status)
{
    static const struct {
        const char *name, *text;
    } u[] = {
        { "new", "cert new --domain D [--domain D]... [--key rsa2048|rsa4096|ec256]\n"
          "        [--days 1825] [--name FRIENDLY] [--subject \"C=US, O=Contoso, CN=...\"]"
          " [--no-reload]\n"
          "  a new key and self-signed certificate: SAN = the domains, CN = the first\n"
          "  (unless --subject), serverAuth+clientAuth (New-ExchangeCertificate)\n" },
        { "request", "cert request --subject \"C=US, O=Contoso, CN=mail.contoso.com\" "
          "[--domain D]...\n        [--key rsa2048|rsa4096|ec256] [--name FRIENDLY] "
          "[--out req.pem]\n"
          "  a new key (kept in the store) and a PKCS#10 request for it (stdout without\n"
          "  --out); the entry is PendingRequest until `cert import` of the certificate\n" },
        { "import", "cert import FILE [--password P] [--name FRIENDLY] [--no-reload]\n"
          "  a PEM certificate or chain completing a pending request, a PEM file with\n"
          "  certificate and key, or a PKCS#12 (.pfx) file\n" },
        { "list", "cert list\n  Thumbprint, Services, Status, Subject of every entry\n" },
        { "show", "cert show THUMBPRINT [--json]\n"
          "  one entry in detail (a unique prefix of 8 or more hex digits will do)\n" },
        { "renew", "cert renew THUMBPRINT [--days N] [--out req.pem] [--no-reload]\n"
          "  same subject and domains, new key of the same kind: a new self-signed\n"
          "  certificate, or for a CA-issued one a new request\n" },
        { "remove", "cert remove THUMBPRINT [--force] [--no-reload]\n"
          "  remove certificate, key and metadata (or a pending request); refused while\n"
          "  a connector presents it or pins it with tls_certificate, unless --force\n" },
    };
    FILE   *fp = status ? stderr : stdout;

    fprintf(fp, "usage:\n");
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        if (sub == NULL || strcmp(sub, u[i].name) == 0)
            fprintf(fp, "  domsec [-c FILE] %s", u[i].text);
    exit(status);
}

/* cert_bad - a usage error: message, then the subcommand's usage */

static void LOG_PRINTF(2, 3) cert_bad(const char *sub, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "domsec: cert %s: ", sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    cert_usage(sub, 2);
}

/* domsec__cert_err - a failure message; returns 1 */

int domsec__cert_err(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "domsec: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 1;
}

/* ---- writing ---------------------------------------------------------------- */

/* cert_sync_dir - make new names in the store durable */

static void cert_sync_dir(const struct domsec__cert_cmd *c)
{
    int     fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* cert_created - remember a file this command made */

static void cert_created(struct domsec__cert_cmd *c, const char *path)
{
    c->created = xrealloc(c->created, (c->ncreated + 1) * sizeof(*c->created));
    c->created[c->ncreated++] = xstrdup(path);
}

/* cert_undo - remove what this command made (after a failure) */

static void cert_undo(struct domsec__cert_cmd *c)
{
    while (c->ncreated > 0) {
        char   *p = c->created[--c->ncreated];

        unlink(p);
        free(p);
    }
}

/* cert_write - create dir/name holding data; never replaces a file */

static int cert_write(struct domsec__cert_cmd *c, const char *name, const void *data, size_t len,
                      mode_t mode)
{
    char   *path = xasprintf("%s/%s", c->dir, name);
    char   *tmp = xasprintf("%s/.%s.%ld.tmp", c->dir, name, (long)getpid());
    int     fd, rc = 1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        domsec__cert_err("%s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fchmod(fd, mode) < 0 || (c->chown && fchown(fd, c->uid, c->gid) < 0)
        || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
        domsec__cert_err("%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (link(tmp, path) < 0) {
        domsec__cert_err("%s: %s", path, errno == EEXIST ? "already exists: not replaced"
                         : strerror(errno));
        unlink(tmp);
        goto out;
    }
    unlink(tmp);
    cert_created(c, path);
    rc = 0;
out:
    free(tmp);
    free(path);
    return rc;
}

/* cert_meta_text - the .meta content for a friendly name */

static char *cert_meta_text(const char *friendly)
{
    return xasprintf("# domsec certificate store metadata (tls_certgen.h)\n"
                     "FriendlyName: %s\n", friendly);
}

/* cert_write_meta - NAME.meta when there is a friendly name */

static int cert_write_meta(struct domsec__cert_cmd *c, const char *base, const char *friendly)
{
    char   *name, *text;
    int     rc;

    if (friendly == NULL || friendly[0] == '\0')
        return 0;
    name = xasprintf("%s.meta", base);
    text = cert_meta_text(friendly);
    rc = cert_write(c, name, text, strlen(text), 0644);
    free(text);
    free(name);
    return rc;
}

/* ---- configuration ---------------------------------------------------------- */

/* ---- making entries ---------------------------------------------------------- */

/* cert_ensure_dir - the store directory, created if missing */

static int cert_ensure_dir(struct domsec__cert_cmd *c)
{
    struct stat st;

    if (stat(c->dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : domsec__cert_err("%s: not a directory", c->dir);
    if (errno != ENOENT || mkdir(c->dir, 0755) < 0)
        return domsec__cert_err("certificate_store %s: %s", c->dir, strerror(errno));
    if (c->chown && chown(c->dir, c->uid, c->gid) < 0)
        return domsec__cert_err("%s: %s", c->dir, strerror(errno));
    printf("created the certificate store %s\n", c->dir);
    return 0;
}

/* cert_thumbprint - the thumbprint of the first certificate of a PEM text */

static int cert_thumbprint(const struct tls_gen_buf *pem, char out[41])
{
    struct tls_gen_bundle b;
    struct tls_cert_info ci;
    const char *why;
    int     rc = -1;

    if (tls_gen_bundle_read(pem->data, pem->len, NULL, &b, &why) != TLS_GEN_OK)
        return -1;
    if (tls_cert_info_from_der(b.certs[0].data, b.certs[0].len, &ci) == 0) {
        memcpy(out, ci.thumbprint, 41);
        tls_cert_info_free(&ci);
        rc = 0;
    }
    tls_gen_bundle_free(&b);
    return rc;
}

/* cert_put_cert - T.key, T.meta, then T.pem; prints what it made */

static int cert_put_cert(struct domsec__cert_cmd *c, const char *thumb,
                         const struct tls_gen_buf *key, const char *key_from,
                         const struct tls_gen_buf *pem, const char *friendly)
{
    char   *key_name = xasprintf("%s.key", thumb), *pem_name = xasprintf("%s.pem", thumb);
    char   *key_path = xasprintf("%s/%s", c->dir, key_name);
    int     rc = 1;

    if (key_from != NULL) {             /* a pending request's key: link, never copy */
        if (link(key_from, key_path) < 0) {
            domsec__cert_err("%s: %s", key_path, errno == EEXIST ? "already exists: not replaced"
                             : strerror(errno));
            goto out;
        }
        cert_created(c, key_path);
    } else if (cert_write(c, key_name, key->data, key->len, 0600) != 0) {
        goto out;
    }
    if (cert_write_meta(c, thumb, friendly) != 0
        || cert_write(c, pem_name, pem->data, pem->len, 0644) != 0)
        goto out;
    cert_sync_dir(c);
    printf("%-11s: %s\n%-11s: %s/%s\n%-11s: %s\n", "Thumbprint", thumb, "Certificate", c->dir,
           pem_name, "Key", key_path);
    rc = 0;
out:
    free(key_path);
    free(pem_name);
    free(key_name);
    return rc;
}

/* cert_put_request - request-K.key, .meta, .csr, and --out */

static int cert_put_request(struct domsec__cert_cmd *c, const struct tls_gen_buf *key,
                            const struct tls_gen_buf *csr, const char *friendly,
                            const char *out_path)
{
    struct tls_gen_key_info ki;
    const char *why;
    char   *base, *name;
    int     rc;

    if (tls_gen_key_info(key->data, key->len, &ki, &why) != TLS_GEN_OK)
        return domsec__cert_err("the new key: %s", why);
    base = xasprintf(DOMSEC__CERT_REQ_PREFIX "%s", ki.id);
    name = xasprintf("%s.key", base);
    rc = cert_write(c, name, key->data, key->len, 0600);
    free(name);
    name = xasprintf("%s.csr", base);
    if (rc == 0)
        rc = cert_write_meta(c, base, friendly);
    if (rc == 0)
        rc = cert_write(c, name, csr->data, csr->len, 0644);
    if (rc == 0 && out_path != NULL) {
        FILE   *fp = fopen(out_path, "w");

        if (fp == NULL || fwrite(csr->data, 1, csr->len, fp) != csr->len || fclose(fp) != 0) {
            rc = domsec__cert_err("%s: %s", out_path, strerror(errno));
            if (fp != NULL)
                unlink(out_path);
        }
    } else if (rc == 0) {
        fwrite(csr->data, 1, csr->len, stdout);
    }
    if (rc == 0) {
        cert_sync_dir(c);
        fprintf(out_path ? stdout : stderr,
                "%-11s: %s\n%-11s: PendingRequest\n%-11s: %s/%s\n%-11s: %s/%s.key\n",
                "Thumbprint", ki.id, "Status", "Request", c->dir, name, "Key", c->dir, base);
        if (out_path != NULL)
            printf("wrote %s: have your CA sign it, then `domsec cert import` the "
                   "certificate\n", out_path);
    }
    free(name);
    free(base);
    return rc;
}

struct cert_opts {                      /* the options of new, request and renew */
    const char *domains[CERT_MAX_DOMAINS];
    size_t  ndomains;
    enum tls_gen_key key;
    unsigned days;
    const char *friendly, *out, *password;
    struct tls_gen_subject subject;
    bool    have_subject, json, days_set;
    bool    force;                      /* remove: even a certificate in use */
};

/* cert_new_one - a key and a self-signed certificate or a request, stored */

static int cert_new_one(struct domsec__cert_cmd *c, const struct cert_opts *o,
                        const struct tls_gen_params *p, bool request)
{
    struct tls_gen_buf key = { 0 }, out = { 0 };
    const char *why;
    char    thumb[41];
    int     rc = 1;

    if (cert_ensure_dir(c) != 0)
        return 1;
    if (tls_gen_key(o->key, &key, &why) != TLS_GEN_OK
        || (request ? tls_gen_request(p, key.data, key.len, &out, &why)
            : tls_gen_self_signed(p, key.data, key.len, &out, &why)) != TLS_GEN_OK) {
        domsec__cert_err("cert %s: %s", request ? "request" : "new", why);
        goto out;
    }
    if (request)
        rc = cert_put_request(c, &key, &out, o->friendly, o->out);
    else if (cert_thumbprint(&out, thumb) < 0)
        domsec__cert_err("cert new: the new certificate cannot be read back");
    else
        rc = cert_put_cert(c, thumb, &key, NULL, &out, o->friendly);
out:
    if (rc != 0)
        cert_undo(c);
    tls_gen_buf_free(&key);
    tls_gen_buf_free(&out);
    return rc;
}

/* cert_new - `cert new` and `cert request` */

static int cert_new(struct domsec__cert_cmd *c, const struct cert_opts *o, bool request)
{
    struct tls_gen_params p = { o->domains, o->ndomains,
                                o->have_subject ? &o->subject : NULL, NULL, 0, o->days,
                                c->now };
    const char *cn1[1];
    int     rc;

    if (request && o->ndomains == 0 && o->subject.cn[0] != '\0'
        && tls_gen_domain_ok(o->subject.cn)) {
        cn1[0] = o->subject.cn;         /* SAN = the CN when no --domain */
        p.domains = cn1;
        p.ndomains = 1;
    }
    rc = cert_new_one(c, o, &p, request);
    if (rc == 0 && !request && c->reload)
        rc = domsec_reload(c->config_path, true);
    return rc;
}

/* cert_import - a certificate completing a request, or with its key */

static int cert_import(struct domsec__cert_cmd *c, const char *file, const struct cert_opts *o)
{
    struct tls_gen_bundle b;
    struct tls_gen_buf pem = { 0 };
    struct tls_cert_info ci = { 0 };
    const struct domsec__cert_pending *req = NULL;
    const char *why, *friendly = o->friendly;
    unsigned char *data;
    size_t  len;
    int     leaf = -1, rc;
    char    id[41];

    if ((data = domsec__cert_read(file, &len)) == NULL)
        return domsec__cert_err("%s: %s", file, errno == EFBIG ? "larger than 1 MiB"
                                : strerror(errno));
    rc = tls_gen_bundle_read(data, len, o->password, &b, &why);
    domsec__cert_wipe_free(data, len);
    if (rc != TLS_GEN_OK)
        return domsec__cert_err("%s: %s; nothing imported", file, why);
    rc = 1;
    if (cert_ensure_dir(c) != 0 || domsec__cert_load(c) != 0)
        goto out;
    if (b.key.data != NULL && (leaf = tls_gen_bundle_key_cert(&b)) < 0) {
        domsec__cert_err("%s: its private key belongs to none of its %zu certificate(s); nothing "
                         "imported", file, b.ncerts);
        goto out;
    }
    for (size_t i = 0; i < b.ncerts && req == NULL; i++) {
        if ((leaf >= 0 && (size_t)leaf != i)
            || tls_gen_cert_key_id(b.certs[i].data, b.certs[i].len, id) < 0)
            continue;
        for (size_t k = 0; k < c->npend && req == NULL; k++)
            if (strcmp(c->pend[k].id, id) == 0) {
                req = &c->pend[k];
                leaf = (int)i;
            }
    }
    if (leaf < 0) {
        for (size_t i = 0; i < b.ncerts; i++) {     /* name the end-entity certificate */
            tls_cert_info_free(&ci);
            if (tls_cert_info_from_der(b.certs[i].data, b.certs[i].len, &ci) == 0 && !ci.is_ca)
                break;
        }
        domsec__cert_err("%s: no private key for certificate %s (%s): the file holds none, and "
                         "no pending request in %s has its key; import a PKCS#12 (.pfx) or PEM "
                         "file with the key, or the certificate issued for a `domsec cert "
                         "request`; nothing imported", file,
                         ci.thumbprint[0] ? ci.thumbprint : "?", ci.subject, c->dir);
        goto out;
    }
    tls_gen_bundle_order(&b, (size_t)leaf);
    if (tls_cert_info_from_der(b.certs[0].data, b.certs[0].len, &ci) < 0) {
        domsec__cert_err("%s: the certificate cannot be parsed", file);
        goto out;
    }
    for (size_t i = 0; i < tls_store_count(c->store); i++) {
        const struct tls_store_entry *e = tls_store_entry_at(c->store, i);

        if (strcmp(e->info.thumbprint, ci.thumbprint) == 0) {
            domsec__cert_err("%s: certificate %s is already in the store as %s; nothing imported",
                             file, ci.thumbprint, e->cert_path);
            goto out;
        }
    }
    if (friendly == NULL && req != NULL)
        friendly = req->friendly;
    tls_gen_bundle_pem(&b, &pem);
    if (cert_put_cert(c, ci.thumbprint, &b.key, req ? req->key_path : NULL, &pem,
                      friendly) != 0) {
        cert_undo(c);
        goto out;
    }
    if (req != NULL) {
        char   *meta = xasprintf("%s/" DOMSEC__CERT_REQ_PREFIX "%s.meta", c->dir, req->id);

        unlink(req->csr_path);
        unlink(req->key_path);
        unlink(meta);
        free(meta);
        cert_sync_dir(c);
        printf("completed the request %s (%s)\n", req->id, req->csr_path);
    }
    printf("%-11s: %s\n", "Subject", ci.subject);
    rc = c->reload ? domsec_reload(c->config_path, true) : 0;
out:
    tls_cert_info_free(&ci);
    tls_gen_buf_free(&pem);
    tls_gen_bundle_free(&b);
    return rc;
}

/* cert_renew - a new key and certificate (or request) like an entry */

static int cert_renew(struct domsec__cert_cmd *c, const char *arg, const struct cert_opts *o)
{
    struct cert_opts ro = *o;
    struct domsec__cert_found f;
    struct tls_gen_bundle b;
    struct tls_gen_params p = { NULL, 0, NULL, NULL, 0, 0, c->now };
    unsigned char *pem;
    size_t  len;
    const char *why;
    char   *friendly;
    int     rc = domsec__cert_find(c, arg, &f);

    if (rc != 0)
        return rc;
    if (f.p != NULL)
        return domsec__cert_err("%s is a pending request: import its certificate, or remove it",
                                f.p->id);
    if (f.e->info.thumbprint[0] == '\0')
        return domsec__cert_err("%s: no certificate to renew", f.e->cert_path);
    if (tls_gen_key_like(f.e->info.key_type, f.e->info.key_bits, &ro.key) < 0)
        return domsec__cert_err("%s: domsec makes no %s %d-bit key; use `domsec cert new --key`",
                                f.e->cert_path, f.e->info.key_type == TLS_KEY_RSA ? "RSA" : "such",
                                f.e->info.key_bits);
    if ((pem = domsec__cert_read(f.e->cert_path, &len)) == NULL)
        return domsec__cert_err("%s: %s", f.e->cert_path, strerror(errno));
    rc = tls_gen_bundle_read(pem, len, NULL, &b, &why);
    free(pem);
    if (rc != TLS_GEN_OK)
        return domsec__cert_err("%s: %s", f.e->cert_path, why);
    p.like = b.certs[0].data;
    p.like_len = b.certs[0].len;
    p.days = o->days_set ? o->days
        : (unsigned)((f.e->info.not_after - f.e->info.not_before) / 86400);
    if (p.days < 1)
        p.days = 1;
    friendly = domsec__cert_friendly(f.e);
    ro.friendly = o->friendly ? o->friendly : friendly;
    if (!f.e->info.self_signed)
        printf("%s is issued by a CA: a new request takes its place until the CA signs it\n",
               f.e->info.thumbprint);
    rc = cert_new_one(c, &ro, &p, !f.e->info.self_signed);
    if (rc == 0)
        printf("renewed %s; it stays in the store until `domsec cert remove %s`\n",
               f.e->info.thumbprint, f.e->info.thumbprint);
    if (rc == 0 && f.e->info.self_signed && c->reload)
        rc = domsec_reload(c->config_path, true);
    free(friendly);
    tls_gen_bundle_free(&b);
    return rc;
}

/* cert_remove - remove an entry's files; one in use only with --force */

static int cert_remove(struct domsec__cert_cmd *c, const char *arg, bool force)
{
    struct domsec__cert_found f;
    const char *paths[3];
    char   *base, *meta, *users = NULL;
    bool    pinned = false;
    int     rc = domsec__cert_find(c, arg, &f);

    if (rc != 0)
        return rc;
    if (f.e != NULL && f.e->info.thumbprint[0] != '\0')
        users = domsec__cert_users(c, f.e, &pinned);
    if (users != NULL && users[0] != '\0' && !force) {
        domsec__cert_err("certificate %s is in use by %s: not removed (use --force to remove "
                         "it anyway)", f.e->info.thumbprint, users);
        free(users);
        return 1;
    }
    base = domsec__cert_base(f.e ? f.e->cert_path : f.p->csr_path);
    meta = xasprintf("%s.meta", base);
    paths[0] = f.e ? f.e->cert_path : f.p->csr_path;   /* the .pem first: domsecd stops
                                                         * seeing the entry */
    paths[1] = f.e ? f.e->key_path : f.p->key_path;
    paths[2] = meta;
    for (int i = 0; i < 3; i++) {
        if (paths[i] == NULL)
            continue;
        if (unlink(paths[i]) == 0)
            printf("removed %s\n", paths[i]);
        else if (errno != ENOENT)
            rc = domsec__cert_err("%s: %s", paths[i], strerror(errno));
    }
    cert_sync_dir(c);
    if (users != NULL && users[0] != '\0')
        printf("note: removed while in use by %s; a connector that must use TLS "
               "(domain_secure_enabled or require_tls) without another certificate makes the "
               "reload fail (the running domsecd keeps this certificate in memory) and the "
               "next start refused; %s\n", users,
               pinned ? "a connector whose tls_certificate names it has no certificate until "
               "that setting is changed" : "any other connector chooses another certificate or "
               "offers no STARTTLS");
    if (rc == 0 && f.e != NULL && c->reload)
        rc = domsec_reload(c->config_path, true);
    free(users);
    free(meta);
    free(base);
    return rc;
}

/* ---- options ------------------------------------------------------------------ */

/* cert_parse - the options of subcommand sub; positional argument into *arg */

static void cert_parse(const char *sub, int argc, char **argv, struct cert_opts *o,
                       const char **arg, bool *reload)
{
    enum { O_DOMAIN = 256, O_KEY, O_DAYS, O_NAME, O_SUBJECT, O_OUT, O_PASSWORD, O_JSON,
           O_NO_RELOAD, O_FORCE };
    static const struct option opts[] = {
        { "domain", required_argument, NULL, O_DOMAIN },
        { "key", required_argument, NULL, O_KEY },
        { "days", required_argument, NULL, O_DAYS },
        { "name", required_argument, NULL, O_NAME },
        { "subject", required_argument, NULL, O_SUBJECT },
        { "out", required_argument, NULL, O_OUT },
        { "password", required_argument, NULL, O_PASSWORD },
        { "json", no_argument, NULL, O_JSON },
        { "no-reload", no_argument, NULL, O_NO_RELOAD },
        { "force", no_argument, NULL, O_FORCE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* which options each subcommand takes */
    static const struct {
        const char *sub;
        const char *takes;              /* letters: d k D n s o p j r f = option,
                                         * a = argument */
    } allowed[] = {
        { "new", "dkDnsr" }, { "request", "dknso" }, { "import", "npra" }, { "list", "" },
        { "show", "ja" }, { "renew", "Dora" }, { "remove", "rfa" },
    };
    const char *takes = NULL, *what;
    const char *why;
    int     ch;

    memset(o, 0, sizeof(*o));
    o->key = TLS_GEN_RSA2048;
    o->days = 1825;
    *arg = NULL;
    *reload = true;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (strcmp(sub, allowed[i].sub) == 0)
            takes = allowed[i].takes;
    if (takes == NULL) {
        fprintf(stderr, "domsec: cert: unknown subcommand %s\n", sub);
        cert_usage(NULL, 2);
    }
    optind = 0;                         /* glibc: restart for this argv */
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        static const char letters[] = "dkDnsopjrf";

        if (ch == 'h')
            cert_usage(sub, 0);
        if (ch < O_DOMAIN || ch > O_FORCE)
            cert_usage(sub, 2);
        what = opts[ch - O_DOMAIN].name;
        if (strchr(takes, letters[ch - O_DOMAIN]) == NULL)
            cert_bad(sub, "--%s is not an option of cert %s", what, sub);
        switch (ch) {
        case O_DOMAIN:
            if (!tls_gen_domain_ok(optarg))
                cert_bad(sub, "--domain %s is not a DNS name", optarg);
            if (o->ndomains == CERT_MAX_DOMAINS)
                cert_bad(sub, "more than %d domains", CERT_MAX_DOMAINS);
            for (size_t i = 0; i < o->ndomains; i++)
                if (strcasecmp(o->domains[i], optarg) == 0)
                    cert_bad(sub, "--domain %s given twice", optarg);
            o->domains[o->ndomains++] = optarg;
            break;
        case O_KEY:
            if (tls_gen_key_parse(optarg, &o->key) < 0)
                cert_bad(sub, "unknown key type %s (rsa2048, rsa4096 or ec256)", optarg);
            break;
        case O_DAYS: {
            char   *end;
            long    d;

            errno = 0;
            d = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || d < 1 || d > 36500)
                cert_bad(sub, "--days %s: a number of days from 1 to 36500", optarg);
            o->days = (unsigned)d;
            o->days_set = true;
            break;
        }
        case O_NAME:
            for (const char *s = optarg; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                    cert_bad(sub, "--name: control characters are not allowed");
            if (strlen(optarg) > 256)
                cert_bad(sub, "--name: at most 256 bytes");
            o->friendly = optarg;
            break;
        case O_SUBJECT:
            if (tls_gen_subject_parse(optarg, &o->subject, &why) < 0)
                cert_bad(sub, "--subject \"%s\": %s", optarg, why);
            o->have_subject = true;
            break;
        case O_OUT: o->out = optarg; break;
        case O_PASSWORD: o->password = optarg; break;
        case O_JSON: o->json = true; break;
        case O_NO_RELOAD: *reload = false; break;
        case O_FORCE: o->force = true; break;
        }
    }
    if (strchr(takes, 'a') != NULL) {
        if (optind >= argc)
            cert_bad(sub, "missing %s", strcmp(sub, "import") == 0 ? "FILE" : "THUMBPRINT");
        *arg = argv[optind++];
        if (strcmp(sub, "import") != 0
            && (strlen(*arg) < 8 || strlen(*arg) > 40 || strspn(*arg, "0123456789abcdefABCDEF")
                != strlen(*arg)))
            cert_bad(sub, "\"%s\" is not a thumbprint (8 to 40 hex digits)", *arg);
    }
    if (optind < argc)
        cert_bad(sub, "unexpected argument %s", argv[optind]);
    if (strcmp(sub, "new") == 0 && o->ndomains == 0)
        cert_bad(sub, "at least one --domain is required");
    if (strcmp(sub, "request") == 0 && o->ndomains == 0 && !o->have_subject)
        cert_bad(sub, "--subject or --domain is required");
    if (o->have_subject && o->ndomains == 0 && o->subject.cn[0] == '\0'
        && strcmp(sub, "request") == 0)
        cert_bad(sub, "--subject without CN needs --domain");
}

/* domsec_cert_main - `domsec cert SUBCOMMAND ...` */

int domsec_cert_main(const char *config_path, int argc, char **argv)
{
    struct domsec__cert_cmd c = { 0 };
    struct cert_opts o;
    const char *sub, *arg;
    int     rc;

    if (argc < 2)
        cert_usage(NULL, 2);
    sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        cert_usage(NULL, 0);
    cert_parse(sub, argc - 1, argv + 1, &o, &arg, &c.reload);
    if (domsec__cert_open(&c, config_path) != 0)
        return 1;
    if (strcmp(sub, "new") == 0 || strcmp(sub, "request") == 0) {
        rc = cert_new(&c, &o, strcmp(sub, "request") == 0);
    } else if (strcmp(sub, "import") != 0 && access(c.dir, F_OK) != 0 && errno == ENOENT) {
        rc = strcmp(sub, "list") == 0 ? (printf("the certificate store %s does not exist "
                                                "yet\n", c.dir), 0)
            : domsec__cert_err("no certificate or request %s: the store %s does not exist", arg,
                               c.dir);
    } else if (strcmp(sub, "import") == 0) {
        rc = cert_import(&c, arg, &o);  /* reads FILE before it creates or loads the store */
    } else if ((rc = domsec__cert_load(&c)) != 0) {
        ;
    } else if (strcmp(sub, "list") == 0) {
        rc = domsec__cert_list(&c);
    } else if (strcmp(sub, "show") == 0) {
        rc = domsec__cert_show(&c, arg, o.json);
    } else if (strcmp(sub, "renew") == 0) {
        rc = cert_renew(&c, arg, &o);
    } else {
        rc = cert_remove(&c, arg, o.force);
    }
    domsec__cert_close(&c);
    return rc;
}
