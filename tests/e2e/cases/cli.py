"""CLI cases: bad input, languages, doctor, directories, stdin and files, help, serve --listen."""

import concurrent.futures
import hashlib
import http.client as httpc
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import time

from harness import (ALIASES, LANGS, TOOLCHAINS, case, example, example_file, expect_bad_input,
                     expect_stage, own_cgroup_dirs, shorten)


def hello_py():
    """The python toolchain's hello example, as a file (main.py)."""
    return example_file("python")


def hello_out():
    return example("python")["stdout"]



def real_rootfs_dir():
    if os.environ.get("RUNCELL_ROOTFS_DIR"):
        return os.environ["RUNCELL_ROOTFS_DIR"]
    if os.geteuid() == 0:
        return "/var/cache/runcell/rootfs"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    d = os.path.join(cache, "runcell", "rootfs")
    return d if os.path.isdir(d) else "/var/cache/runcell/rootfs"


# ------------------------------------------------------------------ bad input

@case("bad_input.unknown_language")
def unknown_language(t):
    r = t.runcell("run", "--lang", "klingon", hello_py())
    line = expect_bad_input(t, r, "unknown language")
    t.contains(line, "klingon", "error message names the language")


@case("bad_input.unknown_language_json")
def unknown_language_json(t):
    r = t.runcell("run", "--lang", "klingon", "--json", hello_py())
    expect_bad_input(t, r, "unknown language with --json")


@case("bad_input.missing_file")
def missing_file(t):
    d = t.tmpdir()
    missing = os.path.join(d, "does-not-exist.py")
    r = t.runcell("run", "--lang", "python", missing)
    line = expect_bad_input(t, r, "missing source file")
    t.contains(line, "does-not-exist.py", "error message names the file")


@case("bad_input.missing_second_file")
def missing_second_file(t):
    d = t.tmpdir()
    r = t.runcell("run", "--lang", "python", hello_py(), os.path.join(d, "nope.py"))
    expect_bad_input(t, r, "missing second source file")


@case("bad_input.missing_stdin_file")
def missing_stdin_file(t):
    d = t.tmpdir()
    r = t.runcell("run", "--lang", "python", "--stdin", os.path.join(d, "nope.txt"),
                  hello_py())
    expect_bad_input(t, r, "missing --stdin file")


@case("bad_input.missing_lang")
def missing_lang(t):
    # without --lang the extension names the language; with no extension it must be given
    d = t.tmpdir()
    f = t.write(d, "hello", "print('hi')\n")
    r = t.runcell("run", f)
    line = expect_bad_input(t, r, "missing --lang for a file without an extension")
    t.contains(line, "--lang", "the error asks for --lang")


@case("bad_input.no_files")
def no_files(t):
    r = t.runcell("run", "--lang", "python")
    expect_bad_input(t, r, "no source files")


@case("bad_input.unknown_command")
def unknown_command(t):
    r = t.runcell("frobnicate-%s" % secrets.token_hex(3))
    t.check(r.rc > 0, "unknown command must exit non-zero, got %r" % r.rc)
    t.eq(r.stdout, "", "stdout")
    t.check(r.stderr.startswith("runcell: "),
            "stderr must start with 'runcell: ': %r" % shorten(r.stderr))


@case("bad_input.missing_rootfs")
def missing_rootfs(t):
    empty, state = t.tmpdir(), t.tmpdir()
    r = t.runcell("--rootfs-dir", empty, "--state-dir", state,
                  "run", "--lang", "python", hello_py())
    expect_bad_input(t, r, "missing root filesystem")


@case("bad_input.missing_rootfs_env")
def missing_rootfs_env(t):
    empty, state = t.tmpdir(), t.tmpdir()
    r = t.runcell("run", "--lang", "python", "--json", hello_py(),
                  env={"RUNCELL_ROOTFS_DIR": empty, "RUNCELL_STATE_DIR": state})
    expect_bad_input(t, r, "missing root filesystem (RUNCELL_ROOTFS_DIR)")


def python_rootfs_name(t):
    """Name of the python toolchain's root filesystem (NAME.tar.zst)."""
    info = (t.suite.langinfo or {}).get("python") or {}
    name = os.path.basename(str(info.get("rootfs") or "python"))
    for suffix in (".tar.zst", ".zst", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or "python"


def fake_rootfs_dir(t, tar_bytes, sha=None):
    """A temp rootfs dir with NAME.tar.zst = tar_bytes, a matching
    NAME.tar.zst.sha256 (or the given sha) and the other NAME.* files (the
    manifest) copied from the real rootfs dir."""
    d = t.tmpdir()
    real = real_rootfs_dir()
    name = python_rootfs_name(t)
    copied = []
    if os.path.isdir(real):
        for n in sorted(os.listdir(real)):
            src = os.path.join(real, n)
            if not n.startswith(name + ".") or not os.path.isfile(src):
                continue
            if n in (name + ".tar.zst", name + ".tar.zst.sha256"):
                continue
            shutil.copy(src, os.path.join(d, n))
            copied.append(n)
    t.note("copied from %s: %r" % (real, copied))
    with open(os.path.join(d, name + ".tar.zst"), "wb") as f:
        f.write(tar_bytes)
    digest = sha or hashlib.sha256(tar_bytes).hexdigest()
    with open(os.path.join(d, name + ".tar.zst.sha256"), "w") as f:
        f.write(digest + "\n")
    return d


def tree_like(path):
    """Directories under path that look like an unpacked root filesystem."""
    hits = []
    for top, dirs, files in os.walk(path):
        if "usr" in dirs and ("etc" in dirs or "bin" in dirs or "lib" in dirs):
            hits.append(top)
    return hits


def listing(path):
    out = []
    for top, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(top, n), path))
    return sorted(out)


