"""--idle: domsecd's memory with N idle connections, plain and TLS."""

import os
import signal
import socket
import subprocess
import time

from . import procs as P
from .domsec import domsec_start
from .procs import (established, free_port, log, nfds, parse_line, procs, read_line,
                    stop, tree_kib)

# --- idle connections (issue 7: memory with 10,000 idle connections) -------------------

def raise_nofile(need):
    """Soft and hard RLIMIT_NOFILE of this process (inherited by domsecd and the idle
    tool) to at least need; domsecd does not raise its own soft limit (the packaged unit
    sets LimitNOFILE=65536)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/sys/fs/nr_open") as f:
        cap = int(f.read())
    want = min(cap, max(need, soft))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def idle_run(tmp, pki, n, tls, timeout, suffix=""):
    """Fresh domsecd; n sessions held idle (plain: banner + EHLO; TLS: + STARTTLS with
    the partner's client certificate + EHLO), RSS before/while/after."""
    tag = "idle-%s%s" % ("tls" if tls else "plain", suffix)
    rport = free_port()
    # Sources spread over 127.1.x.y, 50 per address; per-source limit 100 (not the
    # 20000 of the load runs), total limit n + 100; timeouts far above the run.
    limits = ("max_inbound_connection = %d\nmax_inbound_connection_per_source = 100\n"
              "connection_timeout = 2h\nconnection_inactivity_timeout = 1h\n" % (n + 100))
    rp, pid, relay_log = domsec_start(tmp, pki, rport, free_port(), free_port(socket.SOCK_DGRAM),
                                      tag, limits)
    time.sleep(1.0)
    rss0, fd0 = tree_kib(pid), nfds(pid)
    argv = [os.path.join(P.BUILD, "bench", "idle"), "-s", "127.0.0.1:%d" % rport, "-n", str(n),
            "-B", "127.1", "-p", "50", "-C", "200", "-T", str(timeout)]
    if tls:
        argv += ["-c", os.path.join(pki, "partner-ok.pem"), "-k", os.path.join(pki, "partner-ok.key"),
                 "-a", os.path.join(pki, "trusted-ca.pem"), "-N", "mail.contoso.test"]
    else:
        argv += ["-P"]
    errf = os.path.join(tmp, "%s.err" % tag)
    ip = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=open(errf, "wb"))
    procs.append(ip)
    line = read_line(ip, timeout + 30)
    r = parse_line(line)
    time.sleep(3.0)     # let the daemon settle (deferred frees, log writes)
    est, fd1 = established(rport), nfds(pid)
    rss1, hwm1 = tree_kib(pid), tree_kib(pid, "VmHWM")
    client_rss = tree_kib(ip.pid)
    time.sleep(5.0)     # still held a few seconds later?
    est2 = established(rport)
    ip.send_signal(signal.SIGTERM)
    end = read_line(ip, 30)
    try:
        ip.wait(30)
    except subprocess.TimeoutExpired:
        ip.kill()
    deadline = time.monotonic() + 30
    while established(rport) > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2.0)
    rss2, est3, fd2 = tree_kib(pid), established(rport), nfds(pid)
    daemon_alive = rp.poll() is None
    stop(rp, 30)
    held = int(r.get("held", 0))
    res = {"mode": "STARTTLS + client cert" if tls else "plain (banner + EHLO)", "n": n,
           "held": held, "failed": int(r.get("failed", n)), "setup_s": float(r.get("elapsed", 0)),
           "est": est, "est_later": est2, "fd0": fd0, "fd1": fd1, "rss0": rss0, "rss1": rss1,
           "hwm1": hwm1, "rss2": rss2, "est_after": est3, "fd2": fd2, "client_rss": client_rss,
           "alive": daemon_alive, "end": end, "line": line}
    log("%s: %s | %s | established on the daemon %d (5 s later %d), fds %d -> %d -> %d, "
        "RSS %d -> %d -> %d KiB" % (tag, line, end, est, est2, fd0, fd1, fd2, rss0, rss1, rss2))
    if held != n or r.get("first_error"):
        log("%s: first error: %s" % (tag, r.get("first_error", "?")))
        P.show_tail(relay_log, 10)
    return res


def idle_main(tmp, pki, n, suffix=""):
    """Both modes with a fresh domsecd each (suffix: of their temp dirs, one per build)."""
    lim = raise_nofile(n + 4096)
    log("RLIMIT_NOFILE for domsecd and the idle tool: soft %d hard %d" % lim)
    rows = [idle_run(tmp, pki, n, tls, 600, suffix) for tls in (False, True)]
    print("\n## Idle connections: %d sessions held on one receive connector (domsecd RSS)" % n)
    print("| mode | held / asked | daemon ESTABLISHED | setup s | RSS before MiB | RSS held MiB "
          "| KiB per connection | RSS after close MiB | daemon fds held |")
    print("|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        per = (x["rss1"] - x["rss0"]) / x["held"] if x["held"] else 0
        print("| %s | %d / %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %d |" % (
            x["mode"], x["held"], x["n"], x["est"], x["setup_s"], x["rss0"] / 1024.0,
            x["rss1"] / 1024.0, per, x["rss2"] / 1024.0, x["fd1"]))
    for x in rows:
        print("%s: still ESTABLISHED 5 s later %d; after the client exited %d; daemon alive "
              "%s; client RSS %.1f MiB" % (x["mode"], x["est_later"], x["est_after"],
                                          "yes" if x["alive"] else "NO", x["client_rss"] / 1024.0))
