/*
 * tls_ticket_chain.c - the partner's certificate chain behind each session
 * ticket the server sealed, so a resumed session is judged with the chain
 * of the handshake that made its ticket.
 *
 * wolfSSL 5.5.4 resumes a TLS 1.3 ticket and takes the peer's chain from
 * its session cache (33 sessions in Debian's build), found by the id inside
 * the ticket; a session pushed out of that cache still resumes, with no
 * client certificate, and domain security refused the partner (530 5.7.1).
 * It also leaves the verify result of a resumed session at 0 (OK) whatever
 * the first handshake found (it restores it only in wolfSSL_set_session).
 *
 * So when a ticket is sealed (wolfSSL seals a server's TLS 1.3 ticket after
 * the client's Finished when it asked for a certificate, so the chain and
 * its verify result are known), the chain as sent and that verify result
 * are kept here, keyed by the ticket's AEAD nonce: the tag authenticates
 * it, so a client cannot name another session's entry.  When a ticket
 * opens, its entry must be here with the key that opened it, or the ticket
 * is rejected and wolfSSL makes a full handshake (so too when the entry's
 * full handshake is a lifetime old, or the connection asks for a
 * certificate and the entry has none); found, it is attached to
 * the connection (ex_data: one reference to the chain), and the facts of a
 * resumed session are taken from it (tls_facts.c), never from wolfSSL's
 * cache, which server contexts turn off (tls__ticket_use: its TLS 1.2
 * session-ID resumption also left the verify result at 0).  A ticket
 * sealed on a resumed session carries that attachment on.
 *
 * Chains are kept once (SHA-256 of the certificates) and counted: partners
 * are few, sessions many.  Entries expire with the key that sealed them
 * (its generation is older than the previous key's) and are bounded: at
 * most TKC_ENTRIES_MAX entries and TKC_BYTES_MAX bytes of chains, the
 * oldest out first (then that ticket gets a full handshake).
 *
 * CONTRACT
 *  Thread-safe: one mutex, held for hash table work only (a SHA-256 of the
 *  chain is made before).  An attachment lives as long as its WOLFSSL:
 *  tls__ticket_detach() must be called before wolfSSL_free() (tls_conn.c);
 *  wolfSSL 5.5.4 as Debian builds it has no ex_data cleanup hooks.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "tls_internal.h"
#include "tls_ticket.h"

#define TKC_CERTS_MAX 16                /* certificates kept of a chain */
#define TKC_BUCKETS 16384               /* entry hash buckets (power of two) */
#define TKC_CHAIN_BUCKETS 1024          /* chain hash buckets (power of two) */

struct tkc_chain {                      /* a chain as sent, shared by entries */
    struct tkc_chain *next;             /* hash bucket */
    unsigned char sha[32];
    size_t  refs;                       /* entries and attachments */
    size_t  n, bytes;
    struct tls_crl_cert certs[TKC_CERTS_MAX];
};

struct tkc_entry {                      /* one sealed ticket */
    struct tkc_entry *next;             /* hash bucket */
    struct tkc_entry *older, *newer;    /* seal order */
    unsigned char nonce[TLS_TICKET_NONCE_SZ];
    uint64_t gen;                       /* the sealing key's generation */
    long    verify_code;                /* X509_V_* of the sealing handshake */
    bool    cert_requested;             /* its full handshake asked for a certificate */
    int64_t verified_at;                /* its full handshake's time (tls__ticket_clock) */
    struct tkc_chain *chain;            /* NULL: the peer sent none */
};

struct tkc_attach {                     /* a connection's resumed peer (ex_data) */
    long    verify_code;
    bool    cert_requested;
    int64_t verified_at;
    struct tkc_chain *chain;            /* one reference, or NULL */
};

static struct {
    uv_mutex_t lock;
    int     ex_idx;
    struct tkc_entry **buckets;
    struct tkc_chain *chains[TKC_CHAIN_BUCKETS];
    struct tkc_entry *oldest, *newest;
    size_t  entries, bytes, max_entries, max_bytes;
} tkc;

static uv_once_t tkc_once = UV_ONCE_INIT;

