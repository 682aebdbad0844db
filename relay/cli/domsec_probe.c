/*
 * domsec_probe.c - `domsec test-partner`: what domain security would decide
 * for mail to a partner today, before the partner's domain is listed.
 *
 *   domsec [-c FILE] test-partner DOMAIN [--host H[:P]] [--connector NAME]
 *                                 [--all-hosts] [--json]
 *   domsec [-c FILE] test-partner DOMAIN --inbound [--cert FILE] [--json]
 *
 * Like posttls-finger, it runs in this process, not in domsecd, and never
 * sends a message: after STARTTLS and the second EHLO it says QUIT.  The
 * decisions are domsecd's own code: the send connector from
 * policy_route_select (or --connector), our client certificate and TLS
 * context from relay_tls_build (the store selection domsecd makes), the
 * CRL set from relay_crl_load (crl_directory and the fetch cache, nothing
 * fetched), MX and host addresses from dns/ with [dns] servers, chain
 * and revocation verdicts from tls/, the domain's [partner D] section as
 * domsecd applies it (domsec__probe_identity: relay_tls_identity and
 * policy_identity_check), policy_send_secure for each step and
 * relay_decide for what a failure means and the text domsecd would log.
 * The domain is judged as if it were listed in
 * tls_send_domain_secure_list (that is the question asked); whether it is
 * listed now is shown too, and so is its MTA-STS policy (domsec_probe_sts.c,
 * which does not change the verdict: a listed domain gets none).  Through a smart host domsecd never applies
 * domain security, so there the verdict is opportunistic TLS's.
 *
 * CONTRACT
 *  Exit status: 0 mail would be delivered; 1 deferred or bounced (no
 *  route, null MX, NXDOMAIN, no host answers, no STARTTLS, a certificate
 *  check fails); 2 usage (bad arguments, an unknown connector, a
 *  configuration that does not load); 3 could not tell (DNS temporary
 *  failure, our own certificate or key unusable on a connector that must
 *  present one; --inbound: the chain unreadable, or without --cert no
 *  certificate of DOMAIN's in the receive protocol logs or its file not
 *  kept, domsec_probe_log.c).  Per-step timeouts are domsecd's (RFC 5321 4.5.3.2),
 *  capped by the connector's connection_inactivity_timeout.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dns.h"
#include "domsec_cmd.h"
#include "domsec_probe.h"
#include "log.h"
#include "log_util.h"
#include "policy_secure.h"
#include "policy_sts.h"
#include "relay_crl.h"
#include "relay_tls.h"
#include "relay_trouble.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_store.h"

/* probe_usage - print usage and exit */

static void probe_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] test-partner DOMAIN [--host H[:P]] [--connector NAME]\n"
            "                                   [--all-hosts] [--json]\n"
            "       domsec [-c FILE] test-partner DOMAIN --inbound [--cert FILE] [--json]\n"
            "  connect to DOMAIN's mail hosts (or H) as domsecd would, STARTTLS with our\n"
            "  certificate, check theirs, QUIT (no message is sent) and say whether mail to\n"
            "  DOMAIN would be delivered if it were in tls_send_domain_secure_list.\n"
            "  --inbound: whether MAIL FROM:<x@DOMAIN> would be accepted from a client\n"
            "  presenting the certificate chain in FILE (PEM); without --cert, the chain\n"
            "  DOMAIN's client presented last (receive protocol log, kept by domsecd).\n"
            "Exit 0 delivered/accepted, 1 deferred/refused, 2 usage, 3 could not tell.\n");
    exit(status);
}

/* probe_add_addr - an address to try (port set to port) */

static void probe_add_addr(struct probe *p, const struct sockaddr_storage *ss, const char *name,
                           int port)
{
    struct probe_addr *a;

    p->addrs = xrealloc(p->addrs, (p->naddrs + 1) * sizeof(*p->addrs));
    a = &p->addrs[p->naddrs++];
    a->ss = *ss;
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    a->name = xstrdup(name);
}

