/*
 * relay_trouble.c - the one place that decides: next host, defer, or bounce.
 *
 * Like Postfix's smtp_trouble.c, every delivery failure is classified
 * here and nowhere else: the SMTP client reports what a peer said (or
 * that it could not be reached), and these functions say what that means
 * for the recipient, the connection and the retry schedule, and write the
 * Exchange-style queue error.
 *
 * CONTRACT
 *  Pure functions: no I/O, no globals.  Strings returned are owned by the
 *  caller.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_trouble.h"

#define RELAY_FAILOVER_TAIL " Attempted failover to alternate host, but that did not succeed. " \
    "Either there are no alternate hosts, or delivery failed to all alternate hosts. "      \
    "The last endpoint attempted was "

/* relay_trouble_rcpt - a reply to RCPT or to the final dot */

enum relay_outcome relay_trouble_rcpt(int code)
{
    if (code >= 200 && code < 300)
        return RELAY_O_DELIVERED;
    if (code >= 500 && code < 600)
        return RELAY_O_FAIL;
    return RELAY_O_DEFER;               /* 4xx, and anything malformed */
}

/* relay_trouble_session - a reply to the banner, EHLO/HELO or MAIL */

enum relay_host_action relay_trouble_session(int code)
{
    if (code >= 200 && code < 400)
        return RELAY_H_CONTINUE;
    if (code >= 500 && code < 600)
        return RELAY_H_FAIL_ALL;
    return RELAY_H_NEXT_HOST;           /* 4xx, garbage, no answer */
}

/* relay_trouble_failover - Exchange's text once every host has failed */

char *relay_trouble_failover(const char *last, bool connection_error, const char *endpoint)
{
    char *text = log_oneline(last), *r;
    size_t n = strlen(text);

    if (connection_error) {
        r = xasprintf("441 4.4.1 Error encountered while communicating with primary target IP "
                      "address: \"%s\"" RELAY_FAILOVER_TAIL "%s", text, endpoint);
    } else {
        /* Exchange quotes the reply and ends it with a period. */
        while (n > 0 && (text[n - 1] == '.' || text[n - 1] == ' '))
            text[--n] = '\0';
        r = xasprintf("451 4.4.0 Primary target IP address responded with: \"%s.\""
                      RELAY_FAILOVER_TAIL "%s", text, endpoint);
    }
    free(text);
    return r;
}

/* relay_trouble_retry_after - the retry schedule */

uint64_t relay_trouble_retry_after(const struct cfg_transport *t, unsigned rounds,
                                   bool connection_failure)
{
    if (rounds < t->transient_failure_retry_count)
        return t->transient_failure_retry_interval;
    return connection_failure ? t->outbound_connection_failure_retry_interval
                              : t->message_retry_interval;
}

/* relay_trouble_status - "X.Y.Z" from a reply, or derived from its code */

void relay_trouble_status(const char *reply, char out[16])
{
    const char *p = reply;
    int a, b, c, n = 0;

    while (*p && isdigit((unsigned char)*p))
        p++;
    while (*p == ' ' || *p == '-')
        p++;
    if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 && (a == 2 || a == 4 || a == 5)
        && (p[n] == '\0' || p[n] == ' ')) {
        snprintf(out, 16, "%d.%d.%d", a, b, c);
        return;
    }
    snprintf(out, 16, "%c.0.0", reply[0] == '2' || reply[0] == '4' ? reply[0] : '5');
}
