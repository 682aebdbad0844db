/*
 * domsec_log_audit.c - `domsec log audit --format table|csv|json`: the
 * audit's result (logs/log_audit.h) for people, spreadsheets and programs.
 * The HTML report is domsec_log_html.c; all four show the same rows and
 * warnings: the report's metadata (when, where, by which version, over
 * which logs and range, the lists then and now, totals), the partners,
 * every certificate a partner presented with its verdict, the warnings,
 * the outbound TLS policy verdicts per domain (domain-secure, DANE,
 * MTA-STS, opportunistic), the partner trust section (domsec_log_trust.c:
 * what proved each partner's identity), the other domains and our own
 * certificates.
 *
 * CONTRACT
 *  Each function writes the whole report to fp; the result is read, not
 *  kept.  Strings from the logs are escaped for the format (CSV as
 *  Exchange's Utf8Csv, JSON); the table prints them as they are.  stdio
 *  errors are left to the caller's fclose().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "log.h"
#include "log_audit.h"

typedef unsigned long long ull;

/* T - text from the logs (certificate subjects, senders' domains, replies)
 * safe for a terminal, on one line: no escape sequence, no forged line */

static const char *T(const char *s)
{
    return domsec_term(s, false);
}

/* audit_listed_word - "yes", "no", and "(today)" when the logs did not say */

static const char *audit_listed_word(struct log_audit_listed l)
{
    if (l.from_today)
        return l.then ? "yes (today)" : "no (today)";
    return l.then ? "yes" : "no";
}

/* audit_table_list - "a, b" or "-" */

static void audit_table_list(FILE *fp, char *const *v, size_t n)
{
    if (n == 0)
        fputs("-", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%s%s", i ? ", " : "", T(v[i]));
}

/* audit_table_total - one line of totals */

static void audit_table_total(FILE *fp, const char *name, const struct log_audit_totals *t)
{
    fprintf(fp, "  %-10s sessions in %llu (%llu secured), out %llu (%llu secured); messages in %llu "
            "(%llu secured), out %llu (%llu secured); refused %llu\n", name,
            (ull)t->sessions_in, (ull)t->sessions_in_secured, (ull)t->sessions_out,
            (ull)t->sessions_out_secured, (ull)t->messages_in, (ull)t->messages_in_secured,
            (ull)t->messages_out, (ull)t->messages_out_secured, (ull)t->refused);
}

/* audit_table_domains - the partner or other-domain table */

static void audit_table_domains(FILE *fp, const struct log_audit_partner *v, size_t n)
{
    fprintf(fp, "  %-28s %-12s %-12s %7s %7s %7s %7s %7s %7s %7s %7s %7s  %s\n", "Domain",
            "Listed in", "Listed out", "SessIn", "SecIn", "RefIn", "SessOut", "SecOut", "RefOut",
            "MsgIn", "SecIn", "MsgOut", "SecOut / TLS");
    for (size_t i = 0; i < n; i++) {
        const struct log_audit_partner *p = &v[i];

        fprintf(fp, "  %-28s %-12s %-12s %7llu %7llu %7llu %7llu %7llu %7llu %7llu %7llu %7llu  "
                "%llu /", T(p->domain), audit_listed_word(p->listed_in), audit_listed_word(p->listed_out),
                (ull)p->sessions_in, (ull)p->sessions_in_secured, (ull)p->sessions_in_refused,
                (ull)p->sessions_out, (ull)p->sessions_out_secured, (ull)p->sessions_out_refused,
                (ull)p->messages_in, (ull)p->messages_in_secured, (ull)p->messages_out,
                (ull)p->messages_out_secured);
        for (size_t k = 0; k < p->ntls; k++)
            fprintf(fp, " %s=%llu", T(p->tls[k].name), (ull)p->tls[k].count);
        fputs(p->ours ? "  (ours)\n" : "\n", fp);
    }
    if (n == 0)
        fputs("  (none)\n", fp);
}

/* audit_table_policies - one line per domain, policy and verdict */

static void audit_table_policies(FILE *fp, const struct log_audit_partner *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < v[i].npolicies; k++)
            fprintf(fp, "  %-28s %6llu  %s\n", T(v[i].domain), (ull)v[i].policies[k].count,
                    T(v[i].policies[k].name));
}

/* audit_table_sids - "id, id, ... (+N more)" */

