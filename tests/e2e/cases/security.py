"""Security cases: each asserts the verdict *and* that the host is unaffected.

Most run the static probe tests/security/try-syscall.c (compiled once per session by
security_util.probe_dir) as an extra file next to a small bash script from
programs/security/.  A random token is passed as a trailing argument the probe
ignores, so every process of a run carries it in its command line: after runcell
returns, no host process may hold it.  After every run, runcell's cgroup leaves
(rc-PID-*) must be gone too.  security.zz_host_clean runs last and checks the whole
suite left nothing behind.
"""

import ctypes
import errno
import os
import re
import threading
import time

from harness import case, expect_stage, shorten
import security_util as su
from server_util import WS, Server, check_run, expect_status, http_req, run_async

DENIED = ("EPERM", "ENOSYS")


def probe_case(t, args, extra=(), script="probe.sh", tok=None, env=None):
    """Run the probe; check runcell cleaned up after itself; return the run stage."""
    r, stage, pid = su.run_probe(t, args, extra=extra, script=script, env=env)
    su.check_run_cleaned(t, pid, tok)
    return r, stage


def expect_denied(t, stage, verbs):
    expect_stage(t, stage, "run", status="ok", exit_code=0)
    got = {}
    for v in verbs:
        name = v.split()[0]
        outcome, _ = su.probe_outcome(t, stage, name)
        got[name] = outcome
    bad = {k: v for k, v in got.items() if v not in DENIED}
    t.check(not bad, "calls that were not denied with EPERM/ENOSYS: %r (all: %r)"
            % (bad, got))


# ------------------------------------------------------------------ resources

@case("security.fork_bomb", lang="bash")
def fork_bomb(t):
    tok = su.token()
    _, before = su.leftover_processes()
    r, st = probe_case(t, ["forkbomb", tok], tok=tok,
                       extra=["--processes", "32", "--wall-ms", "3000"])
    # the bomb never ends by itself: the wall or CPU limit ends it
    t.check(st["status"] in ("ok", "runtime_error", "time_limit"),
            "run.status %r for a fork bomb" % st["status"])
    outcome, _ = su.probe_outcome(t, st, "forkbomb")
    t.eq(outcome, "EAGAIN", "fork() failure seen by the bomb (pids limit)")
    t.check(st["wall_ms"] <= 3000 + 500, "wall_ms %d > limit 3000 + 500" % st["wall_ms"])
    t.check(r.elapsed < 3.0 + 5, "runcell took %.1fs for a 3 s wall limit" % r.elapsed)
    tab, after = su.leftover_processes()
    new = sorted(set(after) - set(before))
    t.check(not new, "host processes of the sandbox uid left behind: %r"
            % su.describe_procs(tab, new)[:5])


@case("security.thread_bomb", lang="bash")
def thread_bomb(t):
    tok = su.token()
    r, st = probe_case(t, ["threadbomb", tok], tok=tok,
                       extra=["--processes", "32", "--wall-ms", "5000"])
    expect_stage(t, st, "run", status="ok", exit_code=0)
    outcome, n = su.probe_outcome(t, st, "threadbomb")
    t.eq(outcome, "EAGAIN", "pthread_create failure")
    t.check(n is not None and 1 <= n < 32,
            "threads created under --processes 32: %r" % n)


@case("security.memory_bomb", lang="bash")
def memory_bomb(t):
    tok = su.token()
    limit_mb = 64
    r, st = probe_case(t, ["memhog", "4096", tok], tok=tok,
                       extra=["--memory-mb", str(limit_mb), "--wall-ms", "10000"])
    expect_stage(t, st, "run", status="memory_limit")
    t.eq(st.get("signal"), "SIGKILL", "run.signal")
    kb = st.get("memory_kb")
    peak = su.memory_peak_file()
    if peak:
        t.check(isinstance(kb, int), "memory_kb must be an int (the host has %s): %r"
                % (peak, kb))
        t.check(limit_mb * 1024 * 0.8 <= kb <= limit_mb * 1024 * 1.05,
                "memory_kb %r not near the %d MB limit" % (kb, limit_mb))
    else:
        # no peak counter in this kernel's cgroups (memory.peak came with Linux 5.19)
        t.eq(kb, None, "memory_kb without a cgroup peak counter")
    reached = [int(x.split()[0]) for x in su.probe_lines(st, "memhog")
               if re.match(r"^\d+ MB$", x)]
    t.check(not reached or max(reached) <= limit_mb,
            "the bomb reported %r MB under a %d MB limit" % (reached, limit_mb))
    t.check(r.elapsed < 10, "runcell took %.1fs" % r.elapsed)


@case("security.cpu_spin_all_cores", lang="bash")
def cpu_spin(t):
    tok = su.token()
    n = max(4, 2 * (os.cpu_count() or 2))
    r, st = probe_case(t, [str(n), "60", tok], script="spin_all.sh", tok=tok,
                       extra=["--cpu-ms", "1500", "--wall-ms", "20000"])
    expect_stage(t, st, "run", status="time_limit")
    t.eq(st.get("limit"), "cpu", "run.limit")
    cpu, wall = st.get("cpu_ms"), st["wall_ms"]
    t.check(isinstance(cpu, int) and cpu >= 1500, "cpu_ms %r below the 1500 limit" % cpu)
    t.check(cpu <= wall * 1.2 + 50,
            "cpu_ms %d > wall_ms %d * 1.2 + 50: more than one core was used" % (cpu, wall))
    t.check(cpu <= 1500 + 1000, "cpu_ms %d overshoots the 1500 ms limit" % cpu)
    t.check(r.elapsed < 12, "runcell took %.1fs" % r.elapsed)


