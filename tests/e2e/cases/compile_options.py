"""The run document's "compile_options" (engine/flags.c): checked words added at the
toolchain's "{options}", and files given as "encoding": "base64".  Each case runs its own
server on 127.0.0.1 and uses the native HTTP API."""

import base64

from harness import case
from server_util import Server, check_http_error, http_req

DEFINE_PROG = r"""#include <stdio.h>
int main(void)
{
#ifdef __OPTIMIZE__
    const char *opt = "optimized";
#else
    const char *opt = "not optimized";
#endif
    printf("X=%d %s\n", X, opt);
    return 0;
}
"""


@case("compile_options.c_define_and_level", lang="c")
def c_define_and_level(t):
    """-O2 -DX=3 reach gcc: the program prints the define; -O0 after the toolchain's -O2 wins."""
    with Server(t) as srv:
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "c", "source": DEFINE_PROG,
                      "compile_options": ["-O2", "-DX=3"]})
        t.eq(r.status, 200, "HTTP status (body %r)" % r.body[:400])
        t.eq(r.json["compile"]["status"], "ok",
             "compile status (stderr %r)" % r.json["compile"].get("stderr"))
        t.eq(r.json["run"]["stdout"], "X=3 optimized\n", "the program's output")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "c", "source": DEFINE_PROG,
                      "compile_options": ["-O0", "-DX=41"]})
        t.eq(r.status, 200, "HTTP status (body %r)" % r.body[:400])
        t.eq(r.json["run"]["stdout"], "X=41 not optimized\n", "the program's output with -O0")
        # without compile_options the toolchain's command is as before: X is undefined
        r = http_req(t, srv, "POST", "/api/v1/run", {"language": "c", "source": DEFINE_PROG})
        t.eq(r.status, 200, "HTTP status")
        t.eq(r.json["compile"]["status"], "compile_error", "compile status without -DX")
        srv.check_alive()


@case("compile_options.refused", lang="c")
def refused(t):
    """Options outside the allowlist are refused 400 bad_request naming the option, before
    anything runs; a language without "{options}" refuses any."""
    with Server(t) as srv:
        for opts, says in [(["-fplugin=/x"], '"-fplugin=/x" is not allowed for c'),
                           (["-O2", "-wrapper", "/bin/sh,-c,id"], '"-wrapper" is not allowed'),
                           (["@/etc/passwd"], "an argument file"),
                           (["-Wl,-T,/x"], '"-Wl,-T,/x" is not allowed'),
                           (["-o", "/tmp/x"], '"-o" is not allowed'),
                           (["-DX=a b"], '"-DX=a b" is not allowed'),
                           ("-O2", '"compile_options" must be an array of strings')]:
            r = http_req(t, srv, "POST", "/api/v1/run",
                         {"language": "c", "source": DEFINE_PROG, "compile_options": opts})
            e = check_http_error(t, r, 400, "bad_request", what="compile_options %r" % (opts,))
            t.check(says in e["message"], "message %r must say %r" % (e["message"], says))
        srv.check_alive()


@case("compile_options.base64_file", lang="c")
def base64_file(t):
    """A file given as "encoding": "base64" reaches /work byte for byte (NUL bytes too)."""
    data = bytes(range(256))
    prog = r"""#include <stdio.h>
int main(void)
{
    FILE *f = fopen("data/blob.bin", "rb");
    int c, n = 0;
    unsigned sum = 0;
    while ((c = fgetc(f)) != EOF) {
        sum = sum * 31 + (unsigned)c;
        n++;
    }
    printf("%d %u\n", n, sum);
    return 0;
}
"""
    want = 0
    for c in data:
        want = (want * 31 + c) & 0xffffffff
    with Server(t) as srv:
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "c",
                      "files": [{"name": "main.c", "content": prog},
                                {"name": "data/blob.bin",
                                 "content": base64.b64encode(data).decode(),
                                 "encoding": "base64"}]})
        t.eq(r.status, 200, "HTTP status (body %r)" % r.body[:400])
        t.eq(r.json["run"]["stdout"], "256 %d\n" % want, "the file as the program read it")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "c",
                      "files": [{"name": "main.c", "content": prog},
                                {"name": "b", "content": "not base64!", "encoding": "base64"}]})
        check_http_error(t, r, 400, "bad_request", what="bad base64")
        srv.check_alive()


