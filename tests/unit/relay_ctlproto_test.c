/*
 * relay_ctlproto_test.c - the control socket's wire protocol: the line
 * assembler (split over 1-byte feeds, two lines in one feed, CRLF, the
 * 64 KiB limit exactly), request checking (a table: garbage, NUL, bad
 * UTF-8, non-objects, v, ids, duplicate and unknown keys, unknown
 * commands, args), reply lines (always one line, ASCII only, even for a
 * message with a newline and a byte 0xFF), the client's reply check and
 * the exit statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "relay_ctlproto.h"

/* --- the line assembler -------------------------------------------------- */

static void test_lines_one_byte_feeds(void **state)
{
    const char *req = "{\"v\":1,\"id\":7,\"cmd\":\"ping\"}\n", *line;
    struct ctlproto_lines lb;
    size_t  len, n = strlen(req);

    ctlproto_lines_init(&lb, CTL_MAX_REQUEST);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ctlproto_lines_feed(&lb, req + i, 1), 1);
        if (i + 1 < n) {
            assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_AGAIN);
            assert_int_equal(ctlproto_lines_pending(&lb), i + 1);
        }
    }
    assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_LINE);
    assert_int_equal(len, n - 1);
    assert_memory_equal(line, req, n - 1);
    assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_AGAIN);
    assert_int_equal(ctlproto_lines_pending(&lb), 0);
    ctlproto_lines_free(&lb);
}

static void test_lines_two_in_one_feed_and_crlf(void **state)
{
    const char *in = "first\r\nsecond\nthi";
    struct ctlproto_lines lb;
    const char *line;
    size_t  len;

    ctlproto_lines_init(&lb, CTL_MAX_REQUEST);
    assert_int_equal(ctlproto_lines_feed(&lb, in, strlen(in)), strlen(in));
    assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_LINE);
    assert_int_equal(len, 5);           /* the CR before the LF is not part of it */
    assert_memory_equal(line, "first", 5);
    assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_LINE);
    assert_int_equal(len, 6);
    assert_memory_equal(line, "second", 6);
    assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_AGAIN);
    assert_int_equal(ctlproto_lines_pending(&lb), 3);
    assert_int_equal(ctlproto_lines_feed(&lb, "rd\n", 3), 3);
    assert_int_equal(ctlproto_lines_next(&lb, &line, &len), CTLPROTO_LINE);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "third", 5);
    ctlproto_lines_free(&lb);
}

/* feed_size - feed a line of total bytes (LF included) in chunks; the verdict */

static enum ctlproto_next feed_size(size_t total, size_t *len)
{
    struct ctlproto_lines lb;
    char   *buf = xmalloc(total);
    const char *line;
    enum ctlproto_next nx = CTLPROTO_AGAIN;
    size_t  off = 0;

    memset(buf, 'a', total - 1);
    buf[total - 1] = '\n';
    ctlproto_lines_init(&lb, CTL_MAX_REQUEST);
    while (off < total && nx == CTLPROTO_AGAIN) {
        size_t  chunk = total - off < 4093 ? total - off : 4093;
        size_t  took = ctlproto_lines_feed(&lb, buf + off, chunk);

        off += took;
        nx = ctlproto_lines_next(&lb, &line, len);
        if (took < chunk && nx == CTLPROTO_AGAIN)
            fail_msg("the assembler took %zu of %zu bytes but wants more", took, chunk);
    }
    ctlproto_lines_free(&lb);
    free(buf);
    return nx;
}

static void test_lines_limit_exact(void **state)
{
    size_t  len = 0;

    assert_int_equal(feed_size(CTL_MAX_REQUEST, &len), CTLPROTO_LINE);    /* 65536 with LF */
    assert_int_equal(len, CTL_MAX_REQUEST - 1);
    assert_int_equal(feed_size(CTL_MAX_REQUEST + 1, &len), CTLPROTO_TOO_LONG);
}

/* --- requests -------------------------------------------------------------- */

struct parse_row {
    const char *label;
    const char *line;
    size_t  len;                        /* 0: strlen(line) */
    enum ctlproto_parse want;
    const char *code;                   /* NULL for OK */
    long long id;                       /* the id echoed; -1 none */
    const char *cmd;                    /* OK: the command */
};

