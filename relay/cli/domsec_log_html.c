/*
 * domsec_log_html.c - `domsec log audit --format html`: the audit as one
 * self-contained HTML page (inline CSS, inline SVG charts, no scripts, no
 * external resources), for an auditor to open, print or hand on.
 *
 * CONTRACT
 *  domsec_log_html() writes the whole page to fp; the result is read, not
 *  kept.  Every string that comes from the logs, the configuration or the
 *  host (domains, certificate fields, reasons, replies, paths, notes) is
 *  HTML-escaped.  stdio errors are left to the caller's fclose().
 *
 * THE PAGE
 *  A header an auditor can hand on (#meta: when, on which host, by which
 *  version, over which logs, range and rows, the listed domains then and
 *  now, the configurations logged, totals, findings; #notes: the audit's
 *  fallbacks), then #warnings, #partners, #others (our own domains and
 *  unlisted traffic, in grey, never red), #policies (outbound TLS
 *  policies), #trust (what proved each partner's identity, the 2026
 *  exceptions in amber: domsec_log_html_trust.c), the charts
 *  (domsec_log_chart.c: all partners, then each), #certificates (every certificate presented,
 *  with its verdict) and #own-certificates (domsec_log_html_cert.c).
 *  Tables never break a word: cells wrap at spaces only (a word with a
 *  hyphen or slash is kept whole), headings, times and domains do not wrap
 *  at all, and only long tokens (thumbprints, serials, session ids: class
 *  tok) may break anywhere; a table wider than the window scrolls.
 *  Printed, the page is A4 landscape, table headings repeat on each page,
 *  and no table row, warning or chart is cut across pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_log_html.h"
#include "log.h"
#include "log_audit.h"

static const char html_css[] =
    "body{font-family:sans-serif;margin:1.5em 2em;color:#222;font-size:14px}\n"
    "h1{margin:0 0 .4em}h2{margin:1.4em 0 .4em;break-after:avoid}\n"
    ".wide{overflow-x:auto;max-width:100%}\n"
    "table{border-collapse:collapse;margin:.4em 0;table-layout:auto}\n"
    "th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top;"
    "word-break:normal;overflow-wrap:normal;hyphens:none}\n"
    "th{background:#eee;white-space:nowrap}\n"
    "td.n,th.n{text-align:right;white-space:nowrap}\n"
    ".nw,.t{white-space:nowrap}\n"
    ".tok{font-family:monospace;font-size:12px;overflow-wrap:anywhere}\n"
    "dd.tok{min-width:42ch}\n"
    ".sids{font-family:monospace;font-size:11px;color:#444;min-width:17ch;max-width:35ch;"
    "white-space:normal;text-align:left;margin-left:auto}\n"
    "td.txt{min-width:22em}\n"
    ".ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}.dim{color:#666}\n"
    ".exc{color:#a35200;font-weight:bold}\n"
    "table.meta th{background:#f4f4f4}table.meta td{min-width:24em}\n"
    "ul.notes li{margin:.2em 0}.cfg div{margin-left:1.5em}\n"
    "figure.chart{margin:.6em 0 1.4em;break-inside:avoid}\n"
    "figure.chart svg{max-width:100%;height:auto;display:block}\n"
    "figcaption{font-weight:bold;margin:.2em 0}\n"
    "dl.cert{margin:0;display:grid;grid-template-columns:max-content auto;column-gap:.6em;"
    "align-items:baseline}\n"
    "dl.cert dt{color:#555}dl.cert dd{margin:0}\n"
    "@page{size:A4 landscape;margin:10mm}\n"
    "@media print{body{margin:0;font-size:8pt}.wide{overflow:visible}"
    "tr,li,figure,dl{break-inside:avoid}thead{display:table-header-group}"
    ".tok,.sids{font-size:7pt}table.meta td{min-width:0}}\n";

/* html_esc_n - n bytes of s, escaped for content and quoted attributes */

static void html_esc_n(FILE *fp, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        case '\'': fputs("&#39;", fp); break;
        default: fputc(s[i], fp);
        }
    }
}

/* domsec_html_esc - text for element content and quoted attributes */

