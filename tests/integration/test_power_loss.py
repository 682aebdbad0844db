"""A power loss simulated from the recorded system calls (issue 15, item 3).

No device-mapper (log-writes) here, so, in the manner of ALICE (Pillai et
al., OSDI 2014): domsecd receives and delivers under the recorder of
test_sync_order.py; from the trace, the state of the queue that a power
loss would leave at each point is computed, pessimistically:

  * a file's data is on disk only as far as an fsync/fdatasync of that
    file persisted it: writes that returned before the sync started;
  * a directory's entries (create, rename, unlink) are on disk only as far
    as an fsync of that directory persisted them, likewise;
  * a sync still running at the point of the loss did nothing.

Each distinct state is materialised in a fresh queue directory and a fresh
domsecd recovers it; the test asserts, for every point:

  * every message whose "250 2.6.0" write had started is in messages/ with
    its committed part (header, message, "end") byte for byte as written -
    or its delivery had been logged (and the file removed) - and domsecd
    recovers it (recovered messages=N, corrupt=0; the file is still there
    once the daemon is up);
  * every message whose delivery was logged ("delivered id=") and whose
    file is still on disk carries its "rcpt N delivered" record, so it is
    not delivered again.

The model is checked against reality and not to be vacuous: with every
recorded call applied it must give the queue domsecd actually left, byte for
byte (the recorder missed no write, rename or unlink), and at some points
the state must differ from what kill -9 would leave (the page cache).
"""

import hashlib
import os
import sys
import threading
import unittest

from domsec_harness import committed_part, service_ids
from peers import DeliveryTestCase, host
from test_sync_order import QUIET, SyncOrderMixin

O_CREAT = 0o100


class Model:
    """The queue's namespace and data, volatile and durable, from a trace."""

    def __init__(self, trace, seeds=()):
        self.t = trace
        self.dirs = (trace.incoming, trace.messages, trace.corrupt)
        self.vol = {}                   # path -> inode (now)
        self.ns = {d: [] for d in self.dirs}    # dir -> [(s1, name, inode or None)]
        self.writes = {}                # inode -> [(s1, off, data)]
        self.dsyncs = {d: [] for d in self.dirs}    # dir -> [(s0, s1)]
        self.fsyncs = {}                # inode -> [(s0, s1)]
        self.renamed = {}               # qid -> (s1 of the rename, inode)
        nino = 0
        for path, data in seeds:        # on disk before the trace, synced
            nino += 1
            d = os.path.dirname(path)
            self.vol[path] = nino
            self.ns[d].append((-2, os.path.basename(path), nino))
            self.writes[nino] = [(-2, 0, data)]
            self.fsyncs[nino] = [(-1, -1)]
            self.dsyncs[d].append((-1, -1))
        for c in sorted(trace.calls, key=lambda c: c.s1):
            if c.ret < 0:
                continue
            d = os.path.dirname(c.path)
            if c.call in ("open", "openat") and c.len & O_CREAT and d in self.dirs \
                    and c.path not in self.vol:
                nino += 1
                self.vol[c.path] = nino
                self.ns[d].append((c.s1, os.path.basename(c.path), nino))
            elif c.is_write and c.path in self.vol:
                self.writes.setdefault(self.vol[c.path], []).append((c.s1, c.off, c.data))
            elif c.is_rename and c.path in self.vol:
                ino = self.vol.pop(c.path)
                self.vol[c.path2] = ino
                self.ns[d].append((c.s1, os.path.basename(c.path), None))
                d2 = os.path.dirname(c.path2)
                if d2 in self.dirs:
                    self.ns[d2].append((c.s1, os.path.basename(c.path2), ino))
                    if d == trace.incoming and d2 == trace.messages:
                        self.renamed[os.path.basename(c.path2)] = (c.s1, ino)
            elif c.is_unlink and c.path in self.vol:
                self.vol.pop(c.path)
                self.ns[d].append((c.s1, os.path.basename(c.path), None))
            elif c.is_sync and c.path in self.dirs:
                self.dsyncs[c.path].append((c.s0, c.s1))
            elif c.is_sync and c.path in self.vol:
                self.fsyncs.setdefault(self.vol[c.path], []).append((c.s0, c.s1))

    def content(self, ino, upto):
        """The bytes of inode ino from the writes that returned before upto."""
        buf = bytearray()
        for s1, off, data in self.writes.get(ino, []):
            if s1 < upto:
                if len(buf) < off + len(data):
                    buf.extend(b"\0" * (off + len(data) - len(buf)))
                buf[off:off + len(data)] = data
        return bytes(buf)

    @staticmethod
    def persisted(syncs, t):
        """Up to which sequence number the syncs finished before t persisted."""
        return max([s0 for s0, s1 in syncs if s1 < t] or [-1])

    def durable(self, t):
        """{dir: {name: bytes}} left by a power loss at t."""
        out = {}
        for d in self.dirs:
            upto, names = self.persisted(self.dsyncs[d], t), {}
            for s1, name, ino in self.ns[d]:
                if s1 < upto:
                    names[name] = ino
            out[d] = {n: self.content(i, self.persisted(self.fsyncs.get(i, []), t))
                      for n, i in names.items() if i is not None}
        return out

    def volatile(self, t):
        """{dir: {name: bytes}} that kill -9 at t would leave (the page cache)."""
        out = {}
        for d in self.dirs:
            names = {}
            for s1, name, ino in self.ns[d]:
                if s1 < t:
                    names[name] = ino
            out[d] = {n: self.content(i, t) for n, i in names.items() if i is not None}
        return out


