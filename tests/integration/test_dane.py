"""DANE (RFC 7672) on the sending side (issue 17), with a real signed zone: the
relay's resolver is a validating unbound in front of nsd serving zones signed at
setup by ldns-signzone (dane_peers.SignedZones); the MX is a second domsecd offering
STARTTLS with a certificate from the test PKI, whose CA the relay does NOT trust
(its trusted_ca_file is the rogue root), so only DANE can authenticate it.

Shown: a matching 3 1 1 record delivers over TLS, logged as verified, noted for
TLS-RPT (policy type tlsa) and counted verified for REQUIRETLS (which bounces over
the same MX's unauthenticated TLS when the zone is unsigned); a mismatching record
defers with the DANE text and the MX never sees MAIL FROM; a bogus signature on the
TLSA record defers (never plaintext, no MAIL); an unsigned zone falls back to the next
policy (opportunistic TLS) whatever its TLSA records say; all-unusable records give
TLS without authentication (never plaintext); a 2 1 1 (DANE-TA) record
for the issuing CA delivers when the certificate names the MX host, and defers when it
names another host; a listed partner with require = dane is proved by its TLSA
record (Partner identity proved=dane-ee) and refused with DaneMismatch by a wrong
one; DANE wins over an MTA-STS policy of the same domain that would
refuse the MX."""

import glob
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import unittest

from dane_peers import SignedZones, a as a_rec, mx, tlsa, tlsa_311, tlsa_data, txt
from domsec_harness import Daemon, queued_id
from peers import DELIVERY_TRANSPORT, SENDER, DeliveryTestCase, RX_ID
from pki import PkiMixin
from sts_peers import PolicyServer, server_cert, sts_policy

DOMAIN = "woodgrove.test"
MX_HOST = "mx." + DOMAIN
MX_IP = "127.0.0.176"                   # no other test uses 127.0.0.176-177
WEB_IP = "127.0.0.177"
POLICY_HOST = "mta-sts." + DOMAIN
RELAY_FQDN = "mail.contoso.test"        # the name the PKI's "relay" certificate has


