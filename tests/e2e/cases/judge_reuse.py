"""runcell judge: the tests that run one after another share a sandbox (a lane), reset by its
init in between; nothing one test leaves may reach a later test of the same submission.

Every case runs with --parallel 1 (the server: --max-concurrent 1), so that all its tests go
through one lane. The program (programs/judge/reuse_probe.py) first looks for leftovers and
prints "clean" when it finds none, then does what its stdin says: the first tests leave things
behind, the later ones expect "clean". The first test of each case also says what it left
("again"), to show that the looking would find it.

judge_reuse.network, network_counters and init_state failed when written (a lane kept a sandbox
whose TIME_WAIT connections and counters, or init's own attributes, a test had changed); the
reset now gives such a sandbox up (src/sandbox/reset.c)."""

import json
import re

from harness import case, prog
from judge_util import judge_json, make_tests

PROBE = prog("judge", "reuse_probe.py")
KEPT = "sandbox kept from the lane's last run"


def lane_tests(t, stdins, clean_from=0):
    """A directory of tests 01, 02, ... with those stdins; each from index clean_from on
    expects "clean", the others have no expected output (any clean run is accepted)."""
    return make_tests(t, [("%02d" % (i + 1), s + "\n", "clean\n" if i >= clean_from else None)
                          for i, s in enumerate(stdins)])


def by_name(obj):
    return {x["name"]: x for x in obj["tests"]}


def expect_clean(t, obj, names, what):
    """Tests NAMES accepted: each found nothing; else what each found."""
    tests = by_name(obj)
    bad = ["%s: %s %r" % (n, tests[n]["verdict"], tests[n]["run"]["stdout"][:800])
           for n in names if tests[n]["verdict"] != "accepted"]
    t.check(not bad, "%s: later tests found what an earlier one left: %s"
            % (what, "; ".join(bad)))


def left(t, test, what):
    """What test (run with "again") says it left: the lines after "again:"."""
    out = test["run"]["stdout"]
    t.eq(test["verdict"], "accepted", "%s: the test that leaves things ran cleanly (%r)"
         % (what, test["run"]))
    t.check(out.startswith("clean\n") and "\nagain:\n" in out,
            "%s: a fresh sandbox at first, then what it left: %r" % (what, out[:800]))
    return out.split("\nagain:\n", 1)[1].splitlines()


@case("judge_reuse.files", lang="python")
def files(t):
    """Files, links, a FIFO, a socket, hard links, 100 levels deep, deeper than PATH_MAX,
    directories of mode 0 holding files and directories of mode 0, in /work, /tmp and /dev/shm;
    the program's own source appended to; /tmp, /work and /dev/shm chmod'ed. Twice more
    later in the same lane."""
    stdins = ["files again", "check", "check", "files", "check", "check", "files", "check"]
    d = lane_tests(t, stdins, clean_from=1)
    # files leaves /dev/shm/z of 4 MB and /tmp, /work of some: room enough in 64 MB
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE], rc=0)
    got = left(t, obj["tests"][0], "files")
    for want in ("/tmp mode 700", "/work mode 777", "/dev/shm mode 0", "/tmp has 'x'",
                 "/work has 'y'", "/work has 'y-hard'", "/tmp has 'deep'", "/work has 'long'",
                 "/work has 'locked'", "/tmp has 'locked'", "/tmp has 'fifo'",
                 "/tmp has 'sock'", "/work has 'link'", "/tmp has '.hidden'",
                 "the program's source was changed"):
        t.check(want in got, "files: test 1 left %r: %r" % (want, got))
    expect_clean(t, obj, ["%02d" % i for i in range(2, 9)], "files")
    t.eq([x["verdict"] for x in obj["tests"]], ["accepted"] * 8, "verdicts")


