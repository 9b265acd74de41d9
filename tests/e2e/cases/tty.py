"""Runs on a pseudo-terminal: "tty": {"rows", "cols"} in the WebSocket run request (output
events with stream "tty", stdin to the terminal, "resize" messages), and `runcell run -t` on a
terminal of the test's own."""

import json
import os
import select
import signal
import subprocess
import time

from harness import case, shorten, Fail
from server_util import WS, Server, check_run, expect_status, http_req, run_async


def ws_case(t, body, *server_args, timeout=None):
    with Server(t, *server_args) as srv:
        run_async(t, body(srv), timeout=timeout)
        srv.check_alive()


def tty_out(ws, rid):
    """What the run has written to its terminal so far (decoded)."""
    from server_util import decode_output
    return b"".join(decode_output(ws.t, e) for _, e in ws.by_id.get(rid, [])
                    if e.get("type") == "output" and e.get("stream") == "tty")


async def run_tty(ws, rid, src, rows=24, cols=80, **fields):
    await ws.run(rid, "python", files=[{"name": "main.py", "content": src}],
                 tty={"rows": rows, "cols": cols}, **fields)


@case("tty.ws.prompt_answered", lang="python")
def prompt(t):
    src = 'name = input("name? ")\nprint("hello, " + name)\n'

    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "p1", src, interactive=True)
            await ws.wait_output("p1", "name? ", timeout=60, stream="tty")
            await ws.send({"type": "stdin", "id": "p1", "data": "world\r"})
            evs = await ws.done("p1", timeout=30)
            res = check_run(t, evs, "p1")
            expect_status(t, res, "run", "ok", exit_code=0)
            out = res.out("run", "tty")
            # the terminal echoes the answer (its Enter as CR LF) and maps \n to \r\n
            t.eq(out, b"name? world\r\nhello, world\r\n", "the terminal's output")
            t.eq(res.out("run", "stdout") + res.out("run", "stderr"), b"",
                 "nothing on the stdout/stderr streams of a tty run")
    ws_case(t, body)