@case("security.sleep_forever", lang="bash")
def sleep_forever(t):
    tok = su.token()
    r, st = probe_case(t, ["before-the-limit", "sleep", "100000", tok],
                       script="print_then.sh", tok=tok, extra=["--wall-ms", "1000"])
    expect_stage(t, st, "run", status="time_limit", stdout="before-the-limit")
    t.eq(st.get("limit"), "wall", "run.limit")
    t.check(1000 <= st["wall_ms"] <= 1600, "wall_ms %d not near the 1000 limit"
            % st["wall_ms"])
    t.check(st.get("cpu_ms") is None or st["cpu_ms"] < 500,
            "a sleeping program used %r ms CPU" % st.get("cpu_ms"))
    t.check(r.elapsed < 1.0 + 3, "runcell took %.1fs for a 1 s wall limit" % r.elapsed)


def output_case(t, files, args, limit, tok):
    extra = ["--output-bytes", str(limit), "--wall-ms", "10000"]
    r, obj, pid = su.run(t, "bash", files, args=args, extra=extra)
    su.check_run_cleaned(t, pid, tok)
    st = obj["run"]
    expect_stage(t, st, "run", status="output_limit")
    t.eq(st.get("truncated"), True, "run.truncated")
    t.eq(len(st["stdout"].encode()), limit, "bytes of run.stdout")
    t.check(r.elapsed < 8, "runcell took %.1fs" % r.elapsed)
    # streamed (no --json): exactly the first LIMIT bytes reach runcell's stdout
    rn = su.Run(t, "bash", files, args=args, extra=extra, json_mode=False)
    r2 = rn.wait()
    su.check_run_cleaned(t, rn.pid, tok)
    t.check(r2.rc == 0, "runcell exit status %r (streaming)" % r2.rc)
    t.eq(len(r2.stdout_b), limit, "bytes streamed to runcell's stdout")
    t.eq(r2.stdout_b, st["stdout"].encode(), "streamed output equals the JSON stdout")
    t.contains(r2.stderr, "output_limit", "summary on stderr")
    return st


@case("security.output_flood_lines", lang="bash")
def output_flood(t):
    tok = su.token()
    st = output_case(t, [su.sec_prog("flood_lines.sh")], [tok], 100000, tok)
    t.check(st["stdout"].startswith("flood line\nflood line\n"), "stdout content: %r"
            % shorten(st["stdout"], 60))


@case("security.output_no_newlines", lang="bash")
def output_no_newlines(t):
    tok = su.token()
    st = output_case(t, [su.sec_prog("probe.sh"), su.probe_bin(t)],
                     ["print", "100000000", tok], 65537, tok)
    t.eq(set(st["stdout"]), {"x"}, "characters of stdout")


# ------------------------------------------------------------------- files

FILL_RE = re.compile(r"^(/\S+) diskfill: (?:errno=\d+ \((\w+)\) after (\d+) MB|(ok))$")
INODE_RE = re.compile(r"^(/\S+) inodes: (?:errno=\d+ \((\w+)\) after (\d+) files|(ok))$")


@case("security.disk_fill", lang="bash")
def disk_fill(t):
    tok = su.token()
    r, st = probe_case(t, ["100", tok], script="fill.sh", tok=tok,
                       extra=["--disk-mb", "8", "--file-size-mb", "64"])
    expect_stage(t, st, "run", status="ok", exit_code=0)
    got = {}
    for ln in st["stdout"].split("\n"):
        m = FILL_RE.match(ln)
        if m:
            got[m.group(1)] = (m.group(2) or m.group(4), int(m.group(3) or 100))
    for d in ("/work", "/tmp", "/dev/shm"):
        t.check(d in got, "no diskfill result for %s: %r" % (d, shorten(st["stdout"])))
        err, mb = got[d]
        t.eq(err, "ENOSPC", "write error filling %s (--disk-mb 8)" % d)
        t.check(mb <= 8, "%s took %d MB under --disk-mb 8" % (d, mb))


@case("security.file_size_limit", lang="bash")
def file_size(t):
    tok = su.token()
    r, st = probe_case(t, ["diskfill", "32", tok], tok=tok,
                       extra=["--disk-mb", "64", "--file-size-mb", "2"])
    expect_stage(t, st, "run", status="ok", exit_code=0)
    outcome, mb = su.probe_outcome(t, st, "diskfill")
    t.eq(outcome, "EFBIG", "write error past --file-size-mb 2")
    t.check(mb is not None and mb <= 2, "wrote %r MB under --file-size-mb 2" % mb)


@case("security.inode_bomb", lang="bash")
def inode_bomb(t):
    tok = su.token()
    r, st = probe_case(t, ["200000", tok], script="inodes.sh", tok=tok,
                       extra=["--disk-mb", "4", "--wall-ms", "20000"])
    expect_stage(t, st, "run", status="ok", exit_code=0)
    got = {}
    for ln in st["stdout"].split("\n"):
        m = INODE_RE.match(ln)
        if m:
            got[m.group(1)] = (m.group(2) or m.group(4), int(m.group(3) or 200000))
    for d in ("/work", "/tmp"):
        t.check(d in got, "no inodes result for %s: %r" % (d, shorten(st["stdout"])))
        err, n = got[d]
        t.eq(err, "ENOSPC", "error creating files in %s" % d)
        t.check(n < 20000, "%d files created in %s under --disk-mb 4" % (n, d))


def file_nr():
    with open("/proc/sys/fs/file-nr") as f:
        return int(f.read().split()[0])


