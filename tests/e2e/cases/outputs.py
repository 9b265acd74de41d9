"""Files back: a run's "outputs" patterns hand the files it wrote in /work back, base64, through
`runcell batch`, the WebSocket exit event and POST /api/v1/run, within the documented limits
(outputs_count, outputs_file_bytes, outputs_total_bytes) and never following a symlink."""

import base64
import os
import json
import struct
import zlib

from harness import case
from server_util import WS, Server, check_run, http_req, run_async, write_config


PNG_SRC = '''
import os, struct, zlib
def png_bytes():
    raw = b"".join(b"\\0" + bytes(sum(((x * 32, y * 32, 128) for x in range(8)), ())) for y in range(8))
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
'''

_ns = {}
exec(PNG_SRC, _ns)  # the same code makes the PNG here and in the program
png_bytes = _ns["png_bytes"]

WRITER = PNG_SRC + '''
open("out.txt", "w").write("hello outputs\\n")
open("plot.png", "wb").write(png_bytes())
os.makedirs("sub/deeper", exist_ok=True)
open("sub/data.csv", "w").write("a,b\\n1,2\\n")
open("sub/deeper/no.csv", "w").write("not asked for")
open("notes.md", "w").write("not asked for")
os.symlink("/etc/passwd", "x.png")
open(".hidden.txt", "w").write("a leading dot is not matched by *")
print("written")
'''

PATTERNS = ["*.txt", "*.png", "sub/*", "nothing/*.bin", "[!a-z]*.zzz"]


def by_name(t, stage, what):
    t.check(stage is not None and isinstance(stage.get("files"), list),
            "%s: no \"files\" list in %r" % (what, json.dumps(stage)[:500]))
    t.check(type(stage.get("files_truncated")) is bool, "%s: files_truncated must be a boolean"
            % what)
    names = [f["name"] for f in stage["files"]]
    t.eq(names, sorted(names), "%s: files in the order of their names" % what)
    return {f["name"]: f for f in stage["files"]}


def content(f):
    return base64.b64decode(f["content"], validate=True)


def check_writer(t, stage, what):
    """The WRITER program's files: exactly what it wrote; the symlink not followed."""
    t.eq(stage["status"], "ok", "%s: status (stderr %r)" % (what, stage.get("stderr")))
    got = by_name(t, stage, what)
    t.eq(sorted(got), ["out.txt", "plot.png", "sub/data.csv", "x.png"], "%s: names" % what)
    t.eq(content(got["out.txt"]), b"hello outputs\n", "%s: out.txt" % what)
    t.eq(got["out.txt"]["size"], 14, "%s: out.txt size" % what)
    t.eq(got["out.txt"]["mode"], 0o644, "%s: out.txt mode" % what)
    png = content(got["plot.png"])
    t.eq(png[:8], b"\x89PNG\r\n\x1a\n", "%s: PNG signature" % what)
    t.eq(png, png_bytes(), "%s: the PNG, byte for byte" % what)
    t.eq(content(got["sub/data.csv"]), b"a,b\n1,2\n", "%s: a file in a subdirectory" % what)
    x = got["x.png"]
    t.check("content" not in x and x.get("skipped") == "not_regular",
            "%s: the symlink to /etc/passwd must come back as skipped, not followed: %r"
            % (what, x))
    t.eq(stage["files_truncated"], True, "%s: files_truncated (the symlink was left out)" % what)


def batch(t, requests, *extra):
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in requests)
    r = t.runcell(*t.suite.global_args, "batch", *extra, stdin_data=data.encode(), timeout=180)
    t.check(r.rc == 0, "runcell batch exit status %r" % r.rc)
    answers = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    t.eq(len(answers), len(requests), "one answer per request")
    return answers