/* tkc_init - the lock, the ex_data index, the bounds, once */

static void tkc_init(void)
{
    uv_mutex_init(&tkc.lock);
    tkc.ex_idx = wolfSSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    tkc.max_entries = TKC_ENTRIES_MAX;
    tkc.max_bytes = TKC_BYTES_MAX;
}

/* tkc_nonce_hash - the bucket of a nonce (random: its first bytes will do) */

static size_t tkc_nonce_hash(const unsigned char *nonce)
{
    return ((size_t)nonce[0] | (size_t)nonce[1] << 8 | (size_t)nonce[2] << 16)
        & (TKC_BUCKETS - 1);
}

/* tkc_chain_unref - drop a chain reference (lock held) */

static void tkc_chain_unref(struct tkc_chain *c)
{
    struct tkc_chain **pp;

    if (c == NULL || --c->refs > 0)
        return;
    for (pp = &tkc.chains[c->sha[0] & (TKC_CHAIN_BUCKETS - 1)]; *pp != c; pp = &(*pp)->next)
        ;
    *pp = c->next;
    tkc.bytes -= c->bytes;
    for (size_t i = 0; i < c->n; i++)
        free((void *)(uintptr_t)c->certs[i].der);
    free(c);
}

/* tkc_unlink - forget an entry (lock held) */

static void tkc_unlink(struct tkc_entry *e)
{
    struct tkc_entry **pp;

    for (pp = &tkc.buckets[tkc_nonce_hash(e->nonce)]; *pp != e; pp = &(*pp)->next)
        ;
    *pp = e->next;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        tkc.oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        tkc.newest = e->older;
    tkc.entries--;
    tkc_chain_unref(e->chain);
    free(e);
}

/* tkc_trim - entries of keys gone, then the oldest over the bounds (lock held) */

static void tkc_trim(uint64_t oldest_gen)
{
    while (tkc.oldest != NULL
           && (tkc.oldest->gen < oldest_gen || tkc.entries > tkc.max_entries
               || tkc.bytes > tkc.max_bytes))
        tkc_unlink(tkc.oldest);
}

/* tkc_chain_get - the kept chain equal to certs (a new reference), made if new (lock held) */

static struct tkc_chain *tkc_chain_get(const struct tls_crl_cert *certs, size_t n,
                                       const unsigned char sha[32])
{
    struct tkc_chain **head = &tkc.chains[sha[0] & (TKC_CHAIN_BUCKETS - 1)], *c;

    for (c = *head; c != NULL; c = c->next)
        if (memcmp(c->sha, sha, 32) == 0 && c->n == n) {
            c->refs++;
            return c;
        }
    c = xcalloc(1, sizeof(*c));
    memcpy(c->sha, sha, 32);
    c->refs = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char *der = xmalloc(certs[i].len);

        memcpy(der, certs[i].der, certs[i].len);
        c->certs[c->n++] = (struct tls_crl_cert){ der, certs[i].len };
        c->bytes += certs[i].len;
    }
    c->next = *head;
    *head = c;
    tkc.bytes += c->bytes;
    return c;
}

/* tkc_sha - SHA-256 over each certificate's length and bytes */

static int tkc_sha(const struct tls_crl_cert *certs, size_t n, unsigned char sha[32])
{
    wc_Sha256 h;
    int     ret = wc_InitSha256(&h);

    for (size_t i = 0; ret == 0 && i < n; i++) {
        unsigned char len[4] = { (unsigned char)(certs[i].len >> 24),
                                 (unsigned char)(certs[i].len >> 16),
                                 (unsigned char)(certs[i].len >> 8),
                                 (unsigned char)certs[i].len };

        ret = wc_Sha256Update(&h, len, 4);
        if (ret == 0)
            ret = wc_Sha256Update(&h, certs[i].der, (word32)certs[i].len);
    }
    if (ret == 0)
        ret = wc_Sha256Final(&h, sha);
    wc_Sha256Free(&h);
    return ret == 0 ? 0 : -1;
}

/* tkc_attached - ssl's attachment, or NULL */

