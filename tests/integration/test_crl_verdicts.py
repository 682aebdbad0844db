"""Revocation checking with CRLs from crl_directory (SPEC 6.3; issue 5): a revoked
partner certificate is refused inbound with 454 4.7.5 and defers outbound mail; a
revoked intermediate fails the chain; a stale CRL is "revocation unknown", which
fails transiently under revocation_failure = fail and passes, logged, under accept;
a CRL signed by the wrong key is ignored.  The CRLs, certificates and the partner
clients come from tests/pki/make-pki.sh, Python's ssl (OpenSSL) and a second
domsecd; no CRL is fetched (crl_fetch = no)."""

import re
import unittest

from domsec_harness import DomsecTestCase, Daemon
from peers import DeliveryTestCase, RX_ID
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.46"
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"
GOOD_CRLS = ("inter.crl", "root.crl", "inter2.crl")


class CrlReceiveTest(PkiMixin, DomsecTestCase):
    """The partner is the client: the verdict is given at MAIL FROM."""

    def daemon(self, crls=GOOD_CRLS, **transport):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        return self.start_daemon(connectors=[("Inet", opts)], transport=self.tls_transport(
            self.store("relay"), crls=crls, tls_receive_domain_secure_list=PARTNER,
            **transport))

    def refused(self, d, chain):
        return d.wait_log(d.prefix() + r'warning smtpd \S+ domain security refused '
                          r'sender=<a@%s> domain=%s rule="CertificateValidationFailure '
                          r'\(%s\)".*detail="([^"]*)"' % (re.escape(PARTNER), re.escape(PARTNER),
                                                          chain))

    def test_current_crls_secure_an_unrevoked_partner(self):
        d = self.daemon()
        self.assertReply(self.partner_mail_from(d, "partner-ok"), SECURED_OK)
        d.wait_log(d.prefix() + r"info smtpd \S+ domain secured sender=<a@%s> .* "
                   r"revocation=good" % re.escape(PARTNER))

    def test_revoked_client_certificate_is_refused(self):
        d = self.daemon()
        self.assertReply(self.partner_mail_from(d, "partner-revoked"), CERT_FAIL)
        m = self.refused(d, "Revoked")
        self.assertIn("revoked", m.group(1))
        # A revoked certificate fails even when unknown revocation would be accepted.
        d2 = self.daemon(revocation_failure="accept")
        self.assertReply(self.partner_mail_from(d2, "partner-revoked"), CERT_FAIL)

    def test_revoked_intermediate_fails_the_chain(self):
        # partner-under-inter2 is fine itself; its issuer inter2 is revoked in root.crl.
        d = self.daemon()
        self.assertReply(self.partner_mail_from(d, "partner-under-inter2"), CERT_FAIL)
        m = self.refused(d, "Revoked")
        self.assertIn("Intermediate CA 2", m.group(1))

    def test_stale_crl_fails_transiently_under_fail(self):
        d = self.daemon(crls=("inter-stale.crl", "root.crl"), revocation_failure="fail")
        self.assertReply(self.partner_mail_from(d, "partner-ok"), CERT_FAIL)   # 454: retry later
        m = self.refused(d, "RevocationUnknown")
        self.assertIn("stale", m.group(1))

    def test_stale_crl_passes_under_accept_and_the_log_says_so(self):
        d = self.daemon(crls=("inter-stale.crl", "root.crl"), revocation_failure="accept")
        self.assertReply(self.partner_mail_from(d, "partner-ok"), SECURED_OK)
        m = d.wait_log(d.prefix() + r"info smtpd \S+ domain secured sender=<a@%s> .* "
                       r'revocation=unknown \(accepted\) detail="([^"]*)"' % re.escape(PARTNER))
        self.assertIn("stale", m.group(1))

    def test_crl_signed_by_the_wrong_key_is_ignored(self):
        # inter-wrongkey.crl names inter as issuer and lists nothing: were its signature
        # not checked, partner-revoked would pass as good.
        d = self.daemon(crls=("inter-wrongkey.crl", "root.crl"), revocation_failure="fail")
        for partner in ("partner-ok", "partner-revoked"):
            with self.subTest(partner=partner):
                self.assertReply(self.partner_mail_from(d, partner), CERT_FAIL)
        m = self.refused(d, "RevocationUnknown")
        self.assertIn("verify", m.group(1))
        self.assertNotRegex(d.log(), r"domain secured sender=")

    def test_unusable_crls_are_logged_as_warnings(self):
        # A CRL whose signature does not verify, or that is stale, can never be used: a
        # warning.  A current one that verifies is info.
        d = self.daemon(crls=("inter-wrongkey.crl", "inter-stale.crl", "root.crl"))
        crl_dir = d.config_text.split("crl_directory = ")[1].split("\n")[0]
        line = (r"^%s(\w+) crl loaded source=%s/%s issuer=\"CN=Domsec Test %s, O=Domsec Test "
                r"PKI\" this_update=\S+ next_update=\S+ entries=\d+ status=(.*)$")
        m = d.wait_log(line % (d.prefix(), re.escape(crl_dir), "inter-wrongkey.crl",
                               "Intermediate CA"))
        self.assertEqual(m.groups(), ("warning", "BadSignature: not used: its signature does "
                                                 "not verify with the key of its issuer"))
        m = d.wait_log(line % (d.prefix(), re.escape(crl_dir), "inter-stale.crl",
                               "Intermediate CA"))
        self.assertEqual(m.groups(), ("warning", "Stale: not used: its next_update has passed"))
        m = d.wait_log(line % (d.prefix(), re.escape(crl_dir), "root.crl", "Root CA"))
        self.assertEqual(m.groups(), ("info", "Current"))

    def test_no_crl_at_all_is_unknown(self):
        d = self.daemon(crls=())
        self.assertReply(self.partner_mail_from(d, "partner-ok"), CERT_FAIL)
        self.refused(d, "RevocationUnknown")


