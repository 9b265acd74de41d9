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
  floor + runcell's layers  runcell-bench-floor --layers: the floor plus the kernel's side of
                         every isolation layer runcell adds (read-only overlay root, /work, the
                         /proc masks, a /dev of its own, hostname, lo up, no capabilities, a
                         496-instruction seccomp filter, an init that forks the program and
                         reports; on cgroup v2 a leaf with runcell's limits beside ours, the
                         sandbox born in it; runcell's own compiled filter from its seccomp
                         cache when it is there), still no configuration and none of runcell's own
                         code: what that isolation costs the kernel per fresh sandbox
  runcell run            a whole `runcell run --no-warm --lang python hello.py` (every limit,
                         seccomp), its sandbox built by the command
  runcell run, runcell warm  the same command (without --no-warm) while a `runcell warm` of
                         root's runs: its sandbox, as new and as isolated, was prepared before
                         the command started (src/job/warm.h)

Every timed command is followed by a pause of PAUSE_S, whatever the variant: runcell warm
prepares its next sandbox once a run is over, and that must not land in the next command's time.

Run as root inside a delegated cgroup, as tests/vm/guest.py does (in the subtree that
`scripts/cgroup-delegate create` made, from a process left in it by `cgroup-delegate exec`), so
runcell makes its sandbox's leaf beside that process's and places the sandbox there with
CLONE_INTO_CGROUP. Prints a Markdown table, then one summary line:

  vm_oneshot: runs=N bare_ms=... bwrap_ms=... rootfs_bwrap_ms=... floor_ms=... layers_ms=...
              runcell_ms=... warm_ms=... overhead_ratio=... warm_ratio=... floor_ratio=...
              layers_ratio=...

overhead_ratio is the median overhead over bare of runcell run building its own sandbox divided
by bubblewrap's, warm_ratio that of runcell run with runcell warm (the goal: below 1/3),
floor_ratio the floor's, layers_ratio the layered floor's. Then where runcell's time goes:
the RUNCELL_TRACE=1 lines of 5 more runcell runs, as the steps of the last with the median over
the 5 of when each step ended (ms since the spawn, from the line's own CLOCK_MONOTONIC time) and
of its duration, in that order; "main" is when runcell's main() began (its exec and start before
it), and the last line when runcell exited. tests/vm/run --write-bench puts the table into
docs/BENCHMARKS.md.

