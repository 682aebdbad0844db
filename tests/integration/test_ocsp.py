"""OCSP for partner chains (issue 17): responses fetched from the leaf's AIA OCSP URL
on the CRL thread, cached in memory and in crl_cache_directory, and judged per
[partner D] revocation = ocsp (policy_identity), with `openssl ocsp` as the
responder.

The PKI (tests/pki/make-pki.sh with OCSP_PORT) is built per class with its AIA URLs
pointing at OcspServer, a small HTTP server of this file on 127.0.0.1 that answers
each POSTed request with `openssl ocsp -index ca/inter/index.txt` signed by
ocsp-inter (inter's delegated responder), counts the requests, and can be down
(nothing listening).  Partners are Python's ssl (OpenSSL) presenting the PKI's
client certificates inbound; the verdict is the reply to MAIL FROM and the
Partner identity line of the protocol log: good, revoked (refused even with
revocation_failure = accept), responder down (revocation_failure decides), and
the cache surviving a restart.  Stapling is checked by tests/unit/
tls_ocsp_conn_test.c against openssl s_server (see its header)."""

import os
import re
import subprocess
import tempfile
import threading
import unittest

from domsec_harness import Daemon, DomsecTestCase
from http_peers import QuietHandler, ThreadedServer
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"


class OcspServer:
    """HTTP on 127.0.0.1:PORT: a POSTed DER OCSP request is answered by openssl ocsp
    -index (the PKI's inter database), as application/ocsp-response.  down() stops
    listening (connections are refused), up() listens again on the same port."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.pki = None
        self.port = 0
        self.httpd = None
        self.up()

    def up(self):
        server = self

        class Handler(QuietHandler):
            def do_POST(self):
                req = self.rfile.read(int(self.headers["Content-Length"]))
                with server.lock:
                    server.requests += 1
                    pki = server.pki
                ok = self.headers.get("Content-Type") == "application/ocsp-request"
                body = server.answer(pki, req) if ok else None
                if body is None:
                    return self.reply(400, b"bad request\n", "text/plain")
                self.reply(200, body, "application/ocsp-response")

        self.httpd = ThreadedServer(("127.0.0.1", self.port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def answer(pki, req):
        with tempfile.TemporaryDirectory() as d:
            q, r = os.path.join(d, "req.der"), os.path.join(d, "resp.der")
            with open(q, "wb") as f:
                f.write(req)
            p = subprocess.run(["openssl", "ocsp", "-index", "ca/inter/index.txt", "-CA",
                                "inter.pem", "-rsigner", "ocsp-inter.pem", "-rkey",
                                "ocsp-inter.key", "-nmin", "5", "-reqin", q, "-respout", r],
                               cwd=pki, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if p.returncode != 0:
                return None
            with open(r, "rb") as f:
                return f.read()

    def down(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
            self.httpd = None

    def reset(self, pki):
        with self.lock:
            self.requests = 0
            self.pki = pki
        if self.httpd is None:
            self.up()

    def count(self):
        with self.lock:
            return self.requests


class OcspTest(PkiMixin, DomsecTestCase):

    @classmethod
    def setUpClass(cls):
        cls.ocsp = OcspServer()             # first: the PKI's AIA URLs need its port
        cls.ocsp_port = cls.ocsp.port
        try:
            super().setUpClass()
        except Exception:
            cls.ocsp.down()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ocsp.down()
        super().tearDownClass()

    def setUp(self):
        self.ocsp.reset(self.pki)

    # ---- helpers ------------------------------------------------------------
    def url(self):
        return "http://127.0.0.1:%d/" % self.ocsp_port

    def daemon(self, revocation_failure="fail", revocation="ocsp"):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        t = self.tls_transport(self.store("relay"), crl_fetch="yes",
                               tls_receive_domain_secure_list=PARTNER)
        d = Daemon(self, connectors=[("Inet", opts)], transport=t)
        d.write_config(d.config_text + "\n[partner %s]\nrevocation = %s\n"
                       "revocation_failure = %s\n" % (PARTNER, revocation, revocation_failure))
        d.start()
        return d

    def wait_fetched(self, d, since=0):
        return d.wait_log(d.prefix() + r"info crl ocsp fetch url=%s request=[0-9a-f]{16} "
                          r"status=200 bytes=\d+$" % re.escape(self.url()), since=since)

    def identity(self, d):
        self.assertEqual(d.stop(), 0)        # the protocol log is complete
        return [r[8] for r in d.plog_rows("RECV") if r[8].startswith("Partner identity of ")]

    def cache_dir(self, d):
        return os.path.join(d.queue_dir, "crl-cache")

    # ---- good: unknown first, fetched, then secured ------------------------------
    def test_fetched_good(self):
        d = self.daemon()
        mark = d.log_mark()
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.wait_fetched(d, mark)
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        self.assertEqual(self.ocsp.count(), 1)      # the cached answer serves both
        names = sorted(os.listdir(self.cache_dir(d)))
        stems = {n.split(".")[0] for n in names if not n.startswith(".")}
        self.assertEqual(len(stems), 1, names)
        stem = stems.pop()
        self.assertTrue(re.fullmatch(r"[0-9a-f]{64}", stem), stem)
        for ext in ("url", "req", "ocsp"):
            self.assertIn("%s.%s" % (stem, ext), names)
        with open(os.path.join(self.cache_dir(d), stem + ".url")) as f:
            self.assertEqual(f.read(), self.url() + "\n")
        head = "Partner identity of '%s' (inbound): policy=partner require=ca; " % PARTNER
        lines = self.identity(d)
        self.assertEqual(len(lines), 3, lines)
        self.assertRegex(lines[0], "^" + re.escape(head) + r"proved=\S+; eku=any; "
                         r"revocation=unknown via \S+; verdict=CertificateValidationFailure "
                         r"\(RevocationUnknown\)$")
        for line in lines[1:]:
            self.assertEqual(line, head + "proved=ca; eku=any; revocation=good via "
                             "ocsp-fetched; verdict=Secured")

    # ---- revoked: refused whatever revocation_failure says -----------------------
    def test_fetched_revoked(self):
        d = self.daemon(revocation_failure="accept")
        mark = d.log_mark()
        # Unknown is accepted at first (revocation_failure = accept) ...
        self.assertEqual(self.partner_mail_from(d, "partner-revoked").lines, [SECURED_OK])
        self.wait_fetched(d, mark)
        # ... but the answer is "revoked": refused from then on.
        self.assertEqual(self.partner_mail_from(d, "partner-revoked").lines, [CERT_FAIL])
        d.wait_log(d.prefix() + r'warning smtpd \S+ domain security refused sender=<a@%s> '
                   r'.*rule="CertificateValidationFailure \(Revoked\)"' % re.escape(PARTNER),
                   since=mark)
        lines = self.identity(d)
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[0], r"revocation=unknown-accepted via \S+; verdict=Secured$")
        self.assertRegex(lines[1], r"; revocation=revoked via ocsp-fetched; "
                         r"verdict=CertificateValidationFailure \(Revoked\)$")

    # ---- responder down: revocation_failure decides -------------------------------
    def test_responder_down(self):
        self.ocsp.down()
        for failure, reply, verdict in (("fail", CERT_FAIL,
                                         r"revocation=unknown via \S+; verdict="
                                         r"CertificateValidationFailure \(RevocationUnknown\)$"),
                                        ("accept", SECURED_OK,
                                         r"revocation=unknown-accepted via \S+; "
                                         r"verdict=Secured$")):
            with self.subTest(revocation_failure=failure):
                d = self.daemon(revocation_failure=failure)
                mark = d.log_mark()
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [reply])
                d.wait_log(d.prefix() + r'warning crl ocsp fetch failed url=%s error="[^"]+" '
                           r'retry_in=\d+s$' % re.escape(self.url()), since=mark)
                # Still down: the next session gets the same verdict.
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [reply])
                lines = self.identity(d)
                self.assertEqual(len(lines), 2, lines)
                for line in lines:
                    self.assertRegex(line, verdict)
        self.assertEqual(self.ocsp.count(), 0)

    # ---- the cache survives a restart ---------------------------------------------
    def test_cached_response_is_used_after_a_restart(self):
        d = self.daemon()
        mark = d.log_mark()
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.wait_fetched(d, mark)
        self.assertEqual(d.stop(), 0)
        self.ocsp.down()                    # a restart must not need the responder
        d.start()
        d.wait_log(d.prefix() + r"info crl ocsp cache loaded responses=1$")
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        lines = self.identity(d)
        self.assertRegex(lines[-1], r"revocation=good via ocsp-fetched; verdict=Secured$")
        self.assertEqual(self.ocsp.count(), 1)

    # ---- revocation = crl (the default): the CRL decides, OCSP is not needed -------
    def test_crl_partner_is_judged_by_crl(self):
        self.ocsp.down()
        d = self.daemon(revocation="crl")
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        lines = self.identity(d)
        self.assertRegex(lines[0], r"revocation=good via crl; verdict=Secured$")


if __name__ == "__main__":
    unittest.main()
