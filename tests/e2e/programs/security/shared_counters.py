"""shared_counters.py VERB [ARGS]: what one sandbox can take that the kernel counts per user,
or shares between sandboxes of one root filesystem.  Prints one JSON line (times are the
host's clock, which sandboxes share, so two runs' lines can be compared).

  hold-inotify SECONDS   create inotify instances until the kernel refuses, keep them SECONDS
  try-inotify            create one inotify instance
  hold-flock PATH SECONDS  flock(LOCK_EX|LOCK_NB) PATH of the read-only root, keep it SECONDS
  try-flock PATH         flock(LOCK_EX|LOCK_NB) PATH once; also the root mount's fs type"""
import ctypes
import errno
import fcntl
import json
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
verb = sys.argv[1]


def ename(e):
    return errno.errorcode.get(e, str(e))


def root_fstype():
    with open("/proc/self/mountinfo") as f:
        for ln in f:
            a, b = ln.split(" - ", 1)
            if a.split()[4] == "/":
                return b.split()[0]
    return None


out = {}
if verb == "hold-inotify":
    fds = []
    while True:
        fd = libc.inotify_init1(0)
        if fd < 0:
            out["errno"] = ename(ctypes.get_errno())
            break
        fds.append(fd)
    out["got"] = len(fds)
    out["full_at"] = time.time()
    out["until"] = out["full_at"] + float(sys.argv[2])
elif verb == "try-inotify":
    out["at"] = time.time()
    fd = libc.inotify_init1(0)
    out["result"] = "ok" if fd >= 0 else ename(ctypes.get_errno())
elif verb in ("hold-flock", "try-flock"):
    f = open(sys.argv[2], "rb")
    out["at"] = time.time()
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out["result"] = "ok"
    except OSError as e:
        out["result"] = ename(e.errno)
    out["root_fstype"] = root_fstype()
    if verb == "hold-flock":
        out["until"] = out["at"] + float(sys.argv[3])
else:
    sys.exit("unknown verb " + verb)
print(json.dumps(out), flush=True)
if "until" in out:
    time.sleep(max(0.0, out["until"] - time.time()))
