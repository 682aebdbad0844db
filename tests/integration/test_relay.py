"""No open relay: internet connectors refuse foreign domains, internal connectors
relay; the most specific remote_ip_ranges connector serves a client."""

import unittest

from domsec_harness import FQDN, R, DomsecTestCase, banner_line, queued_id

MSG = b"Subject: relay test\r\n\r\nbody\r\n"
SWAKS_MSG = b"Subject: relay test\n\nbody"     # swaks adds the last line end itself
HUB_FQDN = "hub.domsec.test"

# Two connectors on the same port: 127.0.0.2 is "the hub" and may relay.
INET_AND_HUB = [
    ("Inet", {}),
    ("FromHub", {"remote_ip_ranges": "127.0.0.2/32", "permission": "internal",
                 "fqdn": HUB_FQDN}),
]


class RelayTest(DomsecTestCase):

    def test_internet_connector_refuses_relay_swaks(self):
        d = self.start_daemon(connectors=INET_AND_HUB)
        r = d.swaks(to="victim@elsewhere.example", data=SWAKS_MSG)
        self.assertEqual(r.returncode, 24, r)          # swaks: no RCPTs accepted
        self.assertRegex(r.output, r"(?m)^<\*\* +550 5\.7\.1 Unable to relay\s*$")
        self.assertEqual(d.message_ids(), [])

    def test_internal_connector_may_relay_swaks(self):
        d = self.start_daemon(connectors=INET_AND_HUB)
        r = d.swaks("--local-interface", "127.0.0.2", to="partner@elsewhere.example",
                    data=SWAKS_MSG)
        self.assertEqual(r.returncode, 0, r)
        qid = r.queued_id(HUB_FQDN)
        q = d.read_message(qid)
        self.assertEqual(q.fields["connector"], "FromHub")
        self.assertRegex(q.fields["client"], r"^127\.0\.0\.2:\d+$")
        self.assertEqual(q.rcpts, ["<partner@elsewhere.example>"])
        self.assertEqual(q.message, MSG)

    def test_accepted_domain_match_is_exact_and_case_insensitive(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        self.assertReply(c.cmd("RCPT TO:<User@A.TEST>"), R["rcpt_ok"])
        self.assertReply(c.cmd("RCPT TO:<user@sub.a.test>"), R["relay"])
        self.assertReply(c.cmd("RCPT TO:<user@a.test.evil.example>"), R["relay"])
        self.assertReply(c.cmd("RCPT TO:<user@xa.test>"), R["relay"])

    def test_refused_recipient_is_not_queued(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        self.assertReply(c.cmd("RCPT TO:<victim@elsewhere.example>"), R["relay"])
        self.assertReply(c.cmd("RCPT TO:<user@a.test>"), R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(MSG + b".\r\n")
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).rcpts, ["<user@a.test>"])

    def test_all_recipients_refused_then_data_refused(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        self.assertReply(c.cmd("RCPT TO:<victim@elsewhere.example>"), R["relay"])
        self.assertReply(c.cmd("DATA"), R["need_rcpt"])
        self.assertReply(c.cmd("NOOP"), R["noop"])
        self.assertEqual(d.message_ids(), [])

    def test_most_specific_connector_wins(self):
        # /0 first, /32 in the middle, /8 last: neither "first" nor "last" wins by accident.
        d = self.start_daemon(connectors=[
            ("World", {"remote_ip_ranges": "0.0.0.0/0", "fqdn": "world.domsec.test"}),
            ("Two", {"remote_ip_ranges": "127.0.0.2/32", "fqdn": "two.domsec.test",
                     "permission": "internet"}),
            ("Loop", {"remote_ip_ranges": "127.0.0.0/8", "fqdn": "loop.domsec.test",
                      "permission": "internal"}),
        ])
        # 127.0.0.1: World (/0) and Loop (/8) match -> Loop, which may relay.
        c1 = d.session(fqdn="loop.domsec.test")
        qid = queued_id(c1.transaction("<s@example.org>", ["<x@elsewhere.example>"], MSG),
                        "loop.domsec.test")
        self.assertEqual(d.read_message(qid).fields["connector"], "Loop")
        # 127.0.0.2: all three match -> Two (/32), an internet connector.
        c2 = d.session(source="127.0.0.2", fqdn="two.domsec.test")
        c2.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        self.assertReply(c2.cmd("RCPT TO:<x@elsewhere.example>"), R["relay"])
        self.assertReply(c2.cmd("RCPT TO:<x@a.test>"), R["rcpt_ok"])
        c2.expect("DATA", R["data_go"])
        c2.send(MSG + b".\r\n")
        qid2 = queued_id(c2.reply(), "two.domsec.test")
        self.assertEqual(d.read_message(qid2).fields["connector"], "Two")

    def test_unserved_client_is_closed_without_banner(self):
        d = self.start_daemon(connectors=[
            ("HubOnly", {"remote_ip_ranges": "127.0.0.2/32", "permission": "internal"})])
        c = d.connect(source="127.0.0.1")
        self.assertEqual(c.wait_closed(5.0), b"", "a client no connector serves got bytes")
        # ...while the served address gets the banner.
        c2 = d.connect(source="127.0.0.2")
        self.assertReply(c2.reply(), banner_line(FQDN))


if __name__ == "__main__":
    unittest.main()
