"""A judged program for tests/e2e/cases/judge_reuse.py: the tests of one submission that run one
after another share a sandbox, and nothing one test leaves may reach a later one.

stdin's first word says what this test does. Every test first looks for what an earlier test
could have left and prints "clean" when it finds nothing, else one line per thing found; then:
  check                 nothing more
  check-wait S          looks again after S seconds (a surviving process would write again)
  files                 leaves files: deep, unreadable, special, in /work /tmp /dev/shm, the
                        directories' modes changed, its own source changed
  procs                 leaves processes: a setsid double-forked daemon, one that ignores
                        every signal it can, a fork chain, a stopped one; each writes files
  ipc                   leaves SysV shared memory (mode 0 too), a semaphore set, a message queue
                        (with a message) and a POSIX message queue
  xattr                 sets user.* extended attributes on the four directories (prints which
                        the kernel refused on stderr, "xattr-refused DIR" lines)
  net                   leaves TCP connections in TIME_WAIT on 127.0.0.1:5000 (and [::1]:5002)
                        and sends 1234 UDP datagrams over lo
  udp                   only sends the datagrams
  init                  changes what it may of init (pid 1), which forks the next test's
                        program: its nice value, scheduling policy, CPU affinity, I/O
                        priority and soft and hard rlimits (prlimit) that runcell does not set
                        for a program; says on stderr what the kernel took ("init: WHAT ok")
  init-hard             lowers init's hard rlimits of those runcell sets for a program
                        (open files, stack, file size, CPU time)
  pid                   prints its pid
  mem MB                touches MB megabytes
  hog                   allocates until the memory limit ends it
  loop                  spins until the time limit ends it
  crash                 SIGSEGV
  spew                  writes 8 MB to stdout (over the output limit)
  forkbomb              forks until the processes limit refuses, the children left sleeping
  forks N               N processes at once, each waited for (the processes limit is the test's)
  limits                prints its open files and stack rlimits as /proc/self/limits says
Words after the first: "state": after "clean", "state: " and what a program inherits from
init (nice value, scheduling policy, CPU affinity, I/O priority, rlimits); "counters": lo's counters of packets are leftovers too (a fresh
sandbox's are 0); "pid": at the end, its pid; "again": at the end, "again:" and what this
test itself left, as a later test would find it (to show that the looking finds what is there).
"""

import ctypes
import errno
import os
import resource
import signal
import socket
import stat
import sys
import time

DIRS = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
# the modes of a fresh sandbox's directories
MODES = {"/work": 0o755, "/tmp": 0o1777, "/dev/shm": 0o1777, "/dev/mqueue": 0o1777}
KEYS = {"shm": 0x5e11, "shm0": 0x5e12, "sem": 0x5e13, "msg": 0x5e14}
IPC_CREAT = 0o1000
MQ_NAME = b"/reuse-probe"

SOURCE = os.path.abspath(sys.argv[0])

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def own_files():
    """What /work holds before the program ran: its source (interpreted languages)."""
    return {os.path.basename(SOURCE)}


