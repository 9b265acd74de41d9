"""Helpers for the `runcell serve` end-to-end cases (tests/e2e/cases/server.py).

Server(t, *args)  a context manager: starts `runcell [global opts] serve --listen
                  127.0.0.1:0 ARGS`, waits for its "listening" line, stops it at the end
                  (SIGTERM, then SIGKILL after 5 s) and records it in t.results so that a
                  failing case shows the server's stderr.
WS(t, srv)        a client of runcell's own WebSocket (wsclient.WSClient, the one WebSocket
                  client of the cases) that keeps every event by run id and a transcript
                  that becomes a note of the case.
run_async(t, c)   asyncio.run with an overall timeout.
http_req(t, srv, ...) one HTTP request with http.client; raw_post_large for bodies the server
                  may refuse before reading them.
check_run(...)    validates the event sequence of one run and returns its stages.
refused_config(...) `runcell serve --config` must refuse a file at once, naming a key.

Standard library only, plus Debian's python3-websockets (10.x, asyncio client API).
"""

import asyncio
import base64
import http.client as httpc
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time

import harness
from harness import Fail, Result, STAGE_STATUSES, expect_bad_input, shorten

from wsclient import Closed, WSClient, need_websockets, websockets  # noqa: F401 (re-exported)

# searched for in each line: the log's format (logfmt or JSON, docs/OPERATIONS.md) puts it in
# the "listening" event's msg
LISTEN_RE = re.compile(r"runcell: listening on https?://127\.0\.0\.1:(\d+)\b")
READY_TIMEOUT = 30.0
STOP_GRACE = 5.0


