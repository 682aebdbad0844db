/*
 * loggen.c - write a large, realistic set of domsec logs fast, for
 * bench/logread.sh (never part of the tests).
 *
 *   loggen DIR MEGABYTES
 *
 * Writes DIR/ProtocolLog/SmtpReceive/RECV*.LOG, .../SmtpSend/SEND*.LOG and
 * DIR/MessageTracking/MSGTRK*.LOG in the format and with the rows of
 * docs/LOGS.md "The rows domsec writes": receive sessions from 50 partner
 * domains (most domain-secured, with certificate blocks), send sessions,
 * and their tracking rows, starting 2026-11-01, 10 MB per file.  Rows are
 * formatted into a 1 MiB block and written with one write(2) per block.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (10u << 20)

struct out {
    const char *dir, *prefix, *type, *fields;
    int fd, day, n;
    int maxn[64];                       /* per day: the last N written */
    size_t size, len;
    char buf[1 << 20];
};

static const char pfields[] = "date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context";
static const char tfields[] = "date-time,client-ip,client-hostname,server-ip,server-hostname,"
    "source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,"
    "recipient-status,total-bytes,recipient-count,reference,sender-address,message-info,directionality";

static unsigned long long written;      /* all bytes, headers included */

static void out_flush(struct out *o)
{
    if (o->len && write(o->fd, o->buf, o->len) != (ssize_t)o->len) {
        perror("write");
        exit(1);
    }
    o->len = 0;
}

static void out_open(struct out *o, int day)
{
    char path[1024];

    if (o->fd > 0) {
        out_flush(o);
        close(o->fd);
    }
    o->n = ++o->maxn[day];
    o->day = day;
    snprintf(path, sizeof(path), "%s/%s2026%02d%02d-%d.LOG", o->dir, o->prefix, 11 + (day - 1) / 30,
             (day - 1) % 30 + 1, o->n);
    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o->fd < 0) {
        perror(path);
        exit(1);
    }
    o->len = (size_t)snprintf(o->buf, sizeof(o->buf),
                              "\xEF\xBB\xBF#Software: domsec\r\n#Version: 0.1.0\r\n#Log-type: %s\r\n"
                              "#Date: 2026-%02d-%02dT00:00:00.000Z\r\n#Fields: %s\r\n",
                              o->type, 11 + (day - 1) / 30, (day - 1) % 30 + 1, o->fields);
    o->size = o->len;
    written += o->len;
}

static void out_row(struct out *o, int day, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void out_row(struct out *o, int day, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->fd <= 0 || day != o->day || o->size > FILE_MAX)
        out_open(o, day);
    if (sizeof(o->buf) - o->len < 4096)
        out_flush(o);
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
    o->size += (size_t)n;
    written += (size_t)n;
}

static struct out recv_o, send_o, trk_o;

