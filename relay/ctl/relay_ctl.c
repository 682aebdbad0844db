/*
 * relay_ctl.c - the control socket server, on the daemon's main loop.
 *
 * One listener on [service] control_socket; each client is a uv_pipe_t
 * plus a timer.  A client's bytes go through a line assembler
 * (relay_ctlproto.c, 64 KiB a line); each complete line is parsed,
 * checked against the command table and the client's role, and handed to
 * its handler (the groups below).  One request at a time per client: the
 * next line is taken only when the reply to the previous one is queued,
 * and nothing more is read while a request is in flight or more than
 * CTL_MAX_OUTPUT bytes of replies wait to be written.
 *
 * Limits: control_max_clients clients (one more gets "busy" and is
 * closed), of which the last CTL_ADMIN_RESERVE (at most all but one) only
 * admins may take, so that idle readers never lock root out (systemctl
 * reload runs `domsec reload`); a line over 64 KiB, garbage or a bad envelope gets bad_request
 * and the client is closed once the reply is written; the timer closes a
 * client that has not completed its next request within control_timeout
 * of the last reply (idle or half a request), or whose replies have not
 * been taken within control_timeout (a client that never reads).
 *
 * The socket's file (its directory, a stale socket, the bind as root)
 * is relay_ctl_sock.c's.
 *
 * CONTRACT
 *  Everything runs on the main loop except ctl_req_defer (any thread:
 *  a mutex-protected list and a uv_async).  A request (struct ctl_req) is
 *  owned by its handler until answered; answering frees it.  When its
 *  client goes away first, the request stays valid and its reply is
 *  discarded.  A client is freed in the close callback of its last
 *  handle (STYLE rule 10).  relay_ctl_stop closes the listener and the
 *  clients; relay_ctl_finish (after the threads that defer have stopped)
 *  runs what is still deferred and closes the async.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "relay_ctl.h"
#include "relay_ctl_int.h"

#define CTL_MAX_OUTPUT (4u << 20)       /* reply bytes queued before reading stops */
#define CTL_BACKLOG 16
#define CTL_ADMIN_RESERVE 4u            /* places of control_max_clients kept for admins */
#define CTL_MAX_GROUPS 65536            /* SO_PEERGROUPS: at most NGROUPS_MAX */

static const struct ctl_handler *const ctl_groups[] = {
    ctl_handlers_core, ctl_handlers_queue, ctl_handlers_tlsrpt, NULL,
};

struct ctl_client {
    uv_pipe_t pipe;
    uv_timer_t timer;
    struct ctlproto_lines in;
    uint64_t sid;
    uid_t   uid;
    gid_t   gid;
    pid_t   pid;
    enum ctl_role role;
    struct ctl_req *req;                /* the request being answered, or NULL */
    size_t  out;                        /* reply bytes queued, not yet written */
    int     handles;                    /* open uv handles */
    bool    reading, closing, close_after_write, dispatching, refused, eof;
    struct ctl_client *prev, *next;     /* ctl.clients */
};

struct ctl_req {
    struct ctl_client *c;               /* NULL once the client has gone */
    json_t *id;                         /* owned, or NULL */
    const struct ctlproto_cmd *cmd;
    uint64_t sid;
    uid_t   uid;
    pid_t   pid;
    enum ctl_role role;
    bool    answered;
    void    (*fn)(struct ctl_req *, void *);    /* deferred */
    void   *arg;
    struct ctl_req *dnext;
};

struct ctl_write {
    uv_write_t w;
    struct ctl_client *c;
    char   *buf;                        /* owned */
    size_t  len;
};

static struct {
    uv_loop_t *loop;
    uv_pipe_t listener;
    bool    listening, started, wake_open;
    uv_async_t wake;
    uv_mutex_t lock;                    /* guards dhead/dtail */
    struct ctl_req *dhead, *dtail;      /* deferred, in order */
    const struct relay_ctl_ops *ops;
    char   *path;                       /* owned; NULL = no socket */
    struct ctl_sock sock;               /* its file (relay_ctl_sock.c) */
    uid_t   self_uid;
    gid_t   reader_gid;
    unsigned max_clients, nclients, nrefused;
    unsigned nothers;                   /* of nclients, not admins */
    uint64_t timeout_ms;
    struct ctl_client *clients;
    int64_t started_ms;
} ctl;

