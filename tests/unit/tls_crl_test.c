/*
 * tls_crl_test.c - CRL sets (SPEC 6.3): loading PEM and DER by content, a
 * directory with junk in it, the listing against openssl's reading of the
 * same CRLs, and the verdict on the test PKI's chains: good, a revoked
 * leaf, a revoked intermediate, and every way a CRL can fail to count
 * (missing, stale, stale later, signed by another key, impostor issuer in
 * the chain) with the miss hook told the distribution point.  Checks from
 * four threads on one set agree with a single-threaded run.
 *
 * The group setup builds tests/pki/make-pki.sh's PKI in a mkdtemp()
 * directory (removed at the end), with CRL_PORT 18123.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "log_util.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_internal.h"
#include "tls_pki_test_util.h"

#define DAY 86400
#define CDP "http://127.0.0.1:18123/"

static int64_t now;

/* first_line - the first output line of a command (newline removed) */

static void first_line(char *out, size_t sz, const char *cmd)
{
    FILE   *p = popen(cmd, "r");

    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, (int)sz, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static int setup_pki(void **state)
{
    if (pki_build("tls_crl_test") != 0)
        return -1;
    now = (int64_t)time(NULL);
    return 0;
}

static int teardown_pki(void **state)
{
    return pki_remove();
}

/* ---- chains and sets ---------------------------------------------- */

struct chain {
    struct tls__der *der;
    size_t  n;
    struct tls_crl_cert c[8];
};

/* chain_load - the certificates of PEM files, in order */

static void chain_load(struct chain *ch, const char *first, const char *second)
{
    const char *files[2] = {first, second};

    memset(ch, 0, sizeof(*ch));
    for (int f = 0; f < 2 && files[f] != NULL; f++) {
        unsigned char *pem;
        size_t  len, n;
        struct tls__der *d;

        assert_int_equal(log_read_file(path(files[f]), TLS__FILE_MAX, &pem, &len, NULL), 0);
        n = tls__pem_certs(pem, len, &d);
        free(pem);
        assert_true(n > 0);
        ch->der = realloc(ch->der, (ch->n + n) * sizeof(*ch->der));
        memcpy(ch->der + ch->n, d, n * sizeof(*d));
        free(d);
        ch->n += n;
    }
    for (size_t i = 0; i < ch->n; i++)
        ch->c[i] = (struct tls_crl_cert){ch->der[i].der, ch->der[i].len};
}

static void chain_free(struct chain *ch)
{
    tls__der_free(ch->der, ch->n);
}

/* mkset - trusted-ca.pem as anchor, inter.pem as known issuer, and CRL files */

static struct tls_crl_set *mkset(bool with_inter, const char *crl, ...)
{
    struct tls_crl_set *s = tls_crl_set_new();
    const char *why = NULL;
    va_list ap;

    assert_int_equal(tls_crl_set_add_issuers_file(s, path("trusted-ca.pem"), true, &why), 0);
    if (with_inter)
        assert_int_equal(tls_crl_set_add_issuers_file(s, path("inter.pem"), false, &why), 0);
    va_start(ap, crl);
    for (; crl != NULL; crl = va_arg(ap, const char *))
        assert_int_equal(tls_crl_set_add_file(s, path(crl), &why), 0);
    va_end(ap);
    return s;
}

/* misses - what the miss hook heard */

static char missed[8][256];
static atomic_int nmissed;

static void on_miss(const char *url, void *arg)
{
    int     i = atomic_fetch_add(&nmissed, 1);

    assert_ptr_equal(arg, &nmissed);
    if (i < 8)
        snprintf(missed[i], sizeof(missed[i]), "%s", url);
}

/* check - the verdict on a .pem file's chain (leaf + its issuer) at t */

static struct tls_crl_result check(struct tls_crl_set *s, const char *pem, int64_t t)
{
    struct chain ch;
    struct tls_crl_result r;

    chain_load(&ch, pem, NULL);
    atomic_store(&nmissed, 0);
    memset(missed, 0, sizeof(missed));
    tls_crl_check(s, ch.c, ch.n, t, &r);
    chain_free(&ch);
    print_message("%s: verdict %d depth %d reason \"%s\"\n", pem, r.verdict, r.depth, r.reason);
    return r;
}

/* info_of - the listing entry whose source ends with file */

static struct tls_crl_info info_of(struct tls_crl_set *s, const char *file, int64_t t)
{
    struct tls_crl_info info;

    for (size_t i = 0; i < tls_crl_set_count(s); i++) {
        tls_crl_set_info(s, i, t, &info);
        if (strcmp(info.source, path(file)) == 0)
            return info;
    }
    fail_msg("no CRL from %s", file);
    return info;
}

/* ---- loading -------------------------------------------------------- */

static void test_load_pem_and_der(void **state)
{
    struct tls_crl_set *s = tls_crl_set_new();
    struct tls_crl_info a, b;
    const char *why = NULL;

    /* inter.crl is PEM despite its name; .der is the same CRL */
    assert_int_equal(tls_crl_set_add_file(s, path("inter.crl"), &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("inter.crl.der"), &why), 0);
    assert_int_equal(tls_crl_set_count(s), 2);
    tls_crl_set_info(s, 0, now, &a);
    tls_crl_set_info(s, 1, now, &b);
    assert_string_equal(a.issuer, b.issuer);
    assert_true(a.this_update == b.this_update && a.next_update == b.next_update);
    assert_int_equal(a.entries, 1);
    assert_int_equal(b.entries, 1);
    assert_string_equal(a.number, "2");
    assert_string_equal(a.status, "IssuerUnknown");     /* no issuers in this set */

    /* several PEM blocks in one file */
    assert_int_equal(sh("cat %s %s > %s", path("inter.crl"), path("root.crl"),
                        path("two.pem")), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("two.pem"), &why), 0);
    assert_int_equal(tls_crl_set_count(s), 4);

    /* not CRLs: text, a certificate (PEM and DER), a missing file */
    assert_int_equal(sh("echo hello > %s", path("junk.txt")), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("junk.txt"), &why), -1);
    assert_non_null(strstr(why, "neither a PEM nor a DER CRL"));
    assert_int_equal(tls_crl_set_add_file(s, path("partner-ok.pem"), &why), -1);
    assert_int_equal(sh("openssl x509 -in %s -outform DER -out %s", path("partner-ok.pem"),
                        path("partner-ok.der")), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("partner-ok.der"), &why), -1);
    assert_non_null(strstr(why, "not a DER CRL"));
    assert_int_equal(tls_crl_set_add_file(s, path("nonexistent.crl"), &why), -1);
    assert_non_null(strstr(why, "cannot read"));
    assert_int_equal(tls_crl_set_count(s), 4);

    /* from a buffer, with the URL it came from */
    {
        unsigned char *d;
        size_t  len;

        assert_int_equal(log_read_file(path("www/inter.crl"), TLS__FILE_MAX, &d, &len, NULL), 0);
        assert_int_equal(tls_crl_set_add(s, d, len, "cache/x", CDP "inter.crl", &why), 0);
        assert_int_equal(tls_crl_set_add(s, d, 10, "cache/y", NULL, &why), -1);  /* truncated */
        free(d);
        tls_crl_set_info(s, 4, now, &a);
        assert_string_equal(a.source, "cache/x");
        assert_string_equal(a.url, CDP "inter.crl");
        assert_null(b.url);
    }
    tls_crl_set_unref(s);
}

