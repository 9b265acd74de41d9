"""multiprocessing.Pool (fork): map, imap_unordered and apply_async."""
import multiprocessing as mp
import os


def square(x):
    return x * x


def whoami(_):
    return os.getpid()


if __name__ == "__main__":
    with mp.Pool(4) as pool:
        print("map", sum(pool.map(square, range(10000))))
        print("imap_unordered", sorted(pool.imap_unordered(square, range(10))))
        print("apply_async", pool.apply_async(square, (12,)).get(timeout=10))
        pids = set(pool.map(whoami, range(100), chunksize=1))
        print("workers used", 1 <= len(pids) <= 4, "parent excluded", os.getpid() not in pids)
