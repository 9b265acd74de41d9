#!/usr/bin/python3
"""tests/vm: the checks of the boot with systemd as PID 1 (tests/vm/run, rcvm.init=systemd).

tests/vm/guest-init installs runcell's Debian package (dpkg -i, before systemd starts) and
enables its runcell.service (User=runcell, Delegate=yes, `runcell serve --config
/etc/runcell/config.json`, which listens on 127.0.0.1:8080); tests/vm/runcell-vm-check.service
runs this after it. Lines as in guest.py (PASS / FAIL / INFO), on the second serial port; then it
powers the guest off.

  systemd.pid1           systemd is PID 1 on a pure cgroup v2 hierarchy
  systemd.deb.installed  the package is installed: the runcell system user, its unit with
                         Delegate=yes, --config /etc/runcell/config.json and its hardening
                         (ProtectSystem=full, ProtectHome, PrivateTmp, ...: every check below
                         runs under it), the config 0640
  systemd.service.ready  runcell.service is active and answers GET /healthz
  systemd.service.layout runcell, the only process of its delegated service cgroup, moved
                         itself into rc-<pid>-0 and enabled memory, pids, cpu for its children
  systemd.service.run    a run through the server: its sandbox in a sibling leaf with the limits
  systemd.service.memory_limit  the memory_limit verdict through the server
  systemd.service.reload systemctl reload (SIGHUP): a token added to /etc/runcell/config.json is
                         required at once, a broken config is refused and the one in force
                         kept, the original back again; the same process throughout
  systemd.service.drain  systemctl stop during a run: /healthz says draining (503), the run
                         finishes (not killed), then the service stops
  systemd.service.stop   after it: the service's cgroup is gone, nothing left
  systemd.root.sandbox_ids  the unit run as root (a drop-in: User=root): two sandboxes at once
                         have outside uids of their own from RUNCELL_SANDBOX_IDS's range, under
                         the unit's other settings (its hardening, Delegate)
"""

import http.client
import json
import os
import re
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


def deb_installed():
    log = g.read("/var/log/runcell-dpkg.log")
    need(re.search(r"^rc=0$", log, re.M), "dpkg -i runcell.deb failed:\n" +
         "\n".join("    " + l for l in log.splitlines()[-15:]))
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "runcell"],
                       capture_output=True, text=True)
    need(p.stdout.startswith("install ok installed"), "dpkg-query: %s" % p.stdout)
    pw = subprocess.run(["getent", "passwd", "runcell"], capture_output=True, text=True).stdout
    need(pw, "no runcell user")
    unit = systemctl("cat", "runcell.service").stdout
    need("Delegate=yes" in unit and "User=runcell" in unit and
         "ExecStart=/usr/bin/runcell serve --config /etc/runcell/config.json" in unit,
         "the unit: %s" % unit)
    hardening = ("NoNewPrivileges=yes", "ProtectSystem=full", "ProtectHome=yes", "PrivateTmp=yes",
                 "ProtectKernelModules=yes", "RestrictRealtime=yes")
    need(all(h in unit for h in hardening), "the unit lacks some of %s" % (hardening,))
    st = os.stat("/etc/runcell/config.json")
    need(st.st_mode & 0o777 == 0o640, "config.json mode %o" % (st.st_mode & 0o777))
    return "runcell %s, user %s" % (p.stdout.split()[-1], pw.split(":")[2])


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


CONFIG = "/etc/runcell/config.json"
TOKEN = "vm-reload-token-1"


