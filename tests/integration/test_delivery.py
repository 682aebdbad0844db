"""Delivery (docs/DELIVERY.md): MX preference and fallback, equal preferences, implicit
MX, null MX and NXDOMAIN failures with RFC 3464 DSNs, a 5xx to one recipient, smart
hosts and address-space matching, connection reuse, removal of a finished queue file,
no DSN for the null sender, and the bytes a peer receives."""

import re
import threading
import unittest

from domsec_harness import make_body, queued_id, wait_until
from peers import (RX_ID, SENDER, SENDER_DOMAIN, SENDER_SINK_IP, DeliveryTestCase, Dns, Dsn,
                   host, mx, null_mx)


def msg(subject, to="<user@dest.test>"):
    return (b"From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@snd.test>\r\n\r\n"
            b"Body of %s.\r\n" % (SENDER.encode(), to.encode(), subject.encode(),
                                  subject.replace(" ", "-").encode(), subject.encode()))


class MxRoutingTest(DeliveryTestCase):

    def test_lowest_preference_first(self):
        # pref 20 is declared first, so "first in the answer" cannot pass by accident
        self.start_dns(mx("pref.test", "mx20.pref.test", 20), mx("pref.test", "mx10.pref.test", 10),
                       host("mx10.pref.test", "127.0.0.12"), host("mx20.pref.test", "127.0.0.13"))
        s10, s20 = self.sink("127.0.0.12"), self.sink("127.0.0.13")
        d = self.start_relay()
        rcpts = ["<u%d@pref.test>" % i for i in range(3)]
        qids = [self.submit(d, [r]) for r in rcpts]
        for qid, r in zip(qids, rcpts):
            self.wait_delivered(d, qid, r, ip="127.0.0.12")
        self.assertEqual([s10.count(r) for r in rcpts], [1, 1, 1], s10.dumps())
        self.assertEqual(s20.dumps(), [], "the preference-20 host got mail")

    def test_fallback_when_primary_is_down(self):
        self.start_dns(mx("fb.test", "mx1.fb.test", 10), mx("fb.test", "mx2.fb.test", 20),
                       host("mx1.fb.test", "127.0.0.14"), host("mx2.fb.test", "127.0.0.15"))
        s2 = self.sink("127.0.0.15")                # nothing listens on 127.0.0.14
        d = self.start_relay()
        qid = self.submit(d, ["<u@fb.test>"])
        self.wait_delivered(d, qid, "<u@fb.test>", ip="127.0.0.15")
        self.assertEqual(s2.count("<u@fb.test>"), 1)

    def test_fallback_when_primary_answers_421_at_banner(self):
        self.start_dns(mx("fb.test", "mx1.fb.test", 10), mx("fb.test", "mx2.fb.test", 20),
                       host("mx1.fb.test", "127.0.0.16"), host("mx2.fb.test", "127.0.0.17"))
        busy = self.peer("127.0.0.16", banner="421 4.3.2 Too busy, try later")
        s2 = self.sink("127.0.0.17")
        d = self.start_relay()
        qid = self.submit(d, ["<u@fb.test>"])
        self.wait_delivered(d, qid, "<u@fb.test>", ip="127.0.0.17")
        self.assertEqual(s2.count("<u@fb.test>"), 1)
        self.assertGreaterEqual(len(busy.connections), 1, "the preference-10 host was not tried")
        self.assertEqual(busy.txns, [])

    def test_equal_preferences_use_both_hosts(self):
        # 20 domains, each with two MX hosts at preference 10: a random order per
        # destination sends some to each (all to one: probability 2 * 2**-20).
        recs = [host("a.eq.test", "127.0.0.18"), host("b.eq.test", "127.0.0.19")]
        rcpts = []
        for i in range(20):
            recs += [mx("eq%d.test" % i, "a.eq.test", 10), mx("eq%d.test" % i, "b.eq.test", 10)]
            rcpts.append("<u@eq%d.test>" % i)
        self.start_dns(*recs)
        sa, sb = self.sink("127.0.0.18"), self.sink("127.0.0.19")
        d = self.start_relay()
        qid = self.submit(d, rcpts)
        for r in rcpts:
            self.wait_delivered(d, qid, r, timeout=60)
        counts = {r: sa.count(r) + sb.count(r) for r in rcpts}
        self.assertEqual(set(counts.values()), {1}, counts)
        na = sum(len(x.rcpts) for x in sa.dumps())
        self.assertTrue(0 < na < 20, "host a got %d of 20 recipients, host b %d" % (na, 20 - na))

    def test_implicit_mx_and_queue_file_removed(self):
        self.start_dns(host("implicit.test", "127.0.0.20"))
        s = self.sink("127.0.0.20")
        d = self.start_relay()
        qid = self.submit(d, ["<u@implicit.test>", "<v@implicit.test>"])
        self.wait_delivered(d, qid, "<u@implicit.test>", ip="127.0.0.20")
        self.wait_delivered(d, qid, "<v@implicit.test>", ip="127.0.0.20")
        self.wait_removed(d, qid)
        self.assertEqual(d.message_ids(), [])
        self.assertEqual((s.count("<u@implicit.test>"), s.count("<v@implicit.test>")), (1, 1))


