/*
 * log_track.h - the message tracking log (SPEC 5.2): one row per message
 * event in MessageTracking/MSGTRKyyyymmdd-N.LOG under [logs] directory, in
 * the same file format as the protocol logs (log_file.h) with a subset of
 * Exchange's message tracking fields, in Exchange's order:
 *
 *   date-time,client-ip,client-hostname,server-ip,server-hostname,
 *   source-context,connector-id,source,event-id,internal-message-id,
 *   message-id,recipient-address,recipient-status,total-bytes,
 *   recipient-count,reference,sender-address,message-info,directionality
 *
 * message-info carries the security info: "02P:<domain>" for a
 * domain-secured partner message, empty otherwise.  See docs/LOGS.md.
 */
#ifndef DOMSEC_LOG_TRACK_H
#define DOMSEC_LOG_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "log_file.h"

enum log_track_event {                  /* event-id */
    LOG_TRACK_RECEIVE,                  /* accepted and queued (after the 250 to DATA) */
    LOG_TRACK_SEND,                     /* accepted by the next hop */
    LOG_TRACK_DEFER,                    /* transient failure, will retry */
    LOG_TRACK_FAIL,                     /* permanent failure of these recipients */
    LOG_TRACK_DSN,                      /* a DSN was generated (reference = original) */
    LOG_TRACK_EXPIRE,                   /* message_expiration_timeout reached */
    LOG_TRACK_SUSPEND,                  /* held by an administrator (domsec's own id) */
    LOG_TRACK_RESUME,                   /* released by an administrator (domsec's own id) */
    LOG_TRACK_DELETE,                   /* deleted by an administrator, no DSN (domsec's) */
    LOG_TRACK_BADMAIL,                  /* queue file removed or corrupted by hand */
    LOG_TRACK_CONFIG                    /* the domain-secure lists in force from now: at
                                         * start and every reload (domsec's own id) */
};

enum log_track_source {                 /* source */
    LOG_TRACK_SRC_SMTP,                 /* "SMTP" */
    LOG_TRACK_SRC_QUEUE,                /* "QUEUE" */
    LOG_TRACK_SRC_ROUTING,              /* "ROUTING" */
    LOG_TRACK_SRC_DSN,                  /* "DSN" */
    LOG_TRACK_SRC_ADMIN                 /* "ADMIN": queue administration */
};

enum log_track_direction {              /* directionality */
    LOG_TRACK_DIR_NONE,                 /* empty */
    LOG_TRACK_DIR_INCOMING,             /* "Incoming": from outside the organization */
    LOG_TRACK_DIR_ORIGINATING           /* "Originating": from inside */
};

/*
 * One event.  Every pointer may be NULL (an empty field) and is only read
 * during log_track_write().  Exchange's convention for the endpoints:
 * RECEIVE: client = the SMTP client that sent it to us, server = us;
 * SEND/DEFER/FAIL: client = us, server = the next hop (empty if none).
 */
struct log_track_entry {
    enum log_track_event event;
    enum log_track_source source;
    const char *client_ip;
    const char *client_hostname;
    const char *server_ip;
    const char *server_hostname;
    const char *source_context;         /* RECEIVE: the protocol log message reference */
    const char *connector_id;
    const char *internal_id;            /* the queue id */
    const char *message_id;             /* Message-ID header, with its <> */
    const char *const *recipients;      /* nrecipients addresses */
    const char *const *recipient_status;/* NULL, or nrecipients status texts */
    size_t   nrecipients;
    uint64_t total_bytes;
    const char *reference;              /* DSN: the original message's Message-ID */
    const char *sender;                 /* envelope sender, "" for <> */
    const char *security_info;          /* "02P:domain" or NULL */
    enum log_track_direction direction;
};

struct log_track_props {
    const char *directory;              /* [logs] directory; MessageTracking is added */
    uint64_t max_file_size;             /* bytes; 0 = unlimited */
    uint64_t max_directory_size;        /* bytes; 0 = unlimited */
    uint64_t max_age_ms;                /* 0 = none */
    const char *version;                /* #Version; NULL = DOMSEC_VERSION */
    unsigned flush_interval_ms;         /* 0 = 1000 */
    size_t   queue_limit;               /* 0 = 8 MiB */
    log_clock_fn *clock;                /* NULL = real clock */
    void    *clock_arg;
};

#define LOG_TRACK_MECH_MUTUAL_TLS 0x02  /* Exchange MultilevelAuthMechanism.MutualTLS */

struct log_track;                       /* opaque */

/* log_track.c */
struct log_track *log_track_open(const struct log_track_props *props);
void     log_track_close(struct log_track *lt);
void     log_track_flush(struct log_track *lt);
void     log_track_stats(struct log_track *lt, struct log_file_stats *st);
void     log_track_write(struct log_track *lt, const struct log_track_entry *e);
void     log_track_set_carry(struct log_track *lt, const struct log_track_entry *e);
size_t   log_track_security_info(char *out, size_t size, unsigned mechanism,
                                 char category, const char *domain);

#endif
