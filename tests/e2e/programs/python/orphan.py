import subprocess
import sys

# a child that outlives the program and keeps its stdout/stderr open
subprocess.Popen(["sleep", sys.argv[1]])
print("parent done", flush=True)
