/*
 * relay_pcert.c - keep the certificate chain each partner presents as a
 * client, once per leaf thumbprint (relay_pcert.h).
 *
 * Writing THUMBPRINT.pem (on libuv's thread pool): the PEM text of the
 * chain as sent goes to .THUMBPRINT.pem.tmp, created with O_CREAT | O_EXCL
 * | O_NOFOLLOW relative to the directory's descriptor (a link planted at
 * that name is not followed: the create fails), mode 0640 set with
 * fchmod whatever the umask, fsync'ed, then renamed over THUMBPRINT.pem.
 * rename() replaces a directory entry and never follows a link there, so
 * a symbolic link planted at the final name is replaced, not written
 * through (and logged).  The directory is fsync'ed after the rename, so a
 * crash leaves either no file or the whole one; a lost file costs nothing
 * but a second write at the partner's next connection after the restart.
 * The files are owned by the user the workers run as (the [service] user).
 *
 * CONTRACT
 *  relay_pcert_open/close run on the main thread (close after the workers
 *  have ended); relay_pcert_saw on any worker thread, with its own loop.
 *  The set is touched only under pc->lock.  A thumbprint enters the set
 *  before its write starts and stays there whatever the write's outcome:
 *  a failed write (logged) is not retried until the next start, so a
 *  directory that cannot be written costs one attempt per certificate, not
 *  one per connection.  When the set holds RELAY_PCERT_MAX thumbprints a
 *  new one evicts the oldest from the set, and the job that writes the new
 *  file first deletes the oldest one (unlinkat on the directory's
 *  descriptor: a link there is removed, never followed).  New files pass
 *  the token bucket, under the same lock; one refused is counted, and the
 *  count is shown (then reset) by the next "saved" line.  A file deleted
 *  while the daemon runs is written again only after a restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "relay_pcert.h"

struct relay_pcert {
    char   *path;                       /* owned: the directory, for messages */
    int     dirfd;                      /* O_DIRECTORY, for the process's life */
    uv_mutex_t lock;
    struct relay_pcert_set set;         /* under lock */
    struct relay_pcert_bucket bucket;   /* under lock */
    uint64_t skipped;                   /* under lock: refused by the bucket, not yet told */
};

struct pcert_job {                      /* one write, owned by the request */
    uv_work_t req;
    struct relay_pcert *pc;             /* not owned; outlives the loop */
    uint64_t sid;
    char    name[RELAY_PCERT_NAME];
    char    evict[RELAY_PCERT_NAME];    /* the oldest file, deleted first, or "" */
    uint64_t skipped;                   /* refused by the rate limit before this one */
    struct tls_crl_cert chain[RELAY_PCERT_CHAIN];   /* der owned */
    size_t  n;
    /* The outcome, from the work to the after-work callback. */
    int     err;                        /* errno of the step that failed, or 0 */
    const char *step;                   /* "encode", "create", "write", ... */
    bool    link_replaced;              /* a symbolic link stood at name */
};

/* relay_pcert_key - 40 hex digits as 20 bytes */

bool relay_pcert_key(const char *hex, size_t len, unsigned char key[20])
{
    static const char digits[] = "0123456789abcdef";

    if (len != 40)
        return false;
    for (size_t i = 0; i < 40; i++) {
        const char *d = strchr(digits, hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a'
                                                                         : hex[i]);

        if (hex[i] == '\0' || d == NULL)
            return false;
        if (i % 2 == 0)
            key[i / 2] = (unsigned char)((d - digits) << 4);
        else
            key[i / 2] |= (unsigned char)(d - digits);
    }
    return true;
}

/* pcert_key_name - "HEX.pem" of a key */

