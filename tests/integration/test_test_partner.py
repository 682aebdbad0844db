"""`domsec test-partner` (issue 13): what domain security would decide for a partner
before it is listed, like posttls-finger and without sending a message.  The partner
is a real second domsecd (mutual TLS, its certificate chosen per test) or a scripted
peer without STARTTLS, found by MX through dnsmasq; our side is only a configuration
file (no domsecd of ours runs).  Each test checks the verdict line, the exit status
and that the partner received no message."""

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from domsec_harness import Daemon, domsecd_path, service_ids, wait_until
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


def spki_pin(pem):
    """The pin of the first certificate of a PEM file: SHA-256 of its DER SPKI (openssl)."""
    pub = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-pubkey"],
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


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
        # Each certificate's pin, as [partner D] certificate_pins wants it.
        self.assertEqual(h["chain"][0]["pin_sha256"], spki_pin(self.p("partner-ok.pem")))
        self.assertIn("pin-sha256: %s\n" % h["chain"][0]["pin_sha256"], text)
        self.assertEqual(h["chain"][0]["pin_sha256_base64"],
                         base64.b64encode(bytes.fromhex(h["chain"][0]["pin_sha256"])).decode())
        self.assertIn("pin-sha256-base64: %s\n" % h["chain"][0]["pin_sha256_base64"], text)
        self.assertIn("pin-sha256: %s\n" % h["chain"][1]["pin_sha256"], text)
        self.assertNotEqual(h["chain"][0]["pin_sha256"], h["chain"][1]["pin_sha256"])
        self.assertEqual(h["verdicts"]["chain"], "Valid")
        # We presented our certificate: the partner checked it (mutual TLS).
        self.assertRegex(j["client_certificate"]["subject"], r"CN=mail\.contoso\.test")
        self.assertEqual(j["client_certificate"]["pin_sha256"], spki_pin(self.p("relay.pem")))
        self.assertIn("\n           pin-sha256: %s\n" % spki_pin(self.p("relay.pem")), text)
        self.assertIn("\n           pin-sha256-base64: %s\n"
                      % j["client_certificate"]["pin_sha256_base64"], text)
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

    def test_peer_text_cannot_drive_the_terminal(self):
        # The banner and EHLO lines are the peer's: in the text output its C0 controls
        # and DEL are shown as \xHH, C1 as \u00HH (no ESC reaches the terminal); --json
        # keeps them, escaped by JSON.
        banner = "220 hi\x1b]0;owned\x07 \x1b[31mred\x7f\x9b2J\x08 ESMTP"
        self.peer(PARTNER_IP, name="mx\x1b[2J.test", banner=banner)
        a = self.ours(self.P)
        text, j = self.probe_both(a, 1)
        bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
        self.assertEqual(bad, [], text)
        self.assertIn("  banner    220 hi\\x1B]0;owned\\x07 \\x1B[31mred\\x7F\\u009B2J\\x08 "
                      "ESMTP\n", text)
        self.assertIn("  ehlo      250 mx\\x1B[2J.test\n", text)
        self.assertEqual(j["hosts"][0]["banner"], banner)
        self.assertEqual(j["hosts"][0]["ehlo_reply"], "250 mx\x1b[2J.test")

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
                     [PARTNER, "--host", "x:99999"], [PARTNER, "--cert", self.p("relay.pem")],
                     [PARTNER, "--inbound", "--host", "127.0.0.1"]):
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
        self.assertRegex(text, r"\nchain      0 [^\n]*\n(?:.*\n){2} {13}pin-sha256: %s\n"
                         % spki_pin(self.p("partner-ok.pem")))
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

    def test_partner_section_applies_inbound(self):
        # Review A #4: test-partner judges a listed partner by its [partner] section as
        # domsecd does (pins, its own CA), and prints the Partner identity line.
        a = Daemon(self, connectors=[("Inet", {"fqdn": "mail.contoso.test",
                                                "auth_mechanism": "tls",
                                                "domain_secure_enabled": "yes"})],
                   transport=self.tls_transport(self.store("relay"),
                                                tls_receive_domain_secure_list=PARTNER))
        base = a.config_text
        # Pinned to the rolled-over key only: the valid partner-ok chain is refused.
        a.write_config(base + "\n[partner %s]\nrequire = pin\ncertificate_pins = %s\n"
                       % (PARTNER, spki_pin(self.p("partner-rolled.pem"))))
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound", "--cert",
                                   self.p("partner-ok.pem"))
        self.assertEqual(st, 1, text + err)
        self.assertIn("identity   Partner identity of '%s' (inbound): policy=partner "
                      "require=pin; proved=none; eku=any; revocation=not-checked via -; "
                      "verdict=PinMismatch\n" % PARTNER, text)
        self.assertIn("rule       PinMismatch\n", text)
        self.assertIn("would be REFUSED: 454 4.7.5 Certificate validation failure", text)
        # The same pin in base64 proves the rolled-over key.
        a.write_config(base + "\n[partner %s]\nrequire = pin\ncertificate_pins = %s\n"
                       % (PARTNER, base64.b64encode(bytes.fromhex(
                           spki_pin(self.p("partner-rolled.pem")))).decode()))
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound", "--json", "--cert",
                                  self.p("partner-rolled.pem"))
        self.assertEqual(st, 0, out + err)
        j = json.loads(out)
        self.assertEqual(j["rule"], "Secured")
        self.assertEqual(j["partner_identity"], "Partner identity of '%s' (inbound): "
                         "policy=partner require=pin; proved=pin; eku=any; "
                         "revocation=not-checked via -; verdict=Secured" % PARTNER)
        # Trusted through its own CA, which the global trusted_ca_file lacks.
        a.write_config(base + "\n[partner %s]\ntrusted_ca_file = %s\nrevocation_failure = "
                       "accept\n" % (PARTNER, self.p("rogue.pem")))
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound", "--cert",
                                   self.p("partner-untrusted.pem"))
        self.assertEqual(st, 0, text + err)
        self.assertIn("verdict=Secured\n", text)
        self.assertIn("policy=partner require=ca; proved=ca;", text)
        # ... and instead of the global CA: the globally trusted chain is refused, and why.
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound", "--json", "--cert",
                                  self.p("partner-ok.pem"))
        self.assertEqual(st, 1, out + err)
        j = json.loads(out)
        self.assertEqual(j["rule"], "CertificateValidationFailure (Untrusted)")
        self.assertIn("partner sent 2 certificates", j["identity_detail"])

    def test_partner_section_applies_outbound(self):
        b = self.partner()
        a = self.ours(b.port, tls_send_domain_secure_list=PARTNER)
        a.write_config(a.config_text + "\n[partner %s]\nrequire = pin\ncertificate_pins = %s\n"
                       % (PARTNER, spki_pin(self.p("partner-rolled.pem"))))
        text, j = self.probe_both(a, 1)
        h = j["hosts"][0]
        self.assertEqual(h["rule"], "PinMismatch")
        self.assertEqual(h["partner_identity"], "Partner identity of '%s' (outbound): "
                         "policy=partner require=pin; proved=none; eku=any; "
                         "revocation=not-checked via -; verdict=PinMismatch" % PARTNER)
        self.assertIn("  identity  Partner identity of '%s' (outbound)" % PARTNER, text)
        self.assertNoMessage(b)
        a.write_config(a.config_text.split("\n[partner ")[0] + "\n[partner %s]\n"
                       "certificate_pins = %s, %s\n" % (PARTNER, spki_pin(self.p(
                           "partner-rolled.pem")), spki_pin(self.p("partner-ok.pem"))))
        text, j = self.probe_both(a, 0)
        self.assertTrue(j["hosts"][0]["partner_identity"].endswith(
            "policy=partner require=ca+pin; proved=ca+pin; eku=any; revocation=good via crl; "
            "verdict=Secured"), j["hosts"][0])

    # --- --inbound without --cert: the chain domsecd kept, found through the log ---

    def receiver(self):
        """Our domsecd receiving from the partner: domain security on, the partner listed
        (so a client certificate is requested).  (daemon, its crl_directory)."""
        t = self.tls_transport(self.store("relay"), tls_receive_domain_secure_list=PARTNER)
        a = Daemon(self, connectors=[("Inet", {"fqdn": "mail.contoso.test",
                                                "auth_mechanism": "tls",
                                                "domain_secure_enabled": "yes"})],
                   transport=t)
        a.start()
        return a, t["crl_directory"]

    def thumbprint(self, cert):
        out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                              self.p(cert + ".pem")], stdout=subprocess.PIPE,
                             check=True).stdout.decode()
        return out.strip().split("=", 1)[1].replace(":", "")

    def kept(self, a, cert):
        return os.path.join(a.queue_dir, "partner-certs", self.thumbprint(cert) + ".pem")

    def present(self, a, cert, want):
        """A mutual-TLS session presenting `cert`, MAIL FROM:<a@PARTNER> answered `want`;
        its session id (from the TLS line), once its MAIL FROM row is in the RECV log."""
        mark = a.log_mark()
        self.assertEqual(self.partner_mail_from(a, cert).code, want)
        sid = a.wait_log(a.prefix() + r"info smtpd ([0-9A-F]{16}) TLS established "
                         r".*client_cert=yes", since=mark).group(1)
        wait_until(lambda: any(r[2] == sid and r[6] == "<" and r[7].startswith("MAIL FROM")
                               for r in a.plog_rows("RECV")), 10, "MAIL FROM row of " + sid)
        return sid

    def wait_saved(self, a, cert, mark):
        name = re.escape(self.thumbprint(cert) + ".pem")
        return a.wait_log(a.prefix() + r"info smtpd ([0-9A-F]{16}) partner certificate saved "
                          r"file=\S+/partner-certs/%s certificates=2.*$" % name,
                          since=mark).group(0)

    def revoke(self, cert, crl_dir):
        """The intermediate CA revokes `cert` and publishes a new CRL, as inter.crl in
        crl_dir (in a copy of the PKI: the class's stays as it is)."""
        ca = tempfile.mkdtemp(prefix="domsec-ca-")
        self.addCleanup(shutil.rmtree, ca, True)
        shutil.copytree(self.pki, ca, dirs_exist_ok=True)
        env = dict(os.environ, CA="inter")
        past = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() - 3600))
        for argv in (["-revoke", "ca/%s.crt" % cert, "-crl_reason", "keyCompromise"],
                     ["-gencrl", "-out", "inter-new.crl", "-crl_lastupdate", past]):
            subprocess.run(["openssl", "ca", "-batch", "-config", "ca/openssl.cnf"] + argv,
                           cwd=ca, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.copy(os.path.join(ca, "inter-new.crl"), os.path.join(crl_dir, "inter.crl"))

    def test_inbound_last_certificate_from_the_logs(self):
        a, crl_dir = self.receiver()
        # Nothing presented yet: cannot tell (3), not "refused".
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual((st, out), (3, ""), err)
        self.assertIn("no certificate from %s in the receive protocol logs" % PARTNER, err)
        self.assertIn("use --cert FILE", err)
        # The partner's client presents partner-ok: kept once, as sent, 0640, the user's.
        mark = a.log_mark()
        sid = self.present(a, "partner-ok", 250)
        self.wait_saved(a, "partner-ok", mark)
        path = self.kept(a, "partner-ok")
        st1 = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st1.st_mode))
        self.assertEqual(stat.S_IMODE(st1.st_mode), 0o640)
        self.assertEqual((st1.st_uid, st1.st_gid), service_ids())
        with open(path, "rb") as f, open(self.p("partner-ok.pem"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        self.assertEqual(os.listdir(os.path.dirname(path)), [os.path.basename(path)])
        # test-partner finds it through the log and judges it as --cert does.
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual(st, 0, text + err)
        # The client's endpoint, as the protocol log has it: who presented the chain.
        self.assertRegex(text, r"source     session %s from 127\.0\.0\.1:\d+ "
                         r"at \d{4}-\d\d-\d\dT[0-9:.]+Z "
                         r"\(\S+/ProtocolLog/SmtpReceive/RECV\d{8}-\d+\.LOG\)\n" % sid)
        self.assertIn("file       %s\n" % path, text)
        self.assertIn("rule       Secured\n", text)
        self.assertIn("verdict    MAIL FROM:<x@%s> would be accepted\n" % PARTNER, text)
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound", "--json")
        self.assertEqual(st, 0, out + err)
        j = json.loads(out)
        self.assertEqual((j["file"], j["source"]["session"], j["source"]["thumbprint"],
                          j["accepted"]), (path, sid, self.thumbprint("partner-ok"), True))
        self.assertRegex(j["source"]["client"], r"^127\.0\.0\.1:\d+$")
        # Its next connection writes nothing: same inode, same mtime, one "saved" line.
        sid2 = self.present(a, "partner-ok", 250)
        a.wait_log(a.prefix() + r"info smtpd %s disconnect " % sid2)
        st2 = os.lstat(path)
        self.assertEqual((st2.st_ino, st2.st_mtime_ns), (st1.st_ino, st1.st_mtime_ns))
        self.assertEqual(len(re.findall(r"partner certificate saved", a.log())), 1, a.log())
        # ... and test-partner now names that later session.
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual(st, 0, text + err)
        self.assertIn("source     session %s from 127.0.0.1:" % sid2, text)
        # A restart learns the file from the directory: still nothing written.
        a.stop()
        a.restart()
        a.wait_log(a.prefix() + r"info smtpd partner certificates directory=\S+/partner-certs "
                   r"known=1$")
        sid3 = self.present(a, "partner-ok", 250)
        a.wait_log(a.prefix() + r"info smtpd %s disconnect " % sid3)
        st3 = os.lstat(path)
        self.assertEqual((st3.st_ino, st3.st_mtime_ns), (st1.st_ino, st1.st_mtime_ns))
        self.assertNotIn("partner certificate saved", a.log())
        # The CA revokes it: test-partner reads crl_directory itself, no daemon involved.
        self.revoke("partner-ok", crl_dir)
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual(st, 1, text + err)
        self.assertIn("revocation: revoked", text)
        self.assertIn("rule       CertificateValidationFailure (Revoked)\n", text)
        self.assertIn("would be REFUSED: 454 4.7.5 Certificate validation failure", text)
        # A subdomain's sender is not DOMAIN's: its MAIL FROM does not count.
        st, out, err = self.probe(a.config_path, "mail." + PARTNER, "--inbound")
        self.assertEqual(st, 3, out + err)

    def test_partner_certificate_directory_is_bounded(self):
        # A directory holding more than 10000 certificates (clients flooding us with fresh
        # ones): the oldest (by mtime) past 10000 are deleted at start, and each new chain
        # is still saved, evicting the oldest file, so a partner's new chain is always kept.
        pc = tempfile.mkdtemp(prefix="domsec-pc-")
        self.addCleanup(shutil.rmtree, pc, True)
        uid, gid = service_ids()
        os.chown(pc, uid, gid)          # an existing directory is not handed over
        os.chmod(pc, 0o750)
        names = ["%040X.pem" % i for i in range(10002)]
        for i, name in enumerate(names):
            path = os.path.join(pc, name)
            open(path, "w").close()
            os.utime(path, (1700000000 + i, 1700000000 + i))    # names[0] the oldest
        # ... and a write a crash interrupted: removed at start.
        open(os.path.join(pc, ".%040X.pem.tmp" % 1), "w").close()
        t = self.tls_transport(self.store("relay"), tls_receive_domain_secure_list=PARTNER,
                               partner_certificate_directory=pc)
        a = Daemon(self, connectors=[("Inet", {"fqdn": "mail.contoso.test",
                                                "auth_mechanism": "tls",
                                                "domain_secure_enabled": "yes"})],
                   transport=t)
        a.start()
        a.wait_log(a.prefix() + r"info smtpd partner_certificate_directory %s: 2 oldest "
                   r"certificates deleted \(at most 10000 are kept\)$" % re.escape(pc))
        a.wait_log(a.prefix() + r"info smtpd partner certificates directory=%s known=10000$"
                   % re.escape(pc))
        self.assertEqual(sorted(os.listdir(pc)), names[2:])
        # Each new chain, refused or not, is saved and pushes out the oldest file.
        for k, cert in enumerate(("partner-ok", "partner-wrongname")):
            mark = a.log_mark()
            sid = self.present(a, cert, 250 if cert == "partner-ok" else 454)
            a.wait_log(a.prefix() + r"info smtpd %s partner certificate saved file=%s/%s "
                       r"certificates=2 evicted=%s$"
                       % (sid, re.escape(pc), self.thumbprint(cert) + r"\.pem",
                          re.escape(names[2 + k])), since=mark)
            self.assertFalse(os.path.lexists(os.path.join(pc, names[2 + k])))
            self.assertTrue(os.path.isfile(os.path.join(pc, self.thumbprint(cert) + ".pem")))
            self.assertEqual(len(os.listdir(pc)), 10000)      # the .tmp is gone too
        # test-partner judges the chain of the last session, naming its client.
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual(st, 1, text + err)
        self.assertIn("source     session %s from 127.0.0.1:" % sid, text)
        self.assertIn("file       %s/%s.pem\n" % (pc, self.thumbprint("partner-wrongname")),
                      text)
        # Another directory (or off) takes a restart, and a reload says so.
        a.write_config(a.config_text.replace("partner_certificate_directory = %s" % pc,
                                             "partner_certificate_directory ="))
        p = subprocess.run([domsec_exe(), "--socket", a.control_socket, "reload"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"partner_certificate_directory changed: restart domsecd to use it",
                      p.stdout)
        # Off: test-partner says so (and reads no log).
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual((st, out), (3, ""), err)
        self.assertIn("partner_certificate_directory is off (empty)", err)

    def test_existing_directory_is_never_handed_to_the_service_user(self):
        # Only a directory domsecd creates is chowned to the [service] user: an existing
        # one (a setting naming /etc/something by mistake) keeps its owner; one owned by
        # another user, or writable by others, is refused with an error naming it.
        if os.geteuid() != 0:
            self.skipTest("needs root: ownership is only handed over by root")
        uid, _ = service_ids()
        for owner, mode, ok in ((0, 0o755, True), (uid + 4242, 0o750, False),
                                (0, 0o777, False)):
            pc = tempfile.mkdtemp(prefix="domsec-pc-")
            self.addCleanup(shutil.rmtree, pc, True)
            os.chown(pc, owner, 0)
            os.chmod(pc, mode)
            t = self.tls_transport(self.store("relay"), partner_certificate_directory=pc)
            a = Daemon(self, connectors=[("Inet", {"fqdn": "mail.contoso.test"})],
                       transport=t)
            a.start()
            if ok:
                a.wait_log(a.prefix() + r"info smtpd partner certificates directory=%s "
                           r"known=0$" % re.escape(pc))
            else:
                a.wait_log(a.prefix() + r"error smtpd partner_certificate_directory %s exists "
                           r"and is not owned by root or uid %d, or is writable by others: "
                           r"partner certificates are not kept" % (re.escape(pc), uid))
            a.stop()
            st = os.lstat(pc)
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (owner, mode), pc)

    def test_inbound_refused_certificate_is_kept_never_through_a_link(self):
        a, _ = self.receiver()
        # A link planted where partner-revoked's chain will go: replaced, not followed.
        victim = os.path.join(a.dir, "victim")
        with open(victim, "w") as f:
            f.write("untouched\n")
        path = self.kept(a, "partner-revoked")
        os.symlink(victim, path)
        mark = a.log_mark()
        self.present(a, "partner-revoked", 454)     # refused: kept all the same
        self.assertIn("(a symbolic link there was replaced, not followed)",
                      self.wait_saved(a, "partner-revoked", mark))
        with open(victim) as f:
            self.assertEqual(f.read(), "untouched\n")
        self.assertTrue(stat.S_ISREG(os.lstat(path).st_mode))
        with open(path, "rb") as f, open(self.p("partner-revoked.pem"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        st, text, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual(st, 1, text + err)
        self.assertIn("OU=partner-revoked", text)
        self.assertIn("revocation: revoked", text)
        # domsecd never leaves a link there: test-partner (root) does not follow one.
        os.unlink(path)
        os.symlink(self.p("partner-ok.pem"), path)
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual((st, out), (3, ""), err)
        self.assertIn("was not kept: %s: not a regular file; use --cert FILE" % path, err)
        # ... to a file of root's that is not a certificate either: never opened.
        secret = os.path.join(a.dir, "secret")
        with open(secret, "w") as f:
            f.write("root only\n")
        os.chmod(secret, 0o600)
        before = os.stat(secret)
        os.unlink(path)
        os.symlink(secret, path)
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual((st, out), (3, ""), err)
        self.assertIn("was not kept: %s: not a regular file; use --cert FILE" % path, err)
        after = os.stat(secret)
        self.assertEqual((after.st_atime_ns, after.st_mtime_ns, after.st_size),
                         (before.st_atime_ns, before.st_mtime_ns, before.st_size))
        # A FIFO there (nobody writes it): not waited on, it is not a regular file
        # (subprocess's timeout fails the test if the open blocks).
        os.unlink(path)
        os.mkfifo(path)
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual((st, out), (3, ""), err)
        self.assertIn("was not kept: %s: not a regular file; use --cert FILE" % path, err)
        # The log names it but the file is gone: cannot tell (3), saying which file.
        os.unlink(path)
        st, out, err = self.probe(a.config_path, PARTNER, "--inbound")
        self.assertEqual((st, out), (3, ""), err)
        self.assertIn("was not kept: %s: No such file or directory; use --cert FILE" % path,
                      err)


if __name__ == "__main__":
    unittest.main()