# ------------------------------------------------------------------ server
class Server:
    """`with Server(t, "--max-concurrent", "1") as srv:` ... srv.port, srv.ws_url."""

    def __init__(self, t, *args, nofile=None):
        self.t = t
        self.nofile = nofile  # the server's RLIMIT_NOFILE (soft and hard), or inherited
        self.args = [str(a) for a in args]
        self.cmd = ([t.suite.bin] + list(t.suite.global_args)
                    + ["serve", "--listen", "127.0.0.1:0"] + self.args)
        self.proc = None
        self.port = None
        self._err = []
        self._out = []
        self._cond = threading.Condition()
        self._threads = []
        self._t0 = None
        self._stopped_rc = None

    # ---- output readers
    def _reader(self, f, sink):
        try:
            for line in iter(f.readline, b""):
                with self._cond:
                    sink.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                sink.append(None)  # EOF marker
                self._cond.notify_all()

    def stderr_text(self):
        with self._cond:
            return b"".join(x for x in self._err if x is not None).decode("utf-8", "replace")

    def stdout_text(self):
        with self._cond:
            return b"".join(x for x in self._out if x is not None).decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def died_message(self):
        return "runcell serve exited on its own (rc=%r); stderr: %s" % (
            self.proc.returncode, shorten(self.stderr_text().strip() or "<empty>", 1500))

    def check_alive(self):
        if not self.alive():
            raise Fail(self.died_message())

    # ---- lifecycle
    def __enter__(self):
        self._t0 = time.monotonic()
        try:
            pre = None
            if self.nofile:
                import resource
                n = self.nofile

                def pre():
                    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         start_new_session=True, preexec_fn=pre)
        except OSError as e:
            raise Fail("cannot execute %s: %s" % (" ".join(self.cmd), e))
        for f, sink in ((self.proc.stderr, self._err), (self.proc.stdout, self._out)):
            th = threading.Thread(target=self._reader, args=(f, sink), daemon=True)
            th.start()
            self._threads.append(th)
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        seen = 0
        with self._cond:
            while True:
                while seen < len(self._err):
                    line = self._err[seen]
                    seen += 1
                    if line is None:
                        break
                    m = LISTEN_RE.search(line.decode("utf-8", "replace").rstrip("\n"))
                    if m:
                        self.port = int(m.group(1))
                        if self.port == 0:
                            raise Fail("runcell serve reported port 0: %r" % line)
                        return
                if self._err and self._err[-1] is None or self.proc.poll() is not None:
                    # stderr closed or process gone without the line
                    self._cond.wait(0.2)  # let the reader drain
                    raise Fail("runcell serve exited before listening (rc=%r); stderr: %s"
                               % (self.proc.poll(), shorten(self.stderr_text().strip()
                                                            or "<empty>", 1500)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail("runcell serve printed no 'runcell: listening on "
                               "http://127.0.0.1:PORT' line within %.0fs; stderr so far: %s"
                               % (READY_TIMEOUT, shorten(self.stderr_text().strip()
                                                         or "<empty>", 1500)))
                self._cond.wait(min(left, 0.5))

    def _stop(self):
        """Stop the server; returns a problem description or None."""
        problem = None
        p = self.proc
        if p.poll() is not None:
            problem = self.died_message()
        else:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                problem = ("runcell serve did not stop within %.0fs of SIGTERM (killed)"
                           % STOP_GRACE)
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    p.kill()
                p.wait()
        for th in self._threads:
            th.join(timeout=5)
        for f in (p.stdout, p.stderr):
            try:
                f.close()
            except OSError:
                pass
        self._stopped_rc = p.returncode
        with self._cond:
            out = b"".join(x for x in self._out if x is not None)
            err = b"".join(x for x in self._err if x is not None)
        self.t.results.append(Result(self.cmd, p.returncode, out, err,
                                     time.monotonic() - self._t0,
                                     note="runcell serve (port %s), stopped by the harness"
                                     % self.port))
        return problem

    def __exit__(self, etype, evalue, tb):
        died = self.proc.poll() is not None
        problem = self._stop()
        if problem:
            if evalue is not None and died:
                # the server's death is the better diagnosis; keep the other as a note
                self.t.note("while the server was dead: %s: %s" % (etype.__name__, evalue))
                raise Fail(problem)
            if evalue is None:
                raise Fail(problem)
            self.t.note(problem)
        return False

    # ---- addresses
    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/api/v1/ws" % self.port


# ------------------------------------------------------------------ asyncio
def run_async(t, coro, timeout=None):
    """Run coro in a fresh event loop with an overall timeout."""
    timeout = timeout or t.suite.timeout

    async def main():
        try:
            return await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            raise Fail("case did not finish within %.0fs" % timeout)

    return asyncio.run(main())


# ------------------------------------------------------------------ websocket
class WS(WSClient):
    """One connection to runcell's own WebSocket (wsclient.WSClient, with every message a
    runcell event).  Events are kept in arrival order (self.events, with arrival times) and
    per run id (self.by_id).  wait() consumes matching events from an inbox so that several
    waiters see each event once."""

    TRANSCRIPT_TAIL = 80

    def __init__(self, t, srv, name="ws", **kw):
        WSClient.__init__(self, t, srv, "/api/v1/ws", name, **kw)
        self.events = []          # (t, event)
        self.by_id = {}           # id -> [(t, event)]
        self.closed_by_server = None

    async def run(self, rid, language="python", source=None, **fields):
        msg = {"type": "run", "id": rid, "language": language}
        if source is not None:
            msg["source"] = source
        msg.update(fields)
        await self.send(msg)

    # ---- receiving
    async def _recv(self, timeout):
        """One frame parsed as a JSON object; None on timeout."""
        try:
            frame = await self.frame(timeout)
        except Closed as e:
            raise self._closed_fail("waiting for events", e)
        if frame is None:
            return None
        now = time.monotonic() - self.t0
        if isinstance(frame, bytes):
            self._log("<", "BINARY %r" % frame[:100])
            raise Fail("%s: the server sent a binary frame (%d bytes); events are JSON text"
                       % (self.name, len(frame)))
        self._log("<", frame)
        try:
            ev = json.loads(frame)
        except ValueError as e:
            raise Fail("%s: the server sent a text frame that is not JSON (%s): %r"
                       % (self.name, e, shorten(frame, 300)))
        if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
            raise Fail("%s: event is not an object with a string 'type': %r"
                       % (self.name, shorten(frame, 300)))
        self.events.append((now, ev))
        if "id" in ev:
            self.by_id.setdefault(ev["id"], []).append((now, ev))
        self.inbox.append((now, ev))
        return ev

    async def wait_type(self, typ, rid=None, timeout=30, what=None, **match):
        def pred(ev):
            if ev.get("type") != typ:
                return False
            if rid is not None and ev.get("id") != rid:
                return False
            return all(ev.get(k) == v for k, v in match.items())
        return await self.wait(pred, timeout, what or "%r event%s%s" % (
            typ, " for id %r" % rid if rid is not None else "",
            "".join(" %s=%r" % kv for kv in match.items())))

    async def wait_output(self, rid, text, timeout=30, stream="stdout"):
        """Wait until the run's decoded output on stream contains text; fails on the run's
        exit/done/error first.  Returns the arrival time of the event that completed it."""
        def so_far():
            return b"".join(decode_output(self.t, e) for _, e in self.by_id.get(rid, [])
                            if e.get("type") == "output" and e.get("stream") == stream)

        deadline = time.monotonic() + timeout
        want = text.encode() if isinstance(text, str) else text
        while True:
            if want in so_far():
                return self.by_id[rid][-1][0]
            for _, e in self.by_id.get(rid, []):
                if e.get("type") in ("exit", "done", "error"):
                    raise Fail("%s: run %r ended (%s) before writing %r to %s; %s so far: %r"
                               % (self.name, rid, shorten(json.dumps(e), 300), want, stream,
                                  stream, shorten(so_far(), 300)))
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("%s: run %r did not write %r to %s within %.1fs; %s so far: %r"
                           % (self.name, rid, want, stream, timeout, stream,
                              shorten(so_far(), 300)))
            await self._recv(min(left, 1.0))

    async def done(self, rid, timeout=60):
        """Wait for the run's done event; returns its events [(t, event)].  An error event
        for the id ends the wait with a failure."""
        def pred(ev):
            return ev.get("id") == rid and ev.get("type") in ("done", "error")
        _, ev = await self.wait(pred, timeout, "'done' event for id %r" % rid)
        if ev["type"] == "error":
            raise Fail("%s: run %r got an error event: %s" % (self.name, rid, json.dumps(ev)))
        return list(self.by_id[rid])

    async def error(self, timeout=30, rid="<any>"):
        """The next error event (with id rid unless rid is '<any>')."""
        def pred(ev):
            return ev.get("type") == "error" and (rid == "<any>" or ev.get("id") == rid)
        _, ev = await self.wait(pred, timeout, "'error' event")
        return ev

    async def ping(self, timeout=15, what="pong"):
        await self.send({"type": "ping"})
        await self.wait_type("pong", timeout=timeout, what=what)

    async def expect_closed(self, timeout):
        """True if the server closes the connection within timeout."""
        try:
            await asyncio.wait_for(self.conn.wait_closed(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


# ------------------------------------------------------------------ event checks
def decode_output(t, ev):
    """The raw bytes of one output event."""
    data = ev.get("data")
    if not isinstance(data, str):
        raise Fail("output event 'data' is not a string: %s" % shorten(json.dumps(ev), 300))
    enc = ev.get("encoding")
    if enc is None:
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError as e:
            raise Fail("output event data is not encodable as UTF-8 (%s): %r"
                       % (e, shorten(data, 200)))
    if enc != "base64":
        raise Fail("output event has unknown encoding %r" % (enc,))
    try:
        return base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as e:
        raise Fail("output event data is not valid base64 (%s): %r" % (e, shorten(data, 200)))


def check_exit(t, ev, rid, stage):
    what = "exit event of %r stage %s" % (rid, stage)
    for k in ("status", "exit_code", "signal", "wall_ms", "cpu_ms", "memory_kb", "truncated"):
        t.check(k in ev, "%s lacks %r: %s" % (what, k, shorten(json.dumps(ev), 400)))
    t.check(ev["status"] in STAGE_STATUSES, "%s: unknown status %r" % (what, ev["status"]))
    t.check(ev["exit_code"] is None or type(ev["exit_code"]) is int,
            "%s: exit_code must be int or null: %r" % (what, ev["exit_code"]))
    t.check(ev["signal"] is None or (isinstance(ev["signal"], str)
                                     and ev["signal"].startswith("SIG")),
            "%s: signal must be null or 'SIG...': %r" % (what, ev["signal"]))
    t.check(type(ev["wall_ms"]) is int and ev["wall_ms"] >= 0,
            "%s: wall_ms must be a non-negative int: %r" % (what, ev["wall_ms"]))
    for k in ("cpu_ms", "memory_kb"):
        t.check(ev[k] is None or (type(ev[k]) is int and ev[k] >= 0),
                "%s: %s must be a non-negative int or null: %r" % (what, k, ev[k]))
    t.check(type(ev["truncated"]) is bool, "%s: truncated must be a boolean: %r"
            % (what, ev["truncated"]))
    if ev["status"] == "time_limit":
        t.check(ev.get("limit") in ("wall", "cpu"), "%s: time_limit without limit "
                "'wall'|'cpu': %r" % (what, ev.get("limit")))
    if ev["status"] == "internal_error":
        t.check(isinstance(ev.get("error"), str) and ev["error"],
                "%s: internal_error without an 'error' message" % what)


class RunResult:
    def __init__(self):
        self.queued = None
        self.stages = {}      # name -> {"exit": ev, "stdout": bytes, "stderr": bytes, "chunks": n}
        self.order = []       # stage names in order
        self.times = {}       # "first_output", "done", "queued", "<stage>_exit" -> arrival

    def out(self, stage="run", stream="stdout"):
        return self.stages[stage][stream]

    def exit(self, stage="run"):
        return self.stages[stage]["exit"]


def check_run(t, evs, rid, stages=("run",)):
    """Check the exact event sequence of one run: queued, then for each stage
    stage/output*/exit, then done (and nothing else).  stages: the expected stage names."""
    seq = [e for _, e in evs]
    summary = " ".join(e.get("type") + ("(%s)" % e.get("stage") if "stage" in e else "")
                       for e in seq)
    t.check(seq, "no events for run %r" % rid)
    res = RunResult()
    for at, e in evs:
        t.eq(e.get("id"), rid, "id of every event of run %r" % rid)
    i = 0
    at, e = evs[0]
    t.check(e["type"] == "queued", "first event of run %r must be 'queued'; sequence: %s"
            % (rid, summary))
    t.check(type(e.get("position")) is int and e["position"] >= 0,
            "queued.position must be a non-negative int: %r" % (e.get("position"),))
    res.queued = e
    res.times["queued"] = at
    i = 1
    while i < len(evs) and evs[i][1]["type"] == "stage":
        at, e = evs[i]
        name = e.get("stage")
        t.check(name in ("compile", "run"), "stage event with bad stage %r" % (name,))
        t.check(name not in res.stages, "stage %r started twice; sequence: %s" % (name, summary))
        if res.order:
            prev = res.stages[res.order[-1]]["exit"]
            t.check(prev["status"] == "ok", "stage %r after stage %r ended %r; sequence: %s"
                    % (name, res.order[-1], prev["status"], summary))
        st = {"exit": None, "stdout": b"", "stderr": b"", "tty": b"", "chunks": 0}
        res.stages[name] = st
        res.order.append(name)
        i += 1
        while i < len(evs) and evs[i][1]["type"] == "output":
            at, e = evs[i]
            t.eq(e.get("stage"), name, "stage of an output event during stage %r" % name)
            t.check(e.get("stream") in ("stdout", "stderr", "tty"),
                    "output event with bad stream %r" % (e.get("stream"),))
            st[e["stream"]] += decode_output(t, e)
            st["chunks"] += 1
            res.times.setdefault("first_output", at)
            i += 1
        t.check(i < len(evs) and evs[i][1]["type"] == "exit",
                "stage %r of run %r must end with an 'exit' event; sequence: %s"
                % (name, rid, summary))
        at, e = evs[i]
        t.eq(e.get("stage"), name, "stage of the exit event")
        check_exit(t, e, rid, name)
        st["exit"] = e
        res.times[name + "_exit"] = at
        i += 1
    t.check(i < len(evs) and evs[i][1]["type"] == "done",
            "run %r: after its stages a 'done' event must follow; sequence: %s" % (rid, summary))
    res.times["done"] = evs[i][0]
    t.check(i == len(evs) - 1, "run %r: events after 'done'; sequence: %s" % (rid, summary))
    t.eq(tuple(res.order), tuple(stages), "stages of run %r (sequence: %s)" % (rid, summary))
    return res


def expect_status(t, res, stage, status, exit_code="any"):
    ev = res.exit(stage)
    if ev["status"] != status:
        raise Fail("%s stage: expected status %r, got %r (exit_code=%r signal=%r error=%r "
                   "stderr=%r)" % (stage, status, ev["status"], ev.get("exit_code"),
                                   ev.get("signal"), ev.get("error"),
                                   shorten(res.out(stage, "stderr"), 600)))
    if exit_code != "any":
        t.eq(ev["exit_code"], exit_code, "%s exit_code" % stage)


# ------------------------------------------------------------------ http
class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def __repr__(self):
        return "HTTP %s %s" % (self.status, shorten(self.body.decode("utf-8", "replace"), 500))


def http_req(t, srv, method, path, body=None, headers=None, timeout=120):
    """One request on a fresh connection; body: dict (JSON), str or bytes."""
    srv.check_alive()
    hdrs = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn = httpc.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    except (OSError, httpc.HTTPException) as e:
        if not srv.alive():
            raise Fail(srv.died_message())
        raise Fail("HTTP %s %s: %s: %s" % (method, path, type(e).__name__, e))
    finally:
        conn.close()
    t.note("HTTP %s %s (%s bytes) -> %r" % (method, path, len(body) if body else 0, resp))
    return resp


def raw_post_large(t, srv, path, size, timeout=60, prefix=None, suffix=None):
    """POST size bytes of a JSON-looking body with a raw socket, stopping early if the
    server answers (it may refuse before reading everything).  Returns Resp. The body is
    prefix, '#' up to size, suffix: by default a python run whose source is all '#'."""
    srv.check_alive()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, srv.port, size)).encode()
    prefix = prefix or b'{"language":"python","source":"'
    suffix = suffix or b'"}'
    chunk = b"#" * (256 << 10)
    sent_body = 0
    reply = b""
    deadline = time.monotonic() + timeout
    try:
        s.sendall(head)
        stopped = False
        while sent_body < size and not stopped:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break  # the server answered (or closed) before the whole body
            if sent_body == 0:
                piece = prefix
            elif size - sent_body <= len(suffix):
                piece = suffix[len(suffix) - (size - sent_body):]
            else:
                piece = chunk[: size - sent_body - len(suffix)]
            try:
                s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                stopped = True
            sent_body += len(piece)
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not data:
                break
            reply += data
            if _complete(reply):
                break
    finally:
        s.close()
    if not reply:
        if not srv.alive():
            raise Fail(srv.died_message())
        raise Fail("POST %s with a %d-byte body: no HTTP response (sent %d bytes)"
                   % (path, size, sent_body))
    head_b, _, body = reply.partition(b"\r\n\r\n")
    lines = head_b.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        raise Fail("bad HTTP status line: %r" % lines[0])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    resp = Resp(int(m.group(1)), headers, body)
    t.note("raw POST %s (%d-byte body, %d sent) -> %r" % (path, size, sent_body, resp))
    return resp


def _complete(reply):
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(m) and len(body) >= int(m.group(1))


def _dechunk(body):
    out = b""
    while body:
        line, _, rest = body.partition(b"\r\n")
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def check_http_error(t, resp, status, code=None, what="error response"):
    t.eq(resp.status, status, "%s: HTTP status (body %r)" % (what, shorten(resp.body, 300)))
    j = resp.json
    t.check(isinstance(j, dict) and isinstance(j.get("error"), dict),
            "%s: body must be JSON {\"error\":{...}}: %r" % (what, shorten(resp.body, 300)))
    e = j["error"]
    t.check(isinstance(e.get("code"), str) and e["code"],
            "%s: error.code must be a non-empty string: %r" % (what, e))
    t.check(isinstance(e.get("message"), str) and e["message"],
            "%s: error.message must be a non-empty string: %r" % (what, e))
    if code is not None:
        t.eq(e["code"], code, "%s: error.code" % what)
    return e


# ------------------------------------------------------------------ processes
def pgrep(marker):
    """PIDs (as strings) of processes whose command line contains marker."""
    p = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True,
                       timeout=30)
    return [x for x in p.stdout.split() if x.strip() and int(x) != os.getpid()]


# ================================================================== operations (server_ops.py)
# Helpers for tests/e2e/cases/server_ops.py: config files, servers that are expected to exit
# (SIGTERM/SIGKILL), WebSocket connections with a chosen URL/Origin/headers, handshake
# status probes, /metrics parsing, the server's RSS and the cgroup leaves runcell leaves.

def write_config(t, obj, name="runcell-serve.json"):
    """Write obj (dict: JSON; str/bytes: as is) to a fresh file; returns its path."""
    d = t.tmpdir()
    data = json.dumps(obj, indent=1) if isinstance(obj, (dict, list)) else obj
    path = t.write(d, name, data)
    t.note("config %s: %s" % (path, shorten(data if isinstance(data, str)
                                             else data.decode("utf-8", "replace"), 600)))
    return path


def refused_config(t, cfg, what, must_name=None, path=None):
    """`serve --config` with cfg (or the file at path) must exit non-zero at once with one
    'runcell: ' line, naming must_name when given."""
    if path is None:
        path = write_config(t, cfg)
    try:
        r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:0",
                      "--config", path, timeout=20)
    except Fail as e:
        raise Fail("%s: runcell serve did not refuse the config (%s): it started serving"
                   % (what, e))
    line = expect_bad_input(t, r, what)
    if must_name:
        t.contains(line, must_name, "%s: the error line names it" % what)


