/*
 * policy_config_test.c - loading, validation errors, printing, references.
 *
 * Each test writes small INI files into its own mkdtemp() directory.  The
 * error table holds {label, config text, list-file text, expected errors};
 * in both texts "{c}" stands for the config path and "{l}" for the list
 * file path, so the exact "FILE:LINE: " prefix of every error is asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define POLICY_TEST_NAME "policy_config_test"
#include "policy_test_util.h"

#define RECV_A "[receive A]\nbindings = 0.0.0.0:25\n"

static const struct {
    const char *label;
    const char *conf;
    const char *list;                   /* NULL: no list file */
    const char *errors[16];
} error_cases[] = {
    {"unknown section", RECV_A "[foo]\nx = 1\n[statistics bar]\n", NULL,
     {"{c}:3: unknown section [foo]", "{c}:5: unknown section [statistics bar]"}},
    {"metrics", RECV_A "[metrics]\nlisten = 127.0.0.1:9125, [::1]:9125\n"
     "remote_ip_ranges = 10.0.0.1/8\nmax_clients = 65\ntimeout = 500ms\n", NULL,
     {"{c}:5: remote_ip_ranges: \"10.0.0.1/8\" has host bits set",
      "{c}:6: max_clients: \"65\" is out of bounds (min 1, max 64)",
      "{c}:7: timeout: \"500ms\" is out of bounds (min 1s, max 5m)",
      "{c}:4: [metrics] listen takes one ADDR:PORT"}},
    {"metrics name", RECV_A "[metrics main]\nlisten = 127.0.0.1\n", NULL,
     {"{c}:3: section [metrics] takes no name"}},
    {"unknown key", RECV_A "fooo = 1\n[transport]\nbindings = 0.0.0.0:25\n", NULL,
     {"{c}:3: unknown key \"fooo\" in [receive A]",
      "{c}:5: unknown key \"bindings\" in [transport]"}},
    {"bom and crlf keep line numbers",
     "\xEF\xBB\xBF[receive A]\r\nbindings = 0.0.0.0:25\r\nfoo = 1\r\n", NULL,
     {"{c}:3: unknown key \"foo\" in [receive A]"}},
    {"duplicate key", RECV_A "BINDINGS = 0.0.0.0:26\n", NULL,
     {"{c}:3: duplicate key \"bindings\" in [receive A] (first at line 2)"}},
    {"duplicate of a bad key", RECV_A "max_message_size = 1XB\nmax_message_size = 2MB\n", NULL,
     {"{c}:3: max_message_size: \"1XB\" is not a size (use B, KB, MB, GB)",
      "{c}:4: duplicate key \"max_message_size\" in [receive A] (first at line 3)"}},
    {"duplicate section",
     RECV_A "[receive a]\nbindings = 0.0.0.0:26\nbogus = 1\n[transport]\n[transport]\n"
     "[send A]\naddress_spaces = *\n", NULL,
     {"{c}:3: duplicate section [receive A] (first at line 1)",
      "{c}:7: duplicate section [transport] (first at line 6)"}},
    {"section names", "[receive]\nbindings = x\n[transport contoso]\n" RECV_A, NULL,
     {"{c}:1: section [receive] needs a name, e.g. [receive NAME]",
      "{c}:3: section [transport] takes no name"}},
    {"key outside sections", "workers = 4\n" RECV_A, NULL,
     {"{c}:1: key \"workers\" is outside any section"}},
    {"syntax errors", RECV_A "this is not a key\n[send B\naddress_spaces = *\n", NULL,
     {"{c}:3: syntax error: expected \"key = value\"",
      "{c}:4: syntax error: section header without ']'"}},
    {"bad receive values",
     "[receive A]\n"
     "bindings = 0.0.0.0:25, 1.2.3.4, [::1]:99999\n"
     "max_message_size = 36XB\n"
     "auth_mechanism = basic\n"
     "require_tls = maybe\n"
     "connection_timeout = 5 minutes\n"
     "remote_ip_ranges = 10.0.0.1/8, 10.0.0.0/8\n"
     "fqdn = *.contoso.com\n"
     "tls_certificate = abc\n"
     "permission = partner\n"
     "protocol_logging_level = full\n"
     "banner =\n", NULL,
     {"{c}:2: bindings: \"1.2.3.4\" has no port (use IP:PORT or [IPv6]:PORT)",
      "{c}:2: bindings: \"[::1]:99999\" has an invalid port (1..65535)",
      "{c}:3: max_message_size: \"36XB\" is not a size (use B, KB, MB, GB)",
      "{c}:4: auth_mechanism: \"basic\" is not valid (use none or tls)",
      "{c}:5: require_tls: \"maybe\" is not a boolean (use yes or no)",
      "{c}:6: connection_timeout: \"5 minutes\" is not a duration "
      "(use ms, s, m, h, d or [d.]hh:mm:ss)",
      "{c}:7: remote_ip_ranges: \"10.0.0.1/8\" has host bits set",
      "{c}:8: fqdn: \"*.contoso.com\" is not a domain name (wildcards are not supported)",
      "{c}:9: tls_certificate: \"abc\" is not a certificate thumbprint (40 hex digits)",
      "{c}:10: permission: \"partner\" is not valid (use internet or internal)",
      "{c}:11: protocol_logging_level: \"full\" is not valid (use none or verbose)",
      "{c}:12: banner: \"\" is empty"}},
    {"bad values elsewhere",
     "[service]\nuser = a b\nworkers = lots\n"
     "[transport]\nqueue_directory = spool\ncrl_fetch = sometimes\nrevocation_failure = ignore\n"
     RECV_A
     "[send S]\naddress_spaces = *\nsource_ip = 10.0.0.300\nsmart_hosts = [relay]:25\n"
     "[dns]\nservers = 127.0.0.53:5353, resolver\n", NULL,
     {"{c}:2: user: \"a b\" is not a valid name",
      "{c}:3: workers: \"lots\" is not a number",
      "{c}:5: queue_directory: \"spool\" is not an absolute path",
      "{c}:6: crl_fetch: \"sometimes\" is not a boolean (use yes or no)",
      "{c}:7: revocation_failure: \"ignore\" is not valid (use fail or accept)",
      "{c}:12: source_ip: \"10.0.0.300\" is not an IP address",
      "{c}:13: smart_hosts: \"[relay]:25\" is not a smart host ([...] must hold an IP address)",
      "{c}:15: servers: \"resolver\" is not a DNS server (use IP, IP:PORT or [IPv6]:PORT)"}},
    {"bounds",
     "[service]\nworkers = 257\n"
     "[transport]\ntransient_failure_retry_count = 16\nmessage_expiration_timeout = 1s\n"
     RECV_A
     "max_message_size = 10KB\nmax_recipients_per_message = 0\nmax_protocol_errors = 1001\n"
     "connection_inactivity_timeout = 2d\n"
     "[send B]\naddress_spaces = *\nport = 0\n"
     "[dns]\ntimeout = 10m\n"
     "[logs]\nprotocol_log_max_file_size = 1KB\n", NULL,
     {"{c}:2: workers: \"257\" is out of bounds (min 0, max 256)",
      "{c}:4: transient_failure_retry_count: \"16\" is out of bounds (min 0, max 15)",
      "{c}:5: message_expiration_timeout: \"1s\" is out of bounds (min 5s, max 90d)",
      "{c}:8: max_message_size: \"10KB\" is out of bounds (min 64KB, max 2147483647)",
      "{c}:9: max_recipients_per_message: \"0\" is out of bounds (min 1, max 512000)",
      "{c}:10: max_protocol_errors: \"1001\" is out of bounds (min 1, max 1000)",
      "{c}:11: connection_inactivity_timeout: \"2d\" is out of bounds (min 1s, max 1d)",
      "{c}:14: port: \"0\" is out of bounds (min 1, max 65535)",
      "{c}:16: timeout: \"10m\" is out of bounds (min 100ms, max 5m)",
      "{c}:18: protocol_log_max_file_size: \"1KB\" is out of bounds (min 4KB, max 4GB)"}},
    {"receive rules",
     RECV_A "auth_mechanism = none\ndomain_secure_enabled = yes\nrequire_tls = yes\n"
     "connection_timeout = 30s\n"
     "[receive B]\nbindings = 0.0.0.0:26\nconnection_inactivity_timeout = 10m\n"
     "[receive C]\nremote_ip_ranges = 10.0.0.0/8\n"
     "[receive D]\nbindings =\n", NULL,
     {"{c}:4: domain_secure_enabled = yes requires auth_mechanism = tls",
      "{c}:5: require_tls = yes requires auth_mechanism = tls",
      "{c}:6: connection_timeout (30s) must be longer than "
      "connection_inactivity_timeout (1m)",
      "{c}:9: connection_timeout (5m) must be longer than "
      "connection_inactivity_timeout (10m)",
      "{c}:10: [receive C] has no bindings (bindings = IP:PORT is required)",
      "{c}:12: [receive D] has no bindings (bindings = IP:PORT is required)"}},
    {"send rules",
     RECV_A
     "[send NoSpace]\ndns_routing = yes\n"
     "[send Both]\naddress_spaces = contoso.com\nsmart_hosts = hub.contoso.local:25\n"
     "dns_routing = yes\n"
     "[send Neither]\naddress_spaces = *\ndns_routing = no\n"
     "[send SecureSmart]\naddress_spaces = fabrikam.com\nsmart_hosts = [10.1.1.1]:587\n"
     "domain_secure_enabled = yes\n", NULL,
     {"{c}:3: [send NoSpace] has no address_spaces "
      "(address_spaces = *, DOMAIN or *.DOMAIN is required)",
      "{c}:8: dns_routing = yes conflicts with smart_hosts (use one or the other)",
      "{c}:11: dns_routing = no requires smart_hosts",
      "{c}:15: domain_secure_enabled = yes requires dns_routing = yes "
      "(Exchange: DomainSecureWithoutDNSRoutingEnabled)"}},
    {"log sizes", RECV_A "[logs]\nprotocol_log_max_directory_size = 5MB\n", NULL,
     {"{c}:4: protocol_log_max_directory_size must not be smaller than "
      "protocol_log_max_file_size"}},
    {"unique binding and range",
     "[receive A]\nbindings = 0.0.0.0:25, [::]:25\n"
     "[receive B]\nbindings = [::]:25\n"
     "[receive C]\nbindings = 0.0.0.0:25\nremote_ip_ranges = 10.0.0.0/8\n"
     "[receive D]\nbindings = 0.0.0.0:25\nremote_ip_ranges = 10.0.0.0/8, 192.0.2.0/24\n",
     NULL,
     {"{c}:3: [receive B] repeats binding [::]:25 with remote range 0.0.0.0/0 of "
      "[receive A] (line 1); each binding and remote range pair must be unique",
      "{c}:8: [receive D] repeats binding 0.0.0.0:25 with remote range 10.0.0.0/8 of "
      "[receive C] (line 5); each binding and remote range pair must be unique"}},
    {"domain lists",
     "[transport]\n"
     "accepted_domains = contoso.com *.contoso.net, *\n"
     "tls_send_domain_secure_list = *.fabrikam.com, 192.0.2.1, ok.example\n"
     "tls_receive_domain_secure_list = [10.0.0.1]\n"
     RECV_A
     "[send S]\naddress_spaces = *, *.contoso.com, contoso.com, *.*.x\n", NULL,
     {"{c}:2: accepted_domains: \"*\" is not a domain name (wildcards are not supported)",
      "{c}:3: tls_send_domain_secure_list: \"*.fabrikam.com\" is not a domain name "
      "(wildcards are not supported)",
      "{c}:3: tls_send_domain_secure_list: \"192.0.2.1\" is not a domain name "
      "(IP literals are not supported)",
      "{c}:4: tls_receive_domain_secure_list: \"[10.0.0.1]\" is not a domain name "
      "(IP literals are not supported)",
      "{c}:8: address_spaces: \"*.*.x\" is not a domain name "
      "(wildcards are not supported)"}},
    {"list files",
     "[transport]\ntls_send_domain_secure_list_file = {l}\n"
     "tls_receive_domain_secure_list_file = /nonexistent/x.domains\n" RECV_A,
     "# partners\nwoodgrovebank.com\n\n*.fabrikam.com\n10.0.0.1  # old\nContoso.COM.\n",
     {"{l}:4: \"*.fabrikam.com\" is not a domain name (wildcards are not supported)",
      "{l}:5: \"10.0.0.1\" is not a domain name (IP literals are not supported)",
      "{c}:3: tls_receive_domain_secure_list_file: cannot open /nonexistent/x.domains: "
      "No such file or directory"}},
    {"list file path", "[transport]\ntls_send_domain_secure_list_file = x.domains\n" RECV_A,
     NULL,
     {"{c}:2: tls_send_domain_secure_list_file: \"x.domains\" is not an absolute path"}},
    {"partner certificate directory path",
     "[transport]\npartner_certificate_directory = certs\n" RECV_A, NULL,
     {"{c}:2: partner_certificate_directory: \"certs\" is not an absolute path"}},
    {"partner certificate directory in the queue",
     "[transport]\nqueue_directory = /q\npartner_certificate_directory = /q/messages/\n"
     RECV_A, NULL,
     {"{c}:3: partner_certificate_directory /q/messages/ is also queue_directory or a "
      "directory of the queue's: give it a directory of its own"}},
    {"partner certificate directory in the store",
     "[transport]\npartner_certificate_directory = /etc/domsec/certs\n" RECV_A, NULL,
     {"{c}:2: partner_certificate_directory /etc/domsec/certs is also certificate_store: "
      "give it a directory of its own"}},
    {"no receive section", "[transport]\naccepted_domains = contoso.com\n", NULL,
     {"{c}: no [receive NAME] section: at least one receive connector is required"}},
    {"empty file", "", NULL,
     {"{c}: no [receive NAME] section: at least one receive connector is required"}},
};