static void audit_table_sids(FILE *fp, const struct log_audit_sids *s)
{
    for (size_t i = 0; i < s->n; i++)
        fprintf(fp, "%s%s", i ? ", " : "", T(s->v[i]));
    if (s->total > s->n)
        fprintf(fp, " (+%llu more)", (ull)(s->total - s->n));
}

/* audit_table_cert - one certificate, several lines */

static void audit_table_cert(FILE *fp, const char *domain, const struct log_audit_cert *c)
{
    fprintf(fp, "  %-28s %s %s (%s)\n      subject:   %s\n      issuer:    %s\n"
            "      serial:    %s\n      valid:     %s .. %s\n", T(domain),
            log_audit_verdict_name(c->verdict), T(c->thumbprint),
            c->inbound ? "client, inbound" : "server, outbound", T(c->subject), T(c->issuer),
            c->serial[0] ? T(c->serial) : "-", c->not_before[0] ? T(c->not_before) : "-",
            c->not_after[0] ? T(c->not_after) : "-");
    if (c->chain_status[0] || c->revocation[0])         /* the revocation's reason is "why" */
        fprintf(fp, "      chain:     %s%s%.*s\n", c->chain_status[0] ? T(c->chain_status) : "-",
                c->revocation[0] ? "; revocation " : "", (int)strcspn(T(c->revocation), ":"),
                T(c->revocation));
    if (c->reason && c->reason[0])
        fprintf(fp, "      why:       %s\n", T(c->reason));
    if (c->verdict == LOG_AUDIT_V_REVOKED)
        fprintf(fp, "      revoked:   %s by CRL of %s\n", c->revoked_at[0] ? T(c->revoked_at) : "?",
                c->crl_issuer[0] ? T(c->crl_issuer) : "?");
    if (c->reply[0])
        fprintf(fp, "      reply:     %s\n", T(c->reply));
    fprintf(fp, "      seen:      %s .. %s (%llu session(s); listed then: %s)\n      sessions:  ",
            T(c->first_seen), T(c->last_seen), (ull)c->sessions, audit_listed_word(c->listed));
    audit_table_sids(fp, &c->sids);
    fputc('\n', fp);
}

/* domsec_log_audit_table - the audit for people */

