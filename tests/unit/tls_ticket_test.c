/*
 * tls_ticket_test.c - the session ticket keys: a sealed ticket opens to
 * what was sealed; a key seals for one lifetime and opens for two, so a
 * ticket of the previous key still opens after a rotation and one of the
 * key before is refused; a changed byte anywhere (name, iv, state, tag,
 * the unused half of the mac) is refused; a new lifetime keeps the keys;
 * two servers of the process (two contexts, as two connectors or two
 * configuration generations) open each other's tickets; four threads seal
 * and open at once.  The clock is the test's.
 *
 * Through wolfSSL, in memory, against a server context of tls_ctx.c: a
 * client that sends P-256 and X25519 key shares (P-256 first) gets X25519;
 * one that sends only a P-256 share gets P-256 with no HelloRetryRequest;
 * a ticket resumes on a second server context, and after the keys are
 * forgotten the same ticket gets a full handshake.
 *
 * The peer kept per ticket (tls_ticket_chain.c), with a partner's client
 * certificate: a chain is kept once for many tickets; a resumed ticket gets
 * the chain and verify result it was sealed with, and so does the ticket
 * sealed on it; a ticket whose entry is gone (cleared, pushed out by the
 * bound on entries) gets a full handshake though its key still opens it; a
 * bound on bytes drops chains; entries go with the key that sealed them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <stdbool.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "tls_conn.h"
#include "tls_ctx.h"
#include "tls_internal.h"
#include "tls_pki_test_util.h"
#include "tls_ticket.h"

#define STATE_LEN 180

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

struct ticket {
    unsigned char name[16], iv[16], mac[32], state[STATE_LEN];
};

static int setup(void **state)
{
    (void)state;
    tls__ticket_reset();
    tls__ticket_set_clock(fake_clock);
    tls_ticket_set_lifetime(3600);
    fake_now = 1000000;
    return 0;
}

/* seal - a ticket with a recognisable state */

static void seal(struct ticket *t, unsigned char fill)
{
    memset(t, 0, sizeof(*t));
    memset(t->state, fill, sizeof(t->state));
    assert_int_equal(tls__ticket_seal(t->name, t->iv, t->mac, t->state, STATE_LEN), 0);
}

/* opens - does a copy of t open, to its original state? */

static bool opens(const struct ticket *t, unsigned char fill)
{
    struct ticket c = *t;
    unsigned char want[STATE_LEN];
    if (tls__ticket_open(c.name, c.iv, c.mac, c.state, STATE_LEN) != 0)
        return false;
    memset(want, fill, sizeof(want));
    assert_memory_equal(c.state, want, STATE_LEN);
    return true;
}

static void test_round_trip(void **state)
{
    struct ticket t;
    unsigned char plain[STATE_LEN];

    (void)state;
    seal(&t, 0x5a);
    memset(plain, 0x5a, sizeof(plain));
    assert_memory_not_equal(t.state, plain, STATE_LEN);        /* sealed, not copied */
    assert_true(opens(&t, 0x5a));
}

static void test_rotation(void **state)
{
    struct ticket a, b, c;

    (void)state;
    seal(&a, 1);                        /* key A, born now */
    fake_now += 3599;
    seal(&b, 2);                        /* still A */
    assert_memory_equal(a.name, b.name, 16);
    fake_now += 1;
    seal(&c, 3);                        /* A's sealing hour is over: key B */
    assert_memory_not_equal(a.name, c.name, 16);
    assert_true(opens(&a, 1));          /* A opens for its second hour */
    assert_true(opens(&b, 2));
    assert_true(opens(&c, 3));
    fake_now += 3599;                   /* A is 7199 s old */
    assert_true(opens(&a, 1));
    fake_now += 1;                      /* two hours: A is gone */
    assert_false(opens(&a, 1));
    assert_true(opens(&c, 3));
    seal(&b, 4);                        /* B's hour is over: key C; A is forgotten */
    assert_memory_not_equal(b.name, c.name, 16);
    assert_false(opens(&a, 1));
    assert_true(opens(&c, 3));
    assert_true(opens(&b, 4));
}

static void test_quiet_server_key_expires(void **state)
{
    struct ticket a;

    (void)state;
    seal(&a, 7);
    fake_now += 2 * 3600;               /* no ticket sealed since, so no rotation */
    assert_false(opens(&a, 7));
}

