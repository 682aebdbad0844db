/*
 * domsec_log_audit.c - `domsec log audit --format table|csv|json`: the
 * audit's result (logs/log_audit.h) for people, spreadsheets and programs.
 * The HTML report is domsec_log_html.c; all four show the same rows and
 * warnings.
 *
 * CONTRACT
 *  Each function writes the whole report to fp; the result is read, not
 *  kept.  Strings from the logs are escaped for the format (CSV as
 *  Exchange's Utf8Csv, JSON); the table prints them as they are.  stdio
 *  errors are left to the caller's fclose().
 */
#include <stdio.h>
#include <string.h>

#include "domsec_cmd.h"
#include "log_audit.h"

/* domsec_log_audit_table - the audit for people */

void domsec_log_audit_table(FILE *fp, const struct log_audit_result *r)
{
    fprintf(fp, "Domain security audit %s .. %s (listed domains: %s)\n\n", r->from, r->to,
            r->listed_from_config ? "configuration" : "inferred from traffic");
    fprintf(fp, "%-28s %-6s %9s %9s %9s %9s %9s %9s %9s %9s  %s\n", "Partner", "Listed",
            "SessIn", "SecIn", "SessOut", "SecOut", "MsgIn", "SecIn", "MsgOut", "SecOut", "TLS");
    for (size_t i = 0; i < r->npartners; i++) {
        const struct log_audit_partner *p = &r->partners[i];

        fprintf(fp, "%-28s %-6s %9llu %9llu %9llu %9llu %9llu %9llu %9llu %9llu  ", p->domain,
                p->listed ? "yes" : "no",
                (unsigned long long)p->sessions_in, (unsigned long long)p->sessions_in_secured,
                (unsigned long long)p->sessions_out, (unsigned long long)p->sessions_out_secured,
                (unsigned long long)p->messages_in, (unsigned long long)p->messages_in_secured,
                (unsigned long long)p->messages_out, (unsigned long long)p->messages_out_secured);
        for (size_t k = 0; k < p->ntls; k++)
            fprintf(fp, "%s%s=%llu", k ? " " : "", p->tls[k].name, (unsigned long long)p->tls[k].count);
        fputc('\n', fp);
    }
    fprintf(fp, "\nFailures\n");
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].nfailures; k++)
            fprintf(fp, "  %-28s %6llu  %s\n", r->partners[i].domain,
                    (unsigned long long)r->partners[i].failures[k].count, r->partners[i].failures[k].name);
    fprintf(fp, "\nPartner certificates\n");
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ncerts; k++) {
            const struct log_audit_cert *c = &r->partners[i].certs[k];

            fprintf(fp, "  %-28s %s (%s)\n      subject:   %s\n      issuer:    %s\n"
                    "      not after: %s\n      seen:      %s .. %s (%llu sessions)\n",
                    r->partners[i].domain, c->thumbprint, c->inbound ? "client, inbound" : "server, outbound",
                    c->subject, c->issuer,
                    c->not_after[0] ? c->not_after : "-", c->first_seen, c->last_seen,
                    (unsigned long long)c->sessions);
        }
    fprintf(fp, "\nWarnings (%zu)\n", r->nwarnings);
    for (size_t i = 0; i < r->nwarnings; i++)
        fprintf(fp, "  %s %-20s %s\n", r->warnings[i].time,
                log_audit_warning_name(r->warnings[i].kind), r->warnings[i].text);
}

/* audit_csv_s - a CSV field from a C string, with a leading comma */

static void audit_csv_s(FILE *fp, const char *s)
{
    fputc(',', fp);
    domsec_csv_field(fp, s, strlen(s));
}

/* domsec_log_audit_csv - one record per line; the first field names the record */

void domsec_log_audit_csv(FILE *fp, const struct log_audit_result *r)
{
    fputs("record,domain,listed,sessions_in,sessions_in_secured,sessions_out,sessions_out_secured,"
          "messages_in,messages_in_secured,messages_out,messages_out_secured\n", fp);
    for (size_t i = 0; i < r->npartners; i++) {
        const struct log_audit_partner *p = &r->partners[i];

        fputs("partner", fp);
        audit_csv_s(fp, p->domain);
        fprintf(fp, ",%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n", p->listed ? "yes" : "no",
                (unsigned long long)p->sessions_in, (unsigned long long)p->sessions_in_secured,
                (unsigned long long)p->sessions_out, (unsigned long long)p->sessions_out_secured,
                (unsigned long long)p->messages_in, (unsigned long long)p->messages_in_secured,
                (unsigned long long)p->messages_out, (unsigned long long)p->messages_out_secured);
    }
    fputs("record,domain,reason,count\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].nfailures; k++) {
            fputs("failure", fp);
            audit_csv_s(fp, r->partners[i].domain);
            audit_csv_s(fp, r->partners[i].failures[k].name);
            fprintf(fp, ",%llu\n", (unsigned long long)r->partners[i].failures[k].count);
        }
    fputs("record,domain,version,sessions\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ntls; k++) {
            fputs("tls", fp);
            audit_csv_s(fp, r->partners[i].domain);
            audit_csv_s(fp, r->partners[i].tls[k].name);
            fprintf(fp, ",%llu\n", (unsigned long long)r->partners[i].tls[k].count);
        }
    fputs("record,domain,direction,thumbprint,subject,issuer,serial,not_after,first_seen,last_seen,sessions\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ncerts; k++) {
            const struct log_audit_cert *c = &r->partners[i].certs[k];

            fputs("certificate", fp);
            audit_csv_s(fp, r->partners[i].domain);
            audit_csv_s(fp, c->inbound ? "in" : "out");
            audit_csv_s(fp, c->thumbprint);
            audit_csv_s(fp, c->subject);
            audit_csv_s(fp, c->issuer);
            audit_csv_s(fp, c->serial);
            audit_csv_s(fp, c->not_after);
            audit_csv_s(fp, c->first_seen);
            audit_csv_s(fp, c->last_seen);
            fprintf(fp, ",%llu\n", (unsigned long long)c->sessions);
        }
    fputs("record,domain,kind,time,text\n", fp);
    for (size_t i = 0; i < r->nwarnings; i++) {
        fputs("warning", fp);
        audit_csv_s(fp, r->warnings[i].domain);
        audit_csv_s(fp, log_audit_warning_name(r->warnings[i].kind));
        audit_csv_s(fp, r->warnings[i].time);
        audit_csv_s(fp, r->warnings[i].text);
        fputc('\n', fp);
    }
}

