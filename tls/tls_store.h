/*
 * tls_store.h - the certificate store (SPEC 6.1) and the choice of the
 * certificate a connector presents (SPEC 6.2, Exchange 8.3).
 *
 * The store is a directory of NAME.pem files (the certificate, then any
 * chain certificates), each with its private key NAME.key beside it
 * (mode 0600).  Loading never fails because of one bad file: the entry
 * records what is wrong with it, and selection passes it over.
 *
 * Plain facts about a certificate (struct tls_cert_info) and the store's
 * entries are visible and read-only; the store itself is opaque.  Nothing
 * here exposes a type of the TLS library.
 */
#ifndef DOMSEC_TLS_STORE_H
#define DOMSEC_TLS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tls_key_type {
    TLS_KEY_OTHER,
    TLS_KEY_RSA,
    TLS_KEY_EC,
};

struct tls_cert_info {                  /* facts about one X.509 certificate */
    char    subject[512];               /* RFC 2253 order "CN=..., O=..., C=.." */
    char    issuer[512];
    char    serial[130];                /* uppercase hex, as openssl -serial */
    char    thumbprint[41];             /* SHA-1 of DER, 40 uppercase hex */
    char  **names;                      /* owned: subject CN (if a DNS-like name) then SAN
                                         * dNSNames, deduplicated case-insensitively,
                                         * certificate order */
    size_t  nnames;
    bool    cn_not_san;                 /* names[0] is the subject CN and no SAN dNSName
                                         * equals it: the SAN names are names[1..] (RFC
                                         * 8461 4.2 matches those only) */
    int64_t not_before, not_after;      /* unix seconds */
    bool    self_signed;                /* subject == issuer and the signature verifies
                                         * with its own key */
    bool    is_ca;                      /* basicConstraints CA:TRUE */
    bool    eku_present, eku_server, eku_client;
    int     key_type;                   /* enum tls_key_type */
    int     key_bits;
    unsigned char spki_sha256[32];      /* the pin: SHA-256 of the DER SubjectPublicKeyInfo
                                         * (tls_spki_sha256); all zero if unreadable */
};

/* tls_certinfo.c */
/* Read the facts of one DER certificate into out. 0, or -1 (not a certificate). */
int     tls_cert_info_from_der(const unsigned char *der, size_t len, struct tls_cert_info *out);
/* The first certificate of a PEM file. 0, or -1 with *why (valid until the
 * next call in this thread). */
int     tls_cert_info_from_pem_file(const char *path, struct tls_cert_info *out,
                                    const char **why);
/* Free the names; out is zeroed (freeing twice is harmless). */
void    tls_cert_info_free(struct tls_cert_info *ci);
/* The names joined with ';' for the protocol log ("a;b;c"), cut before the
 * first name that does not fit in sz - 1 bytes. */
void    tls_cert_info_names(const struct tls_cert_info *ci, char *buf, size_t sz);
/* SHA-256 of len bytes as 64 uppercase hex digits and a NUL.  0, or -1. */
int     tls_sha256_hex(const void *data, size_t len, char out[65]);
/* The pin of a DER certificate (not kept): the SHA-256 of its DER
 * SubjectPublicKeyInfo, as TLSA 3 1 1 and `openssl x509 -pubkey | openssl
 * pkey -pubin -outform DER | openssl dgst -sha256` give it.  0, or -1 (not
 * a certificate). */
int     tls_spki_sha256(const unsigned char *der, size_t len, unsigned char out[32]);

struct tls_store_entry {                /* one certificate of the store (read-only) */
    char   *cert_path;                  /* NAME.pem: the certificate, then any chain
                                         * certificates */
    char   *key_path;                   /* NAME.key beside it, or NULL (no private key) */
    struct tls_cert_info info;          /* zeroed if the file holds no certificate */
    bool    key_ok;                     /* key present, matches the certificate, mode not
                                         * readable by group/others */
    const char *problem;                /* why not usable, or NULL.  "expired" and "not yet
                                         * valid" (at load time) mean: used only when
                                         * nothing else names the connector */
    bool    ca_issued_valid;            /* not self-signed, chains to trusted_ca_file (+ the
                                         * chain certs in its .pem), within its validity
                                         * period */
    bool    ca_chained;                 /* the same, its own validity period aside (for
                                         * `domsec cert show`: DateInvalid vs Untrusted) */
};

struct tls_store;

/* tls_store.c */
/*
 * Load every NAME.pem (+ NAME.key) in dir, in name order.  Problems with
 * single files are recorded in the entry (and logged as warnings naming
 * the file), never fatal; a missing or unreadable dir gives NULL with
 * *why.  trusted_ca_file may be NULL or missing (then nothing is
 * ca_issued_valid).  now is time(NULL), except in tests.
 */
struct tls_store *tls_store_load(const char *dir, const char *trusted_ca_file, int64_t now,
                                 const char **why);
void    tls_store_free(struct tls_store *s);
size_t  tls_store_count(const struct tls_store *s);
const struct tls_store_entry *tls_store_entry_at(const struct tls_store *s, size_t i);
/*
 * The certificate a connector with this fqdn presents, or the pinned
 * thumbprint if pinned is not NULL.  NULL with *why (valid until the next
 * call in this thread) if there is none.  The result belongs to the store.
 */
const struct tls_store_entry *tls_store_select(const struct tls_store *s, const char *fqdn,
                                               const char *pinned, int64_t now,
                                               const char **why);

#endif
