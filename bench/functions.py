#!/usr/bin/python3
"""Functions (docs/protocol.md, "Functions"): a deployed function invoked over HTTP, beside the
same program run bare and in bubblewrap.

The C program (read a line, print it upper-cased) is deployed once to runcell as a function,
pinned to the C toolchain version of the host's own gcc (Debian's same package in the sandbox's
root filesystem), so that the artifact runcell compiled runs on the host too. Variants:
  bare        that very artifact (the file runcell compiled, from its artifact directory),
              fork+exec'd per invocation from Python's subprocess with the invocation's stdin,
              its stdout checked
  bubblewrap  the same binary in Debian's bwrap with every namespace and a read-only /usr
              (bench/benchlib.py's command line, as bench/judge.py runs it)
  runcell     POST /api/v1/functions/NAME/invoke on a kept-alive connection (http.client) to a
              `runcell serve` this script starts (in a delegated cgroup, as bench/judge.py), the
              body the stdin, the answer's body and X-Runcell-Status checked
Figures, every variant measured in each of --rounds interleaved rounds (each round runs the
variants in a rotated order), pooled over the rounds:
  - warm invoke latency, median and p95, one invocation at a time (goal: runcell's median at
    most bare's + 1 ms)
  - throughput at 8 clients: 8 threads, each with its own connection (or its own subprocesses),
    --invokes invocations each (goal: runcell at least 80 % of bare's)
  - cold start: the first invocation after a deploy with min_warm 0 (the function deleted and
    deployed again before each), beside bare's and bubblewrap's (every one of theirs is a fresh
    process or sandbox)
  - a 64 MiB artifact against a 4 KiB one, warm, interleaved (goal: medians within 0.3 ms)
  - the same figures, and goals, for a Python function pinned to the host's Python version
    (bare: /usr/bin/python3 on the host)
Run as root. With --write, the table replaces its section of docs/BENCHMARKS.md (between
<!-- functions:begin --> and <!-- functions:end -->, added at the end if absent).

  bench/functions.py [--rounds 5] [--invokes 200] [--bin build/runcell] [--write]
"""
import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import (ROOT, Server, bwrap_argv, bwrap_python, enter_cgroup, leave_cgroup, pct,
                      toolchain, write_section)
from judge import cpu_reader

CLIENTS = 8
COLD_PER_ROUND = 5
GOAL_LATENCY_MS = 1.0    # runcell's warm median over bare's
GOAL_THROUGHPUT = 0.80   # runcell's throughput at CLIENTS clients, as a share of bare's
GOAL_ARTIFACT_MS = 0.3   # 64 MiB artifact's warm median over the 4 KiB one's

UPPER_C = r"""#include <ctype.h>
#include <stdio.h>

int main(void)
{
        char b[4096];
        while (fgets(b, sizeof b, stdin)) {
                for (char *p = b; *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                fputs(b, stdout);
        }
        return 0;
}
"""
UPPER_PY = "import sys\nsys.stdout.write(sys.stdin.read().upper())\n"

# big is global and read through a volatile pointer: all of it stays, initialised, in .data
BIG_C = r"""#include <stdio.h>
#include <string.h>

char big[64 << 20] = {1};

int main(void)
{
        volatile char *p = big;
        char b[64];
        if (fgets(b, sizeof b, stdin))
                printf("%d %s", p[0] + p[strlen(b) << 20], b);
        return 0;
}
"""
SMALL_C = BIG_C.replace("64 << 20", "4096").replace("<< 20", "<< 7")


def stdin_of(i):
    return b"invoke %d of the benchmark\n" % i


def want_of(i):
    return stdin_of(i).upper()


def host_version(argv):
    """The version a host command prints (gcc -dumpversion: "12"; python3: "3.11"), or None."""
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def host_compile(work, source, name):
    """source compiled on the host with the C toolchain's compile command (its -O2)."""
    d = os.path.join(work, name)
    os.mkdir(d)
    os.chmod(d, 0o755)
    src = os.path.join(d, "main.c")
    with open(src, "w") as f:
        f.write(source)
    argv = []
    for w in toolchain("c")["compile"]:
        if w != "{options}":
            argv += [src] if w == "{sources}" else [w]
    subprocess.run(argv, cwd=d, check=True)
    return os.path.join(d, "main")


