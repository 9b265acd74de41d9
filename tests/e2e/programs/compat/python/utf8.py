"""UTF-8 everywhere: locale, stdio, file names, sorting. argv[1]: the text."""
import locale
import os
import sys

text = sys.argv[1]
print("preferred", locale.getpreferredencoding(False))
print("fs", sys.getfilesystemencoding(), "stdout", sys.stdout.encoding)
print("setlocale", locale.setlocale(locale.LC_ALL, ""))
os.makedirs("/tmp/ünïcode", exist_ok=True)
for name in (text, "Zebra", "äpfel"):
    with open(os.path.join("/tmp/ünïcode", name + ".txt"), "w") as f:
        f.write(name)
print("listdir", sorted(os.listdir("/tmp/ünïcode")))
print("text", text, len(text), len(text.encode()))
print("upper", text.upper())
print("bytes listdir", sorted(os.listdir(b"/tmp/\xc3\xbcn\xc3\xafcode"))[0])
