/*
 * wolfssl_tuned_check.c - what a -DDOMSEC_WOLFSSL=tuned build compiles and links
 * against (ctest wolfssl/tuned, cmake/WolfSSLTunedCheck.cmake reads the output).
 *
 * It does not compile against an options.h without the assembly macros (Debian's
 * /usr/include/wolfssl/options.h has neither): a wrong include order fails the build.
 * Prints the linked library's version, the header's, and whether an AES-GCM key set
 * up by the linked library uses AES-NI on this CPU ("aesni 1").
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <stdio.h>

#if !defined(WOLFSSL_AESNI) || !defined(WOLFSSL_SP_X86_64_ASM)
#error "this options.h has no WOLFSSL_AESNI or WOLFSSL_SP_X86_64_ASM (the system one?)"
#endif

int     main(void)
{
    Aes     aes;
    byte    key[16] = {0};

    printf("library %s\n", wolfSSL_lib_version());
    printf("header %s\n", LIBWOLFSSL_VERSION_STRING);
    printf("options WOLFSSL_AESNI WOLFSSL_SP_X86_64_ASM\n");
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0
        || wc_AesGcmSetKey(&aes, key, sizeof(key)) != 0) {
        printf("wc_AesGcmSetKey failed\n");
        return 1;
    }
    printf("aesni %d\n", (int) aes.use_aesni);
    wc_AesFree(&aes);
    return 0;
}
