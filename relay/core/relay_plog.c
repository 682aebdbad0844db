/*
 * relay_plog.c - the relay's glue to the protocol logs and the message
 * tracking log: opening them from [logs], and the row groups shared by the
 * SMTP server (relay_session.c, relay_proto.c, relay_data.c) and client
 * (relay_smtpc.c).  Which rows are written when is fixed by docs/LOGS.md
 * "The rows domsec writes": `domsec log` reads them.
 *
 * Schannel names for the TLS success row (Exchange's FormatTlsSuccessResult
 * prints SecPkgContext_ConnectionInfo; we derive it from the IANA suite):
 *
 *   protocol  TLSv1.3 -> SP_PROT_TLS1_3_*, TLSv1.2 -> SP_PROT_TLS1_2_* (_SERVER on
 *             receive, _CLIENT on send)
 *   bulk      AES_128_* -> CALG_AES_128 128; AES_256_* -> CALG_AES_256 256;
 *             CHACHA20_POLY1305 -> CALG_CHACHA20 256 (domsec's name: Schannel
 *             has no ALG_ID for ChaCha20); 3DES -> CALG_3DES 168
 *   MAC       AEAD (GCM, CCM, POLY1305): the suite's hash, CALG_SHA_256 or
 *             CALG_SHA_384, "with strength 0 bits" as Exchange 2016/2019 print
 *             for AEAD suites; HMAC suites: CALG_SHA1 160, CALG_SHA_256 256,
 *             CALG_SHA_384 384
 *   kex       ECDHE (and TLS 1.3 over an EC group) -> CALG_ECDH_EPHEM with the
 *             group's size (P-256 256, P-384 384, P-521 521, X25519 255, as
 *             Schannel's dwExchStrength); DHE and TLS 1.3 FFDHE -> CALG_DH_EPHEM
 *             with the prime's bits; RSA key transport -> CALG_RSA_KEYX 0
 *
 * CONTRACT
 *  relay_plog_open/reload/close run on the main thread (open while
 *  still root, before the privilege drop: the directories are created,
 *  opened and handed to the [service] user by descriptor, and a symbolic
 *  link on their paths in a directory that user can write is refused,
 *  naming it, so the daemon does not start; log_path.h).  The writers are then read-only
 *  pointers any thread may use.  The row helpers run on the thread owning
 *  the log_proto_session and format nothing when its logging is off.
 *  Nothing here fails a session: a log that cannot be opened is an error
 *  at start (domsecd refuses to run without its audit record).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_util.h"
#include "log_path.h"
#include "relay_plog.h"
#include "relay_tls.h"
#include "tls_conn.h"
#include "tls_store.h"

static struct log_proto *relay_plog_r, *relay_plog_s;
static struct log_track *relay_plog_t;
static char relay_plog_host[256] = "localhost";

/* relay_plog_chown_file - hand one log file to uid:gid, never a link's target */

static void relay_plog_chown_file(int dfd, const char *dir, const char *name, uid_t uid,
                                  gid_t gid)
{
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return;                         /* gone, or not a log file: the writer skips it too */
    }
    if (st.st_nlink != 1)               /* a hard link could be anyone's file */
        log_warnx("logs", 0, "%s/%s has %ju hard links: refusing to chown it as root", dir,
                  name, (uintmax_t)st.st_nlink);
    else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
        log_warn("logs", 0, "cannot chown %s/%s", dir, name);
    close(fd);
}

/*
 * relay_plog_chown_dir - hand one log directory and its files to uid:gid.
 * As root, on descriptors: the directory is reached by log_path_open() and
 * never through a symbolic link the service user could plant.
 */
static void relay_plog_chown_dir(const char *dir, uid_t uid, gid_t gid)
{
    struct dirent *de;
    DIR *d;
    int fd;

    if (geteuid() != 0)
        return;
    if ((fd = log_path_open("logs", dir, 0, LOG_PATH_OPEN)) < 0 || fchown(fd, uid, gid) < 0)
        log_warn("logs", 0, "cannot chown %s", dir);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);

        if (n > 4 && strcmp(de->d_name + n - 4, ".LOG") == 0)
            relay_plog_chown_file(dirfd(d), dir, de->d_name, uid, gid);
    }
    closedir(d);
}

/* relay_plog_lists - "receive=a,b;send=c,d": the domain-secure lists, as configured */

