"""`runcell serve`: the WebSocket API (/api/v1/ws) and the HTTP API (/api/v1/run,
/api/v1/languages, /healthz), each case against its own server on 127.0.0.1."""

import asyncio
import json
import re
import socket
import time
import uuid

from harness import (case, ALIASES, COMPILED, LANGS, check_result_shape, expect_stage, shorten)
from server_util import (WS, Server, check_http_error, check_run, expect_status, http_req,
                         pgrep, raw_post_large, run_async)

SLEEPER = 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'


def ws_case(t, body, *server_args, timeout=None):
    """Start a server, run the coroutine body(srv), stop the server."""
    with Server(t, *server_args) as srv:
        run_async(t, body(srv), timeout=timeout)
        srv.check_alive()


async def expect_error(t, ws, code, rid="<none>", what=""):
    """The next error event has code (and id rid; '<none>': absent or null), then the
    connection still answers ping."""
    ev = await ws.error(timeout=20)
    what = what or code
    t.eq(ev.get("code"), code, "%s: error code (event %s)" % (what, json.dumps(ev)))
    t.check(isinstance(ev.get("message"), str) and ev["message"],
            "%s: error event needs a non-empty message: %s" % (what, json.dumps(ev)))
    if rid == "<none>":
        t.check(ev.get("id") is None, "%s: error must carry no id: %s" % (what, json.dumps(ev)))
    else:
        t.eq(ev.get("id"), rid, "%s: id of the error event" % what)
    await ws.ping(what="pong after the %s error (connection must stay usable)" % what)
    return ev


def no_run_events(t, ws, rid, what):
    evs = [e for _, e in ws.by_id.get(rid, []) if e.get("type") != "error"]
    t.check(not evs, "%s: a rejected run must not produce run events: %s"
            % (what, shorten(json.dumps(evs), 400)))


# ==================================================================== WebSocket
@case("server.ws.hello_world", lang="python")
def ws_hello(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("c1", "python", 'print("hello, world")\n')
            evs = await ws.done("c1", timeout=60)
            res = check_run(t, evs, "c1", stages=("run",))
            expect_status(t, res, "run", "ok", exit_code=0)
            ex = res.exit()
            t.eq(ex["signal"], None, "exit.signal")
            t.eq(ex["truncated"], False, "exit.truncated")
            t.eq(ex["stage"], "run", "exit.stage")
            t.eq(res.out("run", "stdout"), b"hello, world\n", "stdout")
            t.eq(res.out("run", "stderr"), b"", "stderr")
            await ws.ping()
            t.eq(len(ws.by_id["c1"]), len(evs), "number of events of c1 (none after done)")
    ws_case(t, body)


@case("server.ws.streaming_before_exit", lang="python")
def ws_streaming(t):
    src = ('import time\nprint("first", flush=True)\ntime.sleep(1)\n'
           'print("second", flush=True)\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("s1", "python", src)
            evs = await ws.done("s1", timeout=60)
            res = check_run(t, evs, "s1")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out(), b"first\nsecond\n", "stdout")
            first = next(e for _, e in evs if e["type"] == "output")
            t.not_contains(first["data"], "second", "first output event")
            gap = res.times["done"] - res.times["first_output"]
            t.check(gap >= 0.8, "first output arrived only %.2fs before done (the program "
                    "slept 1 s after it): output is not streamed" % gap)
    ws_case(t, body)


@case("server.ws.interactive_stdin", lang="python")
def ws_interactive(t):
    src = ('import sys\n'
           'for i in range(3):\n'
           '    line = sys.stdin.readline()\n'
           '    print("echo:" + line.strip(), flush=True)\n'
           'rest = sys.stdin.read()\n'
           'print("rest:%r" % rest, flush=True)\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("i1", "python", files=[{"name": "main.py", "content": src}],
                         stdin="zero\n", interactive=True)
            await ws.wait_output("i1", "echo:zero\n", timeout=60)
            await asyncio.sleep(0.5)
            ended = [e for _, e in ws.by_id["i1"] if e["type"] in ("exit", "done")]
            t.check(not ended, "interactive run ended while its stdin was open: %s"
                    % shorten(json.dumps(ended), 300))
            await ws.send({"type": "stdin", "id": "i1", "data": "one\n"})
            await ws.wait_output("i1", "echo:one\n", timeout=20)
            # line two is sent only now: the echo of line one came first
            await ws.send({"type": "stdin", "id": "i1", "data": "two\n"})
            await ws.wait_output("i1", "echo:two\n", timeout=20)
            await ws.send({"type": "stdin", "id": "i1", "data": "tail"})
            await ws.send({"type": "stdin", "id": "i1", "eof": True})
            evs = await ws.done("i1", timeout=30)
            res = check_run(t, evs, "i1")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out(), b"echo:zero\necho:one\necho:two\nrest:'tail'\n", "stdout")
    ws_case(t, body)