@case("outputs.batch_files_back", lang="python")
def batch_files_back(t):
    t.eq(png_bytes()[:8], b"\x89PNG\r\n\x1a\n", "the test's own PNG")
    a = batch(t, [
        {"id": 1, "language": "python", "source": WRITER, "outputs": PATTERNS},
        {"id": 2, "language": "python", "source": "open('a.txt','w').write('x')",
         "outputs": ["*.png", "dir/*"]},
        {"id": 3, "language": "python", "source": "print(1)"},
        {"id": 4, "language": "python", "source": "print(1)", "outputs": ["../etc/*"]},
        {"id": 5, "language": "python", "source": "print(1)", "outputs": ["/etc/passwd"]},
        {"id": 6, "language": "python", "source": "print(1)", "outputs": "*.png"},
        {"id": 7, "language": "python", "source": "print(1)", "outputs": ["a/b/c/d/e"]},
        {"id": 8, "language": "python", "source": "print(input())", "outputs": ["*"],
         "tests": [{"stdin": "1\n", "expected_output": "1\n"}]},
        {"id": 9, "language": "python", "source": "print(1)", "outputs": ["[abc"]},
    ])
    check_writer(t, a[0]["run"], "batch")
    t.eq(a[0]["run"]["stdout"], "written\n", "the program's stdout is still there")
    t.eq(a[1]["run"]["files"], [], "patterns that match nothing: no files")
    t.eq(a[1]["run"]["files_truncated"], False, "nothing left out")
    t.check("files" not in a[2]["run"], "no \"files\" when none were asked for")
    for i in range(3, 9):
        t.eq(a[i].get("error", {}).get("code"), "bad_request",
             "request %d refused as bad_request: %r" % (i + 1, a[i]))


@case("outputs.limits", lang="python")
def limits(t):
    many = "import os\nos.mkdir('f')\nfor i in range(1000): open('f/%04d.txt' % i, 'w').write(str(i))\n"
    huge = ("open('huge.bin','wb').write(b'x' * (5 << 20))\n"
            "open('small.bin','wb').write(b'y' * 100)\n")
    total = "".join("open('t%d.bin','wb').write(bytes([%d]) * 3000)\n" % (i, i) for i in range(4))
    a = batch(t, [
        {"id": 1, "language": "python", "source": many, "outputs": ["f/*"]},
        {"id": 2, "language": "python", "source": huge, "outputs": ["*.bin"]},
        {"id": 3, "language": "python", "source": many, "outputs": ["f/*"],
         "limits": {"outputs_count": 7}},
        {"id": 4, "language": "python", "source": total, "outputs": ["*.bin"],
         "limits": {"outputs_total_bytes": 7000, "outputs_file_bytes": 5000}},
        {"id": 5, "language": "python", "source": "1", "outputs": ["*"],
         "limits": {"outputs_count": 100000}},
        {"id": 6, "language": "python", "outputs": ["*.txt"],
         "source": "open('a.txt', 'w').write('x')\nraise SystemExit(3)\n"},
        {"id": 7, "language": "python", "outputs": ["*.txt"],
         "source": "open('a.txt', 'w').write('x')\nwhile True: pass\n",
         "limits": {"wall_ms": 1000, "cpu_ms": 500}},
    ])
    r = a[0]["run"]
    t.eq(r["status"], "ok", "1000 files written")
    t.eq(len(r["files"]), 100, "the default outputs_count is 100")
    t.eq(r["files_truncated"], True, "the rest is said to be left out")
    for f in r["files"]:
        t.check(f["name"].startswith("f/") and content(f) == f["name"][2:6].lstrip("0").encode()
                or (f["name"] == "f/0000.txt" and content(f) == b"0"), "content of %r" % f["name"])
    got = by_name(t, a[1]["run"], "huge")
    t.eq(got["huge.bin"].get("skipped"), "too_large", "a 5 MiB file is over the 4 MiB default")
    t.eq(got["huge.bin"]["size"], 5 << 20, "its size is said")
    t.check("content" not in got["huge.bin"], "no content for a file over the limit (not cut)")
    t.eq(content(got["small.bin"]), b"y" * 100, "the small one still comes")
    t.eq(a[1]["run"]["files_truncated"], True, "files_truncated")
    t.eq(len(a[2]["run"]["files"]), 7, "outputs_count 7")
    got = by_name(t, a[3]["run"], "total")
    t.eq([("content" in got["t%d.bin" % i]) for i in range(4)], [True, True, False, False],
         "the total of 7000 bytes takes two files of 3000")
    t.eq(got["t2.bin"]["skipped"], "total_limit", "the third is over the total")
    t.eq(content(got["t1.bin"]), b"\x01" * 3000, "content")
    t.eq(a[4].get("error", {}).get("code"), "bad_request", "outputs_count over its maximum")
    t.eq(a[5]["run"]["status"], "runtime_error", "exit 3")
    t.eq([content(f) for f in a[5]["run"]["files"]], [b"x"], "files come back after a failure")
    t.eq(a[6]["run"]["status"], "time_limit", "killed for its time")
    t.eq(a[6]["run"]["files"], [], "a sandbox killed from outside hands nothing back")


