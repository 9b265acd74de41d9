"""The roadrunner dialect: WebSocket /ws, requests {language, source, nonce, standard_input,
commandline_arguments}; replies (runcell's choice, docs/dialects.md) {"nonce", "type":
"stdout"|"stderr", "stage", "data"}, a final {"nonce", "type": "exit", ...} and
{"nonce", "type": "error", "code", "message"}."""

import asyncio
import json
import time

from harness import case, shorten
from server_util import Server, refused_config, run_async, write_config
from wsclient import WSClient

PATH = "/ws"
SEED_SOURCE = "import time\nfor i in range(1000):\n    time.sleep(0.1)\n    print(i)"
EXIT_KEYS = ("nonce", "type", "stage", "status", "exit_code", "signal", "wall_ms", "cpu_ms",
             "memory_kb", "truncated")


def rr_case(t, body, *server_args, timeout=None):
    with Server(t, *server_args) as srv:
        run_async(t, body(srv), timeout=timeout)
        srv.check_alive()


def is_end(nonce):
    return lambda m: (isinstance(m, dict) and m.get("nonce") == nonce
                      and m.get("type") in ("exit", "error"))


async def finish(t, ws, nonce, timeout=60):
    """Wait for the run's exit message; returns (exit, [messages of the run in order])."""
    _, end = await ws.wait(is_end(nonce), timeout, "exit message for nonce %r" % (nonce,))
    if end["type"] == "error":
        t.fail("run %r got an error: %s" % (nonce, json.dumps(end)))
    # (an error with the same nonce belongs to a request that was refused, not to this run)
    msgs = [m for _, m in ws.received if isinstance(m, dict) and m.get("nonce") == nonce
            and type(m.get("nonce")) is type(nonce) and m.get("type") != "error"]
    t.eq(msgs[-1], end, "the exit message is the run's last message")
    for k in EXIT_KEYS:
        t.check(k in end, "exit message lacks %r: %s" % (k, json.dumps(end)))
    for m in msgs[:-1]:
        t.check(m.get("type") in ("stdout", "stderr"), "message of a run before its exit: %s"
                % json.dumps(m))
        t.check(isinstance(m.get("data"), str) and m.get("stage") in ("compile", "run"),
                "output message needs data and stage: %s" % json.dumps(m))
    return end, msgs


def arrival_of(ws, nonce, text):
    """When the run's stdout so far first contained text."""
    acc = ""
    for at, m in ws.received:
        if m.get("nonce") == nonce and m.get("type") == "stdout":
            acc += m["data"]
            if text in acc:
                return at
    raise AssertionError("no %r in the output of %r" % (text, nonce))


def text_of(msgs, typ="stdout", stage="run"):
    return "".join(m["data"] for m in msgs if m.get("type") == typ and m.get("stage") == stage)


async def expect_error(t, ws, nonce, code, contains=None, what=""):
    _, m = await ws.wait(lambda m: isinstance(m, dict) and m.get("type") == "error", 30,
                         "error message (%s)" % what)
    t.eq(sorted(m), ["code", "message", "nonce", "type"], "%s: keys of the error" % what)
    t.eq(m["nonce"], nonce, "%s: nonce of the error" % what)
    t.eq(m["code"], code, "%s: error code (message %r)" % (what, m.get("message")))
    t.check(isinstance(m["message"], str) and m["message"], "%s: empty message" % what)
    if contains:
        t.contains(m["message"], contains, "%s: error message" % what)
    return m


async def ping(t, ws, what="pong"):
    await ws.send({"type": "ping", "nonce": "p"})
    await ws.wait(lambda m: m == {"nonce": "p", "type": "pong"}, 15, what)


