"""
test_root_nofollow.py - domsecd started as root never follows a symbolic
link that the [service] user could have planted in the queue or log
directories it hands to that user (logs/log_path.h, docs/ARCHITECTURE.md
"Root-time file handling").

The service user owns QUEUE and LOGDIR after a first start, so a compromised
daemon could leave LOGDIR/MessageTracking -> /etc behind; the next start, as
root, would chown /etc to it.  Each test plants such a link (made and owned
by the service user) to a root-owned directory and checks that domsecd
refuses to start, that its error names the link, that the target keeps its
owner and contents, and that the link is still there.  A link that root put
in a root-owned directory is still followed, and a log file hard-linked to
root's file is not chowned.  The control socket, bound as root in the
service user's directory: made as that user's (0660), a link planted at its
name refused, a link swapped in right after bind() (an LD_PRELOAD shim)
never chmodded or chowned through; in a directory only root may write it is
root:group, left at stop and removed at the next start.

Needs root: the daemon only creates and chowns as root.  As another user
every test is reported as skipped (CI runs as root).
"""

import os
import re
import stat
import unittest

from domsec_harness import Daemon, DomsecTestCase, is_root, service_ids, wait_until

REFUSAL = "%s is a symbolic link: refusing to follow it as root"


@unittest.skipUnless(is_root(), "needs root: domsecd creates and chowns its directories "
                                "only when started as root")
