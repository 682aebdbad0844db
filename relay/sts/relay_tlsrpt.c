/*
 * relay_tlsrpt.c - the TLS-RPT recorder of the queue manager (RFC 8460):
 * notes, the day files, the minute tick and the close.
 *
 * Today's counts live in memory (a json_t day, relay_tlsrpt_data.c).  At
 * start, today's file is read back on the pool and merged with what was
 * noted meanwhile; until then nothing is written (so a restart never
 * overwrites the morning's counts; a file that cannot be read or parsed
 * is renamed to DAY.json.unreadable.TIME and never written over).  Every
 * minute (a timer that does not keep the loop alive) a changed day is
 * handed to the pool, serialized and written there (DAY.json, tmp + fsync
 * + rename), while a fresh day takes the notes; when the write is over,
 * those are merged back (a failed write keeps everything for the next
 * tick).  At UTC midnight the old day is written once more and a new one
 * begins; the close writes the rest.  A crash loses the notes of at most
 * the last minute (power loss: see log_write_file on the directory).
 *
 * The daily pass: once per UTC day, at 00:00 + a random part of
 * tlsrpt_send_delay, yesterday's reports are sent (relay_tlsrpt_send.c);
 * a daemon started later that day catches up at its first tick.  Only
 * yesterday is caught up: a day before that (the daemon was down over two
 * midnights) is sent only by `domsec tlsrpt send --day DAY`.
 *
 * CONTRACT
 *  Everything on the owner's loop (env->w->loop).  relay_tlsrpt_note
 *  borrows its input for the call, copies what it keeps and returns: no
 *  I/O, no callback, cannot fail.  relay_tlsrpt_close calls done later,
 *  once, after the last write and send have ended and t is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_path.h"
#include "log_util.h"
#include "policy_config.h"
#include "policy_sts.h"
#include "relay_tlsrpt_int.h"
#include "relay_worker.h"

#define TLSRPT_TICK_MS   60000          /* write and look for due reports this often */

struct tlsrpt_work {                    /* one job on libuv's pool */
    uv_work_t req;
    struct relay_tlsrpt *t;
    void  (*fn)(void *);
    void  (*after)(struct relay_tlsrpt *, void *);
    void   *arg;
};

struct tlsrpt_file {                    /* a day file to read or write */
    char   *dir;
    char    day[11];
    json_t *json;                       /* owned: write: the day (the pool's alone meanwhile);
                                         * read: what was read, or NULL */
    char   *moved;                      /* read: an unreadable file was renamed to this */
    char   *why;                        /* read: why it was unreadable */
    int     err;                        /* 0 or -errno */
};

/* ---- the pool ----------------------------------------------------------- */

static void tlsrpt_work_fn(uv_work_t *req)
{
    struct tlsrpt_work *w = req->data;

    w->fn(w->arg);
}

static void tlsrpt_work_done(uv_work_t *req, int status)
{
    struct tlsrpt_work *w = req->data;
    struct relay_tlsrpt *t = w->t;

    (void)status;                       /* never canceled: uv_cancel is not used */
    w->after(t, w->arg);
    free(w);
    t->busy--;
    relay__tlsrpt_maybe_done(t);
}

/* relay__tlsrpt_pool - run fn(arg) on the pool, then after(t, arg) here */

void relay__tlsrpt_pool(struct relay_tlsrpt *t, void (*fn)(void *arg),
                        void (*after)(struct relay_tlsrpt *t, void *arg), void *arg)
{
    struct tlsrpt_work *w = xcalloc(1, sizeof(*w));

    w->t = t;
    w->fn = fn;
    w->after = after;
    w->arg = arg;
    w->req.data = w;
    t->busy++;
    if (uv_queue_work(&t->env.w->loop, &w->req, tlsrpt_work_fn, tlsrpt_work_done) != 0)
        log_panic("tlsrpt", "uv_queue_work refused");
}

/* ---- names and files ---------------------------------------------------- */

/* relay__tlsrpt_names - relay_tlsrpt_names of the current configuration */