async def server_log_has(t, srv, needle, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in srv.stderr_text():
            return
        await asyncio.sleep(0.2)
    t.fail("%s: the server's log has no %r within %ss; log: %s"
           % (what, needle, timeout, shorten(srv.stderr_text(), 1500)))


# ==================================================================== the document's examples
@case("dialect_roadrunner.seed_request_streams_then_disconnect_kills", lang="python")
def seed_streams(t):
    """The document's request as printed (a 1000-step loop with 0.1 s sleeps): output comes
    while the program runs; closing the socket ends the run."""
    req = {"language": "python", "source": SEED_SOURCE, "nonce": "Identifying Value Here",
           "standard_input": "Hello!", "commandline_arguments": "--help"}

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send(req)
            got = ""
            while got.count("\n") < 4:
                _, m = await ws.wait(lambda m: m.get("nonce") == "Identifying Value Here",
                                     60, "output of the seed's loop")
                t.eq(m.get("type"), "stdout", "message type while the loop prints (%s)"
                     % json.dumps(m))
                t.eq(m.get("stage"), "run", "stage of the output")
                got += m["data"]
            t.eq(got.split("\n")[:4], ["0", "1", "2", "3"], "the loop's first lines")
            # 1000 steps of 0.1 s: the program is far from its end and no exit came
            await ws.quiet(0.3)
            t.check(not any(m.get("type") == "exit" for _, m in ws.received),
                    "an exit message came while the loop was running")
        await server_log_has(t, srv, "dialect=roadrunner language=python compile=- run=killed",
                             15, "closing the socket kills the run")
    rr_case(t, body)


@case("dialect_roadrunner.seed_request_stdin_args_exit", lang="python")
def seed_small(t):
    """The document's request with a smaller loop that also shows its standard input (given,
    then EOF) and its arguments; streamed output, then the exit message."""
    src = ("import sys, time\nprint(sys.argv[1:])\nprint(repr(sys.stdin.read()))\n"
           "for i in range(3):\n    time.sleep(0.4)\n    print(i)")

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send({"language": "python", "source": src,
                           "nonce": "Identifying Value Here", "standard_input": "Hello!",
                           "commandline_arguments": "--help"})
            end, msgs = await finish(t, ws, "Identifying Value Here")
            t.eq(text_of(msgs), "['--help']\n'Hello!'\n0\n1\n2\n", "stdout")
            t.eq(text_of(msgs, "stderr"), "", "stderr")
            t.eq(end["stage"], "run", "exit.stage")
            t.eq(end["status"], "ok", "exit.status")
            t.eq(end["exit_code"], 0, "exit.exit_code")
            t.eq(end["signal"], None, "exit.signal")
            t.eq(end["truncated"], False, "exit.truncated")
            t.check(type(end["wall_ms"]) is int and end["wall_ms"] >= 1000,
                    "exit.wall_ms %r: the loop slept 1.2 s" % end["wall_ms"])
            t_first = arrival_of(ws, "Identifying Value Here", "\n0\n")
            t_exit = next(at for at, m in ws.received if m is end)
            t.check(t_exit - t_first >= 0.6, "the first line of the loop came only %.2fs "
                    "before the exit: output is not streamed" % (t_exit - t_first))
            await ping(t, ws)
    rr_case(t, body)


@case("dialect_roadrunner.docs_example", lang="python")
def docs_example(t):
    """The exchange printed in docs/dialects.md, sent as printed."""
    req = ('{"language": "Python", "source": "import sys\\nprint(sys.argv[1:], '
           'sys.stdin.read())", "nonce": "Identifying Value Here", "standard_input": '
           '"Hello!", "commandline_arguments": "--help"}')

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send(req)
            end, msgs = await finish(t, ws, "Identifying Value Here")
            t.eq(text_of(msgs), "['--help'] Hello!\n", "stdout")
            t.eq({k: end[k] for k in ("nonce", "type", "stage", "status", "exit_code",
                                      "signal", "truncated")},
                 {"nonce": "Identifying Value Here", "type": "exit", "stage": "run",
                  "status": "ok", "exit_code": 0, "signal": None, "truncated": False},
                 "the exit message")
    rr_case(t, body)


# ==================================================================== runs and nonces
@case("dialect_roadrunner.several_nonces_at_once", lang="python")
def several_nonces(t):
    nonces = ["a", 42, {"k": [1, "x"]}]
    src = 'import time\nprint("start %s")\ntime.sleep(3)\nprint("end %s")\n'

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            for i, n in enumerate(nonces):
                await ws.send({"language": "python", "source": src % (i, i), "nonce": n})
            ends = {}
            for i, n in enumerate(nonces):
                end, msgs = await finish(t, ws, n)
                t.eq(end["status"], "ok", "status of run %d" % i)
                t.eq(text_of(msgs), "start %d\nend %d\n" % (i, i), "stdout of run %d" % i)
                ends[i] = end
            started = [arrival_of(ws, n, "start %d\n" % i) for i, n in enumerate(nonces)]
            ended = [arrival_of(ws, n, "end") for n in nonces]
            t.check(max(started) < min(ended), "every run started before any ended (starts "
                    "at %r, ends at %r)" % (started, ended))
    rr_case(t, body, "--max-concurrent", "3")


@case("dialect_roadrunner.no_nonce_and_nonce_reuse", lang="python")
def nonce_reuse(t):
    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send({"language": "python", "source": "print('anonymous')"})
            end, msgs = await finish(t, ws, None)
            t.eq(text_of(msgs), "anonymous\n", "stdout of a run without nonce (nonce null)")
            slow = "import time\ntime.sleep(1.5)\nprint('slow')"
            await ws.send({"language": "python", "source": slow, "nonce": "dup"})
            await ws.send({"language": "python", "source": "print(2)", "nonce": "dup"})
            await expect_error(t, ws, "dup", "nonce_in_use", what="the same nonce while going")
            end, msgs = await finish(t, ws, "dup")
            t.eq(text_of(msgs), "slow\n", "the first run with the nonce is unharmed")
            ws.received.clear()
            await ws.send({"language": "python", "source": "print('again')", "nonce": "dup"})
            end, msgs = await finish(t, ws, "dup")
            t.eq(text_of(msgs), "again\n", "the nonce is free again once its run ended")
    rr_case(t, body)


@case("dialect_roadrunner.argument_splitting", lang="python")
def arg_splitting(t):
    src = "import sys, json\nprint(json.dumps(sys.argv[1:]))"
    cases = [
        ("--name \"Ada Lovelace\" 'single $HOME' back\\ slash \"\" \"say \\\"hi\\\"\"",
         ["--name", "Ada Lovelace", "single $HOME", "back slash", "", 'say "hi"']),
        ("*.py a'b'\"c\" ; | $(id) `x` ~", ["*.py", "abc", ";", "|", "$(id)", "`x`", "~"]),
        ("  spaced\targs\n ", ["spaced", "args"]),
        ("", []),
        (None, []),
    ]

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            for i, (line, want) in enumerate(cases):
                req = {"language": "python", "source": src, "nonce": i}
                if line is not None:
                    req["commandline_arguments"] = line
                await ws.send(req)
                end, msgs = await finish(t, ws, i)
                t.eq(end["status"], "ok", "status for %r" % line)
                t.eq(json.loads(text_of(msgs)), want, "arguments from %r" % line)
            for line, why in (("\"open", "unbalanced double quote"),
                              ("a 'b", "unbalanced single quote"),
                              ("end\\", "backslash at the end")):
                await ws.send({"language": "python", "source": src, "nonce": line,
                               "commandline_arguments": line})
                m = await expect_error(t, ws, line, "bad_request", why, "arguments %r" % line)
                t.contains(m["message"], "commandline_arguments", "the error names the field")
            await ping(t, ws)
            t.check(not [m for _, m in ws.received if m.get("type") == "exit"
                         and isinstance(m.get("nonce"), str)],
                    "a refused request must not run")
    rr_case(t, body)


@case("dialect_roadrunner.language_names_any_case", lang="python")
def language_case(t):
    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            for name in ("Python", "PYTHON", "python3", "Py"):
                await ws.send({"language": name, "source": "print('hi')", "nonce": name})
                end, msgs = await finish(t, ws, name)
                t.eq((end["status"], text_of(msgs)), ("ok", "hi\n"), "run as %r" % name)
    rr_case(t, body)


@case("dialect_roadrunner.cpp_compile_output_and_stages", lang="cpp")
def cpp_stages(t):
    good = ('#include <iostream>\nint main(int argc, char **argv) {\n'
            '    std::cout << "hi from C++ " << argc - 1 << " " << argv[1] << std::endl;\n'
            '    std::string s; std::getline(std::cin, s); std::cout << s << std::endl;\n}\n')
    bad = "int main( {\n"

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send({"language": "C++", "source": good, "nonce": "good",
                           "standard_input": "Hello!", "commandline_arguments": "'x y'"})
            end, msgs = await finish(t, ws, "good", timeout=120)
            t.eq(end["stage"], "run", "exit.stage of a compiled program")
            t.eq(end["status"], "ok", "exit.status")
            t.eq(text_of(msgs), "hi from C++ 1 x y\nHello!\n", "stdout")
            await ws.send({"language": "C++", "source": bad, "nonce": "bad"})
            end, msgs = await finish(t, ws, "bad", timeout=120)
            t.eq(end["stage"], "compile", "exit.stage after a compile error")
            t.eq(end["status"], "compile_error", "exit.status")
            t.check(type(end["exit_code"]) is int and end["exit_code"] != 0,
                    "the compiler's exit code: %r" % end["exit_code"])
            t.contains(text_of(msgs, "stderr", "compile"), "error",
                       "the compiler's messages as stderr of stage compile")
            t.eq(text_of(msgs, "stdout", "run") + text_of(msgs, "stderr", "run"), "",
                 "no run stage output")
    rr_case(t, body)


@case("dialect_roadrunner.stderr_exit_codes_invalid_utf8", lang="python")
def stderr_codes(t):
    src = ("import sys, os\nsys.stdout.buffer.write(b'ok \\xff\\n')\nsys.stdout.flush()\n"
           "print('to stderr', file=sys.stderr)\nsys.exit(3)")
    killer = "import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)"

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send({"language": "python", "source": src, "nonce": "e"})
            end, msgs = await finish(t, ws, "e")
            t.eq(text_of(msgs), "ok \ufffd\n", "bytes that are not UTF-8 become U+FFFD")
            t.eq(text_of(msgs, "stderr"), "to stderr\n", "stderr kept apart")
            t.eq((end["status"], end["exit_code"], end["signal"]), ("runtime_error", 3, None),
                 "exit of sys.exit(3)")
            await ws.send({"language": "python", "source": killer, "nonce": "k"})
            end, msgs = await finish(t, ws, "k")
            t.eq((end["status"], end["exit_code"], end["signal"]),
                 ("runtime_error", None, "SIGKILL"), "exit of a program killed by a signal")
    rr_case(t, body)


# ==================================================================== idle disconnect
@case("dialect_roadrunner.idle_disconnect", lang="python")
def idle(t):
    cfg = write_config(t, {"dialects": {"roadrunner": {"idle_ms": 1000}}})

    async def body(srv):
        async with WSClient(t, srv, PATH, "pinger") as ws:
            t0 = time.monotonic()
            await ping(t, ws)
            while time.monotonic() - t0 < 2.5:  # messages keep it open past idle_ms
                await asyncio.sleep(0.4)
                await ping(t, ws)
            quiet_from = time.monotonic()
            msgs, code = await ws.until_closed(6)
            took = time.monotonic() - quiet_from
            t.eq(code, 1000, "close code after idle_ms without messages")
            t.check(0.8 <= took <= 3.5, "closed %.2fs after the last message (idle_ms 1000)"
                    % took)
        async with WSClient(t, srv, PATH, "talker") as ws:
            # output is activity too: a run that prints every 0.3 s for 2.4 s keeps it open
            src = "import time\nfor i in range(8):\n    print(i)\n    time.sleep(0.3)"
            await ws.send({"language": "python", "source": src, "nonce": "t"})
            end, msgs = await finish(t, ws, "t")
            t.eq(text_of(msgs), "".join("%d\n" % i for i in range(8)), "stdout")
            t.check(end["wall_ms"] > 2000, "the run took %r ms" % end["wall_ms"])
            msgs, code = await ws.until_closed(6)
            t.eq(code, 1000, "closed once idle after the run")
        async with WSClient(t, srv, PATH, "silent") as ws:
            # a silent program: no activity, the connection closes and its run is killed
            src = "import time\ntime.sleep(4)\nprint('too late')"
            await ws.send({"language": "python", "source": src, "nonce": "s"})
            msgs, code = await ws.until_closed(6)
            t.eq(code, 1000, "close code while a silent run goes")
            t.check(not msgs, "nothing came from the silent run: %r" % msgs)
        await server_log_has(t, srv, "run=killed", 15, "the silent run was killed")
    rr_case(t, body, "--config", cfg)


# ==================================================================== errors
@case("dialect_roadrunner.errors_in_roadrunner_shape", lang="python")
def errors(t):
    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send('{"language": "python", "source": ')
            await expect_error(t, ws, None, "bad_request", what="malformed JSON")
            await ws.send("[1, 2]")
            await expect_error(t, ws, None, "bad_request", what="an array")
            await ws.send({"nonce": "n1", "source": "print(1)"})
            await expect_error(t, ws, "n1", "bad_request", "language", "no language")
            await ws.send({"nonce": "n2", "language": "python"})
            await expect_error(t, ws, "n2", "bad_request", "source", "no source")
            await ws.send({"nonce": "n3", "language": 7, "source": "print(1)"})
            await expect_error(t, ws, "n3", "bad_request", "language", "a number as language")
            await ws.send({"nonce": "n4", "language": "python", "source": "x",
                           "standard_input": 5})
            await expect_error(t, ws, "n4", "bad_request", "standard_input", "stdin a number")
            await ws.send({"nonce": "n5", "language": "python", "source": "x",
                           "commandline_arguments": ["--help"]})
            await expect_error(t, ws, "n5", "bad_request", "commandline_arguments",
                               "arguments a list")
            await ws.send({"nonce": "n6", "language": "Klingon", "source": "x"})
            await expect_error(t, ws, "n6", "unknown_language", "klingon", "unknown language")
            await ws.send(b"\x00\x01binary")
            await expect_error(t, ws, None, "bad_request", "binary", "binary frame")
            await ping(t, ws, "pong after the errors (the connection stays usable)")
            t.check(not [m for _, m in ws.received if m.get("type") in ("stdout", "exit")],
                    "a refused request must not run")

        async with WSClient(t, srv, PATH, "busy") as ws:
            await ws.send({"language": "python", "nonce": "A",
                           "source": "import time\nprint('A', flush=True)\ntime.sleep(2)"})
            await ws.wait(lambda m: m.get("nonce") == "A" and m.get("type") == "stdout", 60,
                          "output of A")
            await ws.send({"language": "python", "source": "print('B')", "nonce": "B"})
            await expect_error(t, ws, "B", "busy", what="a second run with --queue 0")
            end, msgs = await finish(t, ws, "A")
            t.eq(end["status"], "ok", "A is unharmed")
    rr_case(t, body, "--max-concurrent", "1", "--queue", "0")


@case("dialect_roadrunner.error_oversized_message")
def oversized(t):
    cfg = write_config(t, {"message_max_bytes": 4096})

    async def body(srv):
        async with WSClient(t, srv, PATH) as ws:
            await ws.send({"language": "python", "source": "#" * 10000, "nonce": "big"})
            msgs, code = await ws.until_closed(15)
            t.eq(len(msgs), 1, "one message before the close: %r" % msgs)
            m = msgs[0]
            t.eq((m.get("type"), m.get("code"), m.get("nonce")), ("error", "too_large", None),
                 "the error for an oversized message (%s)" % json.dumps(m))
            t.eq(code, 1009, "close code")
    rr_case(t, body, "--config", cfg)


@case("dialect_roadrunner.config_options_checked")
def config_checked(t):
    refused_config(t, {"dialects": {"roadrunner": {"idle_ms": "soon"}}}, "idle_ms a string",
                   "idle_ms")
    refused_config(t, {"dialects": {"roadrunner": {"idle_ms": -1}}}, "idle_ms negative",
                   "idle_ms")
    refused_config(t, {"dialects": {"roadrunner": {"idel_ms": 5}}}, "an unknown option",
                   "idel_ms")

    async def body(srv):
        # switched off: /ws is no path of the server (the handshake is refused, or the
        # connection dropped at once); a request gets no answer
        try:
            ws = await WSClient(t, srv, PATH).__aenter__()
        except Exception as e:  # noqa: BLE001 (a refused handshake is one right outcome)
            t.note("handshake with roadrunner switched off: %s" % e)
            return
        try:
            await ws.conn.send(json.dumps({"type": "ping", "nonce": "p"}))
        except Exception:  # noqa: BLE001 (already closed)
            pass
        msgs, code = await ws.until_closed(10)
        await ws.__aexit__(None, None, None)
        t.eq(msgs, [], "answers on /ws with roadrunner switched off")
        t.check(code is not None, "the connection to /ws stayed open with roadrunner off")
    cfg = write_config(t, {"dialects": {"roadrunner": False}})
    rr_case(t, body, "--config", cfg)
