/*
 * policy_config.c - load, validate, share and replace the configuration.
 *
 * CONTRACT
 *  policy_config_load(path, errs) reads the INI file with libinih and
 *  returns a complete, validated, immutable struct config with one
 *  reference (the caller's), or NULL.  On NULL, errs holds every problem
 *  found, each "FILE:LINE: message" ("FILE: message" when no line applies:
 *  the file cannot be opened or read, no [receive] section); the loader
 *  never stops at the first error.  errs may be NULL; otherwise errors are
 *  appended and the caller releases them with policy_config_errors_free().
 *  The path is copied.  Loading never touches the current configuration.
 *  The checks that need the whole file are policy_config_check.c's.
 *
 *  The line of an error is the key's line, the section header's line for
 *  section-level problems, or the line inside a *_list_file.  libinih
 *  (Debian's build has no INI_HANDLER_LINENO) reads through our reader,
 *  which counts lines, tracks [sections] itself and reports syntax errors
 *  and over-long lines; libinih calls the handler for a key right after
 *  the reader returned its line, so the reader's count is the key's line.
 *
 *  References: policy_config_ref/unref are atomic; the object is freed by
 *  the unref that drops the last one.  policy_config_current() returns a
 *  new reference (or NULL) and policy_config_swap() installs a config,
 *  taking over the caller's reference; both are thread-safe, as is
 *  policy_config_generation() (it grows by one at every swap: what a
 *  session compares to tell that a reload happened since it judged).  Nothing here
 *  has callbacks or cancellation.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "log.h"
#include "policy_config.h"
#include "policy_internal.h"

#define PC_MAX_LINE     65536           /* libinih line buffer, bytes */
#define PC_NONE         (-1)            /* before the first section */
#define PC_IGNORE       (-2)            /* inside a bad section: skip its keys */

static pthread_mutex_t pc_ini_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pc_current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *pc_current;
static uint64_t pc_generation;          /* swaps so far, under pc_current_lock */

/* policy__error - append one formatted error */

void policy__error(struct cfg_errors *errs, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    msg = xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    errs->v = xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
    errs->v[errs->n++] = msg;
}

/* pc_verr - append "PATH:LINE: message" (line 0: "PATH: message") */

static void pc_verr(struct cfg_errors *errs, const char *path, int line, const char *fmt,
                    va_list ap)
{
    char msg[2048];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (line > 0)
        policy__error(errs, "%s:%d: %s", path, line, msg);
    else
        policy__error(errs, "%s: %s", path, msg);
}

/* policy__err - an error at a line of the file being loaded */

void policy__err(struct policy__loader *ld, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_verr(ld->errs, ld->path, line, fmt, ap);
    va_end(ap);
}

/* pc_base - the struct a section's keys are stored in */

static void *pc_base(struct config *cfg, const struct policy__section *s)
{
    switch (s->kind) {
    case PT_SERVICE:
        return &cfg->service;
    case PT_TRANSPORT:
        return &cfg->transport;
    case PT_RECEIVE:
        return &cfg->receive[s->index];
    case PT_SEND:
        return &cfg->send[s->index];
    case PT_PARTNER:
        return &cfg->partners[s->index];
    case PT_DNS:
        return &cfg->dns;
    case PT_LOGS:
        return &cfg->logs;
    case PT_METRICS:
        return &cfg->metrics;
    default:
        log_panic("policy", "pc_base: section kind %d", (int)s->kind);
    }
}

/* policy__trim - strip white space at both ends, in place */

