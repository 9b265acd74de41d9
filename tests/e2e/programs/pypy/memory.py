keep = []
while True:
    keep.append(bytearray(1024 * 1024))
