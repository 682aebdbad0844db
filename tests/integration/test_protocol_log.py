"""Protocol logs and message tracking written by the real daemon (SPEC 5.1, 5.2;
docs/LOGS.md "The rows domsec writes").  Whole sessions are compared, after
normalising the variable parts, with golden files (tests/golden/recv-*.txt,
send-*.txt; regenerate with DOMSEC_GOLDEN_UPDATE=1 and review the diff): the
domain-secured receive and send sessions and every receive/send failure kind.
Key rows and the tracking rows of the contract are also asserted exactly.
Every row of every integration test is also validated by tests/logcheck.py
(domsec_harness.Daemon.cleanup)."""

import os
import re
import ssl
import subprocess
import unittest

from domsec_harness import Daemon, DomsecTestCase
from peers import DeliveryTestCase, host
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.45"
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")

# Variable parts of a row -> fixed text (applied to "data | context").
NORMALISE = [
    (re.compile(r"\b[0-9A-F]{40}\b"), "<THUMBPRINT>"),
    (re.compile(r"\b[0-9A-F]{16};\d{4}-\d\d-\d\dT[\d:.]+Z;(\d+)"), r"<SID>;<START>;\1"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "<DATE>"),
    (re.compile(r"<[0-9A-F]{16}@"), "<<QID>@"),
    (re.compile(r"\[127\.0\.0\.1\]"), "[<IP>]"),
    (re.compile(r"(key exchange algorithm \S+ with strength )\d+"), r"\1<N>"),
    (re.compile(r"\bRecordId [0-9A-F]{16}\b"), "RecordId <QID>"),
    (re.compile(r"( revoked by .* on )\d{4}-\d\d-\d\d\b"), r"\1<DAY>"),
    (re.compile(r"^(> MAIL FROM:<[^>]*> SIZE=)\d+"), r"\1<SIZE>"),  # Received: has dates
    (re.compile(r"\b(127\.\d+\.\d+\.\d+):\d+\b"), r"\1:<PORT>"),
    # wolfSSL's words for a broken handshake depend on where the garbage lands.
    (re.compile(r"(TLS handshake failed: )[^|]*?\(-\d+\)"), r"\1<WOLFSSL ERROR>"),
]
MESSAGE = (b"From: s@contoso.test\r\nTo: u@woodgrovebank.test\r\nSubject: golden\r\n"
           b"Message-ID: <golden@contoso.test>\r\n\r\nHello.\r\n")


def norm_rows(rows, serials=()):
    out = []
    for r in rows:
        text = "%s %s | %s" % (r[6], r[7], r[8])
        for s in serials:
            text = re.sub(r"\b%s\b" % re.escape(s), "<SERIAL>", text)
        for rx, rep in NORMALISE:
            text = rx.sub(rep, text)
        out.append(text)
    return out


def check_golden(tc, name, rows):
    """rows (one whole session) == tests/golden/<name>.txt after normalisation;
    DOMSEC_GOLDEN_UPDATE=1 rewrites the file instead."""
    tc.assertTrue(rows)
    tc.assertEqual(len({r[2] for r in rows}), 1, "not one session")
    tc.assertEqual([int(r[3]) for r in rows], list(range(len(rows))))
    serials = {r[7] for r in rows if r[8] == "Certificate serial number"}
    got = norm_rows(rows, serials)
    path = os.path.join(GOLDEN, name + ".txt")
    if os.environ.get("DOMSEC_GOLDEN_UPDATE"):
        with open(path, "w") as f:
            f.write("\n".join(got) + "\n")
    with open(path) as f:
        want = f.read().splitlines()
    tc.assertEqual(got, want, "%s:\n%s" % (name, "\n".join(got)))
    return got


def sessions(rows):
    """{session id: [rows]} in order."""
    out = {}
    for r in rows:
        out.setdefault(r[2], []).append(r)
    return out


