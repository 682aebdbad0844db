/* smtp_sink - TLS SMTP sink for the benchmark: accepts, reads, discards, counts.
 *
 * usage: smtp_sink -l IP:PORT -c CERT.pem -k KEY.pem -a CA.pem [-N NAME]
 *          [-e EXPECT] [-T TIMEOUT-S] [-o OUT-FILE] [-p] [-P]
 *
 * Answers SMTP on IP:PORT as NAME and offers STARTTLS with CERT; the handshake
 * requires a client certificate that chains to CA (wolfSSL VERIFY_PEER |
 * FAIL_IF_NO_PEER_CERT).  Without -p, MAIL before STARTTLS gets 530.  -P: no TLS
 * at all (plain sink).  Every message is read and thrown away after the dot, which
 * gets 250 at once; "X-Bench-Submit: <ns>" in its header gives the submit time.
 * Stops after EXPECT messages (then waits 0.2 s for the sessions to end), on SIGTERM
 * or SIGINT, or after TIMEOUT s (default 900), and prints one "smtp_sink:" line
 * (also written to OUT-FILE): messages, sessions, TLS sessions and how many of them
 * resumed an earlier one, verified client certificates,
 * first submit and last arrival (ns), end-to-end msg/s over that span, and
 * submit-to-arrival p50/p99/max in ms.
 */
#include "bench_tls.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    struct bt_conn c;           /* first */
    int in_data, in_hdr;
    uint64_t submit;
    int tls_done;
    char out[4096]; size_t out_len;
};

static struct {
    const char *listen, *cert, *key, *ca, *name, *out;
    long expect;
    int timeout, allow_plain, plain;
} opt = { .name = "mail.woodgrovebank.test", .timeout = 900 };

static WOLFSSL_CTX *ctx;
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_timer_t deadline, grace;
static uv_signal_t sigterm, sigint;
static long messages, sessions, sessions_tls, tls_resumed, certs_ok, no_stamp, handshake_failed;
static uint64_t first_submit, last_arrival, first_arrival;
static struct bt_samples lat;
static int stopping;

static void reply(struct conn *k, const char *s)
{
    size_t n = strlen(s);
    if (k->out_len + n > sizeof k->out) { bt_write(&k->c, k->out, k->out_len); k->out_len = 0; }
    memcpy(k->out + k->out_len, s, n);
    k->out_len += n;
}

static void flush(struct conn *k)
{
    if (k->out_len) bt_write(&k->c, k->out, k->out_len);
    k->out_len = 0;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&server) bt_close(h->data, "sink stopping");
    else uv_close(h, NULL);
}

static void stop(void)
{
    if (stopping) return;
    stopping = 1;
    uv_walk(loop, walk_close, NULL);
}

static void on_grace(uv_timer_t *t) { (void)t; stop(); }

static void got_message(struct conn *k)
{
    uint64_t now = bt_now_ns();
    messages++;
    if (!first_arrival) first_arrival = now;
    last_arrival = now;
    if (k->submit) {
        if (!first_submit || k->submit < first_submit) first_submit = k->submit;
        bt_sample_add(&lat, (int64_t)(now - k->submit));
    } else {
        no_stamp++;
    }
    if (opt.expect && messages == opt.expect) uv_timer_start(&grace, on_grace, 200, 0);
}

/* line - one command or DATA line (without CRLF); returns 1 after STARTTLS began */
static int line(struct conn *k, char *l, size_t n)
{
    if (k->in_data) {
        if (n == 1 && l[0] == '.') {
            k->in_data = 0;
            got_message(k);
            reply(k, "250 2.0.0 Ok: discarded\r\n");
            return 0;
        }
        if (k->in_hdr) {
            if (n == 0) k->in_hdr = 0;
            else if (n > 16 && !strncasecmp(l, "X-Bench-Submit: ", 16))
                k->submit = strtoull(l + 16, NULL, 10);
        }
        return 0;
    }
    if (!strncasecmp(l, "EHLO", 4)) {
        char b[512];
        snprintf(b, sizeof b, "250-%s\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n250-8BITMIME\r\n%s",
                 opt.name, k->c.tls || opt.plain ? "250 ENHANCEDSTATUSCODES\r\n"
                                                 : "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n");
        reply(k, b);
    } else if (!strncasecmp(l, "HELO", 4)) {
        reply(k, "250 ok\r\n");
    } else if (!strncasecmp(l, "STARTTLS", 8) && !k->c.tls && !opt.plain) {
        reply(k, "220 2.0.0 Ready to start TLS\r\n");
        flush(k);
        bt_start_tls(&k->c, ctx, NULL);
        return 1;
    } else if (!strncasecmp(l, "MAIL", 4)) {
        if (!k->c.tls && !opt.plain && !opt.allow_plain) reply(k, "530 5.7.0 Must issue a STARTTLS command first\r\n");
        else reply(k, "250 2.1.0 Ok\r\n");
    } else if (!strncasecmp(l, "RCPT", 4)) {
        reply(k, "250 2.1.5 Ok\r\n");
    } else if (!strncasecmp(l, "DATA", 4)) {
        k->in_data = 1;
        k->in_hdr = 1;
        k->submit = 0;
        reply(k, "354 End data with <CR><LF>.<CR><LF>\r\n");
    } else if (!strncasecmp(l, "RSET", 4) || !strncasecmp(l, "NOOP", 4)) {
        reply(k, "250 2.0.0 Ok\r\n");
    } else if (!strncasecmp(l, "QUIT", 4)) {
        reply(k, "221 2.0.0 Bye\r\n");
        flush(k);
        bt_close(&k->c, "");
        return 1;
    } else {
        reply(k, "502 5.5.2 Error: command not recognized\r\n");
    }
    return 0;
}

