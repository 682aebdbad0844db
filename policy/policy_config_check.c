/*
 * policy_config_check.c - the checks of a configuration that need the
 * whole file, run by policy_config_load() once libinih has read it.
 *
 * CONTRACT
 *  policy__config_check(ld) looks at ld->cfg and the loader's section
 *  records (struct policy__section: each key's line, negative where the
 *  value was bad and already reported) and appends every problem to
 *  ld->errs through policy__err(), as "FILE:LINE: message" with the line
 *  of the key to blame, else of its section header.  It fills the
 *  defaults that depend on other keys (banner, command_timeout,
 *  dns_routing, partner_certificate_directory) and reads each
 *  *_list_file into its list (an error per bad line, at that file's
 *  line).  [partner D] sections are checked once the lists are complete
 *  (D listed, require against certificate_pins and the CAs, trusted_ca_file
 *  readable and holding a certificate) and get their derived defaults
 *  (require, trust_global_ca, revocation_failure); [dns] dnssec = yes needs
 *  every resolver on this host (loopback).  Reading list files, a
 *  partner's trusted_ca_file and /etc/resolv.conf is the only I/O:
 *  synchronous, regular files only, never blocking on a FIFO.  ld and the
 *  config stay the caller's; nothing here has callbacks or cancellation.
 *
 *  policy_config_warnings() appends to warns what a loaded configuration
 *  does not do as it may seem to ("FILE:LINE: message"), for --check-config
 *  and reload (relay_failsafe.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "policy_internal.h"

/* pc_keyline - the line key `name` was given on in section s, 0 if not (validly) */

static int pc_keyline(const struct policy__section *s, const char *name)
{
    int idx = policy__key_lookup(s->kind, name);

    if (idx < 0)
        log_panic("policy", "pc_keyline: no key %s", name);
    return s->keyline[idx] > 0 ? s->keyline[idx] : 0;
}

/* pc_bad - was key `name` written in section s with a bad (already reported) value? */

static bool pc_bad(const struct policy__section *s, const char *name)
{
    return s->keyline[policy__key_lookup(s->kind, name)] < 0;
}

/* pc_line - the line to blame: the first given of two keys, else the header */

static int pc_line(const struct policy__section *s, const char *a, const char *b)
{
    int line = pc_keyline(s, a);

    if (line == 0 && b)
        line = pc_keyline(s, b);
    return line ? line : s->line;
}

/* pc_check_receive - rules that span keys of one receive connector */

static void pc_check_receive(struct policy__loader *ld, const struct policy__section *s)
{
    struct cfg_receive *r = &ld->cfg->receive[s->index];
    char a[32], b[32];

    if (r->nbindings == 0 && !pc_bad(s, "bindings"))
        policy__err(ld, s->line, "%s has no bindings (bindings = IP:PORT is required)", s->title);
    if (r->banner == NULL)
        r->banner = xasprintf("%s domsec ESMTP service ready", r->fqdn);
    if (pc_keyline(s, "command_timeout") == 0)
        r->command_timeout = r->connection_inactivity_timeout;
    if (r->domain_secure_enabled && r->auth_mechanism == CFG_AUTH_NONE)
        policy__err(ld, pc_line(s, "domain_secure_enabled", "auth_mechanism"),
               "domain_secure_enabled = yes requires auth_mechanism = tls");
    if (r->require_tls && r->auth_mechanism == CFG_AUTH_NONE)
        policy__err(ld, pc_line(s, "require_tls", "auth_mechanism"),
               "require_tls = yes requires auth_mechanism = tls");
    if (r->connection_timeout <= r->connection_inactivity_timeout) {
        policy__format_duration(r->connection_timeout, a, sizeof(a));
        policy__format_duration(r->connection_inactivity_timeout, b, sizeof(b));
        policy__err(ld, pc_line(s, "connection_timeout", "connection_inactivity_timeout"),
               "connection_timeout (%s) must be longer than "
               "connection_inactivity_timeout (%s)", a, b);
    }
}

