/*
 * policy_edit.c - in-place editing of one INI key.
 *
 * CONTRACT
 *  Pure string functions: no I/O; results are new strings owned by the
 *  caller.  Section kinds, names and keys compare case-insensitively, as
 *  the loader does ("[partner D]" also without D's trailing dot); a
 *  section header is "[kind name]" alone on its line, and the blanks
 *  between kind and name do not matter.
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

/* edit_split - a header's text as kind and name (each trimmed; name may be empty) */

static void edit_split(const char *s, size_t n, const char **kind, size_t *kn,
                       const char **name, size_t *nn)
{
    edit_trim(&s, &n);
    *kind = s;
    for (*kn = 0; *kn < n && !isspace((unsigned char)s[*kn]); (*kn)++)
        ;
    *name = s + *kn;
    *nn = n - *kn;
    edit_trim(name, nn);
}

/* edit_same - is the header text [hdr] the section "kind name"?  Kinds and
 * names compare without regard to case and the blanks between them; a
 * partner's domain also without a trailing dot, as the loader does */

static bool edit_same(const char *hdr, size_t n, const char *section)
{
    const char *k1, *n1, *k2, *n2;
    size_t  kl1, nl1, kl2, nl2;

    edit_split(hdr, n, &k1, &kl1, &n1, &nl1);
    edit_split(section, strlen(section), &k2, &kl2, &n2, &nl2);
    if (kl1 != kl2 || strncasecmp(k1, k2, kl1) != 0)
        return false;
    if (kl1 == 7 && strncasecmp(k1, "partner", 7) == 0) {
        if (nl1 > 1 && n1[nl1 - 1] == '.')
            nl1--;
        if (nl2 > 1 && n2[nl2 - 1] == '.')
            nl2--;
    }
    return nl1 == nl2 && strncasecmp(n1, n2, nl1) == 0;
}

/* edit_is_section - is line "[section]"? sets *is_header for any header */

static bool edit_is_section(const char *line, size_t n, const char *section, bool *is_header)
{
    edit_trim(&line, &n);
    *is_header = n >= 2 && line[0] == '[' && line[n - 1] == ']';
    return *is_header && edit_same(line + 1, n - 2, section);
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
    const char *header;                 /* the section's header line */
    const char *insert_at;              /* after the section's header or last key line */
};

/*
 * edit_scan - find the key's line in the first [section]: byte ranges of
 * that line, of the section's header and the end of its last key line,
 * and whether the section exists.
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

        if (edit_is_section(l, n, section, &header) && !p->in_section_seen) {
            in = true;                  /* the first (a repeat is a config error) */
            p->in_section_seen = true;
            p->header = l;
            p->insert_at = end;
        } else if (header) {
            in = false;
        } else if (in) {
            const char *t = l;
            size_t tn = n;

            edit_trim(&t, &tn);
            if (tn > 0 && t[0] != ';' && t[0] != '#')
                p->insert_at = end;     /* comments after the last key head the next */
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

/* edit_blank - is the line from l (to its newline or the end) blank? */

static bool edit_blank(const char *l)
{
    while (*l == ' ' || *l == '\t' || *l == '\r')
        l++;
    return *l == '\n' || *l == '\0';
}

/* policy_edit_remove - text without [section]: its header and its lines up
 * to its last key (comments after that are the next section's) */

char *policy_edit_remove(const char *text, const char *section)
{
    struct edit_pos p;
    const char *start, *end, *prev;

    edit_scan(text, section, "", &p);
    if (!p.in_section_seen)
        return NULL;
    start = p.header;
    end = p.insert_at;
    /* One blank line of the two around the section goes with it. */
    prev = start;
    if (prev > text)
        for (prev--; prev > text && prev[-1] != '\n'; prev--)
            ;
    if ((start == text || edit_blank(prev)) && *end != '\0' && edit_blank(end))
        end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
    else if (start > text && edit_blank(prev) && *end == '\0')
        start = prev;                   /* the last section: the blank line before it */
    return xasprintf("%.*s%s", (int)(start - text), text, end);
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
