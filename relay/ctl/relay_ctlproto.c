/*
 * relay_ctlproto.c - the control socket's wire protocol (relay_ctlproto.h):
 * the command table, the line assembler, request parsing and checking,
 * reply building; and the client's side of the same (request lines, reply
 * checking, exit statuses).
 *
 * CONTRACT
 *  Pure functions over caller buffers; no I/O, no globals but the const
 *  table.  Allocation aborts on failure (xmalloc; the daemon and domsec
 *  both route jansson's allocator there).  A line handed out by
 *  ctlproto_lines_next stays valid until the next call on the same
 *  assembler.  Nothing calls back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_ctlproto.h"

#define CTLPROTO_CHUNK 65536            /* how much room a read gets at most */

/* The commands.  A command needs a row here (its role and its args) and a
 * handler in the daemon (relay_ctl.c's groups); a row without a handler
 * answers unknown_command. */
const struct ctlproto_cmd ctlproto_cmds[] = {
    { "ping", CTL_READER, "{}" },
    { "status", CTL_READER, "{}" },
    { "reload", CTL_ADMIN, "{}" },
    /* Queue administration (relay_ctl_queue.c): reading is for readers (as
     * mailq), changing for administrators (as postsuper); queue.show with
     * the body checks the admin role itself.  "o": any object here - a
     * format naming keys cannot be checked without them (json_unpack reads
     * the keys from its arguments even with JSON_VALIDATE_ONLY), so the
     * handler checks its keys itself, with JSON_STRICT, answering bad_args. */
    { "queue.list", CTL_READER, "o" },
    { "queue.summary", CTL_READER, "o" },
    { "queue.show", CTL_READER, "o" },
    { "queue.retry", CTL_ADMIN, "o" },
    { "queue.hold", CTL_ADMIN, "o" },
    { "queue.release", CTL_ADMIN, "o" },
    { "queue.delete", CTL_ADMIN, "o" },
    /* TLS-RPT (relay_ctl_tlsrpt.c): sending changes things, as queue.retry. */
    { "tlsrpt.send", CTL_ADMIN, "o" },
    { NULL, CTL_NONE, NULL },
};

/* ctlproto_cmd_find - the table row of a command */

