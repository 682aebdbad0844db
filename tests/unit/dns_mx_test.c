/*
 * dns_mx_test.c - dns/ against real DNS servers on loopback: dnsmasq for
 * real data (MX order and shuffle, implicit MX, null MX, NXDOMAIN, MX host
 * without address, which is not NXDOMAIN, dual stack) and fakedns.py for
 * SERVFAIL and timeouts (also behind dnsmasq, for an MX host's lookup).
 * Each test runs its own libuv loop and ends with uv_loop_close() == 0;
 * every API call is made with in_start set, so a callback that runs inside
 * the call that started it is caught.
 *
 * Needs /usr/sbin/dnsmasq (dnsmasq-base) and python3.  fakedns.py is found
 * in $DOMSEC_TEST_DIR, else in the directory of this source file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns.h"

#define MAXH 8

struct rec {                            /* one lookup's callback, copied */
    struct dns_query *q;
    int     calls;
    bool    sync;                       /* ran inside a starting call */
    enum dns_status status;
    char    why[64];
    bool    implicit;
    bool    no_address;
    size_t  nhosts;
    struct {
        char    name[256];
        unsigned pref;
        enum dns_status status;
        size_t  naddrs;
        int     family[MAXH];
        char    addr[MAXH][INET6_ADDRSTRLEN];
        int     port;
    } h[MAXH];
    /* optional actions inside the callback */
    struct rec *then;                   /* start an MX lookup of then_name on then_r */
    const char *then_name;
    struct dns_resolver *then_r;
    struct env *close_env;              /* then close this env's resolver */
};

struct env {
    uv_loop_t loop;
    uv_timer_t watchdog;
    struct dns_resolver *r;
    int     done;
    bool    done_sync;
    int     calls_at_done;
    struct rec *recs;                   /* to count callbacks before done */
    size_t  nrecs;
};

static bool in_start;
static pid_t dnsmasq_pid, fake_pid;
static int dnsmasq_keep = -1, fake_keep = -1;
static char dnsmasq_srv[32], fake_srv[32], closed_srv[32];
static char tmpdir[] = "/tmp/dns_mx_test.XXXXXX";

/* free_ports - n distinct ports nobody uses now (bind UDP port 0 n times) */

static int free_ports(int *ports, int n)
{
    int fds[8], rc = 0;

    for (int i = 0; i < n; i++) {
        struct sockaddr_in sin = { .sin_family = AF_INET };
        socklen_t len = sizeof(sin);

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) < 0
            || getsockname(fds[i], (struct sockaddr *)&sin, &len) < 0)
            rc = -1;
        ports[i] = ntohs(sin.sin_port);
    }
    for (int i = 0; i < n; i++)         /* all held until here: distinct */
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* probe - true once a DNS server answers on port (any answer) */

static bool probe(int port, pid_t pid)
{
    static const unsigned char qry[] = {
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        5, 'p', 'r', 'o', 'b', 'e', 4, 't', 'e', 's', 't', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
        0, 1, 0, 1,
    };
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = false;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, (struct sockaddr *)&sin, sizeof(sin));
    for (int i = 0; i < 100 && !ok && waitpid(pid, NULL, WNOHANG) == 0; i++) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        unsigned char buf[512];

        send(fd, qry, sizeof(qry), 0);
        if (poll(&pfd, 1, 50) == 1 && recv(fd, buf, sizeof(buf), 0) >= 12)
            ok = buf[0] == 0x12 && buf[1] == 0x34;
        else
            usleep(50000);
    }
    close(fd);
    return ok;
}

/*
 * spawn - start argv under a small monitor process and return the
 * monitor's pid.  The monitor kills the server (SIGTERM, bounded wait,
 * SIGKILL) when our end of its pipe closes: in stop(), or when this
 * process dies in any way (an ASan abort runs no teardown).  It exits
 * early if the server dies.  PR_SET_PDEATHSIG alone is not enough:
 * dnsmasq changes credentials, which clears it.
 */
