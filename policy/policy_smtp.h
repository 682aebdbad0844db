/*
 * policy_smtp.h - pure SMTP decisions: facts in, verdict out.
 *
 * A verdict is NULL (accept) or a static reply; nothing here does I/O or
 * keeps state, so every rule is unit-tested as a table.
 */
#ifndef DOMSEC_POLICY_SMTP_H
#define DOMSEC_POLICY_SMTP_H

#include "policy_config.h"

struct policy_reply {
    int     code;                       /* 250, 452, 550, ... */
    const char *text;                   /* "5.7.1 Unable to relay" (static) */
};

/* policy_smtp.c */
/* RCPT: may connector rc accept mail for `domain` (lower-case, or "[literal]")? */
const struct policy_reply *policy_rcpt_check(const struct config *cfg,
                                             const struct cfg_receive *rc,
                                             const char *domain);

#endif
