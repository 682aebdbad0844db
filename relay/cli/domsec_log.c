/*
 * domsec_log.c - `domsec log search|audit`: read the protocol and message
 * tracking logs (SPEC 5.3).
 *
 *   domsec [-c FILE] log search [--since T] [--until T] [--session ID] [--remote IP]
 *          [--domain D] [--event E] [--text S] [--sessions]
 *          [--format table|csv|json] [PATH...]
 *   domsec [-c FILE] log audit [--since T] [--until T] [--partner D]
 *          [--format table|csv|json|html] [--out FILE] [PATH...]
 *
 * T is absolute (2026-11-22T08:30) or relative to now (7d, 12h);
 * --from/--to and --domain are the older names of --since/--until and
 * --partner.
 *
 * PATH (files or directories) defaults to FILE's [logs] directory.  The
 * audit's listed partner domains are FILE's tls_send/receive domain-secure
 * lists when FILE loads, else inferred from domain-secured traffic.  The
 * reading is logs/log_read.c, the audit's rules logs/log_audit.c, its
 * text, CSV and JSON reports domsec_log_audit.c, the HTML report
 * domsec_log_html.c.
 *
 * CONTRACT
 *  search exits 0 when the logs were read (also with no rows); audit 0 when
 *  they were read and the audit has no warnings, 1 when it has warnings
 *  (the report is written all the same: for cron jobs and monitoring).
 *  Both exit 1 when no PATH was given and FILE cannot be loaded, a PATH
 *  does not exist, or --out cannot be written (a message on stderr), and
 *  2 on a usage error.  Unreadable files inside a directory
 *  are reported on stderr and skipped.  A search prints rows in file order
 *  (day, N, RECV, SEND, MSGTRK), escaped as in the files (table) or
 *  unescaped (json).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "domsec_cmd.h"
#include "log.h"
#include "log_util.h"
#include "log_audit.h"
#include "log_read.h"
#include "policy_config.h"

enum log_fmt { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_HTML };

struct log_args {
    const char *from, *to, *session, *remote, *domain, *event, *text, *out;
    char    from_buf[LOG_READ_TSLEN + 1], to_buf[LOG_READ_TSLEN + 1];     /* relative times */
    bool    sessions;
    enum log_fmt fmt;
};

static const char *const log_p_names[LOG_P_NFIELDS] = {
    "date-time", "connector-id", "session-id", "sequence-number", "local-endpoint",
    "remote-endpoint", "event", "data", "context",
};

static const char *const log_t_names[LOG_T_NFIELDS] = {
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname",
    "source-context", "connector-id", "source", "event-id", "internal-message-id",
    "message-id", "recipient-address", "recipient-status", "total-bytes", "recipient-count",
    "reference", "sender-address", "message-info", "directionality",
};

/* log_usage - print usage and exit */

static void log_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: domsec [-c FILE] log search [--since T] [--until T] [--session ID] [--remote IP]\n"
            "                [--domain D] [--event E] [--text S] [--sessions]\n"
            "                [--format table|csv|json] [PATH...]\n"
            "       domsec [-c FILE] log audit [--since T] [--until T] [--partner D]\n"
            "                [--format table|csv|json|html] [--out FILE] [PATH...]\n"
            "  T is UTC: 2026-11-22, 2026-11-22T08, 2026-11-22T08:30:00 ...; --until includes\n"
            "  the whole unit given; or relative to now: 30m, 12h, 7d, 2w.  --from/--to\n"
            "  are --since/--until, --domain is --partner.  PATH: log files or\n"
            "  directories; default the [logs] directory of FILE.  audit exits 1 when\n"
            "  it has warnings.\n");
    exit(status);
}

/* log_relative_time - "7d", "12h", "30m", "2w", "90s" before now as a log time; false if not one */

static bool log_relative_time(const char *s, char out[LOG_READ_TSLEN + 1])
{
    static const struct { char unit; long long secs; } units[] = {
        { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
    };
    char   *end;
    unsigned long long n;

    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno != 0 || end[0] == '\0' || end[1] != '\0' || n > 100ULL * 365 * 86400)
        return false;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (*end != units[i].unit)
            continue;
        time_t t = time(NULL) - (time_t)(n * (unsigned long long)units[i].secs);
        struct tm tm;

        if (gmtime_r(&t, &tm) == NULL)
            return false;
        strftime(out, LOG_READ_TSLEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
        return true;
    }
    return false;
}

