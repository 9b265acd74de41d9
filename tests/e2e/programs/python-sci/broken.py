import numpy as np

def f(:
    return np.zeros(3)
