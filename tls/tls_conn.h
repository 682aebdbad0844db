/*
 * tls_conn.h - one byte stream over a libuv TCP handle; STARTTLS later
 * becomes a state change of the same object.
 *
 * The rest of the program sees events and bytes, never a socket or a
 * WOLFSSL*.  One callback receives every event:
 *
 *   TLS_EV_CONNECTED an outbound connect (tls_conn_connect) succeeded.
 *   TLS_EV_TLS_READY the TLS handshake finished; tls_conn_facts() tells the
 *                   protocol, cipher and what we know of the peer certificate.
 *   TLS_EV_DATA_IN  new input is buffered: peek it, consume what you used.
 *                   Unconsumed bytes stay buffered for the next event.
 *   TLS_EV_EOF      the peer closed its side (after all DATA_IN).
 *   TLS_EV_DRAINED  all queued output was written (only after
 *                   tls_conn_notify_drained() asked for it, once).
 *   TLS_EV_ERROR    a read or write failed; close the conn.
 *   TLS_EV_CLOSED   the last event: the conn is freed when the callback
 *                   returns.  Delivered only after tls_conn_close().
 *
 * Callbacks never run inside the call that started them, except that
 * tls_conn_close() may be called from any callback.  After close, no event
 * but CLOSED is delivered.
 */
#ifndef DOMSEC_TLS_CONN_H
#define DOMSEC_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "tls_crl.h"                   /* enum tls_revocation */
#include "tls_ocsp.h"                  /* enum tls_ocsp_status, tls_ocsp_source */

struct tls_conn;
struct tls_session;                     /* a resumable TLS session (client side) */

enum tls_event {
    TLS_EV_CONNECTED,
    TLS_EV_TLS_READY,
    TLS_EV_DATA_IN,
    TLS_EV_EOF,
    TLS_EV_DRAINED,
    TLS_EV_ERROR,
    TLS_EV_CLOSED,
};

typedef void (*tls_conn_cb)(struct tls_conn *c, enum tls_event ev, void *arg);

struct tls_ctx;

/* What validation of the peer's chain found (SPEC 6.2); names match is policy's. */
enum tls_chain {
    TLS_CHAIN_VALID, TLS_CHAIN_UNTRUSTED, TLS_CHAIN_EXPIRED, TLS_CHAIN_NOT_YET_VALID,
    TLS_CHAIN_BAD_EKU, TLS_CHAIN_REVOKED, TLS_CHAIN_REVOCATION_UNKNOWN, TLS_CHAIN_INVALID,
    TLS_CHAIN_NONE,                     /* no peer certificate */
};

struct tls_facts {                      /* plain data, valid until the conn is freed */
    char    version[16];                /* "TLSv1.3" */
    char    cipher[64];                 /* IANA name, "TLS_AES_128_GCM_SHA256" */
    int     cipher_bits;
    char    group[32];                  /* key exchange group, "SECP256R1", or "" */
    int     kex_bits;                   /* key exchange strength: the group's size (P-256
                                         * 256, X25519 255) or the DH prime's bits; 0 if
                                         * unknown */
    bool    resumed;                    /* an earlier session was resumed: the peer's
                                         * chain and verdict are the first handshake's
                                         * (revocation is checked again now) */
    bool    peer_cert;
    const unsigned char *peer_der;      /* the peer's leaf certificate (DER) or NULL */
    size_t  peer_der_len;
    long    verify_code;                /* X509_V_* of the chain check (0 = ok) */
    enum tls_chain chain;
    enum tls_revocation revocation;     /* checked only when chain is VALID */
    char    revocation_reason[256];     /* why REVOKED or UNKNOWN, else "" */
    /* OCSP of the chain, from a stapled response only (checked only when chain
     * is VALID; revocation above is the CRL verdict); without a staple NOT_CHECKED:
     * the OCSP cache is checked by whoever needs OCSP (tls_ocsp_check_chain on
     * tls_conn_peer_chain), not on every handshake: */
    enum tls_ocsp_status ocsp;
    enum tls_ocsp_source ocsp_source;   /* where the deciding response came from */
    char    ocsp_reason[256];           /* why REVOKED or UNKNOWN, else "" (a
                                         * staple is GOOD or fails the handshake,
                                         * so today always "") */
    char    chain_reason[320];          /* why UNTRUSTED, else "": "partner sent 1
                                         * certificate; issuer CN=... not found", "partner
                                         * sent 1 certificate; self-signed certificate not
                                         * in trusted_ca_file", "partner sent 2
                                         * certificates; chain does not end at a trusted
                                         * root: CN=... is not in trusted_ca_file"; from
                                         * tls_facts_from_chain also "partner sent 3
                                         * certificates out of order: ...", "partner sent
                                         * 3 certificates; certificate 1 (CN=...) does not
                                         * verify: ASN date error, current date after" */
    /* Identity facts of the leaf (per-partner policy): */
    unsigned char spki_sha256[32];      /* SHA-256 of the leaf's DER SubjectPublicKeyInfo:
                                         * its pin (= TLSA 3 1 1 data); zero without a leaf */
    bool    eku_server_only;            /* the leaf has an EKU with serverAuth and without
                                         * clientAuth (a 2026 public certificate) */
};

