/*
 * policy_table_set.c - values into the fields the configuration table
 * describes: parse, default, free and print (policy_table.c holds the
 * table itself and the look-ups by name).
 *
 * CONTRACT
 *  policy__table_set() writes into the struct given as `base` (struct
 *  cfg_receive for PT_RECEIVE, ...); values it stores are owned by that
 *  struct and released by policy__table_free().  It returns 0, or -1 after
 *  adding its errors ("WHERE: key: \"value\" why") to errs and leaving the
 *  old value in place.  Defaults are applied by parsing their text with
 *  the same code as a value from the file, so a default can never bypass
 *  a check; a default that fails to parse is a bug: log_panic().  Every
 *  function is reentrant; the table is const.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

#define PT_NKEYS policy__nkeys
#define FIELD(base, k, T) ((T *)((char *)(base) + (k)->off))
#define CFIELD(base, k, T) ((const T *)((const char *)(base) + (k)->off))
#define COUNT(base, k) ((size_t *)((char *)(base) + (k)->off_n))

/* list_free - free a domain list */

static void list_free(struct cfg_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

/* bad - report one bad item of key k */

static int bad(const struct pt_key *k, const char *where, struct cfg_errors *errs,
               const char *item, const char *why)
{
    policy__error(errs, "%s: %s: \"%s\" %s", where, k->name, item, why);
    return -1;
}

/* format_number - a numeric value of key k the way it is written; auto: 0 as "auto" */

static void format_number(const struct pt_key *k, uint64_t n, bool words, char *buf,
                          size_t sz)
{
    if (k->type == PT_SIZE)
        policy__format_size(n, buf, sz);
    else if (k->type == PT_DURATION)
        policy__format_duration(n, buf, sz);
    else if (words && (k->flags & PT_F_AUTO) && n == 0)
        snprintf(buf, sz, "auto");
    else
        snprintf(buf, sz, "%llu", (unsigned long long)n);
}

/* set_number - size, duration, uint and port values with bounds */

static int set_number(const struct pt_key *k, void *base, const char *v,
                      const char *where, struct cfg_errors *errs)
{
    const char *why;
    uint64_t n;
    char lo[32], hi[32];
    int rc;

    if (k->type == PT_SIZE)
        rc = policy_parse_size(v, &n, &why);
    else if (k->type == PT_DURATION)
        rc = policy_parse_duration(v, &n, &why);
    else if ((k->flags & PT_F_AUTO) && strcasecmp(v, "auto") == 0) {
        n = 0;
        rc = 0;
    } else
        rc = policy__parse_uint(v, &n, &why);
    if (rc < 0)
        return bad(k, where, errs, v, why);
    if (n < k->min || n > k->max) {
        format_number(k, k->min, false, lo, sizeof(lo));
        format_number(k, k->max, false, hi, sizeof(hi));
        policy__error(errs, "%s: %s: \"%s\" is out of bounds (min %s, max %s)",
                      where, k->name, v, lo, hi);
        return -1;
    }
    if (k->type == PT_UINT)
        *FIELD(base, k, unsigned) = (unsigned)n;
    else if (k->type == PT_PORT)
        *FIELD(base, k, int) = (int)n;
    else
        *FIELD(base, k, uint64_t) = n;
    return 0;
}

/* set_string - the char * types: check, normalise, replace */

static int set_string(const struct pt_key *k, void *base, const char *v,
                      const char *where, struct cfg_errors *errs)
{
    char buf[256], **field = FIELD(base, k, char *);
    const char *why = NULL, *keep = v;

    switch (k->type) {
    case PT_STRING:
        if (*v == '\0' || strpbrk(v, " \t,;:/") || strlen(v) > 64)
            why = "is not a valid name";
        break;
    case PT_PATH:
        if ((k->flags & PT_F_SOCKET) && *v == '\0') {    /* none */
            free(*field);
            *field = NULL;
            return 0;
        }
        if (v[0] != '/' && !((k->flags & PT_F_EMPTY) && *v == '\0'))
            why = "is not an absolute path";
        else if ((k->flags & PT_F_SOCKET) && strlen(v) > 107)
            why = "is longer than 107 bytes (the limit of a Unix socket path)";
        break;
    case PT_TEXT:
        if (*v == '\0')
            why = "is empty";
        else if (strlen(v) > 500)
            why = "is longer than 500 characters";
        else if ((k->flags & PT_F_UTF8) && !policy__text_utf8(v))
            why = "is not valid UTF-8";
        else if ((k->flags & PT_F_MAILBOX) && !policy__text_mailbox(v))
            why = "is not a mail address";
        break;
    case PT_DOMAIN:
        if (policy_parse_domain(v, buf, sizeof(buf), &why) == 0)
            keep = buf;
        break;
    case PT_THUMBPRINT:
        if (policy__parse_thumbprint(v, buf, sizeof(buf), &why) == 0)
            keep = buf;
        break;
    default:
        log_panic("policy", "set_string: type %d", (int)k->type);
    }
    for (const char *p = v; why == NULL && *p; p++)
        if (iscntrl((unsigned char)*p))
            why = "contains control characters";
    if (why)
        return bad(k, where, errs, v, why);
    free(*field);
    *field = xstrdup(keep);
    return 0;
}

/* set_enum - one name of the key's name/code table */

static int set_enum(const struct pt_key *k, void *base, const char *v,
                    const char *where, struct cfg_errors *errs)
{
    char names[128] = "";

    for (const struct pt_enum *e = k->names; e->name; e++) {
        if (strcasecmp(v, e->name) == 0) {
            *FIELD(base, k, int) = e->code;
            return 0;
        }
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                 e == k->names ? "" : " or ", e->name);
    }
    policy__error(errs, "%s: %s: \"%s\" is not valid (use %s)", where, k->name, v, names);
    return -1;
}

