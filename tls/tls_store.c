/*
 * tls_store.c - the certificate store directory and the choice of the
 * certificate a connector presents (SPEC 6.1, 6.2; Exchange 8.3).
 *
 * CONTRACT
 *  tls_store_load() reads the whole directory synchronously (at start and
 *  at reload, never on a loop's hot path) and returns an immutable store
 *  owned by the caller; tls_store_free() releases it with every entry,
 *  path and name in it.  Entries, and the result of tls_store_select(),
 *  point into the store and live as long as it does.  Load returns NULL
 *  with *why only if the directory cannot be read: a bad file becomes an
 *  entry with a problem, and a warning in the log.  Why texts live in a
 *  per-thread buffer until the next call in that thread.  A loaded store
 *  is read-only, so any number of threads may select from it at once.
 *  There are no callbacks and nothing to cancel.
 *
 *  Dates: `now` decides whether the leaf (and each chain certificate of its
 *  .pem) is within its validity period.  wolfSSL checks the leaf's dates
 *  against the real clock inside CertManagerVerifyBuffer; the verify
 *  callback forgives exactly those date errors.  The anchors of
 *  trusted_ca_file are date-checked by wolfSSL when loaded (real clock).
 *
 *  Chain certificates in a .pem are added to the verifier only once they
 *  themselves verify up to trusted_ca_file, so a .pem cannot bring its own
 *  trust anchor.
 *
 *  wolfSSL 5.5.4: CTX_check_private_key() does not compare an EC private
 *  key with the certificate (it accepts any valid key on the curve), so EC
 *  keys get a pairwise check here: the public point is derived from the
 *  private scalar and compared with the certificate's.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "log_util.h"
#include "tls_internal.h"
#include "tls_store.h"

struct store_entry {
    struct tls_store_entry pub;         /* pub.problem points at problem */
    char   *problem;                    /* owned, or NULL */
    bool    usable;                     /* no problem but the dates */
    bool    chain_ok;                   /* not self-signed, chains to trusted_ca_file */
};

struct tls_store {
    struct store_entry *v;              /* owned, in file name order */
    size_t  n;
};

enum key_match {
    KEY_MATCH,
    KEY_UNLOADABLE,
    KEY_MISMATCH,
};

static __thread char store_why[768];

/* store_in_period - whether now is within [not_before, not_after] */

static bool store_in_period(const struct tls_cert_info *ci, int64_t now)
{
    return now >= ci->not_before && now <= ci->not_after;
}

/* store_verify_cb - forgive wolfSSL's real-clock date errors, nothing else */

static int store_verify_cb(int ok, WOLFSSL_X509_STORE_CTX *st)
{
    if (ok)
        return 1;
    switch (wolfSSL_X509_STORE_CTX_get_error(st)) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:    /* 5.5.4 maps ASN_BEFORE_DATE_E here */
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:     /* and ASN_AFTER_DATE_E here */
    case ASN_BEFORE_DATE_E:
    case ASN_AFTER_DATE_E:
        return 1;                       /* the caller judges dates against `now` */
    default:
        return 0;
    }
}

/* store_chain_ok - whether the leaf chains to ca_file through the chain certs */

