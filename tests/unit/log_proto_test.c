/*
 * log_proto_test.c - the protocol log writer and the engine under it:
 * CSV escaping, golden Receive and Send sessions (byte for byte against
 * tests/golden/), line splitting, level none, rotation by size and by UTC
 * day, restart appending, retention by directory size and age (at start,
 * after rotation, hourly), concurrency, the flush timer, a stuck disk
 * (bounded queue, counted drops and diagnostics), and tests/logcheck.py on
 * good and broken files.
 *
 * DOMSEC_GOLDEN_UPDATE=1 rewrites the golden files from this run (then read
 * them!).  DOMSEC_LOG_BENCH=1 also measures rows/s on one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "log_file.h"
#include "log_proto.h"

#define BASE_MS   1795334400000ULL      /* 2026-11-22T08:00:00.000Z */
#define DAY_MS    86400000ULL
#define SID_RECV  0x08DF486E9B5C0001ULL
#define SID_SEND  0x08DF486E9B5C0002ULL

#define LOG_TEST_NAME "log_proto_test"
#include "log_test_util.h"

/* ---- helpers --------------------------------------------------------------- */

static struct log_proto *open_writer(enum log_proto_dir dir, uint64_t max_file,
                                     uint64_t max_dir, uint64_t max_age, unsigned flush_ms)
{
    struct log_proto_props pr = {
        .directory = tmpdir, .max_file_size = max_file, .max_directory_size = max_dir,
        .max_age_ms = max_age, .version = "0.1.0", .flush_interval_ms = flush_ms,
        .clock = fake_clock,
    };
    struct log_proto *lp = log_proto_open(dir, &pr);

    assert_non_null(lp);
    return lp;
}

static void recv_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/ProtocolLog/SmtpReceive/%s", tmpdir, name);
}

/* compare_golden - a produced file against tests/golden/NAME, byte for byte */

static void compare_golden(const char *produced, const char *name)
{
    char gpath[768];
    size_t plen, glen, i;
    char *p = slurp(produced, &plen), *g;

    assert_non_null(p);
    snprintf(gpath, sizeof(gpath), "%s/tests/golden/%s", srcdir(), name);
    if (getenv("DOMSEC_GOLDEN_UPDATE"))
        spit(gpath, p, plen);
    g = slurp(gpath, &glen);
    assert_non_null(g);
    for (i = 0; i < plen && i < glen && p[i] == g[i]; i++)
        ;
    if (i != plen || i != glen) {
        size_t line = 1;

        for (size_t k = 0; k < i; k++)
            line += g[k] == '\n';
        fail_msg("%s differs from %s at byte %zu (line %zu)", produced, gpath, i, line);
    }
    free(p);
    free(g);
}

/* count_str - occurrences of a string */

static int count_str(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- CSV and helpers ----------------------------------------------------------- */

static const struct {
    const char *in, *out;
} csv_cases[] = {
    { "plain text", "plain text" },
    { "", "" },
    { "a,b", "\"a,b\"" },
    { "say \"hi\"", "\"say \"\"hi\"\"\"" },
    { "\"", "\"\"\"\"" },
    { "two\r\nlines", "two\\r\\nlines" },       /* a line break alone: no quotes */
    { "bare\nlf", "bare\\nlf" },
    { "cr\r", "cr\\r" },
    { "a,\nb", "\"a,\\nb\"" },
    { "semi;colon 'q'", "semi;colon 'q'" },
    { "caf\xc3\xa9 \xff", "caf\xc3\xa9 \xff" },   /* bytes pass through */
};

static void test_csv_field(void **state)
{
    for (size_t i = 0; i < sizeof(csv_cases) / sizeof(csv_cases[0]); i++) {
        char out[128];
        size_t n = log_csv_field(out, csv_cases[i].in, strlen(csv_cases[i].in));

        assert_true(n <= LOG_CSV_FIELD_MAX(strlen(csv_cases[i].in)));
        out[n] = '\0';
        assert_string_equal(out, csv_cases[i].out);
    }
}

static void test_csv_member_and_time(void **state)
{
    static const struct { const char *in, *out; } m[] = {
        { "a@b.example", "a@b.example" },
        { "\"x;y\"@b.example", "'\"x;y\"@b.example'" },
        { "o'neil@b.example", "'o''neil@b.example'" },
        { "l1\r\nl2", "l1\\r\\nl2" },
    };
    char out[64];

    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        size_t n = log_csv_member(out, m[i].in, strlen(m[i].in));

        out[n] = '\0';
        assert_string_equal(out, m[i].out);
    }
    assert_int_equal(log_csv_time(0, out), LOG_TIME_LEN);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    log_csv_time(1795341600123ULL, out);
    assert_string_equal(out, "2026-11-22T10:00:00.123Z");
    log_csv_time(1795341600009ULL, out);        /* same second, cached */
    assert_string_equal(out, "2026-11-22T10:00:00.009Z");
    log_csv_time(BASE_MS + 16 * 3600000ULL - 1, out);
    assert_string_equal(out, "2026-11-22T23:59:59.999Z");
}

