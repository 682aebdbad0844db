/*
 * fuzz_data_headers.c - libFuzzer target: the header firewall of the DATA
 * phase (relay/smtpd/relay_data.c, relay_data_headers), which drops every
 * X-MS-Exchange-Organization-* header (and its folded lines) a client
 * sends, so nobody outside can forge the domain-security stamp (SPEC 3).
 *
 * White-box: relay_data.c is compiled into this file; the spool and the
 * session functions it calls are stand-ins (the spool collects the bytes).
 * Input: byte 0 picks the piece size (1..64) the text is fed in; the rest
 * is message text, made what the firewall can get (relay__data_feed stops
 * feeding it at the first bare CR or LF): every CR dropped, every LF made
 * CRLF, and a CRLF added at the end.  Check: the spooled bytes equal a
 * reference - the header section (up to the first empty line) without
 * each line whose name starts "x-ms-exchange-organization-" in any case,
 * nor the folded lines (starting with a space or tab) that follow it;
 * then the body untouched - for every piece size.  The TLS-Required: No
 * scan (relay_data_tlsreq_scan) gives the same verdict fed in pieces as fed
 * whole, and says "no" only when the header section names the field.
 */
#include "../relay/smtpd/relay_data.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The stand-in spool: one growing buffer. */
struct relay_spool {
    char   *p;
    size_t  len, cap;
};

void relay_spool_append(struct relay_spool *sp, const void *p, size_t n)
{
    if (sp->len + n > sp->cap) {
        sp->cap = (sp->len + n) * 2;
        sp->p = realloc(sp->p, sp->cap);
    }
    memcpy(sp->p + sp->len, p, n);
    sp->len += n;
}

struct relay_spool *relay_spool_begin(struct relay_worker *w, const char *id,
                                      const char *envelope, size_t envlen)
{
    abort();                            /* not reached: the harness makes its own */
}

size_t relay_spool_buffered(const struct relay_spool *sp) { return sp->len; }
bool relay_spool_busy(const struct relay_spool *sp) { return false; }
int relay_spool_flush(struct relay_spool *sp, relay_spool_cb cb, void *arg) { abort(); }
void relay_spool_commit(struct relay_spool *sp, relay_spool_cb cb, void *arg) { abort(); }
void relay_spool_abort(struct relay_spool *sp, relay_spool_cb cb, void *arg) { abort(); }
void relay_spool_set_record(struct relay_spool *sp, const char *records) { abort(); }
void relay_queue_new_id(char out[RELAY_QID_LEN + 1]) { abort(); }

/* Stand-ins for relay_session.c: never reached from relay_data_headers. */
void relay__reply(struct relay_session *s, const char *fmt, ...) { abort(); }
void relay__close(struct relay_session *s, enum relay_close_reason why) { abort(); }
void relay__enter_state(struct relay_session *s, enum relay_state st) { abort(); }
void relay__process(struct relay_session *s) { abort(); }
void relay__tx_free(struct relay_session *s) { abort(); }

/* names_field - "tls-required" occurs in text, in any case */

static bool names_field(const char *text, size_t len)
{
    for (size_t i = 0; i + 12 <= len; i++)
        if (strncasecmp(text + i, "tls-required", 12) == 0)
            return true;
    return false;
}

/* reference - the header section without the organization headers */

static size_t reference(const char *in, size_t len, char *out)
{
    static const char xms[] = "x-ms-exchange-organization-";
    size_t pos = 0, o = 0;
    bool drop = false;

    while (pos < len) {
        const char *nl = memchr(in + pos, '\n', len - pos);
        size_t n = (size_t)(nl - (in + pos)) + 1;      /* the text always ends in LF */

        if (n == 2) {                   /* the empty line: the body follows, as is */
            memcpy(out + o, in + pos, len - pos);
            return o + len - pos;
        }
        if (in[pos] != ' ' && in[pos] != '\t')
            drop = n > sizeof(xms) - 1 && strncasecmp(in + pos, xms, sizeof(xms) - 1) == 0;
        if (!drop) {
            memcpy(out + o, in + pos, n);
            o += n;
        }
        pos += n;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_spool sp = { NULL, 0, 0 };
    struct relay_tx tx;
    struct relay_tlsreq whole = { 0 }, pieces = { 0 };
    char *text, *ref;
    size_t len = 0, chunk, rlen;

    if (size < 1)
        return 0;
    chunk = (size_t)(data[0] % 64) + 1;
    text = malloc(2 * size + 2);
    for (size_t i = 1; i < size; i++) {
        if (data[i] == '\r')
            continue;
        if (data[i] == '\n')
            text[len++] = '\r';
        text[len++] = (char)data[i];
    }
    text[len++] = '\r';
    text[len++] = '\n';
    memset(&tx, 0, sizeof(tx));
    tx.spool = &sp;
    tx.hdr_bol = true;                  /* as relay__data_begin leaves it */
    for (size_t pos = 0; pos < len; pos += chunk) {
        relay_data_headers(&tx, text + pos, len - pos < chunk ? len - pos : chunk);
        relay_data_tlsreq_scan(&pieces, text + pos, len - pos < chunk ? len - pos : chunk);
    }
    relay_data_tlsreq_scan(&whole, text, len);
    ref = malloc(len);
    rlen = reference(text, len, ref);
    if (sp.len != rlen || (rlen > 0 && memcmp(sp.p, ref, rlen) != 0))
        abort();                        /* the firewall let something through, or lost text */
    if (whole.no != pieces.no)
        abort();                        /* the scan depends on how the text was split */
    if (whole.no && !names_field(text, len))
        abort();                        /* "no" without the field */
    free(ref);
    free(text);
    free(sp.p);
    return 0;
}
