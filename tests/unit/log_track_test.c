/*
 * log_track_test.c - the message tracking log: a golden file with every
 * event (RECEIVE SEND DEFER FAIL DSN EXPIRE) byte for byte against
 * tests/golden/MSGTRK20261122-1.LOG, the security info format, multi-valued
 * field escaping, empty entries, a NULL writer, concurrent writers, and
 * tests/logcheck.py on good and broken tracking files.
 *
 * DOMSEC_GOLDEN_UPDATE=1 rewrites the golden file from this run.
 */
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
#include <unistd.h>
#include <cmocka.h>

#include "log_file.h"
#include "log_track.h"

#define BASE_MS 1795334400000ULL        /* 2026-11-22T08:00:00.000Z */

#define LOG_TEST_NAME "log_track_test"
#include "log_test_util.h"

static struct log_track *open_track(unsigned flush_ms)
{
    struct log_track_props pr = {
        .directory = tmpdir, .max_file_size = 10485760, .max_directory_size = 262144000,
        .max_age_ms = 30 * 86400000ULL, .version = "0.1.0", .flush_interval_ms = flush_ms,
        .clock = fake_clock,
    };
    struct log_track *lt = log_track_open(&pr);

    assert_non_null(lt);
    return lt;
}

static void track_path(char *out, size_t size)
{
    snprintf(out, size, "%s/MessageTracking/MSGTRK20261122-1.LOG", tmpdir);
}

/* ---- golden ---------------------------------------------------------------- */

static void script_track(struct log_track *lt)
{
    static const char *const in_rcpts[] = { "bob@contoso.com", "carol@woodgrovebank.com" };
    static const char *const bob[] = { "bob@contoso.com" };
    static const char *const bob_ok[] = { "250 2.1.5 Recipient OK" };
    static const char *const carol[] = { "carol@woodgrovebank.com" };
    static const char *const carol_defer[] = {
        "451 4.4.0 Primary target IP address responded with: \"451 5.7.3 STARTTLS is required "
        "to send mail.\" Attempted failover to alternate host, but that did not succeed. Either "
        "there are no alternate hosts, or delivery failed to all alternate hosts. The last "
        "endpoint attempted was 203.0.113.25:25" };
    static const char *const carol_expired[] = { "550 4.4.7 QUEUE.Expired; message expired" };
    static const char *const bad[] = { "\"dave;x\"@fabrikam.com", "o'neil@fabrikam.com" };
    static const char *const bad_st[] = { "550 5.1.1 User unknown\r\n(and a second line)",
                                          "550 5.1.10 RESOLVER.ADR.RecipientNotFound" };
    char sec[64];

    log_track_security_info(sec, sizeof(sec), LOG_TRACK_MECH_MUTUAL_TLS, 'P', "woodgrovebank.com");
    at(120);
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_RECEIVE, .source = LOG_TRACK_SRC_SMTP,
        .client_ip = "198.51.100.7", .client_hostname = "mail.woodgrovebank.com",
        .server_ip = "192.0.2.10", .server_hostname = "mail.contoso.com",
        .source_context = "08DF486E9B5C0001;2026-11-22T08:00:00.000Z;1",
        .connector_id = "MAIL\\Inet", .internal_id = "0123456789ABCDEF",
        .message_id = "<0A1B2C3D@mail.woodgrovebank.com>",
        .recipients = in_rcpts, .nrecipients = 2, .total_bytes = 2048,
        .sender = "alice@woodgrovebank.com", .security_info = sec,
        .direction = LOG_TRACK_DIR_INCOMING });
    at(2110);
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_SEND, .source = LOG_TRACK_SRC_SMTP,
        .client_ip = "192.0.2.10", .client_hostname = "mail.contoso.com",
        .server_ip = "10.0.0.25", .server_hostname = "hub.contoso.local",
        .source_context = "08DF486E9B5C0002;250 2.6.0 <0A1B2C3D@mail.woodgrovebank.com> "
                          "Queued mail for delivery",
        .connector_id = "ToHub", .internal_id = "0123456789ABCDEF",
        .message_id = "<0A1B2C3D@mail.woodgrovebank.com>",
        .recipients = bob, .recipient_status = bob_ok, .nrecipients = 1,
        .total_bytes = 2048, .sender = "alice@woodgrovebank.com", .security_info = sec,
        .direction = LOG_TRACK_DIR_INCOMING });
    at(2500);
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_DEFER, .source = LOG_TRACK_SRC_SMTP,
        .client_hostname = "mail.contoso.com", .server_ip = "203.0.113.25",
        .server_hostname = "mx.woodgrovebank.com", .source_context = "08DF486E9B5C0003",
        .connector_id = "Internet", .internal_id = "0123456789ABCDEF",
        .message_id = "<0A1B2C3D@mail.woodgrovebank.com>",
        .recipients = carol, .recipient_status = carol_defer, .nrecipients = 1,
        .total_bytes = 2048, .sender = "alice@woodgrovebank.com", .security_info = sec,
        .direction = LOG_TRACK_DIR_INCOMING });
    at(3000);
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_FAIL, .source = LOG_TRACK_SRC_SMTP,
        .client_hostname = "mail.contoso.com", .server_ip = "198.51.100.99",
        .server_hostname = "mx.fabrikam.com", .connector_id = "Internet",
        .internal_id = "0123456789ABCDEE", .message_id = "<77@mail.contoso.com>",
        .recipients = bad, .recipient_status = bad_st, .nrecipients = 2,
        .total_bytes = 512, .sender = "bob@contoso.com",
        .direction = LOG_TRACK_DIR_ORIGINATING });
    at(3001);
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_DSN, .source = LOG_TRACK_SRC_DSN,
        .server_hostname = "mail.contoso.com", .source_context = "failed",
        .internal_id = "0123456789ABCDF0", .message_id = "<dsn.0123456789ABCDEE@mail.contoso.com>",
        .recipients = (const char *const[]){ "bob@contoso.com" }, .nrecipients = 1,
        .total_bytes = 3100, .reference = "<77@mail.contoso.com>", .sender = "",
        .direction = LOG_TRACK_DIR_ORIGINATING });
    at(15 * 3600000ULL);                            /* 23:00, still the same UTC day */
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_EXPIRE, .source = LOG_TRACK_SRC_QUEUE,
        .server_hostname = "mail.contoso.com", .connector_id = "Internet",
        .internal_id = "0123456789ABCDEF", .message_id = "<0A1B2C3D@mail.woodgrovebank.com>",
        .recipients = carol, .recipient_status = carol_expired, .nrecipients = 1,
        .total_bytes = 2048, .sender = "alice@woodgrovebank.com", .security_info = sec,
        .direction = LOG_TRACK_DIR_INCOMING });
}

