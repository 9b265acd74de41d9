"""Several versions of one language (README, "Versions"): Debian 12's and Debian 13's, each
from its own root filesystem (toolchains/LANG.json and LANG@trixie.json). The newest built is
the default; `version` chooses another by its exact value or its start up to a dot, in
`runcell run --lang-version`, runcell's run requests (HTTP, WebSocket, batch), Piston and
codapi; a version there is not is refused naming those there are. Each program prints the
version it really ran under (or, for Rust, compiles only on the newer compiler)."""

import json

from harness import case, expect_stage
from server_util import WS, Server, check_http_error, check_run, get_metrics, http_req, \
    run_async

# language -> (Debian 12's root filesystem, Debian 13's)
ROOTS = {
    "c": ("gcc", "gcc-trixie"),
    "cpp": ("gcc", "gcc-trixie"),
    "go": ("go", "go-trixie"),
    "javascript": ("node", "node-trixie"),
    "python": ("python", "python-trixie"),
    "rust": ("rust", "rust-trixie"),
}

# language -> (file name, program printing the version it runs under)
PROGRAMS = {
    "c": ("main.c", '#include <stdio.h>\nint main(void) {\n'
          '    printf("%d.%d.%d\\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);\n}\n'),
    "cpp": ("main.cpp", '#include <iostream>\nint main() {\n    std::cout << __GNUC__ << "."'
            ' << __GNUC_MINOR__ << "." << __GNUC_PATCHLEVEL__ << "\\n";\n}\n'),
    "go": ("main.go", 'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n\t"strings"\n)\n\n'
           'func main() {\n\tfmt.Println(strings.TrimPrefix(runtime.Version(), "go"))\n}\n'),
    "javascript": ("main.js", "console.log(process.versions.node);\n"),
    "python": ("main.py", 'import sys\nprint("%d.%d.%d" % sys.version_info[:3])\n'),
    # let-else is stable since Rust 1.65: Debian 13's rustc builds it, Debian 12's (1.63) not
    "rust": ("main.rs", 'fn main() {\n    let Some(n) = std::env::args().nth(1) else {\n'
             '        println!("let-else");\n        return;\n    };\n    println!("{}", n);\n}\n'),
}


def vkey(v):
    return [int(x) if x.isdigit() else x for x in v.replace("+", ".").split(".")]


def languages(t):
    r = t.runcell(*t.suite.global_args, "languages", "--json")
    t.eq(r.rc, 0, "runcell languages --json exit status")
    return {e["name"]: e for e in r.json()}


def old_new(t, lang, info=None):
    """(Debian 12's version, Debian 13's) of lang; skips (fails with --strict) when either
    root filesystem is not built."""
    e = (info or languages(t)).get(lang)
    t.check(e is not None, "%s missing from runcell languages --json" % lang)
    by_root = {v["rootfs"]: v for v in e.get("versions", [])}
    out = []
    for root in ROOTS[lang]:
        v = by_root.get(root)
        t.check(v is not None, "%s: no version from root filesystem %s in %r"
                % (lang, root, e.get("versions")))
        if not v["available"]:
            msg = "root filesystem %s not built (scripts/build-rootfs %s)" % (root, root)
            if t.suite.strict:
                t.fail(msg)
            t.skip(msg)
        out.append(v["version"])
    old, new = out
    t.check(vkey(new) > vkey(old), "%s: Debian 13's %s must be newer than Debian 12's %s"
            % (lang, new, old))
    return old, new


def minor(v):
    """"1.19.8" -> "1.19": a prefix that names one version here."""
    return ".".join(v.split(".")[:2])


def expect_ran(t, obj, lang, version, what):
    """A --json (or HTTP) result of PROGRAMS[lang] that ran under version."""
    t.eq(obj.get("language"), lang, "%s: language" % what)
    t.eq(obj.get("version"), version, "%s: version" % what)
    if lang == "rust":  # the program compiles only on the newer rustc
        return
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0, stdout=version + "\n")


# ------------------------------------------------------------------ languages
@case("versions.languages")
def languages_lists_versions(t):
    """`runcell languages`: one entry per language, its default the newest built, every
    version under "versions" newest first (JSON) or after "also=" (text)."""
    info = languages(t)
    text = t.runcell(*t.suite.global_args, "languages")
    t.eq(text.rc, 0, "runcell languages exit status")
    for lang, (old_root, new_root) in sorted(ROOTS.items()):
        old, new = old_new(t, lang, info)
        e = info[lang]
        t.eq((e["version"], e["rootfs"], e["available"]), (new, new_root, True),
             "%s: the default is the newest" % lang)
        vs = e["versions"]
        t.eq([v["version"] for v in vs[:2]], [new, old], "%s: versions, newest first" % lang)
        t.eq([v["default"] for v in vs], [True] + [False] * (len(vs) - 1),
             "%s: one default, the first" % lang)
        lines = [ln for ln in text.stdout.splitlines() if ln.split()[:1] == [lang]]
        t.eq(len(lines), 1, "%s: one line in runcell languages" % lang)
        t.contains(lines[0], " %s " % new, "%s's line: its default version" % lang)
        t.contains(lines[0], "also=%s/%s" % (old, old_root), "%s's line: the other version"
                   % lang)