const struct ctlproto_cmd *ctlproto_cmd_find(const char *name)
{
    for (const struct ctlproto_cmd *c = ctlproto_cmds; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* ctlproto_role_allows - may a peer of this role run cmd? */

bool ctlproto_role_allows(enum ctl_role have, const struct ctlproto_cmd *cmd)
{
    return cmd->role != CTL_NONE && have >= cmd->role;
}

/* ctlproto_role_name - "admin", "reader", "none" */

const char *ctlproto_role_name(enum ctl_role role)
{
    switch (role) {
    case CTL_ADMIN: return "admin";
    case CTL_READER: return "reader";
    default: return "none";
    }
}

/* ctlproto_lines_init - an empty assembler for lines of at most max bytes (LF included) */

void ctlproto_lines_init(struct ctlproto_lines *lb, size_t max)
{
    memset(lb, 0, sizeof(*lb));
    lb->max = max;
}

/* ctlproto_lines_free - release the buffer */

void ctlproto_lines_free(struct ctlproto_lines *lb)
{
    free(lb->buf);
    memset(lb, 0, sizeof(*lb));
}

/* ctlproto_lines_drop - forget the line handed out last */

static void ctlproto_lines_drop(struct ctlproto_lines *lb)
{
    if (lb->taken == 0)
        return;
    memmove(lb->buf, lb->buf + lb->taken, lb->len - lb->taken);
    lb->len -= lb->taken;
    lb->taken = 0;
    lb->scanned = 0;
}

/* ctlproto_lines_room - where the next read goes */

char *ctlproto_lines_room(struct ctlproto_lines *lb, size_t *room)
{
    size_t want;

    ctlproto_lines_drop(lb);
    if (lb->len >= lb->max)
        return NULL;
    want = lb->len + CTLPROTO_CHUNK < lb->max ? lb->len + CTLPROTO_CHUNK : lb->max;
    if (lb->cap < want) {
        lb->buf = xrealloc(lb->buf, want);
        lb->cap = want;
    }
    *room = lb->cap - lb->len;
    return lb->buf + lb->len;
}

/* ctlproto_lines_added - n bytes were read into the room */

void ctlproto_lines_added(struct ctlproto_lines *lb, size_t n)
{
    if (n > lb->cap - lb->len)
        log_panic("ctl", "ctlproto_lines_added: %zu bytes past the room", n);
    lb->len += n;
}

/* ctlproto_lines_feed - copy bytes in */

size_t ctlproto_lines_feed(struct ctlproto_lines *lb, const char *data, size_t n)
{
    size_t  done = 0, room;
    char   *p;

    while (done < n && (p = ctlproto_lines_room(lb, &room)) != NULL) {
        if (room > n - done)
            room = n - done;
        memcpy(p, data + done, room);
        ctlproto_lines_added(lb, room);
        done += room;
    }
    return done;
}

/* ctlproto_lines_next - the next complete line */

enum ctlproto_next ctlproto_lines_next(struct ctlproto_lines *lb, const char **line,
                                       size_t *len)
{
    char   *lf;

    ctlproto_lines_drop(lb);
    lf = lb->len > lb->scanned ? memchr(lb->buf + lb->scanned, '\n', lb->len - lb->scanned)
        : NULL;
    if (lf == NULL) {
        lb->scanned = lb->len;
        return lb->len >= lb->max ? CTLPROTO_TOO_LONG : CTLPROTO_AGAIN;
    }
    lb->taken = (size_t)(lf - lb->buf) + 1;
    *line = lb->buf;
    *len = lb->taken - 1;
    if (*len > 0 && lb->buf[*len - 1] == '\r')
        (*len)--;
    return CTLPROTO_LINE;
}

/* ctlproto_lines_pending - bytes of a partial line */

size_t ctlproto_lines_pending(const struct ctlproto_lines *lb)
{
    return lb->len - lb->taken;
}

/* ctlproto_string - text as a JSON string, bytes that are not UTF-8 as "\xFF" */

json_t *ctlproto_string(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t  n = strlen(text), o = 0;
    char   *out = xmalloc(4 * n + 1);
    json_t *j;

    while (n > 0) {
        size_t  len = log_utf8_len(p, n, NULL);

        if (len == 0) {
            o += (size_t)sprintf(out + o, "\\x%02X", p[0]);
            len = 1;
        } else {
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
        n -= len;
    }
    j = json_stringn(out, o);           /* NUL cannot occur: text is a C string */
    free(out);
    if (j == NULL)
        log_panic("ctl", "ctlproto_string: not UTF-8 after cleaning");
    return j;
}

/* ctlproto_errorv - an error object */

json_t *ctlproto_errorv(const char *code, const char *fmt, va_list ap)
{
    char   *msg = NULL;
    json_t *e;

    if (vasprintf(&msg, fmt, ap) < 0)
        log_panic("ctl", "out of memory");
    e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", ctlproto_string(msg));
    free(msg);
    return e;
}

/* ctlproto_error - an error object */

json_t *ctlproto_error(const char *code, const char *fmt, ...)
{
    va_list ap;
    json_t *e;

    va_start(ap, fmt);
    e = ctlproto_errorv(code, fmt, ap);
    va_end(ap);
    return e;
}

/* ctlproto_parse_envelope - v, id, cmd, args of a request object */

static enum ctlproto_parse ctlproto_parse_envelope(json_t *root, struct ctlproto_req *req,
                                                   json_t **id, json_t **error)
{
    json_t *jid = NULL, *args = NULL;
    const char *cmd = NULL;
    json_error_t jerr;
    json_int_t v = 0;

    jid = json_object_get(root, "id");
    if (jid != NULL && (!json_is_integer(jid) || json_integer_value(jid) < 0
                        || (uint64_t)json_integer_value(jid) > CTL_ID_MAX)) {
        *error = ctlproto_error(CTL_E_BAD_REQUEST, "id must be an integer 0..2^53");
        return CTLPROTO_FATAL;
    }
    if (jid != NULL)
        *id = json_incref(jid);
    if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:I, s?o, s:s, s?o}", "v", &v, "id", &jid,
                       "cmd", &cmd, "args", &args) < 0) {
        *error = ctlproto_error(CTL_E_BAD_REQUEST, "%s", jerr.text);
        return CTLPROTO_FATAL;
    }
    if (v != 1) {
        *error = ctlproto_error(CTL_E_BAD_REQUEST, "protocol version %lld is not 1",
                                (long long)v);
        return CTLPROTO_FATAL;
    }
    if (args != NULL && !json_is_object(args)) {
        *error = ctlproto_error(CTL_E_BAD_ARGS, "args must be an object");
        return CTLPROTO_REJECT;
    }
    if ((req->cmd = ctlproto_cmd_find(cmd)) == NULL) {
        *error = ctlproto_error(CTL_E_UNKNOWN_COMMAND, "unknown command \"%s\"", cmd);
        return CTLPROTO_REJECT;
    }
    req->args = args ? json_incref(args) : json_object();
    if (json_unpack_ex(req->args, &jerr, JSON_STRICT | JSON_VALIDATE_ONLY, req->cmd->args)
        < 0) {
        *error = ctlproto_error(CTL_E_BAD_ARGS, "%s: %s", req->cmd->name, jerr.text);
        json_decref(req->args);
        req->args = NULL;
        return CTLPROTO_REJECT;
    }
    req->id = *id ? json_incref(*id) : NULL;
    return CTLPROTO_OK;
}

