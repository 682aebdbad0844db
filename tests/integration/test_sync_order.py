"""Durability proven by the order of system calls (issue 15, item 3).

kill -9 keeps the page cache, so no crash test can tell a relay that syncs
from one that does not; the order of its system calls can.  domsecd runs
under the recorder $DOMSEC_BUILD/tests/libsysrec.so (tests/integration/
preload/sysrec.c: every write, sync, rename, unlink and open, with the path
of its descriptor, its thread, and a global sequence number taken before and
after the real call), and each test asserts, per message:

  reception   the file's bytes written in incoming/ -> fdatasync (or fsync)
              of that file -> renameat2(incoming/ID -> messages/ID) -> fsync
              of messages/ -> "250 2.6.0 <ID@...>" written to the client
  delivery    the "rcpt N delivered" record appended -> fdatasync of the
              file -> "delivered id=ID" logged -> unlink(messages/ID) ->
              fsync of messages/ -> "removed id=ID" logged
  failure     the failure DSN made durable as a reception is -> only then
              the "rcpt N failed" record appended and fdatasync'd
  quarantine  renameat2(messages/X -> corrupt/X) -> fsync of corrupt/ and
              of messages/ -> "corrupt file id=X" logged
  admin       `domsec queue hold`: the "hold" record appended -> fdatasync ->
              the answer on the control socket; `domsec queue delete`:
              unlink(messages/ID) -> fsync of messages/ -> the answer

"A -> B" means the call A returned before the call B started (by the
sequence numbers, exact across threads).  tests/mutate-syncs.sh removes
each fsync/fdatasync of relay/queue and relay/qmgr in turn and checks that
this test fails every time.
"""

import json
import os
import re
import subprocess
import unittest

from domsec_harness import (Daemon, DomsecTestCase, domsecd_path, preload_lib, queued_id,
                            wait_until)
from peers import DeliveryTestCase, host

# Nothing is retried during a test (a deferred message stays waiting).
QUIET = {"transient_failure_retry_interval": "1h",
         "outbound_connection_failure_retry_interval": "1h",
         "message_retry_interval": "1h"}

HEAD_RE = re.compile(rb'(\d+) (\d+) (\d+) (\S+) (-?\d+) (\d+) (-?\d+) (-?\d+) (-?\d+) '
                     rb'"(.*)" "(.*)" (\d+)\n')


class Call:
    """One recorded call (see sysrec.c for the fields)."""

    def __init__(self, m, data):
        self.s0, self.s1, self.tid = int(m.group(1)), int(m.group(2)), int(m.group(3))
        self.call = m.group(4).decode()
        self.ret, self.err, self.fd = int(m.group(5)), int(m.group(6)), int(m.group(7))
        self.off, self.len = int(m.group(8)), int(m.group(9))
        self.path = m.group(10).decode("utf-8", "replace")
        self.path2 = m.group(11).decode("utf-8", "replace")
        self.data = data

    @property
    def is_write(self):
        return self.call in ("write", "writev", "pwrite", "send", "sendto", "sendmsg")

    @property
    def is_sync(self):
        return self.call in ("fsync", "fdatasync")

    @property
    def is_rename(self):
        return self.call in ("rename", "renameat", "renameat2")

    @property
    def is_unlink(self):
        return self.call in ("unlink", "unlinkat")

    def __repr__(self):
        return "<%d-%d t%d %s(%s%s) = %d%s%s>" % (
            self.s0, self.s1, self.tid, self.call, self.path,
            " -> " + self.path2 if self.path2 else "", self.ret,
            " errno=%d" % self.err if self.err else "",
            " %r" % self.data[:60] if self.data else "")


def read_trace(path):
    """The recorded calls, in the order they started."""
    with open(path, "rb") as f:
        raw = f.read()
    calls, pos = [], 0
    while pos < len(raw):
        m = HEAD_RE.match(raw, pos)
        if m is None:
            raise AssertionError("trace %s: bad record at byte %d: %r"
                                 % (path, pos, raw[pos:pos + 120]))
        n = int(m.group(12))
        data = raw[m.end():m.end() + n]
        pos = m.end() + n + 1
        calls.append(Call(m, data))
    calls.sort(key=lambda c: c.s0)
    return calls


