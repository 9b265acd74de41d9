"""SIGHUP reloads runcell serve's whole config (issue 16): all of it or nothing.

- server_reload.tokens: a token added is let in after SIGHUP (401 before, 200 after), one
  removed is refused (200 before, 401 after), also on a WebSocket opened before the reload
  (its next run is refused `unauthorized`, the connection stays); the reload's one log line
  names what changed; runcell_config_reloads_total{result="ok"} counts it;
- server_reload.limits: limits_max lowered clamps a run asking above it (the run stops at the
  new maximum); a run queued before the reload (max_concurrent 1) keeps the maximum it was
  admitted under and finishes, and a run going with a token the reload withdrew finishes and
  is logged under that token's name;
- server_reload.origins_and_dialects: an Origin allowed after the reload (403 before, 200
  after); a dialect turned off answers 404, and on again (it was on at start) answers again;
- server_reload.bad_config: a file that is not JSON, an unknown key and a bad value are each
  refused with exactly one log line (event=reload result=refused, the reason), the server
  keeps answering with the old settings, and the refusals are counted;
- server_reload.restart_only: a changed listen address, TLS files, pool, a dialect's path and
  its own options are refused in one line naming each, and nothing else of that file is taken (a token it
  adds is still refused).

Each case runs its own server with its own config file, rewritten and signalled.
"""

import asyncio
import json
import os
import re
import signal
import socket
import threading
import time

import server_util as su
from harness import Fail, case, expect_stage

HELLO = {"language": "bash", "source": "echo hello"}


def rewrite(t, path, obj):
    """The config file replaced whole (a rename: SIGHUP never reads half a file)."""
    data = obj if isinstance(obj, str) else json.dumps(obj, indent=1)
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)
    t.note("config %s now: %s" % (path, data[:600]))


