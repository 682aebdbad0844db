"""The control socket (issue 13) with a real domsecd: `domsec status` reports the
connectors as configured (names, bindings, the certificate's thumbprint, STARTTLS
offered or why not, connections now); `domsec reload` answers FILE:LINE errors and
exit 1 while the old configuration keeps working, and OK (generation N) when the
file is good; `transport-config set` reloads through the socket; an unprivileged
caller is refused (by the socket's mode, and by SO_PEERCRED when the mode would let
it in), a member of the service group may look but not reload; the socket survives
garbage, a half request, a request over 64 KiB, a client that never reads, one
client too many, readers holding every place they may (root still gets in); a
second domsecd on the same socket refuses to start, a stale one
is removed; systemd hears READY/RELOADING/STOPPING/WATCHDOG."""

import calendar
import json
import os
import random
import re
import socket
import stat
import subprocess
import threading
import time
import unittest

from domsec_harness import Daemon, DomsecTestCase, domsecd_path, is_root, service_ids, \
    wait_until
from pki import PkiMixin

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT_IN = os.path.join(HERE, "..", "..", "packaging", "domsecd.service.in")
FQDN_TLS = "mail.contoso.test"
OUTSIDER = 12345                        # a uid and gid nobody uses
READER = 12346                          # a uid in the service group (supplementary)
FAILED = "domsec: reload failed; the running configuration is kept"


def domsec_exe():
    return os.path.join(os.path.dirname(domsecd_path()), "domsec")


def domsec(*args, as_uid=None, groups=None, timeout=90):
    """Run domsec ARGS (as uid as_uid, gid as_uid, with supplementary groups, if given)."""
    argv = [domsec_exe()] + list(args)
    if as_uid is not None:
        pre = ["setpriv", "--reuid=%d" % as_uid, "--regid=%d" % as_uid]
        pre += ["--groups=%s" % ",".join(str(g) for g in groups)] if groups else \
            ["--clear-groups"]
        argv = pre + argv
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, text=True)