class Trace:
    """Queries over a trace, with the queue's real paths."""

    def __init__(self, path, queue_dir):
        self.calls = read_trace(path)
        q = os.path.realpath(queue_dir)
        self.incoming, self.messages, self.corrupt = (os.path.join(q, d) for d in
                                                      ("incoming", "messages", "corrupt"))

    def ok(self, pred):
        return [c for c in self.calls if c.ret >= 0 and pred(c)]

    def first_after(self, after, pred):
        """The first successful call matching pred that started after `after` returned."""
        for c in self.calls:
            if c.s0 > after.s1 and c.ret >= 0 and pred(c):
                return c
        return None

    def one(self, what, pred):
        got = self.ok(pred)
        if len(got) != 1:
            raise AssertionError("expected one %s, recorded %d: %r" % (what, len(got), got))
        return got[0]

    def log_write(self, text):
        """The write of a log line (to fd 2, the daemon's stderr) containing text."""
        t = text.encode()
        return self.one("log line %r" % text,
                        lambda c: c.is_write and c.fd == 2 and t in c.data)

    def reply_write(self, text):
        t = text.encode()
        return self.one("reply %r" % text,
                        lambda c: c.is_write and c.path.startswith("socket:") and t in c.data)

    def file_content(self, writes):
        buf = bytearray()
        for c in writes:
            end = c.off + len(c.data)
            if len(buf) < end:
                buf.extend(b"\0" * (end - len(buf)))
            buf[c.off:end] = c.data
        return bytes(buf)


class SyncOrderMixin:
    """Start a daemon under the recorder, and the per-message assertions."""

    def domsec(self, d, *args):
        """`domsec queue ARGS` against d; its output (exit status 0 asserted)."""
        exe = os.path.join(os.path.dirname(domsecd_path()), "domsec")
        p = subprocess.run([exe, "--socket", d.control_socket, "queue"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, "domsec queue %s: %s" % (args, p.stdout))
        return p.stdout.decode()

    def submit_deferred(self, d, rcpts):
        """One message per recipient, each tried once and waiting (not in a round)."""
        ids = [self.submit(d, ["<%s>" % r]) for r in rcpts]

        def waiting():
            ms = {m["id"]: m for m in json.loads(self.domsec(d, "list", "--json"))["messages"]}
            return all(q in ms and ms[q]["state"] == "deferred"
                       and ms[q]["rcpts"][0]["attempts"] >= 1 for q in ids)
        wait_until(waiting, 20, "every message tried once and waiting")
        return ids

    def record(self, d):
        self.trace_path = os.path.join(d.dir, "sysrec.trace")
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = ["LD_PRELOAD=" + preload_lib("sysrec"), "DOMSEC_SYSREC=" + self.trace_path,
               "DOMSEC_SYSREC_PROG=" + os.path.basename(d.exe),
               "DOMSEC_SYSREC_FULL=" + os.path.realpath(d.queue_dir),
               # An ASan build: the recorder is preloaded before the ASan runtime.
               "ASAN_OPTIONS=%s%sverify_asan_link_order=0" % (asan, ":" if asan else "")]
        d.start(wrap=lambda argv: ["env"] + env + argv)
        return d

    def trace(self, d):
        return Trace(self.trace_path, d.queue_dir)

    def assertBefore(self, a, b, what):
        self.assertIsNotNone(a, what + ": the first call is missing")
        self.assertIsNotNone(b, what + ": the second call is missing")
        self.assertLess(a.s1, b.s0, "%s: %r did not return before %r started" % (what, a, b))

    def check_reception(self, t, qid, body_marker):
        """data -> fdatasync(file) -> rename; returns the rename and the first fsync of
        messages/ after it (check_reply: before the 250)."""
        inc, msg = os.path.join(t.incoming, qid), os.path.join(t.messages, qid)
        ren = t.one("rename of %s" % qid, lambda c: c.is_rename and c.path == inc
                    and c.path2 == msg)
        writes = [c for c in t.ok(lambda c: c.is_write and c.path == inc)]
        self.assertTrue(writes, "no data written to %s" % inc)
        content = t.file_content(writes)
        self.assertTrue(content.startswith(b"DSQ1\nid %s\n" % qid.encode())
                        and content.endswith(b"end\n") and body_marker in content,
                        "%s as written: %r" % (qid, content[:200] + b"..." + content[-80:]))
        last = max(writes, key=lambda c: c.s1)
        for w in writes:
            self.assertBefore(w, ren, "%s: data written before the rename" % qid)
        fsync = t.first_after(last, lambda c: c.is_sync and c.path == inc)
        self.assertBefore(fsync, ren, "%s: the file synced (after its last write) before "
                          "the rename" % qid)
        dsync = t.first_after(ren, lambda c: c.is_sync and c.path == t.messages)
        return ren, dsync

    def check_reply(self, t, qid, ren, dsync):
        reply = t.reply_write("250 2.6.0 <%s@" % qid)
        self.assertBefore(ren, reply, "%s: renamed into messages/ before the 250" % qid)
        self.assertBefore(dsync, reply, "%s: messages/ synced after the rename, before the 250"
                          % qid)


class ReceptionOrderTest(SyncOrderMixin, DomsecTestCase):

    def test_every_250_follows_file_sync_rename_directory_sync(self):
        d = self.record(Daemon(self))
        qids, markers = [], {}
        clients = [d.session() for _ in range(4)]
        for rnd in range(2):
            # Four sessions end DATA together, so the commit thread batches them
            # (one directory fsync for several renames): each still needs it.
            for i, c in enumerate(clients):
                marker = b"sync-order-%d-%d" % (rnd, i)
                c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<u@a.test>\r\nDATA\r\n")
                for _ in range(3):
                    c.reply()
                c.send(b"Subject: x\r\n\r\n" + marker + b"\r\n.\r\n")
                markers[c] = marker
            for c in clients:
                qid = queued_id(c.reply())
                qids.append((qid, markers[c]))
        big = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n"
        c = d.session()       # large: written in the background before the commit
        qid = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"],
                                      big * 600 + b"big-marker\r\n"))
        qids.append((qid, b"big-marker"))
        self.assertEqual(d.stop(), 0)
        t = self.trace(d)
        inc = os.path.join(t.incoming, qid)
        self.assertGreater(len({c.tid for c in t.ok(lambda c: c.is_write and c.path == inc)}), 1,
                           "the large message was not written by the pool and the commit thread")
        for qid, marker in qids:
            ren, dsync = self.check_reception(t, qid, marker)
            self.check_reply(t, qid, ren, dsync)


