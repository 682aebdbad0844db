/*
 * policy_table.c - the configuration table: every key of every section, once.
 *
 * CONTRACT
 *  One row per key: {section, name, type, default text, min, max, offset
 *  of the target field (and of its count for arrays), flags, enum names}.
 *  Defaults are applied by parsing their text with the same code as a
 *  value from the file, so a default can never bypass a check.  Enumerated
 *  values use one name/code table for parsing and printing.
 *
 *  policy__table_set() writes into the struct given as `base` (struct
 *  cfg_receive for PT_RECEIVE, ...); values it stores are owned by that
 *  struct and released by policy__table_free().  It returns 0, or -1 after
 *  adding its errors ("WHERE: key: \"value\" why") to errs and leaving the
 *  old value in place.  Every function is reentrant; the table is const.
 *  A default that fails to parse is a bug: log_panic().
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

enum pt_type {
    PT_STRING,                          /* char *: a word (user name) */
    PT_PATH,                            /* char *: absolute path */
    PT_TEXT,                            /* char *: printable text (banner) */
    PT_DOMAIN,                          /* char *: one domain name */
    PT_THUMBPRINT,                      /* char *: 40 hex digits, upper-cased */
    PT_BOOL,                            /* bool */
    PT_SIZE,                            /* uint64_t bytes */
    PT_DURATION,                        /* uint64_t ms */
    PT_UINT,                            /* unsigned */
    PT_PORT,                            /* int */
    PT_ENUM,                            /* int-sized enum cfg_* */
    PT_DOMAINS,                         /* struct cfg_list */
    PT_BINDINGS,                        /* struct cfg_binding * + size_t count */
    PT_RANGES,                          /* struct cfg_range * + size_t count */
    PT_SMARTHOSTS,                      /* struct cfg_smarthost * + size_t count */
    PT_ADDRESS,                         /* struct sockaddr_storage, AF_UNSPEC = unset */
    PT_ADDRESSES                        /* char *: normalised "ip:port,[v6]:port" or NULL */
};

#define PT_F_SUBDOMAINS 0x01            /* domain list: "*.d" allowed */
#define PT_F_STAR       0x02            /* domain list: "*" allowed */
#define PT_F_AUTO       0x04            /* uint: "auto" means 0 */
#define PT_F_HOSTNAME   0x08            /* default: gethostname() */
#define PT_F_SOCKET     0x10            /* path: a Unix socket's (<= 107 bytes); "" = none */
#define PT_F_EMPTY      0x20            /* path: "" kept as "" (off) */
#define PT_F_UTF8       0x40            /* text: valid UTF-8 (it goes into JSON reports) */
#define PT_F_MAILBOX    0x80            /* text: a plain mail address LOCAL@DOMAIN */

struct pt_enum {
    const char *name;
    int     code;
};

struct pt_key {
    enum pt_section sec;
    const char *name;
    enum pt_type type;
    const char *def;                    /* default text; NULL = none */
    uint64_t min, max;                  /* numeric types only */
    size_t  off, off_n;                 /* target field; its count for arrays */
    unsigned flags;
    const struct pt_enum *names;        /* PT_ENUM only */
};

_Static_assert(sizeof(enum cfg_auth) == sizeof(int), "enums are int-sized");

static const struct pt_enum auth_names[] = {
    {"none", CFG_AUTH_NONE}, {"tls", CFG_AUTH_TLS}, {NULL, 0}};
static const struct pt_enum perm_names[] = {
    {"internet", CFG_PERM_INTERNET}, {"internal", CFG_PERM_INTERNAL}, {NULL, 0}};
static const struct pt_enum loglevel_names[] = {
    {"none", CFG_LOG_NONE}, {"verbose", CFG_LOG_VERBOSE}, {NULL, 0}};
static const struct pt_enum revfail_names[] = {
    {"fail", CFG_REVFAIL_FAIL}, {"accept", CFG_REVFAIL_ACCEPT}, {NULL, 0}};

#define SEC(x)  ((x) * 1000ULL)
#define MIN(x)  ((x) * 60000ULL)
#define HOUR(x) ((x) * 3600000ULL)
#define DAY(x)  ((x) * 86400000ULL)
#define KB(x)   ((x) * 1024ULL)
#define MB(x)   ((x) * 1048576ULL)
#define GB(x)   ((x) * 1073741824ULL)