/* probe_finish - the verdict into p->out; the exit status */

static int probe_finish(struct probe *p, int status, const char *text)
{
    const char *verdict = status == PROBE_EXIT_OK ? "delivered"
                          : status == PROBE_EXIT_UNKNOWN ? "unknown"
                          : p->bounced ? "bounced" : "deferred";

    json_object_set(p->out, "hosts", p->hosts);        /* after the route, before the verdict */
    json_object_set_new(p->out, "verdict", json_string(verdict));
    json_object_set_new(p->out, "reply", text ? json_string(text) : json_null());
    json_object_set_new(p->out, "exit", json_integer(status));
    return status;
}

/* probe_decide_dns - a DNS answer that is not OK: what domsecd would do */

static int probe_decide_dns(struct probe *p, const struct dns_result *res, bool mx)
{
    struct relay_event ev = { .stage = mx ? RELAY_S_DNS : RELAY_S_SMARTHOST, .dns = res };
    struct relay_decision d = relay_decide(&ev);
    int status;

    json_object_set_new(p->out, "dns_error", json_string(res->why ? res->why : ""));
    p->bounced = d.rcpt == RELAY_O_FAIL;
    status = res->status == DNS_RETRY ? PROBE_EXIT_UNKNOWN : PROBE_EXIT_REFUSED;
    status = probe_finish(p, status, d.text);
    relay_decision_free(&d);
    return status;
}

/* probe_dns_done - MX (or a host name's) addresses known */

struct probe_dns_wait {
    struct probe *p;
    bool    mx, done;
    int     port;
    const char *name;                   /* the host name looked up (not MX) */
    int     status;                     /* -1: go on */
};

static void probe_dns_done(struct dns_query *q, const struct dns_result *res, void *arg)
{
    struct probe_dns_wait *w = arg;
    struct probe *p = w->p;
    json_t *mx = json_array();

    w->done = true;
    w->status = -1;
    for (size_t h = 0; h < res->nhosts; h++) {
        json_t *addrs = json_array();

        for (size_t a = 0; a < res->hosts[h].naddrs; a++) {
            char ip[64];

            log_addr_ip(ip, sizeof(ip), (const struct sockaddr *)&res->hosts[h].addrs[a]);
            json_array_append_new(addrs, json_string(ip));
            if (res->status == DNS_OK)
                probe_add_addr(p, &res->hosts[h].addrs[a], w->mx ? res->hosts[h].name : w->name,
                               w->port);
        }
        json_array_append_new(mx, json_pack("{s:s, s:i, s:o}", "name", res->hosts[h].name,
                                            "pref", (int)res->hosts[h].pref, "addresses", addrs));
    }
    if (w->mx) {
        json_object_set_new(p->out, "mx", mx);
        json_object_set_new(p->out, "implicit_mx", json_boolean(res->implicit));
    } else {
        json_decref(mx);
    }
    if (res->status != DNS_OK)
        w->status = probe_decide_dns(p, res, w->mx);
}

/* probe_lookup - run one lookup to its end on p's loop; -1 to go on, else an exit status */

static int probe_lookup(struct probe *p, struct dns_resolver *r, const char *name, bool mx,
                        int port)
{
    struct probe_dns_wait w = { .p = p, .mx = mx, .port = port, .name = name, .status = -1 };

    if (mx)
        dns_mx_lookup(r, name, probe_dns_done, &w);
    else
        dns_host_lookup(r, name, probe_dns_done, &w);
    while (!w.done)
        uv_run(&p->loop, UV_RUN_ONCE);
    return w.status;
}

/* probe_host_arg - --host H[:P], [v6]:P: name and port (0 = the connector's) */

