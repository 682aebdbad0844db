/*
 * domsec_log_chart.c - the audit report's charts: domain-secured vs not vs
 * refused per time bucket, as inline SVG (no scripts, no fonts to fetch).
 *
 * CONTRACT
 *  domsec_log_chart() writes one <figure> to fp and keeps nothing.  Each
 *  bar stacks, bottom up, domain-secured messages, messages not
 *  domain-secured and refused sessions.  The buckets are the audit's
 *  (sparse: only hours or days with traffic); the chart lays them on a
 *  dense grid over the report's range, so that an empty hour shows as
 *  empty and the axis is time, not a list of labels.
 *  The unit follows the range: hours up to two days, days up to 92 days,
 *  else weeks (7-day slots from the range's first day).  Buckets outside
 *  the range widen it.  The legend and the axis title sit above the plot
 *  area, never on it; the y axis has "nice" ticks (1, 2 or 5 times a power
 *  of ten, about five of them); x labels are thinned so that they never
 *  overlap and never run past the picture.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "domsec_log_html.h"
#include "log.h"
#include "log_audit.h"
#include "log_read.h"

enum { CH_W = 880, CH_H = 260, CH_H_COMPACT = 190, CH_L = 56, CH_R = 30, CH_T = 30, CH_B = 44 };

enum chart_unit { CHART_HOUR, CHART_DAY, CHART_WEEK };

static const char *const chart_unit_name[] = { "hour", "day", "week" };

static const struct { const char *name, *color; } chart_series[3] = {     /* bottom up */
    { "domain-secured messages", "#2e7d32" },
    { "messages not domain-secured", "#ef8f00" },
    { "refused sessions", "#c62828" },
};
static const char *const chart_month[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

struct chart_grid {
    enum chart_unit unit;
    long    first_hour;                 /* the first slot's first hour since the epoch */
    size_t  n;                          /* slots */
    uint64_t *v[3];                     /* per series, per slot; owned */
    uint64_t max;                       /* the highest stack */
    int     height;                     /* of the picture, px */
};

/* chart_hour - hours since the epoch of a date-time prefix; -1 if none */

static long chart_hour(const char *s, bool end)
{
    long day = strlen(s) >= 10 ? log_read_day(s, false) : -1;

    if (day < 0)
        return -1;
    if (s[10] == 'T' && s[11] >= '0' && s[11] <= '2' && s[12] >= '0' && s[12] <= '9') {
        int h = (s[11] - '0') * 10 + (s[12] - '0');

        return day * 24 + (h < 24 ? h : 23);
    }
    return day * 24 + (end ? 23 : 0);
}

/* chart_grid_build - the dense grid over [from, to] and the buckets */

static void chart_grid_build(struct chart_grid *g, const struct log_audit_bucket *b, size_t n,
                             const char *from, const char *to)
{
    long h0 = chart_hour(from, false), h1 = chart_hour(to, true);
    bool days = false;

    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < n; i++) {
        long bh = chart_hour(b[i].label, false);

        if (bh < 0)
            continue;
        days |= b[i].label[10] != 'T';
        if (h0 < 0 || bh < h0)
            h0 = bh;
        if (h1 < 0 || bh > h1)
            h1 = bh;
    }
    if (h0 < 0 || h1 < 0 || h1 < h0)    /* no range and no buckets */
        return;
    long d0 = h0 / 24, d1 = h1 / 24;

    if (!days && h1 - h0 < 48) {
        g->unit = CHART_HOUR;
        g->first_hour = h0;
        g->n = (size_t)(h1 - h0 + 1);
    } else {
        g->unit = d1 - d0 < 92 ? CHART_DAY : CHART_WEEK;
        g->first_hour = d0 * 24;
        g->n = g->unit == CHART_DAY ? (size_t)(d1 - d0 + 1) : (size_t)((d1 - d0) / 7 + 1);
    }
    for (int k = 0; k < 3; k++)
        g->v[k] = xcalloc(g->n, sizeof(*g->v[k]));
    for (size_t i = 0; i < n; i++) {
        long bh = chart_hour(b[i].label, false), slot;

        if (bh < 0)
            continue;
        slot = g->unit == CHART_HOUR ? bh - h0 : (bh / 24 - d0) / (g->unit == CHART_DAY ? 1 : 7);
        g->v[0][slot] += b[i].secured;
        g->v[1][slot] += b[i].not_secured;
        g->v[2][slot] += b[i].refused;
        if (g->v[0][slot] + g->v[1][slot] + g->v[2][slot] > g->max)
            g->max = g->v[0][slot] + g->v[1][slot] + g->v[2][slot];
    }
}

