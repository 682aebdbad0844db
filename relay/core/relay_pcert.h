/*
 * relay_pcert.h - the certificate chains partners present as clients on our
 * receive connectors, kept in [transport] partner_certificate_directory as
 * THUMBPRINT.pem (the leaf's SHA-1, upper-case hex, as the protocol log's
 * "Certificate thumbprint" row names it), so that `domsec test-partner
 * DOMAIN --inbound` can judge the last one a partner presented.
 *
 *   main, as root:     pc = relay_pcert_open(cfg, uid, gid);  worker->pcert = pc;
 *   a worker, at TLS:  relay_pcert_saw(pc, &worker->loop, conn, thumbprint, sid);
 *   main, at the end:  relay_pcert_close(pc);     (after every worker loop ended)
 *
 * In memory, a set of the thumbprints already kept (those found in the
 * directory at start, and every one saved or tried since), in the order
 * they were saved (at start: by the files' mtime), bounded with the
 * directory at RELAY_PCERT_MAX files: a new one past the bound evicts the
 * oldest (its file is deleted), so anonymous clients flooding us with
 * fresh certificates can push out old files but never stop a partner's
 * new chain from being kept.  New files are also rate-limited (a token
 * bucket: RELAY_PCERT_BURST at once, one per RELAY_PCERT_EVERY_MS
 * sustained; a certificate over the limit is not saved and not entered in
 * the set, so its next connection tries again; counted, not logged per
 * connection).  A certificate seen before costs one hash look-up under a
 * mutex and nothing else.  A new one is copied and written on libuv's
 * thread pool, never on the worker's loop.  The set, the bucket and the
 * thumbprint-to-file-name rule are exposed for tests.
 */
#ifndef DOMSEC_RELAY_PCERT_H
#define DOMSEC_RELAY_PCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "policy_config.h"
#include "tls_conn.h"

#define RELAY_PCERT_MAX    10000        /* files kept; then the oldest is evicted */
#define RELAY_PCERT_BURST  20           /* new files at once ... */
#define RELAY_PCERT_EVERY_MS 1000       /* ... then one per this many ms, sustained */
#define RELAY_PCERT_CHAIN  10           /* certificates of a chain kept, at most */
#define RELAY_PCERT_NAME   (40 + 4 + 1) /* "HEX.pem" and its NUL */

struct relay_pcert;                     /* opaque: the directory, the set, their lock */

/* A set of SHA-1 thumbprints (20 bytes each), open addressing, that also
 * remembers the order members were added (a ring of max keys): past max,
 * adding evicts the oldest.  Plain data so tests can drive it.  Not
 * locked: relay_pcert holds it under its lock. */
struct relay_pcert_set {
    /* Private. */
    unsigned char (*keys)[20];          /* owned; cap slots */
    unsigned char *used;                /* owned; cap flags */
    size_t  cap;                        /* a power of two, or 0 */
    size_t  n, max;                     /* members, and at most */
    unsigned char (*order)[20];         /* owned; max keys, oldest at head, or NULL */
    size_t  head;
};

/* A token bucket of new files: plain data, the clock passed in (tests). */
struct relay_pcert_bucket {
    /* Private. */
    uint64_t credit_ms;                 /* tokens, as ms of refill */
    uint64_t last_ms;                   /* when credit_ms was last brought up to date */
    bool    started;
};

/* relay_pcert.c */
/*
 * Check cfg's partner_certificate_directory for --check-config, start and
 * reload: when it exists it must be a directory.  Appends to errs.
 */
void    relay_pcert_check(const struct config *cfg, struct cfg_errors *errs);
/*
 * Create (mkdir -p, mode 0750, by log_path_open: no symbolic link followed
 * where another user could have planted it) and open cfg's
 * partner_certificate_directory, hand it to uid:gid when root and it was
 * just created (an existing one must be owned by root or uid and not
 * writable by others, else an error is logged and NULL returned), and learn
 * the THUMBPRINT.pem files in it (stale temporary files are removed).  On
 * the main thread, before the workers start; blocking I/O.  NULL when the
 * key is "" (off) or the directory cannot be opened (logged: the daemon
 * runs without keeping certificates).
 */
struct relay_pcert *relay_pcert_open(const struct config *cfg, uid_t uid, gid_t gid);
/*
 * The client of session sid presented a certificate whose leaf has
 * thumbprint (40 hex digits) on conn (after TLS_EV_TLS_READY, any verdict).
 * When it is new, its chain as sent (tls_conn_peer_chain) is copied and
 * written to THUMBPRINT.pem on loop's thread pool; the result is logged
 * from loop.  Returns at once; any worker thread; pc NULL does nothing.
 * The loop must run until the write ends (a libuv request keeps it alive).
 */
void    relay_pcert_saw(struct relay_pcert *pc, uv_loop_t *loop, const struct tls_conn *conn,
                        const char *thumbprint, uint64_t sid);
/* Close the directory and free pc (NULL allowed): every loop that saved
 * through it has ended. */
void    relay_pcert_close(struct relay_pcert *pc);

/* The file name of a thumbprint, "HEX.pem" upper-cased, into out; false
 * (out "") unless thumbprint is exactly 40 hex digits. */
bool    relay_pcert_name(char out[RELAY_PCERT_NAME], const char *thumbprint);
/* 40 hex digits (either case) as 20 bytes; false for anything else. */
bool    relay_pcert_key(const char *hex, size_t len, unsigned char key[20]);

void    relay_pcert_set_init(struct relay_pcert_set *s, size_t max);
/* 1 added, 0 already a member, 2 added and the oldest member, which the
 * set held max of, removed into evicted. */
int     relay_pcert_set_add(struct relay_pcert_set *s, const unsigned char key[20],
                            unsigned char evicted[20]);
bool    relay_pcert_set_has(const struct relay_pcert_set *s, const unsigned char key[20]);
void    relay_pcert_set_free(struct relay_pcert_set *s);
/* A token for a new file at now_ms (a monotonic clock): true and taken,
 * or false (over the rate).  The bucket starts full. */
bool    relay_pcert_bucket_take(struct relay_pcert_bucket *b, uint64_t now_ms);

#endif