static int probe_host_arg(const char *arg, char **name, int *port)
{
    const char *colon = strrchr(arg, ':');
    char   *end;
    long    n;

    *port = 0;
    if (arg[0] == '[') {
        const char *rb = strchr(arg, ']');

        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
            return -1;
        *name = xasprintf("%.*s", (int)(rb - arg - 1), arg + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else if (colon != NULL && strchr(arg, ':') != colon) {
        *name = xstrdup(arg);           /* a bare IPv6 address */
        colon = NULL;
    } else {
        *name = colon ? xasprintf("%.*s", (int)(colon - arg), arg) : xstrdup(arg);
    }
    if (colon != NULL) {
        n = strtol(colon + 1, &end, 10);
        if (*end != '\0' || n < 1 || n > 65535)
            return -1;
        *port = (int)n;
    }
    return (*name)[0] != '\0' ? 0 : -1;
}

/* probe_resolve - the addresses to try, as domsecd finds them; -1 or an exit status */

static int probe_resolve(struct probe *p, const char *host_arg)
{
    const struct cfg_send *sc = p->sc;
    struct dns_resolver *r;
    const char *err = NULL;
    int     status = -1;

    if ((r = dns_resolver_new(&p->loop, p->cfg->dns.servers, p->cfg->dns.timeout, &err)) == NULL) {
        fprintf(stderr, "domsec: DNS resolver: %s\n", err ? err : "cannot start");
        return probe_finish(p, PROBE_EXIT_UNKNOWN, NULL);
    }
    if (host_arg != NULL) {
        struct sockaddr_storage ss;
        char   *name = NULL;
        int     port;

        if (probe_host_arg(host_arg, &name, &port) < 0) {
            fprintf(stderr, "domsec: --host %s: expected HOST, HOST:PORT or [IPv6]:PORT\n",
                    host_arg);
            status = PROBE_EXIT_USAGE;
        } else if (dns_literal(name, &ss)) {
            probe_add_addr(p, &ss, name, port ? port : sc->port);
        } else {
            status = probe_lookup(p, r, name, false, port ? port : sc->port);
        }
        json_object_set_new(p->out, "route", json_string("host"));
        free(name);
    } else if (sc->dns_routing) {
        json_object_set_new(p->out, "route", json_string("mx"));
        status = probe_lookup(p, r, p->domain, true, sc->port);
    } else {                            /* the smart hosts in order, literals without DNS */
        json_object_set_new(p->out, "route", json_string("smart_host"));
        for (size_t i = 0; i < sc->nsmart_hosts; i++) {
            const struct cfg_smarthost *h = &sc->smart_hosts[i];
            struct sockaddr_storage ss;

            if (dns_literal(h->host, &ss))
                probe_add_addr(p, &ss, h->host, h->port ? h->port : sc->port);
            else
                (void)probe_lookup(p, r, h->host, false, h->port ? h->port : sc->port);
        }
        if (p->naddrs == 0) {
            struct relay_event ev = { .stage = RELAY_S_SMARTHOST };
            struct relay_decision d = relay_decide(&ev);

            status = probe_finish(p, PROBE_EXIT_REFUSED, d.text);
            relay_decision_free(&d);
        }
    }
    dns_resolver_close(r, NULL, NULL);
    return status;
}

/* probe_own_cert - our certificate on the send connector, into out */

static void probe_own_cert(const struct tls_cert_info *ci, void *arg)
{
    json_t *o = arg, *c;
    c = json_pack("{s:s, s:s}", "subject", ci->subject, "thumbprint", ci->thumbprint);
    domsec__probe_pin_json(c, ci);
    json_object_set_new(o, "client_certificate", c);
}

/* probe_tls - our client context for p->sc, as domsecd builds it; -1 or an exit status */

static int probe_tls(struct probe *p)
{
    struct cfg_errors errs = { 0 };
    struct relay_tls_set *set = relay_tls_build(p->cfg, &errs);
    size_t  idx = (size_t)(p->sc - p->cfg->send);
    int     status = -1;
    const char *why = NULL;
    struct tls_crl_set *crls;
    char    title[300];

    /* Errors of other connectors do not concern this probe; ours does. */
    snprintf(title, sizeof(title), "[send %s]", p->sc->name);
    for (size_t i = 0; i < errs.n; i++)
        if (strstr(errs.v[i], title) != NULL) {
            fprintf(stderr, "domsec: %s\n", errs.v[i]);
            status = PROBE_EXIT_UNKNOWN;
        }
    policy_config_errors_free(&errs);
    relay_tls_install(set);
    p->ctx = relay_tls_client_ctx(p->cfg, p->sc);
    if (!relay_tls_own_cert(p->cfg, false, idx, probe_own_cert, p->out)) {
        json_object_set_new(p->out, "client_certificate", json_null());
        fprintf(stderr, "domsec: warning: send connector %s has no client certificate "
                "(certificate_store %s, fqdn %s): a partner that requires mutual TLS will "
                "refuse domsecd too\n", p->sc->name, p->cfg->transport.certificate_store,
                p->sc->fqdn);
    }
    if (p->ctx == NULL && status < 0)
        fprintf(stderr, "domsec: warning: send connector %s cannot use STARTTLS\n",
                p->sc->name);
    if ((crls = relay_crl_load(p->cfg, &why)) == NULL)
        fprintf(stderr, "domsec: warning: crl_directory %s: %s: revocation will be unknown\n",
                p->cfg->transport.crl_directory, why ? why : "cannot be read");
    else
        tls_crl_publish(crls);          /* what handshakes check against */
    return status < 0 ? -1 : probe_finish(p, status, NULL);
}

/* domsec__probe_next - the current address is done: the next one, or stop */

void domsec__probe_next(struct probe *p)
{
    p->next++;
    if (p->bounced || (p->delivered && !p->all_hosts) || p->next >= p->naddrs)
        return;                         /* the loop runs dry: probe_outbound goes on */
    domsec__probe_host(p);
}

/* probe_outbound - everything after the options: an exit status */

static int probe_outbound(struct probe *p, const char *connector, const char *host_arg)
{
    int     status;

    if (connector != NULL) {
        for (size_t i = 0; i < p->cfg->nsend && p->sc == NULL; i++)
            if (strcasecmp(p->cfg->send[i].name, connector) == 0)
                p->sc = &p->cfg->send[i];
        if (p->sc == NULL) {
            fprintf(stderr, "domsec: no send connector %s\n", connector);
            return PROBE_EXIT_USAGE;
        }
    } else if ((p->sc = policy_route_select(p->cfg, p->domain)) == NULL) {
        struct relay_event ev = { .stage = RELAY_S_ROUTE };
        struct relay_decision d = relay_decide(&ev);

        status = probe_finish(p, PROBE_EXIT_REFUSED, d.text);
        relay_decision_free(&d);
        return status;
    }
    /* domsecd applies domain security only to destinations routed by MX. */
    p->as_listed = p->sc->dns_routing;
    json_object_set_new(p->out, "connector", json_string(p->sc->name));
    json_object_set_new(p->out, "listed", json_boolean(
                            policy_secure_listed(&p->cfg->transport.send_secure, p->domain)));
    json_object_set_new(p->out, "domain_secure_enabled",
                        json_boolean(p->sc->domain_secure_enabled));
    json_object_set_new(p->out, "require_tls", json_boolean(p->sc->require_tls));
    if ((status = probe_tls(p)) >= 0)
        return status;
    domsec__probe_sts(p);               /* domsecd too looks it up before the MX */
    status = probe_resolve(p, host_arg);
    domsec__probe_sts_mark(p);
    if (status >= 0)
        return status;
    if (p->naddrs == 0)
        return probe_finish(p, PROBE_EXIT_REFUSED, NULL);
    domsec__probe_host(p);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    if (p->delivered)
        return probe_finish(p, PROBE_EXIT_OK, NULL);
    if (p->bounced)
        return probe_finish(p, PROBE_EXIT_REFUSED, p->last);
    {
        struct relay_event ev = {
            .stage = RELAY_S_ALL_HOSTS, .error = p->last_conn ? RELAY_E_CONN : RELAY_E_NONE,
            .text = p->last, .endpoint = p->endpoint,
        };
        struct relay_decision d = relay_decide(&ev);

        status = probe_finish(p, PROBE_EXIT_REFUSED, d.text);
        relay_decision_free(&d);
    }
    return status;
}

/* probe_domain_ok - a plausible domain name (the MX lookup judges the rest) */

static bool probe_domain_ok(const char *d)
{
    size_t n = strlen(d);

    if (n == 0 || n > 253 || d[0] == '.' || strstr(d, "..") != NULL)
        return false;
    for (const char *s = d; *s; s++)
        if (!(*s == '.' || *s == '-' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z')
              || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

/* domsec_probe_main - `domsec test-partner ...` */

int domsec_probe_main(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'H' },
        { "connector", required_argument, NULL, 'C' },
        { "all-hosts", no_argument, NULL, 'a' },
        { "json", no_argument, NULL, 'j' },
        { "inbound", no_argument, NULL, 'i' },
        { "cert", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *host = NULL, *connector = NULL, *cert = NULL;
    bool    json = false, inbound = false, all = false;
    struct cfg_errors errs = { 0 };
    struct probe p = { 0 };
    int     c, status;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'C': connector = optarg; break;
        case 'a': all = true; break;
        case 'j': json = true; break;
        case 'i': inbound = true; break;
        case 'f': cert = optarg; break;
        case 'h': probe_usage(0); break;
        default: probe_usage(PROBE_EXIT_USAGE);
        }
    }
    if (argc - optind != 1 || (inbound && (host || connector || all))
        || (!inbound && cert != NULL))
        probe_usage(PROBE_EXIT_USAGE);
    p.domain = argv[optind];
    if (!probe_domain_ok(p.domain)) {
        fprintf(stderr, "domsec: %s: not a domain name\n", p.domain);
        return PROBE_EXIT_USAGE;
    }
    if ((p.cfg = policy_config_load(config_path, &errs)) == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i]);
        if (errs.n == 0)
            fprintf(stderr, "domsec: %s: cannot load the configuration\n", config_path);
        policy_config_errors_free(&errs);
        return PROBE_EXIT_USAGE;
    }
    policy_config_errors_free(&errs);
    if (inbound) {
        char   *found = NULL;
        json_t *source = NULL;
        int     fd = -1;

        status = cert != NULL ? 0 : domsec__probe_last_cert(p.cfg, p.domain, &found, &fd,
                                                            &source);
        if (status == 0)
            status = domsec__probe_inbound(p.cfg, p.domain, cert ? cert : found, fd, source,
                                           json);
        if (fd >= 0)
            close(fd);
        free(found);
        policy_config_unref(p.cfg);
        return status;
    }
    uv_loop_init(&p.loop);
    p.all_hosts = all;
    p.out = json_pack("{s:s}", "domain", p.domain);
    p.hosts = json_array();
    status = probe_outbound(&p, connector, host);
    if (status != PROBE_EXIT_USAGE) {
        if (json)
            json_dumpf(p.out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        else
            domsec__probe_print(p.out);
        if (json)
            fputc('\n', stdout);
    }
    uv_run(&p.loop, UV_RUN_DEFAULT);    /* the resolver's and conns' handles close */
    (void)uv_loop_close(&p.loop);
    for (size_t i = 0; i < p.naddrs; i++)
        free(p.addrs[i].name);
    free(p.addrs);
    free(p.last);
    json_decref(p.out);
    json_decref(p.hosts);
    tls_ctx_unref(p.ctx);
    policy_sts_unref(p.sts);
    relay_tls_shutdown();
    tls_crl_cleanup();
    policy_config_unref(p.cfg);
    return status;
}
