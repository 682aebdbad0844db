/*
 * relay_ctl_cmds.c - the core commands of the control socket: ping,
 * status, reload.
 *
 * CONTRACT
 *  Main loop only (relay_ctl.c calls the handlers there).  Each handler
 *  answers before it returns.  status reads the current configuration
 *  (a reference held for the call), the installed TLS material
 *  (relay_tls_own_cert), the connection counts (relay_limits), the queue
 *  gauges and the counters; it never waits for another thread.  reload
 *  runs the server's reload (blocking file I/O, as SIGHUP's) and answers
 *  its result.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay_ctl.h"
#include "relay_ctl_int.h"
#include "relay_limits.h"
#include "relay_stats.h"
#include "relay_tls.h"
#include "tls_crl.h"
#include "tls_ctx.h"
#include "tls_store.h"

#define CTL_NOT_OFFERED ": STARTTLS is not offered"

/* ctl_cmd_ping - {"version","pid"} */

static void ctl_cmd_ping(struct ctl_req *r, json_t *args)
{
    ctl_req_ok(r, json_pack("{s:s, s:i}", "version", DOMSEC_VERSION, "pid", (int)getpid()));
}

/* ctl_cert_json - a certificate's facts (relay_tls_own_cert's callback) */

static void ctl_cert_json(const struct tls_cert_info *ci, void *arg)
{
    json_t **out = arg;
    int64_t now = ctl__now_ms() / 1000, left = ci->not_after - now;

    *out = json_pack("{s:s, s:o, s:o, s:I, s:I}", "thumbprint", ci->thumbprint,
                     "subject", ctlproto_string(ci->subject),
                     "issuer", ctlproto_string(ci->issuer),
                     "not_after_ms", (json_int_t)ci->not_after * 1000,
                     "days_left", (json_int_t)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400)));
}

/* ctl_cert - the certificate connector index presents, or null */

static json_t *ctl_cert(const struct config *cfg, bool receive, size_t index)
{
    json_t *out = NULL;

    if (!relay_tls_own_cert(cfg, receive, index, ctl_cert_json, &out) || out == NULL)
        return json_null();
    return out;
}

/* ctl_receive_json - one receive connector */

static json_t *ctl_receive_json(const struct config *cfg, size_t i)
{
    const struct cfg_receive *rc = &cfg->receive[i];
    json_t *b = json_array(), *starttls;
    struct tls_ctx *ctx;
    char    why[1024];

    for (size_t k = 0; k < rc->nbindings; k++)
        json_array_append_new(b, json_string(rc->bindings[k].text));
    if (rc->auth_mechanism != CFG_AUTH_TLS) {
        starttls = json_pack("{s:b, s:s}", "offered", 0, "why", "auth_mechanism = none");
    } else if ((ctx = relay_tls_server_ctx(cfg, rc)) != NULL) {
        tls_ctx_unref(ctx);
        starttls = json_pack("{s:b}", "offered", 1);
    } else if (relay_tls_why_not(cfg, rc, why, sizeof(why))) {
        size_t  n = strlen(why), k = strlen(CTL_NOT_OFFERED);

        if (n > k && strcmp(why + n - k, CTL_NOT_OFFERED) == 0)
            why[n - k] = '\0';           /* the note's own ending: said by "offered" */
        starttls = json_pack("{s:b, s:o}", "offered", 0, "why", ctlproto_string(why));
    } else {
        starttls = json_pack("{s:b, s:s+}", "offered", 0, "why",
                             "no usable certificate for ", rc->fqdn);
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:i}", "name", ctlproto_string(rc->name),
                     "bindings", b,
                     "starttls", starttls, "certificate", ctl_cert(cfg, true, i),
                     "connections", (int)relay_limits_count(rc->name));
}

/* ctl_queue_json - the queue gauges */

static json_t *ctl_queue_json(void)
{
    long long a = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_ACTIVE);
    long long d = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_DEFERRED);
    long long h = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_HELD);
    long long o = relay_stats_gauge_get(RELAY_GAUGE_QUEUE_OLDEST_MS);

    return json_pack("{s:I, s:I, s:I, s:I, s:o}", "active", (json_int_t)a,
                     "deferred", (json_int_t)d, "held", (json_int_t)h,
                     "total", (json_int_t)(a + d + h),
                     "oldest_ms", o > 0 ? json_integer(o) : json_null());
}

/* ctl_crl_json - the published CRL set: how many, how many stale, the oldest issue */

