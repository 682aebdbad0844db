/*
 * relay_server.c - the daemon's skeleton: threads, signals, reload, stop.
 *
 * main thread: the default loop, handling SIGHUP (reload), SIGTERM and
 *   SIGINT (stop), and the control socket (relay/ctl/: status, reload,
 *   queue commands).  It owns the configuration swap and tells systemd
 *   (sd_notify, when NOTIFY_SOCKET is set) READY after the start,
 *   RELOADING/READY around a reload, STOPPING at SIGTERM, and WATCHDOG
 *   while its loop, every worker's and the queue manager's run (each
 *   loop's wake callback counts its runs: the heartbeat).  Every few seconds it
 *   looks whether a burst of connections is over (relay_limits_burst_over);
 *   then idle workers drop their wolfSSL ECC cache and, one tick later,
 *   malloc_trim() gives the freed heap back to the system (glibc keeps it
 *   otherwise).  Never per session: a trim walks every arena.
 * workers (one per CPU unless [service] workers says otherwise): a loop
 *   each, with SO_REUSEPORT listeners and the sessions they accept
 *   (smtpd/relay_worker.c; started and stopped from here).
 * commit thread: queue/relay_commit.c.
 * queue manager: qmgr/ (delivery), its own thread and loop; told of each
 *   queued message (relay_receive_on_queued) and of each reload.
 * libuv's thread pool: background spool writes (relay_spool.c).
 *
 * Start order (as root): no_new_privs, and the capability bounding,
 * inheritable and ambient sets emptied, before any thread exists (they
 * are per thread; threads inherit them) -> find the service user ->
 * check and build the TLS material as that user (relay_failsafe.c: a
 * domain-secure connector without TLS does not start) -> create and open
 * the queue directories -> open the protocol and tracking logs -> bind ->
 * drop privileges (setuid empties the effective and permitted sets of
 * every thread; checked) -> recover the queue -> commit thread -> queue
 * manager -> /metrics -> workers
 * ([metrics] listen is bound with the others).  Stop: /metrics first; the
 * workers stop accepting, idle sessions get 421, sessions in DATA finish
 * their message (bounded by RELAY_STOP_GRACE_MS); then the queue manager
 * drops its connections in flight (their recipients stay pending); then
 * the commit thread drains.
 *
 * CONTRACT
 *  relay_server_run() is called once, from main, and returns the exit
 *  status.  A worker's fields are touched by other threads only through
 *  its lock-protected part (relay_worker.h) and uv_async_send().
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "relay_crl.h"
#include "relay_ctl.h"
#include "relay_qmgr.h"
#include "relay_receive.h"
#include "relay_failsafe.h"
#include "relay_limits.h"
#include "relay_metrics.h"
#include "relay_pcert.h"
#include "relay_plog.h"
#include "relay_server.h"
#include "relay_spool.h"
#include "relay_worker.h"
#include "relay_stats.h"
#include "relay_tls.h"
#include "tls_ctx.h"

#define RELAY_STOP_GRACE_MS 30000
#define RELAY_TRIM_TICK_MS 1000         /* how often main looks at the connection count */

static struct relay_worker *relay_workers;
static size_t relay_nworkers;
static const char *relay_config_path;
static uv_loop_t *relay_main_loop;
static uv_signal_t relay_sig_hup, relay_sig_term, relay_sig_int;
static uv_async_t relay_worker_done;
static struct relay_pcert *relay_pcerts;    /* partner certificates kept, or NULL */
static uv_timer_t relay_stop_timer;
static uv_timer_t relay_daily_timer;     /* certificate expiry warnings */
static uv_timer_t relay_trim_timer;      /* gives freed heap back after bursts */
static uv_timer_t relay_watchdog_timer;  /* WATCHDOG=1 to systemd (WatchdogSec=) */
static uint64_t relay_watchdog_ms;       /* its period: a quarter of WatchdogSec= */
static bool relay_watchdog_armed;        /* the first tick has woken every loop */
static unsigned long *relay_beats_seen;  /* per worker, then the queue manager */
static long relay_trim_peak;             /* most connections since the last trim */
static long relay_trim_burst[2];         /* {peak, now} of a burst found over: trim
                                          * at the next tick ({0, 0}: none) */
