"""--callgrind and --strace: domsecd's instruction counts and system calls."""

import os
import re
import shutil
import subprocess
import sys
import time

from .domsec import dnsmasq, domsec_start, load, sink
from .procs import (NOBODY, PidProc, free_port, log, parse, procs, stop, tree,
                    tree_cpu)

# --- callgrind profile of domsecd (issue 7: a repeatable, instruction-count profile) ---

CG_READY_S = 180        # domsecd under callgrind: start (certificate store, CRLs) to listening
CG_STOP_S = 300         # SIGTERM to exit (drain, QUIT outbound, callgrind's dump)


def cg_run(tmp, pki, outdir, n, m, size, tag, timeout):
    """One fresh domsecd under callgrind (--separate-threads=no): start, n sessions x m
    messages through it to the sink (none when n * m == 0: start and stop only), stop
    with SIGTERM, and return the callgrind file and the load/sink results."""
    rport, sport = free_port(), free_port()
    total = n * m
    cgout = os.path.join(outdir, "callgrind.out.%s" % tag)
    # callgrind creates the file at start (as root) and writes it at exit, when
    # domsecd runs as nobody: the file exists beforehand, owned by nobody.
    with open(cgout, "w"):
        pass
    os.chown(cgout, NOBODY, NOBODY)
    sp = sout = None
    if total:
        sp, sout = sink(tmp, pki, sport, total, tag, timeout + 120)
    dns_p = None
    dns_port = dnsmasq(tmp)
    dns_p = procs[-1]
    wrap = ["valgrind", "--tool=callgrind", "--separate-threads=no",
            "--collect-systime=nsec", "--callgrind-out-file=" + cgout,
            "--log-file=" + os.path.join(outdir, "valgrind.%s.log" % tag)]
    t0 = time.monotonic()
    rp, pid, relay_log = domsec_start(tmp, pki, rport, sport, dns_port, tag, wrap=wrap,
                                      ready_timeout=CG_READY_S)
    log("callgrind %s: domsecd (pid %d) listening after %.1f s" % (tag, pid, time.monotonic() - t0))
    time.sleep(1.0)
    lr, sr = {}, {}
    t1 = time.monotonic()
    if total:
        lr = load(tmp, pki, rport, n, m, size, tag, timeout)
        try:
            sp.wait(timeout)
        except subprocess.TimeoutExpired:
            log("callgrind %s: sink did not get all %d messages in %ds" % (tag, total, timeout))
            stop(sp)
        sr = parse(sout)
    t2 = time.monotonic()
    time.sleep(2.0)     # deliveries recorded, queue files removed
    cpu = tree_cpu(pid)
    stop(rp, CG_STOP_S)
    stop(dns_p)
    if sp is not None:
        stop(sp)
    shutil.copy(relay_log, os.path.join(outdir, "domsecd.%s.log" % tag))
    got = int(sr.get("messages", 0))
    if total and (got != total or lr.get("failed", "1") != "0"):
        log("callgrind %s: sink got %d of %d; load: %s" % (tag, got, total,
                                                          lr.get("first_error", lr)))
    if rp.returncode not in (0, None) or not os.path.getsize(cgout):
        log("callgrind %s: domsecd exit status %s, %s" % (
            tag, rp.returncode, "empty callgrind file" if not os.path.getsize(cgout) else cgout))
    return {"tag": tag, "n": n, "m": m, "file": cgout, "load": lr, "sink": sr,
            "delivered": got, "in_sessions": n, "out_sessions": int(sr.get("tls_sessions", 0)),
            "wall_load": t2 - t1, "cpu": cpu, "exit": rp.returncode}


# operations whose inclusive Ir is differenced between runs (bench/cgsummary.py names)
CG_OPS = (("wc_ecc_make_key_ex", "ECDHE P-256 key generation"),
          ("wc_ecc_shared_secret", "ECDH P-256 shared secret"),
          ("wc_ecc_sign_hash", "ECDSA P-256 sign (CertificateVerify)"),
          ("wc_ecc_verify_hash", "ECDSA P-256 verify (chain + CertificateVerify)"),
          ("wc_curve25519_shared_secret_ex", "X25519 shared secret"),
          ("wc_AesGcmEncrypt", "AES-128-GCM encrypt (one record)"),
          ("wc_AesGcmDecrypt", "AES-128-GCM decrypt (one record)"),
          ("wolfSSL_accept", "wolfSSL_accept (inbound handshake, all calls)"),
          ("wolfSSL_connect", "wolfSSL_connect (outbound handshake, all calls)"),
          ("wolfSSL_read", "wolfSSL_read"), ("wolfSSL_write", "wolfSSL_write"))


