/*
 * policy_config.h - the loaded configuration: one immutable object.
 *
 * A struct config is built by policy_config_load() from an INI file (parsed
 * with libinih), validated completely, and never modified afterwards.  It
 * is shared between threads by reference count: whoever keeps a pointer
 * beyond the current call takes a reference (sessions hold the config they
 * started with until they end).  Reload = load a new object and swap the
 * "current" pointer (policy_config_current/policy_config_swap); the old
 * object is freed when its last reference goes.
 *
 * All times are milliseconds, all sizes bytes.  Domain names are stored
 * lower-case without a trailing dot.  Errors name "FILE:LINE: message".
 */
#ifndef DOMSEC_POLICY_CONFIG_H
#define DOMSEC_POLICY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum cfg_permission { CFG_PERM_INTERNET, CFG_PERM_INTERNAL };
enum cfg_auth { CFG_AUTH_NONE, CFG_AUTH_TLS };
enum cfg_loglevel { CFG_LOG_NONE, CFG_LOG_VERBOSE };
enum cfg_revfail { CFG_REVFAIL_FAIL, CFG_REVFAIL_ACCEPT };
/* [partner D] require: what must hold to prove the partner's identity. */
enum cfg_require { CFG_REQUIRE_CA, CFG_REQUIRE_PIN, CFG_REQUIRE_CA_PIN, CFG_REQUIRE_DANE };
/* [partner D] revocation: how the partner's chain is checked for revocation. */
enum cfg_revocation { CFG_REV_CRL, CFG_REV_OCSP, CFG_REV_CRL_OCSP, CFG_REV_NONE };

/* A list of strings (domains, address spaces). */
struct cfg_list {
    char  **v;                          /* owned; lower-case for domains */
    size_t  n;
};

/* A listening address: "0.0.0.0:25", "[::]:25", "127.0.0.1:2525". */
struct cfg_binding {
    struct sockaddr_storage addr;       /* AF_INET or AF_INET6, port set */
    socklen_t addrlen;
    bool    wildcard;                   /* 0.0.0.0 or :: */
    char   *text;                       /* owned; normalised "ip:port" / "[ip]:port" */
};

/* A remote IP range: "10.0.0.0/8", "192.0.2.7", "::/0". */
struct cfg_range {
    int     family;                     /* AF_INET or AF_INET6 */
    uint8_t addr[16];                   /* network address, host bits zero */
    int     prefix;                     /* 0..32 or 0..128 */
};

/* A smart host: "relay.example.net:25", "[10.1.1.1]:587", "host" (port = connector port). */
struct cfg_smarthost {
    char   *host;                       /* owned; name or IP literal without brackets */
    int     port;                       /* 0 = use the connector's port */
    bool    literal;                    /* written as [ip] */
};

/* A public key pin: SHA-256 of a certificate's DER SubjectPublicKeyInfo
 * (the same 32 bytes as the data of a TLSA 3 1 1 record). */
struct cfg_pin {
    unsigned char sha256[32];
};

/*
 * [partner D]: the explicit, per-partner choice of what proves a partner's
 * identity, for both directions.  D is on tls_send_domain_secure_list or
 * tls_receive_domain_secure_list (else a config error).  A listed domain
 * without a section keeps the global behaviour exactly.
 */
struct cfg_partner {
    char   *domain;                     /* owned; lower-case, from [partner D] */
    char   *trusted_ca_file;            /* owned; this partner's own (or federation) CA
                                         * certificates, PEM; NULL = none */
    bool    trust_global_ca;            /* transport trusted_ca_file also proves it;
                                         * default: yes without trusted_ca_file, no with
                                         * it ("instead of") */
    struct cfg_pin *pins;               /* owned; certificate_pins, in file order */
    size_t  npins;
    bool    accept_server_auth_only;    /* default yes (as the global rule): inbound, a client
                                         * certificate with serverAuth and without clientAuth
                                         * EKU is accepted with the name and chain checks;
                                         * no: refused (BadEku (serverAuth only)) */
    int     min_tls_version;            /* 0 (default: any the connector allows), 12 or 13 */
    enum cfg_require require;           /* default ca+pin when pins are given, else ca */
    enum cfg_revocation revocation;     /* default crl (the global behaviour) */
    enum cfg_revfail revocation_failure;/* default: transport revocation_failure */
    int     line;                       /* line of the section header */
};