# ------------------------------------------------------------------ runcell run
def cli_case(lang):
    @case("versions.run_%s" % lang)
    def run_versions(t):
        """runcell run: no --lang-version runs the newest, the older one by its start up to a
        dot; the program shows which ran."""
        old, new = old_new(t, lang)
        name, src = PROGRAMS[lang]
        d = t.tmpdir()
        path = t.write(d, name, src)
        _, obj = t.run_json(lang, [path])
        expect_ran(t, obj, lang, new, "%s, no version" % lang)
        if lang == "rust":
            t.eq(obj["run"]["stdout"], "let-else\n", "rust %s runs let-else" % new)
        _, obj = t.run_json(lang, [path], extra=["--lang-version", minor(old)])
        if lang == "rust":
            t.eq(obj["version"], old, "rust: version")
            expect_stage(t, obj["compile"], "compile", status="compile_error")
            t.contains(obj["compile"]["stderr"], "let", "rust %s: the compiler's error" % old)
        else:
            expect_ran(t, obj, lang, old, "%s --lang-version %s" % (lang, minor(old)))
    return run_versions


for _lang in ROOTS:
    cli_case(_lang)


@case("versions.run_choices")
def run_choices(t):
    """--lang-version takes the exact version, a start up to a dot (the newest that starts so),
    "*"; the language may be guessed from the file name; an unknown version is one error line
    naming the versions there are, and nothing runs."""
    old, new = old_new(t, "python")
    d = t.tmpdir()
    path = t.write(d, "main.py", PROGRAMS["python"][1])
    for want, got in ((old, old), (new, new), (minor(old), old), (minor(new), new),
                      (old.split(".")[0], new), ("*", new), ("%s.x" % minor(old), old)):
        _, obj = t.run_json("python", [path], extra=["--lang-version", want])
        expect_ran(t, obj, "python", got, "--lang-version %s" % want)
    # the language from the extension, then its version
    r = t.runcell(*t.suite.global_args, "run", "--json", "--lang-version", minor(old), path)
    t.eq(r.rc, 0, "run --lang-version without --lang: exit status")
    expect_ran(t, r.json(), "python", old, "main.py --lang-version %s" % minor(old))
    for bad in ("9", minor(old) + ".99", minor(old)[:-1], "v" + old, old + "."):
        r = t.runcell(*t.suite.global_args, "run", "--lang", "py", "--lang-version", bad, path)
        t.eq(r.rc, 1, "--lang-version %s: exit status" % bad)
        t.eq(r.stdout, "", "--lang-version %s: nothing ran" % bad)
        t.eq(r.stderr, "runcell: python has no version '%s' (versions: %s, %s) (see runcell "
             "languages)\n" % (bad, new, old), "--lang-version %s: the error" % bad)
    r = t.runcell(*t.suite.global_args, "run", "--lang", "python", path, "--lang-version")
    t.eq(r.rc, 1, "--lang-version after the file: exit status")


# ------------------------------------------------------------------ the server
@case("versions.server")
def server_versions(t):
    """POST /api/v1/run, WebSocket run and GET /api/v1/languages with versions; unknown ones
    404 unknown_version; /metrics counts a language once, whatever its versions."""
    old, new = old_new(t, "python")
    src = PROGRAMS["python"][1]
    with Server(t) as srv:
        r = http_req(t, srv, "GET", "/api/v1/languages")
        t.eq(r.status, 200, "GET /api/v1/languages")
        py = [e for e in r.json if e["name"] == "python"]
        t.eq(len(py), 1, "one entry for python")
        t.eq((py[0]["version"], py[0]["versions"][:2]), (new, [new, old]),
             "python's default and versions")
        for want, got in ((None, new), ("*", new), ("", new), (minor(old), old), (old, old),
                          ("3", new)):
            body = {"language": "python", "source": src}
            if want is not None:
                body["version"] = want
            r = http_req(t, srv, "POST", "/api/v1/run", body)
            t.eq(r.status, 200, "POST /api/v1/run version %r" % want)
            expect_ran(t, r.json, "python", got, "POST /api/v1/run version %r" % want)
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "py", "version": "3.99", "source": src})
        e = check_http_error(t, r, 404, "unknown_version", "version 3.99")
        t.eq(e["message"], "python has no version '3.99' (versions: %s, %s)" % (new, old),
             "unknown_version's message")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "version": 3.11, "source": src})
        check_http_error(t, r, 400, "bad_request", "a version that is not a string")

        async def ws():
            async with WS(t, srv) as c:
                await c.run("old", "python", src, version=minor(old))
                res = check_run(t, await c.done("old", timeout=120), "old")
                t.eq(res.out(), (old + "\n").encode(), "WebSocket run, version %s" % minor(old))
                await c.run("bad", "python", src, version="2")
                _, ev = await c.wait_type("error", rid="bad", timeout=30)
                t.eq((ev["code"], ev["message"]),
                     ("unknown_version", "python has no version '2' (versions: %s, %s)"
                      % (new, old)), "WebSocket run, version 2")
        run_async(t, ws())

        m = get_metrics(t, srv)
        lines = [ln for ln in m.text.splitlines()
                 if ln.startswith('runcell_runs_total{language="python",status="ok"}')]
        t.eq(len(lines), 1, "one runcell_runs_total series for python and ok: %r" % lines)
        t.eq(int(float(lines[0].split()[-1])), 7, "python runs ok, both versions counted")

        # ranna's spec names each language once (a JSON object without repeated keys)
        r = http_req(t, srv, "GET", "/v1/spec")
        t.eq(r.status, 200, "GET /v1/spec")
        keys = []
        json.loads(r.body, object_pairs_hook=lambda kv: keys.extend(k for k, _ in kv) or {})
        t.check(keys.count("python") == 1, "python in /v1/spec %d times" % keys.count("python"))


