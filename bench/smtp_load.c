/* smtp_load - SMTP load generator with STARTTLS and a client certificate.
 *
 * usage: smtp_load -s HOST:PORT [-n SESSIONS] [-m MESSAGES] [-z SIZE]
 *          [-c CERT.pem -k KEY.pem] [-a CA.pem] [-N SERVER-NAME] [-f FROM] [-r RCPT]
 *          [-H EHLO-NAME] [-T TIMEOUT-S] [-P] [-R [-S]] [-o OUT-FILE]
 *
 * Opens SESSIONS concurrent sessions; each does EHLO, STARTTLS (TLS 1.2/1.3,
 * presenting CERT, verifying the server's chain against CA and its name against
 * SERVER-NAME), EHLO, then MESSAGES transactions (MAIL, RCPT, DATA pipelined when
 * the server offers PIPELINING, then the message of about SIZE bytes and the dot),
 * then QUIT.  -R (one message per connection): each of the SESSIONS concurrent
 * partners sends its MESSAGES one per connection: new TCP, EHLO, STARTTLS with a
 * full handshake, EHLO, one message, QUIT, close, and again; -S offers the
 * partner's previous TLS session on its next connection (resumption, if the
 * server agrees).  -P: plain SMTP, no STARTTLS.  Each message carries
 * "X-Bench-Submit: <ns since epoch>" (the time its DATA content is written) for
 * smtp_sink.  Measures end-of-DATA to 250 for each message.
 * Prints one "smtp_load:" summary line (and writes it to OUT-FILE): counts,
 * elapsed, msg/s, p50/p99/max latency in ms, connections, TLS handshakes
 * completed and how many of them resumed a session.  Exit 0 when every message got 250.
 * TIMEOUT (default 600 s) bounds the run: what is unfinished then counts as failed.
 */
#include "bench_tls.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum st { S_BANNER, S_EHLO1, S_STARTTLS, S_HANDSHAKE, S_EHLO2, S_MAIL, S_RCPT, S_DATA,
          S_DOT, S_QUIT, S_DONE };

/* One partner: its messages left to send (-R: one connection per message) and,
 * with -S, the TLS session its next connection offers. */
struct partner {
    int left;
    WOLFSSL_SESSION *tls_session;
};

struct sess {
    struct bt_conn c;           /* first: bt_conn* is sess* */
    struct partner *p;
    uv_connect_t creq;
    enum st st;
    int pipelining;
    int sent;                   /* messages whose dot was sent */
    int pending;                /* replies still expected for the pipelined batch */
    int batch_ok;
    uint64_t t_dot;
    int reply_code;
};

static struct {
    const char *server, *cert, *key, *ca, *name, *from, *rcpt, *helo, *out;
    int sessions, messages, size, timeout, plain, reconnect, resume;
} opt = { .sessions = 1, .messages = 1, .size = 4096, .timeout = 600,
          .from = "bench@woodgrovebank.test", .rcpt = "user@woodgrovebank.test",
          .helo = "load.woodgrovebank.test" };

static WOLFSSL_CTX *ctx;
static uv_loop_t *loop;
static struct sockaddr_storage addr;
static char *body; static size_t body_len;
static struct bt_samples lat;
static long ok_msgs, failed_msgs, ok_sessions, failed_sessions, live;
static long connections, handshakes, resumed;
static uint64_t t_start, t_end;
static uv_timer_t deadline;
static char first_error[200];
static int timed_out;          /* no new connection after the deadline */

static void fail_session(struct sess *s, const char *why)
{
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "%.190s", why);
    bt_close(&s->c, why);
}

static void send_str(struct sess *s, const char *str) { bt_write(&s->c, str, strlen(str)); }

/* send_txn - MAIL, RCPT, DATA (one write when pipelining) */
static void send_txn(struct sess *s)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "MAIL FROM:<%s>\r\n", opt.from);
    if (s->pipelining) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "RCPT TO:<%s>\r\nDATA\r\n", opt.rcpt);
        s->pending = 3;
        s->batch_ok = 1;
    }
    s->st = S_MAIL;
    send_str(s, buf);
}

/* send_message - headers with the submit time, the body, the dot */
static void send_message(struct sess *s)
{
    char hdr[600];
    uint64_t now = bt_now_ns();
    int n = snprintf(hdr, sizeof hdr,
                     "From: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n"
                     "Message-ID: <%llu.%p@load.bench>\r\nX-Bench-Submit: %llu\r\n\r\n",
                     opt.from, opt.rcpt, (unsigned long long)now, (void *)s,
                     (unsigned long long)now);
    bt_write(&s->c, hdr, (size_t)n);
    bt_write(&s->c, body, body_len);
    s->t_dot = bt_now_ns();
    s->st = S_DOT;
    s->sent++;
}

