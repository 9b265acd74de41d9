import std/os

echo "argc=", paramCount()
for i in 1 .. paramCount():
  echo "[", paramStr(i), "]"