class FailureTest(DeliveryTestCase):

    def test_null_mx_fails_with_dsn(self):
        # the domain also has an A record: falling back to it would be wrong
        self.start_dns(null_mx("nullmx.test"), host("nullmx.test", "127.0.0.21"))
        self.assertEqual(self.dns.query("nullmx.test", "MX"), (0, [(0, "")]))
        wrong = self.sink("127.0.0.21")
        ss = self.sender_sink()
        d = self.start_relay()
        qid = self.submit(d, ["<u@nullmx.test>"], msg("null mx test", "<u@nullmx.test>"))
        self.assertEqual(self.wait_failed(d, qid, "<u@nullmx.test>"),
                         "556 5.1.10 Recipient address has null MX")
        dsn_id = self.wait_dsn(d, qid, "failure")
        dsn = self.fetch_dsn(d, ss, dsn_id)
        self.assertDsnPart(dsn)
        self.assertEqual(list(dsn.recipients()), ["u@nullmx.test"])
        b = dsn.recipients()["u@nullmx.test"]
        self.assertEqual(Dsn.field(b, "Action"), "failed")
        self.assertEqual(Dsn.field(b, "Status"), "5.1.10")
        self.assertIn("5.1.10", Dsn.field(b, "Diagnostic-Code") or "", dsn.raw)
        self.assertIn("Subject: null mx test", dsn.headers_part)
        self.assertIn("Message-ID: <null-mx-test@snd.test>", dsn.headers_part)
        self.assertNotIn("Body of", dsn.headers_part or "", "the body is not a header")
        self.wait_removed(d, qid)
        self.assertEqual(wrong.dumps(), [], "mail went to the A record of a null-MX domain")
        [x] = [x for x in ss.from_null()]
        self.assertEqual(x.rcpts, [SENDER])

    def test_nxdomain_fails_with_dsn(self):
        self.start_dns()
        ss = self.sender_sink()
        d = self.start_relay()
        qid = self.submit(d, ["<u@nosuch.test>"])
        self.assertEqual(self.wait_failed(d, qid, "<u@nosuch.test>"),
                         "550 5.1.2 DNS domain does not exist")
        dsn = self.fetch_dsn(d, ss, self.wait_dsn(d, qid, "failure"))
        self.assertDsnPart(dsn)
        b = dsn.recipients()["u@nosuch.test"]
        self.assertEqual((Dsn.field(b, "Action"), Dsn.field(b, "Status")), ("failed", "5.1.2"))
        self.wait_removed(d, qid)

    def test_mx_hosts_without_address_fail_with_5_4_4(self):
        # the domain exists (an MX record) but its MX host has no address: not NXDOMAIN
        self.start_dns(mx("noaddr.test", "nohost.noaddr.test", 10))
        self.assertEqual(self.dns.query("nohost.noaddr.test", "A")[0], 3)
        ss = self.sender_sink()
        d = self.start_relay()
        qid = self.submit(d, ["<u@noaddr.test>"])
        self.assertEqual(self.wait_failed(d, qid, "<u@noaddr.test>"),
                         "550 5.4.4 Unable to route: no MX host of the recipient domain has "
                         "an address")
        dsn = self.fetch_dsn(d, ss, self.wait_dsn(d, qid, "failure"))
        b = dsn.recipients()["u@noaddr.test"]
        self.assertEqual((Dsn.field(b, "Action"), Dsn.field(b, "Status")), ("failed", "5.4.4"))
        self.wait_removed(d, qid)

    def test_5xx_to_one_of_two_recipients(self):
        self.start_dns(host("mixed.test", "127.0.0.22"))
        p = self.peer("127.0.0.22", on_rcpt=lambda a, n: "550 5.1.1 User unknown"
                      if a == "<bad@mixed.test>" else None)
        ss = self.sender_sink()
        d = self.start_relay()
        qid = self.submit(d, ["<good@mixed.test>", "<bad@mixed.test>"])
        self.wait_delivered(d, qid, "<good@mixed.test>", ip="127.0.0.22")
        self.assertIn("550 5.1.1 User unknown", self.wait_failed(d, qid, "<bad@mixed.test>"))
        log = d.log()
        m = re.search(d.prefix() + r'info smtp %s failed id=%s to=<bad@mixed\.test> '
                      r'relay=\S*\[127\.0\.0\.22\]:%d reply="550 5\.1\.1 User unknown"\s*$'
                      % (RX_ID, qid, self.P), log, re.M)
        self.assertTrue(m, "no 'info smtp ... failed' line for the peer's refusal:\n" + log)
        self.assertLess(m.start(), log.index("info queue failed id=%s to=<bad" % qid))
        dsn = self.fetch_dsn(d, ss, self.wait_dsn(d, qid, "failure"))
        self.assertDsnPart(dsn)
        self.assertEqual(list(dsn.recipients()), ["bad@mixed.test"], dsn.raw)
        b = dsn.recipients()["bad@mixed.test"]
        self.assertEqual((Dsn.field(b, "Action"), Dsn.field(b, "Status")), ("failed", "5.1.1"))
        self.assertIn("550 5.1.1 User unknown", Dsn.field(b, "Diagnostic-Code") or "")
        self.assertTrue(Dsn.field(b, "Remote-MTA"), "no Remote-MTA for a peer's refusal")
        self.wait_removed(d, qid)
        self.assertEqual((p.count("<good@mixed.test>"), p.count("<bad@mixed.test>")), (1, 0))

    def test_no_dsn_for_null_sender(self):
        self.start_dns()
        ss = self.sender_sink()
        d = self.start_relay()
        q0 = self.submit(d, ["<u@nosuch.test>"], sender="<>")
        self.wait_failed(d, q0, "<u@nosuch.test>")
        self.wait_removed(d, q0)
        # control: the same failure with a sender does produce a DSN, and it arrives
        q1 = self.submit(d, ["<v@nosuch.test>"])
        self.fetch_dsn(d, ss, self.wait_dsn(d, q1, "failure"))
        self.assertNotRegex(d.log(), r"info queue dsn id=\S+ for=%s " % q0)
        self.assertEqual(len(ss.from_null()), 1, ss.dumps())
        self.assertEqual(d.message_ids(), [])


