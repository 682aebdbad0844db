/*
 * domsec_log_html.c - `domsec log audit --format html`: the audit as one
 * self-contained HTML page (inline CSS, an inline SVG chart, no scripts,
 * no external resources), for an auditor to open or archive.
 *
 * CONTRACT
 *  domsec_log_html() writes the whole page to fp; the result is read, not
 *  kept.  Every string that comes from the logs (domains, certificate
 *  fields, failure reasons, warnings) is HTML-escaped.  stdio errors are
 *  left to the caller's fclose().
 */
#include <stdio.h>
#include <string.h>

#include "domsec_cmd.h"
#include "log_audit.h"

/* html_esc - text for element content and quoted attributes */

static void html_esc(FILE *fp, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        case '\'': fputs("&#39;", fp); break;
        default: fputc(*s, fp);
        }
    }
}

/* html_share - the cells "total" and "secured (p%)" of a secured share */

static void html_share(FILE *fp, uint64_t secured, uint64_t total)
{
    if (total == 0) {
        fputs("<td class=n>0</td><td class=n>-</td>", fp);
        return;
    }
    fprintf(fp, "<td class=n>%llu</td><td class=\"n %s\">%llu (%.0f%%)</td>",
            (unsigned long long)total, secured == total ? "ok" : "bad",
            (unsigned long long)secured, 100.0 * (double)secured / (double)total);
}

/* html_chart - domain-secured vs not over time, stacked bars */

static void html_chart(FILE *fp, const struct log_audit_result *r)
{
    const int w = 1000, h = 260, left = 50, bottom = 40, top = 10;
    uint64_t max = 1;

    for (size_t i = 0; i < r->nbuckets; i++)
        if (r->buckets[i].secured + r->buckets[i].not_secured > max)
            max = r->buckets[i].secured + r->buckets[i].not_secured;
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Messages domain-secured vs not over time\">\n",
            w, h, w, h);
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n",
            left, h - bottom, w - 10, h - bottom);
    fprintf(fp, "<text x=\"4\" y=\"%d\" font-size=\"11\">%llu</text>\n", top + 10, (unsigned long long)max);
    fprintf(fp, "<text x=\"4\" y=\"%d\" font-size=\"11\">0</text>\n", h - bottom);
    if (r->nbuckets == 0)
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"14\">no messages in range</text>\n",
                left + 20, h / 2);
    double slot = r->nbuckets ? (double)(w - left - 10) / (double)r->nbuckets : 0;
    double bw = slot > 4 ? slot * 0.8 : slot;
    size_t every = r->nbuckets > 12 ? (r->nbuckets + 11) / 12 : 1;

    for (size_t i = 0; i < r->nbuckets; i++) {
        const struct log_audit_bucket *b = &r->buckets[i];
        double x = left + slot * (double)i + (slot - bw) / 2;
        double hs = (double)(h - bottom - top) * (double)b->secured / (double)max;
        double hn = (double)(h - bottom - top) * (double)b->not_secured / (double)max;
        double y0 = h - bottom;

        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2e7d32\">"
                "<title>%s: %llu domain-secured</title></rect>\n",
                x, y0 - hs, bw, hs, b->label, (unsigned long long)b->secured);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#c62828\">"
                "<title>%s: %llu not domain-secured</title></rect>\n",
                x, y0 - hs - hn, bw, hn, b->label, (unsigned long long)b->not_secured);
        if (i % every == 0)
            fprintf(fp, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%s</text>\n",
                    x, h - bottom + 14 + (int)(i / every % 2) * 12, b->label);
    }
    fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#2e7d32\"/>"
            "<text x=\"%d\" y=\"%d\" font-size=\"12\">domain-secured</text>\n",
            w - 330, top, w - 315, top + 9);
    fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#c62828\"/>"
            "<text x=\"%d\" y=\"%d\" font-size=\"12\">not domain-secured</text>\n",
            w - 200, top, w - 185, top + 9);
    fputs("</svg>\n", fp);
}

/* domsec_log_html - the report */