class ReceiveLogTest(PkiMixin, DomsecTestCase):

    def daemon(self, level="verbose", secure="yes", **transport):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": secure,
                "protocol_logging_level": level}
        return self.start_daemon(connectors=[("Inet", opts)], transport=self.tls_transport(
            self.store("relay"), tls_receive_domain_secure_list=PARTNER, **transport))

    def tls_session(self, d, partner=None):
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        if partner:
            ctx.load_cert_chain(self.p(partner + ".pem"), self.p(partner + ".key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO mail.%s" % PARTNER).code, 250)
        return c

    def rows(self, d, kind):
        self.assertEqual(d.stop(), 0)   # close: everything written
        return d.plog_rows(kind)

    def test_secured_receive_matches_golden(self):
        d = self.daemon()
        c = self.tls_session(d, "partner-ok")
        r = c.transaction("<a@%s>" % PARTNER, ["<u@a.test>"],
                          b"From: a@woodgrovebank.test\r\nMessage-ID: <m1@woodgrovebank.test>"
                          b"\r\nSubject: s\r\n\r\nhi\r\n")
        self.assertEqual(r.code, 250)
        c.expect("QUIT", "221 2.0.0 Service closing transmission channel")
        c.wait_closed()
        rows = self.rows(d, "RECV")
        self.assertEqual(len(sessions(rows)), 1)
        self.assertTrue(all(r[1] == rows[0][1] and r[1].endswith("\\Inet") for r in rows))
        self.assertEqual([int(r[3]) for r in rows], list(range(len(rows))))
        check_golden(self, "recv-secured", rows)
        trk = d.plog_rows("MSGTRK")
        rec = [t for t in trk if t[8] == "RECEIVE"]
        self.assertEqual(len(rec), 1, trk)
        t = rec[0]
        self.assertEqual((t[1], t[4], t[7], t[10], t[11], t[14], t[16], t[17], t[18]),
                         ("127.0.0.1", RELAY_FQDN, "SMTP", "<m1@woodgrovebank.test>", "u@a.test",
                          "1", "a@" + PARTNER, "02P:" + PARTNER, "Incoming"))
        ref = [r[7] for r in rows if r[8] == "receiving message"][0]
        self.assertEqual(t[5], ref)

    def refused(self, partner, rule, reply, golden, secure="yes"):
        d = self.daemon(secure=secure)
        c = self.tls_session(d, partner)
        self.assertEqual(c.cmd("MAIL FROM:<a@%s>" % PARTNER).lines, [reply])
        c.expect("QUIT", "221 2.0.0 Service closing transmission channel")
        c.wait_closed()
        rows = self.rows(d, "RECV")
        check_golden(self, golden, rows)
        ctx = [(r[6], r[7], r[8]) for r in rows]
        i = ctx.index(("*", PARTNER, "Message from secure domain '%s' on receive connector "
                       "'Inet' was refused because %s ." % (PARTNER, rule)))
        # The Partner identity line (issue 17) follows the verdict line.
        self.assertEqual(ctx[i + 1][:2], ("*", PARTNER))
        self.assertTrue(ctx[i + 1][2].startswith("Partner identity of '%s' (inbound): "
                                                 "policy=global require=ca;" % PARTNER))
        self.assertTrue(ctx[i + 1][2].endswith("; verdict=%s" % rule), ctx[i + 1])
        self.assertEqual(ctx[i + 2], (">", reply, ""))
        return ctx

    def test_refused_no_client_certificate(self):
        ctx = self.refused(None, "NotAuthenticated (no client certificate)",
                           "530 5.7.1 Not authenticated", "recv-no-client-cert")
        self.assertNotIn("Received certificate", [c[2] for c in ctx])

    def test_refused_subject_mismatch(self):
        ctx = self.refused("partner-wrongname", "SubjectMismatch",
                           "454 4.7.5 Certificate validation failure", "recv-subject-mismatch")
        self.assertIn(("*", "Valid", "Chain validation status"), ctx)

    def test_refused_revoked(self):
        ctx = self.refused("partner-revoked", "CertificateValidationFailure (Revoked)",
                           "454 4.7.5 Certificate validation failure", "recv-revoked")
        self.assertIn(("*", "Revoked", "Chain validation status"), ctx)
        self.assertTrue([c for c in ctx if c[2] == "Revocation status"
                         and c[1].startswith("revoked")], ctx)

    def test_refused_domain_secure_disabled(self):
        ctx = self.refused("partner-ok", "DomainSecureDisabled",
                           "451 4.7.3 The admin has temporarily disallowed this secure domain",
                           "recv-domain-secure-disabled", secure="no")
        # Not a domain-secure connector: no client certificate is asked for.
        self.assertNotIn("Received certificate", [c[2] for c in ctx])

    def test_handshake_failure_row(self):
        d = self.daemon()
        c = d.connect()
        c.reply()
        c.cmd("EHLO client.example.org")
        c.cmd("STARTTLS")
        c.send(b"\x16\x03\x01\x00\x05hello")  # not a ClientHello
        c.wait_closed()
        rows = self.rows(d, "RECV")
        self.assertTrue([r for r in rows if r[6] == "*"
                         and r[8].startswith("TLS negotiation failed with error ")],
                        [r[6:] for r in rows])
        self.assertEqual(rows[-1][6:], ["-", "", "SenderDisconnected"])
        check_golden(self, "recv-handshake-failure", rows)

    def test_level_none_writes_no_rows(self):
        d = self.daemon(level="none")
        c = self.tls_session(d, "partner-ok")
        self.assertEqual(c.transaction("<a@%s>" % PARTNER, ["<u@a.test>"], b"hi\r\n").code, 250)
        c.cmd("QUIT")
        self.assertEqual(self.rows(d, "RECV"), [])
        # The tracking log is not per connector: the message is still tracked
        # (after the CONFIG row of the start).
        self.assertEqual([t[8] for t in d.plog_rows("MSGTRK")][:2], ["CONFIG", "RECEIVE"])


