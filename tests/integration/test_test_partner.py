"""`domsec test-partner` (issue 13): what domain security would decide for a partner
before it is listed, like posttls-finger and without sending a message.  The partner
is a real second domsecd (mutual TLS, its certificate chosen per test) or a scripted
peer without STARTTLS, found by MX through dnsmasq; our side is only a configuration
file (no domsecd of ours runs).  Each test checks the verdict line, the exit status
and that the partner received no message."""

import json
import os
import re
import subprocess
import unittest

from domsec_harness import Daemon, domsecd_path
from peers import DeliveryTestCase, free_udp_port, host, mx
from pki import PkiMixin

PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.45"
FAILOVER = ('451 4.4.0 Primary target IP address responded with: "%s." Attempted failover '
            'to alternate host, but that did not succeed. Either there are no alternate '
            'hosts, or delivery failed to all alternate hosts. The last endpoint attempted '
            'was %s:%d')


def domsec_exe():
    build = os.environ.get("DOMSEC_BUILD")
    return os.path.join(build, "domsec") if build else \
        os.path.join(os.path.dirname(domsecd_path()), "domsec")


class TestPartnerTest(PkiMixin, DeliveryTestCase):

    def partner(self, cert="partner-ok"):
        """A second domsecd as woodgrovebank.test presenting PKI certificate `cert`."""
        conn = {"bindings": PARTNER_IP + ":{port}", "fqdn": "mail." + PARTNER,
                "auth_mechanism": "tls", "domain_secure_enabled": "yes"}
        if cert != "partner-ok":        # serve it whatever it names: pin its thumbprint
            out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                                  self.p(cert + ".pem")], stdout=subprocess.PIPE,
                                 check=True).stdout.decode()
            conn["tls_certificate"] = out.strip().split("=", 1)[1].replace(":", "")
        d = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store(cert),
                                                tls_receive_domain_secure_list="contoso.test"))
        d.start()
        return d

    def ours(self, port, **transport):
        """Our configuration (not started): [send Partner] to woodgrovebank.test by MX on
        `port`, domain security enabled, the domain NOT listed yet."""
        self.start_dns(mx(PARTNER, "mail." + PARTNER, 10), host("mail." + PARTNER, PARTNER_IP))
        return self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay"), **transport), sends=[("Partner", {
                "address_spaces": PARTNER, "dns_routing": "yes", "port": str(port),
                "fqdn": "mail.contoso.test", "domain_secure_enabled": "yes"})])

    def probe(self, config, *args):
        """Run domsec test-partner; (exit status, stdout, stderr)."""
        r = subprocess.run([domsec_exe(), "-c", config, "test-partner"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def probe_both(self, a, want_status):
        """Text and --json runs; both must exit want_status.  (text, json object)."""
        st, text, err = self.probe(a.config_path, PARTNER)
        self.assertEqual(st, want_status, text + err)
        st, out, err = self.probe(a.config_path, PARTNER, "--json")
        self.assertEqual(st, want_status, out + err)
        j = json.loads(out)
        self.assertEqual(j["exit"], want_status)
        return text, j

    def assertNoMessage(self, b):
        """The partner domsecd saw our EHLOs and QUIT, never a MAIL FROM."""
        self.assertNotRegex(b.log(), r"queued id=")
        self.assertNotRegex(b.log(), r"(?i)MAIL FROM")
        self.assertEqual(b.message_ids(), [])

    def deferred_cert(self, cert, rule):
        b = self.partner(cert)
        a = self.ours(b.port)
        text, j = self.probe_both(a, 1)
        want = FAILOVER % ("454 4.7.5 Certificate validation failure", PARTNER_IP, b.port)
        self.assertIn("verdict    mail to %s would be DEFERRED: %s\n" % (PARTNER, want), text)
        self.assertEqual((j["verdict"], j["reply"]), ("deferred", want))
        self.assertEqual(j["hosts"][0]["rule"], rule)
        self.assertNoMessage(b)
        return text, j

    def test_good_partner_would_be_delivered(self):
        b = self.partner()
        a = self.ours(b.port)
        text, j = self.probe_both(a, 0)
        self.assertIn("verdict    mail to %s would be delivered\n" % PARTNER, text)
        self.assertIn("is not listed in tls_send_domain_secure_list", text)
        self.assertRegex(text, r"mx         10 mail\.woodgrovebank\.test\n")
        self.assertRegex(text, r"host       mail\.woodgrovebank\.test \[127\.0\.0\.45:%d\]" % b.port)
        self.assertRegex(text, r"  tls       TLSv1\.[23] \S+ \(\d+ bits\)")
        self.assertIn("name: %s matches" % PARTNER, text)
        self.assertIn("revocation: good", text)
        h = j["hosts"][0]
        self.assertEqual((j["verdict"], j["listed"], h["result"], h["rule"]),
                         ("delivered", False, "delivered", "Secured"))
        self.assertIn("STARTTLS", h["ehlo"])
        # The chain as presented: leaf then the intermediate, with their thumbprints.
        self.assertEqual(len(h["chain"]), 2, h["chain"])
        self.assertIn("CN=mail.woodgrovebank.test", h["chain"][0]["subject"])
        self.assertIn("CN=Domsec Test Intermediate CA", h["chain"][1]["subject"])
        self.assertRegex(h["chain"][0]["thumbprint"], r"^[0-9A-F]{40}$")
        self.assertEqual(h["verdicts"]["chain"], "Valid")
        # We presented our certificate: the partner checked it (mutual TLS).
        self.assertRegex(j["client_certificate"]["subject"], r"CN=mail\.contoso\.test")
        b.wait_log(b.prefix() + r"info smtpd \S+ TLS established from=127\.0\.0\.1:\d+ .* "
                   r"client_cert=yes chain_code=0")
        self.assertNoMessage(b)

    def test_untrusted_chain_would_be_deferred(self):
        text, j = self.deferred_cert("partner-untrusted", "CertificateValidationFailure (Untrusted)")
        self.assertIn("chain: Untrusted (partner sent 2 certificates; chain does not end at a "
                      "trusted root: CN=Rogue Test Root CA, O=Rogue Test PKI is not in "
                      "trusted_ca_file)", text)
        self.assertIn("failed because the TLS server certificate chain failed to validate and "
                      "returned status 'Untrusted'", j["hosts"][0]["log"])

    def test_wrong_name_would_be_deferred(self):
        text, j = self.deferred_cert("partner-wrongname", "SubjectMismatch")
        self.assertIn("name: %s does NOT match (names: mail.fabrikam.test)" % PARTNER, text)
        self.assertFalse(j["hosts"][0]["verdicts"]["name"]["match"])

    def test_revoked_certificate_would_be_deferred(self):
        text, j = self.deferred_cert("partner-revoked", "CertificateValidationFailure (Revoked)")
        self.assertRegex(text, r"revocation: revoked \(certificate serial [0-9A-F]+ "
                         r"\(CN=mail\.woodgrovebank\.test[^)]*\) revoked by CN=Domsec Test "
                         r"Intermediate CA")
        self.assertEqual(j["hosts"][0]["verdicts"]["revocation"], "revoked")

    def test_host_without_starttls_would_be_deferred(self):
        peer = self.peer(PARTNER_IP)            # no STARTTLS in its EHLO reply
        a = self.ours(self.P)
        text, j = self.probe_both(a, 1)
        want = FAILOVER % ("451 5.7.3 STARTTLS is required to send mail", PARTNER_IP, self.P)
        self.assertIn("verdict    mail to %s would be DEFERRED: %s\n" % (PARTNER, want), text)
        self.assertEqual(j["hosts"][0]["rule"], "TlsNotOffered")
        self.assertNotIn("STARTTLS", j["hosts"][0]["ehlo"])
        verbs = [line.split(" ")[0].upper() for _, _, line in peer.commands]
        self.assertEqual(verbs, ["EHLO", "QUIT"] * 2, peer.commands)   # two runs, no MAIL

    def test_hosts_in_mx_order_until_one_would_take_it(self):
        # mx1 offers no STARTTLS, mx2 is a good partner, mx3 does not answer; all on port P.
        peer = self.peer(PARTNER_IP)
        good = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", {
            "bindings": "127.0.0.46:%d" % self.P, "fqdn": "mail." + PARTNER,
            "auth_mechanism": "tls", "domain_secure_enabled": "yes"})],
            transport=self.tls_transport(self.store("partner-ok")))
        good.start(wait=False)
        good.wait_log(good.prefix() + r"info server started ")
        self.start_dns(mx(PARTNER, "mx1." + PARTNER, 10), host("mx1." + PARTNER, PARTNER_IP),
                       mx(PARTNER, "mx2." + PARTNER, 20), host("mx2." + PARTNER, "127.0.0.46"),
                       mx(PARTNER, "mx3." + PARTNER, 30), host("mx3." + PARTNER, "127.0.0.47"))
        a = self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay")), sends=[("Partner", {
                "address_spaces": PARTNER, "dns_routing": "yes", "port": str(self.P),
                "fqdn": "mail.contoso.test", "domain_secure_enabled": "yes"})])
        st, out, err = self.probe(a.config_path, PARTNER, "--json")
        self.assertEqual(st, 0, out + err)
        j = json.loads(out)
        self.assertEqual([(h["name"], h["result"]) for h in j["hosts"]],
                         [("mx1." + PARTNER, "failed"), ("mx2." + PARTNER, "delivered")])
        self.assertEqual([m["name"] for m in j["mx"]], ["mx%d.%s" % (i, PARTNER) for i in (1, 2, 3)])
        st, out, err = self.probe(a.config_path, PARTNER, "--json", "--all-hosts")
        self.assertEqual(st, 0, out + err)
        j = json.loads(out)
        self.assertEqual([h["result"] for h in j["hosts"]], ["failed", "delivered", "failed"])
        self.assertEqual(j["hosts"][2]["reply"], "connection refused")
        verbs = [line.split(" ")[0].upper() for _, _, line in peer.commands]
        self.assertEqual(verbs, ["EHLO", "QUIT"] * 2, peer.commands)
        self.assertNoMessage(good)

    def test_smart_host_is_opportunistic(self):
        # Through a smart host domsecd applies no domain security: a host without STARTTLS
        # would get the mail in plaintext, and the probe says so (still no MAIL sent).
        peer = self.peer(PARTNER_IP)
        self.start_dns()
        a = self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay")), sends=[("Hub", {
                "address_spaces": PARTNER, "smart_hosts": "[%s]:%d" % (PARTNER_IP, self.P),
                "fqdn": "mail.contoso.test"})])
        st, text, err = self.probe(a.config_path, PARTNER)
        self.assertEqual(st, 0, text + err)
        self.assertIn("route      smart hosts (domain security applies only to MX routing)\n",
                      text)
        self.assertIn("  result    would deliver WITHOUT TLS (STARTTLS not used)\n", text)
        self.assertIn("verdict    mail to %s would be delivered\n" % PARTNER, text)
        verbs = [line.split(" ")[0].upper() for _, _, line in peer.commands]
        self.assertEqual(verbs, ["EHLO", "QUIT"], peer.commands)

    def test_no_answer_nxdomain_and_dns_trouble(self):
        a = self.ours(self.P)
        # --host: nobody listens there: the daemon's 441 after every host failed.
        st, text, err = self.probe(a.config_path, PARTNER, "--host", "127.0.0.46:%d" % self.P)
        self.assertEqual(st, 1, text + err)
        self.assertRegex(text, r"verdict    mail to %s would be DEFERRED: 441 4\.4\.1 Error "
                         r"encountered while communicating with primary target IP address: "
                         r'"connection refused"' % re.escape(PARTNER))
        # No send connector covers it: Exchange's Unreachable queue.
        st, text, err = self.probe(a.config_path, "nowhere.test")
        self.assertEqual(st, 1, text + err)
        self.assertIn("would be DEFERRED: 451 4.4.4 Unreachable: no send connector's address "
                      "space covers the recipient domain\n", text)
        # NXDOMAIN (dnsmasq answers for .test): the daemon would bounce.
        st, text, err = self.probe(a.config_path, "nowhere.test", "--connector", "Partner")
        self.assertEqual(st, 1, text + err)
        self.assertIn("verdict    mail to nowhere.test would be BOUNCED: 550 5.1.2 DNS domain "
                      "does not exist\n", text)
        # No DNS server answers: cannot tell (3), not "partner broken" (1).
        b = Daemon(self, connectors=[("Hub", {"permission": "internal"})],
                   transport=self.tls_transport(self.store("relay")),
                   sends=[("Partner", {"address_spaces": PARTNER, "dns_routing": "yes",
                                       "domain_secure_enabled": "yes",
                                       "fqdn": "mail.contoso.test"})],
                   dns={"servers": "127.0.0.1:%d" % free_udp_port(), "timeout": "1s"})
        st, out, err = self.probe(b.config_path, PARTNER, "--json")
        self.assertEqual(st, 3, out + err)
        self.assertEqual(json.loads(out)["verdict"], "unknown")

    def test_own_key_unusable_cannot_tell(self):
        # Our key is readable by others: domsecd refuses the connector, the probe cannot tell.
        self.start_dns(mx(PARTNER, "mail." + PARTNER, 10), host("mail." + PARTNER, PARTNER_IP))
        a = self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay", mode=0o644)), sends=[("Partner", {
                "address_spaces": PARTNER, "dns_routing": "yes", "port": str(self.P),
                "fqdn": "mail.contoso.test", "domain_secure_enabled": "yes"})])
        st, out, err = self.probe(a.config_path, PARTNER)
        self.assertEqual(st, 3, out + err)
        self.assertRegex(err, r"\[send Partner\] .*readable by group or others")

    def test_usage_errors(self):
        a = self.ours(self.P)
        for args in ([], ["a..b"], [PARTNER, "--connector", "Nope"], [PARTNER, "--bogus"],
                     [PARTNER, "--host", "x:99999"], [PARTNER, "--cert", self.p("relay.pem")]):
            st, out, err = self.probe(a.config_path, *args)
            self.assertEqual(st, 2, (args, out, err))
            self.assertEqual(out, "", args)
        st, out, err = self.probe(os.path.join(a.dir, "missing.conf"), PARTNER)
        self.assertEqual(st, 2, out + err)

    def test_inbound_certificate_files(self):
        # Our receive side: a domain-secure connector; the partner not listed yet.
        a = Daemon(self, connectors=[("Inet", {"fqdn": "mail.contoso.test",
                                                "auth_mechanism": "tls",
                                                "domain_secure_enabled": "yes"})],
                   transport=self.tls_transport(self.store("relay")))
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound", "--cert",
                                   self.p("partner-ok.pem"))
        self.assertEqual(st, 0, text + err)
        self.assertIn("verdict    MAIL FROM:<x@%s> would be accepted\n" % PARTNER, text)
        self.assertIn("rule       Secured\n", text)
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound", "--json", "--cert",
                                  self.p("partner-revoked.pem"))
        self.assertEqual(st, 1, out + err)
        j = json.loads(out)
        self.assertEqual((j["accepted"], j["reply"], j["rule"], j["verdicts"]["revocation"]),
                         (False, "454 4.7.5 Certificate validation failure",
                          "CertificateValidationFailure (Revoked)", "revoked"))
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound", "--cert",
                                   self.p("partner-untrusted.pem"))
        self.assertEqual(st, 1, text + err)
        self.assertIn("would be REFUSED: 454 4.7.5 Certificate validation failure", text)


if __name__ == "__main__":
    unittest.main()
