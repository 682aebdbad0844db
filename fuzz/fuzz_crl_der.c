/*
 * fuzz_crl_der.c - libFuzzer target: CRLs and the certificate fields the
 * revocation check reads (tls/tls_crl_der.c, tls/tls_crl.c).
 *
 * The input is added to a CRL set (DER, or PEM "X509 CRL" blocks, told
 * apart by content) and listed; then it is read as a DER certificate: its
 * CRL distribution points, and a revocation check of a chain made of it
 * against the set (the walk by issuer, the CRL lookup).  Nothing may crash,
 * and the listing's strings must be NUL-terminated within their arrays.
 * Seeds: fuzz/corpus/crl_der/, plus the test PKI's CRLs and certificates
 * that scripts/fuzz generates (tests/pki/make-pki.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tls_crl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int64_t fuzz_now;                /* today 00:00 UTC: fixed within a run, and current
                                         * for the CRLs of the PKI scripts/fuzz makes */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_FATAL);
    fuzz_now = (int64_t)time(NULL) / 86400 * 86400;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_crl_set *s = tls_crl_set_new();
    struct tls_crl_cert chain[2] = { { data, size }, { data, size } };
    struct tls_crl_result res;
    struct tls_crl_info info;
    const char *why = NULL;
    char urls[1024];

    if (tls_crl_set_add(s, data, size, "fuzz", NULL, &why) < 0 && why == NULL)
        abort();                        /* a refusal says why */
    for (size_t i = 0; i < tls_crl_set_count(s); i++) {
        tls_crl_set_info(s, i, fuzz_now, &info);
        if (memchr(info.issuer, '\0', sizeof(info.issuer)) == NULL
            || memchr(info.number, '\0', sizeof(info.number)) == NULL || info.status == NULL)
            abort();
    }
    tls_crl_cdp_urls(data, size, urls, sizeof(urls));
    if (memchr(urls, '\0', sizeof(urls)) == NULL)
        abort();
    tls_crl_check(s, chain, 2, fuzz_now, &res);
    if (memchr(res.reason, '\0', sizeof(res.reason)) == NULL)
        abort();
    tls_crl_set_unref(s);
    return 0;
}
