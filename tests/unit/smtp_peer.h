/*
 * smtp_peer.h - a scripted SMTP server for unit tests of the SMTP client:
 * a loopback TCP listener (127.0.0.1, port 0) on the test's own uv loop,
 * walking one script of steps across all the connections it accepts.
 *
 * A step either expects a new connection (expect NULL; its reply is the
 * banner) or a command line starting with expect; the peer sends the reply
 * (CRLF added; NULL says nothing, to let the client time out) and moves on.
 * After a reply starting "354" the peer collects the message body, without
 * matching it, up to the line "." (which the next step expects).  A step
 * with batch n is not answered until n command lines are waiting: a client
 * that does not pipeline never gets past it.  Every command line is kept,
 * with the number of replies the peer had sent when it arrived, so a test
 * can tell pipelined commands (sent before the reply to the first) from
 * ones that waited.
 *
 * The first deviation from the script (unexpected line or connection) is
 * kept in peer.error and stops nothing by itself: the test's loop checks
 * it.  Header-only (static functions) so each test binary compiles its
 * own copy.  Single-threaded: everything runs on the loop given.
 */
#ifndef DOMSEC_TEST_SMTP_PEER_H
#define DOMSEC_TEST_SMTP_PEER_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"                       /* xcalloc */

#define PEER_UNUSED __attribute__((unused))     /* not every test uses every helper */
#define PEER_CLOSE   1u                 /* close the connection after the reply */
#define PEER_GARBAGE 2u                 /* then send bytes that are no TLS record, and
                                         * read no more lines on this connection */

struct peer_step {
    const char *expect;                 /* command prefix; NULL: a new connection */
    const char *reply;                  /* lines joined by "\r\n", no final CRLF; NULL: silence */
    unsigned flags;                     /* PEER_* */
    unsigned batch;                     /* answer only once this many lines wait */
};

struct peer_line {
    char    text[160];                  /* command line, without CRLF */
    unsigned replies_before;            /* replies sent when it arrived */
    unsigned conn;                      /* 1 = first accepted connection */
};

struct peer_conn {
    uv_tcp_t tcp;
    struct peer *p;
    unsigned id;
    char    buf[16384];                 /* received, not yet processed */
    size_t  len;
    size_t  counted;                    /* bytes of buf already entered in lines[] */
    bool    raw;                        /* after PEER_GARBAGE: ignore input */
    bool    body;                       /* between 354 and the final dot (processing) */
    bool    cbody;                      /* the same, for lines entered in lines[] */
    bool    closing;
    struct peer_conn *next;
};

struct peer {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool    listening;
    unsigned short port;                /* where it listens */
    const struct peer_step *steps;
    size_t  nsteps, at;                 /* the script, and the next step */
    unsigned accepted;                  /* connections so far */
    unsigned open;                      /* connections not yet closed */
    unsigned replies;                   /* replies sent so far */
    struct peer_line lines[64];
    size_t  nlines;
    char    body[4096];                 /* message bodies received (all of them) */
    size_t  blen;
    char    error[512];                 /* first deviation from the script, or "" */
    struct peer_conn *conns;
};

/* peer_fail - keep the first deviation */

static void peer_fail(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void peer_fail(struct peer *p, const char *fmt, ...)
{
    va_list ap;

    if (p->error[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
}

/* peer_conn_closed - close_cb: unlink and free */

static void peer_conn_closed(uv_handle_t *h)
{
    struct peer_conn *c = h->data;
    struct peer_conn **pp;

    for (pp = &c->p->conns; *pp != c; pp = &(*pp)->next)
        ;
    *pp = c->next;
    c->p->open--;
    free(c);
}

/* peer_conn_close - close one connection (once) */

static void peer_conn_close(struct peer_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, peer_conn_closed);
}

/* peer_write - send bytes now (loopback: the socket takes them at once) */

static void peer_write(struct peer_conn *c, const char *s, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)n);

    (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);     /* the client may be gone */
}

/* peer_answer - the reply of step s, and what its flags say */

