IO.puts("Hello")
x = (1 +
