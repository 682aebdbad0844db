"""Fail safe (issue 11): a connector with domain_secure_enabled (or require_tls)
never runs without TLS.  Each missing piece is an error naming the file, at
--check-config (exit 1), at start (exit 1, nothing bound, nothing created) and
at reload (the running configuration stays and keeps offering STARTTLS); a
send-list domain that no domain-secure send connector routes is a warning.
The checks read the files as the service user (the tests run as root, so the
daemon and --check-config read them as "nobody").  Also: the start-up line
lists each binding once."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from domsec_harness import (Daemon, DomsecTestCase, is_root, line_of,
                            service_ids)
from pki import PkiMixin

RELAY_FQDN = "mail.contoso.test"
PARTNER = "woodgrovebank.test"


def thumbprint(pem):
    out = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha1"],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return out.strip().split("=", 1)[1].replace(":", "").upper()


class FailSafeTest(PkiMixin, DomsecTestCase):

    # --- fixtures --------------------------------------------------------
    def ca_file(self, mode=0o644):
        """A copy of the PKI's trusted-ca.pem owned by root (or us) with `mode`."""
        d = tempfile.mkdtemp(prefix="domsec-ca-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        path = os.path.join(d, "trusted-ca.pem")
        shutil.copy(self.p("trusted-ca.pem"), path)
        os.chmod(path, mode)
        return path

    def daemon(self, store=None, conn=None, transport=None, sends=None):
        """A domsecd (not started) whose [receive Partner] is domain secure."""
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        opts.update(conn or {})
        t = self.tls_transport(store or self.store("relay"),
                               tls_receive_domain_secure_list=PARTNER)
        t["trusted_ca_file"] = self.ca_file()
        t.update(transport or {})
        d = Daemon(self, connectors=[("Partner", opts)], transport=t, sends=sends)
        d.fs_args = {"connectors": [("Partner", opts)], "transport": t, "sends": sends}
        return d

    def check(self, d):
        p = subprocess.run([d.exe, "--check-config", "-c", d.config_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    # --- the three places a configuration is judged --------------------------
    def assertRefused(self, d, line, message):
        """--check-config and start both refuse d's config with exactly
        "CONFIG:LINE: message"; the daemon binds and creates nothing."""
        where = "%s:%d: " % (d.config_path, line)
        rc, out, err = self.check(d)
        self.assertEqual(rc, 1, "--check-config: stdout=%r stderr=%r" % (out, err))
        self.assertNotIn("configuration OK", out)
        self.assertIn(where + message, err.splitlines(), "--check-config stderr:\n" + err)
        d.start(wait=False)
        status = d.wait_exit(20)
        log = d.log()
        self.assertEqual(status, 1, "domsecd exit status; log:\n" + log)
        self.assertRegex(log, r"(?m)^%serror config %s$" % (d.prefix(),
                                                           re.escape(where + message)))
        self.assertRegex(log, r"(?m)^%sfatal config cannot start with an invalid "
                         r"configuration path=%s$" % (d.prefix(), re.escape(d.config_path)))
        self.assertNotRegex(log, r"info server started")
        self.assertFalse(os.path.exists(d.queue_dir), "the queue directory was created")
        return err

    def assertServesTls(self, d):
        """A new session is offered STARTTLS and a partner is domain secured."""
        c = d.session(fqdn=RELAY_FQDN)
        self.assertIn("250-STARTTLS", c.cmd("EHLO client.example.org").lines)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.close()
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines,
                         ["250 2.1.0 Sender OK"])

    def assertReloadRefused(self, d, break_it, line, message, errors=1):
        """d runs; break_it() breaks its config or files; SIGHUP is refused with the
        error and "reload failed"; the running configuration still serves TLS."""
        d.start()
        self.assertServesTls(d)
        break_it()
        mark = d.log_mark()
        d.reload()
        d.wait_log(r"^%serror config %s$" % (d.prefix(), re.escape(
            "%s:%d: %s" % (d.config_path, line, message))), since=mark)
        d.wait_log(r"^%swarning config reload failed, keeping the running configuration "
                   r"errors=%d$" % (d.prefix(), errors), since=mark)
        self.assertNotRegex(d.log()[mark:], r"info config reloaded")
        self.assertTrue(d.running())
        self.assertServesTls(d)

    # --- the messages (domsecd(8), TLS, "Fail safe") ------------------------
    @staticmethod
    def store_of(d):
        return d.config_text.split("certificate_store = ")[1].split("\n")[0]

    @staticmethod
    def no_cert_message(store, conn="[receive Partner]", flag="domain_secure_enabled = yes",
                        role="cannot offer STARTTLS", fqdn=RELAY_FQDN):
        return ("%s (%s) %s: no usable certificate for %s in certificate_store %s: no "
                "certificate in the store names %s" % (conn, flag, role, fqdn, store, fqdn))

    @staticmethod
    def pin_message(pin, store):
        return ("[receive Partner] (domain_secure_enabled = yes) cannot offer STARTTLS: "
                "tls_certificate %s is not in certificate_store %s" % (pin, store))

    @staticmethod
    def ca_missing_message(ca):
        return ("trusted_ca_file %s does not exist: domain security ([receive Partner]) "
                "cannot verify partner certificates without it" % ca)

    @staticmethod
    def crl_message(crl):
        return ("crl_directory %s does not exist and crl_fetch = no: domain security "
                "([receive Partner]) cannot check revocation; create it or set crl_fetch = yes"
                % crl)

    # --- no usable certificate --------------------------------------------
    def test_no_certificate_for_fqdn(self):
        d = self.daemon(store=self.store("partner-wrongname"))   # names mail.fabrikam.test
        self.assertRefused(d, line_of(d.config_text, "fqdn = " + RELAY_FQDN),
                           self.no_cert_message(self.store_of(d)))

    def test_no_certificate_reload(self):
        d = self.daemon()
        self.assertReloadRefused(
            d, lambda: os.unlink(os.path.join(self.store_of(d), "relay.pem")),
            line_of(d.config_text, "fqdn = " + RELAY_FQDN), self.no_cert_message(self.store_of(d)))

    def test_refused_reload_reports_nothing_of_the_refused_set(self):
        # A lax connector (Plain: TLS wanted, no certificate for its fqdn) is
        # reported when its configuration is put to work, at start; a reload
        # that is refused puts nothing to work, so it reports no connector
        # "without STARTTLS": only why it was refused.
        d = self.daemon()
        plain = {"auth_mechanism": "tls", "fqdn": "nocert.contoso.test",
                 "remote_ip_ranges": "127.0.0.9"}
        d = Daemon(self, connectors=d.fs_args["connectors"] + [("Plain", plain)],
                   transport=d.fs_args["transport"])
        lax = r"error tls receive connector Plain: no usable certificate for nocert"
        store = self.store_of(d)
        d.start()
        d.wait_log(lax)
        mark = d.log_mark()
        os.unlink(os.path.join(store, "relay.pem"))
        d.reload()
        d.wait_log(r"warning config reload failed, keeping the running configuration",
                   since=mark)
        self.assertNotRegex(d.log()[mark:], lax)
        self.assertNotRegex(d.log()[mark:], r"STARTTLS is not offered")

    def test_store_missing(self):
        d = self.daemon(transport={"certificate_store": "/nonexistent/certs"})
        self.assertRefused(
            d, line_of(d.config_text, "certificate_store ="),
            "[receive Partner] (domain_secure_enabled = yes) cannot offer STARTTLS: cannot "
            "read the certificate store /nonexistent/certs: No such file or directory")

    def test_require_tls_without_certificate(self):
        d = self.daemon(store=self.store("partner-wrongname"),
                        conn={"domain_secure_enabled": "no", "require_tls": "yes"})
        self.assertRefused(d, line_of(d.config_text, "fqdn = " + RELAY_FQDN),
                           self.no_cert_message(self.store_of(d), flag="require_tls = yes"))

    def test_pinned_certificate_not_in_store(self):
        pin = "0123456789ABCDEF0123456789ABCDEF01234567"
        d = self.daemon(conn={"tls_certificate": pin})
        self.assertRefused(d, line_of(d.config_text, "tls_certificate ="),
                           self.pin_message(pin, self.store_of(d)))

    def test_pinned_certificate_reload(self):
        d = self.daemon()
        pin = "0123456789ABCDEF0123456789ABCDEF01234567"
        broken = d.config_text.replace("fqdn = %s\n" % RELAY_FQDN,
                                       "fqdn = %s\ntls_certificate = %s\n" % (RELAY_FQDN, pin))
        self.assertReloadRefused(d, lambda: d.write_config(broken),
                                 line_of(broken, "tls_certificate ="),
                                 self.pin_message(pin, self.store_of(d)))

    def test_send_connector_without_client_certificate(self):
        d = self.daemon(sends=[("Partner", {"address_spaces": PARTNER, "dns_routing": "yes",
                                            "fqdn": "mail.nothere.test",
                                            "domain_secure_enabled": "yes"})],
                        transport={"tls_send_domain_secure_list": PARTNER})
        self.assertRefused(d, line_of(d.config_text, "fqdn = mail.nothere.test"),
                           self.no_cert_message(self.store_of(d), conn="[send Partner]",
                                                role="has no client certificate for "
                                                "partners to check", fqdn="mail.nothere.test"))

    # --- the key ---------------------------------------------------------
    def key_message(self, store, mode):
        key = os.path.join(store, "relay.key")
        return ("[receive Partner] (domain_secure_enabled = yes) cannot offer STARTTLS: key "
                "file %s of certificate %s is readable by group or others (mode %04o): "
                "chmod 600 %s" % (key, thumbprint(self.p("relay.pem")), mode, key))

    def test_key_readable_by_others(self):
        store = self.store("relay", mode=0o644)
        d = self.daemon(store=store)
        err = self.assertRefused(d, line_of(d.config_text, "fqdn = " + RELAY_FQDN),
                                 self.key_message(store, 0o644))
        self.assertNotIn("relay.pem is readable", err)

    def test_key_readable_by_group_reload(self):
        store = self.store("relay")
        d = self.daemon(store=store)
        self.assertReloadRefused(
            d, lambda: os.chmod(os.path.join(store, "relay.key"), 0o640),
            line_of(d.config_text, "fqdn = " + RELAY_FQDN), self.key_message(store, 0o640))

    def test_key_unreadable_by_service_user(self):
        # root's key, mode 0600: fine for root, not for the daemon (checked as it reads)
        store = self.store("relay")
        key = os.path.join(store, "relay.key")
        os.chown(key, os.getuid(), os.getgid())
        if not is_root():
            os.chmod(key, 0)
        d = self.daemon(store=store)
        self.assertRefused(
            d, line_of(d.config_text, "fqdn = " + RELAY_FQDN),
            "[receive Partner] (domain_secure_enabled = yes) cannot offer STARTTLS: key file "
            "%s of certificate %s: private key unreadable: Permission denied"
            % (key, thumbprint(self.p("relay.pem"))))

    # --- trusted_ca_file ---------------------------------------------------
    def test_trusted_ca_file_missing(self):
        d = self.daemon(transport={"trusted_ca_file": "/nonexistent/trusted-ca.pem"})
        self.assertRefused(d, line_of(d.config_text, "trusted_ca_file ="),
                           self.ca_missing_message("/nonexistent/trusted-ca.pem"))

    def test_trusted_ca_file_unreadable_by_service_user(self):
        ca = self.ca_file(mode=0o600)       # root's: readable by root, not by the daemon
        if not is_root():
            os.chmod(ca, 0)
        user = "nobody" if is_root() else __import__("pwd").getpwuid(os.getuid()).pw_name
        d = self.daemon(transport={"trusted_ca_file": ca})
        self.assertRefused(
            d, line_of(d.config_text, "trusted_ca_file ="),
            "trusted_ca_file %s cannot be read as user %s (Permission denied): domain "
            "security ([receive Partner]) cannot verify partner certificates without it"
            % (ca, user))

    @unittest.skipUnless(is_root(), "needs root: --check-config as root reads as the service user")
    def test_check_config_as_root_judges_as_the_service_user(self):
        # require_tls alone needs no trusted_ca_file, and one the service user
        # cannot even see (inside a root-only directory) is, for the daemon,
        # a missing one.  --check-config as root must come to the same verdict
        # as the daemon after its privilege drop, not load the file as root.
        hidden = tempfile.mkdtemp(prefix="domsec-rootonly-")
        self.addCleanup(shutil.rmtree, hidden, True)
        os.chmod(hidden, 0o700)
        ca = os.path.join(hidden, "trusted-ca.pem")
        shutil.copy(self.p("trusted-ca.pem"), ca)
        d = self.daemon(conn={"domain_secure_enabled": "no", "require_tls": "yes"},
                        transport={"trusted_ca_file": ca})
        rc, out, err = self.check(d)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)

    def test_trusted_ca_file_reload(self):
        d = self.daemon()
        ca = d.config_text.split("trusted_ca_file = ")[1].split("\n")[0]
        self.assertReloadRefused(d, lambda: os.unlink(ca),
                                 line_of(d.config_text, "trusted_ca_file ="),
                                 self.ca_missing_message(ca))

    # --- crl_directory -------------------------------------------------------
    def test_crl_directory_missing_without_fetch(self):
        d = self.daemon(transport={"crl_directory": "/nonexistent/crl"})
        self.assertRefused(d, line_of(d.config_text, "crl_directory ="),
                           self.crl_message("/nonexistent/crl"))

    def test_crl_directory_reload(self):
        d = self.daemon()
        crl = d.config_text.split("crl_directory = ")[1].split("\n")[0]
        self.assertReloadRefused(d, lambda: shutil.rmtree(crl),
                                 line_of(d.config_text, "crl_directory ="), self.crl_message(crl))

    def test_crl_directory_missing_with_fetch_is_fine(self):
        d = self.daemon(transport={"crl_directory": "/nonexistent/crl", "crl_fetch": "yes"})
        rc, out, err = self.check(d)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)

    # --- --check-config as root reads as the service user, who must exist ------
    def test_check_config_needs_the_service_user(self):
        d = self.daemon()
        text = d.config_text.replace("user = nobody", "user = no-such-user-fs")
        d.write_config(text)
        rc, out, err = self.check(d)
        if not is_root():               # not root: the files are read as ourselves
            self.assertEqual((rc, out), (0, "configuration OK\n"), err)
            return
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:%d: [service] user \"no-such-user-fs\" does not exist: the TLS files "
                      "cannot be checked as domsecd reads them; create it (useradd --system "
                      "no-such-user-fs) or set [service] user"
                      % (d.config_path, line_of(text, "user = ")), err.splitlines())

    # --- a send-list domain nobody routes securely: a warning ---------------
    def test_unrouted_send_list_domain_warns(self):
        sends = [("Internet", {"address_spaces": "*", "dns_routing": "yes",
                               "fqdn": RELAY_FQDN})]
        d = self.daemon(sends=sends,
                        transport={"tls_send_domain_secure_list": "fabrikam.test"})
        line = line_of(d.config_text, "tls_send_domain_secure_list =")
        msg = ("tls_send_domain_secure_list: fabrikam.test is routed by [send Internet], "
               "which has domain_secure_enabled = no: its mail is deferred, never sent")
        rc, out, err = self.check(d)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        self.assertIn("%s:%d: warning: %s" % (d.config_path, line, msg), err.splitlines())
        d.start()
        d.wait_log(r"^%swarning config %s$" % (d.prefix(), re.escape(
            "%s:%d: %s" % (d.config_path, line, msg))))
        self.assertServesTls(d)
        # no send connector at all for the domain: the same warning, and reload proceeds
        text = d.render_config(**dict(d.fs_args, sends=None))
        d.write_config(text)
        mark = d.log_mark()
        d.reload()
        d.wait_log(r"^%swarning config %s:%d: tls_send_domain_secure_list: no send connector "
                   r"routes fabrikam\.test: its mail waits in the queue, never sent; route it "
                   r"by a send connector with domain_secure_enabled = yes$"
                   % (d.prefix(), re.escape(d.config_path),
                      line_of(text, "tls_send_domain_secure_list =")), since=mark)
        d.wait_log(r"^%sinfo config reloaded path=" % d.prefix(), since=mark)

    # --- connectors that do not ask for TLS keep today's behaviour ----------
    def test_plain_connector_still_runs_without_certificate(self):
        d = self.daemon(store=self.store("partner-wrongname"),
                        conn={"domain_secure_enabled": "no"})
        rc, out, err = self.check(d)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        d.start()
        d.wait_log(r"^%serror tls receive connector Partner: no usable certificate for "
                   r"mail\.contoso\.test: .*STARTTLS is not offered$" % d.prefix())
        c = d.session(fqdn=RELAY_FQDN)
        self.assertNotIn("250-STARTTLS", c.cmd("EHLO client.example.org").lines)


class StartupLineTest(DomsecTestCase):

    def test_each_binding_listed_once(self):
        # Two connectors share 127.0.0.1:PORT (told apart by remote_ip_ranges), as
        # the demo's Default and Internal do.
        d = self.start_daemon(connectors=[
            ("Default", {"bindings": "127.0.0.1:{port}, [::1]:{port}",
                         "remote_ip_ranges": "127.0.0.0/8, ::1"}),
            ("Internal", {"remote_ip_ranges": "127.0.0.2", "permission": "internal"})])
        d.wait_log(r"^%sinfo server started workers=\d+ bindings=127\.0\.0\.1:%d,\[::1\]:%d$"
                   % (d.prefix(), d.port, d.port))


if __name__ == "__main__":
    unittest.main()