/* chart_step - a tick step of 1, 2 or 5 times a power of ten, ~5 ticks */

static uint64_t chart_step(uint64_t max)
{
    for (uint64_t p = 1;; p *= 10) {
        if (max <= 5 * p)
            return p;
        if (max <= 10 * p)
            return 2 * p;
        if (max <= 25 * p)
            return 5 * p;
        if (p > UINT64_MAX / 100)
            return p * 10;
    }
}

/* chart_every - label every k-th slot: the smallest k (from a unit's
 * natural steps) that keeps labels at least 56 px apart */

static size_t chart_every(enum chart_unit unit, double slot)
{
    static const size_t hours[] = { 1, 2, 3, 4, 6, 12, 24 };
    static const size_t days[] = { 1, 2, 7, 14, 28, 56 };
    static const size_t weeks[] = { 1, 2, 4, 8, 13, 26, 52, 104, 260, 520 };
    const size_t *k = unit == CHART_HOUR ? hours : unit == CHART_DAY ? days : weeks;
    size_t nk = unit == CHART_HOUR ? 7 : unit == CHART_DAY ? 6 : 10;

    for (size_t i = 0; i < nk; i++)
        if (slot * (double)k[i] >= 56)
            return k[i];
    return k[nk - 1];
}

/* chart_x_labels - the x axis: time of day (hours) or day and month, and
 * under them the date (hours) or year where it changes */

static void chart_x_labels(FILE *fp, const struct chart_grid *g, double slot)
{
    size_t every = chart_every(g->unit, slot);
    int last_year = -1;
    long last_day = -1;

    fputs("<g class=\"xlabels\" font-size=\"11\" fill=\"#333\">\n", fp);
    for (size_t i = 0; i < g->n; i++) {
        long hour = g->first_hour + (long)i * (g->unit == CHART_HOUR ? 1 : g->unit == CHART_DAY ? 24 : 168);
        char date[11], line1[16], line2[16] = "";
        int y, m, d;

        if (g->unit == CHART_HOUR ? hour % 24 % (long)every != 0 : i % every != 0)
            continue;
        log_read_day_str(hour / 24, date);
        if (sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12)
            continue;
        if (g->unit == CHART_HOUR) {
            snprintf(line1, sizeof(line1), "%02ld:00", hour % 24);
            if (hour / 24 != last_day)
                snprintf(line2, sizeof(line2), "%d %s", d, chart_month[m - 1]);
            last_day = hour / 24;
        } else {
            snprintf(line1, sizeof(line1), "%d %s", d, chart_month[m - 1]);
            if (y != last_year)
                snprintf(line2, sizeof(line2), "%d", y);
            last_year = y;
        }
        double x = CH_L + slot * ((double)i + 0.5);

        fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#555\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                x, g->height - CH_B, x, g->height - CH_B + 4, x, g->height - CH_B + 16, line1);
        if (line2[0])
            fprintf(fp, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>",
                    x, g->height - CH_B + 30, line2);
        fputc('\n', fp);
    }
    fputs("</g>\n", fp);
}

/* chart_legend - the series, right-aligned above the plot area (never on it) */