void domsec_html_esc(FILE *fp, const char *s)
{
    if (s)
        html_esc_n(fp, s, strlen(s));
}

/* domsec_html_text - escaped content that wraps at spaces only: a word
 * with a hyphen or a slash (where browsers would also break a line: dates,
 * domain-secured, OU=partner-exact, </b>) is kept whole in a nowrap span;
 * a long token (a thumbprint in a sentence: 32 characters or more) may
 * break anywhere instead (class tok).  Rarer break opportunities inside a
 * word (after "?" or "!") are left. */

void domsec_html_text(FILE *fp, const char *s)
{
    while (s && *s) {
        size_t sp = strspn(s, " "), w;

        fwrite(s, 1, sp, fp);
        s += sp;
        if ((w = strcspn(s, " ")) == 0)
            break;
        const char *span = w >= 32 ? "<span class=tok>" : "";

        for (size_t i = 0; w > 1 && i < w && !*span; i++)
            if (s[i] == '-' || s[i] == '/')
                span = "<span class=nw>";
        fputs(span, fp);
        html_esc_n(fp, s, w);
        fputs(*span ? "</span>" : "", fp);
        s += w;
    }
}

/* domsec_html_cell - <td class=cls>s as text</td>; "-" for an empty s */

void domsec_html_cell(FILE *fp, const char *cls, const char *s)
{
    if (cls)
        fprintf(fp, "<td class=\"%s\">", cls);
    else
        fputs("<td>", fp);
    domsec_html_text(fp, s && *s ? s : "-");
    fputs("</td>", fp);
}

/* domsec_html_time - a log date-time as "2026-11-22 08:00:00Z": readable,
 * and a space a browser would not break at (nowrap where it is used) */

const char *domsec_html_time(const char *t, char out[DOMSEC_HTML_TIMELEN])
{
    if (t && strlen(t) >= 19 && t[10] == 'T') {
        snprintf(out, DOMSEC_HTML_TIMELEN, "%.10s %.8sZ", t, t + 11);
        return out;
    }
    return t ? t : "";
}

/* domsec_html_sids - session ids, the first few and how many more */

void domsec_html_sids(FILE *fp, const struct log_audit_sids *s)
{
    if (s->total == 0)
        return;
    fputs("<div class=sids>", fp);
    for (size_t i = 0; i < s->n; i++)
        fprintf(fp, "%s%.16s", i ? " " : "", s->v[i]);
    if (s->total > s->n)
        fprintf(fp, " <span class=nw>(+%llu more)</span>", (unsigned long long)(s->total - s->n));
    fputs("</div>", fp);
}

/* ---------------------------------------------------------------- header */

/* html_meta_row - one row of the header table; id lets a test find it */

static void html_meta_row(FILE *fp, const char *id, const char *name, const char *value)
{
    fprintf(fp, "<tr id=\"meta-%s\"><th>%s</th>", id, name);
    domsec_html_cell(fp, NULL, value);
    fputs("</tr>\n", fp);
}

/* html_lists - "receive: a, b" and "send: c" lines of a pair of lists */

static void html_lists(FILE *fp, const struct log_audit_lists *l, const char *empty)
{
    if (l->nrecv == 0 && l->nsend == 0)
        domsec_html_esc(fp, empty);
    for (int k = 0; k < 2; k++) {
        char *const *v = k ? l->send : l->recv;
        size_t n = k ? l->nsend : l->nrecv;

        if (n == 0)
            continue;
        fprintf(fp, "%s<span class=nw>%s:</span> ", k && l->nrecv ? "<br>" : "",
                k ? "send" : "receive");
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ", <span class=nw>" : "<span class=nw>", fp);
            domsec_html_esc(fp, v[i]);
            fputs("</span>", fp);
        }
    }
}

/* html_lists_row - a header row of lists */

static void html_lists_row(FILE *fp, const char *id, const char *name, const struct log_audit_lists *l,
                           const char *empty)
{
    fprintf(fp, "<tr id=\"meta-%s\"><th>%s</th><td>", id, name);
    html_lists(fp, l, empty);
    fputs("</td></tr>\n", fp);
}

/* html_totals_row - one class of traffic */

