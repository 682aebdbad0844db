"""MTA-STS on the sending side (RFC 8461 4.2; issue 16): to a domain whose policy
is enforce, mail leaves only over TLS to an MX host whose certificate chains to
mta_sts_trusted_ca_file and names the MX host; a host without STARTTLS, or with a
certificate for another name or from an untrusted CA, is refused and the mail is
deferred, never sent in plaintext (shown by what the MX saw: no MAIL FROM).
testing mode delivers and notes the failure (log, protocol log, TLS-RPT day
file); a domain on tls_send_domain_secure_list gets domain security and no
MTA-STS lookup at all.

Real peers on loopback: dnsmasq (MX, A and the _mta-sts TXT record), an HTTPS
policy server (sts_peers.PolicyServer, stdlib ssl, test CA), a second domsecd as
the MX (STARTTLS with a certificate from the test CA for the chosen names) or a
scripted peer without STARTTLS that records every command."""

import glob
import json
import os
import re
import ssl
import subprocess
import unittest

from domsec_harness import Daemon, queued_id
from peers import DELIVERY_TRANSPORT, SENDER, DeliveryTestCase, RX_ID, host, mx
from pki import PkiMixin
from sts_peers import PolicyServer, server_cert, sts_policy, txt

DOMAIN = "woodgrove.test"
MX_HOST = "mx." + DOMAIN
MX_IP = "127.0.0.146"
WEB_IP = "127.0.0.147"
POLICY_HOST = "mta-sts." + DOMAIN
BUILD = os.environ.get("DOMSEC_BUILD", os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "build"))
DOMSEC = os.path.join(os.path.abspath(BUILD), "domsec")


