/*
 * tls_ticket_test.c - the session ticket keys: a sealed ticket opens to
 * what was sealed; a key seals for one lifetime and opens for two, so a
 * ticket of the previous key still opens after a rotation and one of the
 * key before is refused; a changed byte anywhere (name, iv, state, tag,
 * the unused half of the mac) is refused; a new lifetime keeps the keys;
 * two servers of the process (two contexts, as two connectors or two
 * configuration generations) open each other's tickets; four threads seal
 * and open at once.  The clock is the test's.
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

#include "tls_internal.h"
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

    wolfSSL_Init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