static void peer_answer(struct peer_conn *c, const struct peer_step *s)
{
    static const char garbage[] = "HTTP/1.0 400 this is no TLS record\r\n\r\n";

    if (s->reply != NULL) {
        char out[1024];
        int n = snprintf(out, sizeof(out), "%s\r\n", s->reply);

        peer_write(c, out, (size_t)n);
        c->p->replies++;
        c->body = c->cbody = strncmp(s->reply, "354", 3) == 0;
    }
    if (s->flags & PEER_GARBAGE) {
        peer_write(c, garbage, sizeof(garbage) - 1);
        c->raw = true;
    }
    if (s->flags & PEER_CLOSE)
        peer_conn_close(c);
}

/* peer_count_lines - enter newly complete lines in lines[] (arrival order) */

static void peer_count_lines(struct peer_conn *c)
{
    struct peer *p = c->p;
    char *nl;

    while ((nl = memchr(c->buf + c->counted, '\n', c->len - c->counted)) != NULL) {
        size_t n = (size_t)(nl - (c->buf + c->counted));
        const char *text = c->buf + c->counted;

        if (n > 0 && text[n - 1] == '\r')
            n--;
        if (c->cbody && n == 1 && text[0] == '.')
            c->cbody = false;           /* the final dot is kept as a command */
        else if (c->cbody)
            n = SIZE_MAX;               /* a body line: not kept here */
        if (n != SIZE_MAX && p->nlines < sizeof(p->lines) / sizeof(p->lines[0])) {
            struct peer_line *l = &p->lines[p->nlines++];

            snprintf(l->text, sizeof(l->text), "%.*s", (int)n, text);
            l->replies_before = p->replies;
            l->conn = c->id;
        }
        c->counted = (size_t)(nl - c->buf) + 1;
    }
}

/* peer_waiting - complete lines in buf */

static unsigned peer_waiting(const struct peer_conn *c)
{
    unsigned n = 0;

    for (size_t i = 0; i < c->len; i++)
        n += c->buf[i] == '\n';
    return n;
}

/* peer_take_line - the first line of buf (CRLF removed) into line; false if none */

static bool peer_take_line(struct peer_conn *c, char *line, size_t sz)
{
    char *nl = memchr(c->buf, '\n', c->len);
    size_t n, used;

    if (nl == NULL)
        return false;
    used = (size_t)(nl - c->buf) + 1;
    n = used - 1;
    if (n > 0 && c->buf[n - 1] == '\r')
        n--;
    snprintf(line, sz, "%.*s", (int)n, c->buf);
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    c->counted = c->counted > used ? c->counted - used : 0;
    return true;
}

/* peer_body_line - a line of the message: keep it; the dot ends the body */

static bool peer_body_line(struct peer_conn *c, const char *line)
{
    struct peer *p = c->p;

    if (strcmp(line, ".") == 0) {
        c->body = false;
        return false;                   /* the dot is a command for the script */
    }
    p->blen += (size_t)snprintf(p->body + p->blen, sizeof(p->body) - p->blen, "%s\r\n", line);
    if (p->blen >= sizeof(p->body))
        p->blen = sizeof(p->body) - 1;
    return true;
}

/* peer_pump - answer the waiting lines the script allows */

static void peer_pump(struct peer_conn *c)
{
    struct peer *p = c->p;
    char line[1024];

    while (!c->raw && !c->closing && p->error[0] == '\0' && peer_waiting(c) > 0) {
        const struct peer_step *s = p->at < p->nsteps ? &p->steps[p->at] : NULL;

        if (!c->body && s != NULL && s->batch > peer_waiting(c))
            return;                     /* not all of the group is here yet */
        peer_take_line(c, line, sizeof(line));
        if (c->body && peer_body_line(c, line))
            continue;
        if (s == NULL) {
            peer_fail(p, "a line after the end of the script: \"%s\"", line);
            return;
        }
        if (s->expect == NULL || strncmp(line, s->expect, strlen(s->expect)) != 0) {
            peer_fail(p, "step %zu expects %s, got \"%s\"", p->at,
                      s->expect ? s->expect : "a new connection", line);
            return;
        }
        p->at++;
        peer_answer(c, s);
    }
}

