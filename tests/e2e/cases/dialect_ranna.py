"""The ranna dialect (docs/dialects.md, section "ranna"): WebSocket /v1/ws with op codes
PING/EXEC/KILL and events PONG/ERROR/SPAWN/LOG/STOP, POST /v1/exec, GET /v1/spec and
GET /v1/info, each case against its own server."""

import asyncio
import json
import re
import signal
import time

from harness import case, example, Fail, LANGS, shorten
from wsclient import Closed, WSClient
from server_util import (OpsServer, Server, http_req, raw_post_large,
                         run_async, write_config)

PONG, ERROR, SPAWN, LOG, STOP = 0, 1, 2, 3, 4
NAMES = {PONG: "PONG", ERROR: "ERROR", SPAWN: "SPAWN", LOG: "LOG", STOP: "STOP"}
WAVE = "\U0001F44B"
RUNID_RE = re.compile(r"^[0-9a-f]{64}$")
ABSENT = object()

# The example of ranna's WebSocket document, character for character (the document's copy
# shows the emoji mis-encoded; it is U+1F44B).
DOC_EXAMPLE = ('{\n'
               '  "op": 1,\n'
               '  "nonce": 123,\n'
               '  "args": {\n'
               '    "language": "go",\n'
               '    "inline_expression": true,\n'
               '    "code": "import \\"time\\"\\nfor i := 0; i < 5; i++ { time.Sleep(1 * '
               'time.Second); println(\\"' + WAVE + '\\") }"\n'
               '  }\n'
               '}')

# the languages ranna wraps inline expressions for (src/protocol/ranna.c, templates)
INLINE_LANGS = {"bash", "python", "javascript", "c", "cpp", "go", "rust"}
SLEEPER = 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'


