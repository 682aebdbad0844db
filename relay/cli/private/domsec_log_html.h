/*
 * domsec_log_html.h - what the HTML report's files share (private to
 * relay/cli): domsec_log_html.c writes the page and its header and traffic
 * tables, domsec_log_html_cert.c the certificate tables,
 * domsec_log_html_trust.c the partner trust table, domsec_log_chart.c the
 * charts.
 */
#ifndef DOMSEC_LOG_HTML_H
#define DOMSEC_LOG_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct log_audit_bucket;
struct log_audit_result;
struct log_audit_sids;

#define DOMSEC_HTML_TIMELEN 40

/* domsec_log_html.c */
/* Text for element content and quoted attributes (NULL writes nothing). */
void    domsec_html_esc(FILE *fp, const char *s);
/* Escaped content that a browser may wrap at spaces only (NULL: nothing). */
void    domsec_html_text(FILE *fp, const char *s);
/* <td class="cls">s as text</td>; "-" for NULL or "" (cls NULL: none). */
void    domsec_html_cell(FILE *fp, const char *cls, const char *s);
/* A log date-time "2026-11-22T08:00:00.000Z" as "2026-11-22 08:00:00Z" in
 * out (returned); other strings are returned as they are ("" for NULL). */
const char *domsec_html_time(const char *t, char out[DOMSEC_HTML_TIMELEN]);
/* The session ids kept and how many more there were, as a block for a
 * cell (nothing when there are none). */
void    domsec_html_sids(FILE *fp, const struct log_audit_sids *s);

/* domsec_log_html_cert.c */
void    domsec_log_html_certs(FILE *fp, const struct log_audit_result *r);

/* domsec_log_html_trust.c: the partner trust section (#trust) */
void    domsec_log_html_trust(FILE *fp, const struct log_audit_result *r);

/* domsec_log_chart.c */
/* One chart in a <figure id=ID>: domain-secured and not domain-secured
 * messages and refused sessions per time bucket over [from, to] (the
 * report's range, date-time prefixes), as inline SVG.  b[] are the
 * audit's buckets (hour "YYYY-MM-DDTHH" or day "YYYY-MM-DD" labels, any
 * subset of the range, in time order); the chart draws every bucket of the
 * range, empty ones too: by hour for ranges of up to two days, by day up
 * to 92 days, else by week.  compact: a lower picture (one per partner). */
void    domsec_log_chart(FILE *fp, const char *id, const char *title, bool compact,
                         const struct log_audit_bucket *b, size_t n,
                         const char *from, const char *to);

#endif
