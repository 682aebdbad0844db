/*
 * log.c - operational log lines and the shared session-id counter.
 *
 * CONTRACT
 *  log_init() is called once by main before any thread starts.  After
 *  that every function here is thread-safe.  A line is formatted into a
 *  stack buffer and written with one write(2) to fd 2, so concurrent lines
 *  never interleave; a short or failed write is ignored (there is nowhere
 *  else to report it).  Control characters in the formatted text are
 *  replaced by '?' so one event is always one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "domsec";
static long log_pid;                    /* set by log_init: no fork follows it */
static _Atomic int log_min_level = LOG_INFO;
static _Atomic uint64_t log_sid_counter;

static const char *const log_level_names[] = {
    [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warning",
    [LOG_ERROR] = "error", [LOG_FATAL] = "fatal", [LOG_PANIC] = "panic",
};

/* log_init - set program name and threshold, seed the session-id counter */

void log_init(const char *progname, enum log_level min_level)
{
    struct timespec ts;

    log_progname = progname;
    log_min_level = min_level;
    log_pid = (long)getpid();           /* once: a getpid() per line showed in strace */
    /* .NET ticks: 100 ns units since 0001-01-01, as Exchange's SessionId. */
    clock_gettime(CLOCK_REALTIME, &ts);
    log_sid_counter = (uint64_t)ts.tv_sec * 10000000ULL + (uint64_t)ts.tv_nsec / 100
        + 621355968000000000ULL;
}

/* log_set_level - change the threshold */

void log_set_level(enum log_level min_level)
{
    log_min_level = min_level;
}

/* log_session_id_next - allocate the next session id */

uint64_t log_session_id_next(void)
{
    return atomic_fetch_add(&log_sid_counter, 1) + 1;
}

/* log_session_id_format - 16 uppercase hex digits */

void log_session_id_format(uint64_t sid, char out[17])
{
    snprintf(out, 17, "%016llX", (unsigned long long)sid);
}

/* log_vline - format and emit one line */

static void log_vline(enum log_level lvl, const char *subsys, uint64_t sid,
                      int errnum, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX + 2];
    size_t len, start;
    int n;

    if ((int)lvl < log_min_level)
        return;
    n = snprintf(buf, LOG_LINE_MAX, "%s[%ld]: %s %s ", log_progname,
                 log_pid ? log_pid : (long)getpid(), log_level_names[lvl], subsys);
    if (n < 0)
        return;
    len = (size_t)n < LOG_LINE_MAX ? (size_t)n : LOG_LINE_MAX - 1;
    if (sid != 0 && len < LOG_LINE_MAX - 18) {
        log_session_id_format(sid, buf + len);
        len += 16;
        buf[len++] = ' ';
    }
    start = len;
    n = vsnprintf(buf + len, LOG_LINE_MAX - len, fmt, ap);
    if (n > 0)
        len += (size_t)n < LOG_LINE_MAX - len ? (size_t)n : LOG_LINE_MAX - len - 1;
    if (errnum != 0) {
        n = snprintf(buf + len, LOG_LINE_MAX - len, ": %s", strerror(errnum));
        if (n > 0)
            len += (size_t)n < LOG_LINE_MAX - len ? (size_t)n : LOG_LINE_MAX - len - 1;
    }
    for (size_t i = start; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    buf[len++] = '\n';
    if (write(STDERR_FILENO, buf, len) < 0) {
        /* nothing sensible to do */
    }
}

/* log_msg - log one event */

void log_msg(enum log_level lvl, const char *subsys, uint64_t sid, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vline(lvl, subsys, sid, 0, fmt, ap);
    va_end(ap);
}

/* log_errno - log one event with strerror(errno) appended */

void log_errno(enum log_level lvl, const char *subsys, uint64_t sid, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vline(lvl, subsys, sid, saved, fmt, ap);
    va_end(ap);
    errno = saved;
}

/* log_fatal - configuration or environment error: log and exit(1) */

void log_fatal(const char *subsys, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vline(LOG_FATAL, subsys, 0, 0, fmt, ap);
    va_end(ap);
    exit(1);
}

/* log_panic - a bug: log and abort() for a core */

void log_panic(const char *subsys, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vline(LOG_PANIC, subsys, 0, 0, fmt, ap);
    va_end(ap);
    abort();
}
