"""Inbound handshake costs: the server's key exchange group preference and its
session tickets.

Groups: a client offering X25519 first gets X25519; a client whose only key share is
P-256 gets P-256 with no HelloRetryRequest (one ServerHello in openssl's -msg trace).

Tickets are sealed with keys of the process (tls_ticket.c), not of each wolfSSL
context: a partner resumes on any worker and after a reload, and its resumed session
is still judged (domain-secured only with a good chain).  A ticket that does not open
-- altered, or of a key rotated out -- gets a full handshake, never a failure, and the
rotation is logged.

A resumed session is judged with the chain and verdict of the handshake that sealed
its ticket, kept by the server per ticket (tls_ticket_chain.c): wolfSSL's own session
cache holds 33 sessions, and a ticket that outlived its cached session used to resume
with no client certificate (530 5.7.1), and with a verify result of 0 whatever the
first handshake found."""

import base64
import os
import re
import ssl
import subprocess
import unittest

from domsec_harness import Daemon, DomsecTestCase, wait_until
from pki import PkiMixin
from test_starttls import RELAY_FQDN
import test_tls_resume

PARTNER = "woodgrovebank.test"
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"
OTHER_HANDSHAKES = 120                  # well over wolfSSL's 33 cached sessions


def der_len(data, i):
    """(length, index after the length bytes) of the DER length at data[i]."""
    first = data[i]
    if first < 0x80:
        return first, i + 1
    n = first & 0x7F
    return int.from_bytes(data[i + 1:i + 1 + n], "big"), i + 1 + n


def ticket_span(der):
    """(start, end) of the session ticket bytes in an SSL_SESSION (OpenSSL's ASN.1:
    SEQUENCE { ..., [10] EXPLICIT OCTET STRING ticket, ... })."""
    assert der[0] == 0x30
    _, i = der_len(der, 1)
    while i < len(der):
        tag = der[i]
        length, body = der_len(der, i + 1)
        if tag == 0xAA:
            assert der[body] == 0x04
            tlen, tbody = der_len(der, body + 1)
            return tbody, tbody + tlen
        i = body + length
    raise AssertionError("no session ticket in the saved session")


