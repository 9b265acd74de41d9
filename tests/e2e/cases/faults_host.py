"""Fault injection, the host's side (issue 17; docs/TESTING.md, "Fault injection", "Host
faults"): what a running `runcell serve` does when the host changes under it.

- cgroups removed: the empty leaves runcell keeps for later sandboxes (v1), and the whole
  cgroup runcell makes its leaves in (moved out of and removed, as an administrator could);
- the limits of the cgroup above runcell's leaves lowered below what a run asks for;
- a low RLIMIT_NOFILE and more clients than it allows (EMFILE);
- the realtime clock jumping forward and backward (libfaketime in runcell-serve, monotonic
  clocks untouched; the host's clock is never changed).

Each case ends by checking that the server is alive and serves a normal run (or, while the
fault lasts, says why it cannot). The cgroup cases work in a cgroup of their own, made beneath
the test runner's (the delegated subtree of tests/run-e2e), and touch nothing else.
"""

import concurrent.futures
import json
import os
import re
import socket
import subprocess
import time

import server_util as su
from harness import Fail, case, expect_stage, own_cgroup_dirs, shorten

HELLO = "print(6 * 7)\n"
ALLOC = ("import sys\nb = bytearray(%d << 20)\nfor i in range(0, len(b), 4096):\n"
         "    b[i] = 1\nprint('allocated', len(b) >> 20)\n")
FORKS = ("import os, errno\nok = err = 0\nkids = []\nfor _ in range(20):\n"
         "    try:\n        pid = os.fork()\n    except OSError as e:\n"
         "        err += 1\n        continue\n    if pid == 0:\n"
         "        import time; time.sleep(0.5); os._exit(0)\n    ok += 1\n    kids.append(pid)\n"
         "for k in kids:\n    os.waitpid(k, 0)\nprint('forked', ok, 'failed', err)\n")
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def run(t, srv, source=HELLO, language="python", limits=None, timeout=60):
    body = {"language": language, "source": source}
    if limits:
        body["limits"] = limits
    r = su.http_req(t, srv, "POST", "/api/v1/run", body, timeout=timeout)
    return r


def run_retry(t, srv, limits=None, timeout=60):
    """run(), again while the server answers 503 too_many_connections (at a cap of one
    connection, the last one may not be freed yet): the first other answer."""
    deadline = time.monotonic() + 10
    while True:
        try:
            r = run(t, srv, limits=limits, timeout=timeout)
        except Fail as e:  # refused at accept while the request was still being sent
            if not ("BrokenPipe" in str(e) or "ConnectionReset" in str(e)) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        if r.status != 503 or time.monotonic() > deadline:
            return r
        t.check((r.json or {}).get("error", {}).get("code") == "too_many_connections",
                "a 503 says why: %r" % r)
        time.sleep(0.1)