class OpsServer(Server):
    """A Server that may be told it is going to exit (signal()): its exit is then no failure.
    listen=False leaves out the harness's --listen 127.0.0.1:0 (the config file gives it)."""

    def __init__(self, t, *args, listen=True):
        Server.__init__(self, t, *args)
        if not listen:
            self.cmd = ([t.suite.bin] + list(t.suite.global_args) + ["serve"] + self.args)
        self.exit_expected = False
        self.signalled_at = None

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        """Send sig to the server process alone (not its group); its exit is expected now."""
        self.exit_expected = True
        self.signalled_at = time.monotonic()
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout):
        """The exit status, or None if still running after timeout seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _stop(self):
        problem = Server._stop(self)
        if self.exit_expected and problem and problem.startswith("runcell serve exited on its own"):
            return None
        return problem

    def rss_kb(self):
        """VmRSS of the server process in KiB (None once it is gone)."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None


class WSX(WS):
    """A WS with a chosen query, Origin, extra headers and receive queue length
    (max_queue=1: the client stops reading the socket while a message waits unread); a
    refused handshake is shown as the server's answer to the same request by hand."""

    def __init__(self, t, srv, name="ws", query="", origin=None, headers=None,
                 max_queue=None):
        WS.__init__(self, t, srv, name, query=query, origin=origin, headers=headers,
                    max_queue=max_queue)

    async def _connect_failed(self, e):
        raw = await asyncio.to_thread(raw_ws_handshake, self.srv, self.query,
                                      self.origin, self.headers)
        return Fail("%s: cannot connect to %s (origin %r, headers %r): %s: %s (the same "
                    "handshake by hand gets an answer beginning %r)"
                    % (self.name, self.url, self.origin, self.headers, type(e).__name__, e,
                       raw[:80]))

    async def until_closed(self, timeout):
        """Read frames until the server closes the connection.  Returns (events, close code)
        where the code is None if the connection is still open after timeout seconds."""
        evs = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return evs, None
            try:
                frame = await self.frame(left)
            except Closed as e:
                self.closed_by_server = e.code
                return evs, e.code
            if frame is None:
                return evs, None
            self._log("<", frame if isinstance(frame, str) else "BINARY %r" % frame[:100])
            try:
                ev = json.loads(frame)
            except (ValueError, TypeError):
                ev = {"type": "<not JSON>", "frame": shorten(frame, 200)}
            evs.append(ev)
            if isinstance(ev, dict):
                self.events.append((time.monotonic() - self.t0, ev))
                if "id" in ev:
                    self.by_id.setdefault(ev["id"], []).append((time.monotonic() - self.t0, ev))