/* log_time_opt - an absolute or relative time option into a->from / a->to */

static const char *log_time_opt(const char *arg, char buf[LOG_READ_TSLEN + 1])
{
    return log_relative_time(arg, buf) ? buf : arg;
}

/* log_parse_args - the options shared by search and audit */

static int log_parse_args(int argc, char **argv, bool audit, struct log_args *a)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' }, { "to", required_argument, NULL, 't' },
        { "session", required_argument, NULL, 's' }, { "remote", required_argument, NULL, 'r' },
        { "domain", required_argument, NULL, 'd' }, { "event", required_argument, NULL, 'e' },
        { "text", required_argument, NULL, 'x' }, { "sessions", no_argument, NULL, 'S' },
        { "format", required_argument, NULL, 'F' }, { "out", required_argument, NULL, 'o' },
        { "since", required_argument, NULL, 'f' }, { "until", required_argument, NULL, 't' },
        { "partner", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    char tmp[LOG_READ_TSLEN + 1];
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (audit && strchr("srexS", c))
            log_usage(2);
        if (!audit && c == 'o')
            log_usage(2);
        switch (c) {
        case 'f': a->from = log_time_opt(optarg, a->from_buf); break;
        case 't': a->to = log_time_opt(optarg, a->to_buf); break;
        case 's': a->session = optarg; break;
        case 'r': a->remote = optarg; break;
        case 'd': a->domain = optarg; break;
        case 'e': a->event = optarg; break;
        case 'x': a->text = optarg; break;
        case 'S': a->sessions = true; break;
        case 'o': a->out = optarg; break;
        case 'F':
            if (strcmp(optarg, "table") == 0) a->fmt = FMT_TABLE;
            else if (strcmp(optarg, "csv") == 0) a->fmt = FMT_CSV;
            else if (strcmp(optarg, "json") == 0) a->fmt = FMT_JSON;
            else if (audit && strcmp(optarg, "html") == 0) a->fmt = FMT_HTML;
            else {
                fprintf(stderr, "domsec: log: unknown format %s\n", optarg);
                return 2;
            }
            break;
        case 'h': log_usage(0); break;
        default: log_usage(2);
        }
    }
    if ((a->from && !log_read_time_arg(a->from, tmp)) || (a->to && !log_read_time_arg(a->to, tmp))) {
        fprintf(stderr, "domsec: log: bad time %s (use 2026-11-22, 2026-11-22T08:30, 7d, 12h ...)\n",
                a->from && !log_read_time_arg(a->from, tmp) ? a->from : a->to);
        return 2;
    }
    return 0;
}

/* log_open_reader - a reader over PATHs, or the config's [logs] directory;
 * kinds as log_read_opts (0: all) */

static struct log_reader *log_open_reader(const char *config_path, const struct config *cfg,
                                          const struct log_args *a, unsigned kinds, int argc,
                                          char **argv)
{
    struct log_reader *r = log_reader_new(&(struct log_read_opts){ .from = a->from, .to = a->to,
                                                                   .kinds = kinds });

    if (optind >= argc) {
        if (cfg == NULL) {
            fprintf(stderr, "domsec: log: %s cannot be loaded and no PATH was given\n", config_path);
            log_reader_free(r);
            return NULL;
        }
        if (log_reader_add(r, cfg->logs.directory) != 0) {
            fprintf(stderr, "domsec: log: %s: %m\n", cfg->logs.directory);
            log_reader_free(r);
            return NULL;
        }
        return r;
    }
    for (int i = optind; i < argc; i++) {
        if (log_reader_add(r, argv[i]) != 0) {
            fprintf(stderr, "domsec: log: %s: %m\n", argv[i]);
            log_reader_free(r);
            return NULL;
        }
    }
    return r;
}

/* log_load_config - FILE; NULL if it does not load (errors shown if loud) */

static struct config *log_load_config(const char *path, bool loud)
{
    struct cfg_errors errs = { 0 };
    struct config *cfg = policy_config_load(path, &errs);

    for (size_t i = 0; loud && cfg == NULL && i < errs.n; i++)
        fprintf(stderr, "domsec: log: %s\n", errs.v[i]);
    policy_config_errors_free(&errs);
    return cfg;
}