void domsec_log_audit_table(FILE *fp, const struct log_audit_result *r)
{
    fprintf(fp, "Domain security audit\n\n  Generated:   %s on %s by domsec %s\n  Logs read:   ",
            T(r->generated), r->host[0] ? T(r->host) : "?", T(r->version));
    for (size_t i = 0; i < r->npaths; i++)
        fprintf(fp, "%s%s", i ? ", " : "", r->paths[i] ? T(r->paths[i]) : "?");
    fprintf(fp, "\n  Range:       %s .. %s\n  Rows:        %llu rows, %llu sessions, %s .. %s\n",
            r->from[0] ? T(r->from) : "-", r->to[0] ? T(r->to) : "-", (ull)r->rows, (ull)r->sessions,
            r->first_row[0] ? T(r->first_row) : "-", r->last_row[0] ? T(r->last_row) : "-");
    fputs("  Listed now:  receive ", fp);
    if (r->listed_from_config) {
        audit_table_list(fp, r->lists_now.recv, r->lists_now.nrecv);
        fputs("; send ", fp);
        audit_table_list(fp, r->lists_now.send, r->lists_now.nsend);
    } else {
        fputs("unknown (no configuration loaded)", fp);
    }
    fputs("\n  Listed then: (as the logs show) receive ", fp);
    audit_table_list(fp, r->listed_then.recv, r->listed_then.nrecv);
    fputs("; send ", fp);
    audit_table_list(fp, r->listed_then.send, r->listed_then.nsend);
    for (size_t i = 0; i < r->nconfigs; i++) {
        const struct log_audit_config *c = &r->configs[i];

        fprintf(fp, "\n  Lists from:  %s sha256=%.16s... receive ", T(c->time), T(c->digest));
        audit_table_list(fp, c->lists.recv, c->lists.nrecv);
        fputs("; send ", fp);
        audit_table_list(fp, c->lists.send, c->lists.nsend);
    }
    fprintf(fp, "\n  Warnings:    %zu\n", r->nwarnings);
    for (size_t i = 0; i < r->nnotes; i++)
        fprintf(fp, "  Note:        %s\n", T(r->notes[i]));
    fputs("\nTotals\n", fp);
    audit_table_total(fp, "partners", &r->total_partners);
    audit_table_total(fp, "other", &r->total_others);
    audit_table_total(fp, "internal", &r->total_internal);
    fputs("\nPartners (listed at the time, or presented a certificate)\n", fp);
    audit_table_domains(fp, r->partners, r->npartners);
    fprintf(fp, "\nWarnings (%zu)\n", r->nwarnings);
    for (size_t i = 0; i < r->nwarnings; i++) {
        const struct log_audit_warning *w = &r->warnings[i];

        fprintf(fp, "  %s %-20s %s\n", T(w->time), log_audit_warning_name(w->kind), T(w->text));
        if (w->count > 1 || w->sids.n > 0) {
            fprintf(fp, "      %llu time(s), %s .. %s", (ull)w->count, T(w->first), T(w->last));
            if (w->sids.n) {
                fputs("; sessions ", fp);
                audit_table_sids(fp, &w->sids);
            }
            fputc('\n', fp);
        }
    }
    if (r->nwarnings == 0)
        fputs("  No warnings.\n", fp);
    fprintf(fp, "\nFailures\n");
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].nfailures; k++)
            fprintf(fp, "  %-28s %6llu  %s\n", T(r->partners[i].domain),
                    (ull)r->partners[i].failures[k].count, T(r->partners[i].failures[k].name));
    fputs("\nOutbound TLS policies (send sessions by the policy that applied and its verdict)\n",
          fp);
    audit_table_policies(fp, r->partners, r->npartners);
    audit_table_policies(fp, r->others, r->nothers);
    domsec_log_trust_table(fp, r);
    fprintf(fp, "\nPartner certificates (every one presented, with its verdict)\n");
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ncerts; k++)
            audit_table_cert(fp, r->partners[i].domain, &r->partners[i].certs[k]);
    fputs("\nOther domains (ours, and unlisted ones that presented no certificate)\n", fp);
    audit_table_domains(fp, r->others, r->nothers);
    fputs("\nOur certificates\n", fp);
    for (size_t k = 0; k < r->nown_certs; k++) {
        const struct log_audit_cert *c = &r->own_certs[k];

        fprintf(fp, "  %s %s (%s)\n      subject:   %s\n      not after: %s\n"
                "      seen:      %s .. %s (%llu sessions)\n", T(c->thumbprint),
                c->inbound ? "server, Receive" : "client, Send", T(c->serial), T(c->subject),
                c->not_after[0] ? T(c->not_after) : "-", T(c->first_seen), T(c->last_seen),
                (ull)c->sessions);
    }
}

/* ---------------------------------------------------------------- CSV */

/* audit_csv_s - a CSV field from a C string, with a leading comma */

static void audit_csv_s(FILE *fp, const char *s)
{
    fputc(',', fp);
    domsec_csv_field(fp, s ? s : "", strlen(s ? s : ""));
}

/* audit_csv_meta_list - a "meta,<key>,<value>" record for each of v */

static void audit_csv_meta_list(FILE *fp, const char *key, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(fp, "meta,%s", key);
        audit_csv_s(fp, v[i]);
        fputc('\n', fp);
    }
}

/* audit_csv_sids - the ids joined by ';' */

static void audit_csv_sids(FILE *fp, const struct log_audit_sids *s)
{
    fputc(',', fp);
    for (size_t i = 0; i < s->n; i++)
        fprintf(fp, "%s%s", i ? ";" : "", s->v[i]);
}

/* audit_csv_domains - partner or other records */

static void audit_csv_domains(FILE *fp, const char *record, const struct log_audit_partner *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct log_audit_partner *p = &v[i];

        fputs(record, fp);
        audit_csv_s(fp, p->domain);
        fprintf(fp, ",%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu", p->listed ? "yes" : "no",
                (ull)p->sessions_in, (ull)p->sessions_in_secured, (ull)p->sessions_out,
                (ull)p->sessions_out_secured, (ull)p->messages_in, (ull)p->messages_in_secured,
                (ull)p->messages_out, (ull)p->messages_out_secured);
        fprintf(fp, ",%s,%s,%s,%s,%s,%s,%llu,%llu\n", p->listed_in.then ? "yes" : "no",
                p->listed_out.then ? "yes" : "no",
                p->listed_in.from_today || p->listed_out.from_today ? "yes" : "no",
                p->listed_in_now ? "yes" : "no", p->listed_out_now ? "yes" : "no",
                p->presented ? "yes" : p->ours ? "ours" : "no", (ull)p->sessions_in_refused,
                (ull)p->sessions_out_refused);
    }
}

