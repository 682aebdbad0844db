/*
 * tls_facts_test.c - a chain read from a file judged as a handshake judges
 * a peer's (tls_facts_from_chain, for `domsec test-partner --inbound`):
 * every kind of certificate of the test PKI against trusted-ca.pem, with
 * the CRLs of inter and root published (root.crl revokes inter2), row by row (chain verdict, the
 * X509_V code, revocation, the reason text); the same with no CRLs; and
 * tls_chain_read_pem on a chain, a file without PEM and a missing file;
 * chains with two intermediates (in order, out of order, with a root,
 * with an unrelated or expired CA, under a pathlen:0 CA) judged as a real
 * in-memory wolfSSL handshake on the same chain judges them; serverAuth-only
 * client certificates as a server handshake judges them (EKU fact, pin).
 *
 * The group setup builds the test PKI (tls_pki_test_util.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_internal.h"
#include "tls_pki_test_util.h"
#include "tls_store.h"

static int setup_pki(void **state)
{
    if (pki_build("tls_facts_test") != 0)
        return -1;
    /* partner-ok without its intermediate; a file with no certificate in it. */
    if (sh("sed '/END CERTIFICATE/q' %s > %s", path("partner-ok.pem"), path("leaf-only.pem"))
        != 0 || sh("echo not a certificate > %s", path("junk.pem")) != 0)
        return -1;
    /* Two intermediates: root -> mid -> sub -> leaf3, sent in order, out of
     * order, with the root, with an unrelated root; sub0 under inter
     * (pathlen:0) -> leafp, which no verifier may accept; subx under root,
     * expired in 2021 -> leafx, alone and next to a good chain. */
    if (sh("cd %s && printf '%%s\\n' '[ca]' 'basicConstraints=critical,CA:TRUE' "
           "'keyUsage=critical,keyCertSign,cRLSign' 'subjectKeyIdentifier=hash' "
           "'authorityKeyIdentifier=keyid' '[leaf]' 'basicConstraints=critical,CA:FALSE' "
           "'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth,clientAuth' "
           "'subjectAltName=DNS:mail.woodgrovebank.test' 'subjectKeyIdentifier=hash' "
           "'authorityKeyIdentifier=keyid' > deep.cnf && "
           "mk() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key "
           "&& openssl req -new -key $1.key -subj \"/O=Domsec Test PKI/CN=$4\" -out $1.csr "
           "&& openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial "
           "-days 30 -extfile deep.cnf -extensions $3 -out $1.pem; } >>../pki.log 2>&1 && "
           "mk mid root ca 'Domsec Test Mid CA' && mk sub mid ca 'Domsec Test Sub CA' && "
           "mk leaf3 sub leaf mail.woodgrovebank.test && "
           "mk sub0 inter ca 'Domsec Test Sub CA 0' && mk leafp sub0 leaf mail.woodgrovebank.test && "
           "cat leaf3.pem sub.pem mid.pem > deep-inorder.pem && "
           "cat leaf3.pem mid.pem sub.pem > deep-outoforder.pem && "
           "cat leaf3.pem sub.pem mid.pem root.pem > deep-withroot.pem && "
           "cat leaf3.pem sub.pem mid.pem rogue.pem > deep-withrogue.pem && "
           "cat leaf3.pem mid.pem root.pem sub.pem > deep-subsentlast.pem && "
           "cat leafp.pem sub0.pem inter.pem > deep-pathlen.pem && "
           "printf '%%s\n' '[ca]' 'default_ca=x' '[x]' 'database=db.txt' 'new_certs_dir=.' "
           "'serial=db.serial' 'default_md=sha256' 'policy=p' '[p]' 'commonName=supplied' "
           "'organizationName=optional' > db.cnf && : > db.txt && echo 1000 > db.serial && "
           "openssl req -new -key sub.key -subj '/O=Domsec Test PKI/CN=Domsec Test Old CA' "
           "-out subx.csr >>../pki.log 2>&1 && openssl ca -batch -config db.cnf -notext "
           "-cert root.pem -keyfile root.key -in subx.csr -out subx.pem "
           "-startdate 20200101000000Z -enddate 20210101000000Z -extfile deep.cnf "
           "-extensions ca >>../pki.log 2>&1 && cp sub.key subx.key && "
           "mk leafx subx leaf mail.woodgrovebank.test && "
           "cat leafx.pem subx.pem > deep-expiredsub.pem && "
           "cat leaf3.pem sub.pem mid.pem subx.pem > deep-withexpired.pem", path("")) != 0)
        return -1;
    return 0;
}

