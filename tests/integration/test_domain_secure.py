"""Domain security on the receive side (SPEC 3; issue 4): every row of the MAIL
FROM decision table with its exact reply, the certificate name-match rules through
real handshakes, stamping of a partner's message, and the header firewall that
strips forged X-MS-Exchange-Organization-* headers.  Partner certificates come from
tests/pki/make-pki.sh; clients are Python's ssl (OpenSSL) and swaks."""

import os
import re
import ssl
import time
import unittest

from domsec_harness import R, DomsecTestCase, queued_id
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
SECURED_OK = "250 2.1.0 Sender OK"
NOT_AUTH = "530 5.7.1 Not authenticated"
CERT_FAIL = "454 4.7.5 Certificate validation failure"
DISALLOWED = "451 4.7.3 The admin has temporarily disallowed this secure domain"


class DomainSecureTest(PkiMixin, DomsecTestCase):

    def daemon(self, with_cert=True, **conn):
        store = self.store("relay") if with_cert else self.store()
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        opts.update(conn)
        return self.start_daemon(connectors=[("Inet", opts)], transport=self.tls_transport(
            store, tls_receive_domain_secure_list="%s, eu.%s" % (PARTNER, PARTNER)))

    def tls_session(self, d, partner=None, cert=None):
        """EHLO, STARTTLS (presenting partner NAME.pem/.key with its chain, or the
        certificates of file cert with NAME.key), EHLO."""
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertReply(c.cmd("STARTTLS"), "220 2.0.0 SMTP server ready")
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        if partner:
            ctx.load_cert_chain(cert or self.p(partner + ".pem"), self.p(partner + ".key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO mail.%s" % PARTNER).code, 250)
        return c

    def mail(self, c, sender, want):
        r = c.cmd("MAIL FROM:<%s>" % sender)
        self.assertReply(r, want)
        return r

    # ---- the decision table, in order ---------------------------------------
    def test_row1_connector_not_domain_secure(self):
        d = self.daemon(domain_secure_enabled="no")
        c = self.tls_session(d, "partner-ok")
        self.mail(c, "a@" + PARTNER, DISALLOWED)

    def test_row2_starttls_advertised_but_not_used(self):
        d = self.daemon()
        c = d.session(fqdn=RELAY_FQDN)
        self.mail(c, "a@" + PARTNER, NOT_AUTH)
        c.expect("MAIL FROM:<a@example.org>", R["mail_ok"])    # the session lives on

    def test_row3_starttls_not_advertised(self):
        # A domain-secure connector without a certificate no longer runs at all (fail
        # safe: test_failsafe.py), so no session can reach this row; the row itself
        # (454 4.7.0) is tested in tests/unit/policy_secure_test.c.
        with self.assertRaisesRegex(AssertionError, r"exited with status 1 during start"
                                    r"(.|\n)*\[receive Inet\] \(domain_secure_enabled = yes\) "
                                    r"cannot offer STARTTLS"):
            self.daemon(with_cert=False)

    def test_row4_tls_without_client_certificate(self):
        d = self.daemon()
        c = self.tls_session(d)
        self.mail(c, "a@" + PARTNER, NOT_AUTH)

    def test_row5_certificate_names_do_not_match(self):
        d = self.daemon()
        for partner in ("partner-wrongname", "partner-deep", "partner-toplevel-wild",
                        "partner-suffixwild"):
            with self.subTest(partner=partner):
                c = self.tls_session(d, partner)
                self.mail(c, "a@" + PARTNER, CERT_FAIL)
        d.wait_log(d.prefix() + r'warning smtpd \S+ domain security refused sender=<a@%s> '
                   r'domain=%s rule="SubjectMismatch"' % (re.escape(PARTNER), re.escape(PARTNER)))

    def test_row6_invalid_chains(self):
        d = self.daemon()
        for partner, chain in (("partner-expired", "Expired"), ("partner-notyet", "NotYetValid"),
                               ("partner-selfsigned", "Untrusted"),
                               ("partner-untrusted", "Untrusted"), ("partner-noeku", "BadEku")):
            with self.subTest(partner=partner):
                c = self.tls_session(d, partner)
                self.mail(c, "a@" + PARTNER, CERT_FAIL)
                d.wait_log(d.prefix() + r'.*rule="CertificateValidationFailure \(%s\)"' % chain)

    def test_untrusted_chain_refusal_says_why(self):
        # The refusal of an Untrusted chain carries detail="..." (as a revoked one does):
        # how many certificates the partner sent and where the chain stopped.
        leaf_only = os.path.join(self.store(), "partner-ok-leaf.pem")
        with open(self.p("partner-ok.pem")) as f:
            pem = f.read()
        with open(leaf_only, "w") as f:     # the leaf without its intermediate
            f.write(pem[:pem.index("-----END CERTIFICATE-----") + 26])
        d = self.daemon(protocol_logging_level="verbose")
        inter = "CN=Domsec Test Intermediate CA, O=Domsec Test PKI"
        for partner, cert, detail in (
                ("partner-ok", leaf_only, "partner sent 1 certificate; issuer %s not found"
                 % inter),
                ("partner-selfsigned", None, "partner sent 1 certificate; self-signed "
                 "certificate not in trusted_ca_file"),
                ("partner-untrusted", None, "partner sent 2 certificates; chain does not end at "
                 "a trusted root: CN=Rogue Test Root CA, O=Rogue Test PKI is not in "
                 "trusted_ca_file")):
            with self.subTest(partner=partner):
                mark = d.log_mark()
                c = self.tls_session(d, partner, cert)
                self.mail(c, "a@" + PARTNER, CERT_FAIL)
                m = d.wait_log(d.prefix() + r"(\w+) smtpd \S+ domain security refused "
                               r"sender=<a@%s> (.*)$" % (re.escape(PARTNER)), since=mark)
                self.assertEqual(m.groups(), (
                    "warning", 'domain=%s rule="CertificateValidationFailure (Untrusted)" '
                    'reply="%s" detail="%s"' % (PARTNER, CERT_FAIL, detail)))
        # Exchange's protocol log keeps Exchange's text, without the detail.
        self.assertEqual(d.stop(), 0)   # close: everything written
        rows = [r for r in d.plog_rows("RECV") if "was refused because" in r[8]]
        self.assertEqual({(r[6], r[7], r[8]) for r in rows}, {("*", PARTNER,
            "Message from secure domain '%s' on receive connector 'Inet' was refused because "
            "CertificateValidationFailure (Untrusted) ." % PARTNER)})
        self.assertEqual(len(rows), 3)

    # ---- names that match --------------------------------------------------
    def test_names_that_match(self):
        d = self.daemon()
        for partner, domain in (("partner-ok", PARTNER), ("partner-exact", PARTNER),
                                ("partner-wild", PARTNER), ("partner-cn-only", PARTNER),
                                ("partner-deepwild", "eu." + PARTNER),
                                ("partner-eku-absent", PARTNER)):
            with self.subTest(partner=partner, domain=domain):
                c = self.tls_session(d, partner)
                self.mail(c, "a@" + domain, SECURED_OK)

    def test_not_listed_and_null_sender_are_never_checked(self):
        d = self.daemon()
        c = d.session(fqdn=RELAY_FQDN)                          # no TLS at all
        c.expect("MAIL FROM:<>", R["mail_ok"])
        c.expect("RSET", R["rset"])
        c.expect("MAIL FROM:<a@sub.%s>" % PARTNER, R["mail_ok"])   # subdomains not covered

    # ---- stamping and the header firewall -----------------------------------
    def test_partner_message_is_stamped_and_forgeries_are_stripped(self):
        d = self.daemon()
        c = self.tls_session(d, "partner-ok")
        forged = (b"X-MS-Exchange-Organization-AuthAs: Partner\r\n"
                  b"x-ms-exchange-organization-authdomain: forged.test\r\n"
                  b"X-MS-Exchange-Organization-Classification: x\r\n  folded line\r\n")
        r = c.transaction("<a@%s>" % PARTNER, ["<u@a.test>"],
                          b"Subject: partner\r\n" + forged + b"X-Keep: yes\r\n\r\n"
                          b"X-MS-Exchange-Organization-AuthAs: in the body stays\r\n")
        q = d.read_message(queued_id(r, fqdn=RELAY_FQDN))
        text = q.data.decode()
        head, _, body = text.partition("\r\n\r\n")
        stamps = re.findall(r"^X-MS-Exchange-Organization-[^:]*: [^\r\n]*", head, re.M | re.I)
        self.assertEqual(stamps, [
            "X-MS-Exchange-Organization-AuthSource: %s" % RELAY_FQDN,
            "X-MS-Exchange-Organization-AuthAs: Partner",
            "X-MS-Exchange-Organization-AuthMechanism: 02",
            "X-MS-Exchange-Organization-AuthDomain: %s" % PARTNER], head)
        self.assertNotIn("forged.test", head)
        self.assertNotIn("folded line", head)
        self.assertIn("X-Keep: yes", head)
        self.assertIn("Subject: partner", head)
        self.assertIn("X-MS-Exchange-Organization-AuthAs: in the body stays", body)
        self.assertRegex(head, r"with ESMTPS id \S+\r\n\t\(version=TLSv1\.[23] cipher=\S+ "
                         r"bits=\d+\)\r\n\t\(client certificate \"[^\"]*CN=mail\.%s[^\"]*\" "
                         r"verified for %s\)" % (re.escape(PARTNER), re.escape(PARTNER)))
        d.wait_log(d.prefix() + r"info smtpd \S+ domain secured sender=<a@%s> domain=%s "
                   r'subject="[^"]+" thumbprint=[0-9A-F]{40} revocation=good'
                   % (re.escape(PARTNER), re.escape(PARTNER)))
        self.assertEqual(d.stop(), 0)
        d.wait_log(d.prefix() + r'info stats "Domain Secure Messages Received"=1\s*$')

    def test_forged_stamp_from_an_ordinary_sender_is_stripped(self):
        d = self.daemon()
        c = d.session(fqdn=RELAY_FQDN)
        r = c.transaction("<a@example.org>", ["<u@a.test>"],
                          b"X-MS-Exchange-Organization-AuthAs: Partner\r\nSubject: x\r\n\r\nhi\r\n")
        q = d.read_message(queued_id(r, fqdn=RELAY_FQDN))
        self.assertNotIn(b"X-MS-Exchange-Organization", q.data)
        self.assertIn(b"Subject: x", q.data)

    def test_not_authenticated_is_tarpitted(self):
        # Exchange holds "530 5.7.1 Not authenticated" back (30 s by default); input
        # waits meanwhile, so a pipelined command is answered after it, in order,
        # and the session goes on.
        # (relay_smtpd_flow_test covers the holding and the order without a clock.)
        d = self.daemon(domain_secure_tarpit_interval="300ms")
        c = self.tls_session(d)                 # TLS without a client certificate: row 4
        t0 = time.monotonic()
        c.sock.sendall(b"MAIL FROM:<a@%s>\r\nNOOP\r\n" % PARTNER.encode())
        self.assertReply(c.reply(15.0), NOT_AUTH)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25, "the 530 was not held back")
        self.assertReply(c.reply(15.0), R["noop"])
        d.wait_log(d.prefix() + r'info smtpd \S+ tarpit 300 ms before "530 5\.7\.1 Not '
                   r'authenticated"')
        c.expect("MAIL FROM:<a@example.org>", R["mail_ok"])    # not a partner: no tarpit

    def test_stop_during_the_tarpit_sends_the_reply_then_421(self):
        d = self.daemon(domain_secure_tarpit_interval="5m")
        c = self.tls_session(d)
        c.sock.sendall(b"MAIL FROM:<a@%s>\r\n" % PARTNER.encode())
        d.wait_log(d.prefix() + r'info smtpd \S+ tarpit 300000 ms before "530 ')
        d.terminate()
        self.assertReply(c.reply(15.0), NOT_AUTH)
        self.assertReply(c.reply(15.0), R["shutdown"])
        self.assertEqual(d.wait_exit(), 0)

    def test_client_leaving_during_the_tarpit(self):
        # Input waits during the tarpit, so the session notices the client has gone
        # when the tarpit ends; the held reply is dropped with it.
        d = self.daemon(domain_secure_tarpit_interval="1s")
        c = self.tls_session(d)
        c.sock.sendall(b"MAIL FROM:<a@%s>\r\n" % PARTNER.encode())
        m = d.wait_log(d.prefix() + r'info smtpd (\S+) tarpit 1000 ms before "530 ')
        c.close()
        d.wait_log(d.prefix() + r"info smtpd %s disconnect from=\S+ reason=\S+ messages=0"
                   % m.group(1))
        self.assertReply(self.tls_session(d).cmd("NOOP"), R["noop"])     # still serving
        self.assertEqual(d.stop(), 0)

    def test_swaks_partner_with_client_certificate(self):
        d = self.daemon()
        r = d.swaks("--tls", "--tls-cert", self.p("partner-ok.pem"), "--tls-key",
                    self.p("partner-ok.key"), "--tls-ca-path", self.p("chain.pem"),
                    from_="a@" + PARTNER)
        self.assertEqual(r.returncode, 0, r)
        q = d.read_message(r.queued_id(fqdn=RELAY_FQDN))
        self.assertIn(b"X-MS-Exchange-Organization-AuthDomain: %s" % PARTNER.encode(), q.data)


if __name__ == "__main__":
    unittest.main()
