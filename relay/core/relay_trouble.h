/*
 * relay_trouble.h - what a delivery failure means (relay_trouble.c): next
 * host, defer or bounce, the retry schedule, and the texts.  Pure
 * functions, used by the SMTP client (smtp/) and the queue manager (qmgr/).
 */
#ifndef DOMSEC_RELAY_TROUBLE_H
#define DOMSEC_RELAY_TROUBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy_config.h"

/* relay_trouble.c: the decisions (pure). */
enum relay_outcome { RELAY_O_DELIVERED, RELAY_O_DEFER, RELAY_O_FAIL };
enum relay_host_action { RELAY_H_CONTINUE, RELAY_H_NEXT_HOST, RELAY_H_FAIL_ALL };
/* Reply code to a RCPT or to the final dot: what happens to the recipient. */
enum relay_outcome relay_trouble_rcpt(int code);
/* Reply to the banner, EHLO/HELO or MAIL: go on, try the next host, or fail. */
enum relay_host_action relay_trouble_session(int code);
/* Exchange's queue error after every host failed (owned string). */
char   *relay_trouble_failover(const char *last, bool connection_error, const char *endpoint);
/* When to try a deferred message again (ms from now). */
uint64_t relay_trouble_retry_after(const struct cfg_transport *t, unsigned rounds,
                                   bool connection_failure);
/* Enhanced status code for a DSN from a reply ("5.1.1" or derived from the code). */
void    relay_trouble_status(const char *reply, char out[16]);

#endif
