"""MTA-STS policy life (RFC 8461; issue 16) with real peers: dnsmasq serves the
_mta-sts TXT record, the MX and mta-sts.woodgrove.test; a stdlib HTTPS server
(sts_peers.PolicyServer) with a certificate from the test PKI serves the policy;
smtp-sink or a scripted peer is the MX.  Shown: a policy is fetched once, cached on
disk and used after a restart without a new fetch (the server's request log); a new
TXT id makes domsecd fetch again; a refresh that fails (server down) keeps the cached
policy, still enforced; a malformed policy is refused and logged (no policy: the mail
goes out as without MTA-STS); enforce with no matching MX host defers with a clear
text and never connects to the host the policy does not name; a policy whose max_age
ran out is fetched again.

Policies here are mostly in testing mode, so that delivery to a plain smtp-sink is
allowed whatever the SMTP client's MTA-STS checks (test_mta_sts_send.py) do."""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from domsec_harness import wait_until
from peers import DeliveryTestCase, host, mx
from pki import PkiMixin
from sts_peers import PolicyServer, Response, server_cert, sts_policy, txt

DOMAIN = "woodgrove.test"
WEB_IP = "127.0.0.161"
MX_IP = "127.0.0.162"
EVIL_IP = "127.0.0.163"
POLICY_HOST = "mta-sts." + DOMAIN
RCPT = "<u@%s>" % DOMAIN


