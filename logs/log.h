/*
 * log.h - operational log, session ids and checked allocation.
 *
 * The bottom layer: every other folder may include this, it includes
 * nothing of ours.  One event per line on stderr (journald-friendly):
 *
 *   domsecd[PID]: LEVEL SUBSYS SESSIONID event key=value ...
 *
 * Writes are one write(2) per line, so lines from several threads never
 * interleave.  A line is truncated at LOG_LINE_MAX bytes.
 */
#ifndef DOMSEC_LOG_H
#define DOMSEC_LOG_H

#include <stddef.h>
#include <stdint.h>

#define LOG_LINE_MAX 2048

enum log_level {
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
    LOG_FATAL,                          /* configuration or environment */
    LOG_PANIC                           /* a bug: abort */
};

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* log.c */
void log_init(const char *progname, enum log_level min_level);
void log_set_level(enum log_level min_level);
void log_msg(enum log_level lvl, const char *subsys, uint64_t sid,
             const char *fmt, ...) LOG_PRINTF(4, 5);
/* Like log_msg, appending ": strerror(errno)". */
void log_errno(enum log_level lvl, const char *subsys, uint64_t sid,
               const char *fmt, ...) LOG_PRINTF(4, 5);
/* Log at LOG_FATAL and exit(1). */
void log_fatal(const char *subsys, const char *fmt, ...)
    LOG_PRINTF(2, 3) __attribute__((noreturn));
/* Log at LOG_PANIC and abort(). */
void log_panic(const char *subsys, const char *fmt, ...)
    LOG_PRINTF(2, 3) __attribute__((noreturn));

#define log_info(sub, sid, ...)  log_msg(LOG_INFO, (sub), (sid), __VA_ARGS__)
#define log_warnx(sub, sid, ...) log_msg(LOG_WARN, (sub), (sid), __VA_ARGS__)
#define log_warn(sub, sid, ...)  log_errno(LOG_WARN, (sub), (sid), __VA_ARGS__)
#define log_errx(sub, sid, ...)  log_msg(LOG_ERROR, (sub), (sid), __VA_ARGS__)
#define log_err(sub, sid, ...)   log_errno(LOG_ERROR, (sub), (sid), __VA_ARGS__)
#define log_debug(sub, sid, ...) log_msg(LOG_DEBUG, (sub), (sid), __VA_ARGS__)

/*
 * Session ids: one 64-bit counter shared by receive and send sessions,
 * seeded at start from the clock in .NET ticks (as Exchange does), printed
 * as 16 uppercase hex digits.  Thread-safe.
 */
uint64_t log_session_id_next(void);
void log_session_id_format(uint64_t sid, char out[17]);

/* log_alloc.c: allocators that log and abort on exhaustion; never NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
