/*
 * relay_ctl_tlsrpt.c - the tlsrpt.* commands of the control socket.
 *
 *   tlsrpt.send    {day?, domain?, again?}  -> {"text": "one line per domain\n..."}
 *
 * day is YYYY-MM-DD (default: yesterday, UTC); domain one policy domain
 * (default: every domain of the day); again: send reports already sent
 * too (same report-id).  The queue manager's recorder sends
 * (relay_tlsrpt_send) and answers once every rua has taken the report or
 * failed.
 *
 * CONTRACT
 *  As relay_ctl_queue.c: the handler runs on the main loop, the request
 *  goes to the queue manager's mailbox (relay_qmgr_admin) and its answer
 *  comes back through ctl_req_defer.  Errors: bad_args, conflict
 *  (tls_reporting = no), stopping.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "relay_admin.h"
#include "relay_ctl.h"
#include "relay_qmgr.h"
#include "relay_tlsrpt.h"

/* ctlt_reply - main loop: the queue manager has answered req */

static void ctlt_reply(struct ctl_req *r, void *arg)
{
    struct relay_admin_req *req = arg;

    if (req->status == RELAY_ADMIN_OK)
        ctl_req_ok(r, json_pack("{s:s, s:s}", "day", req->tlsrpt_day, "text",
                                req->text ? req->text : ""));
    else
        ctl_req_err(r, req->status == RELAY_ADMIN_STOPPING ? CTL_E_STOPPING : CTL_E_CONFLICT,
                    "%s", req->why ? req->why : "failed");
    relay_admin_req_free(req);
}

/* ctlt_done - the queue manager's loop: back to main */

static void ctlt_done(struct relay_admin_req *req)
{
    ctl_req_defer(req->arg, ctlt_reply, req);
}

/* ctlt_send - tlsrpt.send */

static void ctlt_send(struct ctl_req *r, json_t *args)
{
    const char *day = NULL, *domain = NULL;
    int again = 0;
    json_error_t jerr;
    struct relay_admin_req *req;

    if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s?s, s?s, s?b}", "day", &day, "domain",
                       &domain, "again", &again) != 0)
        return ctl_req_err(r, CTL_E_BAD_ARGS, "%s", jerr.text);
    if (day != NULL && relay_tlsrpt_day_start(day) < 0)
        return ctl_req_err(r, CTL_E_BAD_ARGS, "day: not a YYYY-MM-DD date");
    if (day != NULL && relay_tlsrpt_day_start(day) > (int64_t)time(NULL))
        return ctl_req_err(r, CTL_E_BAD_ARGS, "day: %s has not begun yet (UTC)", day);
    if (domain != NULL && (*domain == '\0' || strlen(domain) > 253 || strpbrk(domain, " /\\") != NULL))
        return ctl_req_err(r, CTL_E_BAD_ARGS, "domain: not a domain name");
    req = relay_admin_req_new(RELAY_ADMIN_TLSRPT_SEND);
    if (day != NULL)
        memcpy(req->tlsrpt_day, day, 10);
    else
        relay_tlsrpt_day_name((int64_t)time(NULL) - 86400, req->tlsrpt_day);
    req->tlsrpt_domain = domain ? xstrdup(domain) : NULL;
    req->tlsrpt_again = again != 0;
    req->uid = ctl_req_uid(r);
    log_info("tlsrpt", 0, "send requested day=%s domain=%s again=%s by=uid:%u", req->tlsrpt_day,
             domain ? domain : "*", again ? "yes" : "no", (unsigned)req->uid);
    req->pid = ctl_req_pid(r);
    req->done = ctlt_done;
    req->arg = r;
    if (relay_qmgr_admin(req) < 0) {
        relay_admin_req_free(req);
        ctl_req_err(r, CTL_E_STOPPING, "the daemon is stopping");
    }
}

const struct ctl_handler ctl_handlers_tlsrpt[] = {
    { "tlsrpt.send", ctlt_send },
    { NULL, NULL },
};
