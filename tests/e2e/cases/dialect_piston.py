"""The Piston v2 dialect (docs/dialects.md, "Piston v2"): GET /api/v2/runtimes,
POST /api/v2/execute, GET /api/v2/packages and WebSocket /api/v2/connect, answered as Piston
answers them; the npm package piston-client driven against it (tests/e2e/node/)."""

import asyncio
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import threading
import time

import harness
from harness import case, shorten
from server_util import Server, http_req, raw_post_large, run_async, write_config
from wsclient import Closed, WSClient

EXECUTE = "/api/v2/execute"
STAGE_KEYS = {"stdout", "stderr", "output", "code", "signal", "message", "status", "cpu_time",
              "wall_time", "memory"}
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
SLEEPER = 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'


# ------------------------------------------------------------------ helpers
def piston_form(version):
    """A version as Piston lists it: the leading numbers and dots (after a Debian epoch),
    three of them ("1.19" -> "1.19.0", "2:8.2.7+dfsg" -> "8.2.7")."""
    v = re.match(r"[0-9.]*", version.split(":", 1)[-1]).group(0).strip(".")
    parts = [p or "0" for p in v.split(".")[:3]] if v else []
    return ".".join(parts + ["0"] * (3 - len(parts)))


def execute(t, srv, body, status=200, headers=None):
    """POST /api/v2/execute; checks the status and that the answer is JSON; returns it."""
    if isinstance(body, list):
        body = json.dumps(body)
    r = http_req(t, srv, "POST", EXECUTE, body=body, headers=headers)
    t.eq(r.status, status, "POST %s status (body %s)" % (EXECUTE, shorten(r.body, 400)))
    t.check(r.headers.get("content-type", "").startswith("application/json"),
            "Content-Type of the answer: %r" % r.headers.get("content-type"))
    t.check(r.json is not None, "the answer is not JSON: %r" % shorten(r.body, 300))
    return r.json


def py(src, **fields):
    body = {"language": "python", "version": "*", "files": [{"content": src}]}
    body.update(fields)
    return body


def expect_message(t, srv, body, message, what):
    """A 400 answer that is exactly {"message": message}."""
    j = execute(t, srv, body, status=400)
    t.eq(j, {"message": message}, what)


def check_stage(t, st, which):
    t.check(isinstance(st, dict), "%s is not an object: %r" % (which, st))
    t.eq(set(st), STAGE_KEYS, "%s's keys" % which)
    for k in ("stdout", "stderr", "output"):
        t.check(isinstance(st[k], str), "%s.%s must be a string: %r" % (which, k, st[k]))
    t.check(st["code"] is None or type(st["code"]) is int, "%s.code: %r" % (which, st["code"]))
    t.check(st["signal"] is None or (isinstance(st["signal"], str)
                                     and st["signal"].startswith("SIG")),
            "%s.signal: %r" % (which, st["signal"]))
    t.check(st["status"] in (None, "RE", "SG", "TO", "OL", "EL", "XX"),
            "%s.status: %r" % (which, st["status"]))
    t.check((st["status"] is None) == (st["message"] is None),
            "%s: a message goes with a status and only then: %r" % (which, st))
    t.check(type(st["wall_time"]) is int and st["wall_time"] >= 0,
            "%s.wall_time: %r" % (which, st["wall_time"]))
    t.check(st["cpu_time"] is None or (type(st["cpu_time"]) is int and st["cpu_time"] >= 0),
            "%s.cpu_time: %r" % (which, st["cpu_time"]))
    t.check(st["memory"] is None or (type(st["memory"]) is int and st["memory"] > 0
                                     and st["memory"] % 1024 == 0),
            "%s.memory (bytes): %r" % (which, st["memory"]))


def check_result(t, j, language, compiled=False):
    t.check(isinstance(j, dict), "result is not an object: %r" % (j,))
    keys = {"run", "language", "version"} | ({"compile"} if compiled else set())
    t.eq(set(j), keys, "the result's keys")
    t.eq(j["language"], language, "language")
    t.check(isinstance(j["version"], str) and SEMVER.match(j["version"]),
            "version must look like 3.11.2: %r" % (j["version"],))
    check_stage(t, j["run"], "run")
    if compiled:
        check_stage(t, j["compile"], "compile")
    return j["run"]


def python_version(t, srv):
    r = http_req(t, srv, "GET", "/api/v2/runtimes")
    t.eq(r.status, 200, "GET /api/v2/runtimes status")
    py_rt = [e["version"] for e in r.json if e.get("language") == "python"]
    t.check(py_rt, "no python in the runtimes")
    # the newest, which "*" runs (README, "Versions")
    return max(py_rt, key=lambda v: [int(x) for x in v.split(".")])


def node_modules():
    """Where tests/node/setup installed the Node.js client libraries."""
    env = os.environ.get("RUNCELL_NODE_MODULES")
    if env:
        return env
    lock = os.path.join(harness.E2E_DIR, "..", "node", "package-lock.json")
    cache = os.environ.get("RUNCELL_NODE_CACHE", "/var/cache/runcell/node")
    try:
        with open(lock, "rb") as f:
            return os.path.join(cache, hashlib.sha256(f.read()).hexdigest(), "node_modules")
    except OSError:
        return None


