/*
 * tls_conn_test.c - STARTTLS as a state change of one stream: a server and a
 * client tls_conn on a real loopback socket switch from plaintext to TLS,
 * exchange data both ways, and report facts; a client certificate that
 * chains to the trusted CA is VALID, a self-signed one UNTRUSTED (and says
 * why: tls_facts_detail); bytes pipelined after STARTTLS never reach the TLS
 * side.  Certificates are generated with the openssl CLI into a temporary
 * directory.  With the test PKI of tests/pki/make-pki.sh and a published
 * CRL set, a real handshake reports the client chain's revocation: good, a
 * revoked leaf, a revoked intermediate; with no set published, "unknown".
 * After the handshake state is released, one TLS session carries three
 * exchanges and a close_notify, and neither conn holds a buffer of its own
 * while idle; one that waits with a partial line holds just its bytes.
 * tls__zero_pages gives back exactly the all-zero pages of a
 * heap block (mincore says they are no longer resident) and every byte
 * reads the same afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "tls_conn.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_internal.h"

static char dir[] = "/tmp/tlsconntestXXXXXX";
static char pki[600];                   /* dir/pki: make-pki.sh's PKI */

struct side {
    struct tls_conn *c;
    char    got[256];
    size_t  glen;
    bool    ready, closed, error;
    const char *send_after_ready;
};

static struct side srv, cli;
static struct tls_facts server_facts;   /* the server's facts at TLS_READY */
static struct tls_ctx *sctx, *cctx;
static bool request_cert;
static const char *injected;            /* sent by the client right after STARTTLS */
static size_t dropped;
static uv_tcp_t listener;
static int rounds;                      /* >0: PING/PONG exchanges, then the client
                                         * alone closes (close_notify); 0: one, both close */
static int pongs;                       /* PONGs the client has received */
static bool srv_eof;                    /* the server saw the client's close as EOF */
static size_t idle_bytes;               /* most tls_conn_buffer_bytes() at idle points */
static bool partial_line;               /* the client's PING is followed by "PA": the
                                         * server consumes whole lines only */
static size_t srv_held = SIZE_MAX;      /* tls_conn_buffer_bytes(server) at the PONG */

static void path(char *out, const char *name)
{
    snprintf(out, 512, "%s/%s", dir, name);
}

static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* side_round - rounds mode: the server answers each PING line with PONG; the
 * client sends the next PING, or closes after the last PONG */

static void side_round(struct side *s, struct tls_conn *c)
{
    size_t held;

    if (s->glen == 0 || s->glen % 6 != 0)
        return;                         /* wait for the whole line */
    if (s == &srv) {
        assert_memory_equal(s->got + s->glen - 6, "PING\r\n", 6);
        tls_conn_write(c, "PONG\r\n", 6);
        assert_int_equal(tls_conn_flush(c), 0);
    } else {
        assert_memory_equal(s->got + s->glen - 6, "PONG\r\n", 6);
        pongs++;
    }
    /* Everything read was consumed and everything written flushed: idle. */
    held = tls_conn_buffer_bytes(c);
    idle_bytes = held > idle_bytes ? held : idle_bytes;
    if (s == &cli && pongs < rounds) {
        tls_conn_write(c, "PING\r\n", 6);
        assert_int_equal(tls_conn_flush(c), 0);
    } else if (s == &cli) {
        tls_conn_close(c, 1000);        /* close_notify; the server sees EOF */
    }
}