class RootNoFollow(DomsecTestCase):

    # --- helpers ------------------------------------------------------------
    def daemon(self):
        return Daemon(self)

    def target(self, d, name="target"):
        """A root-owned directory (0755) with one file, outside the service
        user's directories: what a planted link points at."""
        t = os.path.join(d.dir, name)
        os.mkdir(t, 0o755)
        with open(os.path.join(t, "keep"), "w") as f:
            f.write("root's\n")
        return t

    def service_dir(self, path):
        """A directory as the service user owns it after a first start."""
        os.mkdir(path, 0o700)
        os.chown(path, *service_ids())
        return path

    def plant(self, link, target):
        """link -> target, made by the service user.  Removed before the
        daemon's cleanup, which validates the log directories."""
        os.symlink(target, link)
        os.lchown(link, *service_ids())
        self.addCleanup(lambda: os.path.islink(link) and os.unlink(link))

    def start_to_end(self, d):
        """Start d; return its exit status, or None if it started serving."""
        d.start(wait=False)
        started = re.compile(d.prefix() + r"info server started ")

        def decided():
            return d.proc.poll() is not None or started.search(d.log())
        wait_until(decided, 15, "domsecd to exit or to start")
        return d.proc.poll()

    def assertRefused(self, d, subsys, link, target):
        status = self.start_to_end(d)
        self.assertIsNotNone(status, "domsecd started through %s -> %s:\n%s"
                             % (link, target, d.log()))
        self.assertNotEqual(status, 0)
        self.assertRegex(d.log(), r"(?m)^%serror %s %s$"
                         % (d.prefix(), subsys, re.escape(REFUSAL % link)))
        st = os.stat(target)
        self.assertEqual((st.st_uid, st.st_gid), (0, 0), "%s was chowned" % target)
        self.assertEqual(st.st_mode & 0o7777, 0o755, "%s was chmodded" % target)
        self.assertEqual(os.listdir(target), ["keep"], "something was created in %s" % target)
        self.assertTrue(os.path.islink(link), "%s was replaced" % link)

    def assertConfiguredLinkRefused(self, attr, subsys):
        """The configured directory (Daemon attribute attr: queue_dir or
        logs_dir) is SVC/dir, a link in a directory the service user owns."""
        d = self.daemon()
        svc = self.service_dir(os.path.join(d.dir, "svc"))
        link, t = os.path.join(svc, "dir"), self.target(d)
        self.plant(link, t)
        setattr(d, attr, link)
        d.write_config(d.render_config())
        self.assertRefused(d, subsys, link, t)

    # --- the log directories ------------------------------------------------
    def test_message_tracking_link(self):
        d = self.daemon()
        link, t = os.path.join(d.logs_dir, "MessageTracking"), self.target(d)
        self.plant(link, t)
        self.assertRefused(d, "logs", link, t)

    def test_protocol_log_link(self):
        d = self.daemon()
        link, t = os.path.join(d.logs_dir, "ProtocolLog"), self.target(d)
        self.plant(link, t)
        self.assertRefused(d, "logs", link, t)

    def test_smtp_send_link(self):
        d = self.daemon()
        plog = self.service_dir(os.path.join(d.logs_dir, "ProtocolLog"))
        link, t = os.path.join(plog, "SmtpSend"), self.target(d)
        self.plant(link, t)
        self.assertRefused(d, "logs", link, t)

    def test_logs_directory_link_in_service_directory(self):
        self.assertConfiguredLinkRefused("logs_dir", "logs")

    def test_hard_linked_log_file_keeps_its_owner(self):
        # With fs.protected_hardlinks = 0 the service user could link root's
        # file into its log directory; root must not chown it through the link.
        d = self.daemon()
        mt = self.service_dir(os.path.join(d.logs_dir, "MessageTracking"))
        secret = os.path.join(d.dir, "secret")
        with open(secret, "w") as f:
            f.write("root only\n")
        os.chmod(secret, 0o600)
        link = os.path.join(mt, "old.LOG")
        os.link(secret, link)
        self.addCleanup(lambda: os.path.exists(link) and os.unlink(link))
        d.start()
        st = os.stat(secret)
        self.assertEqual((st.st_uid, st.st_gid), (0, 0), "root's file was chowned")
        self.assertRegex(d.log(), r"(?m)^%swarning logs %s has 2 hard links: refusing to "
                         r"chown it as root$" % (d.prefix(), re.escape(link)))
        uid, gid = service_ids()
        st = os.stat(mt)
        self.assertEqual((st.st_uid, st.st_gid), (uid, gid))

    # --- the queue ----------------------------------------------------------
    def test_queue_subdirectory_links(self):
        for sub in ("incoming", "messages", "corrupt"):
            with self.subTest(sub=sub):
                d = self.daemon()
                self.service_dir(d.queue_dir)
                link, t = os.path.join(d.queue_dir, sub), self.target(d)
                self.plant(link, t)
                self.assertRefused(d, "queue", link, t)
                self.assertRegex(d.log(), r"(?m)^%serror queue cannot open queue_directory %s: "
                                 % (d.prefix(), re.escape(d.queue_dir)))

    def test_queue_directory_link_in_service_directory(self):
        self.assertConfiguredLinkRefused("queue_dir", "queue")

    def test_roots_own_link_is_followed(self):
        # queue_directory = DIR/queue -> DIR/real, both root's: the admin's
        # choice, followed as before; the real directory goes to the user.
        d = self.daemon()
        real = os.path.join(d.dir, "real")
        os.mkdir(real, 0o700)
        os.symlink(real, d.queue_dir)
        d.start()
        uid, gid = service_ids()
        for p in (real, os.path.join(real, "messages")):
            st = os.lstat(p)
            self.assertEqual((st.st_uid, st.st_gid), (uid, gid), p)
        self.assertEqual(os.lstat(d.queue_dir).st_uid, 0)
        self.assertNotIn("refusing", d.log())

    # --- the control socket (its directory is the service user's) -----------
    def root_file(self, d):
        """A root-owned file (0600) outside the service user's reach."""
        f = os.path.join(d.dir, "shadow")
        with open(f, "w") as fh:
            fh.write("root's\n")
        os.chmod(f, 0o600)
        return f

    def assertUntouched(self, f):
        st = os.stat(f)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (0, 0, 0o600),
                         "%s was chowned or chmodded" % f)
        with open(f) as fh:
            self.assertEqual(fh.read(), "root's\n")

    def test_control_directory_and_socket_made_for_the_user(self):
        d = self.daemon()
        d.start()
        uid, gid = service_ids()
        run = os.path.dirname(d.control_socket)
        st = os.lstat(run)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (uid, gid, 0o750))
        st = os.lstat(d.control_socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (uid, gid, 0o660))
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.lexists(d.control_socket), "not removed at a clean stop")

    def test_control_socket_in_a_directory_only_root_may_write(self):
        # control_socket = DIR/ctl, DIR root's 0755: root binds it itself with the
        # service group (root:group 0660); after the drop it cannot remove it at
        # stop, says so, and the next start removes it as stale.
        d = self.daemon()
        sock = os.path.join(d.dir, "ctl")
        d.write_config(d.config_text.replace("control_socket = %s" % d.control_socket,
                                             "control_socket = %s" % sock))
        d.start()
        uid, gid = service_ids()
        st = os.lstat(sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (0, gid, 0o660))
        self.assertEqual(d.stop(), 0)
        self.assertRegex(d.log(), r"info ctl control socket left path=%s \(its directory is "
                         r"root's; the next start removes it\)" % re.escape(sock))
        self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode))
        d.start()
        d.wait_log(d.prefix() + r"info ctl removed a stale control socket path=%s"
                   % re.escape(sock))
        self.assertEqual(d.stop(), 0)
        os.unlink(sock)

    def test_control_socket_link_planted_before_start(self):
        d = self.daemon()
        f = self.root_file(d)
        run = self.service_dir(os.path.dirname(d.control_socket))
        os.chmod(run, 0o750)
        self.plant(d.control_socket, f)
        status = self.start_to_end(d)
        self.assertEqual(status, 1, d.log())
        self.assertIn("control socket %s exists and is not a socket" % d.control_socket,
                      d.log())
        self.assertUntouched(f)
        self.assertTrue(os.path.islink(d.control_socket), "the link was removed")

    def test_control_socket_swapped_for_a_link_after_bind(self):
        # The service user wins the race between bind() and what root does
        # next (a shim renames the new socket and puts control -> root's
        # file in its place): root must not chmod or chown through it.
        shim = os.path.join(os.environ.get("DOMSEC_BUILD", "../../build"), "tests",
                            "libswap_after_bind.so")
        self.assertTrue(os.path.exists(shim), "%s not built" % shim)
        d = self.daemon()
        f = self.root_file(d)
        uid, gid = service_ids()
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = ["LD_PRELOAD=" + os.path.abspath(shim), "DOMSEC_SWAP_TARGET=" + f,
               "DOMSEC_SWAP_UID=%d" % uid, "DOMSEC_SWAP_GID=%d" % gid,
               "ASAN_OPTIONS=%s%sverify_asan_link_order=0" % (asan, ":" if asan else "")]
        d.start(wrap=lambda argv: ["env"] + env + argv, wait=False)
        started = re.compile(d.prefix() + r"info server started ")
        wait_until(lambda: d.proc.poll() is not None or started.search(d.log()), 15,
                   "domsecd to exit or to start")
        self.assertRegex(d.log(), r"swap_after_bind: \S+/control -> %s\n" % re.escape(f))
        self.assertUntouched(f)
        bound = d.control_socket + ".bound"
        st = os.lstat(bound)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (uid, gid, 0o660))
        if d.running():
            self.assertEqual(d.stop(), 0)
        self.assertTrue(os.path.islink(d.control_socket), "the planted link was removed")
        self.assertUntouched(f)
        os.unlink(bound)
        os.unlink(d.control_socket)


if __name__ == "__main__":
    unittest.main()
