/*
 * dns_txt_drive.c - dns/ lookups on a libuv loop for test_dns_txt.py
 * (dns_txt_lookup) and test_dns_dnssec.py (MX, host and TLSA lookups with
 * and without the AD bit).
 *
 *   dns_txt_drive SERVER TIMEOUT_MS [--dnssec] [KIND:]NAME...
 *
 * Looks every NAME up at once on resolver SERVER ("ip:port") and prints one
 * JSON object per callback ({"name" (as given), "status", "why", "txt":
 * [...], "nhosts", "secure", "hosts": [{"name", "secure", "status",
 * "addrs"}], "tlsa": [[usage, selector, mtype, "hex"]], "sync"}), then
 * {"callbacks", "loop_close"}.  KIND is txt (the default), mx, host or tlsa
 * (tlsa:HOST looks up _25._tcp.HOST); --dnssec: dns_resolver_set_dnssec.
 * "sync" is true for a callback that ran inside the call that started it
 * (a bug).  Exit 0; 1 if the resolver cannot start; 3 if the loop still
 * runs after 30 s.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

static const char *const status_name[] = {
    [DNS_OK] = "ok", [DNS_RETRY] = "retry", [DNS_FAIL] = "fail", [DNS_NULLMX] = "nullmx",
    [DNS_CANCELED] = "canceled",
};
static bool in_start;
static int callbacks;

/* host_json - one host with its addresses */

static json_t *host_json(const struct dns_host *h)
{
    json_t *o = json_object(), *addrs = json_array();

    for (size_t a = 0; a < h->naddrs; a++) {
        char buf[INET6_ADDRSTRLEN];
        const struct sockaddr_storage *ss = &h->addrs[a];
        const void *ip = ss->ss_family == AF_INET
            ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
            : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

        inet_ntop(ss->ss_family, ip, buf, sizeof(buf));
        json_array_append_new(addrs, json_string(buf));
    }
    json_object_set_new(o, "name", json_string(h->name));
    json_object_set_new(o, "secure", json_boolean(h->secure));
    json_object_set_new(o, "status", json_string(status_name[h->status]));
    json_object_set_new(o, "addrs", addrs);
    return o;
}

/* tlsa_json - the TLSA records of a result */

static json_t *tlsa_json(const struct dns_result *res)
{
    json_t *v = json_array();

    for (size_t i = 0; i < res->ntlsa; i++) {
        const struct dns_tlsa *t = &res->tlsa[i];
        char   *hex = calloc(1, 2 * t->len + 1);

        for (size_t k = 0; k < t->len; k++)
            sprintf(hex + 2 * k, "%02x", t->data[k]);
        json_array_append_new(v, json_pack("[iiis]", t->usage, t->selector, t->mtype, hex));
        free(hex);
    }
    return v;
}

/* on_result - print one result */

static void on_result(struct dns_query *q, const struct dns_result *res, void *arg)
{
    json_t *o = json_object(), *txt = json_array(), *hosts = json_array();

    callbacks++;
    for (size_t i = 0; i < res->ntxt; i++)
        json_array_append_new(txt, json_string(res->txt[i]));
    for (size_t i = 0; i < res->nhosts; i++)
        json_array_append_new(hosts, host_json(&res->hosts[i]));
    json_object_set_new(o, "name", json_string(arg));
    json_object_set_new(o, "status", json_string(status_name[res->status]));
    json_object_set_new(o, "why", json_string(res->why));
    json_object_set_new(o, "txt", txt);
    json_object_set_new(o, "nhosts", json_integer((json_int_t)res->nhosts));
    json_object_set_new(o, "secure", json_boolean(res->secure));
    json_object_set_new(o, "hosts", hosts);
    json_object_set_new(o, "tlsa", tlsa_json(res));
    json_object_set_new(o, "sync", json_boolean(in_start));
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
}

/* on_watchdog - the loop should have ended */

static void on_watchdog(uv_timer_t *t)
{
    fprintf(stderr, "dns_txt_drive: still running after 30 s\n");
    exit(3);
}

int main(int argc, char **argv)
{
    uv_loop_t loop;
    uv_timer_t watchdog;
    struct dns_resolver *r;
    const char *err = NULL;
    int rc, first = 3;

    if (argc > 3 && strcmp(argv[3], "--dnssec") == 0)
        first = 4;
    if (argc < first + 1) {
        fprintf(stderr, "usage: dns_txt_drive SERVER TIMEOUT_MS [--dnssec] [KIND:]NAME...\n");
        return 2;
    }
    uv_loop_init(&loop);
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 30000, 0);
    uv_unref((uv_handle_t *)&watchdog);
    if ((r = dns_resolver_new(&loop, argv[1], strtoull(argv[2], NULL, 10), &err)) == NULL) {
        fprintf(stderr, "dns_txt_drive: %s\n", err);
        return 1;
    }
    dns_resolver_set_dnssec(r, first == 4);
    for (int i = first; i < argc; i++) {
        const char *colon = strchr(argv[i], ':'), *name = colon ? colon + 1 : argv[i];

        in_start = true;
        if (strncmp(argv[i], "mx:", 3) == 0)
            dns_mx_lookup(r, name, on_result, argv[i]);
        else if (strncmp(argv[i], "host:", 5) == 0)
            dns_host_lookup(r, name, on_result, argv[i]);
        else if (strncmp(argv[i], "tlsa:", 5) == 0)
            dns_tlsa_lookup(r, name, 25, on_result, argv[i]);
        else
            dns_txt_lookup(r, strncmp(argv[i], "txt:", 4) == 0 ? name : argv[i], on_result,
                           argv[i]);
        in_start = false;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    dns_resolver_close(r, NULL, NULL);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    printf("{\"callbacks\": %d, \"loop_close\": %d}\n", callbacks, rc);
    return 0;
}
