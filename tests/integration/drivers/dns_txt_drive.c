/*
 * dns_txt_drive.c - dns_txt_lookup() on a libuv loop for test_dns_txt.py.
 *
 *   dns_txt_drive SERVER TIMEOUT_MS NAME...
 *
 * Looks every NAME up at once on resolver SERVER ("ip:port") and prints one
 * JSON object per callback ({"name", "status", "why", "txt": [...], "sync"}),
 * then {"callbacks", "loop_close"}.  "sync" is true for a callback that ran
 * inside the call that started it (a bug).  Exit 0; 1 if the resolver
 * cannot start; 3 if the loop still runs after 30 s.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "dns.h"

static const char *const status_name[] = {
    [DNS_OK] = "ok", [DNS_RETRY] = "retry", [DNS_FAIL] = "fail", [DNS_NULLMX] = "nullmx",
    [DNS_CANCELED] = "canceled",
};
static bool in_start;
static int callbacks;

/* on_result - print one result */

static void on_result(struct dns_query *q, const struct dns_result *res, void *arg)
{
    json_t *o = json_object(), *txt = json_array();

    callbacks++;
    for (size_t i = 0; i < res->ntxt; i++)
        json_array_append_new(txt, json_string(res->txt[i]));
    json_object_set_new(o, "name", json_string(arg));
    json_object_set_new(o, "status", json_string(status_name[res->status]));
    json_object_set_new(o, "why", json_string(res->why));
    json_object_set_new(o, "txt", txt);
    json_object_set_new(o, "nhosts", json_integer((json_int_t)res->nhosts));
    json_object_set_new(o, "sync", json_boolean(in_start));
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
}

/* on_watchdog - the loop should have ended */

static void on_watchdog(uv_timer_t *t)
{
    fprintf(stderr, "dns_txt_drive: still running after 30 s\n");
    exit(3);
}

int main(int argc, char **argv)
{
    uv_loop_t loop;
    uv_timer_t watchdog;
    struct dns_resolver *r;
    const char *err = NULL;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: dns_txt_drive SERVER TIMEOUT_MS NAME...\n");
        return 2;
    }
    uv_loop_init(&loop);
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 30000, 0);
    uv_unref((uv_handle_t *)&watchdog);
    if ((r = dns_resolver_new(&loop, argv[1], strtoull(argv[2], NULL, 10), &err)) == NULL) {
        fprintf(stderr, "dns_txt_drive: %s\n", err);
        return 1;
    }
    for (int i = 3; i < argc; i++) {
        in_start = true;
        dns_txt_lookup(r, argv[i], on_result, argv[i]);
        in_start = false;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    dns_resolver_close(r, NULL, NULL);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    printf("{\"callbacks\": %d, \"loop_close\": %d}\n", callbacks, rc);
    return 0;
}
