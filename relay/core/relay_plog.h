/*
 * relay_plog.h - the relay's side of the protocol logs and the message
 * tracking log (SPEC 5.1, 5.2; docs/LOGS.md "The rows domsec writes"):
 * the three writers opened from [logs], and the row groups the SMTP server
 * and client share (certificate blocks, the TLS success row with its
 * Schannel/CALG names, chain and revocation status, domain-security
 * verdicts).  Internal to relay/.
 *
 * Every row helper returns at once, formatting nothing, when the session's
 * logging is off (protocol_logging_level = none: log_proto_enabled()).
 */
#ifndef DOMSEC_RELAY_PLOG_H
#define DOMSEC_RELAY_PLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log_proto.h"
#include "log_track.h"
#include "policy_config.h"

struct tls_facts;
struct tls_cert_info;

/* relay_plog.c: writers (main thread, start and stop) */
/* Open the three logs under cfg->logs.directory (as root: directories are
 * handed to uid:gid).  0, or -1 (logged). */
int     relay_plog_open(const struct config *cfg, uid_t uid, gid_t gid);
/* SIGHUP: [logs] changes need a restart (warned).  Our certificates for
 * the "Sending certificate" blocks come from relay_tls (its install). */
void    relay_plog_reload(const struct config *old, const struct config *cfg);
/* Write everything queued, sync, close (after the workers and the queue
 * manager have stopped). */
void    relay_plog_close(void);

/* relay_plog.c: writers (any thread; NULL when not open) */
struct log_proto *relay_plog_recv(void);
struct log_proto *relay_plog_send(void);
struct log_track *relay_plog_track(void);
/* This host's name for "HOST\Connector" and tracking's hostname fields. */
const char *relay_plog_hostname(void);

/* relay_plog.c: rows (the session's loop thread) */
/* A certificate block: header row, then subject, issuer, serial,
 * thumbprint, alternate names, not before, not after. */
void    relay_plog_cert(struct log_proto_session *pl, const char *header,
                        const struct tls_cert_info *ci);
/* The same from DER (parsed only when logging). */
void    relay_plog_cert_der(struct log_proto_session *pl, const char *header,
                            const unsigned char *der, size_t len);
/* "Sending certificate" for our certificate on cfg's connector number index
 * (receive: cfg->receive[index], server side; else cfg->send[index], client
 * side), if relay_tls_install() selected one for it. */
void    relay_plog_own_cert(struct log_proto_session *pl, const struct config *cfg, bool receive,
                            size_t index);
/* "TLS protocol SP_PROT_..._SERVER|CLIENT negotiation succeeded using ..." */
void    relay_plog_tls(struct log_proto_session *pl, const struct tls_facts *f, bool server);
size_t  relay_plog_tls_text(char *out, size_t size, const struct tls_facts *f, bool server);
/* "TLS negotiation failed with error <reason>" */
void    relay_plog_tls_failed(struct log_proto_session *pl, const char *reason);
/* "<status>" | "Chain validation status", "<why>" | "Chain validation
 * reason" when Untrusted, then "<verdict>[: reason]" | "Revocation status"
 * when revocation was checked. */
void    relay_plog_chain(struct log_proto_session *pl, const struct tls_facts *f,
                         bool accepted);
/* The chain status name (Valid, Untrusted, ..., Revoked, RevocationUnknown). */
const char *relay_plog_chain_name(const struct tls_facts *f);

/* The receive session's log state: struct relay_session's `plog`. */
struct relay_session_plog {
    struct log_proto_session pl;        /* the protocol log session */
    unsigned msg_index;                 /* messages received so far (receiving message N) */
    char    msgid[256];                 /* Message-ID of the current message, or "" */
    unsigned mid_len;                   /* bytes of "Message-ID:" matched at the start of
                                         * this header line; 99: not it; 100: found */
    bool    mid_in;                     /* collecting the Message-ID value */
    unsigned mid_n;
};

/* relay_plog.c: a tracking row from the queue side (client = us). */
struct relay_plog_out {
    enum log_track_event event;
    enum log_track_source source;
    const char *internal_id;            /* queue id */
    const char *data;                   /* message bytes (for the Message-ID), or NULL */
    size_t  data_len;
    const char *server_ip, *server_hostname;   /* next hop, or NULL */
    const char *source_context;
    const char *connector_id;
    const char *const *recipients;
    const char *const *status;
    size_t  nrecipients;
    uint64_t total_bytes;
    const char *reference;
    const char *sender;
    const char *secured;                /* partner domain when domain-secured, or NULL */
};
void    relay_plog_track_out(const struct relay_plog_out *o);

/* relay_plog.c: helpers */
/* Feed header-section text; collects the Message-ID into sp->msgid. */
void    relay_plog_scan_msgid(struct relay_session_plog *sp, const char *p, size_t n);
/* The Message-ID header (with its <>) from a message's header section,
 * "" if none.  Reads only the header section of data. */
void    relay_plog_message_id(const char *data, size_t len, char *out, size_t size);
/* "ip" (no port, no brackets) of an "ip:port" / "[ip]:port" endpoint. */
void    relay_plog_ip(const char *endpoint, char *out, size_t size);

#endif