void relay__tlsrpt_names(struct relay_tlsrpt_names *n)
{
    struct config *cfg = policy_config_current();

    relay_tlsrpt_names(cfg, n);
    policy_config_unref(cfg);
}

/* relay__tlsrpt_write - dir/name atomically; 0 or -errno.  Blocking (the pool). */

int relay__tlsrpt_write(const char *dir, const char *name, const char *text)
{
    int fd = log_path_open("tlsrpt", dir, 0700, LOG_PATH_MKDIRS);

    if (fd < 0)
        return -errno;
    close(fd);
    return log_write_file(dir, name, text, strlen(text)) < 0 ? -errno : 0;
}

/* relay__tlsrpt_append - append line + "\n" to dir/name and fsync; 0 or -errno.
 * Blocking (the pool). */

int relay__tlsrpt_append(const char *dir, const char *name, const char *line)
{
    char *path = xasprintf("%s/%s", dir, name), *text = xasprintf("%s\n", line);
    size_t len = strlen(text), off = 0;
    int fd = log_path_open("tlsrpt", dir, 0700, LOG_PATH_MKDIRS), err = 0;

    if (fd >= 0)
        close(fd);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        err = -errno;
    while (err == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno != EINTR)
            err = -errno;
        else if (n > 0)
            off += (size_t)n;
    }
    if (fd >= 0 && err == 0 && fsync(fd) < 0)
        err = -errno;
    if (fd >= 0)
        close(fd);
    free(path);
    free(text);
    return err;
}

/* relay__tlsrpt_sent_read - DAY.sent plus DAY.sent.log's records: domain ->
 * record (a new object; empty if neither is there).  A torn last line (a
 * crash in the append) is not JSON and is skipped.  Blocking (the pool). */

json_t *relay__tlsrpt_sent_read(const char *dir, const char *day)
{
    char *path = xasprintf("%s/%s.sent", dir, day);
    unsigned char *data = NULL;
    size_t len = 0;
    json_t *sent = NULL;

    if (log_read_file(path, TLSRPT_MAX_FILE, &data, &len, NULL) == 0)
        sent = json_loads((char *)data, 0, NULL);
    if (!json_is_object(sent)) {
        json_decref(sent);
        sent = json_object();
    }
    free(data);
    free(path);
    data = NULL;
    path = xasprintf("%s/%s.sent.log", dir, day);
    if (log_read_file(path, TLSRPT_MAX_FILE, &data, &len, NULL) == 0) {
        for (char *p = (char *)data, *nl; p < (char *)data + len; p = nl + 1) {
            json_t *rec;
            const char *dom;

            if ((nl = memchr(p, '\n', (size_t)((char *)data + len - p))) == NULL)
                break;
            *nl = '\0';
            rec = json_loads(p, 0, NULL);
            if ((dom = json_string_value(json_object_get(rec, "domain"))) != NULL)
                json_object_set(sent, dom, rec);
            json_decref(rec);
        }
    }
    free(data);
    free(path);
    return sent;
}

static void tlsrpt_file_free(struct tlsrpt_file *f)
{
    free(f->dir);
    json_decref(f->json);
    free(f->moved);
    free(f->why);
    free(f);
}

/* tlsrpt_read_fn - read and parse DAY.json (pool); one that cannot be read or
 * parsed is renamed out of the way, so the next write does not overwrite it */

