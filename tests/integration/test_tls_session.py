"""A mutual-TLS session after the handshake (issue 7: memory of idle sessions).
tls_conn releases wolfSSL's handshake arrays and its own buffers once a session
is idle; the session must go on: three messages on one TLS connection, each
queued, then QUIT answered 221 and the TLS layer closed with close_notify (a
ragged TCP close would raise here).  After a burst of connections the daemon
gives the freed heap back and says so in its log."""

import re
import ssl
import unittest

from domsec_harness import R, DomsecTestCase, queued_id
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"


class TlsSessionTest(PkiMixin, DomsecTestCase):

    def daemon(self, **conn):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        opts.update(conn)
        return self.start_daemon(connectors=[("Inet", opts)], transport=self.tls_transport(
            self.store("relay"), tls_receive_domain_secure_list=PARTNER))

    def partner_session(self, d):
        """EHLO, STARTTLS with partner-ok's certificate, EHLO; ragged EOFs raise."""
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertReply(c.cmd("STARTTLS"), "220 2.0.0 SMTP server ready")
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        ctx.load_cert_chain(self.p("partner-ok.pem"), self.p("partner-ok.key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN,
                                 suppress_ragged_eofs=False)
        self.assertEqual(c.cmd("EHLO mail.%s" % PARTNER).code, 250)
        return c

    def test_three_messages_then_quit_with_close_notify(self):
        d = self.daemon()
        c = self.partner_session(d)
        qids = []
        for i in range(3):
            r = c.transaction("<a@%s>" % PARTNER, ["<u@a.test>"],
                              b"Subject: message %d\r\n\r\nbody %d\r\n" % (i, i))
            self.assertEqual(r.code, 250, r)
            qids.append(queued_id(r, RELAY_FQDN))
        self.assertEqual(len(set(qids)), 3)
        for i, qid in enumerate(qids):
            self.assertIn(b"body %d" % i, d.read_message(qid).message)
        r = c.cmd("QUIT")
        self.assertEqual(r.code, 221, r)
        # close_notify reads as b"" here; a TCP close without it raises SSLEOFError.
        self.assertEqual(c.sock.recv(100), b"")
        c.close()
        d.wait_log(d.prefix() + r"info smtpd \S+ disconnect from=\S+ reason=\S+ messages=3$")

    def test_heap_trimmed_after_a_burst(self):
        d = self.daemon(max_inbound_connection_per_source="200")
        n = 80                          # above RELAY_LIMITS_BURST_DROP (64)
        mark = d.log_mark()
        cs = []
        for _ in range(n):
            c = d.connect()
            c.reply()
            cs.append(c)
        tls = self.partner_session(d)   # one of them in TLS: the workers' ECC caches
        for c in cs:
            c.expect("QUIT", R["quit"])
            c.close()
        tls.expect("QUIT", R["quit"])
        tls.close()
        m = d.wait_log(d.prefix() + r"info server heap trimmed peak=(\d+) connections=(\d+) "
                       r"rss_before_kib=\d+ rss_after_kib=\d+ ms=[\d.]+$", timeout=20, since=mark)
        self.assertGreaterEqual(int(m.group(1)), n)
        self.assertLessEqual(int(m.group(2)), int(m.group(1)) // 2)


if __name__ == "__main__":
    unittest.main()
