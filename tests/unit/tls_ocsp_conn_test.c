/*
 * tls_ocsp_conn_test.c - the OCSP facts of real handshakes: a tls_conn
 * client against `openssl s_server` (test PKI of tests/pki/make-pki.sh with
 * OCSP_PORT) serving partner-ok or partner-revoked.
 *
 *  - stapling asked for and a good staple served: ocsp good, source stapled;
 *  - a revoked staple: wolfSSL 5.5.4 fails the handshake (no override);
 *  - no staple: the facts say not checked (the handshake looks at no OCSP
 *    cache and asks for no fetch: relay/ does both, for partners whose
 *    policy uses OCSP, from the conn's peer chain, as `cached` below);
 *    the cache empty, its verdict is unknown; asked with fetch,
 *    tls_ocsp_check_chain gives the miss hook the AIA URL and the DER
 *    request, which `openssl ocsp -index` answers; with that response put
 *    in the cache the next session's chain says good (or revoked).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include "tls_conn.h"
#include "tls_ctx.h"
#include "tls_ocsp.h"
#include "tls_pki_test_util.h"

#define OCSP_PORT "18125"               /* in the AIA URLs; nothing listens */

static struct {
    struct tls_facts facts;             /* at TLS_READY (peer_der cleared) */
    struct tls_ocsp_result cached;      /* the cache on the peer chain, no fetch */
    bool    ready, error;
    char    tls_err[200];
    struct tls_ctx *ctx;
    bool    staple;
} run_state;

static char miss_url[256];              /* what the miss hook heard last */
static int  misses;

/* on_miss - the tls_ocsp miss hook: keep the URL, write the request to req.der */

static void on_miss(const char *url, const unsigned char *req, size_t len, void *arg)
{
    FILE   *f = fopen(path("req.der"), "wb");

    (void)arg;
    misses++;
    snprintf(miss_url, sizeof(miss_url), "%s", url);
    assert_non_null(f);
    assert_int_equal(fwrite(req, 1, len, f), len);
    fclose(f);
}

static void on_event(struct tls_conn *c, enum tls_event ev, void *arg)
{
    (void)arg;
    switch (ev) {
    case TLS_EV_CONNECTED:
        tls_conn_want_staple(c, run_state.staple);
        assert_int_equal(tls_conn_starttls_client(c, run_state.ctx, "mail.woodgrovebank.test",
                                                  NULL), 0);
        tls_conn_resume(c);
        return;
    case TLS_EV_TLS_READY: {
        struct tls_crl_cert sent[4];
        size_t  n = tls_conn_peer_chain(c, sent, 4);

        run_state.ready = true;
        run_state.facts = *tls_conn_facts(c);
        run_state.facts.peer_der = NULL;        /* owned by the conn */
        assert_int_equal(n, 2);
        tls_ocsp_check_chain(sent, n, false, (int64_t)time(NULL), &run_state.cached);
        tls_conn_close(c, 0);
        return;
    }
    case TLS_EV_ERROR:
        run_state.error = true;
        snprintf(run_state.tls_err, sizeof(run_state.tls_err), "%s", tls_conn_tls_error(c));
        tls_conn_close(c, 0);
        return;
    case TLS_EV_EOF:
        tls_conn_close(c, 0);
        return;
    default:
        return;
    }
}

static pid_t server_pid;                 /* the running s_server, or 0 */

/* stop_server - kill the s_server of the last handshake (also the per-test
 * teardown, so a failed assertion leaves none listening) */

static int stop_server(void **state)
{
    (void)state;
    if (server_pid > 0)
        kill(server_pid, SIGTERM);
    server_pid = 0;
    return 0;
}

/* server_port - the port s_server (-accept 127.0.0.1:0) chose, read from its
 * "ACCEPT 127.0.0.1:PORT" line in out; 0 if none within 10 s */

static int server_port(const char *out)
{
    struct timespec tick = { 0, 20 * 1000 * 1000 };
    char    line[128];
    int     port = 0;

    for (int i = 0; i < 500 && port == 0; i++) {      /* at most 10 s */
        FILE   *f = fopen(out, "r");

        while (f != NULL && port == 0 && fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "ACCEPT 127.0.0.1:", 17) == 0)
                port = atoi(line + 17);
        if (f != NULL)
            fclose(f);
        if (port == 0)
            nanosleep(&tick, NULL);
    }
    return port;
}

/* handshake - one TLS handshake with s_server serving cert (staple: the DER
 * response file to staple, or NULL); the facts in run_state */