static void tlsrpt_read_fn(void *arg)
{
    struct tlsrpt_file *f = arg;
    char *path = xasprintf("%s/%s.json", f->dir, f->day);
    unsigned char *data = NULL;
    json_error_t jerr;
    size_t len = 0;

    f->err = log_read_file(path, TLSRPT_MAX_FILE, &data, &len, NULL) < 0 ? -errno : 0;
    if (f->err == 0 && (f->json = json_loads((char *)data, 0, &jerr)) == NULL)
        f->why = xasprintf("not JSON (%s line %d)", jerr.text, jerr.line);
    else if (f->err == 0 && (!json_is_array(json_object_get(f->json, "policies"))
                             || !json_is_string(json_object_get(f->json, "day"))))
        f->why = xstrdup("not a day file");
    else if (f->err != 0 && f->err != -ENOENT)
        f->why = xstrdup(strerror(-f->err));
    if (f->why == NULL && f->json != NULL) {     /* indexed (and capped) here, not on the loop */
        json_t *day = relay_tlsrpt_day_new(f->day);

        relay_tlsrpt_day_merge(day, f->json);
        json_decref(f->json);
        f->json = day;
    }
    if (f->why != NULL) {
        json_decref(f->json);
        f->json = NULL;
        f->moved = xasprintf("%s.unreadable.%lld", path, (long long)time(NULL));
        if (rename(path, f->moved) < 0) {
            free(f->moved);
            f->moved = NULL;
        }
    }
    free(data);
    free(path);
}

/* tlsrpt_write_fn - serialize and write DAY.json (pool) */

static void tlsrpt_write_fn(void *arg)
{
    struct tlsrpt_file *f = arg;
    char name[16], *text = relay_tlsrpt_day_text(f->json);

    snprintf(name, sizeof(name), "%s.json", f->day);
    f->err = relay__tlsrpt_write(f->dir, name, text);
    free(text);
}

static void tlsrpt_flush(struct relay_tlsrpt *t);

/* tlsrpt_written - a day file is on disk (or not: kept, written again at the
 * next tick).  The notes made meanwhile went to a fresh day: merged back now. */

static void tlsrpt_written(struct relay_tlsrpt *t, void *arg)
{
    struct tlsrpt_file *f = arg;
    bool failed = f->err != 0;

    t->writing = false;
    t->writing_day[0] = '\0';
    if (failed)
        log_errx("tlsrpt", 0, "cannot write day=%s dir=%s: %s%s", f->day, f->dir, strerror(-f->err),
                 t->closing ? " (its counts since the last write are lost)" : " (tried again)");
    failed = failed && !t->closing;     /* at the close, a failed write is the end */
    if (strcmp(f->day, t->day) == 0) {
        relay_tlsrpt_day_merge(f->json, t->today);
        json_decref(t->today);
        t->today = f->json;
        t->dirty = t->dirty || failed;
        f->json = NULL;
    } else if (strcmp(f->day, t->old_day) == 0 && (t->old != NULL || failed)) {
        if (t->old != NULL)             /* notes of the old day made before the roll */
            relay_tlsrpt_day_merge(f->json, t->old);
        json_decref(t->old);
        t->old = f->json;
        f->json = NULL;
    } else if (failed) {
        log_errx("tlsrpt", 0, "day=%s: two midnights without a write, its counts are lost", f->day);
    }
    tlsrpt_file_free(f);
    if (!failed)
        tlsrpt_flush(t);                /* the rest, if any; after a failure, the next tick */
    relay__tlsrpt_send_resume(t);
}

/* tlsrpt_flush - write the old day, else today if changed, one write at a time;
 * the day goes to the pool as it is (serialized there, so the loop never
 * does) and a fresh day takes the notes meanwhile */

static void tlsrpt_flush(struct relay_tlsrpt *t)
{
    struct relay_tlsrpt_names n;
    struct tlsrpt_file *f;

    if (t->writing || !t->loaded || (t->old == NULL && (!t->dirty || t->no_write)))
        return;
    f = xcalloc(1, sizeof(*f));
    if (t->old != NULL) {
        f->json = t->old;
        t->old = NULL;
        memcpy(f->day, t->old_day, sizeof(f->day));
    } else {
        f->json = t->today;
        t->today = relay_tlsrpt_day_new(t->day);
        t->dirty = false;
        memcpy(f->day, t->day, sizeof(f->day));
    }
    relay__tlsrpt_names(&n);
    f->dir = n.dir;
    n.dir = NULL;
    relay_tlsrpt_names_free(&n);
    t->writing = true;
    memcpy(t->writing_day, f->day, sizeof(t->writing_day));
    relay__tlsrpt_pool(t, tlsrpt_write_fn, tlsrpt_written, f);
}