static void test_clock_going_back(void **state)
{
    struct ticket a, b;

    (void)state;
    seal(&a, 7);
    fake_now -= 10;                     /* a key from the future opens nothing... */
    assert_false(opens(&a, 7));
    seal(&b, 8);                        /* ...and seals nothing: a new key */
    assert_memory_not_equal(a.name, b.name, 16);
    assert_true(opens(&b, 8));
}

static void test_tampered(void **state)
{
    struct ticket t, c;
    unsigned char *fields[] = {c.name, c.iv, c.mac, c.mac + 16, c.state, c.state + STATE_LEN - 1};

    (void)state;
    seal(&t, 9);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        c = t;
        fields[i][0] ^= 0x01;
        assert_false(opens(&c, 9));
    }
    /* A shorter ticket (its length is in the AAD) does not open either. */
    c = t;
    assert_int_equal(tls__ticket_open(c.name, c.iv, c.mac, c.state, STATE_LEN - 1), -1);
    assert_true(opens(&t, 9));
}

static void test_unknown_key_after_reset(void **state)
{
    struct ticket t;

    (void)state;
    seal(&t, 3);
    tls__ticket_reset();                /* a restarted daemon knows no key */
    assert_false(opens(&t, 3));
}

static void test_new_lifetime_keeps_keys(void **state)
{
    struct ticket t;

    (void)state;
    seal(&t, 6);
    tls_ticket_set_lifetime(600);       /* a reload with a shorter lifetime */
    assert_int_equal(tls_ticket_lifetime(), 600);
    assert_true(opens(&t, 6));
    fake_now += 1200;                   /* two of the new lifetimes */
    assert_false(opens(&t, 6));
}

static void test_contexts_use_the_keys(void **state)
{
    WOLFSSL_CTX *a, *b;

    (void)state;
    a = wolfSSL_CTX_new(wolfSSLv23_server_method());
    b = wolfSSL_CTX_new(wolfSSLv23_server_method());
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(tls__ticket_use(a, 0), 0);
    assert_int_equal(tls__ticket_use(b, 600), 0);
    /* The ticket age wolfSSL allows (TLS 1.3) is the lifetime. */
    assert_int_equal(wolfSSL_SSL_CTX_get_timeout(a), 3600);
    assert_int_equal(wolfSSL_SSL_CTX_get_timeout(b), 600);
    wolfSSL_CTX_free(a);
    wolfSSL_CTX_free(b);
}

#define THREADS 4
#define ROUNDS 500

static void worker(void *arg)
{
    int    *fails = arg;

    for (int i = 0; i < ROUNDS; i++) {
        struct ticket t;

        memset(&t, 0, sizeof(t));
        memset(t.state, i & 0xff, sizeof(t.state));
        if (tls__ticket_seal(t.name, t.iv, t.mac, t.state, STATE_LEN) != 0
            || tls__ticket_open(t.name, t.iv, t.mac, t.state, STATE_LEN) != 0
            || t.state[0] != (i & 0xff))
            (*fails)++;
    }
}

static void test_threads(void **state)
{
    uv_thread_t th[THREADS];
    int     fails[THREADS] = {0};

    (void)state;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(uv_thread_create(&th[i], worker, &fails[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(uv_thread_join(&th[i]), 0);
        assert_int_equal(fails[i], 0);
    }
}

/* --- a wolfSSL client and a server of tls_ctx.c, over two byte queues --- */

struct pipe {
    unsigned char buf[65536];
    size_t  len;
    size_t  total;                      /* everything ever written */
    bool    hrr;                        /* a HelloRetryRequest went through */
};

static struct pipe to_server, to_client;

/* The random of a HelloRetryRequest (RFC 8446 4.1.3). */
static const unsigned char hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8,
    0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8,
    0x33, 0x9c};

static int pipe_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    struct pipe *p = arg;
    size_t  n = p->len < (size_t)sz ? p->len : (size_t)sz;

    (void)ssl;
    if (n == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    memcpy(buf, p->buf, n);
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
    return (int)n;
}

static int pipe_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    struct pipe *p = arg;

    (void)ssl;
    if (p->len + (size_t)sz > sizeof(p->buf))
        return WOLFSSL_CBIO_ERR_WANT_WRITE;
    /* Handshake records are in clear until the ServerHello is done. */
    for (int i = 0; p == &to_client && i + 32 <= sz; i++)
        p->hrr |= memcmp(buf + i, hrr_random, 32) == 0;
    memcpy(p->buf + p->len, buf, (size_t)sz);
    p->len += (size_t)sz;
    p->total += (size_t)sz;
    return sz;
}

