# A checker in testlib's conventions: checker.py INPUT OUTPUT ANSWER; exit 0 accepted,
# 1 wrong answer, 2 presentation error, 3 the checker's own failure. Case is ignored.
import sys

inp, out, ans = (open(p).read() for p in sys.argv[1:4])
if out.strip().lower() == ans.strip().lower():
    sys.exit(0)
if out.strip() == "":
    print("empty output", file=sys.stderr)
    sys.exit(2)
if out.strip() == "boom":
    sys.exit(3)
print("expected %r, got %r" % (ans.strip(), out.strip()), file=sys.stderr)
sys.exit(1)
