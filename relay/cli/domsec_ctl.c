/*
 * domsec_ctl.c - talking to domsecd over its control socket
 * (relay_ctlproto.h): one connection per request, blocking, with a
 * timeout on every send and receive.
 *
 * CONTRACT
 *  domsec_ctl_call sends one request and returns when its reply line is
 *  read, the daemon closed, or timeout_s passed without progress.  It
 *  prints nothing: the caller decides (domsec_ctl_print_error).  Results
 *  and errors are new JSON values owned by the caller.  Exit statuses as
 *  in ctlproto_exit_status (3 when nobody answers).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "domsec_cmd.h"
#include "domsec_ctl.h"
#include "log.h"
#include "log_util.h"
#include "policy_edit.h"
#include "relay_ctlproto.h"

const char *domsec_ctl_socket_opt;

/*
 * domsec_ctl_socket - the socket path to use.  The file is not loaded as
 * domsecd loads it, only this key is read: `domsec reload` must find the
 * daemon even when the file it is about to refuse is broken elsewhere.
 */
const char *domsec_ctl_socket(const char *config_path, const char *override)
{
    static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char   *text, *v;
    int     err;

    if (override != NULL) {
        if (strlen(override) >= sizeof(path)) {
            fprintf(stderr, "domsec: --socket %s: longer than %zu bytes\n", override,
                    sizeof(path) - 1);
            return NULL;
        }
        return snprintf(path, sizeof(path), "%s", override), path;
    }
    if ((text = domsec_read(config_path)) == NULL) {
        err = errno;
        fprintf(stderr, "domsec: cannot read the control socket's path from %s: %s\n"
                "domsec: give it with --socket PATH\n", config_path, strerror(err));
        return NULL;
    }
    v = policy_edit_get(text, "service", "control_socket");
    free(text);
    if (v != NULL && *v == '\0') {
        fprintf(stderr, "domsec: [service] control_socket is empty in %s: domsecd has no "
                "control socket\n", config_path);
        free(v);
        return NULL;
    }
    if (v != NULL && (v[0] != '/' || strlen(v) >= sizeof(path))) {
        fprintf(stderr, "domsec: [service] control_socket = %s in %s is not an absolute path "
                "of at most %zu bytes\n", v, config_path, sizeof(path) - 1);
        free(v);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s", v ? v : DOMSEC_CTL_DEFAULT_SOCKET);
    free(v);
    return path;
}

/* domsec_ctl_fail - a made-up error; its exit status */

static int domsec_ctl_fail(json_t **error, const char *code, const char *fmt, ...)
    LOG_PRINTF(3, 4);

static int domsec_ctl_fail(json_t **error, const char *code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *error = ctlproto_errorv(code, fmt, ap);
    va_end(ap);
    return ctlproto_exit_status(code);
}

/* domsec_ctl_connect - a connected socket, or -1 and *error */

static int domsec_ctl_connect(const char *sock, int timeout_s, json_t **error)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = timeout_s };
    int     fd;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        domsec_ctl_fail(error, CTL_E_INTERNAL, "socket: %s", strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (errno == ENOENT || errno == ECONNREFUSED)
        domsec_ctl_fail(error, CTL_E_UNREACHABLE, "domsecd is not running (%s on control "
                        "socket %s)", errno == ENOENT ? "no such file" : "nothing listens",
                        sock);
    else if (errno == EACCES || errno == EPERM)
        domsec_ctl_fail(error, CTL_E_UNREACHABLE, "cannot connect to control socket %s: %s "
                        "(root, the domsec user or its group may)", sock, strerror(errno));
    else
        domsec_ctl_fail(error, CTL_E_UNREACHABLE, "cannot connect to control socket %s: %s",
                        sock, strerror(errno));
    close(fd);
    return -1;
}

/* domsec_ctl_send - the whole request; 0 or an exit status */

