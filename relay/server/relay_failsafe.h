/*
 * relay_failsafe.h - a configuration that asks for domain security gets it,
 * or does not run: the checks of --check-config, start and reload that read
 * the TLS files as the service user does.
 */
#ifndef DOMSEC_RELAY_FAILSAFE_H
#define DOMSEC_RELAY_FAILSAFE_H

#include "policy_config.h"

struct relay_tls_set;

/* relay_failsafe.c */
/*
 * Check what cfg needs to enforce domain security and build its TLS
 * material (relay_tls_build), reading every file as the daemon will: as
 * [service] user when called as root (effective ids, restored before the
 * return), else as the caller.  Errors ("FILE:LINE: message") are appended
 * to errs and the result is NULL; warnings (same form) are appended to
 * warns.  Otherwise the set, for relay_tls_install() or
 * relay_tls_set_free().
 */
struct relay_tls_set *relay_failsafe_load(const struct config *cfg, struct cfg_errors *errs,
                                          struct cfg_errors *warns);

#endif
