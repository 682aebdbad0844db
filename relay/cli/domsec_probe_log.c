/*
 * domsec_probe_log.c - `domsec test-partner DOMAIN --inbound` without
 * --cert: the certificate chain DOMAIN's client presented last, found
 * through the receive protocol log and read from the file domsecd kept.
 *
 * The RECV logs under [logs] directory are read in order (logs/log_read.c,
 * as `domsec log search` reads them).  Per session, the thumbprint row of
 * the "Received certificate" block (the client's, not our own "Sending
 * certificate") is remembered until the session's "-" row; a "<" MAIL FROM
 * row whose address is in DOMAIN itself (not a subdomain: the question is
 * about MAIL FROM:<x@DOMAIN>) in a session with such a thumbprint is a
 * candidate, and the last candidate is the most recent.  The chain is then
 * partner_certificate_directory/THUMBPRINT.pem (relay/core/relay_pcert.h),
 * which domsecd writes whatever the verdict was.
 *
 * CONTRACT
 *  domsec__probe_last_cert() returns 0 with *file (the chain's path,
 *  xmalloc'ed) and *source (a new JSON object: session, client (its remote
 *  endpoint: domsecd keeps the chain of any client, listed or not, so the
 *  admin can tell the partner's session from someone else's), time, log,
 *  thumbprint) owned by the caller; or PROBE_EXIT_UNKNOWN after saying on
 *  stderr why it cannot tell (certificates not kept, no such session in
 *  the logs, the file missing or not a regular file: a link is not
 *  followed, a FIFO not waited on); *fd is that file, opened once (openat
 *  O_NOFOLLOW | O_NONBLOCK on the directory's descriptor), read through it.  Reads files synchronously; memory grows
 *  with the sessions open at once in the logs, not with the rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domsec_probe.h"
#include "log.h"
#include "log_path.h"
#include "log_read.h"
#include "log_util.h"
#include "relay_pcert.h"

#define PLOG_BUCKETS 256

struct plog_sess {                      /* a session that showed a client certificate */
    uint64_t sid;
    bool    in_block;                   /* inside its "Received certificate" block */
    char    thumb[41];                  /* the client's thumbprint, or "" */
};

struct plog_scan {
    struct plog_sess *b[PLOG_BUCKETS];  /* owned arrays, by sid */
    size_t  n[PLOG_BUCKETS];
    /* The most recent candidate. */
    char    thumb[41];
    char    sid[17];
    char    time[LOG_READ_TSLEN + 1];
    char    client[80];                 /* the session's remote endpoint, ADDRESS:PORT */
    char   *log;                        /* owned */
};

/* plog_sid - a session-id field as a number (0: not one) */

static uint64_t plog_sid(const struct log_field *f)
{
    char    buf[17], *end;
    uint64_t v;

    if (f->len != 16)
        return 0;
    log_field_copy(f, buf, sizeof(buf));
    v = strtoull(buf, &end, 16);
    return *end == '\0' ? v : 0;
}

/* plog_find - the session sid (added when add), or NULL */

static struct plog_sess *plog_find(struct plog_scan *sc, uint64_t sid, bool add)
{
    size_t  k = sid % PLOG_BUCKETS;

    for (size_t i = 0; i < sc->n[k]; i++)
        if (sc->b[k][i].sid == sid)
            return &sc->b[k][i];
    if (!add)
        return NULL;
    sc->b[k] = xrealloc(sc->b[k], (sc->n[k] + 1) * sizeof(*sc->b[k]));
    sc->b[k][sc->n[k]] = (struct plog_sess){ .sid = sid };
    return &sc->b[k][sc->n[k]++];
}

/* plog_drop - the session ended */

static void plog_drop(struct plog_scan *sc, uint64_t sid)
{
    struct plog_sess *s = plog_find(sc, sid, false);
    size_t  k = sid % PLOG_BUCKETS;

    if (s != NULL)
        *s = sc->b[k][--sc->n[k]];
}

/* plog_mail_domain - the domain of a "MAIL FROM:<a@d> ..." line, lower-cased */

static bool plog_mail_domain(const struct log_field *data, char *out, size_t size)
{
    char    line[600], *lt, *gt;

    if (data->len < 10)
        return false;
    log_field_copy(data, line, sizeof(line));
    if (strncasecmp(line, "MAIL FROM:", 10) != 0 || (lt = strchr(line, '<')) == NULL
        || (gt = strchr(lt, '>')) == NULL)
        return false;
    *gt = '\0';
    log_mail_domain(out, size, lt + 1);
    return out[0] != '\0';
}

/* plog_row - one receive protocol row */

