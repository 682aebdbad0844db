/*
 * relay_queue.c - queue directories, ids, the queue-file format, recovery.
 *
 * FILE FORMAT (text header, raw message, append-only state log)
 *
 *   DSQ1\n
 *   id <16 hex>\n  arrival <ISO-8601 UTC ms>\n  connector <name>\n
 *   client <ip:port>\n  helo <name>\n  session <16 hex>\n
 *   [body 7BIT|8BITMIME\n]  [requiretls yes\n]  sender <addr>\n  rcpt <addr>\n ...
 *   data <16 hex: message length>\n
 *   <message bytes>
 *   end\n
 *   [tls-required no\n]
 *   <state records appended by delivery, one per line>
 *
 *  The message length is written last (pwrite over a placeholder) so a
 *  file whose length and "end" marker do not agree was never completed.
 *  Parsing accepts what the writer writes and nothing looser: each line
 *  but rcpt at most once ("repeated header line"), id, arrival, sender
 *  and a rcpt required, the length exactly 16 upper-case hex digits, the
 *  time exactly its digits, no NUL in a line and no control character
 *  inside <...>; anything else is damage, quarantined by recovery and
 *  refused by relay_qmsg_load alike (both use relay_queue_parse_header).
 *  "requiretls yes" (RFC 8689: MAIL FROM:<...> REQUIRETLS) is the only
 *  value of its line; a file without the line is read as before (no
 *  REQUIRETLS).  An older domsec refuses a file with it as damage, which
 *  is meant: it would otherwise send the message without the guarantee.
 *  "tls-required no" (the header field TLS-Required: No, seen only once
 *  the header section has been read) is the first record after "end",
 *  written by the commit with it (relay_spool_set_record); older versions
 *  skip it as an unknown record, which only makes them stricter.
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
#include "relay_qmsg.h"
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
    relay_qmsg_stash_clear();
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

/* relay_queue_digits - n decimal digits at s, nothing else, into *v */

static int relay_queue_digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* relay_queue_parse_time - "2026-11-22T10:00:00.123Z" to ms since epoch:
 * exactly the digits and separators the writer puts (strftime of gmtime),
 * a real date and time; no sign, space or short field as sscanf took */

static int relay_queue_parse_time(const char *s, size_t len, uint64_t *ms)
{
    static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    struct tm tm = { 0 }, back;
    time_t t;
    int msec;

    if (len != sizeof(form) - 1)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (form[i] != 'd' && s[i] != form[i])
            return -1;
    if (relay_queue_digits(s, 4, &tm.tm_year) < 0 || relay_queue_digits(s + 5, 2, &tm.tm_mon) < 0
        || relay_queue_digits(s + 8, 2, &tm.tm_mday) < 0
        || relay_queue_digits(s + 11, 2, &tm.tm_hour) < 0
        || relay_queue_digits(s + 14, 2, &tm.tm_min) < 0
        || relay_queue_digits(s + 17, 2, &tm.tm_sec) < 0
        || relay_queue_digits(s + 20, 3, &msec) < 0)
        return -1;
    if (tm.tm_year < 1970)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    back = tm;
    /* A time gmtime gives back as it is (timegm moves 02-31, 13:60, ...). */
    if ((t = timegm(&back)) == (time_t)-1 || gmtime_r(&t, &back) == NULL
        || back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon || back.tm_mday != tm.tm_mday
        || back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
        return -1;
    *ms = (uint64_t)t * 1000u + (uint64_t)msec;
    return 0;
}

/* relay_queue_hex16 - the data length as the writer puts it: exactly 16
 * upper-case hex digits (strtoull also took spaces, a sign and "0x") */

static int relay_queue_hex16(const char *s, size_t len, uint64_t *v)
{
    *v = 0;
    if (len != 16)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            *v = *v << 4 | (uint64_t)(s[i] - '0');
        else if (s[i] >= 'A' && s[i] <= 'F')
            *v = *v << 4 | (uint64_t)(s[i] - 'A' + 10);
        else
            return -1;
    }
    return 0;
}

/* relay_queue_path - "<addr>" with at least min bytes inside and no
 * control character (the receive side writes none; a NUL would cut the
 * address the loader keeps, a CR would reach an SMTP command line) */

