/*
 * relay_smtpd_test_util.h - drive one real SMTP receive session in a unit
 * test (header only: tests/CMakeLists.txt builds each *_test.c on its own).
 *
 * How: one libuv loop holds a listener on 127.0.0.1 (an ephemeral port),
 * the session it accepts (relay_session_accept, as a worker does) and a
 * client uv_tcp_t that sends command bytes and collects the replies.  The
 * configuration is a small INI file in the test's mkdtemp() directory,
 * which also holds the queue, so DATA really spools and commits (the
 * commit thread hands completions back through the worker's wake handle,
 * as in the daemon).  Nothing sleeps: sm_reply() and sm_until() run the
 * loop one event at a time until what they wait for happened, bounded by
 * a 10 s deadline timer that fails the test.  White-box access: the
 * session is sm_session(h) (the worker's list holds exactly one).
 *
 * Use: struct sm *h = sm_open("extra receive keys"); sm_reply(h) is the
 * banner; sm_cmd(h, "EHLO x") returns the reply text (all lines, CRLF
 * kept); sm_close(h) ends the session, checks that the loop closes with
 * nothing left (uv_loop_close() == 0) and frees h.  One at a time.
 */
#ifndef RELAY_SMTPD_TEST_UTIL_H
#define RELAY_SMTPD_TEST_UTIL_H

#include <arpa/inet.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <cmocka.h>

#include "log.h"
#include "policy_config.h"
#include "relay_smtpd.h"
#include "relay_spool.h"
#include "relay_worker.h"

#define SM_UNUSED __attribute__((unused))
#define SM_DEADLINE_MS 10000

struct sm {
    char    dir[64];                    /* mkdtemp: config, queue, logs */
    struct relay_worker w;              /* only loop, wake, lock and the session list */
    uv_tcp_t listener, client;
    uv_connect_t connect;
    uv_timer_t deadline;
    bool    expired, eof, connected, hung_up;
    char    in[65536];                  /* bytes the client received, not yet taken */
    size_t  inlen;
    char    reply[8192];                /* the last reply sm_reply() took */
};

static SM_UNUSED void sm_wake(uv_async_t *a)
{
    relay_commit_deliver(a->data);      /* commits finished for this "worker" */
}

static SM_UNUSED void sm_accept(uv_stream_t *server, int status)
{
    struct sm *h = server->data;

    assert_int_equal(status, 0);
    relay_session_accept(&h->w, server);
}

static SM_UNUSED void sm_alloc(uv_handle_t *hd, size_t want, uv_buf_t *buf)
{
    struct sm *h = hd->data;

    buf->base = h->in + h->inlen;
    buf->len = sizeof(h->in) - h->inlen;
}

static SM_UNUSED void sm_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct sm *h = st->data;

    if (n > 0)
        h->inlen += (size_t)n;
    else if (n < 0)
        h->eof = true;
}

static SM_UNUSED void sm_connected(uv_connect_t *req, int status)
{
    struct sm *h = req->data;

    assert_int_equal(status, 0);
    h->connected = true;
    assert_int_equal(uv_read_start((uv_stream_t *)&h->client, sm_alloc, sm_read), 0);
}

static SM_UNUSED void sm_expired(uv_timer_t *t)
{
    ((struct sm *)t->data)->expired = true;
}

/* sm_step - run the loop for one event; fail at the deadline */

static SM_UNUSED void sm_step(struct sm *h)
{
    uv_run(&h->w.loop, UV_RUN_ONCE);
    if (h->expired)
        fail_msg("deadline: no progress within %d ms", SM_DEADLINE_MS);
}

/* sm_session - the one live session, or NULL once it is freed */

static SM_UNUSED struct relay_session *sm_session(struct sm *h)
{
    return h->w.sessions;
}

/* sm_complete - length of a complete reply at the start of in, or 0 */

