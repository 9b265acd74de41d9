#!/usr/bin/python3
"""Soak test: many runs through one `runcell serve`, checking every result and that nothing grows.

N runs (default 100,000) go through one server from several clients at once (asyncio, one
task per client, HTTP keep-alive and WebSocket), in a seeded random mix: ok runs in python,
C (a cached build and a fresh compile), bash and the other cheap languages that are ready,
stdin, interactive stdin over the WebSocket, runtime errors, wall and CPU time limits, memory
and output limits, compile errors, `kill` messages mid-run, clients that disconnect mid-run
(HTTP and WebSocket) and judged runs (tests). Every result is checked (verdict and output); a
wrong one is counted and the first ones are shown.

Every --every runs (1,000) the clients stop, close their connections and wait for the server to
be idle (no run going or queued, its pool settled); then it samples: RSS of the server and its
helper, open fds of both, cgroup leaves beneath the server's cgroup (every v1 hierarchy it is
in, or v2), mounts (the server's mountinfo and the host's), and the server's descendant
processes, into a CSV (--csv). At the end, the summary (first, idle after warm-up, last, max,
slope per 10,000 runs) and the checks:

  * RSS (server + helper) grows by at most --rss-growth-mb (4) MiB from the sample after the
    warm-up (the first 10 % of the runs, at least one sample interval) to the last: a leak of
    100 bytes a run is 10 MiB over 100,000 runs, while glibc's arenas and the catalog's caches
    settle within the warm-up and move by well under a MiB after it;
  * at the end, once idle: no process that a sandbox's init started; prepared sandboxes (the
    pool) within what the pool may keep; the helper alone besides them; cgroup leaves and
    mounts at most the idle figure after the warm-up, plus what extra prepared sandboxes hold
    (the pool may idle anywhere between its size and twice it); the server's fds that are not a
    sandbox's (a pidfd, a socket, a cgroup file) at most the idle figure, and its sandboxes' fds
    within what the sandboxes it holds may have open (how many of the pool's are held by the
    server and how many by the helper varies from one idle moment to the next);
  * after the last sample: no leaf beneath the server's cgroup without a process of the
    server's (a prepared sandbox) other than the v1 spare leaves it keeps for reuse (at most
    max_concurrent + pool per language), no mount of the state directory in the host's
    namespace, nothing in the state directory but its caches; after SIGTERM: no process left
    in the delegated cgroup.

Exit 0 when every check holds and no run had a wrong result, 1 otherwise.

Run as root (a delegated cgroup is made for the server, as bench/server.py does), under
`nice -n 19` (the script renices itself to 19 otherwise; the server inherits it):

  nice -n 19 bench/soak.py [--runs 100000] [--clients 6] [--bin build/runcell]
                           [--csv soak.csv] [--seed 1] [--state-dir /var/tmp/runcell-soak-state]
"""
import argparse
import asyncio
import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import websockets

from benchlib import DELEGATE, ROOT, example

# --- the server --------------------------------------------------------------------------