/* ---------------------------------------------------------------- output */

/* domsec_csv_field - one CSV field, Exchange's escaping; quoted also when it
 * holds a CR or an LF, so a field cannot start a record of its own (RFC 4180).
 * A leading = + - @ is left as it is (data, not a formula): whoever opens the
 * CSV in a spreadsheet should import it as text. */

void domsec_csv_field(FILE *fp, const char *p, size_t n)
{
    if (memchr(p, ',', n) == NULL && memchr(p, '"', n) == NULL && memchr(p, '\n', n) == NULL
        && memchr(p, '\r', n) == NULL) {
        fwrite(p, 1, n, fp);
        return;
    }
    fputc('"', fp);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            fputc('"', fp);
        fputc(p[i], fp);
    }
    fputc('"', fp);
}

/* domsec_json_str - a JSON string; a byte that is not part of well-formed
 * UTF-8 becomes \u00HH (its value as Latin-1), so the output always decodes */

void domsec_json_str(FILE *fp, const char *p, size_t n)
{
    fputc('"', fp);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        size_t  len;

        if (c >= 0x80) {
            if ((len = log_utf8_len((const unsigned char *)p + i, n - i, NULL)) == 0) {
                fprintf(fp, "\\u%04x", c);
            } else {
                fwrite(p + i, 1, len, fp);
                i += len - 1;
            }
        } else if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", fp);
        else if (c == '\r')
            fputs("\\r", fp);
        else if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* domsec_json_cstr - a JSON string from a C string */

void domsec_json_cstr(FILE *fp, const char *s)
{
    domsec_json_str(fp, s, strlen(s));
}

/* ---------------------------------------------------------------- search */

struct sid_set {                        /* sorted session ids per log */
    uint64_t *v[LOG_READ_NKINDS];
    size_t  n[LOG_READ_NKINDS], cap[LOG_READ_NKINDS];
};

/* sid_parse - 16 hex digits at p */

static bool sid_parse(const char *p, size_t n, uint64_t *out)
{
    char buf[17];

    if (n < 16)
        return false;
    memcpy(buf, p, 16);
    buf[16] = '\0';
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789ABCDEFabcdef", buf[i]))
            return false;
    *out = strtoull(buf, NULL, 16);
    return true;
}

static void sid_add(struct sid_set *s, int k, uint64_t v)
{
    if (s->n[k] == s->cap[k]) {
        s->cap[k] = s->cap[k] ? 2 * s->cap[k] : 256;
        s->v[k] = xrealloc(s->v[k], s->cap[k] * sizeof(uint64_t));
    }
    s->v[k][s->n[k]++] = v;
}

static int sid_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a < b ? -1 : a > b;
}

static bool sid_has(const struct sid_set *s, int k, uint64_t v)
{
    return s->n[k] && bsearch(&v, s->v[k], s->n[k], sizeof(uint64_t), sid_cmp) != NULL;
}

/* search_remote_match - "ip" against "ip:port" / "[ip]:port" / "ip" */

static bool search_remote_match(const struct log_field *f, const char *ip)
{
    size_t n = strlen(ip);
    const char *p = f->p;
    size_t len = f->len;

    if (len && *p == '[') {
        p++, len--;
    }
    return len >= n && strncasecmp(p, ip, n) == 0
        && (len == n || p[n] == ':' || p[n] == ']');
}

/* search_any - some field contains s */

static bool search_any(const struct log_row *row, const char *s)
{
    for (size_t i = 0; i < row->nfields; i++)
        if (log_field_find(&row->f[i], s))
            return true;
    return false;
}

/* search_match - the row passes every filter given */

