/*
 * relay_qshow_test.c - queue.show's split of a message into its header
 * section (shown to readers) and its body (administrators only), on the
 * fake world of qmgr_world.h:
 *
 *  usual      fields, a folded one, the empty line: headers and body;
 *  no header  a message that starts with its text: no headers at all
 *             (was: its first paragraph, up to the first empty line,
 *             shown to readers as "headers");
 *  no blank   fields, then a line that is no field: the body starts there;
 *  paging     a body page starts where the body does.
 */
#include "qmgr_world.h"

static const struct {
    const char *label, *data, *headers, *body;
} cases[] = {
    { "usual", "Subject: hi\r\n folded\r\nX-A:b\r\n\r\nbody\r\n\r\nmore\r\n",
      "Subject: hi\r\n folded\r\nX-A:b\r\n", "body\r\n\r\nmore\r\n" },
    { "no header", "Dear Bob,\r\nthe password is: hunter2\r\n\r\nBye\r\n",
      "", "Dear Bob,\r\nthe password is: hunter2\r\n\r\nBye\r\n" },
    { "continuation first", " Subject: x\r\n\r\nb\r\n", "", " Subject: x\r\n\r\nb\r\n" },
    { "no empty line", "Subject: x\r\nhello there: you\r\n\r\nb\r\n", "Subject: x\r\n",
      "hello there: you\r\n\r\nb\r\n" },
    { "obsolete space before colon", "Subject : x\r\n\r\nb\r\n", "Subject : x\r\n", "b\r\n" },
    { "colon first", ": x\r\n\r\nb\r\n", "", ": x\r\n\r\nb\r\n" },
    { "headers only", "Subject: x\r\nTo: y\r\n", "Subject: x\r\nTo: y\r\n", "" },
    { "LF only", "Subject: x\n\nb\n", "Subject: x\n", "b\n" },
};

static void test_show_split(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[RELAY_QID_LEN + 1];
        struct relay_admin_req *req;
        const struct relay_admin_msg *m;

        print_message("%s\n", cases[i].label);
        snprintf(id, sizeof(id), "%016zX", 0xA00 + i);
        put_msg_data(id, T0, "s@sender.test", "r@a.test", cases[i].data,
                     "hold 1795341600000 0\n");    /* stays put */
        qmgr_notify(q, id);
        settle(q);
        req = admin_req_id(RELAY_ADMIN_SHOW, id);
        req->want_body = true;
        admin_run(q, req);
        assert_int_equal(req->status, RELAY_ADMIN_OK);
        m = &req->msgs[0];
        assert_int_equal(m->headers_len, strlen(cases[i].headers));
        assert_memory_equal(m->headers, cases[i].headers, m->headers_len);
        assert_int_equal(m->body_len, strlen(cases[i].body));
        assert_memory_equal(m->body, cases[i].body, m->body_len);
        assert_false(m->body_more);
        relay_admin_req_free(req);
    }
}

/* The second page of a body starts body_off bytes into the body. */
static void test_show_body_offset(void **state)
{
    struct fx *fx = *state;
    struct qmgr *q = fx->q;
    const char *id = "0000000000000B01";
    struct relay_admin_req *req;

    put_msg_data(id, T0, "s@sender.test", "r@a.test", "no header here\r\n\r\nrest\r\n",
                 "hold 1795341600000 0\n");
    qmgr_notify(q, id);
    settle(q);
    req = admin_req_id(RELAY_ADMIN_SHOW, id);
    req->want_body = true;
    req->body_off = 3;
    admin_run(q, req);
    assert_int_equal(req->status, RELAY_ADMIN_OK);
    assert_int_equal(req->msgs[0].headers_len, 0);
    assert_string_equal(req->msgs[0].body, "header here\r\n\r\nrest\r\n");
    relay_admin_req_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_show_split, fx_default, fx_teardown),
        cmocka_unit_test_setup_teardown(test_show_body_offset, fx_default, fx_teardown),
    };

    (void)fx_one_conn;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
