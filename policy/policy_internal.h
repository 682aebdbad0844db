/*
 * policy_internal.h - cross-file internals of policy/ (not for other folders).
 *
 * The configuration table (policy_table.c) knows every key of every
 * section, and policy_table_set.c puts values into the fields it
 * describes; the loader (policy_config.c) knows files, lines and
 * sections, and checks what needs the whole file with
 * policy_config_check.c; the value parsers (policy_value.c) know neither.  Error messages are
 * collected with policy__error(), each already prefixed "FILE:LINE: ".
 */
#ifndef DOMSEC_POLICY_INTERNAL_H
#define DOMSEC_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"
#include "policy_config.h"

/* Section kinds; the order is the order policy_config_print() uses. */
enum pt_section {
    PT_SERVICE,
    PT_TRANSPORT,
    PT_RECEIVE,                         /* [receive NAME], any number */
    PT_SEND,                            /* [send NAME], any number */
    PT_PARTNER,                         /* [partner DOMAIN], any number */
    PT_DNS,
    PT_LOGS,
    PT_METRICS,
    PT_NSECTIONS
};

/* The rows of the configuration table (policy_table.c), for policy_table_set.c. */
enum pt_type {
    PT_STRING,                          /* char *: a word (user name) */
    PT_PATH,                            /* char *: absolute path */
    PT_TEXT,                            /* char *: printable text (banner) */
    PT_DOMAIN,                          /* char *: one domain name */
    PT_THUMBPRINT,                      /* char *: 40 hex digits, upper-cased */
    PT_BOOL,                            /* bool */
    PT_SIZE,                            /* uint64_t bytes */
    PT_DURATION,                        /* uint64_t ms */
    PT_UINT,                            /* unsigned */
    PT_PORT,                            /* int */
    PT_ENUM,                            /* int-sized enum cfg_* */
    PT_DOMAINS,                         /* struct cfg_list */
    PT_BINDINGS,                        /* struct cfg_binding * + size_t count */
    PT_RANGES,                          /* struct cfg_range * + size_t count */
    PT_SMARTHOSTS,                      /* struct cfg_smarthost * + size_t count */
    PT_ADDRESS,                         /* struct sockaddr_storage, AF_UNSPEC = unset */
    PT_ADDRESSES,                       /* char *: normalised "ip:port,[v6]:port" or NULL */
    PT_PINS                             /* struct cfg_pin * + size_t count */
};

#define PT_F_SUBDOMAINS 0x01            /* domain list: "*.d" allowed */
#define PT_F_STAR       0x02            /* domain list: "*" allowed */
#define PT_F_AUTO       0x04            /* uint: "auto" means 0 */
#define PT_F_HOSTNAME   0x08            /* default: gethostname() */
#define PT_F_SOCKET     0x10            /* path: a Unix socket's (<= 107 bytes); "" = none */
#define PT_F_EMPTY      0x20            /* path: "" kept as "" (off) */
#define PT_F_UTF8       0x40            /* text: valid UTF-8 (it goes into JSON reports) */
#define PT_F_MAILBOX    0x80            /* text: a plain mail address LOCAL@DOMAIN */

struct pt_enum {
    const char *name;
    int     code;
};

struct pt_key {
    enum pt_section sec;
    const char *name;
    enum pt_type type;
    const char *def;                    /* default text; NULL = none */
    uint64_t min, max;                  /* numeric types only */
    size_t  off, off_n;                 /* target field; its count for arrays */
    unsigned flags;
    const struct pt_enum *names;        /* PT_ENUM only */
};

/* policy_table.c */
extern const struct pt_key policy__table[];
extern const size_t policy__nkeys;
/* Section kind by name ("receive"), case-insensitive; -1 if unknown. */
int     policy__section_lookup(const char *name, bool *named);
const char *policy__section_name(enum pt_section sec);
/* Number of keys in the table (size of per-section key-line arrays). */
size_t  policy__key_count(void);
/* Table index of key `name` in section `sec` (case-insensitive); -1 if unknown. */
int     policy__key_lookup(enum pt_section sec, const char *name);
const char *policy__key_name(int idx);
/* Append a domain-list entry unless already present (entries are normalised). */
void    policy__list_add(struct cfg_list *list, const char *entry);

