"""SIGHUP: a broken config is reported (FILE:LINE) and the old config keeps
running; a good config applies to new sessions while open sessions finish
under the config they started with."""

import re
import unittest

from domsec_harness import HELO, R, DomsecTestCase, line_of, queued_id

MSG = b"Subject: reload\r\n\r\nbody\r\n"


class ReloadTest(DomsecTestCase):

    def rcpt_verdicts(self, c, *addrs):
        c.expect("MAIL FROM:<s@example.org>", R["mail_ok"])
        out = [c.cmd("RCPT TO:<%s>" % a).lines for a in addrs]
        self.assertReply(c.cmd("RSET"), R["rset"])
        return out

    def test_broken_config_keeps_old_config(self):
        d = self.start_daemon(accepted_domains="a.test")
        # a new domain (must not take effect) plus two errors
        good = d.render_config(accepted_domains="b.test")
        broken = good.replace("permission = internet",
                              "permission = internet\nfrobnicate = yes\nmax_message_size = lots")
        d.write_config(broken)
        l1, l2 = line_of(broken, "frobnicate"), line_of(broken, "max_message_size = lots")
        mark = d.log_mark()
        d.reload()
        cfg = re.escape(d.config_path)
        d.wait_log(d.prefix() + r"error config %s:%d: \S" % (cfg, l1), since=mark)
        d.wait_log(d.prefix() + r"error config %s:%d: \S" % (cfg, l2), since=mark)
        d.wait_log(d.prefix() + r"warning config reload failed, keeping the running "
                   r"configuration errors=2\s*$", since=mark)
        self.assertNotRegex(d.log()[mark:], r"info config reloaded")
        self.assertTrue(d.running(), "domsecd died on a broken reload")
        # old config still serving, on the same port, for new sessions
        c = d.session()
        self.assertEqual(self.rcpt_verdicts(c, "u@a.test", "u@b.test"),
                         [[R["rcpt_ok"]], [R["relay"]]])
        qid = queued_id(c.transaction("<s@example.org>", ["<u@a.test>"], MSG))
        self.assertIn(qid, d.message_ids())
        # and a fixed config is then picked up: the daemon is not wedged
        d.write_config(good)
        mark = d.log_mark()
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded path=%s\s*$" % cfg, since=mark)
        c2 = d.session()
        self.assertEqual(self.rcpt_verdicts(c2, "u@a.test", "u@b.test"),
                         [[R["relay"]], [R["rcpt_ok"]]])

    def test_good_config_applies_to_new_sessions_only(self):
        d = self.start_daemon(accepted_domains="a.test",
                              connectors=[("Inet", {"max_message_size": "1048576"})])
        old = d.session()                                 # opened under the old config
        d.write_config(d.render_config(accepted_domains="b.test",
                                       connectors=[("Inet", {"max_message_size": "2097152"})]))
        mark = d.log_mark()
        d.reload()
        d.wait_log(d.prefix() + r"info config reloaded path=%s\s*$" % re.escape(d.config_path),
                   since=mark)
        new = d.session()
        self.assertIn("250-SIZE 2097152", new.cmd("EHLO " + HELO).lines)
        self.assertEqual(self.rcpt_verdicts(new, "u@a.test", "u@b.test"),
                         [[R["relay"]], [R["rcpt_ok"]]])
        # the session opened before the reload keeps its config
        self.assertIn("250-SIZE 1048576", old.cmd("EHLO " + HELO).lines)
        self.assertEqual(self.rcpt_verdicts(old, "u@a.test", "u@b.test"),
                         [[R["rcpt_ok"]], [R["relay"]]])
        qid_old = queued_id(old.transaction("<s@example.org>", ["<u@a.test>"], MSG))
        qid_new = queued_id(new.transaction("<s@example.org>", ["<u@b.test>"], MSG))
        self.assertEqual(d.read_message(qid_old).rcpts, ["<u@a.test>"])
        self.assertEqual(d.read_message(qid_new).rcpts, ["<u@b.test>"])


if __name__ == "__main__":
    unittest.main()
