"""Per-language cases: hello, stdin, args, exit code, runtime error,
compile error, human mode, aliases."""

import os
import re

from harness import (ALIASES, COMPILED, EXT, LANGS, case, expect_stage, prog,
                     shorten)

STDIN_TEXT = "alpha\nBeta gamma\n\ndelta\n"
STDIN_EXPECT = "1:ALPHA\n2:BETA GAMMA\n3:\n4:DELTA\nlines=4\n"
ARGS = ["a", "b c", "d"]
ARGS_EXPECT = "argc=3\n[a]\n[b c]\n[d]\n"


def src(lang, name):
    return prog(lang, "%s.%s" % (name, EXT[lang]))


def expect_compile_ok(t, lang, obj):
    if lang in COMPILED:
        expect_stage(t, obj["compile"], "compile", status="ok", exit_code=0,
                     signal=None)
    else:
        t.eq(obj["compile"], None, "compile stage of interpreted language")


def make_lang_cases(lang):
    @case("%s.hello" % lang, lang=lang)
    def hello(t):
        r, obj = t.run_json(lang, [src(lang, "hello")])
        t.eq(obj["language"], lang, "language")
        info = (t.suite.langinfo or {}).get(lang)
        if info:
            t.eq(obj["version"], info.get("version"),
                 "version (must match `runcell languages --json`)")
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout="Hello from %s\n" % lang)
        t.eq(obj["run"]["stderr"], "", "run.stderr")

    @case("%s.stdin" % lang, lang=lang)
    def stdin(t):
        d = t.tmpdir()
        f = t.write(d, "input.txt", STDIN_TEXT)
        r, obj = t.run_json(lang, [src(lang, "stdin")], stdin=f)
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout=STDIN_EXPECT)

    @case("%s.args" % lang, lang=lang)
    def args(t):
        r, obj = t.run_json(lang, [src(lang, "args")], args=ARGS)
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout=ARGS_EXPECT)

    @case("%s.exit_code" % lang, lang=lang)
    def exit_code(t):
        r, obj = t.run_json(lang, [src(lang, "exit3")])
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=3,
                     signal=None, stdout="before exit\n")

    @case("%s.human_hello" % lang, lang=lang)
    def human_hello(t):
        r = t.run_lang(lang, [src(lang, "hello")], json_mode=False)
        t.rc0(r)
        t.eq(r.stdout, "Hello from %s\n" % lang, "stdout (program output only)")
        lines = r.stderr_lines()
        t.check(lines and lines[-1].startswith("runcell: "),
                "last stderr line must be runcell's summary ('runcell: ...'): %r"
                % shorten(r.stderr))

    if lang in COMPILED:
        @case("%s.compile_error" % lang, lang=lang)
        def compile_error(t):
            r, obj = t.run_json(lang, [src(lang, "broken")])
            expect_stage(t, obj["compile"], "compile", status="compile_error")
            t.eq(obj["run"], None, "run stage after a compile error")
            ec = obj["compile"]["exit_code"]
            t.check(ec is None or ec != 0,
                    "compile.exit_code of a failed compile must not be 0")
            err = obj["compile"]["stderr"] + obj["compile"]["stdout"]
            t.contains(err, "broken.%s" % EXT[lang], "compiler message (file name)")
            t.contains(err, "undefined" if lang == "go" else "error",
                       "compiler message")
            t.not_contains(err, "Hello", "compiler output")

    for alias in ALIASES[lang]:
        def make(alias):
            @case("%s.alias_%s" % (lang, alias), lang=lang)
            def alias_case(t):
                r, obj = t.run_json(alias, [src(lang, "hello")])
                t.eq(obj["language"], lang, "language reported for alias %r" % alias)
                expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                             stdout="Hello from %s\n" % lang)
        make(alias)


for _lang in LANGS:
    make_lang_cases(_lang)


# ------------------------------------------------------------ runtime errors

@case("python.runtime_error", lang="python")
def python_runtime_error(t):
    r, obj = t.run_json("python", [src("python", "crash")])
    expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=1,
                 signal=None, stdout="about to divide\n")
    t.contains(obj["run"]["stderr"], "Traceback (most recent call last)", "run.stderr")
    t.contains(obj["run"]["stderr"], "ZeroDivisionError", "run.stderr")


def segv_case(lang):
    @case("%s.runtime_error_segv" % lang, lang=lang)
    def segv(t):
        r, obj = t.run_json(lang, [src(lang, "crash")])
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=None,
                     signal="SIGSEGV", stdout="about to crash\n")


segv_case("c")
segv_case("cpp")


@case("go.runtime_error_panic", lang="go")
def go_panic(t):
    r, obj = t.run_json("go", [src("go", "crash")])
    expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=2,
                 signal=None, stdout="about to panic\n")
    t.contains(obj["run"]["stderr"], "panic: boom from go", "run.stderr")


