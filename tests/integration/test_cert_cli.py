"""domsec cert (SPEC 6.1, 6.2; Exchange 8.1): new / request / import / list /
show / renew / remove on a real certificate store, each result checked against
what the openssl CLI says of the same files, and a real domsecd serving the
imported certificate over STARTTLS (openssl s_client -starttls smtp)."""

import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import time
import unittest

from domsec_harness import Daemon, DomsecTestCase, domsecd_path, service_ids
from pki import PkiMixin

RELAY = "mail.contoso.test"
# openssl's RFC 2253 order with ", " between attributes, as domsec prints subjects
NAMEOPT = ("esc_2253,esc_ctrl,esc_msb,utf8,dump_nostr,dump_unknown,dump_der,"
           "sep_comma_plus_space,dn_rev,sname")
THUMB_RE = re.compile(r"^Thumbprint\s*: ([0-9A-F]{40})$", re.M)


def domsec_exe():
    build = os.environ.get("DOMSEC_BUILD")
    exe = os.path.join(build, "domsec") if build else \
        os.path.join(os.path.dirname(domsecd_path()), "domsec")
    if not os.access(exe, os.X_OK):
        raise AssertionError("%s is not an executable file" % exe)
    return exe


def run(*argv, input=None, timeout=60):
    return subprocess.run(list(argv), input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, text=True)


def openssl(*args, input=None):
    r = run("openssl", *args, input=input)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), r.stderr))
    return r.stdout


def openssl_facts(path):
    """What openssl says of the first certificate of a file."""
    out = openssl("x509", "-in", path, "-noout", "-nameopt", NAMEOPT, "-subject", "-issuer",
                  "-serial", "-dates", "-fingerprint", "-sha1")
    f = dict(line.split("=", 1) for line in out.splitlines())
    ext = openssl("x509", "-in", path, "-noout", "-ext", "subjectAltName,extendedKeyUsage")
    san = re.search(r"Subject Alternative Name:\s*\n\s*(.*)", ext)
    eku = re.search(r"Extended Key Usage:\s*\n\s*(.*)", ext)

    def iso(v):
        t = datetime.datetime.strptime(v, "%b %d %H:%M:%S %Y GMT")
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Subject": f["subject"], "Issuer": f["issuer"], "SerialNumber": f["serial"],
        "NotBefore": iso(f["notBefore"]), "NotAfter": iso(f["notAfter"]),
        "Thumbprint": f["sha1 Fingerprint"].replace(":", ""),
        "CertificateDomains": [d.strip()[4:] for d in san.group(1).split(",")] if san else [],
        "EKU": eku.group(1).strip() if eku else None,
    }


def openssl_pin(path):
    """The pin of a certificate (SHA-256 of its DER SPKI), as openssl computes it."""
    pub = openssl("x509", "-in", path, "-noout", "-pubkey")
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


def pin_base64(hexpin):
    """The same pin in base64 (SPEC 9; curl's --pinnedpubkey sha256//)."""
    return base64.b64encode(bytes.fromhex(hexpin)).decode()


def pem_blocks(path):
    with open(path) as f:
        return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?",
                          f.read(), re.S)


def fingerprint(pem_text):
    out = openssl("x509", "-noout", "-fingerprint", "-sha1", input=pem_text)
    return out.strip().split("=", 1)[1].replace(":", "")


def pubkey(path, is_cert):
    if is_cert:
        return openssl("x509", "-in", path, "-noout", "-pubkey")
    return openssl("pkey", "-in", path, "-pubout")


def der_items(b):
    """(tag, content) of each DER item of b (definite lengths only)."""
    out = []
    while b:
        n, hdr = b[1], 2
        if n & 0x80:
            hdr = 2 + (n & 0x7F)
            n = int.from_bytes(b[2:hdr], "big")
        out.append((b[0], b[hdr:hdr + n]))
        b = b[hdr + n:]
    return out


def der(tag, content):
    n, k = len(content), (len(content).bit_length() + 7) // 8
    ln = bytes([n]) if n < 0x80 else bytes([0x80 | k]) + n.to_bytes(k, "big")
    return bytes([tag]) + ln + content


