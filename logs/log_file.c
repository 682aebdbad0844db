/*
 * log_file.c - the rotating CSV log engine: an in-memory queue filled by any
 * thread, emptied by one writer thread per log directory.
 *
 * CONTRACT
 *  log_file_open() runs at start-up (it creates the directory and may block
 *  on the disk); it returns NULL with errno set and an error logged when the
 *  directory cannot be created or opened, or when a symbolic link on its
 *  path would be followed through a directory someone else can write
 *  (log_path.h: domsecd opens its logs as root).  It starts the writer
 *  thread.
 *
 *  log_file_append() may be called from any thread, concurrently.  It copies
 *  the row (the caller keeps ownership of its buffer) into the current
 *  in-memory buffer under a mutex held only for the copy.  It never does
 *  disk I/O and never waits for the writer: when the queue already holds
 *  queue_limit bytes (the disk is stuck or too slow) the row is dropped and
 *  counted, a warning is logged once per episode by the caller's thread and
 *  the writer logs the count when it makes progress again.  The row must end
 *  in CRLF and contain no other LF (the formatters escape CR and LF), because
 *  the writer rotates between rows by looking for LF.  ts_ms is the row's
 *  timestamp: rows of a later UTC day start a new buffer, so files hold one
 *  UTC day each (a row that loses the race at midnight by a few
 *  milliseconds may land at the top of the next day's file, never the other
 *  way round).
 *
 *  The writer thread wakes when a buffer fills, on log_file_flush() and
 *  every flush interval; then it writes every sealed buffer with write(2),
 *  rotating before a row that would take the file past max_file_size (a
 *  file exceeds it only when a single row does) and when the UTC day
 *  changes, and fdatasync()s the file once per interval in which it wrote.
 *  The first write of a day continues the newest file of that day if it is
 *  below max_file_size (no second header), otherwise it creates the next
 *  instance with a BOM and header.  Retention (directory size newest-first,
 *  then age by mtime; the file being written is never deleted; files whose
 *  names are not PREFIXyyyymmdd-N.LOG are never touched) runs when the
 *  thread starts, after each new file and hourly.  A write error loses (and
 *  counts) the rest of that buffer; the file is reopened for the next one.
 *
 *  log_file_flush() blocks until everything appended before it is written
 *  and synced: never call it on an event loop.  log_file_close() flushes,
 *  stops the thread and frees; nobody may append during or after it.
 *
 *  The directory side (creating it, listing the files, choosing the one to
 *  append to, retention) is in log_dir.c; struct log_file is in log_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_int.h"
#include "log_path.h"

#define LOG_BUF_SIZE    (64 * 1024)
#define LOG_FREE_KEEP   4
#define LOG_DAY_MS      86400000ULL
#define LOG_HOUR_MS     3600000ULL

struct log_buf {
    struct log_buf *next;
    uint64_t day;                       /* UTC day number of its rows */
    uint64_t nrows;
    size_t  len, cap;
    char    data[];
};

/* log_real_clock - CLOCK_REALTIME in milliseconds */

static uint64_t log_real_clock(void *arg)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* log_file_now - the log's clock */

uint64_t log_file_now(const struct log_file *lf)
{
    return lf->clock(lf->clock_arg);
}

/* log_file_directory - the directory written */

const char *log_file_directory(const struct log_file *lf)
{
    return lf->dir;
}

/* log_csv_time - yyyy-MM-ddTHH:mm:ss.fffZ, the seconds cached per thread */

