rem Builds a 1 MB string, then keeps distinct copies of it in an array
rem that grows without end.
s$ = "x"
for i = 1 to 20
  s$ = s$ + s$
next i
n = 0
dim keep$(1)
do
  n = n + 1
  dim keep$(n)
  keep$(n) = s$ + str$(n)
loop