/* ctlproto_parse - one request line; *id set (owned) on OK too */

enum ctlproto_parse ctlproto_parse(const char *line, size_t len, struct ctlproto_req *req,
                                   json_t **id, json_t **error)
{
    enum ctlproto_parse r;
    json_error_t jerr;
    json_t *root;

    memset(req, 0, sizeof(*req));
    *id = NULL;
    *error = NULL;
    if ((root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        *error = ctlproto_error(CTL_E_BAD_REQUEST, "not JSON: %s (column %d)", jerr.text,
                                jerr.column);
        return CTLPROTO_FATAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *error = ctlproto_error(CTL_E_BAD_REQUEST, "a request is a JSON object");
        return CTLPROTO_FATAL;
    }
    r = ctlproto_parse_envelope(root, req, id, error);
    json_decref(root);
    return r;
}

/* ctlproto_req_free - release a parsed request */

void ctlproto_req_free(struct ctlproto_req *req)
{
    json_decref(req->id);
    json_decref(req->args);
    memset(req, 0, sizeof(*req));
}

/* ctlproto_line - obj as one compact ASCII line with its LF; obj released */

static char *ctlproto_line(json_t *obj, size_t *len)
{
    char   *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII), *out;
    size_t  n;

    json_decref(obj);
    if (s == NULL)                      /* only for invalid input, which we never build */
        log_panic("ctl", "cannot encode a reply");
    n = strlen(s);
    out = xmalloc(n + 2);
    memcpy(out, s, n);
    out[n] = '\n';
    out[n + 1] = '\0';
    free(s);
    *len = n + 1;
    return out;
}

/* ctlproto_reply - the envelope around result or error */

static char *ctlproto_reply(const json_t *id, bool ok, json_t *payload, size_t *len)
{
    json_t *o = json_object();

    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "id", id ? json_deep_copy(id) : json_null());
    json_object_set_new(o, "ok", json_boolean(ok));
    json_object_set_new(o, ok ? "result" : "error", payload ? payload : json_object());
    return ctlproto_line(o, len);
}

/* ctlproto_reply_ok - a success line */

char *ctlproto_reply_ok(const json_t *id, json_t *result, size_t *len)
{
    return ctlproto_reply(id, true, result, len);
}

/* ctlproto_reply_err - a failure line */

char *ctlproto_reply_err(const json_t *id, json_t *error, size_t *len)
{
    return ctlproto_reply(id, false, error, len);
}

/* ctlproto_request - a request line */

char *ctlproto_request(uint64_t id, const char *cmd, json_t *args, size_t *len)
{
    json_t *o = json_object();

    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    json_object_set_new(o, "cmd", json_string(cmd));
    json_object_set_new(o, "args", args ? args : json_object());
    return ctlproto_line(o, len);
}

/* ctlproto_parse_reply - check one reply line */

int ctlproto_parse_reply(const char *line, size_t len, uint64_t id, json_t **result,
                         json_t **error)
{
    json_t *root, *jid = NULL, *res = NULL, *err = NULL;
    json_error_t jerr;
    json_int_t v = 0;
    int ok = 0;

    *result = *error = NULL;
    if ((root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        *error = ctlproto_error(CTL_E_INTERNAL, "the daemon's reply is not JSON: %s",
                                jerr.text);
        return -1;
    }
    if (json_unpack_ex(root, &jerr, 0, "{s:I, s:o, s:b, s?o, s?o}", "v", &v, "id", &jid,
                       "ok", &ok, "result", &res, "error", &err) < 0 || v != 1
        || (ok ? !json_is_object(res) : !json_is_object(err))) {
        *error = ctlproto_error(CTL_E_INTERNAL, "the daemon's reply is not one: %s",
                                jerr.text);
        json_decref(root);
        return -1;
    }
    if (!json_is_null(jid) && (!json_is_integer(jid) || (uint64_t)json_integer_value(jid) != id)) {
        *error = ctlproto_error(CTL_E_INTERNAL, "the daemon answered another request");
        json_decref(root);
        return -1;
    }
    if (ok)
        *result = json_incref(res);
    else
        *error = json_incref(err);
    json_decref(root);
    return ok ? 0 : 1;
}

/* ctlproto_exit_status - domsec's exit status for an error code */

int ctlproto_exit_status(const char *code)
{
    static const struct {
        const char *code;
        int     status;
    } map[] = {
        { CTL_E_NOT_FOUND, 1 }, { CTL_E_CONFLICT, 1 }, { CTL_E_CONFIG, 1 },
        { CTL_E_BAD_REQUEST, 2 }, { CTL_E_UNKNOWN_COMMAND, 2 }, { CTL_E_BAD_ARGS, 2 },
        { CTL_E_DENIED, 4 },
    };

    for (size_t i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].code, code) == 0)
            return map[i].status;
    return 3;
}
