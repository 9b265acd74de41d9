"""runcell judge: one submission compiled once, many tests, a verdict per test."""

import json
import os
import time

from harness import case, expect_bad_input, prog
from judge_util import judge_json, make_tests

SOL = prog("judge", "sol.c")
PY_SUM = prog("judge", "checkless.py")


@case("judge.mixed_verdicts", lang="c")
def mixed_verdicts(t):
    """20 tests of one C submission, several at once, each verdict right."""
    want = {}
    tests = []
    kinds = (["accepted"] * 9 + ["wrong_answer"] * 3 + ["time_limit"] * 4 +
             ["runtime_error"] * 2 + ["memory_limit"] * 2)
    for i, kind in enumerate(kinds):
        name = "%02d-%s" % (i + 1, kind)
        a, b = i * 7, i * 3 + 1
        stdin = {"accepted": "ok %d %d\n", "wrong_answer": "wrong %d %d\n",
                 "time_limit": "loop %d %d\n", "runtime_error": "crash %d %d\n",
                 "memory_limit": "hog %d %d\n"}[kind] % (a, b)
        tests.append((name, stdin, "%d\n" % (a + b)))
        want[name] = kind
    d = make_tests(t, tests)
    t0 = time.monotonic()
    r, obj = judge_json(t, ["--tests", d, "--parallel", "4", "--wall-ms", "3000",
                            "--cpu-ms", "1000", "--memory-mb", "32", SOL], rc=1)
    elapsed = time.monotonic() - t0
    t.eq(obj["language"], "c", "language")
    t.eq(obj["compile"]["status"], "ok", "compile status (compiled once)")
    t.eq(len(obj["tests"]), 20, "tests reported")
    got = {x["name"]: x["verdict"] for x in obj["tests"]}
    t.eq(got, want, "verdicts")
    names = [x["name"] for x in obj["tests"]]
    t.eq(names, sorted(names), "tests in their order")
    for x in obj["tests"]:
        if x["verdict"] == "wrong_answer":
            t.check(x["diff"] and x["diff"]["expected_line"] == 1 and
                    int(x["diff"]["got"]) == int(x["diff"]["expected"]) + 1,
                    "wrong_answer diff: %r" % x["diff"])
        else:
            t.eq(x["diff"], None, "diff of %s" % x["name"])
        if x["verdict"] == "runtime_error":
            t.eq(x["run"]["signal"], "SIGSEGV", "signal of %s" % x["name"])
        if x["verdict"] == "accepted":
            t.eq(x["run"]["stdout"], tests[names.index(x["name"])][2], "stdout kept")
    s = obj["summary"]
    t.eq((s["passed"], s["total"], s["run"]), (9, 20, 20), "summary")
    t.eq(s["first_failure"], "10-wrong_answer", "first failing test")
    # Four tests spin for 1 s of CPU time each (more of wall time): one after another they
    # alone would take their sum.
    walls = sum(x["run"]["wall_ms"] for x in obj["tests"]) / 1000.0
    t.check(elapsed < walls, "tests ran one at a time: %.1f s in all for %.1f s of runs"
            % (elapsed, walls))


@case("judge.interpreted_json", lang="python")
def interpreted_json(t):
    d = make_tests(t, [("1", "x 1 2\n", "3\n")])
    r, obj = judge_json(t, ["--tests", d, PY_SUM], rc=0)
    t.eq(obj["compile"], None, "no compile stage")
    t.eq(obj["tests"][0]["verdict"], "accepted", "verdict")


