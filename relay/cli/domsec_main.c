/*
 * domsec_main.c - the administration command: global options, then one
 * command (domsec_cmd.h).
 *
 *   domsec [-c FILE] transport-config show|set|partner ...
 *   domsec [-c FILE] cert new|request|import|list|show|renew|remove ...
 *   domsec [-c FILE] crl list
 *   domsec [-c FILE] log search|audit ...
 *   domsec [-c FILE] test-partner DOMAIN [--inbound] ...
 *   domsec [-c FILE] [--socket PATH] status [--json] | reload | ping
 *
 * FILE defaults to /etc/domsec/domsec.conf; every command reads the paths
 * it needs (certificate store, CRL directory) from it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "domsec_cmd.h"
#include "domsec_probe.h"
#include "domsec_ctl.h"
#include "log.h"

static const struct {
    const char *name;
    int   (*run)(const char *config_path, int argc, char **argv);
} domsec_cmds[] = {
    { "transport-config", domsec_transport_main },
    { "cert", domsec_cert_main },
    { "crl", domsec_crl_main },
    { "log", domsec_log_main },
    { "test-partner", domsec_probe_main },
    { "status", domsec_status_main },
    { "reload", domsec_reload_main },
    { "ping", domsec_ping_main },
    { "queue", domsec_queue_main },
    { "tlsrpt", domsec_tlsrpt_main },
};

/* domsec_usage - the commands */

static void domsec_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] [--socket PATH] COMMAND ...\n"
            "  status [--json]                  the running domsecd: connectors, queue, counters\n"
            "  reload                           reload domsecd's configuration, say how it went\n"
            "  ping                             is domsecd running?\n"
            "  queue list|summary|show|retry|hold|release|delete\n"
            "                                   the running domsecd's queue (mailq, postsuper)\n"
            "  transport-config show|set|partner\n"
            "                                   the domain-secure lists (Set-TransportConfig)\n"
            "                                   and the [partner DOMAIN] sections\n"
            "  cert new|request|import|list|show|renew|remove\n"
            "                                   the certificate store (*-ExchangeCertificate)\n"
            "  crl list                         the certificate revocation lists in use\n"
            "  tlsrpt show|send                 SMTP TLS reports (RFC 8460) of a day\n"
            "  log search|audit                 read the protocol and message tracking logs\n"
            "  test-partner DOMAIN              would domain security deliver to (or accept\n"
            "                                   from) DOMAIN today? (posttls-finger)\n"
            "Each command takes --help.  FILE defaults to %s.\n"
            "PATH (the control socket) defaults to FILE's [service] control_socket.\n",
            DOMSEC_DEFAULT_CONFIG);
    exit(status);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "socket", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = DOMSEC_DEFAULT_CONFIG;
    int c;

    log_init("domsec", LOG_WARN);
    json_set_alloc_funcs(xmalloc, free);    /* out of memory aborts, as everywhere */
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'S': domsec_ctl_socket_opt = optarg; break;
        case 'h': domsec_usage(0); break;
        default: domsec_usage(2);
        }
    }
    if (optind >= argc)
        domsec_usage(2);
    for (size_t i = 0; i < sizeof(domsec_cmds) / sizeof(domsec_cmds[0]); i++) {
        if (strcmp(argv[optind], domsec_cmds[i].name) == 0) {
            char **sub = argv + optind;
            int subc = argc - optind;

            optind = 0;                 /* glibc: restart getopt for the command */
            return domsec_cmds[i].run(path, subc, sub);
        }
    }
    fprintf(stderr, "domsec: unknown command %s\n", argv[optind]);
    domsec_usage(2);
    return 2;
}
