/*
 * relay_qdane_test.c - the queue manager's DANE states (relay_qdane.c):
 * a destination's MX hosts, their addresses and TLSA records, found over
 * a fake validating resolver (a thread in this process answering from a
 * table, with AD on the answers the table calls secure, and only when the
 * query asked for AD, as unbound does).  The SMTP client is qmgr_world.h's
 * fake, holding every connection so the destination can be looked at.
 *
 * [dns] dnssec and [send] dane are set on the loaded configuration by hand
 * (their parsing is the config's; so is [partner D], built here).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "qmgr_world.h"

/* ---- the fake validating resolver --------------------------------------- */

struct frr {
    const char *name;
    int     type;                       /* 1 A, 28 AAAA, 15 MX, 52 TLSA; 0: the name
                                         * exists (NODATA for other types) */
    int     rcode;                      /* 2: SERVFAIL (a bogus answer) */
    bool    ad;
    const char *rdata;                  /* A/AAAA: address; MX: "PREF HOST"; TLSA: hex */
};

#define EE311 "030101" "3e4a5c13" "00000000000000000000000000000000000000000000000000000000"
#define TA202 "020002" "11111111111111111111111111111111" "11111111111111111111111111111111" \
              "11111111111111111111111111111111" "11111111111111111111111111111111"

static const struct frr table[] = {
    /* s1: secure MX, secure host, one usable and one PKIX-EE (unusable) record */
    { "s1.dane.test", 15, 0, true, "10 mx1.s1.dane.test" },
    { "mx1.s1.dane.test", 1, 0, true, "127.0.0.11" },
    { "mx1.s1.dane.test", 0, 0, true, NULL },
    { "_25._tcp.mx1.s1.dane.test", 52, 0, true, EE311 },
    { "_25._tcp.mx1.s1.dane.test", 52, 0, true, "010101aa" },
    /* s2: secure MX; mx1 only unusable records, mx2 bogus TLSA, mx3 insecure
     * addresses, mx4 secure without TLSA (secure NXDOMAIN), mx5 DANE-TA */
    { "s2.dane.test", 15, 0, true, "10 mx1.s2.dane.test" },
    { "s2.dane.test", 15, 0, true, "20 mx2.s2.dane.test" },
    { "s2.dane.test", 15, 0, true, "30 mx3.s2.dane.test" },
    { "s2.dane.test", 15, 0, true, "40 mx4.s2.dane.test" },
    { "mx1.s2.dane.test", 1, 0, true, "127.0.0.21" },
    { "mx1.s2.dane.test", 0, 0, true, NULL },
    { "_25._tcp.mx1.s2.dane.test", 52, 0, true, "000101aa" },
    { "_25._tcp.mx1.s2.dane.test", 52, 0, true, "030101abcd" },    /* digest too short */
    { "mx2.s2.dane.test", 1, 0, true, "127.0.0.22" },
    { "mx2.s2.dane.test", 0, 0, true, NULL },
    { "_25._tcp.mx2.s2.dane.test", 52, 2, false, NULL },
    { "mx3.s2.dane.test", 1, 0, false, "127.0.0.23" },
    { "mx3.s2.dane.test", 0, 0, false, NULL },
    { "_25._tcp.mx3.s2.dane.test", 52, 0, false, EE311 },         /* never asked */
    { "mx4.s2.dane.test", 1, 0, true, "127.0.0.24" },
    { "mx4.s2.dane.test", 28, 0, true, "::24" },
    /* ins: an insecure MX RRset (signed host or not: DANE does not apply) */
    { "ins.dane.test", 15, 0, false, "10 mx1.s1.dane.test" },
    /* a listed partner (require = dane), and a listed domain without section */
    { "partner.test", 15, 0, true, "10 mx1.s1.dane.test" },
    { "listed.test", 15, 0, true, "10 mx1.s1.dane.test" },
};

static struct {
    int     fd, stopfd[2];
    pthread_t thread;
    char    servers[32];
    unsigned queries, ad_queries, tlsa_queries;
    char    tlsa_names[1024];           /* TLSA names asked, in order (repeats: retries) */
} fr;