/* audit_csv_cert - one certificate record */

static void audit_csv_cert(FILE *fp, const char *record, const char *domain, const struct log_audit_cert *c)
{
    fputs(record, fp);
    audit_csv_s(fp, domain);
    audit_csv_s(fp, c->inbound ? "in" : "out");
    audit_csv_s(fp, c->thumbprint);
    audit_csv_s(fp, c->subject);
    audit_csv_s(fp, c->issuer);
    audit_csv_s(fp, c->serial);
    audit_csv_s(fp, c->not_after);
    audit_csv_s(fp, c->first_seen);
    audit_csv_s(fp, c->last_seen);
    fprintf(fp, ",%llu", (ull)c->sessions);
    audit_csv_s(fp, log_audit_verdict_name(c->verdict));
    audit_csv_s(fp, c->reason);
    audit_csv_s(fp, c->chain_status);
    audit_csv_s(fp, c->revocation);
    audit_csv_s(fp, c->crl_issuer);
    audit_csv_s(fp, c->revoked_at);
    audit_csv_s(fp, c->reply);
    audit_csv_s(fp, audit_listed_word(c->listed));
    audit_csv_sids(fp, &c->sids);
    audit_csv_s(fp, c->not_before);
    fputc('\n', fp);
}

/* audit_csv_total - one totals record */

static void audit_csv_total(FILE *fp, const char *name, const struct log_audit_totals *t)
{
    fprintf(fp, "total,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n", name,
            (ull)t->sessions_in, (ull)t->sessions_in_secured, (ull)t->sessions_out,
            (ull)t->sessions_out_secured, (ull)t->messages_in, (ull)t->messages_in_secured,
            (ull)t->messages_out, (ull)t->messages_out_secured, (ull)t->refused);
}

/* domsec_log_audit_csv - one record per line; the first field names the record */

