/*
 * tls_crl.h - certificate revocation lists (SPEC 6.3).
 *
 * A tls_crl_set is a collection of CRLs (the files of crl_directory and
 * the CRLs fetched from distribution points), built away from any event
 * loop and then published process-wide.  A handshake checks the peer's
 * chain against the published set: no disk, no network, no waiting.  When
 * a CRL it needs is missing or stale, the check says "unknown" and tells
 * the miss hook the certificate's CRL distribution point, so whoever
 * fetches CRLs (relay_crl.c) can start a fetch for the next session.
 *
 * A CRL counts only if its signature verifies with the public key of the
 * certificate that issued the checked certificate, and it is current
 * (nextUpdate in the future).  Delta CRLs and indirect CRLs are not
 * supported.  Nothing here exposes a type of the TLS library.
 */
#ifndef DOMSEC_TLS_CRL_H
#define DOMSEC_TLS_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Revocation of a peer chain. */
enum tls_revocation {
    TLS_REV_NOT_CHECKED,                /* no certificate, or its chain is not valid anyway */
    TLS_REV_GOOD,                       /* every certificate below the root has a current,
                                         * verified CRL that does not list it */
    TLS_REV_REVOKED,                    /* some certificate of the chain is listed */
    TLS_REV_UNKNOWN,                    /* some CRL is missing, stale or does not verify */
};

struct tls_crl_set;

/* One DER certificate (not owned). */
struct tls_crl_cert {
    const unsigned char *der;
    size_t  len;
};

/* Facts about one CRL of a set, for `domsec crl list`. */
struct tls_crl_info {
    char    issuer[512];                /* RFC 2253 order, as tls_cert_info's subject */
    int64_t this_update;                /* unix seconds */
    int64_t next_update;                /* unix seconds; 0 if the CRL has none */
    size_t  entries;                    /* revoked certificates listed */
    char    number[64];                 /* cRLNumber in decimal, or "" */
    const char *source;                 /* the file it came from (owned by the set) */
    const char *url;                    /* the CDP it was fetched from, or NULL */
    const char *status;                 /* static: "Current", "Stale", "BadSignature"
                                         * (an issuer of that name is known and the
                                         * signature does not verify with its key),
                                         * "IssuerUnknown" (no known certificate of that
                                         * name to verify it with) */
};

struct tls_crl_result {
    enum tls_revocation verdict;
    int     depth;                      /* the chain position that decided (0 = leaf), or
                                         * -1 */
    char    reason[256];                /* one line for the log, "" when GOOD (the
                                         * first UNKNOWN reason if several):
                                         * "certificate serial 200F (CN=...) revoked by
                                         * CN=Domsec Test Intermediate CA, O=... on
                                         * 2026-11-22 (keyCompromise)",
                                         * "no CRL for issuer CN=...",
                                         * "CRL of CN=... is stale since
                                         * 2026-12-22T13:33:41Z",
                                         * "CRL of CN=... does not verify with its
                                         * issuer's key", "issuer of CN=... not found" */
};

/* Building a set: one thread at a time; not shared until published. */
struct tls_crl_set *tls_crl_set_new(void);
/*
 * Add the CRLs in data: DER, or PEM with one or more "X509 CRL" blocks,
 * told apart by content (never by file name).  source names the file (or
 * URL) in listings and messages; url is the distribution point it was
 * fetched from, or NULL.  Stale CRLs are kept (listed as "Stale", never
 * used).  0, or -1 with *why (valid until the next call in this thread)
 * if data holds no parsable CRL.
 */
int     tls_crl_set_add(struct tls_crl_set *s, const unsigned char *data, size_t len,
                        const char *source, const char *url, const char **why);
/* Read a file and add it (at most 16 MiB).  0, or -1 with *why. */
int     tls_crl_set_add_file(struct tls_crl_set *s, const char *path, const char **why);
/*
 * Every regular file of dir not starting with '.', in name order; a file
 * that is not a CRL is logged as a warning naming it, and skipped.  The
 * number of CRLs added, or -1 with *why if dir cannot be read (a missing
 * dir is 0 CRLs, not an error).
 */
int     tls_crl_set_add_dir(struct tls_crl_set *s, const char *dir, const char **why);
/*
 * Certificates (PEM file, every CERTIFICATE block) that are trust anchors
 * or known CA certificates: they end a chain walk ("the root": an anchor
 * is never checked itself) and provide the issuer key for a checked
 * certificate whose issuer is not in the presented chain.  anchor=false
 * adds them only as possible issuers (e.g. the chain of our own
 * certificate), for verifying CRL signatures and listing.  0, or -1 with
 * *why.
 */
int     tls_crl_set_add_issuers_file(struct tls_crl_set *s, const char *path, bool anchor,
                                     const char **why);
struct tls_crl_set *tls_crl_set_ref(struct tls_crl_set *s);
void    tls_crl_set_unref(struct tls_crl_set *s);

/* Listing, in the order added. */
size_t  tls_crl_set_count(const struct tls_crl_set *s);
void    tls_crl_set_info(struct tls_crl_set *s, size_t i, int64_t now,
                         struct tls_crl_info *out);
/* The CRL distribution point URLs (http only) of a DER certificate, joined
 * by ' ' into buf ("" if none). */
void    tls_crl_cdp_urls(const unsigned char *der, size_t len, char *buf, size_t sz);
/* SHA-256 of a URL as 64 lowercase hex digits (the name of its cache file). */
void    tls_crl_url_hash(const char *url, char out[65]);

/*
 * Check a chain that already verified to a trust anchor: chain is what
 * the peer sent, leaf first (not copied, not kept).  Walks from the leaf by
 * issuer (the presented certificates, then the set's issuers; a candidate
 * counts only if its key verifies the signature, never by name alone)
 * until a trust anchor or a self-signed certificate, at most 8 steps, and
 * checks every certificate on the way against its issuer's newest current
 * CRL that verifies with that issuer's key.  Any revoked: REVOKED (depth of
 * the first revoked); else any missing, stale or unverifiable CRL, or an
 * issuer that cannot be found: UNKNOWN (depth of the first); else GOOD.
 * For each certificate whose CRL is missing, stale or unverifiable the
 * miss hook is called with its first http CDP URL (if it has one).
 * Thread-safe: any number of threads may check against one set at once;
 * no I/O, and no CRL signature is verified twice for the same issuer.
 */
void    tls_crl_check(struct tls_crl_set *s, const struct tls_crl_cert *chain, size_t n,
                      int64_t now, struct tls_crl_result *out);

/*
 * Process-wide publication.  tls_crl_publish() takes over the caller's
 * reference (NULL withdraws the set); it first verifies the signature of
 * every current CRL with the set's issuers, in the caller's thread, so
 * handshakes find that work done.  tls_crl_current() returns a new
 * reference or NULL (then handshakes report TLS_REV_UNKNOWN, "no CRLs
 * loaded").  The miss hook is called from the checking thread, must not
 * block, and may be NULL; set it before the first handshake.
 */
void    tls_crl_publish(struct tls_crl_set *s);
struct tls_crl_set *tls_crl_current(void);
typedef void (*tls_crl_miss_fn)(const char *url, void *arg);
void    tls_crl_set_miss_hook(tls_crl_miss_fn fn, void *arg);
/* Called once at exit: drops the published set. */
void    tls_crl_cleanup(void);

#endif
