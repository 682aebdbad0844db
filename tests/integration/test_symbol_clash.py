"""No library loaded in a running domsecd exports a symbol that libwolfssl also exports.

libwolfssl carries OpenSSL-compatible names (SSL_*, ...).  If another loaded library
defines one of them too, the dynamic linker binds every caller of that name to
whichever library comes first: libcurl's OpenSSL flavour (libcurl4-openssl-dev) brings
libssl.so.3, and libssl.so.3 and libwolfssl.so.35 share six such symbols
(SSL_SESSION_set1_id, ...), so wolfSSL's own callers or libcurl's TLS could call the
other library's function.  domsec builds with libcurl4-gnutls-dev instead (libcrypto.so.3
still comes in through libssh2, and shares no symbol with wolfSSL).

The check reads /proc/PID/maps of the running daemon and compares the dynamic symbol
tables (nm -D --defined-only) of every mapped ELF file with libwolfssl's.  The second
test shows that the check fails when libssl.so.3 is loaded (LD_PRELOAD into domsecd:
what the OpenSSL flavour of libcurl would do).

A -DDOMSEC_WOLFSSL=tuned build links wolfSSL statically (cmake/WolfSSLTuned.cmake) with
--exclude-libs: domsecd's dynamic symbol table must then hold none of wolfSSL's names,
so libssl's same-named functions, even loaded, have nothing of wolfSSL's to bind to."""

import glob
import os
import shutil
import subprocess
import unittest

from domsec_harness import Daemon
from test_sanitizer_reports import asan_runtime

ELF_BOOKKEEPING = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def mapped_files(pid):
    """Paths of the files mapped into process pid (its executable and libraries)."""
    paths = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                path = parts[5].strip()
                if not path.endswith(" (deleted)") and os.path.isfile(path):
                    paths.add(os.path.realpath(path))
    return paths


def exported(path):
    """Names of the symbols path defines in its dynamic symbol table (no version tags,
    no ELF bookkeeping names or version nodes); empty for a non-ELF file."""
    r = subprocess.run(["nm", "-D", "--defined-only", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    names = set()
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] not in ("A",):
            name = parts[2].split("@")[0]
            if name not in ELF_BOOKKEEPING:
                names.add(name)
    return names


def static_wolfssl():
    """The libwolfssl.a a -DDOMSEC_WOLFSSL=tuned build links into domsecd (its
    CMakeCache.txt's DOMSEC_WOLFSSL_LIBRARY), or None (the shared system library)."""
    build = os.environ.get("DOMSEC_BUILD")
    if not build:
        return None
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("DOMSEC_WOLFSSL_LIBRARY:"):
                return line.split("=", 1)[1].strip()
    return None


def archive_defined(path):
    """Names of the global symbols the objects of a static archive define."""
    r = subprocess.run(["nm", "-g", "--defined-only", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    names = {parts[2] for parts in (line.split() for line in
                                    r.stdout.decode("utf-8", "replace").splitlines())
             if len(parts) == 3}
    if len(names) < 100:
        raise AssertionError("nm read only %d symbols from %s" % (len(names), path))
    return names


def clashes(pid):
    """(wolfssl path, {other mapped file: symbols it shares with libwolfssl}).
    With the static wolfSSL of the tuned build, the path is domsecd's and its wolfSSL
    symbols are those it exports (none, as it links with --exclude-libs): a library
    can only bind to what the dynamic symbol table offers."""
    files = mapped_files(pid)
    archive = static_wolfssl()
    if archive:
        exe = os.path.realpath("/proc/%d/exe" % pid)
        if any(os.path.basename(p).startswith("libwolfssl.so") for p in files):
            raise AssertionError("%s links %s, yet maps a libwolfssl.so: %s"
                                 % (exe, archive, sorted(files)))
        wolf, ours = [exe], exported(exe) & archive_defined(archive)
    else:
        wolf = [p for p in files if os.path.basename(p).startswith("libwolfssl.so")]
        if len(wolf) != 1:
            raise AssertionError("expected one libwolfssl in domsecd, mapped: %s" % sorted(files))
        ours = exported(wolf[0])
        if len(ours) < 100:
            raise AssertionError("nm read only %d symbols from %s" % (len(ours), wolf[0]))
    found = {}
    for p in files - set(wolf):
        common = exported(p) & ours
        if common:
            found[p] = common
    return wolf[0], found


def libssl():
    for p in glob.glob("/lib/*/libssl.so.3") + glob.glob("/usr/lib/*/libssl.so.3"):
        return os.path.realpath(p)
    raise AssertionError("libssl.so.3 is not installed (the openssl package brings it)")


class SymbolClashTest(unittest.TestCase):

    def setUp(self):
        if not shutil.which("nm"):
            raise AssertionError("nm is missing (binutils, part of build-essential)")

    def test_no_library_shares_a_symbol_with_wolfssl(self):
        d = Daemon(self).start()
        _, found = clashes(d.pid)
        archive = static_wolfssl()
        if archive:
            exe = os.path.realpath("/proc/%d/exe" % d.pid)
            self.assertEqual(exported(exe) & archive_defined(archive), set())
        self.assertEqual(found, {}, "libraries in domsecd that export libwolfssl's "
                         "symbols: %s" % {p: sorted(s) for p, s in found.items()})
        # what is checked is really there: libcurl's GnuTLS flavour, and no libssl
        names = {os.path.basename(p) for p in mapped_files(d.pid)}
        self.assertTrue(any(n.startswith("libcurl-gnutls.so") for n in names), sorted(names))
        self.assertFalse(any(n.startswith("libssl.so") for n in names), sorted(names))

    def test_check_sees_libssl(self):
        ssl = libssl()
        preload = " ".join(p for p in (asan_runtime(), ssl) if p)   # ASan's runtime first
        d = Daemon(self).start(wrap=lambda argv: ["env", "LD_PRELOAD=" + preload] + argv)
        _, found = clashes(d.pid)
        archive = static_wolfssl()
        if archive:
            # libssl defines names wolfSSL's objects define too (a shared libwolfssl
            # would clash here), but domsecd exports none of them: nothing to bind to
            self.assertIn("SSL_SESSION_set1_id", exported(ssl) & archive_defined(archive))
            self.assertEqual(found, {})
            return
        self.assertIn(ssl, found)
        # the six of OpenSSL 3.0.x / wolfSSL 5.5 (Debian 12); at least the one named above
        self.assertIn("SSL_SESSION_set1_id", found[ssl])
        self.assertEqual(list(found), [ssl])    # nothing else clashes


if __name__ == "__main__":
    unittest.main()