static void side_event(struct tls_conn *c, enum tls_event ev, void *arg)
{
    struct side *s = arg;
    const char *p;
    size_t len;

    switch (ev) {
    case TLS_EV_CONNECTED:              /* client: plaintext STARTTLS + injection */
        tls_conn_write(c, "STARTTLS\r\n", 10);
        if (injected)
            tls_conn_write(c, injected, strlen(injected));
        tls_conn_flush(c);
        tls_conn_resume(c);
        return;
    case TLS_EV_DATA_IN:
        p = tls_conn_peek(c, &len);
        if (s == &srv && tls_conn_facts(c) == NULL) {   /* plaintext command */
            const char *nl = memchr(p, '\n', len);

            if (nl == NULL)
                return;
            tls_conn_consume(c, (size_t)(nl - p) + 1);
            tls_conn_write(c, "220 2.0.0 SMTP server ready\r\n", 29);
            assert_int_equal(tls_conn_starttls_server(c, sctx, request_cert, &dropped), 0);
            return;
        }
        if (s == &cli && tls_conn_facts(c) == NULL) {   /* the 220 */
            const char *nl = memchr(p, '\n', len);

            if (nl == NULL)
                return;
            assert_memory_equal(p, "220 ", 4);
            tls_conn_consume(c, len);
            assert_int_equal(tls_conn_starttls_client(c, cctx, "mail.contoso.test", NULL), 0);
            return;
        }
        if (partial_line && s == &srv) {       /* whole lines only; "PA" stays */
            const char *nl = memrchr(p, '\n', len);

            len = nl != NULL ? (size_t)(nl - p) + 1 : 0;
        }
        memcpy(s->got + s->glen, p, len < sizeof(s->got) - s->glen ? len : 0);
        s->glen += len;
        tls_conn_consume(c, len);
        if (rounds > 0) {
            side_round(s, c);
            return;
        }
        if (s == &srv && memmem(s->got, s->glen, "PING\r\n", 6)) {
            tls_conn_write(c, "PONG\r\n", 6);
            tls_conn_flush(c);
        }
        if (s == &cli && memmem(s->got, s->glen, "PONG\r\n", 6)) {
            srv_held = tls_conn_buffer_bytes(srv.c);    /* its read callback is over */
            tls_conn_close(cli.c, 1000);
            tls_conn_close(srv.c, 1000);
            uv_close((uv_handle_t *)&listener, NULL);
        }
        return;
    case TLS_EV_TLS_READY:
        s->ready = true;
        if (s == &srv) {
            const struct tls_facts *f = tls_conn_facts(c);

            assert_non_null(f);
            server_facts = *f;
            server_facts.peer_der = NULL;       /* owned by the conn */
        }
        if (s->send_after_ready) {
            tls_conn_write(c, s->send_after_ready, strlen(s->send_after_ready));
            tls_conn_flush(c);
        }
        return;
    case TLS_EV_ERROR:
    case TLS_EV_EOF:
        s->error = ev == TLS_EV_ERROR;
        if (s == &srv && ev == TLS_EV_EOF)
            srv_eof = true;
        tls_conn_close(c, 0);
        if (!uv_is_closing((uv_handle_t *)&listener))
            uv_close((uv_handle_t *)&listener, NULL);
        return;
    case TLS_EV_CLOSED:
        s->closed = true;
        return;
    case TLS_EV_DRAINED:
        return;
    }
}

static void on_conn(uv_stream_t *server, int status)
{
    int err;

    srv.c = tls_conn_accept(server, side_event, &srv, &err);
    assert_non_null(srv.c);
    tls_conn_resume(srv.c);
}

/* run_with - one plaintext-then-STARTTLS exchange, PING/PONG inside TLS */

