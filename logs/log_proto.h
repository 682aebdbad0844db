/*
 * log_proto.h - Exchange-format SMTP protocol logs (SPEC 5.1).
 *
 * Two writers, opened once at start-up: Receive (ProtocolLog/SmtpReceive/
 * RECVyyyymmdd-N.LOG) and Send (ProtocolLog/SmtpSend/SENDyyyymmdd-N.LOG)
 * under [logs] directory.  Each session embeds a struct log_proto_session;
 * every call below formats one or more rows on the caller's thread and
 * queues them (log_file.h): no disk I/O, never blocks an event loop.
 *
 *   date-time,connector-id,session-id,sequence-number,local-endpoint,
 *   remote-endpoint,event,data,context
 *
 * A session initialised with a NULL writer (protocol_logging_level = none)
 * costs one branch per call: nothing is formatted.
 */
#ifndef DOMSEC_LOG_PROTO_H
#define DOMSEC_LOG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "log_file.h"

struct sockaddr;

enum log_proto_dir {
    LOG_PROTO_RECEIVE,                  /* ProtocolLog/SmtpReceive, RECV */
    LOG_PROTO_SEND                      /* ProtocolLog/SmtpSend, SEND */
};

enum log_proto_event {                  /* the event column */
    LOG_PROTO_CONNECT,                  /* "+" */
    LOG_PROTO_DISCONNECT,               /* "-" */
    LOG_PROTO_SENT,                     /* ">" sent by us */
    LOG_PROTO_RECEIVED,                 /* "<" received from the peer */
    LOG_PROTO_INFO                      /* "*" */
};

enum log_proto_reason {                 /* context of "-", Exchange's DisconnectReason */
    LOG_PROTO_R_NONE,                   /* "None" */
    LOG_PROTO_R_QUIT,                   /* "QuitVerb" */
    LOG_PROTO_R_TIMEOUT,                /* "Timeout" */
    LOG_PROTO_R_SENDER_DISCONNECTED,    /* "SenderDisconnected" */
    LOG_PROTO_R_TOO_MANY_ERRORS,        /* "TooManyErrors" */
    LOG_PROTO_R_DROPPED,                /* "DroppedSession" */
    LOG_PROTO_R_REMOTE,                 /* "Remote" */
    LOG_PROTO_R_LOCAL,                  /* "Local" */
    LOG_PROTO_R_SUPPRESS                /* "SuppressLogging" */
};

struct log_proto_props {
    const char *directory;              /* [logs] directory; subdirectories are added */
    uint64_t max_file_size;             /* protocol_log_max_file_size */
    uint64_t max_directory_size;        /* protocol_log_max_directory_size */
    uint64_t max_age_ms;                /* protocol_log_max_age; 0 = none */
    const char *version;                /* #Version; NULL = DOMSEC_VERSION */
    unsigned flush_interval_ms;         /* 0 = 1000 */
    size_t   queue_limit;               /* 0 = 8 MiB */
    log_clock_fn *clock;                /* NULL = real clock; tests inject */
    void    *clock_arg;
};

#define LOG_PROTO_CONNECTOR_MAX 256     /* escaped connector id, NUL included */
#define LOG_PROTO_ENDPOINT_MAX  64      /* "[v6%zone]:port", NUL included */
#define LOG_PROTO_MSGREF_MAX    48      /* "SID;date-time;N", NUL included */

/*
 * One per SMTP session, embedded in the caller's session record.  Written
 * only through the functions below; the caller may read sid and seq.  A
 * session is used by one thread at a time (the loop that owns it).
 */
struct log_proto_session {
    /* Public, read-only. */
    struct log_proto *log;              /* not owned; NULL = logging off */
    uint64_t sid;                       /* session-id */
    uint32_t seq;                       /* next sequence-number */
    uint64_t start_ms;                  /* log_proto_session_init() time */
    /* Private. */
    char     sid_hex[17];
    char     connector[LOG_PROTO_CONNECTOR_MAX];
    char     local[LOG_PROTO_ENDPOINT_MAX];
    char     remote[LOG_PROTO_ENDPOINT_MAX];
};

/* log_proto.c: writers */
struct log_proto *log_proto_open(enum log_proto_dir dir, const struct log_proto_props *props);
void     log_proto_close(struct log_proto *lp);
void     log_proto_flush(struct log_proto *lp);
void     log_proto_stats(struct log_proto *lp, struct log_file_stats *st);
struct log_file *log_proto_file(struct log_proto *lp);

/* log_proto.c: ids and field helpers */
uint64_t log_proto_session_id(void);
void     log_proto_connector_id(char *out, size_t size, const char *host, const char *connector);
const char *log_proto_reason_name(enum log_proto_reason why);

/* log_proto.c: sessions */
void     log_proto_session_init(struct log_proto_session *s, struct log_proto *lp,
                                const char *connector_id, uint64_t sid);
void     log_proto_session_set_local(struct log_proto_session *s, const char *endpoint);
void     log_proto_session_set_remote(struct log_proto_session *s, const char *endpoint);

static inline bool log_proto_enabled(const struct log_proto_session *s)
{
    return s->log != NULL;
}

/* log_proto.c: rows */
void     log_proto_event(struct log_proto_session *s, enum log_proto_event ev,
                         const void *data, size_t len, const char *context);
void     log_proto_connect(struct log_proto_session *s);
void     log_proto_disconnect(struct log_proto_session *s, enum log_proto_reason why,
                              const char *remote_error);
void     log_proto_sent(struct log_proto_session *s, const void *data, size_t len);
void     log_proto_received(struct log_proto_session *s, const void *data, size_t len);
void     log_proto_info(struct log_proto_session *s, const char *data, const char *context);
void     log_proto_infof(struct log_proto_session *s, const char *data, const char *fmt, ...)
    LOG_PRINTF(3, 4);
size_t   log_proto_msgref(const struct log_proto_session *s, unsigned index,
                          char out[LOG_PROTO_MSGREF_MAX]);
void     log_proto_receiving_message(struct log_proto_session *s, unsigned index,
                                     char ref_out[LOG_PROTO_MSGREF_MAX]);
void     log_proto_sending_message(struct log_proto_session *s, const char *record_id,
                                   const char *message_id);

#endif
