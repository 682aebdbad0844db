#!/usr/bin/env python3
"""bench/cgsummary.py CALLGRIND.OUT [--messages N] [--top 25] [--annotate-dir DIR]

Summary of one callgrind output file (written by `bench/run --callgrind`, or any
`valgrind --tool=callgrind --separate-threads=no` run of domsecd):

  - totals (Ir, and sysCount / sysCpuTime when recorded with --collect-systime),
    per message when --messages is given;
  - self Ir per object (libwolfssl, libc, domsecd, libuv, ld.so, others);
  - inclusive Ir of the TLS entry points (wolfSSL_accept / _connect / _read /
    _write / _shutdown ...) and their call counts, i.e. where the handshakes go;
  - callgrind_annotate's top functions, inclusive and self (its full outputs are
    written to --annotate-dir when given), and the top functions of domsecd itself.

The per-object and entry-point figures come from parsing the file here (self
cost = cost lines of a function; the line after `calls=` is the inclusive cost of
that call and is not self cost); the function lists are callgrind_annotate's.
Importable: bench/run uses parse() and summary().
"""

import argparse
import collections
import os
import re
import subprocess
import sys

# inclusive cost of calls into these functions (from any other function)
ENTRY_POINTS = (
    "wolfSSL_accept", "wolfSSL_connect", "wolfSSL_read", "wolfSSL_write", "wolfSSL_shutdown",
    "wolfSSL_new", "wolfSSL_free", "wolfSSL_CTX_new",
    "wc_ecc_make_key_ex", "wc_ecc_shared_secret", "wc_ecc_sign_hash", "wc_ecc_verify_hash",
    "wc_ecc_verify_hash_ex", "wc_ecc_check_key", "wc_ecc_import_x963_ex", "wc_EccPublicKeyDecode",
    "wc_RsaFunction", "wc_curve25519_make_key", "wc_curve25519_shared_secret_ex",
    "ConfirmSignature", "ParseCertRelative", "wc_AesGcmEncrypt", "wc_AesGcmDecrypt",
    "wc_Sha256Update", "wc_Sha384Update", "wc_HmacUpdate", "wc_GenerateSeed", "wc_RNG_GenerateBlock",
    "wolfSSL_CertManagerVerifyBuffer", "wolfSSL_CertManagerLoadCABuffer",
    "wolfSSL_CertManagerCheckCRL", "wolfSSL_X509_verify", "wolfSSL_X509_d2i",
    "sp_exptmod", "sp_invmod", "sp_invmod_mont_ct", "sp_mulmod", "sp_mul", "sp_sqr",
    "sp_mont_red", "sp_submod_ct",
    "fdatasync", "fsync", "malloc", "free", "memcpy", "__memcpy_avx_unaligned_erms",
)


def classify(ob):
    b = os.path.basename(ob)
    if "libwolfssl" in b:
        return "libwolfssl"
    if b.startswith("libc.so") or b.startswith("libc-"):
        return "libc"
    if b.startswith("ld-linux") or b.startswith("ld-"):
        return "ld.so"
    if b.startswith("libuv"):
        return "libuv"
    if b == "domsecd":
        return "domsecd"
    if b.startswith("libm.so"):
        return "libm"
    if "vgpreload" in b or b == "???" or not b:
        return "valgrind/unknown"
    return b


