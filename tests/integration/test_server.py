"""The server process: start-up log line, IPv6 binding on [::1], clean stop on
SIGTERM (exit 0, "server stopped"), open sessions told 421 when shutting down."""

import os
import re
import stat
import unittest

from domsec_harness import (Daemon, wait_until, FQDN, HELO, R, DomsecTestCase, banner_line, listening_ports,
                            queued_id, service_ids)

MSG = b"Subject: server\r\n\r\nbody\r\n"


class ServerTest(DomsecTestCase):

    def test_started_line_names_the_bindings(self):
        d = self.start_daemon()
        m = d.wait_log(d.prefix() + r"info server started workers=(\d+) bindings=(.*)$")
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertIn("127.0.0.1:%d" % d.port, m.group(2))

    def test_privileges_dropped_and_queue_created(self):
        d = self.start_daemon()
        uid, gid = service_ids()
        with open("/proc/%d/status" % d.pid) as f:
            status = f.read()
        uids = re.search(r"(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status).groups()
        self.assertEqual(set(int(u) for u in uids), {uid}, "real/effective/saved/fs uids")
        for sub in ("", "incoming", "messages", "corrupt"):
            st = os.stat(d.qpath(sub))
            self.assertTrue(stat.S_ISDIR(st.st_mode), sub)
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (uid, 0o700),
                             "owner and mode of queue_directory/%s" % sub)

    def test_open_file_limit_pauses_accepting_instead_of_spinning(self):
        def cpu_ticks(pid):                     # utime + stime, in clock ticks
            with open("/proc/%d/stat" % pid) as f:
                return sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])

        # Started with 200 descriptors: domsecd warns that its connector limits need
        # more; short of the limit it stops accepting (no busy loop, and never
        # libuv's silent accept-and-close at EMFILE: every connection that got in
        # is logged and answered), and it accepts again once sessions have gone.
        import resource
        import socket
        import time
        d = Daemon(self, connectors=[("Inet", {"max_inbound_connection_per_source": "5000"})])
        d.start(wrap=lambda argv: ["prlimit", "--nofile=200:200"] + argv)
        d.wait_log(d.prefix() + r"warning server open file limit 200 is below what the "
                   r"connector limits allow")
        # One session first, so the protocol log file is open before the descriptors
        # run out (a row that cannot be written is dropped and counted, which
        # logcheck would rightly report as a gap).
        c = d.connect()
        c.reply()
        c.close()
        wait_until(lambda: any(f.startswith("RECV") for f in os.listdir(os.path.join(
            d.dir, "logs", "ProtocolLog", "SmtpReceive"))), 10, "the receive log file")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 2048:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
        socks = []
        try:
            for _ in range(600):                    # bounded: 600 connections
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                socks.append(s)
            m = d.wait_log(d.prefix() + r"warning listen open file limit: (\d+) connections "
                           r"open, room for (\d+): not accepting for 1000 ms", 15)
            self.assertGreaterEqual(int(m.group(1)), int(m.group(2)))
            self.assertLess(int(m.group(2)), 200)
            ticks0 = cpu_ticks(d.pid)
            time.sleep(2.0)
            ticks1 = cpu_ticks(d.pid)
            # A spinning worker burns ~200 ticks in 2 s; paused, almost none.
            self.assertLess(ticks1 - ticks0, 100)
        finally:
            for s in socks:
                s.close()
        d.wait_log(d.prefix() + r"info listen accepting again", 15)
        self.assertNotIn("too many open files", d.log())
        c = d.connect()
        self.assertEqual(c.reply().code, 220)
        c.close()

    def test_sigterm_stops_cleanly(self):
        d = self.start_daemon()
        self.assertEqual(d.swaks(data=b"Subject: before stop\n\nbody").returncode, 0)
        self.assertEqual(d.stop(), 0)
        self.assertRegex(d.log(), r"(?m)" + d.prefix() + r"info server stopped\s*$")
        self.assertNotIn(d.port, listening_ports())
        ids = d.message_ids()
        self.assertEqual(len(ids), 1)
        d.restart()
        d.wait_log(d.prefix() + r"info queue recovered messages=1 corrupt=0\s*$")
        self.assertEqual(d.message_ids(), ids)

    def test_sigterm_tells_open_sessions_421(self):
        d = self.start_daemon()
        c = d.session()
        self.assertReply(c.cmd("NOOP"), R["noop"])
        d.terminate()
        self.assertReply(c.reply(15.0), R["shutdown"])
        self.assertClosed(c)
        self.assertEqual(d.wait_exit(), 0)
        self.assertRegex(d.log(), r"(?m)" + d.prefix() + r"info server stopped\s*$")

    def test_ipv6_loopback_binding(self):
        d = self.start_daemon(connectors=[("Inet", {"bindings": "[::1]:{port}"})])
        m = d.wait_log(d.prefix() + r"info server started .*bindings=(.*)$")
        self.assertIn("[::1]:%d" % d.port, m.group(1))
        c = d.connect(host="::1")
        self.assertReply(c.reply(), banner_line())
        self.assertEqual(c.cmd("EHLO " + HELO).lines[0], "250-%s Hello [::1]" % FQDN)
        qid = queued_id(c.transaction("<v6@example.org>", ["<u@a.test>"], MSG))
        q = d.read_message(qid)
        self.assertEqual(q.fields["client"], "[::1]:%d" % c.local[1])
        self.assertEqual(q.message, MSG)

    def test_ipv4_and_ipv6_bindings_together(self):
        d = self.start_daemon(connectors=[("Inet", {"bindings": "127.0.0.1:{port}, [::1]:{port}"})])
        for host in ("127.0.0.1", "::1"):
            c = d.connect(host=host)
            self.assertReply(c.reply(), banner_line())
            ip = host
            self.assertEqual(c.cmd("HELO " + HELO).lines, ["250 %s Hello [%s]" % (FQDN, ip)])
            qid = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], MSG))
            client = d.read_message(qid).fields["client"]
            self.assertEqual(client, ("[%s]:%d" if ":" in host else "%s:%d") % (host, c.local[1]))
        self.assertEqual(len(d.message_ids()), 2)


if __name__ == "__main__":
    unittest.main()
