/*
 * tls_store_test.c - certificate facts, the store's verdict on each file,
 * and the choice of a connector's certificate (SPEC 6.1, 6.2).
 *
 * The group setup builds a test PKI with the openssl CLI in a mkdtemp()
 * directory (removed at the end): a root CA, an issuing CA, a rogue CA and
 * a store of leaves with dates set exactly by `openssl ca -startdate`.
 * Certificate facts are checked against openssl's own reading of the same
 * files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tls_store.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define DAY 86400

/* leaf NAME KEY SUBJECT SAN EXTENSIONS START END ISSUER */
static const char pki_script[] =
    "set -e; umask 077; cd \"$1\"; mkdir ca store; cd ca; : > index.txt; echo 1000 > serial\n"
    "d() { date -u -d \"$1\" +%Y%m%d%H%M%SZ; }\n"
    "cat > ca.cnf <<'EOF'\n[ca]\ndefault_ca = myca\n[myca]\ndir = .\ndatabase = index.txt\n"
    "new_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = pol\nunique_subject = no\n"
    "copy_extensions = copy\n[pol]\ncommonName = supplied\norganizationName = optional\n"
    "countryName = optional\n[req]\ndistinguished_name = dn\n[dn]\n[v3_ca]\n"
    "basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n[noeku]\n"
    "[both]\nextendedKeyUsage = serverAuth,clientAuth\n[client]\nextendedKeyUsage = clientAuth\n"
    "[odd]\nextendedKeyUsage = 1.3.6.1.4.1.99999.1\nEOF\n"
    "ca() { openssl req -x509 -new -newkey rsa:2048 -nodes -keyout $1.key -out $1.pem "
    "-days 3650 -config ca.cnf -extensions v3_ca -subj \"$2\" 2>/dev/null; }\n"
    "ca root '/C=US/O=Contoso Test/CN=Contoso Test Root'; ca rogue /CN=Rogue\\ CA\n"
    "ca twin /CN=twin.fabrikam.test\n"
    "openssl req -new -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr -config ca.cnf "
    "-subj '/C=US/O=Contoso Test/CN=Contoso Test Issuing' 2>/dev/null\n"
    "openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_ca "
    "-startdate $(d '-30 days') -enddate $(d '+5 years') -in inter.csr -out inter.pem "
    "-notext 2>/dev/null\n"
    "leaf() {\n  k=../store/$1.key\n  case $2 in\n"
    "  ec) openssl ecparam -name prime256v1 -genkey -noout -out $k ;;\n"
    "  ec8) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k ;;\n"
    "  rsatrad) openssl genpkey -algorithm RSA | openssl rsa -traditional -out $k ;;\n"
    "  *) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$2 -out $k ;;\n  esac\n"
    "  openssl req -new -key $k -out $1.csr -subj \"$3\" ${4:+-addext \"subjectAltName=$4\"} "
    "-config ca.cnf\n  if [ $8 = self ]; then sign=\"-selfsign -keyfile $k\"; "
    "else sign=\"-cert $8.pem -keyfile $8.key\"; fi\n"
    "  openssl ca -batch -config ca.cnf $sign -extensions $5 -startdate $(d \"$6\") "
    "-enddate $(d \"$7\") -in $1.csr -out ../store/$1.pem -notext\n"
    "  case $8 in inter|rogue) cat $8.pem >> ../store/$1.pem ;; esac\n}\n"
    "Y='+1 year'\n"          /* leaf NAME KEY SUBJECT SAN EXTENSIONS START END ISSUER */
    "leaf mail 2048 /C=US/O=Contoso/CN=mail.contoso.test DNS:contoso.test,DNS:MAIL.Contoso.Test,"
    "DNS:mail.contoso.test,IP:192.0.2.1,DNS:smtp.contoso.test both '-10 days' \"$Y\" root\n"
    "leaf self rsatrad /CN=mail.contoso.test DNS:mail.contoso.test both '-5 days' \"$Y\" self\n"
    "leaf mailold 2048 /CN=mail.contoso.test DNS:mail.contoso.test both '-3 days' '-1 day' root\n"
    "leaf star ec '/O=Contoso/CN=*.contoso.test' 'DNS:*.contoso.test' both '-1 day' \"$Y\" inter\n"
    "leaf ec ec /CN=ec.fabrikam.test DNS:ec.fabrikam.test noeku '-10 days' \"$Y\" root\n"
    "leaf weak 1024 /CN=weak.fabrikam.test DNS:weak.fabrikam.test,DNS:weak.contoso.test "
    "both '-10 days' \"$Y\" root\n"
    "leaf clientonly 2048 /CN=clientonly.fabrikam.test '' client '-10 days' \"$Y\" root\n"
    "leaf legacy 2048 '/CN=Legacy Relay' DNS:legacy.fabrikam.test both '-400 days' '-35 days' "
    "root\n"
    "leaf future ec8 /CN=future.fabrikam.test DNS:future.fabrikam.test both '+1 day' \"$Y\" root\n"
    "leaf oddeku ec /CN=oddeku.fabrikam.test '' odd '-10 days' \"$Y\" root\n"
    "leaf twin ec /CN=twin.fabrikam.test '' both '-10 days' \"$Y\" twin\n"
    "leaf rogue 3072 /CN=rogue.fabrikam.test '' both '-10 days' \"$Y\" rogue\n"
    "leaf swapped 2048 /CN=swapped.fabrikam.test '' both '-10 days' \"$Y\" root\n"
    "for n in nokey loose mismatch garbled; do\n"
    "  leaf $n ec /CN=$n.fabrikam.test '' both '-10 days' \"$Y\" root; done\n"
    "cd ../store; rm nokey.key; cp ec.key mismatch.key; cp mail.key swapped.key\n"
    "echo garbage > garbled.key; cp ../ca/inter.key orphan.key; chmod 0644 loose.key\n"
    "printf -- '-----BEGIN CERTIFICATE-----\\nnot base64\\n-----END CERTIFICATE-----\\n' "
    "> broken.pem\necho no certificate here > empty.pem\n";

