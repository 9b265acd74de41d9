"""`runcell serve` operations: --config FILE, limit maxima, size and depth caps, Origin
allow-list, bearer tokens, /metrics, SIGTERM with a grace period, restart after SIGKILL,
load (50 runs over 5 connections) and a slow WebSocket reader.  Each case runs its own
server(s) on 127.0.0.1."""

import asyncio
import json
import signal
import time
import uuid

from harness import Fail, case, expect_bad_input, expect_stage, shorten
from server_util import (WS, WSX, OpsServer, Server, check_histogram, check_http_error, check_run,
                         decode_output, expect_status, get_metrics, http_req, pgrep,
                         raw_post_large, rc_leaves, refused_config, run_async, websockets,
                         write_config, ws_handshake_status)

SLEEPER = 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'
HELLO = 'print("hello")\n'


async def expect_ws_error(t, ws, code, rid="<any>", what="", still_open=True):
    """The next error event has code (and id rid unless '<any>'); then, if still_open, the
    connection still answers ping."""
    ev = await ws.error(timeout=30)
    what = what or code
    t.eq(ev.get("code"), code, "%s: error code (event %s)" % (what, json.dumps(ev)))
    t.check(isinstance(ev.get("message"), str) and ev["message"],
            "%s: error event needs a non-empty message: %s" % (what, json.dumps(ev)))
    if rid != "<any>":
        t.eq(ev.get("id"), rid, "%s: id of the error event" % what)
    if still_open:
        await ws.ping(what="pong after the %s error (the connection must stay usable)" % what)
    return ev


def no_run_events(t, ws, rid, what):
    evs = [e for _, e in ws.by_id.get(rid, []) if e.get("type") != "error"]
    t.check(not evs, "%s: a refused run must not produce run events: %s"
            % (what, shorten(json.dumps(evs), 400)))


async def run_ok(t, ws, rid, src=HELLO, out=b"hello\n", timeout=60, **fields):
    await ws.run(rid, "python", None if "files" in fields else src, **fields)
    res = check_run(t, await ws.done(rid, timeout=timeout), rid)
    expect_status(t, res, "run", "ok", exit_code=0)
    if out is not None:
        t.eq(res.out(), out, "stdout of %s" % rid)
    return res


