rem Print argc=N, then each argument as [arg].
n = peek("arguments")
print "argc=" + str$(n)
for i = 1 to n
  print "[" + peek$("argument") + "]"
next i