char *policy__trim(char *s)
{
    char *e = s + strlen(s);

    while (isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* pc_find - libinih's find_chars_or_comment: first of chars or " ;" comment */

static char *pc_find(char *s, const char *chars)
{
    bool was_space = false;

    while (*s && (chars == NULL || strchr(chars, *s) == NULL)
           && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* pc_section_name - the name of a named section ("Inet", "woodgrovebank.com") */

static const char *pc_section_name(const struct config *cfg, const struct policy__section *s)
{
    return s->kind == PT_RECEIVE ? cfg->receive[s->index].name
        : s->kind == PT_SEND ? cfg->send[s->index].name : cfg->partners[s->index].domain;
}

/* pc_add_named - the record of a new [receive|send|partner NAME]; its index */

static size_t pc_add_named(struct config *cfg, enum pt_section k, const char *name, int line)
{
    if (k == PT_RECEIVE) {
        cfg->receive = xrealloc(cfg->receive, (cfg->nreceive + 1) * sizeof(*cfg->receive));
        memset(&cfg->receive[cfg->nreceive], 0, sizeof(*cfg->receive));
        cfg->receive[cfg->nreceive].name = xstrdup(name);
        cfg->receive[cfg->nreceive].line = line;
        return cfg->nreceive++;
    }
    if (k == PT_SEND) {
        cfg->send = xrealloc(cfg->send, (cfg->nsend + 1) * sizeof(*cfg->send));
        memset(&cfg->send[cfg->nsend], 0, sizeof(*cfg->send));
        cfg->send[cfg->nsend].name = xstrdup(name);
        cfg->send[cfg->nsend].line = line;
        return cfg->nsend++;
    }
    cfg->partners = xrealloc(cfg->partners, (cfg->npartners + 1) * sizeof(*cfg->partners));
    memset(&cfg->partners[cfg->npartners], 0, sizeof(*cfg->partners));
    cfg->partners[cfg->npartners].domain = xstrdup(name);
    cfg->partners[cfg->npartners].line = line;
    return cfg->npartners++;
}

/* pc_begin_section - a "[kind name]" header line: start a new section */

static void pc_begin_section(struct policy__loader *ld, char *text)
{
    struct config *cfg = ld->cfg;
    char *word = policy__trim(text), *name = word + strcspn(word, " \t");
    struct policy__section *s;
    const char *kind, *why;
    char domain[256];
    bool named;
    int k;

    ld->cur = PC_IGNORE;
    if (*name)
        *name++ = '\0';
    name = policy__trim(name);
    if ((k = policy__section_lookup(word, &named)) < 0) {
        policy__err(ld, ld->lineno, "unknown section [%s%s%s]", word, *name ? " " : "", name);
        return;
    }
    kind = policy__section_name(k);
    if (named && *name == '\0') {
        policy__err(ld, ld->lineno, "section [%s] needs a name, e.g. [%s NAME]", kind, kind);
        return;
    }
    if (!named && *name) {
        policy__err(ld, ld->lineno, "section [%s] takes no name", kind);
        return;
    }
    if (k == PT_PARTNER) {              /* the name is a domain: lower-case, no dot */
        if (policy_parse_domain(name, domain, sizeof(domain), &why) < 0) {
            policy__err(ld, ld->lineno, "[partner %s]: \"%s\" %s", name, name, why);
            return;
        }
        name = domain;
    }
    for (size_t i = 0; i < ld->nsect; i++) {
        const struct policy__section *o = &ld->sect[i];

        if (o->kind == (enum pt_section)k
            && (!named || strcasecmp(name, pc_section_name(cfg, o)) == 0)) {
            policy__err(ld, ld->lineno, "duplicate section %s (first at line %d)",
                   o->title, o->line);
            return;
        }
    }
    ld->sect = xrealloc(ld->sect, (ld->nsect + 1) * sizeof(*ld->sect));
    s = &ld->sect[ld->nsect];
    s->kind = (enum pt_section)k;
    s->line = ld->lineno;
    s->keyline = xcalloc(policy__key_count(), sizeof(int));
    s->title = named ? xasprintf("[%s %s]", kind, name) : xasprintf("[%s]", kind);
    s->index = named ? pc_add_named(cfg, s->kind, name, ld->lineno) : 0;
    if (named)
        policy__table_defaults(s->kind, pc_base(cfg, s));
    ld->cur = (long)ld->nsect++;
}

/* pc_scan_line - mirror libinih's view of a line; false if it must be blanked */

static bool pc_scan_line(struct policy__loader *ld, char *line)
{
    char *s = line, *end;

    if (ld->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    s = policy__trim(s);
    if (*s == '\0' || *s == ';' || *s == '#')
        return true;
    if (*s == '[') {
        end = pc_find(s + 1, "]");
        if (*end != ']') {
            policy__err(ld, ld->lineno, "syntax error: section header without ']'");
            ld->cur = PC_IGNORE;
            return false;
        }
        *end = '\0';
        pc_begin_section(ld, s + 1);
        return true;
    }
    end = pc_find(s, "=:");
    if (*end != '=' && *end != ':') {
        policy__err(ld, ld->lineno, "syntax error: expected \"key = value\"");
        return false;
    }
    return true;
}

/* pc_reader - libinih reader: one line per call, counted and checked */

static char *pc_reader(char *str, int num, void *stream)
{
    struct policy__loader *ld = stream;
    ssize_t len;
    size_t content;

    errno = 0;
    if ((len = getline(&ld->buf, &ld->bufsz, ld->fp)) < 0) {
        if (ferror(ld->fp))
            ld->read_errno = errno ? errno : EIO;
        return NULL;
    }
    ld->lineno++;
    content = (size_t)len;
    while (content > 0 && (ld->buf[content - 1] == '\n' || ld->buf[content - 1] == '\r'))
        content--;
    /* libinih needs room for "\r\n\0" after the longest line. */
    if (content > (size_t)num - 3) {
        policy__err(ld, ld->lineno, "line too long (more than %d characters)", num - 3);
        return strcpy(str, "\n");
    }
    if (strlen(ld->buf) != (size_t)len) {
        policy__err(ld, ld->lineno, "syntax error: NUL character in line");
        return strcpy(str, "\n");
    }
    memcpy(str, ld->buf, (size_t)len + 1);
    if (!pc_scan_line(ld, ld->buf))
        return strcpy(str, "\n");
    return str;
}

/* pc_handler - libinih handler: one "key = value" of the current section */

static int pc_handler(void *user, const char *section, const char *name,
                      const char *value)
{
    struct policy__loader *ld = user;
    struct policy__section *s;
    char *where;
    int idx;

    if (ld->cur == PC_IGNORE)
        return 1;
    if (ld->cur == PC_NONE) {
        policy__err(ld, ld->lineno, "key \"%s\" is outside any section", name);
        return 1;
    }
    s = &ld->sect[ld->cur];
    if ((idx = policy__key_lookup(s->kind, name)) < 0) {
        policy__err(ld, ld->lineno, "unknown key \"%s\" in %s", name, s->title);
        return 1;
    }
    if (s->keyline[idx] != 0) {
        policy__err(ld, ld->lineno, "duplicate key \"%s\" in %s (first at line %d)",
               policy__key_name(idx), s->title, abs(s->keyline[idx]));
        return 1;
    }
    where = xasprintf("%s:%d", ld->path, ld->lineno);
    if (policy__table_set(idx, pc_base(ld->cfg, s), value, where, ld->errs) == 0)
        s->keyline[idx] = ld->lineno;
    else
        s->keyline[idx] = -ld->lineno;
    free(where);
    return 1;
}

/* pc_parse - run libinih over the open file */

static void pc_parse(struct policy__loader *ld)
{
    char *prefix;
    int rc;

    /* The knobs are process globals: set them under a lock, every time. */
    pthread_mutex_lock(&pc_ini_lock);
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_max_line = PC_MAX_LINE;
    ini_initial_alloc = PC_MAX_LINE;    /* the heap buffer's size, never grown: */
    ini_allow_realloc = false;          /* the reader must see whole lines */
    ini_allow_bom = true;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = (char *)";";
    ini_start_comment_prefixes = (char *)";#";
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;
    rc = ini_parse_stream(pc_reader, ld, pc_handler, ld);
    pthread_mutex_unlock(&pc_ini_lock);
    if (rc == -2)
        log_panic("policy", "libinih: out of memory");
    if (rc <= 0)
        return;
    /* The reader blanks the lines it reports, so this is a safety net. */
    prefix = xasprintf("%s:%d: ", ld->path, rc);
    for (size_t i = 0; i < ld->errs->n; i++) {
        if (strncmp(ld->errs->v[i], prefix, strlen(prefix)) == 0) {
            free(prefix);
            return;
        }
    }
    free(prefix);
    policy__err(ld, rc, "syntax error");
}

/* pc_sections_free - release the section records */

static void pc_sections_free(struct policy__section *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].title);
        free(v[i].keyline);
    }
    free(v);
}

/* pc_free - release a config that has no references left */

static void pc_free(struct config *cfg)
{
    policy__table_free(PT_SERVICE, &cfg->service);
    policy__table_free(PT_TRANSPORT, &cfg->transport);
    for (size_t i = 0; i < cfg->nreceive; i++) {
        policy__table_free(PT_RECEIVE, &cfg->receive[i]);
        free(cfg->receive[i].name);
    }
    for (size_t i = 0; i < cfg->nsend; i++) {
        policy__table_free(PT_SEND, &cfg->send[i]);
        free(cfg->send[i].name);
    }
    for (size_t i = 0; i < cfg->npartners; i++) {
        policy__table_free(PT_PARTNER, &cfg->partners[i]);
        free(cfg->partners[i].domain);
    }
    policy__table_free(PT_DNS, &cfg->dns);
    policy__table_free(PT_LOGS, &cfg->logs);
    policy__table_free(PT_METRICS, &cfg->metrics);
    pc_sections_free(cfg->sections, cfg->nsections);
    free(cfg->receive);
    free(cfg->send);
    free(cfg->partners);
    free(cfg->path);
    free(cfg);
}

/* policy_config_load - read, validate and build a config */

struct config *policy_config_load(const char *path, struct cfg_errors *errs)
{
    struct cfg_errors mine = {NULL, 0};
    struct policy__loader ld = {.path = path, .cur = PC_NONE};
    struct stat st;
    size_t nerr_before;
    int     fd;

    ld.errs = errs ? errs : &mine;
    nerr_before = ld.errs->n;
    /* Only a regular file: a directory would fail later, a FIFO would block
     * (O_NONBLOCK keeps the open itself from waiting for a writer) and a
     * device such as /dev/zero would be read without end. */
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) >= 0
        && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode))
            policy__err(&ld, 0, "cannot open: %s", strerror(EISDIR));
        else
            policy__err(&ld, 0, "cannot open: not a regular file");
        policy_config_errors_free(&mine);
        return NULL;
    }
    if (fd < 0 || (ld.fp = fdopen(fd, "r")) == NULL) {
        policy__err(&ld, 0, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        policy_config_errors_free(&mine);
        return NULL;
    }
    ld.cfg = xcalloc(1, sizeof(*ld.cfg));
    ld.cfg->path = xstrdup(path);
    atomic_init(&ld.cfg->refs, 1);
    policy__table_defaults(PT_SERVICE, &ld.cfg->service);
    policy__table_defaults(PT_TRANSPORT, &ld.cfg->transport);
    policy__table_defaults(PT_DNS, &ld.cfg->dns);
    policy__table_defaults(PT_LOGS, &ld.cfg->logs);
    policy__table_defaults(PT_METRICS, &ld.cfg->metrics);

    pc_parse(&ld);
    if (ld.read_errno)
        policy__err(&ld, 0, "cannot read: %s", strerror(ld.read_errno));
    else
        policy__config_check(&ld);

    free(ld.buf);
    fclose(ld.fp);
    ld.cfg->sections = ld.sect;         /* for policy_config_line() */
    ld.cfg->nsections = ld.nsect;
    if (ld.errs->n > nerr_before) {
        pc_free(ld.cfg);
        policy_config_errors_free(&mine);
        return NULL;
    }
    return ld.cfg;
}

