/* idle - open N SMTP sessions and hold them idle (memory per idle connection).
 *
 * usage: idle -s HOST:PORT [-n N] [-B A.B] [-p PER-SOURCE] [-C IN-FLIGHT]
 *          [-P | -c CERT.pem -k KEY.pem -a CA.pem -N SERVER-NAME] [-H EHLO-NAME]
 *          [-T SETUP-TIMEOUT-S]
 *
 * Each session reads the 220 banner and sends EHLO; with TLS (the default) it then
 * sends STARTTLS, completes the handshake (presenting CERT, verifying the server's
 * chain against CA and its name against SERVER-NAME) and sends EHLO again; after that
 * 250 it stays idle.  -P: plain, stop after the first EHLO.  At most IN-FLIGHT
 * (default 200) sessions are being set up at once.  -B A.B binds the client side to
 * source addresses A.B.x.y (127.0.0.0/8 is all loopback), PER-SOURCE (default 50)
 * sessions per address, so that a per-source limit is not the one measured.
 *
 * When every session is idle or has failed (or after SETUP-TIMEOUT, default 300 s),
 * prints one line to stdout: "idle: sessions=N held=H failed=F elapsed=S ..." and
 * keeps the held sessions open.  On SIGTERM/SIGINT prints "idle_end: held=H dropped=D"
 * (D = held sessions the server closed meanwhile) and exits (the kernel closes the
 * sockets).  Exit 0 when all N were held and none was dropped.
 */
#include "bench_tls.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum st { S_BANNER, S_EHLO1, S_STARTTLS, S_HANDSHAKE, S_EHLO2, S_IDLE, S_DEAD };

struct sess {
    struct bt_conn c;           /* first: bt_conn* is sess* */
    uv_connect_t creq;
    enum st st;
    int idx;
};

static struct {
    const char *server, *cert, *key, *ca, *name, *helo, *src;
    int n, per_source, inflight, timeout, plain;
} opt = { .n = 10000, .per_source = 50, .inflight = 200, .timeout = 300,
          .helo = "idle.woodgrovebank.test" };

static WOLFSSL_CTX *ctx;
static uv_loop_t *loop;
static struct sockaddr_storage addr;
static int next_idx, in_setup, held, failed, dropped, reported;
static uint64_t t_start;
static uv_timer_t deadline;
static uv_signal_t sigterm, sigint;
static char first_error[200];

static void start_more(void);

static void report(void)
{
    if (reported) return;
    reported = 1;
    uv_timer_stop(&deadline);
    printf("idle: sessions=%d held=%d failed=%d elapsed=%.3f mode=%s%s%s%s\n", opt.n, held,
           failed, (double)(bt_now_ns() - t_start) / 1e9, opt.plain ? "plain" : "tls",
           first_error[0] ? " first_error=\"" : "", first_error, first_error[0] ? "\"" : "");
    fflush(stdout);
}

static void check_done(void)
{
    if (!reported && held + failed == opt.n) report();
}

static void fail_session(struct sess *s, const char *why)
{
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "%.190s", why);
    bt_close(&s->c, why);
}

static void send_ehlo(struct sess *s)
{
    char b[300];
    int n = snprintf(b, sizeof b, "EHLO %s\r\n", opt.helo);
    bt_write(&s->c, b, (size_t)n);
}

static void setup_done(struct sess *s)
{
    s->st = S_IDLE;
    held++;
    in_setup--;
    start_more();
    check_done();
}

static void on_reply(struct sess *s, int code, const char *text)
{
    switch (s->st) {
    case S_BANNER:
        if (code != 220) { fail_session(s, text); return; }
        s->st = S_EHLO1;
        send_ehlo(s);
        return;
    case S_EHLO1:
        if (code != 250) { fail_session(s, text); return; }
        if (opt.plain) { setup_done(s); return; }
        s->st = S_STARTTLS;
        bt_write(&s->c, "STARTTLS\r\n", 10);
        return;
    case S_STARTTLS:
        if (code != 220) { fail_session(s, text); return; }
        s->st = S_HANDSHAKE;
        bt_start_tls(&s->c, ctx, opt.name);
        return;
    case S_EHLO2:
        if (code != 250) { fail_session(s, text); return; }
        setup_done(s);
        return;
    default:
        fail_session(s, "unexpected reply");
    }
}

