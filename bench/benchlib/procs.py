"""Processes bench/run starts, their accounting (/proc) and small helpers; the
run's shared state (binaries directory, processes to stop)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build-bench")
PARTNER = "woodgrovebank.test"
# Outbound connections to the partner's MX at once, for both relays: domsec's
# max_per_domain_outbound_connections (its default, policy/policy_table.c) and Postfix's
# smtp_destination_concurrency_limit = initial_destination_concurrency (no slow start).
OUT_CONC = 40
NOBODY = 65534
procs = []          # Popen objects we started
postfix_dirs = []   # private Postfix config dirs we started


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out after %ss waiting for %s" % (timeout, what))


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def start(argv, out, **kw):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                         stderr=subprocess.STDOUT, **kw)
    procs.append(p)
    return p


def stop(p, timeout=15):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


# --- per-process accounting --------------------------------------------------------

HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return {"ppid": int(rest[1]), "cpu": sum(int(x) for x in rest[11:15]) / HZ,
            "user": (int(rest[11]) + int(rest[13])) / HZ, "sys": (int(rest[12]) + int(rest[14])) / HZ}


def tree(root):
    """root and its descendants (pids)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                kids.setdefault(stat(int(d))["ppid"], []).append(int(d))
            except (OSError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def tree_cpu(root):
    """CPU seconds of the tree: user+sys of each live process plus its reaped children."""
    t = 0.0
    for p in tree(root):
        try:
            t += stat(p)["cpu"]
        except (OSError, IndexError):
            pass
    return t


def tree_cpu_split(root):
    """(user, sys) CPU seconds of the tree, as tree_cpu()."""
    u = k = 0.0
    for p in tree(root):
        try:
            st = stat(p)
            u, k = u + st["user"], k + st["sys"]
        except (OSError, IndexError):
            pass
    return u, k


def tree_hwm_kib(root):
    t = 0
    for p in tree(root):
        try:
            with open("/proc/%d/status" % p) as f:
                m = re.search(r"VmHWM:\s+(\d+)", f.read())
                t += int(m.group(1)) if m else 0
        except OSError:
            pass
    return t


def show_tail(path, lines):
    """The last lines of a log on stderr (a daemon's, after a failed run)."""
    try:
        with open(path, errors="replace") as f:
            sys.stderr.write("".join(f.readlines()[-lines:]))
    except OSError:
        pass


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def tree_kib(root, key="VmRSS"):
    t = 0
    for p in tree(root):
        try:
            with open("/proc/%d/status" % p) as f:
                m = re.search(key + r":\s+(\d+)", f.read())
                t += int(m.group(1)) if m else 0
        except OSError:
            pass
    return t


def established(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, timeout=60).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def read_line(p, timeout):
    import select
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        if r:
            c = os.read(p.stdout.fileno(), 4096)
            if not c:
                break
            buf += c
            if b"\n" in buf:
                break
        elif p.poll() is not None:
            break
    return buf.decode(errors="replace").strip()


def parse(path):
    try:
        with open(path) as f:
            return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', f.read())}
    except FileNotFoundError:
        return {}


def parse_line(line):
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            return m.group(1).strip() if m else "?"
    except OSError:
        return "?"

# --- system calls of domsecd (strace -c): the kernel side callgrind does not see ---------

class PidProc:
    """A process we did not fork (domsecd under strace), stopped like a Popen."""
    def __init__(self, pid):
        self.pid, self.returncode = pid, None

    def poll(self):
        if not alive(self.pid):
            self.returncode = 0
        return self.returncode

    def send_signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=None):
        deadline = time.monotonic() + (timeout or 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("domsecd", timeout)
            time.sleep(0.05)
        return 0
