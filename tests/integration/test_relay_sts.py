"""relay/sts/ (the MTA-STS policy cache) on one loop, driven by
$DOMSEC_BUILD/tests/relay_sts_drive against dnsmasq (the _mta-sts TXT record and
mta-sts.D) and sts_peers.PolicyServer (stdlib HTTPS, a test-PKI certificate).
Shown: concurrent lookups of one domain share one fetch, and a second round is
answered from memory without one; the fetch rules (HTTP 200 only, Content-Type
text/plain, a certificate valid for mta-sts.D under the given anchors) give the
RFC 8460 failure types; a TXT record naming two STSv1 policies means no policy;
mode none answers "none"; the close answers every lookup still waiting with
"canceled" exactly once, never inside the starting call, and leaves no handle."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from peers import Dns, host
from pki import PkiMixin
from sts_peers import PolicyServer, Response, build_program, server_cert, sts_policy, txt

DOMAIN = "fabrikam.test"
WEB_IP = "127.0.0.164"
POLICY_HOST = "mta-sts." + DOMAIN


class RelayStsTest(PkiMixin, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.good = server_cert(cls.pki, "sts-fab", [POLICY_HOST])
        cls.wrongname = server_cert(cls.pki, "sts-fab-wrong", ["mta-sts.other.test"])

    def world(self, policy, cert=None, records=None):
        recs = records if records is not None else [
            txt("_mta-sts." + DOMAIN, "v=STSv1; id=7;")]
        self.dns = Dns(self, recs + [host(POLICY_HOST, WEB_IP)])
        return PolicyServer(self, WEB_IP, {POLICY_HOST: policy}, *(cert or self.good))

    def drive(self, *domains, rounds=1, close_after=None, cache="-", max_domains=None,
              server=None, reload=None, offset=0, advance=0):
        argv = [build_program("relay_sts_drive"), "--offset", str(offset), "--advance",
                str(advance)]
        if reload is not None:
            argv += ["--reload-after", str(reload[0]), "--reload-server", reload[1]]
        if close_after is not None:
            argv += ["--close-after", str(close_after)]
        if max_domains is not None:
            argv += ["--max-domains", str(max_domains)]
        argv += ["--rounds", str(rounds), server or "127.0.0.1:%d" % self.dns.port,
                 getattr(self, "ca_override", None) or self.p("trusted-ca.pem"), cache
                 ] + list(domains)
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        results, summary = lines[:-1], lines[-1]
        self.assertEqual(summary["loop_close"], 0, r.stdout.decode())   # no handle left
        self.assertEqual(summary["closed"], 1)
        self.assertEqual(summary["callbacks"], len(domains) * rounds, r.stdout.decode())
        for res in results:
            self.assertFalse(res["sync"], res)
        return results, r.stderr.decode()

    def test_concurrent_lookups_share_one_fetch(self):
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN, "*.mx." + DOMAIN], 600))
        cache = tempfile.mkdtemp(prefix="domsec-stscache-")
        self.addCleanup(shutil.rmtree, cache, True)
        results, log = self.drive(DOMAIN, DOMAIN, DOMAIN.upper(), DOMAIN, rounds=2,
                                  cache=os.path.join(cache, "sub"))
        for res in results:
            self.assertEqual((res["status"], res["mode"], res["id"], res["mx"]),
                             ("ok", "enforce", "7", ["mx." + DOMAIN, "*.mx." + DOMAIN]), res)
        self.assertEqual(len(web.gets(POLICY_HOST)), 1, web.requests())
        self.assertEqual(log.count("result=fetched"), 1, log)
        # The cache file was written (the directory made on the way).
        with open(os.path.join(cache, "sub", DOMAIN), newline="") as f:
            self.assertIn("\nid: 7\n", f.read())

    def test_memory_bound_reads_evicted_policies_back_from_disk(self):
        # Three domains, room for two in memory: in the second round those that had
        # to leave are read back from their files (result=loaded), none fetched again.
        names = ["a.fab.test", "b.fab.test", "c.fab.test"]
        cert = server_cert(self.pki, "sts-fab-abc", ["mta-sts." + n for n in names])
        recs = []
        for n in names:
            recs += [txt("_mta-sts." + n, "v=STSv1; id=%s;" % n[0]), host("mta-sts." + n, WEB_IP)]
        self.dns = Dns(self, recs)
        web = PolicyServer(self, WEB_IP, {"mta-sts." + n: sts_policy("testing", ["mx." + n], 600)
                                          for n in names}, *cert)
        cache = tempfile.mkdtemp(prefix="domsec-stscache-")
        self.addCleanup(shutil.rmtree, cache, True)
        results, log = self.drive(*names, rounds=2, cache=cache, max_domains=2)
        for res in results:
            self.assertEqual((res["status"], res["id"]), ("ok", res["domain"][0]), res)
        self.assertEqual(sorted(r.host for r in web.gets()), ["mta-sts." + n for n in names])
        self.assertEqual(log.count("result=fetched"), 3, log)
        # Round 1 made them in the order a, b, c (c most recently used); round 2 (after
        # the files are written) uses a: b leaves; b comes back from its file: c leaves;
        # c comes back.  An entry in use never leaves.
        loaded = re.findall(r"mta-sts domain=(\S+) id=\S+ mode=testing result=loaded", log)
        self.assertEqual(sorted(loaded), ["b.fab.test", "c.fab.test"], log)   # pool order

    def check_failure(self, web_policy, failure, why_part, cert=None):
        web = self.world(web_policy, cert=cert)
        (res,), log = self.drive(DOMAIN)
        self.assertEqual((res["status"], res["failure"]), ("failed", failure), res)
        self.assertIn(why_part, res["why"])
        self.assertIn("mta-sts domain=%s id=7 mode=- result=failed failure=%s"
                      % (DOMAIN, failure), log)
        return web

    def test_http_404_is_a_fetch_error(self):
        self.check_failure(Response(404, "no\n", {"Content-Type": "text/plain"}),
                           "sts-policy-fetch-error", "answered HTTP 404")

    def test_content_type_must_be_text_plain(self):
        self.check_failure(Response(200, sts_policy("enforce", ["mx." + DOMAIN], 60),
                                    {"Content-Type": "text/html"}),
                           "sts-policy-invalid", "Content-Type is text/html")

    def test_wrong_name_certificate_is_webpki_invalid(self):
        web = self.check_failure(sts_policy("enforce", ["mx." + DOMAIN], 60),
                                 "sts-webpki-invalid", "fetch of https://" + POLICY_HOST,
                                 cert=self.wrongname)
        self.assertEqual(web.gets(), [])          # refused before any request

    def test_two_stsv1_records_mean_no_policy(self):
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN], 60), records=[
            txt("_mta-sts." + DOMAIN, "v=STSv1; id=1;"),
            txt("_mta-sts." + DOMAIN, "v=STSv1; id=2;")])
        (res,), _ = self.drive(DOMAIN)
        self.assertEqual((res["status"], res["why"]),
                         ("none", "more than one v=STSv1 TXT record"), res)
        self.assertEqual(web.requests(), [])

    def test_mode_none_is_no_policy(self):
        self.world(sts_policy("none", [], 60))
        (res,), log = self.drive(DOMAIN)
        self.assertEqual((res["status"], res["mode"]), ("none", None), res)
        self.assertEqual(res["why"], "the published policy has mode none")   # not "no record"
        self.assertIn("mta-sts domain=%s id=7 mode=none result=fetched" % DOMAIN, log)

    def test_mode_none_under_refresh_says_so(self):
        # A cached mode-none policy being refreshed in the background still says why
        # it is no policy.
        web = self.world(sts_policy("none", [], 600))
        results, _ = self.drive(DOMAIN, rounds=2, advance=400000, cache=self.cache_dir())
        self.assertEqual([r["status"] for r in results], ["none", "none"], results)
        self.assertEqual(results[1]["why"],
                         "the published policy has mode none; cached policy; refreshing it")
        self.assertEqual(len(web.gets(POLICY_HOST)), 2)

    def test_address_literal_is_not_looked_up(self):
        # "[...]" would become https://mta-sts.[a:8443/x?]/...: no lookup at all.
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN], 60))
        (res,), log = self.drive("[a:8443/x?]")
        self.assertEqual((res["status"], res["why"]), ("none", "not a domain name"), res)
        self.assertEqual(web.requests(), [])
        self.assertNotIn("_mta-sts.[", self.dns.output())

    def test_close_cancels_waiting_lookups(self):
        # The policy server never answers: whatever stage the lookups are in when the
        # close comes (TXT, address, HTTPS), each answers "canceled" once.
        self.world(Response(hang=True))
        results, _ = self.drive(DOMAIN, DOMAIN, close_after=1500)
        self.assertEqual([r["status"] for r in results], ["canceled", "canceled"], results)

    def test_reload_asks_the_new_resolver_again(self):
        # The first resolver's server never answers (a UDP socket nobody reads): the TXT
        # lookup is in flight when the "reload" replaces the resolver by dnsmasq's and
        # closes the old one.  The cancelled lookup is asked again, so the policy is
        # found: not "none" (which would send an enforce domain's mail anywhere).
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN], 60))
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        (res,), log = self.drive(DOMAIN, server="127.0.0.1:%d" % silent.getsockname()[1],
                                 reload=(200, "127.0.0.1:%d" % self.dns.port))
        self.assertIn("resolver replaced", log)
        self.assertEqual((res["status"], res["mode"], res["failure"]), ("ok", "enforce", None),
                         res)
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)

    def cache_dir(self):
        d = tempfile.mkdtemp(prefix="domsec-sts-cache-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_refresh_in_background_before_max_age(self):
        # max_age 600 s: at 400 s (past half) the cached policy answers at once and is
        # fetched again in the background (RFC 8461 5.1), which replaces it.
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN], 600))
        results, log = self.drive(DOMAIN, rounds=2, advance=400000, cache=self.cache_dir())
        self.assertEqual([(r["status"], r["failure"]) for r in results],
                         [("ok", None), ("ok", None)], results)
        self.assertEqual(results[1]["why"], "cached policy; refreshing it")
        self.assertEqual(len(web.gets(POLICY_HOST)), 2)
        self.assertIn("mta-sts domain=%s id=7 mode=enforce result=refreshed" % DOMAIN, log)

    def test_failed_background_refresh_keeps_the_policy(self):
        cache = self.cache_dir()
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN], 600))
        (first,), _ = self.drive(DOMAIN, cache=cache)
        self.assertEqual(first["status"], "ok")
        # Later (400 s on the cache's clock) the server has lost the policy: the cached
        # one is used, the background refresh fails, the next lookup hears of the failure
        # once (STALE, for TLS-RPT) and the one after that is OK without a new fetch
        # (back-off).
        web.set(POLICY_HOST, Response(404, "gone\n", {"Content-Type": "text/plain"}))
        results, log = self.drive(DOMAIN, rounds=3, cache=cache, offset=400000)
        self.assertEqual([(r["status"], r["mode"], r["failure"]) for r in results],
                         [("ok", "enforce", None),
                          ("stale", "enforce", "sts-policy-fetch-error"),
                          ("ok", "enforce", None)], results)
        self.assertIn("answered HTTP 404", results[1]["why"])
        self.assertEqual(len(web.gets(POLICY_HOST)), 2)
        self.assertIn("mta-sts domain=%s id=7 mode=enforce result=stale "
                      "failure=sts-policy-fetch-error" % DOMAIN, log)

    def test_failed_fetch_backs_off(self):
        # A failed fetch is not repeated at every lookup: 1 min (doubling) before the
        # same id is fetched again; meanwhile FAILED with the last failure, told (so
        # that a REQUIRETLS message defers 4.7.10) but not for TLS-RPT again.
        web = self.world(Response(404, "no\n", {"Content-Type": "text/plain"}))
        results, _ = self.drive(DOMAIN, rounds=2)
        self.assertEqual([(r["status"], r["failure"], r["told"]) for r in results],
                         [("failed", "sts-policy-fetch-error", False),
                          ("failed", "sts-policy-fetch-error", True)], results)
        self.assertRegex(results[1]["why"], r"^the fetch of policy id 7 failed; next try in "
                                            r"(60|59) s$")
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)
        # A run whose second round comes 61 s later: fetched again (and failing again).
        results, _ = self.drive(DOMAIN, rounds=2, advance=61000)
        self.assertEqual(results[1]["failure"], "sts-policy-fetch-error", results)

    def test_missing_trust_store_is_not_the_domains_failure(self):
        # Our own mta_sts_trusted_ca_file missing: FAILED with our own marker, told (no
        # sts-webpki-invalid reported against the domain, but a REQUIRETLS message
        # defers), and a warning; the back-off's repeat says the same.
        self.world(sts_policy("enforce", ["mx." + DOMAIN], 60))
        self.ca_override = "/nonexistent/webpki.pem"
        (res, again), log = self.drive(DOMAIN, rounds=2)
        self.assertEqual((res["status"], res["failure"], res["told"]),
                         ("failed", "local-trust-store", True), res)
        self.assertEqual((again["status"], again["failure"], again["told"]),
                         ("failed", "local-trust-store", True), again)
        self.assertIn("local trust store", res["why"])
        self.assertIn("our trust store (mta_sts_trusted_ca_file /nonexistent/webpki.pem)", log)

    def test_no_txt_record_is_no_policy(self):
        web = self.world(sts_policy("enforce", ["mx." + DOMAIN], 60))
        (res,), log = self.drive("nosuch.test")
        self.assertEqual((res["status"], res["why"]), ("none", "no TXT record"), res)
        self.assertEqual(web.requests(), [])
        self.assertNotIn("mta-sts domain=", log)    # nothing to log: no policy, no change


if __name__ == "__main__":
    unittest.main()