static char *relay_plog_lists(const struct config *cfg)
{
    const struct cfg_list *l[2] = { &cfg->transport.recv_secure, &cfg->transport.send_secure };
    size_t  n = 32;
    char   *out, *p;

    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < l[k]->n; i++)
            n += strlen(l[k]->v[i]) + 1;
    p = out = xmalloc(n);
    for (int k = 0; k < 2; k++) {
        p += sprintf(p, "%s", k ? ";send=" : "receive=");
        for (size_t i = 0; i < l[k]->n; i++)
            p += sprintf(p, "%s%s", i ? "," : "", l[k]->v[i]);
    }
    return out;
}

/* relay_plog_config - the tracking log's CONFIG row: the lists in force from now and their digest */

static void relay_plog_config(const struct config *cfg, const char *when)
{
    char    digest[65], *lists, *sc;

    if (relay_plog_t == NULL)
        return;
    lists = relay_plog_lists(cfg);
    if (tls_sha256_hex(lists, strlen(lists), digest) != 0)
        snprintf(digest, sizeof(digest), "unknown");
    sc = xasprintf("%s;sha256=%s;%s", when, digest, lists);
    log_track_write(relay_plog_t, &(struct log_track_entry){
        .event = LOG_TRACK_CONFIG, .source = LOG_TRACK_SRC_ADMIN, .source_context = sc,
        .server_hostname = relay_plog_host, .sender = "" });
    free(sc);
    /* Each tracking file that rotation opens repeats it, so retention never
     * leaves the logs without the lists in force. */
    sc = xasprintf("carried;sha256=%s;%s", digest, lists);
    log_track_set_carry(relay_plog_t, &(struct log_track_entry){
        .event = LOG_TRACK_CONFIG, .source = LOG_TRACK_SRC_ADMIN, .source_context = sc,
        .server_hostname = relay_plog_host, .sender = "" });
    log_info("logs", 0, "domain-secure lists %s sha256=%s", when, digest);
    free(sc);
    free(lists);
}

/* relay_plog_open - open the three logs */

int relay_plog_open(const struct config *cfg, uid_t uid, gid_t gid)
{
    const struct cfg_logs *lc = &cfg->logs;
    struct log_proto_props pp = {
        .directory = lc->directory, .max_file_size = lc->protocol_log_max_file_size,
        .max_directory_size = lc->protocol_log_max_directory_size,
        .max_age_ms = lc->protocol_log_max_age,
    };
    struct log_track_props tp = {
        .directory = lc->directory, .max_file_size = lc->protocol_log_max_file_size,
        .max_directory_size = lc->protocol_log_max_directory_size,
        .max_age_ms = lc->protocol_log_max_age,
    };
    char path[4096];

    if (gethostname(relay_plog_host, sizeof(relay_plog_host) - 1) < 0)
        snprintf(relay_plog_host, sizeof(relay_plog_host), "localhost");
    relay_plog_host[strcspn(relay_plog_host, ".")] = '\0';     /* Exchange: NetBIOS-style */
    relay_plog_r = log_proto_open(LOG_PROTO_RECEIVE, &pp);
    relay_plog_s = log_proto_open(LOG_PROTO_SEND, &pp);
    relay_plog_t = log_track_open(&tp);
    if (relay_plog_r == NULL || relay_plog_s == NULL || relay_plog_t == NULL) {
        log_errx("logs", 0, "cannot open the logs under directory=%s", lc->directory);
        relay_plog_close();
        return -1;
    }
    relay_plog_chown_dir(lc->directory, uid, gid);
    snprintf(path, sizeof(path), "%s/ProtocolLog", lc->directory);
    relay_plog_chown_dir(path, uid, gid);
    relay_plog_chown_dir(log_file_directory(log_proto_file(relay_plog_r)), uid, gid);
    relay_plog_chown_dir(log_file_directory(log_proto_file(relay_plog_s)), uid, gid);
    snprintf(path, sizeof(path), "%s/MessageTracking", lc->directory);
    relay_plog_chown_dir(path, uid, gid);
    log_info("logs", 0, "opened directory=%s", lc->directory);
    relay_plog_config(cfg, "start");
    return 0;
}

/* relay_plog_reload - [logs] is read at start only */

