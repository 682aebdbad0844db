"""Each receive limit answers with its contract reply: message size (SIZE= and
while reading DATA), recipients, connections total and per source, inactivity,
session time, slow clients (command_timeout, min_data_rate), command line
length, too many protocol errors."""

import os
import ssl
import subprocess
import time
import unittest

from domsec_harness import (FQDN, HELO, R, Daemon, DomsecTestCase, banner_line, dot_stuff,
                            queued_id, wait_until)
from pki import PkiMixin

SMALL = b"Subject: small\r\n\r\nsmall body\r\n"


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for pid %d" % pid)


class SizeLimitTest(DomsecTestCase):
    LIMIT = 65536

    def daemon(self):
        return self.start_daemon(connectors=[("Inet", {"max_message_size": str(self.LIMIT)})])

    def test_ehlo_advertises_the_limit(self):
        c = self.daemon().session()
        self.assertIn("250-SIZE %d" % self.LIMIT, c.cmd("EHLO " + HELO).lines)

    def test_size_parameter(self):
        d = self.daemon()
        c = d.session()
        self.assertReply(c.cmd("MAIL FROM:<s@example.org> SIZE=%d" % (self.LIMIT + 1)), R["size"])
        self.assertReply(c.cmd("MAIL FROM:<s@example.org> SIZE=999999999999"), R["size"])
        self.assertReply(c.cmd("MAIL FROM:<s@example.org> SIZE=1000"), R["mail_ok"])
        self.assertReply(c.cmd("RCPT TO:<user@a.test>"), R["rcpt_ok"])

    def test_oversized_message_refused_with_swaks(self):
        d = self.daemon()
        body = b"Subject: big\n\n" + (b"y" * 998 + b"\n") * 200          # ~200 KB
        r = d.swaks(data=body)
        self.assertEqual(r.returncode, 26, r)     # swaks: server did not accept the data
        self.assertRegex(r.output, r"(?m)^<\*\* +552 5\.3\.4 Message size exceeds fixed "
                                   r"maximum message size\s*$")
        self.assertEqual(d.message_ids(), [])

    def test_oversized_message_refused_after_end_of_data_session_continues(self):
        d = self.daemon()
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 200)
        c.send(b".\r\n")
        self.assertReply(c.reply(30), R["size"])
        self.assertReply(c.cmd("NOOP"), R["noop"])
        self.assertEqual(d.message_ids(), [])
        qid = queued_id(c.transaction("<s@example.org>", ["<user@a.test>"], SMALL))
        self.assertEqual(d.message_ids(), [qid])

    def sized_message(self, n):
        """A message of exactly n octets (RFC 1870 section 6: CRLFs counted, the
        doubled dots of dot-stuffing and the final dot not), with dot lines."""
        head = b"Subject: at the limit\r\n\r\n"
        line = b".stuffed" + b"d" * 90 + b"\r\n"                     # 100 octets
        body = line * ((n - len(head)) // len(line))
        rest = n - len(head) - len(body)
        msg = head + body + (b"e" * (rest - 2) + b"\r\n" if rest else b"")
        assert len(msg) == n, len(msg)
        return msg

    def test_message_of_exactly_the_limit_is_accepted(self):
        d = self.daemon()
        c = d.session()
        msg = self.sized_message(self.LIMIT)
        r = c.transaction("<s@example.org>", ["<user@a.test>"], msg,
                          mail_params=" SIZE=%d" % self.LIMIT)
        self.assertEqual(r.code, 250, "a %d-octet message (SIZE=%d accepted at MAIL) was "
                         "refused with %r" % (self.LIMIT, self.LIMIT, r.lines))
        self.assertEqual(d.read_message(queued_id(r)).message, msg)
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(dot_stuff(self.sized_message(self.LIMIT + 1)))
        self.assertReply(c.reply(), R["size"])

    def test_size_is_checked_while_reading(self):
        """48 MB against a 64 KiB limit: neither the spool nor memory may hold it."""
        d = self.daemon()
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        hwm0 = vm_hwm_kib(d.pid)
        chunk = (b"w" * 1022 + b"\r\n") * 256                       # 256 KiB
        total, biggest = 0, 0
        c.send(b"Subject: huge\r\n\r\n")
        while total < 48 * 1024 * 1024:
            c.send(chunk)
            total += len(chunk)
            if total % (1024 * 1024) == 0:
                for name in d.listdir("incoming"):
                    try:
                        biggest = max(biggest, os.stat(d.qpath("incoming", name)).st_size)
                    except FileNotFoundError:
                        pass
        c.send(b".\r\n")
        self.assertReply(c.reply(60), R["size"])
        grown_mib = (vm_hwm_kib(d.pid) - hwm0) / 1024.0
        self.assertLess(biggest, 1024 * 1024,
                        "incoming/ held %d bytes of a message over a %d byte limit"
                        % (biggest, self.LIMIT))
        self.assertLess(grown_mib, 16, "domsecd memory peak grew by %.1f MiB while "
                        "discarding a 48 MiB oversized message" % grown_mib)
        self.assertEqual(d.message_ids(), [])
        self.assertReply(c.cmd("NOOP"), R["noop"])


class RecipientLimitTest(DomsecTestCase):

    def test_too_many_recipients(self):
        d = self.start_daemon(connectors=[("Inet", {"max_recipients_per_message": "3"})])
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        for i in range(3):
            self.assertReply(c.cmd("RCPT TO:<u%d@a.test>" % i), R["rcpt_ok"])
        self.assertReply(c.cmd("RCPT TO:<u3@a.test>"), R["too_many_rcpts"])
        self.assertReply(c.cmd("RCPT TO:<u4@a.test>"), R["too_many_rcpts"])
        c.expect("DATA", R["data_go"])
        c.send(SMALL + b".\r\n")
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).rcpts, ["<u0@a.test>", "<u1@a.test>", "<u2@a.test>"])