@case("rust.runtime_error_panic", lang="rust")
def rust_panic(t):
    r, obj = t.run_json("rust", [src("rust", "crash")])
    expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=101,
                 signal=None, stdout="about to panic\n")
    t.contains(obj["run"]["stderr"], "panicked", "run.stderr")
    t.contains(obj["run"]["stderr"], "boom from rust", "run.stderr")


@case("javascript.runtime_error_throw", lang="javascript")
def js_throw(t):
    r, obj = t.run_json("javascript", [src("javascript", "crash")])
    expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=1,
                 signal=None, stdout="about to throw\n")
    t.contains(obj["run"]["stderr"], "Error: boom from javascript", "run.stderr")


@case("bash.runtime_error_division", lang="bash")
def bash_div(t):
    r, obj = t.run_json("bash", [prog("bash", "crash_div.sh")])
    expect_stage(t, obj["run"], "run", status="runtime_error", signal=None,
                 stdout="before division\n")
    ec = obj["run"]["exit_code"]
    t.check(type(ec) is int and ec != 0, "run.exit_code must be a non-zero int: %r" % ec)
    t.contains(obj["run"]["stderr"], "division by 0", "run.stderr")


@case("bash.runtime_error_segv", lang="bash")
def bash_segv(t):
    r, obj = t.run_json("bash", [prog("bash", "crash_segv.sh")])
    expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=None,
                 signal="SIGSEGV", stdout="before kill\n")


# ------------------------------------------------------------ more arguments

@case("python.args_tricky", lang="python")
def python_args_tricky(t):
    tricky = ["", "--", "-n", "x y  z", "\u00fcnic\u00f8de", "$HOME", "*", "'q'"]
    r, obj = t.run_json("python", [src("python", "args")], args=tricky)
    want = "argc=%d\n" % len(tricky) + "".join("[%s]\n" % a for a in tricky)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0, stdout=want)


@case("python.no_args", lang="python")
def python_no_args(t):
    r, obj = t.run_json("python", [src("python", "args")])
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0, stdout="argc=0\n")


@case("python.empty_stdin", lang="python")
def python_empty_stdin(t):
    d = t.tmpdir()
    f = t.write(d, "empty.txt", "")
    r, obj = t.run_json("python", [src("python", "stdin")], stdin=f)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0, stdout="lines=0\n")


@case("python.large_stdin", lang="python")
def python_large_stdin(t):
    d = t.tmpdir()
    n = 30000
    f = t.write(d, "big.txt", "".join("line %d\n" % i for i in range(n)))
    r, obj = t.run_json("python", [src("python", "stdin")], stdin=f)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0)
    out = obj["run"]["stdout"]
    t.check(out.endswith("%d:LINE %d\nlines=%d\n" % (n, n - 1, n)),
            "tail of stdout: %r" % out[-80:])
    t.eq(out.count("\n"), n + 1, "number of output lines")


# ------------------------------------------------------------ multiple files

@case("c.multi_file", lang="c")
def c_multi(t):
    files = [prog("c", "multi", "main.c"), prog("c", "multi", "util.c"),
             prog("c", "multi", "util.h")]
    r, obj = t.run_json("c", files)
    expect_stage(t, obj["compile"], "compile", status="ok", exit_code=0)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                 stdout="multi-file sum: 42\n")


@case("python.multi_file", lang="python")
def python_multi(t):
    # helper.py sits in another host directory: it must land in /work by basename
    files = [prog("python", "multi", "main.py"),
             prog("python", "multi", "lib", "helper.py")]
    r, obj = t.run_json("python", files)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                 stdout="hello from helper, multi\nanswer=42\nfiles=helper.py,main.py\n")


@case("python.entry_point_is_first_file", lang="python")
def python_entry_first(t):
    d = t.tmpdir()
    a = t.write(d, "first.py", "print('I am first')\n")
    b = t.write(d, "second.py", "print('I am second')\n")
    r, obj = t.run_json("python", [a, b])
    expect_stage(t, obj["run"], "run", status="ok", stdout="I am first\n")
    r, obj = t.run_json("python", [b, a])
    expect_stage(t, obj["run"], "run", status="ok", stdout="I am second\n")


# ------------------------------------------------------------ human mode

@case("python.human_mode", lang="python")
def python_human(t):
    r = t.run_lang("python", [src("python", "human")], json_mode=False)
    t.rc0(r, "runcell exit status (program exit 5 is not runcell's failure)")
    t.eq(r.stdout, "out line 1\nout line 2\n", "stdout")
    lines = r.stderr_lines()
    t.check("err line 1" in lines, "program stderr line missing from stderr: %r"
            % shorten(r.stderr))
    t.check(lines[-1].startswith("runcell: "),
            "summary must end stderr: %r" % shorten(r.stderr))
    idx = lines.index("err line 1")
    t.check(all(ln.startswith("runcell: ") for ln in lines[idx + 1:]),
            "after the program's stderr only summary lines may follow: %r" % lines)
    t.check(not r.stdout.startswith("{"), "human mode must not print JSON")


