/*
 * relay_sts_drive.c - relay/sts/ (the MTA-STS policy cache) on one libuv
 * loop for test_relay_sts.py, with a real resolver and HTTP client.
 *
 *   relay_sts_drive [--close-after MS] [--rounds N] [--max-domains N]
 *                   [--reload-after MS --reload-server SERVER2]
 *                   [--offset MS] [--advance MS] SERVER CA_FILE
 *                   CACHE_DIR DOMAIN...
 *
 * Starts a lookup of every DOMAIN at once (a domain given twice: two
 * concurrent lookups), on resolver SERVER ("ip:port"), trusting CA_FILE for
 * the policy hosts, caching in CACHE_DIR ("-": memory only) and at most
 * --max-domains policies in memory (relay_sts_limit); with --rounds,
 * every lookup is made again when the previous round has answered and the
 * cache's file work is done (relay_sts_io_pending, polled every 5 ms).  Prints
 * one JSON object per callback ({"round", "domain", "status", "mode", "id",
 * "mx", "failure", "why", "sync"}), then closes the cache (after the last
 * round, once its file work and fetches are done, or after MS with
 * --close-after: lookups still waiting answer
 * "canceled") and prints {"callbacks", "closed", "loop_close"}.  "sync" is
 * true for a callback that ran inside the call that started it (a bug).
 * --reload-after MS replaces the resolver after MS by one on SERVER2 and
 * closes the old one (its queries end CANCELED), as a reload of [dns] does.
 * The cache's clock is the real one plus --offset MS, plus --advance MS
 * more for each round after the first; a round starts only when no fetch
 * is in flight either (relay_sts_fetches_pending: background refreshes).
 * Exit 0; 1 if something cannot start; 3 if the loop still runs after 60 s.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "relay_http.h"
#include "relay_sts.h"

static bool in_start;
static int callbacks, pending, rounds = 1, round_no = 1, closed, ndomains;
static char **domains;
static const char *ca_file;
static struct relay_sts *sts;
static struct relay_http *http;
static struct dns_resolver *resolver;
static uv_timer_t close_timer, settle_timer;
static bool closing;
static uv_timer_t reload_timer;
static const char *reload_server;
static long long clock_offset, clock_advance;

/* drive_now - the cache's clock: real time, moved by --offset and --advance */

static uint64_t drive_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset
                      + clock_advance * (round_no - 1));
}

static void start_round(void);
static void on_settle(uv_timer_t *t);

/* on_closed - the cache is gone */

static void on_closed(void *arg)
{
    closed++;
    relay_http_close(http, NULL, NULL);
    dns_resolver_close(resolver, NULL, NULL);
    resolver = NULL;
}

/* close_all - close the cache (once) */

static void close_all(void)
{
    if (closing)
        return;
    closing = true;
    uv_timer_stop(&close_timer);
    uv_close((uv_handle_t *)&close_timer, NULL);
    uv_close((uv_handle_t *)&settle_timer, NULL);
    uv_close((uv_handle_t *)&reload_timer, NULL);
    relay_sts_close(sts, on_closed, NULL);
}

/* on_settle - the next round, once no cache file work is in flight */

static void on_settle(uv_timer_t *t)
{
    if (relay_sts_io_pending(sts) > 0 || relay_sts_fetches_pending(sts) > 0)
        return;
    uv_timer_stop(t);
    if (round_no >= rounds) {
        close_all();
        return;
    }
    round_no++;
    start_round();
}

/* on_result - print one result */