static char pki[64];                    /* the mkdtemp() directory */
static int64_t now;

/* path - a file of the test PKI (one of 4 rotating static buffers) */

static const char *path(const char *rel)
{
    static char buf[4][256];
    static unsigned next;
    char   *p = buf[next++ % 4];

    snprintf(p, sizeof(buf[0]), "%s/%s", pki, rel);
    return p;
}

/* str - a string that may be NULL, printable */

static const char *str(const char *s)
{
    return s != NULL ? s : "(null)";
}

static int setup_pki(void **state)
{
    char    cmd[512];
    FILE   *f;

    snprintf(pki, sizeof(pki), "/tmp/tls_store_test.XXXXXX");
    if (mkdtemp(pki) == NULL || (f = fopen(path("pki.sh"), "w")) == NULL)
        return -1;
    fputs(pki_script, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "sh %s/pki.sh %s >%s/pki.log 2>&1", pki, pki, pki);
    if (system(cmd) != 0)
        return -1;
    now = (int64_t)time(NULL);          /* the CAs' notBefore is "now" too */
    return 0;
}

static int teardown_pki(void **state)
{
    char    cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
    return system(cmd);
}

/* struct osl - what openssl says about a certificate file */

struct osl {
    char    subject[512], issuer[512], serial[130], thumb[41], san[1024];
    int64_t not_before, not_after;
};

/* osl_dn - openssl's RFC 2253 "CN=a,O=b" in wolfSSL's "CN=a, O=b" spelling */

static void osl_dn(const char *in, char *out, size_t sz)
{
    size_t  o = 0;

    for (; *in && *in != '\n' && o + 2 < sz; in++) {
        out[o++] = *in;
        if (*in == ',' && in[-1] != '\\')
            out[o++] = ' ';
    }
    out[o] = '\0';
}

