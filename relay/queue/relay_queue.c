/*
 * relay_queue.c - queue directories, ids, the queue-file format, recovery.
 *
 * FILE FORMAT (text header, raw message, append-only state log)
 *
 *   DSQ1\n
 *   id <16 hex>\n  arrival <ISO-8601 UTC ms>\n  connector <name>\n
 *   client <ip:port>\n  helo <name>\n  session <16 hex>\n
 *   [body 7BIT|8BITMIME\n]  sender <addr>\n  rcpt <addr>\n ...
 *   data <16 hex: message length>\n
 *   <message bytes>
 *   end\n
 *   <state records appended by delivery, one per line>
 *
 *  The message length is written last (pwrite over a placeholder) so a
 *  file whose length and "end" marker do not agree was never completed.
 *
 * CONTRACT
 *  relay_queue_open() runs once in main before threads start, as root when
 *  the daemon is started as root: it creates the directories and hands
 *  them to the [service] user by descriptor (fchown), walking the path with
 *  log_path.h so that a symbolic link the service user planted (messages ->
 *  /etc) is refused, not followed; 0 or -errno (ELOOP after a refusal,
 *  which is logged naming the link).  The directory fds stay open for the
 *  life of the process so privileges can be dropped and every later access
 *  is relative (*at()).
 *  relay_queue_new_id() is thread-safe.  relay_queue_recover() runs before
 *  the workers start and does blocking I/O by design, on regular files
 *  only: an entry of incoming/ or messages/ that is not one (a FIFO, a
 *  socket, a device, a symbolic link, a directory) is never opened or
 *  read - its type is looked at first (fstatat, no link followed) and the
 *  open is O_NONBLOCK - but moved to corrupt/ with its kind as the reason,
 *  so start-up always completes.  Nothing here ever deletes a file from
 *  messages/ or corrupt/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "relay_spool.h"

#define RELAY_QUEUE_HEADER_MAX (16u << 20)

static int relay_queue_fds[RELAY_QDIR_COUNT] = { -1, -1, -1 };
static const char *const relay_queue_names[RELAY_QDIR_COUNT] = {
    "incoming", "messages", "corrupt",
};
static _Atomic uint64_t relay_queue_idgen;

/* relay_queue_own - hand an open queue directory to uid:gid (when root) */

static int relay_queue_own(int fd, uid_t uid, gid_t gid)
{
    if (geteuid() == 0 && fchown(fd, uid, gid) < 0)
        return -errno;
    return 0;
}

/* relay_queue_open - create and open the queue directories */

int relay_queue_open(const char *dir, uid_t uid, gid_t gid)
{
    struct timeval tv;
    int top, r;

    if ((top = log_path_open("queue", dir, 0700, LOG_PATH_MKDIR)) < 0)
        return -errno;
    r = relay_queue_own(top, uid, gid);
    for (int i = 0; r == 0 && i < RELAY_QDIR_COUNT; i++) {
        relay_queue_fds[i] = log_path_openat("queue", top, dir, relay_queue_names[i], 0700,
                                             LOG_PATH_MKDIR);
        r = relay_queue_fds[i] < 0 ? -errno : relay_queue_own(relay_queue_fds[i], uid, gid);
    }
    close(top);
    if (r < 0) {
        relay_queue_close();
        return r;
    }
    gettimeofday(&tv, NULL);
    relay_queue_idgen = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    return 0;
}

/* relay_queue_close - close the directory fds */

void relay_queue_close(void)
{
    for (int i = 0; i < RELAY_QDIR_COUNT; i++) {
        if (relay_queue_fds[i] >= 0)
            close(relay_queue_fds[i]);
        relay_queue_fds[i] = -1;
    }
}

/* relay_queue_dirfd - fd of one queue directory */

int relay_queue_dirfd(enum relay_qdir which)
{
    return relay_queue_fds[which];
}

/* relay_queue_new_id - next unique id */

void relay_queue_new_id(char out[RELAY_QID_LEN + 1])
{
    uint64_t v = atomic_fetch_add(&relay_queue_idgen, 1);

    snprintf(out, RELAY_QID_LEN + 1, "%016llX", (unsigned long long)v);
}

/* relay_queue_is_id - 16 uppercase hex digits */

static int relay_queue_is_id(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return i == RELAY_QID_LEN;
}

/* relay_queue_parse_time - "2026-11-22T10:00:00.123Z" to ms since epoch */

