/*
 * log_read.c - stream the rows of protocol and message tracking logs.
 *
 * CONTRACT
 *  log_reader_add() collects file names only; nothing is read until
 *  log_reader_next().  Files are read in the order (date in the name, N,
 *  kind RECV < SEND < MSGTRK), each with large read(2)s into one buffer
 *  owned by the reader; a row's fields point into that buffer and are
 *  valid until the next log_reader_next() or log_reader_free().  Nothing
 *  is allocated per row.
 *
 *  Per file: a BOM and lines starting with '#' are skipped wherever they
 *  are; a row whose field count is not the log's (9 or 19) or whose
 *  quoting is broken is counted in rows_bad and skipped; a last line with
 *  no line end (the writer was killed mid-row) is counted in
 *  rows_truncated and skipped.  Quoted fields are unquoted in place ("" ->
 *  "); the `\r`/`\n` escapes are left for log_field_unescape().
 *
 *  Time range: the fixed-width date-time prefix is compared as bytes; a
 *  whole file is skipped, unopened, when the date in its name puts all its
 *  rows outside the range (a file of day D holds rows of D, and of D-1
 *  just before midnight: docs/LOGS.md "Rotation").
 *
 *  Errors: a file that cannot be opened or read is reported on stderr,
 *  counted in stats.errors, and skipped; the scan goes on.  So is a log
 *  name that is not a regular file (a symbolic link or a FIFO found in a
 *  directory - never followed nor blocked on) or a file with more than
 *  one hard link.
 *
 *  Links: `domsec log` may run as root over directories the service user
 *  owns, who may swap any entry there for a link at any time.  The path
 *  given to log_reader_add() is opened by the rule of log_path_open() (a
 *  link is followed only from a directory that only root or we may
 *  change; a refusal is logged as an error, ELOOP); below it nothing is
 *  reached by name: the walk opens each directory with openat(O_NOFOLLOW)
 *  from its parent's descriptor, keeps the descriptor of each directory
 *  that holds a log file (owned by the reader, closed by
 *  log_reader_free()), and log_reader_next() opens the file from it with
 *  O_NOFOLLOW; a link found then (ELOOP) is "not a regular file".
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "log_read.h"

#define LOG_READ_DEPTH 4
#define LOG_READ_MAX_LINKS 40           /* links followed from a file named */

struct log_read_file {
    char   *path;                       /* for messages and rows; xasprintf()ed */
    const char *name;                   /* its last component, in path */
    size_t  dir;                        /* the directory it is opened from: dirs[dir] */
    enum log_read_kind kind;            /* LOG_READ_NKINDS: from the header */
    long    day;                        /* from the name; -1 unknown */
    unsigned n;                         /* instance N */
};

struct log_read_dir {                   /* a directory files are opened from */
    int     fd;                         /* owned (O_RDONLY | O_DIRECTORY) */
    char   *path;                       /* as named or walked; xstrdup()ed */
};

struct log_reader {
    struct log_read_file *files;        /* owned */
    size_t  nfiles, files_cap, cur;     /* cur: next file to open */
    struct log_read_dir *dirs;          /* owned */
    size_t  ndirs, dirs_cap;
    char    from[LOG_READ_TSLEN + 1], to[LOG_READ_TSLEN + 1];
    size_t  from_len, to_len;
    long    from_day, to_day;           /* -1: open */
    unsigned kinds;
    /* The open file. */
    int     fd;                         /* -1: none */
    struct log_read_file *file;
    enum log_read_kind kind;
    uint64_t lineno;
    char   *buf;                        /* owned, buf_cap + 1 bytes */
    size_t  buf_cap, rsize, start, end;
    bool    eof;
    struct log_read_stats st;
};

static const char *const log_read_prefix[LOG_READ_NKINDS] = { "RECV", "SEND", "MSGTRK" };

/* log_read_kind_name - RECV, SEND or MSGTRK */

