/*
 * tls_certgen_test.c - keys, self-signed certificates, requests, subject
 * parsing and the reading of import files (tls_certgen.h).
 *
 * What wolfCrypt makes is read back twice: by tls_cert_info_from_der /
 * wc_ParseCert, and by the openssl CLI on the same bytes.  The group setup
 * builds a small PKI with the openssl CLI in a mkdtemp() directory
 * (removed at the end): root CA, issuing CA, an EC leaf and an RSA leaf,
 * and PKCS#12 files made by `openssl pkcs12 -export` with OpenSSL 3's
 * default algorithms, with -legacy, and with an empty password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tls_certgen.h"
#include "tls_store.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define DAY 86400

static const char pki_script[] =
    "set -e; umask 077; cd \"$1\"\n"
    "cat > x.cnf <<'EOF'\n[req]\ndistinguished_name = dn\n[dn]\n"
    "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
    "[leaf]\nbasicConstraints = CA:FALSE\nsubjectAltName = DNS:mail.woodgrove.test\n"
    "extendedKeyUsage = serverAuth,clientAuth\nEOF\n"
    "k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key; }\n"
    "k root; openssl req -x509 -new -key root.key -subj '/O=T/CN=T Root' -days 30 "
    "-config x.cnf -extensions ca -out root.pem\n"
    "k inter; openssl req -new -key inter.key -subj '/O=T/CN=T Inter' -config x.cnf "
    "-out inter.csr\n"
    "openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 -days 30 "
    "-extfile x.cnf -extensions ca -out inter.pem\n"
    "k leaf; openssl req -new -key leaf.key -subj '/O=T/CN=mail.woodgrove.test' "
    "-config x.cnf -out leaf.csr\n"
    "openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -set_serial 3 -days 30 "
    "-extfile x.cnf -extensions leaf -out leaf.pem\n"
    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key\n"
    "openssl req -new -key rsa.key -subj '/CN=rsa.woodgrove.test' -config x.cnf -out rsa.csr\n"
    "openssl x509 -req -in rsa.csr -CA inter.pem -CAkey inter.key -set_serial 4 -days 30 "
    "-extfile x.cnf -extensions leaf -out rsa.pem\n"
    "cat root.pem leaf.pem inter.pem > shuffled.pem\n"
    "cat leaf.pem leaf.key > withkey.pem\n"
    "openssl pkey -in leaf.key -aes256 -passout pass:topsecret -out leaf-enc.key\n"
    "cat leaf-enc.key leaf.pem > withenckey.pem\n"
    "openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile inter.pem "
    "-passout pass:secret -out default.p12\n"
    "openssl pkcs12 -export -inkey rsa.key -in rsa.pem -certfile inter.pem "
    "-passout pass:secret -out rsa.p12\n"
    "openssl pkcs12 -export -legacy -inkey leaf.key -in leaf.pem -passout pass:secret "
    "-out legacy.p12\n"
    "openssl pkcs12 -export -inkey leaf.key -in leaf.pem -passout pass: -out empty.p12\n"
    "openssl x509 -in leaf.pem -outform DER -out leaf.der\n";

static char pki[64];                    /* the mkdtemp() directory */

/* path - a file of the test PKI (one of 4 rotating static buffers) */

static const char *path(const char *rel)
{
    static char buf[4][256];
    static unsigned next;
    char   *p = buf[next++ % 4];

    snprintf(p, sizeof(buf[0]), "%s/%s", pki, rel);
    return p;
}

/* slurp - a whole file (owned, NUL-terminated) */

