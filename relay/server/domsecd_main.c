/*
 * domsecd_main.c - command line of the daemon.
 *
 *   domsecd [-v] [-c FILE]                 run in the foreground
 *   domsecd --check-config [-c FILE]       validate: "configuration OK" or errors;
 *                                          also the TLS files domain security needs,
 *                                          read as [service] user (relay_failsafe.c)
 *   domsecd --print-config [-c FILE]       the effective configuration
 *   domsecd --version
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "policy_config.h"
#include "relay_failsafe.h"
#include "relay_server.h"
#include "relay_tls.h"
#include "tls_ctx.h"

#define DOMSECD_DEFAULT_CONFIG "/etc/domsec/domsec.conf"

/* domsecd_usage - print usage and exit */

static void domsecd_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsecd [-v] [-c FILE]\n"
            "       domsecd --check-config [-c FILE]\n"
            "       domsecd --print-config [-c FILE]\n"
            "       domsecd --version\n"
            "  -c, --config FILE   configuration file (default " DOMSECD_DEFAULT_CONFIG ")\n"
            "  -n, --check-config  validate the configuration and exit\n"
            "  -p, --print-config  print the effective configuration and exit\n"
            "  -v, --verbose       debug logging\n");
    exit(status);
}

/* domsecd_print_warning - "PATH:LINE: MESSAGE" as "PATH:LINE: warning: MESSAGE" */

static void domsecd_print_warning(const char *path, const char *w)
{
    size_t  n = strlen(path);

    if (strncmp(w, path, n) == 0 && w[n] == ':') {
        n++;
        n += strspn(w + n, "0123456789");
        if (w[n] == ':')
            n++;
        n += strspn(w + n, " ");
    } else {
        n = 0;
    }
    fprintf(stderr, "%.*swarning: %s\n", (int)n, w, w + n);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'n' },
        { "print-config", no_argument, NULL, 'p' },
        { "verbose", no_argument, NULL, 'v' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = DOMSECD_DEFAULT_CONFIG;
    struct cfg_errors errs = { 0 }, warns = { 0 };
    int check = 0, print = 0, verbose = 0, status, c;
    struct config *cfg;

    while ((c = getopt_long(argc, argv, "c:npvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'n': check = 1; break;
        case 'p': print = 1; break;
        case 'v': verbose = 1; break;
        case 'V': printf("domsecd %s\n", DOMSEC_VERSION); return 0;
        case 'h': domsecd_usage(0); break;
        default: domsecd_usage(2);
        }
    }
    if (optind != argc)
        domsecd_usage(2);
    log_init("domsecd", verbose ? LOG_DEBUG : LOG_INFO);
    /* Before any thread: jansson's allocator and hash seed are process-wide. */
    json_set_alloc_funcs(xmalloc, free);
    json_object_seed(0);
    cfg = policy_config_load(path, &errs);
    if (check && cfg != NULL) {         /* the TLS files, as the daemon would read them */
        struct relay_tls_set *set = relay_failsafe_load(cfg, &errs, &warns);

        if (set != NULL)
            relay_tls_set_report(set);
        relay_tls_set_free(set);
        tls_library_cleanup();
    }
    if (check || print) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i]);
        for (size_t i = 0; i < warns.n; i++)
            domsecd_print_warning(cfg->path, warns.v[i]);
        status = cfg == NULL || errs.n > 0;
        policy_config_errors_free(&errs);
        policy_config_errors_free(&warns);
        if (print && !status)
            policy_config_print(cfg, stdout);
        else if (!status)
            printf("configuration OK\n");
        policy_config_unref(cfg);
        return status;
    }
    if (cfg == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            log_errx("config", 0, "%s", errs.v[i]);
        policy_config_errors_free(&errs);
        log_fatal("config", "cannot start with an invalid configuration path=%s", path);
    }
    policy_config_errors_free(&errs);
    return relay_server_run(path, cfg);
}