static size_t relay_workers_running;
static bool relay_stopping;
static unsigned relay_generation = 1;   /* of the running configuration */
static int64_t relay_loaded_ms;         /* when it was loaded (Unix ms) */

/* relay_server_request_stop - ask every worker to stop */

static void relay_server_request_stop(void)
{
    for (size_t i = 0; i < relay_nworkers; i++)
        relay_worker_request_stop(&relay_workers[i]);
}

/* relay_server_stop_overdue - sessions did not finish in time */

static void relay_server_stop_overdue(uv_timer_t *t)
{
    log_warnx("server", 0, "sessions still open %d ms after stop; exiting anyway",
              RELAY_STOP_GRACE_MS);
    exit(1);                            /* every 250 we sent is durable */
}

/* relay_server_workers_done - a worker thread finished */

static void relay_server_workers_done(uv_async_t *a)
{
    size_t running = 0;

    /* uv_async_send coalesces several sends: count the finished flags. */
    for (size_t i = 0; i < relay_nworkers; i++) {
        uv_mutex_lock(&relay_workers[i].lock);
        running += !relay_workers[i].finished;
        uv_mutex_unlock(&relay_workers[i].lock);
    }
    relay_workers_running = running;
    if (running == 0) {
        uv_close((uv_handle_t *)&relay_worker_done, NULL);
        uv_close((uv_handle_t *)&relay_stop_timer, NULL);
        uv_close((uv_handle_t *)&relay_daily_timer, NULL);
        uv_close((uv_handle_t *)&relay_trim_timer, NULL);
        uv_close((uv_handle_t *)&relay_watchdog_timer, NULL);
        uv_close((uv_handle_t *)&relay_sig_hup, NULL);
        uv_close((uv_handle_t *)&relay_sig_term, NULL);
        uv_close((uv_handle_t *)&relay_sig_int, NULL);
        relay_ctl_stop();
    }
}

/* relay_server_bindings_equal - do two configs listen on the same set? */

static bool relay_server_bindings_equal(const struct config *a, const struct config *b)
{
    size_t na = 0, nb = 0;

    for (size_t i = 0; i < a->nreceive; i++)
        na += a->receive[i].nbindings;
    for (size_t i = 0; i < b->nreceive; i++)
        nb += b->receive[i].nbindings;
    for (size_t i = 0; i < a->nreceive; i++)
        for (size_t j = 0; j < a->receive[i].nbindings; j++) {
            bool found = false;

            for (size_t k = 0; k < b->nreceive && !found; k++)
                for (size_t l = 0; l < b->receive[k].nbindings && !found; l++)
                    found = strcmp(a->receive[i].bindings[j].text,
                                   b->receive[k].bindings[l].text) == 0;
            if (!found)
                return false;
        }
    return na == nb;
}

/*
 * relay_server_tls - cfg's TLS material, after the fail-safe checks
 * (relay_failsafe.c); warnings and errors are logged.  NULL: cfg must not
 * run (errors logged; *nerr says how many).
 */
static struct relay_tls_set *relay_server_tls(const struct config *cfg, size_t *nerr)
{
    struct cfg_errors errs = { 0 }, warns = { 0 };
    struct relay_tls_set *set = relay_failsafe_load(cfg, &errs, &warns);

    for (size_t i = 0; i < warns.n; i++)
        log_warnx("config", 0, "%s", warns.v[i]);
    for (size_t i = 0; i < errs.n; i++)
        log_errx("config", 0, "%s", errs.v[i]);
    if (set != NULL && errs.n == 0)     /* a refused set runs nothing: nothing to report */
        relay_tls_set_report(set);
    *nerr = errs.n;
    policy_config_errors_free(&warns);
    policy_config_errors_free(&errs);
    return set;
}