const char *log_read_kind_name(enum log_read_kind k)
{
    return k < LOG_READ_NKINDS ? log_read_prefix[k] : "?";
}

/* log_read_day - days since the epoch of a civil date */

long log_read_day(const char *s, bool compact)
{
    int y, m, d;

    if (compact) {
        for (int i = 0; i < 8; i++)
            if (!isdigit((unsigned char)s[i]))
                return -1;
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        m = (s[4] - '0') * 10 + (s[5] - '0');
        d = (s[6] - '0') * 10 + (s[7] - '0');
    } else if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3) {
        return -1;
    }
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* log_read_day_str - the civil date of a day number */

void log_read_day_str(long z, char out[11])
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp + (mp < 10 ? 3 : -9);

    y += m <= 2;
    if (y < 0 || y > 9999)
        y = 0;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
}

/* log_read_time_arg - normalise a user's time to a date-time prefix */

size_t log_read_time_arg(const char *s, char out[LOG_READ_TSLEN + 1])
{
    static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; n < LOG_READ_TSLEN && s[n]; n++) {
        char c = s[n], f = form[n];

        if (f == 'd' ? !isdigit((unsigned char)c) : f == 'T' ? (c != 'T' && c != ' ' && c != 't')
            : f == 'Z' ? (c != 'Z' && c != 'z') : c != f) {
            if ((c == 'Z' || c == 'z') && s[n + 1] == '\0' && n >= 13)
                break;                  /* "...:00Z": the rest is open */
            return 0;
        }
        out[n] = f == 'T' ? 'T' : f == 'Z' ? 'Z' : c;
    }
    if (s[n] && !((s[n] == 'Z' || s[n] == 'z') && s[n + 1] == '\0'))
        return 0;
    /* Stop only after a whole unit: date, hour, minute, second, or ms. */
    if (!(n == 10 || n == 13 || n == 16 || n == 19 || n >= 21))
        return 0;
    if (n > 20 && n < 23)
        return 0;
    out[n] = '\0';
    if (log_read_day(out, false) < 0)
        return 0;
    return n;
}

/* log_read_parse_name - kind, day and N from PREFIXyyyymmdd-N.LOG */

static bool log_read_parse_name(const char *base, enum log_read_kind *kind, long *day, unsigned *n)
{
    for (int k = 0; k < LOG_READ_NKINDS; k++) {
        size_t pl = strlen(log_read_prefix[k]);
        const char *p = base + pl;
        char *end;

        if (strncasecmp(base, log_read_prefix[k], pl) != 0)
            continue;
        *day = log_read_day(p, true);
        if (*day < 0 || p[8] != '-' || !isdigit((unsigned char)p[9]))
            return false;
        *n = (unsigned)strtoul(p + 9, &end, 10);
        if (strcasecmp(end, ".LOG") != 0)
            return false;
        *kind = (enum log_read_kind)k;
        return true;
    }
    return false;
}

/* log_read_keep_dir - the reader takes descriptor fd of directory path: its index */

static size_t log_read_keep_dir(struct log_reader *r, int fd, const char *path)
{
    if (r->ndirs == r->dirs_cap) {
        r->dirs_cap = r->dirs_cap ? 2 * r->dirs_cap : 8;
        r->dirs = xrealloc(r->dirs, r->dirs_cap * sizeof(*r->dirs));
    }
    r->dirs[r->ndirs] = (struct log_read_dir){ fd, xstrdup(path) };
    return r->ndirs++;
}

/* log_read_push - remember file name (in path, taken) of directory dirs[dir] */

static void log_read_push(struct log_reader *r, size_t dir, char *path, const char *name,
                          enum log_read_kind kind, long day, unsigned n)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].path, path) == 0) {
            free(path);
            return;
        }
    if (r->nfiles == r->files_cap) {
        r->files_cap = r->files_cap ? 2 * r->files_cap : 64;
        r->files = xrealloc(r->files, r->files_cap * sizeof(*r->files));
    }
    r->files[r->nfiles++] = (struct log_read_file){ path, name, dir, kind, day, n };
}

