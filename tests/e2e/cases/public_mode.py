"""runcell serve: public mode (issue 14, "Public mode, safe by default").

With tokens configured, "public" lets requests without a token in on the listed routes as
anonymous, held per client address to runs a minute (429 with Retry-After over it), runs
going at once, and a smaller limits_max.  Token users keep their own quotas; routes not
listed still need the token; a WebSocket run over the limits gets an error event and the
connection stays.  Client addresses are simulated with X-Forwarded-For through the trusted
proxy 127.0.0.1, and with sockets bound to other loopback addresses (127.0.0.2 is no proxy:
its X-Forwarded-For is ignored).
"""

import http.client as httpc
import json
import socket

import server_util as su
from harness import Fail, case, expect_stage, shorten

TOKEN = "pub-test-token"
HELLO = 'print("hello")\n'
SLEEPER = 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'
ROUTES = ["/api/v1/run", "/api/v1/languages", "/api/v1/ws", "/assets/*"]


def config(t, **public):
    pub = {"routes": ROUTES, "runs_per_minute": 3, "max_running": 2}
    pub.update(public)
    return su.write_config(t, {"tokens": [TOKEN], "trusted_proxies": ["127.0.0.1"],
                               "max_concurrent": 4, "public": pub})


def req(t, srv, method, path, body=None, headers=None, src="127.0.0.1", xff=None, token=None):
    """One request on a fresh connection from the address src."""
    hdrs = dict(headers or {})
    if xff:
        hdrs["X-Forwarded-For"] = xff
    if token:
        hdrs["Authorization"] = "Bearer " + token
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn = httpc.HTTPConnection("127.0.0.1", srv.port, timeout=120, source_address=(src, 0))
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        resp = su.Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    except (OSError, httpc.HTTPException) as e:
        if not srv.alive():
            raise Fail(srv.died_message())
        raise Fail("HTTP %s %s from %s: %s: %s" % (method, path, src, type(e).__name__, e))
    finally:
        conn.close()
    t.note("HTTP %s %s from %s xff=%s token=%s -> %r" % (method, path, src, xff, bool(token),
                                                         resp))
    return resp


def run(t, srv, what, src="127.0.0.1", xff=None, token=None, source=HELLO, **extra):
    body = {"language": "python", "source": source}
    body.update(extra)
    return req(t, srv, "POST", "/api/v1/run", body, src=src, xff=xff, token=token)


