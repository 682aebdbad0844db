/*
 * ecc_cost.c - what one TLS handshake's public-key operations and one record's
 * AES-GCM cost in the wolfSSL that domsecd links (Debian's 5.5.4: generic sp_int
 * math with FP_ECC, no SP P-256 code, no AES-NI), natively in microseconds; run it
 * under callgrind (bench/profile-crypto.sh) for instructions per operation.
 *
 *   ecc_cost [ITERATIONS]     (default 200)
 *
 * Each operation is timed over ITERATIONS calls after 3 warm-up calls (so the
 * FP_ECC fixed-point tables of the generator and of the verify key are built, as
 * in a long-running domsecd).  The ECDH peer key is fresh per call, as in TLS
 * (an ephemeral point never reaches the fixed-point cache).  Not part of the
 * build; bench/profile-crypto.sh compiles it.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/version.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "ecc_cost: %s failed: %d\n", what, r);
    exit(1);
}

#define WARM 3

int main(int argc, char **argv)
{
    int     n = argc > 1 ? atoi(argv[1]) : 200;
    WC_RNG  rng;
    ecc_key me, peer, signer;
    curve25519_key xa, xb;
    Aes     aes;
    byte    secret[66], sig[ECC_MAX_SIG_SIZE], hash[32], key[16] = {1}, iv[12] = {2}, tag[16];
    static byte rec[16384], out[16384];
    word32  len, siglen;
    int     r, ok;
    double  t = 0;

    if (n < 1)
        n = 1;
    memset(hash, 7, sizeof(hash));
    if ((r = wc_InitRng(&rng)) != 0)
        die("wc_InitRng", r);
    wc_ecc_init(&me);
    wc_ecc_init(&signer);
    if ((r = wc_ecc_make_key_ex(&rng, 32, &signer, ECC_SECP256R1)) != 0)
        die("make_key", r);
    printf("wolfSSL %s; %d iterations after %d warm-up calls\n", LIBWOLFSSL_VERSION_STRING, n, WARM);
    printf("%-44s %10s\n", "operation", "us/op");

    /* ECDHE key generation */
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM)
            t = now_us();
        wc_ecc_free(&me);
        wc_ecc_init(&me);
        if ((r = wc_ecc_make_key_ex(&rng, 32, &me, ECC_SECP256R1)) != 0)
            die("make_key", r);
    }
    printf("%-44s %10.1f\n", "P-256 key generation (wc_ecc_make_key_ex)", (now_us() - t) / n);

    /* ECDH with a fresh peer point each time (the peer's keygen is not timed) */
    t = 0;
    for (int i = 0; i < WARM + n; i++) {
        double t0;

        wc_ecc_init(&peer);
        if ((r = wc_ecc_make_key_ex(&rng, 32, &peer, ECC_SECP256R1)) != 0)
            die("peer make_key", r);
        wc_ecc_set_rng(&me, &rng);
        len = sizeof(secret);
        t0 = now_us();
        if ((r = wc_ecc_shared_secret(&me, &peer, secret, &len)) != 0)
            die("shared_secret", r);
        if (i >= WARM)
            t += now_us() - t0;
        wc_ecc_free(&peer);
    }
    printf("%-44s %10.1f\n", "P-256 ECDH shared secret, fresh peer point", t / n);

    /* ECDSA sign and verify with one key (a CA's or a partner's, seen again and again) */
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM)
            t = now_us();
        siglen = sizeof(sig);
        if ((r = wc_ecc_sign_hash(hash, sizeof(hash), sig, &siglen, &rng, &signer)) != 0)
            die("sign", r);
    }
    printf("%-44s %10.1f\n", "P-256 ECDSA sign (wc_ecc_sign_hash)", (now_us() - t) / n);
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM)
            t = now_us();
        if ((r = wc_ecc_verify_hash(sig, siglen, hash, sizeof(hash), &ok, &signer)) != 0 || !ok)
            die("verify", r);
    }
    printf("%-44s %10.1f\n", "P-256 ECDSA verify, same key (cached tables)", (now_us() - t) / n);

    /* X25519, for comparison: keygen + shared secret with a fresh peer */
    wc_curve25519_init(&xb);
    t = 0;
    double tk = 0;
    for (int i = 0; i < WARM + n; i++) {
        double t0;

        wc_curve25519_init(&xa);
        t0 = now_us();
        if ((r = wc_curve25519_make_key(&rng, 32, &xa)) != 0)
            die("x25519 make_key", r);
        if (i >= WARM)
            tk += now_us() - t0;
        wc_curve25519_free(&xb);
        wc_curve25519_init(&xb);
        if ((r = wc_curve25519_make_key(&rng, 32, &xb)) != 0)
            die("x25519 peer make_key", r);
        len = sizeof(secret);
        t0 = now_us();
        if ((r = wc_curve25519_shared_secret_ex(&xa, &xb, secret, &len, EC25519_BIG_ENDIAN)) != 0)
            die("x25519 shared", r);
        if (i >= WARM)
            t += now_us() - t0;
        wc_curve25519_free(&xa);
    }
    printf("%-44s %10.1f\n", "X25519 key generation", tk / n);
    printf("%-44s %10.1f\n", "X25519 shared secret, fresh peer", t / n);

    /* AES-128-GCM over a full 16 KiB record */
    wc_AesInit(&aes, NULL, INVALID_DEVID);
    if ((r = wc_AesGcmSetKey(&aes, key, sizeof(key))) != 0)
        die("gcm setkey", r);
    for (int i = 0; i < WARM + n; i++) {
        if (i == WARM)
            t = now_us();
        if ((r = wc_AesGcmEncrypt(&aes, out, rec, sizeof(rec), iv, sizeof(iv), tag, sizeof(tag),
                                  NULL, 0)) != 0)
            die("gcm encrypt", r);
    }
    t = (now_us() - t) / n;
    printf("%-44s %10.1f  (%.0f MB/s)\n", "AES-128-GCM encrypt, 16 KiB record", t, sizeof(rec) / t);
    wc_AesFree(&aes);
    wc_ecc_free(&me);
    wc_ecc_free(&signer);
    wc_curve25519_free(&xb);
    wc_FreeRng(&rng);
    return 0;
}
