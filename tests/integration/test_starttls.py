"""STARTTLS on the receive side (SPEC 3, 6.2; issue 4): advertised only with a
usable certificate, 220 2.0.0 SMTP server ready, pipelined input after STARTTLS
discarded, EHLO again, require_tls, the certificate chosen by the connector's
fqdn, keys readable by others refused, ESMTPS in the Received header.  Peers:
Python's ssl (OpenSSL), swaks --tls, openssl s_client -starttls smtp."""

import os
import ssl
import subprocess
import unittest

from domsec_harness import R, DomsecTestCase, wait_until
from pki import PkiMixin

RELAY_FQDN = "mail.contoso.test"


class StartTlsTest(PkiMixin, DomsecTestCase):

    def daemon(self, store, **conn):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN}
        opts.update(conn)
        d = self.start_daemon(connectors=[("Inet", opts)], transport=self.tls_transport(store))
        return d

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "trusted-ca.pem"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def ehlo_lines(self, c):
        r = c.cmd("EHLO client.example.org")
        self.assertEqual(r.code, 250, r)
        return r.lines

    def starttls(self, c):
        self.assertReply(c.cmd("STARTTLS"), "220 2.0.0 SMTP server ready")
        c.sock = self.tls_context().wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        return c.sock

    def test_advertised_and_negotiated(self):
        d = self.daemon(self.store("relay"))
        c = d.connect()
        c.reply()
        self.assertIn("250-STARTTLS", self.ehlo_lines(c))
        s = self.starttls(c)
        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        cert = s.getpeercert()          # verified against trusted-ca.pem by OpenSSL
        names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        self.assertIn(RELAY_FQDN, names)
        # RFC 3207: the session starts over; STARTTLS is no longer offered.
        self.assertReply(c.cmd("MAIL FROM:<s@example.org>"), R["hello_first"])
        lines = self.ehlo_lines(c)
        self.assertNotIn("250-STARTTLS", lines)
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<u@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        r = c.cmd("Subject: over TLS\r\n\r\nhello\r\n.")
        self.assertEqual(r.code, 250, r)
        qid = r.lines[0].split("<")[1].split("@")[0]
        q = d.read_message(qid)             # q.data: our Received header + the message
        self.assertIn(b"with ESMTPS", q.data)
        self.assertRegex(q.data.decode(), r"\(version=TLSv1\.[23] cipher=TLS_\S+ bits=\d+\)")
        d.wait_log(d.prefix() + r"info smtpd \S+ TLS established from=127\.0\.0\.1:\d+ "
                   r"version=TLSv1\.[23] cipher=TLS_\S+ bits=\d+ client_cert=no ")

    def test_pipelined_input_after_starttls_is_discarded(self):
        d = self.daemon(self.store("relay"))
        c = d.connect()
        c.reply()
        self.ehlo_lines(c)
        c.send("STARTTLS\r\nRSET\r\n")      # injection: RSET must never run inside TLS
        self.assertReply(c.reply(), "220 2.0.0 SMTP server ready")
        s = self.tls_context().wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        c.sock = s
        s.sendall(b"NOOP\r\n")
        # The first reply inside TLS answers NOOP; a reply to RSET would come first.
        self.assertReply(c.reply(), R["noop"])
        d.wait_log(d.prefix() + r"info smtpd \S+ dropped 6 bytes pipelined after STARTTLS")

    def test_swaks_tls(self):
        d = self.daemon(self.store("relay"))
        r = d.swaks("--tls", "--tls-verify", "--tls-ca-path",
                    os.path.join(self.pki, "trusted-ca.pem"), "--tls-sni", RELAY_FQDN)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("TLS started", r.output)
        self.assertIn(b"with ESMTPS", d.read_message(r.queued_id(fqdn=RELAY_FQDN)).data)

    def test_openssl_s_client_sees_the_selected_certificate(self):
        d = self.daemon(self.store("relay"))
        p = subprocess.run(
            ["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % d.port,
             "-CAfile", os.path.join(self.pki, "trusted-ca.pem"), "-verify_return_error",
             "-servername", RELAY_FQDN, "-brief"],
            input=b"QUIT\r\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("Verification: OK", out)
        self.assertRegex(out, r"Peer certificate: .*CN ?= ?%s" % RELAY_FQDN.replace(".", r"\."))

    def test_no_usable_certificate_means_no_starttls(self):
        d = self.daemon(self.store("partner-wrongname"))     # names mail.fabrikam.test
        c = d.connect()
        c.reply()
        self.assertNotIn("250-STARTTLS", self.ehlo_lines(c))
        self.assertReply(c.cmd("STARTTLS"), R["unknown"])
        d.wait_log(d.prefix() + r"error tls receive connector Inet: no usable certificate for "
                   r"mail\.contoso\.test: .*STARTTLS is not offered")

    def test_key_readable_by_others_is_refused(self):
        d = self.daemon(self.store("relay", mode=0o644))
        c = d.connect()
        c.reply()
        self.assertNotIn("250-STARTTLS", self.ehlo_lines(c))
        d.wait_log(d.prefix() + r"error tls receive connector Inet: no usable certificate .*"
                   r"readable by others")

    def test_require_tls(self):
        d = self.daemon(self.store("relay"), require_tls="yes")
        c = d.connect()
        c.reply()
        self.ehlo_lines(c)
        self.assertReply(c.cmd("MAIL FROM:<s@example.org>"),
                         "451 5.7.3 STARTTLS is required to send mail")
        wait_until(lambda: c.closed_by_peer(), 5, "the server to close the connection")
        c2 = d.connect()
        c2.reply()
        self.ehlo_lines(c2)
        self.starttls(c2)
        self.ehlo_lines(c2)
        c2.expect("MAIL FROM:<s@example.org>", R["mail_ok"])

    def test_auth_mechanism_none_never_offers_starttls(self):
        d = self.daemon(self.store("relay"), auth_mechanism="none")
        c = d.connect()
        c.reply()
        self.assertNotIn("250-STARTTLS", self.ehlo_lines(c))


if __name__ == "__main__":
    unittest.main()
