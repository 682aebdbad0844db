"""
test_audit_trust.py - `domsec log audit`'s partner trust section and DANE
policy rows (issue 17), end to end over hand-written logs in the rows of
docs/LOGS.md ("Partner identity of ..." and "DANE policy of ..."), in every
format: table, CSV, JSON and HTML (parsed, not rendered: test_log_audit.py
renders the page in Chromium).

The logs: public.test (a [partner] with accept_server_auth_only = yes)
accepted twice with a serverAuth-only client certificate (the 2026
exception) and once with a clientAuth one; pin.test (require = pin) secured
inbound and refused for a rolled-over key, secured outbound with ca+pin;
global.test refused for BadEku (serverAuth only) and once with a hostile
rule text; renewed.test (no section) accepted with a serverAuth-only client
certificate by the global rule (the 2026 exception too); dane.test (require = dane) secured by DANE-EE;
mta.test (unlisted) under DANE: verified, failed, lookup failed.
"""

import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from html.parser import HTMLParser

from test_log_audit import Session, Writer

BUILD = os.environ.get("DOMSEC_BUILD") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
DOMSEC = os.path.join(BUILD, "domsec")
DAY = "2026-12-07T"
HOSTILE = "Evil <script>x</script>\x1b[2J"


def identity(d, direction, policy, proved, eku, rev, verdict):
    return ("Partner identity of '%s' (%s): policy=%s; proved=%s; eku=%s; revocation=%s; "
            "verdict=%s" % (d, direction, policy, proved, eku, rev, verdict))


def receive(w, sid, hh, d, secured, line):
    s = Session(w, "RECV", sid, DAY + hh + ":00:00.000Z", "198.51.100.7:40000")
    s.row("+")
    s.row("<", "MAIL FROM:<a@%s>" % d)
    verdict = line.rsplit("verdict=", 1)[1]
    s.row("*", d, "Message from secure domain '%s' on receive connector 'Inet' %s" % (
        d, "was domain-secured" if secured else "was refused because %s ." % verdict))
    s.row("*", d, line)
    if not secured:
        s.row(">", "530 5.7.1 Not authorized")
    s.row("-", "", "QuitVerb")


def send(w, sid, hh, d, rows, rcpt=True):
    s = Session(w, "SEND", sid, DAY + hh + ":00:00.000Z", "203.0.113.5:25")
    s.row("+")
    for ctx in rows:
        s.row("*", d, ctx)
    if rcpt:
        s.row(">", "RCPT TO:<x@%s>" % d)
    s.row("-", "", "Local")


def make_logs(root):
    w = Writer(root)
    pub = "partner require=ca"
    receive(w, "0000000000000001", "08", "public.test", True,
            identity("public.test", "inbound", pub, "ca", "serverAuth-only", "good via ocsp-stapled",
                     "Secured"))
    receive(w, "0000000000000002", "09", "public.test", True,
            identity("public.test", "inbound", pub, "ca", "serverAuth-only", "good via ocsp-fetched",
                     "Secured"))
    receive(w, "0000000000000003", "10", "public.test", True,
            identity("public.test", "inbound", pub, "ca", "clientAuth", "good via crl", "Secured"))
    receive(w, "0000000000000004", "11", "pin.test", True,
            identity("pin.test", "inbound", "partner require=pin", "pin", "clientAuth",
                     "not-checked via -", "Secured"))
    receive(w, "0000000000000005", "12", "pin.test", False,
            identity("pin.test", "inbound", "partner require=pin", "none", "clientAuth",
                     "not-checked via -", "PinMismatch"))
    receive(w, "0000000000000006", "13", "global.test", False,
            identity("global.test", "inbound", "global require=ca", "none", "serverAuth-only",
                     "not-checked via -", "BadEku (serverAuth only)"))
    receive(w, "0000000000000007", "14", "global.test", False,
            identity("global.test", "inbound", "global require=ca", "none", "any",
                     "not-checked via -", HOSTILE))
    receive(w, "0000000000000008", "15", "renewed.test", True,
            identity("renewed.test", "inbound", "global require=ca", "ca", "serverAuth-only",
                     "good via crl", "Secured"))
    send(w, "00000000000000A1", "08", "pin.test", [
        "Message to secure domain 'pin.test' on send connector 'Internet' was domain-secured",
        identity("pin.test", "outbound", "partner require=ca+pin", "ca+pin", "serverAuth-only",
                 "good via crl+ocsp", "Secured")])
    send(w, "00000000000000A2", "09", "dane.test", [
        "Message to secure domain 'dane.test' on send connector 'Internet' was domain-secured",
        identity("dane.test", "outbound", "partner require=dane", "dane-ee", "any",
                 "not-checked via -", "Secured")])
    send(w, "00000000000000A3", "10", "mta.test", [
        "DANE policy of 'mta.test' (1 usable TLSA records for mx.mta.test): certificate verified "
        "for mx.mta.test (3 1 1)"])
    send(w, "00000000000000A4", "11", "mta.test", [
        "DANE policy of 'mta.test' (1 usable TLSA records for mx.mta.test): mx.mta.test failed: "
        "validation-failure (no TLSA record matches the certificate); trying the next host"],
         rcpt=False)
    send(w, "00000000000000A5", "12", "mta.test", [
        "DANE policy of 'mta.test': TLSA lookup for mx2.mta.test failed (SERVFAIL); trying the "
        "next host"], rcpt=False)