static bool search_match(const struct log_args *a, const struct log_row *row)
{
    const struct log_field *f = row->f;

    if (row->kind != LOG_READ_TRACK) {
        if (a->session && !(f[LOG_P_SESSION].len == strlen(a->session)
                            && strncasecmp(f[LOG_P_SESSION].p, a->session, f[LOG_P_SESSION].len) == 0))
            return false;
        if (a->remote && !search_remote_match(&f[LOG_P_REMOTE], a->remote))
            return false;
        if (a->domain && !log_field_find(&f[LOG_P_DATA], a->domain)
            && !log_field_find(&f[LOG_P_CONTEXT], a->domain))
            return false;
        if (a->event && !log_field_eq(&f[LOG_P_EVENT], a->event))
            return false;
    } else {
        if (a->session && !(f[LOG_T_SOURCE_CONTEXT].len >= strlen(a->session)
                            && strncasecmp(f[LOG_T_SOURCE_CONTEXT].p, a->session, strlen(a->session)) == 0))
            return false;
        if (a->remote && !search_remote_match(&f[LOG_T_CLIENT_IP], a->remote)
            && !search_remote_match(&f[LOG_T_SERVER_IP], a->remote))
            return false;
        if (a->domain && !log_field_find(&f[LOG_T_SENDER], a->domain)
            && !log_field_find(&f[LOG_T_RECIPIENTS], a->domain)
            && !log_field_find(&f[LOG_T_MESSAGE_INFO], a->domain)
            && !log_field_find(&f[LOG_T_CLIENT_HOST], a->domain)
            && !log_field_find(&f[LOG_T_SERVER_HOST], a->domain))
            return false;
        if (a->event && !(f[LOG_T_EVENT].len == strlen(a->event)
                          && strncasecmp(f[LOG_T_EVENT].p, a->event, f[LOG_T_EVENT].len) == 0))
            return false;
    }
    if (a->text && !search_any(row, a->text))
        return false;
    return true;
}

/* search_print - one row in the chosen format */

static void search_print(FILE *fp, const struct log_args *a, struct log_row *row, bool *first)
{
    const char *kind = log_read_kind_name(row->kind);
    struct log_field *f = row->f;

    switch (a->fmt) {
    case FMT_CSV:
        fputs(kind, fp);
        for (size_t i = 0; i < row->nfields; i++) {
            fputc(',', fp);
            domsec_csv_field(fp, f[i].p, f[i].len);
        }
        fputc('\n', fp);
        break;
    case FMT_JSON:
        fprintf(fp, "%s\n  {\"log\": \"%s\", \"file\": ", *first ? "" : ",", kind);
        domsec_json_cstr(fp, row->path);
        fprintf(fp, ", \"line\": %llu", (unsigned long long)row->lineno);
        for (size_t i = 0; i < row->nfields; i++) {
            fprintf(fp, ", \"%s\": ", row->kind == LOG_READ_TRACK ? log_t_names[i] : log_p_names[i]);
            log_field_unescape(&f[i]);
            domsec_json_str(fp, f[i].p, f[i].len);
        }
        fputc('}', fp);
        break;
    default:
        if (row->kind != LOG_READ_TRACK)
            fprintf(fp, "%.*s %-6s %.*s %4.*s %-21.*s %.*s %.*s%s%.*s\n",
                    (int)f[0].len, f[0].p, kind, (int)f[2].len, f[2].p, (int)f[3].len, f[3].p,
                    (int)f[5].len, f[5].p, (int)f[6].len, f[6].p, (int)f[7].len, f[7].p,
                    f[8].len ? " | " : "", (int)f[8].len, f[8].p);
        else
            fprintf(fp, "%.*s %-6s %-7.*s %.*s %.*s <%.*s> -> %.*s %.*s%s%.*s\n",
                    (int)f[0].len, f[0].p, kind, (int)f[LOG_T_EVENT].len, f[LOG_T_EVENT].p,
                    (int)f[LOG_T_INTERNAL_ID].len, f[LOG_T_INTERNAL_ID].p,
                    (int)f[LOG_T_MESSAGE_ID].len, f[LOG_T_MESSAGE_ID].p,
                    (int)f[LOG_T_SENDER].len, f[LOG_T_SENDER].p,
                    (int)f[LOG_T_RECIPIENTS].len, f[LOG_T_RECIPIENTS].p,
                    (int)f[LOG_T_RECIPIENT_STATUS].len, f[LOG_T_RECIPIENT_STATUS].p,
                    f[LOG_T_MESSAGE_INFO].len ? " " : "",
                    (int)f[LOG_T_MESSAGE_INFO].len, f[LOG_T_MESSAGE_INFO].p);
    }
    *first = false;
}

/* search_sessions_pass - collect the sessions that have a matching row */

