"""relay/core/relay_http.c against a real HTTPS server (sts_peers.PolicyServer, stdlib ssl)
with certificates from the test PKI, driven by $DOMSEC_BUILD/tests/relay_http_drive
(one libuv loop, libcurl multi).  Shown: a GET is verified against the given CA and
pinned to the given address (the name exists in no DNS); a body over max_bytes is
refused while one of exactly max_bytes is accepted; a redirect is returned, not
followed; a wrong-name, untrusted-issuer or expired certificate is a tls_error and no
request reaches the server; a server that never answers gives "timeout", one that sends nothing for 10 s "too
slow" (a GET; a POST answered after 12 s is fine); a missing ca_file is a local_error, not a tls_error; a POST
arrives with its body and Content-Type; callbacks never run inside the starting call,
cancel and close call no callback, and the loop closes cleanly every time."""

import json
import subprocess
import tempfile
import unittest

from pki import PkiMixin
from sts_peers import (POLICY_PATH, PolicyServer, Response, build_program, server_cert,
                       sts_policy)

IP = "127.0.0.165"                      # a policy host address of this file only
HOST = "mta-sts.woodgrove.test"
URL = "https://%s%s" % (HOST, POLICY_PATH)


class RelayHttpTest(PkiMixin, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.good = server_cert(cls.pki, "sts-good", [HOST])
        cls.wrongname = server_cert(cls.pki, "sts-wrongname", ["mta-sts.fabrikam.test"])
        cls.untrusted = server_cert(cls.pki, "sts-untrusted", [HOST], issuer="rogue")
        cls.expired = server_cert(cls.pki, "sts-expired", [HOST], start=-30 * 86400,
                                  end=-86400)

    def fetch(self, *args, url=URL, addr=IP, ca="default", expect_callbacks=1):
        """Run the driver; returns (results, summary) after checking the contract."""
        argv = [build_program("relay_http_drive")]
        if ca == "default":
            ca = self.p("trusted-ca.pem")
        if ca:
            argv += ["--ca", ca]
        if addr:
            argv += ["--addr", addr]
        argv += list(args) + [url]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        results, summary = lines[:-1], lines[-1]
        self.assertEqual(summary["callbacks"], expect_callbacks, r.stdout.decode())
        self.assertEqual(summary["done"], 1)
        self.assertFalse(summary["done_sync"])
        self.assertEqual(summary["loop_close"], 0)      # every handle closed
        for res in results:
            self.assertFalse(res["sync"], res)
            self.assertTrue(res["nul"], res)
        return results, summary

    def server(self, files=None, cert=None):
        cert = cert or self.good
        return PolicyServer(self, IP, files if files is not None else {}, *cert)

    def test_get_ok(self):
        policy = sts_policy("enforce", ["mx.woodgrove.test", "*.backup.woodgrove.test"], 86400)
        web = self.server({HOST: policy})
        (res,), _ = self.fetch()
        self.assertIsNone(res["error"])
        self.assertEqual(res["status"], 200)
        self.assertEqual(res["body"], policy)
        self.assertEqual(res["content_type"], "text/plain")
        (get,) = web.gets(HOST)
        self.assertEqual(get.headers["Host"], HOST)
        self.assertIn("domsec/", get.headers["User-Agent"])

    def test_parallel_and_404(self):
        web = self.server({HOST: "version: STSv1\r\n"})
        results, _ = self.fetch("--parallel", "3", expect_callbacks=3)
        self.assertEqual([r["status"] for r in results], [200] * 3)
        self.assertEqual(len(web.gets(HOST)), 3)
        (res,), _ = self.fetch(url="https://%s/other" % HOST)
        self.assertIsNone(res["error"])             # a completed transfer ...
        self.assertEqual(res["status"], 404)        # ... with its status

    def test_body_limit(self):
        web = self.server({HOST: "x" * 65536})
        (res,), _ = self.fetch("--max", "65536")
        self.assertIsNone(res["error"])
        self.assertEqual(res["len"], 65536)
        web.set(HOST, "x" * 65537)
        (res,), _ = self.fetch("--max", "65536")
        self.assertEqual(res["error"], "body larger than 65536 bytes")
        self.assertFalse(res["tls_error"])
        self.assertEqual(res["len"], 0)             # nothing of it is handed over
        # no Content-Length: the limit is enforced on the bytes as they come
        web.set(HOST, Response(200, "y" * 100000, {"Content-Type": "text/plain"},
                               length=False))
        (res,), _ = self.fetch()                    # default limit 64 KiB
        self.assertEqual(res["error"], "body larger than 65536 bytes")
        self.assertEqual(res["len"], 0)

    def test_redirect_not_followed(self):
        web = self.server({HOST: Response(301, "moved\n", {
            "Location": "https://%s/elsewhere.txt" % HOST})})
        (res,), _ = self.fetch()
        self.assertIsNone(res["error"])
        self.assertEqual(res["status"], 301)
        self.assertEqual([r.path for r in web.requests()], [POLICY_PATH])

    def check_tls_refused(self, cert, ca="default"):
        web = self.server({HOST: "version: STSv1\r\n"}, cert=cert)
        (res,), _ = self.fetch(ca=ca)
        self.assertTrue(res["tls_error"], res)
        self.assertIsNotNone(res["error"])
        self.assertEqual(res["status"], 0)
        self.assertEqual(web.requests(), [])        # no request was sent
        return res

    def test_wrong_name_certificate(self):
        res = self.check_tls_refused(self.wrongname)
        self.assertIn("mta-sts.woodgrove.test", res["error"])

    def test_untrusted_certificate(self):
        self.check_tls_refused(self.untrusted)

    def test_expired_certificate(self):
        self.check_tls_refused(self.expired)

    def test_system_store_does_not_know_the_test_ca(self):
        self.check_tls_refused(self.good, ca=None)

    def test_timeout(self):
        web = self.server({HOST: Response(hang=True)})
        (res,), _ = self.fetch("--timeout", "1500")
        self.assertEqual(res["error"], "timeout")
        self.assertFalse(res["tls_error"])
        self.assertEqual(res["status"], 0)

    def test_too_slow(self):
        # Nothing for 30 s, a total of 50 s allowed: the low-speed limit (under 100 bytes/s
        # for 10 s) ends it, not the total.
        self.server({HOST: Response(delay=30, body="version: STSv1\r\n")})
        (res,), _ = self.fetch("--timeout", "50000")
        self.assertEqual(res["error"], "too slow: under 100 bytes/s for 10 s")
        self.assertFalse(res["tls_error"])

    def test_slow_answer_to_a_post_is_not_too_slow(self):
        # A TLS-RPT receiver that takes 12 s to answer an uploaded report: within the
        # total time, so no low-speed abort (that one is for GETs).
        web = self.server()
        web.post_response = Response(201, delay=12)
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"\x1f\x8b report")
            f.flush()
            (res,), _ = self.fetch("--timeout", "50000", "--post-type",
                                   "application/tlsrpt+gzip", "--post-file", f.name,
                                   url="https://%s/tlsrpt/v1" % HOST)
        self.assertIsNone(res["error"], res)
        self.assertEqual(res["status"], 201)
        self.assertEqual(len(web.posts()), 1)

    def test_missing_ca_file_is_ours_not_the_peers(self):
        # Our own anchors missing: not the peer's webpki failure (TLS-RPT would blame it).
        self.server({HOST: "version: STSv1\r\n"})
        (res,), _ = self.fetch(ca="/nonexistent/webpki.pem")
        self.assertIsNotNone(res["error"])
        self.assertFalse(res["tls_error"], res)
        self.assertTrue(res["local_error"], res)

    def test_post(self):
        web = self.server()
        body = bytes(range(256)) * 40               # binary, > 1 KiB (no Expect: 100)
        with tempfile.NamedTemporaryFile() as f:
            f.write(body)
            f.flush()
            (res,), _ = self.fetch("--post-type", "application/tlsrpt+gzip", "--post-file",
                                   f.name, url="https://%s/tlsrpt/v1" % HOST)
        self.assertIsNone(res["error"])
        self.assertEqual(res["status"], 200)
        (post,) = web.posts()
        self.assertEqual(post.path, "/tlsrpt/v1")
        self.assertEqual(post.headers["Content-Type"], "application/tlsrpt+gzip")
        self.assertIsNone(post.headers["Expect"])
        self.assertEqual(post.body, body)

    def test_no_address(self):
        self.server({HOST: "version: STSv1\r\n"})
        (res,), _ = self.fetch(addr=None)
        self.assertEqual(res["error"], "no address")
        self.assertFalse(res["tls_error"])

    def test_cancel_and_close_call_no_callback(self):
        self.server({HOST: Response(hang=True)})
        results, _ = self.fetch("--cancel", "--parallel", "2", expect_callbacks=0)
        self.assertEqual(results, [])
        results, _ = self.fetch("--close-pending", "300", "--parallel", "2", expect_callbacks=0)
        self.assertEqual(results, [])


if __name__ == "__main__":
    unittest.main()