def same(a, b):
    """Equal as JSON values (1, 1.5, true and "1" all differ)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def nonce_of(ev):
    return ev.get("nonce", ABSENT)


def has_nonce(ev, nonce):
    n = nonce_of(ev)
    if nonce is ABSENT:
        return n is ABSENT
    return n is not ABSENT and same(n, nonce)


class RannaWS(WSClient):
    """One connection to /v1/ws (connecting, sending and the transcript are
    wsclient.WSClient's). Events are kept in arrival order with their arrival time; wait()
    consumes matching events from an inbox."""

    def __init__(self, t, srv, name="ws", path="/v1/ws"):
        WSClient.__init__(self, t, srv, path, name)
        self.events = []

    async def _recv(self, timeout):
        try:
            frame = await self.frame(timeout)
        except Closed as e:
            self.srv.check_alive()
            raise Fail("%s: the server closed the connection while waiting (%s)"
                       % (self.name, e))
        if frame is None:
            return None
        at = time.monotonic() - self.t0
        if isinstance(frame, bytes):
            raise Fail("%s: a binary frame from the server: %r" % (self.name, frame[:100]))
        self._log("<", frame)
        try:
            ev = json.loads(frame)
        except ValueError as e:
            raise Fail("%s: a frame that is not JSON (%s): %r" % (self.name, e,
                                                                 shorten(frame, 300)))
        if not isinstance(ev, dict) or type(ev.get("code")) is not int \
                or ev["code"] not in NAMES:
            raise Fail("%s: not a ranna event (an object with an int code 0-4): %r"
                       % (self.name, shorten(frame, 300)))
        extra = set(ev) - {"code", "nonce", "data"}
        if extra:
            raise Fail("%s: event with keys beyond code/nonce/data: %r" % (self.name, ev))
        self.events.append((at, ev))
        self.inbox.append((at, ev))
        return ev

    async def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        scanned = 0
        while True:
            while scanned < len(self.inbox):
                at, ev = self.inbox[scanned]
                if pred(ev):
                    del self.inbox[scanned]
                    return at, ev
                scanned += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("%s: no %s within %.1fs" % (self.name, what, timeout))
            await self._recv(min(left, 1.0))

    async def quiet(self, seconds):
        """Read whatever comes during seconds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self._recv(max(0.05, end - time.monotonic()))

    async def error(self, nonce=ABSENT, timeout=20):
        """The next ERROR event carrying nonce (absent: one without a nonce)."""
        _, ev = await self.wait(lambda e: e["code"] == ERROR and has_nonce(e, nonce), timeout,
                                "ERROR event with nonce %r" % (nonce,))
        d = ev.get("data")
        self.t.check(isinstance(d, dict) and set(d) == {"code", "message"},
                     "ERROR data must be {code, message}: %r" % (ev,))
        self.t.check(type(d["code"]) is int and isinstance(d["message"], str) and d["message"],
                     "ERROR data: an int code and a non-empty message: %r" % (ev,))
        return d

    async def ping(self, nonce=ABSENT):
        msg = {"op": 0}
        if nonce is not ABSENT:
            msg["nonce"] = nonce
        await self.send(msg)
        _, ev = await self.wait(lambda e: e["code"] == PONG and has_nonce(e, nonce), 15,
                                "PONG with nonce %r" % (nonce,))
        self.t.eq(ev.get("data"), "Pong!", "PONG data")
        return ev

    async def exec(self, nonce=ABSENT, **args):
        msg = {"op": 1, "args": args}
        if nonce is not ABSENT:
            msg["nonce"] = nonce
        await self.send(msg)

    async def spawn(self, nonce, timeout=30):
        """The SPAWN of the EXEC with nonce: its runid."""
        _, ev = await self.wait(lambda e: e["code"] in (SPAWN, ERROR) and has_nonce(e, nonce),
                                timeout, "SPAWN with nonce %r" % (nonce,))
        if ev["code"] == ERROR:
            raise Fail("EXEC with nonce %r refused: %r" % (nonce, ev))
        d = ev.get("data")
        self.t.check(isinstance(d, dict) and set(d) == {"runid"},
                     "SPAWN data must be {runid}: %r" % (ev,))
        self.t.check(isinstance(d["runid"], str) and RUNID_RE.match(d["runid"]),
                     "SPAWN runid must be 64 hex digits: %r" % (d["runid"],))
        return d["runid"]

    async def until_stop(self, runid, timeout=60):
        """Wait for the run's STOP; returns every event of the run [(at, ev)] (SPAWN, LOG,
        ERROR, STOP) in arrival order."""
        def ours(e):
            d = e.get("data")
            return isinstance(d, dict) and d.get("runid") == runid

        await self.wait(lambda e: e["code"] == STOP and ours(e), timeout,
                        "STOP of run %s" % runid[:12])
        evs = [(at, e) for at, e in self.events if ours(e)]
        return evs

    async def run(self, nonce, timeout=90, **args):
        """EXEC and wait for the end: (runid, RunView)."""
        await self.exec(nonce, **args)
        runid = await self.spawn(nonce)
        evs = await self.until_stop(runid, timeout)
        return runid, RunView(self.t, runid, nonce, evs, self.events)

    async def expect_close(self, timeout):
        """The server closes the connection within timeout: its close code."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                frame = await self.frame(end - time.monotonic())
            except Closed as e:
                return e.code
            if frame is None:
                break
            self._log("<", frame if isinstance(frame, str) else repr(frame[:100]))
        raise Fail("%s: the server did not close the connection within %ss"
                   % (self.name, timeout))


class RunView:
    """The events of one run, checked for ranna's shape: SPAWN first, then LOG events, at
    most one ERROR, STOP last; all with the run's runid and the EXEC's nonce."""

    def __init__(self, t, runid, nonce, evs, all_events):
        self.runid = runid
        self.evs = evs
        seq = [NAMES[e["code"]] for _, e in evs]
        t.check(seq and seq[0] == "SPAWN" and seq[-1] == "STOP" and seq.count("SPAWN") == 1
                and seq.count("STOP") == 1 and seq.count("ERROR") <= 1,
                "run %s: SPAWN, LOG..., STOP expected; got %s" % (runid[:12], " ".join(seq)))
        for _, e in evs:
            t.check(has_nonce(e, nonce), "run %s: every event carries the nonce %r: %r"
                    % (runid[:12], nonce, e))
        self.stdout = self.stderr = ""
        self.logs = []
        self.error = None
        for at, e in evs:
            d = e["data"]
            if e["code"] == LOG:
                keys = set(d) - {"runid"}
                t.check(len(keys) == 1 and keys <= {"stdout", "stderr"}
                        and isinstance(d[next(iter(keys))], str) and d[next(iter(keys))],
                        "LOG data must be {runid, stdout} or {runid, stderr}, non-empty: %r"
                        % (e,))
                stream = next(iter(keys))
                self.logs.append((at, stream, d[stream]))
                if stream == "stdout":
                    self.stdout += d[stream]
                else:
                    self.stderr += d[stream]
        errs = [e for _, e in all_events
                if e["code"] == ERROR and has_nonce(e, nonce) and nonce is not ABSENT]
        self.error = errs[0]["data"] if errs else None
        stop = evs[-1][1]["data"]
        t.check(set(stop) == {"runid", "exectimems"} and type(stop["exectimems"]) is int
                and stop["exectimems"] >= 0,
                "STOP data must be {runid, exectimems (a non-negative int)}: %r" % (stop,))
        self.exectimems = stop["exectimems"]
        self.t_spawn = evs[0][0]
        self.t_stop = evs[-1][0]


def ws_case(t, body, *server_args, timeout=None):
    with Server(t, *server_args) as srv:
        run_async(t, body(srv), timeout=timeout)
        srv.check_alive()


def check_rest_error(t, r, status, message=None, what="error"):
    t.eq(r.status, status, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    j = r.json
    t.check(isinstance(j, dict) and set(j) == {"error", "code"},
            "%s: ranna's error body is {\"error\", \"code\"}: %r" % (what, shorten(r.body, 300)))
    t.check(isinstance(j["error"], str) and j["error"], "%s: error must be a non-empty "
            "string: %r" % (what, j))
    t.eq(j["code"], status, "%s: code equals the HTTP status" % what)
    if message is not None:
        t.eq(j["error"], message, "%s: error message" % what)
    return j


def exec_ok(t, srv, body, what="POST /v1/exec"):
    r = http_req(t, srv, "POST", "/v1/exec", body)
    t.eq(r.status, 200, "%s: HTTP status (body %r)" % (what, shorten(r.body, 600)))
    j = r.json
    t.check(isinstance(j, dict) and set(j) == {"stdout", "stderr", "exectimems"},
            "%s: the answer is {stdout, stderr, exectimems}: %r" % (what, shorten(r.body, 400)))
    t.check(isinstance(j["stdout"], str) and isinstance(j["stderr"], str)
            and type(j["exectimems"]) is int and j["exectimems"] >= 0,
            "%s: field types: %r" % (what, j))
    return j


# ==================================================================== WebSocket
@case("dialect_ranna.ws.document_example", lang="go")
def ws_document_example(t):
    """The document's exchange verbatim: SPAWN first, five LOG events with stderr "👋\\n"
    about one second apart, then STOP with a plausible exectimems."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            t_sent = time.monotonic() - ws.t0
            await ws.send(DOC_EXAMPLE)
            runid = await ws.spawn(123, timeout=30)
            evs = await ws.until_stop(runid, timeout=120)
            run = RunView(t, runid, 123, evs, ws.events)
            first = ws.events[0][1]
            t.eq(first["code"], SPAWN, "the first event after the EXEC")
            seq = [NAMES[e["code"]] for _, e in evs]
            t.eq(seq, ["SPAWN"] + ["LOG"] * 5 + ["STOP"], "the run's events")
            for at, stream, text in run.logs:
                t.eq((stream, text), ("stderr", WAVE + "\n"), "each LOG is stderr \"%s\\n\""
                     % WAVE)
            times = [at for at, _, _ in run.logs]
            gaps = [b - a for a, b in zip(times, times[1:])]
            t.note("LOG gaps: %s; exectimems %d; EXEC->STOP %.3fs"
                   % (", ".join("%.3f" % g for g in gaps), run.exectimems,
                      run.t_stop - t_sent))
            t.check(all(0.6 <= g <= 3.0 for g in gaps),
                    "LOG events must come about a second apart (streamed as the program "
                    "writes), gaps: %r" % gaps)
            t.check(times[-1] - times[0] >= 3.5, "LOG events spread over %.2fs, not ~4s"
                    % (times[-1] - times[0]))
            t.check(run.t_stop >= times[-1], "STOP after the last LOG")
            t.check(5000 <= run.exectimems <= 60000,
                    "exectimems %d: the program sleeps 5 x 1 s" % run.exectimems)
            t.check(run.exectimems <= (run.t_stop - t_sent) * 1000,
                    "exectimems %d is longer than from the EXEC to the STOP (%.0f ms)"
                    % (run.exectimems, (run.t_stop - t_sent) * 1000))
            t.check(run.error is None, "no ERROR: %r" % (run.error,))
    ws_case(t, body, timeout=180)


@case("dialect_ranna.ws.ping_pong")
def ws_ping(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            ev = await ws.ping()
            t.check("nonce" not in ev, "PONG to a PING without nonce carries none: %r" % ev)
            for nonce in (7, 0, "abc", 2.5, {"a": [1, "x"]}, None, True):
                ev = await ws.ping(nonce)
                t.check(same(ev.get("nonce", ABSENT), nonce), "PONG nonce %r for %r"
                        % (ev.get("nonce", ABSENT), nonce))
            await ws.send('{"op":0,"nonce":"raw"}')
            _, ev = await ws.wait(lambda e: e["code"] == PONG and has_nonce(e, "raw"), 15,
                                  "PONG")
            t.eq(ev, {"code": 0, "nonce": "raw", "data": "Pong!"}, "the PONG event")
    ws_case(t, body)


@case("dialect_ranna.ws.nonce_copied", lang="python")
def ws_nonce(t):
    """Every event of a run carries the EXEC's nonce as it was given (number, string,
    object); without a nonce the events have none."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            for nonce in (42, "run-\u03b1", {"job": [1, 2]}, 9.5):
                _, run = await ws.run(nonce, language="python", code='print("hi")')
                t.eq(run.stdout, "hi\n", "stdout of the run with nonce %r" % (nonce,))
            await ws.exec(language="python", code='print("anonymous")')
            _, sp = await ws.wait(lambda e: e["code"] == SPAWN and "nonce" not in e, 30,
                                  "SPAWN without a nonce")
            runid = sp["data"]["runid"]
            evs = await ws.until_stop(runid)
            run = RunView(t, runid, ABSENT, evs, ws.events)
            t.eq(run.stdout, "anonymous\n", "stdout of the run without a nonce")
    ws_case(t, body)


@case("dialect_ranna.ws.several_execs_interleaved", lang="python")
def ws_several(t):
    """Three EXECs at once on one socket: their events interleave, told apart by nonce and
    runid."""
    def prog(tag):
        return ('import time\nfor i in range(4):\n    print("%s%%d" %% i, flush=True)\n'
                '    time.sleep(0.4)\n' % tag)

    async def body(srv):
        async with RannaWS(t, srv) as ws:
            nonces = [1, 2, "three"]
            for n, tag in zip(nonces, "abc"):
                await ws.exec(n, language="python", code=prog(tag))
            runids = [await ws.spawn(n) for n in nonces]
            t.eq(len(set(runids)), 3, "three different runids")
            runs = []
            for n, rid in zip(nonces, runids):
                evs = await ws.until_stop(rid)
                runs.append(RunView(t, rid, n, evs, ws.events))
            for run, tag in zip(runs, "abc"):
                t.eq(run.stdout, "".join("%s%d\n" % (tag, i) for i in range(4)),
                     "stdout of run %s" % tag)
            # interleaved: some run's LOG arrives between another run's first and last LOG
            spans = [(r.logs[0][0], r.logs[-1][0]) for r in runs]
            inter = any(s0 < at < s1 for i, (s0, s1) in enumerate(spans)
                        for j, r in enumerate(runs) if j != i for at, _, _ in r.logs)
            t.check(inter, "the runs did not go at once (LOG spans %r)" % spans)
    ws_case(t, body, "--max-concurrent", "3")


@case("dialect_ranna.ws.kill_running", lang="python")
def ws_kill(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.exec("k", language="python", code=SLEEPER)
            runid = await ws.spawn("k")
            await ws.wait(lambda e: e["code"] == LOG and has_nonce(e, "k"), 60, "LOG ready")
            t0 = time.monotonic()
            await ws.send({"op": 2, "nonce": "kill-1", "args": {"runid": runid}})
            evs = await ws.until_stop(runid, timeout=10)
            took = time.monotonic() - t0
            run = RunView(t, runid, "k", evs, ws.events)
            t.check(took < 3, "STOP came %.1fs after the KILL" % took)
            t.check(run.exectimems < 30000, "exectimems %d: the sleep was not cut short"
                    % run.exectimems)
            t.check(not [e for _, e in ws.events if has_nonce(e, "kill-1")],
                    "a KILL that worked is not answered (its run's STOP is the answer)")
            # the run is over: a second KILL finds nothing
            await ws.send({"op": 2, "nonce": "kill-2", "args": {"runid": runid}})
            d = await ws.error("kill-2")
            t.eq(d, {"code": 400, "message": "sandbox is not running"}, "second KILL")
            await ws.ping()
    ws_case(t, body)


@case("dialect_ranna.ws.kill_unknown")
def ws_kill_unknown(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.send({"op": 2, "nonce": 9, "args": {"runid": "0" * 64}})
            d = await ws.error(9)
            t.eq(d, {"code": 400, "message": "sandbox is not running"}, "KILL of an unknown run")
            await ws.send({"op": 2, "nonce": 10})
            d = await ws.error(10)
            t.eq(d["code"], 400, "KILL without args: code")
            await ws.send({"op": 2, "nonce": 11, "args": {"runid": 5}})
            d = await ws.error(11)
            t.eq(d["code"], 400, "KILL with a number as runid: code")
            await ws.ping()
    ws_case(t, body)


@case("dialect_ranna.ws.kill_from_other_connection", lang="python")
def ws_kill_other(t):
    """A run can only be killed from the connection that started it."""
    async def body(srv):
        async with RannaWS(t, srv, "a") as a, RannaWS(t, srv, "b") as b:
            await a.exec(1, language="python", code=SLEEPER)
            runid = await a.spawn(1)
            await a.wait(lambda e: e["code"] == LOG, 60, "LOG ready")
            await b.send({"op": 2, "nonce": 2, "args": {"runid": runid}})
            d = await b.error(2)
            t.eq(d, {"code": 400, "message": "sandbox is not running"},
                 "KILL of another connection's run")
            await a.quiet(0.5)
            t.check(not [e for _, e in a.events if e["code"] == STOP],
                    "the run must go on after the other connection's KILL")
            await a.send({"op": 2, "args": {"runid": runid}})
            await a.until_stop(runid, timeout=10)
    ws_case(t, body)


@case("dialect_ranna.ws.errors")
def ws_errors(t):
    """Malformed operations are answered with ERROR {code, message} (the op's nonce when it
    has one) and the connection stays usable; nothing is spawned."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.send("{not json")
            t.eq((await ws.error())["code"], 400, "malformed JSON: code")
            await ws.send("[1, 2]")
            t.eq((await ws.error())["code"], 400, "an array: code")
            await ws.send(b'{"op": 0}')
            d = await ws.error()
            t.eq(d, {"code": 400, "message": "invalid message type"}, "a binary frame")
            await ws.send({"op": 7, "nonce": 5})
            d = await ws.error(5)
            t.eq(d, {"code": 400, "message": "invalid operation code"}, "unknown op")
            await ws.send({"nonce": 6})
            t.eq((await ws.error(6))["code"], 400, "no op: code")
            await ws.send({"op": "1", "nonce": 7, "args": {"language": "python", "code": "1"}})
            t.eq((await ws.error(7))["code"], 400, "op as a string: code")
            await ws.send({"op": 1, "nonce": 8})
            d = await ws.error(8)
            t.eq(d, {"code": 400, "message": "code is empty"}, "EXEC without args")
            await ws.exec(9, language="python", code="")
            d = await ws.error(9)
            t.eq(d, {"code": 400, "message": "code is empty"}, "EXEC with empty code")
            await ws.exec(10, language="python", code=5)
            t.eq((await ws.error(10))["code"], 400, "code as a number: code")
            await ws.exec(11, code='print(1)')
            t.eq((await ws.error(11))["code"], 400, "EXEC without a language: code")
            await ws.exec(12, language="klingon", code='DISPLAY "HI"')
            d = await ws.error(12)
            t.eq(d, {"code": 404, "message": "unsupported language spec"}, "unknown language")
            await ws.exec(13, language="python", code="print(1)", arguments="a b")
            t.eq((await ws.error(13))["code"], 400, "arguments as a string: code")
            await ws.exec(14, language="python", code="print(1)", arguments=["a", 1])
            t.eq((await ws.error(14))["code"], 400, "arguments with a number: code")
            await ws.exec(15, language="python", code="print(1)", environment=["A=1"])
            t.eq((await ws.error(15))["code"], 400, "environment as an array: code")
            await ws.exec(16, language="python", code="print(1)", environment={"A": 1})
            t.eq((await ws.error(16))["code"], 400, "environment with a number: code")
            await ws.exec(17, language="python", code="print(1)", inline_expression="yes")
            t.eq((await ws.error(17))["code"], 400, "inline_expression as a string: code")
            await ws.send({"op": 1, "nonce": 18, "args": "print(1)"})
            t.eq((await ws.error(18))["code"], 400, "args as a string: code")
            await ws.exec(19, language="python", code="print(1)", environment={"A=B": "1"})
            t.eq((await ws.error(19))["code"], 400, "an environment name with '=': code")
            deep = {"op": 0, "nonce": 20}
            for _ in range(40):
                deep = {"x": deep}
            await ws.send(deep)
            t.eq((await ws.error())["code"], 400, "an operation nested too deeply: code")
            await ws.ping("still-there")
            spawned = [e for _, e in ws.events if e["code"] in (SPAWN, LOG, STOP)]
            t.check(not spawned, "refused EXECs spawn nothing: %r" % spawned[:3])
    ws_case(t, body)


@case("dialect_ranna.ws.oversized_message")
def ws_oversized(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.ping()
            big = json.dumps({"op": 1, "nonce": 1, "args": {"language": "python",
                                                              "code": "#" * 20000}})
            await ws.send(big)
            d = await ws.error()
            t.eq(d["code"], 413, "an oversized message: code")
            code = await ws.expect_close(10)
            t.eq(code, 1009, "close code after an oversized message")
    cfg = write_config(t, {"message_max_bytes": 4096})
    ws_case(t, body, "--config", cfg)


@case("dialect_ranna.ws.busy", lang="python")
def ws_busy(t):
    """With every slot and queue place taken an EXEC is refused with ERROR 429; a queued EXEC
    is spawned at once (SPAWN) and may be killed before it starts."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.exec("a", language="python", code=SLEEPER)
            ra = await ws.spawn("a")
            await ws.wait(lambda e: e["code"] == LOG and has_nonce(e, "a"), 60, "LOG of a")
            await ws.exec("b", language="python", code=SLEEPER)
            rb = await ws.spawn("b")
            await ws.exec("c", language="python", code='print("c ran")')
            d = await ws.error("c")
            t.eq(d["code"], 429, "EXEC with the queue full: code")
            await ws.send({"op": 2, "args": {"runid": rb}})  # kill b while it waits
            await ws.send({"op": 2, "args": {"runid": ra}})
            run_a = RunView(t, ra, "a", await ws.until_stop(ra, 15), ws.events)
            run_b = RunView(t, rb, "b", await ws.until_stop(rb, 30), ws.events)
            t.eq(run_a.stdout, "ready\n", "stdout of a")
            # b's sandbox is killed as soon as it starts: not after its 60 s
            t.check(run_b.exectimems < 5000, "exectimems of b, killed while it waited: %d"
                    % run_b.exectimems)
            _, run = await ws.run("d", language="python", code='print("free")')
            t.eq(run.stdout, "free\n", "a run after the queue emptied")
    ws_case(t, body, "--max-concurrent", "1", "--queue", "1")


@case("dialect_ranna.ws.arguments_environment", lang="python")
def ws_args_env(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            code = ('import os, sys\nprint(sys.argv[1:])\nprint(os.environ.get("GREETING"))\n'
                    'print(os.environ.get("EMPTY") == "")\n')
            _, run = await ws.run("e", language="python", code=code,
                                  arguments=["a b", "-x", ""],
                                  environment={"GREETING": "hello there", "EMPTY": ""})
            t.eq(run.stdout, "['a b', '-x', '']\nhello there\nTrue\n", "stdout")
    ws_case(t, body)


@case("dialect_ranna.ws.stdout_stderr_logs", lang="python")
def ws_streams(t):
    """LOG events per stream in the order written; a line written in pieces is one LOG, a
    piece of a line is not held back long; bytes that are not UTF-8 become U+FFFD."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            code = ('import sys, time\nprint("out1", flush=True)\ntime.sleep(0.3)\n'
                    'print("err1", file=sys.stderr, flush=True)\ntime.sleep(0.3)\n'
                    'for piece in ("a", "b", "c\\n"):\n'
                    '    sys.stdout.write(piece)\n    sys.stdout.flush()\n'
                    'sys.stdout.write("wait...")\nsys.stdout.flush()\ntime.sleep(1)\n'
                    'sys.stdout.write("done\\n")\nsys.stdout.flush()\n'
                    'sys.stdout.buffer.write(b"bad\\xff\\n")\nsys.stdout.flush()\nsys.exit(3)\n')
            _, run = await ws.run("s", language="python", code=code)
            t.eq(run.stdout, "out1\nabc\nwait...done\nbad\ufffd\n",
                 "stdout (bytes that are not UTF-8 as U+FFFD)")
            t.eq(run.stderr, "err1\n", "stderr")
            t.eq([(s, x) for _, s, x in run.logs][:4],
                 [("stdout", "out1\n"), ("stderr", "err1\n"), ("stdout", "abc\n"),
                  ("stdout", "wait...")], "the first LOG events (a line written in pieces is "
                 "one LOG; an unfinished line is sent after a moment)")
            t_wait = run.logs[3][0]
            t_done = next(at for at, _, x in run.logs if "done" in x)
            t.check(t_done - t_wait >= 0.7, "\"wait...\" came only %.2fs before \"done\": "
                    "an unfinished line was held back" % (t_done - t_wait))
            t.check(run.error is None, "a program's exit status is no ERROR: %r" % (run.error,))
    ws_case(t, body)


@case("dialect_ranna.ws.inline_python", lang="python")
def ws_inline_python(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            _, run = await ws.run("p", language="python", inline_expression=True,
                                  code="import math\nprint(math.factorial(5))")
            t.eq(run.stdout, "120\n", "python inline expression (the code as it is)")
    ws_case(t, body)


@case("dialect_ranna.ws.inline_c", lang="c")
def ws_inline_c(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            code = ('#include <stdio.h>\nint n = 6;\n#include <string.h>\n'
                    'printf("%d %zu\\n", n * 7, strlen("four"));')
            _, run = await ws.run("c", language="c", inline_expression=True, code=code)
            t.eq(run.stdout, "42 4\n", "C inline expression: includes hoisted, the rest in "
                 "main (stderr %r)" % run.stderr)
    ws_case(t, body)


@case("dialect_ranna.ws.compile_error", lang="c")
def ws_compile_error(t):
    """A compile error: the compiler's messages as LOG stderr, then STOP; no ERROR."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            _, run = await ws.run("ce", language="c", code="int main(void) { return x; }\n")
            t.contains(run.stderr, "error", "compiler messages in LOG stderr")
            t.contains(run.stderr, "undeclared", "the compiler's message in LOG stderr")
            t.eq(run.stdout, "", "stdout")
            t.check(run.error is None, "a compile error is no ERROR: %r" % (run.error,))
    ws_case(t, body)


@case("dialect_ranna.ws.timeout", lang="python")
def ws_timeout(t):
    """timeout_seconds (ranna's sandbox timeout): ERROR 400 "code execution timed out",
    then STOP."""
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            runid, run = await ws.run("t", language="python", code=SLEEPER, timeout=30)
            t.eq(run.error, {"code": 400, "message": "code execution timed out"}, "ERROR")
            seq = [NAMES[e["code"]] for _, e in run.evs]
            t.eq(seq[-1], "STOP", "STOP after the ERROR")
            errs = [i for i, (_, e) in enumerate(ws.events) if e["code"] == ERROR]
            stops = [i for i, (_, e) in enumerate(ws.events) if e["code"] == STOP]
            t.check(errs and stops and errs[0] < stops[0], "ERROR comes before STOP")
            t.check(2000 <= run.exectimems < 10000, "exectimems %d with a 2 s timeout"
                    % run.exectimems)
    cfg = write_config(t, {"dialects": {"ranna": {"timeout_seconds": 2}}})
    ws_case(t, body, "--config", cfg)


@case("dialect_ranna.ws.disconnect_kills_runs", lang="python")
def ws_disconnect(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.exec(1, language="python", code=SLEEPER)
            await ws.spawn(1)
            await ws.wait(lambda e: e["code"] == LOG, 60, "LOG ready")
        # the connection is closed: the slot is free again at once
        deadline = time.monotonic() + 10
        while True:
            r = http_req(t, srv, "POST", "/v1/exec", {"language": "python",
                                                       "code": 'print("next")'})
            if r.status == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        t.eq(r.status, 200, "a run after the disconnect (body %r)" % shorten(r.body, 300))
        t.eq(r.json["stdout"], "next\n", "stdout")
    ws_case(t, body, "--max-concurrent", "1", "--queue", "0")


@case("dialect_ranna.ws.sigterm", lang="python")
def ws_sigterm(t):
    """SIGTERM: a waiting run gets ERROR 503 and its STOP (exectimems 0), the running one is
    killed after grace_ms and gets its STOP, a new EXEC is refused with 503."""
    cfg = write_config(t, {"grace_ms": 1000, "max_concurrent": 1, "queue": 4})

    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.exec("a", language="python", code=SLEEPER)
            ra = await ws.spawn("a")
            await ws.wait(lambda e: e["code"] == LOG and has_nonce(e, "a"), 60, "LOG of a")
            await ws.exec("b", language="python", code='print("b")')
            rb = await ws.spawn("b")
            srv.signal(signal.SIGTERM)
            d = await ws.error("b")
            t.eq(d["code"], 503, "ERROR of the waiting run: code")
            run_b = RunView(t, rb, "b", await ws.until_stop(rb, 10), ws.events)
            t.eq(run_b.exectimems, 0, "exectimems of a run that never started")
            await ws.exec("late", language="python", code='print("late")')
            d = await ws.error("late")
            t.eq(d["code"], 503, "an EXEC after SIGTERM: code")
            run_a = RunView(t, ra, "a", await ws.until_stop(ra, 15), ws.events)
            t.check(run_a.exectimems < 20000, "exectimems of the run killed after the grace "
                    "period: %d" % run_a.exectimems)
        t.check(srv.wait_exit(15) == 0, "runcell serve exits 0 after SIGTERM")

    with OpsServer(t, "--config", cfg) as srv:
        run_async(t, body(srv))


# ==================================================================== REST
@case("dialect_ranna.rest.exec", lang="python")
def rest_exec(t):
    with Server(t) as srv:
        code = ('import os, sys\nprint("args", sys.argv[1:])\nprint(os.environ["WHO"])\n'
                'print("to stderr", file=sys.stderr)\n')
        j = exec_ok(t, srv, {"language": "python", "code": code, "arguments": ["1", "two"],
                             "environment": {"WHO": "ranna client"}})
        t.eq(j["stdout"], "args ['1', 'two']\nranna client\n", "stdout")
        t.eq(j["stderr"], "to stderr\n", "stderr")
        t.check(j["exectimems"] < 30000, "exectimems %d" % j["exectimems"])
        # aliases work as language names; null fields are as good as absent
        j = exec_ok(t, srv, {"language": "py", "code": "print(6*7)", "arguments": None,
                             "environment": None, "inline_expression": False})
        t.eq(j["stdout"], "42\n", "stdout with the alias py")
        srv.check_alive()


@case("dialect_ranna.rest.exec_compile_error", lang="c")
def rest_compile_error(t):
    with Server(t) as srv:
        j = exec_ok(t, srv, {"language": "c", "code": "int main(void) { return y; }\n"})
        t.contains(j["stderr"], "undeclared", "compiler messages in stderr")
        t.eq(j["stdout"], "", "stdout")


@case("dialect_ranna.rest.exec_errors", lang="python")
def rest_errors(t):
    # POST /v1/exec is codapi's too: a body that is not a JSON object with "language" cannot
    # be told apart, and codapi (first in the table) answers it (see the next case). With
    # codapi off, every error is ranna's.
    with Server(t, "--config", write_config(t, {"dialects": {"codapi": False}})) as srv:
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec", "{not json",
                                     headers={"Content-Type": "application/json"}), 400,
                         what="malformed JSON")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec", "[1]",
                                     headers={"Content-Type": "application/json"}), 400,
                         what="a JSON array")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec", {"language": "python"}), 400,
                         "code is empty", what="no code")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec",
                                     {"language": "python", "code": ["print(1)"]}), 400,
                         what="code as an array")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec",
                                     {"language": 3, "code": "print(1)"}), 400,
                         what="language as a number")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec",
                                     {"language": "klingon", "code": "x"}), 404,
                         "unsupported language spec", what="unknown language")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec",
                                     {"language": "python", "code": "1", "arguments": "x"}),
                         400, what="arguments as a string")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec",
                                     {"language": "python", "code": "1",
                                      "environment": {"A": True}}), 400,
                         what="environment with a boolean")
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec",
                                     {"language": "python", "code": "1",
                                      "inline_expression": 1}), 400,
                         what="inline_expression as a number")
        deep = {"language": "python", "code": "print(1)"}
        for _ in range(40):
            deep = {"language": "python", "code": "print(1)", "x": deep}
        check_rest_error(t, http_req(t, srv, "POST", "/v1/exec", deep), 400,
                         what="a body nested too deeply")
        srv.check_alive()
    cfg = write_config(t, {"message_max_bytes": 4096, "dialects": {"codapi": False}})
    with Server(t, "--config", cfg) as srv:
        check_rest_error(t, raw_post_large(t, srv, "/v1/exec", 8192), 413,
                         what="a body over message_max_bytes")


@case("dialect_ranna.rest.shared_with_codapi", lang="python")
def rest_shared(t):
    """POST /v1/exec with both ranna and codapi on: the body decides."""
    with Server(t) as srv:
        r = http_req(t, srv, "POST", "/v1/exec", {"language": "python", "code": "print(7)"})
        t.eq(r.status, 200, "a ranna body")
        t.eq(r.json.get("stdout"), "7\n", "ranna's answer")
        t.check("exectimems" in r.json, "ranna's shape: %r" % r.json)
        r = http_req(t, srv, "POST", "/v1/exec",
                     {"sandbox": "python", "command": "run", "files": {"": "print(8)"}})
        t.eq(r.status, 200, "a codapi body")
        t.eq(r.json.get("stdout"), "8\n", "codapi's answer")
        t.check(r.json.get("ok") is True and "duration" in r.json, "codapi's shape: %r" % r.json)
        # a body that is neither: codapi, first in the table, answers it (docs/dialects.md)
        r = http_req(t, srv, "POST", "/v1/exec", "{not json",
                     headers={"Content-Type": "application/json"})
        t.eq(r.status, 400, "an unparseable body")
        t.check("ok" in (r.json or {}), "codapi's error shape for it: %r" % r.body)


@case("dialect_ranna.rest.busy", lang="python")
def rest_busy(t):
    async def body(srv):
        async with RannaWS(t, srv) as ws:
            await ws.exec(1, language="python", code=SLEEPER)
            runid = await ws.spawn(1)
            await ws.wait(lambda e: e["code"] == LOG, 60, "LOG ready")
            r = await asyncio.to_thread(http_req, t, srv, "POST", "/v1/exec",
                                        {"language": "python", "code": "print(1)"})
            check_rest_error(t, r, 429, what="POST /v1/exec while busy")
            t.eq(r.headers.get("retry-after"), "1", "Retry-After of a 429")
            await ws.send({"op": 2, "args": {"runid": runid}})
            await ws.until_stop(runid, 15)
    ws_case(t, body, "--max-concurrent", "1", "--queue", "0")


@case("dialect_ranna.rest.timeout_and_output_limit", lang="python")
def rest_timeout(t):
    cfg = write_config(t, {"dialects": {"ranna": {"timeout_seconds": 1}}})
    with Server(t, "--config", cfg) as srv:
        r = http_req(t, srv, "POST", "/v1/exec", {"language": "python", "code": SLEEPER})
        check_rest_error(t, r, 400, "code execution timed out", what="a run over the timeout")
        r = http_req(t, srv, "POST", "/v1/exec",
                     {"language": "python", "code": 'print("x" * 3000000)'})
        check_rest_error(t, r, 400, "output len exceeded", what="output over the limit")


@case("dialect_ranna.rest.inline_templates", lang="go")
def rest_inline(t):
    """Inline expressions of the compiled languages: imports hoisted (go import blocks,
    C++ includes, rust use declarations), the rest wrapped in main."""
    cases = [
        ("go", 'import (\n\t"fmt"\n\t"strings"\n)\nimport "os"\n'
               'fmt.Println(strings.ToUpper("go"), len(os.Args))', "GO 1\n"),
        ("cpp", '#include <iostream>\n#include <vector>\nstd::vector<int> v{1, 2, 3};\n'
                'std::cout << v.size() << std::endl;', "3\n"),
        ("rust", 'use std::collections::HashMap;\nuse std::fmt::{\n    Write,\n};\n'
                 'let mut m = HashMap::new();\nm.insert("k", 2);\nlet mut s = String::new();\n'
                 'write!(s, "{}", m["k"]).unwrap();\nprintln!("{}", s);', "2\n"),
        ("javascript", 'console.log([1, 2].map(x => x * 2).join(","))', "2,4\n"),
        ("bash", 'echo "$((6 * 7))"', "42\n"),
    ]
    with Server(t) as srv:
        for lang, code, want in cases:
            if t.suite.lang_unavailable(lang):
                t.note("%s skipped: %s" % (lang, t.suite.lang_unavailable(lang)))
                continue
            j = exec_ok(t, srv, {"language": lang, "code": code, "inline_expression": True},
                        what="%s inline expression" % lang)
            t.eq(j["stdout"], want, "%s inline expression stdout (stderr %r)"
                 % (lang, shorten(j["stderr"], 600)))


@case("dialect_ranna.rest.spec")
def rest_spec(t):
    with Server(t) as srv:
        r = http_req(t, srv, "GET", "/v1/spec")
        t.eq(r.status, 200, "GET /v1/spec status")
        spec = r.json
        t.check(isinstance(spec, dict), "the spec map is an object: %r" % shorten(r.body, 300))
        t.eq(list(spec), sorted(spec), "keys sorted")
        for lang in LANGS:
            s = spec.get(lang)
            t.check(isinstance(s, dict), "spec for %s: %r" % (lang, s))
            t.eq(s.get("language"), lang, "%s.language" % lang)
            t.check(isinstance(s.get("image"), str) and s["image"], "%s.image" % lang)
            t.check(isinstance(s.get("filename"), str) and s["filename"], "%s.filename" % lang)
            t.check(("entrypoint" in s) != ("cmd" in s), "%s: entrypoint or cmd: %r"
                    % (lang, s))
            t.eq(s.get("example"), example(lang)["source"],
                 "%s.example (the toolchain's hello world)" % lang)
            inl = s.get("inline")
            if lang not in INLINE_LANGS:
                t.check(inl is None, "%s: inline without a template: %r" % (lang, inl))
                continue
            t.check(isinstance(inl, dict) and set(inl) == {"import_regex", "template"}
                    and "$${CODE}" in inl["template"], "%s.inline: %r" % (lang, inl))
        t.eq(spec["go"]["filename"], "main.go", "go.filename")
        t.check("$${IMPORTS}" in spec["go"]["inline"]["template"], "go template imports")
        t.check(re.search(r"\bgo build\b", spec["go"]["cmd"]), "go.cmd: %r" % spec["go"]["cmd"])
        t.eq(spec["python"].get("entrypoint"), "python3 -u", "python.entrypoint")
        t.eq(spec.get("golang"), {"use": "go"}, "the alias golang")
        t.eq(spec.get("py"), {"use": "python"}, "the alias py")
        t.eq(spec.get("js"), {"use": "javascript"}, "the alias js")


@case("dialect_ranna.rest.spec_examples_run", lang="python")
def rest_examples(t):
    """Every language's example from /v1/spec runs and prints what its toolchain says."""
    with Server(t) as srv:
        spec = http_req(t, srv, "GET", "/v1/spec").json
        ran = []
        for lang in LANGS:
            if t.suite.lang_unavailable(lang):
                continue
            j = exec_ok(t, srv, {"language": lang, "code": spec[lang]["example"]},
                        what="the %s example" % lang)
            t.eq(j["stdout"], example(lang)["stdout"], "%s example stdout (stderr %r)"
                 % (lang, shorten(j["stderr"], 400)))
            ran.append(lang)
        t.note("examples run: %s" % ", ".join(ran))


@case("dialect_ranna.rest.info")
def rest_info(t):
    with Server(t) as srv:
        r = http_req(t, srv, "GET", "/v1/info")
        t.eq(r.status, 200, "GET /v1/info status")
        j = r.json
        t.check(isinstance(j, dict) and set(j) == {"version", "builddate", "go_version",
                                                   "sandbox"}, "info shape: %r" % (j,))
        t.check(isinstance(j["version"], str) and j["version"], "version: %r" % j["version"])
        t.eq(j["sandbox"].get("type"), "runcell", "sandbox.type")
        t.check(isinstance(j["sandbox"].get("version"), str) and j["sandbox"]["version"],
                "sandbox.version")
        r = http_req(t, srv, "POST", "/v1/info", {"x": 1})
        t.eq(r.status, 405, "POST /v1/info")


@case("dialect_ranna.config")
def ranna_config(t):
    """The dialect's options: timeout_seconds (checked), unknown keys refused at start;
    the dialect can be moved or switched off like any other."""
    for opts, what in (({"timeout": 3}, "unknown option"),
                       ({"timeout_seconds": 0}, "timeout_seconds"),
                       ({"timeout_seconds": "5"}, "timeout_seconds")):
        cfg = write_config(t, {"dialects": {"ranna": opts}})
        r = t.runcell(*(list(t.suite.global_args) + ["serve", "--listen", "127.0.0.1:0",
                                                      "--config", cfg]), timeout=30)
        t.check(r.rc != 0, "serve with ranna options %r must refuse to start" % (opts,))
        t.contains(r.stderr, "ranna", "the start-up error names the dialect")
        t.contains(r.stderr, what, "the start-up error names the option")
    cfg = write_config(t, {"dialects": {"ranna": {"path": "/ranna/v1"}}})
    with Server(t, "--config", cfg) as srv:
        t.eq(http_req(t, srv, "GET", "/v1/info").status, 404, "old path after a move")
        t.eq(http_req(t, srv, "GET", "/ranna/v1/info").status, 200, "moved path")
    cfg = write_config(t, {"dialects": {"ranna": False}})
    with Server(t, "--config", cfg) as srv:
        t.eq(http_req(t, srv, "GET", "/v1/spec").status, 404, "/v1/spec when switched off")