/* relay__tlsrpt_day_pending - day has counts not yet on disk (or not yet read) */

bool relay__tlsrpt_day_pending(const struct relay_tlsrpt *t, const char *day)
{
    return !t->loaded || strcmp(day, t->writing_day) == 0
           || (t->old != NULL && strcmp(day, t->old_day) == 0);
}

/* relay__tlsrpt_flush_now - write now what is pending (a send waits for it) */

void relay__tlsrpt_flush_now(struct relay_tlsrpt *t)
{
    tlsrpt_flush(t);
}

/* tlsrpt_loaded - today's file is read: what it holds plus what was noted meanwhile */

static void tlsrpt_loaded(struct relay_tlsrpt *t, void *arg)
{
    struct tlsrpt_file *f = arg;
    json_t *disk = f->json;

    if (f->why != NULL && f->moved != NULL)
        log_errx("tlsrpt", 0, "cannot read day=%s dir=%s: %s: kept as %s, counts start again",
                 f->day, f->dir, f->why, f->moved);
    else if (f->why != NULL) {
        log_errx("tlsrpt", 0, "cannot read day=%s dir=%s: %s: not renamed, so today's counts are"
                 " not written over it", f->day, f->dir, f->why);
        t->no_write = strcmp(f->day, t->day) == 0;
    }
    f->json = NULL;
    if (disk != NULL && strcmp(f->day, t->day) == 0) {
        relay_tlsrpt_day_merge(disk, t->today);
        json_decref(t->today);
        t->today = disk;
    } else if (disk != NULL) {          /* midnight passed meanwhile: it is the old day */
        if (t->old != NULL)
            relay_tlsrpt_day_merge(disk, t->old);
        json_decref(t->old);
        t->old = disk;
        memcpy(t->old_day, f->day, sizeof(t->old_day));
    }
    t->loaded = true;
    tlsrpt_file_free(f);
    if (t->closing)
        tlsrpt_flush(t);
    else
        relay__tlsrpt_daily(t, (int64_t)time(NULL));   /* a pass missed while stopped */
    relay__tlsrpt_send_resume(t);
}

/* ---- the day ------------------------------------------------------------ */

/* tlsrpt_roll - make today the current UTC day; the old one waits for its write */

static void tlsrpt_roll(struct relay_tlsrpt *t, int64_t now)
{
    char day[11];

    relay_tlsrpt_day_name(now, day);
    if (strcmp(day, t->day) == 0)
        return;
    if (t->old != NULL)                 /* two midnights without a write: unlikely, keep the later */
        json_decref(t->old);
    t->old = t->today;
    memcpy(t->old_day, t->day, sizeof(t->old_day));
    memcpy(t->day, day, sizeof(t->day));
    t->today = relay_tlsrpt_day_new(t->day);
    t->dirty = false;
    t->no_write = false;
}

/* tlsrpt_tick - every minute: roll, write, the daily pass */

static void tlsrpt_tick(uv_timer_t *h)
{
    struct relay_tlsrpt *t = h->data;
    int64_t now = (int64_t)time(NULL);

    tlsrpt_roll(t, now);
    tlsrpt_flush(t);
    relay__tlsrpt_daily(t, now);
}

/* relay_tlsrpt_new - the recorder; it reads today's file back first */

struct relay_tlsrpt *relay_tlsrpt_new(const struct relay_tlsrpt_env *env, struct config *cfg)
{
    struct relay_tlsrpt *t;
    struct relay_tlsrpt_names n;
    struct tlsrpt_file *f;