@case("bad_input.corrupt_tarball_garbage")
def corrupt_garbage(t):
    rootfs = fake_rootfs_dir(t, secrets.token_bytes(256 * 1024))
    state = t.tmpdir()
    r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                  "run", "--lang", "python", hello_py())
    expect_bad_input(t, r, "corrupt tarball")
    t.note("state dir after the failure: %r" % listing(state)[:50])
    t.eq(tree_like(state), [], "unpacked trees left in the state dir")
    r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                  "run", "--lang", "python", "--json", hello_py())
    expect_bad_input(t, r, "corrupt tarball, second run")
    t.eq(tree_like(state), [], "unpacked trees left in the state dir")
    t.eq(tree_like(rootfs), [], "unpacked trees left in the rootfs dir")


@case("bad_input.corrupt_tarball_truncated")
def corrupt_truncated(t):
    zstd = shutil.which("zstd")
    if not zstd:
        t.skip("no zstd on the host to build a truncated tarball")
    tok = "rc-corrupt-" + secrets.token_hex(6)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        def add(name, data, mode=0o644, kind=tarfile.REGTYPE):
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            ti.type = kind
            ti.size = len(data) if kind == tarfile.REGTYPE else 0
            tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        for dname in ("etc", "usr", "usr/bin", "usr/lib", "usr/share", "tmp", "work",
                      "proc", "dev", "bin"):
            add(dname, b"", 0o755, tarfile.DIRTYPE)
        add("etc/os-release", b'PRETTY_NAME="fake"\n')
        add("usr/bin/python3", b"#!/bin/sh\necho FAKE-PYTHON-RAN\n", 0o755)
        add("usr/share/" + tok, b"marker\n")
        add("usr/lib/big.bin", secrets.token_bytes(4 * 1024 * 1024))
        add("usr/lib/tail-" + tok, b"tail\n")
    p = subprocess.run([zstd, "-q", "-c", "-1"], input=buf.getvalue(),
                       capture_output=True, timeout=60)
    t.check(p.returncode == 0, "zstd failed: %r" % p.stderr)
    truncated = p.stdout[: int(len(p.stdout) * 0.6)]
    rootfs = fake_rootfs_dir(t, truncated)
    state = t.tmpdir()
    for attempt in (1, 2):
        r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                      "run", "--lang", "python", "--json", hello_py())
        expect_bad_input(t, r, "truncated tarball, run %d" % attempt)
        t.not_contains(r.stdout + r.stderr, "FAKE-PYTHON-RAN", "output")
        left = [x for x in listing(state) if tok in x]
        t.note("state dir after run %d: %r" % (attempt, listing(state)[:50]))
        t.eq(left, [], "files of the half-unpacked tarball left in the state dir")
        t.eq(tree_like(state), [], "unpacked trees left in the state dir")
        t.eq([x for x in listing(rootfs) if tok in x], [],
             "files unpacked into the rootfs dir")


@case("bad_input.checksum_mismatch")
def checksum_mismatch(t):
    rootfs = fake_rootfs_dir(t, secrets.token_bytes(4096), sha="0" * 64)
    state = t.tmpdir()
    r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                  "run", "--lang", "python", hello_py())
    expect_bad_input(t, r, "tarball with a wrong checksum")
    t.eq(tree_like(state), [], "unpacked trees left in the state dir")


@case("bad_input.unreadable_tarball")
def unreadable_tarball(t):
    if os.geteuid() == 0:
        t.skip("root can read a mode 000 file")
    rootfs = fake_rootfs_dir(t, secrets.token_bytes(4096))
    os.chmod(os.path.join(rootfs, python_rootfs_name(t) + ".tar.zst"), 0)
    state = t.tmpdir()
    r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                  "run", "--lang", "python", hello_py())
    expect_bad_input(t, r, "unreadable tarball")


# ------------------------------------------------------------ directories

@case("cli.fresh_state_dir_concurrent", lang="python")
def fresh_state_concurrent(t):
    """Three runs unpacking into the same empty state dir at once all work."""
    state = t.tmpdir()
    os.rmdir(state)  # runcell must create it

    def one(i):
        if i == 0:
            return t.runcell("--state-dir", state, "run", "--lang", "python",
                             "--json", hello_py())
        return t.runcell("run", "--lang", "python", "--json", hello_py(),
                         env={"RUNCELL_STATE_DIR": state})
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        results = list(ex.map(one, range(3)))
    for i, r in enumerate(results):
        t.rc0(r, "exit status of concurrent run %d" % i)
        obj = r.json()
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                     stdout=hello_out())
    t.check(os.path.isdir(state) and os.listdir(state),
            "runcell did not use the given state dir %s" % state)
    r = t.runcell("--state-dir", state, "run", "--lang", "python", "--json", hello_py())
    expect_stage(t, r.json()["run"], "run", status="ok", stdout=hello_out())