static void on_event(struct bt_conn *c, enum bt_event ev)
{
    struct sess *s = (struct sess *)c;
    if (ev == BT_TLS_READY) {
        s->st = S_EHLO2;
        send_ehlo(s);
        return;
    }
    if (ev == BT_CLOSED) {
        if (s->st == S_IDLE) {
            dropped++;
            if (!first_error[0])
                snprintf(first_error, sizeof first_error, "idle session closed: %s",
                         c->error[0] ? c->error : "by peer");
        } else {
            failed++;
            in_setup--;
            if (!first_error[0])
                snprintf(first_error, sizeof first_error, "session closed in state %d: %s",
                         s->st, c->error[0] ? c->error : "by peer");
            start_more();
            check_done();
        }
        s->st = S_DEAD;
        free(s);
        return;
    }
    size_t off = 0;
    while (!c->closing && c->tls != 1) {
        char line[1024];
        long n = bt_next_line(c, &off, line, sizeof line);
        if (n < 0) break;
        size_t l = (size_t)n;
        if (l >= 3 && (l == 3 || line[3] == ' ')) {
            enum st before = s->st;
            on_reply(s, atoi(line), line);
            if (before == S_STARTTLS) return;   /* buffer discarded by bt_start_tls */
        }
    }
    if (!c->closing && c->tls != 1) bt_consume(c, off);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct sess *s = req->data;
    if (status) { fail_session(s, uv_strerror(status)); return; }
    bt_read_start(&s->c);
}

static void start_one(void)
{
    struct sess *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->idx = next_idx++;
    bt_conn_init(&s->c, loop, on_event, 0);
    s->creq.data = s;
    in_setup++;
    if (opt.src) {
        /* A.B.x.y: y in 1..250, per_source sessions per address */
        int k = s->idx / opt.per_source;
        char ip[64];
        struct sockaddr_in sa;
        snprintf(ip, sizeof ip, "%s.%d.%d", opt.src, k / 250, k % 250 + 1);
        uv_ip4_addr(ip, 0, &sa);
        int r = uv_tcp_bind(&s->c.tcp, (struct sockaddr *)&sa, 0);
        if (r) { fail_session(s, uv_strerror(r)); return; }
    }
    int r = uv_tcp_connect(&s->creq, &s->c.tcp, (struct sockaddr *)&addr, on_connect);
    if (r) fail_session(s, uv_strerror(r));
}

static void start_more(void)
{
    while (next_idx < opt.n && in_setup < opt.inflight) start_one();
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "idle: setup timeout after %d s (%d held, %d failed, %d in setup)\n",
            opt.timeout, held, failed, in_setup);
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "setup timeout");
    failed += opt.n - held - failed;    /* unfinished ones count as failed */
    report();
}

static void on_signal(uv_signal_t *h, int sig)
{
    (void)h; (void)sig;
    report();
    printf("idle_end: held=%d dropped=%d\n", held, dropped);
    fflush(stdout);
    _exit(held == opt.n && dropped == 0 ? 0 : 1);
}

static void usage(void)
{
    fprintf(stderr, "usage: idle -s HOST:PORT [-n N] [-B A.B] [-p PER-SOURCE] [-C IN-FLIGHT] "
            "[-P | -c CERT -k KEY -a CA -N SERVER-NAME] [-H EHLO] [-T SETUP-TIMEOUT]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "s:n:B:p:C:c:k:a:N:H:T:P")) != -1) {
        switch (ch) {
        case 's': opt.server = optarg; break;
        case 'n': opt.n = atoi(optarg); break;
        case 'B': opt.src = optarg; break;
        case 'p': opt.per_source = atoi(optarg); break;
        case 'C': opt.inflight = atoi(optarg); break;
        case 'c': opt.cert = optarg; break;
        case 'k': opt.key = optarg; break;
        case 'a': opt.ca = optarg; break;
        case 'N': opt.name = optarg; break;
        case 'H': opt.helo = optarg; break;
        case 'T': opt.timeout = atoi(optarg); break;
        case 'P': opt.plain = 1; break;
        default: usage();
        }
    }
    if (!opt.server || opt.n < 1 || opt.per_source < 1 || opt.inflight < 1) usage();
    if (!opt.plain && (!opt.ca || !opt.name || !opt.cert || !opt.key)) {
        fprintf(stderr, "idle: TLS needs -c CERT -k KEY -a CA -N SERVER-NAME\n");
        return 2;
    }
    if (bt_parse_addr(opt.server, &addr)) usage();

    /* One descriptor per session plus a few: raise the soft limit to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.n + 64)
        fprintf(stderr, "idle: warning: RLIMIT_NOFILE %llu < %d sessions\n",
                (unsigned long long)rl.rlim_cur, opt.n);

    wolfSSL_Init();
    if (!opt.plain && !(ctx = bt_ctx(0, opt.cert, opt.key, opt.ca, 0))) return 1;
    loop = uv_default_loop();
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)opt.timeout * 1000, 0);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);

    t_start = bt_now_ns();
    start_more();
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;   /* not reached: the signal handlers exit */
}
