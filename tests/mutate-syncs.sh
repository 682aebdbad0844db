#!/bin/sh
# tests/mutate-syncs.sh [TEST] - show that the syscall-order test catches the
# removal of any ONE sync of the queue (issue 15, item 3).
#
# Copies the source tree (as it is in the work tree) to a temporary
# directory, builds domsecd, domsec and the recorder there, runs TEST (default
# test_sync_order) once unchanged (it must pass), then, for each fsync() or
# fdatasync() call in relay/queue/*.c and relay/qmgr/*.c, replaces that one
# call with "((void)(ARGS), 0)" (the sync is gone, the code still compiles
# and believes it succeeded), rebuilds and runs TEST again: it must fail on
# an assertion (a FAIL in unittest's output).  A run that times out, or ends
# on errors only, is "inconclusive": it shows nothing about the sync.
# The call sites are found by a regex for "fsync(ARGS)" without nested
# parentheses; their count must equal a plain grep count of "fsync(" and
# "fdatasync(" outside comment lines, so that no call is left out silently.
# Prints one line per call site; exits 1 if the counts differ, the unchanged
# run failed, or a mutant survived or was inconclusive.
# DOMSEC_MUTATE_KEEP=1 keeps the temporary directory.
set -eu
cd "$(dirname "$0")/.."
test=${1:-test_sync_order}
limit=300                       # seconds for one run of TEST
work=$(mktemp -d /tmp/domsec-mutate.XXXXXX)
[ -n "${DOMSEC_MUTATE_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
src=$work/src bld=$work/build
mkdir "$src"
tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$src"
cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build() {
    cmake --build "$bld" -j "$(nproc)" --target domsecd domsec sysrec >"$work/build.log" 2>&1 \
        || { echo "build failed:"; tail -30 "$work/build.log"; exit 2; }
}

run_test() {
    (cd "$src/tests/integration" && DOMSECD=$bld/domsecd DOMSEC_BUILD=$bld \
        timeout "$limit" python3 -m unittest "$test") >"$work/test.log" 2>&1
}

# sites: "FILE INDEX LINE TEXT" for every sync call outside comments
sites() {
    python3 - "$src" <<'EOF'
import glob, os, re, sys
RX = re.compile(r"\b(fsync|fdatasync)\(([^()]*)\)")
os.chdir(sys.argv[1])
for f in sorted(glob.glob("relay/queue/*.c") + glob.glob("relay/qmgr/*.c")):
    k = 0
    for n, line in enumerate(open(f), 1):
        s = line.strip()
        if s.startswith(("*", "/*", "//")):
            continue
        for _ in RX.finditer(line):
            print(f, k, n, s)
            k += 1
EOF
}

# mutate FILE INDEX - remove the INDEX-th sync call (counted as sites() does)
mutate() {
    python3 - "$src/$1" "$2" <<'EOF'
import re, sys
path, want = sys.argv[1], int(sys.argv[2])
RX = re.compile(r"\b(fsync|fdatasync)\(([^()]*)\)")
out, k = [], 0
for line in open(path):
    s = line.strip()
    if not s.startswith(("*", "/*", "//")):
        def sub(m):
            global k
            k += 1
            return "((void)(%s), 0)" % m.group(2) if k - 1 == want else m.group(0)
        line = RX.sub(sub, line)
    out.append(line)
if k <= want:
    sys.exit("no sync call %d in %s" % (want, path))
open(path, "w").write("".join(out))
EOF
}

sites >"$work/sites"
found=$(wc -l <"$work/sites")
calls=$(cd "$src" && cat relay/queue/*.c relay/qmgr/*.c | grep -vE '^[[:space:]]*(\*|/\*|//)' \
        | grep -oE '\b(fsync|fdatasync)\(' | wc -l)
if [ "$found" -ne "$calls" ]; then
    echo "the call-site regex found $found sync calls, grep finds $calls (a call with nested"
    echo "parentheses?): mutate-syncs.sh would leave some out; grep's calls:"
    (cd "$src" && grep -nE '\b(fsync|fdatasync)\(' relay/queue/*.c relay/qmgr/*.c \
        | grep -vE ':[0-9]+:[[:space:]]*(\*|/\*|//)')
    exit 1
fi

build
if run_test; then
    echo "unchanged: $test passes"
else
    echo "unchanged: $test FAILS - nothing to compare with:"
    tail -40 "$work/test.log"
    exit 1
fi
survived=0 inconclusive=0 n=0
while read -r file idx line text; do
    cp "$src/$file" "$work/orig.c"
    mutate "$file" "$idx"
    build
    n=$((n + 1))
    rc=0
    run_test || rc=$?
    if [ "$rc" -eq 0 ]; then
        survived=$((survived + 1))
        printf 'SURVIVED %s:%s (%s): %s still passes\n' "$file" "$line" "$text" "$test"
    elif [ "$rc" -eq 124 ] || ! grep -q '^FAIL: ' "$work/test.log"; then
        inconclusive=$((inconclusive + 1))
        why="no assertion failed"
        [ "$rc" -ne 124 ] || why="timed out after $limit s"
        printf 'INCONCLUSIVE %s:%s (%s): %s %s (exit %d):\n' "$file" "$line" "$text" "$test" \
               "$why" "$rc"
        tail -15 "$work/test.log" | sed 's/^/    /'
    else
        failed=$(sed -n 's/^\(FAIL\|ERROR\): \([a-z_0-9]*\) .*/\2/p' "$work/test.log" | sort -u \
                 | tr '\n' ' ')
        why=$(awk '/^[A-Za-z]*Error/ { f = 1 } f && /^$/ { exit } f { printf "%s ", $0 }' \
              "$work/test.log" | cut -c1-200)
        printf 'caught   %s:%s (%s): %s fails: %s- %s\n' "$file" "$line" "$text" "$test" \
               "$failed" "$why"   # printf: dash's echo would expand the \n in $why
    fi
    cp "$work/orig.c" "$src/$file"
done <"$work/sites"
echo "$n sync call sites removed one at a time: $((n - survived - inconclusive)) caught," \
     "$survived survived, $inconclusive inconclusive"
[ "$survived" -eq 0 ] && [ "$inconclusive" -eq 0 ]