@case("judge.table_and_exit_status", lang="python")
def table_and_exit_status(t):
    d = make_tests(t, [("1", "x 1 2\n", "3\n"), ("2", "x 10 20\n", "30   \n\n\n"),
                       ("10", "x 5 5\n", "10\n"), ("3", "x\n", "1\n")])
    # test 3 gives the program too little input: it fails, runtime_error
    r = t.runcell("judge", "--tests", d, PY_SUM)
    t.eq(r.rc, 1, "exit status with a failing test")
    lines = r.stdout.splitlines()
    t.check(lines and lines[0].split()[:2] == ["TEST", "VERDICT"], "header: %r" % lines[:1])
    verdicts = {ln.split()[0]: ln.split()[1] for ln in lines[1:-1]}
    t.eq(verdicts, {"1": "accepted", "2": "accepted", "10": "accepted", "3": "runtime_error"},
         "one line per test")
    t.eq(lines[-1], "passed 3/4 (first failure: 3)", "summary line (version order: 1 2 3 10)")
    d2 = make_tests(t, [("a", "x 1 1\n", "2\n"), ("b", "x 2 2\n", "4\n")])
    r = t.runcell("judge", "--tests", d2, PY_SUM)
    t.eq(r.rc, 0, "exit status when every test passed")
    t.eq(r.stdout.splitlines()[-1], "passed 2/2", "summary")


@case("judge.compile_error_runs_nothing", lang="c")
def compile_error(t):
    d = make_tests(t, [("1", "ok 1 2\n", "3\n"), ("2", "ok 2 2\n", "4\n")])
    src = t.write(t.tmpdir(), "broken.c", "int main(void) { return undefined_name; }\n")
    r, obj = judge_json(t, ["--tests", d, src], rc=1)
    t.eq(obj["compile"]["status"], "compile_error", "compile status")
    t.contains(obj["compile"]["stderr"], "undefined_name", "compiler message")
    t.eq([x["verdict"] for x in obj["tests"]], ["skipped", "skipped"], "no test ran")
    t.eq(obj["summary"]["run"], 0, "tests run")


@case("judge.compare_modes", lang="c")
def compare_modes(t):
    d = make_tests(t, [("1", "div 1 3\n", "0.333333\n"), ("2", "div 2 3\n", "0.6666667\n")])
    r, obj = judge_json(t, ["--tests", d, "--compare", "float", "--abs-tol", "1e-5", SOL], rc=0)
    t.eq([x["verdict"] for x in obj["tests"]], ["accepted", "accepted"], "float within 1e-5")
    r, obj = judge_json(t, ["--tests", d, "--compare", "float", "--abs-tol", "1e-9",
                            "--rel-tol", "1e-9", SOL], rc=1)
    t.eq([x["verdict"] for x in obj["tests"]], ["wrong_answer", "accepted"],
         "float within 1e-9 (0.3333333 vs 0.333333)")
    r, obj = judge_json(t, ["--tests", d, "--compare", "exact", SOL], rc=1)
    t.eq(obj["tests"][0]["verdict"], "wrong_answer", "exact")
    d2 = make_tests(t, [("1", "ok 1 2\n", "3"), ("2", "ok 1 2\n", " 3 \n")])
    r, obj = judge_json(t, ["--tests", d2, "--compare", "tokens", SOL], rc=0)
    r, obj = judge_json(t, ["--tests", d2, "--compare", "trim", SOL], rc=1)
    t.eq([x["verdict"] for x in obj["tests"]], ["accepted", "wrong_answer"],
         "trim keeps leading white space (as Judge0)")
    r, obj = judge_json(t, ["--tests", d2, "--compare", "exact", SOL], rc=1)
    t.eq([x["verdict"] for x in obj["tests"]], ["wrong_answer", "wrong_answer"], "exact")


@case("judge.stop_on_first_failure", lang="c")
def stop_on_first_failure(t):
    d = make_tests(t, [("1", "ok 1 2\n", "3\n"), ("2", "wrong 1 1\n", "2\n"),
                       ("3", "ok 2 2\n", "4\n"), ("4", "ok 3 3\n", "6\n")])
    r, obj = judge_json(t, ["--tests", d, "--parallel", "1", "--stop-on-first-failure", SOL],
                        rc=1)
    t.eq([x["verdict"] for x in obj["tests"]],
         ["accepted", "wrong_answer", "skipped", "skipped"], "verdicts")
    t.eq(obj["summary"]["run"], 2, "tests run")