static void wire(WOLFSSL *ssl, struct pipe *in, struct pipe *out)
{
    wolfSSL_SSLSetIORecv(ssl, pipe_recv);
    wolfSSL_SSLSetIOSend(ssl, pipe_send);
    wolfSSL_SetIOReadCtx(ssl, in);
    wolfSSL_SetIOWriteCtx(ssl, out);
}

static bool ask_cert;                   /* the server asks for a client certificate */

static int accept_all(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    (void)preverify;
    (void)store;
    return 1;                           /* record, never refuse: as tls_conn.c */
}

/* srv_free - free a server's WOLFSSL as tls_conn.c does */

static void srv_free(WOLFSSL *srv)
{
    tls__ticket_detach(srv);
    wolfSSL_free(srv);
}

/* handshake - run both sides until done; the server's WOLFSSL, or NULL */

static WOLFSSL *handshake(struct tls_ctx *server_ctx, WOLFSSL *cli)
{
    WOLFSSL *srv = wolfSSL_new(tls__ctx_wolf(server_ctx));
    bool    cdone = false, sdone = false;

    memset(&to_server, 0, sizeof(to_server));
    memset(&to_client, 0, sizeof(to_client));
    assert_non_null(srv);
    if (ask_cert)
        wolfSSL_set_verify(srv, WOLFSSL_VERIFY_PEER, accept_all);
    wire(srv, &to_server, &to_client);
    for (int round = 0; round < 20 && !(cdone && sdone); round++) {
        if (!cdone) {
            int     r = wolfSSL_connect(cli);

            cdone = r == WOLFSSL_SUCCESS;
            assert_true(cdone || wolfSSL_get_error(cli, r) == WOLFSSL_ERROR_WANT_READ);
        }
        if (!sdone) {
            int     r = wolfSSL_accept(srv);

            sdone = r == WOLFSSL_SUCCESS;
            assert_true(sdone || wolfSSL_get_error(srv, r) == WOLFSSL_ERROR_WANT_READ);
        }
    }
    assert_true(cdone && sdone);
    return srv;
}

/* client - a TLS 1.3 client sending key shares for groups[0..n) */

static WOLFSSL *client(WOLFSSL_CTX *cctx, const int *shares, int n)
{
    WOLFSSL *cli = wolfSSL_new(cctx);

    assert_non_null(cli);
    wire(cli, &to_client, &to_server);
    for (int i = 0; i < n; i++)
        assert_int_equal(wolfSSL_UseKeyShare(cli, (word16)shares[i]), WOLFSSL_SUCCESS);
    return cli;
}

static WOLFSSL_CTX *client_ctx(void)
{
    static int groups[] = {WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519};
    WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());

    assert_non_null(cctx);
    wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
    assert_int_equal(wolfSSL_CTX_set_groups(cctx, groups, 2), WOLFSSL_SUCCESS);
    return cctx;
}

static struct tls_ctx *server_ctx(void)
{
    const char *why = NULL;
    struct tls_ctx *t = tls_ctx_server_new(path("relay.pem"), path("relay.key"), NULL, &why);

    assert_non_null(t);
    return t;
}

static int setup_pki(void **state)
{
    (void)state;
    return pki_build("tls_ticket_test");
}

static int teardown_pki(void **state)
{
    (void)state;
    return pki_remove();
}