void domsec_log_audit_csv(FILE *fp, const struct log_audit_result *r)
{
    static const char domain_cols[] = "sessions_in,sessions_in_secured,sessions_out,"
        "sessions_out_secured,messages_in,messages_in_secured,messages_out,messages_out_secured,"
        "listed_in_then,listed_out_then,listed_from_today,listed_in_now,listed_out_now,presented,"
        "sessions_in_refused,sessions_out_refused\n";
    static const char cert_cols[] = "thumbprint,subject,issuer,serial,not_after,first_seen,"
        "last_seen,sessions,verdict,reason,chain_status,revocation,crl_issuer,revoked_at,reply,"
        "listed_then,session_ids,not_before\n";

    fputs("record,key,value\n", fp);
    fprintf(fp, "meta,generated,%s\nmeta,host", r->generated);
    audit_csv_s(fp, r->host);
    fprintf(fp, "\nmeta,version");
    audit_csv_s(fp, r->version);
    for (size_t i = 0; i < r->npaths; i++) {
        fputs("\nmeta,path", fp);
        audit_csv_s(fp, r->paths[i]);
    }
    fputs("\nmeta,from", fp);
    audit_csv_s(fp, r->from);
    fputs("\nmeta,to", fp);
    audit_csv_s(fp, r->to);
    fputs("\nmeta,first_row", fp);
    audit_csv_s(fp, r->first_row);
    fputs("\nmeta,last_row", fp);
    audit_csv_s(fp, r->last_row);
    fprintf(fp, "\nmeta,rows,%llu\nmeta,sessions,%llu\nmeta,listed_from_config,%s\n"
            "meta,history_incomplete,%s\nmeta,warnings,%zu\n", (ull)r->rows, (ull)r->sessions, r->listed_from_config ? "yes" : "no",
            r->history_incomplete ? "yes" : "no", r->nwarnings);
    audit_csv_meta_list(fp, "listed_now_receive", r->lists_now.recv, r->lists_now.nrecv);
    audit_csv_meta_list(fp, "listed_now_send", r->lists_now.send, r->lists_now.nsend);
    audit_csv_meta_list(fp, "listed_then_receive", r->listed_then.recv, r->listed_then.nrecv);
    audit_csv_meta_list(fp, "listed_then_send", r->listed_then.send, r->listed_then.nsend);
    for (size_t i = 0; i < r->nconfigs; i++) {
        const struct log_audit_config *c = &r->configs[i];
        char   *v = xasprintf("%s;sha256=%s;receive=", c->time, c->digest), *t;

        for (size_t k = 0; k < c->lists.nrecv + c->lists.nsend; k++) {     /* one field */
            bool    recv = k < c->lists.nrecv;

            t = xasprintf("%s%s%s", v, k == c->lists.nrecv ? ";send=" : k ? " " : "",
                          recv ? c->lists.recv[k] : c->lists.send[k - c->lists.nrecv]);
            free(v);
            v = t;
        }
        if (c->lists.nsend == 0) {
            t = xasprintf("%s;send=", v);
            free(v);
            v = t;
        }
        fputs("meta,config", fp);
        audit_csv_s(fp, v);
        fputc('\n', fp);
        free(v);
    }
    for (size_t i = 0; i < r->nnotes; i++) {
        fputs("meta,note", fp);
        audit_csv_s(fp, r->notes[i]);
        fputc('\n', fp);
    }
    fputs("record,class,sessions_in,sessions_in_secured,sessions_out,sessions_out_secured,"
          "messages_in,messages_in_secured,messages_out,messages_out_secured,refused\n", fp);
    audit_csv_total(fp, "partners", &r->total_partners);
    audit_csv_total(fp, "other", &r->total_others);
    audit_csv_total(fp, "internal", &r->total_internal);
    fprintf(fp, "record,domain,listed,%s", domain_cols);
    audit_csv_domains(fp, "partner", r->partners, r->npartners);
    fputs("record,domain,reason,count\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].nfailures; k++) {
            fputs("failure", fp);
            audit_csv_s(fp, r->partners[i].domain);
            audit_csv_s(fp, r->partners[i].failures[k].name);
            fprintf(fp, ",%llu\n", (ull)r->partners[i].failures[k].count);
        }
    fputs("record,domain,version,sessions\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ntls; k++) {
            fputs("tls", fp);
            audit_csv_s(fp, r->partners[i].domain);
            audit_csv_s(fp, r->partners[i].tls[k].name);
            fprintf(fp, ",%llu\n", (ull)r->partners[i].tls[k].count);
        }
    fputs("record,domain,policy,sessions\n", fp);
    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        const struct log_audit_partner *p = i < r->npartners ? &r->partners[i]
            : &r->others[i - r->npartners];

        for (size_t k = 0; k < p->npolicies; k++) {
            fputs("policy", fp);
            audit_csv_s(fp, p->domain);
            audit_csv_s(fp, p->policies[k].name);
            fprintf(fp, ",%llu\n", (ull)p->policies[k].count);
        }
    }
    domsec_log_trust_csv(fp, r);
    fprintf(fp, "record,domain,direction,%s", cert_cols);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ncerts; k++)
            audit_csv_cert(fp, "certificate", r->partners[i].domain, &r->partners[i].certs[k]);
    fputs("record,domain,kind,time,text,count,first,last,session_ids,reply,reason,thumbprint,"
          "verdict,days_left,ours,direction,listed_then\n", fp);
    for (size_t i = 0; i < r->nwarnings; i++) {
        const struct log_audit_warning *w = &r->warnings[i];

        fputs("warning", fp);
        audit_csv_s(fp, w->domain);
        audit_csv_s(fp, log_audit_warning_name(w->kind));
        audit_csv_s(fp, w->time);
        audit_csv_s(fp, w->text);
        fprintf(fp, ",%llu", (ull)w->count);
        audit_csv_s(fp, w->first);
        audit_csv_s(fp, w->last);
        audit_csv_sids(fp, &w->sids);
        audit_csv_s(fp, w->reply);
        audit_csv_s(fp, w->reason);
        audit_csv_s(fp, w->thumbprint);
        audit_csv_s(fp, w->kind == LOG_AUDIT_W_CERT_REFUSED ? log_audit_verdict_name(w->verdict) : "");
        fprintf(fp, ",%ld,%s,%s", w->kind == LOG_AUDIT_W_CERT_EXPIRES ? w->days_left : 0L,
                w->ours ? "yes" : "no", w->inbound ? "in" : "out");
        audit_csv_s(fp, audit_listed_word(w->listed));
        fputc('\n', fp);
    }
    fprintf(fp, "record,domain,listed,%s", domain_cols);
    audit_csv_domains(fp, "other", r->others, r->nothers);
    fprintf(fp, "record,domain,direction,%s", cert_cols);
    for (size_t k = 0; k < r->nown_certs; k++)
        audit_csv_cert(fp, "own_certificate", "", &r->own_certs[k]);
    fprintf(fp, "record,time,secured,not_secured,refused\n");
    for (size_t i = 0; i < r->nbuckets; i++)
        fprintf(fp, "chart,%s,%llu,%llu,%llu\n", r->buckets[i].label, (ull)r->buckets[i].secured,
                (ull)r->buckets[i].not_secured, (ull)r->buckets[i].refused);
}

