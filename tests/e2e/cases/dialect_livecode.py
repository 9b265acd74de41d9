"""The LiveCode dialect: WebSocket /livecode with "msgtype" messages (ping, exec, event, quit
from the client; welcome, pong, write, exitstatus, error, goodbye and the program's own
messages from the server).  docs/dialects.md ("livecode") describes runcell's choices."""

import asyncio
import json
import time

from harness import case, shorten
from server_util import Server, refused_config, run_async, write_config
from wsclient import WSClient

PATH = "/livecode"
WELCOME = {"msgtype": "welcome", "message": "welcome to livecode"}
# the document's exec example, as printed
DOC_EXEC = '''{
  "msgtype": "exec",
  "runtime": "python",
  "code": "print('hello, world!')",
  "timeout": 5000
}'''
DRAW = '{"msgtype": "draw", "shape": "circle", "args": [100, 100, 50]}'


def lc_case(t, body, *server_args, timeout=None):
    with Server(t, *server_args) as srv:
        run_async(t, body(srv), timeout=timeout)
        srv.check_alive()


class LC(WSClient):
    """A LiveCode connection: the welcome is checked on entry."""

    async def __aenter__(self):
        await WSClient.__aenter__(self)
        await self.expect(WELCOME, 20, "the welcome message on connect")
        self.received.clear()
        return self


async def run_to_exit(t, ws, timeout=60):
    """Messages up to and including exitstatus: (exitstatus, [messages before it])."""
    _, end = await ws.wait(lambda m: isinstance(m, dict) and m.get("msgtype") == "exitstatus",
                           timeout, "exitstatus",
                           fail_on=lambda m: isinstance(m, dict) and m.get("msgtype") == "error")
    before = []
    for _, m in ws.received:
        if m is end:
            break
        before.append(m)
    t.eq(sorted(end), ["exitstatus", "msgtype"], "keys of exitstatus")
    t.check(type(end["exitstatus"]) is int, "exitstatus must be an integer: %r" % end)
    ws.inbox.clear()
    ws.received.clear()
    return end["exitstatus"], before


def writes(msgs, file="stdout"):
    out = []
    for m in msgs:
        if m.get("msgtype") == "write" and m.get("file") == file:
            out.append(m["data"])
    return out


def check_writes(t, msgs):
    for m in msgs:
        if m.get("msgtype") == "write":
            t.eq(sorted(m), ["data", "file", "msgtype"], "keys of a write message")


async def expect_error(t, ws, error, msg, what=""):
    """The next error message is exactly {"msgtype":"error","error":error,"msg":msg}."""
    _, m = await ws.wait(lambda m: isinstance(m, dict) and m.get("msgtype") == "error", 30,
                         "error message (%s)" % what)
    t.eq(m, {"msgtype": "error", "error": error, "msg": msg}, "error for %s" % what)
    return m


async def expect_error_prefix(t, ws, prefix, msg, what=""):
    _, m = await ws.wait(lambda m: isinstance(m, dict) and m.get("msgtype") == "error", 30,
                         "error message (%s)" % what)
    t.eq(sorted(m), ["error", "msg", "msgtype"], "keys of the error for %s" % what)
    t.check(isinstance(m["error"], str) and m["error"].startswith(prefix),
            "error for %s must begin %r: %r" % (what, prefix, m["error"]))
    t.eq(m["msg"], msg, "msg of the error for %s (the message echoed)" % what)
    return m


async def ping(t, ws, what="pong"):
    await ws.send('{"msgtype": "ping"}')
    await ws.wait(lambda m: m == {"msgtype": "pong"}, 15, what)


