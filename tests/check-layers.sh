#!/bin/sh
# check-layers.sh SRCDIR [BUILDDIR] - dependencies point down only (STYLE rule 1):
#   logs/ includes nothing of ours; dns/, tls/, policy/ never include relay/
#   headers; nobody includes a WOLFSSL type outside tls/; relay/'s folders
#   include only from the folders below them, never a private/ header of
#   another, and (with BUILDDIR) their libraries link the same way.
set -u
cd "$1" || exit 2
fail=0
bad() { echo "layering: $*"; fail=1; }

for f in logs/*.[ch]; do
    grep -nE '#include "(relay|tls|dns|policy)_' "$f" && bad "$f includes a higher layer"
done
for d in dns tls policy; do
    [ -d "$d" ] || continue
    for f in "$d"/*.[ch]; do
        [ -e "$f" ] || continue
        grep -nE '#include "relay_' "$f" && bad "$f includes relay/"
    done
done
for f in relay/*/*.[ch] policy/*.[ch] logs/*.[ch]; do
    grep -nE 'wolfssl/|WOLFSSL' "$f" && bad "$f uses wolfSSL directly (only tls/ may)"
done
# Public headers of tls/ must not expose WOLFSSL either; tls_internal.h is
# private to tls/ and nobody else may include it.
for f in tls/*.h; do
    [ "$f" = tls/tls_internal.h ] && continue
    grep -nE '^[^/ *].*WOLFSSL' "$f" && bad "$f exposes a WOLFSSL type"
done
for f in relay/*/*.[ch] policy/*.[ch] logs/*.[ch] dns/*.[ch]; do
    [ -e "$f" ] || continue
    grep -n '#include "tls_internal.h"' "$f" && bad "$f includes tls/'s private header"
done
# relay/'s folders (one program each; docs/ARCHITECTURE.md), bottom up.  A
# folder may include the public headers of the folders listed for it, and
# of logs/ policy/ tls/ dns/ as the list says; never another folder's
# private/ header.  The order is acyclic, so no call crosses folders both ways.
relay_allowed() {
    case $1 in
    core)   echo "logs policy tls dns" ;;
    queue)  echo "logs policy tls core" ;;
    crl)    echo "logs policy tls" ;;
    sts)    echo "logs policy tls dns core queue" ;;
    smtpd)  echo "logs policy tls core queue" ;;
    smtp)   echo "logs policy tls core queue sts" ;;
    qmgr)   echo "logs policy tls dns core queue smtp sts" ;;
    ctl)    echo "logs policy tls dns core queue crl smtpd smtp qmgr ctlproto sts" ;;
    ctlproto) echo "logs" ;;            # relay/ctl/relay_ctlproto.[ch]: the wire protocol
    server) echo "logs policy tls dns core queue crl smtpd qmgr ctl ctlproto sts" ;;
    cli)    echo "logs policy tls dns core crl ctlproto sts" ;;
    *)      echo "?" ;;
    esac
}
# Where header $1 lives: "relay/X", "relay/X/private", "logs", ... or "".
header_home() {
    for d in logs policy tls dns relay/*/private relay/*; do
        [ -e "$d/$1" ] && { echo "$d"; return; }
    done
}
# The control socket's wire protocol (relay/ctl/relay_ctlproto.[ch]) is a
# library of its own under ctl/ that domsec links too: its header counts as
# the layer "ctlproto", and its files may use logs/ only.
ctlproto_file() {
    case $1 in relay/ctl/relay_ctlproto.[ch]) return 0 ;; esac
    return 1
}
for dir in relay/*/; do
    folder=$(basename "$dir")
    allowed=$(relay_allowed "$folder")
    [ "$allowed" = "?" ] && { bad "relay/$folder is not in check-layers.sh's list"; continue; }
    for f in "$dir"*.[ch] "$dir"private/*.h; do
        [ -e "$f" ] || continue
        ffolder=$folder fallowed=$allowed
        if ctlproto_file "$f"; then
            ffolder=ctlproto fallowed=$(relay_allowed ctlproto)
        fi
        # A path in an include ("../queue/private/x.h") would walk past the
        # include directories that keep private headers private: none in relay/.
        grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' "$f" \
            && bad "$f includes a header by path (only plain names in relay/)"
        for h in $(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1/p' "$f"); do
            case $h in */*) continue ;; esac        # refused above
            home=$(header_home "$h")
            [ "$h" = relay_ctlproto.h ] && home=relay/ctlproto
            case $home in
            "") bad "$f includes $h, which is nowhere" ;;
            relay/$ffolder|relay/$ffolder/private) ;;
            relay/*/private) bad "$f includes $h, private to ${home%/private}" ;;
            relay/*)
                case " $fallowed " in
                *" ${home#relay/} "*) ;;
                *) bad "$f ($ffolder) includes $h of ${home#relay/}: not below it" ;;
                esac ;;
            *)
                case " $fallowed " in
                *" $home "*) ;;
                *) bad "$f ($ffolder) includes $h of $home" ;;
                esac ;;
            esac
        done
    done
done
# With a build directory: the libraries' symbols agree - every function a
# folder's library takes from another relay library is from one below it.
if [ -n "${2:-}" ]; then
    defs=$(mktemp)
    trap 'rm -f "$defs"' EXIT
    for lib in "$2"/libdomsec_relay_*.a; do
        [ -e "$lib" ] || { bad "no relay libraries in $2"; break; }
        folder=${lib##*/libdomsec_relay_}; folder=${folder%.a}
        nm --defined-only --format=posix "$lib" 2>/dev/null \
            | awk -v f="$folder" '$2 ~ /^[TDBR]$/ {print $1, f}' >>"$defs"
    done
    for lib in "$2"/libdomsec_relay_*.a; do
        [ -e "$lib" ] || break
        folder=${lib##*/libdomsec_relay_}; folder=${folder%.a}
        allowed=" $(relay_allowed "$folder") "
        nm -u --format=posix "$lib" 2>/dev/null | awk '{print $1}' | sort -u \
            | awk -v f="$folder" -v ok="$allowed" 'NR == FNR { home[$1] = $2; next }
                ($1 in home) && home[$1] != f && index(ok, " " home[$1] " ") == 0 {
                    print "libdomsec_relay_" f " uses " $1 " of " home[$1] ": not below it" }' \
                "$defs" - >"$defs.bad"
        if [ -s "$defs.bad" ]; then
            sed 's/^/layering: /' "$defs.bad"; fail=1
        fi
        rm -f "$defs.bad"
    done
fi
# Every delivery outcome comes from relay_decide: relay_trouble_*, its
# building blocks, are called nowhere but in relay_trouble.c.
for f in relay/*/*.c; do
    case $f in relay/core/relay_trouble.c) continue ;; esac
    grep -n 'relay_trouble_[a-z_]*(' "$f" && bad "$f decides outside relay_decide"
done
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
