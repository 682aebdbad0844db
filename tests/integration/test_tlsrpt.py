"""SMTP TLS reporting (RFC 8460), the sending side, against real peers: dnsmasq serves
_smtp._tls TXT records (rua=mailto:...,https://...) and the report addresses' MX,
smtp-sink receives the report mail, sts_peers.PolicyServer (HTTPS, test CA) the POST.

A day's results are put in tlsrpt_directory as domsecd keeps them (DAY.json) before it
starts: domsecd reads today's file back at start, as after a restart.  Shown:
 - `domsec tlsrpt send --day D` sends each domain's report: by mail (multipart/report;
   report-type="tlsrpt", the RFC 8460 5.3 headers, the gzip'd JSON as
   application/tlsrpt+gzip named per 5.1), parsed with Python's email package, and by
   HTTPS POST (Content-Type application/tlsrpt+gzip); both reports validate against
   the RFC 8460 schema (jsonschema, date-time checked) and carry the day's counts;
   a domain without a TLSRPT record is not sent, and says so;
 - a report sent is not sent again (a second send, the daily pass after a restart)
   unless --again, which sends the same report-id;
 - the daily pass (tlsrpt_send_delay = 0) sends yesterday's reports at start;
 - `domsec tlsrpt show` prints the same report without the daemon;
 - a real MTA-STS session (testing mode, an MX certificate for another name: delivered,
   noted certificate-host-mismatch by the SMTP client) is in the day's report with
   the policy as fetched (policy-string, mx-host) and the session's addresses; at the
   stop the day file holds what it held at start plus the session (merged, written)."""

import datetime
import email
import email.policy
import gzip
import json
import os
import re
import socket
import subprocess
import time
import unittest

import jsonschema

from domsec_harness import service_ids, wait_until
from peers import DeliveryTestCase, RX_ID, host, mx
from pki import PkiMixin
from sts_peers import PolicyServer, server_cert, sts_policy, txt
import test_mta_sts_send as sts_send

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = json.load(open(os.path.join(HERE, "tlsrpt-schema.json")))
SINK_IP = "127.0.0.81"                  # MX of reports.test: the mailto: rua
HTTPS_IP = "127.0.0.82"                 # tlsrpt.woodgrove.test: the https: rua
RUA_MAIL = "tlsrpt@reports.test"
RUA_URL = "https://tlsrpt.woodgrove.test/v1/report"
SENDER = "tlsrpt-noreply@relay.snd.test"
POLICY_TEXT = ["version: STSv1", "mode: enforce", "mx: mx1.woodgrove.test",
               "mx: *.woodgrove.test", "max_age: 86400"]


def domsec_exe():
    build = os.environ.get("DOMSEC_BUILD")
    return os.path.join(build, "domsec") if build else "domsec"


def day_name(offset_days=0):
    t = time.time() + offset_days * 86400
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d")


def seed_day(day):
    """A day as domsecd keeps it: woodgrove.test (MTA-STS, 7 good, 3 failed sessions in
    two kinds) and fabrikam.test (a domain-secure partner: no-policy-found, 2 good)."""
    return {"day": day, "policies": [
        {"policy": {"policy-type": "sts", "policy-domain": "woodgrove.test",
                    "policy-string": POLICY_TEXT,
                    "mx-host": ["mx1.woodgrove.test", "*.woodgrove.test"]},
         "summary": {"total-successful-session-count": 7, "total-failure-session-count": 3},
         "failure-details": [
             {"result-type": "certificate-host-mismatch", "sending-mta-ip": "127.0.0.1",
              "receiving-mx-hostname": "mx1.woodgrove.test", "receiving-ip": "127.0.0.90",
              "failed-session-count": 2},
             {"result-type": "starttls-not-supported", "receiving-mx-hostname":
              "mx2.woodgrove.test", "failed-session-count": 1}]},
        {"policy": {"policy-type": "no-policy-found", "policy-domain": "fabrikam.test"},
         "summary": {"total-successful-session-count": 2, "total-failure-session-count": 0},
         "failure-details": []}]}


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def parts_cte(msg):
    return [p["Content-Transfer-Encoding"] for p in msg.iter_parts()]


