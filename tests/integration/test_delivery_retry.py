"""Retries, deferral texts, the delay DSN and expiry (docs/DELIVERY.md, "Deferral text"
and "Retries, delay, expiry"), with timers of seconds."""

import re
import time
import unittest

from domsec_harness import state_records, wait_until
from peers import DeliveryTestCase, Dsn, host, mx, unquote

FAILOVER = ('" Attempted failover to alternate host, but that did not succeed. Either there '
            'are no alternate hosts, or delivery failed to all alternate hosts. '
            'The last endpoint attempted was ')


def gaps(times):
    return [round(b - a, 3) for a, b in zip(times, times[1:])]


class RetryTest(DeliveryTestCase):

    def deferred_lines(self, d, qid, rcpt):
        return re.findall(d.prefix() + r'info smtp \S+ deferred id=%s to=%s reason="(.*)"\s*$'
                          % (qid, re.escape(rcpt)), d.log(), re.M)

    # The whole schedule (transient_failure_retry_count, then message_retry_interval,
    # or outbound_connection_failure_retry_interval after a round that reached no
    # host) is relay_qmgr_test's, with a fake clock; this is its end-to-end case.
    def test_451_twice_then_delivered_on_schedule(self):
        self.start_dns(host("retry.test", "127.0.0.30"))
        p = self.peer("127.0.0.30", on_rcpt=lambda a, n: "451 4.3.0 Try again later"
                      if n <= 2 else None)
        # a long message retry interval: only the 1 s transient interval can pass
        d = self.start_relay({"message_retry_interval": "1m",
                              "outbound_connection_failure_retry_interval": "1m"})
        qid = self.submit(d, ["<u@retry.test>"])
        self.wait_delivered(d, qid, "<u@retry.test>", ip="127.0.0.30", timeout=30)
        t = p.rcpt_times("<u@retry.test>")
        self.assertEqual(len(t), 3, p.rcpt_log)
        for g in gaps(t):
            self.assertGreaterEqual(g, 0.8, "retried too early: %r" % gaps(t))
            self.assertLess(g, 5.0, "not retried at the 1 s interval: %r" % gaps(t))
        reasons = self.deferred_lines(d, qid, "<u@retry.test>")
        self.assertEqual(len(reasons), 2, d.log())
        for r in reasons:
            self.assertIn("451 4.3.0 Try again later", unquote(r))
        log = d.log()
        self.assertLess(log.rindex("deferred id=%s" % qid), log.index("delivered id=%s" % qid))
        self.assertEqual(p.count("<u@retry.test>"), 1)
        self.wait_removed(d, qid)

    def test_all_hosts_down_deferral_text(self):
        self.start_dns(mx("down.test", "mx1.down.test", 10), mx("down.test", "mx2.down.test", 20),
                       host("mx1.down.test", "127.0.0.32"), host("mx2.down.test", "127.0.0.33"))
        d = self.start_relay()                      # nothing listens on .32 or .33
        qid = self.submit(d, ["<u@down.test>"])
        m = d.wait_log(d.prefix() + r'info smtp \S+ deferred id=%s to=<u@down\.test> '
                       r'reason="(.*)"\s*$' % qid, 20)
        want = re.compile(r'^441 4\.4\.1 Error encountered while communicating with primary '
                          r'target IP address: "[^"]+' + re.escape(FAILOVER) +
                          re.escape("127.0.0.33:%d" % self.P) + "$")
        self.assertRegex(unquote(m.group(1)), want)

        def record():
            rs = [r for r in state_records(d.read_message(qid))
                  if r.kind == "rcpt" and r.state == "deferred"]
            return rs[-1] if rs else None
        rec = wait_until(record, 10, "a 'rcpt 0 deferred' record in the queue file")
        self.assertEqual(rec.index, 0)
        self.assertGreaterEqual(rec.attempts, 1)
        self.assertRegex(rec.text, want)
        self.assertEqual(rec.text, unquote(m.group(1)))
        nexts = [r for r in state_records(d.read_message(qid)) if r.kind == "next"]
        self.assertTrue(nexts, "no 'next' record after a deferral")
        self.assertGreaterEqual(nexts[-1].ms, rec.ms, "next attempt before the failure")

    def test_421_banner_on_all_hosts_deferral_text(self):
        self.start_dns(mx("busy.test", "mx1.busy.test", 10), mx("busy.test", "mx2.busy.test", 20),
                       host("mx1.busy.test", "127.0.0.34"), host("mx2.busy.test", "127.0.0.35"))
        p1 = self.peer("127.0.0.34", banner="421 4.3.2 Service not available")
        p2 = self.peer("127.0.0.35", banner="421 4.3.2 Service not available")
        d = self.start_relay()
        qid = self.submit(d, ["<u@busy.test>"])
        m = d.wait_log(d.prefix() + r'info smtp \S+ deferred id=%s to=<u@busy\.test> '
                       r'reason="(.*)"\s*$' % qid, 20)
        want = ('451 4.4.0 Primary target IP address responded with: "421 4.3.2 Service not '
                'available.' + FAILOVER + "127.0.0.35:%d" % self.P)
        self.assertEqual(unquote(m.group(1)), want)
        self.assertTrue(p1.connections and p2.connections, "both MX hosts must be tried")
        self.assertLessEqual(p1.connections[0][0], p2.connections[0][0], "wrong host order")
        rec = wait_until(lambda: [r for r in state_records(d.read_message(qid))
                                  if r.kind == "rcpt"], 10, "a rcpt state record")[-1]
        self.assertEqual((rec.state, rec.text), ("deferred", want))


