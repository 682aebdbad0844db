/*
 * relay_dsn.h - delivery status notifications (RFC 3464 in an RFC 6522
 * multipart/report): the failure and delay reports sent to a sender.
 *
 * Pure: no I/O, no globals, thread-safe.  The caller queues the result
 * with MAIL FROM:<> (docs/DELIVERY.md "DSNs").
 */
#ifndef DOMSEC_RELAY_DSN_H
#define DOMSEC_RELAY_DSN_H

#include <stddef.h>
#include <stdint.h>

enum relay_dsn_kind { RELAY_DSN_FAILURE, RELAY_DSN_DELAY };

/* Plain data; every pointer is borrowed for the duration of the call. */
struct relay_dsn_rcpt {
    const char *addr;                   /* original recipient, without <> */
    const char *status;                 /* "5.1.10", "4.4.7" ...; NULL, malformed or
                                         * 5.x.x in a delay DSN: 5.0.0 or 4.0.0 */
    const char *diagnostic;             /* reply text "550 5.1.1 User unknown" or ours; or NULL */
    const char *remote_mta;             /* host name or NULL */
    uint64_t last_attempt_ms;           /* unix ms; 0 = none */
};

struct relay_dsn_input {
    enum relay_dsn_kind kind;
    const char *reporting_mta;          /* our fqdn */
    const char *queue_id;               /* the original message's queue id */
    const char *original_sender;        /* the DSN's To:, without <> */
    const char *postmaster;             /* the DSN's From:, e.g. "postmaster@contoso.com" */
    uint64_t arrival_ms;                /* unix ms; 0 = no Arrival-Date */
    uint64_t now_ms;                    /* unix ms: Date:, Message-ID, boundary */
    const char *message;                /* original message, CRLF; may be NULL if len 0 */
    size_t  message_len;
    const struct relay_dsn_rcpt *rcpts; /* at least one */
    size_t  nrcpts;
};

/* relay_dsn.c */
/*
 * Build the DSN message (headers and body, CRLF line ends, no line over
 * 998 octets, ready to queue) and set *len.  The result is NUL-terminated
 * and owned by the caller (free()).  Never fails; a NULL required string
 * or no recipient is a bug (log_panic).
 *
 * The MIME boundary is "=_dsn_" QUEUEID "_" NOW, suffixed "_1", "_2" ...
 * until it occurs nowhere in the body parts.
 */
char   *relay_dsn_build(const struct relay_dsn_input *in, size_t *len);

#endif