@case("judge.bad_input")
def bad_input(t):
    d = make_tests(t, [("1", "ok 1 2\n", "3\n")])
    expect_bad_input(t, t.runcell("judge", SOL), "no --tests")
    expect_bad_input(t, t.runcell("judge", "--tests", "/nonexistent-dir", SOL), "missing dir")
    expect_bad_input(t, t.runcell("judge", "--tests", d, "--compare", "fuzzy", SOL), "mode")
    expect_bad_input(t, t.runcell("judge", "--tests", d, "--parallel", "0", SOL), "parallel")
    expect_bad_input(t, t.runcell("judge", "--tests", d, "--abs-tol", "-1", SOL), "tolerance")
    expect_bad_input(t, t.runcell("judge", "--tests", d, "--stdin", d, SOL), "--stdin")
    empty = t.tmpdir()
    expect_bad_input(t, t.runcell("judge", "--tests", empty, SOL), "no tests")
    many = t.tmpdir()
    for i in range(1001):
        t.write(many, "%d.in" % i, "")
    line = expect_bad_input(t, t.runcell("judge", "--tests", many, SOL), "1001 tests")
    t.contains(line, "1000", "the limit is named")


# ------------------------------------------------------------------ through the server

def sol_source():
    with open(SOL) as f:
        return f.read()


def server_tests():
    """Six tests of sol.c: accepted x2, wrong_answer, runtime_error, time_limit (its own
    limits), and one with a float comparison's worth of digits compared as trim."""
    return [
        {"name": "a", "stdin": "ok 1 2\n", "expected_output": "3\n"},
        {"name": "b", "stdin": "ok 20 22\n", "expected_output": "42  \n\n"},
        {"name": "c", "stdin": "wrong 1 1\n", "expected_output": "2\n"},
        {"name": "d", "stdin": "crash 0 0\n", "expected_output": ""},
        {"name": "e", "stdin": "loop 0 0\n", "expected_output": "",
         "limits": {"wall_ms": 1500, "cpu_ms": 500}},
        {"stdin": "ok 2 2\n", "expected_output": "4\n"},
    ]


WANT = {"a": "accepted", "b": "accepted", "c": "wrong_answer", "d": "runtime_error",
        "e": "time_limit", "6": "accepted"}