@case("tty.ws.isatty_and_size", lang="python")
def isatty_size(t):
    src = ('import os, sys\n'
           'print("tty", os.isatty(0), os.isatty(1), os.isatty(2))\n'
           'sz = os.get_terminal_size(1)\n'
           'print("size", sz.lines, sz.columns)\n'
           'print("ctty", os.tcgetpgrp(0) == os.getpgrp(), os.getsid(0) == os.getpid())\n'
           'print("name", os.ttyname(0))\n'
           'import termios\n'
           'a = termios.tcgetattr(0)\n'
           'print("attrs", bool(a[0] & termios.IUTF8), a[6][termios.VSUSP] == b"\\0",\n'
           '      bool(a[3] & termios.ICANON), bool(a[3] & termios.ECHO), bool(a[3] & termios.ISIG))\n'
           'print("err", file=sys.stderr)\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "s1", src, rows=33, cols=101)
            evs = await ws.done("s1", timeout=60)
            res = check_run(t, evs, "s1")
            expect_status(t, res, "run", "ok", exit_code=0)
            out = res.out("run", "tty").decode()
            t.check("tty True True True\r\n" in out, "isatty(0,1,2): %r" % out)
            t.check("size 33 101\r\n" in out, "terminal size 33x101: %r" % out)
            t.check("ctty True True\r\n" in out,
                    "the program leads its session, in the foreground: %r" % out)
            t.check("name /dev/pts/0\r\n" in out,
                    "the sandbox's own devpts (its first terminal): %r" % out)
            t.check("err\r\n" in out, "stderr goes to the terminal too: %r" % out)
            t.check("attrs True True True True True\r\n" in out,
                    "IUTF8, no suspend character, canonical, echo, signals: %r" % out)
    ws_case(t, body)


@case("tty.ws.resize_sigwinch", lang="python")
def resize(t):
    src = ('import os, signal\n'
           'signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})\n'
           'sz = os.get_terminal_size(1)\n'
           'print("size", sz.lines, sz.columns, flush=True)\n'
           'signal.sigwaitinfo({signal.SIGWINCH})\n'
           'sz = os.get_terminal_size(1)\n'
           'print("new", sz.lines, sz.columns, flush=True)\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "r1", src, rows=20, cols=70)
            await ws.wait_output("r1", "size 20 70\r\n", timeout=60, stream="tty")
            await ws.send({"type": "resize", "id": "r1", "rows": 50, "cols": 132})
            evs = await ws.done("r1", timeout=30)
            res = check_run(t, evs, "r1")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out("run", "tty"), b"size 20 70\r\nnew 50 132\r\n", "sizes seen")
            # resized at once, while the run is queued or its sandbox is starting the program
            await run_tty(ws, "r2", 'import os\nprint("size", *os.get_terminal_size(1)[::-1])\n',
                          rows=10, cols=10)
            await ws.send({"type": "resize", "id": "r2", "rows": 40, "cols": 100})
            evs = await ws.done("r2", timeout=60)
            res = check_run(t, evs, "r2")
            t.eq(res.out("run", "tty"), b"size 40 100\r\n", "the size given before the start")
    ws_case(t, body)


@case("tty.ws.resize_while_queued", lang="python")
def resize_queued(t):
    """A run waiting in the queue takes its resizes and its input with it."""
    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "q0", 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n')
            await ws.wait_output("q0", "ready\r\n", timeout=60, stream="tty")
            await run_tty(ws, "q1", 'import os\nprint("size", *os.get_terminal_size(1)[::-1])\n'
                          'print("got", input())\n', rows=5, cols=6, interactive=True)
            _, ev = await ws.wait_type("queued", rid="q1", timeout=20)
            t.check(ev["position"] > 0, "q1 waits behind q0: %s" % json.dumps(ev))
            await ws.send({"type": "resize", "id": "q1", "rows": 30, "cols": 60})
            await ws.send({"type": "stdin", "id": "q1", "data": "early\r"})
            await ws.send({"type": "kill", "id": "q0"})
            await ws.done("q0", timeout=20)
            evs = await ws.done("q1", timeout=60)
            res = check_run(t, evs, "q1")
            expect_status(t, res, "run", "ok", exit_code=0)
            out = res.out("run", "tty")
            t.check(b"size 30 60\r\n" in out, "the size given while queued: %r" % out)
            t.check(out.endswith(b"got early\r\n"), "the input given while queued: %r" % out)
    ws_case(t, body, "--max-concurrent", "1")


@case("tty.ws.ctrl_c_interrupts", lang="python")
def ctrl_c(t):
    # Short sleeps, not one long one: CPython runs its SIGINT handler (which only sets a flag)
    # and raises KeyboardInterrupt at its next check between bytecodes, or when a blocking call
    # is interrupted. A ^C whose signal lands between the last check after print() and
    # time.sleep's clock_nanosleep is seen only when that sleep ends (a real terminal shows the
    # same). The ^C below is sent as soon as "ready" arrives, which hit that window about once
    # in four runs: with time.sleep(60) the program was still sleeping 3 s later, its SIGINT
    # handled (nothing pending), its terminal in the foreground.
    src = ('import time\n'
           'try:\n'
           '    print("ready", flush=True)\n'
           '    for _ in range(300):\n'
           '        time.sleep(0.2)\n'
           'except KeyboardInterrupt:\n'
           '    print("interrupted", flush=True)\n'
           '    raise\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "c1", src, interactive=True)
            await ws.wait_output("c1", "ready\r\n", timeout=60, stream="tty")
            t0 = time.monotonic()
            await ws.send({"type": "stdin", "id": "c1", "data": "\x03"})
            evs = await ws.done("c1", timeout=20)
            took = time.monotonic() - t0
            res = check_run(t, evs, "c1")
            out = res.out("run", "tty")
            t.check(b"^C" in out, "the terminal echoes ^C: %r" % out)
            t.check(b"interrupted" in out and b"KeyboardInterrupt" in out,
                    "KeyboardInterrupt raised in the program: %r" % out)
            ex = res.exit()
            t.check(ex["status"] == "runtime_error", "status after ^C: %s" % json.dumps(ex))
            t.check(ex["signal"] == "SIGINT" or ex["exit_code"] == 130 or ex["exit_code"] == 1,
                    "ended by SIGINT: %s" % json.dumps(ex))
            t.check(took < 5, "done %.1fs after the first ^C" % took)
    ws_case(t, body)


@case("tty.ws.stdin_eof_is_ctrl_d", lang="python")
def stdin_eof(t):
    src = ('import sys\n'
           'data = sys.stdin.read()\n'
           'print("got %r" % data)\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            # a non-interactive run: its "stdin", then the terminal's EOF character
            await run_tty(ws, "e1", src, stdin="abc\ndef\n")
            evs = await ws.done("e1", timeout=60)
            res = check_run(t, evs, "e1")
            expect_status(t, res, "run", "ok", exit_code=0)
            out = res.out("run", "tty")
            t.check(out.endswith(b"got 'abc\\ndef\\n'\r\n"), "read to EOF: %r" % out)
            # interactive: "eof" after the input
            await run_tty(ws, "e2", src, interactive=True)
            await ws.send({"type": "stdin", "id": "e2", "data": "one\n"})
            await ws.send({"type": "stdin", "id": "e2", "eof": True})
            evs = await ws.done("e2", timeout=30)
            res = check_run(t, evs, "e2")
            expect_status(t, res, "run", "ok", exit_code=0)
            out = res.out("run", "tty")
            t.check(out.endswith(b"got 'one\\n'\r\n"), "read to EOF: %r" % out)
    ws_case(t, body)


@case("tty.ws.all_output_before_the_end", lang="python")
def all_output(t):
    """What the program wrote just before it ended all comes out of the terminal, however
    much of it was still buffered in the terminal when the program went."""
    src = ('import sys, os\n'
           'for i in range(2000):\n'
           '    sys.stdout.write("%05d" % i + "y" * 94 + "\\n")\n'
           'sys.stdout.flush()\n'
           'os.write(1, b"last")\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            for k in range(3):
                rid = "a%d" % k
                await run_tty(ws, rid, src)
                evs = await ws.done(rid, timeout=60)
                res = check_run(t, evs, rid)
                expect_status(t, res, "run", "ok", exit_code=0)
                out = res.out("run", "tty")
                want = b"".join(b"%05d" % i + b"y" * 94 + b"\r\n" for i in range(2000)) + b"last"
                t.check(out == want, "run %d: %d bytes of %d, ending %r" % (k, len(out), len(want),
                                                                           out[-40:]))
    ws_case(t, body)


@case("tty.ws.output_limit", lang="python")
def flood(t):
    src = 'import sys\nwhile True:\n    sys.stdout.write("x" * 4096)\n'

    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "f1", src, limits={"output_bytes": 100000})
            evs = await ws.done("f1", timeout=60)
            res = check_run(t, evs, "f1")
            expect_status(t, res, "run", "output_limit")
            t.eq(len(res.out("run", "tty")), 100000, "bytes relayed (the limit)")
            t.eq(res.exit()["truncated"], True, "exit.truncated")
    ws_case(t, body)


@case("tty.ws.kill", lang="python")
def kill(t):
    src = 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'

    async def body(srv):
        async with WS(t, srv) as ws:
            await run_tty(ws, "k1", src, interactive=True)
            await ws.wait_output("k1", "ready\r\n", timeout=60, stream="tty")
            t0 = time.monotonic()
            await ws.send({"type": "kill", "id": "k1"})
            evs = await ws.done("k1", timeout=10)
            res = check_run(t, evs, "k1")
            expect_status(t, res, "run", "killed")
            t.check(time.monotonic() - t0 < 3, "done within 3s of the kill")
            # and the wall clock ends a tty run as it ends any other
            await run_tty(ws, "k2", src, limits={"wall_ms": 1500})
            evs = await ws.done("k2", timeout=30)
            res = check_run(t, evs, "k2")
            expect_status(t, res, "run", "time_limit")
            await ws.ping()
    ws_case(t, body)


@case("tty.ws.compile_stage_on_pipes", lang="c")
def compile_pipes(t):
    main_c = ('#include <stdio.h>\n#include <unistd.h>\n'
              '#warning from the compiler\n'
              'int main(void) { printf("isatty %d %d\\n", isatty(0), isatty(1)); return 0; }\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("cc", "c", files=[{"name": "main.c", "content": main_c}],
                         tty={"rows": 24, "cols": 80})
            evs = await ws.done("cc", timeout=120)
            res = check_run(t, evs, "cc", stages=("compile", "run"))
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out("compile", "tty"), b"", "nothing of the compiler on a terminal")
            t.check(b"from the compiler" in res.out("compile", "stderr"),
                    "the compiler's warning on stderr: %r" % res.out("compile", "stderr"))
            t.eq(res.out("run", "tty"), b"isatty 1 1\r\n", "the run stage's terminal")
    ws_case(t, body)


@case("tty.ws.bash_stty_tput", lang="bash")
def bash_stty(t):
    """The terminal as shell tools see it: stty size, tput (TERM=xterm-256color by default,
    the request's own TERM when it gives one), and a read prompt."""
    src = ('stty size\n'
           'echo "term=$TERM cols=$(tput cols) lines=$(tput lines)"\n'
           'read -r -p "name? " name\n'
           'echo "hi $name"\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("b1", "bash", src, tty={"rows": 21, "cols": 77}, interactive=True)
            await ws.wait_output("b1", "name? ", timeout=60, stream="tty")
            await ws.send({"type": "stdin", "id": "b1", "data": "Bo\r"})
            evs = await ws.done("b1", timeout=30)
            res = check_run(t, evs, "b1")
            expect_status(t, res, "run", "ok", exit_code=0)
            t.eq(res.out("run", "tty"),
                 b"21 77\r\nterm=xterm-256color cols=77 lines=21\r\nname? Bo\r\nhi Bo\r\n",
                 "stty size, tput, read")
            await ws.run("b2", "bash", 'echo "term=$TERM"\n', tty={"rows": 5, "cols": 5},
                         env={"TERM": "vt100"})
            evs = await ws.done("b2", timeout=60)
            res = check_run(t, evs, "b2")
            t.eq(res.out("run", "tty"), b"term=vt100\r\n", "the request's TERM")
            # (bash gives itself TERM=dumb when it has none, but does not export it)
            await ws.run("b3", "bash", 'echo "term=$(printenv TERM || echo unset)"\n')
            evs = await ws.done("b3", timeout=60)
            res = check_run(t, evs, "b3")
            t.eq(res.out("run", "stdout"), b"term=unset\n", "no TERM without a terminal")
    ws_case(t, body)


@case("tty.http.run_on_a_terminal", lang="python")
def http_tty(t):
    """POST /api/v1/run with "tty": the terminal's output is the answer's stdout; the
    request's stdin is typed in, then ^D."""
    src = ('import os\n'
           'print("tty", os.isatty(1), os.get_terminal_size(1).columns)\n'
           'print("got", input("? "))\n')
    with Server(t) as srv:
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": src, "stdin": "yes\n",
                      "tty": {"rows": 10, "cols": 44}})
        t.eq(r.status, 200, "status (%r)" % r)
        run = r.json["run"]
        t.eq(run["status"], "ok", "run status (%r)" % r)
        # the terminal echoes the line when it is typed in (at the start, with the program
        # maybe not yet printing): its place among the program's lines depends on timing
        out = run["stdout"]
        t.check(out.endswith("? got yes\r\n"), "prompt and answer: %r" % out)
        t.check("tty True 44\r\n" in out, "isatty, the size: %r" % out)
        t.eq(out.replace("tty True 44\r\n", "", 1).replace("? got yes\r\n", ""), "yes\r\n",
             "the echo of the input, once: %r" % out)
        t.eq(run["stderr"], "", "stderr")
        srv.check_alive()


@case("tty.ws.refusals", lang="python")
def refusals(t):
    async def body(srv):
        async with WS(t, srv) as ws:
            for i, bad in enumerate(({"rows": 0, "cols": 80}, {"rows": 24}, "yes",
                                     {"rows": 24, "cols": 100000}, {"rows": 2.5, "cols": 3})):
                rid = "b%d" % i
                await ws.run(rid, "python", 'print(1)\n', tty=bad)
                ev = await ws.error(timeout=20)
                t.eq(ev.get("code"), "bad_request", "tty %r refused" % (bad,))
                t.eq(ev.get("id"), rid, "id of the error")
            # resize of a run without a terminal
            await ws.run("n1", "python", 'import time\nprint("ready", flush=True)\n'
                         'time.sleep(30)\n')
            await ws.wait_output("n1", "ready\n", timeout=60)
            await ws.send({"type": "resize", "id": "n1", "rows": 10, "cols": 10})
            ev = await ws.error(timeout=20)
            t.eq(ev.get("code"), "bad_request", "resize without a terminal")
            await ws.send({"type": "kill", "id": "n1"})
            await ws.done("n1", timeout=20)
            # a bad size on a tty run
            await run_tty(ws, "n2", 'import time\nprint("ready", flush=True)\n'
                          'time.sleep(30)\n')
            await ws.wait_output("n2", "ready\r\n", timeout=60, stream="tty")
            await ws.send({"type": "resize", "id": "n2", "rows": 0, "cols": 10})
            ev = await ws.error(timeout=20)
            t.eq(ev.get("code"), "bad_request", "resize to 0 rows")
            await ws.send({"type": "kill", "id": "n2"})
            await ws.done("n2", timeout=20)
    ws_case(t, body)


# ==================================================================== runcell run -t
class PtyRun:
    """runcell run on a pseudo-terminal of the test's own (its controlling terminal, in the
    foreground): read what it shows, type into it, resize it."""

    def __init__(self, t, args, rows=30, cols=90):
        import fcntl
        import struct
        import termios
        self.t = t
        self.master, slave = os.openpty()
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.before = termios.tcgetattr(slave)

        def ctty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        self.p = subprocess.Popen([t.suite.bin] + list(args), stdin=slave, stdout=slave,
                                  stderr=slave, start_new_session=True, preexec_fn=ctty,
                                  env=t.base_env())
        os.close(slave)
        self.out = b""
        self.eof = False

    def read_until(self, want, timeout=60):
        want = want.encode() if isinstance(want, str) else want
        deadline = time.monotonic() + timeout
        while want not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                raise Fail("runcell -t: %r not shown within %ss; the terminal shows: %r"
                           % (want, timeout, shorten(self.out, 600)))
            r, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.eof = True
                self.out += chunk

    def type(self, data):
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def attrs(self):
        import termios
        return termios.tcgetattr(self.master)  # the slave's, as Linux answers on the master

    def resize(self, rows, cols):
        import fcntl
        import struct
        import termios
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def finish(self, timeout=60):
        """Read to the end; the exit status."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.eof = True
                self.out += chunk
            elif self.p.poll() is not None and not r:
                break
        try:
            rc = self.p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            raise Fail("runcell -t did not end; the terminal shows: %r" % shorten(self.out, 600))
        return rc

    def close(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        os.close(self.master)


@case("tty.cli.prompt_on_own_terminal", lang="python")
def cli_prompt(t):
    import termios
    d = t.tmpdir()
    prog = t.write(d, "ask.py", 'import os\n'
                   'sz = os.get_terminal_size(1)\n'
                   'print("tty", os.isatty(0), os.isatty(1), "size", sz.lines, sz.columns)\n'
                   'name = input("name? ")\n'
                   'print("hello, " + name)\n')
    pr = PtyRun(t, ["run", "-t", prog], rows=30, cols=90)
    try:
        pr.read_until("name? ")
        during = pr.attrs()
        t.check(not (during[3] & termios.ICANON) and not (during[3] & termios.ECHO),
                "runcell's terminal is raw while the program runs: lflag %#x" % during[3])
        pr.type("Ada\r")
        rc = pr.finish()
        out = pr.out
        t.eq(rc, 0, "exit status of runcell run -t (output %r)" % shorten(out, 400))
        t.check(b"tty True True size 30 90\r\n" in out, "the program's terminal: %r" % out)
        t.check(b"name? Ada\r\nhello, Ada\r\n" in out, "prompt, echo and answer: %r" % out)
        t.check(b"runcell: run: ok" in out, "the summary line: %r" % out)
        after = pr.attrs()
        t.eq(after[3] & (termios.ICANON | termios.ECHO | termios.ISIG),
             pr.before[3] & (termios.ICANON | termios.ECHO | termios.ISIG),
             "runcell's terminal mode restored after the run")
        t.eq(after[1] & termios.OPOST, pr.before[1] & termios.OPOST, "output processing restored")
    finally:
        pr.close()


@case("tty.cli.resize_and_ctrl_c", lang="python")
def cli_resize(t):
    d = t.tmpdir()
    prog = t.write(d, "winch.py", 'import os, signal, time\n'
                   'signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})\n'
                   'print("size", *os.get_terminal_size(1)[::-1], flush=True)\n'
                   'signal.sigwaitinfo({signal.SIGWINCH})\n'
                   'try:\n'  # the ^C typed once "new" shows may come while print returns
                   '    print("new", *os.get_terminal_size(1)[::-1], flush=True)\n'
                   '    time.sleep(60)\n'
                   'except KeyboardInterrupt:\n'
                   '    print("interrupted", flush=True)\n')
    pr = PtyRun(t, ["run", "--tty", prog], rows=25, cols=81)
    try:
        pr.read_until("size 25 81\r\n")
        pr.resize(40, 120)  # the kernel tells runcell (SIGWINCH), runcell the program's terminal
        pr.read_until("new 40 120\r\n", timeout=20)
        t0 = time.monotonic()
        pr.type("\x03")  # a key to the program's terminal, not a signal to runcell
        rc = pr.finish(timeout=20)
        t.check(b"interrupted" in pr.out, "KeyboardInterrupt in the program: %r" % pr.out)
        t.eq(rc, 0, "runcell's exit status: the program handled ^C (%r)" % shorten(pr.out, 400))
        t.check(b"runcell: run: ok" in pr.out, "the program ended by itself: %r" % pr.out)
        t.check(time.monotonic() - t0 < 10, "ended soon after ^C")
    finally:
        pr.close()


@case("tty.cli.refusals", lang="python")
def cli_refusals(t):
    from harness import expect_bad_input
    d = t.tmpdir()
    prog = t.write(d, "p.py", 'print(1)\n')
    r = t.runcell("run", "-t", prog, stdin_data=b"x\n")
    line = expect_bad_input(t, r, "-t with a pipe for stdin")
    t.contains(line, "terminal", "the message says a terminal is needed")
    r = t.runcell("run", "-t", "--json", prog)
    expect_bad_input(t, r, "-t with --json")
    r = t.runcell("run", "-t", "--stdin", prog, prog)
    expect_bad_input(t, r, "-t with --stdin")
    # without -t the pipe is the program's stdin, as it always was
    ask = t.write(d, "ask.py", 'print("got", input())\n')
    r = t.runcell("run", ask, stdin_data=b"x\n")
    t.rc0(r)
    t.eq(r.stdout, "got x\n", "echo x | runcell run ask.py")


@case("tty.cli.all_output_and_exit_status", lang="python")
def cli_all_output(t):
    """runcell -t shows everything the program wrote before it ended, then its summary; a
    program ended by SIGTERM to runcell is killed and runcell's terminal restored."""
    import termios
    d = t.tmpdir()
    prog = t.write(d, "big.py", 'import sys\n'
                   'for i in range(3000):\n'
                   '    sys.stdout.write("%05d" % i + "z" * 60 + "\\n")\n'
                   'sys.stdout.write("end")\n')
    pr = PtyRun(t, ["run", "-t", prog])
    try:
        rc = pr.finish()
        t.eq(rc, 0, "exit status")
        want = b"".join(b"%05d" % i + b"z" * 60 + b"\r\n" for i in range(3000)) + b"end"
        t.check(pr.out.startswith(want), "all the output (%d bytes of %d): ends %r"
                % (len(pr.out), len(want), pr.out[len(want) - 40:len(want) + 80]))
        # the output did not end its line: the summary begins a line of its own
        t.check(pr.out[len(want):].startswith(b"\r\nruncell: run: ok")
                or pr.out[len(want):].startswith(b"\nruncell: run: ok"),
                "the summary after the output: %r" % pr.out[len(want):])
    finally:
        pr.close()
    sleeper = t.write(d, "sleep.py", 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n')
    pr = PtyRun(t, ["run", "-t", sleeper])
    try:
        pr.read_until("ready\r\n")
        pr.p.send_signal(signal.SIGTERM)
        rc = pr.finish(timeout=20)
        t.eq(rc, 128 + signal.SIGTERM, "runcell's exit status after SIGTERM")
        t.check(b"runcell: run: killed" in pr.out, "the run was killed: %r" % pr.out[-300:])
        after = pr.attrs()
        t.eq(after[3] & (termios.ICANON | termios.ECHO), pr.before[3] & (termios.ICANON | termios.ECHO),
             "terminal restored after SIGTERM")
    finally:
        pr.close()
