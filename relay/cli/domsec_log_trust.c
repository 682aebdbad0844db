/*
 * domsec_log_trust.c - the audit's partner trust section (issue 17) in
 * the table, CSV and JSON formats of `domsec log audit`: per partner and
 * direction, from the "Partner identity" lines, the policy that applied
 * (global or the [partner] section, and its require), what proved
 * identity, the EKU and revocation seen, the refusals by rule, and the
 * inbound acceptances of serverAuth-only client certificates, called out
 * as the 2026 exception.  The HTML section is domsec_log_html_trust.c.
 *
 * CONTRACT
 *  Each function writes its part of the report to fp; the result is read,
 *  not kept.  Strings from the logs are escaped for the format (the
 *  terminal's, CSV as Exchange's Utf8Csv, JSON).  stdio errors are left to
 *  the caller's fclose().
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "domsec_cmd.h"
#include "log_audit.h"

typedef unsigned long long ull;

/* trust_domain - the i-th domain of the result: partners, then the others */

static const struct log_audit_partner *trust_domain(const struct log_audit_result *r, size_t i)
{
    return i < r->npartners ? &r->partners[i] : &r->others[i - r->npartners];
}

/* trust_table_counts - "    what:  a (3), b (1)" */

static void trust_table_counts(FILE *fp, const char *what, const struct log_audit_count *c, size_t n)
{
    fprintf(fp, "      %-12s", what);
    if (n == 0)
        fputs("-", fp);
    for (size_t k = 0; k < n; k++)
        fprintf(fp, "%s%s (%llu)", k ? ", " : "", domsec_term(c[k].name, false), (ull)c[k].count);
    fputc('\n', fp);
}

/* trust_table_exception - the 2026 exception's line, if there was one */

static void trust_table_exception(FILE *fp, const struct log_audit_identity *id)
{
    const struct log_audit_sids *s = &id->server_auth_only_sids;

    if (id->server_auth_only == 0)
        return;
    fprintf(fp, "      %-12s%llu accepted with a serverAuth-only client certificate (the 2026 "
            "exception: no clientAuth, accepted by default), %s .. %s; sessions ", "EXCEPTION:",
            (ull)id->server_auth_only, domsec_term(id->server_auth_only_first, false),
            domsec_term(id->server_auth_only_last, false));
    for (size_t i = 0; i < s->n; i++)
        fprintf(fp, "%s%s", i ? ", " : "", domsec_term(s->v[i], false));
    if (s->total > s->n)
        fprintf(fp, " (+%llu more)", (ull)(s->total - s->n));
    fputc('\n', fp);
}

/* domsec_log_trust_table - the section for people */

void domsec_log_trust_table(FILE *fp, const struct log_audit_result *r)
{
    bool any = false;

    fputs("\nPartner trust (Partner identity lines per partner and direction: the policy that "
          "applied, what proved identity, refusals by rule)\n", fp);
    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        const struct log_audit_partner *p = trust_domain(r, i);

        for (int k = 0; k < 2; k++) {
            const struct log_audit_identity *id = k ? &p->identity_out : &p->identity_in;

            if (id->decisions == 0)
                continue;
            any = true;
            fprintf(fp, "  %-28s %-9s %llu decision(s), %llu secured, %llu refused\n",
                    domsec_term(p->domain, false), k ? "outbound" : "inbound", (ull)id->decisions,
                    (ull)id->secured, (ull)(id->decisions - id->secured));
            trust_table_counts(fp, "policy:", id->policies, id->npolicies);
            trust_table_counts(fp, "proved:", id->proved, id->nproved);
            trust_table_counts(fp, "eku:", id->eku, id->neku);
            trust_table_counts(fp, "revocation:", id->revocation, id->nrevocation);
            trust_table_counts(fp, "refused:", id->refusals, id->nrefusals);
            trust_table_exception(fp, id);
        }
    }
    if (!any)
        fputs("  (none)\n", fp);
}

/* trust_csv_counts - one identity record per name */

