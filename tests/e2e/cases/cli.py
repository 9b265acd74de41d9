"""CLI cases: bad input, languages, doctor, directories."""

import concurrent.futures
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tarfile
import time

from harness import (ALIASES, LANGS, case, expect_bad_input, expect_stage, own_cgroup_dirs,
                     prog, shorten)

HELLO = prog("python", "hello.py")


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
    r = t.runcell("run", "--lang", "cobol", HELLO)
    line = expect_bad_input(t, r, "unknown language")
    t.contains(line, "cobol", "error message names the language")


@case("bad_input.unknown_language_json")
def unknown_language_json(t):
    r = t.runcell("run", "--lang", "klingon", "--json", HELLO)
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
    r = t.runcell("run", "--lang", "python", HELLO, os.path.join(d, "nope.py"))
    expect_bad_input(t, r, "missing second source file")


@case("bad_input.missing_stdin_file")
def missing_stdin_file(t):
    d = t.tmpdir()
    r = t.runcell("run", "--lang", "python", "--stdin", os.path.join(d, "nope.txt"),
                  HELLO)
    expect_bad_input(t, r, "missing --stdin file")


@case("bad_input.missing_lang")
def missing_lang(t):
    r = t.runcell("run", HELLO)
    expect_bad_input(t, r, "missing --lang")


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
                  "run", "--lang", "python", HELLO)
    expect_bad_input(t, r, "missing root filesystem")


@case("bad_input.missing_rootfs_env")
def missing_rootfs_env(t):
    empty, state = t.tmpdir(), t.tmpdir()
    r = t.runcell("run", "--lang", "python", "--json", HELLO,
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
                  "run", "--lang", "python", HELLO)
    expect_bad_input(t, r, "corrupt tarball")
    t.note("state dir after the failure: %r" % listing(state)[:50])
    t.eq(tree_like(state), [], "unpacked trees left in the state dir")
    r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                  "run", "--lang", "python", "--json", HELLO)
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
                      "run", "--lang", "python", "--json", HELLO)
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
                  "run", "--lang", "python", HELLO)
    expect_bad_input(t, r, "tarball with a wrong checksum")
    t.eq(tree_like(state), [], "unpacked trees left in the state dir")


@case("bad_input.unreadable_tarball")
def unreadable_tarball(t):
    if os.geteuid() == 0:
        t.skip("root can read a mode 000 file")
    rootfs = fake_rootfs_dir(t, secrets.token_bytes(4096))
    os.chmod(os.path.join(rootfs, "python.tar.zst"), 0)
    state = t.tmpdir()
    r = t.runcell("--rootfs-dir", rootfs, "--state-dir", state,
                  "run", "--lang", "python", HELLO)
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
                             "--json", HELLO)
        return t.runcell("run", "--lang", "python", "--json", HELLO,
                         env={"RUNCELL_STATE_DIR": state})
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        results = list(ex.map(one, range(3)))
    for i, r in enumerate(results):
        t.rc0(r, "exit status of concurrent run %d" % i)
        obj = r.json()
        expect_stage(t, obj["run"], "run", status="ok", exit_code=0,
                     stdout="Hello from python\n")
    t.check(os.path.isdir(state) and os.listdir(state),
            "runcell did not use the given state dir %s" % state)
    r = t.runcell("--state-dir", state, "run", "--lang", "python", "--json", HELLO)
    expect_stage(t, r.json()["run"], "run", status="ok", stdout="Hello from python\n")


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
        t.check(isinstance(e["version"], str) and e["version"].strip(),
                "%s: empty version" % e["name"])
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
        if lang in byname:
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
                   env={"RUNCELL": t.suite.bin, "HELLO": HELLO})
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
    r = t.runcell(*t.suite.global_args, "--rlimit-only", "run", "--json", "--lang", "python", HELLO)
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
    t.check(1000 <= st["wall_ms"] < 5000, "wall_ms %r" % st["wall_ms"])
    leftovers = subprocess.run(["pgrep", "-f", src], stdout=subprocess.PIPE, text=True).stdout
    t.eq(leftovers.strip(), "", "processes of the run left behind")