@case("judge.server_http", lang="c")
def server_http(t):
    from server_util import Server, http_req
    with Server(t) as srv:
        resp = http_req(t, srv, "POST", "/api/v1/run",
                        {"language": "c", "source": sol_source(), "tests": server_tests()})
        t.eq(resp.status, 200, "HTTP status")
        o = resp.json
        t.eq(o["compile"]["status"], "ok", "compiled once")
        t.eq({x["name"]: x["verdict"] for x in o["tests"]}, WANT, "verdicts")
        t.eq(o["summary"], {"passed": 3, "total": 6, "run": 6, "first_failure": "c"}, "summary")
        c = [x for x in o["tests"] if x["name"] == "c"][0]
        t.eq(c["diff"], {"expected_line": 1, "expected": "2", "got_line": 1, "got": "3"},
             "diff")
        e = [x for x in o["tests"] if x["name"] == "e"][0]
        # its own limits (cpu 500 ms, wall 1.5 s), not C's default 5 s; on a loaded host the
        # wall clock may come first
        t.check(e["run"].get("limit") in ("cpu", "wall") and e["run"]["wall_ms"] < 4000,
                "the test's own limits ended it: %r" % e["run"])
        # float comparison, stop on first failure
        resp = http_req(t, srv, "POST", "/api/v1/run", {
            "language": "c", "source": sol_source(),
            "compare": {"mode": "float", "abs_tol": 1e-3},
            "stop_on_first_failure": True,
            "tests": [{"stdin": "div 1 3\n", "expected_output": "0.3334\n"},
                      {"stdin": "div 1 3\n", "expected_output": "0.5\n"},
                      {"stdin": "div 2 3\n", "expected_output": "0.6667\n"}]})
        t.eq(resp.status, 200, "HTTP status")
        verdicts = [x["verdict"] for x in resp.json["tests"]]
        t.eq(verdicts[:2], ["accepted", "wrong_answer"], "float verdicts")
        # tests run several at once: the third may have started before the second failed
        t.check(verdicts[2] in ("skipped", "accepted"), "third: %r" % verdicts[2])
        # a compile error: no test runs
        resp = http_req(t, srv, "POST", "/api/v1/run", {
            "language": "c", "source": "int main(void) { return nope; }\n",
            "tests": [{"stdin": "", "expected_output": ""}]})
        t.eq(resp.json["compile"]["status"], "compile_error", "compile status")
        t.eq(resp.json["tests"][0]["verdict"], "skipped", "test after a compile error")
        # a checker (any language) decides
        with open(prog("judge", "checker.py")) as f:
            checker = f.read()
        with open(prog("judge", "answers.py")) as f:
            answers = f.read()
        resp = http_req(t, srv, "POST", "/api/v1/run", {
            "language": "python", "source": answers,
            "compare": {"mode": "checker", "language": "python", "source": checker},
            "tests": [{"name": x, "stdin": x + "\n", "expected_output": "hello\n"}
                      for x in "abcd"]})
        t.eq(resp.status, 200, "HTTP status")
        t.eq({x["name"]: (x["verdict"], x.get("message")) for x in resp.json["tests"]},
             {"a": ("accepted", None), "b": ("wrong_answer", "expected 'hello', got 'nope'"),
              "c": ("presentation_error", "empty output"),
              "d": ("internal_error", "the checker failed (exit 3)")}, "checker verdicts")
        # interpreted: no compile stage
        resp = http_req(t, srv, "POST", "/api/v1/run", {
            "language": "python", "source": "print(sum(map(int, input().split()[1:])))\n",
            "tests": [{"stdin": "x 1 2\n", "expected_output": "3\n"},
                      {"stdin": "x 1 2\n", "expected_output": "4\n"}]})
        t.eq(resp.json["compile"], None, "no compile stage")
        t.eq([x["verdict"] for x in resp.json["tests"]], ["accepted", "wrong_answer"],
             "python verdicts")


@case("judge.server_ws", lang="c")
def server_ws(t):
    from server_util import WS, Server, run_async

    async def go(srv):
        async with WS(t, srv) as ws:
            await ws.run("j1", language="c", source=sol_source(), tests=server_tests())
            evs = await ws.done("j1", timeout=120)
            kinds = [e["type"] for _, e in evs]
            t.eq(kinds[0], "queued", "first event")
            t.check("exit" in kinds and kinds.index("exit") < kinds.index("test"),
                    "the compile stage's exit comes before the tests: %r" % kinds)
            tests = [e for _, e in evs if e["type"] == "test"]
            t.eq(len(tests), 6, "one test event per test")
            t.eq({e["name"]: e["verdict"] for e in tests}, WANT, "verdicts")
            t.eq(sorted(e["index"] for e in tests), list(range(6)), "indexes")
            done = evs[-1][1]
            t.eq(done["type"], "done", "last event")
            t.eq(done["summary"]["passed"], 3, "summary.passed")
            # a judged run can be killed
            await ws.run("j2", language="c", source=sol_source(),
                         tests=[{"stdin": "loop 0 0\n", "expected_output": "",
                                 "limits": {"wall_ms": 20000, "cpu_ms": 20000}}] * 3)
            await ws.wait_type("exit", "j2", timeout=60, stage="compile")
            await ws.send({"type": "kill", "id": "j2"})
            evs = await ws.done("j2", timeout=60)
            t.eq({e["verdict"] for _, e in evs if e["type"] == "test"} - {"killed"}, set(),
                 "killed tests")
    with Server(t) as srv:
        run_async(t, go(srv), timeout=240)