@case("c.human_compile_error", lang="c")
def c_human_compile_error(t):
    r = t.run_lang("c", [src("c", "broken")], json_mode=False)
    t.rc0(r, "runcell exit status (a compile error is not runcell's failure)")
    t.eq(r.stdout, "", "stdout")
    t.contains(r.stderr, "broken.c", "stderr (compiler message)")
    lines = r.stderr_lines()
    t.check(lines and lines[-1].startswith("runcell: "),
            "last stderr line must be runcell's summary: %r" % shorten(r.stderr))


@case("python.json_mode_streams_nothing", lang="python")
def python_json_no_stream(t):
    r, obj = t.run_json("python", [src("python", "human")])
    expect_stage(t, obj["run"], "run", status="runtime_error", exit_code=5,
                 stdout="out line 1\nout line 2\n")
    t.eq(obj["run"]["stderr"], "err line 1\n", "run.stderr")
    t.not_contains(r.stderr, "err line 1", "runcell's own stderr in --json mode")
    t.check(r.stdout.lstrip().startswith("{"), "stdout must be only the JSON object")


@case("python.invalid_utf8", lang="python")
def python_invalid_utf8(t):
    r, obj = t.run_json("python", [src("python", "badutf8")])
    try:
        r.stdout_b.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        t.fail("runcell's JSON output is not valid UTF-8: %s" % e)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0)
    t.check(re.fullmatch("ok \ufffd+ end\n", obj["run"]["stdout"]),
            "run.stdout must have the bad bytes replaced by U+FFFD: %r"
            % obj["run"]["stdout"])
    t.check(re.fullmatch("err \ufffd+\\( end\n", obj["run"]["stderr"]),
            "run.stderr must have the bad byte replaced by U+FFFD: %r"
            % obj["run"]["stderr"])


@case("python.live_streaming", lang="python")
def python_streaming(t):
    cmd = [t.suite.bin] + t.suite.global_args + [
        "run", "--lang", "python", src("python", "stream")]
    r, events = t.exec_stream(cmd)
    t.rc0(r)
    t.eq(r.stdout, "first\nsecond\n", "stdout")
    t.contains(r.stderr, "err-first", "stderr")

    def arrival(stream, token):
        acc = b""
        for ts, s, data in events:
            if s == stream:
                acc += data
                if token in acc:
                    return ts
        return None
    t_first = arrival("stdout", b"first")
    t_err = arrival("stderr", b"err-first")
    t_second = arrival("stdout", b"second")
    t.note("arrivals: first=%s err-first=%s second=%s exit=%.2f"
           % (t_first, t_err, t_second, r.elapsed))
    t.check(None not in (t_first, t_err, t_second), "missing output events")
    # the program sleeps 1.5 s between its outputs
    t.check(t_second - t_first >= 0.8,
            "stdout is not streamed live: 'first' arrived %.2fs, 'second' %.2fs"
            % (t_first, t_second))
    t.check(t_second - t_err >= 0.8,
            "stderr is not streamed live: 'err-first' arrived %.2fs, 'second' %.2fs"
            % (t_err, t_second))
    t.check(r.elapsed - t_first >= 0.8,
            "'first' arrived only %.2fs before runcell exited" % (r.elapsed - t_first))


# ------------------------------------------------------------ limits

@case("python.time_limit_cpu", lang="python")
def python_time_limit_cpu(t):
    r, obj = t.run_json("python", [src("python", "spin")])
    expect_stage(t, obj["run"], "run", status="time_limit", exit_code=None,
                 stdout="spinning\n")
    t.check(obj["run"]["wall_ms"] >= 500, "wall_ms %r too small for a time limit"
            % obj["run"]["wall_ms"])


@case("python.time_limit_sleep", lang="python")
def python_time_limit_sleep(t):
    r, obj = t.run_json("python", [src("python", "sleep")])
    expect_stage(t, obj["run"], "run", status="time_limit", exit_code=None,
                 stdout="sleeping\n")


@case("python.output_limit", lang="python")
def python_output_limit(t):
    r, obj = t.run_json("python", [src("python", "flood")])
    expect_stage(t, obj["run"], "run", status="output_limit", exit_code=None)
    t.check(len(r.stdout_b) < 16 * 1024 * 1024,
            "runcell printed %d bytes for a flooding program" % len(r.stdout_b))
    t.check(obj["run"]["stdout"].startswith("x" * 1000),
            "output before the limit is kept: %r" % obj["run"]["stdout"][:50])


@case("python.orphan_killed", lang="python")
def python_orphan(t):
    marker = str(900000 + int.from_bytes(os.urandom(3), "big") % 99999)
    r, obj = t.run_json("python", [src("python", "orphan")], args=[marker])
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                 stdout="parent done\n")
    t.check(r.elapsed < 30, "runcell took %.1fs: it waited for the orphan" % r.elapsed)
    survivors = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd[:2] == [b"sleep", marker.encode()]:
                survivors.append(p)
    t.eq(survivors, [], "host pids of sandbox processes still alive after runcell exited")
