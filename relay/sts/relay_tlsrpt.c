/*
 * relay_tlsrpt.c - the TLS-RPT recorder of the queue manager (RFC 8460).
 *
 * CONTRACT
 *  Everything on the owner's loop (env->w->loop).  relay_tlsrpt_note
 *  borrows its input for the call, copies what it keeps into today's
 *  day (relay_tlsrpt_data.c) and returns: no I/O, no callback, cannot fail.
 *  relay_tlsrpt_close calls done later, once, after t is freed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "log.h"
#include "relay_tlsrpt.h"
#include "relay_worker.h"

struct relay_tlsrpt {
    struct relay_tlsrpt_env env;
    char    day[11];                    /* today's name (UTC) */
    json_t *today;                      /* owned: today's results */
    unsigned long notes;                /* noted since start (tests, logs) */
    void  (*done)(void *);              /* close */
    void   *done_arg;
    uv_idle_t closer;                   /* runs done later */
};

/* relay_tlsrpt_new - the recorder */

struct relay_tlsrpt *relay_tlsrpt_new(const struct relay_tlsrpt_env *env, struct config *cfg)
{
    struct relay_tlsrpt *t = xcalloc(1, sizeof(*t));

    (void)cfg;
    t->env = *env;
    relay_tlsrpt_day_name((int64_t)time(NULL), t->day);
    t->today = relay_tlsrpt_day_new(t->day);
    return t;
}

/* tlsrpt_roll - make today's day the current UTC day */

static void tlsrpt_roll(struct relay_tlsrpt *t)
{
    char now[11];

    relay_tlsrpt_day_name((int64_t)time(NULL), now);
    if (strcmp(now, t->day) == 0)
        return;
    json_decref(t->today);
    memcpy(t->day, now, sizeof(t->day));
    t->today = relay_tlsrpt_day_new(t->day);
}

/* relay_tlsrpt_note - count one session's result (or a policy failure) */

void relay_tlsrpt_note(struct relay_tlsrpt *t, const struct tlsrpt_result *r)
{
    struct relay_tlsrpt_policy p = { .type = r->type, .domain = r->domain };

    if (t == NULL || r->domain == NULL)
        return;
    tlsrpt_roll(t);
    relay_tlsrpt_day_add(t->today, &p, r);
    t->notes++;
    log_info("tlsrpt", 0, "noted domain=%s policy=%s result=%s mx=%s", r->domain,
             relay_tlsrpt_type_name(r->type), r->failure ? r->failure : "success",
             r->mx_host ? r->mx_host : "-");
}

/* tlsrpt_closed - close_cb of the closer: free, then tell the owner */

static void tlsrpt_closed(uv_handle_t *h)
{
    struct relay_tlsrpt *t = h->data;
    void (*done)(void *) = t->done;
    void *arg = t->done_arg;

    json_decref(t->today);
    free(t);
    if (done != NULL)
        done(arg);
}

/* relay_tlsrpt_close - free t later, then done(arg) */

void relay_tlsrpt_close(struct relay_tlsrpt *t, void (*done)(void *), void *arg)
{
    t->done = done;
    t->done_arg = arg;
    uv_idle_init(&t->env.w->loop, &t->closer);
    t->closer.data = t;
    uv_close((uv_handle_t *)&t->closer, tlsrpt_closed);
}