static bool store_chain_ok(const struct tls__der *d, size_t n, const char *ca_file, int64_t now)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    bool   *added = xcalloc(n, sizeof(*added)), progress = true, ok = false;

    if (cm == NULL || wolfSSL_CertManagerLoadCA(cm, ca_file, NULL) != WOLFSSL_SUCCESS)
        goto out;
    wolfSSL_CertManagerSetVerify(cm, store_verify_cb);
    while (progress) {                  /* the chain certs may come in any order */
        progress = false;
        for (size_t i = 1; i < n; i++) {
            struct tls_cert_info ci;
            bool    fit;

            if (added[i] || tls_cert_info_from_der(d[i].der, d[i].len, &ci) < 0)
                continue;
            fit = ci.is_ca && store_in_period(&ci, now);
            tls_cert_info_free(&ci);
            if (fit
                && wolfSSL_CertManagerVerifyBuffer(cm, d[i].der, (long)d[i].len,
                                                   WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS
                && wolfSSL_CertManagerLoadCABuffer(cm, d[i].der, (long)d[i].len,
                                                   WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
                added[i] = progress = true;
        }
    }
    ok = wolfSSL_CertManagerVerifyBuffer(cm, d[0].der, (long)d[0].len,
                                         WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
out:
    if (cm != NULL)
        wolfSSL_CertManagerFree(cm);
    free(added);
    return ok;
}

/* store_ec_pair - whether the EC private key's public point is the leaf's */

static bool store_ec_pair(const struct tls__der *leaf, const unsigned char *key, size_t key_len)
{
    unsigned char *der = xmalloc(key_len), spki[512];
    int     der_len, spki_len = (int)sizeof(spki);
    word32  idx = 0, pidx = 0;
    ecc_key priv, pub;
    ecc_point *point = wc_ecc_new_point();
    WOLFSSL_X509 *x = wolfSSL_X509_d2i(NULL, leaf->der, (int)leaf->len);
    WC_RNG  rng;
    bool    same = false, have_rng = wc_InitRng(&rng) == 0;

    wc_ecc_init(&priv);
    wc_ecc_init(&pub);
    der_len = wc_KeyPemToDer(key, (int)key_len, der, (int)key_len, NULL);
    if (der_len > 0 && wc_GetPkcs8TraditionalOffset(der, &idx, (word32)der_len) < 0)
        idx = 0;                        /* SEC1 "EC PRIVATE KEY", not PKCS#8 */
    if (der_len > 0 && point != NULL && x != NULL && have_rng
        && wc_EccPrivateKeyDecode(der, &idx, &priv, (word32)der_len) == 0
        && wc_ecc_make_pub_ex(&priv, point, &rng) == 0
        && wolfSSL_X509_get_pubkey_buffer(x, spki, &spki_len) == WOLFSSL_SUCCESS
        && wc_EccPublicKeyDecode(spki, &pidx, &pub, (word32)spki_len) == 0)
        same = wc_ecc_cmp_point(point, &pub.pubkey) == MP_EQ;
    wc_ecc_free(&priv);
    wc_ecc_free(&pub);
    if (point != NULL)
        wc_ecc_del_point(point);
    if (x != NULL)
        wolfSSL_X509_free(x);
    if (have_rng)
        wc_FreeRng(&rng);
    explicit_bzero(der, key_len);
    free(der);
    return same;
}

/* store_key_match - load certificate and key into a scratch CTX and compare */

static enum key_match store_key_match(const unsigned char *pem, size_t pem_len,
                                      const struct tls__der *leaf, int key_type,
                                      const unsigned char *key, size_t key_len)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    enum key_match m = KEY_UNLOADABLE;

    if (ctx == NULL)
        return KEY_UNLOADABLE;
    if (wolfSSL_CTX_use_certificate_chain_buffer(ctx, pem, (long)pem_len) == WOLFSSL_SUCCESS
        && wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, (long)key_len,
                                             WOLFSSL_FILETYPE_PEM) == WOLFSSL_SUCCESS) {
        m = wolfSSL_CTX_check_private_key(ctx) == WOLFSSL_SUCCESS ? KEY_MATCH : KEY_MISMATCH;
        if (m == KEY_MATCH && key_type == TLS_KEY_EC && !store_ec_pair(leaf, key, key_len))
            m = KEY_MISMATCH;
    }
    wolfSSL_CTX_free(ctx);
    return m;
}

/* store_check_key - the NAME.key checks; a problem text (owned) or NULL */

static char *store_check_key(struct store_entry *e, const unsigned char *pem, size_t pem_len,
                             const struct tls__der *leaf)
{
    unsigned char *key;
    size_t  key_len;
    unsigned mode;
    enum key_match m;

    if (e->pub.key_path == NULL)
        return xstrdup("no private key");
    if (log_read_file(e->pub.key_path, TLS__FILE_MAX, &key, &key_len, &mode) < 0)
        return xasprintf("private key unreadable: %s", strerror(errno));
    if (mode & 077) {
        explicit_bzero(key, key_len);
        free(key);
        return xasprintf("private key readable by others (mode %04o)", mode);
    }
    m = store_key_match(pem, pem_len, leaf, e->pub.info.key_type, key, key_len);
    explicit_bzero(key, key_len);
    free(key);
    switch (m) {
    case KEY_MATCH:
        e->pub.key_ok = true;
        return NULL;
    case KEY_MISMATCH:
        return xstrdup("private key does not match the certificate");
    default:
        return xstrdup("private key cannot be loaded (encrypted or not PEM?)");
    }
}

/* store_check_cert - what makes the certificate itself unusable, or NULL */

static char *store_check_cert(const struct tls_cert_info *ci)
{
    if (ci->eku_present && !ci->eku_server)
        return xstrdup("EKU without serverAuth");
    if (ci->key_type == TLS_KEY_RSA && ci->key_bits < 2048)
        return xstrdup("RSA key below 2048 bits");
    if (ci->key_type == TLS_KEY_EC && ci->key_bits < 256)
        return xstrdup("EC key below 256 bits");
    if (ci->key_type == TLS_KEY_OTHER)
        return xstrdup("key is neither RSA nor EC");
    return NULL;
}

/* store_load_entry - read one NAME.pem (and NAME.key) into e */

static void store_load_entry(struct store_entry *e, const char *dir, const char *name,
                             const char *ca_file, int64_t now)
{
    size_t  base = strlen(name) - strlen(".pem"), pem_len = 0, n = 0;
    unsigned char *pem = NULL;
    struct tls__der *d = NULL;
    struct stat st;
    char   *problem = NULL;

    e->pub.cert_path = xasprintf("%s/%s", dir, name);
    e->pub.key_path = xasprintf("%s/%.*s.key", dir, (int)base, name);
    if (stat(e->pub.key_path, &st) < 0 && errno == ENOENT) {
        free(e->pub.key_path);
        e->pub.key_path = NULL;
    }
    if (log_read_file(e->pub.cert_path, TLS__FILE_MAX, &pem, &pem_len, NULL) < 0)
        problem = xasprintf("cannot read the file: %s", errno == EINVAL
                            ? "not a regular file" : strerror(errno));
    else if ((n = tls__pem_certs(pem, pem_len, &d)) == 0)
        problem = xstrdup("no certificate in the file");
    else if (tls_cert_info_from_der(d[0].der, d[0].len, &e->pub.info) < 0)
        problem = xstrdup("the certificate cannot be parsed");

    if (problem == NULL) {
        const struct tls_cert_info *ci = &e->pub.info;
        char   *cert_problem = store_check_cert(ci);

        problem = store_check_key(e, pem, pem_len, &d[0]);
        if (problem == NULL)
            problem = cert_problem;
        else
            free(cert_problem);
        e->usable = problem == NULL;
        e->chain_ok = ca_file != NULL && !ci->self_signed
            && store_chain_ok(d, n, ca_file, now);
        e->pub.ca_chained = e->chain_ok;
        e->pub.ca_issued_valid = e->chain_ok && store_in_period(ci, now);
        if (problem == NULL && now > ci->not_after)
            problem = xstrdup("expired");
        else if (problem == NULL && now < ci->not_before)
            problem = xstrdup("not yet valid");
    }
    if (problem != NULL)
        log_warnx("tls", 0, "certificate problem file=%s thumbprint=%s reason=\"%s\"",
                  e->pub.cert_path, e->pub.info.thumbprint[0] ? e->pub.info.thumbprint : "-",
                  problem);
    e->problem = problem;
    e->pub.problem = problem;
    tls__der_free(d, n);
    free(pem);
}

/* store_pem_name - scandir filter: NAME.pem, not hidden */

static int store_pem_name(const struct dirent *d)
{
    size_t  len = strlen(d->d_name);

    return d->d_name[0] != '.' && len > 4 && strcmp(d->d_name + len - 4, ".pem") == 0;
}

/* store_ca_loads - whether trusted_ca_file gives wolfSSL at least one CA */

static bool store_ca_loads(const char *ca_file)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    bool    ok = cm != NULL && log_file_check(ca_file, TLS__FILE_MAX) == 0  /* no FIFO */
        && wolfSSL_CertManagerLoadCA(cm, ca_file, NULL) == WOLFSSL_SUCCESS;

    if (cm != NULL)
        wolfSSL_CertManagerFree(cm);
    return ok;
}

