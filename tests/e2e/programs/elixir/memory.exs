# Allocates 1 MB at a time (a binary whose every byte is written) and keeps it alive,
# without end.
defmodule Memory do
  import Bitwise

  def grow(n, kept) do
    b = :binary.copy(<<rem(n, 256)>>, 1 <<< 20)
    if rem(n, 64) == 0, do: IO.puts("#{n} MB")
    grow(n + 1, [b | kept])
  end
end

Memory.grow(1, [])