/* fr_put_name - a name in wire format */

static size_t fr_put_name(unsigned char *p, const char *name)
{
    size_t n = 0;

    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);

        p[n++] = (unsigned char)len;
        memcpy(p + n, name, len);
        n += len;
        name += len + (dot != NULL);
    }
    p[n++] = 0;
    return n;
}

/* fr_rdata - the RDATA of a table entry */

static size_t fr_rdata(const struct frr *e, unsigned char *p)
{
    unsigned pref;
    char host[256];
    size_t n = 0;

    switch (e->type) {
    case 1:
        inet_pton(AF_INET, e->rdata, p);
        return 4;
    case 28:
        inet_pton(AF_INET6, e->rdata, p);
        return 16;
    case 15:
        sscanf(e->rdata, "%u %255s", &pref, host);
        p[0] = (unsigned char)(pref >> 8);
        p[1] = (unsigned char)pref;
        return 2 + fr_put_name(p + 2, host);
    default:
        for (const char *h = e->rdata; h[0] && h[1]; h += 2) {
            unsigned b;

            sscanf(h, "%2x", &b);
            p[n++] = (unsigned char)b;
        }
        return n;
    }
}

/* fr_answer - the answer to one query (its length), from the table */

static size_t fr_answer(const unsigned char *qb, size_t qlen, unsigned char *out)
{
    char name[256] = "";
    size_t i = 12, o, nl = 0;
    unsigned type, an = 0, rcode = 3;
    bool ad = true, qad = qb[3] & 0x20;

    while (i < qlen && qb[i] != 0 && nl + qb[i] + 1 < sizeof(name)) {
        memcpy(name + nl, qb + i + 1, qb[i]);
        nl += qb[i];
        name[nl++] = '.';
        i += 1 + qb[i];
    }
    if (nl > 0)
        name[nl - 1] = '\0';
    type = ((unsigned)qb[i + 1] << 8) | qb[i + 2];
    i += 5;                             /* the question ends here */
    memcpy(out, qb, i);
    o = i;
    fr.queries++;
    fr.ad_queries += qad;
    fr.tlsa_queries += type == 52;
    if (type == 52 && strlen(fr.tlsa_names) + strlen(name) + 2 < sizeof(fr.tlsa_names))
        strcat(strcat(fr.tlsa_names, name), " ");
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
        const struct frr *e = &table[k];

        if (strcasecmp(e->name, name) != 0)
            continue;
        if (rcode == 3)
            rcode = 0;                  /* the name exists */
        ad = e->ad;
        if (e->type != (int)type)
            continue;
        if ((rcode = (unsigned)e->rcode) != 0)
            break;
        out[o++] = 0xc0, out[o++] = 12;
        out[o++] = 0, out[o++] = (unsigned char)type, out[o++] = 0, out[o++] = 1;
        out[o++] = 0, out[o++] = 0, out[o++] = 0, out[o++] = 60;
        {
            size_t len = fr_rdata(e, out + o + 2);

            out[o] = (unsigned char)(len >> 8), out[o + 1] = (unsigned char)len;
            o += 2 + len;
        }
        an++;
    }
    out[2] = 0x81;
    out[3] = (unsigned char)(0x80 | (qad && ad && rcode != 2 ? 0x20 : 0) | rcode);
    out[4] = 0, out[5] = 1, out[6] = 0, out[7] = (unsigned char)(rcode ? 0 : an);
    out[8] = out[9] = out[10] = out[11] = 0;
    return rcode ? i : o;
}

/* fr_main - answer queries until stopfd is readable */

static void *fr_main(void *arg)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = fr.fd, .events = POLLIN },
                               { .fd = fr.stopfd[0], .events = POLLIN } };
        unsigned char q[1500], a[4096];
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n;

        if (poll(p, 2, -1) < 0 || p[1].revents)
            return NULL;
        n = recvfrom(fr.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
        if (n >= 17)
            sendto(fr.fd, a, fr_answer(q, (size_t)n, a), 0, (struct sockaddr *)&from, flen);
    }
}

