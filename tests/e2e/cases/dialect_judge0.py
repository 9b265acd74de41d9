"""The Judge0 CE dialect (docs/dialects.md, "Judge0 CE"): /submissions (single, batch, paged,
deleted, with and without wait, Base64 on and off, fields), /languages, /statuses and the
information routes at the root, answered in Judge0's shapes.  The requests of Judge0's own
documentation (docs/api/submissions/create_a_submission.md) are sent verbatim.

Submissions without wait=true need the server's submission store; a server without one answers
503 and the parts that need it are skipped (noted)."""

import base64
import json
import re
import time

import harness
from harness import case, shorten
from server_util import Server, http_req, raw_post_large, write_config

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DEFAULT_FIELDS = {"token", "time", "memory", "stdout", "stderr", "compile_output", "message",
                  "status"}
ALL_FIELDS = [
    "source_code", "language_id", "stdin", "expected_output", "stdout", "status_id",
    "created_at", "finished_at", "time", "memory", "stderr", "token", "number_of_runs",
    "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
    "max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit", "max_file_size", "compile_output",
    "exit_code", "exit_signal", "message", "wall_time", "compiler_options",
    "command_line_arguments", "redirect_stderr_to_stdout", "callback_url", "additional_files",
    "enable_network", "started_at", "queued_at", "updated_at", "queue_host", "execution_host",
    "status", "language"]
STATUSES = ["In Queue", "Processing", "Accepted", "Wrong Answer", "Time Limit Exceeded",
            "Compilation Error", "Runtime Error (SIGSEGV)", "Runtime Error (SIGXFSZ)",
            "Runtime Error (SIGFPE)", "Runtime Error (SIGABRT)", "Runtime Error (NZEC)",
            "Runtime Error (Other)", "Internal Error", "Exec Format Error"]
PY = 71
C = 50

# docs/api/submissions/create_a_submission.md, verbatim
DOC_SOURCE = ("#include <stdio.h>\\n\\nint main(void) {\\n  char name[10];\\n  scanf(\\\"%s\\\", "
              "name);\\n  printf(\\\"hello, %s\\\\n\\\", name);\\n  return 0;\\n}")
DOC_CREATE = ('{\n    "source_code": "' + DOC_SOURCE + '",\n    "language_id": 4,\n'
              '    "stdin": "world"\n}')
DOC_NO_LANGUAGE = '{\n    "source_code": "' + DOC_SOURCE + '"\n}'
DOC_BAD_LANGUAGE = ('{\n    "source_code": "' + DOC_SOURCE + '",\n    "language_id": 150000,\n'
                    '    "stdin": "world",\n    "expected_output": "hello, world"\n}')
DOC_LIMITS = ('{\n    "source_code": "' + DOC_SOURCE + '",\n    "language_id": 4,\n'
              '    "number_of_runs": 1,\n    "stdin": "Judge0",\n'
              '    "expected_output": "hello, Judge0",\n    "cpu_time_limit": 1,\n'
              '    "cpu_extra_time": 0.5,\n    "wall_time_limit": 100000,\n'
              '    "memory_limit": 128000,\n    "stack_limit": 128000,\n'
              '    "enable_per_process_and_thread_time_limit": false,\n'
              '    "enable_per_process_and_thread_memory_limit": false,\n'
              '    "max_file_size": 1024\n}')
DOC_BASE64 = ('{\n    "source_code": "I2luY2x1ZGUgPHN0ZGlvLmg+CgppbnQgbWFpbih2b2lkKSB7CiAgY2hhciBu'
              'YW1lWzEwXTsKICBzY2FuZigiJXMiLCBuYW1lKTsKICBwcmludGYoImhlbGxvLCAlc1xuIiwgbmFtZSk7'
              'CiAgcmV0dXJuIDA7Cn0=",\n    "language_id": 4,\n    "input": "SnVkZ2Uw"\n}')
DOC_WAIT = ('{\n    "source_code": "' + DOC_SOURCE + '",\n    "language_id": "4",\n'
            '    "stdin": "Judge0",\n    "expected_output": "hello, Judge0"\n}')
JSON = {"Content-Type": "application/json"}


