"""Name resolution from /etc/hosts: localhost, the host name, and a numeric address."""
import socket
import time

def addrs(host, family=0, flags=0):
    try:
        return sorted({ai[4][0] for ai in socket.getaddrinfo(host, 80, family, socket.SOCK_STREAM, 0, flags)})
    except socket.gaierror as e:
        return "gaierror %s" % e.errno

print("hostname", socket.gethostname())
print("localhost", addrs("localhost"))
print("localhost inet", addrs("localhost", socket.AF_INET))
print("localhost inet6", addrs("localhost", socket.AF_INET6))
print("hostname inet", addrs(socket.gethostname(), socket.AF_INET))
print("gethostbyname", socket.gethostbyname("localhost"))
print("gethostbyaddr", socket.gethostbyaddr("127.0.0.1")[0])
print("fqdn", socket.getfqdn())
t0 = time.monotonic()
try:
    socket.getaddrinfo("example.com", 80)
    print("example.com resolved")
except socket.gaierror as e:
    print("example.com gaierror", e.errno, "within 2 s", time.monotonic() - t0 < 2)
