/*
 * relay_ctl_counters.c - the counters `status` shows.
 *
 * CONTRACT
 *  relay_ctl_counters_json returns a new object; any thread (it reads
 *  atomics only).  For now the three Exchange Domain Secure counters.
 */
#include "relay_ctl.h"
#include "relay_stats.h"

/* relay_ctl_counters_json - the counters since start */

json_t *relay_ctl_counters_json(void)
{
    return json_pack("{s:I, s:I, s:I}",
                     "domain_secure_messages_received",
                     (json_int_t)relay_stats_get(RELAY_STAT_DS_RECEIVED),
                     "domain_secure_messages_sent",
                     (json_int_t)relay_stats_get(RELAY_STAT_DS_SENT),
                     "domain_secure_outbound_session_failures",
                     (json_int_t)relay_stats_get(RELAY_STAT_DS_OUT_FAILURES));
}
