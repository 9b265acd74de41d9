#!/usr/bin/python3
"""One C solution against 100 tests: bare, in bubblewrap, and judged by runcell, side by side.

The solution (read two numbers, print their sum) is compiled once; the 100 tests differ in
their input. Variants, each at one test at a time and at N at once (N: the cores):
  bare        the binary compiled on the host with the C toolchain's flags, run once per test
              (Python's subprocess, stdin from the test, its stdout checked)
  bubblewrap  the same binary in Debian's bwrap with every namespace and a read-only /usr
              (bench/benchlib.py's command line, as bench/startup.py runs it)
  runcell judge  `runcell judge --tests DIR [--parallel 1] sum.c`: a whole CLI invocation
              (start, toolchains, the compile stage in a sandbox, then the tests, with every
              limit and the seccomp filter, those that follow each other in one sandbox reset
              between them; with --fresh-sandboxes each in a new sandbox)
  runcell HTTP   one POST /api/v1/run {"language": "c", "source", "tests": [...]} to a running
              `runcell serve` (--max-concurrent 1 or N: the judged run's tests go up to that
              many at once)
For bare and bubblewrap a test costs the total over 100. runcell's rows also pay one compile
and, for the CLI, its own start: a test costs the marginal (T(100 tests) - T(1 test)) / 99,
both measured in every round, and the overhead over bare is that minus bare's cost per test at
the same concurrency. Medians over --reps interleaved rounds (each round runs every variant in
a rotated order). Run as root (a delegated cgroup, as bench/startup.py). With --write, the
table replaces its section of docs/BENCHMARKS.md together with the command and the load.

  bench/judge.py [--reps 5] [--bin build/runcell] [--write]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, Server, bwrap_argv, enter_cgroup, leave_cgroup, toolchain, write_section

NTESTS = 100
SOURCE = r"""#include <stdio.h>

int main(void)
{
        long a, b;
        if (scanf("%ld %ld", &a, &b) != 2)
                return 1;
        printf("%ld\n", a + b);
        return 0;
}
"""
GOAL_MS = 2.0  # per-test overhead over bare


def tests(n):
    return [("%03d" % (i + 1), "%d %d\n" % (i * 7, i * 13 + 1), "%d\n" % (i * 20 + 1))
            for i in range(n)]


def host_compile(work):
    """sum.c compiled on the host with the C toolchain's compile command."""
    src = os.path.join(work, "sum.c")
    argv = []
    for w in toolchain("c")["compile"]:
        if w != "{options}":  # the compile options a request may add: none here
            argv += [src] if w == "{sources}" else [w]
    subprocess.run(argv, cwd=work, check=True)
    return os.path.join(work, "main")