/* test_errors - every validation error, with its exact FILE:LINE prefix */

static void test_errors(void **state)
{
    struct fx *fx = *state;

    for (size_t i = 0; i < NELEM(error_cases); i++) {
        struct cfg_errors errs = {NULL, 0};
        struct config *cfg;

        print_message("case: %s\n", error_cases[i].label);
        write_text(fx, fx->conf, error_cases[i].conf);
        if (error_cases[i].list)
            write_text(fx, fx->list, error_cases[i].list);
        cfg = policy_config_load(fx->conf, &errs);
        assert_null(cfg);
        assert_errors(fx, &errs, error_cases[i].errors);
        policy_config_errors_free(&errs);
        assert_int_equal(errs.n, 0);
        unlink(fx->list);
    }
}

/* test_file_errors - missing file, a directory, long lines, NUL bytes */

static void test_file_errors(void **state)
{
    struct fx *fx = *state;
    struct cfg_errors errs = {NULL, 0};
    char *text, *want;
    size_t len;

    assert_null(policy_config_load(fx->conf, &errs));
    assert_errors(fx, &errs, (const char *const[]){
        "{c}: cannot open: No such file or directory", NULL});
    policy_config_errors_free(&errs);

    assert_null(policy_config_load(fx->dir, &errs));
    assert_int_equal(errs.n, 1);
    want = xasprintf("%s: cannot open: %s", fx->dir, strerror(EISDIR));
    assert_string_equal(errs.v[0], want);
    free(want);
    policy_config_errors_free(&errs);

    /* Line 2 is the longest allowed (65533), line 3 one more; line 5 has a NUL. */
    text = xmalloc(200000);
    len = (size_t)sprintf(text, "[receive A]\n#");
    memset(text + len, 'x', 65532);
    len += 65532;
    len += (size_t)sprintf(text + len, "\nbanner = ");
    memset(text + len, 'y', 65525);
    len += 65525;
    len += (size_t)sprintf(text + len, "\nbindings = 0.0.0.0:25\nfoo");
    text[len++] = '\0';
    len += (size_t)sprintf(text + len, " = 1\nbar = 2\n");
    write_file(fx->conf, text, len);
    free(text);
    assert_null(policy_config_load(fx->conf, &errs));
    assert_errors(fx, &errs, (const char *const[]){
        "{c}:3: line too long (more than 65533 characters)",
        "{c}:5: syntax error: NUL character in line",
        "{c}:6: unknown key \"bar\" in [receive A]", NULL});
    policy_config_errors_free(&errs);

    /* Without an error list the result is the same NULL, and nothing leaks. */
    assert_null(policy_config_load(fx->conf, NULL));
}