@case("judge.server_bad_requests")
def server_bad_requests(t):
    from server_util import Server, http_req
    base = {"language": "python", "source": "print(1)\n"}
    bad = [
        ({"tests": []}, "tests"),
        ({"tests": {}}, "tests"),
        ({"tests": [5]}, "tests[0]"),
        ({"tests": [{"stdin": 5}]}, "tests[0].stdin"),
        ({"tests": [{"expected_output": ["x"]}]}, "expected_output"),
        ({"tests": [{"args": "x"}]}, "tests[0].args"),
        ({"tests": [{"bogus": 1}]}, "bogus"),
        ({"tests": [{"name": "n" * 200}]}, "name"),
        ({"tests": [{"limits": {"wall_ms": -1}}]}, "tests[0].limits"),
        ({"tests": [{}], "compare": "fuzzy"}, "compare"),
        ({"tests": [{}], "compare": {"mode": "float", "abs_tol": -1}}, "abs_tol"),
        ({"tests": [{}], "stop_on_first_failure": "yes"}, "stop_on_first_failure"),
        ({"tests": [{}], "stdin": "x"}, "stdin"),
        ({"tests": [{}], "interactive": True}, "interactive"),
        ({"compare": "exact"}, "tests"),
        ({"tests": [{}], "compare": {"mode": "checker", "source": "x"}}, "language"),
        ({"tests": [{}], "compare": {"mode": "checker", "language": "python"}}, "source"),
        ({"tests": [{}], "compare": {"mode": "checker", "language": "python", "source": "x",
                                     "abs_tol": 1}}, "abs_tol"),
        ({"tests": [{}], "compare": {"mode": "checker", "language": "python",
                                     "files": [{"name": "-x.py", "content": "x"}]}}, "checker"),
        ({"tests": [{}] * 1001}, "1000"),
    ]
    with Server(t) as srv:
        for extra, word in bad:
            body = dict(base, **extra)
            resp = http_req(t, srv, "POST", "/api/v1/run", body)
            t.eq(resp.status, 400, "status for %s" % shorten_json(extra))
            t.eq(resp.json["error"]["code"], "bad_request", "code for %s" % shorten_json(extra))
            t.contains(resp.json["error"]["message"], word, "message for %s"
                       % shorten_json(extra))
        resp = http_req(t, srv, "POST", "/api/v1/run", dict(base, tests=[{"stdin": ""}]))
        t.eq(resp.status, 200, "a good request after the bad ones")


def shorten_json(o):
    s = json.dumps(o)
    return s if len(s) < 80 else s[:77] + "..."


@case("judge.checker", lang="python")
def checker(t):
    d = make_tests(t, [(x, x + "\n", "hello\n") for x in "abcd"])
    r, obj = judge_json(t, ["--tests", d, "--checker", prog("judge", "checker.py"),
                            prog("judge", "answers.py")], rc=3)
    got = {x["name"]: (x["verdict"], x.get("message")) for x in obj["tests"]}
    t.eq(got, {"a": ("accepted", None),
               "b": ("wrong_answer", "expected 'hello', got 'nope'"),
               "c": ("presentation_error", "empty output"),
               "d": ("internal_error", "the checker failed (exit 3)")}, "checker verdicts")
    # a checker in another language, compiled once
    r, obj = judge_json(t, ["--tests", d, "--checker", prog("judge", "checker.c"),
                            prog("judge", "answers.py")], rc=1)
    got = {x["name"]: x["verdict"] for x in obj["tests"]}
    t.eq(got, {"a": "accepted", "b": "wrong_answer", "c": "presentation_error",
               "d": "wrong_answer"}, "C checker verdicts")
    # a checker that does not compile is the judge's failure, not the contestant's
    bad = t.write(t.tmpdir(), "bad.c", "int main(void) { return nope; }\n")
    r, obj = judge_json(t, ["--tests", d, "--checker", bad, prog("judge", "answers.py")], rc=3)
    t.eq({x["verdict"] for x in obj["tests"]}, {"internal_error"}, "verdicts")
    t.contains(obj["tests"][0]["message"], "the checker did not compile", "message")
    expect_bad_input(t, t.runcell("judge", "--tests", d, "--checker-lang", "c",
                                  prog("judge", "answers.py")), "--checker-lang alone")


