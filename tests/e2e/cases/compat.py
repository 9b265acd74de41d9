"""Compatibility corpus: ordinary programs run unchanged in the sandbox.

Each case runs one program of programs/compat/<lang>/ with the language's default limits
(unless the case is about a limit) and compares its whole output with values computed here:
nothing is accepted just for exiting 0.  What the programs rely on, and where it comes from:

- /etc/hosts (127.0.0.1 localhost, ::1 localhost ip6-localhost ip6-loopback, 127.0.1.1
  runcell) and /etc/nsswitch.conf ("hosts: files dns") of every rootfs (scripts/build-rootfs);
- route netlink queries (getifaddrs, if_nameindex, net.Interfaces, os.networkInterfaces,
  glibc's AI_ADDRCONFIG), allowed read-only by seccomp-profiles/default.json;
- tzdata and /etc/localtime -> Etc/UTC in every rootfs; LANG=C.UTF-8 from toolchains/*.json;
- /dev/shm (tmpfs) for POSIX semaphores and shared memory, /dev/pts for pseudo-terminals;
- CPUs: runcell limits CPU as a rate (a cgroup quota of cpus = 1.0 core per stage, see
  catalog_job_spec), not as a CPU set, and sets no affinity.  So a program sees the CPUs
  runcell itself may run on: every count it can ask for (affinity mask, sysconf, /proc/cpuinfo,
  nproc, os.cpu_count, GOMAXPROCS, hardware_concurrency, available_parallelism) equals the same
  count on the host outside, and compat.go_cpu_quota checks that all those CPUs together get
  no more than one core's worth of time.

The 50 MB stdin cases: python pipes it into `runcell run` (streamed), c sends it through `runcell batch`.
"""

import datetime
import decimal
import hashlib
import json
import os
import socket
import threading

from harness import COMPILED, PROGRAMS, Fail, case, check_result_shape, expect_stage, shorten

COMPAT = os.path.join(PROGRAMS, "compat")
EXT = {"bash": "sh", "python": "py", "c": "c", "cpp": "cpp", "javascript": "js", "go": "go",
       "rust": "rs"}
TEXT = "héllo wörld 世界 🙂"
# 2021-07-01 12:00 UTC (summer time in Paris) and 2021-01-01 12:00 UTC (winter time)
TIMES = [1625140800, 1609502400]
LOOP6 = "00000000000000000000000000000001"


def src(lang, name):
    p = os.path.join(COMPAT, lang, "%s.%s" % (name, EXT[lang]))
    if not os.path.exists(p):
        raise Fail("test program missing: %s" % p)
    return p


# The corpus checks output, not speed: a longer wall-time limit than the default 5 s keeps a
# loaded CI machine (three passes, other suites) from failing it. Every other limit is the
# language's default.
WALL = ["--wall-ms", "15000"]


