"""--check-config: a good config prints "configuration OK" (exit 0); every error
is one "FILE:LINE: message" line on stderr (exit 1).  A daemon started on a bad
config refuses to run and names FILE:LINE too."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from domsec_harness import (SERVICE_USER, DomsecTestCase, domsecd_path, free_port, is_root,
                            listening_ports, service_ids)

# SPEC section 2, verbatim except for the paths.
SPEC_EXAMPLE = """\
[transport]                         ; organization-wide, like Set-TransportConfig
accepted_domains = contoso.com      ; mail for these is accepted from the internet
tls_send_domain_secure_list = woodgrovebank.com, fabrikam.com
tls_receive_domain_secure_list = woodgrovebank.com
; either list may also come from a file, one domain a line:
; tls_send_domain_secure_list_file = /etc/domsec/send-secure.domains
queue_directory = @DIR@/spool
trusted_ca_file = @DIR@/trusted-ca.pem   ; the trust anchors for partner certificates
certificate_store = @DIR@/certs
crl_directory = @DIR@/crl
crl_fetch = yes                     ; fetch CRLs from CRL distribution points over HTTP
revocation_failure = fail           ; fail | accept  (an unknown revocation status; "revoked" always fails)
message_expiration_timeout = 2d
delay_notification_timeout = 4h
transient_failure_retry_interval = 10m
transient_failure_retry_count = 6
message_retry_interval = 15m
outbound_connection_failure_retry_interval = 30m
max_outbound_connections = 1000
max_per_domain_outbound_connections = 40

[receive Inet]                      ; a receive connector
bindings = 0.0.0.0:25, [::]:25
remote_ip_ranges = 0.0.0.0/0, ::/0  ; which clients this connector serves (most specific wins)
fqdn = mail.contoso.com             ; banner, EHLO reply, Received header, certificate selection
auth_mechanism = tls                ; tls: advertise STARTTLS | none
domain_secure_enabled = yes
require_tls = no
permission = internet               ; internet: RCPT only to accepted_domains | internal: may relay anywhere
max_message_size = 36MB
max_recipients_per_message = 200
max_inbound_connection = 5000
max_inbound_connection_per_source = 20
connection_timeout = 5m
connection_inactivity_timeout = 1m
protocol_logging_level = verbose    ; none | verbose

[receive FromHub]
bindings = 10.0.0.5:25
remote_ip_ranges = 10.0.0.0/8
fqdn = edge.contoso.local
auth_mechanism = tls
permission = internal

[send Internet]                     ; a send connector
address_spaces = *                  ; *, domain, *.domain; longest match wins
dns_routing = yes                   ; or: smart_hosts = relay.example.net:25, [10.1.1.1]:587
port = 25
fqdn = mail.contoso.com             ; EHLO name and client-certificate selection
domain_secure_enabled = yes
require_tls = no
protocol_logging_level = verbose

[send ToHub]
address_spaces = contoso.com
smart_hosts = hub.contoso.local:25

[dns]
servers = 127.0.0.53:5353           ; optional; default is /etc/resolv.conf
timeout = 5s

[logs]
directory = @DIR@/log         ; ProtocolLog/SmtpReceive, ProtocolLog/SmtpSend, MessageTracking
protocol_log_max_file_size = 10MB
protocol_log_max_directory_size = 250MB
protocol_log_max_age = 30d
"""

# A small good config; the bad cases below change one line of it.
BASE = """\
[transport]
accepted_domains = a.test, b.test
queue_directory = @DIR@/queue

[logs]
directory = @DIR@/log