@case("security.fd_bomb", lang="bash")
def fd_bomb(t):
    tok = su.token()
    before = file_nr()
    r, st = probe_case(t, ["fdbomb", tok], tok=tok, extra=["--open-files", "256"])
    expect_stage(t, st, "run", status="ok", exit_code=0)
    outcome, n = su.probe_outcome(t, st, "fdbomb")
    t.eq(outcome, "EMFILE", "open() failure")
    t.check(n is not None and 200 <= n <= 256, "fds opened under --open-files 256: %r" % n)
    r, st = probe_case(t, ["fdbomb", tok], tok=tok)
    outcome, n = su.probe_outcome(t, st, "fdbomb")
    t.eq(outcome, "EMFILE", "open() failure with the default limit")
    t.check(n is not None and n < 1 << 20, "fds opened with the default limit: %r" % n)
    after = file_nr()
    t.check(after < before + 5000, "host open files grew from %d to %d" % (before, after))


# ------------------------------------------------------------ processes, net

@case("security.daemon_killed", lang="python")
def daemon(t):
    tok = su.token()
    canary = su.Canary()
    try:
        r, obj, pid = su.run(t, "python", [su.sec_prog("daemon.py")],
                             args=[canary.tcp_port, canary.udp_port, tok],
                             extra=["--wall-ms", "5000"])
        st = obj["run"]
        expect_stage(t, st, "run", status="ok", exit_code=0)
        t.contains(st["stdout"], "daemon pid", "run.stdout")
        t.check(r.elapsed < 4, "runcell took %.1fs: it waited for the daemon" % r.elapsed)
        su.check_run_cleaned(t, pid, tok, "the daemon")
        time.sleep(1.5)
        t.eq(canary.hits, [], "connections/datagrams from the daemon at the host's canary")
        tab, hits = su.procs_with_token(tok)
        t.eq(su.describe_procs(tab, hits), [], "daemon processes 1.5 s later")
    finally:
        canary.close()


@case("security.net_canary", lang="python")
def net_canary(t):
    tok = su.token()
    canary = su.Canary()
    try:
        r, obj, pid = su.run(t, "python", [su.sec_prog("net.py")],
                             args=[canary.tcp_port, canary.udp_port, tok])
        st = obj["run"]
        expect_stage(t, st, "run", status="ok", exit_code=0)
        p = su.last_json(t, st["stdout"], "net.py")
        t.eq(p.get("tcp 127.0.0.1"), "ECONNREFUSED", "TCP connect to the host's port")
        t.check(p.get("tcp localhost") != "connected", "TCP to localhost connected")
        su.check_run_cleaned(t, pid, tok)
        time.sleep(0.5)
        t.eq(canary.hits, [], "what reached the host's canary listeners")
    finally:
        canary.close()


@case("security.kill_all", lang="bash")
def kill_all(t):
    tok = su.token()
    victim = su.start_canary_process(su.sandbox_uid())
    try:
        time.sleep(0.1)
        r, st = probe_case(t, [tok], script="killall.sh", tok=tok)
        expect_stage(t, st, "run", status="ok", exit_code=0)
        outcome, _ = su.probe_outcome(t, st, "kill-all")
        t.eq(outcome, "ok", "kill(-1, SIGKILL) inside the sandbox (children to kill)")
        t.contains(st["stdout"], "children: 3", "run.stdout")
        t.check(victim.poll() is None,
                "a host process of uid %d died (status %r) when the sandbox did kill(-1)"
                % (su.sandbox_uid(), victim.returncode))
    finally:
        su.stop_process(victim)


@case("security.ptrace", lang="bash")
def ptrace(t):
    tok = su.token()
    verbs = ["ptrace-traceme", "ptrace-attach 1", "process_vm_readv"]
    r, st = probe_case(t, verbs, script="verbs.sh", tok=tok)
    expect_denied(t, st, verbs)


@case("security.namespace_syscalls", lang="bash")
def ns_syscalls(t):
    verbs = ["unshare-user", "unshare-net", "setns", "mount", "umount", "pivot_root",
             "clone-newuser", "clone3"]
    r, st = probe_case(t, verbs, script="verbs.sh")
    expect_denied(t, st, verbs)


@case("security.kernel_surface_syscalls", lang="bash")
def kernel_syscalls(t):
    verbs = ["keyctl", "add_key", "bpf", "perf_event_open", "userfaultfd",
             "io_uring_setup", "socket-packet", "reboot", "init_module",
             "personality"]
    r, st = probe_case(t, verbs, script="verbs.sh")
    expect_denied(t, st, verbs)


@case("security.tiocsti", lang="bash")
def tiocsti(t):
    verbs = ["tiocsti", "tiocsti-high"]
    r, st = probe_case(t, verbs, script="verbs.sh")
    expect_stage(t, st, "run", status="ok", exit_code=0)
    for v in verbs:
        outcome, _ = su.probe_outcome(t, st, v)
        t.eq(outcome, "EPERM", v)