void relay_plog_reload(const struct config *old, const struct config *cfg)
{
    const struct cfg_logs *a = &old->logs, *b = &cfg->logs;

    if (strcmp(a->directory, b->directory) != 0
        || a->protocol_log_max_file_size != b->protocol_log_max_file_size
        || a->protocol_log_max_directory_size != b->protocol_log_max_directory_size
        || a->protocol_log_max_age != b->protocol_log_max_age)
        log_warnx("config", 0, "[logs] changed: restart domsecd to apply it");
    relay_plog_config(cfg, "reload");
}

/* relay_plog_close - flush and close */

void relay_plog_close(void)
{
    if (relay_plog_r != NULL)
        log_proto_close(relay_plog_r);
    if (relay_plog_s != NULL)
        log_proto_close(relay_plog_s);
    if (relay_plog_t != NULL)
        log_track_close(relay_plog_t);
    relay_plog_r = relay_plog_s = NULL;
    relay_plog_t = NULL;
}

struct log_proto *relay_plog_recv(void) { return relay_plog_r; }
struct log_proto *relay_plog_send(void) { return relay_plog_s; }
struct log_track *relay_plog_track(void) { return relay_plog_t; }
const char *relay_plog_hostname(void) { return relay_plog_host; }

/* relay_plog_cert - one certificate block */

void relay_plog_cert(struct log_proto_session *pl, const char *header,
                     const struct tls_cert_info *ci)
{
    char names[2048], date[32];

    if (!log_proto_enabled(pl) || ci == NULL)
        return;
    log_proto_info(pl, NULL, header);
    log_proto_info(pl, ci->subject, "Certificate subject");
    log_proto_info(pl, ci->issuer, "Certificate issuer name");
    log_proto_info(pl, ci->serial, "Certificate serial number");
    log_proto_info(pl, ci->thumbprint, "Certificate thumbprint");
    tls_cert_info_names(ci, names, sizeof(names));
    log_proto_info(pl, names, "Certificate alternate names");
    log_iso_time(date, sizeof(date), ci->not_before, NULL);
    log_proto_info(pl, date, "Certificate not before");
    log_iso_time(date, sizeof(date), ci->not_after, NULL);
    log_proto_info(pl, date, "Certificate not after");
}

/* relay_plog_cert_der - a certificate block from DER */

void relay_plog_cert_der(struct log_proto_session *pl, const char *header,
                         const unsigned char *der, size_t len)
{
    struct tls_cert_info ci;

    if (!log_proto_enabled(pl) || der == NULL || tls_cert_info_from_der(der, len, &ci) != 0)
        return;
    relay_plog_cert(pl, header, &ci);
    tls_cert_info_free(&ci);
}

/* relay_plog_own_cert_row - the block for relay_tls_own_cert (under its lock) */

static void relay_plog_own_cert_row(const struct tls_cert_info *ci, void *pl)
{
    relay_plog_cert(pl, "Sending certificate", ci);
}

/* relay_plog_own_cert - "Sending certificate": ours on that connector, as relay_tls chose it */

void relay_plog_own_cert(struct log_proto_session *pl, const struct config *cfg, bool receive,
                         size_t index)
{
    if (!log_proto_enabled(pl))
        return;
    (void)relay_tls_own_cert(cfg, receive, index, relay_plog_own_cert_row, pl);
}

/* relay_plog_tls_text - the TLS success sentence */

