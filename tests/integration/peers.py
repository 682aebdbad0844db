"""
peers.py - the other side of delivery: a test DNS server (dnsmasq), real receiving
peers (Postfix smtp-sink), a scripted Python SMTP peer, DSN parsing, and
DeliveryTestCase, which wires them to a domsecd whose send side points at them.

Written from docs/DELIVERY.md, not from the daemon's code.  Python 3 stdlib only.

Every peer runs on its own 127.0.0.N (N >= 10); all peers of one test share one TCP
port P, so `[send Internet] port = P` reaches every MX host.  A "down" host is an
address where nothing listens on P.  Every process and thread is stopped in a
cleanup; every wait is bounded.
"""

import email
import email.policy
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

from domsec_harness import Daemon, DomsecTestCase, is_root, queued_id, wait_until

SENDER_DOMAIN = "snd.test"
SENDER = "<alice@%s>" % SENDER_DOMAIN
SENDER_SINK_IP = "127.0.0.11"       # MX of snd.test: where DSNs arrive


# --------------------------------------------------------------------------
# addresses and ports

def _tcp_listening(ip, port):
    """True when something listens on ip:port (or on 0.0.0.0:port) right now."""
    want = {"%08X:%04X" % (struct.unpack("<I", socket.inet_aton(a))[0], port)
            for a in (ip, "0.0.0.0")}
    try:
        with open("/proc/net/tcp") as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if parts[3] == "0A" and parts[1] in want:
                    return True
    except FileNotFoundError:
        pass
    return False


def shared_port(n_from=10, n_to=60):
    """A TCP port free on every 127.0.0.N (n_from <= N < n_to) and on 127.0.0.1."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        socks = [s]
        ok = True
        try:
            for n in range(n_from, n_to):
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(t)
                t.bind(("127.0.0.%d" % n, port))
        except OSError:
            ok = False
        finally:
            for t in socks:
                t.close()
        if ok and not _tcp_listening("127.0.0.1", port):
            return port
    raise AssertionError("could not find a TCP port free on 127.0.0.10-59")


def free_udp_port(ip="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# DNS: dnsmasq, and a tiny stub resolver to check what it serves

def mx(domain, host, pref):
    return "--mx-host=%s,%s,%d" % (domain, host, pref)


def host(name, ip):
    return "--host-record=%s,%s" % (name, ip)


def null_mx(domain):
    return "--dns-rr=%s,15,000000" % domain      # MX 0 "." (RFC 7505)


def _qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _name_at(msg, i):
    labels = []
    end = None
    for _ in range(64):
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0 == 0xC0:
            if end is None:
                end = i + 2
            i = ((n & 0x3F) << 8) | msg[i + 1]
            continue
        labels.append(msg[i + 1:i + 1 + n].decode())
        i += 1 + n
    return ".".join(labels), (end if end is not None else i)


def dns_query(port, name, qtype, server="127.0.0.1", timeout=2.0):
    """(rcode, answers) for one UDP query; answers: ['ip', ...] for A, [(pref, host)] for MX,
    [[string, ...], ...] (each record's character-strings) for TXT."""
    codes = {"A": 1, "MX": 15, "TXT": 16, "AAAA": 28}
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _qname(name) + \
        struct.pack("!HH", codes[qtype], 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, port))
        msg, _ = s.recvfrom(4096)
    finally:
        s.close()
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    i = 12
    for _ in range(qd):
        i = _name_at(msg, i)[1] + 4
    answers = []
    for _ in range(an):
        i = _name_at(msg, i)[1]
        typ, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        rd = i + 10
        if typ == 1:
            answers.append(socket.inet_ntoa(msg[rd:rd + 4]))
        elif typ == 15:
            answers.append((struct.unpack("!H", msg[rd:rd + 2])[0], _name_at(msg, rd + 2)[0]))
        elif typ == 16:
            j, strings = rd, []
            while j < rd + rdlen:
                strings.append(msg[j + 1:j + 1 + msg[j]].decode("utf-8", "replace"))
                j += 1 + msg[j]
            answers.append(strings)
        i = rd + rdlen
    return flags & 0xF, answers