def parse(path):
    """Self cost per (object, function), inclusive cost and count of calls into each
    function name from other functions, event names and totals."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
               "cfl": "fl", "fn": "fn", "cfn": "fn"}
    events, totals = [], None
    self_cost = collections.defaultdict(lambda: None)
    calls_in = collections.defaultdict(lambda: None)   # callee fn -> inclusive cost vector
    ncalls = collections.Counter()
    edges = collections.defaultdict(lambda: [0, 0])     # (caller, callee) -> [calls, Ir]
    ob = fn = cfn = None
    pending_call = False
    fn_file = {}

    def name(kind, val):
        m = re.match(r"\((\d+)\)(?: (.*))?$", val)
        if not m:
            return val
        table = names[kind_of[kind]]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "?(%s)" % m.group(1))

    def add(d, key, vals):
        cur = d[key]
        if cur is None:
            d[key] = list(vals) + [0] * (len(events) - len(vals))
        else:
            for i, v in enumerate(vals):
                cur[i] += v

    fl = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line[0] == "#":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                vals = [int(x) for x in parts[1:]]
                if pending_call:
                    if cfn != fn:
                        add(calls_in, cfn, vals)
                        edges[(fn, cfn)][1] += vals[0] if vals else 0
                    pending_call = False
                else:
                    add(self_cost, (ob, fn), vals)
                continue
            key, _, val = line.partition("=")
            if key in ("ob",):
                ob = name(key, val)
            elif key == "fl":
                fl = name(key, val)
            elif key in ("fi", "fe", "cfi", "cfl", "cob"):
                name(key, val)
            elif key == "fn":
                fn = name(key, val)
                fn_file.setdefault((ob, fn), fl)
            elif key == "cfn":
                cfn = name(key, val)
            elif key == "calls":
                pending_call = True
                if cfn != fn:
                    ncalls[cfn] += int(val.split()[0])
                    edges[(fn, cfn)][0] += int(val.split()[0])
            elif line.startswith("events:"):
                events = line.split(":", 1)[1].split()
            elif line.startswith("totals:") or line.startswith("summary:"):
                totals = [int(x) for x in line.split(":", 1)[1].split()]
    if totals is None:
        totals = [0] * len(events)
        for v in self_cost.values():
            for i, x in enumerate(v):
                totals[i] += x
    return {"events": events, "totals": totals, "self": dict(self_cost),
            "calls_in": dict(calls_in), "ncalls": ncalls, "files": fn_file, "edges": dict(edges)}


def lut_builds(p):
    """wolfSSL's FP_ECC fixed-point cache (Debian builds with FP_ECC): the first uses of
    a point in a thread (the generator, a CA key, a peer key seen twice) build a table of
    2^FP_LUT points, each mapped to affine with one sp_invmod (~255 per table), then
    cached per thread.  Found as the callers of sp_invmod making >= 200 of them per call:
    (calls, inclusive Ir) summed over such callers."""
    n = ir = 0
    for (caller, callee), (c, _) in p["edges"].items():
        if callee != "sp_invmod" or caller == "sp_invmod":
            continue
        calls = p["ncalls"].get(caller, 0)
        if calls and c / calls >= 200:
            n += calls
            ir += (p["calls_in"].get(caller) or [0])[0]
    return n, ir


def by_object(p):
    out = collections.defaultdict(lambda: [0] * len(p["events"]))
    for (ob, _fn), v in p["self"].items():
        o = out[classify(ob or "???")]
        for i, x in enumerate(v):
            o[i] += x
    return dict(out)


def annotate(path, inclusive, threshold=99.9, show="Ir"):
    r = subprocess.run(["callgrind_annotate", "--inclusive=" + ("yes" if inclusive else "no"),
                        "--threshold=%s" % threshold, "--auto=no", "--show=" + show, path],
                       capture_output=True, text=True, timeout=600)
    return r.stdout


def annotate_rows(text):
    """(cost, 'file:function [object]') rows of a callgrind_annotate function list."""
    rows = []
    started = False
    for line in text.splitlines():
        if "file:function" in line:
            started = True
            continue
        if not started:
            continue
        m = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(.*\S)\s*$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows


def short(fnline):
    """'./x/y.c:func [/usr/lib/.../libwolfssl.so.35]' -> ('func', 'libwolfssl', './x/y.c')"""
    m = re.match(r"(.*?):(\S.*?)(?: \[(.*)\])?$", fnline)
    if not m:
        return fnline, "?", "?"
    return m.group(2), classify(m.group(3) or "???"), m.group(1)


def fmt_n(x):
    return "{:,}".format(int(x))


def summary(path, messages=None, top=25, annotate_dir=None, out=sys.stdout, label=None):
    """Print the summary; returns a dict of the key figures."""
    p = parse(path)
    ev = p["events"]
    ir = p["totals"][ev.index("Ir")]
    objs = by_object(p)
    w = lambda s="": print(s, file=out)
    w("### callgrind: %s" % (label or path))
    w("file: %s" % path)
    tot = "total Ir %s" % fmt_n(ir)
    if messages:
        tot += " = %s per message (%d messages)" % (fmt_n(ir / messages), messages)
    w(tot)
    if "sysCount" in ev:
        sc = p["totals"][ev.index("sysCount")]
        line = "syscalls %s" % fmt_n(sc)
        if messages:
            line += " = %.1f per message" % (sc / messages)
        if "sysCpuTime" in ev:
            st = p["totals"][ev.index("sysCpuTime")]
            line += "; kernel CPU in them %.3f s" % (st / 1e9)
            if messages:
                line += " = %.1f us per message" % (st / 1e3 / messages)
        w(line)
    w()
    w("| object (self) | Ir | share | Ir per message | syscalls |")
    w("|---|---|---|---|---|")
    for o, v in sorted(objs.items(), key=lambda kv: -kv[1][0]):
        sc = v[ev.index("sysCount")] if "sysCount" in ev else 0
        w("| %s | %s | %.1f %% | %s | %s |" % (o, fmt_n(v[0]), 100.0 * v[0] / ir if ir else 0,
                                             fmt_n(v[0] / messages) if messages else "-", fmt_n(sc)))
    w()
    w("| entry point (inclusive, calls from other functions) | calls | Ir | share | Ir per call |")
    w("|---|---|---|---|---|")
    entries = {}
    for e in ENTRY_POINTS:
        v = p["calls_in"].get(e)
        if v is None or not v[0]:
            continue
        n = p["ncalls"][e]
        entries[e] = (n, v[0])
        w("| %s | %s | %s | %.1f %% | %s |" % (e, fmt_n(n), fmt_n(v[0]), 100.0 * v[0] / ir,
                                             fmt_n(v[0] / n) if n else "-"))
    nl, lir = lut_builds(p)
    w("FP_ECC fixed-point table builds (one-time per thread and point): %d, %s Ir (%.1f %%)"
      % (nl, fmt_n(lir), 100.0 * lir / ir if ir else 0))
    w()
    incl = annotate(path, True)
    selft = annotate(path, False)
    if annotate_dir:
        base = os.path.join(annotate_dir, os.path.basename(path))
        with open(base + ".inclusive.txt", "w") as f:
            f.write(incl)
        with open(base + ".self.txt", "w") as f:
            f.write(selft)
        w("callgrind_annotate outputs: %s.inclusive.txt, %s.self.txt" % (base, base))
    for title, text in (("inclusive", incl), ("self", selft)):
        rows = annotate_rows(text)
        w()
        w("top %d functions by %s Ir (callgrind_annotate --inclusive=%s)" % (
            top, title, "yes" if title == "inclusive" else "no"))
        w("| Ir | share | function | object |")
        w("|---|---|---|---|")
        for cost, fnl in rows[:top]:
            fn, ob, _ = short(fnl)
            w("| %s | %.1f %% | %s | %s |" % (fmt_n(cost), 100.0 * cost / ir, fn[:70], ob))
    own_self = [(c, short(f)) for c, f in annotate_rows(selft) if short(f)[1] == "domsecd"]
    own_incl = [(c, short(f)) for c, f in annotate_rows(incl) if short(f)[1] == "domsecd"]
    w()
    w("domsecd's own functions, top %d by self Ir" % min(top, 15))
    w("| self Ir | share | function | file |")
    w("|---|---|---|---|")
    for c, (fn, _, fl) in own_self[:min(top, 15)]:
        w("| %s | %.2f %% | %s | %s |" % (fmt_n(c), 100.0 * c / ir, fn[:60], fl))
    w()
    w("domsecd's own functions, top %d by inclusive Ir" % min(top, 15))
    w("| incl Ir | share | function | file |")
    w("|---|---|---|---|")
    for c, (fn, _, fl) in own_incl[:min(top, 15)]:
        w("| %s | %.1f %% | %s | %s |" % (fmt_n(c), 100.0 * c / ir, fn[:60], fl))
    w()
    return {"ir": ir, "lut": (nl, lir), "objects": {o: v[0] for o, v in objs.items()}, "entries": entries,
            "syscalls": p["totals"][ev.index("sysCount")] if "sysCount" in ev else None,
            "sys_cpu_ns": p["totals"][ev.index("sysCpuTime")] if "sysCpuTime" in ev else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--messages", type=int)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--annotate-dir")
    a = ap.parse_args()
    summary(a.file, a.messages, a.top, a.annotate_dir)


if __name__ == "__main__":
    main()
