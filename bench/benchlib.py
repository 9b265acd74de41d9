"""What the benchmark scripts share: percentiles, a delegated cgroup to run in, the bubblewrap
command line compared against, the toolchains' examples, a `runcell serve` on 127.0.0.1, and
writing their section of docs/BENCHMARKS.md."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DELEGATE = os.path.join(ROOT, "scripts", "cgroup-delegate")


def toolchains_dir():
    """The toolchains runcell reads: $RUNCELL_TOOLCHAINS, else the checkout's toolchains/."""
    return os.environ.get("RUNCELL_TOOLCHAINS") or os.path.join(ROOT, "toolchains")


def toolchain(lang):
    with open(os.path.join(toolchains_dir(), lang + ".json")) as f:
        return json.load(f)


def example(lang, which="hello"):
    """The toolchain's examples.WHICH: {"source", "stdout"[, "stdin"]} (the programs the
    benchmarks run are the ones front-ends and tests use)."""
    return toolchain(lang)["examples"][which]


class Server:
    """`runcell serve` on 127.0.0.1, a free port; stop() ends it."""

    def __init__(self, binary, *args):
        self.p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"] + list(args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        seen = []
        line = self.p.stderr.readline()
        while line and "listening on" not in line:  # notes first (a store, cgroups)
            seen.append(line)
            line = self.p.stderr.readline()
        if "listening on" not in line:
            sys.exit("runcell serve did not start: %r" % "".join(seen))
        # "listening on http://127.0.0.1:PORT" within the log line (logfmt or JSON)
        self.port = int(re.search(r"listening on https?://[^\s\"]*:(\d+)", line).group(1))
        threading.Thread(target=lambda: [None for _ in self.p.stderr], daemon=True).start()

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)


def in_threads(n, target):
    """target(i) for i in range(n), each in a thread of its own, all at once; exits with the
    first exception any of them raised."""
    errs = []

    def run(i):
        try:
            target(i)
        except BaseException as e:  # reported below
            errs.append(e)
    ths = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if errs:
        sys.exit("a client failed: %r" % errs[0])


def pct(values, p):
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1)))))]


