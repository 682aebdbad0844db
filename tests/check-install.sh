#!/bin/sh
# check-install.sh - cmake --install puts every file where GNUInstallDirs says,
# writes the unit with the installed paths, and never overwrites an existing
# domsec.conf.
#
# usage: check-install.sh BUILDDIR
#
# Installs BUILDDIR twice with the prefix /opt/domsec-check (cmake --install
# --prefix), the second time over an edited domsec.conf, and once with prefix
# /usr (GNUInstallDirs' rule: the configuration goes to /etc, not /usr/etc);
# always under a temporary DESTDIR, so nothing outside it is ever written,
# even for a build configured with absolute directories (such as Debian's:
# debian/rules leaves this check out).
# Exit 0 when all holds, 1 naming what does not, 2 on a usage error.

[ $# -eq 1 ] || { echo "usage: check-install.sh BUILDDIR" >&2; exit 2; }
build=$1
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

p=/opt/domsec-check r=$tmp/root
install() { DESTDIR=$r cmake --install "$build" --prefix "$p" >"$tmp/$1" 2>&1 ||
                { cat "$tmp/$1"; fail "cmake --install failed"; }; }
install out1
for f in sbin/domsecd bin/domsec share/man/man8/domsecd.8 share/man/man8/domsec.8 \
         share/man/man5/domsec.conf.5 etc/domsec/domsec.conf lib/systemd/system/domsecd.service; do
    [ -f "$r$p/$f" ] || fail "$p/$f was not installed"
done
grep -qx "ExecStart=$p/sbin/domsecd -c $p/etc/domsec/domsec.conf" "$r$p/lib/systemd/system/domsecd.service" ||
    fail "the unit's ExecStart is not the installed domsecd and configuration: $(grep ExecStart= "$r$p/lib/systemd/system/domsecd.service")"
grep -qx "ExecReload=$p/bin/domsec -c $p/etc/domsec/domsec.conf reload" "$r$p/lib/systemd/system/domsecd.service" ||
    fail "the unit's ExecReload is not the installed domsec reload: $(grep ExecReload= "$r$p/lib/systemd/system/domsecd.service")"
"$r$p/sbin/domsecd" --check-config -c "$r$p/etc/domsec/domsec.conf" >/dev/null 2>&1 ||
    fail "the installed domsec.conf does not pass domsecd --check-config"

echo "; edited by the administrator" >>"$r$p/etc/domsec/domsec.conf"
cp "$r$p/etc/domsec/domsec.conf" "$tmp/edited"
install out2
cmp -s "$tmp/edited" "$r$p/etc/domsec/domsec.conf" || fail "a second install overwrote the edited domsec.conf"
grep -q "Keeping existing: $r$p/etc/domsec/domsec.conf" "$tmp/out2" ||
    fail "the second install did not say it kept domsec.conf"

d=$tmp/dest
DESTDIR=$d cmake --install "$build" --prefix /usr >"$tmp/out3" 2>&1 || { cat "$tmp/out3"; fail "DESTDIR install failed"; }
[ -f "$d/etc/domsec/domsec.conf" ] || fail "prefix /usr: domsec.conf is not in DESTDIR/etc/domsec"
[ -f "$d/usr/sbin/domsecd" ] || fail "prefix /usr: domsecd is not in DESTDIR/usr/sbin"
unit=$(find "$d" -name domsecd.service | head -n 1)
[ -n "$unit" ] || fail "prefix /usr: no domsecd.service under DESTDIR"
grep -qx "ExecStart=/usr/sbin/domsecd -c /etc/domsec/domsec.conf" "$unit" ||
    fail "prefix /usr: the unit's ExecStart is $(grep ExecStart= "$unit")"
grep -qx "ExecReload=/usr/bin/domsec -c /etc/domsec/domsec.conf reload" "$unit" ||
    fail "prefix /usr: the unit's ExecReload is $(grep ExecReload= "$unit")"
echo "check-install: ok"
