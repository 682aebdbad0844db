/*
 * tls_ticket.c - session ticket keys for the server side.
 *
 * wolfSSL's default ticket key lives in each WOLFSSL_CTX (5.5.4
 * DefTicketEncCb): made at the first ticket, an hour long, and lost with
 * the context, so every reload (a new context per receive connector) made
 * every partner's ticket useless.  Here one set of keys serves every
 * server context of the process instead: the current key seals, the
 * previous one still opens, and both survive a reload.
 *
 * A key (16-byte random name, 32-byte AES-256-GCM key, from wolfCrypt's
 * RNG) seals for one lifetime after its birth and opens for two.  The
 * rotation is lazy: the first ticket sealed after the current key's
 * sealing time is over makes a new one (logged), and the old current
 * becomes the previous one.  Opening checks the age on its own, so a
 * quiet server never opens a ticket with a key older than two lifetimes.
 * Keys are in memory only and wiped when replaced.
 *
 * The partner's certificate chain behind each ticket is kept by
 * tls_ticket_chain.c, keyed by the ticket's nonce: a ticket opens only if
 * its entry is there (else a full handshake), so a resumed session is
 * judged with its first handshake's chain, never resumed without it.  Each
 * key has a generation number; the entries of a key go with it.
 *
 * Why an hour by default (Postfix's smtpd_tls_session_cache_timeout): a
 * partner that sends at least hourly always resumes (every connection gets
 * a new ticket), one that sends less often pays one full handshake, which
 * is no load.  The chain of a resumed session is checked against today's
 * CRLs at every resumption (tls_facts.c), but its verdict on anchors and
 * dates is its full handshake's, carried on by every ticket sealed on a
 * resumed session; so a ticket whose full handshake is one lifetime old or
 * more is rejected (tls_ticket_chain.c): a resumed session's verdict is
 * less than one lifetime old, and a CA taken out of trusted_ca_file by a
 * reload (or an expired certificate) is judged afresh within one lifetime.
 *
 * Ticket layout as wolfSSL hands it to us: key_name (16) and iv (16) in
 * clear, the sealed state in place, mac (32): the GCM tag in its first 16
 * bytes, zeros in the rest (checked).  The AAD is key_name || iv ||
 * length, as wolfSSL's own callback does.  The nonce is the first 12 bytes
 * of the random iv.
 *
 * CONTRACT
 *  Every function is thread-safe (one mutex; a seal or open holds it for
 *  one AES-GCM over ~200 bytes).  The callback returns
 *  WOLFSSL_TICKET_RET_OK or WOLFSSL_TICKET_RET_REJECT (never _FATAL); wolfSSL
 *  5.5.4 answers a rejected ticket with a full handshake.  On an RNG failure no ticket is
 *  sealed (REJECT) and the keys stay as they were.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/random.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "log.h"
#include "tls_internal.h"
#include "tls_ticket.h"

#define TICKET_NAME_SZ 16
#define TICKET_KEY_SZ  32
#define TICKET_NONCE_SZ TLS_TICKET_NONCE_SZ
#define TICKET_TAG_SZ  16

struct ticket_key {
    unsigned char name[TICKET_NAME_SZ];
    unsigned char key[TICKET_KEY_SZ];
    int64_t born;                       /* seconds; 0 = no key */
    uint64_t gen;                       /* 1, 2, ... in order of birth */
};

static struct {
    uv_mutex_t lock;
    bool    rng_ok;
    WC_RNG  rng;
    struct ticket_key cur, prev;
    uint32_t lifetime;                  /* seconds */
    uint64_t gens;                      /* keys made */
    int64_t (*now)(void);
} tk;

static uv_once_t tk_once = UV_ONCE_INIT;

/* tk_init - the lock and the default lifetime, once */

static void tk_init(void)
{
    uv_mutex_init(&tk.lock);
    tk.lifetime = TLS_TICKET_LIFETIME_DEFAULT;
}

/* tk_now - the clock the keys are judged by */

static int64_t tk_now(void)
{
    return tk.now != NULL ? tk.now() : (int64_t)time(NULL);
}

/* tk_wipe - forget a key */

static void tk_wipe(struct ticket_key *k)
{
    explicit_bzero(k, sizeof(*k));
}

/* tk_hex - the first bytes of a key name, for the log */

static const char *tk_hex(const unsigned char *name, char *buf)
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 4; i++) {
        buf[2 * i] = digits[name[i] >> 4];
        buf[2 * i + 1] = digits[name[i] & 15];
    }
    buf[8] = '\0';
    return buf;
}

/* tk_rotate - a new current key; the current one becomes the previous (lock held) */