static void test_helpers(void **state)
{
    struct log_proto_session s;
    char buf[LOG_PROTO_MSGREF_MAX];
    uint64_t a, b;

    log_proto_connector_id(buf, sizeof(buf), "MAIL", "Default Frontend MAIL");
    assert_string_equal(buf, "MAIL\\Default Frontend MAIL");
    assert_string_equal(log_proto_reason_name(LOG_PROTO_R_QUIT), "QuitVerb");
    assert_string_equal(log_proto_reason_name(LOG_PROTO_R_TOO_MANY_ERRORS), "TooManyErrors");
    a = log_proto_session_id();
    b = log_proto_session_id();
    assert_true(b == a + 1);                    /* one counter (log.c), both directions */
    /* A session without a writer still yields its message reference. */
    log_proto_session_init(&s, NULL, "x", 0x08D06729BA48D0CAULL);
    s.start_ms = 1381840363248ULL;
    log_proto_msgref(&s, 1, buf);
    assert_string_equal(buf, "08D06729BA48D0CA;2013-10-15T12:32:43.248Z;1");
}

/* ---- golden sessions ----------------------------------------------------------- */

#define S(str) str, sizeof(str) - 1

static void script_receive(struct log_proto *lp)
{
    struct log_proto_session s;
    char conn[LOG_PROTO_CONNECTOR_MAX], ref[LOG_PROTO_MSGREF_MAX];

    at(0);
    log_proto_connector_id(conn, sizeof(conn), "MAIL", "Inet");
    log_proto_session_init(&s, lp, conn, SID_RECV);
    log_proto_session_set_local(&s, "192.0.2.10:25");
    log_proto_session_set_remote(&s, "198.51.100.7:49152");
    log_proto_connect(&s);
    at(1);
    log_proto_sent(&s, S("220 mail.contoso.com domsec ESMTP service ready\r\n"));
    at(12);
    log_proto_received(&s, S("EHLO mail.woodgrovebank.com"));
    at(13);
    log_proto_sent(&s, S("250-mail.contoso.com Hello [198.51.100.7]\r\n250-SIZE 37748736\r\n"
                         "250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                         "250 STARTTLS\r\n"));
    at(25);
    log_proto_received(&s, S("STARTTLS"));
    at(26);
    log_proto_sent(&s, S("220 2.0.0 SMTP server ready\r\n"));
    at(31);
    log_proto_info(&s, NULL, "Sending certificate");
    log_proto_info(&s, "CN=mail.contoso.com, O=Contoso, C=US", "Certificate subject");
    log_proto_info(&s, "CN=Contoso \"Issuing\" CA, O=Contoso", "Certificate issuer name");
    log_proto_info(&s, "0A1B2C3D4E5F", "Certificate serial number");
    log_proto_info(&s, "352D244A535D94B576232ECC4A4000CFE06BE106", "Certificate thumbprint");
    log_proto_info(&s, "mail.contoso.com;contoso.com", "Certificate alternate names");
    at(48);
    log_proto_info(&s, NULL, "Received certificate");
    log_proto_info(&s, "9F8E7D6C5B4A39281706F5E4D3C2B1A098765432", "Certificate thumbprint");
    log_proto_info(&s, NULL, "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using "
                   "bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash "
                   "algorithm CALG_SHA_384 with strength 384 bits and key exchange algorithm "
                   "CALG_ECDH_EPHEM with strength 256 bits");
    at(60);
    log_proto_received(&s, S("EHLO mail.woodgrovebank.com"));
    at(61);
    log_proto_sent(&s, S("250-mail.contoso.com Hello [198.51.100.7]\r\n250-SIZE 37748736\r\n"
                         "250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"));
    at(70);
    log_proto_received(&s, S("MAIL FROM:<alice@woodgrovebank.com> SIZE=2048"));
    at(71);
    log_proto_receiving_message(&s, 1, ref);
    assert_string_equal(ref, "08DF486E9B5C0001;2026-11-22T08:00:00.000Z;1");
    log_proto_sent(&s, S("250 2.1.0 Sender OK\r\n"));
    at(80);
    log_proto_received(&s, S("RCPT TO:<bob@contoso.com>"));
    log_proto_sent(&s, S("250 2.1.5 Recipient OK\r\n"));
    at(90);
    log_proto_received(&s, S("DATA"));
    log_proto_sent(&s, S("354 Start mail input; end with <CRLF>.<CRLF>\r\n"));
    at(95);
    /* Escaping: a bare LF and CR inside data, a quote, a comma, a newline in context. */
    log_proto_received(&s, S("X-Odd: a\nb\rc \"d\", e"));
    log_proto_info(&s, "queued", "line one\nline two, with comma");
    at(120);
    log_proto_sent(&s, S("250 2.6.0 <0A1B2C3D@mail.woodgrovebank.com> "
                         "[InternalId=0123456789ABCDEF] Queued mail for delivery\r\n"));
    at(130);
    log_proto_received(&s, S("QUIT"));
    log_proto_sent(&s, S("221 2.0.0 Service closing transmission channel\r\n"));
    at(131);
    log_proto_disconnect(&s, LOG_PROTO_R_QUIT, NULL);
    assert_int_equal(s.seq, 39);
}

static void script_send(struct log_proto *lp)
{
    struct log_proto_session s;

    at(2000);
    log_proto_session_init(&s, lp, "Internet", SID_SEND);
    log_proto_session_set_remote(&s, "203.0.113.25:25");
    log_proto_info(&s, NULL, "attempting to connect");
    at(2004);
    log_proto_session_set_local(&s, "192.0.2.10:50123");
    log_proto_connect(&s);
    at(2020);
    log_proto_received(&s, S("220 mx.woodgrovebank.com ESMTP ready\r\n"));
    log_proto_sent(&s, S("EHLO mail.contoso.com\r\n"));
    at(2031);
    log_proto_received(&s, S("250-mx.woodgrovebank.com\r\n250-SIZE 52428800\r\n"
                             "250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n"));
    log_proto_sent(&s, S("STARTTLS\r\n"));
    at(2040);
    log_proto_received(&s, S("220 2.0.0 SMTP server ready\r\n"));
    at(2055);
    log_proto_info(&s, NULL, "Sending certificate");
    log_proto_info(&s, "CN=mail.contoso.com, O=Contoso, C=US", "Certificate subject");
    log_proto_info(&s, "CN=Contoso \"Issuing\" CA, O=Contoso", "Certificate issuer name");
    log_proto_info(&s, "0A1B2C3D4E5F", "Certificate serial number");
    log_proto_info(&s, "352D244A535D94B576232ECC4A4000CFE06BE106", "Certificate thumbprint");
    log_proto_info(&s, "mail.contoso.com;contoso.com", "Certificate alternate names");
    log_proto_info(&s, NULL, "Remote certificate");
    log_proto_info(&s, "CN=mx.woodgrovebank.com", "Certificate subject");
    log_proto_info(&s, "CN=Woodgrove Bank CA", "Certificate issuer name");
    log_proto_info(&s, "01", "Certificate serial number");
    log_proto_info(&s, "0123456789ABCDEF0123456789ABCDEF01234567", "Certificate thumbprint");
    log_proto_info(&s, "mx.woodgrovebank.com;woodgrovebank.com", "Certificate alternate names");
    log_proto_info(&s, NULL, "TLS protocol SP_PROT_TLS1_3_CLIENT negotiation succeeded using "
                   "bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash "
                   "algorithm CALG_SHA_384 with strength 384 bits and key exchange algorithm "
                   "CALG_ECDH_EPHEM with strength 256 bits");
    at(2060);
    log_proto_sent(&s, S("EHLO mail.contoso.com\r\n"));
    log_proto_received(&s, S("250-mx.woodgrovebank.com\r\n250-SIZE 52428800\r\n"
                             "250 ENHANCEDSTATUSCODES\r\n"));
    at(2070);
    log_proto_sending_message(&s, "0123456789ABCDEF", "<0A1B2C3D@mail.woodgrovebank.com>");
    log_proto_sent(&s, S("MAIL FROM:<bob@contoso.com> SIZE=2048\r\n"));
    log_proto_sent(&s, S("RCPT TO:<carol@woodgrovebank.com>\r\n"));
    at(2080);
    log_proto_received(&s, S("250 2.1.0 Sender OK\r\n"));
    log_proto_received(&s, S("250 2.1.5 Recipient OK\r\n"));
    log_proto_sent(&s, S("DATA\r\n"));
    at(2090);
    log_proto_received(&s, S("354 Start mail input; end with <CRLF>.<CRLF>\r\n"));
    at(2110);
    log_proto_received(&s, S("250 2.6.0 <0A1B2C3D@mail.woodgrovebank.com> Queued mail for delivery\r\n"));
    log_proto_sent(&s, S("QUIT\r\n"));
    at(2115);
    log_proto_received(&s, S("221 2.0.0 Service closing transmission channel\r\n"));
    log_proto_disconnect(&s, LOG_PROTO_R_LOCAL, NULL);
}

static void test_golden_receive(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 10485760, 262144000, 30 * DAY_MS,
                                       3600000);
    char path[512], args[600];

    script_receive(lp);
    at(0);                              /* #Date: the file is created at the flush */
    log_proto_close(lp);
    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    compare_golden(path, "RECV20261122-1.LOG");
    snprintf(args, sizeof(args), "%s", path);
    assert_int_equal(logcheck(args), 0);
}

static void test_golden_send(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_SEND, 10485760, 262144000, 30 * DAY_MS,
                                       3600000);
    char path[512];

    script_send(lp);
    at(2000);
    log_proto_close(lp);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend/SEND20261122-1.LOG", tmpdir);
    compare_golden(path, "SEND20261122-1.LOG");
    assert_int_equal(logcheck(path), 0);
    /* Both directions together: the session ids are distinct, sequences whole. */
    assert_int_equal(logcheck(tmpdir), 0);
}