static int relay_queue_parse_time(const char *s, size_t len, uint64_t *ms)
{
    struct tm tm = { 0 };
    char tmp[32];
    int msec;

    if (len != 24)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (sscanf(tmp, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &msec) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (uint64_t)timegm(&tm) * 1000u + (uint64_t)msec;
    return 0;
}

/* relay_queue_parse_header - parse up to and including the "data" line */

int relay_queue_parse_header(const char *buf, size_t len, struct relay_qfile *qf,
                                    const char **why)
{
    const char *p = buf, *end = buf + len, *nl;
    int seen_id = 0, seen_sender = 0;

    memset(qf, 0, sizeof(*qf));
    if (len < 5 || memcmp(buf, "DSQ1\n", 5) != 0)
        return (*why = "bad magic"), -1;
    for (p += 5; p < end; p = nl + 1) {
        const char *sp;
        size_t klen, vlen;

        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            return (*why = "truncated header"), -1;
        if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
            return (*why = "malformed header line"), -1;
        klen = (size_t)(sp - p);
        vlen = (size_t)(nl - sp - 1);
        sp++;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
        if (KEY("id")) {
            if (vlen != RELAY_QID_LEN)
                return (*why = "bad id"), -1;
            memcpy(qf->id, sp, vlen);
            qf->id[vlen] = '\0';
            if (!relay_queue_is_id(qf->id))
                return (*why = "bad id"), -1;
            seen_id = 1;
        } else if (KEY("arrival")) {
            if (relay_queue_parse_time(sp, vlen, &qf->arrival_ms) < 0)
                return (*why = "bad arrival time"), -1;
        } else if (KEY("sender")) {
            if (vlen < 2 || sp[0] != '<' || sp[vlen - 1] != '>')
                return (*why = "bad sender"), -1;
            qf->sender = sp + 1;
            qf->sender_len = vlen - 2;
            seen_sender = 1;
        } else if (KEY("rcpt")) {
            if (vlen < 3 || sp[0] != '<' || sp[vlen - 1] != '>')
                return (*why = "bad recipient"), -1;
            qf->nrcpts++;
        } else if (KEY("data")) {
            char hex[RELAY_QID_LEN + 1], *e;

            if (vlen != 16)
                return (*why = "bad data length"), -1;
            memcpy(hex, sp, 16);
            hex[16] = '\0';
            qf->data_len = strtoull(hex, &e, 16);
            if (*e != '\0')
                return (*why = "bad data length"), -1;
            qf->data_off = (uint64_t)(nl + 1 - buf);
            if (!seen_id || !seen_sender || qf->nrcpts == 0)
                return (*why = "incomplete envelope"), -1;
            return 0;
        } else if (!(KEY("connector") || KEY("client") || KEY("helo") || KEY("session")
                     || KEY("body"))) {
            return (*why = "unknown header line"), -1;
        }
#undef KEY
    }
    return (*why = "truncated header"), -1;
}

/* relay_queue_parse - parse a whole queue file held in memory */

int relay_queue_parse(const char *buf, size_t len, struct relay_qfile *qf, const char **why)
{
    if (relay_queue_parse_header(buf, len, qf, why) < 0)
        return -1;
    if (qf->data_len > len - qf->data_off || len - qf->data_off - qf->data_len < 4
        || memcmp(buf + qf->data_off + qf->data_len, "end\n", 4) != 0)
        return (*why = "message data truncated or end marker missing"), -1;
    return 0;
}

/* relay_queue_check_fd - validate an open queue file without reading the body */

static int relay_queue_check_fd(int fd, off_t size, struct relay_qfile *qf, const char **why)
{
    size_t want = (size_t)size < RELAY_QUEUE_HEADER_MAX ? (size_t)size : RELAY_QUEUE_HEADER_MAX;
    char *buf = xmalloc(want), marker[4];
    ssize_t n = pread(fd, buf, want, 0);
    int r = -1;

    if (n < 0)
        *why = "read error";
    else if (relay_queue_parse_header(buf, (size_t)n, qf, why) == 0) {
        uint64_t end = qf->data_off + qf->data_len;

        if (qf->data_len > (uint64_t)size || end + 4 > (uint64_t)size || pread(fd, marker, 4, (off_t)end) != 4
            || memcmp(marker, "end\n", 4) != 0)
            *why = "message data truncated or end marker missing";
        else
            r = 0;
    }
    free(buf);
    return r;
}

/* relay_queue_move_bad - move a bad entry of queue directory dir to corrupt/, never deleting it */

static void relay_queue_move_bad(enum relay_qdir dir, const char *name, const char *why)
{
    int from = relay_queue_fds[dir], to = relay_queue_fds[RELAY_QDIR_CORRUPT];
    char target[NAME_MAX + 16];
    const char *in = dir == RELAY_QDIR_INCOMING ? " dir=incoming" : "";

    snprintf(target, sizeof(target), "%s", name);
    for (int i = 1; renameat2(from, name, to, target, RENAME_NOREPLACE) < 0; i++) {
        if (errno != EEXIST || i > 1000) {
            log_err("queue", 0, "cannot quarantine corrupt file id=%s%s reason=%s", name, in,
                    why);
            return;
        }
        snprintf(target, sizeof(target), "%s.%d", name, i);
    }
    if (fsync(to) < 0 || fsync(from) < 0)
        log_warn("queue", 0, "fsync after quarantine failed");
    log_warnx("queue", 0, "corrupt file id=%s%s moved=corrupt/%s reason=%s", name, in, target,
              why);
}

/* relay_queue_quarantine - move a bad file from messages/ to corrupt/, never deleting it */

void relay_queue_quarantine(const char *name, const char *why)
{
    relay_queue_move_bad(RELAY_QDIR_MESSAGES, name, why);
}

/* relay_queue_kind - "not a regular file (fifo)": why an entry of type mode is refused */

static const char *relay_queue_kind(mode_t mode, char *buf, size_t size)
{
    snprintf(buf, size, "not a regular file (%s)", log_path_kind(mode));
    return buf;
}

/*
 * relay_queue_open_file - open messages/name for reading, never blocking on
 * it: its type is looked at first (fstatat, no link followed), and only a
 * regular file is opened (O_NONBLOCK too, in case a FIFO took its place
 * since: then the descriptor's type is refused).  The fd, or -1 and *why.
 */
static int relay_queue_open_file(const char *name, struct stat *st, const char **why,
                                 char whybuf[64])
{
    int dfd = relay_queue_fds[RELAY_QDIR_MESSAGES], fd;

    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return (*why = "cannot open"), -1;
    if (!S_ISREG(st->st_mode))
        return (*why = relay_queue_kind(st->st_mode, whybuf, 64)), -1;
    if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) < 0
        || fstat(fd, st) < 0) {
        *why = errno == ELOOP ? relay_queue_kind(S_IFLNK, whybuf, 64) : "cannot open";
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        *why = relay_queue_kind(st->st_mode, whybuf, 64);
        close(fd);
        return -1;
    }
    return fd;
}

