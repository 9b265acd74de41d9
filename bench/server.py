#!/usr/bin/python3
"""The server's cost: latency, throughput and memory, against the bare program.

In one run, side by side:
  * latency of a python and a C hello world: bare (the compiled C binary for C), in bubblewrap
    (Debian's bwrap, as bench/startup.py runs it), through POST /api/v1/run, and over the
    WebSocket (request sent -> "done" received); median and p95, interleaved. runcell's C runs
    send the source each time: its compile stage comes from the build cache (compiled once
    before the timed rounds), as a repeated submission's does;
  * throughput in runs/s at 1, 2, 8 and 32 concurrent clients (HTTP) of the python and the C
    hello against bare `xargs -P` of the same program and `xargs -P` of it in bubblewrap;
  * the goals: a repeated C hello within 2 ms of the bare binary; at 8 clients, python at
    >= 0.85 of bare's throughput and C at >= 0.8;
  * runcell's RSS with 1,000 idle WebSocket connections.

Run as root: it makes a delegated cgroup and starts `runcell serve` in it on 127.0.0.1.
  bench/server.py [--runs 100] [--bin build/runcell] [--write]
"""
import argparse
import asyncio
import http.client
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

from benchlib import (ROOT, Server, bwrap_argv, bwrap_python, enter_cgroup, example, in_threads,
                      leave_cgroup, pct, write_section)

PY_HELLO = example("python")["source"]
# runcell's python of the version bare runs (/usr/bin/python3, which runs this script too): a
# newer default version would compare another interpreter's start-up
PY_VERSION = "%d.%d" % sys.version_info[:2]
C_HELLO = example("c")["source"]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def post(port, body, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/api/v1/run", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read())
    if r.status != 200 or data["run"]["status"] != "ok":
        sys.exit("run failed: %r" % data)
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the server)")
    bwrap_argv()  # bubblewrap is there
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="runcell-bench-")
    os.chmod(work, 0o755)
    hello = os.path.join(work, "hello.py")
    with open(hello, "w") as f:
        f.write(PY_HELLO)
    csrc = os.path.join(work, "hello.c")
    cbin = os.path.join(work, "hello")
    with open(csrc, "w") as f:
        f.write(C_HELLO)
    subprocess.run(["gcc", "-O2", "-o", cbin, csrc], check=True)
    load_before = " ".join(open("/proc/loadavg").read().split()[:3])
    cg = "runcell-bench-server-%d" % os.getpid()
    cg_dirs = enter_cgroup(cg)
    out = []
    try:
        srv = Server(a.bin, "--warm", "python", "--warm", "c", "--max-concurrent",
                     str(os.cpu_count()), "--queue", "256")
        try:
            cbody = json.dumps({"language": "c", "source": C_HELLO})
            post(srv.port, cbody)  # puts it in the build cache
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            c.request("POST", "/api/v1/run", body=cbody, headers={"Content-Type": "application/json"})
            if not json.loads(c.getresponse().read()).get("compile", {}).get("cached"):
                sys.exit("the second C run was not taken from the build cache")
            c.close()
            lat, goals = latency(srv, a.runs, hello, cbin)
            out += lat
            for lang in ("python", "c"):
                tp, g = throughput(srv, lang, hello, cbin)
                out += tp
                goals += g
            out += idle_connections(srv)
            out += ["**Goals**", ""] + ["- " + g for g in goals] + [""]
        finally:
            srv.stop()
    finally:
        leave_cgroup(cg, cg_dirs)
        shutil.rmtree(work, ignore_errors=True)
    header = ("%s, %d cores, kernel %s, cgroup v1 (hybrid host), runcell serve with every limit and "
              "seccomp; python %s on every side; load average before: %s" % (
                  time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), platform.release(), PY_VERSION,
                  load_before))
    text = "\n".join([header, ""] + out)
    print(text)
    if a.write:
        write_section("server", "The server: `bench/server.py --runs %d`" % a.runs, text)


