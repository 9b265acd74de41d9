import sys

args = sys.argv[1:]
print("argc=%d" % len(args))
for a in args:
    print("[%s]" % a)
