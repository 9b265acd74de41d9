"""What Python sees of the CPUs."""
import os
import subprocess

print("cpu_count", os.cpu_count())
print("sched_getaffinity", len(os.sched_getaffinity(0)))
print("nproc", subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
with open("/proc/cpuinfo") as f:
    print("cpuinfo", sum(1 for ln in f if ln.startswith("processor")))