/* ---- splitting, level none ------------------------------------------------------- */

static void test_split_lines(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 3600000);
    struct log_proto_session s;
    char path[512];
    char *f;

    log_proto_session_init(&s, lp, "H\\C", 1);
    log_proto_sent(&s, S("250-a\r\n250 b\r\n"));          /* 2 rows */
    log_proto_sent(&s, S("x\r\n\r\ny"));                  /* 3 rows: the empty one kept */
    log_proto_sent(&s, S("no-crlf\nbare"));               /* 1 row, LF escaped */
    log_proto_sent(&s, S("\r\n"));                        /* 1 empty row */
    log_proto_sent(&s, NULL, 0);                          /* 1 empty row */
    log_proto_event(&s, LOG_PROTO_INFO, S("d1\r\nd2"), "ctx"); /* context on each */
    assert_int_equal(s.seq, 10);
    log_proto_close(lp);
    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    f = slurp(path, NULL);
    assert_non_null(f);
    assert_non_null(strstr(f, ",0,,,>,250-a,\r\n"));
    assert_non_null(strstr(f, ",1,,,>,250 b,\r\n"));
    assert_non_null(strstr(f, ",2,,,>,x,\r\n"));
    assert_non_null(strstr(f, ",3,,,>,,\r\n"));
    assert_non_null(strstr(f, ",4,,,>,y,\r\n"));
    assert_non_null(strstr(f, ",5,,,>,no-crlf\\nbare,\r\n"));
    assert_non_null(strstr(f, ",6,,,>,,\r\n"));
    assert_non_null(strstr(f, ",7,,,>,,\r\n"));
    assert_non_null(strstr(f, ",8,,,*,d1,ctx\r\n"));
    assert_non_null(strstr(f, ",9,,,*,d2,ctx\r\n"));
    free(f);
}