static int tk_rotate(int64_t now)
{
    struct ticket_key k;
    char    a[9], b[9];

    if (!tk.rng_ok) {
        if (wc_InitRng(&tk.rng) != 0)
            return -1;
        tk.rng_ok = true;
    }
    if (wc_RNG_GenerateBlock(&tk.rng, k.name, sizeof(k.name)) != 0
        || wc_RNG_GenerateBlock(&tk.rng, k.key, sizeof(k.key)) != 0) {
        tk_wipe(&k);
        return -1;
    }
    k.born = now;
    k.gen = ++tk.gens;
    if (tk.cur.born != 0)
        log_info("tls", 0, "session ticket key rotated key=%s previous=%s lifetime=%us",
                 tk_hex(k.name, a), tk_hex(tk.cur.name, b), tk.lifetime);
    else
        log_info("tls", 0, "session ticket key created key=%s lifetime=%us",
                 tk_hex(k.name, a), tk.lifetime);
    tk_wipe(&tk.prev);
    tk.prev = tk.cur;
    tk.cur = k;
    tk_wipe(&k);
    return 0;
}

/* tk_gcm - AES-256-GCM of ticket in place with k; the AAD is key name, iv, length */

static int tk_gcm(const struct ticket_key *k, bool seal, const unsigned char *iv,
                  unsigned char *mac, unsigned char *ticket, int len)
{
    unsigned char aad[TICKET_NAME_SZ + 16 + 2];
    Aes     aes;
    int     ret;

    memcpy(aad, k->name, TICKET_NAME_SZ);
    memcpy(aad + TICKET_NAME_SZ, iv, 16);
    aad[TICKET_NAME_SZ + 16] = (unsigned char)((unsigned)len >> 8);
    aad[TICKET_NAME_SZ + 17] = (unsigned char)len;
    ret = wc_AesInit(&aes, NULL, INVALID_DEVID);
    if (ret == 0)
        ret = wc_AesGcmSetKey(&aes, k->key, sizeof(k->key));
    if (ret == 0 && seal)
        ret = wc_AesGcmEncrypt(&aes, ticket, ticket, (word32)len, iv, TICKET_NONCE_SZ, mac,
                               TICKET_TAG_SZ, aad, sizeof(aad));
    else if (ret == 0)
        ret = wc_AesGcmDecrypt(&aes, ticket, ticket, (word32)len, iv, TICKET_NONCE_SZ, mac,
                               TICKET_TAG_SZ, aad, sizeof(aad));
    wc_AesFree(&aes);
    return ret == 0 ? 0 : -1;
}

/* tk_oldest_gen - the generation of the oldest key that may open (lock held) */

static uint64_t tk_oldest_gen(void)
{
    return tk.prev.born != 0 ? tk.prev.gen : tk.cur.gen;
}

/* tk_seal - seal ticket in place under the current key, rotating it when due */

static int tk_seal(unsigned char key_name[16], unsigned char iv[16], unsigned char mac[32],
                   unsigned char *ticket, int len, uint64_t *gen, uint64_t *oldest)
{
    struct ticket_key k;
    int64_t now;
    int     ret;

    if (len <= 0 || len > 0xffff)
        return -1;
    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    now = tk_now();
    if ((tk.cur.born == 0 || now >= tk.cur.born + (int64_t)tk.lifetime || now < tk.cur.born)
        && tk_rotate(now) != 0) {
        uv_mutex_unlock(&tk.lock);
        return -1;
    }
    ret = wc_RNG_GenerateBlock(&tk.rng, iv, 16);
    k = tk.cur;
    *gen = k.gen;
    *oldest = tk_oldest_gen();
    uv_mutex_unlock(&tk.lock);
    if (ret != 0) {
        tk_wipe(&k);
        return -1;
    }
    memcpy(key_name, k.name, TICKET_NAME_SZ);
    memset(mac, 0, 32);
    ret = tk_gcm(&k, true, iv, mac, ticket, len);
    tk_wipe(&k);
    return ret;
}

/* tk_open - open a ticket in place: its key must be known and not too old */

static int tk_open(const unsigned char key_name[16], const unsigned char iv[16],
                   const unsigned char mac[32], unsigned char *ticket, int len, uint64_t *gen,
                   uint64_t *oldest)
{
    static const unsigned char zeros[32 - TICKET_TAG_SZ];
    unsigned char tag[32];
    struct ticket_key k;
    int64_t now;
    bool    found = false;
    int     ret;

    if (len <= 0 || len > 0xffff || memcmp(mac + TICKET_TAG_SZ, zeros, sizeof(zeros)) != 0)
        return -1;
    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    now = tk_now();
    for (int i = 0; i < 2 && !found; i++) {
        const struct ticket_key *c = i == 0 ? &tk.cur : &tk.prev;

        /* Opens for two lifetimes from its birth; never one from the future. */
        if (c->born != 0 && memcmp(c->name, key_name, TICKET_NAME_SZ) == 0 && now >= c->born
            && now < c->born + 2 * (int64_t)tk.lifetime) {
            k = *c;
            found = true;
        }
    }
    *gen = found ? k.gen : 0;
    *oldest = tk_oldest_gen();
    uv_mutex_unlock(&tk.lock);
    if (!found)
        return -1;
    memcpy(tag, mac, sizeof(tag));
    ret = tk_gcm(&k, false, iv, tag, ticket, len);
    tk_wipe(&k);
    return ret;
}