static void search_sessions_pass(struct log_reader *r, const struct log_args *a, struct sid_set *set)
{
    struct log_row row;
    uint64_t sid;

    while (log_reader_next(r, &row) == 1) {
        if (!search_match(a, &row))
            continue;
        if (row.kind != LOG_READ_TRACK) {
            if (sid_parse(row.f[LOG_P_SESSION].p, row.f[LOG_P_SESSION].len, &sid))
                sid_add(set, row.kind, sid);
        } else if (sid_parse(row.f[LOG_T_SOURCE_CONTEXT].p, row.f[LOG_T_SOURCE_CONTEXT].len, &sid)) {
            sid_add(set, log_field_eq(&row.f[LOG_T_EVENT], "RECEIVE") ? LOG_READ_RECV : LOG_READ_SEND, sid);
        }
    }
    for (int k = 0; k < LOG_READ_NKINDS; k++)
        if (set->n[k])
            qsort(set->v[k], set->n[k], sizeof(uint64_t), sid_cmp);
    log_reader_rewind(r);
}

/* log_search - `domsec log search` */

static int log_search(const char *config_path, int argc, char **argv)
{
    struct log_args a;
    struct config *cfg = NULL;
    struct log_reader *r;
    struct log_row row;
    struct sid_set set = { 0 };
    bool first = true;
    int rc;

    if ((rc = log_parse_args(argc, argv, false, &a)) != 0)
        return rc;
    if (optind >= argc)
        cfg = log_load_config(config_path, true);
    if ((r = log_open_reader(config_path, cfg, &a, 0, argc, argv)) == NULL) {
        if (cfg)
            policy_config_unref(cfg);
        return 1;
    }
    if (a.sessions)
        search_sessions_pass(r, &a, &set);
    if (a.fmt == FMT_JSON)
        fputs("[", stdout);
    while (log_reader_next(r, &row) == 1) {
        bool ok;
        uint64_t sid;

        if (!a.sessions)
            ok = search_match(&a, &row);
        else if (row.kind != LOG_READ_TRACK)
            ok = sid_parse(row.f[LOG_P_SESSION].p, row.f[LOG_P_SESSION].len, &sid)
                && sid_has(&set, row.kind, sid);
        else
            ok = search_match(&a, &row)
                || (sid_parse(row.f[LOG_T_SOURCE_CONTEXT].p, row.f[LOG_T_SOURCE_CONTEXT].len, &sid)
                    && sid_has(&set, log_field_eq(&row.f[LOG_T_EVENT], "RECEIVE")
                               ? LOG_READ_RECV : LOG_READ_SEND, sid));
        if (ok)
            search_print(stdout, &a, &row, &first);
    }
    if (a.fmt == FMT_JSON)
        fputs(first ? "]\n" : "\n]\n", stdout);
    for (int k = 0; k < LOG_READ_NKINDS; k++)
        free(set.v[k]);
    log_reader_free(r);
    if (cfg)
        policy_config_unref(cfg);
    return 0;
}

/* ---------------------------------------------------------------- audit */

/* log_audit_paths - the logs read, as absolute paths, into ao (the result: free each and it) */

static char **log_audit_paths(struct log_audit_opts *ao, const char *dir, int argc, char **argv)
{
    char  **paths;

    ao->npaths = optind < argc ? (size_t)(argc - optind) : 1;
    paths = xcalloc(ao->npaths, sizeof(*paths));
    for (size_t i = 0; i < ao->npaths; i++) {
        const char *p = optind < argc ? argv[optind + (int)i] : dir;

        paths[i] = p ? realpath(p, NULL) : NULL;
        if (paths[i] == NULL)
            paths[i] = xstrdup(p ? p : "");
    }
    ao->paths = (const char *const *)paths;
    return paths;
}

/* log_audit_config_opts - today's lists, accepted domains and internal connectors into ao
 * (the result: the connector names' array, to free) */

static const char **log_audit_config_opts(struct log_audit_opts *ao, const struct config *cfg)
{
    const char **internal = xcalloc(cfg->nreceive + 1, sizeof(*internal));

    ao->listed_known = true;
    ao->send_listed = (const char *const *)cfg->transport.send_secure.v;
    ao->nsend_listed = cfg->transport.send_secure.n;
    ao->recv_listed = (const char *const *)cfg->transport.recv_secure.v;
    ao->nrecv_listed = cfg->transport.recv_secure.n;
    ao->accepted = (const char *const *)cfg->transport.accepted_domains.v;
    ao->naccepted = cfg->transport.accepted_domains.n;
    for (size_t i = 0; i < cfg->nreceive; i++)
        if (cfg->receive[i].permission == CFG_PERM_INTERNAL)
            internal[ao->ninternal++] = cfg->receive[i].name;
    ao->internal_connectors = internal;
    return internal;
}

