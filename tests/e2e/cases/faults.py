"""Fault injection, storage and processes (issue 17; docs/TESTING.md, "Fault injection").

Each case breaks something under a running server and checks that the run it hits gets a clear
error (or succeeds), never a hang, a crash or a wrong verdict, and that the server is healthy
afterwards: /healthz answers and a normal run gives the right output.

- faults.state_disk_full: the state directory is a small tmpfs of the case's own (mounted in a
  mount namespace of the server's own: `unshare --mount` as root; rootless, a user namespace
  mapping the user to root mounts it and a second one maps root back to the user, so that the
  server runs as itself) filled up to a few MiB: unpacking the root filesystem fails with
  `unavailable` naming "No space left on device", nothing of the half-unpacked tree is left or
  used, and once the space is freed the next run unpacks and runs;
- faults.corrupt_tarball: a tarball whose bytes do not match its .sha256 is refused with that
  reason; putting the good one back is enough (no reload: a failed unpack is not remembered);
- faults.truncated_tarball: a tarball cut in half with a .sha256 that matches it: tar fails,
  the half-unpacked tree is removed, nothing is used; the good tarball and .sha256 put back run;
- faults.prep_killed_idle: the sandbox preparer (runcell-prep, the server's child) is killed
  with SIGKILL while nothing runs (its prepared sandbox dies with it): the next runs succeed,
  prepared in-process;
- faults.prep_killed_busy: the same while four runs are going: each of them either succeeds
  with its whole output or ends `internal_error` with a message, and later runs succeed;
- faults.init_killed: the init of a running sandbox (pid 1 of its pid namespace, found from the
  host through the program's parent) is killed with SIGKILL during a 30 s sleep: the run ends at
  once with `internal_error` ("sandbox ended before the program did"), never `ok`.

Every case runs its own server on a copy of the bash toolchain (root filesystem "base").
"""

import hashlib
import json
import os
import shutil
import signal
import threading
import time

import server_util as su
from harness import Fail, case

HELLO_SRC = 'echo "Hello from bash"'
HELLO = "Hello from bash\n"
MiB = 1 << 20


# ------------------------------------------------------------------ set-up
def toolchains_src(t):
    d = os.environ.get("RUNCELL_TOOLCHAINS") or os.path.join(
        os.path.dirname(os.path.dirname(t.suite.bin)), "toolchains")
    if not os.path.isfile(os.path.join(d, "bash.json")):
        raise Fail("no bash.json in the toolchains directory %s" % d)
    return d


def rootfs_src():
    return os.environ.get("RUNCELL_ROOTFS_DIR") or "/var/cache/runcell/rootfs"


def only_bash(t):
    """A toolchains directory holding bash.json alone."""
    d = t.tmpdir()
    shutil.copy(os.path.join(toolchains_src(t), "bash.json"), os.path.join(d, "bash.json"))
    os.chmod(os.path.join(d, "bash.json"), 0o644)
    return d


def own_rootfs(t):
    """A rootfs directory of the case's own with a copy of base (tarball, .sha256, manifest)."""
    d = t.tmpdir()
    for ext in (".tar.zst", ".tar.zst.sha256", ".manifest", ".key"):
        src = os.path.join(rootfs_src(), "base" + ext)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(d, "base" + ext))
            os.chmod(os.path.join(d, "base" + ext), 0o644)
    return d


def put_file(path, data):
    """Write path whole, renamed in (a reader never sees half of it)."""
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def server(t, *args, toolchains=None, rootfs=None, state=None, wrap=None):
    """su.Server with its own directories (no periodic rescan) and an optional command that
    execs it (wrap: argv prefix)."""
    cfg = su.write_config(t, {"rescan_interval_s": 0})
    srv = su.Server(t, "--config", cfg, *args)
    glob = []
    if toolchains:
        glob += ["--toolchains", toolchains]
    if rootfs:
        glob += ["--rootfs-dir", rootfs]
    if state:
        glob += ["--state-dir", state]
    srv.cmd = list(wrap or []) + [srv.cmd[0]] + glob + srv.cmd[1:]
    return srv


