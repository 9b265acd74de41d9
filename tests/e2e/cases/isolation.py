"""Isolation cases, checked from inside the sandbox by programs/python/probe.py."""

import os
import re
import secrets
import socket

from harness import E2E_DIR, case, expect_stage, last_json_line, prog, shorten

def probe(t, what, *args, env=None):
    r, obj = t.run_json("python", [prog("python", "probe.py")],
                        args=[what] + list(args), env=env)
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0)
    return last_json_line(t, obj["run"]["stdout"], "probe %s" % what)


@case("isolation.pid_namespace", lang="python")
def pid_ns(t):
    me = os.getpid()
    p = probe(t, "pids", str(me))
    pids = p["pids"]
    t.check(1 in pids, "pid 1 missing from /proc: %r" % pids)
    t.check(p["self"] in pids, "own pid missing from /proc: %r" % pids)
    t.check(len(pids) <= 6, "/proc lists too many pids (host pids visible?): %r"
            % shorten(pids))
    t.check(p["self"] <= 10, "program pid %d is not a small pid" % p["self"])
    t.check(max(pids) <= 50, "large pid visible in /proc: %r" % shorten(pids))
    t.eq(p["ppid"], 1, "parent pid of the program (runcell's init)")
    if me > 50:
        t.check(not p["host_pid_visible"],
                "the test runner's pid %d is visible in the sandbox" % me)
    try:
        with open("/proc/1/cmdline", "rb") as f:
            host1 = f.read().decode("utf-8", "replace")
    except OSError:
        host1 = None
    if host1:
        t.check(p["pid1_cmdline"] != host1,
                "pid 1 in the sandbox looks like the host's init: %r" % host1)


@case("isolation.network", lang="python")
def network(t):
    p = probe(t, "net")
    t.eq(p["ifaces"], ["lo"], "interfaces in /proc/net/dev")
    t.eq(p["lo_up"], True, "lo is UP")
    t.eq(p["udp_loopback"], "ping-udp", "UDP over 127.0.0.1")
    t.eq(p["tcp_loopback"], "ping-tcp", "TCP over 127.0.0.1")
    for dest, res in sorted(p["outside"].items()):
        t.eq(res, "ENETUNREACH", "connect to %s" % dest)


@case("isolation.host_files_invisible", lang="python")
def host_files(t):
    name_tok = "rcmark" + secrets.token_hex(8)
    content_tok = "rcsecret" + secrets.token_hex(12)
    planted = []
    candidates = [t.tmpdir(), t.suite.tmproot, "/tmp", "/var/tmp",
                  os.environ.get("HOME") or os.path.expanduser("~")]
    try:
        for d in candidates:
            if not d or not os.path.isdir(d):
                continue
            p = os.path.join(d, "runcell-marker-" + name_tok)
            try:
                with open(p, "w") as f:
                    f.write(content_tok + "\n")
                planted.append(p)
            except OSError:
                continue
        t.check(len(planted) >= 2, "could not plant marker files: %r" % planted)
        t.note("planted: %r" % planted)
        paths = planted + [os.path.dirname(planted[0]), E2E_DIR,
                           os.path.abspath(t.suite.bin)]
        p = probe(t, "files", name_tok, content_tok, *paths)
        t.check(p["walked"] > 200, "the probe walked only %d files" % p["walked"])
        t.eq(p["exists"], [], "host paths visible in the sandbox")
        t.eq(p["name_hits"], [], "marker file names found in the sandbox")
        t.eq(p["content_hits"], [], "marker content found in the sandbox")
    finally:
        for p in planted:
            try:
                os.unlink(p)
            except OSError:
                pass


@case("isolation.no_sys", lang="python")
def no_sys(t):
    p = probe(t, "misc")
    t.check((not p["sys_exists"]) or p["sys_entries"] == [],
            "/sys must be absent or empty, got %r" % shorten(p["sys_entries"]))


@case("isolation.hostname", lang="python")
def hostname(t):
    p = probe(t, "misc")
    t.eq(p["gethostname"], "runcell", "gethostname()")
    t.eq(p["uname_nodename"], "runcell", "uname nodename")
    t.eq(p["proc_hostname"], "runcell\n", "/proc/sys/kernel/hostname")
    host = socket.gethostname()
    if host == "runcell":
        t.skip("the host itself is named runcell: cannot tell them apart")
    t.check(p["gethostname"] != host, "hostname equals the host's")


def parse_map(text):
    return [tuple(int(x) for x in ln.split()) for ln in text.strip().split("\n") if ln.strip()]


