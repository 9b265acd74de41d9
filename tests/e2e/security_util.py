"""Helpers for the security cases (cases/security.py).

- the try-syscall probe (tests/security/try-syscall.c), compiled once per test session;
- running runcell with our own Popen (we need runcell's pid, extra inherited fds, and
  several runs at once), recorded in the case's results like Ctx.runcell does;
- host-side checks: processes left behind, cgroup leaves left behind, new mounts, new
  temp files.  A snapshot of the host is taken when this module is imported, before any
  case runs.
"""

import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import threading
import time

import harness
from harness import (E2E_DIR, PROGRAMS, Fail, Result, check_result_shape, kill_group,
                     shorten)

SEC_PROGRAMS = os.path.join(PROGRAMS, "security")
PROBE_SRC_CANDIDATES = [
    os.path.normpath(os.path.join(E2E_DIR, "..", "security", "try-syscall.c")),
]
RUNNER_PID = os.getpid()


def sec_prog(name):
    p = os.path.join(SEC_PROGRAMS, name)
    if not os.path.exists(p):
        raise Fail("test program missing: %s" % p)
    return p


def token(prefix="rcsec"):
    return "%s%s" % (prefix, secrets.token_hex(8))


def sandbox_uids():
    """The host uids sandboxes' processes run as: as root one of a range per sandbox
    (RUNCELL_SANDBOX_IDS, default in src/config.c); rootless the user's own."""
    if os.geteuid() == 0:
        first, _, last = (os.environ.get("RUNCELL_SANDBOX_IDS")
                          or "2000000000-2000065535").partition("-")
        return range(int(first), int(last or first) + 1)
    return range(os.geteuid(), os.geteuid() + 1)


def sandbox_uid():
    """The first of sandbox_uids()."""
    return sandbox_uids()[0]


# ------------------------------------------------------------------ the probe

_probe_lock = threading.Lock()
_probe = {}


def probe_dir(t):
    """A directory holding the static try-syscall binary (compiled once per session)."""
    with _probe_lock:
        if "dir" in _probe:
            return _probe["dir"]
        if "error" in _probe:
            raise Fail(_probe["error"])
        src = next((p for p in PROBE_SRC_CANDIDATES if os.path.isfile(p)), None)
        if src is None:
            _probe["error"] = (
                "probe source not found (looked for %s): tests/security/ is not next to "
                "tests/e2e/ (tests/run-e2e --mode rootless copies only tests/e2e)"
                % ", ".join(PROBE_SRC_CANDIDATES))
            raise Fail(_probe["error"])
        d = os.path.join(t.suite.tmproot, "security-probe")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        out = os.path.join(d, "try-syscall")
        cmd = ["gcc", "-static", "-O2", "-o", out, src]
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            _probe["error"] = "cannot compile the probe (%s): %s" % (shlex.join(cmd), e)
            raise Fail(_probe["error"])
        if p.returncode != 0:
            _probe["error"] = "compiling the probe failed (%s): %s" % (
                shlex.join(cmd), shorten(p.stderr.decode(errors="replace"), 800))
            raise Fail(_probe["error"])
        os.chmod(out, 0o755)
        _probe["dir"] = d
        return d


def probe_bin(t):
    return os.path.join(probe_dir(t), "try-syscall")


# ------------------------------------------------------------------- running

class Run:
    """One runcell invocation started with Popen (so that we know its pid)."""

    def __init__(self, t, lang, files, args=None, extra=(), env=None, json_mode=True,
                 pass_fds=(), timeout=None, stdin_file=None):
        self.t = t
        a = [t.suite.bin] + list(t.suite.global_args) + ["run", "--lang", lang]
        if stdin_file is not None:
            a += ["--stdin", stdin_file]
        if json_mode:
            a.append("--json")
        a += [str(x) for x in extra]
        a += [str(f) for f in files]
        if args is not None:
            a.append("--")
            a += [str(x) for x in args]
        self.cmd = a
        self.env = env
        self.timeout = timeout or t.suite.timeout
        self.t0 = time.monotonic()
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            self.p = subprocess.Popen(a, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=full_env,
                                      start_new_session=True, pass_fds=tuple(pass_fds))
        except OSError as e:
            raise Fail("cannot execute %s: %s" % (shlex.join(a), e))
        self.pid = self.p.pid
        self.result = None

    def wait(self):
        timed_out = False
        try:
            out, err = self.p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.p)
            out, err = self.p.communicate()
            timed_out = True
        r = Result(self.cmd, self.p.returncode, out, err, time.monotonic() - self.t0,
                   timed_out=timed_out, env_extra=self.env)
        self.t.results.append(r)
        self.result = r
        if timed_out:
            raise Fail("command timed out after %ss" % self.timeout)
        return r

    def finish(self):
        """Wait; runcell must exit 0 with well-formed JSON; returns (Result, run stage)."""
        r = self.wait()
        self.t.rc0(r, "runcell exit status (sandbox worked)")
        obj = r.json()
        check_result_shape(self.t, obj)
        return r, obj