static void pcert_key_name(char out[RELAY_PCERT_NAME], const unsigned char key[20])
{
    for (size_t i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02X", key[i]);
    memcpy(out + 40, ".pem", 5);
}

/* relay_pcert_name - "HEX.pem" of a thumbprint */

bool relay_pcert_name(char out[RELAY_PCERT_NAME], const char *thumbprint)
{
    unsigned char key[20];

    out[0] = '\0';
    if (!relay_pcert_key(thumbprint, strlen(thumbprint), key))
        return false;
    pcert_key_name(out, key);
    return true;
}

/* relay_pcert_set_init - an empty set of at most max */

void relay_pcert_set_init(struct relay_pcert_set *s, size_t max)
{
    memset(s, 0, sizeof(*s));
    s->max = max;
}

/* pcert_home - key's first slot */

static size_t pcert_home(const struct relay_pcert_set *s, const unsigned char key[20])
{
    uint64_t h;

    memcpy(&h, key, sizeof(h));         /* SHA-1 bytes: already uniform */
    return (size_t)h & (s->cap - 1);
}

/* pcert_slot - key's slot: its own, or the empty one where it would go */

static size_t pcert_slot(const struct relay_pcert_set *s, const unsigned char key[20])
{
    size_t  i;

    for (i = pcert_home(s, key); s->used[i]; i = (i + 1) & (s->cap - 1))
        if (memcmp(s->keys[i], key, 20) == 0)
            break;
    return i;
}

/* relay_pcert_set_has - key is a member */

bool relay_pcert_set_has(const struct relay_pcert_set *s, const unsigned char key[20])
{
    return s->cap > 0 && s->used[pcert_slot(s, key)];
}

/* pcert_set_grow - twice the slots (at least 64), every member placed again */

static void pcert_set_grow(struct relay_pcert_set *s)
{
    struct relay_pcert_set old = *s;

    s->cap = old.cap ? old.cap * 2 : 64;
    s->keys = xcalloc(s->cap, sizeof(*s->keys));
    s->used = xcalloc(s->cap, 1);
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i]) {
            size_t  j = pcert_slot(s, old.keys[i]);

            memcpy(s->keys[j], old.keys[i], 20);
            s->used[j] = 1;
        }
    free(old.keys);
    free(old.used);
}

/* pcert_set_del - remove a member: the ones after it in its run move back
 * (linear probing without tombstones: every member stays reachable) */