def toolchains_dir():
    env = os.environ.get("RUNCELL_TOOLCHAINS")
    return env or os.path.normpath(os.path.join(harness.E2E_DIR, "..", "..", "toolchains"))


# ------------------------------------------------------------------ WebSocket
class PistonWS(WSClient):
    """A client of /api/v2/connect (wsclient.WSClient): every message, and the close code
    and reason."""

    def __init__(self, t, srv, name="piston"):
        WSClient.__init__(self, t, srv, "/api/v2/connect", name)
        self.msgs = []
        self.code = None
        self.reason = None
        self.closed_at = None

    async def __aenter__(self):
        await WSClient.__aenter__(self)
        self.t0 = time.monotonic()
        return self

    async def recv(self, timeout):
        """The next message (parsed), or None once the server closed the connection."""
        if self.code is not None:
            return None
        try:
            frame = await self.frame(timeout)
        except Closed as e:
            self.code = e.code
            self.reason = e.reason
            self.closed_at = time.monotonic() - self.t0
            return None
        if frame is None:
            raise harness.Fail("%s: nothing from the server within %.0fs; so far: %s"
                               % (self.name, timeout, shorten(json.dumps(self.msgs), 600)))
        self._log("<", frame if isinstance(frame, str) else "BINARY %r" % frame[:100])
        msg = json.loads(frame)
        self.msgs.append(msg)
        return msg

    async def until(self, pred, timeout=60, what="message"):
        deadline = time.monotonic() + timeout
        while True:
            m = await self.recv(max(0.1, deadline - time.monotonic()))
            if m is None:
                raise harness.Fail("%s: closed (%s %r) before %s; messages: %s"
                                   % (self.name, self.code, self.reason, what,
                                      shorten(json.dumps(self.msgs), 800)))
            if pred(m):
                return m

    async def until_closed(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.code is None:
            await self.recv(max(0.1, deadline - time.monotonic()))
        return self.code, self.reason

    def output(self, stream="stdout"):
        return "".join(m["data"] for m in self.msgs
                       if m.get("type") == "data" and m.get("stream") == stream)


def ws_case(t, body, *server_args, timeout=None):
    with Server(t, *server_args) as srv:
        run_async(t, body(srv), timeout=timeout)
        srv.check_alive()


async def expect_close(t, ws, code, reason, timeout=30):
    got = await ws.until_closed(timeout)
    t.eq(got, (code, reason), "%s: close code and reason" % ws.name)


# ================================================================== HTTP
@case("dialect_piston.runtimes_packages", lang="python")
def runtimes_packages(t):
    """Runtimes from the toolchains with Piston's version form; a language whose root
    filesystem is missing is left out of the runtimes and listed as not installed."""
    tdir = t.tmpdir()
    for f in glob.glob(os.path.join(toolchains_dir(), "*.json")):
        shutil.copy(f, tdir)
    with open(os.path.join(toolchains_dir(), "python.json")) as f:
        fake = json.load(f)
    fake.update({"name": "klingon", "aliases": ["kling"], "rootfs": "no-such-rootfs"})
    t.write(tdir, "klingon.json", json.dumps(fake))
    info = {e["name"]: e for e in json.loads(t.runcell("languages", "--json").stdout)}
    srv = Server(t)
    srv.cmd[1:1] = ["--toolchains", tdir]
    with srv:
        r = http_req(t, srv, "GET", "/api/v2/runtimes")
        t.eq(r.status, 200, "GET /api/v2/runtimes status")
        # one runtime per version of a language (README, "Versions"); the checks below are
        # of each language's default (its newest) and that every version built is listed
        t.eq(len({(e["language"], e["version"]) for e in r.json}), len(r.json),
             "one entry per language and version")
        rts = {}
        for e in r.json:
            d = info.get(e["language"])
            if e["language"] not in rts or (d and e["version"] == piston_form(d["version"])):
                rts[e["language"]] = e
        for name, e in info.items():
            for ver in e.get("versions", []):
                if ver["available"]:
                    t.check({"language": name, "version": piston_form(ver["version"])}.items()
                            <= next((x.items() for x in r.json if x["language"] == name
                                     and x["version"] == piston_form(ver["version"])), {}.items()),
                            "runtime %s %s missing" % (name, ver["version"]))
        t.check("klingon" not in rts, "a language without its root filesystem is left out: %r"
                % rts.get("klingon"))
        # every language of the toolchains whose root filesystem is built, and only those
        t.eq(sorted(info), harness.LANGS, "languages of `runcell languages --json`")
        built = sorted(n for n, e in info.items() if e.get("available"))
        t.eq(sorted(rts), built, "the runtimes (every language whose root filesystem is built)")
        if t.suite.strict:
            t.eq(built, harness.LANGS, "languages with a built root filesystem (--strict)")
        for name in built:
            e, rt = info[name], rts[name]
            t.eq(rt["version"], piston_form(e["version"]), "%s version" % name)
            t.eq(rt["aliases"], e["aliases"], "%s aliases" % name)
            keys = {"language", "version", "aliases"}
            rootfs = harness.TOOLCHAINS[name]["rootfs"]
            if any(harness.TOOLCHAINS[n]["rootfs"] == rootfs for n in harness.LANGS if n != name):
                keys.add("runtime")  # one root filesystem, several languages: Piston's package
                t.eq(rt.get("runtime"), rootfs, "%s runtime" % name)
            t.eq(set(rt), keys, "%s: the entry's keys" % name)

        r = http_req(t, srv, "GET", "/api/v2/packages")
        t.eq(r.status, 200, "GET /api/v2/packages status")
        pk = {(e["language"], e["language_version"]): e for e in r.json}
        for e in r.json:
            t.eq(set(e), {"language", "language_version", "installed"}, "package keys")
        t.eq(pk[("klingon", None)], {"language": "klingon", "language_version": None, "installed": False},
             "a language whose root filesystem is missing")
        for name, rt in rts.items():
            t.eq(pk[(name, rt["version"])], {"language": name, "language_version": rt["version"],
                            "installed": True}, "package %s" % name)
        expect_message(t, srv, {"language": "klingon", "version": "*",
                                "files": [{"content": "print(1)"}]},
                       "klingon-* runtime is unknown", "a language that is not installed")
        srv.check_alive()


@case("dialect_piston.runtimes_while_unpacking", lang="python")
def runtimes_while_unpacking(t):
    """Listing runtimes and packages unpacks no root filesystem: with a fresh state
    directory whose unpacking lock another process holds, both answer at once (they used to
    wait for the lock and the unpacking in the event loop, past libwebsockets' 5 s limit
    for a GET's answer, and the client saw the connection closed without a response)."""
    state = t.tmpdir()
    os.makedirs(os.path.join(state, "rootfs"))
    lock = open(os.path.join(state, "rootfs", ".lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    hold_s = 8.0
    release = threading.Timer(hold_s, lock.close)  # closing the file drops the lock
    release.start()
    try:
        info = {e["name"]: e for e in json.loads(t.runcell("languages", "--json").stdout)}
        srv = Server(t)
        srv.cmd[1:1] = ["--state-dir", state]
        with srv:
            t0 = time.monotonic()
            r = http_req(t, srv, "GET", "/api/v2/runtimes", timeout=60)
            took = time.monotonic() - t0
            t.eq(r.status, 200, "GET /api/v2/runtimes status")
            t.check(took < hold_s / 2, "GET /api/v2/runtimes took %.1fs with the unpacking lock "
                    "held: it waits for root filesystems" % took)
            names = sorted(e["language"] for e in r.json)
            want = sorted(n for n, e in info.items()  # a runtime per version built
                          for v in e["versions"] if v["available"])
            t.eq(names, want, "runtimes listed (the languages whose root filesystem is built)")
            t0 = time.monotonic()
            r = http_req(t, srv, "GET", "/api/v2/packages", timeout=60)
            took = time.monotonic() - t0
            t.eq(r.status, 200, "GET /api/v2/packages status")
            t.check(took < hold_s / 2, "GET /api/v2/packages took %.1fs" % took)
            t.eq(sorted(e["language"] for e in r.json if e["installed"]), want,
                 "packages installed")
            release.join()
            # once the lock is free, a listed runtime runs (its root filesystem is unpacked
            # into the fresh state directory now)
            j = execute(t, srv, py('print("after the lock")'))
            run = check_result(t, j, "python")
            t.eq(run["stdout"], "after the lock\n", "stdout")
            srv.check_alive()
    finally:
        release.cancel()
        lock.close()


@case("dialect_piston.execute_python", lang="python")
def execute_python(t):
    with Server(t) as srv:
        version = python_version(t, srv)
        j = execute(t, srv, py('print("Hello World!")'))
        run = check_result(t, j, "python")
        t.eq(j["version"], version, "version")
        t.eq((run["stdout"], run["stderr"], run["output"]),
             ("Hello World!\n", "", "Hello World!\n"), "stdout, stderr, output")
        t.eq((run["code"], run["signal"], run["status"], run["message"]), (0, None, None, None),
             "code, signal, status, message")
        # an alias, stdin (Piston adds a final newline), args; any Content-Type is read as
        # JSON (piston-client sends text/plain)
        src = "import sys\nprint(repr(sys.stdin.read()), sys.argv[1:])\n"
        j = execute(t, srv, json.dumps({"language": "py", "version": version,
                                        "files": [{"name": "prog.py", "content": src}],
                                        "stdin": "no newline", "args": ["a", "b c"]}),
                    headers={"Content-Type": "text/plain;charset=UTF-8"})
        run = check_result(t, j, "python")
        t.eq(run["stdout"], "'no newline\\n' ['a', 'b c']\n", "stdin and args")
        j = execute(t, srv, py("import sys\nprint(repr(sys.stdin.read()))\n"))
        t.eq(j["run"]["stdout"], "'\\n'\n", "no stdin: Piston writes one newline")
        srv.check_alive()


@case("dialect_piston.execute_compiled", lang="c")
def execute_compiled(t):
    prog = ('#include <stdio.h>\nint main(int c, char **v) { char l[32];\n'
            'if (!fgets(l, sizeof l, stdin)) return 9;\n'
            'printf("%d %s %s", c - 1, v[1], l); fprintf(stderr, "to stderr\\n");\n'
            'return 4; }\n')
    with Server(t) as srv:
        j = execute(t, srv, {"language": "c", "version": "*", "files": [{"content": prog}],
                             "stdin": "in", "args": ["first", "second"],
                             "compile_timeout": 60000})
        run = check_result(t, j, "c", compiled=True)
        comp = j["compile"]
        t.eq((comp["code"], comp["status"], comp["signal"]), (0, None, None),
             "compile: code, status, signal (stderr %r)" % comp["stderr"])
        t.eq(run["stdout"], "2 first in\n", "run stdout")
        t.eq(run["stderr"], "to stderr\n", "run stderr")
        t.eq((run["code"], run["status"], run["message"], run["signal"]),
             (4, "RE", "Exited with error status 4", None), "run: code, status, message, signal")
        # a compile error: Piston's run repeats the compile stage
        j = execute(t, srv, {"language": "c", "version": "*",
                             "files": [{"content": "int main(void) { syntax error }\n"}]})
        check_result(t, j, "c", compiled=True)
        comp = j["compile"]
        t.eq((comp["code"], comp["status"], comp["message"]),
             (1, "RE", "Exited with error status 1"), "compile error: code, status, message")
        t.contains(comp["stderr"], "error", "compiler's stderr")
        t.eq(comp["output"], comp["stderr"], "compile output")
        t.eq(j["run"], comp, "run repeats compile when run did not start")
        # a C file whose name the compiler does not take: runcell's internal error, XX
        j = execute(t, srv, {"language": "c", "version": "*",
                             "files": [{"name": "prog", "content": "int main(void){}\n"}]})
        check_result(t, j, "c", compiled=True)
        t.eq(j["compile"]["status"], "XX", "status for a sandbox that could not start")
        t.contains(j["compile"]["message"], "no source file", "XX message")
        srv.check_alive()


@case("dialect_piston.statuses", lang="python")
def statuses(t):
    big = 'import sys\nsys.%s.write("x" * (3 << 20))\n'
    with Server(t) as srv:
        run = check_result(t, execute(t, srv, py("import sys\nsys.exit(3)\n")), "python")
        t.eq((run["code"], run["signal"], run["status"], run["message"]),
             (3, None, "RE", "Exited with error status 3"), "exit 3")

        run = check_result(t, execute(t, srv, py(
            "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")), "python")
        t.eq((run["code"], run["signal"], run["status"], run["message"]),
             (None, "SIGSEGV", "SG", "Caught fatal signal 11"), "killed by SIGSEGV")

        run = check_result(t, execute(t, srv, py(SLEEPER, run_timeout=700)), "python")
        t.eq((run["code"], run["signal"], run["status"], run["message"]),
             (None, "SIGKILL", "TO", "Time limit exceeded (wall clock)"), "run_timeout")
        t.eq(run["stdout"], "ready\n", "output before the time limit")
        t.check(700 <= run["wall_time"] < 10000, "wall_time %r for run_timeout 700"
                % run["wall_time"])

        run = check_result(t, execute(t, srv, py("while True:\n    pass\n", run_cpu_time=500,
                                                 run_timeout=20000)), "python")
        t.eq((run["code"], run["signal"], run["status"], run["message"]),
             (None, "SIGKILL", "TO", "Time limit exceeded"), "run_cpu_time")

        run = check_result(t, execute(t, srv, py(
            'b = b"x" * (400 << 20)\nprint(len(b))\n', run_memory_limit=64 << 20)), "python")
        t.eq((run["code"], run["signal"], run["status"], run["message"]),
             (None, "SIGKILL", "SG", "Caught fatal signal 9"), "run_memory_limit 64 MiB")
        t.check(run["memory"] is None or run["memory"] <= (64 << 20) + (1 << 20),
                "memory %r over the 64 MiB limit" % run["memory"])

        run = check_result(t, execute(t, srv, py(big % "stdout")), "python")
        t.eq((run["code"], run["signal"], run["status"], run["message"]),
             (None, "SIGKILL", "OL", "stdout length exceeded"), "3 MiB on stdout")
        t.eq(len(run["stdout"]), 1 << 20, "stdout kept up to the output limit")
        t.eq(run["output"], run["stdout"], "output up to the limit")

        run = check_result(t, execute(t, srv, py(big % "stderr")), "python")
        t.eq((run["status"], run["message"], run["signal"]),
             ("EL", "stderr length exceeded", "SIGKILL"), "3 MiB on stderr")
        t.eq(len(run["output"]), 1 << 20, "output kept up to the output limit")
        srv.check_alive()


@case("dialect_piston.output_interleaved", lang="python")
def output_interleaved(t):
    src = ('import sys, time\n'
           'for i in range(3):\n'
           '    print("out%d" % i, flush=True)\n'
           '    time.sleep(0.2)\n'
           '    print("err%d" % i, file=sys.stderr, flush=True)\n'
           '    time.sleep(0.2)\n')
    with Server(t) as srv:
        run = check_result(t, execute(t, srv, py(src)), "python")
        t.eq(run["stdout"], "out0\nout1\nout2\n", "stdout")
        t.eq(run["stderr"], "err0\nerr1\nerr2\n", "stderr")
        t.eq(run["output"], "out0\nerr0\nout1\nerr1\nout2\nerr2\n",
             "output: both streams in the order they were written")
        srv.check_alive()


@case("dialect_piston.versions", lang="python")
def versions(t):
    with Server(t) as srv:
        v = python_version(t, srv)
        major, minor, patch = (int(x) for x in v.split("."))
        good = ["*", "x", str(major), "%d.%d" % (major, minor), v, "v" + v, "=" + v,
                "^%d" % major, "%d.x" % major, "%d.%d.x" % (major, minor),
                "~%d.%d" % (major, minor), ">=%d <%d" % (major, major + 1),
                "%d || %d" % (major - 1, major), "^%d.%d.0" % (major, minor),
                ">%d.%d" % (major, minor - 1) if minor else ">%d" % (major - 1)]
        for rng in good:
            j = execute(t, srv, py("print(1)", version=rng))
            t.eq((j.get("language"), j.get("version")), ("python", v),
                 "version %r matches %s" % (rng, v))
        bad = [str(major + 1), "%d.%d" % (major, minor + 1), "%d.%d.%d" % (major, minor,
                                                                           patch + 1),
               "^%d" % (major - 1), "<%d" % major, "~%d.%d" % (major, minor + 1),
               "%d - %d" % (major, major + 1), "%d.%d.%d-beta" % (major, minor, patch),
               "latest", ">=%d.%d <%d.%d" % (major, minor, major, minor)]
        for rng in bad:
            expect_message(t, srv, py("print(1)", version=rng),
                           "python-%s runtime is unknown" % rng,
                           "version %r does not match %s" % (rng, v))
        srv.check_alive()


@case("dialect_piston.files", lang="python")
def files(t):
    main = ('import os\nprint(sorted(os.listdir(".")))\n'
            'print(open("data.bin").read(), open("hex.bin").read(), open("file2.code").read())\n')
    with Server(t) as srv:
        # the first UTF-8 file is the program, wherever it is; unnamed ones get Piston's names
        j = execute(t, srv, {"language": "python", "version": "*", "files": [
            {"name": "data.bin", "content": "aGVsbG8=", "encoding": "base64"},
            {"content": main},
            {"content": "third"},
            {"name": "hex.bin", "content": "776f726c64", "encoding": "hex"}]})
        run = check_result(t, j, "python")
        t.eq(run["stdout"], "['data.bin', 'file2.code', 'hex.bin', 'main.py']\n"
                            "hello world third\n", "files as the program sees them")
        expect_message(t, srv, {"language": "python", "version": "*", "files": [
            {"content": "cHJpbnQoMSk=", "encoding": "base64"}]},
            "files must include at least one utf8 encoded file", "only a base64 file")
        expect_message(t, srv, {"language": "python", "version": "*", "files": []},
                       "files must include at least one utf8 encoded file", "no file")
        expect_message(t, srv, {"language": "python", "version": "*", "files": [
            {"content": "print(1)"}, {"name": "z.bin", "content": "AAEC", "encoding": "base64"}]},
            "files[1] holds a NUL byte once decoded, which runcell cannot place in a file",
            "a decoded file with NUL bytes")
        srv.check_alive()


@case("dialect_piston.errors", lang="python")
def errors(t):
    cfg = write_config(t, {"message_max_bytes": 65536})
    ok = {"language": "python", "version": "*", "files": [{"content": "print(1)"}]}

    def but(**kw):
        b = dict(ok)
        for k, v in kw.items():
            if v is None:
                b.pop(k, None)
            else:
                b[k] = v
        return b

    with Server(t, "--config", cfg) as srv:
        cases = [
            ({}, "language is required as a string"),
            ([], "language is required as a string"),
            (but(language=5), "language is required as a string"),
            (but(language=""), "language is required as a string"),
            (but(version=None), "version is required as a string"),
            (but(version=3), "version is required as a string"),
            (but(files=None), "files is required as an array"),
            (but(files={"content": "x"}), "files is required as an array"),
            (but(files=[{"name": "a.py"}]), "files[0].content is required as a string"),
            (but(files=[{"content": "x"}, {"content": 5}]),
             "files[1].content is required as a string"),
            (but(files=["print(1)"]), "files[0].content is required as a string"),
            (but(language="klingon"), "klingon-* runtime is unknown"),
            (but(version="2.7"), "python-2.7 runtime is unknown"),
            (but(run_timeout="100"), "If specified, run_timeout must be a number"),
            (but(compile_memory_limit=True),
             "If specified, compile_memory_limit must be a number"),
            (but(run_timeout=-5), "run_timeout must be non-negative"),
            (but(compile_cpu_time=-1), "compile_cpu_time must be non-negative"),
            (but(args="a b"), "args must be an array of strings"),
            (but(args=[1, 2]), "args must be an array of strings"),
            (but(stdin=5), "stdin must be a string"),
        ]
        for body, msg in cases:
            expect_message(t, srv, body, msg, "body %s" % shorten(json.dumps(body), 200))
        # falsy limits are not given; a negative memory limit is Piston's "none": the default
        j = execute(t, srv, but(run_timeout=0, run_memory_limit=-1, compile_memory_limit=-1,
                                run_cpu_time=None))
        t.eq(j["run"]["stdout"], "1\n", "falsy and -1 limits")
        # bodies that are not JSON: express' error handler (400, "stack"), plus the message
        for raw, msg in [('{"language": "python",', "Unexpected end of JSON input"),
                         ('{"language" x}', "Unexpected token x in JSON at position 12"),
                         ('5', "Unexpected token 5 in JSON at position 0"),
                         ('{"a": "b', "Unexpected end of JSON input")]:
            j = execute(t, srv, raw, status=400, headers={"Content-Type": "application/json"})
            t.eq(j, {"message": msg, "stack": "SyntaxError: " + msg}, "body %r" % raw)
        # an empty body is {} to body-parser
        expect_message(t, srv, "", "language is required as a string", "empty body")
        # over message_max_bytes: 400 as express answers body-parser's PayloadTooLargeError
        r = raw_post_large(t, srv, EXECUTE, 100000)
        t.eq(r.status, 400, "status for a body over the size limit (%r)" % r)
        t.eq(r.json, {"message": "request entity too large",
                      "stack": "PayloadTooLargeError: request entity too large"},
             "answer to a body over the size limit")
        srv.check_alive()


@case("dialect_piston.busy", lang="python")
def busy(t):
    """With the dialect's one slot taken and no queue, execute is 429 and init is refused."""
    cfg = write_config(t, {"dialects": {"piston": {"max_concurrent": 1, "queue": 0}}})

    async def body(srv):
        async with PistonWS(t, srv, name="holder") as ws:
            await ws.send(init_msg(SLEEPER))
            await ws.until(lambda m: m.get("type") == "data" and "ready" in m["data"],
                           what="ready")
            r = await asyncio.to_thread(http_req, t, srv, "POST", EXECUTE, py("print(2)"))
            t.eq(r.status, 429, "execute while the only slot is taken (%r)" % r)
            t.eq(set(r.json or {}), {"message"}, "429 body keys (%r)" % r)
            t.check(r.json["message"], "429 message is empty")
            t.eq(r.headers.get("retry-after"), "1", "Retry-After")
            async with PistonWS(t, srv, name="refused") as ws2:
                await ws2.send(init_msg("print(3)"))
                await expect_close(t, ws2, 4002, "Notified Error")
                t.eq([m["type"] for m in ws2.msgs], ["error"], "messages of a refused init")
                t.eq(ws2.msgs[0]["message"], r.json["message"], "the refusal's message")
            await ws.send({"type": "signal", "signal": "SIGKILL"})
            await expect_close(t, ws, 4999, "Job Completed")
        j = await asyncio.to_thread(execute, t, srv, py("print(3)"))
        t.eq(j["run"]["stdout"], "3\n", "a run once the slot is free")

    ws_case(t, body, "--config", cfg)


@case("dialect_piston.doc_example", lang="python")
def doc_example(t):
    """The exchange printed in docs/dialects.md ("Piston v2"), verbatim but for times and
    sizes, and the version, which is the installed Python's."""
    request = '''{"language": "python", "version": "3.x",
 "files": [{"name": "hello.py", "content": "import sys\\nprint(sys.argv[1:])\\nprint(\\"oops\\", file=sys.stderr)\\nsys.exit(2)"}],
 "args": ["a", "b"]}'''
    answer = {"run": {"stdout": "['a', 'b']\n", "stderr": "oops\n",
                      "output": "['a', 'b']\noops\n", "code": 2, "signal": None,
                      "message": "Exited with error status 2", "status": "RE",
                      "cpu_time": 18, "wall_time": 31, "memory": 8724480},
              "language": "python", "version": "3.11.2"}
    with Server(t) as srv:
        j = execute(t, srv, request)
        version = python_version(t, srv)
        run = check_result(t, j, "python")
        for k in ("cpu_time", "wall_time", "memory"):
            answer["run"][k] = run[k]
        answer["version"] = version
        t.eq(j, answer, "the documented answer")
        srv.check_alive()


# ================================================================== npm piston-client
@case("dialect_piston.node_piston_client", lang="c")
def node_client(t):
    mods = node_modules()
    t.check(mods and os.path.isfile(os.path.join(mods, "piston-client", "package.json")),
            "piston-client is not installed at %r: run tests/node/setup (scripts/test does)"
            % mods)
    node = shutil.which("node")
    t.check(node, "node is not installed (scripts/setup installs it)")
    script = os.path.join(harness.E2E_DIR, "node", "piston_client.mjs")
    with Server(t) as srv:
        r = t.exec([node, script, "http://127.0.0.1:%d" % srv.port, mods], timeout=240)
        t.eq(r.rc, 0, "node piston_client.mjs exit status")
        out = json.loads(r.stdout)
        rts = {e["language"]: e for e in out["runtimes"]}
        t.check({"python", "c"} <= set(rts), "runtimes seen by the client: %s" % sorted(rts))
        hello = out["hello"]
        check_result(t, hello, "python")
        t.eq(hello["version"], rts["python"]["version"], "the client's chosen version")
        t.eq(hello["run"]["output"], "Hello World!\n", "hello output")
        t.eq(hello["run"]["code"], 0, "hello code")
        c = out["c"]
        check_result(t, c, "c", compiled=True)
        t.eq(c["compile"]["code"], 0, "C compile code (stderr %r)" % c["compile"]["stderr"])
        t.eq(c["run"]["stdout"], "c saw 2 args, first alpha, stdin from stdin\n", "C run")
        t.eq(out["stdin"]["run"]["stdout"], "TWO\nLINES\n", "stdin through the client")
        t.eq(out["args"]["run"]["stdout"], "['x', 'y z']\n", "args through the client")
        t.eq(out["unknown_version"], {"message": "python-9.9 runtime is unknown"},
             "an unknown version through the client")
        t.eq(out["unknown_language"], {"message": "version is required as a string"},
             "a language the runtimes do not list (the client sends no version)")
        srv.check_alive()


# ================================================================== WebSocket
def init_msg(src, language="python", **fields):
    m = {"type": "init", "language": language, "version": "*", "files": [{"content": src}]}
    m.update(fields)
    return m


@case("dialect_piston.ws_run", lang="python")
def ws_run(t):
    src = 'import sys\nprint("out", flush=True)\nprint("err", file=sys.stderr, flush=True)\n'

    async def body(srv):
        async with PistonWS(t, srv) as ws:
            await ws.send(init_msg(src, args=["x"]))
            await expect_close(t, ws, 4999, "Job Completed")
            msgs = ws.msgs
            v = python_version(t, srv)
            t.eq(msgs[0], {"type": "runtime", "language": "python", "version": v}, "runtime")
            t.eq(msgs[1], {"type": "stage", "stage": "run"}, "stage")
            data = [m for m in msgs[2:-1]]
            for m in data:
                t.eq(set(m), {"type", "stream", "data"}, "data message keys")
                t.eq(m["type"], "data", "between stage and exit only data")
            t.eq(ws.output("stdout"), "out\n", "stdout data")
            t.eq(ws.output("stderr"), "err\n", "stderr data")
            t.eq(msgs[-1], {"type": "exit", "stage": "run", "code": 0, "signal": None}, "exit")
    ws_case(t, body)


@case("dialect_piston.ws_compiled", lang="c")
def ws_compiled(t):
    async def body(srv):
        async with PistonWS(t, srv) as ws:
            await ws.send(init_msg('#include <stdio.h>\nint main(void){puts("c!");return 5;}\n',
                                   language="c", compile_timeout=60000))
            await expect_close(t, ws, 4999, "Job Completed", timeout=90)
            kinds = [(m["type"], m.get("stage")) for m in ws.msgs if m["type"] != "data"]
            t.eq(kinds, [("runtime", None), ("stage", "compile"), ("exit", "compile"),
                         ("stage", "run"), ("exit", "run")], "message sequence")
            t.eq(ws.msgs[-1], {"type": "exit", "stage": "run", "code": 5, "signal": None},
                 "run exit")
            t.eq(ws.output(), "c!\n", "stdout")
    ws_case(t, body)


@case("dialect_piston.ws_stdin", lang="python")
def ws_stdin(t):
    src = ('import sys\nprint("ready", flush=True)\n'
           'for i in range(2):\n    print("got " + sys.stdin.readline().strip(), flush=True)\n')

    async def body(srv):
        async with PistonWS(t, srv) as ws:
            await ws.send(init_msg(src))
            await ws.until(lambda m: m.get("type") == "data" and "ready" in m["data"],
                           what="ready")
            await ws.send({"type": "data", "stream": "stdin", "data": "one\n"})
            await ws.until(lambda m: m.get("type") == "data" and "got one" in m["data"],
                           what="the echo of line one")
            await ws.send({"type": "data", "stream": "stdin", "data": "two\n"})
            await expect_close(t, ws, 4999, "Job Completed")
            t.eq(ws.output(), "ready\ngot one\ngot two\n", "stdout")
            t.eq(ws.msgs[-1], {"type": "exit", "stage": "run", "code": 0, "signal": None},
                 "exit")
    ws_case(t, body)


@case("dialect_piston.ws_signal", lang="python")
def ws_signal(t):
    """Unlike Piston's, runcell's signal message reaches the program."""
    async def body(srv):
        for sig, name in (("SIGTERM", "SIGTERM"), (2, "SIGINT")):
            async with PistonWS(t, srv, name="signal-%s" % name) as ws:
                await ws.send(init_msg(SLEEPER))
                await ws.until(lambda m: m.get("type") == "data" and "ready" in m["data"],
                               what="ready")
                t0 = time.monotonic()
                await ws.send({"type": "signal", "signal": sig})
                await expect_close(t, ws, 4999, "Job Completed", timeout=20)
                t.check(time.monotonic() - t0 < 10, "the program ended only %.1fs after %r"
                        % (time.monotonic() - t0, sig))
                t.eq(ws.msgs[-1], {"type": "exit", "stage": "run", "code": None,
                                   "signal": name}, "exit after signal %r" % (sig,))
    ws_case(t, body)


@case("dialect_piston.ws_close_codes", lang="python")
def ws_close_codes(t):
    async def body(srv):
        # 4000: a second init
        async with PistonWS(t, srv, name="4000") as ws:
            await ws.send(init_msg(SLEEPER))
            await ws.until(lambda m: m.get("type") == "data", what="output")
            await ws.send(init_msg("print(2)"))
            await expect_close(t, ws, 4000, "Already Initialized")
        # 4001: no init within Piston's second
        async with PistonWS(t, srv, name="4001") as ws:
            await expect_close(t, ws, 4001, "Initialization Timeout", timeout=10)
            t.check(0.8 <= ws.closed_at <= 5, "closed %.2fs after the handshake (Piston: 1 s)"
                    % ws.closed_at)
            t.eq(ws.msgs, [], "messages before 4001")
        # 4002: an error is told, then the socket closes
        for name, send, msg in [
                ("unknown runtime", init_msg("print(1)", language="klingon"),
                 "klingon-* runtime is unknown"),
                ("no version", {"type": "init", "language": "python",
                                "files": [{"content": "print(1)"}]},
                 "version is required as a string"),
                ("not JSON", '{"type": "init",', "Unexpected end of JSON input"),
                ("bad stdin data", None, "data must be a string")]:
            async with PistonWS(t, srv, name="4002 " + name) as ws:
                if send is None:
                    await ws.send(init_msg(SLEEPER))
                    await ws.until(lambda m: m.get("type") == "data", what="output")
                    send = {"type": "data", "stream": "stdin", "data": 5}
                await ws.send(send)
                await expect_close(t, ws, 4002, "Notified Error")
                t.eq(ws.msgs[-1], {"type": "error", "message": msg}, "%s: error" % name)
        # 4003: data or signal before init
        for m in ({"type": "data", "stream": "stdin", "data": "x"},
                  {"type": "signal", "signal": "SIGTERM"}):
            async with PistonWS(t, srv, name="4003 " + m["type"]) as ws:
                await ws.send(m)
                await expect_close(t, ws, 4003, "Not yet initialized")
        # 4004 and 4005 while a program runs
        for m, code, reason in (({"type": "data", "stream": "stdout", "data": "x"}, 4004,
                                 "Can only write to stdin"),
                                ({"type": "signal", "signal": "SIGFOO"}, 4005,
                                 "Invalid signal"),
                                ({"type": "signal", "signal": 99}, 4005, "Invalid signal")):
            async with PistonWS(t, srv, name=str(code)) as ws:
                await ws.send(init_msg(SLEEPER))
                await ws.until(lambda m: m.get("type") == "data", what="output")
                await ws.send({"type": "ping"})  # unknown types are ignored, as Piston does
                await ws.send(m)
                await expect_close(t, ws, code, reason)
                t.check(all(x["type"] != "exit" for x in ws.msgs),
                        "%s: the program ended before the close: %s" % (code, ws.msgs))
    ws_case(t, body, timeout=240)


@case("dialect_piston.ws_config_and_size", lang="python")
def ws_config_and_size(t):
    cfg = write_config(t, {"message_max_bytes": 65536,
                           "dialects": {"piston": {"init_timeout_ms": 3000}}})

    async def body(srv):
        async with PistonWS(t, srv, name="slow init") as ws:
            await asyncio.sleep(1.5)  # past Piston's second, within the configured 3
            await ws.send(init_msg('print("late")'))
            await expect_close(t, ws, 4999, "Job Completed")
            t.eq(ws.output(), "late\n", "stdout")
        async with PistonWS(t, srv, name="no init") as ws:
            await expect_close(t, ws, 4001, "Initialization Timeout", timeout=15)
            t.check(2.7 <= ws.closed_at <= 8, "closed after %.2fs (init_timeout_ms 3000)"
                    % ws.closed_at)
        async with PistonWS(t, srv, name="too large") as ws:
            await ws.send(init_msg("#" + "x" * 100000))
            await expect_close(t, ws, 4002, "Notified Error")
            t.eq(ws.msgs, [{"type": "error", "message": "the message is over the size limit"}],
                 "messages for an oversized message")

    ws_case(t, body, "--config", cfg)
    bad = write_config(t, {"dialects": {"piston": {"init_timeout": 5}}})
    r = t.runcell(*(t.suite.global_args + ["serve", "--listen", "127.0.0.1:0", "--config", bad]),
                  timeout=30)
    t.check(r.rc != 0, "serve must refuse an unknown piston option")
    t.contains(r.stderr, 'piston: unknown option "init_timeout"', "serve's complaint")