static pid_t spawn(char **argv, int *keep)
{
    int pfd[2];
    pid_t mon, srv;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    if ((mon = fork()) != 0) {
        close(pfd[0]);
        *keep = pfd[1];
        return mon;
    }
    dup2(pfd[0], 3);                    /* drop every other inherited fd */
    close_range(4, ~0U, 0);
    if ((srv = fork()) == 0) {
        close(3);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (;;) {
        struct pollfd p = { .fd = 3, .events = POLLIN };

        if (waitpid(srv, NULL, WNOHANG) == srv)
            _exit(1);
        if (poll(&p, 1, 100) == 1)
            break;                      /* EOF: our creator is done */
    }
    kill(srv, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(srv, NULL, WNOHANG) == srv)
            _exit(0);
        usleep(10000);
    }
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    _exit(0);
}

/* stop - close the monitor's pipe and wait for it (bounded) */

static void stop(pid_t mon, int *keep)
{
    if (*keep >= 0)
        close(*keep);
    *keep = -1;
    if (mon <= 0)
        return;
    for (int i = 0; i < 300; i++) {
        if (waitpid(mon, NULL, WNOHANG) == mon)
            return;
        usleep(10000);
    }
    kill(mon, SIGKILL);
    waitpid(mon, NULL, 0);
}

/* servers_start - dnsmasq and fakedns.py on free loopback ports */

