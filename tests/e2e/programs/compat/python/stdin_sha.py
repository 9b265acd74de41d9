"""Reads all of stdin: byte count and SHA-256."""
import hashlib
import sys

h = hashlib.sha256()
n = 0
while chunk := sys.stdin.buffer.read(1 << 20):
    h.update(chunk)
    n += len(chunk)
print("bytes", n, "sha256", h.hexdigest())