With --layer-costs, a row more for each layer: the layered floor without it (what that layer
costs is its difference to the layered floor's row).

  bench/vm_oneshot.py [--runs 20] [--bin build/runcell] [--layer-costs]
"""
import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (ROOT, bwrap_argv, bwrap_python, floor_argv, pct, start_warm, stop_warm,
                      unpacked_rootfs)
from startup import timed


def leaf_parent():
    """The cgroup v2 directory our cgroup is a leaf of, when it has the controllers on for its
    children (a delegated one, as runcell uses it): where the layered floor makes its leaf."""
    try:
        with open("/proc/self/cgroup") as f:
            line = [x for x in f.read().splitlines() if x.startswith("0::")]
        if not line or not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            return None
        parent = os.path.dirname("/sys/fs/cgroup" + line[0][3:].rstrip("/"))
        with open(os.path.join(parent, "cgroup.subtree_control")) as f:
            on = f.read().split()
        return parent if {"memory", "pids", "cpu"} <= set(on) else None
    except OSError:
        return None


TRACED_RUNS = 5
PAUSE_S = 0.3
# runcell-bench-floor --without's names (bench/floor.c)
LAYERS = ("overlay", "work", "proc-masks", "dev", "lo", "caps", "seccomp", "init")


def traced(argv):
    """One RUNCELL_TRACE=1 run: [(label, ms since the spawn, its µs or None)], the time each
    step ended by the line's own clock (CLOCK_MONOTONIC, as time.monotonic() here: the lines of
    the command, the worker and the sandbox on one time line, whatever order they came in), or
    when the line arrived if it has none (the summary line)."""
    steps = []
    t0 = time.monotonic()
    tr = subprocess.Popen(argv, env=dict(os.environ, RUNCELL_TRACE="1"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL)
    for line in tr.stderr:
        at = (time.monotonic() - t0) * 1000
        line = line.decode("utf-8", "replace").rstrip("\n")
        if "trace:" in line:
            text = line.replace("runcell: trace: ", "")
            m = re.match(r"(.*?)\s+@(\d+\.\d+)$", text)
            if m:
                text, at = m.group(1), float(m.group(2)) - t0 * 1000
            m = re.match(r"(.*?)\s+(\d+) us$", text)
            steps.append((m.group(1), at, int(m.group(2))) if m else (text, at, None))
        elif "run:" in line:
            steps.append(("runcell: " + line.split("runcell: ", 1)[-1], at, None))
    tr.wait()
    steps.append(("(runcell exited)", (time.monotonic() - t0) * 1000, None))
    return steps


def trace_medians(runs):
    """Every step of the last traced run with the median over all runs of when it ended and of
    how long it took (runs missing a step are left out of its medians), in the order of those
    times."""
    if not runs:
        return []
    rows = []
    for label, _, us in runs[-1]:
        ats = [a for r in runs for (lb, a, _) in r if lb == label]
        uss = [u for r in runs for (lb, _, u) in r if lb == label and u is not None]
        at = statistics.median(ats)
        if label.startswith("runcell: run:") or us is None or not uss:
            rows.append((at, "%7.1f ms  %s" % (at, label)))
        else:
            rows.append((at, "%7.1f ms  %-30s %6d us" % (at, label, statistics.median(uss))))
    return [text for _, text in sorted(rows, key=lambda r: r[0])]


def cached_filter():
    """runcell's compiled default filter, from its seccomp cache (root's state directory, as
    this benchmark runs runcell), or None."""
    state = os.environ.get("RUNCELL_STATE_DIR") or "/var/lib/runcell"
    files = glob.glob(os.path.join(state, "seccomp", "default-*.bpf"))
    return max(files, key=os.path.getmtime) if files else None


def bwrap_rootfs_python(rfs, script, name):
    """bubblewrap with the root filesystem RFS read-only as /, running its python3 on SCRIPT
    (bound read-only at /tmp/NAME)."""
    return [bwrap_argv()[0], "--unshare-all", "--die-with-parent", "--ro-bind", rfs, "/",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", script,
            "/tmp/" + name, "/usr/bin/python3", "/tmp/" + name]


def check_same_python(runcell_lang, rfs, work):
    """None if RUNCELL_LANG (a runcell run command line without its file) runs the python of the
    root filesystem RFS, else what differs."""
    probe = os.path.join(work, "version.py")
    with open(probe, "w") as f:
        f.write("import sys\nprint(sys.version)\n")
    said = []
    for argv in (runcell_lang + [probe], bwrap_rootfs_python(rfs, probe, "version.py")):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
        said.append(p.stdout.decode("utf-8", "replace").strip())
    if said[0] and said[0] == said[1]:
        return None
    return "runcell's python (%r) is not that of the root filesystem %s (%r)" % (said[0], rfs,
                                                                                 said[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--layer-costs", action="store_true",
                    help="a row more for each of runcell's layers, the layered floor without it")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (bubblewrap and runcell compared under the same uid)")
    work = tempfile.mkdtemp(prefix="runcell-vm-bench-")
    os.chmod(work, 0o755)
    hello = os.path.join(work, "hello.py")
    with open(hello, "w") as f:
        f.write('print("hello, world")\n')
    runcell = [a.bin, "run", "--no-warm", "--lang", "python", hello]
    runcell_warm = [a.bin, "run", "--lang", "python", hello]
    trace, trace_warm = [], []
    warm = None
    lent = ""
    try:
        timed(runcell, "hello")  # unpacks the root filesystem if it was not yet
        rfs = unpacked_rootfs("python")
        # the rootfs rows run the python runcell runs: checked (its language "python" may be
        # another version when more root filesystems are there)
        said = check_same_python(runcell[:-1], rfs, work)
        if said:
            sys.exit(said)
        variants = [
            ("bare", ["/usr/bin/python3", hello]),
            ("bubblewrap", bwrap_python(hello)),
            ("bubblewrap, rootfs python", bwrap_rootfs_python(rfs, hello, "hello.py")),
            ("sandbox floor", floor_argv(a.bin, rfs, ["/usr/bin/python3", "/tmp/hello.py"], hello)),
            ("floor + runcell's layers",
             floor_argv(a.bin, rfs, ["/usr/bin/python3", "/tmp/hello.py"], hello,
                        layers=True, cgroup=leaf_parent(), bpf=cached_filter())),
            ("runcell run", runcell),
            ("runcell run, runcell warm", runcell_warm),
        ]
        if a.layer_costs:
            for layer in LAYERS:
                variants.append(("layered floor without %s" % layer,
                                 floor_argv(a.bin, rfs, ["/usr/bin/python3", "/tmp/hello.py"],
                                            hello, layers=True, cgroup=leaf_parent(),
                                            bpf=cached_filter(), without=layer)))
            variants.append(("layered floor without cgroup",
                             floor_argv(a.bin, rfs, ["/usr/bin/python3", "/tmp/hello.py"], hello,
                                        layers=True, bpf=cached_filter())))
        warm = start_warm(a.bin)
        for _, argv in variants:  # warm up: page cache
            timed(argv, "hello")
            time.sleep(PAUSE_S)
        times = {n: [] for n, _ in variants}
        for i in range(a.runs):
            k = i % len(variants)
            for n, argv in variants[k:] + variants[:k]:
                times[n].append(timed(argv, "hello"))
                time.sleep(PAUSE_S)
        # where runcell runs spend their time (RUNCELL_TRACE=1), a few runs for medians: each
        # line with when it arrived (ms since the spawn), and the exit: what comes before
        # runcell's first step (exec, its start) and after its last (its exit) shows too
        for _ in range(TRACED_RUNS):
            trace.append(traced(runcell))
            time.sleep(PAUSE_S)
            trace_warm.append(traced(runcell_warm))
            time.sleep(PAUSE_S)
    finally:
        if warm:
            lent = stop_warm(*warm)
        shutil.rmtree(work, ignore_errors=True)
    med = {n: statistics.median(v) for n, v in times.items()}
    over = {n: med[n] - med["bare"] for n in med}
    print("| variant | median ms | p95 ms | overhead over bare ms | overhead ÷ bubblewrap's |")
    print("|---|---|---|---|---|")
    for n, _ in variants:
        ratio = "-" if n == "bare" else "%.2f" % (over[n] / over["bubblewrap"])
        print("| %s | %.1f | %.1f | %.1f | %s |" % (n, med[n], pct(times[n], 95), over[n], ratio))
    layers = "floor + runcell's layers"
    wname = "runcell run, runcell warm"
    print("vm_oneshot: runs=%d bare_ms=%.1f bwrap_ms=%.1f rootfs_bwrap_ms=%.1f floor_ms=%.1f "
          "layers_ms=%.1f runcell_ms=%.1f warm_ms=%.1f overhead_ratio=%.2f warm_ratio=%.2f "
          "floor_ratio=%.2f layers_ratio=%.2f" % (
              a.runs, med["bare"], med["bubblewrap"], med["bubblewrap, rootfs python"],
              med["sandbox floor"], med[layers], med["runcell run"], med[wname],
              over["runcell run"] / over["bubblewrap"], over[wname] / over["bubblewrap"],
              over["sandbox floor"] / over["bubblewrap"], over[layers] / over["bubblewrap"]))
    print("runcell warm at the end: %s" % lent)
    print("runcell run (its own sandbox):")
    for line in trace_medians(trace):
        print(line)
    print("runcell run, runcell warm:")
    for line in trace_medians(trace_warm):
        print(line)


if __name__ == "__main__":
    main()