static void test_level_none(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 3600000);
    struct log_proto_session s;
    struct log_file_stats st;
    char ref[LOG_PROTO_MSGREF_MAX], path[512];

    log_proto_session_init(&s, NULL, "H\\C", 7);
    assert_false(log_proto_enabled(&s));
    log_proto_session_set_local(&s, "1.2.3.4:25");
    log_proto_connect(&s);
    log_proto_sent(&s, S("220 hi\r\n"));
    log_proto_received(&s, S("EHLO x"));
    log_proto_info(&s, "d", "c");
    log_proto_infof(&s, "d", "c %d", 1);
    log_proto_receiving_message(&s, 1, ref);
    assert_string_equal(ref + 16, strchr(ref, ';'));     /* the reference is still made */
    log_proto_sending_message(&s, "1", "<m>");
    log_proto_disconnect(&s, LOG_PROTO_R_REMOTE, "x");
    assert_int_equal(s.seq, 0);
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_appended, 0);
    log_proto_close(lp);
    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    assert_int_equal(access(path, F_OK), -1);            /* no rows: no file */
}

/* ---- rotation ------------------------------------------------------------------- */

/* check_file - BOM, one header, size limit; returns the rows (after the header) */

static char *check_file(const char *path, uint64_t limit, const char *log_type)
{
    size_t len;
    char *f = slurp(path, &len), *rows;
    char want[128];

    assert_non_null(f);
    if (limit)
        assert_true(len <= limit);
    assert_memory_equal(f, "\xEF\xBB\xBF#Software: domsec\r\n#Version: 0.1.0\r\n#Log-type: ", 50);
    snprintf(want, sizeof(want), "#Log-type: %s\r\n#Date: ", log_type);
    assert_non_null(strstr(f, want));
    assert_int_equal(count_str(f, "#Software:"), 1);
    assert_int_equal(count_str(f, "#Fields:"), 1);
    rows = strstr(f, "#Fields:");
    rows = strstr(rows, "\r\n") + 2;
    memmove(f, rows, strlen(rows) + 1);
    return f;
}

static void test_rotate_size(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    struct log_proto_session s;
    struct log_file_stats st;
    char path[512], expect[64];
    unsigned nfiles = 0, next = 0;

    log_proto_session_init(&s, lp, "MAIL\\Inet", SID_RECV);
    log_proto_session_set_local(&s, "192.0.2.10:25");
    log_proto_session_set_remote(&s, "198.51.100.7:49152");
    for (unsigned i = 0; i < 300; i++) {
        char line[64];

        at(i);
        snprintf(line, sizeof(line), "RCPT TO:<user%04u@contoso.com>", i);
        log_proto_received(&s, line, strlen(line));
        if (i % 97 == 0)
            log_proto_flush(lp);        /* rotation across several writer rounds */
    }
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_written, 300);
    assert_int_equal(st.rows_dropped, 0);
    for (unsigned n = 1; ; n++) {
        char name[64], *rows, *p;

        snprintf(name, sizeof(name), "RECV20261122-%u.LOG", n);
        recv_path(path, sizeof(path), name);
        if (access(path, F_OK) < 0)
            break;
        nfiles++;
        rows = check_file(path, 4096, "SMTP Receive Protocol Log");
        assert_true(strlen(rows) > 0);                  /* no empty rotated file */
        for (p = rows; *p; p = strstr(p, "\r\n") + 2) {
            snprintf(expect, sizeof(expect), ",%u,192.0.2.10:25,", next);
            assert_non_null(strstr(p, expect));
            assert_true(strstr(p, expect) < strstr(p, "\r\n"));
            next++;
        }
        free(rows);
    }
    assert_true(nfiles >= 5);
    assert_int_equal(next, 300);
    assert_int_equal(st.files_created, nfiles);
    log_proto_close(lp);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpReceive", tmpdir);
    assert_int_equal(logcheck(path), 0);
}