class Server:
    """`runcell serve` on a free port, started through `cgroup-delegate exec` (same pid)."""

    def __init__(self, binary, cg, state_dir, log_path, max_concurrent, pool):
        self.log = open(log_path, "w")
        argv = [DELEGATE, "exec", cg, "--", binary, "--state-dir", state_dir, "serve",
                "--listen", "127.0.0.1:0", "--max-concurrent", str(max_concurrent),
                "--queue", "1024", "--pool", str(pool)]
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.pid = self.p.pid
        self.events = {}
        self.internal_errors = []
        self.disconnected = {}  # verdicts of the runs whose client went away (ids x..., d...)
        line = self.p.stderr.readline()
        seen = []
        while line and "listening on" not in line:
            seen.append(line)
            self.log.write(line)
            line = self.p.stderr.readline()
        if "listening on" not in line:
            sys.exit("runcell serve did not start: %r" % "".join(seen))
        self.log.write(line)
        self.port = int(re.search(r"listening on https?://[^\s\"]*:(\d+)", line).group(1))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.p.stderr:
            self.log.write(line)
            m = re.search(r"\bevent=(\w+)", line)
            if m:
                self.events[m.group(1)] = self.events.get(m.group(1), 0) + 1
            m = re.search(r"\breq_id=[xd]\d+ .*\bverdict=(\w+)", line)
            if m and "event=run " in line:
                self.disconnected[m.group(1)] = self.disconnected.get(m.group(1), 0) + 1
            if "internal_error" in line and len(self.internal_errors) < 10:
                self.internal_errors.append(line.strip())

    def stop(self, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        finally:
            self.log.flush()


# --- /proc and cgroup figures ---------------------------------------------------------------


def proc_table():
    """{pid: (ppid, comm)} of every process."""
    t = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        t[int(d)] = (ppid, comm)
    return t


def descendants(pid, table):
    kids = {}
    for p, (pp, _) in table.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_kinds(pid):
    """{kind: count} of pid's fds: the link's target with its numbers as N."""
    kinds = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                k = re.sub(r"\d+", "N", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                continue
            kinds[k] = kinds.get(k, 0) + 1
    except OSError:
        pass
    return kinds


def fd_split(kinds):
    """fd_kinds split: pidfds, sockets, cgroup directories and files, and the rest."""
    out = {"pidfd": 0, "socket": 0, "cgroup": 0, "other": 0}
    for k, n in kinds.items():
        if k == "anon_inode:[pidfd]":
            out["pidfd"] += n
        elif k.startswith("socket:"):
            out["socket"] += n
        elif k.startswith("/sys/fs/cgroup"):
            out["cgroup"] += n
        else:
            out["other"] += n
    return out


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def cgroup_dirs(pid):
    """The directories of pid's cgroups that matter: v1 memory, cpu, pids (hybrid) or v2."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fields = post.split()
            mnt = pre.split()[4]
            if fields[0] == "cgroup2":
                mounts[""] = mnt
            elif fields[0] == "cgroup":
                for o in fields[2].split(","):
                    mounts[o] = mnt
    dirs = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in (ctrls.split(",") if ctrls else [""]):
                if c in ("memory", "cpu", "pids", "") and c in mounts:
                    d = mounts[c] + path
                    if c == "" and not os.path.exists(os.path.join(d, "cgroup.subtree_control")):
                        continue
                    dirs[c or "v2"] = d
    if "memory" in dirs:  # a hybrid host: the v2 tree holds no controllers runcell uses
        dirs.pop("v2", None)
    return dirs


def leaves(dirs):
    """[(path, nprocs)] of every cgroup directory beneath dirs' (not dirs' own)."""
    out = []
    for top in set(dirs.values()):
        for d, subdirs, _ in os.walk(top):
            if d == top:
                continue
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    n = sum(1 for _ in f)
            except OSError:
                n = -1
            out.append((d, n))
    return out


FIELDS = ["runs", "elapsed_s", "rss_server_kb", "rss_helpers_kb", "rss_kb", "fds_server",
          "fds_helpers", "fds", "fds_other", "fds_pidfd", "leaves", "leaves_empty", "mounts_server", "mounts_host",
          "processes", "sandboxes", "programs", "wrong"]


def sample(srv, dirs):
    table = proc_table()
    desc = descendants(srv.pid, table)
    helpers = [p for p in desc if table[p][0] == srv.pid]  # runcell-prep
    # A sandbox's init (runcell-init) is the helper's child (or the server's, when it prepared
    # one itself); what init started (a program, a compiler) is a "program": none when idle.
    inits = [p for p in desc if table[p][1] == "runcell-init"]
    lv = leaves(dirs)
    kinds = fd_kinds(srv.pid)
    return {
        "rss_server_kb": rss_kb(srv.pid),
        "rss_helpers_kb": sum(rss_kb(p) for p in helpers),
        "fds_server": nfds(srv.pid),
        "fds_helpers": sum(nfds(p) for p in helpers),
        "leaves": len(lv),
        "leaves_empty": sum(1 for _, n in lv if n == 0),
        "mounts_server": count_lines("/proc/%d/mountinfo" % srv.pid),
        "mounts_host": count_lines("/proc/1/mountinfo"),
        "processes": len(desc),
        "sandboxes": len(inits),
        "programs": len(descendants_of(inits, table)),
        "_fd_kinds": kinds,
        "fds_other": fd_split(kinds)["other"],
        "fds_pidfd": fd_split(kinds)["pidfd"],
    }


def descendants_of(pids, table):
    out = []
    for p in pids:
        out += descendants(p, table)
    return out


# --- clients ---------------------------------------------------------------------------------


class Http:
    """A minimal HTTP/1.1 client on one kept connection (asyncio streams)."""

    def __init__(self, port):
        self.port, self.r, self.w = port, None, None

    async def close(self):
        if self.w is not None:
            self.w.close()
            try:
                await self.w.wait_closed()
            except (OSError, ConnectionError):
                pass
        self.r = self.w = None

    async def post(self, path, body, timeout=600):
        data = json.dumps(body).encode()
        req = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (path, len(data))).encode() + data
        for attempt in (0, 1):
            reused = self.w is not None
            if not reused:
                self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.w.write(req)
                await self.w.drain()
                status = await asyncio.wait_for(self.r.readline(), timeout)
                if not status:
                    raise ConnectionError("closed before the answer")
            except (ConnectionError, OSError):
                await self.close()
                if reused and attempt == 0:  # a kept connection the server had closed
                    continue
                raise
            break
        code = int(status.split()[1])
        length, close = 0, False
        while True:
            h = await asyncio.wait_for(self.r.readline(), timeout)
            if h in (b"\r\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "connection" and "close" in v.lower():
                close = True
        body = await asyncio.wait_for(self.r.readexactly(length), timeout)
        if close:
            await self.close()
        return code, json.loads(body) if body else None


class Wrong(Exception):
    pass


def expect(cond, what, got):
    if not cond:
        raise Wrong("%s; got %s" % (what, json.dumps(got)[:600]))


PY_SLEEP = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
# Wall clocks far above what the runs need: on a loaded machine at nice 19 a hello world has been
# seen to take 4 s of wall time, and a wrong verdict must be runcell's, not the machine's.
OK_LIMITS = {"wall_ms": 60000, "cpu_ms": 10000}
COMPILE_LIMITS = {"wall_ms": 120000}


class Client:
    def __init__(self, cid, soak):
        self.cid, self.soak = cid, soak
        self.rng = random.Random(soak.seed * 7919 + cid)
        self.http = Http(soak.port)
        self.ws = None

    async def close(self):
        await self.http.close()
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def wsconn(self):
        if self.ws is None or self.ws.closed:
            self.ws = await websockets.connect(self.soak.ws_url, max_size=None)
        return self.ws

    async def http_run(self, body):
        code, ans = await self.http.post("/api/v1/run", body)
        expect(code == 200, "HTTP 200", ans)
        return ans

    async def ws_events(self, ws, rid, until_done=True, on_event=None):
        """The run's events up to done: (stdout text, {stage: exit event})."""
        out, exits = [], {}
        while True:
            e = json.loads(await asyncio.wait_for(ws.recv(), 600))
            if e.get("id") != rid:
                raise Wrong("event of another run: %r" % e)
            t = e["type"]
            if t == "error":
                raise Wrong("error event %r" % e)
            if t == "output" and e.get("stream") in ("stdout", "tty") and e["stage"] == "run":
                out.append(e["data"] if e.get("encoding") != "base64" else "<b64>")
            if t == "exit":
                exits[e["stage"]] = e
            if on_event is not None:
                await on_event(e, "".join(out))
            if t == "done":
                return "".join(out), exits

    # Each scenario does one run and checks it (raising Wrong).

    async def ok_http(self, lang, ex, source=None, expected=None):
        body = {"language": lang, "source": source or ex["source"], "limits": OK_LIMITS,
                "compile_limits": COMPILE_LIMITS}
        if "stdin" in ex:
            body["stdin"] = ex["stdin"]
        a = await self.http_run(body)
        expect(a["run"] and a["run"]["status"] == "ok", "%s run ok" % lang, a)
        expect(a["compile"] is None or a["compile"]["status"] == "ok", "compile ok", a)
        expect(a["run"]["stdout"] == (expected or ex["stdout"]), "%s stdout" % lang, a)

    async def s_py_hello(self):
        await self.ok_http("python", self.soak.ex[("python", "hello")])

    async def s_py_stdin(self):
        await self.ok_http("python", self.soak.ex[("python", "stdin")])

    async def s_bash_stdin(self):
        await self.ok_http("bash", self.soak.ex[("bash", "stdin")])

    async def s_c_cached(self):
        await self.ok_http("c", self.soak.ex[("c", "hello")])

    async def s_c_compile(self):
        n = self.rng.getrandbits(48)
        src = '#include <stdio.h>\nint main(void)\n{\n    printf("%%lld\\n", %dLL);\n}\n' % n
        await self.ok_http("c", {}, src, "%d\n" % n)

    async def s_other(self):
        lang = self.rng.choice(self.soak.others)
        await self.ok_http(lang, self.soak.ex[(lang, self.rng.choice(("hello", "stdin")))])

    async def s_ws_hello(self):
        ws = await self.wsconn()
        rid = "h%d" % self.rng.getrandbits(32)
        lang = self.rng.choice(("python", "bash"))
        ex = self.soak.ex[(lang, "hello")]
        await ws.send(json.dumps({"type": "run", "id": rid, "language": lang,
                                  "source": ex["source"], "limits": OK_LIMITS}))
        out, exits = await self.ws_events(ws, rid)
        expect(exits.get("run", {}).get("status") == "ok", "ws run ok", exits)
        expect(out == ex["stdout"], "ws stdout", out)

    async def s_ws_interactive(self):
        ws = await self.wsconn()
        rid = "i%d" % self.rng.getrandbits(32)
        words = ["w%d" % self.rng.getrandbits(20) for _ in range(3)]
        src = ("import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\n"
               "print('end')\n")
        await ws.send(json.dumps({"type": "run", "id": rid, "language": "python", "source": src,
                                  "interactive": True, "limits": OK_LIMITS}))
        sent = [0]

        async def feed(e, out):  # one line, then the next once its echo came back
            if (e["type"] == "stage" and e["stage"] == "run") or \
                    (e["type"] == "output" and sent[0] and out.endswith(words[sent[0] - 1].upper() + "\n")):
                if sent[0] < len(words):
                    await ws.send(json.dumps({"type": "stdin", "id": rid, "data": words[sent[0]] + "\n"}))
                    sent[0] += 1
                    if sent[0] == len(words):
                        await ws.send(json.dumps({"type": "stdin", "id": rid, "eof": True}))
        out, exits = await self.ws_events(ws, rid, on_event=feed)
        expect(exits.get("run", {}).get("status") == "ok", "interactive run ok", exits)
        expect(out == "".join(w.upper() + "\n" for w in words) + "end\n", "interactive stdout", out)

    async def s_runtime_error(self):
        a = await self.http_run({"language": "python", "limits": OK_LIMITS,
                                 "source": "import sys\nprint('bye')\nsys.exit(3)\n"})
        expect(a["run"]["status"] == "runtime_error" and a["run"]["exit_code"] == 3
               and a["run"]["stdout"] == "bye\n", "runtime_error, exit 3", a)

    async def s_tle_wall(self):
        a = await self.http_run({"language": "python", "source": PY_SLEEP,
                                 "limits": {"wall_ms": 300}})
        expect(a["run"]["status"] == "time_limit" and a["run"].get("limit") == "wall",
               "time_limit (wall)", a)

    async def s_tle_cpu(self):
        a = await self.http_run({"language": "bash", "source": "while :; do :; done\n",
                                 "limits": {"cpu_ms": 150, "wall_ms": 60000}})
        # "limit" is "cpu" unless the machine starved the loop of 150 ms of CPU for a minute
        expect(a["run"]["status"] == "time_limit", "time_limit", a)

    async def s_memory(self):
        a = await self.http_run({"language": "python", "limits": {"memory_mb": 48, "wall_ms": 60000},
                                 "source": "x = []\nwhile True:\n    x.append(b'x' * (1 << 20))\n"})
        expect(a["run"]["status"] == "memory_limit", "memory_limit", a)

    async def s_output(self):
        a = await self.http_run({"language": "python", "limits": {"output_bytes": 16384, "wall_ms": 60000},
                                 "source": "import sys\nwhile True:\n    sys.stdout.write('y' * 4096)\n"})
        r = a["run"]
        expect(r["status"] == "output_limit" and r["truncated"] and len(r["stdout"]) <= 16384
               and r["stdout"] == "y" * len(r["stdout"]), "output_limit, truncated", a)

    async def s_compile_error(self):
        n = self.rng.getrandbits(32)
        a = await self.http_run({"language": "c", "compile_limits": COMPILE_LIMITS,
                                 "source": "int main(void)\n{\n    return undeclared_%d;\n}\n" % n})
        expect(a["compile"] and a["compile"]["status"] == "compile_error" and a["run"] is None
               and ("undeclared_%d" % n) in a["compile"]["stderr"], "compile_error", a)

    async def s_ws_kill(self):
        ws = await self.wsconn()
        rid = "k%d" % self.rng.getrandbits(32)
        sig = self.rng.choice(("SIGKILL", "SIGKILL", "SIGTERM"))
        await ws.send(json.dumps({"type": "run", "id": rid, "language": "python",
                                  "source": PY_SLEEP, "limits": {"wall_ms": 60000}}))

        async def kill(e, out):
            if e["type"] == "output" and out == "ready\n":
                await ws.send(json.dumps({"type": "kill", "id": rid, "signal": sig}))
        out, exits = await self.ws_events(ws, rid, on_event=kill)
        expect(exits.get("run", {}).get("status") == "killed", "killed (%s)" % sig, exits)

    async def s_ws_disconnect(self):
        ws = await websockets.connect(self.soak.ws_url)
        rid = "d%d" % self.rng.getrandbits(32)
        await ws.send(json.dumps({"type": "run", "id": rid, "language": "python",
                                  "source": PY_SLEEP, "limits": {"wall_ms": 60000}}))
        when = self.rng.choice(("queued", "stage", "ready"))
        while True:
            e = json.loads(await asyncio.wait_for(ws.recv(), 600))
            if e["type"] == "error" or e["type"] == "done":
                raise Wrong("disconnect run ended before the disconnect: %r" % e)
            if (when == "queued" and e["type"] == "queued") or \
                    (when == "stage" and e["type"] == "stage") or \
                    (when == "ready" and e["type"] == "output"):
                break
        await ws.close()

    async def s_http_disconnect(self):
        r, w = await asyncio.open_connection("127.0.0.1", self.soak.port)
        data = json.dumps({"id": "x%d" % self.rng.getrandbits(32), "language": "python",
                           "source": PY_SLEEP, "limits": {"wall_ms": 60000}}).encode()
        w.write(("POST /api/v1/run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n" % len(data)).encode() + data)
        await w.drain()
        await asyncio.sleep(self.rng.uniform(0.0, 0.3))
        w.close()
        try:
            await w.wait_closed()
        except (OSError, ConnectionError):
            pass

    async def s_judge(self):
        src = "a, b = map(int, input().split())\nprint(a + b)\n"
        x, y = self.rng.randint(0, 999), self.rng.randint(0, 999)
        a = await self.http_run({"language": "python", "source": src, "limits": OK_LIMITS,
                                 "tests": [{"stdin": "%d %d\n" % (x, y), "expected_output": "%d\n" % (x + y)},
                                           {"stdin": "1 1\n", "expected_output": "3\n"},
                                           {"stdin": "2 2\n", "expected_output": "4\n"}]})
        v = [t["verdict"] for t in a["tests"]]
        expect(v == ["accepted", "wrong_answer", "accepted"], "judge verdicts", a)


SCENARIOS = [  # (name, weight in %)
    ("py_hello", 12), ("py_stdin", 6), ("bash_stdin", 6), ("c_cached", 5), ("c_compile", 3),
    ("other", 12), ("ws_hello", 7), ("ws_interactive", 6), ("runtime_error", 4),
    ("tle_wall", 5), ("tle_cpu", 3), ("memory", 5), ("output", 5), ("compile_error", 4),
    ("ws_kill", 6), ("ws_disconnect", 4), ("http_disconnect", 4), ("judge", 3),
]
CHEAP_OTHERS = ["javascript", "ruby", "perl", "lua", "php", "awk", "tcl", "zsh", "cpp", "go",
                "rust"]


class Soak:
    def __init__(self, a, port):
        self.seed, self.port = a.seed, port
        self.ws_url = "ws://127.0.0.1:%d/api/v1/ws" % port
        self.counts, self.wrong, self.examples = {}, {}, []
        self.ex = {}

    def pick(self, rng):
        return rng.choices([n for n, _ in SCENARIOS], [w for _, w in SCENARIOS])[0]


async def run_batch(soak, clients, indices):
    async def one(c):
        while indices:
            indices.pop()
            name = soak.pick(c.rng)
            soak.counts[name] = soak.counts.get(name, 0) + 1
            try:
                await getattr(c, "s_" + name)()
            except Wrong as e:
                bad(name, str(e))
            except (asyncio.TimeoutError, OSError, ConnectionError,
                    websockets.exceptions.WebSocketException, ValueError, KeyError, TypeError) as e:
                bad(name, "%s: %s" % (type(e).__name__, e))
                await c.close()
        await c.close()

    def bad(name, text):
        soak.wrong[name] = soak.wrong.get(name, 0) + 1
        if len(soak.examples) < 10:
            soak.examples.append("%s: %s" % (name, text))
    await asyncio.gather(*(one(c) for c in clients))


async def http_get(port, path):
    """The body of GET path, on a connection of its own (HTTP/1.0: read to its end)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
    await w.drain()
    data = (await r.read()).decode()
    w.close()
    return data.split("\r\n\r\n", 1)[1]


async def metrics(port):
    vals = {}
    for line in (await http_get(port, "/metrics")).splitlines():
        m = re.match(r"^(runcell_active_runs|runcell_queue_depth|runcell_ws_connections)\s+(\S+)", line)
        if m:
            vals[m.group(1)] = float(m.group(2))
    return vals


async def settle(srv, dirs, port, timeout=300):
    """Wait for no run going or queued, then for the figures to stop moving."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        m = await metrics(port)
        if m.get("runcell_active_runs") == 0 and m.get("runcell_queue_depth") == 0:
            break
        await asyncio.sleep(0.2)
    prev = None
    while time.time() - t0 < timeout:
        await asyncio.sleep(0.7)
        s = sample(srv, dirs)
        key = tuple(s[k] for k in ("fds_server", "fds_helpers", "leaves", "leaves_empty",
                                   "processes", "sandboxes", "programs"))
        if key == prev:
            return s
        prev = key
    return s


def progress(row, rate):
    print("%7d runs %6.0f s  rss %6d kB  fds %4d  leaves %3d  mounts %3d/%3d  procs %3d "
          "(sandboxes %d, programs %d)  wrong %d  %.1f runs/s" % (
              row["runs"], row["elapsed_s"], row["rss_kb"], row["fds"], row["leaves"],
              row["mounts_server"], row["mounts_host"], row["processes"], row["sandboxes"],
              row["programs"], row["wrong"], rate), flush=True)


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def state_leftovers(state):
    """Entries of the state directory that are not its caches: unpacked root filesystems
    (rootfs/<sha256>, .empty, .lock), the build cache (builds/<digest>), compiled seccomp
    profiles, functions' artifacts, the submission store, the toolchains' index."""
    bad = []
    allowed_top = re.compile(
        r"^(rootfs|builds|seccomp|functions|submissions\.db(-wal|-shm|\.lock)?|toolchains\.index)$")
    for e in os.listdir(state):
        if not allowed_top.match(e):
            bad.append(e)
    rd = os.path.join(state, "rootfs")
    for e in os.listdir(rd) if os.path.isdir(rd) else []:
        if not re.match(r"^([0-9a-f]{64}|\.empty|\.lock)$", e):
            bad.append("rootfs/" + e)
    bd = os.path.join(state, "builds")
    for e in os.listdir(bd) if os.path.isdir(bd) else []:
        if e.startswith(".tmp") or e.startswith("tmp") or ".tmp" in e:
            bad.append("builds/" + e)
    sd = os.path.join(state, "seccomp")
    for e in os.listdir(sd) if os.path.isdir(sd) else []:
        if ".tmp" in e or e.startswith("tmp"):
            bad.append("seccomp/" + e)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--csv", default="soak.csv")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--every", type=int, default=1000, help="runs between samples")
    ap.add_argument("--max-concurrent", type=int, default=4,
                    help="the server's (sleeping runs hold a slot without using a core)")
    ap.add_argument("--pool", type=int, default=1)
    ap.add_argument("--state-dir", default="/var/tmp/runcell-soak-state",
                    help="the server's own (its unpacked root filesystems are kept between soaks)")
    ap.add_argument("--log", default="soak-server.log", help="the server's log")
    ap.add_argument("--rss-growth-mb", type=float, default=4.0)
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop at the first sample after this long (0: run all --runs)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the server)")
    def stop(signum, frame):  # SIGTERM, and SIGINT even where a shell set it ignored
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if os.nice(0) < 19:
        os.nice(19 - os.nice(0))
    os.makedirs(a.state_dir, exist_ok=True)
    os.chmod(a.state_dir, 0o711)
    p = os.path.dirname(os.path.abspath(a.state_dir))
    while p != "/":  # sandboxes' ids must get through to the root filesystems
        if not os.stat(p).st_mode & 0o001:
            sys.exit("%s is not searchable by others (the sandboxes' ids)" % p)
        p = os.path.dirname(p)
    cg = "runcell-soak-%d" % os.getpid()
    subprocess.run([DELEGATE, "create", cg], check=True)
    mounts_host0 = count_lines("/proc/1/mountinfo")
    srv = None
    rc = 1
    try:
        srv = Server(a.bin, cg, a.state_dir, a.log, a.max_concurrent, a.pool)
        rc = asyncio.run(soak(a, srv, mounts_host0))
    finally:
        if srv is not None:
            src = srv.stop()
            if src != 0:
                print("FAIL runcell serve exited %s after SIGTERM" % src)
                rc = 1
        time.sleep(0.5)
        dirs = subprocess.run([DELEGATE, "dirs", cg], stdout=subprocess.PIPE, text=True).stdout.split()
        left = []
        for top in dirs:
            for d, _, _ in os.walk(top):
                try:
                    left += [(d, x.strip()) for x in open(os.path.join(d, "cgroup.procs"))]
                except OSError:
                    pass
        nleaves = sum(1 for top in dirs for d, _, _ in os.walk(top) if d != top)
        print("after SIGTERM: %d processes left in the server's cgroup, %d cgroup directories "
              "beneath it" % (len(left), nleaves))
        if left:
            print("FAIL processes left after the server's exit: %s" % left[:5])
            rc = 1
        subprocess.run([DELEGATE, "remove", cg])
    sys.exit(rc)


