/*
 * fuzz_data_filter.c - libFuzzer target: the DATA filter (relay_data.c,
 * relay_data_filter): dot-unstuffing, the end of data, bare CR / bare LF.
 *
 * Input: byte 0 picks the chunk size (1..64) and byte 1 the output room
 * (2..65) of a second, piecewise run; the rest is message text.  Checks:
 *  1. the whole text in one call with ample room agrees with a reference
 *     decoder written from RFC 5321 4.5.2 (lines end only at CRLF; the line
 *     "." ends the data; a leading dot is dropped; a CR or LF inside a line
 *     is bare) on: done, bytes consumed, output, and the bare flag;
 *  2. feeding the same text in pieces with little output room gives the
 *     same result (the state carries across calls; nothing is lost);
 *  3. the filter never writes more than it was given room for.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    bool    done, bare;
    size_t  used, olen;
    char   *out;
};

/* reference - RFC 5321 4.5.2 over the whole text, line by line */

static void reference(const char *in, size_t len, struct result *r)
{
    size_t pos = 0;

    r->done = r->bare = false;
    r->olen = 0;
    while (pos < len) {
        size_t end = pos;

        while (end + 1 < len && !(in[end] == '\r' && in[end + 1] == '\n'))
            end++;
        if (end + 1 >= len)
            break;                      /* no CRLF: an unfinished line */
        if (end - pos == 1 && in[pos] == '.') {
            r->done = true;
            r->used = end + 2;
            return;
        }
        size_t skip = in[pos] == '.' ? 1 : 0;

        for (size_t i = pos; i < end; i++)
            if (in[i] == '\r' || in[i] == '\n')
                r->bare = true;
        memcpy(r->out + r->olen, in + pos + skip, end - pos - skip);
        r->olen += end - pos - skip;
        r->out[r->olen++] = '\r';
        r->out[r->olen++] = '\n';
        pos = end + 2;
    }
    r->used = len;                      /* not done: everything is consumed */
}

/* run - the filter, in pieces of chunk bytes with room bytes of output each */

static void run(const char *in, size_t len, size_t chunk, size_t room, struct result *r)
{
    enum relay_dot_state st = RELAY_DOT_BOL;
    size_t pos = 0;

    r->done = r->bare = false;
    r->olen = 0;
    while (pos < len && !r->done) {
        size_t n = len - pos < chunk ? len - pos : chunk, outlen = room;
        size_t used = relay_data_filter(&st, &r->bare, in + pos, n, r->out + r->olen, &outlen,
                                        &r->done);

        if (used > n || outlen > room)
            abort();
        if (used == 0 && outlen == 0 && !r->done)
            abort();                    /* no progress */
        pos += used;
        r->olen += outlen;
    }
    r->used = pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result whole, pieces, ref;
    const char *in;
    size_t len, chunk, room;

    if (size < 2)
        return 0;
    chunk = (size_t)(data[0] % 64) + 1;
    room = (size_t)(data[1] % 64) + 2;
    in = (const char *)data + 2;
    len = size - 2;
    whole.out = malloc(len + 2);
    pieces.out = malloc(len + 2);
    ref.out = malloc(len + 2);
    run(in, len, len ? len : 1, len + 2, &whole);
    run(in, len, chunk, room, &pieces);
    reference(in, len, &ref);
    if (whole.done != pieces.done || whole.bare != pieces.bare || whole.used != pieces.used
        || whole.olen != pieces.olen || memcmp(whole.out, pieces.out, whole.olen) != 0)
        abort();                        /* piecewise differs from whole */
    if (ref.done) {
        if (!whole.done || whole.used != ref.used || whole.olen != ref.olen
            || whole.bare != ref.bare || memcmp(whole.out, ref.out, ref.olen) != 0)
            abort();                    /* differs from RFC 5321 4.5.2 */
    } else if (whole.done) {
        abort();                        /* ended where no "." line is */
    }
    free(whole.out);
    free(pieces.out);
    free(ref.out);
    return 0;
}
