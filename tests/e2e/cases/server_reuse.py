"""The server's runs share sandboxes (job_spec_t.reuse): a run's sandbox is reset by its init
and goes back into the pool for any later run of the same language, as a judge's lane does
between tests. Nothing one run leaves may reach a later run, whoever sends it: the runs here
go one at a time (--max-concurrent 1, --pool 1), so that each later run takes the sandbox the
one before left, and each "check" run must find nothing.

The program is the judge's probe (programs/judge/reuse_probe.py): it first looks for leftovers
and prints "clean" when it finds none, then does what its stdin says; "again" makes it look
once more, to show that the looking would find what it left."""

import re

from harness import case, prog
from server_util import Server, http_req, write_config

PROBE = prog("judge", "reuse_probe.py")


def source():
    with open(PROBE) as f:
        return f.read()


def run(t, srv, stdin, src):
    resp = http_req(t, srv, "POST", "/api/v1/run",
                    {"language": "python", "source": src, "stdin": stdin + "\n",
                     "limits": {"wall_ms": 10000}})
    t.eq(resp.status, 200, "HTTP status (%s)" % stdin)
    return resp.json["run"]


def metric(t, srv, name):
    resp = http_req(t, srv, "GET", "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), resp.body.decode(), re.M)
    t.check(m, "%s in /metrics" % name)
    return int(m.group(1))


def pid_of(t, r):
    m = re.fullmatch(r"clean\npid (\d+)\n", r["stdout"])
    t.check(m, "a pid: %s %r %r" % (r["status"], r["stdout"][:400], r["stderr"][:400]))
    return int(m.group(1))


@case("server_reuse.leftovers", lang="python")
def leftovers(t):
    """Files (deep, unreadable, FIFOs, sockets, links) in /work, /tmp and /dev/shm; daemons,
    stopped and SIGTERM-proof processes writing files every 50 ms; SysV and POSIX IPC; user.*
    xattrs; a TCP connection in TIME_WAIT; lo's counters: each left by one run, none seen by
    the runs after it, which did run in the sandbox it left (the pool's reused counter grows)."""
    src = source()
    with Server(t, "--max-concurrent", "1", "--pool", "1", "--warm", "python") as srv:
        before = metric(t, srv, "runcell_pool_reused_total")
        for leave, check in (("files again", "check"), ("procs again", "check-wait 0.5"),
                             ("ipc again", "check"), ("xattr again", "check"),
                             ("net again", "check"), ("udp", "check counters")):
            first = run(t, srv, leave, src)
            t.eq(first["status"], "ok", "%s: ran (%r)" % (leave, first))
            if "again" in leave:
                out = first["stdout"]
                t.check("\nagain:\n" in out and out.split("\nagain:\n", 1)[1].strip(),
                        "%s: it left something: %r" % (leave, out[:600]))
            for i in range(2):
                r = run(t, srv, check, src)
                t.eq((r["status"], r["stdout"]), ("ok", "clean\n"),
                     "after %r, run %d finds nothing (%r)" % (leave, i + 1, r["stderr"][:300]))
        reused = metric(t, srv, "runcell_pool_reused_total") - before
        t.note("sandboxes reused: %d of %d runs" % (reused, 18))
        # what left a network trace or had its sandbox killed is not kept: at least the runs
        # after files, ipc and xattr reused their sandbox
        t.check(reused >= 6, "later runs took the sandbox earlier runs left: %d" % reused)


@case("server_reuse.pids", lang="python")
def pids(t):
    """Runs one after another share sandboxes (the program's pid goes on counting; a fresh
    sandbox's is 2: the pool may hold a new one besides, so not every run is in a reused one);
    after a run whose sandbox was killed (time limit) the runs go on; with "fresh_sandboxes":
    true every run has a new sandbox and none is reused."""
    src = source()
    with Server(t, "--max-concurrent", "1", "--pool", "1", "--warm", "python") as srv:
        ps = [pid_of(t, run(t, srv, "pid", src)) for _ in range(10)]
        t.check(sum(p > 2 for p in ps) >= 6, "most runs in a sandbox a run before left: %r" % ps)
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": src, "stdin": "loop\n",
                      "limits": {"cpu_ms": 300, "wall_ms": 2000}})
        t.eq(r.json["run"]["status"], "time_limit", "the loop's verdict")
        after = [pid_of(t, run(t, srv, "pid", src)) for _ in range(4)]
        t.note("pids %r, after the time limit %r" % (ps, after))
        t.check(metric(t, srv, "runcell_pool_reused_total") >= 6, "the reused counter")
    cfg = write_config(t, {"fresh_sandboxes": True})
    with Server(t, "--config", cfg, "--max-concurrent", "1", "--pool", "1",
                "--warm", "python") as srv:
        ps = [pid_of(t, run(t, srv, "pid", src)) for _ in range(5)]
        t.eq(ps, [2] * 5, "fresh_sandboxes: every run in a new sandbox")
        t.eq(metric(t, srv, "runcell_pool_reused_total"), 0, "fresh_sandboxes: none reused")
