"""The language matrix, for every toolchain file (tests/e2e/programs/README.md): the toolchain's
hello and stdin examples, arguments, exit code 3, a compile or syntax error, a memory-hungry
program, option-like file names (compiled languages), the language from the file extension in
human mode, and every alias. Then cases of single languages: crashes, limits, files, modes."""

import os
import re

from harness import (ALIASES, COMPILED, EXT, LANGS, PROGRAMS, TOOLCHAIN_ERRORS, TOOLCHAINS,
                     TOOLCHAINS_DIR, Fail, case, example, example_file, expect_bad_input,
                     expect_stage, matrix_info, prog, shorten)

ARGS = ["a", "b c", "d"]
ARGS_EXPECT = "argc=3\n[a]\n[b c]\n[d]\n"
MATRIX_PROGRAMS = ("args", "exit3", "broken", "memory")
# the statuses a memory-hungry program may end with; internal_error never
MEMORY_STATUSES = {"memory_limit", "runtime_error"}


def src(lang, name):
    return prog(lang, "%s.%s" % (name, EXT[lang]))


def matrix(lang):
    """programs/LANG/matrix.json, checked; Fail (never a skip) when it is missing or wrong."""
    m = matrix_info(lang)
    where = os.path.join(PROGRAMS, lang, "matrix.json")
    if m is None:
        raise Fail("%s is missing or is not a JSON object: every language needs its "
                   "programs (tests/e2e/programs/README.md)" % where)
    broken = m.get("broken")
    if isinstance(broken, str):
        broken = [broken]
    if not (isinstance(broken, list) and broken
            and all(isinstance(b, str) and b for b in broken)):
        raise Fail("%s: \"broken\" must be a non-empty string (or a list of them): %r"
                   % (where, m.get("broken")))
    mem = m.get("memory")
    if not (isinstance(mem, dict) and type(mem.get("memory_mb")) is int
            and mem["memory_mb"] > 0 and isinstance(mem.get("statuses"), list)
            and mem["statuses"] and set(mem["statuses"]) <= MEMORY_STATUSES):
        raise Fail("%s: \"memory\" must be {\"memory_mb\": N, \"statuses\": a non-empty "
                   "subset of %s, \"message\": ...}: %r" % (where, sorted(MEMORY_STATUSES), mem))
    msg = mem.get("message")
    if "runtime_error" in mem["statuses"] and not (isinstance(msg, str) and msg):
        raise Fail("%s: memory.message (what stderr holds on a runtime_error) is required "
                   "when runtime_error is allowed: %r" % (where, msg))
    for key, fields in (("args", ("argv", "stdout")), ("exit3", ("exit_code", "stdout"))):
        alt = m.get(key)
        if alt is not None and not (isinstance(alt, dict) and set(alt) == set(fields)):
            raise Fail("%s: \"%s\" must be {%s}: %r" % (where, key, ", ".join(fields), alt))
    return {"broken": broken, "memory_mb": mem["memory_mb"], "statuses": mem["statuses"],
            "message": msg, "args": m.get("args"), "exit3": m.get("exit3"),
            "not_applicable": m.get("not_applicable")}


def expect_compile_ok(t, lang, obj):
    if lang in COMPILED:
        expect_stage(t, obj["compile"], "compile", status="ok", exit_code=0,
                     signal=None)
    else:
        t.eq(obj["compile"], None, "compile stage of interpreted language")


@case("matrix.toolchains")
def matrix_toolchains(t):
    """The matrix's languages are runcell's: every toolchain file read, the same names as
    `runcell languages --json`."""
    t.eq(TOOLCHAIN_ERRORS, [], "toolchain files the matrix could not read")
    t.check(LANGS, "no toolchain file in %s" % TOOLCHAINS_DIR)
    t.check(t.suite.langinfo is not None, "runcell languages --json: %s"
            % t.suite.langinfo_error)
    t.eq(sorted(t.suite.langinfo), LANGS,
         "languages of `runcell languages --json` (the matrix reads %s)" % TOOLCHAINS_DIR)
    t.note("%d languages: %s" % (len(LANGS), " ".join(LANGS)))