int main(int argc, char **argv)
{
    char d1[1024], d2[1024], d3[1024];
    unsigned long long want, total = 0, sid = 0x08DF486E9B5C0000ull;
    unsigned long sess = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: loggen DIR MEGABYTES\n");
        return 2;
    }
    want = strtoull(argv[2], NULL, 10) << 20;
    snprintf(d1, sizeof(d1), "%s/ProtocolLog", argv[1]);
    mkdir(argv[1], 0755), mkdir(d1, 0755);
    snprintf(d1, sizeof(d1), "%s/ProtocolLog/SmtpReceive", argv[1]);
    snprintf(d2, sizeof(d2), "%s/ProtocolLog/SmtpSend", argv[1]);
    snprintf(d3, sizeof(d3), "%s/MessageTracking", argv[1]);
    mkdir(d1, 0755), mkdir(d2, 0755), mkdir(d3, 0755);
    recv_o = (struct out){ .dir = d1, .prefix = "RECV", .type = "SMTP Receive Protocol Log", .fields = pfields };
    send_o = (struct out){ .dir = d2, .prefix = "SEND", .type = "SMTP Send Protocol Log", .fields = pfields };
    trk_o = (struct out){ .dir = d3, .prefix = "MSGTRK", .type = "Message Tracking Log", .fields = tfields };

    while (total < want) {
        unsigned long s = sess++;
        int day = 1 + (int)(s / 20000) % 58;   /* past 58 days: wraps, files grow as -N */
        int hh = (int)(s / 834) % 24, mm = (int)(s / 14) % 60, ss = (int)s % 60;
        int p = (int)(s % 50);
        int secured = s % 17 != 0;
        char ts[32], dom[32];
        int seq = 0;
        unsigned long long id = ++sid;

        snprintf(ts, sizeof(ts), "2026-%02d-%02dT%02d:%02d:%02d", 11 + (day - 1) / 30, (day - 1) % 30 + 1, hh, mm, ss);
        snprintf(dom, sizeof(dom), "partner%02d.example", p);
#define RR(ms, ev, data, ctx) out_row(&recv_o, day, "%s.%03dZ,MX\\Inet,%016llX,%d,192.0.2.10:25,198.51.100.%d:%d,%s,%s,%s\r\n", \
                                      ts, ms, id, seq++, p + 1, 40000 + (int)(s % 20000), ev, data, ctx)
        RR(0, "+", "", "");
        RR(1, ">", "220 mx.contoso.test Microsoft ESMTP MAIL Service ready", "");
        RR(2, "<", "EHLO mail.partner.example", "");
        RR(3, ">", "250-mx.contoso.test Hello [198.51.100.7]", "");
        RR(3, ">", "250-SIZE 37748736", "");
        RR(3, ">", "250-PIPELINING", "");
        RR(3, ">", "250 STARTTLS", "");
        RR(4, "<", "STARTTLS", "");
        RR(5, ">", "220 2.0.0 SMTP server ready", "");
        RR(9, "*", "", "Sending certificate");
        RR(9, "*", "\"CN=mx.contoso.test, O=Contoso, C=US\"", "Certificate subject");
        RR(9, "*", "\"CN=Contoso CA, O=Contoso\"", "Certificate issuer name");
        RR(9, "*", "0A1B2C3D4E5F", "Certificate serial number");
        RR(9, "*", "352D244A535D94B576232ECC4A4000CFE06BE106", "Certificate thumbprint");
        RR(9, "*", "mx.contoso.test;contoso.test", "Certificate alternate names");
        RR(9, "*", "2026-01-01T00:00:00Z", "Certificate not before");
        RR(9, "*", "2027-01-01T00:00:00Z", "Certificate not after");
        RR(10, "*", "", "\"TLS protocol SP_PROT_TLS1_3_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits\"");
        if (secured) {
            char subj[96], th[48];

            snprintf(subj, sizeof(subj), "\"CN=mx.%s, O=Partner %d\"", dom, p);
            snprintf(th, sizeof(th), "%040d", p + (day > 40 && p == 3 ? 1000 : 0));
            RR(11, "*", "", "Received certificate");
            RR(11, "*", subj, "Certificate subject");
            RR(11, "*", "\"CN=Partner CA, O=Partners\"", "Certificate issuer name");
            RR(11, "*", "01", "Certificate serial number");
            RR(11, "*", th, "Certificate thumbprint");
            RR(11, "*", dom, "Certificate alternate names");
            RR(11, "*", "2026-01-01T00:00:00Z", "Certificate not before");
            RR(11, "*", p == 7 ? "2027-01-10T00:00:00Z" : "2028-01-01T00:00:00Z", "Certificate not after");
            RR(11, "*", "Valid", "Chain validation status");
        }
        RR(20, "<", "EHLO mail.partner.example", "");
        RR(21, ">", "250-mx.contoso.test Hello [198.51.100.7]", "");
        RR(21, ">", "250 SIZE 37748736", "");
        {
            char mf[96], v[160];

            snprintf(mf, sizeof(mf), "MAIL FROM:<user%lu@%s> SIZE=4096", s % 1000, dom);
            RR(30, "<", mf, "");
            snprintf(v, sizeof(v), "Message from secure domain '%s' on receive connector 'Inet' was domain-secured", dom);
            if (secured)
                RR(30, "*", dom, v);
        }
        RR(31, ">", "250 2.1.0 Sender OK", "");
        RR(40, "<", "RCPT TO:<someone@contoso.test>", "");
        RR(41, ">", "250 2.1.5 Recipient OK", "");
        RR(50, "<", "DATA", "");
        RR(51, ">", "354 Start mail input; end with <CRLF>.<CRLF>", "");
        {
            char ref[64];

            snprintf(ref, sizeof(ref), "%016llX;%s.000Z;1", id, ts);
            RR(90, "*", ref, "receiving message");
            RR(91, ">", "250 2.6.0 <m@partner> [InternalId=0123456789ABCDEF] Queued mail for delivery", "");
            RR(95, "<", "QUIT", "");
            RR(96, ">", "221 2.0.0 Service closing transmission channel", "");
            RR(96, "-", "", "QuitVerb");
            out_row(&trk_o, day, "%s.097Z,198.51.100.%d,mail.%s,192.0.2.10,mx.contoso.test,%s,MX\\Inet,SMTP,RECEIVE,%016llX,<%lu@%s>,someone@contoso.test,,4096,1,,user%lu@%s,%s%s,Incoming\r\n",
                    ts, p + 1, dom, ref, id, s, dom, s % 1000, dom, secured ? "02P:" : "", secured ? dom : "");
        }
        if (s % 3 == 0) {               /* an outbound message to the partner */
            unsigned long long oid = ++sid;
            char v[160], rc[96];

            seq = 0;
#define SR(ms, ev, data, ctx) out_row(&send_o, day, "%s.%03dZ,Internet,%016llX,%d,192.0.2.10:5%04d,203.0.113.%d:25,%s,%s,%s\r\n", \
                                      ts, ms, oid, seq++, (int)(s % 10000), p + 1, ev, data, ctx)
            SR(100, "*", "", "attempting to connect");
            SR(101, "+", "", "");
            SR(110, "<", "220 mx.partner ESMTP", "");
            SR(111, ">", "EHLO mx.contoso.test", "");
            SR(112, "<", "250 STARTTLS", "");
            SR(113, ">", "STARTTLS", "");
            SR(114, "<", "220 2.0.0 ready", "");
            SR(120, "*", "", "\"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 384 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits\"");
            SR(120, "*", "", "Remote certificate");
            SR(120, "*", "CN=mx.partner", "Certificate subject");
            SR(120, "*", "0000000000000000000000000000000000000042", "Certificate thumbprint");
            snprintf(v, sizeof(v), "Message to secure domain '%s' on send connector 'Internet' was domain-secured", dom);
            SR(121, "*", dom, v);
            SR(122, "*", "", "sending message with RecordId 0123456789ABCDEF and InternetMessageId <x@contoso.test>");
            SR(123, ">", "MAIL FROM:<someone@contoso.test> SIZE=2048", "");
            snprintf(rc, sizeof(rc), "RCPT TO:<user@%s>", dom);
            SR(123, ">", rc, "");
            SR(130, "<", "250 2.1.0 Sender OK", "");
            SR(131, "<", "250 2.1.5 Recipient OK", "");
            SR(140, ">", "QUIT", "");
            SR(141, "-", "", "Local");
            out_row(&trk_o, day, "%s.142Z,192.0.2.10,mx.contoso.test,203.0.113.%d,mx.%s,%016llX;250 2.6.0 Queued,Internet,SMTP,SEND,%016llX,<x@contoso.test>,user@%s,250 2.1.5 Recipient OK,2048,1,,someone@contoso.test,02P:%s,Originating\r\n",
                    ts, p + 1, dom, oid, oid, dom, dom);
        }
        total = written;
    }
    out_flush(&recv_o), out_flush(&send_o), out_flush(&trk_o);
    printf("%llu bytes, %lu receive sessions\n", total, sess);
    return 0;
}
