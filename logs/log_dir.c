/*
 * log_dir.c - the directory side of the rotating CSV log engine: listing
 * its log files, choosing the file to append to, and retention by
 * directory size and age.  The engine and its contract are in log_file.c
 * (which creates and opens the directory with log_path.c); struct
 * log_file is in log_int.h.
 *
 * CONTRACT
 *  Everything here runs on the writer thread only and uses its fields of
 *  struct log_file without the lock, taking lf->lock only to count
 *  files_created / files_deleted.  It blocks on the disk, and reaches
 *  files only relative to lf->dirfd, never following a symbolic link
 *  (the thread starts while domsecd is still root).
 *  log__dir_open_day() closes the current file and makes lf->fd the newest
 *  file of the UTC day (continued when below max_file_size and force_new is
 *  false; a row cut by a crash is ended with CRLF) or the next instance,
 *  created with BOM and header; it returns 0, or -1 with the error logged
 *  once per episode (lf->werr_logged) and lf->fd possibly -1.  A name of
 *  the day taken by something that is not a log file of ours (a symbolic
 *  link, a directory, a FIFO, a hard-linked file) is never opened through
 *  nor blocked on (O_NOFOLLOW, O_NONBLOCK, O_EXCL): it is passed over to
 *  the next instance, so the log is still written however many names are
 *  taken.  Each taken name is warned once a day (the first
 *  LOG_DIR_TAKEN_MAX of a day one by one, then one line for the rest) and
 *  not tried again that day: lf->taken_* remember the highest.
 *  log__dir_retention() deletes, newest kept first, the files past
 *  max_directory_size, then those older than max_age (by mtime); it never
 *  deletes the file being written nor a file whose name is not
 *  PREFIXyyyymmdd-N.LOG, and logs each deletion or failure.  No callbacks,
 *  nothing to cancel; allocation failure aborts (xmalloc).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_int.h"
#include "log_path.h"

#define LOG_DIR_TAKEN_MAX 100           /* taken names of a day warned one by one */

/* log_file_name - PREFIXyyyymmdd-N.LOG for a day number */

static void log_file_name(const struct log_file *lf, uint64_t day, unsigned n,
                          char *out, size_t size)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, size, "%s%04d%02d%02d-%u.LOG", lf->prefix, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, n);
}

/* log_file_parse_name - PREFIXyyyymmdd-N.LOG to day and N; false if not ours */