static void plog_row(struct plog_scan *sc, struct log_row *row, const char *domain)
{
    const struct log_field *ev = &row->f[LOG_P_EVENT], *ctx = &row->f[LOG_P_CONTEXT];
    struct log_field *data = &row->f[LOG_P_DATA];
    uint64_t sid = plog_sid(&row->f[LOG_P_SESSION]);
    struct plog_sess *s;
    char    d[256];

    if (sid == 0 || ev->len != 1)
        return;
    switch (ev->p[0]) {
    case '*':
        if (log_field_eq(ctx, "Received certificate")) {
            s = plog_find(sc, sid, true);
            s->in_block = true;
        } else if ((s = plog_find(sc, sid, false)) == NULL) {
            return;
        } else if (log_field_eq(ctx, "Certificate thumbprint") && s->in_block) {
            log_field_copy(data, s->thumb, sizeof(s->thumb));
            s->in_block = false;
        } else if (log_field_eq(ctx, "Sending certificate")) {
            s->in_block = false;
        }
        return;
    case '<':
        if (plog_mail_domain(data, d, sizeof(d)) && strcasecmp(d, domain) == 0
            && (s = plog_find(sc, sid, false)) != NULL && s->thumb[0] != '\0') {
            snprintf(sc->thumb, sizeof(sc->thumb), "%s", s->thumb);
            log_field_copy(&row->f[LOG_P_SESSION], sc->sid, sizeof(sc->sid));
            log_field_copy(&row->f[LOG_P_DATE], sc->time, sizeof(sc->time));
            log_field_copy(&row->f[LOG_P_REMOTE], sc->client, sizeof(sc->client));
            free(sc->log);
            sc->log = xstrdup(row->path);
        }
        return;
    case '-':
        plog_drop(sc, sid);
        return;
    default:
        return;
    }
}

/* plog_scan_free - the session tables and the log name */

static void plog_scan_free(struct plog_scan *sc)
{
    for (size_t k = 0; k < PLOG_BUCKETS; k++)
        free(sc->b[k]);
    free(sc->log);
}

/* domsec__probe_last_cert - the chain DOMAIN's client presented last */

int domsec__probe_last_cert(const struct config *cfg, const char *domain, char **file,
                            int *fd, json_t **source)
{
    const char *dir = cfg->transport.partner_certificate_directory;
    struct log_reader *r;
    struct log_row row;
    struct plog_scan sc = { 0 };
    char    name[RELAY_PCERT_NAME];
    struct stat st;
    const char *why;
    int     dfd = -1;

    *file = NULL;
    *fd = -1;
    *source = NULL;
    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "domsec: partner_certificate_directory is off (empty): domsecd keeps "
                "no partner certificates; use --cert FILE\n");
        return PROBE_EXIT_UNKNOWN;
    }
    r = log_reader_new(&(struct log_read_opts){ .kinds = 1u << LOG_READ_RECV });
    if (log_reader_add(r, cfg->logs.directory) != 0) {
        fprintf(stderr, "domsec: [logs] directory %s: %s; use --cert FILE\n",
                cfg->logs.directory, strerror(errno));
        log_reader_free(r);
        return PROBE_EXIT_UNKNOWN;
    }
    while (log_reader_next(r, &row) == 1)
        plog_row(&sc, &row, domain);
    log_reader_free(r);
    if (sc.thumb[0] == '\0' || !relay_pcert_name(name, sc.thumb)) {
        fprintf(stderr, "domsec: no certificate from %s in the receive protocol logs (%s); "
                "use --cert FILE\n", domain, cfg->logs.directory);
        plog_scan_free(&sc);
        return PROBE_EXIT_UNKNOWN;
    }
    *file = xasprintf("%s/%s", dir, name);
    /* Only a regular file, opened once, relative to the directory, without
     * following a link and without blocking: the service user owns the
     * directory, so a check by name then an open by name could be raced (a
     * FIFO would hang us, a link read a file of root's).  The directory
     * itself is not followed through a link in any component either. */
    if ((dfd = log_path_open("cli", dir, 0, LOG_PATH_OPEN)) < 0
        || (*fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                                    | O_NOCTTY)) < 0)
        why = errno == ELOOP ? "not a regular file" : strerror(errno);
    else
        why = fstat(*fd, &st) < 0 ? strerror(errno)
              : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
    if (dfd >= 0)
        close(dfd);
    if (why != NULL) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        fprintf(stderr, "domsec: the certificate %s's client presented in session %s at %s "
                "(%s) was not kept: %s: %s; use --cert FILE\n", domain, sc.sid, sc.time,
                sc.log, *file, why);
        free(*file);
        *file = NULL;
        plog_scan_free(&sc);
        return PROBE_EXIT_UNKNOWN;
    }
    *source = json_pack("{s:s, s:s, s:s, s:s, s:s}", "session", sc.sid, "client", sc.client,
                        "time", sc.time, "log", sc.log, "thumbprint", sc.thumb);
    plog_scan_free(&sc);
    return 0;
}
