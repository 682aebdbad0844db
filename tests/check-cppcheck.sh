#!/bin/sh
# check-cppcheck.sh SRCDIR - cppcheck finds nothing in logs/ policy/ tls/ dns/
# relay/ at --enable=warning,portability, knowing POSIX (posix.cfg: double
# close, leaked descriptors, ...).  Where cppcheck is wrong, the line carries
# an inline "cppcheck-suppress ID ; why".
set -u
cd "$1" || exit 2
if ! command -v cppcheck >/dev/null; then
    echo "cppcheck is not installed (scripts/setup installs it)"
    exit 1
fi
# readdirCalled: posix.cfg's advice to use readdir_r instead is obsolete
# (glibc deprecates readdir_r; readdir is thread-safe on a stream that one
# thread reads, as each of ours is).
exec cppcheck --enable=warning,portability --library=posix --std=c11 -q \
    --inline-suppr --error-exitcode=1 --suppress=readdirCalled \
    -I logs -I policy -I tls -I dns $(for d in relay/*/ relay/*/private/; do printf -- "-I %s " "$d"; done) logs policy tls dns relay