/* set_domains - a domain list; wildcard forms as the key's flags allow */

static int set_domains(const struct pt_key *k, void *base, const char *v,
                       const char *where, struct cfg_errors *errs)
{
    struct cfg_list list = {NULL, 0}, *field = FIELD(base, k, struct cfg_list);
    char tok[512], dom[260];
    const char *why;
    int rc = 0;

    while (policy__list_next(&v, tok, sizeof(tok))) {
        bool sub = (k->flags & PT_F_SUBDOMAINS) && strncmp(tok, "*.", 2) == 0;

        if ((k->flags & PT_F_STAR) && strcmp(tok, "*") == 0) {
            policy__list_add(&list, "*");
        } else if (policy_parse_domain(tok + (sub ? 2 : 0), dom + 2, sizeof(dom) - 2,
                                       &why) == 0) {
            memcpy(dom, "*.", 2);
            policy__list_add(&list, dom + (sub ? 0 : 2));
        } else {
            rc = bad(k, where, errs, tok, why);
        }
    }
    if (rc < 0) {
        list_free(&list);
        return rc;
    }
    list_free(field);
    *field = list;
    return 0;
}

/* array_free - free an array of bindings, ranges, smart hosts or pins */

static void array_free(const struct pt_key *k, void *arr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (k->type == PT_BINDINGS)
            free(((struct cfg_binding *)arr)[i].text);
        else if (k->type == PT_SMARTHOSTS)
            free(((struct cfg_smarthost *)arr)[i].host);
    }
    free(arr);
}

/* set_array - bindings, ranges, smart hosts, pins */

static int set_array(const struct pt_key *k, void *base, const char *v,
                     const char *where, struct cfg_errors *errs)
{
    size_t elt = k->type == PT_BINDINGS ? sizeof(struct cfg_binding)
        : k->type == PT_RANGES ? sizeof(struct cfg_range)
        : k->type == PT_PINS ? sizeof(struct cfg_pin) : sizeof(struct cfg_smarthost);
    char tok[512], *arr = NULL;
    size_t n = 0;
    const char *why;
    int rc = 0;

    while (policy__list_next(&v, tok, sizeof(tok))) {
        union {
            struct cfg_binding b;
            struct cfg_range r;
            struct cfg_smarthost h;
            struct cfg_pin p;
        } u;
        int ok = k->type == PT_BINDINGS ? policy_parse_binding(tok, &u.b, &why)
            : k->type == PT_RANGES ? policy_parse_range(tok, &u.r, &why)
            : k->type == PT_PINS ? policy_parse_pin(tok, &u.p, &why)
            : policy_parse_smarthost(tok, &u.h, &why);
        bool dup = false;

        if (ok < 0) {
            rc = bad(k, where, errs, tok, why);
            continue;
        }
        for (size_t i = 0; i < n && k->type != PT_SMARTHOSTS; i++)
            dup |= k->type == PT_BINDINGS
                ? strcmp(((struct cfg_binding *)arr)[i].text, u.b.text) == 0
                : memcmp(arr + i * elt, &u, elt) == 0;
        if (dup) {                      /* a repeated binding, range or pin is dropped */
            if (k->type == PT_BINDINGS)
                free(u.b.text);
            continue;
        }
        arr = xrealloc(arr, (n + 1) * elt);
        memcpy(arr + n * elt, &u, elt);
        n++;
    }
    if (rc < 0) {
        array_free(k, arr, n);
        return rc;
    }
    array_free(k, *FIELD(base, k, char *), *COUNT(base, k));
    *FIELD(base, k, char *) = arr;
    *COUNT(base, k) = n;
    return 0;
}