def bind_error(family, addr, port):
    """Binding addr:port (TCP, without SO_REUSEADDR): None, or the error's name."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((addr, port))
        return None
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def net_leftovers(counters):
    found = []
    for fam, addr, port in ((socket.AF_INET, "127.0.0.1", 5000), (socket.AF_INET6, "::1", 5002)):
        e = bind_error(fam, addr, port)
        if e and e != "EADDRNOTAVAIL":
            found.append("bind %s port %d: %s" % (addr, port, e))
    for table in ("tcp", "tcp6", "udp", "udp6", "unix"):
        try:
            with open("/proc/net/" + table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            w = line.split()
            if table == "unix":
                found.append("unix socket: %s" % " ".join(w[6:]))
            else:
                found.append("%s socket: %s %s st %s" % (table, w[1], w[2], w[3]))
    if counters:
        with open("/proc/net/dev") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name.strip() == "lo" and (rest.split()[0] != "0" or rest.split()[1] != "0"):
                    found.append("lo counters: rx %s bytes %s packets" % tuple(rest.split()[:2]))
    return found


def find_leftovers(counters=False):
    found = []
    for d in DIRS:
        try:
            st = os.lstat(d)
        except OSError as e:
            found.append("%s: %s" % (d, e))
            continue
        if stat.S_IMODE(st.st_mode) != MODES[d]:
            found.append("%s mode %o" % (d, stat.S_IMODE(st.st_mode)))
        try:
            names = set(os.listdir(d))
        except OSError as e:
            found.append("%s unreadable: %s" % (d, e))
            continue
        if d == "/work":
            names -= own_files()
        for n in sorted(names):
            found.append("%s has %r" % (d, n))
        try:
            xs = os.listxattr(d)
        except OSError:
            xs = []
        for x in xs:
            found.append("%s xattr %s" % (d, x))
    # our own source as it was: a test that rewrote it would change what later ones run
    with open(SOURCE, "rb") as f:
        if b"TAMPERED" in f.read().split(b"# END OF SOURCE")[-1]:
            found.append("the program's source was changed")
    me, parent = os.getpid(), os.getppid()
    for p in sorted((int(x) for x in os.listdir("/proc") if x.isdigit())):
        if p in (1, me, parent):
            continue
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open("/proc/%d/stat" % p) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile
        found.append("process %d (%s) %s" % (p, state, cmd))
    for kind in ("shm", "sem", "msg"):
        with open("/proc/sysvipc/" + kind) as f:
            for line in f.read().splitlines()[1:]:
                if line.strip():
                    found.append("sysv %s: %s" % (kind, " ".join(line.split()[:3])))
    for name, key in KEYS.items():
        get = {"shm": lambda k: libc.shmget(k, 0, 0), "shm0": lambda k: libc.shmget(k, 0, 0),
               "sem": lambda k: libc.semget(k, 0, 0), "msg": lambda k: libc.msgget(k, 0)}[name]
        if get(key) >= 0:
            found.append("sysv key %#x (%s) still there" % (key, name))
    q = libc.mq_open(MQ_NAME, os.O_RDONLY)
    if q >= 0:
        found.append("POSIX message queue %s still there" % MQ_NAME.decode())
        libc.mq_close(q)
    return found + net_leftovers(counters)


def report(counters):
    found = find_leftovers(counters)
    if found:
        for ln in found:
            print(ln)
    else:
        print("clean")
    sys.stdout.flush()
    return found


# ------------------------------------------------------------------------- leaving behind

def leave_files():
    with open("/tmp/x", "w") as f:
        f.write("from test 1\n")
    with open("/work/y", "w") as f:
        f.write("from test 1\n")
    os.link("/work/y", "/work/y-hard")
    with open("/dev/shm/z", "wb") as f:
        f.write(b"z" * (4 << 20))
    for d in DIRS[:3]:
        with open(os.path.join(d, ".hidden"), "w") as f:
            f.write("h")
        with open(os.path.join(d, "new\nline \x01name"), "w") as f:
            f.write("n")
    os.symlink("/etc/passwd", "/work/link")
    os.symlink("/work/link", "/tmp/dangling-loop")
    os.mkfifo("/tmp/fifo")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("/tmp/sock")
    # 100 levels deep, a file at the bottom
    fd = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir("deep", dir_fd=fd)
    for _ in range(100):
        nfd = os.open("deep" if _ == 0 else "d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        os.mkdir("d", dir_fd=fd)
    os.close(os.open("bottom", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
    os.close(fd)
    # longer than PATH_MAX: 40 levels of 200-character names, in /work
    os.chdir("/work")
    os.mkdir("long")
    os.chdir("long")
    for _ in range(40):
        os.mkdir("n" * 200)
        os.chdir("n" * 200)
    with open("bottom", "w") as f:
        f.write("b")
    os.chdir("/")
    # unreadable: a directory of mode 0 holding files and a directory of mode 0, in each dir
    for d in DIRS[:3]:
        top = os.path.join(d, "locked")
        os.mkdir(top)
        os.mkdir(os.path.join(top, "inner"))
        for i in range(5):
            with open(os.path.join(top, "f%d" % i), "w") as f:
                f.write("secret")
            with open(os.path.join(top, "inner", "g%d" % i), "w") as f:
                f.write("secret")
        os.chmod(os.path.join(top, "inner", "g0"), 0)
        os.chmod(os.path.join(top, "inner"), 0)
        os.chmod(top, 0)
    # the program's own source (what a later test runs, for an interpreted language)
    try:
        with open(SOURCE, "a") as f:
            f.write("\nprint('TAMPERED')\n")
    except OSError as e:
        print("cannot change the source: %s" % e, file=sys.stderr)
    # the directories' modes
    for d, m in (("/tmp", 0o700), ("/work", 0o777), ("/dev/shm", 0o000)):
        os.chmod(d, m)


def forever_writing(tag):
    """In a process left behind: write to the shared directories again and again, and to
    stdout from 2.5 s on: by then the test's program has long ended and init must have killed
    this (the test's wall_ms is checked under 3 s). Not sooner: under load (the ASan build, two
    cases at once) the program itself may still be running half a second after it forked this,
    and output then is the test's own."""
    start = time.monotonic()
    time.sleep(0.5)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        for d in ("/tmp", "/work", "/dev/shm"):
            try:
                with open(os.path.join(d, "late-" + tag), "a") as f:
                    f.write("still here\n")
            except OSError:
                pass
        if time.monotonic() - start >= 2.5:
            try:
                print("late output from %s" % tag, flush=True)
            except OSError:
                pass
        time.sleep(0.05)
    os._exit(0)