static void html_totals_row(FILE *fp, const char *id, const char *name, const struct log_audit_totals *t)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "sessions in %llu (%llu domain-secured), out %llu (%llu domain-secured), "
             "%llu refused; messages in %llu (%llu domain-secured), out %llu (%llu domain-secured)",
             (unsigned long long)t->sessions_in, (unsigned long long)t->sessions_in_secured,
             (unsigned long long)t->sessions_out, (unsigned long long)t->sessions_out_secured,
             (unsigned long long)t->refused,
             (unsigned long long)t->messages_in, (unsigned long long)t->messages_in_secured,
             (unsigned long long)t->messages_out, (unsigned long long)t->messages_out_secured);
    html_meta_row(fp, id, name, buf);
}

/* html_findings - partners and warnings, the warnings by kind */

static void html_findings(FILE *fp, const struct log_audit_result *r)
{
    enum { NKINDS = LOG_AUDIT_W_REFUSED + 1 };
    size_t n[NKINDS] = { 0 };
    const char *sep = " (";

    for (size_t i = 0; i < r->nwarnings; i++)
        if ((unsigned)r->warnings[i].kind < NKINDS)
            n[r->warnings[i].kind]++;
    fprintf(fp, "<tr id=\"meta-findings\"><th>Findings</th><td>%zu partner%s, %zu warning%s",
            r->npartners, r->npartners == 1 ? "" : "s", r->nwarnings, r->nwarnings == 1 ? "" : "s");
    for (int k = 0; k < NKINDS; k++)
        if (n[k]) {
            fprintf(fp, "%s<span class=nw>%s</span> %zu", sep,
                    log_audit_warning_name((enum log_audit_warning_kind)k), n[k]);
            sep = ", ";
        }
    fputs(*sep == ',' ? ")</td></tr>\n" : "</td></tr>\n", fp);
}

/* html_header - who made this, when, where, over what */

static void html_header(FILE *fp, const struct log_audit_result *r)
{
    char a[DOMSEC_HTML_TIMELEN], b[DOMSEC_HTML_TIMELEN], buf[512];

    fputs("<header>\n<h1>Domain security audit</h1>\n<div class=wide><table class=meta id=meta>\n", fp);
    html_meta_row(fp, "generated", "Generated", domsec_html_time(r->generated, a));
    html_meta_row(fp, "host", "Host", r->host);
    html_meta_row(fp, "version", "domsec version", r->version && r->version[0] ? r->version : DOMSEC_VERSION);
    fputs("<tr id=\"meta-logdir\"><th>Logs read</th><td>", fp);
    for (size_t i = 0; i < r->npaths; i++) {
        fputs(i ? "<br>" : "", fp);
        domsec_html_esc(fp, r->paths[i]);
    }
    fputs(r->npaths ? "</td></tr>\n" : "-</td></tr>\n", fp);
    snprintf(buf, sizeof(buf), "%s to %s", r->from[0] ? domsec_html_time(r->from, a) : "the first row",
             r->to[0] ? domsec_html_time(r->to, b) : "the last row");
    html_meta_row(fp, "range", "Time range (UTC)", buf);
    snprintf(buf, sizeof(buf), "%s to %s: %llu rows, %llu sessions",
             r->first_row[0] ? domsec_html_time(r->first_row, a) : "-",
             r->last_row[0] ? domsec_html_time(r->last_row, b) : "-",
             (unsigned long long)r->rows, (unsigned long long)r->sessions);
    html_meta_row(fp, "rows", "Rows covered", buf);
    html_lists_row(fp, "listed-then", "Listed then (logs)", &r->listed_then, "none recorded in the logs");
    html_lists_row(fp, "listed-now", "Listed now (configuration)", &r->lists_now,
                   r->listed_from_config ? "none" : "no configuration: listed domains inferred from traffic");
    fputs("<tr id=\"meta-configs\"><th>Configurations logged</th><td>", fp);
    for (size_t i = 0; i < r->nconfigs; i++) {
        fputs("<div class=cfg><span class=nw>", fp);
        domsec_html_esc(fp, domsec_html_time(r->configs[i].time, a));
        fputs("</span>, lists digest <span class=tok>", fp);
        html_esc_n(fp, r->configs[i].digest, strnlen(r->configs[i].digest, 16));
        fputs("</span><div>", fp);
        html_lists(fp, &r->configs[i].lists, "no lists");
        fputs("</div></div>", fp);
    }
    fputs(r->nconfigs ? "" : "none in range", fp);
    if (r->history_incomplete)
        fputs("<div class=bad>some events judged by today's configuration (see notes)</div>", fp);
    fputs("</td></tr>\n", fp);
    html_totals_row(fp, "totals", "Partners", &r->total_partners);
    html_totals_row(fp, "internal", "Internal (our users)", &r->total_internal);
    html_totals_row(fp, "other", "Other (not partners)", &r->total_others);
    html_findings(fp, r);
    fputs("</table></div>\n", fp);
    if (r->nnotes) {
        fputs("<ul class=notes id=notes>\n", fp);
        for (size_t i = 0; i < r->nnotes; i++) {
            fputs("<li>", fp);
            domsec_html_text(fp, r->notes[i]);
            fputs("</li>\n", fp);
        }
        fputs("</ul>\n", fp);
    }
    fputs("</header>\n", fp);
}