static unsigned char *slurp(const char *file, size_t *len)
{
    FILE   *f = fopen(file, "rb");
    unsigned char *buf = malloc(1 << 20);

    assert_non_null(f);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* spit - write bytes to a PKI file; its path */

static const char *spit(const char *rel, const void *data, size_t len)
{
    const char *p = path(rel);
    FILE   *f = fopen(p, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

/* sh - the first line of a shell command's output ("" if none) */

static char *sh(const char *fmt, ...)
{
    static char out[4096];
    char    cmd[1024];
    va_list ap;
    FILE   *p;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    out[0] = '\0';
    assert_non_null(p = popen(cmd, "r"));
    if (fgets(out, sizeof(out), p) == NULL)
        out[0] = '\0';
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static int setup_pki(void **state)
{
    char    cmd[512];
    FILE   *f;

    snprintf(pki, sizeof(pki), "/tmp/tls_certgen_test.XXXXXX");
    if (mkdtemp(pki) == NULL || (f = fopen(path("pki.sh"), "w")) == NULL)
        return -1;
    fputs(pki_script, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "sh %s/pki.sh %s >%s/pki.log 2>&1", pki, pki, pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown_pki(void **state)
{
    char    cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
    return system(cmd);
}

/* der_of - the DER of the first certificate of a PEM buffer (owned) */

static struct tls_gen_buf der_of(const struct tls_gen_buf *pem)
{
    struct tls_gen_bundle b;
    struct tls_gen_buf out;
    const char *why = NULL;

    assert_int_equal(tls_gen_bundle_read(pem->data, pem->len, NULL, &b, &why), TLS_GEN_OK);
    assert_true(b.ncerts >= 1);
    out = b.certs[0];
    b.certs[0].data = NULL;
    b.certs[0].len = 0;
    tls_gen_bundle_free(&b);
    return out;
}

/* ---- keys --------------------------------------------------------------- */

static void test_key_kinds(void **state)
{
    static const struct {
        const char *name;
        int     type, bits;
        const char *pem;
    } cases[] = {
        { "rsa2048", TLS_KEY_RSA, 2048, "-----BEGIN RSA PRIVATE KEY-----" },
        { "RSA4096", TLS_KEY_RSA, 4096, "-----BEGIN RSA PRIVATE KEY-----" },
        { "ec256", TLS_KEY_EC, 256, "-----BEGIN EC PRIVATE KEY-----" },
    };
    enum tls_gen_key k, back;

    for (size_t i = 0; i < NELEM(cases); i++) {
        struct tls_gen_buf key;
        struct tls_gen_key_info ki;
        const char *why = NULL;

        print_message("%s\n", cases[i].name);
        assert_int_equal(tls_gen_key_parse(cases[i].name, &k), 0);
        assert_int_equal(tls_gen_key(k, &key, &why), TLS_GEN_OK);
        assert_memory_equal(key.data, cases[i].pem, strlen(cases[i].pem));
        assert_int_equal(tls_gen_key_info(key.data, key.len, &ki, &why), TLS_GEN_OK);
        assert_int_equal(ki.key_type, cases[i].type);
        assert_int_equal(ki.key_bits, cases[i].bits);
        assert_int_equal(strlen(ki.id), 40);
        assert_int_equal(tls_gen_key_like(ki.key_type, ki.key_bits, &back), 0);
        assert_int_equal(back, k);
        /* OpenSSL reads it too (the EC key names its curve) */
        spit("gen.key", key.data, key.len);
        assert_string_equal(sh("openssl pkey -in %s -noout -check 2>&1", path("gen.key")),
                            "Key is valid");
        tls_gen_buf_free(&key);
        tls_gen_buf_free(&key);         /* harmless */
    }
    assert_int_equal(tls_gen_key_parse("rsa1024", &k), -1);
    assert_int_equal(tls_gen_key_parse("ec384", &k), -1);
    assert_int_equal(tls_gen_key_like(TLS_KEY_RSA, 3072, &k), -1);
}

/* ---- self-signed certificates ---------------------------------------------- */

static void check_self_signed(enum tls_gen_key kind, const struct tls_gen_subject *subject,
                              const char *want_subject)
{
    static const char *const domains[] = { "mail.contoso.test", "contoso.test",
                                           "*.mx.contoso.test" };
    struct tls_gen_params p = { domains, NELEM(domains), subject, NULL, 0, 30,
                                (int64_t)time(NULL) };
    struct tls_gen_buf key, pem, der;
    struct tls_gen_key_info ki;
    struct tls_cert_info ci;
    DecodedCert dc;
    const char *why = NULL, *file;
    char    id[41], want[300];

    assert_int_equal(tls_gen_key(kind, &key, &why), TLS_GEN_OK);
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &pem, &why), TLS_GEN_OK);
    der = der_of(&pem);
    assert_int_equal(tls_cert_info_from_der(der.data, der.len, &ci), 0);
    assert_string_equal(ci.subject, want_subject);
    assert_string_equal(ci.issuer, want_subject);
    assert_true(ci.self_signed);        /* subject == issuer, signature verifies */
    assert_false(ci.is_ca);
    assert_true(ci.eku_present && ci.eku_server && ci.eku_client);
    assert_int_equal(ci.nnames, 3);     /* CN = first SAN: not repeated */
    assert_string_equal(ci.names[0], "mail.contoso.test");
    assert_string_equal(ci.names[1], "contoso.test");
    assert_string_equal(ci.names[2], "*.mx.contoso.test");
    assert_int_equal(strlen(ci.serial), 32);    /* 16 bytes */
    assert_true(ci.serial[0] >= '0' && ci.serial[0] <= '7');   /* positive */
    assert_false(ci.serial[0] == '0' && ci.serial[1] == '0');
    assert_int_equal(ci.not_before, p.now - 3600);
    assert_int_equal(ci.not_after, p.now + 30 * DAY);
    assert_int_equal(tls_gen_key_info(key.data, key.len, &ki, &why), TLS_GEN_OK);
    assert_int_equal(ci.key_bits, ki.key_bits);
    assert_int_equal(tls_gen_cert_key_id(der.data, der.len, id), 0);
    assert_string_equal(id, ki.id);
    assert_memory_equal(ci.spki_sha256, ki.spki_sha256, 32);   /* the key's pin is the cert's */

    wc_InitDecodedCert(&dc, der.data, (word32)der.len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
    assert_int_equal(dc.version, 2);    /* as encoded: v3 */
    assert_true(dc.extBasicConstSet);   /* basicConstraints present: CA:FALSE */
    assert_false(dc.isCA);
    assert_int_equal(dc.extKeyUsage, kind == TLS_GEN_EC256 ? KEYUSE_DIGITAL_SIG
                     : KEYUSE_DIGITAL_SIG | KEYUSE_KEY_ENCIPHER);
    assert_int_equal(dc.signatureOID, kind == TLS_GEN_EC256 ? CTC_SHA256wECDSA
                     : CTC_SHA256wRSA);
    wc_FreeDecodedCert(&dc);

    /* openssl agrees: verifies it, UTCTime dates, CA:FALSE */
    file = spit("self.pem", pem.data, pem.len);
    snprintf(want, sizeof(want), "%s: OK", file);
    assert_string_equal(sh("openssl verify -CAfile %s %s 2>&1", file, file), want);
    assert_string_equal(sh("openssl x509 -in %s -noout -ext basicConstraints | sed -n 2p", file),
                        "    CA:FALSE");
    assert_string_equal(sh("openssl asn1parse -in %s | grep -c UTCTIME", file), "2");
    assert_string_equal(sh("openssl x509 -in %s -noout -serial", file) + 7, ci.serial);
    tls_cert_info_free(&ci);
    tls_gen_buf_free(&der);
    tls_gen_buf_free(&pem);
    tls_gen_buf_free(&key);
}

static void test_self_signed(void **state)
{
    struct tls_gen_subject s;
    const char *why = NULL;

    check_self_signed(TLS_GEN_EC256, NULL, "CN=mail.contoso.test");
    assert_int_equal(tls_gen_subject_parse("CN=mail.contoso.test, O=\"Contoso, Ltd.\", "
                                           "L=Redmond, ST=WA, C=us, OU=IT, "
                                           "emailAddress=pki@contoso.test", &s, &why), 0);
    check_self_signed(TLS_GEN_RSA2048, &s, "emailAddress=pki@contoso.test, CN=mail.contoso.test,"
                      " OU=IT, O=Contoso\\, Ltd., L=Redmond, ST=WA, C=US");
}

static void test_renew_like(void **state)
{
    struct tls_gen_buf key, key2, pem, pem2, der, der2;
    struct tls_cert_info a, b;
    const char *why = NULL, *file;
    size_t  len;
    unsigned char *orig = slurp(path("leaf.der"), &len);
    struct tls_gen_params p = { NULL, 0, NULL, orig, len, 10, (int64_t)time(NULL) };
    char    want[300];

    /* a certificate issued by a CA: the same subject and names, now self-issued */
    assert_int_equal(tls_gen_key(TLS_GEN_EC256, &key, &why), TLS_GEN_OK);
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &pem, &why), TLS_GEN_OK);
    der = der_of(&pem);
    assert_int_equal(tls_cert_info_from_der(orig, len, &a), 0);
    assert_int_equal(tls_cert_info_from_der(der.data, der.len, &b), 0);
    assert_string_equal(b.subject, a.subject);
    /* wc_SetSubjectRaw alone leaves the issuer empty; wc_SetIssuerRaw fills it */
    assert_string_equal(b.issuer, a.subject);
    assert_true(b.self_signed);
    assert_int_equal(b.nnames, a.nnames);
    assert_string_equal(b.names[0], "mail.woodgrove.test");
    assert_string_not_equal(b.thumbprint, a.thumbprint);
    file = spit("renewed.pem", pem.data, pem.len);
    snprintf(want, sizeof(want), "%s: OK", file);
    assert_string_equal(sh("openssl verify -CAfile %s %s 2>&1", file, file), want);

    /* and a renewal of the renewal keeps it all again */
    p.like = der.data;
    p.like_len = der.len;
    assert_int_equal(tls_gen_key(TLS_GEN_RSA2048, &key2, &why), TLS_GEN_OK);
    assert_int_equal(tls_gen_self_signed(&p, key2.data, key2.len, &pem2, &why), TLS_GEN_OK);
    der2 = der_of(&pem2);
    tls_cert_info_free(&a);
    assert_int_equal(tls_cert_info_from_der(der2.data, der2.len, &a), 0);
    assert_string_equal(a.subject, b.subject);
    assert_string_equal(a.issuer, b.subject);
    assert_int_equal(a.key_type, TLS_KEY_RSA);
    tls_cert_info_free(&a);
    tls_cert_info_free(&b);
    tls_gen_buf_free(&der2);
    tls_gen_buf_free(&pem2);
    tls_gen_buf_free(&key2);
    tls_gen_buf_free(&der);
    tls_gen_buf_free(&pem);
    tls_gen_buf_free(&key);
    free(orig);
}

/* ---- requests ------------------------------------------------------------------ */

static void test_request(void **state)
{
    static const char *const domains[] = { "mail.contoso.test", "contoso.test" };
    struct tls_gen_subject s;
    struct tls_gen_params p = { domains, NELEM(domains), &s, NULL, 0, 0, (int64_t)time(NULL) };
    struct tls_gen_buf key, csr;
    struct tls_gen_request_info ri;
    unsigned char der[8192];
    int     der_len;
    DecodedCert dc;
    DNS_entry *a;
    const char *why = NULL, *file;

    assert_int_equal(tls_gen_subject_parse("C=US, O=Contoso, CN=mail.contoso.test", &s, &why), 0);
    for (int k = TLS_GEN_RSA2048; k <= TLS_GEN_EC256; k += TLS_GEN_EC256 - TLS_GEN_RSA2048) {
        assert_int_equal(tls_gen_key((enum tls_gen_key)k, &key, &why), TLS_GEN_OK);
        assert_int_equal(tls_gen_request(&p, key.data, key.len, &csr, &why), TLS_GEN_OK);
        assert_non_null(strstr((char *)csr.data, "-----BEGIN CERTIFICATE REQUEST-----"));

        /* wolfCrypt parses it and verifies its self-signature */
        der_len = wc_CertPemToDer(csr.data, (int)csr.len, der, sizeof(der), CERTREQ_TYPE);
        assert_true(der_len > 0);
        wc_InitDecodedCert(&dc, der, (word32)der_len, NULL);
        assert_int_equal(wc_ParseCert(&dc, CERTREQ_TYPE, VERIFY, NULL), 0);
        assert_int_equal(dc.subjectCNLen, strlen("mail.contoso.test"));
        assert_memory_equal(dc.subjectCN, "mail.contoso.test", dc.subjectCNLen);
        assert_non_null(a = dc.altNames);
        assert_string_equal(a->name, "mail.contoso.test");
        assert_non_null(a = a->next);
        assert_string_equal(a->name, "contoso.test");
        assert_null(a->next);
        wc_FreeDecodedCert(&dc);

        /* and so does openssl: v1 (not wolfCrypt's default v3), with the SAN requested */
        file = spit("req.pem", csr.data, csr.len);
        assert_string_equal(sh("openssl req -in %s -noout -verify 2>&1", file),
                            "Certificate request self-signature verify OK");
        assert_string_equal(sh("openssl req -in %s -noout -text | grep Version: | tr -d ' '",
                               file), "Version:1(0x0)");
        assert_string_equal(sh("openssl req -in %s -noout -text | grep -A1 'Alternative Name'"
                               " | tail -1 | tr -d ' '", file),
                            "DNS:mail.contoso.test,DNS:contoso.test");
        assert_string_equal(sh("openssl req -in %s -noout -subject", file),
                            "subject=C = US, O = Contoso, CN = mail.contoso.test");

        assert_int_equal(tls_gen_request_info(csr.data, csr.len, &ri, &why), TLS_GEN_OK);
        assert_string_equal(ri.subject, "CN=mail.contoso.test, O=Contoso, C=US");
        assert_int_equal(ri.nnames, 2);
        assert_string_equal(ri.names[1], "contoso.test");
        tls_gen_request_info_free(&ri);
        tls_gen_buf_free(&csr);
        tls_gen_buf_free(&key);
    }
    assert_int_equal(tls_gen_request_info((const unsigned char *)"junk", 4, &ri, &why),
                     TLS_GEN_ERROR);
}

/* ---- subjects and domains ----------------------------------------------------- */

static void test_subject_parse(void **state)
{
    static const struct {
        const char *in;
        const char *cn, *o, *c;         /* expected on success */
        const char *why;                /* expected part of *why, or NULL */
    } cases[] = {
        { "C=US, O=Contoso, CN=mail.contoso.com", "mail.contoso.com", "Contoso", "US", NULL },
        { "  cn = mail.contoso.com ;o=Contoso  ", "mail.contoso.com", "Contoso", "", NULL },
        { "/C=gb/O=Contoso, Ltd/CN=x.test", "x.test", "Contoso, Ltd", "GB", NULL },
        { "O=\"Contoso, Ltd.\", CN=a.test", "a.test", "Contoso, Ltd.", "", NULL },
        { "O=Contoso\\, Ltd., CN=a.test", "a.test", "Contoso, Ltd.", "", NULL },
        { "O=A\\2cB, CN=a.test", "a.test", "A,B", "", NULL },
        { "S=WA, E=a@b.test, CN=a.test", "a.test", "", "", NULL },
        { "O=A+B Corp, CN=a.test", "a.test", "A+B Corp", "", NULL },
        { "", NULL, NULL, NULL, "expected NAME=value" },
        { "CN=a.test, DC=contoso", NULL, NULL, NULL, "unknown attribute DC (known: C, ST, L, O" },
        { "CN=a.test, CN=b.test", NULL, NULL, NULL, "CN appears twice" },
        { "CN=a.test, O=", NULL, NULL, NULL, "empty value for O" },
        { "CN", NULL, NULL, NULL, "expected = after CN" },
        { "C=USA, CN=a.test", NULL, NULL, NULL, "C must be a two-letter country code" },
        { "C=1A", NULL, NULL, NULL, "two-letter" },
        { "E=nobody, CN=a", NULL, NULL, NULL, "is not an address" },
        { "CN=\"open", NULL, NULL, NULL, "unterminated \"" },
        { "CN=\"a\" b", NULL, NULL, NULL, "unexpected text after the quoted value" },
        { "CN=a\\", NULL, NULL, NULL, "a \\ ends the value" },
        { "CN=a\tb", NULL, NULL, NULL, "control character" },
        { "CN=0123456789012345678901234567890123456789012345678901234567890123", NULL, NULL,
          NULL, "longer than 63 bytes" },
        { "CN=a.test,", NULL, NULL, NULL, "expected NAME=value" },
    };

    for (size_t i = 0; i < NELEM(cases); i++) {
        struct tls_gen_subject s;
        const char *why = NULL;
        int     rc = tls_gen_subject_parse(cases[i].in, &s, &why);

        print_message("\"%s\" -> %d %s\n", cases[i].in, rc, rc ? why : "");
        if (cases[i].why == NULL) {
            assert_int_equal(rc, 0);
            assert_string_equal(s.cn, cases[i].cn);
            assert_string_equal(s.o, cases[i].o);
            assert_string_equal(s.c, cases[i].c);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(why, cases[i].why));
        }
    }
}

static void test_domain_ok(void **state)
{
    static const char *const good[] = { "mail.contoso.test", "contoso", "*.contoso.test",
                                        "a-b.c1.test", "xn--bcher-kva.test" };
    static const char *const bad[] = { "", ".", "a..b", "-a.test", "a-.test", "a.test.",
                                       "*", "*.", "a.*.test", "mail_x.test", "a b.test",
                                       "192.0.2.1:25" };

    for (size_t i = 0; i < NELEM(good); i++)
        assert_true(tls_gen_domain_ok(good[i]));
    for (size_t i = 0; i < NELEM(bad); i++) {
        print_message("bad %s\n", bad[i]);
        assert_false(tls_gen_domain_ok(bad[i]));
    }
}

static void test_make_errors(void **state)
{
    static const char *const baddom[] = { "mail.contoso.test", "not a name" };
    static const char *const longdom[] = {
        "a0123456789012345678901234567890123456789012345678901234567890.contoso.test" };
    struct tls_gen_params p = { baddom, 2, NULL, NULL, 0, 30, (int64_t)time(NULL) };
    struct tls_gen_buf key, out;
    const char *why = NULL;

    assert_int_equal(tls_gen_key(TLS_GEN_EC256, &key, &why), TLS_GEN_OK);
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &out, &why), TLS_GEN_ERROR);
    assert_string_equal(why, "\"not a name\" is not a DNS name");
    assert_null(out.data);
    p.domains = longdom;
    p.ndomains = 1;
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &out, &why), TLS_GEN_ERROR);
    assert_non_null(strstr(why, "is too long for a CN"));
    p.ndomains = 0;
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &out, &why), TLS_GEN_ERROR);
    assert_string_equal(why, "no domain and no subject");
    p.domains = baddom;
    p.ndomains = 1;
    p.days = 0;
    assert_int_equal(tls_gen_self_signed(&p, key.data, key.len, &out, &why), TLS_GEN_ERROR);
    assert_non_null(strstr(why, "validity"));
    assert_int_equal(tls_gen_self_signed(&p, (const unsigned char *)"junk", 4, &out, &why),
                     TLS_GEN_ERROR);
    assert_string_equal(why, "not an RSA or EC private key");
    tls_gen_buf_free(&key);
}