def run(t, lang, files, **kw):
    """Run to completion: (Result, JSON object, runcell pid)."""
    rn = Run(t, lang, files, **kw)
    r, obj = rn.finish()
    return r, obj, rn.pid


def run_probe(t, verb_args, extra=(), script="probe.sh", env=None, pass_fds=()):
    """Run the probe through programs/security/SCRIPT with the probe as an extra file.
    Returns (Result, run stage, runcell pid)."""
    r, obj, pid = run(t, "bash", [sec_prog(script), probe_bin(t)], args=verb_args,
                      extra=extra, env=env, pass_fds=pass_fds)
    t.check(obj["run"] is not None, "run stage is null")
    return r, obj["run"], pid


def probe_lines(stage, verb):
    """Lines 'VERB: ...' of the probe's stdout, the part after 'VERB: '."""
    out = []
    for ln in stage["stdout"].split("\n"):
        if ln.startswith(verb + ": "):
            out.append(ln[len(verb) + 2:])
    return out


_errno_re = re.compile(r"^errno=(\d+) \((\w+)\)(?: after (\d+) (\w+))?$")


def probe_outcome(t, stage, verb):
    """The probe's final outcome for VERB: ('ok', None) or (ENAME, count-or-None)."""
    lines = [ln for ln in probe_lines(stage, verb) if not re.match(r"^\d+ MB$", ln)]
    t.check(lines, "the probe printed no outcome for %r: stdout=%r stderr=%r"
            % (verb, shorten(stage["stdout"]), shorten(stage["stderr"])))
    last = lines[-1]
    if last == "ok":
        return "ok", None
    m = _errno_re.match(last)
    t.check(m, "cannot parse the probe's line %r" % last)
    return m.group(2), (int(m.group(3)) if m.group(3) else None)


# ------------------------------------------------------------ IA32 emulation
#
# int $0x80 on x86_64 enters the i386 system call table when the kernel has IA32 emulation
# (CONFIG_IA32_EMULATION, not turned off by ia32_emulation=0 or by the platform: some
# hypervisor guests switch it off whatever the config says).  Then runcell's x86_64-only
# seccomp filter must kill the process: SIGSYS.  Without it the kernel refuses the entry
# itself: the vector has no user gate, the instruction raises #GP, and the process gets
# SIGSEGV with si_code SI_KERNEL, si_addr 0, trap 13 and error code 0x402 (vector 0x80; 0 on
# kernels with FRED) at the int instruction.  The probe's int80 verb prints those fields
# from its SIGSEGV handler before dying of it.  Both are refusals; a call that returns, or a
# SIGSEGV of any other kind, is not.
#
# Which kind this host is comes from running the probe on the host, outside any sandbox:
# getpid through int $0x80 returns the pid, or the kernel refuses.  RUNCELL_TEST_IA32=on|off
# overrides the answer, only for testing these tests.

_INT80_FAULT_RE = re.compile(
    r"^SIGSEGV si_code=(-?\d+) si_addr=(0|0x[0-9a-f]+) trap=(-?\d+) err=(0|0x[0-9a-f]+) "
    r"at_int80=([01]) insn=([0-9a-f]{4})$")
SI_KERNEL = 0x80