static void test_rotate_day(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_SEND, 0, 0, 0, 3600000);
    struct log_proto_session s;
    char path[512], *a, *b;

    log_proto_session_init(&s, lp, "Internet", SID_SEND);
    at(DAY_MS - 8 * 3600000 - 500);             /* 2026-11-22T23:59:59.500Z */
    log_proto_info(&s, NULL, "attempting to connect");
    log_proto_connect(&s);
    at(DAY_MS - 8 * 3600000 + 250);             /* 2026-11-23T00:00:00.250Z */
    log_proto_sent(&s, S("QUIT\r\n"));
    log_proto_disconnect(&s, LOG_PROTO_R_LOCAL, NULL);
    log_proto_close(lp);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend/SEND20261122-1.LOG", tmpdir);
    a = check_file(path, 0, "SMTP Send Protocol Log");
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend/SEND20261123-1.LOG", tmpdir);
    b = check_file(path, 0, "SMTP Send Protocol Log");
    assert_int_equal(count_str(a, "\r\n"), 2);
    assert_int_equal(count_str(a, "2026-11-22T23:59:59.500Z"), 2);
    assert_int_equal(count_str(b, "\r\n"), 2);
    assert_int_equal(count_str(b, "2026-11-23T00:00:00.250Z,Internet,08DF486E9B5C0002,2,"), 1);
    free(a);
    free(b);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpSend", tmpdir);
    assert_int_equal(logcheck(path), 0);
}

static void write_rows(struct log_proto *lp, uint64_t sid, unsigned n)
{
    struct log_proto_session s;

    log_proto_session_init(&s, lp, "MAIL\\Inet", sid);
    log_proto_connect(&s);
    for (unsigned i = 1; i < n; i++)
        log_proto_info(&s, "row", "restart test");
}

static void test_restart_append(void **state)
{
    struct log_proto *lp;
    char path[512], path2[512], *rows;
    int fd;

    lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    write_rows(lp, 1, 3);
    log_proto_close(lp);
    at(5000);
    lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    write_rows(lp, 2, 2);
    log_proto_close(lp);
    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    rows = check_file(path, 4096, "SMTP Receive Protocol Log");   /* header once */
    assert_int_equal(count_str(rows, "\r\n"), 5);
    free(rows);
    recv_path(path2, sizeof(path2), "RECV20261122-2.LOG");
    assert_int_equal(access(path2, F_OK), -1);

    /* A crash cut the last row: the next row still starts on its own line. */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "2026-11-22T08:00:05.000Z,MAIL\\In", 32), 32);
    close(fd);
    lp = open_writer(LOG_PROTO_RECEIVE, 4096, 0, 0, 3600000);
    write_rows(lp, 3, 1);
    log_proto_close(lp);
    rows = check_file(path, 4096, "SMTP Receive Protocol Log");
    assert_non_null(strstr(rows, "MAIL\\In\r\n2026-11-22T08:00:05.000Z,MAIL\\Inet,0000000000000003,0,"));
    free(rows);

    /* At or over the limit: the next instance, with its own header. */
    lp = open_writer(LOG_PROTO_RECEIVE, 600, 0, 0, 3600000);
    write_rows(lp, 4, 1);
    log_proto_close(lp);
    rows = check_file(path2, 600, "SMTP Receive Protocol Log");
    assert_int_equal(count_str(rows, "\r\n"), 1);
    free(rows);
}

/* ---- retention ------------------------------------------------------------------ */