async def soak(a, srv, mounts_host0):
    port = srv.port
    s = Soak(a, port)
    langs = {l["name"]: l for l in json.loads(await http_get(port, "/api/v1/languages"))}
    for need in ("python", "c", "bash"):
        if not langs.get(need, {}).get("ready"):
            sys.exit("%s is not ready on this server" % need)
    s.others = [l for l in CHEAP_OTHERS if langs.get(l, {}).get("ready")]
    used = ["python", "c", "bash"] + s.others
    s.pool_keys = len(used) + sum(1 for l in used if langs[l].get("compiled"))
    for l in ["python", "c", "bash"] + s.others:
        for which in ("hello", "stdin"):
            s.ex[(l, which)] = example(l, which)
    dirs = cgroup_dirs(srv.pid)
    print("runcell serve pid %d on port %d, nice %d; cgroups %s" % (
        srv.pid, port, os.getpriority(os.PRIO_PROCESS, srv.pid), " ".join(sorted(dirs.values()))))
    print("languages: python c bash %s; %d clients; %d runs; seed %d" % (
        " ".join(s.others), a.clients, a.runs, a.seed))
    clients = [Client(i, s) for i in range(a.clients)]
    rows = []
    out = open(a.csv, "w", newline="")
    wr = csv.DictWriter(out, FIELDS)
    wr.writeheader()
    t0 = time.time()

    def record(done, smp):
        row = dict(smp, runs=done, elapsed_s=round(time.time() - t0, 1),
                   rss_kb=smp["rss_server_kb"] + smp["rss_helpers_kb"],
                   fds=smp["fds_server"] + smp["fds_helpers"], wrong=sum(s.wrong.values()))
        rows.append(row)
        wr.writerow({k: v for k, v in row.items() if not k.startswith("_")})
        out.flush()
        return row
    row = record(0, await settle(srv, dirs, port))
    progress(row, 0)
    done = 0
    while done < a.runs:
        n = min(a.every, a.runs - done)
        await run_batch(s, clients, list(range(n)))
        done += n
        row = record(done, await settle(srv, dirs, port))
        el = time.time() - t0
        progress(row, done / el)
        if a.max_minutes and el > a.max_minutes * 60:
            print("stopping after %.1f minutes (--max-minutes): %d of %d runs" % (el / 60, done, a.runs))
            break
        if srv.p.poll() is not None:
            print("FAIL runcell serve died (exit %s)" % srv.p.returncode)
            return 1
    out.close()
    elapsed = time.time() - t0
    return report(a, s, srv, dirs, rows, done, elapsed, mounts_host0)