@case("versions.batch")
def batch_versions(t):
    old, new = old_new(t, "python")
    src = PROGRAMS["python"][1]
    reqs = [{"id": 1, "language": "python", "source": src},
            {"id": 2, "language": "python", "version": minor(old), "source": src},
            {"id": 3, "language": "python", "version": "4", "source": src}]
    r = t.runcell(*t.suite.global_args, "batch",
                  stdin_data="".join(json.dumps(q) + "\n" for q in reqs).encode())
    t.eq(r.rc, 0, "runcell batch exit status")
    a = [json.loads(ln) for ln in r.stdout.splitlines()]
    t.eq(len(a), 3, "three answers")
    expect_ran(t, a[0], "python", new, "batch, no version")
    expect_ran(t, a[1], "python", old, "batch, version %s" % minor(old))
    t.eq(a[2], {"id": 3, "error": {"code": "unknown_version", "message":
                                   "python has no version '4' (versions: %s, %s)"
                                   % (new, old)}}, "batch, version 4")


# ------------------------------------------------------------------ dialects
@case("versions.piston")
def piston_versions(t):
    """Piston: one runtime per version; execute picks the highest that satisfies the range
    (Go here: the older one is unpacked only when asked for)."""
    old, new = old_new(t, "go")
    src = PROGRAMS["go"][1]
    with Server(t) as srv:
        r = http_req(t, srv, "GET", "/api/v2/runtimes")
        t.eq(r.status, 200, "GET /api/v2/runtimes")
        go = sorted((e["version"] for e in r.json if e["language"] == "go"), key=vkey)
        t.eq(go[-2:], [old, new], "go's runtimes")
        r = http_req(t, srv, "GET", "/api/v2/packages")
        t.check({old, new} <= {e["language_version"] for e in r.json if e["language"] == "go"},
                "go's packages: %r" % r.json)
        for rng, got in (("*", new), (minor(old), old), ("%s.x" % minor(old), old), (old, old),
                         ("<%s" % minor(new), old), ("1", new)):
            r = http_req(t, srv, "POST", "/api/v2/execute",
                         {"language": "golang", "version": rng, "files": [{"content": src}]})
            t.eq(r.status, 200, "execute version %r (%s)" % (rng, r.body[:300]))
            t.eq((r.json["language"], r.json["version"], r.json["run"]["stdout"]),
                 ("go", got, got + "\n"), "execute version %r" % rng)
        r = http_req(t, srv, "POST", "/api/v2/execute",
                     {"language": "go", "version": "1.30", "files": [{"content": src}]})
        t.eq((r.status, r.json), (400, {"message": "go-1.30 runtime is unknown"}),
             "execute version 1.30")


@case("versions.codapi")
def codapi_versions(t):
    old, new = old_new(t, "javascript")
    src = PROGRAMS["javascript"][1]
    with Server(t) as srv:
        for want, got in (("", new), ("latest", new), (old.split(".")[0], old), (old, old),
                          (minor(new), new)):
            r = http_req(t, srv, "POST", "/v1/exec",
                         {"sandbox": "javascript", "version": want, "command": "run",
                          "files": {"": src}})
            t.eq(r.status, 200, "codapi version %r" % want)
            t.eq((r.json["ok"], r.json["stdout"]), (True, got + "\n"), "codapi version %r"
                 % want)
        r = http_req(t, srv, "POST", "/v1/exec",
                     {"sandbox": "node", "version": "99", "command": "run", "files": {"": src}})
        t.eq((r.status, r.json["ok"], r.json["stderr"]), (200, False, "unknown box javascript:99"),
             "codapi version 99")