class PowerLossTest(SyncOrderMixin, DeliveryTestCase):

    def test_every_acknowledged_message_survives_a_power_loss_anywhere(self):
        self.start_dns(host("dest.test", "127.0.0.43"))
        sink = self.sink("127.0.0.43")
        d = self.record(self.start_relay(start=False))
        qids = []
        for rnd in range(2):            # three sessions at once, twice: batched commits
            got, threads = [], []
            for i in range(3):
                body = b"Subject: p%d%d\r\n\r\npower-loss-%d-%d\r\n" % (rnd, i, rnd, i)
                threads.append(threading.Thread(target=lambda b=body, i=i: got.append(
                    self.submit(d, ["<p%d@dest.test>" % i], message=b))))
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            self.assertEqual(len(got), 3, "a submission failed")
            qids += got
        for q in qids:
            self.wait_removed(d, q)
        self.assertEqual(d.stop(), 0)
        sink.stop()                     # recovered messages stay queued (deferred)
        t = self.trace(d)
        model = Model(t)
        acks, expect = self.acknowledged(t, model, qids)
        logged = {q: t.log_write("delivered id=%s " % q) for q in qids}

        def check(p, msgs, corrupt):
            for q in qids:
                if acks[q].s0 < p and q not in msgs:   # only once delivered
                    self.assertLess(logged[q].s0, p, "power loss after the 250 of %s (point "
                                    "%s): neither in messages/ nor delivered" % (q, p))
                elif acks[q].s0 < p:
                    self.assertEqual(committed(msgs[q]), expect[q],
                                     "power loss at %s: %s not intact" % (p, q))
                if logged[q].s0 < p and q in msgs:
                    self.assertIn(b"\nrcpt 0 delivered ", msgs[q][len(expect[q]) - 1:],
                                  "power loss at %s: %s logged delivered, its record lost"
                                  % (p, q))
        self.simulate(d, t, model, list(acks.values()) + list(logged.values()), check,
                      acks, expect)

    def test_queue_administration_and_quarantine_survive_a_power_loss(self):
        self.start_dns(host("dead.test", "127.0.0.45"))       # nothing listens there
        d = self.start_relay(QUIET, start=False)
        bad, bad_data = "00000000000000AB", b"DSQ1\nnot a queue file\n"
        d.put_queue_file("messages", bad, bad_data)
        self.record(d)
        held, gone = self.submit_deferred(d, ("h@dead.test", "x@dead.test"))
        self.domsec(d, "hold", held)
        self.domsec(d, "delete", gone)
        self.assertEqual(d.stop(), 0)
        t = self.trace(d)
        model = Model(t, seeds=[(os.path.join(t.messages, bad), bad_data)])
        acks, expect = self.acknowledged(t, model, (held, gone))
        hold_answer, delete_answer = t.reply_write('"changed"'), t.reply_write('"deleted"')
        unlink = t.one("unlink of %s" % gone, lambda c: c.is_unlink
                       and c.path == os.path.join(t.messages, gone))

        def check(p, msgs, corrupt):
            for q in (held, gone):
                if acks[q].s0 < p and q in msgs:
                    self.assertEqual(committed(msgs[q]), expect[q],
                                     "power loss at %s: %s not intact" % (p, q))
                elif acks[q].s0 < p:    # only once an administrator deleted it
                    self.assertEqual(q, gone, "power loss at %s: %s lost" % (p, q))
                    self.assertLess(unlink.s0, p, "power loss at %s: %s lost" % (p, q))
            if delete_answer.s0 < p:
                self.assertNotIn(gone, msgs, "power loss after 'deleted' was answered (point "
                                 "%s): %s is back" % (p, gone))
            if hold_answer.s0 < p:
                self.assertIn(b"\nhold ", msgs[held][len(expect[held]) - 1:],
                              "power loss after 'hold' was answered (point %s): record lost" % p)
            self.assertEqual(msgs.get(bad, corrupt.get(bad)), bad_data,
                             "power loss at %s: the corrupt file is neither in messages/ nor "
                             "in corrupt/" % p)
        self.simulate(d, t, model, list(acks.values()) + [hold_answer, delete_answer], check,
                      acks, expect, junk={bad})

    # --- helpers ----------------------------------------------------------------
    def acknowledged(self, t, model, qids):
        """{qid: the 250 write}, {qid: its committed part as written before its rename}."""
        acks, expect = {}, {}
        for q in qids:
            acks[q] = t.reply_write("250 2.6.0 <%s@" % q)
            self.assertIn(q, model.renamed, "no rename of %s into messages/" % q)
            s1, ino = model.renamed[q]
            expect[q] = committed_part(model.content(ino, s1))
        return acks, expect

    def simulate(self, d, t, model, promises, check, acks, expect, junk=frozenset()):
        """check(point, messages, corrupt) at every sync and promise; then a fresh
        domsecd recovers each distinct state.  First, the recorder missed nothing:
        the model's page cache at the end is the queue d left."""
        left = {full: {n: open(os.path.join(full, n), "rb").read()
                       for n in d.listdir(os.path.basename(full))} for full in model.dirs}
        self.assertEqual(model.volatile(float("inf")), left,
                         "the trace does not account for the queue domsecd left")
        points = sorted({c.s1 + 0.5 for c in t.calls if os.path.dirname(c.path) in model.dirs
                         or c.path in model.dirs} | {a.s0 + 0.5 for a in promises})
        states, dropped = {}, 0
        for p in points:
            st = model.durable(p)
            dropped += st != model.volatile(p)
            check(p, st[t.messages], st[t.corrupt])
            key = hashlib.sha256(repr(sorted((dd, sorted(v.items()))
                                             for dd, v in st.items())).encode()).hexdigest()
            states.setdefault(key, (p, st))
        self.assertGreater(dropped, 0, "no point where a power loss loses more than kill -9")
        self.assertGreater(len(states), 3, "too few distinct crash states: %d" % len(states))
        for p, st in sorted(states.values(), key=lambda x: x[0]):
            self.recover(t, p, st, acks, expect, junk)
        sys.stderr.write("power loss: %d points (%d lose more than kill -9 would), %d distinct "
                         "queue states recovered, %d messages\n"
                         % (len(points), dropped, len(states), len(acks)))

    def recover(self, t, p, st, acks, expect, junk):
        """A fresh domsecd recovers state st: every message, only the junk is corrupt."""
        r = self.start_relay(start=False)
        uid, gid = service_ids()
        os.mkdir(r.queue_dir, 0o700)
        os.chown(r.queue_dir, uid, gid)
        for full in (t.incoming, t.messages, t.corrupt):
            sub = os.path.basename(full)
            os.mkdir(r.qpath(sub), 0o700)
            os.chown(r.qpath(sub), uid, gid)
            for name, data in st[full].items():
                r.put_queue_file(sub, name, data)
        r.start()
        m = r.wait_log(r.prefix() + r"info queue recovered messages=(\d+) corrupt=(\d+)")
        nbad = len(junk & set(st[t.messages]))
        self.assertEqual((int(m.group(1)), int(m.group(2))), (len(st[t.messages]) - nbad, nbad),
                         "power loss at %s: recovery of %s" % (p, sorted(st[t.messages])))
        for q, a in acks.items():
            raw = st[t.messages].get(q)
            if a.s0 < p and raw is not None and b"\nrcpt 0 delivered " not in raw:
                self.assertEqual(r.read_committed(q), expect[q],
                                 "power loss at %s: %s after recovery" % (p, q))
        self.assertEqual(r.stop(), 0)


def committed(raw):
    """The committed part of a file's bytes, or all of them if incomplete."""
    try:
        return committed_part(raw)
    except AssertionError:
        return raw


if __name__ == "__main__":
    unittest.main()
