"""Deep recursion: a raised recursion limit, pure-Python frames. argv[1]: depth."""
import sys

n = int(sys.argv[1])
sys.setrecursionlimit(n + 1000)


def down(k):
    return 0 if k == 0 else k + down(k - 1)


print("depth", n, "sum", down(n))
try:
    sys.setrecursionlimit(1000)
    down(5000)
except RecursionError:
    print("RecursionError caught")