#define SV(f)     offsetof(struct cfg_service, f), 0
#define TR(f)     offsetof(struct cfg_transport, f), 0
#define RC(f)     offsetof(struct cfg_receive, f), 0
#define RCN(f, n) offsetof(struct cfg_receive, f), offsetof(struct cfg_receive, n)
#define SD(f)     offsetof(struct cfg_send, f), 0
#define SDN(f, n) offsetof(struct cfg_send, f), offsetof(struct cfg_send, n)
#define DN(f)     offsetof(struct cfg_dns, f), 0
#define LG(f)     offsetof(struct cfg_logs, f), 0
#define MT(f)     offsetof(struct cfg_metrics, f), 0
#define MTN(f, n) offsetof(struct cfg_metrics, f), offsetof(struct cfg_metrics, n)

static const struct pt_key pt_table[] = {
    /* [service] - this server, like Set-TransportService. */
    {PT_SERVICE, "user", PT_STRING, "domsec", 0, 0, SV(user), 0, NULL},
    {PT_SERVICE, "workers", PT_UINT, "auto", 0, 256, SV(workers), PT_F_AUTO, NULL},
    {PT_SERVICE, "control_socket", PT_PATH, "/run/domsec/control", 0, 0, SV(control_socket),
     PT_F_SOCKET, NULL},
    {PT_SERVICE, "control_max_clients", PT_UINT, "16", 1, 256, SV(control_max_clients), 0, NULL},
    {PT_SERVICE, "control_timeout", PT_DURATION, "30s", SEC(1), MIN(10), SV(control_timeout),
     0, NULL},

    /* [transport] - organization-wide, like Set-TransportConfig. */
    {PT_TRANSPORT, "accepted_domains", PT_DOMAINS, NULL, 0, 0,
     TR(accepted_domains), PT_F_SUBDOMAINS, NULL},
    {PT_TRANSPORT, "tls_send_domain_secure_list", PT_DOMAINS, NULL, 0, 0,
     TR(send_secure), 0, NULL},
    {PT_TRANSPORT, "tls_send_domain_secure_list_file", PT_PATH, NULL, 0, 0,
     TR(send_secure_file), 0, NULL},
    {PT_TRANSPORT, "tls_receive_domain_secure_list", PT_DOMAINS, NULL, 0, 0,
     TR(recv_secure), 0, NULL},
    {PT_TRANSPORT, "tls_receive_domain_secure_list_file", PT_PATH, NULL, 0, 0,
     TR(recv_secure_file), 0, NULL},
    {PT_TRANSPORT, "queue_directory", PT_PATH, "/var/spool/domsec", 0, 0,
     TR(queue_directory), 0, NULL},
    {PT_TRANSPORT, "trusted_ca_file", PT_PATH, "/etc/domsec/trusted-ca.pem", 0, 0,
     TR(trusted_ca_file), 0, NULL},
    {PT_TRANSPORT, "certificate_store", PT_PATH, "/etc/domsec/certs", 0, 0,
     TR(certificate_store), 0, NULL},
    {PT_TRANSPORT, "crl_directory", PT_PATH, "/etc/domsec/crl", 0, 0,
     TR(crl_directory), 0, NULL},
    {PT_TRANSPORT, "crl_fetch", PT_BOOL, "yes", 0, 0, TR(crl_fetch), 0, NULL},
    {PT_TRANSPORT, "crl_cache_directory", PT_PATH, NULL, 0, 0,
     TR(crl_cache_directory), 0, NULL},
    /* MTA-STS (RFC 8461). */
    {PT_TRANSPORT, "mta_sts_cache_directory", PT_PATH, NULL, 0, 0,
     TR(mta_sts_cache_directory), 0, NULL},
    {PT_TRANSPORT, "mta_sts_trusted_ca_file", PT_PATH, "/etc/ssl/certs/ca-certificates.crt", 0, 0,
     TR(mta_sts_trusted_ca_file), 0, NULL},
    {PT_TRANSPORT, "partner_certificate_directory", PT_PATH, NULL, 0, 0,
     TR(partner_certificate_directory), PT_F_EMPTY, NULL},
    {PT_TRANSPORT, "revocation_failure", PT_ENUM, "fail", 0, 0,
     TR(revocation_failure), 0, revfail_names},
    {PT_TRANSPORT, "message_expiration_timeout", PT_DURATION, "2d", SEC(5), DAY(90),
     TR(message_expiration_timeout), 0, NULL},
    {PT_TRANSPORT, "delay_notification_timeout", PT_DURATION, "4h", SEC(1), DAY(30),
     TR(delay_notification_timeout), 0, NULL},
    {PT_TRANSPORT, "transient_failure_retry_interval", PT_DURATION, "10m", SEC(1), HOUR(12),
     TR(transient_failure_retry_interval), 0, NULL},
    {PT_TRANSPORT, "transient_failure_retry_count", PT_UINT, "6", 0, 15,
     TR(transient_failure_retry_count), 0, NULL},
    {PT_TRANSPORT, "message_retry_interval", PT_DURATION, "15m", SEC(1), DAY(1),
     TR(message_retry_interval), 0, NULL},
    {PT_TRANSPORT, "outbound_connection_failure_retry_interval", PT_DURATION, "30m",
     SEC(1), DAY(20), TR(outbound_connection_failure_retry_interval), 0, NULL},
    {PT_TRANSPORT, "max_outbound_connections", PT_UINT, "1000", 1, 1000000,
     TR(max_outbound_connections), 0, NULL},
    {PT_TRANSPORT, "max_per_domain_outbound_connections", PT_UINT, "40", 1, 1000000,
     TR(max_per_domain_outbound_connections), 0, NULL},
    {PT_TRANSPORT, "connection_cache_time", PT_DURATION, "2s", 0, MIN(5),
     TR(connection_cache_time), 0, NULL},
    {PT_TRANSPORT, "connection_reuse_time", PT_DURATION, "5m", SEC(1), HOUR(1),
     TR(connection_reuse_time), 0, NULL},

    /* [transport] TLS reporting (RFC 8460): relay/sts/relay_tlsrpt*.c. */
    {PT_TRANSPORT, "tls_reporting", PT_BOOL, "yes", 0, 0, TR(tls_reporting), 0, NULL},
    {PT_TRANSPORT, "tlsrpt_directory", PT_PATH, NULL, 0, 0, TR(tlsrpt_directory), 0, NULL},
    {PT_TRANSPORT, "tlsrpt_organization_name", PT_TEXT, NULL, 0, 0,
     TR(tlsrpt_organization_name), PT_F_UTF8, NULL},
    {PT_TRANSPORT, "tlsrpt_contact_info", PT_TEXT, NULL, 0, 0, TR(tlsrpt_contact_info),
     PT_F_UTF8, NULL},
    {PT_TRANSPORT, "tlsrpt_sender", PT_TEXT, NULL, 0, 0, TR(tlsrpt_sender), PT_F_MAILBOX, NULL},
    /* below a day: the pass is over before the next midnight's */
    {PT_TRANSPORT, "tlsrpt_send_delay", PT_DURATION, "1h", 0, HOUR(23), TR(tlsrpt_send_delay),
     0, NULL},
    {PT_TRANSPORT, "tlsrpt_private_addresses", PT_BOOL, "no", 0, 0,
     TR(tlsrpt_private_addresses), 0, NULL},

    /* [receive NAME] - a receive connector. */
    {PT_RECEIVE, "bindings", PT_BINDINGS, NULL, 0, 0, RCN(bindings, nbindings), 0, NULL},
    {PT_RECEIVE, "remote_ip_ranges", PT_RANGES, "0.0.0.0/0, ::/0", 0, 0,
     RCN(ranges, nranges), 0, NULL},
    {PT_RECEIVE, "fqdn", PT_DOMAIN, NULL, 0, 0, RC(fqdn), PT_F_HOSTNAME, NULL},
    /* No default here: the loader builds "<fqdn> domsec ESMTP service ready". */
    {PT_RECEIVE, "banner", PT_TEXT, NULL, 0, 0, RC(banner), 0, NULL},
    {PT_RECEIVE, "auth_mechanism", PT_ENUM, "tls", 0, 0, RC(auth_mechanism), 0, auth_names},
    {PT_RECEIVE, "domain_secure_enabled", PT_BOOL, "no", 0, 0,
     RC(domain_secure_enabled), 0, NULL},
    {PT_RECEIVE, "require_tls", PT_BOOL, "no", 0, 0, RC(require_tls), 0, NULL},
    /* RFC 8689 REQUIRETLS (Postfix 3.11's name, per connector here). */
    {PT_RECEIVE, "requiretls_enable", PT_BOOL, "yes", 0, 0, RC(requiretls_enable), 0, NULL},
    {PT_RECEIVE, "permission", PT_ENUM, "internet", 0, 0, RC(permission), 0, perm_names},
    {PT_RECEIVE, "max_message_size", PT_SIZE, "36MB", 65536, 2147483647,
     RC(max_message_size), 0, NULL},
    {PT_RECEIVE, "max_recipients_per_message", PT_UINT, "200", 1, 512000,
     RC(max_recipients_per_message), 0, NULL},
    {PT_RECEIVE, "max_inbound_connection", PT_UINT, "5000", 1, 1000000,
     RC(max_inbound_connection), 0, NULL},
    {PT_RECEIVE, "max_inbound_connection_per_source", PT_UINT, "20", 1, 1000000,
     RC(max_inbound_connection_per_source), 0, NULL},
    {PT_RECEIVE, "max_protocol_errors", PT_UINT, "5", 1, 1000,
     RC(max_protocol_errors), 0, NULL},
    {PT_RECEIVE, "connection_timeout", PT_DURATION, "5m", SEC(1), DAY(1),
     RC(connection_timeout), 0, NULL},
    {PT_RECEIVE, "connection_inactivity_timeout", PT_DURATION, "1m", SEC(1), DAY(1),
     RC(connection_inactivity_timeout), 0, NULL},
    /* No default here: connection_inactivity_timeout (decided by the loader). */
    {PT_RECEIVE, "command_timeout", PT_DURATION, NULL, SEC(1), DAY(1), RC(command_timeout), 0,
     NULL},
    {PT_RECEIVE, "min_data_rate", PT_UINT, "500", 0, 1000000000, RC(min_data_rate), 0, NULL},
    {PT_RECEIVE, "domain_secure_tarpit_interval", PT_DURATION, "30s", 0, MIN(10),
     RC(domain_secure_tarpit_interval), 0, NULL},
    {PT_RECEIVE, "protocol_logging_level", PT_ENUM, "verbose", 0, 0,
     RC(protocol_logging_level), 0, loglevel_names},
    {PT_RECEIVE, "tls_certificate", PT_THUMBPRINT, NULL, 0, 0, RC(tls_certificate), 0, NULL},

    /* [send NAME] - a send connector. */
    {PT_SEND, "address_spaces", PT_DOMAINS, NULL, 0, 0, SD(address_spaces),
     PT_F_STAR | PT_F_SUBDOMAINS, NULL},
    /* No default here: yes unless smart_hosts is set (decided by the loader). */
    {PT_SEND, "dns_routing", PT_BOOL, NULL, 0, 0, SD(dns_routing), 0, NULL},
    {PT_SEND, "smart_hosts", PT_SMARTHOSTS, NULL, 0, 0, SDN(smart_hosts, nsmart_hosts), 0, NULL},
    {PT_SEND, "port", PT_PORT, "25", 1, 65535, SD(port), 0, NULL},
    {PT_SEND, "fqdn", PT_DOMAIN, NULL, 0, 0, SD(fqdn), PT_F_HOSTNAME, NULL},
    {PT_SEND, "source_ip", PT_ADDRESS, NULL, 0, 0, SD(source_ip), 0, NULL},
    {PT_SEND, "domain_secure_enabled", PT_BOOL, "no", 0, 0, SD(domain_secure_enabled), 0, NULL},
    {PT_SEND, "require_tls", PT_BOOL, "no", 0, 0, SD(require_tls), 0, NULL},
    {PT_SEND, "mta_sts", PT_BOOL, "yes", 0, 0, SD(mta_sts), 0, NULL},
    {PT_SEND, "protocol_logging_level", PT_ENUM, "verbose", 0, 0,
     SD(protocol_logging_level), 0, loglevel_names},
    {PT_SEND, "connection_inactivity_timeout", PT_DURATION, "10m", SEC(1), DAY(1),
     SD(connection_inactivity_timeout), 0, NULL},
    {PT_SEND, "tls_certificate", PT_THUMBPRINT, NULL, 0, 0, SD(tls_certificate), 0, NULL},

    /* [dns] */
    {PT_DNS, "servers", PT_ADDRESSES, NULL, 0, 0, DN(servers), 0, NULL},
    {PT_DNS, "timeout", PT_DURATION, "5s", 100, MIN(5), DN(timeout), 0, NULL},

    /* [logs] */
    {PT_LOGS, "directory", PT_PATH, "/var/log/domsec", 0, 0, LG(directory), 0, NULL},
    {PT_LOGS, "protocol_log_max_file_size", PT_SIZE, "10MB", KB(4), GB(4),
     LG(protocol_log_max_file_size), 0, NULL},
    {PT_LOGS, "protocol_log_max_directory_size", PT_SIZE, "250MB", KB(4), GB(1024),
     LG(protocol_log_max_directory_size), 0, NULL},
    {PT_LOGS, "protocol_log_max_age", PT_DURATION, "30d", 0, DAY(3650),
     LG(protocol_log_max_age), 0, NULL},

    /* [metrics] - Prometheus text exposition over HTTP (off unless listen is set). */
    {PT_METRICS, "listen", PT_BINDINGS, NULL, 0, 0, MTN(listen, nlisten), 0, NULL},
    {PT_METRICS, "remote_ip_ranges", PT_RANGES, "127.0.0.0/8, ::1/128", 0, 0,
     MTN(remote_ip_ranges, nremote_ip_ranges), 0, NULL},
    {PT_METRICS, "max_clients", PT_UINT, "8", 1, 64, MT(max_clients), 0, NULL},
    {PT_METRICS, "timeout", PT_DURATION, "10s", SEC(1), MIN(5), MT(timeout), 0, NULL},
};