static void mkdir_p(const char *dir)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void make_old(const char *dir, const char *name, size_t size, uint64_t age_ms)
{
    char path[512], *buf = calloc(1, size + 1);
    struct timespec ts[2];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    memset(buf, 'x', size);
    spit(path, buf, size);
    free(buf);
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= (time_t)(age_ms / 1000);
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int exists(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_retention_size(void **state)
{
    char dir[300], name[64];
    struct log_proto *lp;
    struct log_proto_session s;
    struct log_file_stats st;

    snprintf(dir, sizeof(dir), "%s/ProtocolLog/SmtpReceive", tmpdir);
    mkdir_p(dir);
    for (int d = 1; d <= 10; d++) {
        snprintf(name, sizeof(name), "RECV202611%02d-1.LOG", d);
        make_old(dir, name, 1000, 0);
    }
    make_old(dir, "RECV20261110-2.LOG", 1000, 0);
    make_old(dir, "notes.txt", 100000, 0);                 /* not ours: never touched */
    make_old(dir, "SEND20261101-1.LOG", 100000, 0);        /* another prefix: not ours */

    /* At start: keep newest first while the total stays within 5000. */
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 5000, 0, 3600000);
    log_proto_flush(lp);
    for (int d = 1; d <= 10; d++) {
        snprintf(name, sizeof(name), "RECV202611%02d-1.LOG", d);
        assert_int_equal(exists(dir, name), d >= 7);
    }
    assert_true(exists(dir, "RECV20261110-2.LOG"));
    assert_true(exists(dir, "notes.txt"));
    assert_true(exists(dir, "SEND20261101-1.LOG"));

    /* A new file counts first; older files go. */
    log_proto_session_init(&s, lp, "MAIL\\Inet", 9);
    for (int i = 0; i < 5; i++)
        log_proto_info(&s, "x", "retention");
    log_proto_flush(lp);
    assert_true(exists(dir, "RECV20261122-1.LOG"));
    assert_true(exists(dir, "RECV20261110-2.LOG"));
    assert_false(exists(dir, "RECV20261107-1.LOG"));
    assert_true(exists(dir, "RECV20261108-1.LOG"));
    log_proto_close(lp);

    /* Even a limit below the current file never deletes the current file. */
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 100, 0, 3600000);
    log_proto_session_init(&s, lp, "MAIL\\Inet", 10);
    at(DAY_MS);                                            /* a new day: a new file */
    log_proto_info(&s, "x", "retention");
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_true(exists(dir, "RECV20261123-1.LOG"));
    assert_false(exists(dir, "RECV20261122-1.LOG"));
    assert_false(exists(dir, "RECV20261110-2.LOG"));
    assert_true(exists(dir, "notes.txt"));
    assert_true(st.files_deleted >= 3);
    log_proto_close(lp);
}

static void test_retention_age(void **state)
{
    char dir[300];
    struct log_proto *lp;
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    atomic_store(&fake_now, (uint64_t)now.tv_sec * 1000);
    snprintf(dir, sizeof(dir), "%s/ProtocolLog/SmtpReceive", tmpdir);
    mkdir_p(dir);
    make_old(dir, "RECV20261001-1.LOG", 10, 40 * DAY_MS);
    make_old(dir, "RECV20261020-1.LOG", 10, 29 * DAY_MS);
    make_old(dir, "old-notes.LOG", 10, 400 * DAY_MS);

    /* At start. */
    lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 30 * DAY_MS, 200);
    log_proto_flush(lp);
    assert_false(exists(dir, "RECV20261001-1.LOG"));
    assert_true(exists(dir, "RECV20261020-1.LOG"));
    assert_true(exists(dir, "old-notes.LOG"));

    /* Hourly: two days and an hour later the 29-day-old file is 31 days old. */
    atomic_fetch_add(&fake_now, 2 * DAY_MS + 3600000);
    for (int i = 0; i < 100 && exists(dir, "RECV20261020-1.LOG"); i++)
        usleep(50000);
    assert_false(exists(dir, "RECV20261020-1.LOG"));
    assert_true(exists(dir, "old-notes.LOG"));
    log_proto_close(lp);
}

/* ---- concurrency, timer, stuck disk ------------------------------------------- */

#define CT_THREADS  4
#define CT_SESSIONS 250
#define CT_ROWS     12

struct ct_arg {
    struct log_proto *lp;
    unsigned thread;
};