#define SPEC_EXAMPLE \
    "[transport]                         ; organization-wide, like Set-TransportConfig\n" \
    "accepted_domains = contoso.com      ; mail for these is accepted from the internet\n" \
    "tls_send_domain_secure_list = woodgrovebank.com, fabrikam.com\n" \
    "tls_receive_domain_secure_list = woodgrovebank.com\n" \
    "; either list may also come from a file, one domain a line:\n" \
    "; tls_send_domain_secure_list_file = /etc/domsec/send-secure.domains\n" \
    "queue_directory = /var/spool/domsec\n" \
    "trusted_ca_file = /etc/domsec/trusted-ca.pem   ; the trust anchors\n" \
    "certificate_store = /etc/domsec/certs\n" \
    "crl_directory = /etc/domsec/crl\n" \
    "crl_fetch = yes                     ; fetch CRLs over HTTP\n" \
    "revocation_failure = fail           ; fail | accept\n" \
    "message_expiration_timeout = 2d\n" \
    "delay_notification_timeout = 4h\n" \
    "transient_failure_retry_interval = 10m\n" \
    "transient_failure_retry_count = 6\n" \
    "message_retry_interval = 15m\n" \
    "outbound_connection_failure_retry_interval = 30m\n" \
    "max_outbound_connections = 1000\n" \
    "max_per_domain_outbound_connections = 40\n" \
    "\n" \
    "[receive Inet]                      ; a receive connector\n" \
    "bindings = 0.0.0.0:25, [::]:25\n" \
    "remote_ip_ranges = 0.0.0.0/0, ::/0  ; which clients this connector serves\n" \
    "fqdn = mail.contoso.com             ; banner, EHLO reply\n" \
    "auth_mechanism = tls                ; tls: advertise STARTTLS | none\n" \
    "domain_secure_enabled = yes\n" \
    "require_tls = no\n" \
    "permission = internet               ; internet | internal\n" \
    "max_message_size = 36MB\n" \
    "max_recipients_per_message = 200\n" \
    "max_inbound_connection = 5000\n" \
    "max_inbound_connection_per_source = 20\n" \
    "connection_timeout = 5m\n" \
    "connection_inactivity_timeout = 1m\n" \
    "protocol_logging_level = verbose    ; none | verbose\n" \
    "\n" \
    "[receive FromHub]\n" \
    "bindings = 10.0.0.5:25\n" \
    "remote_ip_ranges = 10.0.0.0/8\n" \
    "fqdn = edge.contoso.local\n" \
    "auth_mechanism = tls\n" \
    "permission = internal\n" \
    "\n" \
    "[send Internet]                     ; a send connector\n" \
    "address_spaces = *                  ; *, domain, *.domain; longest match wins\n" \
    "dns_routing = yes                   ; or: smart_hosts = relay.example.net:25\n" \
    "port = 25\n" \
    "fqdn = mail.contoso.com             ; EHLO name and client-certificate selection\n" \
    "domain_secure_enabled = yes\n" \
    "require_tls = no\n" \
    "protocol_logging_level = verbose\n" \
    "\n" \
    "[send ToHub]\n" \
    "address_spaces = contoso.com\n" \
    "smart_hosts = hub.contoso.local:25\n" \
    "\n" \
    "[dns]\n" \
    "servers = 127.0.0.53:5353           ; optional; default is /etc/resolv.conf\n" \
    "timeout = 5s\n" \
    "\n" \
    "[logs]\n" \
    "directory = /var/log/domsec         ; ProtocolLog/SmtpReceive, ...\n" \
    "protocol_log_max_file_size = 10MB\n" \
    "protocol_log_max_directory_size = 250MB\n" \
    "protocol_log_max_age = 30d\n"