/* pc_check_send - rules that span keys of one send connector */

static void pc_check_send(struct policy__loader *ld, const struct policy__section *s)
{
    struct cfg_send *c = &ld->cfg->send[s->index];
    int dl = pc_keyline(s, "dns_routing");

    if (c->address_spaces.n == 0 && !pc_bad(s, "address_spaces"))
        policy__err(ld, s->line, "%s has no address_spaces (address_spaces = *, DOMAIN "
               "or *.DOMAIN is required)", s->title);
    if (dl == 0)
        c->dns_routing = c->nsmart_hosts == 0;
    else if (c->dns_routing && c->nsmart_hosts > 0)
        policy__err(ld, dl, "dns_routing = yes conflicts with smart_hosts (use one or the other)");
    else if (!c->dns_routing && c->nsmart_hosts == 0)
        policy__err(ld, dl, "dns_routing = no requires smart_hosts");
    if (c->domain_secure_enabled && !c->dns_routing)
        policy__err(ld, pc_line(s, "domain_secure_enabled", NULL),
               "domain_secure_enabled = yes requires dns_routing = yes "
               "(Exchange: DomainSecureWithoutDNSRoutingEnabled)");
}

/* A *_list_file is read whole, so it must be a regular file of at most this
 * many bytes: 10,000 partner domains take about 300 KB, and a device such as
 * /dev/zero (endless) or a FIFO (open and read block) must neither exhaust
 * memory nor hang --check-config or a reload. */
#define PC_LIST_FILE_MAX (1024 * 1024)
/* Where c-ares finds the resolvers when [dns] servers is not set. */
#define PC_RESOLV_CONF "/etc/resolv.conf"

/* pc_read_list - merge a *_list_file (one domain a line, # comments) into list */

static void pc_read_list(struct policy__loader *ld, const struct policy__section *s,
                         const char *key, const char *path, struct cfg_list *list)
{
    int     line = pc_line(s, key, NULL), lineno = 0, e;
    unsigned char *data = NULL;
    char    dom[260], *p, *end, *next;
    size_t  len = 0;
    const char *why;

    /* log_read_file opens a FIFO without waiting and refuses it unread. */
    e = log_read_file(path, PC_LIST_FILE_MAX, &data, &len, NULL) < 0 ? errno : 0;
    if (e == EINVAL)
        policy__err(ld, line, "%s: %s is not a regular file", key, path);
    else if (e == EFBIG)
        policy__err(ld, line, "%s: %s is larger than %d KB (the limit for a domain list "
               "file)", key, path, PC_LIST_FILE_MAX / 1024);
    else if (e != 0)
        policy__err(ld, line, "%s: cannot open %s: %s", key, path, strerror(e));
    if (e != 0)
        return;
    end = (char *)data + len;
    for (p = (char *)data; p < end; p = next) {
        char   *item;

        if ((next = memchr(p, '\n', (size_t)(end - p))) != NULL)
            *next++ = '\0';
        else
            next = end;                 /* the last line has no newline */
        lineno++;
        p[strcspn(p, "#")] = '\0';
        if (*(item = policy__trim(p)) == '\0')
            continue;
        if (policy_parse_domain(item, dom, sizeof(dom), &why) < 0)
            policy__error(ld->errs, "%s:%d: \"%s\" %s", path, lineno, item, why);
        else
            policy__list_add(list, dom);
    }
    free(data);
}

/* pc_check_unique - no two receive connectors share a binding and a range */

