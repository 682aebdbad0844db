/*
 * domsec_transport.c - `domsec transport-config show|set`.
 *
 *   domsec [-c FILE] transport-config show
 *   domsec [-c FILE] transport-config partner show|set|remove ...
 *   domsec [-c FILE] transport-config set [--tls-send-domain-secure-list LIST]
 *       [--tls-receive-domain-secure-list LIST] [--add-tls-send-domain-secure D]...
 *       [--remove-tls-send-domain-secure D]... [--add-tls-receive-domain-secure D]...
 *       [--remove-tls-receive-domain-secure D]... [--no-reload]
 *
 * `set` works like Set-TransportConfig, and beyond it: LIST replaces a list,
 * --add/--remove edit it in place.  The new file is validated by loading it
 * exactly as domsecd does, written atomically (temporary file, fsync,
 * rename, directory fsync), and the running domsecd that uses this file is
 * told to reload through its control socket ([service] control_socket, or
 * --socket): exit 1 with its errors when it refuses the new file, 0 with
 * "written; domsecd is not running" when none answers; other lines of the
 * file are left as they were.
 * `partner show|set|remove` (the [partner DOMAIN] sections) is
 * domsec_transport_partner.c's.
 * A `set` that changes nothing (every list given already holds exactly
 * those domains, in that order, case aside; or no list option at all) is
 * a usage error, exit 2: the file is not written and nothing is signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "policy_config.h"
#include "policy_edit.h"
#include "domsec_cmd.h"

#define DOMSEC_MAX_EDITS 64

static const char *domsec_keys[2] = { "tls_send_domain_secure_list",
                                      "tls_receive_domain_secure_list" };

struct domsec_edit {                    /* the changes to one list */
    const char *replace;
    const char *add[DOMSEC_MAX_EDITS], *remove[DOMSEC_MAX_EDITS];
    size_t  nadd, nremove;
};

/* domsec_usage - print usage and exit */

static void domsec_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] transport-config show\n"
            "       domsec [-c FILE] transport-config set [options]\n"
            "       domsec [-c FILE] transport-config partner show|set|remove ... "
            "(partner --help)\n"
            "  --tls-send-domain-secure-list LIST       replace the send list\n"
            "  --tls-receive-domain-secure-list LIST    replace the receive list\n"
            "  --add-tls-send-domain-secure D           add D (repeatable)\n"
            "  --remove-tls-send-domain-secure D        remove D (repeatable)\n"
            "  --add-tls-receive-domain-secure D        add D (repeatable)\n"
            "  --remove-tls-receive-domain-secure D     remove D (repeatable)\n"
            "  --no-reload                              do not reload the running domsecd\n");
    exit(status);
}

/* domsec_read - a whole file */

char *domsec_read(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0, len = 0, n;

    if (f == NULL)
        return NULL;
    do {
        buf = xrealloc(buf, (cap += 65536) + 1);
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* domsec_show - the lists as the daemon would load them */

static int domsec_show(const char *path)
{
    struct cfg_errors errs = { 0 };
    struct config *cfg = policy_config_load(path, &errs);
    const struct cfg_list *lists[2];

    if (cfg == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i]);
        policy_config_errors_free(&errs);
        return 1;
    }
    lists[0] = &cfg->transport.send_secure;
    lists[1] = &cfg->transport.recv_secure;
    for (int k = 0; k < 2; k++) {
        printf("%s =", domsec_keys[k]);
        for (size_t i = 0; i < lists[k]->n; i++)
            printf("%s %s", i ? "," : "", lists[k]->v[i]);
        printf("\n");
    }
    policy_config_unref(cfg);
    policy_config_errors_free(&errs);
    return 0;
}

/* domsec_config_load - load config_path, or print why not */

struct config *domsec_config_load(const char *config_path)
{
    struct cfg_errors errs = { 0 };
    struct config *cfg = policy_config_load(config_path, &errs);

    if (cfg == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i]);
        if (errs.n == 0)
            fprintf(stderr, "domsec: %s: cannot load the configuration\n", config_path);
    }
    policy_config_errors_free(&errs);
    return cfg;
}

/* domsec_write - validate text as path's new content, then replace path */

