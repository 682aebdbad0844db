/*
 * tls_dane.h - DANE (RFC 6698, 7671, 7672): matching a peer's chain
 * against TLSA records.  wolfSSL has no DANE API; the match works on the
 * DER certificates the peer sent.
 */
#ifndef DOMSEC_TLS_DANE_H
#define DOMSEC_TLS_DANE_H

#include <stddef.h>
#include <stdint.h>

/* One TLSA record (RFC 6698 2.1). */
struct tls_tlsa {
    uint8_t usage;                      /* 2 DANE-TA, 3 DANE-EE (others unusable for SMTP) */
    uint8_t selector;                   /* 0 full certificate, 1 SubjectPublicKeyInfo */
    uint8_t mtype;                      /* 0 exact, 1 SHA-256, 2 SHA-512 */
    unsigned char *data;                /* owned by whoever holds the record */
    size_t  len;
};

#endif
