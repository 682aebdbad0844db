"""
sts_peers.py - the other side of MTA-STS and TLS-RPT (issue 16): TXT records for
peers.Dns, an HTTPS policy server that also takes TLS-RPT POSTs, and server
certificates for chosen DNS names from the test PKI (tests/pki/make-pki.sh).

    from peers import Dns, host, mx
    from sts_peers import PolicyServer, server_cert, sts_policy, txt

    dns = Dns(self, [txt("_mta-sts.woodgrove.test", "v=STSv1; id=1"),
                     host("mta-sts.woodgrove.test", "127.0.0.65"), ...])
    cert, key = server_cert(self.pki, "mta-sts-wg", ["mta-sts.woodgrove.test"])
    web = PolicyServer(self, "127.0.0.65", {"mta-sts.woodgrove.test":
                       sts_policy("enforce", ["mx.woodgrove.test"], 86400)}, cert, key)
    ...
    web.set("mta-sts.woodgrove.test", "version: STSv1\\r\\nmode: none\\r\\n...")
    self.assertEqual(len(web.gets("mta-sts.woodgrove.test")), 1)
    dns.replace([...])        # a changed TXT id: dnsmasq restarted on the same port

Python 3 stdlib only; every thread and process is stopped in a cleanup.
"""

import errno
import http.server
import os
import socketserver
import ssl
import subprocess
import threading
import time

from domsec_harness import wait_until

POLICY_PATH = "/.well-known/mta-sts.txt"


# --------------------------------------------------------------------------
# test programs

def build_program(name):
    """$DOMSEC_BUILD/tests/NAME, a test driver built by tests/CMakeLists.txt
    (relay_http_drive, dns_txt_drive)."""
    build = os.environ.get("DOMSEC_BUILD")
    if not build:
        raise AssertionError("DOMSEC_BUILD is not set (needs $DOMSEC_BUILD/tests/%s)" % name)
    exe = os.path.join(os.path.abspath(build), "tests", name)
    if not os.access(exe, os.X_OK):
        raise AssertionError("%s is missing: build the %s target" % (exe, name))
    return exe


# --------------------------------------------------------------------------
# DNS

def txt(name, *strings):
    """A dnsmasq TXT record: one record of name whose character-strings are `strings`
    (a string longer than 255 bytes is split into several, as RFC 7208 3.3 readers
    concatenate them).  Given as raw RDATA (--dns-rr): dnsmasq's --txt-record splits at
    every comma and takes quotes literally on the command line."""
    rdata = b""
    for s in strings:
        b = s.encode()
        for c in [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]:
            rdata += bytes([len(c)]) + c
    return "--dns-rr=%s,16,%s" % (name, rdata.hex())


def sts_policy(mode, mxs, max_age, version="STSv1", eol="\r\n"):
    """The text of an RFC 8461 3.2 policy file."""
    lines = ["version: %s" % version, "mode: %s" % mode]
    lines += ["mx: %s" % m for m in mxs]
    lines.append("max_age: %d" % max_age)
    return eol.join(lines) + eol


# --------------------------------------------------------------------------
# certificates from the test PKI

def _at(seconds):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + seconds))