def run_ok(t, srv, what):
    r = run(t, srv)
    t.eq(r.status, 200, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    expect_stage(t, r.json["run"], "run", status="ok", exit_code=0, stdout="42\n")
    return r


def healthz_ok(t, srv, what):
    deadline = time.monotonic() + 10
    while True:  # at a cap of one connection per client, the last may not be freed yet
        r = su.http_req(t, srv, "GET", "/healthz", timeout=10)
        if r.status != 503 or (r.json or {}).get("error", {}).get("code") != \
                "too_many_connections" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    t.eq(r.status, 200, "%s: /healthz (body %r)" % (what, shorten(r.body, 200)))


# ------------------------------------------------------------------ cgroups
def v1_layout():
    """True when the test runs on v1 hierarchies (one directory per hierarchy)."""
    return len(own_cgroup_dirs()) > 1


class OwnCgroup:
    """A cgroup of the case's own beneath the test runner's: on v1 one directory per
    hierarchy (runcell makes its leaves beneath its own cgroup there); on v2 a delegated
    directory beside the runner's leaf (controllers on, marked delegated) with a leaf `srv`
    for the server, runcell's leaves going beside that. place(pid) moves a process in;
    evacuate() moves every process out (to the runner's cgroup) and removes what is empty."""

    def __init__(self, t):
        self.t = t
        self.own = own_cgroup_dirs()
        t.check(self.own, "found none of this process's cgroup directories")
        name = "faults-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.v2 = len(self.own) == 1
        if self.v2:
            parent = os.path.dirname(self.own[0])
            self.dirs = [os.path.join(parent, name)]
        else:
            self.dirs = [os.path.join(d, name) for d in self.own]
        self.made = False

    def make(self):
        for d in self.dirs:
            os.mkdir(d)
        self.made = True
        if self.v2:
            d = self.dirs[0]
            with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
                f.write("+memory +pids +cpu")
            try:
                os.setxattr(d, "user.delegate", b"1")
            except OSError:
                pass
            os.mkdir(os.path.join(d, "srv"))
        return self

    def proc_dirs(self):
        """The directories a process of the case's cgroup is in."""
        return [os.path.join(self.dirs[0], "srv")] if self.v2 else self.dirs

    def place(self, pid):
        for d in self.proc_dirs():
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))

    def pids(self):
        out = set()
        for d in self.proc_dirs():
            try:
                out |= {int(x) for x in open(os.path.join(d, "cgroup.procs")).read().split()}
            except OSError:
                pass
        return out

    def limit_files(self):
        """(memory limit file(s), pids.max file) of the case's cgroup."""
        if self.v2:
            return [os.path.join(self.dirs[0], "memory.max")], \
                os.path.join(self.dirs[0], "pids.max")
        mem = [d for d in self.dirs if os.path.exists(os.path.join(d, "memory.limit_in_bytes"))][0]
        pids = [d for d in self.dirs if os.path.exists(os.path.join(d, "pids.max"))][0]
        files = [os.path.join(mem, "memory.limit_in_bytes")]
        if os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes")):
            files.append(os.path.join(mem, "memory.memsw.limit_in_bytes"))
        return files, os.path.join(pids, "pids.max")

    def evacuate(self):
        """Every process of it back into the test runner's cgroup(s)."""
        for pid in self.pids():
            for d in self.own:
                try:
                    with open(os.path.join(d, "cgroup.procs"), "w") as f:
                        f.write(str(pid))
                except OSError:
                    pass

    def remove(self, leaves_only=False):
        """rmdir every empty directory beneath it (deepest first), then itself; returns the
        directories removed."""
        gone = []
        for d in self.dirs:
            for top, subdirs, _ in sorted(os.walk(d, topdown=False), key=lambda x: -len(x[0])):
                if top == d and leaves_only:
                    continue
                try:
                    os.rmdir(top)
                    gone.append(top)
                except OSError:
                    pass
        return gone

    def cleanup(self):
        if not self.made:
            return
        self.evacuate()
        for _ in range(50):
            self.remove()
            if not any(os.path.isdir(d) for d in self.dirs):
                return
            for d in self.dirs:  # a sandbox still going: killed (it is this case's)
                for top, _, _ in os.walk(d):
                    try:
                        for p in open(os.path.join(top, "cgroup.procs")).read().split():
                            os.kill(int(p), 9)
                    except OSError:
                        pass
            time.sleep(0.1)
        self.t.note("could not remove %s" % self.dirs)


def server_in(t, cg, *args):
    """A Server started inside cg (the child moves itself in before exec)."""
    srv = su.Server(t, *args)
    dirs = cg.proc_dirs()
    srv.cmd = ["/bin/sh", "-c", 'for d in "$@"; do echo $$ > "$d/cgroup.procs" || exit 97; '
               'done; exec "$0" ' + " ".join("'%s'" % a for a in srv.cmd[1:]),
               srv.cmd[0]] + dirs
    return srv


