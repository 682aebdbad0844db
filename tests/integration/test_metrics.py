"""Prometheus /metrics (issue 13, [metrics] in domsec.conf(5)): a real domsecd serves the
text exposition on 127.0.0.1 and a free port; every scrape is parsed with prometheus_client's
parser (a parse error fails the test).  The counters move by exactly the traffic sent:
K plain messages delivered to an smtp-sink through dnsmasq's MX, one domain-secure message
over mutual TLS, and two failed handshakes (garbage after STARTTLS: protocol; a client that
hangs up mid-handshake: closed).  Only GET/HEAD /metrics answer (404, 405 otherwise); an
address outside remote_ip_ranges is refused; a listen address in use stops the start."""

import http.client
import json
import os
import socket
import subprocess
import ssl
import sys
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:     # Debian's python3-prometheus-client, under another python3 (pyenv)
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from domsec_harness import (Daemon, DomsecTestCase, domsecd_path, free_port, queued_id,
                            wait_until)
from peers import DeliveryTestCase, host
from pki import PkiMixin
from test_starttls import RELAY_FQDN

PARTNER = "woodgrovebank.test"
K = 3


def with_metrics(d, **keys):
    """Append a [metrics] section listening on 127.0.0.1:<free port> to d's config."""
    port = free_port()
    lines = ["", "[metrics]", "listen = 127.0.0.1:%d" % port]
    lines += ["%s = %s" % kv for kv in keys.items()]
    d.write_config(d.config_text + "\n".join(lines) + "\n")
    d.metrics_port = port
    return d


