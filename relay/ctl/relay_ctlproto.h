/*
 * relay_ctlproto.h - the control socket's wire protocol, shared by the
 * daemon (relay_ctl.c) and the `domsec` command: newline-framed JSON
 * (jansson), one object a line.
 *
 *   request: {"v":1,"id":N,"cmd":"NAME","args":{...}}   (id, args optional)
 *   reply:   {"v":1,"id":N,"ok":true,"result":{...}}
 *            {"v":1,"id":N,"ok":false,"error":{"code":"CODE","message":"..."}}
 *
 * A request is at most CTL_MAX_REQUEST bytes with its LF (a CR before the
 * LF is dropped).  Every reply is one line: JSON_COMPACT|JSON_ENSURE_ASCII
 * never writes a raw newline or a byte >= 0x80.  No libuv and no daemon
 * here: pure functions over buffers, plus the command table (name, the
 * role it needs, the json_unpack format its args must match).
 */
#ifndef DOMSEC_RELAY_CTLPROTO_H
#define DOMSEC_RELAY_CTLPROTO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CTL_MAX_REQUEST 65536           /* bytes, LF included */
#define CTL_MAX_REPLY   (64u << 20)     /* what a client accepts as one reply line */
#define CTL_ID_MAX      9007199254740992ULL     /* 2^53: ids exact in any JSON reader */

/* Error codes (the "code" of an error object); see ctlproto_exit_status. */
#define CTL_E_BAD_REQUEST     "bad_request"     /* not JSON/object, too long, v != 1: closed */
#define CTL_E_UNKNOWN_COMMAND "unknown_command"
#define CTL_E_BAD_ARGS        "bad_args"
#define CTL_E_DENIED          "denied"
#define CTL_E_NOT_FOUND       "not_found"
#define CTL_E_CONFLICT        "conflict"
#define CTL_E_BUSY            "busy"
#define CTL_E_CONFIG          "config"
#define CTL_E_INTERNAL        "internal"
#define CTL_E_STOPPING        "stopping"
#define CTL_E_UNREACHABLE     "unreachable"     /* made up by the client: no answer */
#define CTL_E_TIMEOUT         "timeout"         /* made up by the client */

/* Who a peer is (relay_ctl_auth.c decides); a command's row names the least it needs. */
enum ctl_role { CTL_NONE, CTL_READER, CTL_ADMIN };

struct ctlproto_cmd {                   /* one row of the command table */
    const char *name;                   /* "status", "queue.list" */
    enum ctl_role role;                 /* the least role that may run it */
    const char *args;                   /* json_unpack format the args object must
                                         * match under JSON_STRICT ("{}" = none) */
};

/* A line assembler: bytes in, complete lines out, at most max bytes a line. */
struct ctlproto_lines {
    /* Private. */
    char   *buf;                        /* owned */
    size_t  len, cap, max;
    size_t  scanned;                    /* bytes known to hold no LF */
    size_t  taken;                      /* length of the line handed out, LF included */
};

enum ctlproto_next {
    CTLPROTO_AGAIN,                     /* no complete line yet */
    CTLPROTO_LINE,                      /* *line, *len: one line without its LF (or CRLF) */
    CTLPROTO_TOO_LONG                   /* max bytes without a LF: the stream is broken */
};

struct ctlproto_req {                   /* a parsed request */
    json_t *id;                         /* owned: the id as sent, or NULL (echo null) */
    const struct ctlproto_cmd *cmd;     /* the table row */
    json_t *args;                       /* owned: an object ({} when omitted) */
};

enum ctlproto_parse {
    CTLPROTO_OK,                        /* *req filled */
    CTLPROTO_REJECT,                    /* unknown command or bad args: reply, go on */
    CTLPROTO_FATAL                      /* bad_request: reply, then close */
};

/* relay_ctlproto.c */
extern const struct ctlproto_cmd ctlproto_cmds[];      /* ends with a NULL name */
/* The row for name, or NULL. */
const struct ctlproto_cmd *ctlproto_cmd_find(const char *name);
/* Does role have may run cmd? */
bool    ctlproto_role_allows(enum ctl_role have, const struct ctlproto_cmd *cmd);
const char *ctlproto_role_name(enum ctl_role role);

void    ctlproto_lines_init(struct ctlproto_lines *lb, size_t max);
void    ctlproto_lines_free(struct ctlproto_lines *lb);
/* Room to read into: *room >= 1 bytes at the returned pointer, or NULL when
 * the buffer is full (then ctlproto_lines_next says TOO_LONG or LINE). */
char   *ctlproto_lines_room(struct ctlproto_lines *lb, size_t *room);
/* n bytes were read into the room. */
void    ctlproto_lines_added(struct ctlproto_lines *lb, size_t n);
/* Copy up to n bytes in; returns how many were taken (less when full). */
size_t  ctlproto_lines_feed(struct ctlproto_lines *lb, const char *data, size_t n);
/* The next line (valid until the next call on lb), which is then consumed. */
enum ctlproto_next ctlproto_lines_next(struct ctlproto_lines *lb, const char **line,
                                       size_t *len);
/* Bytes held that are not part of a line handed out (a partial line). */
size_t  ctlproto_lines_pending(const struct ctlproto_lines *lb);

/* Parse and check one request line.  Whatever the result, *id is the
 * request's id if one could be read (owned by the caller: release it with
 * json_decref), or NULL.  On OK, *req is filled (release it with
 * ctlproto_req_free; req->id holds a reference of its own) and *error is
 * NULL; else *error is the error object (owned by the caller). */
enum ctlproto_parse ctlproto_parse(const char *line, size_t len, struct ctlproto_req *req,
                                   json_t **id, json_t **error);
void    ctlproto_req_free(struct ctlproto_req *req);

/* A JSON string of text whose bytes that are not UTF-8 are written "\xFF"
 * (file names, peer data); never NULL. */
json_t *ctlproto_string(const char *text);
/* {"code":code,"message":fmt...}; add more keys with json_object_set_new. */
json_t *ctlproto_error(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
json_t *ctlproto_errorv(const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* One reply line with its LF (malloc'd, *len set).  id borrowed (NULL =
 * null); result / error stolen. */
char   *ctlproto_reply_ok(const json_t *id, json_t *result, size_t *len);
char   *ctlproto_reply_err(const json_t *id, json_t *error, size_t *len);

/* Client side: one request line with its LF (malloc'd); args stolen (NULL = {}). */
char   *ctlproto_request(uint64_t id, const char *cmd, json_t *args, size_t *len);
/* Check a reply line for request id: 0 and *result (owned) when ok; 1 and
 * *error (owned) when the daemon said no; -1 and *error (made up,
 * code "internal") when the line is not a reply to id. */
int     ctlproto_parse_reply(const char *line, size_t len, uint64_t id, json_t **result,
                             json_t **error);
/* domsec's exit status for an error code: 1 not_found/conflict/config,
 * 2 bad_request/unknown_command/bad_args, 4 denied, else 3. */
int     ctlproto_exit_status(const char *code);

#endif
