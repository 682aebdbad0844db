"""kill -9 in the middle of a queue, then restart (docs/DELIVERY.md, "Queue file state
records"): every recipient is delivered, none the daemon had logged as delivered is
delivered again, and a duplicate is allowed only where the peer had accepted the
message but the daemon had not yet recorded it.  Retry state survives a restart."""

import collections
import re
import time
import unittest

from domsec_harness import state_records, wait_until
from peers import DeliveryTestCase, deliveries, host


class RestartTest(DeliveryTestCase):

    def test_kill9_mid_queue_delivers_each_remaining_recipient_once(self):
        self.start_dns(host("r1.test", "127.0.0.40"), host("r2.test", "127.0.0.41"),
                       host("r3.test", "127.0.0.42"))
        hold = [True]
        peers = [self.peer("127.0.0.40"),
                 self.peer("127.0.0.41", delays={"DOT": 0.4}),       # slow: in flight at the kill
                 self.peer("127.0.0.42", on_rcpt=lambda a, n: "451 4.3.0 Not yet"
                           if hold[0] else None)]                    # deferred until restart
        d = self.start_relay({"max_per_domain_outbound_connections": "1"})
        c = d.session()
        rcpts = []
        for i in range(10):
            rs = ["<u%d@r%d.test>" % (i, k) for k in (1, 2, 3)]
            rcpts += rs
            self.submit(d, rs, client=c)
        # kill while r2's peer holds a final dot: it accepts that message after the daemon
        # died, so the daemon never recorded it and must deliver it again (a duplicate)
        wait_until(lambda: len(deliveries(d.log(), d.pid)) >= 12 and peers[1].in_dot, 60,
                   "12 delivered lines and a message at r2's final dot")
        d.kill9()
        wait_until(lambda: all(p.idle() for p in peers), 10, "the peers to see the close")

        logged = collections.Counter(r for _, r in deliveries(d.log(), d.pid))
        accepted_before = collections.Counter()
        for p in peers:
            for r in rcpts:
                accepted_before[r] += p.count(r)
        self.assertEqual(set(logged.values()), {1}, "logged twice before the kill: %r" % logged)
        self.assertTrue(12 <= len(logged) < 30, len(logged))
        for r in logged:
            self.assertEqual(accepted_before[r], 1, "%s logged delivered, peer count %d"
                             % (r, accepted_before[r]))
        in_flight = [r for r in rcpts if accepted_before[r] and r not in logged]
        self.assertTrue(in_flight, "no message was at the peer's final dot at the kill")

        hold[0] = False
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=([1-9]\d*) corrupt=0\s*$")

        def done():
            return all(sum(p.count(r) for p in peers) >= 1 for r in rcpts) and \
                not d.message_ids()
        wait_until(done, 90, "every recipient delivered and the queue empty")

        final = {r: sum(p.count(r) for p in peers) for r in rcpts}
        for r in rcpts:
            n = final[r]
            if r in logged:
                self.assertEqual(n, 1, "%s was logged delivered before the kill, then "
                                 "delivered %d times" % (r, n))
            elif n > 1:
                self.assertEqual(accepted_before[r], 1,
                                 "%s delivered %d times but the peer had not accepted it "
                                 "before the kill" % (r, n))
                self.assertEqual(n, 2, "%s delivered %d times" % (r, n))
        again = [r for _, r in deliveries(d.log(), d.pid) if r in logged]
        self.assertEqual(again, [], "delivered again after the restart")
        self.assertNotRegex(d.all_logs(), r"info (queue|smtp \S+) failed ")
        for p, k in zip(peers, (1, 2, 3)):
            for t in p.delivered():
                self.assertTrue(all(r.endswith("@r%d.test>" % k) for r in t.rcpts), t)

    def test_sigterm_waits_for_the_reply_to_a_sent_message(self):
        # SIGTERM while the peer holds a final dot: the daemon waits for its reply
        # (up to 30 s) instead of dropping the connection, so the message is recorded
        # as delivered and is not sent again after a restart.
        self.start_dns(host("slow.test", "127.0.0.43"))
        p = self.peer("127.0.0.43", delays={"DOT": 1.5})
        d = self.start_relay()
        qid = self.submit(d, ["<u@slow.test>"])
        wait_until(lambda: p.in_dot, 30, "the message at the peer's final dot")
        d.terminate()
        self.assertEqual(d.wait_exit(), 0)
        self.assertRegex(d.log(), r"info smtp \S+ delivered id=%s to=<u@slow\.test> " % qid)
        self.assertEqual(p.count("<u@slow.test>"), 1)
        with p.lock:
            self.assertEqual([l.upper() for _, _, l in p.commands][-1], "QUIT")
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=0 corrupt=0\s*$")
        self.assertEqual(p.count("<u@slow.test>"), 1, "sent again after the restart")

    def test_retry_state_survives_restart(self):
        # One 451, then the 8 s transient retry interval.  The restart in between must
        # neither retry at once (state lost) nor forget the message (never retried).
        self.start_dns(host("later.test", "127.0.0.43"), host("now.test", "127.0.0.44"))
        later = self.peer("127.0.0.43", on_rcpt=lambda a, n: "451 4.3.0 Not now"
                          if n == 1 else None)
        now = self.peer("127.0.0.44")
        d = self.start_relay({"transient_failure_retry_interval": "8s",
                              "message_retry_interval": "1h",
                              "outbound_connection_failure_retry_interval": "1h"})
        qid = self.submit(d, ["<u@later.test>"])
        d.wait_log(d.prefix() + r"info smtp \S+ deferred id=%s to=<u@later\.test> " % qid)

        def records():
            rs = state_records(d.read_message(qid))
            return rs if any(r.kind == "next" for r in rs) else None
        recs = wait_until(records, 10, "a 'next' record")
        [rec] = [r for r in recs if r.kind == "rcpt"]
        nxt = [r for r in recs if r.kind == "next"][-1]
        self.assertEqual((rec.index, rec.state, rec.attempts), (0, "deferred", 1), recs)
        self.assertTrue(6500 <= nxt.ms - rec.ms <= 9500, "next attempt not ~8 s later: %r" % recs)

        d.kill9()
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        probe = self.submit(d, ["<v@now.test>"])      # the restarted daemon delivers...
        self.wait_delivered(d, probe, "<v@now.test>", ip="127.0.0.44")
        self.wait_delivered(d, qid, "<u@later.test>", ip="127.0.0.43", timeout=30)
        t = later.rcpt_times("<u@later.test>")        # ...and retries on the old schedule
        self.assertEqual(len(t), 2, later.rcpt_log)
        self.assertGreaterEqual(t[1] - t[0], 7.0, "retried early after the restart")
        self.assertLess(t[1] - t[0], 20.0, "retry schedule lost in the restart")
        self.assertEqual((later.count("<u@later.test>"), now.count("<v@now.test>")), (1, 1))
        self.wait_removed(d, qid)


if __name__ == "__main__":
    unittest.main()
