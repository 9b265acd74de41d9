#!/usr/bin/python3
"""One-shot cost of a python hello inside the tests/vm guest (Debian 12's kernel on a pure
cgroup v2 host, in qemu), interleaved rounds of:

  bare                   /usr/bin/python3 hello.py
  bubblewrap             the same in bwrap (benchlib's command line: every namespace, read-only
                         /usr, fresh /proc, /dev, /tmp)
  bubblewrap, rootfs python  bwrap with the python root filesystem runcell unpacked as a
                         read-only /, its python3: what runcell runs, so the difference to
                         the bubblewrap row is what the other python costs by itself
  sandbox floor          bench/floor.c (runcell-bench-floor, built beside runcell): a static
                         program doing only the kernel's part of a fresh sandbox (every
                         namespace, id maps, that read-only root, /tmp, /proc, pivot_root, the
                         python as pid 1); no cgroup, seccomp, /dev, init or configuration. Its
                         overhead is a lower bound for any sandbox built afresh per run
  runcell run            a whole `runcell run --lang python hello.py` (every limit, seccomp)

Run as root inside a delegated cgroup, as tests/vm/guest.py does (in the subtree that
`scripts/cgroup-delegate create` made, from a process left in it by `cgroup-delegate exec`), so
runcell makes its sandbox's leaf beside that process's and places the sandbox there with
CLONE_INTO_CGROUP. Prints a Markdown table, then one summary line:

  vm_oneshot: runs=N bare_ms=... bwrap_ms=... rootfs_bwrap_ms=... floor_ms=... runcell_ms=...
              overhead_ratio=... floor_ratio=...

overhead_ratio is runcell's median overhead over bare divided by bubblewrap's (the goal: below
1/3), floor_ratio the floor's. Then the RUNCELL_TRACE=1 lines of one more runcell run (where its
time goes), each with the time it arrived since the spawn, and when runcell exited: the time
before the first step's end and after the summary line is runcell's start and exit. tests/vm/run --write-bench puts the table into
docs/BENCHMARKS.md.

  bench/vm_oneshot.py [--runs 20] [--bin build/runcell]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, bwrap_argv, bwrap_python, floor_argv, pct, unpacked_rootfs
from startup import timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (bubblewrap and runcell compared under the same uid)")
    work = tempfile.mkdtemp(prefix="runcell-vm-bench-")
    os.chmod(work, 0o755)
    hello = os.path.join(work, "hello.py")
    with open(hello, "w") as f:
        f.write('print("hello, world")\n')
    runcell = [a.bin, "run", "--lang", "python", hello]
    trace = []
    try:
        timed(runcell, "hello")  # unpacks the root filesystem if it was not yet
        rfs = unpacked_rootfs("python")
        bw = bwrap_argv()
        variants = [
            ("bare", ["/usr/bin/python3", hello]),
            ("bubblewrap", bwrap_python(hello)),
            ("bubblewrap, rootfs python",
             [bw[0], "--unshare-all", "--die-with-parent", "--ro-bind", rfs, "/", "--proc", "/proc",
              "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", hello, "/tmp/hello.py",
              "/usr/bin/python3", "/tmp/hello.py"]),
            ("sandbox floor", floor_argv(a.bin, rfs, ["/usr/bin/python3", "/tmp/hello.py"], hello)),
            ("runcell run", runcell),
        ]
        for _, argv in variants:  # warm up: page cache
            timed(argv, "hello")
        times = {n: [] for n, _ in variants}
        for i in range(a.runs):
            k = i % len(variants)
            for n, argv in variants[k:] + variants[:k]:
                times[n].append(timed(argv, "hello"))
        # where one more runcell run spends its time (RUNCELL_TRACE=1)
        # each line with when it arrived (ms since the spawn), and the exit: what comes before
        # runcell's first step (exec, its start) and after its last (its exit) shows too
        t0 = time.monotonic()
        tr = subprocess.Popen(runcell, env=dict(os.environ, RUNCELL_TRACE="1"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
        for line in tr.stderr:
            at = (time.monotonic() - t0) * 1000
            line = line.decode("utf-8", "replace").rstrip("\n")
            if "trace:" in line or "run:" in line:
                trace.append("%7.1f ms  %s" % (at, line.replace("runcell: trace: ", "")))
        tr.wait()
        trace.append("%7.1f ms  (runcell exited)" % ((time.monotonic() - t0) * 1000))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {n: statistics.median(v) for n, v in times.items()}
    over = {n: med[n] - med["bare"] for n in med}
    print("| variant | median ms | p95 ms | overhead over bare ms | overhead ÷ bubblewrap's |")
    print("|---|---|---|---|---|")
    for n, _ in variants:
        ratio = "-" if n == "bare" else "%.2f" % (over[n] / over["bubblewrap"])
        print("| %s | %.1f | %.1f | %.1f | %s |" % (n, med[n], pct(times[n], 95), over[n], ratio))
    print("vm_oneshot: runs=%d bare_ms=%.1f bwrap_ms=%.1f rootfs_bwrap_ms=%.1f floor_ms=%.1f "
          "runcell_ms=%.1f overhead_ratio=%.2f floor_ratio=%.2f" % (
              a.runs, med["bare"], med["bubblewrap"], med["bubblewrap, rootfs python"],
              med["sandbox floor"], med["runcell run"], over["runcell run"] / over["bubblewrap"],
              over["sandbox floor"] / over["bubblewrap"]))
    for line in trace:
        print(line)


if __name__ == "__main__":
    main()
