/*
 * domsec_log_html_cert.c - the audit report's certificate tables: every
 * certificate a partner presented, with the audit's verdict (#certificates),
 * and our own (#own-certificates).
 *
 * CONTRACT
 *  domsec_log_html_certs() writes both sections to fp and keeps nothing;
 *  every field from the logs is HTML-escaped.  A certificate presented
 *  with two verdicts (accepted once, refused later) is two rows, as the
 *  audit lists it; the rows keep the audit's order (partner, then first
 *  seen).  The verdict cell says what was decided and why (reason, CRL
 *  issuer and revocation date, the reply given); the certificate cell
 *  names it (subject, issuer, serial, SHA-1 thumbprint, names, validity,
 *  chain and revocation status as logged).
 */
#include <stdio.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_log_html.h"
#include "log_audit.h"

/* cert_dl_item - one "name value" pair of the certificate cell, if logged */

static void cert_dl_item(FILE *fp, const char *name, const char *value, bool token)
{
    if (value == NULL || value[0] == '\0')
        return;
    fprintf(fp, "<dt>%s</dt><dd%s>", name, token ? " class=tok" : "");
    (token ? domsec_html_esc : domsec_html_text)(fp, value);
    fputs("</dd>", fp);
}

/* cert_verdict - what was decided, and why */

static void cert_verdict(FILE *fp, const struct log_audit_cert *c)
{
    char t[DOMSEC_HTML_TIMELEN];
    bool ok = c->verdict == LOG_AUDIT_V_ACCEPTED;

    fprintf(fp, "<td><span class=\"nw %s\">%s</span>", ok ? "ok" : c->verdict == LOG_AUDIT_V_NO_DECISION
            ? "dim" : "bad", log_audit_verdict_name(c->verdict));
    if (c->reason && c->reason[0]) {
        fputs("<br>", fp);
        domsec_html_text(fp, c->reason);
    }
    fputs("<dl class=cert>", fp);
    cert_dl_item(fp, "Revoked", c->revoked_at && c->revoked_at[0] ? domsec_html_time(c->revoked_at, t) : "",
                 false);
    cert_dl_item(fp, "CRL issuer", c->crl_issuer, false);
    cert_dl_item(fp, "Reply", c->reply, false);
    fputs("</dl></td>", fp);
}

/* cert_row - one certificate: a partner's (domain) or ours (NULL) */

static void cert_row(FILE *fp, const char *domain, const struct log_audit_cert *c)
{
    char t[DOMSEC_HTML_TIMELEN];

    fputs("<tr>", fp);
    if (domain) {                       /* the partner's client or server */
        fputs("<td class=nw>", fp);
        domsec_html_esc(fp, domain);
        fprintf(fp, "<br>%s<br><span class=dim>listed then: %s%s</span></td>",
                c->inbound ? "in (its client)" : "out (its server)", c->listed.then ? "yes" : "no",
                c->listed.from_today ? "<br>(by today&#39;s configuration)" : "");
        cert_verdict(fp, c);
    } else {                            /* ours: we served, or we were the client */
        domsec_html_cell(fp, "nw", c->inbound ? "in (our server)" : "out (our client)");
    }
    fputs("<td><dl class=cert>", fp);
    cert_dl_item(fp, "Subject", c->subject, false);
    cert_dl_item(fp, "Issuer", c->issuer, false);
    cert_dl_item(fp, "Serial", c->serial, true);
    cert_dl_item(fp, "SHA-1", c->thumbprint, true);
    cert_dl_item(fp, "Names", c->names, false);
    if ((c->not_before && c->not_before[0]) || (c->not_after && c->not_after[0])) {
        fputs("<dt>Valid</dt><dd><span class=nw>", fp);
        domsec_html_esc(fp, c->not_before && c->not_before[0] ? domsec_html_time(c->not_before, t) : "?");
        fputs("</span> to <span class=nw>", fp);
        domsec_html_esc(fp, c->not_after && c->not_after[0] ? domsec_html_time(c->not_after, t) : "?");
        fputs("</span></dd>", fp);
    }
    cert_dl_item(fp, "Chain", c->chain_status, false);
    cert_dl_item(fp, "Revocation", c->revocation, false);
    fputs("</dl></td><td class=t>", fp);
    domsec_html_esc(fp, domsec_html_time(c->first_seen, t));
    fputs("<br>", fp);
    domsec_html_esc(fp, domsec_html_time(c->last_seen, t));
    fprintf(fp, "</td><td class=n>%llu", (unsigned long long)c->sessions);
    domsec_html_sids(fp, &c->sids);
    fputs("</td></tr>\n", fp);
}

/* cert_table - every certificate partners presented */

static void cert_table(FILE *fp, const struct log_audit_result *r)
{
    fputs("<div class=wide><table id=certificates>\n<thead><tr><th>Partner</th><th>Verdict</th>"
          "<th>Certificate</th><th>First and last seen</th><th class=n>Sessions</th>"
          "</tr></thead>\n<tbody>\n", fp);
    for (size_t i = 0; i < r->npartners; i++)
        for (size_t k = 0; k < r->partners[i].ncerts; k++)
            cert_row(fp, r->partners[i].domain, &r->partners[i].certs[k]);
    fputs("</tbody></table></div>\n", fp);
}

/* domsec_log_html_certs - the partners' certificates, then ours */

void domsec_log_html_certs(FILE *fp, const struct log_audit_result *r)
{
    size_t n = 0;

    for (size_t i = 0; i < r->npartners; i++)
        n += r->partners[i].ncerts;
    fprintf(fp, "<h2>Certificates partners presented (%zu)</h2>\n", n);
    if (n == 0)
        fputs("<p>None in this range.</p>\n", fp);
    else
        cert_table(fp, r);
    fprintf(fp, "<h2>Our certificates (%zu)</h2>\n", r->nown_certs);
    if (r->nown_certs == 0) {
        fputs("<p>None logged in this range.</p>\n", fp);
        return;
    }
    fputs("<div class=wide><table id=own-certificates>\n<thead><tr><th>Direction</th>"
          "<th>Certificate</th><th>First and last seen</th><th class=n>Sessions</th>"
          "</tr></thead>\n<tbody>\n", fp);
    for (size_t k = 0; k < r->nown_certs; k++)
        cert_row(fp, NULL, &r->own_certs[k]);
    fputs("</tbody></table></div>\n", fp);
}
