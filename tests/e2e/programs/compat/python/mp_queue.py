"""multiprocessing Process, Queue, Lock, Value and a semaphore (POSIX semaphores in /dev/shm),
with both the fork and the spawn start methods."""
import multiprocessing as mp
import os


def produce(q, lock, counter, n, base):
    for i in range(n):
        with lock:
            counter.value += 1
        q.put(base + i)
    q.put(None)


def run(method):
    ctx = mp.get_context(method)
    q = ctx.Queue()
    lock = ctx.Lock()
    counter = ctx.Value("i", 0, lock=False)
    procs = [ctx.Process(target=produce, args=(q, lock, counter, 100, k * 1000)) for k in range(3)]
    for p in procs:
        p.start()
    got, ends = [], 0
    while ends < len(procs):
        v = q.get(timeout=20)
        if v is None:
            ends += 1
        else:
            got.append(v)
    for p in procs:
        p.join()
    print(method, "items", len(got), "sum", sum(got), "counter", counter.value,
          "exitcodes", [p.exitcode for p in procs])


if __name__ == "__main__":
    run("fork")
    run("spawn")
    sem = mp.Semaphore(2)
    print("semaphore", sem.acquire(timeout=1), sem.acquire(timeout=1), sem.acquire(timeout=0.1))
    print("dev_shm writable", os.access("/dev/shm", os.W_OK))