/* tls_store_load - read every certificate of the store directory */

struct tls_store *tls_store_load(const char *dir, const char *trusted_ca_file, int64_t now,
                                 const char **why)
{
    struct dirent **list;
    struct tls_store *s;
    int     n;

    if ((n = scandir(dir, &list, store_pem_name, alphasort)) < 0) {
        snprintf(store_why, sizeof(store_why), "cannot read the certificate store %s: %s",
                 dir, strerror(errno));
        *why = store_why;
        return NULL;
    }
    wolfSSL_Init();
    if (trusted_ca_file != NULL && !store_ca_loads(trusted_ca_file)) {
        log_warnx("tls", 0, "no trusted CA loaded file=%s: no certificate is CA-issued",
                  trusted_ca_file);
        trusted_ca_file = NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->v = xcalloc((size_t)n, sizeof(*s->v));
    for (int i = 0; i < n; i++) {
        store_load_entry(&s->v[s->n++], dir, list[i]->d_name, trusted_ca_file, now);
        free(list[i]);
    }
    free(list);
    wolfSSL_Cleanup();
    return s;
}

/* tls_store_free - release the store and everything in it */

void tls_store_free(struct tls_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].pub.cert_path);
        free(s->v[i].pub.key_path);
        tls_cert_info_free(&s->v[i].pub.info);
        free(s->v[i].problem);
    }
    free(s->v);
    free(s);
}