static int servers_start(void **state)
{
    char port[32], pidf[128], logf[128], fake[600], fport[16], fwd[64], dir[512];
    const char *env = getenv("DOMSEC_TEST_DIR");
    const char *dnsmasq = access("/usr/sbin/dnsmasq", X_OK) == 0 ? "/usr/sbin/dnsmasq" : "dnsmasq";
    int ports[3], p, fp, cp;

    if (env && *env) {
        snprintf(dir, sizeof(dir), "%s", env);
    } else {
        snprintf(dir, sizeof(dir), "%s", __FILE__);
        *(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
        if (dir[0] == '\0')
            strcpy(dir, ".");
    }
    if (free_ports(ports, 3) < 0 || mkdtemp(tmpdir) == NULL)
        return -1;
    p = ports[0], fp = ports[1], cp = ports[2];
    snprintf(port, sizeof(port), "--port=%d", p);
    snprintf(pidf, sizeof(pidf), "--pid-file=%s/dnsmasq.pid", tmpdir);
    snprintf(logf, sizeof(logf), "--log-facility=%s/dnsmasq.log", tmpdir);
    snprintf(fwd, sizeof(fwd), "--server=/fake.example/127.0.0.1#%d", fp);
    char *argv[] = {
        (char *)dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", port,
        "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
        "--no-poll", pidf, logf, "--local=/test.example/",
        /* dnsmasq answers these in reverse order: pref 20 first */
        "--mx-host=mx.test.example,mx1.test.example,10",
        "--mx-host=mx.test.example,mx2.test.example,10",
        "--mx-host=mx.test.example,mx3.test.example,20",
        "--host-record=mx1.test.example,127.0.0.1",
        "--host-record=mx2.test.example,127.0.0.2",
        "--host-record=mx3.test.example,127.0.0.3,::1",
        "--host-record=implicit.test.example,127.0.0.4",
        "--dns-rr=nullmx.test.example,15,000000",
        "--host-record=nullmx.test.example,127.0.0.5",
        "--mx-host=dangling.test.example,nohost.test.example,10",
        "--mx-host=dangling.test.example,mx1.test.example,20",
        "--mx-host=deadend.test.example,nohost.test.example,10",
        "--txt-record=bare.test.example,no MX and no address",
        /* an MX host whose lookup fails transiently (fakedns.py's SERVFAIL) */
        "--mx-host=flaky.test.example,servfail.fake.example,10", fwd,
        "--host-record=dual.test.example,127.0.0.6,2001:db8::6",
        getuid() == 0 ? "--user=root" : NULL, NULL,
    };
    snprintf(fake, sizeof(fake), "%s/fakedns.py", dir);
    snprintf(fport, sizeof(fport), "%d", fp);
    char *fargv[] = { "python3", fake, fport, NULL };
    if (access(fake, R_OK) < 0) {
        fprintf(stderr, "%s: %s (set DOMSEC_TEST_DIR)\n", fake, strerror(errno));
        return -1;
    }
    dnsmasq_pid = spawn(argv, &dnsmasq_keep);  /* both start in parallel */
    fake_pid = spawn(fargv, &fake_keep);
    if (!probe(p, dnsmasq_pid) || !probe(fp, fake_pid)) {
        fprintf(stderr, "dnsmasq (port %d) or fakedns.py (port %d) did not start\n", p, fp);
        return -1;
    }
    snprintf(dnsmasq_srv, sizeof(dnsmasq_srv), "127.0.0.1:%d", p);
    snprintf(fake_srv, sizeof(fake_srv), "127.0.0.1:%d", fp);
    snprintf(closed_srv, sizeof(closed_srv), "127.0.0.1:%d", cp);
    return 0;
}

/* servers_stop - kill both servers, remove the temporary directory */

static int servers_stop(void **state)
{
    char path[128];

    stop(dnsmasq_pid, &dnsmasq_keep);
    stop(fake_pid, &fake_keep);
    snprintf(path, sizeof(path), "%s/dnsmasq.pid", tmpdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/dnsmasq.log", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return 0;
}

/* on_watchdog - a test that hangs fails instead */

static void on_watchdog(uv_timer_t *t)
{
    fail_msg("test did not finish within 10 s");
}

/* env_open - loop and resolver */

static void env_open(struct env *e, const char *servers, uint64_t timeout_ms)
{
    const char *err = NULL;

    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->watchdog);
    uv_timer_start(&e->watchdog, on_watchdog, 10000, 0);
    uv_unref((uv_handle_t *)&e->watchdog);
    e->r = dns_resolver_new(&e->loop, servers, timeout_ms, &err);
    assert_non_null(e->r);
}

/* on_done - dns_resolver_close finished */

static void on_done(void *arg)
{
    struct env *e = arg;

    e->done++;
    e->done_sync |= in_start;
    for (size_t i = 0; i < e->nrecs; i++)
        e->calls_at_done += e->recs[i].calls;
}

/* env_close - close the resolver, run the loop dry, check nothing leaked */

static void env_close(struct env *e)
{
    if (e->r) {
        in_start = true;
        dns_resolver_close(e->r, on_done, e);
        in_start = false;
        assert_int_equal(e->done, 0);
        uv_run(&e->loop, UV_RUN_DEFAULT);
        assert_int_equal(e->done, 1);
        assert_false(e->done_sync);
    }
    uv_close((uv_handle_t *)&e->watchdog, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void on_result(struct dns_query *q, const struct dns_result *res, void *arg);

/* start_mx, start_host - start a lookup with in_start set */

static void start_mx(struct env *e, const char *name, struct rec *rc)
{
    in_start = true;
    rc->q = dns_mx_lookup(e->r, name, on_result, rc);
    in_start = false;
    assert_non_null(rc->q);
}

static void start_host(struct env *e, const char *name, struct rec *rc)
{
    in_start = true;
    rc->q = dns_host_lookup(e->r, name, on_result, rc);
    in_start = false;
    assert_non_null(rc->q);
}

/* cancel - dns_query_cancel with in_start set */

static void cancel(struct rec *rc)
{
    in_start = true;
    dns_query_cancel(rc->q);
    in_start = false;
}

/* on_result - copy the result; optional follow-up actions */

static void on_result(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct rec *rc = arg;

    rc->calls++;
    rc->sync |= in_start || q != rc->q;
    rc->status = res->status;
    snprintf(rc->why, sizeof(rc->why), "%s", res->why ? res->why : "(null)");
    rc->implicit = res->implicit;
    rc->no_address = res->no_address;
    rc->nhosts = res->nhosts;
    for (size_t i = 0; i < res->nhosts && i < MAXH; i++) {
        const struct dns_host *h = &res->hosts[i];

        snprintf(rc->h[i].name, sizeof(rc->h[i].name), "%s", h->name);
        rc->h[i].pref = h->pref;
        rc->h[i].status = h->status;
        rc->h[i].naddrs = h->naddrs;
        for (size_t j = 0; j < h->naddrs && j < MAXH; j++) {
            const struct sockaddr_storage *ss = &h->addrs[j];
            const void *a = ss->ss_family == AF_INET
                ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

            rc->h[i].family[j] = ss->ss_family;
            inet_ntop(ss->ss_family, a, rc->h[i].addr[j], sizeof(rc->h[i].addr[j]));
            rc->h[i].port |= ss->ss_family == AF_INET
                ? ((const struct sockaddr_in *)ss)->sin_port
                : ((const struct sockaddr_in6 *)ss)->sin6_port;
        }
    }
    if (rc->then) {                     /* a lookup from inside a callback */
        in_start = true;
        rc->then->q = dns_mx_lookup(rc->then_r, rc->then_name, on_result, rc->then);
        in_start = false;
    }
    if (rc->close_env) {
        in_start = true;
        dns_resolver_close(rc->close_env->r, on_done, rc->close_env);
        in_start = false;
        rc->close_env->r = NULL;
    }
}

/* expect - exactly one callback, not synchronous, with this status (and why) */

static void expect(const struct rec *rc, enum dns_status status, const char *why)
{
    assert_int_equal(rc->calls, 1);
    assert_false(rc->sync);
    assert_int_equal(rc->status, status);
    if (why)
        assert_string_equal(rc->why, why);
}

/* run_mx - one MX lookup, run to completion */

static void run_mx(struct env *e, const char *name, struct rec *rc, enum dns_status status,
                   const char *why)
{
    memset(rc, 0, sizeof(*rc));
    start_mx(e, name, rc);
    assert_int_equal(rc->calls, 0);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    expect(rc, status, why);
}

static void test_mx_order(void **state)
{
    struct env e;
    struct rec rc;
    bool mx1_first;

    env_open(&e, dnsmasq_srv, 1000);
    run_mx(&e, "mx.test.example", &rc, DNS_OK, "ok");
    assert_false(rc.implicit);
    assert_int_equal(rc.nhosts, 3);
    assert_int_equal(rc.h[0].pref, 10);
    assert_int_equal(rc.h[1].pref, 10);
    assert_int_equal(rc.h[2].pref, 20);
    mx1_first = strcmp(rc.h[0].name, "mx1.test.example") == 0;
    assert_string_equal(rc.h[0].name, mx1_first ? "mx1.test.example" : "mx2.test.example");
    assert_string_equal(rc.h[1].name, mx1_first ? "mx2.test.example" : "mx1.test.example");
    assert_string_equal(rc.h[2].name, "mx3.test.example");
    for (int i = 0; i < 3; i++)
        assert_int_equal(rc.h[i].status, DNS_OK);
    assert_int_equal(rc.h[0].naddrs, 1);
    assert_string_equal(rc.h[0].addr[0], mx1_first ? "127.0.0.1" : "127.0.0.2");
    /* dual-stack MX host: IPv4 first, then IPv6; port left 0 */
    assert_int_equal(rc.h[2].naddrs, 2);
    assert_int_equal(rc.h[2].family[0], AF_INET);
    assert_string_equal(rc.h[2].addr[0], "127.0.0.3");
    assert_int_equal(rc.h[2].family[1], AF_INET6);
    assert_string_equal(rc.h[2].addr[1], "::1");
    assert_int_equal(rc.h[2].port, 0);
    env_close(&e);
}

static void test_mx_shuffle(void **state)
{
    enum { N = 40 };
    struct env e;
    struct rec rc;
    int first1 = 0, first2 = 0;

    env_open(&e, dnsmasq_srv, 1000);
    for (int i = 0; i < N; i++) {       /* one at a time: 40 in parallel overflow UDP buffers */
        run_mx(&e, "mx.test.example", &rc, DNS_OK, "ok");
        assert_int_equal(rc.nhosts, 3);
        assert_string_equal(rc.h[2].name, "mx3.test.example");
        first1 += strcmp(rc.h[0].name, "mx1.test.example") == 0;
        first2 += strcmp(rc.h[0].name, "mx2.test.example") == 0;
    }
    assert_int_equal(first1 + first2, N);
    assert_true(first1 > 0);            /* P(failure) = 2^-39 */
    assert_true(first2 > 0);
    env_close(&e);
}

static void test_implicit_null_nxdomain(void **state)
{
    struct env e;
    struct rec rc;

    env_open(&e, dnsmasq_srv, 1000);
    run_mx(&e, "implicit.test.example.", &rc, DNS_OK, "ok");   /* trailing dot accepted */
    assert_true(rc.implicit);
    assert_int_equal(rc.nhosts, 1);
    assert_string_equal(rc.h[0].name, "implicit.test.example");
    assert_int_equal(rc.h[0].pref, 0);
    assert_int_equal(rc.h[0].naddrs, 1);
    assert_string_equal(rc.h[0].addr[0], "127.0.0.4");

    assert_false(rc.no_address);

    run_mx(&e, "nullmx.test.example", &rc, DNS_NULLMX, "null MX");     /* has an A record */
    assert_int_equal(rc.nhosts, 0);
    assert_false(rc.implicit);
    assert_false(rc.no_address);

    run_mx(&e, "nope.test.example", &rc, DNS_FAIL, "NXDOMAIN");
    assert_int_equal(rc.nhosts, 0);
    assert_false(rc.no_address);        /* the domain does not exist */
    env_close(&e);
}

static void test_mx_host_without_address(void **state)
{
    struct env e;
    struct rec rc;

    env_open(&e, dnsmasq_srv, 1000);
    run_mx(&e, "dangling.test.example", &rc, DNS_OK, "ok");    /* 10 nohost, 20 mx1 */
    assert_int_equal(rc.nhosts, 2);
    assert_string_equal(rc.h[0].name, "nohost.test.example");
    assert_int_equal(rc.h[0].naddrs, 0);
    assert_int_equal(rc.h[0].status, DNS_FAIL);
    assert_string_equal(rc.h[1].name, "mx1.test.example");
    assert_int_equal(rc.h[1].status, DNS_OK);
    assert_string_equal(rc.h[1].addr[0], "127.0.0.1");
    assert_false(rc.no_address);

    /* Not NXDOMAIN: the domain is there, its hosts have no address. */
    run_mx(&e, "deadend.test.example", &rc, DNS_FAIL, "no address for any MX host");
    assert_int_equal(rc.nhosts, 1);
    assert_int_equal(rc.h[0].naddrs, 0);
    assert_true(rc.no_address);
    assert_false(rc.implicit);

    run_mx(&e, "bare.test.example", &rc, DNS_FAIL, "no MX and no address records");
    assert_int_equal(rc.nhosts, 1);
    assert_true(rc.implicit);
    assert_true(rc.no_address);

    run_mx(&e, "flaky.test.example", &rc, DNS_RETRY, "DNS server failure");
    assert_int_equal(rc.nhosts, 1);
    assert_string_equal(rc.h[0].name, "servfail.fake.example");
    assert_int_equal(rc.h[0].status, DNS_RETRY);
    assert_true(rc.no_address);
    env_close(&e);
}

static void test_host_lookup(void **state)
{
    struct env e;
    struct rec dual = { 0 }, dot = { 0 }, none = { 0 }, lit = { 0 }, lit6 = { 0 };
    struct rec *all[] = { &dual, &dot, &none, &lit, &lit6 };

    env_open(&e, dnsmasq_srv, 1000);
    start_host(&e, "dual.test.example", &dual);
    start_host(&e, "mx1.test.example.", &dot);
    start_host(&e, "nohost.test.example", &none);
    start_host(&e, "192.0.2.7", &lit);  /* c-ares answers these synchronously */
    start_host(&e, "2001:db8::7", &lit6);
    assert_int_equal(lit.calls + lit6.calls, 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < 5; i++) {
        expect(all[i], all[i] == &none ? DNS_FAIL : DNS_OK, NULL);
        assert_int_equal(all[i]->nhosts, 1);
        assert_false(all[i]->implicit);
        assert_int_equal(all[i]->h[0].status, all[i]->status);
        assert_false(all[i]->no_address);       /* a host lookup: never set */
    }
    assert_string_equal(dual.h[0].name, "dual.test.example");
    assert_int_equal(dual.h[0].naddrs, 2);
    assert_int_equal(dual.h[0].family[0], AF_INET);
    assert_string_equal(dual.h[0].addr[0], "127.0.0.6");
    assert_int_equal(dual.h[0].family[1], AF_INET6);
    assert_string_equal(dual.h[0].addr[1], "2001:db8::6");
    assert_string_equal(dot.h[0].name, "mx1.test.example");
    assert_string_equal(dot.h[0].addr[0], "127.0.0.1");
    assert_int_equal(none.h[0].naddrs, 0);
    assert_string_equal(lit.h[0].addr[0], "192.0.2.7");
    assert_int_equal(lit6.h[0].family[0], AF_INET6);
    assert_string_equal(lit6.h[0].addr[0], "2001:db8::7");
    env_close(&e);
}

static void test_bad_names(void **state)
{
    struct env e;
    struct rec rc;
    char longlabel[96];
    const char *err = NULL;
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);   /* a bad server list fails at once */
    assert_null(dns_resolver_new(&loop, "not-an-address", 1000, &err));
    assert_non_null(err);
    assert_int_equal(uv_loop_close(&loop), 0);

    env_open(&e, dnsmasq_srv, 1000);
    memset(longlabel, 'a', 70);         /* label > 63: c-ares fails synchronously */
    strcpy(longlabel + 70, ".test.example");
    run_mx(&e, longlabel, &rc, DNS_FAIL, NULL);
    run_mx(&e, "", &rc, DNS_FAIL, "bad domain name");
    env_close(&e);
}

static void test_servfail_timeout_unreachable(void **state)
{
    struct env e;
    struct rec sf, to = { 0 }, hto = { 0 }, un;
    uint64_t t0;

    env_open(&e, fake_srv, 100);        /* 2 tries: 100 + 200 ms */
    t0 = uv_now(&e.loop);
    start_mx(&e, "timeout.test.example", &to);
    start_host(&e, "timeout-host.test.example", &hto);
    run_mx(&e, "servfail.test.example", &sf, DNS_RETRY, "DNS server failure");
    assert_false(sf.no_address);        /* the MX query itself failed */
    expect(&to, DNS_RETRY, "DNS timeout");
    expect(&hto, DNS_RETRY, "DNS timeout");
    assert_int_equal(hto.h[0].status, DNS_RETRY);
    assert_true(uv_now(&e.loop) - t0 < 2000);
    env_close(&e);

    env_open(&e, closed_srv, 100);      /* nothing listens: ICMP refused */
    run_mx(&e, "any.test.example", &un, DNS_RETRY, "DNS server failure");
    env_close(&e);
}

/* on_cancel_timer - cancel a query that is on the wire */

static void on_cancel_timer(uv_timer_t *t)
{
    cancel(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void **state)
{
    struct env e;
    struct rec now = { 0 }, queued = { 0 }, later = { 0 }, ok = { 0 };
    struct rec *all[] = { &now, &queued, &later };
    uv_timer_t t;
    uint64_t t0;

    env_open(&e, fake_srv, 200);        /* timeout after 600 ms */
    t0 = uv_now(&e.loop);
    start_mx(&e, "timeout.test.example", &now);
    cancel(&now);                       /* in flight: canceled at once */
    cancel(&now);                       /* twice: still one callback */
    start_host(&e, "192.0.2.1", &queued);       /* result already queued */
    cancel(&queued);
    start_mx(&e, "timeout.test.example", &later);
    uv_timer_init(&e.loop, &t);
    t.data = &later;
    uv_timer_start(&t, on_cancel_timer, 20, 0);
    start_host(&e, "192.0.2.2", &ok);   /* not canceled: unaffected */
    assert_int_equal(now.calls + queued.calls + later.calls, 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < 3; i++) {
        expect(all[i], DNS_CANCELED, NULL);
        assert_int_equal(all[i]->nhosts, 0);
    }
    expect(&ok, DNS_OK, "ok");
    /* the loop ran on until c-ares gave up on the dropped requests */
    assert_true(uv_now(&e.loop) - t0 >= 500);
    env_close(&e);
}

/* on_close_timer - close the resolver while requests are on the wire */

static void on_close_timer(uv_timer_t *t)
{
    struct env *e = t->data;

    in_start = true;
    dns_resolver_close(e->r, on_done, e);
    in_start = false;
    e->r = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_with_pending(void **state)
{
    struct env e;
    struct rec rc[4] = { 0 };
    uv_timer_t t;

    env_open(&e, fake_srv, 1000);       /* closed from a timer, requests on the wire */
    e.recs = rc;
    e.nrecs = 4;
    start_mx(&e, "timeout.test.example", &rc[0]);
    start_mx(&e, "timeout2.test.example", &rc[1]);
    start_host(&e, "timeout-host.test.example", &rc[2]);
    start_host(&e, "192.0.2.3", &rc[3]);
    uv_timer_init(&e.loop, &t);
    t.data = &e;
    uv_timer_start(&t, on_close_timer, 20, 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 4; i++)
        expect(&rc[i], i < 3 ? DNS_CANCELED : DNS_OK, NULL);
    assert_int_equal(e.done, 1);
    assert_false(e.done_sync);
    assert_int_equal(e.calls_at_done, 4);       /* done comes last */
    env_close(&e);

    env_open(&e, dnsmasq_srv, 1000);    /* closed in the stack that started them */
    memset(rc, 0, sizeof(rc));
    e.recs = rc;
    e.nrecs = 2;
    start_mx(&e, "mx.test.example", &rc[0]);
    start_host(&e, "192.0.2.4", &rc[1]);
    env_close(&e);
    expect(&rc[0], DNS_CANCELED, "canceled");
    expect(&rc[1], DNS_CANCELED, "canceled");
    assert_int_equal(e.calls_at_done, 2);
}

static void test_close_from_callback(void **state)
{
    struct env e;
    struct rec first = { 0 }, pending = { 0 }, nested = { 0 };

    env_open(&e, fake_srv, 1000);
    first.close_env = &e;               /* its callback closes the resolver ... */
    first.then = &nested;               /* ... after starting another lookup */
    first.then_name = "servfail.test.example";
    first.then_r = e.r;
    start_mx(&e, "timeout.test.example", &pending);
    start_host(&e, "192.0.2.5", &first);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    expect(&first, DNS_OK, "ok");
    expect(&pending, DNS_CANCELED, NULL);
    expect(&nested, DNS_CANCELED, NULL);
    assert_int_equal(e.done, 1);
    assert_false(e.done_sync);
    env_close(&e);
}

static void test_lookup_from_callback(void **state)
{
    struct env e;
    struct rec first = { 0 }, second = { 0 };

    env_open(&e, dnsmasq_srv, 1000);
    first.then = &second;
    first.then_name = "nope.test.example";
    first.then_r = e.r;
    start_host(&e, "mx2.test.example", &first);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    expect(&first, DNS_OK, "ok");
    assert_string_equal(first.h[0].addr[0], "127.0.0.2");
    expect(&second, DNS_FAIL, "NXDOMAIN");
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_order),
        cmocka_unit_test(test_mx_shuffle),
        cmocka_unit_test(test_implicit_null_nxdomain),
        cmocka_unit_test(test_mx_host_without_address),
        cmocka_unit_test(test_host_lookup),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_servfail_timeout_unreachable),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_close_with_pending),
        cmocka_unit_test(test_close_from_callback),
        cmocka_unit_test(test_lookup_from_callback),
    };

    return cmocka_run_group_tests(tests, servers_start, servers_stop);
}