static void pcert_set_del(struct relay_pcert_set *s, const unsigned char key[20])
{
    size_t  i = pcert_slot(s, key), j = i, k;

    if (!s->used[i])
        return;
    s->used[i] = 0;
    s->n--;
    for (;;) {
        j = (j + 1) & (s->cap - 1);
        if (!s->used[j])
            return;
        k = pcert_home(s, s->keys[j]);
        /* j's member stays when its home is cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        memcpy(s->keys[i], s->keys[j], 20);
        s->used[i] = 1;
        s->used[j] = 0;
        i = j;
    }
}

/* relay_pcert_set_add - add key unless it is there; past max the oldest goes */

int relay_pcert_set_add(struct relay_pcert_set *s, const unsigned char key[20],
                        unsigned char evicted[20])
{
    size_t  i;
    int     added = 1;

    if (relay_pcert_set_has(s, key) || s->max == 0)
        return 0;
    if (s->order == NULL)
        s->order = xcalloc(s->max, sizeof(*s->order));
    if (s->n >= s->max) {               /* the ring is full: its head is the oldest */
        memcpy(evicted, s->order[s->head], 20);
        pcert_set_del(s, evicted);
        s->head = (s->head + 1) % s->max;
        added = 2;
    }
    if ((s->n + 1) * 2 > s->cap)        /* at most half full: short probes */
        pcert_set_grow(s);
    i = pcert_slot(s, key);
    memcpy(s->keys[i], key, 20);
    s->used[i] = 1;
    memcpy(s->order[(s->head + s->n) % s->max], key, 20);
    s->n++;
    return added;
}

/* relay_pcert_set_free - release the slots */

void relay_pcert_set_free(struct relay_pcert_set *s)
{
    free(s->keys);
    free(s->used);
    free(s->order);
    relay_pcert_set_init(s, s->max);
}

/* relay_pcert_bucket_take - one new file allowed at now_ms, or not */

bool relay_pcert_bucket_take(struct relay_pcert_bucket *b, uint64_t now_ms)
{
    const uint64_t full = (uint64_t)RELAY_PCERT_BURST * RELAY_PCERT_EVERY_MS;

    if (!b->started) {                  /* starts full */
        b->started = true;
        b->credit_ms = full;
        b->last_ms = now_ms;
    } else if (now_ms > b->last_ms) {   /* a clock going back adds nothing */
        uint64_t d = now_ms - b->last_ms;

        b->credit_ms = d >= full - b->credit_ms ? full : b->credit_ms + d;
        b->last_ms = now_ms;
    }
    if (b->credit_ms < RELAY_PCERT_EVERY_MS)
        return false;
    b->credit_ms -= RELAY_PCERT_EVERY_MS;
    return true;
}

/* relay_pcert_check - an existing partner_certificate_directory is a directory */

void relay_pcert_check(const struct config *cfg, struct cfg_errors *errs)
{
    const char *d = cfg->transport.partner_certificate_directory;
    struct stat st;

    if (d == NULL || d[0] == '\0' || lstat(d, &st) < 0 || S_ISDIR(st.st_mode))
        return;
    policy_config_error(errs, cfg, policy_config_line(cfg, &cfg->transport,
                                                      "partner_certificate_directory"),
                        "partner_certificate_directory %s exists and is not a directory", d);
}

struct pcert_file {                     /* a file found at start */
    unsigned char key[20];
    struct timespec mtime;
};

/* pcert_file_cmp - qsort: oldest first (mtime, then thumbprint) */

static int pcert_file_cmp(const void *a, const void *b)
{
    const struct pcert_file *x = a, *y = b;

    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return memcmp(x->key, y->key, 20);
}

/* pcert_learn - the THUMBPRINT.pem files already there, oldest first, the
 * oldest past RELAY_PCERT_MAX deleted; stale temporary files go */

static void pcert_learn(struct relay_pcert *pc)
{
    int     fd = dup(pc->dirfd);
    DIR    *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    struct pcert_file *v = NULL;
    size_t  n = 0, cap = 0, gone = 0;
    unsigned char key[20], old[20];
    char    name[RELAY_PCERT_NAME];

    if (dir == NULL) {
        log_warn("smtpd", 0, "cannot list partner_certificate_directory %s", pc->path);
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        size_t  len = strlen(e->d_name);
        struct stat st;

        if (len == 1 + 44 + 4 && e->d_name[0] == '.' && strcmp(e->d_name + 41, ".pem.tmp") == 0
            && relay_pcert_key(e->d_name + 1, 40, key)) {
            (void)unlinkat(pc->dirfd, e->d_name, 0);    /* an interrupted write */
            continue;
        }
        if (len != 44 || strcmp(e->d_name + 40, ".pem") != 0
            || !relay_pcert_key(e->d_name, 40, key)
            || fstatat(pc->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
            || !S_ISREG(st.st_mode))
            continue;                   /* not ours (a link is replaced when written) */
        if (n == cap)
            v = xrealloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));
        memcpy(v[n].key, key, 20);
        v[n++].mtime = st.st_mtim;
    }
    closedir(dir);
    if (n > 0)
        qsort(v, n, sizeof(*v), pcert_file_cmp);
    for (size_t i = 0; i < n; i++)
        if (relay_pcert_set_add(&pc->set, v[i].key, old) == 2) {
            pcert_key_name(name, old);
            gone += unlinkat(pc->dirfd, name, 0) == 0;
        }
    free(v);
    if (gone > 0)
        log_info("smtpd", 0, "partner_certificate_directory %s: %zu oldest certificates "
                 "deleted (at most %d are kept)", pc->path, gone, RELAY_PCERT_MAX);
}

/* relay_pcert_open - the directory, opened for the process's life, and what it holds */

struct relay_pcert *relay_pcert_open(const struct config *cfg, uid_t uid, gid_t gid)
{
    const char *path = cfg->transport.partner_certificate_directory;
    struct relay_pcert *pc;
    struct stat st;
    bool    existed;
    int     fd;

    if (path == NULL || path[0] == '\0')
        return NULL;
    existed = lstat(path, &st) == 0;
    if ((fd = log_path_open("smtpd", path, 0750, LOG_PATH_MKDIRS)) < 0) {
        log_err("smtpd", 0, "cannot open partner_certificate_directory %s: partner "
                "certificates are not kept", path);
        return NULL;
    }
    /* Only a directory made here is handed over: an existing one (a setting
     * naming, say, /etc/x by mistake) is never given to the service user. */
    if (existed && geteuid() == 0
        && (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != uid)
            || (st.st_mode & S_IWOTH) != 0)) {
        log_err("smtpd", 0, "partner_certificate_directory %s exists and is not owned by root "
                "or uid %ld, or is writable by others: partner certificates are not kept "
                "(make it owned by the [service] user, mode 0750, or name another one)",
                path, (long)uid);
        close(fd);
        return NULL;
    }
    if (!existed && geteuid() == 0 && fchown(fd, uid, gid) < 0) {
        log_err("smtpd", 0, "cannot hand partner_certificate_directory %s to uid %ld: "
                "partner certificates are not kept", path, (long)uid);
        close(fd);
        return NULL;
    }
    pc = xcalloc(1, sizeof(*pc));
    pc->path = xstrdup(path);
    pc->dirfd = fd;
    uv_mutex_init(&pc->lock);
    relay_pcert_set_init(&pc->set, RELAY_PCERT_MAX);
    pcert_learn(pc);
    log_info("smtpd", 0, "partner certificates directory=%s known=%zu", path, pc->set.n);
    return pc;
}