#define PT_NKEYS (sizeof(pt_table) / sizeof(pt_table[0]))

static const struct {
    const char *name;
    bool    named;                      /* [receive NAME] */
} pt_sections[PT_NSECTIONS] = {
    [PT_SERVICE] = {"service", false}, [PT_TRANSPORT] = {"transport", false},
    [PT_RECEIVE] = {"receive", true},  [PT_SEND] = {"send", true},
    [PT_DNS] = {"dns", false},         [PT_LOGS] = {"logs", false},
    [PT_METRICS] = {"metrics", false},
};

#define FIELD(base, k, T) ((T *)((char *)(base) + (k)->off))
#define CFIELD(base, k, T) ((const T *)((const char *)(base) + (k)->off))
#define COUNT(base, k) ((size_t *)((char *)(base) + (k)->off_n))

/* policy__section_lookup - section kind by name */

int policy__section_lookup(const char *name, bool *named)
{
    for (int i = 0; i < PT_NSECTIONS; i++) {
        if (strcasecmp(name, pt_sections[i].name) == 0) {
            *named = pt_sections[i].named;
            return i;
        }
    }
    return -1;
}

/* policy__section_name - "receive" */

const char *policy__section_name(enum pt_section sec)
{
    return pt_sections[sec].name;
}

/* policy__key_count - number of table rows */