@case("judge_reuse.processes", lang="python")
def processes(t):
    """Test 1 leaves a setsid double-forked daemon, a process that ignores SIGTERM and the like
    and keeps the program's stdout, a fork chain (a new pid every few ms), a stopped process
    and a shell running sleep 30: all of them write to /tmp, /work and /dev/shm every 50 ms
    (and to stdout). Test 1 is still accepted, without waiting for them; the later tests see no
    process but init and themselves, and no file, even half a second later."""
    stdins = ["procs again", "check-wait 0.5", "check", "procs", "check-wait 0.5", "check",
              "check"]
    d = lane_tests(t, stdins, clean_from=1)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", "--wall-ms", "5000", PROBE],
                        rc=0)
    first = obj["tests"][0]
    got = left(t, first, "processes")
    procs = [ln for ln in got if ln.startswith("process ")]
    t.check(len(procs) >= 5 and any("sleep 30" in ln for ln in procs)
            and any("(T)" in ln for ln in procs),
            "processes: test 1 left its processes, a stopped one and sleep 30 too: %r" % got)
    t.check(any("late-" in ln for ln in got), "processes: they wrote files: %r" % got)
    for n in ("01", "04"):
        run = by_name(obj)[n]["run"]
        t.check(run["wall_ms"] < 3000,
                "processes: test %s did not wait for what it left: %r" % (n, run))
        t.not_contains(run["stdout"], "late output", "test %s's stdout" % n)
    expect_clean(t, obj, ["02", "03", "05", "06", "07"], "processes")
    t.eq([x["verdict"] for x in obj["tests"]], ["accepted"] * 7, "verdicts")


@case("judge_reuse.ipc", lang="python")
def ipc(t):
    """SysV shared memory (keyed 0600, keyed mode 0, private and attached), semaphore sets, a
    message queue holding a message, POSIX message queues (one of mode 0): none in later tests
    (/proc/sysvipc/* lists nothing, the keys and the queue's name are unknown)."""
    stdins = ["ipc again", "check", "check", "ipc", "check", "check"]
    d = lane_tests(t, stdins, clean_from=1)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE], rc=0)
    got = left(t, obj["tests"][0], "ipc")
    t.check(not any(ln.startswith("ipc:") for ln in obj["tests"][0]["run"]["stdout"]
                    .splitlines()), "ipc: test 1 made all of it: %r" % got)
    for want in ("sysv key 0x5e11 (shm) still there", "sysv key 0x5e12 (shm0) still there",
                 "sysv key 0x5e13 (sem) still there", "sysv key 0x5e14 (msg) still there",
                 "POSIX message queue /reuse-probe still there",
                 "/dev/mqueue has 'reuse-probe-0'"):
        t.check(want in got, "ipc: test 1 left %r: %r" % (want, got))
    t.eq(len([ln for ln in got if ln.startswith("sysv shm:")]), 3, "shm segments left")
    t.eq(by_name(obj)["04"]["run"]["stdout"], "clean\n", "ipc made again in the lane")
    expect_clean(t, obj, ["02", "03", "05", "06"], "ipc")


@case("judge_reuse.xattr", lang="python")
def xattr(t):
    """user.* extended attributes set on /work, /tmp, /dev/shm (and /dev/mqueue, which the
    kernel refuses): none in later tests. Skipped when the kernel takes none of them."""
    stdins = ["xattr again", "check", "check", "xattr", "check"]
    d = lane_tests(t, stdins, clean_from=1)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE], rc=0)
    got = left(t, obj["tests"][0], "xattr")
    refused = [ln for ln in obj["tests"][0]["run"]["stderr"].splitlines()
               if ln.startswith("xattr-refused")]
    if not any(" xattr user.k" in ln for ln in got):
        t.skip("the kernel took no user.* xattr on the sandbox's directories: %r" % refused)
    t.note("xattrs set on %s; refused: %r"
           % (sorted({ln.split()[0] for ln in got if " xattr " in ln}), refused))
    expect_clean(t, obj, ["02", "03", "04", "05"], "xattr")