def callgrind_main(tmp, pki, a, outdir):
    """Four runs under callgrind, each a fresh domsecd: start/stop only (idle), N x 1,
    2N x 1 and N x M; the summary of each (bench/cgsummary.py) and the differences."""
    import cgsummary
    fmt = cgsummary.fmt_n
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        sys.exit("bench/run --callgrind needs valgrind (apt-get install valgrind)")
    os.makedirs(outdir, exist_ok=True)
    n = a.sessions or 5
    m = a.messages or 20
    timeout = 900
    runs = [("idle", 0, 0), ("%dx1" % n, n, 1), ("%dx1" % (2 * n), 2 * n, 1),
            ("%dx%d" % (n, m), n, m)]
    res = []
    for tag, rn, rm in runs:
        log("callgrind %s: %d sessions x %d messages x %d bytes" % (tag, rn, rm, a.size))
        res.append(cg_run(tmp, pki, outdir, rn, rm, a.size, tag, timeout))
    report = os.path.join(outdir, "summary.md")
    with open(report, "w") as f:
        class Tee:
            def write(self, s):
                sys.stdout.write(s)
                f.write(s)
        tee = Tee()
        pr = lambda s="": print(s, file=tee)
        pr("## domsecd under callgrind (valgrind --tool=callgrind --separate-threads=no "
           "--collect-systime=nsec), %d-byte messages, mutual TLS both legs" % a.size)
        pr()
        pr("| run | inbound sessions | messages delivered | outbound TLS sessions (sink) "
           "| load wall s | total Ir | Ir per message | FP_ECC table builds (Ir) | syscalls "
           "| syscalls per message |")
        pr("|---|---|---|---|---|---|---|---|---|---|")
        for r in res:
            r["s"] = None
            if not os.path.getsize(r["file"]):
                pr("| %s | %d | %d | %d | %.1f | (no callgrind file) | | | | |" % (
                    r["tag"], r["in_sessions"], r["delivered"], r["out_sessions"], r["wall_load"]))
                continue
            s = cgsummary.summary(r["file"], r["delivered"] or None, a.cg_top, outdir,
                                  out=open(os.devnull, "w"))
            r["s"] = s
            pr("| %s | %d | %d | %d | %.1f | %s | %s | %d (%s) | %s | %s |" % (
                r["tag"], r["in_sessions"], r["delivered"], r["out_sessions"], r["wall_load"],
                fmt(s["ir"]), fmt(s["ir"] / r["delivered"]) if r["delivered"] else "-",
                s["lut"][0], fmt(s["lut"][1]), fmt(s["syscalls"] or 0),
                "%.1f" % (s["syscalls"] / r["delivered"]) if r["delivered"] and s["syscalls"]
                else "-"))
        r0, ra, rc, rb = res
        if all(r["s"] for r in res):
            s0, sa, sc, sb = (r["s"] for r in res)
            pr()
            pr("Differences (every loaded run builds the same FP_ECC tables once per thread, "
               "so they cancel when the counts match: %s):" % ", ".join(
                   "%s %d" % (r["tag"], r["s"]["lut"][0]) for r in res))
            dmsg = rb["delivered"] - ra["delivered"]
            if dmsg > 0:
                pr("- per extra message on an open inbound session, (%s - %s) / %d: %s Ir "
                   "(includes the outbound handshakes that happened: %d -> %d outbound "
                   "sessions)" % (rb["tag"], ra["tag"], dmsg, fmt((sb["ir"] - sa["ir"]) / dmsg),
                                  ra["out_sessions"], rb["out_sessions"]))
            dses = rc["in_sessions"] - ra["in_sessions"]
            if dses > 0:
                pr("- per extra inbound session with 1 message, (%s - %s) / %d: %s Ir "
                   "(inbound handshake + 1 message + its outbound sessions: %d -> %d)" % (
                       rc["tag"], ra["tag"], dses, fmt((sc["ir"] - sa["ir"]) / dses),
                       ra["out_sessions"], rc["out_sessions"]))
            lut_ir = sa["lut"][1] - s0["lut"][1]
            pr("- start + stop (idle run): %s Ir, of which FP_ECC tables %s; one-time in a "
               "loaded run beyond that: FP_ECC tables %s Ir" % (
                   fmt(s0["ir"]), fmt(s0["lut"][1]), fmt(lut_ir)))
            for r in (ra, rc, rb):
                st = r["s"]["ir"] - s0["ir"] - (r["s"]["lut"][1] - s0["lut"][1])
                r["steady"] = st
                pr("- %s without start/stop and FP_ECC table builds: %s Ir = %s per message" % (
                    r["tag"], fmt(st), fmt(st / r["delivered"]) if r["delivered"] else "-"))
            pr()
            pr("Per operation, differenced (calls and inclusive Ir of run B minus run A; "
               "one-time table builds cancel only when both runs built as many: rows marked "
               "* did not, and their first calls in a thread ran without tables, so treat "
               "them as rough; bench/profile-crypto.sh gives the steady per-operation cost):")
            pr("| operation | runs B - A | calls | Ir | Ir per call | per inbound session "
               "| per outbound session | per message |")
            pr("|---|---|---|---|---|---|---|---|")
            for name, what in CG_OPS:
                pair = (rc, ra) if name == "wolfSSL_accept" else (rb, ra)
                hi, lo = pair
                eh, el = hi["s"]["entries"].get(name), lo["s"]["entries"].get(name)
                if not eh:
                    continue
                el = el or (0, 0)
                dc, di = eh[0] - el[0], eh[1] - el[1]
                if dc <= 0:
                    continue
                din = hi["in_sessions"] - lo["in_sessions"]
                dout = hi["out_sessions"] - lo["out_sessions"]
                dm = hi["delivered"] - lo["delivered"]
                same = hi["s"]["lut"][0] == lo["s"]["lut"][0]
                pr("| %s%s | %s - %s | %s | %s | %s | %s | %s | %s |" % (
                    what, "" if same else " *", hi["tag"], lo["tag"], fmt(dc), fmt(di), fmt(di / dc),
                    "%.2f" % (dc / din) if din else "-", "%.2f" % (dc / dout) if dout else "-",
                    "%.2f" % (dc / dm) if dm else "-"))
        pr()
        for r in res:
            if r["s"]:
                cgsummary.summary(r["file"], r["delivered"] or None, a.cg_top, outdir, out=tee,
                                  label="%s (%d sessions x %d messages; outbound TLS sessions %d)"
                                  % (r["tag"], r["n"], r["m"], r["out_sessions"]))
    print("callgrind files, callgrind_annotate outputs, domsecd and valgrind logs and this "
          "summary (summary.md) in %s" % outdir)