def latency(srv, runs, hello, cbin):
    bodies = {"python": json.dumps({"language": "python", "version": PY_VERSION,
                                     "source": PY_HELLO}),
              "c": json.dumps({"language": "c", "source": C_HELLO})}
    bare = {"python": ["/usr/bin/python3", hello], "c": [cbin]}
    bwrap = {"python": bwrap_python(hello),
             "c": bwrap_argv() + ["--ro-bind", cbin, "/tmp/hello", "/tmp/hello"]}
    variants = ("bare", "bwrap", "http", "ws")
    times = {(l, v): [] for l in bodies for v in variants}

    async def ws_loop():
        async with websockets.connect("ws://127.0.0.1:%d/api/v1/ws" % srv.port) as ws:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            for i in range(runs):
                for lang in bodies:
                    k = i % len(variants)
                    for v in variants[k:] + variants[:k]:
                        t0 = time.perf_counter()
                        if v == "bare":
                            subprocess.run(bare[lang], stdout=subprocess.DEVNULL, check=True)
                        elif v == "bwrap":
                            subprocess.run(bwrap[lang], stdout=subprocess.DEVNULL, check=True)
                        elif v == "http":
                            post(srv.port, bodies[lang], conn)
                        else:
                            msg = json.loads(bodies[lang])
                            msg.update({"type": "run", "id": "r%d" % i})
                            await ws.send(json.dumps(msg))
                            while True:
                                e = json.loads(await ws.recv())
                                if e["type"] == "exit" and e.get("stage") == "run" and e["status"] != "ok":
                                    sys.exit("ws run failed: %r" % e)
                                if e["type"] == "done":
                                    break
                        times[(lang, v)].append((time.perf_counter() - t0) * 1000)
                        await asyncio.sleep(0.005)  # let the pool refill, as a real client pace would
    asyncio.run(ws_loop())
    lines = ["**Latency of one run** (%d interleaved rounds; runcell's C runs send the source "
             "and take its compile stage from the build cache, the bare and bubblewrap rows run "
             "the binary compiled beforehand)" % runs, "",
             "| program | variant | median ms | p95 ms | over bare (median) ms | over bare ÷ bubblewrap's |",
             "|---|---|---|---|---|---|"]
    for lang in bodies:
        b = statistics.median(times[(lang, "bare")])
        bw = statistics.median(times[(lang, "bwrap")]) - b
        for v, name in (("bare", "bare"), ("bwrap", "bubblewrap"), ("http", "POST /api/v1/run"),
                        ("ws", "WebSocket, request to done")):
            m = statistics.median(times[(lang, v)])
            ratio = "%.2f" % ((m - b) / bw) if v != "bare" and bw > 0 else "-"
            lines.append("| %s | %s | %.2f | %.2f | %.2f | %s |" % (
                lang, name, m, pct(times[(lang, v)], 95), m - b, ratio))
    over = statistics.median(times[("c", "http")]) - statistics.median(times[("c", "bare")])
    goals = ["a repeated C hello through POST /api/v1/run: %+.2f ms over bare (goal: within 2 ms): %s"
             % (over, "met" if over <= 2.0 else "MISSED")]
    return lines + [""], goals


def throughput(srv, lang, hello, cbin, rounds=3):
    if lang == "python":
        per_client = 20
        body = json.dumps({"language": "python", "version": PY_VERSION, "source": PY_HELLO})
        bare_cmd = "/usr/bin/python3 " + shlex.quote(hello)
        bw = " ".join(shlex.quote(a) for a in bwrap_python(hello))
        what = "/usr/bin/python3"
    else:
        per_client = 100
        body = json.dumps({"language": "c", "source": C_HELLO})
        bare_cmd = shlex.quote(cbin)
        bw = " ".join(shlex.quote(a) for a in bwrap_argv() + ["--ro-bind", cbin, "/tmp/hello",
                                                               "/tmp/hello"])
        what = "the binary compiled beforehand (runcell: its compile stage from the build cache)"
    lines = ["**Throughput, %s hello** (runs/s, the median of %d interleaved rounds; runcell: "
             "N HTTP clients each sending %d runs back to back, the server's default "
             "concurrency; bare: `xargs -P N` of %s; bubblewrap: `xargs -P N` of it "
             "in bwrap)" % (lang, rounds, per_client, what), "",
             "| clients | bare runs/s | bubblewrap runs/s | runcell runs/s | runcell ÷ bare "
             "| runcell ÷ bubblewrap |", "|---|---|---|---|---|---|"]
    goals = []

    def xargs(n, total, cmd):
        t0 = time.perf_counter()
        subprocess.run("seq %d | xargs -P %d -I{} %s > /dev/null" % (total, n, cmd),
                       shell=True, check=True)
        return total / (time.perf_counter() - t0)

    def runcell(n, total):
        def client(_):
            c = None
            for _ in range(per_client):
                c = post(srv.port, body, c)
        t0 = time.perf_counter()
        in_threads(n, client)
        return total / (time.perf_counter() - t0)

    for n in (1, 2, 8, 32):
        total = n * per_client
        variants = [("bare", lambda: xargs(n, total, bare_cmd)),
                    ("bwrap", lambda: xargs(n, total, bw)),
                    ("runcell", lambda: runcell(n, total))]
        rates = {v: [] for v, _ in variants}
        for i in range(rounds):  # each round in another order, so drift spreads over all
            for v, run in variants[i % 3:] + variants[:i % 3]:
                rates[v].append(run())
        bare, bwrap, rc = (statistics.median(rates[v]) for v in ("bare", "bwrap", "runcell"))
        lines.append("| %d | %.1f | %.1f | %.1f | %.2f | %.2f |" % (n, bare, bwrap, rc, rc / bare,
                                                                rc / bwrap))
        if n == 8:
            goal = 0.85 if lang == "python" else 0.8
            goals.append("%s hello at 8 clients: %.2f of bare's throughput (goal: >= %.2f): %s"
                         % (lang, rc / bare, goal, "met" if rc / bare >= goal else "MISSED"))
    return lines + [""], goals


def idle_connections(srv, n=1000):
    before = rss_kb(srv.p.pid)

    async def hold():
        conns = []
        for _ in range(n):
            conns.append(await websockets.connect("ws://127.0.0.1:%d/api/v1/ws" % srv.port))
        await conns[-1].send(json.dumps({"type": "ping"}))
        await conns[-1].recv()
        await asyncio.sleep(0.5)
        during = rss_kb(srv.p.pid)
        for c in conns:
            await c.close()
        return during
    during = asyncio.run(hold())
    return ["**Idle WebSocket connections**", "",
            "| connections | runcell RSS |", "|---|---|",
            "| 0 | %.1f MB |" % (before / 1024.0), "| %d | %.1f MB |" % (n, during / 1024.0), ""]


if __name__ == "__main__":
    main()
