"""
test_audit_html.py - `domsec log audit --format html` as an auditor sees it:
rendered by headless Chromium and measured in the browser.

AuditHtmlTest: the logs of real domsecd sessions (test_log_audit.py's relay
and partner, plus the other refusals of the README's demo: an untrusted
chain, an expired certificate; and plain mail from an unlisted domain).
The report is checked against the same audit's --format json (the same
certificate rows, warnings, partners, lists and chart counts), then a copy
of it with a measuring script appended is loaded in Chromium with
--dump-dom: the script writes, into a <pre id=results>, the header fields,
every table's cells, each heading's text box against its cell, every word
that the layout broke across lines, every table wider than the window, each
chart's legend, plot and text rectangles, and the resources the page
fetched.  The report itself has no script; only the test copy does.  The
report is also printed to PDF (A4 landscape pages).  The report, its
screenshot (the whole page, 1280 px wide) and the PDF are kept in
BUILD/test-output/test_audit_html/ and their paths printed.
ChartRangeTest: the chart's time axis and ticks for a day, a month and a
year, over test_log_audit's fixture logs.

Chromium is required (scripts/setup installs it): a missing chromium fails
the test, it does not skip it.  Chromium may reach nothing: the page is a
file, and the host resolver maps every name to NOTFOUND.
"""

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import test_audit_trust
import test_log_audit as tla
from peers import DeliveryTestCase
from pki import PkiMixin

BUILD = tla.BUILD
DOMSEC = tla.DOMSEC
OUTDIR = os.path.abspath(os.path.join(BUILD, "test-output", "test_audit_html"))
PARTNER, FAB, OURS = tla.PARTNER, tla.FAB, tla.OURS
CERT_FAIL = "454 4.7.5 Certificate validation failure"
KINDS = ("certificate-changed", "certificate-expires", "not-domain-secured", "certificate-refused",
         "refused")                      # the order of enum log_audit_warning_kind
OTHER = "adatum.test"                   # never listed, presents no certificate: not a partner

