#!/usr/bin/env python3
"""dsn_check.py FILE... - check DSNs written by relay_dsn_test (DSN_OUT_DIR).

Each file must parse with Python's email package (policy.default) as an
RFC 6522 multipart/report; report-type=delivery-status holding, in order,
text/plain, message/delivery-status (RFC 3464: per-message block, then one
block per recipient with Final-Recipient, Action and Status) and
text/rfc822-headers with the original header fields.  Wire rules: CRLF
only, no line over 998 octets.  Prints one line per file and exits 0 if
all are good, 1 if any is not (naming the file and the problem), 2 on
usage errors.  Standard library only.
"""
import email
import email.parser
import re
import sys
from email import policy

STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
TOP_FIELDS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version")


class Bad(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Bad(why)


def check_wire(data):
    """CRLF only, every line at most 998 octets, ends with CRLF."""
    need(re.search(rb"\r(?!\n)", data) is None, "bare CR")
    need(re.search(rb"(?<!\r)\n", data) is None, "bare LF")
    need(data.endswith(b"\r\n"), "does not end with CRLF")
    for n, line in enumerate(data.split(b"\r\n"), 1):
        need(len(line) <= 998, "line %d is %d octets" % (n, len(line)))


def check_status(part, failure):
    """message/delivery-status: the parser gives a list of header blocks."""
    blocks = part.get_payload()
    need(isinstance(blocks, list), "delivery-status did not parse into blocks")
    need(len(blocks) >= 2, "delivery-status has %d blocks, want >= 2" % len(blocks))
    for b in blocks:
        need(not b.defects, "delivery-status block defects: %r" % b.defects)
    per_msg = blocks[0]
    need(str(per_msg.get("Reporting-MTA", "")).startswith("dns;"),
         "Reporting-MTA missing or not 'dns; ...'")
    need("Final-Recipient" not in per_msg, "per-message block holds Final-Recipient")
    for i, r in enumerate(blocks[1:], 1):
        where = "recipient block %d" % i
        rcpt = str(r.get("Final-Recipient", ""))
        need(re.match(r"^rfc822;\s*\S+@\S+$", rcpt), "%s: Final-Recipient %r" % (where, rcpt))
        action = str(r.get("Action", ""))
        status = str(r.get("Status", ""))
        need(action == ("failed" if failure else "delayed"), "%s: Action %r" % (where, action))
        need(STATUS.match(status), "%s: Status %r" % (where, status))
        need(status[0] in ("45" if failure else "4"),
             "%s: Status %s does not fit Action %s" % (where, status, action))
        if "Remote-MTA" in r:
            need(str(r["Remote-MTA"]).startswith("dns;"), "%s: Remote-MTA" % where)
        if "Diagnostic-Code" in r:
            need(str(r["Diagnostic-Code"]).startswith("smtp;"), "%s: Diagnostic-Code" % where)
    return len(blocks) - 1


def check(data):
    """Return the number of recipients, or raise Bad."""
    check_wire(data)
    msg = email.message_from_bytes(data, policy=policy.default)
    need(not msg.defects, "message defects: %r" % msg.defects)
    for name in TOP_FIELDS:
        need(msg[name] is not None, "no %s: header" % name)
    need(str(msg["Auto-Submitted"]) == "auto-replied", "Auto-Submitted is not auto-replied")
    need(msg.get_content_type() == "multipart/report",
         "content type %s, want multipart/report" % msg.get_content_type())
    need(msg.get_param("report-type") == "delivery-status", "report-type is not delivery-status")
    subject = str(msg["Subject"])
    failure = subject.startswith("Undeliverable: ")
    need(failure or subject.startswith("Delivery delayed: "), "Subject %r" % subject)

    parts = msg.get_payload()
    want = ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    need(isinstance(parts, list) and len(parts) == 3, "want 3 parts")
    got = [p.get_content_type() for p in parts]
    need(got == want, "parts %s, want %s" % (got, want))
    for p in parts:
        need(not p.defects, "%s part defects: %r" % (p.get_content_type(), p.defects))
    need(parts[0].get_content_charset() == "us-ascii", "text part charset is not us-ascii")
    text = parts[0].get_content()
    need(("Delivery has failed" if failure else "has been delayed") in text,
         "text part does not explain the %s" % ("failure" if failure else "delay"))
    need(str(msg["X-Domsec-Original-Queue-Id"]) in text, "text part lacks the queue id")

    n = check_status(parts[1], failure)

    raw = parts[2].get_payload(decode=True) or b""
    orig = email.parser.BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    # Copied as is: defects there are the original sender's (obs-syntax such
    # as "Subject :" is one to Python), so only require header fields.
    need(len(orig.keys()) > 0, "text/rfc822-headers holds no header fields")
    return n


def main(argv):
    if len(argv) < 2:
        print("usage: dsn_check.py FILE...", file=sys.stderr)
        return 2
    bad = 0
    for path in argv[1:]:
        try:
            with open(path, "rb") as f:
                n = check(f.read())
            print("%s: ok (%d recipient%s)" % (path, n, "" if n == 1 else "s"))
        except (Bad, OSError) as e:
            print("%s: BAD: %s" % (path, e))
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
