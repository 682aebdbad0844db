#!/usr/bin/env python3
"""logcheck.py - validate domsec's Exchange-format logs (docs/LOGS.md).

usage: logcheck.py [--partial] [-q] PATH...

PATH is a log file or a directory (searched recursively for RECV*/SEND*/MSGTRK*
.LOG files).  Checks, per file: UTF-8 BOM; CRLF line ends and no other CR or LF;
the five header lines exactly once, at the top (#Software, #Version, #Log-type,
#Date in yyyy-MM-ddTHH:mm:ss.fffZ, #Fields matching the log type); the file
name against the log type; every row parsed as CSV with Exchange's quoting (a
field is quoted only if it holds ',' or '"', with '"' doubled inside) and with
as many fields as #Fields.

Protocol logs (SMTP Receive/Send Protocol Log): date-time format, connector-id
present, session-id 16 uppercase hex digits, sequence-number starting at 0
(unless --partial: logs whose start was deleted) and increasing by exactly 1
per session across the files of one directory in name order, a session id never
in both Receive and Send logs, event one of + - > < *, '+' rows with empty data
and context, '-' rows with a reason, endpoints ip:port or [v6]:port.

Message tracking log: date-time, event-id and source from the known sets,
numeric total-bytes and recipient-count, recipient-count equal to the number
of ';'-separated recipient-address members (and recipient-status members when
present), message-info empty or security info like 02P:domain.

Exit status 0 when everything is valid, 1 otherwise; each problem is printed as
FILE:LINE: message.
"""
import os
import re
import sys

PROTO_FIELDS = ("date-time,connector-id,session-id,sequence-number,local-endpoint,"
                "remote-endpoint,event,data,context")
TRACK_FIELDS = ("date-time,client-ip,client-hostname,server-ip,server-hostname,"
                "source-context,connector-id,source,event-id,internal-message-id,message-id,"
                "recipient-address,recipient-status,total-bytes,recipient-count,reference,"
                "sender-address,message-info,directionality")
LOG_TYPES = {
    b"SMTP Receive Protocol Log": ("RECV", PROTO_FIELDS),
    b"SMTP Send Protocol Log": ("SEND", PROTO_FIELDS),
    b"Message Tracking Log": ("MSGTRK", TRACK_FIELDS),
}
BOM = b"\xef\xbb\xbf"
TIME_RE = re.compile(rb"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$")
SID_RE = re.compile(rb"^[0-9A-F]{16}$")
SEQ_RE = re.compile(rb"^(0|[1-9]\d*)$")
NUM_RE = SEQ_RE
ENDPOINT_RE = re.compile(rb"^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.%A-Za-z0-9]+\]):\d{1,5}$")
NAME_RE = re.compile(r"^(RECV|SEND|MSGTRK)(\d{8})-([1-9]\d*)\.LOG$")
SECINFO_RE = re.compile(rb"^[0-9a-f]{2}[A-Z]:")
TRACK_EVENTS = {b"RECEIVE", b"SEND", b"DEFER", b"FAIL", b"DSN", b"EXPIRE",
                b"SUSPEND", b"RESUME", b"DELETE", b"BADMAIL", b"CONFIG"}
TRACK_SOURCES = {b"SMTP", b"QUEUE", b"ROUTING", b"DSN", b"ADMIN"}
DIRECTIONS = {b"", b"Incoming", b"Originating"}