def run_ok(t, srv, what, **kw):
    r = run(t, srv, what, **kw)
    t.eq(r.status, 200, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    if r.json:
        expect_stage(t, r.json["run"], "run", status="ok", exit_code=0)
    return r


def expect_429(t, r, code, what, most=60):
    t.eq(r.status, 429, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    err = (r.json or {}).get("error") or {}
    t.eq(err.get("code"), code, "%s: error code" % what)
    ra = r.headers.get("retry-after")
    t.check(ra is not None and ra.isdigit() and 1 <= int(ra) <= most,
            "%s: Retry-After in whole seconds, 1 to %d: %r" % (what, most, ra))
    t.eq(r.headers.get("x-content-type-options"), "nosniff", "%s: nosniff" % what)
    return int(ra or 0)


@case("public_mode.per_ip_rate", lang="python")
def per_ip_rate(t):
    with su.Server(t, "--config", config(t)) as srv:
        # the languages without a token: a public route, JSON with nosniff
        r = req(t, srv, "GET", "/api/v1/languages")
        t.eq(r.status, 200, "GET /api/v1/languages without a token")
        t.eq(r.headers.get("x-content-type-options"), "nosniff", "languages: nosniff")
        t.check(r.headers.get("content-type", "").startswith("application/json"),
                "languages: JSON: %r" % r.headers.get("content-type"))
        # client 10.0.0.1 behind the trusted proxy: 3 runs a minute, then 429
        for i in range(3):
            run_ok(t, srv, "anonymous run %d of 10.0.0.1" % (i + 1), xff="10.0.0.1")
        ra = expect_429(t, run(t, srv, "4th", xff="10.0.0.1"), "rate_limited",
                        "a 4th run of 10.0.0.1 within the minute")
        t.check(ra >= 10, "Retry-After is the time to the next run (3 a minute: about 20 s "
                "from the first), not 1: %d" % ra)
        # another client is unaffected
        run_ok(t, srv, "a run of 10.0.0.2", xff="10.0.0.2")
        # a token user is unaffected, even from the same address
        for i in range(4):
            run_ok(t, srv, "token run %d from 10.0.0.1" % (i + 1), xff="10.0.0.1", token=TOKEN)
        # a wrong token is refused, not taken as anonymous
        r = run(t, srv, "wrong token", xff="10.0.0.3", token="nope")
        t.eq(r.status, 401, "a wrong token on a public route: 401 (%r)" % r)
        # routes not listed still need the token
        for method, path in (("GET", "/metrics"), ("GET", "/api/v2/runtimes"),
                             ("GET", "/api/v1/languagesx")):
            r = req(t, srv, method, path, xff="10.0.0.4")
            t.eq(r.status, 401, "%s %s without a token (not a public route): %r"
                 % (method, path, r))
            t.eq(r.headers.get("x-content-type-options"), "nosniff", "401: nosniff")
        r = req(t, srv, "GET", "/metrics", token=TOKEN)
        t.eq(r.status, 200, "/metrics with the token")
        m = su.Metrics(r.body.decode())
        t.check(m.value("runcell_public_refused_total") >= 1,
                "runcell_public_refused_total counts the refusal")
        # the still-limited client over a WebSocket: an error event, the connection stays
        async def ws_part():
            async with su.WSX(t, srv, "anon-ws", headers={"X-Forwarded-For": "10.0.0.1"}) as ws:
                await ws.run("r1", "python", HELLO)
                ev = await ws.error(rid="r1", timeout=30)
                t.eq(ev.get("code"), "rate_limited", "WebSocket run over the rate: %s"
                     % json.dumps(ev))
                t.check(isinstance(ev.get("retry_after"), int) and ev["retry_after"] >= 1,
                        "the error event says when to try again: %s" % json.dumps(ev))
                await ws.ping(what="pong after the rate_limited error")
            async with su.WSX(t, srv, "anon-ws-2", headers={"X-Forwarded-For": "10.0.0.5"}) as ws:
                await ws.run("r2", "python", HELLO)
                res = su.check_run(t, await ws.done("r2", timeout=60), "r2")
                su.expect_status(t, res, "run", "ok", exit_code=0)
        su.run_async(t, ws_part())


@case("public_mode.spoofed_xff_ignored", lang="python")
def spoofed_xff(t):
    with su.Server(t, "--config", config(t, runs_per_minute=2)) as srv:
        # 127.0.0.2 is no trusted proxy: whatever it names, the quota is its own
        for i in range(2):
            run_ok(t, srv, "run %d from 127.0.0.2" % (i + 1), src="127.0.0.2",
                   xff="10.7.0.%d" % i)
        expect_429(t, run(t, srv, "3rd", src="127.0.0.2", xff="10.7.0.9"), "rate_limited",
                   "a 3rd run from 127.0.0.2 naming yet another X-Forwarded-For")
        # another loopback address is another client
        run_ok(t, srv, "a run from 127.0.0.3", src="127.0.0.3")


@case("public_mode.max_running", lang="python")
def max_running(t):
    with su.Server(t, "--config", config(t, runs_per_minute=100, max_running=1)) as srv:
        async def part():
            async with su.WSX(t, srv, "a", headers={"X-Forwarded-For": "10.0.1.1"}) as a, \
                    su.WSX(t, srv, "b", headers={"X-Forwarded-For": "10.0.1.2"}) as b:
                await a.run("a1", "python", SLEEPER)
                await a.wait_output("a1", "ready", timeout=60)
                # a second run of the same client while one goes: refused at once (not queued)
                await a.run("a2", "python", SLEEPER)
                ev = await a.error(rid="a2", timeout=30)
                t.eq(ev.get("code"), "busy", "a 2nd run at once of 10.0.1.1: %s"
                     % json.dumps(ev))
                await a.ping(what="pong after the busy error")
                r = run(t, srv, "HTTP run of 10.0.1.1 while its WebSocket run goes",
                        xff="10.0.1.1")
                expect_429(t, r, "busy", "HTTP run over max_running")
                # another client's run starts meanwhile
                await b.run("b1", "python", SLEEPER)
                await b.wait_output("b1", "ready", timeout=60)
                # a token user is not held by anonymous caps
                run_ok(t, srv, "token run from 10.0.1.1", xff="10.0.1.1", token=TOKEN)
                # once the first run is over, the client may run again
                await a.send({"type": "kill", "id": "a1"})
                await a.wait_type("done", rid="a1", timeout=30)
                await a.run("a3", "python", HELLO)
                res = su.check_run(t, await a.done("a3", timeout=60), "a3")
                su.expect_status(t, res, "run", "ok", exit_code=0)
                await b.send({"type": "kill", "id": "b1"})
                await b.wait_type("done", rid="b1", timeout=30)
        su.run_async(t, part())


HOG = 'b = bytearray(200 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\nprint("ok")\n'


@case("public_mode.smaller_limits", lang="python")
def smaller_limits(t):
    cfg = config(t, runs_per_minute=100, limits_max={"memory_mb": 64})
    with su.Server(t, "--config", cfg) as srv:
        r = run(t, srv, "anonymous memory hog", xff="10.0.2.1", source=HOG,
                limits={"memory_mb": 512})
        t.eq(r.status, 200, "anonymous hog: HTTP status (%r)" % r)
        expect_stage(t, r.json["run"], "run", status="memory_limit")
        r = run(t, srv, "token memory hog", xff="10.0.2.1", token=TOKEN, source=HOG,
                limits={"memory_mb": 512})
        t.eq(r.status, 200, "token hog: HTTP status (%r)" % r)
        expect_stage(t, r.json["run"], "run", status="ok", exit_code=0)
        # a program printing markup: its output comes back as JSON text, never as a page
        markup = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
        r = run(t, srv, "markup", xff="10.0.2.2", source="print(%r)\n" % markup)
        t.eq(r.status, 200, "markup run: HTTP status (%r)" % r)
        t.check(r.headers.get("content-type", "").startswith("application/json"),
                "markup run answered as JSON: %r" % r.headers.get("content-type"))
        t.eq(r.headers.get("x-content-type-options"), "nosniff", "markup run: nosniff")
        t.eq(r.json["run"]["stdout"], markup + "\n", "the markup comes back as text, as printed")


@case("public_mode.config")
def public_config(t):
    su.refused_config(t, {"public": []}, "public a list", "public")
    su.refused_config(t, {"public": {"routes": ["api/v1/run"]}}, "a route without /", "routes")
    su.refused_config(t, {"public": {"runs_per_minute": -1}}, "negative rate", "runs_per_minute")
    su.refused_config(t, {"public": {"bogus": 1}}, "unknown key", "bogus")
    su.refused_config(t, {"public": {"limits_max": {"memory": 1}}}, "bad limits_max", "memory")


@case("public_mode.no_tokens_and_ws_routes", lang="python")
def no_tokens_and_ws_routes(t):
    # without tokens every request is anonymous: the per-address limits hold all the same
    cfg = su.write_config(t, {"public": {"runs_per_minute": 1}})
    with su.Server(t, "--config", cfg) as srv:
        run_ok(t, srv, "the one run a minute of 127.0.0.2", src="127.0.0.2")
        expect_429(t, run(t, srv, "2nd", src="127.0.0.2"), "rate_limited",
                   "a 2nd run of 127.0.0.2 (no tokens configured)")
        run_ok(t, srv, "a run of 127.0.0.3", src="127.0.0.3")
    # with tokens: a WebSocket on a route not listed still needs the token
    with su.Server(t, "--config", config(t)) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket"
                      b"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                      b"MDEyMzQ1Njc4OWFiY2RlZg==\r\n\r\n")
            head = s.recv(4096)
        finally:
            s.close()
        t.check(head.startswith(b"HTTP/1.1 401"),
                "a WebSocket at /ws (not a public route) without a token: %r" % head[:200])
        t.check(b"x-content-type-options: nosniff" in head.lower(),
                "the refused handshake carries nosniff: %r" % head[:300])