static int domsec_ctl_send(int fd, const char *line, size_t len, json_t **error)
{
    while (len > 0) {
        ssize_t n = send(fd, line, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return domsec_ctl_fail(error, CTL_E_TIMEOUT, "domsecd does not take the request "
                                   "(timed out)");
        if (n < 0)                      /* it may have said why: read on */
            return 0;
        line += n;
        len -= (size_t)n;
    }
    return 0;
}

/* domsec_ctl_call - one request, one reply */

int domsec_ctl_call(const char *sock, const char *cmd, json_t *args, int timeout_s,
                    json_t **result, json_t **error)
{
    static uint64_t next_id = 1;
    struct ctlproto_lines lb;
    uint64_t id = next_id++;
    size_t  len;
    char   *req = ctlproto_request(id, cmd, args, &len);
    int     fd, status;

    *result = *error = NULL;
    if ((fd = domsec_ctl_connect(sock, timeout_s, error)) < 0) {
        free(req);
        return ctlproto_exit_status(CTL_E_UNREACHABLE);
    }
    status = domsec_ctl_send(fd, req, len, error);
    free(req);
    ctlproto_lines_init(&lb, CTL_MAX_REPLY);
    while (status == 0) {
        const char *line;
        size_t  room;
        char   *p;
        ssize_t n;
        enum ctlproto_next nx = ctlproto_lines_next(&lb, &line, &len);

        if (nx == CTLPROTO_LINE) {
            int r = ctlproto_parse_reply(line, len, id, result, error);

            status = r == 0 ? 0 : ctlproto_exit_status(json_string_value(
                                  json_object_get(*error, "code")));
            break;
        }
        if (nx == CTLPROTO_TOO_LONG) {
            status = domsec_ctl_fail(error, CTL_E_INTERNAL, "the reply is longer than %u bytes",
                                     CTL_MAX_REPLY);
            break;
        }
        p = ctlproto_lines_room(&lb, &room);
        n = recv(fd, p, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            status = domsec_ctl_fail(error, CTL_E_TIMEOUT, "no answer from domsecd within %ds",
                                     timeout_s);
        else if (n < 0)
            status = domsec_ctl_fail(error, CTL_E_UNREACHABLE, "control socket %s: %s", sock,
                                     strerror(errno));
        else if (n == 0)
            status = domsec_ctl_fail(error, CTL_E_UNREACHABLE, "domsecd closed the connection "
                                     "without answering");
        else
            ctlproto_lines_added(&lb, (size_t)n);
    }
    ctlproto_lines_free(&lb);
    close(fd);
    return status;
}

/* domsec_ctl_unreachable - did nobody answer? */

int domsec_ctl_unreachable(const json_t *error)
{
    const char *code = json_string_value(json_object_get(error, "code"));

    return code != NULL && strcmp(code, CTL_E_UNREACHABLE) == 0;
}

/* domsec_ctl_print_error - "domsec: WHAT: message", then the error's list of errors */

void domsec_ctl_print_error(const char *what, const json_t *error)
{
    const char *msg = json_string_value(json_object_get(error, "message"));
    json_t *v, *list = json_object_get(error, "errors");
    size_t  i;

    fprintf(stderr, "domsec: %s: %s\n", what, msg ? msg : "(no message)");
    for (i = 0; (v = json_array_get(list, i)) != NULL; i++)
        if (json_is_string(v))
            fprintf(stderr, "%s\n", json_string_value(v));
}

/* domsec_ctl_now_ms - wall clock */

int64_t domsec_ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* domsec_ctl_span - "4m", "2h 5m", "3d 4h", "12s" */

char *domsec_ctl_span(char *out, size_t size, int64_t ms)
{
    int64_t s = (ms < 0 ? -ms : ms) / 1000;

    if (s < 60)
        snprintf(out, size, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, size, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(out, size, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, size, "%lldd %lldh", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    return out;
}

/* domsec_ctl_time - "2026-12-07T06:28:44Z (in 4m)" */

char *domsec_ctl_time(char *out, size_t size, int64_t ms, int64_t now_ms)
{
    char    iso[32], span[32];

    log_iso_time(iso, sizeof(iso), ms / 1000, "-");
    domsec_ctl_span(span, sizeof(span), ms - now_ms);
    if (ms >= now_ms)
        snprintf(out, size, "%s (in %s)", iso, span);
    else
        snprintf(out, size, "%s (%s ago)", iso, span);
    return out;
}
