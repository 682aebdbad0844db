/*
 * relay_failsafe.c - a connector that asks for domain security never runs
 * without it.
 *
 * A receive connector with domain_secure_enabled or require_tls, and a
 * send connector with domain_secure_enabled, need files that only exist
 * outside the configuration: a usable certificate (and its key, mode 0600)
 * in certificate_store, trusted_ca_file to verify partners, and, with
 * crl_fetch = no, crl_directory for revocation.  When one is missing the
 * configuration is refused like a broken file: --check-config exits 1,
 * the daemon does not start, a reload keeps the running configuration.
 * Each error names the file to mend ("FILE:LINE: ..." of the
 * configuration, then the certificate store, key, CA file or directory).
 * A tls_send_domain_secure_list domain that no domain-secure send
 * connector routes is only a warning: its mail waits, nothing leaks.
 *
 * The daemon reads these files after dropping privileges, so they are
 * checked the same way: called as root (--check-config, start), the
 * checks run with the [service] user's effective uid and gid and no
 * supplementary groups (what relay_server_drop() leaves), and the ids are
 * restored after.  Reload runs as that user already.
 *
 * CONTRACT
 *  relay_failsafe_load() runs on the main thread before other threads
 *  exist or while they run as the same user (reload), with blocking file
 *  I/O; it appends to errs and warns (the caller frees them) and returns
 *  a TLS set owned by the caller, or NULL when it appended an error.  A
 *  failure to restore root's ids is fatal (the caller's next steps need
 *  them).  No callbacks, nothing to cancel.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "relay_failsafe.h"
#include "relay_pcert.h"
#include "relay_tls.h"

struct fs_ids {                         /* root's ids while checking as the service user */
    int     steps;                      /* 0..3: groups, egid, euid taken so far */
    gid_t   egid;
    gid_t  *groups;                     /* owned */
    int     ngroups;
    char    user[64];                   /* whom the files are read as, for messages */
};

/* fs_line - the line of key (or of key2), else the section header */

static int fs_line(const struct config *cfg, const void *section, const char *key,
                   const char *key2)
{
    int     line = policy_config_line(cfg, section, key);

    if (line == 0 && key2 != NULL)
        line = policy_config_line(cfg, section, key2);
    return line ? line : policy_config_line(cfg, section, NULL);
}

/* fs_restore - root's ids again */

static void fs_restore(struct fs_ids *ids)
{
    /* Undo only the steps fs_become took, last first. */
    if ((ids->steps >= 3 && seteuid(0) < 0) || (ids->steps >= 2 && setegid(ids->egid) < 0)
        || (ids->steps >= 1 && setgroups((size_t)ids->ngroups, ids->groups) < 0))
        log_fatal("config", "cannot restore root's ids after checking the TLS files: %s",
                  strerror(errno));
    ids->steps = 0;
    free(ids->groups);
    ids->groups = NULL;
}

/* fs_take - drop the groups, then egid, then euid, counting the steps taken */

static int fs_take(struct fs_ids *ids, const struct passwd *pw)
{
    if (setgroups(0, NULL) < 0)
        return -1;
    ids->steps = 1;
    if (setegid(pw->pw_gid) < 0)
        return -1;
    ids->steps = 2;
    if (seteuid(pw->pw_uid) < 0)
        return -1;
    ids->steps = 3;
    return 0;
}

/* fs_strict - does some connector have to use TLS? */

static bool fs_strict(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (relay_tls_must(&cfg->receive[i], NULL) != NULL)
            return true;
    for (size_t i = 0; i < cfg->nsend; i++)
        if (relay_tls_must(NULL, &cfg->send[i]) != NULL)
            return true;
    return false;
}

/*
 * fs_become - as root: take the service user's effective ids; 0 or -1
 * after an error.  A missing user is an error only when some connector has
 * to use TLS (otherwise nothing can fail, and --check-config of such a
 * file stays what it was: the daemon itself refuses to start without it).
 */