static void pc_check_unique(struct policy__loader *ld)
{
    const struct config *cfg = ld->cfg;
    char rb[64];

    for (size_t j = 1; j < cfg->nreceive; j++) {
        const struct cfg_receive *b = &cfg->receive[j];

        for (size_t i = 0; i < j; i++) {
            const struct cfg_receive *a = &cfg->receive[i];

            for (size_t x = 0; x < a->nbindings * b->nbindings; x++) {
                const struct cfg_binding *ab = &a->bindings[x / b->nbindings];
                size_t y;

                if (strcmp(ab->text, b->bindings[x % b->nbindings].text) != 0)
                    continue;
                for (y = 0; y < a->nranges * b->nranges; y++)
                    if (memcmp(&a->ranges[y / b->nranges], &b->ranges[y % b->nranges],
                               sizeof(struct cfg_range)) == 0)
                        break;
                if (y == a->nranges * b->nranges)
                    continue;
                policy__format_range(&a->ranges[y / b->nranges], rb, sizeof(rb));
                policy__err(ld, b->line, "[receive %s] repeats binding %s with remote range "
                       "%s of [receive %s] (line %d); each binding and remote range "
                       "pair must be unique", b->name, ab->text, rb, a->name, a->line);
                goto next_pair;
            }
        next_pair:;
        }
    }
}

/* pc_check_pcert_dir - partner_certificate_directory is a directory of its own */

static void pc_check_pcert_dir(struct policy__loader *ld, const struct policy__section *s)
{
    const struct cfg_transport *t = &ld->cfg->transport;
    const char *d = t->partner_certificate_directory;
    static const char *const qsub[] = { NULL, "incoming", "messages", "corrupt", "crl-cache",
                                          "mta-sts-cache" };
    const char *clash = NULL;

    if (d == NULL || d[0] == '\0')
        return;
    for (size_t i = 0; i < sizeof(qsub) / sizeof(qsub[0]) && clash == NULL; i++)
        if (policy__same_dir(d, t->queue_directory, qsub[i]))
            clash = "queue_directory or a directory of the queue's";
    if (clash == NULL && (policy__same_dir(d, t->certificate_store, NULL)))
        clash = "certificate_store";
    if (clash == NULL && (policy__same_dir(d, t->crl_directory, NULL)
                          || (t->crl_cache_directory
                              && policy__same_dir(d, t->crl_cache_directory, NULL))))
        clash = "crl_directory or crl_cache_directory";
    if (clash == NULL && ld->cfg->logs.directory && policy__same_dir(d, ld->cfg->logs.directory, NULL))
        clash = "the [logs] directory";
    if (clash != NULL)
        policy__err(ld, pc_line(s, "partner_certificate_directory", NULL),
               "partner_certificate_directory %s is also %s: give it a directory "
               "of its own", d, clash);
}

/* A partner's trusted_ca_file is read whole to see that it holds a
 * certificate; a CA bundle of the size of the system's (200 KB) fits. */
#define PC_CA_FILE_MAX (4 * 1024 * 1024)

/* pc_check_ca_file - a partner's trusted_ca_file: a regular file holding a PEM certificate */

static void pc_check_ca_file(struct policy__loader *ld, int line, const char *path)
{
    unsigned char *data = NULL;
    size_t  len = 0;
    const char *begin;
    int     e;

    e = log_read_file(path, PC_CA_FILE_MAX, &data, &len, NULL) < 0 ? errno : 0;
    if (e == EINVAL)
        policy__err(ld, line, "trusted_ca_file %s is not a regular file", path);
    else if (e == EFBIG)
        policy__err(ld, line, "trusted_ca_file %s is larger than %d MB", path,
                    PC_CA_FILE_MAX / (1024 * 1024));
    else if (e != 0)
        policy__err(ld, line, "trusted_ca_file %s cannot be read: %s", path, strerror(e));
    if (e != 0)
        return;
    /* The certificates themselves are parsed by tls/ when the daemon loads
     * the partner's anchors; here a PEM certificate block must be there. */
    begin = memmem(data, len, "-----BEGIN CERTIFICATE-----", 27);
    if (begin == NULL || memmem(begin, len - (size_t)(begin - (char *)data),
                                "-----END CERTIFICATE-----", 25) == NULL)
        policy__err(ld, line, "trusted_ca_file %s holds no certificate (PEM \"-----BEGIN "
                    "CERTIFICATE-----\")", path);
    free(data);
}

