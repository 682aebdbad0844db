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
 *  The table (policy__table, policy__nkeys) and its look-ups by section
 *  and key name live here; putting values into the fields it describes,
 *  freeing and printing them is policy_table_set.c's.  The table is const
 *  and every function reentrant.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

_Static_assert(sizeof(enum cfg_auth) == sizeof(int), "enums are int-sized");

static const struct pt_enum auth_names[] = {
    {"none", CFG_AUTH_NONE}, {"tls", CFG_AUTH_TLS}, {NULL, 0}};
static const struct pt_enum perm_names[] = {
    {"internet", CFG_PERM_INTERNET}, {"internal", CFG_PERM_INTERNAL}, {NULL, 0}};
static const struct pt_enum loglevel_names[] = {
    {"none", CFG_LOG_NONE}, {"verbose", CFG_LOG_VERBOSE}, {NULL, 0}};
static const struct pt_enum revfail_names[] = {
    {"fail", CFG_REVFAIL_FAIL}, {"accept", CFG_REVFAIL_ACCEPT}, {NULL, 0}};

static const struct pt_enum tlsversion_names[] = {
    {"1.2", 12}, {"1.3", 13}, {NULL, 0}};
static const struct pt_enum require_names[] = {
    {"ca", CFG_REQUIRE_CA}, {"pin", CFG_REQUIRE_PIN}, {"ca+pin", CFG_REQUIRE_CA_PIN},
    {"dane", CFG_REQUIRE_DANE}, {NULL, 0}};
static const struct pt_enum revocation_names[] = {
    {"crl", CFG_REV_CRL}, {"ocsp", CFG_REV_OCSP}, {"crl+ocsp", CFG_REV_CRL_OCSP},
    {"none", CFG_REV_NONE}, {NULL, 0}};

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
#define PR(f)     offsetof(struct cfg_partner, f), 0
#define PRN(f, n) offsetof(struct cfg_partner, f), offsetof(struct cfg_partner, n)
#define DN(f)     offsetof(struct cfg_dns, f), 0
#define LG(f)     offsetof(struct cfg_logs, f), 0
#define MT(f)     offsetof(struct cfg_metrics, f), 0
#define MTN(f, n) offsetof(struct cfg_metrics, f), offsetof(struct cfg_metrics, n)

const struct pt_key policy__table[] = {
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
    {PT_TRANSPORT, "tls_session_ticket_lifetime", PT_DURATION, "1h", SEC(1), DAY(7),
     TR(tls_session_ticket_lifetime), 0, NULL},
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
    {PT_SEND, "dane", PT_BOOL, "yes", 0, 0, SD(dane), 0, NULL},
    {PT_SEND, "protocol_logging_level", PT_ENUM, "verbose", 0, 0,
     SD(protocol_logging_level), 0, loglevel_names},
    {PT_SEND, "connection_inactivity_timeout", PT_DURATION, "10m", SEC(1), DAY(1),
     SD(connection_inactivity_timeout), 0, NULL},
    {PT_SEND, "tls_certificate", PT_THUMBPRINT, NULL, 0, 0, SD(tls_certificate), 0, NULL},

    /* [partner DOMAIN] - what proves a domain-secure partner's identity (both ways). */
    {PT_PARTNER, "trusted_ca_file", PT_PATH, NULL, 0, 0, PR(trusted_ca_file), 0, NULL},
    /* No default here: yes without trusted_ca_file, no with it (decided by the loader). */
    {PT_PARTNER, "trust_global_ca", PT_BOOL, NULL, 0, 0, PR(trust_global_ca), 0, NULL},
    {PT_PARTNER, "certificate_pins", PT_PINS, NULL, 0, 0, PRN(pins, npins), 0, NULL},
    /* Default yes, like the global rule (SPEC 6.2; Exchange accepts them too). */
    {PT_PARTNER, "accept_server_auth_only", PT_BOOL, "yes", 0, 0,
     PR(accept_server_auth_only), 0, NULL},
    /* No default: 0, any version the connector allows. */
    {PT_PARTNER, "min_tls_version", PT_ENUM, NULL, 0, 0, PR(min_tls_version), 0,
     tlsversion_names},
    /* No default here: ca+pin with certificate_pins, else ca (decided by the loader). */
    {PT_PARTNER, "require", PT_ENUM, NULL, 0, 0, PR(require), 0, require_names},
    {PT_PARTNER, "revocation", PT_ENUM, "crl", 0, 0, PR(revocation), 0, revocation_names},
    /* No default here: [transport] revocation_failure (decided by the loader). */
    {PT_PARTNER, "revocation_failure", PT_ENUM, NULL, 0, 0, PR(revocation_failure), 0,
     revfail_names},

    /* [dns] */
    {PT_DNS, "servers", PT_ADDRESSES, NULL, 0, 0, DN(servers), 0, NULL},
    {PT_DNS, "timeout", PT_DURATION, "5s", 100, MIN(5), DN(timeout), 0, NULL},
    /* DNSSEC through the AD bit of a validating resolver on this host (loader: loopback). */
    {PT_DNS, "dnssec", PT_BOOL, "no", 0, 0, DN(dnssec), 0, NULL},

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

const size_t policy__nkeys = sizeof(policy__table) / sizeof(policy__table[0]);
#define PT_NKEYS policy__nkeys

static const struct {
    const char *name;
    bool    named;                      /* [receive NAME] */
} pt_sections[PT_NSECTIONS] = {
    [PT_SERVICE] = {"service", false}, [PT_TRANSPORT] = {"transport", false},
    [PT_RECEIVE] = {"receive", true},  [PT_SEND] = {"send", true},
    [PT_PARTNER] = {"partner", true},
    [PT_DNS] = {"dns", false},         [PT_LOGS] = {"logs", false},
    [PT_METRICS] = {"metrics", false},
};

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
        if (policy__table[i].sec == sec && strcasecmp(policy__table[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* policy__key_name - the name of table row idx */

const char *policy__key_name(int idx)
{
    return policy__table[idx].name;
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