def leave_procs():
    # a daemon: fork, setsid, fork again, stdio away
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            nul = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(nul, fd)
            forever_writing("daemon")
        os._exit(0)
    # one that keeps the program's stdout and ignores what it can
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT,
                  signal.SIGPIPE, signal.SIGUSR1):
            signal.signal(s, signal.SIG_IGN)
        forever_writing("stubborn")
    # a fork chain: a new process every few milliseconds, each parent gone
    if os.fork() == 0:
        os.setsid()
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if os.fork() != 0:
                os._exit(0)
            with open("/tmp/late-chain", "a") as f:
                f.write("%d\n" % os.getpid())
            time.sleep(0.005)
        os._exit(0)
    # a stopped one
    if os.fork() == 0:
        os.kill(os.getpid(), signal.SIGSTOP)
        forever_writing("stopped")
    # an exec'd one that is not python
    if os.fork() == 0:
        os.setsid()
        try:
            os.execv("/bin/sh", ["sh", "-c", "sleep 30 & while :; do echo x >> /tmp/late-sh; "
                                 "sleep 0.05; done"])
        finally:
            os._exit(1)
    time.sleep(0.3)  # they are all going


def check_ipc(what, r):
    if r < 0:
        e = ctypes.get_errno()
        print("ipc: %s failed: %s" % (what, os.strerror(e)))
    return r


