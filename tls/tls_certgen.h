/*
 * tls_certgen.h - making and importing what goes into the certificate
 * store (SPEC 6.1): private keys, self-signed certificates, PKCS#10
 * requests, PEM/DER certificate chains and PKCS#12 (.pfx) files.
 *
 * Plain data in, buffers out: nothing here touches the file system, and
 * nothing exposes a type of the TLS library.  `domsec cert` (relay/)
 * writes the buffers into the store with the layout below.
 *
 * STORE LAYOUT ([transport] certificate_store)
 *
 *   T.pem          the certificate, then its chain (issuer after subject)
 *   T.key          its private key: PEM, unencrypted, mode 0600
 *   T.meta         optional metadata (below)
 *   request-K.csr  a pending request: PKCS#10, PEM
 *   request-K.key  its private key, mode 0600
 *   request-K.meta optional metadata
 *   .*             temporary files, ignored by domsecd and domsec
 *
 * T is the certificate's thumbprint (SHA-1 of its DER, 40 uppercase hex)
 * for entries made by `domsec cert`; any other NAME.pem + NAME.key put
 * there by hand is an entry just the same (tls_store.h).  K is the key id
 * of the request's key (tls_gen_key_info: SHA-1 of the DER
 * SubjectPublicKeyInfo, 40 uppercase hex); a request is completed by the
 * certificate whose public key has that id.  domsecd reads only *.pem
 * with their .key, so a pending request is invisible to it.
 *
 * A .meta file is UTF-8 text, one "Name: value" a line; lines starting
 * with '#' and unknown names are ignored.  Known names:
 *
 *   FriendlyName: Edge relay 2026
 *
 * Keys are written as "RSA PRIVATE KEY" (PKCS#1) or "EC PRIVATE KEY"
 * (SEC1, with the curve OID), which domsecd and OpenSSL both read.
 */
#ifndef DOMSEC_TLS_CERTGEN_H
#define DOMSEC_TLS_CERTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tls_gen_key {                      /* the keys domsec makes */
    TLS_GEN_RSA2048,                    /* Exchange's default */
    TLS_GEN_RSA4096,
    TLS_GEN_EC256,                      /* ECDSA P-256 */
};

/* Results of the fallible calls. */
#define TLS_GEN_OK        0
#define TLS_GEN_ERROR    (-1)           /* *why says what */
#define TLS_GEN_PASSWORD (-2)           /* PKCS#12 or encrypted key: wrong or missing
                                         * password (the integrity check failed) */

/* Longest value of one subject attribute, in bytes (wolfCrypt's limit). */
#define TLS_GEN_ATTR_MAX 63

struct tls_gen_subject {                /* a parsed subject; "" = absent */
    char    c[3];                       /* two letters */
    char    st[TLS_GEN_ATTR_MAX + 1];
    char    l[TLS_GEN_ATTR_MAX + 1];
    char    o[TLS_GEN_ATTR_MAX + 1];
    char    ou[TLS_GEN_ATTR_MAX + 1];
    char    cn[TLS_GEN_ATTR_MAX + 1];
    char    email[TLS_GEN_ATTR_MAX + 1];
};

struct tls_gen_params {                 /* what a certificate or request says */
    const char *const *domains;         /* SAN dNSNames, in this order (not copied) */
    size_t  ndomains;
    const struct tls_gen_subject *subject;  /* NULL: CN = domains[0] */
    const unsigned char *like;          /* or NULL; else a DER certificate whose subject
                                         * and subjectAltName are copied as they are
                                         * (renewal); domains and subject are unused */
    size_t  like_len;
    unsigned days;                      /* self-signed: validity from now (1..36500) */
    int64_t now;                        /* unix seconds: notBefore = now - 1 hour */
};

struct tls_gen_buf {                    /* bytes owned by the holder */
    unsigned char *data;                /* NUL-terminated when PEM; NULL when empty */
    size_t  len;
};

struct tls_gen_key_info {               /* facts about a private key */
    char    id[41];                     /* SHA-1 of its SubjectPublicKeyInfo, uppercase hex */
    int     key_type;                   /* enum tls_key_type (tls_store.h) */
    int     key_bits;
    unsigned char spki_sha256[32];      /* SHA-256 of the same: the pin of a certificate
                                         * for this key (tls_spki_sha256) */
};

struct tls_gen_request_info {           /* facts about a PKCS#10 request */
    char    subject[512];               /* RFC 2253 order, as tls_cert_info's */
    char  **names;                      /* owned: subjectAltName dNSNames, in order */
    size_t  nnames;
    int     key_type;                   /* enum tls_key_type */
    int     key_bits;
};

struct tls_gen_bundle {                 /* what an imported file holds */
    struct tls_gen_buf key;             /* its private key as PEM (normalised, see
                                         * above), or data NULL */
    struct tls_gen_buf *certs;          /* owned: DER certificates, in file order (PEM,
                                         * DER) or leaf first (PKCS#12), duplicates
                                         * dropped */
    size_t  ncerts;
    bool    pkcs12;                     /* it was a PKCS#12 file */
};

