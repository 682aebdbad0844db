/*
 * domsec_queue.c - `domsec queue`: the queue administration commands of
 * the running domsecd, over its control socket (domsec_ctl.c; the daemon's
 * side is relay/ctl/relay_ctl_queue.c).
 *
 *   domsec queue list    [--domain D] [--state S] [--older-than DUR] [--json]
 *   domsec queue summary [--domain D] [--state S] [--older-than DUR]
 *                        [--buckets N] [--bucket-time DUR] [--sender] [--top N] [--json]
 *   domsec queue show ID [--body] [--json]
 *   domsec queue retry   ID | --domain D | --all  [--state S] [--older-than DUR] [--json]
 *   domsec queue hold    (the same)
 *   domsec queue release (the same)
 *   domsec queue delete  ID | --domain D | --all --yes  [--bounce] [...] [--json]
 *
 * S is active, deferred or held; DUR is the configuration's duration
 * syntax (30s, 10m, 4h, 2d).  Times print as ISO 8601 UTC with "(in 4m)" /
 * "(12m ago)"; --json prints the daemon's result unchanged (list: every
 * page in one "messages" array).  Exit statuses: 0 done; 1 not found,
 * conflict, or nothing done (a retry of a held message); 2 usage; 3
 * domsecd not running or not answering, or an internal error; 4 denied.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_ctl.h"
#include "log.h"
#include "log_util.h"
#include "policy_config.h"

struct dq_opts {
    const char *domain, *state, *id;
    uint64_t older_ms, bucket_ms;
    long    buckets, top;
    bool    json, all, yes, bounce, body, sender;
};

/* dq_usage - print usage and exit */

static void dq_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] [--socket PATH] queue COMMAND ...\n"
            "  list    [--domain D] [--state S] [--older-than DUR] [--json]\n"
            "  summary [--domain D] [--state S] [--older-than DUR] [--buckets N]\n"
            "          [--bucket-time DUR] [--sender] [--top N] [--json]\n"
            "  show ID [--body] [--json]\n"
            "  retry   ID | --domain D | --all  [--state S] [--older-than DUR] [--json]\n"
            "  hold    ID | --domain D | --all  [--state S] [--older-than DUR] [--json]\n"
            "  release ID | --domain D | --all  [--state S] [--older-than DUR] [--json]\n"
            "  delete  ID | --domain D | --all --yes  [--bounce] [--state S] [--older-than DUR]\n"
            "S: active, deferred or held.  DUR: 30s, 10m, 4h, 2d.  D: a recipient domain\n"
            "(.D: D and its subdomains).  --bounce sends the sender a DSN (delete).\n");
    exit(status);
}

/* dq_duration - DUR into ms, or usage */

static uint64_t dq_duration(const char *s)
{
    const char *why = NULL;
    uint64_t ms;

    if (policy_parse_duration(s, &ms, &why) < 0) {
        fprintf(stderr, "domsec: queue: bad duration \"%s\": %s\n", s, why ? why : "?");
        exit(2);
    }
    return ms;
}

static long dq_number(const char *s, long lo, long hi)
{
    char   *end;
    long    v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "domsec: queue: \"%s\" is not a number from %ld to %ld\n", s, lo, hi);
        exit(2);
    }
    return v;
}

/* dq_parse - the options after the subcommand word; one operand (ID) at most */