# ------------------------------------------------------------------ helpers
def server(t, *args, store=None, **opts):
    """A server with a submission store of its own (cases running at once, and earlier runs,
    share no submissions; store: the database file, to share it between two servers of one
    case) and the Judge0 dialect's options opts."""
    cfg = write_config(t, {"store": {"path": store or t.tmpdir() + "/submissions.db"},
                           "dialects": {"judge0": opts}})
    return Server(t, "--config", cfg, *args)


def req(t, srv, method, path, body=None, status=None, what=""):
    r = http_req(t, srv, method, path, body=body, headers=JSON if body is not None else None)
    if status is not None:
        t.eq(r.status, status, "%s %s %s: HTTP status (body %s)" % (what, method, path,
                                                                   shorten(r.body, 400)))
    return r


def submit_wait(t, srv, body, query="", what=""):
    """POST /submissions?wait=true; 201 and the submission object."""
    r = req(t, srv, "POST", "/submissions?wait=true" + query, body, 201, what)
    t.check(isinstance(r.json, dict), "%s: a JSON object: %r" % (what, r.body[:300]))
    return r.json


def check_status(t, o, sid, what):
    t.eq(o["status"], {"id": sid, "description": STATUSES[sid - 1]}, "%s: status" % what)


def has_store(t, srv):
    """Does the server keep submissions?  (A POST without wait says.)"""
    r = req(t, srv, "POST", "/submissions", {"source_code": "print(1)", "language_id": PY})
    if r.status == 503 and "no store" in (r.json or {}).get("error", ""):
        t.note("this server has no submission store: %s" % r.json)
        return None
    t.eq(r.status, 201, "POST /submissions without wait (body %s)" % shorten(r.body, 300))
    return r.json["token"]


def wait_done(t, srv, token, timeout=60, query=""):
    """GET /submissions/{token} until its status is past Processing."""
    deadline = time.monotonic() + timeout
    while True:
        r = req(t, srv, "GET", "/submissions/%s%s" % (token, query), None, 200, "poll")
        if r.json["status"]["id"] > 2:
            return r.json
        if time.monotonic() > deadline:
            raise harness.Fail("submission %s not done within %ds: %r" % (token, timeout, r.json))
        time.sleep(0.2)


def b64(s):
    """Ruby's Base64.encode64 (pack "m"): lines of 60 characters, each ending with "\n"
    (Python's encodebytes makes lines of 76)."""
    e = base64.b64encode(s.encode() if isinstance(s, str) else s).decode()
    return "".join(e[i:i + 60] + "\n" for i in range(0, len(e), 60))


# ------------------------------------------------------------------ cases
@case("dialect_judge0.doc_examples", lang="c")
def doc_examples(t):
    """create_a_submission.md's requests, verbatim, and its answers (the wall_time_limit bound
    is the configured one: 150 as in the example's host)."""
    with server(t, max_wall_time_limit=150) as srv:
        r = req(t, srv, "POST", "/submissions", DOC_NO_LANGUAGE, 422, "no language_id")
        t.eq(r.json, {"language_id": ["can't be blank"]}, "no language_id: the answer")
        r = req(t, srv, "POST", "/submissions", DOC_BAD_LANGUAGE, 422, "language 150000")
        t.eq(r.json, {"language_id": ["language with id 150000 doesn't exist"]},
             "language 150000: the answer")
        r = req(t, srv, "POST", "/submissions", DOC_LIMITS, 422, "wall_time_limit 100000")
        t.eq(r.json, {"wall_time_limit": ["must be less than or equal to 150.0"]},
             "wall_time_limit 100000: the answer (Rails prints the float bound)")
        o = submit_wait(t, srv, DOC_WAIT, what="wait=true example")
        t.eq(set(o), DEFAULT_FIELDS, "wait=true: the default fields")
        t.eq(o["stdout"], "hello, Judge0\n", "wait=true: stdout")
        check_status(t, o, 3, "wait=true")
        for k in ("stderr", "compile_output", "message"):
            t.eq(o[k], None, "wait=true: %s" % k)
        t.check(isinstance(o["time"], str) and re.match(r"^\d+\.\d+$", o["time"]),
                "time is a string of seconds: %r" % o["time"])
        t.check(type(o["memory"]) is int and o["memory"] > 0, "memory in KB: %r" % o["memory"])
        t.check(UUID_RE.match(o["token"]), "token is a UUID: %r" % o["token"])
        if has_store(t, srv) is None:
            return
        r = req(t, srv, "POST", "/submissions", DOC_CREATE, 201, "create example")
        t.eq(set(r.json), {"token"}, "create: only the token")
        t.check(UUID_RE.match(r.json["token"]), "create: token %r" % r.json["token"])
        done = wait_done(t, srv, r.json["token"])
        t.eq(done["stdout"], "hello, world\n", "create example: stdout once done")
        r = req(t, srv, "POST", "/submissions?base64_encoded=true", DOC_BASE64, 201,
                "base64 example")
        done = wait_done(t, srv, r.json["token"], query="?base64_encoded=true")
        t.eq(done["stdout"], b64("hello, \n"), "base64 example: stdout (\"input\" is no field)")


