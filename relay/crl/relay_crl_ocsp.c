/*
 * relay_crl_ocsp.c - OCSP responses fetched for handshakes, beside CRLs:
 * what a fetched body must be, the on-disk cache, loading it at start.
 *
 *  A handshake that finds no usable response for a verified leaf tells
 *  the tls_ocsp miss hook its AIA OCSP URL and DER request (relay_crl.c
 *  queues them for the CRL thread); relay_crl_fetch.c POSTs the request
 *  to the URL (RFC 6960 A.1, Content-Type application/ocsp-request) with
 *  the CRL fetches' limits and backoff.  A body is accepted when it is a
 *  successful OCSP response that is not stale (its signature and what it
 *  says are judged by every handshake that uses it, tls_ocsp_check): it is
 *  put in the process-wide cache (tls_ocsp_cache_put) and written to
 *  crl_cache_directory as three files named by H = SHA-256 of the request
 *  in lower-case hex: H.url (the URL and a newline), H.req (the DER
 *  request) and H.ocsp (the DER response), each atomically, .ocsp last.
 *  It is refetched at relay__crl_refresh_at() of its thisUpdate and
 *  nextUpdate (3/4 into its validity, at most a day ahead), so a good
 *  response never goes stale while the process runs.  At start the cached
 *  responses go into the cache again and are refreshed the same way; an
 *  entry whose files do not match (H.req not hashing to H, no H.url) is
 *  skipped with a warning.  With crl_fetch = no nothing is fetched, read
 *  or written here.
 *
 * CONTRACT
 *  relay__crl_ocsp_accept runs on the CRL thread and blocks on three
 *  small file writes; relay__crl_ocsp_load runs on the main thread in
 *  relay_crl_start before the CRL thread exists.  Inputs are only read;
 *  nothing is kept but what tls_ocsp_cache_put copies.  No callbacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_util.h"
#include "relay_crl_int.h"
#include "tls_ocsp.h"

/* relay__crl_ocsp_name - the cache name of a request: SHA-256 in hex */

void relay__crl_ocsp_name(const unsigned char *req, size_t len, char out[65])
{
    unsigned char key[32];

    tls_ocsp_key(req, len, key);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* ocsp_key_of - the 32 key bytes of a 64-hex-digit name */

static void ocsp_key_of(const char *name, unsigned char key[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;

        sscanf(name + 2 * i, "%2x", &v);
        key[i] = (unsigned char)v;
    }
}

/*
 * relay__crl_ocsp_accept - check a fetched body, cache it in memory and on
 * disk; "" or the reason in why; *refresh: when to fetch again (unix s)
 */
void relay__crl_ocsp_accept(const char *dir, const char *name, const char *url,
                            const unsigned char *req, size_t req_len,
                            const unsigned char *body, size_t len, int64_t now,
                            int64_t *refresh, char *why, size_t sz)
{
    int64_t this_update, next_update;
    unsigned char key[32];
    char    file[80], t[32], *urltext;

    *refresh = 0;
    if (len == 0) {
        snprintf(why, sz, "the body is empty");
        return;
    }
    if (tls_ocsp_times(body, len, &this_update, &next_update) < 0) {
        snprintf(why, sz, "the body is not a successful OCSP response");
        return;
    }
    if (next_update != 0 && next_update <= now) {
        snprintf(why, sz, "the OCSP response is stale (nextUpdate %s)",
                 log_iso_time(t, sizeof(t), next_update, "-"));
        return;
    }
    ocsp_key_of(name, key);
    tls_ocsp_cache_put(key, body, len);
    *refresh = relay__crl_refresh_at(this_update, next_update, now);
    urltext = xasprintf("%s\n", url);
    snprintf(file, sizeof(file), "%s.url", name);
    if (relay__crl_mkdirs(dir) < 0 || log_write_file(dir, file, urltext, strlen(urltext)) < 0
        || (snprintf(file, sizeof(file), "%s.req", name),
            log_write_file(dir, file, req, req_len)) < 0
        || (snprintf(file, sizeof(file), "%s.ocsp", name),
            log_write_file(dir, file, body, len)) < 0)
        snprintf(why, sz, "cannot write %s/%s: %s", dir, file, strerror(errno));
    free(urltext);
}

/* ocsp_is_cached - "<64 hex>.ocsp" */

static bool ocsp_is_cached(const char *name)
{
    return strlen(name) == 69 && strspn(name, "0123456789abcdef") == 64
           && strcmp(name + 64, ".ocsp") == 0;
}

/* ocsp_load_one - one cache entry into the cache and the fetch table; NULL or why */

static const char *ocsp_load_one(const char *dir, const char *stem, int64_t now)
{
    char   *p, name[65], *url = NULL;
    unsigned char *req = NULL, *body = NULL;
    size_t  qlen, blen, ulen;
    int64_t this_update, next_update;
    const char *why = NULL;

    p = xasprintf("%s/%.64s.req", dir, stem);
    if (log_read_file(p, RELAY__OCSP_REQ_MAX, &req, &qlen, NULL) < 0)
        why = "its .req file cannot be read";
    free(p);
    if (why == NULL && (relay__crl_ocsp_name(req, qlen, name), strncmp(name, stem, 64) != 0))
        why = "its .req file hashes to another name";
    p = xasprintf("%s/%.64s.url", dir, stem);
    if (why == NULL && log_read_file(p, RELAY__CRL_URL_MAX, (unsigned char **)&url, &ulen,
                                     NULL) < 0)
        why = "its .url file cannot be read";
    free(p);
    p = xasprintf("%s/%.64s.ocsp", dir, stem);
    if (why == NULL && log_read_file(p, RELAY__CRL_MAX_BODY, &body, &blen, NULL) < 0)
        why = "it cannot be read";
    free(p);
    if (why == NULL && tls_ocsp_times(body, blen, &this_update, &next_update) < 0)
        why = "it is not a successful OCSP response";
    if (why == NULL) {
        unsigned char key[32];

        url[strcspn(url, "\r\n")] = '\0';
        ocsp_key_of(name, key);
        tls_ocsp_cache_put(key, body, blen);
        relay__crl_ocsp_due(url, req, qlen,
                            relay__crl_refresh_at(this_update, next_update, now) * 1000);
    }
    free(req);
    free(url);
    free(body);
    return why;
}

/* relay__crl_ocsp_load - the cached responses of dir into the cache, due for refresh */

void relay__crl_ocsp_load(const char *dir, int64_t now)
{
    size_t  n;
    char  **names = log_dir_names(dir, ocsp_is_cached, &n);

    for (size_t i = 0; i < n; i++) {
        const char *why = ocsp_load_one(dir, names[i], now);

        if (why != NULL)
            log_warnx("crl", 0, "cache file %s/%s skipped: %s", dir, names[i], why);
    }
    if (n > 0)
        log_info("crl", 0, "ocsp cache loaded responses=%zu", n);
    log_dir_names_free(names, n);
}
