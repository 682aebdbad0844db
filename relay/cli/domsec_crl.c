/*
 * domsec_crl.c - `domsec crl list`: the CRLs domsecd would use now.
 *
 *   domsec [-c FILE] crl list [--json]
 *
 * Loads FILE as domsecd does and builds the CRL set from crl_directory, the
 * fetch cache and the issuer certificates exactly as domsecd does
 * (relay_crl_load), without fetching anything, and prints one row per
 * CRL: Issuer, ThisUpdate, NextUpdate (ISO 8601 UTC, "-" when absent),
 * Entries, Source (the URL a cached CRL was fetched from, else its file)
 * and Status (Current, Stale, BadSignature, IssuerUnknown).  --json prints
 * an array of objects with those keys, plus File (the file read) and
 * Number (cRLNumber, "" if none); NextUpdate is null when absent.
 *
 * CONTRACT
 *  Exit 0 with the list, also when it is empty ("no CRLs", or "[]");
 *  1 when FILE cannot be loaded or crl_directory cannot be read (the
 *  message names the file); 2 on a usage error.  A CRL file that is not a
 *  CRL is a warning on stderr naming it, and is left out.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domsec_cmd.h"
#include "log.h"
#include "log_util.h"
#include "policy_config.h"
#include "relay_crl.h"

/* crl_usage - print usage and exit */

static void crl_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] crl list [--json]\n"
            "  list     the certificate revocation lists domsecd uses: crl_directory,\n"
            "           the CRLs fetched from distribution points (cached), and their status\n"
            "  --json   an array of objects instead of a table\n");
    exit(status);
}

/* crl_json_str - s as a JSON string */

static void crl_json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\u%04x", *p);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
}

/* crl_print_json - the set as a JSON array */

static void crl_print_json(struct tls_crl_set *s, int64_t now)
{
    size_t n = tls_crl_set_count(s);
    char t1[32], t2[32];

    printf("[");
    for (size_t i = 0; i < n; i++) {
        struct tls_crl_info in;

        tls_crl_set_info(s, i, now, &in);
        printf("%s\n  {\"Issuer\": ", i ? "," : "");
        crl_json_str(stdout, in.issuer);
        printf(", \"ThisUpdate\": \"%s\", \"NextUpdate\": ", log_iso_time(t1, sizeof(t1), in.this_update, "-"));
        if (in.next_update != 0)
            printf("\"%s\"", log_iso_time(t2, sizeof(t2), in.next_update, "-"));
        else
            printf("null");
        printf(", \"Entries\": %zu, \"Source\": ", in.entries);
        crl_json_str(stdout, in.url ? in.url : in.source);
        printf(", \"Status\": ");
        crl_json_str(stdout, in.status);
        printf(", \"File\": ");
        crl_json_str(stdout, in.source);
        printf(", \"Number\": ");
        crl_json_str(stdout, in.number);
        printf("}");
    }
    printf("%s]\n", n ? "\n" : "");
}

/* crl_print_table - the set as aligned columns under a header line */

static void crl_print_table(struct tls_crl_set *s, int64_t now)
{
    static const char *head[6] = { "Issuer", "ThisUpdate", "NextUpdate", "Entries", "Source",
                                    "Status" };
    size_t n = tls_crl_set_count(s), w[6];
    char (*cell)[6][1100] = xcalloc(n, sizeof(*cell));

    for (int k = 0; k < 6; k++)
        w[k] = strlen(head[k]);
    for (size_t i = 0; i < n; i++) {
        struct tls_crl_info in;
        char t[32];

        tls_crl_set_info(s, i, now, &in);
        snprintf(cell[i][0], sizeof(cell[i][0]), "%s", in.issuer);
        snprintf(cell[i][1], sizeof(cell[i][1]), "%s", log_iso_time(t, sizeof(t), in.this_update, "-"));
        snprintf(cell[i][2], sizeof(cell[i][2]), "%s", log_iso_time(t, sizeof(t), in.next_update, "-"));
        snprintf(cell[i][3], sizeof(cell[i][3]), "%zu", in.entries);
        snprintf(cell[i][4], sizeof(cell[i][4]), "%s", in.url ? in.url : in.source);
        snprintf(cell[i][5], sizeof(cell[i][5]), "%s", in.status);
        for (int k = 0; k < 6; k++)
            w[k] = strlen(cell[i][k]) > w[k] ? strlen(cell[i][k]) : w[k];
    }
    for (int k = 0; k < 6; k++)
        printf("%-*s%s", k == 5 ? 0 : (int)w[k], head[k], k == 5 ? "\n" : "  ");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 6; k++)
            printf("%-*s%s", k == 5 ? 0 : (int)w[k], cell[i][k], k == 5 ? "\n" : "  ");
    free(cell);
}

/* domsec_crl_main - `domsec crl ...` */

int domsec_crl_main(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct tls_crl_set *s;
    struct config *cfg;
    const char *why = NULL;
    int c, json = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': crl_usage(0); break;
        default: crl_usage(2);
        }
    }
    if (argc - optind != 1 || strcmp(argv[optind], "list") != 0)
        crl_usage(2);
    if ((cfg = domsec_config_load(config_path)) == NULL)
        return 1;
    if ((s = relay_crl_load(cfg, &why)) == NULL) {
        fprintf(stderr, "domsec: crl_directory %s: %s\n", cfg->transport.crl_directory,
                why ? why : "cannot be read");
        policy_config_unref(cfg);
        return 1;
    }
    if (json)
        crl_print_json(s, (int64_t)time(NULL));
    else if (tls_crl_set_count(s) == 0)
        printf("no CRLs\n");
    else
        crl_print_table(s, (int64_t)time(NULL));
    tls_crl_set_unref(s);
    policy_config_unref(cfg);
    return 0;
}