static const struct parse_row parse_rows[] = {
    { "ping", "{\"v\":1,\"id\":7,\"cmd\":\"ping\"}", 0, CTLPROTO_OK, NULL, 7, "ping" },
    { "no id, empty args", "{\"v\":1,\"cmd\":\"status\",\"args\":{}}", 0, CTLPROTO_OK, NULL,
      -1, "status" },
    { "id 2^53", "{\"v\":1,\"id\":9007199254740992,\"cmd\":\"ping\"}", 0, CTLPROTO_OK, NULL,
      9007199254740992LL, "ping" },
    { "empty line", "", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, -1, NULL },
    { "garbage", "hello there", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, -1, NULL },
    { "trailing garbage", "{\"v\":1,\"cmd\":\"ping\"} x", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "raw NUL inside", "{\"v\":1,\"cmd\":\"pi\0ng\"}", 21, CTLPROTO_FATAL, CTL_E_BAD_REQUEST,
      -1, NULL },
    { "escaped NUL", "{\"v\":1,\"cmd\":\"pi\\u0000ng\"}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "invalid UTF-8", "{\"v\":1,\"cmd\":\"p\xff\"}", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST,
      -1, NULL },
    { "array", "[1,2]", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, -1, NULL },
    { "number", "42", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, -1, NULL },
    { "string", "\"ping\"", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, -1, NULL },
    { "v 2", "{\"v\":2,\"id\":3,\"cmd\":\"ping\"}", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, 3,
      NULL },
    { "v missing", "{\"id\":3,\"cmd\":\"ping\"}", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, 3,
      NULL },
    { "v a string", "{\"v\":\"1\",\"cmd\":\"ping\"}", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST,
      -1, NULL },
    { "cmd missing", "{\"v\":1,\"id\":4}", 0, CTLPROTO_FATAL, CTL_E_BAD_REQUEST, 4, NULL },
    { "duplicate cmd", "{\"v\":1,\"cmd\":\"ping\",\"cmd\":\"reload\"}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "duplicate in args", "{\"v\":1,\"cmd\":\"ping\",\"args\":{\"a\":1,\"a\":2}}", 0,
      CTLPROTO_FATAL, CTL_E_BAD_REQUEST, -1, NULL },
    { "unknown envelope key", "{\"v\":1,\"cmd\":\"ping\",\"sudo\":true}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "id negative", "{\"v\":1,\"id\":-1,\"cmd\":\"ping\"}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "id over 2^53", "{\"v\":1,\"id\":9007199254740993,\"cmd\":\"ping\"}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "id a string", "{\"v\":1,\"id\":\"7\",\"cmd\":\"ping\"}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, -1, NULL },
    { "unknown command", "{\"v\":1,\"id\":5,\"cmd\":\"shutdown\"}", 0, CTLPROTO_REJECT,
      CTL_E_UNKNOWN_COMMAND, 5, NULL },
    { "cmd not a string", "{\"v\":1,\"id\":5,\"cmd\":7}", 0, CTLPROTO_FATAL,
      CTL_E_BAD_REQUEST, 5, NULL },
    { "unknown arg", "{\"v\":1,\"id\":6,\"cmd\":\"status\",\"args\":{\"verbose\":true}}", 0,
      CTLPROTO_REJECT, CTL_E_BAD_ARGS, 6, NULL },
    { "args an array", "{\"v\":1,\"id\":6,\"cmd\":\"reload\",\"args\":[]}", 0, CTLPROTO_REJECT,
      CTL_E_BAD_ARGS, 6, NULL },
};

static void test_parse_table(void **state)
{
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        const struct parse_row *row = &parse_rows[i];
        size_t  len = row->len ? row->len : strlen(row->line);
        struct ctlproto_req req;
        json_t *id = NULL, *error = NULL;
        enum ctlproto_parse got = ctlproto_parse(row->line, len, &req, &id, &error);

        if (got != row->want)
            fail_msg("%s: parse %d, want %d (%s)", row->label, got, row->want,
                     json_string_value(json_object_get(error, "message")));
        if (row->want == CTLPROTO_OK) {
            assert_null(error);
            assert_string_equal(req.cmd->name, row->cmd);
            assert_true(json_is_object(req.args));
            if (row->id < 0)
                assert_null(req.id);
            else
                assert_int_equal(json_integer_value(req.id), row->id);
            ctlproto_req_free(&req);
        } else {
            const char *code = json_string_value(json_object_get(error, "code"));

            if (code == NULL || strcmp(code, row->code) != 0)
                fail_msg("%s: code %s, want %s", row->label, code ? code : "(none)", row->code);
            assert_non_null(json_string_value(json_object_get(error, "message")));
            if (row->id < 0)
                assert_null(id);
            else if (id == NULL || json_integer_value(id) != row->id)
                fail_msg("%s: id not echoed", row->label);
            assert_null(req.args);
        }
        json_decref(id);
        json_decref(error);
    }
}

static void test_parse_deep_nesting(void **state)
{
    size_t  n = 60000;
    char   *line = xmalloc(n + 1);
    struct ctlproto_req req;
    json_t *id, *error;

    memset(line, '[', n);
    line[n] = '\0';
    assert_int_equal(ctlproto_parse(line, n, &req, &id, &error), CTLPROTO_FATAL);
    assert_string_equal(json_string_value(json_object_get(error, "code")), CTL_E_BAD_REQUEST);
    json_decref(error);
    free(line);
}

/* --- replies --------------------------------------------------------------- */

static void assert_one_ascii_line(const char *line, size_t len)
{
    assert_true(len > 1);
    assert_int_equal(strlen(line), len);
    assert_int_equal(line[len - 1], '\n');
    for (size_t i = 0; i + 1 < len; i++) {
        assert_true(line[i] != '\n' && line[i] != '\r');
        assert_true((unsigned char)line[i] < 0x80);
    }
}

static void test_reply_one_line_escaped(void **state)
{
    json_t *id = json_integer(9), *res = NULL, *err = NULL;
    size_t  len;
    char   *line = ctlproto_reply_err(id, ctlproto_error(CTL_E_INTERNAL, "a\nb\xff c \xc3\xa9"),
                                      &len);

    assert_one_ascii_line(line, len);
    assert_int_equal(ctlproto_parse_reply(line, len - 1, 9, &res, &err), 1);
    assert_null(res);
    assert_string_equal(json_string_value(json_object_get(err, "code")), CTL_E_INTERNAL);
    /* the newline kept (escaped on the wire), 0xFF written out, é kept */
    assert_string_equal(json_string_value(json_object_get(err, "message")),
                        "a\nb\\xFF c \xc3\xa9");
    json_decref(err);
    free(line);

    line = ctlproto_reply_ok(id, json_pack("{s:s}", "text", "line1\nline2\t\xe2\x82\xac"), &len);
    assert_one_ascii_line(line, len);
    assert_int_equal(ctlproto_parse_reply(line, len - 1, 9, &res, &err), 0);
    assert_string_equal(json_string_value(json_object_get(res, "text")),
                        "line1\nline2\t\xe2\x82\xac");
    json_decref(res);
    free(line);
    json_decref(id);
}

static void test_reply_null_id_and_mismatch(void **state)
{
    json_t *id = json_integer(3), *res = NULL, *err = NULL;
    size_t  len;
    char   *line = ctlproto_reply_err(NULL, ctlproto_error(CTL_E_BUSY, "busy"), &len);

    assert_memory_equal(line, "{\"v\":1,\"id\":null,\"ok\":false,", 28);
    /* An answer before the request was read (busy, denied) has id null: taken. */
    assert_int_equal(ctlproto_parse_reply(line, len - 1, 3, &res, &err), 1);
    assert_int_equal(ctlproto_exit_status(json_string_value(json_object_get(err, "code"))), 3);
    json_decref(err);
    free(line);
    line = ctlproto_reply_ok(id, NULL, &len);
    assert_int_equal(ctlproto_parse_reply(line, len - 1, 4, &res, &err), -1);
    assert_null(res);
    assert_string_equal(json_string_value(json_object_get(err, "code")), CTL_E_INTERNAL);
    json_decref(err);
    free(line);
    assert_int_equal(ctlproto_parse_reply("{\"ok\":true}", 11, 4, &res, &err), -1);
    json_decref(err);
    json_decref(id);
}

static void test_request_round_trip(void **state)
{
    size_t  len;
    char   *line = ctlproto_request(12, "status", NULL, &len);
    struct ctlproto_req req;
    json_t *id, *error;

    assert_one_ascii_line(line, len);
    assert_int_equal(ctlproto_parse(line, len - 1, &req, &id, &error), CTLPROTO_OK);
    assert_string_equal(req.cmd->name, "status");
    assert_int_equal(json_integer_value(req.id), 12);
    ctlproto_req_free(&req);
    json_decref(id);
    free(line);
}

static void test_exit_statuses(void **state)
{
    static const struct {
        const char *code;
        int     status;
    } rows[] = {
        { CTL_E_NOT_FOUND, 1 }, { CTL_E_CONFLICT, 1 }, { CTL_E_CONFIG, 1 },
        { CTL_E_BAD_REQUEST, 2 }, { CTL_E_UNKNOWN_COMMAND, 2 }, { CTL_E_BAD_ARGS, 2 },
        { CTL_E_UNREACHABLE, 3 }, { CTL_E_TIMEOUT, 3 }, { CTL_E_INTERNAL, 3 },
        { CTL_E_BUSY, 3 }, { CTL_E_STOPPING, 3 }, { CTL_E_DENIED, 4 }, { "what", 3 },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (ctlproto_exit_status(rows[i].code) != rows[i].status)
            fail_msg("%s: exit %d, want %d", rows[i].code, ctlproto_exit_status(rows[i].code),
                     rows[i].status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_one_byte_feeds),
        cmocka_unit_test(test_lines_two_in_one_feed_and_crlf),
        cmocka_unit_test(test_lines_limit_exact),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_deep_nesting),
        cmocka_unit_test(test_reply_one_line_escaped),
        cmocka_unit_test(test_reply_null_id_and_mismatch),
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_exit_statuses),
    };

    log_init("relay_ctlproto_test", LOG_WARN);
    json_set_alloc_funcs(xmalloc, free);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