static void osl_read(const char *file, struct osl *o)
{
    char    cmd[512], line[1024];
    bool    san_next = false;
    struct tm tm = {0};
    FILE   *p;

    memset(o, 0, sizeof(*o));
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -nameopt RFC2253 -subject -issuer "
             "-serial -fingerprint -sha1 -dates -ext subjectAltName 2>&1", file);
    assert_non_null(p = popen(cmd, "r"));
    while (fgets(line, sizeof(line), p) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (san_next)
            snprintf(o->san, sizeof(o->san), "%s", line + strspn(line, " "));
        san_next = strstr(line, "Subject Alternative Name") != NULL;
        if (strncmp(line, "subject=", 8) == 0)
            osl_dn(line + 8, o->subject, sizeof(o->subject));
        else if (strncmp(line, "issuer=", 7) == 0)
            osl_dn(line + 7, o->issuer, sizeof(o->issuer));
        else if (strncmp(line, "serial=", 7) == 0)
            snprintf(o->serial, sizeof(o->serial), "%.129s", line + 7);
        else if (strncmp(line, "notBefore=", 10) == 0
                 && strptime(line + 10, "%b %d %H:%M:%S %Y GMT", &tm) != NULL)
            o->not_before = (int64_t)timegm(&tm);       /* "Nov 12 12:37:27 2026 GMT" */
        else if (strncmp(line, "notAfter=", 9) == 0
                 && strptime(line + 9, "%b %d %H:%M:%S %Y GMT", &tm) != NULL)
            o->not_after = (int64_t)timegm(&tm);
        else if (strncmp(line, "sha1 Fingerprint=", 17) == 0)
            for (const char *s = line + 17; *s && strlen(o->thumb) < 40; s++)
                if (*s != ':')
                    o->thumb[strlen(o->thumb)] = *s;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(strlen(o->thumb), 40);
    assert_true(o->not_before > 0 && o->not_after > o->not_before);
}

/* has_name - whether the info lists name (any case) */

static bool has_name(const struct tls_cert_info *ci, const char *name, size_t len)
{
    for (size_t i = 0; i < ci->nnames; i++)
        if (strlen(ci->names[i]) == len && strncasecmp(ci->names[i], name, len) == 0)
            return true;
    return false;
}

static const struct info_case {
    const char *file, *names;
    int     key_type, key_bits;
    bool    self_signed, is_ca, eku_present, eku_server, eku_client;
} info_cases[] = {
    {"store/mail.pem", "mail.contoso.test;contoso.test;smtp.contoso.test", TLS_KEY_RSA, 2048,
     0, 0, 1, 1, 1},
    {"store/self.pem", "mail.contoso.test", TLS_KEY_RSA, 2048, 1, 0, 1, 1, 1},
    {"store/star.pem", "*.contoso.test", TLS_KEY_EC, 256, 0, 0, 1, 1, 1},
    {"store/ec.pem", "ec.fabrikam.test", TLS_KEY_EC, 256, 0, 0, 0, 0, 0},
    {"store/weak.pem", "weak.fabrikam.test;weak.contoso.test", TLS_KEY_RSA, 1024, 0, 0, 1, 1, 1},
    {"store/clientonly.pem", "clientonly.fabrikam.test", TLS_KEY_RSA, 2048, 0, 0, 1, 0, 1},
    {"store/legacy.pem", "legacy.fabrikam.test", TLS_KEY_RSA, 2048, 0, 0, 1, 1, 1},
    {"store/future.pem", "future.fabrikam.test", TLS_KEY_EC, 256, 0, 0, 1, 1, 1},
    {"store/oddeku.pem", "oddeku.fabrikam.test", TLS_KEY_EC, 256, 0, 0, 1, 0, 0},
    {"store/twin.pem", "twin.fabrikam.test", TLS_KEY_EC, 256, 0, 0, 1, 1, 1},
    {"store/rogue.pem", "rogue.fabrikam.test", TLS_KEY_RSA, 3072, 0, 0, 1, 1, 1},
    {"ca/root.pem", "", TLS_KEY_RSA, 2048, 1, 1, 0, 0, 0},
    {"ca/inter.pem", "", TLS_KEY_RSA, 2048, 0, 1, 0, 0, 0},
};

