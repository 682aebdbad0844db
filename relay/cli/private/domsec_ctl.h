/*
 * domsec_ctl.h - the `domsec` side of the control socket: find the
 * socket, send one request, wait for its reply; plus the human forms of
 * times the commands print.  Blocking, one process, no loop.
 */
#ifndef DOMSEC_CTL_H
#define DOMSEC_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* [service] control_socket's default (policy/policy_table.c says the same). */
#define DOMSEC_CTL_DEFAULT_SOCKET "/run/domsec/control"
#define DOMSEC_CTL_TIMEOUT 30           /* seconds, a request */
#define DOMSEC_CTL_RELOAD_TIMEOUT 60    /* seconds, a reload (reads every file) */

/* domsec_ctl.c */
/* The global option --socket PATH (domsec_main.c sets it), or NULL: pass it
 * to domsec_ctl_socket as override. */
extern const char *domsec_ctl_socket_opt;
/* domsec_ctl_socket - the control socket path: override if given, else [service] control_socket
 * of the config file (default /etc/domsec/domsec.conf); NULL + message on stderr if none. */
const char *domsec_ctl_socket(const char *config_path, const char *override);
/* domsec_ctl_call - one request, blocking, timeout_s. Returns 0 and *result (owned by caller) when
 * the daemon said ok; else prints nothing and returns the exit status for the error:
 * 1 not_found/conflict/config, 2 bad_request/unknown_command/bad_args, 3 unreachable/timeout/
 * internal/busy/stopping, 4 denied; *error (owned) is the error object when the daemon answered,
 * or a made-up {"code":"unreachable","message":"..."} when it did not. */
int     domsec_ctl_call(const char *sock, const char *cmd, json_t *args /* stolen, may be NULL */,
                        int timeout_s, json_t **result, json_t **error);
void    domsec_ctl_print_error(const char *what, const json_t *error);   /* "domsec: WHAT: message" + details */
/* Is error the made-up "nobody answers" one (no daemon, or not reachable)? */
int     domsec_ctl_unreachable(const json_t *error);
/* Unix ms as "2026-12-07T06:28:44Z (in 4m)" / "... (3m ago)" relative to now_ms. */
char   *domsec_ctl_time(char *out, size_t size, int64_t ms, int64_t now_ms);
/* A span of ms as "4m", "2h 5m", "3d 4h", "12s". */
char   *domsec_ctl_span(char *out, size_t size, int64_t ms);
/* Wall clock, Unix ms. */
int64_t domsec_ctl_now_ms(void);

#endif
