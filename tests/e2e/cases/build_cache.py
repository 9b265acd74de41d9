"""The build cache (job/buildcache.h): the same sources compiled again are taken from the cache,
with what the compiler said; anything else about the compile (other sources, other options, a
failed compile, the cache turned off) compiles again. Each case's program carries a token of its
own, so no other case (or earlier run of the suite) has put it in the cache."""

import json
import os
import uuid

from harness import case
from server_util import Server, http_req

# -Wall warns about the unused variable: the warning must come back with a cached build too
PROG = r"""#include <stdio.h>
int main(void)
{
        int unused;
        printf("token %s\n");
        return 0;
}
"""


def prog(t, name="main.c", extra=""):
    """A C program unique to this run, and its token."""
    tok = uuid.uuid4().hex
    src = PROG.replace('"token %s\\n"', '"token %s\\n", "%s"' % ("%s", tok)) + extra
    path = os.path.join(t.tmpdir(), name)
    t.write(os.path.dirname(path), name, src)
    return path, tok


def compile_of(obj):
    return obj.get("compile") or {}


@case("build_cache.cli_second_run_cached", lang="c")
def cli_second_run_cached(t):
    """The second run of the same C program takes its build from the cache: same output, the
    same compiler warning, "cached": true; the first was compiled."""
    path, tok = prog(t)
    r1, o1 = t.run_json("c", [path])
    r2, o2 = t.run_json("c", [path])
    t.eq(o1["run"]["stdout"], "token %s\n" % tok, "first run's output")
    t.eq(o2["run"]["stdout"], o1["run"]["stdout"], "second run's output")
    t.check(not compile_of(o1).get("cached"), "the first compile was cached: %r" % compile_of(o1))
    t.eq(compile_of(o2).get("cached"), True, "the second compile's cached")
    t.eq(compile_of(o2)["status"], "ok", "cached compile status")
    t.contains(compile_of(o1)["stderr"], "unused", "the compiler's warning")
    t.eq(compile_of(o2)["stderr"], compile_of(o1)["stderr"], "the warning, from the cache")


@case("build_cache.other_sources_compile", lang="c")
def other_sources_compile(t):
    """A program that differs by one byte, or the same one under another file name, compiles."""
    path, tok = prog(t)
    t.run_json("c", [path])
    with open(path) as f:
        src = f.read()
    other = os.path.join(t.tmpdir(), "main.c")
    t.write(os.path.dirname(other), "main.c", src.replace("return 0;", "return 0; "))
    _, o = t.run_json("c", [other])
    t.check(not compile_of(o).get("cached"), "a different source came from the cache")
    renamed = os.path.join(t.tmpdir(), "prog.c")
    t.write(os.path.dirname(renamed), "prog.c", src)
    _, o = t.run_json("c", [renamed])
    t.check(not compile_of(o).get("cached"), "the same source under another name came from "
            "the cache")


@case("build_cache.compile_error_not_cached", lang="c")
def compile_error_not_cached(t):
    """A compile error is never kept: the second try compiles (and fails) again."""
    path = os.path.join(t.tmpdir(), "main.c")
    t.write(os.path.dirname(path), "main.c",
            "int main(void) { return %s }\n" % ("x" + uuid.uuid4().hex))
    for i in range(2):
        r = t.run_lang("c", [path])
        obj = r.json()
        t.eq(compile_of(obj).get("status"), "compile_error", "compile %d" % (i + 1))
        t.check(not compile_of(obj).get("cached"), "a failed compile came from the cache")


@case("build_cache.off", lang="c")
def off(t):
    """RUNCELL_BUILD_CACHE_MB=0: every run compiles."""
    path, _ = prog(t)
    for _ in range(2):
        _, o = t.run_json("c", [path], env={"RUNCELL_BUILD_CACHE_MB": "0"})
        t.check(not compile_of(o).get("cached"), "cached with the cache off")


@case("build_cache.server_options_in_key", lang="c")
def server_options_in_key(t):
    """Through the server: the second identical request is cached; the same source with other
    compile_options is compiled (and behaves as its options say)."""
    src = "#include <stdio.h>\nint main(void) { printf(\"%%d %s\\n\", X); return 0; }\n" % (
        uuid.uuid4().hex)
    with Server(t) as srv:
        def run(opts):
            r = http_req(t, srv, "POST", "/api/v1/run",
                         {"language": "c", "source": src, "compile_options": opts})
            t.eq(r.status, 200, "POST /api/v1/run")
            return json.loads(r.body)
        a = run(["-DX=1"])
        b = run(["-DX=1"])
        c = run(["-DX=2"])
        t.check(not compile_of(a).get("cached"), "first compile cached")
        t.eq(compile_of(b).get("cached"), True, "same request again: cached")
        t.check(not compile_of(c).get("cached"), "other options came from the cache")
        t.eq(a["run"]["stdout"].split()[0], "1", "-DX=1 output")
        t.eq(b["run"]["stdout"], a["run"]["stdout"], "the cached build's output")
        t.eq(c["run"]["stdout"].split()[0], "2", "-DX=2 output")
