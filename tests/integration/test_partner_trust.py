"""Partner trust (issue 17): what proves a listed partner's identity under its
[partner D] section, through real handshakes with the test PKI
(tests/pki/make-pki.sh) and real peers: a pinned partner accepted with the
right key and refused with a rolled-over key not yet pinned (its chain is
valid), then accepted once both pins are listed (reload); a partner trusted
through its own CA, which the global trusted_ca_file does not hold, inbound
and outbound, and the same CA refused for another listed domain without a
section; a serverAuth-only client certificate accepted without a section
and by default (the log says eku=serverAuth-only), refused with
accept_server_auth_only = no (BadEku (serverAuth only)), while one from an
unknown CA or expired stays refused, and under require = pin with
trust_global_ca = no the global CA does not prove it;
min_tls_version 1.3 against a TLS 1.2-only client.  Every verdict is also
read back from the Partner identity line of the protocol log."""

import os
import re
import ssl
import subprocess
import unittest

from domsec_harness import Daemon, DomsecTestCase, wait_until
from peers import DeliveryTestCase, RX_ID, host, mx
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
OTHER = "fabrikam.test"                 # listed too, no [partner] section
PARTNER_IP = "127.0.0.171"            # not used by other tests
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"


def pin(pem_path):
    """The SHA-256 pin of a certificate's SubjectPublicKeyInfo, as openssl gives it."""
    pub = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout", "-pubkey"],
                         stdout=subprocess.PIPE, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         stdout=subprocess.PIPE, check=True).stdout
    out = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der,
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return out.split()[0]


def partner_section(domain, **keys):
    return "\n".join(["", "[partner %s]" % domain] + ["%s = %s" % kv for kv in keys.items()]
                     + [""])


def identity_lines(rows, direction):
    """The Partner identity lines of protocol-log rows, in order."""
    return [r[8] for r in rows if r[8].startswith("Partner identity of ")
            and ("(%s)" % direction) in r[8]]