static SM_UNUSED size_t sm_complete(const struct sm *h)
{
    size_t off = 0;

    while (off < h->inlen) {
        const char *nl = memchr(h->in + off, '\n', h->inlen - off);

        if (nl == NULL)
            return 0;
        if ((size_t)(nl - (h->in + off)) >= 4 && h->in[off + 3] == ' ')
            return (size_t)(nl - h->in) + 1;
        off = (size_t)(nl - h->in) + 1;
    }
    return 0;
}

/* sm_reply - wait for the next complete reply; its text (all lines) */

static SM_UNUSED const char *sm_reply(struct sm *h)
{
    size_t n;

    while ((n = sm_complete(h)) == 0) {
        if (h->eof)
            fail_msg("connection closed while waiting for a reply; have \"%.*s\"",
                     (int)h->inlen, h->in);
        sm_step(h);
    }
    memcpy(h->reply, h->in, n);
    h->reply[n] = '\0';
    memmove(h->in, h->in + n, h->inlen - n);
    h->inlen -= n;
    return h->reply;
}

/* sm_code - the code of the next reply */

static SM_UNUSED int sm_code(struct sm *h)
{
    return atoi(sm_reply(h));
}

/* sm_send - bytes from the client (small: they fit the socket buffer) */

static SM_UNUSED void sm_send(struct sm *h, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);

    assert_int_equal(uv_try_write((uv_stream_t *)&h->client, &b, 1), (int)n);
}

/* sm_cmd - send one command line (CRLF added); the reply */

static SM_UNUSED const char *sm_cmd(struct sm *h, const char *line)
{
    char buf[RELAY_LINE_MAX + 8];
    int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

    sm_send(h, buf, (size_t)n);
    return sm_reply(h);
}

/* sm_expect - send a command; assert the reply's code */

#define sm_expect(h, line, code) do {                                       \
        const char *r_ = sm_cmd((h), (line));                               \
        if (atoi(r_) != (code))                                             \
            fail_msg("%s: expected %d, got %s", (line), (code), r_);        \
    } while (0)

/* sm_until_state - run the loop until the session is in st */

static SM_UNUSED void sm_until_state(struct sm *h, enum relay_state st)
{
    while (sm_session(h) == NULL || sm_session(h)->state != st)
        sm_step(h);
}

/* sm_until_gone - run the loop until the session was freed */

static SM_UNUSED void sm_until_gone(struct sm *h)
{
    while (sm_session(h) != NULL)
        sm_step(h);
}

/* sm_write_file - a whole file */

static SM_UNUSED void sm_write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/*
 * sm_open - listener, configuration (receive keys extra added to the one
 * connector, transport keys tx_extra to [transport]), queue, client;
 * returns once the banner is waiting (not yet read).
 */
/* The session of the running test; a failed test leaves it (and its heap
 * memory) behind, and the next sm_open() stops its threads first. */
static struct sm *sm_live SM_UNUSED;

static SM_UNUSED void sm_abandon(void)
{
    if (sm_live == NULL)
        return;
    relay_commit_stop();
    relay_queue_close();
    policy_config_swap(NULL);
    sm_live = NULL;                     /* its loop and memory are leaked */
}