def rc_dirs(cg, pid):
    pat = re.compile(r"^rc-%d-\d+$" % pid)
    out = []
    for d in cg.dirs:
        try:
            out += [os.path.join(d, n) for n in os.listdir(d) if pat.match(n)]
        except OSError:
            pass
    return sorted(out)


@case("faults_host.cgroup.spare_leaves_removed", lang="python")
def spare_leaves_removed(t):
    # Every empty leaf of the server's (on v1 it keeps emptied ones for later sandboxes) is
    # removed under it: the next runs make new ones and run normally. The leaf of a sandbox
    # being prepared (a pool's) or handed on is empty too until the sandbox is moved in (v1):
    # removed then, that sandbox fails its set-up, and the one run that takes it ends
    # internal_error naming the cgroup step; the runs after are ok. Without a pool and with one.
    # "fresh_sandboxes": a run's sandbox is not kept for the next (it would keep its leaf busy),
    # so that runs leave emptied leaves behind.
    cg = OwnCgroup(t).make()
    cfg = su.write_config(t, {"fresh_sandboxes": True})
    try:
        for pool in ("0", "1"):
            with server_in(t, cg, "--config", cfg, "--pool", pool) as srv:
                for i in range(3):
                    run_ok(t, srv, "pool %s: run %d before" % (pool, i))
                time.sleep(0.3)  # the last sandbox gone, its leaf recycled
                before = rc_dirs(cg, srv.proc.pid)
                gone = [d for d in before if _rmdir(d)]
                t.note("pool %s: leaves %s; removed (empty) %s" % (pool, before, gone))
                if v1_layout():
                    t.check(gone, "an emptied leaf kept for later (v1) could be removed: %s"
                            % before)
                failed = 0
                for i in range(4):
                    r = run(t, srv)
                    st = r.json["run"]
                    if i == 0 and st["status"] == "internal_error":
                        t.contains(st.get("error", ""), "cgroup", "the error names the step")
                        failed += 1
                        continue
                    expect_stage(t, st, "run", status="ok", exit_code=0, stdout="42\n")
                t.note("pool %s: %d run(s) after the removal failed" % (pool, failed))
                healthz_ok(t, srv, "after")
                srv.check_alive()
    finally:
        cg.cleanup()


def _rmdir(d):
    try:
        os.rmdir(d)
        return True
    except OSError:
        return False


@case("faults_host.cgroup.delegated_removed", lang="python")
def delegated_removed(t):
    # The cgroup runcell makes its leaves in is removed under it (its processes moved out
    # first: only an empty cgroup can go): a run gets internal_error naming the cgroup, at once,
    # and the log says so; the server stays up, and once the cgroup is back (made again, the
    # server moved back in) runs are normal again.
    cg = OwnCgroup(t).make()
    try:
        # --pool 0: a prepared sandbox would keep its leaf (and so the cgroup) busy
        with server_in(t, cg, "--pool", "0") as srv:
            run_ok(t, srv, "before")
            time.sleep(0.3)
            moved = cg.pids()
            t.check(srv.proc.pid in moved, "the server runs in the case's cgroup (%s)" % moved)
            cg.evacuate()
            gone = cg.remove()
            t.check(not any(os.path.isdir(d) for d in cg.dirs),
                    "the case's cgroup removed (removed %s)" % gone)
            for i in range(2):
                t0 = time.monotonic()
                r = run(t, srv)
                took = time.monotonic() - t0
                t.eq(r.status, 200, "run without the cgroup: HTTP status (%r)" % r)
                st = r.json["run"]
                expect_stage(t, st, "run", status="internal_error")
                t.contains(st.get("error", ""), cg.dirs[0], "the error names the missing cgroup")
                t.check(took < 5, "the error comes at once (%.1fs)" % took)
            healthz_ok(t, srv, "without the cgroup")
            _wait_log(t, srv, "No such file or directory", "the log says why runs fail")
            cg.make()
            for pid in moved:
                try:
                    cg.place(pid)
                except OSError:
                    pass  # a process of the pool's that ended meanwhile
            for i in range(3):
                run_ok(t, srv, "run %d with the cgroup back" % i)
            srv.check_alive()
    finally:
        cg.cleanup()