/* set_addresses - "servers": a list of resolver addresses, stored as csv */

static int set_addresses(const struct pt_key *k, void *base, const char *v,
                         const char *where, struct cfg_errors *errs)
{
    char tok[512], one[80], **field = FIELD(base, k, char *);
    char *csv = NULL, *tmp;
    const char *why;
    int rc = 0;

    while (policy__list_next(&v, tok, sizeof(tok))) {
        if (policy__parse_dns_server(tok, one, sizeof(one), &why) < 0) {
            rc = bad(k, where, errs, tok, why);
            continue;
        }
        tmp = csv ? xasprintf("%s,%s", csv, one) : xstrdup(one);
        free(csv);
        csv = tmp;
    }
    if (rc < 0) {
        free(csv);
        return rc;
    }
    free(*field);
    *field = csv;
    return 0;
}

/* policy__table_set - parse one value into its field */

int policy__table_set(int idx, void *base, const char *v, const char *where,
                      struct cfg_errors *errs)
{
    const struct pt_key *k = &policy__table[idx];
    struct sockaddr_storage ss;
    const char *why;

    switch (k->type) {
    case PT_STRING:
    case PT_PATH:
    case PT_TEXT:
    case PT_DOMAIN:
    case PT_THUMBPRINT:
        return set_string(k, base, v, where, errs);
    case PT_BOOL:
        if (policy_parse_bool(v, FIELD(base, k, bool), &why) < 0)
            return bad(k, where, errs, v, why);
        return 0;
    case PT_SIZE:
    case PT_DURATION:
    case PT_UINT:
    case PT_PORT:
        return set_number(k, base, v, where, errs);
    case PT_ENUM:
        return set_enum(k, base, v, where, errs);
    case PT_DOMAINS:
        return set_domains(k, base, v, where, errs);
    case PT_BINDINGS:
    case PT_RANGES:
    case PT_SMARTHOSTS:
    case PT_PINS:
        return set_array(k, base, v, where, errs);
    case PT_ADDRESS:
        if (policy__parse_address(v, &ss, &why) < 0)
            return bad(k, where, errs, v, why);
        *FIELD(base, k, struct sockaddr_storage) = ss;
        return 0;
    case PT_ADDRESSES:
        return set_addresses(k, base, v, where, errs);
    }
    log_panic("policy", "policy__table_set: type %d", (int)k->type);
}

/* policy__table_defaults - apply the defaults of one section */

void policy__table_defaults(enum pt_section sec, void *base)
{
    struct cfg_errors errs = {NULL, 0};
    char host[256];

    for (size_t i = 0; i < PT_NKEYS; i++) {
        const struct pt_key *k = &policy__table[i];
        const char *def = k->def;

        if (k->sec != sec)
            continue;
        if (k->flags & PT_F_HOSTNAME) {
            if (gethostname(host, sizeof(host)) < 0)
                host[0] = '\0';
            host[sizeof(host) - 1] = '\0';
            def = host;
            /* An unusable host name must not make every config invalid. */
            if (policy__table_set((int)i, base, def, "default", &errs) == 0)
                continue;
            policy_config_errors_free(&errs);
            def = "localhost";
        }
        if (def && policy__table_set((int)i, base, def, "default", &errs) < 0)
            log_panic("policy", "bad default: %s", errs.v[0]);
    }
}

/* policy__table_free - free what a section's fields own */

