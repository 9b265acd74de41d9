#!/usr/bin/python3
"""Per-run cost of a program bare, in bubblewrap, and through `runcell run`, interleaved.

Two programs: /bin/true and a python hello world. Variants:
  bare        the program itself
  bubblewrap  bwrap --unshare-all --die-with-parent, read-only /usr (Debian's bubblewrap)
  sandbox floor  bench/floor.c (runcell-bench-floor): a static program doing only the kernel's
                 part of a fresh sandbox (namespaces, id maps, the language's root read-only,
                 /tmp, /proc, pivot_root, the program as pid 1), no cgroup, seccomp, /dev or
                 init: a lower bound for any sandbox built afresh per run
  runcell run    `runcell run --no-warm`: a whole CLI invocation (process start, toolchains,
                 seccomp compile, cgroup leaf, namespaces, root, program, teardown)
  runcell run, runcell warm  the same command while a `runcell warm` runs (src/job/warm.h):
                 handed over to a worker with the toolchains loaded, in a sandbox built ahead
                 (new, for this run only); a pause of WARM_PAUSE_S follows each, in which runcell
                 warm prepares the next, so that it lands in no other row's time. runcell warm
                 serves every `runcell run` of root's meanwhile: run this on a quiet machine
  runcell batch  one request to a running `runcell batch` (what a server does per request):
                 it takes a sandbox prepared after the previous answer (namespaces, cgroup
                 leaf, root, filter), sends the request, runs the program, reaps everything
  Both with every limit (cgroup memory, pids, CPU; rlimits; tmpfs sizes) and the seccomp
  filter on.

Each round runs every variant once in a rotating order, so drift on the machine spreads over
all of them. All variants run inside one delegated cgroup (runcell needs it; the others get
the same surroundings). Run as root. With --write, the tables replace their section of
docs/BENCHMARKS.md together with the command.

  bench/startup.py [--runs 200] [--bin build/runcell] [--write]
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (ROOT, bwrap_argv, bwrap_python, enter_cgroup, example, floor_argv, leave_cgroup,
                      pct, start_warm, stop_warm, toolchains_dir, unpacked_rootfs, write_section)

WARM_PAUSE_S = 0.1


def timed(argv, expect):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    dt = (time.perf_counter() - t0) * 1000.0
    if r.returncode != 0 or expect not in r.stdout.decode(errors="replace"):
        sys.exit("benchmark command failed: %s\nexit %d\nstdout: %r\nstderr: %r" % (
            " ".join(argv), r.returncode, r.stdout[:300], r.stderr[:500]))
    return dt


class Batch:
    """A running `runcell batch`; one timed request at a time."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)

    def timed(self, request, expect):
        t0 = time.perf_counter()
        self.p.stdin.write(request + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        dt = (time.perf_counter() - t0) * 1000.0
        try:
            ans = json.loads(line)
            ok = ans["run"]["status"] == "ok" and expect in ans["run"]["stdout"]
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            sys.exit("batch request failed: %s -> %r" % (request, line[:500]))
        return dt

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def table(title, times, order, bwrap_name):
    bare = statistics.median(times[order[0]])
    bw = statistics.median(times[bwrap_name]) if bwrap_name in times else None
    lines = ["**%s**" % title, "",
             "| variant | median ms | p95 ms | overhead over bare ms | overhead ÷ bubblewrap's |",
             "|---|---|---|---|---|"]
    for name in order:
        med = statistics.median(times[name])
        over = med - bare
        ratio = "%.2f" % (over / (bw - bare)) if bw and bw > bare and name != order[0] else "-"
        lines.append("| %s | %.2f | %.2f | %.2f | %s |" % (name, med, pct(times[name], 95), over, ratio))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the runs)")
    bw = bwrap_argv()

    work = tempfile.mkdtemp(prefix="runcell-bench-")
    os.chmod(work, 0o755)
    py_hello = example("python")  # the toolchain's hello world, as tests and docs run it
    hello = os.path.join(work, "hello.py")
    with open(hello, "w") as f:
        f.write(py_hello["source"])
    marker = os.path.join(work, "true.txt")
    with open(marker, "w") as f:
        f.write("x\n")
    # A toolchain that runs /bin/true from the base root filesystem, next to the real ones.
    tcdir = os.path.join(work, "toolchains")
    shutil.copytree(toolchains_dir(), tcdir)
    with open(os.path.join(tcdir, "true.json"), "w") as f:
        f.write('{"name": "true", "rootfs": "base", "version_package": "coreutils",'
                ' "source_file": "true.txt", "run": ["/bin/true"],'
                ' "env": {"PATH": "/usr/bin:/bin"}, "seccomp_profile": "default",'
                ' "examples": {"hello": {"source": "-", "stdout": ""},'
                ' "stdin": {"source": "-", "stdin": "", "stdout": ""}}}\n')
    rcw = [a.bin, "--toolchains", tcdir, "run"]
    rc = rcw + ["--no-warm"]
    for lang, src in (("true", marker), ("python", hello)):  # unpack both root filesystems
        timed(rc + ["--lang", lang, src], py_hello["stdout"] if lang == "python" else "")
    programs = {
        "/bin/true": (
            [("bare", ["/bin/true"]),
             ("bubblewrap", bw + ["/bin/true"]),
             ("sandbox floor", floor_argv(a.bin, unpacked_rootfs("base"), ["/bin/true"])),
             ("runcell run", rc + ["--lang", "true", marker]),
             ("runcell run, runcell warm", rcw + ["--lang", "true", marker]),
             ("runcell batch", json.dumps({"language": "true", "source": "x"}))], ""),
        "python hello": (
            [("bare", ["/usr/bin/python3", hello]),
             ("bubblewrap", bwrap_python(hello)),
             ("sandbox floor", floor_argv(a.bin, unpacked_rootfs("python"),
                                          ["/usr/bin/python3", "/tmp/hello.py"], hello)),
             ("runcell run", rc + ["--lang", "python", hello]),
             ("runcell run, runcell warm", rcw + ["--lang", "python", hello]),
             ("runcell batch", json.dumps({"language": "python",
                                           "source": py_hello["source"]}))], py_hello["stdout"]),
    }

    cg = "runcell-bench-%d" % os.getpid()
    cg_dirs = enter_cgroup(cg)
    batch = None
    warm = None
    try:
        batch = Batch([a.bin, "--toolchains", tcdir, "batch", "--warm", "true,python"])
        warm = start_warm([a.bin, "--toolchains", tcdir])

        def timed_any(argv, expect):
            if isinstance(argv, str):
                return batch.timed(argv, expect)
            t = timed(argv, expect)
            if argv[:len(rcw)] == rcw and "--no-warm" not in argv:
                time.sleep(WARM_PAUSE_S)  # runcell warm prepares the next one
            return t

        for prog, (variants, expect) in programs.items():  # warm up: unpack, page cache
            for _, argv in variants:
                timed_any(argv, expect)
        times = {(p, n): [] for p, (vs, _) in programs.items() for n, _ in vs}
        flat = [(p, n, argv, e) for p, (vs, e) in programs.items() for n, argv in vs]
        for i in range(a.runs):
            k = i % len(flat)
            for p, n, argv, e in flat[k:] + flat[:k]:
                times[(p, n)].append(timed_any(argv, e))
    finally:
        if batch:
            batch.close()
        if warm:
            stop_warm(*warm)
        leave_cgroup(cg, cg_dirs)
        shutil.rmtree(work, ignore_errors=True)

    cmd = "bench/startup.py --runs %d" % a.runs
    header = ("%d interleaved rounds, %s, %d cores, kernel %s, cgroup v1 (hybrid host), "
              "runcell run with seccomp and memory/pids/cpu cgroup limits" % (
                  a.runs, time.strftime("%Y-%m-%d"), os.cpu_count(), platform.release()))
    notes = (
        "What each row pays: **bare** is the program started by the benchmark (Python's "
        "subprocess); **bubblewrap** adds all namespaces and a read-only /usr; **sandbox floor** is "
        "bench/floor.c, a static program doing only the kernel's part of a fresh sandbox "
        "(namespaces, id maps, a read-only root, /tmp, /proc, pivot_root; no cgroup, seccomp, "
        "/dev or init), a lower bound for any sandbox built afresh per run; **runcell run** is "
        "a whole CLI invocation: its language looked up (the toolchains' index), the seccomp "
        "program from its cache, a cgroup leaf with its limits, the sandbox (on this cgroup-v1 "
        "host moved into its leaf while it prepares, the move's RCU grace period off the run's "
        "path; born in it with CLONE_INTO_CGROUP on v2), the result and the teardown; **runcell "
        "batch** is one request to a running runcell that keeps a sandbox prepared (namespaces, "
        "cgroup leaf, root, filter) and prepares the next one after answering, as a server does; "
        "**runcell run, runcell warm** is the same command as runcell run while a `runcell warm` "
        "runs: the command hands itself over to a worker forked ahead with the toolchains loaded, "
        "which runs it in a sandbox built ahead (new, for this run only), then prepares the next "
        "in a pause of 0.1 s after the command (docs/ARCHITECTURE.md, \"Prepared before the "
        "command\"). "
        "A third of bubblewrap's overhead is met by the batch path, not by one-shot CLI runs "
        "(docs/BENCHMARKS.md, \"Why the one-shot goal is missed\"). The python rows are not like for like: bare "
        "and bubblewrap run the host's /usr/bin/python3, runcell the python root filesystem's "
        "(the same 3.11.2 with fewer site-packages, so it starts slightly faster).")
    out = [header, "", notes, ""]
    for prog, (variants, _) in programs.items():
        names = [n for n, _ in variants]
        sub = {n: times[(prog, n)] for n in names}
        out.append(table(prog, sub, names, "bubblewrap"))
        out.append("")
    text = "\n".join(out)
    print(text)
    if a.write:
        write_section("startup", "Start-up cost: `%s`" % cmd, text)


if __name__ == "__main__":
    main()
