/*
 * log_util.c - small helpers every layer shares (see log_util.h).
 *
 * CONTRACT
 *  Synchronous, no state, any thread.  Inputs are not kept; results are
 *  written into the caller's buffer, always NUL-terminated when size > 0.
 */
#include "log_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* log_oneline - printable one-line copy of a text (a reply may be multi-line) */

char *log_oneline(const char *text)
{
    char *s = xstrdup(text ? text : "");

    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = ' ';
    return s;
}

/* log_addr_ip - the IP text of an AF_INET or AF_INET6 address, else "" */

char *log_addr_ip(char *out, size_t size, const struct sockaddr *sa)
{
    const void *a = NULL;

    if (size == 0)
        return out;
    if (sa != NULL && sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa != NULL && sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)size) == NULL)
        out[0] = '\0';
    return out;
}

/* log_addr_port - the port in host order, 0 for another family */

unsigned log_addr_port(const struct sockaddr *sa)
{
    if (sa != NULL && sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa != NULL && sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

/* log_addr_endpoint - "IP:PORT" or "[IP]:PORT", "" for another family */

char *log_addr_endpoint(char *out, size_t size, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN];

    if (size == 0)
        return out;
    out[0] = '\0';
    if (log_addr_ip(ip, sizeof(ip), sa)[0] == '\0')
        return out;
    snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, log_addr_port(sa));
    return out;
}

/* log_mail_domain - lower-cased domain of a mail address, "" without '@' */

char *log_mail_domain(char *out, size_t size, const char *addr)
{
    const char *at = strrchr(addr, '@'), *dom = at ? at + 1 : "";
    size_t i = 0;

    if (size == 0)
        return out;
    for (; dom[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)dom[i]);
    out[i] = '\0';
    return out;
}

/* log_iso_time - "yyyy-MM-ddTHH:mm:ssZ", zero for 0 if given */

char *log_iso_time(char *out, size_t size, int64_t t, const char *zero)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (size == 0)
        return out;
    if (t == 0 && zero != NULL)
        snprintf(out, size, "%s", zero);
    else if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "%lld", (long long)t);
    return out;
}

/* log_fd_regular - whether fd is a regular file of at most max bytes (st filled) */

static int log_fd_regular(int fd, size_t max, struct stat *st)
{
    if (fstat(fd, st) < 0)
        return -1;
    if (!S_ISREG(st->st_mode))
        return (errno = EINVAL), -1;
    if ((uint64_t)st->st_size > max)
        return (errno = EFBIG), -1;
    return 0;
}

/* O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing
 * for a regular file, the only kind read or let through. */
#define LOG_OPEN_READ (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

/* log_file_check - whether path is a readable regular file of at most max bytes */

int log_file_check(const char *path, size_t max)
{
    struct stat st;
    int     fd = open(path, LOG_OPEN_READ), rc, saved;

    if (fd < 0)
        return -1;
    rc = log_fd_regular(fd, max, &st);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* log_read_file - a whole regular file of at most max bytes, NUL-terminated */

int log_read_file(const char *path, size_t max, unsigned char **data, size_t *len,
                  unsigned *mode)
{
    int     fd, rc, saved;

    *data = NULL;
    *len = 0;
    if ((fd = open(path, LOG_OPEN_READ)) < 0)
        return -1;
    rc = log_read_fd(fd, max, data, len, mode);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* log_read_fd - the same from an open descriptor, which stays the caller's */

int log_read_fd(int fd, size_t max, unsigned char **data, size_t *len, unsigned *mode)
{
    struct stat st;
    unsigned char *buf;
    size_t  got = 0;

    *data = NULL;
    *len = 0;
    if (log_fd_regular(fd, max, &st) < 0)
        return -1;
    if (mode != NULL)
        *mode = (unsigned)(st.st_mode & 07777);
    buf = xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;                      /* shrank while reading: keep what we got */
        got += (size_t)r;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

/* log_dir_name_cmp - qsort order of an array of char *: by the strings, not
 * the pointers (casting strcmp to the qsort type would compare pointer bytes) */

static int log_dir_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* log_dir_names - sorted names of dir's entries that keep() accepts */

char **log_dir_names(const char *dir, bool (*keep)(const char *name), size_t *n)
{
    DIR    *d = opendir(dir);
    struct dirent *de;
    char  **v;

    *n = 0;
    if (d == NULL)
        return NULL;
    v = xmalloc(sizeof(*v));
    while ((de = readdir(d)) != NULL) {
        if (keep != NULL ? !keep(de->d_name)
            : strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        v = xrealloc(v, (*n + 1) * sizeof(*v));
        v[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), log_dir_name_cmp);
    return v;
}

/* log_dir_names_free - release what log_dir_names returned */

void log_dir_names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* log_write_file - dir/name atomically (tmp, fsync, rename, fsync dir); 0 or -1, errno
 *
 * The temporary file's name is this writer's own, .name.PID.N.tmp (N a
 * process-wide counter), so writers of one name that run at once (TLS-RPT's
 * DAY.sent from two sends) each rename their own complete file and never
 * remove or rename another's half-written one; the last rename wins.  It is
 * made with O_EXCL | O_NOFOLLOW, so a symlink (or another file) planted
 * there is never written through; one left by a dead process of the same
 * pid is removed and the open tried once more.  The directory is fsynced
 * after the rename so the new name survives a crash (a file system that
 * cannot fsync a directory, EINVAL, is accepted). */

int log_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1);
    char *tmp = xasprintf("%s/.%s.%ld.%u.tmp", dir, name, (long)getpid(), n);
    char *path = xasprintf("%s/%s", dir, name);
    int fd, dfd, r = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)     /* stale: its pid is ours now */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        bool    ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;

        if (close(fd) == 0 && ok)       /* close once: a failed close frees fd too */
            r = rename(tmp, path);
        if (r < 0) {
            int e = errno;

            unlink(tmp);
            errno = e;
        }
    }
    if (r == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(dfd) < 0 && errno != EINVAL)
            r = -1;                     /* in place, but maybe not on the disk */
        close(dfd);
    }
    free(tmp);
    free(path);
    return r;
}

/* log_utf8_len - the length of the well-formed UTF-8 sequence at p (log_util.h) */

size_t log_utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t  len;
    uint32_t c;

    if (p[0] < 0x80)
        len = 1, c = p[0];
    else if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, c = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, c = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, c = p[0] & 0x07;
    else
        return 0;                       /* a continuation byte, 0xc0/0xc1, 0xf5.. */
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
        return 0;                       /* overlong, out of range, surrogate */
    if (cp != NULL)
        *cp = c;
    return len;
}