size_t log_csv_time(uint64_t ms, char out[LOG_TIME_LEN + 1])
{
    static __thread uint64_t cached_sec = UINT64_MAX;
    static __thread char cached[20];
    uint64_t sec = ms / 1000;
    unsigned frac = (unsigned)(ms % 1000);

    if (sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    memcpy(out, cached, 19);
    out[19] = '.';
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
    out[23] = 'Z';
    out[24] = '\0';
    return LOG_TIME_LEN;
}

/* log_csv_field - one CSV field, Exchange's Utf8Csv.Escape with line breaks escaped */

size_t log_csv_field(char *out, const void *data, size_t len)
{
    const unsigned char *s = data;
    bool quote = false, plain = true;
    char *p = out;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];

        if (c == ',' || c == '"')
            quote = true, plain = false;
        else if (c == '\r' || c == '\n')
            plain = false;
    }
    if (plain) {
        if (len)
            memcpy(out, s, len);
        return len;
    }
    if (quote)
        *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '"':  *p++ = '"'; *p++ = '"'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        default:   *p++ = (char)s[i];
        }
    }
    if (quote)
        *p++ = '"';
    return (size_t)(p - out);
}

/* log_csv_member - one member of a ';'-list, Exchange's EscapeAndAppendCollectionMember */

size_t log_csv_member(char *out, const void *data, size_t len)
{
    const unsigned char *s = data;
    bool quote = false;
    char *p = out;

    for (size_t i = 0; i < len; i++)
        if (s[i] == ';' || s[i] == '\'')
            quote = true;
    if (quote)
        *p++ = '\'';
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\'': *p++ = '\''; *p++ = '\''; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        default:   *p++ = (char)s[i];
        }
    }
    if (quote)
        *p++ = '\'';
    return (size_t)(p - out);
}

/* log__file_write_all - write(2) until done; -1 on error */

int log__file_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* log__file_close_fd - sync and close the current file */

void log__file_close_fd(struct log_file *lf)
{
    if (lf->fd < 0)
        return;
    if (lf->unsynced)
        fdatasync(lf->fd);
    close(lf->fd);
    lf->fd = -1;
    lf->unsynced = false;
}

/* log__file_header - write BOM and header lines to a new file */

int log__file_header(struct log_file *lf)
{
    char date[LOG_TIME_LEN + 1];
    char *h;
    int rc;

    log_csv_time(log_file_now(lf), date);
    h = xasprintf("%s%s%s", lf->head_a, date, lf->head_b);
    rc = log__file_write_all(lf->fd, h, lf->head_len);
    free(h);
    return rc;
}

/* log__file_carry - writer: the carried row at the top of a file that
 * rotation made, stamped with now (log_file_set_carry) */

int log__file_carry(struct log_file *lf)
{
    char   *row = NULL;
    size_t  len = 0;
    int     rc = 0;

    pthread_mutex_lock(&lf->lock);
    if (lf->carry != NULL) {
        row = xmalloc(lf->carry_len);
        memcpy(row, lf->carry, lf->carry_len);
        len = lf->carry_len;
    }
    pthread_mutex_unlock(&lf->lock);
    if (row == NULL)
        return 0;
    log_csv_time(log_file_now(lf), row);        /* its time is the file's, not the original's */
    row[LOG_TIME_LEN] = ',';
    if ((rc = log__file_write_all(lf->fd, row, len)) == 0) {
        lf->fsize += len;
        lf->frows = true;
    }
    free(row);
    return rc;
}

/* log_file_set_carry - any thread: from now on, each file that rotation
 * opens starts with this row (a whole row, CRLF-ended, that begins with a
 * LOG_TIME_LEN timestamp and a comma: the writer restamps it); NULL stops */

void log_file_set_carry(struct log_file *lf, const char *row, size_t len)
{
    char   *copy = NULL;

    if (row != NULL && len > LOG_TIME_LEN && row[LOG_TIME_LEN] == ',') {
        copy = xmalloc(len);
        memcpy(copy, row, len);
    }
    pthread_mutex_lock(&lf->lock);
    free(lf->carry);
    lf->carry = copy;
    lf->carry_len = copy != NULL ? len : 0;
    pthread_mutex_unlock(&lf->lock);
}

/* log_file_count_rows - rows (LFs) in a byte range */

