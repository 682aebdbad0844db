"""
test_log_audit.py - `domsec log audit` and `domsec log search` end to end.

LogAuditTest: over a log set written here in exactly the rows of docs/LOGS.md
"The rows domsec writes" (fixtures: corner cases real sessions do not easily
produce - HTML in a subject, an expiring certificate, several days).
RealSessionAuditTest: over the logs of real domsecd sessions (partner in and
out, a failure of each kind, a certificate change, a plain message from a
listed domain).

Both assert the counts, certificates and warnings in every format (table, CSV,
JSON, HTML), and render the HTML with headless Chromium (screenshot +
--dump-dom text).  Chromium is required (scripts/setup and CI install it): a
missing chromium fails the test, it does not skip it.
"""

import csv
import hashlib
import io
import json
import os
import re
import shutil
import ssl
import struct
import subprocess
import tempfile
import unittest
import zlib

from domsec_harness import Daemon
from peers import DELIVERY_TRANSPORT, DeliveryTestCase, host, mx
from pki import PkiMixin

BUILD = os.environ.get("DOMSEC_BUILD") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
DOMSEC = os.path.join(BUILD, "domsec")

T_OLD = "A1" * 20
T_NEW = "B2" * 20
T_OUT = "C3" * 20
TLS13 = ("TLS protocol SP_PROT_TLS1_3_SERVER negotiation succeeded using bulk encryption algorithm "
         "CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits "
         "and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits")
TLS12C = TLS13.replace("TLS1_3_SERVER", "TLS1_2_CLIENT")
PFIELDS = ("date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
           "event,data,context")
TFIELDS = ("date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,"
           "connector-id,source,event-id,internal-message-id,message-id,recipient-address,"
           "recipient-status,total-bytes,recipient-count,reference,sender-address,message-info,"
           "directionality")


def esc(v):
    v = v.replace("\r", "\\r").replace("\n", "\\n")
    if "," in v or '"' in v:
        v = '"' + v.replace('"', '""') + '"'
    return v


class Writer:
    """Exchange-format files, as logs/log_file.c writes them."""

    def __init__(self, root):
        self.root = root
        self.files = {}

    def row(self, kind, fields):
        sub, prefix, ltype, names = {
            "RECV": ("ProtocolLog/SmtpReceive", "RECV", "SMTP Receive Protocol Log", PFIELDS),
            "SEND": ("ProtocolLog/SmtpSend", "SEND", "SMTP Send Protocol Log", PFIELDS),
            "MSGTRK": ("MessageTracking", "MSGTRK", "Message Tracking Log", TFIELDS),
        }[kind]
        day = fields[0][:10].replace("-", "")
        path = os.path.join(self.root, sub, "%s%s-1.LOG" % (prefix, day))
        if path not in self.files:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(("\ufeff#Software: domsec\r\n#Version: 0.1.0\r\n#Log-type: %s\r\n"
                         "#Date: %sT00:00:00.000Z\r\n#Fields: %s\r\n"
                         % (ltype, fields[0][:10], names)).encode())
            self.files[path] = True
        with open(path, "ab") as f:
            f.write((",".join(esc(x) for x in fields) + "\r\n").encode())


class Session:
    def __init__(self, w, kind, sid, start, remote):
        self.w, self.kind, self.sid, self.seq, self.t = w, kind, sid, 0, start
        self.conn = "MX\\Inet" if kind == "RECV" else "Internet"
        self.remote = remote

    def row(self, ev, data="", ctx=""):
        self.w.row(self.kind, [self.t, self.conn, self.sid, str(self.seq), "192.0.2.10:25",
                               self.remote, ev, data, ctx])
        self.seq += 1

    def cert(self, header, subject, issuer, thumb, not_after):
        self.row("*", "", header)
        for data, ctx in ((subject, "Certificate subject"), (issuer, "Certificate issuer name"),
                          ("0A", "Certificate serial number"), (thumb, "Certificate thumbprint"),
                          ("mx.p.test", "Certificate alternate names"),
                          ("2026-01-01T00:00:00Z", "Certificate not before"),
                          (not_after, "Certificate not after")):
            self.row("*", data, ctx)


def track(w, t, event, sender, rcpt, info, direction, sc=""):
    w.row("MSGTRK", [t, "198.51.100.7", "mail.p.test", "192.0.2.10", "mx.us.test", sc, "MX\\Inet",
                     "SMTP", event, "00000000000000AA", "<m@p.test>", rcpt, "", "100", "1", "",
                     sender, info, direction])