static void fr_start(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);

    memset(&fr, 0, sizeof(fr));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fr.fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(bind(fr.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fr.fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(fr.servers, sizeof(fr.servers), "127.0.0.1:%d", ntohs(sin.sin_port));
    assert_int_equal(pipe(fr.stopfd), 0);
    assert_int_equal(pthread_create(&fr.thread, NULL, fr_main, NULL), 0);
}

static void fr_stop(void)
{
    assert_int_equal(write(fr.stopfd[1], "x", 1), 1);
    pthread_join(fr.thread, NULL);
    close(fr.fd);
    close(fr.stopfd[0]);
    close(fr.stopfd[1]);
}

/* ---- fixture ------------------------------------------------------------ */

static struct cfg_partner partner = { .domain = "partner.test", .require = CFG_REQUIRE_DANE };

/* fx_dane - [send D] for *.dane.test and the listed domains, DNS on the fake
 * resolver, [dns] dnssec as asked */

static int fx_dane_setup(void **state, bool dnssec)
{
    struct config *cfg;
    struct cfg_send *sc;

    fr_start();
    fx_setup(state, "tls_send_domain_secure_list = partner.test, listed.test\n\n"
                    "[send D]\naddress_spaces = *.dane.test, partner.test, listed.test\n"
                    "domain_secure_enabled = yes\n");
    cfg = policy_config_current();
    free(cfg->dns.servers);
    cfg->dns.servers = xstrdup(fr.servers);
    cfg->dns.dnssec = dnssec;
    cfg->partners = &partner;           /* not owned: taken back in teardown */
    cfg->npartners = 1;
    sc = (struct cfg_send *)policy_route_select(cfg, "s1.dane.test");
    assert_non_null(sc);
    assert_true(sc->dns_routing);
    sc->dane = true;
    qmgr_dns_reload(((struct fx *)*state)->q, cfg);
    policy_config_unref(cfg);
    return 0;
}

static int fx_dane(void **state)
{
    return fx_dane_setup(state, true);
}

static int fx_nodnssec(void **state)
{
    return fx_dane_setup(state, false);
}

static int fx_dane_teardown(void **state)
{
    struct config *cfg = policy_config_current();

    fx_teardown(state);
    cfg->partners = NULL;
    cfg->npartners = 0;
    policy_config_unref(cfg);
    fr_stop();
    return 0;
}

/* held_dest - send one message to rcpt, hold the connection, return its destination */

static struct relay_dest *held_dest(struct fx *fx, const char *id, const char *rcpt)
{
    fake.hold = true;
    put_msg(id, T0, "s@sender.test", rcpt, "");
    qmgr_notify(fx->q, id);
    settle(fx->q);
    assert_int_equal(fake.npending, 1);
    return fake.pending[0].d;
}

/* ---- tests -------------------------------------------------------------- */

/* A secure MX whose secure host has a usable TLSA record: USABLE with only
 * the usable record copied, DANE applies; every query asked for AD. */
static void test_usable(void **state)
{
    struct relay_dest *d = held_dest(*state, "00000000000000A1", "r@s1.dane.test");

    assert_int_equal(d->naddrs, 1);
    assert_non_null(d->dane);
    assert_int_equal(d->dane[0].state, RELAY_DANE_USABLE);
    assert_int_equal(d->dane[0].ntlsa, 1);
    assert_int_equal(d->dane[0].tlsa[0].usage, 3);
    assert_int_equal(d->dane[0].tlsa[0].selector, 1);
    assert_int_equal(d->dane[0].tlsa[0].mtype, 1);
    assert_int_equal(d->dane[0].tlsa[0].len, 32);
    assert_int_equal(d->dane[0].tlsa[0].data[0], 0x3e);
    assert_null(d->dane[0].why);
    assert_true(d->dane_applies);
    assert_int_equal(fr.tlsa_queries, 1);
    assert_int_equal(fr.ad_queries, fr.queries);
}

/* Per host: only unusable records -> UNUSABLE; bogus TLSA -> FAILED with a
 * reason; insecure addresses -> NONE and no TLSA query; secure denial ->
 * NONE; every address (both of mx4) has its state; nothing USABLE, so DANE
 * does not win. */
static void test_states(void **state)
{
    struct relay_dest *d = held_dest(*state, "00000000000000A2", "r@s2.dane.test");

    assert_int_equal(d->naddrs, 5);
    assert_non_null(d->dane);
    assert_string_equal(d->names[0], "mx1.s2.dane.test");
    assert_int_equal(d->dane[0].state, RELAY_DANE_UNUSABLE);
    assert_int_equal(d->dane[0].ntlsa, 0);
    assert_string_equal(d->names[1], "mx2.s2.dane.test");
    assert_int_equal(d->dane[1].state, RELAY_DANE_FAILED);
    assert_non_null(d->dane[1].why);
    assert_non_null(strstr(d->dane[1].why, "SERVFAIL"));
    assert_string_equal(d->names[2], "mx3.s2.dane.test");
    assert_int_equal(d->dane[2].state, RELAY_DANE_NONE);
    assert_string_equal(d->names[3], "mx4.s2.dane.test");
    assert_int_equal(d->dane[3].state, RELAY_DANE_NONE);
    assert_string_equal(d->names[4], "mx4.s2.dane.test");
    assert_int_equal(d->dane[4].state, RELAY_DANE_NONE);
    assert_false(d->dane_applies);
    assert_non_null(strstr(fr.tlsa_names, "_25._tcp.mx1.s2.dane.test "));
    assert_non_null(strstr(fr.tlsa_names, "_25._tcp.mx2.s2.dane.test "));
    assert_non_null(strstr(fr.tlsa_names, "_25._tcp.mx4.s2.dane.test "));
    assert_null(strstr(fr.tlsa_names, "mx3"));  /* insecure addresses: never asked */
}

/* An insecure MX RRset: no DANE at all (d->dane NULL), no TLSA query. */
static void test_insecure_mx(void **state)
{
    struct relay_dest *d = held_dest(*state, "00000000000000A3", "r@ins.dane.test");

    assert_int_equal(d->naddrs, 1);
    assert_null(d->dane);
    assert_false(d->dane_applies);
    assert_int_equal(fr.tlsa_queries, 0);
}

/* A listed domain gets DANE only when its [partner] section says require =
 * dane; another listed domain keeps the domain-secure rules alone. */
static void test_listed(void **state)
{
    struct relay_dest *d = held_dest(*state, "00000000000000A4", "r@partner.test");

    assert_true(d->listed);
    assert_non_null(d->dane);
    assert_int_equal(d->dane[0].state, RELAY_DANE_USABLE);
    assert_true(d->dane_applies);
}

static void test_listed_no_section(void **state)
{
    struct relay_dest *d = held_dest(*state, "00000000000000A5", "r@listed.test");

    assert_true(d->listed);
    assert_null(d->dane);
    assert_int_equal(fr.tlsa_queries, 0);
}

/* [dns] dnssec = no: no AD asked, none trusted, no TLSA query. */
static void test_no_dnssec(void **state)
{
    struct relay_dest *d = held_dest(*state, "00000000000000A6", "r@s1.dane.test");

    assert_int_equal(d->naddrs, 1);
    assert_null(d->dane);
    assert_int_equal(fr.tlsa_queries, 0);
    assert_int_equal(fr.ad_queries, 0);
}

int main(void)
{
    (void)fx_default;                   /* qmgr_world.h's, not used here */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usable, fx_dane, fx_dane_teardown),
        cmocka_unit_test_setup_teardown(test_states, fx_dane, fx_dane_teardown),
        cmocka_unit_test_setup_teardown(test_insecure_mx, fx_dane, fx_dane_teardown),
        cmocka_unit_test_setup_teardown(test_listed, fx_dane, fx_dane_teardown),
        cmocka_unit_test_setup_teardown(test_listed_no_section, fx_dane, fx_dane_teardown),
        cmocka_unit_test_setup_teardown(test_no_dnssec, fx_nodnssec, fx_dane_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