class SendLogTest(PkiMixin, DeliveryTestCase):

    def partner(self, cert="partner-ok"):
        conn = {"bindings": PARTNER_IP + ":{port}", "fqdn": "mail." + PARTNER,
                "auth_mechanism": "tls", "domain_secure_enabled": "yes"}
        if cert != "partner-ok":        # serve it whatever it names: pin its thumbprint
            out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                                  os.path.join(self.pki, cert + ".pem")],
                                 stdout=subprocess.PIPE, check=True).stdout.decode()
            conn["tls_certificate"] = out.strip().split("=", 1)[1].replace(":", "")
        d = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store(cert),
                                                tls_receive_domain_secure_list="contoso.test"))
        d.start()
        return d

    def deferred_session(self, port, golden):
        """Submit to the partner at PARTNER_IP:port, wait for the deferral and compare the
        first send session with its golden file; the session's rows."""
        a = self.domain_secure_relay(PARTNER, PARTNER_IP, port)
        qid = self.submit(a, ["<u@%s>" % PARTNER], MESSAGE, sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"info \S+ \S+ deferred id=%s" % qid, 30)
        self.assertEqual(a.stop(), 0)
        first = list(sessions(a.plog_rows("SEND")).values())[0]
        self.assertEqual(first[0][4], "")       # attempting to connect: no local endpoint yet
        check_golden(self, golden, first)
        return a, first

    def test_domain_secured_send_rows(self):
        b = self.partner()
        a = self.domain_secure_relay(PARTNER, PARTNER_IP, b.port)
        qid = self.submit(a, ["<u@%s>" % PARTNER], MESSAGE, sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"info smtp \S+ delivered id=%s" % qid, 30)
        self.assertEqual(a.stop(), 0)
        rows = a.plog_rows("SEND")
        check_golden(self, "send-secured", rows)
        ctx = [(r[6], r[7], r[8]) for r in rows]
        self.assertEqual(ctx[0], ("*", "", "attempting to connect"))
        self.assertEqual(rows[0][4], "")
        self.assertEqual(ctx[1], ("+", "", ""))
        heads = [c[2] for c in ctx if c[0] == "*" and c[1] == ""]
        for h in ("Sending certificate", "Remote certificate", "Secure domain certificate"):
            self.assertIn(h, heads)
        tls = [h for h in heads if h.startswith("TLS protocol ")]
        self.assertEqual(len(tls), 1)
        self.assertRegex(tls[0], r"^TLS protocol SP_PROT_TLS1_[23]_CLIENT negotiation succeeded "
                         r"using bulk encryption algorithm CALG_AES_(128|256) with strength "
                         r"(128|256) bits, MAC hash algorithm CALG_SHA_(256|384) with strength "
                         r"0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength "
                         r"255 bits$")          # X25519: our client offers it first
        self.assertIn(("*", PARTNER, "Message to secure domain '%s' on send connector 'Partner' "
                       "was domain-secured" % PARTNER), ctx)
        self.assertIn(("*", "Valid", "Chain validation status"), ctx)
        self.assertTrue([c for c in ctx if re.match(r"sending message with RecordId %s and "
                                                    r"InternetMessageId <" % qid, c[2])], ctx)
        self.assertEqual(ctx[-1], ("-", "", "Local"))
        trk = [t for t in a.plog_rows("MSGTRK") if t[8] == "SEND"]
        self.assertEqual(len(trk), 1)
        self.assertEqual((trk[0][9], trk[0][11], trk[0][17], trk[0][18]),
                         (qid, "u@" + PARTNER, "02P:" + PARTNER, "Originating"))

    def test_tls_not_offered_failure_row_and_defer(self):
        self.peer(PARTNER_IP)                   # no STARTTLS
        a, rows = self.deferred_session(self.P, "send-tls-not-offered")
        ctx = [(r[6], r[7], r[8]) for r in rows]
        self.assertIn(("*", "", "Message to secure domain '%s' on send connector 'Partner' "
                       "failed because TLS was not offered ." % PARTNER), ctx)
        d = [t for t in a.plog_rows("MSGTRK") if t[8] == "DEFER"]
        self.assertTrue(d)
        self.assertEqual(d[0][11], "u@" + PARTNER)
        self.assertIn("STARTTLS is required to send mail", d[0][12])

    def test_wrong_server_name_session(self):
        b = self.partner(cert="partner-wrongname")      # server certificate: mail.fabrikam.test
        a, rows = self.deferred_session(b.port, "send-subject-mismatch")
        ctx = [(r[6], r[7], r[8]) for r in rows]
        self.assertTrue([c for c in ctx if c[0] == "*" and c[2].startswith(
            "Message to secure domain '%s' on send connector 'Partner' failed because "
            % PARTNER)], ctx)

    def test_tls_handshake_failure_session(self):
        self.peer(PARTNER_IP, starttls="220 2.0.0 Ready to start TLS")   # then garbage
        a, rows = self.deferred_session(self.P, "send-handshake-failure")
        self.assertTrue([r for r in rows if r[6] == "*" and r[7] == ""
                         and r[8].startswith("TLS negotiation failed with error ")],
                        [r[6:] for r in rows])

    def test_bounce_fail_and_dsn_rows(self):
        self.start_dns(host(PARTNER, PARTNER_IP))
        self.peer(PARTNER_IP, on_rcpt=lambda *a: "550 5.1.1 User unknown")
        a = self.start_relay()
        qid = self.submit(a, ["<u@%s>" % PARTNER])
        a.wait_log(a.prefix() + r"info queue (\S+ )?dsn id=", 30)
        self.assertEqual(a.stop(), 0)
        trk = a.plog_rows("MSGTRK")
        ev = [t[8] for t in trk]
        self.assertIn("FAIL", ev, trk)
        self.assertIn("DSN", ev, trk)
        dsn = [t for t in trk if t[8] == "DSN"][0]
        self.assertEqual(dsn[15], qid)


if __name__ == "__main__":
    unittest.main()