static void test_info_fields(void **state)
{
    for (size_t i = 0; i < NELEM(info_cases); i++) {
        const struct info_case *c = &info_cases[i];
        struct tls_cert_info ci, dci;
        struct osl o;
        char    names[1024], cmd[512];
        const char *why = NULL, *s;
        unsigned char der[8192];
        size_t  der_len;
        FILE   *f;

        print_message("file %s\n", c->file);
        osl_read(path(c->file), &o);
        assert_int_equal(tls_cert_info_from_pem_file(path(c->file), &ci, &why), 0);
        assert_string_equal(ci.subject, o.subject);
        assert_string_equal(ci.issuer, o.issuer);
        assert_string_equal(ci.serial, o.serial);
        assert_string_equal(ci.thumbprint, o.thumb);
        assert_int_equal(ci.not_before, o.not_before);
        assert_int_equal(ci.not_after, o.not_after);
        for (s = strstr(o.san, "DNS:"); s != NULL; s = strstr(s + 4, "DNS:"))
            assert_true(has_name(&ci, s + 4, strcspn(s + 4, ", ")));
        tls_cert_info_names(&ci, names, sizeof(names));
        assert_string_equal(names, c->names);
        {                               /* names[0] is a CN that no SAN dNSName repeats */
            bool    in_san = false;

            for (s = strstr(o.san, "DNS:"); ci.nnames > 0 && s != NULL; s = strstr(s + 4, "DNS:"))
                in_san |= strcspn(s + 4, ", ") == strlen(ci.names[0])
                    && strncasecmp(s + 4, ci.names[0], strlen(ci.names[0])) == 0;
            assert_int_equal(ci.cn_not_san, ci.nnames > 0 && !in_san);
        }
        assert_int_equal(ci.key_type, c->key_type);
        assert_int_equal(ci.key_bits, c->key_bits);
        assert_int_equal(ci.self_signed, c->self_signed);
        assert_int_equal(ci.is_ca, c->is_ca);
        assert_int_equal(ci.eku_present, c->eku_present);
        assert_int_equal(ci.eku_server, c->eku_server);
        assert_int_equal(ci.eku_client, c->eku_client);

        /* the same certificate as DER */
        snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -outform DER", path(c->file));
        assert_non_null(f = popen(cmd, "r"));
        der_len = fread(der, 1, sizeof(der), f);
        assert_int_equal(pclose(f), 0);
        assert_int_equal(tls_cert_info_from_der(der, der_len, &dci), 0);
        assert_string_equal(dci.thumbprint, o.thumb);
        assert_string_equal(dci.subject, o.subject);
        assert_int_equal(dci.nnames, ci.nnames);
        tls_cert_info_free(&dci);
        tls_cert_info_free(&ci);
        assert_null(ci.names);
    }
}

/* The pin (SHA-256 of the SPKI) of every certificate, as openssl computes it. */
static void test_spki_pin(void **state)
{
    for (size_t i = 0; i < NELEM(info_cases); i++) {
        const char *file = path(info_cases[i].file);
        unsigned char der[8192], pin[32], junk[64] = {0x30, 0x03, 0x02, 0x01, 0x00};
        char    cmd[512], want[80] = "", hex[65];
        size_t  der_len;
        FILE   *f;

        print_message("file %s\n", info_cases[i].file);
        snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -pubkey | openssl pkey -pubin "
                 "-outform DER | openssl dgst -sha256 -r", file);
        assert_non_null(f = popen(cmd, "r"));
        assert_non_null(fgets(want, sizeof(want), f));
        assert_int_equal(pclose(f), 0);
        want[strcspn(want, " \n")] = '\0';
        assert_int_equal(strlen(want), 64);

        snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -outform DER", file);
        assert_non_null(f = popen(cmd, "r"));
        der_len = fread(der, 1, sizeof(der), f);
        assert_int_equal(pclose(f), 0);
        memset(pin, 0, sizeof(pin));
        assert_int_equal(tls_spki_sha256(der, der_len, pin), 0);
        for (size_t k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", pin[k]);
        assert_string_equal(hex, want);
        {                               /* the facts carry the same pin */
            struct tls_cert_info ci;
            const char *why = NULL;

            assert_int_equal(tls_cert_info_from_pem_file(file, &ci, &why), 0);
            assert_memory_equal(ci.spki_sha256, pin, 32);
            tls_cert_info_free(&ci);
        }

        /* not a certificate: a cut one, a bare SEQUENCE, nothing */
        assert_int_equal(tls_spki_sha256(der, der_len - 1, pin), -1);
        assert_int_equal(tls_spki_sha256(junk, 5, pin), -1);
        assert_int_equal(tls_spki_sha256(NULL, 0, pin), -1);
    }
}