# ------------------------------------------------------------------ the server: limits, types

def runs_so_far(t, srv):
    """Runs the server has ended and started (the metrics): a refused request adds to neither."""
    from server_util import get_metrics
    m = get_metrics(t, srv)
    return m.total("runcell_runs_total"), m.total("runcell_dialect_runs_total")


def refused(t, resp, status, code, word, what):
    t.eq(resp.status, status, "status for %s" % what)
    err = (resp.json or {}).get("error") or {}
    t.eq(err.get("code"), code, "error code for %s" % what)
    t.contains(err.get("message", ""), word, "message for %s" % what)


@case("judge.server_too_many_tests")
def server_too_many_tests(t):
    """10,000 tests in one request: refused at once by the parser's limit (1000, in
    docs/protocol.md), well under the body limit, and nothing runs."""
    from server_util import Server, http_req
    tests = [{"name": "t%d" % i, "stdin": "ok %d 1\n" % i, "expected_output": "%d\n" % (i + 1)}
             for i in range(10000)]
    body = {"language": "c", "source": "int main(void) { return 0; }\n", "tests": tests}
    t.check(len(json.dumps(body)) < (16 << 20), "the body is under message_max_bytes")
    with Server(t) as srv:
        before = runs_so_far(t, srv)
        t0 = time.monotonic()
        resp = http_req(t, srv, "POST", "/api/v1/run", body)
        took = time.monotonic() - t0
        refused(t, resp, 400, "bad_request", "1000", "10,000 tests")
        t.contains(resp.json["error"]["message"], "tests", "the key is named")
        t.check(took < 10, "refused at once, not after running anything: %.1f s" % took)
        # one over the limit, the same
        resp = http_req(t, srv, "POST", "/api/v1/run", dict(body, tests=tests[:1001]))
        refused(t, resp, 400, "bad_request", "1000", "1001 tests")
        t.eq(runs_so_far(t, srv), before, "no run started or ended")


@case("judge.server_expected_output_too_large")
def server_expected_output_too_large(t):
    """An expected_output of 100 MB, in the native shape: the body is over message_max_bytes
    (16 MiB), so the server refuses it as too large (413 too_large) and runs nothing."""
    from server_util import Server, http_req, raw_post_large
    prefix = (b'{"language":"c","source":"int main(void) { return 0; }\\n",'
              b'"tests":[{"name":"big","stdin":"","expected_output":"')
    suffix = b'"}]}'
    with Server(t) as srv:
        before = runs_so_far(t, srv)
        t0 = time.monotonic()
        resp = raw_post_large(t, srv, "/api/v1/run", 100 << 20, timeout=120,
                              prefix=prefix, suffix=suffix)
        took = time.monotonic() - t0
        refused(t, resp, 413, "too_large", "size limit", "a 100 MB expected_output")
        t.check(took < 60, "answered in %.1f s" % took)
        t.eq(runs_so_far(t, srv), before, "no run started or ended")
        # the server goes on: a judged run with a small expected_output is fine
        resp = http_req(t, srv, "POST", "/api/v1/run", {
            "language": "python", "source": "print(input())\n",
            "tests": [{"stdin": "x\n", "expected_output": "x\n"}]})
        t.eq(resp.status, 200, "a good request after the refused one")


