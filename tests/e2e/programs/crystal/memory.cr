# Allocates 1 MB byte slices (filled with ones) and keeps them all.
keep = [] of Bytes
loop do
  keep << Bytes.new(1 << 20, 1_u8)
end