/* pc_check_partner - a [partner D] section, once the secure lists are complete */

static void pc_check_partner(struct policy__loader *ld, const struct policy__section *s)
{
    struct cfg_partner *p = &ld->cfg->partners[s->index];
    const struct cfg_transport *t = &ld->cfg->transport;
    int     rl = pc_keyline(s, "require");

    if (!policy_domain_in_list(&t->send_secure, p->domain)
        && !policy_domain_in_list(&t->recv_secure, p->domain))
        policy__err(ld, s->line, "%s: %s is on neither tls_send_domain_secure_list nor "
                    "tls_receive_domain_secure_list (a partner section is for a "
                    "domain-secure partner)", s->title, p->domain);
    if (rl == 0 && !pc_bad(s, "require"))
        p->require = p->npins > 0 ? CFG_REQUIRE_CA_PIN : CFG_REQUIRE_CA;
    if (pc_keyline(s, "trust_global_ca") == 0)
        p->trust_global_ca = p->trusted_ca_file == NULL;
    if (pc_keyline(s, "revocation_failure") == 0)
        p->revocation_failure = t->revocation_failure;
    if (rl != 0 && (p->require == CFG_REQUIRE_PIN || p->require == CFG_REQUIRE_CA_PIN)
        && p->npins == 0 && !pc_bad(s, "certificate_pins"))
        policy__err(ld, rl, "require = %s needs certificate_pins (the SHA-256 of each "
                    "accepted certificate's public key: `domsec cert show` prints it as "
                    "pin-sha256)", p->require == CFG_REQUIRE_PIN ? "pin" : "ca+pin");
    if ((p->require == CFG_REQUIRE_CA || p->require == CFG_REQUIRE_CA_PIN)
        && p->trusted_ca_file == NULL && !p->trust_global_ca && !pc_bad(s, "trusted_ca_file"))
        policy__err(ld, pc_line(s, "trust_global_ca", NULL), "%s: trust_global_ca = no "
                    "without trusted_ca_file leaves no CA to prove %s (require = %s)",
                    s->title, p->domain, p->require == CFG_REQUIRE_CA ? "ca" : "ca+pin");
    if (p->require == CFG_REQUIRE_DANE && !ld->cfg->dns.dnssec)
        policy__err(ld, rl ? rl : s->line, "require = dane needs [dns] dnssec = yes "
                    "(TLSA records are trusted only when DNSSEC-validated)");
    if (p->trusted_ca_file != NULL)
        pc_check_ca_file(ld, pc_line(s, "trusted_ca_file", NULL), p->trusted_ca_file);
}

/* pc_loopback - is the address text (no port, maybe "%scope") a loopback address? */

static bool pc_loopback(const char *ip)
{
    unsigned char a[16];
    char    buf[64];

    snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(ip, "%"), ip);
    if (inet_pton(AF_INET, buf, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, buf, a) != 1)
        return false;
    if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
        return a[12] == 127;            /* ::ffff:127.0.0.1 */
    return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
}

/* policy__dnssec_offhost - the first resolver that is not on this host, or false */

bool policy__dnssec_offhost(const char *servers, const char *resolv_conf, char *bad,
                            size_t sz)
{
    char    tok[128], *data = NULL, *line, *save = NULL;
    const char *cur = servers;
    size_t  len;

    if (servers != NULL) {              /* "ip:port,[v6]:port", as the table stores it */
        while (policy__list_next(&cur, tok, sizeof(tok))) {
            char   *host = tok;

            if (*host == '[')
                host++, host[strcspn(host, "]")] = '\0';
            else
                host[strcspn(host, ":")] = '\0';
            if (!pc_loopback(host)) {
                snprintf(bad, sz, "%s", host);
                return true;
            }
        }
        return false;
    }
    /* c-ares reads resolv.conf; without it (or any nameserver) it asks 127.0.0.1. */
    if (log_read_file(resolv_conf, PC_LIST_FILE_MAX, (unsigned char **)&data, &len, NULL) < 0)
        return false;
    data = xrealloc(data, len + 1);
    data[len] = '\0';
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char    word[16], addr[80];

        if (sscanf(line, " %15s %79s", word, addr) == 2 && strcmp(word, "nameserver") == 0
            && !pc_loopback(addr)) {
            snprintf(bad, sz, "%s", addr);
            free(data);
            return true;
        }
    }
    free(data);
    return false;
}