/* log_read_walk - collect log files under directory fd (taken), shown as dir */

static void log_read_walk(struct log_reader *r, int fd, const char *dir, int depth)
{
    int     dfd = dup(fd);              /* closedir() closes it; fd may be kept */
    DIR    *d = dfd < 0 ? NULL : fdopendir(dfd);
    size_t  kept = SIZE_MAX;            /* fd's index in dirs once a file needs it */
    struct dirent *de;

    if (d == NULL) {
        fprintf(stderr, "domsec: log: %s: %s\n", dir, strerror(errno));
        r->st.errors++;
        if (dfd >= 0)
            close(dfd);
        close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        enum log_read_kind kind;
        long day;
        unsigned n;
        struct stat sb;
        int sub;

        if (de->d_name[0] == '.')
            continue;
        if (log_read_parse_name(de->d_name, &kind, &day, &n)) {
            /* Only a regular file: the service user owns the log directories
             * and could leave a link to root's file or a FIFO there. */
            if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
                char   *p = xasprintf("%s/%s", dir, de->d_name);

                if (kept == SIZE_MAX)
                    kept = log_read_keep_dir(r, fd, dir);
                log_read_push(r, kept, p, p + strlen(dir) + 1, kind, day, n);
            } else {
                fprintf(stderr, "domsec: log: %s/%s: not a regular file, skipped\n", dir,
                        de->d_name);
                r->st.errors++;
            }
        } else if (depth > 0 && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
            /* A link (ELOOP) or not a directory (ENOTDIR) is not walked. */
            sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                char   *p = xasprintf("%s/%s", dir, de->d_name);

                log_read_walk(r, sub, p, depth - 1);
                free(p);
            } else if (errno != ELOOP && errno != ENOTDIR) {
                fprintf(stderr, "domsec: log: %s/%s: %s\n", dir, de->d_name, strerror(errno));
                r->st.errors++;
            }
        }
    }
    closedir(d);
    if (kept == SIZE_MAX)
        close(fd);
}

/* log_read_cmp - order files by day, N, kind, path */