static struct tkc_attach *tkc_attached(WOLFSSL *ssl)
{
    uv_once(&tkc_once, tkc_init);
    return tkc.ex_idx >= 0 ? wolfSSL_get_ex_data(ssl, tkc.ex_idx) : NULL;
}

/* tls__ticket_chain_keep - remember the peer of a ticket just sealed on ssl */

void tls__ticket_chain_keep(WOLFSSL *ssl, const unsigned char *nonce,
                            uint64_t gen, uint64_t oldest_gen)
{
    struct tkc_attach *a = tkc_attached(ssl);
    struct tls_crl_cert certs[TKC_CERTS_MAX];
    struct tkc_entry *e;
    unsigned char sha[32];
    long    code;
    size_t  n = 0;
    bool    resumed = wolfSSL_session_reused(ssl) == 1, requested;
    int64_t at, lifetime;

    if (resumed && a == NULL)
        return;                         /* not resumed by a ticket of ours: no entry */
    if (resumed) {
        code = a->verify_code;
        requested = a->cert_requested;
        at = a->verified_at;            /* the verdict is that handshake's */
        n = a->chain != NULL ? a->chain->n : 0;
        if (n > 0)
            memcpy(certs, a->chain->certs, n * sizeof(certs[0]));
    } else {
        WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(ssl);
        int     count = ch != NULL ? wolfSSL_get_chain_count(ch) : 0;

        code = wolfSSL_get_verify_result(ssl);
        requested = (wolfSSL_get_verify_mode(ssl) & WOLFSSL_VERIFY_PEER) != 0;
        tls__ticket_clock(&at, &lifetime);
        for (int i = 0; i < count && n < TKC_CERTS_MAX; i++) {
            const unsigned char *der = wolfSSL_get_chain_cert(ch, i);
            int     len = wolfSSL_get_chain_length(ch, i);

            if (der != NULL && len > 0)
                certs[n++] = (struct tls_crl_cert){ der, (size_t)len };
        }
    }
    if (n > 0 && tkc_sha(certs, n, sha) != 0)
        return;                         /* no entry: that ticket gets a full handshake */
    e = xcalloc(1, sizeof(*e));
    memcpy(e->nonce, nonce, TLS_TICKET_NONCE_SZ);
    e->gen = gen;
    e->verify_code = code;
    e->cert_requested = requested;
    e->verified_at = at;
    uv_mutex_lock(&tkc.lock);
    if (tkc.buckets == NULL)
        tkc.buckets = xcalloc(TKC_BUCKETS, sizeof(*tkc.buckets));
    /* Views into the attachment's chain stay valid: this conn holds a reference. */
    e->chain = n > 0 ? tkc_chain_get(certs, n, sha) : NULL;
    e->next = tkc.buckets[tkc_nonce_hash(nonce)];
    tkc.buckets[tkc_nonce_hash(nonce)] = e;
    e->older = tkc.newest;
    if (tkc.newest != NULL)
        tkc.newest->newer = e;
    else
        tkc.oldest = e;
    tkc.newest = e;
    tkc.entries++;
    tkc_trim(oldest_gen);
    uv_mutex_unlock(&tkc.lock);
}

/* tls__ticket_chain_attach - attach the peer of an opened ticket to ssl */

