"""kill -9 at random points while domsecd receives and delivers at once, N times
(docs/RELIABILITY.md, sections 1 and 2): every message that got a 250 arrives at
the next hop byte for byte (0 lost), and a message arrives twice only when a kill
fell between the next hop's 250 and domsecd's delivery record (in flight at the kill);
with a recipient the next hop refuses, every message's failure DSN arrives too.

The kill points are random (seeded: DOMSEC_CRASH_SEED=N repeats a run; the seed is
printed) and of three kinds: after a random delay under load, the instant a client
reads a 250, and while the next hop holds the reply to a final dot.  Nothing here
depends on timing: where a kill lands changes only the counts, never the verdict."""

import collections
import os
import random
import re
import socket
import sys
import threading
import time
import unittest

from domsec_harness import banner_line, queued_id, wait_until
from peers import RX_ID, SENDER, SENDER_SINK_IP, DeliveryTestCase, host

KILLS = int(os.environ.get("DOMSEC_CRASH_KILLS", "12"))
CLIENTS = 3
RCPT = "<u@crash.test>"
BOUNCE = "<x@crash.test>"
TAG_RE = re.compile(rb"^X-Crash-Tag: (\S+)\r$", re.M)


def message(tag, size):
    head = b"From: <alice@snd.test>\r\nTo: <u@crash.test>\r\nX-Crash-Tag: %s\r\n" \
           b"Subject: crash %s\r\n\r\n" % (tag, tag)
    line = tag + b" 0123456789 abcdefghijklmnopqrstuvwxyz\r\n"
    return head + line * max(1, size // len(line))


class Load:
    """CLIENTS threads submitting messages over SMTP until stop() or the kill.

    A kill -9 ends a session only by closing its connection (end of file, a reset, a
    refused connect) and only once killing() was called: anything else - a reply
    other than the one expected (a 451 or 452 for a message, say), a timeout, a
    connection the daemon closed while alive - is recorded in self.problems."""

    def __init__(self, tc, d, rnd, book, rcpts):
        self.tc, self.d, self.book, self.rcpts = tc, d, book, rcpts
        self.stopping = threading.Event()
        self.killed = threading.Event()             # set just before the kill -9
        self.acked_now = threading.Event()          # set at every 250 read
        self.problems = []                          # what the kill does not explain
        seeds = [rnd.randrange(1 << 30) for _ in range(CLIENTS)]
        self.threads = [threading.Thread(target=self.client, args=(n, seeds[n]), daemon=True)
                        for n in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def client(self, n, seed):
        rnd = random.Random(seed)
        b = self.book
        c, tag = None, None
        try:
            # d.session() by hand, so that a kill before the EHLO reply is told
            # from a wrong banner by c.eof
            c = self.d.connect()
            banner = c.reply()
            if banner.lines != [banner_line()]:
                raise AssertionError("banner %r" % banner.lines)
            c.ehlo()
            while not self.stopping.is_set():
                with b.lock:
                    b.serial += 1
                    tag = b"m%d" % b.serial
                # every tenth message is large: written to incoming/ in the background
                msg = message(tag, 150000 if rnd.random() < 0.1 else rnd.randrange(100, 3000))
                with b.lock:
                    b.sent[tag] = msg                 # the final dot may be in flight
                r = c.transaction("<alice@snd.test>", self.rcpts, msg, timeout=20)
                if r.code != 250:
                    raise AssertionError("transaction refused: %r" % r.lines)
                with b.lock:
                    b.acked[tag] = queued_id(r)
                self.acked_now.set()
        except (AssertionError, OSError) as e:
            if not self.ended_by_kill(c, e):
                with b.lock:
                    self.problems.append("client %d, message %r%s: %s: %s" % (
                        n, tag, "" if self.killed.is_set() else " (before any kill)",
                        type(e).__name__, e))

    def ended_by_kill(self, c, e):
        """Whether e is what a kill -9 of the daemon does to a session: after
        killing(), a connection closed at a reply boundary (nothing of a reply read),
        reset, or refused.  A reply, even one read after the kill, is never that."""
        if not self.killed.is_set() or isinstance(e, socket.timeout):
            return False
        if isinstance(e, OSError):
            return True
        return c is not None and c.eof and not c.buf

    def killing(self):
        self.killed.set()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
            if t.is_alive():
                raise AssertionError("a load client did not end within 30 s")


class Book:
    def __init__(self):
        self.lock = threading.Lock()
        self.serial = 0
        self.sent = {}              # tag -> message bytes (final dot sent or about to be)
        self.acked = {}             # tag -> queue id (the client read a 250)


class CrashTest(DeliveryTestCase):

    def seeded(self):
        seed = int(os.environ.get("DOMSEC_CRASH_SEED") or random.randrange(1 << 30))
        sys.stderr.write("\n%s: DOMSEC_CRASH_SEED=%d DOMSEC_CRASH_KILLS=%d\n"
                         % (self.id(), seed, KILLS))
        return seed, random.Random(seed)

    def test_kill9_under_load_loses_nothing(self):
        seed, rnd = self.seeded()
        self.start_dns(host("crash.test", "127.0.0.41"))
        # the next hop waits a little before answering each final dot, so that kills
        # land inside deliveries too
        peer = self.peer("127.0.0.41", delays={"DOT": 0.02})
        d = self.start_relay({"message_retry_interval": "1s",
                              "outbound_connection_failure_retry_interval": "1s"})
        book, kill_times, kinds = self.kill_under_load(d, peer, rnd, KILLS, [RCPT])
        # a last run to drain: no more clients, every acknowledged message must arrive
        acked, sent = book.acked, book.sent

        def arrivals():
            out = collections.defaultdict(list)          # tag -> [(t_connect, data)]
            for t in peer.delivered():
                m = TAG_RE.search(t.data)
                self.assertIsNotNone(m, "a delivered message without its tag: %r" % t.data[:300])
                # the process that sent it: the one alive when its connection was opened
                # (t.t, the time of the reply, may be after that process was killed)
                out[m.group(1)].append((peer.connections[t.conn - 1][0], t.data))
            return out

        # an empty messages/ means every delivery is over (a file goes after its records)
        wait_until(lambda: not d.message_ids(), 90, "the queue to be empty")
        got = arrivals()
        lost = sorted(set(acked) - set(got))
        changed = [t for t in acked for (_, data) in got.get(t, [])
                   if not data.endswith(sent[t])]
        unknown = sorted(set(got) - set(sent))
        # a second arrival is explained only by a kill between the next hop's 250 and
        # domsecd's record: the process that got the 250 was killed and never logged the
        # message delivered
        logs = [self.read(p) for p in d.log_paths]
        delivered_by = [collections.Counter(re.findall(
            r"info smtp %s delivered id=(%s) to=%s " % (RX_ID, RX_ID, re.escape(RCPT)), text))
            for text in logs]
        unexplained, dups = [], 0
        for tag, copies in got.items():
            for t, _ in sorted(copies)[:-1]:
                dups += 1
                life = sum(1 for kt in kill_times if kt < t)   # the process alive at t
                qids = {acked.get(tag)} - {None}
                if life >= len(kill_times) or any(delivered_by[life][q] for q in qids):
                    unexplained.append((tag, life))
        twice = [q for q, n in sum(delivered_by, collections.Counter()).items() if n > 1]
        sys.stderr.write(
            "%s: seed %d kills %d (%s) transactions-with-final-dot %d acknowledged %d "
            "delivered %d lost %d changed %d duplicated %d (unexplained %d) "
            "unacknowledged-but-delivered %d\n"
            % (self.id(), seed, len(kill_times),
               ", ".join("%s %d" % kv for kv in sorted(kinds.items())), len(sent), len(acked), len(set(got) & set(acked)), len(lost), len(changed), dups,
               len(unexplained), len(set(got) - set(acked))))
        self.assertEqual(lost, [], "acknowledged messages never delivered (seed %d)" % seed)
        self.assertEqual(changed, [], "delivered messages that differ from what was sent")
        self.assertEqual(unknown, [], "deliveries of messages never sent")
        self.assertEqual(twice, [], "messages logged delivered twice: sent again after their "
                         "record was durable")
        self.assertEqual(unexplained, [], "duplicates not explained by a kill in flight")
        self.assertEqual(d.listdir("corrupt"), [])

    def test_kill9_while_bouncing_loses_no_dsn(self):
        """Each message has a recipient the next hop accepts and one it refuses (550):
        across the kills every acknowledged message is delivered and its failure DSN
        reaches the sender's MX; a DSN is committed again only by a process other than
        the one whose 'failed' records were durable, never after them."""
        seed, rnd = self.seeded()
        self.start_dns(host("crash.test", "127.0.0.41"))
        peer = self.peer("127.0.0.41", delays={"DOT": 0.02}, on_rcpt=lambda a, n:
                         "550 5.1.1 No such user" if a == BOUNCE else None)
        sink = self.peer(SENDER_SINK_IP)            # the sender's MX: DSNs arrive here
        d = self.start_relay({"message_retry_interval": "1s",
                              "outbound_connection_failure_retry_interval": "1s"})
        book, kill_times, kinds = self.kill_under_load(d, peer, rnd, max(3, KILLS // 2),
                                                       [RCPT, BOUNCE])
        wait_until(lambda: not d.message_ids(), 90, "the queue to be empty")
        delivered = collections.Counter(TAG_RE.search(t.data).group(1)
                                        for t in peer.delivered())
        dsns = collections.Counter()
        for t in sink.delivered():
            self.assertEqual((t.sender, t.rcpts), ("<>", [SENDER]), t)
            m = TAG_RE.search(t.data)
            self.assertIsNotNone(m, "a DSN without the message's headers: %r" % t.data[:600])
            dsns[m.group(1)] += 1
        lost = sorted(set(book.acked) - set(delivered))
        lost_dsn = sorted(set(book.acked) - set(dsns))
        logs = [self.read(p) for p in d.log_paths]
        dsn_for = [set(re.findall(r"info queue dsn id=%s for=(%s) kind=failure" % (RX_ID, RX_ID),
                                  text)) for text in logs]
        failed = [set(re.findall(r"info queue failed id=(%s) to=%s " % (RX_ID, re.escape(BOUNCE)),
                                 text)) for text in logs]
        again = sorted(q for i in range(len(logs)) for q in failed[i]
                       if any(q in later for later in dsn_for[i + 1:]))
        committed = collections.Counter(q for f in dsn_for for q in f)   # DSNs per message
        sys.stderr.write(
            "%s: seed %d kills %d (%s) acknowledged %d delivered %d lost %d; DSNs: messages "
            "with one %d, lost %d, with more than one %d (committed more than once %d)\n"
            % (self.id(), seed, len(kill_times),
               ", ".join("%s %d" % kv for kv in sorted(kinds.items())), len(book.acked),
               len(set(delivered) & set(book.acked)), len(lost),
               len(set(dsns) & set(book.acked)), len(lost_dsn),
               sum(1 for t in book.acked if dsns[t] > 1),
               sum(1 for n in committed.values() if n > 1)))
        self.assertEqual(lost, [], "acknowledged messages never delivered (seed %d)" % seed)
        self.assertEqual(lost_dsn, [], "refused recipients whose DSN never came (seed %d)"
                         % seed)
        self.assertEqual(sorted(set(dsns) - set(book.sent)), [], "DSNs for messages never sent")
        self.assertEqual(again, [], "a DSN committed again after its 'failed' records were "
                         "durable")

    def kill_under_load(self, d, peer, rnd, kills, rcpts):
        """kill -9 and restart d `kills` times while clients submit messages for rcpts:
        (Book, kill times, Counter of kill kinds)."""
        book = Book()
        kinds = collections.Counter()
        kill_times = []                                 # time.monotonic() of each kill
        for k in range(kills):
            load = Load(self, d, rnd, book, rcpts)
            kind = ("delay", "after-250", "at-dot")[k % 3]
            if kind == "delay":
                time.sleep(rnd.uniform(0.05, 1.0))      # the random kill point itself
            elif kind == "after-250":
                load.acked_now.clear()
                load.acked_now.wait(10)
            else:
                try:
                    wait_until(lambda: peer.in_dot > 0, 10, "the next hop holding a final dot",
                               interval=0.002)
                except AssertionError:
                    kind = "at-dot (none seen)"
            load.killing()
            kill_times.append(time.monotonic())
            d.kill9()
            kinds[kind] += 1
            load.stop()
            self.assertEqual(load.problems, [], "sessions that ended otherwise than by the "
                             "kill (kill %d)" % (k + 1))
            d.restart()
            d.wait_log(d.prefix() + r"info queue recovered messages=\d+ corrupt=0\s*$")
        self.assertGreater(len(book.acked), 0, "no message was acknowledged at all")
        return book, kill_times, kinds

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")


if __name__ == "__main__":
    unittest.main()