@case("security.tiocsti_on_tty", lang="python")
def tiocsti_on_tty(t):
    """The program's stdin is its controlling terminal, where TIOCSTI would push input into
    it (and TIOCLINUX reach the console): the seccomp profile refuses both, with EPERM."""
    src = ('import fcntl, termios, errno, struct\n'
           'for name, req, arg in (("TIOCSTI", termios.TIOCSTI, b"x"),\n'
           '                       ("TIOCLINUX", 0x541C, b"\\x06\\x00"),\n'
           '                       ("TIOCSTI-high", termios.TIOCSTI | (1 << 32), b"x")):\n'
           '    try:\n'
           '        fcntl.ioctl(0, req, arg)\n'
           '        print(name, "ALLOWED")\n'
           '    except OSError as e:\n'
           '        print(name, errno.errorcode.get(e.errno, e.errno))\n'
           'print("winsz", struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\\0" * 8))[:2])\n'
           'a = termios.tcgetattr(0); a[3] &= ~termios.ECHO; termios.tcsetattr(0, termios.TCSANOW, a)\n'
           'print("tcsetattr ok")\n')

    async def body(srv):
        async with WS(t, srv) as ws:
            await ws.run("t1", "python", files=[{"name": "main.py", "content": src}],
                         tty={"rows": 12, "cols": 34})
            evs = await ws.done("t1", timeout=60)
            res = check_run(t, evs, "t1")
            expect_status(t, res, "run", "ok", exit_code=0)
            out = res.out("run", "tty").decode()
            for name in ("TIOCSTI", "TIOCLINUX", "TIOCSTI-high"):
                t.check("%s EPERM\r\n" % name in out, "%s must be refused (EPERM): %r"
                        % (name, out))
            t.check("winsz (12, 34)\r\n" in out, "TIOCGWINSZ works: %r" % out)
            t.check("tcsetattr ok" in out, "TCSETS works: %r" % out)
    with Server(t) as srv:
        run_async(t, body(srv))
        srv.check_alive()


@case("security.x32_sigsys", lang="bash")
def x32(t):
    r, st = probe_case(t, ["x32"])
    expect_stage(t, st, "run", status="runtime_error", signal="SIGSYS", stdout="")


@case("security.int80_refused", lang="bash")
def int80(t):
    # SIGSYS from the filter where the kernel has IA32 emulation; where it has none, the
    # kernel's own refusal (SIGSEGV, SI_KERNEL at the int $0x80) is accepted too: see
    # security_util.int80_verdict.
    ia32 = su.host_ia32(t)
    r, st = probe_case(t, ["int80"])
    why = su.int80_verdict(st, ia32)
    t.check(why is None, why)


@case("security.int80_classifier")
def int80_classifier(t):
    """The int80 verdicts, fed the outcomes of both kinds of kernel and of other crashes."""
    good = ("int80: SIGSEGV si_code=128 si_addr=0 trap=13 err=0x402 at_int80=1 "
            "insn=cd80\n")

    def stage(status, sig, out):
        return {"status": status, "signal": sig, "stdout": out}

    sigsys = stage("runtime_error", "SIGSYS", "")
    refused = stage("runtime_error", "SIGSEGV", good)
    returned = stage("ok", None, "int80: ok\n")
    for ia32 in ("on", "off"):
        t.eq(su.int80_verdict(sigsys, ia32), None, "SIGSYS with IA32 emulation %s" % ia32)
        t.check(su.int80_verdict(returned, ia32) is not None,
                "a returning int $0x80 accepted with IA32 emulation %s" % ia32)
    t.eq(su.int80_verdict(refused, "off"), None, "the kernel's SIGSEGV without IA32")
    t.eq(su.int80_verdict(stage("runtime_error", "SIGSEGV",
                                good.replace("err=0x402", "err=0")), "off"), None,
         "the kernel's SIGSEGV on a FRED kernel (error code 0)")
    why = su.int80_verdict(refused, "on")
    t.check(why and "want death by SIGSYS" in why, "SIGSEGV with IA32 emulation on: %r" % why)
    t.check(su.int80_verdict(stage("runtime_error", "SIGSYS", "int80: ok\n"), "on"),
            "SIGSYS after the call returned was accepted")
    bad = {
        "si_code SEGV_MAPERR": good.replace("si_code=128", "si_code=1"),
        "si_code SI_TKILL": good.replace("si_code=128", "si_code=-6"),
        "si_addr": good.replace("si_addr=0", "si_addr=0x10"),
        "another place": good.replace("at_int80=1 insn=cd80", "at_int80=0 insn=0000"),
        "another instruction": good.replace("insn=cd80", "insn=cd81"),
        "a page fault": good.replace("trap=13", "trap=14"),
        "vector 0x81": good.replace("err=0x402", "err=0x40a"),
        "no handler line": "",
        "two lines": good + good,
        "garbage": "int80: SIGSEGV whatever\n",
    }
    for what, out in bad.items():
        why = su.int80_verdict(stage("runtime_error", "SIGSEGV", out), "off")
        t.check(why is not None, "SIGSEGV with %s accepted without IA32 emulation" % what)
    why = su.int80_verdict(stage("runtime_error", "SIGBUS", good), "off")
    t.check(why and "not SIGSEGV" in why, "SIGBUS: %r" % why)
    why = su.int80_verdict(stage("time_limit", None, ""), "off")
    t.check(why is not None, "a time limit accepted")
    # the host detection
    t.eq(su.classify_host_int80(0, "int80: ok\n")[0], "on", "host: getpid returned")
    t.eq(su.classify_host_int80(-11, good)[0], "off", "host: the kernel's SIGSEGV")
    t.eq(su.classify_host_int80(-11, good.replace("si_code=128", "si_code=1"))[0], None,
         "host: another SIGSEGV")
    t.eq(su.classify_host_int80(0, "int80: errno=38 (ENOSYS)\n")[0], None, "host: ENOSYS")
    t.eq(su.classify_host_int80(-31, "")[0], None, "host: SIGSYS (a filter on the host)")


# ----------------------------------------------------------------- netlink

NETLINK_DENIED = ["netlink-usersock", "netlink-sock-diag", "netlink-xfrm", "netlink-audit",
                  "netlink-connector", "netlink-netfilter", "netlink-uevent",
                  "netlink-generic", "netlink-rdma", "netlink-crypto"]
RTNL_CHANGES = ["rtnl-newlink", "rtnl-lo-down", "rtnl-setlink-lo-down", "rtnl-dellink-lo",
                "rtnl-newaddr", "rtnl-deladdr", "rtnl-newroute", "rtnl-delroute",
                "rtnl-newneigh", "rtnl-newrule"]