static json_t *ctl_crl_json(int64_t now_ms)
{
    struct tls_crl_set *set = tls_crl_current();
    size_t  n = set ? tls_crl_set_count(set) : 0, stale = 0;
    int64_t oldest = 0;

    for (size_t i = 0; i < n; i++) {
        struct tls_crl_info info;

        tls_crl_set_info(set, i, now_ms / 1000, &info);
        stale += strcmp(info.status, "Current") != 0;
        if (oldest == 0 || info.this_update < oldest)
            oldest = info.this_update;
    }
    if (set != NULL)
        tls_crl_set_unref(set);
    return json_pack("{s:I, s:I, s:o}", "crls", (json_int_t)n, "not_current", (json_int_t)stale,
                     "oldest_this_update_ms",
                     n ? json_integer((json_int_t)oldest * 1000) : json_null());
}

/* ctl_cmd_status - the daemon at a glance */

static void ctl_cmd_status(struct ctl_req *r, json_t *args)
{
    struct config *cfg = policy_config_current();
    const struct relay_ctl_ops *ops = ctl__ops();
    json_t *recv = json_array(), *send = json_array();
    int64_t now = ctl__now_ms(), loaded = 0;
    unsigned gen = 0;

    if (cfg == NULL) {
        ctl_req_err(r, CTL_E_STOPPING, "no configuration is running");
        return;
    }
    if (ops && ops->config_info)
        ops->config_info(&gen, &loaded);
    for (size_t i = 0; i < cfg->nreceive; i++)
        json_array_append_new(recv, ctl_receive_json(cfg, i));
    for (size_t i = 0; i < cfg->nsend; i++)
        json_array_append_new(send, json_pack("{s:o, s:o}", "name", ctlproto_string(cfg->send[i].name),
                                              "certificate", ctl_cert(cfg, false, i)));
    ctl_req_ok(r, json_pack("{s:s, s:i, s:I, s:I, s:{s:o, s:I, s:i}, s:o, s:o, s:o, s:o, s:o}",
                            "version", DOMSEC_VERSION, "pid", (int)getpid(),
                            "started_ms", (json_int_t)ctl__started_ms(),
                            "uptime_s", (json_int_t)((now - ctl__started_ms()) / 1000),
                            "config", "path", ctlproto_string(cfg->path), "loaded_ms", (json_int_t)loaded,
                            "generation", (int)gen,
                            "receive", recv, "send", send, "queue", ctl_queue_json(), "crl", ctl_crl_json(now),
                            "counters", relay_ctl_counters_json()));
    policy_config_unref(cfg);
}

/* ctl_strings - a cfg_errors list as a JSON array */

static json_t *ctl_strings(const struct cfg_errors *e)
{
    json_t *a = json_array();

    for (size_t i = 0; i < e->n; i++)
        json_array_append_new(a, ctlproto_string(e->v[i]));    /* file names: any bytes */
    return a;
}

/* ctl_cmd_reload - reload the configuration and say how it went */

static void ctl_cmd_reload(struct ctl_req *r, json_t *args)
{
    const struct relay_ctl_ops *ops = ctl__ops();
    struct relay_reload_result res = { 0 };
    json_t *e;

    if (ops == NULL || ops->reload == NULL) {
        ctl_req_err(r, CTL_E_INTERNAL, "this domsecd cannot reload");
        return;
    }
    ops->reload(&res);
    if (res.ok) {
        ctl_req_ok(r, json_pack("{s:i, s:i, s:o}", "generation", (int)res.generation,
                                "pid", (int)getpid(), "warnings", ctl_strings(&res.warnings)));
    } else {
        e = ctlproto_error(CTL_E_CONFIG, "reload failed, keeping the running configuration");
        json_object_set_new(e, "errors", ctl_strings(&res.errors));
        json_object_set_new(e, "warnings", ctl_strings(&res.warnings));
        ctl_req_err_json(r, e);
    }
    relay_ctl_reload_result_free(&res);
}

/* relay_ctl_reload_result_free - release a reload's lists */

void relay_ctl_reload_result_free(struct relay_reload_result *res)
{
    policy_config_errors_free(&res->errors);
    policy_config_errors_free(&res->warnings);
}

const struct ctl_handler ctl_handlers_core[] = {
    { "ping", ctl_cmd_ping },
    { "status", ctl_cmd_status },
    { "reload", ctl_cmd_reload },
    { NULL, NULL },
};