/* pcert_write_all - the whole buffer to fd */

static int pcert_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* pcert_work - encode, write, sync, rename (thread pool) */

static void pcert_work(uv_work_t *req)
{
    struct pcert_job *j = req->data;
    int     dirfd = j->pc->dirfd, fd = -1;
    char    tmp[1 + RELAY_PCERT_NAME + 4];
    size_t  len = 0;
    char   *pem = tls_chain_pem(j->chain, j->n, &len);
    struct stat st;

    snprintf(tmp, sizeof(tmp), ".%s.tmp", j->name);
    if (pem == NULL) {
        j->step = "encode";
        j->err = EINVAL;
        return;
    }
    (void)unlinkat(dirfd, tmp, 0);      /* never a link: unlink removes the entry */
    if (j->evict[0] != '\0')             /* the oldest goes: at most RELAY_PCERT_MAX */
        (void)unlinkat(dirfd, j->evict, 0);
    j->step = "create";
    if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0640)) < 0)
        goto fail;
    j->step = "write";
    if (fchmod(fd, 0640) < 0 || pcert_write_all(fd, pem, len) < 0 || fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    j->link_replaced = fstatat(dirfd, j->name, &st, AT_SYMLINK_NOFOLLOW) == 0
                       && S_ISLNK(st.st_mode);
    j->step = "rename";
    if (renameat(dirfd, tmp, dirfd, j->name) < 0)
        goto fail;
    j->step = "sync directory";
    if (fsync(dirfd) < 0)
        goto fail;
    free(pem);
    return;
fail:
    j->err = errno;
    if (fd >= 0)
        close(fd);
    (void)unlinkat(dirfd, tmp, 0);
    free(pem);
}

/* pcert_job_free - the copies and the job */

static void pcert_job_free(struct pcert_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        free((void *)(uintptr_t)j->chain[i].der);
    free(j);
}