/* relay_server_now_ms - wall clock, Unix ms */

static int64_t relay_server_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* relay_server_warn - a reload warning: logged and kept for the answer */

static void relay_server_warn(struct relay_reload_result *out, const char *text)
{
    log_warnx("config", 0, "%s", text);
    out->warnings.v = xrealloc(out->warnings.v, (out->warnings.n + 1) * sizeof(char *));
    out->warnings.v[out->warnings.n++] = xstrdup(text);
}

/*
 * relay_server_reload - build a new config; keep the old on error.  SIGHUP
 * and the control socket's reload come here (both on the main loop, so
 * never two at once).  *out (the caller's, zeroed) gets ok, the generation
 * running afterwards, the errors "FILE:LINE: text" and the warnings; every
 * one of them is also logged.
 */
static void relay_server_reload(struct relay_reload_result *out)
{
    struct cfg_errors errs = { 0 }, warns = { 0 };
    struct config *cfg, *old;
    struct relay_tls_set *tls = NULL;

    sd_notifyf(0, "RELOADING=1\nSTATUS=reloading %s", relay_config_path);
    if ((cfg = policy_config_load(relay_config_path, &errs)) != NULL && errs.n == 0)
        tls = relay_failsafe_load(cfg, &errs, &warns);
    for (size_t i = 0; i < warns.n; i++)
        relay_server_warn(out, warns.v[i]);
    policy_config_errors_free(&warns);
    out->generation = relay_generation;
    if (tls == NULL || errs.n > 0) {    /* a broken file, or it would not be safe */
        for (size_t i = 0; i < errs.n; i++)
            log_errx("config", 0, "%s", errs.v[i]);
        log_warnx("config", 0, "reload failed, keeping the running configuration errors=%zu",
                  errs.n);
        out->errors = errs;             /* handed over */
        relay_tls_set_free(tls);
        policy_config_unref(cfg);
        sd_notify(0, "READY=1\nSTATUS=running; the last reload failed");
        return;
    }
    policy_config_errors_free(&errs);
    relay_tls_set_report(tls);
    old = policy_config_current();
    if (!relay_server_bindings_equal(old, cfg))
        relay_server_warn(out, "bindings changed: restart domsecd to listen on the new set");
    if (strcmp(old->transport.queue_directory, cfg->transport.queue_directory) != 0)
        relay_server_warn(out, "queue_directory changed: restart domsecd to use it");
    if (strcmp(old->transport.partner_certificate_directory,
               cfg->transport.partner_certificate_directory) != 0)
        relay_server_warn(out, "partner_certificate_directory changed: restart domsecd to use "
                          "it");
    if (strcmp(old->service.user, cfg->service.user) != 0 || old->service.workers != cfg->service.workers)
        relay_server_warn(out, "[service] user or workers changed: restart domsecd to apply");
    if (relay_metrics_changed(old, cfg))
        relay_server_warn(out, "[metrics] changed: restart domsecd to apply");
    if ((old->service.control_socket == NULL) != (cfg->service.control_socket == NULL)
        || (old->service.control_socket != NULL
            && strcmp(old->service.control_socket, cfg->service.control_socket) != 0)
        || old->service.control_max_clients != cfg->service.control_max_clients)
        relay_server_warn(out, "[service] control_socket or control_max_clients changed: "
                          "restart domsecd to apply");
    relay_plog_reload(old, cfg);
    policy_config_unref(old);
    relay_tls_install(tls);             /* before the swap: new sessions find theirs */
    relay_stats_label_config(cfg);      /* before the swap: sessions look theirs up */
    relay_crl_reload(cfg);
    relay_ctl_reconfigure(cfg);
    policy_config_swap(cfg);
    relay_qmgr_reload();                /* expiry, [dns], connectors take effect now */
    out->ok = true;
    out->generation = ++relay_generation;
    relay_loaded_ms = relay_server_now_ms();
    log_info("config", 0, "reloaded path=%s", relay_config_path);
    sd_notify(0, "READY=1\nSTATUS=running");
}

