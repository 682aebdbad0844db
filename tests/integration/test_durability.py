"""The spool keeps its promises: a message answered with 250 survives kill -9;
corrupt queue files are quarantined, never deleted; a stale file in incoming/
is never committed; a full disk answers 452 4.3.1 and loses nothing."""

import os
import re
import unittest

from domsec_harness import (R, Daemon, DomsecTestCase, QueueFile, dot_stuff, make_body,
                            queued_id, require_root, unshare_tmpfs_wrap, wait_until)

SMALL = b"Subject: small\r\n\r\nsmall body\r\n"


def committed_part(q):
    """The bytes written at commit time (delivery may append state records later)."""
    return q.raw[:len(q.raw) - len(q.trailer)]


def with_id(raw, old_id, new_id):
    old = b"\nid %s\n" % old_id.encode()
    assert old in raw
    return raw.replace(old, b"\nid %s\n" % new_id.encode(), 1)


class KillTest(DomsecTestCase):

    def test_kill9_right_after_250_then_restart(self):
        d = self.start_daemon()
        c = d.session()
        msg = make_body(200000, "durable")
        c.expect("MAIL FROM:<durable@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<one@a.test>", R["rcpt_ok"])
        c.expect("RCPT TO:<two@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(dot_stuff(msg))
        r = c.reply(30)
        d.kill9()                                    # the instant the 250 is read
        qid = queued_id(r)
        q = d.read_message(qid)
        self.assertEqual(q.message, msg)
        self.assertEqual(q.rcpts, ["<one@a.test>", "<two@a.test>"])
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        self.assertEqual(d.message_ids(), [qid])
        q2 = d.read_message(qid)
        self.assertEqual(committed_part(q2), committed_part(q))
        self.assertEqual(q2.message, msg)
        # the restarted daemon accepts mail and gives a new id
        qid2 = queued_id(d.session().transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        self.assertNotEqual(qid2, qid)
        self.assertEqual(d.message_ids(), sorted([qid, qid2]))

    def test_kill9_during_data_commits_nothing(self):
        d = self.start_daemon()
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<u@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(make_body(300000, "partial"))        # no end of data
        try:                                          # best effort: let it reach the spool
            wait_until(lambda: d.listdir("incoming"), 2.0, "an incoming file")
        except AssertionError:
            pass
        d.kill9()
        self.assertEqual(d.message_ids(), [])
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=0 corrupt=\d+\s*$")
        self.assertEqual(d.message_ids(), [])


class RecoveryTest(DomsecTestCase):

    def daemon_with_one_message(self):
        d = self.start_daemon()
        r = d.swaks(data=b"Subject: keep me\n\nbody")
        self.assertEqual(r.returncode, 0, r)
        qid = r.queued_id()
        d.kill9()
        return d, qid, d.read_committed(qid)

    def test_corrupt_files_are_quarantined_at_start(self):
        d, good_id, good = self.daemon_with_one_message()
        cut = len(good) - len(b"end\n") - 10
        bad = {
            "00000000000000C1": b"this is not a queue file\n",
            "00000000000000C2": with_id(good, good_id, "00000000000000C2")[:cut],  # truncated
            "00000000000000C3": with_id(good, good_id, "00000000000000C3")
                                .replace(b"\nend\n", b"\nEND\n"),                    # no end
            "00000000000000C4": b"",                                                 # empty
        }
        for name, data in bad.items():
            d.put_queue_file("messages", name, data)
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=4\s*$")
        for name, data in bad.items():
            d.wait_log(d.prefix() + r"warning queue corrupt file id=%s moved=corrupt/%s reason=\S"
                       % (name, name))
            self.assertEqual(d.read_raw("corrupt", name), data, "quarantined %s changed" % name)
        self.assertEqual(d.message_ids(), [good_id])
        self.assertEqual(d.read_committed(good_id), good)

    def test_stale_incoming_file_is_never_committed(self):
        d, good_id, good = self.daemon_with_one_message()
        stale_ids = ["00000000000000AB", "00000000000000AC"]
        d.put_queue_file("incoming", stale_ids[0], with_id(good, good_id, stale_ids[0]))
        d.put_queue_file("incoming", stale_ids[1] + ".tmp",
                         with_id(good, good_id, stale_ids[1])[:40])
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=\d+\s*$")
        self.assertEqual(d.message_ids(), [good_id])
        new_id = queued_id(d.session().transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        self.assertEqual(d.message_ids(), sorted([good_id, new_id]))
        d.kill9()
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=2 corrupt=\d+\s*$")
        self.assertEqual(d.message_ids(), sorted([good_id, new_id]))
        for s in stale_ids:
            self.assertNotIn(s, d.message_ids())


class SpoolErrorTest(DomsecTestCase):

    def test_other_spool_error_answers_451_and_session_continues(self):
        d = self.start_daemon()
        c = d.session()
        id1 = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        messages = d.qpath("messages")
        os.chmod(messages, 0o500)                 # the daemon's user can no longer commit
        self.addCleanup(os.chmod, messages, 0o700)
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<u@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(dot_stuff(SMALL))
        self.assertReply(c.reply(30), R["spool_error"])
        self.assertEqual(d.message_ids(), [id1])
        os.chmod(messages, 0o700)
        self.assertReply(c.cmd("RSET"), R["rset"])
        id3 = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        self.assertEqual(d.message_ids(), sorted([id1, id3]))


class DiskFullTest(DomsecTestCase):

    def test_full_disk_answers_452_and_loses_nothing(self):
        require_root("the full-disk test (tmpfs in a private mount namespace)")
        d = Daemon(self, connectors=[("Inet", {"max_message_size": "10485760"})])
        d.start(wrap=unshare_tmpfs_wrap(d.queue_dir, "300k"))
        d.fs_prefix = "/proc/%d/root" % d.pid
        with open("/proc/%d/mountinfo" % d.pid) as f:
            self.assertRegex(f.read(), r" %s .* - tmpfs " % re.escape(d.queue_dir),
                             "the queue is not on the small tmpfs; the test would prove nothing")
        c = d.session()
        first = make_body(2000, "first")
        id1 = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], first))
        raw1 = d.read_committed(id1)
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<u@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        big = make_body(1000000, "big")
        c.send(dot_stuff(big))
        self.assertReply(c.reply(60), R["disk_full"])
        self.assertEqual(d.message_ids(), [id1])
        self.assertEqual(d.read_committed(id1), raw1)
        self.assertEqual(QueueFile(raw1, id1).message, first)
        # the session lives on, and the space of the failed message was given back
        self.assertReply(c.cmd("RSET"), R["rset"])
        third = make_body(2000, "third")
        r3 = c.transaction("<s@example.org>", ["<u@a.test>"], third)
        self.assertEqual(r3.code, 250, "a small message after the 452 and RSET got %r; the "
                         "failed message's space must be free by then (incoming/: %r)"
                         % (r3.lines, [(n, os.stat(d.qpath("incoming", n)).st_size)
                                       for n in d.listdir("incoming")]))
        id3 = queued_id(r3)
        self.assertEqual(d.message_ids(), sorted([id1, id3]))
        self.assertEqual(d.read_message(id3).message, third)
        self.assertEqual(d.read_committed(id1), raw1)
        self.assertTrue(os.path.isdir(d.qpath("messages")))


if __name__ == "__main__":
    unittest.main()