/* pcert_done - the write's outcome, logged on the worker's loop */

static void pcert_done(uv_work_t *req, int status)
{
    struct pcert_job *j = req->data;
    char    skipped[48] = "";

    if (j->skipped > 0)
        snprintf(skipped, sizeof(skipped), " rate_limited=%llu", (unsigned long long)j->skipped);

    if (status == 0 && j->err == 0)
        log_info("smtpd", j->sid, "partner certificate saved file=%s/%s certificates=%zu%s%s%s"
                 "%s", j->pc->path, j->name, j->n, j->evict[0] ? " evicted=" : "", j->evict,
                 skipped, j->link_replaced ? " (a symbolic link there was replaced, not followed)" : "");
    else
        log_warnx("smtpd", j->sid, "partner certificate not saved file=%s/%s error=\"%s: %s\" "
                  "(not tried again until domsecd restarts)", j->pc->path, j->name,
                  j->step ? j->step : "queue", strerror(status ? ECANCELED : j->err));
    pcert_job_free(j);
}

/* relay_pcert_saw - a client certificate: save its chain unless known */

void relay_pcert_saw(struct relay_pcert *pc, uv_loop_t *loop, const struct tls_conn *conn,
                     const char *thumbprint, uint64_t sid)
{
    struct tls_crl_cert sent[RELAY_PCERT_CHAIN];
    const struct tls_facts *f;
    struct pcert_job *j;
    unsigned char key[20], old[20];
    uint64_t skipped = 0;
    size_t  n;
    int     added = 0;

    if (pc == NULL || !relay_pcert_key(thumbprint, strlen(thumbprint), key))
        return;
    uv_mutex_lock(&pc->lock);
    if (relay_pcert_set_has(&pc->set, key)) {
        ;                               /* kept already: the common case */
    } else if (!relay_pcert_bucket_take(&pc->bucket, uv_hrtime() / 1000000)) {
        pc->skipped++;                  /* not in the set: its next connection tries again */
    } else {
        added = relay_pcert_set_add(&pc->set, key, old);
        skipped = pc->skipped;
        pc->skipped = 0;
    }
    uv_mutex_unlock(&pc->lock);
    if (added == 0)                     /* known, or over the rate: nothing logged */
        return;
    /* A resumed session may have no chain of its own: its leaf, at least. */
    if ((n = tls_conn_peer_chain(conn, sent, RELAY_PCERT_CHAIN)) == 0
        && (f = tls_conn_facts(conn)) != NULL && f->peer_der != NULL) {
        sent[0] = (struct tls_crl_cert){ f->peer_der, f->peer_der_len };
        n = 1;
    }
    j = xcalloc(1, sizeof(*j));
    j->pc = pc;
    j->sid = sid;
    j->skipped = skipped;
    (void)relay_pcert_name(j->name, thumbprint);
    if (added == 2)
        pcert_key_name(j->evict, old);
    for (size_t i = 0; i < n; i++) {
        unsigned char *der = xmalloc(sent[i].len);

        memcpy(der, sent[i].der, sent[i].len);
        j->chain[j->n++] = (struct tls_crl_cert){ der, sent[i].len };
    }
    j->req.data = j;
    if (n == 0 || uv_queue_work(loop, &j->req, pcert_work, pcert_done) != 0) {
        log_warnx("smtpd", sid, "partner certificate not saved file=%s/%s error=\"%s\"",
                  pc->path, j->name, n == 0 ? "no certificate to save" : "cannot queue");
        pcert_job_free(j);
    }
}

/* relay_pcert_close - the end */

void relay_pcert_close(struct relay_pcert *pc)
{
    if (pc == NULL)
        return;
    close(pc->dirfd);
    uv_mutex_destroy(&pc->lock);
    relay_pcert_set_free(&pc->set);
    free(pc->path);
    free(pc);
}