static void handshake(const char *cert, const char *staple, bool want_staple)
{
    int     port, err;
    char    pidfile[300], pidtext[32] = "";
    const char *why = NULL;
    struct sockaddr_in a;
    uv_loop_t loop;
    struct tls_conn *c;
    FILE   *f;

    memset(&run_state, 0, sizeof(run_state));
    run_state.staple = want_staple;
    snprintf(pidfile, sizeof(pidfile), "%s", path("s_server.pid"));
    /* Port 0: s_server binds one itself and says which (no pick-then-bind race). */
    assert_int_equal(sh("cd %s && rm -f s_server.out && (openssl s_server -accept 127.0.0.1:0 "
                        "-cert %s.pem -key %s.key -cert_chain inter.pem %s%s -www "
                        ">s_server.out 2>>s_server.log & echo $! > %s)", path(""), cert, cert,
                        staple ? "-status_file " : "", staple ? staple : "", pidfile), 0);
    assert_non_null(f = fopen(pidfile, "r"));
    assert_non_null(fgets(pidtext, sizeof(pidtext), f));
    fclose(f);
    server_pid = (pid_t)atoi(pidtext);
    assert_true(server_pid > 0);
    assert_true((port = server_port(path("s_server.out"))) > 0);
    run_state.ctx = tls_ctx_client_new(NULL, NULL, path("trusted-ca.pem"), &why);
    assert_non_null(run_state.ctx);
    uv_loop_init(&loop);
    uv_ip4_addr("127.0.0.1", port, &a);
    c = tls_conn_connect(&loop, (struct sockaddr *)&a, NULL, on_event, NULL, &err);
    assert_non_null(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    tls_ctx_unref(run_state.ctx);
    stop_server(NULL);
    assert_true(run_state.ready || run_state.error);
}

/* ask - what relay/ does for a partner whose policy uses OCSP: check the
 * sent chain (leaf, inter) with fetch, so the miss hook hears of it */

static void ask(const char *leaf)
{
    struct tls_crl_cert c[2];
    struct tls_ocsp_result r;
    char    file[64];

    snprintf(file, sizeof(file), "%s.der", leaf);
    assert_int_equal(sh("cd %s && openssl x509 -in %s.pem -outform DER -out %s && "
                        "openssl x509 -in inter.pem -outform DER -out inter.der",
                        path(""), leaf, file), 0);
    c[0].der = slurp(path(file), &c[0].len);
    c[1].der = slurp(path("inter.der"), &c[1].len);
    tls_ocsp_check_chain(c, 2, true, (int64_t)time(NULL), &r);
    assert_int_equal(r.status, TLS_OCSP_UNKNOWN);
    free((void *)(uintptr_t)c[0].der);
    free((void *)(uintptr_t)c[1].der);
}

/* respond - openssl ocsp -index answers the request the miss hook wrote;
 * the response is put in the cache */

static void respond(void)
{
    unsigned char key[32], *req, *resp;
    size_t  qlen, rlen;

    assert_int_equal(sh("cd %s && openssl ocsp -index ca/inter/index.txt -CA inter.pem "
                        "-rsigner ocsp-inter.pem -rkey ocsp-inter.key -nmin 5 -reqin req.der "
                        "-respout resp.der >>ocsp.log 2>&1", path("")), 0);
    req = slurp(path("req.der"), &qlen);
    resp = slurp(path("resp.der"), &rlen);
    tls_ocsp_key(req, qlen, key);
    tls_ocsp_cache_put(key, resp, rlen);
    free(req);
    free(resp);
}

static int setup(void **state)
{
    (void)state;
    setenv("OCSP_PORT", OCSP_PORT, 1);
    if (pki_build("tls_ocsp_conn_test") != 0)
        return -1;
    /* the responses s_server staples, as openssl's own client would fetch them */
    if (sh("cd %s && for c in partner-ok partner-revoked; do "
           "openssl ocsp -issuer inter.pem -cert $c.pem -no_nonce -reqout $c.req && "
           "openssl ocsp -index ca/inter/index.txt -CA inter.pem -rsigner ocsp-inter.pem "
           "-rkey ocsp-inter.key -nmin 5 -reqin $c.req -respout $c.ocsp || exit 1; done "
           ">>ocsp.log 2>&1", path("")) != 0)
        return -1;
    tls_ocsp_set_miss_hook(on_miss, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tls_ocsp_set_miss_hook(NULL, NULL);
    tls_ocsp_cache_clear();
    return pki_remove() == 0 ? 0 : -1;
}

/* A good staple asked for: good, stapled; the cache is not consulted. */
static void test_stapled_good(void **state)
{
    (void)state;
    tls_ocsp_cache_clear();
    misses = 0;
    handshake("partner-ok", "partner-ok.ocsp", true);
    assert_true(run_state.ready);
    assert_int_equal(run_state.facts.chain, TLS_CHAIN_VALID);
    assert_int_equal(run_state.facts.ocsp, TLS_OCSP_GOOD);
    assert_int_equal(run_state.facts.ocsp_source, TLS_OCSP_SRC_STAPLED);
    assert_string_equal(run_state.facts.ocsp_reason, "");
    assert_int_equal(misses, 0);
}

/* A staple served but not asked for: not sent, so not checked at the
 * handshake; the (empty) cache, asked afterwards, has no answer. */
static void test_staple_not_asked(void **state)
{
    (void)state;
    tls_ocsp_cache_clear();
    misses = 0;
    handshake("partner-ok", "partner-ok.ocsp", false);
    assert_true(run_state.ready);
    assert_int_equal(run_state.facts.ocsp, TLS_OCSP_NOT_CHECKED);
    assert_int_equal(run_state.facts.ocsp_source, TLS_OCSP_SRC_NONE);
    assert_string_equal(run_state.facts.ocsp_reason, "");
    assert_int_equal(run_state.cached.status, TLS_OCSP_UNKNOWN);
    assert_string_equal(run_state.cached.reason, "no OCSP response yet");
    assert_int_equal(misses, 0);        /* tls/ never asks for a fetch by itself */
}

/* A revoked staple: wolfSSL 5.5.4 refuses the handshake itself. */
static void test_stapled_revoked_fails_handshake(void **state)
{
    (void)state;
    handshake("partner-revoked", "partner-revoked.ocsp", true);
    assert_false(run_state.ready);
    assert_true(run_state.error);
    assert_non_null(strstr(run_state.tls_err, "(-360)"));
}

/* A miss, then the fetched answer in the cache: good, fetched. */
static void test_fetched_good(void **state)
{
    (void)state;
    tls_ocsp_cache_clear();
    misses = 0;
    handshake("partner-ok", NULL, false);
    assert_int_equal(run_state.facts.ocsp, TLS_OCSP_NOT_CHECKED);
    assert_int_equal(run_state.cached.status, TLS_OCSP_UNKNOWN);
    assert_int_equal(misses, 0);
    ask("partner-ok");
    assert_int_equal(misses, 1);
    assert_string_equal(miss_url, "http://127.0.0.1:" OCSP_PORT "/");
    respond();
    handshake("partner-ok", NULL, false);
    assert_true(run_state.ready);
    assert_int_equal(run_state.facts.ocsp, TLS_OCSP_NOT_CHECKED);  /* no cache at handshake */
    assert_int_equal(run_state.cached.status, TLS_OCSP_GOOD);
    assert_string_equal(run_state.cached.reason, "");
    assert_int_equal(misses, 1);        /* a usable answer asks for nothing */
}

/* The same for a revoked certificate: revoked, fetched, with the serial. */
static void test_fetched_revoked(void **state)
{
    (void)state;
    tls_ocsp_cache_clear();
    misses = 0;
    handshake("partner-revoked", NULL, false);
    assert_int_equal(run_state.cached.status, TLS_OCSP_UNKNOWN);
    assert_int_equal(misses, 0);
    ask("partner-revoked");
    assert_int_equal(misses, 1);
    respond();
    handshake("partner-revoked", NULL, false);
    assert_true(run_state.ready);       /* record, never refuse */
    assert_int_equal(run_state.facts.ocsp, TLS_OCSP_NOT_CHECKED);
    assert_int_equal(run_state.cached.status, TLS_OCSP_REVOKED);
    assert_non_null(strstr(run_state.cached.reason, " revoked (OCSP response of CN=Domsec "
                           "Test Intermediate CA, O=Domsec Test PKI)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stapled_good, stop_server),
        cmocka_unit_test_teardown(test_staple_not_asked, stop_server),
        cmocka_unit_test_teardown(test_stapled_revoked_fails_handshake, stop_server),
        cmocka_unit_test_teardown(test_fetched_good, stop_server),
        cmocka_unit_test_teardown(test_fetched_revoked, stop_server),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