@case("judge_reuse.verdicts", lang="python")
def verdicts(t):
    """Each test's verdict and figures are its own in a shared sandbox: the memory peak, the
    CPU time and OOM kills are counted per test; a test after a memory_limit, a time_limit or a
    runtime_error (SIGSEGV), an output_limit or a test that used up the processes limit (its
    processes left behind) is accepted, and may start as many processes as a fresh one."""
    stdins = ["mem 200", "check", "hog", "check", "check", "loop", "check", "mem 150",
              "crash", "check", "check", "spew", "check", "forkbomb", "forks 40", "check"]
    d = lane_tests(t, stdins)
    # the kernel takes most of a second of CPU time reclaiming before it kills the hog, and
    # several on a machine busy with other work (it gave time_limit with 2 s and 4 s wall): 3 s
    # and 10 s wall
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", "--memory-mb", "320",
                            "--cpu-ms", "3000", "--wall-ms", "10000", PROBE], rc=1)
    want = ["accepted", "accepted", "memory_limit", "accepted", "accepted", "time_limit",
            "accepted", "accepted", "runtime_error", "accepted", "accepted", "output_limit",
            "accepted", "accepted", "accepted", "accepted"]
    got = [x["verdict"] for x in obj["tests"]]
    t.eq(got, want, "verdicts")
    tests = obj["tests"]
    for i in range(16):
        if i != 11:
            t.eq(tests[i]["run"]["stdout"], "clean\n", "test %d's stdout" % (i + 1))
    t.contains(tests[13]["run"]["stderr"], "forkbomb: ", "test 14 met the processes limit")
    mem = [x["run"]["memory_kb"] for x in tests]
    t.check(mem[0] is not None and mem[0] >= 200 * 1024,
            "test 1 used 200 MB: memory_kb %r" % mem[0])
    for i in (1, 3, 4, 6, 9, 10):
        t.check(mem[i] is not None and mem[i] < 60 * 1024,
                "test %d's memory is its own, not an earlier test's peak: %r"
                % (i + 1, mem))
    t.check(mem[7] is not None and 150 * 1024 <= mem[7] < 200 * 1024,
            "test 8 (150 MB) after test 3's %r: %r" % (mem[2], mem))
    t.eq(tests[8]["run"]["signal"], "SIGSEGV", "test 9's signal")
    t.eq(tests[5]["run"].get("limit"), "cpu", "test 6's limit")
    for i in (6, 9, 10):
        run = tests[i]["run"]
        t.check(run["cpu_ms"] < 1500 and run["wall_ms"] < 3000,
                "test %d's CPU time is its own: %r" % (i + 1, run))
    s = obj["summary"]
    t.eq((s["passed"], s["total"], s["run"], s["first_failure"]), (12, 16, 16, "03"),
         "summary")


@case("judge_reuse.reused", lang="python")
def reused(t):
    """The sandbox really is shared: RUNCELL_TRACE=1 says "sandbox kept from the lane's last
    run" for each test after the first, and the program's pid goes on counting (a fresh
    sandbox's program is pid 2). After a time_limit (its sandbox killed) the next test starts
    afresh. --fresh-sandboxes: a new sandbox each time."""
    d = lane_tests(t, ["pid"] * 8, clean_from=8)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE], rc=0)
    pids = [pid_of(t, x) for x in obj["tests"]]
    t.eq(pids[0], 2, "the first test's pid (a fresh sandbox)")
    t.check(all(b > a for a, b in zip(pids, pids[1:])),
            "pids go on counting in the lane: %r" % pids)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE], rc=0,
                        env={"RUNCELL_TRACE": "1"})
    t.eq(r.stderr.count(KEPT), 7, "%r in the trace, once per later test" % KEPT)
    # a killed sandbox is not kept
    d2 = lane_tests(t, ["pid", "pid", "loop", "pid", "pid"], clean_from=5)
    r, obj = judge_json(t, ["--tests", d2, "--parallel", "1", "--cpu-ms", "500",
                            "--wall-ms", "2000", PROBE], rc=1, env={"RUNCELL_TRACE": "1"})
    t.eq([x["verdict"] for x in obj["tests"]],
         ["accepted", "accepted", "time_limit", "accepted", "accepted"], "verdicts")
    pids = [pid_of(t, x) for n, x in enumerate(obj["tests"]) if n != 2]
    t.eq(pids[0], 2, "test 1's pid")
    t.check(pids[1] > 2, "test 2 in test 1's sandbox: %r" % pids)
    t.eq(pids[2], 2, "test 4 in a new sandbox after test 3's time limit: %r" % pids)
    t.check(pids[3] > 2, "test 5 in test 4's sandbox: %r" % pids)
    t.eq(r.stderr.count(KEPT), 3, "%r (tests 2, 3 and 5)" % KEPT)
    # each test in a sandbox of its own when asked
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", "--fresh-sandboxes", PROBE],
                        rc=0, env={"RUNCELL_TRACE": "1"})
    t.eq([pid_of(t, x) for x in obj["tests"]], [2] * 8, "pids with --fresh-sandboxes")
    t.eq(r.stderr.count(KEPT), 0, "%r with --fresh-sandboxes" % KEPT)


