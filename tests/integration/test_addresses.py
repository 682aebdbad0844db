"""Addresses with sender-specified routing on an internet connector.

An edge relay hands what it accepts to the internal route; a downstream MTA
that honours the percent hack or bang paths, or dequotes "user@host", would
relay such a recipient on to a third party.  So, as Postfix does with
allow_untrusted_routing = no (its resolver flags '%', '!' and '@' in the
local part, quoted or not, as routed), an internet connector refuses them at
RCPT with its relay refusal, 550 5.7.1 Unable to relay (Exchange's
RcptRelayNotPermitted), whatever the domain; the log names rule=routing.
Source routes (<@a,@b:user@d>) are accepted and ignored, as RFC 5321 4.1.1.3
and Appendix C ask and Postfix and Exchange do: the route is dropped and the
mailbox alone decides and is stored.  An internal connector (a trusted hub,
like Postfix's mynetworks) relays anything and stores it as sent.
"""

import re
import unittest

from domsec_harness import R, DomsecTestCase, queued_id

MSG = b"Subject: address test\r\n\r\nbody\r\n"
HUB_FQDN = "hub.domsec.test"
CONNECTORS = [
    ("Inet", {"max_protocol_errors": "1000"}),
    ("FromHub", {"remote_ip_ranges": "127.0.0.2/32", "permission": "internal",
                 "fqdn": HUB_FQDN, "max_protocol_errors": "1000"}),
]
ROUTING = "routing"

# (RCPT TO argument, reply on the internet connector, rule logged or the
# recipient stored).  a.test is the accepted domain.
INTERNET = [
    # percent hack
    ("<user%evil.example@a.test>", R["relay"], ROUTING),
    ("<USER%EVIL.EXAMPLE@A.TEST>", R["relay"], ROUTING),
    ("<user%evil.example%other.example@a.test>", R["relay"], ROUTING),
    ("<user%a.test@a.test>", R["relay"], ROUTING),
    # bang paths
    ("<evil.example!user@a.test>", R["relay"], ROUTING),
    ("<other.example!evil.example!user@a.test>", R["relay"], ROUTING),
    ("<evil.example!user%a.test@a.test>", R["relay"], ROUTING),
    # quoted local parts with routing operators
    ('<"user@evil.example"@a.test>', R["relay"], ROUTING),
    ('<"user\\@evil.example"@a.test>', R["relay"], ROUTING),
    ('<"user%evil.example"@a.test>', R["relay"], ROUTING),
    ('<"evil.example!user"@a.test>', R["relay"], ROUTING),
    ('<"@evil.example:user"@a.test>', R["relay"], ROUTING),
    # routing to a foreign domain: refused for routing before the domain
    ("<user%a.test@evil.example>", R["relay"], ROUTING),
    # source routes: dropped, the mailbox decides
    ("<@evil.example:user@a.test>", R["rcpt_ok"], "<user@a.test>"),
    ("<@evil.example,@other.example:route2@a.test>", R["rcpt_ok"], "<route2@a.test>"),
    ("<@a.test:victim@evil.example>", R["relay"], "relay"),
    ("<@a.test:user%evil.example@a.test>", R["relay"], ROUTING),
    # plain relay attempts
    ("<victim@evil.example>", R["relay"], "relay"),
    ("<user@a.test.evil.example>", R["relay"], "relay"),
    ("<user@[127.0.0.1]>", R["relay"], "relay"),
    # not addresses at all (501, counted as protocol errors)
    ("<user@a.test@evil.example>", R["bad_addr"], None),
    ("<user@evil.example@a.test>", R["bad_addr"], None),
    ("<user\\@evil.example@a.test>", R["bad_addr"], None),
    ("<user%evil.example>", R["bad_addr"], None),
    ("<evil.example!user>", R["bad_addr"], None),
    ("<@evil.example:>", R["bad_addr"], None),
    # a source route must be one (RFC 5321 A-d-l), inside the path
    ("<@evil.example>:user@a.test>", R["bad_addr"], None),
    ("<@evil..example:user@a.test>", R["bad_addr"], None),
    ("<@:user@a.test>", R["bad_addr"], None),
    ("<@evil.example,other.example:user@a.test>", R["bad_addr"], None),
    ("<@evil.example;@other.example:user@a.test>", R["bad_addr"], None),
    ("<@-evil.example:user@a.test>", R["bad_addr"], None),
    # ordinary recipients still pass
    ('<"quoted user"@a.test>', R["rcpt_ok"], '<"quoted user"@a.test>'),
    ("<first.last+tag@a.test>", R["rcpt_ok"], "<first.last+tag@a.test>"),
    ("<postmaster>", R["rcpt_ok"], "<postmaster@a.test>"),
]

