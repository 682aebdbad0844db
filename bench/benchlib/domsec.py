"""The pieces of a run: build, test PKI, sink, load generator, dnsmasq, domsecd."""

import os
import shutil
import socket
import subprocess
import sys
import time

from . import procs as P
from .procs import (NOBODY, OUT_CONC, PARTNER, ROOT, free_port, listening, log, parse, start,
                    wait_for)

# --- the pieces ----------------------------------------------------------------------

def build(bdir=None, setup_args=(), cmake_args=()):
    """scripts/setup (the Debian packages; idempotent, quick when present), then
    scripts/build into bdir (default the run's binaries directory)."""
    bdir = bdir or P.BUILD
    subprocess.run([os.path.join(ROOT, "scripts", "setup")] + list(setup_args), check=True,
                   timeout=1800)
    log("building into %s (scripts/build%s)" % (bdir, "".join(" " + x for x in cmake_args)))
    subprocess.run([os.path.join(ROOT, "scripts", "build"), bdir] + list(cmake_args),
                   check=True, stdout=subprocess.DEVNULL, timeout=3600)


def make_pki(tmp):
    pki = os.path.join(tmp, "pki")
    os.mkdir(pki)
    env = dict(os.environ, CRL_PORT=str(free_port()))   # nothing serves it: crl_fetch = no
    subprocess.run([os.path.join(ROOT, "tests", "pki", "make-pki.sh"), pki], check=True,
                   env=env, stdout=subprocess.DEVNULL, timeout=120)
    return pki


def sink(tmp, pki, port, expect, tag, timeout):
    out = os.path.join(tmp, "sink-%s.txt" % tag)
    p = start([os.path.join(P.BUILD, "bench", "smtp_sink"), "-l", "127.0.0.1:%d" % port,
               "-c", os.path.join(pki, "partner-ok.pem"), "-k", os.path.join(pki, "partner-ok.key"),
               "-a", os.path.join(pki, "trusted-ca.pem"), "-N", "mail." + PARTNER,
               "-e", str(expect), "-T", str(timeout), "-o", out],
              os.path.join(tmp, "sink-%s.log" % tag))
    wait_for(lambda: listening(port), 10, "smtp_sink on %d" % port)
    return p, out


def load(tmp, pki, port, n, m, size, tag, timeout, flags=()):
    """smtp_load: n partners x m messages (flags: -R one message per connection)."""
    out = os.path.join(tmp, "load-%s.txt" % tag)
    subprocess.run([os.path.join(P.BUILD, "bench", "smtp_load"), "-s", "127.0.0.1:%d" % port,
                    "-n", str(n), "-m", str(m), "-z", str(size),
                    "-c", os.path.join(pki, "partner-ok.pem"),
                    "-k", os.path.join(pki, "partner-ok.key"),
                    "-a", os.path.join(pki, "trusted-ca.pem"), "-N", "mail.contoso.test",
                    "-f", "bench@" + PARTNER, "-r", "user@" + PARTNER, "-T", str(timeout),
                    "-o", out] + list(flags), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   timeout=timeout + 30)
    return parse(out)


def dnsmasq(tmp):
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    for _ in range(5):
        port = free_port(socket.SOCK_DGRAM)
        p = start([exe, "--keep-in-foreground", "--conf-file=/dev/null", "--port=%d" % port,
                   "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                   "--no-hosts", "--no-poll", "--user=root", "--local=/test/",
                   "--pid-file=%s/dnsmasq-%d.pid" % (tmp, port),
                   "--mx-host=%s,mail.%s,10" % (PARTNER, PARTNER),
                   "--host-record=mail.%s,127.0.0.1" % PARTNER], os.path.join(tmp, "dnsmasq-%d.log" % port))
        time.sleep(0.3)
        if p.poll() is None:
            return port
    raise RuntimeError("dnsmasq did not start")


RECV_LIMITS = """max_inbound_connection = 20000
max_inbound_connection_per_source = 20000
"""


def domsec_start(tmp, pki, rport, sport, dns_port, tag, recv_limits=RECV_LIMITS, wrap=None,
                 ready_timeout=20, bdir=None):
    d = os.path.join(tmp, "relay-" + tag)
    store, crl = os.path.join(d, "store"), os.path.join(d, "crl")
    for x in (d, store, crl):
        os.makedirs(x, 0o755)
        os.chmod(x, 0o755)
    for ext, mode in ((".pem", 0o644), (".key", 0o600)):
        dst = os.path.join(store, "relay" + ext)
        shutil.copy(os.path.join(pki, "relay" + ext), dst)
        os.chmod(dst, mode)
        os.chown(dst, NOBODY, NOBODY)
    for c in ("inter.crl", "root.crl", "inter2.crl"):
        shutil.copy(os.path.join(pki, c), os.path.join(crl, c))
        os.chmod(os.path.join(crl, c), 0o644)
    conf = os.path.join(d, "domsec.conf")
    with open(conf, "w") as f:
        f.write("""[service]
user = nobody
control_socket = {d}/control
[transport]
accepted_domains = contoso.test
queue_directory = {d}/queue
certificate_store = {store}
trusted_ca_file = {pki}/trusted-ca.pem
crl_directory = {crl}
crl_fetch = no
tls_send_domain_secure_list = {partner}
tls_receive_domain_secure_list = {partner}
max_per_domain_outbound_connections = {oconc}
[receive Partner]
bindings = 127.0.0.1:{rport}
fqdn = mail.contoso.test
auth_mechanism = tls
domain_secure_enabled = yes
permission = internal
{limits}[send Partner]
address_spaces = {partner}
dns_routing = yes
port = {sport}
fqdn = mail.contoso.test
domain_secure_enabled = yes
[dns]
servers = 127.0.0.1:{dns}
timeout = 2s
""".format(d=d, store=store, pki=pki, crl=crl, partner=PARTNER, rport=rport, sport=sport,
           dns=dns_port, limits=recv_limits, oconc=OUT_CONC))
    logf = os.path.join(d, "domsecd.log")
    p = start((wrap or []) + [os.path.join(bdir or P.BUILD, "domsecd"), "-c", conf], logf)
    try:
        wait_for(lambda: listening(rport), ready_timeout, "domsecd on %d" % rport)
    except RuntimeError:
        with open(logf) as f:
            sys.stderr.write(f.read()[-3000:])
        raise
    return p, p.pid, logf