static void test_add_dir(void **state)
{
    struct tls_crl_set *s = tls_crl_set_new();
    char    log[4096], d[300], want[600];
    const char *why = NULL;
    FILE   *f = tmpfile();
    int     saved = dup(2), n;
    size_t  len;

    snprintf(d, sizeof(d), "%s/crldir", tmp);
    assert_int_equal(sh("mkdir %s %s/sub && cp %s %s/b-inter.crl && cp %s %s/a-root.der && "
                        "echo hello > %s/README && echo junk > %s/.hidden && cp %s %s/sub/",
                        d, d, path("inter.crl"), d, path("root.crl.der"), d, d, d,
                        path("inter2.crl"), d), 0);
    assert_true(f != NULL && saved >= 0 && dup2(fileno(f), 2) == 2);
    log_set_level(LOG_WARN);
    n = tls_crl_set_add_dir(s, d, &why);
    log_set_level(LOG_ERROR);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    len = fread(log, 1, sizeof(log) - 1, f);
    log[len] = '\0';
    fclose(f);

    assert_int_equal(n, 2);             /* the two CRLs; not .hidden, not sub/ */
    snprintf(want, sizeof(want), "warning tls crl file skipped file=%s/README "
             "reason=\"neither a PEM nor a DER CRL\"\n", d);
    assert_non_null(strstr(log, want));
    assert_null(strstr(log, ".hidden"));
    assert_null(strstr(log, "sub"));
    assert_int_equal(tls_crl_set_count(s), 2);
    {                                   /* name order: a-root.der first */
        struct tls_crl_info info;

        tls_crl_set_info(s, 0, now, &info);
        snprintf(want, sizeof(want), "%s/a-root.der", d);
        assert_string_equal(info.source, want);
        assert_non_null(strstr(info.issuer, "Root CA"));
    }

    snprintf(want, sizeof(want), "%s/nonexistent", tmp);
    assert_int_equal(tls_crl_set_add_dir(s, want, &why), 0);    /* missing: no CRLs */
    assert_int_equal(tls_crl_set_add_dir(s, path("inter.crl"), &why), -1);  /* not a dir */
    assert_non_null(strstr(why, "cannot read"));
    tls_crl_set_unref(s);
}

