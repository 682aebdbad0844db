/*
 * fuzz_ctlproto.c - libFuzzer target: the control socket's wire protocol
 * (relay/ctl/relay_ctlproto.c): line framing and request parsing.
 *
 * Input: byte 0 picks the read size (1..256) the bytes are fed in; the
 * rest is what a client sends.  Every line the framer hands out goes
 * through ctlproto_parse(); an accepted request is checked against the
 * command table, a refusal must carry an error object, and every reply
 * built from it must be one line of ASCII ending in LF (the header's
 * promise).  The framer's limit is small (1 KiB) so TOO_LONG is reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_ctlproto.h"

#define FUZZ_MAX_LINE 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_reply - one line of ASCII without control characters (DEL may
 * pass: the header promises no newline and no byte >= 0x80), ended by LF */

static void check_reply(char *reply, size_t len)
{
    if (reply == NULL || len == 0 || reply[len - 1] != '\n' || strlen(reply) != len)
        abort();
    for (size_t i = 0; i + 1 < len; i++)
        if ((unsigned char)reply[i] < 0x20 || (unsigned char)reply[i] >= 0x80)
            abort();
    free(reply);
}

/* one_line - parse a line, build the reply a daemon would send */

static void one_line(const char *line, size_t len)
{
    struct ctlproto_req req;
    json_t *id = NULL, *error = NULL;
    size_t rlen;

    switch (ctlproto_parse(line, len, &req, &id, &error)) {
    case CTLPROTO_OK:
        if (req.cmd == NULL || ctlproto_cmd_find(req.cmd->name) != req.cmd
            || !json_is_object(req.args))
            abort();
        check_reply(ctlproto_reply_ok(req.id, json_object(), &rlen), rlen);
        ctlproto_req_free(&req);
        break;
    case CTLPROTO_REJECT:
    case CTLPROTO_FATAL:
        if (error == NULL)
            abort();
        check_reply(ctlproto_reply_err(id, error, &rlen), rlen);
        break;
    }
    json_decref(id);                    /* set on OK too, as relay_ctl.c expects */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctlproto_lines lb;
    size_t step, pos;

    if (size < 1)
        return 0;
    step = (size_t)data[0] + 1;
    ctlproto_lines_init(&lb, FUZZ_MAX_LINE);
    for (pos = 1; pos < size;) {
        size_t n = size - pos < step ? size - pos : step;
        size_t took = ctlproto_lines_feed(&lb, (const char *)data + pos, n);
        const char *line;
        size_t len;
        enum ctlproto_next nx;

        pos += took;
        while ((nx = ctlproto_lines_next(&lb, &line, &len)) == CTLPROTO_LINE) {
            if (len >= FUZZ_MAX_LINE || memchr(line, '\n', len) != NULL)
                abort();
            one_line(line, len);
        }
        if (nx == CTLPROTO_TOO_LONG)
            break;                      /* the daemon closes the stream */
        if (took == 0)
            abort();                    /* full, yet neither a line nor TOO_LONG */
    }
    ctlproto_lines_free(&lb);
    return 0;
}