/* relay_server_config_info - the control socket's view of the running configuration */

static void relay_server_config_info(unsigned *generation, int64_t *loaded_ms)
{
    *generation = relay_generation;
    *loaded_ms = relay_loaded_ms;
}

static const struct relay_ctl_ops relay_server_ctl_ops = {
    .reload = relay_server_reload,
    .config_info = relay_server_config_info,
};

/* relay_server_beat - did loop i's heartbeat move since the last tick?  (Logged when not.) */

static bool relay_server_beat(size_t i, unsigned long beats, const char *what, int index)
{
    bool    moved = beats != relay_beats_seen[i] || !relay_watchdog_armed;

    if (!moved)
        log_warnx("server", 0, "watchdog: %s %d made no progress in %llu ms: not telling "
                  "systemd", what, index, (unsigned long long)relay_watchdog_ms);
    relay_beats_seen[i] = beats;
    return moved;
}

/*
 * relay_server_watchdog - timer (a quarter of WatchdogSec=): WATCHDOG=1 to
 * systemd when every worker loop and the queue manager's loop ran its wake
 * callback since the previous tick, which woke them all (the main loop is
 * alive, or this would not run).  The first tick only wakes them.  While
 * stopping, loops end one by one: main's word is enough.
 */
static void relay_server_watchdog(uv_timer_t *t)
{
    bool    all = true;

    for (size_t i = 0; i < relay_nworkers && !relay_stopping; i++) {
        unsigned long beats;

        uv_mutex_lock(&relay_workers[i].lock);
        beats = relay_workers[i].beats;
        if (!relay_workers[i].wake_closed)
            uv_async_send(&relay_workers[i].wake);
        uv_mutex_unlock(&relay_workers[i].lock);
        if (!relay_server_beat(i, beats, "worker", (int)i))
            all = false;
    }
    if (!relay_stopping
        && !relay_server_beat(relay_nworkers, relay_qmgr_heartbeat(), "queue manager", 0))
        all = false;
    if (all && relay_watchdog_armed)
        sd_notify(0, "WATCHDOG=1");
    relay_watchdog_armed = true;
}

/* relay_server_daily - once a day: certificates about to expire */

static void relay_server_daily(uv_timer_t *t)
{
    relay_tls_warn_expiring(time(NULL));
}

/* relay_server_rss_kib - resident set size of the process (0 if unknown) */

static long relay_server_rss_kib(void)
{
    FILE   *f = fopen("/proc/self/statm", "r");
    long    size = 0, rss = 0;

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * relay_server_trim - timer: after a burst, give the freed heap back.  A
 * burst is over when the connection count has fallen well below its peak
 * since the last trim.  Then idle workers drop their ECC caches (async),
 * and the next tick trims: malloc_trim() returns the free pages of every
 * arena (milliseconds on a big heap, so at most once per tick).
 */
static void relay_server_trim(uv_timer_t *t)
{
    long    now = 0, peak = relay_limits_conn_peak();

    if (peak > relay_trim_peak)
        relay_trim_peak = peak;
    if (relay_trim_burst[0] > 0) {
#ifdef __GLIBC__
        long    before = relay_server_rss_kib();
        uint64_t t0 = uv_hrtime();

        malloc_trim(0);
        log_info("server", 0, "heap trimmed peak=%ld connections=%ld rss_before_kib=%ld "
                 "rss_after_kib=%ld ms=%.1f", relay_trim_burst[0], relay_trim_burst[1], before,
                 relay_server_rss_kib(), (double)(uv_hrtime() - t0) / 1e6);
#endif
        relay_trim_burst[0] = relay_trim_burst[1] = 0;
        return;
    }
    (void)relay_limits_conn_full(&now, NULL);
    if (relay_stopping || !relay_limits_burst_over(relay_trim_peak, now))
        return;
    relay_trim_burst[0] = relay_trim_peak;
    relay_trim_burst[1] = now;
    relay_trim_peak = now;
    for (size_t i = 0; i < relay_nworkers; i++) {
        uv_mutex_lock(&relay_workers[i].lock);
        if (!relay_workers[i].wake_closed) {
            relay_workers[i].release_caches = true;
            uv_async_send(&relay_workers[i].wake);
        }
        uv_mutex_unlock(&relay_workers[i].lock);
    }
}

/* relay_server_signal - signal handler on the main loop */

static void relay_server_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGHUP) {
        struct relay_reload_result res = { 0 };

        if (!relay_stopping)
            relay_server_reload(&res);  /* logged there; nobody to answer */
        relay_ctl_reload_result_free(&res);
        return;
    }
    if (relay_stopping)
        return;
    relay_stopping = true;
    log_info("server", 0, "stopping signal=%s", signum == SIGTERM ? "TERM" : "INT");
    relay_metrics_stop();               /* first: MHD's thread joined, no scrape from now */
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    relay_ctl_stop();
    uv_timer_start(&relay_stop_timer, relay_server_stop_overdue, RELAY_STOP_GRACE_MS, 0);
    relay_server_request_stop();
}