size_t policy__key_count(void)
{
    return PT_NKEYS;
}

/* policy__key_lookup - table index of a key in a section */

int policy__key_lookup(enum pt_section sec, const char *name)
{
    for (size_t i = 0; i < PT_NKEYS; i++)
        if (pt_table[i].sec == sec && strcasecmp(pt_table[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* policy__key_name - the name of table row idx */

const char *policy__key_name(int idx)
{
    return pt_table[idx].name;
}

/* policy__list_add - append an entry unless present */

void policy__list_add(struct cfg_list *list, const char *entry)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->v[i], entry) == 0)
            return;
    list->v = xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
    list->v[list->n++] = xstrdup(entry);
}

/* list_free - free a domain list */

static void list_free(struct cfg_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

/* bad - report one bad item of key k */

static int bad(const struct pt_key *k, const char *where, struct cfg_errors *errs,
               const char *item, const char *why)
{
    policy__error(errs, "%s: %s: \"%s\" %s", where, k->name, item, why);
    return -1;
}

/* format_number - a numeric value of key k the way it is written; auto: 0 as "auto" */

static void format_number(const struct pt_key *k, uint64_t n, bool words, char *buf,
                          size_t sz)
{
    if (k->type == PT_SIZE)
        policy__format_size(n, buf, sz);
    else if (k->type == PT_DURATION)
        policy__format_duration(n, buf, sz);
    else if (words && (k->flags & PT_F_AUTO) && n == 0)
        snprintf(buf, sz, "auto");
    else
        snprintf(buf, sz, "%llu", (unsigned long long)n);
}

/* set_number - size, duration, uint and port values with bounds */

static int set_number(const struct pt_key *k, void *base, const char *v,
                      const char *where, struct cfg_errors *errs)
{
    const char *why;
    uint64_t n;
    char lo[32], hi[32];
    int rc;

    if (k->type == PT_SIZE)
        rc = policy_parse_size(v, &n, &why);
    else if (k->type == PT_DURATION)
        rc = policy_parse_duration(v, &n, &why);
    else if ((k->flags & PT_F_AUTO) && strcasecmp(v, "auto") == 0) {
        n = 0;
        rc = 0;
    } else
        rc = policy__parse_uint(v, &n, &why);
    if (rc < 0)
        return bad(k, where, errs, v, why);
    if (n < k->min || n > k->max) {
        format_number(k, k->min, false, lo, sizeof(lo));
        format_number(k, k->max, false, hi, sizeof(hi));
        policy__error(errs, "%s: %s: \"%s\" is out of bounds (min %s, max %s)",
                      where, k->name, v, lo, hi);
        return -1;
    }
    if (k->type == PT_UINT)
        *FIELD(base, k, unsigned) = (unsigned)n;
    else if (k->type == PT_PORT)
        *FIELD(base, k, int) = (int)n;
    else
        *FIELD(base, k, uint64_t) = n;
    return 0;
}

/* set_string - the char * types: check, normalise, replace */

static int set_string(const struct pt_key *k, void *base, const char *v,
                      const char *where, struct cfg_errors *errs)
{
    char buf[256], **field = FIELD(base, k, char *);
    const char *why = NULL, *keep = v;

    switch (k->type) {
    case PT_STRING:
        if (*v == '\0' || strpbrk(v, " \t,;:/") || strlen(v) > 64)
            why = "is not a valid name";
        break;
    case PT_PATH:
        if ((k->flags & PT_F_SOCKET) && *v == '\0') {    /* none */
            free(*field);
            *field = NULL;
            return 0;
        }
        if (v[0] != '/' && !((k->flags & PT_F_EMPTY) && *v == '\0'))
            why = "is not an absolute path";
        else if ((k->flags & PT_F_SOCKET) && strlen(v) > 107)
            why = "is longer than 107 bytes (the limit of a Unix socket path)";
        break;
    case PT_TEXT:
        if (*v == '\0')
            why = "is empty";
        else if (strlen(v) > 500)
            why = "is longer than 500 characters";
        else if ((k->flags & PT_F_UTF8) && !policy__text_utf8(v))
            why = "is not valid UTF-8";
        else if ((k->flags & PT_F_MAILBOX) && !policy__text_mailbox(v))
            why = "is not a mail address";
        break;
    case PT_DOMAIN:
        if (policy_parse_domain(v, buf, sizeof(buf), &why) == 0)
            keep = buf;
        break;
    case PT_THUMBPRINT:
        if (policy__parse_thumbprint(v, buf, sizeof(buf), &why) == 0)
            keep = buf;
        break;
    default:
        log_panic("policy", "set_string: type %d", (int)k->type);
    }
    for (const char *p = v; why == NULL && *p; p++)
        if (iscntrl((unsigned char)*p))
            why = "contains control characters";
    if (why)
        return bad(k, where, errs, v, why);
    free(*field);
    *field = xstrdup(keep);
    return 0;
}

/* set_enum - one name of the key's name/code table */

static int set_enum(const struct pt_key *k, void *base, const char *v,
                    const char *where, struct cfg_errors *errs)
{
    char names[128] = "";

    for (const struct pt_enum *e = k->names; e->name; e++) {
        if (strcasecmp(v, e->name) == 0) {
            *FIELD(base, k, int) = e->code;
            return 0;
        }
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                 e == k->names ? "" : " or ", e->name);
    }
    policy__error(errs, "%s: %s: \"%s\" is not valid (use %s)", where, k->name, v, names);
    return -1;
}

/* set_domains - a domain list; wildcard forms as the key's flags allow */

static int set_domains(const struct pt_key *k, void *base, const char *v,
                       const char *where, struct cfg_errors *errs)
{
    struct cfg_list list = {NULL, 0}, *field = FIELD(base, k, struct cfg_list);
    char tok[512], dom[260];
    const char *why;
    int rc = 0;

    while (policy__list_next(&v, tok, sizeof(tok))) {
        bool sub = (k->flags & PT_F_SUBDOMAINS) && strncmp(tok, "*.", 2) == 0;

        if ((k->flags & PT_F_STAR) && strcmp(tok, "*") == 0) {
            policy__list_add(&list, "*");
        } else if (policy_parse_domain(tok + (sub ? 2 : 0), dom + 2, sizeof(dom) - 2,
                                       &why) == 0) {
            memcpy(dom, "*.", 2);
            policy__list_add(&list, dom + (sub ? 0 : 2));
        } else {
            rc = bad(k, where, errs, tok, why);
        }
    }
    if (rc < 0) {
        list_free(&list);
        return rc;
    }
    list_free(field);
    *field = list;
    return 0;
}

/* array_free - free an array of bindings, ranges or smart hosts */

static void array_free(const struct pt_key *k, void *arr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (k->type == PT_BINDINGS)
            free(((struct cfg_binding *)arr)[i].text);
        else if (k->type == PT_SMARTHOSTS)
            free(((struct cfg_smarthost *)arr)[i].host);
    }
    free(arr);
}