# Appended to the test copy only.  Writes JSON into <pre id=results>.
MEASURE_JS = r"""
(function () {
  var out = {meta: {}, tables: {}, headings: [], broken: [], overflow: [], scrolled: [], charts: [],
             resources: performance.getEntriesByType('resource').length,
             page: {scrollWidth: document.documentElement.scrollWidth,
                    innerWidth: window.innerWidth,
                    height: document.documentElement.scrollHeight}};
  try { measure(); } catch (e) { out.error = String(e) + ' ' + e.stack; }
  var pre = document.createElement('pre');
  pre.id = 'results';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
  function measure() {
  function text(el) { return el ? el.textContent.replace(/\s+/g, ' ').trim() : null; }
  function shown(el) { return el.innerText.replace(/\s+/g, ' ').trim(); }
  function box(r) { return {l: r.left, t: r.top, r: r.right, b: r.bottom}; }
  document.querySelectorAll('#meta tr').forEach(function (tr) {
    out.meta[tr.id] = text(tr.querySelector('td'));
  });
  document.querySelectorAll('table[id]').forEach(function (t) {
    var head = [], rows = [];
    if (t.tHead) for (var i = 0; i < t.tHead.rows.length; i++)
      head.push([].map.call(t.tHead.rows[i].cells, text));
    var body = t.tBodies.length ? t.tBodies[0].rows : t.rows;
    for (var j = 0; j < body.length; j++)
      rows.push([].map.call(body[j].cells, shown));
    out.tables[t.id] = {head: head, rows: rows};
  });
  document.querySelectorAll('th').forEach(function (th) {
    var range = document.createRange();
    range.selectNodeContents(th);
    var tr = range.getBoundingClientRect(), cr = th.getBoundingClientRect();
    out.headings.push({text: text(th), text_left: tr.left, text_right: tr.right,
                       cell_left: cr.left, cell_right: cr.right,
                       lines: range.getClientRects().length});
  });
  // Every word (a run of non-space) of every cell on one line, except in
  // long tokens (class tok: thumbprints, serials), which may break anywhere.
  document.querySelectorAll('td, th').forEach(function (cell) {
    if (cell.scrollWidth > cell.clientWidth + 1)
      out.overflow.push({text: text(cell), scroll: cell.scrollWidth, client: cell.clientWidth});
    var walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (var n = walk.nextNode(); n; n = walk.nextNode()) {
      if (n.parentElement.closest('.tok')) continue;
      var re = /\S+/g, m;
      while ((m = re.exec(n.data)) !== null) {
        var r = document.createRange();
        r.setStart(n, m.index);
        r.setEnd(n, m.index + m[0].length);
        var tops = {};
        [].forEach.call(r.getClientRects(), function (q) { if (q.width > 0) tops[Math.round(q.top)] = 1; });
        if (Object.keys(tops).length > 1) out.broken.push(m[0]);
      }
    }
  });
  // Every table fits the window (its .wide box does not have to scroll).
  out.notes = [].map.call(document.querySelectorAll('#notes li'), text);
  out.warnings_title = text(document.getElementById('warnings-title'));
  out.red_others = [].map.call(document.querySelectorAll('#others .bad'), text);
  document.querySelectorAll('.wide').forEach(function (w) {
    if (w.scrollWidth > w.clientWidth + 1)
      out.scrolled.push({table: w.firstElementChild.id, scroll: w.scrollWidth, client: w.clientWidth});
  });
  document.querySelectorAll('figure.chart').forEach(function (fig) {
    var svg = fig.querySelector('svg');
    var c = {id: fig.id, caption: text(fig.querySelector('figcaption'))};
    if (svg) {
      c.svg = box(svg.getBoundingClientRect());
      c.plot = box(svg.querySelector('rect.plot').getBoundingClientRect());
      c.legend = box(svg.querySelector('.legend').getBoundingClientRect());
      c.legend_text = text(svg.querySelector('.legend'));
      c.yticks = [].map.call(svg.querySelectorAll('.yticks text'), text);
      c.xlabels = [].map.call(svg.querySelectorAll('.xlabels text'), function (t) {
        var b = box(t.getBoundingClientRect()); b.text = text(t); return b; });
      c.texts = [].map.call(svg.querySelectorAll('text'), function (t) {
        var b = box(t.getBoundingClientRect()); b.text = text(t); return b; });
      c.bars = svg.querySelectorAll('.bars rect').length;
      c.bar_titles = [].map.call(svg.querySelectorAll('.bars title'), text);
    }
    out.charts.push(c);
  });
  }
})();
"""


def chromium_argv(profile, width, height):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise AssertionError("chromium is not installed: run scripts/setup (apt-get install "
                             "chromium); the HTML report must be checked in a real browser")
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            "--disable-default-apps", "--disable-domain-reliability", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=" + profile,
            "--window-size=%d,%d" % (width, height)]