def _wait_log(t, srv, text, what, timeout=5):
    deadline = time.monotonic() + timeout
    while text not in srv.stderr_text():
        if time.monotonic() > deadline:
            raise Fail("%s: %r not in the server's log" % (what, text))
        time.sleep(0.05)


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


@case("faults_host.cgroup.limits_lowered", lang="python")
def limits_lowered(t):
    # The cgroup above the server's leaves gets a memory limit and a pids.max lower than a
    # run asks for: a run over them gets the right verdict (memory_limit; forks failing as
    # they do at the run's own limit), never "ok" with what it could not do, never a hang;
    # with the limits back the same runs are normal.
    cg = OwnCgroup(t).make()
    mem_files, pids_file = cg.limit_files()
    try:
        with server_in(t, cg, "--pool", "1") as srv:
            run_ok(t, srv, "before")
            # memory: 160 MiB for everything beneath (the server included, as a unit's
            # MemoryMax would), a run allowed 512 MiB asks for 300
            _set_mem(mem_files, 160 << 20)
            t0 = time.monotonic()
            r = run(t, srv, ALLOC % 300, limits={"memory_mb": 512, "wall_ms": 20000})
            took = time.monotonic() - t0
            t.eq(r.status, 200, "run over the lowered memory limit: HTTP status (%r)" % r)
            expect_stage(t, r.json["run"], "run", status="memory_limit")
            t.check(took < 15, "the memory_limit verdict came in %.1fs" % took)
            srv.check_alive()
            run_ok(t, srv, "a small run under the lowered memory limit")
            # processes: pids.max 8 beneath (a run allowed 64)
            _write(pids_file, 8)
            r = run(t, srv, FORKS, limits={"processes": 64, "wall_ms": 20000})
            t.eq(r.status, 200, "run over the lowered pids.max: HTTP status (%r)" % r)
            st = r.json["run"]
            t.note("run under pids.max 8: %s" % json.dumps(st))
            if st["status"] == "internal_error":
                t.check(st.get("error"), "internal_error names its step")
            else:
                expect_stage(t, st, "run", status="ok", exit_code=0)
                m = re.match(r"forked (\d+) failed (\d+)\n$", st["stdout"])
                t.check(m, "the program's report: %r" % st["stdout"])
                t.check(int(m.group(2)) > 0 and int(m.group(1)) < 20,
                        "forks over pids.max failed: %r" % st["stdout"])
            srv.check_alive()
            # pids.max 1, below what is there already: no new process beneath at all (the helper's
            # clone of the next sandbox fails with EAGAIN, so does a program's start): every run
            # ends at once, saying why (an EAGAIN answer of the helper once read as "no answer
            # yet", and the run waited forever)
            _write(pids_file, 1)
            for i in range(3):
                t0 = time.monotonic()
                r = run(t, srv, limits={"wall_ms": 5000}, timeout=30)
                took = time.monotonic() - t0
                t.eq(r.status, 200, "run %d with no process to spare: HTTP status (%r)" % (i, r))
                st = r.json["run"]
                t.note("run %d with no process to spare: %s" % (i, json.dumps(st)))
                expect_stage(t, st, "run", status="internal_error")
                t.check(took < 10, "run %d with no process to spare answered in %.1fs" % (i, took))
            srv.check_alive()
            # the limits back
            _write(pids_file, "max")
            _set_mem(mem_files, -1)
            r = run(t, srv, ALLOC % 300, limits={"memory_mb": 512, "wall_ms": 20000})
            expect_stage(t, r.json["run"], "run", status="ok", exit_code=0,
                         stdout="allocated 300\n")
            r = run(t, srv, FORKS, limits={"processes": 64, "wall_ms": 20000})
            expect_stage(t, r.json["run"], "run", status="ok", exit_code=0,
                         stdout="forked 20 failed 0\n")
            run_ok(t, srv, "after")
    finally:
        try:
            _write(pids_file, "max")
            _set_mem(mem_files, -1)
        except OSError:
            pass
        cg.cleanup()