static void ctl_client_process(struct ctl_client *c);
static void ctl_client_reading(struct ctl_client *c, bool on);

/* ctl__now_ms - wall clock */

int64_t ctl__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ctl__ops - the server's operations */

const struct relay_ctl_ops *ctl__ops(void)
{
    return ctl.ops;
}

/* ctl__started_ms - the daemon's start */

int64_t ctl__started_ms(void)
{
    return ctl.started_ms;
}

/* ctl_client_closed - a handle of c is closed; the last frees c */

static void ctl_client_closed(uv_handle_t *h)
{
    struct ctl_client *c = h->data;

    if (--c->handles > 0)
        return;
    ctlproto_lines_free(&c->in);
    free(c);
}

/* ctl_client_close - close c (once); its request, if any, is answered into the void */

static void ctl_client_close(struct ctl_client *c, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    if (reason != NULL)
        log_info("ctl", c->sid, "client closed reason=%s uid=%u pid=%d", reason,
                 (unsigned)c->uid, (int)c->pid);
    if (c->req != NULL)
        c->req->c = NULL;
    c->req = NULL;
    if (c->refused)
        ctl.nrefused--;
    else {
        ctl.nclients--;
        ctl.nothers -= c->role != CTL_ADMIN;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->pipe, ctl_client_closed);
    uv_close((uv_handle_t *)&c->timer, ctl_client_closed);
}

/* ctl_client_timeout - the client took too long (to ask, or to read) */

static void ctl_client_timeout(uv_timer_t *t)
{
    struct ctl_client *c = t->data;

    if (c->req != NULL)                 /* the handler's time is not the client's */
        return;
    if (c->out > 0) {
        log_warnx("ctl", c->sid, "client dropped reason=not-reading queued=%zu uid=%u pid=%d",
                  c->out, (unsigned)c->uid, (int)c->pid);
        ctl_client_close(c, NULL);
    } else {
        ctl_client_close(c, ctlproto_lines_pending(&c->in) > 0 ? "timeout" : "idle");
    }
}

/* ctl_client_arm - the client has control_timeout from now */

static void ctl_client_arm(struct ctl_client *c)
{
    if (!c->closing)
        uv_timer_start(&c->timer, ctl_client_timeout, ctl.timeout_ms, 0);
}

/* ctl_client_written - a reply line went out (or failed) */

static void ctl_client_written(uv_write_t *w, int status)
{
    struct ctl_write *cw = (struct ctl_write *)w;
    struct ctl_client *c = cw->c;

    c->out -= cw->len;
    free(cw->buf);
    free(cw);
    if (c->closing)
        return;
    if (status < 0) {
        ctl_client_close(c, "write-error");
        return;
    }
    if (c->close_after_write && c->out == 0) {
        ctl_client_close(c, NULL);
        return;
    }
    ctl_client_arm(c);                  /* progress */
    if (c->req == NULL && !c->dispatching)
        ctl_client_process(c);
}

/* ctl_client_write - queue one reply line (buf taken over) */

static void ctl_client_write(struct ctl_client *c, char *buf, size_t len)
{
    struct ctl_write *cw;
    uv_buf_t b;
    int     r;

    if (c->closing) {
        free(buf);
        return;
    }
    cw = xcalloc(1, sizeof(*cw));
    cw->c = c;
    cw->buf = buf;
    cw->len = len;
    b = uv_buf_init(buf, (unsigned)len);
    if ((r = uv_write(&cw->w, (uv_stream_t *)&c->pipe, &b, 1, ctl_client_written)) < 0) {
        free(buf);
        free(cw);
        ctl_client_close(c, "write-error");
        return;
    }
    c->out += len;
}