class PartnerTrustInboundTest(PkiMixin, DomsecTestCase):
    """Inbound: MAIL FROM a listed partner over mutual TLS (Python's ssl as client)."""

    def setUp(self):
        # A leaf under the rogue root naming OTHER (for "a partner CA proves only its
        # partner"), made once per class run next to the PKI.
        if not os.path.exists(self.p("other-rogue.pem")):
            ext = self.p("other-rogue.ext")
            with open(ext, "w") as f:
                f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,"
                        "digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
                        "subjectAltName=DNS:mail.%s\n" % OTHER)
            for cmd in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-out", self.p("other-rogue.key")],
                        ["openssl", "req", "-new", "-key", self.p("other-rogue.key"), "-subj",
                         "/CN=mail.%s" % OTHER, "-out", self.p("other-rogue.csr")],
                        ["openssl", "x509", "-req", "-in", self.p("other-rogue.csr"), "-CA",
                         self.p("rogue.pem"), "-CAkey", self.p("rogue.key"), "-CAcreateserial",
                         "-days", "30", "-extfile", ext, "-out", self.p("other-rogue.crt")]):
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=True)
            with open(self.p("other-rogue.pem"), "w") as f:
                for n in ("other-rogue.crt", "rogue.pem"):
                    with open(self.p(n)) as g:
                        f.write(g.read())

    def daemon(self, sections="", verbose=False, **conn):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        opts.update(conn)
        d = Daemon(self, connectors=[("Inet", opts)], transport=self.tls_transport(
            self.store("relay"), tls_receive_domain_secure_list="%s, %s" % (PARTNER, OTHER)))
        d.write_config(d.config_text + sections)
        d.start(wrap=(lambda argv: argv + ["-v"]) if verbose else None)
        return d

    def reconfigure(self, d, sections):
        """Rewrite the partner sections and SIGHUP; wait until the reload is done."""
        mark = d.log_mark()
        base = d.config_text.split("\n[partner ")[0]
        d.write_config(base + sections)
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded", since=mark)

    def mail_from(self, d, cert, domain=PARTNER, tls12=False):
        """EHLO, STARTTLS presenting PKI certificate `cert` (with its chain), EHLO,
        MAIL FROM:<a@domain>: the reply's lines."""
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.p(cert + ".pem"), self.p(cert + ".key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO mail.%s" % domain).code, 250)
        r = c.cmd("MAIL FROM:<a@%s>" % domain)
        c.close()
        return r.lines

    def refused_rule(self, d, rule, mark, domain=PARTNER):
        d.wait_log(d.prefix() + r'warning smtpd \S+ domain security refused sender=<a@%s> '
                   r'domain=%s rule="%s"' % (re.escape(domain), re.escape(domain),
                                            re.escape(rule)), since=mark)

    def identity(self, d):
        self.assertEqual(d.stop(), 0)    # the protocol log is complete
        return identity_lines(d.plog_rows("RECV"), "inbound")

    def test_pinned_partner_key_rollover(self):
        old, new = pin(self.p("partner-ok.pem")), pin(self.p("partner-rolled.pem"))
        self.assertNotEqual(old, new)
        d = self.daemon(partner_section(PARTNER, certificate_pins=old.upper()))
        self.assertEqual(self.mail_from(d, "partner-ok"), [SECURED_OK])
        # The rolled-over key chains to the trusted CA and names the partner, but is
        # not pinned yet.
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "partner-rolled"), [CERT_FAIL])
        self.refused_rule(d, "PinMismatch", mark)
        # Both pins listed (colons allowed), applied by a reload.
        self.reconfigure(d, partner_section(
            PARTNER, certificate_pins="%s, %s" % (old, ":".join(re.findall("..", new)))))
        self.assertEqual(self.mail_from(d, "partner-rolled"), [SECURED_OK])
        self.assertEqual(self.mail_from(d, "partner-ok"), [SECURED_OK])
        head = "Partner identity of '%s' (inbound): policy=partner require=ca+pin; " % PARTNER
        self.assertEqual(self.identity(d), [
            head + "proved=ca+pin; eku=any; revocation=good via crl; verdict=Secured",
            head + "proved=none; eku=any; revocation=not-checked via -; verdict=PinMismatch",
            head + "proved=ca+pin; eku=any; revocation=good via crl; verdict=Secured",
            head + "proved=ca+pin; eku=any; revocation=good via crl; verdict=Secured"])

    def test_partner_own_ca(self):
        # partner-untrusted is issued by the rogue root, which trusted-ca.pem lacks.
        d = self.daemon()
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "partner-untrusted"), [CERT_FAIL])
        self.refused_rule(d, "CertificateValidationFailure (Untrusted)", mark)
        self.reconfigure(d, partner_section(PARTNER, trusted_ca_file=self.p("rogue.pem"),
                                            revocation_failure="accept"))
        self.assertEqual(self.mail_from(d, "partner-untrusted"), [SECURED_OK])
        # The partner's CA proves only that partner: not OTHER (listed, no section) ...
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "other-rogue", domain=OTHER), [CERT_FAIL])
        self.refused_rule(d, "CertificateValidationFailure (Untrusted)", mark, OTHER)
        # ... and "instead of" the global CA: the partner's globally trusted certificate
        # is no longer enough.
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "partner-ok"), [CERT_FAIL])
        d.wait_log(d.prefix() + r'warning smtpd \S+ domain security refused .* rule='
                   r'"CertificateValidationFailure \(Untrusted\)" .*detail="partner sent 2 '
                   r'certificates; issuer CN=Domsec Test Root CA', since=mark)
        lines = self.identity(d)
        self.assertEqual(len(lines), 4, lines)
        self.assertTrue(lines[0].endswith("policy=global require=ca; proved=none; eku=any; "
                                          "revocation=not-checked via -; verdict="
                                          "CertificateValidationFailure (Untrusted)"), lines[0])
        # No CRL for the rogue root: unknown, accepted by the partner's revocation_failure.
        self.assertEqual(lines[1], "Partner identity of '%s' (inbound): policy=partner "
                         "require=ca; proved=ca; eku=any; revocation=unknown-accepted via crl; "
                         "verdict=Secured" % PARTNER)
        self.assertTrue(lines[2].startswith("Partner identity of '%s' (inbound): policy=global "
                                            % OTHER), lines[2])
        self.assertTrue(lines[3].endswith("verdict=CertificateValidationFailure (Untrusted)"))

    def test_partner_chain_judged_once_per_session_and_reload(self):
        # Review A #5: a client pipelining MAIL FROM / RSET must not make us verify its
        # chain against the partner's CA file again each time; a reload judges again.
        sections = partner_section(PARTNER, trusted_ca_file=self.p("rogue.pem"),
                                   revocation_failure="accept")
        d = self.daemon(sections, verbose=True)
        judged = (d.prefix() + r"debug smtpd \S+ partner identity judged domain=%s "
                  r"generation=(\d+)$" % re.escape(PARTNER))
        secured = d.prefix() + r"info smtpd \S+ domain secured sender=<a@%s>" % re.escape(PARTNER)
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        ctx.load_cert_chain(self.p("partner-untrusted.pem"), self.p("partner-untrusted.key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO mail.%s" % PARTNER).code, 250)
        mark = d.log_mark()

        def mail_rset():
            self.assertEqual(c.cmd("MAIL FROM:<a@%s>" % PARTNER).code, 250)
            self.assertEqual(c.cmd("RSET").code, 250)
        for _ in range(3):
            mail_rset()
        wait_until(lambda: len(re.findall(secured, d.log()[mark:], re.M)) == 3, 10,
                   "three domain secured lines")
        self.assertEqual(len(re.findall(judged, d.log()[mark:], re.M)), 1, d.log()[mark:])
        self.reconfigure(d, sections)
        mail_rset()
        wait_until(lambda: len(re.findall(secured, d.log()[mark:], re.M)) == 4, 10,
                   "four domain secured lines")
        gens = re.findall(judged, d.log()[mark:], re.M)
        self.assertEqual(len(gens), 2, d.log()[mark:])
        self.assertNotEqual(gens[0], gens[1])
        c.close()

    def test_server_auth_only_client_certificate(self):
        # Accepted without a section (SPEC 6.2 "EKU absent or serverAuth or clientAuth";
        # Exchange validates a partner's client certificate with serverAuth), with the
        # chain and name checks: wolfSSL's EXTKEYUSE_AUTH_E must not hide an unknown
        # issuer or an expired certificate.
        d = self.daemon()
        self.assertEqual(self.mail_from(d, "partner-serveronly"), [SECURED_OK])
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "partner-serveronly-untrusted"), [CERT_FAIL])
        self.refused_rule(d, "CertificateValidationFailure (Untrusted)", mark)
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "partner-serveronly-expired"), [CERT_FAIL])
        self.refused_rule(d, "CertificateValidationFailure (Expired)", mark)
        # A section (here for nothing else) keeps the global rule by default.
        self.reconfigure(d, partner_section(PARTNER, revocation="crl"))
        self.assertEqual(self.mail_from(d, "partner-serveronly"), [SECURED_OK])
        mark = d.log_mark()
        self.reconfigure(d, partner_section(PARTNER, accept_server_auth_only="no"))
        self.assertEqual(self.mail_from(d, "partner-serveronly"), [CERT_FAIL])
        self.refused_rule(d, "BadEku (serverAuth only)", mark)
        # require = pin with trust_global_ca = no and no CA file of its own: the pin
        # matches, but a serverAuth-only certificate needs a chain to an allowed
        # anchor, and the global CA is not one.
        mark = d.log_mark()
        self.reconfigure(d, partner_section(
            PARTNER, require="pin", trust_global_ca="no",
            certificate_pins=pin(self.p("partner-serveronly.pem"))))
        self.assertEqual(self.mail_from(d, "partner-serveronly"), [CERT_FAIL])
        self.refused_rule(d, "CertificateValidationFailure (Untrusted)", mark)
        lines = self.identity(d)
        self.assertEqual(lines[0], "Partner identity of '%s' (inbound): policy=global "
                         "require=ca; proved=ca; eku=serverAuth-only; revocation=good via crl; "
                         "verdict=Secured" % PARTNER)
        self.assertTrue(lines[1].endswith("eku=serverAuth-only; revocation=not-checked via -; "
                                          "verdict=CertificateValidationFailure (Untrusted)"))
        self.assertTrue(lines[2].endswith("eku=serverAuth-only; revocation=not-checked via -; "
                                          "verdict=CertificateValidationFailure (Expired)"))
        self.assertEqual(lines[3], "Partner identity of '%s' (inbound): policy=partner "
                         "require=ca; proved=ca; eku=serverAuth-only; revocation=good via crl; "
                         "verdict=Secured" % PARTNER)
        self.assertEqual(lines[4], "Partner identity of '%s' (inbound): policy=partner "
                         "require=ca; proved=none; eku=serverAuth-only; revocation=not-checked "
                         "via -; verdict=BadEku (serverAuth only)" % PARTNER)
        self.assertEqual(lines[5], "Partner identity of '%s' (inbound): policy=partner "
                         "require=pin; proved=none; eku=serverAuth-only; revocation=not-checked "
                         "via -; verdict=CertificateValidationFailure (Untrusted)" % PARTNER)
        self.assertEqual(len(lines), 6, lines)

    def test_min_tls_version(self):
        d = self.daemon(partner_section(PARTNER, min_tls_version="1.3"))
        mark = d.log_mark()
        self.assertEqual(self.mail_from(d, "partner-ok", tls12=True), [CERT_FAIL])
        self.refused_rule(d, "TlsVersionTooLow", mark)
        self.assertEqual(self.mail_from(d, "partner-ok"), [SECURED_OK])
        lines = self.identity(d)
        self.assertEqual([ln.split("verdict=")[1] for ln in lines],
                         ["TlsVersionTooLow", "Secured"])


