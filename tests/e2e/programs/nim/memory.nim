# Allocates 1 MB sequences, writes to every page and keeps them all.
var keep: seq[seq[byte]]
while true:
  var b = newSeq[byte](1 shl 20)
  for i in countup(0, b.high, 4096):
    b[i] = 1
  keep.add(b)