/* peer_alloc - read buffer: the free end of the connection's buf */

static void peer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct peer_conn *c = h->data;

    (void)hint;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

/* peer_read - bytes from the client, or its close */

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct peer_conn *c = s->data;

    (void)b;
    if (n < 0 || c->len + (size_t)n >= sizeof(c->buf)) {
        peer_conn_close(c);             /* EOF, error, or a flood: done */
        return;
    }
    if (c->raw)                         /* a ClientHello and such: not lines */
        return;
    c->len += (size_t)n;
    peer_count_lines(c);
    peer_pump(c);
}

/* peer_accept - a new connection: the script must expect one */

static void peer_accept(uv_stream_t *l, int status)
{
    struct peer *p = l->data;
    struct peer_conn *c;
    const struct peer_step *s;

    if (status < 0)
        return;
    c = xcalloc(1, sizeof(*c));
    c->p = p;
    c->id = ++p->accepted;
    c->next = p->conns;
    p->conns = c;
    p->open++;
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        peer_conn_close(c);
        return;
    }
    s = p->at < p->nsteps ? &p->steps[p->at] : NULL;
    if (s == NULL || s->expect != NULL) {
        peer_fail(p, "unexpected connection (the script expects %s)", s ? s->expect : "none");
        peer_conn_close(c);
        return;
    }
    p->at++;
    uv_read_start((uv_stream_t *)&c->tcp, peer_alloc, peer_read);
    peer_answer(c, s);
}

/* peer_start - listen on 127.0.0.1, port 0, with this script */

static void peer_start(struct peer *p, uv_loop_t *loop, const struct peer_step *steps,
                       size_t nsteps)
{
    struct sockaddr_in sin;
    int len = sizeof(sin);

    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->steps = steps;
    p->nsteps = nsteps;
    uv_ip4_addr("127.0.0.1", 0, &sin);
    if (uv_tcp_init(loop, &p->listener) != 0
        || uv_tcp_bind(&p->listener, (const struct sockaddr *)&sin, 0) != 0
        || uv_listen((uv_stream_t *)&p->listener, 8, peer_accept) != 0
        || uv_tcp_getsockname(&p->listener, (struct sockaddr *)&sin, &len) != 0) {
        peer_fail(p, "%s", "cannot listen on 127.0.0.1");
        return;
    }
    p->listener.data = p;
    p->listening = true;
    p->port = ntohs(sin.sin_port);
}

/* peer_stop - close the listener and every connection (the loop frees them) */

static void peer_stop(struct peer *p)
{
    if (p->listening)
        uv_close((uv_handle_t *)&p->listener, NULL);
    p->listening = false;
    for (struct peer_conn *c = p->conns; c != NULL; c = c->next)
        peer_conn_close(c);
}

/* peer_say - send line (CRLF added) on connection conn now, outside the
 * script (a reply held back by a silent step, or an unasked 421) */

static PEER_UNUSED void peer_say(struct peer *p, unsigned conn, const char *line)
{
    for (struct peer_conn *c = p->conns; c != NULL; c = c->next)
        if (c->id == conn && !c->closing) {
            struct peer_step s = { NULL, line, 0, 0 };

            peer_answer(c, &s);
            return;
        }
    peer_fail(p, "no open connection %u to say \"%s\" on", conn, line);
}

/* peer_refusing_port - a loopback port where connections are refused: a
 * socket bound there that does not listen (keep *fd open, close it after) */

static PEER_UNUSED unsigned short peer_refusing_port(int *fd)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0 || bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) != 0
        || getsockname(*fd, (struct sockaddr *)&sin, &len) != 0)
        return 0;
    return ntohs(sin.sin_port);
}

/* peer_line_index - the first kept line starting with prefix, or -1 */

static PEER_UNUSED int peer_line_index(const struct peer *p, const char *prefix)
{
    for (size_t i = 0; i < p->nlines; i++)
        if (strncmp(p->lines[i].text, prefix, strlen(prefix)) == 0)
            return (int)i;
    return -1;
}

#endif