def http_run_ok(t, srv, body=None, headers=None, what="POST /api/v1/run"):
    r = http_req(t, srv, "POST", "/api/v1/run",
                 body or {"language": "python", "source": HELLO}, headers=headers)
    t.eq(r.status, 200, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    expect_stage(t, r.json["run"], "run", status="ok", exit_code=0)
    return r


# ==================================================================== --config
@case("server_ops.config.refuses_bad_files")
def config_refuses(t):
    refused_config(t, {"bogus_key": 1}, "unknown key", "bogus_key")
    refused_config(t, {"max_concurrent": 2, "bogus_key": 1}, "unknown key after a good one",
                   "bogus_key")
    refused_config(t, {"max_concurrent": "two"}, "max_concurrent a string", "max_concurrent")
    refused_config(t, {"queue": 1.5}, "queue not an integer", "queue")
    refused_config(t, {"tokens": "s3cret"}, "tokens a string, not a list", "tokens")
    refused_config(t, {"allowed_origins": [1]}, "allowed_origins with a number",
                   "allowed_origins")
    refused_config(t, {"grace_ms": "3000"}, "grace_ms a string", "grace_ms")
    refused_config(t, {"drain_delay_ms": -1}, "drain_delay_ms negative", "drain_delay_ms")
    refused_config(t, {"drain_delay_ms": 3600001}, "drain_delay_ms over an hour",
                   "drain_delay_ms")
    refused_config(t, {"warm": "python"}, "warm a string, not a list", "warm")
    refused_config(t, {"limits_max": {"wall_ms": "3000"}}, "limits_max.wall_ms a string",
                   "limits_max")
    refused_config(t, {"limits_max": {"walltime": 3000}}, "unknown key in limits_max",
                   "walltime")
    refused_config(t, "[1, 2]", "a JSON array, not an object")
    refused_config(t, '{"max_concurrent": 2', "malformed JSON")
    missing = "/nonexistent-%s/runcell.json" % uuid.uuid4().hex[:8]
    refused_config(t, None, "missing config file", missing, path=missing)


@case("server_ops.config.applies_and_flags_win", lang="python")
def config_applies(t):
    cfg = write_config(t, {"listen": "127.0.0.1:0", "max_concurrent": 1, "queue": 1,
                           "pool": 1, "warm": ["python"], "grace_ms": 1000})

    async def full_at_two(srv):
        async with WS(t, srv) as ws:
            await ws.run("a1", "python", SLEEPER)
            await ws.wait_output("a1", "ready\n", timeout=60)
            await ws.run("a2", "python", SLEEPER)
            _, q = await ws.wait_type("queued", "a2", timeout=20)
            t.eq(q.get("position"), 1, "queued.position of the 2nd run (config "
                 "max_concurrent 1)")
            await ws.run("a3", "python", SLEEPER)
            await expect_ws_error(t, ws, "busy", rid="a3", what="3rd run (config queue 1)")
            for rid in ("a1", "a2"):
                await ws.send({"type": "kill", "id": rid})
            for rid in ("a1", "a2"):
                await ws.done(rid, timeout=30)

    # "listen" from the file (no --listen on the command line)
    with OpsServer(t, "--config", cfg, listen=False) as srv:
        run_async(t, full_at_two(srv))
        srv.check_alive()

    async def full_at_three(srv):
        async with WS(t, srv) as ws:
            for rid in ("f1", "f2"):
                await ws.run(rid, "python", SLEEPER)
            for rid in ("f1", "f2"):
                await ws.wait_output(rid, "ready\n", timeout=60)
                t.eq(ws.by_id[rid][0][1].get("position"), 0,
                     "queued.position of %s (--max-concurrent 2 wins over the file's 1)" % rid)
            await ws.run("f3", "python", SLEEPER)
            _, q = await ws.wait_type("queued", "f3", timeout=20)
            t.eq(q.get("position"), 1, "queued.position of the 3rd run")
            await ws.run("f4", "python", SLEEPER)
            await expect_ws_error(t, ws, "busy", rid="f4", what="4th run (queue 1 full)")
            for rid in ("f1", "f2", "f3"):
                await ws.send({"type": "kill", "id": rid})
            for rid in ("f1", "f2", "f3"):
                await ws.done(rid, timeout=30)

    # the command line wins: --max-concurrent 2 over the file's 1, --listen over its listen
    with OpsServer(t, "--config", cfg, "--max-concurrent", "2") as srv:
        run_async(t, full_at_three(srv))
        srv.check_alive()


# ==================================================================== limits_max
@case("server_ops.limits_max.clamps_requests", lang="python")
def limits_max(t):
    cfg = write_config(t, {"max_concurrent": 2,
                           "limits_max": {"wall_ms": 3000, "memory_mb": 128,
                                          "output_bytes": 100000}})
    src_sleep = 'import time\nprint("start", flush=True)\ntime.sleep(30)\n'

    async def body(srv):
        async with WS(t, srv) as ws:
            # asked for 60 s, and the language's default (5 s): both clamped to 3 s
            await ws.run("w60", "python", src_sleep, limits={"wall_ms": 60000})
            await ws.run("wdef", "python", src_sleep)
            for rid in ("w60", "wdef"):
                res = check_run(t, await ws.done(rid, timeout=60), rid)
                expect_status(t, res, "run", "time_limit")
                t.eq(res.exit().get("limit"), "wall", "%s: exit.limit" % rid)
                w = res.exit()["wall_ms"]
                t.check(2700 <= w <= 4500, "%s: wall_ms %r: not clamped to limits_max.wall_ms "
                        "3000" % (rid, w))
            # a lower request still applies (the clamp is a maximum)
            await ws.run("w1", "python", src_sleep, limits={"wall_ms": 1000})
            res = check_run(t, await ws.done("w1", timeout=60), "w1")
            expect_status(t, res, "run", "time_limit")
            w = res.exit()["wall_ms"]
            t.check(800 <= w <= 2500, "w1: wall_ms %r: the request's 1000 ms was not kept" % w)
            # memory: asked for 1024 MB, clamped to 128
            await ws.run("mem", "python", 'x = b"x" * (200 << 20)\nprint(len(x))\n',
                         limits={"memory_mb": 1024, "wall_ms": 20000})
            res = check_run(t, await ws.done("mem", timeout=60), "mem")
            expect_status(t, res, "run", "memory_limit")
            # output: asked for 100 MB, clamped to 100000 bytes
            await ws.run("out", "python", 'import sys\nsys.stdout.write("x" * 1000000)\n',
                         limits={"output_bytes": 100000000, "wall_ms": 20000})
            res = check_run(t, await ws.done("out", timeout=60), "out")
            expect_status(t, res, "run", "output_limit")
            t.eq(len(res.out()), 100000, "out: bytes of stdout received (limits_max."
                 "output_bytes)")
            t.eq(res.exit()["truncated"], True, "out: exit.truncated")
        # HTTP the same
        t0 = time.monotonic()
        r = await asyncio.to_thread(http_req, t, srv, "POST", "/api/v1/run",
                                    {"language": "python", "source": src_sleep,
                                     "limits": {"wall_ms": 60000}})
        took = time.monotonic() - t0
        t.eq(r.status, 200, "HTTP status (body %r)" % shorten(r.body, 300))
        expect_stage(t, r.json["run"], "run", status="time_limit")
        w = r.json["run"]["wall_ms"]
        t.check(2700 <= w <= 4500 and took < 15, "HTTP run: wall_ms %r (answer after %.1fs): "
                "not clamped to 3000" % (w, took))

    with Server(t, "--config", cfg) as srv:
        run_async(t, body(srv))
        srv.check_alive()


# ==================================================================== size and depth caps
def padded_source(n):
    """A Python program of exactly n bytes printing 'padded'."""
    head = 'print("padded")\n#'
    return head + "x" * (n - len(head) - 1) + "\n"


@case("server_ops.caps.message_max_bytes", lang="python")
def message_max(t):
    cfg = write_config(t, {"message_max_bytes": 65536, "source_max_bytes": 1048576})

    async def body(srv):
        r = await asyncio.to_thread(raw_post_large, t, srv, "/api/v1/run", 100000)
        check_http_error(t, r, 413, "too_large", "HTTP body of 100 kB over message_max_bytes")
        await asyncio.to_thread(http_run_ok, t, srv,
                                {"language": "python", "source": padded_source(60000)})
        # under the cap: a normal run
        async with WS(t, srv, name="small") as ws:
            await run_ok(t, ws, "small", padded_source(60000), out=b"padded\n")
        # over the cap: error too_large, then the server closes the connection
        async with WSX(t, srv, name="big") as ws:
            await ws.run("big", "python", padded_source(100000))
            evs, code = await ws.until_closed(15)
            errs = [e for e in evs if e.get("type") == "error"]
            t.check(errs, "a 100 kB message over message_max_bytes 65536: no error event "
                    "before %s; events: %s" % ("the close (code %s)" % code if code
                                               else "15 s passed",
                                               shorten(json.dumps(evs), 300)))
            t.eq(errs[0].get("code"), "too_large", "error code for a message over "
                 "message_max_bytes (event %s)" % json.dumps(errs[0]))
            t.check(code is not None, "the connection stayed open 15 s after a message over "
                    "message_max_bytes")
            no_run_events(t, ws, "big", "message over message_max_bytes")

    with Server(t, "--config", cfg) as srv:
        run_async(t, body(srv))
        srv.check_alive()


@case("server_ops.caps.source_max_bytes", lang="python")
def source_max(t):
    cfg = write_config(t, {"source_max_bytes": 10000})
    main = 'import helper\nprint(helper.X)\n#' + "m" * 5900 + "\n"

    def files(helper_pad):
        return [{"name": "main.py", "content": main},
                {"name": "helper.py", "content": "X = 42\n#" + "h" * helper_pad + "\n"}]

    async def body(srv):
        async with WS(t, srv) as ws:
            # each file under the cap, together over it
            await ws.run("s1", "python", files=files(5900))
            await expect_ws_error(t, ws, "too_large", rid="s1",
                                  what="files of 12 kB together (source_max_bytes 10000)")
            no_run_events(t, ws, "s1", "files over source_max_bytes")
            await ws.run("s2", "python", padded_source(12000))
            await expect_ws_error(t, ws, "too_large", rid="s2",
                                  what="source of 12 kB (source_max_bytes 10000)")
            no_run_events(t, ws, "s2", "source over source_max_bytes")
            # together under the cap: runs, on the same connection
            await run_ok(t, ws, "s3", files=files(3000), out=b"42\n")
        r = await asyncio.to_thread(http_req, t, srv, "POST", "/api/v1/run",
                                    {"language": "python", "files": files(5900)})
        check_http_error(t, r, 413, "too_large", "HTTP files of 12 kB together")
        r = await asyncio.to_thread(http_run_ok, t, srv,
                                    {"language": "python", "files": files(3000)})
        t.eq(r.json["run"]["stdout"], "42\n", "HTTP run.stdout")

    with Server(t, "--config", cfg) as srv:
        run_async(t, body(srv))
        srv.check_alive()


def nested_run(rid, levels, kind="["):
    """A run message with an extra field nested `levels` deep (the object itself is one more
    level)."""
    if kind == "[":
        meta = "[" * levels + "]" * levels
    else:
        meta = '{"a":' * levels + "1" + "}" * levels
    return ('{"type":"run","id":%s,"language":"python","source":%s,"meta":%s}'
            % (json.dumps(rid), json.dumps(HELLO), meta))


@case("server_ops.caps.json_depth_max", lang="python")
def json_depth(t):
    cfg = write_config(t, {"json_depth_max": 16})

    async def body(srv):
        async with WS(t, srv) as ws:
            # 11 levels: fine (unknown fields of a run are ignored)
            await ws.send(nested_run("d0", 10))
            res = check_run(t, await ws.done("d0", timeout=60), "d0")
            expect_status(t, res, "run", "ok", exit_code=0)
            await ws.send(nested_run("d1", 40))
            await expect_ws_error(t, ws, "bad_request", what="a message 41 levels deep "
                                  "(json_depth_max 16)")
            no_run_events(t, ws, "d1", "too deep")
            await ws.send(nested_run("d2", 40, kind="{"))
            await expect_ws_error(t, ws, "bad_request", what="objects 41 levels deep")
            no_run_events(t, ws, "d2", "too deep")
            # very deep: refused, the server survives (no recursion without bound)
            await ws.send(nested_run("d3", 200000))
            await expect_ws_error(t, ws, "bad_request", what="a message 200001 levels deep")
            no_run_events(t, ws, "d3", "too deep")
        def http_body(levels):
            return ('{"language":"python","source":%s,"meta":%s}'
                    % (json.dumps(HELLO), "[" * levels + "]" * levels))
        ctype = {"Content-Type": "application/json"}
        r = await asyncio.to_thread(http_req, t, srv, "POST", "/api/v1/run", http_body(40),
                                    ctype)
        check_http_error(t, r, 400, "bad_request", "HTTP body 41 levels deep")
        r = await asyncio.to_thread(http_req, t, srv, "POST", "/api/v1/run",
                                    http_body(200000), ctype)
        check_http_error(t, r, 400, "bad_request", "HTTP body 200001 levels deep")
        await asyncio.to_thread(http_run_ok, t, srv, http_body(10), ctype)

    with Server(t, "--config", cfg) as srv:
        run_async(t, body(srv))
        srv.check_alive()


# ==================================================================== Origin
GOOD_ORIGIN = "http://playground.example"
BAD_ORIGIN = "http://evil.example"


@case("server_ops.origin.allow_list", lang="python")
def origin_allow_list(t):
    cfg = write_config(t, {"allowed_origins": [GOOD_ORIGIN]})

    def http_checks(srv):
        for method, path, b in (("GET", "/api/v1/languages", None),
                                ("POST", "/api/v1/run",
                                 {"language": "python", "source": HELLO})):
            r = http_req(t, srv, method, path, b, headers={"Origin": BAD_ORIGIN})
            check_http_error(t, r, 403, "forbidden_origin",
                             "%s %s with Origin %s" % (method, path, BAD_ORIGIN))
        r = http_req(t, srv, "GET", "/api/v1/languages", headers={"Origin": GOOD_ORIGIN})
        t.eq(r.status, 200, "GET /api/v1/languages with the allowed Origin")
        http_run_ok(t, srv, headers={"Origin": GOOD_ORIGIN}, what="run, allowed Origin")
        http_run_ok(t, srv, what="run without Origin")

    async def body(srv):
        await asyncio.to_thread(http_checks, srv)
        async with WSX(t, srv, name="good", origin=GOOD_ORIGIN) as ws:
            await run_ok(t, ws, "g1")
        async with WSX(t, srv, name="none") as ws:  # no Origin header: not a browser
            await run_ok(t, ws, "n1")
        st = await ws_handshake_status(t, srv, origin=BAD_ORIGIN)
        t.eq(st, 403, "WebSocket handshake with Origin %s (not allowed): HTTP status "
             "(None = accepted)" % BAD_ORIGIN)
        st = await ws_handshake_status(t, srv, origin=GOOD_ORIGIN + ".evil.example")
        t.eq(st, 403, "WebSocket handshake with an Origin that only starts with an allowed one")

    with Server(t, "--config", cfg) as srv:
        run_async(t, body(srv))
        srv.check_alive()

    # without allowed_origins any Origin passes
    async def open_body(srv):
        st = await ws_handshake_status(t, srv, origin=BAD_ORIGIN)
        t.eq(st, None, "WebSocket handshake with any Origin when allowed_origins is not set "
             "(None = accepted)")
        r = await asyncio.to_thread(http_req, t, srv, "GET", "/api/v1/languages", None,
                                    {"Origin": BAD_ORIGIN})
        t.eq(r.status, 200, "GET /api/v1/languages with any Origin, no allow-list")

    with Server(t) as srv:
        run_async(t, open_body(srv))
        srv.check_alive()


# ==================================================================== tokens
@case("server_ops.tokens.bearer_and_query", lang="python")
def tokens(t):
    cfg = write_config(t, {"tokens": ["s3cret", "other"]})
    good = {"Authorization": "Bearer s3cret"}

    def http_checks(srv):
        r = http_req(t, srv, "GET", "/healthz")
        t.eq(r.status, 200, "GET /healthz needs no token")
        for hdrs, what in ((None, "no Authorization"),
                           ({"Authorization": "Bearer wrong"}, "a wrong token"),
                           ({"Authorization": "Bearer s3cretX"}, "a token with a suffix"),
                           ({"Authorization": "Bearer s3cre"}, "a prefix of the token"),
                           ({"Authorization": "Bearer "}, "an empty token"),
                           ({"Authorization": "s3cret"}, "no 'Bearer ' scheme"),
                           ({"Authorization": "Basic czNjcmV0OnMzY3JldA=="}, "Basic auth")):
            for method, path, b in (("GET", "/api/v1/languages", None),
                                    ("POST", "/api/v1/run",
                                     {"language": "python", "source": HELLO}),
                                    ("GET", "/metrics", None)):
                r = http_req(t, srv, method, path, b, headers=hdrs)
                check_http_error(t, r, 401, "unauthorized", "%s %s with %s"
                                 % (method, path, what))
        # the query token is for WebSocket handshakes only
        r = http_req(t, srv, "GET", "/api/v1/languages?token=s3cret")
        check_http_error(t, r, 401, "unauthorized", "GET /api/v1/languages?token=s3cret")
        r = http_req(t, srv, "GET", "/api/v1/languages", headers=good)
        t.eq(r.status, 200, "GET /api/v1/languages with the token")
        r = http_req(t, srv, "GET", "/api/v1/languages",
                     headers={"Authorization": "Bearer other"})
        t.eq(r.status, 200, "GET /api/v1/languages with the second token")
        http_run_ok(t, srv, headers=good, what="run with the token")
        get_metrics(t, srv, headers=good)

    async def body(srv):
        await asyncio.to_thread(http_checks, srv)
        async with WSX(t, srv, name="header", headers=good) as ws:
            await run_ok(t, ws, "b1")
        async with WSX(t, srv, name="query", query="?token=s3cret") as ws:
            await run_ok(t, ws, "q1")
        async with WSX(t, srv, name="other", query="?x=1&token=other") as ws:
            await ws.ping()
        for q, hdrs, what in (("", None, "no token"),
                              ("?token=wrong", None, "?token=wrong"),
                              ("?token=", None, "an empty ?token="),
                              ("?token=s3cretX", None, "?token=s3cretX"),
                              ("", {"Authorization": "Bearer wrong"}, "a wrong Bearer token")):
            st = await ws_handshake_status(t, srv, query=q, headers=hdrs)
            t.eq(st, 401, "WebSocket handshake with %s: HTTP status (None = accepted)" % what)

    with Server(t, "--config", cfg) as srv:
        run_async(t, body(srv))
        srv.check_alive()


# ==================================================================== /metrics
async def poll_metrics(t, srv, cond, what, timeout=5.0):
    """Fetch /metrics until cond(m) holds; returns m; fails with what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        m = await asyncio.to_thread(get_metrics, t, srv)
        if cond(m):
            return m
        if time.monotonic() > deadline:
            raise Fail("/metrics: %s (within %.0fs); relevant lines:\n%s"
                       % (what, timeout, "\n".join(
                           ln for ln in m.text.split("\n")
                           if ln.startswith(("runcell_runs_total", "runcell_queue_depth",
                                             "runcell_active_runs", "runcell_ws_connections",
                                             "runcell_run_duration_seconds_count")))))
        await asyncio.sleep(0.2)


@case("server_ops.metrics.counts_move", lang="python")
def metrics(t):
    async def body(srv):
        m0 = await asyncio.to_thread(get_metrics, t, srv)
        for g in ("runcell_queue_depth", "runcell_active_runs", "runcell_ws_connections"):
            t.check(m0.has(g), "/metrics lacks the gauge %s" % g)
            t.eq(m0.total(g), 0, "%s of an idle server" % g)
            if g in m0.types:
                t.eq(m0.types[g], "gauge", "# TYPE of %s" % g)
        if "runcell_runs_total" in m0.types:
            t.eq(m0.types["runcell_runs_total"], "counter", "# TYPE of runcell_runs_total")

        def runs(m, status):
            return m.total("runcell_runs_total", language="python", status=status)

        base_ok, base_rt, base_killed = (runs(m0, "ok"), runs(m0, "runtime_error"),
                                         runs(m0, "killed"))
        base_all = m0.total("runcell_runs_total")
        base_dur = m0.total("runcell_run_duration_seconds_count")
        base_dur_sum = m0.total("runcell_run_duration_seconds_sum")
        base_setup = m0.total("runcell_setup_duration_seconds_count")

        def ended(m, status):
            return m.value("runcell_dialect_runs_ended_total", dialect="runcell", status=status)

        base_ended_ok, base_ended_rt = ended(m0, "ok"), ended(m0, "runtime_error")
        t.check(base_ended_ok is not None,
                'runcell_dialect_runs_ended_total{dialect="runcell",status="ok"} is listed '
                "before any run")
        for h in ("runcell_run_duration_seconds", "runcell_setup_duration_seconds",
                  "runcell_queue_wait_seconds"):
            t.eq(m0.types.get(h), "histogram", "# TYPE of %s (before any run)" % h)
        for c in ("runcell_pool_hits_total", "runcell_pool_misses_total",
                  "runcell_pool_pending_total", "runcell_dialect_runs_ended_total",
                  "runcell_judge_runs_total", "runcell_connections_refused_total"):
            t.eq(m0.types.get(c), "counter", "# TYPE of %s" % c)
        base_wait = m0.total("runcell_queue_wait_seconds_count", dialect="runcell")
        base_pool = m0.total("runcell_pool_hits_total") + m0.total("runcell_pool_misses_total")

        # 3 ok runs (2 HTTP, 1 WebSocket) and 1 runtime_error
        await asyncio.to_thread(http_run_ok, t, srv)
        await asyncio.to_thread(http_run_ok, t, srv)
        async with WS(t, srv) as ws:
            await run_ok(t, ws, "ok3", 'import time\ntime.sleep(0.3)\nprint("hello")\n')
            await ws.run("bad", "python", "raise SystemExit(3)\n")
            res = check_run(t, await ws.done("bad", timeout=60), "bad")
            expect_status(t, res, "run", "runtime_error", exit_code=3)
        m1 = await poll_metrics(t, srv, lambda m: m.total("runcell_runs_total") >= base_all + 4,
                                "runcell_runs_total did not grow by 4 after 4 runs")
        t.eq(runs(m1, "ok") - base_ok, 3,
             'increase of runcell_runs_total{language="python",status="ok"}')
        t.eq(runs(m1, "runtime_error") - base_rt, 1,
             'increase of runcell_runs_total{language="python",status="runtime_error"}')
        t.eq(m1.total("runcell_runs_total") - base_all, 4,
             "increase of runcell_runs_total over all labels")
        for lb, v in m1.find("runcell_runs_total"):
            t.check("language" in lb and "status" in lb,
                    "runcell_runs_total sample without language and status labels: %r" % lb)
        dur = check_histogram(t, m1, "runcell_run_duration_seconds")
        t.eq(sum(dur.values()) - base_dur, 4, "increase of runcell_run_duration_seconds_count")
        grew = m1.total("runcell_run_duration_seconds_sum") - base_dur_sum
        t.check(0.3 <= grew <= 120, "runcell_run_duration_seconds_sum grew by %r seconds for 4 "
                "runs (one slept 0.3 s)" % grew)
        setup = check_histogram(t, m1, "runcell_setup_duration_seconds")
        t.check(sum(setup.values()) > base_setup,
                "runcell_setup_duration_seconds_count did not grow over 4 runs (%r -> %r)"
                % (base_setup, sum(setup.values())))
        # labelled by language and dialect (the native API's runs: dialect "runcell")
        py = (("dialect", "runcell"), ("language", "python"))
        for h in (dur, setup):
            for key in h:
                t.eq(sorted(k for k, _ in key), ["dialect", "language"],
                     "the labels of a duration histogram's series")
        t.check(dur.get(py, 0) >= 4, "runcell_run_duration_seconds_count%r: %r" % (py, dur))
        t.eq(ended(m1, "ok") - base_ended_ok, 3,
             'increase of runcell_dialect_runs_ended_total{dialect="runcell",status="ok"}')
        t.eq(ended(m1, "runtime_error") - base_ended_rt, 1,
             'increase of runcell_dialect_runs_ended_total{dialect="runcell",'
             'status="runtime_error"}')
        wait = check_histogram(t, m1, "runcell_queue_wait_seconds")
        t.eq(wait.get((("dialect", "runcell"),), 0) - base_wait, 4,
             "increase of runcell_queue_wait_seconds_count{dialect=\"runcell\"} (one a run)")
        pool = m1.total("runcell_pool_hits_total") + m1.total("runcell_pool_misses_total")
        t.check(pool - base_pool >= 4, "the pool's hits and misses grew by %r over 4 runs (a "
                "take per stage)" % (pool - base_pool))
        wait_sum1 = m1.total("runcell_queue_wait_seconds_sum", dialect="runcell")

        # gauges while runs go and wait
        async with WS(t, srv) as ws:
            await ws.run("s1", "python", SLEEPER)
            await ws.wait_output("s1", "ready\n", timeout=60)
            m = await poll_metrics(t, srv, lambda m: m.total("runcell_active_runs") == 1,
                                   "runcell_active_runs is not 1 while one run sleeps")
            t.check(m.total("runcell_ws_connections") >= 1,
                    "runcell_ws_connections is %r while a WebSocket is open"
                    % m.total("runcell_ws_connections"))
            t.eq(m.total("runcell_queue_depth"), 0, "runcell_queue_depth with nothing queued")
            await ws.run("s2", "python", SLEEPER)
            _, q = await ws.wait_type("queued", "s2", timeout=20)
            t.eq(q.get("position"), 1, "queued.position of s2 (--max-concurrent 1)")
            await poll_metrics(t, srv, lambda m: m.total("runcell_queue_depth") == 1,
                               "runcell_queue_depth is not 1 while one run waits")
            await asyncio.sleep(0.2)  # s2 waits at least this long
            await ws.send({"type": "kill", "id": "s1"})
            await ws.done("s1", timeout=30)
            await ws.wait_output("s2", "ready\n", timeout=60)
            await ws.send({"type": "kill", "id": "s2"})
            await ws.done("s2", timeout=30)
        m2 = await poll_metrics(
            t, srv, lambda m: (m.total("runcell_active_runs") == 0
                               and m.total("runcell_queue_depth") == 0
                               and m.total("runcell_ws_connections") == 0),
            "the gauges did not return to 0 after the runs ended and the WebSocket closed")
        t.eq(runs(m2, "killed") - base_killed, 2,
             'increase of runcell_runs_total{language="python",status="killed"} after 2 kills')
        t.eq(runs(m2, "ok") - base_ok, 3, "runs ok unchanged by the kills")
        # s2 waited in the queue until s1 was killed
        waited = m2.total("runcell_queue_wait_seconds_sum", dialect="runcell") - wait_sum1
        t.check(0.2 <= waited <= 120, "runcell_queue_wait_seconds_sum grew by %r s, though "
                "s2 waited for s1 to be killed (at least 0.2 s)" % waited)

    with Server(t, "--max-concurrent", "1", "--queue", "4") as srv:
        run_async(t, body(srv))
        srv.check_alive()


# ==================================================================== SIGTERM
@case("server_ops.sigterm.grace_then_kill", lang="python")
def sigterm_grace(t):
    marker = "rcmark-%s" % uuid.uuid4().hex
    short_src = ('import time\nprint("ready", flush=True)\ntime.sleep(1)\n'
                 'print("end", flush=True)\n')
    cfg = write_config(t, {"grace_ms": 3000, "max_concurrent": 2, "queue": 4})

    async def body(srv):
        async with WSX(t, srv) as ws:
            await ws.run("long", "python", SLEEPER, args=[marker])
            await ws.wait_output("long", "ready\n", timeout=60)
            await ws.run("short", "python", short_src)
            await ws.wait_output("short", "ready\n", timeout=60)
            await ws.run("waiting", "python", HELLO)
            _, q = await ws.wait_type("queued", "waiting", timeout=20)
            t.eq(q.get("position"), 1, "queued.position of a 3rd run (max_concurrent 2)")
            srv.signal(signal.SIGTERM)
            t0 = srv.signalled_at
            t.note("SIGTERM sent")
            try:
                # a new run is refused at once, on WebSocket and HTTP
                await ws.run("late", "python", HELLO)
                ev = await ws.error(timeout=10, rid="late")
                t.eq(ev.get("code"), "shutting_down", "error code of a run after SIGTERM")
                no_run_events(t, ws, "late", "run after SIGTERM")
                # the queued run is dropped with the same error (docs/protocol.md)
                ev = await ws.error(timeout=10, rid="waiting")
                t.eq(ev.get("code"), "shutting_down", "error code of the run queued at SIGTERM")
                r = await asyncio.to_thread(http_req, t, srv, "POST", "/api/v1/run",
                                            {"language": "python", "source": HELLO},
                                            None, 10)
                check_http_error(t, r, 503, "shutting_down", "HTTP run after SIGTERM")
                # the run in flight finishes within the grace period
                res = check_run(t, await ws.done("short", timeout=10), "short")
                expect_status(t, res, "run", "ok", exit_code=0)
                t.eq(res.out(), b"ready\nend\n", "stdout of the run that finished in grace")
                # the one that would not is killed after ~grace_ms
                res = check_run(t, await ws.done("long", timeout=15), "long")
                expect_status(t, res, "run", "killed")
                took = res.times["run_exit"] + ws.t0 - t0
                t.check(2.5 <= took <= 6.0, "the 60 s run was killed %.1fs after SIGTERM "
                        "(grace_ms 3000)" % took)
            except Fail as e:
                raise Fail("after SIGTERM: %s" % e)
            _, code = await ws.until_closed(10)
            t.check(code is not None, "the server did not close the WebSocket within 10 s "
                    "after its runs ended")
        rc = srv.wait_exit(10)
        t.check(rc is not None, "runcell serve still running %.1fs after SIGTERM"
                % (time.monotonic() - t0))
        t.eq(rc, 0, "exit status of runcell serve after SIGTERM")
        left = pgrep(marker)
        t.check(not left, "processes of the killed run remain after the server exited: %s"
                % left)

    with OpsServer(t, "--config", cfg) as srv:
        run_async(t, body(srv))


# ==================================================================== SIGKILL, restart
@case("server_ops.sigkill.sandboxes_die_and_restart_cleans", lang="python")
def sigkill_restart(t):
    marker = "rcmark-%s" % uuid.uuid4().hex

    async def first(srv):
        async with WSX(t, srv) as ws:
            await ws.run("k1", "python", SLEEPER, args=[marker])
            await ws.wait_output("k1", "ready\n", timeout=60)
            pids = pgrep(marker)
            t.check(pids, "no process with the marker found while the run sleeps "
                    "(pgrep -f cannot see it; the case cannot check anything)")
            leaves = rc_leaves(srv.pid)
            t.note("server pid %d; program pids %s; its cgroup leaves: %s"
                   % (srv.pid, pids, leaves))
            t.check(leaves, "no rc-%d-* cgroup leaf found under %s while a run goes"
                    % (srv.pid, "this process's cgroups"))
            srv.signal(signal.SIGKILL)
            t0 = time.monotonic()
            left = pids
            while time.monotonic() - t0 < 1.0:
                left = pgrep(marker)
                if not left:
                    break
                await asyncio.sleep(0.05)
            if left:
                while left and time.monotonic() - t0 < 10:
                    await asyncio.sleep(0.2)
                    left = pgrep(marker)
                t.fail("1 s after runcell serve was SIGKILLed the run's processes remain "
                       "(%s after %.1fs)" % ("still there" if left else "gone",
                                            time.monotonic() - t0))
            t.check(srv.wait_exit(5) is not None, "the SIGKILLed server did not exit")
        return leaves

    with OpsServer(t) as srv:
        dead = srv.pid
        run_async(t, first(srv))

    with OpsServer(t) as srv2:
        left = rc_leaves(dead)
        t.check(not left, "after a new server (pid %d) started, cgroup leaves of the "
                "SIGKILLed one (pid %d) remain: %s" % (srv2.pid, dead, left))

        async def second(srv):
            async with WS(t, srv) as ws:
                await run_ok(t, ws, "after")
        run_async(t, second(srv2))
        srv2.check_alive()


# ==================================================================== load
@case("server_ops.load.fifty_runs_five_connections", lang="python")
def load_fifty(t):
    src = 'import sys\nprint("out", sys.argv[1])\n'

    async def one_conn(srv, c):
        async with WS(t, srv, name="ws%d" % c) as ws:
            for i in range(10):
                await ws.run("j%d" % i, "python", src, args=["c%d-j%d" % (c, i)])
            for i in range(10):
                rid = "j%d" % i
                res = check_run(t, await ws.done(rid, timeout=240), rid)
                expect_status(t, res, "run", "ok", exit_code=0)
                t.eq(res.out(), ("out c%d-j%d\n" % (c, i)).encode(),
                     "stdout of %s on ws%d" % (rid, c))

    async def body(srv):
        t0 = time.monotonic()
        await asyncio.gather(*(one_conn(srv, c) for c in range(5)))
        t.note("50 runs took %.1fs" % (time.monotonic() - t0))

    with Server(t, "--max-concurrent", "2", "--queue", "64") as srv:
        run_async(t, body(srv), timeout=max(t.suite.timeout, 300))
        srv.check_alive()


# ==================================================================== slow reader
@case("server_ops.slow_reader.bounded_memory", lang="python")
def slow_reader(t):
    marker = "rcmark-%s" % uuid.uuid4().hex
    total = 50 << 20
    src = "import sys\nsys.stdout.write('x' * (50 << 20))\n"

    async def body(srv):
        samples = []

        def sample():
            v = srv.rss_kb()
            if v is not None:
                samples.append(v)
            return v

        # max_queue=1: the client reads no further frames from the socket while one waits
        async with WSX(t, srv, name="slow", max_queue=1) as ws:
            base = sample()
            t.check(base, "cannot read VmRSS of the server (pid %d)" % srv.pid)
            await ws.run("big", "python", src, args=[marker],
                         limits={"output_bytes": 100000000, "wall_ms": 60000})
            t0 = time.monotonic()
            # read nothing for 3 s; meanwhile another client is served
            async with WS(t, srv, name="other") as other:
                await other.ping()
                await run_ok(t, other, "o1")
                while time.monotonic() - t0 < 3.0:
                    sample()
                    await asyncio.sleep(0.1)
            stalled_peak = max(samples)
            t.check(pgrep(marker), "the program had already finished after 3 s of a client "
                    "that reads nothing: its output was not held back (it must block in write)")
            # now read everything
            got = 0
            ev_exit = None
            n = 0
            while True:
                try:
                    frame = await asyncio.wait_for(ws.conn.recv(), 60)
                except asyncio.TimeoutError:
                    raise Fail("slow: no frame for 60 s while draining (%d bytes so far)" % got)
                except websockets.exceptions.ConnectionClosed as e:
                    raise ws._closed_fail("draining", e)
                n += 1
                if n % 50 == 0:
                    sample()
                ev = json.loads(frame)
                if ev.get("type") == "output":
                    t.eq(ev.get("id"), "big", "id of an output event")
                    if ev.get("stream") == "stdout":
                        got += len(decode_output(t, ev))
                    continue
                ws._log("<", frame)
                if ev.get("type") == "exit":
                    ev_exit = ev
                if ev.get("type") in ("done", "error"):
                    break
            t.check(ev.get("type") == "done", "the run ended with %s" % json.dumps(ev))
            t.check(ev_exit is not None, "no exit event before done")
            st = ev_exit.get("status")
            t.check(st in ("ok", "output_limit"), "status of the 50 MB run: %r (exit %s)"
                    % (st, json.dumps(ev_exit)))
            if st == "ok":
                t.eq(got, total, "stdout bytes received")
            t.check(ev_exit.get("wall_ms", 0) >= 2800,
                    "exit.wall_ms %r: the program's wall clock did not run on while it was "
                    "blocked for 3 s" % ev_exit.get("wall_ms"))
            peak = max(samples)
            t.note("server VmRSS: %d KiB before, %d KiB peak while stalled, %d KiB peak "
                   "overall (%d samples)" % (base, stalled_peak, peak, len(samples)))
            t.check(stalled_peak - base < 64 << 10,
                    "server VmRSS grew by %d KiB while the client read nothing (limit 64 MiB)"
                    % (stalled_peak - base))
            t.check(peak - base < 64 << 10,
                    "server VmRSS grew by %d KiB during the run (limit 64 MiB)" % (peak - base))

    with OpsServer(t, "--max-concurrent", "2") as srv:
        run_async(t, body(srv))
        srv.check_alive()