static void run_with(const char *cert, const char *key, const char *ca,
                     const char *client_cert, const char *client_key)
{
    struct sockaddr_in a;
    int len = sizeof(a), err;
    const char *why = NULL;
    uv_loop_t loop;

    memset(&server_facts, 0, sizeof(server_facts));
    memset(&srv, 0, sizeof(srv));
    memset(&cli, 0, sizeof(cli));
    cli.send_after_ready = partial_line ? "PING\r\nPA" : "PING\r\n";
    sctx = tls_ctx_server_new(cert, key, ca, &why);
    assert_non_null(sctx);
    cctx = tls_ctx_client_new(client_cert, client_key, ca, &why);
    assert_non_null(cctx);
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &listener);
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&listener, 8, on_conn), 0);
    uv_tcp_getsockname(&listener, (struct sockaddr *)&a, &len);
    cli.c = tls_conn_connect(&loop, (struct sockaddr *)&a, NULL, side_event, &cli, &err);
    assert_non_null(cli.c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(srv.ready);
    assert_true(cli.ready);
    assert_true(srv.closed && cli.closed);
    assert_false(srv.error || cli.error);
    assert_int_equal(uv_loop_close(&loop), 0);
    tls_ctx_unref(sctx);
    tls_ctx_unref(cctx);
    assert_non_null(memmem(srv.got, srv.glen, "PING\r\n", 6));
    assert_non_null(memmem(cli.got, cli.glen, "PONG\r\n", 6));
}

/* run - run_with the server certificate and CA made by setup */

static void run(const char *client_cert, const char *client_key)
{
    char cert[512], key[512], ca[512];

    path(cert, "server.pem");
    path(key, "server.key");
    path(ca, "ca.pem");
    run_with(cert, key, ca, client_cert, client_key);
}


static int setup(void **state)
{
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                        "-nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=Test\\ CA "
                        "-addext basicConstraints=critical,CA:TRUE 2>/dev/null", dir), 0);
    for (int i = 0; i < 2; i++) {
        const char *n = i ? "client" : "server";

        assert_int_equal(sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                            "-nodes -keyout %s.key -out %s.csr -subj /CN=%s.contoso.test "
                            "2>/dev/null && printf 'subjectAltName=DNS:%s.contoso.test\\n"
                            "extendedKeyUsage=serverAuth,clientAuth\\n' > %s.ext && "
                            "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key "
                            "-CAcreateserial -days 2 -extfile %s.ext -out %s.pem 2>/dev/null",
                            dir, n, n, "mail", "mail", n, n, n, n), 0);
    }
    assert_int_equal(sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                        "-nodes -keyout self.key -out self.pem -days 2 "
                        "-subj /CN=mail.contoso.test 2>/dev/null", dir), 0);
    {                                   /* tests/pki, beside this file's tests/unit */
        char src[512];
        const char *env = getenv("DOMSEC_TEST_DIR");

        snprintf(src, sizeof(src), "%s", env != NULL && *env ? env : __FILE__);
        if (env == NULL || *env == '\0')
            *(strrchr(src, '/') != NULL ? strrchr(src, '/') : src) = '\0';
        snprintf(pki, sizeof(pki), "%s/pki", dir);
        assert_int_equal(sh("sh %s/../pki/make-pki.sh %s >%s/pki.log 2>&1", src[0] ? src : ".",
                            pki, dir), 0);
    }
    return 0;
}

static int teardown(void **state)
{
    sh("rm -rf %s", dir);
    return 0;
}

/* check_facts - what the server knows after the handshake */

static void check_facts(enum tls_chain want, bool want_cert)
{
    const struct tls_facts *f = &server_facts;

    assert_true(strcmp(f->version, "TLSv1.3") == 0 || strcmp(f->version, "TLSv1.2") == 0);
    assert_true(strncmp(f->cipher, "TLS_", 4) == 0);
    assert_true(f->cipher_bits >= 128);
    assert_int_equal(f->peer_cert, want_cert);
    assert_int_equal(f->chain, want);
    if (want == TLS_CHAIN_VALID) {      /* checked, but no CRL set is published */
        assert_int_equal(f->revocation, TLS_REV_UNKNOWN);
        assert_string_equal(f->revocation_reason, "no CRLs loaded");
        assert_string_equal(tls_facts_detail(f), "no CRLs loaded");
    } else {
        assert_int_equal(f->revocation, TLS_REV_NOT_CHECKED);
        assert_string_equal(f->revocation_reason, "");
    }
    if (want == TLS_CHAIN_UNTRUSTED) {  /* the only one here: self.pem */
        assert_string_equal(f->chain_reason, "partner sent 1 certificate; self-signed "
                            "certificate not in trusted_ca_file");
        assert_ptr_equal(tls_facts_detail(f), f->chain_reason);
    } else {
        assert_string_equal(f->chain_reason, "");
    }
    if (want == TLS_CHAIN_NONE)
        assert_string_equal(tls_facts_detail(f), "");
}

