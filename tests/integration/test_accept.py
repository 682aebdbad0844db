"""Accepting a message: queue file and envelope, Received header, dot-unstuffing,
EHLO/HELO, VRFY/HELP/NOOP/RSET/QUIT, null sender, postmaster, sequence errors."""

import threading
import unittest

from domsec_harness import (FQDN, HELO, R, DomsecTestCase, SMTPClient, banner_line, dot_stuff,
                            make_body, queued_id, split_received)

MSG = b"From: <sender@example.org>\r\nTo: <user@a.test>\r\nSubject: hello\r\n\r\nbody line\r\n"


class AcceptTest(DomsecTestCase):

    def test_swaks_message_is_queued_with_envelope(self):
        d = self.start_daemon()
        data = b"Subject: swaks test\n\nline one\n.leading dot\n..two dots\nlast line"
        r = d.swaks(data=data, to="user@a.test,other@a.test")
        self.assertEqual(r.returncode, 0, r)
        qid = r.queued_id()
        self.assertEqual(d.message_ids(), [qid])
        q = d.read_message(qid)
        self.assertEqual(q.id, qid)
        self.assertEqual(q.fields["connector"], "Inet")
        self.assertRegex(q.fields["client"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(q.fields["helo"], HELO)
        self.assertNotIn("body", q.fields)
        self.assertEqual(q.sender, "<sender@example.org>")
        self.assertEqual(q.rcpts, ["<user@a.test>", "<other@a.test>"])
        # swaks sends CRLF lines and dot-stuffs; domsec stores the message unstuffed.
        self.assertEqual(q.message, b"Subject: swaks test\r\n\r\nline one\r\n.leading dot\r\n"
                                    b"..two dots\r\nlast line\r\n")
        m = d.wait_log(d.prefix() + r"info smtpd ([0-9A-F]{16}) queued id=%s "
                       r"from=<sender@example\.org> nrcpt=2 size=\d+" % qid)
        self.assertEqual(m.group(1), q.fields["session"])

    def test_envelope_from_raw_session(self):
        d = self.start_daemon()
        c = d.session()
        r = c.transaction("<Sender@Example.org>", ["<user@a.test>"], MSG)
        qid = queued_id(r)
        q = d.read_message(qid)
        self.assertEqual(q.fields["client"], "127.0.0.1:%d" % c.local[1])
        self.assertEqual(q.fields["helo"], HELO)
        self.assertEqual(q.sender, "<Sender@Example.org>")
        self.assertEqual(q.rcpts, ["<user@a.test>"])
        # The queue manager may already have appended a delivery record (a.test
        # has no send connector: deferred at once); nothing else follows end\n.
        *lines, tail = q.trailer.split(b"\n")    # tail: a record being appended
        for line in lines:
            self.assertRegex(line, rb"^rcpt 0 deferred \d+ ",
                             "only delivery records may follow end\\n")
        self.assertTrue(tail[:5] == b"rcpt "[:len(tail)], tail)

    def test_received_header_prepended(self):
        d = self.start_daemon()
        c = d.session()
        qid = queued_id(c.transaction("<sender@example.org>", ["<user@a.test>"], MSG))
        q = d.read_message(qid)
        received, rest = split_received(q.data)
        self.assertTrue(received.startswith(b"Received: "), received)
        self.assertIn(FQDN.encode(), received)
        self.assertEqual(rest, MSG)
        self.assertEqual(q.data, received + MSG)

    def test_dot_unstuffing(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(b"Subject: dots\r\n\r\n..one\r\n...\r\n..\r\n.x\r\nplain.\r\n .space\r\n.\r\n")
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).message,
                         b"Subject: dots\r\n\r\n.one\r\n..\r\n.\r\nx\r\nplain.\r\n .space\r\n")

    def test_banner_and_ehlo_keywords(self):
        d = self.start_daemon(connectors=[("Inet", {"max_message_size": "1048576"})])
        c = d.connect()
        self.assertReply(c.reply(), banner_line())
        r = c.cmd("EHLO " + HELO)
        self.assertEqual(r.lines[0], "250-%s Hello [127.0.0.1]" % FQDN)
        self.assertEqual(sorted(l[4:] for l in r.lines[1:]),
                         sorted(["SIZE 1048576", "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"]))
        self.assertEqual(len(r.lines), 5, r.lines)

    def test_custom_banner(self):
        d = self.start_daemon(connectors=[("Inet", {"banner": "edge relay at your service"})])
        c = d.connect()
        self.assertReply(c.reply(), "220 edge relay at your service")

    def test_helo(self):
        d = self.start_daemon()
        c = d.connect()
        c.reply()
        self.assertReply(c.cmd("HELO " + HELO), "250 %s Hello [127.0.0.1]" % FQDN)
        qid = queued_id(c.transaction("<sender@example.org>", ["<user@a.test>"], MSG))
        self.assertEqual(d.read_message(qid).fields["helo"], HELO)

    def test_vrfy_help_noop(self):
        d = self.start_daemon()
        c = d.session()
        self.assertReply(c.cmd("VRFY user"), R["vrfy"])
        self.assertReply(c.cmd("HELP"), R["help1"], R["help2"])
        self.assertReply(c.cmd("NOOP"), R["noop"])
        self.assertReply(c.cmd("noop"), R["noop"])

    def test_rset_clears_transaction(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<first@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        self.assertReply(c.cmd("RSET"), R["rset"])
        self.assertReply(c.cmd("RCPT TO:<user@a.test>"), R["need_mail"])
        qid = queued_id(c.transaction("<second@example.org>", ["<other@a.test>"], MSG))
        q = d.read_message(qid)
        self.assertEqual(q.sender, "<second@example.org>")
        self.assertEqual(q.rcpts, ["<other@a.test>"])

    def test_quit(self):
        d = self.start_daemon()
        c = d.session()
        self.assertReply(c.cmd("QUIT"), R["quit"])
        self.assertClosed(c)

    def test_null_sender(self):
        d = self.start_daemon()
        c = d.session()
        qid = queued_id(c.transaction("<>", ["<user@a.test>"], MSG))
        self.assertEqual(d.read_message(qid).sender, "<>")
        d.wait_log(d.prefix() + r"info smtpd [0-9A-F]{16} queued id=%s from=<> nrcpt=1 " % qid)

    def test_postmaster_rewritten_to_first_accepted_domain(self):
        d = self.start_daemon(accepted_domains="a.test, b.test")
        c = d.session()
        qid = queued_id(c.transaction("<sender@example.org>", ["<postmaster>"], MSG))
        self.assertEqual(d.read_message(qid).rcpts, ["<postmaster@a.test>"])

    def test_two_messages_in_one_session(self):
        d = self.start_daemon()
        c = d.session()
        id1 = queued_id(c.transaction("<one@example.org>", ["<user@a.test>"], MSG))
        id2 = queued_id(c.transaction("<two@example.org>", ["<user@a.test>"], MSG + b"second\r\n"))
        self.assertNotEqual(id1, id2)
        self.assertEqual(d.message_ids(), sorted([id1, id2]))
        self.assertEqual(d.read_message(id1).sender, "<one@example.org>")
        self.assertEqual(d.read_message(id2).message, MSG + b"second\r\n")

    def test_body_parameter_recorded_and_8bit_kept(self):
        d = self.start_daemon()
        c = d.session()
        body8 = ("Subject: caf\u00e9\r\n\r\nGr\u00fc\u00dfe \u2013 \u65e5\u672c\r\n"
                 .encode("utf-8") + bytes(range(0x80, 0x100)) + b"\r\n")
        id8 = queued_id(c.transaction("<sender@example.org>", ["<user@a.test>"], body8,
                                      mail_params=" BODY=8BITMIME"))
        id7 = queued_id(c.transaction("<sender@example.org>", ["<user@a.test>"], MSG,
                                      mail_params=" BODY=7BIT"))
        q8 = d.read_message(id8)
        self.assertEqual(q8.fields.get("body"), "8BITMIME")
        self.assertEqual(q8.message, body8)
        self.assertEqual(d.read_message(id7).fields.get("body"), "7BIT")

    def test_commands_may_end_in_bare_lf(self):
        d = self.start_daemon()
        c = d.connect()
        c.reply()
        c.send("EHLO %s\n" % HELO)
        self.assertEqual(c.reply().code, 250)
        c.send("MAIL FROM:<sender@example.org>\n")
        self.assertReply(c.reply(), R["mail_ok"])
        c.send("RCPT TO:<user@a.test>\n")
        self.assertReply(c.reply(), R["rcpt_ok"])
        c.send("DATA\n")
        self.assertReply(c.reply(), R["data_go"])
        c.send(dot_stuff(MSG))
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).message, MSG)