/* pc_check_dns - [dns] dnssec = yes only with validating resolvers on this host */

static void pc_check_dns(struct policy__loader *ld, const struct policy__section *s)
{
    const struct cfg_dns *d = &ld->cfg->dns;
    char    bad[80];

    if (d->dnssec && policy__dnssec_offhost(d->servers, PC_RESOLV_CONF, bad, sizeof(bad)))
        policy__err(ld, pc_line(s, "dnssec", NULL), "dnssec = yes needs a validating resolver "
                    "on this host; %s is not a loopback address%s", bad,
                    d->servers ? "" : " (a nameserver of " PC_RESOLV_CONF ": set [dns] "
                    "servers to the local validating resolver)");
}

/* policy_config_warnings - what a valid configuration may not do as meant */

void policy_config_warnings(const struct config *cfg, struct cfg_errors *warns)
{
    for (size_t i = 0; i < cfg->npartners; i++) {
        const struct cfg_partner *p = &cfg->partners[i];
        int     line = policy_config_line(cfg, p, "require");

        if (p->require == CFG_REQUIRE_DANE
            && policy_domain_in_list(&cfg->transport.recv_secure, p->domain))
            policy_config_error(warns, cfg, line ? line : p->line, "[partner %s] require = "
                                "dane holds when sending only: mail received from %s is "
                                "checked as require = ca", p->domain, p->domain);
    }
}

/* policy__config_check - everything that needs the whole file */

void policy__config_check(struct policy__loader *ld)
{
    struct config *cfg = ld->cfg;

    for (size_t i = 0; i < ld->nsect; i++) {
        const struct policy__section *s = &ld->sect[i];

        switch (s->kind) {
        case PT_RECEIVE:
            pc_check_receive(ld, s);
            break;
        case PT_SEND:
            pc_check_send(ld, s);
            break;
        case PT_TRANSPORT:
            if (cfg->transport.send_secure_file)
                pc_read_list(ld, s, "tls_send_domain_secure_list_file",
                             cfg->transport.send_secure_file, &cfg->transport.send_secure);
            if (cfg->transport.recv_secure_file)
                pc_read_list(ld, s, "tls_receive_domain_secure_list_file",
                             cfg->transport.recv_secure_file, &cfg->transport.recv_secure);
            pc_check_pcert_dir(ld, s);
            break;
        case PT_LOGS:
            if (cfg->logs.protocol_log_max_directory_size
                < cfg->logs.protocol_log_max_file_size)
                policy__err(ld, pc_line(s, "protocol_log_max_directory_size",
                                   "protocol_log_max_file_size"),
                       "protocol_log_max_directory_size must not be smaller than "
                       "protocol_log_max_file_size");
            break;
        case PT_METRICS:
            if (cfg->metrics.nlisten > 1)
                policy__err(ld, pc_line(s, "listen", NULL), "[metrics] listen takes one ADDR:PORT");
            break;
        case PT_DNS:
            pc_check_dns(ld, s);
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < ld->nsect; i++)   /* after every list file was read */
        if (ld->sect[i].kind == PT_PARTNER)
            pc_check_partner(ld, &ld->sect[i]);
    if (cfg->transport.partner_certificate_directory == NULL)
        cfg->transport.partner_certificate_directory =
            xasprintf("%s/partner-certs", cfg->transport.queue_directory);
    if (cfg->nreceive == 0)
        policy__err(ld, 0, "no [receive NAME] section: at least one receive connector "
               "is required");
    pc_check_unique(ld);
}
