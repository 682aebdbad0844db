/*
 * domsec_log_html_trust.c - the audit report's partner trust section
 * (#trust, issue 17): per partner and direction, from the "Partner
 * identity" lines, the policy that applied, what proved identity, the EKU
 * and revocation seen, the refusals by rule, and the inbound acceptances
 * of serverAuth-only client certificates (the 2026 exception: accepted by
 * default, shown apart so an auditor sees each one).
 *
 * CONTRACT
 *  domsec_log_html_trust() writes the section (heading, explanation,
 *  table or "None") to fp and keeps nothing; every string from the logs
 *  is HTML-escaped.  Rows keep the audit's order: partners by domain, then
 *  the other domains; inbound before outbound.
 */
#include <stdio.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_log_html.h"
#include "log_audit.h"

typedef unsigned long long ull;

/* trust_cell - a list of counts, one "name: count" a line */

static void trust_cell(FILE *fp, const struct log_audit_count *c, size_t n, const char *cls)
{
    fprintf(fp, "<td%s%s>", cls ? " class=" : "", cls ? cls : "");
    if (n == 0)
        fputs("-", fp);
    for (size_t k = 0; k < n; k++) {
        fputs(k ? "<br>" : "", fp);
        domsec_html_text(fp, c[k].name);
        fprintf(fp, ": %llu", (ull)c[k].count);
    }
    fputs("</td>", fp);
}

/* trust_exception - the 2026 exception's cell */

static void trust_exception(FILE *fp, const struct log_audit_identity *id, bool in)
{
    char a[DOMSEC_HTML_TIMELEN], b[DOMSEC_HTML_TIMELEN];

    if (id->server_auth_only == 0) {
        fputs(in ? "<td class=\"n dim\">0</td>" : "<td class=dim>-</td>", fp);
        return;
    }
    fprintf(fp, "<td class=n><span class=exc>%llu accepted</span><br><span class=t>",
            (ull)id->server_auth_only);
    domsec_html_esc(fp, domsec_html_time(id->server_auth_only_first, a));
    if (strcmp(id->server_auth_only_first, id->server_auth_only_last) != 0) {
        fputs("</span><br><span class=t>", fp);
        domsec_html_esc(fp, domsec_html_time(id->server_auth_only_last, b));
    }
    fputs("</span>", fp);
    domsec_html_sids(fp, &id->server_auth_only_sids);
    fputs("</td>", fp);
}

/* trust_row - one partner and direction */

static void trust_row(FILE *fp, const char *domain, const struct log_audit_identity *id, bool in)
{
    uint64_t refused = id->decisions - id->secured;

    fputs("<tr>", fp);
    domsec_html_cell(fp, "nw", domain);
    domsec_html_cell(fp, "nw", in ? "inbound" : "outbound");
    fprintf(fp, "<td class=n>%llu<br><span class=%s>%llu secured</span>", (ull)id->decisions,
            refused ? "bad" : "ok", (ull)id->secured);
    if (refused)
        fprintf(fp, "<br><span class=bad>%llu refused</span>", (ull)refused);
    fputs("</td>", fp);
    /* Policy and revocation wrap at their spaces ("partner require=ca+pin",
     * "unknown-accepted via ocsp-stapled"): all nowrap, the table is wider
     * than a 1280 px window. */
    trust_cell(fp, id->policies, id->npolicies, NULL);
    trust_cell(fp, id->proved, id->nproved, "nw");
    trust_cell(fp, id->eku, id->neku, "nw");
    trust_cell(fp, id->revocation, id->nrevocation, NULL);
    trust_cell(fp, id->refusals, id->nrefusals, id->nrefusals ? "bad" : NULL);
    trust_exception(fp, id, in);
    fputs("</tr>\n", fp);
}

/* domsec_log_html_trust - the section */

void domsec_log_html_trust(FILE *fp, const struct log_audit_result *r)
{
    bool any = false;

    fputs("<h2 id=trust-title>Partner trust</h2>\n<p class=dim>What proved each partner&#39;s "
          "identity, per direction, from the Partner identity line written with every "
          "domain-security decision: the policy that applied (<i>global</i>, or the partner&#39;s "
          "own section and what it requires), what proved identity when secured (CA chain, pin, "
          "both, DANE-EE or DANE-TA), the certificate&#39;s EKU, revocation verdict and source, "
          "and the refusals by rule.  <span class=exc>serverAuth-only accepted</span> counts the "
          "2026 exception: a partner&#39;s client certificate without clientAuth (as the public "
          "CAs issue them since 2026), accepted by the global rule and by default in a "
          "partner&#39;s section; accept_server_auth_only = no refuses it.</p>\n", fp);
    for (size_t i = 0; i < r->npartners + r->nothers; i++) {
        const struct log_audit_partner *p = i < r->npartners ? &r->partners[i]
            : &r->others[i - r->npartners];

        for (int k = 0; k < 2; k++) {
            const struct log_audit_identity *id = k ? &p->identity_out : &p->identity_in;

            if (id->decisions == 0)
                continue;
            if (!any)
                fputs("<div class=wide><table id=trust>\n<thead><tr><th>Domain</th>"
                      "<th>Direction</th><th class=n>Decisions</th><th>Policy</th>"
                      "<th>Proved by</th><th>EKU</th><th>Revocation</th><th>Refused</th>"
                      "<th class=n>serverAuth-only accepted</th></tr></thead>\n<tbody>\n", fp);
            any = true;
            trust_row(fp, p->domain, id, k == 0);
        }
    }
    fputs(any ? "</tbody></table></div>\n" : "<p>None in this range.</p>\n", fp);
}
