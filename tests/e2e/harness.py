"""Small test harness for the runcell end-to-end suite (standard library only).

Cases register themselves with the @case decorator.  Each case receives a
Ctx object which runs the runcell binary as a subprocess (always with a
timeout), records every command it ran, and offers a few assertion helpers
that raise Fail.  On failure the runner prints the recorded commands with
their exit code, stdout and stderr so that a CI log is enough to debug.
"""

import atexit
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(E2E_DIR, "programs")

TOOLCHAINS_DIR = os.environ.get("RUNCELL_TOOLCHAINS") or os.path.normpath(
    os.path.join(E2E_DIR, "..", "..", "toolchains"))


def _load_toolchains(directory):
    """Every toolchains/*.json the suite's runcell reads (RUNCELL_TOOLCHAINS, else the
    checkout's): name -> the parsed file. A file that cannot be read is kept in
    TOOLCHAIN_ERRORS (the case matrix.toolchains fails with it)."""
    found, errors = {}, []
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except OSError as e:
        return found, ["toolchains dir %s: %s" % (directory, e)]
    for n in names:
        path = os.path.join(directory, n)
        try:
            with open(path) as f:
                tc = json.load(f)
            if not isinstance(tc, dict) or not isinstance(tc.get("name"), str):
                raise ValueError("not an object with a string \"name\"")
        except (OSError, ValueError) as e:
            errors.append("%s: %s" % (path, e))
            continue
        found[tc["name"]] = tc
    return found, errors


# The languages are data: one per toolchain file, as runcell itself loads them.
TOOLCHAINS, TOOLCHAIN_ERRORS = _load_toolchains(TOOLCHAINS_DIR)
LANGS = sorted(TOOLCHAINS)
ALIASES = {n: [a for a in tc.get("aliases", []) if isinstance(a, str)]
           for n, tc in TOOLCHAINS.items()}
COMPILED = {n for n, tc in TOOLCHAINS.items() if tc.get("compile")}


def matrix_info(lang):
    """programs/LANG/matrix.json parsed, or None when it is missing or unreadable (the case
    LANG.programs fails then, with the reason)."""
    try:
        with open(os.path.join(PROGRAMS, lang, "matrix.json")) as f:
            m = json.load(f)
        return m if isinstance(m, dict) else None
    except (OSError, ValueError):
        return None


def _ext(lang):
    m = matrix_info(lang) or {}
    if isinstance(m.get("ext"), str) and m["ext"]:
        return m["ext"].lstrip(".")
    exts = TOOLCHAINS[lang].get("source_extensions") or []
    if exts and isinstance(exts[0], str):
        return exts[0].lstrip(".")
    return os.path.splitext(str(TOOLCHAINS[lang].get("source_file", "")))[1].lstrip(".")


# The extension of the test programs in programs/LANG/ (matrix.json "ext", else the first of
# the toolchain's source_extensions, else its source_file's).
EXT = {n: _ext(n) for n in LANGS}


def example(lang, which="hello"):
    """The toolchain's examples.WHICH ("hello" or "stdin"): {"source", "stdout"[, "stdin"]}.
    The hello world and the stdin program exist only there (no copy under programs/)."""
    tc = TOOLCHAINS.get(lang)
    if tc is None:
        raise Fail("no toolchain file for %s in %s" % (lang, TOOLCHAINS_DIR))
    ex = (tc.get("examples") or {}).get(which)
    if not isinstance(ex, dict) or not isinstance(ex.get("source"), str) \
            or not isinstance(ex.get("stdout"), str):
        raise Fail("%s/%s.json has no examples.%s with a source and its stdout"
                   % (TOOLCHAINS_DIR, lang, which))
    return ex


_examples_dir = None
_examples_lock = threading.Lock()


def example_file(lang, which="hello", name=None):
    """A file holding the toolchain's examples.WHICH source, named as the toolchain's
    source_file (or NAME), in a directory of this run that is removed at exit."""
    global _examples_dir
    ex = example(lang, which)
    name = name or TOOLCHAINS[lang].get("source_file") or "main." + EXT[lang]
    with _examples_lock:
        if _examples_dir is None:
            _examples_dir = tempfile.mkdtemp(prefix="runcell-e2e-examples-")
            os.chmod(_examples_dir, 0o755)
            atexit.register(shutil.rmtree, _examples_dir, True)
        d = os.path.join(_examples_dir, lang, which)
        path = os.path.join(d, name)
        if not os.path.exists(path):
            os.makedirs(d, exist_ok=True)
            for p in (os.path.join(_examples_dir, lang), d):
                os.chmod(p, 0o755)
            with open(path + ".part", "w") as f:
                f.write(ex["source"])
            os.chmod(path + ".part", 0o644)
            os.rename(path + ".part", path)
    return path