/* relay_server_user - find the unprivileged user (when root) */

static int relay_server_user(const struct config *cfg, uid_t *uid, gid_t *gid)
{
    struct passwd *pw;

    *uid = geteuid();
    *gid = getegid();
    if (geteuid() != 0)
        return 0;
    /* cppcheck-suppress getpwnamCalled ; main thread; no other thread calls getpw* */
    if ((pw = getpwnam(cfg->service.user)) == NULL) {
        log_errx("server", 0, "user \"%s\" does not exist: create it (useradd --system %s) "
                 "or set [service] user", cfg->service.user, cfg->service.user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        log_errx("server", 0, "[service] user must not be root");
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* relay_server_caps - this thread's capability sets (capget), 0 or -1 */

static int relay_server_caps(struct __user_cap_data_struct data[2])
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

    return (int)syscall(SYS_capget, &h, data);
}

/* relay_server_bounded - capabilities left in the bounding set */

static unsigned relay_server_bounded(void)
{
    unsigned n = 0;

    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        n += prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1;
    return n;
}

/*
 * relay_server_confine - before any thread exists (capabilities, the
 * bounding set and no_new_privs are per thread; threads inherit them):
 * no_new_privs (nothing executed can gain privileges), the bounding set,
 * the inheritable and the ambient sets emptied.  The effective and
 * permitted sets stay until relay_server_drop(): root still creates,
 * chowns and binds; setuid() then empties them in every thread (glibc
 * applies it to all, and the kernel clears them when no uid is 0).  As
 * root a failure is an error; otherwise (systemd's User=, whose unit
 * bounds the capabilities itself and filters capset) it is not.
 */
static int relay_server_confine(void)
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[2];
    bool    root = geteuid() == 0;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 && root) {
        log_err("server", 0, "cannot set no_new_privs");
        return -1;
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (!root)
        return 0;
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            log_err("server", 0, "cannot empty the capability bounding set (capability %d)",
                    cap);
            return -1;
        }
    if (relay_server_caps(data) < 0) {
        log_err("server", 0, "cannot read the capability sets");
        return -1;
    }
    data[0].inheritable = data[1].inheritable = 0;
    if (syscall(SYS_capset, &h, data) < 0) {
        log_err("server", 0, "cannot empty the inheritable capability set");
        return -1;
    }
    return 0;
}

/* relay_server_drop - give up root for good, and check nothing is left */

static int relay_server_drop(uid_t uid, gid_t gid)
{
    struct __user_cap_data_struct data[2];

    if (geteuid() != 0)
        return 0;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        log_err("server", 0, "cannot drop privileges");
        return -1;
    }
    if (setuid(0) == 0) {
        log_errx("server", 0, "privileges could be regained after dropping them");
        return -1;
    }
    if (relay_server_caps(data) < 0 || data[0].effective || data[1].effective
        || data[0].permitted || data[1].permitted || data[0].inheritable
        || data[1].inheritable || relay_server_bounded() > 0
        || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        log_errx("server", 0, "capabilities or the bounding set left after dropping "
                 "privileges");
        return -1;
    }
    log_info("server", 0, "privileges dropped uid=%ld gid=%ld capabilities=none "
             "bounding_set=none no_new_privs=1", (long)uid, (long)gid);
    return 0;
}