@case("isolation.uid_mapping", lang="python")
def uid_mapping(t):
    p = probe(t, "misc")
    t.eq(p["uid"], 0, "uid inside the sandbox")
    t.eq(p["euid"], 0, "euid inside the sandbox")
    t.check(isinstance(p["uid_map"], str), "cannot read uid_map: %r" % p["uid_map"])
    m = parse_map(p["uid_map"])
    zero = [e for e in m if e[0] == 0]
    t.check(zero, "uid 0 is not mapped: %r" % p["uid_map"])
    if os.geteuid() != 0:
        t.eq(len(m), 1, "number of uid_map lines (single mapping) %r" % p["uid_map"])
        t.check(m[0][1] != 0, "uid 0 inside maps to host root: %r" % p["uid_map"])
        t.eq(m[0][1], os.geteuid(), "outside uid of the mapping (runcell's own uid)")
    else:
        # contract: the program runs as uid 0 mapped to an unprivileged uid outside
        t.check(zero[0][1] != 0,
                "runcell running as root maps sandbox uid 0 to host root: %r"
                % p["uid_map"])


@case("isolation.namespaces_differ", lang="python")
def namespaces(t):
    p = probe(t, "misc")
    for n, link in sorted(p["ns"].items()):
        try:
            mine = os.readlink("/proc/self/ns/" + n)
        except OSError:
            continue
        t.check(link != mine, "%s namespace is shared with the host (%s)" % (n, link))


@case("isolation.mounts", lang="python")
def mounts(t):
    p = probe(t, "misc")
    m = p["mounts"]
    t.check(isinstance(m, dict) and "/" in m, "cannot read mountinfo: %r" % shorten(m))
    t.eq(p["cwd"], "/work", "working directory")
    t.eq(p["work_entries"], ["probe.py"], "contents of /work")
    t.check("ro" in m["/"]["options"], "/ is not mounted read-only: %r" % m["/"])
    for mp in ("/work", "/tmp"):
        t.check(mp in m, "%s is not a mount point: %r" % (mp, sorted(m)))
        t.eq(m[mp]["fstype"], "tmpfs", "fstype of %s" % mp)
        t.check("rw" in m[mp]["options"], "%s is not writable: %r" % (mp, m[mp]))
    t.check("/proc" in m and m["/proc"]["fstype"] == "proc", "/proc is not a proc mount")
    host_prefixes = [t.suite.tmproot, os.path.dirname(E2E_DIR)]
    for mp in m:
        for hp in host_prefixes:
            t.check(not mp.startswith(hp), "host path mounted in the sandbox: %s" % mp)


@case("isolation.env_not_leaked", lang="python")
def env_leak(t):
    tok = secrets.token_hex(8)
    name = "RUNCELL_CANARY_" + tok.upper()
    p = probe(t, "env", tok, env={name: "secret-" + tok,
                                  "LD_PRELOAD_CANARY": "also-" + tok})
    t.check(not p["os_environ_hit"], "canary found in os.environ: %r"
            % shorten(p["environ"]))
    t.check(p["self_environ"] != "hit", "canary found in /proc/self/environ")
    t.check(p["pid1_environ"] != "hit", "canary found in /proc/1/environ")
    t.eq(p["other_hits"], {}, "processes whose environ holds the canary")
    env = p["environ"]
    t.eq(env.get("HOME"), "/tmp", "HOME in the sandbox")
    t.check(env.get("PATH"), "PATH missing from the sandbox environment")
    t.note("sandbox environment: %r" % sorted(env))


@case("isolation.no_persistence", lang="python")
def persistence(t):
    tok = secrets.token_hex(8)
    p = probe(t, "write", tok)
    for d in ("/work", "/tmp", "/dev/shm"):
        t.eq(p[d], "ok", "writing a file to %s" % d)
        t.eq(p[d + ":exists"], True, "file written to %s exists" % d)
    p = probe(t, "check", tok)
    t.eq(p, {"/work": False, "/tmp": False, "/dev/shm": False},
         "files of the previous run still present")
    for d in ("/tmp", "/dev/shm", "/var/tmp"):
        t.check(not os.path.exists(os.path.join(d, "persist-" + tok)),
                "the sandbox's file appeared on the host in %s" % d)


@case("isolation.readonly_rootfs", lang="python")
def readonly(t):
    p = probe(t, "rofs")
    for k in ("create /usr/x", "create /etc/runcell-x", "create /x", "mkdir /usr/newdir"):
        t.eq(p[k], "EROFS", k)
    for k in ("append /etc/passwd", "unlink /etc/hostname"):
        t.check(p[k] != "ok", "%s succeeded on the read-only root" % k)
    t.eq(p["create /work/x"], "ok", "create /work/x")
    t.eq(p["create /tmp/x"], "ok", "create /tmp/x")


ALLOWED_CHR = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "console"}


@case("isolation.dev", lang="python")
def dev(t):
    p = probe(t, "dev")
    for k in ("null", "zero", "urandom", "shm"):
        t.eq(p[k], "ok", "/dev/%s" % k)
    t.eq(p["full"], "ENOSPC", "writing to /dev/full")
    t.eq(p["pts_is_dir"], True, "/dev/pts is a directory")
    ents = p["entries"]
    for n in ("null", "zero", "full", "random", "urandom", "tty"):
        t.eq(ents.get(n), "chr", "/dev/%s" % n)
    t.check("shm" in ents, "/dev/shm missing")
    for n, kind in sorted(ents.items()):
        t.check(kind != "blk", "block device /dev/%s visible" % n)
        if kind == "chr":
            t.check(n in ALLOWED_CHR, "unexpected device /dev/%s" % n)


