"""The harness fails a test on a sanitizer report of any process it started
(domsec_harness.py, SAN_DIR): a daemon's own report (its pid) in the
Daemon's cleanup, a CLI's report after the test, each claimed once.  Reports
are planted here as ASan's log_path writes them (SAN_DIR/asan.PID), so this
runs in every build; that a sanitized domsecd really writes there is in
docs/RELIABILITY.md (a leak preloaded into the ASan build is reported)."""
import contextlib
import io
import os
import unittest

import domsec_harness
from domsec_harness import DomsecTestCase, SAN_DIR

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


if __name__ == "__main__":
    unittest.main()
