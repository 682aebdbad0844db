"""
dane_peers.py - DNSSEC-signed test zones for DANE (issue 17): zones written from the
records a test gives, signed at setup with ldns-keygen/ldns-signzone (never a committed
signed zone: signatures expire), served by a private nsd and resolved by a private
validating unbound whose trust anchors are the zones' own DS records.  Independent of
the test PKI: TLSA data comes from any certificate file (tlsa_311, tlsa_data).

    from dane_peers import SignedZones, a, mx, tlsa, tlsa_311

    z = SignedZones(self, self.tmp)
    z.zone("woodgrove.test", [mx("woodgrove.test", "mx.woodgrove.test", 10),
                              a("mx.woodgrove.test", "127.0.0.66"),
                              tlsa("mx.woodgrove.test", 25, 3, 1, 1, tlsa_311(cert))])
    z.zone("tampered.test", [...], kind="bogus")     # signed, then a TLSA (or MX/A) altered
    z.zone("contoso.test", [...], kind="unsigned")   # no anchor: insecure
    z.start()
    conf = "[dns]\\nservers = %s\\ndnssec = yes\\n" % z.servers   # "127.0.0.172:PORT"
    z.query("_25._tcp.mx.woodgrove.test", "TLSA")    # -> (rcode, ad, [rdata, ...])
    z.update("woodgrove.test", records)              # re-signed, nsd and unbound restarted

Zone kinds: "signed" (anchored: answers AD=1), "bogus" (signed, anchored, then the
RDATA of every record of type `tamper` (default TLSA) changed after signing: SERVFAIL),
"expired" (signed with signatures that expired in 2020: SERVFAIL), "unsigned" (served
without DNSSEC and without an anchor: NOERROR, AD=0).  An unsigned zone below a signed
one is delegated from it without DS, so NSEC3 proves it insecure (RFC 4035 5.2).

Addresses (no other test uses them): nsd on 127.0.0.179, unbound on 127.0.0.172, each
on a free port (so two tests may run at once).  Both daemonize, write pidfiles in the
fixture's directory and are stopped by those PIDs in a cleanup.  Needs nsd, unbound and
ldnsutils (scripts/setup); missing tools fail the test (never skipped).
"""

import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

from domsec_harness import wait_until
from peers import _name_at, _qname

NSD_IP = "127.0.0.179"
UNBOUND_IP = "127.0.0.172"
TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "DS": 43, "TLSA": 52}


# --------------------------------------------------------------------------
# records (zone-file lines with absolute names)

def _abs(name):
    return name if name.endswith(".") else name + "."


def mx(domain, host, pref):
    return "%s 300 IN MX %d %s" % (_abs(domain), pref, _abs(host))


def a(name, ip):
    return "%s 300 IN A %s" % (_abs(name), ip)


def aaaa(name, ip):
    return "%s 300 IN AAAA %s" % (_abs(name), ip)


def txt(name, text):
    return '%s 300 IN TXT "%s"' % (_abs(name), text.replace('"', '\\"'))


def tlsa(host, port, usage, selector, mtype, data):
    """TLSA record _PORT._tcp.HOST (RFC 6698), data in hex."""
    return "_%d._tcp.%s 300 IN TLSA %d %d %d %s" % (port, _abs(host), usage, selector,
                                                    mtype, data)


# --------------------------------------------------------------------------
# TLSA data of a certificate