/* ---------------------------------------------------------------- JSON */

/* audit_json_kv - `, "key": "value"` */

static void audit_json_kv(FILE *fp, const char *key, const char *value)
{
    fprintf(fp, ", \"%s\": ", key);
    domsec_json_cstr(fp, value ? value : "");
}

/* audit_json_strv - ["a", "b"] */

static void audit_json_strv(FILE *fp, const char *const *v, size_t n)
{
    fputc('[', fp);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", fp);
        domsec_json_cstr(fp, v[i] ? v[i] : "");
    }
    fputc(']', fp);
}

/* domsec_log_audit_json_sids - "session_ids": [...], "session_ids_total": N */

void domsec_log_audit_json_sids(FILE *fp, const struct log_audit_sids *s)
{
    fputs(", \"session_ids\": [", fp);
    for (size_t i = 0; i < s->n; i++)
        fprintf(fp, "%s\"%s\"", i ? ", " : "", s->v[i]);
    fprintf(fp, "], \"session_ids_total\": %llu", (ull)s->total);
}

/* audit_json_listed - {"then": b, "from_today": b} */

static void audit_json_listed(FILE *fp, const char *key, struct log_audit_listed l)
{
    fprintf(fp, ", \"%s\": {\"then\": %s, \"from_today\": %s}", key, l.then ? "true" : "false",
            l.from_today ? "true" : "false");
}

/* domsec_log_audit_json_counts - {"name": count, ...} */

void domsec_log_audit_json_counts(FILE *fp, const struct log_audit_count *c, size_t n)
{
    fputc('{', fp);
    for (size_t k = 0; k < n; k++) {
        fputs(k ? ", " : "", fp);
        domsec_json_cstr(fp, c[k].name);
        fprintf(fp, ": %llu", (ull)c[k].count);
    }
    fputc('}', fp);
}

/* audit_json_cert - one certificate object */

static void audit_json_cert(FILE *fp, const struct log_audit_cert *c)
{
    fprintf(fp, "{\"direction\": \"%s\", \"verdict\": \"%s\"", c->inbound ? "in" : "out",
            log_audit_verdict_name(c->verdict));
    audit_json_kv(fp, "thumbprint", c->thumbprint);
    audit_json_kv(fp, "subject", c->subject);
    audit_json_kv(fp, "issuer", c->issuer);
    audit_json_kv(fp, "serial", c->serial);
    audit_json_kv(fp, "not_before", c->not_before);
    audit_json_kv(fp, "not_after", c->not_after);
    audit_json_kv(fp, "names", c->names);
    audit_json_kv(fp, "first_seen", c->first_seen);
    audit_json_kv(fp, "last_seen", c->last_seen);
    fprintf(fp, ", \"sessions\": %llu", (ull)c->sessions);
    audit_json_kv(fp, "reason", c->reason);
    audit_json_kv(fp, "chain_status", c->chain_status);
    audit_json_kv(fp, "revocation", c->revocation);
    audit_json_kv(fp, "crl_issuer", c->crl_issuer);
    audit_json_kv(fp, "revoked_at", c->revoked_at);
    audit_json_kv(fp, "reply", c->reply);
    audit_json_listed(fp, "listed", c->listed);
    domsec_log_audit_json_sids(fp, &c->sids);
    fputc('}', fp);
}

/* audit_json_totals - {"sessions_in": N, ...} */

static void audit_json_totals(FILE *fp, const char *key, const struct log_audit_totals *t, bool last)
{
    fprintf(fp, "\"%s\": {\"sessions_in\": %llu, \"sessions_in_secured\": %llu, \"sessions_out\": "
            "%llu, \"sessions_out_secured\": %llu, \"messages_in\": %llu, \"messages_in_secured\": "
            "%llu, \"messages_out\": %llu, \"messages_out_secured\": %llu, \"refused\": %llu}%s", key,
            (ull)t->sessions_in, (ull)t->sessions_in_secured, (ull)t->sessions_out,
            (ull)t->sessions_out_secured, (ull)t->messages_in, (ull)t->messages_in_secured,
            (ull)t->messages_out, (ull)t->messages_out_secured, (ull)t->refused, last ? "" : ", ");
}