@case("dialect_judge0.base64_and_fields", lang="python")
def base64_and_fields(t):
    """base64_encoded on and off both ways, Ruby's line breaks, fields=*, chosen fields and
    unknown ones, output that is not UTF-8."""
    with server(t) as srv:
        src = "print('x' * 100)\nimport sys; sys.stderr.write('err')"
        o = submit_wait(t, srv, {"source_code": base64.b64encode(src.encode()).decode(),
                                 "language_id": PY, "stdin": b64("in")},
                        "&base64_encoded=true&fields=stdout,stderr,stdin,message,status",
                        "base64 in and out")
        t.eq(list(o), ["stdin", "stdout", "stderr", "message", "status"],
             "fields in Judge0's order")
        t.eq(o["stdout"], b64("x" * 100 + "\n"), "stdout in Ruby's Base64 (60 a line)")
        t.eq(o["stderr"], b64("err"), "stderr")
        t.eq(o["stdin"], b64("in"), "stdin")
        o = submit_wait(t, srv, {"source_code": b64("import sys; sys.exit(2)"),
                                 "language_id": PY}, "&base64_encoded=true", "message encoded")
        t.eq(o["message"], b64("Exited with error status 2"), "message in Base64 too")
        check_status(t, o, 11, "exit 2")
        o = submit_wait(t, srv, {"source_code": "print(1)", "language_id": PY}, "&fields=*",
                        "fields=*")
        t.eq(list(o), ALL_FIELDS, "fields=*: every attribute, in order")
        t.eq(o["language"]["id"], PY, "language.id")
        t.check(o["language"]["name"].startswith("Python ("), "language.name %r"
                % o["language"]["name"])
        t.eq(o["cpu_time_limit"], "5.0", "cpu_time_limit default as a decimal string")
        t.eq(o["memory_limit"], 128000, "memory_limit default")
        t.eq(o["source_code"], "print(1)", "source_code as sent")
        t.eq(o["stdin"], None, "no stdin: null")
        t.eq(o["exit_code"], 0, "exit_code")
        r = req(t, srv, "POST", "/submissions?wait=true&fields=stdout,nope,bad",
                {"source_code": "print(1)", "language_id": PY}, 400, "unknown fields")
        t.eq(r.json, {"error": "invalid fields: [nope, bad]"}, "unknown fields: the answer")
        r = req(t, srv, "POST", "/submissions?wait=true",
                {"source_code": "import sys; sys.stdout.buffer.write(b'\\xfe')",
                 "language_id": PY}, 201, "not UTF-8")
        t.eq(set(r.json), {"error", "token"}, "not UTF-8: error and token")
        t.contains(r.json["error"], "use base64_encoded=true", "not UTF-8: the advice")
        o = submit_wait(t, srv, {"source_code": b64("import sys; sys.stdout.buffer.write("
                                                    "b'\\xfe')"),
                                 "language_id": PY}, "&base64_encoded=true", "not UTF-8, base64")
        t.eq(o["stdout"], "/g==\n", "the byte in Base64")