@case("judge.server_bad_test_fields")
def server_bad_test_fields(t):
    """Each field of a test of the wrong type, an unknown compare mode, tolerances of the wrong
    type or negative: 400 bad_request naming the field, nothing run (the cases
    judge.server_bad_requests has are not repeated)."""
    from server_util import Server, http_req
    base = {"language": "python", "source": "print(1)\n"}
    bad = [
        ({"tests": [{"name": 5}]}, "tests[0].name"),
        ({"tests": [{"name": None}]}, "tests[0].name"),
        ({"tests": [{"name": ["a"]}]}, "tests[0].name"),
        ({"tests": [{"stdin": None}]}, "tests[0].stdin"),
        ({"tests": [{"stdin": {"data": "x"}}]}, "tests[0].stdin"),
        ({"tests": [{"stdin": ["x"]}]}, "tests[0].stdin"),
        ({"tests": [{"expected_output": 3}]}, "tests[0].expected_output"),
        ({"tests": [{"expected_output": True}]}, "tests[0].expected_output"),
        ({"tests": [{"expected_output": {"x": 1}}]}, "tests[0].expected_output"),
        ({"tests": [{"args": 5}]}, "tests[0].args"),
        ({"tests": [{"args": [1, 2]}]}, "tests[0].args"),
        ({"tests": [{"args": ["a", None]}]}, "tests[0].args"),
        ({"tests": [{"args": {"a": "b"}}]}, "tests[0].args"),
        ({"tests": [{"limits": "fast"}]}, "tests[0].limits"),
        ({"tests": [{"limits": [1000]}]}, "tests[0].limits"),
        ({"tests": [{"limits": 5}]}, "tests[0].limits"),
        ({"tests": [{"limits": {"wall_ms": "1000"}}]}, "tests[0].limits"),
        ({"tests": [{"limits": {"memory_mb": True}}]}, "tests[0].limits"),
        ({"tests": [{"limits": {"bogus_ms": 1}}]}, "tests[0].limits"),
        # a test has no files of its own: the request's files are every test's
        ({"tests": [{"files": [{"name": "a.txt", "content": "x"}]}]}, "tests[0].files"),
        ({"tests": [{"files": "a.txt"}]}, "tests[0].files"),
        # the second test's mistake is named with its index
        ({"tests": [{"stdin": "ok"}, {"stdin": 7}]}, "tests[1].stdin"),
        ({"tests": [{}], "compare": {"mode": "fuzzy"}}, "compare"),
        ({"tests": [{}], "compare": {"mode": 5}}, "compare"),
        ({"tests": [{}], "compare": ""}, "compare"),
        ({"tests": [{}], "compare": 1}, "compare"),
        ({"tests": [{}], "compare": "FLOAT"}, "compare"),
        ({"tests": [{}], "compare": {"mode": "float", "abs_tol": "1e-6"}}, "abs_tol"),
        ({"tests": [{}], "compare": {"mode": "float", "abs_tol": None}}, "abs_tol"),
        ({"tests": [{}], "compare": {"mode": "float", "abs_tol": [1e-6]}}, "abs_tol"),
        ({"tests": [{}], "compare": {"mode": "float", "rel_tol": "0.1"}}, "rel_tol"),
        ({"tests": [{}], "compare": {"mode": "float", "rel_tol": True}}, "rel_tol"),
        ({"tests": [{}], "compare": {"mode": "float", "rel_tol": -1e-9}}, "rel_tol"),
        ({"tests": [{}], "compare": {"mode": "float", "abs_tol": -0.5, "rel_tol": 1}},
         "abs_tol"),
    ]
    with Server(t) as srv:
        before = runs_so_far(t, srv)
        for extra, word in bad:
            what = shorten_json(extra)
            resp = http_req(t, srv, "POST", "/api/v1/run", dict(base, **extra))
            refused(t, resp, 400, "bad_request", word, what)
        t.eq(runs_so_far(t, srv), before, "no run started or ended")
        # the good forms next to them are taken
        resp = http_req(t, srv, "POST", "/api/v1/run", dict(base, tests=[
            {"name": "n", "stdin": "", "expected_output": None, "args": ["a"],
             "limits": {"wall_ms": 5000}}], compare={"mode": "float", "abs_tol": 0,
                                                      "rel_tol": 0.5}))
        t.eq(resp.status, 200, "a good request after the bad ones")
        t.eq(resp.json["tests"][0]["verdict"], "accepted", "its verdict")


