"""net.py PORT UDPPORT TOKEN: try to reach the host's canary listeners on 127.0.0.1.
Prints one JSON line: what connect/send returned."""
import errno
import json
import socket
import sys

port, uport, tok = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {}
for addr in ("127.0.0.1", "localhost"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((addr, port))
        s.sendall(("tcp " + tok).encode())
        out["tcp " + addr] = "connected"
    except socket.timeout:
        out["tcp " + addr] = "timeout"
    except OSError as e:
        out["tcp " + addr] = errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    for _ in range(5):
        u.sendto(("udp " + tok).encode(), ("127.0.0.1", uport))
    out["udp"] = "sent"
except OSError as e:
    out["udp"] = errno.errorcode.get(e.errno, str(e.errno))
u.close()
print(json.dumps(out, sort_keys=True))