/* osl_time - openssl's "lastUpdate=Nov 22 12:33:41 2026 GMT" as unix seconds */

static int64_t osl_time(const char *crl, const char *what)
{
    char    cmd[512], line[256];
    struct tm tm = {0};
    const char *eq;

    snprintf(cmd, sizeof(cmd), "openssl crl -in %s -noout -%s", path(crl), what);
    first_line(line, sizeof(line), cmd);
    assert_non_null(eq = strchr(line, '='));
    assert_non_null(strptime(eq + 1, "%b %d %H:%M:%S %Y GMT", &tm));
    return (int64_t)timegm(&tm);
}

static void test_info_fields(void **state)
{
    struct tls_crl_set *s = mkset(true, "inter.crl", "root.crl", "inter2.crl",
                                  "inter-stale.crl", "inter-wrongkey.crl", NULL);
    const char *files[] = {"inter.crl", "root.crl", "inter2.crl", "inter-stale.crl",
                           "inter-wrongkey.crl"};
    const char *status[] = {"Current", "Current", "IssuerUnknown", "Stale", "BadSignature"};

    assert_int_equal(tls_crl_set_count(s), 5);
    for (size_t i = 0; i < 5; i++) {
        struct tls_crl_info info;
        char    cmd[512], line[512], want[512];
        size_t  o = 0;
        int     entries;

        tls_crl_set_info(s, i, now, &info);
        print_message("%s: %s %s\n", files[i], info.issuer, info.status);
        assert_string_equal(info.source, path(files[i]));
        assert_null(info.url);
        assert_string_equal(info.status, status[i]);
        /* openssl's RFC 2253 "CN=a,O=b" in wolfSSL's "CN=a, O=b" spelling */
        snprintf(cmd, sizeof(cmd), "openssl crl -in %s -noout -issuer -nameopt RFC2253",
                 path(files[i]));
        first_line(line, sizeof(line), cmd);
        for (const char *p = line + strlen("issuer="); *p && o + 2 < sizeof(want); p++) {
            want[o++] = *p;
            if (*p == ',' && p[-1] != '\\')
                want[o++] = ' ';
        }
        want[o] = '\0';
        assert_string_equal(info.issuer, want);
        assert_int_equal(info.this_update, osl_time(files[i], "lastupdate"));
        assert_int_equal(info.next_update, osl_time(files[i], "nextupdate"));
        snprintf(cmd, sizeof(cmd), "openssl crl -in %s -noout -text | grep -c 'Serial Number:'",
                 path(files[i]));
        first_line(line, sizeof(line), cmd);
        entries = atoi(line);
        assert_int_equal(info.entries, (size_t)entries);
        snprintf(cmd, sizeof(cmd), "openssl crl -in %s -noout -crlnumber", path(files[i]));
        first_line(line, sizeof(line), cmd);        /* crlNumber=0x02 */
        snprintf(want, sizeof(want), "%ld", strtol(strchr(line, '=') + 1, NULL, 16));
        assert_string_equal(info.number, want);
    }
    /* inter.crl itself goes stale after its nextUpdate */
    assert_string_equal(info_of(s, "inter.crl", now + 31 * DAY).status, "Stale");
    tls_crl_set_unref(s);
}

