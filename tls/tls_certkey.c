/*
 * tls_certkey.c - private keys in wolfCrypt form for tls_certgen.c and
 * tls_certimport.c: loading one from PEM (maybe encrypted) or DER, the
 * checks a loaded EC key must pass, and its public key and PEM encodings.
 *
 * CONTRACT
 *  Every function is synchronous and works on caller-owned input that it
 *  neither copies nor keeps.  A struct tls__gen_key is the caller's; it is
 *  released with tls__gen_key_free() after every tls__gen_key_load(), even
 *  a failed one.  Every scratch copy of private key bytes is wiped before
 *  it is released.  tls__gen_key_load() returns TLS_GEN_OK,
 *  TLS_GEN_PASSWORD or TLS_GEN_ERROR; *why lives in tls_certgen.c's
 *  per-thread buffer (tls__gen_fail) until the next call in that thread.
 *  No callbacks, nothing to cancel; thread-safe (each check that needs an
 *  RNG has its own).
 *
 *  The wolfCrypt 5.5.4 facts behind the EC checks are at
 *  tls__gen_key_load(); tls_certgen.c lists the others.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls_certgen.h"
#include "tls_internal.h"

/* tls__gen_key_init - an empty key */

void tls__gen_key_init(struct tls__gen_key *k)
{
    k->type = 0;
    wc_InitRsaKey(&k->rsa, NULL);
    wc_ecc_init(&k->ecc);
}

/* tls__gen_key_free - release a key */

void tls__gen_key_free(struct tls__gen_key *k)
{
    wc_FreeRsaKey(&k->rsa);
    wc_ecc_free(&k->ecc);
}

/* gen_ecc_pub_matches - whether key's private scalar gives its stored public point */

static bool gen_ecc_pub_matches(ecc_key *key)
{
    ecc_point *pub = wc_ecc_new_point();
    WC_RNG  rng;                        /* blinds the scalar multiplication */
    bool    have_rng = wc_InitRng(&rng) == 0;
    bool    same = pub != NULL && have_rng && wc_ecc_make_pub_ex(key, pub, &rng) == 0
        && wc_ecc_cmp_point(pub, &key->pubkey) == MP_EQ;

    if (have_rng)
        wc_FreeRng(&rng);
    wc_ecc_del_point(pub);              /* NULL is a no-op */
    return same;
}

/* tls__gen_key_load - a private key from PEM (maybe encrypted) or DER */

int tls__gen_key_load(const unsigned char *in, size_t len, const char *password,
                      struct tls__gen_key *k, const char **why)
{
    static const char mismatch[] = "the EC private key does not match its own public "
        "point (a damaged or forged key)";
    unsigned char *der = xmalloc(len + 1);
    int     der_len = (int)len, rc = TLS_GEN_OK;
    word32  start = 0, idx;

    tls__gen_key_init(k);
    if (len > 0 && memmem(in, len, "-----BEGIN", 10) != NULL) {
        bool    encrypted = memmem(in, len, "ENCRYPTED", 9) != NULL;

        der_len = wc_KeyPemToDer(in, (int)len, der, (int)len, password);
        if (der_len <= 0) {
            rc = encrypted ? TLS_GEN_PASSWORD
                : tls__gen_fail(why, "the private key cannot be decoded (%d)", der_len);
            if (encrypted)
                tls__gen_fail(why, "the private key is encrypted and the password is %s",
                              password ? "wrong" : "missing (--password)");
            goto out;
        }
    } else {
        memcpy(der, in, len);
    }
    if (wc_GetPkcs8TraditionalOffset(der, &start, (word32)der_len) < 0)
        start = 0;                      /* not PKCS#8: PKCS#1 or SEC1 */
    idx = start;
    if (wc_RsaPrivateKeyDecode(der, &idx, &k->rsa, (word32)der_len) == 0) {
        k->type = RSA_TYPE;
        goto out;
    }
    idx = start;
    if (wc_EccPrivateKeyDecode(der, &idx, &k->ecc, (word32)der_len) == 0) {
        /* a SEC1 key without its public point: derive it */
        if (k->ecc.type == ECC_PRIVATEKEY_ONLY && wc_ecc_make_pub(&k->ecc, NULL) != 0)
            rc = tls__gen_fail(why, "the EC private key has no usable public point");
        /* wolfSSL 5.5.4 decodes a damaged key (a P-256 public point of 33
         * bytes, "04" and X only) that wc_EccKeyToDer then crashes on
         * (fuzz/regressions/certimport/): check the key before any use.
         * A key of a curve wolfSSL does not know can land here too: a
         * PKCS#8 secp256k1 key is read as P-256.  With SP P-256 code (the
         * -DDOMSEC_WOLFSSL=tuned build), wc_ecc_check_key also refuses a
         * point on the curve that the private scalar does not give. */
        else if (wc_ecc_check_key(&k->ecc) != 0)
            rc = wc_ecc_point_is_on_curve(&k->ecc.pubkey, k->ecc.idx) == 0
                ? tls__gen_fail(why, "%s", mismatch)
                : tls__gen_fail(why, "the EC private key is of an unsupported curve or "
                                "damaged (its public point is not on its curve)");
        /* Debian's wc_ecc_check_key does not check that the private scalar
         * gives the stored point, and the key is paired with a certificate by
         * that point: one scalar with another key's point would pass. */
        else if (!gen_ecc_pub_matches(&k->ecc))
            rc = tls__gen_fail(why, "%s", mismatch);
        else
            k->type = ECC_TYPE;
        goto out;
    }
    rc = tls__gen_fail(why, "not an RSA or EC private key");
out:
    explicit_bzero(der, len + 1);
    free(der);
    if (rc != TLS_GEN_OK) {
        tls__gen_key_free(k);
        tls__gen_key_init(k);           /* the caller frees it once more: harmless */
    }
    return rc;
}

/* tls__gen_key_spki - the DER SubjectPublicKeyInfo of a key into buf; its length */

int tls__gen_key_spki(struct tls__gen_key *k, unsigned char *buf, size_t cap)
{
    if (k->type == RSA_TYPE)
        return wc_RsaKeyToPublicDer(&k->rsa, buf, (word32)cap);
    return wc_EccPublicKeyToDer(&k->ecc, buf, (word32)cap, 1);
}

/* tls__gen_key_pem - a key as PKCS#1 or SEC1 (with curve OID) PEM */

int tls__gen_key_pem(struct tls__gen_key *k, struct tls_gen_buf *out)
{
    unsigned char der[5000];            /* RSA 4096 PKCS#1 is about 2.4 KB */
    int     n, rc;

    if (k->type == RSA_TYPE)
        n = wc_RsaKeyToDer(&k->rsa, der, sizeof(der));
    else
        n = wc_EccKeyToDer(&k->ecc, der, sizeof(der));
    rc = n > 0 ? tls__gen_pem(der, (size_t)n, k->type == RSA_TYPE ? PRIVATEKEY_TYPE
                              : ECC_PRIVATEKEY_TYPE, out) : -1;
    explicit_bzero(der, sizeof(der));
    return rc;
}