@case("outputs.odd_names", lang="python")
def odd_names(t):
    src = ("open(b'new\\nline.txt', 'wb').write(b'n')\n"
           "open(b'bad\\xff.txt', 'wb').write(b'b')\n"
           "open('caf\\u00e9.txt', 'w').write('c')\n"
           "import os\nos.mkfifo('pipe.txt')\n"
           "os.mkdir('dir.txt')\n")
    a = batch(t, [{"id": 1, "language": "python", "source": src, "outputs": ["*.txt"]}])
    got = by_name(t, a[0]["run"], "odd names")
    t.eq(content(got["caf\u00e9.txt"]), b"c", "a UTF-8 name comes back")
    t.eq(got["new\nline.txt"].get("skipped"), "bad_name", "a name with a newline is left out")
    t.eq(got["bad\ufffd.txt"].get("skipped"), "bad_name",
         "a name that is not UTF-8 is left out (shown with U+FFFD)")
    t.eq(got["pipe.txt"].get("skipped"), "not_regular", "a FIFO is not read")
    t.check("dir.txt" not in got, "a directory is not a file")
    t.eq(a[0]["run"]["files_truncated"], True, "files_truncated")


@case("outputs.websocket", lang="python")
def websocket(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("w1", "python", WRITER, outputs=PATTERNS)
            res = check_run(t, await ws.done("w1"), "w1")
            check_writer(t, res.exit("run"), "websocket")
            await ws.run("w2", "python", "print(1)")
            res = check_run(t, await ws.done("w2"), "w2")
            t.check("files" not in res.exit("run"), "no files when none were asked for")
    with Server(t) as srv:
        run_async(t, body(srv), timeout=120)


@case("outputs.websocket_compiled", lang="c")
def websocket_compiled(t):
    src = ('#include <stdio.h>\nint main(void){FILE *f = fopen("result.txt", "w");'
           'fputs("from C\\n", f); fclose(f); return 0;}\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("c1", "c", None, files=[{"name": "main.c", "content": src}],
                         outputs=["*.txt", "main*"])
            res = check_run(t, await ws.done("c1"), "c1", stages=("compile", "run"))
            t.check("files" not in res.exit("compile"), "the compile stage hands nothing back")
            got = by_name(t, res.exit("run"), "compiled")
            t.eq(content(got["result.txt"]), b"from C\n", "the run stage's file")
            t.eq(content(got["main.c"]), src.encode(), "the source is in /work too")
    with Server(t) as srv:
        run_async(t, body(srv), timeout=120)


@case("outputs.http_and_limits_max", lang="python")
def http_and_limits_max(t):
    cfg = write_config(t, {"limits_max": {"outputs_count": 2}})
    with Server(t, "--config", cfg) as srv:
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": WRITER, "outputs": ["*.txt", "*.png"]})
        t.eq(r.status, 200, "HTTP status")
        got = by_name(t, r.json["run"], "http")
        t.eq(sorted(got), ["out.txt", "plot.png"], "limits_max outputs_count 2 clamps the "
             "three matches to the first two")
        t.eq(content(got["plot.png"]), png_bytes(), "the PNG over HTTP")
        t.eq(r.json["run"]["files_truncated"], True, "the third is said to be left out")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": "1", "outputs": ["/x"]})
        t.eq(r.status, 400, "a bad pattern is a bad request")
        t.eq(r.json["error"]["code"], "bad_request", "code")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": "print(input())", "outputs": ["*"],
                      "tests": [{"stdin": "1\n", "expected_output": "1\n"}]})
        t.eq(r.status, 400, "a judged run with outputs is refused")
        t.check("outputs" in r.json["error"]["message"],
                "the refusal names outputs: %r" % r.json["error"])


