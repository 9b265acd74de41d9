args = System.argv()
IO.puts("argc=#{length(args)}")
Enum.each(args, fn a -> IO.puts("[#{a}]") end)
