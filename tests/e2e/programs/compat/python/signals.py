"""Signals: a SIGALRM handler with setitimer, SIGUSR1 to self, a child killed by SIGTERM."""
import os
import signal
import subprocess
import time

got = []
signal.signal(signal.SIGALRM, lambda s, f: got.append("alarm"))
signal.signal(signal.SIGUSR1, lambda s, f: got.append("usr1"))
signal.setitimer(signal.ITIMER_REAL, 0.05)
time.sleep(0.2)
os.kill(os.getpid(), signal.SIGUSR1)
print("handled", got)
p = subprocess.Popen(["sleep", "10"])
p.terminate()
print("child returncode", p.wait())