size_t relay_plog_tls_text(char *out, size_t size, const struct tls_facts *f, bool server)
{
    const char *c = f->cipher, *prot = "TLS1_2", *bulk = "CALG_AES_128", *mac, *kex;
    int bulk_bits = f->cipher_bits, mac_bits, kex_bits = f->kex_bits;
    bool aead = strstr(c, "_GCM") || strstr(c, "_CCM") || strstr(c, "POLY1305");
    bool ffdhe = strncasecmp(f->group, "FFDHE", 5) == 0;
    int n;

    if (strcmp(f->version, "TLSv1.3") == 0)
        prot = "TLS1_3";
    else if (strcmp(f->version, "TLSv1.1") == 0)
        prot = "TLS1_1";
    else if (strcmp(f->version, "TLSv1") == 0 || strcmp(f->version, "TLSv1.0") == 0)
        prot = "TLS1_0";
    if (strstr(c, "AES_128"))
        bulk = "CALG_AES_128", bulk_bits = 128;
    else if (strstr(c, "AES_256"))
        bulk = "CALG_AES_256", bulk_bits = 256;
    else if (strstr(c, "CHACHA20"))
        bulk = "CALG_CHACHA20", bulk_bits = 256;
    else if (strstr(c, "3DES"))
        bulk = "CALG_3DES", bulk_bits = 168;
    else
        bulk = c;                       /* no Schannel name: the IANA suite */
    if (strstr(c, "SHA384"))
        mac = "CALG_SHA_384", mac_bits = 384;
    else if (strstr(c, "SHA256"))
        mac = "CALG_SHA_256", mac_bits = 256;
    else
        mac = "CALG_SHA1", mac_bits = 160;
    if (aead)
        mac_bits = 0;                   /* Schannel: no separate MAC for AEAD */
    if (strstr(c, "_DHE_") != NULL || (strcmp(prot, "TLS1_3") == 0 && ffdhe))
        kex = "CALG_DH_EPHEM";
    else if (strstr(c, "ECDHE") || strcmp(prot, "TLS1_3") == 0)
        kex = "CALG_ECDH_EPHEM";
    else
        kex = "CALG_RSA_KEYX", kex_bits = 0;
    n = snprintf(out, size, "TLS protocol SP_PROT_%s_%s negotiation succeeded using bulk "
                 "encryption algorithm %s with strength %d bits, MAC hash algorithm %s with "
                 "strength %d bits and key exchange algorithm %s with strength %d bits",
                 prot, server ? "SERVER" : "CLIENT", bulk, bulk_bits, mac, mac_bits, kex,
                 kex_bits);
    return n < 0 ? 0 : (size_t)n;
}

/* relay_plog_tls - the TLS success row */

void relay_plog_tls(struct log_proto_session *pl, const struct tls_facts *f, bool server)
{
    char text[512];

    if (!log_proto_enabled(pl))
        return;
    relay_plog_tls_text(text, sizeof(text), f, server);
    log_proto_info(pl, NULL, text);
}

/* relay_plog_tls_failed - the handshake failure row */

void relay_plog_tls_failed(struct log_proto_session *pl, const char *reason)
{
    if (!log_proto_enabled(pl))
        return;
    log_proto_infof(pl, NULL, "TLS negotiation failed with error %s",
                    reason && *reason ? reason : "unknown");
}

/* relay_plog_chain_name - the chain validation status */

const char *relay_plog_chain_name(const struct tls_facts *f)
{
    static const char *const names[] = {
        [TLS_CHAIN_VALID] = "Valid", [TLS_CHAIN_UNTRUSTED] = "Untrusted",
        [TLS_CHAIN_EXPIRED] = "Expired", [TLS_CHAIN_NOT_YET_VALID] = "NotYetValid",
        [TLS_CHAIN_BAD_EKU] = "BadEku", [TLS_CHAIN_REVOKED] = "Revoked",
        [TLS_CHAIN_REVOCATION_UNKNOWN] = "RevocationUnknown", [TLS_CHAIN_INVALID] = "Invalid",
        [TLS_CHAIN_NONE] = "Invalid",
    };

    if (f->chain == TLS_CHAIN_VALID && f->revocation == TLS_REV_REVOKED)
        return "Revoked";
    if (f->chain == TLS_CHAIN_VALID && f->revocation == TLS_REV_UNKNOWN)
        return "RevocationUnknown";
    return names[f->chain];
}

/* relay_plog_chain - chain validation and revocation status rows */

void relay_plog_chain(struct log_proto_session *pl, const struct tls_facts *f, bool accepted)
{
    const char *v;

    if (!log_proto_enabled(pl))
        return;
    log_proto_info(pl, relay_plog_chain_name(f), "Chain validation status");
    if (f->chain == TLS_CHAIN_UNTRUSTED && f->chain_reason[0] != '\0')
        log_proto_info(pl, f->chain_reason, "Chain validation reason");   /* domsec */
    switch (f->revocation) {
    case TLS_REV_GOOD:
        v = "good";
        break;
    case TLS_REV_REVOKED:
        v = "revoked";
        break;
    case TLS_REV_UNKNOWN:
        v = accepted ? "unknown (accepted)" : "unknown";
        break;
    default:
        return;                         /* not checked: the chain failed first */
    }
    if (f->revocation_reason[0] != '\0') {
        char data[320];

        snprintf(data, sizeof(data), "%s: %s", v, f->revocation_reason);
        log_proto_info(pl, data, "Revocation status");
    } else {
        log_proto_info(pl, v, "Revocation status");
    }
}

