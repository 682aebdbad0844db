/*
 * relay_smtpc_dane_test.c - DANE on the outbound SMTP client before the
 * certificate (a scripted peer, smtpc_world.h): with validated TLSA records
 * (usable or all unusable) STARTTLS not offered, refused, or answered with
 * bytes that are no TLS never leads to plaintext: no MAIL, the next host,
 * then the destination fails with the "451 4.7.5 DANE policy of ..." text;
 * a host whose TLSA lookup failed is never connected to, and the next
 * host without TLSA records gets opportunistic delivery.  The matching of
 * a real chain is tests/integration/test_dane.py's.
 */
#include "smtpc_world.h"

#include "relay_smtp.h"

struct dane_case {
    const char *name;
    enum relay_dane_state states[2];    /* per address */
    size_t  naddrs;
    struct peer_step steps[12];
    const char *events;
    const char *last;                   /* the failed job's text (prefix), or NULL */
    unsigned conns, starttls;           /* connections the peer saw, STARTTLS lines */
};

#define DELIVER_A_QUIT STEP(MAIL, "250 ok"), STEP(RCPT_A, "250 ok"), DATA_OK, DOT_OK, QUIT_OK
#define TLS_GARBAGE    { "STARTTLS", "220 2.0.0 ready", PEER_GARBAGE, 0 }
#define DANE_TEXT      "451 4.7.5 DANE policy of example.test: mx1.example.test: "

static const struct dane_case dane_cases[] = {
    { "usable TLSA, STARTTLS not offered: no MAIL", { RELAY_DANE_USABLE }, 1,
      { OK220, EHLO_OK }, "dest_failed conn_gone",
      DANE_TEXT "STARTTLS was not offered (starttls-not-supported)", 1, 0 },
    { "all-unusable TLSA, STARTTLS not offered: still no plaintext", { RELAY_DANE_UNUSABLE }, 1,
      { OK220, EHLO_OK }, "dest_failed conn_gone",
      DANE_TEXT "STARTTLS was not offered (starttls-not-supported)", 1, 0 },
    { "usable TLSA, STARTTLS 454: no plaintext", { RELAY_DANE_USABLE }, 1,
      { OK220, EHLO_TLS, STEP("STARTTLS", "454 4.7.0 TLS not available") },
      "dest_failed conn_gone",
      DANE_TEXT "STARTTLS was refused: 454 4.7.0 TLS not available (starttls-not-supported)",
      1, 1 },
    { "usable TLSA, TLS garbage: no plaintext retry", { RELAY_DANE_USABLE }, 1,
      { OK220, EHLO_TLS, TLS_GARBAGE }, "dest_failed conn_gone",
      DANE_TEXT "the TLS handshake failed: ", 1, 1 },
    { "TLSA lookup failed: never connected", { RELAY_DANE_FAILED }, 1,
      { { NULL, NULL, 0, 0 } }, "dest_failed conn_gone",
      DANE_TEXT "the TLSA lookup failed: bogus (dnssec-invalid)", 0, 0 },
    { "TLSA lookup failed, next host without TLSA: opportunistic",
      { RELAY_DANE_FAILED, RELAY_DANE_NONE }, 2,
      { OK220, EHLO_OK, DELIVER_A_QUIT }, "job_done conn_gone", NULL, 1, 0 },
    { "usable TLSA refused, next host without TLSA: delivered",
      { RELAY_DANE_USABLE, RELAY_DANE_NONE }, 2,
      { OK220, EHLO_OK, OK220, EHLO_OK, DELIVER_A_QUIT }, "job_done conn_gone", NULL, 2, 0 },
};

static void test_dane(void **state)
{
    const struct dane_case *c = *state;
    static const int ports[] = { 0, 0 }, codes[] = { 250 };
    static unsigned char digest[32] = { 0xd1 };
    struct tls_tlsa rec = { .usage = 3, .selector = 1, .mtype = 1, .data = digest, .len = 32 };
    struct relay_dane dane[2] = { { 0 } };
    const char *why = NULL;
    size_t  nsteps = 0;
    unsigned starttls = 0;

    while (nsteps < NELEM(c->steps) && (c->steps[nsteps].expect || c->steps[nsteps].reply))
        nsteps++;
    world(NULL, NULL, c->steps, nsteps, 1, ports, c->naddrs);
    T.d.tls_ctx = tls_ctx_client_new(NULL, NULL, NULL, &why);
    assert_non_null(T.d.tls_ctx);
    for (size_t i = 0; i < c->naddrs; i++) {
        dane[i].state = c->states[i];
        if (dane[i].state == RELAY_DANE_USABLE) {
            dane[i].tlsa = &rec;
            dane[i].ntlsa = 1;
        }
        if (dane[i].state == RELAY_DANE_FAILED)
            dane[i].why = "bogus";
        T.d.dane_applies |= dane[i].state == RELAY_DANE_USABLE;
    }
    T.d.dane = dane;
    relay_dest_put_job(&T.d, new_job());
    run();
    assert_string_equal(T.events, c->events);
    if (c->last == NULL) {
        assert_int_equal(T.ndone, 1);
        assert_codes(T.done[0], codes);
    } else {
        assert_non_null(T.failed);
        assert_non_null(T.failed->last);
        if (strncmp(T.failed->last, c->last, strlen(c->last)) != 0)
            fail_msg("last: %s", T.failed->last);
    }
    assert_int_equal(T.peer.accepted, c->conns);
    for (size_t i = 0; i < T.peer.nlines; i++) {
        starttls += strcmp(T.peer.lines[i].text, "STARTTLS") == 0;
        assert_true(strncmp(T.peer.lines[i].text, "MAIL", 4) != 0 || c->last == NULL);
    }
    assert_int_equal(starttls, c->starttls);
    T.d.dane = NULL;
    finish();
}

int main(void)
{
    struct CMUnitTest tests[NELEM(dane_cases)];

    for (size_t i = 0; i < NELEM(dane_cases); i++)
        tests[i] = (struct CMUnitTest){ dane_cases[i].name, test_dane, NULL, NULL,
                                        (void *)&dane_cases[i] };
    return smtpc_run_forked("relay_smtpc_dane_test", tests, NELEM(dane_cases));
}