/* ---------------------------------------------------------------- sections */

/* html_refusals - domain-security refusals of all partners */

static uint64_t html_refusals(const struct log_audit_result *r)
{
    uint64_t n = 0;

    for (size_t i = 0; i < r->npartners; i++)
        n += r->partners[i].sessions_in_refused + r->partners[i].sessions_out_refused;
    return n;
}

/* html_warning_text - the warning's line, without the "; reply: R" it
 * ends with when R has its own column */

static void html_warning_text(FILE *fp, const struct log_audit_warning *w)
{
    size_t n = strlen(w->text), rn = w->reply ? strlen(w->reply) : 0;
    char *text = xstrdup(w->text);

    if (rn && n > rn + 9 && memcmp(text + n - rn - 9, "; reply: ", 9) == 0
        && strcmp(text + n - rn, w->reply) == 0)
        text[n - rn - 9] = '\0';
    domsec_html_cell(fp, "txt", text);
    free(text);
}

/* html_warnings - every warning; never "no warnings" over refusals */

static void html_warnings(FILE *fp, const struct log_audit_result *r)
{
    char t[DOMSEC_HTML_TIMELEN];
    uint64_t refused = html_refusals(r);

    fprintf(fp, "<h2 id=warnings-title>Warnings (<span id=warnings-count>%zu</span>)</h2>\n",
            r->nwarnings);
    if (r->nwarnings == 0) {
        if (refused)
            fprintf(fp, "<p class=bad>0 warnings computed, but %llu sessions were refused: see the "
                    "partner table.</p>\n", (unsigned long long)refused);
        else
            fputs("<p class=ok>No warnings.</p>\n", fp);
        return;
    }
    fputs("<div class=wide><table id=warnings>\n<thead><tr><th>Kind</th><th>Partner</th>"
          "<th>First and last</th><th>Reply</th><th>What happened</th><th class=n>Sessions</th>"
          "</tr></thead>\n<tbody>\n", fp);
    for (size_t i = 0; i < r->nwarnings; i++) {
        const struct log_audit_warning *w = &r->warnings[i];

        fputs("<tr>", fp);
        domsec_html_cell(fp, "nw bad", log_audit_warning_name(w->kind));
        domsec_html_cell(fp, "nw", w->ours ? "(ours)" : w->domain);
        fputs("<td class=t>", fp);
        domsec_html_esc(fp, domsec_html_time(w->first[0] ? w->first : w->time, t));
        if (w->last[0] && strcmp(w->last, w->first) != 0) {
            fputs("<br>", fp);
            domsec_html_esc(fp, domsec_html_time(w->last, t));
        }
        fputs("</td>", fp);
        domsec_html_cell(fp, NULL, w->reply);
        html_warning_text(fp, w);
        fprintf(fp, "<td class=n>%llu", (unsigned long long)w->count);
        domsec_html_sids(fp, &w->sids);
        fputs("</td></tr>\n", fp);
    }
    fputs("</tbody></table></div>\n", fp);
}