static void test_golden(void **state)
{
    struct log_track *lt = open_track(3600000);
    char path[512], gpath[600];
    size_t plen, glen, i;
    char *p, *g;

    script_track(lt);
    at(0);
    log_track_close(lt);
    track_path(path, sizeof(path));
    p = slurp(path, &plen);
    assert_non_null(p);
    snprintf(gpath, sizeof(gpath), "%s/tests/golden/MSGTRK20261122-1.LOG", srcdir());
    if (getenv("DOMSEC_GOLDEN_UPDATE"))
        spit(gpath, p, plen);
    g = slurp(gpath, &glen);
    assert_non_null(g);
    for (i = 0; i < plen && i < glen && p[i] == g[i]; i++)
        ;
    if (i != plen || i != glen)
        fail_msg("%s differs from %s at byte %zu", path, gpath, i);
    free(p);
    free(g);
    assert_int_equal(logcheck(path), 0);
}

/* ---- fields ------------------------------------------------------------------ */

static void test_security_info(void **state)
{
    char buf[64];

    assert_int_equal(log_track_security_info(buf, sizeof(buf), LOG_TRACK_MECH_MUTUAL_TLS, 'P',
                                             "woodgrovebank.com"), 21);
    assert_string_equal(buf, "02P:woodgrovebank.com");
    log_track_security_info(buf, sizeof(buf), 0x0b, 'I', NULL);
    assert_string_equal(buf, "0bI:");
}

