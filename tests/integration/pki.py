"""The test PKI (tests/pki/make-pki.sh) and certificate stores for the TLS tests.

PkiTestCase builds the PKI once per test class in a temporary directory (never
in the repository) and offers store(): a certificate_store directory holding
chosen PKI certificates, owned by the daemon's service user."""

import os
import shutil
import subprocess
import tempfile

from domsec_harness import service_ids

HERE = os.path.dirname(os.path.abspath(__file__))
PKI_SCRIPT = os.path.join(HERE, "..", "pki", "make-pki.sh")


def make_pki(crl_port=None, ocsp_port=None):
    """Build the PKI in a new temporary directory; crl_port: the port of the CDP URLs
    (http://127.0.0.1:PORT/...; make-pki.sh's default 8080 when None); ocsp_port: the
    port of the AIA OCSP URLs (none when None)."""
    d = tempfile.mkdtemp(prefix="domsec-pki-")
    os.chmod(d, 0o755)                  # the daemon reads trusted-ca.pem as its service user
    env = dict(os.environ)
    if crl_port is not None:
        env["CRL_PORT"] = str(crl_port)
    if ocsp_port is not None:
        env["OCSP_PORT"] = str(ocsp_port)
    r = subprocess.run(["sh", PKI_SCRIPT, d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env)
    if r.returncode != 0:
        raise AssertionError("make-pki.sh failed:\n%s" % r.stdout.decode())
    return d


class PkiMixin:
    """Mix into a unittest.TestCase: cls.pki, self.p(name), self.store(*names).
    A class that serves CRLs sets cls.crl_port (OCSP: cls.ocsp_port) before
    PkiMixin.setUpClass runs."""

    crl_port = None
    ocsp_port = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pki = make_pki(cls.crl_port, cls.ocsp_port)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)
        super().tearDownClass()

    def p(self, name):
        return os.path.join(self.pki, name)

    def store(self, *names, mode=0o600):
        """A certificate store with PKI certificates NAME.pem/.key (key mode `mode`)."""
        d = tempfile.mkdtemp(prefix="domsec-store-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        uid, gid = service_ids()
        for n in names:
            for ext, m in ((".pem", 0o644), (".key", mode)):
                dst = os.path.join(d, n + ext)
                shutil.copy(self.p(n + ext), dst)
                os.chmod(dst, m)
                os.chown(dst, uid, gid)
        return d

    def crl_dir(self, *names):
        """A crl_directory holding PKI CRL files NAME (e.g. "inter.crl", which is PEM)."""
        d = tempfile.mkdtemp(prefix="domsec-crl-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        for n in names:
            shutil.copy(self.p(n), os.path.join(d, n))
            os.chmod(os.path.join(d, n), 0o644)
        return d

    def tls_transport(self, store, crls=("inter.crl", "root.crl", "inter2.crl"), **extra):
        """[transport] keys for a relay with certificate store `store`, the PKI root as
        trust anchor and current CRLs from files (no fetching): revocation is GOOD for
        every unrevoked PKI certificate."""
        t = {"certificate_store": store, "trusted_ca_file": self.p("trusted-ca.pem"),
             "crl_directory": self.crl_dir(*crls), "crl_fetch": "no"}
        t.update(extra)
        return t

    def partner_mail_from(self, d, partner, domain="woodgrovebank.test",
                          server_name="mail.contoso.test"):
        """A mutual-TLS session to daemon d presenting PKI certificate `partner` (with its
        chain): EHLO, STARTTLS, EHLO mail.DOMAIN, MAIL FROM:<a@DOMAIN>; its reply."""
        import ssl
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        ctx.load_cert_chain(self.p(partner + ".pem"), self.p(partner + ".key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=server_name)
        self.assertEqual(c.cmd("EHLO mail.%s" % domain).code, 250)
        r = c.cmd("MAIL FROM:<a@%s>" % domain)
        c.close()
        return r

    def domain_secure_relay(self, partner, partner_ip, port, secure=True, **transport):
        """Our relay (contoso.test, in a DeliveryTestCase): mail for `partner` only by
        domain security, through a 'Partner' send connector to partner_ip:port (MX).
        `transport` goes to tls_transport() (crls=..., revocation_failure=...)."""
        from peers import host, mx
        self.start_dns(mx(partner, "mail." + partner, 10), host("mail." + partner, partner_ip))
        return self.start_relay(internet=False, transport=self.tls_transport(
            self.store("relay"), tls_send_domain_secure_list=partner, **transport), sends=[("Partner", {"address_spaces": partner, "dns_routing": "yes",
                               "port": str(port), "fqdn": "mail.contoso.test",
                               "domain_secure_enabled": "yes" if secure else "no"})])