static int fs_become(const struct config *cfg, struct fs_ids *ids, struct cfg_errors *errs)
{
    int     line = fs_line(cfg, &cfg->service, "user", NULL);
    struct passwd *pw = NULL;

    /* cppcheck-suppress getpwnamCalled ; main thread; no other thread calls getpw* */
    if (geteuid() != 0 || ((pw = getpwnam(cfg->service.user)) == NULL && !fs_strict(cfg))) {
        pw = getpwuid(geteuid());       /* cppcheck-suppress getpwuidCalled ; as above */
        if (pw != NULL)
            snprintf(ids->user, sizeof(ids->user), "%s", pw->pw_name);
        else
            snprintf(ids->user, sizeof(ids->user), "%u", (unsigned)geteuid());
        return 0;
    }
    if (pw == NULL) {
        policy_config_error(errs, cfg, line, "[service] user \"%s\" does not exist: the TLS "
                            "files cannot be checked as domsecd reads them; create it "
                            "(useradd --system %s) or set [service] user", cfg->service.user,
                            cfg->service.user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        policy_config_error(errs, cfg, line, "[service] user must not be root");
        return -1;
    }
    snprintf(ids->user, sizeof(ids->user), "%s", pw->pw_name);
    ids->egid = getegid();
    ids->ngroups = getgroups(0, NULL);
    ids->groups = xcalloc((size_t)(ids->ngroups > 0 ? ids->ngroups : 1), sizeof(gid_t));
    if (ids->ngroups < 0 || (ids->ngroups = getgroups(ids->ngroups, ids->groups)) < 0)
        ids->ngroups = 0;
    if (fs_take(ids, pw) == 0)
        return 0;
    policy_config_error(errs, cfg, line, "cannot take the ids of [service] user %s to "
                        "check the TLS files: %s", ids->user, strerror(errno));
    fs_restore(ids);
    return -1;
}

/* fs_secure_connectors - "[receive A], [send B]": the domain-secure connectors ("" if none) */

static void fs_secure_connectors(const struct config *cfg, char *buf, size_t sz)
{
    size_t  n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < cfg->nreceive + cfg->nsend && n < sz; i++) {
        bool    receive = i < cfg->nreceive;
        size_t  k = receive ? i : i - cfg->nreceive;

        if (receive ? !cfg->receive[k].domain_secure_enabled : !cfg->send[k].domain_secure_enabled)
            continue;
        n += (size_t)snprintf(buf + n, sz - n, "%s[%s %s]", n ? ", " : "",
                              receive ? "receive" : "send",
                              receive ? cfg->receive[k].name : cfg->send[k].name);
    }
}

/* fs_check_ca - trusted_ca_file: an error when domain security needs it or when
 * it is not a regular file */

static void fs_check_ca(const struct config *cfg, const char *user, const char *secure,
                        struct cfg_errors *errs)
{
    const char *path = cfg->transport.trusted_ca_file;
    int     line = fs_line(cfg, &cfg->transport, "trusted_ca_file", NULL);
    /* O_NONBLOCK: a FIFO must not block the check (it is refused below). */
    int     fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e = errno;
    struct stat st;

    if (fd >= 0) {
        e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR
            : !S_ISREG(st.st_mode) ? EINVAL : 0;
        close(fd);
    }
    if (e == 0)
        return;
    if (e == EINVAL) {                  /* a FIFO, a device: wolfSSL would block or fail */
        policy_config_error(errs, cfg, line, "trusted_ca_file %s is not a regular file", path);
        return;
    }
    if (secure[0] == '\0') {            /* no domain security: STARTTLS works without it */
        if (e == ENOENT)
            log_warnx("tls", 0, "trusted_ca_file %s does not exist: no client certificate can "
                      "be trusted, domain-secured mail will be refused", path);
        else
            log_warnx("tls", 0, "trusted_ca_file %s cannot be read: no client certificate can "
                      "be trusted, domain-secured mail will be refused: %s", path, strerror(e));
    } else if (e == ENOENT) {
        policy_config_error(errs, cfg, line, "trusted_ca_file %s does not exist: domain "
                            "security (%s) cannot verify partner certificates without it",
                            path, secure);
    } else {
        policy_config_error(errs, cfg, line, "trusted_ca_file %s cannot be read as user %s "
                            "(%s): domain security (%s) cannot verify partner certificates "
                            "without it", path, user, strerror(e), secure);
    }
}