static int log_read_cmp(const void *a, const void *b)
{
    const struct log_read_file *x = a, *y = b;

    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* log_reader_new - a reader with no files yet */

struct log_reader *log_reader_new(const struct log_read_opts *opts)
{
    struct log_reader *r = xcalloc(1, sizeof(*r));
    char day[11];

    r->fd = -1;
    r->from_day = r->to_day = -1;
    r->kinds = opts && opts->kinds ? opts->kinds : (1u << LOG_READ_NKINDS) - 1;
    r->rsize = opts && opts->bufsize ? opts->bufsize : 4u << 20;
    r->buf_cap = r->rsize * 2;
    r->buf = xmalloc(r->buf_cap + 1);
    if (opts && opts->from && *opts->from) {
        r->from_len = log_read_time_arg(opts->from, r->from);
        if (r->from_len)
            r->from_day = log_read_day(memcpy(day, r->from, 10), false);
    }
    if (opts && opts->to && *opts->to) {
        r->to_len = log_read_time_arg(opts->to, r->to);
        if (r->to_len)
            r->to_day = log_read_day(r->to, false);
    }
    return r;
}

/* log_read_add_file - add file path (not a directory); links: followed so far */

static int log_read_add_file(struct log_reader *r, const char *path, int links)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char   *dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/")
        : xstrndup(path, (size_t)(slash - path));
    enum log_read_kind kind = LOG_READ_NKINDS;
    long day = -1;
    unsigned n = 0;
    size_t  known = 0;
    struct stat sb;
    bool    own;                        /* fd is ours to keep or close */
    int     fd, rc = 0, err;

    /* The files of one directory (a shell's RECV*.LOG) share its descriptor. */
    while (known < r->ndirs && strcmp(r->dirs[known].path, dir) != 0)
        known++;
    own = known == r->ndirs;
    fd = own ? log_path_open("log", dir, 0, LOG_PATH_OPEN) : r->dirs[known].fd;
    if (fd < 0 || fstatat(fd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = -1;
    } else if (S_ISLNK(sb.st_mode)) {
        /* Followed only where log_path_open would: let it judge (a refusal
         * is logged, ELOOP); it stops at the target, not a directory. */
        char    target[PATH_MAX];
        ssize_t len;
        int     t = log_path_openat("log", fd, dir, base, 0, LOG_PATH_OPEN);

        if (t >= 0) {                   /* now a directory: walk it */
            log_read_walk(r, t, path, LOG_READ_DEPTH);
        } else if (errno != ENOTDIR) {
            rc = -1;
        } else if (links >= LOG_READ_MAX_LINKS) {
            rc = -1, errno = ELOOP;
        } else if ((len = readlinkat(fd, base, target, sizeof(target) - 1)) < 0) {
            rc = -1;
        } else {
            char   *next;

            target[len] = '\0';
            next = target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", dir, target);
            rc = log_read_add_file(r, next, links + 1);
            free(next);
        }
    } else {
        char   *p = xstrdup(path);

        if (!log_read_parse_name(base, &kind, &day, &n))
            kind = LOG_READ_NKINDS, day = -1, n = 0;
        if (own)
            known = log_read_keep_dir(r, fd, dir);
        log_read_push(r, known, p, p + (base - path), kind, day, n);
        own = false;
    }
    err = errno;
    if (own && fd >= 0)
        close(fd);
    free(dir);
    errno = err;
    return rc;
}

/* log_reader_add - add a file or every log file under a directory */

int log_reader_add(struct log_reader *r, const char *path)
{
    int     fd = log_path_open("log", path, 0, LOG_PATH_OPEN);

    if (fd >= 0)
        log_read_walk(r, fd, path, LOG_READ_DEPTH);
    else if (errno != ENOTDIR || log_read_add_file(r, path, 0) < 0)
        return -1;
    if (r->nfiles > 1)
        qsort(r->files, r->nfiles, sizeof(*r->files), log_read_cmp);
    return 0;
}

/* log_read_close_file - done with the open file */

static void log_read_close_file(struct log_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->file = NULL;
}

/* log_reader_rewind - start again at the first file */

void log_reader_rewind(struct log_reader *r)
{
    log_read_close_file(r);
    r->cur = 0;
}

/* log_read_open_next - open the next file in range; false at the end */

static bool log_read_open_next(struct log_reader *r)
{
    while (r->cur < r->nfiles) {
        struct log_read_file *f = &r->files[r->cur++];
        const char *why = NULL;
        char    nlinks[128];
        struct stat sb, db;

        if (f->kind != LOG_READ_NKINDS && !(r->kinds & (1u << f->kind)))
            continue;
        if (f->day >= 0 && ((r->from_day >= 0 && f->day < r->from_day)
                            || (r->to_day >= 0 && f->day - 1 > r->to_day))) {
            r->st.files_skipped++;
            continue;
        }
        /* From the directory walked, never through a link put there since
         * (ELOOP); O_NONBLOCK: a FIFO never blocks the open. */
        r->fd = openat(r->dirs[f->dir].fd, f->name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
                       | O_NOFOLLOW);
        if (r->fd < 0)
            why = errno == ELOOP ? "not a regular file, skipped" : strerror(errno);
        else if (fstat(r->fd, &sb) < 0 || !S_ISREG(sb.st_mode))
            why = "not a regular file, skipped";
        else if (sb.st_nlink > 1        /* its other name could be root's file */
                 && (fstat(r->dirs[f->dir].fd, &db) < 0 || db.st_uid != sb.st_uid))
            why = (snprintf(nlinks, sizeof(nlinks), "hard-linked file (%ju links) not owned"
                            " by its directory's owner, skipped", (uintmax_t)sb.st_nlink),
                   nlinks);
        if (why != NULL) {
            fprintf(stderr, "domsec: log: %s: %s\n", f->path, why);
            r->st.errors++;
            log_read_close_file(r);
            continue;
        }
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
        r->file = f;
        r->kind = f->kind;
        r->lineno = 0;
        r->start = r->end = 0;
        r->eof = false;
        r->st.files++;
        return true;
    }
    return false;
}

/* log_read_fill - read more; false at end of file (or error) */

static bool log_read_fill(struct log_reader *r)
{
    ssize_t got;

    if (r->start > 0) {                 /* keep the partial line, at the front */
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->buf_cap - r->end < r->rsize) {
        if (r->end > r->buf_cap / 2) {  /* a line longer than the buffer */
            r->buf_cap *= 2;
            r->buf = xrealloc(r->buf, r->buf_cap + 1);
        }
    }
    do
        got = read(r->fd, r->buf + r->end, r->buf_cap - r->end);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        fprintf(stderr, "domsec: log: %s: %s\n", r->file->path, strerror(errno));
        r->st.errors++;
        return false;
    }
    if (got == 0)
        return false;
    r->end += (size_t)got;
    r->st.bytes += (uint64_t)got;
    return true;
}

