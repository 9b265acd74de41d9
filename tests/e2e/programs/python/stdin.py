import sys

n = 0
for line in sys.stdin:
    n += 1
    print("%d:%s" % (n, line.rstrip("\n").upper()))
print("lines=%d" % n)