static uint64_t log_file_count_rows(const char *p, size_t n)
{
    uint64_t rows = 0;
    const char *e = p + n, *q;

    while (p < e && (q = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        rows++;
        p = q + 1;
    }
    return rows;
}

/* log_file_write_buf - write one sealed buffer, rotating between rows */

static void log_file_write_buf(struct log_file *lf, struct log_buf *b,
                               struct log_file_stats *ws)
{
    const char *p = b->data;
    size_t n = b->len;

    while (n > 0) {
        size_t take = n;

        if (lf->fd < 0 || lf->fday != b->day) {
            if (log__dir_open_day(lf, b->day, false) < 0)
                goto fail;
        }
        if (lf->max_file && lf->fsize + n > lf->max_file) {
            uint64_t room = lf->fsize < lf->max_file ? lf->max_file - lf->fsize : 0;
            const char *q = p, *e = p + n, *nl;

            take = 0;
            while (q < e && (nl = memchr(q, '\n', (size_t)(e - q))) != NULL
                   && (uint64_t)(nl + 1 - p) <= room) {
                take = (size_t)(nl + 1 - p);
                q = nl + 1;
            }
            if (take == 0) {
                if (lf->frows) {
                    if (log__dir_open_day(lf, b->day, true) < 0)
                        goto fail;
                    continue;
                }
                /* A row longer than the limit goes alone into a fresh file. */
                nl = memchr(p, '\n', n);
                take = nl ? (size_t)(nl + 1 - p) : n;
            }
        }
        if (log__file_write_all(lf->fd, p, take) < 0)
            goto fail;
        lf->fsize += take;
        lf->frows = true;
        lf->unsynced = true;
        lf->werr_logged = false;
        ws->bytes_written += take;
        ws->rows_written += take == b->len ? b->nrows : log_file_count_rows(p, take);
        p += take;
        n -= take;
    }
    return;

fail:
    ws->write_errors++;
    ws->rows_dropped += log_file_count_rows(p, n);
    if (!lf->werr_logged)
        log_err("logs", 0, "log write failed dir=%s rows_lost=%llu", lf->dir,
                (unsigned long long)log_file_count_rows(p, n));
    lf->werr_logged = true;
    if (lf->fd >= 0) {
        close(lf->fd);
        lf->fd = -1;
        lf->unsynced = false;
    }
}

/* log_file_seal - queue the current buffer for the writer (lock held) */

static void log_file_seal(struct log_file *lf)
{
    struct log_buf *b = lf->cur;

    if (b == NULL || b->len == 0)
        return;
    lf->cur = NULL;
    b->next = NULL;
    if (lf->qtail)
        lf->qtail->next = b;
    else
        lf->qhead = b;
    lf->qtail = b;
}

/* log_file_release - give written buffers back (lock held) */

static void log_file_release(struct log_file *lf, struct log_buf *list)
{
    while (list) {
        struct log_buf *b = list;

        list = b->next;
        if (b->cap == LOG_BUF_SIZE && lf->nfree < LOG_FREE_KEEP) {
            b->next = lf->free;
            lf->free = b;
            lf->nfree++;
        } else {
            lf->mem -= b->cap;
            free(b);
        }
    }
}

/* log_file_deadline - CLOCK_MONOTONIC now + ms */

static struct timespec log_file_deadline(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* log_file_main - the writer thread */

static void *log_file_main(void *arg)
{
    struct log_file *lf = arg;
    struct timespec deadline = log_file_deadline(lf->flush_ms);

    log__dir_retention(lf);
    pthread_mutex_lock(&lf->lock);
    for (;;) {
        struct log_file_stats ws = {0};
        struct log_buf *list;
        struct timespec now;
        uint64_t req, dropped;
        bool timed, stopping;

        if (lf->paused && !lf->stop) {
            pthread_cond_wait(&lf->wake, &lf->lock);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        timed = now.tv_sec > deadline.tv_sec
            || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
        req = lf->flush_req;
        stopping = lf->stop;
        if (timed || req != lf->flush_done || stopping)
            log_file_seal(lf);
        if (timed)
            deadline = log_file_deadline(lf->flush_ms);
        list = lf->qhead;
        lf->qhead = lf->qtail = NULL;
        if (list == NULL && req == lf->flush_done && !timed) {
            if (stopping)
                break;
            pthread_cond_timedwait(&lf->wake, &lf->lock, &deadline);
            continue;
        }
        pthread_mutex_unlock(&lf->lock);

        for (struct log_buf *b = list; b; b = b->next)
            log_file_write_buf(lf, b, &ws);
        if (lf->unsynced && lf->fd >= 0 && (timed || stopping || req != lf->flush_done)) {
            fdatasync(lf->fd);
            lf->unsynced = false;
        }
        if (log_file_now(lf) - lf->last_retention >= LOG_HOUR_MS)
            log__dir_retention(lf);

        pthread_mutex_lock(&lf->lock);
        log_file_release(lf, list);
        lf->st.rows_written += ws.rows_written;
        lf->st.rows_dropped += ws.rows_dropped;
        lf->st.bytes_written += ws.bytes_written;
        lf->st.write_errors += ws.write_errors;
        dropped = lf->st.rows_dropped;
        if (ws.rows_written > 0)
            lf->dropping = false;
        lf->flush_done = req;
        pthread_cond_broadcast(&lf->done);
        if (dropped != lf->drops_reported && ws.rows_written > 0) {
            uint64_t since = dropped - lf->drops_reported;

            lf->drops_reported = dropped;
            pthread_mutex_unlock(&lf->lock);
            log_warnx("logs", 0, "log rows dropped dir=%s count=%llu total=%llu", lf->dir,
                      (unsigned long long)since, (unsigned long long)dropped);
            pthread_mutex_lock(&lf->lock);
        }
    }
    pthread_mutex_unlock(&lf->lock);
    log__file_close_fd(lf);
    return NULL;
}

/* log_file_open - create the directory, start the writer */

struct log_file *log_file_open(const struct log_file_props *pr)
{
    struct log_file *lf;
    pthread_condattr_t ca;
    int err;

    lf = xcalloc(1, sizeof(*lf));
    lf->dirfd = log_path_open("logs", pr->directory, 0750, LOG_PATH_MKDIRS);
    if (lf->dirfd < 0) {
        err = errno;
        log_err("logs", 0, "log directory create or open failed dir=%s", pr->directory);
        free(lf);
        errno = err;
        return NULL;
    }
    lf->dir = xstrdup(pr->directory);
    lf->prefix = xstrdup(pr->prefix);
    lf->head_a = xasprintf("\xEF\xBB\xBF#Software: %s\r\n#Version: %s\r\n#Log-type: %s\r\n#Date: ",
                           pr->software ? pr->software : "domsec",
                           pr->version ? pr->version : DOMSEC_VERSION, pr->log_type);
    lf->head_b = xasprintf("\r\n#Fields: %s\r\n", pr->fields);
    lf->head_len = strlen(lf->head_a) + LOG_TIME_LEN + strlen(lf->head_b);
    lf->max_file = pr->max_file_size;
    lf->max_dir = pr->max_directory_size;
    lf->max_age = pr->max_age_ms;
    lf->flush_ms = pr->flush_interval_ms ? pr->flush_interval_ms : 1000;
    lf->queue_limit = pr->queue_limit ? pr->queue_limit : 8u << 20;
    lf->clock = pr->clock ? pr->clock : log_real_clock;
    lf->clock_arg = pr->clock_arg;
    lf->fd = -1;
    pthread_mutex_init(&lf->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lf->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&lf->done, NULL);
    if ((err = pthread_create(&lf->thread, NULL, log_file_main, lf)) != 0) {
        errno = err;
        log_fatal("logs", "log writer thread start failed: %s", strerror(err));
    }
    return lf;
}

/* log_file_append - queue one row; never blocks on the disk */

void log_file_append(struct log_file *lf, uint64_t ts_ms, const char *row, size_t len)
{
    uint64_t day = ts_ms / LOG_DAY_MS;
    struct log_buf *b;
    bool warn = false;

    pthread_mutex_lock(&lf->lock);
    lf->st.rows_appended++;
    if (day < lf->day_hi)
        day = lf->day_hi;               /* never back into a finished day */
    b = lf->cur;
    if (b && (day != b->day || b->len + len > b->cap)) {
        log_file_seal(lf);
        pthread_cond_signal(&lf->wake);
        b = NULL;
    }
    if (b == NULL) {
        size_t cap = len > LOG_BUF_SIZE ? len : LOG_BUF_SIZE;

        if (cap == LOG_BUF_SIZE && lf->free) {
            b = lf->free;
            lf->free = b->next;
            lf->nfree--;
        } else if (lf->mem + cap <= lf->queue_limit) {
            b = xmalloc(sizeof(*b) + cap);
            b->cap = cap;
            lf->mem += cap;
        } else {
            lf->st.rows_dropped++;
            warn = !lf->dropping;
            lf->dropping = true;
            pthread_mutex_unlock(&lf->lock);
            if (warn)
                log_warnx("logs", 0, "log queue full, dropping rows dir=%s limit=%zu",
                          lf->dir, lf->queue_limit);
            return;
        }
        b->next = NULL;
        b->len = 0;
        b->nrows = 0;
        b->day = day;
        lf->day_hi = day;
        lf->cur = b;
    }
    memcpy(b->data + b->len, row, len);
    b->len += len;
    b->nrows++;
    pthread_mutex_unlock(&lf->lock);
}

/* log_file_flush - wait until everything appended so far is written and synced */

void log_file_flush(struct log_file *lf)
{
    uint64_t mine;

    pthread_mutex_lock(&lf->lock);
    mine = ++lf->flush_req;
    pthread_cond_signal(&lf->wake);
    while (lf->flush_done < mine && !lf->paused)
        pthread_cond_wait(&lf->done, &lf->lock);
    pthread_mutex_unlock(&lf->lock);
}

/* log_file_stats - a snapshot of the counters */

void log_file_stats(struct log_file *lf, struct log_file_stats *st)
{
    pthread_mutex_lock(&lf->lock);
    *st = lf->st;
    pthread_mutex_unlock(&lf->lock);
}

/* log_file__test_pause - hold or release the writer */

void log_file__test_pause(struct log_file *lf, bool paused)
{
    pthread_mutex_lock(&lf->lock);
    lf->paused = paused;
    pthread_cond_broadcast(&lf->wake);
    pthread_cond_broadcast(&lf->done);
    pthread_mutex_unlock(&lf->lock);
}

/* log_file_close - flush, stop the writer, free everything */

void log_file_close(struct log_file *lf)
{
    if (lf == NULL)
        return;
    pthread_mutex_lock(&lf->lock);
    lf->stop = true;
    lf->paused = false;
    pthread_cond_signal(&lf->wake);
    pthread_mutex_unlock(&lf->lock);
    pthread_join(lf->thread, NULL);
    log_file_release(lf, lf->cur);
    log_file_release(lf, lf->qhead);
    while (lf->free) {
        struct log_buf *b = lf->free;

        lf->free = b->next;
        free(b);
    }
    close(lf->dirfd);
    pthread_mutex_destroy(&lf->lock);
    pthread_cond_destroy(&lf->wake);
    pthread_cond_destroy(&lf->done);
    free(lf->dir);
    free(lf->prefix);
    free(lf->head_a);
    free(lf->head_b);
    free(lf->carry);
    free(lf);
}