/* tls_certgen.c: names, subjects, keys, self-signed certificates, requests. */
/* "rsa2048", "rsa4096", "ec256" (any case).  0, or -1 if unknown. */
int     tls_gen_key_parse(const char *name, enum tls_gen_key *out);
const char *tls_gen_key_name(enum tls_gen_key k);
/* The kind of a key found in a certificate (tls_cert_info key_type,
 * key_bits).  0, or -1 if domsec cannot make such a key. */
int     tls_gen_key_like(int key_type, int key_bits, enum tls_gen_key *out);
/*
 * Parse "C=US, O=Contoso, CN=mail.contoso.com" (RFC 4514-like: ',' or ';'
 * between attributes, in any order; spaces around them ignored; values
 * may be "quoted" or use \-escapes).  Attributes: C, ST (S), L, O, OU, CN,
 * emailAddress (E), each at most once, case-insensitive.  The certificate
 * lists them in the fixed order C, ST, L, O, OU, CN, emailAddress.  0, or
 * -1 with *why (valid until the next call in this thread).
 */
int     tls_gen_subject_parse(const char *text, struct tls_gen_subject *out, const char **why);
/* Whether name is a DNS name (LDH labels) or a "*." wildcard of one. */
bool    tls_gen_domain_ok(const char *name);

/*
 * A new private key (PEM) into *key, owned by the caller (free with
 * tls_gen_buf_free, which wipes it).  The calls below take keys as PEM or
 * DER, in any form domsecd accepts (PKCS#1, SEC1, PKCS#8).
 */
int     tls_gen_key(enum tls_gen_key k, struct tls_gen_buf *key, const char **why);
/* Facts about a private key.  0, or -1 with *why. */
int     tls_gen_key_info(const unsigned char *key, size_t len, struct tls_gen_key_info *out,
                         const char **why);
/*
 * A self-signed certificate (PEM) into *cert: subject p->subject (or CN =
 * the first domain), SAN dNSNames p->domains, EKU serverAuth+clientAuth,
 * keyUsage digitalSignature (+keyEncipherment for RSA), basicConstraints
 * CA:FALSE, a random positive 16-byte serial, SHA-256, notBefore now - 1h,
 * notAfter now + days.  0, or -1 with *why.
 */
int     tls_gen_self_signed(const struct tls_gen_params *p, const unsigned char *key,
                            size_t key_len, struct tls_gen_buf *cert, const char **why);
/* A PKCS#10 request (PEM) into *csr, signed with key: the subject, and a
 * requested extension with SAN, keyUsage and EKU as above.  0, or -1. */
int     tls_gen_request(const struct tls_gen_params *p, const unsigned char *key,
                        size_t key_len, struct tls_gen_buf *csr, const char **why);
/* Facts about a request (PEM or DER); free with tls_gen_request_info_free.
 * 0, or -1 with *why. */
int     tls_gen_request_info(const unsigned char *csr, size_t len,
                             struct tls_gen_request_info *out, const char **why);
void    tls_gen_request_info_free(struct tls_gen_request_info *ri);
/* The key id (as tls_gen_key_info's) of a DER certificate's public key.
 * 0, or -1 if it cannot be read. */
int     tls_gen_cert_key_id(const unsigned char *der, size_t len, char id[41]);

/* tls_certimport.c: import files (PEM, DER, PKCS#12) into a bundle. */
/*
 * Read an import file's bytes, recognised by content: PEM (certificates,
 * and at most one private key, encrypted or not), one DER certificate, or
 * PKCS#12.  password (NULL = none) opens a PKCS#12 or an encrypted PEM
 * key.  TLS_GEN_OK, TLS_GEN_PASSWORD, or TLS_GEN_ERROR with *why (says
 * how to re-export a PKCS#12 that uses an algorithm wolfSSL 5.5.4 lacks).
 */
int     tls_gen_bundle_read(const unsigned char *data, size_t len, const char *password,
                            struct tls_gen_bundle *out, const char **why);
/* The index of the certificate whose public key is the bundle's key, or -1. */
int     tls_gen_bundle_key_cert(const struct tls_gen_bundle *b);
/* Reorder: certs[leaf] first, then its issuer, the issuer's issuer, ...
 * (by name, stopping at a self-signed one), then the rest in file order. */
void    tls_gen_bundle_order(struct tls_gen_bundle *b, size_t leaf);
/* Every certificate as PEM, in bundle order, into *pem. */
void    tls_gen_bundle_pem(const struct tls_gen_bundle *b, struct tls_gen_buf *pem);
void    tls_gen_bundle_free(struct tls_gen_bundle *b);

/* tls_certgen.c */
/* Wipe and free the bytes; b is emptied (freeing twice is harmless). */
void    tls_gen_buf_free(struct tls_gen_buf *b);

#endif