/* ctl_client_fail - an error reply not tied to a request; close after it if fatal */

static void ctl_client_fail(struct ctl_client *c, const json_t *id, json_t *error, bool fatal)
{
    size_t  len;
    char   *line = ctlproto_reply_err(id, error, &len);

    if (fatal)
        c->close_after_write = true;
    ctl_client_write(c, line, len);
}

/* ctl_req_answer - send r's reply line and free r */

static void ctl_req_answer(struct ctl_req *r, bool ok, json_t *payload)
{
    struct ctl_client *c = r->c;
    const char *code = ok ? "ok" : json_string_value(json_object_get(payload, "code"));
    size_t  len;
    char   *line;

    if (r->answered)
        log_panic("ctl", "request cmd=%s answered twice", r->cmd->name);
    r->answered = true;
    if (r->cmd->role == CTL_ADMIN)
        log_info("ctl", r->sid, "command cmd=%s uid=%u pid=%d result=%s%s", r->cmd->name,
                 (unsigned)r->uid, (int)r->pid, code ? code : "?", c ? "" : " client=gone");
    line = ok ? ctlproto_reply_ok(r->id, payload, &len) : ctlproto_reply_err(r->id, payload, &len);
    json_decref(r->id);
    free(r);
    if (c == NULL) {                    /* the client went away meanwhile */
        free(line);
        return;
    }
    c->req = NULL;
    ctl_client_write(c, line, len);
    ctl_client_arm(c);
    if (!c->dispatching)
        ctl_client_process(c);
}

/* ctl_req_ok - answer with a result */

void ctl_req_ok(struct ctl_req *r, json_t *result)
{
    ctl_req_answer(r, true, result ? result : json_object());
}

/* ctl_req_err_json - answer with an error object */

void ctl_req_err_json(struct ctl_req *r, json_t *error)
{
    ctl_req_answer(r, false, error);
}

/* ctl_req_err - answer with an error */

void ctl_req_err(struct ctl_req *r, const char *code, const char *fmt, ...)
{
    va_list ap;
    json_t *e;

    va_start(ap, fmt);
    e = ctlproto_errorv(code, fmt, ap);
    va_end(ap);
    ctl_req_answer(r, false, e);
}

/* ctl_req_defer - run fn(r, arg) on the main loop; any thread */

void ctl_req_defer(struct ctl_req *r, void (*fn)(struct ctl_req *, void *), void *arg)
{
    r->fn = fn;
    r->arg = arg;
    r->dnext = NULL;
    uv_mutex_lock(&ctl.lock);
    if (ctl.dtail)
        ctl.dtail->dnext = r;
    else
        ctl.dhead = r;
    ctl.dtail = r;
    if (ctl.wake_open)
        uv_async_send(&ctl.wake);
    uv_mutex_unlock(&ctl.lock);
}

/* ctl_run_deferred - the deferred list, on the main loop */

static void ctl_run_deferred(uv_async_t *a)
{
    struct ctl_req *r, *next;

    uv_mutex_lock(&ctl.lock);
    r = ctl.dhead;
    ctl.dhead = ctl.dtail = NULL;
    uv_mutex_unlock(&ctl.lock);
    for (; r != NULL; r = next) {
        next = r->dnext;
        r->fn(r, r->arg);               /* may answer, which frees r */
    }
}

uid_t ctl_req_uid(const struct ctl_req *r)
{
    return r->uid;
}

pid_t ctl_req_pid(const struct ctl_req *r)
{
    return r->pid;
}

enum ctl_role ctl_req_role(const struct ctl_req *r)
{
    return r->role;
}

/* ctl_handler_find - the handler of a command, or NULL */

static ctl_handler_fn *ctl_handler_find(const char *name)
{
    for (size_t g = 0; ctl_groups[g] != NULL; g++)
        for (const struct ctl_handler *h = ctl_groups[g]; h->name != NULL; h++)
            if (strcmp(h->name, name) == 0)
                return h->fn;
    return NULL;
}

