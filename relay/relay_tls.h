/*
 * relay_tls.h - the TLS material of a configuration: for each receive
 * connector with auth_mechanism = tls, the server context built from the
 * certificate the store selects for its fqdn (SPEC 6.2).
 */
#ifndef DOMSEC_RELAY_TLS_H
#define DOMSEC_RELAY_TLS_H

#include "policy_config.h"

struct tls_ctx;

/* relay_tls.c */
/*
 * Build the material for cfg and keep it beside the previous generation
 * (sessions started under the old configuration still find theirs).  A
 * connector without a usable certificate is logged as an error and gets no
 * STARTTLS; that is not fatal.  Call before policy_config_swap(cfg).
 */
void    relay_tls_install(const struct config *cfg);
/* The server context for connector rc of cfg, referenced, or NULL (no STARTTLS). */
struct tls_ctx *relay_tls_server_ctx(const struct config *cfg, const struct cfg_receive *rc);
/* Release every generation (at exit). */
void    relay_tls_shutdown(void);

#endif
