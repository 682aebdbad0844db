/*
 * policy_edit.c - in-place editing of one INI key.
 *
 * CONTRACT
 *  Pure string functions: no I/O; results are new strings owned by the
 *  caller.  Section names and keys compare case-insensitively, as the
 *  loader does; a section header is "[name]" alone on its line.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "policy_edit.h"

/* edit_trim - pointer/length of s without surrounding blanks */

static void edit_trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* edit_is_section - is line "[section]"? sets *is_header for any header */

static bool edit_is_section(const char *line, size_t n, const char *section, bool *is_header)
{
    edit_trim(&line, &n);
    *is_header = n >= 2 && line[0] == '[' && line[n - 1] == ']';
    if (!*is_header)
        return false;
    line++;
    n -= 2;
    edit_trim(&line, &n);
    return n == strlen(section) && strncasecmp(line, section, n) == 0;
}

/* edit_key_of - does line set key?  Its raw value in val, vlen */

static bool edit_key_of(const char *line, size_t n, const char *key, const char **val,
                        size_t *vlen)
{
    const char *eq;
    size_t klen;

    edit_trim(&line, &n);
    if (n == 0 || line[0] == ';' || line[0] == '#')
        return false;
    eq = memchr(line, '=', n);
    if (eq == NULL && (eq = memchr(line, ':', n)) == NULL)
        return false;
    klen = (size_t)(eq - line);
    while (klen > 0 && isspace((unsigned char)line[klen - 1]))
        klen--;
    if (klen != strlen(key) || strncasecmp(line, key, klen) != 0)
        return false;
    *val = eq + 1;
    *vlen = n - (size_t)(eq + 1 - line);
    for (size_t i = 0; i + 1 < *vlen; i++)          /* inline " ;" comment */
        if (isspace((unsigned char)(*val)[i]) && (*val)[i + 1] == ';') {
            *vlen = i;
            break;
        }
    edit_trim(val, vlen);
    return true;
}

struct edit_pos {                       /* what edit_scan finds */
    bool    in_section_seen;
    const char *key_line, *key_end;     /* the line setting key (incl. newline) */
    const char *val;
    size_t  vlen;
    const char *insert_at;              /* after the section's last non-blank line */
};

/*
 * edit_scan - find the key's line in [section]: byte ranges of that line,
 * of the section's last non-blank line, and whether the section exists.
 */
static void edit_scan(const char *text, const char *section, const char *key,
                      struct edit_pos *p)
{
    bool in = false;

    memset(p, 0, sizeof(*p));
    for (const char *l = text; *l != '\0';) {
        const char *nl = strchr(l, '\n'), *end = nl ? nl + 1 : l + strlen(l);
        size_t n = (size_t)((nl ? nl : end) - l);
        bool header;

        if (edit_is_section(l, n, section, &header)) {
            in = true;
            p->in_section_seen = true;
            p->insert_at = end;
        } else if (header) {
            in = false;
        } else if (in) {
            const char *t = l;
            size_t tn = n;

            edit_trim(&t, &tn);
            if (tn > 0)
                p->insert_at = end;
            if (p->key_line == NULL && edit_key_of(l, n, key, &p->val, &p->vlen)) {
                p->key_line = l;
                p->key_end = end;
            }
        }
        l = end;
    }
}

/* policy_edit_get - raw value of key in [section] */

char *policy_edit_get(const char *text, const char *section, const char *key)
{
    struct edit_pos p;

    edit_scan(text, section, key, &p);
    return p.key_line ? xstrndup(p.val, p.vlen) : NULL;
}

/* policy_edit_set - text with key in [section] set to value */

char *policy_edit_set(const char *text, const char *section, const char *key,
                      const char *value)
{
    struct edit_pos p;
    size_t len = strlen(text);
    char *line = xasprintf("%s = %s\n", key, value), *out;

    edit_scan(text, section, key, &p);
    if (p.key_line != NULL) {
        out = xasprintf("%.*s%s%s", (int)(p.key_line - text), text, line, p.key_end);
    } else if (p.in_section_seen) {
        const char *at = p.insert_at;
        bool nl = at > text && at[-1] != '\n';

        out = xasprintf("%.*s%s%s%s", (int)(at - text), text, nl ? "\n" : "", line, at);
    } else {
        out = xasprintf("%s%s\n[%s]\n%s", text, len > 0 && text[len - 1] != '\n' ? "\n" : "",
                        section, line);
    }
    free(line);
    return out;
}

/* policy_edit_list - apply adds and removes to a list value */

char *policy_edit_list(const char *value, const char *const *add, size_t nadd,
                       const char *const *remove, size_t nremove, const char **missing)
{
    char **items = NULL, *copy = xstrdup(value ? value : ""), *tok, *save = NULL, *out;
    size_t n = 0, cap = 0, len = 1;

    *missing = NULL;
    for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        items = xrealloc(items, (cap = n + 1) * sizeof(*items));
        items[n++] = xstrdup(tok);
    }
    for (size_t r = 0; r < nremove; r++) {
        size_t i;

        for (i = 0; i < n && strcasecmp(items[i], remove[r]) != 0; i++)
            ;
        if (i == n) {
            if (*missing == NULL)
                *missing = remove[r];
            continue;
        }
        free(items[i]);
        memmove(items + i, items + i + 1, (n - i - 1) * sizeof(*items));
        n--;
    }
    for (size_t a = 0; a < nadd; a++) {
        size_t i;

        for (i = 0; i < n && strcasecmp(items[i], add[a]) != 0; i++)
            ;
        if (i < n)
            continue;                   /* already there */
        items = xrealloc(items, (cap = n + 1) * sizeof(*items));
        items[n++] = xstrdup(add[a]);
    }
    (void)cap;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 2;
    out = xmalloc(len);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, ", ");
        strcat(out, items[i]);
        free(items[i]);
    }
    free(items);
    free(copy);
    return out;
}
