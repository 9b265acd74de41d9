"""Strict request input, in every dialect (issue 11, items 3 and 4).

A request is JSON that runcell must read exactly as the client wrote it, or refuse with a 400 in
the dialect's own shape: a NUL in a string (cJSON cut "python\\u0000x" to "python"), data after
the JSON value (trailing garbage, two objects), equal keys (cJSON took the first), more
arguments than a sandbox request carries (was internal_error), and a nonce (echoed in every
message of the run) over 128 bytes.

Each case sends, to every dialect, a request that runs a program printing MARK once the defect
is applied the lenient way: on code that reads it leniently the program runs (MARK comes back,
or at least no error does), which fails the case.
"""

import asyncio
import json

from harness import case, shorten
from wsclient import Closed, WSClient
from server_util import Server, http_req, run_async

MARK = "RAN-MARK-7f3a"
# the sources do not hold MARK itself (error messages may echo the request)
PY = "print('RAN' + '-MARK-7f3a')"
C = '#include <stdio.h>\nint main(void) { printf("%s-MARK-7f3a\\n", "RAN"); return 0; }\n'
L = "\x01LANG\x01"   # where the language (or, for pivot, the code) goes in a template


# ------------------------------------------------------------------ the dialects

def _err_native_http(j):
    return isinstance(j, dict) and isinstance(j.get("error"), dict) and \
        j["error"].get("code") == "bad_request" and j["error"].get("message")


HTTP = [
    # name, path, template (L marks the string that carries the defect), good value, error shape
    ("runcell", "/api/v1/run", {"language": L, "source": PY}, "python", _err_native_http),
    ("ranna", "/v1/exec", {"language": L, "code": PY}, "python",
     lambda j: isinstance(j, dict) and j.get("code") == 400 and isinstance(j.get("error"), str)),
    ("codapi", "/v1/exec", {"sandbox": L, "command": "run", "files": {"": PY}}, "python",
     lambda j: isinstance(j, dict) and j.get("ok") is False and isinstance(j.get("stderr"), str)
     and j["stderr"]),
    ("microservice", "/", {"lang": L, "code": PY}, "python",
     lambda j: isinstance(j, dict) and j.get("error") is True and j.get("status") == "bad_request"),
    ("pivot", "/", {"code": L}, C,
     lambda j: isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"]),
    ("piston", "/api/v2/execute",
     {"language": L, "version": "*", "files": [{"content": PY}]}, "python",
     lambda j: isinstance(j, dict) and isinstance(j.get("message"), str) and j["message"]),
    ("jobe", "/jobe/index.php/restapi/runs", {"run_spec": {"language_id": L, "sourcecode": PY}},
     "python3", lambda j: isinstance(j, str) and j.startswith("Non-JSON post data received (")),
]

WSD = [
    # name, path, template, good value, error shape, welcome messages to skip
    ("runcell", "/api/v1/ws", {"type": "run", "id": "r1", "language": L, "source": PY}, "python",
     lambda m: m.get("type") == "error" and m.get("code") == "bad_request", 0),
    ("roadrunner", "/ws", {"language": L, "source": PY, "nonce": "n1"}, "python",
     lambda m: m.get("type") == "error" and m.get("code") == "bad_request", 0),
    ("ranna", "/v1/ws", {"op": 1, "nonce": "n1", "args": {"language": L, "code": PY}}, "python",
     lambda m: m.get("code") == 1 and isinstance(m.get("data"), dict)
     and m["data"].get("code") == 400, 0),
    ("livecode", "/livecode", {"msgtype": "exec", "runtime": L, "code": PY}, "python",
     lambda m: m.get("msgtype") == "error" and str(m.get("error", "")).startswith("invalid JSON"),
     1),
    ("piston", "/api/v2/connect",
     {"type": "init", "language": L, "version": "*", "files": [{"content": PY}]}, "python",
     lambda m: m.get("type") == "error" and isinstance(m.get("message"), str), 0),
]


def render(template, value):
    """The template as JSON text with value where L is."""
    return json.dumps(template).replace(json.dumps(L)[1:-1], json.dumps(value)[1:-1])


def check_http(t, srv, mutate, what):
    for name, path, tpl, good, is_err in HTTP:
        body = mutate(tpl, good)
        r = http_req(t, srv, "POST", path, body, headers={"Content-Type": "application/json"})
        label = "%s POST %s (%s)" % (name, path, what)
        t.not_contains(r.body.decode("utf-8", "replace"), MARK,
                       "%s: the program ran" % label)
        t.eq(r.status, 400, "%s: HTTP status of %s" % (label, shorten(repr(r), 300)))
        t.check(is_err(r.json), "%s: not the dialect's error shape: %r" % (label, r))


async def check_ws(t, srv, mutate, what):
    for name, path, tpl, good, is_err, skip in WSD:
        label = "%s WebSocket %s (%s)" % (name, path, what)
        async with WSClient(t, srv, path, name=name) as ws:
            for _ in range(skip):
                await ws.next(what="%s: welcome" % label)
            await ws.send(mutate(tpl, good))
            first, rest = None, []
            try:
                first = await ws.next(timeout=60, what="%s: an answer" % label)
                # anything the run would print comes within a few seconds; Piston closes
                # the connection after an error
                if name == "piston":
                    rest, _ = await ws.until_closed(5)
                else:
                    rest = await ws.quiet(3)
            except Closed:
                pass
            every = json.dumps([first] + rest)
            t.not_contains(every, MARK, "%s: the program ran" % label)
            t.check(isinstance(first, dict) and is_err(first),
                    "%s: the first answer is not the dialect's error: %s"
                    % (label, shorten(every, 400)))


def both(t, mutate, what):
    with Server(t) as srv:
        check_http(t, srv, mutate, what)
        run_async(t, check_ws(t, srv, mutate, what), timeout=600)
        srv.check_alive()


@case("strict_input.nul_in_string_refused", lang="python")
def nul_in_string(t):
    # "python\u0000x" was cut to "python" (and ran); pivot's code cut after the program
    both(t, lambda tpl, good: render(tpl, good + "\x00x"), "a NUL in a string")


@case("strict_input.trailing_data_refused", lang="python")
def trailing_data(t):
    both(t, lambda tpl, good: render(tpl, good) + " x", "garbage after the object")
    both(t, lambda tpl, good: render(tpl, good) + render(tpl, good), "two objects")


def with_duplicate(tpl, good):
    """The request with its defect-carrying key given twice: first the good value, then one
    that cannot run (cJSON took the first)."""
    text = render(tpl, good)
    key = next(k for k, v in tpl.items() if v == L) if L in tpl.values() else None
    if key is None:  # nested (ranna's args)
        inner = next(k for k, v in tpl.items() if isinstance(v, dict) and L in v.values())
        ikey = next(k for k, v in tpl[inner].items() if v == L)
        pos = text.index(json.dumps(inner) + ": {") + len(json.dumps(inner) + ": {")
        return text[:pos] + '%s: "no-such-language", ' % json.dumps(ikey) + text[pos:]
    return text[:-1] + ', %s: "no-such-language"}' % json.dumps(key)


@case("strict_input.duplicate_keys_refused", lang="python")
def duplicate_keys(t):
    # the duplicate goes first for nested objects, last at the top: either order must be refused
    both(t, lambda tpl, good: with_duplicate(tpl, good), "a key given twice")


@case("strict_input.too_many_args_400", lang="python")
def too_many_args(t):
    # 100,000 arguments: over what a sandbox request carries (4096); was internal_error
    args = ["a"] * 100000
    with Server(t) as srv:
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": PY, "args": args})
        t.eq(r.status, 400, "HTTP status for 100000 args")
        t.check(_err_native_http(r.json), "error shape: %r" % r)
        if isinstance(r.json, dict) and isinstance(r.json.get("error"), dict):
            t.contains(r.json["error"].get("message", ""), "100003 arguments",
                       "the message says how many")
        # one over the bound also, one under it runs
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": PY, "args": ["a"] * 4094})
        t.eq(r.status, 400, "HTTP status for 4096 + 1 arguments (python3 -u main.py + 4094)")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": "import sys; print(len(sys.argv))",
                      "args": ["a"] * 4093})
        t.eq(r.status, 200, "HTTP status for 4096 arguments")
        t.contains(r.body.decode(), "4094", "the program saw its arguments")
        # one argument over execve's 128 KiB for a string
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": PY, "args": ["x" * (128 << 10)]})
        t.eq(r.status, 400, "HTTP status for a 128 KiB argument")
        t.not_contains(r.body.decode(), "internal", "a 128 KiB argument")
        srv.check_alive()


