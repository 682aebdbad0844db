#!/bin/sh
# check-documented.sh - fail when a configuration key is not in domsec.conf(5).
#
# usage: check-documented.sh DOMSECD SRCDIR
#
# The keys come from the daemon itself: every "key = value" line that
# `DOMSECD --print-config -c SRCDIR/packaging/domsec.conf` prints, plus every
# commented-out "key = value" line of that file that DOMSECD recognizes as a
# key (--print-config leaves out keys without a value, and the default file
# lists those commented out).  A key counts as documented when, under the
# .SH/.SS heading of its section in SRCDIR/packaging/domsec.conf.5, it is the
# tag of a .TP entry, written as ".B key" or "\fBkey\fR".  Requiring the
# entry (not any bold mention) means deleting a key's entry fails the check.
# Every section heading [service], [transport], [receive NAME], [send NAME],
# [partner DOMAIN], [dns] and [logs] must exist as an .SH or .SS heading.
# The keys of [partner DOMAIN] come from a probe file with one partner.
#
# Exit 0 when everything is documented, 1 naming each missing key or
# section, 2 on a usage or environment error.

if [ $# -ne 2 ]; then
    echo "usage: $0 DOMSECD SRCDIR" >&2
    exit 2
fi
domsecd=$1
conf=$2/packaging/domsec.conf
page=$2/packaging/domsec.conf.5
me=check-documented

for f in "$conf" "$page"; do
    if [ ! -r "$f" ]; then
        echo "$me: cannot read $f" >&2
        exit 2
    fi
done
if [ ! -x "$domsecd" ]; then
    echo "$me: $domsecd is not executable" >&2
    exit 2
fi

tmp=${TMPDIR:-/tmp}/$me.$$
rm -rf "$tmp"
mkdir "$tmp" || exit 2
trap 'rm -rf "$tmp"' 0
trap 'exit 2' HUP INT TERM
tab=$(printf '\t')

# 0. The default file has no [partner DOMAIN] section: a probe file with one
#    partner, every key of it given a value, is printed too (step 1).
printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' >"$tmp/ca.pem"
pin=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
printf '[transport]\ntls_send_domain_secure_list = partner.example\n[receive P]\n%s\n%s\n%s\n%s\n%s\n' \
    'bindings = 127.0.0.1:2' '[partner partner.example]' "trusted_ca_file = $tmp/ca.pem" \
    "certificate_pins = $pin" 'min_tls_version = 1.2' >"$tmp/partner.conf"
if ! "$domsecd" --print-config -c "$tmp/partner.conf" >"$tmp/all.printed" 2>"$tmp/err"; then
    echo "$me: $domsecd --print-config -c $tmp/partner.conf failed:" >&2
    cat "$tmp/err" >&2
    exit 1
fi
sed -n '/^\[partner /,/^$/p' "$tmp/all.printed" >"$tmp/partner.printed"

# 1. The keys the daemon prints, as "SECTION<TAB>key" with generic section
#    names ("[receive Default]" -> "[receive NAME]").
if ! "$domsecd" --print-config -c "$conf" >"$tmp/printed" 2>"$tmp/err"; then
    echo "$me: $domsecd --print-config -c $conf failed:" >&2
    cat "$tmp/err" >&2
    exit 1
fi
awk '
function generic(h) {
    if (h ~ /^\[receive[ \t]/) return "[receive NAME]"
    if (h ~ /^\[send[ \t]/) return "[send NAME]"
    if (h ~ /^\[partner[ \t]/) return "[partner DOMAIN]"
    return h
}
/^\[/ { sec = generic($0); print sec "\tSECTION"; next }
/^[a-z_]+ = / { print sec "\t" $1 }
' "$tmp/printed" "$tmp/partner.printed" >"$tmp/keys"

# 2. Commented-out keys of the default file, kept only if the daemon knows
#    them: a key it does not know gets "unknown key" (that is prose, not a key).
awk '
/^\[/ { hdr = $0; next }
/^[;#][ \t]*[a-z_]+[ \t]*=/ {
    k = $0
    sub(/^[;#][ \t]*/, "", k)
    sub(/[ \t]*=.*/, "", k)
    print hdr "\t" k
}
' "$conf" >"$tmp/commented"
while IFS=$tab read -r hdr key; do
    printf '%s\n%s = x\n' "$hdr" "$key" >"$tmp/probe.conf"
    "$domsecd" --check-config -c "$tmp/probe.conf" >/dev/null 2>"$tmp/probe.err"
    if grep -q "unknown key \"$key\"" "$tmp/probe.err"; then
        continue
    fi
    case $hdr in
    "[receive "*) sec="[receive NAME]" ;;
    "[send "*) sec="[send NAME]" ;;
    *) sec=$hdr ;;
    esac
    printf '%s\t%s\n' "$sec" "$key" >>"$tmp/keys"
done <"$tmp/commented"

# The seven sections must be headings even if a file lacks one of them.
for sec in "[service]" "[transport]" "[receive NAME]" "[send NAME]" "[partner DOMAIN]" \
    "[dns]" "[logs]"; do
    printf '%s\tSECTION\n' "$sec" >>"$tmp/keys"
done
sort -u "$tmp/keys" >"$tmp/want"

# 3. Compare with the man page: headings, and the .TP tags under each.
awk -v me="$me" -v page="$page" '
FNR == NR { want[++n] = $0; next }
/^\.S[HS][ \t]/ {
    cur = $0
    sub(/^\.S[HS][ \t]+/, "", cur)
    gsub(/"/, "", cur)
    head[cur] = 1
    tag = 0
    next
}
/^\.TP/ { tag = 1; next }
/^\.\\"/ { next }
tag {
    tag = 0
    line = $0
    if (line ~ /^\.B[ \t]/) {
        w = line
        sub(/^\.B[ \t]+/, "", w)
        sub(/[ \t]+$/, "", w)
        gsub(/"/, "", w)
        doc[cur "\t" w] = 1
    }
    while (match(line, /\\fB[A-Za-z0-9_]+\\f[RP]/)) {
        doc[cur "\t" substr(line, RSTART + 3, RLENGTH - 6)] = 1
        line = substr(line, RSTART + RLENGTH)
    }
}
END {
    bad = 0
    for (i = 1; i <= n; i++) {
        split(want[i], f, "\t")
        found = 0
        for (h in head) {
            if (index(h, f[1]) == 0)
                continue
            if (f[2] == "SECTION" || ((h "\t" f[2]) in doc))
                found = 1
        }
        if (found)
            continue
        bad = 1
        if (f[2] == "SECTION")
            printf "%s: section %s has no .SH/.SS heading in %s\n", me, f[1], page
        else
            printf "%s: key %s in %s is not documented in %s\n", me, f[2], f[1], page
    }
    exit bad
}
' "$tmp/want" "$page"