struct cfg_receive {
    char   *name;                       /* owned; "Inet" from [receive Inet] */
    struct cfg_binding *bindings;       /* owned; at least one */
    size_t  nbindings;
    struct cfg_range *ranges;           /* owned; default 0.0.0.0/0 and ::/0 */
    size_t  nranges;
    char   *fqdn;                       /* owned; default: the host name */
    char   *banner;                     /* owned; the 220 text after "220 ";
                                         * default "<fqdn> domsec ESMTP service ready" */
    enum cfg_auth auth_mechanism;       /* default tls */
    bool    domain_secure_enabled;      /* default no */
    bool    require_tls;                /* default no */
    bool    requiretls_enable;          /* default yes: REQUIRETLS in EHLO inside TLS */
    enum cfg_permission permission;     /* default internet */
    uint64_t max_message_size;          /* default 36MB; 65536..2147483647 */
    unsigned max_recipients_per_message;/* default 200; 1..512000 */
    unsigned max_inbound_connection;    /* default 5000; 1..1000000 */
    unsigned max_inbound_connection_per_source; /* default 20; 1..1000000 */
    unsigned max_protocol_errors;       /* default 5; 1..1000 */
    uint64_t connection_timeout;        /* default 5m; > inactivity timeout */
    uint64_t connection_inactivity_timeout; /* default 1m; 1s..1d */
    uint64_t command_timeout;           /* default: connection_inactivity_timeout; 1s..1d:
                                         * a whole command line, from when it may start */
    unsigned min_data_rate;             /* default 500 bytes/s; 0 (off)..1000000000:
                                         * DATA text earns command_timeout credit */
    uint64_t domain_secure_tarpit_interval; /* default 30s; 0..10m */
    enum cfg_loglevel protocol_logging_level; /* default verbose */
    char   *tls_certificate;            /* owned; 40-hex thumbprint or NULL */
    int     line;                       /* line of the section header */
};

struct cfg_send {
    char   *name;                       /* owned */
    struct cfg_list address_spaces;     /* "*", "domain", "*.domain"; required */
    bool    dns_routing;                /* default yes unless smart_hosts given */
    struct cfg_smarthost *smart_hosts;  /* owned */
    size_t  nsmart_hosts;
    int     port;                       /* default 25 */
    char   *fqdn;                       /* owned; default: the host name */
    struct sockaddr_storage source_ip;  /* ss_family == AF_UNSPEC if unset */
    bool    domain_secure_enabled;      /* default no */
    bool    require_tls;                /* default no */
    bool    mta_sts;                    /* default yes: MTA-STS for unlisted DNS-routed domains */
    bool    dane;                       /* default yes: DANE (RFC 7672) for DNS-routed
                                         * domains when [dns] dnssec = yes */
    enum cfg_loglevel protocol_logging_level; /* default verbose */
    uint64_t connection_inactivity_timeout;   /* default 10m */
    char   *tls_certificate;            /* owned; thumbprint or NULL */
    int     line;
};

