"""Domain security on the send side (SPEC 4; issue 4): to a domain in
tls_send_domain_secure_list, mail leaves only over TLS where domsec presents its
certificate and the partner's server certificate names the domain and chains to
a trusted CA; otherwise it is deferred with Exchange's queue error and the peer
receives nothing in plaintext.  The partner is a second domsecd (domsec to
domsec, mutual TLS end to end) or a scripted peer without STARTTLS."""

import os
import re
import subprocess
import unittest

from domsec_harness import Daemon
from peers import DeliveryTestCase, RX_ID, host
from pki import PkiMixin

PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.45"


class DomainSecureSendTest(PkiMixin, DeliveryTestCase):

    def relay(self, port, secure=True):
        return self.domain_secure_relay(PARTNER, PARTNER_IP, port, secure)

    def partner(self, cert="partner-ok", leaf_only=False):
        """A second domsecd as woodgrovebank.test, requiring domain security from contoso.test;
        leaf_only: it presents its certificate without the intermediate."""
        conn = {"bindings": PARTNER_IP + ":{port}", "fqdn": "mail." + PARTNER,
                "auth_mechanism": "tls", "domain_secure_enabled": "yes"}
        if cert != "partner-ok":        # serve it whatever it names: pin its thumbprint
            out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                                  os.path.join(self.pki, cert + ".pem")],
                                 stdout=subprocess.PIPE, check=True).stdout.decode()
            conn["tls_certificate"] = out.strip().split("=", 1)[1].replace(":", "")
        store = self.store(cert)
        if leaf_only:
            with open(os.path.join(store, cert + ".pem"), "r+") as f:
                pem = f.read()
                f.seek(0)
                f.truncate()
                f.write(pem[:pem.index("-----END CERTIFICATE-----") + 26])
        d = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)], transport=self.tls_transport(
            store, tls_receive_domain_secure_list="contoso.test"))
        d.start()
        return d

    def test_domsec_to_domsec_mutual_tls(self):
        b = self.partner()
        a = self.relay(b.port)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"info smtp %s secure domain certificate domain=%s "
                   r'subject="[^"]*CN=mail\.%s[^"]*" thumbprint=[0-9A-F]{40}'
                   % (RX_ID, PARTNER.replace(".", r"\."), PARTNER.replace(".", r"\.")))
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> relay=\S+\[%s\]:%d "
                   % (RX_ID, qid, PARTNER.replace(".", r"\."), PARTNER_IP.replace(".", r"\."),
                      b.port), 30)
        # The partner verified our client certificate and stamped the message.
        b.wait_log(b.prefix() + r"info smtpd \S+ TLS established from=127\.0\.0\.1:\d+ "
                   r"version=TLSv1\.[23] \S+ bits=\d+ client_cert=yes chain_code=0")
        m = b.wait_log(b.prefix() + r"info smtpd \S+ queued id=(%s) from=<s@contoso\.test>" % RX_ID)
        data = b.read_message(m.group(1)).data
        self.assertIn(b"X-MS-Exchange-Organization-AuthDomain: contoso.test", data)
        self.assertIn(b"X-MS-Exchange-Organization-AuthAs: Partner", data)
        self.assertEqual(a.stop(), 0)
        a.wait_log(a.prefix() + r'info stats "Domain Secure Messages Sent"=1\s*$')

    def test_next_connection_resumes_the_tls_session(self):
        # connection_cache_time = 0: every message has a connection of its own; the
        # second STARTTLS resumes the first session (no certificates exchanged), and
        # both sides still know and check each other's certificate.
        b = self.partner()
        a = self.domain_secure_relay(PARTNER, PARTNER_IP, b.port, connection_cache_time="0")
        p = re.escape(PARTNER)
        for i, resumed in enumerate(("no", "yes")):
            amark, bmark = a.log_mark(), b.log_mark()
            qid = self.submit(a, ["<u%d@%s>" % (i, PARTNER)], sender="<s@contoso.test>")
            a.wait_log(a.prefix() + r'info smtp %s TLS established to=mail\.%s .* server_cert="[^"]*'
                       r'CN=mail\.%s[^"]*" chain_code=0 resumed=%s$' % (RX_ID, p, p, resumed),
                       since=amark)
            a.wait_log(a.prefix() + r"info smtp %s secure domain certificate domain=%s .* "
                       r"revocation=good$" % (RX_ID, p), since=amark)
            a.wait_log(a.prefix() + r"info smtp %s delivered id=%s " % (RX_ID, qid), 30,
                       since=amark)
            b.wait_log(b.prefix() + r"info smtpd \S+ TLS established from=127\.0\.0\.1:\d+ "
                       r"\S+ \S+ bits=\d+ client_cert=yes chain_code=0 resumed=%s$" % resumed,
                       since=bmark)
            m = b.wait_log(b.prefix() + r"info smtpd \S+ queued id=(%s) from=<s@contoso\.test>"
                           % RX_ID, since=bmark)
            self.assertIn(b"X-MS-Exchange-Organization-AuthAs: Partner",
                          b.read_message(m.group(1)).data)

    def test_partner_without_starttls_is_deferred_never_plaintext(self):
        peer = self.peer(PARTNER_IP)                    # no STARTTLS in its EHLO reply
        a = self.relay(self.P)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                       % (RX_ID, qid, PARTNER.replace(".", r"\.")), 30)
        self.assertEqual(
            m.group(1),
            '451 4.4.0 Primary target IP address responded with: "451 5.7.3 STARTTLS is '
            'required to send mail." Attempted failover to alternate host, but that did not '
            'succeed. Either there are no alternate hosts, or delivery failed to all alternate '
            'hosts. The last endpoint attempted was %s:%d' % (PARTNER_IP, self.P))
        a.wait_log(a.prefix() + r"warning smtp %s Message to secure domain '%s' on send connector "
                   r"'Partner' failed because TLS was not offered \." % (RX_ID, PARTNER))
        verbs = {line.split(" ")[0].upper() for _, _, line in peer.commands}
        self.assertFalse(verbs & {"MAIL", "RCPT", "DATA"}, peer.commands)
        self.assertEqual(a.stop(), 0)
        a.wait_log(a.prefix() + r'info stats "Domain Secure Outbound Session Failures"=[1-9]')

    def test_partner_with_wrong_name_is_deferred(self):
        b = self.partner(cert="partner-wrongname")      # server certificate: mail.fabrikam.test
        a = self.relay(b.port)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                       % (RX_ID, qid, PARTNER.replace(".", r"\.")), 30)
        self.assertIn('responded with: "454 4.7.5 Certificate validation failure."', m.group(1))
        self.assertNotRegex(b.log(), r"queued id=")

    def untrusted_refusal(self, b):
        """Send to partner b, whose chain is Untrusted: deferred; the refusal line."""
        a = self.relay(b.port)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                       % (RX_ID, qid, PARTNER.replace(".", r"\.")), 30)
        self.assertIn('responded with: "454 4.7.5 Certificate validation failure."', m.group(1))
        self.assertNotRegex(b.log(), r"queued id=")
        m = a.wait_log(a.prefix() + r"(\w+) smtp %s (Message to secure domain .*)$" % RX_ID)
        return m.groups()

    def test_partner_with_untrusted_chain_is_deferred(self):
        b = self.partner(cert="partner-untrusted")      # right name, rogue CA
        self.assertEqual(self.untrusted_refusal(b), (
            "warning", "Message to secure domain '%s' on send connector 'Partner' failed "
            "because the TLS server certificate chain failed to validate and returned status "
            "'Untrusted'. rule=\"CertificateValidationFailure (Untrusted)\" detail=\"partner "
            "sent 2 certificates; chain does not end at a trusted root: CN=Rogue Test Root CA, "
            "O=Rogue Test PKI is not in trusted_ca_file\"" % PARTNER))

    def test_partner_without_its_intermediate_is_deferred(self):
        b = self.partner(leaf_only=True)
        self.assertEqual(self.untrusted_refusal(b), (
            "warning", "Message to secure domain '%s' on send connector 'Partner' failed "
            "because the TLS server certificate chain failed to validate and returned status "
            "'Untrusted'. rule=\"CertificateValidationFailure (Untrusted)\" detail=\"partner "
            "sent 1 certificate; issuer CN=Domsec Test Intermediate CA, O=Domsec Test PKI not "
            "found\"" % PARTNER))

    def test_opportunistic_tls_falls_back_to_plaintext(self):
        # Not a listed domain: a STARTTLS refusal, or a broken handshake, must not stop
        # delivery (Postfix's "may" level): the host is retried in plaintext.
        self.start_dns(host("refuses.test", "127.0.0.47"), host("broken.test", "127.0.0.48"))
        refuses = self.peer("127.0.0.47", starttls="454 4.7.0 TLS not available")
        broken = self.peer("127.0.0.48", starttls="220 2.0.0 Ready to start TLS")
        a = self.start_relay(transport=self.tls_transport(self.store("relay")))
        q1 = self.submit(a, ["<u@refuses.test>"])
        q2 = self.submit(a, ["<u@broken.test>"])
        self.wait_delivered(a, q1, "<u@refuses.test>", ip="127.0.0.47")
        self.wait_delivered(a, q2, "<u@broken.test>", ip="127.0.0.48")
        a.wait_log(a.prefix() + r"info smtp %s TLS handshake with broken\.test failed \(.*\): "
                   r"retrying in plaintext" % RX_ID)
        self.assertEqual((refuses.count("<u@refuses.test>"), broken.count("<u@broken.test>")),
                         (1, 1))

    def test_send_connector_require_tls(self):
        # Not a listed domain, but the connector requires TLS: never plaintext.
        self.start_dns(host("plain.test", "127.0.0.49"))
        peer = self.peer("127.0.0.49")                  # no STARTTLS
        a = self.start_relay(internet=False, transport=self.tls_transport(self.store("relay")),
            sends=[("Strict", {"address_spaces": "plain.test", "dns_routing": "yes",
                               "port": str(self.P), "require_tls": "yes"})])
        qid = self.submit(a, ["<u@plain.test>"])
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@plain\.test> '
                       r'reason="(.*)"' % (RX_ID, qid), 30)
        self.assertIn('responded with: "451 5.7.3 STARTTLS is required to send mail."',
                      m.group(1))
        verbs = {line.split(" ")[0].upper() for _, _, line in peer.commands}
        self.assertFalse(verbs & {"MAIL", "RCPT", "DATA"}, peer.commands)

    def test_connector_not_domain_secure(self):
        b = self.partner()
        a = self.relay(b.port, secure=False)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                       % (RX_ID, qid, PARTNER.replace(".", r"\.")), 30)
        self.assertIn('responded with: "451 4.7.3 The admin has temporarily disallowed this '
                      'secure domain."', m.group(1))


if __name__ == "__main__":
    unittest.main()
