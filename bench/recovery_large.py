"""Start after a large recovery (issue 15 item 4): plant N committed queue files
(copies of one real message under fresh ids, all due now, as after a crash),
start domsecd, and measure when the first message leaves the queue and the
delivery rate to bench's plain smtp_sink (one smart host, the default
connection limits).

Prints one row per size: N, seconds from exec to "server started", to the
first delivery, to 10 %, 50 % and 100 % delivered, and msg/s from the first
delivery to the last; plus VmHWM.  A measurement, not a test.  Loopback only.

Run (from tests/integration, a RelWithDebInfo build):
  SIZES=13000,48000 DOMSECD=../../build/domsecd DOMSEC_BUILD=../../build \\
      python3 ../../bench/recovery_large.py -v
"""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.getcwd())
from domsec_harness import Daemon, DomsecTestCase, free_port, queued_id   # noqa: E402

SIZES = [int(x) for x in os.environ.get("SIZES", "13000,48000").split(",")]


def plant(d, n, template):
    """n copies of the committed file template under new ids in messages/"""
    tid = re.search(rb"^id ([0-9A-F]{16})$", template, re.M).group(1)
    mdir = d.qpath("messages")
    st = os.stat(os.path.join(mdir, tid.decode()))
    for i in range(n):
        nid = b"%016X" % (0x7000000000000000 + i)
        path = os.path.join(mdir, nid.decode())
        with open(path, "wb") as f:
            f.write(template.replace(b"id " + tid + b"\n", b"id " + nid + b"\n", 1))
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, st.st_mode & 0o7777)
    os.unlink(os.path.join(mdir, tid.decode()))


class RecoveryLarge(DomsecTestCase):
    def test_recovery(self):
        build = os.environ.get("DOMSEC_BUILD", "../../build")
        print("\n#      N  started  first   10%    50%   100%  msg/s  VmHWM-kB", flush=True)
        for n in SIZES:
            self.one(build, n)

    def one(self, build, n):
        sink_port = free_port()
        d = Daemon(self, transport={"message_retry_interval": "1s"},
                   sends=[("Out", {"address_spaces": "*",
                                   "smart_hosts": "[127.0.0.1]:%d" % sink_port})])
        d.start()                       # no sink yet: the message stays queued
        c = d.session()
        r = c.transaction("<s@example.org>", ["<u@a.test>"],
                          b"Subject: recovery\r\n\r\n" + b"x" * 2000 + b"\r\n")
        qid = queued_id(r)
        c.close()
        self.assertEqual(d.stop(), 0)
        template = d.read_raw("messages", qid)
        template = template[:template.index(b"\nend\n") + 5]   # no delivery records
        plant(d, n, template)
        sink = subprocess.Popen([os.path.join(build, "bench", "smtp_sink"), "-P", "-l",
                                 "127.0.0.1:%d" % sink_port, "-T", "3600"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (sink.terminate(), sink.wait(10)))
        mdir = d.qpath("messages")
        t0 = time.monotonic()
        d.start(wait=False)
        started = first = None
        marks = {}
        hwm = 0
        while len(marks) < 3 and time.monotonic() - t0 < 900:
            if d.proc.poll() is not None:
                raise AssertionError("domsecd exited:\n" + d.log())
            left = len(os.listdir(mdir))
            now = time.monotonic() - t0
            if started is None and "info server started" in d.log():
                started = now
            if first is None and left < n:
                first = now
            for frac in (0.1, 0.5, 1.0):
                if frac not in marks and n - left >= frac * n:
                    marks[frac] = now
            st = open("/proc/%d/status" % d.pid).read()
            hwm = int(re.search(r"^VmHWM:\s+(\d+)", st, re.M).group(1))
            time.sleep(0.02)
        self.assertEqual(len(marks), 3, "not all delivered within 900 s")
        rate = (n - 1) / (marks[1.0] - first) if marks[1.0] > first else float("inf")
        print("%8d %6.2f %6.2f %6.2f %6.2f %6.2f %6.0f %8d"
              % (n, started or -1, first, marks[0.1], marks[0.5], marks[1.0], rate, hwm),
              flush=True)
        self.assertEqual(d.stop(30), 0)


if __name__ == "__main__":
    unittest.main()