async def server_log_has(t, srv, needle, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in srv.stderr_text():
            return
        await asyncio.sleep(0.2)
    t.fail("%s: the server's log has no %r within %ss; log: %s"
           % (what, needle, timeout, shorten(srv.stderr_text(), 1500)))


# ==================================================================== the document
@case("dialect_livecode.seed_wscat_session", lang="python")
def seed_session(t):
    """The document's wscat session, message for message (as text frames, as printed)."""
    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.expect({"msgtype": "welcome", "message": "welcome to livecode"}, 20,
                            "< welcome")
            await ws.send('{"msgtype": "ping"}')
            await ws.expect({"msgtype": "pong"}, 20, "< pong")
            await ws.send('{"msgtype": "exec", "runtime": "python", '
                          '"code": "print(\'hello, world!\')"}')
            await ws.expect({"msgtype": "write", "file": "stdout", "data": "hello, world!\n"},
                            60, "the write of hello, world!")
            await ws.send('{"msgtype": "quit"}')
            msgs, code = await ws.until_closed(20)
            t.check(msgs and msgs[-1] == {"msgtype": "goodbye"},
                    "the answer to quit is goodbye: %r" % msgs)
            t.check(msgs[:-1] in ([], [{"msgtype": "exitstatus", "exitstatus": 0}]),
                    "only the run's exitstatus may come before goodbye: %r" % msgs)
            t.eq(code, 1000, "close code after goodbye")
    lc_case(t, body)


@case("dialect_livecode.seed_message_examples", lang="python")
def seed_examples(t):
    """The document's examples of each message: exec with a timeout (printed on several
    lines), the exitstatus that follows, the unknown message type error, quit."""
    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send(DOC_EXEC)
            status, msgs = await run_to_exit(t, ws)
            t.eq(msgs, [{"msgtype": "write", "file": "stdout", "data": "hello, world!\n"}],
                 "messages before exitstatus")
            t.eq(status, 0, "exitstatus")
            await ws.send('{"msgtype": "qiut"}')
            await ws.expect({"msgtype": "error", "error": "unknown message type: qiut",
                             "msg": {"msgtype": "qiut"}}, 20, "the error of the document")
            await ping(t, ws, "pong after the error (the connection stays open)")
            await ws.send('{"msgtype": "quit"}')
            msgs, code = await ws.until_closed(20)
            t.eq(msgs, [{"msgtype": "goodbye"}], "the answer to quit")
            t.eq(code, 1000, "close code")
    lc_case(t, body)


# ==================================================================== output
@case("dialect_livecode.streams_apart_one_write_per_line", lang="python")
def lines(t):
    src = ("import sys, time\no, e = sys.stdout, sys.stderr\n"
           "o.write('a1\\na2\\npar'); o.flush()\n"
           "e.write('e1\\ne'); e.flush()\n"
           "time.sleep(0.8)\n"
           "o.write('tial line\\nlast'); o.flush()\n"
           "time.sleep(0.3)\n"
           "e.write('2 end\\n'); e.flush()\n"
           "e.write('tail')\n")

    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "python", "code": src})
            _, first = await ws.wait(lambda m: m.get("msgtype") == "write", 60, "first write")
            t_first = time.monotonic()
            t.eq(first, {"msgtype": "write", "file": "stdout", "data": "a1\n"}, "first write")
            status, msgs = await run_to_exit(t, ws)
            t.check(time.monotonic() - t_first >= 0.7, "the first line came only %.2fs "
                    "before the end: lines are not streamed" % (time.monotonic() - t_first))
            check_writes(t, msgs)
            t.eq(status, 0, "exitstatus")
            t.eq(writes(msgs, "stdout"), ["a1\n", "a2\n", "partial line\n", "last"],
                 "stdout writes: one per line, the unfinished last line at exit")
            t.eq(writes(msgs, "stderr"), ["e1\n", "e2 end\n", "tail"], "stderr writes")
            t.eq(len(msgs), 7, "only write messages before exitstatus: %r" % msgs)
    lc_case(t, body)


@case("dialect_livecode.program_messages_draw", lang="python")
def draw(t):
    src = ("import sys\n"
           "print('--MSG--' + %r)\n"
           "print('--MSG--{\"msgtype\": \"draw\", \"broken\"')\n"
           "print('--MSG--[1, 2]')\n"
           "print('--MSG--{\"shape\": \"no msgtype\"}')\n"
           "print('--MSG--{\"msgtype\": \"draw\"} trailing')\n"
           "print('--MSG--{\"msgtype\": \"draw\"}', file=sys.stderr)\n"
           "print('--MSG-- {\"msgtype\": \"say\", \"text\": \"caf\\u00e9\"} ')\n"
           "print('plain')\n" % DRAW)

    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "python", "code": src})
            status, msgs = await run_to_exit(t, ws)
            t.eq(status, 0, "exitstatus")
            out = [m for m in msgs if m.get("file") != "stderr"]
            t.eq(out, [
                json.loads(DRAW),
                {"msgtype": "write", "file": "stdout",
                 "data": '--MSG--{"msgtype": "draw", "broken"\n'},
                {"msgtype": "write", "file": "stdout", "data": "--MSG--[1, 2]\n"},
                {"msgtype": "write", "file": "stdout",
                 "data": '--MSG--{"shape": "no msgtype"}\n'},
                {"msgtype": "write", "file": "stdout",
                 "data": '--MSG--{"msgtype": "draw"} trailing\n'},
                {"msgtype": "say", "text": "caf\u00e9"},
                {"msgtype": "write", "file": "stdout", "data": "plain\n"},
            ], "stdout: program messages forwarded, the rest written as lines")
            t.eq(writes(msgs, "stderr"), ['--MSG--{"msgtype": "draw"}\n'],
                 "stderr is never a program message")
    lc_case(t, body)