def pid_of(t, test):
    m = re.fullmatch(r"clean\npid (\d+)\n", test["run"]["stdout"])
    t.check(m, "test %s: %s %r" % (test["name"], test["verdict"], test["run"]["stdout"][:800]))
    return int(m.group(1))


@case("judge_reuse.server_limits", lang="python")
def server_limits(t):
    """Through POST /api/v1/run (one run at a time, so one lane): each test's own limits
    (open_files, stack_mb) apply in a shared sandbox, lower then higher then lower again, and
    the request's for a test without its own. The tests shared a sandbox (pids)."""
    from server_util import Server, http_req
    with open(PROBE) as f:
        source = f.read()
    own = [{"open_files": 64, "stack_mb": 16}, {"open_files": 512, "stack_mb": 128}, None,
           {"open_files": 32, "stack_mb": 8}, {"open_files": 1000, "stack_mb": 200}]
    tests = []
    for i, lim in enumerate(own):
        test = {"name": "t%d" % (i + 1), "stdin": "limits pid\n"}
        if lim:
            test["limits"] = lim
        tests.append(test)
    req = {"language": "python", "source": source, "tests": tests,
           "limits": {"open_files": 100, "stack_mb": 32}}
    with Server(t, "--max-concurrent", "1") as srv:
        resp = http_req(t, srv, "POST", "/api/v1/run", req, timeout=180)
        t.eq(resp.status, 200, "HTTP status")
        got = resp.json["tests"]
        t.eq([x["verdict"] for x in got], ["accepted"] * 5,
             "verdicts (%r)" % [x["run"]["stdout"] + x["run"]["stderr"] for x in got])
        pids = []
        for x, lim in zip(got, own):
            lim = lim or {"open_files": 100, "stack_mb": 32}
            out = x["run"]["stdout"].splitlines()
            nf, st = str(lim["open_files"]), str(lim["stack_mb"] << 20)
            t.eq(out[:3], ["clean", "open_files %s %s" % (nf, nf), "stack %s %s" % (st, st)],
                 "%s's limits (its own: %r)" % (x["name"], lim))
            t.check(len(out) == 4 and out[3].startswith("pid "), "%s: %r" % (x["name"], out))
            pids.append(int(out[3].split()[1]))
        t.eq(pids[0], 2, "the first test's pid")
        t.check(all(b > a for a, b in zip(pids, pids[1:])),
                "the tests shared a sandbox (pids %r)" % pids)


@case("judge_reuse.network", lang="python")
def network(t):
    """A TCP connection to 127.0.0.1:5000 (and [::1]:5002) closed by its accepting side first
    stays in TIME_WAIT for a minute in the sandbox's network namespace: a later test must still
    bind those ports (without SO_REUSEADDR, as in a fresh sandbox) and see no socket in
    /proc/net/{tcp,tcp6,udp,udp6,unix}."""
    stdins = ["net again", "check", "check", "net", "check"]
    d = lane_tests(t, stdins, clean_from=1)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE])
    got = left(t, obj["tests"][0], "network")
    t.check(any("st 06" in ln for ln in got) and "bind 127.0.0.1 port 5000: EADDRINUSE" in got,
            "network: test 1 left a connection in TIME_WAIT: %r" % got)
    expect_clean(t, obj, ["02", "03", "05"], "network")