class MtaStsPolicyTest(PkiMixin, DeliveryTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.web_cert = server_cert(cls.pki, "mta-sts-wg", [POLICY_HOST])

    # --- the world --------------------------------------------------------------
    def records(self, sts_id="1", mx_host="mx." + DOMAIN, mx_ip=MX_IP):
        recs = [mx(DOMAIN, mx_host, 10), host(mx_host, mx_ip), host(POLICY_HOST, WEB_IP)]
        if sts_id is not None:
            recs.append(txt("_mta-sts." + DOMAIN, "v=STSv1; id=%s;" % sts_id))
        return recs

    def web(self, policy):
        return PolicyServer(self, WEB_IP, {POLICY_HOST: policy}, *self.web_cert)

    def relay(self, mta_sts="yes"):
        """domsecd trusting the test PKI for MTA-STS; connections are not kept idle, so
        every message makes a new destination and a new policy lookup."""
        ca = os.path.join(self.tmpdir(), "webpki.pem")
        shutil.copy(self.p("trusted-ca.pem"), ca)
        os.chmod(ca, 0o644)
        internet = ("Internet", {"address_spaces": "*", "dns_routing": "yes",
                                 "port": str(self.P), "mta_sts": mta_sts})
        return self.start_relay(transport={"mta_sts_trusted_ca_file": ca,
                                           "connection_cache_time": "0"},
                                sends=[internet], internet=False)

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="domsec-sts-")
        os.chmod(d, 0o755)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def cache_file(self, d):
        return d.qpath("mta-sts-cache", DOMAIN)

    def cache_text(self, d):
        with open(self.cache_file(d), newline="") as f:     # the policy's CRLFs kept
            return f.read()

    def sts_line(self, d, result, sts_id=r"\S+", mode=r"\S+", since=0, timeout=30):
        return d.wait_log(d.prefix() + r"info sts mta-sts domain=%s id=%s mode=%s result=%s\b"
                          % (re.escape(DOMAIN), sts_id, mode, result), timeout, since=since)

    def tlsrpt_failures(self, d):
        """After the stop (the day file is written then): `domsec tlsrpt show` of today
        for DOMAIN, its sts policy's failure-details as {result-type: detail}."""
        self.assertEqual(d.stop(), 0)
        build = os.environ.get("DOMSEC_BUILD")
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        p = subprocess.run([os.path.join(build, "domsec") if build else "domsec", "-c",
                            d.config_path, "tlsrpt", "show", "--day", today, DOMAIN],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        rep = json.loads(p.stdout.decode())
        pols = [x for x in rep["policies"] if x["policy"]["policy-type"] == "sts"
                and x["policy"]["policy-domain"] == DOMAIN]
        self.assertEqual(len(pols), 1, rep)
        return pols[0], {f["result-type"]: f for f in pols[0]["failure-details"]}

    def deliver(self, d, sink):
        qid = self.submit(d, [RCPT])
        self.wait_delivered(d, qid, RCPT, ip=sink.ip)
        return qid

    def first_fetch(self, sts_id, policy):
        """The world with a testing-mode policy; one message delivered, which fetched
        the policy.  Returns (web, sink, d)."""
        self.start_dns(*self.records(sts_id))
        web = self.web(policy)
        sink = self.sink(MX_IP)
        d = self.relay()
        self.deliver(d, sink)
        self.sts_line(d, "fetched", re.escape(sts_id), "testing")
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)
        return web, sink, d

    # --- tests --------------------------------------------------------------------
    def test_fetched_cached_and_kept_across_restart(self):
        policy = sts_policy("testing", ["mx." + DOMAIN], 86400)
        web, sink, d = self.first_fetch("20261207a", policy)
        # The cache file: written on the pool, so wait for it.
        path = self.cache_file(d)
        wait_until(lambda: os.path.exists(path), 10, "the cache file %s" % path)
        text = self.cache_text(d)
        self.assertIn("domain: %s\nid: 20261207a\n" % DOMAIN, text)
        self.assertTrue(text.endswith("\n\n" + policy), text)
        # A second message: the cached policy, the id unchanged: no fetch.
        self.deliver(d, sink)
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)
        # After a restart: read from the file, not fetched again.
        self.assertEqual(d.stop(), 0)
        d.restart()
        mark = d.log_mark()
        self.deliver(d, sink)
        self.sts_line(d, "loaded", "20261207a", "testing", since=mark)
        self.assertEqual(len(web.gets(POLICY_HOST)), 1, web.requests())
        self.assertNotIn("result=fetched", d.log()[mark:])

    def test_id_change_refetches(self):
        web, sink, d = self.first_fetch("1", sts_policy("testing", ["mx." + DOMAIN], 86400))
        web.set(POLICY_HOST, sts_policy("testing", ["mx." + DOMAIN, "*.backup." + DOMAIN],
                                        3600))
        self.dns.replace(self.records("2"))
        self.deliver(d, sink)
        self.sts_line(d, "refreshed", "2", "testing")
        self.assertEqual(len(web.gets(POLICY_HOST)), 2)
        wait_until(lambda: "id: 2\n" in self.cache_text(d), 10,
                   "the cache file to hold id 2")

    def test_failed_refresh_keeps_enforcing_and_never_connects(self):
        # The MX is a host the policy does not name: enforce defers, never connects.
        self.start_dns(*self.records("1", mx_host="mx.evil.test", mx_ip=EVIL_IP))
        web = self.web(sts_policy("enforce", ["mx." + DOMAIN], 86400))
        evil = self.peer(EVIL_IP)
        d = self.relay()
        qid = self.submit(d, [RCPT])
        self.sts_line(d, "fetched", "1", "enforce")
        m = d.wait_log(d.prefix() + r'info queue deferred id=%s to=%s reason="(.*)"\s*$'
                       % (qid, re.escape(RCPT)), 30)
        self.assertEqual(m.group(1), "451 4.7.5 MTA-STS policy of %s: no MX host matches "
                         "the policy (mx.evil.test)" % DOMAIN)
        # The refresh fails: a new id, and the policy server is down.
        web.stop()
        self.dns.replace(self.records("2", mx_host="mx.evil.test", mx_ip=EVIL_IP))
        mark = d.log_mark()
        line = d.wait_log(d.prefix() + r"info sts mta-sts domain=%s id=2 mode=enforce "
                          r"result=stale failure=(\S+)" % re.escape(DOMAIN), 30, since=mark)
        self.assertEqual(line.group(1), "sts-policy-fetch-error")
        d.wait_log(d.prefix() + r'info queue deferred id=%s to=%s reason="451 4\.7\.5 MTA-STS '
                   r'policy of %s: no MX host matches' % (qid, re.escape(RCPT),
                                                          re.escape(DOMAIN)), 30, since=mark)
        self.assertEqual(evil.connections, [], "connected to a host the policy refuses")
        self.assertIn(qid, d.message_ids())
        # TLS-RPT: the refused MX (validation-failure) and the failed refresh of the
        # cached policy (sts-policy-fetch-error), both under the cached policy's text.
        pol, fails = self.tlsrpt_failures(d)
        self.assertEqual(pol["policy"]["mx-host"], ["mx." + DOMAIN])
        self.assertEqual(fails["validation-failure"]["receiving-mx-hostname"], "mx.evil.test")
        self.assertEqual(fails["validation-failure"]["failure-reason-code"],
                         "MX host not named by the policy")
        self.assertIn("sts-policy-fetch-error", fails, pol)

    def test_allowed_mx_without_address_says_so(self):
        # Two MX hosts: the one the policy names has no address, the other is refused.
        # The deferral says that no allowed host has an address, not that none matches.
        self.start_dns(mx(DOMAIN, "mx." + DOMAIN, 10), mx(DOMAIN, "mx.evil.test", 20),
                       host("mx.evil.test", EVIL_IP), host(POLICY_HOST, WEB_IP),
                       txt("_mta-sts." + DOMAIN, "v=STSv1; id=1;"))
        self.web(sts_policy("enforce", ["mx." + DOMAIN], 86400))
        evil = self.peer(EVIL_IP)
        d = self.relay()
        qid = self.submit(d, [RCPT])
        m = d.wait_log(d.prefix() + r'info queue deferred id=%s to=%s reason="(.*)"\s*$'
                       % (qid, re.escape(RCPT)), 30)
        self.assertEqual(m.group(1), "451 4.7.5 MTA-STS policy of %s: no MX host that the "
                         "policy allows has an address" % DOMAIN)
        self.assertEqual(evil.connections, [])

    def test_malformed_policy_is_refused(self):
        self.start_dns(*self.records("1"))
        web = self.web("version: STSv1\r\nmode: enforce\r\nmx: mx.%s\r\nmax_age: 1d\r\n"
                       % DOMAIN)
        sink = self.sink(MX_IP)
        d = self.relay()
        self.deliver(d, sink)           # no policy: delivered as without MTA-STS
        m = d.wait_log(d.prefix() + r'info sts mta-sts domain=%s id=1 mode=- result=failed '
                       r'failure=(\S+) why="([^"]*)"' % re.escape(DOMAIN), 30)
        self.assertEqual(m.group(1), "sts-policy-invalid")
        self.assertEqual(m.group(2), "max_age is not an integer 0..31557600")
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)
        self.assertFalse(os.path.exists(self.cache_file(d)))
        # ... and reported (RFC 8460 4.3.2): the day's TLS-RPT report says so.
        pol, fails = self.tlsrpt_failures(d)
        self.assertIn("sts-policy-invalid", fails, pol)
        self.assertEqual(fails["sts-policy-invalid"]["failure-reason-code"],
                         "max_age is not an integer 0..31557600")
        self.assertGreaterEqual(pol["summary"]["total-failure-session-count"], 1)

    def test_policy_not_found_is_reported(self):
        # A TXT record but HTTP 404 for the policy: sts-policy-fetch-error in the report.
        self.start_dns(*self.records("1"))
        web = self.web(Response(404, "no such policy\n", {"Content-Type": "text/plain"}))
        sink = self.sink(MX_IP)
        d = self.relay()
        self.deliver(d, sink)           # no policy: delivered as without MTA-STS
        self.sts_line(d, "failed")
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)
        pol, fails = self.tlsrpt_failures(d)
        self.assertEqual(list(fails), ["sts-policy-fetch-error"], pol)
        self.assertIn("answered HTTP 404", fails["sts-policy-fetch-error"]["failure-reason-code"])

    def test_max_age_expiry_refetches(self):
        web, sink, d = self.first_fetch("1", sts_policy("testing", ["mx." + DOMAIN], 2))
        fetched = time.time()
        # max_age is 2 s: the policy has to be older than that (a wait on the clock,
        # which is the condition itself, not a synchronisation).
        wait_until(lambda: time.time() > fetched + 2.5, 10, "max_age to run out")
        self.deliver(d, sink)
        self.sts_line(d, "refreshed", "1", "testing")
        self.assertEqual(len(web.gets(POLICY_HOST)), 2)


    def test_connector_without_mta_sts_asks_nothing(self):
        # An enforce policy the MX does not match: with mta_sts = no it is never asked
        # for (no TXT query, no fetch) and the mail goes out.
        self.start_dns(*self.records("1"))
        web = self.web(sts_policy("enforce", ["mx.other.test"], 86400))
        sink = self.sink(MX_IP)
        d = self.relay(mta_sts="no")
        self.deliver(d, sink)
        self.assertEqual(web.requests(), [])
        # dnsmasq logs every query: the MX query is there, the TXT query is not.
        wait_until(lambda: "query[MX] %s" % DOMAIN in self.dns.output(), 10,
                   "dnsmasq's log of the MX query")
        self.assertNotIn("_mta-sts." + DOMAIN, self.dns.output())
        self.assertNotIn("mta-sts domain=", d.log())


if __name__ == "__main__":
    unittest.main()