static void *ct_main(void *p)
{
    struct ct_arg *a = p;

    for (unsigned k = 0; k < CT_SESSIONS; k++) {
        struct log_proto_session s;
        char data[64];

        log_proto_session_init(&s, a->lp, "MAIL\\Inet", log_proto_session_id());
        log_proto_session_set_remote(&s, "198.51.100.7:49152");
        for (unsigned r = 0; r < CT_ROWS; r++) {
            snprintf(data, sizeof(data), "T%u S%u R%u", a->thread, k, r);
            log_proto_received(&s, data, strlen(data));
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 128 * 1024, 0, 0, 0);
    pthread_t th[CT_THREADS];
    struct ct_arg args[CT_THREADS];
    static unsigned char seen[CT_THREADS][CT_SESSIONS][CT_ROWS];
    struct log_file_stats st;
    unsigned total = 0;
    char path[512];

    memset(seen, 0, sizeof(seen));
    for (unsigned t = 0; t < CT_THREADS; t++) {
        args[t] = (struct ct_arg){ lp, t };
        assert_int_equal(pthread_create(&th[t], NULL, ct_main, &args[t]), 0);
    }
    for (unsigned t = 0; t < CT_THREADS; t++)
        pthread_join(th[t], NULL);
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_appended, CT_THREADS * CT_SESSIONS * CT_ROWS);
    assert_int_equal(st.rows_written, CT_THREADS * CT_SESSIONS * CT_ROWS);
    log_proto_close(lp);

    for (unsigned n = 1; ; n++) {
        char name[64], *rows, *line, *save = NULL;

        snprintf(name, sizeof(name), "RECV20261122-%u.LOG", n);
        recv_path(path, sizeof(path), name);
        if (access(path, F_OK) < 0)
            break;
        rows = check_file(path, 128 * 1024, "SMTP Receive Protocol Log");
        for (line = strtok_r(rows, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            char *f[10];
            int nf = 0;
            unsigned t, k, r, seq;

            for (char *q = line; nf < 10; ) {
                f[nf++] = q;
                q = strchr(q, ',');
                if (q == NULL)
                    break;
                *q++ = '\0';
            }
            assert_int_equal(nf, 9);                   /* no interleaving inside a row */
            assert_int_equal(sscanf(f[7], "T%u S%u R%u", &t, &k, &r), 3);
            seq = (unsigned)strtoul(f[3], NULL, 10);
            assert_int_equal(seq, r);
            assert_true(t < CT_THREADS && k < CT_SESSIONS && r < CT_ROWS);
            assert_int_equal(seen[t][k][r], 0);        /* exactly once */
            seen[t][k][r] = 1;
            total++;
        }
        free(rows);
    }
    assert_int_equal(total, CT_THREADS * CT_SESSIONS * CT_ROWS);
    snprintf(path, sizeof(path), "%s/ProtocolLog/SmtpReceive", tmpdir);
    assert_int_equal(logcheck(path), 0);               /* sequences 0..n-1, in order */
}

static void test_flush_timer(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 0);   /* 1 s */
    struct log_proto_session s;
    struct timespec t0, t1;
    char path[512], *f = NULL;
    int i;

    recv_path(path, sizeof(path), "RECV20261122-1.LOG");
    log_proto_session_init(&s, lp, "MAIL\\Inet", 5);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    log_proto_connect(&s);
    for (i = 0; i < 100; i++) {                 /* eventually, within 5 s */
        f = slurp(path, NULL);
        if (f && strstr(f, ",+,,\r\n"))
            break;
        free(f);
        f = NULL;
        usleep(50000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(f);
    print_message("flush timer: row on disk after %.2f s\n",
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(f);
    log_proto_close(lp);
}

/* capture stderr (log.c's output) into a file while fn runs */

static int capture_begin(char *path)
{
    int saved, fd;

    fflush(stderr);
    saved = dup(2);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static char *capture_end(int saved, const char *path)
{
    char *out;

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    out = slurp(path, NULL);
    unlink(path);
    return out;
}

static void test_stuck_disk(void **state)
{
    struct log_proto_props pr = {
        .directory = tmpdir, .version = "0.1.0", .flush_interval_ms = 50,
        .queue_limit = 128 * 1024, .clock = fake_clock,
    };
    struct log_proto *lp = log_proto_open(LOG_PROTO_RECEIVE, &pr);
    struct log_proto_session s;
    struct log_file_stats st;
    char cap[] = "/tmp/log_proto_err.XXXXXX", *err;
    int saved;

    assert_non_null(lp);
    saved = capture_begin(cap);
    log_file__test_pause(log_proto_file(lp), true);
    log_proto_session_init(&s, lp, "MAIL\\Inet", 11);
    for (int i = 0; i < 5000; i++)              /* ~500 KB: 4x the queue; never blocks */
        log_proto_received(&s, S("RCPT TO:<someone.with.a.long.name@contoso.com> NOTIFY=NEVER"));
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_appended, 5000);
    assert_true(st.rows_dropped > 0);
    assert_int_equal(st.rows_written, 0);
    log_file__test_pause(log_proto_file(lp), false);
    log_proto_received(&s, S("QUIT"));          /* a new episode is not needed to report */
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    assert_int_equal(st.rows_written + st.rows_dropped, st.rows_appended);
    log_proto_close(lp);
    err = capture_end(saved, cap);
    assert_non_null(strstr(err, "warning logs log queue full, dropping rows"));
    assert_non_null(strstr(err, "warning logs log rows dropped dir="));
    free(err);
}

static void test_write_error(void **state)
{
    struct log_proto *lp = open_writer(LOG_PROTO_RECEIVE, 0, 0, 0, 3600000);
    struct log_proto_session s;
    struct log_file_stats st;
    char cap[] = "/tmp/log_proto_err.XXXXXX", dir[300], *err;
    int saved;

    log_proto_session_init(&s, lp, "MAIL\\Inet", 12);
    log_proto_connect(&s);
    log_proto_flush(lp);
    /* The directory vanishes; the next day needs a new file that cannot be made. */
    snprintf(dir, sizeof(dir), "rm -rf %s/ProtocolLog", tmpdir);
    assert_int_equal(system(dir), 0);
    saved = capture_begin(cap);
    at(DAY_MS);
    for (int i = 0; i < 10; i++)
        log_proto_info(&s, "lost", "write error");
    log_proto_flush(lp);
    log_proto_info(&s, "lost", "write error");  /* logged once, counted always */
    log_proto_flush(lp);
    log_proto_stats(lp, &st);
    log_proto_close(lp);
    err = capture_end(saved, cap);
    assert_int_equal(st.rows_written, 1);
    assert_int_equal(st.rows_dropped, 11);
    assert_int_equal(st.write_errors, 2);
    assert_int_equal(count_str(err, "error logs log file create failed"), 1);
    free(err);
}

/* ---- logcheck on broken files -------------------------------------------------- */

static const struct {
    const char *label, *from, *to;
} breakages[] = {
    { "no BOM", "\xEF\xBB\xBF#Software", "#Software" },
    { "LF line end", "\r\n#Version", "\n#Version" },
    { "bad log type", "SMTP Receive Protocol Log", "SMTP Protocol Log" },
    { "bad fields", "remote-endpoint,event", "remote-endpoint,evt" },
    { "timestamp without ms", "2026-11-22T08:00:00.012Z", "2026-11-22T08:00:00Z" },
    { "timestamp not UTC", "2026-11-22T08:00:00.012Z", "2026-11-22T08:00:00.012+01:00" },
    { "sequence gap", ",08DF486E9B5C0001,3,", ",08DF486E9B5C0001,4," },
    { "bad event", ",<,STARTTLS,", ",!,STARTTLS," },
    { "lower-case session id", ",08DF486E9B5C0001,0,", ",08df486e9b5c0001,0," },
    { "8 fields", ",>,220 2.0.0 SMTP server ready,\r\n", ",>,220 2.0.0 SMTP server ready\r\n" },
    { "unescaped quote", "Contoso \"\"Issuing\"\" CA", "Contoso \"Issuing\" CA" },
    { "second header", ",-,,QuitVerb\r\n", ",-,,QuitVerb\r\n#Software: domsec\r\n" },
    { "needless quotes", ",EHLO mail.woodgrovebank.com,", ",\"EHLO mail.woodgrovebank.com\"," },
};

static void test_logcheck_broken(void **state)
{
    char gpath[600], bpath[512];
    size_t glen;
    char *g;

    snprintf(gpath, sizeof(gpath), "%s/tests/golden/RECV20261122-1.LOG", srcdir());
    g = slurp(gpath, &glen);
    assert_non_null(g);
    assert_int_equal(logcheck(gpath), 0);
    snprintf(bpath, sizeof(bpath), "%s/RECV20261122-1.LOG", tmpdir);
    for (size_t i = 0; i < sizeof(breakages) / sizeof(breakages[0]); i++) {
        char *at_ = strstr(g, breakages[i].from), *b;
        size_t fl = strlen(breakages[i].from), tl = strlen(breakages[i].to), pre;

        if (at_ == NULL)
            fail_msg("breakage '%s': text not in the golden file", breakages[i].label);
        pre = (size_t)(at_ - g);
        b = malloc(glen - fl + tl);
        memcpy(b, g, pre);
        memcpy(b + pre, breakages[i].to, tl);
        memcpy(b + pre + tl, at_ + fl, glen - pre - fl);
        spit(bpath, b, glen - fl + tl);
        free(b);
        print_message("broken: %s\n", breakages[i].label);
        if (logcheck(bpath) != 1)
            fail_msg("logcheck accepted a file with: %s", breakages[i].label);
    }
    free(g);
}

/* ---- throughput (DOMSEC_LOG_BENCH=1) ----------------------------------------- */

static void test_throughput(void **state)
{
    struct log_proto_props pr = {       /* a queue big enough for the burst: no drops */
        .directory = tmpdir, .max_file_size = 10485760, .queue_limit = 256u << 20,
    };
    struct log_proto *lp;
    struct log_proto_session s;
    struct timespec t0, t1, t2;
    struct log_file_stats st;
    const unsigned n = 1000000;
    double a, w;

    if (getenv("DOMSEC_LOG_BENCH") == NULL) {
        skip();
        return;
    }
    lp = log_proto_open(LOG_PROTO_RECEIVE, &pr);
    assert_non_null(lp);
    log_proto_session_init(&s, lp, "MAIL\\Default Frontend MAIL", log_proto_session_id());
    log_proto_session_set_local(&s, "192.0.2.10:25");
    log_proto_session_set_remote(&s, "198.51.100.7:49152");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < n; i++)
        log_proto_received(&s, S("RCPT TO:<bob@contoso.com>"));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_proto_flush(lp);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    log_proto_stats(lp, &st);
    a = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    w = (double)(t2.tv_sec - t0.tv_sec) + (double)(t2.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("throughput: %u rows, %.0f rows/s queued by one thread, %.0f rows/s on disk "
                  "(%llu bytes, %llu files, %llu dropped)\n", n, n / a, n / w,
                  (unsigned long long)st.bytes_written, (unsigned long long)st.files_created,
                  (unsigned long long)st.rows_dropped);
    log_proto_close(lp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_csv_member_and_time),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test_setup_teardown(test_golden_receive, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_golden_send, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_split_lines, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_level_none, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_rotate_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_rotate_day, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_restart_append, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_retention_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_retention_age, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_flush_timer, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_stuck_disk, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_error, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_logcheck_broken, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_throughput, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
