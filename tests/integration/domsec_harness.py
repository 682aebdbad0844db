"""
domsec_harness.py - run a real domsecd on loopback and talk SMTP to it.

Written from docs/CONTRACT-issue2.md and SPEC.md (sections 2-4), not from the
daemon's code.  Python 3 standard library only.

    class T(DomsecTestCase):
        def test_x(self):
            d = self.start_daemon()                 # temp dir, config, free port, started
            c = d.session()                         # connected, banner + EHLO checked
            r = c.transaction("<s@example.org>", ["<u@a.test>"], b"Subject: x\r\n\r\nhi\r\n")
            qid = queued_id(r)
            q = d.read_message(qid)                 # parsed DSQ1 file

Every wait is bounded.  Every process started here is killed in a cleanup,
even when the test fails; the daemon's stderr is printed when a test fails.
Sanitizer reports of any process a test started fail that test (SAN_DIR).
Set DOMSEC_KEEP=1 to keep the temp directories.
"""

import atexit
import csv
import io
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

LOGCHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "logcheck.py")
FQDN = "mx.domsec.test"
ACCEPTED = "a.test"
HELO = "client.example.org"
SERVICE_USER = "nobody"

ID_RE = re.compile(r"^[0-9A-F]{16}$")
SESSION_RE = re.compile(r"^[0-9A-F]{16}$")
ARRIVAL_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Reply strings of the contract (docs/CONTRACT-issue2.md), byte for byte.
R = {
    "mail_ok": "250 2.1.0 Sender OK",
    "rcpt_ok": "250 2.1.5 Recipient OK",
    "data_go": "354 Start mail input; end with <CRLF>.<CRLF>",
    "relay": "550 5.7.1 Unable to relay",
    "too_many_rcpts": "452 4.5.3 Too many recipients",
    "size": "552 5.3.4 Message size exceeds fixed maximum message size",
    "bare": "550 5.6.11 Bare line feed or carriage return is not allowed",
    "disk_full": "452 4.3.1 Insufficient system storage",
    "spool_error": "451 4.3.0 Error writing message to the queue",
    "rset": "250 2.0.0 Resetting",
    "noop": "250 2.0.0 OK",
    "quit": "221 2.0.0 Service closing transmission channel",
    "vrfy": "252 2.1.5 Cannot VRFY user",
    "help1": "214-This server supports the following commands:",
    "help2": "214 HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
    "unknown": "500 5.3.3 Unrecognized command",
    "too_long": "500 5.5.2 Line too long",
    "bad_domain": "501 5.5.4 Invalid domain name",
    "bad_addr": "501 5.5.4 Invalid address",
    "bad_param": "501 5.5.4 Unrecognized parameter",
    "hello_first": "503 5.5.2 Send hello first",
    "sender_twice": "503 5.5.2 Sender already specified",
    "need_mail": "503 5.5.2 Need mail command",
    "need_rcpt": "503 5.5.2 Need rcpt command",
    "too_many_errors": "421 4.7.0 Too many errors on this connection, closing transmission channel",
    "inactivity": "451 4.7.0 Timeout waiting for client input",
    "session_time": "421 4.4.1 Connection timed out",
    "conn_total": "421 4.3.2 The maximum number of concurrent server connections has exceeded "
                  "a limit, closing transmission channel",
    "conn_source": "421 4.3.2 The maximum number of concurrent connections has exceeded a "
                   "limit, closing transmission channel",
    "shutdown": "421 4.3.2 Service not available, closing transmission channel",
}


# --------------------------------------------------------------------------
# sanitizer reports
#
# In an ASan/UBSan build (scripts/test's second run) every process a test
# starts - domsecd, the domsec CLI, domsecd --check-config - writes its
# sanitizer reports (LeakSanitizer's at exit among them) to a file of its
# own, SAN_DIR/asan.PID or ubsan.PID (log_path), instead of to a stderr that
# a test may never read.  Daemon.cleanup fails its test on the reports of
# its own processes, DomsecTestCase on any other report that appeared during
# the test (a CLI it ran), and a run that leaves a report nobody claimed (a
# plain unittest.TestCase running the CLI) exits 1 naming it.  A build
# without sanitizers writes nothing there.