def report(a, s, srv, dirs, rows, done, elapsed, mounts_host0):
    ok = True
    print("\n%d runs in %.0f s (%.1f runs/s), %d clients, seed %d" % (
        done, elapsed, done / elapsed, a.clients, a.seed))
    print("runs by kind: " + ", ".join("%s %d" % (k, s.counts.get(k, 0)) for k, _ in SCENARIOS))
    nwrong = sum(s.wrong.values())
    print("wrong results: %d%s" % (nwrong, (" (" + ", ".join("%s %d" % kv for kv in s.wrong.items()) + ")") if nwrong else ""))
    for e in s.examples:
        print("  " + e)
    if nwrong:
        ok = False
    if srv.internal_errors:
        print("internal_error in the server's log, e.g.:\n  " + "\n  ".join(srv.internal_errors[:3]))
    # The warm-up: the first 10 % of the runs, at least one sample interval.
    warm_runs = max(a.every, (done // 10) // a.every * a.every)
    warm = next((r for r in rows if r["runs"] >= warm_runs), rows[-1])
    after = [r for r in rows if r["runs"] >= warm["runs"]]
    first, last = rows[0], rows[-1]
    print("\n| figure | start (0 runs) | idle after warm-up (%d) | last (%d) | max | slope per 10,000 runs after warm-up |" % (warm["runs"], last["runs"]))
    print("|---|---:|---:|---:|---:|---:|")
    for k in ("rss_kb", "rss_server_kb", "rss_helpers_kb", "fds", "fds_server", "fds_helpers",
              "fds_other", "fds_pidfd", "leaves", "leaves_empty", "mounts_server", "mounts_host", "processes", "sandboxes",
              "programs"):
        sl = slope([r["runs"] for r in after], [r[k] for r in after]) * 10000
        print("| %s | %d | %d | %d | %d | %+.1f |" % (k, first[k], warm[k], last[k],
                                                     max(r[k] for r in rows), sl))
    nhier = max(1, len(set(dirs.values())))
    # The pool keeps `pool` prepared sandboxes per language and disk size (a compiled language's
    # compile stage is a second size), up to twice that for a second after a take found none
    # ready; it shrinks back only as they are taken, so an idle figure may be anywhere in
    # between. A prepared sandbox costs the server about 5 fds (its leaf's 3 counter files on v1,
    # pidfd, socket) and one leaf per hierarchy: figures above the idle one are allowed as far as
    # extra prepared sandboxes explain them, no further.
    pool_max = 2 * a.pool * s.pool_keys
    extra_sb = max(0, last["sandboxes"] - warm["sandboxes"])
    checks = []
    growth = last["rss_kb"] - warm["rss_kb"]
    checks.append(("RSS (server + helper) grew %+d kB after the warm-up (at most %d)" % (
        growth, a.rss_growth_mb * 1024), growth <= a.rss_growth_mb * 1024))
    checks.append(("programs (anything a sandbox's init started) at the end: %d (max at a sample %d)" % (
        last["programs"], max(r["programs"] for r in rows)), last["programs"] == 0))
    checks.append(("prepared sandboxes at the end %d, idle figure %d, at most %d (2 x pool x %d keys)" % (
        last["sandboxes"], warm["sandboxes"], pool_max, s.pool_keys), last["sandboxes"] <= pool_max))
    checks.append(("other processes (the helper) at the end %d, idle figure %d" % (
        last["processes"] - last["sandboxes"] - last["programs"], warm["processes"] - warm["sandboxes"] - warm["programs"]),
        last["processes"] - last["sandboxes"] - last["programs"] <= warm["processes"] - warm["sandboxes"] - warm["programs"]))
    # The server's fds, split: those of the sandboxes it holds (a pidfd each, its sync socket,
    # its leaf's directories and kept counter files) and the rest. How many sandboxes it holds
    # itself at idle varies (the pool's newest may still be the helper's, a kept one is the
    # server's; a buried one keeps its pidfd until its init is gone), so the sandboxes' fds are
    # checked against how many there are, and the rest must be flat.
    fs0, fs1 = fd_split(warm["_fd_kinds"]), fd_split(last["_fd_kinds"])
    checks.append(("the server's fds not a sandbox's (no pidfd, socket or cgroup file) at the end "
                   "%d, idle figure %d (+2)" % (fs1["other"], fs0["other"]),
                   fs1["other"] <= fs0["other"] + 2))
    held_max = pool_max + 64  # GRAVE_MAX in src/job/pool.c: buried, their inits still exiting
    checks.append(("sandboxes the server holds (pidfds) at the end %d, idle figure %d, at most %d"
                   % (fs1["pidfd"], fs0["pidfd"], held_max), fs1["pidfd"] <= held_max))
    checks.append(("sockets besides the sandboxes' at the end %d, idle figure %d (+2)" % (
        fs1["socket"] - fs1["pidfd"], fs0["socket"] - fs0["pidfd"]),
        fs1["socket"] - fs1["pidfd"] <= fs0["socket"] - fs0["pidfd"] + 2))
    # a leaf: its directory in each hierarchy, memory.peak's fd (v2) and up to 4 counter files
    # (CG_OPEN_FILES_MAX); a spare leaf keeps its counter files open too
    cg_max = (fs1["pidfd"] + last["leaves_empty"]) * (nhier + 5)
    checks.append(("cgroup files open at the end %d, at most %d ((%d sandboxes + %d spare "
                   "leaves) x %d)" % (fs1["cgroup"], cg_max, fs1["pidfd"], last["leaves_empty"],
                                      nhier + 5), fs1["cgroup"] <= cg_max))
    occ_last = last["leaves"] - last["leaves_empty"]
    occ_warm = warm["leaves"] - warm["leaves_empty"]
    checks.append(("leaves holding a sandbox at the end %d, idle figure %d (+%d per extra prepared "
                   "sandbox)" % (occ_last, occ_warm, nhier), occ_last <= occ_warm + nhier * extra_sb))
    checks.append(("mounts of the server at the end %d, idle figure %d" % (
        last["mounts_server"], warm["mounts_server"]), last["mounts_server"] <= warm["mounts_server"]))
    checks.append(("host mounts at the end %d, before the server started %d" % (
        last["mounts_host"], mounts_host0), last["mounts_host"] <= mounts_host0))
    # A run whose client went away is killed (it was going) or dropped (still queued), and
    # logged so: its program sleeps for a minute, so any other verdict means it was not.
    nd = s.counts.get("http_disconnect", 0) + s.counts.get("ws_disconnect", 0)
    dv = srv.disconnected
    checks.append(("runs whose client disconnected: %d, logged %s" % (
        nd, ", ".join("%s %d" % kv for kv in sorted(dv.items())) or "none"),
        sum(dv.values()) == nd and set(dv) <= {"killed", "dropped"}))
    # What is left once idle: every leaf holds a prepared sandbox of the server's, or is one of
    # the empty spares cgroup v1 keeps for reuse (CG_SPARE_MAX 16 per process: the server's and
    # the helper's).
    table = proc_table()
    desc = set(descendants(srv.pid, table))
    lv = leaves(dirs)
    foreign = []
    for d, n in lv:
        if n > 0:
            pids = [int(x) for x in open(os.path.join(d, "cgroup.procs")) if x.strip()]
            if any(p not in desc for p in pids):
                foreign.append(d)
    empty = sum(1 for _, n in lv if n == 0)
    spare_max = 2 * 16 * nhier
    checks.append(("leaves holding a process not the server's: %d" % len(foreign), not foreign))
    checks.append(("empty (spare) leaves %d, at most %d" % (empty, spare_max), empty <= spare_max))
    st = os.path.abspath(a.state_dir)
    hm = [l for l in open("/proc/1/mountinfo") if st in l]
    checks.append(("mounts of the state directory in the host's namespace: %d" % len(hm), not hm))
    lo = state_leftovers(a.state_dir)
    checks.append(("non-cache entries in the state directory: %s" % (lo or "none"), not lo))
    print()
    for text, good in checks:
        print("%s %s" % ("ok  " if good else "FAIL", text))
        ok = ok and good
    fk0, fk1 = warm["_fd_kinds"], last["_fd_kinds"]
    diff = {k: fk1.get(k, 0) - fk0.get(k, 0) for k in set(fk0) | set(fk1)}
    diff = {k: v for k, v in diff.items() if v}
    if diff:
        print("the server's fds, last sample against the idle one: " +
              ", ".join("%s %+d" % (k, v) for k, v in sorted(diff.items())))
    print("server log events: " + ", ".join("%s %d" % kv for kv in sorted(srv.events.items())))
    print("\n%s" % ("FLAT, no wrong results" if ok else "NOT FLAT or wrong results"))
    return 0 if ok else 1


if __name__ == "__main__":
    main()
