# Allocates and touches 1 MB at a time, keeping every block, without end.
blocks = []
while True:
    blocks.append(b"x" * (1 << 20))
