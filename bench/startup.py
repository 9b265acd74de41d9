#!/usr/bin/python3
"""Per-run cost of a program bare, in bubblewrap, and through `runcell run`, interleaved.

Each round runs every variant once, in a rotating order, so drift on the machine (other load,
caches) spreads over all of them. Prints a table (median, p95) with ratios and, with --write,
replaces the matching section of docs/BENCHMARKS.md with it and the command that produced it.

  bench/startup.py [--runs 20] [--bin build/runcell] [--write]
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pct(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def timed(argv, env=None, expect=None):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, stdin=subprocess.DEVNULL)
    dt = (time.perf_counter() - t0) * 1000.0
    if r.returncode != 0 or (expect is not None and expect not in r.stdout.decode(errors="replace")):
        sys.exit("benchmark command failed: %s\nexit %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), r.returncode, r.stdout[:500], r.stderr[:500]))
    return dt


def unpacked_rootfs(runcell, name):
    """The tree runcell unpacked for a root filesystem (so bwrap gets the very same files)."""
    state = os.environ.get("RUNCELL_STATE_DIR") or ("/var/lib/runcell" if os.geteuid() == 0 else
                                                      os.path.expanduser("~/.local/state/runcell"))
    rootfs_dir = os.environ.get("RUNCELL_ROOTFS_DIR") or "/var/cache/runcell/rootfs"
    with open(os.path.join(rootfs_dir, name + ".tar.zst.sha256")) as f:
        sha = f.read().split()[0]
    path = os.path.join(state, "rootfs", sha)
    if not os.path.isdir(path):
        sys.exit("no unpacked %s root filesystem at %s" % (name, path))
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="runcell-bench-")
    hello = os.path.join(work, "hello.py")
    with open(hello, "w") as f:
        f.write('print("hello, world")\n')
    # Warm up: unpacks the root filesystem once, fills the page cache.
    timed([a.bin, "run", "--lang", "python", hello], expect="hello")
    rootfs = unpacked_rootfs(a.bin, "python")
    bwrap = shutil.which("bwrap")

    variants = [("bare /usr/bin/python3", ["/usr/bin/python3", hello])]
    if bwrap:
        variants.append(("bubblewrap", [
            bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", rootfs, "/",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/work",
            "--ro-bind", hello, "/work/hello.py", "--chdir", "/work", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "python3", "-u", "hello.py"]))
    variants.append(("runcell run", [a.bin, "run", "--lang", "python", hello]))

    times = {name: [] for name, _ in variants}
    for i in range(a.runs):
        order = variants[i % len(variants):] + variants[:i % len(variants)]
        for name, argv in order:
            times[name].append(timed(argv, expect="hello"))

    bare = statistics.median(times[variants[0][0]])
    bw = statistics.median(times["bubblewrap"]) if bwrap else None
    lines = ["| variant | median ms | p95 ms | × bare | overhead over bare ms | × bubblewrap overhead |",
             "|---|---|---|---|---|---|"]
    for name, _ in variants:
        med = statistics.median(times[name])
        over = med - bare
        ratio_bw = ("%.2f" % (over / (bw - bare))) if bw and bw > bare and name != variants[0][0] else "-"
        lines.append("| %s | %.1f | %.1f | %.2f | %.1f | %s |" % (
            name, med, pct(times[name], 95), med / bare, over, ratio_bw))
    cmd = "bench/startup.py --runs %d" % a.runs
    header = "python hello world, %d interleaved rounds, %s, %d cores, kernel %s, as %s" % (
        a.runs, time.strftime("%Y-%m-%d"), os.cpu_count(), platform.release(),
        "root" if os.geteuid() == 0 else "an unprivileged user")
    table = "\n".join(lines)
    print(header)
    print(table)
    shutil.rmtree(work, ignore_errors=True)

    if a.write:
        path = os.path.join(ROOT, "docs", "BENCHMARKS.md")
        begin, end = "<!-- startup:begin -->", "<!-- startup:end -->"
        section = "%s\n## Start-up: `%s`\n\n%s.\n\n%s\n%s" % (begin, cmd, header, table, end)
        text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nMeasured by the scripts in `bench/`; each section says the command.\n\n"
        if begin in text:
            text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        with open(path, "w") as f:
            f.write(text)
        print("wrote", path)


if __name__ == "__main__":
    main()