def leave_ipc():
    # shmget(key, size, IPC_CREAT | mode): one keyed 0600, one keyed mode 0, one private
    # attached and written
    check_ipc("shmget", libc.shmget(KEYS["shm"], 1 << 20, IPC_CREAT | 0o600))
    check_ipc("shmget mode 0", libc.shmget(KEYS["shm0"], 4096, IPC_CREAT | 0))
    sid = check_ipc("shmget private", libc.shmget(0, 8192, IPC_CREAT | 0o600))
    if sid >= 0:
        libc.shmat.restype = ctypes.c_void_p
        addr = libc.shmat(sid, None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            print("ipc: shmat failed: %s" % os.strerror(ctypes.get_errno()))
        else:
            ctypes.memset(addr, 0x41, 8192)
    check_ipc("semget", libc.semget(KEYS["sem"], 4, IPC_CREAT | 0o600))
    check_ipc("semget private", libc.semget(0, 1, IPC_CREAT | 0))
    mid = check_ipc("msgget", libc.msgget(KEYS["msg"], IPC_CREAT | 0o600))
    if mid >= 0:
        class Msg(ctypes.Structure):
            _fields_ = [("mtype", ctypes.c_long), ("text", ctypes.c_char * 32)]
        m = Msg(1, b"from test 1")
        check_ipc("msgsnd", libc.msgsnd(mid, ctypes.byref(m), 32, 0))
    check_ipc("msgget private", libc.msgget(0, IPC_CREAT | 0))
    q = check_ipc("mq_open", libc.mq_open(MQ_NAME, os.O_CREAT | os.O_RDWR, 0o600, None))
    if q >= 0:
        check_ipc("mq_send", libc.mq_send(q, b"from test 1", 11, 0))
    check_ipc("mq_open mode 0", libc.mq_open(b"/reuse-probe-0", os.O_CREAT | os.O_RDWR, 0,
                                             None))
    # all of it is there now (else the later tests prove nothing)
    with open("/proc/sysvipc/shm") as f:
        n = len(f.read().splitlines()) - 1
    if n != 3:
        print("ipc: %d shm segments, not 3" % n)
    if sorted(os.listdir("/dev/mqueue")) != ["reuse-probe", "reuse-probe-0"]:
        print("ipc: /dev/mqueue holds %r" % os.listdir("/dev/mqueue"))


def leave_xattr():
    for d in DIRS:
        try:
            os.setxattr(d, "user.k", b"from test 1")
            os.setxattr(d, "user.other", b"x" * 100)
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EPERM, errno.EACCES):
                print("xattr-refused %s %s" % (d, errno.errorcode[e.errno]), file=sys.stderr)
                continue
            raise
        if os.getxattr(d, "user.k") != b"from test 1":
            print("xattr: %s lost it at once" % d)


def time_wait(family, addr, port):
    """A connection to addr:port whose accepting side closes first: TIME_WAIT, 60 s."""
    srv = socket.socket(family, socket.SOCK_STREAM)
    try:
        srv.bind((addr, port))
    except OSError as e:
        if e.errno == errno.EADDRNOTAVAIL:  # no such address on lo
            return
        raise
    srv.listen(1)
    c = socket.create_connection((addr, port))
    a, _ = srv.accept()
    a.close()
    c.recv(1)
    c.close()
    srv.close()


def leave_net(tcp):
    if tcp:
        time_wait(socket.AF_INET, "127.0.0.1", 5000)
        time_wait(socket.AF_INET6, "::1", 5002)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(1234):
        u.sendto(b"x", ("127.0.0.1", 9))


RLIMITS = sorted(n for n in dir(resource) if n.startswith("RLIMIT_"))
# ioprio_get / ioprio_set (x86_64), IOPRIO_WHO_PROCESS, IOPRIO_CLASS_IDLE
SYS_IOPRIO_SET, SYS_IOPRIO_GET, WHO_PROCESS, CLASS_IDLE = 251, 252, 1, 3


def state():
    """What a program inherits from the process that forked it (init)."""
    rl = " ".join("%s=%s/%s" % ((n[7:],) + resource.getrlimit(getattr(resource, n)))
                  for n in RLIMITS)
    return "nice=%d policy=%d cpus=%s ioprio=%d %s" % (
        os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0),
        ",".join(map(str, sorted(os.sched_getaffinity(0)))),
        libc.syscall(SYS_IOPRIO_GET, WHO_PROCESS, 0), rl)


def try_init(what, fn):
    try:
        fn()
        print("init: %s ok" % what, file=sys.stderr)
    except OSError as e:
        print("init: %s: %s" % (what, e), file=sys.stderr)