/* tls_facts.c */
/* Why the peer's chain failed, for a log line's detail="...": the
 * revocation reason when REVOKED or UNKNOWN, the chain reason when
 * UNTRUSTED, else "".  Points into f.  Names in it are RFC 2253 text, so a
 * '"' in a name is escaped as \" (the way revocation reasons are). */
const char *tls_facts_detail(const struct tls_facts *f);
/*
 * The facts a handshake would record about a peer that presented chain
 * (DER, leaf first; not copied, f->peer_der points at chain[0]): its
 * verdict against trusted_ca (PEM file) at the real clock, classified as
 * a handshake's, the Untrusted reason, and for a valid chain its
 * revocation against the published CRL set.  Protocol and cipher stay
 * empty.  For `domsec test-partner --inbound`.  0, or -1 with *why
 * (static).
 */
/* Every certificate of a PEM file, DER in file order, into *out (owned:
 * tls_chain_free) and *n.  0, or -1 with *why (static). */
int     tls_chain_read_pem(const char *path, struct tls_crl_cert **out, size_t *n,
                           const char **why);
/* The same from the open descriptor fd (stays the caller's): anything but
 * a regular file is refused before a read. */
int     tls_chain_read_pem_fd(int fd, struct tls_crl_cert **out, size_t *n, const char **why);
void    tls_chain_free(struct tls_crl_cert *v, size_t n);
/* The certificates of chain (DER) as PEM text, one "BEGIN CERTIFICATE" block
 * each, in order: xmalloc'ed, NUL-terminated after *len bytes, owned by the
 * caller; NULL when one cannot be encoded.  Reentrant (any thread). */
char   *tls_chain_pem(const struct tls_crl_cert *chain, size_t n, size_t *len);
int     tls_facts_from_chain(const struct tls_crl_cert *chain, size_t n, const char *trusted_ca,
                             struct tls_facts *f, const char **why);

/* tls_conn.c */
/* Accept a pending connection from server; NULL (with *err) on failure. */
struct tls_conn *tls_conn_accept(uv_stream_t *server, tls_conn_cb cb, void *arg, int *err);
/*
 * Connect to addr (port set), bound to source if not NULL.  The result
 * comes later as TLS_EV_CONNECTED or TLS_EV_ERROR (tls_conn_error() then
 * tells why).  NULL with *err if the attempt could not even start.
 */
struct tls_conn *tls_conn_connect(uv_loop_t *loop, const struct sockaddr *addr,
                                  const struct sockaddr *source, tls_conn_cb cb, void *arg,
                                  int *err);
/* The libuv error behind the last TLS_EV_ERROR (0 if none): UV_ECONNREFUSED, ... */
int     tls_conn_error(struct tls_conn *c);
/*
 * STARTTLS, server side: call after queueing the 220 reply (it is flushed
 * as plaintext first).  Buffered plaintext input is discarded (CVE-2011-0411)
 * and its size returned in *dropped.  request_cert asks for (does not
 * require) a client certificate.  Then TLS_EV_TLS_READY or TLS_EV_ERROR
 * (tls_conn_tls_error() says why).  0 or -1.
 */
