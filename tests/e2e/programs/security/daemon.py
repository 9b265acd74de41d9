"""daemon.py PORT UDPPORT TOKEN: leave a daemon behind (double fork + setsid, SIGTERM and
SIGHUP ignored, stdio closed) that tries to reach the host's canary listeners on
127.0.0.1 every 100 ms for a minute, then return at once."""
import os
import signal
import socket
import sys
import time

port, uport, tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)
    os.close(r)
    os.write(w, str(os.getpid()).encode())
    os.close(w)
    fd = os.open("/dev/null", os.O_RDWR)
    for i in (0, 1, 2):
        os.dup2(fd, i)
    with open("/tmp/daemon.pid", "w") as f:
        f.write(str(os.getpid()))
    end = time.time() + 60
    while time.time() < end:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=0.2)
            c.sendall(("daemon " + tok).encode())
            c.close()
        except OSError:
            pass
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.sendto(("daemon " + tok).encode(), ("127.0.0.1", uport))
            u.close()
        except OSError:
            pass
        time.sleep(0.1)
    os._exit(0)
os.close(w)
pid = os.read(r, 32).decode()
os.wait()
print("daemon pid %s started" % pid, flush=True)
