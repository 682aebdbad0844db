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
   CapAmb and CapBnd (/proc/PID/task/*/status; relay/server/relay_server.c).

Needs root for the devices, the service user and the capabilities: as
another user those tests are reported as skipped (CI runs as root).
"""

import os
import re
import socket
import stat
import subprocess
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


@unittest.skipUnless(is_root(), "needs root: the log directories are the service user's")
class LogNameTaken(DomsecTestCase):
    """RECV and MSGTRK of today (and tomorrow, should the test cross
    midnight UTC) -1 taken: the rows go to -2, the entry is left alone."""

    DIRS = (("ProtocolLog/SmtpReceive", "RECV"), ("MessageTracking", "MSGTRK"))

    def plant(self, d, kind):
        uid, gid = service_ids()
        for sub in ("ProtocolLog", "ProtocolLog/SmtpReceive", "MessageTracking"):
            p = os.path.join(d.logs_dir, sub)
            os.mkdir(p, 0o750)
            os.chown(p, uid, gid)
        taken = []
        secret = os.path.join(d.dir, "secret")
        with open(secret, "w") as f:
            f.write("root's\n")
        os.chmod(secret, 0o600)
        for sub, prefix in self.DIRS:
            for day in (utc_day(), utc_day(1)):
                p = os.path.join(d.logs_dir, sub, "%s%s-1.LOG" % (prefix, day))
                if kind == "symbolic link":
                    os.symlink(secret, p)
                elif kind == "directory":
                    os.mkdir(p, 0o700)
                elif kind == "fifo":
                    os.mkfifo(p, 0o600)
                elif kind == "hard-linked file":
                    os.link(secret, p)
                if kind != "hard-linked file":
                    os.lchown(p, uid, gid)
                taken.append(p)
        return taken, secret

    def assertNextInstance(self, kind, is_type):
        d = Daemon(self)
        taken, secret = self.plant(d, kind)
        # Removed before the daemon's cleanup, which validates the log directories.
        self.addCleanup(lambda: [os.rmdir(p) if os.path.isdir(p) and not os.path.islink(p)
                                 else os.unlink(p) for p in taken if os.path.lexists(p)])
        d.start()
        c = d.session()
        queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        c.cmd("QUIT")
        want = {"RECV": "EHLO " + HELO, "MSGTRK": ",RECEIVE,"}

        def read(path):
            try:
                with open(path, "rb") as f:
                    return f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                return ""
        for sub, prefix in self.DIRS:
            name = "%s%s-1.LOG" % (prefix, utc_day())
            d.wait_log(d.prefix() + r"warning logs log file name taken dir=%s file=%s "
                       r"kind=%s: writing the next instance$"
                       % (re.escape(os.path.join(d.logs_dir, sub)), name, kind))
            nxt = os.path.join(d.logs_dir, sub, "%s%s-2.LOG" % (prefix, utc_day()))
            # Read directly: the harness's plog_rows would open the FIFO.
            wait_until(lambda: want[prefix] in read(nxt), 10, "%r in %s" % (want[prefix], nxt))
        for p in taken:
            self.assertTrue(is_type(os.lstat(p).st_mode), "%s was replaced" % p)
        st = os.stat(secret)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (0, 0, 0o600))
        with open(secret) as f:
            self.assertEqual(f.read(), "root's\n", "a row was written through %s" % kind)

    def test_symbolic_link(self):
        self.assertNextInstance("symbolic link", stat.S_ISLNK)

    def test_directory(self):
        self.assertNextInstance("directory", stat.S_ISDIR)

    def test_fifo(self):
        self.assertNextInstance("fifo", stat.S_ISFIFO)

    def test_hard_link(self):
        # With fs.protected_hardlinks = 0 the service user could link root's
        # file as today's log; the writer (root until the drop) must not
        # append to it.
        self.assertNextInstance("hard-linked file", stat.S_ISREG)

@unittest.skipUnless(is_root(), "needs root: the capabilities are only dropped by root")
class LeastPrivilege(DomsecTestCase):
    """Started as root without systemd: after bind and the drop, nothing in
    any thread can regain a privilege (capabilities and no_new_privs are
    per thread, so every /proc/PID/task/TID/status is read)."""

    ZERO = "0000000000000000"

    def threads(self, d):
        """{tid: {field: value}} of the daemon's threads."""
        out = {}
        base = "/proc/%d/task" % d.pid
        for tid in os.listdir(base):
            try:
                with open(os.path.join(base, tid, "status")) as f:
                    text = f.read()
            except FileNotFoundError:
                continue                # the thread ended meanwhile
            out[tid] = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        return out

    def assertNoPrivileges(self, d, least):
        threads = self.threads(d)
        self.assertGreaterEqual(len(threads), least, "threads: %s" % sorted(threads))
        uid, gid = service_ids()
        for tid, st in threads.items():
            with self.subTest(tid=tid, name=st.get("Name")):
                for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                    self.assertEqual(st.get(k), self.ZERO, "%s of thread %s (%s)"
                                     % (k, tid, st.get("Name")))
                self.assertEqual(st.get("NoNewPrivs"), "1")
                self.assertEqual(st.get("Uid").split(), [str(uid)] * 4)
                self.assertEqual(st.get("Gid").split(), [str(gid)] * 4)
                self.assertEqual(st.get("Groups", "").split(), [])

    def test_every_thread_without_capabilities_and_no_new_privs(self):
        d = Daemon(self)
        port = d.add_port("metrics")
        d.write_config(d.config_text + "\n[metrics]\nlisten = 127.0.0.1:%d\n" % port)
        d.start()
        d.wait_log(d.prefix() + r"info server privileges dropped uid=%d gid=%d capabilities=none "
                   r"bounding_set=none no_new_privs=1$" % service_ids())
        # Traffic first: libuv's pool threads (spool writes) start on demand.
        qid = queued_id(d.session().transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        # workers (2 here), commit, queue manager, CRL, three log writers, metrics, the pool
        self.assertNoPrivileges(d, 10)
        # What runs later still works as the service user: reload through the
        # control socket (the README's command) and by SIGHUP, then a message.
        domsec = os.path.join(os.path.dirname(d.exe), "domsec")
        d.write_config(d.config_text.replace("[receive Inet]\n",
                                             "[receive Inet]\nbanner = after the drop\n"))
        r = subprocess.run([domsec, "-c", d.config_path, "reload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, universal_newlines=True)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "OK (generation 2)\n", ""))
        mark = d.log_mark()
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded path=", since=mark)
        c = d.connect()
        self.assertEqual(c.reply().lines, ["220 after the drop"])
        c.ehlo()
        qid2 = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], SMALL))
        self.assertEqual(sorted(d.message_ids()), sorted([qid, qid2]))
        self.assertNoPrivileges(d, 10)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