/* relay_queue_recover - scan the queue at start */

int relay_queue_recover(size_t *nmessages, size_t *ncorrupt)
{
    uint64_t maxid = 0;
    struct dirent *de;
    size_t stale = 0;
    char whybuf[64];
    DIR *d;
    int fd;

    *nmessages = *ncorrupt = 0;
    /* incoming/: never acknowledged, so never promised to anyone. */
    if ((fd = dup(relay_queue_fds[RELAY_QDIR_INCOMING])) < 0 || (d = fdopendir(fd)) == NULL)
        return -errno;
    rewinddir(d);                       /* a dup shares the directory offset */
    while ((de = readdir(d)) != NULL) {
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        /* Not a file we write (a FIFO, a link, ...): kept, moved aside, reported. */
        if (fstatat(relay_queue_fds[RELAY_QDIR_INCOMING], de->d_name, &st,
                    AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
            relay_queue_move_bad(RELAY_QDIR_INCOMING, de->d_name,
                                 relay_queue_kind(st.st_mode, whybuf, sizeof(whybuf)));
            (*ncorrupt)++;
        } else if (unlinkat(relay_queue_fds[RELAY_QDIR_INCOMING], de->d_name, 0) == 0)
            stale++;
    }
    closedir(d);
    if (stale > 0)
        log_info("queue", 0, "removed unacknowledged incoming files count=%zu", stale);

    if ((fd = dup(relay_queue_fds[RELAY_QDIR_MESSAGES])) < 0 || (d = fdopendir(fd)) == NULL)
        return -errno;
    rewinddir(d);                       /* a dup shares the directory offset */
    while ((de = readdir(d)) != NULL) {
        struct relay_qfile qf;
        const char *why = "not a queue file name";
        struct stat st;
        int mfd = -1, ok = 0;

        if (de->d_name[0] == '.')
            continue;
        if (relay_queue_is_id(de->d_name)) {
            if ((mfd = relay_queue_open_file(de->d_name, &st, &why, whybuf)) < 0)
                ;                       /* why says which */
            else if (relay_queue_check_fd(mfd, st.st_size, &qf, &why) == 0) {
                if (strcmp(qf.id, de->d_name) != 0)
                    why = "id does not match file name";
                else
                    ok = 1;
            }
            if (mfd >= 0)
                close(mfd);
        }
        if (ok) {
            uint64_t v = strtoull(de->d_name, NULL, 16);

            maxid = v > maxid ? v : maxid;
            (*nmessages)++;
        } else {
            relay_queue_quarantine(de->d_name, why);
            (*ncorrupt)++;
        }
    }
    closedir(d);
    /* Never reuse an id still in the queue, even if the clock went back. */
    if (maxid >= relay_queue_idgen)
        relay_queue_idgen = maxid + 1;
    return 0;
}
