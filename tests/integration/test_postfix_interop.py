"""Domain security against a real Postfix (issue 4, "Done when"): domsec relays mail
for a domain in tls_send_domain_secure_list to a private Postfix instance acting as
the partner woodgrovebank.test.  That Postfix asks for a client certificate
(smtpd_tls_ask_ccert = yes) and must verify ours: its log says "Trusted TLS
connection established" and its Received header (smtpd_tls_received_header = yes)
names our certificate with "(verified OK)".

Needs root (postfix -c DIR/etc start) and Postfix 3.x installed; never skipped.  The
Postfix instance is private (own config, queue and data directories, its own
master.cf without chroot, log file in its directory) and is stopped in a cleanup.
"""

import glob
import os
import pwd
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

from domsec_harness import wait_until
from peers import RX_ID, DeliveryTestCase, _tcp_listening
from pki import PkiMixin

PARTNER = "woodgrovebank.test"
POSTFIX_IP = "127.0.0.46"
NOBODY = 65534

MASTER_CF = """\
{ip}:{port} inet n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
# inet_interfaces must name interface addresses (127.0.0.46 is not one: postfix
# check fails silently); the listener itself binds {ip} in master.cf.
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mail.{partner}
mydomain = {partner}
myorigin = $myhostname
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = error:no outbound in tests
relay_transport = error:no outbound in tests
smtpd_peername_lookup = no
biff = no
maillog_file = {dir}/postfix.log
maillog_file_prefixes = {dir}
virtual_mailbox_domains = {partner}
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{uid}
smtpd_tls_cert_file = {dir}/etc/partner-ok.pem
smtpd_tls_key_file = {dir}/etc/partner-ok.key
smtpd_tls_CAfile = {dir}/etc/chain.pem
smtpd_tls_security_level = may
smtpd_tls_ask_ccert = yes
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
"""