def _first_cert_der(cert_pem):
    """DER of the first certificate in a PEM file (a chain file: its leaf)."""
    r = subprocess.run(["openssl", "x509", "-in", cert_pem, "-outform", "DER"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise AssertionError("openssl x509 %s: %s" % (cert_pem, r.stderr.decode()))
    return r.stdout


def _spki_der(cert_pem):
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-noout", "-pubkey"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.stdout,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if pub.returncode != 0 or der.returncode != 0:
        raise AssertionError("public key of %s: %s%s" % (cert_pem, pub.stderr.decode(),
                                                         der.stderr.decode()))
    return der.stdout


def tlsa_data(cert_pem, selector, mtype):
    """TLSA association data (hex) for the first certificate of cert_pem: selector 0 =
    the whole certificate, 1 = its SubjectPublicKeyInfo; mtype 0 = exact, 1 = SHA-256,
    2 = SHA-512."""
    import hashlib
    der = _first_cert_der(cert_pem) if selector == 0 else _spki_der(cert_pem)
    if mtype == 0:
        return der.hex()
    return (hashlib.sha256 if mtype == 1 else hashlib.sha512)(der).hexdigest()


def tlsa_311(cert_pem):
    """TLSA 3 1 1 data of cert_pem's leaf = its pin (SHA-256 of the DER SPKI)."""
    return tlsa_data(cert_pem, 1, 1)


# --------------------------------------------------------------------------
# a small DNS client that sets AD (RFC 6840 5.7), as domsecd's queries do

def dns_query(server, port, name, qtype, ad=True, timeout=2.0):
    """(rcode, ad, [rdata bytes of the answers of qtype]) for one UDP query to
    server:port with RD (and AD if ad) set."""
    qid = random.randrange(65536)
    flags = 0x0100 | (0x0020 if ad else 0)
    q = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + _qname(name) + \
        struct.pack("!HH", TYPES[qtype], 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, port))
        while True:
            msg, _ = s.recvfrom(65535)
            if struct.unpack("!H", msg[:2])[0] == qid:
                break
    finally:
        s.close()
    _rid, rflags, qd, an = struct.unpack("!HHHH", msg[:8])
    i = 12
    for _ in range(qd):
        i = _name_at(msg, i)[1] + 4
    answers = []
    for _ in range(an):
        i = _name_at(msg, i)[1]
        typ, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        if typ == TYPES[qtype]:
            answers.append(msg[i + 10:i + 10 + rdlen])
        i += 10 + rdlen
    return rflags & 0xF, bool(rflags & 0x0020), answers


def _free_port(ip):
    """A port free for both UDP and TCP on ip (nsd and unbound bind both)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((ip, 0))
            port = u.getsockname()[1]
            t.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise AssertionError("no free UDP+TCP port on %s" % ip)


def _tool(name):
    exe = shutil.which(name) or os.path.join("/usr/sbin", name)
    if not os.access(exe, os.X_OK):
        raise AssertionError("%s is not installed (scripts/setup installs nsd, unbound and "
                             "ldnsutils); the DANE tests need it and are not skipped" % name)
    return exe


def _run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(argv), r.returncode,
                                                      r.stdout.decode()))
    return r.stdout.decode()


# --------------------------------------------------------------------------
# the zones, nsd and unbound

class _Zone:
    def __init__(self, name, records, kind, tamper):
        if kind not in ("signed", "bogus", "expired", "unsigned"):
            raise AssertionError("zone kind %r" % kind)
        self.name, self.records, self.kind, self.tamper = name, list(records), kind, tamper

    @property
    def signed(self):
        return self.kind != "unsigned"


class SignedZones:
    """Zones under test/, signed at start(), served by nsd and resolved by a validating
    unbound (see the module comment).  servers = "127.0.0.172:PORT" for [dns] servers."""

    def __init__(self, tc, directory):
        self.dir = os.path.join(os.path.abspath(directory), "dane-dns")
        os.makedirs(self.dir, exist_ok=True)
        self.zones = {}
        self.keys = {}                  # zone -> (KSK basename, ZSK basename): kept across
                                        # update() so the anchor stays valid
        self.nsd_port = self.unbound_port = None
        self.started = False
        self.tools = {n: _tool(n) for n in ("ldns-keygen", "ldns-signzone", "nsd", "unbound")}
        tc.addCleanup(self.stop)

    # --- what is served -------------------------------------------------------
    def zone(self, name, records, kind="signed", tamper="TLSA"):
        """Add (before start) zone `name` with records (zone-file lines: mx(), a(),
        tlsa(), ...); SOA and NS (ns.NAME -> NSD_IP) are added."""
        name = name.rstrip(".").lower()
        self.zones[name] = _Zone(name, records, kind, tamper)

    def update(self, name, records, kind=None):
        """Serve new records for a zone (re-signed with the same keys); nsd and unbound
        are restarted, so no cached answer survives."""
        z = self.zones[name.rstrip(".").lower()]
        z.records = list(records)
        if kind:
            z.kind = kind
        self.stop()
        self.start()

    @property
    def servers(self):
        return "%s:%d" % (UNBOUND_IP, self.unbound_port)

    def query(self, name, qtype, ad=True):
        """Ask the validating unbound: (rcode, ad, [rdata bytes])."""
        return dns_query(UNBOUND_IP, self.unbound_port, name, qtype, ad=ad)

    def query_nsd(self, name, qtype):
        """Ask nsd directly (no validation): (rcode, ad, [rdata bytes])."""
        return dns_query(NSD_IP, self.nsd_port, name, qtype, ad=False)

    # --- zone files -----------------------------------------------------------
    def _parent(self, name):
        """The signed zone of ours that name is directly below (delegation), or None."""
        best = None
        for other, z in self.zones.items():
            if other != name and name.endswith("." + other) and z.signed:
                if best is None or len(other) > len(best):
                    best = other
        return best

    def _write(self, z):
        serial = time.strftime("%Y%m%d") + "%02d" % (int(time.time()) % 100)
        lines = ["$ORIGIN %s." % z.name, "$TTL 300",
                 "@ IN SOA ns.%s. hostmaster.%s. %s 3600 600 86400 300"
                 % (z.name, z.name, serial),
                 "@ IN NS ns.%s." % z.name, "ns IN A %s" % NSD_IP]
        for child, cz in self.zones.items():     # unsigned children: NS without DS
            if not cz.signed and self._parent(child) == z.name:
                lines.append("%s. IN NS ns.%s." % (child, z.name))
        lines += z.records
        path = os.path.join(self.dir, z.name + ".zone")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _sign(self, z, path):
        d = self.dir
        if z.name not in self.keys:
            ksk = _run([self.tools["ldns-keygen"], "-a", "ECDSAP256SHA256", "-k", z.name],
                       d).strip()
            zsk = _run([self.tools["ldns-keygen"], "-a", "ECDSAP256SHA256", z.name],
                       d).strip()
            self.keys[z.name] = (ksk, zsk)
        ksk, zsk = self.keys[z.name]
        argv = [self.tools["ldns-signzone"], "-n", "-s", "%016x" % random.getrandbits(64)]
        if z.kind == "expired":
            argv += ["-i", "20200101000000", "-e", "20200201000000"]
        _run(argv + [path, zsk, ksk], d)
        shutil.copyfile(os.path.join(d, ksk + ".ds"), os.path.join(d, z.name + ".ds"))
        signed = path + ".signed"
        if z.kind == "bogus":
            self._tamper(signed, z.tamper)
        return signed

    @staticmethod
    def _tamper(path, rtype):
        """Change the RDATA of every rtype record (not its RRSIG) after signing."""
        out, n = [], 0
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[3] == rtype:
                    n += 1
                    if rtype == "TLSA":
                        line = re.sub(r"[0-9a-fA-F]{20,}$", lambda m: "0" * len(m.group(0)),
                                      line.rstrip("\n")) + "\n"
                    elif rtype == "MX":
                        fields[4] = str(int(fields[4]) + 1)
                        line = "\t".join(fields) + "\n"
                    elif rtype == "A":
                        fields[4] = "127.0.0.254"
                        line = "\t".join(fields) + "\n"
                    else:
                        raise AssertionError("cannot tamper with %s records" % rtype)
                out.append(line)
        if n == 0:
            raise AssertionError("bogus zone %s has no %s record to tamper with" % (path, rtype))
        with open(path, "w") as f:
            f.writelines(out)

    # --- daemons --------------------------------------------------------------
    def _nsd_conf(self, files):
        d = self.dir
        conf = ["server:", "    ip-address: %s@%d" % (NSD_IP, self.nsd_port),
                "    port: %d" % self.nsd_port, "    do-ip6: no", '    username: ""',
                '    chroot: ""', '    zonesdir: "%s"' % d, '    database: ""',
                '    pidfile: "%s/nsd.pid"' % d, '    xfrdfile: "%s/xfrd.state"' % d,
                '    zonelistfile: "%s/zone.list"' % d, '    logfile: "%s/nsd.log"' % d,
                "    server-count: 1", "    verbosity: 1",
                "remote-control:", "    control-enable: no"]
        for name, f in files.items():
            conf += ["zone:", "    name: %s" % name, "    zonefile: %s" % os.path.basename(f)]
        path = os.path.join(d, "nsd.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return path

    def _unbound_conf(self):
        d = self.dir
        conf = ["server:", "    interface: %s" % UNBOUND_IP, "    port: %d" % self.unbound_port,
                "    do-ip6: no", '    username: ""', '    chroot: ""', '    directory: "%s"' % d,
                '    pidfile: "%s/unbound.pid"' % d, '    logfile: "%s/unbound.log"' % d,
                "    use-syslog: no", "    verbosity: 1", "    val-log-level: 2",
                "    ede: yes", "    num-threads: 1", "    access-control: 127.0.0.0/8 allow",
                "    do-not-query-localhost: no", '    local-zone: "test." nodefault']
        for name, z in self.zones.items():
            if z.signed:
                conf.append('    trust-anchor-file: "%s/%s.ds"' % (d, name))
        conf += ["remote-control:", "    control-enable: no"]
        for name in self.zones:
            conf += ["stub-zone:", '    name: "%s"' % name,
                     "    stub-addr: %s@%d" % (NSD_IP, self.nsd_port)]
        path = os.path.join(d, "unbound.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return path

    def _daemon(self, argv, pidfile, what):
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass
        r = subprocess.run(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            return "%s exit %d: %s" % (what, r.returncode, r.stdout.decode())
        return None

    def _ready(self, ip, port, name):
        """The server answers a SOA query for name (any rcode but a timeout)."""
        try:
            dns_query(ip, port, name, "SOA", ad=False, timeout=0.3)
            return True
        except (socket.timeout, ConnectionRefusedError, OSError):
            return False

    def start(self):
        if not self.zones:
            raise AssertionError("SignedZones.start() without a zone")
        files = {}
        for z in self.zones.values():
            path = self._write(z)
            files[z.name] = self._sign(z, path) if z.signed else path
        first = next(iter(self.zones))
        for what, ip in (("nsd", NSD_IP), ("unbound", UNBOUND_IP)):
            for attempt in range(5):    # a free port may be taken before the daemon binds
                port = _free_port(ip)
                if what == "nsd":
                    self.nsd_port = port
                    conf = self._nsd_conf(files)
                    err = self._daemon([self.tools["nsd"], "-c", conf],
                                       os.path.join(self.dir, "nsd.pid"), "nsd")
                else:
                    self.unbound_port = port
                    conf = self._unbound_conf()
                    err = self._daemon([self.tools["unbound"], "-c", conf],
                                       os.path.join(self.dir, "unbound.pid"), "unbound")
                if err is None:
                    try:
                        wait_until(lambda: self._ready(ip, port, first), 10,
                                   "%s on %s:%d" % (what, ip, port))
                        break
                    except AssertionError as e:
                        err = str(e)
                        self._kill(what)
            else:
                raise AssertionError("%s did not start: %s\n%s" % (what, err, self.log(what)))
        self.started = True

    def log(self, what):
        try:
            with open(os.path.join(self.dir, what + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _pid(self, what):
        try:
            with open(os.path.join(self.dir, what + ".pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _kill(self, what):
        pid = self._pid(what)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return

        def gone():
            try:
                os.kill(pid, 0)
                return False
            except ProcessLookupError:
                return True
        try:
            wait_until(gone, 10, "%s (pid %d) to exit" % (what, pid))
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
            wait_until(gone, 5, "%s (pid %d) to die" % (what, pid))
        try:
            os.unlink(os.path.join(self.dir, what + ".pid"))
        except FileNotFoundError:
            pass

    def stop(self):
        self._kill("unbound")
        self._kill("nsd")
        self.started = False
