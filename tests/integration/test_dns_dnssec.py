"""dns/ with [dns] dnssec (the AD bit of a local validating resolver, issue 17) against
real signed zones (dane_peers.SignedZones: ldns-signzone, nsd, a validating unbound),
driven by $DOMSEC_BUILD/tests/dns_txt_drive.  Shown: a signed zone's MX, host addresses
and TLSA records come back secure; a bogus TLSA answer (tampered after signing) and an
expired signature are DNS_RETRY (they defer), never insecure; an unsigned zone, and an
unsigned child delegated without DS, are insecure; a secure NXDOMAIN for a TLSA name is
a secure "no TLSA records"; an MX host in an unsigned zone is insecure under a signed
MX RRset; without dnssec nothing is secure, even from a server that sets AD on every
answer (the AD bit is not trusted), and with dnssec every query carries AD=1; a TLSA
record with RDATA shorter than 3 bytes makes the answer malformed (DNS_RETRY), one
with empty association data is kept (unusable), and every record of a large RRset
comes back (the cap is the caller's, after its usable filter); a host
whose A or AAAA lookup fails (SERVFAIL) stays secure with the other half's secure
addresses (a broken half must not switch DANE off), while an insecure half makes it
insecure."""

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
            self.sock.sendto(self.reply(qid, d[12:i + 5]), peer)

    def reply(self, qid, q):
        """The answer to question q (its wire form: name, type, class)."""
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 52, 1, 300, len(self.rdata)) + self.rdata
        return struct.pack("!HHHHHH", qid, 0x81a0, 1, 1, 0, 0) + q + rr

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def wire_name(n):
    return b"".join(bytes([len(x)]) + x.encode() for x in n.split(".") if x) + b"\0"


class FakeZone(FakeAd):
    """FakeAd answering by (name, qtype) from a table: ("ad", [rdata...]) is data with
    AD=1, ("noad", [rdata...]) the same without AD ([] = NODATA), "servfail" what a
    validating resolver says for a bogus RRset; anything else is a SERVFAIL too."""

    def __init__(self, tc, table):
        self.table = table
        super().__init__(tc, b"")

    def reply(self, qid, q):
        i, labels = 0, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        ans = self.table.get((".".join(labels).lower(), qtype), "servfail")
        if ans == "servfail":
            return struct.pack("!HHHHHH", qid, 0x8182, 1, 0, 0, 0) + q
        kind, rdatas = ans
        rrs = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(r)) + r
                       for r in rdatas)
        return struct.pack("!HHHHHH", qid, 0x81a0 if kind == "ad" else 0x8180,
                           1, len(rdatas), 0, 0) + q + rrs


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
            tlsa("mx.woodgrove.test", 25, 2, 0, 2, "cd" * 64)]
            # 70 unusable PKIX-EE records and one usable: all 71 come back (over TCP)
            + [tlsa("mx.many.woodgrove.test", 25, 1, 1, 1, "%064x" % i) for i in range(70)]
            + [tlsa("mx.many.woodgrove.test", 25, 3, 1, 1, DATA)])
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
                          "mx:contoso.test", "tlsa:mx.contoso.test",
                          "tlsa:mx.many.woodgrove.test")
        m = res["mx:woodgrove.test"]
        self.assertEqual((m["status"], m["secure"]), ("ok", True), m)
        self.assertEqual([(h["name"], h["secure"], h["addrs"]) for h in m["hosts"]],
                         [("mx.woodgrove.test", True, ["127.0.0.173", "::1"]),
                          ("mx.contoso.test", False, ["127.0.0.174"])])
        t = res["tlsa:mx.woodgrove.test"]
        self.assertEqual((t["status"], t["secure"]), ("ok", True), t)
        self.assertEqual(sorted(map(tuple, t["tlsa"])),
                         [(2, 0, 2, "cd" * 64), (3, 1, 1, DATA)])
        t = res["tlsa:mx.many.woodgrove.test"]  # no cap before the caller's usable filter
        self.assertEqual((t["status"], t["secure"], len(t["tlsa"]),
                          t["tlsa"].count([3, 1, 1, DATA])),
                         ("ok", True, 71, 1), (t["status"], t["why"], len(t["tlsa"])))
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

    def test_failed_address_half_keeps_host_secure(self):
        """A failed A or AAAA lookup (SERVFAIL: what unbound says for a bogus or
        unreachable RRset) adds no addresses and must not make the host insecure: the
        other half's secure addresses keep DANE (review-b #1).  An insecure answer
        (NODATA without AD) still makes the host insecure."""
        mxr = lambda h: ("ad", [struct.pack("!H", 10) + wire_name(h)])
        v4 = ("ad", [bytes([192, 0, 2, 1])])
        v6 = ("ad", [bytes.fromhex("20010db8" + "0" * 23 + "1")])
        fake = FakeZone(self, {
            ("v6fail.test", 15): mxr("mx.v6fail.test"), ("mx.v6fail.test", 1): v4,
            ("mx.v6fail.test", 28): "servfail",
            ("v4fail.test", 15): mxr("mx.v4fail.test"), ("mx.v4fail.test", 1): "servfail",
            ("mx.v4fail.test", 28): v6,
            ("v6plain.test", 15): mxr("mx.v6plain.test"), ("mx.v6plain.test", 1): v4,
            ("mx.v6plain.test", 28): ("noad", []),
            ("bothfail.test", 15): mxr("mx.bothfail.test")})
        res = self.lookup("127.0.0.1:%d" % fake.port, True, "mx:v6fail.test",
                          "mx:v4fail.test", "mx:v6plain.test", "mx:bothfail.test")
        got = {n: (r["status"], r["secure"],
                   [(h["name"], h["status"], h["secure"], h["addrs"]) for h in r["hosts"]])
               for n, r in res.items()}
        self.maxDiff = None
        self.assertEqual(got, {
            "mx:v6fail.test": ("ok", True, [("mx.v6fail.test", "ok", True, ["192.0.2.1"])]),
            "mx:v4fail.test": ("ok", True, [("mx.v4fail.test", "ok", True, ["2001:db8::1"])]),
            "mx:v6plain.test": ("ok", True,
                                [("mx.v6plain.test", "ok", False, ["192.0.2.1"])]),
            "mx:bothfail.test": ("retry", True,
                                 [("mx.bothfail.test", "retry", False, [])])})

    def test_malformed_tlsa(self):
        fake = FakeAd(self, bytes([3, 1]))              # no matching type
        t = self.lookup("127.0.0.1:%d" % fake.port, True,
                        "tlsa:mx.short.test")["tlsa:mx.short.test"]
        self.assertEqual((t["status"], t["why"], t["tlsa"]),
                         ("retry", "malformed TLSA answer", []), t)

    def test_empty_tlsa_data_is_an_unusable_record(self):
        """A record with empty association data is an unusable record, not a broken
        answer (RFC 7671 4): the others of the RRset stay usable (review-b #5)."""
        fake = FakeZone(self, {("_25._tcp.mx.empty.test", 52): (
            "ad", [bytes([3, 1, 1]), bytes([3, 1, 1]) + bytes.fromhex(DATA)])})
        e = self.lookup("127.0.0.1:%d" % fake.port, True,
                        "tlsa:mx.empty.test")["tlsa:mx.empty.test"]
        self.assertEqual((e["status"], e["secure"], e["tlsa"]),
                         ("ok", True, [[3, 1, 1, ""], [3, 1, 1, DATA]]), e)


if __name__ == "__main__":
    unittest.main()