/* test_spec_example - the example of SPEC section 2 loads as written */

static void test_spec_example(void **state)
{
    struct fx *fx = *state;
    struct config *cfg;
    const struct cfg_receive *r;
    const struct cfg_send *s;

    write_text(fx, fx->conf, SPEC_EXAMPLE);
    cfg = load_ok(fx, fx->conf);
    assert_string_equal(cfg->path, fx->conf);
    assert_int_equal(cfg->transport.accepted_domains.n, 1);
    assert_string_equal(cfg->transport.accepted_domains.v[0], "contoso.com");
    assert_int_equal(cfg->transport.send_secure.n, 2);
    assert_string_equal(cfg->transport.send_secure.v[1], "fabrikam.com");
    assert_int_equal(cfg->transport.recv_secure.n, 1);
    assert_int_equal(cfg->transport.revocation_failure, CFG_REVFAIL_FAIL);
    assert_int_equal(cfg->transport.message_expiration_timeout, 2 * 86400000ULL);
    assert_int_equal(cfg->transport.max_per_domain_outbound_connections, 40);

    assert_int_equal(cfg->nreceive, 2);
    r = &cfg->receive[0];
    assert_string_equal(r->name, "Inet");
    assert_int_equal(r->line, 22);
    assert_int_equal(r->nbindings, 2);
    assert_string_equal(r->bindings[1].text, "[::]:25");
    assert_true(r->bindings[1].wildcard);
    assert_int_equal(r->nranges, 2);
    assert_string_equal(r->fqdn, "mail.contoso.com");
    assert_string_equal(r->banner, "mail.contoso.com domsec ESMTP service ready");
    assert_true(r->domain_secure_enabled);
    assert_int_equal(r->max_message_size, 36ULL << 20);
    assert_int_equal(r->connection_inactivity_timeout, 60000);
    r = &cfg->receive[1];
    assert_string_equal(r->name, "FromHub");
    assert_int_equal(r->permission, CFG_PERM_INTERNAL);
    assert_int_equal(r->nranges, 1);
    assert_int_equal(r->ranges[0].prefix, 8);

    assert_int_equal(cfg->nsend, 2);
    s = &cfg->send[0];
    assert_string_equal(s->address_spaces.v[0], "*");
    assert_true(s->dns_routing);
    assert_true(s->domain_secure_enabled);
    s = &cfg->send[1];
    assert_string_equal(s->name, "ToHub");
    assert_false(s->dns_routing);           /* smart_hosts given */
    assert_int_equal(s->nsmart_hosts, 1);
    assert_string_equal(s->smart_hosts[0].host, "hub.contoso.local");
    assert_int_equal(s->smart_hosts[0].port, 25);

    assert_string_equal(cfg->dns.servers, "127.0.0.53:5353");
    assert_int_equal(cfg->dns.timeout, 5000);
    assert_int_equal(cfg->logs.protocol_log_max_directory_size, 250ULL << 20);
    assert_int_equal(cfg->logs.protocol_log_max_age, 30 * 86400000ULL);
    policy_config_unref(cfg);
}