/* relay_plog_message_id - the Message-ID of a header section */

void relay_plog_message_id(const char *data, size_t len, char *out, size_t size)
{
    const char *p = data, *end = data + len;

    out[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        if (eol == p || (eol == p + 1 && *p == '\r'))
            return;                     /* end of the header section */
        if ((size_t)(eol - p) > 11 && strncasecmp(p, "Message-ID:", 11) == 0) {
            const char *a = memchr(p, '<', (size_t)(eol - p)), *b;

            if (a != NULL && (b = memchr(a, '>', (size_t)(eol - a))) != NULL
                && (size_t)(b - a + 1) < size) {
                memcpy(out, a, (size_t)(b - a + 1));
                out[b - a + 1] = '\0';
            }
            return;
        }
        p = nl ? nl + 1 : end;
    }
}

/* relay_plog_ip - the address part of an endpoint */

void relay_plog_ip(const char *ep, char *out, size_t size)
{
    const char *colon;
    size_t n;

    if (ep[0] == '[') {
        const char *rb = strchr(ep, ']');

        n = rb ? (size_t)(rb - ep - 1) : strlen(ep + 1);
        ep++;
    } else {
        colon = strrchr(ep, ':');
        n = colon ? (size_t)(colon - ep) : strlen(ep);
    }
    if (n >= size)
        n = size - 1;
    memmove(out, ep, n);                /* out may be ep itself */
    out[n] = '\0';
}

/* relay_plog_scan_msgid - find "Message-ID: <...>" in streamed header text */

void relay_plog_scan_msgid(struct relay_session_plog *sp, const char *p, size_t n)
{
    static const char key[] = "message-id:";
    const unsigned klen = sizeof(key) - 1;

    for (size_t i = 0; i < n && sp->mid_len != 100; i++) {
        char c = p[i];

        if (sp->mid_in) {               /* in the value: keep "<...>" */
            if (sp->mid_n == 0 && c != '<') {
                if (c == '\n') {         /* no '<' on the line (folded): give up */
                    sp->mid_in = false;
                    sp->mid_len = 0;
                }
                continue;
            }
            if (c == '\r' || c == '\n' || sp->mid_n + 2 >= sizeof(sp->msgid)) {
                sp->mid_in = false;     /* unterminated: not a usable id */
                sp->mid_n = 0;
                sp->msgid[0] = '\0';
                sp->mid_len = c == '\n' ? 0 : 99;
                continue;
            }
            sp->msgid[sp->mid_n++] = c;
            sp->msgid[sp->mid_n] = '\0';
            if (c == '>')
                sp->mid_len = 100;      /* done */
            continue;
        }
        if (c == '\n') {
            sp->mid_len = 0;
            continue;
        }
        if (sp->mid_len >= klen)
            continue;                   /* decided: not it */
        if ((char)(c >= 'A' && c <= 'Z' ? c + 32 : c) != key[sp->mid_len]) {
            sp->mid_len = 99;
            continue;
        }
        if (++sp->mid_len == klen) {
            sp->mid_in = true;
            sp->mid_n = 0;
        }
    }
}

/* relay_plog_track_out - SEND, DEFER, FAIL, DSN, EXPIRE rows */

void relay_plog_track_out(const struct relay_plog_out *o)
{
    struct log_track_entry e = { .event = o->event, .source = o->source };
    char mid[256] = "", sec[300];

    if (relay_plog_t == NULL)
        return;
    if (o->data != NULL)
        relay_plog_message_id(o->data, o->data_len, mid, sizeof(mid));
    if (o->secured != NULL)
        log_track_security_info(sec, sizeof(sec), LOG_TRACK_MECH_MUTUAL_TLS, 'P', o->secured);
    e.client_hostname = relay_plog_host;
    e.server_ip = o->server_ip;
    e.server_hostname = o->server_hostname;
    e.source_context = o->source_context;
    e.connector_id = o->connector_id;
    e.internal_id = o->internal_id;
    e.message_id = mid;
    e.recipients = o->recipients;
    e.recipient_status = o->status;
    e.nrecipients = o->nrecipients;
    e.total_bytes = o->total_bytes;
    e.reference = o->reference;
    e.sender = o->sender;
    e.security_info = o->secured != NULL ? sec : NULL;
    e.direction = LOG_TRACK_DIR_ORIGINATING;
    log_track_write(relay_plog_t, &e);
}