def make_logs(root):
    """p.test: 2 secured inbound sessions (certificate changes to one that
    expires soon; its subject has HTML in it), 1 refused, 1 outbound
    secured; a plain inbound message from p.test (warning); q.test plain."""
    w = Writer(root)
    s = Session(w, "RECV", "0000000000000001", "2026-11-22T08:00:00.000Z", "198.51.100.7:40000")
    s.row("+")
    s.cert("Received certificate", "CN=mx.p.test, O=P", "CN=P CA", T_OLD, "2030-01-01T00:00:00Z")
    s.row("*", "", TLS13)
    s.row("<", "MAIL FROM:<a@p.test>")
    s.row("*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was domain-secured")
    s.row("*", "0000000000000001;2026-11-22T08:00:00.000Z;1", "receiving message")
    s.row("-", "", "QuitVerb")
    track(w, "2026-11-22T08:00:01.000Z", "RECEIVE", "a@p.test", "u@us.test", "02P:p.test", "Incoming",
          "0000000000000001;2026-11-22T08:00:00.000Z;1")
    s = Session(w, "RECV", "0000000000000002", "2026-11-23T09:00:00.000Z", "198.51.100.7:40001")
    s.row("+")
    s.cert("Received certificate", 'CN=<b>mx</b>.p.test, O="P & Co"', "CN=P CA", T_NEW,
           "2026-12-10T00:00:00Z")
    s.row("*", "", TLS13)
    s.row("<", "MAIL FROM:<b@p.test>")
    s.row("*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was domain-secured")
    s.row("-", "", "QuitVerb")
    track(w, "2026-11-23T09:00:01.000Z", "RECEIVE", "b@p.test", "u@us.test", "02P:p.test", "Incoming")
    s = Session(w, "RECV", "0000000000000003", "2026-11-23T10:00:00.000Z", "198.51.100.8:40002")
    s.row("+")
    s.row("<", "MAIL FROM:<c@p.test>")
    s.row("*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' was refused "
          "because NotAuthenticated (STARTTLS not used) .")
    s.row(">", "530 5.7.1 Not authenticated")
    s.row("-", "", "QuitVerb")
    track(w, "2026-11-23T11:00:00.000Z", "RECEIVE", "e@p.test", "u@us.test", "", "Incoming")
    track(w, "2026-11-24T11:00:00.000Z", "RECEIVE", "d@q.test", "u@us.test", "", "Incoming")
    s = Session(w, "SEND", "0000000000000004", "2026-11-24T12:00:00.000Z", "203.0.113.5:25")
    s.row("*", "", "attempting to connect")
    s.row("+")
    s.row("*", "", TLS12C)
    s.cert("Remote certificate", "CN=mx.p.test", "CN=P CA", T_OUT, "2030-01-01T00:00:00Z")
    s.row("*", "p.test", "Message to secure domain 'p.test' on send connector 'Internet' was domain-secured")
    s.row(">", "RCPT TO:<x@p.test>")
    s.row("-", "", "Local")
    track(w, "2026-11-24T12:00:01.000Z", "SEND", "u@us.test", "x@p.test", "02P:p.test", "Originating",
          "0000000000000004;250 ok")


