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