/*
 * log_audit_before - with --since, the tracking rows before it, for the
 * CONFIG row in force when the range starts (the reader's range leaves the
 * earlier files out; the audit keeps only the latest).  Only the tracking
 * files are read.
 */
static void log_audit_before(struct log_audit *au, const char *config_path, const struct config *cfg,
                             const struct log_args *a, int argc, char **argv)
{
    struct log_args b = *a;
    struct log_reader *r;
    struct log_row row;
    char    from[LOG_READ_TSLEN + 1];
    size_t  n;

    if (a->from == NULL || (n = log_read_time_arg(a->from, from)) == 0)
        return;
    b.from = NULL;
    b.to = a->from;
    if ((r = log_open_reader(config_path, cfg, &b, 1u << LOG_READ_TRACK, argc, argv)) == NULL)
        return;
    while (log_reader_next(r, &row) == 1) {
        const struct log_field *d = &row.f[LOG_T_DATE];

        if (d->len >= n && memcmp(d->p, from, n) < 0)
            log_audit_row_before(au, &row);
    }
    log_reader_free(r);
}

/* log_audit_cmd - `domsec log audit` */

static int log_audit_cmd(const char *config_path, int argc, char **argv)
{
    struct log_args a;
    struct config *cfg;
    struct log_reader *r;
    struct log_audit *au;
    struct log_row row;
    const struct log_audit_result *res;
    FILE *fp = stdout;
    const char **internal = NULL;
    char    host[256], **paths = NULL;
    int rc;

    if ((rc = log_parse_args(argc, argv, true, &a)) != 0)
        return rc;
    cfg = log_load_config(config_path, optind >= argc);
    if ((r = log_open_reader(config_path, cfg, &a, 0, argc, argv)) == NULL) {
        if (cfg)
            policy_config_unref(cfg);
        return 1;
    }
    struct log_audit_opts ao = { .from = a.from, .to = a.to, .domain = a.domain,
                                 .version = DOMSEC_VERSION, .host = host };
    const char *dir = cfg ? cfg->logs.directory : NULL;

    if (gethostname(host, sizeof(host)) != 0)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    paths = log_audit_paths(&ao, dir, argc, argv);
    if (cfg)
        internal = log_audit_config_opts(&ao, cfg);
    au = log_audit_new(&ao);
    log_audit_before(au, config_path, cfg, &a, argc, argv);
    while (log_reader_next(r, &row) == 1)
        log_audit_row(au, &row);
    res = log_audit_finish(au);
    if (a.out && (fp = fopen(a.out, "w")) == NULL) {
        fprintf(stderr, "domsec: log: %s: %m\n", a.out);
        rc = 1;
    } else {
        switch (a.fmt) {
        case FMT_CSV: domsec_log_audit_csv(fp, res); break;
        case FMT_JSON: domsec_log_audit_json(fp, res); break;
        case FMT_HTML: domsec_log_html(fp, res); break;
        default: domsec_log_audit_table(fp, res);
        }
        if (fp != stdout && fclose(fp) != 0) {
            fprintf(stderr, "domsec: log: %s: %m\n", a.out);
            rc = 1;
        }
        if (log_audit_has_warnings(res))
            rc = 1;                     /* for cron jobs and monitoring */
    }
    log_audit_free(au);
    log_reader_free(r);
    free(internal);
    for (size_t i = 0; paths && i < ao.npaths; i++)
        free(paths[i]);
    free(paths);
    if (cfg)
        policy_config_unref(cfg);
    return rc;
}

/* domsec_log_main - `domsec log search|audit` */

int domsec_log_main(const char *config_path, int argc, char **argv)
{
    if (argc < 2)
        log_usage(2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        log_usage(0);
    optind = 0;                         /* glibc: restart getopt for the subcommand */
    if (strcmp(argv[1], "search") == 0)
        return log_search(config_path, argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0)
        return log_audit_cmd(config_path, argc - 1, argv + 1);
    fprintf(stderr, "domsec: log: unknown command %s\n", argv[1]);
    log_usage(2);
    return 2;
}