static void dq_parse(int argc, char **argv, struct dq_opts *o)
{
    static const struct option opts[] = {
        { "domain", required_argument, NULL, 'd' }, { "state", required_argument, NULL, 's' },
        { "older-than", required_argument, NULL, 'o' }, { "json", no_argument, NULL, 'j' },
        { "all", no_argument, NULL, 'a' }, { "yes", no_argument, NULL, 'y' },
        { "bounce", no_argument, NULL, 'b' }, { "body", no_argument, NULL, 'B' },
        { "buckets", required_argument, NULL, 'n' },
        { "bucket-time", required_argument, NULL, 't' },
        { "sender", no_argument, NULL, 'S' }, { "top", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int     c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->domain = optarg; break;
        case 's':
            if (strcmp(optarg, "active") && strcmp(optarg, "deferred") && strcmp(optarg, "held")) {
                fprintf(stderr, "domsec: queue: --state is active, deferred or held\n");
                exit(2);
            }
            o->state = optarg;
            break;
        case 'o': o->older_ms = dq_duration(optarg); break;
        case 'j': o->json = true; break;
        case 'a': o->all = true; break;
        case 'y': o->yes = true; break;
        case 'b': o->bounce = true; break;
        case 'B': o->body = true; break;
        case 'n': o->buckets = dq_number(optarg, 1, 16); break;
        case 't': o->bucket_ms = dq_duration(optarg); break;
        case 'S': o->sender = true; break;
        case 'T': o->top = dq_number(optarg, 1, 1000); break;
        case 'h': dq_usage(0); break;
        default: dq_usage(2);
        }
    }
    if (optind < argc)
        o->id = argv[optind++];
    if (optind != argc)
        dq_usage(2);
}

/* dq_filters - the filter options as args */

static json_t *dq_filters(const struct dq_opts *o)
{
    json_t *args = json_object();

    if (o->domain)
        json_object_set_new(args, "domain", json_string(o->domain));
    if (o->state)
        json_object_set_new(args, "state", json_string(o->state));
    if (o->older_ms)
        json_object_set_new(args, "older_than_s", json_integer((json_int_t)(o->older_ms / 1000)));
    return args;
}

/* dq_call - one request; prints the error; exit status */

static int dq_call(const char *config_path, const char *cmd, json_t *args, json_t **result)
{
    const char *sock = domsec_ctl_socket(config_path, domsec_ctl_socket_opt);
    json_t *error = NULL;
    int     status;

    *result = NULL;
    if (sock == NULL) {
        json_decref(args);
        return 3;
    }
    if ((status = domsec_ctl_call(sock, cmd, args, DOMSEC_CTL_TIMEOUT, result, &error)) != 0)
        domsec_ctl_print_error(cmd, error);
    json_decref(error);
    return status;
}

static void dq_print_json(const json_t *v)
{
    char   *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

    printf("%s\n", s);
    free(s);
}