async def ws_handshake_status(t, srv, query="", origin=None, headers=None):
    """Try a WebSocket handshake: None if it is accepted (the connection is closed again),
    else the HTTP status of the refusal (or a string describing another failure)."""
    need_websockets(t)
    srv.check_alive()
    kw = {}
    if origin is not None:
        kw["origin"] = origin
    if headers:
        kw["extra_headers"] = headers
    url = srv.ws_url + query
    try:
        conn = await asyncio.wait_for(websockets.connect(url, ping_interval=None,
                                                         open_timeout=20, close_timeout=5,
                                                         **kw), 30)
    except websockets.exceptions.InvalidStatusCode as e:
        t.note("WS handshake %s origin=%r headers=%r -> HTTP %s" % (url, origin, headers,
                                                                   e.status_code))
        return e.status_code
    except asyncio.TimeoutError:
        return "handshake timed out"
    except (OSError, websockets.exceptions.WebSocketException) as e:
        if not srv.alive():
            raise Fail(srv.died_message())
        raw = await asyncio.to_thread(raw_ws_handshake, srv, query, origin, headers)
        t.note("WS handshake %s origin=%r headers=%r -> %s: %s; the same handshake by hand "
               "gets: %r" % (url, origin, headers, type(e).__name__, e, raw))
        return "%s: %s (the server's answer begins %r)" % (type(e).__name__, e, raw[:60])
    t.note("WS handshake %s origin=%r headers=%r -> accepted" % (url, origin, headers))
    try:
        await asyncio.wait_for(conn.close(), 10)
    except (asyncio.TimeoutError, OSError, websockets.exceptions.WebSocketException):
        pass
    return None


