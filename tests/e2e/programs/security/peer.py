"""peer.py ROLE OTHER TOKEN SECONDS: one of two runs started at the same time.

Takes an exclusive flock on /tmp/lock, binds the abstract unix socket @TOKEN-ROLE,
creates a SysV shared memory segment and a message queue with keys derived from
TOKEN and ROLE, and keeps all of that for SECONDS.  Meanwhile it keeps looking for
the other run's: its abstract socket, its SysV key, a process whose command line
holds TOKEN and OTHER.  Prints one JSON line."""
import ctypes
import errno
import fcntl
import json
import os
import socket
import sys
import time
import zlib

role, other, tok, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT, IPC_EXCL, IPC_RMID = 0o1000, 0o2000, 0


def key(r):
    return ctypes.c_int(zlib.crc32(("%s-%s" % (tok, r)).encode()) & 0x7fffffff)


def ename(e):
    return errno.errorcode.get(e, str(e))


out = {"role": role}
lock = open("/tmp/lock", "w")
try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    out["flock"] = "ok"
except OSError as e:
    out["flock"] = ename(e.errno)
out["flock_at"] = time.time()

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("\0%s-%s" % (tok, role))
srv.listen(8)
srv.setblocking(False)

shm = libc.shmget(key(role), ctypes.c_size_t(4096), IPC_CREAT | IPC_EXCL | 0o600)
out["shm_create"] = "ok" if shm >= 0 else ename(ctypes.get_errno())
msq = libc.msgget(key(role), IPC_CREAT | IPC_EXCL | 0o600)
out["msg_create"] = "ok" if msq >= 0 else ename(ctypes.get_errno())


def try_connect(r):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect("\0%s-%s" % (tok, r))
        return "connected"
    except OSError as e:
        return ename(e.errno)
    finally:
        c.close()


def other_procs():
    hits = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        # python3 -u peer.py ROLE OTHER TOKEN SECONDS
        if tok.encode() in args and args[args.index(tok.encode()) - 2] == other.encode():
            hits.append(int(p))
    return hits


out["self_connect"] = try_connect(role)
out["self_shm"] = "ok" if libc.shmget(key(role), ctypes.c_size_t(0), 0) >= 0 \
    else ename(ctypes.get_errno())
out["self_seen"] = os.getpid() in [int(p) for p in os.listdir("/proc") if p.isdigit()]
results = {"connect": set(), "shm": set(), "msg": set(), "procs": set()}
end = time.time() + secs
n = 0
while time.time() < end:
    n += 1
    results["connect"].add(try_connect(other))
    r = libc.shmget(key(other), ctypes.c_size_t(0), 0)
    results["shm"].add("found" if r >= 0 else ename(ctypes.get_errno()))
    r = libc.msgget(key(other), 0)
    results["msg"].add("found" if r >= 0 else ename(ctypes.get_errno()))
    for p in other_procs():
        results["procs"].add(p)
    try:
        srv.accept()[0].close()
        out.setdefault("accepted", 0)
        out["accepted"] += 1
    except (BlockingIOError, OSError):
        pass
    time.sleep(0.05)
out["rounds"] = n
out["until"] = time.time()
for k, v in results.items():
    out["other_" + k] = sorted(str(x) for x in v)
if shm >= 0:
    libc.shmctl(shm, IPC_RMID, None)
if msq >= 0:
    libc.msgctl(msq, IPC_RMID, None)
print(json.dumps(out, sort_keys=True))