class DeliveryOrderTest(SyncOrderMixin, DeliveryTestCase):

    def test_delivery_record_synced_before_logged_and_removal_synced(self):
        self.start_dns(host("dest.test", "127.0.0.41"))
        s = self.sink("127.0.0.41")
        d = self.record(self.start_relay(start=False))
        done = []
        # One at a time: no other message's directory fsync can fall between
        # an unlink and its own.
        for i in range(3):
            marker = "delivery-order-%d" % i
            qid = self.submit(d, ["<u%d@dest.test>" % i],
                              message=b"Subject: %s\r\n\r\n%s\r\n" % ((marker.encode(),) * 2))
            self.wait_removed(d, qid)
            done.append((qid, i, marker))
        self.assertEqual(d.stop(), 0)
        for _, i, _ in done:
            self.assertEqual(s.count("<u%d@dest.test>" % i), 1)
        t = self.trace(d)
        for qid, i, marker in done:
            ren, dsync = self.check_reception(t, qid, marker.encode())
            self.check_reply(t, qid, ren, dsync)
            self.check_delivery(t, qid, i)

    def check_delivery(self, t, qid, i):
        msg = os.path.join(t.messages, qid)
        rec = t.one("delivered record of %s" % qid, lambda c: c.is_write and c.path == msg
                    and c.data.startswith(b"rcpt 0 delivered ") and c.data.endswith(b"\n"))
        fsync = t.first_after(rec, lambda c: c.is_sync and c.path == msg)
        logged = t.log_write("delivered id=%s to=<u%d@dest.test>" % (qid, i))
        self.assertBefore(rec, fsync, "%s: record appended, then synced" % qid)
        self.assertBefore(fsync, logged, "%s: record synced before 'delivered' logged" % qid)
        unlink = t.one("unlink of %s" % qid, lambda c: c.is_unlink and c.path == msg)
        self.assertBefore(logged, unlink, "%s: 'delivered' logged before the file removed" % qid)
        dsync = t.first_after(unlink, lambda c: c.is_sync and c.path == t.messages)
        removed = t.log_write("removed id=%s" % qid)
        self.assertBefore(unlink, dsync, "%s: messages/ synced after the unlink" % qid)
        self.assertBefore(dsync, removed, "%s: messages/ synced before 'removed' logged" % qid)

    def test_failure_dsn_durable_before_failed_record(self):
        self.start_dns(host("dest.test", "127.0.0.42"))
        self.peer("127.0.0.42", on_rcpt=lambda a, n: "550 5.1.1 User unknown")
        self.sender_sink()
        d = self.record(self.start_relay(start=False))
        qid = self.submit(d, ["<nobody@dest.test>"],
                          message=b"Subject: bounce me\r\n\r\nfailure-order\r\n")
        dsn = self.wait_dsn(d, qid, "failure")
        self.wait_removed(d, qid)
        self.wait_removed(d, dsn)
        self.assertEqual(d.stop(), 0)
        t = self.trace(d)
        ren, dsync = self.check_reception(t, dsn, b"Subject: bounce me")  # headers only
        msg = os.path.join(t.messages, qid)
        rec = t.one("failed record of %s" % qid, lambda c: c.is_write and c.path == msg
                    and b"rcpt 0 failed " in c.data)
        self.assertBefore(ren, rec, "the DSN %s renamed into messages/ before %s's failed "
                          "record" % (dsn, qid))
        self.assertBefore(dsync, rec, "messages/ synced after the DSN %s's rename, before %s's "
                          "failed record" % (dsn, qid))
        fsync = t.first_after(rec, lambda c: c.is_sync and c.path == msg)
        logged = t.log_write("info queue failed id=%s to=<nobody@dest.test>" % qid)
        self.assertBefore(fsync, logged, "%s: failed record synced before it is logged" % qid)