class SmartHostTest(DeliveryTestCase):

    def test_address_spaces_and_smart_hosts(self):
        self.start_dns(mx("hub.test", "mx.hub.test", 10), host("mx.hub.test", "127.0.0.23"),
                       mx("plain.test", "mx.plain.test", 10), host("mx.plain.test", "127.0.0.24"))
        by_dns = self.sink("127.0.0.23")
        plain, hub, wild, exact = (self.sink(ip) for ip in
                                   ("127.0.0.24", "127.0.0.25", "127.0.0.26", "127.0.0.27"))
        d = self.start_relay(sends=[
            ("Wild", {"address_spaces": "*.wild.test", "smart_hosts": "[127.0.0.26]",
                      "port": str(self.P)}),              # no port: the connector's port
            ("Hub", {"address_spaces": "hub.test", "smart_hosts": "[127.0.0.25]:%d" % self.P}),
            ("Exact", {"address_spaces": "y.wild.test",
                       "smart_hosts": "[127.0.0.27]:%d" % self.P}),
        ])
        want = {"<u@hub.test>": hub, "<u@x.wild.test>": wild, "<u@y.wild.test>": exact,
                "<u@plain.test>": plain}
        qid = self.submit(d, list(want))
        for r, s in want.items():
            self.wait_delivered(d, qid, r, ip=s.ip)
        for r, s in want.items():
            self.assertEqual(s.count(r), 1, (r, s.dumps()))
            self.assertEqual(len(s.dumps()), 1, (s.ip, s.dumps()))
        self.assertEqual(by_dns.dumps(), [], "the smart host did not override DNS")


    def test_no_matching_address_space_is_unreachable(self):
        # Like Exchange's Unreachable queue: the recipient waits (no bounce on
        # configuration), retried on schedule, and fails only at expiry.
        self.start_dns(host("hub.test", "127.0.0.30"))
        hub = self.sink("127.0.0.30")
        d = self.start_relay(internet=False, sends=[
            ("Hub", {"address_spaces": "hub.test", "smart_hosts": "[127.0.0.30]:%d" % self.P})])
        qid = self.submit(d, ["<u@elsewhere.test>", "<u@hub.test>"])
        self.wait_delivered(d, qid, "<u@hub.test>", ip="127.0.0.30")
        d.wait_log(d.prefix() + r'info queue deferred id=%s to=<u@elsewhere\.test> '
                   r'reason="451 4\.4\.4 Unreachable: no send connector\'s address space covers '
                   r'the recipient domain"' % qid)
        self.assertIn(qid, d.message_ids())           # still queued, not bounced
        self.assertNotRegex(d.log(), r"info queue (failed|dsn) ")
        self.assertEqual(hub.count("<u@elsewhere.test>"), 0)