static void test_info_errors(void **state)
{
    static const struct {
        const char *file, *before, *after;  /* expected: before PATH after */
    } bad[] = {
        {"none.pem", "cannot read ", ": No such file or directory"},
        {"store/empty.pem", "no certificate in ", ""},
        {"store/broken.pem", "the certificate in ", " cannot be parsed"},
    };
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    struct tls_cert_info ci;
    const char *why = NULL;
    char    names[32], expect[256];

    for (size_t i = 0; i < NELEM(bad); i++) {
        why = NULL;
        assert_int_equal(tls_cert_info_from_pem_file(path(bad[i].file), &ci, &why), -1);
        snprintf(expect, sizeof(expect), "%s%s%s", bad[i].before, path(bad[i].file), bad[i].after);
        assert_string_equal(str(why), expect);
    }
    assert_int_equal(tls_cert_info_from_der(junk, sizeof(junk), &ci), -1);
    assert_null(ci.names);
    assert_int_equal(ci.nnames, 0);

    /* names cut before the first one that does not fit */
    assert_int_equal(tls_cert_info_from_pem_file(path("store/mail.pem"), &ci, &why), 0);
    tls_cert_info_names(&ci, names, 31);
    assert_string_equal(names, "mail.contoso.test;contoso.test");
    tls_cert_info_names(&ci, names, 30);
    assert_string_equal(names, "mail.contoso.test");
    tls_cert_info_names(&ci, names, 5);
    assert_string_equal(names, "");
    tls_cert_info_free(&ci);
}

/* entry - the entry for a store file name */

static const struct tls_store_entry *entry(const struct tls_store *s, const char *file)
{
    for (size_t i = 0; i < tls_store_count(s); i++)
        if (strcmp(tls_store_entry_at(s, i)->cert_path, path(file)) == 0)
            return tls_store_entry_at(s, i);
    fail_msg("no entry %s", file);
    return NULL;
}

/* pick - "store/FILE" chosen for fqdn (or pinned), else "none: why" */

static const char *pick(const struct tls_store *s, const char *fqdn, const char *pinned,
                        int64_t t)
{
    static char buf[512];
    const char *why = NULL;
    const struct tls_store_entry *e = tls_store_select(s, fqdn, pinned, t, &why);

    if (e != NULL)
        snprintf(buf, sizeof(buf), "%s", e->cert_path + strlen(pki) + 1);
    else
        snprintf(buf, sizeof(buf), "none: %s", str(why));
    return buf;
}

/* load - the test store, with trusted CA ca, at time t */

static struct tls_store *load(const char *ca, int64_t t)
{
    const char *why = NULL;
    struct tls_store *s = tls_store_load(path("store"), ca, t, &why);

    if (s == NULL)
        fail_msg("load: %s", str(why));
    return s;
}

static const struct entry_case {
    const char *file;
    bool    has_key, key_ok;
    const char *problem;
    bool    ca_issued_valid;
} entry_cases[] = {
    {"broken.pem", false, false, "the certificate cannot be parsed", false},
    {"clientonly.pem", true, true, "EKU without serverAuth", true},
    {"ec.pem", true, true, NULL, true},
    {"empty.pem", false, false, "no certificate in the file", false},
    {"future.pem", true, true, "not yet valid", false},
    {"garbled.pem", true, false, "private key cannot be loaded (encrypted or not PEM?)", true},
    {"legacy.pem", true, true, "expired", false},
    {"loose.pem", true, false, "private key readable by others (mode 0644)", true},
    {"mail.pem", true, true, NULL, true},
    {"mailold.pem", true, true, "expired", false},
    {"mismatch.pem", true, false, "private key does not match the certificate", true},
    {"nokey.pem", false, false, "no private key", true},
    {"oddeku.pem", true, true, "EKU without serverAuth", true},
    {"rogue.pem", true, true, NULL, false},
    {"self.pem", true, true, NULL, false},
    {"star.pem", true, true, NULL, true},
    {"swapped.pem", true, false, "private key does not match the certificate", true},
    {"twin.pem", true, true, NULL, false},
    {"weak.pem", true, true, "RSA key below 2048 bits", true},
};

