"""Interfaces: socket.if_nameindex() and friends (route netlink)."""
import socket

print("if_nameindex", socket.if_nameindex())
print("if_nametoindex lo", socket.if_nametoindex("lo"))
print("if_indextoname 1", socket.if_indextoname(1))