static void chart_legend(FILE *fp)
{
    double x = CH_W - CH_R;

    for (int k = 2; k >= 0; k--)        /* about 7 px a character at 12 px */
        x -= 16 + 7.0 * (double)strlen(chart_series[k].name) + (k ? 18 : 0);
    fputs("<g class=\"legend\" font-size=\"12\" fill=\"#222\">", fp);
    for (int k = 0; k < 3; k++) {
        fprintf(fp, "<rect x=\"%.0f\" y=\"4\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"14\">%s</text>", x, chart_series[k].color, x + 16,
                chart_series[k].name);
        x += 16 + 7.0 * (double)strlen(chart_series[k].name) + 18;
    }
    fputs("</g>\n", fp);
}

/* chart_svg - axes, grid, bars and legend of a built grid */

static void chart_svg(FILE *fp, const struct chart_grid *g, const char *title)
{
    const double pw = CH_W - CH_L - CH_R, ph = g->height - CH_T - CH_B;
    uint64_t step = chart_step(g->max), top = (g->max + step - 1) / step * step;

    if (top == 0)
        top = step;
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" role=\"img\" aria-label=\"", CH_W, g->height, CH_W, g->height);
    domsec_html_esc(fp, title);
    fprintf(fp, ": per %s\">\n", chart_unit_name[g->unit]);
    fprintf(fp, "<text class=\"ytitle\" x=\"0\" y=\"14\" font-size=\"12\" fill=\"#333\">per %s (UTC)</text>\n",
            chart_unit_name[g->unit]);
    chart_legend(fp);
    fprintf(fp, "<rect class=\"plot\" x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
            "stroke=\"#999\"/>\n", CH_L, CH_T, pw, ph);
    fputs("<g class=\"yticks\" font-size=\"11\" fill=\"#333\">\n", fp);
    for (uint64_t v = 0; v <= top; v += step) {
        double y = CH_T + ph - ph * (double)v / (double)top;

        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%llu</text>\n",
                CH_L - 4, y, CH_L + pw, y, v ? "#ddd" : "#555", CH_L - 7, y + 4, (unsigned long long)v);
    }
    fputs("</g>\n", fp);

    double slot = pw / (double)g->n, bw = slot * 0.7 < 1 ? 1 : slot * 0.7 > 48 ? 48 : slot * 0.7;

    fputs("<g class=\"bars\">\n", fp);
    for (size_t i = 0; i < g->n; i++) {
        double x = CH_L + slot * (double)i + (slot - bw) / 2, y = CH_T + ph;

        for (int k = 0; k < 3; k++) {
            double h = ph * (double)g->v[k][i] / (double)top;

            if (g->v[k][i] == 0)
                continue;
            y -= h;
            fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>%llu %s</title></rect>\n", x, y, bw, h, chart_series[k].color,
                    (unsigned long long)g->v[k][i], chart_series[k].name);
        }
    }
    fputs("</g>\n", fp);
    chart_x_labels(fp, g, slot);
    fputs("</svg>\n", fp);
}

/* domsec_log_chart - one chart in a figure */

void domsec_log_chart(FILE *fp, const char *id, const char *title, bool compact,
                      const struct log_audit_bucket *b, size_t n, const char *from, const char *to)
{
    struct chart_grid g;
    uint64_t sum[3] = { 0, 0, 0 };

    chart_grid_build(&g, b, n, from, to);
    g.height = compact ? CH_H_COMPACT : CH_H;
    for (size_t i = 0; i < g.n; i++)
        for (int k = 0; k < 3; k++)
            sum[k] += g.v[k][i];
    fputs("<figure class=\"chart\" id=\"", fp);
    domsec_html_esc(fp, id);
    fputs("\"><figcaption>", fp);
    domsec_html_esc(fp, title);
    if (g.max)
        fprintf(fp, ": %llu %s, %llu %s, %llu %s; by %s</figcaption>\n",
                (unsigned long long)sum[0], chart_series[0].name, (unsigned long long)sum[1],
                chart_series[1].name, (unsigned long long)sum[2], chart_series[2].name,
                chart_unit_name[g.unit]);
    else
        fputs(": no messages and no refusals in this range</figcaption>\n", fp);
    if (g.max)
        chart_svg(fp, &g, title);
    fputs("</figure>\n", fp);
    for (int k = 0; k < 3; k++)
        free(g.v[k]);
}