static void test_escaping_and_empty(void **state)
{
    static const char *const r[] = { "a;b@x.example", "c'd@x.example", "e,f@x.example" };
    static const char *const st[] = { "550 x\r\ny", "ok", "451 \"q\"" };
    struct log_track *lt = open_track(3600000);
    char path[512], *f;

    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_FAIL, .source = LOG_TRACK_SRC_ROUTING, .recipients = r,
        .recipient_status = st, .nrecipients = 3 });
    log_track_write(lt, &(struct log_track_entry){ .event = LOG_TRACK_EXPIRE });
    log_track_write(NULL, &(struct log_track_entry){ .event = LOG_TRACK_SEND });  /* off */
    log_track_close(lt);
    track_path(path, sizeof(path));
    f = slurp(path, NULL);
    assert_non_null(f);
    assert_non_null(strstr(f, "2026-11-22T08:00:00.000Z,,,,,,,ROUTING,FAIL,,,"
                              "\"'a;b@x.example';'c''d@x.example';e,f@x.example\","
                              "\"550 x y;ok;451 \"\"q\"\"\",0,3,,,,\r\n"));
    assert_non_null(strstr(f, "2026-11-22T08:00:00.000Z,,,,,,,SMTP,EXPIRE,,,,,0,0,,,,\r\n"));
    free(f);
    assert_int_equal(logcheck(path), 0);
}

/* A row longer than the stack buffers (recipient list > 1 KiB, row > 4 KiB)
 * is written whole, as a short one. */
static void test_long_row(void **state)
{
    enum { N = 120 };
    static char addrs[N][48];
    const char *r[N], *st[N];
    struct log_track *lt = open_track(3600000);
    char path[512], *f, *want = calloc(1, N * 64), *w = want;

    assert_non_null(want);
    for (int i = 0; i < N; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "recipient-%03d@long.example", i);
        r[i] = addrs[i];
        st[i] = "250 2.0.0 queued as 0123456789ABCDEF";
        w += sprintf(w, "%s%s", i ? ";" : "", addrs[i]);
    }
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_SEND, .source = LOG_TRACK_SRC_SMTP, .recipients = r,
        .recipient_status = st, .nrecipients = N });
    log_track_close(lt);
    track_path(path, sizeof(path));
    f = slurp(path, NULL);
    assert_non_null(f);
    assert_non_null(strstr(f, want));
    assert_non_null(strstr(f, "250 2.0.0 queued as 0123456789ABCDEF;250 2.0.0 queued as "
                              "0123456789ABCDEF,0,120,,,,\r\n"));
    assert_true(strlen(f) > 4 * 1024 + 3 * 1024);
    free(f);
    free(want);
    assert_int_equal(logcheck(path), 0);
}

/* ---- concurrency ---------------------------------------------------------- */

#define TT_THREADS 4
#define TT_EVENTS  500

static void *tt_main(void *p)
{
    struct log_track *lt = p;
    static const char *const one[] = { "x@contoso.com" };

    for (unsigned i = 0; i < TT_EVENTS; i++)
        log_track_write(lt, &(struct log_track_entry){
            .event = LOG_TRACK_SEND, .source = LOG_TRACK_SRC_SMTP, .internal_id = "ID",
            .recipients = one, .nrecipients = 1, .total_bytes = i });
    return NULL;
}

static void test_concurrent(void **state)
{
    struct log_track *lt = open_track(0);
    struct log_file_stats st;
    pthread_t th[TT_THREADS];
    char path[512], *f;
    int rows = 0;

    for (int t = 0; t < TT_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, tt_main, lt), 0);
    for (int t = 0; t < TT_THREADS; t++)
        pthread_join(th[t], NULL);
    log_track_flush(lt);
    log_track_stats(lt, &st);
    assert_int_equal(st.rows_written, TT_THREADS * TT_EVENTS);
    log_track_close(lt);
    track_path(path, sizeof(path));
    f = slurp(path, NULL);
    for (char *p = f; (p = strstr(p, ",SMTP,SEND,ID,,x@contoso.com,,")) != NULL; p++)
        rows++;
    assert_int_equal(rows, TT_THREADS * TT_EVENTS);
    free(f);
    assert_int_equal(logcheck(path), 0);
}

/* ---- logcheck on broken tracking files --------------------------------------- */