/* policy_config_ref - take another reference */

struct config *policy_config_ref(struct config *cfg)
{
    atomic_fetch_add(&cfg->refs, 1);
    return cfg;
}

/* policy_config_unref - drop a reference; free on the last (NULL is a no-op) */

void policy_config_unref(struct config *cfg)
{
    if (cfg && atomic_fetch_sub(&cfg->refs, 1) == 1)
        pc_free(cfg);
}

/* policy_config_errors_free - free the messages and reset the list */

void policy_config_errors_free(struct cfg_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->v[i]);
    free(errs->v);
    errs->v = NULL;
    errs->n = 0;
}

/* policy_config_current - a new reference to the current config, or NULL */

struct config *policy_config_current(void)
{
    struct config *cfg;

    pthread_mutex_lock(&pc_current_lock);
    if ((cfg = pc_current) != NULL)
        policy_config_ref(cfg);
    pthread_mutex_unlock(&pc_current_lock);
    return cfg;
}

/* policy_config_swap - install cfg (NULL clears); the old one loses a reference */

void policy_config_swap(struct config *cfg)
{
    struct config *old;

    pthread_mutex_lock(&pc_current_lock);
    old = pc_current;
    pc_current = cfg;
    pc_generation++;
    pthread_mutex_unlock(&pc_current_lock);
    policy_config_unref(old);
}