# ==================================================================== events
@case("dialect_livecode.event_delivered_to_program", lang="python")
def events(t):
    src = ("import sys, json\nprint('ready')\n"
           "while True:\n"
           "    line = sys.stdin.readline()\n"
           "    ev = json.loads(line)\n"
           "    if ev['event'] == 'click':\n"
           "        print('got click %d' % ev['data']['n'])\n"
           "        break\n"
           "    print('ignored ' + line.strip())\n")

    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            move = {"msgtype": "event", "event": "mousemove", "data": {"x": 1, "y": 2}}
            await ws.send(move)
            await expect_error(t, ws, "event: no program is running", move, "an event with no "
                               "program")
            await ws.send({"msgtype": "exec", "runtime": "python", "code": src})
            await ws.expect({"msgtype": "write", "file": "stdout", "data": "ready\n"}, 60,
                            "ready")
            await ws.send(move)
            await ws.expect({"msgtype": "write", "file": "stdout", "data": 'ignored {"msgtype":'
                             '"event","event":"mousemove","data":{"x":1,"y":2}}\n'}, 20,
                            "the program read the event as one JSON line")
            bad = {"msgtype": "event", "event": "click"}
            await ws.send(bad)
            await expect_error(t, ws, 'event: "event" (a string) and "data" are required', bad,
                               "an event without data")
            await ws.send({"msgtype": "event", "event": "click", "data": {"n": 3}})
            status, msgs = await run_to_exit(t, ws)
            t.eq(msgs[-1:], [{"msgtype": "write", "file": "stdout", "data": "got click 3\n"}],
                 "the program's answer to the click")
            t.eq(status, 0, "exitstatus")
    lc_case(t, body)


# ==================================================================== exec fields
@case("dialect_livecode.exec_env_files_command", lang="python")
def env_files_command(t):
    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "python",
                           "code": "import os, helper\nprint(os.environ['GREETING'], helper.f())",
                           "env": {"GREETING": "hi"},
                           "files": [{"filename": "helper.py",
                                      "contents": "def f():\n    return 42\n"}]})
            status, msgs = await run_to_exit(t, ws)
            t.eq((status, writes(msgs)), (0, ["hi 42\n"]), "env and files")
            await ws.send({"msgtype": "exec", "runtime": "python", "code": "print('not run')",
                           "command": ["python3", "other.py", "x y"],
                           "files": [{"filename": "other.py", "contents":
                                      "import sys, os\nprint(sys.argv[1:], os.listdir('.'))"}]})
            status, msgs = await run_to_exit(t, ws)
            t.eq(status, 0, "exitstatus with a command")
            t.eq(len(writes(msgs)), 1, "one line: %r" % msgs)
            t.check(writes(msgs)[0].startswith("['x y'] ") and "main.py" in writes(msgs)[0],
                    "the command ran other.py with its argument, next to the code's file: %r"
                    % writes(msgs))
            await ws.send({"msgtype": "exec", "runtime": "python", "code": "print('code')",
                           "files": [{"filename": "main.py", "contents": "print('file wins')"}]})
            status, msgs = await run_to_exit(t, ws)
            t.eq((status, writes(msgs)), (0, ["file wins\n"]),
                 "a file named like the code's file replaces the code")
    lc_case(t, body)