/* set_array - bindings, ranges, smart hosts */

static int set_array(const struct pt_key *k, void *base, const char *v,
                     const char *where, struct cfg_errors *errs)
{
    size_t elt = k->type == PT_BINDINGS ? sizeof(struct cfg_binding)
        : k->type == PT_RANGES ? sizeof(struct cfg_range) : sizeof(struct cfg_smarthost);
    char tok[512], *arr = NULL;
    size_t n = 0;
    const char *why;
    int rc = 0;

    while (policy__list_next(&v, tok, sizeof(tok))) {
        union {
            struct cfg_binding b;
            struct cfg_range r;
            struct cfg_smarthost h;
        } u;
        int ok = k->type == PT_BINDINGS ? policy_parse_binding(tok, &u.b, &why)
            : k->type == PT_RANGES ? policy_parse_range(tok, &u.r, &why)
            : policy_parse_smarthost(tok, &u.h, &why);
        bool dup = false;

        if (ok < 0) {
            rc = bad(k, where, errs, tok, why);
            continue;
        }
        for (size_t i = 0; i < n && k->type != PT_SMARTHOSTS; i++)
            dup |= k->type == PT_BINDINGS
                ? strcmp(((struct cfg_binding *)arr)[i].text, u.b.text) == 0
                : memcmp(&((struct cfg_range *)arr)[i], &u.r, sizeof(u.r)) == 0;
        if (dup) {                      /* a repeated binding or range is dropped */
            if (k->type == PT_BINDINGS)
                free(u.b.text);
            continue;
        }
        arr = xrealloc(arr, (n + 1) * elt);
        memcpy(arr + n * elt, &u, elt);
        n++;
    }
    if (rc < 0) {
        array_free(k, arr, n);
        return rc;
    }
    array_free(k, *FIELD(base, k, char *), *COUNT(base, k));
    *FIELD(base, k, char *) = arr;
    *COUNT(base, k) = n;
    return 0;
}