# ------------------------------------------------------------------ the variants
class Direct:
    """A command started per invocation (bare or in bubblewrap)."""

    def __init__(self, argv):
        self.argv = argv

    def __call__(self, i):
        r = subprocess.run(self.argv, input=stdin_of(i), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0 or r.stdout != want_of(i):
            sys.exit("%s: invocation %d gave %r (exit %d, %r)" % (
                " ".join(self.argv[-2:]), i, r.stdout[:200], r.returncode, r.stderr[-300:]))

    def client(self):
        return self  # no state per client

    def close(self):
        pass


class Invoker:
    """POST .../invoke on one kept-alive connection."""

    def __init__(self, port, name, want=want_of):
        self.port, self.name, self.want = port, name, want
        self.path = "/api/v1/functions/%s/invoke" % name
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.last_cold = None

    def __call__(self, i, body=None):
        self.conn.request("POST", self.path, body=stdin_of(i) if body is None else body)
        r = self.conn.getresponse()
        data = r.read()
        st = r.getheader("X-Runcell-Status")
        want = self.want(i)
        if r.status != 200 or st != "ok" or (want is not None and data != want):
            sys.exit("invoke %s #%d: HTTP %d, %s, %r (wanted %r)" % (self.name, i, r.status, st,
                                                                   data[:300], want))
        self.last_cold = r.getheader("X-Runcell-Cold")
        return data

    def client(self):
        return Invoker(self.port, self.name, self.want)

    def close(self):
        self.conn.close()


def api(port, method, path, doc=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        body = json.dumps(doc) if doc is not None else None
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def deploy(port, name, doc):
    st, o = api(port, "PUT", "/api/v1/functions/" + name, doc)
    if st not in (200, 201):
        sys.exit("deploy %s: HTTP %d %r" % (name, st, o))
    return o


# ------------------------------------------------------------------ measurements
def latencies(variant, first, n):
    """n invocations one after another (a fresh client: the server closes a connection idle
    for 5 s; its first invocation not timed); their latencies in ms."""
    fn = variant.client()
    out = []
    try:
        fn(first)
        for i in range(first, first + n):
            t0 = time.perf_counter()
            fn(i)
            out.append((time.perf_counter() - t0) * 1000.0)
    finally:
        fn.close()
    return out


def throughput(variant, clients, n):
    """clients threads, n invocations each (a client of its own each); invocations a second."""
    cs = [variant.client() for _ in range(clients)]
    for c in cs:  # a connection opened before the clock starts
        c(0)
    start = threading.Barrier(clients + 1)
    errors = []

    def work(k, c):
        start.wait()
        try:
            for i in range(n):
                c(k * n + i)
        except BaseException as e:  # noqa: BLE001 (sys.exit in a thread included)
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k, c)) for k, c in enumerate(cs)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    for c in cs:
        c.close()
    if errors:
        sys.exit("throughput: %s" % errors[0])
    return clients * n / dt