STAGE_STATUSES = {"ok", "compile_error", "runtime_error", "time_limit",
                  "memory_limit", "output_limit", "killed", "internal_error"}

REGISTRY = []


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def case(name, lang=None, needs=()):
    """Register a test case.  lang: the case needs that language's rootfs."""
    def deco(fn):
        REGISTRY.append(Case(name, fn, lang, tuple(needs)))
        return fn
    return deco


class Case:
    def __init__(self, name, fn, lang, needs):
        self.name = name
        self.fn = fn
        self.lang = lang
        self.needs = needs


def prog(lang, *parts):
    """Path of a test program under programs/<lang>/."""
    p = os.path.join(PROGRAMS, lang, *parts)
    if not os.path.exists(p):
        raise Fail("test program missing: %s" % p)
    return p


class Result:
    def __init__(self, cmd, rc, stdout, stderr, elapsed, timed_out=False,
                 env_extra=None, note=None):
        self.cmd = cmd
        self.rc = rc
        self.stdout_b = stdout
        self.stderr_b = stderr
        self.elapsed = elapsed
        self.timed_out = timed_out
        self.env_extra = env_extra or {}
        self.note = note
        self._json = None

    @property
    def stdout(self):
        return self.stdout_b.decode("utf-8", "replace")

    @property
    def stderr(self):
        return self.stderr_b.decode("utf-8", "replace")

    def stderr_lines(self):
        return [ln for ln in self.stderr.split("\n") if ln != ""]

    def json(self):
        """stdout parsed as exactly one JSON value (Fail if it is not)."""
        if self._json is None:
            try:
                self._json = json.loads(self.stdout)
            except ValueError as e:
                raise Fail("stdout is not a single JSON document: %s" % e)
        return self._json

    def describe(self, limit=3000):
        def trunc(s):
            if len(s) > limit:
                return s[:limit] + "\n... [%d more chars truncated]" % (len(s) - limit)
            return s
        out = []
        envs = "".join("%s=%s " % (k, shlex.quote(v))
                       for k, v in sorted(self.env_extra.items()))
        out.append("command: %s%s" % (envs, shlex.join(self.cmd)))
        if self.note:
            out.append("note: %s" % self.note)
        if self.timed_out:
            out.append("exit code: TIMED OUT after %.1fs (killed)" % self.elapsed)
        else:
            out.append("exit code: %s (%.2fs)" % (self.rc, self.elapsed))
        out.append("stdout:\n" + indent(trunc(self.stdout)))
        out.append("stderr:\n" + indent(trunc(self.stderr)))
        return "\n".join(out)