def int80_refusal_problem(signal_name, stdout):
    """None when a probe run of int80 that ended by signal_name (e.g. 'SIGSEGV') and printed
    stdout is the kernel refusing int $0x80; else why it is not."""
    if signal_name != "SIGSEGV":
        return "ended by %r, not SIGSEGV" % (signal_name,)
    lines = [ln for ln in stdout.split("\n") if ln]
    if len(lines) != 1 or not lines[0].startswith("int80: "):
        return ("want exactly one line 'int80: SIGSEGV ...' from the probe's handler, got %r"
                % shorten(stdout, 300))
    m = _INT80_FAULT_RE.match(lines[0][len("int80: "):])
    if not m:
        return "cannot parse the probe's line %r" % lines[0]
    code, addr, trap, err = int(m.group(1)), int(m.group(2), 0), int(m.group(3)), \
        int(m.group(4), 0)
    if code != SI_KERNEL:
        return "si_code %d, not SI_KERNEL (128): not the kernel's #GP" % code
    if addr != 0:
        return "si_addr %#x, not 0" % addr
    if m.group(5) != "1" or m.group(6) != "cd80":
        return "the fault is not at the int $0x80 instruction (at_int80=%s insn=%s)" % (
            m.group(5), m.group(6))
    if trap != 13 or err not in (0x402, 0):
        return "exception %d error code %#x, not #GP (13) for vector 0x80" % (trap, err)
    return None


def classify_host_int80(rc, stdout):
    """('on'|'off'|None, detail) from the probe's int80 run on the host: rc as subprocess
    gives it (negative: killed by that signal)."""
    if rc == 0 and stdout == "int80: ok\n":
        return "on", "getpid through int $0x80 returned the pid"
    sig = None
    if rc is not None and rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = "signal %d" % -rc
    why = int80_refusal_problem(sig, stdout)
    if why is None:
        return "off", "the kernel refused int $0x80: %s" % stdout.strip()
    return None, "exit %r, stdout %r: %s" % (rc, shorten(stdout, 300), why)


def int80_verdict(stage, ia32):
    """None when the run stage of the sandboxed int80 probe is the right refusal for a
    kernel whose IA32 emulation is ia32 ('on' or 'off'); else why not."""
    sig, out = stage.get("signal"), stage.get("stdout", "")
    got = "status %r signal %r stdout %r" % (stage.get("status"), sig, shorten(out, 300))
    if stage.get("status") == "runtime_error" and sig == "SIGSYS" and out == "":
        return None  # the filter killed it
    if ia32 != "off":
        return "IA32 emulation is %s: want death by SIGSYS with no output, got %s" % (ia32, got)
    if stage.get("status") != "runtime_error":
        return "IA32 emulation is off: want SIGSYS or the kernel's SIGSEGV, got %s" % got
    why = int80_refusal_problem(sig, out)
    if why is None:
        return None
    return ("IA32 emulation is off: want SIGSYS or the kernel's SIGSEGV (SI_KERNEL at the "
            "int $0x80), got %s: %s" % (got, why))


def kernel_config_ia32():
    """What the kernel's config and command line say about IA32 emulation (for messages
    only: the platform may turn it off whatever they say)."""
    release = os.uname().release
    text = None
    try:
        import gzip
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        text = _read("/boot/config-" + release)
    parts = []
    if text is None:
        parts.append("kernel config not readable")
    else:
        for key in ("CONFIG_IA32_EMULATION", "CONFIG_IA32_EMULATION_DEFAULT_DISABLED"):
            m = re.search(r"^%s=(\S+)$" % key, text, re.M)
            parts.append("%s=%s" % (key, m.group(1) if m else "n"))
    cmd = (_read("/proc/cmdline") or "").split()
    opt = [w for w in cmd if w.startswith("ia32_emulation=")]
    parts.append(opt[-1] if opt else "no ia32_emulation= on the command line")
    return ", ".join(parts)


_ia32_lock = threading.Lock()
_ia32 = {}