class ConcurrencyTest(DomsecTestCase):

    def test_concurrent_sessions_each_message_queued_intact(self):
        d = self.start_daemon()
        results, errors = {}, []

        def client(n):
            try:
                c = SMTPClient("127.0.0.1", d.port)
                try:
                    c.reply()
                    c.ehlo()
                    for k in range(5):
                        msg = make_body(3000 + 997 * n + k, "client-%d-msg-%d" % (n, k))
                        r = c.transaction("<c%d@example.org>" % n, ["<u%d@a.test>" % k], msg)
                        results[queued_id(r)] = (n, k, msg)
                    c.cmd("QUIT")
                finally:
                    c.close()
            except Exception as e:             # reported below, in the test thread
                errors.append("client %d: %r" % (n, e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "clients still running after 60 s")
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 100, "queue ids must be unique")
        self.assertEqual(d.message_ids(), sorted(results))
        for qid, (n, k, msg) in results.items():
            q = d.read_message(qid)
            self.assertEqual((q.sender, q.rcpts), ("<c%d@example.org>" % n, ["<u%d@a.test>" % k]))
            self.assertEqual(q.message, msg)


class SequenceErrorTest(DomsecTestCase):
    """Each session stays below the default max_protocol_errors (5)."""

    def test_hello_errors(self):
        d = self.start_daemon()
        c = d.connect()
        c.reply()
        self.assertReply(c.cmd("EHLO"), R["bad_domain"])
        self.assertReply(c.cmd("HELO"), R["bad_domain"])
        self.assertReply(c.cmd("MAIL FROM:<sender@example.org>"), R["hello_first"])
        self.assertReply(c.cmd("NOOP"), R["noop"])

    def test_transaction_order_errors(self):
        d = self.start_daemon()
        c = d.session()
        self.assertReply(c.cmd("RCPT TO:<user@a.test>"), R["need_mail"])
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        self.assertReply(c.cmd("DATA"), R["need_rcpt"])
        self.assertReply(c.cmd("MAIL FROM:<again@example.org>"), R["sender_twice"])
        self.assertReply(c.cmd("RCPT TO:<nobody@elsewhere.example>"), R["relay"])
        self.assertReply(c.cmd("RCPT TO:<not an address>"), R["bad_addr"])
        self.assertReply(c.cmd("NOOP"), R["noop"])
        self.assertEqual(d.message_ids(), [])

    def test_syntax_errors(self):
        d = self.start_daemon()
        c = d.session()
        self.assertReply(c.cmd("MAIL FROM:<not an address>"), R["bad_addr"])
        self.assertReply(c.cmd("MAIL FROM:<sender@example.org> FROBNICATE=YES"), R["bad_param"])
        self.assertReply(c.cmd("XYZZY"), R["unknown"])
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])
        self.assertReply(c.cmd("RCPT TO:<user@a.test> FROBNICATE=YES"), R["bad_param"])

    def test_sender_needs_a_domain(self):
        d = self.start_daemon()
        c = d.session()
        self.assertReply(c.cmd("MAIL FROM:<sender>"), R["bad_addr"])
        c.expect("MAIL FROM:<>", R["mail_ok"])

    def test_no_parameters_after_helo(self):
        d = self.start_daemon()
        c = d.connect()
        c.reply()
        c.expect("HELO client.example", "250 %s Hello [127.0.0.1]" % FQDN)
        self.assertReply(c.cmd("MAIL FROM:<sender@example.org> SIZE=100"), R["bad_param"])
        c.expect("MAIL FROM:<sender@example.org>", R["mail_ok"])


if __name__ == "__main__":
    unittest.main()