void domsec_log_html(FILE *fp, const struct log_audit_result *r)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>domsec domain security audit</title>\n<style>\n"
          "body{font-family:sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0;width:100%}\n"
          "th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top;overflow-wrap:anywhere}\n"
          "th{background:#eee}td.n{text-align:right}.ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}\n"
          ".mono{font-family:monospace}ul.w li{margin:.3em 0}\n"
          "</style></head><body>\n<h1>Domain security audit</h1>\n<p>Range: ", fp);
    html_esc(fp, r->from);
    fputs(" to ", fp);
    html_esc(fp, r->to);
    fprintf(fp, ". Listed partner domains: %s. %llu rows, %llu sessions read.</p>\n",
            r->listed_from_config ? "from the configuration" : "inferred from domain-secured traffic",
            (unsigned long long)r->rows, (unsigned long long)r->sessions);

    fprintf(fp, "<h2>Warnings (%zu)</h2>\n", r->nwarnings);
    if (r->nwarnings == 0)
        fputs("<p class=ok>No warnings.</p>\n", fp);
    else {
        fputs("<ul class=w>\n", fp);
        for (size_t i = 0; i < r->nwarnings; i++) {
            fprintf(fp, "<li class=bad>[%s] ", log_audit_warning_name(r->warnings[i].kind));
            html_esc(fp, r->warnings[i].time);
            fputs(": ", fp);
            html_esc(fp, r->warnings[i].text);
            fputs("</li>\n", fp);
        }
        fputs("</ul>\n", fp);
    }

    fputs("<h2>Partners</h2>\n<table id=partners>\n<tr><th>Partner domain</th><th>Listed</th>"
          "<th>Sessions in</th><th>domain-secured</th><th>Sessions out</th><th>domain-secured</th>"
          "<th>Messages in</th><th>domain-secured</th><th>Messages out</th><th>domain-secured</th>"
          "<th>TLS</th><th>Failures</th></tr>\n", fp);
    for (size_t i = 0; i < r->npartners; i++) {
        const struct log_audit_partner *p = &r->partners[i];

        fputs("<tr><td>", fp);
        html_esc(fp, p->domain);
        fprintf(fp, "</td><td>%s</td>", p->listed ? "yes" : "no");
        html_share(fp, p->sessions_in_secured, p->sessions_in);
        html_share(fp, p->sessions_out_secured, p->sessions_out);
        html_share(fp, p->messages_in_secured, p->messages_in);
        html_share(fp, p->messages_out_secured, p->messages_out);
        fputs("<td>", fp);
        for (size_t k = 0; k < p->ntls; k++) {
            html_esc(fp, p->tls[k].name);
            fprintf(fp, ": %llu<br>", (unsigned long long)p->tls[k].count);
        }
        fputs("</td><td>", fp);
        for (size_t k = 0; k < p->nfailures; k++) {
            fprintf(fp, "%llu &times; ", (unsigned long long)p->failures[k].count);
            html_esc(fp, p->failures[k].name);
            fputs("<br>", fp);
        }
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n<h2>Domain-secured messages over time</h2>\n", fp);
    html_chart(fp, r);

    fputs("<h2>Partner certificates</h2>\n<table id=certificates>\n<tr><th>Partner</th>"
          "<th>Direction</th><th>Thumbprint</th><th>Subject</th><th>Issuer</th><th>Not after</th>"
          "<th>First seen</th><th>Last seen</th><th>Sessions</th></tr>\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ncerts; k++) {
            const struct log_audit_cert *c = &r->partners[i].certs[k];
            const char *cells[] = { r->partners[i].domain, c->inbound ? "in (client)" : "out (server)",
                                    c->thumbprint, c->subject, c->issuer,
                                    c->not_after, c->first_seen, c->last_seen };

            fputs("<tr>", fp);
            for (size_t j = 0; j < sizeof(cells) / sizeof(cells[0]); j++) {
                fputs(j == 2 ? "<td class=mono>" : "<td>", fp);
                html_esc(fp, cells[j]);
                fputs("</td>", fp);
            }
            fprintf(fp, "<td class=n>%llu</td></tr>\n", (unsigned long long)c->sessions);
        }
    fputs("</table>\n<p>Written by domsec log audit " DOMSEC_VERSION ".</p>\n</body></html>\n", fp);
}