def indent(s, pre="  | "):
    if s == "":
        return pre + "<empty>"
    return "\n".join(pre + ln for ln in s.rstrip("\n").split("\n"))


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Ctx:
    """Per-case context."""

    def __init__(self, suite, case):
        self.suite = suite
        self.case = case
        self.results = []
        self.notes = []
        self._tmp = None

    # ---------------------------------------------------------------- files
    def tmpdir(self):
        """A fresh temporary directory for this case (removed afterwards)."""
        if self._tmp is None:
            safe = "".join(c if c.isalnum() else "_" for c in self.case.name)
            self._tmp = tempfile.mkdtemp(prefix="e2e-%s-" % safe[:40],
                                         dir=self.suite.tmproot)
            # reachable by the unprivileged uid runcell may map the sandbox to
            os.chmod(self._tmp, 0o755)
        d = tempfile.mkdtemp(dir=self._tmp)
        os.chmod(d, 0o755)
        return d

    def write(self, directory, name, content, mode=0o644):
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def cleanup(self):
        if self._tmp and not self.suite.keep:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # ------------------------------------------------------------- running
    def base_env(self, extra=None):
        env = dict(os.environ)
        if extra:
            env.update(extra)
        return env

    def runcell(self, *args, env=None, timeout=None, stdin_data=None, note=None):
        """Run runcell with args; returns Result (never raises on rc)."""
        cmd = [self.suite.bin] + [str(a) for a in args]
        return self.exec(cmd, env=env, timeout=timeout, stdin_data=stdin_data,
                         note=note)

    def exec(self, cmd, env=None, timeout=None, stdin_data=None, note=None):
        timeout = timeout or self.suite.timeout
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_data is not None
                                 else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=self.base_env(env), start_new_session=True)
        except OSError as e:
            raise Fail("cannot execute %s: %s" % (shlex.join(cmd), e))
        timed_out = False
        try:
            out, err = p.communicate(stdin_data, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            out, err = p.communicate()
            timed_out = True
        r = Result(cmd, p.returncode, out, err, time.monotonic() - t0,
                   timed_out=timed_out, env_extra=env, note=note)
        self.results.append(r)
        if timed_out:
            raise Fail("command timed out after %ss" % timeout)
        return r

    def exec_stream(self, cmd, env=None, timeout=None):
        """Run cmd reading stdout/stderr incrementally.

        Returns (Result, events) where events is a list of
        (seconds_since_start, 'stdout'|'stderr', bytes) in arrival order.
        """
        timeout = timeout or self.suite.timeout
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=self.base_env(env), start_new_session=True)
        except OSError as e:
            raise Fail("cannot execute %s: %s" % (shlex.join(cmd), e))
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ, "stdout")
        sel.register(p.stderr, selectors.EVENT_READ, "stderr")
        bufs = {"stdout": b"", "stderr": b""}
        events = []
        open_n = 2
        timed_out = False
        while open_n:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                timed_out = True
                kill_group(p)
                break
            for key, _ in sel.select(timeout=min(left, 1.0)):
                data = os.read(key.fileobj.fileno(), 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    open_n -= 1
                    continue
                events.append((time.monotonic() - t0, key.data, data))
                bufs[key.data] += data
        try:
            p.wait(timeout=max(1.0, timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            kill_group(p)
            p.wait()
            timed_out = True
        sel.close()
        p.stdout.close()
        p.stderr.close()
        exit_t = time.monotonic() - t0
        r = Result(cmd, p.returncode, bufs["stdout"], bufs["stderr"], exit_t,
                   timed_out=timed_out, env_extra=env)
        self.results.append(r)
        if timed_out:
            raise Fail("command timed out after %ss" % timeout)
        return r, events

    def run_lang(self, lang, files, stdin=None, args=None, json_mode=True,
                 env=None, extra=(), timeout=None):
        """runcell run --lang LANG [--stdin F] [--json] FILES [-- ARGS]."""
        a = list(self.suite.global_args) + ["run", "--lang", lang]
        if stdin is not None:
            a += ["--stdin", stdin]
        if json_mode:
            a.append("--json")
        a += list(extra)
        a += list(files)
        if args is not None:
            a.append("--")
            a += list(args)
        return self.runcell(*a, env=env, timeout=timeout)

    def run_json(self, lang, files, **kw):
        """Run in --json mode; checks rc 0 and the JSON shape, returns (r, obj)."""
        r = self.run_lang(lang, files, json_mode=True, **kw)
        self.rc0(r, "runcell exit status (sandbox worked)")
        obj = r.json()
        check_result_shape(self, obj)
        return r, obj

    # ---------------------------------------------------------- assertions
    def fail(self, msg):
        raise Fail(msg)

    def skip(self, msg):
        raise Skip(msg)

    def check(self, cond, msg):
        if not cond:
            raise Fail(msg)

    def eq(self, got, want, what):
        if got != want:
            raise Fail("%s: expected %r, got %r" % (what, want, got))

    def contains(self, hay, needle, what):
        if needle not in hay:
            raise Fail("%s: expected to contain %r, got %r"
                       % (what, needle, shorten(hay)))

    def not_contains(self, hay, needle, what):
        if needle in hay:
            raise Fail("%s: must not contain %r, got %r"
                       % (what, needle, shorten(hay)))

    def rc0(self, r, what="runcell exit status"):
        """r.rc must be 0; the reason carries the last stderr line."""
        if r.rc != 0:
            last = r.stderr_lines()[-1:] or ["<empty stderr>"]
            why = "stderr: %s" % shorten(last[0], 300)
            try:  # in --json mode the reason is in the stage's "error"
                o = json.loads(r.stdout)
                errs = ["%s: %s %s" % (k, o[k].get("status"), o[k].get("error", ""))
                        for k in ("compile", "run") if isinstance(o.get(k), dict)]
                why = "JSON: " + "; ".join(errs)
            except (ValueError, AttributeError, TypeError):
                pass
            raise Fail("%s: expected 0, got %r; %s" % (what, r.rc, shorten(why, 400)))

    def note(self, msg):
        self.notes.append(msg)


def shorten(s, n=600):
    s = str(s)
    return s if len(s) <= n else s[:n] + "...[truncated]"


def check_stage_shape(t, stage, which):
    t.check(isinstance(stage, dict), "%s stage is not an object: %r" % (which, stage))
    for k in ("status", "exit_code", "signal", "stdout", "stderr", "wall_ms"):
        t.check(k in stage, "%s stage lacks field %r: %r" % (which, k, shorten(stage)))
    t.check(stage["status"] in STAGE_STATUSES,
            "%s.status %r is not a known status" % (which, stage["status"]))
    t.check(stage["exit_code"] is None or type(stage["exit_code"]) is int,
            "%s.exit_code must be int or null: %r" % (which, stage["exit_code"]))
    t.check(stage["signal"] is None or (isinstance(stage["signal"], str)
                                        and stage["signal"].startswith("SIG")),
            "%s.signal must be null or 'SIG...': %r" % (which, stage["signal"]))
    t.check(isinstance(stage["stdout"], str) and isinstance(stage["stderr"], str),
            "%s.stdout/stderr must be strings" % which)
    t.check(type(stage["wall_ms"]) is int and stage["wall_ms"] >= 0,
            "%s.wall_ms must be a non-negative int: %r" % (which, stage["wall_ms"]))
    if stage["status"] == "internal_error":
        t.check(isinstance(stage.get("error"), str) and stage.get("error"),
                "%s: internal_error stage must carry an 'error' message" % which)


def check_result_shape(t, obj):
    t.check(isinstance(obj, dict), "JSON result is not an object: %r" % shorten(obj))
    for k in ("language", "version", "compile", "run"):
        t.check(k in obj, "JSON result lacks %r: %r" % (k, shorten(obj)))
    t.check(isinstance(obj["language"], str) and obj["language"] in LANGS,
            "language %r is not a canonical language name" % (obj["language"],))
    t.check(isinstance(obj["version"], str) and obj["version"].strip() != "",
            "version must be a non-empty string: %r" % (obj["version"],))
    if obj["compile"] is not None:
        check_stage_shape(t, obj["compile"], "compile")
    if obj["run"] is not None:
        check_stage_shape(t, obj["run"], "run")
    if obj["compile"] is not None and obj["compile"]["status"] == "compile_error":
        t.check(obj["run"] is None, "run must be null after compile_error")


def expect_stage(t, stage, which, status=None, exit_code="any", signal="any",
                 stdout=None):
    t.check(stage is not None, "%s stage is null" % which)
    if status is not None:
        if stage["status"] != status:
            raise Fail("%s.status: expected %r, got %r (exit_code=%r signal=%r "
                       "stderr=%r%s)" % (which, status, stage["status"],
                                        stage.get("exit_code"), stage.get("signal"),
                                        shorten(stage.get("stderr", ""), 800),
                                        (" error=%r" % stage["error"])
                                        if "error" in stage else ""))
    if exit_code != "any":
        t.eq(stage["exit_code"], exit_code, "%s.exit_code" % which)
    if signal != "any":
        t.eq(stage["signal"], signal, "%s.signal" % which)
    if stdout is not None:
        t.eq(stage["stdout"], stdout, "%s.stdout" % which)


def expect_bad_input(t, r, what):
    """Bad input: non-zero exit, exactly one 'runcell: ' line on stderr, no stdout."""
    t.check(r.rc != 0, "%s: expected a non-zero exit status, got %r" % (what, r.rc))
    t.check(r.rc > 0, "%s: runcell died from a signal (rc=%r)" % (what, r.rc))
    t.eq(r.stdout, "", "%s: stdout" % what)
    lines = r.stderr.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    t.check(len(lines) == 1, "%s: expected exactly one line on stderr, got %d: %r"
            % (what, len(lines), shorten(r.stderr)))
    t.check(lines[0].startswith("runcell: "),
            "%s: stderr line must start with 'runcell: ': %r" % (what, lines[0]))
    t.check(len(lines[0]) > len("runcell: ") + 5,
            "%s: error message too short to be clear: %r" % (what, lines[0]))
    return lines[0]


def last_json_line(t, text, what="program output"):
    """The last non-empty line of text, parsed as JSON (probe programs print it)."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    t.check(lines, "%s: no output" % what)
    try:
        return json.loads(lines[-1])
    except ValueError as e:
        raise Fail("%s: last line is not JSON (%s): %r" % (what, e, shorten(lines[-1])))


def own_cgroup_dirs():
    """The directories of this process's own cgroups that runcell uses (v2, or v1 per hierarchy)."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.rstrip("\n").partition(" - ")
            fstype, _, rest = post.partition(" ")
            opts = rest.split(" ")[1] if " " in rest else ""
            mounts.append((pre.split(" ")[4], fstype, opts.split(",")))
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            paths[ctls] = path
    v2 = [m for m, t, _ in mounts if t == "cgroup2"]
    if v2 and "" in paths:
        ctl = open(os.path.join(v2[0] + paths[""], "cgroup.controllers")).read().split()
        if {"memory", "pids", "cpu"} <= set(ctl):
            return [v2[0] + paths[""]]
    dirs = []
    for want in ("memory", "pids", "cpu", "cpuacct"):
        for m, t, opts in mounts:
            if t == "cgroup" and want in opts:
                for ctls, path in paths.items():
                    if want in ctls.split(","):
                        d = m + (path if path != "/" else "")
                        if d not in dirs:
                            dirs.append(d)
    return dirs