# ------------------------------------------------------------------ nonces

@case("strict_input.nonce_capped", lang="python")
def nonce_capped(t):
    # roadrunner and ranna copy the nonce into every message of the run: one of 1 MB times
    # every output chunk was an amplifier. Over 128 bytes (as JSON) it is refused, unechoed.
    big = "n" * (1 << 20)
    ok = "n" * 120

    async def body(srv):
        async with WSClient(t, srv, "/ws", name="roadrunner") as ws:
            await ws.send({"language": "python", "source": PY, "nonce": big})
            m = await ws.next(timeout=60, what="roadrunner: an answer")
            t.check(m.get("type") == "error" and m.get("code") == "bad_request",
                    "roadrunner: big nonce refused: %s" % shorten(json.dumps(m), 300))
            t.eq(m.get("nonce"), None, "roadrunner: the refused nonce is not echoed")
            rest = await ws.quiet(3)
            t.not_contains(json.dumps(rest), MARK, "roadrunner: the program ran")
            await ws.send({"language": "python", "source": PY, "nonce": {"k": ["v" * 200]}})
            m = await ws.next(timeout=60, what="roadrunner: an answer to an object nonce")
            t.eq(m.get("code"), "bad_request", "roadrunner: a 200-byte object nonce")
            await ws.send({"language": "python", "source": PY, "nonce": ok})
            m = await ws.next(timeout=60, what="roadrunner: output")
            t.eq((m.get("nonce"), m.get("type")), (ok, "stdout"),
                 "roadrunner: a 120-byte nonce still works")
        async with WSClient(t, srv, "/v1/ws", name="ranna") as ws:
            await ws.send({"op": 1, "nonce": big, "args": {"language": "python", "code": PY}})
            m = await ws.next(timeout=60, what="ranna: an answer")
            t.check(m.get("code") == 1 and m.get("data", {}).get("code") == 400,
                    "ranna: big nonce refused: %s" % shorten(json.dumps(m), 300))
            t.check("nonce" not in m, "ranna: the refused nonce is not echoed")
            rest = await ws.quiet(3)
            t.not_contains(json.dumps(rest), MARK, "ranna: the program ran")
            await ws.send({"op": 0, "nonce": big})
            m = await ws.next(timeout=60, what="ranna: an answer to a ping")
            t.eq(m.get("code"), 1, "ranna: a ping with a big nonce is refused too")
            await ws.send({"op": 1, "nonce": ok, "args": {"language": "python", "code": PY}})
            m = await ws.next(timeout=60, what="ranna: spawn")
            t.eq((m.get("code"), m.get("nonce")), (2, ok), "ranna: a 120-byte nonce still works")

    with Server(t) as srv:
        run_async(t, body(srv), timeout=300)
        srv.check_alive()