class PartnerTrustOutboundTest(PkiMixin, DeliveryTestCase):
    """Outbound: our relay delivers to a listed partner served by a second domsecd
    presenting a certificate under the partner's own CA (the rogue root)."""

    def partner(self, cert):
        out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                              self.p(cert + ".pem")], stdout=subprocess.PIPE,
                             check=True).stdout.decode()
        conn = {"bindings": PARTNER_IP + ":{port}", "fqdn": "mail." + PARTNER,
                "auth_mechanism": "tls", "domain_secure_enabled": "yes",
                "tls_certificate": out.strip().split("=", 1)[1].replace(":", "")}
        d = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store(cert),
                                                tls_receive_domain_secure_list="contoso.test"))
        d.start()
        return d

    def relay(self, port, sections):
        self.start_dns(mx(PARTNER, "mail." + PARTNER, 10), host("mail." + PARTNER, PARTNER_IP))
        a = self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay"), tls_send_domain_secure_list=PARTNER), sends=[
                ("Partner", {"address_spaces": PARTNER, "dns_routing": "yes", "port": str(port),
                             "fqdn": "mail.contoso.test", "domain_secure_enabled": "yes"})])
        a.write_config(a.config_text + sections)
        a.start()
        return a

    def test_partner_own_ca_outbound(self):
        b = self.partner("partner-untrusted")
        a = self.relay(b.port, partner_section(PARTNER, trusted_ca_file=self.p("rogue.pem"),
                                               revocation_failure="accept"))
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> "
                   % (RX_ID, qid, re.escape(PARTNER)), 30)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(identity_lines(a.plog_rows("SEND"), "outbound"), [
            "Partner identity of '%s' (outbound): policy=partner require=ca; proved=ca; "
            "eku=any; revocation=unknown-accepted via crl; verdict=Secured" % PARTNER])

    def test_without_section_the_partner_ca_is_untrusted(self):
        b = self.partner("partner-untrusted")
        a = self.relay(b.port, "")
        self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"warning smtp %s Message to secure domain '%s' on send "
                   r"connector 'Partner' failed because the TLS server certificate chain "
                   r"failed to validate and returned status 'Untrusted'"
                   % (RX_ID, re.escape(PARTNER)), 30)
        self.assertEqual(a.stop(), 0)
        lines = identity_lines(a.plog_rows("SEND"), "outbound")
        self.assertTrue(lines and lines[0].endswith("policy=global require=ca; proved=none; "
                                                    "eku=any; revocation=not-checked via -; "
                                                    "verdict=CertificateValidationFailure "
                                                    "(Untrusted)"), lines)


if __name__ == "__main__":
    unittest.main()