def png_size(path):
    """(width, height) of a valid PNG (signature, IHDR and every chunk's CRC
    checked, IEND present); AssertionError otherwise."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG" % path)
    i, size, names = 8, None, []
    while i < len(data):
        n, name = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + n]
        crc, = struct.unpack(">I", data[i + 8 + n:i + 12 + n])
        if zlib.crc32(name + body) != crc:
            raise AssertionError("%s: bad CRC in chunk %r" % (path, name))
        if name == b"IHDR":
            size = struct.unpack(">II", body[:8])
        names.append(name)
        i += 12 + n
    if not names or names[0] != b"IHDR" or names[-1] != b"IEND" or b"IDAT" not in names:
        raise AssertionError("%s: chunks %r" % (path, names))
    return size


def chromium_render(tc, html_path, workdir):
    """Render html_path with headless Chromium: (the --dump-dom text, the PNG
    path).  Chromium is required: scripts/setup installs it, and so does CI."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise AssertionError("chromium is not installed: run scripts/setup (apt-get install "
                             "chromium); the HTML report must be checked in a real browser")
    profile = tempfile.mkdtemp(prefix="chromium-profile.", dir=workdir)
    png = os.path.join(workdir, "audit.png")
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--user-data-dir=" + profile, "--window-size=1200,1600"]
    url = "file://" + os.path.abspath(html_path)
    for args in (["--screenshot=" + png, url], ["--dump-dom", url]):
        try:
            p = subprocess.run(base + args, capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            raise AssertionError("chromium %s did not finish within 90 s" % args[0])
        tc.assertEqual(p.returncode, 0, "chromium %s: %s" % (args[0], p.stderr[-2000:]))
        if args[0] == "--dump-dom":
            dom = p.stdout
    tc.assertTrue(os.path.exists(png), "chromium wrote no screenshot")
    tc.assertEqual(png_size(png), (1200, 1600))
    tc.assertGreater(os.path.getsize(png), 20000)      # not a blank page
    if os.environ.get("DOMSEC_KEEP_PNG"):
        shutil.copy(png, os.environ["DOMSEC_KEEP_PNG"])
    return dom, png


class LogAuditTest(unittest.TestCase):
    def setUp(self):
        if not os.access(DOMSEC, os.X_OK):
            raise AssertionError("%s is not built (set DOMSEC_BUILD)" % DOMSEC)
        self.dir = tempfile.mkdtemp(prefix="domsec-logaudit.")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.logs = os.path.join(self.dir, "logs")
        make_logs(self.logs)
        self.conf = os.path.join(self.dir, "domsec.conf")     # does not exist: lists inferred

    def domsec(self, *args, ok=True, rc=0):
        """rc: the exit status expected (audit: 1 when it has warnings)."""
        p = subprocess.run([DOMSEC, "-c", self.conf, "log"] + list(args), capture_output=True,
                           text=True, timeout=60)
        if ok:
            self.assertEqual(p.returncode, rc, p.stderr)
        return p

    def test_logcheck_accepts_the_generated_logs(self):
        here = os.path.dirname(os.path.abspath(__file__))
        for sub in ("ProtocolLog/SmtpReceive", "ProtocolLog/SmtpSend", "MessageTracking"):
            p = subprocess.run(["python3", os.path.join(here, "..", "logcheck.py"),
                                os.path.join(self.logs, sub)], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_json(self):
        r = json.loads(self.domsec("audit", "--format", "json", "--to", "2026-11-24", self.logs,
                                   rc=1).stdout)
        self.assertFalse(r["listed_from_config"])
        parts = {p["domain"]: p for p in r["partners"]}
        others = {p["domain"]: p for p in r["others"]}
        p = parts["p.test"]
        self.assertTrue(p["listed"])
        self.assertEqual((p["sessions_in"], p["sessions_in_secured"]), (3, 2))
        self.assertEqual((p["sessions_out"], p["sessions_out_secured"]), (1, 1))
        self.assertEqual((p["messages_in"], p["messages_in_secured"]), (3, 2))
        self.assertEqual((p["messages_out"], p["messages_out_secured"]), (1, 1))
        self.assertEqual(p["failures"], {"NotAuthenticated (STARTTLS not used)": 1})
        self.assertEqual(p["tls"], {"TLS1.3": 2, "none": 1, "TLS1.2": 1})
        certs = [(c["direction"], c["thumbprint"], c["verdict"]) for c in p["certificates"]]
        self.assertEqual(certs, [("in", T_OLD, "accepted"), ("in", T_NEW, "accepted"),
                                 ("out", T_OUT, "accepted")])
        self.assertEqual(p["certificates"][1]["subject"], 'CN=<b>mx</b>.p.test, O="P & Co"')
        self.assertEqual(p["certificates"][1]["not_after"], "2026-12-10T00:00:00Z")
        # q.test was never listed and presented nothing: not a partner.
        self.assertNotIn("q.test", parts)
        self.assertFalse(others["q.test"]["listed"])
        kinds = sorted((w["kind"], w["domain"]) for w in r["warnings"])
        self.assertEqual(kinds, [("certificate-changed", "p.test"), ("certificate-expires", "p.test"),
                                 ("not-domain-secured", "p.test"), ("refused", "p.test")])
        refused = [w for w in r["warnings"] if w["kind"] == "refused"][0]
        self.assertEqual((refused["count"], refused["session_ids"], refused["reply"]),
                         (1, ["0000000000000003"], "530 5.7.1 Not authenticated"))
        self.assertEqual(sum(b["secured"] for b in r["chart"]), 3)
        # the partners' chart (as the HTML draws it): q.test's message is not in it
        self.assertEqual(sum(b["not_secured"] for b in r["chart"]), 1)
        self.assertEqual(sum(b["refused"] for b in r["chart"]), 1)

    def test_config_lists_and_range(self):
        with open(self.conf, "w") as f:
            f.write("[service]\n[transport]\naccepted_domains = us.test\n"
                    "tls_receive_domain_secure_list = q.test\ntls_send_domain_secure_list = q.test\n"
                    "[receive Default]\nbindings = 127.0.0.1:2525\n"
                    "[send Internet]\naddress_spaces = *\ndns_routing = yes\n"
                    "[logs]\ndirectory = %s\n" % self.logs)
        p = self.domsec("audit", "--format", "json", "--from", "2026-11-24", rc=1)   # PATH from [logs]
        r = json.loads(p.stdout)
        self.assertTrue(r["listed_from_config"])
        self.assertEqual(r["lists_now"], {"receive": ["q.test"], "send": ["q.test"]})
        parts = {x["domain"]: x for x in r["partners"]}
        # q.test's message has no session in the logs: today's list decides, flagged.
        self.assertTrue(parts["q.test"]["listed"])
        self.assertEqual(parts["q.test"]["listed_in"], {"then": True, "from_today": True})
        self.assertTrue(r["history_incomplete"])
        # p.test is on no list today, but its session's verdict row shows it
        # was on the send list then.
        self.assertTrue(parts["p.test"]["listed"])
        self.assertEqual(parts["p.test"]["listed_out"], {"then": True, "from_today": False})
        self.assertFalse(parts["p.test"]["listed_out_now"])
        self.assertEqual([(w["kind"], w["domain"]) for w in r["warnings"]],
                         [("not-domain-secured", "q.test")])

    def test_time_options(self):
        # Relative times count back from now: the fixture rows (2026-11) are
        # all older than an hour ago; a bad unit is a usage error.
        all_rows = json.loads(self.domsec("audit", "--format", "json", self.logs, rc=1).stdout)
        until = json.loads(self.domsec("audit", "--format", "json", "--until", "1h", self.logs,
                                       rc=1).stdout)
        self.assertEqual(until["rows"], all_rows["rows"])
        since = json.loads(self.domsec("audit", "--format", "json", "--since", "1h", self.logs,
                                       rc=0).stdout)
        self.assertEqual((since["rows"], since["warnings"]), (0, []))
        for bad in ("7x", "d", "-3d", "3dd"):
            p = self.domsec("audit", "--since", bad, self.logs, rc=2)
            self.assertIn("bad time", p.stderr)
        r = json.loads(self.domsec("audit", "--format", "json", "--since", "2026-11-24",
                                   "--partner", "p.test", self.logs, rc=0).stdout)
        self.assertEqual(([p["domain"] for p in r["partners"]], r["others"]), (["p.test"], []))

    def test_csv_and_table(self):
        rows = list(csv.reader(io.StringIO(self.domsec("audit", "--format", "csv", self.logs,
                                                       rc=1).stdout)))
        partner = [r for r in rows if r[0] == "partner" and r[1] == "p.test"][0]
        self.assertEqual(partner[2:11], ["yes", "3", "2", "1", "1", "3", "2", "1", "1"])
        certs = [r for r in rows if r[0] == "certificate"]
        self.assertEqual([c[3] for c in certs], [T_OLD, T_NEW, T_OUT])
        self.assertIn('CN=<b>mx</b>.p.test, O="P & Co"', [c[4] for c in certs])
        # No --to: the range ends at the last row (2026-11-24), so T_NEW
        # (not after 2026-12-10) expires within 30 days: 4 warnings with the refusal.
        self.assertEqual(len([r for r in rows if r[0] == "warning"]), 4)
        table = self.domsec("audit", self.logs, rc=1).stdout
        self.assertIn("p.test", table)
        self.assertIn("NotAuthenticated (STARTTLS not used)", table)
        self.assertIn(T_NEW, table)
        self.assertIn("not-domain-secured", table)

    def test_search(self):
        out = self.domsec("search", "--session", "0000000000000002", self.logs).stdout
        self.assertEqual(len(out.splitlines()), 13)
        js = json.loads(self.domsec("search", "--format", "json", "--event", "RECEIVE",
                                    "--domain", "q.test", self.logs).stdout)
        self.assertEqual([r["sender-address"] for r in js], ["d@q.test"])
        js = json.loads(self.domsec("search", "--format", "json", "--text", "STARTTLS not used",
                                    "--sessions", self.logs).stdout)
        self.assertEqual({r["session-id"] for r in js}, {"0000000000000003"})
        self.assertEqual(len(js), 5)

    def test_html(self):
        html_path = os.path.join(self.dir, "audit.html")
        self.domsec("audit", "--format", "html", "--to", "2026-11-24", "--out", html_path, self.logs,
                    rc=1)
        with open(html_path, encoding="utf-8") as f:
            html = f.read()
        self.assertIn("<svg", html)
        self.assertNotIn("<script", html)
        self.assertNotIn("http://", html.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        self.assertNotIn("<b>mx</b>", html)                  # escaped
        self.assertIn("CN=&lt;b&gt;mx&lt;/b&gt;.p.test, O=&quot;P &amp; Co&quot;",   # escaped, in
                      re.sub(r"<[^>]+>", "", html))     # the text (the page may wrap words in spans)
        dom, _ = chromium_render(self, html_path, self.dir)
        for text in ("Domain security audit", "p.test", T_NEW, "certificate-changed",
                     "certificate-expires", "not-domain-secured", "NotAuthenticated (STARTTLS not used)"):
            self.assertIn(text, dom)


PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.45"
FAB = "fabrikam.test"                   # send-listed; its MX offers no STARTTLS
FAB_IP = "127.0.0.46"
OURS = "contoso.test"
RELAY_FQDN = "mail.contoso.test"


class AuditEvasionTest(unittest.TestCase):
    """Issue 14: what a client sends must not hide its own refusal."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="domsec-logaudit-ev.")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.conf = os.path.join(self.dir, "domsec.conf")

    def audit(self, root, *args, rc):
        p = subprocess.run([DOMSEC, "-c", self.conf, "log", "audit", "--format", "json"]
                           + list(args) + [root], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, rc, p.stderr)
        return json.loads(p.stdout.decode("utf-8"))

    def test_junk_mail_froms_do_not_push_the_verdict_out(self):
        # More junk MAIL FROM domains than a session used to hold (6), then
        # the partner's, which the daemon refused: the refusal is reported.
        for junk in (7, 40, 4200):         # 4200: past the cap, a slot is reused
            root = os.path.join(self.dir, "j%d" % junk)
            s = Session(Writer(root), "RECV", "00000000000000F2", "2026-11-22T08:00:00.000Z",
                        "203.0.113.66:40000")
            s.row("+")
            for i in range(junk):
                s.row("<", "MAIL FROM:<a@junk%d.test>" % i)
                s.row(">", "503 5.5.1 Send EHLO first")
            s.row("<", "MAIL FROM:<ceo@p.test>")
            s.row("*", "p.test", "Message from secure domain 'p.test' on receive connector 'Inet' "
                  "was refused because NotAuthenticated (STARTTLS not used) .")
            s.row(">", "530 5.7.1 Not authenticated")
            s.row("-", "", "QuitVerb")
            r = self.audit(root, rc=1)
            refused = [w for w in r["warnings"] if w["kind"] == "refused"]
            self.assertEqual([(w["domain"], w["session_ids"], w["reply"]) for w in refused],
                             [("p.test", ["00000000000000F2"], "530 5.7.1 Not authenticated")])
            p = {x["domain"]: x for x in r["partners"]}["p.test"]
            self.assertEqual((p["sessions_in"], p["sessions_in_refused"]), (1, 1))


class AuditSinceConfigTest(unittest.TestCase):
    """Issue 14: --since still judges by the CONFIG row in force at its start."""

    def test_config_before_since(self):
        d = tempfile.mkdtemp(prefix="domsec-logaudit-since.")
        self.addCleanup(shutil.rmtree, d, True)
        w = Writer(d)
        for t, lists in (("2026-11-19T08:00:00.000Z", "start;sha256=A0;receive=;send="),
                         ("2026-11-20T08:00:00.000Z", "reload;sha256=AA;receive=p.test;send=")):
            w.row("MSGTRK", [t, "", "", "", "mx.us.test", lists, "", "ADMIN", "CONFIG", "", "", "",
                             "", "", "", "", "", "", ""])
        track(w, "2026-11-22T11:00:00.000Z", "RECEIVE", "e@p.test", "u@us.test", "", "Incoming",
              "00000000000000AB;x;1")
        conf = os.path.join(d, "none.conf")
        for extra in ([], ["--since", "2026-11-21"], ["--since", "2026-11-20T09:00"]):
            p = subprocess.run([DOMSEC, "-c", conf, "log", "audit", "--format", "json"] + extra + [d],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, (extra, p.stderr))
            r = json.loads(p.stdout)
            self.assertEqual([(w["kind"], w["domain"]) for w in r["warnings"]],
                             [("not-domain-secured", "p.test")], extra)
            self.assertEqual([c["time"] for c in r["configs"]][-1], "2026-11-20T08:00:00.000Z")
            if extra:                   # only the one in force at the start of the range
                self.assertEqual(len(r["configs"]), 1, extra)
                self.assertEqual(r["rows"], 1)


class AuditOutputEscapingTest(unittest.TestCase):
    """Issue 14: certificate and sender text cannot forge lines, drive the
    terminal, split CSV records or break the JSON."""

    SUBJ = "CN=x\nFORGED-LINE listed then: yes accepted\x1b]0;pwned\x07\x1b[2J"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="domsec-logaudit-esc.")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.logs = os.path.join(self.dir, "logs")
        w = Writer(self.logs)
        s = Session(w, "RECV", "00000000000000F1", "2026-11-22T08:00:00.000Z", "203.0.113.66:40000")
        s.row("+")
        s.cert("Received certificate", self.SUBJ, "CN=x\r\n=cmd", "D4" * 20, "2030-01-01T00:00:00Z")
        s.row("*", "Untrusted", "Chain validation status")
        s.row("*", "", TLS13)
        s.row("<", "MAIL FROM:<a@evil.test>")
        s.row("-", "", "QuitVerb")
        s = Session(w, "RECV", "00000000000000F3", "2026-11-22T08:01:00.000Z", "203.0.113.1:4000")
        s.row("+")
        s.row("<", "MAIL FROM:<a@XFFX\x1b[31m.test>")
        s.row("-", "", "QuitVerb")
        path = [p for p in w.files][0]
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:                 # invalid UTF-8 in a sender's domain
            f.write(data.replace(b"XFFX", b"\xff\xfe"))
        self.conf = os.path.join(self.dir, "domsec.conf")

    def audit(self, fmt):
        p = subprocess.run([DOMSEC, "-c", self.conf, "log", "audit", "--format", fmt, self.logs],
                           capture_output=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p.stdout

    def test_table_has_no_control_bytes_or_forged_lines(self):
        out = self.audit("table")
        self.assertFalse([c for c in out if (c < 0x20 and c != 0x0a) or c == 0x7f], out)
        lines = out.decode("utf-8", "replace").split("\n")
        self.assertFalse([l for l in lines if l.lstrip().startswith("FORGED-LINE")])
        self.assertIn("CN=x\\x0AFORGED-LINE", "\n".join(lines))

    def test_csv_records(self):
        text = self.audit("csv").decode("utf-8", "surrogateescape")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        kinds = {r[0] for r in rows}
        self.assertLessEqual(kinds, {"record", "meta", "total", "partner", "failure", "certificate",
                                     "warning", "other", "own_certificate", "chart", "tls"}, kinds)
        certs = [r for r in rows if r[0] == "certificate"]
        self.assertEqual([(c[4], c[5]) for c in certs], [(self.SUBJ, "CN=x\r\n=cmd")])

    def test_json_decodes(self):
        r = json.loads(self.audit("json").decode("utf-8"))    # strict: fails on a raw 0xFF
        certs = [c for p in r["partners"] for c in p["certificates"]]
        self.assertEqual([c["subject"] for c in certs], [self.SUBJ])
        domains = [p["domain"] for p in r["others"] + r["partners"]]
        self.assertIn("\u00ff\u00fe\x1b[31m.test", domains)


class RealSessionAuditTest(PkiMixin, DeliveryTestCase):
    """Our relay (contoso.test) with an internal Hub, a domain-secure Inet and a
    Plain (domain_secure_enabled = no) receive connector, and send connectors to
    woodgrovebank.test (a second domsecd, partner-ok) and fabrikam.test (a
    scripted peer without STARTTLS).  Real sessions; then `domsec log audit`
    over its logs, with its configuration (fabrikam.test added to the receive
    list afterwards, as an operator would before enforcing it)."""

    def thumb(self, name):
        out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                              self.p(name + ".pem")], capture_output=True, text=True,
                             check=True).stdout
        return out.strip().split("=", 1)[1].replace(":", "").upper()

    def partner_relay(self):
        conn = {"bindings": PARTNER_IP + ":{port}", "fqdn": "mail." + PARTNER,
                "auth_mechanism": "tls", "domain_secure_enabled": "yes"}
        b = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store("partner-ok"),
                                                tls_receive_domain_secure_list=OURS))
        b.start()
        return b

    def config(self, a, recv_list, b_port):
        tr = dict(DELIVERY_TRANSPORT)
        tr.update(self.tls_transport(self.store("relay"), tls_receive_domain_secure_list=recv_list,
                                     tls_send_domain_secure_list="%s, %s" % (PARTNER, FAB)))
        secure = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN}
        conns = [("Hub", {"permission": "internal"}),
                 ("Inet", dict(secure, bindings="127.0.0.1:{inet}", domain_secure_enabled="yes")),
                 ("Plain", dict(secure, bindings="127.0.0.1:{plain}", domain_secure_enabled="no"))]
        sends = [("Partner", {"address_spaces": PARTNER, "dns_routing": "yes", "port": str(b_port),
                              "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}),
                 ("Fab", {"address_spaces": FAB, "dns_routing": "yes", "port": str(self.P),
                          "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"})]
        return a.render_config(conns, accepted_domains=OURS, transport=tr, sends=sends,
                               dns={"servers": "127.0.0.1:%d" % self.dns.port, "timeout": "1s"})

    def session(self, a, port, cert, helo_domain=PARTNER):
        c = a.connect(port=port)
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        if cert:
            ctx.load_cert_chain(self.p(cert + ".pem"), self.p(cert + ".key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO mail.%s" % helo_domain).code, 250)
        return c

    def deliver_in(self, a, port, cert, sender):
        c = self.session(a, port, cert, sender.split("@")[1])
        r = c.transaction("<%s>" % sender, ["<u@%s>" % OURS],
                          b"From: %s\r\nSubject: s\r\n\r\nhi\r\n" % sender.encode())
        self.assertEqual(r.code, 250, r)
        c.expect("QUIT", "221 2.0.0 Service closing transmission channel")

    def refused_in(self, a, port, cert, reply):
        c = self.session(a, port, cert)
        self.assertEqual(c.cmd("MAIL FROM:<a@%s>" % PARTNER).lines, [reply])
        c.expect("QUIT", "221 2.0.0 Service closing transmission channel")

    def produce(self):
        self.start_dns(mx(PARTNER, "mail." + PARTNER, 10), host("mail." + PARTNER, PARTNER_IP),
                       mx(FAB, "mail." + FAB, 10), host("mail." + FAB, FAB_IP))
        b = self.partner_relay()
        self.peer(FAB_IP)                                   # no STARTTLS
        a = Daemon(self)
        a.add_port("inet")
        a.add_port("plain")
        a.write_config(self.config(a, PARTNER, b.port))
        a.start()
        inet, plain = a.ports["inet"], a.ports["plain"]
        self.deliver_in(a, inet, "partner-ok", "a@" + PARTNER)
        self.deliver_in(a, inet, "partner-ok", "b@" + PARTNER)
        self.refused_in(a, inet, None, "530 5.7.1 Not authenticated")
        self.refused_in(a, inet, "partner-wrongname", "454 4.7.5 Certificate validation failure")
        self.refused_in(a, inet, "partner-revoked", "454 4.7.5 Certificate validation failure")
        self.refused_in(a, plain, "partner-ok",
                        "451 4.7.3 The admin has temporarily disallowed this secure domain")
        self.deliver_in(a, inet, "partner-exact", "c@" + PARTNER)       # a new certificate
        self.deliver_in(a, inet, None, "f@" + FAB)          # fabrikam.test: not (yet) listed
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@%s>" % OURS)
        a.wait_log(a.prefix() + r"info smtp \S+ delivered id=%s" % qid, 30)
        qid = self.submit(a, ["<u@%s>" % FAB], sender="<s@%s>" % OURS)
        a.wait_log(a.prefix() + r"info \S+ \S+ deferred id=%s" % qid, 30)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(b.stop(), 0)
        fab_fail = len([r for r in a.plog_rows("SEND") if r[8] == "Message to secure domain "
                        "'%s' on send connector 'Fab' failed because TLS was not offered ." % FAB])
        self.assertGreaterEqual(fab_fail, 1)
        # The audit's configuration: ours, with fabrikam.test now on the receive list.
        conf = os.path.join(a.dir, "audit.conf")
        with open(conf, "w") as f:
            f.write(self.config(a, "%s, %s" % (PARTNER, FAB), b.port))
        return a, conf, fab_fail

    def audit(self, conf, *args):
        p = subprocess.run([DOMSEC, "-c", conf, "log", "audit"] + list(args), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)        # it has warnings
        return p.stdout

    def test_audit_of_real_sessions(self):
        if not os.access(DOMSEC, os.X_OK):
            raise AssertionError("%s is not built (set DOMSEC_BUILD)" % DOMSEC)
        a, conf, fab_fail = self.produce()
        # Tracking: what the Hub (permission = internal) received is Originating.
        recv = {(t[16], t[18]) for t in a.plog_rows("MSGTRK") if t[8] == "RECEIVE"}
        self.assertEqual({d for s, d in recv if s == "s@" + OURS}, {"Originating"})
        self.assertEqual({d for s, d in recv if s.endswith("@" + PARTNER)}, {"Incoming"})
        ok, exact = self.thumb("partner-ok"), self.thumb("partner-exact")
        self.assertNotEqual(ok, exact)
        failures = {"NotAuthenticated (no client certificate)": 1, "SubjectMismatch": 1,
                    "CertificateValidationFailure (Revoked)": 1, "DomainSecureDisabled": 1}

        # JSON: everything exactly.
        r = json.loads(self.audit(conf, "--format", "json"))
        self.assertTrue(r["listed_from_config"])
        parts = {p["domain"]: p for p in r["partners"]}
        self.assertEqual(sorted(parts), [FAB, PARTNER])     # not contoso.test (Hub), not a.test
        p = parts[PARTNER]
        self.assertTrue(p["listed"])
        self.assertEqual((p["sessions_in"], p["sessions_in_secured"]), (7, 3))
        self.assertEqual((p["sessions_out"], p["sessions_out_secured"]), (1, 1))
        self.assertEqual((p["messages_in"], p["messages_in_secured"]), (3, 3))
        self.assertEqual((p["messages_out"], p["messages_out_secured"]), (1, 1))
        self.assertEqual(p["failures"], failures)
        self.assertEqual(p["tls"], {"TLS1.3": 8})
        # Every certificate presented, refused ones too, with its verdict.
        wrong, revoked = self.thumb("partner-wrongname"), self.thumb("partner-revoked")
        certs = [(c["direction"], c["thumbprint"], c["sessions"], c["verdict"])
                 for c in p["certificates"]]
        self.assertEqual(certs, [("in", ok, 2, "accepted"), ("in", wrong, 1, "wrong-name"),
                                 ("in", revoked, 1, "revoked"), ("in", exact, 1, "accepted"),
                                 ("out", ok, 1, "accepted")])
        rev = p["certificates"][2]
        self.assertEqual((rev["serial"], rev["crl_issuer"], rev["reply"]),
                         ("200F", "CN=Domsec Test Intermediate CA, O=Domsec Test PKI",
                          "454 4.7.5 Certificate validation failure"))
        self.assertRegex(rev["revoked_at"], r"^\d{4}-\d\d-\d\d$")
        self.assertIn("OU=partner-exact", p["certificates"][3]["subject"])
        f = parts[FAB]
        self.assertTrue(f["listed"])
        # On the send list then (its send sessions have verdict rows); not on
        # the receive list then, although the audit's configuration has it now.
        self.assertEqual(f["listed_out"], {"then": True, "from_today": False})
        self.assertEqual(f["listed_in"], {"then": False, "from_today": False})
        self.assertTrue(f["listed_in_now"])
        self.assertEqual((f["sessions_in"], f["sessions_in_secured"]), (1, 0))
        self.assertEqual((f["sessions_out"], f["sessions_out_secured"]), (fab_fail, 0))
        self.assertEqual((f["messages_in"], f["messages_in_secured"]), (1, 0))
        self.assertEqual((f["messages_out"], f["messages_out_secured"]), (0, 0))
        self.assertEqual(f["failures"], {"TLS was not offered": fab_fail})
        self.assertEqual(f["tls"], {"TLS1.3": 1, "none": fab_fail})
        self.assertEqual(f["certificates"], [])
        warnings = sorted((w["kind"], w["domain"], w["reason"], w["count"]) for w in r["warnings"])
        self.assertEqual(warnings, [
            ("certificate-changed", PARTNER, "", 1),
            ("certificate-refused", PARTNER, rev["reason"], 1),
            ("certificate-refused", PARTNER, p["certificates"][1]["reason"], 1),
            ("refused", FAB, "TLS was not offered", fab_fail),
            ("refused", PARTNER, "DomainSecureDisabled", 1),
            ("refused", PARTNER, "NotAuthenticated (no client certificate)", 1)])
        # The reply of a refusal on Send: the queue's status for its recipients.
        fab_w = [w for w in r["warnings"] if w["domain"] == FAB][0]
        self.assertRegex(fab_w["reply"], r"^4\d\d ")
        changed = [w["text"] for w in r["warnings"] if w["kind"] == "certificate-changed"][0]
        self.assertIn(exact, changed)
        self.assertIn(ok, changed)
        self.assertEqual(sum(b["secured"] for b in r["chart"]), 4)
        self.assertEqual(sum(b["not_secured"] for b in r["chart"]), 1)

        # CSV: the same numbers.
        rows = list(csv.reader(io.StringIO(self.audit(conf, "--format", "csv"))))
        partner = {r[1]: r[2:11] for r in rows if r[0] == "partner"}
        self.assertEqual(partner[PARTNER], ["yes", "7", "3", "1", "1", "3", "3", "1", "1"])
        self.assertEqual(partner[FAB], ["yes", "1", "0", str(fab_fail), "0", "1", "0", "0", "0"])
        self.assertEqual([(c[3], c[11]) for c in rows if c[0] == "certificate"],
                         [(ok, "accepted"), (wrong, "wrong-name"), (revoked, "revoked"),
                          (exact, "accepted"), (ok, "accepted")])
        self.assertEqual(sorted(r[2] for r in rows if r[0] == "warning"),
                         ["certificate-changed", "certificate-refused", "certificate-refused",
                          "refused", "refused", "refused"])

        # Table.
        table = self.audit(conf)
        for text in (PARTNER, FAB, ok, exact, revoked, "certificate-changed", "certificate-refused",
                     "CertificateValidationFailure (Revoked)", "TLS was not offered"):
            self.assertIn(text, table)
        partners = table.split("\nPartners", 1)[1].split("\nWarnings", 1)[0]
        self.assertNotIn(OURS, partners)

        # HTML, rendered by Chromium.
        html_path = os.path.join(a.dir, "audit.html")
        self.audit(conf, "--format", "html", "--out", html_path)
        dom, _ = chromium_render(self, html_path, a.dir)
        for text in (PARTNER, FAB, ok, exact, "certificate-changed",
                     "SubjectMismatch", "DomainSecureDisabled", "TLS was not offered",
                     "NotAuthenticated (no client certificate)"):
            self.assertIn(text, dom)

    def test_demo_cases_and_a_reload(self):
        """The README demo's cases and more, then a reload that takes the
        partner off the receive list: `domsec log audit --json` lists every
        certificate presented with its verdict, each refusal as a warning
        with its count, judges the events before the reload as listed then,
        and keeps our own and unlisted domains out of the partner table."""
        if not os.access(DOMSEC, os.X_OK):
            raise AssertionError("%s is not built (set DOMSEC_BUILD)" % DOMSEC)
        self.start_dns()
        a = Daemon(self)
        a.add_port("inet")
        a.add_port("plain")
        a.write_config(self.config(a, PARTNER, 9))
        a.start()
        inet = a.ports["inet"]
        bad = "454 4.7.5 Certificate validation failure"
        self.deliver_in(a, inet, "partner-ok", "a@" + PARTNER)             # accepted
        self.refused_in(a, inet, None, "530 5.7.1 Not authenticated")      # no certificate
        self.refused_in(a, inet, "partner-revoked", bad)
        self.refused_in(a, inet, "partner-revoked", bad)                   # the same, again
        self.refused_in(a, inet, "partner-untrusted", bad)                 # untrusted chain
        self.refused_in(a, inet, "partner-expired", bad)
        self.refused_in(a, inet, "partner-wrongname", bad)
        self.deliver_in(a, inet, None, "x@unlisted.test")                  # never listed
        self.deliver_in(a, inet, None, "s@" + OURS)                        # ours
        # The operator takes the partner off the receive list.
        mark = a.log_mark()
        a.write_config(self.config(a, FAB, 9))
        a.reload()
        a.wait_log(a.prefix() + r"info config reloaded", 10, since=mark)
        self.deliver_in(a, inet, None, "late@" + PARTNER)                  # no longer listed
        self.assertEqual(a.stop(), 0)
        conf = a.config_path                                               # today's: not listed

        def audit(*args, rc):
            p = subprocess.run([DOMSEC, "-c", conf, "log", "audit"] + list(args),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, rc, p.stderr)
            return p.stdout

        r = json.loads(audit("--format", "json", rc=1))
        parts = {p["domain"]: p for p in r["partners"]}
        others = {p["domain"]: p for p in r["others"]}
        self.assertEqual(sorted(parts), [PARTNER])
        self.assertEqual(sorted(others), [OURS, "unlisted.test"])
        self.assertTrue(others[OURS]["ours"])
        self.assertEqual(r["lists_now"]["receive"], [FAB])
        self.assertEqual(r["listed_then"]["receive"], [PARTNER])
        p = parts[PARTNER]
        self.assertEqual(p["listed_in"], {"then": True, "from_today": False})
        self.assertFalse(p["listed_in_now"])
        self.assertEqual((p["sessions_in"], p["sessions_in_secured"], p["sessions_in_refused"]),
                         (8, 1, 6))
        self.assertEqual((p["messages_in"], p["messages_in_secured"]), (2, 1))
        # Every certificate presented, with its verdict, listed then.
        th = {n: self.thumb(n) for n in ("partner-ok", "partner-revoked", "partner-untrusted",
                                         "partner-expired", "partner-wrongname")}
        certs = {(c["thumbprint"], c["verdict"]): c for c in p["certificates"]}
        self.assertEqual(sorted(certs), sorted([
            (th["partner-ok"], "accepted"), (th["partner-revoked"], "revoked"),
            (th["partner-untrusted"], "untrusted"), (th["partner-expired"], "expired"),
            (th["partner-wrongname"], "wrong-name")]))
        for c in p["certificates"]:
            self.assertEqual(c["listed"], {"then": True, "from_today": False}, c["verdict"])
            self.assertEqual(c["direction"], "in")
        rev = certs[(th["partner-revoked"], "revoked")]
        self.assertEqual((rev["sessions"], rev["serial"], rev["reply"]), (2, "200F", bad))
        self.assertEqual(rev["crl_issuer"], "CN=Domsec Test Intermediate CA, O=Domsec Test PKI")
        self.assertRegex(rev["revoked_at"], r"^\d{4}-\d\d-\d\d$")
        self.assertEqual(len(rev["session_ids"]), 2)
        self.assertIn("trusted_ca_file", certs[(th["partner-untrusted"], "untrusted")]["reason"])
        self.assertIn("not valid after", certs[(th["partner-expired"], "expired")]["reason"])
        # Each refusal a warning, with its count, sessions and reply.
        w = {(x["kind"], x["thumbprint"] or x["reason"]): x for x in r["warnings"]}
        self.assertEqual(sorted(w), sorted([
            ("certificate-refused", th["partner-revoked"]),
            ("certificate-refused", th["partner-untrusted"]),
            ("certificate-refused", th["partner-expired"]),
            ("certificate-refused", th["partner-wrongname"]),
            ("refused", "NotAuthenticated (no client certificate)")]))
        wr = w[("certificate-refused", th["partner-revoked"])]
        self.assertEqual((wr["count"], wr["verdict"], wr["reply"], wr["session_ids"]),
                         (2, "revoked", bad, rev["session_ids"]))
        self.assertLess(wr["first"], wr["last"])
        wn = w[("refused", "NotAuthenticated (no client certificate)")]
        self.assertEqual((wn["count"], wn["reply"]), (1, "530 5.7.1 Not authenticated"))
        self.assertEqual(r["warnings_count"], 5)
        # The plain message after the reload is not "not domain-secured":
        # woodgrovebank.test was no longer listed then.
        self.assertNotIn("not-domain-secured", {x["kind"] for x in r["warnings"]})
        # The daemon recorded the lists at start and at the reload (CONFIG
        # tracking rows with their SHA-256), and the report shows them.
        cfg = [t[5] for t in a.plog_rows("MSGTRK") if t[8] == "CONFIG"]
        self.assertEqual([c.split(";")[0] for c in cfg], ["start", "reload"])
        self.assertEqual([(c["receive"], c["send"]) for c in r["configs"]],
                         [([PARTNER], [PARTNER, FAB]), ([FAB], [PARTNER, FAB])])
        self.assertRegex(r["configs"][0]["sha256"], r"^[0-9A-F]{64}$")
        self.assertNotEqual(r["configs"][0]["sha256"], r["configs"][1]["sha256"])
        self.assertEqual(r["configs"][0]["sha256"], hashlib.sha256(
            ("receive=%s;send=%s,%s" % (PARTNER, PARTNER, FAB)).encode()).hexdigest().upper())
        # The report says when, where, what.
        self.assertEqual(r["paths"], [a.logs_dir])
        self.assertTrue(r["generated"] and r["host"] and r["version"])
        # Options and exit status: 0 without warnings.
        self.assertEqual(json.loads(audit("--format", "json", "--since", "1h", rc=1))
                         ["warnings_count"], 5)
        q = json.loads(audit("--format", "json", "--partner", "unlisted.test", rc=0))
        self.assertEqual((q["warnings"], [x["domain"] for x in q["others"]]), ([], ["unlisted.test"]))
        self.assertEqual(json.loads(audit("--format", "json", "--until", "2000-01-01", rc=0))
                         ["rows"], 0)
        table = audit(rc=1)
        for text in ("Generated:", "receive %s;" % PARTNER, "Listed now:  receive %s" % FAB,
                     "revoked %s" % th["partner-revoked"], "certificate-refused"):
            self.assertIn(text, table)


if __name__ == "__main__":
    unittest.main()
