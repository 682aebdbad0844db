/*
 * relay_qmgr.h - the queue manager (qmgr/): its own thread and loop,
 * scheduling queued messages for delivery through the SMTP client.  The
 * daemon has one (a struct qmgr, private/relay_qmgr_int.h), which these
 * functions start, feed, tell of a reload and stop.
 */
#ifndef DOMSEC_RELAY_QMGR_H
#define DOMSEC_RELAY_QMGR_H

struct relay_admin_req;

int     relay_qmgr_start(void);         /* after queue recovery; 0 or a libuv error */
void    relay_qmgr_notify(const char *id);      /* any thread: a new message is queued */
void    relay_qmgr_reload(void);        /* any thread: after a configuration swap */
/* Any thread: wake the queue manager's loop; the count of its wakes so far
 * (systemd's watchdog: a count that does not move means a stuck loop). */
unsigned long relay_qmgr_heartbeat(void);
void    relay_qmgr_stop(void);          /* stop delivering (in-flight attempts end), join */
/* relay_qmgr_admin - any thread: queue req (relay_admin.h) for the queue
 * manager.  0, or -ESHUTDOWN (no queue manager, or its stop has begun:
 * done never runs).  Else req->done runs later on the queue manager's
 * loop, never inside this call, exactly once; a request that changes
 * the queue is answered only after the change is durable (record
 * appended and fdatasync'd, or file removed and the directory fsync'd). */
int     relay_qmgr_admin(struct relay_admin_req *req);

#endif
