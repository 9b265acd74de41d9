"""The code execution microservice dialect (seed 001): POST / with {"lang", "code"} ->
{"output", "error", "status", "stderr"}; refusals {"output": reason, "error": true,
"status": code}.  Each case runs its own server on 127.0.0.1."""

import threading
import time

from harness import case, shorten
from server_util import Server, get_metrics, http_req, raw_post_large, write_config

# The request body exactly as the seed document prints it.
SEED_BODY = '''{
  "lang": "python",
  "code": "print(\\"Hello world!\\")"
}'''


def post(t, srv, body, what):
    return http_req(t, srv, "POST", "/", body, headers={"Content-Type": "application/json"})


def check_answer(t, r, status, what):
    t.eq(r.status, status, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    t.check(r.headers.get("content-type", "").startswith("application/json"),
            "%s: content-type %r" % (what, r.headers.get("content-type")))
    o = r.json
    t.check(isinstance(o, dict), "%s: body is not a JSON object: %r" % (what, r.body[:300]))
    t.check(isinstance(o.get("output"), str), "%s: output must be a string" % what)
    t.check(type(o.get("error")) is bool, "%s: error must be a boolean" % what)
    t.check(isinstance(o.get("status"), str), "%s: status must be a string" % what)
    return o


def run(t, srv, lang, code, what, status=200):
    o = check_answer(t, post(t, srv, {"lang": lang, "code": code}, what), status, what)
    t.eq(sorted(o), ["error", "output", "status", "stderr"], "%s: fields" % what)
    return o


def refused(t, r, status, code, what):
    o = check_answer(t, r, status, what)
    t.eq(sorted(o), ["error", "output", "status"], "%s: fields" % what)
    t.eq(o["error"], True, "%s: error" % what)
    t.eq(o["status"], code, "%s: status" % what)
    t.check(o["output"], "%s: output must say why" % what)
    return o


@case("dialect_microservice.seed_python_hello", lang="python")
def seed_hello(t):
    """The seed's request, verbatim."""
    with Server(t) as srv:
        r = post(t, srv, SEED_BODY, "the seed's request")
        check_answer(t, r, 200, "the seed's request")
        t.eq(r.json, {"output": "Hello world!", "error": False, "status": "ok", "stderr": ""},
             "the seed's request: answer")


@case("dialect_microservice.go_hello", lang="go")
def go_hello(t):
    with Server(t) as srv:
        o = run(t, srv, "go", 'package main\n\nimport "fmt"\n\nfunc main() {\n'
                '\tfmt.Print("Hello world!")\n}\n', "go")
        t.eq((o["output"], o["error"], o["status"]), ("Hello world!", False, "ok"), "go answer")
        o = run(t, srv, "go", "package main\n\nfunc main() {\n\tundefinedThing()\n}\n",
                "go compile error")
        t.eq((o["output"], o["error"], o["status"]), ("", True, "compile_error"),
             "go compile error")
        t.contains(o["stderr"], "undefinedThing", "go compile error: the compiler's message")


@case("dialect_microservice.bash_hello", lang="bash")
def bash_hello(t):
    with Server(t) as srv:
        o = run(t, srv, "bash", 'OUTPUT=0\nfor i in {1..1000}\ndo\n  OUTPUT=$((OUTPUT+1))\n'
                'done\necho "  $OUTPUT  "\necho "to stderr" >&2', "bash loop")
        t.eq((o["output"], o["error"], o["status"]), ("1000", False, "ok"),
             "bash: stdout trimmed, no error")
        t.eq(o["stderr"], "to stderr\n", "bash: stderr apart, exactly")
        o = run(t, srv, "sh", "echo partial; exit 4", "bash exit 4 (alias sh)")
        t.eq((o["output"], o["error"], o["status"]), ("partial", True, "runtime_error"),
             "bash exit 4")


@case("dialect_microservice.c_compile_error", lang="c")
def c_compile_error(t):
    with Server(t) as srv:
        o = run(t, srv, "c", "int main(void) { return undefined_thing; }\n", "C compile error")
        t.eq((o["output"], o["error"], o["status"]), ("", True, "compile_error"),
             "C compile error")
        t.contains(o["stderr"], "undefined_thing", "C compile error: the compiler's message")


@case("dialect_microservice.runtime_error", lang="python")
def runtime_error(t):
    with Server(t) as srv:
        o = run(t, srv, "python", 'print("before")\nraise ValueError("boom")\n', "runtime error")
        t.eq((o["output"], o["error"], o["status"]), ("before", True, "runtime_error"),
             "runtime error")
        t.contains(o["stderr"], "ValueError: boom", "runtime error: the traceback")


@case("dialect_microservice.limits", lang="python")
def limits(t):
    """The dialect's limits option: a 1.5 s time limit ends an endless loop (the toolchain's
    default would wait 5 s), a 64 MiB memory limit a program that wants 300 MiB."""
    cfg = write_config(t, {"dialects": {"microservice": {
        "limits": {"wall_ms": 1500, "cpu_ms": 1500, "memory_mb": 64},
        "compile_limits": {"wall_ms": 20000}}}})
    with Server(t, "--config", cfg) as srv:
        t0 = time.monotonic()
        o = run(t, srv, "python", 'print("spinning", flush=True)\nwhile True:\n    pass\n',
                "endless loop")
        took = time.monotonic() - t0
        t.eq((o["output"], o["error"], o["status"]), ("spinning", True, "time_limit"),
             "endless loop")
        t.check(took < 4.5, "the 1.5 s limit applies, not the default 5 s: took %.1fs" % took)
        o = run(t, srv, "python", "x = bytearray(300 * 1024 * 1024)\nprint(len(x))\n",
                "300 MiB")
        t.eq((o["output"], o["error"], o["status"]), ("", True, "memory_limit"), "300 MiB")
        o = run(t, srv, "python", "print(sum(range(10)))", "a small program still runs")
        t.eq((o["output"], o["error"]), ("45", False), "a small program")


@case("dialect_microservice.errors")
def errors(t):
    cfg = write_config(t, {"message_max_bytes": 65536})
    with Server(t, "--config", cfg) as srv:
        refused(t, post(t, srv, '{"lang": "python", "code": ', "malformed"), 400, "bad_request",
                "malformed JSON")
        refused(t, post(t, srv, "{}", "empty"), 400, "bad_request", "no fields")
        o = refused(t, post(t, srv, {"lang": "python"}, "no code"), 400, "bad_request",
                    "no code")
        t.contains(o["output"], "code", "no code: names the field")
        o = refused(t, post(t, srv, {"lang": 3, "code": "x"}, "lang a number"), 400,
                    "bad_request", "lang a number")
        t.contains(o["output"], "lang", "lang a number: names the field")
        refused(t, post(t, srv, {"lang": "python", "code": ["print(1)"]}, "code an array"), 400,
                "bad_request", "code an array")
        o = refused(t, post(t, srv, {"lang": "klingon", "code": "DISPLAY 'X'."}, "klingon"), 400,
                    "unknown_language", "unknown lang")
        t.eq(o["output"], "Language klingon not supported", "unknown lang: output")
        refused(t, raw_post_large(t, srv, "/", 70000), 413, "too_large",
                "a body over message_max_bytes")


@case("dialect_microservice.bad_option")
def bad_option(t):
    """A dialect option the microservice does not know stops the server at start."""
    cfg = write_config(t, {"dialects": {"microservice": {"timeout": 5}}})
    r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:0", "--config", cfg,
                  timeout=30)
    t.check(r.rc != 0, "serve must refuse the unknown option (rc %r)" % r.rc)
    t.contains(r.stderr, "timeout", "the refusal names the option")


def wait_active(t, srv, n, timeout=60):
    deadline = time.monotonic() + timeout
    while get_metrics(t, srv).value("runcell_active_runs") != n:
        if time.monotonic() > deadline:
            t.fail("runcell_active_runs did not reach %d within %ds" % (n, timeout))
        time.sleep(0.1)


@case("dialect_microservice.busy_429", lang="python")
def busy(t):
    """Overloaded (one slot, no queue): 429 with Retry-After, in the dialect's shape."""
    with Server(t, "--max-concurrent", "1", "--queue", "0") as srv:
        done = {}

        def first():
            done["r"] = post(t, srv, {"lang": "python",
                                      "code": "import time\ntime.sleep(2)\nprint('slept')"},
                             "sleeper")

        th = threading.Thread(target=first)
        th.start()
        try:
            wait_active(t, srv, 1)
            r = post(t, srv, {"lang": "python", "code": "print(1)"}, "second")
            refused(t, r, 429, "busy", "a second run while the only slot is taken")
            t.eq(r.headers.get("retry-after"), "1", "429: Retry-After")
        finally:
            th.join(60)
        o = check_answer(t, done["r"], 200, "the sleeping run")
        t.eq((o["output"], o["error"]), ("slept", False), "the sleeping run's answer")