class Client:
    """A raw control-socket client."""

    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def line(self, timeout=10.0):
        """The next reply line, parsed."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no reply line within %.0fs (have %r)" % (timeout,
                                                                                self.buf[:200]))
            self.s.settimeout(left)
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("closed before a reply line (have %r)" % self.buf[:200])
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        self.last_raw = raw
        return json.loads(raw)

    def request(self, cmd, rid=1, args=None):
        req = {"v": 1, "id": rid, "cmd": cmd}
        if args is not None:
            req["args"] = args
        self.send(json.dumps(req).encode() + b"\n")
        return self.line()

    def wait_eof(self, timeout=10.0):
        """Read until the daemon closes; what came before the end."""
        deadline = time.monotonic() + timeout
        got = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the daemon did not close within %.0fs" % timeout)
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                return got
            if not chunk:
                return got
            got += chunk


def fingerprint(pem):
    out = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha1",
                          "-enddate"], stdout=subprocess.PIPE, check=True, text=True).stdout
    thumb = re.search(r"Fingerprint=([0-9A-F:]+)", out).group(1).replace(":", "")
    end = re.search(r"notAfter=(.*)", out).group(1).strip()
    not_after = calendar.timegm(time.strptime(end, "%b %d %H:%M:%S %Y %Z"))
    return thumb, not_after


class CtlTest(PkiMixin, DomsecTestCase):

    def daemon(self, start=True, service_extra="", **kw):
        d = Daemon(self, **kw)
        if service_extra:
            d.write_config(d.config_text.replace(
                "control_socket = %s" % d.control_socket,
                "control_socket = %s\n%s" % (d.control_socket, service_extra)))
        if start:
            d.start()
        return d

    def status(self, d):
        r = domsec("--socket", d.control_socket, "status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assertAnswers(self, d):
        """status still answers on a new connection (a client just refused or closed
        may still be counted for a moment: bounded poll)."""
        def ok():
            r = domsec("--socket", d.control_socket, "status", "--json")
            return r.returncode == 0 and json.loads(r.stdout)["pid"] == d.pid
        wait_until(ok, 20, "status to answer")

    # --- status ------------------------------------------------------------------
    def test_status_reports_connectors_as_configured(self):
        store = self.store("relay")
        d = Daemon(self)
        plain, nocert = d.add_port("plain"), d.add_port("nocert")
        d.write_config(d.render_config(
            [("Inet", {"auth_mechanism": "tls", "fqdn": FQDN_TLS}),
             ("Plain", {"bindings": "127.0.0.1:{plain}"}),
             ("NoCert", {"bindings": "127.0.0.1:{nocert}", "auth_mechanism": "tls",
                         "fqdn": "other.contoso.test"})],
            transport=self.tls_transport(store),
            sends=[("Out", {"address_spaces": "example.net", "fqdn": FQDN_TLS})]))
        d.start()
        thumb, not_after = fingerprint(self.p("relay.pem"))
        c = d.connect()
        c.reply()                       # the banner: the session is counted
        st = None

        def one_connection():
            nonlocal st
            st = self.status(d)
            return st["receive"][0]["connections"] == 1
        wait_until(one_connection, 10, "status to count the open SMTP session")
        self.assertEqual(st["pid"], d.pid)
        self.assertEqual(st["config"]["path"], d.config_path)
        self.assertEqual(st["config"]["generation"], 1)
        self.assertEqual([r["name"] for r in st["receive"]], ["Inet", "Plain", "NoCert"])
        self.assertEqual([r["bindings"] for r in st["receive"]],
                         [["127.0.0.1:%d" % d.port], ["127.0.0.1:%d" % plain],
                          ["127.0.0.1:%d" % nocert]])
        inet, pl, nc = st["receive"]
        self.assertEqual(inet["starttls"], {"offered": True})
        self.assertEqual(inet["certificate"]["thumbprint"], thumb)
        self.assertTrue(inet["certificate"]["subject"].startswith("CN=" + FQDN_TLS),
                        inet["certificate"])
        self.assertEqual(inet["certificate"]["not_after_ms"], not_after * 1000)
        days = (not_after - int(time.time())) // 86400
        self.assertIn(inet["certificate"]["days_left"], (days, days - 1))
        self.assertEqual(pl["starttls"], {"offered": False, "why": "auth_mechanism = none"})
        self.assertIsNone(pl["certificate"])
        self.assertEqual(pl["connections"], 0)
        self.assertFalse(nc["starttls"]["offered"])
        self.assertIn("no usable certificate for other.contoso.test", nc["starttls"]["why"])
        self.assertEqual([s["name"] for s in st["send"]], ["Out"])
        self.assertEqual(st["send"][0]["certificate"]["thumbprint"], thumb)
        self.assertEqual(st["queue"]["total"], 0)
        # The CRLs in use are the ones `domsec crl list` finds (tls_transport's three).
        r = domsec("-c", d.config_path, "crl", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        crls = json.loads(r.stdout)
        self.assertEqual(len(crls), 3)
        oldest = min(calendar.timegm(time.strptime(c["ThisUpdate"], "%Y-%m-%dT%H:%M:%SZ"))
                     for c in crls)
        self.assertEqual(st["crl"], {"crls": 3, "oldest_this_update_ms": oldest * 1000,
                                     "not_current": sum(c["Status"] != "Current"
                                                        for c in crls)})
        for k in ("domain_secure_messages_received", "domain_secure_messages_sent",
                  "domain_secure_outbound_session_failures"):
            self.assertEqual(st["counters"][k], 0)
        # The human form says the same.
        r = domsec("-c", d.config_path, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^domsecd \S+, pid %d, up " % d.pid)
        self.assertRegex(r.stdout, r"(?m)^    bindings     127\.0\.0\.1:%d$" % d.port)
        self.assertRegex(r.stdout, r"(?m)^    certificate  %s  CN=%s.*expires "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+d \d+h\), \d+ days left$"
                         % (thumb, re.escape(FQDN_TLS)))
        self.assertRegex(r.stdout, r"(?m)^    STARTTLS     not offered: auth_mechanism = none$")
        self.assertRegex(r.stdout, r"(?m)^  active 0, deferred 0, held 0, total 0$")
        self.assertRegex(r.stdout, r"(?m)^  3 in use, \d not current, oldest issued \d{4}-\d\d-"
                         r"\d\dT\d\d:\d\d:\d\dZ \([^)]+ ago\)$")
        c.close()

    # --- reload --------------------------------------------------------------------
    def test_reload_error_keeps_the_running_config_then_good_reload_applies(self):
        d = self.daemon()
        good = d.config_text
        broken = good.replace("[receive Inet]\n", "[receive Inet]\nmax_message_size = 10\n")
        self.assertNotEqual(broken, good)
        d.write_config(broken)
        line = broken.splitlines().index("max_message_size = 10") + 1
        r = domsec("-c", d.config_path, "reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = r.stderr.splitlines()
        self.assertTrue(any(e.startswith("%s:%d: " % (d.config_path, line)) for e in err),
                        r.stderr)
        self.assertEqual(err[-1], FAILED)
        self.assertEqual(r.stdout, "")
        # The old configuration keeps working: a message is queued.
        d.swaks().queued_id()
        self.assertEqual(self.status(d)["config"]["generation"], 1)
        # A good file: OK, a new generation, and new sessions see the change.
        d.write_config(good.replace("[receive Inet]\n",
                                    "[receive Inet]\nbanner = reloaded by domsec\n"))
        r = domsec("-c", d.config_path, "reload")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "OK (generation 2)\n", ""))
        self.assertEqual(self.status(d)["config"]["generation"], 2)
        c = d.connect()
        self.assertEqual(c.reply().lines, ["220 reloaded by domsec"])
        c.close()
        # SIGHUP still reloads (and only logs).
        mark = d.log_mark()
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded path=", since=mark)
        self.assertEqual(self.status(d)["config"]["generation"], 3)

    def test_unit_exec_reload_answers_the_result(self):
        with open(UNIT_IN) as f:
            unit = f.read()
        m = re.search(r"(?m)^ExecReload=@DOMSEC_BINDIR@/domsec -c "
                      r"@DOMSEC_SYSCONFDIR@/domsec/domsec\.conf reload$", unit)
        self.assertIsNotNone(m, "the unit's ExecReload is not `domsec -c CONF reload`")
        self.assertRegex(unit, r"(?m)^Type=notify$")
        d = self.daemon()
        cmd = m.group(0)[len("ExecReload="):].replace(
            "@DOMSEC_BINDIR@/domsec", domsec_exe()).replace(
            "@DOMSEC_SYSCONFDIR@/domsec/domsec.conf", d.config_path).split()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=90)
        self.assertEqual((r.returncode, r.stdout), (0, "OK (generation 2)\n"), r.stderr)
        d.write_config(d.config_text.replace("[transport]\n", "[transport]\nfrobs = 3\n"))
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=90)
        self.assertEqual(r.returncode, 1, r.stderr)   # systemctl reload fails with it
        self.assertIn("unknown key \"frobs\"", r.stderr)

    def test_transport_config_set_reloads_through_the_socket(self):
        store = self.store("relay")
        conns = [("Inet", {"auth_mechanism": "tls", "fqdn": FQDN_TLS,
                           "domain_secure_enabled": "yes"})]
        d = self.daemon(connectors=conns, transport=self.tls_transport(store))
        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--add-tls-receive-domain-secure", "partner.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("reloaded domsecd pid %d (generation 2)" % d.pid, r.stdout)
        self.assertEqual(self.status(d)["config"]["generation"], 2)
        # The daemon refuses the next file (its certificate is gone, a domain-secure
        # connector would run without TLS): exit 1 with its FILE:LINE errors.
        for f in os.listdir(store):
            os.unlink(os.path.join(store, f))
        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--add-tls-receive-domain-secure", "other.test")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"(?m)^%s:\d+: \[receive Inet\]" % re.escape(d.config_path))
        self.assertEqual(r.stderr.splitlines()[-1], FAILED)
        self.assertEqual(self.status(d)["config"]["generation"], 2)
        d.stop()
        r = domsec("-c", d.config_path, "transport-config", "set",
                   "--remove-tls-receive-domain-secure", "other.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("written; domsecd is not running (no answer on control socket %s)"
                      % d.control_socket, r.stdout)
        for cmd in ("status", "reload", "ping"):
            r = domsec("-c", d.config_path, cmd)
            self.assertEqual(r.returncode, 3, r.stdout)
            self.assertIn("domsec: %s: domsecd is not running" % cmd, r.stderr)

    # --- who may ------------------------------------------------------------------
    def test_unprivileged_callers_are_refused(self):
        if not is_root():
            self.skipTest("needs root (setpriv to other uids)")
        d = self.daemon()
        uid, gid = service_ids()
        run = os.path.dirname(d.control_socket)
        st = os.stat(run)               # made by domsecd, as root, for its user
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o750, uid, gid))
        st = os.stat(d.control_socket)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o660, uid, gid))
        # Not in the group: the socket's mode refuses at connect().
        r = domsec("--socket", d.control_socket, "status", as_uid=OUTSIDER)
        self.assertEqual(r.returncode, 3, r.stdout)
        self.assertIn("Permission denied", r.stderr)
        # With the modes opened, SO_PEERCRED refuses.
        os.chmod(run, 0o755)
        os.chmod(d.control_socket, 0o666)
        r = domsec("--socket", d.control_socket, "status", as_uid=OUTSIDER)
        self.assertEqual(r.returncode, 4, r.stdout)
        self.assertIn("domsec: status: uid %d is neither root" % OUTSIDER, r.stderr)
        os.chmod(d.control_socket, 0o660)
        os.chmod(run, 0o750)
        d.wait_log(d.prefix() + r"warning ctl \S+ client refused reason=denied uid=%d " % OUTSIDER)
        # In the service group (supplementary only): may look, may not reload.
        r = domsec("--socket", d.control_socket, "status", "--json", as_uid=READER, groups=[gid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], d.pid)
        r = domsec("--socket", d.control_socket, "reload", as_uid=READER, groups=[gid])
        self.assertEqual(r.returncode, 4, r.stdout)
        self.assertIn("domsec: reload: reload needs the admin role", r.stderr)
        d.wait_log(d.prefix() + r"warning ctl \S+ command cmd=reload uid=%d pid=\d+ result=denied"
                   % READER)
        self.assertEqual(self.status(d)["config"]["generation"], 1)
        # Root: an admin, and the command is logged with who asked.
        r = domsec("--socket", d.control_socket, "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        d.wait_log(d.prefix() + r"info ctl \S+ command cmd=reload uid=0 pid=\d+ result=ok")

    # --- robustness ---------------------------------------------------------------
    def fd_count(self, d):
        return len(os.listdir("/proc/%d/fd" % d.pid))

    def test_garbage_is_answered_and_closed(self):
        d = self.daemon()
        fds = self.fd_count(d)
        c = Client(d.control_socket)
        c.send(b"\x00\xff garbage {\n")
        reply = c.line()
        self.assertEqual((reply["id"], reply["ok"], reply["error"]["code"]),
                         (None, False, "bad_request"))
        self.assertTrue(all(b < 0x80 for b in c.last_raw), c.last_raw)
        self.assertEqual(c.wait_eof(), b"")
        c.close()
        # An unknown command or bad args: an error, and the connection stays.
        c = Client(d.control_socket)
        r = c.request("shutdown", rid=5)
        self.assertEqual((r["id"], r["error"]["code"]), (5, "unknown_command"))
        r = c.request("status", rid=6, args={"verbose": True})
        self.assertEqual((r["id"], r["error"]["code"]), (6, "bad_args"))
        r = c.request("ping", rid=7)
        self.assertEqual((r["id"], r["ok"], r["result"]["pid"]), (7, True, d.pid))
        # Two requests in one write, answered in order.
        c.send(b'{"v":1,"id":8,"cmd":"ping"}\r\n{"v":1,"id":9,"cmd":"ping"}\n')
        self.assertEqual([c.line()["id"], c.line()["id"]], [8, 9])
        c.close()
        # Random bytes, each on its own connection (seeded: the same every run).
        rnd = random.Random(13)
        for i in range(300):
            n = rnd.choice([0, 1, 7, 100, 3000, 20000])
            data = bytes(rnd.getrandbits(8) for _ in range(n))
            if rnd.random() < 0.5:
                data += b"\n"
            c = Client(d.control_socket)
            try:
                c.send(data)
                c.s.shutdown(socket.SHUT_WR)
            except BrokenPipeError:
                pass
            rest = c.wait_eof()
            for raw in rest.splitlines():
                self.assertEqual(json.loads(raw)["ok"], False, raw)
            c.close()
        self.assertAnswers(d)
        wait_until(lambda: self.fd_count(d) == fds, 10,
                   "the daemon's descriptors to be back at %d" % fds)

    def test_half_request_times_out(self):
        d = self.daemon(service_extra="control_timeout = 2s")
        c = Client(d.control_socket)
        c.send(b'{"v":1,"id":1,"cmd":"st')
        self.assertEqual(c.wait_eof(timeout=30), b"")
        c.close()
        d.wait_log(d.prefix() + r"info ctl \S+ client closed reason=timeout ")
        idle = Client(d.control_socket)
        self.assertEqual(idle.wait_eof(timeout=30), b"")
        idle.close()
        d.wait_log(d.prefix() + r"info ctl \S+ client closed reason=idle ")
        self.assertAnswers(d)

    def test_request_over_64k_is_refused(self):
        d = self.daemon()
        c = Client(d.control_socket)
        try:
            c.send(b'{"v":1,"id":1,"cmd":"ping","pad":"' + b"x" * (70 * 1024) + b'"}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass                        # it answered and closed while we still sent
        reply = c.line()
        self.assertEqual(reply["error"]["code"], "bad_request")
        self.assertIn("longer than 65536 bytes", reply["error"]["message"])
        self.assertEqual(c.wait_eof(), b"")
        c.close()
        # Exactly 65536 bytes with the LF is a request (here: an unknown key).
        line = b'{"v":1,"id":2,"cmd":"ping","args":{"p":"'
        tail = b'"}}\n'
        line += b"y" * (65536 - len(line) - len(tail)) + tail
        self.assertEqual(len(line), 65536)
        c = Client(d.control_socket)
        c.send(line)
        reply = c.line()
        self.assertEqual((reply["id"], reply["error"]["code"]), (2, "bad_args"))
        self.assertEqual(c.request("ping", rid=3)["ok"], True)
        c.close()
        self.assertAnswers(d)

    def test_client_that_never_reads_is_dropped(self):
        d = self.daemon(service_extra="control_timeout = 2s")
        c = Client(d.control_socket)
        stop = threading.Event()

        def flood():                    # statuses, never reading the replies
            req = b'{"v":1,"id":1,"cmd":"status"}\n' * 100
            c.s.settimeout(1.0)
            while not stop.is_set():
                try:
                    c.s.sendall(req)
                except socket.timeout:
                    continue            # the daemon stopped reading: it is over the cap
                except OSError:
                    return              # dropped
        t = threading.Thread(target=flood, daemon=True)
        t.start()
        try:
            # Meanwhile others are answered.
            other = Client(d.control_socket)
            self.assertEqual(other.request("ping")["result"]["pid"], d.pid)
            other.close()
            d.wait_log(d.prefix() + r"warning ctl \S+ client dropped reason=not-reading "
                       r"queued=(\d+)", timeout=60)
        finally:
            stop.set()
            t.join(10)
        queued = int(re.search(r"client dropped reason=not-reading queued=(\d+)",
                               d.log()).group(1))
        self.assertGreater(queued, 4 << 20)     # it stopped reading only over the cap
        c.close()
        self.assertAnswers(d)

    def test_one_client_too_many_is_told_busy(self):
        d = self.daemon()
        clients = [Client(d.control_socket) for _ in range(16)]
        for i, c in enumerate(clients):  # each answered: each counted
            self.assertEqual(c.request("ping", rid=i)["id"], i)
        extra = Client(d.control_socket)
        reply = extra.line()
        self.assertEqual((reply["id"], reply["error"]["code"]), (None, "busy"))
        self.assertIn("control_max_clients = 16", reply["error"]["message"])
        self.assertEqual(extra.wait_eof(), b"")
        extra.close()
        self.assertEqual(clients[0].request("ping", rid=99)["id"], 99)   # still served
        for c in clients:
            c.close()
        self.assertAnswers(d)

    READERS = r"""