@case("server.ws.kill_sigkill", lang="python")
def ws_kill(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("k1", "python", SLEEPER)
            await ws.wait_output("k1", "ready\n", timeout=60)
            t0 = time.monotonic()
            await ws.send({"type": "kill", "id": "k1"})
            evs = await ws.done("k1", timeout=10)
            took = time.monotonic() - t0
            res = check_run(t, evs, "k1")
            expect_status(t, res, "run", "killed")
            t.check(took < 3, "done came %.1fs after the kill" % took)
            t.check(res.exit()["wall_ms"] < 30000, "wall_ms %r: the sleep was not cut short"
                    % res.exit()["wall_ms"])
            await ws.ping()
    ws_case(t, body)


@case("server.ws.kill_sigterm_reaches_program", lang="python")
def ws_kill_term(t):
    src = ('import signal, sys, time\n'
           'def on_term(n, f):\n'
           '    print("got TERM", flush=True)\n'
           '    sys.exit(0)\n'
           'signal.signal(signal.SIGTERM, on_term)\n'
           'print("ready", flush=True)\n'
           'time.sleep(60)\n'
           'print("slept to the end", flush=True)\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("k2", "python", src)
            await ws.wait_output("k2", "ready\n", timeout=60)
            t0 = time.monotonic()
            await ws.send({"type": "kill", "id": "k2", "signal": "SIGTERM"})
            evs = await ws.done("k2", timeout=20)
            took = time.monotonic() - t0
            res = check_run(t, evs, "k2")
            t.contains(res.out().decode("utf-8", "replace"), "got TERM",
                       "stdout (the program's SIGTERM handler)")
            t.not_contains(res.out().decode("utf-8", "replace"), "slept to the end", "stdout")
            expect_status(t, res, "run", "killed")
            t.check(took < 5, "done came %.1fs after the SIGTERM" % took)
    ws_case(t, body)


@case("server.ws.wall_time_limit", lang="python")
def ws_wall_limit(t):
    src = 'import time\nprint("start", flush=True)\ntime.sleep(30)\nprint("end")\n'

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("w1", "python", src, limits={"wall_ms": 1000})
            await ws.wait_type("stage", "w1", timeout=60, stage="run")
            t0 = time.monotonic()
            evs = await ws.done("w1", timeout=20)
            took = time.monotonic() - t0
            res = check_run(t, evs, "w1")
            expect_status(t, res, "run", "time_limit")
            t.eq(res.exit().get("limit"), "wall", "exit.limit")
            t.eq(res.out(), b"start\n", "stdout")
            w = res.exit()["wall_ms"]
            t.check(900 <= w <= 5000, "wall_ms %r is not near the 1000 ms limit" % w)
            t.check(took < 6, "done came %.1fs after the run stage started" % took)
    ws_case(t, body)


@case("server.ws.c_compile_and_run", lang="c")
def ws_c(t):
    main_c = ('#include <stdio.h>\n#include "msg.h"\n'
              'int main(int argc, char **argv) {\n'
              '    char buf[64];\n'
              '    if (argc < 2 || !fgets(buf, sizeof buf, stdin)) return 3;\n'
              '    printf(MSG " %s|%s", argv[1], buf);\n'
              '    fprintf(stderr, "to stderr\\n");\n'
              '    return 0;\n}\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("cc", "c", files=[{"name": "main.c", "content": main_c},
                                           {"name": "msg.h",
                                            "content": '#define MSG "hello from c"\n'}],
                         stdin="line\n", args=["arg1"], compile_limits={"wall_ms": 60000})
            evs = await ws.done("cc", timeout=120)
            res = check_run(t, evs, "cc", stages=("compile", "run"))
            expect_status(t, res, "compile", "ok")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out("run", "stdout"), b"hello from c arg1|line\n", "run stdout")
            t.eq(res.out("run", "stderr"), b"to stderr\n", "run stderr")
    ws_case(t, body)


