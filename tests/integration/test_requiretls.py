"""REQUIRETLS (RFC 8689; issue 16), both sides, with real peers on loopback.

Receive: REQUIRETLS is offered in the EHLO reply inside TLS only, its MAIL parameter
outside TLS gets 530 5.7.10, and the flag is kept in the queue file ("requiretls yes");
the header field "TLS-Required: No" is kept as the "tls-required no" record (not with
REQUIRETLS).  Send: a REQUIRETLS message goes only over verified TLS (here: the
domain-secure list, a second domsecd as the partner, which sees REQUIRETLS and keeps
the flag) to a next hop that offers REQUIRETLS; to a plaintext smtp-sink it bounces
with 5.7.10 (but waits, 4.7.10, when the domain's MTA-STS policy could not be fetched,
also during the fetch back-off), to a domain-secured partner that does not offer it
with 5.7.30, and the DSN carries the header section only.  Counted in the stop log's counters."""

import re
import ssl
import unittest

from domsec_harness import R, Daemon, queued_id, state_records
from peers import DELIVERY_TRANSPORT, RX_ID, SENDER, DeliveryTestCase, host, mx
from pki import PkiMixin
from sts_peers import PolicyServer, Response, server_cert, txt

PARTNER = "woodgrovebank.test"
PARTNER_IP = "127.0.0.45"
PARTNER_IP1 = "127.0.0.149"              # a first MX of the partner without REQUIRETLS
PLAIN = "plain.test"                    # MX: an smtp-sink without TLS
PLAIN_IP = "127.0.0.46"
STS_WEB_IP = "127.0.0.148"              # mta-sts.plain.test (a failing policy server)
RELAY_FQDN = "mail.contoso.test"        # the name the PKI's "relay" certificate has
SECRET = b"The secret body line that must never travel in plaintext."