@case("judge_reuse.network_counters", lang="python")
def network_counters(t):
    """lo's packet counters (/proc/net/dev, like /proc/net/snmp's) start at 0 in a fresh
    sandbox; in a shared one test 1 could pass a number to the later tests through them (1234
    datagrams sent, here)."""
    stdins = ["udp", "check counters", "check counters"]
    d = lane_tests(t, stdins, clean_from=1)
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", "--fresh-sandboxes", PROBE])
    expect_clean(t, obj, ["02", "03"], "network counters, fresh sandboxes (the control)")
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE])
    expect_clean(t, obj, ["02", "03"], "network counters")


@case("judge_reuse.init_state", lang="python")
def init_state(t):
    """What a program inherits from init (pid 1, which forks each test's program) is a fresh
    sandbox's in every test, whatever an earlier test did to init as the same uid: its nice
    value, scheduling policy, CPU affinity, I/O priority, soft rlimits that runcell does not
    set (prlimit), and hard rlimits of those it sets (a later test must not fail to start).
    Test 3 needs 150 MB (under the memory limit, over the address space test 1 left init)."""
    stdins = ["init state", "check state", "mem 150 state", "init-hard state", "check state",
              "check state"]
    d = lane_tests(t, stdins, clean_from=len(stdins))
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", PROBE])
    tests = obj["tests"]
    changed = [ln for ln in tests[0]["run"]["stderr"].splitlines() if ln.endswith(" ok")]
    t.check(tests[0]["verdict"] == "accepted" and changed,
            "init_state: test 1 changed init: %r" % tests[0]["run"])
    t.note("test 1 changed init: %s; test 4: %s" % (
        ", ".join(ln[6:-3] for ln in changed),
        ", ".join(ln[6:-3] for ln in tests[3]["run"]["stderr"].splitlines()
                  if ln.endswith(" ok"))))

    def state_of(x):
        lines = x["run"]["stdout"].splitlines()
        return lines[1] if len(lines) > 1 and lines[1].startswith("state: ") else None

    fresh = state_of(tests[0])
    t.check(fresh, "test 1's state: %r" % tests[0]["run"]["stdout"])

    def differs(x):
        """What test x inherited that a fresh sandbox's program does not have."""
        if x["verdict"] != "accepted" or not state_of(x):
            return "%s %s" % (x["verdict"], x["run"].get("error") or x["run"]["stdout"][:200])
        mine = state_of(x).split()
        want = set(fresh.split())
        return " ".join(w for w in mine if w not in want)

    t.note("a fresh sandbox's " + fresh)
    bad = ["%s: %s" % (x["name"], differs(x)) for x in tests[1:] if differs(x)]
    which = " ".join("%s(%s)" % (x["name"], x["verdict"]) for x in tests[1:] if differs(x))
    t.check(not bad, "init_state: later tests %s inherited from init what test 1 or 4 set: %s"
            % (which, "; ".join(bad)))


@case("judge_reuse.build_files", lang="c")
def build_files(t):
    """A compiled program: test 1 replaces its own executable in /work by a script printing
    "tampered"; every later test runs the build's executable again, and /work holds what it
    held for test 1 (the build's files, their sizes and modes)."""
    stdins = ["replace", "check", "check", "replace", "check"]
    d = lane_tests(t, stdins, clean_from=len(stdins))
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", prog("judge", "reuse_self.c")],
                        rc=0)
    tests = obj["tests"]
    t.contains(tests[0]["run"]["stderr"], "replaced /work/", "test 1 replaced its executable")
    first = tests[0]["run"]["stdout"]
    t.check(first.startswith("clean\n/work/"), "test 1's /work: %r" % first)
    for x in tests[1:]:
        t.eq(x["run"]["stdout"], first, "test %s's /work (it ran the build's program)"
             % x["name"])
