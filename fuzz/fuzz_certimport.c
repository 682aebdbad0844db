/*
 * fuzz_certimport.c - libFuzzer target: certificate import
 * (tls/tls_certimport.c: PEM chains with at most one key, one DER
 * certificate, PKCS#12), as `domsec cert import` reads a file.
 *
 * Byte 0 picks the password: even = none, odd = "fuzz" (the password of
 * the PKCS#12 and encrypted-key seeds scripts/fuzz generates).  After a
 * successful read the bundle is searched for its key's certificate,
 * ordered from it and written back as PEM, as the import does.  Checks: a
 * failure says why; an OK bundle's counts and buffers are consistent.
 *
 * Skipped: inputs whose key-derivation iteration counts add up to more
 * than FUZZ_MAX_ITER.  wolfSSL 5.5.4 caps no PBKDF2 or PKCS#12 count, and
 * 2,000,000 iterations take 11-18 s under ASan, past libFuzzer's -timeout:
 * a finding of the file format, not of our code (the import refuses such
 * files itself if it learns to).  A count is a DER INTEGER right after an
 * OCTET STRING (the salt: PBKDF2-params, pkcs-12PbeParams and PKCS#12
 * MacData all read "salt, iterations"), looked for at every offset of the
 * input and of the base64 of each PEM block (encrypted PKCS#8 keys).  Not
 * seen: a count inside encrypted PKCS#12 content (the fuzzer would have to
 * produce ciphertext that decrypts to it).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls_certgen.h"

#define FUZZ_MAX_ITER 100000            /* ~1 s under ASan, all counts together */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_FATAL);
    return 0;
}

/* der_len - a DER length at *i (short or long form, up to 4 bytes); -1 if not one */

static long der_len(const uint8_t *p, size_t n, size_t *i)
{
    size_t k;
    long    len = 0;

    if (*i >= n)
        return -1;
    if (p[*i] < 0x80)
        return p[(*i)++];
    k = p[(*i)++] & 0x7f;
    if (k == 0 || k > 4 || *i + k > n)
        return -1;
    while (k-- > 0)
        len = (len << 8) | p[(*i)++];
    return len;
}

/* iterations - the sum of the INTEGERs that follow an OCTET STRING in p */

static uint64_t iterations(const uint8_t *p, size_t n)
{
    uint64_t sum = 0;

    for (size_t at = 0; at < n; at++) {
        size_t  i = at + 1;
        long    len, ilen;
        uint64_t v = 0;

        if (p[at] != 0x04 || (len = der_len(p, n, &i)) < 0 || (size_t)len >= n - i
            || p[i + (size_t)len] != 0x02)
            continue;
        i += (size_t)len + 1;
        if ((ilen = der_len(p, n, &i)) < 0 || (size_t)ilen > n - i)
            continue;
        if (ilen > 4)
            return UINT64_MAX;          /* wolfSSL refuses it, or reads it huge */
        while (ilen-- > 0)
            v = (v << 8) | p[i++];
        sum += v;
    }
    return sum;
}

/* pem_iterations - iterations() of the base64 of each PEM block in p */

static uint64_t pem_iterations(const uint8_t *p, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t *der = malloc(n / 4 * 3 + 3);
    uint64_t sum = 0;
    size_t  m = 0;
    uint32_t acc = 0;
    int     bits = 0;
    bool    in = false, header = false;

    for (size_t i = 0; i < n; i++) {
        const char *c;

        if ((n - i >= 10 && memcmp(p + i, "-----BEGIN", 10) == 0)
            || (n - i >= 8 && memcmp(p + i, "-----END", 8) == 0)) {
            sum += iterations(der, m);  /* a block ends, another may start */
            m = 0, bits = 0;
            in = p[i + 5] == 'B';
            header = true;              /* the rest of this line is no base64 */
        } else if (p[i] == '\n') {
            header = false;
        } else if (p[i] == ':' && in) {
            header = true;              /* Proc-Type:, DEK-Info: lines */
            m = 0, bits = 0;
        } else if (in && !header && p[i] != 0 && (c = strchr(b64, p[i])) != NULL) {
            acc = (acc << 6) | (uint32_t)(c - b64);
            if ((bits += 6) >= 8)
                der[m++] = (uint8_t)(acc >> (bits -= 8));
        }
    }
    sum += iterations(der, m);
    free(der);
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_gen_bundle b;
    struct tls_gen_buf pem = { 0 };
    const char *why = NULL;
    int rc, leaf;

    if (size < 1 || iterations(data, size) > FUZZ_MAX_ITER
        || pem_iterations(data, size) > FUZZ_MAX_ITER)
        return 0;
    memset(&b, 0, sizeof(b));
    rc = tls_gen_bundle_read(data + 1, size - 1, (data[0] & 1) ? "fuzz" : NULL, &b, &why);
    if (rc == TLS_GEN_ERROR && why == NULL)
        abort();
    if (getenv("FUZZ_TRACE") != NULL)   /* see what the seeds reach */
        fprintf(stderr, "rc=%d why=%s certs=%zu key=%s pkcs12=%d\n", rc, why ? why : "",
                b.ncerts, b.key.data ? "yes" : "no", (int)b.pkcs12);
    if (rc == TLS_GEN_OK) {
        for (size_t i = 0; i < b.ncerts; i++)
            if (b.certs[i].data == NULL || b.certs[i].len == 0)
                abort();
        leaf = tls_gen_bundle_key_cert(&b);
        if (leaf < -1 || leaf >= (int)b.ncerts)
            abort();
        if (b.ncerts > 0)
            tls_gen_bundle_order(&b, leaf >= 0 ? (size_t)leaf : 0);
        tls_gen_bundle_pem(&b, &pem);
        if (b.ncerts > 0 && (pem.data == NULL || pem.len == 0))
            abort();
        tls_gen_buf_free(&pem);
    }
    tls_gen_bundle_free(&b);
    return 0;
}