void policy__table_free(enum pt_section sec, void *base)
{
    for (size_t i = 0; i < PT_NKEYS; i++) {
        const struct pt_key *k = &policy__table[i];

        if (k->sec != sec)
            continue;
        switch (k->type) {
        case PT_STRING:
        case PT_PATH:
        case PT_TEXT:
        case PT_DOMAIN:
        case PT_THUMBPRINT:
        case PT_ADDRESSES:
            free(*FIELD(base, k, char *));
            *FIELD(base, k, char *) = NULL;
            break;
        case PT_DOMAINS:
            list_free(FIELD(base, k, struct cfg_list));
            break;
        case PT_BINDINGS:
        case PT_RANGES:
        case PT_SMARTHOSTS:
        case PT_PINS:
            array_free(k, *FIELD(base, k, void *), *COUNT(base, k));
            *FIELD(base, k, void *) = NULL;
            *COUNT(base, k) = 0;
            break;
        default:
            break;
        }
    }
}

/* print_array - the elements of an array key, comma separated */

static void print_array(const struct pt_key *k, const void *base, FILE *fp)
{
    const void *arr = *CFIELD(base, k, void *);
    size_t n = *(const size_t *)((const char *)base + k->off_n);
    char buf[300];

    if (n == 0)
        return;
    fprintf(fp, "%s = ", k->name);
    for (size_t i = 0; i < n; i++) {
        if (k->type == PT_BINDINGS)
            snprintf(buf, sizeof(buf), "%s", ((const struct cfg_binding *)arr)[i].text);
        else if (k->type == PT_RANGES)
            policy__format_range(&((const struct cfg_range *)arr)[i], buf, sizeof(buf));
        else if (k->type == PT_PINS)
            policy_format_pin(((const struct cfg_pin *)arr)[i].sha256, buf);
        else
            policy__format_smarthost(&((const struct cfg_smarthost *)arr)[i], buf,
                                     sizeof(buf));
        fprintf(fp, "%s%s", i ? ", " : "", buf);
    }
    fputc('\n', fp);
}

/* policy__table_print - "key = value" for each key of a section that has a value */

void policy__table_print(enum pt_section sec, const void *base, FILE *fp)
{
    char buf[64];

    for (size_t i = 0; i < PT_NKEYS; i++) {
        const struct pt_key *k = &policy__table[i];

        if (k->sec != sec)
            continue;
        switch (k->type) {
        case PT_STRING:
        case PT_PATH:
        case PT_TEXT:
        case PT_DOMAIN:
        case PT_THUMBPRINT:
        case PT_ADDRESSES:
            if (*CFIELD(base, k, char *))
                fprintf(fp, "%s = %s\n", k->name, *CFIELD(base, k, char *));
            break;
        case PT_BOOL:
            fprintf(fp, "%s = %s\n", k->name, *CFIELD(base, k, bool) ? "yes" : "no");
            break;
        case PT_SIZE:
        case PT_DURATION:
            format_number(k, *CFIELD(base, k, uint64_t), true, buf, sizeof(buf));
            fprintf(fp, "%s = %s\n", k->name, buf);
            break;
        case PT_UINT:
            format_number(k, *CFIELD(base, k, unsigned), true, buf, sizeof(buf));
            fprintf(fp, "%s = %s\n", k->name, buf);
            break;
        case PT_PORT:
            fprintf(fp, "%s = %d\n", k->name, *CFIELD(base, k, int));
            break;
        case PT_ENUM:
            for (const struct pt_enum *e = k->names; e->name; e++)
                if (e->code == *CFIELD(base, k, int))
                    fprintf(fp, "%s = %s\n", k->name, e->name);
            break;
        case PT_DOMAINS: {
            const struct cfg_list *l = CFIELD(base, k, struct cfg_list);

            if (l->n == 0)
                break;
            fprintf(fp, "%s = ", k->name);
            for (size_t j = 0; j < l->n; j++)
                fprintf(fp, "%s%s", j ? ", " : "", l->v[j]);
            fputc('\n', fp);
            break;
        }
        case PT_BINDINGS:
        case PT_RANGES:
        case PT_SMARTHOSTS:
        case PT_PINS:
            print_array(k, base, fp);
            break;
        case PT_ADDRESS:
            policy__format_address(CFIELD(base, k, struct sockaddr_storage), buf,
                                   sizeof(buf));
            if (buf[0])
                fprintf(fp, "%s = %s\n", k->name, buf);
            break;
        }
    }
}