int domsec_write(const char *path, const char *text)
{
    struct cfg_errors errs = { 0 };
    char tmp[PATH_MAX], dirbuf[PATH_MAX];
    struct config *cfg;
    struct stat st;
    size_t len = strlen(text);
    int fd, dfd;

    if (stat(path, &st) < 0 || snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid())
                                   >= (int)sizeof(tmp))
        return fprintf(stderr, "domsec: %s: %s\n", path, strerror(errno)), 1;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777)) < 0
        || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        fprintf(stderr, "domsec: %s: %s\n", tmp, strerror(errno));
        if (fd >= 0)
            close(fd), unlink(tmp);
        return 1;
    }
    if (fchown(fd, st.st_uid, st.st_gid) < 0 && geteuid() == 0)
        fprintf(stderr, "domsec: warning: cannot keep the owner of %s\n", path);
    close(fd);
    if ((cfg = policy_config_load(tmp, &errs)) == NULL) {
        for (size_t i = 0; i < errs.n; i++) {   /* name the real file, not the temporary */
            const char *e = errs.v[i];

            if (strncmp(e, tmp, strlen(tmp)) == 0)
                fprintf(stderr, "%s%s\n", path, e + strlen(tmp));
            else
                fprintf(stderr, "%s\n", e);
        }
        policy_config_errors_free(&errs);
        unlink(tmp);
        fprintf(stderr, "domsec: %s not changed\n", path);
        return 1;
    }
    policy_config_unref(cfg);
    policy_config_errors_free(&errs);
    if (rename(tmp, path) < 0) {
        fprintf(stderr, "domsec: rename %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    snprintf(dirbuf, sizeof(dirbuf), "%s", path);
    if ((dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* domsec_set - edit the lists; 2 (usage) when nothing would change */

static int domsec_set(const char *path, struct domsec_edit edits[2], int reload)
{
    char *text = domsec_read(path), *same = xstrdup("");
    bool given = false, changed = false;

    if (text == NULL) {
        free(same);
        return fprintf(stderr, "domsec: %s: %s\n", path, strerror(errno)), 1;
    }
    for (int k = 0; k < 2; k++) {
        struct domsec_edit *e = &edits[k];
        char *raw, *cur, *old, *val, *next;
        const char *missing = NULL;

        if (e->replace == NULL && e->nadd == 0 && e->nremove == 0)
            continue;
        given = true;
        raw = policy_edit_get(text, "transport", domsec_keys[k]);
        old = policy_edit_list(raw, NULL, 0, NULL, 0, &missing);   /* as it would be written */
        cur = e->replace ? xstrdup(e->replace) : raw;
        if (cur != raw)
            free(raw);
        val = policy_edit_list(cur, e->add, e->nadd, e->remove, e->nremove, &missing);
        free(cur);
        if (missing != NULL) {
            fprintf(stderr, "domsec: %s is not in %s of %s (a list file is edited by hand)\n",
                    missing, domsec_keys[k], path);
            free(old);
            free(val);
            free(text);
            free(same);
            return 1;
        }
        if (strcasecmp(old, val) == 0) {    /* domains: case does not matter */
            next = xasprintf("%s%s%s is already \"%s\"", same, same[0] ? ", " : "",
                             domsec_keys[k], old);
            free(same);
            same = next;
        } else {
            changed = true;
        }
        free(old);
        next = policy_edit_set(text, "transport", domsec_keys[k], val);
        free(val);
        free(text);
        text = next;
    }
    if (!changed) {
        if (given)
            fprintf(stderr, "domsec: transport-config set: no change: %s in %s; the file is "
                    "not written and domsecd is not reloaded\n", same, path);
        else
            fprintf(stderr, "domsec: transport-config set: nothing to set: give a list option "
                    "(see --help)\n");
        free(text);
        free(same);
        return 2;
    }
    free(same);
    if (domsec_write(path, text) != 0) {
        free(text);
        return 1;
    }
    free(text);
    if (domsec_show(path) != 0)
        return 1;
    return reload ? domsec_reload(path, true) : 0;
}

/* domsec_transport_main - argv[0] is "transport-config" */

int domsec_transport_main(const char *path, int argc, char **argv)
{
    enum { O_SEND_LIST = 256, O_RECV_LIST, O_ADD_SEND, O_DEL_SEND, O_ADD_RECV, O_DEL_RECV,
           O_NO_RELOAD };
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "tls-send-domain-secure-list", required_argument, NULL, O_SEND_LIST },
        { "tls-receive-domain-secure-list", required_argument, NULL, O_RECV_LIST },
        { "add-tls-send-domain-secure", required_argument, NULL, O_ADD_SEND },
        { "remove-tls-send-domain-secure", required_argument, NULL, O_DEL_SEND },
        { "add-tls-receive-domain-secure", required_argument, NULL, O_ADD_RECV },
        { "remove-tls-receive-domain-secure", required_argument, NULL, O_DEL_RECV },
        { "no-reload", no_argument, NULL, O_NO_RELOAD },
        { NULL, 0, NULL, 0 },
    };
    struct domsec_edit edits[2] = { { 0 } };
    int c, reload = 1;

    if (argc >= 2 && strcmp(argv[1], "partner") == 0)
        return domsec_partner_main(path, argc - 1, argv + 1);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        struct domsec_edit *e = &edits[c == O_RECV_LIST || c == O_ADD_RECV || c == O_DEL_RECV];

        switch (c) {
        case 'h': domsec_usage(0); break;
        case O_SEND_LIST: case O_RECV_LIST: e->replace = optarg; break;
        case O_ADD_SEND: case O_ADD_RECV:
            if (e->nadd == DOMSEC_MAX_EDITS)
                domsec_usage(2);
            e->add[e->nadd++] = optarg;
            break;
        case O_DEL_SEND: case O_DEL_RECV:
            if (e->nremove == DOMSEC_MAX_EDITS)
                domsec_usage(2);
            e->remove[e->nremove++] = optarg;
            break;
        case O_NO_RELOAD: reload = 0; break;
        default: domsec_usage(2);
        }
    }
    if (argc - optind != 1)
        domsec_usage(2);
    if (strcmp(argv[optind], "show") == 0)
        return domsec_show(path);
    if (strcmp(argv[optind], "set") == 0)
        return domsec_set(path, edits, reload);
    domsec_usage(2);
    return 2;
}