def thumbprint(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", pem],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return out.strip().split("=", 1)[1].replace(":", "")


class DaneSendTest(PkiMixin, DeliveryTestCase):

    # --- the other side ------------------------------------------------------------
    def mx_daemon(self, names=(MX_HOST,), issuer="inter"):
        """A domsecd as DOMAIN's MX on MX_IP, STARTTLS with a certificate for names from
        issuer (its chain: the leaf, then the issuer).  Returns (daemon, pem)."""
        name = "mx-" + self.id().rsplit(".", 1)[1]
        pem, _ = server_cert(self.pki, name, list(names), issuer=issuer)
        conn = {"bindings": MX_IP + ":{port}", "fqdn": MX_HOST, "auth_mechanism": "tls",
                "tls_certificate": thumbprint(pem)}
        d = Daemon(self, accepted_domains=DOMAIN, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store(name)))
        d.start()
        return d, pem

    def zones(self, port, tlsa_recs, kind="signed", extra=()):
        """DOMAIN's zone: MX -> MX_HOST -> MX_IP, and tlsa_recs [(u, s, m, hex)] at both
        _25._tcp.MX_HOST and _PORT._tcp.MX_HOST (the port the relay sends to)."""
        recs = [mx(DOMAIN, MX_HOST, 10), a_rec(MX_HOST, MX_IP)] + list(extra)
        for p in sorted({25, port}):
            recs += [tlsa(MX_HOST, p, u, s, m, data) for (u, s, m, data) in tlsa_recs]
        tmp = tempfile.mkdtemp(prefix="domsec-dane-")
        self.addCleanup(shutil.rmtree, tmp, True)
        z = SignedZones(self, tmp)
        z.zone(DOMAIN, recs, kind=kind)
        z.start()
        return z

    def relay(self, port, z, listed=False, sections="", **transport):
        """Our relay: [dns] dnssec = yes through z's validating resolver, [send Internet]
        by DNS on port, the rogue root as trusted_ca_file (the MX's CA is not trusted);
        its Hub connector offers STARTTLS (for REQUIRETLS submissions).  listed: DOMAIN
        is on tls_send_domain_secure_list (and sections, e.g. its [partner], follow)."""
        tr = dict(DELIVERY_TRANSPORT)
        tr.update(self.tls_transport(self.store("relay"), trusted_ca_file=self.p("rogue.pem"),
                                     **transport))
        if listed:
            tr["tls_send_domain_secure_list"] = DOMAIN
        hub = {"permission": "internal", "fqdn": RELAY_FQDN, "auth_mechanism": "tls"}
        d = Daemon(self, connectors=[("Hub", hub)], transport=tr,
                   sends=[("Internet", {"address_spaces": "*", "dns_routing": "yes",
                                        "port": str(port), "fqdn": "mail.contoso.test",
                                        "domain_secure_enabled": "yes" if listed else "no"})],
                   dns={"servers": z.servers, "timeout": "2s", "dnssec": "yes"})
        if sections:
            d.write_config(d.config_text + sections)
        d.start()
        return d

    def submit(self, d, rcpts):
        """A plain submission to d's Hub connector (whose fqdn is RELAY_FQDN)."""
        c = d.session(fqdn=RELAY_FQDN)
        msg = (b"From: %s\r\nTo: %s\r\nSubject: dane\r\n\r\nHello.\r\n"
               % (SENDER.encode(), rcpts[0].encode()))
        qid = queued_id(c.transaction(SENDER, rcpts, msg), fqdn=RELAY_FQDN)
        c.close()
        return qid

    def submit_requiretls(self, d, rcpt):
        """A REQUIRETLS submission over TLS to d's Hub connector."""
        c = d.session(fqdn=RELAY_FQDN)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.sock = ssl.create_default_context(cafile=self.p("trusted-ca.pem")).wrap_socket(
            c.sock, server_hostname=RELAY_FQDN)
        self.assertIn("250-REQUIRETLS", c.ehlo().lines)
        msg = (b"From: %s\r\nTo: %s\r\nSubject: dane requiretls\r\n\r\nHello.\r\n"
               % (SENDER.encode(), rcpt.encode()))
        qid = queued_id(c.transaction(SENDER, [rcpt], msg, mail_params=" REQUIRETLS"),
                        fqdn=RELAY_FQDN)
        c.close()
        return qid

    # --- what happened ----------------------------------------------------------------
    def wait_deferred(self, a, qid):
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                       % (RX_ID, qid, re.escape(DOMAIN)), 30)
        return m.group(1)

    def dane_rows(self, a):
        return [r[8] for r in a.plog_rows("SEND")
                if r[6] == "*" and r[8].startswith("DANE policy of '%s'" % DOMAIN)]

    def policy_rows(self, a, prefix):
        return [r[8] for r in a.plog_rows("SEND") if r[6] == "*" and r[8].startswith(prefix)]

    def mx_saw_no_mail(self, m):
        cmds = [r[7] for r in m.plog_rows("RECV") if r[6] == "<"]
        self.assertFalse([c for c in cmds if c.upper().startswith(("MAIL", "RCPT", "DATA"))],
                         cmds)
        self.assertNotRegex(m.log(), r"queued id=")

    def tlsrpt_policies(self, a):
        files = glob.glob(os.path.join(a.queue_dir, "tlsrpt", "*.json"))
        self.assertEqual(len(files), 1, files)
        with open(files[0]) as f:
            day = json.load(f)
        return [p for p in day["policies"] if p["policy"]["policy-domain"] == DOMAIN]

    def delivered(self, usage, selector, mtype, pem_for_record=None, names=(MX_HOST,)):
        """A record of pem (the MX's own certificate by default) delivers, verified."""
        m, pem = self.mx_daemon(names=names)
        data = tlsa_data(pem_for_record or pem, selector, mtype)
        z = self.zones(m.port, [(usage, selector, mtype, data)])
        a = self.relay(m.port, z)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        a.wait_log(a.prefix() + r"info smtp %s tls policy domain=%s policy=dane mx=%s "
                   r"verdict=verified" % (RX_ID, re.escape(DOMAIN), re.escape(MX_HOST)), 30)
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        m.wait_log(m.prefix() + r"info smtpd \S+ TLS established from=\S+ version=TLSv1\.[23]")
        m.wait_log(m.prefix() + r"info smtpd \S+ queued id=%s from=" % RX_ID)
        self.assertEqual(a.stop(), 0)
        rows = self.dane_rows(a)
        self.assertIn("DANE policy of '%s' (%d usable TLSA records for %s): certificate "
                      "verified for %s (%d %d %d)" % (DOMAIN, 1, MX_HOST, MX_HOST, usage,
                                                      selector, mtype), rows)
        self.assertEqual(self.policy_rows(a, "Opportunistic TLS for"), [])
        return a

    # --- DANE-EE -------------------------------------------------------------------------
    def test_311_match_delivers_verified(self):
        a = self.delivered(3, 1, 1)
        pol = self.tlsrpt_policies(a)
        self.assertEqual([p["policy"]["policy-type"] for p in pol], ["tlsa"], pol)
        self.assertEqual(pol[0]["summary"]["total-successful-session-count"], 1, pol)
        self.assertEqual(pol[0]["summary"]["total-failure-session-count"], 0, pol)
        self.assertEqual(len(pol[0]["policy"]["policy-string"]), 1, pol)
        self.assertRegex(pol[0]["policy"]["policy-string"][0], r"^3 1 1 [0-9A-F]{64}$")

    def test_requiretls_goes_over_dane_verified_tls(self):
        m, pem = self.mx_daemon()
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(pem))])
        a = self.relay(m.port, z)
        qid = self.submit_requiretls(a, "<u@%s>" % DOMAIN)
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        m.wait_log(m.prefix() + r"info smtpd \S+ queued id=%s from=<\S+> nrcpt=1 size=\d+ "
                   r"requiretls=yes$" % RX_ID)
        self.assertEqual(a.stop(), 0)

    def test_requiretls_without_dane_is_refused(self):
        """The control: the same MX in an unsigned zone is opportunistic TLS, not verified
        (its CA is not trusted): the REQUIRETLS message bounces 5.7.10, never sent."""
        m, pem = self.mx_daemon()
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(pem))], kind="unsigned")
        a = self.relay(m.port, z)
        qid = self.submit_requiretls(a, "<u@%s>" % DOMAIN)
        reason = self.wait_failed(a, qid, "<u@%s>" % DOMAIN)
        self.assertTrue(reason.startswith("550 5.7.10 REQUIRETLS: the connection to %s "
                                          % MX_HOST), reason)
        self.assertIn("DANE with usable TLSA records", reason)     # the kinds that verify
        self.assertEqual(a.stop(), 0)
        self.mx_saw_no_mail(m)

    def test_301_full_certificate_digest_delivers(self):
        self.delivered(3, 0, 1)

    def test_mismatch_defers_and_never_sends_mail(self):
        m, _ = self.mx_daemon()
        other, _ = server_cert(self.pki, "other-" + self.id().rsplit(".", 1)[1], [MX_HOST])
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(other))])
        a = self.relay(m.port, z)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        reason = self.wait_deferred(a, qid)
        self.assertIn("451 4.7.5 DANE policy of %s: %s: the certificate chain does not match "
                      "the TLSA records: " % (DOMAIN, MX_HOST), reason)
        self.assertIn("(validation-failure)", reason)
        a.wait_log(a.prefix() + r"warning smtp %s tls policy domain=%s policy=dane mx=%s "
                   r"verdict=failed result=validation-failure " % (RX_ID, re.escape(DOMAIN),
                                                                   re.escape(MX_HOST)))
        self.assertEqual(a.stop(), 0)
        rows = self.dane_rows(a)
        self.assertTrue(rows)
        self.assertTrue(all(re.match(r"DANE policy of '%s' \(1 usable TLSA records for %s\): %s "
                                     r"failed: validation-failure \(.*\); trying the next host$"
                                     % (re.escape(DOMAIN), re.escape(MX_HOST),
                                        re.escape(MX_HOST)), r) for r in rows), rows)
        self.mx_saw_no_mail(m)
        pol = self.tlsrpt_policies(a)
        self.assertEqual(pol[0]["policy"]["policy-type"], "tlsa", pol)
        self.assertEqual({f["result-type"] for f in pol[0]["failure-details"]},
                         {"validation-failure"}, pol)

    def test_all_unusable_records_give_unauthenticated_tls(self):
        """Only PKIX-EE(1) and PKIX-TA(0) records (unusable for SMTP, RFC 7672 3.1.3):
        TLS is still required, the chain is not checked, the mail goes."""
        m, pem = self.mx_daemon()
        z = self.zones(m.port, [(1, 1, 1, tlsa_311(pem)),
                                (0, 1, 1, tlsa_data(self.p("inter.pem"), 1, 1))])
        a = self.relay(m.port, z)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        rows = self.dane_rows(a)
        self.assertTrue(rows, a.plog_rows("SEND"))
        self.assertTrue(all(re.match(r"DANE policy of '%s' \(TLSA records for %s all unusable\): "
                                     r"TLS with %s \(TLSv1\.[23]\), not authenticated$"
                                     % (re.escape(DOMAIN), re.escape(MX_HOST),
                                        re.escape(MX_HOST)), r) for r in rows), rows)
        pol = self.tlsrpt_policies(a)
        self.assertEqual({f["result-type"] for f in pol[0]["failure-details"]},
                         {"tlsa-invalid"}, pol)

    # --- DNSSEC -----------------------------------------------------------------------------
    def test_bogus_tlsa_defers_never_plaintext(self):
        """The MX host has two addresses (the second, WEB_IP, listens to nothing here):
        its failed TLSA lookup is one warning and one row per attempt, not one per
        address (the addresses are skipped in a loop, never by recursion)."""
        m, pem = self.mx_daemon()
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(pem))], kind="bogus",
                       extra=[a_rec(MX_HOST, WEB_IP)])
        a = self.relay(m.port, z)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        reason = self.wait_deferred(a, qid)
        self.assertIn("451 4.7.5 DANE policy of %s: %s: the TLSA lookup failed: SERVFAIL"
                      % (DOMAIN, MX_HOST), reason)
        self.assertIn("(dnssec-invalid)", reason)
        self.assertEqual(a.stop(), 0)
        row = ("DANE policy of '%s': TLSA lookup for %s failed (SERVFAIL (DNSSEC bogus "
               "or server failure)); trying the next host" % (DOMAIN, MX_HOST))
        rows = self.dane_rows(a)
        self.assertIn(row, rows)
        attempts = len(re.findall(r"info smtp %s deferred id=%s to=<u@%s>"
                                  % (RX_ID, qid, re.escape(DOMAIN)), a.log()))
        warnings = len(re.findall(r"warning smtp %s tls policy domain=%s policy=dane mx=%s "
                                  r"verdict=failed result=dnssec-invalid"
                                  % (RX_ID, re.escape(DOMAIN), re.escape(MX_HOST)), a.log()))
        self.assertGreaterEqual(attempts, 1)
        self.assertEqual((rows.count(row), warnings), (attempts, attempts), rows)
        self.mx_saw_no_mail(m)
        # The relay never even connected to the MX.
        self.assertNotRegex(m.log(), r"info smtpd \S+ connect from=")

    def test_usable_records_are_capped_per_host(self):
        """A host keeps at most 16 usable TLSA records (a hostile signed zone must not
        make the queue manager hold megabytes per host and address)."""
        m, pem = self.mx_daemon()
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(pem))]
                       + [(3, 1, 1, "%064x" % (i + 1)) for i in range(20)])
        a = self.relay(m.port, z)
        self.submit(a, ["<u@%s>" % DOMAIN])
        n = a.wait_log(a.prefix() + r"info queue dane domain=%s mx=%s state=usable "
                       r"records=(\d+)" % (re.escape(DOMAIN), re.escape(MX_HOST)), 30).group(1)
        self.assertEqual(n, "16")
        self.assertEqual(a.stop(), 0)

    def test_unsigned_zone_falls_back_to_opportunistic(self):
        m, _ = self.mx_daemon()
        other, _ = server_cert(self.pki, "other-" + self.id().rsplit(".", 1)[1], [MX_HOST])
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(other))], kind="unsigned")
        a = self.relay(m.port, z)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(self.dane_rows(a), [])
        rows = self.policy_rows(a, "Opportunistic TLS for '%s'" % DOMAIN)
        self.assertTrue(rows and all(" TLS with %s (TLSv1." % MX_HOST in r for r in rows), rows)

    # --- DANE-TA -----------------------------------------------------------------------------
    def test_211_issuing_ca_with_name_match_delivers(self):
        self.delivered(2, 1, 1, pem_for_record=self.p("inter.pem"))

    def test_211_issuing_ca_without_name_match_defers(self):
        m, _ = self.mx_daemon(names=("mx.fabrikam.test",))
        z = self.zones(m.port, [(2, 1, 1, tlsa_data(self.p("inter.pem"), 1, 1))])
        a = self.relay(m.port, z)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        reason = self.wait_deferred(a, qid)
        self.assertIn("DANE policy of %s: %s: the certificate does not name the MX host or the "
                      "domain (DANE-TA) (validation-failure)" % (DOMAIN, MX_HOST), reason)
        self.assertEqual(a.stop(), 0)
        self.mx_saw_no_mail(m)

    # --- a listed partner with require = dane ------------------------------------------------
    def partner_dane(self, matching):
        m, pem = self.mx_daemon()
        other, _ = server_cert(self.pki, "other-" + self.id().rsplit(".", 1)[1], [MX_HOST])
        z = self.zones(m.port, [(3, 1, 1, tlsa_311(pem if matching else other))])
        a = self.relay(m.port, z, listed=True,
                       sections="\n[partner %s]\nrequire = dane\n" % DOMAIN)
        return m, a, self.submit(a, ["<u@%s>" % DOMAIN])

    def identity_rows(self, a):
        return [r[8] for r in a.plog_rows("SEND")
                if r[8].startswith("Partner identity of '%s' (outbound)" % DOMAIN)]

    def test_listed_partner_require_dane_is_proved_by_tlsa(self):
        """The partner's CA is not trusted at all: the TLSA record proves its identity."""
        m, a, qid = self.partner_dane(matching=True)
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        rows = self.identity_rows(a)
        self.assertTrue(rows, a.plog_rows("SEND"))
        self.assertTrue(all("policy=partner require=dane; proved=dane-ee;" in r
                            and r.endswith("verdict=Secured") for r in rows), rows)
        self.assertEqual(self.dane_rows(a), [])         # the listed domain's own rows only

    def test_listed_partner_require_dane_mismatch_is_refused(self):
        m, a, qid = self.partner_dane(matching=False)
        self.wait_deferred(a, qid)
        self.assertEqual(a.stop(), 0)
        rows = self.identity_rows(a)
        self.assertTrue(rows, a.plog_rows("SEND"))
        self.assertTrue(all("require=dane; proved=none;" in r and r.endswith("verdict=DaneMismatch")
                            for r in rows), rows)
        self.mx_saw_no_mail(m)

    # --- precedence ---------------------------------------------------------------------------
    def sts_refusing(self, tlsa_recs):
        """DOMAIN with an enforce MTA-STS policy whose mx list leaves the MX out (it
        refuses the MX) and tlsa_recs (a function of the MX's certificate)."""
        cert, key = server_cert(self.pki, "web-" + self.id().rsplit(".", 1)[1], [POLICY_HOST])
        PolicyServer(self, WEB_IP, {POLICY_HOST: sts_policy("enforce", ["mx.other.test"],
                                                            86400)}, cert, key)
        m, pem = self.mx_daemon()
        z = self.zones(m.port, tlsa_recs(pem),
                       extra=[a_rec(POLICY_HOST, WEB_IP),
                              txt("_mta-sts." + DOMAIN, "v=STSv1; id=20261207")])
        a = self.relay(m.port, z, mta_sts_trusted_ca_file=self.p("trusted-ca.pem"))
        return m, a, self.submit(a, ["<u@%s>" % DOMAIN])

    def test_dane_beats_mta_sts(self):
        """Usable TLSA records decide, and the mail is delivered."""
        m, a, qid = self.sts_refusing(lambda pem: [(3, 1, 1, tlsa_311(pem))])
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        self.assertTrue(self.dane_rows(a))
        self.assertEqual(self.policy_rows(a, "MTA-STS policy of"), [])

    def test_mta_sts_still_applies_to_hosts_without_dane(self):
        """DANE wins per host, not per domain (review-b #2): MX 10 has a usable TLSA
        record but is down (WEB_IP: nothing listens on the SMTP port), MX 20 has no TLSA
        record and is named by the enforce policy, but its certificate does not name it:
        MTA-STS still refuses it (before, one DANE host dropped the policy for the whole
        domain and MX 20 got opportunistic TLS: the mail was delivered)."""
        mx2 = "mx2." + DOMAIN
        cert, key = server_cert(self.pki, "web-" + self.id().rsplit(".", 1)[1], [POLICY_HOST])
        PolicyServer(self, WEB_IP, {POLICY_HOST: sts_policy("enforce", ["*." + DOMAIN],
                                                            86400)}, cert, key)
        m, pem = self.mx_daemon()
        tmp = tempfile.mkdtemp(prefix="domsec-dane-")
        self.addCleanup(shutil.rmtree, tmp, True)
        z = SignedZones(self, tmp)
        z.zone(DOMAIN, [mx(DOMAIN, MX_HOST, 10), mx(DOMAIN, mx2, 20),
                        a_rec(MX_HOST, WEB_IP), a_rec(mx2, MX_IP),
                        a_rec(POLICY_HOST, WEB_IP),
                        txt("_mta-sts." + DOMAIN, "v=STSv1; id=20261207")]
               + [tlsa(MX_HOST, p, 3, 1, 1, tlsa_311(pem)) for p in sorted({25, m.port})])
        z.start()
        a = self.relay(m.port, z, mta_sts_trusted_ca_file=self.p("trusted-ca.pem"))
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        reason = self.wait_deferred(a, qid)
        self.assertIn("MTA-STS policy of %s" % DOMAIN, reason)
        self.assertEqual(a.stop(), 0)
        rows = self.policy_rows(a, "MTA-STS policy of '%s' (enforce" % DOMAIN)
        self.assertTrue(rows and all(" %s failed: " % mx2 in r for r in rows), rows)
        self.assertEqual(self.policy_rows(a, "Opportunistic TLS for"), [])
        self.mx_saw_no_mail(m)

    def test_without_tlsa_the_mta_sts_policy_decides(self):
        """The control: the same signed zone without TLSA records (NSEC3-proven): the
        MTA-STS policy applies and refuses the MX."""
        m, a, qid = self.sts_refusing(lambda pem: [])
        # Refused before any connection: no MX host matches the policy.
        reason = a.wait_log(a.prefix() + r'info queue deferred id=%s to=<u@%s> reason="(.*)"'
                            % (qid, re.escape(DOMAIN)), 30).group(1)
        self.assertIn("451 4.7.5 MTA-STS policy of %s: no MX host matches the policy (%s)"
                      % (DOMAIN, MX_HOST), reason)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(self.dane_rows(a), [])
        self.mx_saw_no_mail(m)


if __name__ == "__main__":
    unittest.main()
