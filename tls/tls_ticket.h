/*
 * tls_ticket.h - the keys that seal TLS session tickets for inbound
 * partners: one set for the whole process (every worker, every receive
 * connector, every configuration generation), in memory only, rotated on
 * a schedule.
 *
 * A key seals new tickets for one lifetime from its birth and opens them
 * for one more, so a ticket is good for at least one lifetime and a key
 * lives at most two.  A ticket that does not open (an unknown or expired
 * key name, a wrong tag) makes wolfSSL do a full handshake, never fail.
 */
#ifndef DOMSEC_TLS_TICKET_H
#define DOMSEC_TLS_TICKET_H

#include <stddef.h>
#include <stdint.h>

#define TLS_TICKET_LIFETIME_DEFAULT 3600     /* seconds: see tls_ticket.c */
#define TLS_TICKET_NONCE_SZ 12          /* the AES-GCM nonce: the iv's first bytes */
#define TKC_ENTRIES_MAX 65536           /* tickets whose peer is kept */
#define TKC_BYTES_MAX (16u << 20)       /* bytes of distinct chains kept */

/* tls_ticket.c */
/* The lifetime (seconds, > 0) of tickets sealed from now on and of the
 * keys: a reload sets it; the keys themselves are kept.  Thread-safe. */
void    tls_ticket_set_lifetime(uint32_t seconds);
uint32_t tls_ticket_lifetime(void);
/*
 * tls__ticket_use(WOLFSSL_CTX *, seconds), declared in tls_internal.h for
 * tls_ctx.c: seal that server context's tickets with the process's keys and
 * tell clients they are good for seconds (0: tls_ticket_lifetime()).
 *
 * The two halves of wolfSSL's ticket callback, in place: seal len bytes of
 * ticket state under the current key, filling key_name, iv and mac; open
 * them again.  0, or -1 (no key for that name, a key too old, a wrong tag:
 * the callback then rejects the ticket, and wolfSSL does a full handshake).
 */
int     tls__ticket_seal(unsigned char key_name[16], unsigned char iv[16],
                         unsigned char mac[32], unsigned char *ticket, int len);
int     tls__ticket_open(const unsigned char key_name[16], const unsigned char iv[16],
                         const unsigned char mac[32], unsigned char *ticket, int len);
/* Tests: the clock (seconds) the keys are judged by (NULL: time(NULL)),
 * and forgetting every key. */
void    tls__ticket_set_clock(int64_t (*now)(void));
void    tls__ticket_reset(void);

/* tls_ticket_chain.c (the WOLFSSL-facing half is in tls_internal.h). */
/* Forget every entry; tests: the counts, the bounds (0: the defaults). */
void    tls__ticket_chain_clear(void);
void    tls__ticket_chain_stats(size_t *entries, size_t *bytes);
void    tls__ticket_chain_bounds(size_t entries, size_t bytes);

#endif