/* ---- verdicts ------------------------------------------------------- */

static void test_good(void **state)
{
    struct tls_crl_set *s = mkset(false, "inter.crl", "root.crl", NULL);
    struct tls_crl_result r;

    tls_crl_set_miss_hook(on_miss, &nmissed);
    r = check(s, "partner-ok.pem", now);
    assert_int_equal(r.verdict, TLS_REV_GOOD);
    assert_int_equal(r.depth, -1);
    assert_string_equal(r.reason, "");
    assert_int_equal(atomic_load(&nmissed), 0);
    /* the relay's own chain, and the intermediate itself */
    assert_int_equal(check(s, "relay.pem", now).verdict, TLS_REV_GOOD);
    assert_int_equal(check(s, "inter.pem", now).verdict, TLS_REV_GOOD);
    /* a trust anchor is never checked */
    assert_int_equal(check(s, "root.pem", now).verdict, TLS_REV_GOOD);
    tls_crl_set_miss_hook(NULL, NULL);
    tls_crl_set_unref(s);
}

static void test_revoked_leaf(void **state)
{
    struct tls_crl_set *s = mkset(false, "inter.crl", "root.crl", NULL);
    struct tls_crl_result r = check(s, "partner-revoked.pem", now);
    char    serial[64], want[256], cmd[512];

    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -serial", path("partner-revoked.pem"));
    first_line(serial, sizeof(serial), cmd);    /* serial=200F */
    assert_int_equal(r.verdict, TLS_REV_REVOKED);
    assert_int_equal(r.depth, 0);
    snprintf(want, sizeof(want), "certificate serial %s (", serial + strlen("serial="));
    assert_non_null(strstr(r.reason, want));
    assert_non_null(strstr(r.reason, "OU=partner-revoked"));
    assert_non_null(strstr(r.reason, "revoked by CN=Domsec Test Intermediate CA, "
                           "O=Domsec Test PKI on 20"));
    assert_non_null(strstr(r.reason, "(keyCompromise)"));
    tls_crl_set_unref(s);
}

