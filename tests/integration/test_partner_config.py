"""[partner DOMAIN] sections (issue 17): --check-config validates them (a
bad pin, a domain on neither secure list, an unreadable partner CA file:
exit 1 naming FILE:LINE; require = dane inbound: a warning), --print-config
prints them with their derived defaults, and `domsec transport-config
partner set|show|remove` and SIGHUP put them into the running domsecd, whose
own log shows that it loaded them (the require = dane warning of a reload,
the FILE:LINE error of a refused reload).  What a partner section does to a
session is test_partner_trust.py's."""

import base64
import os
import re
import subprocess

from domsec_harness import Daemon, DomsecTestCase, domsecd_path

PARTNER = "partner.test"
OTHER = "other.test"
PIN_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PIN_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
PIN_A_B64 = base64.b64encode(bytes.fromhex(PIN_A)).decode()     # SPEC 9's form
LISTS = {"tls_send_domain_secure_list": PARTNER,
         "tls_receive_domain_secure_list": "%s, %s" % (PARTNER, OTHER)}


def domsec(*args):
    exe = os.path.join(os.path.dirname(domsecd_path()), "domsec")
    return subprocess.run([exe] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=30)


def line_no(text, needle):
    """1-based number of the first line of text that starts with needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(needle):
            return i
    raise AssertionError("no line %r in:\n%s" % (needle, text))


class PartnerConfigTest(DomsecTestCase):

    def partner_ca(self, d):
        """A real CA certificate (generated here) for a partner's trusted_ca_file."""
        path = os.path.join(d.dir, "partner-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                        os.path.join(d.dir, "partner-ca.key"), "-out", path, "-days", "30",
                        "-subj", "/CN=Partner Test CA"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        os.chmod(path, 0o644)
        return path

    def check(self, d, text, print_config=False):
        d.write_config(text)
        p = subprocess.run([d.exe, "--print-config" if print_config else "--check-config",
                            "-c", d.config_path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_check_config_and_print(self):
        d = Daemon(self, transport=LISTS, dns={"servers": "127.0.0.1", "dnssec": "yes"})
        base = d.config_text
        ca = self.partner_ca(d)
        good = base + ("\n[partner %s]\ntrusted_ca_file = %s\ncertificate_pins = %s, %s\n"
                       "accept_server_auth_only = yes\nmin_tls_version = 1.3\n"
                       "revocation = crl+ocsp\n" % (PARTNER.upper() + ".", ca,
                                                    PIN_A.upper(), PIN_B))
        rc, out, err = self.check(d, good)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        self.assertNotIn("warning: [partner", err)

        rc, out, err = self.check(d, good, print_config=True)
        self.assertEqual(rc, 0, err)
        self.assertIn("\n[partner %s]\ntrusted_ca_file = %s\ntrust_global_ca = no\n"
                      "certificate_pins = %s, %s\naccept_server_auth_only = yes\n"
                      "min_tls_version = 1.3\nrequire = ca+pin\nrevocation = crl+ocsp\n"
                      "revocation_failure = fail\n" % (PARTNER, ca, PIN_A, PIN_B), out)

        # require = dane: valid, but inbound it is require = ca: a warning at its line.
        text = base + "\n[partner %s]\nrequire = dane\n" % PARTNER
        rc, out, err = self.check(d, text)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        self.assertIn("%s:%d: warning: [partner %s] require = dane holds when sending only: "
                      "mail received from %s is checked as require = ca"
                      % (d.config_path, line_no(text, "require = dane"), PARTNER, PARTNER),
                      err)

        # Errors name FILE:LINE, all of them, and the exit status is 1.
        text = base + ("\n[partner %s]\ncertificate_pins = %s, xx\n"
                       "[partner northwind.test]\n"
                       "[partner %s]\ntrusted_ca_file = %s\n"
                       % (PARTNER, PIN_A, OTHER, os.path.join(d.dir, "missing.pem")))
        rc, out, err = self.check(d, text)
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        p = re.escape(d.config_path)
        self.assertRegex(err, r"%s:%d: certificate_pins: \"xx\" is not a SHA-256 pin "
                         r"\(64 hex digits or 44 base64 characters\)"
                         % (p, line_no(text, "certificate_pins")))
        self.assertRegex(err, r"%s:%d: \[partner northwind\.test\]: northwind\.test is on "
                         r"neither tls_send_domain_secure_list nor "
                         r"tls_receive_domain_secure_list" % (p, line_no(text, "[partner north")))
        self.assertRegex(err, r"%s:%d: trusted_ca_file \S+/missing\.pem cannot be read: No such "
                         r"file or directory" % (p, line_no(text, "trusted_ca_file")))

        # A CA file without a certificate (here: only the CA's key) is refused too.
        text = base + "\n[partner %s]\ntrusted_ca_file = %s\n" % (
            PARTNER, os.path.join(d.dir, "partner-ca.key"))
        rc, out, err = self.check(d, text)
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:%d: trusted_ca_file %s holds no certificate"
                      % (d.config_path, line_no(text, "trusted_ca_file"),
                         os.path.join(d.dir, "partner-ca.key")), err)

        # dnssec = yes trusts the AD bit only of a resolver on this host.
        text = base.replace("servers = 127.0.0.1", "servers = 127.0.0.1, 192.0.2.53")
        rc, out, err = self.check(d, text)
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:%d: dnssec = yes needs a validating resolver on this host; "
                      "192.0.2.53 is not a loopback address"
                      % (d.config_path, line_no(text, "dnssec")), err)

    def test_cli_and_sighup_reach_the_running_daemon(self):
        d = self.start_daemon(transport=LISTS, dns={"servers": "127.0.0.1", "dnssec": "yes"})
        original = d.config_text
        r = domsec("-c", d.config_path, "transport-config", "partner", "show")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))

        # set: validated, written, shown, and the running daemon reloads it
        mark = d.log_mark()
        # (the pin in curl's --pinnedpubkey form: printed back as hex)
        r = domsec("-c", d.config_path, "transport-config", "partner", "set", PARTNER,
                   "require", "pin", "certificate_pins", "sha256//" + PIN_A_B64)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("[partner %s]\ntrust_global_ca = yes\ncertificate_pins = %s\n"
                      "accept_server_auth_only = yes\nrequire = pin\nrevocation = crl\n"
                      "revocation_failure = fail\n" % (PARTNER, PIN_A), out)
        self.assertRegex(out, r"reloaded domsecd pid %d" % d.pid)
        d.wait_log(d.prefix() + r"info config reloaded path=", since=mark)
        with open(d.config_path) as f:
            text = f.read()
        self.assertTrue(text.startswith(d.config_text), "the other lines are kept")
        self.assertTrue(text.endswith("\n[partner %s]\nrequire = pin\ncertificate_pins = %s\n"
                                      % (PARTNER, "sha256//" + PIN_A_B64)), text)

        # a refused set changes nothing and reloads nothing
        mark = d.log_mark()
        r = domsec("-c", d.config_path, "transport-config", "partner", "set", PARTNER,
                   "certificate_pins", "xx")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(), r"%s:%d: certificate_pins: \"xx\" is not a "
                         r"SHA-256 pin" % (re.escape(d.config_path),
                                           line_no(text, "certificate_pins")))
        with open(d.config_path) as f:
            self.assertEqual(f.read(), text)
        r = domsec("-c", d.config_path, "transport-config", "partner", "set", PARTNER,
                   "require", "pin")
        self.assertEqual(r.returncode, 2, "no change is a usage error")

        # SIGHUP after a hand edit: the daemon's own reload parses the section
        # (its require = dane warning, with the line, is in the daemon's log).
        text = text.replace("require = pin", "require = dane")
        d.write_config(text)
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded path=", since=mark)
        self.assertRegex(d.log()[mark:], d.prefix() + r"warning config %s:%d: \[partner %s\] "
                         r"require = dane holds when sending only"
                         % (re.escape(d.config_path), line_no(text, "require = dane"),
                            re.escape(PARTNER)))

        # a broken hand edit: the daemon names FILE:LINE and keeps running on the last one
        mark = d.log_mark()
        broken = text + "[partner %s]\n" % OTHER + "require = ca+pin\n"
        d.write_config(broken)
        d.reload()
        d.wait_log(d.prefix() + r"warning config reload failed, keeping the running "
                   r"configuration errors=1", since=mark)
        self.assertRegex(d.log()[mark:], d.prefix() + r"error config %s:%d: require = ca\+pin "
                         r"needs certificate_pins" % (re.escape(d.config_path),
                                                      line_no(broken, "require = ca+pin")))
        d.write_config(text)

        # remove: the section goes, the daemon reloads, show has nothing left
        mark = d.log_mark()
        r = domsec("-c", d.config_path, "transport-config", "partner", "remove", PARTNER)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[partner %s] removed" % PARTNER, r.stdout.decode())
        d.wait_log(d.prefix() + r"info config reloaded path=", since=mark)
        self.assertNotRegex(d.log()[mark:], r"require = dane holds")
        r = domsec("-c", d.config_path, "transport-config", "partner", "show", PARTNER)
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no [partner %s] section: the global rules apply" % PARTNER,
                      r.stderr.decode())
        with open(d.config_path) as f:
            self.assertEqual(f.read(), original, "set then remove gives the file back")