static void on_result(void *arg, const struct relay_sts_result *res)
{
    json_t *o = json_object(), *mx = json_array();
    const struct sts_policy *p = res->policy;

    callbacks++;
    pending--;
    json_object_set_new(o, "round", json_integer(round_no));
    json_object_set_new(o, "domain", json_string(arg));
    json_object_set_new(o, "status", json_string(relay_sts_status_name(res->status)));
    json_object_set_new(o, "mode", p ? json_string(policy_sts_mode_name(p->mode)) : json_null());
    json_object_set_new(o, "id", p ? json_string(p->id) : json_null());
    for (size_t i = 0; p && i < p->nmx; i++)
        json_array_append_new(mx, json_string(p->mx[i]));
    json_object_set_new(o, "mx", mx);
    json_object_set_new(o, "failure", res->failure ? json_string(res->failure) : json_null());
    json_object_set_new(o, "told", json_boolean(res->told));
    json_object_set_new(o, "why", res->why ? json_string(res->why) : json_null());
    json_object_set_new(o, "sync", json_boolean(in_start));
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    fflush(stdout);
    json_decref(o);
    if (pending == 0 && !closing
        && (round_no < rounds || !uv_is_active((uv_handle_t *)&close_timer)))
        uv_timer_start(&settle_timer, on_settle, 0, 5);
}

/* start_round - every lookup at once */

static void start_round(void)
{
    for (int i = 0; i < ndomains; i++) {
        pending++;
        in_start = true;
        relay_sts_lookup(sts, domains[i], ca_file, on_result, domains[i]);
        in_start = false;
    }
}

/* on_reload_timer - a new resolver, the old one closed (qmgr_dns_reload's way) */

static void on_reload_timer(uv_timer_t *t)
{
    const char *err = NULL;
    struct dns_resolver *r = dns_resolver_new(t->loop, reload_server, 1000, &err);

    if (r == NULL) {
        fprintf(stderr, "relay_sts_drive: %s\n", err);
        exit(1);
    }
    dns_resolver_close(resolver, NULL, NULL);
    resolver = r;
    fprintf(stderr, "relay_sts_drive: resolver replaced\n");
}

static void on_close_timer(uv_timer_t *t)
{
    close_all();
}

static void on_watchdog(uv_timer_t *t)
{
    fprintf(stderr, "relay_sts_drive: still running after 60 s\n");
    exit(3);
}

int main(int argc, char **argv)
{
    uv_loop_t loop;
    uv_timer_t watchdog;
    const char *err = NULL;
    long close_after = -1, max_domains = 0, reload_after = -1;
    int i = 1, rc;

    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--close-after") == 0)
            close_after = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max-domains") == 0)
            max_domains = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reload-after") == 0)
            reload_after = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reload-server") == 0)
            reload_server = argv[i + 1];
        else if (strcmp(argv[i], "--offset") == 0)
            clock_offset = strtoll(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--advance") == 0)
            clock_advance = strtoll(argv[i + 1], NULL, 10);
    }
    if (argc - i < 4) {
        fprintf(stderr, "usage: relay_sts_drive [--close-after MS] [--rounds N] "
                "[--max-domains N] SERVER CA_FILE CACHE_DIR DOMAIN...\n");
        return 2;
    }
    log_init("relay_sts_drive", LOG_INFO);
    uv_loop_init(&loop);
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 60000, 0);
    uv_unref((uv_handle_t *)&watchdog);
    uv_timer_init(&loop, &close_timer);
    uv_timer_init(&loop, &settle_timer);
    uv_timer_init(&loop, &reload_timer);
    if ((resolver = dns_resolver_new(&loop, argv[i], 1000, &err)) == NULL) {
        fprintf(stderr, "relay_sts_drive: %s\n", err);
        return 1;
    }
    if ((http = relay_http_new(&loop)) == NULL)
        return 1;
    ca_file = argv[i + 1];
    sts = relay_sts_new(&loop, &resolver, http, strcmp(argv[i + 2], "-") ? argv[i + 2] : NULL,
                        drive_now);
    if (max_domains > 0)
        relay_sts_limit(sts, (size_t)max_domains);
    domains = argv + i + 3;
    ndomains = argc - i - 3;
    if (close_after >= 0)
        uv_timer_start(&close_timer, on_close_timer, (uint64_t)close_after, 0);
    if (reload_after >= 0 && reload_server != NULL)
        uv_timer_start(&reload_timer, on_reload_timer, (uint64_t)reload_after, 0);
    start_round();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    printf("{\"callbacks\": %d, \"closed\": %d, \"loop_close\": %d}\n", callbacks, closed, rc);
    return 0;
}
