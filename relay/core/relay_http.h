/*
 * relay_http.h - one HTTP(S) transfer at a time per request, many per loop:
 * libcurl's multi socket API driven by a libuv loop (MTA-STS policy fetch,
 * TLS-RPT https reports).
 *
 * No redirects (a 3xx is a completed transfer with its status), no proxy,
 * no cookies, bounded body size and total time, and a GET slower than
 * RELAY_HTTP_LOW_SPEED_BPS bytes/s for RELAY_HTTP_LOW_SPEED_S seconds is
 * aborted ("too slow"; a POST has its total time only); the host's addresses are
 * given by the caller (we resolve with c-ares, so tests' dnsmasq decides)
 * and libcurl never resolves: CURLOPT_RESOLVE pins url's host:port to them.
 * https:// is verified against ca_file (or libcurl's default store) with
 * the host name of url; http:// is allowed only when the caller's url says
 * so (callers that need HTTPS, e.g. MTA-STS, build https:// URLs).
 *
 * CONTRACT (libuv's): relay_http_start() never fails and never calls back
 * synchronously: cb runs exactly once, later, unless relay_http_cancel()
 * came first (then never).  opts and everything it points to are copied.
 * The result is valid only during the callback.  One struct relay_http per
 * loop, used on that loop's thread only.  relay_http_close() cancels every
 * request (no callbacks), frees everything after the handles are closed
 * and then calls done(arg) (if not NULL), always later.
 */
#ifndef DOMSEC_RELAY_HTTP_H
#define DOMSEC_RELAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define RELAY_HTTP_LOW_SPEED_BPS 100     /* slower than this ... */
#define RELAY_HTTP_LOW_SPEED_S   10      /* ... for this long (after connecting): "timeout" */

struct relay_http;                      /* one per loop */
struct relay_http_req;

struct relay_http_opts {
    const char *url;                    /* http:// or https:// */
    const struct sockaddr_storage *addrs;   /* where url's host is; port from url */
    size_t  naddrs;                     /* >= 1 (0: an error result, "no address") */
    const char *ca_file;                /* anchors; NULL = libcurl's default (system store) */
    const char *post_type;              /* non-NULL: POST with this Content-Type */
    const void *post;                   /* POST body (copied) */
    size_t  post_len;
    size_t  max_bytes;                  /* body larger -> error; 0: 64 KiB */
    uint64_t timeout_ms;                /* whole transfer, connect included; 0: 60 s */
};

struct relay_http_result {
    int     status;                     /* HTTP status, 0 if none */
    const char *error;                  /* NULL on a transfer that completed; else a short
                                         * text ("timeout", "body larger than N bytes",
                                         * "certificate: ...", libcurl's text) */
    bool    tls_error;                  /* the error is the peer's certificate/TLS failure
                                         * (TLS-RPT sts-webpki-invalid) */
    bool    local_error;                /* the error is ours: ca_file (or a CRL or client
                                         * certificate file) missing or unreadable */
    const char *body;                   /* NUL-terminated too; valid during the callback;
                                         * "" when error is set */
    size_t  len;
    const char *content_type;           /* or NULL */
};

typedef void relay_http_cb(void *arg, const struct relay_http_result *res);

/* relay_http.c */
/* A client on loop; NULL (after logging) only if libcurl cannot start. */
struct relay_http *relay_http_new(uv_loop_t *loop);
/* Start a transfer; cb always later (see CONTRACT). */
struct relay_http_req *relay_http_start(struct relay_http *h, const struct relay_http_opts *o,
                                        relay_http_cb *cb, void *arg);
/* cb not called after; r is freed (forget the pointer).  Not from inside r's own cb. */
void    relay_http_cancel(struct relay_http_req *r);
/* Cancel all, free after the handles close, then done(arg) later. */
void    relay_http_close(struct relay_http *h, void (*done)(void *), void *arg);

#endif