static void test_no_client_cert(void **state)
{
    request_cert = false;
    injected = NULL;
    run(NULL, NULL);
    check_facts(TLS_CHAIN_NONE, false);
    assert_int_equal(dropped, 0);
}

static void test_trusted_client_cert(void **state)
{
    char c[512], k[512];

    path(c, "client.pem");
    path(k, "client.key");
    request_cert = true;
    injected = NULL;
    run(c, k);
    check_facts(TLS_CHAIN_VALID, true);
}

static void test_self_signed_client_cert_is_untrusted(void **state)
{
    char c[512], k[512];

    path(c, "self.pem");
    path(k, "self.key");
    request_cert = true;
    injected = NULL;
    run(c, k);                          /* the handshake succeeds: policy decides */
    check_facts(TLS_CHAIN_UNTRUSTED, true);
}

static void test_cert_not_requested_is_not_sent(void **state)
{
    char c[512], k[512];

    path(c, "client.pem");
    path(k, "client.key");
    request_cert = false;
    injected = NULL;
    run(c, k);
    check_facts(TLS_CHAIN_NONE, false);
}

/* Handshake state released (tls_conn.c, MEMORY): the session goes on. */

static void test_session_continues_after_handshake_state_is_released(void **state)
{
    char c[512], k[512];

    path(c, "client.pem");
    path(k, "client.key");
    request_cert = true;
    injected = NULL;
    rounds = 3;
    pongs = 0;
    srv_eof = false;
    idle_bytes = 0;
    run(c, k);
    rounds = 0;
    check_facts(TLS_CHAIN_VALID, true);
    assert_int_equal(pongs, 3);
    assert_true(srv_eof);               /* the client's close_notify, not an error */
    assert_int_equal(idle_bytes, 0);
}

/* An idle conn with a partial line holds its bytes, not a spare (MEMORY). */

static void test_partial_line_holds_no_spare(void **state)
{
    request_cert = false;
    injected = NULL;
    partial_line = true;
    srv_held = SIZE_MAX;
    run(NULL, NULL);
    partial_line = false;
    assert_int_equal(srv_held, 2);      /* "PA" alone: 17 KiB while it kept the spare */
}

static void test_injection_after_starttls_is_dropped(void **state)
{
    request_cert = false;
    injected = "RSET\r\n";             /* pipelined in the same write as STARTTLS */
    run(NULL, NULL);
    assert_int_equal(dropped, 6);
    assert_null(memmem(srv.got, srv.glen, "RSET", 4));  /* never seen inside TLS */
}

/* run_crl - a partner's client certificate against the relay, CRLs published */

static void run_crl(const char *partner)
{
    char cert[700], key[700], scert[700], skey[700], ca[700], crl[700];
    struct tls_crl_set *s = tls_crl_set_new();
    const char *why = NULL;

    snprintf(ca, sizeof(ca), "%s/trusted-ca.pem", pki);
    assert_int_equal(tls_crl_set_add_issuers_file(s, ca, true, &why), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(crl, sizeof(crl), "%s/%s.crl", pki, i == 0 ? "inter" : i == 1 ? "inter2" : "root");
        assert_int_equal(tls_crl_set_add_file(s, crl, &why), 0);
    }
    tls_crl_publish(s);
    snprintf(scert, sizeof(scert), "%s/relay.pem", pki);
    snprintf(skey, sizeof(skey), "%s/relay.key", pki);
    snprintf(cert, sizeof(cert), "%s/%s.pem", pki, partner);
    snprintf(key, sizeof(key), "%s/%s.key", pki, partner);
    request_cert = true;
    injected = NULL;
    run_with(scert, skey, ca, cert, key);
    tls_crl_publish(NULL);
    assert_true(server_facts.peer_cert);
    assert_int_equal(server_facts.chain, TLS_CHAIN_VALID);     /* wolfSSL's CRL check is off */
}