/* audit_json_counts - {"name": count, ...} */

static void audit_json_counts(FILE *fp, const struct log_audit_count *c, size_t n)
{
    fputc('{', fp);
    for (size_t k = 0; k < n; k++) {
        fputs(k ? ", " : "", fp);
        domsec_json_cstr(fp, c[k].name);
        fprintf(fp, ": %llu", (unsigned long long)c[k].count);
    }
    fputc('}', fp);
}

/* domsec_log_audit_json - the whole result as one object */

void domsec_log_audit_json(FILE *fp, const struct log_audit_result *r)
{
    fputs("{\n  \"from\": ", fp);
    domsec_json_cstr(fp, r->from);
    fputs(", \"to\": ", fp);
    domsec_json_cstr(fp, r->to);
    fprintf(fp, ", \"listed_from_config\": %s, \"rows\": %llu, \"sessions\": %llu,\n  \"partners\": [",
            r->listed_from_config ? "true" : "false", (unsigned long long)r->rows,
            (unsigned long long)r->sessions);
    for (size_t i = 0; i < r->npartners; i++) {
        const struct log_audit_partner *p = &r->partners[i];

        fprintf(fp, "%s\n    {\"domain\": ", i ? "," : "");
        domsec_json_cstr(fp, p->domain);
        fprintf(fp, ", \"listed\": %s,\n     \"sessions_in\": %llu, \"sessions_in_secured\": %llu, "
                "\"sessions_out\": %llu, \"sessions_out_secured\": %llu,\n"
                "     \"messages_in\": %llu, \"messages_in_secured\": %llu, "
                "\"messages_out\": %llu, \"messages_out_secured\": %llu,\n     \"failures\": ",
                p->listed ? "true" : "false",
                (unsigned long long)p->sessions_in, (unsigned long long)p->sessions_in_secured,
                (unsigned long long)p->sessions_out, (unsigned long long)p->sessions_out_secured,
                (unsigned long long)p->messages_in, (unsigned long long)p->messages_in_secured,
                (unsigned long long)p->messages_out, (unsigned long long)p->messages_out_secured);
        audit_json_counts(fp, p->failures, p->nfailures);
        fputs(", \"tls\": ", fp);
        audit_json_counts(fp, p->tls, p->ntls);
        fputs(",\n     \"certificates\": [", fp);
        for (size_t k = 0; k < p->ncerts; k++) {
            const struct log_audit_cert *c = &p->certs[k];

            fputs(k ? ", {" : "{", fp);
            fprintf(fp, "\"direction\": \"%s\", ", c->inbound ? "in" : "out");
            fputs("\"thumbprint\": ", fp); domsec_json_cstr(fp, c->thumbprint);
            fputs(", \"subject\": ", fp); domsec_json_cstr(fp, c->subject);
            fputs(", \"issuer\": ", fp); domsec_json_cstr(fp, c->issuer);
            fputs(", \"serial\": ", fp); domsec_json_cstr(fp, c->serial);
            fputs(", \"not_after\": ", fp); domsec_json_cstr(fp, c->not_after);
            fputs(", \"first_seen\": ", fp); domsec_json_cstr(fp, c->first_seen);
            fputs(", \"last_seen\": ", fp); domsec_json_cstr(fp, c->last_seen);
            fprintf(fp, ", \"sessions\": %llu}", (unsigned long long)c->sessions);
        }
        fputs("]}", fp);
    }
    fputs("\n  ],\n  \"warnings\": [", fp);
    for (size_t i = 0; i < r->nwarnings; i++) {
        fprintf(fp, "%s\n    {\"kind\": \"%s\", \"domain\": ", i ? "," : "",
                log_audit_warning_name(r->warnings[i].kind));
        domsec_json_cstr(fp, r->warnings[i].domain);
        fputs(", \"time\": ", fp);
        domsec_json_cstr(fp, r->warnings[i].time);
        fputs(", \"text\": ", fp);
        domsec_json_cstr(fp, r->warnings[i].text);
        fputc('}', fp);
    }
    fputs("\n  ],\n  \"chart\": [", fp);
    for (size_t i = 0; i < r->nbuckets; i++)
        fprintf(fp, "%s\n    {\"time\": \"%s\", \"secured\": %llu, \"not_secured\": %llu}", i ? "," : "",
                r->buckets[i].label, (unsigned long long)r->buckets[i].secured,
                (unsigned long long)r->buckets[i].not_secured);
    fputs("\n  ]\n}\n", fp);
}