/* set_addresses - "servers": a list of resolver addresses, stored as csv */

static int set_addresses(const struct pt_key *k, void *base, const char *v,
                         const char *where, struct cfg_errors *errs)
{
    char tok[512], one[80], **field = FIELD(base, k, char *);
    char *csv = NULL, *tmp;
    const char *why;
    int rc = 0;

    while (policy__list_next(&v, tok, sizeof(tok))) {
        if (policy__parse_dns_server(tok, one, sizeof(one), &why) < 0) {
            rc = bad(k, where, errs, tok, why);
            continue;
        }
        tmp = csv ? xasprintf("%s,%s", csv, one) : xstrdup(one);
        free(csv);
        csv = tmp;
    }
    if (rc < 0) {
        free(csv);
        return rc;
    }
    free(*field);
    *field = csv;
    return 0;
}

/* policy__table_set - parse one value into its field */

int policy__table_set(int idx, void *base, const char *v, const char *where,
                      struct cfg_errors *errs)
{
    const struct pt_key *k = &pt_table[idx];
    struct sockaddr_storage ss;
    const char *why;

    switch (k->type) {
    case PT_STRING:
    case PT_PATH:
    case PT_TEXT:
    case PT_DOMAIN:
    case PT_THUMBPRINT:
        return set_string(k, base, v, where, errs);
    case PT_BOOL:
        if (policy_parse_bool(v, FIELD(base, k, bool), &why) < 0)
            return bad(k, where, errs, v, why);
        return 0;
    case PT_SIZE:
    case PT_DURATION:
    case PT_UINT:
    case PT_PORT:
        return set_number(k, base, v, where, errs);
    case PT_ENUM:
        return set_enum(k, base, v, where, errs);
    case PT_DOMAINS:
        return set_domains(k, base, v, where, errs);
    case PT_BINDINGS:
    case PT_RANGES:
    case PT_SMARTHOSTS:
        return set_array(k, base, v, where, errs);
    case PT_ADDRESS:
        if (policy__parse_address(v, &ss, &why) < 0)
            return bad(k, where, errs, v, why);
        *FIELD(base, k, struct sockaddr_storage) = ss;
        return 0;
    case PT_ADDRESSES:
        return set_addresses(k, base, v, where, errs);
    }
    log_panic("policy", "policy__table_set: type %d", (int)k->type);
}