@case("isolation.bash_view", lang="bash")
def bash_view(t):
    d = t.tmpdir()
    script = t.write(d, "view.sh", r"""
n=0
for p in /proc/[0-9]*; do n=$((n + 1)); done
echo "host=$(cat /proc/sys/kernel/hostname)"
echo "pids=$n"
echo "pwd=$PWD"
echo "home=$HOME"
if [ -e /sys ] && [ -n "$(ls -A /sys 2>/dev/null)" ]; then echo sys=present; else echo sys=absent; fi
if echo x > /usr/runcell-x 2>/dev/null; then echo usr=writable; else echo usr=readonly; fi
echo "work=$(ls /work | tr '\n' ' ')"
""")
    r, obj = t.run_json("bash", [script])
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0)
    kv = dict(ln.split("=", 1) for ln in obj["run"]["stdout"].split("\n") if "=" in ln)
    t.eq(kv.get("host"), "runcell", "hostname")
    t.eq(kv.get("pwd"), "/work", "working directory")
    t.eq(kv.get("home"), "/tmp", "HOME")
    t.eq(kv.get("sys"), "absent", "/sys")
    t.eq(kv.get("usr"), "readonly", "/usr")
    t.eq(kv.get("work"), "view.sh ", "files in /work")
    t.check(kv.get("pids", "").isdigit() and int(kv["pids"]) <= 6,
            "too many pids visible from bash: %r" % kv.get("pids"))


READ_FILES_PY = r"""
import json, sys
out = {}
for p in sys.argv[1:]:
    try:
        with open(p, "rb") as f:
            out[p] = f.read().decode("utf-8", "replace")
    except OSError as e:
        out[p] = "error: %s" % e.strerror
print(json.dumps(out))
"""


def read_in_sandbox(t, *paths):
    script = t.write(t.tmpdir(), "read.py", READ_FILES_PY)
    r, obj = t.run_json("python", [script], args=list(paths))
    expect_stage(t, obj["run"], "run", status="ok", exit_code=0)
    return last_json_line(t, obj["run"]["stdout"], "read.py")


@case("isolation.proc_cmdline_masked", lang="python")
def proc_cmdline_masked(t):
    # The host kernel's command line (boot parameters, root device, sometimes secrets passed
    # to the initrd) is none of a program's business: /proc/cmdline reads empty.
    with open("/proc/cmdline") as f:
        host = f.read()
    got = read_in_sandbox(t, "/proc/cmdline")["/proc/cmdline"]
    t.eq(got, "", "/proc/cmdline in the sandbox (the host's is %r)" % shorten(host, 200))


# Roots (4th field of mountinfo) the kernel still shows for what is bound from the host: the
# device nodes (/dev/null... and the /proc masks, all within the host's /dev) and the /proc
# subtrees made read-only (within the sandbox's own proc).
MOUNT_ROOTS_ALLOWED = {"/", "/null", "/zero", "/full", "/random", "/urandom", "/tty",
                       "/bus", "/fs", "/irq", "/sys"}


@case("isolation.mountinfo_no_host_paths", lang="python")
def mountinfo_no_host_paths(t):
    # The sandbox's mount table must not name where things live on the host: the state
    # directory with the unpacked root (under /home/<user> rootless), the host's devices.
    got = read_in_sandbox(t, "/proc/self/mountinfo")["/proc/self/mountinfo"]
    t.check(got and not got.startswith("error"), "mountinfo unreadable: %r" % got)
    home = os.environ.get("HOME") or os.path.expanduser("~")
    state = os.environ.get("RUNCELL_STATE_DIR") or (
        "/var/lib/runcell" if os.geteuid() == 0 else os.path.join(home, ".local/state"))
    host_paths = [p for p in (home, state, "/var/lib/runcell", t.suite.tmproot, "rootfs/")
                  if p and p != "/"]
    root = [ln for ln in got.splitlines() if ln.split(" - ", 1)[0].split()[4] == "/"]
    rel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    if root and " - overlay " not in root[0] and rel < (5, 11):
        t.skip("kernel %s cannot mount overlayfs in a user namespace (5.11): the root is a "
               "bind mount, whose mountinfo root is the host path (documented)"
               % os.uname().release)
    for ln in got.splitlines():
        fields = ln.split(" - ", 1)[0].split()
        t.check(fields[3] in MOUNT_ROOTS_ALLOWED,
                "mount root %r (a host path) in the sandbox's mountinfo: %r" % (fields[3], ln))
        for p in host_paths:
            t.not_contains(ln, p, "a line of the sandbox's mountinfo")
    t.eq(len(root), 1, "mounts at / in the sandbox's mountinfo")
    fstype, source = root[0].split(" - ", 1)[1].split()[:2]
    if fstype != "overlay":
        t.note("root mount: %s" % root[0])
    t.eq((fstype, source), ("overlay", "overlay"), "the root's file system type and source")