/* tls__ticket_seal - seal ticket in place under the current key */

int tls__ticket_seal(unsigned char key_name[16], unsigned char iv[16], unsigned char mac[32],
                     unsigned char *ticket, int len)
{
    uint64_t gen, oldest;

    return tk_seal(key_name, iv, mac, ticket, len, &gen, &oldest);
}

/* tls__ticket_open - open a ticket in place */

int tls__ticket_open(const unsigned char key_name[16], const unsigned char iv[16],
                     const unsigned char mac[32], unsigned char *ticket, int len)
{
    uint64_t gen, oldest;

    return tk_open(key_name, iv, mac, ticket, len, &gen, &oldest);
}

/*
 * tls_ticket_cb - wolfSSL's SessionTicketEncCb: seal (enc) or open a ticket
 * in place.  A sealed ticket's peer is kept under its nonce (the first bytes
 * of the iv, under the tag); an opened one whose peer is not kept is
 * rejected, so wolfSSL makes a full handshake.
 */

static int tls_ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                         unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                         unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc,
                         unsigned char *ticket, int in_len, int *out_len, void *arg)
{
    uint64_t gen, oldest;

    (void)arg;
    if (enc) {
        if (tk_seal(key_name, iv, mac, ticket, in_len, &gen, &oldest) != 0)
            return WOLFSSL_TICKET_RET_REJECT;
        tls__ticket_chain_keep(ssl, iv, gen, oldest);
    } else if (tk_open(key_name, iv, mac, ticket, in_len, &gen, &oldest) != 0
               || tls__ticket_chain_attach(ssl, iv, gen, oldest) != 0) {
        return WOLFSSL_TICKET_RET_REJECT;
    }
    *out_len = in_len;
    return WOLFSSL_TICKET_RET_OK;
}

/* tls__ticket_use - seal ctx's tickets with the process's keys, good for seconds */

int tls__ticket_use(WOLFSSL_CTX *ctx, uint32_t seconds)
{
    if (seconds == 0)
        seconds = tls_ticket_lifetime();
    /* The hint tells clients how long to keep a ticket; the timeout bounds
     * the ticket's age (TLS 1.3) and the cached session behind it.
     * set_timeout sets the hint too, and with WOLFSSL_ERROR_CODE_OPENSSL
     * (Debian's build) returns the previous timeout, negative on error. */
    /* wolfSSL's session cache off: a ticket of ours is the only way to
     * resume, so every resumed session has the peer kept with its ticket.
     * A TLS 1.2 session-ID resumption from that cache left the verify
     * result at 0 (an untrusted chain passed as valid), and a TLS 1.3
     * ticket found its chain there.  It also saves copying each session,
     * chain and all, into the cache at every handshake. */
    if (wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF) != WOLFSSL_SUCCESS
        || wolfSSL_CTX_set_TicketEncCb(ctx, tls_ticket_cb) != WOLFSSL_SUCCESS
        || wolfSSL_CTX_set_timeout(ctx, seconds) < 0
        || wolfSSL_CTX_set_TicketHint(ctx, (int)seconds) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}

/* tls_ticket_set_lifetime - the lifetime of tickets and keys from now on */

void tls_ticket_set_lifetime(uint32_t seconds)
{
    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    tk.lifetime = seconds > 0 ? seconds : TLS_TICKET_LIFETIME_DEFAULT;
    uv_mutex_unlock(&tk.lock);
}

/* tls_ticket_lifetime - the lifetime in force */

uint32_t tls_ticket_lifetime(void)
{
    uint32_t life;

    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    life = tk.lifetime;
    uv_mutex_unlock(&tk.lock);
    return life;
}

/* tls__ticket_clock - the keys' clock now, and the lifetime in force */

void tls__ticket_clock(int64_t *now, int64_t *lifetime)
{
    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    *now = tk_now();
    *lifetime = tk.lifetime;
    uv_mutex_unlock(&tk.lock);
}

/* tls__ticket_set_clock - tests: the clock keys are judged by */

void tls__ticket_set_clock(int64_t (*now)(void))
{
    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    tk.now = now;
    uv_mutex_unlock(&tk.lock);
}

/* tls__ticket_reset - tests: forget every key */

void tls__ticket_reset(void)
{
    uv_once(&tk_once, tk_init);
    uv_mutex_lock(&tk.lock);
    tk_wipe(&tk.cur);
    tk_wipe(&tk.prev);
    uv_mutex_unlock(&tk.lock);
    tls__ticket_chain_clear();
}