/* html_dir - one direction's cell: total, domain-secured, refused; in
 * colour for a partner, grey for the others (not partners: nothing is
 * expected of them) */

static void html_dir(FILE *fp, uint64_t total, uint64_t secured, uint64_t refused, bool partner)
{
    if (total == 0 && refused == 0) {
        fputs("<td class=\"n dim\">0</td>", fp);
        return;
    }
    fprintf(fp, "<td class=n>%llu<br><span class=\"%s\">%llu secured (%.0f%%)</span>",
            (unsigned long long)total, !partner ? "dim" : secured == total ? "ok" : "bad",
            (unsigned long long)secured, total ? 100.0 * (double)secured / (double)total : 0.0);
    if (refused)
        fprintf(fp, "<br><span class=%s>%llu refused</span>", partner ? "bad" : "dim",
                (unsigned long long)refused);
    fputs("</td>", fp);
}

/* html_listed - the lists a partner was on, then and now */

static void html_listed(FILE *fp, const struct log_audit_partner *p)
{
    bool in = p->listed_in.then, out = p->listed_out.then;

    fprintf(fp, "<td class=nw>then: %s", in && out ? "receive, send" : in ? "receive" : out ? "send" : "no");
    if (p->listed_in.from_today || p->listed_out.from_today)
        fputs("<br><span class=dim>(by today&#39;s configuration)</span>", fp);
    in = p->listed_in_now, out = p->listed_out_now;
    fprintf(fp, "<br>now: %s</td>", in && out ? "receive, send" : in ? "receive" : out ? "send" : "no");
}

/* html_traffic - a table of domains: partners or the others */

static void html_traffic(FILE *fp, const char *id, const struct log_audit_partner *v, size_t n,
                         bool partners)
{
    fprintf(fp, "<div class=wide><table id=%s>\n<thead><tr><th>Domain</th>", id);
    fputs(partners ? "<th>Listed</th>" : "<th>What</th>", fp);
    fputs("<th class=n>Sessions in</th><th class=n>Sessions out</th><th class=n>Messages in</th>"
          "<th class=n>Messages out</th><th>TLS</th>", fp);
    fputs(partners ? "<th>Refused or failed</th></tr></thead>\n<tbody>\n" : "</tr></thead>\n<tbody>\n", fp);
    for (size_t i = 0; i < n; i++) {
        const struct log_audit_partner *p = &v[i];

        fputs("<tr>", fp);
        domsec_html_cell(fp, "nw", p->domain);
        if (partners) {
            html_listed(fp, p);
        } else {
            domsec_html_cell(fp, "nw", p->ours ? "our accepted domain" : "unlisted, no certificate");
        }
        html_dir(fp, p->sessions_in, p->sessions_in_secured, p->sessions_in_refused, partners);
        html_dir(fp, p->sessions_out, p->sessions_out_secured, p->sessions_out_refused, partners);
        html_dir(fp, p->messages_in, p->messages_in_secured, 0, partners);
        html_dir(fp, p->messages_out, p->messages_out_secured, 0, partners);
        fputs("<td class=nw>", fp);
        for (size_t k = 0; k < p->ntls; k++) {
            fputs(k ? "<br>" : "", fp);
            domsec_html_esc(fp, p->tls[k].name);
            fprintf(fp, ": %llu", (unsigned long long)p->tls[k].count);
        }
        fputs("</td>", fp);
        if (partners) {
            fputs("<td>", fp);
            for (size_t k = 0; k < p->nfailures; k++) {
                fprintf(fp, "%s%llu&nbsp;&times; ", k ? "<br>" : "",
                        (unsigned long long)p->failures[k].count);
                domsec_html_text(fp, p->failures[k].name);
            }
            fputs("</td>", fp);
        }
        fputs("</tr>\n", fp);
    }
    fputs("</tbody></table></div>\n", fp);
}

/* html_policies - send sessions per domain by the TLS policy that applied
 * and its verdict (partners, then the others); false when there are none */

