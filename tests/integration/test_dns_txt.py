"""dns/dns_txt.c (dns_txt_lookup) against dnsmasq serving sts_peers.txt() records
(peers.Dns), and against a fake server for SERVFAIL and timeouts
(tests/unit/fakedns.py), driven by $DOMSEC_BUILD/tests/dns_txt_drive.  Shown: one
entry per TXT record with its strings concatenated (commas, semicolons and >255-byte
values intact), several records of one name, NXDOMAIN and NODATA are DNS_FAIL,
SERVFAIL and timeouts DNS_RETRY, callbacks never run inside the starting call, and
Dns.replace() serves changed records on the same port."""

import json
import os
import socket
import subprocess
import sys
import unittest

from domsec_harness import wait_until
from peers import Dns, free_udp_port, host
from sts_peers import build_program, txt

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEDNS = os.path.join(HERE, "..", "unit", "fakedns.py")


class DnsTxtTest(unittest.TestCase):

    def lookup(self, server, *names, timeout_ms=1000):
        """{name: result} of dns_txt_drive; checks one callback each, none synchronous."""
        r = subprocess.run([build_program("dns_txt_drive"), server, str(timeout_ms)] + list(names),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        self.assertEqual(lines[-1], {"callbacks": len(names), "loop_close": 0})
        out = {}
        for res in lines[:-1]:
            self.assertFalse(res["sync"], res)
            self.assertEqual(res["nhosts"], 0)
            out[res["name"]] = res
        return out

    def expect(self, res, status, why=None, txt_records=()):
        self.assertEqual(res["status"], status, res)
        if why is not None:
            self.assertEqual(res["why"], why, res)
        self.assertEqual(sorted(res["txt"]), sorted(txt_records), res)

    def test_records(self):
        long = "v=STSv1; id=" + "7" * 300
        dns = Dns(self, [
            txt("_mta-sts.woodgrove.test", "v=STSv1; id=20261207"),
            txt("_smtp._tls.woodgrove.test", "v=TLSRPTv1; ",
                "rua=mailto:tlsrpt@contoso.test,https://rpt.contoso.test/v1"),
            txt("two.woodgrove.test", "v=STSv1; id=a"),
            txt("two.woodgrove.test", "unrelated"),
            txt("long.woodgrove.test", long),
            host("mta-sts.woodgrove.test", "127.0.0.65")])
        # what dnsmasq serves: the multi-string record really is two strings
        rcode, answers = dns.query("_smtp._tls.woodgrove.test", "TXT")
        self.assertEqual((rcode, len(answers), len(answers[0])), (0, 1, 2))
        srv = "127.0.0.1:%d" % dns.port
        res = self.lookup(srv, "_mta-sts.woodgrove.test", "_smtp._tls.woodgrove.test.",
                          "two.woodgrove.test", "long.woodgrove.test",
                          "nope.woodgrove.test", "mta-sts.woodgrove.test", "")
        self.expect(res["_mta-sts.woodgrove.test"], "ok", "ok", ["v=STSv1; id=20261207"])
        self.expect(res["_smtp._tls.woodgrove.test."], "ok", "ok",
                    ["v=TLSRPTv1; rua=mailto:tlsrpt@contoso.test,https://rpt.contoso.test/v1"])
        self.expect(res["two.woodgrove.test"], "ok", "ok", ["v=STSv1; id=a", "unrelated"])
        self.expect(res["long.woodgrove.test"], "ok", "ok", [long])
        self.expect(res["nope.woodgrove.test"], "fail", "NXDOMAIN")
        self.expect(res["mta-sts.woodgrove.test"], "fail", "no TXT records")     # NODATA
        self.expect(res[""], "fail", "bad domain name")

        dns.replace([txt("_mta-sts.woodgrove.test", "v=STSv1; id=20261208")])
        self.assertEqual(srv, "127.0.0.1:%d" % dns.port)
        res = self.lookup(srv, "_mta-sts.woodgrove.test")
        self.expect(res["_mta-sts.woodgrove.test"], "ok", "ok", ["v=STSv1; id=20261208"])

    def test_many_records_all_kept(self):
        # 80 records (past the old cut at 64; the answer needs TCP): every one is there,
        # so a second v=STSv1 record at the end is seen ("exactly one" is decided on all).
        recs = [txt("many.woodgrove.test", "filler %02d" % i) for i in range(79)]
        recs.append(txt("many.woodgrove.test", "v=STSv1; id=late"))
        dns = Dns(self, recs)
        res = self.lookup("127.0.0.1:%d" % dns.port, "many.woodgrove.test")
        self.expect(res["many.woodgrove.test"], "ok", "ok",
                    ["filler %02d" % i for i in range(79)] + ["v=STSv1; id=late"])

    def test_servfail_and_timeout(self):
        port = free_udp_port()
        with open(os.devnull, "wb") as null:
            fake = subprocess.Popen([sys.executable, FAKEDNS, str(port)], stdout=null,
                                    stderr=null)
        self.addCleanup(fake.wait, 5)
        self.addCleanup(fake.kill)

        def answers():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.2)
            try:
                s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                         b"\x05probe\x00\x00\x10\x00\x01", ("127.0.0.1", port))
                return s.recv(512)[:2] == b"\x12\x34"
            except OSError:
                return False
            finally:
                s.close()
        wait_until(answers, 10, "fakedns.py on port %d" % port)
        res = self.lookup("127.0.0.1:%d" % port, "servfail.woodgrove.test",
                          "timeout.woodgrove.test", timeout_ms=200)
        self.expect(res["servfail.woodgrove.test"], "retry", "DNS server failure")
        self.expect(res["timeout.woodgrove.test"], "retry", "DNS timeout")


if __name__ == "__main__":
    unittest.main()
