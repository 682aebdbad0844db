"""`domsec queue` against a running domsecd with real peers (issue 13): messages
deferred to a dead host are listed with their last error and next attempt; held
across a restart and never attempted while held; retried on command and delivered
(smtp-sink); released and delivered; deleted with and without a DSN (the DSN parsed
with Python's email package); a queue file removed or damaged by hand noticed
(BADMAIL; a damaged one quarantined to corrupt/) and forgotten; readers may look,
not change.  The semantics in detail (expiry of held mail, in-flight hold/delete,
paging, summary buckets) are relay_qadmin_test's, on a fake clock."""

import email
import email.policy
import json
import os
import random
import re
import subprocess
import time

from domsec_harness import domsecd_path, is_root, service_ids, state_records, wait_until
from peers import SENDER, DeliveryTestCase, host

READER = 12347                       # a uid in the service group only (supplementary)
DEAD_IP = "127.0.0.40"               # nothing listens there, until a test starts a sink
LATIN_IP = "127.0.0.41"              # a scripted peer answering in Latin-1
# Long waits after a failure: nothing is retried during a test unless asked to.
QUIET = {"transient_failure_retry_interval": "1h",
         "outbound_connection_failure_retry_interval": "1h",
         "message_retry_interval": "1h"}


def domsec_exe():
    build = os.environ.get("DOMSEC_BUILD")
    return os.path.join(build, "domsec") if build else \
        os.path.join(os.path.dirname(domsecd_path()), "domsec")