@case("dialect_livecode.timeout_and_exit_statuses", lang="python")
def timeouts(t):
    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            t0 = time.monotonic()
            await ws.send({"msgtype": "exec", "runtime": "python", "timeout": 1000,
                           "code": "import time\nprint('sleeping')\ntime.sleep(30)"})
            status, msgs = await run_to_exit(t, ws)
            took = time.monotonic() - t0
            t.eq((status, writes(msgs)), (124, ["sleeping\n"]), "a run over its timeout")
            t.check(took < 4, "the 1000 ms timeout ended the run only after %.1fs" % took)
            # above the language's default wall limit (5 s)
            await ws.send({"msgtype": "exec", "runtime": "python", "timeout": 9000,
                           "code": "import time\ntime.sleep(6)\nprint('slept 6 s')"})
            status, msgs = await run_to_exit(t, ws)
            t.eq((status, writes(msgs)), (0, ["slept 6 s\n"]), "a timeout of 9000 ms")
            await ws.send({"msgtype": "exec", "runtime": "python",
                           "code": "import sys\nsys.exit(3)"})
            status, _ = await run_to_exit(t, ws)
            t.eq(status, 3, "exitstatus of sys.exit(3)")
            await ws.send({"msgtype": "exec", "runtime": "python",
                           "code": "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)"})
            status, _ = await run_to_exit(t, ws)
            t.eq(status, 143, "exitstatus of a program ended by SIGTERM (128 + 15)")
            await ws.send({"msgtype": "exec", "runtime": "python",
                           "code": "x = b'x' * (600 << 20)\nprint(len(x))"})
            status, _ = await run_to_exit(t, ws)
            t.eq(status, 137, "exitstatus over the memory limit")
    lc_case(t, body)


@case("dialect_livecode.compile_error_exitstatus", lang="c")
def compile_error(t):
    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "c", "code": "int main( {\n"})
            status, msgs = await run_to_exit(t, ws, timeout=120)
            t.eq(status, 1, "exitstatus: the compiler's exit code")
            err = "".join(writes(msgs, "stderr"))
            t.contains(err, "error", "the compiler's messages as stderr writes")
            t.check(all(w.endswith("\n") for w in writes(msgs, "stderr")[:-1]),
                    "one write per line: %r" % writes(msgs, "stderr"))
            await ws.send({"msgtype": "exec", "runtime": "c", "code":
                           '#include <stdio.h>\nint main(void) { puts("compiled"); return 4; }\n'})
            status, msgs = await run_to_exit(t, ws, timeout=120)
            t.eq((status, writes(msgs)), (4, ["compiled\n"]), "a compiled program")
    lc_case(t, body)


# ==================================================================== the connection
@case("dialect_livecode.one_exec_at_a_time_and_quit_kills", lang="python")
def one_at_a_time(t):
    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "python",
                           "code": "import time\nprint('one')\ntime.sleep(1.5)"})
            await ws.expect({"msgtype": "write", "file": "stdout", "data": "one\n"}, 60, "one")
            second = {"msgtype": "exec", "runtime": "python", "code": "print('two')"}
            await ws.send(second)
            await expect_error(t, ws, "a program is already running: one exec at a time",
                               second, "a second exec")
            status, msgs = await run_to_exit(t, ws)
            t.eq(status, 0, "the first exec is unharmed")
            await ws.send(second)  # the connection stays open after exitstatus
            status, msgs = await run_to_exit(t, ws)
            t.eq((status, writes(msgs)), (0, ["two\n"]), "an exec after the first ended")
            await ws.send({"msgtype": "exec", "runtime": "python",
                           "code": "import time\nprint('long')\ntime.sleep(30)"})
            await ws.expect({"msgtype": "write", "file": "stdout", "data": "long\n"}, 60,
                            "long")
            await ws.send({"msgtype": "quit"})
            msgs, code = await ws.until_closed(20)
            t.eq((msgs, code), ([{"msgtype": "goodbye"}], 1000), "quit while a program runs")
        await server_log_has(t, srv, "run=killed", 15, "quit ends the running program")
    lc_case(t, body)


@case("dialect_livecode.close_after_exit_option", lang="python")
def close_after_exit(t):
    cfg = write_config(t, {"dialects": {"livecode": {"close_after_exit": True}}})

    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "python", "code": "print('hi')"})
            msgs, code = await ws.until_closed(60)
            t.eq(msgs, [{"msgtype": "write", "file": "stdout", "data": "hi\n"},
                        {"msgtype": "exitstatus", "exitstatus": 0}], "messages")
            t.eq(code, 1000, "the server closes after exitstatus (close_after_exit)")
    lc_case(t, body, "--config", cfg)


