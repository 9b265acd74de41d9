import sys

print("out line 1")
print("err line 1", file=sys.stderr)
print("out line 2")
sys.stdout.flush()
sys.exit(5)
