#!/usr/bin/python3
"""tests/vm: the checks of the boot with systemd as PID 1 (tests/vm/run, rcvm.init=systemd).

tests/vm/runcell-vm-check.service runs this after the shipped scripts/systemd/runcell.service
(User=runcell, Delegate=yes, `runcell serve --listen 127.0.0.1:8080`). Lines as in guest.py
(PASS / FAIL / INFO), on the second serial port; then it powers the guest off.

  systemd.pid1           systemd is PID 1 on a pure cgroup v2 hierarchy
  systemd.service.ready  runcell.service is active and answers GET /healthz
  systemd.service.layout runcell, the only process of its delegated service cgroup, moved
                         itself into rc-<pid>-0 and enabled memory, pids, cpu for its children
  systemd.service.run    a run through the server: its sandbox in a sibling leaf with the limits
  systemd.service.memory_limit  the memory_limit verdict through the server
  systemd.service.stop   systemctl stop: the service's cgroup is gone, nothing left
"""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest as g  # noqa: E402
from guest import CG, Fail, check, need, out  # noqa: E402

SVC = CG + "/system.slice/runcell.service"
PORT = 8080


class Service(g.Serve):
    """The server runcell.service started (Serve's requests, no process of ours)."""

    def __init__(self):
        self.port = PORT


def systemctl(*args):
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=120)


def main_pid():
    return int(systemctl("show", "-p", "MainPID", "--value", "runcell.service").stdout.strip() or 0)


def pid1():
    comm = g.read("/proc/1/comm")
    need(comm == "systemd", "PID 1 is %r" % comm)
    return g.guest_facts()


def ready():
    srv = Service()

    def up():
        if systemctl("is-active", "runcell.service").stdout.strip() != "active":
            return False
        try:
            return srv.request("GET", "/healthz", timeout=5)[0] == 200
        except OSError:
            return False
    if not g.wait_until(up, 180, step=0.5):
        st = systemctl("status", "--no-pager", "-n", "20", "runcell.service")
        st = st.stdout + st.stderr
        raise Fail("runcell.service not active and answering within 180 s:\n" +
                   "\n".join("    " + l for l in st.splitlines()))
    return "MainPID %d" % main_pid()


def layout():
    pid = main_pid()
    own = g.cg_of(pid)
    want = "/system.slice/runcell.service/rc-%d-0" % pid
    need(own == want, "runcell (pid %d) is in %s, not %s" % (pid, own, want))
    st = g.read(SVC + "/cgroup.subtree_control").split()
    need(all(c in st for c in g.CTLS), "runcell.service's cgroup.subtree_control: %s" % st)
    owner = os.stat(SVC).st_uid
    out("INFO runcell.service cgroup owned by uid %d; trusted.delegate=%s user.delegate=%s"
        % (owner, g.xattr(SVC, "trusted.delegate"), g.xattr(SVC, "user.delegate")))
    return "runcell in %s, controllers %s" % (own, " ".join(st))


def run():
    srv = Service()
    pid = main_pid()
    res = {}

    def post():
        try:
            res["j"] = srv.post_ok("/api/v1/run", {
                "language": "python", "source": g.OBSERVED,
                "limits": {"memory_mb": 100, "processes": 20, "wall_ms": 30000}})
        except Exception as e:  # reported below
            res["e"] = e
    th = threading.Thread(target=post)
    th.start()

    def busy_leaf():
        for leaf in g.rc_leaves(SVC, pid):
            if not leaf.endswith("-0") and g.procs(leaf):
                return leaf
        return None
    leaf = g.wait_until(lambda: busy_leaf() or not th.is_alive(), 90)
    seen = {}
    if isinstance(leaf, str):
        for f in ("memory.max", "memory.swap.max", "pids.max", "cpu.max", "memory.oom.group"):
            try:
                seen[f] = g.read(os.path.join(leaf, f))
            except FileNotFoundError:
                seen[f] = None
    th.join(120)
    need("e" not in res, "the run: %s" % res.get("e"))
    need(isinstance(leaf, str), "no busy sandbox leaf appeared beside rc-%d-0 in %s" % (pid, SVC))
    need(os.path.dirname(leaf) == SVC, "the leaf %s is not a child of %s" % (leaf, SVC))
    g.check_limits_seen(seen)
    r = res["j"]["run"]
    need(r["status"] == "ok" and r["stdout"].startswith("0::/"), "the run: %s" % g.short(r))
    # a server frees a used leaf when it next takes a sandbox (or at exit: systemd.service.stop)
    need(g.wait_until(lambda: not g.populated(leaf), 10),
         "processes still in the run's leaf %s after it ended" % leaf)
    return "sandbox in %s" % leaf[len(CG):]


def memory_limit():
    j = Service().post_ok("/api/v1/run", {"language": "python", "source": g.MEMORY,
                                          "limits": {"memory_mb": 64}})
    need(j["run"]["status"] == "memory_limit", "status %s: %s" % (j["run"]["status"],
                                                                  g.short(j["run"])))
    return "peak %s KiB" % j["run"].get("memory_kb")


def stop():
    p = systemctl("stop", "runcell.service")
    need(p.returncode == 0, "systemctl stop: %s" % p.stderr.strip())
    need(systemctl("is-active", "runcell.service").stdout.strip() == "inactive",
         "runcell.service is not inactive after stop")
    need(g.wait_until(lambda: not os.path.exists(SVC), 10), "%s is still there" % SVC)
    need(not g.rc_leaves(CG), "rc-* left: %s" % g.rc_leaves(CG))
    return "the service's cgroup is gone"


def main():
    out("GUEST-START")
    rc = 0
    try:
        if check("systemd.pid1", pid1) and check("systemd.service.ready", ready):
            check("systemd.service.layout", layout)
            check("systemd.service.run", run)
            check("systemd.service.memory_limit", memory_limit)
            check("systemd.service.stop", stop)
    except BaseException as e:  # still report and power off
        out("FAIL systemd.checks: %s: %s" % (type(e).__name__, e))
        rc = 1
    finally:
        out("GUEST-DONE %d" % rc)
        os.sync()
        time.sleep(0.2)
        with open("/proc/sysrq-trigger", "w") as f:
            f.write("o")


if __name__ == "__main__":
    main()