/* on_reply - one complete reply (last line) in state s->st */
static void on_reply(struct sess *s, int code, const char *text)
{
    switch (s->st) {
    case S_BANNER:
        if (code != 220) { fail_session(s, text); return; }
        s->st = S_EHLO1;
        { char b[300]; snprintf(b, sizeof b, "EHLO %s\r\n", opt.helo); send_str(s, b); }
        return;
    case S_EHLO1:
    case S_EHLO2:
        if (code != 250) { fail_session(s, text); return; }
        if (s->st == S_EHLO1 && !opt.plain) { s->st = S_STARTTLS; send_str(s, "STARTTLS\r\n"); return; }
        send_txn(s);
        return;
    case S_STARTTLS:
        if (code != 220) { fail_session(s, text); return; }
        s->st = S_HANDSHAKE;
        bt_start_tls(&s->c, ctx, opt.name);
        return;
    case S_MAIL:
    case S_RCPT:
    case S_DATA:
        if (s->pipelining) {
            int want = s->st == S_DATA ? 354 : 250;
            if (code != want) {
                s->batch_ok = 0;
                if (!first_error[0]) snprintf(first_error, sizeof first_error, "%.190s", text);
            }
            s->st = s->st == S_MAIL ? S_RCPT : S_DATA;
            if (--s->pending > 0) return;
            if (!s->batch_ok) { failed_msgs++; fail_session(s, "transaction refused"); return; }
            send_message(s);
            return;
        }
        if (code != (s->st == S_DATA ? 354 : 250)) { failed_msgs++; fail_session(s, text); return; }
        if (s->st == S_MAIL) {
            char b[600]; snprintf(b, sizeof b, "RCPT TO:<%s>\r\n", opt.rcpt);
            s->st = S_RCPT; send_str(s, b);
        } else if (s->st == S_RCPT) {
            s->st = S_DATA; send_str(s, "DATA\r\n");
        } else {
            send_message(s);
        }
        return;
    case S_DOT:
        bt_sample_add(&lat, (int64_t)(bt_now_ns() - s->t_dot));
        if (code != 250) { failed_msgs++; fail_session(s, text); return; }
        ok_msgs++;
        s->p->left--;
        if (!opt.reconnect && s->sent < opt.messages) { send_txn(s); return; }
        s->st = S_QUIT;
        send_str(s, "QUIT\r\n");
        return;
    case S_QUIT:
        s->st = S_DONE;
        ok_sessions++;
        if (opt.resume && s->c.ssl) {
            /* TLS 1.3: the ticket came after the handshake, before this reply. */
            if (s->p->tls_session) wolfSSL_SESSION_free(s->p->tls_session);
            s->p->tls_session = wolfSSL_get1_session(s->c.ssl);
        }
        bt_close(&s->c, "");
        return;
    default:
        fail_session(s, "unexpected reply");
    }
}

static void new_conn(struct partner *p);

/* on_event - bt_conn events: split replies into lines */
static void on_event(struct bt_conn *c, enum bt_event ev)
{
    struct sess *s = (struct sess *)c;
    if (ev == BT_TLS_READY) {
        char b[300];
        handshakes++;
        if (wolfSSL_session_reused(c->ssl)) resumed++;
        s->st = S_EHLO2;
        s->pipelining = 0;
        snprintf(b, sizeof b, "EHLO %s\r\n", opt.helo);
        send_str(s, b);
        return;
    }
    if (ev == BT_CLOSED) {
        if (s->st != S_DONE) {
            failed_sessions++;
            if (!first_error[0])
                snprintf(first_error, sizeof first_error, "session closed in state %d: %s",
                         s->st, c->error[0] ? c->error : "by peer");
        }
        struct partner *p = s->p;
        int again = s->st == S_DONE && p->left > 0 && !timed_out;
        free(s);
        if (again) { new_conn(p); return; }
        if (p->tls_session) wolfSSL_SESSION_free(p->tls_session);
        free(p);
        if (--live == 0) {
            t_end = bt_now_ns();
            uv_close((uv_handle_t *)&deadline, NULL);
        }
        return;
    }
    size_t off = 0;
    while (!c->closing && c->tls != 1) {
        char line[1024];
        long n = bt_next_line(c, &off, line, sizeof line);
        if (n < 0) break;
        size_t l = (size_t)n;
        if ((s->st == S_EHLO1 || s->st == S_EHLO2) && l > 4 && !strncasecmp(line + 4, "PIPELINING", 10))
            s->pipelining = 1;
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

/* new_conn - the partner's next connection (its first, or with -R the next message's) */
static void new_conn(struct partner *p)
{
    struct sess *s = calloc(1, sizeof *s);
    if (!s) abort();
    bt_conn_init(&s->c, loop, on_event, 0);
    s->p = p;
    s->c.resume = p->tls_session;
    s->creq.data = s;
    connections++;
    if (uv_tcp_connect(&s->creq, &s->c.tcp, (struct sockaddr *)&addr, on_connect))
        fail_session(s, "connect failed");
}

static void abort_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->type == UV_TCP && !uv_is_closing(h)) bt_close(h->data, "timeout");
}