def make_lang_cases(lang):
    @case("%s.programs" % lang)
    def programs(t):
        # No root filesystem needed: a language without its programs fails, it is not skipped.
        tc = TOOLCHAINS[lang]
        for which in ("hello", "stdin"):
            ex = example(lang, which)
            t.check(ex["source"].strip(), "examples.%s.source is empty" % which)
        t.check(isinstance(example(lang, "stdin").get("stdin"), str),
                "examples.stdin has no \"stdin\" text to give the program")
        exts = tc.get("source_extensions") or []  # none: every file is a source
        t.check(not exts or any(tc.get("source_file", "").endswith(e) for e in exts),
                "source_file %r ends with none of source_extensions %r"
                % (tc.get("source_file"), exts))
        m = matrix(lang)
        na = m.get("not_applicable") or {}
        t.check(isinstance(na, dict) and set(na) <= {"args", "exit3"} and
                all(isinstance(v, str) and len(v) > 20 for v in na.values()),
                "not_applicable: only args and exit3, each with its reason: %r" % na)
        d = os.path.join(PROGRAMS, lang)
        for name in MATRIX_PROGRAMS:
            if name not in na:
                src(lang, name)
        for name in ("hello", "stdin"):  # the toolchain's examples: no second copy
            dup = os.path.join(d, "%s.%s" % (name, EXT[lang]))
            t.check(not os.path.exists(dup), "%s duplicates the toolchain's examples.%s: "
                    "remove it" % (dup, name))

    @case("%s.hello" % lang, lang=lang)
    def hello(t):
        ex = example(lang, "hello")
        r, obj = t.run_json(lang, [example_file(lang, "hello")])
        t.eq(obj["language"], lang, "language")
        info = (t.suite.langinfo or {}).get(lang)
        if info:
            t.eq(obj["version"], info.get("version"),
                 "version (must match `runcell languages --json`)")
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout=ex["stdout"])
        t.eq(obj["run"]["stderr"], "", "run.stderr")

    @case("%s.stdin" % lang, lang=lang)
    def stdin(t):
        ex = example(lang, "stdin")
        d = t.tmpdir()
        f = t.write(d, "input.txt", ex.get("stdin", ""))
        r, obj = t.run_json(lang, [example_file(lang, "stdin")], stdin=f)
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout=ex["stdout"])

    # matrix.json "not_applicable": a case the language cannot have (Brainfuck has no command
    # line and no exit status of its own); its reason is checked by the programs case and
    # listed in docs/LANGUAGES.md
    not_applicable = (matrix_info(lang) or {}).get("not_applicable") or {}

    def args(t):
        # matrix.json "args" ({"argv", "stdout"}) replaces the default for a language that
        # cannot take any argument (bc: numbers only)
        alt = matrix(lang).get("args") or {}
        r, obj = t.run_json(lang, [src(lang, "args")], args=alt.get("argv", ARGS))
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0, signal=None,
                     stdout=alt.get("stdout", ARGS_EXPECT))

    def exit_code(t):
        # matrix.json "exit3" ({"exit_code", "stdout"}) for a language with no exit status of
        # its choosing (bc: 1 after an error)
        alt = matrix(lang).get("exit3") or {}
        r, obj = t.run_json(lang, [src(lang, "exit3")])
        expect_compile_ok(t, lang, obj)
        expect_stage(t, obj["run"], "run", status="runtime_error",
                     exit_code=alt.get("exit_code", 3), signal=None,
                     stdout=alt.get("stdout", "before exit\n"))

    if "args" not in not_applicable:
        case("%s.args" % lang, lang=lang)(args)
    if "exit3" not in not_applicable:
        case("%s.exit_code" % lang, lang=lang)(exit_code)

    @case("%s.human_hello" % lang, lang=lang)
    def human_hello(t):
        # Human mode, and no --lang: the language comes from the entry file's extension. If
        # the extension is not this language's alone, runcell asks for --lang (two claim it),
        # or cannot tell (none does), or takes the other language: then --lang is given.
        ex = example(lang, "hello")
        f = example_file(lang, "hello")
        ext = os.path.splitext(f)[1]
        claim = [n for n in LANGS if ext in (TOOLCHAINS[n].get("source_extensions") or [])]
        if claim == [lang]:
            r = t.runcell(*t.suite.global_args, "run", f)
        else:
            if len(claim) != 1:
                r = t.runcell(*t.suite.global_args, "run", f)
                line = expect_bad_input(t, r, "extension %s claimed by %s"
                                        % (ext, ", ".join(claim) or "no language"))
                t.contains(line, "claimed by" if claim else "cannot tell the language",
                           "runcell's error")
            t.note("%s is not %s's alone (%s): run with --lang"
                   % (ext, lang, ", ".join(claim) or "no language claims it"))
            r = t.run_lang(lang, [f], json_mode=False)
        t.rc0(r)
        t.eq(r.stdout, ex["stdout"], "stdout (program output only)")
        lines = r.stderr_lines()
        t.check(lines and lines[-1].startswith("runcell: "),
                "last stderr line must be runcell's summary ('runcell: ...'): %r"
                % shorten(r.stderr))

    def broken(t):
        m = matrix(lang)
        r, obj = t.run_json(lang, [src(lang, "broken")])
        if lang in COMPILED:
            expect_stage(t, obj["compile"], "compile", status="compile_error")
            t.eq(obj["run"], None, "run stage after a compile error")
            ec = obj["compile"]["exit_code"]
            t.check(ec is None or ec != 0,
                    "compile.exit_code of a failed compile must not be 0")
            stage, which = obj["compile"], "compiler message"
        else:
            t.eq(obj["compile"], None, "compile stage of interpreted language")
            expect_stage(t, obj["run"], "run", status="runtime_error")
            stage, which = obj["run"], "interpreter message"
        err = stage["stderr"] + stage["stdout"]
        for want in m["broken"]:
            t.contains(err, want, "%s (matrix.json \"broken\")" % which)
        t.not_contains(err, "Hello", "%s: the broken program did not run" % which)

    if lang in COMPILED:
        case("%s.compile_error" % lang, lang=lang)(broken)
    else:
        case("%s.syntax_error" % lang, lang=lang)(broken)

    @case("%s.memory" % lang, lang=lang)
    def memory(t):
        m = matrix(lang)
        # a generous wall time: near its limit the kernel reclaims before it kills, slowly on a
        # busy machine; a time_limit here would hide the verdict the case is about
        r, obj = t.run_json(lang, [src(lang, "memory")],
                            extra=["--memory-mb", str(m["memory_mb"]), "--wall-ms", "30000"])
        expect_compile_ok(t, lang, obj)
        st = obj["run"]
        t.check(st is not None, "no run stage")
        t.check(st["status"] in m["statuses"],
                "run.status of a memory-hungry program under %d MB: expected one of %s, got "
                "%r (exit_code=%r signal=%r stderr=%r%s)"
                % (m["memory_mb"], m["statuses"], st["status"], st["exit_code"], st["signal"],
                   shorten(st["stderr"], 600),
                   " error=%r" % st["error"] if "error" in st else ""))
        if st["status"] == "runtime_error":
            t.contains(st["stderr"], m["message"], "run.stderr (the runtime's own "
                       "out-of-memory error, matrix.json memory.message)")
        if st.get("memory_kb") is not None and st["status"] == "memory_limit":
            t.check(st["memory_kb"] <= (m["memory_mb"] + 8) * 1024,
                    "peak memory_kb %r over the %d MB limit" % (st["memory_kb"], m["memory_mb"]))
        t.note("%s under %d MB: %s in %d ms" % (lang, m["memory_mb"], st["status"],
                                                st["wall_ms"]))

    if lang in COMPILED:
        @case("%s.option_names" % lang, lang=lang)
        def option_names(t):
            # A file named like an option ("-x.EXT") or an argument file ("@x.EXT") must not
            # reach the compiler as one: runcell refuses the name (exit 1, one line saying
            # why), or, if it ever accepts it, the compiler takes it as a source file.
            hello_ex = example(lang, "hello")
            main_name = TOOLCHAINS[lang].get("source_file") or "main." + EXT[lang]
            for name in ("-x.%s" % EXT[lang], "@x.%s" % EXT[lang]):
                for entry in (True, False):
                    d = t.tmpdir()
                    odd = t.write(d, name, hello_ex["source"] if entry else "")
                    files = [odd] if entry else [t.write(d, main_name, hello_ex["source"]), odd]
                    r = t.run_lang(lang, files)
                    what = "%s as the %s file" % (name, "entry" if entry else "second")
                    if r.rc == 1:
                        line = expect_bad_input(t, r, what)
                        t.contains(line, 'invalid file name "%s"' % name, "%s: error" % what)
                        t.contains(line, "option", "%s: the error says why" % what)
                        continue
                    t.rc0(r, "%s: runcell exit status" % what)
                    obj = r.json()
                    expect_stage(t, obj["compile"], "compile", status="ok",
                                 exit_code=0)
                    expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                                 stdout=hello_ex["stdout"])

    for alias in ALIASES[lang]:
        def make(alias):
            @case("%s.alias_%s" % (lang, alias), lang=lang)
            def alias_case(t):
                r, obj = t.run_json(alias, [example_file(lang, "hello")])
                t.eq(obj["language"], lang, "language reported for alias %r" % alias)
                expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                             stdout=example(lang, "hello")["stdout"])
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
    r, obj = t.run_json("python", [example_file("python", "stdin")], stdin=f)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0, stdout="lines=0\n")


@case("python.large_stdin", lang="python")
def python_large_stdin(t):
    d = t.tmpdir()
    n = 30000
    f = t.write(d, "big.txt", "".join("line %d\n" % i for i in range(n)))
    r, obj = t.run_json("python", [example_file("python", "stdin")], stdin=f)
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