RTNL_DUMPS = ["rtnl-links", "rtnl-addrs", "rtnl-routes"]


@case("security.netlink_families", lang="bash")
def netlink_families(t):
    # NETLINK_ROUTE opens (read-only queries); every other netlink protocol is refused
    verbs = ["netlink-route"] + NETLINK_DENIED
    r, st = probe_case(t, verbs, script="verbs.sh")
    expect_stage(t, st, "run", status="ok", exit_code=0)
    t.eq(su.probe_outcome(t, st, "netlink-route")[0], "ok", "socket(AF_NETLINK, NETLINK_ROUTE)")
    got = {v: su.probe_outcome(t, st, v)[0] for v in NETLINK_DENIED}
    t.eq({v: o for v, o in got.items() if o != "EPERM"}, {},
         "netlink protocols not refused with EPERM")


def dump_runs(t, stage, verb):
    """The probe's successive dumps for VERB: a list of (detail lines, outcome)."""
    runs, cur = [], []
    for ln in su.probe_lines(stage, verb):
        if ln == "ok" or ln.startswith("errno="):
            runs.append((cur, ln))
            cur = []
        else:
            cur.append(ln)
    t.check(not cur, "%s: lines after the last outcome: %r" % (verb, cur))
    return runs


@case("security.netlink_route_readonly", lang="bash")
def netlink_route_readonly(t):
    # dumps of the sandbox's own namespace work; every change is refused by the kernel
    # (EPERM: no CAP_NET_ADMIN), and nothing changed afterwards; another namespace's links
    # cannot be asked for by netnsid
    verbs = RTNL_DUMPS + RTNL_CHANGES + ["rtnl-links-netnsid 0"] + RTNL_DUMPS
    r, st = probe_case(t, verbs, script="verbs.sh")
    expect_stage(t, st, "run", status="ok", exit_code=0)
    dumps = {}
    for v in RTNL_DUMPS:
        runs = dump_runs(t, st, v)
        t.eq(len(runs), 2, "number of %s dumps" % v)
        for lines, outcome in runs:
            t.eq(outcome, "ok", "%s outcome" % v)
        t.eq(runs[1][0], runs[0][0], "%s after the change attempts (before: %r)" % (v, runs[0][0]))
        dumps[v] = runs[0][0]
    t.eq(dumps["rtnl-links"], ["link lo index=1 up=1"], "links of the sandbox")
    addrs = dumps["rtnl-addrs"]
    t.check("addr index=1 127.0.0.1/8" in addrs, "127.0.0.1/8 on lo: %r" % addrs)
    t.eq([a for a in addrs if a not in ("addr index=1 127.0.0.1/8", "addr index=1 ::1/128")],
         [], "addresses other than lo's loopback ones")
    t.check(not any("10.1.0.0" in x for x in dumps["rtnl-routes"]),
            "the route added by rtnl-newroute: %r" % dumps["rtnl-routes"])
    got = {v: su.probe_outcome(t, st, v)[0] for v in RTNL_CHANGES}
    t.eq({v: o for v, o in got.items() if o != "EPERM"}, {},
         "route netlink changes not refused with EPERM")
    runs = dump_runs(t, st, "rtnl-links-netnsid")
    t.eq(len(runs), 1, "rtnl-links-netnsid outcomes")
    t.eq(runs[0][0], [], "links listed for netnsid 0")
    t.check(runs[0][1] != "ok", "a dump of netnsid 0 succeeded")


# ---------------------------------------------------------------- host view