def cold_start(port, doc, name):
    """Delete NAME, deploy it with min_warm 0, invoke it: (deploy ms, first invoke ms, the
    second (warm) invoke ms)."""
    api(port, "DELETE", "/api/v1/functions/" + name)
    t0 = time.perf_counter()
    deploy(port, name, dict(doc, min_warm=0))
    t1 = time.perf_counter()
    inv = Invoker(port, name)
    inv(1)
    t2 = time.perf_counter()
    if inv.last_cold != "1":
        sys.exit("the first invocation after a deploy with min_warm 0 was not cold "
                 "(X-Runcell-Cold: %r)" % inv.last_cold)
    inv(2)
    t3 = time.perf_counter()
    inv.close()
    return (t1 - t0) * 1000.0, (t2 - t1) * 1000.0, (t3 - t2) * 1000.0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--invokes", type=int, default=200,
                    help="invocations per variant and round (latency), and per client "
                         "(throughput)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the server)")
    binary = os.path.abspath(a.bin)
    ncpu = os.cpu_count() or 1
    n = a.invokes
    work = tempfile.mkdtemp(prefix="runcell-bench-functions-")
    os.chmod(work, 0o711)  # the store and its artifacts beside it: searchable by the sandboxes
    upper_bin = host_compile(work, UPPER_C, "upper")
    script = os.path.join(work, "upper.py")
    with open(script, "w") as f:
        f.write(UPPER_PY)
    os.chmod(script, 0o644)
    cfg = os.path.join(work, "runcell.json")
    with open(cfg, "w") as f:
        json.dump({"store": {"path": os.path.join(work, "functions.db")}}, f)

    cg = "runcell-bench-functions-%d" % os.getpid()
    cg_dirs = enter_cgroup(cg)
    srv = None
    load_before = loadavg()
    try:
        srv = Server(binary, "--config", cfg, "--max-concurrent", str(CLIENTS), "--queue", "256")
        port = srv.port
        # Each pinned to the host's version of its toolchain: the sandbox runs Debian's same
        # compiler and interpreter as the bare variant (the newest version would be another
        # distribution's, with another C library: not the same program).
        gcc_v = host_version(["gcc", "-dumpversion"])
        py_v = host_version(["/usr/bin/python3", "-c",
                             "import sys; print('%d.%d' % sys.version_info[:2])"])
        c_doc = {"language": "c", "version": gcc_v or "*", "source": UPPER_C,
                 "min_warm": CLIENTS, "max_concurrent": CLIENTS}
        py_doc = {"language": "python", "version": py_v or "*", "source": UPPER_PY,
                  "min_warm": CLIENTS, "max_concurrent": CLIENTS}
        o = deploy(port, "bench-c", c_doc)
        # bare runs the artifact itself: the same compiled binary, byte for byte
        art = os.path.join(work, "functions.db.functions", "artifacts", o["artifact"], "main")
        if os.access(art, os.X_OK) and gcc_v:
            upper_bin = os.path.join(work, "upper", "artifact-main")
            shutil.copy(art, upper_bin)
            os.chmod(upper_bin, 0o755)
            bare_of = "the artifact runcell compiled (gcc %s)" % gcc_v
        else:
            bare_of = "the binary compiled on the host with the C toolchain's command"
        deploy(port, "bench-py", py_doc)
        lim = {"disk_mb": 512, "memory_mb": 1024, "file_size_mb": 256, "wall_ms": 120000,
               "cpu_ms": 120000}
        o = deploy(port, "bench-big", {"language": "c", "source": BIG_C, "compile_limits": lim,
                                       "limits": {"disk_mb": 256}})
        big_bytes = o["artifact_bytes"]
        o = deploy(port, "bench-small", {"language": "c", "source": SMALL_C})
        small_bytes = o["artifact_bytes"]
        if big_bytes <= 64 << 20 or small_bytes >= 64 << 10:
            sys.exit("artifacts of %d and %d bytes: not 64 MiB and 4 KiB" % (big_bytes,
                                                                              small_bytes))

        def size_want(i):
            return b"1 x%d\n" % (i % 10)

        big_fn = Invoker(port, "bench-big", size_want)
        small_fn = Invoker(port, "bench-small", size_want)
        bw_c = bwrap_argv() + ["--ro-bind", upper_bin, "/tmp/main", "/tmp/main"]
        c_variants = [("bare", Direct([upper_bin])), ("bubblewrap", Direct(bw_c)),
                      ("runcell", Invoker(port, "bench-c"))]
        py_variants = [("bare", Direct(["/usr/bin/python3", script])),
                       ("bubblewrap", Direct(bwrap_python(script))),
                       ("runcell", Invoker(port, "bench-py"))]

        lat = {("c", v): [] for v, _ in c_variants}
        lat.update({("py", v): [] for v, _ in py_variants})
        cpu = {k: [] for k in lat}  # CPU ms per invocation, one figure a round
        cpu_ms = cpu_reader(cg_dirs)

        def lat_step(lang, v, fn):
            c0 = cpu_ms()
            lat[(lang, v)].extend(latencies(fn, 0, n))
            cpu[(lang, v)].append((cpu_ms() - c0) / (n + 1))
        thr = {(lang, v): [] for lang, vs in (("c", c_variants), ("py", py_variants))
               for v, _ in vs}
        cold = {lang: {"deploy": [], "cold": [], "after": []} for lang in ("c", "py")}
        size = {"big": [], "small": []}

        def size_round(count):
            big, small = big_fn.client(), small_fn.client()
            big(0, b"x0\n")
            small(0, b"x0\n")
            for i in range(count):
                for name, inv in ((("big", big), ("small", small)) if i % 2
                                  else (("small", small), ("big", big))):
                    t0 = time.perf_counter()
                    inv(i, b"x%d\n" % (i % 10))
                    size[name].append((time.perf_counter() - t0) * 1000.0)
            big.close()
            small.close()

        # the measurements of a round, each a closure; rotated from round to round
        steps = []
        for v, fn in c_variants:
            steps.append(("c latency " + v, lambda fn=fn, v=v: lat_step("c", v, fn)))
        for v, fn in py_variants:
            steps.append(("python latency " + v, lambda fn=fn, v=v: lat_step("py", v, fn)))
        for lang, vs in (("c", c_variants), ("py", py_variants)):
            for v, fn in vs:
                steps.append(("throughput %s %s" % (lang, v),
                              lambda fn=fn, k=(lang, v): thr[k].append(
                                  throughput(fn, CLIENTS, n))))

        def cold_step(lang, doc):
            for _ in range(COLD_PER_ROUND):
                d, c, w = cold_start(port, doc, "bench-cold-" + lang)
                cold[lang]["deploy"].append(d)
                cold[lang]["cold"].append(c)
                cold[lang]["after"].append(w)
        steps.append(("cold start c", lambda: cold_step("c", c_doc)))
        steps.append(("cold start python", lambda: cold_step("py", py_doc)))
        steps.append(("artifact size", lambda: size_round(n)))

        # warm-up: page cache, the warm sandboxes, the connections; nothing kept
        for _, fn in c_variants + py_variants:
            latencies(fn, 0, 20)
        for _, fn in c_variants + py_variants:
            throughput(fn, CLIENTS, 5)
        size_round(20)
        size["big"].clear()
        size["small"].clear()
        cold_start(port, c_doc, "bench-cold-c")
        cold_start(port, py_doc, "bench-cold-py")
        for r in range(a.rounds):
            k = r % len(steps)
            for what, step in steps[k:] + steps[:k]:
                step()
            print("round %d of %d done" % (r + 1, a.rounds), file=sys.stderr)
        for _, fn in c_variants + py_variants:
            fn.close()
        big_fn.close()
        small_fn.close()
    finally:
        if srv:
            srv.stop()
        leave_cgroup(cg, cg_dirs)
        shutil.rmtree(work, ignore_errors=True)
    load_after = loadavg()

    med = statistics.median
    rows = ["| measurement | bare | bubblewrap | runcell | runcell − bare | goal | met |",
            "|---|---|---|---|---|---|---|"]
    summary = []

    def lat_rows(lang, label):
        b, w, r = (lat[(lang, v)] for v in ("bare", "bubblewrap", "runcell"))
        ok = med(r) <= med(b) + GOAL_LATENCY_MS
        rows.append("| %s warm invoke, median ms | %.2f | %.2f | %.2f | %+.2f | ≤ bare + %.0f ms "
                    "| %s |" % (label, med(b), med(w), med(r), med(r) - med(b), GOAL_LATENCY_MS,
                                "yes" if ok else "**no**"))
        rows.append("| %s warm invoke, p95 ms | %.2f | %.2f | %.2f | %+.2f | - | - |" % (
            label, pct(b, 95), pct(w, 95), pct(r, 95), pct(r, 95) - pct(b, 95)))
        cb, cw, cr = (med(cpu[(lang, v)]) for v in ("bare", "bubblewrap", "runcell"))
        rows.append("| %s warm invoke, CPU ms per invocation | %.2f | %.2f | %.2f | %+.2f | - | - |"
                    % (label, cb, cw, cr, cr - cb))
        summary.append("%s warm invoke: runcell %.2f ms median (p95 %.2f) against bare's %.2f "
                       "(%+.2f ms; goal ≤ +%.0f ms: %s)" % (
                           label, med(r), pct(r, 95), med(b), med(r) - med(b), GOAL_LATENCY_MS,
                           "met" if ok else "NOT met"))

    def thr_cold_rows(lang, label):
        tb, tw, tr = (med(thr[(lang, v)]) for v in ("bare", "bubblewrap", "runcell"))
        ok = tr >= GOAL_THROUGHPUT * tb
        rows.append("| %s throughput at %d clients, invocations/s | %.0f | %.0f | %.0f | %.0f %% "
                    "of bare | ≥ %.0f %% of bare | %s |" % (
                        label, CLIENTS, tb, tw, tr, 100.0 * tr / tb, 100 * GOAL_THROUGHPUT,
                        "yes" if ok else "**no**"))
        summary.append("%s throughput at %d clients: runcell %.0f/s, %.0f %% of bare's %.0f/s "
                       "(goal ≥ %.0f %%: %s)" % (label, CLIENTS, tr, 100.0 * tr / tb, tb,
                                                 100 * GOAL_THROUGHPUT,
                                                 "met" if ok else "NOT met"))
        co = cold[lang]
        bl, wl = med(lat[(lang, "bare")]), med(lat[(lang, "bubblewrap")])
        rows.append("| %s cold start: first invoke after a deploy with min_warm 0, median ms | "
                    "%.2f | %.2f | %.2f | %+.2f | - | - |" % (label, bl, wl, med(co["cold"]),
                                                              med(co["cold"]) - bl))
        rows.append("| %s: the invoke after it (warm), median ms | - | - | %.2f | - | - | - |"
                    % (label, med(co["after"])))
        rows.append("| %s deploy (PUT%s), median ms | - | - | %.1f | - | - | - |" % (
            label, ", compile from the build cache" if lang == "c" else "", med(co["deploy"])))
        summary.append("%s cold start: %.2f ms median (%d samples; bare's every run %.2f, "
                       "bubblewrap's %.2f)" % (label, med(co["cold"]), len(co["cold"]), bl, wl))

    lat_rows("c", "C")
    thr_cold_rows("c", "C")
    bm, sm = med(size["big"]), med(size["small"])
    ok = bm - sm <= GOAL_ARTIFACT_MS
    rows.append("| C warm invoke, 64 MiB artifact (%d bytes), median ms | - | - | %.2f | - | - | "
                "- |" % (big_bytes, bm))
    rows.append("| C warm invoke, 4 KiB artifact (%d bytes), median ms | - | - | %.2f | - | - | "
                "- |" % (small_bytes, sm))
    rows.append("| 64 MiB − 4 KiB artifact, median ms | - | - | %+.2f | - | ≤ %.1f ms | %s |" % (
        bm - sm, GOAL_ARTIFACT_MS, "yes" if ok else "**no**"))
    summary.append("64 MiB against 4 KiB artifact: %.2f against %.2f ms median, %+.2f ms (goal "
                   "≤ %.1f ms: %s)" % (bm, sm, bm - sm, GOAL_ARTIFACT_MS,
                                       "met" if ok else "NOT met"))
    lat_rows("py", "Python")
    thr_cold_rows("py", "Python")

    cmd = "bench/functions.py --rounds %d --invokes %d" % (a.rounds, n)
    header = ("%s, %d cores, kernel %s; load average (1, 5, 15 min) before: %s, after: %s; "
              "%d interleaved rounds" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                         ncpu, platform.release(), load_before, load_after,
                                         a.rounds))
    notes = (
        "One C program (read a line, print it upper-cased), every answer checked, deployed "
        "pinned to the host's gcc version (C %s, Python %s: Debian's same packages in the "
        "sandbox). **bare** fork+execs %s from Python's subprocess, the invocation's stdin "
        "piped in; **bubblewrap** runs the same "
        "binary in bwrap with every namespace; **runcell** is the function deployed once "
        "(compiled in a sandbox, its artifact bound read-only at /work) and invoked by `POST "
        "/api/v1/functions/NAME/invoke` on a kept-alive HTTP connection, each invocation in a "
        "kept sandbox reset between invocations (min_warm %d, max_concurrent %d, the server "
        "at --max-concurrent %d). Latency: %d invocations one after another per variant and "
        "round, pooled over the rounds (median, p95). Throughput: %d clients at once (threads, "
        "a connection each), %d invocations each. Cold start: the function deleted and "
        "deployed again with min_warm 0 (%d times a round), then its first invocation, which "
        "makes its sandbox (`X-Runcell-Cold: 1`); bare's and bubblewrap's column is their "
        "ordinary run, a new process or sandbox every time. Artifact size: a program with a "
        "64 MiB initialised array against the same with 4 KiB, invoked alternately, %d each a "
        "round. The Python rows run the same transformation in Python (bare: /usr/bin/python3 "
        "on the host). **CPU ms per invocation**: the CPU time of every process of the variant "
        "(the benchmark's cgroup and beneath it: Python's side, runcell, the sandboxes) during "
        "its latency run, divided by its invocations (median over the rounds)." % (
            gcc_v or "newest", py_v or "newest", bare_of, CLIENTS, CLIENTS, CLIENTS, n,
            CLIENTS, n, COLD_PER_ROUND, n))
    text = "\n".join([header, "", notes, ""] + rows + [""] + ["- " + s for s in summary])
    print(text)
    if a.write:
        write_section("functions", "Functions: deploy once, invoke many times: `%s`" % cmd,
                      text)


if __name__ == "__main__":
    main()