def host_ia32(t):
    """'on' or 'off': whether int $0x80 reaches the i386 system calls on this host (see
    above); RUNCELL_TEST_IA32 overrides it.  Fails when the probe shows neither."""
    with _ia32_lock:
        if "value" not in _ia32:
            exe = probe_bin(t)
            try:
                p = subprocess.run([exe, "int80"], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise Fail("cannot run the probe on the host: %s" % e)
            value, detail = classify_host_int80(p.returncode,
                                                p.stdout.decode(errors="replace"))
            _ia32["value"], _ia32["detail"] = value, detail
        value, detail = _ia32["value"], _ia32["detail"]
    force = os.environ.get("RUNCELL_TEST_IA32", "")
    if force:
        if force not in ("on", "off"):
            raise Fail("RUNCELL_TEST_IA32=%s: must be on or off" % force)
        t.note("RUNCELL_TEST_IA32=%s: IA32 emulation taken as %s (the host probe: %s: %s)"
               % (force, force, value, detail))
        return force
    if value is None:
        raise Fail("cannot tell whether this kernel has IA32 emulation: int $0x80 getpid on "
                   "the host neither returned the pid nor was refused by the kernel: %s (%s)"
                   % (detail, kernel_config_ia32()))
    t.note("IA32 emulation %s: %s (%s)" % (value, detail, kernel_config_ia32()))
    return value


# ------------------------------------------------------------ cgroup memory peak

def memory_peak_file():
    """The cgroup file runcell reads a stage's peak memory from on this host (cgroup v2:
    memory.peak, from Linux 5.19; v1: memory.max_usage_in_bytes), or None when the kernel
    has none: then runcell reports memory_kb as null.  Looked for in this process's own
    cgroup, under which runcell makes its leaves."""
    dirs = harness.own_cgroup_dirs()
    for d in dirs:
        if os.path.exists(os.path.join(d, "cgroup.controllers")):  # v2
            f = os.path.join(d, "memory.peak")
            return f if os.path.exists(f) else None
    for d in dirs:
        f = os.path.join(d, "memory.max_usage_in_bytes")
        if os.path.exists(f):
            return f
    return None


# --------------------------------------------------------------- host state

def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def proc_table():
    """pid -> {ppid, uid, name, nspid_depth, state, cmdline(bytes)} for every host process."""
    tab = {}
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        st = _read("/proc/%s/status" % n)
        if st is None:
            continue
        info = {"cmdline": _read("/proc/%s/cmdline" % n, "rb") or b""}
        for ln in st.split("\n"):
            k, _, v = ln.partition(":")
            v = v.strip()
            if k == "PPid":
                info["ppid"] = int(v)
            elif k == "Uid":
                info["uid"] = int(v.split()[0])
            elif k == "Name":
                info["name"] = v
            elif k == "NSpid":
                info["nspid_depth"] = len(v.split())
            elif k == "State":
                info["state"] = v
        if "ppid" in info and "uid" in info:
            tab[int(n)] = info
    return tab


def descends_from(tab, pid, ancestor):
    seen = set()
    while pid and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = tab.get(pid, {}).get("ppid", 0)
    return False


def describe_procs(tab, pids):
    return ["pid %d uid %d ppid %d %s %r" % (p, tab[p]["uid"], tab[p]["ppid"],
                                              tab[p].get("state", "?"),
                                              tab[p]["cmdline"].replace(b"\0", b" ")[:120])
            for p in sorted(pids) if p in tab]


def procs_with_token(tok):
    """Host processes whose command line holds tok (other than ourselves)."""
    tab = proc_table()
    b = tok.encode()
    hits = [p for p, i in tab.items() if b in i["cmdline"] and p != os.getpid()]
    return tab, hits


own_cgroup_dirs = harness.own_cgroup_dirs


_leaf_re = re.compile(r"^rc-(\d+)-(\d+)$")


def rc_leaves(pid=None):
    """rc-PID-SEQ cgroup directories under our own cgroups (anywhere below them)."""
    out = []
    for base in own_cgroup_dirs():
        for top, dirs, _files in os.walk(base):
            for d in dirs:
                m = _leaf_re.match(d)
                if m and (pid is None or int(m.group(1)) == pid):
                    out.append(os.path.join(top, d))
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def mount_lines():
    out = set()
    for ln in (_read("/proc/self/mountinfo") or "").split("\n"):
        f = ln.split()
        if len(f) > 4:
            # drop the mount id and parent id, which a remount may change
            out.add(" ".join(f[2:]))
    return out


TMP_DIRS = sorted({"/tmp", "/var/tmp", "/dev/shm", os.environ.get("TMPDIR") or "/tmp"})


def tmp_entries():
    out = {}
    for d in TMP_DIRS:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            p = os.path.join(d, n)
            try:
                out[p] = os.lstat(p).st_uid
            except OSError:
                pass
    return out


SNAPSHOT = {
    "pids": set(proc_table()),
    "mounts": mount_lines(),
    "tmp": tmp_entries(),
    "time": time.time(),
}


def leftover_processes():
    """Processes of the sandbox's host uid that are neither ours (descendants of this
    test runner: runcell and its live sandboxes) nor there before the suite started.
    A sandbox's process that outlived its runcell is reparented away from the runner."""
    tab = proc_table()
    uids = sandbox_uids()
    bad = [p for p, i in tab.items()
           if i["uid"] in uids and p not in SNAPSHOT["pids"]
           and not descends_from(tab, p, RUNNER_PID)]
    return tab, bad


def stale_leaves():
    """rc-* leaves whose runcell is gone."""
    out = []
    for d in rc_leaves():
        pid = int(_leaf_re.match(os.path.basename(d)).group(1))
        if not pid_alive(pid):
            out.append(d)
    return out


RUNCELLISH = re.compile(r"(runcell|^rc-|^\.unpack-|seccomp)", re.I)
OURS = re.compile(r"^(runcell-e2e-|runcell-marker-|e2e-)")


def new_tmp_files(suite):
    """Entries that appeared in the temp dirs since the suite started and look like
    runcell's (or belong to the sandbox's uid when that is not ours)."""
    now = tmp_entries()
    uids = sandbox_uids()
    out = []
    for p, owner in sorted(now.items()):
        if p in SNAPSHOT["tmp"] or p == suite.tmproot:
            continue
        n = os.path.basename(p)
        if OURS.match(n):
            continue
        if RUNCELLISH.search(n) or (owner in uids and owner != os.geteuid()):
            out.append("%s (uid %d)" % (p, owner))
    return out


def check_run_cleaned(t, pid, tok=None, what="the run"):
    """After runcell (pid) returned: its cgroup leaves are gone and no host process
    holds tok in its command line."""
    left = rc_leaves(pid)
    if left:
        time.sleep(0.5)
        still = rc_leaves(pid)
        raise Fail("cgroup leaves of runcell pid %d remain after %s: %r (still there "
                   "0.5 s later: %r)" % (pid, what, left, still))
    if tok:
        tab, hits = procs_with_token(tok)
        if hits:
            first = describe_procs(tab, hits)
            time.sleep(1.0)
            tab2, hits2 = procs_with_token(tok)
            raise Fail("%d process(es) of %s remain on the host after runcell returned: "
                       "%r (1 s later: %d left)" % (len(hits), what, first[:5], len(hits2)))


# ------------------------------------------------------------ canary listeners

class Canary:
    """TCP and UDP listeners on 127.0.0.1 that record whatever reaches them."""

    def __init__(self):
        import socket
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.tcp.settimeout(0.1)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.1)
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]
        self.hits = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._loop, daemon=True)
        self._th.start()

    def _loop(self):
        import socket
        while not self._stop.is_set():
            try:
                c, addr = self.tcp.accept()
                try:
                    c.settimeout(0.2)
                    data = c.recv(200)
                except OSError:
                    data = b""
                c.close()
                self.hits.append(("tcp", addr, data))
            except socket.timeout:
                pass
            except OSError:
                if self._stop.is_set():
                    break
            try:
                data, addr = self.udp.recvfrom(200)
                self.hits.append(("udp", addr, data))
            except socket.timeout:
                pass
            except OSError:
                if self._stop.is_set():
                    break

    def close(self):
        self._stop.set()
        self._th.join(2)
        self.tcp.close()
        self.udp.close()


def last_json(t, text, what):
    lines = [ln for ln in text.split("\n") if ln.strip().startswith("{")]
    t.check(lines, "%s: no JSON line in %r" % (what, shorten(text)))
    try:
        return json.loads(lines[-1])
    except ValueError as e:
        raise Fail("%s: bad JSON line (%s): %r" % (what, e, shorten(lines[-1])))


def start_canary_process(uid):
    """A process (sleep) running as uid that kill(-1) with that uid would reach."""
    def demote():
        if os.geteuid() == 0 and uid != 0:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
    return subprocess.Popen(["sleep", "120"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=demote, start_new_session=True)


def stop_process(p):
    try:
        os.kill(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass
