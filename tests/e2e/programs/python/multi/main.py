import os

import helper

print(helper.greet("multi"))
print("answer=%d" % helper.ANSWER)
print("files=" + ",".join(sorted(f for f in os.listdir(".") if f != "__pycache__")))