static int relay_queue_path(const char *v, size_t len, size_t min)
{
    if (len < min + 2 || v[0] != '<' || v[len - 1] != '>')
        return -1;
    for (size_t i = 1; i + 1 < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return -1;
    return 0;
}

/* The header lines, in the order the writer puts them; every one but rcpt
 * at most once ("data", the last, ends the header). */
enum relay_qkey {
    QK_ID, QK_ARRIVAL, QK_CONNECTOR, QK_CLIENT, QK_HELO, QK_SESSION, QK_BODY, QK_REQUIRETLS,
    QK_SENDER, QK_RCPT, QK_DATA, QK_COUNT
};
static const char *const relay_queue_keys[QK_COUNT] = {
    "id", "arrival", "connector", "client", "helo", "session", "body", "requiretls", "sender",
    "rcpt", "data",
};

/* relay_queue_key - which header line key (klen bytes) is, or QK_COUNT */

static enum relay_qkey relay_queue_key(const char *key, size_t klen)
{
    int k;

    for (k = 0; k < QK_COUNT; k++)
        if (strlen(relay_queue_keys[k]) == klen && memcmp(key, relay_queue_keys[k], klen) == 0)
            break;
    return (enum relay_qkey)k;
}

/* relay_queue_parse_header - parse up to and including the "data" line */

int relay_queue_parse_header(const char *buf, size_t len, struct relay_qfile *qf,
                                    const char **why)
{
    const char *p = buf, *end = buf + len, *nl;
    unsigned seen = 0;

    memset(qf, 0, sizeof(*qf));
    if (len < 5 || memcmp(buf, "DSQ1\n", 5) != 0)
        return (*why = "bad magic"), -1;
    for (p += 5; p < end; p = nl + 1) {
        const char *sp;
        size_t vlen;
        enum relay_qkey k;

        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            return (*why = "truncated header"), -1;
        if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
            return (*why = "malformed header line"), -1;
        if ((k = relay_queue_key(p, (size_t)(sp - p))) == QK_COUNT)
            return (*why = "unknown header line"), -1;
        if (k != QK_RCPT && (seen & 1u << k))
            return (*why = "repeated header line"), -1;
        seen |= 1u << k;
        vlen = (size_t)(nl - sp - 1);
        sp++;
        /* The writer's strings are C strings: a NUL is damage in any line. */
        if (memchr(sp, '\0', vlen) != NULL && k != QK_SENDER && k != QK_RCPT)
            return (*why = "NUL in header line"), -1;
        switch (k) {
        case QK_ID:
            if (vlen != RELAY_QID_LEN)
                return (*why = "bad id"), -1;
            memcpy(qf->id, sp, vlen);
            qf->id[vlen] = '\0';
            if (!relay_queue_is_id(qf->id))
                return (*why = "bad id"), -1;
            break;
        case QK_ARRIVAL:
            if (relay_queue_parse_time(sp, vlen, &qf->arrival_ms) < 0)
                return (*why = "bad arrival time"), -1;
            break;
        case QK_REQUIRETLS:            /* the writer's only value */
            if (vlen != 3 || memcmp(sp, "yes", 3) != 0)
                return (*why = "bad requiretls"), -1;
            qf->requiretls = true;
            break;
        case QK_SENDER:
            if (relay_queue_path(sp, vlen, 0) < 0)
                return (*why = "bad sender"), -1;
            qf->sender = sp + 1;
            qf->sender_len = vlen - 2;
            break;
        case QK_RCPT:
            if (relay_queue_path(sp, vlen, 1) < 0)
                return (*why = "bad recipient"), -1;
            qf->nrcpts++;
            break;
        case QK_DATA:
            if (relay_queue_hex16(sp, vlen, &qf->data_len) < 0)
                return (*why = "bad data length"), -1;
            qf->data_off = (uint64_t)(nl + 1 - buf);
            if (!(seen & 1u << QK_ID) || !(seen & 1u << QK_ARRIVAL)
                || !(seen & 1u << QK_SENDER) || qf->nrcpts == 0)
                return (*why = "incomplete envelope"), -1;
            return 0;
        default:                        /* connector, client, helo, session, body */
            break;
        }
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