# ------------------------------------------------------------------ runs
def run(t, srv, source, timeout=60, wall_ms=None):
    """POST /api/v1/run of a bash source; wall_ms: its wall-time limit (a loaded machine slows
    a sleep's start and end down: a run that sleeps has room, so that its verdict is ours)."""
    body = {"language": "bash", "source": source}
    if wall_ms:
        body["limits"] = {"wall_ms": wall_ms}
    return su.http_req(t, srv, "POST", "/api/v1/run", body=body, timeout=timeout)


def check_ok(t, r, stdout, what):
    t.eq(r.status, 200, "%s: HTTP status (%r)" % (what, r))
    t.eq(r.json["run"]["status"], "ok", "%s: run status (%r)" % (what, r))
    t.eq(r.json["run"]["stdout"], stdout, "%s: stdout" % what)


def check_unavailable(t, r, must_contain, what):
    """The run refused 503 `unavailable` with a message naming must_contain; the message."""
    e = su.check_http_error(t, r, 503, "unavailable", what)
    for s in must_contain:
        t.contains(e["message"], s, "%s: the error message" % what)
    return e["message"]


def healthy(t, srv, what):
    """The server is up, /healthz answers 200, and a normal run gives the right output."""
    srv.check_alive()
    r = su.http_req(t, srv, "GET", "/healthz")
    t.eq(r.status, 200, "%s: GET /healthz" % what)
    check_ok(t, run(t, srv, HELLO_SRC), HELLO, "%s: a normal run" % what)


def run_in_thread(t, srv, source, timeout=60, wall_ms=None):
    """POST the run from a thread; returns (thread, box) with box["r"] the Resp (or box["e"])."""
    box = {}

    def go():
        try:
            box["r"] = run(t, srv, source, timeout=timeout, wall_ms=wall_ms)
        except Exception as e:  # noqa: BLE001: reported by the case
            box["e"] = e
    th = threading.Thread(target=go, daemon=True)
    th.start()
    return th, box


def joined(t, th, box, timeout, what):
    th.join(timeout)
    if th.is_alive():
        raise Fail("%s: no answer within %.0fs" % (what, timeout))
    if "e" in box:
        raise box["e"]
    return box["r"]


# ------------------------------------------------------------------ processes
def children(pid):
    """Pids of the children of every thread of pid."""
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def proc_field(pid, name):
    """A field of /proc/PID/status (None once the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def gone(pid):
    """The process has exited (a zombie or reaped)."""
    st = proc_field(pid, "State")
    return st is None or st.startswith("Z") or st.startswith("X")


def wait_gone(t, pids, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not all(gone(p) for p in pids):
        if time.monotonic() > deadline:
            raise Fail("%s: still there after %.0fs: %r" % (what, timeout,
                                                             [p for p in pids if not gone(p)]))
        time.sleep(0.05)


def prep_helper(t, srv):
    """The pid of the server's sandbox preparer (its child named runcell-prep)."""
    found = [c for c in children(srv.proc.pid) if comm(c) == "runcell-prep"]
    t.check(len(found) == 1, "the server (pid %d) has one runcell-prep child: children %r"
            % (srv.proc.pid, [(c, comm(c)) for c in children(srv.proc.pid)]))
    return found[0]