static void test_crl_good(void **state)
{
    run_crl("partner-ok");
    assert_int_equal(server_facts.revocation, TLS_REV_GOOD);
    assert_string_equal(server_facts.revocation_reason, "");
}

static void test_crl_revoked_leaf(void **state)
{
    run_crl("partner-revoked");
    assert_int_equal(server_facts.revocation, TLS_REV_REVOKED);
    assert_non_null(strstr(server_facts.revocation_reason, "OU=partner-revoked"));
    assert_non_null(strstr(server_facts.revocation_reason,
                           "revoked by CN=Domsec Test Intermediate CA, O=Domsec Test PKI"));
}

static void test_crl_revoked_intermediate(void **state)
{
    run_crl("partner-under-inter2");
    assert_int_equal(server_facts.revocation, TLS_REV_REVOKED);
    assert_non_null(strstr(server_facts.revocation_reason,
                           "(CN=Domsec Test Intermediate CA 2, O=Domsec Test PKI) revoked by "
                           "CN=Domsec Test Root CA"));
}

/* Zero pages of a heap block go back to the kernel; the bytes stay. */

static void test_zero_pages_are_given_back(void **state)
{
    size_t  page = (size_t)sysconf(_SC_PAGESIZE), size = 16 * page, given;
    unsigned char *p = malloc(size), *first, vec[1];

    assert_non_null(p);
    memset(p, 0, size);
    p[10] = 1;                          /* the first page (maybe partial) */
    p[size - 10] = 2;                   /* the last page */
    first = (unsigned char *)(((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1));
    first[page + 7] = 3;                /* a whole page that is not zero */
    given = tls__zero_pages(p);
    /* Of the >= 15 whole pages, the one with byte 3 and the last one stay. */
    assert_true(given >= 12 * page);
    assert_true(given <= 14 * page);
    assert_int_equal(mincore(first + 3 * page, page, vec), 0);
    assert_int_equal(vec[0] & 1, 0);    /* not resident any more */
    assert_int_equal(mincore(first + page, page, vec), 0);
    assert_int_equal(vec[0] & 1, 1);    /* the non-zero one is kept */
    for (size_t i = 0; i < size; i++)
        if (i != 10 && i != size - 10 && p + i != first + page + 7)
            assert_int_equal(p[i], 0);
    assert_int_equal(p[10], 1);
    assert_int_equal(p[size - 10], 2);
    assert_int_equal(first[page + 7], 3);
    first[3 * page] = 4;                /* writable again */
    assert_int_equal(first[3 * page], 4);
    assert_int_equal(tls__zero_pages(p), given - page);  /* that page now holds a 4 */
    free(p);
    assert_int_equal(tls__zero_pages(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_client_cert),
        cmocka_unit_test(test_trusted_client_cert),
        cmocka_unit_test(test_self_signed_client_cert_is_untrusted),
        cmocka_unit_test(test_cert_not_requested_is_not_sent),
        cmocka_unit_test(test_injection_after_starttls_is_dropped),
        cmocka_unit_test(test_partial_line_holds_no_spare),
        cmocka_unit_test(test_session_continues_after_handshake_state_is_released),
        cmocka_unit_test(test_zero_pages_are_given_back),
        cmocka_unit_test(test_crl_good),
        cmocka_unit_test(test_crl_revoked_leaf),
        cmocka_unit_test(test_crl_revoked_intermediate),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);

    tls_crl_cleanup();
    return rc;
}
