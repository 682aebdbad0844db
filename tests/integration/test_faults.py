"""Faults of the outside world, each bounded and answered the documented way
(docs/RELIABILITY.md section 5, docs/DELIVERY.md): a client that stalls in the
middle of DATA, a next hop that stalls while we send (stops reading, or never
answers the final dot), a DNS server that answers garbage or never answers.

Every wait is a bounded poll; no verdict depends on how long something took."""

import random
import re
import socket
import struct
import threading
import time
import unittest

from domsec_harness import R, DomsecTestCase, make_body, queued_id, wait_until
from peers import RX_ID, DeliveryTestCase, PyPeer, host, unquote
from pki import PkiMixin
from test_crl_fetch import CERT_FAIL, PARTNER, SECURED_OK
from test_delivery_retry import FAILOVER
from test_starttls import RELAY_FQDN


# --------------------------------------------------------------------------
# a next hop that stalls

class StallPeer(PyPeer):
    """An SMTP server on ip:port that answers up to DATA, then stalls every connection:
    mode "read" stops reading after `after` bytes of the message (our writes block once
    the socket buffers are full), mode "dot" reads the whole message and never answers
    the final dot.  Counts the message bytes it read."""

    def __init__(self, tc, ip, port, mode, after=65536):
        super().__init__(tc, ip, port, name="stall.test")
        self.mode, self.after = mode, after
        self.got = 0                    # message bytes read, all connections
        self.dots = 0                   # final dots read
        # a small receive buffer, inherited by the sockets accepted from now on: our
        # side's writes block soon after the peer stops reading
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def _session(self, s, no):
        f = s.makefile("rb")
        s.sendall(b"220 stall.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                s.sendall(b"250-stall.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                s.sendall(b"354 go ahead\r\n")
                break
            else:
                s.sendall(b"250 ok\r\n")
        while True:
            line = f.readline(8192)
            if not line:
                return
            with self.lock:
                self.got += len(line)
                if self.mode == "read" and self.got >= self.after:
                    break               # stop reading: never again
                if line == b".\r\n":
                    self.dots += 1
                    break               # mode "dot": never answer
        # silent until the other side closes (mode "dot") or the test ends (stop() shuts
        # the socket down)
        while not self.stopping and (s.recv(65536) if self.mode == "dot"
                                     else s.recv(1, socket.MSG_PEEK)):
            if self.mode == "read":
                time.sleep(0.1)         # data waits unread; poll for the end only


class ClientStallTest(DomsecTestCase):

    def test_client_stalling_mid_data_gets_451_and_nothing_is_committed(self):
        d = self.start_daemon(connectors=[("Inet", {"connection_inactivity_timeout": "1s"})])
        c = d.session()
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        c.expect("RCPT TO:<u@a.test>", R["rcpt_ok"])
        c.expect("DATA", R["data_go"])
        c.send(make_body(200000, "stalled"))        # over 64 KiB: written to incoming/
        self.assertReply(c.reply(20), R["inactivity"])
        self.assertClosed(c)
        wait_until(lambda: not d.listdir("incoming"), 10, "incoming/ to be emptied")
        self.assertEqual(d.message_ids(), [])
        # the daemon goes on: the next client is served
        qid = queued_id(d.session().transaction("<s@example.org>", ["<u@a.test>"],
                                                 b"Subject: next\r\n\r\nnext\r\n"))
        self.assertEqual(d.message_ids(), [qid])


class NextHopStallTest(DeliveryTestCase):

    def stalled_then_delivered(self, mode, size, stage):
        """Our delivery to a next hop stalling in `mode`: the attempt ends by the send
        connector's connection_inactivity_timeout, the message is deferred with the
        reason, kept, and delivered at the retry once the next hop behaves."""
        self.start_dns(host("stall.test", "127.0.0.44"))
        stall = StallPeer(self, "127.0.0.44", self.P, mode)
        d = self.start_relay(internet=False, transport={
            "transient_failure_retry_interval": "1s", "message_retry_interval": "1s",
            "outbound_connection_failure_retry_interval": "1s"},
            sends=[("Internet", {"address_spaces": "*", "dns_routing": "yes",
                                 "port": str(self.P), "connection_inactivity_timeout": "2s"})])
        msg = make_body(size, "stall")
        qid = self.submit(d, ["<u@stall.test>"], message=msg)
        m = d.wait_log(d.prefix() + r'info smtp %s deferred id=%s to=<u@stall\.test> '
                       r'reason="(.*)"\s*$' % (RX_ID, qid), 30)
        reason = unquote(m.group(1))
        self.assertEqual(reason, '451 4.4.0 Primary target IP address responded with: '
                         '"timeout while waiting for the reply to %s.' % stage + FAILOVER +
                         "127.0.0.44:%d" % self.P)
        self.assertEqual(d.message_ids(), [qid])
        with stall.lock:
            self.assertGreater(stall.got, 0)
            if mode == "read":
                self.assertLess(stall.got, len(msg), "the peer was meant to stop reading")
            else:
                self.assertEqual(stall.dots, 1)
        stall.stop()
        peer = self.peer("127.0.0.44")             # the next hop behaves again
        self.wait_delivered(d, qid, "<u@stall.test>", ip="127.0.0.44", timeout=30)
        self.wait_removed(d, qid)
        self.assertEqual([t.data.endswith(msg) for t in peer.delivered()], [True])
        return reason

    def test_next_hop_stops_reading_mid_data(self):
        # larger than every socket buffer between us (tcp_wmem max 4 MiB + its 4 KiB)
        self.stalled_then_delivered("read", 6 << 20, "end of data")

    def test_next_hop_never_answers_the_final_dot(self):
        self.stalled_then_delivered("dot", 3000, "end of data")


# --------------------------------------------------------------------------
# a DNS server that misbehaves

class BadDns:
    """UDP DNS on 127.0.0.1:<ephemeral> in front of dnsmasq, by mode: "silent" never
    answers; "random" answers random bytes; "badresp" answers with the query's id and
    flags of a reply that announces records it does not hold; "wrongname" answers a
    well-formed reply for another name; "proxy" passes queries to dnsmasq and back.
    Counts the queries it got."""

    def __init__(self, tc, upstream_port):
        self.mode = "silent"
        self.upstream = upstream_port
        self.queries = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.rnd = random.Random(15)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    def _serve(self):
        while not self.stopping:
            try:
                q, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.queries += 1
                mode = self.mode
            if len(q) < 12 or mode == "silent":
                continue
            if mode == "random":
                a = bytes(self.rnd.randrange(256) for _ in range(self.rnd.randrange(1, 300)))
            elif mode == "badresp":             # 1 question, 3 answers: none present
                a = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 3, 0, 0) + q[12:]
            elif mode == "wrongname":
                qd = q[12:]
                a = q[:2] + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + \
                    b"\x05other\x04test\x00" + qd[qd.index(b"\x00") + 1:]
            else:
                a = self._forward(q)
                if a is None:
                    continue
            try:
                self.sock.sendto(a, addr)
            except OSError:
                pass

    def _forward(self, q):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        try:
            u.sendto(q, ("127.0.0.1", self.upstream))
            return u.recvfrom(4096)[0]
        except OSError:
            return None
        finally:
            u.close()

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode

    def count(self):
        with self.lock:
            return self.queries

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class DnsFaultTest(DeliveryTestCase):

    def deferred_by_dns(self, mode, want):
        """A message for dns.test while the DNS server is in `mode`: deferred with
        `want`, the daemon serving SMTP meanwhile; delivered once DNS answers."""
        real = self.start_dns(host("dns.test", "127.0.0.45"))
        bad = BadDns(self, real.port)
        bad.set_mode(mode)
        self.dns = bad                          # the relay asks the bad server
        peer = self.peer("127.0.0.45")
        d = self.start_relay({"message_retry_interval": "1s",
                              "transient_failure_retry_interval": "1s",
                              "outbound_connection_failure_retry_interval": "1s"})
        qid = self.submit(d, ["<u@dns.test>"])
        wait_until(lambda: bad.count() > 0, 10, "the relay to ask the DNS server")
        # the lookup does not hold up the receive side
        c = d.session()
        self.assertReply(c.cmd("NOOP"), R["noop"])
        m = d.wait_log(d.prefix() + r'info (?:queue|smtp %s) deferred id=%s to=<u@dns\.test> '
                       r'reason="(.*)"\s*$' % (RX_ID, qid), 30)
        self.assertEqual(unquote(m.group(1)), want)
        self.assertEqual(d.message_ids(), [qid])
        self.assertEqual(peer.connections, [])
        bad.set_mode("proxy")
        self.wait_delivered(d, qid, "<u@dns.test>", ip="127.0.0.45", timeout=30)
        self.wait_removed(d, qid)
        self.assertEqual(peer.count("<u@dns.test>"), 1)

    def test_dns_server_never_answers(self):
        self.deferred_by_dns("silent", "451 4.4.0 DNS query failed: DNS timeout")

    def test_dns_server_answers_random_bytes(self):
        self.deferred_by_dns("random", "451 4.4.0 DNS query failed: DNS timeout")

    def test_dns_server_answers_a_malformed_reply(self):
        self.deferred_by_dns("badresp", "451 4.4.0 DNS query failed: Misformatted DNS reply")

    def test_dns_server_answers_for_another_name(self):
        self.deferred_by_dns("wrongname", "451 4.4.0 DNS query failed: DNS timeout")