@case("judge.server_concurrent_verdicts", lang="c")
def server_concurrent_verdicts(t):
    """20 tests of one C submission through POST /api/v1/run, each verdict right (accepted,
    wrong_answer, time_limit, runtime_error, memory_limit: the last two kinds by each test's
    own limits), and the tests ran several at once: the request took less than its tests' wall
    times added up. (judge.mixed_verdicts does the same through the CLI.)"""
    from server_util import Server, http_req
    kinds = (["accepted"] * 8 + ["wrong_answer"] * 3 + ["time_limit"] * 4 +
             ["runtime_error"] * 2 + ["memory_limit"] * 3)
    order = [kinds[(i * 7) % 20] for i in range(20)]  # mixed, not grouped by kind
    t.eq(sorted(order), sorted(kinds), "every kind kept")
    word = {"accepted": "ok", "wrong_answer": "wrong", "time_limit": "loop",
            "runtime_error": "crash", "memory_limit": "hog"}
    tests, want = [], {}
    for i, kind in enumerate(order):
        a, b = i * 5, i * 11 + 2
        test = {"name": "%02d-%s" % (i + 1, kind), "stdin": "%s %d %d\n" % (word[kind], a, b),
                "expected_output": "%d\n" % (a + b)}
        if kind == "time_limit":
            test["limits"] = {"cpu_ms": 1000, "wall_ms": 3000}
        if kind == "memory_limit":
            test["limits"] = {"memory_mb": 32}
        tests.append(test)
        want[test["name"]] = kind
    with Server(t, "--max-concurrent", "4") as srv:
        t0 = time.monotonic()
        resp = http_req(t, srv, "POST", "/api/v1/run",
                        {"language": "c", "source": sol_source(), "tests": tests}, timeout=240)
        elapsed = time.monotonic() - t0
        t.eq(resp.status, 200, "HTTP status")
        o = resp.json
        t.eq(o["compile"]["status"], "ok", "compiled once")
        t.eq([x["name"] for x in o["tests"]], [x["name"] for x in tests], "tests in their order")
        t.eq({x["name"]: x["verdict"] for x in o["tests"]}, want, "verdicts")
        for x in o["tests"]:
            kind = want[x["name"]]
            if kind == "wrong_answer":
                t.check(x["diff"] and int(x["diff"]["got"]) == int(x["diff"]["expected"]) + 1,
                        "diff of %s: %r" % (x["name"], x["diff"]))
            if kind == "runtime_error":
                t.eq(x["run"]["signal"], "SIGSEGV", "signal of %s" % x["name"])
            if kind == "time_limit":
                t.check(x["run"].get("limit") in ("cpu", "wall") and x["run"]["wall_ms"] < 4500,
                        "its own limits ended %s: %r" % (x["name"], x["run"]))
            if kind == "memory_limit":
                t.check(x["run"]["memory_kb"] is None or x["run"]["memory_kb"] <= 40 * 1024,
                        "memory of %s: %r" % (x["name"], x["run"]))
        first = [x["name"] for x in tests if want[x["name"]] != "accepted"][0]
        t.eq(o["summary"], {"passed": 8, "total": 20, "run": 20, "first_failure": first},
             "summary")
        walls = sum(x["run"]["wall_ms"] for x in o["tests"]) / 1000.0
        t.check(walls > 4.0, "four tests spun for a second of CPU time each: %.1f s" % walls)
        t.check(elapsed < walls, "tests ran one at a time: %.1f s for %.1f s of runs"
                % (elapsed, walls))
