/*
 * log_alloc.c - allocation that cannot fail silently.
 *
 * CONTRACT
 *  Each function returns usable memory or logs a panic-level line and
 *  aborts: callers never check for NULL.  xmalloc(0) returns a unique
 *  pointer.  Thread-safe (wraps libc).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* xoom - out of memory */

static void xoom(size_t n) __attribute__((noreturn));

static void xoom(size_t n)
{
    log_panic("alloc", "out of memory size=%zu", n);
}

/* xmalloc - malloc or die */

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        xoom(n);
    return p;
}

/* xcalloc - calloc or die */

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        xoom(nmemb * size);
    return p;
}

/* xrealloc - realloc or die */

void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);

    if (p == NULL)
        xoom(n);
    return p;
}

/* xstrdup - strdup or die */

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes and terminate */

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* xasprintf - format into a new string */

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    if (vasprintf(&p, fmt, ap) < 0)
        xoom(strlen(fmt));
    va_end(ap);
    return p;
}
