/*
 * policy_smtp.h - pure SMTP decisions: facts in, verdict out.
 *
 * A verdict is NULL (accept) or a static reply; nothing here does I/O or
 * keeps state, so every rule is unit-tested as a table.
 */
#ifndef DOMSEC_POLICY_SMTP_H
#define DOMSEC_POLICY_SMTP_H

#include <stdbool.h>

#include "policy_config.h"

struct policy_reply {
    int     code;                       /* 250, 452, 550, ... */
    const char *text;                   /* "5.7.1 Unable to relay" (static) */
};

/* policy_smtp.c */
/*
 * True when the local part of addr (a path without <>, the domain after
 * its last '@') holds a routing operator: '%', '!' or '@', quoted or not
 * (user%evil.org@d, evil.org!user@d, "user@evil.org"@d).
 */
bool    policy_addr_routed(const char *addr);
/*
 * RCPT: may connector rc accept mail for addr, whose domain (lower-case, or
 * "[literal]") is `domain`?  NULL, or the refusal with *rule = "relay" (not
 * an accepted domain) or "routing" (sender-specified routing in the local
 * part: refused on internet connectors, as Postfix allow_untrusted_routing =
 * no, whatever the domain).  Internal connectors accept everything.
 */
const struct policy_reply *policy_rcpt_check(const struct config *cfg,
                                             const struct cfg_receive *rc,
                                             const char *addr, const char *domain,
                                             const char **rule);

#endif