static int teardown_pki(void **state)
{
    tls_crl_cleanup();
    return pki_remove();
}

/* publish - the CRLs of inter and root, as domsecd publishes its set */

static void publish(void)
{
    struct tls_crl_set *s = tls_crl_set_new();
    const char *why = NULL;

    assert_int_equal(tls_crl_set_add_issuers_file(s, path("trusted-ca.pem"), true, &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("inter.crl"), &why), 0);
    assert_int_equal(tls_crl_set_add_file(s, path("root.crl"), &why), 0);
    tls_crl_publish(s);
}

struct row {
    const char *file;
    size_t  ncerts;                     /* certificates in the file */
    enum tls_chain chain;
    long    code;                       /* X509_V_* */
    enum tls_revocation rev;
    const char *reason;                 /* substring of tls_facts_detail(), "" = empty */
};

static const struct row rows[] = {
    { "partner-ok.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_GOOD, "" },
    { "partner-revoked.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_REVOKED,
      "revoked by CN=Domsec Test Intermediate CA, O=Domsec Test PKI" },
    { "partner-untrusted.pem", 2, TLS_CHAIN_UNTRUSTED, 20, TLS_REV_NOT_CHECKED,
      "partner sent 2 certificates; chain does not end at a trusted root: CN=Rogue Test "
      "Root CA, O=Rogue Test PKI is not in trusted_ca_file" },
    { "partner-selfsigned.pem", 1, TLS_CHAIN_UNTRUSTED, 18, TLS_REV_NOT_CHECKED,
      "partner sent 1 certificate; self-signed certificate not in trusted_ca_file" },
    { "leaf-only.pem", 1, TLS_CHAIN_UNTRUSTED, 20, TLS_REV_NOT_CHECKED,
      "partner sent 1 certificate; issuer CN=Domsec Test Intermediate CA, O=Domsec Test "
      "PKI not found" },
    { "partner-expired.pem", 2, TLS_CHAIN_EXPIRED, 10, TLS_REV_NOT_CHECKED, "" },
    { "partner-notyet.pem", 2, TLS_CHAIN_NOT_YET_VALID, 9, TLS_REV_NOT_CHECKED, "" },
    { "partner-noeku.pem", 2, TLS_CHAIN_BAD_EKU, 0, TLS_REV_NOT_CHECKED, "" },
    { "partner-noeku-server.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_GOOD, "" },   /* clientAuth */
    /* Its intermediate is revoked by the root (root.crl): the chain is revoked. */
    { "partner-under-inter2.pem", 2, TLS_CHAIN_VALID, 0, TLS_REV_REVOKED,
      "(CN=Domsec Test Intermediate CA 2, O=Domsec Test PKI) revoked by CN=Domsec Test Root "
      "CA, O=Domsec Test PKI" },
};

/* judge - read and judge one file of the PKI */

static void judge(const char *file, size_t want_n, struct tls_facts *f)
{
    struct tls_crl_cert *chain = NULL;
    const char *why = NULL;
    size_t  n = 0;

    assert_int_equal(tls_chain_read_pem(path(file), &chain, &n, &why), 0);
    assert_int_equal(n, want_n);
    assert_int_equal(tls_facts_from_chain(chain, n, path("trusted-ca.pem"), f, &why), 0);
    assert_true(f->peer_cert);
    assert_ptr_equal(f->peer_der, chain[0].der);
    f->peer_der = NULL;                 /* freed next */
    tls_chain_free(chain, n);
}

static void test_rows(void **state)
{
    publish();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct tls_facts f;

        judge(r->file, r->ncerts, &f);
        if (f.chain != r->chain || f.verify_code != r->code || f.revocation != r->rev
            || (r->reason[0] == '\0' ? tls_facts_detail(&f)[0] != '\0'
                                     : strstr(tls_facts_detail(&f), r->reason) == NULL))
            fail_msg("%s: chain %d code %ld revocation %d detail \"%s\"", r->file, (int)f.chain,
                     f.verify_code, (int)f.revocation, tls_facts_detail(&f));
    }
    tls_crl_publish(NULL);
}

/*
 * A real handshake over memory: a server presenting chain_file (its key
 * key_file) to a client that trusts trusted-ca.pem and verifies as domsecd
 * does (WOLFSSL_VERIFY_PEER, a callback that records and never refuses).
 * The X509_V code the client's handshake recorded, or -1 if it failed.
 */
static unsigned char hs_buf[2][1 << 16];
static size_t hs_len[2];

static int hs_send(WOLFSSL *ssl, char *b, int sz, void *ctx)
{
    int     to = ctx != NULL;           /* 1: client -> server */

    if (hs_len[to] + (size_t)sz > sizeof(hs_buf[0]))
        return WOLFSSL_CBIO_ERR_GENERAL;
    memcpy(hs_buf[to] + hs_len[to], b, (size_t)sz);
    hs_len[to] += (size_t)sz;
    return sz;
}

static int hs_recv(WOLFSSL *ssl, char *b, int sz, void *ctx)
{
    int     from = ctx == NULL;         /* the client reads what the server sent */
    size_t  k = hs_len[from] < (size_t)sz ? hs_len[from] : (size_t)sz;

    if (k == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    memcpy(b, hs_buf[from], k);
    memmove(hs_buf[from], hs_buf[from] + k, hs_len[from] - k);
    hs_len[from] -= k;
    return (int)k;
}

static int hs_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    return 1;
}

/*
 * hs_run - a handshake between contexts sc and cc over memory; the facts of
 * the judging side (the server when server_judges, else the client) into
 * *f (peer DER copied into *der, the caller frees it).  0 or -1 (failed).
 */
static int hs_run(WOLFSSL_CTX *sc, WOLFSSL_CTX *cc, bool server_judges, struct tls_facts *f,
                  unsigned char **der)
{
    WOLFSSL *s, *c;
    int     rs = 0, rc = 0, ok;

    for (int i = 0; i < 2; i++) {
        wolfSSL_CTX_SetIORecv(i ? cc : sc, hs_recv);
        wolfSSL_CTX_SetIOSend(i ? cc : sc, hs_send);
    }
    s = wolfSSL_new(sc);
    c = wolfSSL_new(cc);
    wolfSSL_SetIOReadCtx(s, NULL);
    wolfSSL_SetIOWriteCtx(s, NULL);
    wolfSSL_SetIOReadCtx(c, (void *)1);
    wolfSSL_SetIOWriteCtx(c, (void *)1);
    hs_len[0] = hs_len[1] = 0;
    for (int i = 0; i < 20 && (rc != WOLFSSL_SUCCESS || rs != WOLFSSL_SUCCESS); i++) {
        if (rc != WOLFSSL_SUCCESS && (rc = wolfSSL_connect(c)) != WOLFSSL_SUCCESS
            && wolfSSL_get_error(c, rc) != WOLFSSL_ERROR_WANT_READ)
            break;
        if (rs != WOLFSSL_SUCCESS && (rs = wolfSSL_accept(s)) != WOLFSSL_SUCCESS
            && wolfSSL_get_error(s, rs) != WOLFSSL_ERROR_WANT_READ)
            break;
    }
    ok = server_judges ? rs == WOLFSSL_SUCCESS : rc == WOLFSSL_SUCCESS;
    memset(f, 0, sizeof(*f));
    *der = ok ? tls__facts_collect(server_judges ? s : c, f) : NULL;
    wolfSSL_free(c);
    wolfSSL_free(s);
    wolfSSL_CTX_free(cc);
    wolfSSL_CTX_free(sc);
    return ok ? 0 : -1;
}

static long handshake_code(const char *chain_file, const char *key_file)
{
    WOLFSSL_CTX *sc = wolfSSL_CTX_new(wolfTLS_server_method());
    WOLFSSL_CTX *cc = wolfSSL_CTX_new(wolfTLS_client_method());
    struct tls_facts f;
    unsigned char *der = NULL;
    long    code;

    assert_non_null(sc);
    assert_non_null(cc);
    assert_int_equal(wolfSSL_CTX_use_certificate_chain_file(sc, chain_file), WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_use_PrivateKey_file(sc, key_file, WOLFSSL_FILETYPE_PEM),
                     WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_load_verify_locations(cc, path("trusted-ca.pem"), NULL),
                     WOLFSSL_SUCCESS);
    wolfSSL_CTX_set_verify(cc, WOLFSSL_VERIFY_PEER, hs_verify);
    code = hs_run(sc, cc, false, &f, &der) == 0 ? f.verify_code : -1;
    free(der);
    return code;
}

/*
 * server_facts - the facts a server (our relay.pem, trusting
 * trusted-ca.pem, requesting a client certificate as domsecd does) records
 * for a client presenting chain_file (key key_file); the handshake must
 * succeed.  *der: the leaf copy to free.
 */
static void server_facts(const char *chain_file, const char *key_file, struct tls_facts *f,
                         unsigned char **der)
{
    WOLFSSL_CTX *sc = wolfSSL_CTX_new(wolfTLS_server_method());
    WOLFSSL_CTX *cc = wolfSSL_CTX_new(wolfTLS_client_method());

    assert_non_null(sc);
    assert_non_null(cc);
    assert_int_equal(wolfSSL_CTX_use_certificate_chain_file(sc, path("relay.pem")),
                     WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_use_PrivateKey_file(sc, path("relay.key"),
                                                     WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_use_certificate_chain_file(cc, chain_file), WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_use_PrivateKey_file(cc, key_file, WOLFSSL_FILETYPE_PEM),
                     WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_load_verify_locations(sc, path("trusted-ca.pem"), NULL),
                     WOLFSSL_SUCCESS);
    wolfSSL_CTX_set_verify(sc, WOLFSSL_VERIFY_PEER, hs_verify);
    wolfSSL_CTX_set_verify(cc, WOLFSSL_VERIFY_NONE, NULL);
    assert_int_equal(hs_run(sc, cc, true, f, der), 0);
}

/* hs_chain - the verdict of a handshake's X509_V code (tls_facts.c's
 * mapping; every leaf here has both EKUs) */

static enum tls_chain hs_chain(long code)
{
    switch (code) {
    case 0:
        return TLS_CHAIN_VALID;
    case 9:
        return TLS_CHAIN_NOT_YET_VALID;
    case 10:
        return TLS_CHAIN_EXPIRED;
    case 2: case 18: case 19: case 20: case 21: case 24:
        return TLS_CHAIN_UNTRUSTED;
    default:
        return TLS_CHAIN_INVALID;
    }
}

/* Chains judged as a handshake on them judges (same verdict; the reason). */
static const struct {
    const char *file, *key;
    size_t  ncerts;
    enum tls_chain chain;
    const char *reason;                 /* substring of tls_facts_detail(), "" = any */
} deep[] = {
    { "partner-ok.pem", "partner-ok.key", 2, TLS_CHAIN_VALID, "" },
    { "leaf-only.pem", "partner-ok.key", 1, TLS_CHAIN_UNTRUSTED, "" },
    { "partner-untrusted.pem", "partner-untrusted.key", 2, TLS_CHAIN_UNTRUSTED, "" },
    { "partner-selfsigned.pem", "partner-selfsigned.key", 1, TLS_CHAIN_UNTRUSTED, "" },
    { "partner-expired.pem", "partner-expired.key", 2, TLS_CHAIN_EXPIRED, "" },
    { "deep-inorder.pem", "leaf3.key", 3, TLS_CHAIN_VALID, "" },
    { "deep-withroot.pem", "leaf3.key", 4, TLS_CHAIN_VALID, "" },
    { "deep-withrogue.pem", "leaf3.key", 4, TLS_CHAIN_VALID, "" },
    /* Processed from the last: sub before its issuer mid, so never trusted. */
    { "deep-outoforder.pem", "leaf3.key", 3, TLS_CHAIN_UNTRUSTED,
      "partner sent 3 certificates out of order: CN=Domsec Test Sub CA, O=Domsec Test PKI "
      "(certificate 2) comes after its issuer CN=Domsec Test Mid CA, O=Domsec Test PKI "
      "(certificate 1); each must be followed by its issuer" },
    { "deep-subsentlast.pem", "leaf3.key", 4, TLS_CHAIN_UNTRUSTED,
      "(certificate 3) comes after its issuer CN=Domsec Test Mid CA, O=Domsec Test PKI "
      "(certificate 1)" },
    /* sub0's issuer inter has pathlen:0: refused for that, not for a missing root. */
    { "deep-pathlen.pem", "leafp.key", 3, TLS_CHAIN_UNTRUSTED,
      "partner sent 3 certificates; certificate 1 (CN=Domsec Test Sub CA 0, O=Domsec Test "
      "PKI) does not verify: ASN CA path length" },
    /* An expired intermediate, on the leaf's path or not: an invalid CA. */
    { "deep-expiredsub.pem", "leafx.key", 2, TLS_CHAIN_UNTRUSTED,
      "certificate 1 (O=Domsec Test PKI, CN=Domsec Test Old CA) does not verify: ASN date "
      "error, current date after" },
    { "deep-withexpired.pem", "leaf3.key", 4, TLS_CHAIN_UNTRUSTED,
      "certificate 3 (O=Domsec Test PKI, CN=Domsec Test Old CA) does not verify" },
};

static void test_chain_order_as_handshake(void **state)
{
    tls_crl_publish(NULL);
    for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
        struct tls_facts f;
        long    hs = handshake_code(path(deep[i].file), path(deep[i].key));
        const char *d;

        judge(deep[i].file, deep[i].ncerts, &f);
        d = tls_facts_detail(&f);
        if (f.chain != deep[i].chain || hs_chain(hs) != deep[i].chain
            || (deep[i].reason[0] != '\0' && strstr(d, deep[i].reason) == NULL))
            fail_msg("%s: chain %d (want %d) code %ld, handshake's code %ld, detail \"%s\"",
                     deep[i].file, (int)f.chain, (int)deep[i].chain, f.verify_code, hs, d);
    }
}

static void test_no_crls_is_unknown(void **state)
{
    struct tls_facts f;

    tls_crl_publish(NULL);
    judge("partner-ok.pem", 2, &f);
    assert_int_equal(f.chain, TLS_CHAIN_VALID);
    assert_int_equal(f.revocation, TLS_REV_UNKNOWN);
    assert_string_equal(f.revocation_reason, "no CRLs loaded");
}

static void test_read_pem_errors(void **state)
{
    struct tls_crl_cert *chain = NULL;
    struct tls_facts f;
    const char *why = NULL;
    size_t  n = 7;

    assert_int_equal(tls_chain_read_pem(path("junk.pem"), &chain, &n, &why), -1);
    assert_string_equal(why, "holds no PEM certificate");
    assert_null(chain);
    assert_int_equal(n, 0);
    assert_int_equal(tls_chain_read_pem(path("missing.pem"), &chain, &n, &why), -1);
    assert_string_equal(why, "cannot be read");
    assert_int_equal(tls_facts_from_chain(NULL, 0, path("trusted-ca.pem"), &f, &why), -1);
    assert_string_equal(why, "no certificate");
    assert_int_equal(tls_chain_read_pem(path("partner-ok.pem"), &chain, &n, &why), 0);
    assert_int_equal(tls_facts_from_chain(chain, n, path("missing-ca.pem"), &f, &why), -1);
    assert_string_equal(why, "trusted_ca_file cannot be loaded");
    tls_chain_free(chain, n);
}

/*
 * A serverAuth-only client certificate (a 2026 public-CA leaf): wolfSSL's
 * server side gives EXTKEYUSE_AUTH_E to the verify callback, which records
 * and never refuses.  The chain verdict must stay the chain's own: Valid
 * under the trusted intermediate, Untrusted under the rogue root (-386
 * must not hide the missing issuer), Expired when expired; eku_server_only
 * set for each, not for a leaf with both EKUs.  The pin is the leaf's SPKI
 * SHA-256 (tls_spki_sha256 of the DER the peer sent).
 */
static void test_server_only_client_cert(void **state)
{
    static const struct {
        const char *name;
        enum tls_chain chain;
        long    code;
        bool    server_only;
    } cases[] = {
        { "partner-serveronly", TLS_CHAIN_VALID, 0, true },
        { "partner-serveronly-untrusted", TLS_CHAIN_UNTRUSTED, 21, true },
        { "partner-serveronly-expired", TLS_CHAIN_EXPIRED, 10, true },
        { "partner-ok", TLS_CHAIN_VALID, 0, false },
        { "partner-noeku-server", TLS_CHAIN_VALID, 0, false },  /* clientAuth only */
        { "partner-untrusted", TLS_CHAIN_UNTRUSTED, 21, false },
    };
    char    file[64], key[64];

    publish();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tls_facts f, ff;
        struct tls_crl_cert *chain = NULL;
        unsigned char *der = NULL, pin[32];
        const char *why = NULL;
        size_t  n = 0;

        snprintf(file, sizeof(file), "%s.pem", cases[i].name);
        snprintf(key, sizeof(key), "%s.key", cases[i].name);
        server_facts(path(file), path(key), &f, &der);
        assert_non_null(der);
        if (f.chain != cases[i].chain || f.verify_code != cases[i].code
            || f.eku_server_only != cases[i].server_only)
            fail_msg("%s: chain %d (want %d) code %ld (want %ld) server-only %d", file,
                     (int)f.chain, (int)cases[i].chain, f.verify_code, cases[i].code,
                     (int)f.eku_server_only);
        assert_int_equal(tls_spki_sha256(der, f.peer_der_len, pin), 0);
        assert_memory_equal(f.spki_sha256, pin, 32);
        /* The same facts from the file (domsec test-partner --inbound). */
        assert_int_equal(tls_chain_read_pem(path(file), &chain, &n, &why), 0);
        assert_int_equal(tls_facts_from_chain(chain, n, path("trusted-ca.pem"), &ff, &why), 0);
        assert_int_equal(ff.chain, f.chain);
        assert_int_equal(ff.eku_server_only, f.eku_server_only);
        assert_memory_equal(ff.spki_sha256, pin, 32);
        tls_chain_free(chain, n);
        free(der);
    }
    tls_crl_publish(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_no_crls_is_unknown),
        cmocka_unit_test(test_chain_order_as_handshake),
        cmocka_unit_test(test_read_pem_errors),
        cmocka_unit_test(test_server_only_client_cert),
    };
    int     rc;

    log_init("tls_facts_test", LOG_WARN);
    rc = cmocka_run_group_tests(tests, setup_pki, teardown_pki);
    tls_thread_cleanup();
    return rc;
}
