"""The spool keeps its promises: a message answered with 250 survives kill -9;
corrupt queue files are quarantined (each kind with its reason), never deleted;
torn or damaged state records are skipped, not taken for corruption; a stale
file in incoming/ is never committed; a full disk answers 452 4.3.1 and loses
nothing."""

import errno
import json
import os
import random
import re
import subprocess
import time
import unittest

from domsec_harness import (R, Daemon, DomsecTestCase, QueueFile, dot_stuff, make_body,
                            queued_id, require_root, service_ids, unshare_tmpfs_wrap,
                            state_records, wait_until)
from peers import SENDER, DeliveryTestCase, host

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
        """Every kind of damage recovery knows, each with its reason; byte-identical in
        corrupt/, never deleted, never overwritten."""
        d, good_id, good = self.daemon_with_one_message()
        n = [0]

        def name():
            n[0] += 1
            return "00000000000000%02X" % (0xD0 + n[0])

        def field(raw, key, value):
            """raw with the header line 'key ...' replaced by 'key value' (None: dropped)."""
            lines = raw.split(b"\n")
            i = [j for j, x in enumerate(lines) if x.startswith(key + b" ")][0]
            lines[i:i + 1] = [] if value is None else [key + b" " + value]
            return b"\n".join(lines)

        def mine(nm):
            return with_id(good, good_id, nm)

        data_at = re.search(rb"\ndata [0-9A-F]{16}\n", good).end()
        kinds = []                                        # (kind, name, bytes, reason)

        def add(kind, reason, make, nm=None):
            nm = nm or name()
            kinds.append((kind, nm, make(nm), reason))

        add("empty file", "bad magic", lambda nm: b"")
        add("text, not a queue file", "bad magic", lambda nm: b"this is not a queue file\n")
        add("binary garbage", "bad magic",
            lambda nm: bytes(random.Random(7).randrange(256) for _ in range(3000)))
        add("magic only", "truncated header", lambda nm: b"DSQ1\n")
        add("cut inside the header", "truncated header", lambda nm: mine(nm)[:data_at - 9])
        add("header line without a value", "malformed header line",
            lambda nm: mine(nm).replace(b"\nhelo ", b"\nhelo\n", 1))
        add("bad id", "bad id", lambda nm: field(mine(nm), b"id", b"00000000000000ZZ"))
        add("lower-case id", "bad id", lambda nm: field(mine(nm), b"id", nm.lower().encode()))
        add("id of another message", "id does not match file name",
            lambda nm: mine("00000000000000EE"))
        add("bad arrival time", "bad arrival time",
            lambda nm: field(mine(nm), b"arrival", b"yesterday"))
        add("sender without brackets", "bad sender",
            lambda nm: field(mine(nm), b"sender", b"s@example.org"))
        add("recipient without brackets", "bad recipient",
            lambda nm: field(mine(nm), b"rcpt", b"u@a.test"))
        add("no recipient", "incomplete envelope", lambda nm: field(mine(nm), b"rcpt", None))
        add("unknown header line", "unknown header line",
            lambda nm: mine(nm).replace(b"\nsender ", b"\nx-what ever\nsender ", 1))
        add("data length not hex", "bad data length",
            lambda nm: re.sub(rb"\ndata [0-9A-F]{16}\n", b"\ndata 00000000000000XY\n",
                              mine(nm)))
        add("data length beyond the file", "message data truncated or end marker missing",
            lambda nm: re.sub(rb"\ndata [0-9A-F]{16}\n", b"\ndata FFFFFFFFFFFFFFFF\n",
                              mine(nm)))
        add("message cut short", "message data truncated or end marker missing",
            lambda nm: mine(nm)[:len(good) - 30])
        add("no end marker (file ends after the data)",
            "message data truncated or end marker missing", lambda nm: mine(nm)[:-4])
        add("end marker damaged", "message data truncated or end marker missing",
            lambda nm: mine(nm)[:-4] + b"END\n")
        add("not a queue file name", "not a queue file name", lambda nm: mine(good_id),
            nm="junk.txt")
        add("lower-case queue file name", "not a queue file name", lambda nm: mine(good_id),
            nm=name().lower())
        for kind, nm, data, reason in kinds:
            d.put_queue_file("messages", nm, data)
        # a directory and a symbolic link named like queue files
        dir_name, link_name = name(), name()
        os.mkdir(d.qpath("messages", dir_name), 0o700)
        os.chown(d.qpath("messages", dir_name), *service_ids())
        os.symlink(good_id, d.qpath("messages", link_name))
        os.lchown(d.qpath("messages", link_name), *service_ids())
        d.restart()
        total = len(kinds) + 2
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=%d\s*$" % total)
        for kind, nm, data, reason in kinds + [("a directory", dir_name, None,
                                                 "not a regular file (directory)"),
                                                ("a symbolic link", link_name, None,
                                                 "not a regular file (symbolic link)")]:
            with self.subTest(kind=kind):
                d.wait_log(d.prefix() + r"warning queue corrupt file id=%s moved=corrupt/%s "
                           r"reason=%s\s*$" % (re.escape(nm), re.escape(nm), re.escape(reason)))
                self.assertNotIn(nm, d.listdir("messages"))
                if data is not None:
                    self.assertEqual(d.read_raw("corrupt", nm), data, "quarantined file changed")
        self.assertTrue(os.path.isdir(d.qpath("corrupt", dir_name)))
        self.assertEqual(os.readlink(d.qpath("corrupt", link_name)), good_id)
        self.assertEqual(d.message_ids(), [good_id])
        self.assertEqual(d.read_committed(good_id), good)
        # a clash in corrupt/ gets a suffix; nothing is overwritten or deleted
        d.put_queue_file("messages", kinds[0][1], b"second empty file? no: garbage")
        d.kill9()
        d.restart()
        d.wait_log(d.prefix() + r"warning queue corrupt file id=%s moved=corrupt/%s\.1 "
                   r"reason=bad magic\s*$" % (kinds[0][1], kinds[0][1]))
        self.assertEqual(d.read_raw("corrupt", kinds[0][1]), kinds[0][2])
        self.assertEqual(d.read_raw("corrupt", kinds[0][1] + ".1"),
                         b"second empty file? no: garbage")

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


