/*
 * fuzz_dsn.c - libFuzzer target: the DSN builder (relay/qmgr/relay_dsn.c),
 * which reads the original message's header section and peer text
 * (remote replies, addresses, status codes) into an RFC 3464 report.
 *
 * Input: byte 0 = flags (bit 0: delay DSN, bit 1: a second recipient,
 * bit 2: an arrival date); then fields separated by NUL bytes: recipient,
 * status, diagnostic (the remote reply), remote MTA, original sender,
 * queue id; whatever follows the sixth NUL is the original message.
 * Checks the builder's contract (relay_dsn.h): *len is the length, the
 * buffer is NUL-terminated there, every line ends in CRLF (no bare CR or
 * LF) and none is over 998 octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay_dsn.h"

#define FUZZ_FIELDS 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - the wire rules of relay_dsn.h */

static void check(const char *out, size_t len)
{
    size_t col = 0;

    if (out == NULL || out[len] != '\0')
        abort();
    for (size_t i = 0; i < len; i++) {
        if (out[i] == '\r') {
            if (i + 1 >= len || out[i + 1] != '\n')
                abort();                /* bare CR */
            i++;
            col = 0;
            continue;
        }
        if (out[i] == '\n')
            abort();                    /* bare LF */
        if (++col > 998)
            abort();                    /* a line over 998 octets */
    }
    if (col != 0)
        abort();                        /* the last line has no CRLF */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy, *f[FUZZ_FIELDS], *p, *end, *out;
    struct relay_dsn_rcpt r[2];
    struct relay_dsn_input in;
    size_t len = 0;
    uint8_t flags;

    if (size < 1)
        return 0;
    flags = data[0];
    copy = malloc(size);                /* fields NUL-terminated in place */
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    p = copy;
    end = copy + size - 1;
    for (int i = 0; i < FUZZ_FIELDS; i++) {
        f[i] = p;
        p += strlen(p);
        if (p < end)
            p++;
    }
    memset(r, 0, sizeof(r));
    r[0] = (struct relay_dsn_rcpt){ .addr = f[0], .status = f[1], .diagnostic = f[2],
                                    .remote_mta = f[3][0] ? f[3] : NULL,
                                    .last_attempt_ms = 1796000000000ULL };
    r[1] = (struct relay_dsn_rcpt){ .addr = f[2], .status = f[1][0] ? NULL : f[0],
                                    .diagnostic = NULL, .remote_mta = f[3] };
    in = (struct relay_dsn_input){
        .kind = (flags & 1) ? RELAY_DSN_DELAY : RELAY_DSN_FAILURE,
        .reporting_mta = "mx.contoso.test", .queue_id = f[5], .original_sender = f[4],
        .postmaster = "postmaster@contoso.test",
        .arrival_ms = (flags & 4) ? 1795990000000ULL : 0, .now_ms = 1796000000000ULL,
        .message = p, .message_len = (size_t)(end - p), .rcpts = r,
        .nrcpts = (flags & 2) ? 2 : 1,
    };
    out = relay_dsn_build(&in, &len);
    check(out, len);
    free(out);
    free(copy);
    return 0;
}
