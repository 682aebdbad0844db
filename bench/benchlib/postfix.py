"""A private Postfix instance as the relay under test, and the run's cleanup."""

import os
import pwd
import shutil
import signal
import subprocess
import time

from .procs import (OUT_CONC, PARTNER, alive, listening, postfix_dirs, procs, stop, tree,
                    wait_for)

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
tlsproxy  unix  -       -       n       -       0       tlsproxy
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
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mail.contoso.test
mydomain = contoso.test
myorigin = $myhostname
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks =
relay_domains = {partner}
smtpd_relay_restrictions = check_ccert_access texthash:{e}/ccert, reject
smtpd_tls_fingerprint_digest = sha256
transport_maps = texthash:{e}/transport
default_transport = error:bench sends only to {partner}
smtpd_peername_lookup = no
default_process_limit = {plimit}
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
biff = no
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
smtpd_tls_cert_file = {e}/relay.pem
smtpd_tls_key_file = {e}/relay.key
smtpd_tls_CAfile = {e}/trusted-ca.pem
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_req_ccert = yes
smtpd_tls_session_cache_database = btree:{d}/data/smtpd_scache
smtp_tls_security_level = secure
smtp_tls_policy_maps = texthash:{e}/tls_policy
smtp_tls_CAfile = {e}/trusted-ca.pem
smtp_tls_cert_file = {e}/relay.pem
smtp_tls_key_file = {e}/relay.key
smtp_tls_session_cache_database = btree:{d}/data/smtp_scache
smtp_tls_connection_reuse = {reuse}
# the outbound leg as domsec's (procs.OUT_CONC = its max_per_domain_outbound_connections):
# that many connections to the sink at once from the start (Postfix's defaults: 20, slow
# start from 5), and no inbound throttle when deliveries lag (domsec has none)
default_destination_concurrency_limit = {oconc}
smtp_destination_concurrency_limit = {oconc}
initial_destination_concurrency = {oconc}
in_flow_delay = 0s
"""


POSTFIX_PROCS = 100    # default_process_limit; runs raise it to sessions + 100
POSTFIX_REUSE = "no"   # smtp_tls_connection_reuse (Debian's default; --postfix-reuse: yes)


def postfix_run(conf, *args, timeout=60):
    return subprocess.run(["postfix", "-c", conf] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


def postfix_start(tmp, pki, rport, sport, tag):
    d = os.path.join(tmp, "relay-" + tag)
    e = os.path.join(d, "etc")
    os.makedirs(e)
    os.chmod(d, 0o755)
    pf = pwd.getpwnam("postfix")
    for sub in ("queue", "data"):
        os.mkdir(os.path.join(d, sub), 0o755)
    os.chown(os.path.join(d, "data"), pf.pw_uid, pf.pw_gid)
    for name, mode in (("relay.pem", 0o644), ("relay.key", 0o600), ("trusted-ca.pem", 0o644)):
        shutil.copy(os.path.join(pki, name), os.path.join(e, name))
        os.chmod(os.path.join(e, name), mode)
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                         os.path.join(pki, "partner-ok.pem")], check=True, capture_output=True,
                        text=True).stdout.strip().split("=", 1)[1]
    files = {"ccert": "%s OK\n" % fp,
             "transport": "%s smtp:[127.0.0.1]:%d\n" % (PARTNER, sport),
             "tls_policy": "[127.0.0.1]:%d secure match=%s:.%s\n" % (sport, PARTNER, PARTNER),
             "main.cf": MAIN_CF.format(d=d, e=e, partner=PARTNER,
                                        plimit=max(100, POSTFIX_PROCS),
                                        reuse=POSTFIX_REUSE, oconc=OUT_CONC),
             "master.cf": MASTER_CF.format(port=rport)}
    for name, text in files.items():
        with open(os.path.join(e, name), "w") as f:
            f.write(text)
    postfix_dirs.append(e)
    r = postfix_run(e, "start")
    if r.returncode:
        raise RuntimeError("postfix start failed: %s" % r.stdout.decode())
    wait_for(lambda: listening(rport), 30, "Postfix on %d" % rport)
    pidf = os.path.join(d, "queue", "pid", "master.pid")
    wait_for(lambda: os.path.exists(pidf), 10, "master.pid")
    with open(pidf) as f:
        return int(f.read().strip()), os.path.join(d, "postfix.log")


def postfix_stop(e):
    pidf = os.path.join(os.path.dirname(e), "queue", "pid", "master.pid")
    pid = None
    try:
        with open(pidf) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        pass
    try:
        postfix_run(e, "stop", timeout=30)
    except subprocess.TimeoutExpired:
        pass
    if pid:
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            for p in tree(pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
    if e in postfix_dirs:
        postfix_dirs.remove(e)

def cleanup():
    for p in reversed(procs):
        try:
            stop(p, 10)
        except Exception:
            pass
    for d in postfix_dirs:
        postfix_stop(d)