def logged(srv, pattern, timeout=10):
    """Whether the server's log has a line matching pattern, waiting for it a while: a run's
    answer may reach the client before its log line is read from the server's stderr."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, srv.stderr_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return re.search(pattern, srv.stderr_text())


def reload_lines(srv):
    return [ln for ln in srv.stderr_text().splitlines()
            if re.search(r"\bevent=reload\b", ln) or '"event":"reload"' in ln]


def hup(t, srv, path=None, obj=None, timeout=15):
    """Rewrite the config (if given), send SIGHUP and wait for the reload's log line, which
    is returned; exactly one line is written per SIGHUP."""
    if path is not None:
        rewrite(t, path, obj)
    before = len(reload_lines(srv))
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = reload_lines(srv)
        if len(lines) > before:
            time.sleep(0.3)  # a second line would come at once: there must be none
            lines = reload_lines(srv)
            t.eq(len(lines), before + 1, "log lines of event=reload after one SIGHUP: %r"
                 % lines[before:])
            t.note("reload: %s" % lines[-1])
            return lines[-1]
        srv.check_alive()
        time.sleep(0.05)
    raise Fail("no event=reload line within %d s of SIGHUP; stderr ends: %s"
               % (timeout, srv.stderr_text()[-1500:]))


def clean_exit(t, srv):
    """After the server stopped: exit 0 on SIGTERM, and with a sanitizer build (ASan/UBSan,
    scripts/test) no report: every set of options a reload replaced was freed, once, and
    nothing read it after (runs, connections and requests hold the one they came in under)."""
    err = srv.stderr_text()
    for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        t.check(mark not in err, "the server's stderr has a sanitizer report (%s): %s"
                % (mark, err[err.find(mark) - 200:][:3000]))
    t.eq(srv._stopped_rc, 0, "runcell serve's exit status after SIGTERM")


def field(line, key):
    m = re.search(r'\b%s=("(?:[^"\\]|\\.)*"|\S+)' % key, line)
    if not m:
        return None
    v = m.group(1)
    return json.loads(v) if v.startswith('"') else v


def run(t, srv, token=None, body=HELLO, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    return su.http_req(t, srv, "POST", "/api/v1/run", body=body, headers=h)


def reloads(t, srv, token):
    m = su.get_metrics(t, srv, headers={"Authorization": "Bearer " + token})
    return (m.value("runcell_config_reloads_total", result="ok"),
            m.value("runcell_config_reloads_total", result="refused"))


@case("server_reload.tokens", lang="bash")
def tokens(t):
    cfg = su.write_config(t, {"tokens": [{"token": "tok-old", "name": "old"}],
                              "rescan_interval_s": 0})
    with su.Server(t, "--config", cfg) as srv:
        t.eq(run(t, srv, "tok-old").status, 200, "the first token before the reload")
        t.eq(run(t, srv, "tok-new").status, 401, "a token not yet configured")
        t.eq(reloads(t, srv, "tok-old"), (0, 0), "reloads counted before any SIGHUP (ok, "
             "refused)")

        async def ws_then_reload():
            async with su.WSX(t, srv, name="old", query="?token=tok-old") as ws:
                await ws.run("before", "bash", "echo before")
                res = su.check_run(t, await ws.done("before", timeout=60), "before")
                t.eq(res.out(), b"before\n", "a run of the old token's WebSocket before")
                await asyncio.to_thread(hup, t, srv, cfg, {
                    "tokens": [{"token": "tok-new", "name": "new"}], "rescan_interval_s": 0})
                await ws.run("after", "bash", "echo after")
                ev = await ws.error(timeout=30)
                t.eq(ev.get("code"), "unauthorized", "a run on a WebSocket whose token was "
                     "withdrawn by the reload: %r" % ev)
                await ws.ping(what="the connection stays after the refusal")
        su.run_async(t, ws_then_reload())
        line = reload_lines(srv)[-1]
        t.eq(field(line, "result"), "ok", "reload result")
        t.contains(field(line, "changed") or "", "tokens", "the reload line names what "
                   "changed")
        t.eq(run(t, srv, "tok-old").status, 401, "the removed token after the reload")
        r = run(t, srv, "tok-new")
        t.eq(r.status, 200, "the added token after the reload")
        t.eq(r.json["run"]["stdout"], "hello\n", "its run's output")
        t.check(logged(srv, r"event=run .*token=new\b"),
                "the new token's run is logged under its name")
        # renamed (same token string): still let in, logged under the new name
        line = hup(t, srv, cfg, {"tokens": [{"token": "tok-new", "name": "renamed"}],
                                 "rescan_interval_s": 0})
        t.eq(field(line, "changed"), "tokens", "a rename is a change of tokens")
        t.eq(run(t, srv, "tok-new").status, 200, "the renamed token")
        t.check(logged(srv, r"event=run .*token=renamed\b"),
                "the renamed token's run is logged under its new name")
        t.eq(reloads(t, srv, "tok-new"), (2, 0), "reloads counted (ok, refused)")

        # no tokens at all: anyone, also a WebSocket let in with a token before
        async def tokens_off():
            async with su.WSX(t, srv, name="new", query="?token=tok-new") as ws:
                await asyncio.to_thread(hup, t, srv, cfg, {"rescan_interval_s": 0})
                await ws.run("open", "bash", "echo open")
                res = su.check_run(t, await ws.done("open", timeout=60), "open")
                t.eq(res.out(), b"open\n", "a run on a WebSocket after tokens were turned off")
        su.run_async(t, tokens_off())
        t.eq(run(t, srv).status, 200, "a request without a token once none are configured")
    clean_exit(t, srv)


@case("server_reload.limits", lang="bash")
def limits(t):
    sleepy = {"language": "bash", "source": "echo start; sleep 2.5; echo slept",
              "limits": {"wall_ms": 20000}}
    base = {"tokens": [{"token": "tok-a", "name": "alpha"}, {"token": "tok-b", "name": "beta"}],
            "max_concurrent": 1, "queue": 4, "limits_max": {"wall_ms": 20000},
            "rescan_interval_s": 0}
    cfg = su.write_config(t, base)
    with su.Server(t, "--config", cfg) as srv:
        results = {}

        def go(name, token):
            results[name] = run(t, srv, token, body=sleepy)
        first = threading.Thread(target=go, args=("going", "tok-a"))
        first.start()
        time.sleep(1.0)  # the first run is going; the next one waits for the only slot
        second = threading.Thread(target=go, args=("queued", "tok-b"))
        second.start()
        time.sleep(0.5)
        m = su.get_metrics(t, srv, headers={"Authorization": "Bearer tok-b"})
        t.eq(m.value("runcell_queue_depth"), 1, "a run waits in the queue at the reload")
        # lower the maximum to 1 s and withdraw the going run's token
        new = dict(base, tokens=[{"token": "tok-b", "name": "beta"}],
                   limits_max={"wall_ms": 1000})
        line = hup(t, srv, cfg, new)
        t.eq(field(line, "result"), "ok", "reload result")
        for c in ("limits_max", "tokens"):
            t.contains(field(line, "changed") or "", c, "the reload line names %s" % c)
        first.join(60)
        second.join(60)
        for name in ("going", "queued"):
            r = results.get(name)
            if r is None:
                raise Fail("the %s run got no answer" % name)
            t.eq(r.status, 200, "the %s run (admitted before the reload)" % name)
            expect_stage(t, r.json["run"], "run", status="ok")
            t.eq(r.json["run"]["stdout"], "start\nslept\n",
                 "the %s run kept its 20 s maximum and finished" % name)
        t.check(logged(srv, r"event=run .*token=alpha\b.*verdict=ok"),
                "the going run, whose token the reload withdrew, is logged under that "
                "token's name")
        # a run now: asks for 20 s, clamped to the new 1 s
        t0 = time.monotonic()
        r = run(t, srv, "tok-b", body=sleepy)
        t.eq(r.status, 200, "a run after the reload")
        expect_stage(t, r.json["run"], "run", status="time_limit")
        w = r.json["run"]["wall_ms"]
        t.check(700 <= w <= 2000 and time.monotonic() - t0 < 10,
                "a run asking 20 s after limits_max.wall_ms went to 1000: wall_ms %r" % w)
        t.eq(run(t, srv, "tok-a").status, 401, "the withdrawn token")

        # A run on a WebSocket admitted under a reloaded config, which the next reload
        # replaces: once the connection's next run is let in under the newest config, the
        # going run alone holds its options (freed when it ends: a sanitizer build would see
        # a use after free if it did not hold them).
        async def ws_outlives():
            await asyncio.to_thread(hup, t, srv, cfg, dict(
                base, tokens=[{"token": "tok-b", "name": "delta"}],
                limits_max={"wall_ms": 20000}))
            async with su.WSX(t, srv, name="b", query="?token=tok-b") as ws:
                await ws.run("long", "bash", "echo start; sleep 2.5; echo slept",
                             limits={"wall_ms": 20000})
                await ws.wait_output("long", "start", timeout=30)
                line = await asyncio.to_thread(hup, t, srv, cfg, dict(
                    base, tokens=[{"token": "tok-b", "name": "gamma"}],
                    limits_max={"wall_ms": 1000}))
                for c in ("limits_max", "tokens"):
                    t.contains(field(line, "changed") or "", c, "second reload names %s" % c)
                await ws.run("after", "bash", "sleep 5", limits={"wall_ms": 20000})
                res = su.check_run(t, await ws.done("long", timeout=60), "long")
                t.eq(res.out(), b"start\nslept\n", "the WebSocket run admitted before the "
                     "reload kept its 20 s maximum")
                res = su.check_run(t, await ws.done("after", timeout=60), "after")
                su.expect_status(t, res, "run", "time_limit")
        su.run_async(t, ws_outlives())
        err = srv.stderr_text()
        t.check(re.search(r"event=run [^\n]*token=delta\b[^\n]*verdict=ok", err),
                "the WebSocket run is logged under its token's name in its own config (delta)")
        t.check(re.search(r"event=run [^\n]*token=gamma\b[^\n]*verdict=time_limit", err),
                "the run after the reload is logged under the new name (gamma)")
    clean_exit(t, srv)


@case("server_reload.origins_and_dialects", lang="bash")
def origins_and_dialects(t):
    a, b = "http://a.example", "http://b.example"
    base = {"allowed_origins": [a], "rescan_interval_s": 0}
    cfg = su.write_config(t, base)
    with su.Server(t, "--config", cfg) as srv:
        su.check_http_error(t, run(t, srv, headers={"Origin": b}), 403, "forbidden_origin",
                            "Origin %s before the reload" % b)
        t.eq(su.http_req(t, srv, "GET", "/api/v2/runtimes").status, 200,
             "piston's runtimes before the reload")
        line = hup(t, srv, cfg, dict(base, allowed_origins=[a, b],
                                     dialects={"piston": False}))
        t.eq(field(line, "result"), "ok", "reload result")
        for c in ("allowed_origins", "dialects.piston.enabled"):
            t.contains(field(line, "changed") or "", c, "the reload line names %s" % c)
        r = run(t, srv, headers={"Origin": b})
        t.eq(r.status, 200, "Origin %s after the reload allowed it" % b)
        t.eq(r.headers.get("access-control-allow-origin"), b, "CORS header for it")
        su.check_http_error(t, su.http_req(t, srv, "GET", "/api/v2/runtimes"), 404,
                            "not_found", "piston's runtimes once piston is off")
        r = su.http_req(t, srv, "POST", "/api/v2/execute",
                        body={"language": "bash", "version": "*",
                              "files": [{"content": "echo 1"}]})
        t.eq(r.status, 404, "piston's execute once piston is off (%r)" % r)
        t.eq(run(t, srv).status, 200, "runcell's own API is still on")
        # on again: it was on at start, its routes are there
        line = hup(t, srv, cfg, dict(base, allowed_origins=[a, b]))
        t.eq(field(line, "changed"), "dialects.piston.enabled", "what the second reload "
             "changed")
        t.eq(su.http_req(t, srv, "GET", "/api/v2/runtimes").status, 200,
             "piston's runtimes once on again")
    clean_exit(t, srv)


@case("server_reload.bad_config", lang="bash")
def bad_config(t):
    good = {"tokens": ["tok-1"], "limits_max": {"wall_ms": 5000}, "rescan_interval_s": 0}
    cfg = su.write_config(t, good)
    with su.Server(t, "--config", cfg) as srv:
        t.eq(run(t, srv, "tok-1").status, 200, "the token before")
        bad = [
            ('{"tokens": ["tok-1", "tok-2"]', "not JSON", "not a JSON object"),
            (dict(good, tokens=["tok-2"], colour="blue"), "an unknown key", "colour"),
            (dict(good, tokens=["tok-2"], limits_max={"wall_ms": -5}), "a bad value",
             "limits_max"),
            (dict(good, tokens=["tok-2"], dialects={"nosuch": True}), "an unknown dialect",
             "nosuch"),
        ]
        for obj, what, named in bad:
            line = hup(t, srv, cfg, obj)
            t.eq(field(line, "result"), "refused", "%s: reload result" % what)
            t.contains(line, "level=error", "%s: the refusal's level" % what)
            t.contains(field(line, "reason") or "", named, "%s: the reason names it" % what)
            t.eq(run(t, srv, "tok-1").status, 200, "%s: the old token still works" % what)
            t.eq(run(t, srv, "tok-2").status, 401, "%s: nothing of the bad file is taken"
                 % what)
        t.eq(reloads(t, srv, "tok-1"), (0, len(bad)), "reloads counted (ok, refused)")
        # the old settings are whole: the old limit still clamps
        r = run(t, srv, "tok-1", body={"language": "bash", "limits": {"wall_ms": 60000},
                                       "source": "sleep 30"})
        expect_stage(t, r.json["run"], "run", status="time_limit")
        t.check(r.json["run"]["wall_ms"] <= 7000, "the old limits_max.wall_ms 5000 still "
                "clamps: wall_ms %r" % r.json["run"]["wall_ms"])
        # a good file again is taken
        line = hup(t, srv, cfg, dict(good, tokens=["tok-2"]))
        t.eq(field(line, "result"), "ok", "a good config after the bad ones")
        t.eq(run(t, srv, "tok-2").status, 200, "its token")
        srv.check_alive()
    clean_exit(t, srv)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@case("server_reload.restart_only", lang="bash")
def restart_only(t):
    port = free_port()
    good = {"listen": "127.0.0.1:%d" % port, "tokens": ["tok-1"], "pool": 1,
            "rescan_interval_s": 0}
    cfg = su.write_config(t, good)
    with su.OpsServer(t, "--config", cfg, listen=False) as srv:
        t.eq(srv.port, port, "the config's port")
        t.eq(run(t, srv, "tok-1").status, 200, "the token before")
        changed = dict(good, listen="127.0.0.1:%d" % free_port(), pool=2,
                       tls={"cert": "/nonexistent/cert.pem", "key": "/nonexistent/key.pem"},
                       dialects={"piston": {"path": "/elsewhere", "init_timeout_ms": 5000}},
                       tokens=["tok-1", "tok-2"])
        line = hup(t, srv, cfg, changed)
        t.eq(field(line, "result"), "refused", "reload result")
        restart = field(line, "restart") or ""
        for name in ("listen", "tls", "pool", "dialects.piston.path",
                     "dialects.piston (its own options)"):
            t.contains(restart, name, "the refusal names %s" % name)
        t.check("tokens" not in restart, "tokens need no restart: %r" % restart)
        t.contains(field(line, "msg") or "", "restart", "the message says a restart is needed")
        t.eq(run(t, srv, "tok-2").status, 401, "all or nothing: the token of the refused "
             "file is not taken")
        t.eq(run(t, srv, "tok-1").status, 200, "the old token still works")
        t.eq(su.http_req(t, srv, "GET", "/api/v2/runtimes",
                         headers={"Authorization": "Bearer tok-1"}).status, 200,
             "piston still at its old path")
        srv.check_alive()
    clean_exit(t, srv)
