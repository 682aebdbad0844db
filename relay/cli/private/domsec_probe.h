/*
 * domsec_probe.h - `domsec test-partner`: what domain security would decide
 * for a partner today, before its domain is listed (posttls-finger's idea,
 * domsec's verdict).
 *
 *   domsec_probe.c       options, the send connector, our TLS client context
 *                        and the CRL set (as domsecd builds them), DNS, the
 *                        walk over the hosts, the verdict and exit status
 *   domsec_probe_smtp.c  one host: connect, banner, EHLO, STARTTLS, TLS,
 *                        EHLO again, QUIT (never MAIL); facts into JSON
 *   domsec_probe_in.c    --inbound: a partner's certificate file judged as
 *                        domsecd judges a client certificate at MAIL FROM
 *   domsec_probe_log.c   --inbound without --cert: the file of the chain the
 *                        partner presented last, found through the receive
 *                        protocol log (domsecd keeps the chains)
 *   domsec_probe_sts.c   the partner's MTA-STS policy, looked up and fetched
 *                        as domsecd would (informational: a listed domain
 *                        gets none)
 *   domsec_probe_print.c the JSON result as text
 *
 * Everything runs on the probe's own libuv loop in the domsec process
 * (tls/ and dns/ are loop-driven, the same code domsecd runs).  Facts are
 * collected in a jansson object, the one record both --json and the text
 * output print.
 */
#ifndef DOMSEC_PROBE_H
#define DOMSEC_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "policy_config.h"
#include "policy_secure.h"

/* Exit statuses (the man page's EXIT STATUS). */
#define PROBE_EXIT_OK      0            /* would be delivered / accepted */
#define PROBE_EXIT_REFUSED 1            /* would be deferred, bounced or refused */
#define PROBE_EXIT_USAGE   2            /* bad arguments, unknown connector, bad config */
#define PROBE_EXIT_UNKNOWN 3            /* could not tell: DNS trouble, our own key */

struct sts_policy;
struct tls_ctx;
struct tls_facts;
struct tls_cert_info;
struct tls_crl_cert;

struct probe_addr {                     /* one address to try, in the daemon's order */
    struct sockaddr_storage ss;         /* port set */
    char   *name;                       /* owned: MX host, smart host or --host name */
};

struct probe {
    uv_loop_t loop;
    struct config *cfg;                 /* referenced */
    const struct cfg_send *sc;          /* points into cfg */
    const char *domain;                 /* the partner's domain (argv) */
    struct tls_ctx *ctx;                /* referenced: our client context, or NULL */
    bool    as_listed;                  /* judge as a listed domain (MX routing) */
    bool    all_hosts;                  /* probe every address, not only up to a verdict */
    struct probe_addr *addrs;           /* owned */
    size_t  naddrs, next;               /* next: the address being probed */
    json_t *out;                        /* owned: the whole result */
    json_t *hosts;                      /* owned (a reference): one object per address;
                                         * out gets it with the verdict */
    /* The outcome so far. */
    bool    delivered;                  /* some address would take the mail */
    bool    bounced;                    /* a 5xx ended it (every job fails) */
    char   *last;                       /* owned: the last host's failure text */
    bool    last_conn;                  /* it was a connection failure */
    char    endpoint[64];               /* the last address tried */
    struct sts_policy *sts;             /* referenced: the MTA-STS policy found, or NULL */
};

/* domsec_probe.c */
int     domsec_probe_main(const char *config_path, int argc, char **argv);
/* The current address is done (its host object appended): the next one, or the end. */
void    domsec__probe_next(struct probe *p);

/* domsec_probe_smtp.c */
/* Probe p->addrs[p->next]; calls domsec__probe_next() later, never inside. */
void    domsec__probe_host(struct probe *p);
/* The facts of one certificate (DER) as a JSON object: subject, issuer,
 * not_before, not_after (ISO 8601), thumbprint, names, eku; NULL if it
 * does not parse.  Also for --inbound. */
json_t *domsec__probe_cert_json(const unsigned char *der, size_t len);
/* A certificate's pin as o's "pin_sha256" (hex) and "pin_sha256_base64"
 * (SPEC 9), when its facts have one. */
void    domsec__probe_pin_json(json_t *o, const struct tls_cert_info *ci);

/* The chain, validity, name, EKU and revocation verdicts on a peer
 * certificate as JSON (ci NULL: it did not parse); client: the EKU named is
 * clientAuth's (inbound), else serverAuth's. */
json_t *domsec__probe_verdicts(const struct tls_facts *tf, const struct tls_cert_info *ci,
                               enum policy_chain chain, bool name_match, bool rev_accepted,
                               bool client);

/* domsec_probe_in.c */
/*
 * What domsecd's [partner D] rule (or the global rule) says about a peer of
 * listed domain D (relay_tls_identity, policy_identity_check), for f and
 * out: chain, name and identity rule for the table (the caller asks it),
 * *iv for domsec__probe_identity_json.  tf has no TLS version (a chain
 * read from a file): min_tls_version is not judged.  Outbound with require
 * = dane: false (test-partner looks up no TLSA records; nothing changed).
 * Needs relay_tls_install() of cfg's set (the partner's anchors).
 */
bool    domsec__probe_identity(const struct config *cfg, const char *domain,
                               const struct tls_facts *tf, const struct tls_cert_info *ci,
                               const struct tls_crl_cert *chain, size_t n, bool inbound,
                               bool *name_match, enum policy_chain *chain_verdict,
                               enum cfg_revfail *revfail, struct policy_identity_verdict *iv,
                               char *detail, size_t dsz);
/* out's "partner_identity" (the Partner identity line domsecd would log),
 * and "identity_detail" (why the partner's CA refused the chain) if any. */
void    domsec__probe_identity_json(json_t *out, const char *domain,
                                    const struct policy_identity_verdict *iv, bool inbound,
                                    const char *rule, bool revocation_accepted,
                                    const char *detail);
/* Judge the chain in cert_file (read from cert_fd when it is not -1: the
 * file opened already, cert_file then only names it); source (taken over,
 * may be NULL): where the file came from, shown as "source". */
int     domsec__probe_inbound(const struct config *cfg, const char *domain,
                              const char *cert_file, int cert_fd, json_t *source, bool json);

/* domsec_probe_log.c */
/* The chain DOMAIN's client presented last, from the receive protocol log:
 * 0 with *file, *fd (the regular file opened without following a link or
 * blocking on a FIFO: read it, not *file) and *source (all owned by the
 * caller), or PROBE_EXIT_UNKNOWN after saying why on stderr. */
int     domsec__probe_last_cert(const struct config *cfg, const char *domain, char **file,
                                int *fd, json_t **source);

/* domsec_probe_sts.c */
/* The MTA-STS policy of p->domain into p->out ("mta_sts") and p->sts; runs p's loop. */
void    domsec__probe_sts(struct probe *p);
/* After the MX lookup: "mta_sts_match" on each MX host when there is a policy. */
void    domsec__probe_sts_mark(struct probe *p);

/* domsec_probe_print.c */
/* The outbound result as text, to stdout. */
void    domsec__probe_print(const json_t *out);
/* The inbound result as text, to stdout. */
void    domsec__probe_print_in(const json_t *out);
/* A string member of o, or "" (never NULL). */
const char *domsec__probe_str(const json_t *o, const char *key);

#endif
