"""TLS session resumption on the receive side: a partner that resumes a session
(TLS 1.3 ticket, as Postfix and Exchange do) skips the certificate exchange, so the
verdict must come from the first handshake's chain and today's CRLs.  A resumed
session of a good partner stays domain-secured; an untrusted chain stays refused; a
certificate revoked after the ticket was issued is refused on resumption."""

import os
import re
import shutil
import ssl
import unittest

from domsec_harness import DomsecTestCase
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"


class TlsResumeTest(PkiMixin, DomsecTestCase):

    def daemon(self, crls=("inter.crl", "root.crl"), **transport):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        t = self.tls_transport(self.store("relay"), crls=crls,
                               tls_receive_domain_secure_list=PARTNER, **transport)
        d = self.start_daemon(connectors=[("Inet", opts)], transport=t)
        d.crl_directory = t["crl_directory"]
        return d

    def mail_from(self, d, ctx, session=None):
        """STARTTLS with ctx (resuming `session` if given), MAIL FROM a partner address:
        (reply lines, resumed?, the session to resume next time)."""
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN, session=session)
        self.assertEqual(c.cmd("EHLO mail.%s" % PARTNER).code, 250)   # the ticket came first
        r = c.cmd("MAIL FROM:<a@%s>" % PARTNER)
        out = (r.lines, c.sock.session_reused, c.sock.session)
        c.cmd("QUIT")
        c.close()
        return out

    def client(self, partner):
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        ctx.load_cert_chain(self.p(partner + ".pem"), self.p(partner + ".key"))
        return ctx

    def test_resumed_partner_session_stays_domain_secured(self):
        d = self.daemon()
        ctx = self.client("partner-ok")
        lines, reused, sess = self.mail_from(d, ctx)
        self.assertEqual((lines, reused), ([SECURED_OK], False))
        self.assertTrue(sess.has_ticket, "no session ticket: nothing to resume")
        lines, reused, _ = self.mail_from(d, ctx, sess)
        self.assertTrue(reused, "the session was not resumed")
        self.assertEqual(lines, [SECURED_OK])

    def test_resumed_untrusted_session_stays_refused(self):
        d = self.daemon()
        ctx = self.client("partner-untrusted")
        lines, _, sess = self.mail_from(d, ctx)
        self.assertEqual(lines, [CERT_FAIL])
        lines, reused, _ = self.mail_from(d, ctx, sess)
        self.assertTrue(reused, "the session was not resumed")
        self.assertEqual(lines, [CERT_FAIL])

    def test_certificate_revoked_after_the_ticket_is_refused_on_resumption(self):
        # Last month's CRL does not list partner-revoked yet (and is stale, which
        # revocation_failure = accept lets pass); then today's CRL arrives.
        d = self.daemon(crls=("inter-stale.crl", "root.crl"), revocation_failure="accept")
        ctx = self.client("partner-revoked")
        lines, _, sess = self.mail_from(d, ctx)
        self.assertEqual(lines, [SECURED_OK])
        mark = d.log_mark()
        tmp = os.path.join(d.crl_directory, ".inter.crl.tmp")
        shutil.copy(self.p("inter.crl"), tmp)
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(d.crl_directory, "inter-stale.crl"))
        d.wait_log(d.prefix() + r"info crl published crls=\d+$", since=mark)
        lines, reused, _ = self.mail_from(d, ctx, sess)
        self.assertTrue(reused, "the session was not resumed")
        self.assertEqual(lines, [CERT_FAIL])
        d.wait_log(d.prefix() + r"warning smtpd \S+ domain security refused sender=<a@%s> .*revoked"
                   % re.escape(PARTNER), since=mark)


if __name__ == "__main__":
    unittest.main()
