/*
 * relay_ctl_int.h - what relay_ctl.c shares with the handler files of
 * relay/ctl/ (not for other folders).  Main loop only.
 */
#ifndef DOMSEC_RELAY_CTL_INT_H
#define DOMSEC_RELAY_CTL_INT_H

#include <stdint.h>

#include "relay_ctl.h"

/* relay_ctl.c */
/* The server's operations (never NULL while the server runs). */
const struct relay_ctl_ops *ctl__ops(void);
/* When the daemon started (Unix ms). */
int64_t ctl__started_ms(void);
/* Wall clock, Unix ms. */
int64_t ctl__now_ms(void);

#endif