def _set_mem(files, value):
    """v1: memory.limit_in_bytes (and memsw, kept equal: memsw >= memory at every step);
    v2: memory.max. value -1: no limit."""
    if files[0].endswith("memory.max"):
        _write(files[0], "max" if value < 0 else value)
        return
    # lowering: memory first, then memsw; raising: memsw first
    for f in (files if value >= 0 else list(reversed(files))):
        _write(f, value)


# ------------------------------------------------------------------ EMFILE
def fd_kinds(pid):
    """What the process's descriptors are: {kind: count} (socket, pipe, anon_inode:..., or a
    file's directory)."""
    kinds = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                k = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            k = re.sub(r"\[\d+\]$", "", k)
            if k.startswith("/"):
                k = os.path.dirname(k)
            kinds[k] = kinds.get(k, 0) + 1
    except OSError:
        pass
    return kinds


def fd_diff(a, b):
    return {re.sub(r".*/(rc-\d+-\d+)", r"\1", k): b.get(k, 0) - a.get(k, 0)
            for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}


def fd_count_not_leaves(pid):
    """The process's descriptors less those of cgroup leaves (rc-<pid>-<n>): a v1 leaf kept for
    reuse keeps its counter files open, at most 16 such leaves."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                n += not re.search(r"/rc-\d+-\d+(/|$)", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                pass
    except OSError:
        return None
    return n


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def one_client(port, i):
    """One run over HTTP on a fresh connection: (HTTP status or an error string, body)."""
    body = json.dumps({"language": "python", "source": "print(%d)\n" % i,
                       "limits": {"open_files": 32, "wall_ms": 20000}}).encode()
    s = None
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(b"POST /api/v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except OSError as e:
        return "%s" % type(e).__name__, b""
    finally:
        if s:
            s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", head)
    if not m:
        return "no answer (%r)" % buf[:60], b""
    return int(m.group(1)), rest


def flood(t, srv, n=40):
    """n clients at once, a run each (open_files 32: under the server's hard limit): every one
    gets an answer, a run's with its own output. Returns {answer: count}."""
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        res = list(ex.map(lambda i: (i,) + one_client(srv.port, i), range(n)))
    srv.check_alive()
    counts = {}
    for i, status, body in res:
        counts[status] = counts.get(status, 0) + 1
        if status == 200:
            st = json.loads(body)["run"]
            if st["status"] == "ok":
                t.eq(st["stdout"], "%d\n" % i, "client %d's output" % i)
            else:  # a run that could not have what it needed says why
                t.check(st["status"] == "internal_error", "client %d: %s" % (i, json.dumps(st)))
                t.check(st.get("error"), "client %d: internal_error names its step" % i)
        elif status in (429, 503):
            e = json.loads(body).get("error", {})
            t.check(e.get("code") and e.get("message"), "client %d: error body %r"
                    % (i, body[:200]))
        else:
            raise Fail("client %d: answer %r %r" % (i, status, body[:200]))
    t.note("answers of %d clients: %s" % (n, counts))
    return counts


def cpu_share(pid, seconds):
    """The share of one CPU the process used over the next `seconds`."""
    def ticks():
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    t0, w0 = ticks(), time.monotonic()
    time.sleep(seconds)
    return (ticks() - t0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - w0)


def settled_fds(srv, above, timeout=5):
    """The server's descriptor count once it is at most `above` (or after timeout)."""
    deadline = time.monotonic() + timeout
    while fd_count(srv.proc.pid) > above and time.monotonic() < deadline:
        time.sleep(0.1)
    return fd_count(srv.proc.pid)


def emfile_case(t, *args, n=40):
    with su.Server(t, "--pool", "1", *args, nofile=64) as srv:
        # a run asking for more open files than the server's own hard limit: refused, saying so
        r = run_retry(t, srv)
        t.eq(r.status, 200, "a run over the server's RLIMIT_NOFILE: HTTP status (%r)" % r)
        st = r.json["run"]
        expect_stage(t, st, "run", status="internal_error")
        t.contains(st["error"], "RLIMIT_NOFILE", "the error names the limit")
        r = run_retry(t, srv, limits={"open_files": 32})
        expect_stage(t, r.json["run"], "run", status="ok", exit_code=0, stdout="42\n")
        time.sleep(0.3)
        base = fd_count(srv.proc.pid)
        kinds0 = fd_kinds(srv.proc.pid)
        first = flood(t, srv, n)
        t.check(first.get(200, 0) > 0, "some runs went through: %s" % first)
        # Descriptors: back near where they were (the pool may hold one more sandbox, spare v1
        # leaves keep a few counter files open, at most 16 of them), and a second load leaves
        # no more than the first did: nothing grows per run.
        after1 = settled_fds(srv, base + 8)
        kinds1 = fd_kinds(srv.proc.pid)
        other1 = fd_count_not_leaves(srv.proc.pid)
        flood(t, srv, n)
        after2 = settled_fds(srv, after1 + 6)
        other2 = fd_count_not_leaves(srv.proc.pid)
        t.note("descriptors: %d before, %d after a load, %d after another (%d and %d not of "
               "cgroup leaves)" % (base, after1, after2, other1, other2))
        t.check(after1 <= base + 64, "the server's descriptors: %d before the load, %d after "
                "(what changed: %s)" % (base, after1, fd_diff(kinds0, kinds1)))
        t.check(other2 <= other1 + 6, "descriptors grow with the runs: %d after a load, %d "
                "after another, less the leaves' (what changed: %s)"
                % (other1, other2, fd_diff(kinds1, fd_kinds(srv.proc.pid))))
        t.check(after2 <= base + 64, "the server's descriptors: %d before the loads, %d after"
                % (base, after2))
        for i in range(3):
            r = run_retry(t, srv, limits={"open_files": 32})
            expect_stage(t, r.json["run"], "run", status="ok", exit_code=0, stdout="42\n")
        healthz_ok(t, srv, "after the load")
        # what ran out is said in the log as what it is (accept's errno 24, a sandbox that
        # could not be prepared: Too many open files), nothing else
        errors = [ln for ln in srv.stderr_text().splitlines() if "level=error" in ln]
        t.note("errors in the log: %d, e.g. %s" % (len(errors), errors[:3]))
        for ln in errors:
            t.check("errno 24" in ln or "Too many open files" in ln,
                    "an error in the log that is not running out of descriptors: %r" % ln)
        # idle after the load: the loop does not spin (accept meeting EMFILE once made it)
        cpu = cpu_share(srv.proc.pid, 1.0)
        t.check(cpu < 0.2, "the server idles after the load (%.0f%% CPU)" % (cpu * 100))


@case("faults_host.emfile.low_nofile_many_clients", lang="python")
def emfile(t):
    # RLIMIT_NOFILE 64 (soft and hard) and 40 clients at once (twice), a run each. The
    # connection cap derived from the limit (one here) answers the rest 503 at once; a run asking
    # for more open files than the server's hard limit gets an internal_error naming it. No
    # crash, no spin, no descriptor kept per run, then normal service.
    emfile_case(t)


@case("faults_host.emfile.connections_over_nofile", lang="python")
def emfile_over(t):
    # The same with max_connections set far over what 64 descriptors allow (a misconfigured
    # server) and 80 clients: they are let in as far as descriptors go, and whatever runs out
    # of them (accept, the pool's sandboxes) ends in an answer, never a hang or a crash.
    cfg = su.write_config(t, {"max_connections": 1000, "max_connections_per_client": 1000})
    emfile_case(t, "--config", cfg, n=80)


# ------------------------------------------------------------------ clock jumps
@case("faults_host.clock.realtime_jumps", lang="bash")
def clock_jumps(t):
    # libfaketime in runcell-serve (dynamically linked; runcell itself is static and execs it)
    # makes its realtime clock jump a day forward and back while runs are timed; the
    # monotonic clocks are left alone, as a jump of the host's clock would leave them. A 1 s
    # wall limit on a sleeping program is still time_limit after about 1 s, a 2 s sleep under
    # a 5 s limit is not cut short, and the log's own clock shows the jumps took effect.
    if not os.path.exists(LIBFAKETIME):
        t.skip("libfaketime is not installed (%s; Debian package faketime)" % LIBFAKETIME)
    d = t.tmpdir()
    stamp = t.write(d, "faketime", "+0\n")
    srv = su.Server(t, "--pool", "1")
    # an AddressSanitizer build wants its runtime first among the libraries: preloaded first
    preload = [LIBFAKETIME]
    serve = os.path.join(os.path.dirname(t.suite.bin), "runcell-serve")
    for binary in (t.suite.bin, serve):
        try:
            out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout
        except OSError:
            continue
        m = re.search(r"libasan\.so\S*\s+=>\s+(\S+)", out)
        if m and m.group(1) not in preload:
            preload.insert(0, m.group(1))
    env = ["LD_PRELOAD=" + ":".join(preload), "FAKETIME_TIMESTAMP_FILE=" + stamp,
           "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"]
    srv.cmd = ["/usr/bin/env"] + env + srv.cmd

    def jump(spec):
        t.write(d, "faketime.new", spec + "\n")
        os.rename(os.path.join(d, "faketime.new"), stamp)

    def timed(source, limits, jumps):
        """A bash run with jumps [(after seconds, spec)] made meanwhile."""
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            t0 = time.monotonic()
            fut = ex.submit(run, t, srv, source, "bash", limits, 30)
            for at, spec in jumps:
                time.sleep(max(0, at - (time.monotonic() - t0)))
                jump(spec)
            r = fut.result()
            return r, time.monotonic() - t0

    with srv:
        r = run(t, srv, "echo hi\n", "bash")
        expect_stage(t, r.json["run"], "run", status="ok", stdout="hi\n")
        # forward a day, then back two days, during a 1 s wall limit
        r, took = timed("sleep 10\n", {"wall_ms": 1000}, [(0.3, "+1d"), (0.6, "-1d")])
        st = r.json["run"]
        expect_stage(t, st, "run", status="time_limit")
        t.eq(st.get("limit"), "wall", "the limit that ran out")
        t.check(950 <= st["wall_ms"] <= 3000, "wall_ms of a 1 s limit: %d" % st["wall_ms"])
        t.check(0.9 <= took <= 4.0, "the answer to a 1 s limit came after %.1fs" % took)
        # a 2 s sleep under 5 s: the clock jumps do not end it early
        r, took = timed("sleep 2; echo slept\n", {"wall_ms": 5000},
                        [(0.3, "+30d"), (0.8, "-30d"), (1.2, "+0")])
        st = r.json["run"]
        expect_stage(t, st, "run", status="ok", exit_code=0, stdout="slept\n")
        t.check(1900 <= st["wall_ms"] <= 4500, "wall_ms of a 2 s sleep: %d" % st["wall_ms"])
        t.check(took >= 1.9, "the 2 s sleep was not cut short (%.1fs)" % took)
        # the log's timestamps (CLOCK_REALTIME) saw the jumps: libfaketime took effect
        years = set(re.findall(r"ts=(\d{4}-\d\d-\d\d)T", srv.stderr_text()))
        t.check(len(years) >= 2, "the log's dates show the jumps: %s" % sorted(years))
        jump("+0")
        run_ok(t, srv, "after the jumps")
        healthz_ok(t, srv, "after the jumps")