int     tls_conn_starttls_server(struct tls_conn *c, struct tls_ctx *ctx, bool request_cert,
                                 size_t *dropped);
/*
 * STARTTLS, client side: after the server's 220; sni may be NULL.  resume,
 * if not NULL, is a session from an earlier conn with the same ctx to the
 * same server, offered for resumption (not taken; the server may refuse and
 * a full handshake follows).  0 or -1.
 */
int     tls_conn_starttls_client(struct tls_conn *c, struct tls_ctx *ctx, const char *sni,
                                 const struct tls_session *resume);
/*
 * Ask the server for a stapled OCSP response (status_request) in the next
 * tls_conn_starttls_client.  A staple that wolfSSL verified against ctx's
 * trust store and found good makes the facts say ocsp GOOD, source
 * STAPLED.  Beware (wolfSSL 5.5.4, no override): a stapled "revoked" fails
 * the handshake (OCSP_CERT_REVOKED, -360), and so does, in TLS 1.2, a
 * staple it cannot verify (BAD_CERTIFICATE_STATUS_ERROR, -406: e.g. the
 * issuer is not in ctx's trust store; TLS 1.3 then ignores the staple).  So
 * ask only where a refused handshake is the policy's answer anyway.
 */
void    tls_conn_want_staple(struct tls_conn *c, bool on);
/*
 * A client conn's session, to resume later (TLS 1.3: it holds the ticket
 * the server sent after the handshake, so take it once a reply has been
 * read in TLS).  NULL for a server conn or before TLS_EV_TLS_READY.  Owned
 * by the caller: tls_session_free().  Thread-safe to keep and free.
 */
struct tls_session *tls_conn_session(struct tls_conn *c);
void    tls_session_free(struct tls_session *s);
/* Facts of the TLS session (NULL before TLS_EV_TLS_READY). */
const struct tls_facts *tls_conn_facts(const struct tls_conn *c);
/* The certificates the peer presented in its Certificate message, in the
 * order sent (normally the leaf first), at most max, into out: views into
 * the conn (valid until it is freed).  0 before TLS_EV_TLS_READY or when it
 * sent none.  For `domsec test-partner`, which shows the chain as sent, and
 * for domsecd, which keeps a client's chain as sent (relay_pcert.c). */
size_t  tls_conn_peer_chain(const struct tls_conn *c, struct tls_crl_cert *out, size_t max);
/* Why the handshake or the TLS stream failed ("" if it did not). */
const char *tls_conn_tls_error(const struct tls_conn *c);
/* Heap bytes held by the conn's own input and output buffers: 0 while it is
 * idle (everything read was consumed, everything written was flushed).
 * wolfSSL's state is not counted.  For tests and statistics. */
size_t  tls_conn_buffer_bytes(const struct tls_conn *c);
int     tls_conn_endpoints(struct tls_conn *c, struct sockaddr_storage *local,
                           struct sockaddr_storage *remote);
/* Start (or restart after pause) reading. 0 or a libuv error. */
int     tls_conn_resume(struct tls_conn *c);
/* Stop reading from the socket; buffered input stays buffered. */
void    tls_conn_pause(struct tls_conn *c);
/* Buffered input: pointer and length (valid until the next call on c). */
const char *tls_conn_peek(struct tls_conn *c, size_t *len);
void    tls_conn_consume(struct tls_conn *c, size_t n);
/* Append output (copied); sent at the next tls_conn_flush(). */
void    tls_conn_write(struct tls_conn *c, const void *p, size_t n);
/* Send appended output.  0, or a libuv error: the output is lost; close c. */
int     tls_conn_flush(struct tls_conn *c);
/* Bytes handed to the kernel but not yet written. */
size_t  tls_conn_write_queued(struct tls_conn *c);
/* Ask for one TLS_EV_DRAINED when the queued output reaches zero. */
void    tls_conn_notify_drained(struct tls_conn *c);
/* Flush, wait (bounded by linger_ms) for queued output, close; then CLOSED. */
void    tls_conn_close(struct tls_conn *c, unsigned linger_ms);

#endif
