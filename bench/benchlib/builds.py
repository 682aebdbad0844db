"""Which domsec builds a run measures: Debian's wolfSSL (system) and the tuned static
wolfSSL (-DDOMSEC_WOLFSSL=tuned: Debian's source, same version, with its x86-64
assembly); each in its own build directory, built unless --no-build."""

import os
import subprocess

from . import procs as P
from .domsec import build
from .procs import ROOT, log

KINDS = ("system", "tuned")


def tuned_supported():
    """Whether this tree's CMakeLists.txt has the DOMSEC_WOLFSSL option."""
    try:
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            return "DOMSEC_WOLFSSL" in f.read()
    except OSError:
        return False


def resolve(a, default_kinds):
    """[(kind, build dir)] for --wolfssl (default default_kinds), each built unless
    --no-build; a build that cannot be had is dropped with one line saying why."""
    kinds = [k.strip() for k in a.wolfssl.split(",")] if a.wolfssl else list(default_kinds)
    for k in kinds:
        if k not in KINDS:
            raise SystemExit("--wolfssl: %r is neither system nor tuned" % k)
    dirs = {"system": P.BUILD, "tuned": os.path.abspath(a.tuned_build_dir)}
    out = []
    for k in kinds:
        d = dirs[k]
        if k == "tuned" and not tuned_supported():
            print("wolfSSL tuned: skipped, this tree's CMakeLists.txt has no DOMSEC_WOLFSSL "
                  "option (the tuned wolfSSL build is not merged here)", flush=True)
            continue
        if not a.no_build:
            try:
                if k == "tuned":
                    build(d, ["--wolfssl", "tuned"], ["-DDOMSEC_WOLFSSL=tuned"])
                else:
                    build(d)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                if k == "system":
                    raise
                print("wolfSSL tuned: skipped, its build failed (%s)" % e, flush=True)
                continue
        if not os.access(os.path.join(d, "domsecd"), os.X_OK):
            print("wolfSSL %s: skipped, no %s/domsecd (--no-build)" % (k, d), flush=True)
            continue
        log("wolfSSL %s: domsecd from %s" % (k, d))
        out.append((k, d))
    return out