/* test_defaults - a minimal file gets every documented default */

static void test_defaults(void **state)
{
    struct fx *fx = *state;
    struct config *cfg;
    const struct cfg_receive *r;
    const struct cfg_send *s;
    char host[256], want[256], *banner;
    const char *why;

    if (gethostname(host, sizeof(host)) < 0
        || policy_parse_domain(host, want, sizeof(want), &why) < 0)
        strcpy(want, "localhost");
    write_text(fx, fx->conf, RECV_A "[send S]\naddress_spaces = *.Contoso.COM\n");
    cfg = load_ok(fx, fx->conf);
    assert_string_equal(cfg->service.user, "domsec");
    assert_int_equal(cfg->service.workers, 0);
    assert_int_equal(cfg->transport.accepted_domains.n, 0);
    assert_string_equal(cfg->transport.queue_directory, "/var/spool/domsec");
    assert_string_equal(cfg->transport.trusted_ca_file, "/etc/domsec/trusted-ca.pem");
    assert_string_equal(cfg->transport.certificate_store, "/etc/domsec/certs");
    assert_string_equal(cfg->transport.crl_directory, "/etc/domsec/crl");
    assert_true(cfg->transport.crl_fetch);
    assert_int_equal(cfg->transport.delay_notification_timeout, 4 * 3600000ULL);
    assert_int_equal(cfg->transport.transient_failure_retry_interval, 600000);
    assert_int_equal(cfg->transport.transient_failure_retry_count, 6);
    assert_int_equal(cfg->transport.message_retry_interval, 900000);
    assert_int_equal(cfg->transport.outbound_connection_failure_retry_interval, 1800000);
    assert_int_equal(cfg->transport.max_outbound_connections, 1000);
    assert_null(cfg->transport.send_secure_file);
    assert_string_equal(cfg->transport.partner_certificate_directory,
                        "/var/spool/domsec/partner-certs");

    r = &cfg->receive[0];
    assert_int_equal(r->nranges, 2);
    assert_int_equal(r->ranges[0].family, AF_INET);
    assert_int_equal(r->ranges[1].family, AF_INET6);
    assert_int_equal(r->ranges[1].prefix, 0);
    assert_string_equal(r->fqdn, want);
    banner = xasprintf("%s domsec ESMTP service ready", want);
    assert_string_equal(r->banner, banner);
    free(banner);
    assert_int_equal(r->auth_mechanism, CFG_AUTH_TLS);
    assert_false(r->domain_secure_enabled);
    assert_false(r->require_tls);
    assert_int_equal(r->permission, CFG_PERM_INTERNET);
    assert_int_equal(r->max_message_size, 36ULL << 20);
    assert_int_equal(r->max_recipients_per_message, 200);
    assert_int_equal(r->max_inbound_connection, 5000);
    assert_int_equal(r->max_inbound_connection_per_source, 20);
    assert_int_equal(r->max_protocol_errors, 5);
    assert_int_equal(r->connection_timeout, 300000);
    assert_int_equal(r->protocol_logging_level, CFG_LOG_VERBOSE);
    assert_null(r->tls_certificate);

    s = &cfg->send[0];
    assert_string_equal(s->address_spaces.v[0], "*.contoso.com");
    assert_true(s->dns_routing);
    assert_int_equal(s->port, 25);
    assert_string_equal(s->fqdn, want);
    assert_int_equal(s->source_ip.ss_family, AF_UNSPEC);
    assert_int_equal(s->connection_inactivity_timeout, 600000);

    assert_null(cfg->dns.servers);
    assert_int_equal(cfg->dns.timeout, 5000);
    assert_string_equal(cfg->logs.directory, "/var/log/domsec");
    assert_int_equal(cfg->logs.protocol_log_max_file_size, 10ULL << 20);
    assert_int_equal(cfg->metrics.nlisten, 0);             /* off */
    assert_int_equal(cfg->metrics.nremote_ip_ranges, 2);
    assert_int_equal(cfg->metrics.remote_ip_ranges[0].prefix, 8);
    assert_int_equal(cfg->metrics.remote_ip_ranges[1].family, AF_INET6);
    assert_int_equal(cfg->metrics.remote_ip_ranges[1].prefix, 128);
    assert_int_equal(cfg->metrics.max_clients, 8);
    assert_int_equal(cfg->metrics.timeout, 10000);
    policy_config_unref(cfg);
}