class SessionTest(DeliveryTestCase):

    def test_helo_when_ehlo_is_refused(self):
        self.start_dns(host("old.test", "127.0.0.31"))
        p = self.peer("127.0.0.31", ehlo="502 5.5.2 Error: command not recognized")
        d = self.start_relay()
        qid = self.submit(d, ["<u@old.test>"])
        self.wait_delivered(d, qid, "<u@old.test>", ip="127.0.0.31")
        verbs = [line.split(" ")[0].upper() for _, _, line in p.commands]
        self.assertEqual(verbs[:3], ["EHLO", "HELO", "MAIL"], p.commands)
        self.assertNotRegex(p.commands[2][2], r"(?i)SIZE=", "ESMTP parameter after HELO")
        self.assertEqual(p.count("<u@old.test>"), 1)

    def test_messages_share_a_connection(self):
        # End to end: the queue manager's jobs for one destination share its one
        # connection.  How a connection takes a queued job (or a woken idle one) is
        # unit-tested against a scripted peer (relay_smtpc_idle_test).
        self.start_dns(host("share.test", "127.0.0.28"))
        # a slow banner keeps the first connection busy while the rest are queued
        p = self.peer("127.0.0.28", delays={"BANNER": 0.3})
        d = self.start_relay({"max_per_domain_outbound_connections": "1"})
        c = d.session()
        rcpts = ["<u%d@share.test>" % i for i in range(8)]
        qids = [self.submit(d, [r], client=c) for r in rcpts]
        for qid, r in zip(qids, rcpts):
            self.wait_delivered(d, qid, r, ip="127.0.0.28", timeout=60)
        self.assertEqual([p.count(r) for r in rcpts], [1] * 8)
        self.assertLess(len(p.connections), len(rcpts),
                        "every message had a connection of its own")
        self.assertEqual(p.max_overlap(), 1, "max_per_domain_outbound_connections = 1 exceeded")

    def test_peer_receives_the_queued_bytes(self):
        # The peer holds its reply to RCPT (no retry round to wait out) while the
        # queue file is read; then the bytes it receives must be the queued ones.
        # Dot-stuffing itself is unit-tested (relay_smtpc_test).
        self.start_dns(host("exact.test", "127.0.0.29"))
        at_rcpt, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def hold(addr, n):
            at_rcpt.set()
            release.wait(30)

        p = self.peer("127.0.0.29", on_rcpt=hold)
        d = self.start_relay()
        body = make_body(60000, "bytes") + b"..two dots\r\n.\r\n.x\r\n\tlast\r\n"
        qid = queued_id(d.session().transaction(SENDER, ["<u@exact.test>"], body))
        wait_until(at_rcpt.is_set, 30, "the RCPT at the peer")
        q = d.read_message(qid)                     # what was queued, Received included
        self.assertTrue(q.data.endswith(body))
        release.set()
        self.wait_delivered(d, qid, "<u@exact.test>", ip="127.0.0.29")
        [t] = p.delivered()
        self.assertEqual(t.sender, SENDER)
        self.assertEqual(t.rcpts, ["<u@exact.test>"])
        self.assertEqual(t.data, q.data, "the peer got other bytes than the queue held")
        self.assertTrue(re.match(rb"Received: ", t.data))
        self.wait_removed(d, qid)


class DnsReloadTest(DeliveryTestCase):

    def test_reload_switches_the_dns_servers(self):
        # [dns] servers changed by a reload take effect without a restart: the next
        # lookup goes to the new server (its answer moves moved.test elsewhere).
        self.start_dns(host("moved.test", "127.0.0.50"))
        old, new = self.peer("127.0.0.50"), self.peer("127.0.0.51")
        d = self.start_relay()
        qid = self.submit(d, ["<a@moved.test>"])
        self.wait_delivered(d, qid, "<a@moved.test>", ip="127.0.0.50")
        dns2 = Dns(self, [host("moved.test", "127.0.0.51"),
                          mx(SENDER_DOMAIN, "mx.%s" % SENDER_DOMAIN, 10),
                          host("mx.%s" % SENDER_DOMAIN, SENDER_SINK_IP)])
        mark = d.log_mark()
        d.write_config(d.config_text.replace("servers = 127.0.0.1:%d" % self.dns.port,
                                             "servers = 127.0.0.1:%d" % dns2.port))
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded ", since=mark)
        qid = self.submit(d, ["<b@moved.test>"])
        self.wait_delivered(d, qid, "<b@moved.test>", ip="127.0.0.51")
        d.wait_log(d.prefix() + r"info qmgr dns resolver replaced servers=127\.0\.0\.1:%d "
                   % dns2.port, since=mark)
        self.assertEqual((old.count("<a@moved.test>"), old.count("<b@moved.test>")), (1, 0))
        self.assertEqual(new.count("<b@moved.test>"), 1)


if __name__ == "__main__":
    unittest.main()