def der_set_iterations(b, count):
    """b with every INTEGER that follows an OCTET STRING opening a SEQUENCE (a
    PBKDF2 or PKCS#12 PBE salt and its iteration count) set to count."""
    items, out = der_items(b), b""
    for i, (tag, content) in enumerate(items):
        if tag == 0x02 and i == 1 and items[0][0] == 0x04:
            content = count.to_bytes(4, "big")
        elif tag & 0x20:
            content = der_set_iterations(content, count)
        out += der(tag, content)
    return out


class CertCliTest(PkiMixin, DomsecTestCase):

    def setUp(self):
        super().setUp()
        self.d = Daemon(self)
        self.d.write_config(self.d.render_config(
            connectors=[("Inet", {"auth_mechanism": "tls", "fqdn": RELAY})],
            transport=self.transport()))
        self.certs = os.path.join(self.d.dir, "certs")
        self.crl = os.path.join(self.d.dir, "crl")
        self.work = os.path.join(self.d.dir, "work")
        os.mkdir(self.crl, 0o755)
        os.mkdir(self.work, 0o700)
        for name in ("inter.crl", "root.crl"):
            shutil.copy(self.p(name), self.crl)

    def transport(self):
        return {"certificate_store": os.path.join(self.d.dir, "certs"),
                "trusted_ca_file": self.p("trusted-ca.pem"),
                "crl_directory": os.path.join(self.d.dir, "crl"), "crl_fetch": "no"}

    def cert(self, *args, input=None):
        r = run(domsec_exe(), "-c", self.d.config_path, "cert", *args, input=input)
        for marker in ("Sanitizer", "runtime error:"):     # sanitizer builds
            self.assertNotIn(marker, r.stderr, "domsec cert %s" % " ".join(args))
        return r

    def ok(self, *args):
        r = self.cert(*args)
        self.assertEqual(r.returncode, 0, "domsec cert %s:\n%s%s" % (" ".join(args), r.stdout,
                                                                   r.stderr))
        return r.stdout

    def show(self, thumb):
        return json.loads(self.ok("show", thumb, "--json"))

    def store_files(self):
        return sorted(os.listdir(self.certs)) if os.path.isdir(self.certs) else []

    def new(self, *args):
        out = self.ok("new", *args)
        m = THUMB_RE.search(out)
        self.assertTrue(m, out)
        return m.group(1), out

    def assert_key_file(self, key, cert):
        st = os.stat(key)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, key)
        self.assertEqual((st.st_uid, st.st_gid), service_ids(), key)
        self.assertEqual(pubkey(key, False), pubkey(cert, True), "%s is not %s's key"
                         % (key, cert))

    def assert_matches_openssl(self, info, path):
        o = openssl_facts(path)
        for k in ("Subject", "Issuer", "SerialNumber", "NotBefore", "NotAfter", "Thumbprint",
                  "CertificateDomains"):
            self.assertEqual(info[k], o[k], "%s of %s" % (k, path))
        self.assertEqual(info["PinSha256"], openssl_pin(path), "pin of %s" % path)
        self.assertEqual(info["PinSha256Base64"], pin_base64(openssl_pin(path)))
        return o

    def list_rows(self):
        out = self.ok("list").splitlines()
        self.assertEqual(out[0].split(), ["Thumbprint", "Services", "Status", "Subject"])
        rows = {}
        for line in out[2:]:
            t, services, status, subject = line.split(None, 3)
            rows[t] = (services, status, subject)
        return rows

    # --- 1. new ------------------------------------------------------------------
    def test_new_ec256_matches_openssl(self):
        thumb, out = self.new("--domain", RELAY, "--domain", "contoso.test", "--key", "ec256",
                              "--days", "30", "--name", "Edge")
        pem = os.path.join(self.certs, thumb + ".pem")
        key = os.path.join(self.certs, thumb + ".key")
        self.assertIn("Certificate: %s" % pem, out)
        self.assertEqual(self.store_files(), [thumb + ".key", thumb + ".meta", thumb + ".pem"])
        self.assert_key_file(key, pem)

        info = self.show(thumb[:10].lower())                # a unique prefix, any case
        o = self.assert_matches_openssl(info, pem)
        self.assertEqual(info["Subject"], "CN=" + RELAY)
        self.assertEqual(info["CertificateDomains"], [RELAY, "contoso.test"])
        self.assertEqual(o["EKU"], "TLS Web Server Authentication, TLS Web Client Authentication")
        self.assertEqual(len(info["SerialNumber"]), 32)     # 16 bytes, positive
        self.assertLess(int(info["SerialNumber"][0], 16), 8)
        nb = datetime.datetime.strptime(info["NotBefore"], "%Y-%m-%dT%H:%M:%SZ")
        na = datetime.datetime.strptime(info["NotAfter"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(na - nb, datetime.timedelta(days=30, hours=1))
        utcnow = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.assertLess(abs((utcnow - nb) - datetime.timedelta(hours=1)),
                        datetime.timedelta(minutes=2))
        for k, v in (("FriendlyName", "Edge"), ("PublicKeySize", 256), ("KeyType", "EC"),
                     ("IsSelfSigned", True), ("HasPrivateKey", True), ("RootCAType", "None"),
                     ("Services", "SMTP"), ("Status", "Valid"), ("Problem", None)):
            self.assertEqual(info[k], v, k)
        ext = openssl("x509", "-in", pem, "-noout", "-ext", "basicConstraints,keyUsage")
        self.assertRegex(ext, r"CA:FALSE")
        self.assertRegex(ext, r"critical\n\s*Digital Signature\n")
        self.assertIn(": OK", openssl("verify", "-CAfile", pem, pem))

        self.assertEqual(self.list_rows(), {thumb: ("SMTP", "Valid", "CN=" + RELAY)})
        text = self.ok("show", thumb)
        self.assertIn("CertificateDomains : {%s, contoso.test}" % RELAY, text)
        self.assertRegex(text, r"(?m)^Status\s+: Valid$")
        self.assertRegex(text, r"(?m)^pin-sha256\s+: %s$" % openssl_pin(pem))
        self.assertRegex(text, r"(?m)^pin-sha256-base64\s+: %s$"
                         % re.escape(pin_base64(openssl_pin(pem))))

    def test_new_rsa_default_and_subject(self):
        thumb, _ = self.new("--domain", RELAY, "--subject",
                            "C=US, ST=WA, L=Redmond, O=\"Contoso, Ltd.\", OU=IT, CN=" + RELAY)
        pem = os.path.join(self.certs, thumb + ".pem")
        info = self.show(thumb)
        self.assert_matches_openssl(info, pem)
        self.assertEqual(info["Subject"],
                         "CN=%s, OU=IT, O=Contoso\\, Ltd., L=Redmond, ST=WA, C=US" % RELAY)
        self.assertEqual((info["KeyType"], info["PublicKeySize"]), ("RSA", 2048))  # the default
        self.assertEqual(info["FriendlyName"], "")
        self.assertNotIn(thumb + ".meta", self.store_files())
        ext = openssl("x509", "-in", pem, "-noout", "-ext", "keyUsage")
        self.assertIn("Digital Signature, Key Encipherment", ext)
        nb = datetime.datetime.strptime(info["NotBefore"], "%Y-%m-%dT%H:%M:%SZ")
        na = datetime.datetime.strptime(info["NotAfter"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(na - nb, datetime.timedelta(days=1825, hours=1))
        self.assert_key_file(os.path.join(self.certs, thumb + ".key"), pem)

    def test_new_rsa4096(self):
        thumb, _ = self.new("--domain", RELAY, "--key", "rsa4096", "--days", "2")
        info = self.show(thumb)
        self.assertEqual((info["KeyType"], info["PublicKeySize"]), ("RSA", 4096))
        pem = os.path.join(self.certs, thumb + ".pem")
        self.assert_matches_openssl(info, pem)
        self.assertIn("Public-Key: (4096 bit)", openssl("x509", "-in", pem, "-noout", "-text"))

    # --- 2. request, CA signature, import, STARTTLS ------------------------------------
    def sign(self, req, out):
        openssl("x509", "-req", "-in", req, "-CA", self.p("inter.pem"), "-CAkey",
                self.p("inter.key"), "-set_serial", "0x" + secrets.token_hex(12), "-days", "90",
                "-copy_extensions", "copy", "-out", out)

    def starttls_cert(self, d):
        """The certificate domsecd serves after STARTTLS, and openssl's verdict."""
        r = run("openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % d.port,
                "-servername", RELAY, "-CAfile", self.p("trusted-ca.pem"), input="QUIT\r\n",
                timeout=30)
        blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                            r.stdout, re.S)
        self.assertTrue(blocks, "no certificate from s_client:\n%s%s" % (r.stdout, r.stderr))
        return fingerprint(blocks[0] + "\n"), r.stdout

    def test_request_signed_by_ca_imported_and_served(self):
        req = os.path.join(self.work, "req.pem")
        out = self.ok("request", "--subject", "C=US, O=Contoso, CN=" + RELAY, "--domain", RELAY,
                      "--domain", "contoso.test", "--key", "ec256", "--name", "Signed",
                      "--out", req)
        pending = THUMB_RE.search(out).group(1)
        self.assertRegex(out, r"(?m)^Status\s*: PendingRequest$")
        self.assertEqual(self.store_files(), ["request-%s.%s" % (pending, e)
                                              for e in ("csr", "key", "meta")])
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
            self.certs, "request-%s.key" % pending)).st_mode), 0o600)
        self.assertIn("verify OK", run("openssl", "req", "-in", req, "-noout", "-verify").stderr)
        text = openssl("req", "-in", req, "-noout", "-text")
        self.assertIn("DNS:%s, DNS:contoso.test" % RELAY, text)
        self.assertIn("Version: 1 (0x0)", text)
        self.assertEqual(self.list_rows(), {pending: ("None", "PendingRequest",
                                                      "CN=%s, O=Contoso, C=US" % RELAY)})
        info = self.show(pending[:8])
        self.assertEqual((info["Status"], info["HasPrivateKey"], info["FriendlyName"],
                          info["CertificateDomains"]),
                         ("PendingRequest", True, "Signed", [RELAY, "contoso.test"]))
        # the pin the certificate will have: a partner can list it before it is issued
        request_pin = info["PinSha256"]
        self.assertRegex(request_pin, r"^[0-9a-f]{64}$")

        # domsecd with only the pending request: no usable certificate, no STARTTLS
        d = self.d.start()
        d.wait_log(d.prefix() + r"error tls receive connector Inet: no usable certificate")

        signed = os.path.join(self.work, "signed.pem")
        self.sign(req, signed)
        chain = os.path.join(self.work, "chain.pem")      # any order: root, leaf, inter
        with open(chain, "w") as f:
            for name in (self.p("root.pem"), signed, self.p("inter.pem")):
                with open(name) as g:
                    f.write(g.read())
        mark = d.log_mark()
        out = self.ok("import", chain)
        thumb = THUMB_RE.search(out).group(1)
        self.assertEqual(thumb, openssl_facts(signed)["Thumbprint"])
        self.assertIn("completed the request %s" % pending, out)
        self.assertIn("reloaded domsecd pid %d" % d.pid, out)
        self.assertEqual(self.store_files(), [thumb + e for e in (".key", ".meta", ".pem")])
        pem = os.path.join(self.certs, thumb + ".pem")
        self.assertEqual([fingerprint(b) for b in pem_blocks(pem)],
                         [thumb, openssl_facts(self.p("inter.pem"))["Thumbprint"],
                          openssl_facts(self.p("root.pem"))["Thumbprint"]])
        self.assert_key_file(os.path.join(self.certs, thumb + ".key"), pem)

        info = self.show(thumb)
        self.assert_matches_openssl(info, pem)
        self.assertEqual(info["PinSha256"], request_pin)
        for k, v in (("Status", "Valid"), ("RootCAType", "ThirdParty"), ("IsSelfSigned", False),
                     ("HasPrivateKey", True), ("FriendlyName", "Signed"), ("Services", "SMTP"),
                     ("Issuer", "CN=Domsec Test Intermediate CA, O=Domsec Test PKI")):
            self.assertEqual(info[k], v, k)

        # the running domsecd reloaded and serves exactly that certificate
        d.wait_log(d.prefix() + r"info tls receive connector Inet certificate thumbprint=%s"
                   % thumb, since=mark)
        served, text = self.starttls_cert(d)
        self.assertEqual(served, thumb)
        self.assertIn("Verify return code: 0 (ok)", text)

        # without CRLs the revocation status is unknown: RevocationCheckFailure
        shutil.rmtree(self.crl)                             # a missing crl_directory: no CRLs
        info = self.show(thumb)
        self.assertEqual(info["Status"], "RevocationCheckFailure")
        self.assertIn("Domsec Test Intermediate CA", info["StatusDetail"])
        # a stale CRL: the same
        os.mkdir(self.crl, 0o755)
        shutil.copy(self.p("inter-stale.crl"), os.path.join(self.crl, "inter.crl"))
        shutil.copy(self.p("root.crl"), self.crl)
        self.assertEqual(self.show(thumb)["Status"], "RevocationCheckFailure")

    # --- 3. PKCS#12 ---------------------------------------------------------------------
    def pfx(self, name, *extra):
        path = os.path.join(self.work, name)
        openssl("pkcs12", "-export", "-inkey", self.p("partner-ok.key"), "-in",
                self.p("partner-ok.pem"), "-certfile", self.p("inter.pem"), "-passout",
                "pass:secret", "-out", path, *extra)
        return path

    def test_pfx_import(self):
        pfx = self.pfx("partner.pfx")
        r = self.cert("import", pfx, "--password", "wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("domsec: %s: the password is wrong" % pfx, r.stderr)
        self.assertIn("nothing imported", r.stderr)
        self.assertEqual(self.store_files(), [])           # not even a temporary file
        r = self.cert("import", pfx)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing (--password)", r.stderr)

        legacy = self.pfx("legacy.pfx", "-legacy")
        r = self.cert("import", legacy, "--password", "secret")
        self.assertEqual(r.returncode, 1)
        self.assertIn("domsec: %s: PKCS#12 cannot be decrypted" % legacy, r.stderr)
        self.assertIn("-certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256", r.stderr)
        self.assertEqual(self.store_files(), [])

        out = self.ok("import", pfx, "--password", "secret", "--name", "Partner")
        thumb = THUMB_RE.search(out).group(1)
        self.assertEqual(thumb, openssl_facts(self.p("partner-ok.pem"))["Thumbprint"])
        pem = os.path.join(self.certs, thumb + ".pem")
        self.assertEqual([fingerprint(b) for b in pem_blocks(pem)],
                         [thumb, openssl_facts(self.p("inter.pem"))["Thumbprint"]])
        key = os.path.join(self.certs, thumb + ".key")
        self.assert_key_file(key, pem)
        with open(key) as f:
            self.assertEqual(f.readline(), "-----BEGIN EC PRIVATE KEY-----\n")
        info = self.show(thumb)
        self.assert_matches_openssl(info, pem)
        for k, v in (("Status", "Valid"), ("RootCAType", "ThirdParty"), ("Services", "None"),
                     ("FriendlyName", "Partner"), ("HasPrivateKey", True)):
            self.assertEqual(info[k], v, k)

        before = self.store_files()
        r = self.cert("import", pfx, "--password", "secret")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is already in the store", r.stderr)
        # a certificate without its key, and no request waiting for it
        r = self.cert("import", self.p("partner-exact.pem"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("domsec: %s: no private key for" % self.p("partner-exact.pem"), r.stderr)
        self.assertEqual(self.store_files(), before)

    def test_pfx_with_huge_iteration_count_is_refused(self):
        """wolfSSL 5.5.4 runs any PKCS#12 MAC iteration count: 2**31-1 would spin for
        hours; the import refuses more than 10,000,000 before wolfSSL starts."""
        with open(self.pfx("small.pfx"), "rb") as f:
            pfx = f.read()

        (tag, top), = der_items(pfx)
        version, auth_safe, mac_data = der_items(top)   # PFX: version, authSafe, macData
        digest, salt, iterations = der_items(mac_data[1])
        self.assertEqual((salt[0], iterations[0]), (0x04, 0x02))
        big = der(0x30, der(*digest) + der(*salt) + der(0x02, b"\x7f\xff\xff\xff"))
        hostile = os.path.join(self.work, "hostile.pfx")
        with open(hostile, "wb") as f:
            f.write(der(0x30, der(*version) + der(*auth_safe) + big))
        r = self.cert("import", hostile, "--password", "secret")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("domsec: %s: it asks for more than 10000000 key-derivation iterations"
                      % hostile, r.stderr)
        self.assertEqual(self.store_files(), [])

    def test_encrypted_key_with_huge_iteration_count_is_refused(self):
        """The same for the PBKDF2 iteration count of an ENCRYPTED PRIVATE KEY."""
        openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "2048", "-in",
                      self.p("partner-ok.key"), "-passout", "pass:secret", "-outform", "DER",
                      "-out", os.path.join(self.work, "enc.der"))
        with open(os.path.join(self.work, "enc.der"), "rb") as f:
            enc = f.read()
        forged = der_set_iterations(enc, 0x7FFFFFFF)
        self.assertNotEqual(forged, enc)
        b64 = base64.b64encode(forged).decode("ascii")
        hostile = os.path.join(self.work, "hostile.pem")
        with open(self.p("partner-ok.pem")) as f, open(hostile, "w") as out:
            out.write(f.read())
            out.write("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
            out.write("".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64)))
            out.write("-----END ENCRYPTED PRIVATE KEY-----\n")
        r = self.cert("import", hostile, "--password", "secret")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("domsec: %s: it asks for more than 10000000 key-derivation iterations"
                      % hostile, r.stderr)
        self.assertEqual(self.store_files(), [])

    def test_key_with_another_keys_public_point_is_refused(self):
        """A P-256 SEC1 key made of key A's private scalar and key B's public point,
        with B's certificate: wolfSSL's own key check passes it, the import must not."""
        der = {}
        for name in ("a", "b"):
            key = os.path.join(self.work, name + ".key")
            openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
            out = os.path.join(self.work, name + ".der")
            openssl("ec", "-in", key, "-outform", "DER", "-out", out)
            with open(out, "rb") as f:
                der[name] = f.read()
        # ECPrivateKey: 30 77 02 01 01 04 20 <scalar> a0 0a <prime256v1> a1 44 03 42 00 04 <X Y>
        for d in der.values():
            self.assertEqual((len(d), d[:7], d[-68:-65]),
                             (121, bytes.fromhex("30770201010420"), bytes.fromhex("034200")))
        forged = der["a"][:-65] + der["b"][-65:]
        cert = os.path.join(self.work, "b.pem")
        openssl("req", "-new", "-x509", "-key", os.path.join(self.work, "b.key"), "-days", "2",
                "-subj", "/CN=" + RELAY, "-addext", "subjectAltName=DNS:" + RELAY,
                "-out", cert)
        pem = os.path.join(self.work, "forged.pem")
        b64 = base64.b64encode(forged).decode("ascii")
        with open(cert) as f, open(pem, "w") as out:
            out.write(f.read())
            out.write("-----BEGIN EC PRIVATE KEY-----\n")
            out.write("".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64)))
            out.write("-----END EC PRIVATE KEY-----\n")
        r = self.cert("import", pem)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("domsec: %s: the EC private key does not match its own public point"
                      % pem, r.stderr)
        self.assertEqual(self.store_files(), [])
        # the same certificate with B's own key imports: the test's key surgery is sound
        with open(cert) as f, open(pem, "w") as out:
            out.write(f.read())
            with open(os.path.join(self.work, "b.key")) as k:
                out.write(k.read())
        self.ok("import", pem)

    # --- 4. renew and remove ----------------------------------------------------------------
    def test_renew_and_remove(self):
        old, _ = self.new("--domain", RELAY, "--domain", "contoso.test", "--key", "ec256",
                          "--days", "30", "--name", "Edge")
        time.sleep(1.1)                 # a later NotBefore: domsecd then prefers the renewal
        out = self.ok("renew", old[:12])
        new = THUMB_RE.search(out).group(1)
        self.assertNotEqual(new, old)
        self.assertIn("renewed %s" % old, out)
        a = self.show(old)
        b = self.show(new)
        for k in ("Subject", "CertificateDomains", "KeyType", "PublicKeySize", "FriendlyName"):
            self.assertEqual(a[k], b[k], k)
        self.assert_matches_openssl(b, os.path.join(self.certs, new + ".pem"))
        self.assertNotEqual(pubkey(os.path.join(self.certs, old + ".key"), False),
                            pubkey(os.path.join(self.certs, new + ".key"), False))
        nb = datetime.datetime.strptime(b["NotBefore"], "%Y-%m-%dT%H:%M:%SZ")
        na = datetime.datetime.strptime(b["NotAfter"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(na - nb, datetime.timedelta(days=30, hours=1))
        self.assertEqual(self.list_rows()[new][0], "SMTP")     # the newest NotBefore wins
        self.assertEqual(self.list_rows()[old][0], "None")

        out = self.ok("remove", old)
        self.assertEqual(out.splitlines()[:3],
                         ["removed %s/%s%s" % (self.certs, old, e)
                          for e in (".pem", ".key", ".meta")])
        self.assertNotIn(old, "".join(self.store_files()))
        r = self.cert("show", old)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no certificate or request %s" % old, r.stderr)

        # a CA-issued certificate is renewed by a new request
        ca = self.ok("import", self.pfx("partner.pfx"), "--password", "secret")
        ca = THUMB_RE.search(ca).group(1)
        req = os.path.join(self.work, "renew.csr")
        out = self.ok("renew", ca, "--out", req)
        self.assertIn("%s is issued by a CA" % ca, out)
        pending = THUMB_RE.search(out).group(1)
        self.assertEqual(self.show(pending)["Status"], "PendingRequest")
        self.assertEqual(openssl("req", "-in", req, "-noout", "-nameopt", NAMEOPT, "-subject"),
                         "subject=%s\n" % self.show(ca)["Subject"])
        out = self.ok("remove", pending)
        self.assertIn("removed %s/request-%s.csr" % (self.certs, pending), out)
        self.assertNotIn("request-", "".join(self.store_files()))

        # a pinned certificate stays without --force
        self.d.write_config(self.d.render_config(
            connectors=[("Inet", {"auth_mechanism": "tls", "fqdn": RELAY,
                                  "tls_certificate": new})], transport=self.transport()))
        before = self.store_files()
        r = self.cert("remove", new)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^domsec: certificate %s is in use by receive connector Inet "
                         r"\(tls_certificate, %s:\d+\): not removed \(use --force to remove it "
                         r"anyway\)\n$" % (new, re.escape(self.d.config_path)))
        self.assertEqual(r.stdout, "")
        self.assertEqual(self.store_files(), before)
        out = self.ok("remove", new, "--force", "--no-reload")
        self.assertIn("removed %s/%s.pem" % (self.certs, new), out)
        self.assertIn("note: removed while in use by receive connector Inet (tls_certificate, "
                      "%s:" % self.d.config_path, out)
        self.assertNotIn(new, "".join(self.store_files()))

    def test_remove_in_use_needs_force(self):
        # In use = what `cert list` shows as Services SMTP (the receive connector presents
        # it, chosen by fqdn) or pinned by tls_certificate (here the send connector Out).
        used, _ = self.new("--domain", RELAY, "--key", "ec256", "--days", "30")
        spare, _ = self.new("--domain", "spare.contoso.test", "--key", "ec256", "--days", "30")
        self.d.write_config(self.d.render_config(
            connectors=[("Inet", {"auth_mechanism": "tls", "fqdn": RELAY})],
            sends=[("Out", {"address_spaces": "*", "dns_routing": "yes",
                            "fqdn": "out.contoso.test", "tls_certificate": used})],
            transport=self.transport()))
        rows = self.list_rows()
        self.assertEqual(rows[used][0], "SMTP")
        self.assertEqual(rows[spare][0], "None")
        self.d.start()
        self.d.wait_log(self.d.prefix() + r"info tls receive connector Inet certificate "
                        r"thumbprint=%s" % used)
        with open(self.d.config_path) as f:
            config = f.read()
        before = self.store_files()
        r = self.cert("remove", used[:10])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stderr, r"^domsec: certificate %s is in use by receive connector Inet, "
                         r"send connector Out \(tls_certificate, %s:\d+\): not removed \(use "
                         r"--force to remove it anyway\)\n$"
                         % (used, re.escape(self.d.config_path)))
        self.assertEqual(r.stdout, "")          # no "reloaded domsecd": nothing signalled
        self.assertEqual(self.store_files(), before)
        with open(self.d.config_path) as f:
            self.assertEqual(f.read(), config)
        # a certificate no connector uses goes without --force
        out = self.ok("remove", spare)
        self.assertIn("removed %s/%s.pem" % (self.certs, spare), out)
        self.assertNotIn("note:", out)
        self.assertIn("reloaded domsecd pid %d" % self.d.pid, out)
        self.d.wait_log(self.d.prefix() + r"info config reloaded path=")
        mark = self.d.log_mark()
        # --force removes it and reloads, as without a user
        out = self.ok("remove", used, "--force")
        self.assertEqual(out.splitlines()[:2], ["removed %s/%s%s" % (self.certs, used, e)
                                                for e in (".pem", ".key")])
        self.assertIn("note: removed while in use by receive connector Inet, send connector Out "
                      "(tls_certificate, %s:" % self.d.config_path, out)
        self.assertIn("reloaded domsecd pid %d" % self.d.pid, out)
        self.assertNotIn(used, "".join(self.store_files()))
        self.d.wait_log(self.d.prefix() + r"info config reloaded path=", since=mark)

    def test_a_refused_reload_is_the_exit_status(self):
        # The store changes, then the daemon refuses the reload (a require_tls connector
        # would be left without a certificate): cert says so and exits 1, as
        # transport-config set does; the daemon keeps its running configuration.
        used, _ = self.new("--domain", RELAY, "--key", "ec256", "--days", "30")
        self.d.write_config(self.d.render_config(
            connectors=[("Inet", {"auth_mechanism": "tls", "fqdn": RELAY,
                                  "require_tls": "yes"})], transport=self.transport()))
        self.d.start()
        self.d.wait_log(self.d.prefix() + r"info tls receive connector Inet certificate "
                        r"thumbprint=%s" % used)
        r = self.cert("remove", used, "--force")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("removed %s/%s.pem" % (self.certs, used), r.stdout)
        self.assertRegex(r.stderr, r"(?m)^%s:\d+: .*\n" % re.escape(self.d.config_path))
        self.assertTrue(r.stderr.endswith(
            "domsec: reload failed; the running configuration is kept\n"), r.stderr)
        self.assertTrue(self.d.running())                    # still running, old config

    # --- 5. bad input ----------------------------------------------------------------------
    def test_expiry_warning_for_a_certificate_in_use(self):
        # SPEC 6.1: the daemon warns (at start, at reload and then daily) from 30 days
        # before the certificate a connector presents expires; not before.
        soon, _ = self.new("--domain", RELAY, "--key", "ec256", "--days", "10")
        self.d.start()
        m = self.d.wait_log(self.d.prefix() + r"warning tls certificate expires soon "
                            r"thumbprint=%s subject=\"CN=%s\" not_after=\S+Z "
                            r"days_left=(\d+) connectors=\"receive Inet[^\"]*\"" % (soon, RELAY))
        self.assertIn(int(m.group(1)), (9, 10))
        self.ok("remove", soon, "--force")     # in use: Services SMTP
        later, _ = self.new("--domain", RELAY, "--key", "ec256", "--days", "60")
        self.d.reload()
        self.d.wait_log(self.d.prefix() + r"info tls receive connector Inet certificate "
                        r"thumbprint=%s" % later)
        self.assertEqual(len(re.findall(r"certificate expires soon", self.d.log())), 1)

    def test_bad_input_changes_nothing(self):
        cases = [
            (("new", "--domain", RELAY, "--key", "dsa1024"), 2, "unknown key type dsa1024"),
            (("new", "--key", "ec256"), 2, "at least one --domain is required"),
            (("new", "--domain", "not a name"), 2, "--domain not a name is not a DNS name"),
            (("new", "--domain", RELAY, "--days", "0"), 2, "--days 0"),
            (("new", "--domain", RELAY, "--subject", "CN=a.test, DC=contoso"), 2,
             "unknown attribute DC"),
            (("request", "--subject", "C=USA, CN=" + RELAY), 2, "two-letter country code"),
            (("request", "--subject", "CN=" + RELAY + ", CN=x"), 2, "CN appears twice"),
            (("request", "--key", "ec256"), 2, "--subject or --domain is required"),
            (("new", "--domain", RELAY, "--password", "x"), 2,
             "--password is not an option of cert new"),
            (("show", "12345"), 2, "is not a thumbprint"),
            (("frobnicate",), 2, "unknown subcommand frobnicate"),
            (("import",), 2, "missing FILE"),
            (("import", "/nonexistent/x.pfx"), 1, "domsec: /nonexistent/x.pfx: No such file"),
            (("show", "0123456789ABCDEF"), 1, "no certificate or request 0123456789ABCDEF"),
        ]
        for argv, status, message in cases:
            with self.subTest(argv=argv):
                r = self.cert(*argv)
                self.assertEqual(r.returncode, status, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(self.certs))       # nothing written, not even the dir
        for sub in ("new", "request", "import", "list", "show", "renew", "remove"):
            r = self.cert(sub, "--help")
            self.assertEqual(r.returncode, 0, sub)
            self.assertIn("domsec [-c FILE] cert %s" % sub, r.stdout)


if __name__ == "__main__":
    unittest.main()