# ------------------------------------------------------------ languages, doctor

def languages_json(t):
    r = t.runcell("languages", "--json")
    t.rc0(r, "exit status of languages --json")
    arr = r.json()
    t.check(isinstance(arr, list), "languages --json must print an array")
    return r, arr


@case("languages.json")
def languages_json_case(t):
    r, arr = languages_json(t)
    byname = {}
    for e in arr:
        t.check(isinstance(e, dict), "entry is not an object: %r" % (e,))
        for k in ("name", "version", "aliases", "rootfs", "available"):
            t.check(k in e, "entry lacks %r: %r" % (k, e))
        t.check(type(e["available"]) is bool, "%s: available must be a bool" % e["name"])
        # the version is read from the built root filesystem: null until it is built
        t.check(isinstance(e["version"], str) and e["version"].strip()
                or (e["version"] is None and not e["available"]),
                "%s: empty version: %r" % (e["name"], e["version"]))
        t.check(isinstance(e["aliases"], list)
                and all(isinstance(a, str) for a in e["aliases"]),
                "%s: aliases must be a list of strings" % e["name"])
        t.check(isinstance(e["rootfs"], str) and e["rootfs"],
                "%s: rootfs must be a non-empty string" % e["name"])
        t.check(type(e["available"]) is bool, "%s: available must be a bool" % e["name"])
        byname[e["name"]] = e
    for lang in LANGS:
        t.check(lang in byname, "language %s missing from languages --json" % lang)
        for a in ALIASES[lang]:
            t.check(a in byname[lang]["aliases"], "alias %s of %s missing: %r"
                    % (a, lang, byname[lang]["aliases"]))
    if t.suite.strict:
        bad = [n for n in LANGS if not byname[n]["available"]]
        t.eq(bad, [], "languages not available (--strict)")


@case("languages.text")
def languages_text(t):
    _, arr = languages_json(t)
    byname = {e.get("name"): e for e in arr if isinstance(e, dict)}
    r = t.runcell("languages")
    t.eq(r.rc, 0, "exit status of languages")
    lines = [ln for ln in r.stdout.split("\n") if ln.strip()]
    for lang in LANGS:
        mine = [ln for ln in lines if ln.split()[0] == lang]
        t.check(len(mine) == 1, "expected one line for %s in:\n%s" % (lang, r.stdout))
        ln = mine[0]
        t.check(len(ln.split()) >= 2, "no version on line %r" % ln)
        if lang in byname and byname[lang]["version"] is None:
            t.contains(ln, "(not built)", "line for %s (a language not built)" % lang)
        elif lang in byname:
            t.contains(ln, byname[lang]["version"], "line for %s (version)" % lang)
        for a in ALIASES[lang]:
            t.check(re.search(r"(?<![\w+])%s(?![\w+])" % re.escape(a), ln),
                    "alias %s missing on line %r" % (a, ln))
    t.not_contains(r.stdout, "{", "text output")


def check_doctor_words(t, text, what):
    low = text.lower()
    for words in (("namespace", "userns"), ("cgroup",), ("seccomp",), ("overlay",)):
        t.check(any(w in low for w in words),
                "%s does not mention %s: %r" % (what, "/".join(words), shorten(text)))


@case("doctor.text")
def doctor_text(t):
    r = t.runcell("doctor")
    t.eq(r.rc, 0, "exit status of doctor")
    check_doctor_words(t, r.stdout, "doctor output")


@case("doctor.json")
def doctor_json(t):
    r = t.runcell("doctor", "--json")
    t.eq(r.rc, 0, "exit status of doctor --json")
    obj = r.json()
    t.check(isinstance(obj, dict) and obj, "doctor --json must print a non-empty object")
    check_doctor_words(t, json.dumps(obj), "doctor --json output")


# ------------------------------------------------------------------ cgroups

@case("cgroups.refuses_without_delegation")
def refuses_without_delegation(t):
    # runcell must not run a sandbox without its limits: started in a cgroup that is not
    # delegated to it (here: one its user made read-only), it refuses and says why.
    if os.geteuid() == 0:
        t.skip("root may write any cgroup directory whatever its mode; the rootless run checks this")
    subs = []
    try:
        for d in own_cgroup_dirs():
            sub = os.path.join(d, "no-delegation-%d" % os.getpid())
            os.mkdir(sub)
            subs.append(sub)
        script = "for d in \"$@\"; do echo $$ > \"$d/cgroup.procs\" || exit 9; chmod 0555 \"$d\"; done; " \
                 "exec \"$RUNCELL\" run --lang python \"$HELLO\""
        r = t.exec(["/bin/sh", "-c", script, "sh"] + subs,
                   env={"RUNCELL": t.suite.bin, "HELLO": hello_py()})
        line = expect_bad_input(t, r, "runcell in a cgroup it may not write")
        t.contains(line, "cannot enforce memory, CPU and process limits", "refusal")
        t.contains(line, "not delegated", "names the reason")
    finally:
        for sub in subs:
            try:
                os.chmod(sub, 0o755)
                os.rmdir(sub)
            except OSError as e:
                t.fail("could not remove %s: %s" % (sub, e))


