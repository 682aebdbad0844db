"""One measured run (sink, relay, load) and the figures taken from it."""

import subprocess
import time

from . import procs as P
from .domsec import dnsmasq, domsec_start, load, sink
from .postfix import postfix_dirs, postfix_start, postfix_stop
from .procs import (free_port, log, parse, procs, stop, tree, tree_cpu, tree_cpu_split,
                    tree_hwm_kib)

# --- one measured run ----------------------------------------------------------------

def one_run(relay, tmp, pki, n, m, size, tag, timeout, bdir=None, perconn=False, drain=120,
            resume=False):
    """Start sink and relay (domsecd from bdir, default the run's binaries), drive n
    partners x m messages (perconn: one connection per message), wait at most drain s
    after the load for the sink to count them all, measure, stop.  Every phase is
    bounded; a relay that fell behind gives a partial result and one line saying so."""
    rport, sport = free_port(), free_port()
    total = n * m
    sp, sout = sink(tmp, pki, sport, total, tag, timeout + drain + 60)
    dns_p = None
    if relay == "domsec":
        dns_port = dnsmasq(tmp)
        dns_p = procs[-1]
        rp, pid, relay_log = domsec_start(tmp, pki, rport, sport, dns_port, tag, bdir=bdir)
    else:
        pid, relay_log = postfix_start(tmp, pki, rport, sport, tag)
    time.sleep(0.5)
    cpu0 = tree_cpu(pid)
    split0 = tree_cpu_split(pid)
    lr = load(tmp, pki, rport, n, m, size, tag, timeout,
              (["-R"] + (["-S"] if resume else [])) if perconn else [])
    note = None
    try:
        sp.wait(drain)
    except subprocess.TimeoutExpired:
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
    got = int(sr.get("messages", 0))
    if got != total:
        note = "%s: %d/%d delivered after %d s; stopped" % (tag, got, total, drain)
        print(note, flush=True)
    res = {"relay": relay, "n": n, "m": m, "size": size, "load": lr, "sink": sr,
           "cpu": cpu, "user": split[0], "sys": split[1], "rss_kib": rss, "procs": nprocs,
           "log": relay_log, "total": total, "partial": got != total or lr.get("failed") != "0",
           "note": note}
    if res["partial"]:
        log("%s %s: sink got %d of %d; load: %s" % (relay, tag, got, total,
                                                  lr.get("first_error", lr)))
        P.show_tail(relay_log, 15)
    return res


def metrics(r):
    if not r or "failed" in r:
        return {}
    lr, sr = r["load"], r["sink"]
    f = lambda d, k: float(d[k]) if k in d else None
    return {"rate": f(sr, "e2e_rate"), "eod50": f(lr, "p50_ms"), "eod99": f(lr, "p99_ms"),
            "arr50": f(sr, "p50_ms"), "arr99": f(sr, "p99_ms"), "cpu": r["cpu"],
            "rss": r["rss_kib"] / 1024.0, "delivered": int(sr.get("messages", 0)),
            "procs": r["procs"], "outtls": f(sr, "tls_sessions"),
            "outres": f(sr, "tls_resumed"), "intls": f(lr, "handshakes"),
            "inres": f(lr, "resumed"), "total": r["total"], "partial": r["partial"],
            "cpu_ms": r["cpu"] * 1000.0 / int(sr["messages"]) if sr.get("messages", "0") != "0"
            else None,
            "hs_cpu": full_handshakes(lr, sr) / r["cpu"] if r["cpu"] > 0 else None}


HS_RULE = ("full handshakes per relay CPU s = (inbound TLS - resumed + outbound TLS - "
           "resumed) / relay CPU s: a resumed session (in brackets; TLS 1.3 resumption is "
           "2 x X25519, about a quarter of a full handshake's crypto) is not counted, its CPU "
           "stays in the divisor, so the figure and its % of the crypto limit never favour "
           "the relay that resumes more")


def full_handshakes(lr, sr):
    """Full (not resumed) TLS handshakes on both legs: the load's and the sink's counts."""
    g = lambda d, k: int(d.get(k, 0) or 0)
    return (g(lr, "handshakes") - g(lr, "resumed")) + (g(sr, "tls_sessions") - g(sr, "tls_resumed"))


# --- the main table: each job for each relay, and the crypto limit --------------------

JOBS = {"pipelined": "pipelined (one session per partner, M messages each)",
        "perconn": "one message per connection (new TCP + full mutual-TLS handshake each)"}


def label(relay, kind):
    return "Postfix" if relay == "postfix" else "domsec (%s wolfSSL)" % kind