static void test_store_entries(void **state)
{
    struct tls_store *s;
    char    log[8192], line[512];
    FILE   *tmp = tmpfile();
    int     saved = dup(2);
    size_t  n;

    /* the warnings go to stderr: catch them */
    assert_non_null(tmp);
    assert_true(saved >= 0 && dup2(fileno(tmp), 2) == 2);
    log_set_level(LOG_WARN);
    s = tls_store_load(path("store"), path("ca/root.pem"), now, &(const char *){NULL});
    log_set_level(LOG_ERROR);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = fread(log, 1, sizeof(log) - 1, tmp);
    log[n] = '\0';
    fclose(tmp);

    assert_non_null(s);
    snprintf(line, sizeof(line), "warning tls certificate problem file=%s thumbprint=%s "
             "reason=\"RSA key below 2048 bits\"\n", path("store/weak.pem"),
             entry(s, "store/weak.pem")->info.thumbprint);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof(line), "file=%s thumbprint=- reason=\"no certificate in the file\"\n",
             path("store/empty.pem"));
    assert_non_null(strstr(log, line));
    assert_null(strstr(log, "mail.pem"));

    assert_int_equal(tls_store_count(s), NELEM(entry_cases));
    assert_null(tls_store_entry_at(s, NELEM(entry_cases)));
    for (size_t i = 0; i < NELEM(entry_cases); i++) {
        const struct entry_case *c = &entry_cases[i];
        const struct tls_store_entry *e = tls_store_entry_at(s, i);
        char    file[64], key[256];

        print_message("entry %s\n", c->file);
        snprintf(file, sizeof(file), "store/%s", c->file);
        assert_string_equal(e->cert_path, path(file));
        snprintf(key, sizeof(key), "%.*s.key", (int)strlen(path(file)) - 4, path(file));
        assert_string_equal(str(e->key_path), c->has_key ? key : "(null)");
        assert_int_equal(e->key_ok, c->key_ok);
        assert_string_equal(str(e->problem), str(c->problem));
        assert_int_equal(e->ca_issued_valid, c->ca_issued_valid);
    }
    tls_store_free(s);
}

static void test_store_now(void **state)
{
    /* `now` decides, not the real clock inside wolfSSL */
    struct tls_store *s = load(path("ca/root.pem"), now + 2 * DAY);

    assert_string_equal(str(entry(s, "store/future.pem")->problem), "(null)");
    assert_true(entry(s, "store/future.pem")->ca_issued_valid);
    assert_string_equal(pick(s, "future.fabrikam.test", NULL, now + 2 * DAY), "store/future.pem");
    tls_store_free(s);

    s = load(path("ca/root.pem"), now - 40 * DAY);
    assert_string_equal(str(entry(s, "store/legacy.pem")->problem), "(null)");
    assert_true(entry(s, "store/legacy.pem")->ca_issued_valid);
    assert_string_equal(str(entry(s, "store/mail.pem")->problem), "not yet valid");
    assert_false(entry(s, "store/mail.pem")->ca_issued_valid);
    tls_store_free(s);
}

static void test_store_without_ca(void **state)
{
    /* no CA; a missing file; a self-signed leaf as the only "CA" */
    const char *ca[] = {NULL, path("ca/missing.pem"), path("store/self.pem")};
    const char *why = NULL;
    char    expect[256];

    for (size_t k = 0; k < NELEM(ca); k++) {
        struct tls_store *s = load(ca[k], now);

        for (size_t i = 0; i < tls_store_count(s); i++)
            assert_false(tls_store_entry_at(s, i)->ca_issued_valid);
        /* nothing is CA-issued: the newest certificate in its period wins */
        assert_string_equal(pick(s, "mail.contoso.test", NULL, now), "store/self.pem");
        tls_store_free(s);
    }
    assert_null(tls_store_load(path("nodir"), NULL, now, &why));
    snprintf(expect, sizeof(expect), "cannot read the certificate store %s: "
             "No such file or directory", path("nodir"));
    assert_string_equal(str(why), expect);
}

