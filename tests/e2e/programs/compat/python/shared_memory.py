"""multiprocessing.shared_memory (shm_open in /dev/shm) written by a child process."""
import multiprocessing as mp
from multiprocessing import shared_memory


def fill(name, n):
    shm = shared_memory.SharedMemory(name=name)
    for i in range(n):
        shm.buf[i] = i % 251
    shm.close()


if __name__ == "__main__":
    n = 100000
    shm = shared_memory.SharedMemory(create=True, size=n)
    p = mp.Process(target=fill, args=(shm.name, n))
    p.start()
    p.join()
    print("exitcode", p.exitcode, "sum", sum(shm.buf[:n]))
    shm.close()
    shm.unlink()