static void test_logcheck_broken(void **state)
{
    static const struct { const char *label, *from, *to; } br[] = {
        { "recipient-count mismatch", ",2048,2,", ",2048,3," },
        { "bad event-id", ",RECEIVE,", ",RECEIVED," },
        { "bad source", ",SMTP,SEND,", ",SMTPX,SEND," },
        { "bad security info", "02P:woodgrovebank.com", "P:woodgrovebank.com" },
        { "bad total-bytes", ",2048,1,", ",2k,1," },
        { "tracking fields of another log", "#Fields: date-time,client-ip",
          "#Fields: date-time,client-ipaddr" },
    };
    char gpath[600], bpath[512];
    size_t glen;
    char *g;

    snprintf(gpath, sizeof(gpath), "%s/tests/golden/MSGTRK20261122-1.LOG", srcdir());
    g = slurp(gpath, &glen);
    assert_non_null(g);
    assert_int_equal(logcheck(gpath), 0);
    snprintf(bpath, sizeof(bpath), "%s/MSGTRK20261122-1.LOG", tmpdir);
    for (size_t i = 0; i < sizeof(br) / sizeof(br[0]); i++) {
        char *pos = strstr(g, br[i].from), *b;
        size_t fl = strlen(br[i].from), tl = strlen(br[i].to), pre;

        if (pos == NULL)
            fail_msg("breakage '%s': text not in the golden file", br[i].label);
        pre = (size_t)(pos - g);
        b = malloc(glen - fl + tl);
        memcpy(b, g, pre);
        memcpy(b + pre, br[i].to, tl);
        memcpy(b + pre + tl, pos + fl, glen - pre - fl);
        spit(bpath, b, glen - fl + tl);
        free(b);
        print_message("broken: %s\n", br[i].label);
        if (logcheck(bpath) != 1)
            fail_msg("logcheck accepted a tracking file with: %s", br[i].label);
    }
    free(g);
}

/* ---- the carried row ------------------------------------------------------------ */

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* A file that rotation opens starts with the carried row, stamped with its
 * own time; the first file of a run does not (the original row is there). */
static void test_carry_on_rotation(void **state)
{
    struct log_track *lt = open_track(3600000);
    char path[512], *a, *b;
    size_t alen, blen;
    struct log_track_entry cfg = {
        .event = LOG_TRACK_CONFIG, .source = LOG_TRACK_SRC_ADMIN,
        .server_hostname = "mail.contoso.com", .sender = "",
        .source_context = "start;sha256=AB12;receive=p.test;send=" };

    at(100);
    log_track_write(lt, &cfg);
    cfg.source_context = "carried;sha256=AB12;receive=p.test;send=";
    log_track_set_carry(lt, &cfg);
    at(16 * 3600000ULL + 5000);                  /* 2026-11-23T00:00:05.000Z: a new day */
    log_track_write(lt, &(struct log_track_entry){
        .event = LOG_TRACK_RECEIVE, .source = LOG_TRACK_SRC_SMTP, .internal_id = "0123456789ABCDEF",
        .sender = "a@p.test", .direction = LOG_TRACK_DIR_INCOMING });
    log_track_close(lt);
    snprintf(path, sizeof(path), "%s/MessageTracking/MSGTRK20261122-1.LOG", tmpdir);
    a = slurp(path, &alen);
    snprintf(path, sizeof(path), "%s/MessageTracking/MSGTRK20261123-1.LOG", tmpdir);
    b = slurp(path, &blen);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(count_of(a, ",CONFIG,"), 1);
    assert_int_equal(count_of(a, "carried;"), 0);
    assert_int_equal(count_of(b, ",CONFIG,"), 1);
    /* right after the header, before the day's first event, with the file's time */
    assert_non_null(strstr(b, "\r\n2026-11-23T00:00:05.000Z,,,,mail.contoso.com,"
                              "carried;sha256=AB12;receive=p.test;send=,"));
    assert_true(strstr(b, "carried;") < strstr(b, ",RECEIVE,"));
    free(a);
    free(b);
    assert_int_equal(logcheck(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_golden, setup_dir, teardown_dir),
        cmocka_unit_test(test_security_info),
        cmocka_unit_test_setup_teardown(test_escaping_and_empty, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_long_row, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_logcheck_broken, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_carry_on_rotation, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