static bool html_policies(FILE *fp, const struct log_audit_result *r)
{
    bool any = false;

    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        const struct log_audit_partner *p = i < r->npartners ? &r->partners[i]
            : &r->others[i - r->npartners];

        for (size_t k = 0; k < p->npolicies; k++) {
            if (!any)
                fputs("<div class=wide><table id=policies>\n<thead><tr><th>Domain</th>"
                      "<th>Policy: verdict</th><th class=n>Sessions</th></tr></thead>\n"
                      "<tbody>\n", fp);
            any = true;
            fputs("<tr>", fp);
            domsec_html_cell(fp, "nw", p->domain);
            domsec_html_cell(fp, "nw", p->policies[k].name);
            fprintf(fp, "<td class=n>%llu</td></tr>\n", (unsigned long long)p->policies[k].count);
        }
    }
    if (any)
        fputs("</tbody></table></div>\n", fp);
    return any;
}

/* html_charts - secured vs not vs refused over the range: all partners
 * (the sum of theirs: the result's own buckets count non-partner traffic
 * too), then each partner */

static void html_charts(FILE *fp, const struct log_audit_result *r)
{
    struct log_audit_bucket *sum = xcalloc(r->nbuckets ? r->nbuckets : 1, sizeof(*sum));
    char id[300];

    for (size_t k = 0; k < r->nbuckets; k++)
        memcpy(sum[k].label, r->buckets[k].label, sizeof(sum[k].label));
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; r->partners[i].buckets && k < r->nbuckets; k++) {
            sum[k].secured += r->partners[i].buckets[k].secured;
            sum[k].not_secured += r->partners[i].buckets[k].not_secured;
            sum[k].refused += r->partners[i].buckets[k].refused;
        }
    fputs("<h2>Domain security over time</h2>\n", fp);
    domsec_log_chart(fp, "chart-all", "All partners", false, sum, r->nbuckets, r->from, r->to);
    free(sum);
    for (size_t i = 0; i < r->npartners; i++) {
        snprintf(id, sizeof(id), "chart-%s", r->partners[i].domain);
        domsec_log_chart(fp, id, r->partners[i].domain, true, r->partners[i].buckets,
                         r->partners[i].buckets ? r->nbuckets : 0, r->from, r->to);
    }
}

/* domsec_log_html - the report */

void domsec_log_html(FILE *fp, const struct log_audit_result *r)
{
    char a[DOMSEC_HTML_TIMELEN], b[DOMSEC_HTML_TIMELEN];

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>Domain security audit ", fp);
    domsec_html_esc(fp, r->host);
    fprintf(fp, " %s to %s</title>\n<style>\n%s</style></head><body>\n",
            domsec_html_time(r->from, a), domsec_html_time(r->to, b), html_css);
    html_header(fp, r);
    html_warnings(fp, r);
    fputs("<h2>Partners</h2>\n<p class=dim>Domains on a domain-secure list at the time, or that "
          "presented a certificate.  Each count is the total, how many of them were "
          "domain-secured, and how many were refused.</p>\n", fp);
    if (r->npartners)
        html_traffic(fp, "partners", r->partners, r->npartners, true);
    else
        fputs("<p>None in this range.</p>\n", fp);
    fputs("<h2>Other traffic</h2>\n<p class=dim>Our own accepted domains and unlisted domains "
          "that presented no certificate: not partners, not counted as domain-secured.</p>\n", fp);
    if (r->nothers)
        html_traffic(fp, "others", r->others, r->nothers, false);
    else
        fputs("<p>None.</p>\n", fp);
    fputs("<h2>Outbound TLS policies</h2>\n<p class=dim>Each send session under the policy "
          "that applied to its domain (domain-secure, DANE, MTA-STS enforce or testing, "
          "opportunistic) and its verdict; a DANE or MTA-STS failure names its RFC 8460 "
          "result type.</p>\n", fp);
    if (!html_policies(fp, r))
        fputs("<p>None.</p>\n", fp);
    domsec_log_html_trust(fp, r);
    html_charts(fp, r);
    domsec_log_html_certs(fp, r);
    fputs("<footer><p>Written by domsec log audit ", fp);
    domsec_html_esc(fp, r->version && r->version[0] ? r->version : DOMSEC_VERSION);
    fputs(".</p></footer>\n</body></html>\n", fp);
}
