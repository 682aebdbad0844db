"""SMTP smuggling: a bare LF or bare CR inside DATA can never end the message.
The message is refused with 550 5.6.11 after the real <CRLF>.<CRLF>, nothing is
queued for it, the smuggled commands are not executed, and the session goes on."""

import time
import unittest

from domsec_harness import R, DomsecTestCase, queued_id

BEFORE = b"From: <a@example.org>\r\nSubject: smuggle\r\n\r\nbefore"
SMUGGLED = (b"MAIL FROM:<evil@attacker.example>\r\n"
            b"RCPT TO:<victim@a.test>\r\n"
            b"DATA\r\n"
            b"From: <ceo@a.test>\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n")
REAL_END = b".\r\n"          # SMUGGLED ends in CRLF, so this is the real CRLF.CRLF

# sequences that some receivers take for an end of data
VARIANTS = {
    "lf_dot_lf": b"\n.\n",
    "crlf_dot_lf": b"\r\n.\n",
    "lf_dot_crlf": b"\n.\r\n",
    "cr_dot_cr": b"\r.\r",
    "cr_dot_crlf": b"\r.\r\n",
    "crlf_dot_cr": b"\r\n.\r",
    "cr_dot_cr_lf": b"\r.\r\r\n",
}

CLEAN = b"From: <clean@example.org>\r\nSubject: clean\r\n\r\nclean body\r\n"


class SmugglingTest(DomsecTestCase):

    def check_refused(self, parts):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<a@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        for i, p in enumerate(parts):
            if i:
                time.sleep(0.3)          # give a wrong parser time to act on the first part
            c.send(p)
        self.assertReply(c.reply(), R["bare"])
        # The very next reply belongs to our NOOP: no smuggled command got a reply.
        self.assertReply(c.cmd("NOOP"), R["noop"])
        self.assertEqual(d.message_ids(), [])
        # The session continues; a clean message is accepted and is the only one queued.
        qid = queued_id(c.transaction("<clean@example.org>", ["<user@a.test>"], CLEAN))
        self.assertEqual(d.message_ids(), [qid])
        q = d.read_message(qid)
        self.assertEqual(q.sender, "<clean@example.org>")
        self.assertEqual(q.rcpts, ["<user@a.test>"])
        self.assertEqual(q.message, CLEAN)
        self.assertNotIn(b"smuggled", q.raw)
        self.assertNotRegex(d.log(), r"from=<evil@attacker\.example>")

    def test_bare_lf_in_header(self):
        self.check_refused([b"Subject: x\nFrom: <a@example.org>\r\n\r\nbody\r\n" + REAL_END])

    def test_bare_cr_inside_a_line(self):
        self.check_refused([b"Subject: x\r\n\r\nabc\rdef\r\n" + REAL_END])

    def test_bare_lf_at_end_of_body(self):
        # "last\n" then ".\r\n": the sequence is "\n.\r\n", not the end of data
        self.check_refused([b"Subject: x\r\n\r\nlast\n.\r\n" + SMUGGLED + REAL_END])


def _make(seq, split):
    def test(self):
        payload = BEFORE + seq + SMUGGLED + REAL_END
        if split:
            cut = len(BEFORE) + len(seq)
            self.check_refused([payload[:cut], payload[cut:]])
        else:
            self.check_refused([payload])
    return test


for _name, _seq in VARIANTS.items():
    setattr(SmugglingTest, "test_%s_one_packet" % _name, _make(_seq, False))
    setattr(SmugglingTest, "test_%s_split_after_sequence" % _name, _make(_seq, True))


if __name__ == "__main__":
    unittest.main()