def validate(tc, report):
    """Schema check with date-time really checked (Debian lacks rfc3339-validator)."""
    fc = jsonschema.FormatChecker()

    @fc.checks("date-time", raises=ValueError)
    def _dt(s):
        return not isinstance(s, str) or ("T" in s and bool(datetime.datetime.fromisoformat(s)))
    errs = list(jsonschema.Draft7Validator(SCHEMA, format_checker=fc).iter_errors(report))
    tc.assertEqual(errs, [], "report does not validate: %s" % [e.message for e in errs])


class SchemaTest(unittest.TestCase):
    """The schema copy is closed: a misspelled optional key fails validation."""

    def test_misspelled_key_fails(self):
        day = day_name(-1)
        rep = {"organization-name": "O", "contact-info": "c@x.test", "report-id": "r",
               "date-range": {"start-datetime": day + "T00:00:00Z",
                              "end-datetime": day + "T23:59:59Z"},
               "policies": seed_day(day)["policies"][:1]}
        validate(self, rep)
        rep["policies"][0]["failure-details"][0]["failure-reason"] = "x"
        v = jsonschema.Draft7Validator(SCHEMA)
        self.assertEqual([e.validator for e in v.iter_errors(rep)], ["additionalProperties"])


class TlsRptTest(PkiMixin, DeliveryTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cert = server_cert(cls.pki, "tlsrpt-https", ["tlsrpt.woodgrove.test"])

    def setUp(self):
        super().setUp()
        self.start_dns(
            txt("_smtp._tls.woodgrove.test", "v=TLSRPTv1; rua=mailto:%s,%s" % (RUA_MAIL, RUA_URL)),
            mx("reports.test", "mx.reports.test", 10), host("mx.reports.test", SINK_IP),
            host("tlsrpt.woodgrove.test", HTTPS_IP))
        self.sink = self.sink(SINK_IP)
        self.https = PolicyServer(self, HTTPS_IP, {}, *self.cert)

    def relay(self, days, transport=None):
        """domsecd with tlsrpt_directory holding days {name: day}, not yet started."""
        tr = {"tlsrpt_sender": SENDER, "tlsrpt_organization_name": "Snd Test Org",
              "tlsrpt_contact_info": "tls-admin@snd.test",
              "tlsrpt_private_addresses": "yes",       # the https rua is on 127.0.0.82
              "mta_sts_trusted_ca_file": self.p("trusted-ca.pem")}
        tr.update(transport or {})
        d = self.start_relay(transport=tr, start=False)
        self.tdir = os.path.join(d.queue_dir, "tlsrpt")
        os.makedirs(self.tdir, 0o700)
        uid, gid = service_ids()
        for p in (d.queue_dir, self.tdir):
            os.chown(p, uid, gid)
        for name, day in days.items():
            path = os.path.join(self.tdir, name + ".json")
            with open(path, "w") as f:
                json.dump(day, f)
            os.chown(path, uid, gid)
        return d

    def tlsrpt(self, d, *args, status=0):
        p = subprocess.run([domsec_exe(), "-c", d.config_path, "--socket", d.control_socket,
                            "tlsrpt"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=200)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, status, "domsec tlsrpt %s: %s%s"
                         % (" ".join(args), out, p.stderr.decode()))
        return out

    def check_woodgrove(self, rep, day):
        validate(self, rep)
        self.assertEqual(rep["organization-name"], "Snd Test Org")
        self.assertEqual(rep["contact-info"], "tls-admin@snd.test")
        self.assertEqual(rep["date-range"], {"start-datetime": day + "T00:00:00Z",
                                             "end-datetime": day + "T23:59:59Z"})
        self.assertEqual(len(rep["policies"]), 1, rep)
        pol = rep["policies"][0]
        self.assertEqual(pol["policy"], {"policy-type": "sts", "policy-domain": "woodgrove.test",
                                         "policy-string": POLICY_TEXT,
                                         "mx-host": ["mx1.woodgrove.test", "*.woodgrove.test"]})
        self.assertEqual(pol["summary"], {"total-successful-session-count": 7,
                                          "total-failure-session-count": 3})
        kinds = {f["result-type"]: f for f in pol["failure-details"]}
        self.assertEqual(kinds["certificate-host-mismatch"]["failed-session-count"], 2)
        self.assertEqual(kinds["certificate-host-mismatch"]["receiving-ip"], "127.0.0.90")
        self.assertEqual(kinds["starttls-not-supported"]["receiving-mx-hostname"],
                         "mx2.woodgrove.test")

    def report_mail(self, d, qid):
        self.wait_delivered(d, qid, "<%s>" % RUA_MAIL, ip=SINK_IP)
        got = [x for x in self.sink.dumps() if "<%s>" % RUA_MAIL in x.rcpts]
        self.assertTrue(got, self.sink.dumps())
        self.assertEqual(got[-1].sender, "<%s>" % SENDER)
        return email.message_from_bytes(got[-1].message, policy=email.policy.default)

    def test_send_by_mail_and_https(self):
        # A day that is over (the day before yesterday: the daily pass does not take it).
        today = day_name(-2)
        d = self.relay({today: seed_day(today)})
        d.start()
        out = self.tlsrpt(d, "send", "--day", today)
        m = re.search(r"^woodgrove.test sent: mailto:%s queued id=([0-9A-F]{16}); %s posted "
                      r"status=200$" % (re.escape(RUA_MAIL), re.escape(RUA_URL)), out, re.M)
        self.assertIsNotNone(m, out)
        self.assertRegex(out, r"(?m)^fabrikam.test not sent: _smtp._tls.fabrikam.test: "
                              r"no TLSRPT record$")

        # The mail: RFC 8460 5.3.
        msg = self.report_mail(d, m.group(1))
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        self.assertEqual(msg["TLS-Report-Domain"], "woodgrove.test")
        submitter = msg["TLS-Report-Submitter"]
        self.assertTrue(submitter)
        self.assertEqual(msg["From"].addresses[0].addr_spec, SENDER)
        self.assertEqual(msg["To"].addresses[0].addr_spec, RUA_MAIL)
        self.assertTrue(msg["Date"].datetime)
        self.assertRegex(msg["Message-ID"], r"^<[0-9A-F]{16}\.[^<>@\s]+@[^<>@\s]+>$")
        self.assertEqual(msg["MIME-Version"], "1.0")
        # RFC 8460 5.3: delivered despite TLS failures (RFC 8689 4.2.2), and the queue
        # file says so, so no MTA-STS policy holds it back.
        self.assertEqual(msg["TLS-Required"], "No")
        self.assertEqual(parts_cte(msg), ["7bit", "base64"])
        sm = re.fullmatch(r"Report Domain: woodgrove\.test Submitter: (\S+) Report-ID: <(\S+)>",
                          msg["Subject"])
        self.assertIsNotNone(sm, msg["Subject"])
        self.assertEqual(sm.group(1), submitter)
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "application/tlsrpt+gzip"])
        start = int(datetime.datetime.fromisoformat(today + "T00:00:00+00:00").timestamp())
        self.assertRegex(parts[1].get_filename(), r"^%s!woodgrove\.test!%d!%d!\w+\.json\.gz$"
                         % (re.escape(submitter), start, start + 86399))
        raw = parts[1].get_content()
        self.assertEqual(raw[:2], b"\x1f\x8b", "not gzip")
        rep = json.loads(gzip.decompress(raw))
        self.check_woodgrove(rep, today)
        self.assertEqual(rep["report-id"], sm.group(2))

        # The POST: the same report.
        post = self.https.wait_requests(1, "POST")[0]
        self.assertEqual(post.path, "/v1/report")
        self.assertEqual(post.headers["Content-Type"], "application/tlsrpt+gzip")
        prep = json.loads(gzip.decompress(post.body))
        self.check_woodgrove(prep, today)
        self.assertEqual(prep["report-id"], rep["report-id"])

        # Sent once: a second send leaves it out; --again sends it once more.
        out = self.tlsrpt(d, "send", "--day", today, "woodgrove.test")
        self.assertIn("nothing to send for woodgrove.test", out)
        out = self.tlsrpt(d, "send", "--day", today, "--again", "woodgrove.test")
        self.assertRegex(out, r"(?m)^woodgrove.test sent: ")
        posts = self.https.wait_requests(2, "POST")
        self.assertEqual(json.loads(gzip.decompress(posts[1].body))["report-id"], rep["report-id"])
        with open(os.path.join(self.tdir, today + ".sent")) as f:
            sent = json.load(f)
        self.assertEqual(sorted(sent), ["woodgrove.test"])
        self.assertEqual(sent["woodgrove.test"]["report-id"], rep["report-id"])

        # Without the daemon: show prints the same report from the file.
        d.stop()
        shown = json.loads(self.tlsrpt(d, "show", "--day", today, "woodgrove.test"))
        self.check_woodgrove(shown, today)
        self.assertEqual(shown["report-id"], rep["report-id"])
        both = json.loads(self.tlsrpt(d, "show", "--day", today))
        self.assertEqual([r["policies"][0]["policy"]["policy-domain"] for r in both],
                         ["fabrikam.test", "woodgrove.test"])
        for r in both:
            validate(self, r)
        self.tlsrpt(d, "show", "--day", today, "nowhere.test", status=1)

    def silent_dns(self, domain):
        """_smtp._tls lookups under domain go to a socket that never answers; returns a
        function telling whether a query for it arrived."""
        hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(hole.close)
        hole.bind(("127.0.0.86", 0))
        hole.setblocking(False)
        self.dns.replace(self.dns.records + ["--server=/%s/127.0.0.86#%d"
                                             % (domain, hole.getsockname()[1])])

        def asked():
            try:
                return domain.split(".")[0].encode() in hole.recv(4096)
            except BlockingIOError:
                return False
        return asked

    def slow_relay(self):
        """A started domsecd whose day (the day before yesterday) has woodgrove.test and
        slow.test, whose _smtp._tls lookup never gets an answer."""
        asked = self.silent_dns("slow.test")
        day = day_name(-2)
        seed = seed_day(day)
        seed["policies"][1]["policy"]["policy-domain"] = "slow.test"
        d = self.relay({day: seed})
        d.start()
        return asked, day, d

    def send_cli(self, d, *args):
        p = subprocess.Popen([domsec_exe(), "-c", d.config_path, "--socket", d.control_socket,
                              "tlsrpt", "send"] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def test_recorded_per_domain_one_send_a_day(self):
        """A domain is recorded as sent (DAY.sent.log) as soon as its report is taken,
        not at the end of the pass: a crash later does not send it again. A second
        send of the same day waits for the first, so it never sends a domain twice."""
        asked, day, d = self.slow_relay()
        first = self.send_cli(d, "--day", day)
        wait_until(asked, 20, "the _smtp._tls.slow.test query at the silent server")
        log = os.path.join(self.tdir, day + ".sent.log")
        wait_until(lambda: "woodgrove.test" in read_text(log), 20,
                   "woodgrove.test recorded while slow.test is still looked up")
        self.assertFalse(os.path.exists(os.path.join(self.tdir, day + ".sent")))
        second = self.send_cli(d, "--day", day, "woodgrove.test")
        out1 = first.communicate(timeout=60)[0].decode()
        out2 = second.communicate(timeout=60)[0].decode()
        self.assertRegex(out1, r"(?m)^woodgrove.test sent: ")
        self.assertRegex(out1, r"(?m)^slow.test not sent: ")
        self.assertIn("nothing to send for woodgrove.test", out2)
        self.assertEqual(len(self.https.wait_requests(1, "POST")), 1)
        # A crash: what DAY.sent.log holds is not sent again after the restart.
        os.unlink(os.path.join(self.tdir, day + ".sent"))
        d.kill9()
        d.start()
        out = self.tlsrpt(d, "send", "--day", day, "woodgrove.test")
        self.assertIn("nothing to send for woodgrove.test", out)
        self.assertEqual(len(self.https.posts()), 1)

    def test_stop_while_send_waits_for_dns(self):
        """A stop while a send waits for _smtp._tls.D (its DNS server never answers):
        the lookup is cancelled, the send ends "stopping", domsecd exits 0 (the
        recorder used to be freed under the pending lookup: SIGSEGV or ASan)."""
        asked, day, d = self.slow_relay()
        cli = self.send_cli(d, "--day", day, "slow.test")
        wait_until(asked, 20, "the _smtp._tls.slow.test query at the silent server")
        self.assertEqual(d.stop(), 0, d.log())
        cli.communicate(timeout=30)
        self.assertRegex(d.log(), r"report day=%s domain=slow\.test id=\S+ not-sent" % day)
        self.assertNotRegex(d.log(), r"panic|AddressSanitizer")
        self.assertFalse(os.path.exists(os.path.join(self.tdir, day + ".sent")))

    def test_private_rua_refused(self):
        """By default an https rua whose host has only loopback or private addresses is
        not POSTed to (a hostile record cannot aim our POST at the inside); the
        mailto: rua still gets the report."""
        day = day_name(-2)
        d = self.relay({day: seed_day(day)}, transport={"tlsrpt_private_addresses": "no"})
        d.start()
        out = self.tlsrpt(d, "send", "--day", day, "woodgrove.test")
        self.assertIn("%s not posted: the host has only loopback, link-local or private "
                      "addresses" % RUA_URL, out)
        self.assertRegex(out, r"(?m)^woodgrove.test sent: mailto:")
        self.assertEqual(self.https.posts(), [])

    def test_unreadable_day_kept(self):
        """A day file that cannot be parsed is renamed out of the way at the start and
        never written over (today's counts start again)."""
        today = day_name()
        d = self.relay({})
        path = os.path.join(self.tdir, today + ".json")
        with open(path, "w") as f:
            f.write('{"day": "%s", "policies": [ truncated' % today)
        d.start()
        d.wait_log(d.prefix() + r"error tlsrpt cannot read day=%s dir=\S+: not JSON .*: kept as "
                   r"\S+\.json\.unreadable\.\d+" % today, 20)
        self.assertEqual(d.stop(), 0)
        kept = [n for n in os.listdir(self.tdir) if n.startswith(today + ".json.unreadable.")]
        self.assertEqual(len(kept), 1, os.listdir(self.tdir))
        self.assertIn("truncated", read_text(os.path.join(self.tdir, kept[0])))

    def test_today_and_future(self):
        """Today's counts so far can be sent (a test) but are never recorded as sent, so
        the daily pass still sends the whole day; a day not begun is refused."""
        today = day_name()
        d = self.relay({today: seed_day(today)})
        d.start()
        out = self.tlsrpt(d, "send", "--day", today, "woodgrove.test")
        self.assertRegex(out, r"(?m)^woodgrove.test sent: ")
        self.assertIn("not recorded as sent", out)
        self.assertFalse(os.path.exists(os.path.join(self.tdir, today + ".sent")))
        self.tlsrpt(d, "send", "--day", day_name(1), status=2)   # refused: not begun
        self.assertEqual(self.https.posts()[1:], [])

    def test_daily_pass_once(self):
        yday = day_name(-1)
        d = self.relay({yday: seed_day(yday)}, transport={"tlsrpt_send_delay": "0s"})
        d.start()
        d.wait_log(d.prefix() + r"info tlsrpt report day=%s domain=woodgrove.test id=\S+ "
                   r"sent" % yday, 60)
        posts = self.https.wait_requests(1, "POST")
        self.check_woodgrove(json.loads(gzip.decompress(posts[0].body)), yday)
        wait_until(lambda: os.path.exists(os.path.join(self.tdir, yday + ".sent")), 10,
                   "DAY.sent")
        mails = lambda: [x for x in self.sink.dumps() if "<%s>" % RUA_MAIL in x.rcpts]
        wait_until(lambda: len(mails()) == 1, 30, "the report mail at the sink")
        d.stop()
        d.start()
        # The pass runs again at start: fabrikam.test (no TLSRPT record, so never
        # recorded as sent) is looked at again, woodgrove.test is not sent again.
        d.wait_log(d.prefix() + r"info tlsrpt report day=%s domain=fabrikam.test id=\S+ "
                   r"not-sent" % yday, 60)
        self.assertNotRegex(d.log(), r"report day=%s domain=woodgrove.test" % yday)
        self.assertEqual(len(self.https.posts()), 1)
        self.assertEqual(len(mails()), 1)


class TlsRptSessionTest(PkiMixin, DeliveryTestCase):
    """The SMTP client's notes end to end, with test_mta_sts_send's peers: a policy
    server for mta-sts.woodgrove.test (which also takes the https report), a domsecd as
    the MX whose certificate names another host."""

    policy_web = sts_send.MtaStsSendTest.policy_web
    mx_daemon = sts_send.MtaStsSendTest.mx_daemon
    relay = sts_send.MtaStsSendTest.relay
    RUA = "https://%s/tlsrpt" % sts_send.POLICY_HOST

    def setUp(self):
        super().setUp()
        # Addresses of our own, so this runs beside test_mta_sts_send (its helpers read
        # the module's globals at call time).
        for k, v in (("MX_IP", "127.0.0.83"), ("WEB_IP", "127.0.0.84")):
            self.addCleanup(setattr, sts_send, k, getattr(sts_send, k))
            setattr(sts_send, k, v)

    def start_dns(self, *records, **kw):
        return super().start_dns(*records, txt("_smtp._tls." + sts_send.DOMAIN,
                                               "v=TLSRPTv1; rua=" + self.RUA), **kw)

    def start_relay(self, start=True, **kw):
        """The relay with today's file already holding fabrikam.test's two sessions (as
        after a restart), so the notes made while it runs must be merged with it."""
        d = super().start_relay(start=False, **kw)
        self.tdir = os.path.join(d.queue_dir, "tlsrpt")
        os.makedirs(self.tdir, 0o700)
        uid, gid = service_ids()
        day = seed_day(day_name())
        day["policies"] = day["policies"][1:]           # fabrikam.test only
        path = os.path.join(self.tdir, day["day"] + ".json")
        with open(path, "w") as f:
            json.dump(day, f)
        for p in (d.queue_dir, self.tdir, path):
            os.chown(p, uid, gid)
        if start:
            d.start()
        return d

    def test_noted_session_is_reported(self):
        web = self.policy_web(mode="testing")
        m = self.mx_daemon(names=("mx.fabrikam.test",))
        a = self.relay(m.port, tlsrpt_private_addresses="yes")     # the rua is on 127.x
        qid = self.submit(a, ["<u@%s>" % sts_send.DOMAIN])
        self.wait_delivered(a, qid, "<u@%s>" % sts_send.DOMAIN, timeout=30)
        a.wait_log(a.prefix() + r"info tlsrpt noted domain=%s policy=sts "
                   r"result=certificate-host-mismatch mx=%s"
                   % (re.escape(sts_send.DOMAIN), re.escape(sts_send.MX_HOST)), 10)
        today = day_name()
        out = subprocess.run([domsec_exe(), "-c", a.config_path, "--socket", a.control_socket,
                              "tlsrpt", "send", "--day", today], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=200).stdout.decode()
        self.assertRegex(out, r"(?m)^%s sent: %s posted status=200$"
                         % (re.escape(sts_send.DOMAIN), re.escape(self.RUA)))
        post = web.wait_requests(1, "POST")[0]
        self.assertEqual(post.path, "/tlsrpt")
        self.assertEqual(post.headers["Content-Type"], "application/tlsrpt+gzip")
        rep = json.loads(gzip.decompress(post.body))
        validate(self, rep)
        self.assertEqual(len(rep["policies"]), 1, rep)
        pol = rep["policies"][0]
        self.assertEqual(pol["policy"], {
            "policy-type": "sts", "policy-domain": sts_send.DOMAIN,
            "policy-string": sts_policy("testing", [sts_send.MX_HOST], 86400).split("\r\n")[:-1],
            "mx-host": [sts_send.MX_HOST]})
        self.assertEqual(pol["summary"], {"total-successful-session-count": 0,
                                          "total-failure-session-count": 1})
        f = pol["failure-details"]
        self.assertEqual(len(f), 1, f)
        self.assertEqual(f[0]["result-type"], "certificate-host-mismatch")
        self.assertEqual(f[0]["receiving-mx-hostname"], sts_send.MX_HOST)
        self.assertEqual(f[0]["receiving-ip"], "127.0.0.83")
        self.assertTrue(f[0]["sending-mta-ip"].startswith("127."), f[0])
        self.assertEqual(f[0]["failed-session-count"], 1)
        self.assertTrue(f[0].get("failure-reason-code"), f[0])     # why, for the domain owner
        # At the stop the day is written: the file's counts and the session's, merged.
        self.assertEqual(a.stop(), 0)
        with open(os.path.join(self.tdir, today + ".json")) as fh:
            day = json.load(fh)
        got = {p["policy"]["policy-domain"]: p["summary"] for p in day["policies"]}
        self.assertEqual(got, {"fabrikam.test": {"total-successful-session-count": 2,
                                                 "total-failure-session-count": 0},
                               sts_send.DOMAIN: {"total-successful-session-count": 0,
                                                 "total-failure-session-count": 1}})


if __name__ == "__main__":
    unittest.main()