/* ---- import files ---------------------------------------------------------------- */

/* read_bundle - tls_gen_bundle_read of a PKI file */

static int read_bundle(const char *rel, const char *password, struct tls_gen_bundle *b,
                       const char **why)
{
    size_t  len;
    unsigned char *data = slurp(path(rel), &len);
    int     rc = tls_gen_bundle_read(data, len, password, b, why);

    free(data);
    return rc;
}

/* thumb_of - the thumbprint of certificate i of a bundle */

static const char *thumb_of(const struct tls_gen_bundle *b, size_t i)
{
    static char out[4][41];
    static unsigned next;
    struct tls_cert_info ci;
    char   *p = out[next++ % 4];

    assert_int_equal(tls_cert_info_from_der(b->certs[i].data, b->certs[i].len, &ci), 0);
    strcpy(p, ci.thumbprint);
    tls_cert_info_free(&ci);
    return p;
}

/* openssl_thumb - openssl's SHA-1 fingerprint of a certificate file, without colons */

static const char *openssl_thumb(const char *rel)
{
    static char out[4][64];
    static unsigned next;
    char   *p = out[next++ % 4];

    snprintf(p, 64, "%s", sh("openssl x509 -in %s -noout -fingerprint -sha1 | sed 's/.*=//;"
                             "s/://g'", path(rel)));
    return p;
}