def server_cert(pki, name, dns_names, issuer="inter", start=-86400, end=365 * 86400,
                eku="serverAuth"):
    """Issue a TLS server certificate for dns_names (subjectAltName DNS entries, the
    first also the CN) from CA `issuer` of the PKI in directory `pki` (built by
    pki.make_pki / PkiMixin: "inter", "inter2", "root" or the untrusted "rogue"),
    with make-pki.sh's own openssl-ca configuration and databases.  start/end are
    seconds from now (negative end: expired).  Returns (pem, key): pki/NAME.pem is
    the certificate followed by its issuer's, as a server sends it."""
    def run(*argv):                     # the configuration names the CA as $CA
        r = subprocess.run(argv, cwd=pki, env=dict(os.environ, CA=issuer), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise AssertionError("%s failed:\n%s" % (" ".join(argv), r.stdout.decode()))
    key, pem = os.path.join(pki, name + ".key"), os.path.join(pki, name + ".pem")
    csr, crt, ext = ("ca/%s.%s" % (name, e) for e in ("csr", "crt", "ext"))
    with open(os.path.join(pki, ext), "w") as f:
        f.write("[ ext ]\nbasicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature\nsubjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid\n")
        if dns_names:
            f.write("subjectAltName = %s\n" % ",".join("DNS:" + n for n in dns_names))
        if eku:
            f.write("extendedKeyUsage = %s\n" % eku)
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", key)
    os.chmod(key, 0o600)
    run("openssl", "req", "-new", "-config", "ca/openssl.cnf", "-key", key,
        "-subj", "/O=MTA-STS test/CN=%s" % (dns_names[0] if dns_names else name), "-out", csr)
    run("openssl", "ca", "-batch", "-config", "ca/openssl.cnf", "-in", csr, "-out", crt,
        "-notext", "-startdate", _at(start), "-enddate", _at(end), "-extfile", ext,
        "-extensions", "ext")
    with open(pem, "wb") as out:
        for part in (os.path.join(pki, crt), os.path.join(pki, issuer + ".pem")):
            with open(part, "rb") as f:
                out.write(f.read())
    return pem, key


# --------------------------------------------------------------------------
# the HTTPS server

class Request:
    """One request the PolicyServer read: method, host (Host header without port),
    path, headers (an email.message.Message: case-insensitive), body bytes, t."""

    def __init__(self, method, host, path, headers, body):
        self.method, self.host, self.path = method, host, path
        self.headers, self.body = headers, body
        self.t = time.monotonic()

    def __repr__(self):
        return "Request(%s https://%s%s, %d bytes)" % (self.method, self.host, self.path,
                                                       len(self.body))


class Response:
    """A scripted answer: status, body (str or bytes), headers; delay: seconds before
    answering (hang=True: never answer until the server stops); length=False: no
    Content-Length (the body ends when the connection closes, HTTP/1.0)."""

    def __init__(self, status=200, body=b"", headers=None, delay=0, hang=False, length=True):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.delay, self.hang, self.length = delay, hang, length


class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = 10                        # a client that stalls loses its thread after 10 s

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, OSError) as e:   # handshake refused, client went away
            self.server.owner._note_tls_failure(e)

    def _host(self):
        return (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()

    def _answer(self, resp):
        owner = self.server.owner
        if resp.hang:
            owner.stopping.wait(60)
            return
        if resp.delay:
            owner.stopping.wait(resp.delay)
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if resp.length:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self):
        owner = self.server.owner
        host = self._host()
        owner._log(Request("GET", host, self.path, self.headers, b""))
        self._answer(owner._response(host, self.path))

    def do_POST(self):
        owner = self.server.owner
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        owner._log(Request("POST", self._host(), self.path, self.headers, body))
        self._answer(owner.post_response)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):              # HTTPServer's getfqdn() would ask DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class PolicyServer:
    """HTTPS on ip:port (default 443, so https://mta-sts.D/ reaches it) with
    certificate `cert` (PEM, chain) and `key`.  GET /.well-known/mta-sts.txt answers
    from files: {host name: policy text (200 text/plain) or a Response}; a host not
    in files (or another path) gets 404.  POST (TLS-RPT https reports) to any path:
    kept in the request log and answered with post_response (default 200).
    Everything can change at run time (set, remove, post_response, stop/start,
    set_cert); requests() is the log of every request read, oldest first."""

    def __init__(self, tc, ip, files, cert, key, port=443):
        self.ip, self.port = ip, port
        self.files = {h.lower(): v for h, v in dict(files).items()}
        self.cert, self.key = cert, key
        self.post_response = Response(200, b"")
        self.lock = threading.Lock()
        self._requests = []
        self.tls_failures = []          # exceptions of connections that died in TLS/IO (a
                                        # client that rejects the certificate and just
                                        # closes, as libcurl-gnutls does, leaves none)
        self.stopping = threading.Event()
        self.srv = None
        tc.addCleanup(self.stop)
        self.start()

    # --- content, changeable at run time ------------------------------------
    def set(self, host, policy):
        with self.lock:
            self.files[host.lower()] = policy

    def remove(self, host):
        with self.lock:
            self.files.pop(host.lower(), None)

    def _response(self, host, path):
        with self.lock:
            v = self.files.get(host) if path == POLICY_PATH else None
        if v is None:
            return Response(404, "not found\n", {"Content-Type": "text/plain"})
        if isinstance(v, Response):
            return v
        return Response(200, v, {"Content-Type": "text/plain"})

    # --- what arrived ---------------------------------------------------------------
    def _log(self, req):
        with self.lock:
            self._requests.append(req)

    def _note_tls_failure(self, e):
        with self.lock:
            self.tls_failures.append(e)

    def requests(self, method=None, host=None):
        with self.lock:
            return [r for r in self._requests
                    if (method is None or r.method == method) and (host is None or r.host == host)]

    def gets(self, host=None):
        """GETs of the policy file (of host)."""
        return [r for r in self.requests("GET", host) if r.path == POLICY_PATH]

    def posts(self):
        return self.requests("POST")

    def wait_requests(self, n, method=None, host=None, timeout=30):
        """Wait until at least n requests (of method / host) arrived; return them."""
        return wait_until(lambda: (lambda rs: rs if len(rs) >= n else None)(
            self.requests(method, host)), timeout,
            "%d %s request(s) at %s:%d" % (n, method or "HTTP", self.ip, self.port))

    # --- life ---------------------------------------------------------------------
    def start(self):
        """Listen (again) on ip:port; the handshake runs in the handler thread
        (do_handshake_on_connect=False: a silent client must not block accept)."""
        if self.srv is not None:
            return
        self.stopping.clear()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        deadline = time.monotonic() + 30
        while True:                     # ip:port may be another test's for a while (ctest -j,
            try:                        # other worktrees): wait for it, bounded
                srv = _Server((self.ip, self.port), _Handler)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        srv.owner = self
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
        self.srv = srv
        self.thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        """Stop listening (connections are refused); hanging answers end."""
        if self.srv is None:
            return
        self.stopping.set()
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(10)
        self.srv = None

    def set_cert(self, cert, key):
        """Serve another certificate from now on (restarts the listener)."""
        self.cert, self.key = cert, key
        self.stop()
        self.start()
