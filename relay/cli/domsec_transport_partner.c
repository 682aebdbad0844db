/*
 * domsec_transport_partner.c - `domsec transport-config partner ...`: the
 * [partner DOMAIN] sections of the configuration file.
 *
 *   domsec [-c FILE] transport-config partner show [DOMAIN]
 *   domsec [-c FILE] transport-config partner set DOMAIN KEY VALUE [KEY VALUE]...
 *       [--no-reload]
 *   domsec [-c FILE] transport-config partner remove DOMAIN [--no-reload]
 *
 * show prints the sections as domsecd loads them (derived defaults filled
 * in, pins in lower case), each as "[partner DOMAIN]" and its "key =
 * value" lines, blank lines between; with DOMAIN only that one (exit 1
 * when it has none: the global rules apply).  set writes the keys into
 * DOMAIN's section (made when missing, after the file's last line), remove
 * takes the section out; both with the safety of `transport-config set`:
 * the new text is loaded exactly as domsecd loads it before anything is
 * written (an error such as a bad pin or a domain on neither secure list
 * leaves the file as it was, exit 1), the file is replaced atomically,
 * every other line and comment is kept, and the running domsecd is told
 * to reload (unless --no-reload).  A set that changes nothing is a usage
 * error (exit 2), as is a value with control characters or a " ;" (which
 * would start a comment).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_config.h"
#include "policy_edit.h"
#include "domsec_cmd.h"

/* partner_usage - print usage and exit */

static void partner_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] transport-config partner show [DOMAIN]\n"
            "       domsec [-c FILE] transport-config partner set DOMAIN KEY VALUE "
            "[KEY VALUE]... [--no-reload]\n"
            "       domsec [-c FILE] transport-config partner remove DOMAIN [--no-reload]\n"
            "  KEY: trusted_ca_file, trust_global_ca, certificate_pins,\n"
            "       accept_server_auth_only, min_tls_version, require, revocation,\n"
            "       revocation_failure (see domsec.conf(5), [partner DOMAIN])\n"
            "  --no-reload   do not reload the running domsecd\n");
    exit(status);
}

/* partner_show - the sections as domsecd loads them */

static int partner_show(const char *path, const char *domain)
{
    struct config *cfg = domsec_config_load(path);
    const struct cfg_partner *p;

    if (cfg == NULL)
        return 1;
    if (domain != NULL) {
        if ((p = policy_partner_find(cfg, domain)) == NULL) {
            fprintf(stderr, "domsec: %s has no [partner %s] section: the global rules "
                    "apply to it\n", path, domsec_term(domain, false));
            policy_config_unref(cfg);
            return 1;
        }
        policy_partner_print(p, stdout);
    }
    for (size_t i = 0; domain == NULL && i < cfg->npartners; i++) {
        if (i > 0)
            putchar('\n');
        policy_partner_print(&cfg->partners[i], stdout);
    }
    policy_config_unref(cfg);
    return 0;
}

/* partner_value_ok - a value that stays one value on one line */

static bool partner_value_ok(const char *v)
{
    for (const char *p = v; *p; p++)
        if (iscntrl((unsigned char)*p) || (*p == ';' && p > v && isspace((unsigned char)p[-1])))
            return false;
    return true;
}


/* partner_set - set KEY VALUE pairs in DOMAIN's section */

static int partner_set(const char *path, const char *domain, char **kv, int n, bool reload)
{
    char   *text = domsec_read(path), *section = xasprintf("partner %s", domain), *next;
    bool    changed = false;
    int     rc;

    if (text == NULL) {
        fprintf(stderr, "domsec: %s: %s\n", path, strerror(errno));
        free(section);
        return 1;
    }
    for (int i = 0; i + 1 < n; i += 2) {
        char   *old = policy_edit_get(text, section, kv[i]);

        if (old == NULL || strcmp(old, kv[i + 1]) != 0) {
            changed = true;
            next = policy_edit_set(text, section, kv[i], kv[i + 1]);
            free(text);
            text = next;
        }
        free(old);
    }
    if (!changed) {
        fprintf(stderr, "domsec: transport-config partner set: no change: [%s] of %s "
                "already has these values; the file is not written and domsecd is not "
                "reloaded\n", section, path);
        free(text);
        free(section);
        return 2;
    }
    rc = domsec_write(path, text) != 0 || partner_show(path, domain) != 0 ? 1
        : reload ? domsec_reload(path, true) : 0;
    free(text);
    free(section);
    return rc;
}

/* partner_remove - take DOMAIN's section out */

static int partner_remove(const char *path, const char *domain, bool reload)
{
    char   *text = domsec_read(path), *section = xasprintf("partner %s", domain), *next;
    int     rc;

    if (text == NULL) {
        fprintf(stderr, "domsec: %s: %s\n", path, strerror(errno));
        free(section);
        return 1;
    }
    if ((next = policy_edit_remove(text, section)) == NULL) {
        fprintf(stderr, "domsec: %s has no [%s] section\n", path, section);
        free(text);
        free(section);
        return 1;
    }
    if ((rc = domsec_write(path, next)) == 0) {
        printf("[%s] removed: the global rules apply to %s\n", section, domain);
        rc = reload ? domsec_reload(path, true) : 0;
    }
    free(next);
    free(text);
    free(section);
    return rc;
}

/* domsec_partner_main - argv[0] is "partner" */

int domsec_partner_main(const char *path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "no-reload", no_argument, NULL, 'R' },
        { NULL, 0, NULL, 0 },
    };
    char    domain[256];
    const char *why, *verb;
    bool    reload = true;
    int     c, n;

    optind = 0;                         /* GNU getopt: start afresh */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': partner_usage(0); break;
        case 'R': reload = false; break;
        default: partner_usage(2);
        }
    }
    /* Options may also follow the words (getopt stopped at the first one). */
    for (int i = optind; i < argc; i++)
        if (strcmp(argv[i], "--no-reload") == 0) {
            reload = false;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i - 1) * sizeof(*argv));
            argc--, i--;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            partner_usage(0);
        }
    if ((n = argc - optind) < 1)
        partner_usage(2);
    verb = argv[optind];
    if (strcmp(verb, "show") == 0 && n <= 2 && reload) {
        if (n == 1)
            return partner_show(path, NULL);
    } else if (!(strcmp(verb, "remove") == 0 && n == 2)
               && !(strcmp(verb, "set") == 0 && n >= 4 && n % 2 == 0)) {
        partner_usage(2);
    }
    if (policy_parse_domain(argv[optind + 1], domain, sizeof(domain), &why) < 0) {
        fprintf(stderr, "domsec: transport-config partner: \"%s\" %s\n",
                domsec_term(argv[optind + 1], false), why);
        return 2;
    }
    if (strcmp(verb, "show") == 0)
        return partner_show(path, domain);
    if (strcmp(verb, "remove") == 0)
        return partner_remove(path, domain, reload);
    for (int i = optind + 2; i < argc; i += 2)
        if (!partner_value_ok(argv[i]) || !partner_value_ok(argv[i + 1])
            || strpbrk(argv[i], "=:[] \t") != NULL || argv[i][0] == '\0') {
            fprintf(stderr, "domsec: transport-config partner set: \"%s\" = \"%s\": a key "
                    "is one word and a value one line without \" ;\"\n",
                    domsec_term(argv[i], false), domsec_term(argv[i + 1], false));
            return 2;
        }
    return partner_set(path, domain, argv + optind + 2, n - 2, reload);
}
