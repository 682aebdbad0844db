"""The crypto limit of this machine: mutual-TLS handshakes per CPU second if the
relay's CPU went only to a handshake's public-key operations at OpenSSL's speed.

What one handshake costs a side (docs/PROFILE.md, calls differenced under callgrind,
the same on the inbound leg, where domsec is the server, and the outbound leg, where
it is the client): 1 ECDHE key generation, 1 ECDH, 1 ECDSA P-256 sign (its
CertificateVerify) and 3 ECDSA P-256 verifies (the peer's leaf and intermediate
signatures and its CertificateVerify).  CRL signatures are not verified per
handshake (domsec memoizes the CRL issuer links; a lookup is a table search).
The group is X25519: both smtp_load and domsec's client offer it first.
`openssl speed` times the operations in CPU seconds (no -elapsed), the unit of
"per relay CPU second"; it has no separate key-generation figure, so a key
generation is counted as one more X25519 operation (a fixed-base scalar
multiplication, no dearer than the variable-base one).
"""

import re
import subprocess

SPEED_CMD = ["openssl", "speed", "-seconds", "2", "ecdhx25519", "ecdhp256", "ecdsap256"]


def openssl_speed(timeout=120):
    """{x25519, p256, sign, verify}: operations per CPU second, or {} when openssl
    is missing or its output is not understood."""
    try:
        out = subprocess.run(SPEED_CMD, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=timeout).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    r = {}
    for line in out.splitlines():
        m = re.match(r"\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            r["sign"], r["verify"] = float(m.group(1)), float(m.group(2))
        m = re.match(r"\s*\d+ bits ecdh \((nistp256|X25519)\)\s+\S+\s+([\d.]+)", line)
        if m:
            r["p256" if m.group(1) == "nistp256" else "x25519"] = float(m.group(2))
    return r if len(r) == 4 else {}


def crypto_limit(speed):
    """(handshakes per CPU second, microseconds per handshake, formula text)."""
    us = {k: 1e6 / v for k, v in speed.items()}
    per = 2 * us["x25519"] + us["sign"] + 3 * us["verify"]
    text = ("crypto per mutual-TLS handshake and side = 2 x X25519 (key generation + shared "
            "secret) + 1 ECDSA P-256 sign + 3 ECDSA P-256 verifies = 2 x %.1f + %.1f + 3 x %.1f "
            "= %.1f us -> limit %.0f handshakes per CPU second (`%s`, CPU time; with P-256 "
            "ECDHE instead: %.0f)" % (us["x25519"], us["sign"], us["verify"], per, 1e6 / per,
                                      " ".join(SPEED_CMD),
                                      1e6 / (2 * us["p256"] + us["sign"] + 3 * us["verify"])))
    return 1e6 / per, per, text