@case("server.ws.c_compile_error", lang="c")
def ws_c_error(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("ce", "c", "int main(void) { return undefined_thing; }\n")
            evs = await ws.done("ce", timeout=120)
            res = check_run(t, evs, "ce", stages=("compile",))  # no run stage
            expect_status(t, res, "compile", "compile_error")
            t.contains(res.out("compile", "stderr").decode("utf-8", "replace"),
                       "undefined_thing", "compiler messages (compile stage stderr)")
    ws_case(t, body)


PRINT_TAG = ('import sys, time\n'
             'for i in range(3):\n'
             '    print(sys.argv[1], i, flush=True)\n'
             '    time.sleep(0.1)\n')


def tag_out(tag):
    return "".join("%s %d\n" % (tag, i) for i in range(3)).encode()


@case("server.ws.several_runs_one_connection", lang="python")
def ws_several(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            for i in range(5):
                await ws.run("r%d" % i, "py" if i == 3 else "python", PRINT_TAG,
                             args=["tag%d" % i])
            for i in range(5):
                rid = "r%d" % i
                res = check_run(t, await ws.done(rid, timeout=120), rid)
                expect_status(t, res, "run", "ok", exit_code=0)
                t.eq(res.out(), tag_out("tag%d" % i), "stdout of %s" % rid)
    ws_case(t, body, "--max-concurrent", "2", "--queue", "16")


@case("server.ws.twenty_runs_four_connections", lang="python")
def ws_twenty(t):
    async def one_conn(srv, c):
        async with WS(t, srv, name="ws%d" % c) as ws:
            for i in range(5):  # the same ids on every connection
                await ws.run("j%d" % i, "python", PRINT_TAG, args=["c%d-j%d" % (c, i)])
            for i in range(5):
                rid = "j%d" % i
                res = check_run(t, await ws.done(rid, timeout=150), rid)
                expect_status(t, res, "run", "ok", exit_code=0)
                t.eq(res.out(), tag_out("c%d-j%d" % (c, i)), "stdout of %s on ws%d" % (rid, c))

    async def body(srv):
        await asyncio.gather(*(one_conn(srv, c) for c in range(4)))
    ws_case(t, body, "--max-concurrent", "4", "--queue", "32")


@case("server.ws.invalid_utf8_output", lang="python")
def ws_invalid_utf8(t):
    src = ('import sys\n'
           'sys.stdout.buffer.write(b"ok \\xff\\xfe end\\n")\n'
           'sys.stdout.flush()\n'
           'sys.stderr.buffer.write(b"\\xc3(\\n")\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("u1", "python", src)
            evs = await ws.done("u1", timeout=60)
            res = check_run(t, evs, "u1")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out("run", "stdout"), b"ok \xff\xfe end\n", "decoded stdout bytes")
            t.eq(res.out("run", "stderr"), b"\xc3(\n", "decoded stderr bytes")
            b64 = [e for _, e in evs if e["type"] == "output" and e.get("encoding") == "base64"]
            t.check(b64, "no output chunk came base64-encoded although the bytes are not UTF-8")
    ws_case(t, body)


MULTIBYTE = ('import os\n'
             'data = ("\\u00e9\\u20ac\\U0001F600" * 20000).encode()\n'
             'i = 0\n'
             'while i < len(data):\n'
             '    i += os.write(1, data[i:i + 4093])\n')
MULTIBYTE_OUT = "\u00e9\u20ac\U0001F600" * 20000


@case("server.ws.multibyte_split_across_chunks", lang="python")
def ws_multibyte(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("m1", "python", MULTIBYTE)
            evs = await ws.done("m1", timeout=60)
            res = check_run(t, evs, "m1")
            expect_status(t, res, "run", "ok", exit_code=0)
            got = res.out()
            t.check(got == MULTIBYTE_OUT.encode(), "decoded stdout differs from the %d bytes "
                    "written (got %d bytes)" % (len(MULTIBYTE_OUT.encode()), len(got)))
        # the HTTP answer of valid UTF-8 output has no replacement characters
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"id": "m2", "language": "python", "source": MULTIBYTE})
        t.eq(r.status, 200, "HTTP status")
        out = r.json["run"]["stdout"]
        t.check(out == MULTIBYTE_OUT, "HTTP run.stdout differs (%d chars, %d U+FFFD)"
                % (len(out), out.count("\ufffd")))
    ws_case(t, body)


@case("server.ws.output_limit", lang="python")
def ws_output_limit(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("o1", "python", 'import sys\nsys.stdout.write("x" * 100000)\n',
                         limits={"output_bytes": 1000, "wall_ms": 10000})
            res = check_run(t, await ws.done("o1", timeout=60), "o1")
            expect_status(t, res, "run", "output_limit")
            t.eq(res.exit()["truncated"], True, "exit.truncated")
            t.eq(len(res.out()), 1000, "bytes of stdout received")
    ws_case(t, body)


# ------------------------------------------------------------------- errors
@case("server.ws.error_malformed_json")
def ws_err_json(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.send('{"type": "run", "id": "x1", "language": ')
            await expect_error(t, ws, "bad_request", what="malformed JSON")
            await ws.send("[1, 2, 3]")
            await expect_error(t, ws, "bad_request", what="JSON that is not an object")
            no_run_events(t, ws, "x1", "malformed JSON")
    ws_case(t, body)


@case("server.ws.error_unknown_type")
def ws_err_type(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.send({"type": "frobnicate", "id": "u1"})
            await expect_error(t, ws, "unknown_type", rid="u1", what="unknown type")
    ws_case(t, body)


@case("server.ws.error_bad_fields")
def ws_err_fields(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.send({"type": "run", "id": "b1", "language": "python"})
            await expect_error(t, ws, "bad_request", rid="b1", what="run without source/files")
            await ws.send({"type": "run", "id": "b2", "language": "python",
                           "source": "print(1)", "limits": {"wall_ms": -5}})
            await expect_error(t, ws, "bad_request", rid="b2", what="negative wall_ms")
            await ws.send({"type": "run", "id": "b3", "language": "python", "source": 42})
            await expect_error(t, ws, "bad_request", rid="b3", what="source not a string")
            await ws.send({"type": "run", "language": "python", "source": "print(1)"})
            await expect_error(t, ws, "bad_request", what="run without id")
            for rid in ("b1", "b2", "b3"):
                no_run_events(t, ws, rid, "bad fields")
    ws_case(t, body)


@case("server.ws.error_unknown_language")
def ws_err_lang(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("l1", "klingon", "DISPLAY 'x'.")
            await expect_error(t, ws, "unknown_language", rid="l1", what="unknown language")
            no_run_events(t, ws, "l1", "unknown language")
    ws_case(t, body)


@case("server.ws.error_id_in_use", lang="python")
def ws_err_id_in_use(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("dup", "python", SLEEPER)
            await ws.wait_output("dup", "ready\n", timeout=60)
            await ws.run("dup", "python", 'print("second")\n')
            await expect_error(t, ws, "id_in_use", rid="dup", what="id in use")
            await ws.send({"type": "kill", "id": "dup"})
            await ws.done("dup", timeout=15)
            evs = [x for x in ws.by_id["dup"] if x[1]["type"] != "error"]
            res = check_run(t, evs, "dup")
            expect_status(t, res, "run", "killed")
            t.not_contains(res.out().decode("utf-8", "replace"), "second",
                           "output of the first run")
            # once done, the id can be used again
            ws.by_id["dup"] = []
            await ws.run("dup", "python", 'print("again")\n')
            res = check_run(t, await ws.done("dup", timeout=60), "dup")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out(), b"again\n", "stdout of the reused id")
    ws_case(t, body)


@case("server.ws.error_unknown_id")
def ws_err_unknown_id(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.send({"type": "kill", "id": "nope1"})
            await expect_error(t, ws, "unknown_id", rid="nope1", what="kill of an unknown id")
            await ws.send({"type": "kill", "id": "nope2", "signal": "SIGTERM"})
            await expect_error(t, ws, "unknown_id", rid="nope2", what="SIGTERM to an unknown id")
            await ws.send({"type": "stdin", "id": "nope3", "data": "x\n"})
            await expect_error(t, ws, "unknown_id", rid="nope3", what="stdin to an unknown id")
            await ws.send({"type": "stdin", "id": "nope4", "eof": True})
            await expect_error(t, ws, "unknown_id", rid="nope4", what="eof to an unknown id")
    ws_case(t, body)


@case("server.ws.error_binary_frame")
def ws_err_binary(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.send(b'{"type": "ping"}')
            await expect_error(t, ws, "bad_request", what="binary frame")
            pongs = [e for _, e in ws.events if e["type"] == "pong"]
            t.eq(len(pongs), 1, "pongs (the binary frame must not count as a ping)")
    ws_case(t, body)


@case("server.ws.busy_queue_full", lang="python")
def ws_busy(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("b1", "python", SLEEPER)
            await ws.wait_type("stage", "b1", timeout=60, stage="run")
            await ws.run("b2", "python", SLEEPER)
            _, q = await ws.wait_type("queued", "b2", timeout=20)
            t.eq(q.get("position"), 1, "queued.position of the second run")
            await ws.run("b3", "python", SLEEPER)
            await expect_error(t, ws, "busy", rid="b3", what="third run (queue full)")
            no_run_events(t, ws, "b3", "busy")
            # the queue moves on: kill the first, the second starts
            await ws.send({"type": "kill", "id": "b1"})
            res1 = check_run(t, await ws.done("b1", timeout=15), "b1")
            expect_status(t, res1, "run", "killed")
            await ws.wait_output("b2", "ready\n", timeout=60)
            await ws.send({"type": "kill", "id": "b2"})
            res2 = check_run(t, await ws.done("b2", timeout=15), "b2")
            expect_status(t, res2, "run", "killed")
            await ws.run("b4", "python", 'print("free again")\n')
            res4 = check_run(t, await ws.done("b4", timeout=60), "b4")
            expect_status(t, res4, "run", "ok", exit_code=0)
    ws_case(t, body, "--max-concurrent", "1", "--queue", "1")


@case("server.ws.disconnect_kills_run", lang="python")
def ws_disconnect(t):
    marker = "rcmark-%s" % uuid.uuid4().hex
    src = 'import sys, time\nprint("ready", flush=True)\ntime.sleep(120)\n'

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("d1", "python", src, args=[marker])
            await ws.wait_output("d1", "ready\n", timeout=60)
            pids = pgrep(marker)
            t.check(pids, "no process with the marker %s found while the run sleeps "
                    "(pgrep -f cannot see the program; the case cannot check cleanup)" % marker)
            t.note("program pids before disconnect: %s" % pids)
            await ws.close()
            t0 = time.monotonic()
            left = pids
            while time.monotonic() - t0 < 2.0:
                left = pgrep(marker)
                if not left:
                    break
                await asyncio.sleep(0.1)
            if left:
                cmd = []
                for p in left:
                    try:
                        with open("/proc/%s/cmdline" % p, "rb") as f:
                            cmd.append("%s: %s" % (p, f.read().replace(b"\0", b" ")
                                                   .decode(errors="replace")))
                    except OSError:
                        pass
                t.fail("2 s after the connection closed, processes of its run remain: %s"
                       % "; ".join(cmd or left))
        srv.check_alive()
        r = http_req(t, srv, "GET", "/healthz")
        t.eq(r.status, 200, "/healthz after the disconnect")
    ws_case(t, body)


# ==================================================================== HTTP
def http_case(t, body, *server_args):
    with Server(t, *server_args) as srv:
        body(srv)
        srv.check_alive()


@case("server.http.run_hello", lang="python")
def http_hello(t):
    def body(srv):
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"id": "h1", "language": "python",
                      "source": 'import sys\nprint("hello", sys.argv[1], input())\n',
                      "stdin": "there\n", "args": ["x"], "limits": {"wall_ms": 20000}})
        t.eq(r.status, 200, "HTTP status (body %r)" % shorten(r.body, 300))
        o = r.json
        t.check(isinstance(o, dict), "body is not a JSON object: %r" % shorten(r.body, 300))
        t.eq(o.get("id"), "h1", "id")
        check_result_shape(t, o)
        t.eq(o["language"], "python", "language")
        t.eq(o["compile"], None, "compile (python is not compiled)")
        expect_stage(t, o["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout="hello x there\n")
        t.eq(o["run"]["stderr"], "", "run.stderr")
        t.eq(o["run"]["truncated"], False, "run.truncated")
    http_case(t, body)


@case("server.http.env_and_command", lang="python")
def http_env_command(t):
    def body(srv):
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python",
                      "source": 'import os\nprint(os.environ["GREETING"], os.environ["PATH"])\n',
                      "env": {"GREETING": "hi there", "PATH": "/usr/bin:/bin"}})
        t.eq(r.status, 200, "HTTP status (body %r)" % shorten(r.body, 300))
        expect_stage(t, r.json["run"], "run", status="ok", stdout="hi there /usr/bin:/bin\n")
        # the command replaces python3 -u main.py; args are appended to it
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "files": [
                         {"name": "main.py", "content": "print('not run')\n"},
                         {"name": "other.py",
                          "content": "import sys\nprint('other', sys.argv[1:])\n"}],
                      "command": ["python3", "other.py"], "args": ["a b"]})
        t.eq(r.status, 200, "HTTP status (body %r)" % shorten(r.body, 300))
        expect_stage(t, r.json["run"], "run", status="ok", stdout="other ['a b']\n")
        for bad, what in (({"1X": "v"}, "a name starting with a digit"),
                          ({"A=B": "v"}, "a name with ="),
                          ({"A": 5}, "a value that is not a string")):
            r = http_req(t, srv, "POST", "/api/v1/run",
                         {"language": "python", "source": "print(1)", "env": bad})
            check_http_error(t, r, 400, "bad_request", "env with " + what)
        for bad in ([], [""], "python3", [1]):
            r = http_req(t, srv, "POST", "/api/v1/run",
                         {"language": "python", "source": "print(1)", "command": bad})
            check_http_error(t, r, 400, "bad_request", "command %r" % (bad,))
    http_case(t, body)


@case("server.http.run_c_compile_error", lang="c")
def http_c_error(t):
    def body(srv):
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"id": "h2", "language": "c", "files": [
                         {"name": "main.c",
                          "content": "int main(void) { return undefined_thing; }\n"}]})
        t.eq(r.status, 200, "HTTP status (body %r)" % shorten(r.body, 300))
        o = r.json
        check_result_shape(t, o)
        t.eq(o.get("id"), "h2", "id")
        t.eq(o["language"], "c", "language")
        expect_stage(t, o["compile"], "compile", status="compile_error")
        t.contains(o["compile"]["stderr"], "undefined_thing", "compile.stderr")
        t.eq(o["run"], None, "run after a compile error")
    http_case(t, body)


@case("server.http.invalid_utf8_replaced", lang="python")
def http_invalid_utf8(t):
    def body(srv):
        r = http_req(t, srv, "POST", "/api/v1/run", {
            "language": "python",
            "source": 'import sys\nsys.stdout.buffer.write(b"a\\xffb\\n")\n'})
        t.eq(r.status, 200, "HTTP status (body %r)" % shorten(r.body, 300))
        expect_stage(t, r.json["run"], "run", status="ok", stdout="a\ufffdb\n")
    http_case(t, body)


@case("server.http.bad_request_400")
def http_bad_json(t):
    def body(srv):
        r = http_req(t, srv, "POST", "/api/v1/run", '{"language": "python", "source": ',
                     headers={"Content-Type": "application/json"})
        check_http_error(t, r, 400, "bad_request", "malformed JSON body")
        r = http_req(t, srv, "POST", "/api/v1/run", {"language": "python"})
        check_http_error(t, r, 400, "bad_request", "run without source/files")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": "print(1)", "limits": {"wall_ms": -5}})
        check_http_error(t, r, 400, "bad_request", "negative wall_ms")
    http_case(t, body)


@case("server.http.unknown_language_404")
def http_unknown_lang(t):
    def body(srv):
        r = http_req(t, srv, "POST", "/api/v1/run", {"language": "klingon", "source": "x"})
        check_http_error(t, r, 404, "unknown_language", "unknown language")
    http_case(t, body)


@case("server.http.unknown_path_404")
def http_unknown_path(t):
    def body(srv):
        for method, path in (("GET", "/api/v1/nothing-here"), ("GET", "/no/such/path"),
                             ("POST", "/api/v2/run")):
            r = http_req(t, srv, method, path,
                         {"language": "python", "source": "print(1)"} if method == "POST"
                         else None)
            check_http_error(t, r, 404, None, "%s %s" % (method, path))
    http_case(t, body)


@case("server.http.body_too_large_413")
def http_too_large(t):
    def body(srv):
        r = raw_post_large(t, srv, "/api/v1/run", (16 << 20) + 1)
        check_http_error(t, r, 413, None, "16 MiB + 1 byte body")
        srv.check_alive()
        r = http_req(t, srv, "GET", "/healthz")
        t.eq(r.status, 200, "/healthz after the oversized body")
    http_case(t, body)


@case("server.http.healthz")
def http_healthz(t):
    def body(srv):
        r = http_req(t, srv, "GET", "/healthz")
        t.eq(r.status, 200, "HTTP status")
        t.eq(r.json, {"status": "ok"}, "/healthz body")
    http_case(t, body)


class RawHTTP:
    """One HTTP/1.x connection driven by hand, to see what the server does with it."""

    def __init__(self, t, srv):
        self.t = t
        self.s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        self.buf = b""

    def request(self, path, version="HTTP/1.1", connection=None):
        head = "GET %s %s\r\nHost: 127.0.0.1\r\n" % (path, version)
        if connection:
            head += "Connection: %s\r\n" % connection
        self.s.sendall((head + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            self.t.check(d, "GET %s: the server closed the connection without a response "
                         "(had %r)" % (path, self.buf))
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        n = int(hdrs["content-length"][0])
        while len(self.buf) < n:
            d = self.s.recv(65536)
            self.t.check(d, "GET %s: the connection closed within the body" % path)
            self.buf += d
        body, self.buf = self.buf[:n], self.buf[n:]
        return lines[0], hdrs, body

    def closed_within(self, secs):
        """Seconds until the server closed the connection cleanly (no bytes), or None."""
        t0 = time.monotonic()
        self.s.settimeout(secs)
        try:
            d = self.s.recv(1)
        except OSError:
            return None
        self.t.check(d == b"", "unasked bytes from the server: %r" % d)
        return time.monotonic() - t0

    def close(self):
        self.s.close()


@case("server.http.keep_alive")
def http_keep_alive(t):
    """HTTP/1.1 connections are kept and the idle timeout is announced (Keep-Alive:
    timeout=N) and kept to: requests after pauses shorter than N are answered, and after N
    the server closes cleanly.  A client that asks for close (or speaks HTTP/1.0 without
    keep-alive) is told "Connection: close" (RFC 9112 9.6) and the connection ends."""
    with Server(t) as srv:
        c = RawHTTP(t, srv)
        status, h, body = c.request("/healthz")
        t.eq(status, "HTTP/1.1 200 OK", "status line")
        t.check("connection" not in h, "a kept connection says Connection: %r" % h.get("connection"))
        ka = h.get("keep-alive", [])
        m = re.match(r"^timeout=(\d+)$", ka[0]) if len(ka) == 1 else None
        t.check(m, "Keep-Alive: timeout=N announced: %r" % ka)
        n = int(m.group(1))
        t.check(2 <= n <= 120, "keep-alive timeout %d s" % n)
        for pause in (0, 0.5, n - 1.0, n - 1.0):
            time.sleep(pause)
            for path in ("/healthz", "/api/v1/languages", "/api/v2/runtimes"):
                status, h, body = c.request(path)
                t.eq(status, "HTTP/1.1 200 OK", "GET %s after a %.1f s pause" % (path, pause))
                t.eq(h.get("keep-alive"), ka, "Keep-Alive of GET %s" % path)
        took = c.closed_within(n + 5)
        t.check(took is not None and n - 0.5 <= took <= n + 2,
                "the idle connection was closed after %r s, announced %d" % (took, n))
        c.close()

        for version, conn in (("HTTP/1.1", "close"), ("HTTP/1.0", None)):
            c = RawHTTP(t, srv)
            status, h, body = c.request("/healthz", version=version, connection=conn)
            t.eq(h.get("connection"), ["close"], "%s, Connection: %s: the answer's Connection"
                 % (version, conn))
            t.check("keep-alive" not in h, "Keep-Alive on a closing connection: %r" % h)
            t.check(c.closed_within(5) is not None, "%s, Connection: %s: not closed after "
                    "the answer" % (version, conn))
            c.close()
        c = RawHTTP(t, srv)
        status, h, body = c.request("/healthz", version="HTTP/1.0", connection="keep-alive")
        t.eq(h.get("connection"), ["keep-alive"], "HTTP/1.0 keep-alive: the answer's Connection")
        t.eq(h.get("keep-alive"), ka, "HTTP/1.0 keep-alive: Keep-Alive")
        status, h, body = c.request("/healthz", version="HTTP/1.0", connection="keep-alive")
        t.eq(status, "HTTP/1.0 200 OK", "a second HTTP/1.0 request on the kept connection")
        c.close()
        srv.check_alive()


@case("server.http.languages")
def http_languages(t):
    def body(srv):
        r = http_req(t, srv, "GET", "/api/v1/languages")
        t.eq(r.status, 200, "HTTP status")
        arr = r.json
        t.check(isinstance(arr, list), "body is not a JSON array: %r" % shorten(r.body, 300))
        names = [e.get("name") if isinstance(e, dict) else e for e in arr]
        t.eq(sorted(names), sorted(LANGS), "language names")
        for e in arr:
            n = e["name"]
            cli = (t.suite.langinfo or {}).get(n)
            t.check(isinstance(e.get("version"), str) and e["version"].strip()
                    or (cli and not cli.get("available") and e.get("version") is None),
                    "%s: version must be a non-empty string (null only for a root "
                    "filesystem not built): %r" % (n, e.get("version")))
            al = e.get("aliases")
            t.check(isinstance(al, list) and all(isinstance(a, str) for a in al),
                    "%s: aliases must be a list of strings: %r" % (n, al))
            for a in ALIASES[n]:
                t.check(a in al, "%s: alias %r missing from %r" % (n, a, al))
            t.eq(e.get("compiled"), n in COMPILED, "%s: compiled" % n)
            if cli:
                t.eq(e["version"], cli.get("version"),
                     "%s: version (as `runcell languages --json` reports it)" % n)
                t.eq(sorted(al), sorted(cli.get("aliases", [])), "%s: aliases (as the CLI)" % n)
    http_case(t, body)


@case("server.http.busy_429", lang="python")
def http_busy(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("b1", "python", SLEEPER)
            await ws.wait_type("stage", "b1", timeout=60, stage="run")
            await ws.run("b2", "python", SLEEPER)
            await ws.wait_type("queued", "b2", timeout=20)
            r = await asyncio.to_thread(http_req, t, srv, "POST", "/api/v1/run",
                                        {"language": "python", "source": "print(1)"},
                                        None, 20)
            check_http_error(t, r, 429, "busy", "POST while the server is full")
            for rid in ("b1", "b2"):
                await ws.send({"type": "kill", "id": rid})
            for rid in ("b1", "b2"):
                await ws.done(rid, timeout=60)
    ws_case(t, body, "--max-concurrent", "1", "--queue", "1")