static void trust_csv_counts(FILE *fp, const char *domain, const char *dir, const char *kind,
                             const struct log_audit_count *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        fputs("identity,", fp);
        domsec_csv_field(fp, domain, strlen(domain));
        fprintf(fp, ",%s,%s,", dir, kind);
        domsec_csv_field(fp, c[k].name, strlen(c[k].name));
        fprintf(fp, ",%llu,,,\n", (ull)c[k].count);
    }
}

/* domsec_log_trust_csv - the section's records: "identity",domain,
 * direction,kind (decisions, secured, policy, proved, eku, revocation,
 * refused, server_auth_only),name,count[,first,last,session_ids] */

void domsec_log_trust_csv(FILE *fp, const struct log_audit_result *r)
{
    fputs("record,domain,direction,kind,name,count,first,last,session_ids\n", fp);
    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        const struct log_audit_partner *p = trust_domain(r, i);

        for (int k = 0; k < 2; k++) {
            const struct log_audit_identity *id = k ? &p->identity_out : &p->identity_in;
            const char *dir = k ? "out" : "in";
            const struct log_audit_count totals[] = {
                { "decisions", id->decisions }, { "secured", id->secured },
            };

            if (id->decisions == 0)
                continue;
            trust_csv_counts(fp, p->domain, dir, "total", totals, 2);
            trust_csv_counts(fp, p->domain, dir, "policy", id->policies, id->npolicies);
            trust_csv_counts(fp, p->domain, dir, "proved", id->proved, id->nproved);
            trust_csv_counts(fp, p->domain, dir, "eku", id->eku, id->neku);
            trust_csv_counts(fp, p->domain, dir, "revocation", id->revocation, id->nrevocation);
            trust_csv_counts(fp, p->domain, dir, "refused", id->refusals, id->nrefusals);
            if (id->server_auth_only == 0)
                continue;
            fputs("identity,", fp);
            domsec_csv_field(fp, p->domain, strlen(p->domain));
            fprintf(fp, ",%s,exception,accept_server_auth_only,%llu,%s,%s,", dir,
                    (ull)id->server_auth_only, id->server_auth_only_first, id->server_auth_only_last);
            for (size_t s = 0; s < id->server_auth_only_sids.n; s++)
                fprintf(fp, "%s%s", s ? ";" : "", id->server_auth_only_sids.v[s]);
            fputc('\n', fp);
        }
    }
}

/* trust_json_dir - one direction's object */

static void trust_json_dir(FILE *fp, const struct log_audit_identity *id)
{
    fprintf(fp, "{\"decisions\": %llu, \"secured\": %llu, \"policies\": ", (ull)id->decisions,
            (ull)id->secured);
    domsec_log_audit_json_counts(fp, id->policies, id->npolicies);
    fputs(", \"proved\": ", fp);
    domsec_log_audit_json_counts(fp, id->proved, id->nproved);
    fputs(", \"eku\": ", fp);
    domsec_log_audit_json_counts(fp, id->eku, id->neku);
    fputs(", \"revocation\": ", fp);
    domsec_log_audit_json_counts(fp, id->revocation, id->nrevocation);
    fputs(", \"refusals\": ", fp);
    domsec_log_audit_json_counts(fp, id->refusals, id->nrefusals);
    fprintf(fp, ", \"server_auth_only_accepted\": {\"count\": %llu, \"first\": ",
            (ull)id->server_auth_only);
    domsec_json_cstr(fp, id->server_auth_only_first);
    fputs(", \"last\": ", fp);
    domsec_json_cstr(fp, id->server_auth_only_last);
    domsec_log_audit_json_sids(fp, &id->server_auth_only_sids);
    fputs("}}", fp);
}

/* domsec_log_trust_json - `,\n     "identity": {"in": {...}, "out": {...}}`
 * for a domain object (both directions always, zero when no line) */

void domsec_log_trust_json(FILE *fp, const struct log_audit_partner *p)
{
    fputs(",\n     \"identity\": {\"in\": ", fp);
    trust_json_dir(fp, &p->identity_in);
    fputs(",\n                  \"out\": ", fp);
    trust_json_dir(fp, &p->identity_out);
    fputc('}', fp);
}
