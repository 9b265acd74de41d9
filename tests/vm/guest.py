#!/usr/bin/python3
"""tests/vm: the checks that run inside the guest (a pure cgroup v2 host, no init system).

tests/vm/guest-init starts this as root in the root cgroup. Every line it prints goes to the
host (tests/vm/run), which counts them:

    PASS name [- note] (seconds)       a check that held
    FAIL name: reason                  one that did not (details indented below it)
    INFO ...                           a fact or a figure
    BENCH ...                          bench/vm_oneshot.py's table (for docs/BENCHMARKS.md)

Sections, in this order (the kernel command line may pick some: rcvm.only=a,b):

  guest      the host facts the rest relies on: cgroup2 alone, nsdelegate, controllers
  nowrapper  runcell as root in the root cgroup, with no delegation at all: it makes (then
             reuses) /runcell and says so in one line
  root       as root, in a subtree made by scripts/cgroup-delegate create
  rootless   as vmuser (uid 1000) holding a delegated subtree (create --owner vmuser)
  bench      (only when named alone) root's delegated subtree with bench/vm_oneshot.py only

root and rootless run `cgroup-delegate exec NAME -- this script --inner MODE`, a process that
stays in the delegated cgroup and starts every runcell from there (the shared case): limits
and verdicts, placement, teardown, restart cleanup, the server with each dialect, 4 runs + a
server + doctor at once; root also times bench/vm_oneshot.py there.
"""

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

RCDIR = "/mnt/runcell"
RC = RCDIR + "/build/runcell"
DELEGATE = RCDIR + "/scripts/cgroup-delegate"
ROOTFS = RCDIR + "/rootfs"
CG = "/sys/fs/cgroup"
USER, UID, HOME = "vmuser", 1000, "/home/vmuser"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CTLS = ("memory", "pids", "cpu")


class Fail(Exception):
    pass


def out(line):
    print(line, flush=True)