@case("dialect_judge0.verdicts", lang="c", needs=("python",))
def verdicts(t):
    """Judge0's statuses for runcell's verdicts: 3, 4 (trailing white space ignored), 5, 6, 7,
    8, 11, 12 (memory limit: the OOM killer's SIGKILL), and command_line_arguments,
    redirect_stderr_to_stdout."""
    with server(t) as srv:
        cases = [
            ({"source_code": "print('a  ')\nprint()", "language_id": PY,
              "expected_output": "a\n\n\n"}, 3, None),
            ({"source_code": "print('b')", "language_id": PY, "expected_output": "a"}, 4, None),
            ({"source_code": "while True: pass", "language_id": PY, "cpu_time_limit": 0.5,
              "cpu_extra_time": 0.5}, 5, "Time limit exceeded"),
            ({"source_code": "int main(){ retur 0; }", "language_id": C}, 6, None),
            ({"source_code": "int main(){ volatile int *p = 0; return *p; }",
              "language_id": C}, 7, "Caught fatal signal 11"),
            ({"source_code": "print('x' * 5000)", "language_id": PY, "max_file_size": 1}, 8,
             None),
            ({"source_code": "import sys; sys.exit(3)", "language_id": PY}, 11,
             "Exited with error status 3"),
            ({"source_code": "x = bytearray(400 * 1024 * 1024)", "language_id": PY,
              "memory_limit": 65536}, 12, "Caught fatal signal 9"),
        ]
        for body, sid, message in cases:
            o = submit_wait(t, srv, body, "&fields=*", "status %d" % sid)
            check_status(t, o, sid, "status %d" % sid)
            if message:
                t.eq(o["message"], message, "status %d: message" % sid)
            if sid == 6:
                t.contains(o["compile_output"] or "", "error", "compile_output")
                t.eq(o["time"], None, "compile error: no time")
            if sid == 12:
                t.eq(o["exit_signal"], 9, "memory limit: exit_signal")
        o = submit_wait(t, srv, {"source_code": "#include <stdio.h>\nint main(void) "
                                                 "{ printf(\"%d\\n\", X); return 0; }",
                                 "language_id": C, "compiler_options": "-DX=42 -O0"},
                        what="compiler_options")
        t.eq(o["stdout"], "42\n", "compiler_options reach the compiler")
        r = req(t, srv, "POST", "/submissions?wait=true",
                {"source_code": "int main(void) { return 0; }", "language_id": C,
                 "compiler_options": "-fplugin=/x"}, 422, "a refused compiler option")
        t.contains(r.json["compiler_options"][0], "-fplugin=/x", "the word refused is named")
        r = req(t, srv, "POST", "/submissions?wait=true",
                {"source_code": "print(1)", "language_id": PY, "compiler_options": "-O2"}, 422,
                "compiler_options for Python")
        t.eq(r.json, {"compiler_options": [
            "setting compiler options is only allowed for compiled languages"]}, "interpreted")
        o = submit_wait(t, srv, {"source_code": "import sys; print(sys.argv[1:])",
                                 "language_id": PY,
                                 "command_line_arguments": "a \"b c\" d;e"}, what="arguments")
        t.eq(o["stdout"], "['a', 'b c', 'de']\n", "arguments split as bash, ; dropped")
        o = submit_wait(t, srv, {"source_code": "import sys; sys.stderr.write('E\\n')",
                                 "language_id": PY, "redirect_stderr_to_stdout": True},
                        what="redirect")
        t.eq((o["stdout"], o["stderr"]), ("E\n", None), "stderr into stdout")


@case("dialect_judge0.statuses_and_languages")
def statuses_and_languages(t):
    with server(t) as srv:
        r = req(t, srv, "GET", "/statuses", None, 200)
        t.eq(r.json, [{"id": i + 1, "description": d} for i, d in enumerate(STATUSES)],
             "/statuses")
        r = req(t, srv, "GET", "/languages", None, 200)
        langs = r.json
        t.check(isinstance(langs, list), "/languages is a list")
        for l in langs:
            t.eq(sorted(l), ["id", "name"], "a language's keys")
        ids = [l["id"] for l in langs]
        t.eq(ids, sorted(ids), "/languages in id order")
        r = req(t, srv, "GET", "/languages/all", None, 200)
        t.eq([l["name"] for l in r.json], sorted(l["name"] for l in r.json),
             "/languages/all by name")
        t.check(all(l["is_archived"] is False for l in r.json), "is_archived false")
        if langs:
            first = langs[0]
            r = req(t, srv, "GET", "/languages/%d" % first["id"], None, 200)
            t.eq(sorted(r.json), ["compile_cmd", "id", "is_archived", "name", "run_cmd",
                                  "source_file"], "/languages/{id} keys")
            t.eq(r.json["name"], first["name"], "/languages/{id} name")
        r = req(t, srv, "GET", "/languages/150000", None, 404)
        r = req(t, srv, "GET", "/languages/abc", None, 404)