/*
 * relay_server_fd_limit - raise the soft open-file limit to the hard one
 * (a hand-started daemon often has 1024), and warn when the connectors'
 * limits could need more: past the limit, accept() fails and the
 * connection waits in the backlog unanswered.
 */
static void relay_server_fd_limit(const struct config *cfg)
{
    unsigned long long want = 256;      /* listeners, queue, logs, DNS, CRL thread */
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    for (size_t i = 0; i < cfg->nreceive; i++)
        want += cfg->receive[i].max_inbound_connection;
    want += cfg->transport.max_outbound_connections;
    if (rl.rlim_cur != RLIM_INFINITY && want > (unsigned long long)rl.rlim_cur)
        log_warnx("server", 0, "open file limit %llu is below what the connector limits "
                  "allow (%llu): connections past it wait unanswered; raise LimitNOFILE "
                  "(systemd) or ulimit -n, or lower max_inbound_connection",
                  (unsigned long long)rl.rlim_cur, want);
}

/* relay_server_fail - a start that fails after the control socket is up */

static int relay_server_fail(void)
{
    relay_pcert_close(relay_pcerts);
    relay_pcerts = NULL;
    relay_ctl_stop();
    return 1;
}

/* relay_server_run - the daemon */

int relay_server_run(const char *path, struct config *cfg)
{
    struct relay_tls_set *tls;
    size_t nmsg, ncorrupt, nerr;
    uid_t uid;
    gid_t gid;
    int r;

    relay_config_path = path;
    if (relay_server_confine() < 0)     /* first: no thread exists yet */
        return 1;
    relay_stats_thread_init();
    relay_stats_label_config(cfg);
    signal(SIGPIPE, SIG_IGN);
    if (getenv("UV_THREADPOOL_SIZE") == NULL)
        setenv("UV_THREADPOOL_SIZE", "16", 1);  /* spool writes; before first use */
    relay_server_fd_limit(cfg);
    relay_nworkers = cfg->service.workers ? cfg->service.workers : uv_available_parallelism();
    relay_workers = xcalloc(relay_nworkers, sizeof(*relay_workers));
    if (relay_server_user(cfg, &uid, &gid) < 0)
        return 1;
    /* Before anything is created or bound: a configuration that would run a
     * domain-secure connector without TLS does not start. */
    if ((tls = relay_server_tls(cfg, &nerr)) == NULL)
        log_fatal("config", "cannot start with an invalid configuration path=%s", path);
    relay_tls_install(tls);
    relay_main_loop = uv_default_loop();
    relay_loaded_ms = relay_server_now_ms();
    /* First of what is created: a second domsecd on this configuration
     * finds the first one's socket answering and stops here. */
    if (relay_ctl_start(relay_main_loop, cfg, &relay_server_ctl_ops, uid, gid) < 0)
        return 1;
    if ((r = relay_queue_open(cfg->transport.queue_directory, uid, gid)) < 0) {
        errno = -r;
        log_err("queue", 0, "cannot open queue_directory %s", cfg->transport.queue_directory);
        return relay_server_fail();
    }
    if (relay_plog_open(cfg, uid, gid) < 0)  /* as root: directories handed to uid */
        return relay_server_fail();
    relay_pcerts = relay_pcert_open(cfg, uid, gid);  /* as root too; NULL: not kept */
    if (relay_listen_open(relay_workers, relay_nworkers, cfg) < 0)
        return relay_server_fail();
    if (relay_metrics_open(cfg) < 0)    /* [metrics] listen: a bad address stops here */
        return relay_server_fail();
    relay_limits_fd_budget((unsigned)relay_nworkers);
    if (relay_server_drop(uid, gid) < 0)
        return relay_server_fail();
    if ((r = relay_queue_recover(&nmsg, &ncorrupt)) < 0) {
        errno = -r;
        log_err("queue", 0, "cannot scan queue_directory %s", cfg->transport.queue_directory);
        return relay_server_fail();
    }
    log_info("queue", 0, "recovered messages=%zu corrupt=%zu", nmsg, ncorrupt);
    if (relay_crl_start(cfg) != 0)
        return relay_server_fail();
    policy_config_swap(cfg);
    if ((r = relay_commit_start()) != 0) {
        log_errx("server", 0, "cannot start commit thread: %s", uv_strerror(r));
        return relay_server_fail();
    }
    if (relay_qmgr_start() != 0) {
        relay_commit_stop();
        return relay_server_fail();
    }

    uv_async_init(relay_main_loop, &relay_worker_done, relay_server_workers_done);
    uv_timer_init(relay_main_loop, &relay_stop_timer);
    uv_timer_init(relay_main_loop, &relay_daily_timer);
    uv_timer_start(&relay_daily_timer, relay_server_daily, 86400 * 1000ULL, 86400 * 1000ULL);
    uv_timer_init(relay_main_loop, &relay_trim_timer);
    uv_timer_start(&relay_trim_timer, relay_server_trim, RELAY_TRIM_TICK_MS, RELAY_TRIM_TICK_MS);
    uv_timer_init(relay_main_loop, &relay_watchdog_timer);
    {
        uint64_t usec = 0;

        /* WatchdogSec= of the unit: look at the loops four times in it */
        if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 4000) {
            relay_watchdog_ms = usec / 4000;
            relay_beats_seen = xcalloc(relay_nworkers + 1, sizeof(*relay_beats_seen));
            uv_timer_start(&relay_watchdog_timer, relay_server_watchdog, relay_watchdog_ms,
                           relay_watchdog_ms);
        }
    }
    uv_signal_init(relay_main_loop, &relay_sig_hup);
    uv_signal_init(relay_main_loop, &relay_sig_term);
    uv_signal_init(relay_main_loop, &relay_sig_int);
    uv_signal_start(&relay_sig_hup, relay_server_signal, SIGHUP);
    uv_signal_start(&relay_sig_term, relay_server_signal, SIGTERM);
    uv_signal_start(&relay_sig_int, relay_server_signal, SIGINT);

    if (relay_metrics_start(cfg) != 0)
        return relay_server_fail();
    relay_receive_on_queued(relay_qmgr_notify);
    for (size_t i = 0; i < relay_nworkers; i++) {
        relay_workers[i].pcert = relay_pcerts;
        relay_worker_start(&relay_workers[i], (int)i, &relay_worker_done);
    }
    {
        char list[1024];

        relay_listen_describe(cfg, list, sizeof(list));
        log_info("server", 0, "started workers=%zu bindings=%s", relay_nworkers, list);
    }
    sd_notifyf(0, "READY=1\nSTATUS=running\nMAINPID=%ld", (long)getpid());
    uv_run(relay_main_loop, UV_RUN_DEFAULT);

    for (size_t i = 0; i < relay_nworkers; i++) {
        uv_thread_join(&relay_workers[i].thread);
        uv_mutex_destroy(&relay_workers[i].lock);
        free(relay_workers[i].listeners);
        free(relay_workers[i].listen_fds);
    }
    relay_pcert_close(relay_pcerts);    /* after the workers: their writes have ended */
    relay_qmgr_stop();                  /* after the workers: no new messages now */
    relay_crl_stop();
    relay_ctl_finish();                 /* after the queue manager: nothing defers now */
    relay_commit_stop();
    relay_plog_close();                 /* every session and delivery has ended */
    relay_queue_close();
    uv_loop_close(relay_main_loop);
    free(relay_workers);
    free(relay_beats_seen);
    policy_config_swap(NULL);
    relay_tls_shutdown();
    tls_library_cleanup();
    relay_stats_log();
    log_info("server", 0, "stopped");
    return 0;
}
