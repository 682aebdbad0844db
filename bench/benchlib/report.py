"""One measured run (sink, relay, load) and the figures taken from it."""

import subprocess
import sys
import time

from .domsec import dnsmasq, domsec_start, load, sink
from .postfix import postfix_dirs, postfix_start, postfix_stop
from .procs import (free_port, log, parse, procs, stop, tree, tree_cpu, tree_cpu_split,
                    tree_hwm_kib)

# --- one measured run ----------------------------------------------------------------

def one_run(relay, tmp, pki, n, m, size, tag, timeout):
    """Start sink and relay, drive n x m messages, wait for the sink, measure, stop."""
    rport, sport = free_port(), free_port()
    total = n * m
    sp, sout = sink(tmp, pki, sport, total, tag, timeout + 60)
    dns_p = None
    if relay == "domsec":
        dns_port = dnsmasq(tmp)
        dns_p = procs[-1]
        rp, pid, relay_log = domsec_start(tmp, pki, rport, sport, dns_port, tag)
    else:
        pid, relay_log = postfix_start(tmp, pki, rport, sport, tag)
    time.sleep(0.5)
    cpu0 = tree_cpu(pid)
    split0 = tree_cpu_split(pid)
    lr = load(tmp, pki, rport, n, m, size, tag, timeout)
    try:
        sp.wait(timeout)
    except subprocess.TimeoutExpired:
        log("%s: sink did not get all %d messages in %ds" % (relay, total, timeout))
        stop(sp)
    cpu = tree_cpu(pid) - cpu0
    split = [b - a for a, b in zip(split0, tree_cpu_split(pid))]
    rss = tree_hwm_kib(pid)
    nprocs = len(tree(pid))
    if relay == "domsec":
        stop(rp, 30)
        stop(dns_p)
    else:
        postfix_stop(postfix_dirs[-1])
    stop(sp)
    sr = parse(sout)
    res = {"relay": relay, "n": n, "m": m, "size": size, "load": lr, "sink": sr,
           "cpu": cpu, "user": split[0], "sys": split[1], "rss_kib": rss, "procs": nprocs,
           "log": relay_log}
    got = int(sr.get("messages", 0))
    if got != total or lr.get("failed", "1") != "0":
        log("%s %s: sink got %d of %d; load: %s" % (relay, tag, got, total,
                                                  lr.get("first_error", lr)))
        try:
            with open(relay_log, errors="replace") as f:
                sys.stderr.write("".join(f.readlines()[-15:]))
        except OSError:
            pass
    return res


def fmt_row(name, dv, pv, fmt, invert=False):
    if dv is None or pv is None:
        ratio = "-"
    else:
        ratio = "%.2f" % (dv / pv) if pv else "-"
    return "| %s | %s | %s | %s |" % (name, fmt % dv if dv is not None else "-",
                                      fmt % pv if pv is not None else "-", ratio)


def metrics(r):
    if not r:
        return {}
    lr, sr = r["load"], r["sink"]
    f = lambda d, k: float(d[k]) if k in d else None
    return {"rate": f(sr, "e2e_rate"), "eod50": f(lr, "p50_ms"), "eod99": f(lr, "p99_ms"),
            "arr50": f(sr, "p50_ms"), "arr99": f(sr, "p99_ms"), "cpu": r["cpu"],
            "rss": r["rss_kib"] / 1024.0, "delivered": int(sr.get("messages", 0)),
            "procs": r["procs"], "outtls": f(sr, "tls_sessions")}