/* policy_config_generation - how many configs have been installed so far */

uint64_t policy_config_generation(void)
{
    uint64_t g;

    pthread_mutex_lock(&pc_current_lock);
    g = pc_generation;
    pthread_mutex_unlock(&pc_current_lock);
    return g;
}

/* policy_config_print - the effective configuration, loadable again */

void policy_config_print(const struct config *cfg, FILE *fp)
{
    fprintf(fp, "# effective configuration of %s\n", cfg->path);
    fprintf(fp, "\n[service]\n");
    policy__table_print(PT_SERVICE, &cfg->service, fp);
    fprintf(fp, "\n[transport]\n");
    policy__table_print(PT_TRANSPORT, &cfg->transport, fp);
    for (size_t i = 0; i < cfg->nreceive; i++) {
        fprintf(fp, "\n[receive %s]\n", cfg->receive[i].name);
        policy__table_print(PT_RECEIVE, &cfg->receive[i], fp);
    }
    for (size_t i = 0; i < cfg->nsend; i++) {
        fprintf(fp, "\n[send %s]\n", cfg->send[i].name);
        policy__table_print(PT_SEND, &cfg->send[i], fp);
    }
    for (size_t i = 0; i < cfg->npartners; i++) {
        fputc('\n', fp);
        policy_partner_print(&cfg->partners[i], fp);
    }
    fprintf(fp, "\n[dns]\n");
    policy__table_print(PT_DNS, &cfg->dns, fp);
    fprintf(fp, "\n[logs]\n");
    policy__table_print(PT_LOGS, &cfg->logs, fp);
    fprintf(fp, "\n[metrics]\n");
    policy__table_print(PT_METRICS, &cfg->metrics, fp);
}

/* policy_partner_print - one [partner D] section as policy_config_print() writes it */

void policy_partner_print(const struct cfg_partner *p, FILE *fp)
{
    fprintf(fp, "[partner %s]\n", p->domain);
    policy__table_print(PT_PARTNER, p, fp);
}

/* policy_config_line - the line of a key (or its section) in cfg's file */

int policy_config_line(const struct config *cfg, const void *section, const char *key)
{
    for (size_t i = 0; i < cfg->nsections; i++) {
        const struct policy__section *s = &cfg->sections[i];
        int     idx;

        /* pc_base() only computes an address here; nothing is written. */
        if (pc_base((struct config *)cfg, s) != section)
            continue;
        if (key == NULL)
            return s->line;
        idx = policy__key_lookup(s->kind, key);
        return idx >= 0 && s->keyline[idx] > 0 ? s->keyline[idx] : 0;
    }
    return 0;
}

/* policy_config_error - append an error about cfg, "PATH:LINE: message" */

void policy_config_error(struct cfg_errors *errs, const struct config *cfg, int line,
                         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_verr(errs, cfg->path, line, fmt, ap);
    va_end(ap);
}
