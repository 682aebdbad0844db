/*
 * domsec_status.c - `domsec status`, `domsec reload`, `domsec ping`: the
 * daemon's own commands over its control socket (domsec_ctl.c).
 *
 *   domsec [-c FILE] [--socket PATH] status [--json]
 *   domsec [-c FILE] [--socket PATH] reload
 *   domsec [-c FILE] [--socket PATH] ping
 *
 * Exit statuses: 0 done; 1 the reload was refused (the running
 * configuration is kept); 2 usage; 3 domsecd not running or not
 * answering; 4 denied (the caller may not run the command).
 * domsec_reload is also what `transport-config set` and `cert` run after
 * they have written a file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_ctl.h"
#include "log.h"
#include "log_util.h"

/* domsec_status_usage - print usage and exit */

static void domsec_status_usage(const char *cmd, int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] [--socket PATH] status [--json]\n"
            "       domsec [-c FILE] [--socket PATH] reload\n"
            "       domsec [-c FILE] [--socket PATH] ping\n"
            "  --json   status: the daemon's answer as JSON (the wire schema)\n");
    exit(status);
}

/* domsec_status_opts - parse [--json]; returns json or exits */

static bool domsec_status_opts(int argc, char **argv, bool allow_json)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool    json = false;
    int     c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (!allow_json)
                domsec_status_usage(argv[0], 2);
            json = true;
            break;
        case 'h': domsec_status_usage(argv[0], 0); break;
        default: domsec_status_usage(argv[0], 2);
        }
    }
    if (optind != argc)
        domsec_status_usage(argv[0], 2);
    return json;
}

/* domsec_status_call - one request; prints the error; exit status */

static int domsec_status_call(const char *config_path, const char *cmd, int timeout,
                              json_t **result)
{
    const char *sock = domsec_ctl_socket(config_path, domsec_ctl_socket_opt);
    json_t *error = NULL;
    int     status;

    *result = NULL;
    if (sock == NULL)
        return 3;
    if ((status = domsec_ctl_call(sock, cmd, NULL, timeout, result, &error)) != 0)
        domsec_ctl_print_error(cmd, error);
    json_decref(error);
    return status;
}

/* domsec_status_cert - "A1B2…  CN=x  expires ISO (in 211d)" */

static void domsec_status_cert(const json_t *cert, int64_t now)
{
    char    t[96];
    json_int_t na = json_integer_value(json_object_get(cert, "not_after_ms"));

    if (!json_is_object(cert)) {
        printf("none\n");
        return;
    }
    printf("%s  %s  expires %s, %lld days left\n",
           json_string_value(json_object_get(cert, "thumbprint")),
           json_string_value(json_object_get(cert, "subject")),
           domsec_ctl_time(t, sizeof(t), na, now),
           (long long)json_integer_value(json_object_get(cert, "days_left")));
}

/* domsec_status_counters - "  name  value" per counter; objects as name{key} */

static void domsec_status_counters(const json_t *counters)
{
    const char *k, *k2;
    json_t *v, *v2;

    for (void *it = json_object_iter((json_t *)counters); it != NULL;
         it = json_object_iter_next((json_t *)counters, it)) {
        k = json_object_iter_key(it);
        v = json_object_iter_value(it);
        if (json_is_object(v)) {
            for (void *it2 = json_object_iter(v); it2 != NULL; it2 = json_object_iter_next(v, it2)) {
                char    name[160];

                k2 = json_object_iter_key(it2);
                v2 = json_object_iter_value(it2);
                snprintf(name, sizeof(name), "%s{%s}", k, k2);
                printf("  %-48s %lld\n", name, (long long)json_integer_value(v2));
            }
        } else {
            printf("  %-48s %lld\n", k, (long long)json_integer_value(v));
        }
    }
}

/* domsec_status_print - the human form of a status result */