/* test_spellings - case-insensitive names, auto, TimeSpan, $true, banner text */

static void test_spellings(void **state)
{
    struct fx *fx = *state;
    struct config *cfg;
    const struct cfg_receive *r;

    write_text(fx, fx->conf,
               "[SERVICE]\nWorkers = AUTO\nuser = mail\n"
               "[Receive Default Frontend]\nBindings = 127.0.0.1:2525 127.0.0.1:2525\n"
               "remote_ip_ranges = 10.0.0.0/8, 10.0.0.0/8, 192.0.2.1\n"
               "connection_timeout = 00:10:00\nconnection_inactivity_timeout = 0.00:02:00\n"
               "require_tls = $true\nbanner = Contoso ESMTP; no UCE\n"
               "tls_certificate = 0123456789abcdef0123456789abcdef01234567\n"
               "max_protocol_errors = 3\n"
               "[send Out]\naddress_spaces = *\nsource_ip = 2001:db8::25\n"
               "[dns]\nservers = ::1 127.0.0.1\n");
    cfg = load_ok(fx, fx->conf);
    assert_int_equal(cfg->service.workers, 0);
    assert_string_equal(cfg->service.user, "mail");
    r = &cfg->receive[0];
    assert_string_equal(r->name, "Default Frontend");
    assert_int_equal(r->nbindings, 1);              /* repeats are dropped */
    assert_int_equal(r->nranges, 2);
    assert_int_equal(r->ranges[1].prefix, 32);
    assert_int_equal(r->connection_timeout, 600000);
    assert_int_equal(r->connection_inactivity_timeout, 120000);
    assert_true(r->require_tls);
    assert_string_equal(r->banner, "Contoso ESMTP; no UCE");
    assert_string_equal(r->tls_certificate, "0123456789ABCDEF0123456789ABCDEF01234567");
    assert_int_equal(r->max_protocol_errors, 3);
    assert_int_equal(cfg->send[0].source_ip.ss_family, AF_INET6);
    assert_string_equal(cfg->dns.servers, "[::1]:53,127.0.0.1:53");
    policy_config_unref(cfg);

    write_text(fx, fx->conf, "[service]\nworkers = 8\n" RECV_A);
    cfg = load_ok(fx, fx->conf);
    assert_int_equal(cfg->service.workers, 8);
    policy_config_unref(cfg);
}

