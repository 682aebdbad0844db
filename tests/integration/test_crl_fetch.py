"""CRLs fetched from distribution points, the CRL cache, crl_directory changes while
running, and `domsec crl list` (SPEC 6.3; relay_crl.c, domsec_crl.c).

The PKI (tests/pki/make-pki.sh) is built per class with its CDP URLs pointing at a
small HTTP server of this file on 127.0.0.1 (CrlServer), which serves the PKI's
www/ directory (or an error, or garbage) and counts every request.  Partners are
Python's ssl (OpenSSL) with the PKI's client certificates; the verdict is the reply
to MAIL FROM of the partner domain (tls_receive_domain_secure_list)."""

import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
import unittest

from domsec_harness import Daemon, DomsecTestCase, domsecd_path, service_ids, wait_until
from http_peers import QuietHandler, ThreadedServer
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
SECURED_OK = "250 2.1.0 Sender OK"
CERT_FAIL = "454 4.7.5 Certificate validation failure"
UNKNOWN_RULE = r'rule="CertificateValidationFailure \(RevocationUnknown\)"'
REVOKED_RULE = r'rule="CertificateValidationFailure \(Revoked\)"'


class CrlServer:
    """HTTP on 127.0.0.1:<ephemeral>: GET /NAME serves ROOT/NAME as
    application/pkix-crl (404 if missing), or, by mode, 500 or a garbage body.
    Every request path is counted (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.root = None
        self.mode = "serve"
        server = self

        class Handler(QuietHandler):
            def do_GET(self):
                with server.lock:
                    server.counts[self.path] += 1
                    mode, root = server.mode, server.root
                if mode == "500":
                    return self.reply(500, b"internal error\n", "text/plain")
                if mode == "garbage":
                    return self.reply(200, b"this is not a CRL\n" * 20, "application/pkix-crl")
                path = os.path.join(root or "/nonexistent", os.path.basename(self.path))
                try:
                    with open(path, "rb") as f:
                        body = f.read()
                except OSError:
                    return self.reply(404, b"not found\n", "text/plain")
                self.reply(200, body, "application/pkix-crl")

        self.httpd = ThreadedServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self, root, mode="serve"):
        with self.lock:
            self.counts.clear()
            self.root, self.mode = root, mode

    def count(self, name):
        with self.lock:
            return self.counts["/" + name]

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def domsec_path():
    p = os.path.join(os.path.dirname(domsecd_path()), "domsec")
    if not os.access(p, os.X_OK):
        raise AssertionError("%s is not an executable (built beside domsecd)" % p)
    return p


def openssl_dates(path):
    """(lastUpdate, nextUpdate) of a CRL file as ISO 8601 UTC, by openssl."""
    out = subprocess.run(["openssl", "crl", "-noout", "-lastupdate", "-nextupdate", "-in", path],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    dates = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        t = time.strptime(" ".join(value.split()), "%b %d %H:%M:%S %Y GMT")
        dates[key] = time.strftime("%Y-%m-%dT%H:%M:%SZ", t)
    return dates["lastUpdate"], dates["nextUpdate"]


class CrlFetchTest(PkiMixin, DomsecTestCase):

    @classmethod
    def setUpClass(cls):
        cls.http = CrlServer()              # first: the PKI's CDP URLs need its port
        cls.crl_port = cls.http.port
        try:
            super().setUpClass()
        except Exception:
            cls.http.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        super().tearDownClass()

    def setUp(self):
        self.http.reset(self.p("www"))

    # ---- helpers ------------------------------------------------------------
    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.crl_port, name)

    def daemon(self, fetch="yes", crls=(), start=True, **transport):
        opts = {"auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"}
        t = self.tls_transport(self.store("relay"), crls=crls, crl_fetch=fetch,
                               tls_receive_domain_secure_list=PARTNER)
        t.update(transport)
        d = Daemon(self, connectors=[("Inet", opts)], transport=t)
        d.crl_directory = t["crl_directory"]
        if start:
            d.start()
        return d

    def refused(self, d, rule, since):
        return d.wait_log(d.prefix() + r"warning smtpd \S+ domain security refused sender=<a@%s> "
                          r".*%s" % (re.escape(PARTNER), rule), since=since)

    def wait_fetched(self, d, name, since=0):
        size = os.path.getsize(self.p("www/" + name))
        d.wait_log(d.prefix() + r"info crl fetch url=%s status=200 bytes=%d$"
                   % (re.escape(self.url(name)), size), since=since)
        return d.wait_log(d.prefix() + r"info crl loaded source=\S+ url=%s issuer=.* "
                          r"status=Current$" % re.escape(self.url(name)), since=since)

    def wait_published(self, d, since):
        d.wait_log(d.prefix() + r"info crl published crls=\d+$", since=since)

    def crl_list(self, d, *args):
        return subprocess.run([domsec_path(), "-c", d.config_path, "crl", "list"] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)

    def cache_dir(self, d):
        return os.path.join(d.queue_dir, "crl-cache")

    # ---- 1. fetch on a miss ----------------------------------------------------
    def test_first_session_fetches_then_the_next_is_secured(self):
        d = self.daemon(fetch="yes", revocation_failure="fail")
        mark = d.log_mark()
        # No CRL yet: revocation unknown, a transient refusal; the fetch starts.
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.refused(d, UNKNOWN_RULE, mark)
        self.wait_fetched(d, "inter.crl", mark)
        self.wait_fetched(d, "root.crl", mark)
        self.wait_published(d, mark)
        mark = d.log_mark()
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        d.wait_log(d.prefix() + r"info smtpd \S+ domain secured sender=<a@%s> .*"
                   r"revocation=good" % re.escape(PARTNER), since=mark)
        self.assertEqual((self.http.count("inter.crl"), self.http.count("root.crl")), (1, 1))
        # A third session: nothing is fetched again.
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        time.sleep(1)
        self.assertEqual(self.http.total(), 2, self.http.counts)
        self.assertNotRegex(d.log()[mark:], r"crl fetch")

    # ---- 2. the cache survives a restart -----------------------------------------
    def test_cached_crls_are_used_after_a_restart_without_fetching(self):
        d = self.daemon(fetch="yes")
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.wait_fetched(d, "inter.crl")
        self.wait_fetched(d, "root.crl")
        self.assertEqual(d.stop(), 0)

        cache = self.cache_dir(d)
        self.assertEqual(os.stat(cache).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(cache).st_uid, service_ids()[0])
        for name in ("inter.crl", "root.crl"):
            h = hashlib.sha256(self.url(name).encode()).hexdigest()
            with open(os.path.join(cache, h + ".url")) as f:
                self.assertEqual(f.read(), self.url(name) + "\n")
            with open(os.path.join(cache, h + ".crl"), "rb") as f, \
                    open(self.p("www/" + name), "rb") as g:
                self.assertEqual(f.read(), g.read())
        self.assertEqual(sorted(n for n in os.listdir(cache) if n.startswith(".")), [])

        d.restart()
        d.wait_log(d.prefix() + r"info crl loaded source=%s/[0-9a-f]{64}\.crl url=%s "
                   % (re.escape(cache), re.escape(self.url("inter.crl"))))
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])
        time.sleep(1)
        self.assertEqual(self.http.total(), 2, self.http.counts)    # the two of the first run
        self.assertNotRegex(d.log(), r"crl fetch")

    # ---- 3. a revoked partner --------------------------------------------------
    def test_revoked_partner_is_refused_once_the_crl_is_fetched(self):
        d = self.daemon(fetch="yes", revocation_failure="accept")
        mark = d.log_mark()
        # Unknown revocation passes under accept; the fetch starts all the same.
        self.assertEqual(self.partner_mail_from(d, "partner-revoked").lines, [SECURED_OK])
        d.wait_log(d.prefix() + r"info smtpd \S+ domain secured .*revocation=unknown \(accepted\)",
                   since=mark)
        self.wait_fetched(d, "inter.crl", mark)
        self.wait_fetched(d, "root.crl", mark)
        self.wait_published(d, mark)
        mark = d.log_mark()
        self.assertEqual(self.partner_mail_from(d, "partner-revoked").lines, [CERT_FAIL])
        self.refused(d, REVOKED_RULE, mark)

    # ---- 4. crl_directory changes while running ------------------------------------
    def test_dropped_in_files_take_effect_without_restart(self):
        d = self.daemon(fetch="no")
        crldir = d.crl_directory
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        mark = d.log_mark()
        for name in ("inter.crl", "root.crl"):      # inter.crl is PEM despite its name
            tmp = os.path.join(crldir, "." + name + ".tmp")
            shutil.copy(self.p(name), tmp)
            os.chmod(tmp, 0o644)
            os.rename(tmp, os.path.join(crldir, name))
        for name in ("inter.crl", "root.crl"):
            d.wait_log(d.prefix() + r"info crl loaded source=%s issuer=.* status=Current$"
                       % re.escape(os.path.join(crldir, name)), timeout=10, since=mark)
        self.wait_published(d, mark)
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])

        mark = d.log_mark()
        for name in ("inter.crl", "root.crl"):
            os.unlink(os.path.join(crldir, name))
        d.wait_log(d.prefix() + r"info crl removed source=%s " % re.escape(
            os.path.join(crldir, "inter.crl")), timeout=10, since=mark)
        self.wait_published(d, mark)
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.refused(d, UNKNOWN_RULE, mark)
        self.assertEqual(self.http.total(), 0)      # crl_fetch = no

    def test_reload_takes_the_new_crl_directory(self):
        d = self.daemon(fetch="no")
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        full = self.crl_dir("inter.crl", "root.crl")
        mark = d.log_mark()
        d.write_config(d.config_text.replace("crl_directory = %s" % d.crl_directory,
                                             "crl_directory = %s" % full))
        d.reload()
        d.wait_log(d.prefix() + r"info crl loaded source=%s issuer=.* status=Current$"
                   % re.escape(os.path.join(full, "inter.crl")), since=mark)
        self.wait_published(d, mark)
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [SECURED_OK])

    def test_a_bad_file_is_named_and_skipped(self):
        d = self.daemon(fetch="no", crls=("root.crl",))
        mark = d.log_mark()
        bad = os.path.join(d.crl_directory, "junk.crl")
        with open(bad + ".tmp", "w") as f:
            f.write("not a CRL\n")
        os.rename(bad + ".tmp", bad)
        d.wait_log(d.prefix() + r"warning .*%s" % re.escape(bad), timeout=10, since=mark)
        self.assertTrue(d.running())
        r = self.crl_list(d)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(bad, r.stderr.decode())
        self.assertEqual(len(r.stdout.decode().splitlines()), 2, r.stdout)   # header, root.crl

    # ---- 5. HTTP failures --------------------------------------------------------------
    def test_http_failures_are_logged_with_a_retry_time(self):
        stale = self.store()                       # an empty temporary directory
        shutil.copy(self.p("inter-stale.crl.der"), os.path.join(stale, "inter.crl"))
        shutil.copy(self.p("www/root.crl"), os.path.join(stale, "root.crl"))
        for mode, root, why in (("500", None, r"HTTP status 500"),
                                ("garbage", None, r"the body is not a CRL[^\"]*"),
                                ("serve", stale, r"the CRL is stale \(nextUpdate [^\"]+\)")):
            with self.subTest(mode=mode, root=root):
                self.http.reset(root or self.p("www"), mode)
                d = self.daemon(fetch="yes", revocation_failure="fail")
                mark = d.log_mark()
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
                m = d.wait_log(d.prefix() + r'warning crl fetch failed url=%s error="%s" '
                               r"retry_in=(\d+)s$" % (re.escape(self.url("inter.crl")), why),
                               since=mark)
                self.assertTrue(54 <= int(m.group(1)) <= 60, m.group(0))
                # In backoff: the next session is unknown again and fetches nothing.
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
                self.refused(d, UNKNOWN_RULE, mark)
                time.sleep(1)
                self.assertEqual(self.http.count("inter.crl"), 1, self.http.counts)
                self.assertTrue(d.running())
                inter = hashlib.sha256(self.url("inter.crl").encode()).hexdigest()
                self.assertFalse([n for n in os.listdir(self.cache_dir(d)) if inter in n])
                self.assertEqual(d.stop(), 0)

    # ---- 6. domsec crl list --------------------------------------------------------------
    def test_crl_list_table_and_json(self):
        d = self.daemon(fetch="no", crls=("inter.crl", "inter-stale.crl", "root.crl"),
                        start=False)
        crldir = d.crl_directory
        want = {}
        for name, issuer, entries, status in (
                ("inter.crl", "CN=Domsec Test Intermediate CA", 1, "Current"),
                ("inter-stale.crl", "CN=Domsec Test Intermediate CA", 0, "Stale"),
                ("root.crl", "CN=Domsec Test Root CA", 1, "Current")):
            this, nxt = openssl_dates(self.p(name))
            want[os.path.join(crldir, name)] = (issuer, this, nxt, entries, status)

        r = self.crl_list(d)
        self.assertEqual(r.returncode, 0, r)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(re.split(r"\s{2,}", lines[0].strip()),
                         ["Issuer", "ThisUpdate", "NextUpdate", "Entries", "Source", "Status"])
        self.assertEqual(len(lines), 4, lines)
        seen = {}
        for line in lines[1:]:
            issuer, this, nxt, entries, source, status = re.split(r"\s{2,}", line.strip())
            seen[source] = (issuer, this, nxt, int(entries), status)
        self.assertEqual(set(seen), set(want))
        for source, (issuer, this, nxt, entries, status) in want.items():
            got = seen[source]
            self.assertIn(issuer, got[0])
            self.assertEqual(got[1:], (this, nxt, entries, status), source)

        r = self.crl_list(d, "--json")
        self.assertEqual(r.returncode, 0, r)
        rows = json.loads(r.stdout.decode())
        self.assertEqual(len(rows), 3)
        for row in rows:
            issuer, this, nxt, entries, status = want[row["Source"]]
            self.assertIn(issuer, row["Issuer"])
            self.assertEqual((row["ThisUpdate"], row["NextUpdate"], row["Entries"],
                              row["Status"]), (this, nxt, entries, status))
            self.assertEqual(row["File"], row["Source"])

    def test_crl_list_shows_fetched_crls_by_url(self):
        d = self.daemon(fetch="yes")
        self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
        self.wait_fetched(d, "inter.crl")
        self.wait_fetched(d, "root.crl")
        rows = json.loads(self.crl_list(d, "--json").stdout.decode())
        self.assertEqual(sorted(r["Source"] for r in rows),
                         [self.url("inter.crl"), self.url("root.crl")])
        for row in rows:
            self.assertEqual(row["Status"], "Current")
            self.assertTrue(row["File"].startswith(self.cache_dir(d) + "/"), row)

    def test_cached_crls_are_loaded_in_name_order(self):
        # The cache is read in the order of its file names, whatever order they
        # were created in (relay_crl_build.c sorted pointer bytes before).
        d = self.daemon(fetch="yes", start=False)
        cache = self.cache_dir(d)
        os.makedirs(cache, exist_ok=True)
        urls = [self.url("copy-%02d.crl" % i) for i in range(24)]
        names = {u: hashlib.sha256(u.encode()).hexdigest() for u in urls}
        for u in sorted(urls, key=lambda u: names[u], reverse=True):
            shutil.copy(self.p("inter.crl"), os.path.join(cache, names[u] + ".crl"))
            with open(os.path.join(cache, names[u] + ".url"), "w") as f:
                f.write(u + "\n")
        r = self.crl_list(d, "--json")
        self.assertEqual(r.returncode, 0, r)
        got = [os.path.basename(row["File"]) for row in json.loads(r.stdout.decode())]
        self.assertEqual(got, sorted(names[u] + ".crl" for u in urls))

    def test_crl_list_empty_and_errors(self):
        d = self.daemon(fetch="no", start=False)
        r = self.crl_list(d)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "no CRLs\n"), r)
        r = self.crl_list(d, "--json")
        self.assertEqual((r.returncode, json.loads(r.stdout.decode())), (0, []), r)

        notdir = os.path.join(d.dir, "not-a-directory")
        with open(notdir, "w") as f:
            f.write("x\n")
        d2 = self.daemon(fetch="no", start=False, crl_directory=notdir)
        r = self.crl_list(d2)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(notdir, r.stderr.decode())

        with open(d2.config_path, "a") as f:
            f.write("[transport]\nno_such_key = 1\n")
        r = self.crl_list(d2)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(d2.config_path, r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