# --------------------------------------------------------------------------
# a CRL server that trickles

class TrickleHttp:
    """HTTP on 127.0.0.1:<ephemeral> for CRL distribution points, by mode: "trickle"
    announces a 1 MB body and sends one byte every 0.5 s until the client leaves;
    "flood" sends an endless body without a length as fast as it can; "huge" announces
    a 20 MB body.  Records each request's path and how many body bytes it sent."""

    def __init__(self):
        self.mode = "trickle"
        self.lock = threading.Lock()
        self.requests = []              # [path, bytes sent, closed by the client]
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        req = b""
        try:
            s.settimeout(60)
            while b"\r\n\r\n" not in req:
                chunk = s.recv(4096)
                if not chunk:
                    return
                req += chunk
            rec = [req.split(b" ")[1].decode(), 0, False]
            with self.lock:
                self.requests.append(rec)
                mode = self.mode
            head = "HTTP/1.0 200 OK\r\nContent-Type: application/pkix-crl\r\n"
            if mode == "trickle":
                head += "Content-Length: 1000000\r\n"
            elif mode == "huge":
                head += "Content-Length: 20000000\r\n"
            s.sendall((head + "\r\n").encode())
            chunk = b"0" * 65536
            while not self.stopping:
                if mode == "trickle":
                    s.sendall(b"0")
                    n = 1
                    time.sleep(0.5)     # the trickle itself, not a synchronisation
                elif mode == "flood":
                    s.sendall(chunk)
                    n = len(chunk)
                else:
                    s.sendall(chunk[:1])
                    n = 1
                    time.sleep(0.5)
                with self.lock:
                    rec[1] += n
        except OSError:
            with self.lock:
                if "rec" in locals():
                    rec[2] = True       # the client closed its side
        finally:
            s.close()

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
            self.requests = []

    def snapshot(self):
        with self.lock:
            return [list(r) for r in self.requests]

    def close(self):
        self.stopping = True
        self.lsock.close()
        self.thread.join(5)


