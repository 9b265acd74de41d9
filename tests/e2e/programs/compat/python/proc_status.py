"""/proc/self/status and friends as the sandboxed program sees them."""
import os

status = {}
with open("/proc/self/status") as f:
    for line in f:
        k, _, v = line.partition(":")
        status[k] = v.strip()
for k in ("Name", "State", "PPid", "Uid", "Gid", "Threads", "CapEff", "CapBnd", "NoNewPrivs",
          "Seccomp"):
    print(k, status.get(k))
print("Pid matches", status["Pid"] == str(os.getpid()))
print("VmRSS kB > 0", int(status["VmRSS"].split()[0]) > 0)
print("cwd", os.getcwd())
with open("/proc/self/cmdline", "rb") as f:
    print("cmdline", f.read().split(b"\0")[:3])
print("exe", os.readlink("/proc/self/exe"))
print("limits has Max open files", "Max open files" in open("/proc/self/limits").read())