static void test_pkcs12(void **state)
{
    struct tls_gen_bundle b;
    const char *why = NULL, *file;
    char    id[41];
    struct tls_gen_key_info ki;

    /* OpenSSL 3's default: PBES2 / PBKDF2 / AES-256-CBC, SHA-256 MAC */
    assert_int_equal(read_bundle("default.p12", "secret", &b, &why), TLS_GEN_OK);
    assert_true(b.pkcs12);
    assert_int_equal(b.ncerts, 2);
    assert_non_null(b.key.data);
    assert_int_equal(tls_gen_bundle_key_cert(&b), 0);
    assert_string_equal(thumb_of(&b, 0), openssl_thumb("leaf.pem"));
    assert_string_equal(thumb_of(&b, 1), openssl_thumb("inter.pem"));
    /* the EC key is re-encoded with its curve: openssl reads it, and it is the leaf's */
    assert_memory_equal(b.key.data, "-----BEGIN EC PRIVATE KEY-----", 30);
    file = spit("p12.key", b.key.data, b.key.len);
    assert_string_equal(sh("openssl pkey -in %s -pubout | openssl sha1 -r | cut -c1-40", file),
                        sh("openssl pkey -in %s -pubout | openssl sha1 -r | cut -c1-40",
                           path("leaf.key")));
    assert_int_equal(tls_gen_key_info(b.key.data, b.key.len, &ki, &why), TLS_GEN_OK);
    assert_int_equal(tls_gen_cert_key_id(b.certs[0].data, b.certs[0].len, id), 0);
    assert_string_equal(id, ki.id);
    tls_gen_bundle_free(&b);

    assert_int_equal(read_bundle("rsa.p12", "secret", &b, &why), TLS_GEN_OK);
    assert_memory_equal(b.key.data, "-----BEGIN RSA PRIVATE KEY-----", 31);
    assert_string_equal(thumb_of(&b, (size_t)tls_gen_bundle_key_cert(&b)),
                        openssl_thumb("rsa.pem"));
    tls_gen_bundle_free(&b);

    assert_int_equal(read_bundle("default.p12", "wrong", &b, &why), TLS_GEN_PASSWORD);
    assert_string_equal(why, "the password is wrong (the PKCS#12 integrity check failed)");
    assert_null(b.certs);
    assert_int_equal(read_bundle("default.p12", NULL, &b, &why), TLS_GEN_PASSWORD);
    assert_non_null(strstr(why, "missing (--password)"));
    assert_int_equal(read_bundle("empty.p12", NULL, &b, &why), TLS_GEN_OK);
    assert_int_equal(b.ncerts, 1);
    tls_gen_bundle_free(&b);

    /* -legacy: RC2-40 for the certificates, which wolfSSL 5.5.4 lacks */
    assert_int_equal(read_bundle("legacy.p12", "secret", &b, &why), TLS_GEN_ERROR);
    assert_non_null(strstr(why, "RC2-40"));
    assert_non_null(strstr(why, "-certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256"));
    assert_int_equal(read_bundle("legacy.p12", "wrong", &b, &why), TLS_GEN_PASSWORD);
}