@case("outputs.matplotlib_png", lang="python-sci")
def matplotlib_png(t):
    src = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
           "plt.plot([1, 2, 3], [1, 4, 9])\nplt.savefig('plot.png')\n")
    a = batch(t, [{"id": 1, "language": "python-sci", "source": src, "outputs": ["*.png"],
                   "limits": {"wall_ms": 60000, "cpu_ms": 60000}}])
    got = by_name(t, a[0]["run"], "matplotlib")
    t.eq(a[0]["run"]["status"], "ok", "status (stderr %r)" % a[0]["run"]["stderr"][-500:])
    png = content(got["plot.png"])
    t.eq(png[:8], b"\x89PNG\r\n\x1a\n", "a PNG signature")
    t.eq(png[12:16], b"IHDR", "its first chunk")


@case("outputs.cli_outputs_dir", lang="python")
def cli_outputs_dir(t):

    d = t.tmpdir()
    src = t.write(d, "w.py", WRITER)
    out = os.path.join(d, "out")
    r = t.runcell("run", "--outputs", "*.txt", "--outputs", "*.png", "--outputs", "sub/*",
                  "--outputs-dir", out, src, timeout=120)
    t.eq(r.rc, 0, "exit status (stderr %r)" % r.stderr)
    files = sorted(os.path.relpath(os.path.join(p, f), out)
                   for p, _, fs in os.walk(out) for f in fs)
    t.eq(files, ["out.txt", "plot.png", "sub/data.csv"], "files written (the symlink is not)")
    t.eq(open(os.path.join(out, "plot.png"), "rb").read(), png_bytes(), "the PNG")
    t.check(not os.path.islink(os.path.join(out, "x.png")), "no symlink made")
    t.check("x.png left out: not_regular" in r.stderr, "the left-out file is said: %r" % r.stderr)
    # a directory of DIR that is a symlink is not followed, nor is a file written over
    out2 = os.path.join(d, "out2")
    elsewhere = os.path.join(d, "elsewhere")
    os.mkdir(out2)
    os.mkdir(elsewhere)
    os.symlink(elsewhere, os.path.join(out2, "sub"))
    t.write(out2, "out.txt", "mine")
    r = t.runcell("run", "--outputs", "*.txt", "--outputs", "sub/*", "--outputs-dir", out2,
                  src, timeout=120)
    t.eq(r.rc, 3, "a file that could not be written is an error")
    t.eq(os.listdir(elsewhere), [], "nothing written through the symlink")
    t.eq(open(os.path.join(out2, "out.txt")).read(), "mine", "an existing file is kept")
    r = t.runcell("run", "--outputs", "*.txt", src)
    t.check(r.rc != 0 and "--outputs-dir" in r.stderr, "--outputs alone is refused: %r"
            % r.stderr)
    r = t.runcell("run", "--outputs", "../x", "--outputs-dir", out, src)
    t.check(r.rc != 0 and "relative" not in r.stdout, "a bad pattern is refused")