static void on_deadline2(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "smtp_load: timeout after %d s, aborting open sessions\n", opt.timeout);
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "timeout");
    timed_out = 1;
    uv_walk(loop, abort_walk, NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: smtp_load -s HOST:PORT [-n SESSIONS] [-m MESSAGES] [-z SIZE] "
            "[-c CERT -k KEY] [-a CA] [-N SERVER-NAME] [-f FROM] [-r RCPT] [-H EHLO] "
            "[-T TIMEOUT] [-P] [-R [-S]] [-o OUT]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "s:n:m:z:c:k:a:N:f:r:H:T:PRSo:")) != -1) {
        switch (ch) {
        case 's': opt.server = optarg; break;
        case 'n': opt.sessions = atoi(optarg); break;
        case 'm': opt.messages = atoi(optarg); break;
        case 'z': opt.size = atoi(optarg); break;
        case 'c': opt.cert = optarg; break;
        case 'k': opt.key = optarg; break;
        case 'a': opt.ca = optarg; break;
        case 'N': opt.name = optarg; break;
        case 'f': opt.from = optarg; break;
        case 'r': opt.rcpt = optarg; break;
        case 'H': opt.helo = optarg; break;
        case 'T': opt.timeout = atoi(optarg); break;
        case 'P': opt.plain = 1; break;
        case 'R': opt.reconnect = 1; break;
        case 'S': opt.resume = 1; break;
        case 'o': opt.out = optarg; break;
        default: usage();
        }
    }
    if (!opt.server || opt.sessions < 1 || opt.messages < 1 || opt.size < 0) usage();
    if (!opt.plain && (!opt.ca || !opt.name)) {
        fprintf(stderr, "smtp_load: TLS needs -a CA and -N SERVER-NAME (the server is verified)\n");
        return 2;
    }
    if (bt_parse_addr(opt.server, &addr)) usage();

    /* Body: 76-character lines of filler up to SIZE bytes, then the dot. */
    size_t lines = (size_t)opt.size / 78 + 1;
    body = malloc(lines * 78 + 8);
    if (!body) abort();
    for (size_t i = 0; i < lines; i++) {
        for (int j = 0; j < 76; j++) body[i * 78 + j] = (char)('a' + (i + (size_t)j) % 26);
        body[i * 78 + 76] = '\r';
        body[i * 78 + 77] = '\n';
    }
    body_len = lines * 78;
    memcpy(body + body_len, ".\r\n", 3);
    body_len += 3;

    wolfSSL_Init();
    if (!opt.plain && !(ctx = bt_ctx(0, opt.cert, opt.key, opt.ca, 0))) return 1;
    loop = uv_default_loop();
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline2, (uint64_t)opt.timeout * 1000, 0);

    t_start = bt_now_ns();
    for (int i = 0; i < opt.sessions; i++) {
        struct partner *p = calloc(1, sizeof *p);
        if (!p) abort();
        p->left = opt.messages;
        live++;
        new_conn(p);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (!t_end) t_end = bt_now_ns();

    double el = (double)(t_end - t_start) / 1e9;
    long want = (long)opt.sessions * opt.messages;
    long failed = want - ok_msgs;
    char line[600];
    snprintf(line, sizeof line,
             "smtp_load: sessions=%d messages=%ld size=%d ok=%ld failed=%ld "
             "sessions_ok=%ld sessions_failed=%ld elapsed=%.3f rate=%.1f "
             "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f connections=%ld handshakes=%ld "
             "resumed=%ld%s%s%s\n",
             opt.sessions, want, opt.size, ok_msgs, failed, ok_sessions, failed_sessions, el,
             el > 0 ? (double)ok_msgs / el : 0.0,
             bt_percentile(&lat, 50) / 1e6, bt_percentile(&lat, 99) / 1e6,
             bt_percentile(&lat, 100) / 1e6, connections, handshakes, resumed,
             first_error[0] ? " first_error=\"" : "", first_error, first_error[0] ? "\"" : "");
    fputs(line, stdout);
    if (opt.out) {
        FILE *f = fopen(opt.out, "w");
        if (f) { fputs(line, f); fclose(f); }
    }
    if (ctx) wolfSSL_CTX_free(ctx);
    uv_loop_close(loop);
    wolfSSL_Cleanup();
    return failed == 0 && failed_sessions == 0 ? 0 : 1;
}