@case("cgroups.rlimit_only_is_explicit")
def rlimit_only(t):
    r = t.runcell(*t.suite.global_args, "--rlimit-only", "doctor", "--json")
    t.check(r.rc == 0, "doctor exit %r" % r.rc)
    d = json.loads(r.stdout)
    t.eq(d["rlimit_only"], True, "doctor shows rlimit-only mode")
    r = t.runcell(*t.suite.global_args, "doctor", "--json")
    d = json.loads(r.stdout)
    t.eq(d["rlimit_only"], False, "not rlimit-only by default")
    t.eq(d["cgroup_limits"], True, "the suite runs in a delegated cgroup")
    r = t.runcell(*t.suite.global_args, "--rlimit-only", "run", "--json", "--lang", "python", hello_py())
    st = json.loads(r.stdout)["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0)
    t.eq(st["memory_kb"], None, "no cgroup figures without cgroups")


@case("cli.sigterm_kills_the_run", lang="python")
def sigterm_kills_the_run(t):
    # A signal to runcell ends the run, not runcell's duty to report and clean up: the verdict
    # is "killed", the output so far is delivered, and the exit status says which signal.
    d = t.tmpdir()
    src = t.write(d, "sleepy.py", "import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    argv = [t.suite.bin] + list(t.suite.global_args) + ["run", "--json", "--lang", "python", src]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        t.fail("runcell did not end within 10 s of SIGTERM")
    t.eq(p.returncode, 128 + signal.SIGTERM, "runcell's exit status")
    st = json.loads(out)["run"]
    t.eq(st["status"], "killed", "verdict")
    t.eq(st["stdout"], "ready\n", "output printed before the kill")
    # killed by the signal 1.5 s after the command started: neither at once nor at a limit (the
    # program's start takes some of the 1.5 s, much of it on a loaded machine: seen 0.7 s)
    t.check(300 <= st["wall_ms"] < 5000, "wall_ms %r" % st["wall_ms"])
    leftovers = subprocess.run(["pgrep", "-f", src], stdout=subprocess.PIPE, text=True).stdout
    t.eq(leftovers.strip(), "", "processes of the run left behind")


# ------------------------------------------------------------ stdin, files, languages

ASK_PY = "name = input()\nprint('Hello, ' + name)\n"
READ_ALL_PY = "import sys\nprint(repr(sys.stdin.read()))\n"


def popen_runcell(t, args, **kw):
    """runcell with its stdio as given in kw; returns (rc, stdout, stderr) or fails on a hang."""
    p = subprocess.Popen([t.suite.bin] + [str(a) for a in args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        t.fail("runcell %s did not end within 60 s" % " ".join(map(str, args)))
    return p.returncode, out.decode(), err.decode()


@case("cli.stdin_pipe", lang="python")
def stdin_pipe(t):
    # `echo Ada | runcell run ask.py`: the pipe is the program's stdin.
    d = t.tmpdir()
    ask = t.write(d, "ask.py", ASK_PY)
    r = t.runcell("run", "--lang", "python", ask, stdin_data=b"Ada\n")
    t.rc0(r)
    t.eq(r.stdout, "Hello, Ada\n", "stdout of a program reading piped stdin")
    r = t.runcell("run", "--json", ask, stdin_data=b"Grace\n")
    t.rc0(r)
    expect_stage(t, r.json()["run"], "run", status="ok", exit_code=0, stdout="Hello, Grace\n")


@case("cli.stdin_devnull", lang="python")
def stdin_devnull(t):
    # stdin = /dev/null (as in CI): the program reads an immediate end of input.
    d = t.tmpdir()
    src = t.write(d, "readall.py", READ_ALL_PY)
    r = t.runcell("run", "--json", src)  # the harness gives /dev/null
    t.rc0(r)
    expect_stage(t, r.json()["run"], "run", status="ok", exit_code=0, stdout="''\n")
    t.check(r.json()["run"]["wall_ms"] < 3000, "reading /dev/null took %r ms"
            % r.json()["run"]["wall_ms"])


@case("cli.stdin_open_pipe_not_read", lang="python")
def stdin_open_pipe_not_read(t):
    # A program that never reads its stdin ends although runcell's stdin stays open.
    rfd, wfd = os.pipe()
    try:
        t0 = time.monotonic()
        rc, out, err = popen_runcell(t, ["run", hello_py()], stdin=rfd)
        took = time.monotonic() - t0
    finally:
        os.close(rfd)
        os.close(wfd)
    t.eq(rc, 0, "exit status (stderr %r)" % shorten(err))
    t.eq(out, hello_out(), "stdout")
    t.check(took < 30, "runcell waited %.1f s for a stdin the program never read" % took)


@case("cli.stdin_terminal", lang="python")
def stdin_terminal(t):
    # A terminal is read line by line and passed on: what is typed reaches the program.
    import pty
    d = t.tmpdir()
    ask = t.write(d, "ask.py", ASK_PY)
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([t.suite.bin, "run", ask], stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        os.close(slave)
        slave = None
        os.write(master, b"Tty\n")
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            t.fail("runcell with a terminal as stdin did not end")
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    t.eq(p.returncode, 0, "exit status (stderr %r)" % shorten(err.decode()))
    t.eq(out.decode(), "Hello, Tty\n", "stdout")


@case("cli.stdin_dash", lang="python")
def stdin_dash(t):
    d = t.tmpdir()
    ask = t.write(d, "ask.py", ASK_PY)
    r = t.runcell("run", "--stdin", "-", "--lang", "python", ask, stdin_data=b"Dash\n")
    t.rc0(r)
    t.eq(r.stdout, "Hello, Dash\n", "--stdin - passes runcell's stdin")
    # --stdin FILE wins over a piped stdin
    f = t.write(d, "in.txt", "File\n")
    r = t.runcell("run", "--stdin", f, ask, stdin_data=b"Pipe\n")
    t.rc0(r)
    t.eq(r.stdout, "Hello, File\n", "--stdin FILE with a pipe on runcell's stdin")
    # --stdin <(...): a pipe as the stdin file
    r = t.exec(["/bin/bash", "-c", 'exec "$RUNCELL" run --stdin <(echo Subst) "$ASK"'],
               env={"RUNCELL": t.suite.bin, "ASK": ask})
    t.rc0(r)
    t.eq(r.stdout, "Hello, Subst\n", "--stdin <(...)")
    # the source itself from stdin
    r = t.runcell("run", "--lang", "python", "-", stdin_data=b"print(6 * 7)\n")
    t.rc0(r)
    t.eq(r.stdout, "42\n", "source file '-'")
    r = t.runcell("run", "--lang", "python", "--stdin", "-", "-", stdin_data=b"print(1)\n")
    expect_bad_input(t, r, "stdin used for the source and the input")


@case("cli.process_substitution_file", lang="python")
def process_substitution_file(t):
    # `runcell run --lang python <(...)`: the pipe is read; it becomes /work/main.py.
    prog_text = "import os\\nprint(sorted(os.listdir(\\\"/work\\\")))\\n"
    script = 'exec "$RUNCELL" run "$@" <(printf "%s")' % prog_text
    r = t.exec(["/bin/bash", "-c", script, "bash", "--lang", "python"],
               env={"RUNCELL": t.suite.bin})
    t.rc0(r)
    t.eq(r.stdout, "['main.py']\n", "files in /work for a process substitution")
    r = t.exec(["/bin/bash", "-c", script, "bash", "--name", "prog.py"],
               env={"RUNCELL": t.suite.bin})
    t.rc0(r)
    t.eq(r.stdout, "['prog.py']\n", "--name names the pipe (and gives the language)")
    r = t.exec(["/bin/bash", "-c", script, "bash"], env={"RUNCELL": t.suite.bin})
    line = expect_bad_input(t, r, "a pipe with neither --lang nor --name")
    t.contains(line, "--lang", "the error asks for --lang")
    # a named pipe (FIFO) with an extension keeps its name
    d = t.tmpdir()
    fifo = os.path.join(d, "fifo.py")
    os.mkfifo(fifo)
    r = t.exec(["/bin/bash", "-c", 'printf "print(open(\\"/work/fifo.py\\").read() != \\"\\")\\n" '
                '> "$FIFO" & exec "$RUNCELL" run "$FIFO"'],
               env={"RUNCELL": t.suite.bin, "FIFO": fifo})
    t.rc0(r)
    t.eq(r.stdout, "True\n", "a FIFO source file")


@case("cli.language_from_extension")
def language_from_extension(t):
    # Without --lang the entry file's extension names the language (toolchains'
    # source_extensions), for every extension of every toolchain. The matrix runs each hello
    # example under its source_file's extension (LANG.human_hello); here the others are tried
    # with the same source, where only the language is asserted (a hello world need not be
    # valid under every extension: Fortran's .f is fixed form). An extension two toolchains
    # claim is an error asking for --lang.
    d = t.tmpdir()
    tried = []
    for lang in LANGS:
        tc = TOOLCHAINS[lang]
        stem, primary = os.path.splitext(tc.get("source_file") or "main")
        for ext in tc.get("source_extensions") or []:
            if ext == primary:
                continue
            sub = os.path.join(d, lang + ext)
            os.mkdir(sub)
            os.chmod(sub, 0o755)
            src = t.write(sub, stem + ext, example(lang)["source"])
            claim = [n for n in LANGS if ext in (TOOLCHAINS[n].get("source_extensions") or [])]
            if len(claim) > 1:
                r = t.runcell("run", "--json", src)
                line = expect_bad_input(t, r, "%s, claimed by %s" % (ext, " and ".join(claim)))
                t.contains(line, "claimed by", "the error for %s" % ext)
                tried.append(ext + " (claimed by %s)" % ",".join(claim))
                continue
            if t.suite.lang_unavailable(lang):
                t.note("%s: %s" % (ext, t.suite.lang_unavailable(lang)))
                continue
            r = t.runcell("run", "--json", src, timeout=120)
            t.rc0(r, "runcell run %s%s" % (stem, ext))
            obj = r.json()
            t.eq(obj["language"], lang, "language guessed for %s%s" % (stem, ext))
            for st in ("compile", "run"):
                t.check(not (obj[st] and obj[st]["status"] == "internal_error"),
                        "%s%s: %s stage internal_error: %r" % (stem, ext, st, obj[st]))
            tried.append(ext)
    t.note("extensions tried: %s" % " ".join(tried))


@case("cli.unknown_extension")
def unknown_extension(t):
    d = t.tmpdir()
    f = t.write(d, "notes.txt", "print(1)\n")
    r = t.runcell("run", f)
    line = expect_bad_input(t, r, "a file with an unknown extension and no --lang")
    t.contains(line, ".txt", "the error names the extension")
    t.contains(line, "--lang", "the error asks for --lang")
    t.contains(line, ".py", "the error lists the known extensions")
    f = t.write(d, "Makefile", "all:\n")
    line = expect_bad_input(t, t.runcell("run", f), "a file without an extension")
    t.contains(line, "--lang", "the error asks for --lang")
    r = t.runcell("run", "--lang", "python", "--json", f)  # --lang still works for any name
    t.check(r.rc == 0, "--lang with an extension-less file: rc %r, %s" % (r.rc, shorten(r.stderr)))


# ------------------------------------------------------------ help

GLOBAL_OPTS = ["--toolchains", "--rootfs-dir", "--state-dir", "--rlimit-only", "--help"]
COMMAND_OPTS = {
    "run": ["--lang", "--lang-version", "--name", "--stdin", "--json", "--wall-ms", "--cpu-ms",
            "--memory-mb", "--processes", "--output-bytes", "--file-size-mb", "--disk-mb",
            "--open-files", "--stack-mb"],
    "serve": ["--config", "--listen", "--max-concurrent", "--queue", "--pool", "--warm",
              "--log-format"],
    "batch": ["--pool", "--warm"],
    "languages": ["--json"],
    "doctor": ["--json"],
    "version": [],
    "help": [],
}


def has_option(text, opt):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), text) is not None


@case("cli.help_lists_every_option")
def help_lists_every_option(t):
    r = t.runcell("help")
    t.rc0(r, "runcell help")
    t.eq(r.stderr, "", "stderr of runcell help")
    for cmd, opts in COMMAND_OPTS.items():
        t.check(re.search(r"^  %s\b" % cmd, r.stdout, re.M), "runcell help lacks %s" % cmd)
        for o in opts + GLOBAL_OPTS:
            t.check(has_option(r.stdout, o), "runcell help lacks %s" % o)
    t.check(has_option(r.stdout, "--config"), "runcell help lacks --config")
    for cmd, opts in COMMAND_OPTS.items():
        for form in ([cmd, "--help"], [cmd, "-h"], ["help", cmd]):
            r = t.runcell(*form)
            what = "runcell " + " ".join(form)
            t.rc0(r, what)
            t.eq(r.stderr, "", "stderr of " + what)
            t.check(r.stdout.startswith("usage: runcell %s" % cmd),
                    "%s: must start with 'usage: runcell %s': %r" % (what, cmd,
                                                                     shorten(r.stdout, 200)))
            for o in opts + GLOBAL_OPTS:
                t.check(has_option(r.stdout, o), "%s does not list %s" % (what, o))
    t.check(has_option(t.runcell("serve", "--help").stdout, "--config"),
            "serve --help lists --config")
    # what is listed is accepted: an unknown option is refused, a listed one is not "unknown"
    for cmd in ("run", "serve", "batch", "languages", "doctor"):
        line = expect_bad_input(t, t.runcell(cmd, "--no-such-option"), cmd + " --no-such-option")
        t.contains(line, "--no-such-option", "the error names the option")
    r = t.runcell("--version")
    t.rc0(r, "runcell --version")
    t.check(r.stdout.startswith("runcell "), "runcell --version: %r" % r.stdout)


# ------------------------------------------------------------ serve --listen

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@case("cli.serve_listen_host_name")
def serve_listen_host_name(t):
    # --listen localhost:PORT is resolved and really listens before "listening" is printed.
    try:
        want = socket.getaddrinfo("localhost", None, socket.AF_INET)[0][4][0]
    except OSError as e:
        t.skip("localhost does not resolve to an IPv4 address on this host: %s" % e)
    port = free_port()
    argv = [t.suite.bin] + list(t.suite.global_args) + [
        "serve", "--pool", "0", "--listen", "localhost:%d" % port]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = p.stderr.readline().decode()
            if not line:
                break
            lines.append(line)
            if "runcell: listening" in line:
                break
        t.note("serve stderr: %r" % lines)
        t.check(lines and "runcell: listening" in lines[-1], "no listening line: %r" % lines)
        # the log's "listening" event (logfmt by default) carries the old line as its msg
        t.contains(lines[-1].rstrip("\n"),
                   'msg="runcell: listening on http://%s:%d (localhost)"' % (want, port),
                   "listening line")
        t.check(not any("libwebsockets" in ln or "DOESN'T EXIST" in ln for ln in lines),
                "raw libwebsockets lines: %r" % lines)
        c = httpc.HTTPConnection(want, port, timeout=10)
        c.request("GET", "/healthz")
        resp = c.getresponse()
        resp.read()
        c.close()
        t.eq(resp.status, 200, "GET /healthz on localhost:%d" % port)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        p.stderr.close()


@case("cli.serve_listen_bad_host")
def serve_listen_bad_host(t):
    r = t.runcell(*t.suite.global_args, "serve", "--listen", "no-such-host.invalid:8097")
    line = expect_bad_input(t, r, "--listen with a host that does not resolve")
    t.contains(line, "no-such-host.invalid", "the error names the host")
    t.contains(line, "resolve", "the error says it does not resolve")
    for bad in ("8097", "localhost:", "localhost:99999", "[::1]:8097"):
        r = t.runcell(*t.suite.global_args, "serve", "--listen", bad, timeout=30)
        expect_bad_input(t, r, "--listen %s" % bad)


@case("cli.serve_listen_port_in_use")
def serve_listen_port_in_use(t):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:%d" % port)
        line = expect_bad_input(t, r, "--listen on a port in use")
        t.contains(line, "address already in use", "the error")
        t.contains(line, str(port), "the error names the port")
        t.not_contains(line, "libwebsockets", "the error is runcell's own")
        d = t.tmpdir()
        cfg = t.write(d, "serve.json", json.dumps({"listen": "localhost:%d" % port}))
        r = t.runcell(*t.suite.global_args, "serve", "--config", cfg)
        line = expect_bad_input(t, r, "\"listen\" in --config on a port in use")
        t.contains(line, "address already in use", "the error")
    finally:
        s.close()


# ------------------------------------------------------------ doctor: verdicts, AppArmor

CHECK_LINE = re.compile(r"^(\w+)\s+(ok|no)\s+(.*)$")
ENFORCED_LINE = re.compile(r"^  (.+?)\s+(yes|NO)\b(.*)$")


def parse_doctor(t, text):
    checks, enforced, can_run, section, fix = {}, [], None, "checks", None
    for ln in text.split("\n"):
        if ln == "enforced:":
            section = "enforced"
            continue
        if ln.startswith("fix: "):
            section, fix = "fix", ln[5:]
            continue
        m = re.match(r"^sandboxes can run: (yes|NO)$", ln)
        if m:
            can_run = m.group(1) == "yes"
            section = "end"
            continue
        if section == "fix" and ln:
            fix += "\n" + ln
        elif section == "checks":
            m = CHECK_LINE.match(ln)
            if m:
                checks[m.group(1)] = (m.group(2) == "ok", m.group(3))
        elif section == "enforced" and ln.strip():
            m = ENFORCED_LINE.match(ln)
            t.check(m, "enforced line without a yes/NO verdict: %r" % ln)
            enforced.append((m.group(1), m.group(2) == "yes", m.group(3)))
    t.check(can_run is not None, "no 'sandboxes can run' line in:\n%s" % text)
    return checks, enforced, can_run, fix


def doctor_consistent(t, args, env=None, wrap=()):
    """Run doctor (text and JSON) and check that every line's verdict agrees with the rest."""
    cmd = list(wrap) + [t.suite.bin] + list(args)
    r = t.exec(cmd + ["doctor"], env=env)
    t.eq(r.rc, 0, "doctor exit status")
    checks, enforced, can_run, fix = parse_doctor(t, r.stdout)
    for name in ("user_namespaces", "seccomp", "overlayfs", "tmpfs", "cgroup_delegation",
                 "apparmor_userns"):
        t.check(name in checks, "doctor has no %s line:\n%s" % (name, r.stdout))
    for name, (ok, detail) in checks.items():
        if ok:
            t.check(not re.search(r"\bNO\b|not writable|cannot|failed|denies", detail),
                    "%s says ok next to a negative detail: %r" % (name, detail))
    for what, yes, detail in enforced:
        if yes:
            t.not_contains(detail, "NO", "enforced line %r" % what)
    rlimit_only = "--rlimit-only" in args
    must = [yes for what, yes, _ in enforced if not (rlimit_only and "cgroups" in what)]
    t.eq(can_run, all(must), "'sandboxes can run' against the enforced lines")
    sandbox = enforced[0][1]
    t.eq(sandbox, checks["user_namespaces"][0] and checks["tmpfs"][0],
         "namespaces enforced against the user_namespaces and tmpfs checks")
    if not checks["user_namespaces"][0]:
        t.eq(can_run, False, "sandboxes can run without usable user namespaces")
    if not rlimit_only:
        cg = [yes for what, yes, _ in enforced if "cgroups" in what][0]
        if checks["cgroup_delegation"][0]:
            t.check(cg, "cgroup_delegation ok while runcell's cgroups say NO")
    if not checks["apparmor_userns"][0]:
        t.check(fix, "apparmor_userns no without a fix")
    j = t.exec(cmd + ["doctor", "--json"], env=env).json()
    for name, (ok, _) in checks.items():
        t.eq(j["checks"][name]["ok"], ok, "doctor --json checks.%s.ok against the text" % name)
    t.eq(j["can_run"], can_run, "doctor --json can_run against the text")
    t.eq(j.get("fix"), fix, "doctor --json fix against the text")
    return checks, can_run, fix, r


@case("cli.doctor_verdicts_consistent")
def doctor_verdicts_consistent(t):
    checks, can_run, _, r = doctor_consistent(t, t.suite.global_args)
    t.eq(can_run, True, "sandboxes can run in the suite's delegated cgroup:\n%s" % r.stdout)
    doctor_consistent(t, list(t.suite.global_args) + ["--rlimit-only"])
    # a host where user namespaces cannot be used (the doctor runs in a user namespace that has
    # no id map, so it cannot create one of its own): no line may still say ok about them
    if shutil.which("unshare") and subprocess.run(["unshare", "--user", "true"]).returncode == 0:
        checks, can_run, _, _ = doctor_consistent(t, t.suite.global_args,
                                                  wrap=["unshare", "--user"])
        t.eq(checks["user_namespaces"][0], False, "user_namespaces inside an unmapped userns")
        t.eq(can_run, False, "sandboxes can run inside an unmapped userns")
    else:
        t.note("unshare --user unavailable: the unusable-userns half was not run")


def sysctl_file(t, value):
    d = t.tmpdir()
    if value is None:
        return os.path.join(d, "absent")
    return t.write(d, "apparmor_restrict_unprivileged_userns", "%s\n" % value)


@case("cli.doctor_apparmor_restriction")
def doctor_apparmor_restriction(t):
    env_name = "RUNCELL_TEST_APPARMOR_SYSCTL"
    # the host as it is: its sysctl, if any, and the doctor agree
    real = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
    checks, _, fix, _ = doctor_consistent(t, t.suite.global_args)
    if os.path.exists(real):
        t.note("%s = %s" % (real, open(real).read().strip()))
    else:
        t.contains(checks["apparmor_userns"][1], "absent", "apparmor_userns on this host")
    userns_ok = checks["user_namespaces"][0]
    t.check(userns_ok, "user namespaces must be usable where the suite runs")
    # not restricted / absent
    for value, word in ((0, "= 0"), (None, "absent")):
        env = {env_name: sysctl_file(t, value)}
        checks, _, fix, _ = doctor_consistent(t, t.suite.global_args, env=env)
        t.eq(checks["apparmor_userns"][0], True, "apparmor_userns with the sysctl %r" % value)
        t.contains(checks["apparmor_userns"][1], word, "apparmor_userns detail")
        t.eq(fix, None, "a fix when nothing is restricted")
    # restricted, but user namespaces work for runcell here: ok, and said so
    env = {env_name: sysctl_file(t, 1)}
    checks, _, fix, _ = doctor_consistent(t, t.suite.global_args, env=env)
    t.eq(checks["apparmor_userns"][0], True, "apparmor_userns = 1 where userns work")
    t.contains(checks["apparmor_userns"][1], "= 1", "apparmor_userns detail")
    t.eq(fix, None, "a fix where user namespaces work")
    # restricted, and the symptom (a user namespace runcell cannot use): no, and the fix
    if not (shutil.which("unshare")
            and subprocess.run(["unshare", "--user", "true"]).returncode == 0):
        t.skip("unshare --user unavailable: cannot show the restricted case")
    checks, can_run, fix, r = doctor_consistent(t, t.suite.global_args, env=env,
                                                wrap=["unshare", "--user"])
    t.eq(checks["apparmor_userns"][0], False, "apparmor_userns = 1 where userns fail")
    t.contains(checks["apparmor_userns"][1], "= 1", "apparmor_userns detail")
    t.eq(checks["user_namespaces"][0], False, "user_namespaces where they fail")
    t.eq(can_run, False, "sandboxes can run")
    t.check(fix, "no fix printed:\n%s" % r.stdout)
    t.contains(fix, "/etc/apparmor.d/runcell", "the fix installs the profile")
    t.contains(fix, "sudo apparmor_parser -r /etc/apparmor.d/runcell", "the fix loads it")
    t.contains(fix, "kernel.apparmor_restrict_unprivileged_userns=0", "the sysctl alternative")
    m = re.search(r"sudo install -m 0644 (\S+) /etc/apparmor.d/runcell", fix)
    t.check(m, "no install command in the fix: %r" % fix)
    profile = m.group(1)
    t.check(os.path.isfile(profile), "the profile the fix names does not exist: %s" % profile)
    text = open(profile).read()
    for needle in ("abi <abi/4.0>,", "include <tunables/global>", "flags=(unconfined)",
                   "userns,", "include if exists <local/runcell>", "/usr/local/bin/runcell"):
        t.contains(text, needle, "the profile %s" % profile)
    bin_real = os.path.realpath(t.suite.bin)
    if bin_real not in ("/usr/local/bin/runcell", "/usr/bin/runcell"):
        t.contains(fix, bin_real, "the fix adds this binary's path to the profile")
