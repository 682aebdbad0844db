"""The queue manager's DANE lookups in a running domsecd (issue 17, relay_qdane.c)
against real signed zones (dane_peers.SignedZones: ldns-signzone, nsd, a validating
unbound).  Nothing listens on the MX addresses: what is checked is what the queue
manager found before connecting, in its log lines
`dane domain=D mx=H state=usable|unusable|none|failed records=N [why="..."]`.

Shown: with [dns] dnssec = no no TLSA record is looked up, even for a signed zone;
a reload that turns it on replaces the resolver (logged dnssec=yes) and the next
attempt finds the states: a secure host with a 3 1 1 record is usable (1 record),
a host whose zone is unsigned under the same secure MX RRset is none, a bogus TLSA
answer is failed (SERVFAIL), and an unsigned domain gets no DANE line at all;
[send] dane = no turns it off again for that connector."""

import re
import shutil
import tempfile
import unittest

from dane_peers import SignedZones, a, mx, tlsa
from domsec_harness import Daemon, queued_id
from peers import DELIVERY_TRANSPORT, SENDER, DomsecTestCase, shared_port

DATA = "3e" * 32
IP = "127.0.0.178"                      # nothing listens here (no other test uses it)


class DaneDnsTest(DomsecTestCase):

    def setUp(self):
        self.port = shared_port()
        tmp = tempfile.mkdtemp(prefix="domsec-dane-dns-")
        self.addCleanup(shutil.rmtree, tmp, True)
        z = SignedZones(self, tmp)
        z.zone("woodgrove.test", [
            mx("woodgrove.test", "mx.woodgrove.test", 10),
            mx("woodgrove.test", "mx.contoso.test", 20),
            a("mx.woodgrove.test", IP),
            tlsa("mx.woodgrove.test", self.port, 3, 1, 1, DATA)])
        z.zone("tampered.test", [
            mx("tampered.test", "mx.tampered.test", 10), a("mx.tampered.test", IP),
            tlsa("mx.tampered.test", self.port, 3, 1, 1, DATA)], kind="bogus")
        z.zone("contoso.test", [
            mx("contoso.test", "mx.contoso.test", 10), a("mx.contoso.test", IP),
            tlsa("mx.contoso.test", self.port, 3, 1, 1, DATA)], kind="unsigned")
        z.start()
        self.z = z

    def relay(self, dnssec, dane="yes"):
        d = Daemon(self, connectors=[("Hub", {"permission": "internal"})],
                   transport=dict(DELIVERY_TRANSPORT),
                   sends=[("Internet", {"address_spaces": "*", "dns_routing": "yes",
                                        "port": str(self.port), "dane": dane})],
                   dns={"servers": self.z.servers, "timeout": "2s", "dnssec": dnssec})
        d.start()
        return d

    def submit(self, d, rcpts):
        c = d.session()
        msg = b"From: %s\r\nSubject: dane\r\n\r\nHello.\r\n" % SENDER.encode()
        qid = queued_id(c.transaction(SENDER, rcpts, msg))
        c.close()
        return qid

    def deferred(self, d, qid, domain, since=0):
        d.wait_log(r'info smtp .*deferred id=%s to=<u@%s>' % (qid, re.escape(domain)), 30,
                   since=since)

    def dane_lines(self, d, since=0):
        return re.findall(r"info queue dane domain=(\S+) mx=(\S+) state=(\S+) records=(\d+)"
                          r'(?: why="([^"]*)")?', d.log()[since:])

    def test_reload_turns_dnssec_on(self):
        d = self.relay("no")
        qid = self.submit(d, ["<u@woodgrove.test>"])
        self.deferred(d, qid, "woodgrove.test")
        self.assertEqual(self.dane_lines(d), [])

        mark = d.log_mark()
        d.write_config(d.config_text.replace("dnssec = no", "dnssec = yes"))
        d.reload()
        d.wait_log(r"info qmgr dns resolver replaced servers=%s .*dnssec=yes"
                   % re.escape(self.z.servers), 10, since=mark)
        qid = self.submit(d, ["<u@woodgrove.test>", "<u@tampered.test>", "<u@contoso.test>"])
        for dom in ("woodgrove.test", "tampered.test", "contoso.test"):
            self.deferred(d, qid, dom, since=mark)
        got = sorted(set(self.dane_lines(d, mark)))     # a retry may look up again
        self.assertEqual(got, [
            ("tampered.test", "mx.tampered.test", "failed", "0",
             "SERVFAIL (DNSSEC bogus or server failure)"),
            ("woodgrove.test", "mx.contoso.test", "none", "0", ""),
            ("woodgrove.test", "mx.woodgrove.test", "usable", "1", "")], d.log()[mark:])

    def test_connector_dane_no(self):
        d = self.relay("yes", dane="no")
        qid = self.submit(d, ["<u@woodgrove.test>"])
        self.deferred(d, qid, "woodgrove.test")
        self.assertEqual(self.dane_lines(d), [])


if __name__ == "__main__":
    unittest.main()