SAN_DIR = tempfile.mkdtemp(prefix="domsec-san-")
os.chmod(SAN_DIR, 0o1777)               # domsecd writes as its service user
for _var, _name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
    _old = os.environ.get(_var, "")
    os.environ[_var] = "%s%slog_path=%s" % (_old, ":" if _old else "",
                                            os.path.join(SAN_DIR, _name))


def claim_sanitizer_reports(pids=None):
    """{path: text} of the reports in SAN_DIR (of these pids only, if given),
    removed, so that each is reported once."""
    out = {}
    for name in sorted(os.listdir(SAN_DIR)):
        pid = name.rsplit(".", 1)[-1]
        if pids is not None and not (pid.isdigit() and int(pid) in pids):
            continue
        path = os.path.join(SAN_DIR, name)
        with open(path, "rb") as f:
            out[path] = f.read().decode("utf-8", "replace")
        os.unlink(path)
    return out


def sanitizer_problems(reports):
    return ["sanitizer report %s:\n%s" % (p, text) for p, text in reports.items()]


@atexit.register
def _unclaimed_sanitizer_reports():
    problems = sanitizer_problems(claim_sanitizer_reports())
    shutil.rmtree(SAN_DIR, ignore_errors=True)
    if problems:
        sys.stdout.flush()
        sys.stderr.write("\nFAILED: sanitizer reports no test claimed:\n%s\n"
                         % "\n".join(problems))
        sys.stderr.flush()
        os._exit(1)


def banner_line(fqdn=FQDN):
    return "220 %s domsec ESMTP service ready" % fqdn


# --------------------------------------------------------------------------
# prerequisites

def domsecd_path():
    p = os.environ.get("DOMSECD")
    if not p:
        raise AssertionError("DOMSECD is not set: run with DOMSECD=/path/to/domsecd")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise AssertionError("DOMSECD=%s is not an executable file" % p)
    return os.path.abspath(p)


def preload_lib(target):
    """$DOMSEC_BUILD/tests/libTARGET.so, a shim built by tests/CMakeLists.txt
    for LD_PRELOAD (the system-call recorder, the leaking library, ...)."""
    build = os.environ.get("DOMSEC_BUILD")
    if not build:
        raise AssertionError("DOMSEC_BUILD is not set (the shim is "
                             "$DOMSEC_BUILD/tests/lib%s.so)" % target)
    lib = os.path.join(os.path.abspath(build), "tests", "lib%s.so" % target)
    if not os.path.isfile(lib):
        raise AssertionError("%s is missing: build the '%s' target" % (lib, target))
    return lib


def require_swaks():
    p = shutil.which("swaks")
    if not p:
        raise AssertionError("swaks is not installed (apt-get install swaks); "
                             "these tests need it and are not skipped")
    return p


def require_root(what):
    if os.geteuid() != 0:
        raise AssertionError("%s needs root (mount namespace / privilege drop); "
                             "run the integration tests as root" % what)


def is_root():
    return os.geteuid() == 0


def service_ids():
    """uid, gid the daemon runs as (the [service] user when root, else ourselves)."""
    if is_root():
        pw = pwd.getpwnam(SERVICE_USER)
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


# --------------------------------------------------------------------------
# small utilities