/* fs_check_crl - crl_directory must be there when nothing is fetched */

static void fs_check_crl(const struct config *cfg, const char *user, const char *secure,
                         struct cfg_errors *errs)
{
    const char *path = cfg->transport.crl_directory;
    int     line = fs_line(cfg, &cfg->transport, "crl_directory", "crl_fetch");
    DIR    *d;

    if (cfg->transport.crl_fetch || secure[0] == '\0')
        return;
    if ((d = opendir(path)) != NULL) {
        closedir(d);
        return;
    }
    if (errno == ENOENT)
        policy_config_error(errs, cfg, line, "crl_directory %s does not exist and crl_fetch = "
                            "no: domain security (%s) cannot check revocation; create it "
                            "or set crl_fetch = yes", path, secure);
    else if (errno == ENOTDIR)
        policy_config_error(errs, cfg, line, "crl_directory %s is not a directory and "
                            "crl_fetch = no: domain security (%s) cannot check revocation",
                            path, secure);
    else
        policy_config_error(errs, cfg, line, "crl_directory %s cannot be read as user %s (%s) "
                            "and crl_fetch = no: domain security (%s) cannot check "
                            "revocation", path, user, strerror(errno), secure);
}

/* fs_check_send_list - warn of send-list domains no domain-secure send connector routes */

static void fs_check_send_list(const struct config *cfg, struct cfg_errors *warns)
{
    const struct cfg_list *l = &cfg->transport.send_secure;
    int     line = fs_line(cfg, &cfg->transport, "tls_send_domain_secure_list",
                           "tls_send_domain_secure_list_file");

    for (size_t i = 0; i < l->n; i++) {
        const struct cfg_send *sc = policy_route_select(cfg, l->v[i]);

        if (sc == NULL)
            policy_config_error(warns, cfg, line, "tls_send_domain_secure_list: no send "
                                "connector routes %s: its mail waits in the queue, never "
                                "sent; route it by a send connector with "
                                "domain_secure_enabled = yes", l->v[i]);
        else if (!sc->domain_secure_enabled)
            policy_config_error(warns, cfg, line, "tls_send_domain_secure_list: %s is routed "
                                "by [send %s], which has domain_secure_enabled = no: its mail "
                                "is deferred, never sent", l->v[i], sc->name);
    }
}

/* relay_failsafe_load - check cfg's domain-security files and build its TLS set */

struct relay_tls_set *relay_failsafe_load(const struct config *cfg, struct cfg_errors *errs,
                                          struct cfg_errors *warns)
{
    struct fs_ids ids = { 0 };
    struct relay_tls_set *set = NULL;
    size_t  before = errs->n;
    char    secure[512];

    fs_check_send_list(cfg, warns);
    policy_config_warnings(cfg, warns);
    relay_pcert_check(cfg, errs);
    if (!relay_tls_wanted(cfg))         /* no TLS: nothing to read */
        return relay_tls_build(cfg, errs);
    if (fs_become(cfg, &ids, errs) < 0)
        return NULL;
    fs_secure_connectors(cfg, secure, sizeof(secure));
    fs_check_ca(cfg, ids.user, secure, errs);
    fs_check_crl(cfg, ids.user, secure, errs);
    set = relay_tls_build(cfg, errs);
    fs_restore(&ids);
    if (errs->n > before) {
        relay_tls_set_free(set);
        return NULL;
    }
    return set;
}