static void test_revoked_intermediate(void **state)
{
    struct tls_crl_set *s = mkset(false, "inter2.crl", "root.crl", NULL);
    struct tls_crl_result r = check(s, "partner-under-inter2.pem", now);
    char    serial[64], want[256], cmd[512];

    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -serial", path("inter2.pem"));
    first_line(serial, sizeof(serial), cmd);
    assert_int_equal(r.verdict, TLS_REV_REVOKED);
    assert_int_equal(r.depth, 1);
    snprintf(want, sizeof(want), "certificate serial %s (CN=Domsec Test Intermediate CA 2, "
             "O=Domsec Test PKI) revoked by CN=Domsec Test Root CA", serial + strlen("serial="));
    assert_non_null(strstr(r.reason, want));
    tls_crl_set_unref(s);

    /* without inter2's own CRL the leaf is unknown, but revoked wins */
    s = mkset(false, "root.crl", NULL);
    r = check(s, "partner-under-inter2.pem", now);
    assert_int_equal(r.verdict, TLS_REV_REVOKED);
    assert_int_equal(r.depth, 1);
    tls_crl_set_unref(s);
}

static void test_no_crl(void **state)
{
    struct tls_crl_set *s = mkset(false, "root.crl", NULL);
    struct tls_crl_result r;

    tls_crl_set_miss_hook(on_miss, &nmissed);
    r = check(s, "partner-ok.pem", now);
    assert_int_equal(r.verdict, TLS_REV_UNKNOWN);
    assert_int_equal(r.depth, 0);
    assert_string_equal(r.reason, "no CRL for issuer CN=Domsec Test Intermediate CA, "
                        "O=Domsec Test PKI");
    assert_int_equal(atomic_load(&nmissed), 1);
    assert_string_equal(missed[0], CDP "inter.crl");
    tls_crl_set_unref(s);

    /* no CRL at all: both distribution points are asked for */
    s = mkset(false, NULL);
    r = check(s, "partner-ok.pem", now);
    assert_int_equal(r.verdict, TLS_REV_UNKNOWN);
    assert_int_equal(r.depth, 0);
    assert_int_equal(atomic_load(&nmissed), 2);
    assert_string_equal(missed[0], CDP "inter.crl");
    assert_string_equal(missed[1], CDP "root.crl");
    tls_crl_set_miss_hook(NULL, NULL);
    tls_crl_set_unref(s);
}

static void test_stale_only(void **state)
{
    struct tls_crl_set *s = mkset(true, "inter-stale.crl", "root.crl", NULL);
    struct tls_crl_result r;

    tls_crl_set_miss_hook(on_miss, &nmissed);
    r = check(s, "partner-ok.pem", now);
    assert_int_equal(r.verdict, TLS_REV_UNKNOWN);
    assert_int_equal(r.depth, 0);
    assert_non_null(strstr(r.reason, "CRL of CN=Domsec Test Intermediate CA, O=Domsec Test PKI "
                           "is stale since 20"));
    assert_int_equal(atomic_load(&nmissed), 1);
    assert_string_equal(missed[0], CDP "inter.crl");
    assert_string_equal(info_of(s, "inter-stale.crl", now).status, "Stale");
    tls_crl_set_miss_hook(NULL, NULL);
    tls_crl_set_unref(s);
}

static void test_wrong_key_only(void **state)
{
    struct tls_crl_set *s = mkset(true, "inter-wrongkey.crl", "root.crl", NULL);
    struct tls_crl_result r;

    tls_crl_set_miss_hook(on_miss, &nmissed);
    r = check(s, "partner-revoked.pem", now);   /* never GOOD */
    assert_int_equal(r.verdict, TLS_REV_UNKNOWN);
    assert_int_equal(r.depth, 0);
    assert_string_equal(r.reason, "CRL of CN=Domsec Test Intermediate CA, O=Domsec Test PKI "
                        "does not verify with its issuer's key");
    assert_int_equal(atomic_load(&nmissed), 1);
    assert_int_equal(check(s, "partner-ok.pem", now).verdict, TLS_REV_UNKNOWN);
    assert_string_equal(info_of(s, "inter-wrongkey.crl", now).status, "BadSignature");
    tls_crl_set_miss_hook(NULL, NULL);
    tls_crl_set_unref(s);

    /* next to the real CRL, the forgery changes nothing, whichever is newer */
    s = mkset(true, "inter-wrongkey.crl", "inter.crl", "root.crl", NULL);
    assert_int_equal(check(s, "partner-revoked.pem", now).verdict, TLS_REV_REVOKED);
    assert_int_equal(check(s, "partner-ok.pem", now).verdict, TLS_REV_GOOD);
    tls_crl_set_unref(s);
}

