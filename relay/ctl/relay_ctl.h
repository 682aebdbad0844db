/*
 * relay_ctl.h - the control socket server, on the daemon's main loop.
 *
 * relay/server starts it after the configuration is loaded and stops it
 * at shutdown.  A peer connects to [service] control_socket (a Unix
 * socket, mode 0660, group = the service user's group); its credentials
 * (SO_PEERCRED, SO_PEERGROUPS) give its role (relay_ctl_auth.c); each
 * request line (relay_ctlproto.h) is checked against the command table,
 * then handed to the handler of that name.
 *
 * Handlers live in groups, one file each (relay_ctl_cmds.c: ping, status,
 * reload; relay_ctl_queue.c: queue.*); relay_ctl.c lists the groups.  A
 * handler runs on the main loop with the role already checked and must
 * answer exactly once, now or later (ctl_req_defer from any thread brings
 * it back to the main loop).  Requests of one client are answered in
 * order, one at a time.
 */
#ifndef DOMSEC_RELAY_CTL_H
#define DOMSEC_RELAY_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "policy_config.h"
#include "relay_ctlproto.h"

struct ctl_req;                          /* one request being answered (opaque) */
typedef void ctl_handler_fn(struct ctl_req *r, json_t *args);   /* main loop; args borrowed; role already checked */
struct ctl_handler { const char *name; ctl_handler_fn *fn; };

/* The handler groups (NULL-terminated arrays, one file each). */
extern const struct ctl_handler ctl_handlers_core[];   /* relay_ctl_cmds.c */
extern const struct ctl_handler ctl_handlers_queue[];  /* relay_ctl_queue.c */
extern const struct ctl_handler ctl_handlers_tlsrpt[]; /* relay_ctl_tlsrpt.c */

/* relay_ctl.c: answering */
/* Exactly one of these per request; may be called later (then on the main loop). */
void    ctl_req_ok(struct ctl_req *r, json_t *result);          /* steals result */
void    ctl_req_err(struct ctl_req *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void    ctl_req_err_json(struct ctl_req *r, json_t *error);    /* steals; error has "code","message",... */
/* ctl_req_defer - ANY thread: run fn(r, arg) on the main loop soon (uv_async + mutex list).
 * r stays valid until answered even if the client went away (replies then discarded). */
void    ctl_req_defer(struct ctl_req *r, void (*fn)(struct ctl_req *, void *), void *arg);
uid_t   ctl_req_uid(const struct ctl_req *r);
pid_t   ctl_req_pid(const struct ctl_req *r);
/* The peer's role (a handler may need more for some args, e.g. a body). */
enum ctl_role ctl_req_role(const struct ctl_req *r);

/* What the server (relay/server) does for the core commands; main loop. */
struct relay_reload_result {            /* plain data, owned by the caller */
    bool    ok;
    unsigned generation;                /* of the configuration running now */
    struct cfg_errors errors;           /* "FILE:LINE: text" */
    struct cfg_errors warnings;         /* "bindings changed: restart domsecd ..." */
};
struct relay_ctl_ops {
    /* Reload the configuration now; fills *out (free with relay_ctl_reload_result_free). */
    void    (*reload)(struct relay_reload_result *out);
    /* The running configuration's generation and when it was loaded (Unix ms). */
    void    (*config_info)(unsigned *generation, int64_t *loaded_ms);
};
void    relay_ctl_reload_result_free(struct relay_reload_result *res);

/* relay_ctl.c: the server */
/*
 * Listen on cfg's control_socket (nothing when it is unset): a live
 * socket there is another domsecd (error, -1); a dead one is removed.
 * Call as root or as the service user before the threads start; when
 * root, the socket and a directory made for it (0750) are given to
 * uid:gid.  self_uid is the daemon's uid after the privilege drop (its
 * peers are admins, as root is); reader_gid the service user's group.
 * 0 or -1 (logged).
 */
int     relay_ctl_start(uv_loop_t *main_loop, const struct config *cfg,
                        const struct relay_ctl_ops *ops, uid_t self_uid, gid_t reader_gid);
/* The configuration was reloaded: control_timeout applies to new waits. */
void    relay_ctl_reconfigure(const struct config *cfg);
/* The daemon stops: stop listening, remove the socket, close every client
 * (requests in flight are answered into the void).  Idempotent. */
void    relay_ctl_stop(void);
/* After the other threads are gone: run what they deferred, free everything. */
void    relay_ctl_finish(void);

/* relay_ctl_auth.c */
/* ctl_role_of - the role of a peer: uid 0 or the daemon's own uid: ADMIN;
 * admin_gid (the service group) as primary or supplementary: READER; else NONE */
enum ctl_role ctl_role_of(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
                          uid_t self_uid, gid_t admin_gid);

/* relay_ctl_counters.c */
/* The counters for `status`: a new object. */
json_t *relay_ctl_counters_json(void);

#endif
