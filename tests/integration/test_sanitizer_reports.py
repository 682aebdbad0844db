"""The harness fails a test on a sanitizer report of any process it started
(domsec_harness.py, SAN_DIR): a daemon's own report (its pid) in the
Daemon's cleanup, a CLI's report after the test, each claimed once.  Most
tests here plant reports as ASan's log_path writes them (SAN_DIR/asan.PID),
so they run in every build.  RealLeakTest runs real processes with a real
leak (tests/integration/preload/leak_at_start.c preloaded): in the ASan
build their LeakSanitizer reports must reach SAN_DIR and fail the test that
started them; in a build without sanitizers the same processes must leave
SAN_DIR empty and the test passing (it says which build it checked)."""
import contextlib
import io
import os
import re
import subprocess
import sys
import unittest

import domsec_harness
from domsec_harness import Daemon, DomsecTestCase, SAN_DIR, domsecd_path, preload_lib

REPORT = ("=================================================================\n"
          "==%d==ERROR: LeakSanitizer: detected memory leaks\n\n"
          "Direct leak of 4321 byte(s) in 1 object(s) allocated from:\n")


def plant(pid):
    path = os.path.join(SAN_DIR, "asan.%d" % pid)
    with open(path, "w") as f:
        f.write(REPORT % pid)
    return path


def run_inner(case):
    result = unittest.TestResult()
    case.run(result)
    return [text for _, text in result.failures + result.errors]


class SanitizerReportTest(DomsecTestCase):

    def test_options_point_every_process_at_the_report_directory(self):
        for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
            self.assertTrue(os.environ[var].endswith("log_path=" + os.path.join(SAN_DIR, name)),
                            os.environ[var])
        self.assertEqual(os.stat(SAN_DIR).st_mode & 0o7777, 0o1777)

    def test_a_cli_report_fails_the_test_that_ran_it(self):
        class Inner(DomsecTestCase):
            def test_cli(self):
                plant(4000001)          # as `domsec ...` run by this test would

        problems = run_inner(Inner("test_cli"))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("sanitizer report %s" % os.path.join(SAN_DIR, "asan.4000001"), problems[0])
        self.assertIn("ERROR: LeakSanitizer: detected memory leaks", problems[0])
        self.assertEqual(os.listdir(SAN_DIR), [])      # claimed once

    def test_a_daemon_report_fails_its_test(self):
        class Inner(DomsecTestCase):
            def test_daemon(self):
                d = self.start_daemon()
                self.assertEqual(d.stop(), 0)
                plant(d.pid)            # as its LeakSanitizer writes at exit

        problems = run_inner(Inner("test_daemon"))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("ERROR: LeakSanitizer", problems[0])
        self.assertIn("asan.", problems[0])
        self.assertEqual(os.listdir(SAN_DIR), [])

    def test_a_clean_test_passes(self):
        class Inner(DomsecTestCase):
            def test_clean(self):
                d = self.start_daemon()
                self.assertEqual(d.stop(), 0)

        self.assertEqual(run_inner(Inner("test_clean")), [])

    def test_an_unclaimed_report_fails_the_run(self):
        path = plant(4000002)           # a plain unittest.TestCase's CLI: nobody claims it
        said = io.StringIO()
        real_exit = os._exit
        try:
            os._exit = lambda code: (_ for _ in ()).throw(SystemExit(code))
            with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(said):
                domsec_harness._unclaimed_sanitizer_reports()     # what atexit runs
            self.assertEqual(cm.exception.code, 1)
            self.assertIn("sanitizer reports no test claimed", said.getvalue())
            self.assertIn(path, said.getvalue())
            self.assertFalse(os.path.exists(path))
        finally:
            os._exit = real_exit
            os.makedirs(SAN_DIR, mode=0o1777, exist_ok=True)   # the rest of this run
            os.chmod(SAN_DIR, 0o1777)


def asan_runtime():
    """The AddressSanitizer runtime domsecd links (ASan build), or None."""
    out = subprocess.run(["ldd", domsecd_path()], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=30).stdout.decode()
    m = re.search(r"^\s*libasan\.so\S* => (\S+)", out, re.M)
    return m.group(1) if m else None


class RealLeakTest(DomsecTestCase):
    """A leak preloaded into domsecd, and into a CLI run (domsecd --print-config).
    The sanitizer runtime comes first in LD_PRELOAD, as ASan requires of a
    preloaded library."""
    LEAK = r"Direct leak of \d+ byte\(s\) in \d+ object\(s\) allocated from:"

    def setUp(self):
        self.runtime = asan_runtime()
        self.preload = " ".join(p for p in (self.runtime, preload_lib("leak_at_start")) if p)
        sys.stderr.write("\n%s: %s build (domsecd %s libasan): LD_PRELOAD=%s\n"
                         % (self.id(), "ASan" if self.runtime else "normal",
                            "links" if self.runtime else "does not link", self.preload))

    def wrap(self, argv):
        return ["env", "LD_PRELOAD=" + self.preload] + argv

    def test_a_leaking_daemon_fails_its_test(self):
        outer, seen = self, {}

        class Inner(DomsecTestCase):
            def test_daemon(self):
                d = Daemon(self)
                d.start(wrap=outer.wrap)
                seen["pid"] = d.pid
                seen["status"] = d.stop()      # LeakSanitizer reports at this exit

        self.assert_claimed(run_inner(Inner("test_daemon")), seen)

    def test_a_leaking_cli_fails_the_test_that_ran_it(self):
        outer, seen = self, {}

        class Inner(DomsecTestCase):
            def test_cli(self):
                d = Daemon(self)
                with subprocess.Popen(outer.wrap([d.exe, "--print-config", "-c",
                                                  d.config_path]),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as p:
                    seen["pid"] = p.pid          # env execs domsecd: the same pid
                    seen["stderr"] = p.communicate(timeout=60)[1]
                    seen["status"] = p.returncode

        self.assert_claimed(run_inner(Inner("test_cli")), seen)
        self.assertNotIn(b"LeakSanitizer", seen["stderr"])   # to SAN_DIR, not stderr

    def assert_claimed(self, problems, seen):
        """The inner test that started process seen["pid"] failed on its leak
        report alone (ASan build), or passed with no report (normal build)."""
        self.assertIn("status", seen, problems)
        if not self.runtime:
            self.assertEqual((problems, seen["status"]), ([], 0),
                             "a build without sanitizers reported the leak")
            self.assertEqual(os.listdir(SAN_DIR), [])
            return
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("sanitizer report %s" % os.path.join(SAN_DIR, "asan.%d" % seen["pid"]),
                      problems[0])
        self.assertIn("ERROR: LeakSanitizer: detected memory leaks", problems[0])
        self.assertRegex(problems[0], self.LEAK)
        self.assertIn("leak_at_start", problems[0])       # the constructor, in the stack
        self.assertEqual(os.listdir(SAN_DIR), [])         # claimed once


if __name__ == "__main__":
    unittest.main()