/* ctl_client_dispatch - one request line */

static void ctl_client_dispatch(struct ctl_client *c, const char *line, size_t len)
{
    struct ctlproto_req pr;
    json_t *id = NULL, *error = NULL;
    enum ctlproto_parse p = ctlproto_parse(line, len, &pr, &id, &error);
    ctl_handler_fn *fn;
    struct ctl_req *r;

    if (p != CTLPROTO_OK) {
        if (p == CTLPROTO_FATAL)
            log_warnx("ctl", c->sid, "bad request uid=%u pid=%d: %s", (unsigned)c->uid,
                      (int)c->pid, json_string_value(json_object_get(error, "message")));
        ctl_client_fail(c, id, error, p == CTLPROTO_FATAL);
        json_decref(id);
        return;
    }
    json_decref(id);
    if (!ctlproto_role_allows(c->role, pr.cmd)) {
        log_warnx("ctl", c->sid, "command cmd=%s uid=%u pid=%d result=denied role=%s",
                  pr.cmd->name, (unsigned)c->uid, (int)c->pid, ctlproto_role_name(c->role));
        ctl_client_fail(c, pr.id, ctlproto_error(CTL_E_DENIED, "%s needs the %s role; uid %u "
                                                 "is a %s", pr.cmd->name,
                                                 ctlproto_role_name(pr.cmd->role),
                                                 (unsigned)c->uid,
                                                 ctlproto_role_name(c->role)), false);
        ctlproto_req_free(&pr);
        return;
    }
    if ((fn = ctl_handler_find(pr.cmd->name)) == NULL) {
        ctl_client_fail(c, pr.id, ctlproto_error(CTL_E_UNKNOWN_COMMAND, "%s is not available "
                                                 "in this domsecd", pr.cmd->name), false);
        ctlproto_req_free(&pr);
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->id = pr.id;
    pr.id = NULL;
    r->cmd = pr.cmd;
    r->sid = c->sid;
    r->uid = c->uid;
    r->pid = c->pid;
    r->role = c->role;
    c->req = r;
    uv_timer_stop(&c->timer);
    fn(r, pr.args);                     /* may answer at once, which clears c->req */
    ctlproto_req_free(&pr);
}

/* ctl_client_alloc - the room for the next read */

static void ctl_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ctl_client *c = h->data;
    size_t  room = 0;
    char   *p = ctlproto_lines_room(&c->in, &room);

    *buf = uv_buf_init(p, p ? (unsigned)room : 0);
}

/* ctl_client_read - bytes from the client */

static void ctl_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ctl_client *c = s->data;

    if (n == 0)
        return;
    if (n == UV_EOF) {                  /* half-closed: answer what was asked, then close */
        c->eof = true;
        ctl_client_reading(c, false);
        ctl_client_process(c);
        return;
    }
    if (n < 0) {
        ctl_client_close(c, "read-error");
        return;
    }
    ctlproto_lines_added(&c->in, (size_t)n);
    ctl_client_process(c);
}

/* ctl_client_reading - read, or not */

static void ctl_client_reading(struct ctl_client *c, bool on)
{
    if (c->closing || c->reading == on)
        return;
    c->reading = on;
    if (on)
        uv_read_start((uv_stream_t *)&c->pipe, ctl_client_alloc, ctl_client_read);
    else
        uv_read_stop((uv_stream_t *)&c->pipe);
}

/* ctl_client_process - answer the complete lines held, one at a time */