/* audit_json_buckets - chart buckets, each {"time", "secured", "not_secured", "refused"} */

static void audit_json_buckets(FILE *fp, const struct log_audit_bucket *b, size_t n, const char *indent)
{
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%s%s{\"time\": \"%s\", \"secured\": %llu, \"not_secured\": %llu, "
                "\"refused\": %llu}", i ? "," : "", indent, b[i].label, (ull)b[i].secured,
                (ull)b[i].not_secured, (ull)b[i].refused);
}

/* audit_json_domains - the partner or other-domain objects */

static void audit_json_domains(FILE *fp, const struct log_audit_partner *v, size_t n,
                               size_t nbuckets)
{
    fputc('[', fp);
    for (size_t i = 0; i < n; i++) {
        const struct log_audit_partner *p = &v[i];

        fprintf(fp, "%s\n    {\"domain\": ", i ? "," : "");
        domsec_json_cstr(fp, p->domain);
        fprintf(fp, ", \"listed\": %s", p->listed ? "true" : "false");
        audit_json_listed(fp, "listed_in", p->listed_in);
        audit_json_listed(fp, "listed_out", p->listed_out);
        fprintf(fp, ", \"listed_in_now\": %s, \"listed_out_now\": %s, \"presented\": %s, "
                "\"ours\": %s,\n     \"sessions_in\": %llu, \"sessions_in_secured\": %llu, "
                "\"sessions_in_refused\": %llu, \"sessions_out\": %llu, \"sessions_out_secured\": "
                "%llu, \"sessions_out_refused\": %llu,\n     \"messages_in\": %llu, "
                "\"messages_in_secured\": %llu, \"messages_out\": %llu, \"messages_out_secured\": "
                "%llu,\n     \"failures\": ", p->listed_in_now ? "true" : "false",
                p->listed_out_now ? "true" : "false", p->presented ? "true" : "false",
                p->ours ? "true" : "false", (ull)p->sessions_in, (ull)p->sessions_in_secured,
                (ull)p->sessions_in_refused, (ull)p->sessions_out, (ull)p->sessions_out_secured,
                (ull)p->sessions_out_refused, (ull)p->messages_in, (ull)p->messages_in_secured,
                (ull)p->messages_out, (ull)p->messages_out_secured);
        domsec_log_audit_json_counts(fp, p->failures, p->nfailures);
        fputs(", \"tls\": ", fp);
        domsec_log_audit_json_counts(fp, p->tls, p->ntls);
        fputs(", \"policies\": ", fp);
        domsec_log_audit_json_counts(fp, p->policies, p->npolicies);
        domsec_log_trust_json(fp, p);
        fputs(",\n     \"certificates\": [", fp);
        for (size_t k = 0; k < p->ncerts; k++) {
            fputs(k ? ",\n       " : "\n       ", fp);
            audit_json_cert(fp, &p->certs[k]);
        }
        fputs("],\n     \"chart\": [", fp);
        audit_json_buckets(fp, p->buckets, p->buckets ? nbuckets : 0, "");
        fputs("]}", fp);
    }
    fputs(n ? "\n  ]" : "]", fp);
}

/* audit_json_warning - one warning object */

static void audit_json_warning(FILE *fp, const struct log_audit_warning *w)
{
    fprintf(fp, "{\"kind\": \"%s\"", log_audit_warning_name(w->kind));
    audit_json_kv(fp, "domain", w->domain);
    audit_json_kv(fp, "time", w->time);
    audit_json_kv(fp, "text", w->text);
    fprintf(fp, ",\n     \"count\": %llu", (ull)w->count);
    audit_json_kv(fp, "first", w->first);
    audit_json_kv(fp, "last", w->last);
    domsec_log_audit_json_sids(fp, &w->sids);
    audit_json_kv(fp, "reply", w->reply);
    audit_json_kv(fp, "reason", w->reason);
    audit_json_kv(fp, "thumbprint", w->thumbprint);
    if (w->kind == LOG_AUDIT_W_CERT_REFUSED)
        audit_json_kv(fp, "verdict", log_audit_verdict_name(w->verdict));
    if (w->kind == LOG_AUDIT_W_CERT_EXPIRES)
        fprintf(fp, ", \"days_left\": %ld, \"ours\": %s", w->days_left, w->ours ? "true" : "false");
    fprintf(fp, ", \"direction\": \"%s\"", w->inbound ? "in" : "out");
    audit_json_listed(fp, "listed", w->listed);
    fputc('}', fp);
}