class Dns:
    """dnsmasq on 127.0.0.1:PORT, authoritative for .test (unknown names NXDOMAIN)."""

    def __init__(self, tc, records):
        exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.access(exe, os.X_OK):
            raise AssertionError("dnsmasq is not installed (apt-get install dnsmasq-base); "
                                 "the delivery tests need it and are not skipped")
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="domsec-dns-")
        self.records = list(records)
        tc.addCleanup(self.stop)
        for _ in range(5):
            self.port = free_udp_port()
            if self._start():
                return
        raise AssertionError("dnsmasq did not start: %s" % self.output())

    def _start(self):
        argv = [self.exe, "--keep-in-foreground", "--conf-file=/dev/null",
                "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--no-poll", "--no-negcache",
                "--pid-file=%s/dnsmasq.pid" % self.dir, "--log-queries",
                "--log-facility=%s/dnsmasq.log" % self.dir, "--local=/test/"]
        if is_root():
            argv.append("--user=root")
        argv += self.records
        self.out = open(os.path.join(self.dir, "dnsmasq.out"), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        if self._wait_ready():
            return True
        self._kill()
        return False

    def replace(self, records):
        """Serve `records` instead, on the same port (dnsmasq restarted: it cannot
        reload command-line records), e.g. a changed MTA-STS TXT id."""
        self._kill()
        self.records = list(records)
        for _ in range(20):             # the port is ours until a stranger grabs it
            if self._start():
                return
        raise AssertionError("dnsmasq did not restart on port %d: %s"
                             % (self.port, self.output()))

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False                    # e.g. port taken meanwhile: try another
            try:
                rcode, _ = dns_query(self.port, "ready-probe.test", "A", timeout=0.3)
                if rcode == 3:
                    return True
            except (socket.timeout, ConnectionRefusedError, OSError):
                pass
            time.sleep(0.05)
        return False

    def query(self, name, qtype):
        return dns_query(self.port, name, qtype)

    def output(self):
        text = ""
        for f in ("dnsmasq.out", "dnsmasq.log"):
            try:
                with open(os.path.join(self.dir, f), "rb") as fh:
                    text += fh.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()

    def stop(self):
        self._kill()
        if not os.environ.get("DOMSEC_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Postfix smtp-sink: a real peer that writes each transaction to a file

class Dump:
    """One smtp-sink transaction file: envelope and message (CRLF restored)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        self.path = path
        lines = raw.split(b"\n")
        self.rcpts = []
        self.sender = self.helo = self.client = None
        i = 0
        while i < len(lines):
            line = lines[i].decode("utf-8", "replace")
            i += 1
            if line.startswith("X-Client-Addr: "):
                self.client = line[15:]
            elif line.startswith("X-Helo-Args: "):
                self.helo = line[13:]
            elif line.startswith("X-Mail-Args: "):
                self.sender = line[13:].split(" ")[0]
            elif line.startswith("X-Rcpt-Args: "):
                self.rcpts.append(line[13:].split(" ")[0])
            elif line.startswith("Received: "):
                i += 2                          # smtp-sink's own 3-line Received header
                break
        body = lines[i:]
        if body and body[-1] == b"":
            body = body[:-1]                    # final newline
        if body and body[-1] == b"":
            body = body[:-1]                    # the empty line smtp-sink appends
        self.message = b"".join(b + b"\r\n" for b in body)

    def __repr__(self):
        return "Dump(from=%s to=%s %d bytes)" % (self.sender, self.rcpts, len(self.message))


class Sink:
    """Postfix smtp-sink on ip:port, dumping every transaction into its own directory."""

    def __init__(self, tc, ip, port, name=None):
        exe = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not os.access(exe, os.X_OK):
            raise AssertionError(
                "smtp-sink is not installed: echo 'postfix postfix/main_mailer_type select No "
                "configuration' | debconf-set-selections; DEBIAN_FRONTEND=noninteractive "
                "apt-get install -y postfix")
        self.ip, self.port = ip, port
        self.dir = tempfile.mkdtemp(prefix="domsec-sink-")
        os.chmod(self.dir, 0o777)
        self.dumpdir = os.path.join(self.dir, "dump")
        os.mkdir(self.dumpdir, 0o777)
        os.chmod(self.dumpdir, 0o777)
        argv = [exe]
        if is_root():
            argv += ["-u", "nobody"]
        argv += ["-4", "-h", name or "sink-%s.test" % ip.replace(".", "-"),
                 "-d", self.dumpdir + "/m.", "%s:%d" % (ip, port), "64"]
        self.out = open(os.path.join(self.dir, "sink.out"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        tc.addCleanup(self.stop)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink on %s:%d exited: %s" % (ip, port, self.output()))
            return _tcp_listening(ip, port)
        wait_until(up, 10, "smtp-sink to listen on %s:%d" % (ip, port))

    def output(self):
        with open(os.path.join(self.dir, "sink.out"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def dumps(self):
        """Completed transactions.  Read them after domsec logged the delivery: smtp-sink
        closes the file before it answers 250 to the final dot.  Oldest first."""
        paths = [os.path.join(self.dumpdir, n) for n in os.listdir(self.dumpdir)]
        return [Dump(p) for p in sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p))]

    def count(self, rcpt):
        return sum(d.rcpts.count(rcpt) for d in self.dumps())

    def from_null(self):
        """Transactions with MAIL FROM:<> (DSNs)."""
        return [d for d in self.dumps() if d.sender == "<>"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()
        if not os.environ.get("DOMSEC_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# a scripted SMTP peer (raw sockets + threads)

class Txn:
    def __init__(self, conn, sender):
        self.conn = conn
        self.sender = sender
        self.rcpts = []                         # accepted recipients, as "<addr>"
        self.data = None                        # dot-unstuffed message bytes
        self.reply = None                       # reply to the final dot
        self.t = None                           # when the final reply was decided

    @property
    def ok(self):
        return self.reply is not None and self.reply.startswith("2")

    def __repr__(self):
        return "Txn(conn=%d from=%s to=%s reply=%r)" % (self.conn, self.sender, self.rcpts,
                                                        self.reply)


class PyPeer:
    """An SMTP server on ip:port that records everything and answers as scripted.

    banner / on_mail / on_rcpt / on_dot: a reply string, or a callable returning one (None
    means the default 2xx).  on_rcpt(addr, n) and on_mail(addr, n) get n = how many times
    this address was seen by that command (1-based); on_dot(txn); banner(conn_no).
    A 4xx/5xx banner is sent and the connection closed.  ehlo: a reply string for EHLO
    (e.g. "502 5.5.2 Error: command not recognized").  delays: {"BANNER"|"EHLO"|"MAIL"|
    "RCPT"|"DATA"|"DOT": seconds} before replying.
    """

    def __init__(self, tc, ip, port, name=None, banner=None, on_mail=None, on_rcpt=None,
                 on_dot=None, delays=None, pipelining=True, ehlo=None, starttls=None):
        self.ip, self.port = ip, port
        self.name = name or "peer-%s.test" % ip.replace(".", "-")
        self.banner, self.on_mail, self.on_rcpt, self.on_dot = banner, on_mail, on_rcpt, on_dot
        self.delays = delays or {}
        self.pipelining = pipelining
        self.ehlo = ehlo                        # a reply to EHLO instead of the 250 list
        self.starttls = starttls                # offer STARTTLS; reply to it (a 220 is then
                                                # followed by garbage: a broken TLS server)
        self.lock = threading.Lock()
        self.connections = []                   # (t_connect, client address)
        self.spans = {}                         # conn_no: [t_connect, t_quit_or_eof]
        self.commands = []                      # (t, conn_no, line)
        self.rcpt_log = []                      # (t, conn_no, "<addr>", reply)
        self.txns = []
        self.active = 0
        self.in_dot = 0                         # final dots read, reply not yet decided
        self.max_active = 0
        self.seen = {}
        self.stopping = False
        self.threads = []
        self.socks = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((ip, port))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self.threads.append(t)
        tc.addCleanup(self.stop)

    # --- results ------------------------------------------------------------
    def delivered(self):
        """Accepted transactions (final reply 2xx)."""
        with self.lock:
            return [t for t in self.txns if t.ok]

    def count(self, rcpt):
        return sum(t.rcpts.count(rcpt) for t in self.delivered())

    def rcpt_times(self, rcpt):
        with self.lock:
            return [t for (t, _, a, _) in self.rcpt_log if a == rcpt]

    def max_overlap(self):
        """Most connections open at once, by [connect, QUIT-or-EOF] spans."""
        with self.lock:
            spans = [(a, b if b is not None else float("inf")) for a, b in self.spans.values()]
        return max([sum(1 for a2, b2 in spans if a2 <= a < b2) for a, _ in spans] or [0])

    def idle(self):
        with self.lock:
            return self.active == 0

    # --- server ---------------------------------------------------------------
    def _accept_loop(self):
        while not self.stopping:
            try:
                s, addr = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections.append((time.monotonic(), addr))
                no = len(self.connections)
                self.spans[no] = [self.connections[-1][0], None]
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                self.socks.append(s)
            t = threading.Thread(target=self._serve, args=(s, no), daemon=True)
            t.start()
            self.threads.append(t)

    def _answer(self, what, *args):
        if callable(what):
            return what(*args)
        return what

    def _serve(self, s, no):
        try:
            s.settimeout(60)
            self._session(s, no)
        except (OSError, ValueError):
            pass
        finally:
            with self.lock:
                if self.spans[no][1] is None:
                    self.spans[no][1] = time.monotonic()
            try:
                s.close()
            except OSError:
                pass
            with self.lock:
                self.active -= 1

    def _session(self, s, no):
        buf = [b""]

        def readline():
            while b"\n" not in buf[0]:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf[0] += chunk
            i = buf[0].index(b"\n") + 1
            line, buf[0] = buf[0][:i], buf[0][i:]
            return line

        def send(reply, delay_key=None):
            if delay_key and self.delays.get(delay_key):
                time.sleep(self.delays[delay_key])
            # surrogateescape: a script may send bytes that are not UTF-8 ("\udcee" is 0xEE)
            s.sendall(reply.encode("utf-8", "surrogateescape") + b"\r\n")

        b = self._answer(self.banner, no) or "220 %s ESMTP pypeer" % self.name
        send(b, "BANNER")
        if not b.startswith("2"):
            return
        txn = None
        while True:
            raw = readline()
            if raw is None:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            with self.lock:
                self.commands.append((time.monotonic(), no, line))
            verb = line.split(" ", 1)[0].upper()
            addr = re.search(r"<[^>]*>", line)
            addr = addr.group(0) if addr else ""
            if verb == "EHLO" and self.ehlo:
                send(self.ehlo, "EHLO")
            elif verb == "EHLO":
                ext = ["SIZE 10485760", "8BITMIME", "ENHANCEDSTATUSCODES"]
                if self.starttls:
                    ext.append("STARTTLS")
                if self.pipelining:
                    ext.insert(0, "PIPELINING")
                lines = [self.name] + ext
                send("\r\n".join("250-" + x for x in lines[:-1]) + "\r\n250 " + lines[-1],
                     "EHLO")
            elif verb == "HELO":
                send("250 " + self.name, "EHLO")
            elif verb == "MAIL":
                n = self._bump("MAIL", addr)
                r = self._answer(self.on_mail, addr, n) or "250 2.1.0 Ok"
                if r.startswith("2"):
                    txn = Txn(no, addr)
                send(r, "MAIL")
            elif verb == "RCPT":
                n = self._bump("RCPT", addr)
                if txn is None:
                    r = "503 5.5.1 Error: need MAIL command"
                else:
                    r = self._answer(self.on_rcpt, addr, n) or "250 2.1.5 Ok"
                with self.lock:
                    self.rcpt_log.append((time.monotonic(), no, addr, r))
                if r.startswith("2"):
                    txn.rcpts.append(addr)
                send(r, "RCPT")
            elif verb == "DATA":
                if txn is None or not txn.rcpts:
                    send("554 5.5.1 Error: no valid recipients")
                    continue
                send("354 End data with <CR><LF>.<CR><LF>", "DATA")
                data = []
                while True:
                    dl = readline()
                    if dl is None:
                        return                  # client vanished mid-message: no txn
                    if dl == b".\r\n":
                        break
                    data.append(dl[1:] if dl.startswith(b".") else dl)
                txn.data = b"".join(data)
                with self.lock:
                    self.in_dot += 1
                r = self._answer(self.on_dot, txn) or "250 2.0.0 Ok: queued as P%d" % len(
                    self.txns)
                if self.delays.get("DOT"):
                    time.sleep(self.delays["DOT"])
                with self.lock:
                    txn.reply = r
                    txn.t = time.monotonic()
                    self.txns.append(txn)
                    self.in_dot -= 1
                txn = None
                send(r)
            elif verb == "STARTTLS" and self.starttls:
                send(self.starttls)
                if self.starttls.startswith("220"):
                    s.sendall(b"this is not a TLS server hello\r\n")
                    return                  # the handshake cannot succeed
            elif verb == "RSET":
                txn = None
                send("250 2.0.0 Ok")
            elif verb == "NOOP":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                with self.lock:
                    self.spans[no][1] = time.monotonic()
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")

    def _bump(self, verb, addr):
        with self.lock:
            k = (verb, addr.lower())
            self.seen[k] = self.seen.get(k, 0) + 1
            return self.seen[k]

    def stop(self):
        self.stopping = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(5)


# --------------------------------------------------------------------------
# DSNs (RFC 3464)

class Dsn:
    """A delivery status notification parsed with the stdlib email package."""

    def __init__(self, raw):
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.content_type = self.msg.get_content_type()
        self.report_type = self.msg.get_param("report-type")
        parts = self.msg.get_payload() if self.msg.is_multipart() else []
        self.part_types = [p.get_content_type() for p in parts]
        self.per_message = None
        self.per_recipient = []
        self.headers_part = None
        for p in parts:
            if p.get_content_type() == "message/delivery-status":
                blocks = p.get_payload()
                if isinstance(blocks, list) and blocks:
                    self.per_message = blocks[0]
                    self.per_recipient = blocks[1:]
            elif p.get_content_type() == "text/rfc822-headers":
                payload = p.get_payload(decode=True) or b""
                self.headers_part = payload.decode("utf-8", "replace")

    @staticmethod
    def field(block, name):
        v = block.get(name)
        return None if v is None else re.sub(r"\s+", " ", str(v)).strip()

    def recipients(self):
        """{'addr@domain': block} from Final-Recipient: rfc822; addr@domain."""
        out = {}
        for b in self.per_recipient:
            fr = self.field(b, "Final-Recipient") or ""
            out[fr.split(";", 1)[-1].strip().strip("<>").lower()] = b
        return out


# --------------------------------------------------------------------------
# the test case

DELIVERY_TRANSPORT = {
    "transient_failure_retry_interval": "1s",
    "transient_failure_retry_count": "3",
    "message_retry_interval": "2s",
    "outbound_connection_failure_retry_interval": "2s",
    "delay_notification_timeout": "1h",
    "message_expiration_timeout": "1h",
}

RX_ID = r"[0-9A-F]{16}"


class DeliveryTestCase(DomsecTestCase):
    """Peers on 127.0.0.N:P, dnsmasq for .test, domsecd relaying to them."""

    def setUp(self):
        self.P = shared_port()
        self.dns = None

    def start_dns(self, *records, sender_mx=True):
        recs = list(records)
        if sender_mx:
            recs += [mx(SENDER_DOMAIN, "mx.%s" % SENDER_DOMAIN, 10),
                     host("mx.%s" % SENDER_DOMAIN, SENDER_SINK_IP)]
        self.dns = Dns(self, recs)
        return self.dns

    def sink(self, ip, **kw):
        return Sink(self, ip, self.P, **kw)

    def sender_sink(self):
        return self.sink(SENDER_SINK_IP)

    def peer(self, ip, **kw):
        return PyPeer(self, ip, self.P, **kw)

    def start_relay(self, transport=None, sends=None, start=True, internet=True):
        """domsecd with an internal receive connector, [send Internet] = * by DNS on port P
        (unless internet=False), extra send connectors `sends` [(name, {key: value})] and
        short timers."""
        tr = dict(DELIVERY_TRANSPORT)
        tr.update(transport or {})
        sc = [("Internet", {"address_spaces": "*", "dns_routing": "yes",
                            "port": str(self.P)})] if internet else []
        sc += list(sends or [])
        d = Daemon(self, connectors=[("Hub", {"permission": "internal"})], transport=tr,
                   sends=sc, dns={"servers": "127.0.0.1:%d" % self.dns.port,
                                  "timeout": "1s"})
        if start:
            d.start()
        return d

    def submit(self, d, rcpts, message=None, sender=SENDER, client=None):
        c = client or d.session()
        if message is None:
            message = (b"From: %s\r\nTo: %s\r\nSubject: delivery test\r\n"
                       b"Message-ID: <%d.%d@snd.test>\r\n\r\nHello.\r\n"
                       % (sender.encode(), rcpts[0].encode(), os.getpid(),
                          random.randrange(10 ** 9)))
        return queued_id(c.transaction(sender, rcpts, message))

    # --- log conditions (the current process's log) --------------------------------
    def wait_delivered(self, d, qid, rcpt, ip=None, timeout=30):
        relay = r"\S*\[%s\]:%d" % (re.escape(ip), self.P) if ip else r"\S+"
        return d.wait_log(d.prefix() + r"info smtp %s delivered id=%s to=%s relay=%s "
                          r'reply="2' % (RX_ID, qid, re.escape(rcpt), relay), timeout)

    def wait_failed(self, d, qid, rcpt, timeout=30):
        """The 'info queue failed' line; returns its reason (quotes unescaped)."""
        m = d.wait_log(d.prefix() + r'info queue failed id=%s to=%s reason="(.*)"\s*$'
                       % (qid, re.escape(rcpt)), timeout)
        return unquote(m.group(1))

    def wait_dsn(self, d, qid, kind, timeout=30):
        """The DSN's queue id, from 'info queue dsn id=NEWID for=QID kind=KIND'."""
        return d.wait_log(d.prefix() + r"info queue dsn id=(%s) for=%s kind=%s\s*$"
                          % (RX_ID, qid, kind), timeout).group(1)

    def wait_removed(self, d, qid, timeout=30):
        d.wait_log(d.prefix() + r"info queue removed id=%s\s*$" % qid, timeout)
        wait_until(lambda: qid not in d.message_ids(), 5, "messages/%s to go" % qid)

    def fetch_dsn(self, d, sink, dsn_id, timeout=30):
        """Wait for the DSN's delivery to sink, return it parsed."""
        self.wait_delivered(d, dsn_id, SENDER, ip=sink.ip, timeout=timeout)
        got = [x for x in sink.from_null() if SENDER in x.rcpts]
        self.assertTrue(got, "no MAIL FROM:<> transaction to %s at the sender's sink: %r"
                        % (SENDER, sink.dumps()))
        return Dsn(got[-1].message)

    def assertDsnPart(self, dsn):
        self.assertEqual(dsn.content_type, "multipart/report", dsn.raw[:600])
        self.assertEqual(dsn.report_type, "delivery-status")
        self.assertEqual(len(dsn.part_types), 3, dsn.part_types)
        self.assertEqual(dsn.part_types[0], "text/plain")
        self.assertEqual(dsn.part_types[1:], ["message/delivery-status", "text/rfc822-headers"])
        self.assertIsNotNone(dsn.per_message, "no per-message block")
        self.assertTrue(Dsn.field(dsn.per_message, "Reporting-MTA"), dsn.raw)
        self.assertTrue(Dsn.field(dsn.per_message, "Arrival-Date"), dsn.raw)


def unquote(s):
    """A log field's value between quotes, with \\" and \\\\ unescaped."""
    return re.sub(r'\\(["\\])', r"\1", s)


def deliveries(log_text, pid=None):
    """[(qid, '<rcpt>')] of the 'delivered' lines in a log text."""
    pre = r"domsecd\[%d\]: " % pid if pid else r"domsecd\[\d+\]: "
    return re.findall(pre + r"info smtp %s delivered id=(%s) to=(<[^>]*>) " % (RX_ID, RX_ID),
                      log_text)