static void test_pem_and_der(void **state)
{
    struct tls_gen_bundle b;
    struct tls_gen_buf pem;
    const char *why = NULL;

    /* any order in, leaf first out (the leaf named by index, as a request's key finds it) */
    assert_int_equal(read_bundle("shuffled.pem", NULL, &b, &why), TLS_GEN_OK);
    assert_int_equal(b.ncerts, 3);
    assert_false(b.pkcs12);
    assert_null(b.key.data);
    assert_int_equal(tls_gen_bundle_key_cert(&b), -1);
    tls_gen_bundle_order(&b, 1);
    assert_string_equal(thumb_of(&b, 0), openssl_thumb("leaf.pem"));
    assert_string_equal(thumb_of(&b, 1), openssl_thumb("inter.pem"));
    assert_string_equal(thumb_of(&b, 2), openssl_thumb("root.pem"));
    tls_gen_bundle_pem(&b, &pem);
    spit("ordered.pem", pem.data, pem.len);
    assert_string_equal(sh("openssl verify -CAfile %s -untrusted %s %s 2>&1 | tail -1",
                           path("root.pem"), path("ordered.pem"), path("ordered.pem")),
                        strcat(strcpy((char[300]){ 0 }, path("ordered.pem")), ": OK"));
    tls_gen_buf_free(&pem);
    tls_gen_bundle_free(&b);

    /* certificate and PKCS#8 key in one PEM file; an encrypted key */
    assert_int_equal(read_bundle("withkey.pem", NULL, &b, &why), TLS_GEN_OK);
    assert_non_null(b.key.data);
    assert_int_equal(tls_gen_bundle_key_cert(&b), 0);
    tls_gen_bundle_free(&b);
    assert_int_equal(read_bundle("withenckey.pem", "topsecret", &b, &why), TLS_GEN_OK);
    assert_int_equal(tls_gen_bundle_key_cert(&b), 0);
    tls_gen_bundle_free(&b);
    assert_int_equal(read_bundle("withenckey.pem", NULL, &b, &why), TLS_GEN_PASSWORD);
    assert_int_equal(read_bundle("withenckey.pem", "nope", &b, &why), TLS_GEN_PASSWORD);

    /* DER certificate; a request is not a certificate; junk */
    assert_int_equal(read_bundle("leaf.der", NULL, &b, &why), TLS_GEN_OK);
    assert_int_equal(b.ncerts, 1);
    assert_string_equal(thumb_of(&b, 0), openssl_thumb("leaf.pem"));
    tls_gen_bundle_free(&b);
    assert_int_equal(read_bundle("leaf.csr", NULL, &b, &why), TLS_GEN_ERROR);
    assert_non_null(strstr(why, "holds a certificate request, not a certificate"));
    assert_int_equal(read_bundle("x.cnf", NULL, &b, &why), TLS_GEN_ERROR);
    assert_string_equal(why, "neither PEM, a DER certificate nor PKCS#12");
    assert_int_equal(tls_gen_bundle_read((const unsigned char *)"", 0, NULL, &b, &why),
                     TLS_GEN_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_kinds),
        cmocka_unit_test(test_self_signed),
        cmocka_unit_test(test_renew_like),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_subject_parse),
        cmocka_unit_test(test_domain_ok),
        cmocka_unit_test(test_make_errors),
        cmocka_unit_test(test_pkcs12),
        cmocka_unit_test(test_pem_and_der),
    };

    log_init("tls_certgen_test", LOG_ERROR);
    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
