/*
 * relay_tls.h - the TLS material of a configuration: for each receive
 * connector with auth_mechanism = tls, the server context built from the
 * certificate the store selects for its fqdn (SPEC 6.2); for each send
 * connector the client context, and with mta_sts = yes its WebPKI twin.
 */
#ifndef DOMSEC_RELAY_TLS_H
#define DOMSEC_RELAY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy_config.h"
#include "policy_secure.h"
#include "tls_conn.h"                   /* enum tls_chain */

struct tls_ctx;
struct tls_facts;
struct tls_cert_info;

struct tls_anchors;
struct tls_crl_cert;

/* relay_tls.c */
struct relay_tls_set;                   /* the material of one configuration (opaque) */
/*
 * Build the material for cfg, reading certificate_store as the calling
 * user.  A connector that must use TLS (receive: domain_secure_enabled or
 * require_tls; send: domain_secure_enabled) and cannot appends an error
 * "FILE:LINE: ..." to errs: then free the set, do not install it.  Any
 * other connector without a usable certificate gets no STARTTLS, noted for
 * relay_tls_set_report().  Never NULL.
 */
struct relay_tls_set *relay_tls_build(const struct config *cfg, struct cfg_errors *errs);
/* Make set (built for cfg) current, keeping the previous generation for
 * the sessions started under it; takes set over.  Call before
 * policy_config_swap(cfg). */
void    relay_tls_install(struct relay_tls_set *set);
/* Log, as errors, the connectors that set leaves without TLS (no usable
 * certificate, a context that cannot be built): for a set about to be
 * installed or judged by --check-config, never for a refused one. */
void    relay_tls_set_report(const struct relay_tls_set *set);
/* Why a connector (receive rc or send sc, the other NULL) must use TLS
 * ("domain_secure_enabled = yes", "require_tls = yes"), or NULL. */
const char *relay_tls_must(const struct cfg_receive *rc, const struct cfg_send *sc);
/* Free a set that is not installed (NULL is a no-op). */
void    relay_tls_set_free(struct relay_tls_set *set);
/* Does cfg use TLS at all (a receive connector with auth_mechanism = tls,
 * or any send connector): then building reads the certificate store. */
bool    relay_tls_wanted(const struct config *cfg);
/* The server context for connector rc of cfg, referenced, or NULL (no STARTTLS). */
struct tls_ctx *relay_tls_server_ctx(const struct config *cfg, const struct cfg_receive *rc);
/* The client context for send connector sc of cfg (our certificate by its
 * fqdn if the store has one), referenced, or NULL. */
struct tls_ctx *relay_tls_client_ctx(const struct config *cfg, const struct cfg_send *sc);
/* The WebPKI client context for send connector sc of cfg: the same
 * certificate, mta_sts_trusted_ca_file as the anchors (MX hosts under an
 * MTA-STS policy), referenced; NULL when sc has mta_sts = no, no client
 * context, or the anchors could not be loaded (noted at build). */
struct tls_ctx *relay_tls_webpki_ctx(const struct config *cfg, const struct cfg_send *sc);
/* Our certificate as selected for cfg's receive (receive=true) or send
 * connector number index: fn(info, arg) under the module's lock (fn must
 * not call back into relay_tls), and true; false when that connector
 * presents none (or cfg's generation is gone). */
bool    relay_tls_own_cert(const struct config *cfg, bool receive, size_t index,
                           void (*fn)(const struct tls_cert_info *, void *), void *arg);
/* Why receive connector rc of cfg's installed generation offers no
 * STARTTLS although it would (its note, as relay_tls_set_report logged
 * it), into buf; false when there is no note. */
bool    relay_tls_why_not(const struct config *cfg, const struct cfg_receive *rc, char *buf,
                          size_t size);
/* tls/'s chain verdict and revocation in policy's terms. */
enum policy_chain relay_tls_chain(const struct tls_facts *f);
/* tls/'s chain verdict alone (revocation not folded in) in policy's terms. */
enum policy_chain relay_tls_chain_plain(enum tls_chain chain);
/* Partner p's own anchors (its trusted_ca_file, loaded by relay_tls_build)
 * in cfg's installed generation, referenced (tls_anchors_unref), or NULL:
 * no trusted_ca_file, or cfg's generation is gone.  Thread-safe. */
struct tls_anchors *relay_tls_partner_anchors(const struct config *cfg,
                                              const struct cfg_partner *p);
/* "good", "revoked", "unknown", "unknown (accepted)" (passed only because
 * revocation_failure = accept) or "not checked"; static. */
const char *relay_tls_revocation(const struct tls_facts *f, bool accepted);
/* Log a warning for each certificate a connector of the current
 * generation presents that expires within 30 days (or has expired).
 * relay_tls_install() calls it; the daemon calls it once a day. */
void    relay_tls_warn_expiring(int64_t now);
/* Release every generation (at exit). */
void    relay_tls_shutdown(void);

/* relay_identity.c */
/*
 * The identity facts (policy_identity_check) of a peer of listed domain D
 * whose [partner D] section is p (NULL: the global rule): from the TLS
 * facts tf (NULL: no TLS), the certificate's facts ci (NULL: none), the
 * chain the peer sent (chain, n; for p's own CA, judged now against its
 * anchors in cfg's generation) and the name match.  out->dane stays
 * POLICY_DANE_UNUSABLE: the outbound caller sets it.  The reason a
 * partner CA did not verify the chain goes to detail ("" otherwise); when
 * cfg's generation is no longer installed (two reloads since the session
 * began) the partner CA judges nothing: partner_chain is UNTRUSTED and
 * detail RELAY_IDENTITY_NO_ANCHORS.  For a partner whose revocation uses
 * OCSP, a chain without a usable cached response asks for a fetch.
 */
#define RELAY_IDENTITY_NO_ANCHORS "the partner's trusted_ca_file is not loaded for the " \
    "configuration this session began with (reloaded twice since): reconnect"
void    relay_tls_identity(const struct config *cfg, const struct cfg_partner *p,
                           const struct tls_facts *tf, const struct tls_cert_info *ci,
                           const struct tls_crl_cert *chain, size_t n, bool inbound,
                           bool name_match, struct policy_identity *out, char *detail,
                           size_t dsz);

#endif
