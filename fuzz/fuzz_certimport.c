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
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls_certgen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_FATAL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_gen_bundle b;
    struct tls_gen_buf pem = { 0 };
    const char *why = NULL;
    int rc, leaf;

    if (size < 1)
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
