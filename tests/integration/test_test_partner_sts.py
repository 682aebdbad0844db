"""`domsec test-partner D` shows D's MTA-STS policy (issue 16) as domsecd would find it:
the _mta-sts TXT record from dnsmasq, the policy fetched over HTTPS from
sts_peers.PolicyServer (test PKI, mta_sts_trusted_ca_file), which MX hosts it names,
and whether domsecd would apply it (not when D is listed: domain security wins).  The
MX host is an smtp-sink (no STARTTLS): the domain-security verdict is not what these
tests look at, only the "mta_sts" part and its text lines."""

import json
import unittest

import test_test_partner as ttp
from peers import DeliveryTestCase, host, mx
from pki import PkiMixin
from sts_peers import PolicyServer, server_cert, sts_policy, txt

PARTNER = ttp.PARTNER                   # woodgrovebank.test
MX_HOST = "mail." + PARTNER
POLICY_HOST = "mta-sts." + PARTNER
POLICY_IP = "127.0.0.166"              # an address of this file only


class TestPartnerStsTest(PkiMixin, DeliveryTestCase):
    probe = ttp.TestPartnerTest.probe

    def setup_partner(self, records=None, policy=None, cert_names=(POLICY_HOST,), **transport):
        """dnsmasq (MX, TXT, policy host), the policy server, an smtp-sink as the MX, and
        our configuration (not started) with the test CA as MTA-STS anchors."""
        if records is None:
            records = [txt("_mta-sts." + PARTNER, "v=STSv1; id=20261207")]
        self.start_dns(mx(PARTNER, MX_HOST, 10), host(MX_HOST, ttp.PARTNER_IP),
                       host(POLICY_HOST, POLICY_IP), *records)
        cert = server_cert(self.pki, "policy-host", list(cert_names))
        files = {POLICY_HOST: policy} if policy is not None else {}
        self.web = PolicyServer(self, POLICY_IP, files, *cert)
        self.sink(ttp.PARTNER_IP)
        transport.setdefault("mta_sts_trusted_ca_file", self.p("trusted-ca.pem"))
        return self.start_relay(internet=False, start=False, transport=self.tls_transport(
            self.store("relay"), **transport), sends=[("Partner", {
                "address_spaces": PARTNER, "dns_routing": "yes", "port": str(self.P),
                "fqdn": "mail.contoso.test", "domain_secure_enabled": "yes"})])

    def run_probe(self, a):
        """(text output, the --json object)."""
        _, text, err = self.probe(a.config_path, PARTNER)
        st, out, err = self.probe(a.config_path, PARTNER, "--json")
        self.assertIn(st, (0, 1), out + err)
        j = json.loads(out)
        self.assertIn("mta_sts", j, out)
        return text, j

    def test_enforce_policy_and_mx_match(self):
        policy = sts_policy("enforce", ["*.woodgrovebank.test"], 604800)
        a = self.setup_partner(policy=policy)
        text, j = self.run_probe(a)
        sts = j["mta_sts"]
        self.assertEqual(sts["status"], "ok", sts)
        self.assertTrue(sts["applies"])
        self.assertEqual(sts["policy"], {"id": "20261207", "mode": "enforce",
                                         "mx": ["*.woodgrovebank.test"], "max_age": 604800,
                                         "text": policy})
        self.assertEqual([(h["name"], h["mta_sts_match"]) for h in j["mx"]],
                         [(MX_HOST, True)])
        self.assertIn("mta-sts    enforce, id 20261207, max_age 604800 s", text)
        self.assertRegex(text, r"MX hosts +%s matches" % MX_HOST.replace(".", r"\."))
        self.assertIn("applies   yes: domsecd applies it to mail for this domain", text)
        # fetched for real each run (no cache of domsecd's is used): text and --json
        self.assertEqual(len(self.web.gets(POLICY_HOST)), 2)

    def test_mx_not_named_and_listed_domain(self):
        a = self.setup_partner(policy=sts_policy("testing", ["mx.elsewhere.test"], 86400),
                               tls_send_domain_secure_list=PARTNER)
        text, j = self.run_probe(a)
        self.assertEqual(j["mta_sts"]["policy"]["mode"], "testing")
        self.assertFalse(j["mta_sts"]["applies"])       # listed: domain security wins
        self.assertFalse(j["mx"][0]["mta_sts_match"])
        self.assertIn("%s does NOT match" % MX_HOST, text)
        self.assertIn("no: the domain is listed (domain security wins)", text)

    def test_no_record(self):
        a = self.setup_partner(records=[], policy=sts_policy("enforce", [MX_HOST], 86400))
        text, j = self.run_probe(a)
        self.assertEqual(j["mta_sts"]["status"], "none")
        self.assertIsNone(j["mta_sts"]["policy"])
        self.assertNotIn("mta_sts_match", j["mx"][0])
        self.assertIn("mta-sts    no policy: no TXT record", text)
        self.assertIn("applies   yes: domsecd looks for a policy for this domain", text)
        self.assertEqual(self.web.requests(), [])       # no TXT record: no fetch

    def test_mode_none_is_shown(self):
        # A published policy of mode none is not the same as no TXT record.
        a = self.setup_partner(policy=sts_policy("none", [], 86400))
        text, j = self.run_probe(a)
        self.assertEqual(j["mta_sts"]["status"], "none")
        self.assertEqual(j["mta_sts"]["why"], "the published policy has mode none")
        self.assertIn("mta-sts    no policy: the published policy has mode none", text)
        self.assertEqual(len(self.web.gets(POLICY_HOST)), 2)     # text and --json

    def test_wrong_name_certificate(self):
        a = self.setup_partner(policy=sts_policy("enforce", [MX_HOST], 86400),
                               cert_names=("mta-sts.fabrikam.test",))
        text, j = self.run_probe(a)
        self.assertEqual(j["mta_sts"]["status"], "failed")
        self.assertEqual(j["mta_sts"]["failure"], "sts-webpki-invalid")
        self.assertIn("sts-webpki-invalid", text)
        self.assertEqual(self.web.requests(), [])


if __name__ == "__main__":
    unittest.main()