static bool log_file_parse_name(const struct log_file *lf, const char *name,
                                uint64_t *day, unsigned *n)
{
    size_t pl = strlen(lf->prefix);
    const char *p = name + pl;
    struct tm tm = {0};
    unsigned long v = 0;
    int digits = 0;

    if (strncmp(name, lf->prefix, pl) != 0)
        return false;
    for (int i = 0; i < 8; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    if (p[8] != '-')
        return false;
    tm.tm_year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0') - 1900;
    tm.tm_mon = (p[4] - '0') * 10 + (p[5] - '0') - 1;
    tm.tm_mday = (p[6] - '0') * 10 + (p[7] - '0');
    for (p += 9; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
        v = v * 10 + (unsigned long)(*p - '0');
    if (digits == 0 || v == 0 || strcmp(p, ".LOG") != 0)
        return false;
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
        return false;
    *day = (uint64_t)timegm(&tm) / 86400;
    *n = (unsigned)v;
    return true;
}

struct log_entry {
    uint64_t day;
    unsigned n;
    uint64_t size, mtime_ms;
    char    name[64];
};

/* log_file_list - our files in the directory, newest first */

static struct log_entry *log_file_list(struct log_file *lf, size_t *count)
{
    struct log_entry *v = NULL;
    size_t nv = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd = dup(lf->dirfd);

    *count = 0;
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        log_err("logs", 0, "log directory read failed dir=%s", lf->dir);
        return NULL;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        struct log_entry e;
        struct stat sb;

        if (strlen(de->d_name) >= sizeof(e.name)
            || !log_file_parse_name(lf, de->d_name, &e.day, &e.n)
            || fstatat(lf->dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
            || !S_ISREG(sb.st_mode))
            continue;
        strcpy(e.name, de->d_name);
        e.size = (uint64_t)sb.st_size;
        e.mtime_ms = (uint64_t)sb.st_mtim.tv_sec * 1000 + (uint64_t)sb.st_mtim.tv_nsec / 1000000;
        if (nv == cap) {
            cap = cap ? 2 * cap : 16;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[nv++] = e;
    }
    closedir(d);
    /* Insertion sort, newest (day, n) first: directories hold few hundred files. */
    for (size_t i = 1; i < nv; i++) {
        struct log_entry e = v[i];
        size_t j = i;

        while (j > 0 && (v[j - 1].day < e.day || (v[j - 1].day == e.day && v[j - 1].n < e.n))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = e;
    }
    *count = nv;
    return v;
}

/* log__dir_retention - delete by directory size (newest kept first), then by age */

void log__dir_retention(struct log_file *lf)
{
    uint64_t now = log_file_now(lf), total = 0;
    struct log_entry *v;
    size_t n;

    lf->last_retention = now;
    if (lf->max_dir == 0 && lf->max_age == 0)
        return;
    v = log_file_list(lf, &n);
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;

        total += v[i].size;
        if (lf->fd >= 0 && v[i].day == lf->fday && v[i].n == lf->fn)
            continue;                   /* never the file being written */
        if (lf->max_dir && total > lf->max_dir)
            why = "size";
        else if (lf->max_age && v[i].mtime_ms + lf->max_age < now)
            why = "age";
        if (why == NULL)
            continue;
        if (unlinkat(lf->dirfd, v[i].name, 0) < 0) {
            log_warn("logs", 0, "log file delete failed dir=%s file=%s", lf->dir, v[i].name);
            continue;
        }
        log_info("logs", 0, "log file deleted dir=%s file=%s reason=%s", lf->dir, v[i].name, why);
        pthread_mutex_lock(&lf->lock);
        lf->st.files_deleted++;
        pthread_mutex_unlock(&lf->lock);
    }
    free(v);
}
/* log_dir_taken - name, instance n of day, is not a log we may write: say so
 * once, and remember it */

static void log_dir_taken(struct log_file *lf, uint64_t day, unsigned n, const char *name,
                          bool denied)
{
    struct stat st;
    const char *why;

    if (lf->taken_day != day) {
        lf->taken_day = day;
        lf->taken_hi = lf->taken_warned = 0;
    }
    if (n <= lf->taken_hi)
        return;                         /* warned today */
    lf->taken_hi = n;
    if (++lf->taken_warned > LOG_DIR_TAKEN_MAX) {
        if (lf->taken_warned == LOG_DIR_TAKEN_MAX + 1)
            log_warnx("logs", 0, "log file names taken dir=%s day=%.8s: more than %d, the "
                      "others of the day passed over without a warning", lf->dir,
                      name + strlen(lf->prefix), LOG_DIR_TAKEN_MAX);
        return;
    }
    why = fstatat(lf->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? "unknown"
        : S_ISREG(st.st_mode) && st.st_nlink > 1 ? "hard-linked file"
        : S_ISREG(st.st_mode) && denied ? "file we may not write"
        : log_path_kind(st.st_mode);
    log_warnx("logs", 0, "log file name taken dir=%s file=%s kind=%s: writing the next "
              "instance", lf->dir, name, why);
}

/* log_dir_continue - open the day's file name (instance n) to append to: -1
 * (errno), or -2 when the name is taken by something that is not our log */

static int log_dir_continue(struct log_file *lf, uint64_t day, unsigned n, const char *name)
{
    struct stat st;
    int fd = openat(lf->dirfd, name, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
                    | O_NOCTTY);

    if (fd < 0 && errno != ELOOP && errno != EACCES && errno != EPERM)
        return -1;
    /* A regular file of ours, with no other name: a hard link could be
     * someone else's file (root's, while we still are). */
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1)
        return fd;
    log_dir_taken(lf, day, n, name, fd < 0 && errno != ELOOP);
    if (fd >= 0)
        close(fd);
    return -2;
}

/* log__dir_open_day - continue the newest file of a day or start the next one */

int log__dir_open_day(struct log_file *lf, uint64_t day, bool force_new)
{
    struct log_entry *v;
    size_t n;
    unsigned top = 0;
    uint64_t top_size = 0;
    char name[64];
    int fd;

    log__file_close_fd(lf);
    v = log_file_list(lf, &n);
    for (size_t i = 0; i < n; i++)
        if (v[i].day == day && v[i].n > top)
            top = v[i].n, top_size = v[i].size;
    free(v);
    if (top > 0 && !force_new && (lf->max_file == 0 || top_size < lf->max_file)) {
        log_file_name(lf, day, top, name, sizeof(name));
        fd = log_dir_continue(lf, day, top, name);
        if (fd == -1) {
            if (!lf->werr_logged)
                log_err("logs", 0, "log file open failed dir=%s file=%s", lf->dir, name);
            lf->werr_logged = true;
            return -1;
        }
    } else {
        fd = -2;
    }
    if (fd >= 0) {
        char last = '\n';

        lf->fd = fd;
        lf->fday = day;
        lf->fn = top;
        lf->fsize = top_size;
        lf->frows = top_size > lf->head_len;
        lf->had_file = true;
        if (top_size == 0) {            /* created, then crashed before the header */
            if (log__file_header(lf) < 0)
                return -1;
            lf->fsize = lf->head_len;
            lf->unsynced = true;
            return 0;
        }
        /* A crash may have cut the last row: end it so ours starts a line. */
        if (pread(fd, &last, 1, (off_t)top_size - 1) == 1 && last != '\n') {
            if (log__file_write_all(fd, "\r\n", 2) < 0)
                return -1;
            lf->fsize += 2;
        }
        return 0;
    }
    /* The next instance; a name taken by something else (a link, a
     * directory, a FIFO, a hard link: not listed above) is passed over,
     * and one found taken today is not tried again. */
    if (lf->taken_day == day && top < lf->taken_hi)
        top = lf->taken_hi;
    for (;;) {
        log_file_name(lf, day, ++top, name, sizeof(name));
        fd = openat(lf->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC
                    | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0640);
        if (fd >= 0 || errno != EEXIST)
            break;
        log_dir_taken(lf, day, top, name, false);
    }
    if (fd < 0) {
        if (!lf->werr_logged)
            log_err("logs", 0, "log file create failed dir=%s file=%s", lf->dir, name);
        lf->werr_logged = true;
        return -1;
    }
    lf->fd = fd;
    lf->fday = day;
    lf->fn = top;
    lf->fsize = 0;
    lf->frows = false;
    pthread_mutex_lock(&lf->lock);
    lf->st.files_created++;
    pthread_mutex_unlock(&lf->lock);
    if (log__file_header(lf) < 0)
        return -1;
    lf->fsize = lf->head_len;
    lf->unsynced = true;
    /* A file that rotation made starts with the carried row (the tracking
     * log's CONFIG: retention may delete the file that had the original). */
    if (lf->had_file && log__file_carry(lf) < 0)
        return -1;
    lf->had_file = true;
    log__dir_retention(lf);
    return 0;
}
