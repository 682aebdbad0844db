"""dns/ with [dns] dnssec (the AD bit of a local validating resolver, issue 17) against
real signed zones (dane_peers.SignedZones: ldns-signzone, nsd, a validating unbound),
driven by $DOMSEC_BUILD/tests/dns_txt_drive.  Shown: a signed zone's MX, host addresses
and TLSA records come back secure; a bogus TLSA answer (tampered after signing) and an
expired signature are DNS_RETRY (they defer), never insecure; an unsigned zone, and an
unsigned child delegated without DS, are insecure; a secure NXDOMAIN for a TLSA name is
a secure "no TLSA records"; an MX host in an unsigned zone is insecure under a signed
MX RRset; without dnssec nothing is secure, even from a server that sets AD on every
answer (the AD bit is not trusted), and with dnssec every query carries AD=1; a TLSA
record with RDATA shorter than 4 bytes makes the answer malformed (DNS_RETRY)."""

import json
import socket
import struct
import subprocess
import tempfile
import threading
import unittest

from dane_peers import SignedZones, a, aaaa, mx, tlsa
from sts_peers import build_program

DATA = "3e" * 32


class FakeAd:
    """A UDP DNS server on 127.0.0.1 that answers every query with AD=1 (a lying or
    non-validating upstream) and one TLSA record of the given RDATA; it remembers the
    flags of each query."""

    def __init__(self, tc, rdata):
        self.rdata, self.flags = rdata, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    def _serve(self):
        while not self.stopping.is_set():
            try:
                d, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            qid, flags = struct.unpack("!HH", d[:4])
            self.flags.append(flags)
            i = 12
            while d[i]:
                i += 1 + d[i]
            q = d[12:i + 5]
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 52, 1, 300, len(self.rdata)) + self.rdata
            self.sock.sendto(struct.pack("!HHHHHH", qid, 0x81a0, 1, 1, 0, 0) + q + rr, peer)

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