def wait_until(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns a true value (returned) or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def listening_ports():
    ports = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if parts[3] == "0A":          # TCP_LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


def free_port():
    """A port free on 127.0.0.1 and on ::1 right now (bind port 0, close)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", port))
            s6.close()
        except OSError:
            continue
        if port not in listening_ports():
            return port
    raise AssertionError("could not find a free loopback port")


def line_of(text, needle):
    """1-based number of the first line of text containing needle."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError("%r not in config text" % needle)


def dot_stuff(message):
    """The DATA transmission of message (bytes, CRLF lines): stuffed, terminated."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    out = []
    for line in message.split(b"\r\n")[:-1]:
        out.append(b"." + line if line.startswith(b".") else line)
    return b"\r\n".join(out) + b"\r\n.\r\n"


def split_received(data):
    """(Received header incl. folded lines, rest) of a stored message."""
    if not data.startswith(b"Received:"):
        raise AssertionError("stored message does not start with a Received: header: %r"
                             % data[:200])
    pos = data.index(b"\r\n") + 2
    while data[pos:pos + 1] in (b" ", b"\t"):
        pos = data.index(b"\r\n", pos) + 2
    return data[:pos], data[pos:]


def queued_id(reply, fqdn=FQDN):
    """The queue ID from a '250 2.6.0 <ID@fqdn> Queued mail for delivery' reply."""
    lines = reply.lines if isinstance(reply, Reply) else [reply]
    m = re.match(r"^250 2\.6\.0 <([0-9A-F]{16})@" + re.escape(fqdn) +
                 r"> Queued mail for delivery$", lines[-1]) if len(lines) == 1 else None
    if not m:
        raise AssertionError("not a 'queued' reply: %r" % (lines,))
    return m.group(1)


def make_body(nbytes, tag="line"):
    """A CRLF message of about nbytes, with a few dot lines and varied bytes."""
    head = b"From: <sender@example.org>\r\nTo: <user@a.test>\r\nSubject: %s\r\n\r\n" % tag.encode()
    lines = [head]
    n = len(head)
    i = 0
    while n < nbytes:
        if i % 97 == 0:
            line = b".dot line %d\r\n" % i
        else:
            line = b"%s %06d abcdefghijklmnopqrstuvwxyz 0123456789 ~!@#$%%^&*()\r\n" % (
                tag.encode(), i)
        lines.append(line)
        n += len(line)
        i += 1
    return b"".join(lines)


# --------------------------------------------------------------------------
# SMTP over a raw socket

class Reply:
    def __init__(self, lines, raw):
        self.lines = lines          # each line as text without CRLF, e.g. "250-PIPELINING"
        self.raw = raw              # the bytes as received
        self.code = int(lines[0][:3])

    def __repr__(self):
        return "Reply(%r)" % (self.lines,)


class SMTPClient:
    def __init__(self, host, port, source=None, timeout=10.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False

    @property
    def local(self):
        return self.sock.getsockname()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def closed_by_peer(self):
        """True once the server has closed the connection (nothing more to read)."""
        try:
            self.sock.settimeout(0.2)
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            return True
        if chunk:
            self.buf += chunk
            return False
        return True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
        return chunk

    def _readline(self, deadline):
        while b"\n" not in self.buf:
            if self.eof:
                raise AssertionError("connection closed; unterminated data %r" % self.buf)
            try:
                chunk = self._recv(deadline)
            except socket.timeout:
                raise AssertionError("timed out waiting for a reply line; have %r" % self.buf)
            self.buf += chunk
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def reply(self, timeout=10.0):
        """Read one complete reply (all continuation lines)."""
        deadline = time.monotonic() + timeout
        lines, raw = [], b""
        while True:
            line = self._readline(deadline)
            raw += line
            if not line.endswith(b"\r\n"):
                raise AssertionError("reply line not terminated by CRLF: %r" % line)
            text = line[:-2].decode("utf-8", "replace")
            if not re.match(r"^\d{3}([ -]|$)", text):
                raise AssertionError("malformed reply line %r (after %r)" % (line, lines))
            if lines and text[:3] != lines[0][:3]:
                raise AssertionError("reply code changed inside a multi-line reply: %r, %r"
                                     % (lines, text))
            lines.append(text)
            if len(text) == 3 or text[3] == " ":
                return Reply(lines, raw)

    def cmd(self, line, timeout=10.0):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def wait_closed(self, timeout=5.0):
        """Wait for the server to close; return any bytes received before EOF."""
        deadline = time.monotonic() + timeout
        got = self.buf
        self.buf = b""
        while not self.eof:
            try:
                got += self._recv(deadline)
            except socket.timeout:
                raise AssertionError("connection still open %.1fs later (received %r)"
                                     % (timeout, got))
        return got

    def readable_within(self, timeout):
        """True when data (or EOF) is ready to read within timeout seconds."""
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    # --- conveniences that assert the happy path -------------------------
    def expect(self, line, want, timeout=10.0):
        r = self.cmd(line, timeout)
        if r.lines != [want]:
            raise AssertionError("%s: expected %r, got %r" % (line[:60], want, r.lines))
        return r

    def ehlo(self, name=HELO):
        r = self.cmd("EHLO " + name)
        if r.code != 250:
            raise AssertionError("EHLO refused: %r" % r.lines)
        return r

    def transaction(self, sender, rcpts, message, mail_params="", timeout=30.0):
        """MAIL, RCPT..., DATA, message; asserts 250/250.../354; returns the final reply."""
        self.expect("MAIL FROM:%s%s" % (sender, mail_params), R["mail_ok"])
        for rc in rcpts:
            self.expect("RCPT TO:%s" % rc, R["rcpt_ok"])
        self.expect("DATA", R["data_go"])
        self.send(dot_stuff(message))
        return self.reply(timeout)


# --------------------------------------------------------------------------
# the queue file (contract: "Queue layout")

class QueueFile:
    """A parsed committed DSQ1 file."""
    HEADER_ORDER = ["id", "arrival", "connector", "client", "helo", "session", "body",
                    "requiretls", "sender", "rcpt", "data"]

    def __init__(self, raw, name=None):
        self.raw = raw
        self.fields = {}
        self.rcpts = []
        self.keys = []
        if not raw.startswith(b"DSQ1\n"):
            raise AssertionError("queue file does not start with DSQ1\\n: %r" % raw[:40])
        pos = 5
        while True:
            nl = raw.find(b"\n", pos)
            if nl < 0:
                raise AssertionError("queue file header not terminated: %r" % raw[pos:pos + 80])
            line = raw[pos:nl].decode("utf-8", "replace")
            pos = nl + 1
            key, sep, value = line.partition(" ")
            if not sep:
                raise AssertionError("bad queue header line %r" % line)
            self.keys.append(key)
            if key == "rcpt":
                self.rcpts.append(value)
            else:
                if key in self.fields:
                    raise AssertionError("duplicate queue header %r" % key)
                self.fields[key] = value
            if key == "data":
                break
        order = [k for k in self.HEADER_ORDER if k in self.keys]
        seen = []
        for k in self.keys:
            if not seen or seen[-1] != k:
                seen.append(k)
        if seen != order or set(self.keys) - set(self.HEADER_ORDER):
            raise AssertionError("queue header keys %r not in contract order %r"
                                 % (self.keys, self.HEADER_ORDER))
        for k in ("id", "arrival", "connector", "client", "helo", "session", "sender", "data"):
            if k not in self.fields:
                raise AssertionError("queue file lacks %r: %r" % (k, raw[:400]))
        if not re.match(r"^[0-9A-F]{16}$", self.fields["data"]):
            raise AssertionError("data length is not 16 uppercase hex digits: %r"
                                 % self.fields["data"])
        n = int(self.fields["data"], 16)
        self.data = raw[pos:pos + n]
        if len(self.data) != n:
            raise AssertionError("queue file truncated: data says %d bytes, %d present"
                                 % (n, len(self.data)))
        if raw[pos + n:pos + n + 4] != b"end\n":
            raise AssertionError("'end\\n' does not follow the %d data bytes exactly: %r"
                                 % (n, raw[pos + n - 20:pos + n + 20]))
        self.trailer = raw[pos + n + 4:]
        self.id = self.fields["id"]
        if not ID_RE.match(self.id):
            raise AssertionError("bad queue id %r" % self.id)
        if name is not None and name != self.id:
            raise AssertionError("file %s holds id %s" % (name, self.id))
        if not ARRIVAL_RE.match(self.fields["arrival"]):
            raise AssertionError("bad arrival %r" % self.fields["arrival"])
        if not SESSION_RE.match(self.fields["session"]):
            raise AssertionError("bad session id %r" % self.fields["session"])

    @property
    def sender(self):
        return self.fields["sender"]

    @property
    def received(self):
        return split_received(self.data)[0]

    @property
    def message(self):
        """The stored message without the Received header domsec prepended."""
        return split_received(self.data)[1]


# --------------------------------------------------------------------------
# swaks

class SwaksResult:
    def __init__(self, argv, returncode, output):
        self.argv = argv
        self.returncode = returncode
        self.output = output

    def queued_id(self, fqdn=FQDN):
        m = re.search(r"^<[-~]  250 2\.6\.0 <([0-9A-F]{16})@" + re.escape(fqdn) +   # ~: in TLS
                      r"> Queued mail for delivery\s*$", self.output, re.M)
        if not m:
            raise AssertionError("swaks saw no queued reply:\n" + self.output)
        return m.group(1)

    def __repr__(self):
        return "swaks exit %d:\n%s" % (self.returncode, self.output)


# --------------------------------------------------------------------------
# the daemon

DEFAULT_CONNECTOR = {
    "bindings": "127.0.0.1:{port}",
    "fqdn": FQDN,
    "auth_mechanism": "none",
    "permission": "internet",
    # Exchange's 30 s hold on "530 5.7.1 Not authenticated" would slow every
    # test of those rows; test_domain_secure.py tests the tarpit itself.
    "domain_secure_tarpit_interval": "0",
}


class Daemon:
    """One domsecd in its own temp dir.  Registered for cleanup on the TestCase."""

    def __init__(self, tc, connectors=None, accepted_domains=ACCEPTED, transport=None,
                 sends=None, dns=None):
        self.tc = tc
        self.exe = domsecd_path()
        self.dir = tempfile.mkdtemp(prefix="domsec-it-")
        os.chmod(self.dir, 0o755)
        self.queue_dir = os.path.join(self.dir, "queue")
        self.logs_dir = os.path.join(self.dir, "logs")
        os.mkdir(self.logs_dir, 0o755)
        uid, gid = service_ids()
        os.chown(self.logs_dir, uid, gid)
        self.config_path = os.path.join(self.dir, "domsec.conf")
        # In a directory domsecd makes for its user (0750), as /run/domsec is.
        self.control_socket = os.path.join(self.dir, "run", "control")
        self.ports = {"port": free_port()}
        self.proc = None
        self.pid = None
        self.starts = 0
        self.log_path = None
        self.log_paths = []
        self.pids = set()               # of every start: their sanitizer reports
        self.fs_prefix = ""             # /proc/PID/root when the queue is in a private mount
        self.nswaks = 0
        tc.addCleanup(self.cleanup)
        self.write_config(self.render_config(connectors, accepted_domains, transport,
                                             sends=sends, dns=dns))

    @property
    def port(self):
        return self.ports["port"]

    def add_port(self, name):
        self.ports[name] = free_port()
        return self.ports[name]

    # --- configuration ----------------------------------------------------
    def render_config(self, connectors=None, accepted_domains=ACCEPTED, transport=None,
                      sends=None, dns=None):
        """INI text (SPEC section 2).  connectors: [(name, {key: value or None})].
        sends: [(name, {key: value})] send connectors; dns: {key: value} for [dns]."""
        if connectors is None:
            connectors = [("Inet", {})]
        out = []
        out += ["[service]"]
        if is_root():
            out += ["user = %s" % SERVICE_USER]
        # Each daemon its own control socket (the default, /run/domsec/control,
        # would make a second daemon refuse to start).
        out += ["control_socket = %s" % self.control_socket, ""]
        out += ["[transport]",
                "accepted_domains = %s" % accepted_domains,
                "queue_directory = %s" % self.queue_dir]
        for k, v in (transport or {}).items():
            out.append("%s = %s" % (k, v))
        out += ["", "[logs]", "directory = %s" % self.logs_dir, ""]
        for name, opts in connectors:
            kv = dict(DEFAULT_CONNECTOR)
            kv.update(opts)
            out.append("[receive %s]" % name)
            for k, v in kv.items():
                if v is not None:
                    out.append("%s = %s" % (k, str(v).format_map(self.ports)))
            out.append("")
        for name, opts in sends or []:
            out.append("[send %s]" % name)
            out += ["%s = %s" % (k, v) for k, v in opts.items() if v is not None]
            out.append("")
        if dns:
            out.append("[dns]")
            out += ["%s = %s" % (k, v) for k, v in dns.items()]
            out.append("")
        return "\n".join(out)

    def write_config(self, text):
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.config_path)
        self.config_text = text

    # --- process control ----------------------------------------------------
    def start(self, wrap=None, wait=True):
        """Start domsecd -c CFG (argv passed through wrap(argv) if given)."""
        if self.running():
            raise AssertionError("daemon already running")
        self.starts += 1
        self.log_path = os.path.join(self.dir, "domsecd-%d.stderr" % self.starts)
        self.log_paths.append(self.log_path)
        argv = [self.exe, "-c", self.config_path]
        if wrap:
            argv = wrap(argv)
        with open(self.log_path, "wb") as err, \
                open(os.path.join(self.dir, "domsecd-%d.stdout" % self.starts), "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, cwd=self.dir)
        self.pid = self.proc.pid
        self.pids.add(self.pid)
        self.fs_prefix = ""
        if wait:
            self.wait_ready()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=10.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("domsecd exited with status %s during start:\n%s"
                                     % (self.proc.returncode, self.log()))
            return self.port in listening_ports() and \
                re.search(self.prefix() + r"info server started ", self.log())
        wait_until(ready, timeout, "domsecd to listen on port %d and log 'server started'"
                   % self.port)

    def prefix(self):
        """Regex for the 'domsecd[PID]: ' prefix of this process's log lines."""
        return r"domsecd\[%d\]: " % self.pid

    def reload(self):
        os.kill(self.pid, signal.SIGHUP)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self):
        """SIGTERM without waiting."""
        self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout=15.0):
        """SIGTERM and wait (bounded); returns the exit status."""
        self.terminate()
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=15.0):
        """Wait (bounded) for the process to exit; returns the exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError("domsecd did not exit within %.0fs of SIGTERM" % timeout)

    def restart(self, **kw):
        if self.running():
            raise AssertionError("restart: daemon still running")
        return self.start(**kw)

    def cleanup(self):
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            # Stop gracefully so sanitizer builds get to report leaks.
            try:
                self.proc.send_signal(signal.SIGTERM)
                status = self.proc.wait(20)
                if status != 0:
                    problems.append("domsecd exited with status %d on SIGTERM" % status)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
                problems.append("domsecd did not stop within 20 s of SIGTERM")
        if self.proc is not None:
            problems += self.check_logs()
        problems += sanitizer_problems(claim_sanitizer_reports(self.pids))
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                           "LeakSanitizer has encountered", "runtime error:", ": panic "):
                if marker in text:
                    problems.append("%s reported in %s" % (marker, p))
        logs = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    logs.append("---- %s ----\n%s" % (p, f.read().decode("utf-8", "replace")))
            except OSError:
                pass
        getattr(self.tc, "_domsec_logs", []).extend(logs)
        if os.environ.get("DOMSEC_KEEP") or problems:
            sys.stderr.write("kept %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems) + "\n" + "\n".join(logs))

    def check_logs(self):
        """Run tests/logcheck.py over the protocol and tracking logs this daemon
        wrote (every row of every integration test is validated); problems."""
        dirs = [os.path.join(self.logs_dir, d) for d in ("ProtocolLog", "MessageTracking")]
        dirs = [d for d in dirs if os.path.isdir(d)]
        if not dirs:
            return []
        r = subprocess.run([sys.executable, LOGCHECK] + dirs, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            return ["logcheck.py failed on %s:\n%s" % (self.logs_dir,
                                                       r.stdout.decode("utf-8", "replace"))]
        return []

    def plog_rows(self, kind, timeout=5.0):
        """The rows of the RECV/SEND protocol log or MSGTRK tracking log (lists of
        fields, header lines dropped), waiting up to timeout for the writer's flush."""
        sub = {"RECV": "ProtocolLog/SmtpReceive", "SEND": "ProtocolLog/SmtpSend",
               "MSGTRK": "MessageTracking"}[kind]
        d = os.path.join(self.logs_dir, sub)
        rows = []
        if not os.path.isdir(d):
            return rows
        for name in sorted(os.listdir(d), key=lambda n: (n[:len(kind) + 8],
                                                         int(n[len(kind) + 9:-4] or 0))):
            if not (name.startswith(kind) and name.endswith(".LOG")):
                continue
            with open(os.path.join(d, name), "rb") as f:
                text = f.read().decode("utf-8-sig")
            for row in csv.reader(io.StringIO(text, newline="")):
                if row and not row[0].startswith("#"):
                    rows.append(row)
        return rows

    # --- log --------------------------------------------------------------
    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def all_logs(self):
        """The stderr of every start of this daemon, concatenated."""
        out = []
        for p in self.log_paths:
            with open(p, "rb") as f:
                out.append(f.read().decode("utf-8", "replace"))
        return "".join(out)

    def log_mark(self):
        return len(self.log())

    def wait_log(self, pattern, timeout=10.0, since=0):
        """Wait until the current log (from offset since) matches regex; return the match."""
        rx = re.compile(pattern, re.M)

        def found():
            return rx.search(self.log(), since)
        try:
            return wait_until(found, timeout, "log line /%s/" % pattern)
        except AssertionError as e:
            raise AssertionError("%s\nlog:\n%s" % (e, self.log()))

    # --- SMTP -------------------------------------------------------------
    def connect(self, source=None, host="127.0.0.1", port=None):
        c = SMTPClient(host, port or self.port, source=source)
        self.tc.addCleanup(c.close)
        return c

    def session(self, source=None, host="127.0.0.1", port=None, fqdn=FQDN, helo=HELO):
        """Connect, check the banner, EHLO."""
        c = self.connect(source, host, port)
        b = c.reply()
        if b.lines != [banner_line(fqdn)]:
            raise AssertionError("banner %r, expected %r" % (b.lines, banner_line(fqdn)))
        c.ehlo(helo)
        return c

    def swaks(self, *extra, to="user@" + ACCEPTED, from_="sender@example.org", data=None,
              server=None, helo=HELO, timeout=60):
        """Run swaks against this daemon.  data: the DATA text with LF line ends and
        no final line end (swaks turns LF into CRLF, dot-stuffs, and ends the last line)."""
        require_swaks()
        argv = ["swaks", "--server", server or "127.0.0.1:%d" % self.port,
                "--to", to, "--from", from_, "--helo", helo, "--timeout", "20"]
        if data is not None:
            self.nswaks += 1
            path = os.path.join(self.dir, "swaks-%d.eml" % self.nswaks)
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
            argv += ["--data", "@" + path]
        argv += list(extra)
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("swaks did not finish within %ds: %r" % (timeout, e.output))
        return SwaksResult(argv, p.returncode, p.stdout.decode("utf-8", "replace"))

    # --- queue ------------------------------------------------------------
    def qpath(self, *parts):
        return self.fs_prefix + os.path.join(self.queue_dir, *parts)

    def listdir(self, sub):
        try:
            return sorted(os.listdir(self.qpath(sub)))
        except FileNotFoundError:
            return []

    def message_ids(self):
        return self.listdir("messages")

    def read_raw(self, sub, name):
        try:
            with open(self.qpath(sub, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise AssertionError("queue file %s/%s does not exist; %s/ holds %r"
                                 % (sub, name, sub, self.listdir(sub)))

    def read_committed(self, qid):
        """The committed part of messages/QID: header, message and "end\n".
        Delivery appends state records after it (docs/DELIVERY.md), so
        "intact" means this part is unchanged."""
        return committed_part(self.read_raw("messages", qid))

    def read_message(self, qid):
        return QueueFile(self.read_raw("messages", qid), name=qid)

    def put_queue_file(self, sub, name, data):
        """Place a file in the queue as the daemon's user would own it."""
        uid, gid = service_ids()
        for p in (self.queue_dir, self.qpath(sub)):
            if not os.path.isdir(p):
                os.mkdir(p, 0o700)
                os.chown(p, uid, gid)
        path = self.qpath(sub, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)
        os.chown(path, uid, gid)
        return path


class StateRecord:
    """One delivery state record after 'end' (docs/DELIVERY.md, "Queue file state records")."""

    def __init__(self, line):
        self.line = line
        parts = line.split(" ")
        self.kind = parts[0]
        if self.kind == "rcpt":
            p = line.split(" ", 5)
            if len(p) < 5 or p[2] not in ("delivered", "failed", "deferred"):
                raise AssertionError("bad rcpt state record %r" % line)
            self.index, self.state, self.ms, self.attempts = int(p[1]), p[2], int(p[3]), int(p[4])
            self.text = p[5] if len(p) > 5 else ""
        elif self.kind in ("next", "delay"):
            if len(parts) != 2:
                raise AssertionError("bad %s state record %r" % (self.kind, line))
            self.ms = int(parts[1])
        elif self.kind == "tls-required":                   # RFC 8689, the receive side's
            if parts[1:] != ["no"]:
                raise AssertionError("bad tls-required record %r" % line)
        elif self.kind in ("hold", "release", "delete"):      # queue administration
            if len(parts) != (4 if self.kind == "delete" else 3) or \
                    (self.kind == "delete" and parts[3] not in ("bounce", "plain")):
                raise AssertionError("bad %s state record %r" % (self.kind, line))
            self.ms, self.uid = int(parts[1]), int(parts[2])
            self.bounce = self.kind == "delete" and parts[3] == "bounce"
        else:
            raise AssertionError("unknown state record %r" % line)

    def __repr__(self):
        return "StateRecord(%r)" % self.line


def state_records(q):
    """The state records of a parsed QueueFile, in file order (a torn last line is skipped)."""
    text = q.trailer.decode("utf-8", "replace")
    lines = text.split("\n")
    return [StateRecord(x) for x in lines[:-1] if x]


def unshare_tmpfs_wrap(queue_dir, size="300k"):
    """argv wrapper: run the daemon in a private mount namespace with a small tmpfs queue."""
    uid, gid = service_ids()

    def wrap(argv):
        os.makedirs(queue_dir, exist_ok=True)
        script = ('mount -t tmpfs -o size=%s,mode=0700,uid=%d,gid=%d tmpfs "$1" && shift && '
                  'exec "$@"' % (size, uid, gid))
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                queue_dir] + argv
    return wrap


# --------------------------------------------------------------------------
# base test case

def committed_part(raw):
    """Bytes of a queue file up to and including "end\n" (by its data length)."""
    m = re.search(rb"^data ([0-9A-F]{16})\n", raw, re.M)
    if m is None:
        raise AssertionError("queue file has no data line: %r" % raw[:200])
    end = m.end() + int(m.group(1), 16)
    if raw[end:end + 4] != b"end\n":
        raise AssertionError("queue file: no end marker after the data")
    return raw[:end + 4]


class DomsecTestCase(unittest.TestCase):
    """Prints the daemon logs of a failed test; offers start_daemon()."""

    def run(self, result=None):
        self._domsec_logs = []
        # First registered, so it runs last: after every Daemon's cleanup has
        # claimed its own processes' reports, what is left is the test's CLIs'.
        self.addCleanup(self._check_sanitizer_reports)
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        r = super().run(result)
        if len(result.failures) + len(result.errors) > before and self._domsec_logs:
            sys.stderr.write("\n==== domsecd logs of %s ====\n%s\n"
                             % (self.id(), "\n".join(self._domsec_logs)))
        return r

    def _check_sanitizer_reports(self):
        problems = sanitizer_problems(claim_sanitizer_reports())
        if problems:
            raise AssertionError("\n".join(problems))

    def start_daemon(self, **kw):
        d = Daemon(self, **kw)
        d.start()
        return d

    def assertReply(self, reply, *lines):
        self.assertEqual(reply.lines, list(lines))

    def assertClosed(self, client, timeout=5.0):
        self.assertEqual(client.wait_closed(timeout), b"",
                         "server sent more after the closing reply")
