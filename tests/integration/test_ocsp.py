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
the cache surviving a restart.  Outbound, our relay delivers to a listed partner
with revocation = ocsp whose MX staples (StaplingPeer: our SMTP around `openssl
s_server -status_file`): a good staple is delivered with revocation=good via
ocsp-stapled and no request to the responder; a revoked staple makes wolfSSL
refuse the handshake (OCSP_CERT_REVOKED, no override in 5.5.4), so nothing is
delivered."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from domsec_harness import Daemon, DomsecTestCase, wait_until
from http_peers import QuietHandler, ThreadedServer
from peers import DeliveryTestCase, RX_ID, host, mx
from pki import PkiMixin
from test_crl_fetch import domsec_path
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.186"              # not used by other tests
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"


class OcspServer:
    """HTTP on 127.0.0.1:PORT: a POSTed DER OCSP request is answered by openssl ocsp
    -index (the PKI's inter database), as application/ocsp-response.  down() stops
    listening (connections are refused), up() listens again on the same port.  mode
    "redirect" answers 307 to /moved (which would answer properly: counted in
    moved), "big" a 65 KiB body."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.moved = 0                      # requests that followed a redirect
        self.mode = None                    # "redirect" (307 to /moved), "big" (65 KiB)
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
                    if self.path == "/moved":
                        server.moved += 1
                    else:
                        server.requests += 1
                    pki, mode = server.pki, server.mode
                if mode == "redirect" and self.path != "/moved":
                    self.send_response(307)
                    self.send_header("Location", "/moved")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "big":
                    return self.reply(200, b"\x30" * (65 * 1024),
                                      "application/ocsp-response")
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
            self.requests = self.moved = 0
            self.mode = None
            self.pki = pki
        if self.httpd is None:
            self.up()

    def count(self):
        with self.lock:
            return self.requests


class OcspPkiMixin(PkiMixin):
    """The test PKI with AIA OCSP URLs naming cls.ocsp, an OcspServer."""

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
        super().setUp()
        self.ocsp.reset(self.pki)


class OcspTest(OcspPkiMixin, DomsecTestCase):

    # ---- helpers ------------------------------------------------------------
    def url(self):
        return "http://127.0.0.1:%d/" % self.ocsp_port

    def daemon(self, revocation_failure="fail", revocation="ocsp", extra="", **transport):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        t = self.tls_transport(self.store("relay"), crl_fetch="yes",
                               tls_receive_domain_secure_list=PARTNER)
        t.update(transport)
        d = Daemon(self, connectors=[("Inet", opts)], transport=t)
        d.write_config(d.config_text + "\n[partner %s]\nrevocation = %s\n"
                       "revocation_failure = %s\n%s" % (PARTNER, revocation,
                                                        revocation_failure, extra))
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

    def expired_entry(self, cache):
        """A cache entry (H.url, H.req, H.ocsp) for partner-revoked whose signed
        response's nextUpdate was nine days ago (openssl ocsp cannot backdate),
        written nine days ago: its stem H."""
        import datetime
        import hashlib
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509 import ocsp

        def load(name):
            with open(self.p(name), "rb") as f:
                return f.read()
        leaf = x509.load_pem_x509_certificate(load("partner-revoked.pem"))
        inter = x509.load_pem_x509_certificate(load("inter.pem"))
        signer = x509.load_pem_x509_certificate(load("ocsp-inter.pem"))
        key = serialization.load_pem_private_key(load("ocsp-inter.key"), None)
        req = ocsp.OCSPRequestBuilder().add_certificate(leaf, inter, hashes.SHA1()).build()
        req = req.public_bytes(serialization.Encoding.DER)
        now = datetime.datetime.now(datetime.timezone.utc)
        resp = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf, issuer=inter, algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now - datetime.timedelta(days=10),
            next_update=now - datetime.timedelta(days=9), revocation_time=None,
            revocation_reason=None).responder_id(ocsp.OCSPResponderEncoding.NAME, signer
                                                 ).certificates([signer]
                                                                ).sign(key, hashes.SHA256())
        stem = hashlib.sha256(req).hexdigest()
        for ext, data in (("url", (self.url() + "\n").encode()), ("req", req),
                          ("ocsp", resp.public_bytes(serialization.Encoding.DER))):
            name = os.path.join(cache, stem + "." + ext)
            with open(name, "wb") as f:
                f.write(data)
            t = (now - datetime.timedelta(days=9)).timestamp()
            os.utime(name, (t, t))          # fetched nine days ago
        return stem

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
        # domsec crl ocsp lists it: the certificate's serial, good, the responder.
        serial = subprocess.run(["openssl", "x509", "-in", self.p("partner-ok.pem"), "-noout",
                                 "-serial"], stdout=subprocess.PIPE, check=True
                                ).stdout.decode().strip().split("=")[1]
        out = subprocess.run([domsec_path(), "-c", d.config_path, "crl", "ocsp"],
                             stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
        rows = out.splitlines()
        self.assertEqual(rows[0].split(), ["Serial", "Status", "ThisUpdate", "NextUpdate",
                                           "State", "Responder"])
        self.assertEqual(len(rows), 2, out)
        cols = rows[1].split()
        self.assertEqual((cols[0], cols[1], cols[4], cols[5]),
                         (serial, "good", "Current", self.url()), out)
        head = "Partner identity of '%s' (inbound): policy=partner require=ca; " % PARTNER
        lines = self.identity(d)
        self.assertEqual(len(lines), 3, lines)
        self.assertRegex(lines[0], "^" + re.escape(head) + r"proved=\S+; eku=any; "
                         r"revocation=unknown via \S+; verdict=CertificateValidationFailure "
                         r"\(RevocationUnknown\)$")
        for line in lines[1:]:
            self.assertEqual(line, head + "proved=ca; eku=any; revocation=good via "
                             "ocsp-fetched; verdict=Secured")

    # ---- a chain only the partner's own CA proves -----------------------------------
    def test_partner_own_ca_fetched(self):
        # The global anchor is the rogue root: only the partner's trusted_ca_file (the
        # PKI root) proves partner-ok, so tls/ alone does not check its OCSP.
        d = self.daemon(trusted_ca_file=self.p("rogue.pem"),
                        extra="trusted_ca_file = %s\n" % self.p("trusted-ca.pem"))
        mark = d.log_mark()
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.wait_fetched(d, mark)
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        lines = self.identity(d)
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[0], r"revocation=unknown via \S+; "
                         r"verdict=CertificateValidationFailure \(RevocationUnknown\)$")
        self.assertRegex(lines[1], r"proved=ca; eku=any; revocation=good via ocsp-fetched; "
                         r"verdict=Secured$")

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

    # ---- no redirect followed, no body over 64 KiB ---------------------------------
    def test_redirect_and_big_body_are_refused(self):
        # A body announced too large stops at curl's MAXFILESIZE, one sent
        # unannounced at our write callback.
        for mode, error in (("redirect", re.escape("HTTP status 307")),
                            ("big", "Maximum file size exceeded|the response is larger "
                             "than 65536 bytes")):
            with self.subTest(mode=mode):
                self.ocsp.reset(self.pki)
                self.ocsp.mode = mode
                d = self.daemon(revocation_failure="fail")
                mark = d.log_mark()
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
                d.wait_log(d.prefix() + r'warning crl ocsp fetch failed url=%s error="%s" '
                           r'retry_in=\d+s$' % (re.escape(self.url()), "(%s)" % error),
                           since=mark)
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
                self.assertEqual(d.stop(), 0)
                self.assertEqual(self.ocsp.count(), 1)
                self.assertEqual(self.ocsp.moved, 0)
                self.assertFalse(any(n.endswith(".ocsp") for n in
                                     os.listdir(self.cache_dir(d)))
                                 if os.path.isdir(self.cache_dir(d)) else False)

    # ---- the cache survives a restart ---------------------------------------------
    def test_cached_response_is_used_after_a_restart(self):
        d = self.daemon()
        mark = d.log_mark()
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.wait_fetched(d, mark)
        self.assertEqual(d.stop(), 0)
        self.ocsp.down()                    # a restart must not need the responder
        old = self.expired_entry(self.cache_dir(d))
        d.start()
        d.wait_log(d.prefix() + r"info crl ocsp cache loaded responses=1$")
        # A response out of use for more than a week is removed, not loaded again.
        d.wait_log(d.prefix() + r"info crl ocsp cache removed expired=1$")
        for ext in ("url", "req", "ocsp"):
            self.assertFalse(os.path.exists(os.path.join(self.cache_dir(d), old + "." + ext)))
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


class StaplingPeer:
    """An SMTP server on ip:port whose TLS is `openssl s_server -status_file`: the
    plaintext part (banner, EHLO, STARTTLS) is ours; after the 220 the connection's
    bytes are bridged to a fresh s_server (one per connection, -naccept 1), whose
    stdout is the decrypted client text and whose stdin is what it encrypts back, so
    the SMTP dialogue inside TLS is ours too.  Records the mail it accepted."""

    def __init__(self, tc, ip, port, cert, staple):
        self.tc, self.cert, self.staple = tc, cert, staple
        self.lock = threading.Lock()
        self.messages = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(8)
        self.procs = []
        # Short on purpose: OpenSSL 3.0's s_server -unix failed ("addr_strings:system
        # lib") with a 34-character socket path and worked with 21-26 (measured).
        self.sockdir = tempfile.mkdtemp(prefix="dss", dir="/tmp")
        self.nsock = 0
        tc.addCleanup(self.close)
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def close(self):
        self.sock.close()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)
        shutil.rmtree(self.sockdir, ignore_errors=True)

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        src.close()

    def session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 mail.%s ESMTP\r\n" % PARTNER.encode())
        while True:
            line = f.readline()
            if not line:
                return conn.close()
            verb = line[:8].upper()
            if verb.startswith(b"EHLO"):
                conn.sendall(b"250-mail.%s\r\n250 STARTTLS\r\n" % PARTNER.encode())
            elif verb.startswith(b"STARTTLS"):
                break
            else:
                conn.sendall(b"503 5.5.1 STARTTLS first\r\n")
        # A Unix socket of its own per connection: no port to pick and lose to a
        # parallel test between picking and s_server's bind.
        with self.lock:
            self.nsock += 1
            path = os.path.join(self.sockdir, "s%d.sock" % self.nsock)
        pki = self.tc.pki
        p = subprocess.Popen(["openssl", "s_server", "-quiet", "-crlf", "-naccept", "1",
                              "-unix", path, "-cert", self.cert + ".pem",
                              "-key", self.cert + ".key", "-cert_chain", "inter.pem",
                              "-status_file", self.staple], cwd=pki, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        backend = None
        deadline = time.monotonic() + 10
        while backend is None and time.monotonic() < deadline and p.poll() is None:
            try:
                backend = socket.socket(socket.AF_UNIX)
                backend.connect(path)
            except OSError:
                backend.close()
                backend = None
                time.sleep(0.05)        # s_server is starting: poll, bounded
        if backend is None:
            return conn.close()
        conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
        threading.Thread(target=self.pump, args=(conn, backend), daemon=True).start()
        threading.Thread(target=self.pump, args=(backend, conn), daemon=True).start()
        self.smtp_in_tls(p)

    def smtp_in_tls(self, p):
        def say(text):
            p.stdin.write(text.encode() + b"\n")
            p.stdin.flush()
        data = None
        for raw in p.stdout:
            line = raw.rstrip(b"\r\n").decode(errors="replace")
            if data is not None:
                if line == ".":
                    with self.lock:
                        self.messages.append("\n".join(data))
                    data = None
                    say("250 2.0.0 queued")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb == "EHLO":
                say("250-mail.%s\n250 8BITMIME" % PARTNER)
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                say("250 2.0.0 OK")
            elif verb == "DATA":
                data = []
                say("354 go ahead")
            elif verb == "QUIT":
                say("221 2.0.0 bye")
            elif line:
                say("502 5.5.2 not here")

    def count(self):
        with self.lock:
            return len(self.messages)


class OcspStapledOutboundTest(OcspPkiMixin, DeliveryTestCase):
    """Outbound to a listed partner with revocation = ocsp whose MX staples."""

    def staple(self, cert):
        """A response for PKI certificate cert, as a stapling server would hold it."""
        out = "%s.ocsp" % cert
        subprocess.run("openssl ocsp -issuer inter.pem -cert %s.pem -no_nonce -reqout %s.req "
                       "&& openssl ocsp -index ca/inter/index.txt -CA inter.pem -rsigner "
                       "ocsp-inter.pem -rkey ocsp-inter.key -nmin 5 -reqin %s.req -respout %s"
                       % (cert, cert, cert, out), shell=True, cwd=self.pki, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return out

    def relay(self, failure="fail"):
        self.start_dns(mx(PARTNER, "mail." + PARTNER, 10), host("mail." + PARTNER, PARTNER_IP))
        a = self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay"), tls_send_domain_secure_list=PARTNER, crl_fetch="yes"), sends=[
                ("Partner", {"address_spaces": PARTNER, "dns_routing": "yes",
                             "port": str(self.P), "fqdn": "mail.contoso.test",
                             "domain_secure_enabled": "yes"})])
        a.write_config(a.config_text + "\n[partner %s]\nrevocation = ocsp\n"
                       "revocation_failure = %s\n" % (PARTNER, failure))
        a.start()
        return a

    def test_stapled_good_is_delivered_without_fetching(self):
        peer = StaplingPeer(self, PARTNER_IP, self.P, "partner-ok", self.staple("partner-ok"))
        a = self.relay()
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> "
                   % (RX_ID, qid, re.escape(PARTNER)), 30)
        self.assertEqual(peer.count(), 1)
        self.assertEqual(a.stop(), 0)
        lines = [r[8] for r in a.plog_rows("SEND") if r[8].startswith("Partner identity of ")]
        self.assertEqual(lines, [
            "Partner identity of '%s' (outbound): policy=partner require=ca; proved=ca; "
            "eku=any; revocation=good via ocsp-stapled; verdict=Secured" % PARTNER])
        self.assertEqual(self.ocsp.count(), 0)

    def test_stapled_revoked_is_not_delivered(self):
        peer = StaplingPeer(self, PARTNER_IP, self.P, "partner-revoked",
                            self.staple("partner-revoked"))
        a = self.relay(failure="accept")
        self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        # wolfSSL refuses the handshake on a stapled "revoked" (OCSP_CERT_REVOKED).
        a.wait_log(a.prefix() + r"warning smtp %s Message to secure domain '%s' on send "
                   r"connector 'Partner' failed because TLS negotiation failed with response: "
                   r" TLS handshake failed: OCSP Cert revoked \(-360\)"
                   % (RX_ID, re.escape(PARTNER)), 30)
        self.assertEqual(peer.count(), 0)
        self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    unittest.main()