# ==================================================================== errors
@case("dialect_livecode.errors_in_livecode_shape", lang="python")
def errors(t):
    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send("not json")
            await expect_error(t, ws, "invalid JSON", "not json", "malformed JSON")
            await ws.send('{"msgtype": "exec", ')
            await expect_error(t, ws, "invalid JSON", '{"msgtype": "exec", ', "cut JSON")
            await ws.send("[1, 2]")
            await expect_error(t, ws, "a message is a JSON object", [1, 2], "an array")
            m = {"type": "ping"}
            await ws.send(m)
            await expect_error(t, ws, '"msgtype" (a string) is required', m, "no msgtype")
            m = {"msgtype": 5}
            await ws.send(m)
            await expect_error(t, ws, '"msgtype" (a string) is required', m, "msgtype 5")
            bad = [
                ({"msgtype": "exec", "code": "print(1)"},
                 'exec: "runtime" (a string) is required'),
                ({"msgtype": "exec", "runtime": "python"}, 'exec: "code" (a string) is required'),
                ({"msgtype": "exec", "runtime": "python", "code": 5},
                 'exec: "code" (a string) is required'),
                ({"msgtype": "exec", "runtime": "python", "code": "", "timeout": "soon"},
                 'exec: "timeout" must be a positive integer (milliseconds)'),
                ({"msgtype": "exec", "runtime": "python", "code": "", "timeout": -5},
                 'exec: "timeout" must be a positive integer (milliseconds)'),
                ({"msgtype": "exec", "runtime": "python", "code": "", "files": "x"},
                 'exec: "files" must be a list of {filename, contents}'),
                ({"msgtype": "exec", "runtime": "python", "code": "",
                  "files": [{"filename": 1, "contents": ""}]},
                 'exec: "files" must be a list of {filename, contents}'),
                ({"msgtype": "exec", "runtime": "klingon", "code": "x"}, "unknown runtime: klingon"),
            ]
            for m, err in bad:
                await ws.send(m)
                await expect_error(t, ws, err, m, json.dumps(m))
            server_refused = [
                ({"msgtype": "exec", "runtime": "python", "code": "", "env": [1]}, "env"),
                ({"msgtype": "exec", "runtime": "python", "code": "", "command": []}, "command"),
                ({"msgtype": "exec", "runtime": "python", "code": "",
                  "files": [{"filename": "../x.py", "contents": ""}]}, "file name"),
            ]
            for m, word in server_refused:
                await ws.send(m)
                e = await expect_error_prefix(t, ws, "bad_request: ", m, json.dumps(m))
                t.contains(e["error"], word, "the error names the field")
            await ws.send(b"\x00binary")
            await expect_error(t, ws, "binary messages are not accepted: send JSON text", None,
                               "a binary frame")
            await ping(t, ws, "pong after the errors (the connection stays open)")
            t.check(not [m for _, m in ws.received if m.get("msgtype") in ("write",
                                                                          "exitstatus")],
                    "a refused exec must not run")

        async with LC(t, srv, PATH, "first") as ws1, LC(t, srv, PATH, "second") as ws2:
            await ws1.send({"msgtype": "exec", "runtime": "python",
                            "code": "import time\nprint('busy')\ntime.sleep(2)"})
            await ws1.expect({"msgtype": "write", "file": "stdout", "data": "busy\n"}, 60,
                             "the first program runs")
            m = {"msgtype": "exec", "runtime": "python", "code": "print(1)"}
            await ws2.send(m)
            await expect_error_prefix(t, ws2, "busy: ", m, "an exec with --queue 0")
            status, _ = await run_to_exit(t, ws1)
            t.eq(status, 0, "the first program is unharmed")
    lc_case(t, body, "--max-concurrent", "1", "--queue", "0")


@case("dialect_livecode.error_oversized_message")
def oversized(t):
    cfg = write_config(t, {"message_max_bytes": 4096})

    async def body(srv):
        async with LC(t, srv, PATH) as ws:
            await ws.send({"msgtype": "exec", "runtime": "python", "code": "#" * 10000})
            msgs, code = await ws.until_closed(15)
            t.eq(msgs, [{"msgtype": "error", "error": "the message is over the size limit",
                         "msg": None}], "messages before the close")
            t.eq(code, 1009, "close code")
    lc_case(t, body, "--config", cfg)


@case("dialect_livecode.config_options_checked")
def config_checked(t):
    refused_config(t, {"dialects": {"livecode": {"close_after_exit": "yes"}}},
                   "close_after_exit a string", "close_after_exit")
    refused_config(t, {"dialects": {"livecode": {"close_after": True}}}, "an unknown option",
                   "close_after")
