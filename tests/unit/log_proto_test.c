/*
 * log_proto_test.c - the protocol log writer's rows: CSV escaping, golden
 * Receive and Send sessions (byte for byte against tests/golden/), line
 * splitting, level none, and tests/logcheck.py on good and broken files.
 * Files, rotation, retention and threads: log_proto_engine_test.c.
 *
 * DOMSEC_GOLDEN_UPDATE=1 rewrites the golden files from this run (then read
 * them!).
 */
#define LOG_TEST_NAME "log_proto_test"
#include "log_proto_test_util.h"

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
        cmocka_unit_test_setup_teardown(test_logcheck_broken, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