    if (!cfg->transport.tls_reporting)
        return NULL;
    t = xcalloc(1, sizeof(*t));
    t->env = *env;
    relay_tlsrpt_day_name((int64_t)time(NULL), t->day);
    t->today = relay_tlsrpt_day_new(t->day);
    uv_timer_init(&env->w->loop, &t->tick);
    t->tick.data = t;
    uv_timer_start(&t->tick, tlsrpt_tick, TLSRPT_TICK_MS, TLSRPT_TICK_MS);
    uv_unref((uv_handle_t *)&t->tick);
    f = xcalloc(1, sizeof(*f));
    relay__tlsrpt_names(&n);
    f->dir = n.dir;
    n.dir = NULL;
    relay_tlsrpt_names_free(&n);
    memcpy(f->day, t->day, sizeof(f->day));
    relay__tlsrpt_pool(t, tlsrpt_read_fn, tlsrpt_loaded, f);
    return t;
}

/* tlsrpt_policy_lines - p's text as policy-string lines (owned array of owned strings) */

static char **tlsrpt_policy_lines(const char *text, size_t *n)
{
    char **v = xcalloc(strlen(text) / 2 + 2, sizeof(*v));

    *n = 0;
    for (const char *p = text; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        size_t l = len;

        while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == ' '))
            l--;
        if (l > 0)
            v[(*n)++] = xstrndup(p, l);
        p += len + (p[len] == '\n');
    }
    return v;
}

/* relay_tlsrpt_note - count one session's result (or a policy failure) */

void relay_tlsrpt_note(struct relay_tlsrpt *t, const struct tlsrpt_result *r)
{
    struct relay_tlsrpt_policy p = { .type = r->type, .domain = r->domain };
    char **lines = NULL;

    if (t == NULL || r->domain == NULL)
        return;
    if (r->type == TLSRPT_STS && r->sts != NULL) {
        lines = tlsrpt_policy_lines(r->sts->text ? r->sts->text : "", &p.nstrings);
        p.strings = (const char *const *)lines;
        p.mx = (const char *const *)r->sts->mx;
        p.nmx = r->sts->nmx;
    } else if (r->type == TLSRPT_TLSA && r->tlsa != NULL) {
        p.strings = r->tlsa;            /* RFC 8460 4.4: the TLSA records of mx_host */
        p.nstrings = r->ntlsa;
        p.mx = &r->mx_host;
        p.nmx = r->mx_host != NULL;
    }
    tlsrpt_roll(t, (int64_t)time(NULL));
    relay_tlsrpt_day_add(t->today, &p, r);
    t->dirty = true;
    for (size_t i = 0; lines != NULL && i < p.nstrings; i++)
        free(lines[i]);
    free(lines);
    log_info("tlsrpt", 0, "noted domain=%s policy=%s result=%s mx=%s", r->domain,
             relay_tlsrpt_type_name(r->type), r->failure ? r->failure : "success",
             r->mx_host ? r->mx_host : "-");
}

/* ---- the close ---------------------------------------------------------- */

/* tlsrpt_closed - close_cb of the tick: free, then tell the owner */

static void tlsrpt_closed(uv_handle_t *h)
{
    struct relay_tlsrpt *t = h->data;
    void (*done)(void *) = t->done;
    void *arg = t->done_arg;

    json_decref(t->today);
    json_decref(t->old);
    free(t);
    if (done != NULL)
        done(arg);
}

/* relay__tlsrpt_maybe_done - closing and nothing left: close the tick */

void relay__tlsrpt_maybe_done(struct relay_tlsrpt *t)
{
    if (!t->closing || t->busy > 0 || uv_is_closing((uv_handle_t *)&t->tick))
        return;
    tlsrpt_flush(t);                    /* a write: busy again, back here after it */
    if (t->busy == 0)
        uv_close((uv_handle_t *)&t->tick, tlsrpt_closed);
}

/* relay_tlsrpt_close - write the rest, end the sends, free t, then done(arg) */

void relay_tlsrpt_close(struct relay_tlsrpt *t, void (*done)(void *), void *arg)
{
    t->done = done;
    t->done_arg = arg;
    t->closing = true;
    uv_timer_stop(&t->tick);
    tlsrpt_roll(t, (int64_t)time(NULL));
    relay__tlsrpt_send_cancel_all(t);
    relay__tlsrpt_maybe_done(t);
}
