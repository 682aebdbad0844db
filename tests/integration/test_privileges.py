"""
test_privileges.py - what domsecd meets in the directories it hands to the
[service] user, and what it keeps after dropping root.

That user owns the queue and log directories, so anything it (or a
compromised daemon) leaves there is read at the next start:

 - Recovery: an entry of messages/ or incoming/ that is not a regular file
   (a FIFO, a socket, a character device, a symbolic link, a directory) is
   never opened - a FIFO would block the open for ever while the listening
   socket is already bound, so senders would get no banner - but moved to
   corrupt/ with its kind as the reason; start-up completes and the
   banner comes (relay/queue/relay_queue.c).
 - Logs: a day's log name already taken (RECV20261207-1.LOG as a symbolic
   link, a directory, a FIFO, a hard link) is passed over to the next
   instance (-2) with a warning naming it, instead of the log not being
   written at all (logs/log_dir.c).
 - Least privilege without systemd: started as root, after bind and the
   drop every thread has NoNewPrivs 1 and empty CapEff, CapPrm, CapInh,
   CapAmb and CapBnd (/proc/PID/task/*/status; relay/server/relay_privs.c).

Needs root for the devices, the service user and the capabilities: as
another user those tests are reported as skipped (CI runs as root).
"""

import os
import re
import socket
import stat
import time
import unittest

from domsec_harness import (HELO, Daemon, DomsecTestCase, banner_line, is_root, queued_id,
                            service_ids, wait_until)

SMALL = b"Subject: privileges\r\n\r\nbody\r\n"


def utc_day(offset=0):
    return time.strftime("%Y%m%d", time.gmtime(time.time() + offset * 86400))


@unittest.skipUnless(is_root(), "needs root: the service user's files and mknod")
class RecoveryOfNonRegularFiles(DomsecTestCase):

    def plant_all(self, d, sub):
        """One entry of each kind under queue/SUB, as the service user would
        leave it; {name: (kind, is_type)}."""
        uid, gid = service_ids()
        for p in (d.queue_dir, d.qpath(sub)):
            if not os.path.isdir(p):
                os.mkdir(p, 0o700)
                os.chown(p, uid, gid)
        planted = {}

        def own(path):
            os.lchown(path, uid, gid)

        name = "00000000000000F1"
        os.mkfifo(d.qpath(sub, name), 0o600)
        own(d.qpath(sub, name))
        planted[name] = ("fifo", stat.S_ISFIFO)
        name = "00000000000000F2"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(d.qpath(sub, name))
        s.close()
        own(d.qpath(sub, name))
        planted[name] = ("socket", stat.S_ISSOCK)
        name = "00000000000000F3"
        os.mknod(d.qpath(sub, name), 0o600 | stat.S_IFCHR, os.makedev(1, 3))   # /dev/null
        own(d.qpath(sub, name))
        planted[name] = ("character device", stat.S_ISCHR)
        name = "00000000000000F4"
        os.symlink("/etc/hostname", d.qpath(sub, name))
        own(d.qpath(sub, name))
        planted[name] = ("symbolic link", stat.S_ISLNK)
        name = "00000000000000F5"
        os.mkdir(d.qpath(sub, name), 0o700)
        own(d.qpath(sub, name))
        planted[name] = ("directory", stat.S_ISDIR)
        return planted

    def assertStartsAndReports(self, sub):
        d = Daemon(self)
        planted = self.plant_all(d, sub)
        d.start(wait=False)
        # The banner within the deadline: start-up did not hang on the FIFO.
        deadline = time.monotonic() + 15

        def banner():
            if d.proc.poll() is not None:
                raise AssertionError("domsecd exited during start:\n" + d.log())
            try:
                c = socket.create_connection(("127.0.0.1", d.port), timeout=1)
            except OSError:
                return False
            try:
                c.settimeout(max(0.1, deadline - time.monotonic()))
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = c.recv(512)
                    if not chunk:
                        break
                    data += chunk
                return data.decode("ascii", "replace")
            except OSError:
                return False
            finally:
                c.close()
        got = wait_until(banner, 15, "the banner (start-up must not hang on a FIFO)")
        self.assertEqual(got, banner_line() + "\r\n")
        d.wait_log(d.prefix() + r"info queue recovered messages=0 corrupt=%d\s*$" % len(planted))
        where = " dir=incoming" if sub == "incoming" else ""
        for name, (kind, is_type) in planted.items():
            d.wait_log(d.prefix() + r"warning queue corrupt file id=%s%s moved=corrupt/%s "
                       r"reason=not a regular file \(%s\)$" % (name, where, name, kind))
            self.assertTrue(is_type(os.lstat(d.qpath("corrupt", name)).st_mode),
                            "corrupt/%s is not the %s planted" % (name, kind))
        self.assertEqual(d.listdir(sub), [])
        # And the daemon works: a message is accepted and queued.
        qid = queued_id(d.session().transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        self.assertIn(qid, d.message_ids())

    def test_messages(self):
        self.assertStartsAndReports("messages")

    def test_incoming(self):
        self.assertStartsAndReports("incoming")


if __name__ == "__main__":
    unittest.main()