static SM_UNUSED struct sm *sm_open2(const char *extra, const char *tx_extra)
{
    struct sm *h = calloc(1, sizeof(*h));
    struct sockaddr_in sin;
    struct sockaddr_storage ss;
    struct cfg_errors errs = { 0 };
    struct config *cfg;
    char path[128], ini[2048], qdir[96];
    int len = sizeof(ss), n;

    assert_non_null(h);
    sm_abandon();
    sm_live = h;
    log_init("relay_smtpd_test", getenv("SM_DEBUG") ? LOG_DEBUG : LOG_ERROR);
    snprintf(h->dir, sizeof(h->dir), "/tmp/relay_smtpd_test.XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    assert_int_equal(uv_loop_init(&h->w.loop), 0);
    uv_mutex_init(&h->w.lock);
    uv_async_init(&h->w.loop, &h->w.wake, sm_wake);
    h->w.wake.data = &h->w;
    uv_timer_init(&h->w.loop, &h->deadline);
    h->deadline.data = h;
    uv_timer_start(&h->deadline, sm_expired, SM_DEADLINE_MS, 0);
    uv_tcp_init(&h->w.loop, &h->listener);
    h->listener.data = h;
    uv_ip4_addr("127.0.0.1", 0, &sin);
    assert_int_equal(uv_tcp_bind(&h->listener, (struct sockaddr *)&sin, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&h->listener, 8, sm_accept), 0);
    assert_int_equal(uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &len), 0);
    n = snprintf(ini, sizeof(ini),
                 "[transport]\naccepted_domains = a.test, *.b.test\nqueue_directory = %s/q\n"
                 "%s\n[logs]\ndirectory = %s/logs\n\n"
                 "[receive test]\nbindings = 127.0.0.1:%d\nfqdn = mx.a.test\n"
                 "%spermission = internet\n%s\n",
                 h->dir, tx_extra ? tx_extra : "", h->dir,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port),
                 extra && strstr(extra, "auth_mechanism") ? "" : "auth_mechanism = none\n",
                 extra ? extra : "");
    snprintf(path, sizeof(path), "%s/domsec.conf", h->dir);
    sm_write_file(path, ini, (size_t)n);
    cfg = policy_config_load(path, &errs);
    if (cfg == NULL)
        fail_msg("config: %s", errs.n > 0 ? errs.v[0] : "?");
    policy_config_errors_free(&errs);
    policy_config_swap(cfg);
    snprintf(qdir, sizeof(qdir), "%s/q", h->dir);
    assert_int_equal(relay_queue_open(qdir, getuid(), getgid()), 0);
    assert_int_equal(relay_commit_start(), 0);
    uv_tcp_init(&h->w.loop, &h->client);
    h->client.data = h;
    h->connect.data = h;
    assert_int_equal(uv_tcp_connect(&h->connect, &h->client, (struct sockaddr *)&ss,
                                    sm_connected), 0);
    while (sm_session(h) == NULL || !h->connected)
        sm_step(h);
    return h;
}

static SM_UNUSED struct sm *sm_open(const char *extra)
{
    return sm_open2(extra, NULL);
}

static SM_UNUSED int sm_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    return remove(p);
}

/* sm_queued - how many messages the queue holds */

static SM_UNUSED int sm_queued(struct sm *h)
{
    char path[128];
    int count = 0;
    uv_fs_t req;
    uv_dirent_t ent;

    snprintf(path, sizeof(path), "%s/q/messages", h->dir);
    if (uv_fs_scandir(NULL, &req, path, 0, NULL) < 0)
        return -1;
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF)
        count++;
    uv_fs_req_cleanup(&req);
    return count;
}

static SM_UNUSED void sm_client_closed(uv_handle_t *hd)
{
    ((struct sm *)hd->data)->hung_up = true;
}

/* sm_hangup - the client closes its socket (the session may not see it yet) */

static SM_UNUSED void sm_hangup(struct sm *h)
{
    if (!uv_is_closing((uv_handle_t *)&h->client))
        uv_close((uv_handle_t *)&h->client, sm_client_closed);
    while (!h->hung_up)
        sm_step(h);
}

/* sm_close - the client hangs up; wait for the session to be freed; tidy up */

static SM_UNUSED void sm_close(struct sm *h)
{
    sm_hangup(h);
    sm_until_gone(h);
    uv_close((uv_handle_t *)&h->listener, NULL);
    uv_close((uv_handle_t *)&h->deadline, NULL);
    uv_close((uv_handle_t *)&h->w.wake, NULL);
    uv_run(&h->w.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->w.loop), 0);
    uv_mutex_destroy(&h->w.lock);
    relay_commit_stop();
    relay_queue_close();
    policy_config_swap(NULL);
    nftw(h->dir, sm_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    sm_live = NULL;
    free(h);
}

#endif