def lower(name, value, hard):
    """prlimit on init: the soft limit to value (never up), the hard one too when hard."""
    r = getattr(resource, "RLIMIT_" + name)
    inf = resource.RLIM_INFINITY
    soft, old_hard = resource.prlimit(1, r)
    if old_hard != inf:
        value = min(value, old_hard)
    try_init("prlimit %s %d%s" % (name, value, " (hard)" if hard else ""),
             lambda: resource.prlimit(1, r, (value, value if hard else old_hard)))


def change_init(hard):
    if hard:
        for name, value in (("NOFILE", 20), ("STACK", 1 << 20), ("FSIZE", 1 << 20),
                            ("CPU", 1)):
            lower(name, value, True)
        return
    try_init("setpriority 19", lambda: os.setpriority(os.PRIO_PROCESS, 1, 19))
    try_init("SCHED_IDLE", lambda: os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0)))
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        try_init("affinity %d" % cpus[0], lambda: os.sched_setaffinity(1, {cpus[0]}))

    def ioprio():
        if libc.syscall(SYS_IOPRIO_SET, WHO_PROCESS, 1, CLASS_IDLE << 13) < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    try_init("ioprio idle", ioprio)
    for name, value in (("AS", 100 << 20), ("DATA", 100 << 20), ("NPROC", 3),
                        ("MEMLOCK", 0), ("MSGQUEUE", 0), ("SIGPENDING", 1)):
        lower(name, value, False)
    try_init("oom_score_adj 1000", lambda: open("/proc/1/oom_score_adj", "w").write("1000"))


def hog():
    keep = []
    while True:
        keep.append(b"\x01" * (16 << 20))


def read_limits():
    out = {}
    with open("/proc/self/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                out["open_files"] = line.split()[3:5]
            if line.startswith("Max stack size"):
                out["stack"] = line.split()[3:5]
    print("open_files %s %s" % tuple(out["open_files"]))
    print("stack %s %s" % tuple(out["stack"]))


def main():
    words = sys.stdin.read().split()
    what = words[0] if words else "check"
    counters = "counters" in words[1:]
    found = report(counters)
    if "state" in words[1:]:
        print("state: " + state())
    if what == "check-wait":
        time.sleep(float(words[1]))
        again = find_leftovers(counters)
        for ln in again:
            if ln not in found:
                print("later: " + ln)
    elif what == "files":
        leave_files()
    elif what == "procs":
        leave_procs()
    elif what == "ipc":
        leave_ipc()
    elif what == "xattr":
        leave_xattr()
    elif what in ("init", "init-hard"):
        change_init(what == "init-hard")
    elif what in ("net", "udp"):
        leave_net(what == "net")
    elif what == "pid":
        print("pid %d" % os.getpid())
    elif what == "mem":
        block = b"\x01" * (int(words[1]) << 20)
        time.sleep(0.2)
        del block
    elif what == "hog":
        hog()
    elif what == "loop":
        while True:
            pass
    elif what == "spew":
        for _ in range(8):
            sys.stdout.write("y" * (1 << 20))
    elif what == "forkbomb":
        n = 0
        try:
            while n < 10000:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                n += 1
        except OSError as e:
            print("forkbomb: %d processes, then %s" % (n, e), file=sys.stderr)
    elif what == "forks":
        kids = []
        try:
            for _ in range(int(words[1])):
                pid = os.fork()
                if pid == 0:
                    time.sleep(0.2)
                    os._exit(0)
                kids.append(pid)
        except OSError as e:
            print("forks: only %d: %s" % (len(kids), e))
        for pid in kids:
            os.waitpid(pid, 0)
    elif what == "crash":
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    elif what == "limits":
        read_limits()
    if "pid" in words[1:]:
        print("pid %d" % os.getpid())
    if "again" in words[1:]:
        # what this test left, as a later test would look for it (the detector works)
        print("again:")
        for ln in find_leftovers(True):
            print(ln)
    sys.stdout.flush()


main()
# END OF SOURCE