/* policy_table_set.c */
/* Apply every default of section `sec` to `base` through the key parsers. */
void    policy__table_defaults(enum pt_section sec, void *base);
/*
 * Parse `value` for key `idx` into `base` (replacing the previous value).
 * Returns 0, or -1 after adding one error per bad item to errs, each
 * prefixed by `where` ("FILE:LINE"); base keeps its old value then.
 */
int     policy__table_set(int idx, void *base, const char *value,
                          const char *where, struct cfg_errors *errs);
/* Free everything section `sec` owns in `base` (not base itself). */
void    policy__table_free(enum pt_section sec, void *base);
/* Print "key = value" for every key that has a value. */
void    policy__table_print(enum pt_section sec, const void *base, FILE *fp);

/* policy_config.c */
void    policy__error(struct cfg_errors *errs, const char *fmt, ...) LOG_PRINTF(2, 3);
/* The loader's records, for policy_config_check.c. */
struct policy__section {                /* one [section] of the file; kept in the
                                         * config for policy_config_line() */
    enum pt_section kind;
    size_t  index;                      /* into cfg->receive / send / partners */
    int     line;                       /* of the header */
    char   *title;                      /* owned; "[receive Inet]" */
    int    *keyline;                    /* owned; per table row: line set on,
                                         * negative if the value was bad, 0 = default */
};

struct policy__loader {                 /* one load of a file, in policy_config_load() */
    const char *path;
    FILE   *fp;
    int     lineno;
    int     read_errno;                 /* errno of a failed read, or 0 */
    char   *buf;                        /* getline() buffer; libc-owned */
    size_t  bufsz;
    struct config *cfg;
    struct cfg_errors *errs;
    struct policy__section *sect;       /* owned array, then the config's */
    size_t  nsect;
    long    cur;                        /* index into sect, PC_NONE or PC_IGNORE */
};
/* policy__error() at a line of the file being loaded ("PATH:LINE: message";
 * line 0: "PATH: message"). */
void    policy__err(struct policy__loader *ld, int line, const char *fmt, ...) LOG_PRINTF(3, 4);
/* Strip white space at both ends, in place; returns the new start. */
char   *policy__trim(char *s);

/* policy_config_check.c */
/*
 * The checks that need the whole file, after parsing: rules across the
 * keys of one section, the defaults that depend on other keys, the
 * *_list_files read into their lists, a partner_certificate_directory
 * of its own, unique receive bindings and at least one receive
 * connector.  Errors go to ld->errs; ld->cfg gets the derived defaults.
 */
void    policy__config_check(struct policy__loader *ld);
/* Whether a resolver of [dns] servers ("ip:port,[v6]:port"), or when
 * servers is NULL a nameserver of resolv_conf, is not a loopback address:
 * then its address goes to bad.  A missing resolv_conf has none (c-ares
 * then asks 127.0.0.1). */
bool    policy__dnssec_offhost(const char *servers, const char *resolv_conf, char *bad,
                               size_t sz);

/* policy_value.c - helpers behind the public parsers. */
/* Split a list at commas and/or white space: copies the next item to tok. */
bool    policy__list_next(const char **cursor, char *tok, size_t toksz);
int     policy__parse_uint(const char *s, uint64_t *out, const char **why);
int     policy__parse_address(const char *s, struct sockaddr_storage *out,
                              const char **why);
/* "ip", "ip:port", "v6", "[v6]:port" -> "ip:port" / "[v6]:port" (port 53 by default). */
int     policy__parse_dns_server(const char *s, char *out, size_t outsz,
                                 const char **why);
int     policy__parse_thumbprint(const char *s, char *out, size_t outsz,
                                 const char **why);
/* Text checks of the table's PT_F_UTF8 and PT_F_MAILBOX keys. */
bool    policy__text_utf8(const char *v);
bool    policy__text_mailbox(const char *v);
/* Formatters for printing: largest exact unit ("36MB", "5m", "0s"). */
void    policy__format_size(uint64_t n, char *buf, size_t bufsz);
/* a is directory b (sub NULL) or b/sub, trailing '/'s aside (no file system look-up). */
bool    policy__same_dir(const char *a, const char *b, const char *sub);
void    policy__format_duration(uint64_t ms, char *buf, size_t bufsz);
void    policy__format_range(const struct cfg_range *r, char *buf, size_t bufsz);
void    policy__format_smarthost(const struct cfg_smarthost *h, char *buf,
                                 size_t bufsz);
void    policy__format_address(const struct sockaddr_storage *ss, char *buf,
                               size_t bufsz);

#endif