/* tls_store_count - number of entries */

size_t tls_store_count(const struct tls_store *s)
{
    return s->n;
}

/* tls_store_entry_at - entry i, or NULL past the end */

const struct tls_store_entry *tls_store_entry_at(const struct tls_store *s, size_t i)
{
    return i < s->n ? &s->v[i].pub : NULL;
}

/* store_wild_match - "*.x" covers any name below x, at any depth */

static bool store_wild_match(const char *name, const char *fqdn)
{
    size_t  nl = strlen(name), fl = strlen(fqdn);

    if (nl < 3 || name[0] != '*' || name[1] != '.')
        return false;
    return fl > nl - 1 && strcasecmp(fqdn + fl - (nl - 1), name + 1) == 0;
}

/* store_names - whether e names fqdn: exactly (wild false) or by a wildcard */

static bool store_names(const struct store_entry *e, const char *fqdn, bool wild)
{
    for (size_t i = 0; i < e->pub.info.nnames; i++) {
        const char *name = e->pub.info.names[i];

        if (wild ? store_wild_match(name, fqdn) : strcasecmp(name, fqdn) == 0)
            return true;
    }
    return false;
}

/* store_rank - 2: CA-issued and in period; 1: in period; 0: out of period */

static int store_rank(const struct store_entry *e, int64_t now)
{
    if (!store_in_period(&e->pub.info, now))
        return 0;
    return e->chain_ok ? 2 : 1;
}

/* store_unusable - *why for an entry that is not usable */

static void store_unusable(const struct store_entry *e, const char **why)
{
    snprintf(store_why, sizeof(store_why), "certificate %s is not usable: %s",
             e->pub.info.thumbprint, e->problem);
    *why = store_why;
}

/* store_pick - the best usable entry naming fqdn (exact or wildcard), or NULL */

static const struct store_entry *store_pick(const struct tls_store *s, const char *fqdn,
                                            bool wild, int64_t now)
{
    const struct store_entry *best = NULL;

    for (size_t i = 0; i < s->n; i++) {
        const struct store_entry *e = &s->v[i];

        if (!e->usable || !store_names(e, fqdn, wild))
            continue;
        if (best == NULL || store_rank(e, now) > store_rank(best, now)
            || (store_rank(e, now) == store_rank(best, now)
                && e->pub.info.not_before > best->pub.info.not_before))
            best = e;
    }
    return best;
}

/* tls_store_select - the certificate for a connector (SPEC 6.2) */

const struct tls_store_entry *tls_store_select(const struct tls_store *s, const char *fqdn,
                                               const char *pinned, int64_t now,
                                               const char **why)
{
    const struct store_entry *e;
    char    name[256];
    size_t  len;

    if (pinned != NULL) {
        for (size_t i = 0; i < s->n; i++) {
            e = &s->v[i];
            if (e->pub.info.thumbprint[0] == '\0'
                || strcasecmp(e->pub.info.thumbprint, pinned) != 0)
                continue;
            if (e->usable)
                return &e->pub;
            store_unusable(e, why);
            return NULL;
        }
        snprintf(store_why, sizeof(store_why),
                 "the pinned certificate %s is not in the store", pinned);
        *why = store_why;
        return NULL;
    }
    len = fqdn != NULL ? strlen(fqdn) : 0;
    if (len > 0 && fqdn[len - 1] == '.')
        len--;                          /* "mail.contoso.com." */
    if (len == 0 || len >= sizeof(name)) {
        snprintf(store_why, sizeof(store_why), "no valid name to choose a certificate for");
        *why = store_why;
        return NULL;
    }
    memcpy(name, fqdn, len);
    name[len] = '\0';

    if ((e = store_pick(s, name, false, now)) != NULL || (e = store_pick(s, name, true, now)))
        return &e->pub;
    for (int wild = 0; wild <= 1; wild++)
        for (size_t i = 0; i < s->n; i++)
            if (store_names(&s->v[i], name, wild)) {
                store_unusable(&s->v[i], why);
                return NULL;
            }
    snprintf(store_why, sizeof(store_why), "no certificate in the store names %s", name);
    *why = store_why;
    return NULL;
}