def queue_file(qid, sender, rcpts, message, trailer=b""):
    """A committed queue file as the daemon writes it (docs/ARCHITECTURE.md, "Queue file")."""
    now = time.time()
    arrival = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)
    head = ["DSQ1", "id " + qid, "arrival " + arrival, "connector Hub",
            "client 127.0.0.1:1", "helo client.example.org", "session 00000000000000AA",
            "sender " + sender] + ["rcpt " + r for r in rcpts] + ["data %016X" % len(message)]
    return "\n".join(head).encode() + b"\n" + message + b"end\n" + trailer


class StateRecordTest(DeliveryTestCase):
    """Damaged state records are not corruption: a torn last line (a crash during an
    append) and damaged records are skipped, the rest replayed; the message is kept
    and delivered to exactly the recipients still pending."""

    def test_torn_and_damaged_records_are_skipped_not_quarantined(self):
        self.start_dns(host("rec.test", "127.0.0.42"))
        peer = self.peer("127.0.0.42")
        d = self.start_relay(start=False)
        rcpts = ["<a@rec.test>", "<b@rec.test>", "<c@rec.test>"]
        msg = b"From: <alice@snd.test>\r\nSubject: records\r\n\r\nHello.\r\n"
        ms = int(time.time() * 1000)
        trailer = (b"rcpt 0 delivered %d 1 250 2.0.0 Ok\n" % ms +   # a: done, not again
                   b"rcpt 1 delivered -5 1 250 damaged time\n" +      # skipped: b pending
                   b"rcpt 9 delivered %d 1 250 no such index\n" % ms +
                   b"frobnicate %d\n" % ms +                           # unknown: skipped
                   b"\n" +                                             # empty: skipped
                   b"rcpt 2 delivered %d 1 250 2.0" % ms)              # torn: c pending
        qid = "00000000000000B7"
        d.put_queue_file("messages", qid, queue_file(qid, SENDER, rcpts, msg, trailer))
        d.start()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        for r in rcpts[1:]:
            self.wait_delivered(d, qid, r, ip="127.0.0.42")
        self.wait_removed(d, qid)
        self.assertEqual([peer.count(r) for r in rcpts], [0, 1, 1], peer.txns)
        self.assertEqual([(t.rcpts, t.data.endswith(msg)) for t in peer.delivered()],
                         [(rcpts[1:], True)])
        self.assertEqual(d.listdir("corrupt"), [])

    def test_records_appended_after_a_torn_line_are_read_back(self):
        """The next append ends the torn line first, so a restart reads the new record."""
        self.start_dns(host("rec.test", "127.0.0.43"))
        peer = self.peer("127.0.0.43", on_rcpt=lambda a, n: "451 4.3.0 Later" if a ==
                         "<b@rec.test>" else None)
        d = self.start_relay({"message_retry_interval": "1h",
                              "transient_failure_retry_interval": "1h"}, start=False)
        qid = "00000000000000B8"
        msg = b"Subject: torn\r\n\r\nHello.\r\n"
        d.put_queue_file("messages", qid, queue_file(qid, SENDER, ["<a@rec.test>",
                                                                   "<b@rec.test>"], msg,
                                                     b"rcpt 1 deliv"))
        d.start()
        self.wait_delivered(d, qid, "<a@rec.test>", ip="127.0.0.43")
        raw = wait_until(lambda: (lambda x: x if re.search(rb"\nrcpt 1 deferred .*\n", x)
                                  else None)(d.read_raw("messages", qid)), 10,
                         "the deferral of b recorded")
        self.assertRegex(raw, rb"end\nrcpt 1 deliv\nrcpt 0 delivered ",
                         "the torn line was not ended before the next record")
        d.kill9()
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        # a was recorded delivered after the torn line: not sent again; b waits (1 h)
        p = subprocess.run([os.path.join(os.path.dirname(d.exe), "domsec"), "--socket",
                            d.control_socket, "queue", "show", qid, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        shown = json.loads(p.stdout)
        self.assertEqual([(r["addr"], r["state"]) for r in shown["rcpts"]],
                         [("a@rec.test", "delivered"), ("b@rec.test", "pending")])
        self.assertEqual(peer.count("<a@rec.test>"), 1)
        self.assertNotIn("delivered id=%s" % qid, d.log())
        self.assertEqual(d.message_ids(), [qid])


class PrivateTmpfs:
    """A small tmpfs on dir in a mount namespace of its own that outlives the daemons
    started in it (nsenter), so a restart finds the same full disk.  prefix: where the
    test sees dir's namespace (/proc/PID/root)."""

    def __init__(self, tc, dir, size):
        uid, gid = service_ids()
        os.makedirs(dir, exist_ok=True)
        script = ('mount -t tmpfs -o size=%s,mode=0700,uid=%d,gid=%d tmpfs "$1" && '
                  'echo mounted && exec sleep 3600' % (size, uid, gid))
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      script, "sh", dir], stdout=subprocess.PIPE)
        tc.addCleanup(self.stop)
        if self.proc.stdout.readline() != b"mounted\n":
            raise AssertionError("could not mount a tmpfs in a private namespace")
        self.prefix = "/proc/%d/root" % self.proc.pid
        with open("/proc/%d/mountinfo" % self.proc.pid) as f:
            if not re.search(r" %s .* - tmpfs " % re.escape(dir), f.read()):
                raise AssertionError("%s is not the small tmpfs; the test would prove "
                                     "nothing" % dir)

    def wrap(self, argv):
        # -r -w: entering a mount namespace resets the root and the working
        # directory to the namespace's own; keep the holder's (a chroot, as in
        # scripts/check-fresh, would otherwise lose the build directory).
        return ["nsenter", "-t", str(self.proc.pid), "-m", "-r", "-w", "--"] + argv

    def fill(self, path):
        """Write path until the tmpfs is full; the filler's path."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        return path

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


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

    def test_full_disk_restart_and_recovery_after_space_frees(self):
        """The disk stays full across a kill -9: the daemon restarts and recovers on it,
        answers 452 meanwhile, and accepts again once space is freed."""
        require_root("the full-disk test (tmpfs in a private mount namespace)")
        d = Daemon(self)
        fs = PrivateTmpfs(self, d.queue_dir, "400k")
        d.start(wrap=fs.wrap)
        d.fs_prefix = fs.prefix
        c = d.session()
        id1 = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        raw1 = d.read_committed(id1)
        filler = fs.fill(d.qpath("filler"))
        self.assertReply(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL),
                         R["disk_full"])
        d.kill9()
        d.restart(wrap=fs.wrap)
        d.fs_prefix = fs.prefix
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        c = d.session()
        self.assertReply(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL),
                         R["disk_full"])
        self.assertEqual(d.message_ids(), [id1])
        os.unlink(filler)
        self.assertReply(c.cmd("RSET"), R["rset"])
        id2 = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        self.assertEqual(d.message_ids(), sorted([id1, id2]))
        self.assertEqual(d.read_committed(id1), raw1)
        self.assertEqual(d.listdir("incoming"), [])


class DiskFullDeliveryTest(DeliveryTestCase):

    def test_state_record_on_a_full_disk_is_written_when_space_frees(self):
        """The next hop said 250 but the record cannot be written (ENOSPC): the outcome
        is kept in memory, not logged as delivered, not sent again, and written once
        space is freed; then the file is removed."""
        require_root("the full-disk test (tmpfs in a private mount namespace)")
        self.start_dns(host("full.test", "127.0.0.46"))
        peer = self.peer("127.0.0.46")
        d = self.start_relay(start=False)
        fs = PrivateTmpfs(self, d.queue_dir, "400k")
        d.fs_prefix = fs.prefix
        qid, rcpt = "00000000000000C9", "<u@full.test>"
        # a file of exactly two pages: any record appended needs a page the tmpfs lacks
        raw = queue_file(qid, SENDER, [rcpt], b"")
        head = b"Subject: full\r\n\r\n"
        msg = head + b"x" * (8192 - len(raw) - len(head) - 2) + b"\r\n"
        raw = queue_file(qid, SENDER, [rcpt], msg)
        self.assertEqual(len(raw), 8192)
        d.put_queue_file("messages", qid, raw)
        filler = fs.fill(d.qpath("filler"))
        d.start(wrap=fs.wrap)
        d.fs_prefix = fs.prefix
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        d.wait_log(d.prefix() + r"warning queue cannot write state id=%s: No space left on "
                   r"device\s*$" % qid)
        self.assertEqual(peer.count(rcpt), 1)
        self.assertNotIn("delivered id=%s" % qid, d.log())
        self.assertEqual(d.read_raw("messages", qid), raw)
        os.unlink(filler)
        self.wait_delivered(d, qid, rcpt, ip="127.0.0.46", timeout=30)
        self.wait_removed(d, qid)
        self.assertEqual(peer.count(rcpt), 1, "sent again although the peer had said 250")
        self.assertEqual([t.data.endswith(msg) for t in peer.delivered()], [True])


if __name__ == "__main__":
    unittest.main()
