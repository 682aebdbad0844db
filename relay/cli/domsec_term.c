/*
 * domsec_term.c - text from outside (a message, a peer, a sender) made safe
 * for a terminal, for the human output of the commands (--json keeps it).
 *
 * CONTRACT
 *  C0 controls and DEL become \xHH and C1 controls (U+0080-U+009F, UTF-8)
 *  \u00HH, so no byte a sender or a peer chose reaches the terminal as a
 *  control: no escape sequence, no line of its own.  With lines, TAB, LF and
 *  the CR of a CRLF stay (headers and bodies); without, the text is one line.
 *  domsec_term() returns a result that lives until DOMSEC_TERM_RING more
 *  calls (enough for the arguments of one printf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domsec_cmd.h"
#include "log.h"

/* domsec_term_text - s escaped for a terminal (xmalloc()ed) */

char *domsec_term_text(const char *s, bool lines)
{
    const unsigned char *p = (const unsigned char *)s;
    char   *out = xmalloc(strlen(s) * 4 + 1), *o = out;

    for (; *p; p++) {
        bool    keep = lines && (*p == '\t' || *p == '\n' || (*p == '\r' && p[1] == '\n'));

        if ((*p < 0x20 && !keep) || *p == 0x7f)
            o += sprintf(o, "\\x%02X", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            o += sprintf(o, "\\u%04X", *++p);
        else
            *o++ = (char)*p;
    }
    *o = '\0';
    return out;
}

/* domsec_term - domsec_term_text(s ?: "", lines), freed DOMSEC_TERM_RING calls later */

#define DOMSEC_TERM_RING 16

const char *domsec_term(const char *s, bool lines)
{
    static char *ring[DOMSEC_TERM_RING];
    static unsigned k;

    free(ring[k]);
    ring[k] = domsec_term_text(s != NULL ? s : "", lines);
    s = ring[k];
    k = (k + 1) % DOMSEC_TERM_RING;
    return s;
}