static const char *dq_s(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

/* dq_t - dq_s of text from outside, safe for a terminal (domsec_term: as
 * postcat and mailq do, a sender or an MX cannot drive the terminal) */

static const char *dq_t(const json_t *obj, const char *key)
{
    return domsec_term(dq_s(obj, key), false);
}

static int64_t dq_i(const json_t *obj, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

/* dq_when - "06:45:12Z (in 4m)" style for today, else the full ISO form */

static const char *dq_next(char *out, size_t size, const json_t *m, int64_t now)
{
    int64_t next = dq_i(m, "next_ms");

    if (strcmp(dq_s(m, "state"), "held") == 0)
        snprintf(out, size, "none while held");
    else if (strcmp(dq_s(m, "state"), "active") == 0)
        snprintf(out, size, "now (in progress)");
    else if (next <= now)
        snprintf(out, size, "now");
    else
        domsec_ctl_time(out, size, next, now);
    return out;
}

/* dq_print_rcpts - one line per recipient, with its last reply */

static void dq_print_rcpts(const json_t *m, int64_t now)
{
    const json_t *r;
    char    t[96];

    for (size_t i = 0; (r = json_array_get(json_object_get(m, "rcpts"), i)) != NULL; i++) {
        printf("    %s  %s  attempts=%lld", dq_t(r, "addr"), dq_s(r, "state"),
               (long long)dq_i(r, "attempts"));
        if (dq_i(r, "last_ms") != 0)
            printf("  last %s", domsec_ctl_time(t, sizeof(t), dq_i(r, "last_ms"), now));
        if (json_is_string(json_object_get(r, "remote")))
            printf(" via %s", dq_t(r, "remote"));
        printf("\n");
        if (json_is_string(json_object_get(r, "last")))
            printf("      %s\n", dq_t(r, "last"));
    }
}

/* dq_list - every page, in id order */

static int dq_list(const char *config_path, const struct dq_opts *o)
{
    json_t *all = json_array(), *res;
    char    after[32] = "", t[96], n[96];
    int64_t now = domsec_ctl_now_ms();
    int     status;
    bool    more = true;

    while (more) {
        json_t *args = dq_filters(o), *m;

        json_object_set_new(args, "limit", json_integer(1000));
        if (after[0])
            json_object_set_new(args, "after", json_string(after));
        if ((status = dq_call(config_path, "queue.list", args, &res)) != 0) {
            json_decref(all);
            return status;
        }
        for (size_t i = 0; (m = json_array_get(json_object_get(res, "messages"), i)) != NULL; i++)
            json_array_append(all, m);
        more = json_is_true(json_object_get(res, "more"));
        snprintf(after, sizeof(after), "%s", dq_s(res, "next_after"));
        json_decref(res);
        more = more && after[0] != '\0';
    }
    if (o->json) {
        res = json_pack("{s:o, s:b, s:n}", "messages", all, "more", 0, "next_after");
        dq_print_json(res);
        json_decref(res);
        return 0;
    }
    if (json_array_size(all) > 0)
        printf("%-16s  %8s  %-20s  %-8s  %-31s  %s\n", "ID", "Size", "Arrived (UTC)", "State",
               "Next attempt", "Sender");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *m = json_array_get(all, i);
        const char *sender = dq_t(m, "sender");

        printf("%-16s  %8lld  %-20s  %-8s  %-31s  %s\n", dq_s(m, "id"),
               (long long)dq_i(m, "size"), log_iso_time(t, sizeof(t), dq_i(m, "arrival_ms") / 1000,
                                                        "-"),
               dq_s(m, "state"), dq_next(n, sizeof(n), m, now), sender[0] ? sender : "<>");
        dq_print_rcpts(m, now);
    }
    printf("%zu message%s.\n", json_array_size(all), json_array_size(all) == 1 ? "" : "s");
    json_decref(all);
    return 0;
}

/* dq_age_label - a bucket's limit as the largest whole unit: 30s, 1m, 2h, 3d */

static void dq_age_label(char *buf, size_t size, json_int_t secs, const char *suffix)
{
    if (secs >= 86400 && secs % 86400 == 0)
        snprintf(buf, size, "%lldd%s", (long long)(secs / 86400), suffix);
    else if (secs >= 3600 && secs % 3600 == 0)
        snprintf(buf, size, "%lldh%s", (long long)(secs / 3600), suffix);
    else if (secs >= 60 && secs % 60 == 0)
        snprintf(buf, size, "%lldm%s", (long long)(secs / 60), suffix);
    else
        snprintf(buf, size, "%llds%s", (long long)secs, suffix);
}

/* dq_summary - the qshape table */

static int dq_summary(const char *config_path, const struct dq_opts *o)
{
    json_t *args = dq_filters(o), *res, *lim, *row;
    int     status;

    if (o->buckets)
        json_object_set_new(args, "buckets", json_integer(o->buckets));
    if (o->bucket_ms)
        json_object_set_new(args, "bucket_s", json_integer((json_int_t)(o->bucket_ms / 1000)));
    if (o->top)
        json_object_set_new(args, "top", json_integer(o->top));
    if (o->sender)
        json_object_set_new(args, "by_sender", json_true());
    if ((status = dq_call(config_path, "queue.summary", args, &res)) != 0)
        return status;
    if (o->json) {
        dq_print_json(res);
        json_decref(res);
        return 0;
    }
    lim = json_object_get(res, "buckets_s");
    printf("%24s %6s", "", "T");
    for (size_t i = 0; i <= json_array_size(lim); i++) {
        size_t  k = i < json_array_size(lim) ? i : i - 1;   /* the overflow: last one's + */
        char    label[32];

        dq_age_label(label, sizeof(label), json_integer_value(json_array_get(lim, k)),
                     i == json_array_size(lim) ? "+" : "");
        printf(" %6s", label);
    }
    printf("\n");
    for (size_t i = 0; i <= json_array_size(json_object_get(res, "rows")); i++) {
        row = i == 0 ? json_object_get(res, "total")
                     : json_array_get(json_object_get(res, "rows"), i - 1);
        printf("%24.24s %6lld", dq_t(row, "domain"), (long long)dq_i(row, "total"));
        for (size_t k = 0; k < json_array_size(json_object_get(row, "counts")); k++)
            printf(" %6lld", (long long)json_integer_value(json_array_get(json_object_get(row, "counts"), k)));
        printf("\n");
    }
    printf("(%s by %s domain, ages by arrival)\n",
           strcmp(dq_s(res, "by"), "sender") == 0 ? "messages" : "pending recipients",
           strcmp(dq_s(res, "by"), "sender") == 0 ? "sender" : "recipient");
    json_decref(res);
    return 0;
}

/* dq_show_body - the body, page after page (the daemon sends at most 1 MiB a
 * reply); m is the first page's answer.  A page that is not UTF-8 comes
 * base64-encoded and is printed as its own block. */

static int dq_show_body(const char *config_path, const char *id, json_t *m)
{
    json_t *page = json_incref(m), *args;
    int     status = 0, pages = 0;

    printf("\nbody\n");
    for (;;) {
        bool    b64 = json_is_string(json_object_get(page, "body_encoding"));

        printf("%s%s%s", b64 ? "(base64)\n" : "", domsec_term(dq_s(page, "body"), true),
               b64 ? "\n" : "");
        if (!json_is_true(json_object_get(page, "body_more")) || ++pages >= 1 << 16)
            break;
        args = json_pack("{s:s, s:b, s:I}", "id", id, "body", 1, "body_offset",
                         json_integer_value(json_object_get(page, "body_next_offset")));
        json_decref(page);
        page = NULL;
        if ((status = dq_call(config_path, "queue.show", args, &page)) != 0)
            break;
    }
    json_decref(page);
    return status;
}

/* dq_show - one message in full */

static int dq_show(const char *config_path, const struct dq_opts *o)
{
    json_t *args, *m;
    int64_t now = domsec_ctl_now_ms();
    char    t[96];
    int     status;

    if (o->id == NULL)
        dq_usage(2);
    args = json_pack("{s:s}", "id", o->id);
    if (o->body)
        json_object_set_new(args, "body", json_true());
    if ((status = dq_call(config_path, "queue.show", args, &m)) != 0)
        return status;
    if (o->json) {
        dq_print_json(m);
        json_decref(m);
        return 0;
    }
    printf("id           %s\n", dq_s(m, "id"));
    printf("state        %s%s\n", dq_s(m, "state"),
           json_is_true(json_object_get(m, "delete_pending")) ? " (deleted: goes when its "
                                                                 "delivery round ends)" : "");
    printf("sender       %s\n", dq_s(m, "sender")[0] ? dq_t(m, "sender") : "<>");
    printf("size         %lld\n", (long long)dq_i(m, "size"));
    printf("arrived      %s\n", domsec_ctl_time(t, sizeof(t), dq_i(m, "arrival_ms"), now));
    printf("received     connector %s, client %s, helo %s, session %s\n", dq_t(m, "connector"),
           dq_t(m, "client"), dq_t(m, "helo"), dq_t(m, "session"));
    if (dq_i(m, "held_ms"))
        printf("held         since %s (no attempt, no expiry while held)\n",
               domsec_ctl_time(t, sizeof(t), dq_i(m, "held_ms"), now));
    printf("next attempt %s\n", dq_next(t, sizeof(t), m, now));
    printf("expires      %s\n", domsec_ctl_time(t, sizeof(t), dq_i(m, "expires_ms"), now));
    printf("rounds       %lld\n", (long long)dq_i(m, "rounds"));
    if (dq_i(m, "delay_dsn_ms"))
        printf("delay DSN    sent %s\n", domsec_ctl_time(t, sizeof(t), dq_i(m, "delay_dsn_ms"), now));
    printf("recipients\n");
    dq_print_rcpts(m, now);
    if (json_is_string(json_object_get(m, "headers_encoding")))
        printf("headers (base64)\n%s\n", dq_s(m, "headers"));
    else if (json_is_string(json_object_get(m, "headers")))
        printf("headers%s\n%s", json_is_true(json_object_get(m, "headers_truncated"))
                                ? " (the first 64 KiB)" : "",
               domsec_term(dq_s(m, "headers"), true));
    if (json_is_string(json_object_get(m, "body")))
        status = dq_show_body(config_path, o->id, m);
    json_decref(m);
    return status;
}

/* dq_change - retry, hold, release, delete */

static int dq_change(const char *config_path, const char *what, const struct dq_opts *o)
{
    json_t *args = dq_filters(o), *res;
    char    cmd[32];
    int     status, n;

    if ((o->id != NULL) + (o->domain != NULL) + o->all != 1) {
        fprintf(stderr, "domsec: queue %s: give exactly one of ID, --domain D, --all\n", what);
        json_decref(args);
        return 2;
    }
    if (o->id)
        json_object_set_new(args, "id", json_string(o->id));
    if (o->all)
        json_object_set_new(args, "all", json_true());
    if (strcmp(what, "delete") == 0) {
        if (o->all && !o->yes) {
            fprintf(stderr, "domsec: queue delete --all deletes every message: add --yes\n");
            json_decref(args);
            return 2;
        }
        if (o->all)
            json_object_set_new(args, "confirm", json_string("ALL"));
        if (o->bounce)
            json_object_set_new(args, "bounce", json_true());
    } else if (o->bounce || o->yes) {
        dq_usage(2);
    }
    snprintf(cmd, sizeof(cmd), "queue.%s", what);
    if ((status = dq_call(config_path, cmd, args, &res)) != 0)
        return status;
    if (o->json) {
        dq_print_json(res);
    } else if (strcmp(what, "retry") == 0) {
        printf("retried %lld of %lld matching message(s)", (long long)dq_i(res, "retried"),
               (long long)dq_i(res, "matched"));
        if (dq_i(res, "skipped_held"))
            printf("; %lld held (release first)", (long long)dq_i(res, "skipped_held"));
        if (dq_i(res, "in_flight"))
            printf("; %lld being delivered now", (long long)dq_i(res, "in_flight"));
        printf("\n");
    } else {
        n = (int)dq_i(res, strcmp(what, "delete") == 0 ? "deleted" : "changed");
        printf("%s %d of %lld matching message(s)",
               strcmp(what, "hold") == 0 ? "held" : strcmp(what, "release") == 0 ? "released"
                                                                                 : "deleted",
               n, (long long)dq_i(res, "matched"));
        if (dq_i(res, "pending"))
            printf("; %lld being delivered now: %s when that attempt ends",
                   (long long)dq_i(res, "pending"),
                   strcmp(what, "hold") == 0 ? "held" : "removed");
        if (dq_i(res, "gone"))
            printf("; %lld gone meanwhile (file removed)", (long long)dq_i(res, "gone"));
        if (strcmp(what, "delete") == 0 && o->bounce)
            printf("; %lld DSN(s) to the sender(s)", (long long)dq_i(res, "dsns"));
        printf("\n");
    }
    status = o->id != NULL && dq_i(res, "matched") > 0
             && dq_i(res, strcmp(what, "retry") == 0 ? "retried"
                          : strcmp(what, "delete") == 0 ? "deleted" : "changed") == 0
             && dq_i(res, "pending") == 0 && dq_i(res, "in_flight") == 0 ? 1 : 0;
    json_decref(res);
    return status;
}

/* domsec_queue_main - argv[0] is "queue", argv[1] the subcommand */

int domsec_queue_main(const char *config_path, int argc, char **argv)
{
    struct dq_opts o = { 0 };
    const char *sub;

    if (argc < 2)
        dq_usage(2);
    sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        dq_usage(0);
    optind = 0;                         /* glibc: restart getopt for the subcommand */
    dq_parse(argc - 1, argv + 1, &o);
    if (strcmp(sub, "list") == 0 && o.id == NULL)
        return dq_list(config_path, &o);
    if (strcmp(sub, "summary") == 0 && o.id == NULL)
        return dq_summary(config_path, &o);
    if (strcmp(sub, "show") == 0)
        return dq_show(config_path, &o);
    if (strcmp(sub, "retry") == 0 || strcmp(sub, "hold") == 0 || strcmp(sub, "release") == 0
        || strcmp(sub, "delete") == 0)
        return dq_change(config_path, sub, &o);
    dq_usage(2);
    return 2;
}
