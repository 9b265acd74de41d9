"""fds.py: list this process's open file descriptors and what they point to.
Listing /proc/self/fd opens a descriptor of its own, gone by the time it is read back:
those are reported as "transient"."""
import json
import os

out, transient = {}, []
for n in os.listdir("/proc/self/fd"):
    try:
        out[n] = os.readlink("/proc/self/fd/" + n)
    except FileNotFoundError:
        transient.append(n)
print(json.dumps({"fds": out, "transient": transient}, sort_keys=True))