import json, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    try:
        s.sendall(json.dumps({"v": 1, "id": i, "cmd": "ping"}).encode() + b"\n")
    except (BrokenPipeError, ConnectionResetError):
        pass        # refused busy and closed first: its reply is still there to read
    socks.append(s)
for s in socks:
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    reply = json.loads(buf.split(b"\n")[0]) if buf else {}
    print("error" in reply and reply["error"]["code"] or "ok", flush=True)
print("holding", flush=True)
sys.stdin.read()
"""

    def test_readers_cannot_lock_root_out(self):
        if not is_root():
            self.skipTest("needs root (setpriv to a reader uid)")
        d = self.daemon()
        uid, gid = service_ids()
        # As many reader connections as control_max_clients, held open: the
        # last 4 places are root's and the daemon user's, so 12 are served.
        p = subprocess.Popen(["setpriv", "--reuid=%d" % READER, "--regid=%d" % READER,
                              "--groups=%d" % gid, "python3", "-c", self.READERS,
                              d.control_socket, "16"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        got = [p.stdout.readline().strip() for _ in range(17)]
        self.assertEqual(got, ["ok"] * 12 + ["busy"] * 4 + ["holding"], got)
        d.wait_log(d.prefix() + r"warning ctl \S+ client refused reason=busy clients=12 uid=%d"
                   % READER)
        r = domsec("--socket", d.control_socket, "status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], d.pid)
        r = domsec("--socket", d.control_socket, "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK (generation 2)", r.stdout)
        # The daemon's own user is an admin too.
        r = domsec("--socket", d.control_socket, "status", "--json", as_uid=uid, groups=[gid])
        self.assertEqual(r.returncode, 0, r.stderr)
        # Admins may take every place: 4 more root clients fill it, the next is busy.
        admins = [Client(d.control_socket) for _ in range(4)]
        for i, c in enumerate(admins):
            self.assertEqual(c.request("ping", rid=i)["id"], i)
        extra = Client(d.control_socket)
        reply = extra.line()
        self.assertEqual(reply["error"]["code"], "busy")
        self.assertIn("control_max_clients = 16, of which 4 kept for root",
                      reply["error"]["message"])
        extra.close()
        for c in admins:
            c.close()
        p.stdin.close()
        self.assertEqual(p.wait(20), 0)
        self.assertAnswers(d)

    # --- one daemon per socket ------------------------------------------------------
    def test_second_daemon_refused_and_stale_socket_removed(self):
        d = self.daemon()
        d2 = Daemon(self)
        d2.write_config(d2.config_text.replace("control_socket = %s" % d2.control_socket,
                                               "control_socket = %s" % d.control_socket))
        d2.start(wait=False)
        self.assertEqual(d2.wait_exit(30), 1)
        self.assertRegex(d2.log(), r"error ctl another domsecd is running \(control socket "
                         + re.escape(d.control_socket) + r" answers\)")
        self.assertTrue(stat.S_ISSOCK(os.stat(d.control_socket).st_mode))
        self.assertAnswers(d)
        # Killed, the first leaves its socket; the next start removes it.
        d.kill9()
        self.assertTrue(stat.S_ISSOCK(os.lstat(d.control_socket).st_mode))
        d.restart()
        d.wait_log(d.prefix() + r"info ctl removed a stale control socket path=")
        self.assertAnswers(d)
        # A plain file there is not ours to remove.
        d.stop()
        self.assertFalse(os.path.exists(d.control_socket), "the socket outlived a clean stop")
        with open(d.control_socket, "w") as f:
            f.write("not a socket\n")
        d.start(wait=False)
        self.assertEqual(d.wait_exit(30), 1)
        self.assertIn("exists and is not a socket", d.log())
        os.unlink(d.control_socket)

    # --- configuration -------------------------------------------------------------
    def test_control_keys_are_checked_and_empty_means_none(self):
        d = self.daemon(start=False)
        key = "control_socket = %s" % d.control_socket
        for bad, why in (("control_socket = run/control", "is not an absolute path"),
                         ("control_socket = /" + "x" * 107,
                          "is longer than 107 bytes (the limit of a Unix socket path)"),
                         ("control_max_clients = 0", "out of bounds"),
                         ("control_timeout = 11m", "out of bounds")):
            text = d.config_text.replace(key, key + "\n" + bad) if "socket" not in bad else \
                d.config_text.replace(key, bad)
            path = os.path.join(d.dir, "bad.conf")
            with open(path, "w") as f:
                f.write(text)
            line = text.splitlines().index(bad) + 1
            r = subprocess.run([d.exe, "--check-config", "-c", path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, bad)
            self.assertRegex(r.stderr, r"(?m)^%s:%d: .*%s" % (re.escape(path), line,
                                                              re.escape(why)))
        d.write_config(d.config_text.replace(key, "control_socket ="))
        d.start()
        d.wait_log(d.prefix() + r"info ctl no control socket \(\[service\] control_socket is "
                   r"empty\)")
        r = domsec("-c", d.config_path, "status")
        self.assertEqual(r.returncode, 3)
        self.assertIn("[service] control_socket is empty in %s" % d.config_path, r.stderr)
        self.assertFalse(os.path.exists(d.control_socket))

    # --- systemd ------------------------------------------------------------------
    def test_sd_notify_ready_reloading_stopping_watchdog(self):
        d = self.daemon(start=False)
        path = os.path.join(d.dir, "notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        os.chmod(path, 0o666)           # the daemon writes as its service user
        self.addCleanup(ns.close)
        ns.settimeout(30)
        d.start(wrap=lambda argv: ["env", "NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=2000000"]
                + argv)

        def until(word):
            seen = []
            while True:
                msg = ns.recv(4096).decode()
                seen.append(msg)
                if word in msg.split("\n"):
                    return seen
        self.assertIn("READY=1", until("READY=1")[-1])
        until("WATCHDOG=1")             # every worker loop and the queue manager's beat
        until("WATCHDOG=1")
        self.assertNotIn("made no progress", d.log())
        r = domsec("-c", d.config_path, "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        seen = until("READY=1")
        self.assertTrue(any("RELOADING=1" in m.split("\n") for m in seen), seen)
        d.terminate()
        until("STOPPING=1")
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
