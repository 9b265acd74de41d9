keep = []
loop do
  keep << ("x" * (1024 * 1024))
end
