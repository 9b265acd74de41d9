"""Isolation probe run inside the sandbox.

Usage: probe.py WHAT [ARGS...]; prints facts as one JSON object on the last
line of stdout.  The test on the host side makes the assertions.
"""

import errno
import fcntl
import json
import os
import socket
import stat
import struct
import sys


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError as e:
        return {"error": errname(e)}


def try_op(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errname(e)


def pids(host_pid):
    ps = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
    cmd1 = read("/proc/1/cmdline", "rb")
    return {
        "pids": ps,
        "self": os.getpid(),
        "ppid": os.getppid(),
        "host_pid_visible": os.path.exists("/proc/%d" % host_pid),
        "pid1_cmdline": cmd1.decode("utf-8", "replace") if isinstance(cmd1, bytes) else cmd1,
    }


SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1
IFF_LOOPBACK = 0x8


def net():
    out = {}
    lines = read("/proc/net/dev")
    ifaces = []
    if isinstance(lines, str):
        for ln in lines.split("\n")[2:]:
            if ":" in ln:
                ifaces.append(ln.split(":", 1)[0].strip())
    out["ifaces"] = ifaces
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        res = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH22x", res)[1]
        out["lo_up"] = bool(flags & IFF_UP)
        out["lo_loopback"] = bool(flags & IFF_LOOPBACK)
    except OSError as e:
        out["lo_up"] = errname(e)
    finally:
        s.close()

    # UDP over loopback
    try:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.sendto(b"ping-udp", rx.getsockname())
        data, _ = rx.recvfrom(100)
        out["udp_loopback"] = data.decode()
        rx.close()
        tx.close()
    except OSError as e:
        out["udp_loopback"] = errname(e)

    # TCP over loopback
    try:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        c = socket.create_connection(srv.getsockname(), timeout=5)
        conn, _ = srv.accept()
        c.sendall(b"ping-tcp")
        out["tcp_loopback"] = conn.recv(100).decode()
        for x in (c, conn, srv):
            x.close()
    except OSError as e:
        out["tcp_loopback"] = errname(e)

    # non-loopback destinations must be unreachable
    res = {}
    for kind, addr in (("udp", ("8.8.8.8", 53)), ("udp", ("10.1.2.3", 9)),
                       ("tcp", ("10.1.2.3", 80)), ("tcp", ("1.1.1.1", 443))):
        s = socket.socket(socket.AF_INET,
                          socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(addr)
            if kind == "udp":
                s.send(b"x")
            res["%s:%s:%d" % (kind, addr[0], addr[1])] = "connected"
        except socket.timeout:
            res["%s:%s:%d" % (kind, addr[0], addr[1])] = "timeout"
        except OSError as e:
            res["%s:%s:%d" % (kind, addr[0], addr[1])] = errname(e)
        finally:
            s.close()
    out["outside"] = res
    return out


SKIP_TOP = {"/proc", "/sys", "/dev"}
CONTENT_DIRS = ("/tmp", "/work", "/root", "/home", "/var/tmp", "/var/lib",
                "/run", "/mnt", "/srv", "/opt", "/media", "/var/cache")


def files(name_token, content_token, paths):
    out = {"exists": [p for p in paths if os.path.lexists(p)]}
    name_hits, content_hits = [], []
    walked = 0
    ctok = content_token.encode()
    for top, dirs, fnames in os.walk("/", onerror=lambda e: None):
        if top == "/":
            dirs[:] = [d for d in dirs if "/" + d not in SKIP_TOP]
        for n in dirs + fnames:
            if name_token in n:
                name_hits.append(os.path.join(top, n))
        for n in fnames:
            walked += 1
            p = os.path.join(top, n)
            if not top.startswith(CONTENT_DIRS):
                continue
            try:
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode) and st.st_size < (1 << 20):
                    with open(p, "rb") as f:
                        if ctok in f.read():
                            content_hits.append(p)
            except OSError:
                pass
    out["name_hits"] = name_hits
    out["content_hits"] = content_hits
    out["walked"] = walked
    return out


def mountinfo():
    mounts = {}
    txt = read("/proc/self/mountinfo")
    if isinstance(txt, dict):
        return txt
    for ln in txt.split("\n"):
        if not ln:
            continue
        left, right = ln.split(" - ", 1)
        lf = left.split()
        rf = right.split()
        mounts[lf[4]] = {"fstype": rf[0], "options": lf[5].split(","),
                         "super": rf[2].split(",") if len(rf) > 2 else []}
    return mounts


def misc():
    out = {}
    out["gethostname"] = socket.gethostname()
    out["uname_nodename"] = os.uname().nodename
    out["proc_hostname"] = read("/proc/sys/kernel/hostname")
    out["uid"] = os.getuid()
    out["euid"] = os.geteuid()
    out["gid"] = os.getgid()
    out["uid_map"] = read("/proc/self/uid_map")
    out["gid_map"] = read("/proc/self/gid_map")
    out["sys_exists"] = os.path.exists("/sys")
    try:
        out["sys_entries"] = os.listdir("/sys")
    except OSError as e:
        out["sys_entries"] = errname(e)
    out["cwd"] = os.getcwd()
    out["work_entries"] = sorted(os.listdir("/work"))
    out["mounts"] = mountinfo()
    ns = {}
    for n in ("user", "pid", "mnt", "net", "uts", "ipc", "cgroup"):
        try:
            ns[n] = os.readlink("/proc/self/ns/" + n)
        except OSError as e:
            ns[n] = errname(e)
    out["ns"] = ns
    return out


def env(token):
    out = {"environ": dict(os.environ)}
    out["os_environ_hit"] = any(token in k or token in v for k, v in os.environ.items())
    se = read("/proc/self/environ", "rb")
    out["self_environ"] = ("unreadable:" + se["error"]) if isinstance(se, dict) \
        else ("hit" if token.encode() in se else "clean")
    pe = read("/proc/1/environ", "rb")
    out["pid1_environ"] = ("unreadable:" + pe["error"]) if isinstance(pe, dict) \
        else ("hit" if token.encode() in pe else "clean")
    # every other process we can see, too
    others = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            e = read("/proc/%s/environ" % p, "rb")
            if isinstance(e, bytes) and token.encode() in e:
                others[p] = "hit"
    out["other_hits"] = others
    return out


def write(token):
    res = {}
    for d in ("/work", "/tmp", "/dev/shm"):
        p = os.path.join(d, "persist-" + token)

        def w(p=p):
            with open(p, "w") as f:
                f.write(token)
        res[d] = try_op(w)
        res[d + ":exists"] = os.path.exists(p)
    return res


def check(token):
    return {d: os.path.exists(os.path.join(d, "persist-" + token))
            for d in ("/work", "/tmp", "/dev/shm")}


def rofs():
    res = {}

    def create(p):
        def f():
            with open(p, "w") as fh:
                fh.write("x")
        return f
    res["create /usr/x"] = try_op(create("/usr/x"))
    res["create /etc/runcell-x"] = try_op(create("/etc/runcell-x"))
    res["create /x"] = try_op(create("/x"))
    res["mkdir /usr/newdir"] = try_op(lambda: os.mkdir("/usr/newdir"))
    res["append /etc/passwd"] = try_op(lambda: open("/etc/passwd", "a").close())
    res["unlink /etc/hostname"] = try_op(lambda: os.unlink("/etc/hostname"))
    res["create /work/x"] = try_op(create("/work/x"))
    res["create /tmp/x"] = try_op(create("/tmp/x"))
    return res


def dev():
    res = {}
    entries = {}
    for n in sorted(os.listdir("/dev")):
        st = os.lstat("/dev/" + n)
        if stat.S_ISCHR(st.st_mode):
            kind = "chr"
        elif stat.S_ISBLK(st.st_mode):
            kind = "blk"
        elif stat.S_ISDIR(st.st_mode):
            kind = "dir"
        elif stat.S_ISLNK(st.st_mode):
            kind = "lnk:" + os.readlink("/dev/" + n)
        else:
            kind = "other"
        entries[n] = kind
    res["entries"] = entries

    def null_rw():
        with open("/dev/null", "wb") as f:
            f.write(b"discard me")
        with open("/dev/null", "rb") as f:
            if f.read() != b"":
                raise OSError(errno.EIO, "read from /dev/null not empty")
    res["null"] = try_op(null_rw)

    def zero():
        with open("/dev/zero", "rb") as f:
            if f.read(64) != b"\0" * 64:
                raise OSError(errno.EIO, "/dev/zero not zero")
    res["zero"] = try_op(zero)

    def urandom():
        with open("/dev/urandom", "rb") as f:
            a, b = f.read(32), f.read(32)
        if len(a) != 32 or a == b:
            raise OSError(errno.EIO, "/dev/urandom broken")
    res["urandom"] = try_op(urandom)

    def full():
        with open("/dev/full", "wb", buffering=0) as f:
            f.write(b"x")
    res["full"] = try_op(full)

    def shm():
        p = "/dev/shm/probe-shm"
        with open(p, "w") as f:
            f.write("shm works")
        with open(p) as f:
            if f.read() != "shm works":
                raise OSError(errno.EIO, "/dev/shm read back differs")
        os.unlink(p)
    res["shm"] = try_op(shm)
    res["pts_is_dir"] = os.path.isdir("/dev/pts")
    return res


def main():
    what = sys.argv[1]
    a = sys.argv[2:]
    if what == "pids":
        out = pids(int(a[0]))
    elif what == "net":
        out = net()
    elif what == "files":
        out = files(a[0], a[1], a[2:])
    elif what == "misc":
        out = misc()
    elif what == "env":
        out = env(a[0])
    elif what == "write":
        out = write(a[0])
    elif what == "check":
        out = check(a[0])
    elif what == "rofs":
        out = rofs()
    elif what == "dev":
        out = dev()
    else:
        raise SystemExit("unknown probe " + what)
    print(json.dumps(out, sort_keys=True))


main()