class QueueAdminTest(DeliveryTestCase):

    def queue(self, d, *args, status=0, reader=False):
        """`domsec queue ARGS` for d (as root, or as a uid only in the service group);
        asserts the exit status; returns stdout (and stderr after it when not 0)."""
        pre = ["setpriv", "--reuid=%d" % READER, "--regid=%d" % READER,
               "--groups=%d" % service_ids()[1]] if reader else []
        p = subprocess.run(pre + [domsec_exe(), "--socket", d.control_socket,
                                  "queue"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        out, err = p.stdout.decode(), p.stderr.decode()
        self.assertEqual(p.returncode, status, "domsec queue %s: %s%s" % (" ".join(args), out, err))
        return out if status == 0 else out + err

    def qjson(self, d, *args):
        return json.loads(self.queue(d, *(list(args) + ["--json"])))

    def listed(self, d, *args):
        return {m["id"]: m for m in self.qjson(d, "list", *args)["messages"]}

    def track_rows(self, d, event, qid):
        return [r for r in d.plog_rows("MSGTRK") if r[8] == event and r[9] == qid]

    def wait_track(self, d, event, qid):
        return wait_until(lambda: self.track_rows(d, event, qid), 10,
                          "a %s tracking row for %s" % (event, qid))

    def submit_deferred(self, d, rcpts):
        """Queue one message per recipient; wait until each was tried once and deferred."""
        ids = [self.submit(d, ["<%s>" % r]) for r in rcpts]

        def tried():
            ms = self.listed(d)
            return all(q in ms and ms[q]["rcpts"][0]["attempts"] >= 1
                       and ms[q]["state"] == "deferred" for q in ids) and ms
        # Deferred, not still active: a retry of a message in its round does nothing.
        wait_until(tried, 20, "every message tried once and waiting")
        return ids

    def test_list_hold_restart_retry_release(self):
        self.start_dns(host("dead.test", DEAD_IP))
        d = self.start_relay(QUIET)
        a, b, c = self.submit_deferred(d, ["u1@dead.test", "u2@dead.test", "u3@dead.test"])
        now_ms = int(time.time() * 1000)
        ms = self.listed(d)
        self.assertEqual(sorted(ms), sorted([a, b, c]))
        for q in (a, b, c):
            m = ms[q]
            self.assertEqual(m["state"], "deferred")
            self.assertEqual(m["sender"], SENDER.strip("<>"))
            r = m["rcpts"][0]
            self.assertEqual((r["state"], r["attempts"]), ("pending", 1))
            self.assertRegex(r["last"], r"^441 4\.4\.1 Error encountered while communicating "
                                        r"with primary target IP address")
            self.assertIn(DEAD_IP, r["last"])
            self.assertGreater(m["next_ms"], now_ms + 30 * 60 * 1000)    # the 1h wait
        human = self.queue(d, "list")
        self.assertRegex(human, r"(?m)^%s\s+\d+\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+deferred\s+"
                                r"\S+Z \(in \d+m\)\s+alice@snd\.test$" % a)
        self.assertRegex(human, r"(?m)^    u1@dead\.test  pending  attempts=1  last \S+Z "
                                r"\([^)]+ ago\) via dead\.test\n      441 4\.4\.1 Error ")
        self.assertIn("3 messages.", human)
        # Hold a: a record in its file, SUSPEND in the tracking log, listed as held.
        self.assertIn("held 1 of 1 matching message(s)", self.queue(d, "hold", a))
        self.assertTrue(any(r.kind == "hold" for r in state_records(d.read_message(a))))
        self.wait_track(d, "SUSPEND", a)
        self.assertEqual(list(self.listed(d, "--state", "held")), [a])
        self.assertIn("is already held", self.queue(d, "hold", a, status=1))
        # Across a restart: still held.  Then the dead host comes alive.
        self.assertEqual(d.stop(), 0)
        sink = self.sink(DEAD_IP)
        d.restart()
        ms = wait_until(lambda: len(self.listed(d)) == 3 and self.listed(d), 10,
                        "the queue loaded again")
        self.assertEqual(ms[a]["state"], "held")
        self.assertTrue(ms[a]["held"])
        self.assertIn("held         since ", self.queue(d, "show", a))
        # Retry everything: b and c go now (not in an hour); a is held and skipped.
        out = self.queue(d, "retry", "--all")
        self.assertIn("retried 2 of 3 matching message(s); 1 held (release first)", out)
        for q, rcpt in ((b, "<u2@dead.test>"), (c, "<u3@dead.test>")):
            self.wait_delivered(d, q, rcpt, ip=DEAD_IP)
            self.wait_removed(d, q)
        self.assertEqual(sink.count("<u2@dead.test>"), 1)
        self.assertEqual(sink.count("<u3@dead.test>"), 1)
        self.assertEqual(sink.count("<u1@dead.test>"), 0, "a held message was attempted")
        # Nothing done for a held message by id: exit 1.
        self.assertIn("retried 0 of 1 matching message(s); 1 held (release first)",
                      self.queue(d, "retry", a, status=1))
        # Release: examined at once, delivered.
        self.assertIn("released 1 of 1", self.queue(d, "release", a))
        self.wait_delivered(d, a, "<u1@dead.test>", ip=DEAD_IP)
        self.wait_removed(d, a)
        self.assertEqual(sink.count("<u1@dead.test>"), 1)
        self.wait_track(d, "RESUME", a)
        self.assertEqual(self.listed(d), {})
        self.assertIn("no message %s in the queue" % a, self.queue(d, "show", a, status=1))

    def test_delete_with_and_without_dsn(self):
        self.start_dns(host("dead.test", DEAD_IP))
        ss = self.sender_sink()
        d = self.start_relay(QUIET)
        plain, bounce = self.submit_deferred(d, ["p@dead.test", "b@dead.test"])
        # Plain: the file goes before the answer, DELETE is tracked, no DSN.
        self.assertIn("deleted 1 of 1", self.queue(d, "delete", plain))
        self.assertNotIn(plain, d.message_ids())
        self.assertNotIn(plain, self.listed(d))
        self.wait_track(d, "DELETE", plain)
        # --all needs --yes (exit 2, nothing deleted).
        self.queue(d, "delete", "--all", status=2)
        self.assertIn(bounce, self.listed(d))
        # With a DSN: the sender gets an RFC 3464 report about the pending recipient.
        out = self.queue(d, "delete", bounce, "--bounce")
        self.assertIn("deleted 1 of 1 matching message(s); 1 DSN(s)", out)
        dsn_id = self.wait_dsn(d, bounce, "failure")
        dsn = self.fetch_dsn(d, ss, dsn_id)
        self.assertDsnPart(dsn)
        msg = email.message_from_bytes(dsn.raw, policy=email.policy.default)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        parts = list(msg.iter_parts())
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        blocks = parts[1].get_payload()
        per_rcpt = [blk for blk in blocks[1:] if blk.get("Final-Recipient")]
        self.assertEqual(len(per_rcpt), 1, dsn.raw)
        blk = per_rcpt[0]
        self.assertEqual(str(blk["Action"]).strip(), "failed")
        self.assertEqual(str(blk["Status"]).strip(), "5.0.0")
        self.assertIn("b@dead.test", str(blk["Final-Recipient"]))
        self.assertIn("QUEUE.Admin; message deleted by administrative action",
                      re.sub(r"\s+", " ", str(blk["Diagnostic-Code"])))
        self.assertIn("Subject: delivery test", parts[2].get_payload(decode=True).decode())
        self.wait_removed(d, bounce)
        self.wait_track(d, "FAIL", bounce)
        self.assertEqual(self.track_rows(d, "DELETE", bounce), [])
        # Exactly one DSN reached the sender: none for the plain delete.
        self.assertEqual(len(ss.from_null()), 1, ss.dumps())
        self.assertEqual(self.listed(d), {})

    def test_file_removed_or_damaged_by_hand(self):
        self.start_dns(host("dead.test", DEAD_IP))
        d = self.start_relay(QUIET)
        q, bad = self.submit_deferred(d, ["r@dead.test", "s@dead.test"])
        os.unlink(d.qpath("messages", q))
        with open(d.qpath("messages", bad), "r+b") as f:      # a hand "fixing" the header
            f.write(b"XXXX")
        # Its next round notices (a retry makes it now; the sweep would in 10 minutes).
        self.queue(d, "retry", q)
        row = self.wait_track(d, "BADMAIL", q)[0]
        self.assertEqual(row[11], "r@dead.test")
        wait_until(lambda: q not in self.listed(d), 10, "%s forgotten" % q)
        self.assertRegex(d.log(), d.prefix() + r"warning qmgr queue file gone id=%s "
                                                r"reason=file removed" % q)
        self.queue(d, "show", q, status=1)
        # The damaged one: quarantined to corrupt/ (never deleted), BADMAIL, forgotten.
        self.queue(d, "retry", bad)
        row = self.wait_track(d, "BADMAIL", bad)[0]
        self.assertEqual((row[5], row[12]), ("quarantined", "bad magic"))
        self.assertIn(bad, d.listdir("corrupt"))
        self.assertNotIn(bad, d.message_ids())
        wait_until(lambda: self.listed(d) == {}, 10, "%s forgotten" % bad)

    def test_hold_all_one_write_fails(self):
        """hold --all where one file cannot be written (a directory in its place): exit 3,
        and the answer says which failed and that the other was held."""
        self.start_dns(host("dead.test", DEAD_IP))
        d = self.start_relay(QUIET)
        a, b = sorted(self.submit_deferred(d, ["a@dead.test", "b@dead.test"]))
        os.unlink(d.qpath("messages", b))
        os.mkdir(d.qpath("messages", b))
        out = self.queue(d, "hold", "--all", status=3)
        self.assertRegex(out, r"cannot write the queue file of 1 message\(s\) \(%s\): "
                              r"Is a directory; 1 of 2 matching changed" % b)
        self.assertEqual(self.listed(d)[a]["state"], "held")
        self.assertEqual(self.listed(d)[b]["state"], "deferred")
        os.rmdir(d.qpath("messages", b))

    def test_no_terminal_escapes(self):
        """Human output shows a sender's control characters as \\x1B (and C1 as \\u009B),
        never raw (CR only before LF); --json keeps the text as it is."""
        self.start_dns(host("esc.test", LATIN_IP))
        self.peer(LATIN_IP, on_rcpt="452 4.2.2 \x1b[2J\x1b]0;owned\x07 try later")
        d = self.start_relay(QUIET)
        msg = (b"Subject: \x1b]0;pwned\x07 hi \xc2\x9b31m\r\nX-Bell: \x07\x7f\r\n\r\n"
               b"Hello \x1b[5m.\r\n")
        qid = self.submit(d, ["<a@esc.test>"], message=msg)
        wait_until(lambda: qid in self.listed(d)
                   and self.listed(d)[qid]["rcpts"][0]["attempts"] >= 1, 20, "tried once")
        show = self.queue(d, "show", qid, "--body")
        listing = self.queue(d, "list")
        for out in (show, listing):
            self.assertNotRegex(out, "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]|\r(?!\n)", out)
        self.assertIn("Subject: \\x1B]0;pwned\\x07 hi \\u009B31m\r\nX-Bell: \\x07\\x7F\r\n", show)
        self.assertIn("Hello \\x1B[5m.\r\n", show)
        self.assertIn("try later", listing)      # (the reply's controls: spaces already)
        self.assertIn("\x1b]0;pwned", self.qjson(d, "show", qid)["headers"])    # JSON: as it is

    def test_reply_not_utf8(self):
        """A peer's reply in Latin-1 (0xEE) is listed with the byte shown as \\xEE, and
        the recipient is not dropped from the list (json_string() refused it)."""
        self.start_dns(host("latin.test", LATIN_IP))
        self.peer(LATIN_IP, on_rcpt="452 4.2.2 bo\udceete pleine")
        d = self.start_relay(QUIET)
        qid = self.submit(d, ["<a@latin.test>", "<b@latin.test>"])
        wait_until(lambda: qid in self.listed(d)
                   and self.listed(d)[qid]["rcpts"][0]["attempts"] >= 1, 20, "tried once")
        rcpts = self.listed(d)[qid]["rcpts"]
        self.assertEqual([r["addr"] for r in rcpts], ["a@latin.test", "b@latin.test"])
        for r in rcpts:
            self.assertEqual(r["last"], "452 4.2.2 bo\\xEEte pleine")
        self.assertIn("452 4.2.2 bo\\xEEte pleine", self.queue(d, "list"))
        self.assertIn("b@latin.test", self.queue(d, "show", qid))

    def test_usage_and_summary(self):
        self.start_dns(host("dead.test", DEAD_IP), host("dead2.test", DEAD_IP))
        d = self.start_relay(QUIET)
        self.submit_deferred(d, ["x@dead.test", "y@dead2.test", "z@dead.test"])
        s = self.qjson(d, "summary")
        self.assertEqual(s["total"]["total"], 3)
        self.assertEqual([(r["domain"], r["total"]) for r in s["rows"]],
                         [("dead.test", 2), ("dead2.test", 1)])
        self.assertEqual(s["total"]["counts"][0], 3)                 # all under 5 minutes
        human = self.queue(d, "summary")
        self.assertRegex(human, r"(?m)^\s+TOTAL\s+3\s+3(\s+0){10}$")
        self.assertRegex(human, r"(?m)^\s+dead\.test\s+2\s+2(\s+0){10}$")
        self.assertRegex(human, r"(?m)^\s+T\s+5m\s+10m\s+20m\s+40m\s+80m\s+160m\s+320m\s+"
                                r"640m\s+1280m\s+2560m\s+2560m\+$")
        human = self.queue(d, "summary", "--bucket-time", "30s", "--buckets", "9")
        self.assertRegex(human, r"(?m)^\s+T\s+30s\s+1m\s+2m\s+4m\s+8m\s+16m\s+32m\s+64m\s+"
                                r"128m\s+128m\+$")
        self.assertRegex(self.queue(d, "summary", "--bucket-time", "1h", "--buckets", "3"),
                         r"(?m)^\s+T\s+1h\s+2h\s+4h\s+4h\+$")
        self.assertEqual(len(self.listed(d, "--domain", "dead2.test")), 1)
        self.assertEqual(len(self.listed(d, "--older-than", "1h")), 0)
        self.queue(d, "hold", status=2)                              # no target
        self.queue(d, "hold", "--all", "--domain", "dead.test", status=2)
        self.queue(d, "list", "--state", "stuck", status=2)
        self.queue(d, "show", "NOT-AN-ID", status=2)                 # bad_args
        self.assertIn("domsec: queue.release: no message 0123456789ABCDEF in the queue",
                      self.queue(d, "release", "0123456789ABCDEF", status=1))

    def test_show_body_pages_through_a_large_message(self):
        """The daemon answers at most 1 MiB of body a request; `show --body` asks
        until it has all of it, byte for byte."""
        self.start_dns(host("dead.test", DEAD_IP))
        d = self.start_relay(QUIET)
        rnd = random.Random(13)
        body = b"".join(b"%s\r\n" % bytes(rnd.choice(b"abcdefghij") for _ in range(70))
                        for _ in range(36000))                          # 2.59 MB: 3 pages
        qid = self.submit(d, ["<x@dead.test>"], message=b"Subject: big\r\n\r\n" + body)
        # The 250 comes once the file is durable; the queue manager learns of
        # it a moment later (commit thread -> its loop).
        wait_until(lambda: qid in self.listed(d), 10, "%s listed" % qid)
        first = self.qjson(d, "show", qid, "--body")
        self.assertTrue(first["body_more"])
        self.assertEqual(first["body_offset"], 0)
        self.assertLess(len(first["body"]), len(body))
        out = self.queue(d, "show", qid, "--body").encode()
        self.assertEqual(out[out.index(b"\nbody\n") + 6:].rstrip(b"\n"), body.rstrip(b"\n"))

    def test_readers_may_look_not_change(self):
        if not is_root():
            self.skipTest("needs root (setpriv to another uid)")
        self.start_dns(host("dead.test", DEAD_IP))
        d = self.start_relay(QUIET)
        (q,) = self.submit_deferred(d, ["r@dead.test"])
        self.assertIn(q, self.queue(d, "list", reader=True))
        self.assertIn("TOTAL", self.queue(d, "summary", reader=True))
        self.assertIn("Subject: delivery test", self.queue(d, "show", q, reader=True))
        self.assertIn("domsec: queue.show: queue.show with the body needs an administrator",
                      self.queue(d, "show", q, "--body", reader=True, status=4))
        for cmd in ("retry", "hold", "release", "delete"):
            self.queue(d, cmd, q, reader=True, status=4)
        self.assertEqual(list(self.listed(d)), [q])
        self.assertEqual(self.listed(d)[q]["state"], "deferred")
        self.assertIn("Hello.", self.queue(d, "show", q, "--body"))


if __name__ == "__main__":
    import unittest
    unittest.main()