class Cells(HTMLParser):
    """The rows of <table id=ID> as lists of cell texts."""

    def __init__(self, table_id):
        super().__init__()
        self.id, self.inside, self.rows, self.cell = table_id, False, [], None
        self.classes = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.id
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = ""
        elif self.inside and tag == "br" and self.cell is not None:
            self.cell += "\n"
        if self.inside and a.get("class"):
            self.classes.append(a["class"])

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag == "td":
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.inside and self.cell is not None:
            self.cell += data


class AuditTrustTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="domsec-audit-trust.")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.logs = os.path.join(self.dir, "logs")
        make_logs(self.logs)

    def audit(self, fmt):
        p = subprocess.run([DOMSEC, "-c", os.path.join(self.dir, "none.conf"), "log", "audit",
                            "--format", fmt, self.logs], capture_output=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), p.stderr)       # 1: the refusals are warnings
        return p.stdout.decode("utf-8")

    def test_table(self):
        out = self.audit("table")
        trust = out.split("\nPartner trust (", 1)[1].split("\nPartner certificates", 1)[0]
        lines = trust.split("\n")
        head = [l.split() for l in lines if l.startswith("  ") and not l.startswith("      ")]
        self.assertEqual([h[:5] for h in head], [
            ["dane.test", "outbound", "1", "decision(s),", "1"],
            ["global.test", "inbound", "2", "decision(s),", "0"],
            ["pin.test", "inbound", "2", "decision(s),", "1"],
            ["pin.test", "outbound", "1", "decision(s),", "1"],
            ["public.test", "inbound", "3", "decision(s),", "3"],
            ["renewed.test", "inbound", "1", "decision(s),", "1"]])
        pub = trust.split("public.test", 1)[1]
        self.assertIn("policy:     partner require=ca (3)", pub)
        self.assertIn("eku:        serverAuth-only (2), clientAuth (1)", pub)
        self.assertIn("revocation: good via ocsp-stapled (1), good via ocsp-fetched (1), "
                      "good via crl (1)", pub)
        self.assertIn("EXCEPTION:  2 accepted with a serverAuth-only client certificate (the 2026 "
                      "exception: no clientAuth, accepted by default), 2026-12-07T08:00:00.000Z .. "
                      "2026-12-07T09:00:00.000Z; sessions 0000000000000001, 0000000000000002", pub)
        self.assertEqual(trust.count("EXCEPTION:"), 2)      # not outbound, not refused
        self.assertIn("EXCEPTION:  1 accepted with a serverAuth-only client certificate",
                      trust.split("renewed.test", 1)[1])  # the global rule accepts it too
        self.assertIn("refused:    BadEku (serverAuth only) (1), Evil <script>x</script>\\x1B[2J (1)",
                      trust)
        self.assertIn("proved:     dane-ee (1)", trust)
        self.assertNotIn("\x1b", out)
        policies = out.split("\nOutbound TLS policies", 1)[1].split("\nPartner trust", 1)[0]
        for name in ("dane: verified", "dane: failed: validation-failure", "dane: tlsa lookup failed"):
            self.assertRegex(policies, r"\n  mta\.test +1  %s\n" % name)

    def test_csv(self):
        rows = list(csv.reader(io.StringIO(self.audit("csv"), newline="")))
        ident = [r for r in rows if r[0] == "identity"]
        self.assertIn(["identity", "public.test", "in", "exception", "accept_server_auth_only", "2",
                       "2026-12-07T08:00:00.000Z", "2026-12-07T09:00:00.000Z",
                       "0000000000000001;0000000000000002"], ident)
        self.assertIn(["identity", "pin.test", "in", "refused", "PinMismatch", "1", "", "", ""], ident)
        self.assertIn(["identity", "pin.test", "out", "proved", "ca+pin", "1", "", "", ""], ident)
        self.assertIn(["identity", "global.test", "in", "total", "decisions", "2", "", "", ""], ident)
        self.assertIn(["identity", "global.test", "in", "refused", HOSTILE, "1", "", "", ""], ident)
        self.assertEqual([r[1] for r in ident if r[3] == "exception"], ["public.test", "renewed.test"])
        pol = {(r[1], r[2]): r[3] for r in rows if r[0] == "policy"}
        self.assertEqual(pol[("mta.test", "dane: failed: validation-failure")], "1")
        self.assertEqual(pol[("mta.test", "dane: tlsa lookup failed")], "1")

    def test_json(self):
        r = json.loads(self.audit("json"))
        dom = {p["domain"]: p for p in r["partners"] + r["others"]}
        pub = dom["public.test"]["identity"]["in"]
        self.assertEqual((pub["decisions"], pub["secured"]), (3, 3))
        self.assertEqual(pub["proved"], {"ca": 3})
        self.assertEqual(pub["server_auth_only_accepted"]["count"], 2)
        self.assertEqual(pub["server_auth_only_accepted"]["session_ids"],
                         ["0000000000000001", "0000000000000002"])
        self.assertEqual(dom["public.test"]["identity"]["out"]["decisions"], 0)
        pin = dom["pin.test"]["identity"]
        self.assertEqual(pin["in"]["refusals"], {"PinMismatch": 1})
        self.assertEqual(pin["out"]["policies"], {"partner require=ca+pin": 1})
        self.assertEqual(pin["out"]["server_auth_only_accepted"]["count"], 0)
        self.assertEqual(dom["global.test"]["identity"]["in"]["refusals"],
                         {"BadEku (serverAuth only)": 1, HOSTILE: 1})
        self.assertEqual(dom["dane.test"]["identity"]["out"]["proved"], {"dane-ee": 1})
        self.assertEqual(dom["renewed.test"]["identity"]["in"]["server_auth_only_accepted"]["count"], 1)
        self.assertEqual(dom["mta.test"]["policies"],
                         {"dane: verified": 1, "dane: failed: validation-failure": 1,
                          "dane: tlsa lookup failed": 1})
        self.assertTrue(all(dom[d]["listed"] for d in ("public.test", "pin.test", "global.test",
                                                       "dane.test", "renewed.test")))

    def test_html(self):
        page = self.audit("html")
        self.assertNotIn("<script>", page)
        self.assertIn("&lt;script&gt;x&lt;/script&gt;", page)
        t = Cells("trust")
        t.feed(page)
        rows = [r for r in t.rows if r]
        self.assertEqual([(r[0], r[1]) for r in rows], [
            ("dane.test", "outbound"), ("global.test", "inbound"), ("pin.test", "inbound"),
            ("pin.test", "outbound"), ("public.test", "inbound"), ("renewed.test", "inbound")])
        pub = rows[4]
        self.assertEqual(pub[3], "partner require=ca: 3")
        self.assertEqual(pub[4], "ca: 3")
        self.assertTrue(pub[8].startswith("2 accepted\n2026-12-07 08:00:00Z\n2026-12-07 09:00:00Z"),
                        pub[8])
        self.assertIn("0000000000000001 0000000000000002", pub[8])
        self.assertEqual(rows[2][7], "PinMismatch: 1")
        self.assertEqual(rows[3][8], "-")                   # outbound: no exception column
        self.assertIn("exc", t.classes)
        p = Cells("policies")
        p.feed(page)
        self.assertIn(["mta.test", "dane: verified", "1"], p.rows)


if __name__ == "__main__":
    unittest.main()
