/*
 * domsec_cert_int.h - what `domsec cert` shares between domsec_cert.c
 * (options; the commands that change the store: new, request, import,
 * renew, remove) and domsec_certshow.c (reading the store; an entry's
 * Status, RootCAType and Services; list and show).  Private to those two
 * files.  A command runs synchronously in one thread; nothing here calls
 * back.  Functions returning int return an exit status (0 done, 1 failed
 * after a message on stderr) unless said otherwise.
 */
#ifndef DOMSEC_CERT_INT_H
#define DOMSEC_CERT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "tls_certgen.h"

/* A pending request is request-K.csr (+ .key, .meta), K its key id. */
#define DOMSEC__CERT_REQ_PREFIX "request-"

struct config;
struct tls_crl_set;
struct tls_store;
struct tls_store_entry;

struct domsec__cert_pending {           /* a pending request of the store */
    char    id[41];                     /* key id: the K of request-K.* */
    char   *csr_path, *key_path;        /* owned */
    struct tls_gen_request_info ri;     /* zeroed if the .csr cannot be read */
    struct tls_gen_key_info ki;         /* zeroed if the .key cannot be read */
    char   *friendly;                   /* owned, or NULL */
};

struct domsec__cert_cmd {               /* one command's view of the store */
    const char *config_path;
    struct config *cfg;                 /* a reference */
    const char *dir;                    /* cfg->transport.certificate_store */
    int64_t now;
    bool    reload;                     /* signal domsecd afterwards */
    struct tls_store *store;            /* owned; NULL until cert_load */
    bool    trust_ok;                   /* trusted_ca_file holds a certificate */
    const struct tls_store_entry **used;/* owned: what each connector presents */
    char  **used_by;                    /* owned: "receive connector X" for each used[] */
    size_t  nused;
    struct domsec__cert_pending *pend;  /* owned */
    size_t  npend;
    struct tls_crl_set *crls;           /* a reference, loaded on demand */
    const char *crl_why;                /* why crls is NULL, once tried */
    bool    crl_tried;
    bool    chown;                      /* give new files to owner */
    uid_t   uid;
    gid_t   gid;
    char  **created;                    /* owned: files made so far (undone on failure) */
    size_t  ncreated;
};

struct domsec__cert_found {             /* the entry a thumbprint names */
    const struct tls_store_entry *e;
    const struct domsec__cert_pending *p;
};

/* domsec_cert.c */
/* "domsec: " and the message on stderr; returns 1. */
int     domsec__cert_err(const char *fmt, ...) LOG_PRINTF(1, 2);

/* domsec_certshow.c: reading the store. */
/* The configuration FILE and the owner of new files into *c. */
int     domsec__cert_open(struct domsec__cert_cmd *c, const char *config_path);
/* Release everything c holds. */
void    domsec__cert_close(struct domsec__cert_cmd *c);
/* The store, its pending requests and what each connector presents. */
int     domsec__cert_load(struct domsec__cert_cmd *c);
/* The entry a thumbprint (or a unique prefix of 8 or more hex digits)
 * names into *out. */
int     domsec__cert_find(const struct domsec__cert_cmd *c, const char *arg,
                          struct domsec__cert_found *out);
/* A whole file of at most 1 MiB, NUL-terminated (owned), or NULL with
 * errno (EFBIG: larger, EINVAL: not a regular file). */
unsigned char *domsec__cert_read(const char *path, size_t *len);
/* Wipe and free a buffer holding key material (p may be NULL). */
void    domsec__cert_wipe_free(unsigned char *p, size_t len);
/* "DIR/NAME" of an entry's "DIR/NAME.pem" (owned). */
char   *domsec__cert_base(const char *pem_path);
/* The FriendlyName of a certificate entry's .meta (owned), or NULL. */
char   *domsec__cert_friendly(const struct tls_store_entry *e);

/* domsec_certshow.c: status, list and show. */
/* "SMTP" when a connector of the configuration presents e, else "None". */
const char *domsec__cert_services(const struct domsec__cert_cmd *c,
                                  const struct tls_store_entry *e);
/* The connectors using e: presenting it (Services SMTP) or pinning it with
 * tls_certificate ("receive connector X (tls_certificate, FILE:LINE)"),
 * joined by ", "; "" if none.  Owned by the caller.  *pinned tells whether
 * any of them pins it. */
char   *domsec__cert_users(const struct domsec__cert_cmd *c, const struct tls_store_entry *e,
                           bool *pinned);
/* `cert list` and `cert show` of a loaded store. */
int     domsec__cert_list(struct domsec__cert_cmd *c);
int     domsec__cert_show(struct domsec__cert_cmd *c, const char *arg, bool json);

#endif