int tls__ticket_chain_attach(WOLFSSL *ssl, const unsigned char *nonce,
                             uint64_t gen, uint64_t oldest_gen)
{
    struct tkc_attach *a = tkc_attached(ssl);
    struct tkc_entry *e = NULL;
    /* Set per connection before the ClientHello is read (tls_conn_starttls_server). */
    bool    ask = (wolfSSL_get_verify_mode(ssl) & WOLFSSL_VERIFY_PEER) != 0;
    int64_t now, lifetime;

    if (tkc.ex_idx < 0)
        return -1;
    tls__ticket_clock(&now, &lifetime);
    if (a == NULL) {
        a = xcalloc(1, sizeof(*a));
        if (wolfSSL_set_ex_data(ssl, tkc.ex_idx, a) != WOLFSSL_SUCCESS) {
            free(a);
            return -1;
        }
    }
    uv_mutex_lock(&tkc.lock);
    tkc_trim(oldest_gen);
    if (tkc.buckets != NULL)
        for (e = tkc.buckets[tkc_nonce_hash(nonce)]; e != NULL; e = e->next)
            if (memcmp(e->nonce, nonce, TLS_TICKET_NONCE_SZ) == 0 && e->gen == gen)
                break;
    /* This connection asks for a certificate and the ticket's handshake did
     * not (domain security turned on by a reload) or got none: a resumption
     * sends no CertificateRequest, so only a full handshake can get one. */
    if (e != NULL && ask && (!e->cert_requested || e->chain == NULL))
        e = NULL;
    /* Tickets sealed on resumed sessions carry the full handshake's verdict
     * on: it lasts less than one lifetime from that handshake. */
    if (e != NULL && (now < e->verified_at || now - e->verified_at >= lifetime))
        e = NULL;
    /* A second identity of the same ClientHello replaces the first. */
    tkc_chain_unref(a->chain);
    a->chain = NULL;
    a->verify_code = 0;
    a->cert_requested = false;
    if (e != NULL) {
        a->chain = e->chain;
        if (a->chain != NULL)
            a->chain->refs++;
        a->verify_code = e->verify_code;
        a->cert_requested = e->cert_requested;
        a->verified_at = e->verified_at;
    }
    uv_mutex_unlock(&tkc.lock);
    return e != NULL ? 0 : -1;
}

/* tls__ticket_peer - a resumed session's verify result from its ticket's handshake */

bool tls__ticket_peer(WOLFSSL *ssl, long *verify_code)
{
    struct tkc_attach *a = tkc_attached(ssl);

    /* Only a resumed session: a ticket that opened and was then not taken
     * (too old, a wrong binder) leaves its attachment on a full handshake. */
    if (a == NULL || wolfSSL_session_reused(ssl) != 1)
        return false;
    if (verify_code != NULL)
        *verify_code = a->verify_code;
    return true;
}

/* tls__ticket_peer_chain - that session's chain as its first handshake got it */

size_t tls__ticket_peer_chain(WOLFSSL *ssl, struct tls_crl_cert *out, size_t max)
{
    struct tkc_attach *a = tkc_attached(ssl);
    size_t  n = 0;

    if (a == NULL || a->chain == NULL || wolfSSL_session_reused(ssl) != 1)
        return 0;
    for (; n < a->chain->n && n < max; n++)
        out[n] = a->chain->certs[n];
    return n;
}

/* tls__ticket_detach - release ssl's attachment (before wolfSSL_free) */

void tls__ticket_detach(WOLFSSL *ssl)
{
    struct tkc_attach *a = tkc_attached(ssl);

    if (a == NULL)
        return;
    (void)wolfSSL_set_ex_data(ssl, tkc.ex_idx, NULL);
    uv_mutex_lock(&tkc.lock);
    tkc_chain_unref(a->chain);
    uv_mutex_unlock(&tkc.lock);
    free(a);
}

/* tls__ticket_chain_clear - forget every entry (keys forgotten) */

void tls__ticket_chain_clear(void)
{
    uv_once(&tkc_once, tkc_init);
    uv_mutex_lock(&tkc.lock);
    tkc_trim(UINT64_MAX);
    uv_mutex_unlock(&tkc.lock);
}

/* tls__ticket_chain_stats - tests: entries, distinct chains' bytes */

void tls__ticket_chain_stats(size_t *entries, size_t *bytes)
{
    uv_once(&tkc_once, tkc_init);
    uv_mutex_lock(&tkc.lock);
    *entries = tkc.entries;
    *bytes = tkc.bytes;
    uv_mutex_unlock(&tkc.lock);
}

/* tls__ticket_chain_bounds - tests: the bounds (0: the defaults) */

void tls__ticket_chain_bounds(size_t entries, size_t bytes)
{
    uv_once(&tkc_once, tkc_init);
    uv_mutex_lock(&tkc.lock);
    tkc.max_entries = entries > 0 ? entries : TKC_ENTRIES_MAX;
    tkc.max_bytes = bytes > 0 ? bytes : TKC_BYTES_MAX;
    uv_mutex_unlock(&tkc.lock);
}