class Postfix:
    """A private Postfix instance as mail.woodgrovebank.test on ip:port."""

    def __init__(self, tc, pki, ip, port):
        if os.geteuid() != 0:
            raise AssertionError("a private Postfix instance needs root "
                                 "(postfix -c DIR start); run the integration tests as root")
        self.postfix = shutil.which("postfix") or "/usr/sbin/postfix"
        if not os.access(self.postfix, os.X_OK):
            raise AssertionError("postfix is not installed; this test needs it and is not "
                                 "skipped")
        self.tc, self.ip, self.port = tc, ip, port
        self.dir = tempfile.mkdtemp(prefix="domsec-postfix-")
        tc.addCleanup(self.cleanup)
        os.chmod(self.dir, 0o755)
        pf = pwd.getpwnam("postfix")
        for sub, owner in (("queue", None), ("data", pf), ("mail", None)):
            p = os.path.join(self.dir, sub)
            os.mkdir(p, 0o755)
            if owner:
                os.chown(p, owner.pw_uid, owner.pw_gid)
        os.chown(os.path.join(self.dir, "mail"), NOBODY, NOBODY)   # virtual delivers as 65534
        self.conf = os.path.join(self.dir, "etc")    # config apart from queue and mail
        os.mkdir(self.conf, 0o755)
        for name, mode in (("partner-ok.pem", 0o644), ("partner-ok.key", 0o600),
                           ("chain.pem", 0o644)):
            dst = os.path.join(self.conf, name)
            shutil.copy(os.path.join(pki, name), dst)
            os.chmod(dst, mode)                     # root-owned; Postfix reads keys as root
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, ip=ip, partner=PARTNER, uid=NOBODY))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(ip=ip, port=port))
        self.log_path = os.path.join(self.dir, "postfix.log")
        self.started = False

    def _run(self, *args, timeout=60):
        r = subprocess.run([self.postfix, "-c", self.conf] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def start(self):
        self.started = True
        rc, out = self._run("start")
        if rc != 0:
            raise AssertionError("postfix -c %s start failed (%d):\n%s\n%s\n%s"
                                 % (self.conf, rc, out, self.log(), self._diagnose()))
        try:
            wait_until(lambda: _tcp_listening(self.ip, self.port), 20,
                       "Postfix listening on %s:%d" % (self.ip, self.port))
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.log()))

    def _diagnose(self):
        """Postfix commands print their errors only to a terminal (or to maillog_file once
        postlogd runs): rerun 'postfix check' with stderr on a pty to see why start failed."""
        master, slave = os.openpty()
        try:
            p = subprocess.Popen([self.postfix, "-c", self.conf, "check"],
                                 stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
            os.close(slave)
            slave = None
            out = b""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:                 # EIO: the child side is closed
                        break
                    if not chunk:
                        break
                    out += chunk
                elif p.poll() is not None:
                    break
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            return "postfix check:\n" + out.decode("utf-8", "replace")
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _alive(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            return state not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def cleanup(self):
        try:
            if self.started:
                pid = self.master_pid()
                try:
                    self._run("stop", timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                if pid:
                    deadline = time.monotonic() + 15
                    while self._alive(pid) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    if self._alive(pid):        # our own master: make sure it is gone
                        try:
                            os.kill(pid, 9)
                        except OSError:
                            pass
        finally:
            if os.environ.get("DOMSEC_KEEP"):
                print("kept %s" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=30.0):
        rx = re.compile(pattern, re.M)
        try:
            return wait_until(lambda: rx.search(self.log()), timeout,
                              "Postfix log line /%s/" % pattern)
        except AssertionError as e:
            raise AssertionError("%s\nPostfix log:\n%s" % (e, self.log()))

    def maildir_files(self):
        return sorted(glob.glob(os.path.join(self.dir, "mail", "Maildir", "new", "*")))


class PostfixInteropTest(PkiMixin, DeliveryTestCase):

    def relay_to(self, port):
        return self.domain_secure_relay(PARTNER, POSTFIX_IP, port)

    def test_domsec_to_postfix_client_certificate_verified(self):
        pf = Postfix(self, self.pki, POSTFIX_IP, self.P)
        pf.start()
        a = self.relay_to(self.P)
        qid = self.submit(a, ["<u@%s>" % PARTNER], sender="<s@contoso.test>")
        a.wait_log(a.prefix() + r"info smtp %s secure domain certificate domain=%s "
                   r'subject="[^"]*CN=mail\.%s[^"]*"'
                   % (RX_ID, re.escape(PARTNER), re.escape(PARTNER)), 30)
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> relay=\S+\[%s\]:%d "
                   % (RX_ID, qid, re.escape(PARTNER), re.escape(POSTFIX_IP), self.P), 30)
        # Postfix (receiving side) verified our client certificate.
        pf.wait_log(r"postfix/smtpd\[\d+\]: Trusted TLS connection established from "
                    r"\S+\[127\.0\.0\.\d+\]:")
        pf.wait_log(r"postfix/virtual\[\d+\]: \w+: to=<u@%s>.* status=sent "
                    % re.escape(PARTNER))
        files = wait_until(pf.maildir_files, 10, "a message in the Postfix Maildir")
        self.assertEqual(len(files), 1, files)
        with open(files[0], "rb") as f:
            data = f.read().decode("utf-8", "replace")
        headers = data.split("\n\n", 1)[0]
        m = re.search(r"^Received: from mail\.contoso\.test .*?(?=^\S)", headers + "\nX",
                      re.M | re.S)
        self.assertIsNotNone(m, headers)
        received = " ".join(m.group(0).split())
        self.assertIn('Client CN "mail.contoso.test"', received)
        self.assertRegex(received, r'Issuer "[^"]+" \(verified OK\)')
        self.assertIn("for <u@%s>" % PARTNER, received)
        self.assertIn("From: <s@contoso.test>", headers)


if __name__ == "__main__":
    unittest.main()