/* log_read_header - a '#' line: learn the kind if the name did not say */

static void log_read_header(struct log_reader *r, const char *p, size_t len)
{
    static const char lt[] = "#Log-type: ";

    if (r->kind != LOG_READ_NKINDS || len < sizeof(lt) - 1 || memcmp(p, lt, sizeof(lt) - 1) != 0)
        return;
    p += sizeof(lt) - 1;
    len -= sizeof(lt) - 1;
    if (len >= 12 && memcmp(p, "SMTP Receive", 12) == 0)
        r->kind = LOG_READ_RECV;
    else if (len >= 9 && memcmp(p, "SMTP Send", 9) == 0)
        r->kind = LOG_READ_SEND;
    else if (len >= 16 && memcmp(p, "Message Tracking", 16) == 0)
        r->kind = LOG_READ_TRACK;
}

/* log_read_split - split a line into fields in place; false if malformed */

static bool log_read_split(char *p, char *end, struct log_row *row, size_t want)
{
    size_t n = 0;

    for (;;) {
        if (n == want)
            return false;
        if (p < end && *p == '"') {     /* quoted: undo "" in place */
            char *w = ++p, *start = p;

            for (;;) {
                char *q = memchr(p, '"', (size_t)(end - p));

                if (q == NULL)
                    return false;
                if (w != p)
                    memmove(w, p, (size_t)(q - p));
                w += q - p;
                if (q + 1 < end && q[1] == '"') {
                    *w++ = '"';
                    p = q + 2;
                    continue;
                }
                p = q + 1;
                break;
            }
            row->f[n].p = start;
            row->f[n].len = (size_t)(w - start);
            n++;
            if (p == end)
                break;
            if (*p != ',')
                return false;
            p++;
        } else {
            char *c = memchr(p, ',', (size_t)(end - p));

            row->f[n].p = p;
            row->f[n].len = (size_t)((c ? c : end) - p);
            n++;
            if (c == NULL)
                break;
            p = c + 1;
        }
    }
    row->nfields = n;
    return n == want;
}

/* log_read_in_range - the time filter on the raw line */

static bool log_read_in_range(const struct log_reader *r, const char *p, size_t len)
{
    if (r->from_len && (len < r->from_len || memcmp(p, r->from, r->from_len) < 0))
        return false;
    if (r->to_len && (len < r->to_len || memcmp(p, r->to, r->to_len) > 0))
        return false;
    return true;
}

/* log_reader_next - the next row in range */