def status_of(path, token=None, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        h = {"Authorization": "Bearer " + token} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def reloads(result):
    m = re.search(r'runcell_config_reloads_total\{result="%s"\} (\d+)' % result,
                  status_of("/metrics", TOKEN)[1])
    return int(m.group(1)) if m else -1


def write_config(text):
    with open(CONFIG, "w") as f:  # in place: its owner and mode stay the package's
        f.write(text)


def reload_():
    pid = main_pid()
    with open(CONFIG) as f:
        original = f.read()
    cfg = json.loads(original)
    hello = {"language": "python", "source": g.HELLO}
    need(status_of("/api/v1/run", None, "POST", hello)[0] == 200, "a run without a token")
    try:
        cfg["tokens"] = [{"token": TOKEN, "name": "vm"}]
        write_config(json.dumps(cfg))
        p = systemctl("reload", "runcell.service")
        need(p.returncode == 0, "systemctl reload: %s" % p.stderr.strip())
        need(g.wait_until(lambda: status_of("/api/v1/run", None, "POST", hello)[0] == 401, 15),
             "a run without the token is not refused after the reload")
        st, body = status_of("/api/v1/run", TOKEN, "POST", hello)
        need(st == 200 and "hello from the guest" in body, "a run with the token: %d %s"
             % (st, body[:300]))
        ok = reloads("ok")
        refused = reloads("refused")
        write_config("{\"tokens\": [")
        p = systemctl("reload", "runcell.service")
        need(p.returncode == 0, "systemctl reload (a broken config): %s" % p.stderr.strip())
        need(g.wait_until(lambda: reloads("refused") == refused + 1, 15),
             "the broken config was not refused (reloads refused %d, then %d)"
             % (refused, reloads("refused")))
        need(reloads("ok") == ok, "the broken config counted as reloaded")
        need(status_of("/api/v1/run", None, "POST", hello)[0] == 401 and
             status_of("/api/v1/run", TOKEN, "POST", hello)[0] == 200,
             "the config in force changed with a broken file")
    finally:
        write_config(original)
        systemctl("reload", "runcell.service")
    need(g.wait_until(lambda: status_of("/api/v1/run", None, "POST", hello)[0] == 200, 15),
         "the original config (no tokens) is not back")
    need(main_pid() == pid, "runcell restarted (MainPID %d, then %d)" % (pid, main_pid()))
    return "token required and dropped again, a broken config refused, MainPID %d" % pid


SLOW = 'import time\ntime.sleep(4)\nprint("finished")\n'


def drain():
    res, health = {}, []

    def post():
        try:
            res["r"] = status_of("/api/v1/run", None, "POST", {
                "language": "python", "source": SLOW, "limits": {"wall_ms": 20000}})
        except Exception as e:  # reported below
            res["e"] = e
    th = threading.Thread(target=post)
    th.start()
    pid = main_pid()
    need(g.wait_until(lambda: any(g.procs(l) for l in g.rc_leaves(SVC, pid)
                                  if not l.endswith("-0")), 60), "the slow run never started")
    stopped = []

    def stopper():
        t0 = time.time()
        stopped.append((systemctl("stop", "runcell.service"), time.time() - t0))
    st = threading.Thread(target=stopper)
    st.start()
    while st.is_alive():
        try:
            health.append(status_of("/healthz")[0])
        except OSError:
            pass
        time.sleep(0.1)
    th.join(60)
    p, secs = stopped[0]
    need(p.returncode == 0, "systemctl stop: %s" % p.stderr.strip())
    need("e" not in res, "the run: %s" % res.get("e"))
    code, body = res["r"]
    need(code == 200 and '"status":"ok"' in body.replace(" ", "") and "finished" in body,
         "the run during the stop: %d %s" % (code, body[:300]))
    need(503 in health, "/healthz never said draining during the stop: %s" % health[:10])
    return "the run finished, /healthz 503 while draining, stopped in %.1f s" % secs


def stop():
    need(systemctl("is-active", "runcell.service").stdout.strip() == "inactive",
         "runcell.service is not inactive after stop")
    need(g.wait_until(lambda: not os.path.exists(SVC), 10), "%s is still there" % SVC)
    need(not g.rc_leaves(CG), "rc-* left: %s" % g.rc_leaves(CG))
    return "the service's cgroup is gone"


DROPIN = "/etc/systemd/system/runcell.service.d"
IDS = 'import os, time\ntime.sleep(3)\nprint(os.getuid())\n'


def sandbox_ids():
    os.makedirs(DROPIN, exist_ok=True)
    with open(DROPIN + "/root.conf", "w") as f:
        f.write("[Service]\nUser=root\nGroup=root\n")
    systemctl("daemon-reload")
    p = systemctl("start", "runcell.service")
    need(p.returncode == 0, "systemctl start (as root): %s" % p.stderr.strip())
    try:
        def up():
            try:
                return status_of("/healthz")[0] == 200
            except OSError:
                return False
        if not g.wait_until(up, 120, step=0.5):
            st = systemctl("status", "--no-pager", "-n", "20", "runcell.service")
            raise Fail("runcell.service (as root) not answering within 120 s:\n" +
                       "\n".join("    " + l for l in (st.stdout + st.stderr).splitlines()))
        pid = main_pid()
        res = []

        def post():
            res.append(status_of("/api/v1/run", None, "POST",
                                 {"language": "python", "source": IDS}))
        ts = [threading.Thread(target=post) for _ in range(2)]
        for t in ts:
            t.start()
        uids = {}

        def seen():
            for leaf in g.rc_leaves(SVC, pid):
                if leaf.endswith("-0"):
                    continue
                for q in g.procs(leaf):
                    try:
                        st = g.read("/proc/%s/status" % q)
                        uid = int(re.search(r"^Uid:\s+\d+\s+(\d+)", st, re.M).group(1))
                    except (OSError, AttributeError):
                        continue
                    uids[leaf] = uid
            return len(uids) >= 2
        g.wait_until(seen, 60)
        for t in ts:
            t.join(60)
        need(len(res) == 2 and all(c == 200 for c, _ in res), "the runs: %s" % res)
        vals = sorted(set(uids.values()))
        need(len(vals) >= 2 and all(2000000000 <= u < 2000065536 for u in vals),
             "the sandboxes' outside uids: %s" % uids)
        return "two sandboxes at once as uids %s" % vals
    finally:
        systemctl("stop", "runcell.service")
        os.remove(DROPIN + "/root.conf")
        systemctl("daemon-reload")


def main():
    out("GUEST-START")
    rc = 0
    try:
        if check("systemd.pid1", pid1) and check("systemd.deb.installed", deb_installed) and \
                check("systemd.service.ready", ready):
            check("systemd.service.layout", layout)
            check("systemd.service.run", run)
            check("systemd.service.memory_limit", memory_limit)
            check("systemd.service.reload", reload_)
            if check("systemd.service.drain", drain):
                check("systemd.service.stop", stop)
            else:
                systemctl("stop", "runcell.service")
            check("systemd.root.sandbox_ids", sandbox_ids)
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
