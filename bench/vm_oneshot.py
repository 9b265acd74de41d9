#!/usr/bin/python3
"""One-shot cost of a python hello inside the tests/vm guest (Debian 12's kernel on a pure
cgroup v2 host, in qemu): bare /usr/bin/python3, bubblewrap (benchlib's command line: every
namespace, read-only /usr), and a whole `runcell run` invocation, interleaved.

Run as root inside a delegated cgroup, as tests/vm/guest.py does (in the subtree that
`scripts/cgroup-delegate create` made, from a process left in it by `cgroup-delegate exec`), so
runcell makes its sandbox's leaf beside that process's and places the sandbox there with
CLONE_INTO_CGROUP. Prints a Markdown table and one summary line:

  vm_oneshot: runs=N bare_ms=... bwrap_ms=... runcell_ms=... overhead_ratio=...

overhead_ratio is runcell's median overhead over bare divided by bubblewrap's (the goal: below
1/3). tests/vm/run --write-bench puts the table into docs/BENCHMARKS.md.

  bench/vm_oneshot.py [--runs 20] [--bin build/runcell]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

from benchlib import ROOT, bwrap_python, pct
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
    variants = [("bare", ["/usr/bin/python3", hello]),
                ("bubblewrap", bwrap_python(hello)),
                ("runcell run", [a.bin, "run", "--lang", "python", hello])]
    try:
        for _, argv in variants:  # warm up: unpack the root filesystem, page cache
            timed(argv, "hello")
        times = {n: [] for n, _ in variants}
        for i in range(a.runs):
            k = i % len(variants)
            for n, argv in variants[k:] + variants[:k]:
                times[n].append(timed(argv, "hello"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {n: statistics.median(v) for n, v in times.items()}
    over = {n: med[n] - med["bare"] for n in med}
    print("| variant | median ms | p95 ms | overhead over bare ms | overhead ÷ bubblewrap's |")
    print("|---|---|---|---|---|")
    for n, _ in variants:
        ratio = "-" if n == "bare" else "%.2f" % (over[n] / over["bubblewrap"])
        print("| %s | %.1f | %.1f | %.1f | %s |" % (n, med[n], pct(times[n], 95), over[n], ratio))
    print("vm_oneshot: runs=%d bare_ms=%.1f bwrap_ms=%.1f runcell_ms=%.1f overhead_ratio=%.2f" % (
        a.runs, med["bare"], med["bubblewrap"], med["runcell run"],
        over["runcell run"] / over["bubblewrap"]))


if __name__ == "__main__":
    main()
