"""Outbound connection caching (domsec.conf(5) connection_cache_time and
connection_reuse_time): a connection whose destination has no more mail waits idle
for the next message, which then needs no new TCP connection or TLS handshake; it
says QUIT when the cache time passes and when another destination needs its place under
max_outbound_connections.  That a connection older than connection_reuse_time is not
reused (which needs the clock to pass its 1 s minimum) is unit-tested against a scripted
peer: tests/unit/relay_smtpc_idle_test.c, test_reuse_time_passed."""

import re
import unittest

from domsec_harness import wait_until
from peers import RX_ID, DeliveryTestCase, host


class ConnectionCacheTest(DeliveryTestCase):

    def quits(self, p):
        """Connection numbers on which the peer read a QUIT."""
        with p.lock:
            return [no for _, no, line in p.commands if line.upper() == "QUIT"]

    def mails(self, p):
        with p.lock:
            return [no for _, no, line in p.commands if line.upper().startswith("MAIL FROM")]

    def delivered_sid(self, d, qid, rcpt):
        m = d.wait_log(d.prefix() + r"info smtp (%s) delivered id=%s to=%s " %
                       (RX_ID, qid, re.escape(rcpt)))
        return m.group(1)

    def test_idle_connection_carries_the_next_messages(self):
        self.start_dns(host("cache.test", "127.0.0.40"))
        p = self.peer("127.0.0.40")
        d = self.start_relay({"connection_cache_time": "1m"})
        sids = []
        for i in range(3):                  # each one queued after the last was delivered
            rcpt = "<u%d@cache.test>" % i
            sids.append(self.delivered_sid(d, self.submit(d, [rcpt]), rcpt))
            self.assertEqual(p.count(rcpt), 1)
        self.assertEqual(len(p.connections), 1, "a message opened a connection of its own")
        self.assertEqual(self.mails(p), [1, 1, 1])
        self.assertEqual(self.quits(p), [], "the idle connection said QUIT early")
        self.assertEqual(len(set(sids)), 1, "one protocol-log session for the three")
        # At shutdown the idle connection says goodbye.
        self.assertEqual(d.stop(), 0)
        wait_until(lambda: self.quits(p) == [1], 10, "QUIT at shutdown")

    def test_idle_connection_quits_when_the_cache_time_passes(self):
        self.start_dns(host("cache.test", "127.0.0.41"))
        p = self.peer("127.0.0.41")
        d = self.start_relay({"connection_cache_time": "200ms"})
        rcpt = "<first@cache.test>"
        self.delivered_sid(d, self.submit(d, [rcpt]), rcpt)
        wait_until(lambda: self.quits(p) == [1], 15, "QUIT after the cache time")
        rcpt = "<second@cache.test>"
        self.delivered_sid(d, self.submit(d, [rcpt]), rcpt)
        self.assertEqual(len(p.connections), 2)
        self.assertEqual(self.mails(p), [1, 2])

    def test_cache_time_zero_quits_after_the_last_message(self):
        self.start_dns(host("cache.test", "127.0.0.42"))
        p = self.peer("127.0.0.42")
        d = self.start_relay({"connection_cache_time": "0"})
        rcpt = "<only@cache.test>"
        self.delivered_sid(d, self.submit(d, [rcpt]), rcpt)
        # QUIT went out with the reply to the final dot, before the delivery was
        # logged (that waits for the queue record), so the next message cannot reuse it.
        rcpt = "<next@cache.test>"
        self.delivered_sid(d, self.submit(d, [rcpt]), rcpt)
        self.assertEqual(len(p.connections), 2)
        self.assertEqual(self.mails(p), [1, 2])
        wait_until(lambda: self.quits(p) == [1, 2], 10, "QUIT after each message")

    def test_idle_connection_gives_way_to_another_destination(self):
        # One connection in all: the idle one to a.test must QUIT for b.test's
        # message, which would otherwise wait out the five-minute cache time.
        self.start_dns(host("a.test", "127.0.0.44"), host("b.test", "127.0.0.45"))
        pa, pb = self.peer("127.0.0.44"), self.peer("127.0.0.45")
        d = self.start_relay({"connection_cache_time": "5m", "max_outbound_connections": "1"})
        self.delivered_sid(d, self.submit(d, ["<u@a.test>"]), "<u@a.test>")
        self.assertEqual(self.quits(pa), [])
        self.delivered_sid(d, self.submit(d, ["<u@b.test>"]), "<u@b.test>")
        self.assertEqual(self.quits(pa), [1], "a.test's idle connection did not give way")
        self.assertEqual(pb.count("<u@b.test>"), 1)


if __name__ == "__main__":
    unittest.main()