class DnsDnssecTest(unittest.TestCase):

    def lookup(self, server, dnssec, *names):
        """{kind:name: result} of dns_txt_drive; one callback each, none synchronous."""
        r = subprocess.run([build_program("dns_txt_drive"), server, "1000"]
                           + (["--dnssec"] if dnssec else []) + list(names),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        self.assertEqual(lines[-1], {"callbacks": len(names), "loop_close": 0})
        out = {}
        for res in lines[:-1]:
            self.assertFalse(res["sync"], res)
            out[res["name"]] = res
        return out

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="domsec-dnssec-")

    def zones(self):
        z = SignedZones(self, self.tmp)
        z.zone("woodgrove.test", [
            mx("woodgrove.test", "mx.woodgrove.test", 10),
            mx("woodgrove.test", "mx.contoso.test", 20),
            a("mx.woodgrove.test", "127.0.0.173"), aaaa("mx.woodgrove.test", "::1"),
            tlsa("mx.woodgrove.test", 25, 3, 1, 1, DATA),
            tlsa("mx.woodgrove.test", 25, 2, 0, 2, "cd" * 64)])
        z.zone("legacy.woodgrove.test", [
            mx("legacy.woodgrove.test", "mx.legacy.woodgrove.test", 10),
            a("mx.legacy.woodgrove.test", "127.0.0.173"),
            tlsa("mx.legacy.woodgrove.test", 25, 3, 1, 1, DATA)], kind="unsigned")
        z.zone("tampered.test", [
            mx("tampered.test", "mx.tampered.test", 10), a("mx.tampered.test", "127.0.0.173"),
            tlsa("mx.tampered.test", 25, 3, 1, 1, DATA)], kind="bogus")
        z.zone("expired.test", [mx("expired.test", "mx.expired.test", 10)], kind="expired")
        z.zone("contoso.test", [
            mx("contoso.test", "mx.contoso.test", 10), a("mx.contoso.test", "127.0.0.174"),
            tlsa("mx.contoso.test", 25, 3, 1, 1, DATA)], kind="unsigned")
        z.start()
        return z

    def test_signed_bogus_unsigned(self):
        z = self.zones()
        # the fixture itself: unbound validates, nsd alone never says AD
        self.assertEqual(z.query("_25._tcp.mx.woodgrove.test", "TLSA")[:2], (0, True))
        self.assertEqual(z.query("_25._tcp.mx.tampered.test", "TLSA")[:2], (2, False))
        self.assertEqual(z.query_nsd("_25._tcp.mx.woodgrove.test", "TLSA")[:2], (0, False))
        res = self.lookup(z.servers, True, "mx:woodgrove.test", "tlsa:mx.woodgrove.test",
                          "host:mx.woodgrove.test", "tlsa:nosuch.woodgrove.test",
                          "mx:legacy.woodgrove.test", "tlsa:mx.legacy.woodgrove.test",
                          "mx:tampered.test", "tlsa:mx.tampered.test", "mx:expired.test",
                          "mx:contoso.test", "tlsa:mx.contoso.test")
        m = res["mx:woodgrove.test"]
        self.assertEqual((m["status"], m["secure"]), ("ok", True), m)
        self.assertEqual([(h["name"], h["secure"], h["addrs"]) for h in m["hosts"]],
                         [("mx.woodgrove.test", True, ["127.0.0.173", "::1"]),
                          ("mx.contoso.test", False, ["127.0.0.174"])])
        t = res["tlsa:mx.woodgrove.test"]
        self.assertEqual((t["status"], t["secure"]), ("ok", True), t)
        self.assertEqual(sorted(map(tuple, t["tlsa"])),
                         [(2, 0, 2, "cd" * 64), (3, 1, 1, DATA)])
        h = res["host:mx.woodgrove.test"]["hosts"][0]
        self.assertEqual((h["secure"], h["addrs"]), (True, ["127.0.0.173", "::1"]))
        n = res["tlsa:nosuch.woodgrove.test"]
        self.assertEqual((n["status"], n["why"], n["secure"]), ("fail", "no TLSA records", True))
        for name in ("mx:legacy.woodgrove.test", "mx:contoso.test"):
            self.assertEqual((res[name]["status"], res[name]["secure"],
                              res[name]["hosts"][0]["secure"]), ("ok", False, False), name)
        for name in ("tlsa:mx.legacy.woodgrove.test", "tlsa:mx.contoso.test"):
            self.assertEqual((res[name]["status"], res[name]["secure"], len(res[name]["tlsa"])),
                             ("ok", False, 1), name)
        # bogus: the MX (untouched) is secure, the tampered TLSA defers
        self.assertEqual((res["mx:tampered.test"]["status"], res["mx:tampered.test"]["secure"]),
                         ("ok", True))
        b = res["tlsa:mx.tampered.test"]
        self.assertEqual((b["status"], b["secure"], b["tlsa"]), ("retry", False, []), b)
        e = res["mx:expired.test"]
        self.assertEqual((e["status"], e["secure"], e["hosts"]), ("retry", False, []), e)

        # without dnssec nothing is secure (same server, same answers otherwise)
        res = self.lookup(z.servers, False, "mx:woodgrove.test", "tlsa:mx.woodgrove.test")
        m, t = res["mx:woodgrove.test"], res["tlsa:mx.woodgrove.test"]
        self.assertEqual((m["status"], m["secure"], [h["secure"] for h in m["hosts"]]),
                         ("ok", False, [False, False]))
        self.assertEqual((t["status"], t["secure"], len(t["tlsa"])), ("ok", False, 2))

    def test_ad_trusted_only_with_dnssec(self):
        fake = FakeAd(self, bytes([3, 1, 1]) + bytes.fromhex(DATA))
        srv = "127.0.0.1:%d" % fake.port
        t = self.lookup(srv, False, "tlsa:mx.lying.test")["tlsa:mx.lying.test"]
        self.assertEqual((t["status"], t["secure"], t["tlsa"]), ("ok", False, [[3, 1, 1, DATA]]))
        self.assertTrue(fake.flags and not any(f & 0x20 for f in fake.flags), fake.flags)
        del fake.flags[:]
        t = self.lookup(srv, True, "tlsa:mx.lying.test")["tlsa:mx.lying.test"]
        self.assertEqual((t["status"], t["secure"]), ("ok", True))
        self.assertTrue(fake.flags and all(f & 0x20 for f in fake.flags), fake.flags)

    def test_malformed_tlsa(self):
        fake = FakeAd(self, bytes([3, 1, 1]))           # no association data
        t = self.lookup("127.0.0.1:%d" % fake.port, True,
                        "tlsa:mx.short.test")["tlsa:mx.short.test"]
        self.assertEqual((t["status"], t["why"], t["tlsa"]),
                         ("retry", "malformed TLSA answer", []), t)


if __name__ == "__main__":
    unittest.main()