@case("dialect_judge0.information")
def information(t):
    with server(t) as srv:
        r = req(t, srv, "GET", "/version", None, 200)
        t.check(re.match(rb"^\d+\.\d+\.\d+$", r.body), "/version: %r" % r.body)
        r = req(t, srv, "GET", "/about", None, 200)
        t.eq(sorted(r.json), ["homepage", "maintainer", "source_code", "version"], "/about")
        r = req(t, srv, "GET", "/config_info", None, 200)
        for k, v in (("cpu_time_limit", 5), ("max_cpu_time_limit", 15), ("memory_limit", 128000),
                     ("max_submission_batch_size", 20), ("enable_network", False),
                     ("number_of_runs", 1), ("max_number_of_runs", 20)):
            t.eq(r.json.get(k), v, "/config_info %s" % k)
        r = req(t, srv, "GET", "/system_info", None, 200)
        t.check(isinstance(r.json, dict) and r.json, "/system_info: an object")
        r = req(t, srv, "GET", "/workers", None, 200)
        t.check(isinstance(r.json, list) and r.json and "available" in r.json[0], "/workers")


@case("dialect_judge0.stored_submissions", lang="python")
def stored_submissions(t):
    """Without wait: token, In Queue/Processing then done; batches (POST with a bad one among
    good ones, GET by tokens with an unknown one); GET /submissions paged; DELETE (refused while
    queued or running, then the object, then 404)."""
    with server(t, "--max-concurrent", "1", enable_submission_delete=True) as srv:
        first = has_store(t, srv)
        if first is None:
            t.skip("the server has no submission store")
        slow = req(t, srv, "POST", "/submissions",
                   {"source_code": "import time; time.sleep(2); print('slow')",
                    "language_id": PY}, 201).json["token"]
        r = req(t, srv, "GET", "/submissions/" + slow, None, 200)
        t.check(r.json["status"]["id"] in (1, 2), "queued or processing: %r" % r.json["status"])
        r = req(t, srv, "DELETE", "/submissions/" + slow, None, 400, "delete while not done")
        t.check(re.match(r"^submission cannot be deleted because its status is [12] "
                         r"\((In Queue|Processing)\)$", r.json["error"]), r.json["error"])
        r = req(t, srv, "POST", "/submissions/batch",
                {"submissions": [{"source_code": "print(2)", "language_id": PY},
                                 {"language_id": PY},
                                 {"source_code": "print(3)", "language_id": str(PY)}]}, 201)
        t.eq(len(r.json), 3, "one answer per submission")
        t.eq(r.json[1], {"source_code": ["can't be blank"]}, "the bad one's errors")
        toks = [r.json[0]["token"], r.json[2]["token"]]
        for tok in [first, slow] + toks:
            wait_done(t, srv, tok)
        r = req(t, srv, "GET", "/submissions/batch?tokens=%s,%s,nope&fields=stdout,status_id"
                % tuple(toks), None, 200)
        t.eq(r.json, {"submissions": [{"stdout": "2\n", "status_id": 3},
                                      {"stdout": "3\n", "status_id": 3}, None]},
             "batch GET")
        r = req(t, srv, "GET", "/submissions?per_page=3&fields=token", None, 200)
        t.eq(len(r.json["submissions"]), 3, "a page of 3")
        t.eq(r.json["meta"], {"current_page": 1, "next_page": 2, "prev_page": None,
                              "total_pages": 2, "total_count": 4}, "meta")
        r = req(t, srv, "GET", "/submissions?page=2&per_page=3&fields=token", None, 200)
        t.eq(len(r.json["submissions"]), 1, "the last page")
        req(t, srv, "GET", "/submissions?page=0", None, 400)
        r = req(t, srv, "DELETE", "/submissions/" + slow, None, 200, "delete")
        t.eq(r.json["stdout"], b64("slow\n"), "delete answers in Base64")
        req(t, srv, "GET", "/submissions/" + slow, None, 404, "after delete")
        r = req(t, srv, "GET", "/submissions/00000000-0000-4000-8000-000000000000", None, 404)
        r = req(t, srv, "POST", "/submissions/batch", {"submissions": []}, 400)
        t.eq(r.json, {"error": "there should be at least one submission in a batch"}, "empty")


