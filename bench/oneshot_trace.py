#!/usr/bin/python3
"""Where a one-shot `runcell run` spends its time, step by step: N runs of a python hello
with RUNCELL_TRACE=1 in a delegated cgroup of their own (as bench/startup.py runs them), the
median and p90 of every step the trace names, and of the whole command.

On cgroup v1 the parent moves the child into its leaf ("parent: cgroup attach", which waits
for an RCU grace period) while the child builds its root; the child waits for the outcome
only at its "child cgroup" step. That step's time is what the move costs the command.

  bench/oneshot_trace.py [--runs 30] [--lang python] [--bin build/runcell]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, enter_cgroup, example, leave_cgroup, pct

STEP = re.compile(r"^runcell: trace: (.*?)\s+(\d+) us(?:\s+@[\d.]+)?$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--lang", default="python")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup)")
    ex = {"python": "py", "c": "c", "bash": "sh"}.get(a.lang, a.lang)
    work = tempfile.mkdtemp(prefix="runcell-oneshot-")
    src = os.path.join(work, "hello." + ex)
    with open(src, "w") as f:
        f.write(example(a.lang)["source"])
    cg = "runcell-oneshot-%d" % os.getpid()
    dirs = enter_cgroup(cg)
    steps, order, total = {}, [], []
    try:
        for _ in range(a.runs):
            t0 = time.perf_counter()
            r = subprocess.run([a.bin, "run", "--lang", a.lang, src], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, RUNCELL_TRACE="1"))
            total.append((time.perf_counter() - t0) * 1000)
            if r.returncode != 0:
                sys.exit("runcell run failed: %s" % r.stderr[-2000:])
            for line in r.stderr.splitlines():
                m = STEP.match(line)
                if m:
                    if m.group(1) not in steps:
                        order.append(m.group(1))
                    steps.setdefault(m.group(1), []).append(int(m.group(2)) / 1000.0)
            time.sleep(0.3)  # idle between runs, as a command typed or run by a script is
    finally:
        leave_cgroup(cg, dirs)
        subprocess.run(["rm", "-rf", work])
    print("%s hello, %d one-shot runs, %s, %d cores, kernel %s" % (
        a.lang, a.runs, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), os.uname().release))
    print()
    print("| step (RUNCELL_TRACE) | median ms | p90 ms |")
    print("|---|---|---|")
    for name in order:
        v = steps[name]
        print("| %s | %.2f | %.2f |" % (name, statistics.median(v), pct(v, 90)))
    print("| **the whole command** | %.2f | %.2f |" % (statistics.median(total), pct(total, 90)))


if __name__ == "__main__":
    main()