static void domsec_status_print(const json_t *st)
{
    const json_t *cfg = json_object_get(st, "config"), *q = json_object_get(st, "queue");
    const json_t *crl = json_object_get(st, "crl");
    int64_t now = domsec_ctl_now_ms();
    char    t[96], span[32];
    size_t  i, k;
    json_t *c, *b;

    printf("domsecd %s, pid %lld, up %s (started %s)\n",
           json_string_value(json_object_get(st, "version")),
           (long long)json_integer_value(json_object_get(st, "pid")),
           domsec_ctl_span(span, sizeof(span),
                           json_integer_value(json_object_get(st, "uptime_s")) * 1000),
           log_iso_time(t, sizeof(t),
                        json_integer_value(json_object_get(st, "started_ms")) / 1000, "-"));
    printf("config %s, generation %lld, loaded %s\n",
           json_string_value(json_object_get(cfg, "path")),
           (long long)json_integer_value(json_object_get(cfg, "generation")),
           domsec_ctl_time(t, sizeof(t), json_integer_value(json_object_get(cfg, "loaded_ms")),
                           now));
    printf("\nReceive connectors\n");
    for (i = 0; (c = json_array_get(json_object_get(st, "receive"), i)) != NULL; i++) {
        const json_t *tls = json_object_get(c, "starttls");

        printf("  %s\n    bindings     ", json_string_value(json_object_get(c, "name")));
        for (k = 0; (b = json_array_get(json_object_get(c, "bindings"), k)) != NULL; k++)
            printf("%s%s", k ? " " : "", json_string_value(b));
        printf("\n    connections  %lld\n",
               (long long)json_integer_value(json_object_get(c, "connections")));
        if (json_is_true(json_object_get(tls, "offered")))
            printf("    STARTTLS     offered\n");
        else
            printf("    STARTTLS     not offered: %s\n",
                   json_string_value(json_object_get(tls, "why")));
        printf("    certificate  ");
        domsec_status_cert(json_object_get(c, "certificate"), now);
    }
    printf("\nSend connectors\n");
    for (i = 0; (c = json_array_get(json_object_get(st, "send"), i)) != NULL; i++) {
        printf("  %s\n    certificate  ", json_string_value(json_object_get(c, "name")));
        domsec_status_cert(json_object_get(c, "certificate"), now);
    }
    printf("\nQueue\n  active %lld, deferred %lld, held %lld, total %lld",
           (long long)json_integer_value(json_object_get(q, "active")),
           (long long)json_integer_value(json_object_get(q, "deferred")),
           (long long)json_integer_value(json_object_get(q, "held")),
           (long long)json_integer_value(json_object_get(q, "total")));
    if (json_is_integer(json_object_get(q, "oldest_ms")))
        printf(", oldest arrived %s",
               domsec_ctl_time(t, sizeof(t), json_integer_value(json_object_get(q, "oldest_ms")),
                               now));
    printf("\n\nCRLs\n  %lld in use, %lld not current",
           (long long)json_integer_value(json_object_get(crl, "crls")),
           (long long)json_integer_value(json_object_get(crl, "not_current")));
    if (json_is_integer(json_object_get(crl, "oldest_this_update_ms")))
        printf(", oldest issued %s",
               domsec_ctl_time(t, sizeof(t),
                               json_integer_value(json_object_get(crl, "oldest_this_update_ms")),
                               now));
    printf("\n\nCounters (since start)\n");
    domsec_status_counters(json_object_get(st, "counters"));
}

/* domsec_status_main - argv[0] is "status" */

int domsec_status_main(const char *config_path, int argc, char **argv)
{
    bool    json = domsec_status_opts(argc, argv, true);
    json_t *res;
    int     status = domsec_status_call(config_path, "status", DOMSEC_CTL_TIMEOUT, &res);

    if (status != 0)
        return status;
    if (json) {
        char   *s = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);

        printf("%s\n", s);
        free(s);
    } else {
        domsec_status_print(res);
    }
    json_decref(res);
    return 0;
}

/* domsec_ping_main - argv[0] is "ping" */

int domsec_ping_main(const char *config_path, int argc, char **argv)
{
    json_t *res;
    int     status;

    domsec_status_opts(argc, argv, false);
    if ((status = domsec_status_call(config_path, "ping", DOMSEC_CTL_TIMEOUT, &res)) != 0)
        return status;
    printf("domsecd %s is running, pid %lld\n",
           json_string_value(json_object_get(res, "version")),
           (long long)json_integer_value(json_object_get(res, "pid")));
    json_decref(res);
    return 0;
}

/* domsec_reload_print - a reload's outcome on stdout/stderr; its exit status */

static int domsec_reload_print(int status, json_t *res, json_t *error, bool after_write)
{
    json_t *list = status == 0 ? json_object_get(res, "warnings")
        : json_object_get(error, "warnings"), *v;
    size_t  i;

    if (status == 0 && after_write)     /* after a file: say which daemon took it */
        printf("reloaded domsecd pid %lld (generation %lld)\n",
               (long long)json_integer_value(json_object_get(res, "pid")),
               (long long)json_integer_value(json_object_get(res, "generation")));
    else if (status == 0)
        printf("OK (generation %lld)\n",
               (long long)json_integer_value(json_object_get(res, "generation")));
    for (i = 0; (v = json_array_get(list, i)) != NULL; i++)
        fprintf(status == 0 ? stdout : stderr, "warning: %s\n", json_string_value(v));
    if (status == 1 && strcmp(json_string_value(json_object_get(error, "code")) ?: "",
                              "config") == 0) {
        for (i = 0; (v = json_array_get(json_object_get(error, "errors"), i)) != NULL; i++)
            fprintf(stderr, "%s\n", json_string_value(v));
        fprintf(stderr, "domsec: reload failed; the running configuration is kept\n");
    } else if (status != 0) {
        domsec_ctl_print_error("reload", error);
    }
    return status;
}

/* domsec_reload - ask the daemon using config_path to reload; an exit status */

int domsec_reload(const char *config_path, bool after_write)
{
    const char *sock = domsec_ctl_socket(config_path, domsec_ctl_socket_opt);
    json_t *res = NULL, *error = NULL;
    int     status;

    if (sock == NULL)
        return after_write ? 0 : 3;
    status = domsec_ctl_call(sock, "reload", NULL, DOMSEC_CTL_RELOAD_TIMEOUT, &res, &error);
    if (after_write && status != 0 && domsec_ctl_unreachable(error)) {
        printf("written; domsecd is not running (no answer on control socket %s)\n", sock);
        status = 0;
    } else {
        status = domsec_reload_print(status, res, error, after_write);
    }
    json_decref(res);
    json_decref(error);
    return status;
}

/* domsec_reload_main - argv[0] is "reload" */

int domsec_reload_main(const char *config_path, int argc, char **argv)
{
    domsec_status_opts(argc, argv, false);
    return domsec_reload(config_path, false);
}