def run_direct(argv, cases, at_once):
    """Each test's program started with its stdin, at_once of them at a time; ms in all."""
    def one(c):
        r = subprocess.run(argv, input=c[1].encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0 or r.stdout.decode() != c[2]:
            sys.exit("%s: test %s gave %r (exit %d, %r)" % (argv[-1], c[0], r.stdout,
                                                           r.returncode, r.stderr[:300]))
    t0 = time.perf_counter()
    if at_once == 1:
        for c in cases:
            one(c)
    else:
        with concurrent.futures.ThreadPoolExecutor(at_once) as ex:
            list(ex.map(one, cases))
    return (time.perf_counter() - t0) * 1000.0


def check_verdicts(obj, n, what):
    got = [x["verdict"] for x in obj["tests"]]
    if got != ["accepted"] * n:
        sys.exit("%s: verdicts %r" % (what, [v for v in got if v != "accepted"][:5]))


def run_cli(binary, tdir, src, parallel, n, fresh=False):
    argv = [binary, "judge", "--json", "--tests", tdir, src]
    if parallel:
        argv[2:2] = ["--parallel", str(parallel)]
    if fresh:
        argv[2:2] = ["--fresh-sandboxes"]
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = (time.perf_counter() - t0) * 1000.0
    if r.returncode != 0:
        sys.exit("runcell judge failed (exit %d): %r %r" % (r.returncode, r.stdout[:300],
                                                          r.stderr[-500:]))
    check_verdicts(json.loads(r.stdout), n, "runcell judge")
    return dt


def run_http(srv, cases):
    body = json.dumps({"language": "c", "source": SOURCE,
                       "tests": [{"name": c[0], "stdin": c[1], "expected_output": c[2]}
                                 for c in cases]})
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=300)
    t0 = time.perf_counter()
    conn.request("POST", "/api/v1/run", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    dt = (time.perf_counter() - t0) * 1000.0
    conn.close()
    if resp.status != 200:
        sys.exit("POST /api/v1/run: %d %r" % (resp.status, data[:300]))
    check_verdicts(json.loads(data), len(cases), "POST /api/v1/run")
    return dt


def cpu_reader(cg_dirs):
    """CPU time (ms) used so far in the benchmark's cgroup and beneath it (cgroup v1 cpuacct,
    or v2 cpu.stat): every process of a variant, the sandboxes' included, busy or not."""
    for d in cg_dirs:
        if os.path.exists(os.path.join(d, "cpuacct.usage")):
            path = os.path.join(d, "cpuacct.usage")
            return lambda: int(open(path).read()) / 1e6
    for d in cg_dirs:
        path = os.path.join(d, "cpu.stat")
        if os.path.exists(path) and "usage_usec" in open(path).read():
            return lambda: int(open(path).read().split("usage_usec")[1].split()[0]) / 1e3
    return lambda: float("nan")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--no-http", action="store_true", help="leave out the server's rows")
    ap.add_argument("--also-bin", help="another runcell (e.g. before a change): its `runcell "
                    "judge` rows too, labelled with its path")
    ap.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the runs)")
    binary = os.path.abspath(a.bin)
    ncpu = os.cpu_count() or 1
    work = tempfile.mkdtemp(prefix="runcell-bench-judge-")
    os.chmod(work, 0o755)
    src = os.path.join(work, "sum.c")
    with open(src, "w") as f:
        f.write(SOURCE)
    cases = tests(NTESTS)
    dirs = {}
    for n in (1, NTESTS):
        d = dirs[n] = os.path.join(work, "tests%d" % n)
        os.mkdir(d)
        for name, stdin, out in cases[:n]:
            with open(os.path.join(d, name + ".in"), "w") as f:
                f.write(stdin)
            with open(os.path.join(d, name + ".out"), "w") as f:
                f.write(out)
    main_bin = host_compile(work)
    bw = bwrap_argv() + ["--ro-bind", main_bin, "/tmp/main", "/tmp/main"]

    # name -> (at once, fn(n tests) -> ms); runcell rows are measured at 1 and at 100 tests
    variants = [
        ("bare", 1, lambda n: run_direct([main_bin], cases[:n], 1)),
        ("bubblewrap", 1, lambda n: run_direct(bw, cases[:n], 1)),
        ("runcell judge --parallel 1", 1, lambda n: run_cli(binary, dirs[n], src, 1, n)),
        ("runcell judge --parallel 1 --fresh-sandboxes", 1,
         lambda n: run_cli(binary, dirs[n], src, 1, n, True)),
        ("bare", ncpu, lambda n: run_direct([main_bin], cases[:n], ncpu)),
        ("bubblewrap", ncpu, lambda n: run_direct(bw, cases[:n], ncpu)),
        ("runcell judge", ncpu, lambda n: run_cli(binary, dirs[n], src, 0, n)),
        ("runcell judge --fresh-sandboxes", ncpu,
         lambda n: run_cli(binary, dirs[n], src, 0, n, True)),
    ]
    if a.also_bin:
        other = os.path.abspath(a.also_bin)
        variants.insert(3, ("runcell judge --parallel 1 (%s)" % a.also_bin, 1,
                            lambda n: run_cli(other, dirs[n], src, 1, n)))
        variants.append(("runcell judge (%s)" % a.also_bin, ncpu,
                         lambda n: run_cli(other, dirs[n], src, 0, n)))
    cg = "runcell-bench-judge-%d" % os.getpid()
    cg_dirs = enter_cgroup(cg)
    servers = []
    load_before = loadavg()
    try:
        if not a.no_http:
            for at_once in (1, ncpu):
                srv = Server(binary, "--warm", "c", "--max-concurrent", str(at_once),
                             "--queue", "16")
                servers.append(srv)
                variants.append(("runcell POST /api/v1/run", at_once,
                                 lambda n, s=srv: run_http(s, cases[:n])))
        marginal = {v[0] + "/%d" % v[1] for v in variants if v[0].startswith("runcell")}
        for name, at_once, fn in variants:  # warm up: page cache, root filesystems
            fn(NTESTS)
            if name + "/%d" % at_once in marginal:
                fn(1)
        totals = {(v[0], v[1]): [] for v in variants}
        ones = {(v[0], v[1]): [] for v in variants}
        cpu = {(v[0], v[1], n): [] for v in variants for n in (1, NTESTS)}
        cpu_ms = cpu_reader(cg_dirs)

        def measured(key, n, fn):
            c0 = cpu_ms()
            dt = fn(n)
            cpu[key + (n,)].append(cpu_ms() - c0)
            return dt
        for rep in range(a.reps):
            k = rep % len(variants)
            for name, at_once, fn in variants[k:] + variants[:k]:
                totals[(name, at_once)].append(measured((name, at_once), NTESTS, fn))
                if name + "/%d" % at_once in marginal:
                    ones[(name, at_once)].append(measured((name, at_once), 1, fn))
    finally:
        for srv in servers:
            srv.stop()
        leave_cgroup(cg, cg_dirs)
        shutil.rmtree(work, ignore_errors=True)
    load_after = loadavg()

    def per_test(key):
        t = statistics.median(totals[key])
        if ones[key]:
            return t, statistics.median(ones[key]), (t - statistics.median(ones[key])) / (NTESTS - 1)
        return t, None, t / NTESTS

    def cpu_per_test(key):
        c = statistics.median(cpu[key + (NTESTS,)])
        if ones[key]:
            return (c - statistics.median(cpu[key + (1,)])) / (NTESTS - 1)
        return c / NTESTS

    rows = ["| variant | tests at once | total ms (100 tests) | ms (1 test) | ms per test | "
            "overhead over bare, ms per test | ÷ bare | ÷ bubblewrap | CPU ms per test |",
            "|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for at_once in sorted({v[1] for v in variants}):
        bare = per_test(("bare", at_once))[2]
        bwrap = per_test(("bubblewrap", at_once))[2]
        for name, n_at_once, _ in variants:
            if n_at_once != at_once:
                continue
            total, one, pt = per_test((name, at_once))
            rows.append("| %s | %d | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
                name, at_once, total, "%.0f" % one if one is not None else "-", pt, pt - bare,
                pt / bare, pt / bwrap, cpu_per_test((name, at_once))))
            if name.startswith("runcell"):
                summary.append("%s (%d at once): %+.2f ms per test over bare" % (
                    name, at_once, pt - bare))
    cmd = "bench/judge.py --reps %d%s%s" % (a.reps, " --no-http" if a.no_http else "",
                                           " --also-bin " + a.also_bin if a.also_bin else "")
    header = ("%s, %d cores, kernel %s, cgroup v1 (hybrid host); load average (1, 5, 15 min) "
              "before: %s, after: %s; median of %d interleaved rounds" % (
                  time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ncpu, platform.release(),
                  load_before, load_after, a.reps))
    notes = (
        "One C program (read two numbers, print their sum), %d tests differing in their input, "
        "every verdict checked. **bare** and **bubblewrap** run the binary compiled on the host "
        "with the C toolchain's flags, once per test, from Python's subprocess (one at a time, "
        "or %d at once from a thread pool); their cost per test is the total over %d. The "
        "runcell rows compile the source once in a sandbox and run the tests with every limit "
        "and seccomp, each test going at once in a sandbox of its own that the tests after it "
        "run in, reset between them (every process killed, /work, /tmp, /dev/shm and IPC "
        "emptied, the cgroup's counters reset: docs/protocol.md), or with --fresh-sandboxes "
        "each test in a new sandbox; their cost per test is the marginal "
        "one, (T(%d tests) - T(1 test)) / %d, so the compile stage and the CLI's own start are "
        "not counted in it (they are in the \"1 test\" column; with the build cache on, as by "
        "default, every round after the first takes the compile from it). At %d at once, \"ms per test\" "
        "is wall-clock time divided by the tests (they overlap), compared with bare at the "
        "same concurrency. **CPU ms per test** is the CPU time every process of the variant used "
        "(the benchmark's cgroup and beneath it: Python's side, runcell, its helper, the "
        "sandboxes), per test as above: on a busy 2-core machine it bounds the rate more "
        "than the wall clock shows. The goal: at most %.0f ms per test over bare." % (
            NTESTS, ncpu, NTESTS, NTESTS, NTESTS - 1, ncpu, GOAL_MS))
    text = "\n".join([header, "", notes, ""] + rows + [""] + ["- " + s for s in summary])
    print(text)
    if a.write:
        write_section("judge", "Judge: 100 tests: `%s`" % cmd, text)


if __name__ == "__main__":
    main()