def raw_ws_handshake(srv, query="", origin=None, headers=None, timeout=5):
    """Send a WebSocket upgrade request by hand; returns the first bytes of the answer."""
    lines = ["GET /api/v1/ws%s HTTP/1.1" % query, "Host: 127.0.0.1:%d" % srv.port,
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append("Origin: %s" % origin)
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    out = b""
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            while b"\r\n\r\n" not in out and len(out) < 4096:
                d = s.recv(4096)
                if not d:
                    break
                out += d
    except OSError as e:
        out += b"<%s>" % str(e).encode()
    return out[:200]


# ------------------------------------------------------------------ /metrics
_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class Metrics:
    """Parsed Prometheus text exposition: samples [(name, {labels}, value)], types
    {family: type}, problems [lines that do not parse]."""

    def __init__(self, text):
        self.text = text
        self.samples = []
        self.types = {}
        self.problems = []
        for ln in text.split("\n"):
            s = ln.strip()
            if not s:
                continue
            if s.startswith("#"):
                parts = s.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            m = _SAMPLE_RE.match(s)
            if not m:
                self.problems.append(ln)
                continue
            labels = {}
            body = m.group(2) or ""
            pos = 0
            ok = True
            while pos < len(body):
                lm = _LABEL_RE.match(body, pos)
                if not lm or lm.end() == pos:
                    ok = False
                    break
                labels[lm.group(1)] = re.sub(r'\\(.)', lambda x: {"n": "\n"}.get(
                    x.group(1), x.group(1)), lm.group(2))
                pos = lm.end()
            try:
                v = float(m.group(3))
            except ValueError:
                ok = False
            if not ok:
                self.problems.append(ln)
                continue
            self.samples.append((m.group(1), labels, v))

    def find(self, name, **labels):
        """Samples of name whose labels include the given ones: [(labels, value)]."""
        return [(lb, v) for n, lb, v in self.samples
                if n == name and all(lb.get(k) == w for k, w in labels.items())]

    def has(self, name):
        return any(n == name for n, _, _ in self.samples)

    def total(self, name, **labels):
        """Sum of the matching samples (0 when none)."""
        return sum(v for _, v in self.find(name, **labels))

    def value(self, name, **labels):
        """The one sample of name with exactly these labels; None if absent."""
        for n, lb, v in self.samples:
            if n == name and lb == labels:
                return v
        return None


def get_metrics(t, srv, headers=None):
    """GET /metrics: checks 200 and the content type; returns Metrics."""
    r = http_req(t, srv, "GET", "/metrics", headers=headers, timeout=30)
    t.eq(r.status, 200, "GET /metrics status (body %r)" % shorten(r.body, 300))
    ct = r.headers.get("content-type", "")
    t.check(ct.startswith("text/plain") and "version=0.0.4" in ct.replace(" ", ""),
            "GET /metrics Content-Type must be 'text/plain; version=0.0.4', got %r" % ct)
    m = Metrics(r.body.decode("utf-8", "replace"))
    t.check(not m.problems, "/metrics lines that are not Prometheus samples: %r"
            % m.problems[:5])
    return m


def check_histogram(t, m, fam):
    """fam_bucket/_sum/_count well formed for every label set; returns {labelkey: count}."""
    buckets = {}
    for n, lb, v in m.samples:
        if n == fam + "_bucket":
            t.check("le" in lb, "%s_bucket sample without an 'le' label: %r" % (fam, lb))
            key = tuple(sorted((k, w) for k, w in lb.items() if k != "le"))
            try:
                le = float(lb["le"])  # "+Inf" parses as inf
            except ValueError:
                raise Fail("%s_bucket: le=%r is not a number" % (fam, lb["le"]))
            buckets.setdefault(key, []).append((le, v))
    t.check(buckets, "/metrics has no %s_bucket samples" % fam)
    counts = {}
    for key, bs in buckets.items():
        bs.sort()
        t.check(bs[-1][0] == float("inf"), "%s%r: no le=\"+Inf\" bucket" % (fam, dict(key)))
        for (l1, v1), (l2, v2) in zip(bs, bs[1:]):
            t.check(v2 >= v1, "%s%r: buckets not cumulative (le=%s: %s, le=%s: %s)"
                    % (fam, dict(key), l1, v1, l2, v2))
        cnt = m.value(fam + "_count", **dict(key))
        sm = m.value(fam + "_sum", **dict(key))
        t.check(cnt is not None, "%s_count%r missing" % (fam, dict(key)))
        t.check(sm is not None, "%s_sum%r missing" % (fam, dict(key)))
        t.eq(bs[-1][1], cnt, "%s%r: the +Inf bucket equals _count" % (fam, dict(key)))
        t.check(sm >= 0, "%s_sum%r negative: %r" % (fam, dict(key), sm))
        counts[key] = cnt
    if fam in m.types:
        t.eq(m.types[fam], "histogram", "# TYPE of %s" % fam)
    return counts


# ------------------------------------------------------------------ cgroups
def rc_leaves(pid):
    """Paths of the cgroup leaves rc-<pid>-<n> under this process's own cgroup dirs."""
    pat = re.compile(r"^rc-%d-\d+$" % pid)
    out = []
    for d in harness.own_cgroup_dirs():
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out += [os.path.join(d, n) for n in names if pat.match(n)]
    return sorted(out)