static void on_event(struct bt_conn *c, enum bt_event ev)
{
    struct conn *k = (struct conn *)c;
    if (ev == BT_TLS_READY) {
        sessions_tls++;
        if (wolfSSL_session_reused(c->ssl)) tls_resumed++;
        if (bt_peer_cert_ok(c)) certs_ok++;
        return;
    }
    if (ev == BT_CLOSED) {
        if (c->tls == 1 || (c->ssl == NULL && strstr(c->error, "handshake"))) handshake_failed++;
        free(k);
        return;
    }
    size_t off = 0;
    while (!c->closing) {
        char *nl = memchr(c->pt + off, '\n', c->pt_len - off);
        if (!nl) break;
        size_t n = (size_t)(nl - (c->pt + off));
        char *l = c->pt + off;
        off += n + 1;
        if (n && l[n - 1] == '\r') n--;
        if (line(k, l, n)) return;      /* STARTTLS discarded the rest, or closed */
    }
    if (!c->closing) { bt_consume(c, off); flush(k); }
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status || stopping) return;
    struct conn *k = calloc(1, sizeof *k);
    if (!k) abort();
    bt_conn_init(&k->c, loop, on_event, 1);
    if (uv_accept(srv, (uv_stream_t *)&k->c.tcp)) { bt_close(&k->c, "accept"); return; }
    sessions++;
    bt_read_start(&k->c);
    char b[300];
    snprintf(b, sizeof b, "220 %s ESMTP bench sink\r\n", opt.name);
    bt_write(&k->c, b, strlen(b));
}

static void on_signal(uv_signal_t *s, int sig) { (void)s; (void)sig; stop(); }
static void on_deadline(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "smtp_sink: timeout after %d s\n", opt.timeout);
    stop();
}

int main(int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "l:c:k:a:N:e:T:o:pP")) != -1) {
        switch (ch) {
        case 'l': opt.listen = optarg; break;
        case 'c': opt.cert = optarg; break;
        case 'k': opt.key = optarg; break;
        case 'a': opt.ca = optarg; break;
        case 'N': opt.name = optarg; break;
        case 'e': opt.expect = atol(optarg); break;
        case 'T': opt.timeout = atoi(optarg); break;
        case 'o': opt.out = optarg; break;
        case 'p': opt.allow_plain = 1; break;
        case 'P': opt.plain = 1; break;
        default: goto usage;
        }
    }
    if (!opt.listen || (!opt.plain && (!opt.cert || !opt.key || !opt.ca))) goto usage;
    struct sockaddr_storage addr;
    if (bt_parse_addr(opt.listen, &addr)) goto usage;

    wolfSSL_Init();
    if (!opt.plain && !(ctx = bt_ctx(1, opt.cert, opt.key, opt.ca, 1))) return 1;
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    int r = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0);
    if (!r) r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (r) { fprintf(stderr, "smtp_sink: %s: %s\n", opt.listen, uv_strerror(r)); return 1; }
    uv_timer_init(loop, &deadline);
    uv_timer_init(loop, &grace);
    uv_timer_start(&deadline, on_deadline, (uint64_t)opt.timeout * 1000, 0);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    fprintf(stderr, "smtp_sink: listening on %s\n", opt.listen);
    uv_run(loop, UV_RUN_DEFAULT);

    double span = first_submit && last_arrival > first_submit ? (double)(last_arrival - first_submit) / 1e9 : 0;
    char out[700];
    snprintf(out, sizeof out,
             "smtp_sink: messages=%ld sessions=%ld tls_sessions=%ld tls_resumed=%ld "
             "client_certs_verified=%ld "
             "no_stamp=%ld first_submit=%llu first_arrival=%llu last_arrival=%llu span=%.3f "
             "e2e_rate=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
             messages, sessions, sessions_tls, tls_resumed, certs_ok, no_stamp,
             (unsigned long long)first_submit, (unsigned long long)first_arrival,
             (unsigned long long)last_arrival, span, span > 0 ? (double)messages / span : 0.0,
             bt_percentile(&lat, 50) / 1e6, bt_percentile(&lat, 99) / 1e6,
             bt_percentile(&lat, 100) / 1e6);
    fputs(out, stdout);
    fflush(stdout);
    if (opt.out) {
        FILE *f = fopen(opt.out, "w");
        if (f) { fputs(out, f); fclose(f); }
    }
    if (ctx) wolfSSL_CTX_free(ctx);
    uv_loop_close(loop);
    wolfSSL_Cleanup();
    return 0;
usage:
    fprintf(stderr, "usage: smtp_sink -l IP:PORT -c CERT -k KEY -a CA [-N NAME] [-e EXPECT] "
            "[-T TIMEOUT] [-o OUT] [-p] [-P]\n");
    return 2;
}