static void test_groups(void **state)
{
    static const int both[] = {WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519};
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = client_ctx();
    WOLFSSL *cli, *srv;

    (void)state;
    cli = client(cctx, both, 2);        /* P-256's share first */
    srv = handshake(t, cli);
    assert_string_equal(wolfSSL_get_curve_name(srv), "X25519");
    assert_false(to_client.hrr);
    srv_free(srv);
    wolfSSL_free(cli);
    cli = client(cctx, both, 1);        /* a P-256 share only */
    srv = handshake(t, cli);
    assert_string_equal(wolfSSL_get_curve_name(srv), "SECP256R1");
    assert_false(to_client.hrr);
    srv_free(srv);
    wolfSSL_free(cli);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* ticket_of - a full handshake with t, then the client reads the ticket */

static WOLFSSL_SESSION *ticket_of(struct tls_ctx *t, WOLFSSL_CTX *cctx)
{
    static const int x25519[] = {WOLFSSL_ECC_X25519};
    WOLFSSL *cli = client(cctx, x25519, 1), *srv = handshake(t, cli);
    WOLFSSL_SESSION *sess;
    char    byte;

    assert_int_equal(wolfSSL_session_reused(srv), 0);
    assert_true(to_client.len > 0);     /* the NewSessionTicket */
    assert_int_equal(wolfSSL_read(cli, &byte, 1), -1);
    assert_int_equal(wolfSSL_get_error(cli, -1), WOLFSSL_ERROR_WANT_READ);
    sess = wolfSSL_get1_session(cli);
    assert_non_null(sess);
    srv_free(srv);
    wolfSSL_free(cli);
    return sess;
}

/* resumed_peer - does a handshake with t offering sess resume it?  If so,
 * the verify result and chain length the server's facts get for it. */

static bool resumed_peer(struct tls_ctx *t, WOLFSSL_CTX *cctx, WOLFSSL_SESSION *sess,
                         long *code, size_t *n)
{
    static const int x25519[] = {WOLFSSL_ECC_X25519};
    WOLFSSL *cli = client(cctx, x25519, 1), *srv;
    struct tls_crl_cert chain[8];
    bool    r;

    assert_int_equal(wolfSSL_set_session(cli, sess), WOLFSSL_SUCCESS);
    srv = handshake(t, cli);
    r = wolfSSL_session_reused(srv) == 1;
    /* A resumed ticket of ours always has its peer; a full handshake never. */
    assert_true(tls__ticket_peer(srv, code) == r);
    *n = tls__ticket_peer_chain(srv, chain, 8);
    srv_free(srv);
    wolfSSL_free(cli);
    return r;
}

static bool resumed(struct tls_ctx *t, WOLFSSL_CTX *cctx, WOLFSSL_SESSION *sess)
{
    long    code = -1;
    size_t  n;

    return resumed_peer(t, cctx, sess, &code, &n);
}

static void test_ticket_through_wolfssl(void **state)
{
    struct tls_ctx *a = server_ctx(), *b = server_ctx();
    WOLFSSL_CTX *cctx = client_ctx();
    WOLFSSL_SESSION *sess;

    (void)state;
    tls__ticket_reset();
    tls__ticket_set_clock(NULL);
    sess = ticket_of(a, cctx);
    assert_true(resumed(b, cctx, sess));     /* another context: a reload, a connector */
    tls__ticket_reset();                     /* a restart: the key is gone */
    assert_false(resumed(a, cctx, sess));    /* a full handshake, not a failure */
    wolfSSL_SESSION_free(sess);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(a);
    tls_ctx_unref(b);
}

/* --- the peer kept per ticket (tls_ticket_chain.c) --- */

static WOLFSSL_CTX *partner_ctx(void)
{
    WOLFSSL_CTX *cctx = client_ctx();

    assert_int_equal(wolfSSL_CTX_use_certificate_chain_file(cctx, path("partner-ok.pem")),
                     WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CTX_use_PrivateKey_file(cctx, path("partner-ok.key"),
                                                     WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
    return cctx;
}

static size_t entries(size_t *bytes)
{
    size_t  n, b;

    tls__ticket_chain_stats(&n, &b);
    if (bytes != NULL)
        *bytes = b;
    return n;
}

static int setup_chain(void **state)
{
    (void)state;
    tls__ticket_reset();
    tls__ticket_set_clock(NULL);
    tls__ticket_chain_bounds(0, 0);
    ask_cert = true;
    return 0;
}

static int teardown_chain(void **state)
{
    (void)state;
    tls__ticket_chain_bounds(0, 0);
    tls__ticket_reset();
    tls__ticket_set_clock(NULL);
    ask_cert = false;
    return 0;
}

/* One chain kept once for many tickets; a resumed ticket gets its chain and
 * verify result, and the ticket sealed on it carries them on. */
static void test_chain_kept_once(void **state)
{
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    WOLFSSL_SESSION *a, *b;
    size_t  bytes, bytes2, n = 0;
    long    code = -1;

    (void)state;
    a = ticket_of(t, cctx);
    assert_int_equal(entries(&bytes), 1);
    assert_true(bytes > 300);           /* the partner's leaf and intermediate */
    b = ticket_of(t, cctx);
    assert_int_equal(entries(&bytes2), 2);
    assert_int_equal(bytes2, bytes);    /* the same chain, kept once */
    assert_true(resumed_peer(t, cctx, a, &code, &n));
    assert_int_equal(code, 21);         /* no trust anchors in this server: as sealed */
    assert_int_equal(n, 2);
    assert_int_equal(entries(&bytes2), 3);      /* the resumed session's new ticket */
    assert_int_equal(bytes2, bytes);
    wolfSSL_SESSION_free(a);
    wolfSSL_SESSION_free(b);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* A ticket that opens but whose entry is gone gets a full handshake. */
static void test_missing_entry_full_handshake(void **state)
{
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    WOLFSSL_SESSION *a;

    (void)state;
    a = ticket_of(t, cctx);
    assert_true(resumed(t, cctx, a));   /* key and entry: resumes */
    tls__ticket_chain_clear();          /* the entries only: the key still opens it */
    assert_int_equal(entries(NULL), 0);
    assert_false(resumed(t, cctx, a));
    wolfSSL_SESSION_free(a);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* The bound on entries pushes the oldest out: its ticket gets a full handshake. */
static void test_cap(void **state)
{
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    WOLFSSL_SESSION *s[3];
    size_t  bytes;

    (void)state;
    tls__ticket_chain_bounds(2, 0);
    for (int i = 0; i < 3; i++)
        s[i] = ticket_of(t, cctx);
    assert_int_equal(entries(NULL), 2);
    assert_false(resumed(t, cctx, s[0]));       /* out: full handshake, whose ticket... */
    assert_int_equal(entries(NULL), 2);         /* ...pushes s[1] out */
    assert_true(resumed(t, cctx, s[2]));        /* still in */
    tls__ticket_chain_bounds(0, 100);           /* fewer bytes than one chain */
    wolfSSL_SESSION_free(ticket_of(t, cctx));
    assert_int_equal(entries(&bytes), 0);
    assert_int_equal(bytes, 0);                 /* the chain went with its last entry */
    for (int i = 0; i < 3; i++)
        wolfSSL_SESSION_free(s[i]);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* Entries go with the key that sealed them. */
static void test_entries_expire_with_their_key(void **state)
{
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    size_t  bytes;

    (void)state;
    tls__ticket_set_clock(fake_clock);
    tls_ticket_set_lifetime(3600);
    fake_now = 2000000;
    wolfSSL_SESSION_free(ticket_of(t, cctx));   /* key 1 */
    wolfSSL_SESSION_free(ticket_of(t, cctx));   /* key 1 */
    fake_now += 3600;
    wolfSSL_SESSION_free(ticket_of(t, cctx));   /* key 2; key 1 still opens */
    assert_int_equal(entries(NULL), 3);
    fake_now += 3600;
    wolfSSL_SESSION_free(ticket_of(t, cctx));   /* key 3: key 1 and its two entries gone */
    assert_int_equal(entries(&bytes), 2);
    assert_true(bytes > 0);
    tls__ticket_reset();
    assert_int_equal(entries(&bytes), 0);
    assert_int_equal(bytes, 0);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* A ticket sealed without a certificate request does not resume on a
 * connection that asks for one (domain security turned on by a reload):
 * a resumption sends no CertificateRequest, so it gets a full handshake. */
static void test_no_request_ticket_refused_when_asking(void **state)
{
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    WOLFSSL_SESSION *a, *b;

    (void)state;
    ask_cert = false;
    a = ticket_of(t, cctx);
    b = ticket_of(t, cctx);
    assert_int_equal(entries(NULL), 2);
    assert_true(resumed(t, cctx, a));   /* still not asking: resumes */
    ask_cert = true;
    assert_false(resumed(t, cctx, b));  /* asking: a full handshake */
    wolfSSL_SESSION_free(a);
    wolfSSL_SESSION_free(b);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* A resumed session without its ticket's peer is judged as having no
 * certificate, never by wolfSSL's verify result of 0. */
static void test_resumed_without_peer_fails_closed(void **state)
{
    static const int x25519[] = {WOLFSSL_ECC_X25519};
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    WOLFSSL_SESSION *a;
    WOLFSSL *cli, *srv;
    struct tls_facts f;
    unsigned char *der;

    (void)state;
    a = ticket_of(t, cctx);
    cli = client(cctx, x25519, 1);
    assert_int_equal(wolfSSL_set_session(cli, a), WOLFSSL_SUCCESS);
    srv = handshake(t, cli);
    assert_int_equal(wolfSSL_session_reused(srv), 1);
    tls__ticket_detach(srv);            /* as if resumed by a path not ours */
    memset(&f, 0, sizeof(f));
    der = tls__facts_collect(srv, &f);
    assert_true(f.resumed);
    assert_int_not_equal(f.verify_code, 0);
    assert_int_equal(f.chain, TLS_CHAIN_NONE);
    assert_false(f.peer_cert);
    assert_null(der);
    srv_free(srv);
    wolfSSL_free(cli);
    wolfSSL_SESSION_free(a);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

/* resumed_ticket - resume sess on t; the ticket sealed on that resumed session */

static WOLFSSL_SESSION *resumed_ticket(struct tls_ctx *t, WOLFSSL_CTX *cctx,
                                       WOLFSSL_SESSION *sess)
{
    static const int x25519[] = {WOLFSSL_ECC_X25519};
    WOLFSSL *cli = client(cctx, x25519, 1), *srv;
    WOLFSSL_SESSION *next;
    char    byte;

    assert_int_equal(wolfSSL_set_session(cli, sess), WOLFSSL_SUCCESS);
    srv = handshake(t, cli);
    assert_int_equal(wolfSSL_session_reused(srv), 1);
    assert_true(to_client.len > 0);     /* the NewSessionTicket */
    assert_int_equal(wolfSSL_read(cli, &byte, 1), -1);
    next = wolfSSL_get1_session(cli);
    assert_non_null(next);
    srv_free(srv);
    wolfSSL_free(cli);
    return next;
}

/* A ticket sealed on a resumed session carries its full handshake's verdict
 * for less than one lifetime from that handshake, then a full handshake. */
static void test_inherited_verdict_lasts_one_lifetime(void **state)
{
    struct tls_ctx *t = server_ctx();
    WOLFSSL_CTX *cctx = partner_ctx();
    WOLFSSL_SESSION *a, *b, *c;

    (void)state;
    tls__ticket_set_clock(fake_clock);
    tls_ticket_set_lifetime(3600);
    fake_now = 3000000;
    a = ticket_of(t, cctx);             /* the full handshake at fake_now */
    fake_now += 1800;
    b = resumed_ticket(t, cctx, a);     /* sealed now, verdict 1800 s old */
    fake_now += 1799;
    c = resumed_ticket(t, cctx, b);     /* 3599 s: still within the lifetime */
    fake_now += 1;
    assert_false(resumed(t, cctx, c));  /* 3600 s: a full handshake */
    wolfSSL_SESSION_free(a);
    wolfSSL_SESSION_free(b);
    wolfSSL_SESSION_free(c);
    wolfSSL_CTX_free(cctx);
    tls_ctx_unref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_rotation, setup),
        cmocka_unit_test_setup(test_quiet_server_key_expires, setup),
        cmocka_unit_test_setup(test_clock_going_back, setup),
        cmocka_unit_test_setup(test_tampered, setup),
        cmocka_unit_test_setup(test_unknown_key_after_reset, setup),
        cmocka_unit_test_setup(test_new_lifetime_keeps_keys, setup),
        cmocka_unit_test_setup(test_contexts_use_the_keys, setup),
        cmocka_unit_test_setup(test_threads, setup),
    };

    const struct CMUnitTest wolf[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_ticket_through_wolfssl),
        cmocka_unit_test_setup_teardown(test_chain_kept_once, setup_chain, teardown_chain),
        cmocka_unit_test_setup_teardown(test_missing_entry_full_handshake, setup_chain,
                                        teardown_chain),
        cmocka_unit_test_setup_teardown(test_cap, setup_chain, teardown_chain),
        cmocka_unit_test_setup_teardown(test_entries_expire_with_their_key, setup_chain,
                                        teardown_chain),
        cmocka_unit_test_setup_teardown(test_no_request_ticket_refused_when_asking,
                                        setup_chain, teardown_chain),
        cmocka_unit_test_setup_teardown(test_resumed_without_peer_fails_closed, setup_chain,
                                        teardown_chain),
        cmocka_unit_test_setup_teardown(test_inherited_verdict_lasts_one_lifetime,
                                        setup_chain, teardown_chain),
    };
    int     failed;

    wolfSSL_Init();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("through_wolfssl", wolf, setup_pki, teardown_pki);
    tls_library_cleanup();
    return failed;
}
