"""tempfile: the temp dir, named and anonymous files, directories."""
import os
import tempfile

print("gettempdir", tempfile.gettempdir())
with tempfile.NamedTemporaryFile("w+", suffix=".txt") as f:
    f.write("hello tempfile\n")
    f.flush()
    print("named in tmp", os.path.dirname(f.name))
    f.seek(0)
    print("read back", f.read().strip())
with tempfile.TemporaryFile() as f:
    f.write(b"x" * 1000000)
    f.seek(0, 2)
    print("anonymous size", f.tell())
with tempfile.TemporaryDirectory() as d:
    for i in range(100):
        open(os.path.join(d, "f%03d" % i), "w").close()
    print("dir entries", len(os.listdir(d)))
print("dir removed", not os.path.exists(d))
fd, path = tempfile.mkstemp(dir="/work")
os.write(fd, b"in work")
os.close(fd)
print("mkstemp in /work", os.path.dirname(path), os.path.getsize(path))