def run(t, lang, name, args=None, extra=(), stdin=None):
    """Run programs/compat/LANG/NAME.EXT; its compile (if any) and run must be ok, exit 0."""
    r, obj = t.run_json(lang, [src(lang, name)], args=[str(a) for a in args or []],
                        extra=WALL + [str(x) for x in extra], stdin=stdin)
    if lang in COMPILED:
        expect_stage(t, obj["compile"], "compile", status="ok", exit_code=0)
    st = obj["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0, signal=None)
    t.version = obj["version"]
    return st


def expect_out(t, lang, name, want, **kw):
    st = run(t, lang, name, **kw)
    t.eq(st["stdout"], want, "run.stdout")
    return st


def out_lines(st):
    return st["stdout"].rstrip("\n").split("\n")


def compat(name, lang):
    return case("compat.%s_%s" % (lang, name), lang=lang)


# ------------------------------------------------------------ host facts

def host_affinity():
    """CPUs this process (and so runcell, which sets no affinity) may run on."""
    return len(os.sched_getaffinity(0))


def host_online():
    return os.cpu_count()


def host_cpuinfo():
    with open("/proc/cpuinfo") as f:
        return sum(1 for ln in f if ln.startswith("processor"))


def paris(t):
    try:
        import zoneinfo
        return zoneinfo.ZoneInfo("Europe/Paris")
    except Exception as e:  # no tzdata on this host: nothing to compute the answer with
        t.skip("the host has no Europe/Paris zone to compute the expected times: %s" % e)


def fmt_time(ts, tz, fmt):
    return datetime.datetime.fromtimestamp(ts, tz).strftime(fmt)


def utc(ts, fmt):
    return fmt_time(ts, datetime.timezone.utc, fmt)


def v6_fact(t, st):
    """The program's own report of ::1 on lo (from /proc/net/if_inet6): 'yes' or 'no'."""
    last = out_lines(st)[-1]
    t.check(last in ("proc ::1 yes", "proc ::1 no"), "no /proc/net/if_inet6 report: %r" % last)
    return last.endswith("yes")


# 50 MB of "%09d\n" lines, made once for the session
_stdin = {}
_stdin_lock = threading.Lock()
STDIN_LINES = 5000000


def big_stdin():
    with _stdin_lock:
        if "data" not in _stdin:
            data = "".join("%09d\n" % i for i in range(STDIN_LINES))
            _stdin["data"] = data
            _stdin["sha256"] = hashlib.sha256(data.encode()).hexdigest()
        return _stdin["data"], _stdin["sha256"]


def run_batch(t, lang, name, stdin):
    """One request through `runcell batch` (stdin in the JSON request)."""
    with open(src(lang, name), encoding="utf-8") as f:
        source = f.read()
    req = json.dumps({"id": "compat", "language": lang, "source": source, "stdin": stdin,
                      "limits": {"wall_ms": int(WALL[1])}})
    r = t.runcell(*(list(t.suite.global_args) + ["batch"]), stdin_data=req.encode() + b"\n",
                  note="request: %d bytes of JSON" % len(req))
    t.rc0(r, "runcell batch exit status")
    lines = [ln for ln in r.stdout.split("\n") if ln]
    t.eq(len(lines), 1, "answer lines from runcell batch")
    obj = json.loads(lines[0])
    t.check("error" not in obj, "batch answered an error: %r" % shorten(obj))
    check_result_shape(t, obj)
    if lang in COMPILED:
        expect_stage(t, obj["compile"], "compile", status="ok", exit_code=0)
    st = obj["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0, signal=None)
    return st


# ================================================================ networking

@compat("tcp_localhost", "python")
def python_tcp(t):
    want = "server family inet\n" + "".join(
        "%d %d\n" % (n, sum(range(n))) for n in (10, 100, 1000))
    expect_out(t, "python", "tcp_localhost", want)


@compat("tcp_localhost", "javascript")
def node_tcp(t):
    words = ["alpha", "beta", "gamma"]
    want = "listening on loopback true\n" + "".join(w[::-1] + "\n" for w in words) + "closed\n"
    expect_out(t, "javascript", "tcp_localhost", want)


@compat("tcp_localhost", "go")
def go_tcp(t):
    words = ["one", "two", "three"]
    want = ("lookup localhost 127.0.0.1 ::1\nlookup runcell 127.0.1.1\n"
            + "".join("%d:%s\n" % (len(w), w.upper()) for w in words))
    expect_out(t, "go", "tcp_localhost", want)


@compat("tcp_localhost", "rust")
def rust_tcp(t):
    want = ('localhost {"127.0.0.1", "::1"}\nloopback true\n'
            + "".join("%s OVER TCP\n" % w.upper() for w in ("alpha", "beta", "gamma")))
    expect_out(t, "rust", "tcp_localhost", want)


@compat("http", "javascript")
def node_http(t):
    body = json.dumps({"method": "POST", "url": "/sum?x=1", "sum": sum(range(1, 11))},
                      separators=(",", ":"))
    expect_out(t, "javascript", "http", "200 application/json %s\n" % body)


@compat("http", "go")
def go_http(t):
    expect_out(t, "go", "http", "200 application/json /split/x [a b c]\n")


@compat("asyncio", "python")
def python_asyncio(t):
    words = ["one", "two", "three", "four"]
    want = ("echo %r\ntimeout ok\nsubprocess from-sub 3\n" % [w.upper() for w in words])
    expect_out(t, "python", "asyncio_echo", want)


@compat("getaddrinfo", "c")
def c_getaddrinfo(t):
    # /etc/hosts answers; AI_ADDRCONFIG reads the addresses over route netlink and, as glibc
    # does on any host with only loopback addresses, finds no IPv4 one for AF_INET.
    want = ("hostname: runcell\n"
            "localhost: 127.0.0.1 ::1\n"
            "localhost inet: 127.0.0.1\n"
            "localhost inet6: ::1\n"
            "localhost addrconfig: 127.0.0.1 ::1\n"
            "localhost inet addrconfig: EAI_NONAME\n"
            "hostname inet: 127.0.1.1\n"
            "numeric: 127.0.0.1\n"
            "gethostbyname: localhost 127.0.0.1\n")
    expect_out(t, "c", "getaddrinfo", want)


@compat("getaddrinfo", "python")
def python_getaddrinfo(t):
    want = ("hostname runcell\n"
            "localhost ['127.0.0.1', '::1']\n"
            "localhost inet ['127.0.0.1']\n"
            "localhost inet6 ['::1']\n"
            "hostname inet ['127.0.1.1']\n"
            "gethostbyname 127.0.0.1\n"
            "gethostbyaddr localhost\n"
            "fqdn runcell\n"
            # no resolv.conf: glibc asks 127.0.0.1:53, where nothing listens in the sandbox
            "example.com gaierror %d within 2 s True\n" % socket.EAI_AGAIN)
    expect_out(t, "python", "getaddrinfo", want)


@compat("dns_lookup", "javascript")
def node_dns(t):
    want = "localhost 127.0.0.1 ::1\nlocalhost4 127.0.0.1\nhostname runcell 127.0.1.1\n"
    expect_out(t, "javascript", "dns_lookup", want)


@compat("getent", "bash")
def bash_getent(t):
    want = ("hosts ::1 localhost ip6-localhost ip6-loopback\n"
            "ahosts 127.0.0.1 ::1 \n"
            "hostname runcell 127.0.1.1 runcell\n"
            "passwd root:0:/root\n"
            "whoami root 0\n")
    expect_out(t, "bash", "getent", want)


@compat("if_nameindex", "python")
def python_if_nameindex(t):
    want = "if_nameindex [(1, 'lo')]\nif_nametoindex lo 1\nif_indextoname 1 lo\n"
    expect_out(t, "python", "if_nameindex", want)


@compat("network_interfaces", "javascript")
def node_interfaces(t):
    st = run(t, "javascript", "network_interfaces")
    v6 = v6_fact(t, st)
    want = "lo IPv4 127.0.0.1 127.0.0.1/8 internal=true\n"
    if v6:
        want += "lo IPv6 ::1 ::1/128 internal=true\n"
    want += "proc ::1 %s\n" % ("yes" if v6 else "no")
    t.eq(st["stdout"], want, "run.stdout")


@compat("getifaddrs", "c")
def c_getifaddrs(t):
    st = run(t, "c", "getifaddrs")
    v6 = v6_fact(t, st)
    want = "lo inet 127.0.0.1 255.0.0.0 up loopback\n"
    if v6:
        want += "lo inet6 ::1 %s up loopback\n" % ":".join(["ffff"] * 8)
    want += ("lo packet - - up loopback\nindex 1 lo\nnametoindex lo 1\nproc ::1 %s\n"
             % ("yes" if v6 else "no"))
    t.eq(st["stdout"], want, "run.stdout")


@compat("interfaces", "go")
def go_interfaces(t):
    st = run(t, "go", "interfaces")
    v6 = v6_fact(t, st)
    want = "1 lo up|loopback [127.0.0.1/8%s]\nproc ::1 %s\n" % (
        " ::1/128" if v6 else "", "yes" if v6 else "no")
    t.eq(st["stdout"], want, "run.stdout")


# ================================================================ concurrency

@compat("pthreads", "c")
def c_pthreads(t):
    want = "threads 5\nsum %d\n" % sum(i * i for i in range(1000000))
    expect_out(t, "c", "pthreads", want)


@compat("threads", "cpp")
def cpp_threads(t):
    n = 2000000
    want = "hardware_concurrency %d\natomic %d locked %d squares %d\n" % (
        host_online(), sum(range(n)), sum(range(n)), sum(i * i for i in range(1000)))
    expect_out(t, "cpp", "threads", want)


@compat("threads", "rust")
def rust_threads(t):
    want = ("available_parallelism %d\nids [0, 1, 2, 3]\nsum %d\nsquares %d\n"
            % (host_affinity(), sum(range(1000000)), sum(i * i for i in range(1000))))
    expect_out(t, "rust", "threads", want)


@compat("threading", "python")
def python_threading(t):
    want = ("active while waiting 9\ntotal %d\npool %d\nconsumed [0, 1, 2, 3, 4]\n"
            % (sum(range(200000)), sum(i * i for i in range(1000))))
    expect_out(t, "python", "threading_sum", want)


@compat("goroutines", "go")
def go_goroutines(t):
    sq = sum(i * i for i in range(100000))
    n = host_affinity()
    want = ("NumCPU %d GOMAXPROCS %d\ngoroutines 1000\nsquares %d\nGOMAXPROCS now 1 squares %d\n"
            % (n, n, sq, sq))
    expect_out(t, "go", "goroutines", want)


@compat("cpu_quota", "go")
def go_cpu_quota(t):
    # every P busy for 800 ms of wall time: all the CPUs the program sees share one core's
    # worth of time (cpus = 1.0)
    n = host_affinity()
    st = expect_out(t, "go", "quota", "GOMAXPROCS %d busy %d\n" % (n, n), args=[800])
    cpu, wall = st.get("cpu_ms"), st["wall_ms"]
    t.check(isinstance(cpu, int), "run.cpu_ms must be reported (cgroup CPU accounting): %r" % cpu)
    # how much the goroutines got depends on the host's load; more than one core's worth
    # would mean the quota is missing
    t.check(cpu > 0, "cpu_ms %d for %d ms of busy goroutines" % (cpu, wall))
    t.check(cpu <= wall * 1.15 + 60,
            "cpu_ms %d > wall_ms %d * 1.15 + 60: more than one core's worth" % (cpu, wall))


@compat("worker_threads", "javascript")
def node_workers(t):
    expect_out(t, "javascript", "worker_threads",
               "workers 4 sum %d\n" % sum(i * i for i in range(100000)))


@compat("multiprocessing_pool", "python")
def python_mp_pool(t):
    want = ("map %d\nimap_unordered %r\napply_async 144\nworkers used True parent excluded True\n"
            % (sum(i * i for i in range(10000)), [i * i for i in range(10)]))
    expect_out(t, "python", "mp_pool", want)


@compat("multiprocessing_queue", "python")
def python_mp_queue(t):
    total = sum(k * 1000 + i for k in range(3) for i in range(100))
    want = "".join("%s items 300 sum %d counter 300 exitcodes [0, 0, 0]\n" % (m, total)
                   for m in ("fork", "spawn"))
    want += "semaphore True True False\ndev_shm writable True\n"
    expect_out(t, "python", "mp_queue", want)


@compat("shared_memory", "python")
def python_shared_memory(t):
    expect_out(t, "python", "shared_memory",
               "exitcode 0 sum %d\n" % sum(i % 251 for i in range(100000)))


@compat("shm_semaphores", "c")
def c_shm_sem(t):
    want = ("in /dev/shm: shm sem\nchildren ok 4\ncounter %d\nafter unlink: gone\n"
            % (1000 * sum(c + 1 for c in range(4))))
    expect_out(t, "c", "shm_sem", want)


# ================================================================ processes

@compat("pipelines", "bash")
def bash_pipelines(t):
    want = ("sum %d\n20 19 18 \nwords 3 a\npipestatus 1 0\n2\ncoproc COPROC INPUT\n"
            "here string here\nsed hell[o] w[o]rld\ngrep 2\nxargs 1 2;3 4;\n" % sum(range(1001)))
    expect_out(t, "bash", "pipelines", want)


@compat("jobs_signals", "bash")
def bash_jobs(t):
    want = ("codes 1 2 3\nkilled status 143\ngot USR1\nsubshell /tmp\nparent /work\n"
            "timeout 124\ntrap EXIT\n")
    expect_out(t, "bash", "jobs", want)


@compat("subprocess", "python")
def python_subprocess(t):
    want = ("run hello\npipeline 1000 0\nshell abc\nfailing 4 err\ninput PIPED IN\n")
    expect_out(t, "python", "subprocess_use", want)


@compat("child_process", "javascript")
def node_child_process(t):
    want = ('execSync "5 4 3 2 1 "\nspawn "1\\n9\\n10\\n100\\n" code 0\n'
            'execFile 5 "to-stderr\\n"\n')
    expect_out(t, "javascript", "child_process", want)


@compat("exec", "go")
def go_exec(t):
    want = 'pipeline "10+9+8" <nil>\nsort "c\\nb\\na\\n" <nil>\nexit 7\n'
    expect_out(t, "go", "exec", want)


@compat("signals", "python")
def python_signals(t):
    expect_out(t, "python", "signals", "handled ['alarm', 'usr1']\nchild returncode -15\n")


@compat("pty", "python")
def python_pty(t):
    expect_out(t, "python", "pty_use", "from child isatty=1 status 0\n")


# ================================================================ the machine

@compat("cpu_count", "python")
def python_cpu_count(t):
    want = "cpu_count %d\nsched_getaffinity %d\nnproc %d\ncpuinfo %d\n" % (
        host_online(), host_affinity(), host_affinity(), host_cpuinfo())
    expect_out(t, "python", "cpu_count", want)


@compat("nproc", "bash")
def bash_nproc(t):
    want = "nproc %d\ngetconf %d\ncpuinfo %d\n" % (host_affinity(), host_online(), host_cpuinfo())
    expect_out(t, "bash", "nproc", want)


@compat("nproc", "c")
def c_nproc(t):
    want = "onln %d get_nprocs %d affinity %d cpuinfo %d\n" % (
        host_online(), host_online(), host_affinity(), host_cpuinfo())
    expect_out(t, "c", "nproc", want)


@compat("proc_self_status", "python")
def python_proc_status(t):
    st = run(t, "python", "proc_status")
    exe = "/usr/bin/python" + ".".join(t.version.split(".")[:2])
    zero = "0\t0\t0\t0"
    want = ("Name python3\nState R (running)\nPPid 1\nUid %s\nGid %s\nThreads 1\n"
            "CapEff 0000000000000000\nCapBnd 0000000000000000\nNoNewPrivs 1\nSeccomp 2\n"
            "Pid matches True\nVmRSS kB > 0 True\ncwd /work\n"
            "cmdline [b'python3', b'-u', b'proc_status.py']\nexe %s\n"
            "limits has Max open files True\n" % (zero, zero, exe))
    t.eq(st["stdout"], want, "run.stdout")


# ================================================================ text, time, files

@compat("utf8", "python")
def python_utf8(t):
    names = [TEXT + ".txt", "Zebra.txt", "äpfel.txt"]
    want = ("preferred UTF-8\nfs utf-8 stdout utf-8\nsetlocale C.UTF-8\nlistdir %r\n"
            "text %s %d %d\nupper %s\nbytes listdir %r\n"
            % (sorted(names), TEXT, len(TEXT), len(TEXT.encode()), TEXT.upper(),
               sorted(n.encode() for n in names)[0]))
    expect_out(t, "python", "utf8", want, args=[TEXT])


@compat("locale_utf8", "c")
def c_locale(t):
    want = ("locale C.UTF-8\ncodeset UTF-8\nbytes %d chars %d\nupper %s\nfile %s.txt\n"
            % (len(TEXT.encode()), len(TEXT), TEXT.upper(), TEXT))
    expect_out(t, "c", "locale_utf8", want, args=[TEXT])


@compat("utf8", "bash")
def bash_utf8(t):
    names = sorted([TEXT + ".txt", "zèbre.txt", "abc.txt"])
    want = ("LANG C.UTF-8\nchars %d\nbytes %d\nupper %s\n%s|\ncat %s\nwc -m %d\n"
            % (len(TEXT), len(TEXT.encode()), TEXT.upper(), "|".join(names), TEXT, len(TEXT)))
    st = run(t, "bash", "utf8", args=[TEXT])
    # ls | sort orders by the locale's collation (C.UTF-8: code points), as sorted() does
    t.eq(st["stdout"], want, "run.stdout")


@compat("fs_utf8", "javascript")
def node_fs_utf8(t):
    names = sorted([TEXT + ".txt", "Ωmega.txt", "漢字.txt"])
    want = ("tmpdir /tmp\nnames %s\nchars %d bytes %d\nremoved true\n"
            % (json.dumps(names, ensure_ascii=False, separators=(",", ":")), len(TEXT),
               len(TEXT.encode())))
    expect_out(t, "javascript", "fs_utf8", want, args=[TEXT])


@compat("filesystem_utf8", "cpp")
def cpp_filesystem(t):
    size = len((TEXT + "\n").encode())
    entries = sorted(["日本語.txt %d" % size, "ÅÄÖ.txt %d" % size, "emoji-🙂.txt %d" % size,
                      "sous-répertoire"], key=lambda s: s.encode())
    want = "locale C.UTF-8\ntemp /tmp\n" + "".join(e + "\n" for e in entries) + "removed 1\n"
    expect_out(t, "cpp", "filesystem_utf8", want, args=[TEXT])


@compat("fs_process", "rust")
def rust_fs_process(t):
    want = ('temp_dir /tmp\nnames ["%s.txt"]\nchars %d\nLANG C.UTF-8\nAPPLE\nFIG\nPEAR\n'
            "status 0\n" % (TEXT, len(TEXT)))
    expect_out(t, "rust", "fs_process", want, args=[TEXT])


@compat("tempfile", "python")
def python_tempfile(t):
    want = ("gettempdir /tmp\nnamed in tmp /tmp\nread back hello tempfile\n"
            "anonymous size 1000000\ndir entries 100\ndir removed True\n"
            "mkstemp in /work /work 7\n")
    expect_out(t, "python", "tempfile_use", want)


@compat("timezone", "python")
def python_timezone(t):
    tz = paris(t)
    want = "tzname ('UTC', 'UTC') timezone 0\n"
    for ts in TIMES:
        want += "local %s\n" % utc(ts, "%Y-%m-%d %H:%M:%S UTC")
        want += "zoneinfo %s\n" % fmt_time(ts, tz, "%Y-%m-%d %H:%M:%S %Z %z")
    for ts in TIMES:
        want += "tzset %s\n" % fmt_time(ts, tz, "%Y-%m-%d %H:%M:%S %Z")
    want += "available has Europe/Paris True\n"
    expect_out(t, "python", "timezone", want, args=TIMES)


@compat("localtime", "c")
def c_localtime(t):
    tz = paris(t)
    want = "".join("default %d %s\n" % (ts, utc(ts, "%Y-%m-%d %H:%M:%S UTC +0000"))
                   for ts in TIMES)
    want += "".join("paris %d %s\n" % (ts, fmt_time(ts, tz, "%Y-%m-%d %H:%M:%S %Z %z"))
                    for ts in TIMES)
    expect_out(t, "c", "localtime", want, args=TIMES)


@compat("timezone", "go")
def go_timezone(t):
    tz = paris(t)
    want = ""
    for ts in TIMES:
        want += "local %s\n" % utc(ts, "%Y-%m-%d %H:%M:%S UTC +0000")
        want += "paris %s\n" % fmt_time(ts, tz, "%Y-%m-%d %H:%M:%S %Z %z")
    expect_out(t, "go", "timezone", want, args=TIMES)


@compat("date_tz", "bash")
def bash_date(t):
    tz = paris(t)
    want = "default zone UTC\n"
    for ts in TIMES:
        want += "default %s\n" % utc(ts, "%Y-%m-%d %H:%M:%S UTC +0000")
        want += "paris %s\n" % fmt_time(ts, tz, "%Y-%m-%d %H:%M:%S %Z %z")
    want += "localtime /usr/share/zoneinfo/Etc/UTC\n"
    expect_out(t, "bash", "date_tz", want, args=TIMES)


@compat("intl_timezone", "javascript")
def node_intl(t):
    tz = paris(t)
    st = run(t, "javascript", "intl_tz", args=TIMES)
    lines = out_lines(st)
    # ICU names the zone of /etc/localtime (Etc/UTC) by its canonical ID
    t.check(lines[0] in ("resolved UTC", "resolved Etc/UTC"), "default zone: %r" % lines[0])
    want = []
    for ts in TIMES:
        off = datetime.datetime.fromtimestamp(ts, tz).utcoffset()
        hours, rest = divmod(int(off.total_seconds()), 3600)
        want.append("%d offset 0 local %s paris %s GMT%+03d:%02d" % (
            ts, utc(ts, "%Y-%m-%dT%H:%M:%S.000Z"), fmt_time(ts, tz, "%Y-%m-%d %H:%M:%S"),
            hours, rest // 60))
    t.eq(lines[1:], want, "run.stdout after the first line")


# ================================================================ libraries

@compat("stdlib", "python")
def python_stdlib(t):
    decimal.getcontext().prec = 30
    want = ("sqlite (100, %d, 'k99')\njson %s\ndecimal %s\nsha1 %s\nzlib 100000\n"
            % (sum(i * i for i in range(100)),
               json.dumps({"b": [1, 2.5, None], "a": "é"}, sort_keys=True),
               decimal.Decimal(1) / decimal.Decimal(7), hashlib.sha1(b"runcell").hexdigest()))
    expect_out(t, "python", "sqlite_json", want)


@compat("crypto_zlib", "javascript")
def node_crypto(t):
    text = (TEXT * 1000).encode()
    want = ("sha256 %s\nmd5 %s\ngzip roundtrip true smaller true\nbrotli roundtrip true\n"
            "random 16\n" % (hashlib.sha256(text).hexdigest(), hashlib.md5(text).hexdigest()))
    expect_out(t, "javascript", "crypto_zlib", want, args=[TEXT])


# ================================================================ stack, memory, stdin

@compat("deep_recursion", "c")
def c_recursion(t):
    depth = 200000  # about 100 bytes a level: ~20 MB of a 32 MB stack
    want = "stack limit MB 32\ndepth %d sum %d\n" % (
        depth, sum(n % 256 for n in range(1, depth + 1)))
    expect_out(t, "c", "recursion", want, args=[depth], extra=["--stack-mb", 32])


@compat("deep_recursion", "rust")
def rust_recursion(t):
    depth = 500000  # on a thread with a 256 MiB stack
    expect_out(t, "rust", "recursion",
               "depth %d sum %d\n" % (depth, sum(n % 256 for n in range(1, depth + 1))),
               args=[depth])


@compat("deep_recursion", "python")
def python_recursion(t):
    depth = 100000
    expect_out(t, "python", "recursion",
               "depth %d sum %d\nRecursionError caught\n" % (depth, depth * (depth + 1) // 2),
               args=[depth])


@compat("sort_100mb", "cpp")
def cpp_sort(t):
    n = 13107200  # 100 MiB of uint64
    s1 = n * (n - 1) // 2
    s2 = (n - 1) * n * (2 * n - 1) // 6
    check = (7919 * s2 + 7922 * s1 + 3 * n) % (1 << 64)  # sum of (7919 i + 3) (i + 1)
    want = "bytes %d sorted 1 first 3 middle %d last %d check %d\n" % (
        n * 8, 7919 * (n // 2) + 3, 7919 * (n - 1) + 3, check)
    st = expect_out(t, "cpp", "sort_100mb", want)
    kb, limit_mb = st.get("memory_kb"), 256
    t.check(isinstance(kb, int), "run.memory_kb must be reported: %r" % kb)
    t.check(100 * 1024 <= kb <= limit_mb * 1024,
            "peak memory %r kB: not the 100 MiB array within the %d MB limit" % (kb, limit_mb))


@compat("stdin_50mb", "python")
def python_stdin(t):
    # piped into `runcell run`, which streams its own stdin to the program
    data, sha = big_stdin()
    r = t.runcell(*(list(t.suite.global_args) + ["run", "--json"] + WALL +
                    ["--lang", "python", src("python", "stdin_sha")]),
                  stdin_data=data.encode(), note="50 MB piped to runcell run")
    t.rc0(r, "runcell run exit status")
    st = r.json()["run"]
    expect_stage(t, st, "run", status="ok", exit_code=0, signal=None)
    t.eq(st["stdout"], "bytes %d sha256 %s\n" % (len(data), sha), "run.stdout")


@compat("stdin_50mb", "c")
def c_stdin(t):
    data, _ = big_stdin()
    st = run_batch(t, "c", "stdin_sum", data)
    t.eq(st["stdout"], "bytes %d lines %d sum %d\n" % (
        len(data), STDIN_LINES, STDIN_LINES * (STDIN_LINES - 1) // 2), "run.stdout")


@compat("dev_stdin", "python")
def python_dev_stdin(t):
    d = t.tmpdir()
    f = t.write(d, "in.txt", "one\ntwo\nthree\n")
    st = expect_out(t, "python", "dev_stdin", "read 3 lines: three\n", stdin=f)
    t.eq(st["stderr"], "to stderr\n", "run.stderr")


@compat("dev_stdin", "bash")
def bash_dev_stdin(t):
    d = t.tmpdir()
    f = t.write(d, "in.txt", "a\nb\n")
    st = expect_out(t, "bash", "dev_stdin", "lines 2\n", stdin=f)
    t.eq(st["stderr"], "err\n", "run.stderr")
