/*
 * relay_ctl_auth.c - who may do what on the control socket.
 *
 * CONTRACT
 *  ctl_role_of is pure: the peer's credentials as the kernel gave them at
 *  connect time (SO_PEERCRED, SO_PEERGROUPS) in, a role out.  What each
 *  role may run is the command table's business (relay_ctlproto.c).
 *  Root and the daemon's own user are admins (the daemon's user owns the
 *  queue files already: refusing it would protect nothing); members of
 *  the service group, primary or supplementary, are readers (Postfix
 *  splits postqueue from postsuper the same way); anybody else is
 *  refused (normally the socket's 0660 mode stops them at connect()).
 */
#include "relay_ctl.h"

/* ctl_role_of - the role of a peer */

enum ctl_role ctl_role_of(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
                          uid_t self_uid, gid_t admin_gid)
{
    if (uid == 0 || uid == self_uid)
        return CTL_ADMIN;
    if (gid == admin_gid)
        return CTL_READER;
    for (size_t i = 0; i < ngroups; i++)
        if (groups[i] == admin_gid)
            return CTL_READER;
    return CTL_NONE;
}