class RequireTlsTest(PkiMixin, DeliveryTestCase):

    # --- our relay, a partner, a TLS submission ----------------------------------------
    def relay(self, partner_port=1, partner_dns=None, dns_extra=(), transport_extra=None,
              **hub):
        """domsecd as contoso.test: its Hub connector offers STARTTLS (the PKI's relay
        certificate); woodgrovebank.test only by domain security (Partner connector to
        partner_port; its MX records partner_dns, default one MX), everything else by MX
        on port P (opportunistic TLS)."""
        self.start_dns(*(partner_dns or [mx(PARTNER, "mail." + PARTNER, 10),
                                         host("mail." + PARTNER, PARTNER_IP)]),
                       mx(PLAIN, "mx." + PLAIN, 10), host("mx." + PLAIN, PLAIN_IP),
                       *dns_extra)
        tr = dict(DELIVERY_TRANSPORT)
        tr.update(self.tls_transport(self.store("relay"), tls_send_domain_secure_list=PARTNER))
        tr.update(transport_extra or {})
        conn = {"permission": "internal", "fqdn": RELAY_FQDN, "auth_mechanism": "tls"}
        conn.update(hub)
        d = Daemon(self, connectors=[("Hub", conn)], transport=tr,
                   sends=[("Partner", {"address_spaces": PARTNER, "dns_routing": "yes",
                                       "port": str(partner_port), "fqdn": RELAY_FQDN,
                                       "domain_secure_enabled": "yes"}),
                          ("Internet", {"address_spaces": "*", "dns_routing": "yes",
                                        "port": str(self.P)})],
                   dns={"servers": "127.0.0.1:%d" % self.dns.port, "timeout": "1s"})
        d.start()
        return d

    def partner(self, ip=PARTNER_IP, port=None, **conn_extra):
        """A second domsecd as woodgrovebank.test requiring domain security from
        contoso.test (as test_domain_secure_send does), on ip and a free port (or the
        given one: another partner's, on another ip)."""
        conn = {"bindings": "%s:%s" % (ip, "{port}" if port is None else port),
                "fqdn": "mail." + PARTNER, "auth_mechanism": "tls",
                "domain_secure_enabled": "yes"}
        conn.update(conn_extra)
        d = Daemon(self, accepted_domains=PARTNER, connectors=[("Inet", conn)],
                   transport=self.tls_transport(self.store("partner-ok"),
                                                tls_receive_domain_secure_list="contoso.test"))
        if port is not None:
            d.ports["port"] = port      # wait_ready: the other partner listens there too
        d.start()
        return d

    def smart_relay(self, smart_host, port):
        """domsecd as an edge relay: the Hub connector (TLS submission) and one send
        connector routing woodgrovebank.test to smart_host:port (opportunistic TLS,
        the PKI root as trusted_ca_file); both smart host names are the partner's ip."""
        self.start_dns(host("mail." + PARTNER, PARTNER_IP), host("hub." + PARTNER, PARTNER_IP))
        tr = dict(DELIVERY_TRANSPORT)
        tr.update(self.tls_transport(self.store("relay")))
        conn = {"permission": "internal", "fqdn": RELAY_FQDN, "auth_mechanism": "tls"}
        d = Daemon(self, connectors=[("Hub", conn)], transport=tr,
                   sends=[("Inside", {"address_spaces": PARTNER, "fqdn": RELAY_FQDN,
                                      "smart_hosts": "%s:%d" % (smart_host, port)})],
                   dns={"servers": "127.0.0.1:%d" % self.dns.port, "timeout": "1s"})
        d.start()
        return d

    def tls_session(self, d):
        """Banner, EHLO, STARTTLS (the relay's certificate verified), EHLO again: the
        client and the EHLO reply's lines inside TLS."""
        c = d.session(fqdn=RELAY_FQDN)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        return c, c.ehlo().lines

    def message(self, rcpt, extra=b""):
        return (b"From: %s\r\nTo: %s\r\nSubject: requiretls test\r\n%s\r\n%s\r\n"
                % (SENDER.encode(), rcpt.encode(), extra, SECRET))

    def submit_requiretls(self, d, rcpt, extra=b""):
        c, lines = self.tls_session(d)
        self.assertIn("250-REQUIRETLS", lines)
        qid = queued_id(c.transaction(SENDER, [rcpt], self.message(rcpt, extra),
                                      mail_params=" REQUIRETLS"), fqdn=RELAY_FQDN)
        c.close()
        return qid

    # --- receive ------------------------------------------------------------------------
    def test_offered_inside_tls_only(self):
        a = self.relay()
        c = a.session(fqdn=RELAY_FQDN)
        self.assertNotIn("REQUIRETLS", " ".join(c.ehlo().lines))
        r = c.cmd("MAIL FROM:%s REQUIRETLS" % SENDER)
        self.assertEqual(r.lines, ["530 5.7.10 REQUIRETLS needs a TLS session; send STARTTLS "
                                   "first"])
        c.expect("MAIL FROM:%s" % SENDER, R["mail_ok"])     # no transaction was open
        c.close()
        a.wait_log(a.prefix() + r"info smtpd \S+ requiretls refused sender=<alice@snd\.test> "
                   r"reason=no-tls")
        qid = self.submit_requiretls(a, "<u@%s>" % PLAIN)       # nothing listens: deferred
        a.wait_log(a.prefix() + r"info smtpd \S+ queued id=%s from=<alice@snd\.test> nrcpt=1 "
                   r"size=\d+ requiretls=yes" % qid)
        self.assertEqual(a.read_message(qid).fields.get("requiretls"), "yes")

    def test_requiretls_enable_no(self):
        a = self.relay(requiretls_enable="no")
        c, lines = self.tls_session(a)
        self.assertNotIn("250-REQUIRETLS", lines)
        self.assertEqual(c.cmd("MAIL FROM:%s REQUIRETLS" % SENDER).lines,
                         ["501 5.5.4 Unrecognized parameter"])
        c.close()

    def test_tls_required_no_kept(self):
        a = self.relay()
        # Plaintext, folded, any case: kept as the record after "end" (RFC 8689 4.2.2);
        # nothing listens for plain.test, so the message stays queued to be read.
        msg = self.message("<u@%s>" % PLAIN, b"tls-REQUIRED:\r\n  no\r\n")
        qid = queued_id(a.session(fqdn=RELAY_FQDN).transaction(SENDER, ["<u@%s>" % PLAIN], msg),
                        fqdn=RELAY_FQDN)
        a.wait_log(a.prefix() + r"info smtpd \S+ queued id=%s .* tls-required=no$" % qid)
        q = a.read_message(qid)
        self.assertNotIn("requiretls", q.fields)
        recs = state_records(q)
        self.assertEqual(recs[0].line, "tls-required no", recs)
        self.assertIn(b"tls-REQUIRED:\r\n  no\r\n", q.data)     # the header travels on
        # With REQUIRETLS the header field is ignored (RFC 8689 4.1): no record.
        qid2 = self.submit_requiretls(a, "<u@%s>" % PLAIN, b"TLS-Required: No\r\n")
        a.wait_log(a.prefix() + r"info smtpd \S+ queued id=%s .* requiretls=yes$" % qid2)
        q2 = a.read_message(qid2)
        self.assertEqual(q2.fields.get("requiretls"), "yes")
        self.assertNotIn("tls-required no", [r.line for r in state_records(q2)])

    # --- send ---------------------------------------------------------------------------
    def test_domsec_to_domsec_end_to_end(self):
        b = self.partner()
        a = self.relay(b.port)
        qid = self.submit_requiretls(a, "<u@%s>" % PARTNER)
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> relay=\S+\[%s\]:%d "
                   % (RX_ID, qid, re.escape(PARTNER), re.escape(PARTNER_IP), b.port), 30)
        # The partner was asked for REQUIRETLS and kept the flag.
        m = b.wait_log(b.prefix() + r"info smtpd \S+ queued id=(%s) from=<alice@snd\.test> "
                       r"nrcpt=1 size=\d+ requiretls=yes$" % RX_ID)
        self.assertEqual(b.read_message(m.group(1)).fields.get("requiretls"), "yes")
        self.assertEqual(a.stop(), 0)
        a.wait_log(a.prefix() + r"info stats .*\brequiretls_messages_received=1 "
                   r"requiretls_messages_sent=1 requiretls_recipients_bounced=0\b")

    def test_no_verified_tls_bounces_5_7_10(self):
        a = self.relay()
        plain = self.sink(PLAIN_IP)
        snd = self.sender_sink()
        qid = self.submit_requiretls(a, "<u@%s>" % PLAIN)
        reason = self.wait_failed(a, qid, "<u@%s>" % PLAIN)
        self.assertTrue(reason.startswith("550 5.7.10 REQUIRETLS: the connection to mx.%s "
                                          % PLAIN), reason)
        a.wait_log(a.prefix() + r"info smtp %s requiretls refused id=%s to=mx\.plain\.test "
                   r"\[127\.0\.0\.46:%d\] tls=(yes|no) verified=no" % (RX_ID, qid, self.P))
        dsn = self.fetch_dsn(a, snd, self.wait_dsn(a, qid, "failure"))
        self.assertDsnPart(dsn)
        self.assertIn(b"Status: 5.7.10", dsn.raw)
        self.assertIn(b"Subject: requiretls test", dsn.raw)       # the header section only
        self.assertNotIn(SECRET, dsn.raw)
        self.assertEqual(plain.count("<u@%s>" % PLAIN), 0)       # never sent
        self.assertEqual(a.stop(), 0)
        a.wait_log(a.prefix() + r"info stats .*\brequiretls_recipients_bounced=1\b")

    def test_failed_policy_fetch_defers_4_7_10_also_during_back_off(self):
        # plain.test publishes an MTA-STS record but its policy cannot be fetched (HTTP
        # 404): the policy might have verified the MX, so a REQUIRETLS message waits
        # (4.7.10).  A second message inside the fetch back-off (no new fetch) waits too.
        web = PolicyServer(self, STS_WEB_IP, {"mta-sts." + PLAIN: Response(
            404, "no\n", {"Content-Type": "text/plain"})}, *self.sts_web_cert())
        a = self.relay(dns_extra=[txt("_mta-sts." + PLAIN, "v=STSv1; id=1;"),
                                  host("mta-sts." + PLAIN, STS_WEB_IP)],
                       transport_extra={"mta_sts_trusted_ca_file": self.p("trusted-ca.pem"),
                                        "connection_cache_time": "0"})
        plain = self.sink(PLAIN_IP)
        for rcpt in ("<u@%s>" % PLAIN, "<v@%s>" % PLAIN):
            qid = self.submit_requiretls(a, rcpt)
            m = a.wait_log(a.prefix() + r'info smtp %s deferred id=%s to=%s reason="(.*)"\s*$'
                           % (RX_ID, qid, re.escape(rcpt)), 30)
            self.assertRegex(m.group(1), r"^451 4\.7\.10 REQUIRETLS: the MTA-STS policy of "
                             r"plain\.test could not be obtained \(sts-policy-fetch-error\), "
                             r"so the connection to mx\.plain\.test \[127\.0\.0\.46:\d+\] "
                             r"cannot be verified; the message was not sent and waits for "
                             r"the policy$")
            self.assertIn(qid, a.message_ids())
        self.assertEqual(len(web.gets("mta-sts." + PLAIN)), 1)      # the back-off
        self.assertEqual(plain.count("<u@%s>" % PLAIN) + plain.count("<v@%s>" % PLAIN), 0)
        self.assertNotIn("5.7.10", a.log())

    def sts_web_cert(self):
        return server_cert(self.pki, "sts-plain", ["mta-sts." + PLAIN])

    def test_partner_without_requiretls_bounces_5_7_30(self):
        b = self.partner(requiretls_enable="no")
        a = self.relay(b.port)
        snd = self.sender_sink()
        qid = self.submit_requiretls(a, "<u@%s>" % PARTNER)
        reason = self.wait_failed(a, qid, "<u@%s>" % PARTNER)
        self.assertEqual(reason, "550 5.7.30 REQUIRETLS support required: mail.%s [%s:%d] "
                                 "does not offer REQUIRETLS; the message was not sent"
                         % (PARTNER, PARTNER_IP, b.port))
        # The session was domain-secured (verified), only the extension was missing.
        a.wait_log(a.prefix() + r"info smtp %s requiretls refused id=%s .* tls=yes "
                   r"verified=yes offered=no" % (RX_ID, qid))
        dsn = self.fetch_dsn(a, snd, self.wait_dsn(a, qid, "failure"))
        self.assertIn(b"Status: 5.7.30", dsn.raw)
        self.assertNotIn(SECRET, dsn.raw)
        self.assertIsNone(re.search(r"info smtpd \S+ queued id=", b.log()),
                          "the partner received the message")

    def test_next_mx_offers_requiretls(self):
        """RFC 8689 4.2.1: the first MX (domain-secured, so verified) does not offer
        REQUIRETLS; the next MX is tried and takes the message, nothing bounces."""
        b = self.partner()                                          # MX 20: offers it
        b1 = self.partner(ip=PARTNER_IP1, port=b.port, requiretls_enable="no")     # MX 10
        a = self.relay(b.port, partner_dns=[
            mx(PARTNER, "mail1." + PARTNER, 10), host("mail1." + PARTNER, PARTNER_IP1),
            mx(PARTNER, "mail." + PARTNER, 20), host("mail." + PARTNER, PARTNER_IP)])
        qid = self.submit_requiretls(a, "<u@%s>" % PARTNER)
        a.wait_log(a.prefix() + r"info smtp %s requiretls refused id=%s to=mail1\.%s "
                   r"\[%s:%d\] tls=yes verified=yes offered=no action=next-host "
                   r'reply="550 5\.7\.30 ' % (RX_ID, qid, re.escape(PARTNER),
                                              re.escape(PARTNER_IP1), b.port), 30)
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> relay=\S+\[%s\]:%d "
                   % (RX_ID, qid, re.escape(PARTNER), re.escape(PARTNER_IP), b.port), 30)
        m = b.wait_log(b.prefix() + r"info smtpd \S+ queued id=(%s) .* requiretls=yes$" % RX_ID)
        self.assertEqual(b.read_message(m.group(1)).fields.get("requiretls"), "yes")
        self.assertIsNone(re.search(r"info queue failed id=%s" % qid, a.log()))
        self.assertIsNone(re.search(r"info smtpd \S+ queued id=", b1.log()),
                          "the first MX received the message")

    def test_verified_smart_host_carries_requiretls(self):
        """A smart host whose certificate chains to trusted_ca_file and names it (the
        partner's mail.woodgrovebank.test) is verified TLS: the message goes with
        MAIL FROM ... REQUIRETLS and the smart host keeps the flag."""
        b = self.partner(domain_secure_enabled="no")
        a = self.smart_relay("mail." + PARTNER, b.port)
        qid = self.submit_requiretls(a, "<u@%s>" % PARTNER)
        a.wait_log(a.prefix() + r"info smtp \S+ smart host certificate host=mail\.%s "
                   r"chain=\S+ name=match requiretls=verified" % re.escape(PARTNER), 30)
        a.wait_log(a.prefix() + r"info smtp %s delivered id=%s to=<u@%s> " % (
            RX_ID, qid, re.escape(PARTNER)), 30)
        m = b.wait_log(b.prefix() + r"info smtpd \S+ queued id=(%s) .* requiretls=yes$" % RX_ID)
        self.assertEqual(b.read_message(m.group(1)).fields.get("requiretls"), "yes")

    def test_unverified_smart_host_bounces_5_7_10(self):
        """The same smart host under a name its certificate does not carry
        (hub.woodgrovebank.test): not verified, the message bounces 5.7.10 unsent."""
        b = self.partner(domain_secure_enabled="no")
        a = self.smart_relay("hub." + PARTNER, b.port)
        self.sender_sink()
        qid = self.submit_requiretls(a, "<u@%s>" % PARTNER)
        reason = self.wait_failed(a, qid, "<u@%s>" % PARTNER)
        self.assertTrue(reason.startswith("550 5.7.10 REQUIRETLS: the connection to hub.%s "
                                          % PARTNER), reason)
        a.wait_log(a.prefix() + r"info smtp \S+ smart host certificate host=hub\.%s "
                   r"chain=\S+ name=mismatch requiretls=not-verified" % re.escape(PARTNER))
        self.assertIsNone(re.search(r"info smtpd \S+ queued id=", b.log()),
                          "the smart host received the message")


if __name__ == "__main__":
    unittest.main()
