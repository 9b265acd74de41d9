import sys
import time

print("first", flush=True)
print("err-first", file=sys.stderr, flush=True)
time.sleep(1.5)
print("second", flush=True)
