/*
 * domsec_tlsrpt.c - `domsec tlsrpt show|send`: SMTP TLS reports (RFC 8460).
 *
 *   domsec [-c FILE] tlsrpt show [--day YYYY-MM-DD] [DOMAIN]
 *   domsec [-c FILE] [--socket PATH] tlsrpt send [--day YYYY-MM-DD] [--again] [DOMAIN]
 *
 * show reads tlsrpt_directory's DAY.json (written by domsecd every minute
 * and at its stop) and prints the report of DOMAIN as it would be / was
 * sent (RFC 8460 4.4 JSON), or without DOMAIN a JSON array of every
 * domain's report; it does not need the daemon.  The day defaults to
 * yesterday (UTC), the day the daily pass reports.  send asks the running
 * domsecd (control socket, administrator role) to send the day's reports
 * now and prints one line per domain; reports already sent that day are
 * sent again only with --again (same report-id).
 *
 * CONTRACT
 *  show: exit 0 with the report(s); 1 when FILE cannot be loaded, the day
 *  file cannot be read or holds nothing for DOMAIN; 2 on a usage error.
 *  send: 0 when the daemon answered (the lines say what was sent), else
 *  domsec_ctl_call's statuses.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "domsec_cmd.h"
#include "domsec_ctl.h"
#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "relay_tlsrpt.h"

/* tlsrpt_usage - print usage and exit */

static void tlsrpt_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] tlsrpt show [--day YYYY-MM-DD] [DOMAIN]\n"
            "       domsec [-c FILE] tlsrpt send [--day YYYY-MM-DD] [--again] [DOMAIN]\n"
            "  show     the TLS report (RFC 8460 JSON) of DOMAIN for the day, from\n"
            "           tlsrpt_directory; without DOMAIN, every domain's, as a JSON array\n"
            "  send     ask domsecd to send the day's reports now (to the rua of\n"
            "           _smtp._tls.DOMAIN); reports already sent only with --again\n"
            "  --day    the UTC day (default: yesterday)\n");
    exit(status);
}

/* tlsrpt_show - print the day's report(s) from the files */

static int tlsrpt_show(const char *config_path, const char *day, const char *domain)
{
    struct relay_tlsrpt_names n;
    struct config *cfg;
    json_error_t jerr;
    json_t *d, *out = NULL;
    char *path;
    int rc = 1;

    if ((cfg = domsec_config_load(config_path)) == NULL)
        return 1;
    relay_tlsrpt_names(cfg, &n);
    path = xasprintf("%s/%s.json", n.dir, day);
    errno = 0;
    if ((d = json_load_file(path, 0, &jerr)) == NULL) {
        if (errno == ENOENT)
            fprintf(stderr, "domsec: no TLS results recorded for %s (%s)\n", day, path);
        else
            fprintf(stderr, "domsec: %s\n", jerr.text);    /* jansson's text names the file */
    } else {
        struct relay_tlsrpt_who who = { .organization = n.org, .contact = n.contact,
                                        .submitter = n.submitter };

        json_t *by = relay_tlsrpt_day_by_domain(d);

        if (domain != NULL) {
            if ((out = relay_tlsrpt_report_of(day, domain, json_object_get(by, domain), &who)) == NULL)
                fprintf(stderr, "domsec: no TLS results for %s on %s\n", domain, day);
        } else {
            json_t *doms = relay_tlsrpt_day_domains(d), *rep;
            size_t i;

            out = json_array();
            for (i = 0; i < json_array_size(doms); i++) {
                const char *dom = json_string_value(json_array_get(doms, i));

                if ((rep = relay_tlsrpt_report_of(day, dom, json_object_get(by, dom), &who)) != NULL)
                    json_array_append_new(out, rep);
            }
            json_decref(doms);
        }
        json_decref(by);
        json_decref(d);
    }
    if (out != NULL) {
        char *text = json_dumps(out, JSON_INDENT(2));

        printf("%s\n", text);
        free(text);
        json_decref(out);
        rc = 0;
    }
    free(path);
    relay_tlsrpt_names_free(&n);
    policy_config_unref(cfg);
    return rc;
}

/* tlsrpt_send - ask the daemon */

static int tlsrpt_send(const char *config_path, const char *day, const char *domain, bool again)
{
    const char *sock = domsec_ctl_socket(config_path, domsec_ctl_socket_opt);
    json_t *args = json_pack("{s:s, s:b}", "day", day, "again", again), *res = NULL, *err = NULL;
    int rc;

    if (sock == NULL) {
        json_decref(args);
        return 1;
    }
    if (domain != NULL)
        json_object_set_new(args, "domain", json_string(domain));
    /* Lookups and transfers: up to a minute per rua (relay_tlsrpt_send.c). */
    rc = domsec_ctl_call(sock, "tlsrpt.send", args, 180, &res, &err);
    if (rc != 0) {
        domsec_ctl_print_error("tlsrpt send", err);
        json_decref(err);
        return rc;
    }
    fputs(json_string_value(json_object_get(res, "text")) ?: "", stdout);
    json_decref(res);
    return 0;
}

/* domsec_tlsrpt_main - `domsec tlsrpt ...` */

int domsec_tlsrpt_main(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "day", required_argument, NULL, 'd' },
        { "again", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char day[11];
    const char *verb, *domain;
    bool again = false;
    int c;

    relay_tlsrpt_day_name((int64_t)time(NULL) - 86400, day);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (relay_tlsrpt_day_start(optarg) < 0) {
                fprintf(stderr, "domsec: --day %s: not a YYYY-MM-DD date\n", optarg);
                return 2;
            }
            memcpy(day, optarg, sizeof(day));
            break;
        case 'a': again = true; break;
        case 'h': tlsrpt_usage(0); break;
        default: tlsrpt_usage(2);
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        tlsrpt_usage(2);
    verb = argv[optind];
    domain = argc - optind == 2 ? argv[optind + 1] : NULL;
    if (domain != NULL) {               /* policy domains are kept lower-case */
        for (char *p = argv[optind + 1]; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    if (strcmp(verb, "show") == 0 && again) {
        fprintf(stderr, "domsec: --again belongs to tlsrpt send\n");
        tlsrpt_usage(2);
    }
    if (strcmp(verb, "show") == 0)
        return tlsrpt_show(config_path, day, domain);
    if (strcmp(verb, "send") == 0)
        return tlsrpt_send(config_path, day, domain, again);
    tlsrpt_usage(2);
    return 2;
}