class CrlTrickleTest(PkiMixin, DomsecTestCase):
    """CRL fetching is bounded (30 s per transfer, 10 MiB per CRL) and never blocks a
    handshake: meanwhile the verdict is "unknown", as revocation_failure says."""

    @classmethod
    def setUpClass(cls):
        cls.http = TrickleHttp()               # first: the PKI's CDP URLs need its port
        cls.addClassCleanup(cls.http.close)    # also when the PKI cannot be made
        cls.crl_port = cls.http.port
        super().setUpClass()

    def daemon(self, policy):
        t = self.tls_transport(self.store("relay"), crls=(), crl_fetch="yes",
                               revocation_failure=policy,
                               tls_receive_domain_secure_list=PARTNER)
        return self.start_daemon(connectors=[("Inet", {
            "auth_mechanism": "tls", "fqdn": RELAY_FQDN, "domain_secure_enabled": "yes"})],
            transport=t)

    def fetch_failed(self, d, name, timeout=60):
        url = "http://127.0.0.1:%d/%s" % (self.crl_port, name)
        return d.wait_log(d.prefix() + r'warning crl fetch failed url=%s error="([^"]*)" '
                          r"retry_in=\d+s$" % re.escape(url), timeout).group(1)

    def test_trickling_crl_server(self):
        self.http.set_mode("trickle")
        strict, lenient = self.daemon("fail"), self.daemon("accept")
        # the first session starts the fetches; it and every session while they trickle
        # gets its verdict at once: unknown, refused transiently or accepted
        for _ in range(3):
            self.assertEqual(self.partner_mail_from(strict, "partner-ok").lines, [CERT_FAIL])
            self.assertEqual(self.partner_mail_from(lenient, "partner-ok").lines,
                             [SECURED_OK])
        lenient.wait_log(lenient.prefix() + r"info smtpd \S+ domain secured .*"
                         r"revocation=unknown \(accepted\)")
        busy = [r for r in self.http.snapshot() if not r[2]]
        self.assertTrue(busy, "no CRL transfer was under way during the sessions")
        for d in (strict, lenient):
            for name in ("inter.crl", "root.crl"):
                self.assertRegex(self.fetch_failed(d, name), r"^Operation timed out after "
                                 r"3\d{4} milliseconds with \d+ out of 1000000 bytes received$")
        wait_until(lambda: all(r[2] for r in self.http.snapshot()), 10,
                   "every trickling transfer to be closed by the daemons")
        self.assertEqual(self.partner_mail_from(strict, "partner-ok").lines, [CERT_FAIL])
        self.assertEqual(strict.stop(), 0)
        self.assertEqual(lenient.stop(), 0)

    def test_oversized_crl(self):
        for mode, want in (("flood", r"^the response is larger than 10485760 bytes$"),
                           ("huge", r"^Maximum file size exceeded$")):
            with self.subTest(mode=mode):
                self.http.set_mode(mode)
                d = self.daemon("fail")
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
                self.assertRegex(self.fetch_failed(d, "inter.crl"), want)
                wait_until(lambda: all(r[2] for r in self.http.snapshot()), 10,
                           "the transfers to be closed by the daemon")
                self.assertLessEqual(max(r[1] for r in self.http.snapshot()),
                                     (10 << 20) + (4 << 20), "read far past the limit")
                self.assertEqual(self.partner_mail_from(d, "partner-ok").lines, [CERT_FAIL])
                self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