static void test_impostor_issuer_in_chain(void **state)
{
    /* The peer also presents the impostor CA (inter's name and key id, another
     * key) before the real one: the walk must follow the real signature. */
    struct tls_crl_set *s = mkset(false, "inter-wrongkey.crl", "inter.crl", "root.crl", NULL);
    struct chain ch;
    struct tls_crl_result r;

    chain_load(&ch, "inter-wrongkey.pem", "partner-revoked.pem");
    ch.c[0] = ch.c[1];                  /* leaf, impostor, inter */
    ch.c[1] = (struct tls_crl_cert){ch.der[0].der, ch.der[0].len};
    tls_crl_check(s, ch.c, ch.n, now, &r);
    assert_int_equal(r.verdict, TLS_REV_REVOKED);
    assert_int_equal(r.depth, 0);
    chain_free(&ch);
    tls_crl_set_unref(s);

    /* and with only the impostor presented, its issuer is simply not found */
    s = mkset(false, "inter-wrongkey.crl", "root.crl", NULL);
    chain_load(&ch, "partner-ok.pem", "inter-wrongkey.pem");
    ch.c[1] = ch.c[2];
    tls_crl_check(s, ch.c, 2, now, &r);
    assert_int_equal(r.verdict, TLS_REV_UNKNOWN);
    assert_non_null(strstr(r.reason, "issuer of "));
    assert_non_null(strstr(r.reason, "OU=partner-ok"));
    assert_non_null(strstr(r.reason, " not found"));
    chain_free(&ch);
    tls_crl_set_unref(s);
}

static void test_becomes_stale(void **state)
{
    struct tls_crl_set *s = mkset(false, "inter.crl", "root.crl", NULL);
    struct tls_crl_result r;

    assert_int_equal(check(s, "partner-revoked.pem", now).verdict, TLS_REV_REVOKED);
    r = check(s, "partner-revoked.pem", now + 31 * DAY);       /* after nextUpdate */
    assert_int_equal(r.verdict, TLS_REV_UNKNOWN);
    assert_non_null(strstr(r.reason, "is stale since"));
    assert_int_equal(check(s, "partner-ok.pem", now + 31 * DAY).verdict, TLS_REV_UNKNOWN);
    tls_crl_set_unref(s);
}

static void test_cdp_urls(void **state)
{
    struct chain ch;
    char    buf[256];

    chain_load(&ch, "partner-ok.pem", "root.pem");      /* leaf, inter, root */
    tls_crl_cdp_urls(ch.c[0].der, ch.c[0].len, buf, sizeof(buf));
    assert_string_equal(buf, CDP "inter.crl");
    tls_crl_cdp_urls(ch.c[1].der, ch.c[1].len, buf, sizeof(buf));
    assert_string_equal(buf, CDP "root.crl");
    tls_crl_cdp_urls(ch.c[2].der, ch.c[2].len, buf, sizeof(buf));
    assert_string_equal(buf, "");
    tls_crl_cdp_urls(ch.c[0].der, ch.c[0].len, buf, 10);       /* whole URLs only */
    assert_string_equal(buf, "");
    tls_crl_cdp_urls((const unsigned char *)"junk", 4, buf, sizeof(buf));
    assert_string_equal(buf, "");
    chain_free(&ch);
}