class CrlSendTest(PkiMixin, DeliveryTestCase):
    """The partner is the server (a second domsecd): the verdict defers the message."""

    def partner(self, cert):
        conn = {"bindings": PARTNER_IP + ":{port}", "fqdn": "mail." + PARTNER,
                "auth_mechanism": "tls", "domain_secure_enabled": "yes"}
        b = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store(cert),
                                                tls_receive_domain_secure_list="contoso.test"))
        b.start()
        return b

    def deferred(self, a, qid):
        return a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                          % (RX_ID, qid, re.escape(PARTNER)), 30).group(1)

    def test_revoked_server_certificate_defers(self):
        b = self.partner("partner-revoked")
        a = self.domain_secure_relay(PARTNER, PARTNER_IP, b.port)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        self.assertIn('responded with: "454 4.7.5 Certificate validation failure."',
                      self.deferred(a, qid))
        a.wait_log(a.prefix() + r"warning smtp %s Message to secure domain '%s' on send connector "
                   r"'Partner' failed because the TLS server certificate chain failed to "
                   r"validate and returned status 'Revoked'" % (RX_ID, re.escape(PARTNER)))
        self.assertNotRegex(b.log(), r"queued id=")

    def test_stale_crl_defers_under_fail(self):
        b = self.partner("partner-ok")
        a = self.domain_secure_relay(PARTNER, PARTNER_IP, b.port,
                                     crls=("inter-stale.crl", "root.crl"))
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        self.assertIn('responded with: "454 4.7.5 Certificate validation failure."',
                      self.deferred(a, qid))
        a.wait_log(a.prefix() + r".*returned status 'RevocationUnknown'")
        self.assertNotRegex(b.log(), r"queued id=")

    def test_stale_crl_delivers_under_accept_and_the_log_says_so(self):
        b = self.partner("partner-ok")
        a = self.domain_secure_relay(PARTNER, PARTNER_IP, b.port,
                                     crls=("inter-stale.crl", "root.crl"),
                                     revocation_failure="accept")
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        m = a.wait_log(a.prefix() + r"info smtp %s secure domain certificate domain=%s .* "
                       r'revocation=unknown \(accepted\) detail="([^"]*)"'
                       % (RX_ID, re.escape(PARTNER)), 30)
        self.assertIn("stale", m.group(1))
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s>"
                   % (RX_ID, qid, re.escape(PARTNER)), 30)

if __name__ == "__main__":
    unittest.main()
