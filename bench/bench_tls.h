/* bench_tls.h - shared plumbing of the bench tools (smtp_load, smtp_sink):
 * one SMTP byte stream over libuv that switches to TLS (wolfSSL with memory-buffer
 * I/O callbacks) in place after STARTTLS, plus time and percentile helpers.
 * Bench code only: never linked into domsecd, aborts on OOM. */
#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <uv.h>
#include <stddef.h>
#include <stdint.h>

struct bt_conn;

/* Events delivered to the owner's callback. */
enum bt_event {
    BT_DATA,        /* plaintext bytes are waiting in c->pt (consume with bt_consume) */
    BT_TLS_READY,   /* handshake done */
    BT_CLOSED,      /* peer closed, error or handshake failure; c->error says which */
};
typedef void (*bt_cb)(struct bt_conn *c, enum bt_event ev);

struct bt_conn {
    /* Public, read-only. */
    uv_tcp_t tcp;
    int tls;                    /* 0 clear, 1 handshaking, 2 established */
    int closing;
    char error[160];            /* why BT_CLOSED, "" when clean */
    char *pt;                   /* plaintext received, pt_len bytes; owned here */
    size_t pt_len;
    void *data;                 /* owner's */
    WOLFSSL_SESSION *resume;    /* owner's, optional: offered by bt_start_tls (client) */
    /* Private. */
    bt_cb cb;
    WOLFSSL *ssl;
    int is_server;
    char *in;                   /* ciphertext not yet consumed by wolfSSL */
    size_t in_len, in_cap, pt_cap;
    int eof;
    void (*free_cb)(struct bt_conn *);   /* called from close_cb */
};

/* bench_tls.c */
uint64_t bt_now_ns(void);                       /* CLOCK_REALTIME, ns since epoch */
WOLFSSL_CTX *bt_ctx(int server, const char *cert, const char *key, const char *ca,
                    int require_peer_cert);
void bt_conn_init(struct bt_conn *c, uv_loop_t *loop, bt_cb cb, int is_server);
int bt_read_start(struct bt_conn *c);
int bt_start_tls(struct bt_conn *c, WOLFSSL_CTX *ctx, const char *peer_name);
void bt_write(struct bt_conn *c, const char *buf, size_t len);
void bt_consume(struct bt_conn *c, size_t n);
void bt_close(struct bt_conn *c, const char *why);   /* free_cb runs later, once */
int bt_peer_cert_ok(struct bt_conn *c);              /* peer sent a certificate that verified */

/* Next complete line of c->pt from *off: copied into line (at most cap - 1 bytes,
 * the trailing CR dropped, NUL-terminated), *off moved past its LF.  Returns its
 * length, or -1 when no complete line is left (*off unchanged). */
long bt_next_line(struct bt_conn *c, size_t *off, char *line, size_t cap);

/* "HOST:PORT" (IPv4 or IPv6 address) into *addr; 0, or -1 when malformed. */
int bt_parse_addr(const char *hostport, struct sockaddr_storage *addr);

/* Growable array of int64 samples with percentiles (sorts in place). */
struct bt_samples { int64_t *v; size_t n, cap; };
void bt_sample_add(struct bt_samples *s, int64_t x);
int64_t bt_percentile(struct bt_samples *s, double p);   /* p in 0..100; -1 when empty */

#endif
