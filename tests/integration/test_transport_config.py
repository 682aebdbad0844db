"""domsec transport-config (SPEC 7; issue 4): add/remove round-trips on the
domain lists, the file keeps its other lines, a bad value is refused naming
FILE:LINE and changes nothing, and the running domsecd enforces the new list
without a restart."""

import os
import re
import subprocess
import unittest

from domsec_harness import R, DomsecTestCase, domsecd_path

PARTNER = "partner.test"
DISALLOWED = "451 4.7.3 The admin has temporarily disallowed this secure domain"


def domsec(*args):
    exe = os.path.join(os.path.dirname(domsecd_path()), "domsec")
    return subprocess.run([exe] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30)


class TransportConfigTest(DomsecTestCase):

    def mail_reply(self, d, sender):
        c = d.session()
        return c.cmd("MAIL FROM:<%s>" % sender)

    def test_add_remove_round_trip_and_live_enforcement(self):
        d = self.start_daemon()
        with open(d.config_path) as f:
            before = f.read()
        self.assertReply(self.mail_reply(d, "a@" + PARTNER), R["mail_ok"])

        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--add-tls-receive-domain-secure", PARTNER,
                   "--add-tls-send-domain-secure", PARTNER)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("tls_receive_domain_secure_list = %s" % PARTNER, out)
        self.assertRegex(out, r"reloaded domsecd pid %d" % d.pid)
        d.wait_log(d.prefix() + r"info config reloaded path=")
        # This connector is not domain-secure: a listed sender gets Exchange's row 1.
        self.assertReply(self.mail_reply(d, "a@" + PARTNER), DISALLOWED)
        self.assertReply(self.mail_reply(d, "a@example.org"), R["mail_ok"])

        mark = d.log_mark()
        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--remove-tls-receive-domain-secure", PARTNER,
                   "--remove-tls-send-domain-secure", PARTNER)
        self.assertEqual(r.returncode, 0, r.stderr)
        d.wait_log(d.prefix() + r"info config reloaded path=", since=mark)
        self.assertReply(self.mail_reply(d, "a@" + PARTNER), R["mail_ok"])
        # Round trip: every line that was there is there again, unchanged.
        with open(d.config_path) as f:
            after = f.read()
        for line in before.splitlines():
            self.assertIn(line, after.splitlines())
        r = domsec("-c", d.config_path, "transport-config", "show")
        self.assertEqual(r.stdout.decode(), "tls_send_domain_secure_list =\n"
                                             "tls_receive_domain_secure_list =\n")

    def test_bad_value_is_refused_and_nothing_changes(self):
        d = self.start_daemon()
        with open(d.config_path) as f:
            before = f.read()
        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--add-tls-send-domain-secure", "*.wild.test")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(), r"%s:\d+: tls_send_domain_secure_list: .*wildcards"
                         % d.config_path.replace(".", r"\."))
        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--remove-tls-send-domain-secure", "never.test")
        self.assertEqual(r.returncode, 1)
        with open(d.config_path) as f:
            self.assertEqual(f.read(), before)
        self.assertFalse([n for n in os.listdir(d.dir) if ".tmp." in n])

    def test_no_change_is_a_usage_error_and_nothing_is_written_or_reloaded(self):
        d = self.start_daemon(transport={"tls_receive_domain_secure_list": PARTNER})
        st = os.stat(d.config_path)
        with open(d.config_path, "rb") as f:
            before = f.read()
        path = d.config_path
        cases = [
            # adding what is there (case aside), replacing a list by itself
            (("--add-tls-receive-domain-secure", PARTNER.upper()),
             'tls_receive_domain_secure_list is already "%s"' % PARTNER),
            (("--tls-receive-domain-secure-list", " %s ," % PARTNER),
             'tls_receive_domain_secure_list is already "%s"' % PARTNER),
            (("--tls-send-domain-secure-list", "", "--add-tls-receive-domain-secure", PARTNER),
             'tls_send_domain_secure_list is already "", '
             'tls_receive_domain_secure_list is already "%s"' % PARTNER),
        ]
        for argv, same in cases:
            with self.subTest(argv=argv):
                r = domsec("-c", path, "transport-config", "set", *argv)
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stderr.decode(),
                                 "domsec: transport-config set: no change: %s in %s; the file "
                                 "is not written and domsecd is not reloaded\n" % (same, path))
                self.assertEqual(r.stdout, b"")     # no "reloaded domsecd pid N"
        r = domsec("-c", path, "transport-config", "set")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(), "domsec: transport-config set: nothing to set: "
                                            "give a list option (see --help)\n")
        self.assertEqual(r.stdout, b"")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), before)
        after = os.stat(path)
        self.assertEqual((after.st_ino, after.st_mtime_ns), (st.st_ino, st.st_mtime_ns))
        self.assertFalse([n for n in os.listdir(d.dir) if ".tmp." in n])
        # Nothing above printed "reloaded domsecd pid N" (stdout b""), and no
        # reload has been logged; then one real change: exactly one reload.
        before_log = d.log()
        self.assertNotRegex(before_log, r"config reloaded path=")
        r = domsec("-c", path, "transport-config", "set", "--add-tls-send-domain-secure", PARTNER)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("reloaded domsecd pid %d" % d.pid, r.stdout.decode())
        d.wait_log(d.prefix() + r"info config reloaded path=", since=len(before_log))
        self.assertEqual(len(re.findall(r"config reloaded path=", d.log())), 1, d.log())


if __name__ == "__main__":
    unittest.main()
