local keep = {}
while true do
  keep[#keep + 1] = string.rep("x", 1024 * 1024 - 16) .. #keep
end
