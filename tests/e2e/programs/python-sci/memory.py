import numpy as np

keep = []
while True:
    keep.append(np.ones(1024 * 1024 // 8))
