/*
 * domsec_crl.c - `domsec crl list`: the CRLs domsecd would use now;
 * `domsec crl ocsp`: the OCSP responses it has cached.
 *
 *   domsec [-c FILE] crl list [--json]
 *   domsec [-c FILE] crl ocsp [--json]
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
 * `crl ocsp` prints one row per OCSP response in crl_cache_directory
 * (fetched from AIA OCSP URLs for verified chains): Serial (of the
 * certificate it is about), Status (good, revoked, unknown: what the
 * responder said; each handshake verifies the response before using it),
 * ThisUpdate, NextUpdate, Responder (the URL) and State (Current or Stale
 * now); --json: the same keys plus File.  "no OCSP responses" when empty.
 *
 * CONTRACT
 *  Exit 0 with the list, also when it is empty ("no CRLs", or "[]");
 *  1 when FILE cannot be loaded or crl_directory cannot be read (the
 *  message names the file); 2 on a usage error.  A CRL file that is not a
 *  CRL is a warning on stderr naming it, and is left out.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
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
            "usage: domsec [-c FILE] crl list|ocsp [--json]\n"
            "  list     the certificate revocation lists domsecd uses: crl_directory,\n"
            "           the CRLs fetched from distribution points (cached), and their status\n"
            "  ocsp     the OCSP responses domsecd fetched and cached, and what they say\n"
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

/* What crl_ocsp_row needs besides the entry. */
struct crl_ocsp_out {
    bool    json;
    size_t  rows;
    int64_t now;
};

/* crl_ocsp_row - print one cached OCSP response */

static void crl_ocsp_row(const struct relay_ocsp_entry *e, void *arg)
{
    struct crl_ocsp_out *o = arg;
    const struct tls_ocsp_info *in = e->info;
    const char *state = in->next_update != 0 && in->next_update <= o->now ? "Stale" : "Current";
    char t1[32], t2[32];

    log_iso_time(t1, sizeof(t1), in->this_update, "-");
    log_iso_time(t2, sizeof(t2), in->next_update, "-");
    if (!o->json) {
        if (o->rows == 0)
            printf("%-20s  %-7s  %-20s  %-20s  %-9s  %s\n", "Serial", "Status", "ThisUpdate",
                   "NextUpdate", "State", "Responder");
        printf("%-20s  %-7s  %-20s  %-20s  %-9s  %s\n", in->serial, in->status, t1, t2, state,
               e->url);
    } else {
        printf("%s\n  {\"Serial\": ", o->rows ? "," : "");
        crl_json_str(stdout, in->serial);
        printf(", \"Status\": \"%s\", \"ThisUpdate\": \"%s\", \"NextUpdate\": ", in->status, t1);
        if (in->next_update != 0)
            printf("\"%s\"", t2);
        else
            printf("null");
        printf(", \"State\": \"%s\", \"Responder\": ", state);
        crl_json_str(stdout, e->url);
        printf(", \"File\": ");
        crl_json_str(stdout, e->file);
        printf("}");
    }
    o->rows++;
}

/* crl_ocsp_main - `domsec crl ocsp`: the cached OCSP responses */

static int crl_ocsp_main(const struct config *cfg, bool json)
{
    struct crl_ocsp_out o = { json, 0, (int64_t)time(NULL) };

    if (json)
        printf("[");
    if (relay_crl_ocsp_list(cfg, crl_ocsp_row, &o) < 0) {
        fprintf(stderr, "domsec: crl_cache_directory: %s\n", strerror(errno));
        return 1;
    }
    if (json)
        printf("%s]\n", o.rows ? "\n" : "");
    else if (o.rows == 0)
        printf("no OCSP responses\n");
    return 0;
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
    if (argc - optind != 1
        || (strcmp(argv[optind], "list") != 0 && strcmp(argv[optind], "ocsp") != 0))
        crl_usage(2);
    if ((cfg = domsec_config_load(config_path)) == NULL)
        return 1;
    if (strcmp(argv[optind], "ocsp") == 0) {
        c = crl_ocsp_main(cfg, json);
        policy_config_unref(cfg);
        return c;
    }
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