/* test_list_file_merge - a *_list_file merges with the inline list */

static void test_list_file_merge(void **state)
{
    struct fx *fx = *state;
    struct config *cfg;
    const struct cfg_list *l;

    write_text(fx, fx->list, "# partners\n  b.example  \n\nC.Example.  # since 2026\n");
    write_text(fx, fx->conf,
               "[transport]\ntls_receive_domain_secure_list = a.example, b.example\n"
               "tls_receive_domain_secure_list_file = {l}\n" RECV_A);
    cfg = load_ok(fx, fx->conf);
    l = &cfg->transport.recv_secure;
    assert_int_equal(l->n, 3);
    assert_string_equal(l->v[0], "a.example");
    assert_string_equal(l->v[1], "b.example");
    assert_string_equal(l->v[2], "c.example");
    assert_string_equal(cfg->transport.recv_secure_file, fx->list);
    assert_int_equal(cfg->transport.send_secure.n, 0);
    policy_config_unref(cfg);
}

/* test_print_roundtrip - the printed config loads back to the same config */

static void test_print_roundtrip(void **state)
{
    struct fx *fx = *state;
    struct config *cfg, *again;
    char *first, *second, *a, *b;

    write_text(fx, fx->list, "partner.example\n");
    /* The SPEC example with a list file in [transport] and more connectors. */
    a = expand(fx, SPEC_EXAMPLE);
    b = xasprintf("[transport]\ntls_send_domain_secure_list_file = %s\n%s", fx->list,
                  strchr(a, '\n') + 1);
    free(a);
    a = xasprintf("%s[send Lit]\naddress_spaces = *.partner.example\n"
                  "smart_hosts = [10.1.1.1]:587, relay.example.net\nsource_ip = 192.0.2.25\n"
                  "[receive Submit]\nbindings = 127.0.0.1:587\nbanner = Submit here\n"
                  "remote_ip_ranges = 127.0.0.0/8\nmax_message_size = 65536\n"
                  "tls_certificate = 0123456789ABCDEF0123456789ABCDEF01234567\n"
                  "[service]\nworkers = 4\n", b);
    write_text(fx, fx->conf, a);
    free(a);
    free(b);

    cfg = load_ok(fx, fx->conf);
    first = print_to_string(cfg);
    assert_non_null(strstr(first, "\n[receive Inet]\nbindings = 0.0.0.0:25, [::]:25\n"));
    assert_non_null(strstr(first, "\nmax_message_size = 36MB\n"));
    assert_non_null(strstr(first, "\nmax_message_size = 64KB\n"));
    assert_non_null(strstr(first, "\nmessage_expiration_timeout = 2d\n"));
    assert_non_null(strstr(first, "\nsmart_hosts = [10.1.1.1]:587, relay.example.net\n"));
    assert_non_null(strstr(first, "\ntls_send_domain_secure_list = woodgrovebank.com, "
                           "fabrikam.com, partner.example\n"));
    assert_non_null(strstr(first, "\nrevocation_failure = fail\n"));
    assert_non_null(strstr(first, "\nworkers = 4\n"));
    assert_non_null(strstr(first, "\nsource_ip = 192.0.2.25\n"));
    assert_null(strstr(first, "tls_certificate = \n"));
    write_file(fx->out, first, strlen(first));

    again = load_ok(fx, fx->out);
    second = print_to_string(again);
    /* Identical apart from the first line, which names the file. */
    assert_string_equal(strchr(first, '\n'), strchr(second, '\n'));
    free(first);
    free(second);
    policy_config_unref(again);
    policy_config_unref(cfg);
}