def scrape_text(d, method="GET", path="/metrics"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (d.metrics_port, path), method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, r.read().decode("utf-8")


def scrape(d):
    """{(sample name, frozenset(labels)): value} of one parsed scrape."""
    status, headers, text = scrape_text(d)
    assert status == 200, status
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", headers
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def status_counters(d):
    """`domsec --socket SOCK status --json`'s counters, flattened: {"a.b": value}."""
    exe = os.path.join(os.path.dirname(domsecd_path()), "domsec")
    p = subprocess.run([exe, "--socket", d.control_socket, "status", "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, p.stderr
    out = {}

    def walk(prefix, o):
        for k, v in o.items():
            if isinstance(v, dict):
                walk(prefix + k + ".", v)
            else:
                out[prefix + k] = v
    walk("", json.loads(p.stdout)["counters"])
    return out


def val_label(m, name, label):
    """The value of label `label` of the one sample of `name`."""
    got = [dict(k[1])[label] for k in m if k[0] == name]
    assert len(got) == 1, got
    return got[0]


def val(m, name, **labels):
    return m[(name, frozenset(labels.items()))]


def moved(before, after):
    """{key: after - before} of every sample that changed (new samples count from 0),
    leaving out the gauges that follow the queue and the clock, not the traffic."""
    gauges = ("domsec_queue_messages", "domsec_queue_oldest_message_age_seconds",
              "domsec_crl_set_age_seconds", "crl_set_age_s")
    return {k: v - before.get(k, 0) for k, v in after.items()
            if v != before.get(k, 0) and (k[0] if isinstance(k, tuple) else k) not in gauges}


def queue_is(d, active=0, deferred=0, held=0):
    """Poll until the queue gauges read exactly that (bounded)."""
    want = {"active": active, "deferred": deferred, "held": held}
    wait_until(lambda: {s: val(scrape(d), "domsec_queue_messages", state=s) for s in want}
               == want, 10, "domsec_queue_messages %r" % want)


class MetricsDeliveryTest(DeliveryTestCase):

    def test_counters_move_by_exactly_the_traffic(self):
        self.start_dns(host("dest.test", "127.0.0.31"))
        sink = self.sink("127.0.0.31")
        d = with_metrics(self.start_relay(start=False))
        d.start()
        m0, s0 = scrape(d), status_counters(d)
        version = val_label(m0, "domsec_build_info", "version")
        self.assertRegex(version, r"^\d+\.\d+\.\d+$")
        self.assertEqual(val(m0, "domsec_build_info", version=version), 1)
        for state in ("active", "deferred", "held"):
            self.assertIn(("domsec_queue_messages", frozenset({("state", state)})), m0)

        rcpts = ["<u%d@dest.test>" % i for i in range(K)]
        qids = []
        for r in rcpts:                         # one connection per message
            c = d.session()
            qids.append(self.submit(d, [r], client=c))
            c.cmd("QUIT")
        for qid, r in zip(qids, rcpts):
            self.wait_delivered(d, qid, r, ip="127.0.0.31")
        self.assertEqual([sink.count(r) for r in rcpts], [1] * K)

        def settled():
            m = scrape(d)
            return m if val(m, "domsec_recipients_delivered_total") >= K and \
                val(m, "domsec_delivery_duration_seconds_count") >= K else None
        m1 = wait_until(settled, 10, "the deliveries to show in /metrics")
        diff = moved(m0, m1)
        hub, inet = {"connector": "Hub"}, {"connector": "Internet"}
        self.assertEqual(diff.pop(("domsec_connections_total", frozenset(
            dict(direction="inbound", **hub).items()))), K)
        self.assertEqual(diff.pop(("domsec_messages_received_total", frozenset(hub.items()))), K)
        self.assertEqual(diff.pop(("domsec_recipients_delivered_total", frozenset())), K)
        for h in ("domsec_receive_commit_duration_seconds", "domsec_delivery_duration_seconds"):
            self.assertEqual(diff.pop((h + "_count", frozenset())), K)
            self.assertEqual(diff.pop((h + "_bucket", frozenset({("le", "+Inf")}))), K)
            # A sum in whole ms (delivery) may not move on a fast machine; never down.
            self.assertGreaterEqual(diff.pop((h + "_sum", frozenset()), 0), 0)
            for k in [k for k in diff if k[0] == h + "_bucket"]:
                self.assertLessEqual(diff.pop(k), K)
        # The sink's connections: one per message, or fewer when the cache reused one.
        out = diff.pop(("domsec_connections_total", frozenset(
            dict(direction="outbound", **inet).items())))
        self.assertTrue(1 <= out <= K, out)
        self.assertEqual(diff, {}, "counters that moved without traffic for them")
        # domsec status shows the same counters, moved by the same traffic.
        sdiff = moved(s0, status_counters(d))
        sdiff.pop("delivery.sum_ms", None)
        sdiff.pop("receive_commit.sum_ms", None)
        self.assertEqual(sdiff, {
            "connections_inbound": K, "connections_inbound_by_connector.Hub": K,
            "messages_received": K, "messages_received_by_connector.Hub": K,
            "recipients_delivered": K, "receive_commit.count": K,
            "delivery.count": K, "connections_outbound": out,
            "connections_outbound_by_connector.Internet": out})
        queue_is(d)                             # all delivered: an empty queue
        self.assertEqual(val(scrape(d), "domsec_queue_oldest_message_age_seconds"), 0)

    def test_only_get_and_head_of_metrics(self):
        self.start_dns()
        d = with_metrics(self.start_relay(start=False))
        d.start()
        status, headers, body = scrape_text(d, "HEAD")
        self.assertEqual((status, body), (200, ""))
        for path in ("/", "/metrics/x", "/favicon.ico"):
            with self.subTest(path=path):
                with self.assertRaises(urllib.error.HTTPError) as e:
                    scrape_text(d, "GET", path)
                self.assertEqual(e.exception.code, 404)
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                with self.assertRaises(urllib.error.HTTPError) as e:
                    scrape_text(d, method)
                self.assertEqual(e.exception.code, 405)
                self.assertEqual(e.exception.headers["Allow"], "GET, HEAD")


class MetricsTlsTest(PkiMixin, DomsecTestCase):

    def daemon(self, **metrics):
        d = Daemon(self, connectors=[("Inet", {
            "auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"})],
            transport=self.tls_transport(self.store("relay"),
                                         tls_receive_domain_secure_list=PARTNER))
        return with_metrics(d, **metrics)

    def starttls(self, d):
        c = d.connect()
        c.reply()
        self.assertEqual(c.cmd("EHLO client.example.org").code, 250)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        return c

    def test_domain_secure_message_and_failed_handshakes(self):
        d = self.daemon()
        d.start()
        m0, s0 = scrape(d), status_counters(d)
        self.assertGreaterEqual(val(m0, "domsec_crl_set_age_seconds"), 0)
        self.assertGreaterEqual(s0["crl_set_age_s"], 0)
        certs = [(dict(k[1]), v) for k, v in m0.items()
                 if k[0] == "domsec_certificate_expiry_timestamp_seconds"]
        self.assertEqual([c[0]["connector"] for c in certs], ["Inet"], certs)
        self.assertRegex(certs[0][0]["thumbprint"], r"^[0-9A-F]{40}$")
        self.assertGreater(certs[0][1], 1.7e9)

        # One domain-secure message over mutual TLS.
        c = self.starttls(d)
        ctx = ssl.create_default_context(cafile=self.p("trusted-ca.pem"))
        ctx.load_cert_chain(self.p("partner-ok.pem"), self.p("partner-ok.key"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname=RELAY_FQDN)
        self.assertEqual(c.cmd("EHLO mail.%s" % PARTNER).code, 250)
        queued_id(c.transaction("<a@%s>" % PARTNER, ["<u@a.test>"], b"Subject: s\r\n\r\nhi\r\n"),
                  fqdn=RELAY_FQDN)
        c.cmd("QUIT")
        # Garbage instead of a ClientHello: protocol.
        c = self.starttls(d)
        c.send(b"this is not TLS\r\n" * 4)
        c.wait_closed(10)
        # A client that hangs up in the middle of the handshake: closed.
        c = self.starttls(d)
        c.sock.close()

        inbound = lambda reason: ("domsec_tls_handshake_failures_total", frozenset(
            {("direction", "inbound"), ("reason", reason)}))

        def settled():
            m = scrape(d)
            return m if m[inbound("protocol")] + m[inbound("closed")] >= 2 and \
                val(m, "domsec_recipients_deferred_total") >= 1 else None
        m1 = wait_until(settled, 10, "the failed handshakes and the deferral in /metrics")
        diff = moved(m0, m1)
        inet = frozenset({("connector", "Inet")})
        self.assertEqual(diff.pop(inbound("protocol")), 1)
        self.assertEqual(diff.pop(inbound("closed")), 1)
        self.assertEqual(diff.pop(("domsec_connections_total",
                                   inet | {("direction", "inbound")})), 3)
        self.assertEqual(diff.pop(("domsec_tls_handshakes_total",
                                   inet | {("direction", "inbound")})), 1)
        self.assertEqual(diff.pop(("domsec_messages_received_total", inet)), 1)
        self.assertEqual(diff.pop(("domsec_domain_secure_messages_received_total", frozenset())),
                         1)
        h = "domsec_receive_commit_duration_seconds"
        self.assertEqual(diff.pop((h + "_count", frozenset())), 1)
        self.assertGreater(diff.pop((h + "_sum", frozenset())), 0)
        for k in [k for k in diff if k[0] == h + "_bucket"]:
            self.assertEqual(diff.pop(k), 1)
        # The message waits for a route (no send connector): deferred, in the queue.
        self.assertEqual(diff.pop(("domsec_recipients_deferred_total", frozenset())), 1)
        self.assertEqual(diff, {}, "counters that moved without traffic for them")
        queue_is(d, deferred=1)
        sdiff = moved(s0, status_counters(d))
        sdiff.pop("receive_commit.sum_ms", None)
        self.assertEqual(sdiff, {
            "recipients_deferred": 1,
            "tls_handshake_failures_inbound.protocol": 1,
            "tls_handshake_failures_inbound.closed": 1,
            "connections_inbound": 3, "connections_inbound_by_connector.Inet": 3,
            "tls_handshakes_inbound": 1, "tls_handshakes_inbound_by_connector.Inet": 1,
            "messages_received": 1, "messages_received_by_connector.Inet": 1,
            "domain_secure_messages_received": 1, "receive_commit.count": 1})

    def test_address_outside_remote_ip_ranges_is_refused(self):
        d = self.daemon(remote_ip_ranges="10.0.0.0/8")
        d.start()
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected,
                                urllib.error.URLError)):
            scrape_text(d)
        d.wait_log(d.prefix() + r"info metrics listening on 127\.0\.0\.1:%d\s*$"
                   % d.metrics_port)

    def test_reload_keeps_metrics_and_says_a_restart_applies_a_change(self):
        d = self.daemon()
        d.start()
        m0 = scrape(d)
        d.write_config(d.config_text + "max_clients = 2\n")
        exe = os.path.join(os.path.dirname(domsecd_path()), "domsec")
        p = subprocess.run([exe, "--socket", d.control_socket, "reload"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"[metrics] changed: restart domsecd to apply", p.stdout)
        m = scrape(d)                           # the same server, still answering
        self.assertEqual(val(m, "domsec_start_time_seconds"), val(m0, "domsec_start_time_seconds"))

    def test_listen_address_in_use_stops_the_start(self):
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        d = self.daemon()
        d.write_config(d.config_text.replace("listen = 127.0.0.1:%d" % d.metrics_port,
                                             "listen = 127.0.0.1:%d" % busy.getsockname()[1]))
        d.start(wait=False)
        self.assertEqual(d.wait_exit(), 1)
        self.assertRegex(d.log(), r"cannot listen on 127\.0\.0\.1:%d \(\[metrics\] listen\): "
                         r"Address already in use" % busy.getsockname()[1])


if __name__ == "__main__":
    import unittest
    unittest.main()
