#!/bin/sh
# bench/logread.sh - how fast `domsec log search` and `domsec log audit`
# read logs: generates a log set of SIZE MB (default 2048) in a temp dir
# with bench/loggen.c (rows of docs/LOGS.md "The rows domsec writes"),
# then times a search that scans every field of every row (--text with no
# match), a search by session, and an audit, each once with a cold-ish
# and once with a warm page cache, and prints MB/s per core (bytes / CPU
# seconds, user + sys; the reader is single-threaded) and MB/s wall.
# Never part of the tests.
#
#   bench/logread.sh [SIZE_MB] [BUILD_DIR]      (BUILD_DIR default: build)
set -eu
size=${1:-2048}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../build}
domsec=$build/domsec
[ -x "$domsec" ] || { echo "logread.sh: $domsec not built" >&2; exit 1; }
tmp=$(mktemp -d /tmp/domsec-logread.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
cc -O2 -o "$tmp/loggen" "$here/loggen.c"
echo "generating $size MB of logs in $tmp/logs ..."
"$tmp/loggen" "$tmp/logs" "$size"
bytes=$(du -sb "$tmp/logs" | cut -f1)

run() {
    label=$1; shift
    # /proc/self/stat-free timing: GNU time if present, else bash-less fallback via python
    python3 - "$bytes" "$label" "$@" <<'PY'
import os, resource, subprocess, sys, time
nbytes = int(sys.argv[1]); label = sys.argv[2]; cmd = sys.argv[3:]
t0 = time.monotonic(); r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
if rc not in (0, 1) or (rc == 1 and "audit" not in cmd):   # audit: 1 = it has warnings
    sys.exit("%s exited %d" % (" ".join(cmd), rc))
t1 = time.monotonic(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
mb = nbytes / 1e6
print("%-34s %8.0f MB  wall %6.2fs  cpu %6.2fs  %7.0f MB/s per core  %7.0f MB/s wall"
      % (label, mb, t1 - t0, cpu, mb / max(cpu, 1e-9), mb / max(t1 - t0, 1e-9)))
PY
}

for pass in 1 2; do
    run "search --text (pass $pass)" "$domsec" -c /nonexistent log search --text no-such-text-anywhere "$tmp/logs"
    run "search --session (pass $pass)" "$domsec" -c /nonexistent log search --session 08DF486E9B5C0007 "$tmp/logs"
    run "audit (pass $pass)" "$domsec" -c /nonexistent log audit "$tmp/logs"
done