@case("dialect_judge0.bad_input", lang="python")
def bad_input(t):
    """Every field given a wrong type or value: 422 naming it, Judge0's message; nothing
    stored. A 10 MB source is refused before it is read whole."""
    with server(t) as srv:
        before = req(t, srv, "GET", "/submissions?fields=token", None).json
        good = {"source_code": "print(1)", "language_id": PY}
        wrong = [
            ("source_code", [1], "is invalid"), ("source_code", "", "can't be blank"),
            ("language_id", {"a": 1}, "is invalid"),
            ("language_id", "abc", "language with id abc doesn't exist"),
            ("stdin", [], "is invalid"), ("expected_output", {}, "is invalid"),
            ("number_of_runs", 0, "must be greater than 0"),
            ("number_of_runs", 21, "must be less than or equal to 20"),
            ("cpu_time_limit", "abc", "is not a number"),
            ("cpu_time_limit", 16, "must be less than or equal to 15.0"),
            ("cpu_extra_time", -1, "must be greater than or equal to 0"),
            ("wall_time_limit", 0.5, "must be greater than or equal to 1"),
            ("memory_limit", 1, "must be greater than or equal to 2048"),
            ("memory_limit", True, "is not a number"),
            ("stack_limit", 999999, "must be less than or equal to 128000"),
            ("max_processes_and_or_threads", 0, "must be greater than 0"),
            ("max_file_size", [1], "is invalid"),
            ("compiler_options", "x" * 513, None),
            ("command_line_arguments", "x" * 513, "is too long (maximum is 512 characters)"),
            ("redirect_stderr_to_stdout", [True], "is invalid"),
            ("enable_network", True, "enabling network is not allowed"),
            ("callback_url", {}, "is invalid"),
        ]
        for field, value, message in wrong:
            body = dict(good)
            body[field] = value
            for q in ("", "?wait=true"):
                r = req(t, srv, "POST", "/submissions" + q, body, 422, "%s=%r" % (field, value))
                t.check(isinstance(r.json, dict) and field in r.json,
                        "%s: the answer names it: %r" % (field, r.json))
                if message and isinstance(r.json, dict) and field in r.json:
                    t.eq(r.json[field][0], message, "%s=%r: message" % (field, shorten(value, 20)))
        r = req(t, srv, "POST", "/submissions?wait=true", "{not json", 400, "not JSON")
        after = req(t, srv, "GET", "/submissions?fields=token", None).json
        t.eq(after, before, "nothing stored by refused submissions")
        big = dict(good, source_code="#" * (10 << 20))
        r = req(t, srv, "POST", "/submissions?wait=true", big, 422, "10 MB source")
        t.eq(r.json, {"source_code": ["is too long (maximum is 4194304 characters)"]},
             "10 MB source: the answer")
        after = req(t, srv, "GET", "/submissions?fields=token", None).json
        t.eq(after, before, "nothing stored by the big one")
        r = raw_post_large(t, srv, "/submissions", 20 << 20)
        t.eq(r.status, 413, "20 MB body (over message_max_bytes): 413 (%r)"
             % shorten(r.body, 200))