int log_reader_next(struct log_reader *r, struct log_row *row)
{
    for (;;) {
        char *p, *nl, *e;
        size_t len;

        if (r->fd < 0 && !log_read_open_next(r))
            return 0;
        p = r->buf + r->start;
        nl = memchr(p, '\n', r->end - r->start);
        if (nl == NULL) {
            if (!r->eof && log_read_fill(r))
                continue;
            r->eof = true;
            if (r->end > r->start && !(r->lineno == 0 && r->end - r->start <= 3
                                       && memcmp(r->buf + r->start, "\xEF\xBB\xBF", r->end - r->start) == 0)
                && r->buf[r->start] != '#') {   /* cut by a crash (not a lone BOM or header) */
                r->st.rows_truncated++;
                r->start = r->end;
            }
            log_read_close_file(r);
            continue;
        }
        r->start = (size_t)(nl + 1 - r->buf);
        r->lineno++;
        e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (r->lineno == 1 && e - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3;
        len = (size_t)(e - p);
        if (len == 0)
            continue;
        if (*p == '#') {
            log_read_header(r, p, len);
            continue;
        }
        if (r->kind == LOG_READ_NKINDS || !(r->kinds & (1u << r->kind))) {
            r->st.rows_bad += r->kind == LOG_READ_NKINDS;
            continue;
        }
        if ((r->from_len || r->to_len) && !log_read_in_range(r, p, len))
            continue;
        row->kind = r->kind;
        row->path = r->file->path;
        row->lineno = r->lineno;
        row->line = p;
        row->line_len = len;
        if (memchr(p, '"', len) != NULL)
            row->line = NULL;           /* unquoting below rewrites it */
        if (!log_read_split(p, e, row, r->kind == LOG_READ_TRACK ? LOG_T_NFIELDS : LOG_P_NFIELDS)) {
            r->st.rows_bad++;
            continue;
        }
        r->st.rows++;
        return 1;
    }
}

/* log_reader_stats - counters so far */

void log_reader_stats(const struct log_reader *r, struct log_read_stats *st)
{
    *st = r->st;
}

/* log_reader_free - close and free everything */

void log_reader_free(struct log_reader *r)
{
    if (r == NULL)
        return;
    log_read_close_file(r);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i].path);
    free(r->files);
    for (size_t i = 0; i < r->ndirs; i++) {
        close(r->dirs[i].fd);
        free(r->dirs[i].path);
    }
    free(r->dirs);
    free(r->buf);
    free(r);
}

/* log_field_unescape - `\r` and `\n` back to CR and LF, in place */

void log_field_unescape(struct log_field *f)
{
    char *s = memchr(f->p, '\\', f->len), *w, *end = f->p + f->len;

    if (s == NULL)
        return;
    for (w = s; s < end; s++) {
        if (*s == '\\' && s + 1 < end && (s[1] == 'r' || s[1] == 'n')) {
            *w++ = s[1] == 'r' ? '\r' : '\n';
            s++;
        } else {
            *w++ = *s;
        }
    }
    f->len = (size_t)(w - f->p);
}

/* log_field_eq - the field is exactly s */

bool log_field_eq(const struct log_field *f, const char *s)
{
    size_t n = strlen(s);

    return f->len == n && memcmp(f->p, s, n) == 0;
}

/* log_field_prefix - the field starts with s */

bool log_field_prefix(const struct log_field *f, const char *s)
{
    size_t n = strlen(s);

    return f->len >= n && memcmp(f->p, s, n) == 0;
}

/* log_field_find - case-insensitive substring */

const char *log_field_find(const struct log_field *f, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return f->p;
    for (size_t i = 0; i + n <= f->len; i++)
        if (strncasecmp(f->p + i, needle, n) == 0)
            return f->p + i;
    return NULL;
}

/* log_field_copy - a NUL-terminated copy, cut to size */

char *log_field_copy(const struct log_field *f, char *out, size_t size)
{
    size_t n = f->len < size - 1 ? f->len : size - 1;

    memcpy(out, f->p, n);
    out[n] = '\0';
    return out;
}
