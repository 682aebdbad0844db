/*
 * relay_smtpc_idle.c - the connection cache: outbound connections waiting,
 * idle, for the next job of their destination (connection_cache_time).
 *
 * An idle connection is in its destination's list (relay_dest.idle) in
 * state C_IDLE with its timer at connection_cache_time; relay_smtpc_wake()
 * gives it the destination's next job, its timer or a reply from the
 * server ends the wait with QUIT, and relay_smtpc_close_idle() makes one
 * say QUIT when another destination needs its slot.
 *
 * CONTRACT
 *  Queue manager's loop only, like relay_smtpc.c (which owns the
 *  connections; relay_smtpc_int.h is the interface between the files).
 */
#include <stdbool.h>

#include "relay_smtp.h"
#include "relay_smtpc_int.h"
#include "tls_conn.h"

/* relay__smtpc_idle - no job now: wait in the destination's idle list */

void relay__smtpc_idle(struct relay_smtpc *c)
{
    struct relay_dest *d = c->dest;

    c->idling = true;
    d->client->nidle++;
    c->idle_prev = NULL;
    c->idle_next = d->idle;
    if (d->idle)
        d->idle->idle_prev = c;
    d->idle = c;
    relay__smtpc_enter_state(c, C_IDLE);
}

/* relay__smtpc_idle_unlink - leave the destination's idle list */

void relay__smtpc_idle_unlink(struct relay_smtpc *c)
{
    if (!c->idling)
        return;
    c->idling = false;
    c->dest->client->nidle--;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        c->dest->idle = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
}

/* relay__smtpc_quit - no (more) work for this connection: QUIT */

void relay__smtpc_quit(struct relay_smtpc *c)
{
    relay__smtpc_idle_unlink(c);
    relay__smtpc_send(c, "QUIT");
    tls_conn_flush(c->conn);
    relay__smtpc_enter_state(c, C_QUIT);
}

/* relay_smtpc_wake - d has a job: hand it to an idle connection of d */

bool relay_smtpc_wake(struct relay_dest *d)
{
    struct relay_smtpc *c = d->idle;

    if (c == NULL)
        return false;
    relay__smtpc_idle_unlink(c);
    relay__smtpc_take_job(c);
    return true;
}

/* relay_smtpc_idle_count - connections waiting for a job */

unsigned relay_smtpc_idle_count(const struct relay_smtp_client *cl)
{
    return cl->nidle;
}

/* relay_smtpc_close_idle - free a connection slot: QUIT an idle connection */

bool relay_smtpc_close_idle(struct relay_smtp_client *cl, const struct relay_dest *keep)
{
    for (struct relay_smtpc *c = cl->all; c != NULL; c = c->next)
        if (c->idling && c->dest != keep) {
            relay__smtpc_quit(c);
            return true;
        }
    return false;
}