/* test_refs_and_swap - reference counting and the current pointer */

static void test_refs_and_swap(void **state)
{
    struct fx *fx = *state;
    struct config *a, *b, *cur;

    write_text(fx, fx->conf, RECV_A);
    a = load_ok(fx, fx->conf);
    b = load_ok(fx, fx->conf);
    assert_int_equal(atomic_load(&a->refs), 1);
    assert_null(policy_config_current());

    policy_config_swap(a);                      /* current owns a's reference */
    cur = policy_config_current();
    assert_ptr_equal(cur, a);
    assert_int_equal(atomic_load(&a->refs), 2);
    policy_config_unref(cur);

    policy_config_ref(a);                       /* keep a alive across the swap */
    policy_config_swap(b);
    assert_int_equal(atomic_load(&a->refs), 1);
    cur = policy_config_current();
    assert_ptr_equal(cur, b);
    assert_int_equal(atomic_load(&b->refs), 2);
    policy_config_unref(cur);
    policy_config_unref(a);                     /* freed here (ASan checks) */

    policy_config_swap(NULL);                   /* frees b */
    assert_null(policy_config_current());
    policy_config_unref(NULL);
}

struct race {
    atomic_int stop;
    atomic_long seen;
};

/* reader_thread - take and drop references while the main thread swaps */

static void *reader_thread(void *arg)
{
    struct race *race = arg;

    while (!atomic_load(&race->stop)) {
        struct config *cfg = policy_config_current();

        if (cfg) {
            atomic_fetch_add(&race->seen, cfg->receive[0].nbindings == 1);
            policy_config_unref(cfg);
        }
    }
    return NULL;
}

/* test_swap_threads - current/unref racing with swap never touches freed memory */

static void test_swap_threads(void **state)
{
    struct fx *fx = *state;
    struct race race = {0, 0};
    pthread_t th[4];

    write_text(fx, fx->conf, RECV_A);
    for (size_t i = 0; i < NELEM(th); i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &race), 0);
    for (int i = 0; i < 200; i++)
        policy_config_swap(load_ok(fx, fx->conf));
    while (atomic_load(&race.seen) == 0)
        sched_yield();
    atomic_store(&race.stop, 1);
    for (size_t i = 0; i < NELEM(th); i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    policy_config_swap(NULL);
    assert_true(atomic_load(&race.seen) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_file_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refs_and_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
