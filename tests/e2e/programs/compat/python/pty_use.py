"""A pseudo-terminal (/dev/pts, /dev/ptmx): a child writes to the slave side."""
import os
import pty

pid, fd = pty.fork()
if pid == 0:
    os.write(1, b"isatty=%d\n" % os.isatty(1))
    os._exit(0)
out = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print("from child", out.decode().replace("\r\n", "\n").strip(), "status", status)