def check(name, fn, *args):
    t0 = time.monotonic()
    try:
        note = fn(*args)
    except Fail as e:
        out("FAIL %s: %s" % (name, e))
        return False
    except Exception as e:  # a bug in the check or a hang: still one FAIL line
        out("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        for line in traceback.format_exc().rstrip().splitlines()[-8:]:
            out("    " + line)
        return False
    out("PASS %s%s (%.1fs)" % (name, " - %s" % note if note else "", time.monotonic() - t0))
    return True


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def cmdline_opts():
    opts = {}
    for w in open("/proc/cmdline").read().split():
        if w.startswith("rcvm.") and "=" in w:
            k, v = w[5:].split("=", 1)
            opts[k] = v
    return opts


# ---------------------------------------------------------------- cgroups

def cg_of(pid="self"):
    """A process's cgroup v2 path ("/a/b"), or None once it is gone."""
    try:
        with open("/proc/%s/cgroup" % pid) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cgdir(rel):
    return CG + (rel if rel != "/" else "")


def read(path):
    with open(path) as f:
        return f.read().strip()


def procs(d):
    try:
        return [int(x) for x in read(os.path.join(d, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []


def populated(d):
    try:
        return "populated 1" in read(os.path.join(d, "cgroup.events"))
    except FileNotFoundError:
        return False


LEAF = re.compile(r"rc-(\d+)-(\d+)$")


def rc_leaves(base, pid=None):
    """Every rc-<pid>-<n> directory at any depth beneath base (of that runcell pid)."""
    found = []
    for dirpath, dirnames, _ in os.walk(base):
        for d in dirnames:
            m = LEAF.match(d)
            if m and (pid is None or int(m.group(1)) == pid):
                found.append(os.path.join(dirpath, d))
    return sorted(found)


def wait_until(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def no_leaves_left(base, pid=None, timeout=3.0):
    left = wait_until(lambda: not rc_leaves(base, pid), timeout)
    if not left:
        raise Fail("left behind: %s" % ", ".join(rc_leaves(base, pid)))


# ---------------------------------------------------------------- running runcell

def processes():
    """Every process with its state, kernel wait channel and cgroup: what a hang looked like."""
    try:
        return subprocess.run(["ps", "-eo", "pid,ppid,stat,wchan:24,etimes,cgroup:36,args"],
                              capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(ps: %s)" % e


def popen(argv, env=None, **kw):
    """A command in a session of its own, so that a hang can be ended with all it started."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True, **kw)


def finish(p, timeout, what):
    """communicate() with a deadline; past it, FAIL with the process table, after killing the
    command's whole session (its sandboxes die with runcell)."""
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        table = processes()
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        raise Fail("%s did not finish within %d s; the processes then:\n%s" % (
            what, timeout, "\n".join("    " + l for l in table.splitlines())))


class Env:
    """Where this process keeps its programs; how it runs runcell."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="rcvm-")
        os.chmod(self.tmp, 0o755)
        self.env = dict(os.environ, RUNCELL_ROOTFS_DIR=ROOTFS)

    def prog(self, name, src):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(src)
        return path

    def argv_run(self, src, *opts, name="main.py"):
        return [RC, "run", "--json", "--lang", "python", *opts, self.prog(name, src)]

    def run(self, src, *opts, timeout=120, name="main.py"):
        """runcell run --json: (the completed process, its JSON or None)."""
        p = popen(self.argv_run(src, *opts, name=name), env=self.env)
        p.stdout, p.stderr = finish(p, timeout, "runcell run")
        return p, parse_json(p.stdout)

    def run_ok(self, src, *opts, expect=None, timeout=120):
        p, j = self.run(src, *opts, timeout=timeout)
        need(p.returncode == 0 and j is not None,
             "runcell run exited %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[-600:]))
        need(j["run"]["status"] == "ok", "status %s: %s" % (j["run"]["status"], short(j)))
        if expect is not None:
            need(j["run"]["stdout"] == expect, "stdout %r, expected %r" % (j["run"]["stdout"], expect))
        return p, j


def parse_json(s):
    try:
        return json.loads(s)
    except ValueError:
        return None


def short(x, n=500):
    s = x if isinstance(x, str) else json.dumps(x)
    return s if len(s) <= n else s[:n] + "..."


class Serve:
    """runcell serve --listen 127.0.0.1:0 in the background; stderr is kept."""

    def __init__(self, env, *extra):
        self.env = env
        self.p = popen([RC, "serve", "--listen", "127.0.0.1:0", *extra], env=env.env,
                       stdout=subprocess.DEVNULL)
        self.lines = []
        self.port = None
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self.ready.set()
        self.ready.set()

    def wait_ready(self, timeout=90):
        self.ready.wait(timeout)
        need(self.port is not None, "runcell serve did not say where it listens (exit %s): %s"
             % (self.p.poll(), " | ".join(self.lines[-5:])))
        return self.port

    def request(self, method, path, body=None, timeout=120):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body) if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            raw = r.read().decode(errors="replace")
            return r.status, parse_json(raw), raw
        finally:
            c.close()

    def post_ok(self, path, body):
        st, j, raw = self.request("POST", path, body)
        need(st == 200 and j is not None, "POST %s: %d %s" % (path, st, short(raw)))
        return j

    def stop(self, timeout=60):
        """SIGTERM; its exit status."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise Fail("runcell serve did not exit within %ds of SIGTERM" % timeout)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


# ---------------------------------------------------------------- programs

HELLO = 'print("hello from the guest")\n'
OBSERVED = """import os, sys, time
print(open("/proc/self/cgroup").read().strip())
sys.stdout.flush()
time.sleep(4)
"""
MEMORY = """b = bytearray(400 << 20)
print("allocated", len(b))
"""
PIDS = """import os, time
kids, err = [], None
for i in range(40):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
print(len(kids), err)
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
"""
TWO_SPINNERS = """import os, time
end = time.monotonic() + 2.0
kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        while time.monotonic() < end:
            pass
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
print("spun")
"""
SPIN = "while True:\n    pass\n"
SLEEP1 = 'import time\ntime.sleep(1)\nprint("shared")\n'


def observe_run(env, base):
    """Start runcell run on a program that sleeps; while it runs, find its leaf beneath base and
    read what the host sees there. Returns (runcell pid, runcell's cgroup, leaf, limit files,
    sandbox pids, the JSON)."""
    argv = env.argv_run(OBSERVED, "--memory-mb", "100", "--processes", "20", "--wall-ms", "30000")
    p = popen(argv, env=env.env)
    try:
        def busy_leaf():
            for leaf in rc_leaves(base, p.pid):
                if procs(leaf):
                    return leaf
            return None
        leaf = wait_until(lambda: busy_leaf() or p.poll() is not None, 60)
        seen = {}
        rc_cg = cg_of(p.pid)
        sandbox = []
        if isinstance(leaf, str):
            for f in ("memory.max", "memory.swap.max", "pids.max", "cpu.max", "memory.oom.group"):
                try:
                    seen[f] = read(os.path.join(leaf, f))
                except FileNotFoundError:
                    seen[f] = None
            sandbox = procs(leaf)
        o, e = finish(p, 120, "runcell run")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    need(isinstance(leaf, str), "no busy rc-%d-* leaf appeared beneath %s (runcell exited %s: %s)"
         % (p.pid, base, p.returncode, e.strip()[-400:] if p.returncode is not None else ""))
    j = parse_json(o)
    need(p.returncode == 0 and j, "runcell run exited %d: %s" % (p.returncode, e.strip()[-500:]))
    need(j["run"]["status"] == "ok", "status %s: %s" % (j["run"]["status"], short(j)))
    return p.pid, rc_cg, leaf, seen, sandbox, j, e


def check_limits_seen(seen):
    want = {"memory.max": str(100 << 20), "pids.max": "20", "cpu.max": "100000 100000",
            "memory.oom.group": "1"}
    if seen.get("memory.swap.max") is not None:
        want["memory.swap.max"] = "0"
    bad = ["%s=%r (want %r)" % (k, seen.get(k), v) for k, v in want.items() if seen.get(k) != v]
    need(not bad, "the leaf's limits: " + ", ".join(bad))


# ---------------------------------------------------------------- section: guest

def guest_facts():
    mi = open("/proc/self/mountinfo").read().splitlines()
    v1 = [l for l in mi if " - cgroup " in l]
    v2 = [l for l in mi if " - cgroup2 " in l]
    need(not v1, "cgroup v1 mounts: %s" % v1)
    need(len(v2) == 1 and v2[0].split()[4] == CG, "cgroup2 mounts: %s" % v2)
    opts = v2[0].split(" - ")[1].split()[2]
    need("nsdelegate" in opts and "memory_recursiveprot" in opts, "cgroup2 options %s" % opts)
    hier = [l.split() for l in open("/proc/cgroups").read().splitlines()[1:]]
    need(all(h[1] == "0" for h in hier), "a controller is bound to a v1 hierarchy: %s" % hier)
    ctl = read(CG + "/cgroup.controllers").split()
    need(all(c in ctl for c in CTLS), "root cgroup.controllers: %s" % ctl)
    out("INFO guest kernel %s; root cgroup.controllers: %s; root cgroup.subtree_control: '%s'"
        % (os.uname().release, " ".join(ctl), read(CG + "/cgroup.subtree_control")))
    return "cgroup2 only, %s" % opts


# ---------------------------------------------------------------- section: nowrapper

SUBTREE_LINE = re.compile(r"cgroup.*/runcell\b|/runcell\b.*cgroup")


def subtree_lines(stderr):
    return [l for l in stderr.splitlines() if SUBTREE_LINE.search(l)]


def nowrapper_first(env):
    need(cg_of() == "/", "this check must start in the root cgroup, not %s" % cg_of())
    sub = CG + "/runcell"
    existed = os.path.isdir(sub)
    pid, rc_cg, leaf, seen, sandbox, j, err = observe_run(env, CG)
    lines = subtree_lines(err)
    need(len(lines) == 1, "expected one line naming the subtree /runcell on stderr, got %d: %r"
         % (len(lines), err.strip()[-600:]))
    need(leaf.startswith(sub + "/"), "the sandbox's leaf %s is not beneath %s" % (leaf, sub))
    need(rc_cg is not None and not cgdir(rc_cg).startswith(leaf),
         "runcell itself is in its sandbox's leaf (%s)" % rc_cg)
    need(pid not in sandbox, "runcell's own pid is in the leaf")
    check_limits_seen(seen)
    need(j["run"]["stdout"].splitlines()[0] == "0::/",
         "the sandbox sees %r as its cgroup, not its own namespace root 0::/" % j["run"]["stdout"])
    st = read(sub + "/cgroup.subtree_control").split()
    need(all(c in st for c in CTLS), "/runcell's cgroup.subtree_control: %s" % st)
    if not existed:
        need("made" in lines[0], "the first run made /runcell but did not say so: %r" % lines[0])
    no_leaves_left(sub)
    out("INFO nowrapper: /runcell %s before; runcell stayed in %s; its sandbox in %s; it said: %s"
        % ("existed" if existed else "did not exist", rc_cg, leaf[len(CG):], lines[0]))
    return lines[0]


def nowrapper_again(env):
    p, j = env.run_ok(HELLO, expect="hello from the guest\n")
    lines = subtree_lines(p.stderr)
    need(len(lines) == 1, "expected one line naming the subtree /runcell on stderr, got %d: %r"
         % (len(lines), p.stderr.strip()[-600:]))
    need("reused" in lines[0], "the second run did not say it reused /runcell: %r" % lines[0])
    no_leaves_left(CG + "/runcell")
    return lines[0]


# ---------------------------------------------------------------- section: delegated (outer)

def xattr(path, name):
    try:
        return os.getxattr(path, name).decode(errors="replace")
    except OSError as e:
        return "(%s)" % e.strerror


def delegate_create(name, owner):
    argv = [DELEGATE, "create", name] + (["--owner", owner] if owner else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    need(p.returncode == 0, "%s exited %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    d = CG + "/" + name
    need(os.path.isdir(d), "%s was not made" % d)
    st = read(d + "/cgroup.subtree_control").split()
    need(all(c in st for c in CTLS), "%s/cgroup.subtree_control: %s" % (d, st))
    need(not procs(d), "the delegated cgroup holds processes: %s" % procs(d))
    marks = {n: xattr(d, n) for n in ("trusted.delegate", "user.delegate")}
    need(all(v == "1" for v in marks.values()), "delegation marks: %s" % marks)
    if owner:
        handed = ["", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"]
        bad = [f or "." for f in handed if os.stat(os.path.join(d, f)).st_uid != UID]
        need(not bad, "not handed to %s: %s" % (owner, bad))
        kept = [f for f in ("memory.max", "pids.max", "cpu.max", "cgroup.max.descendants")
                if os.path.exists(os.path.join(d, f)) and os.stat(os.path.join(d, f)).st_uid == UID]
        need(not kept, "limit files handed to %s: %s" % (owner, kept))
    return "%s, subtree_control %s" % (d[len(CG):], " ".join(st))


def inner(mode, name, d, env, timeout):
    """Run this script as the inner process in the delegated cgroup; its lines go straight out."""
    me = os.path.abspath(__file__)
    base_env = ["LANG=C.UTF-8", "PATH=" + PATH, "RUNCELL_ROOTFS_DIR=" + ROOTFS]
    if mode == "rootless":
        who = ["setpriv", "--reuid=%d" % UID, "--regid=%d" % UID, "--clear-groups", "--",
               "env", "-i", "HOME=" + HOME, "USER=" + USER, "LOGNAME=" + USER] + base_env
    else:
        who = ["env", "-i", "HOME=/root", "USER=root"] + base_env
    argv = [DELEGATE, "exec", name, "--"] + who + [
        "/usr/bin/python3", me, "--inner", mode, "--deleg", d]
    for k, v in cmdline_opts().items():
        argv += ["--opt", "%s=%s" % (k, v)]
    sys.stdout.flush()
    p = popen(argv, cwd="/tmp", stdout=None, stderr=None)
    finish(p, timeout, "the %s checks" % mode)
    rc = p.returncode
    need(rc == 0, "the %s checks' process exited %d" % (mode, rc))


def delegated(mode):
    name = "vm-" + mode
    d = CG + "/" + name
    env = Env()
    owner = USER if mode == "rootless" else None
    if not check("%s.delegate.create" % mode, delegate_create, name, owner):
        if not os.path.isdir(d):
            return
    check("%s.inner" % mode, inner, mode, name, d, env, 600)
    check("%s.teardown" % mode, lambda: no_leaves_left(d))

    def remove():
        p = subprocess.run([DELEGATE, "remove", name], capture_output=True, text=True, timeout=60)
        need(p.returncode == 0, "cgroup-delegate remove exited %d: %s" % (p.returncode, p.stderr))
        need(not os.path.exists(d), "%s is still there" % d)
    check("%s.delegate.remove" % mode, remove)


# ---------------------------------------------------------------- section: delegated (inner)

def in_leaf(d):
    me = cg_of()
    need(cgdir(os.path.dirname(me)) == d and os.path.basename(me).startswith("cmd-"),
         "cgroup-delegate exec put us in %s, not a cmd-<pid> leaf of %s" % (me, d[len(CG):]))
    return me


def placement(env, d):
    me = cg_of()
    pid, rc_cg, leaf, seen, sandbox, j, err = observe_run(env, d)
    need(os.path.dirname(leaf) == d, "the sandbox's leaf %s is not a child of %s" % (leaf, d))
    need(rc_cg == me, "runcell moved itself from %s to %s" % (me, rc_cg))
    need(pid not in sandbox, "runcell's own pid is in the leaf")
    check_limits_seen(seen)
    first = j["run"]["stdout"].splitlines()[0] if j["run"]["stdout"] else ""
    need(first == "0::/", "the sandbox sees %r as its cgroup, not its own namespace root 0::/"
         % first)
    no_leaves_left(d, pid)
    return "runcell stayed in %s, its sandbox was in %s" % (me, leaf[len(CG):])


def memory_limit(env):
    p, j = env.run(MEMORY, "--memory-mb", "64")
    need(p.returncode == 0 and j, "runcell run exited %d: %s" % (p.returncode, p.stderr[-400:]))
    r = j["run"]
    need(r["status"] == "memory_limit", "status %s (want memory_limit): %s" % (r["status"], short(r)))
    need(r.get("memory_kb") and r["memory_kb"] <= 70 * 1024,
         "peak memory %s KiB over the 64 MiB limit" % r.get("memory_kb"))
    return "peak %s KiB" % r["memory_kb"]


def pids_limit(env):
    p, j = env.run_ok(PIDS, "--processes", "10")
    n, err = j["run"]["stdout"].split()
    need(err == "11", "fork did not fail with EAGAIN: %r" % j["run"]["stdout"])
    need(int(n) <= 8, "%s children under a limit of 10 processes (init and python count)" % n)
    return "%s children, then EAGAIN" % n


def cpu_max(env):
    p, j = env.run_ok(TWO_SPINNERS, expect="spun\n")
    r = j["run"]
    need(r.get("cpu_ms") is not None and r["cpu_ms"] >= 500,
         "CPU time from cpu.stat: %s ms for 2 s of spinning" % r.get("cpu_ms"))
    need(r["cpu_ms"] <= 1.25 * r["wall_ms"] + 100,
         "two spinning processes used %d ms CPU in %d ms: more than the 1 CPU of cpu.max"
         % (r["cpu_ms"], r["wall_ms"]))
    return "cpu %d ms in %d ms wall (2 spinners, cpu.max 1 CPU, %d vCPUs)" % (
        r["cpu_ms"], r["wall_ms"], os.cpu_count())


def cpu_time(env):
    p, j = env.run(SPIN, "--cpu-ms", "1000", "--wall-ms", "30000")
    need(p.returncode == 0 and j, "runcell run exited %d: %s" % (p.returncode, p.stderr[-400:]))
    r = j["run"]
    need(r["status"] == "time_limit" and r.get("limit") == "cpu",
         "status %s limit %s (want time_limit, cpu): %s" % (r["status"], r.get("limit"), short(r)))
    need(1000 <= r["cpu_ms"] <= 3000, "cpu_ms %s for a 1000 ms limit" % r["cpu_ms"])
    return "stopped at %d ms CPU" % r["cpu_ms"]


JUDGE_SOL = """import os, sys
what = sys.stdin.read().split()
if what[0] == "big":
    b = bytearray(100 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
open("/tmp/left-" + what[0], "w").write("x")
print(what[0], "clean" if not [f for f in os.listdir("/tmp") if f != "left-" + what[0]] else "dirty")
"""


def judge_lanes(env, d):
    """A judged submission on cgroup v2: each test's verdict and memory peak its own, and its
    tests share a sandbox exactly when this kernel can reset memory.peak (Linux 6.12)."""
    tdir = os.path.join(env.tmp, "judge-tests")
    os.makedirs(tdir, exist_ok=True)
    for i, what in enumerate(["big", "small", "small", "big", "small"]):
        with open(os.path.join(tdir, "t%d.in" % i), "w") as f:
            f.write(what + "\n")
        with open(os.path.join(tdir, "t%d.out" % i), "w") as f:
            f.write(what + " clean\n")
    src = env.prog("sol.py", JUDGE_SOL)
    p = popen([RC, "judge", "--json", "--lang", "python", "--parallel", "1", "--memory-mb", "256",
               "--tests", tdir, src], env=dict(env.env, RUNCELL_TRACE="1"))
    p.stdout, p.stderr = finish(p, 300, "runcell judge")
    j = parse_json(p.stdout)
    need(j is not None, "runcell judge exited %d: %s" % (p.returncode, p.stderr[-600:]))
    verdicts = [t["verdict"] for t in j["tests"]]
    need(verdicts == ["accepted"] * 5, "verdicts %s: %s" % (verdicts, short(j)))
    mem = [t["run"]["memory_kb"] for t in j["tests"]]
    need(all(m is not None for m in mem), "no memory figure: %s" % mem)
    need(min(mem[0], mem[3]) > 2 * max(mem[1], mem[2], mem[4]),
         "memory peaks %s KiB: a small test after a big one must not show the big one's" % mem)
    # memory.peak takes a write (a reset for that fd) from Linux 6.12; before, it is read-only
    leaf_peak = os.path.join(d, "memory.peak") if os.path.exists(os.path.join(d, "memory.peak")) \
        else None
    resettable = False
    if leaf_peak:
        try:
            with open(leaf_peak, "r+") as f:
                f.write("reset\n")
            resettable = True
        except OSError:
            resettable = False
    kept = p.stderr.count("sandbox kept from the lane's last run")
    if resettable:
        need(kept == 4, "memory.peak can be reset here, yet %d of 4 tests ran in the kept "
             "sandbox" % kept)
    else:
        need(kept == 0, "memory.peak cannot be reset here, yet %d tests ran in a kept sandbox "
             "(their peaks would be wrong)" % kept)
    return "peaks %s KiB; %s" % (mem, "one sandbox for all" if resettable else
                                 "a new sandbox per test (memory.peak not resettable)")


def teardown(env, d):
    p, j = env.run_ok(HELLO, expect="hello from the guest\n")
    # the pid of that runcell is gone; nothing of any runcell may be left beneath d
    no_leaves_left(d)


def restart_cleanup(env, d):
    srv = Serve(env, "--warm", "python")
    try:
        srv.wait_ready()
        pid = srv.p.pid
        leaves = wait_until(lambda: [l for l in rc_leaves(d, pid) if procs(l)], 60)
        need(leaves, "runcell serve --warm python made no busy rc-%d-* leaf beneath %s" % (pid, d))
    finally:
        srv.kill()
    # its helper and sandboxes die with it (PR_SET_PDEATHSIG); their leaves stay behind
    busy = wait_until(lambda: not any(populated(l) for l in rc_leaves(d, pid)), 20)
    need(busy, "processes still in %s after SIGKILL" % rc_leaves(d, pid))
    left = rc_leaves(d, pid)
    need(left, "a SIGKILLed runcell left no leaf: nothing to clean (expected %s)" % leaves)
    env.run_ok(HELLO, expect="hello from the guest\n")
    no_leaves_left(d, pid, timeout=0.5)
    return "%d leaves of the killed runcell %d removed by the next start" % (len(left), pid)


# the dialects: (name, path, body, answer -> the program's stdout or a reason)
def native_http(j):
    return j["run"]["stdout"] if j["run"]["status"] == "ok" else "status %s" % j["run"]["status"]


def piston(j):
    return j["run"]["stdout"] if j["run"]["code"] == 0 else "code %s" % j["run"]["code"]


def codapi(j):
    return j["stdout"] if j["ok"] else "ok false: %s" % j.get("stderr")


def microservice(j):
    return j["output"] + "\n" if not j["error"] else "error: %s" % j.get("status")


def ranna(j):
    return j["stdout"]


DIALECTS = [
    ("native.http", "/api/v1/run", lambda s: {"language": "python", "source": s}, native_http),
    ("piston", "/api/v2/execute",
     lambda s: {"language": "python", "version": "*", "files": [{"content": s}]}, piston),
    ("codapi", "/v1/exec", lambda s: {"sandbox": "python", "command": "run", "files": {"": s}},
     codapi),
    ("microservice", "/", lambda s: {"lang": "python", "code": s}, microservice),
    ("ranna", "/v1/exec", lambda s: {"language": "python", "code": s}, ranna),
]


def dialect(srv, path, body, answer):
    got = []
    for a, b in ((6, 7), (11, 13)):
        j = srv.post_ok(path, body("print(%d * %d)" % (a, b)))
        want = "%d\n" % (a * b)
        try:
            o = answer(j)
        except (KeyError, TypeError) as e:
            raise Fail("unexpected answer (%s): %s" % (e, short(j)))
        need(o == want, "got %r, want %r: %s" % (o, want, short(j)))
        got.append(o.strip())
    return "2 runs: " + ", ".join(got)


def native_ws(srv):
    import websockets

    async def go():
        url = "ws://127.0.0.1:%d/api/v1/ws" % srv.port
        async with websockets.connect(url, ping_interval=None, open_timeout=30) as ws:
            for i, (a, b) in (("a", (3, 5)), ("b", (9, 9))):
                await ws.send(json.dumps({"type": "run", "id": i, "language": "python",
                                          "source": "print(%d * %d)" % (a, b)}))
            outs, exits, done = {"a": "", "b": ""}, {}, set()
            while len(done) < 2:
                m = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if m["type"] == "output" and m["stream"] == "stdout":
                    outs[m["id"]] += m["data"]
                elif m["type"] == "exit":
                    exits[m["id"]] = m["status"]
                elif m["type"] == "done":
                    done.add(m["id"])
                elif m["type"] == "error":
                    raise Fail("error event: %s" % m)
            return outs, exits
    outs, exits = asyncio.run(go())
    need(outs == {"a": "15\n", "b": "81\n"} and exits == {"a": "ok", "b": "ok"},
         "outputs %r, verdicts %r" % (outs, exits))
    return "2 runs on one connection: 15, 81"


def server(mode, env, d):
    srv = Serve(env)
    try:
        if not check("%s.server.start" % mode, lambda: "port %d" % srv.wait_ready()):
            return
        for name, path, body, answer in DIALECTS:
            check("%s.server.%s" % (mode, name), dialect, srv, path, body, answer)
        check("%s.server.native.ws" % mode, native_ws, srv)
    finally:
        def stop():
            rc = srv.stop()
            need(rc == 0, "runcell serve exited %d after SIGTERM: %s" % (rc, srv.lines[-3:]))
            no_leaves_left(d, srv.p.pid)
        check("%s.server.stop" % mode, stop)


def shared(env, d):
    """4 runs, a server (one run through it) and doctor at once, all from this cgroup."""
    me = cg_of()
    sampling = {"max": 0, "stop": False}

    def sample():
        while not sampling["stop"]:
            pids = {int(LEAF.match(os.path.basename(l)).group(1)) for l in rc_leaves(d)}
            sampling["max"] = max(sampling["max"], len(pids))
            time.sleep(0.05)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    srv = Serve(env)
    runs = [popen(env.argv_run(SLEEP1, name="shared%d.py" % i), env=env.env) for i in range(4)]
    doc = popen([RC, "doctor"], env=env.env, stderr=subprocess.STDOUT)
    problems = []
    try:
        try:
            srv.wait_ready()
            j = srv.post_ok("/api/v1/run", {"language": "python", "source": SLEEP1})
            if j["run"]["status"] != "ok" or j["run"]["stdout"] != "shared\n":
                problems.append("the server's run: %s" % short(j))
        except Fail as e:
            problems.append(str(e))
        for i, p in enumerate(runs):
            o, e = finish(p, 180, "runcell run %d" % i)
            j = parse_json(o)
            if p.returncode != 0 or not j or j["run"]["status"] != "ok" \
                    or j["run"]["stdout"] != "shared\n":
                problems.append("run %d exited %d: %s" % (i, p.returncode, short(e.strip() or o)))
        o, _ = finish(doc, 120, "runcell doctor")
        if doc.returncode != 0 or "sandboxes can run: yes" not in o or "cgroup v2" not in o:
            problems.append("doctor exited %d: %s" % (doc.returncode, short(o[-700:])))
    finally:
        rc = srv.stop()
        sampling["stop"] = True
        th.join()
    if rc != 0:
        problems.append("runcell serve exited %d after SIGTERM: %s" % (rc, srv.lines[-3:]))
    need(cg_of() == me, "this process was moved from %s to %s" % (me, cg_of()))
    need(not problems, "; ".join(problems))
    no_leaves_left(d)
    return "all 6 succeeded; up to %d runcells had leaves in %s at once; no rc-* left" % (
        sampling["max"], d[len(CG):])


def bench(opts):
    runs = opts.get("bench_runs", "20")
    argv = ["/usr/bin/python3", RCDIR + "/bench/vm_oneshot.py", "--runs", runs, "--bin", RC]
    if opts.get("bench_layers") == "1":
        argv.append("--layer-costs")
    p = popen(argv, env=dict(os.environ, RUNCELL_ROOTFS_DIR=ROOTFS))
    p.stdout, p.stderr = finish(p, 900, "bench/vm_oneshot.py")
    need(p.returncode == 0, "bench/vm_oneshot.py exited %d: %s" % (p.returncode,
                                                                   p.stderr.strip()[-800:]))
    summary = ""
    for line in p.stdout.splitlines():
        out("BENCH " + line)
        if line.startswith("vm_oneshot:"):
            summary = line
    return summary


def inner_main(mode, d, opts):
    env = Env()
    if set(opts.get("only", "").split(",")) == {"bench"}:
        # --only bench: the benchmark alone, in root's delegated cgroup (tests/vm/run --only bench)
        check("root.bench.oneshot", bench, opts)
        return
    try:
        check("%s.in_leaf" % mode, in_leaf, d)
        check("%s.run.hello" % mode, lambda: env.run_ok(HELLO, expect="hello from the guest\n")
              and None)
        check("%s.placement" % mode, placement, env, d)
        check("%s.limits.memory" % mode, memory_limit, env)
        check("%s.limits.pids" % mode, pids_limit, env)
        check("%s.limits.cpu_max" % mode, cpu_max, env)
        check("%s.limits.cpu_time" % mode, cpu_time, env)
        check("%s.judge.lanes" % mode, judge_lanes, env, d)
        check("%s.teardown.run" % mode, teardown, env, d)
        check("%s.restart_cleanup" % mode, restart_cleanup, env, d)
        server(mode, env, d)
        check("%s.shared" % mode, shared, env, d)
        if mode == "root" and opts.get("bench", "1") != "0":
            check("root.bench.oneshot", bench, opts)
    finally:
        shutil.rmtree(env.tmp, ignore_errors=True)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inner", choices=("root", "rootless"))
    ap.add_argument("--deleg")
    ap.add_argument("--opt", action="append", default=[])
    a = ap.parse_args()
    if a.inner:
        opts = dict(o.split("=", 1) for o in a.opt)
        inner_main(a.inner, a.deleg, opts)
        return
    out("GUEST-START")
    opts = cmdline_opts()
    only = set(opts["only"].split(",")) if opts.get("only") else None
    want = lambda s: only is None or s in only  # noqa: E731
    if want("guest") and not check("guest.cgroup2", guest_facts):
        return
    if want("nowrapper"):
        env = Env()
        if check("nowrapper.run", nowrapper_first, env):
            check("nowrapper.reuse", nowrapper_again, env)
    for mode in ("root", "rootless"):
        if want(mode) or (mode == "root" and only == {"bench"}):
            delegated(mode)


if __name__ == "__main__":
    main()