@case("dialect_judge0.resumed_after_restart", lang="python")
def resumed_after_restart(t):
    """Submissions still queued when the server stops (SIGTERM) stay queued in the store and
    the next server on the same store runs them (the dialect's start hook)."""
    src = "import time; time.sleep(1.5); print(%d)"
    db = t.tmpdir() + "/submissions.db"
    with server(t, "--max-concurrent", "1", store=db) as srv:
        if has_store(t, srv) is None:
            t.skip("the server has no submission store")
        toks = [req(t, srv, "POST", "/submissions", {"source_code": src % i, "language_id": PY},
                    201).json["token"] for i in range(3)]
        r = req(t, srv, "GET", "/submissions/" + toks[2], None, 200)
        t.eq(r.json["status"]["id"], 1, "waiting for its slot (not yet leased): In Queue")
    # the harness stopped it with SIGTERM: the queued runs were dropped, still queued in the store
    with server(t, "--max-concurrent", "1", store=db) as srv:
        deadline = time.monotonic() + 10  # said after the "listening" line the harness waits for
        while (not re.search(r"judge0: \d+ of \d+ queued submissions resumed",
                             srv.stderr_text()) and time.monotonic() < deadline):
            time.sleep(0.05)
        t.check(re.search(r"judge0: \d+ of \d+ queued submissions resumed", srv.stderr_text()),
                "the start hook says what it resumed")
        for i, tok in enumerate(toks):
            o = wait_done(t, srv, tok)
            check_status(t, o, 3, "resumed %d" % i)
            t.eq(o["stdout"], "%d\n" % i, "resumed %d: stdout" % i)


@case("dialect_judge0.x_auth_token")
def x_auth_token(t):
    """With tokens configured, Judge0's X-Auth-Token header is accepted as runcell's token."""
    cfg = write_config(t, {"tokens": ["s3cret"], "store": {"path": t.tmpdir() + "/s.db"}})
    with Server(t, "--config", cfg) as srv:
        r = http_req(t, srv, "GET", "/statuses")
        t.eq(r.status, 401, "no token")
        r = http_req(t, srv, "GET", "/statuses", headers={"X-Auth-Token": "wrong"})
        t.eq(r.status, 401, "a wrong token")
        r = http_req(t, srv, "GET", "/statuses", headers={"X-Auth-Token": "s3cret"})
        t.eq(r.status, 200, "X-Auth-Token")
        t.eq(len(r.json or []), 14, "the statuses")


@case("dialect_judge0.callback", lang="python")
def callback(t):
    """A callback_url on an allowed host gets a PUT of the finished submission (Base64); one on
    another host is refused 422 at submission."""
    import http.server
    import threading
    got = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            n = int(self.headers.get("content-length", 0))
            got.append((self.path, self.rfile.read(n)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    rs = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    port = rs.server_address[1]
    th = threading.Thread(target=rs.serve_forever, daemon=True)
    th.start()
    try:
        cfg = write_config(t, {"store": {"path": t.tmpdir() + "/s.db"},
                               "callbacks": {"allow_hosts": ["127.0.0.1:%d" % port]}})
        with Server(t, "--config", cfg) as srv:
            r = req(t, srv, "GET", "/config_info", None, 200)
            t.eq(r.json["enable_callbacks"], True, "config_info: enable_callbacks")
            r = req(t, srv, "POST", "/submissions",
                    {"source_code": "print(7)", "language_id": PY,
                     "callback_url": "http://127.0.0.1:%d/done" % port}, 201)
            tok = r.json["token"]
            deadline = time.monotonic() + 30
            while not got and time.monotonic() < deadline:
                time.sleep(0.1)
            t.check(got, "a PUT reached the receiver")
            if got:
                path, body = got[0]
                t.eq(path, "/done", "the callback's path")
                o = json.loads(body)
                # Judge0 sends its default fields only; what runcell's deliverer sends is
                # checked for those (judge0_callback_body() gives exactly them)
                t.check(DEFAULT_FIELDS <= set(o), "the default fields: %r" % sorted(o))
                t.eq(o.get("token"), tok, "token")
                t.eq(o.get("stdout"), b64("7\n"), "stdout in Base64")
                check_status(t, o, 3, "callback")
            r = req(t, srv, "POST", "/submissions",
                    {"source_code": "print(7)", "language_id": PY,
                     "callback_url": "http://192.0.2.1/x"}, 422, "a host not allowed")
            t.check("callback_url" in r.json, "names callback_url: %r" % r.json)
    finally:
        rs.shutdown()
