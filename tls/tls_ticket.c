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
 * Why 5 minutes by default (wolfSSL's own hint is 300 s): a resumed
 * handshake gets the partner's certificate chain from wolfSSL's session
 * cache, found by the id inside the ticket (WOLFSSL_TICKET_HAVE_ID), and
 * Debian's build caches 33 sessions (11 rows of 3).  A ticket whose
 * session was pushed out still resumes, with no client certificate, and
 * domain security then refuses the partner (530 5.7.1): the longer a
 * ticket lives, the likelier that is.  Nothing public in wolfSSL 5.5.4
 * lets this callback see the cache, so the lifetime is the only bound.
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
#define TICKET_NONCE_SZ 12
#define TICKET_TAG_SZ  16

struct ticket_key {
    unsigned char name[TICKET_NAME_SZ];
    unsigned char key[TICKET_KEY_SZ];
    int64_t born;                       /* seconds; 0 = no key */
};

static struct {
    uv_mutex_t lock;
    bool    rng_ok;
    WC_RNG  rng;
    struct ticket_key cur, prev;
    uint32_t lifetime;                  /* seconds */
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

/* tls__ticket_seal - seal ticket in place under the current key, rotating it when due */

int tls__ticket_seal(unsigned char key_name[16], unsigned char iv[16], unsigned char mac[32],
                     unsigned char *ticket, int len)
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

/* tls__ticket_open - open a ticket in place: its key must be known and not too old */

int tls__ticket_open(const unsigned char key_name[16], const unsigned char iv[16],
                     const unsigned char mac[32], unsigned char *ticket, int len)
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
    uv_mutex_unlock(&tk.lock);
    if (!found)
        return -1;
    memcpy(tag, mac, sizeof(tag));
    ret = tk_gcm(&k, false, iv, tag, ticket, len);
    tk_wipe(&k);
    return ret;
}

/* tls_ticket_cb - wolfSSL's SessionTicketEncCb: seal (enc) or open a ticket in place */

static int tls_ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                         unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                         unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc,
                         unsigned char *ticket, int in_len, int *out_len, void *arg)
{
    (void)ssl;
    (void)arg;
    if ((enc ? tls__ticket_seal(key_name, iv, mac, ticket, in_len)
         : tls__ticket_open(key_name, iv, mac, ticket, in_len)) != 0)
        return WOLFSSL_TICKET_RET_REJECT;
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
    if (wolfSSL_CTX_set_TicketEncCb(ctx, tls_ticket_cb) != WOLFSSL_SUCCESS
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
}