struct cfg_transport {
    struct cfg_list accepted_domains;   /* "contoso.com" or "*.contoso.com" */
    struct cfg_list send_secure;        /* tls_send_domain_secure_list (+ _file) */
    struct cfg_list recv_secure;        /* tls_receive_domain_secure_list (+ _file) */
    char   *send_secure_file;           /* owned; tls_send_domain_secure_list_file or NULL;
                                         * its entries are already merged into send_secure */
    char   *recv_secure_file;           /* owned; tls_receive_domain_secure_list_file or NULL */
    char   *queue_directory;            /* default /var/spool/domsec */
    char   *trusted_ca_file;            /* default /etc/domsec/trusted-ca.pem */
    char   *certificate_store;          /* default /etc/domsec/certs */
    char   *crl_directory;              /* default /etc/domsec/crl */
    bool    crl_fetch;                  /* default yes */
    char   *crl_cache_directory;        /* owned; NULL (default) = QUEUE/crl-cache */
    char   *mta_sts_cache_directory;    /* owned; NULL (default) = QUEUE/mta-sts-cache */
    char   *mta_sts_trusted_ca_file;    /* owned; WebPKI anchors of MTA-STS (policy hosts
                                         * and MX hosts); default the system bundle */
    char   *partner_certificate_directory; /* owned; the client certificate chains of
                                         * partners (QUEUE/partner-certs unless set);
                                         * "" = not kept.  Never NULL after load */
    enum cfg_revfail revocation_failure;/* default fail */
    uint64_t tls_session_ticket_lifetime; /* default 1h: inbound TLS session tickets
                                         * (tls_ticket.c); 1s..7d */
    uint64_t message_expiration_timeout;/* default 2d */
    uint64_t delay_notification_timeout;/* default 4h */
    uint64_t transient_failure_retry_interval; /* default 10m */
    unsigned transient_failure_retry_count;    /* default 6; 0..15 */
    uint64_t message_retry_interval;    /* default 15m */
    uint64_t outbound_connection_failure_retry_interval; /* default 30m */
    unsigned max_outbound_connections;  /* default 1000 */
    unsigned max_per_domain_outbound_connections; /* default 40 */
    uint64_t connection_cache_time;     /* default 2s; 0 = QUIT after the last message */
    uint64_t connection_reuse_time;     /* default 5m: no new message on an older conn */
    /* TLS reporting (RFC 8460) */
    bool    tls_reporting;              /* default yes */
    char   *tlsrpt_directory;           /* owned; NULL (default) = QUEUE/tlsrpt */
    char   *tlsrpt_organization_name;   /* owned; NULL (default) = the host name */
    char   *tlsrpt_contact_info;        /* owned; NULL (default) = postmaster@HOSTNAME */
    char   *tlsrpt_sender;              /* owned; envelope + From; NULL = postmaster@HOSTNAME */
    uint64_t tlsrpt_send_delay;         /* default 1h: reports go out at a random moment
                                         * within this after UTC midnight */
    bool    tlsrpt_private_addresses;   /* default no: an https rua host with only loopback,
                                         * link-local or private addresses is not POSTed to */
};

struct cfg_service {                    /* [service]: this server, like Set-TransportService */
    char   *user;                       /* default "domsec"; drop to it after bind when root */
    unsigned workers;                   /* default 0 = one per CPU; 0..256 */
    char   *control_socket;             /* owned; default /run/domsec/control; NULL = none */
    unsigned control_max_clients;       /* default 16; 1..256 */
    uint64_t control_timeout;           /* default 30s; 1s..10m */
};

struct cfg_dns {
    char   *servers;                    /* owned; "ip:port,[v6]:port" csv or NULL = resolv.conf */
    uint64_t timeout;                   /* default 5s */
    bool    dnssec;                     /* default no; yes: the servers are validating
                                         * resolvers on this host (loopback only, checked
                                         * at load) and their AD bit is trusted (DANE) */
};

struct cfg_logs {
    char   *directory;                  /* default /var/log/domsec */
    uint64_t protocol_log_max_file_size;      /* default 10MB */
    uint64_t protocol_log_max_directory_size; /* default 250MB; >= file size */
    uint64_t protocol_log_max_age;            /* default 30d; 0 = no age limit */
};

struct cfg_metrics {                    /* [metrics]: Prometheus /metrics, read at start only */
    struct cfg_binding *listen;         /* owned; none (default) = off, else exactly one */
    size_t  nlisten;
    struct cfg_range *remote_ip_ranges; /* owned; default 127.0.0.0/8 and ::1/128 */
    size_t  nremote_ip_ranges;
    unsigned max_clients;               /* default 8; 1..64 */
    uint64_t timeout;                   /* default 10s; 1s..5m */
};

struct config {
    char   *path;                       /* owned; the file it came from */
    struct cfg_service service;
    struct cfg_transport transport;
    struct cfg_receive *receive;        /* owned array */
    size_t  nreceive;
    struct cfg_send *send;              /* owned array */
    size_t  nsend;
    struct cfg_dns dns;
    struct cfg_logs logs;
    struct cfg_metrics metrics;
    struct cfg_partner *partners;       /* owned array: the [partner D] sections */
    size_t  npartners;
    /* Private. */
    _Atomic int refs;                   /* see policy_config_ref */
    struct policy__section *sections;   /* owned; where each section and key was
                                         * written (policy_config_line) */
    size_t  nsections;
};

/* Error list filled by the loader: each entry "FILE:LINE: message". */
struct cfg_errors {
    char  **v;
    size_t  n;
};