def find_cmdline(argv, timeout, what):
    """Pids of the processes whose command line is exactly argv (waits until there is one)."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if f.read() == want:
                        found.append(int(name))
            except OSError:
                pass
        if found:
            return found
        if time.monotonic() > deadline:
            raise Fail("%s: no process %r within %.0fs" % (what, argv, timeout))
        time.sleep(0.05)


def ppid(pid):
    v = proc_field(pid, "PPid")
    return int(v) if v else None


def zombies_of(pid):
    return [c for c in children(pid) if (proc_field(c, "State") or "").startswith("Z")]


# ================================================================== storage
def tmpfs_wrap(t, mountpoint, size_mb):
    """argv prefix that runs a command in a mount namespace of its own with a tmpfs of
    size_mb MiB on mountpoint, as the caller's own user (rootless: through two user
    namespaces: the first maps the user to root, who mounts; the second maps root back)."""
    for tool in ("unshare", "mount", "sh"):
        if not shutil.which(tool):
            t.skip("%s not found" % tool)
    mount = ('mount -t tmpfs -o size=%dm,mode=0755 runcell-faults "$0"' % size_mb)
    if os.geteuid() == 0:
        return ["unshare", "--mount", "--propagation", "private", "--",
                "sh", "-c", mount + ' && exec "$@"', mountpoint]
    return ["unshare", "--map-root-user", "--mount", "--propagation", "private", "--",
            "sh", "-c", mount + ' && exec unshare --map-user=%d --map-group=%d -- "$@"'
            % (os.geteuid(), os.getegid()), mountpoint]


def probe_wrap(t, wrap, mountpoint):
    """The wrap works here: `id -u` in it is the caller's, on a tmpfs. Rootless, a host that
    refuses the nested user namespaces (or a tmpfs in them) skips the case, saying so."""
    r = t.exec(list(wrap) + ["sh", "-c", 'id -u; stat -f -c %T "$0"', mountpoint], timeout=30)
    if r.rc != 0 or r.stdout.split() != [str(os.geteuid()), "tmpfs"]:
        why = "a tmpfs in a mount namespace of the server's own: %s (rc %r): %s" % (
            " ".join(wrap[:6]), r.rc, (r.stderr.strip() or r.stdout.strip())[:300])
        if os.geteuid() == 0:
            raise Fail(why)
        t.skip("this host refuses " + why)


def unpack_leftovers(rootfs_state):
    """Entries of STATE/rootfs other than the lock and the empty layer."""
    try:
        names = os.listdir(rootfs_state)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n not in (".lock", ".empty"))


def base_sha(rootfs_dir):
    with open(os.path.join(rootfs_dir, "base.tar.zst.sha256")) as f:
        return f.read().split()[0].lower()


@case("faults.state_disk_full", lang="bash")
def state_disk_full(t):
    d = t.tmpdir()
    state = os.path.join(d, "state")
    os.mkdir(state, 0o755)
    wrap = tmpfs_wrap(t, state, 160)
    probe_wrap(t, wrap, state)
    sha = base_sha(rootfs_src())
    with server(t, toolchains=only_bash(t), state=state, wrap=wrap) as srv:
        # the server's view of its state directory: the tmpfs, seen through its root
        view = "/proc/%d/root%s" % (srv.proc.pid, state)
        st = os.statvfs(view)
        t.check(st.f_blocks * st.f_frsize == 160 * MiB,
                "the state directory is the 160 MiB tmpfs: %d bytes" % (st.f_blocks * st.f_frsize))
        filler = os.path.join(view, "filler")
        left = st.f_bavail * st.f_frsize - 4 * MiB
        t.check(left > 0, "room for the filler: %d bytes free" % (st.f_bavail * st.f_frsize))
        chunk = b"\0" * MiB
        with open(filler, "wb") as f:
            while left > 0:
                f.write(chunk[:min(left, MiB)])
                left -= MiB
        for attempt in (1, 2):
            r = run(t, srv, HELLO_SRC)
            msg = check_unavailable(t, r, ["unpack root filesystem 'base'",
                                           "No space left on device"],
                                    "a run with the state directory full (attempt %d)" % attempt)
            t.eq(unpack_leftovers(os.path.join(view, "rootfs")), [],
                 "what the failed unpack left in the state directory's rootfs/")
        t.note("the refusal: %s" % msg)
        srv.check_alive()
        t.eq(su.http_req(t, srv, "GET", "/healthz").status, 200, "GET /healthz while full")
        os.unlink(filler)
        check_ok(t, run(t, srv, HELLO_SRC), HELLO, "the first run once space is freed")
        t.eq(unpack_leftovers(os.path.join(view, "rootfs")), [sha],
             "the state directory's rootfs/ holds the unpacked tree alone")
        t.check(os.path.exists(os.path.join(view, "rootfs", sha, ".runcell-ready")),
                "the unpacked tree is marked ready")
        healthy(t, srv, "after the disk was full")


def tarball_case(t, break_it, must_contain):
    """A server on a rootfs directory of the case's own whose base tarball break_it(rootfs)
    spoils: runs are refused with must_contain, nothing is left unpacked; the good tarball put
    back (no reload, no signal) runs."""
    rootfs = own_rootfs(t)
    state = t.tmpdir()
    tar = os.path.join(rootfs, "base.tar.zst")
    with open(tar, "rb") as f:
        good = f.read()
    with open(tar + ".sha256", "rb") as f:
        good_sha = f.read()
    break_it(rootfs, good)
    with server(t, toolchains=only_bash(t), rootfs=rootfs, state=state) as srv:
        langs = {e["name"]: e for e in su.http_req(t, srv, "GET", "/api/v1/languages").json}
        t.eq(langs["bash"]["ready"], True, "bash is listed ready (its tarball is there)")
        for attempt in (1, 2):
            r = run(t, srv, HELLO_SRC)
            msg = check_unavailable(t, r, ["root filesystem 'base'"] + must_contain,
                                    "a run on the broken tarball (attempt %d)" % attempt)
            t.eq(unpack_leftovers(os.path.join(state, "rootfs")), [],
                 "what the failed unpack left in the state directory's rootfs/")
        t.note("the refusal: %s" % msg)
        srv.check_alive()
        # the good one back: tarball first, then its .sha256 (as build-rootfs renames them)
        put_file(tar, good)
        put_file(tar + ".sha256", good_sha)
        check_ok(t, run(t, srv, HELLO_SRC), HELLO, "the first run on the good tarball")
        t.eq(unpack_leftovers(os.path.join(state, "rootfs")),
             [good_sha.split()[0].decode().lower()],
             "the state directory's rootfs/ holds the unpacked tree alone")
        healthy(t, srv, "after the broken tarball")


@case("faults.corrupt_tarball", lang="bash")
def corrupt_tarball(t):
    def corrupt(rootfs, good):
        bad = bytearray(good)
        mid = len(bad) // 2
        bad[mid:mid + 4096] = bytes(b ^ 0x5a for b in bad[mid:mid + 4096])
        put_file(os.path.join(rootfs, "base.tar.zst"), bytes(bad))
    tarball_case(t, corrupt, ["does not match its .sha256"])


@case("faults.truncated_tarball", lang="bash")
def truncated_tarball(t):
    def truncate(rootfs, good):
        half = good[:len(good) // 2]
        tar = os.path.join(rootfs, "base.tar.zst")
        put_file(tar, half)
        put_file(tar + ".sha256", ("%s  %s\n" % (hashlib.sha256(half).hexdigest(),
                                                 tar)).encode())
    tarball_case(t, truncate, ["unpack root filesystem", "tar"])


# ================================================================== processes
def sandboxes_of(t, helper, n, what, timeout=10.0):
    """Waits until the helper has at least n children (sandboxes' inits); returns them."""
    deadline = time.monotonic() + timeout
    while True:
        kids = children(helper)
        if len(kids) >= n:
            return kids
        if time.monotonic() > deadline:
            raise Fail("%s: the preparer (pid %d) has %d sandboxes, not %d, after %.0fs"
                       % (what, helper, len(kids), n, timeout))
        time.sleep(0.05)


def kill_helper(t, srv, all_die):
    """SIGKILL to the server's preparer. Its sandboxes die with it (PR_SET_PDEATHSIG), all of
    them when all_die (nothing is being made); one it was making may outlive it (killed between
    its GO and the child's PR_SET_PDEATHSIG again as the sandbox's root): handed to the server
    already, it stays the server's, to be used or dropped."""
    helper = prep_helper(t, srv)
    inits = children(helper)
    os.kill(helper, signal.SIGKILL)
    wait_gone(t, [helper], "the killed preparer")
    if all_die:
        wait_gone(t, inits, "the preparer's sandboxes")
    else:
        time.sleep(0.5)
    t.note("killed the preparer %d; of its sandboxes %r, still there: %r"
           % (helper, inits, [p for p in inits if not gone(p)]))
    return helper


def reaped(t, srv, helper, what, timeout=5.0):
    """The server reaps its dead helper: no zombie is left among its children."""
    deadline = time.monotonic() + timeout
    while helper in zombies_of(srv.proc.pid):
        if time.monotonic() > deadline:
            raise Fail("%s: the dead preparer %d is still a zombie of the server after %.0fs"
                       % (what, helper, timeout))
        time.sleep(0.05)


@case("faults.prep_killed_idle", lang="bash")
def prep_killed_idle(t):
    with server(t, toolchains=only_bash(t)) as srv:
        check_ok(t, run(t, srv, HELLO_SRC), HELLO, "a run before")
        # the pool's next sandbox, made by the helper after that run
        sandboxes_of(t, prep_helper(t, srv), 1, "the pool's sandbox")
        time.sleep(0.3)  # done with its set-up: waiting for a request
        helper = kill_helper(t, srv, True)
        for i in range(3):
            check_ok(t, run(t, srv, 'echo "run %d"' % i), "run %d\n" % i,
                     "run %d after the preparer was killed" % i)
        reaped(t, srv, helper, "after the runs")
        healthy(t, srv, "after the preparer was killed")


@case("faults.prep_killed_busy", lang="bash")
def prep_killed_busy(t):
    n = 4
    with server(t, "--max-concurrent", str(n), toolchains=only_bash(t)) as srv:
        check_ok(t, run(t, srv, HELLO_SRC), HELLO, "a run before")
        tag = "%03d%03d" % (os.getpid() % 1000, int(time.monotonic() * 1000) % 1000)
        src = 'echo start; sleep 2.%s; echo end' % tag
        going = [run_in_thread(t, srv, src, wall_ms=30000) for _ in range(n)]
        find_cmdline(["sleep", "2.%s" % tag], 10, "the runs' programs")
        time.sleep(0.2)  # the other runs' programs start too
        helper = kill_helper(t, srv, False)
        statuses = []
        for i, (th, box) in enumerate(going):
            r = joined(t, th, box, 30, "run %d going while the preparer was killed" % i)
            t.eq(r.status, 200, "run %d: HTTP status (%r)" % (i, r))
            st = r.json["run"]
            statuses.append(st["status"])
            if st["status"] == "ok":
                t.eq(st["stdout"], "start\nend\n", "run %d (ok): its whole output" % i)
            elif st["status"] == "internal_error":
                t.check(st.get("error"), "run %d: internal_error with a message: %r" % (i, st))
            else:
                raise Fail("run %d going while the preparer was killed: status %r, expected ok "
                           "or internal_error: %r" % (i, st["status"], st))
        t.note("the runs going: %r" % statuses)
        for i in range(3):
            check_ok(t, run(t, srv, 'echo "run %d"' % i), "run %d\n" % i,
                     "run %d after the preparer was killed" % i)
        reaped(t, srv, helper, "after the runs")
        healthy(t, srv, "after the preparer was killed under load")


@case("faults.init_killed", lang="bash")
def init_killed(t):
    with server(t, toolchains=only_bash(t)) as srv:
        tag = "%03d%03d" % (os.getpid() % 1000, int(time.monotonic() * 1000) % 1000)
        th, box = run_in_thread(t, srv, 'echo started; sleep 30.%s; echo "not reached"' % tag,
                                wall_ms=60000)
        [sleep] = find_cmdline(["sleep", "30.%s" % tag], 10, "the run's sleep")
        program = ppid(sleep)  # bash running main.sh, pid 2 of the sandbox
        init = ppid(program)
        nspid = (proc_field(init, "NSpid") or "").split()
        t.check(len(nspid) >= 2 and nspid[-1] == "1",
                "the sleep's grandparent %d is a sandbox's init (pid 1 of its namespace): "
                "NSpid %r" % (init, nspid))
        t0 = time.monotonic()
        os.kill(init, signal.SIGKILL)
        r = joined(t, th, box, 20, "the run whose init was killed")
        took = time.monotonic() - t0
        t.eq(r.status, 200, "the run whose init was killed: HTTP status (%r)" % r)
        st = r.json["run"]
        t.note("the run whose init was killed: %s, answered %.2fs after the kill"
               % (json.dumps(st)[:400], took))
        # promptly: not the 30 s of its sleep (10 s: room for a loaded machine)
        t.check(took < 10, "the run ended promptly: %.1fs after its init was killed" % took)
        t.eq(st["status"], "internal_error", "the run's status (its sandbox was killed)")
        t.contains(st.get("error", ""), "sandbox ended before the program did", "the error")
        t.check("not reached" not in st["stdout"], "the program did not go on: %r"
                % st["stdout"])
        wait_gone(t, [sleep, program, init], "the killed sandbox's processes")
        healthy(t, srv, "after a sandbox's init was killed")