def run_jobs(a, tmp, pki, jobs, variants, sizes, timeout, limit):
    """Every job for every (relay, kind, build dir); prints the main table and, per
    job, the detailed comparison.  sizes: job -> (partners, messages per partner)."""
    rows = []
    for job in jobs:
        n, m = sizes[job]
        for relay, kind, bdir in variants:
            tag = "%s-%s%s" % (job, relay, "" if relay == "postfix" else "-" + kind)
            log("%s: %d partners x %d messages x %d bytes, %s" % (tag, n, m, a.size, JOBS[job]))
            try:
                r = one_run(relay, tmp, pki, n, m, a.size, tag, timeout, bdir=bdir,
                            perconn=job == "perconn", drain=a.drain, resume=a.resume)
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                # the rows measured so far are still printed; the cleanup stops its processes
                r = {"failed": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200]
                                           if str(e) else "")}
                log("%s: failed: %s" % (tag, r["failed"]))
            rows.append((job, relay, kind, r, metrics(r)))
    f = lambda x, fmt: fmt % x if x is not None else "-"
    print("\n## Main table: %d-byte messages, mutual TLS on both legs (partner certificate "
          "inbound, relay certificate outbound)" % a.size)
    for job in jobs:
        print("- %s: %s, %d partners x %d messages%s" % (
            job, JOBS[job], *sizes[job],
            "; partners offer their previous session (--resume)"
            if job == "perconn" and a.resume else ""))
    print("- %s" % HS_RULE)
    print("- load generator and sink: %s/bench; domsecd: %s" % (P.BUILD, "; ".join(
        "%s wolfSSL %s" % (kind, bdir) for relay, kind, bdir in variants if relay == "domsec")))
    if limit:
        print("- crypto limit: %s" % limit[2])
    print()
    print("| job | relay | delivered | msg/s | relay CPU s | CPU ms per msg | EOD->250 p50 ms "
          "| EOD->250 p99 ms | inbound TLS (resumed) | outbound TLS (resumed) "
          "| full handshakes per relay CPU s | % of crypto limit | msg/s / Postfix |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for job, relay, kind, r, x in rows:
        if not x:
            print("| %s | %s | failed: %s |%s" % (job, label(relay, kind), r["failed"],
                                                 " - |" * 10))
            continue
        pf = [y for j, rl, _, _, y in rows if j == job and rl == "postfix"]
        ratio = (x["rate"] / pf[0]["rate"] if relay != "postfix" and pf and pf[0].get("rate")
                 and x.get("rate") else None)
        pct = 100.0 * x["hs_cpu"] / limit[0] if limit and x.get("hs_cpu") else None
        print("| %s | %s | %d/%d%s | %s | %s | %s | %s | %s | %s (%s) | %s (%s) | %s | %s | %s |" % (
            job, label(relay, kind), x["delivered"], x["total"], " partial" if x["partial"] else "",
            f(x["rate"], "%.0f"), f(x["cpu"], "%.2f"), f(x["cpu_ms"], "%.2f"),
            f(x["eod50"], "%.1f"), f(x["eod99"], "%.1f"), f(x["intls"], "%d"),
            f(x["inres"], "%d"), f(x["outtls"], "%d"), f(x["outres"], "%d"),
            f(x["hs_cpu"], "%.0f"), f(pct, "%.0f %%"), f(ratio, "%.2f")))
    for job in jobs:
        cols = [(label(relay, kind), x) for j, relay, kind, _, x in rows if j == job]
        print("\n### %s: details (%d partners x %d messages)" % (job, *sizes[job]))
        print("| metric | %s |" % " | ".join(c for c, _ in cols))
        print("|---|%s" % ("---|" * len(cols)))
        for key, name, fmt in DETAILS:
            print("| %s | %s |" % (name, " | ".join(f(x.get(key), fmt) for _, x in cols)))
    print("\nrelay CPU split, user / sys seconds: %s" % "; ".join(
        "%s %s %.2f / %.2f" % (job, label(relay, kind), r["user"], r["sys"])
        for job, relay, kind, r, x in rows if x))
    for job, relay, kind, r, _ in rows:
        if r.get("note"):
            print(r["note"])
        if r.get("failed"):
            print("%s %s: failed: %s" % (job, label(relay, kind), r["failed"]))
    return rows


DETAILS = (("delivered", "messages delivered to the sink", "%d"),
           ("outtls", "outbound TLS sessions the sink accepted", "%d"),
           ("rate", "end-to-end msg/s (first submit to last arrival)", "%.0f"),
           ("eod50", "end-of-DATA -> 250, p50 ms", "%.1f"),
           ("eod99", "end-of-DATA -> 250, p99 ms", "%.1f"),
           ("arr50", "submit -> sink arrival, p50 ms", "%.1f"),
           ("arr99", "submit -> sink arrival, p99 ms", "%.1f"),
           ("cpu", "relay CPU seconds (all its processes)", "%.2f"),
           ("rss", "relay peak RSS MiB (sum of VmHWM over its processes)", "%.1f"),
           ("procs", "relay processes at the end", "%d"))