/* policy__table_defaults - apply the defaults of one section */

void policy__table_defaults(enum pt_section sec, void *base)
{
    struct cfg_errors errs = {NULL, 0};
    char host[256];

    for (size_t i = 0; i < PT_NKEYS; i++) {
        const struct pt_key *k = &pt_table[i];
        const char *def = k->def;

        if (k->sec != sec)
            continue;
        if (k->flags & PT_F_HOSTNAME) {
            if (gethostname(host, sizeof(host)) < 0)
                host[0] = '\0';
            host[sizeof(host) - 1] = '\0';
            def = host;
            /* An unusable host name must not make every config invalid. */
            if (policy__table_set((int)i, base, def, "default", &errs) == 0)
                continue;
            policy_config_errors_free(&errs);
            def = "localhost";
        }
        if (def && policy__table_set((int)i, base, def, "default", &errs) < 0)
            log_panic("policy", "bad default: %s", errs.v[0]);
    }
}

/* policy__table_free - free what a section's fields own */

void policy__table_free(enum pt_section sec, void *base)
{
    for (size_t i = 0; i < PT_NKEYS; i++) {
        const struct pt_key *k = &pt_table[i];

        if (k->sec != sec)
            continue;
        switch (k->type) {
        case PT_STRING:
        case PT_PATH:
        case PT_TEXT:
        case PT_DOMAIN:
        case PT_THUMBPRINT:
        case PT_ADDRESSES:
            free(*FIELD(base, k, char *));
            *FIELD(base, k, char *) = NULL;
            break;
        case PT_DOMAINS:
            list_free(FIELD(base, k, struct cfg_list));
            break;
        case PT_BINDINGS:
        case PT_RANGES:
        case PT_SMARTHOSTS:
            array_free(k, *FIELD(base, k, void *), *COUNT(base, k));
            *FIELD(base, k, void *) = NULL;
            *COUNT(base, k) = 0;
            break;
        default:
            break;
        }
    }
}

