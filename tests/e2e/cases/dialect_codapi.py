"""The codapi dialect (nalgeon/codapi): POST /v1/exec {sandbox, version, command, files} ->
{id, ok, duration, stdout, stderr}, HEAD/GET /v1/health, CORS for the widget (@antonz/codapi),
codapi's error statuses and bodies.  Each case runs its own server on 127.0.0.1."""

import json
import re
import threading
import time

import harness
from harness import case, shorten
from server_util import Server, get_metrics, http_req, raw_post_large, write_config

ORIGIN = "https://docs.example.org"
ID_RE = re.compile(r"^python_run_[0-9a-f]{8}$")


def widget_body(sandbox, code, version="", command="run", extra_files=None):
    """The body the widget sends: JSON.stringify({sandbox, version, command, files: {"": code,
    ...files}}) -- compact, version "" when the snippet names none."""
    files = {"": code}
    files.update(extra_files or {})
    return json.dumps({"sandbox": sandbox, "version": version, "command": command,
                       "files": files}, separators=(",", ":"), ensure_ascii=False)


def widget_headers(origin=ORIGIN):
    h = {"accept": "application/json", "content-type": "application/json"}
    if origin:
        h["Origin"] = origin
    return h


def check_execution(t, r, status, what):
    """An execution (answer or refusal) with codapi's fields and types; returns it."""
    t.eq(r.status, status, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    t.check(r.headers.get("content-type", "").startswith("application/json"),
            "%s: content-type %r" % (what, r.headers.get("content-type")))
    o = r.json
    t.check(isinstance(o, dict), "%s: body is not a JSON object: %r" % (what, r.body[:300]))
    t.eq(sorted(o), ["duration", "id", "ok", "stderr", "stdout"], "%s: fields" % what)
    t.check(isinstance(o["id"], str) and o["id"], "%s: id %r" % (what, o["id"]))
    t.check(type(o["ok"]) is bool, "%s: ok must be a boolean" % what)
    t.check(type(o["duration"]) is int and o["duration"] >= 0,
            "%s: duration must be a non-negative int: %r" % (what, o["duration"]))
    t.check(isinstance(o["stdout"], str) and isinstance(o["stderr"], str),
            "%s: stdout and stderr must be strings" % what)
    return o


def check_refusal(t, r, status, stderr, what, rid=None):
    o = check_execution(t, r, status, what)
    t.eq(o["ok"], False, "%s: ok" % what)
    t.eq(o["duration"], 0, "%s: duration" % what)
    t.eq(o["stdout"], "", "%s: stdout" % what)
    if stderr is not None:
        t.eq(o["stderr"], stderr, "%s: stderr" % what)
    else:
        t.check(o["stderr"], "%s: stderr must say why" % what)
    if rid is not None:
        if hasattr(rid, "match"):
            t.check(rid.match(o["id"]), "%s: id %r must match %s" % (what, o["id"], rid.pattern))
        else:
            t.eq(o["id"], rid, "%s: id" % what)
    return o


def exec_ok(t, srv, body, stdout, what, headers=None):
    r = http_req(t, srv, "POST", "/v1/exec", body, headers=headers or widget_headers(None))
    o = check_execution(t, r, 200, what)
    t.eq(o["ok"], True, "%s: ok (stderr %r)" % (what, o["stderr"]))
    t.eq(o["stdout"], stdout, "%s: stdout" % what)
    t.eq(o["stderr"], "", "%s: stderr" % what)
    return r, o


@case("dialect_codapi.widget_request_and_cors", lang="python")
def widget_request(t):
    """The exact request of the widget from a page of an allowed origin: its CORS preflight,
    then the POST; another origin gets no CORS grant and its POST is refused (403)."""
    cfg = write_config(t, {"allowed_origins": [ORIGIN]})
    with Server(t, "--config", cfg) as srv:
        # content-type: application/json makes the browser ask first
        r = http_req(t, srv, "OPTIONS", "/v1/exec", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        t.check(200 <= r.status < 300, "preflight: 2xx expected, got %r" % r)
        t.eq(r.headers.get("access-control-allow-origin"), ORIGIN, "preflight: ACAO")
        t.check("POST" in r.headers.get("access-control-allow-methods", ""),
                "preflight: POST allowed: %r" % r.headers)
        t.check("content-type" in r.headers.get("access-control-allow-headers", "").lower(),
                "preflight: content-type allowed: %r" % r.headers)

        code = 'msg = "Hello, World!"\nprint(msg)'
        r, o = exec_ok(t, srv, widget_body("python", code), "Hello, World!\n",
                       "the widget's POST", headers=widget_headers(ORIGIN))
        t.eq(r.headers.get("access-control-allow-origin"), ORIGIN, "POST: ACAO")
        t.check(ID_RE.match(o["id"]), "id %r must be python_run_<8 hex digits>" % o["id"])
        t.check(o["duration"] < 60000, "duration in ms: %r" % o["duration"])

        # a page of another site: no grant in the preflight, the POST itself refused
        other = "https://elsewhere.example.com"
        r = http_req(t, srv, "OPTIONS", "/v1/exec", headers={
            "Origin": other, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        t.eq(r.headers.get("access-control-allow-origin"), None,
             "preflight from another origin: no ACAO")
        r = http_req(t, srv, "POST", "/v1/exec", widget_body("python", code),
                     headers=widget_headers(other))
        t.eq(r.status, 403, "POST from another origin (body %r)" % r.body[:200])
        t.eq(r.headers.get("access-control-allow-origin"), None, "403: no ACAO")
        # no Origin at all (curl, servers): answered, no CORS header
        r, _ = exec_ok(t, srv, widget_body("python", code), "Hello, World!\n", "no Origin")
        t.eq(r.headers.get("access-control-allow-origin"), None, "no Origin: no ACAO")


@case("dialect_codapi.api_doc_examples", lang="python")
def api_doc_examples(t):
    """The requests of codapi's docs (api.md, add-sandbox.md), verbatim."""
    with Server(t) as srv:
        body = ('{\n    "sandbox": "python",\n    "command": "run",\n    "files": {\n'
                '        "": "print(\'hello world\')"\n    }\n}')
        _, o = exec_ok(t, srv, body, "hello world\n", "api.md example",
                       headers={"content-type": "application/json"})
        t.check(ID_RE.match(o["id"]), "id %r" % o["id"])
        body = ('{ "sandbox": "python", "command": "run", "files": {"": "print(42)" }}')
        exec_ok(t, srv, body, "42\n", "add-sandbox.md example",
                headers={"content-type": "application/json"})


@case("dialect_codapi.multi_file", lang="python")
def multi_file(t):
    """Several files: "" is the entry point, the others sit beside it; without "" the file
    named as the language's source file is the entry point; a version the language answers
    to is accepted and named in the id."""
    with Server(t) as srv:
        exec_ok(t, srv, widget_body("python", "import greet\ngreet.hi('there')",
                                    extra_files={"greet.py": "def hi(n):\n    print('hi', n)\n"}),
                "hi there\n", "main file and a module")
        exec_ok(t, srv, {"sandbox": "py", "command": "run",
                         "files": {"util.py": "X = 7\n", "main.py": "import util\nprint(util.X)"}},
                "7\n", "named main.py (alias py)")
        exec_ok(t, srv, {"sandbox": "python", "command": "run",
                         "files": {"data.txt": "from a file\n",
                                   "": "print(open('data.txt').read(), end='')"}},
                "from a file\n", "a data file before the entry point")
        _, o = exec_ok(t, srv, widget_body("python", "print(1)", version="3"), "1\n",
                       "version 3")
        t.check(re.match(r"^python_3_run_[0-9a-f]{8}$", o["id"]), "id with version: %r" % o["id"])


@case("dialect_codapi.c_compile_and_run", lang="c")
def c_compile(t):
    with Server(t) as srv:
        src = '#include <stdio.h>\nint main(void) { printf("c says %d\\n", 6 * 7); return 0; }\n'
        exec_ok(t, srv, widget_body("c", src), "c says 42\n", "C program")
        r = http_req(t, srv, "POST", "/v1/exec",
                     widget_body("c", "int main(void) { return undefined_thing; }\n"),
                     headers=widget_headers(None))
        o = check_execution(t, r, 200, "C compile error")
        t.eq(o["ok"], False, "compile error: ok")
        t.eq(o["stdout"], "", "compile error: stdout")
        t.contains(o["stderr"], "undefined_thing", "compile error: the compiler's message")
        t.check(o["stderr"].endswith(" (exit status 1)"),
                "compile error: stderr ends with the exit status: %r" % o["stderr"][-80:])


@case("dialect_codapi.failed_runs", lang="python")
def failed_runs(t):
    """ok false: the program's output (both streams) and the exit status in stderr; a
    timeout says so; an unknown version is a failed execution too."""
    cfg = write_config(t, {"limits_max": {"wall_ms": 1500, "cpu_ms": 1500}})
    with Server(t, "--config", cfg) as srv:
        def failed(body, what):
            r = http_req(t, srv, "POST", "/v1/exec", body, headers=widget_headers(None))
            o = check_execution(t, r, 200, what)
            t.eq(o["ok"], False, "%s: ok" % what)
            t.eq(o["stdout"], "", "%s: stdout" % what)
            return o

        o = failed(widget_body("python", 'print("before")\n1/0'), "runtime error")
        t.check(o["stderr"].startswith("before\n"), "stdout first in stderr: %r" % o["stderr"])
        t.contains(o["stderr"], "ZeroDivisionError: division by zero", "traceback")
        t.check(o["stderr"].endswith("division by zero (exit status 1)"),
                "trimmed output, then the exit status: %r" % o["stderr"][-60:])
        t.check(o["duration"] > 0, "duration of a run: %r" % o["duration"])
        o = failed(widget_body("python", "import sys\nsys.exit(3)"), "silent exit 3")
        t.eq(o["stderr"], "exit status 3", "silent exit 3: stderr")
        o = failed(widget_body("python", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
                   "killed by SIGSEGV")
        t.eq(o["stderr"], "exit status 139", "SIGSEGV: 128 + 11 as docker reports it")
        o = failed(widget_body("python", "while True:\n    pass"), "endless loop")
        t.eq(o["stderr"], "code execution timeout", "timeout: stderr")
        o = failed(widget_body("python", "print(1)", version="2.7"), "unknown version")
        t.eq(o["stderr"], "unknown box python:2.7", "unknown version: stderr")
        o = failed({"sandbox": "python", "command": "run",
                    "files": {"": "print(1)", "../escape.py": "x"}}, "a file outside")
        t.contains(o["stderr"], "../escape.py", "bad file name: stderr names it")


@case("dialect_codapi.errors")
def errors(t):
    """Refusals in codapi's shape: an execution with ok false and the reason in stderr."""
    cfg = write_config(t, {"message_max_bytes": 65536})
    with Server(t, "--config", cfg) as srv:
        def post(body, status, stderr, what, rid=None):
            r = http_req(t, srv, "POST", "/v1/exec", body, headers=widget_headers(None))
            return check_refusal(t, r, status, stderr, what, rid)

        post('{"sandbox": "python", "command": ', 400, None, "malformed JSON", "-")
        post('["python"]', 400, None, "not an object", "-")
        o = post({"sandbox": 5, "command": "run", "files": {"": "x"}}, 400, None,
                 "sandbox a number", "-")
        t.contains(o["stderr"], "sandbox", "wrong type: names the field")
        post({"sandbox": "python", "command": "run", "files": ["print(1)"]}, 400, None,
             "files an array", "-")
        post({"sandbox": "python", "command": "run", "files": {"": 1}}, 400, None,
             "a file's content a number", "-")
        post({"sandbox": "klingon", "command": "run", "files": {"": "x"}}, 404, "unknown sandbox",
             "unknown sandbox", re.compile(r"^klingon_run_[0-9a-f]{8}$"))
        post({"command": "run", "files": {"": "x"}}, 404, "unknown sandbox", "no sandbox")
        post({"sandbox": "python", "command": "test", "files": {"": "x"}}, 404,
             "unknown command", "unknown command", re.compile(r"^python_test_[0-9a-f]{8}$"))
        post({"sandbox": "python", "files": {"": "x"}}, 404, "unknown command", "no command")
        post({"sandbox": "python", "command": "run", "files": {"": "  \n"}}, 400,
             "empty request", "blank code", ID_RE)
        post({"sandbox": "python", "command": "run"}, 400, "empty request", "no files", ID_RE)
        r = http_req(t, srv, "GET", "/v1/exec")
        check_refusal(t, r, 405, "unsupported method: GET", "GET /v1/exec", "-")
        r = raw_post_large(t, srv, "/v1/exec", 70000)
        check_refusal(t, r, 413, "request too large", "a body over message_max_bytes", "-")
        # the server is still there and answers
        r = http_req(t, srv, "HEAD", "/v1/health")
        t.eq(r.status, 200, "HEAD /v1/health after the errors")


@case("dialect_codapi.health")
def health(t):
    with Server(t) as srv:
        r = http_req(t, srv, "HEAD", "/v1/health")
        t.eq(r.status, 200, "HEAD /v1/health")
        t.eq(r.body, b"", "HEAD has no body")
        r = http_req(t, srv, "GET", "/v1/health")
        t.eq(r.status, 200, "GET /v1/health")
        t.eq(r.json, {"status": "ok"}, "GET /v1/health body")


def wait_active(t, srv, n, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        m = get_metrics(t, srv)
        if m.value("runcell_active_runs") == n:
            return
        if time.monotonic() > deadline:
            t.fail("runcell_active_runs did not reach %d within %ds" % (n, timeout))
        time.sleep(0.1)


@case("dialect_codapi.busy_429", lang="python")
def busy(t):
    """One slot and no queue: a second request while the first sleeps is refused with 429 and
    codapi's busy body; the first completes."""
    with Server(t, "--max-concurrent", "1", "--queue", "0") as srv:
        done = {}

        def first():
            done["r"] = http_req(t, srv, "POST", "/v1/exec",
                                 widget_body("python", "import time\ntime.sleep(2)\nprint('slept')"),
                                 headers=widget_headers(None))

        th = threading.Thread(target=first)
        th.start()
        try:
            wait_active(t, srv, 1)
            r = http_req(t, srv, "POST", "/v1/exec", widget_body("python", "print(1)"),
                         headers=widget_headers(None))
            check_refusal(t, r, 429, "busy: try again later", "a second run", ID_RE)
            t.eq(r.headers.get("retry-after"), "1", "429: Retry-After")
        finally:
            th.join(60)
        o = check_execution(t, done["r"], 200, "the sleeping run")
        t.eq((o["ok"], o["stdout"]), (True, "slept\n"), "the sleeping run's answer")
        t.check(o["duration"] >= 2000, "duration covers the sleep: %r" % o["duration"])


@case("dialect_codapi.every_language")
def every_language(t):
    """codapi's sandboxes are runcell's languages, all of them: every toolchain name and alias
    is a sandbox (asked for a command it does not have, the answer is "unknown command", not
    "unknown sandbox"); nothing runs, so no root filesystem is needed."""
    names = [(n, n) for n in harness.LANGS] + [(a, n) for n in harness.LANGS
                                                for a in harness.ALIASES[n]]
    t.check(names, "no languages")
    with Server(t) as srv:
        for sandbox, lang in names:
            r = http_req(t, srv, "POST", "/v1/exec",
                         widget_body(sandbox, harness.example(lang)["source"], command="nope"),
                         headers=widget_headers(None))
            check_refusal(t, r, 404, "unknown command", "sandbox %r (%s)" % (sandbox, lang),
                          re.compile(r"^%s_nope_[0-9a-f]{8}$" % re.escape(sandbox)))
        srv.check_alive()
    t.note("%d sandboxes: %s" % (len(names), " ".join(s for s, _ in names)))
