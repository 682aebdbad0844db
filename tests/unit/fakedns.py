# fakedns.py PORT - a DNS server on 127.0.0.1:PORT (UDP) for dns_mx_test.
# A query name starting with "timeout" gets no answer, one starting with
# "servfail" gets SERVFAIL, any other REFUSED.  Runs until killed.
import socket
import struct
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', int(sys.argv[1])))
while True:
    d, a = s.recvfrom(4096)
    try:
        qid, flags, qd = struct.unpack('!HHH', d[:6])
        i, labels = 12, []
        while d[i]:
            labels.append(d[i + 1:i + 1 + d[i]].decode('ascii', 'replace'))
            i += 1 + d[i]
        q = d[12:i + 5]                 # question: name, type, class
    except (IndexError, struct.error):
        continue
    name = '.'.join(labels).lower()
    if name.startswith('timeout'):
        continue
    rcode = 2 if name.startswith('servfail') else 5
    s.sendto(struct.pack('!HHHHHH', qid, 0x8180 | rcode, 1, 0, 0, 0) + q, a)