class TlsTicketTest(PkiMixin, DomsecTestCase):

    def daemon(self, workers=None, **transport):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        t = self.tls_transport(self.store("relay"), tls_receive_domain_secure_list=PARTNER,
                               **transport)
        d = Daemon(self, connectors=[("Inet", opts)], transport=t)
        if workers:
            d.write_config(d.config_text.replace("[service]\n",
                                                 "[service]\nworkers = %d\n" % workers, 1))
        d.start()
        return d

    # Python's ssl: a partner's full or resumed session, MAIL FROM (test_tls_resume's).
    client = test_tls_resume.TlsResumeTest.client
    mail_from = test_tls_resume.TlsResumeTest.mail_from

    # --- openssl s_client: groups, -msg trace, saved sessions --------------------
    def s_client(self, d, *args):
        """openssl s_client -starttls smtp with the partner's certificate; EHLO, MAIL
        FROM a partner address, QUIT.  Its output (stdout and stderr)."""
        argv = ["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % d.port,
                "-servername", RELAY_FQDN, "-CAfile", self.p("trusted-ca.pem"),
                "-cert", self.p("partner-ok.pem"), "-key", self.p("partner-ok.key"),
                "-cert_chain", self.p("partner-ok.pem"),
                "-crlf", "-ign_eof"] + list(args)
        r = subprocess.run(argv, input=b"EHLO mail.%s\nMAIL FROM:<a@%s>\nQUIT\n"
                           % (PARTNER.encode(), PARTNER.encode()),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return r.stdout.decode("utf-8", "replace")

    def test_x25519_when_offered(self):
        d = self.daemon()
        out = self.s_client(d, "-groups", "X25519:P-256", "-msg")
        self.assertIn("Server Temp Key: X25519", out)
        self.assertEqual(len(re.findall(r"<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], "
                                        r"ServerHello", out)), 1)
        self.assertIn(SECURED_OK, out)

    def test_p256_only_client_without_hello_retry(self):
        d = self.daemon()
        out = self.s_client(d, "-groups", "P-256", "-msg")
        self.assertRegex(out, r"Server Temp Key: ECDH, (prime256v1|P-256), 256 bits")
        # A HelloRetryRequest is a second ServerHello (RFC 8446 4.1.4).
        self.assertEqual(len(re.findall(r"<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], "
                                        r"ServerHello", out)), 1)
        self.assertIn(SECURED_OK, out)

    def test_resumption_across_workers_and_reload(self):
        d = self.daemon(workers=2)
        ctx = self.client("partner-ok")
        lines, reused, sess = self.mail_from(d, ctx)
        self.assertEqual((lines, reused), ([SECURED_OK], False))
        self.assertTrue(sess.has_ticket, "no session ticket: nothing to resume")
        # SO_REUSEPORT spreads connections over both workers by their ports.
        for _ in range(6):
            lines, reused, _ = self.mail_from(d, ctx, sess)
            self.assertEqual((lines, reused), ([SECURED_OK], True))
        mark = d.log_mark()
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded path=%s\s*$" % re.escape(d.config_path),
                   since=mark)
        lines, reused, _ = self.mail_from(d, ctx, sess)
        self.assertTrue(reused, "a ticket from before the reload was not accepted")
        self.assertEqual(lines, [SECURED_OK])
        self.assertRegex(d.log(), d.prefix() + r"info tls session ticket key created "
                         r"key=[0-9a-f]{8} lifetime=3600s")

    def test_altered_ticket_gets_a_full_handshake(self):
        d = self.daemon()
        sess = os.path.join(d.dir, "session.pem")
        out = self.s_client(d, "-sess_out", sess)
        self.assertIn(SECURED_OK, out)
        self.assertIn("Reused, TLSv1.3", self.s_client(d, "-sess_in", sess))  # it resumes
        with open(sess) as f:
            pem = f.read()
        b64 = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
        der = bytearray(base64.b64decode(b64))
        start, end = ticket_span(der)
        self.assertGreater(end - start, 64)
        der[start + 40] ^= 0x01         # inside the sealed state (after name, iv, length)
        bad = os.path.join(d.dir, "altered.pem")
        with open(bad, "w") as f:
            f.write("-----BEGIN SSL SESSION PARAMETERS-----\n")
            f.write(base64.encodebytes(bytes(der)).decode())
            f.write("-----END SSL SESSION PARAMETERS-----\n")
        out = self.s_client(d, "-sess_in", bad)
        self.assertIn("New, TLSv1.3", out)
        self.assertIn(SECURED_OK, out)  # the full handshake judged the chain again
        self.assertTrue(d.running())

    def test_ticket_of_a_rotated_out_key_gets_a_full_handshake(self):
        d = self.daemon(tls_session_ticket_lifetime="1s")
        ctx = self.client("partner-ok")
        lines, _, old = self.mail_from(d, ctx)
        self.assertEqual(lines, [SECURED_OK])
        created = re.search(d.prefix() + r"info tls session ticket key created key=([0-9a-f]{8}) "
                            r"lifetime=1s", d.log())
        self.assertIsNotNone(created, "no key creation logged")
        first = created.group(1)
        # Keys rotate when a ticket is sealed after its key's lifetime: keep making
        # full handshakes until the first key has been replaced twice (bounded).
        rotated = r"info tls session ticket key rotated key=([0-9a-f]{8}) previous=([0-9a-f]{8})"

        def first_key_gone():
            self.mail_from(d, ctx)
            prevs = [m.group(2) for m in re.finditer(d.prefix() + rotated, d.log())]
            return first in prevs and prevs.index(first) + 1 < len(prevs)
        wait_until(first_key_gone, 20.0, "two key rotations after the first ticket",
                   interval=0.2)
        lines, reused, _ = self.mail_from(d, ctx, old)
        self.assertFalse(reused, "a ticket of a rotated-out key was accepted")
        self.assertEqual(lines, [SECURED_OK])

    def resume_judged(self, d, ctx, sess, reply, chain_code):
        """Resume sess: it must resume, get reply to MAIL FROM, and be logged with the
        client certificate and chain_code of the handshake that sealed the ticket."""
        mark = d.log_mark()
        lines, reused, _ = self.mail_from(d, ctx, sess)
        self.assertTrue(reused, "the ticket was not resumed")
        self.assertEqual(lines, [reply])
        d.wait_log(d.prefix() + r"info smtpd \S+ TLS established .* client_cert=yes "
                   r"chain_code=%d resumed=yes" % chain_code, since=mark)

    def test_resumption_after_many_other_sessions_stays_domain_secured(self):
        d = self.daemon()
        ctx = self.client("partner-ok")
        lines, reused, sess = self.mail_from(d, ctx)
        self.assertEqual((lines, reused), ([SECURED_OK], False))
        self.assertTrue(sess.has_ticket, "no session ticket: nothing to resume")
        for _ in range(OTHER_HANDSHAKES):       # full handshakes of other sessions
            lines, reused, _ = self.mail_from(d, ctx)
            self.assertEqual((lines, reused), ([SECURED_OK], False))
        self.resume_judged(d, ctx, sess, SECURED_OK, 0)

    def test_resumed_untrusted_chain_keeps_its_verdict(self):
        # Unknown revocation is accepted here: only the chain verdict refuses, so a
        # resumed session judged "0" (as wolfSSL reports one) would be domain-secured.
        d = self.daemon(revocation_failure="accept")
        ctx = self.client("partner-untrusted")
        lines, _, sess = self.mail_from(d, ctx)
        self.assertEqual(lines, [CERT_FAIL])
        self.resume_judged(d, ctx, sess, CERT_FAIL, 21)  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE

    def test_tls12_resumes_by_ticket_only_and_keeps_the_verdict(self):
        # wolfSSL's session cache is off: a TLS 1.2 client without tickets gets a full
        # handshake (its session-ID resumption left the verify result at 0 and passed
        # an untrusted chain); one with a ticket resumes with the sealed verdict.
        d = self.daemon(revocation_failure="accept")
        for ticket in (True, False):
            ctx = self.client("partner-untrusted")
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            if not ticket:
                ctx.options |= ssl.OP_NO_TICKET
            lines, _, sess = self.mail_from(d, ctx)
            self.assertEqual(lines, [CERT_FAIL])
            lines, reused, _ = self.mail_from(d, ctx, sess)
            self.assertEqual((lines, reused), ([CERT_FAIL], ticket))


if __name__ == "__main__":
    unittest.main()