def thumbprint(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", pem],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return out.strip().split("=", 1)[1].replace(":", "")


class MtaStsSendTest(PkiMixin, DeliveryTestCase):

    # --- the other side ------------------------------------------------------
    def policy_web(self, mode="enforce", mxs=(MX_HOST,)):
        """The policy server of DOMAIN (certificate for mta-sts.DOMAIN from the test CA)."""
        cert, key = server_cert(self.pki, "web-" + self.id().rsplit(".", 1)[1], [POLICY_HOST])
        return PolicyServer(self, WEB_IP, {POLICY_HOST: sts_policy(mode, list(mxs), 86400)},
                            cert, key)

    def mx_daemon(self, names=(MX_HOST,), issuer="inter", **cert_kw):
        """A domsecd as DOMAIN's MX on MX_IP, offering STARTTLS with a certificate for
        names issued by issuer ("rogue": not trusted by the relay)."""
        name = "mx-" + self.id().rsplit(".", 1)[1]
        pem, _ = server_cert(self.pki, name, list(names), issuer=issuer, **cert_kw)
        conn = {"bindings": MX_IP + ":{port}", "fqdn": MX_HOST, "auth_mechanism": "tls",
                "tls_certificate": thumbprint(pem)}
        d = Daemon(self, accepted_domains=DOMAIN, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store(name)))
        d.start()
        return d

    def relay(self, port, mx_names=(MX_HOST,), listed=False, policy=True, hub=None,
              **transport):
        """Our relay: DNS gives DOMAIN's MX (mx_names on MX_IP) and, with policy, its
        _mta-sts TXT; [send Internet] delivers by DNS on port; MTA-STS anchors = the
        test CA."""
        recs = [host(POLICY_HOST, WEB_IP)]
        if policy:
            recs.append(txt("_mta-sts." + DOMAIN, "v=STSv1; id=20261207"))
        for i, n in enumerate(mx_names):
            recs += [mx(DOMAIN, n, 10 * (i + 1)), host(n, MX_IP)]
        self.start_dns(*recs)
        tr = self.tls_transport(self.store("relay"),
                                mta_sts_trusted_ca_file=self.p("trusted-ca.pem"), **transport)
        if listed:
            tr["tls_send_domain_secure_list"] = DOMAIN
        else:                           # the partners' anchors are not MTA-STS's: the rogue
            tr["trusted_ca_file"] = self.p("rogue.pem")         # root would pass there
        sends = [("Internet", {"address_spaces": "*", "dns_routing": "yes", "port": str(port),
                               "fqdn": "mail.contoso.test",
                               "domain_secure_enabled": "yes" if listed else "no"})]
        if hub is None:
            return self.start_relay(internet=False, transport=tr, sends=sends)
        full = dict(DELIVERY_TRANSPORT)         # a Hub connector of our own (hub's keys)
        full.update(tr)
        d = Daemon(self, connectors=[("Hub", dict({"permission": "internal"}, **hub))],
                   transport=full, sends=sends,
                   dns={"servers": "127.0.0.1:%d" % self.dns.port, "timeout": "1s"})
        d.start()
        return d

    # --- what happened --------------------------------------------------------
    def wait_deferred(self, a, qid):
        m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=<u@%s> reason="(.*)"'
                       % (RX_ID, qid, re.escape(DOMAIN)), 30)
        return m.group(1)

    def policy_rows(self, a):
        return [r[8] for r in a.plog_rows("SEND")
                if r[6] == "*" and r[8].startswith("MTA-STS policy of '%s'" % DOMAIN)]

    def mx_saw_no_mail(self, m):
        """The MX domsecd's own protocol log: no MAIL FROM ever reached it."""
        cmds = [r[7] for r in m.plog_rows("RECV") if r[6] == "<"]
        self.assertFalse([c for c in cmds if c.upper().startswith(("MAIL", "RCPT", "DATA"))],
                         cmds)
        self.assertNotRegex(m.log(), r"queued id=")

    def tlsrpt_policy(self, a):
        """DOMAIN's policy record in a's TLS-RPT day file (written at the stop)."""
        files = glob.glob(os.path.join(a.queue_dir, "tlsrpt", "*.json"))
        self.assertEqual(len(files), 1, files)
        with open(files[0]) as f:
            day = json.load(f)
        pol = [p for p in day["policies"] if p["policy"]["policy-domain"] == DOMAIN]
        self.assertEqual(len(pol), 1, day)
        return pol[0]

    def audit(self, a, fmt):
        """`domsec log audit --format fmt` over a's logs (exit 1: it has warnings)."""
        p = subprocess.run([DOMSEC, "-c", a.config_path, "log", "audit", "--format", fmt,
                            a.logs_dir], capture_output=True, text=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p

    def audit_policies(self, a):
        """`domsec log audit --format json` over a's logs: DOMAIN's policies counts."""
        p = self.audit(a, "json")
        r = json.loads(p.stdout)
        for d in r["partners"] + r["others"]:
            if d["domain"] == DOMAIN:
                return d["policies"]
        self.fail("%s not in the audit: %s" % (DOMAIN, p.stdout[:2000]))

    # --- enforce ---------------------------------------------------------------
    def test_enforce_matching_mx_delivers_over_verified_tls(self):
        web = self.policy_web()
        m = self.mx_daemon()
        a = self.relay(m.port)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        a.wait_log(a.prefix() + r"info smtp %s tls policy domain=%s policy=mta-sts mode=enforce "
                   r"id=20261207 mx=%s verdict=verified" % (RX_ID, re.escape(DOMAIN),
                                                            re.escape(MX_HOST)), 30)
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        m.wait_log(m.prefix() + r"info smtpd \S+ TLS established from=\S+ version=TLSv1\.[23]")
        m.wait_log(m.prefix() + r"info smtpd \S+ queued id=%s from=" % RX_ID)
        self.assertEqual(len(web.gets(POLICY_HOST)), 1)
        self.assertEqual(a.stop(), 0)
        self.assertIn("MTA-STS policy of '%s' (enforce, id 20261207): certificate verified for %s"
                      % (DOMAIN, MX_HOST), self.policy_rows(a))
        self.assertEqual(self.audit_policies(a), {"mta-sts enforce: verified": 1})
        self.assertRegex(self.audit(a, "table").stdout,
                         r"\n  %s\s+1  mta-sts enforce: verified\n" % re.escape(DOMAIN))
        self.assertRegex(self.audit(a, "csv").stdout,
                         r"\npolicy,%s,mta-sts enforce: verified,1\r?\n" % re.escape(DOMAIN))
        html = self.audit(a, "html").stdout
        table = html[html.index("<table id=policies>"):]
        text = " ".join(re.sub(r"<[^>]+>", " ", table[:table.index("</table>")]).split())
        self.assertIn("%s mta-sts enforce: verified 1" % DOMAIN, text)
        # The day's TLS-RPT file counts the session as a success of the sts policy.
        pol = self.tlsrpt_policy(a)
        self.assertEqual(pol["policy"]["policy-type"], "sts", pol)
        self.assertEqual(pol["summary"]["total-successful-session-count"], 1, pol)
        self.assertEqual(pol["summary"]["total-failure-session-count"], 0, pol)

    def refused(self, m, port, result, why):
        """Enforce: one MX that fails with result; deferred, never plaintext."""
        self.policy_web()
        a = self.relay(port)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        reason = self.wait_deferred(a, qid)
        self.assertIn("MTA-STS policy of %s: %s: %s" % (DOMAIN, MX_HOST, why), reason)
        self.assertIn("(%s)" % result, reason)
        a.wait_log(a.prefix() + r"warning smtp %s tls policy domain=%s policy=mta-sts "
                   r"mode=enforce id=20261207 mx=%s verdict=failed result=%s "
                   % (RX_ID, re.escape(DOMAIN), re.escape(MX_HOST), result))
        self.assertEqual(a.stop(), 0)
        rows = self.policy_rows(a)
        self.assertTrue(rows, a.plog_rows("SEND"))
        self.assertTrue(all(re.match(r"MTA-STS policy of '%s' \(enforce, id 20261207\): %s "
                                     r"failed: %s \(.*\); trying the next host$"
                                     % (re.escape(DOMAIN), re.escape(MX_HOST), result), r)
                            for r in rows), rows)
        self.assertEqual(set(self.audit_policies(a)), {"mta-sts enforce: failed: " + result})
        pol = self.tlsrpt_policy(a)
        self.assertEqual(pol["summary"]["total-successful-session-count"], 0, pol)
        self.assertEqual({f["result-type"] for f in pol["failure-details"]}, {result}, pol)
        return a

    def test_enforce_wrong_name_certificate_is_deferred_never_plaintext(self):
        m = self.mx_daemon(names=("mx.fabrikam.test",))
        self.refused(m, m.port, "certificate-host-mismatch",
                     "the certificate does not name the MX host")
        self.mx_saw_no_mail(m)

    def test_enforce_wildcard_over_two_labels_is_a_mismatch(self):
        m = self.mx_daemon(names=("*.test",))             # "*.test" never covers mx.woodgrove.test
        self.refused(m, m.port, "certificate-host-mismatch",
                     "the certificate does not name the MX host")
        self.mx_saw_no_mail(m)

    def test_enforce_untrusted_chain_is_deferred_never_plaintext(self):
        m = self.mx_daemon(issuer="rogue")
        self.refused(m, m.port, "certificate-not-trusted", "the certificate chain is not trusted")
        self.mx_saw_no_mail(m)

    def test_enforce_without_starttls_is_deferred_never_plaintext(self):
        peer = self.peer(MX_IP)                          # no STARTTLS in its EHLO reply
        self.refused(peer, self.P, "starttls-not-supported", "STARTTLS was not offered")
        verbs = {line.split(" ")[0].upper() for _, _, line in peer.commands}
        self.assertIn("EHLO", verbs)
        self.assertFalse(verbs & {"MAIL", "RCPT", "DATA"}, peer.commands)

    def test_enforce_wildcard_certificate_delivers(self):
        self.policy_web()
        m = self.mx_daemon(names=("*." + DOMAIN,))
        a = self.relay(m.port)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(self.audit_policies(a), {"mta-sts enforce: verified": 1})

    def test_enforce_counts_as_verified_tls_for_requiretls(self):
        # RFC 8689 4.2.1: MTA-STS enforce that passed is verified TLS, so a REQUIRETLS
        # message goes out (MAIL FROM ... REQUIRETLS) to the MX, which keeps the flag.
        self.policy_web()
        m = self.mx_daemon()
        a = self.relay(m.port, hub={"fqdn": "mail.contoso.test", "auth_mechanism": "tls"})
        c = a.session(fqdn="mail.contoso.test")
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.sock = ssl.create_default_context(cafile=self.p("trusted-ca.pem")).wrap_socket(
            c.sock, server_hostname="mail.contoso.test")
        self.assertIn("250-REQUIRETLS", c.ehlo().lines)
        qid = queued_id(c.transaction(SENDER, ["<u@%s>" % DOMAIN],
                                      b"Subject: requiretls\r\n\r\nsecret\r\n",
                                      mail_params=" REQUIRETLS"), fqdn="mail.contoso.test")
        c.close()
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        m.wait_log(m.prefix() + r"info smtpd \S+ queued id=%s from=\S+ nrcpt=1 size=\d+ "
                   r"requiretls=yes$" % RX_ID)
        self.assertEqual(a.stop(), 0)
        mails = [r[7] for r in a.plog_rows("SEND") if r[6] == ">" and r[7].startswith("MAIL")]
        self.assertEqual(len(mails), 1, mails)
        self.assertRegex(mails[0], r"^MAIL FROM:%s( SIZE=\d+)? REQUIRETLS$" % re.escape(SENDER))

    # --- TLS session resumption ---------------------------------------------------
    def two_deliveries(self, mode, issuer):
        """Two messages to DOMAIN one after the other, each on a new connection (no
        connection cache); the relay's 'TLS established' lines to the MX."""
        self.policy_web(mode=mode)
        m = self.mx_daemon(issuer=issuer)
        a = self.relay(m.port, connection_cache_time="0")
        for _ in range(2):
            qid = self.submit(a, ["<u@%s>" % DOMAIN])
            self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        lines = re.findall(a.prefix() + r"info smtp \S+ TLS established to=%s .* resumed=(\w+)"
                           % re.escape(MX_HOST), a.log())
        self.assertEqual(len(lines), 2, a.log())
        return lines

    def test_verified_session_is_resumed(self):
        # The control for the next test: a session whose checks passed is kept, and the
        # second connection resumes it.
        self.assertEqual(self.two_deliveries("enforce", "inter"), ["no", "yes"])

    def test_session_that_failed_the_check_is_not_resumed(self):
        # testing mode, an MX certificate from a CA MTA-STS does not trust: delivered,
        # but the session is never kept, so nothing (another domain with the same MX
        # under enforce, say) can resume it.
        self.assertEqual(self.two_deliveries("testing", "rogue"), ["no", "no"])

    # --- testing ----------------------------------------------------------------
    def test_testing_mode_delivers_and_notes_the_failure(self):
        self.policy_web(mode="testing")
        m = self.mx_daemon(names=("mx.fabrikam.test",))
        a = self.relay(m.port)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        a.wait_log(a.prefix() + r"warning smtp %s tls policy domain=%s policy=mta-sts "
                   r"mode=testing id=20261207 mx=%s verdict=failed "
                   r"result=certificate-host-mismatch .*\(testing: delivering without the "
                   r"policy\)" % (RX_ID, re.escape(DOMAIN), re.escape(MX_HOST)), 30)
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        m.wait_log(m.prefix() + r"info smtpd \S+ queued id=%s from=" % RX_ID)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(self.audit_policies(a),
                         {"mta-sts testing: failed: certificate-host-mismatch": 1})
        pol = self.tlsrpt_policy(a)
        self.assertEqual(pol["summary"]["total-failure-session-count"], 1, pol)
        self.assertEqual([f["result-type"] for f in pol["failure-details"]],
                         ["certificate-host-mismatch"], pol)
        self.assertEqual(pol["failure-details"][0]["receiving-mx-hostname"], MX_HOST, pol)

    def test_testing_mode_without_starttls_delivers_in_plaintext_and_notes_it(self):
        self.policy_web(mode="testing")
        peer = self.peer(MX_IP)                          # no STARTTLS
        a = self.relay(self.P)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual([t.rcpts for t in peer.txns if t.ok], [["<u@%s>" % DOMAIN]])
        self.assertEqual(a.stop(), 0)
        self.assertEqual(self.policy_rows(a), [
            "MTA-STS policy of '%s' (testing, id 20261207): %s failed: starttls-not-supported "
            "(STARTTLS was not offered); delivering without the policy" % (DOMAIN, MX_HOST)])
        self.assertEqual(self.audit_policies(a),
                         {"mta-sts testing: failed: starttls-not-supported": 1})
        pol = self.tlsrpt_policy(a)
        self.assertEqual([f["result-type"] for f in pol["failure-details"]],
                         ["starttls-not-supported"], pol)

    # --- no policy ------------------------------------------------------------------
    def test_no_policy_is_opportunistic_and_says_so(self):
        web = self.policy_web()                          # served, but no TXT record points to it
        peer = self.peer(MX_IP)                          # no STARTTLS
        a = self.relay(self.P, policy=False)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(web.requests(), [])
        self.assertEqual(self.policy_rows(a), [])
        rows = [r[8] for r in a.plog_rows("SEND") if r[8].startswith("Opportunistic TLS for")]
        self.assertEqual(rows, ["Opportunistic TLS for '%s' (no domain-secure or MTA-STS policy): "
                                "plaintext to %s (STARTTLS not offered)" % (DOMAIN, MX_HOST)])
        self.assertEqual(self.audit_policies(a), {"opportunistic: plaintext": 1})
        self.assertEqual(len(peer.txns), 1)

    # --- precedence ---------------------------------------------------------------
    def test_listed_domain_wins_over_mta_sts(self):
        # The policy would refuse the MX (it names another host); the domain is on the
        # send domain-secure list, so domain security decides and no policy is fetched.
        web = self.policy_web(mxs=("mx.elsewhere.test",))
        m = self.mx_daemon(names=(MX_HOST, DOMAIN))
        a = self.relay(m.port, listed=True)
        qid = self.submit(a, ["<u@%s>" % DOMAIN])
        a.wait_log(a.prefix() + r"info smtp %s secure domain certificate domain=%s "
                   % (RX_ID, re.escape(DOMAIN)), 30)
        self.wait_delivered(a, qid, "<u@%s>" % DOMAIN, timeout=30)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(web.requests(), [])
        self.assertEqual(self.policy_rows(a), [])
        self.assertEqual(self.audit_policies(a), {"domain-secure: secured": 1})


if __name__ == "__main__":
    unittest.main()
