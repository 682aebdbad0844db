/*
 * relay_ctl_queue.c - the queue.* commands of the control socket.
 *
 * Placeholder: no queue command yet (issue 13's queue administration
 * replaces this file), so queue.* answers unknown_command.
 */
#include "relay_ctl.h"

const struct ctl_handler ctl_handlers_queue[] = {
    { NULL, NULL },
};
