/*
 * policy_smtp.c - pure SMTP decisions.
 *
 * CONTRACT
 *  Functions take read-only facts and return NULL (accept) or a pointer to
 *  a static reply.  No allocation, no I/O, no global state; thread-safe.
 */
#include <stddef.h>
#include <string.h>

#include "policy_smtp.h"

static const struct policy_reply policy_unable_to_relay = { 550, "5.7.1 Unable to relay" };

/* policy_addr_routed - does the local part of addr carry sender-specified routing? */

bool policy_addr_routed(const char *addr)
{
    const char *at = strrchr(addr, '@');

    /* '%' (percent hack), '!' (bang path), '@' (only quoted: "user@host"),
     * looked for quoted or not, as Postfix's resolver does. */
    return at != NULL && strcspn(addr, "%!@") < (size_t)(at - addr);
}

/* policy_rcpt_check - the open-relay rule (SPEC 3) */

const struct policy_reply *policy_rcpt_check(const struct config *cfg,
                                             const struct cfg_receive *rc,
                                             const char *addr, const char *domain,
                                             const char **rule)
{
    *rule = NULL;
    if (rc->permission == CFG_PERM_INTERNAL)
        return NULL;                    /* internal connectors may relay */
    if (policy_addr_routed(addr)) {
        *rule = "routing";              /* a downstream MTA might relay it on */
        return &policy_unable_to_relay;
    }
    if (domain[0] != '[' && policy_domain_in_list(&cfg->transport.accepted_domains, domain))
        return NULL;
    *rule = "relay";
    return &policy_unable_to_relay;
}