def strace_main(tmp, pki, a, outdir):
    """domsecd under strace -f -c for one N x M run (default 20 x 50): system calls per
    message.  strace's times are wall time inside the calls (blocking included)."""
    if not shutil.which("strace"):
        sys.exit("bench/run --strace needs strace (apt-get install strace)")
    os.makedirs(outdir, exist_ok=True)
    n, m = a.sessions or 20, a.messages or 50
    out = os.path.join(outdir, "strace-c.txt")
    rport, sport = free_port(), free_port()
    sp, sout = sink(tmp, pki, sport, n * m, "strace", 600)
    dns_port = dnsmasq(tmp)
    rp, _, relay_log = domsec_start(tmp, pki, rport, sport, dns_port, "strace",
                                    wrap=["strace", "-f", "-c", "-o", out], ready_timeout=60)
    kids = [x for x in tree(rp.pid) if x != rp.pid]
    if not kids:
        raise RuntimeError("no domsecd under strace")
    d = PidProc(kids[0])
    procs.append(d)     # stopped before strace: strace alone would detach and leave it
    time.sleep(0.5)
    lr = load(tmp, pki, rport, n, m, a.size, "strace", 600)
    try:
        sp.wait(600)
    except subprocess.TimeoutExpired:
        stop(sp)
    time.sleep(1.0)
    sr = parse(sout)
    stop(d, 60)
    try:
        rp.wait(60)
    except subprocess.TimeoutExpired:
        stop(rp)
    shutil.copy(relay_log, os.path.join(outdir, "domsecd.strace.log"))
    got = int(sr.get("messages", 0))
    print("## domsecd system calls (strace -f -c), %d sessions x %d messages x %d bytes: "
          "%d delivered, %s outbound TLS sessions, load failed=%s" % (
              n, m, a.size, got, sr.get("tls_sessions", "?"), lr.get("failed", "?")))
    print("| syscall | calls | per message | errors | strace s (wall in call) |")
    print("|---|---|---|---|---|")
    with open(out) as f:
        for line in f:
            x = line.split()
            if len(x) >= 5 and re.match(r"^[\d.]+$", x[0]) and x[-1] != "total":
                calls, name = int(x[3]), x[-1]
                errs = x[4] if len(x) == 6 else "0"
                print("| %s | %d | %.2f | %s | %s |" % (name, calls, calls / got if got else 0,
                                                       errs, x[1]))
    print("strace output: %s" % out)