class Checker:
    def __init__(self, partial, quiet):
        self.partial = partial
        self.quiet = quiet
        self.errors = 0
        self.rows = 0
        self.files = 0
        self.next_seq = {}          # (directory, sid) -> next expected sequence number
        self.sid_type = {}          # sid -> b"RECV" / b"SEND"

    def err(self, path, line, msg):
        self.errors += 1
        if self.errors <= 200:
            print("%s:%d: %s" % (path, line, msg))

    # -- CSV with Exchange's quoting -------------------------------------------------
    def parse_row(self, path, lno, line):
        fields, i, n = [], 0, len(line)
        while True:
            if i < n and line[i:i + 1] == b'"':
                j, buf = i + 1, bytearray()
                while True:
                    k = line.find(b'"', j)
                    if k < 0:
                        self.err(path, lno, "unterminated quoted field")
                        return None
                    buf += line[j:k]
                    if line[k + 1:k + 2] == b'"':
                        buf += b'"'
                        j = k + 2
                        continue
                    i = k + 1
                    break
                if b"," not in buf and b'"' not in buf:
                    self.err(path, lno, "field quoted without need: %r" % bytes(buf[:40]))
                fields.append(bytes(buf))
                if i < n and line[i:i + 1] != b",":
                    self.err(path, lno, "text after a closing quote")
                    return None
            else:
                k = line.find(b",", i)
                k = n if k < 0 else k
                raw = line[i:k]
                if b'"' in raw:
                    self.err(path, lno, "unquoted field holds a quote: %r" % raw[:40])
                fields.append(raw)
                i = k
            if i >= n:
                return fields
            i += 1                              # the comma
            if i == n:
                fields.append(b"")
                return fields

    @staticmethod
    def members(value):
        """Split a ';'-list, members wrapped in ' with '' doubled when needed."""
        if value == b"":
            return []
        out, i, n = [], 0, len(value)
        while i <= n:
            if value[i:i + 1] == b"'":
                j, buf = i + 1, bytearray()
                while True:
                    k = value.find(b"'", j)
                    if k < 0:
                        return None
                    buf += value[j:k]
                    if value[k + 1:k + 2] == b"'":
                        buf += b"'"
                        j = k + 2
                        continue
                    i = k + 1
                    break
                out.append(bytes(buf))
                if i < n and value[i:i + 1] != b";":
                    return None
            else:
                k = value.find(b";", i)
                k = n if k < 0 else k
                out.append(value[i:k])
                i = k
            if i >= n:
                return out
            i += 1

    # -- one file -----------------------------------------------------------------
    def check_file(self, path):
        self.files += 1
        with open(path, "rb") as f:
            data = f.read()
        if not data.startswith(BOM):
            self.err(path, 1, "no UTF-8 BOM")
            return
        data = data[len(BOM):]
        if not data.endswith(b"\r\n"):
            self.err(path, data.count(b"\n") + 1, "last line does not end in CRLF")
        lines = data.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for lno, line in enumerate(lines, 1):
            if b"\r" in line or b"\n" in line:
                self.err(path, lno, "bare CR or LF (rows end in CRLF; CR/LF in a field is \\r/\\n)")
        heads = [b"#Software: ", b"#Version: ", b"#Log-type: ", b"#Date: ", b"#Fields: "]
        if len(lines) < 5:
            self.err(path, 1, "header incomplete")
            return
        for lno, (line, h) in enumerate(zip(lines, heads), 1):
            if not line.startswith(h) or len(line) == len(h):
                self.err(path, lno, "expected header line %r" % h.decode())
                return
        ltype = lines[2][len(heads[2]):]
        if ltype not in LOG_TYPES:
            self.err(path, 3, "unknown log type %r" % ltype)
            return
        prefix, fields = LOG_TYPES[ltype]
        if not TIME_RE.match(lines[3][len(heads[3]):]):
            self.err(path, 4, "bad #Date %r" % lines[3])
        if lines[4][len(heads[4]):] != fields.encode():
            self.err(path, 5, "#Fields do not match %s" % ltype.decode())
        nfields = fields.count(",") + 1
        m = NAME_RE.match(os.path.basename(path))
        if m and m.group(1) != prefix:
            self.err(path, 0, "file name prefix %s but log type %s" % (m.group(1), ltype.decode()))
        directory = os.path.dirname(os.path.abspath(path))
        for lno, line in enumerate(lines[5:], 6):
            if line.startswith(b"#"):
                self.err(path, lno, "header line after the header (one header per file)")
                continue
            row = self.parse_row(path, lno, line)
            if row is None:
                continue
            self.rows += 1
            if len(row) != nfields:
                self.err(path, lno, "%d fields, expected %d" % (len(row), nfields))
                continue
            if not TIME_RE.match(row[0]):
                self.err(path, lno, "bad date-time %r" % row[0])
            if prefix == "MSGTRK":
                self.check_track(path, lno, row)
            else:
                self.check_proto(path, lno, row, prefix, directory)

    def check_proto(self, path, lno, row, prefix, directory):
        _, conn, sid, seq, local, remote, ev, data, ctx = row
        if conn == b"":
            self.err(path, lno, "empty connector-id")
        if not SID_RE.match(sid):
            self.err(path, lno, "bad session-id %r" % sid)
        if ev not in (b"+", b"-", b">", b"<", b"*"):
            self.err(path, lno, "bad event %r" % ev)
        if ev == b"+" and (data or ctx):
            self.err(path, lno, "'+' row with data or context")
        if ev == b"-" and not ctx:
            self.err(path, lno, "'-' row without a reason")
        for name, ep in ((b"local", local), (b"remote", remote)):
            if ep and not ENDPOINT_RE.match(ep):
                self.err(path, lno, "bad %s-endpoint %r" % (name.decode(), ep))
        other = self.sid_type.setdefault(sid, prefix)
        if other != prefix:
            self.err(path, lno, "session-id %s in both %s and %s logs" % (sid.decode(), other, prefix))
        if not SEQ_RE.match(seq):
            self.err(path, lno, "bad sequence-number %r" % seq)
            return
        key = (directory, sid)
        n = int(seq)
        want = self.next_seq.get(key)
        if want is None:
            if n != 0 and not self.partial:
                self.err(path, lno, "session %s starts at sequence %d, not 0" % (sid.decode(), n))
        elif n != want:
            self.err(path, lno, "session %s: sequence %d, expected %d" % (sid.decode(), n, want))
        self.next_seq[key] = n + 1

    def check_track(self, path, lno, row):
        (_, cip, chost, sip, shost, sctx, conn, source, event, iid, mid, rcpts, rstat,
         size, count, ref, sender, info, direction) = row
        if event not in TRACK_EVENTS:
            self.err(path, lno, "bad event-id %r" % event)
        if source not in TRACK_SOURCES:
            self.err(path, lno, "bad source %r" % source)
        if not NUM_RE.match(size):
            self.err(path, lno, "bad total-bytes %r" % size)
        if not NUM_RE.match(count):
            self.err(path, lno, "bad recipient-count %r" % count)
            return
        r = self.members(rcpts)
        if r is None or len(r) != int(count):
            self.err(path, lno, "recipient-count %s but recipients %r" % (count.decode(), rcpts[:60]))
        if rstat:
            s = self.members(rstat)
            if s is None or len(s) != int(count):
                self.err(path, lno, "recipient-status does not have %s members" % count.decode())
        if info and not SECINFO_RE.match(info):
            self.err(path, lno, "bad message-info (security info) %r" % info)
        if direction not in DIRECTIONS:
            self.err(path, lno, "bad directionality %r" % direction)


def sort_key(path):
    m = NAME_RE.match(os.path.basename(path))
    if not m:
        return (os.path.dirname(path), "", 0, os.path.basename(path))
    return (os.path.dirname(path), m.group(2), int(m.group(3)), "")


def main(argv):
    args = [a for a in argv if not a.startswith("-")]
    opts = {a for a in argv if a.startswith("-")}
    unknown = opts - {"--partial", "-q"}
    if unknown or not args:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    files = []
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                files += [os.path.join(root, n) for n in names if NAME_RE.match(n)]
        else:
            files.append(a)
    c = Checker("--partial" in opts, "-q" in opts)
    for f in sorted(files, key=sort_key):
        c.check_file(f)
    if c.errors:
        print("logcheck: %d problem(s) in %d file(s)" % (c.errors, c.files))
        return 1
    if not c.quiet:
        print("logcheck: ok, %d file(s), %d row(s)" % (c.files, c.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
