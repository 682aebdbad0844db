/*
 * fuzz_smtp_cmd.c - libFuzzer target: the SMTP command parser and
 * dispatcher of the receive session (relay/smtpd/relay_proto.c): verbs,
 * the command table's sequence rules, EHLO/HELO domains, MAIL FROM and
 * RCPT TO paths (quoted local parts, source routes, address literals) and
 * parameters (SIZE=, BODY=), <postmaster>, the limits, domain security at
 * MAIL FROM.
 *
 * White-box: relay_proto.c is compiled into this file, and the session
 * functions it calls (relay_session.c, relay_data.c: replies, state
 * changes, closing, DATA) are small stand-ins below, so no socket, loop
 * or spool is needed.  A session has one of three connectors of a fixed
 * configuration (internet; require_tls; domain security with a partner
 * listed), chosen by byte 0; the rest is the client's input, cut into
 * lines at LF (one CR before it dropped), as relay_session.c does: a line
 * of more than RELAY_LINE_MAX bytes before its LF (CR included) is
 * answered "500 5.5.2 Line too long", one with a NUL "500 5.3.3", as
 * there, so lines of exactly RELAY_LINE_MAX bytes reach the parser.  After
 * DATA, lines up to "." are message text and the transaction ends.
 * Not reached: STARTTLS and everything after it, so the domain-secured
 * success path of MAIL FROM (the stand-ins have no TLS: STARTTLS is not
 * offered, and a listed partner's sender is always refused for want of
 * TLS).
 * Checks: every reply is one line "ddd " / "ddd-" text, no CR or LF; an
 * accepted sender and every accepted recipient are what relay_proto_path
 * promises (printable ASCII, at most 256 bytes, an @ unless the sender is
 * <>; <postmaster> gets one); the recipient count never passes the limit.
 * Dictionary: fuzz/smtp_cmd.dict.
 */
#include "../relay/smtpd/relay_proto.c"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct config *fuzz_cfg;
static bool fuzz_trace;                 /* FUZZ_TRACE=1: print the replies */

/* Stand-ins for relay_session.c and relay_data.c. */

void relay__reply(struct relay_session *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 4 || (size_t)n >= sizeof(buf) || buf[0] < '2' || buf[0] > '5'
        || buf[1] < '0' || buf[1] > '9' || buf[2] < '0' || buf[2] > '9'
        || (buf[3] != ' ' && buf[3] != '-') || strpbrk(buf, "\r\n") != NULL)
        abort();                        /* not one SMTP reply line */
    if (fuzz_trace)
        fprintf(stderr, "> %s\n", buf);
}

void relay__close(struct relay_session *s, enum relay_close_reason why)
{
    s->state = RELAY_S_CLOSING;
}

void relay__enter_state(struct relay_session *s, enum relay_state st)
{
    s->state = st;
}

void relay__tarpit(struct relay_session *s, uint64_t ms, const char *reply)
{
    relay__reply(s, "%s", reply);
}

void relay__tx_free(struct relay_session *s)
{
    struct relay_tx *tx = s->tx;

    if (tx == NULL)
        return;
    free(tx->sender);
    for (size_t i = 0; i < tx->nrcpts; i++)
        free(tx->rcpts[i]);
    free(tx->rcpts);
    free(tx->secured);
    free(tx);
    s->tx = NULL;
}

int relay__data_begin(struct relay_session *s)
{
    return 0;
}

/* The harness. */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz-smtp.XXXXXX", path[64];
    struct cfg_errors errs = { NULL, 0 };
    FILE *fp;

    log_set_level(LOG_FATAL);
    fuzz_trace = getenv("FUZZ_TRACE") != NULL;
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/domsec.conf", dir);
    if ((fp = fopen(path, "w")) == NULL)
        abort();
    fprintf(fp, "[transport]\naccepted_domains = a.test, *.b.test\n"
            "tls_receive_domain_secure_list = partner.test\nqueue_directory = %s/q\n"
            "[logs]\ndirectory = %s/logs\n"
            "[receive inet]\nbindings = 127.0.0.1:10025\nfqdn = mx.a.test\n"
            "max_recipients_per_message = 3\nmax_protocol_errors = 20\n"
            "[receive tls]\nbindings = 127.0.0.1:10026\nfqdn = mx.a.test\nrequire_tls = yes\n"
            "[receive secure]\nbindings = 127.0.0.1:10027\nfqdn = mx.a.test\n"
            "domain_secure_enabled = yes\nmax_protocol_errors = 3\n", dir, dir);
    fclose(fp);
    if ((fuzz_cfg = policy_config_load(path, &errs)) == NULL || fuzz_cfg->nreceive != 3) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "fuzz_smtp_cmd: %s\n", errs.v[i]);
        abort();
    }
    unlink(path);
    rmdir(dir);
    return 0;
}

/* check_addr - what relay_proto_path promises of a path it accepted */

static void check_addr(const char *a, bool rcpt)
{
    size_t n = strlen(a);

    if (n > RELAY_PATH_MAX || (rcpt && n == 0) || (n > 0 && strchr(a, '@') == NULL))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] < 0x20 || (unsigned char)a[i] > 0x7e)
            abort();                    /* control or 8-bit byte in an address */
}

/* check_tx - the transaction holds only what the parser accepted */

static void check_tx(const struct relay_session *s)
{
    if (s->tx == NULL)
        return;
    check_addr(s->tx->sender, false);
    if (s->tx->nrcpts > s->rc->max_recipients_per_message)
        abort();
    for (size_t i = 0; i < s->tx->nrcpts; i++)
        check_addr(s->tx->rcpts[i], true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_session s;
    const char *p, *end, *nl;

    if (size < 1)
        return 0;
    memset(&s, 0, sizeof(s));
    s.cfg = fuzz_cfg;
    s.rc = &fuzz_cfg->receive[data[0] % 3];
    s.state = RELAY_S_CMD;
    strcpy(s.remote_ip, "192.0.2.1");
    for (p = (const char *)data + 1, end = (const char *)data + size;
         p < end && s.state != RELAY_S_CLOSING; p = nl + 1) {
        char line[RELAY_LINE_MAX + 1];
        size_t len;

        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            break;                      /* an unfinished line waits for more */
        len = (size_t)(nl - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (s.state == RELAY_S_DATA) {  /* message text, up to "." */
            if (len == 1 && p[0] == '.') {
                relay__tx_free(&s);
                relay__enter_state(&s, RELAY_S_CMD);
            }
            continue;
        }
        if ((size_t)(nl - p) > RELAY_LINE_MAX) {
            relay__reply(&s, "500 5.5.2 Line too long");
            relay__protocol_error(&s);
            continue;
        }
        if (memchr(p, '\0', len) != NULL) {
            relay__reply(&s, "500 5.3.3 Unrecognized command");
            relay__protocol_error(&s);
            continue;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        relay__command(&s, line, len);
        check_tx(&s);
    }
    relay__tx_free(&s);
    free(s.helo);
    return 0;
}