def bwrap_argv():
    """Debian's bubblewrap with every namespace, a read-only /usr and fresh /proc, /dev, /tmp:
    the program to run and its bind mounts go after it."""
    bwrap = shutil.which("bwrap") or sys.exit("bubblewrap is not installed")
    return [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp"]


def bwrap_python(script):
    """bubblewrap running /usr/bin/python3 on script, bound read-only at /tmp/hello.py."""
    return bwrap_argv() + ["--ro-bind", script, "/tmp/hello.py", "/usr/bin/python3", "/tmp/hello.py"]


def unpacked_rootfs(lang):
    """Where runcell unpacked the root filesystem LANG (<state>/rootfs/<sha256 of the tarball>);
    a runcell run of that language must have come first."""
    rootfs_dir = os.environ.get("RUNCELL_ROOTFS_DIR", "/var/cache/runcell/rootfs")
    state = os.environ.get("RUNCELL_STATE_DIR", "/var/lib/runcell")
    with open(os.path.join(rootfs_dir, lang + ".tar.zst.sha256")) as f:
        sha = f.read().split()[0]
    path = os.path.join(state, "rootfs", sha)
    if not os.path.isdir(os.path.join(path, "usr", "bin")):
        sys.exit("no unpacked %s root filesystem at %s" % (lang, path))
    return path


def floor_argv(runcell_bin, rootfs, prog, script=None, layers=False, cgroup=None, bpf=None,
               without=None):
    """The yardstick (bench/floor.c, built beside runcell as runcell-bench-floor): PROG run in
    the least a fresh sandbox needs (namespaces, id maps, read-only root, /tmp, /proc), SCRIPT
    bound read-only at /tmp/hello.py. layers: with the kernel's side of runcell's isolation
    layers too (--layers), with cgroup (a cgroup v2 directory) a leaf of it, with bpf (a file
    of runcell's seccomp cache) runcell's own filter, without (comma-separated layer names)
    with those left out."""
    floor = os.path.join(os.path.dirname(os.path.abspath(runcell_bin)), "runcell-bench-floor")
    if not os.access(floor, os.X_OK):
        sys.exit("%s is missing (cmake --build builds it)" % floor)
    extra = ["--file", script, "/tmp/hello.py"] if script else []
    opts = []
    if layers:
        opts = (["--layers"] + (["--cgroup", cgroup] if cgroup else []) +
                (["--filter", bpf] if bpf else []) + (["--without", without] if without else []))
    return [floor] + opts + [rootfs] + extra + prog


def _dirs(name):
    return subprocess.run([DELEGATE, "dirs", name], stdout=subprocess.PIPE,
                          text=True).stdout.split()


def enter_cgroup(name):
    """Move this process into a new delegated cgroup subtree (runcell needs one; every variant
    then runs in the same surroundings). Returns its directories, for leave_cgroup: asked for
    from inside, they would be computed relative to the subtree itself."""
    subprocess.run([DELEGATE, "create", name], check=True)
    dirs = _dirs(name)
    _favour(dirs)
    for d in dirs:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return dirs


def _favour(dirs):
    """Give the benchmark's subtree the largest CPU weight its parent allows (v1 cpu.shares
    262144, v2 cpu.weight 10000): another cgroup busy on the same machine then takes little of
    the CPU from it, whatever its processes' nice values (CFS shares CPU between sibling cgroups
    by weight, not by nice). Every variant runs in the subtree, so all are favoured alike.
    Where the file is missing or not writable (no cpu controller delegated) nothing changes;
    what was set is printed."""
    for d in dirs:
        for fname, value in (("cpu.shares", "262144"), ("cpu.weight", "10000")):
            path = os.path.join(d, fname)
            if os.path.exists(path):
                try:
                    with open(path, "w") as f:
                        f.write(value)
                    print("bench: %s = %s" % (path, value), file=sys.stderr)
                except OSError:
                    pass


def leave_cgroup(name, dirs):
    """Back to the parent cgroup (where this process came from), then remove the subtree."""
    for d in dirs:
        with open(os.path.join(os.path.dirname(d), "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    subprocess.run([DELEGATE, "remove", name], check=True)
    left = [d for d in dirs if os.path.isdir(d)]
    if left:
        raise SystemExit("could not remove the benchmark's cgroups: %s" % left)


def write_section(tag, title, text):
    """Replace (or append) the <!-- tag:begin --> ... <!-- tag:end --> section."""
    path = os.path.join(ROOT, "docs", "BENCHMARKS.md")
    begin, end = "<!-- %s:begin -->" % tag, "<!-- %s:end -->" % tag
    section = "%s\n## %s\n\n%s\n%s" % (begin, title, text, end)
    doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if begin in doc:
        doc = doc[:doc.index(begin)] + section + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(doc)
    print("wrote", path)


def start_warm(runcell):
    """A runcell warm of root's (never idle-exits), its stderr in a file; waits for its socket.
    runcell: the binary, or a list of it and its global options."""
    state = os.environ.get("RUNCELL_STATE_DIR") or "/var/lib/runcell"
    sock = os.path.join(state, "warm.sock")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        probe.connect(sock)
        sys.exit("another runcell warm serves root's runs at %s: stop it first" % sock)
    except OSError:
        pass  # none, or a stale socket that runcell warm replaces
    finally:
        probe.close()
    log = tempfile.TemporaryFile()
    argv = (list(runcell) if isinstance(runcell, list) else [runcell]) + ["warm", "--idle", "0"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log)
    for _ in range(200):
        if os.path.exists(sock) or p.poll() is not None:
            break
        time.sleep(0.05)
    if p.poll() is not None or not os.path.exists(sock):
        log.seek(0)
        sys.exit("runcell warm did not start: %r" % log.read()[-500:])
    return p, log


def stop_warm(p, log):
    """SIGTERM it; its last line says how many sandboxes it lent and how many were ready."""
    p.terminate()
    p.wait(timeout=60)
    log.seek(0)
    lines = log.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else ""