[receive Inet]
bindings = 127.0.0.1:@PORT@
remote_ip_ranges = 127.0.0.0/8
fqdn = mx.domsec.test
auth_mechanism = none
permission = internet
max_message_size = 10MB
max_recipients_per_message = 10
connection_timeout = 5m
connection_inactivity_timeout = 1m
"""


class ConfigCheckTest(DomsecTestCase):

    def setUp(self):
        self.exe = domsecd_path()
        self.dir = tempfile.mkdtemp(prefix="domsec-cfg-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.port = free_port()
        self.n = 0

    def write(self, text):
        self.n += 1
        path = os.path.join(self.dir, "c%d.conf" % self.n)
        with open(path, "w") as f:
            f.write(text.replace("@DIR@", self.dir).replace("@PORT@", str(self.port)))
        return path

    def check(self, path):
        try:
            p = subprocess.run([self.exe, "--check-config", "-c", path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("--check-config -c %s did not finish within 10 s" % path)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def replace_line(self, old, new, text=BASE):
        """BASE with the line containing old replaced by new; returns (text, line number)."""
        lines = text.splitlines()
        for i, l in enumerate(lines):
            if old in l:
                lines[i] = new
                return "\n".join(lines) + "\n", i + 1
        raise AssertionError("%r not in config" % old)

    def insert_after(self, anchor, new, text=BASE):
        lines = text.splitlines()
        for i, l in enumerate(lines):
            if anchor in l:
                lines.insert(i + 1, new)
                return "\n".join(lines) + "\n", i + 2
        raise AssertionError("%r not in config" % anchor)

    def assertErrorAt(self, text, *line_numbers):
        path = self.write(text)
        rc, out, err = self.check(path)
        self.assertEqual(rc, 1, "exit status; stdout=%r stderr=%r" % (out, err))
        self.assertNotIn("configuration OK", out)
        for n in line_numbers:
            self.assertRegex(err, r"(?m)^%s:%d: \S" % (re.escape(path), n),
                             "no error line naming %s:%d in stderr" % (path, n))
        return err

    # --- good ------------------------------------------------------------
    def test_good_config(self):
        rc, out, err = self.check(self.write(BASE))
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)

    def test_spec_example_is_valid(self):
        # Its connectors are domain secure, so --check-config also reads the TLS files
        # as the service user (fail safe): give it a certificate for mail.contoso.com
        # that is its own trust anchor.
        os.chmod(self.dir, 0o755)
        certs = os.path.join(self.dir, "certs")
        os.mkdir(certs, 0o755)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mail.contoso.com",
                        "-addext", "subjectAltName=DNS:mail.contoso.com",
                        "-keyout", os.path.join(certs, "edge.key"),
                        "-out", os.path.join(certs, "edge.pem")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        shutil.copy(os.path.join(certs, "edge.pem"), os.path.join(self.dir, "trusted-ca.pem"))
        uid, gid = service_ids()
        for f in ("edge.key", "edge.pem"):
            os.chown(os.path.join(certs, f), uid, gid)
        os.chmod(os.path.join(certs, "edge.key"), 0o600)
        os.chmod(os.path.join(certs, "edge.pem"), 0o644)
        os.chmod(os.path.join(self.dir, "trusted-ca.pem"), 0o644)
        service = "[service]\nuser = %s\n\n" % SERVICE_USER if is_root() else ""
        rc, out, err = self.check(self.write(service + SPEC_EXAMPLE))
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)

    # --- bad values --------------------------------------------------------
    def test_unknown_key_in_receive(self):
        self.assertErrorAt(*self.insert_after("permission = internet", "max_frobs = 3"))

    def test_unknown_key_in_transport(self):
        self.assertErrorAt(*self.insert_after("accepted_domains", "accepted_domain = c.test"))

    def test_bad_size(self):
        self.assertErrorAt(*self.replace_line("max_message_size", "max_message_size = lots"))

    def test_bad_binding_port(self):
        self.assertErrorAt(*self.replace_line("bindings", "bindings = 127.0.0.1:99999"))

    def test_bad_binding_address(self):
        self.assertErrorAt(*self.replace_line("bindings", "bindings = not-an-address:25"))

    def test_bad_duration(self):
        self.assertErrorAt(*self.replace_line("connection_timeout", "connection_timeout = soon"))

    def test_bad_permission(self):
        self.assertErrorAt(*self.replace_line("permission", "permission = everyone"))

    def test_bad_remote_ip_range(self):
        self.assertErrorAt(*self.replace_line("remote_ip_ranges", "remote_ip_ranges = 10.0.0.0/33"))

    def test_bad_number(self):
        self.assertErrorAt(*self.replace_line("max_recipients_per_message",
                                              "max_recipients_per_message = many"))

    def test_wildcard_in_domain_secure_list(self):
        self.assertErrorAt(*self.insert_after("accepted_domains",
                                              "tls_send_domain_secure_list = *.fabrikam.com"))

    def test_every_error_is_reported(self):
        text, l1 = self.replace_line("max_message_size", "max_message_size = lots")
        text, l2 = self.replace_line("permission", "permission = everyone", text)
        err = self.assertErrorAt(text, l1, l2)
        self.assertGreaterEqual(len(re.findall(r"(?m)^.+:\d+: ", err)), 2, err)

    def test_missing_bindings_names_the_section(self):
        text, _ = self.replace_line("bindings", "; no bindings")
        self.assertErrorAt(text, BASE.splitlines().index("[receive Inet]") + 1)

    def test_domain_secure_needs_tls_on_receive(self):
        # SPEC 2: domain_secure_enabled on a receive connector needs auth_mechanism = tls
        text, n = self.insert_after("auth_mechanism = none", "domain_secure_enabled = yes")
        path = self.write(text)
        rc, out, err = self.check(path)
        self.assertEqual(rc, 1, "stdout=%r stderr=%r" % (out, err))
        self.assertRegex(err, r"(?m)^%s:\d+: \S" % re.escape(path))

    def test_missing_file(self):
        path = os.path.join(self.dir, "does-not-exist.conf")
        rc, out, err = self.check(path)
        self.assertEqual(rc, 1)
        self.assertIn(path, err)
        self.assertNotIn("configuration OK", out)

    # --- files the config names: only regular files, bounded -------------
    def assertListFileRefused(self, list_path, reason):
        text, n = self.insert_after("accepted_domains",
                                    "tls_receive_domain_secure_list_file = %s" % list_path)
        err = self.assertErrorAt(text, n)
        self.assertIn("tls_receive_domain_secure_list_file: %s %s" % (list_path, reason), err)

    def test_list_file_fifo_is_refused(self):
        fifo = os.path.join(self.dir, "partners.fifo")
        os.mkfifo(fifo)                 # nobody writes: open or read would block
        self.assertListFileRefused(fifo, "is not a regular file")

    def test_list_file_device_is_refused(self):
        self.assertListFileRefused("/dev/zero", "is not a regular file")

    def test_list_file_over_1mb_is_refused(self):
        big = os.path.join(self.dir, "partners.domains")
        with open(big, "w") as f:
            line = "partner-%06d.example\n"
            f.write("".join(line % i for i in range(1024 * 1024 // len(line % 0) + 1)))
        self.assertListFileRefused(big, "is larger than 1024 KB")

    def test_list_file_of_10k_partners_loads(self):
        ok = os.path.join(self.dir, "partners.domains")
        with open(ok, "w") as f:
            f.write("".join("partner-%05d.woodgrovebank-example.com\n" % i for i in range(10000)))
        text, _ = self.insert_after("accepted_domains",
                                    "tls_receive_domain_secure_list_file = %s" % ok)
        rc, out, err = self.check(self.write(text))
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)

    def test_config_fifo_is_refused(self):
        fifo = os.path.join(self.dir, "domsec.conf")
        os.mkfifo(fifo)
        rc, out, err = self.check(fifo)
        self.assertEqual(rc, 1, "stdout=%r stderr=%r" % (out, err))
        self.assertIn("%s: cannot open: not a regular file" % fifo, err)

    def tls_config(self, extra):
        """BASE offering STARTTLS with domain security, the service user able to read
        self.dir, and extra lines in [transport]."""
        os.chmod(self.dir, 0o755)
        text, _ = self.replace_line("auth_mechanism = none",
                                    "auth_mechanism = tls\ndomain_secure_enabled = yes")
        text, _ = self.insert_after("queue_directory", extra, text)
        service = "[service]\nuser = %s\n\n" % SERVICE_USER if is_root() else ""
        return service + text

    def test_trusted_ca_fifo_is_refused(self):
        fifo = os.path.join(self.dir, "trusted-ca.pem")
        os.mkfifo(fifo, 0o644)
        text = self.tls_config("trusted_ca_file = %s" % fifo)
        n = text.splitlines().index("trusted_ca_file = %s" % fifo) + 1
        err = self.assertErrorAt(text, n)
        self.assertIn("trusted_ca_file %s is not a regular file" % fifo, err)

    def test_fifo_in_certificate_store_does_not_hang(self):
        certs = os.path.join(self.dir, "certs")
        os.mkdir(certs, 0o755)
        os.mkfifo(os.path.join(certs, "edge.pem"), 0o644)
        rc, out, err = self.check(self.write(self.tls_config("certificate_store = %s" % certs)))
        self.assertEqual(rc, 1, "stdout=%r stderr=%r" % (out, err))
        self.assertIn('file=%s/edge.pem thumbprint=- reason="cannot read the file: not a regular '
                      'file"' % certs, err)

    # --- the daemon itself -------------------------------------------------
    def test_daemon_refuses_to_start_on_bad_config(self):
        text, n = self.replace_line("max_message_size", "max_message_size = lots")
        path = self.write(text)
        try:
            p = subprocess.run([self.exe, "-c", path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("domsecd kept running on a bad config")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("%s:%d: " % (path, n), p.stderr.decode("utf-8", "replace"))
        self.assertNotIn(self.port, listening_ports())


if __name__ == "__main__":
    unittest.main()