@case("security.host_files", lang="bash")
def host_files(t):
    tok = su.token()
    d = t.tmpdir()
    marker = t.write(d, "marker-" + tok, "secret " + tok + "\n")
    home = os.path.expanduser("~")
    paths = [marker, d, t.suite.tmproot, os.path.abspath(t.suite.bin), su.E2E_DIR]
    if home and home not in ("/", "/root") and os.path.isdir(home):
        paths.append(home)
    env_name = "RUNCELL_SEC_CANARY_" + tok.upper()
    r, obj, pid = su.run(t, "bash", [su.sec_prog("hostview.sh")], args=[tok] + paths,
                         env={env_name: "canary-" + tok})
    su.check_run_cleaned(t, pid)
    st = obj["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0)
    lines = st["stdout"].split("\n")
    t.check("done" in lines, "hostview.sh did not finish: %r" % shorten(st["stdout"]))
    kv = {}
    for ln in lines:
        k, _, v = ln.partition(": ")
        kv.setdefault(k, []).append(v)
    t.eq(kv.get("visible", []), [], "host paths visible in the sandbox")
    t.eq(kv.get("content_hits", []), [], "files holding the host marker's content")
    t.eq(kv.get("name_hits", []), [], "files named like the host marker")
    t.eq(kv.get("environ_hit", []), [], "environments holding runcell's env canary")
    # /etc/shadow in the sandbox is the root filesystem's, never the host's
    try:
        hs = os.stat("/etc/shadow")
        host_id = "%d %d" % (hs.st_dev, hs.st_ino)
    except OSError:
        host_id = None
    sid = (kv.get("shadow_stat") or ["?"])[0]
    if host_id:
        t.check(not sid.startswith(host_id + " "),
                "the sandbox's /etc/shadow is the host's (dev ino %s)" % host_id)
    shadow = (kv.get("shadow") or ["?"])[0]
    if shadow.startswith("readable") and os.access("/etc/shadow", os.R_OK):
        import hashlib
        with open("/etc/shadow", "rb") as f:
            h = hashlib.md5(f.read()).hexdigest()
        t.check(shadow.split()[-1] != h, "the sandbox reads the host's /etc/shadow")
    # pid 1's command line is runcell's init, scrubbed of runcell's own arguments
    cmd1 = [v for k, vs in kv.items() if k == "cmdline 1" for v in vs]
    t.check(cmd1, "no /proc/1/cmdline line: %r" % shorten(st["stdout"]))
    for needle in (tok, d, os.path.abspath(t.suite.bin), "--json", "--lang",
                   su.sec_prog("hostview.sh")):
        t.not_contains(cmd1[0], needle, "/proc/1/cmdline")


@case("security.env_canary", lang="bash")
def env_canary(t):
    tok = su.token()
    name = "RUNCELL_SEC_ENV_" + tok.upper()
    r, obj, pid = su.run(t, "bash", [su.sec_prog("env.sh")],
                         env={name: "value-" + tok, "LD_PRELOAD": "/nonexistent-" + tok + ".so",
                              "BASH_ENV": "/nonexistent-" + tok})
    su.check_run_cleaned(t, pid)
    st = obj["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0)
    t.contains(st["stdout"], "---", "env.sh output")
    t.not_contains(st["stdout"], tok, "the program's environment")
    t.not_contains(st["stderr"], tok, "the program's stderr")


@case("security.inherited_fds", lang="python")
def inherited_fds(t):
    import socket
    d = t.tmpdir()
    host_file = t.write(d, "inherited.txt", "host secret\n")
    f = open(host_file, "rb")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    hi = os.dup2(f.fileno(), 200)
    try:
        rn = su.Run(t, "python", [su.sec_prog("fds.py")],
                    pass_fds=(f.fileno(), s.fileno(), hi))
        r, obj = rn.finish()
        su.check_run_cleaned(t, rn.pid)
    finally:
        os.close(hi)
        f.close()
        s.close()
    st = obj["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0)
    p = su.last_json(t, st["stdout"], "fds.py")
    fds = p["fds"]
    extra = {k: v for k, v in fds.items()
             if k not in ("0", "1", "2") and not re.match(r"^/proc/\d+/fd$", v)}
    t.eq(extra, {}, "open fds besides 0, 1, 2 and the program's own listing")
    t.check(len(p["transient"]) <= 1, "fds that vanished while listed: %r" % p["transient"])
    for k in ("0", "1", "2"):
        v = fds.get(k, "")
        t.check(v.startswith("pipe:") or v == "/dev/null",
                "fd %s points to %r (expected a pipe or /dev/null)" % (k, v))


# ---------------------------------------------------------------- symlinks

@case("security.symlinks_run_stage", lang="c")
def symlinks_run(t):
    src = su.sec_prog("symlinks.c")
    d = os.path.dirname(src)
    listing = sorted(os.listdir(d))
    for i in (1, 2):
        r, obj, pid = su.run(t, "c", [src], args=["plant"])
        su.check_run_cleaned(t, pid)
        expect_stage(t, obj["compile"], "compile", status="ok")
        st = obj["run"]
        expect_stage(t, st, "run", status="ok", exit_code=0)
        p = su.last_json(t, st["stdout"], "symlinks run %d" % i)
        t.eq(p["links"], [], "symlinks in /work when run %d started" % i)
        t.eq(p["secret_files"], [], "passwd-like files in /work (run %d)" % i)
        t.eq(p["planted"], 5, "symlinks the program could plant (run %d)" % i)
    t.eq(sorted(os.listdir(d)), listing, "the host's program directory after the runs")


INJECT_B = "/* a file named -B.c */\n"
COLLECT2 = r"""#!/bin/sh
# run as the "collect2" of the compile stage (see security.compile_filename_injection)
echo "COLLECT2-RAN" >&2
for c in /usr/lib/gcc/*/*/collect2; do :; done
"$c" "$@" || exit $?
cd /work || exit 1
if [ -e main-is-link ]; then
    mv main main.real && ln -s "$(cat main-is-link)" main
else
    ln -s /etc/passwd passwd; ln -s /etc/shadow shadow; ln -s / rootdir
    mkdir sub && ln -s /etc sub/etc && ln -s /etc/passwd sub/passwd
fi
echo "PLANTED" >&2
"""


def injected_compile(t, main_link=None):
    d = t.tmpdir()
    files = [su.sec_prog("symlinks.c"), t.write(d, "-B.c", INJECT_B),
             t.write(d, ".ccollect2", COLLECT2, mode=0o755)]
    if main_link:
        files.append(t.write(d, "main-is-link", main_link))
    rn = su.Run(t, "c", files)
    r = rn.wait()
    su.check_run_cleaned(t, rn.pid)
    if r.rc == 1 and 'invalid file name "-B.c"' in r.stderr:
        return None  # refused as bad input: no compiler ever saw the name
    obj = r.json()
    su.check_result_shape(t, obj)
    # a run stage whose ./main is missing is reported as internal_error (runcell exits 3)
    t.check(r.rc == 0 or (r.rc == 3 and main_link and obj["run"]
                          and obj["run"]["status"] == "internal_error"),
            "runcell exit status %r" % r.rc)
    return obj


# Symlinks planted in /work during a compile stage: the compile stage runs no user code once file
# names cannot become compiler options (below), and init's collection of /work opens nothing
# through a link (tests/unit/test_sandbox_pure.c, collect).


@case("security.compile_filename_injection", lang="c")
def compile_filename_injection(t):
    # A FILE named "-B.c" is a source file; it must not reach gcc as the option -B.c
    # (which makes gcc run ./.ccollect2, a file of the job, as its linker driver).
    obj = injected_compile(t)
    if obj is None:
        r = t.results[-1]
        t.eq(r.stdout, "", "stdout of a refused run")
        t.eq(len(r.stderr.strip().splitlines()), 1, "lines on stderr of a refused run")
        return
    comp = obj["compile"]
    t.not_contains(comp["stderr"], "COLLECT2-RAN",
                   "compile.stderr (the file name -B.c became a gcc option)")


@case("security.compile_argfile_injection", lang="c")
def compile_argfile_injection(t):
    # A FILE named "@opts.c" reached gcc's argv as "@opts.c": gcc reads it as a response file
    # (the file "opts.c", also the user's), whose "-wrapper" ran a command of the user's in the
    # compile stage. A name starting with '@' is refused (like a leading '-'); rustc, javac,
    # mcs and ghc read @files the same way. The marker is computed by the shell ($((6*7))),
    # so compiler errors quoting opts.c do not show it.
    d = t.tmpdir()
    tok = su.token("ARGFILE")
    files = [t.write(d, "main.c", "int main(void) { return 0; }\n"),
             t.write(d, "opts.c", "-wrapper /bin/sh,-c,echo${IFS}%s-$((6*7))>&2\n" % tok),
             t.write(d, "@opts.c", "")]
    rn = su.Run(t, "c", files)
    r = rn.wait()
    su.check_run_cleaned(t, rn.pid)
    t.not_contains(r.stdout + r.stderr, tok + "-42", "output (the argument file's -wrapper ran)")
    t.eq(r.rc, 1, "runcell exit status (a bad file name is the request's error)")
    t.contains(r.stderr, 'invalid file name "@opts.c"', "runcell's error")
    t.eq(r.stdout, "", "stdout of a refused run")


BIG_BINARY_C = """#include <stdio.h>
char big[24 << 20] = {1};
int main(int argc, char **argv) { printf("%d\\n", big[argc - 1]); return 0; }
"""


@case("security.compile_handover_over_disk", lang="c")
def compile_handover_over_disk(t):
    # What a compile stage leaves goes into the run stage's /work, of the run stage's disk_mb:
    # a 24 MB binary under --disk-mb 8 failed as internal_error ("place file main: No space
    # left on device"). It is the build's doing: compile_error, with the reason on stderr.
    d = t.tmpdir()
    rn = su.Run(t, "c", [t.write(d, "big.c", BIG_BINARY_C)], extra=["--disk-mb", "8"])
    r = rn.wait()
    su.check_run_cleaned(t, rn.pid)
    obj = r.json()
    su.check_result_shape(t, obj)
    expect_stage(t, obj["compile"], "compile", status="compile_error")
    t.contains(obj["compile"]["stderr"], "over the run stage's disk limit of 8 MiB",
               "compile.stderr")
    t.check(obj["run"] is None, "no run stage after a compile error: %r" % (obj["run"],))
    t.eq(r.rc, 0, "runcell exit status (the job ran)")
    # inodes: 200 files in 6 levels of directories each (1400 inodes) and the run stage's
    # 1024 inodes of --disk-mb 1
    # (runcell run takes base names: the tree goes through the native HTTP API)
    payload = {"language": "c", "files": [{"name": "main.c",
                                           "content": "int main(void) { return 0; }\n"}]
               + [{"name": "d%d/a/b/c/e/f.txt" % i, "content": ""} for i in range(200)],
               "limits": {"disk_mb": 1}}
    with Server(t) as srv:
        resp = http_req(t, srv, "POST", "/api/v1/run", payload)
        t.eq(resp.status, 200, "HTTP status")
        res = resp.json or {}
        comp = res.get("compile") or {}
        t.eq(comp.get("status"), "compile_error", "compile status for 1400 inodes: %r" % res)
        t.contains(comp.get("stderr", ""), "files and directories in /work", "compile.stderr")
        srv.check_alive()


# ----------------------------------------------------------- concurrent runs

@case("security.concurrent_runs_isolated", lang="python")
def concurrent(t):
    tok = su.token()
    secs = "3"
    runs = {}
    runs["a"] = su.Run(t, "python", [su.sec_prog("peer.py")], args=["a", "b", tok, secs])
    runs["b"] = su.Run(t, "python", [su.sec_prog("peer.py")], args=["b", "a", tok, secs])
    out = {}
    errs = []

    def finish(role):
        try:
            out[role] = runs[role].finish()
        except Exception as e:  # reported below
            errs.append("%s: %s" % (role, e))
    ths = [threading.Thread(target=finish, args=(k,)) for k in runs]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    t.check(not errs, "runs failed: %r" % errs)
    rep = {}
    for role in ("a", "b"):
        su.check_run_cleaned(t, runs[role].pid, tok)
        st = out[role][1]["run"]
        expect_stage(t, st, "run %s" % role, status="ok", exit_code=0)
        rep[role] = su.last_json(t, st["stdout"], "peer %s" % role)
    a, b = rep["a"], rep["b"]
    t.check(a["flock_at"] < b["until"] and b["flock_at"] < a["until"],
            "the two runs did not overlap in time: %r %r" % (a, b))
    for role, p in rep.items():
        w = "run %s: " % role
        t.eq(p["flock"], "ok", w + "flock on /tmp/lock")
        t.eq(p["self_connect"], "connected", w + "connect to its own abstract socket")
        t.eq(p["shm_create"], "ok", w + "shmget(IPC_CREAT) of its own key")
        t.eq(p["msg_create"], "ok", w + "msgget(IPC_CREAT) of its own key")
        t.eq(p["self_shm"], "ok", w + "shmget of its own key")
        t.eq(p["other_connect"], ["ECONNREFUSED"], w + "connect to the other's socket")
        t.eq(p["other_shm"], ["ENOENT"], w + "shmget of the other's key")
        t.eq(p["other_msg"], ["ENOENT"], w + "msgget of the other's key")
        t.eq(p["other_procs"], [], w + "the other's processes in /proc")
        t.eq(p.get("accepted", 0), 1, w + "connections accepted (only its own)")


def hold_and_try(t, hold_args, try_args, hold_extra=(), during=None):
    """Start a run holding something (shared_counters.py HOLD...) for 6 s, start a second
    run trying to take the same 2.5 s later, and return both JSON lines. during() is called
    in the test while the first run holds."""
    holder = su.Run(t, "python", [su.sec_prog("shared_counters.py")], args=hold_args,
                    extra=["--wall-ms", "30000"] + list(hold_extra))
    try:
        time.sleep(2.5)
        host = during() if during else None
        _, obj, _ = su.run(t, "python", [su.sec_prog("shared_counters.py")], args=try_args)
    finally:
        _, hobj = holder.finish()
    expect_stage(t, hobj["run"], "holding run", status="ok", exit_code=0)
    expect_stage(t, obj["run"], "trying run", status="ok", exit_code=0)
    h = su.last_json(t, hobj["run"]["stdout"], "holding run")
    r = su.last_json(t, obj["run"]["stdout"], "trying run")
    start = h.get("full_at", h.get("at"))
    t.check(start < r["at"] < h["until"],
            "the two runs did not overlap (the machine is too slow?): %r %r" % (h, r))
    return h, r, host


def host_inotify_try():
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    if fd < 0:
        return errno.errorcode.get(ctypes.get_errno(), "errno %d" % ctypes.get_errno())
    os.close(fd)
    return "ok"


@case("security.inotify_per_sandbox", lang="python")
def inotify_per_sandbox(t):
    # inotify instances are counted per user of the host: for a user namespace, per its
    # owner. As root each sandbox has an id of its own (and owns its namespace), so one
    # exhausting them leaves the others, and root's own, alone. Rootless every sandbox and
    # the user's own processes are one user: the documented residual (docs/SECURITY.md).
    try:
        with open("/proc/sys/fs/inotify/max_user_instances") as f:
            limit = int(f.read())
    except (OSError, ValueError) as e:
        t.skip("cannot read fs.inotify.max_user_instances: %s" % e)
    if limit > 4096:
        t.skip("fs.inotify.max_user_instances is %d: too many to exhaust in a test" % limit)
    h, r, host = hold_and_try(t, ["hold-inotify", "6"], ["try-inotify"],
                              hold_extra=["--open-files", str(limit + 64)],
                              during=host_inotify_try)
    t.note("limit %d; holder %r; other %r; runner %r" % (limit, h, r, host))
    t.eq(h.get("errno"), "EMFILE", "why the holding run's inotify_init1 stopped")
    if os.geteuid() == 0:
        t.eq(h["got"], limit, "inotify instances one sandbox got (its own user's limit)")
        t.eq(r["result"], "ok", "inotify_init1 in a second sandbox while the first holds all")
        t.eq(host, "ok", "inotify_init1 of root on the host while a sandbox holds all of its")
    else:
        t.check(0 < h["got"] <= limit, "instances the holding run got: %r" % h)
        t.eq(r["result"], "EMFILE",
             "rootless (documented): a second sandbox shares the user's inotify instances")
        t.eq(host, "EMFILE", "rootless (documented): so does the user's own process")


@case("security.flock_shared_root", lang="python")
def flock_shared_root(t):
    # Two sandboxes of the same root filesystem: a lock one takes on a file of the read-only
    # root must not be seen by the other (each has its own overlay of the root).
    path = "/usr/bin/env"
    h, r, _ = hold_and_try(t, ["hold-flock", path, "6"], ["try-flock", path])
    t.note("holder %r; other %r" % (h, r))
    t.eq(h["result"], "ok", "flock in the holding run")
    rel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    if h["root_fstype"] != "overlay" and rel < (5, 11):
        t.skip("kernel %s cannot mount overlayfs in a user namespace (5.11): the root is a "
               "bind mount, shared locks are the documented residual" % os.uname().release)
    t.eq(r["result"], "ok", "flock of %s in a second sandbox while the first holds it" % path)
    t.eq(h["root_fstype"], "overlay", "the sandbox's root file system type")


# ---------------------------------------------------------- after the suite

def other_runcells():
    tab = su.proc_table()
    return [p for p, i in tab.items()
            if p != os.getpid() and i.get("name") in ("runcell", "runcell-serve", "runcell-prep")
            and i.get("nspid_depth", 1) == 1 and su.descends_from(tab, p, su.RUNNER_PID)]


@case("security.zz_host_clean")
def host_clean(t):
    # Registered last, so started last; wait for the other cases' runs to end. The checks
    # themselves ignore anything that belongs to a run still going on.
    deadline = time.monotonic() + 300
    quiet_since = None
    while time.monotonic() < deadline:
        if other_runcells():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2:
            break
        time.sleep(0.2)
    tab, bad = su.leftover_processes()
    t.eq(su.describe_procs(tab, bad), [],
         "processes of the sandboxes' uids (%r) left on the host" % su.sandbox_uids())
    t.check(su.own_cgroup_dirs(), "cannot find this process's own cgroup directories")
    t.eq(su.stale_leaves(), [], "rc-* cgroups of runcells that have exited")
    if not other_runcells():
        t.eq(su.rc_leaves(), [], "rc-* cgroups with no runcell running")
    new = sorted(su.mount_lines() - su.SNAPSHOT["mounts"])
    t.eq(new, [], "mounts that appeared in the host's mount namespace")
    t.eq([m for m in su.mount_lines() if "runcell" in m and m not in su.SNAPSHOT["mounts"]],
         [], "runcell mounts in /proc/self/mountinfo")
    t.eq(su.new_tmp_files(t.suite), [], "runcell's files left in the temp directories")