static const struct select_case {
    const char *fqdn, *file;
} select_cases[] = {
    {"mail.contoso.test", "store/mail.pem"},    /* CA-issued beats newer self-signed, expired */
    {"MAIL.Contoso.TEST.", "store/mail.pem"},
    {"contoso.test", "store/mail.pem"},
    {"smtp.contoso.test", "store/mail.pem"},    /* exact beats the newer wildcard */
    {"relay.contoso.test", "store/star.pem"},   /* wildcard when no exact */
    {"a.b.contoso.test", "store/star.pem"},     /* at any depth */
    {"weak.contoso.test", "store/star.pem"},    /* the exact one is unusable */
    {"ec.fabrikam.test", "store/ec.pem"},       /* no EKU at all is fine */
    {"legacy.fabrikam.test", "store/legacy.pem"},       /* expired, but nothing else */
    {"future.fabrikam.test", "store/future.pem"},
    {"rogue.fabrikam.test", "store/rogue.pem"},
    {"nothing.example", "none: no certificate in the store names nothing.example"},
    {".contoso.test", "none: no certificate in the store names .contoso.test"},
};

static const struct refuse_case {
    const char *fqdn, *file, *problem;
} refuse_cases[] = {
    {"weak.fabrikam.test", "store/weak.pem", "RSA key below 2048 bits"},
    {"clientonly.fabrikam.test", "store/clientonly.pem", "EKU without serverAuth"},
    {"nokey.fabrikam.test", "store/nokey.pem", "no private key"},
    {"loose.fabrikam.test", "store/loose.pem", "private key readable by others (mode 0644)"},
    {"mismatch.fabrikam.test", "store/mismatch.pem",
     "private key does not match the certificate"},
};

static void test_select(void **state)
{
    struct tls_store *s = load(path("ca/root.pem"), now);
    char    expect[256];

    for (size_t i = 0; i < NELEM(select_cases); i++) {
        print_message("fqdn %s\n", select_cases[i].fqdn);
        assert_string_equal(pick(s, select_cases[i].fqdn, NULL, now), select_cases[i].file);
    }
    for (size_t i = 0; i < NELEM(refuse_cases); i++) {
        print_message("fqdn %s\n", refuse_cases[i].fqdn);
        snprintf(expect, sizeof(expect), "none: certificate %s is not usable: %s",
                 entry(s, refuse_cases[i].file)->info.thumbprint, refuse_cases[i].problem);
        assert_string_equal(pick(s, refuse_cases[i].fqdn, NULL, now), expect);
    }
    /* a year on, everything for mail.contoso.test has expired: the newest is the last resort */
    assert_string_equal(pick(s, "mail.contoso.test", NULL, now + 400 * DAY), "store/mailold.pem");
    tls_store_free(s);
}

static void test_select_pinned(void **state)
{
    struct tls_store *s = load(path("ca/root.pem"), now);
    const char *weak = entry(s, "store/weak.pem")->info.thumbprint;
    char    thumb[41], expect[256];

    snprintf(thumb, sizeof(thumb), "%s", entry(s, "store/self.pem")->info.thumbprint);
    for (char *p = thumb; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    assert_string_equal(pick(s, "mail.contoso.test", thumb, now), "store/self.pem");
    assert_string_equal(pick(s, "mail.contoso.test", entry(s, "store/legacy.pem")->info.thumbprint,
                             now), "store/legacy.pem");
    assert_string_equal(pick(s, "mail.contoso.test", "00112233445566778899AABBCCDDEEFF00112233",
                             now), "none: the pinned certificate "
                        "00112233445566778899AABBCCDDEEFF00112233 is not in the store");
    snprintf(expect, sizeof(expect), "none: certificate %s is not usable: RSA key below 2048 bits",
             weak);
    assert_string_equal(pick(s, NULL, weak, now), expect);
    tls_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_fields),
        cmocka_unit_test(test_info_errors),
        cmocka_unit_test(test_spki_pin),
        cmocka_unit_test(test_store_entries),
        cmocka_unit_test(test_store_now),
        cmocka_unit_test(test_store_without_ca),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_select_pinned),
    };

    log_init("tls_store_test", LOG_ERROR);
    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