class DelayExpiryTest(DeliveryTestCase):

    def test_delay_dsn(self):
        # End to end: the delay DSN reaches the sender and parses.  That there is
        # only one over many rounds, and never before delay_notification_timeout,
        # is relay_qmgr_test's (test_delay_dsn and test_no_delay_dsn_early, fake clock).
        self.start_dns(host("slow.test", "127.0.0.36"))   # down
        ss = self.sender_sink()
        d = self.start_relay({"delay_notification_timeout": "1s"})
        t0 = time.monotonic()
        qid = self.submit(d, ["<u@slow.test>"])
        dsn_id = self.wait_dsn(d, qid, "delay", timeout=30)
        self.assertGreaterEqual(time.monotonic() - t0, 0.8, "delay DSN before the timeout")
        dsn = self.fetch_dsn(d, ss, dsn_id)
        self.assertDsnPart(dsn)
        b = dsn.recipients()["u@slow.test"]
        self.assertEqual(Dsn.field(b, "Action"), "delayed")
        self.assertRegex(Dsn.field(b, "Status") or "", r"^4\.\d{1,3}\.\d{1,3}$")
        self.assertIn(qid, d.message_ids(), "a delay DSN must not end the message")
        self.assertTrue(any(r.kind == "delay" for r in state_records(d.read_message(qid))))

    def test_expiry_fails_with_4_4_7_dsn(self):
        self.start_dns(host("gone.test", "127.0.0.37"))   # down
        ss = self.sender_sink()
        d = self.start_relay({"message_expiration_timeout": "5s"})     # the least allowed
        t0 = time.monotonic()
        qid = self.submit(d, ["<u@gone.test>"])
        d.wait_log(d.prefix() + r"info queue expired id=%s\s*$" % qid, 40)
        self.assertGreaterEqual(time.monotonic() - t0, 4.5, "expired before the timeout")
        self.assertTrue(re.search(r"deferred id=%s " % qid, d.log()), "never attempted")
        self.assertEqual(self.wait_failed(d, qid, "<u@gone.test>"),
                         "550 4.4.7 QUEUE.Expired; message expired")
        dsn = self.fetch_dsn(d, ss, self.wait_dsn(d, qid, "failure"))
        self.assertDsnPart(dsn)
        b = dsn.recipients()["u@gone.test"]
        self.assertEqual((Dsn.field(b, "Action"), Dsn.field(b, "Status")), ("failed", "4.4.7"))
        self.assertIn("QUEUE.Expired", Dsn.field(b, "Diagnostic-Code") or "")
        self.wait_removed(d, qid)
        self.assertNotRegex(d.log(), r"kind=delay")


if __name__ == "__main__":
    unittest.main()