# Sent through the internal connector, routed recipients are relayed as sent.
INTERNAL = [
    ("<user%evil.example@a.test>", "<user%evil.example@a.test>"),
    ("<evil.example!user@a.test>", "<evil.example!user@a.test>"),
    ('<"user@evil.example"@a.test>', '<"user@evil.example"@a.test>'),
    ("<@evil.example:hub@a.test>", "<hub@a.test>"),
]


class AddressTest(DomsecTestCase):

    def test_internet_connector_refuses_routed_recipients(self):
        d = self.start_daemon(connectors=CONNECTORS)
        c = d.session()
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        stored, wrong = [], []
        for arg, want, what in INTERNET:
            r = c.cmd("RCPT TO:" + arg)
            if r.lines != [want]:
                wrong.append("RCPT TO:%s -> %r, expected %r" % (arg, r.lines, want))
            elif want == R["rcpt_ok"]:
                stored.append(what)
        self.assertEqual(wrong, [])
        c.expect("DATA", R["data_go"])
        c.send(MSG + b".\r\n")
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).rcpts, stored)
        for arg, want, what in INTERNET:
            if what in (ROUTING, "relay"):
                logged = "<" + arg.split(":", 1)[1] if arg.startswith("<@") else arg
                d.wait_log(r"info smtpd [0-9A-F]{16} rcpt refused to=%s rule=%s "
                           r'reply="550 5\.7\.1 Unable to relay"$'
                           % (re.escape(logged), what))

    def test_internal_connector_relays_routed_recipients_as_sent(self):
        d = self.start_daemon(connectors=CONNECTORS)
        c = d.session(source="127.0.0.2", fqdn=HUB_FQDN)
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        for arg, _ in INTERNAL:
            self.assertReply(c.cmd("RCPT TO:" + arg), R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(MSG + b".\r\n")
        qid = queued_id(c.reply(), HUB_FQDN)
        q = d.read_message(qid)
        self.assertEqual(q.fields["connector"], "FromHub")
        self.assertEqual(q.rcpts, [want for _, want in INTERNAL])

    def test_percent_hack_refused_to_swaks(self):
        d = self.start_daemon(connectors=CONNECTORS)
        r = d.swaks(to="user%evil.example@a.test", data=b"Subject: percent\n\nbody")
        self.assertEqual(r.returncode, 24, r)          # swaks: no RCPTs accepted
        self.assertRegex(r.output, r"(?m)^<\*\* +550 5\.7\.1 Unable to relay\s*$")
        self.assertEqual(d.message_ids(), [])

    def test_routed_sender_is_not_refused(self):
        """Routing is a recipient's: a percent-hack sender is only a return path."""
        d = self.start_daemon(connectors=CONNECTORS)
        c = d.session()
        qid = queued_id(c.transaction("<user%elsewhere.example@example.org>",
                                      ["<user@a.test>"], MSG))
        self.assertEqual(d.read_message(qid).sender, "<user%elsewhere.example@example.org>")

    def test_route_ends_inside_the_path(self):
        """A route is '@domain,...:' inside the angle brackets: a ':' further
        on, in a parameter, does not make one (noticed writing fuzz_smtp_cmd: this was
        sender <s@example.org>)."""
        d = self.start_daemon(connectors=CONNECTORS)
        c = d.session()
        c.expect("MAIL FROM:<@evil.example> BODY=a:s@example.org>", R["bad_addr"])
        c.expect("MAIL FROM:<@evil.example,@other.example:s@example.org> BODY=8BITMIME",
                 R["mail_ok"])


if __name__ == "__main__":
    unittest.main()
