def add(a, b)
  a + b

puts add(1, 2)