/* policy_config.c */
struct config *policy_config_load(const char *path, struct cfg_errors *errs);
struct config *policy_config_ref(struct config *cfg);
void    policy_config_unref(struct config *cfg);
void    policy_config_errors_free(struct cfg_errors *errs);
/* The process-wide current config: ref'ed copy of the pointer, or NULL. */
struct config *policy_config_current(void);
/* Install cfg as current (takes over the caller's reference); unrefs the old. */
void    policy_config_swap(struct config *cfg);
/* The number of swaps so far (a reload changes it). */
uint64_t policy_config_generation(void);
/* Print the effective configuration: "[section]" headers, one "key = value" a line. */
void    policy_config_print(const struct config *cfg, FILE *fp);
/* Print one partner section the same way ("[partner D]", then its keys). */
void    policy_partner_print(const struct cfg_partner *p, FILE *fp);
/*
 * Where cfg's file sets `key` in the section whose values live at `section`
 * (&cfg->transport, &cfg->receive[i], &cfg->send[i], &cfg->service, ...):
 * the key's line, 0 if the key was left at its default; key NULL: the
 * section header's line, 0 if the file has no such section.
 */
int     policy_config_line(const struct config *cfg, const void *section, const char *key);
/* Append "PATH:LINE: message" ("PATH: message" when line is 0) to errs, PATH
 * being cfg's file: errors found about a loaded configuration read like
 * the loader's. */
void    policy_config_error(struct cfg_errors *errs, const struct config *cfg, int line,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* policy_config_check.c */
/* Append "PATH:LINE: message" to warns for each setting of cfg that does
 * not do all it may seem to (a partner's require = dane, inbound; pins
 * with require = ca or dane). */
void    policy_config_warnings(const struct config *cfg, struct cfg_errors *warns);

/* policy_value.c - value parsers shared with other modules and tests.
 * Each returns 0 on success, -1 with a short reason in *why (static text). */
int     policy_parse_size(const char *s, uint64_t *out, const char **why);
int     policy_parse_duration(const char *s, uint64_t *out_ms, const char **why);
int     policy_parse_bool(const char *s, bool *out, const char **why);
int     policy_parse_domain(const char *s, char *out, size_t outsz, const char **why);
int     policy_parse_binding(const char *s, struct cfg_binding *out, const char **why);
int     policy_parse_range(const char *s, struct cfg_range *out, const char **why);
/* "host", "host:port", "[ip]", "[ip]:port", bare IPv4; out->host is xstrdup()ed on success. */
int     policy_parse_smarthost(const char *s, struct cfg_smarthost *out, const char **why);
/* A pin: 64 hex digits, any case, or 32 pairs joined by ':' ("AB:CD:..."), or 44
 * base64 characters, bare or after "sha256//" (curl's --pinnedpubkey); never all zeros. */
int     policy_parse_pin(const char *s, struct cfg_pin *out, const char **why);
/* A pin as it is printed: 64 lowercase hex digits and a NUL; or 44 base64 characters. */
void    policy_format_pin(const unsigned char sha256[32], char out[65]);
void    policy_format_pin_base64(const unsigned char sha256[32], char out[45]);

/* policy_match.c - pure matching functions. */
/* Exact, case-insensitive domain list membership ("*.d" entries cover subdomains of d). */
bool    policy_domain_in_list(const struct cfg_list *list, const char *domain);
/* Does range contain the address (sockaddr_in / sockaddr_in6; v4-mapped v6 counts as v4)? */
bool    policy_range_contains(const struct cfg_range *r, const struct sockaddr *sa);
/*
 * Choose the receive connector for a connection that arrived on local
 * address `local` from `remote`: among connectors with a binding covering
 * the local address and port (a wildcard binding covers every address of
 * its family), those with a range containing `remote`; the longest prefix
 * wins, then a specific binding over a wildcard.  NULL if none.
 */
const struct cfg_receive *policy_receive_select(const struct config *cfg,
                                                const struct sockaddr *local,
                                                const struct sockaddr *remote);
/*
 * Choose the send connector for a recipient domain (lower-case): an exact
 * "domain" entry beats "*.suffix" entries (the longest suffix wins), which
 * beat "*".  On a tie the first connector in the file wins.  NULL if none.
 */
const struct cfg_send *policy_route_select(const struct config *cfg, const char *domain);
/* The [partner D] section of domain (lower-case or not: ASCII case-insensitive,
 * one trailing dot ignored), or NULL: the global behaviour applies. */
const struct cfg_partner *policy_partner_find(const struct config *cfg, const char *domain);

#endif