/* print_array - the elements of an array key, comma separated */

static void print_array(const struct pt_key *k, const void *base, FILE *fp)
{
    const void *arr = *CFIELD(base, k, void *);
    size_t n = *(const size_t *)((const char *)base + k->off_n);
    char buf[300];

    if (n == 0)
        return;
    fprintf(fp, "%s = ", k->name);
    for (size_t i = 0; i < n; i++) {
        if (k->type == PT_BINDINGS)
            snprintf(buf, sizeof(buf), "%s", ((const struct cfg_binding *)arr)[i].text);
        else if (k->type == PT_RANGES)
            policy__format_range(&((const struct cfg_range *)arr)[i], buf, sizeof(buf));
        else
            policy__format_smarthost(&((const struct cfg_smarthost *)arr)[i], buf,
                                     sizeof(buf));
        fprintf(fp, "%s%s", i ? ", " : "", buf);
    }
    fputc('\n', fp);
}

/* policy__table_print - "key = value" for each key of a section that has a value */

void policy__table_print(enum pt_section sec, const void *base, FILE *fp)
{
    char buf[64];

    for (size_t i = 0; i < PT_NKEYS; i++) {
        const struct pt_key *k = &pt_table[i];

        if (k->sec != sec)
            continue;
        switch (k->type) {
        case PT_STRING:
        case PT_PATH:
        case PT_TEXT:
        case PT_DOMAIN:
        case PT_THUMBPRINT:
        case PT_ADDRESSES:
            if (*CFIELD(base, k, char *))
                fprintf(fp, "%s = %s\n", k->name, *CFIELD(base, k, char *));
            break;
        case PT_BOOL:
            fprintf(fp, "%s = %s\n", k->name, *CFIELD(base, k, bool) ? "yes" : "no");
            break;
        case PT_SIZE:
        case PT_DURATION:
            format_number(k, *CFIELD(base, k, uint64_t), true, buf, sizeof(buf));
            fprintf(fp, "%s = %s\n", k->name, buf);
            break;
        case PT_UINT:
            format_number(k, *CFIELD(base, k, unsigned), true, buf, sizeof(buf));
            fprintf(fp, "%s = %s\n", k->name, buf);
            break;
        case PT_PORT:
            fprintf(fp, "%s = %d\n", k->name, *CFIELD(base, k, int));
            break;
        case PT_ENUM:
            for (const struct pt_enum *e = k->names; e->name; e++)
                if (e->code == *CFIELD(base, k, int))
                    fprintf(fp, "%s = %s\n", k->name, e->name);
            break;
        case PT_DOMAINS: {
            const struct cfg_list *l = CFIELD(base, k, struct cfg_list);

            if (l->n == 0)
                break;
            fprintf(fp, "%s = ", k->name);
            for (size_t j = 0; j < l->n; j++)
                fprintf(fp, "%s%s", j ? ", " : "", l->v[j]);
            fputc('\n', fp);
            break;
        }
        case PT_BINDINGS:
        case PT_RANGES:
        case PT_SMARTHOSTS:
            print_array(k, base, fp);
            break;
        case PT_ADDRESS:
            policy__format_address(CFIELD(base, k, struct sockaddr_storage), buf,
                                   sizeof(buf));
            if (buf[0])
                fprintf(fp, "%s = %s\n", k->name, buf);
            break;
        }
    }
}