# (language, compile_options, source, expected stdout, or None: the compile must fail) -- each
# shows that the options reached the compiler
FAMILIES = [
    ("cpp", ["-std=c++17", "-DX=5"],
     '#include <iostream>\nint main() { std::cout << "X=" << X << "\\n"; }\n', "X=5\n"),
    ("c-clang", ["-O1", "-DX=6"],
     '#include <stdio.h>\nint main(void) { printf("X=%d\\n", X); return 0; }\n', "X=6\n"),
    ("cpp-clang", ["-DX=7", "-Wall"],
     '#include <cstdio>\nint main() { std::printf("X=%d\\n", X); }\n', "X=7\n"),
    ("objc", ["-DX=8"],
     '#include <stdio.h>\nint main(void) { printf("X=%d\\n", X); return 0; }\n', "X=8\n"),
    ("fortran", ["-std=f2008", "-Werror", "-Wall"],
     "program main\n  integer :: unused\n  print '(a)', 'hi'\nend program main\n", None),
    ("d", ["-O3"], 'import std.stdio;\nvoid main() { writeln("d ok"); }\n', "d ok\n"),
    ("rust", ["-C", "overflow-checks=on"],
     "fn main() {\n    let x: u8 = std::hint::black_box(255);\n"
     "    let y = x.wrapping_add(0) + std::hint::black_box(1);\n    println!(\"{}\", y);\n}\n",
     "runtime_error"),
    ("haskell", ["-XBangPatterns", "-O0"],
     "main :: IO ()\nmain = let !x = 41 + 1 :: Int in print x\n", "42\n"),
    ("pascal", ["-dFOO"],
     "program main;\nbegin\n{$IFDEF FOO}\n  writeln('foo');\n{$ELSE}\n  writeln('bar');\n"
     "{$ENDIF}\nend.\n", "foo\n"),
    ("csharp", ["-define:FOO"],
     "using System;\nclass P { static void Main() {\n#if FOO\n Console.WriteLine(\"foo\");\n"
     "#else\n Console.WriteLine(\"bar\");\n#endif\n} }\n", "foo\n"),
    ("java", ["-Xlint:all", "-Werror"],
     "import java.util.*;\npublic class Main { public static void main(String[] a) {\n"
     " List l = new ArrayList(); l.add(1); System.out.println(l); } }\n", None),
]


@case("compile_options.families")
def families(t):
    """For each compiler family whose root filesystem is built: allowed options reach the
    compiler (a define is printed, a warning made an error fails the compile, overflow checks
    panic)."""
    with Server(t, "--max-concurrent", "2") as srv:
        r = http_req(t, srv, "GET", "/api/v1/languages")
        ready = {x["name"] for x in r.json if x.get("ready")}
        tried = 0
        for lang, opts, src, want in FAMILIES:
            if lang not in ready:
                t.note("%s: not ready, skipped" % lang)
                continue
            tried += 1
            r = http_req(t, srv, "POST", "/api/v1/run",
                         {"language": lang, "source": src, "compile_options": opts,
                          "compile_limits": {"wall_ms": 60000, "cpu_ms": 60000}}, timeout=180)
            t.eq(r.status, 200, "%s: HTTP status (body %r)" % (lang, r.body[:400]))
            comp = r.json.get("compile") or {}
            run = r.json.get("run") or {}
            if want is None:
                t.eq(comp.get("status"), "compile_error",
                     "%s %s: the compile must fail (stderr %r)" % (lang, opts, comp.get("stderr")))
            elif want == "runtime_error":
                t.eq(run.get("status"), "runtime_error",
                     "%s %s: run status (stderr %r)" % (lang, opts, run.get("stderr")))
            else:
                t.eq(comp.get("status"), "ok",
                     "%s %s: compile status (stderr %r)" % (lang, opts, comp.get("stderr")))
                t.eq(run.get("stdout"), want, "%s %s: output" % (lang, opts))
        if not tried:
            t.skip("no compiled language of these families is built")
        srv.check_alive()