static void ctl_client_process(struct ctl_client *c)
{
    const char *line;
    size_t  len;

    c->dispatching = true;
    while (!c->closing && !c->close_after_write && c->req == NULL && c->out <= CTL_MAX_OUTPUT) {
        enum ctlproto_next nx = ctlproto_lines_next(&c->in, &line, &len);

        if (nx == CTLPROTO_AGAIN) {
            c->dispatching = false;
            if (!c->eof)
                ctl_client_reading(c, true);
            else if (c->out > 0)
                c->close_after_write = true;
            else
                ctl_client_close(c, NULL);
            return;
        }
        if (nx == CTLPROTO_TOO_LONG) {
            log_warnx("ctl", c->sid, "bad request uid=%u pid=%d: longer than %d bytes",
                      (unsigned)c->uid, (int)c->pid, CTL_MAX_REQUEST);
            ctl_client_fail(c, NULL, ctlproto_error(CTL_E_BAD_REQUEST, "request longer than "
                                                    "%d bytes", CTL_MAX_REQUEST), true);
            break;
        }
        ctl_client_dispatch(c, line, len);
    }
    c->dispatching = false;
    ctl_client_reading(c, false);
}

/* ctl_peer_groups - the peer's supplementary groups (owned), *n set */

static gid_t *ctl_peer_groups(int fd, size_t *n)
{
    socklen_t len = 64 * sizeof(gid_t);
    gid_t  *g = xmalloc(len);

    *n = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
        if (errno != ERANGE || len > CTL_MAX_GROUPS * sizeof(gid_t)) {
            free(g);
            return NULL;
        }
        g = xrealloc(g, len);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
            free(g);
            return NULL;
        }
    }
    *n = len / sizeof(gid_t);
    return g;
}

/* ctl_client_creds - who connected; false if the kernel will not say */

static bool ctl_client_creds(struct ctl_client *c)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);
    uv_os_fd_t fd;
    gid_t  *groups;
    size_t  ng;

    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0
        || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return false;
    c->uid = uc.uid;
    c->gid = uc.gid;
    c->pid = uc.pid;
    groups = ctl_peer_groups(fd, &ng);
    c->role = ctl_role_of(uc.uid, uc.gid, groups, ng, ctl.self_uid, ctl.reader_gid);
    free(groups);
    return true;
}

/* ctl_admin_reserve - the places readers may not take, so that root can always get in */

static unsigned ctl_admin_reserve(void)
{
    return ctl.max_clients > CTL_ADMIN_RESERVE ? CTL_ADMIN_RESERVE : ctl.max_clients - 1;
}

/* ctl_room_for - may one more client of role be served now? */

static bool ctl_room_for(enum ctl_role role)
{
    if (ctl.nclients >= ctl.max_clients)
        return false;
    return role == CTL_ADMIN || ctl.nothers < ctl.max_clients - ctl_admin_reserve();
}

/* ctl_accept - a new client */

static void ctl_accept(uv_stream_t *server, int status)
{
    struct ctl_client *c;

    if (status < 0) {
        log_warnx("ctl", 0, "accept failed: %s", uv_strerror(status));
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->sid = log_session_id_next();
    ctlproto_lines_init(&c->in, CTL_MAX_REQUEST);
    uv_pipe_init(ctl.loop, &c->pipe, 0);
    uv_timer_init(ctl.loop, &c->timer);
    c->pipe.data = c->timer.data = c;
    c->handles = 2;
    c->next = ctl.clients;
    if (ctl.clients)
        ctl.clients->prev = c;
    ctl.clients = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 || !ctl_client_creds(c)) {
        c->refused = true;
        ctl.nrefused++;
        ctl_client_close(c, "accept-error");
        return;
    }
    c->refused = !ctl_room_for(c->role);
    if (c->refused)
        ctl.nrefused++;
    else {
        ctl.nclients++;
        ctl.nothers += c->role != CTL_ADMIN;
    }
    ctl_client_arm(c);
    if (c->refused) {
        log_warnx("ctl", c->sid, "client refused reason=busy clients=%u uid=%u pid=%d",
                  ctl.nclients, (unsigned)c->uid, (int)c->pid);
        if (ctl.nrefused > ctl.max_clients)     /* a flood: no words spent on it */
            ctl_client_close(c, NULL);
        else
            ctl_client_fail(c, NULL, ctlproto_error(CTL_E_BUSY, "too many control clients "
                                                    "(control_max_clients = %u, of which "
                                                    "%u kept for root and the daemon's "
                                                    "user)", ctl.max_clients,
                                                    ctl_admin_reserve()), true);
        return;
    }
    if (c->role == CTL_NONE) {
        log_warnx("ctl", c->sid, "client refused reason=denied uid=%u gid=%u pid=%d",
                  (unsigned)c->uid, (unsigned)c->gid, (int)c->pid);
        ctl_client_fail(c, NULL, ctlproto_error(CTL_E_DENIED, "uid %u is neither root, the "
                                                "daemon's user nor in its group",
                                                (unsigned)c->uid), true);
        return;
    }
    log_debug("ctl", c->sid, "client connected uid=%u pid=%d role=%s", (unsigned)c->uid,
              (int)c->pid, ctlproto_role_name(c->role));
    ctl_client_process(c);
}