/* domsec_log_audit_json - the whole result as one object */

void domsec_log_audit_json(FILE *fp, const struct log_audit_result *r)
{
    fputs("{\n  \"generated\": ", fp);
    domsec_json_cstr(fp, r->generated);
    audit_json_kv(fp, "host", r->host);
    audit_json_kv(fp, "version", r->version);
    fputs(", \"paths\": ", fp);
    audit_json_strv(fp, r->paths, r->npaths);
    fputs(",\n  \"from\": ", fp);
    domsec_json_cstr(fp, r->from);
    audit_json_kv(fp, "to", r->to);
    audit_json_kv(fp, "first_row", r->first_row);
    audit_json_kv(fp, "last_row", r->last_row);
    fprintf(fp, ", \"listed_from_config\": %s, \"rows\": %llu, \"sessions\": %llu,\n"
            "  \"history_incomplete\": %s, \"notes\": ", r->listed_from_config ? "true" : "false",
            (ull)r->rows, (ull)r->sessions, r->history_incomplete ? "true" : "false");
    audit_json_strv(fp, (const char *const *)r->notes, r->nnotes);
    fputs(",\n  \"lists_now\": {\"receive\": ", fp);
    audit_json_strv(fp, (const char *const *)r->lists_now.recv, r->lists_now.nrecv);
    fputs(", \"send\": ", fp);
    audit_json_strv(fp, (const char *const *)r->lists_now.send, r->lists_now.nsend);
    fputs("},\n  \"listed_then\": {\"receive\": ", fp);
    audit_json_strv(fp, (const char *const *)r->listed_then.recv, r->listed_then.nrecv);
    fputs(", \"send\": ", fp);
    audit_json_strv(fp, (const char *const *)r->listed_then.send, r->listed_then.nsend);
    fputs("},\n  \"configs\": [", fp);
    for (size_t i = 0; i < r->nconfigs; i++) {
        fprintf(fp, "%s\n    {\"time\": ", i ? "," : "");
        domsec_json_cstr(fp, r->configs[i].time);
        audit_json_kv(fp, "sha256", r->configs[i].digest);
        fputs(", \"receive\": ", fp);
        audit_json_strv(fp, (const char *const *)r->configs[i].lists.recv, r->configs[i].lists.nrecv);
        fputs(", \"send\": ", fp);
        audit_json_strv(fp, (const char *const *)r->configs[i].lists.send, r->configs[i].lists.nsend);
        fputc('}', fp);
    }
    fputs(r->nconfigs ? "\n  ],\n  \"totals\": {" : "],\n  \"totals\": {", fp);
    audit_json_totals(fp, "partners", &r->total_partners, false);
    audit_json_totals(fp, "other", &r->total_others, false);
    audit_json_totals(fp, "internal", &r->total_internal, true);
    fputs("},\n  \"partners\": ", fp);
    audit_json_domains(fp, r->partners, r->npartners, r->nbuckets);
    fprintf(fp, ",\n  \"warnings_count\": %zu, \"warnings\": [", r->nwarnings);
    for (size_t i = 0; i < r->nwarnings; i++) {
        fputs(i ? ",\n    " : "\n    ", fp);
        audit_json_warning(fp, &r->warnings[i]);
    }
    fputs(r->nwarnings ? "\n  ],\n  \"others\": " : "],\n  \"others\": ", fp);
    audit_json_domains(fp, r->others, r->nothers, r->nbuckets);
    fputs(",\n  \"own_certificates\": [", fp);
    for (size_t k = 0; k < r->nown_certs; k++) {
        fputs(k ? ",\n    " : "\n    ", fp);
        audit_json_cert(fp, &r->own_certs[k]);
    }
    fprintf(fp, "%s],\n  \"bucket_unit\": ", r->nown_certs ? "\n  " : "");
    domsec_json_cstr(fp, r->bucket_unit ? r->bucket_unit : "hour");
    fputs(", \"chart\": [", fp);
    audit_json_buckets(fp, r->buckets, r->nbuckets, "\n    ");
    fputs(r->nbuckets ? "\n  ]\n}\n" : "]\n}\n", fp);
}
