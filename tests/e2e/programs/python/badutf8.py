import sys

sys.stdout.buffer.write(b"ok \xff\xfe end\n")
sys.stdout.buffer.flush()
sys.stderr.buffer.write(b"err \xc3\x28 end\n")
sys.stderr.buffer.flush()