/* relay_ctl_start - listen on the control socket */

int relay_ctl_start(uv_loop_t *main_loop, const struct config *cfg,
                    const struct relay_ctl_ops *ops, uid_t self_uid, gid_t reader_gid)
{
    const char *path = cfg->service.control_socket;
    int     fd, r;

    ctl.loop = main_loop;
    ctl.ops = ops;
    ctl.self_uid = self_uid;
    ctl.reader_gid = reader_gid;
    ctl.max_clients = cfg->service.control_max_clients;
    ctl.timeout_ms = cfg->service.control_timeout;
    ctl.started_ms = ctl__now_ms();
    if (uv_mutex_init(&ctl.lock) != 0)
        log_panic("ctl", "uv_mutex_init");
    uv_async_init(main_loop, &ctl.wake, ctl_run_deferred);
    uv_unref((uv_handle_t *)&ctl.wake);  /* it must not keep the loop alive */
    ctl.wake_open = ctl.started = true;
    if (path == NULL) {
        log_info("ctl", 0, "no control socket ([service] control_socket is empty)");
        return 0;
    }
    if ((fd = ctl__sock_open(&ctl.sock, path, self_uid, reader_gid)) < 0)
        return -1;
    uv_pipe_init(main_loop, &ctl.listener, 0);
    if ((r = uv_pipe_open(&ctl.listener, fd)) < 0)
        close(fd);                      /* not the handle's: uv_close leaves it */
    else
        r = uv_listen((uv_stream_t *)&ctl.listener, CTL_BACKLOG, ctl_accept);
    if (r < 0) {
        log_errx("ctl", 0, "cannot listen on control socket %s: %s", path, uv_strerror(r));
        uv_close((uv_handle_t *)&ctl.listener, NULL);
        ctl__sock_remove(&ctl.sock, path);
        return -1;
    }
    ctl.path = xstrdup(path);
    ctl.listening = true;
    log_info("ctl", 0, "listening path=%s max_clients=%u", path, ctl.max_clients);
    return 0;
}

/* relay_ctl_reconfigure - a reload: the new timeout */

void relay_ctl_reconfigure(const struct config *cfg)
{
    ctl.timeout_ms = cfg->service.control_timeout;
}

/* relay_ctl_stop - stop listening, remove the socket, close the clients */

void relay_ctl_stop(void)
{
    if (ctl.listening) {
        ctl.listening = false;
        uv_close((uv_handle_t *)&ctl.listener, NULL);
        ctl__sock_remove(&ctl.sock, ctl.path);
    }
    while (ctl.clients != NULL)
        ctl_client_close(ctl.clients, NULL);
}

/* relay_ctl_finish - run what was deferred; release everything */

void relay_ctl_finish(void)
{
    if (!ctl.started)
        return;
    relay_ctl_stop();
    ctl_run_deferred(&ctl.wake);
    uv_mutex_lock(&ctl.lock);
    ctl.wake_open = false;
    uv_mutex_unlock(&ctl.lock);
    uv_close((uv_handle_t *)&ctl.wake, NULL);
    uv_run(ctl.loop, UV_RUN_NOWAIT);    /* the close callbacks */
    uv_mutex_destroy(&ctl.lock);
    free(ctl.path);
    ctl.path = NULL;
    ctl.started = false;
}
