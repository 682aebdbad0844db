"""Input arriving in odd pieces: commands split across packets, pipelined
batches (RFC 2920) answered in order, a message body in tiny chunks."""

import time
import unittest

from domsec_harness import FQDN, HELO, R, DomsecTestCase, dot_stuff, make_body, queued_id


def send_in_pieces(c, data, sizes, pause=0.05):
    """Send data in pieces of the given sizes (cycled), pausing between sends."""
    i, k = 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        c.send(data[i:i + n])
        i += n
        k += 1
        time.sleep(pause)


class PipelineTest(DomsecTestCase):

    def test_commands_split_across_packets(self):
        d = self.start_daemon()
        c = d.connect()
        c.reply()
        for piece in (b"EH", b"LO cli", b"ent.example", b".org\r", b"\n"):
            c.send(piece)
            time.sleep(0.2)
        r = c.reply()
        self.assertEqual(r.lines[0], "250-%s Hello [127.0.0.1]" % FQDN)
        send_in_pieces(c, b"MAIL FROM:<split@example.org>\r\n", [3], pause=0.1)
        self.assertReply(c.reply(), R["mail_ok"])
        send_in_pieces(c, b"RCPT TO:<user@a.test>\r\n", [1, 5], pause=0.05)
        self.assertReply(c.reply(), R["rcpt_ok"])
        send_in_pieces(c, b"DATA\r\n", [1], pause=0.1)
        self.assertReply(c.reply(), R["data_go"])
        msg = b"Subject: split\r\n\r\nbody\r\n"
        c.send(dot_stuff(msg))
        qid = queued_id(c.reply())
        q = d.read_message(qid)
        self.assertEqual(q.sender, "<split@example.org>")
        self.assertEqual(q.fields["helo"], HELO)
        self.assertEqual(q.message, msg)
        # no stray replies were produced for the fragments
        self.assertReply(c.cmd("NOOP"), R["noop"])

    def test_pipelined_batch_replies_in_order(self):
        d = self.start_daemon()
        c = d.session()
        c.send(b"MAIL FROM:<batch@example.org>\r\n"
               b"RCPT TO:<one@a.test>\r\n"
               b"RCPT TO:<victim@elsewhere.example>\r\n"
               b"RCPT TO:<two@a.test>\r\n"
               b"DATA\r\n")
        self.assertReply(c.reply(), R["mail_ok"])
        self.assertReply(c.reply(), R["rcpt_ok"])
        self.assertReply(c.reply(), R["relay"])
        self.assertReply(c.reply(), R["rcpt_ok"])
        self.assertReply(c.reply(), R["data_go"])
        msg = b"Subject: batch\r\n\r\nbody\r\n"
        c.send(dot_stuff(msg))
        qid = queued_id(c.reply())
        q = d.read_message(qid)
        self.assertEqual(q.rcpts, ["<one@a.test>", "<two@a.test>"])
        self.assertEqual(q.message, msg)

    def test_pipelined_rset_and_commands_after_end_of_data(self):
        # RFC 2920: EHLO, NOOP, VRFY, DATA, QUIT only end a group
        d = self.start_daemon()
        c = d.session()
        c.send("MAIL FROM:<a@example.org>\r\nRSET\r\nMAIL FROM:<b@example.org>\r\n"
               "RCPT TO:<user@a.test>\r\nDATA\r\n")
        self.assertReply(c.reply(), R["mail_ok"])
        self.assertReply(c.reply(), R["rset"])
        self.assertReply(c.reply(), R["mail_ok"])
        self.assertReply(c.reply(), R["rcpt_ok"])
        self.assertReply(c.reply(), R["data_go"])
        # end of data, then the next transaction and QUIT in the same packet
        c.send(b"Subject: one\r\n\r\nfirst\r\n.\r\n"
               b"MAIL FROM:<c@example.org>\r\nRCPT TO:<user@a.test>\r\nDATA\r\n")
        id1 = queued_id(c.reply())
        self.assertReply(c.reply(), R["mail_ok"])
        self.assertReply(c.reply(), R["rcpt_ok"])
        self.assertReply(c.reply(), R["data_go"])
        c.send(b"Subject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n")
        id2 = queued_id(c.reply())
        self.assertReply(c.reply(), R["quit"])
        self.assertClosed(c)
        self.assertEqual(d.read_message(id1).sender, "<b@example.org>")
        self.assertEqual(d.read_message(id1).message, b"Subject: one\r\n\r\nfirst\r\n")
        self.assertEqual(d.read_message(id2).sender, "<c@example.org>")
        self.assertEqual(d.read_message(id2).message, b"Subject: two\r\n\r\nsecond\r\n")

    def test_many_pipelined_commands_all_answered_in_order(self):
        d = self.start_daemon()
        c = d.session()
        c.send(b"NOOP\r\nRSET\r\n" * 10000)           # the client does not read meanwhile
        for i in range(10000):
            self.assertReply(c.reply(30), R["noop"])
            self.assertReply(c.reply(30), R["rset"])
        msg = b"Subject: after the batch\r\n\r\nbody\r\n"
        qid = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], msg))
        self.assertEqual(d.message_ids(), [qid])

    def test_body_in_tiny_chunks(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<chunks@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        msg = make_body(3000, "chunk")
        wire = dot_stuff(msg)
        body, end = wire[:-5], wire[-5:]                 # end == b"\r\n.\r\n"
        send_in_pieces(c, body, [1, 2, 3, 7, 13], pause=0.002)
        for b in (end[0:1], end[1:2], end[2:3], end[3:4], end[4:5]):   # CR, LF, ".", CR, LF
            c.send(b)
            time.sleep(0.1)
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).message, msg)

    def test_swaks_pipelining(self):
        d = self.start_daemon()
        r = d.swaks("--pipeline", to="one@a.test,two@a.test",
                    data=b"Subject: swaks pipeline\n\nbody")
        self.assertEqual(r.returncode, 0, r)
        q = d.read_message(r.queued_id())
        self.assertEqual(q.rcpts, ["<one@a.test>", "<two@a.test>"])
        self.assertEqual(q.message, b"Subject: swaks pipeline\r\n\r\nbody\r\n")


if __name__ == "__main__":
    unittest.main()
