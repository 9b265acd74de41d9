"""runcell warm (src/job/warm.h, src/cli/warm_run.h): sandboxes and a worker prepared before
`runcell run` asks.

Each case starts its own `runcell warm` on a state directory of its own (the suite's cases run
in parallel: a warm on the shared one would serve their commands too), with root's unpacked root
filesystems shared read-only (RUNCELL_SHARED_STATE_DIR), and stops it at the end. What they show:
a command is handed over and gets a sandbox made ahead; every outcome (output, summary line, exit
status, verdicts, JSON, stdin in its forms, errors) is the same as the command's own; a signal
to the command kills its run; a command killed takes its run down; the command's output ends
when the command exits (the worker keeps no copy of its stdio); what is not handed over
(--outputs-dir) borrows a sandbox; a changed toolchain is seen by the next command; a command
with other directories is not handed over; a second warm is refused; --idle ends it; SIGTERM
leaves no socket, no cgroup leaf and no process behind."""

import json
import os
import re
import select
import signal
import subprocess
import time

from harness import TOOLCHAINS_DIR, Fail, case, own_cgroup_dirs

SHARED = "/var/lib/runcell"
MARK_SLEEP = "import time, sys\nprint('up', flush=True)\ntime.sleep(30)\n"


class Warm:
    """A runcell warm of the case's own: its state directory, its log."""

    def __init__(self, t, *args, toolchains=None):
        self.t = t
        self.state = t.tmpdir()
        self.glob = ["--state-dir", self.state] + (["--toolchains", toolchains] if toolchains else [])
        self.env = {"RUNCELL_SHARED_STATE_DIR": SHARED}
        self.sock = os.path.join(self.state, "warm.sock")
        self.log = os.path.join(t.tmpdir(), "warm.log")
        env = t.base_env(self.env)
        with open(self.log, "wb") as logf:
            self.p = subprocess.Popen([t.suite.bin] + self.glob + ["warm"] + list(args),
                                      stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                      env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.p.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Fail("runcell warm did not listen: %s" % self.text())
            time.sleep(0.05)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def run(self, *args, env=None, trace=False, stdin_data=None, timeout=None):
        e = dict(self.env)
        if trace:
            e["RUNCELL_TRACE"] = "1"
        e.update(env or {})
        return self.t.runcell(*(self.glob + ["run"] + list(args)), env=e, stdin_data=stdin_data,
                              timeout=timeout)

    def popen(self, *args, env=None):
        return subprocess.Popen([self.t.suite.bin] + self.glob + ["run"] + list(args),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=self.t.base_env(dict(self.env, **(env or {}))),
                                start_new_session=True)

    def stop(self):
        """SIGTERM; its exit status and log."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise Fail("runcell warm did not exit within 30 s of SIGTERM: %s" % self.text())
        return self.p.returncode, self.text()


def warm_case(name):
    """A case with a Warm started for it and always stopped."""
    def deco(fn):
        def run(t):
            w = Warm(t)
            try:
                fn(t, w)
            finally:
                w.stop()
        return case(name, lang="python")(run)
    return deco


def toolchains_copy(t):
    """A directory of the case's own with the suite's toolchain files."""
    tcd = t.tmpdir()
    for n in os.listdir(TOOLCHAINS_DIR):
        if n.endswith(".json"):
            with open(os.path.join(TOOLCHAINS_DIR, n)) as f:
                t.write(tcd, n, f.read())
    return tcd


def write_py(t, source, name="main.py"):
    return t.write(t.tmpdir(), name, source)


def handed_over(r):
    return ("runcell: trace: runcell warm: handed over" in r.stderr and
            "runcell warm: declined" not in r.stderr)


def untraced(text):
    return "\n".join(ln for ln in text.split("\n") if "runcell: trace:" not in ln)


def normalized(text):
    """The summary lines without what differs from run to run (times, memory)."""
    text = re.sub(r"\d+ ms", "N ms", untraced(text))
    return re.sub(r"\d+ KiB", "N KiB", text)


def program_gone(t, marker, within=10.0):
    """No process whose command line names marker (the program's file) within `within` s."""
    deadline = time.monotonic() + within
    while True:
        left = [p for p in os.listdir("/proc") if p.isdigit() and marker_in(p, marker)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise Fail("the program (%s) still runs: pids %s" % (marker, left))
        time.sleep(0.1)


def marker_in(pid, marker):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


@warm_case("warm.handover")
def handover(t, w):
    src = write_py(t, "print('hello from warm')\n")
    first = w.run(src, trace=True)
    t.eq(first.rc, 0, "exit status: %s" % first.stderr)
    t.eq(first.stdout, "hello from warm\n", "stdout")
    t.check(handed_over(first), "the command was handed over: %s" % first.stderr)
    t.contains(first.stderr, "runcell: run: ok (exit 0", "the summary line")
    # the next worker was forked with the sandbox made for the first command's kind of run
    deadline = time.monotonic() + 15
    while True:
        r = w.run(src, trace=True)
        t.eq(r.stdout, "hello from warm\n", "stdout, again")
        if "sandbox held ahead" in r.stderr:
            break
        if time.monotonic() > deadline:
            raise Fail("no command got a sandbox made ahead within 15 s: %s" % r.stderr)
        time.sleep(0.5)
    rc, log = w.stop()
    t.eq(rc, 0, "runcell warm's exit status")
    m = re.search(r"(\d+) sandboxes lent, (\d+) of them ready ahead", log)
    t.check(m and int(m.group(1)) >= 2 and int(m.group(2)) >= 1,
            "its last line counts the sandboxes lent: %s" % log[-500:])


def read_until(fd, text, have, within):
    """Read fd (a pipe) onto have (bytes) until text shows in it; what was read in all."""
    deadline = time.monotonic() + within
    while text.encode() not in have:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise Fail("no %r within %.0f s: %r" % (text, within, have))
        chunk = os.read(fd, 65536)
        if not chunk:
            raise Fail("end of output before %r: %r" % (text, have))
        have += chunk
    return have


def pipe_holders(inodes, but):
    """Pids (other than but) holding a pipe whose inode is in inodes."""
    names = {"pipe:[%d]" % i for i in inodes}
    held = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == but:
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) in names:
                    held.add(int(pid))
        except OSError:
            continue
    return held


@warm_case("warm.output_ends_with_command")
def output_ends_with_command(t, w):
    """A caller reading the command's output to its end (a pipe, $(...)) has it all once the
    command exits: the worker lets go of the command's stdout and stderr before it answers,
    so that its own end (the sandbox let go, its exit) is not waited for. Shown with the command
    stopped before the answer: within 0.15 s of the summary line nothing but the command holds
    its stdout or stderr (the worker, waiting for the command's end, would hold a copy it kept
    for 0.2 s: WARM_PEER_WAIT_MS)."""
    src = write_py(t, "import sys, time\ntime.sleep(1)\nprint('out')\n"
                      "print('err', file=sys.stderr)\n")
    p = w.popen(src, env={"RUNCELL_TRACE": "1"})
    err = b""
    try:
        efd = p.stderr.fileno()
        err = read_until(efd, "runcell: trace: runcell warm: handed over", err, 30)
        p.send_signal(signal.SIGSTOP)  # waiting for the answer: it stays stopped past it
        err = read_until(efd, "runcell: run: ", err, 30)
        inodes = {os.fstat(p.stdout.fileno()).st_ino, os.fstat(efd).st_ino}
        deadline = time.monotonic() + 0.15
        while True:
            held = pipe_holders(inodes, p.pid)
            if not held:
                break
            if time.monotonic() > deadline:
                raise Fail("0.15 s after the summary line, pids %s (not the command) still hold "
                           "its stdout or stderr" % sorted(held))
            time.sleep(0.01)
    finally:
        p.send_signal(signal.SIGCONT)
        out, rest = p.communicate(timeout=60)
    err = (err + rest).decode(errors="replace")
    t.eq(p.returncode, 0, "exit status: %s" % err)
    t.eq(out.decode(errors="replace"), "out\n", "stdout")
    t.contains(err, "err\n", "the program's stderr")
    t.contains(err, "runcell: run: ok (exit 0", "the summary line")


# (name, run arguments, stdin, a file whose contents go in as the first file) for the
# comparison with the command's own sandbox
ASK = "import sys\nname = input()\nprint('hi', name, sys.argv[1:])\nsys.exit(3)\n"


@warm_case("warm.same_as_own_sandbox")
def same_as_own(t, w):
    d = t.tmpdir()
    ask = t.write(d, "ask.py", ASK)
    stdin_file = t.write(d, "in.txt", "Cy\n")
    big = t.write(d, "big.py", "x = bytearray(300 << 20)\nprint(len(x))\n")
    loud = t.write(d, "loud.py", "print('y' * 100000)\n")
    slow = t.write(d, "slow.py", "import time\ntime.sleep(10)\n")
    env_py = t.write(d, "env.py", "import os, sys\nprint(sorted(os.environ))\n"
                     "print(os.getcwd(), sys.stdin.read())\n")
    scenarios = [
        ("stdin, args, exit status", [ask, "--", "x", "y"], b"Ada\n"),
        ("--stdin FILE", ["--stdin", stdin_file, ask], None),
        ("a file read from stdin", ["--lang", "python", "-"], b"print(6 * 7)\n"),
        ("--json", ["--json", ask], b"Bob\n"),
        ("memory limit", ["--memory-mb", "64", big], None),
        ("output limit", ["--output-bytes", "1000", loud], None),
        ("wall-clock limit", ["--wall-ms", "700", slow], None),
        ("environment, cwd, stdin", [env_py], b"from stdin"),
        ("unknown language", ["--lang", "klingon", ask], None),
        ("missing file", [os.path.join(d, "nope.py")], None),
        ("a directory", [d], None),
    ]
    for what, args, stdin in scenarios:
        own = w.run("--no-warm", *args, stdin_data=stdin)
        warm = w.run(*args, stdin_data=stdin, trace=True)
        t.eq(warm.rc, own.rc, "%s: exit status (own sandbox: %s; warm: %s)" % (
            what, own.stderr, warm.stderr))
        if args[0] == "--json":
            a, b = json.loads(own.stdout), json.loads(warm.stdout)
            for k in ("wall_ms", "cpu_ms", "memory_kb"):
                a["run"].pop(k, None)
                b["run"].pop(k, None)
            t.eq(b, a, "%s: the JSON" % what)
        else:
            t.eq(warm.stdout, own.stdout, "%s: stdout" % what)
        a, b = normalized(own.stderr), normalized(warm.stderr)
        if what == "output limit":
            # whether the program was still writing when the limit killed it is a race
            a, b = (re.sub(r"\((signal \w+|exit -?\d+), ", "(", x) for x in (a, b))
        t.check(b == a, "%s: stderr: %r (own sandbox: %r)" % (what, b.split("\n")[1:],
                                                           a.split("\n")[1:]))
        # a file that cannot be opened is the command's to report: not handed over
        opened = what not in ("missing file", "a directory")
        t.eq(handed_over(warm), opened, "%s: handed over" % what)
    # a pipe given as a file (<(...))
    for flag in ("--no-warm", None):
        r = subprocess.run(["bash", "-c", '"$0" "$@" <(printf "print(6*7)\\n")', t.suite.bin] +
                           w.glob + ["run", "--lang", "python"] + ([flag] if flag else []),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=t.base_env(w.env), timeout=60)
        t.eq((r.returncode, r.stdout), (0, "42\n"), "a file that is a pipe (%s): %s" % (
            flag or "warm", r.stderr))


@warm_case("warm.signal_kills_run")
def signal_kills(t, w):
    src = t.write(t.tmpdir(), "warm_sigint_%d.py" % os.getpid(), MARK_SLEEP)
    p = w.popen(src)
    t.eq(p.stdout.readline(), b"up\n", "the program started")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    t.eq(p.returncode, 130, "exit status after SIGINT: %r" % err)
    t.contains(err.decode(), "runcell: run: killed", "the summary says killed")
    program_gone(t, os.path.basename(src))


@warm_case("warm.command_killed")
def command_killed(t, w):
    src = t.write(t.tmpdir(), "warm_sigkill_%d.py" % os.getpid(), MARK_SLEEP)
    p = w.popen(src)
    t.eq(p.stdout.readline(), b"up\n", "the program started")
    p.kill()
    p.wait(timeout=30)
    program_gone(t, os.path.basename(src))
    r = w.run(write_py(t, "print('next')\n"))
    t.eq((r.rc, r.stdout), (0, "next\n"), "the next command: %s" % r.stderr)


@warm_case("warm.borrowed_sandbox")
def borrowed(t, w):
    d = t.tmpdir()
    src = t.write(d, "out.py", "open('result.txt', 'w').write('made in the sandbox')\n")
    out = os.path.join(d, "outs")
    r = w.run("--outputs", "*.txt", "--outputs-dir", out, src, trace=True)
    t.eq(r.rc, 0, "exit status: %s" % r.stderr)
    t.check(not handed_over(r), "--outputs-dir is not handed over")
    t.contains(r.stderr, "runcell: trace: runcell warm: connected", "it borrows a sandbox")
    with open(os.path.join(out, "result.txt")) as f:
        t.eq(f.read(), "made in the sandbox", "the output file")


@case("warm.toolchain_change_seen", lang="python")
def toolchain_change(t):
    tcd = toolchains_copy(t)
    w = Warm(t, toolchains=tcd)
    try:
        src = write_py(t, "import os\nprint(os.environ.get('RC_WARM_MARK', 'none'))\n")
        r = w.run(src, trace=True)
        t.eq((r.rc, r.stdout), (0, "none\n"), "before: %s" % r.stderr)
        t.check(handed_over(r), "handed over")
        # every version of python (the newest built one runs)
        for n in sorted(os.listdir(tcd)):
            with open(os.path.join(tcd, n)) as f:
                tc = json.load(f)
            if tc.get("name") != "python":
                continue
            tc.setdefault("env", {})["RC_WARM_MARK"] = "changed"
            tmp = os.path.join(tcd, "." + n + ".tmp")
            with open(tmp, "w") as f:
                json.dump(tc, f)
            os.rename(tmp, os.path.join(tcd, n))
        deadline = time.monotonic() + 10
        while True:
            r = w.run(src, trace=True)
            if r.stdout == "changed\n" and handed_over(r):
                break
            if time.monotonic() > deadline:
                raise Fail("the changed toolchain was not seen within 10 s: %r %s" % (
                    r.stdout, r.stderr))
            time.sleep(0.3)
    finally:
        w.stop()


@warm_case("warm.other_directories_not_handed_over")
def other_dirs(t, w):
    tcd = toolchains_copy(t)
    src = write_py(t, "print('mine')\n")
    r = t.runcell("--toolchains", tcd, *w.glob, "run", src, env=dict(w.env, RUNCELL_TRACE="1"))
    t.eq((r.rc, r.stdout), (0, "mine\n"), "output: %s" % r.stderr)
    t.check(not handed_over(r), "a command with another toolchain directory is not handed over")


@case("warm.second_refused_idle_exit_clean", lang="python")
def lifecycle(t):
    w = Warm(t, "--idle", "2")
    try:
        r = t.runcell(*w.glob, "warm", env=w.env, timeout=30)
        t.eq(r.rc, 1, "a second runcell warm on the same state directory")
        t.contains(r.stderr, "another runcell warm serves", "its message")
        src = write_py(t, "print('once')\n")
        r = w.run(src)
        t.eq((r.rc, r.stdout), (0, "once\n"), "a run: %s" % r.stderr)
        pid = w.p.pid
        try:
            w.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise Fail("runcell warm --idle 2 still runs 20 s later: %s" % w.text())
        t.eq(w.p.returncode, 0, "exit status after the idle time")
        t.contains(w.text(), "idle for 2 s", "its log says why")
        t.check(not os.path.exists(w.sock), "the socket is removed")
        left = []
        for d in own_cgroup_dirs():
            left += [n for n in os.listdir(d) if n.startswith("rc-%d-" % pid)]
        t.eq(left, [], "its cgroup leaves")
        r = w.run(src)
        t.eq((r.rc, r.stdout), (0, "once\n"), "a run with no warm there: %s" % r.stderr)
    finally:
        w.stop()