static void test_publish(void **state)
{
    struct tls_crl_set *s = mkset(false, "inter.crl", "root.crl", NULL), *cur;

    assert_null(tls_crl_current());
    tls_crl_publish(tls_crl_set_ref(s));
    cur = tls_crl_current();
    assert_ptr_equal(cur, s);
    tls_crl_set_unref(cur);
    tls_crl_publish(mkset(false, NULL));        /* replaced: s lives on with our ref */
    assert_int_equal(check(s, "partner-ok.pem", now).verdict, TLS_REV_GOOD);
    tls_crl_set_unref(s);
    tls_crl_cleanup();
    assert_null(tls_crl_current());
}

/* ---- threads -------------------------------------------------------- */

static const char *const mt_files[] = {
    "partner-ok.pem", "partner-revoked.pem", "partner-under-inter2.pem", "relay.pem",
    "partner-untrusted.pem",
};
#define MT_N (sizeof(mt_files) / sizeof(mt_files[0]))

struct mt {
    struct tls_crl_set *s;
    struct chain ch[MT_N];
    struct tls_crl_result want[MT_N];
    atomic_int bad;
};

static void mt_run(void *arg)
{
    struct mt *m = arg;

    for (int round = 0; round < 100; round++)
        for (size_t k = 0; k < MT_N; k++) {
            size_t  i = (k + (size_t)round) % MT_N;
            struct tls_crl_result r;

            tls_crl_check(m->s, m->ch[i].c, m->ch[i].n, now, &r);
            if (r.verdict != m->want[i].verdict || r.depth != m->want[i].depth
                || strcmp(r.reason, m->want[i].reason) != 0)
                atomic_fetch_add(&m->bad, 1);
        }
    tls_thread_cleanup();
}

static void test_threads(void **state)
{
    struct tls_crl_set *ref = mkset(true, "inter.crl", "root.crl", "inter2.crl",
                                    "inter-wrongkey.crl", NULL);
    struct mt m = {.s = mkset(true, "inter.crl", "root.crl", "inter2.crl",
                              "inter-wrongkey.crl", NULL)};
    uv_thread_t t[4];

    tls_crl_set_miss_hook(on_miss, &nmissed);
    for (size_t i = 0; i < MT_N; i++) {
        chain_load(&m.ch[i], mt_files[i], NULL);
        tls_crl_check(ref, m.ch[i].c, m.ch[i].n, now, &m.want[i]);
    }
    assert_int_equal(m.want[0].verdict, TLS_REV_GOOD);
    assert_int_equal(m.want[1].verdict, TLS_REV_REVOKED);
    assert_int_equal(m.want[2].verdict, TLS_REV_REVOKED);
    assert_int_equal(m.want[4].verdict, TLS_REV_UNKNOWN);       /* rogue has no CRL */
    for (int i = 0; i < 4; i++)         /* a fresh set: the threads race to fill the memo */
        assert_int_equal(uv_thread_create(&t[i], mt_run, &m), 0);
    for (int i = 0; i < 4; i++)
        uv_thread_join(&t[i]);
    assert_int_equal(atomic_load(&m.bad), 0);
    tls_crl_set_miss_hook(NULL, NULL);
    for (size_t i = 0; i < MT_N; i++)
        chain_free(&m.ch[i]);
    tls_crl_set_unref(m.s);
    tls_crl_set_unref(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_pem_and_der),
        cmocka_unit_test(test_add_dir),
        cmocka_unit_test(test_info_fields),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_revoked_leaf),
        cmocka_unit_test(test_revoked_intermediate),
        cmocka_unit_test(test_no_crl),
        cmocka_unit_test(test_stale_only),
        cmocka_unit_test(test_wrong_key_only),
        cmocka_unit_test(test_impostor_issuer_in_chain),
        cmocka_unit_test(test_becomes_stale),
        cmocka_unit_test(test_cdp_urls),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_threads),
    };
    int     rc;

    log_init("tls_crl_test", LOG_ERROR);
    rc = cmocka_run_group_tests(tests, setup_pki, teardown_pki);
    tls_thread_cleanup();
    return rc;
}