def run_chromium(tc, argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        raise AssertionError("chromium did not finish within 90 s: %s" % argv[-2:])
    tc.assertEqual(p.returncode, 0, "chromium: %s" % p.stderr[-2000:])
    return p.stdout


def measure(tc, report, work):
    """The measuring script's results for a copy of report, in Chromium at
    1280 x 2000 (profile and copy in work)."""
    with open(report, encoding="utf-8") as f:
        page = f.read()
    probe = os.path.join(work, "measure-" + os.path.basename(report))
    with open(probe, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", "<script>%s</script>\n</body>" % MEASURE_JS, 1))
    dom = run_chromium(tc, chromium_argv(os.path.join(work, "profile"), 1280, 2000)
                       + ["--dump-dom", "file://" + os.path.abspath(probe)])
    m = re.search(r'<pre id="results">(.*?)</pre>', dom, re.S)
    tc.assertIsNotNone(m, "the measuring script wrote nothing: %s" % dom[-2000:])
    res = json.loads(html.unescape(m.group(1)))
    tc.assertNotIn("error", res)
    return res


def check_chart(tc, c):
    """A chart's legend outside its plot, every text inside the picture,
    x labels apart."""
    tc.assertFalse(overlaps(c["legend"], c["plot"]), c["id"])
    tc.assertTrue(inside(c["legend"], c["svg"]), c["id"])
    for t in c["texts"]:
        tc.assertTrue(inside(t, c["svg"]), (c["id"], t))
    for x, y in zip(c["xlabels"], c["xlabels"][1:]):
        tc.assertFalse(overlaps(x, y), (c["id"], x, y))


def overlaps(a, b):
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


def inside(a, outer, slack=0.5):
    return (a["l"] >= outer["l"] - slack and a["r"] <= outer["r"] + slack
            and a["t"] >= outer["t"] - slack and a["b"] <= outer["b"] + slack)


class AuditHtmlTest(PkiMixin, DeliveryTestCase):
    """The relay and sessions of test_log_audit.RealSessionAuditTest, plus
    the other refusals of the README's demo."""

    # Borrowed: the relay, the partner, their configuration, the sessions.
    thumb = tla.RealSessionAuditTest.thumb
    partner_relay = tla.RealSessionAuditTest.partner_relay
    config = tla.RealSessionAuditTest.config
    session = tla.RealSessionAuditTest.session
    deliver_in = tla.RealSessionAuditTest.deliver_in
    refused_in = tla.RealSessionAuditTest.refused_in

    produce_base = tla.RealSessionAuditTest.produce

    def produce(self):
        """test_log_audit's sessions (accepted, no certificate, wrong name,
        revoked, domain security disabled, a new certificate, an unlisted
        domain, out to the partner and to a peer without STARTTLS), then a
        second run of the same relay into the same logs: an untrusted chain,
        an expired certificate, and plain mail from an unlisted domain."""
        a, conf, _ = self.produce_base()
        a.start()
        for cert in ("partner-untrusted", "partner-expired"):
            self.refused_in(a, a.ports["inet"], cert, CERT_FAIL)
        self.deliver_in(a, a.ports["inet"], None, "o@" + OTHER)
        self.assertEqual(a.stop(), 0)
        return a, conf

    def audit(self, conf, *args):
        p = subprocess.run([DOMSEC, "-c", conf, "log", "audit"] + list(args), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)         # 1: there are warnings
        self.assertEqual(p.stderr, "")
        return p

    def render(self, report):
        """(measurements, screenshot path) of report in Chromium."""
        os.makedirs(OUTDIR, exist_ok=True)
        work = tempfile.mkdtemp(prefix="chromium.", dir=OUTDIR)
        self.addCleanup(shutil.rmtree, work, True)
        res = measure(self, report, work)
        # The whole page in one picture (bounded): the reviewer looks at it.
        height = min(max(int(res["page"]["height"]) + 16, 2000), 12000)
        png = os.path.join(OUTDIR, "audit.png")
        if os.path.exists(png):
            os.unlink(png)
        run_chromium(self, chromium_argv(os.path.join(work, "p2"), 1280, height)
                     + ["--screenshot=" + png, "file://" + os.path.abspath(report)])
        self.assertEqual(tla.png_size(png), (1280, height))
        self.assertGreater(os.path.getsize(png), 50000)      # not a blank page
        # Printed: A4 landscape pages (the report's @page).
        pdf = os.path.join(OUTDIR, "audit.pdf")
        run_chromium(self, chromium_argv(os.path.join(work, "p3"), 1280, 2000)
                     + ["--no-pdf-header-footer", "--print-to-pdf=" + pdf, "file://" + os.path.abspath(report)])
        with open(pdf, "rb") as f:
            boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", f.read())
        self.assertGreaterEqual(len(boxes), 2)
        for w, h in boxes:                  # 297 x 210 mm in points
            self.assertAlmostEqual(float(w), 842, delta=2)
            self.assertAlmostEqual(float(h), 595, delta=2)
        sys.stderr.write("\nscreenshot: %s\nreport: %s\nprinted: %s\n" % (png, report, pdf))
        return res, png

    def test_report_in_chromium(self):
        if not os.access(DOMSEC, os.X_OK):
            raise AssertionError("%s is not built (set DOMSEC_BUILD)" % DOMSEC)
        a, conf = self.produce()
        os.makedirs(OUTDIR, exist_ok=True)
        report = os.path.join(OUTDIR, "audit.html")
        self.audit(conf, "--format", "html", "--out", report)
        j = json.loads(self.audit(conf, "--format", "json").stdout)
        with open(report, encoding="utf-8") as f:
            page = f.read()

        # Self-contained: no script, no link, nothing to fetch.
        self.assertNotIn("<script", page)
        self.assertNotIn("<link", page)
        self.assertNotIn("url(", page)
        self.assertNotIn("@import", page)
        self.assertEqual(re.findall(r'(?:src|href)\s*=', page), [])
        self.assertEqual(set(re.findall(r'https?://[^"\s<]*', page)), {"http://www.w3.org/2000/svg"})

        res, png = self.render(report)
        self.assertEqual(res["resources"], 0)                  # fetched nothing

        # The header an auditor hands on.
        meta = res["meta"]
        self.assertRegex(meta["meta-generated"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
        self.assertEqual(meta["meta-host"], socket.gethostname())
        version = subprocess.run([os.path.join(BUILD, "domsecd"), "--version"], capture_output=True,
                                 text=True, timeout=10).stdout.split()[-1]
        self.assertEqual(meta["meta-version"], version)
        self.assertEqual(meta["meta-logdir"], a.logs_dir)
        self.assertIn(j["from"][:10], meta["meta-range"])
        self.assertIn(j["to"][:10], meta["meta-range"])
        for d in (PARTNER, FAB):
            self.assertIn(d, meta["meta-listed-now"])
        self.assertGreaterEqual(len(j["configs"]), 2)           # the relay's two starts
        self.assertEqual(meta["meta-configs"].count("lists digest"), len(j["configs"]))
        for c in j["configs"]:
            self.assertIn(c["sha256"][:16], meta["meta-configs"])
        self.assertEqual(res["notes"], [" ".join(n.split()) for n in j["notes"]])
        kinds = sorted({w["kind"] for w in j["warnings"]})
        self.assertEqual(meta["meta-findings"], "%d partners, %d warnings (%s)" % (
            len(j["partners"]), len(j["warnings"]),
            ", ".join("%s %d" % (k, [w["kind"] for w in j["warnings"]].count(k))
                      for k in sorted(kinds, key=KINDS.index))))

        # Every certificate of the JSON, in the same order, with its verdict.
        tables = res["tables"]
        rows = tables["certificates"]["rows"]
        want = [(p["domain"], c["thumbprint"]) for p in j["partners"] for c in p["certificates"]]
        self.assertEqual([(r[0].split()[0], re.search(r"SHA-1 (\S+)", r[2]).group(1)) for r in rows], want)
        thumbs = {self.thumb(n): n for n in ("partner-ok", "partner-exact", "partner-wrongname",
                                              "partner-revoked", "partner-untrusted", "partner-expired")}
        verdicts = {}
        for r in rows:
            t = re.search(r"SHA-1 (\S+)", r[2]).group(1)
            if t in thumbs and " in (its client)" in r[0]:
                verdicts[thumbs[t]] = r[1]
        self.assertEqual(set(verdicts), set(thumbs.values()))
        jcerts = [c for p in j["partners"] for c in p["certificates"]]
        for r, c in zip(rows, jcerts):                  # each row says what the JSON says
            self.assertEqual(r[1].split()[0], c["verdict"], r)
            for key, cell in (("subject", 2), ("serial", 2), ("reason", 1), ("reply", 1),
                              ("crl_issuer", 1)):
                self.assertIn(" ".join(c[key].split()), r[cell], (key, r))
            self.assertIn("listed then: %s" % ("yes" if c["listed"]["then"] else "no"), r[0])
            self.assertEqual(r[4].split()[0], str(c["sessions"]))
        self.assertEqual(verdicts["partner-ok"], "accepted")
        self.assertEqual(verdicts["partner-exact"], "accepted")
        self.assertRegex(verdicts["partner-revoked"], r"(?i)revoked")
        self.assertRegex(verdicts["partner-wrongname"], r"(?i)name|SubjectMismatch")
        self.assertRegex(verdicts["partner-untrusted"], r"(?i)untrusted")
        self.assertRegex(verdicts["partner-expired"], r"(?i)expired")

        # The warnings: as many as the JSON has, at least one per refusal
        # kind, never "No warnings" with refusals.
        self.assertNotIn("No warnings", page)
        wrows = tables["warnings"]["rows"]
        self.assertEqual(len(wrows), len(j["warnings"]))
        for row, w in zip(wrows, j["warnings"]):        # the same warnings, in the same order
            self.assertEqual(row[0], w["kind"])
            self.assertEqual(row[1], w["domain"] or "(ours)")
            self.assertEqual(row[-1].split()[0], str(w["count"]))
            self.assertEqual(row[3], " ".join(w["reply"].split()) or "-")
            for sid in w["session_ids"]:
                self.assertIn(sid, row[-1])
        self.assertEqual(res["warnings_title"], "Warnings (%d)" % len(j["warnings"]))
        self.assertGreaterEqual(len(wrows), 5)

        # Partners are partners: not our domain, not a HELO name, not an
        # unlisted domain without a certificate; those are apart, not in red.
        partners = [r[0] for r in tables["partners"]["rows"]]
        self.assertEqual(partners, [p["domain"] for p in j["partners"]])
        self.assertEqual(sorted(partners), [FAB, PARTNER])

        def lists(i, o):
            return "receive, send" if i and o else "receive" if i else "send" if o else "no"
        for row, p in zip(tables["partners"]["rows"], j["partners"]):    # listed then and now
            self.assertTrue(row[1].startswith("then: %s" % lists(p["listed_in"]["then"],
                                                                  p["listed_out"]["then"])), row)
            self.assertTrue(row[1].endswith("now: %s" % lists(p["listed_in_now"], p["listed_out_now"])), row)
        others = [r[0] for r in tables["others"]["rows"]]
        self.assertIn(OTHER, others)
        self.assertEqual(res["red_others"], [])

        # Layout: no heading wider than its column, no word broken, nothing
        # overflowing its cell, no horizontal scroll of the page at 1280 px.
        for h in res["headings"]:
            self.assertLessEqual(h["text_right"], h["cell_right"] + 0.5, h)
            self.assertGreaterEqual(h["text_left"], h["cell_left"] - 0.5, h)
            self.assertEqual(h["lines"], 1, h)
        self.assertEqual(res["broken"], [])
        self.assertEqual(res["overflow"], [])
        self.assertEqual(res["scrolled"], [])
        self.assertLessEqual(res["page"]["scrollWidth"], res["page"]["innerWidth"])

        # Charts: one for all partners and one per partner; the legend
        # outside the plot area, every text inside the picture, x labels
        # apart, more than two y ticks where there are messages.
        charts = {c["id"]: c for c in res["charts"]}
        self.assertIn("chart-all", charts)
        for d in (PARTNER, FAB):
            self.assertIn("chart-" + d, charts)
        for c in charts.values():
            if "svg" in c:
                check_chart(self, c)
        # Each chart's bars add up to the JSON's buckets (all partners: the
        # partners' buckets, not the result's, which count other traffic too).
        series = ("domain-secured messages", "messages not domain-secured", "refused sessions")
        every = [b for p in j["partners"] for b in p["chart"]]         # all partners: theirs
        for cid, buckets in [("chart-all", every)] + [("chart-" + p["domain"], p["chart"])
                                                     for p in j["partners"]]:
            drawn = dict.fromkeys(series, 0)
            for title in charts[cid].get("bar_titles", []):
                n, name = title.split(" ", 1)
                drawn[name] += int(n)
            self.assertEqual(drawn, {series[0]: sum(b["secured"] for b in buckets),
                                     series[1]: sum(b["not_secured"] for b in buckets),
                                     series[2]: sum(b["refused"] for b in buckets)}, cid)
        allc = charts["chart-all"]
        self.assertGreater(allc["bars"], 0)
        self.assertGreater(len(allc["yticks"]), 2)
        self.assertEqual(allc["yticks"][0], "0")
        self.assertTrue(all(re.match(r"^(\d\d:00|\d{1,2} [A-Z][a-z]{2}|\d{4})$", x["text"])
                            for x in allc["xlabels"]), allc["xlabels"])


class ChartRangeTest(unittest.TestCase):
    """The chart's time axis follows the range asked for: over
    test_log_audit's fixture logs (messages on 22, 23 and 24 November 2026),
    by hour for a day, by day for a month, by week for a year."""

    def setUp(self):
        if not os.access(DOMSEC, os.X_OK):
            raise AssertionError("%s is not built (set DOMSEC_BUILD)" % DOMSEC)
        os.makedirs(OUTDIR, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="charts.", dir=OUTDIR)
        self.addCleanup(shutil.rmtree, self.dir, True)
        tla.make_logs(os.path.join(self.dir, "logs"))

    def chart(self, since, until):
        report = os.path.join(self.dir, "audit-%s.html" % since)
        p = subprocess.run([DOMSEC, "-c", os.path.join(self.dir, "none.conf"), "log", "audit",
                            "--from", since, "--to", until, "--format", "html", "--out", report,
                            os.path.join(self.dir, "logs")], capture_output=True, text=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        res = measure(self, report, self.dir)
        c = {x["id"]: x for x in res["charts"]}["chart-all"]
        check_chart(self, c)
        self.assertEqual(res["broken"], [])
        return c

    def test_units(self):
        day = self.chart("2026-11-23", "2026-11-23")          # 24 hours
        self.assertTrue(day["caption"].endswith("by hour"), day["caption"])
        self.assertEqual([x["text"] for x in day["xlabels"]][:3], ["00:00", "23 Nov", "02:00"])
        self.assertEqual(day["yticks"], ["0", "1"])
        month = self.chart("2026-11-01", "2026-11-30")
        self.assertTrue(month["caption"].endswith("by day"), month["caption"])
        self.assertEqual([x["text"] for x in month["xlabels"]],
                         ["1 Nov", "2026", "8 Nov", "15 Nov", "22 Nov", "29 Nov"])
        self.assertEqual(month["yticks"], ["0", "1", "2", "3"])
        year = self.chart("2026-01-01", "2026-12-31")
        self.assertTrue(year["caption"].endswith("by week"), year["caption"])
        self.assertEqual([x["text"] for x in year["xlabels"]][:3], ["1 Jan", "2026", "29 Jan"])
        # 22 to 24 November fall in one week: p.test's 3 secured, 1 not,
        # 1 refused (q.test's plain message is not a partner's).
        self.assertEqual(year["yticks"], ["0", "1", "2", "3", "4", "5"])
        self.assertIn("3 domain-secured messages, 1 messages not domain-secured, 1 refused sessions",
                      year["caption"])


class TrustLayoutTest(unittest.TestCase):
    """The partner trust table (#trust) of test_audit_trust's logs (partner
    and global policies, pins, DANE, the 2026 exception, a hostile rule
    text) fits a 1280 px window like every other table: no horizontal
    scroll, no word broken, no cell overflowing, headings on one line."""

    def test_trust_table_fits(self):
        if not os.access(DOMSEC, os.X_OK):
            raise AssertionError("%s is not built (set DOMSEC_BUILD)" % DOMSEC)
        os.makedirs(OUTDIR, exist_ok=True)
        work = tempfile.mkdtemp(prefix="trust.", dir=OUTDIR)
        self.addCleanup(shutil.rmtree, work, True)
        test_audit_trust.make_logs(os.path.join(work, "logs"))
        report = os.path.join(work, "audit-trust.html")
        p = subprocess.run([DOMSEC, "-c", os.path.join(work, "none.conf"), "log", "audit",
                            "--format", "html", "--out", report, os.path.join(work, "logs")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)         # 1: the refusals are warnings
        res = measure(self, report, work)
        self.assertEqual([r[0] for r in res["tables"]["trust"]["rows"]],
                         ["dane.test", "global.test", "pin.test", "pin.test", "public.test",
                          "renewed.test"])
        self.assertEqual(res["scrolled"], [])
        self.assertEqual(res["broken"], [])
        self.assertEqual(res["overflow"], [])
        self.assertEqual([h for h in res["headings"] if h["lines"] != 1], [])
        self.assertLessEqual(res["page"]["scrollWidth"], res["page"]["innerWidth"])


if __name__ == "__main__":
    unittest.main()