class ConnectionLimitTest(DomsecTestCase):

    def test_total_connections(self):
        d = self.start_daemon(connectors=[("Inet", {"max_inbound_connection": "2"})])
        c1 = d.connect(source="127.0.0.1")
        self.assertReply(c1.reply(), banner_line())
        c2 = d.connect(source="127.0.0.2")
        self.assertReply(c2.reply(), banner_line())
        for _ in range(10):                          # refused connections hold no slot
            c3 = d.connect(source="127.0.0.3")      # each source has one: the total limit hits
            self.assertReply(c3.reply(), R["conn_total"])
            self.assertClosed(c3)
        # the two admitted sessions still work
        self.assertReply(c2.cmd("NOOP"), R["noop"])
        self.assertReply(c1.cmd("QUIT"), R["quit"])
        self.assertClosed(c1)
        self.assertEqual(self.connect_until_banner(d, "127.0.0.4"), [banner_line()])

    def connect_until_banner(self, d, source, timeout=5.0):
        """Once a slot is free a new client gets the banner (the close is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            c = d.connect(source=source)
            r = c.reply()
            if r.lines == [banner_line()] or time.monotonic() > deadline:
                return r.lines
            c.close()
            time.sleep(0.1)

    def test_connections_per_source(self):
        d = self.start_daemon(connectors=[("Inet", {"max_inbound_connection_per_source": "2"})])
        admitted = []
        for _ in range(2):
            c = d.connect(source="127.0.0.1")
            self.assertReply(c.reply(), banner_line())
            admitted.append(c)
        for _ in range(10):
            c3 = d.connect(source="127.0.0.1")
            self.assertReply(c3.reply(), R["conn_source"])
            self.assertClosed(c3)
        other = d.connect(source="127.0.0.2")
        self.assertReply(other.reply(), banner_line())
        for c in admitted:
            self.assertReply(c.cmd("NOOP"), R["noop"])
        self.assertReply(admitted[0].cmd("QUIT"), R["quit"])
        self.assertClosed(admitted[0])
        self.assertEqual(self.connect_until_banner(d, "127.0.0.1"),
                         [banner_line()])

    def test_timed_out_session_frees_its_slot(self):
        d = self.start_daemon(connectors=[("Inet", {"max_inbound_connection_per_source": "1",
                                                    "connection_inactivity_timeout": "1s"})])
        c1 = d.session()
        self.assertReply(c1.reply(5.0), R["inactivity"])
        self.assertClosed(c1)
        self.assertEqual(self.connect_until_banner(d, "127.0.0.1"), [banner_line()])


class TimeoutTest(DomsecTestCase):

    def test_inactivity_timeout(self):
        d = self.start_daemon(connectors=[("Inet", {"connection_inactivity_timeout": "1s"})])
        c = d.session()
        t0 = time.monotonic()
        self.assertReply(c.reply(timeout=5.0), R["inactivity"])
        self.assertGreater(time.monotonic() - t0, 0.5, "timed out long before 1 s")
        self.assertClosed(c)

    def test_inactivity_timeout_inside_data(self):
        d = self.start_daemon(connectors=[("Inet", {"connection_inactivity_timeout": "1s"})])
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(b"Subject: stalled\r\n\r\nhalf a mess")
        self.assertReply(c.reply(timeout=5.0), R["inactivity"])
        self.assertClosed(c)
        self.assertEqual(d.message_ids(), [])

    def test_session_time_limit(self):
        d = self.start_daemon(connectors=[("Inet", {"connection_inactivity_timeout": "2s",
                                                    "connection_timeout": "4s"})])
        t0 = time.monotonic()
        c = d.session()
        noops = 0
        while True:
            self.assertLess(time.monotonic() - t0, 20, "no 421 after 20 s (limit 4 s)")
            if c.readable_within(0.5):           # the server spoke first
                r = c.reply()
                break
            try:
                c.send("NOOP\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = c.reply()
            if r.lines != [R["noop"]]:
                break
            noops += 1
        self.assertReply(r, R["session_time"])
        self.assertGreater(time.monotonic() - t0, 3.0, "session ended long before 4 s")
        self.assertGreaterEqual(noops, 4)
        self.assertClosed(c)


class SlowClient:
    """The slow-client tests' helpers.  A byte every half second restarts the inactivity timer (10 s here) but must
    not hold a session until connection_timeout (1 min here): a command line must
    be complete within command_timeout of the previous reply, and DATA text must
    average min_data_rate bytes/s (Postfix smtpd_per_request_deadline and
    smtpd_min_data_rate).  Each test trickles for at most BOUND seconds, far less
    than connection_timeout and than the time its whole input would take, so
    without the deadline it fails instead of waiting for the 421 of the session
    limit."""
    PACE = 0.5                                  # seconds between trickled bytes
    BOUND = 20.0
    LIMITS = {"connection_inactivity_timeout": "10s", "connection_timeout": "1m",
              "command_timeout": "2s"}

    def daemon(self, **extra):
        opts = dict(self.LIMITS)
        opts.update(extra)
        return self.start_daemon(connectors=[("Inet", opts)])

    def trickle(self, c, data):
        """Send data a byte per PACE until the server speaks: (its reply, bytes sent)."""
        t0 = time.monotonic()
        for i in range(len(data)):
            if c.readable_within(self.PACE):    # paces the bytes; the server spoke first
                return c.reply(), i
            self.assertLess(time.monotonic() - t0, self.BOUND,
                            "no reply after %d bytes trickled over %.0f s: a byte every "
                            "%.1f s holds the session (command_timeout %s, min_data_rate "
                            "not enforced?)" % (i, self.BOUND, self.PACE,
                                                self.LIMITS["command_timeout"]))
            try:
                c.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
        return c.reply(), len(data)

    def session_rows(self, d, port):
        """The RECV protocol log rows of the session from local port `port`."""
        rows = d.plog_rows("RECV")
        sid = {r[2] for r in rows if r[5] == "127.0.0.1:%d" % port}
        return [r for r in rows if r[2] in sid]

    def wait_rows(self, d, port, context):
        return wait_until(lambda: [r for r in self.session_rows(d, port)
                                   if r[6] == "*" and r[8] == context] and
                          self.session_rows(d, port), 5.0,
                          "protocol log row %r" % context)

    def cut_while_trickling(self, d, c, data, limit):
        """Trickle data: the server answers 451 and closes before the end, and
        logs the deadline `limit` (a regex) for this session; its local port."""
        r, sent = self.trickle(c, data)
        self.assertReply(r, R["inactivity"])
        self.assertClosed(c)
        self.assertLess(sent, len(data))
        d.wait_log(r"info smtpd [0-9A-F]{16} deadline from=127\.0\.0\.1:%d limit=%s$"
                   % (c.local[1], limit))
        return c.local[1]

    def cut_command(self, d, c):
        line = b"MAIL FROM:<" + b"s" * 180 + b"@example.org>\r\n"   # 100 s at this pace
        return self.cut_while_trickling(d, c, line, r"command_timeout ms=2000")

    def cut_data(self, d, c):
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        body = b"Subject: slow\r\n\r\n" + b"t" * 200 + b"\r\n.\r\n"
        port = self.cut_while_trickling(d, c, body, r"min_data_rate rate=500 bytes=\d+")
        self.assertEqual(d.message_ids(), [])
        return port


class SlowClientTest(SlowClient, DomsecTestCase):

    def test_trickled_command_line_is_cut_at_command_timeout(self):
        d = self.daemon()
        port = self.cut_command(d, d.session())
        rows = self.wait_rows(d, port, "No complete command within command_timeout (2000 ms)")
        self.assertEqual([(x[6], x[7], x[8]) for x in rows[-3:]],
                         [("*", "", "No complete command within command_timeout (2000 ms)"),
                          (">", R["inactivity"], ""), ("-", "", "Timeout")])
        self.assertEqual(d.message_ids(), [])

    def test_trickled_message_text_is_cut_below_min_data_rate(self):
        d = self.daemon()
        port = self.cut_data(d, d.session())
        self.wait_rows(d, port, "Message data arrived slower than min_data_rate (500 bytes/s)")
        self.assertEqual(wait_until(lambda: d.listdir("incoming") == [] or None, 5.0,
                                    "the partial message removed from incoming/"), True)

    def test_text_above_min_data_rate_may_outlast_command_timeout(self):
        """20 bytes per 0.5 s against min_data_rate 10: the 5.5 s message outlasts
        command_timeout (4 s here) and is accepted, as the commands around it.  Each
        chunk moves the deadline to at most command_timeout ahead, so the margin
        for a stall of this test between two chunks is command_timeout - PACE:
        3.5 s with 4 s (1.5 s with the 2 s of the other tests was too little on a
        loaded machine)."""
        d = self.daemon(min_data_rate="10", command_timeout="4s")
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<user@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        body = b"Subject: steady\r\n\r\n" + (b"u" * 18 + b"\r\n") * 10
        t0 = time.monotonic()
        for i in range(0, len(body), 20):
            if c.readable_within(self.PACE):
                self.fail("the server spoke after %d bytes at 40 bytes/s: %r"
                          % (i, c.reply(1.0).lines))
            c.send(body[i:i + 20])
        # the scenario (the text took longer than command_timeout), not the verdict
        self.assertGreater(time.monotonic() - t0, 4.0)
        c.send(b".\r\n")
        qid = queued_id(c.reply())
        self.assertEqual(d.read_message(qid).message, body)
        self.assertReply(c.cmd("NOOP"), R["noop"])

    def test_each_complete_command_starts_a_new_deadline(self):
        """NOOP every 0.5 s for 5 s: each line is complete well within the 2 s
        command_timeout, so none is cut although the session outlasts it."""
        d = self.daemon()
        c = d.session()
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 5.0:
            self.assertFalse(c.readable_within(self.PACE), "server spoke unasked")
            self.assertReply(c.cmd("NOOP"), R["noop"])
            n += 1
        self.assertGreaterEqual(n, 5)
        c.expect("QUIT", R["quit"])

    def test_command_timeout_defaults_to_connection_inactivity_timeout(self):
        d = Daemon(self, connectors=[("Inet", {"connection_inactivity_timeout": "3m",
                                               "connection_timeout": "10m"}),
                                     ("Slow", {"bindings": "127.0.0.1:{port}",
                                               "remote_ip_ranges": "127.0.0.2/32",
                                               "command_timeout": "20s",
                                               "min_data_rate": "0"})])
        r = subprocess.run([d.exe, "--print-config", "-c", d.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        inet, slow = out.split("[receive Inet]")[1].split("[receive Slow]")
        self.assertIn("\ncommand_timeout = 3m\n", inet)
        self.assertIn("\nmin_data_rate = 500\n", inet)
        self.assertIn("\ncommand_timeout = 20s\n", slow)
        self.assertIn("\nmin_data_rate = 0\n", slow)


class SlowTlsClientTest(PkiMixin, SlowClient, DomsecTestCase):
    """Inside TLS every byte sent alone is a TLS record of its own, and each
    record restarts the inactivity timer as a plaintext byte does: the
    command deadline holds there too."""
    RELAY_FQDN = "mail.contoso.test"

    def daemon(self, **extra):
        opts = dict(self.LIMITS, auth_mechanism="tls", fqdn=self.RELAY_FQDN)
        opts.update(extra)
        return self.start_daemon(connectors=[("Inet", opts)],
                                 transport=self.tls_transport(self.store("relay")))

    def tls_session(self, d):
        c = d.connect()
        c.reply()
        self.assertIn("250-STARTTLS", c.cmd("EHLO " + HELO).lines)
        self.assertReply(c.cmd("STARTTLS"), "220 2.0.0 SMTP server ready")
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=self.RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO " + HELO).code, 250)
        return c

    def test_trickled_command_line_is_cut_at_command_timeout(self):
        d = self.daemon()
        self.cut_command(d, self.tls_session(d))

    def test_trickled_message_text_is_cut_below_min_data_rate(self):
        d = self.daemon()
        self.cut_data(d, self.tls_session(d))


class LineAndErrorLimitTest(DomsecTestCase):

    def test_command_line_too_long(self):
        d = self.start_daemon()
        c = d.session()
        line = "NOOP " + "x" * 2995                               # 3000 bytes + CRLF
        self.assertReply(c.cmd(line), R["too_long"])
        self.assertReply(c.cmd("NOOP"), R["noop"])
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.send("RCPT TO:<" + "r" * 1500)
        c.send("r" * 1500 + "@a.test>\r\n")
        self.assertReply(c.reply(), R["too_long"])
        self.assertReply(c.cmd("RCPT TO:<user@a.test>"), R["rcpt_ok"])

    def test_too_many_bad_commands_disconnects(self):
        d = self.start_daemon(connectors=[("Inet", {"max_protocol_errors": "3"})])
        c = d.session()
        self.assertReply(c.cmd("XYZZY"), R["unknown"])
        self.assertReply(c.cmd("PLUGH"), R["unknown"])
        c.send("FROTZ\r\n")
        self.assertReply(c.reply(), R["unknown"])
        self.assertReply(c.reply(), R["too_many_errors"])
        self.assertClosed(c)

    def test_policy_refusals_are_not_protocol_errors(self):
        d = self.start_daemon(connectors=[("Inet", {"max_protocol_errors": "3",
                                                    "max_recipients_per_message": "1"})])
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        for _ in range(4):
            self.assertReply(c.cmd("RCPT TO:<x@elsewhere.example>"), R["relay"])     # 550
        c.expect("RCPT TO:<u@a.test>", R["rcpt_ok"])
        for _ in range(4):
            self.assertReply(c.cmd("RCPT TO:<v@a.test>"), R["too_many_rcpts"])       # 452
        self.assertReply(c.cmd("NOOP"), R["noop"])

    def test_mixed_error_replies_count(self):
        d = self.start_daemon(connectors=[("Inet", {"max_protocol_errors": "3"})])
        c = d.connect()
        c.reply()
        self.assertReply(c.cmd("MAIL FROM:<s@example.org>"), R["hello_first"])     # 503
        self.assertReply(c.cmd("EHLO"), R["bad_domain"])                           # 501
        self.assertEqual(c.cmd("EHLO " + HELO).lines[0], "250-%s Hello [127.0.0.1]" % FQDN)
        c.send("BOGUS\r\n")                                                         # 500
        self.assertReply(c.reply(), R["unknown"])
        self.assertReply(c.reply(), R["too_many_errors"])
        self.assertClosed(c)


if __name__ == "__main__":
    unittest.main()
