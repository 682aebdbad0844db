#!/bin/sh
# check-layers.sh SRCDIR - dependencies point down only (STYLE rule 1):
#   logs/ includes nothing of ours; dns/, tls/, policy/ never include relay/
#   headers; nobody includes a WOLFSSL type outside tls/.
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
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