class QueueAdminOrderTest(SyncOrderMixin, DeliveryTestCase):

    def test_hold_and_delete_durable_before_answered(self):
        self.start_dns(host("dead.test", "127.0.0.44"))       # nothing listens there
        d = self.record(self.start_relay(QUIET, start=False))
        held, gone = self.submit_deferred(d, ("h@dead.test", "x@dead.test"))
        self.domsec(d, "hold", held)
        self.assertIn("deleted 1 of 1", self.domsec(d, "delete", gone))
        self.assertEqual(d.stop(), 0)
        t = self.trace(d)
        path = os.path.join(t.messages, held)
        rec = t.one("hold record", lambda c: c.is_write and c.path == path
                    and c.data.startswith(b"\nhold "))
        fsync = t.first_after(rec, lambda c: c.is_sync and c.path == path)
        answer = t.reply_write('"changed"')
        self.assertBefore(rec, fsync, "hold: record appended, then synced")
        self.assertBefore(fsync, answer, "hold: record synced before the answer")
        unlink = t.one("unlink of %s" % gone, lambda c: c.is_unlink
                       and c.path == os.path.join(t.messages, gone))
        dsync = t.first_after(unlink, lambda c: c.is_sync and c.path == t.messages)
        answer = t.reply_write('"deleted"')
        self.assertBefore(unlink, dsync, "delete: messages/ synced after the unlink")
        self.assertBefore(dsync, answer, "delete: messages/ synced before the answer")


class QuarantineOrderTest(SyncOrderMixin, DomsecTestCase):

    def test_quarantine_synced_in_both_directories(self):
        d = Daemon(self)
        bad = "00000000000000AA"
        d.put_queue_file("messages", bad, b"DSQ1\nnot a queue file\n")
        self.record(d)
        d.wait_log(d.prefix() + r"warning queue corrupt file id=%s " % bad)
        self.assertEqual(d.stop(), 0)
        t = self.trace(d)
        src, dst = os.path.join(t.messages, bad), os.path.join(t.corrupt, bad)
        ren = t.one("quarantine rename", lambda c: c.is_rename and c.path == src
                    and c.path2 == dst)
        logged = t.log_write("corrupt file id=%s" % bad)
        for d_ in (t.corrupt, t.messages):
            s = t.first_after(ren, lambda c, p=d_: c.is_sync and c.path == p)
            self.assertBefore(ren, s, "%s synced after the quarantine rename" % d_)
            self.assertBefore(s, logged, "%s synced before the quarantine is logged" % d_)


if __name__ == "__main__":
    unittest.main()
