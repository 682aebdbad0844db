/*
 * leak_at_start.c - LD_PRELOAD library for test_sanitizer_reports.py: a
 * real leak in a real process.  Its constructor allocates LEAK_SIZE bytes
 * LEAK_COUNT times and drops every pointer, so that LeakSanitizer, in a
 * process that runs it (domsecd of the ASan build, with the sanitizer
 * runtime preloaded first), reports "Direct leak of 4321 byte(s)" at exit.
 * The bytes are written and the pointer passes through a volatile, so the
 * compiler keeps the allocations; several of them, so that a stale copy of
 * the last pointer on the stack cannot hide them all.
 */
#include <stdlib.h>
#include <string.h>

#define LEAK_SIZE  4321
#define LEAK_COUNT 4

void   *volatile leak_at_start_last;

/* leak_at_start - the constructor: allocate and forget */

__attribute__((constructor)) static void leak_at_start(void)
{
    int     i;
    char   *p;

    for (i = 0; i < LEAK_COUNT; i++) {
        p = malloc(LEAK_SIZE);
        if (p == NULL)
            return;
        memset(p, 'L', LEAK_SIZE);
        leak_at_start_last = p;
    }
    leak_at_start_last = NULL;
}
