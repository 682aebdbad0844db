/*
 * relay_http_drive.c - runs relay/core/relay_http.c transfers on a libuv
 * loop for test_relay_http.py, and checks its async contract on the way.
 *
 *   relay_http_drive [--ca FILE] [--addr IP]... [--post-type T --post-file F]
 *                    [--max N] [--timeout MS] [--parallel N]
 *                    [--cancel | --close-pending MS] URL
 *
 * Starts --parallel (default 1) transfers of URL at once, each pinned to the
 * --addr addresses, and prints one JSON object per callback
 * ({"status", "error", "tls_error", "local_error", "len", "body", "content_type", "sync"}),
 * then a summary {"callbacks", "done", "done_sync", "loop_close"}.
 * --cancel cancels every transfer right after starting it; --close-pending
 * closes the client MS ms later (transfers still in flight).  "sync" is
 * true for a callback that ran inside the call that started it (a bug).
 * Exit 0, or 3 if the loop still runs after 30 s.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_http.h"

#define MAXADDR 8
#define MAXPAR  16

static bool in_start;
static int callbacks, done, done_sync;

/* on_result - print one result */

static void on_result(void *arg, const struct relay_http_result *res)
{
    json_t *o = json_object();

    callbacks++;
    json_object_set_new(o, "status", json_integer(res->status));
    json_object_set_new(o, "error", res->error ? json_string(res->error) : json_null());
    json_object_set_new(o, "tls_error", json_boolean(res->tls_error));
    json_object_set_new(o, "local_error", json_boolean(res->local_error));
    json_object_set_new(o, "len", json_integer((json_int_t)res->len));
    json_object_set_new(o, "body", json_stringn_nocheck(res->body, res->len));
    json_object_set_new(o, "nul", json_boolean(res->body[res->len] == '\0'));
    json_object_set_new(o, "content_type",
                        res->content_type ? json_string(res->content_type) : json_null());
    json_object_set_new(o, "sync", json_boolean(in_start));
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
}

/* on_done - relay_http_close finished */

static void on_done(void *arg)
{
    done++;
    done_sync |= in_start;
}

/* on_close_timer - --close-pending */

static void on_close_timer(uv_timer_t *t)
{
    struct relay_http *h = t->data;

    in_start = true;
    relay_http_close(h, on_done, NULL);
    in_start = false;
    t->data = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

/* on_watchdog - the loop should have ended */

static void on_watchdog(uv_timer_t *t)
{
    fprintf(stderr, "relay_http_drive: still running after 30 s\n");
    exit(3);
}

/* read_file - whole file, malloc'd */

static char *read_file(const char *path, size_t *len)
{
    FILE   *f = fopen(path, "rb");
    char   *buf = NULL;

    if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (*len = (size_t)ftell(f), 0)
        || fseek(f, 0, SEEK_SET) < 0 || (buf = malloc(*len + 1)) == NULL
        || fread(buf, 1, *len, f) != *len) {
        perror(path);
        exit(2);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    struct sockaddr_storage addrs[MAXADDR];
    struct relay_http_opts o = { 0 };
    struct relay_http_req *reqs[MAXPAR];
    uv_loop_t loop;
    uv_timer_t watchdog, closer;
    struct relay_http *h;
    int parallel = 1, close_ms = -1, rc;
    bool cancel = false;
    char *post = NULL;

    memset(addrs, 0, sizeof(addrs));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--cancel") == 0) {
            cancel = true;
            continue;
        }
        if (v == NULL) {
            o.url = a;
            continue;
        }
        i++;
        if (strcmp(a, "--ca") == 0) {
            o.ca_file = v;
        } else if (strcmp(a, "--addr") == 0 && o.naddrs < MAXADDR) {
            struct sockaddr_storage *ss = &addrs[o.naddrs++];

            if (inet_pton(AF_INET, v, &((struct sockaddr_in *)ss)->sin_addr) == 1)
                ss->ss_family = AF_INET;
            else if (inet_pton(AF_INET6, v, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
                ss->ss_family = AF_INET6;
        } else if (strcmp(a, "--post-type") == 0) {
            o.post_type = v;
        } else if (strcmp(a, "--post-file") == 0) {
            post = read_file(v, &o.post_len);
            o.post = post;
        } else if (strcmp(a, "--max") == 0) {
            o.max_bytes = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--timeout") == 0) {
            o.timeout_ms = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--parallel") == 0) {
            parallel = atoi(v) < 1 ? 1 : atoi(v) > MAXPAR ? MAXPAR : atoi(v);
        } else if (strcmp(a, "--close-pending") == 0) {
            close_ms = atoi(v);
        } else {
            fprintf(stderr, "relay_http_drive: unknown option %s\n", a);
            return 2;
        }
    }
    if (o.url == NULL) {
        fprintf(stderr, "relay_http_drive: no URL\n");
        return 2;
    }
    o.addrs = addrs;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 30000, 0);
    uv_unref((uv_handle_t *)&watchdog);
    if ((h = relay_http_new(&loop)) == NULL)
        return 1;
    for (int i = 0; i < parallel; i++) {
        in_start = true;
        reqs[i] = relay_http_start(h, &o, on_result, NULL);
        in_start = false;
    }
    free(post);                         /* copied by relay_http_start */
    for (int i = 0; cancel && i < parallel; i++)
        relay_http_cancel(reqs[i]);
    if (close_ms >= 0) {
        uv_timer_init(&loop, &closer);
        closer.data = h;
        uv_timer_start(&closer, on_close_timer, (uint64_t)close_ms, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (close_ms < 0) {                 /* every transfer ended: close now */
        in_start = true;
        relay_http_close(h, on_done, NULL);
        in_start = false;
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    printf("{\"callbacks\": %d, \"done\": %d, \"done_sync\": %s, \"loop_close\": %d}\n",
           callbacks, done, done_sync ? "true" : "false", rc);
    return 0;
}
